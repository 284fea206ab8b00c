//! Batches that survive anything, on the real binary and real media: SIGKILL at random
//! moments and resume to the same reports, worker crashes and hangs retried then failed,
//! the memory cap, Ctrl-C, files in parallel, JSON Lines events, image sequences.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The batch most tests scan: the demo (two people), three format fixtures, a DPX sequence.
fn batch_inputs() -> Vec<PathBuf> {
    let f = fixtures().join("formats");
    vec![
        demo().join("demo.mp4"),
        f.join("h264_25.mp4"),
        f.join("prores_tc.mov"),
        f.join("ntsc_df.mp4"),
        f.join("seq_dpx"),
        f.join("still.png"),
    ]
}

/// A report's JSON without the run's own fields.
fn scan_facts(path: &Path) -> serde_json::Value {
    let mut v = json(path);
    if let Some(m) = v.as_object_mut() {
        for k in ["started", "finished", "command_line"] {
            assert!(m.remove(k).is_some(), "{k} missing from {}", path.display());
        }
    }
    v
}

/// A text report with the run's own values (start and end times, how long it took, the
/// command line) blanked.
fn without_run(text: &str, report: &serde_json::Value) -> String {
    let mut t = text.to_string();
    for k in ["started", "finished"] {
        if let Some(s) = report[k].as_str() {
            t = t.replace(s, "<time>");
        }
    }
    // The HTML report shows the command line on one line, and how long the run took.
    for (open, close) in [
        ("<code class=\"cmd\">", "</code>"),
        ("<dt>Duration</dt><dd>", "</dd>"),
    ] {
        if let Some(i) = t.find(open) {
            let from = i + open.len();
            if let Some(len) = t[from..].find(close) {
                t.replace_range(from..from + len, "<run>");
            }
        }
    }
    t
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and printed so a failing
/// run can be repeated with CLEARSHOT_TEST_SEED.
fn rng() -> impl FnMut() -> u64 {
    let mut s: u64 = std::env::var("CLEARSHOT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("CLEARSHOT_TEST_SEED={s}");
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn scan_cmd(g: &Path, journal: &Path, out: &Path, inputs: &[PathBuf]) -> Command {
    let mut c = clearshot(g);
    c.arg("scan")
        .arg("--journal")
        .arg(journal)
        .arg("--overwrite")
        .arg("--json")
        .arg(out.join("r.json"))
        .arg("--csv")
        .arg(out.join("r.csv"))
        .arg("--edl")
        .arg(out.join("r.edl"))
        .arg("--otio")
        .arg(out.join("r.otio"))
        .arg("--html")
        .arg(out.join("html"));
    c.args(inputs);
    c
}

#[test]
fn batches_killed_at_random_moments_resume_to_the_same_reports() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let inputs = batch_inputs();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();

    let started = Instant::now();
    let (o, so, se) = run(&mut scan_cmd(&g, &dir.path().join("a.sqlite"), &a, &inputs));
    assert_eq!(o.status.code(), Some(1), "{so}\n{se}");
    let whole = started.elapsed();

    // Kill the same batch with SIGKILL at random moments, then let it finish.
    let mut next = rng();
    let journal = dir.path().join("b.sqlite");
    let mut kills = 0;
    for _ in 0..4 {
        let mut cmd = scan_cmd(&g, &journal, &b, &inputs);
        let mut child: Child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Within the first three quarters of an uninterrupted run: a wait past its end let
        // the first run finish, and the ones after it had nothing left to do.
        let span = (whole.as_millis() as u64 * 3 / 4).max(200);
        let wait = Duration::from_millis(100 + next() % span);
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            signal(pid, "KILL");
            kills += 1;
        }
        let _ = child.wait();
        // The workers die with their supervisor.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !workers_of(pid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            workers_of(pid).is_empty(),
            "workers outlived their supervisor"
        );
    }
    assert!(kills > 0, "every run finished before it could be killed");
    let (o, so, se) = run(&mut scan_cmd(&g, &journal, &b, &inputs));
    assert_eq!(o.status.code(), Some(1), "{so}\n{se}");

    let (ra, rb) = (scan_facts(&a.join("r.json")), scan_facts(&b.join("r.json")));
    assert!(ra == rb, "JSON reports differ after {kills} kills");
    let (ja, jb) = (json(&a.join("r.json")), json(&b.join("r.json")));
    // One EDL per file (r.demo.mp4.edl, ...).
    let mut edls: Vec<String> = std::fs::read_dir(&a)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("r.") && n.ends_with(".edl"))
        .collect();
    edls.sort();
    assert_eq!(edls.len(), inputs.len(), "{edls:?}");
    let texts = ["r.csv", "r.otio", "html/index.html"].map(String::from);
    for name in texts.into_iter().chain(edls) {
        let ta = std::fs::read_to_string(a.join(&name)).unwrap();
        let tb = std::fs::read_to_string(b.join(&name)).unwrap();
        assert_eq!(
            without_run(&ta, &ja),
            without_run(&tb, &jb),
            "{name} differs after {kills} kills"
        );
    }
    // The resumed report has everything: two people in the demo, the sequence as one clip.
    assert_eq!(ra["files"].as_array().unwrap().len(), inputs.len());
    assert!(ra.get("incomplete").is_none());
    // The evidence images waited on disk, not in memory: in the journal by their digests,
    // with nothing left of the spill folders (a killed run's is removed by the next run).
    let db = rusqlite::Connection::open(&journal).unwrap();
    let images: i64 = db
        .query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))
        .unwrap();
    let findings: usize = ra["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["findings"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        findings > 0 && images as usize >= 2 * findings,
        "{images} images"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("evidence"))
        .collect();
    assert!(left.is_empty(), "spill folders left: {left:?}");
}

