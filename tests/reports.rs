//! The three users' outputs on the demo clip: the QC gate with approvals, chain of custody
//! with `verify`, and the legal spot-check `inspect`.

mod common;
use common::*;

#[test]
fn an_approval_on_file_passes_the_gate_and_is_cited() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let approvals = dir.path().join("approvals.json");
    // First an approval for another file: the gate still blocks.
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "Barack Obama", "file": "other.mov", "reference": "LEGAL-1"}]}"#,
    )
    .unwrap();
    let (o, so, _) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--approvals")
        .arg(&approvals));
    assert_eq!(o.status.code(), Some(1), "{so}");
    // A range that does not cover the whole appearance does not approve it either.
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "Barack Obama", "file": "demo.mp4", "from": "10:00:01:00", "to": "10:00:05:00", "reference": "LEGAL-2"}]}"#,
    )
    .unwrap();
    let (o, so, _) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--approvals")
        .arg(&approvals));
    assert_eq!(o.status.code(), Some(1), "{so}");
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "Barack Obama", "file": "demo.mp4", "from": "10:00:00:00", "to": "10:00:04:00", "reference": "LEGAL-2026-0142", "note": "festival cut"}]}"#,
    )
    .unwrap();
    let report = dir.path().join("r.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--approvals")
        .arg(&approvals)
        .arg("--json")
        .arg(&report));
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    let r = json(&report);
    let f = r["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Barack Obama")
        .unwrap()
        .clone();
    assert_eq!(f["severity"], "info");
    assert_eq!(f["approval"]["reference"], "LEGAL-2026-0142");
    assert!(f["reason"].as_str().unwrap().contains("LEGAL-2026-0142"));
    // --fail-on review still passes: approved findings are info.
    // A broken approvals file is refused before any work.
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "X", "from": "99:99", "reference": "R"}]}"#,
    )
    .unwrap();
    let (o, _, se) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--approvals")
        .arg(&approvals));
    assert_eq!(o.status.code(), Some(3));
    assert!(se.contains("approvals.json"), "{se}");
}

#[test]
fn verify_says_whether_scanned_files_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let clip = dir.path().join("copy.mp4");
    std::fs::copy(demo().join("demo.mp4"), &clip).unwrap();
    let report = dir.path().join("r.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(&clip)
        .arg("--json")
        .arg(&report));
    assert_eq!(o.status.code(), Some(1), "{so}{se}");
    let r = json(&report);
    assert_eq!(r["files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(r["gallery"]["state_sha256"].as_str().unwrap().len(), 64);
    assert!(r["command_line"].as_array().unwrap().len() > 3);
    let (o, so, _) = run(clearshot(&g).arg("verify").arg(&report));
    assert_eq!(o.status.code(), Some(0), "{so}");
    assert!(so.contains("UNCHANGED") && so.contains("verified"), "{so}");
    // One byte appended: detected.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&clip)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    let (o, so, _) = run(clearshot(&g).arg("verify").arg(&report));
    assert_eq!(o.status.code(), Some(1), "{so}");
    assert!(
        so.contains("CHANGED") && so.contains("NOT verified"),
        "{so}"
    );
}

#[test]
fn inspect_examines_every_frame_of_the_range_with_every_distance() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let truth = json(&demo().join("demo.json"));
    let report = dir.path().join("inspect.json");
    // Across the Obama -> Biden cut.
    let (o, so, se) = run(clearshot(&g)
        .arg("inspect")
        .arg(demo().join("demo.mp4"))
        .args(["--from", "10:00:02:00", "--to", "10:00:04:00"])
        .arg("--json")
        .arg(&report)
        .arg("--fail-on")
        .arg("never"));
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    let r = json(&report);
    let file = &r["files"][0];
    let frames = file["frames"].as_array().unwrap();
    // 10:00:02:00 .. 10:00:04:00 at 25 fps: frames 50..=100.
    assert_eq!(frames.len(), 51);
    assert_eq!(frames[0]["frame"], 50);
    assert_eq!(frames[50]["tc"], "10:00:04:00");
    for f in frames {
        for face in f["faces"].as_array().unwrap() {
            assert_eq!(
                face["distances"].as_array().unwrap().len(),
                2,
                "every gallery distance"
            );
        }
    }
    let cut = truth["cuts"][0].as_u64().unwrap();
    let find = |name: &str| {
        file["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {so}"))
            .clone()
    };
    let obama = find("Barack Obama");
    let biden = find("Joe Biden");
    // Frame-accurate in/out at the cut.
    assert_eq!(obama["appearances"][0]["first_frame"], 50);
    assert_eq!(obama["appearances"][0]["last_frame"], cut - 1);
    assert_eq!(biden["appearances"][0]["first_frame"], cut);
    assert_eq!(biden["appearances"][0]["last_frame"], 100);
    assert_eq!(obama["appearances"][0]["tc_out"], "10:00:03:04");
    assert!(obama["all_scores"].as_array().unwrap().len() == 2);
}

