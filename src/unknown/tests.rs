use super::*;
use crate::report::ScanReport;

/// A 25 fps file named `name` with the given unknown tracks (shot, first, last, embedding).
fn file(name: &str, tracks: &[(usize, u64, u64, [f32; 2])]) -> FileReport {
    let media = serde_json::json!({
        "path": name, "container": "mov", "video_codec": "h264",
        "width": 1920, "height": 1080, "frame_rate": {"num": 25, "den": 1},
        "frame_count": 1000, "duration_seconds": 40.0,
        "start_timecode": {"frames": 90000, "rate": {"num": 25, "den": 1}, "drop_frame": false},
        "timecode_source": null, "is_still": false
    });
    let mut f: FileReport = serde_json::from_value(serde_json::json!({
        "path": name, "media": media, "start_timecode": "01:00:00:00",
        "frames_decoded": 1000, "frames_sampled": 80, "shots": [], "findings": [],
        "warnings": []
    }))
    .expect("file report");
    f.unknown_tracks = tracks
        .iter()
        .map(|&(shot, first, last, e)| UnknownTrack {
            shot,
            first_frame: first,
            last_frame: last,
            frames_seen: 3,
            largest_face_px: 120,
            best_frame: first,
            best_box: [10.0, 10.0, 120.0, 120.0],
            crop_jpeg: Some("/9j/".into()),
            embeddings: vec![Embedding(e.to_vec()), Embedding(vec![e[0] + 0.05, e[1]])],
            dim: false,
        })
        .collect();
    f
}

#[test]
fn recurring_people_are_reported_and_one_offs_dropped() {
    let mut files = vec![
        // A stranger at (5, 0) once; person A at (0, 0) in shots 0 and 2.
        file(
            "a.mov",
            &[
                (0, 0, 40, [0.0, 0.0]),
                (1, 50, 60, [5.0, 0.0]),
                (2, 100, 140, [0.02, 0.0]),
            ],
        ),
        // Person A again, and person B at (0, 3) in two shots.
        file(
            "b.mov",
            &[
                (0, 0, 20, [0.0, 3.0]),
                (0, 30, 50, [0.01, 0.02]),
                (3, 0, 10, [0.03, 3.0]),
            ],
        ),
    ];
    let people = group(&mut files, &UnknownSettings::default(), Metric::Euclidean);
    assert_eq!(people.len(), 2, "{people:#?}");
    let a = &people[0];
    assert_eq!(a.id, "U1");
    assert_eq!((a.shots, a.files), (3, 2));
    assert_eq!(a.appearances[0].tc_in, "01:00:00:00");
    assert_eq!(a.appearances[1].first_frame, 100);
    assert_eq!(a.appearances[1].tc_out, "01:00:05:15");
    assert_eq!(a.appearances[2].file, PathBuf::from("b.mov"));
    assert_eq!(a.appearances[0].embeddings.len(), 2);
    assert!(a.cohesion.max_distance < 0.1 && a.cohesion.link > 0.0);
    // 41 + 41 + 21 frames at 25 fps.
    assert!((a.seconds - 103.0 / 25.0).abs() < 1e-9);
    assert_eq!(people[1].id, "U2");
    assert_eq!(people[1].appearances.len(), 2);
    // The tracks are gone from the files; each appearance is a review finding.
    assert!(files.iter().all(|f| f.unknown_tracks.is_empty()));
    let unknown: Vec<&Finding> = files
        .iter()
        .flat_map(|f| &f.findings)
        .filter(|x| x.kind == "unknown")
        .collect();
    assert_eq!(unknown.len(), 5);
    assert!(unknown.iter().all(|x| x.severity == Severity::Review));
    let last = files[1].findings.last().expect("a finding");
    assert_eq!((last.name.as_str(), last.shot), ("unknown person U2", 3));
    assert!(last.reason.contains("2 shots of 1 file"), "{}", last.reason);
}

