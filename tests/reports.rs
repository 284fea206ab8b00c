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