#[test]
fn a_worker_that_crashes_is_replaced_and_the_file_failed_after_two_tries() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let journal = dir.path().join("j.sqlite");
    let good = fixtures().join("formats/h264_25.mp4");
    let victim = demo().join("demo.mp4");
    let cmd = || {
        let mut c = clearshot(&g);
        c.args(["scan", "--jobs", "1", "--journal"])
            .arg(&journal)
            .arg(&victim)
            .arg(&good);
        c
    };
    // Every worker that opens demo.mp4 dies of SIGABRT (as a failed allocation or a C assert
    // in a decoder ends a process; a SIGSEGV sent with kill is caught by Rust's stack-overflow
    // handler once, a real fault is not).
    let (st, events, se) = run_with_events(&mut cmd(), |e, pid| {
        if e["type"] == "file_started" && e["data"]["path"].as_str().unwrap().ends_with("demo.mp4")
        {
            for w in workers_of(pid) {
                signal(w, "ABRT");
            }
        }
    });
    assert_eq!(st.code(), Some(2), "{se}");
    let lines: Vec<&str> = se.lines().filter(|l| l.contains("demo.mp4")).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("killed by signal 6 (SIGABRT)") && l.contains("trying once more")),
        "{se}"
    );
    assert!(
        lines.iter().any(|l| l.contains("gave up after 2 tries")),
        "{se}"
    );
    // The other file was scanned by a fresh worker.
    assert!(events.iter().any(|e| e["type"] == "file_finished"
        && e["data"]["path"].as_str().unwrap().ends_with("h264_25.mp4")));
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "file_failed")
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0]["data"]["retry"], true);
    assert_eq!(failed[1]["data"]["retry"], false);

    // Not retried forever: the journal remembers the failure.
    let (st, events, se) = run_with_events(&mut cmd(), |_, _| {});
    assert_eq!(st.code(), Some(2), "{se}");
    assert!(
        !events.iter().any(|e| e["type"] == "file_started"),
        "{events:?}"
    );
    assert!(se.contains("gave up after 2 tries"), "{se}");
    // --fresh tries again (and nothing kills it now).
    let (st, _, se) = run_with_events(cmd().arg("--fresh"), |_, _| {});
    assert_eq!(st.code(), Some(1), "{se}");
}

#[test]
fn a_file_that_stops_making_progress_is_stopped_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let mut stopped = 0;
    let mut cmd = clearshot(&g);
    cmd.args(["scan", "--jobs", "1", "--stall-timeout", "5", "--journal"])
        .arg(dir.path().join("j.sqlite"))
        .arg(demo().join("demo.mp4"));
    // The first worker freezes (SIGSTOP) as it opens the file: a hang.
    let (st, events, se) = run_with_events(&mut cmd, |e, pid| {
        if e["type"] == "file_started" && stopped == 0 {
            for w in workers_of(pid) {
                signal(w, "STOP");
                stopped += 1;
            }
        }
    });
    assert_eq!(stopped, 1);
    assert!(
        se.contains("no progress for 5 s (--stall-timeout); stopped")
            && se.contains("trying once more"),
        "{se}"
    );
    // The second try, in a new worker, finds Obama.
    assert_eq!(st.code(), Some(1), "{se}");
    assert!(events
        .iter()
        .any(|e| e["type"] == "finding" && e["data"]["finding"]["name"] == "Barack Obama"));
}