/// The marker lists as an editor imports them: `--avid-markers` (Media Composer's tab-separated
/// marker text) and `--edl`, from a spot check across the demo's Obama -> Biden cut, then the
/// one-list-per-file naming of a scan of two files, and no list replaced unless asked.
#[test]
fn avid_markers_and_edls_from_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let (avid, edl, report) = (
        dir.path().join("cut.txt"),
        dir.path().join("cut.edl"),
        dir.path().join("cut.json"),
    );
    let inspect = || {
        let mut c = clearshot(&g);
        c.arg("inspect")
            .arg(demo().join("demo.mp4"))
            .args(["--from", "10:00:03:00", "--to", "10:00:03:10"])
            .arg("--avid-markers")
            .arg(&avid)
            .arg("--edl")
            .arg(&edl)
            .arg("--json")
            .arg(&report)
            .args(["--fail-on", "never"]);
        c
    };
    let (o, so, se) = run(&mut inspect());
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    let findings = json(&report)["files"][0]["findings"].clone();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 2, "{so}");
    let text = std::fs::read_to_string(&avid).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for f in findings {
        let name = f["name"].as_str().unwrap();
        let cols = lines
            .iter()
            .find(|c| c.get(4).is_some_and(|t| t.starts_with(name)))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        assert_eq!(cols.len(), 6, "six columns: {cols:?}");
        let colour = match f["severity"].as_str().unwrap() {
            "escalate" => "red",
            "review" => "yellow",
            _ => "green",
        };
        let frames = f["last_frame"].as_u64().unwrap() - f["first_frame"].as_u64().unwrap() + 1;
        assert_eq!(
            cols[..4],
            ["clearshot", f["tc_in"].as_str().unwrap(), "V1", colour]
        );
        assert_eq!(cols[5], frames.to_string());
    }
    // Obama (consent denied) until the cut at 10:00:03:05, then Biden (granted).
    assert!(text.starts_with("clearshot\t10:00:03:00\tV1\tred\tBarack Obama (escalate): "));
    assert!(text.contains("\nclearshot\t10:00:03:05\tV1\tgreen\tJoe Biden (info): "));
    let cut = std::fs::read_to_string(&edl).unwrap();
    assert!(cut.starts_with("TITLE: clearshot demo.mp4\nFCM: NON-DROP FRAME\n"));
    assert!(cut.contains(
        "\n002  AX       V     C        10:00:03:05 10:00:03:06 10:00:03:05 10:00:03:06\n\
         consent granted |C:ResolveColorGreen |M:Joe Biden (info) |D:6\n"
    ));
    // Run again (the marker list alone in the way): refused before any work, left as it was.
    std::fs::remove_file(&edl).unwrap();
    std::fs::remove_file(&report).unwrap();
    std::fs::write(&avid, "mine").unwrap();
    let (o, _, se) = run(&mut inspect());
    assert_ne!(o.status.code(), Some(0));
    assert!(se.contains("cut.txt: already exists"), "{se}");
    assert_eq!(std::fs::read_to_string(&avid).unwrap(), "mine");

    // Two files: one list of each kind per file, named after it; the path given is not written.
    let f = fixtures().join("formats");
    let scan = || {
        let mut c = clearshot(&g);
        c.arg("scan")
            .arg(f.join("h264_25.mp4"))
            .arg(f.join("still.png"))
            .arg("--edl")
            .arg(dir.path().join("m.edl"))
            .arg("--avid-markers")
            .arg(dir.path().join("m.txt"));
        c
    };
    let (o, so, se) = run(&mut scan());
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    for name in ["h264_25.mp4", "still.png"] {
        let e = std::fs::read_to_string(dir.path().join(format!("m.{name}.edl"))).unwrap();
        assert_eq!(
            e.lines().next(),
            Some(format!("TITLE: clearshot {name}").as_str())
        );
        let t = std::fs::read_to_string(dir.path().join(format!("m.{name}.txt"))).unwrap();
        assert_eq!(t, "", "nothing found, no marker");
    }
    assert!(!dir.path().join("m.edl").exists() && !dir.path().join("m.txt").exists());
    let (o, _, se) = run(&mut scan());
    assert_ne!(o.status.code(), Some(0));
    assert!(se.contains("m.h264_25.mp4.edl: already exists"), "{se}");
}