#[test]
fn a_long_single_shot_is_reported_and_a_short_one_is_not() {
    // 300 frames = 12 s at 25 fps in one shot: over the 10 s default.
    let mut files = vec![file(
        "a.mov",
        &[(0, 0, 299, [0.0, 0.0]), (1, 0, 100, [4.0, 0.0])],
    )];
    let people = group(&mut files, &UnknownSettings::default(), Metric::Euclidean);
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].shots, 1);
    assert!((people[0].seconds - 12.0).abs() < 1e-9);
}

#[test]
fn small_faces_are_not_grouped() {
    let mut files = vec![file(
        "a.mov",
        &[(0, 0, 10, [0.0, 0.0]), (1, 0, 10, [0.0, 0.0])],
    )];
    for t in &mut files[0].unknown_tracks {
        t.largest_face_px = 30;
    }
    assert!(group(&mut files, &UnknownSettings::default(), Metric::Euclidean).is_empty());
    assert!(files[0].unknown_tracks.is_empty());
}

#[test]
fn settings_are_checked() {
    assert!(UnknownSettings::default().validate().is_ok());
    let bad = UnknownSettings {
        min_shots: 0,
        ..UnknownSettings::default()
    };
    assert!(bad.validate().unwrap_err().contains("min-shots"));
    let bad = UnknownSettings {
        min_seconds: f64::NAN,
        ..UnknownSettings::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn a_report_without_that_person_says_which_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![file(
        "a.mov",
        &[(0, 0, 40, [0.0, 0.0]), (2, 100, 140, [0.02, 0.0])],
    )];
    let people = group(&mut files, &UnknownSettings::default(), Metric::Euclidean);
    let mut report: ScanReport = serde_json::from_value(serde_json::json!({
        "tool": "clearshot", "version": "0", "command_line": [], "started": "", "finished": "",
        "models": [{"role": "embedder", "name": "dlib", "file": "e.onnx", "sha256": "abc",
                    "licence": "CC0"}],
        "gallery": {"path": "g", "state_sha256": "", "talent": 0, "matchable": 0},
        "settings": {}, "files": [], "failures": []
    }))
    .unwrap();
    report.unknown_people = people;
    let path = dir.path().join("r.json");
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let (p, faces) = enroll::faces_from_report(&path, "U1", "abc").unwrap();
    assert_eq!((p.id.as_str(), faces.len()), ("U1", 4));
    assert!(faces[0].photo_name.contains("r.json U1: a.mov shot 1"));
    let e = enroll::faces_from_report(&path, "U7", "abc")
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("r.json: no unknown person U7 (the report has U1)"),
        "{e}"
    );
    let e = enroll::faces_from_report(&path, "U1", "other")
        .unwrap_err()
        .to_string();
    assert!(e.contains("another embedder"), "{e}");
    report.unknown_people[0]
        .appearances
        .iter_mut()
        .for_each(|a| a.embeddings.clear());
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let e = enroll::faces_from_report(&path, "U1", "abc")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no stored embeddings"), "{e}");
    report.unknown_people.clear();
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let e = enroll::faces_from_report(&path, "U1", "abc")
        .unwrap_err()
        .to_string();
    assert!(e.contains("was it scanned with --unknown?"), "{e}");
}

#[test]
fn a_track_is_dim_only_when_it_says_so_and_old_journals_read_as_lit() {
    let mut f = file("a.mov", &[(0, 10, 20, [0.0, 0.0])]);
    let t = &mut f.unknown_tracks[0];
    let lit = serde_json::to_value(&*t).unwrap();
    assert!(lit.get("dim").is_none(), "{lit}");
    let back: UnknownTrack = serde_json::from_value(lit).unwrap();
    assert!(!back.dim);
    t.dim = true;
    let dim = serde_json::to_value(&*t).unwrap();
    assert_eq!(dim["dim"], serde_json::json!(true));
    assert!(serde_json::from_value::<UnknownTrack>(dim).unwrap().dim);
}