#[test]
fn a_file_over_the_memory_cap_is_stopped_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let (o, so, se) = run(clearshot(&g)
        .args(["scan", "--jobs", "1", "--max-memory", "64M", "--journal"])
        .arg(dir.path().join("j.sqlite"))
        .arg(demo().join("demo.mp4")));
    assert_eq!(o.status.code(), Some(2), "{so}\n{se}");
    let line = se
        .lines()
        .find(|l| l.contains("gave up"))
        .unwrap_or_else(|| panic!("{se}"));
    assert!(
        line.contains("demo.mp4")
            && line.contains("needed more than 64 MiB of memory (--max-memory)"),
        "{line}"
    );
    assert!(so.contains("FAILED"), "{so}");
}

#[test]
fn the_first_interrupt_writes_an_incomplete_report_and_the_next_run_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let journal = dir.path().join("j.sqlite");
    let report = dir.path().join("r.json");
    let f = fixtures().join("formats");
    let cmd = || {
        let mut c = clearshot(&g);
        c.args(["scan", "--jobs", "1", "--overwrite", "--journal"])
            .arg(&journal)
            .arg("--json")
            .arg(&report)
            .arg(f.join("h264_25.mp4"))
            .arg(demo().join("demo.mp4"))
            .arg(f.join("hevc.mp4"));
        c
    };
    let mut sent = false;
    let (st, events, se) = run_with_events(&mut cmd(), |e, pid| {
        if e["type"] == "file_finished" && !sent {
            signal(pid, "INT");
            sent = true;
        }
    });
    assert_eq!(st.code(), Some(2), "{se}");
    assert!(
        se.contains("stopped:") && se.contains("run the same command again to resume"),
        "{se}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "batch_finished");
    assert_eq!(last["data"]["interrupted"], true);
    let r = json(&report);
    assert_eq!(r["incomplete"], true);
    assert_eq!(r["files"].as_array().unwrap().len(), 1);
    assert_eq!(r["pending"].as_array().unwrap().len(), 2);

    let (st, events, se) = run_with_events(&mut cmd(), |_, _| {});
    assert_eq!(st.code(), Some(1), "{se}");
    let started = &events[0];
    assert_eq!(started["type"], "batch_started");
    assert_eq!(started["data"]["from_journal"], 1);
    assert_eq!(started["data"]["to_scan"], 2);
    let r = json(&report);
    assert!(r.get("incomplete").is_none());
    assert_eq!(r["files"].as_array().unwrap().len(), 3);

    // A second interrupt stops at once, and leaves no half-written report.
    std::fs::remove_file(&report).unwrap();
    let mut signals = 0;
    let t = Instant::now();
    let (st, _, _) = run_with_events(cmd().arg("--fresh"), |e, pid| {
        if e["type"] == "file_started" && signals == 0 {
            signal(pid, "INT");
            std::thread::sleep(Duration::from_millis(20));
            signal(pid, "INT");
            signals = 2;
        }
    });
    assert_eq!(st.code(), Some(2));
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(!report.exists() || json(&report).is_object());
}

