//! The hostile-input corpus (scripts/make_hostile.sh) in one batch with good files: each bad
//! input gets its one line naming it and its cause, every good file is reported, memory
//! stays bounded, the exit status is 2. Plus the hazards of a folder and of the outputs: a
//! symlink loop, a file that disappears mid-batch, an output folder that cannot be written.

mod common;
use common::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Words of the one-line error for each kind the corpus lists.
fn words(kind: &str) -> &'static str {
    match kind {
        "Empty" => "empty file",
        "Truncated" => "truncated",
        "NotMedia" => "not a media file",
        "NoVideoStream" => "no video stream",
        "TooLarge" => "over the limit",
        other => panic!("kind {other} has no words here"),
    }
}

#[test]
fn the_hostile_corpus_gets_one_line_each_and_the_good_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let hostile = fixtures().join("hostile");
    let expected = json(&hostile.join("expected.json"));
    // A folder that points back at itself, beside a good file.
    let looped = dir.path().join("looped");
    std::fs::create_dir_all(looped.join("inner")).unwrap();
    std::os::unix::fs::symlink(&looped, looped.join("inner/again")).unwrap();
    std::fs::copy(
        fixtures().join("formats/still.png"),
        looped.join("inner/ok.png"),
    )
    .unwrap();
    let report = dir.path().join("r.json");
    let mut cmd = clearshot(&g);
    cmd.args(["scan", "--json"])
        .arg(&report)
        .arg(&hostile)
        // Folders are walked for video and picture types; sound files are tried when named.
        .arg(hostile.join("audio.m4a"))
        .arg(hostile.join("audio.wav"))
        .arg(demo().join("demo.mp4"))
        .arg(&looped);

    // Peak resident memory of the scan and its workers, sampled every 20 ms.
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (o, so, se) = {
        use std::process::Stdio;
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let watcher = {
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let total: u64 = rss(pid) + workers_of(pid).into_iter().map(rss).sum::<u64>();
                    peak.fetch_max(total, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let out = child.wait_with_output().unwrap();
        done.store(true, Ordering::SeqCst);
        watcher.join().unwrap();
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, so, se)
    };
    assert_eq!(o.status.code(), Some(2), "{so}\n{se}");
    let peak = peak.load(Ordering::SeqCst);
    eprintln!("peak resident memory of the batch: {} MiB", peak >> 20);
    assert!(peak < 3 << 30, "peak memory {} MiB", peak >> 20);

    let r = json(&report);
    let scanned: Vec<String> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let failed: Vec<(String, String)> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (name, want) in expected.as_object().unwrap() {
        let path = hostile.join(name).display().to_string();
        let lines: Vec<&str> = se.lines().filter(|l| l.contains(&path)).collect();
        match want["must_fail"].as_bool() {
            Some(true) => {
                let kind = want["kind"].as_str().unwrap();
                let line = lines
                    .iter()
                    .find(|l| l.contains(words(kind)))
                    .unwrap_or_else(|| panic!("{name}: no '{}' line in:\n{se}", words(kind)));
                assert!(line.starts_with(&format!("clearshot: {path}")), "{line}");
                assert!(
                    failed.iter().any(|(p, _)| *p == path),
                    "{name} not in failures"
                );
            }
            Some(false) => assert!(scanned.contains(&path), "{name} was not scanned: {se}"),
            // Bit flips: FFmpeg may decode around the damage, or not; either way it is
            // accounted for.
            None => assert!(
                scanned.contains(&path) || failed.iter().any(|(p, _)| *p == path),
                "{name} is neither scanned nor failed"
            ),
        }
    }
    // The good files around the corpus are all there.
    assert!(so.contains("Barack Obama"), "{so}");
    assert!(
        scanned.iter().any(|p| p.ends_with("inner/ok.png")),
        "{scanned:?}"
    );
    let loop_line = se
        .lines()
        .find(|l| l.contains("symlink loop"))
        .unwrap_or_else(|| panic!("no symlink loop line: {se}"));
    assert!(loop_line.contains("again"), "{loop_line}");
}

#[test]
fn a_file_that_disappears_mid_batch_gets_its_line_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let folder = dir.path().join("day1");
    std::fs::create_dir_all(&folder).unwrap();
    let f = fixtures().join("formats");
    for (from, to) in [
        ("h264_25.mp4", "a.mp4"),
        ("hevc.mp4", "b.mp4"),
        ("still.png", "c.png"),
    ] {
        std::fs::copy(f.join(from), folder.join(to)).unwrap();
    }
    let gone = folder.join("b.mp4");
    let mut cmd = clearshot(&g);
    cmd.args(["scan", "--jobs", "1"]).arg(&folder);
    let (st, events, se) = run_with_events(&mut cmd, |e, _| {
        if e["type"] == "file_started" && gone.exists() {
            std::fs::remove_file(&gone).unwrap();
        }
    });
    assert_eq!(st.code(), Some(2), "{se}");
    let line = se
        .lines()
        .find(|l| l.contains("b.mp4"))
        .unwrap_or_else(|| panic!("{se}"));
    assert!(line.contains("No such file"), "{line}");
    let finished = events
        .iter()
        .filter(|e| e["type"] == "file_finished")
        .count();
    assert_eq!(finished, 2, "{events:?}");
}

#[test]
fn an_output_folder_that_cannot_be_written_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    // Nobody, not even root, creates files in /sys.
    let (o, so, se) = run(clearshot(&g)
        .args(["scan", "--json", "/sys/clearshot-report.json"])
        .arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(3), "{so}\n{se}");
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(se.contains("/sys: cannot write a report here"), "{se}");
    assert!(so.is_empty(), "scanned anyway: {so}");
    assert!(!Path::new("/sys/clearshot-report.json").exists());
}
