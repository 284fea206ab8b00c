//! Scoring of labelled shots on hand-made findings.

use super::*;

/// A talent finding naming `name` on frames first..=last, identified or possible.
fn finding(name: &str, first: u64, last: u64, decision: &str, distance: f32) -> Finding {
    let mut v = serde_json::json!({
        "kind": "talent", "shot": 0, "name": name, "severity": "escalate", "reason": "",
        "first_frame": first, "last_frame": last, "tc_in": "", "tc_out": "",
        "frames_seen": 3, "frames_matched": 3, "largest_face_px": 100,
        "distance": distance, "threshold": 0.5, "score": 0.7, "best_frame": first,
        "best_tc": "", "best_box": [0.0, 0.0, 10.0, 10.0],
    });
    if decision != "none" {
        v["identity"] = serde_json::json!({
            "decision": decision, "faces": 3, "nearest": 3, "within_threshold": 3,
            "median_distance": distance, "spread": 0.01, "threshold": 0.5, "review_limit": 0.55,
        });
    }
    serde_json::from_value(v).expect("a valid finding")
}

fn shot(case: &str, first: u64, last: u64, persons: &[&str]) -> Shot {
    Shot {
        case: case.into(),
        first_frame: first,
        last_frame: last,
        persons: persons.iter().map(|p| p.to_string()).collect(),
        unregistered_faces: 1,
        face_px: 100,
    }
}

#[test]
fn identified_possible_and_missed() {
    let s = shot("roll90", 60, 119, &["Ann", "Bob", "Cy"]);
    let f = [
        finding("Ann", 70, 100, "identified", 0.41),
        finding("Ann", 100, 110, "possible", 0.52),
        finding("Bob", 62, 80, "possible", 0.53),
    ];
    let r = score_shot("a.mp4", &s, &f);
    let got: Vec<(Outcome, Option<f32>)> =
        r.persons.iter().map(|p| (p.outcome, p.distance)).collect();
    assert_eq!(
        got,
        [
            (Outcome::Found, Some(0.41)),
            (Outcome::Possible, Some(0.53)),
            (Outcome::Missed, None)
        ]
    );
    assert!(r.false_findings.is_empty());
}

#[test]
fn only_findings_overlapping_the_shot_count() {
    let s = shot("blur", 60, 119, &["Ann"]);
    // Ends the frame before the shot; starts the frame after it.
    let f = [
        finding("Ann", 0, 59, "identified", 0.3),
        finding("Ann", 120, 150, "identified", 0.3),
    ];
    assert_eq!(score_shot("a", &s, &f).persons[0].outcome, Outcome::Missed);
    // Touching either end frame overlaps.
    for (a, b) in [(0, 60), (119, 130)] {
        let f = [finding("Ann", a, b, "identified", 0.3)];
        assert_eq!(score_shot("a", &s, &f).persons[0].outcome, Outcome::Found);
    }
}

#[test]
fn strangers_named_are_false_identities_or_review_flags() {
    let s = shot("strangers_only", 0, 59, &[]);
    let f = [
        finding("Ann", 10, 20, "identified", 0.45),
        finding("Bob", 30, 40, "possible", 0.54),
        finding("Cy", 100, 140, "identified", 0.2),
    ];
    let r = score_shot("a", &s, &f);
    let (by_case, all) = totals(std::slice::from_ref(&r));
    assert_eq!(all.false_identities, 1);
    assert_eq!(all.false_review_flags, 1);
    assert_eq!(all.false_total(), 2);
    assert_eq!(all.expected, 0);
    assert_eq!(by_case["strangers_only"], all);
}

#[test]
fn reference_findings_are_ignored_and_old_reports_count_as_identified() {
    let s = shot("frontal_large", 0, 59, &["Ann"]);
    let mut logo = finding("Logo", 0, 59, "none", 0.1);
    logo.kind = "reference".into();
    let f = [logo, finding("Ann", 5, 9, "none", 0.4)];
    let r = score_shot("a", &s, &f);
    assert_eq!(r.persons[0].outcome, Outcome::Found);
    assert!(r.false_findings.is_empty());
}

#[test]
fn totals_add_up_per_case() {
    let a = score_shot(
        "a",
        &shot("roll90", 0, 59, &["Ann"]),
        &[finding("Ann", 0, 59, "identified", 0.4)],
    );
    let b = score_shot(
        "a",
        &shot("roll90", 60, 119, &["Ann"]),
        &[finding("Bob", 60, 70, "identified", 0.4)],
    );
    let c = score_shot(
        "b",
        &shot("face_24px", 0, 59, &["Ann"]),
        &[finding("Ann", 0, 59, "possible", 0.52)],
    );
    let (by_case, all) = totals(&[a, b, c]);
    let roll = by_case["roll90"];
    assert_eq!((roll.shots, roll.found, roll.missed), (2, 1, 1));
    assert_eq!(roll.false_identities, 1);
    assert_eq!(by_case["face_24px"].possible, 1);
    assert_eq!((all.hits(), all.expected, all.false_total()), (2, 3, 1));
}

#[test]
fn labels_errors_name_the_file_and_cause() {
    let dir = std::env::temp_dir().join(format!("clearshot-video-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let labels = dir.join("labels.json");
    let clip = dir.join("a.mp4");
    std::fs::write(&clip, b"not checked here").expect("write clip");
    let cases = [
        ("{", "EOF"),
        (r#"{"gallery":{},"clips":[]}"#, "no clips"),
        (
            r#"{"gallery":{},"clips":[{"path":"missing.mp4","shots":[]}]}"#,
            "missing.mp4 does not exist",
        ),
        (
            r#"{"gallery":{},"clips":[{"path":"a.mp4","shots":[{"case":"x","first_frame":9,"last_frame":3,"persons":[]}]}]}"#,
            "before first_frame",
        ),
        (
            r#"{"gallery":{},"clips":[{"path":"a.mp4","shots":[{"case":"x","first_frame":0,"last_frame":3,"persons":["Zed"]}]}]}"#,
            "Zed is not in the gallery",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&labels, text).expect("write labels");
        let e = read_labels(&labels).expect_err(text).to_string();
        assert!(e.starts_with(&labels.display().to_string()), "{e}");
        assert!(e.contains(want), "{e} lacks {want}");
    }
    let ok = r#"{"split":"t","gallery":{"Ann":["a.jpg"]},"clips":[{"path":"a.mp4","shots":[{"case":"x","first_frame":0,"last_frame":3,"persons":["Ann"]}]}]}"#;
    std::fs::write(&labels, ok).expect("write labels");
    assert_eq!(read_labels(&labels).expect("valid").clips[0].shots.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shot_line_names_outcomes_and_false_findings() {
    let r = score_shot(
        "clips/t_1.mp4",
        &shot("roll45", 0, 59, &["Ann"]),
        &[finding("Bob", 0, 9, "possible", 0.534)],
    );
    let line = shot_line(&r);
    assert!(line.contains("Ann MISSED"), "{line}");
    assert!(line.contains("FALSE REVIEW FLAG Bob d=0.534"), "{line}");
}
