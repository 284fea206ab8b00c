//! Bad input: one clear line naming the file and cause, the batch goes on, nothing the user
//! had is overwritten.

mod common;
use common::*;

#[test]
fn a_batch_with_broken_files_scans_the_rest_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let f = fixtures().join("formats");
    let bad = ["corrupt.mp4", "empty.mp4", "notmedia.mp4", "truncated.mp4"];
    let mut cmd = clearshot(&g);
    cmd.arg("scan");
    for b in bad {
        cmd.arg(f.join(b));
    }
    cmd.arg(demo().join("demo.mp4"));
    let (out, stdout, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    // The good file was scanned.
    assert!(stdout.contains("Barack Obama"), "{stdout}");
    for b in bad {
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(b)).collect();
        assert!(!lines.is_empty(), "{b} not named in: {stderr}");
    }
}

#[test]
fn reports_and_galleries_are_never_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let report = dir.path().join("mine.json");
    std::fs::write(&report, b"keep me").unwrap();
    let (o, _, se) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--json")
        .arg(&report));
    assert_eq!(o.status.code(), Some(3));
    assert!(
        se.contains("mine.json") && se.contains("--overwrite"),
        "{se}"
    );
    assert_eq!(std::fs::read(&report).unwrap(), b"keep me");

    // A file that is not a gallery is refused and left as it was.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"not a database").unwrap();
    let (o, _, se) = run(clearshot(&notes)
        .args(["gallery", "add", "--name", "X", "--consent", "denied"])
        .arg(demo().join("enroll/obama.jpg")));
    assert_eq!(o.status.code(), Some(3));
    assert!(
        se.contains("notes.txt") && se.contains("not a clearshot gallery"),
        "{se}"
    );
    assert_eq!(std::fs::read(&notes).unwrap(), b"not a database");

    // Re-adding without --update changes nothing.
    let (o, _, se) = run(clearshot(&g)
        .args([
            "gallery",
            "add",
            "--name",
            "Barack Obama",
            "--consent",
            "granted",
        ])
        .arg(demo().join("enroll/obama.jpg")));
    assert_eq!(o.status.code(), Some(3));
    assert!(se.contains("--update"), "{se}");
    let (_, so, _) = run(clearshot(&g).args(["gallery", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&so).unwrap();
    let obama = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Barack Obama")
        .unwrap();
    assert_eq!(obama["consent"]["consent"], "denied");
}

#[test]
fn reference_photos_must_show_exactly_one_face() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    // A test pattern has no face.
    let (o, _, se) = run(clearshot(&g)
        .args(["gallery", "add", "--name", "Nobody", "--consent", "unknown"])
        .arg(fixtures().join("formats/still.png")));
    assert_eq!(o.status.code(), Some(3));
    assert!(se.contains("still.png") && se.contains("no face"), "{se}");
    assert!(!g.exists(), "a failed enrollment must not create a gallery");
    // Two people side by side.
    let two = dir.path().join("two.png");
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(demo().join("enroll/obama.jpg"))
        .arg("-i")
        .arg(demo().join("enroll/biden.jpg"))
        .args([
            "-filter_complex",
            "[0]scale=-2:400[a];[1]scale=-2:400[b];[a][b]hstack",
        ])
        .arg(&two)
        .status()
        .unwrap();
    assert!(st.success());
    let (o, _, se) = run(clearshot(&g)
        .args(["gallery", "add", "--name", "Pair", "--consent", "unknown"])
        .arg(&two));
    assert_eq!(o.status.code(), Some(3));
    assert!(se.contains("two.png") && se.contains("2 faces"), "{se}");
}

#[test]
fn missing_models_and_runtime_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let (o, _, se) = run(clearshot(&g)
        .arg("--models")
        .arg(dir.path())
        .arg("scan")
        .arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(3));
    assert!(se.contains("manifest.json"), "{se}");
    assert_eq!(se.trim().lines().count(), 1, "{se}");

    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not a library").unwrap();
    let (o, _, se) = run(clearshot(&g)
        .env("ORT_DYLIB_PATH", &fake)
        .arg("scan")
        .arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(3));
    assert!(
        se.contains("ONNX Runtime") && se.contains("scripts/setup.sh"),
        "{se}"
    );
}

#[test]
fn a_reference_rate_that_cannot_work_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    for rate in ["0", "-1", "NaN"] {
        let (o, so, se) = run(clearshot(&g)
            .arg("scan")
            .arg(demo().join("demo.mp4"))
            .arg(format!("--ref-rate={rate}")));
        assert_eq!(o.status.code(), Some(3), "--ref-rate {rate}: {so}{se}");
        assert!(
            se.lines().any(|l| l.contains("reference rate")),
            "--ref-rate {rate}: {se}"
        );
        assert!(so.is_empty(), "nothing scanned: {so}");
    }
    // A flag clap itself refuses is a usage error too (3), not "inputs failed" (2).
    let (o, _, se) = run(clearshot(&g).args(["scan", "--no-such-flag"]));
    assert_eq!(o.status.code(), Some(3), "{se}");
}
