//! The real binary on the demo clip: the right person in the right shot at the right
//! timecode, the stranger not matched, severities from consent, exit status as documented.

mod common;
use common::*;

#[test]
fn demo_finds_registered_people_in_their_shots_and_not_the_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let truth = json(&demo().join("demo.json"));
    let report = dir.path().join("report.json");
    let (out, stdout, stderr) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--json")
        .arg(&report));
    // Obama's consent is denied: escalate, so exit 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Barack Obama") && stdout.contains("ESCALATE"),
        "{stdout}"
    );

    let r = json(&report);
    assert_eq!(r["tool"], "clearshot");
    // Detector, close-up detector, the three networks of the dim-frame detector, embedder.
    let models = r["models"].as_array().unwrap();
    assert_eq!(models.len(), 6, "{models:?}");
    assert!(models
        .iter()
        .any(|m| m["role"] == "dim-frame detector (proposal)" && m["licence"] == "MIT"));
    let file = &r["files"][0];
    assert_eq!(file["start_timecode"], truth["start_timecode"]);
    // Shots are frame-accurate.
    let shots = file["shots"].as_array().unwrap();
    let want = truth["shots"].as_array().unwrap();
    assert_eq!(shots.len(), want.len(), "shots: {shots:?}");
    for (s, w) in shots.iter().zip(want) {
        assert_eq!(s["first_frame"], w["first_frame"]);
        assert_eq!(s["last_frame"], w["last_frame"]);
        assert_eq!(s["tc_in"], w["start_tc"]);
        assert_eq!(s["tc_out"], w["end_tc"]);
    }
    let findings = file["findings"].as_array().unwrap();
    let who = |name: &str| -> Vec<&serde_json::Value> {
        findings.iter().filter(|f| f["name"] == name).collect()
    };
    for (name, key, severity) in [
        ("Barack Obama", "obama", "escalate"),
        ("Joe Biden", "biden", "info"),
    ] {
        let shot = want.iter().position(|w| w["who"] == key).unwrap();
        let f = who(name);
        assert_eq!(f.len(), 1, "{name} once: {findings:?}");
        let f = f[0];
        assert_eq!(f["shot"], shot);
        assert_eq!(f["severity"], severity);
        let first = f["first_frame"].as_u64().unwrap();
        let last = f["last_frame"].as_u64().unwrap();
        let (a, b) = (
            want[shot]["first_frame"].as_u64().unwrap(),
            want[shot]["last_frame"].as_u64().unwrap(),
        );
        assert!(
            a <= first && first <= a + 2 && last <= b && last + 2 >= b,
            "{name}: {first}-{last} vs {a}-{b}"
        );
        assert!(f["distance"].as_f64().unwrap() <= f["threshold"].as_f64().unwrap());
        assert!(f["frames_seen"].as_u64().unwrap() >= 3);
        assert!(f["largest_face_px"].as_u64().unwrap() > 40);
    }
    // Only the two registered people are named; the stranger's shot has a face but no finding.
    assert_eq!(findings.len(), 2, "{findings:?}");
    let stranger = want.iter().position(|w| w["who"] == "stranger").unwrap();
    assert!(shots[stranger]["faces_seen"].as_u64().unwrap() > 0);
    assert_eq!(shots[stranger]["unidentified_faces"].as_u64().unwrap(), 1);
}

#[test]
fn valid_consent_alone_passes_the_gate_and_fail_on_review_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let (o, so, se) = run(clearshot(&g)
        .args([
            "gallery",
            "add",
            "--name",
            "Joe Biden",
            "--consent",
            "granted",
        ])
        .arg(demo().join("enroll/biden.jpg")));
    assert!(o.status.success(), "{so}{se}");
    let (o, so, _) = run(clearshot(&g).arg("scan").arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(0), "{so}");
    assert!(so.contains("Joe Biden") && so.contains("INFO"), "{so}");
    // Expired consent escalates.
    let (o, _, _) = run(clearshot(&g)
        .args([
            "gallery",
            "add",
            "--name",
            "Joe Biden",
            "--consent",
            "granted",
            "--expires",
            "2020-01-01",
            "--update",
        ])
        .arg(demo().join("enroll/biden.jpg")));
    assert!(o.status.success());
    let (o, so, _) = run(clearshot(&g).arg("scan").arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(1), "{so}");
    assert!(so.contains("ESCALATE"));
}

/// ONNX Runtime 1.29+ keeps a device id and queues usage events for upload to Microsoft under
/// `~/.cache/Microsoft` unless told not to before it loads; a scan must leave nothing there,
/// whatever the user's environment says.
#[test]
fn a_scan_leaves_no_telemetry_behind() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (out, stdout, stderr) = run(clearshot(&g)
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .env("ORT_DISABLE_TELEMETRY", "0")
        .arg("scan")
        .arg(demo().join("enroll/biden.jpg")));
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{stdout}\n{stderr}"
    );
    let cache = home.join(".cache");
    let left: Vec<_> = walk(&cache);
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        out.push(e.path());
        out.extend(walk(&e.path()));
    }
    out
}
