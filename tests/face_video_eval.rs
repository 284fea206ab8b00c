//! `clearshot eval-video` on the generated tune split of the labelled face video set
//! (scripts/make_face_video_eval.py, real photos from registry packages): the real binary, the
//! real models, real 1080p clips.

mod common;

use common::{root, run};
use std::path::PathBuf;
use std::process::Command;

/// The tune split's labels, generated when missing with the venv that scripts/test.sh makes.
fn tune_labels() -> PathBuf {
    let labels = root().join("fixtures/generated/face_video_eval/tune/labels.json");
    if !labels.is_file() {
        let py = root().join("third_party/venv-facevideo/bin/python");
        let st = Command::new(&py)
            .arg(root().join("scripts/make_face_video_eval.py"))
            .args(["--split", "tune"])
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run scripts/test.sh (it makes the venv and the video set)",
                    py.display()
                )
            });
        assert!(st.success(), "make_face_video_eval.py --split tune failed");
    }
    labels
}

fn eval_video() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clearshot"));
    c.arg("--models")
        .arg(root().join("models"))
        .arg("eval-video");
    c.env_remove("CLEARSHOT_GALLERY");
    c
}

#[test]
fn tune_split_scores_every_labelled_shot_and_gates() {
    let labels = tune_labels();
    let truth = common::json(&labels);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("result.json");
    let (o, so, se) = run(eval_video().arg(&labels).arg("--json").arg(&out));
    assert!(o.status.success(), "eval-video failed: {so}{se}");
    let r = common::json(&out);

    // One result per labelled shot, in order, each labelled person scored.
    let labelled: Vec<(String, usize)> = truth["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .flat_map(|c| c["shots"].as_array().expect("shots").iter())
        .map(|s| {
            let n = s["persons"].as_array().map_or(0, |p| p.len());
            (s["case"].as_str().expect("case").to_string(), n)
        })
        .collect();
    let scored: Vec<(String, usize)> = r["shots"]
        .as_array()
        .expect("shots")
        .iter()
        .map(|s| {
            let n = s["persons"].as_array().map_or(0, |p| p.len());
            (s["case"].as_str().expect("case").to_string(), n)
        })
        .collect();
    assert_eq!(scored, labelled);
    for case in [
        "frontal_large",
        "face_24px",
        "roll90",
        "strangers_only",
        "profile",
    ] {
        assert!(r["by_case"].get(case).is_some(), "no {case} in {so}");
        assert!(so.contains(case), "no {case} line in {so}");
    }

    // The control: a large frontal face is found; nobody is named in the strangers' shot.
    assert_eq!(r["by_case"]["frontal_large"]["found"], 1, "{so}");
    let all = &r["overall"];
    assert_eq!(all["false_identities"], 0, "{so}");
    assert_eq!(all["false_review_flags"], 0, "{so}");
    let hits = all["found"].as_u64().expect("found") + all["possible"].as_u64().expect("p");
    let expected = all["expected"].as_u64().expect("expected");
    assert_eq!(
        hits + all["missed"].as_u64().expect("missed"),
        expected,
        "{so}"
    );
    // The scanner cut each clip where the labels do.
    for c in truth["clips"].as_array().expect("clips") {
        let path = c["path"].as_str().expect("path");
        assert_eq!(
            r["detected_shots"][path].as_u64(),
            Some(c["shots"].as_array().expect("shots").len() as u64),
            "{path}: {so}"
        );
    }

    // The hits gate fails above what was reached, and says so.
    let (o, so, _) = run(eval_video()
        .arg(&labels)
        .arg("--min-hits")
        .arg((expected + 1).to_string()));
    assert_eq!(o.status.code(), Some(1), "{so}");
    assert!(so.contains("FAIL:"), "{so}");
}

#[test]
fn labels_errors_exit_3_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.json");
    let (o, _, se) = run(eval_video().arg(&missing));
    assert_eq!(o.status.code(), Some(3), "{se}");
    assert!(se.contains(&missing.display().to_string()), "{se}");
    assert_eq!(se.trim().lines().count(), 1, "{se}");

    let bad = dir.path().join("labels.json");
    std::fs::write(
        &bad,
        r#"{"gallery":{},"clips":[{"path":"gone.mp4","shots":[]}]}"#,
    )
    .expect("write");
    let (o, _, se) = run(eval_video().arg(&bad));
    assert_eq!(o.status.code(), Some(3), "{se}");
    assert!(se.contains("gone.mp4 does not exist"), "{se}");
}