#[test]
fn files_in_parallel_report_as_one_at_a_time_and_events_stream_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let inputs = batch_inputs();
    let mut reports = Vec::new();
    for jobs in ["1", "3"] {
        let out = dir.path().join(format!("r{jobs}.json"));
        let mut cmd = clearshot(&g);
        cmd.args(["scan", "--jobs", jobs, "--json"])
            .arg(&out)
            .args(&inputs);
        let (st, events, se) = run_with_events(&mut cmd, |_, _| {});
        assert_eq!(st.code(), Some(1), "{se}");
        // ripgrep-style records: a type and its data, batch_started first and finished last.
        assert!(events
            .iter()
            .all(|e| e["type"].is_string() && e["data"].is_object()));
        assert_eq!(events[0]["type"], "batch_started");
        assert_eq!(events[0]["data"]["inputs"], inputs.len());
        assert_eq!(events.last().unwrap()["type"], "batch_finished");
        assert_eq!(events.last().unwrap()["data"]["scanned"], inputs.len());
        let findings: Vec<_> = events.iter().filter(|e| e["type"] == "finding").collect();
        assert_eq!(findings.len(), 2);
        assert!(findings
            .iter()
            .all(|f| f["data"]["finding"].get("evidence").is_none()));
        for name in ["Barack Obama", "Joe Biden"] {
            assert!(findings
                .iter()
                .any(|f| f["data"]["finding"]["name"] == name));
        }
        // Each input starts before it finishes.
        for e in events.iter().filter(|e| e["type"] == "file_finished") {
            let p = &e["data"]["path"];
            let s = events
                .iter()
                .position(|x| x["type"] == "file_started" && &x["data"]["path"] == p);
            let f = events.iter().position(|x| std::ptr::eq(x, e));
            assert!(s < f, "{p}");
        }
        // A completed batch's default journal is gone (evidence is biometric data).
        let journals = dir.path().join("state/clearshot/journals");
        let left = std::fs::read_dir(&journals).map_or(0, |d| d.count());
        assert_eq!(left, 0, "journal left in {}", journals.display());
        reports.push(scan_facts(&out));
    }
    assert!(reports[0] == reports[1], "--jobs 1 and --jobs 3 disagree");
}

#[test]
fn an_image_sequence_is_one_clip_at_its_frame_numbers_timecode() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let out = dir.path().join("r.json");
    let f = fixtures().join("formats");
    let (o, so, se) = run(clearshot(&g)
        .args(["scan", "--json"])
        .arg(&out)
        .arg(f.join("seq_dpx")));
    assert_eq!(o.status.code(), Some(0), "{so}\n{se}");
    assert!(so.contains("shot_####.dpx [1001-1048]"), "{so}");
    assert!(se.contains("frames 1011-1013 missing"), "{se}");
    let r = json(&out);
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["start_timecode"], "00:00:41:17");
    assert_eq!(files[0]["sequence"]["first"], 1001);
    assert_eq!(files[0]["shots"].as_array().unwrap().len(), 2);
    let (o, so, _) = run(Command::new(env!("CARGO_BIN_EXE_clearshot"))
        .arg("verify")
        .arg(&out));
    assert!(o.status.success(), "{so}");
    assert!(so.contains("UNCHANGED  image sequence"), "{so}");
    // --no-sequences: the same folder as 44 stills.
    let (o, so, se) = run(clearshot(&g)
        .args(["scan", "--no-sequences"])
        .arg(f.join("seq_dpx")));
    assert_eq!(o.status.code(), Some(0), "{se}");
    assert_eq!(
        so.lines().filter(|l| l.contains("shot_1")).count(),
        44,
        "{so}"
    );
}

#[test]
fn a_file_whose_key_changed_is_scanned_again_and_only_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let folder = dir.path().join("day");
    std::fs::create_dir_all(&folder).unwrap();
    let f = fixtures().join("formats");
    std::fs::copy(f.join("h264_25.mp4"), folder.join("a.mp4")).unwrap();
    std::fs::copy(f.join("still.png"), folder.join("b.png")).unwrap();
    let journal = dir.path().join("j.sqlite");
    let scan = |extra: &[&str]| {
        let mut c = clearshot(&g);
        c.args(["scan", "--journal"])
            .arg(&journal)
            .args(extra)
            .arg(&folder);
        let (st, events, se) = run_with_events(&mut c, |_, _| {});
        assert_eq!(st.code(), Some(0), "{se}");
        let d = &events[0]["data"];
        (
            d["to_scan"].as_u64().unwrap(),
            d["from_journal"].as_u64().unwrap(),
        )
    };
    assert_eq!(scan(&[]), (2, 0));
    assert_eq!(scan(&[]), (0, 2));
    // New content under the same name: that file only.
    std::fs::copy(f.join("hevc.mp4"), folder.join("a.mp4")).unwrap();
    assert_eq!(scan(&[]), (1, 1));
    // Another setting that changes results: everything.
    assert_eq!(scan(&["--sample-rate", "3"]), (2, 0));
    // How the work is spread changes no result: nothing.
    assert_eq!(
        scan(&["--sample-rate", "3", "--jobs", "1", "--workers", "1"]),
        (0, 2)
    );
}
