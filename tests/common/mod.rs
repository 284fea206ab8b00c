//! Harness for driving the real binary on real fixture media.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static FIXTURES: Once = Once::new();

/// Makes sure the generated fixtures exist (the scripts skip what is already there).
pub fn fixtures() -> PathBuf {
    FIXTURES.call_once(|| {
        for script in [
            "scripts/make_fixtures.sh",
            "scripts/make_demo.sh",
            "scripts/make_hostile.sh",
        ] {
            let st = Command::new("bash")
                .arg(root().join(script))
                .status()
                .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
            assert!(st.success(), "{script} failed");
        }
    });
    root().join("fixtures/generated")
}

static C2PA: Once = Once::new();

/// The signed C2PA fixtures (scripts/make_c2pa.sh: a test CA, files signed offline).
pub fn c2pa() -> PathBuf {
    C2PA.call_once(|| {
        let st = Command::new("bash")
            .arg(root().join("scripts/make_c2pa.sh"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run make_c2pa.sh: {e}"));
        assert!(st.success(), "make_c2pa.sh failed");
    });
    root().join("fixtures/generated/c2pa")
}

/// The demo folder.
pub fn demo() -> PathBuf {
    fixtures().join("demo")
}

/// A command for the clearshot binary with a private gallery path.
/// Default batch journals go beside the gallery (each test has its own), never into the
/// user's state folder.
pub fn clearshot(gallery: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clearshot"));
    c.arg("--gallery").arg(gallery);
    c.env_remove("CLEARSHOT_GALLERY");
    if let Some(dir) = gallery.parent() {
        c.env("XDG_STATE_HOME", dir.join("state"));
    }
    c
}

/// Runs and returns the output; stdout/stderr as text.
pub fn run(c: &mut Command) -> (Output, String, String) {
    let out = c.output().expect("run clearshot");
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, so, se)
}

/// A temporary gallery with Obama (consent denied) and Biden (consent granted) enrolled.
pub fn demo_gallery(dir: &Path) -> PathBuf {
    let g = dir.join("gallery.sqlite");
    let d = demo();
    let (o, so, se) = run(clearshot(&g)
        .args([
            "gallery",
            "add",
            "--name",
            "Barack Obama",
            "--consent",
            "denied",
        ])
        .arg(d.join("enroll/obama.jpg")));
    assert!(o.status.success(), "enroll obama: {so}{se}");
    let (o, so, se) = run(clearshot(&g)
        .args([
            "gallery",
            "add",
            "--name",
            "Joe Biden",
            "--consent",
            "granted",
            "--expires",
            "2099-12-31",
        ])
        .arg(d.join("enroll/biden.jpg")));
    assert!(o.status.success(), "enroll biden: {so}{se}");
    g
}

/// Parses a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// The reference-matching fixture folder (`ip_clip.mp4`, `ip_clip.json`, `refs/`), built by
/// `scripts/make_ip_clip.py` in the venv of `scripts/requirements-ip.txt` (scripts/test.sh
/// makes both before the Rust tests).
pub fn ip_fixtures() -> PathBuf {
    let dir = root().join("fixtures/generated/ip");
    if !dir.join("ip_clip.mp4").exists() {
        let py = root().join("third_party/venv-ip/bin/python");
        let st = Command::new(&py)
            .arg(root().join("scripts/make_ip_clip.py"))
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run scripts/test.sh (it makes the venv and the IP fixtures)",
                    py.display()
                )
            });
        assert!(st.success(), "make_ip_clip.py failed");
    }
    dir
}

/// The clip where a reference appears half way through its one shot (`appear.mp4` in the
/// reference fixture folder), made by `scripts/make_ip_appear.sh` from that folder.
pub fn ip_appear_clip() -> PathBuf {
    let dir = ip_fixtures();
    let clip = dir.join("appear.mp4");
    if !clip.exists() {
        let st = Command::new("bash")
            .arg(root().join("scripts/make_ip_appear.sh"))
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| panic!("make_ip_appear.sh: {e}"));
        assert!(st.success(), "make_ip_appear.sh failed");
    }
    clip
}

/// The pids of `parent`'s children running `clearshot worker`.
pub fn workers_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4 (after the parenthesised name) is the parent pid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(parent) && cmd.split(|b| *b == 0).any(|a| a == b"worker") {
            out.push(pid);
        }
    }
    out
}

pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
    assert!(st.is_ok_and(|s| s.success()), "kill -{sig} {pid}");
}

/// Runs a scan with `--jsonl -`, calling `on_event` with each event and the scan's pid.
pub fn run_with_events(
    cmd: &mut Command,
    mut on_event: impl FnMut(&serde_json::Value, u32),
) -> (std::process::ExitStatus, Vec<serde_json::Value>, String) {
    cmd.arg("--jsonl").arg("-");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start clearshot");
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut events = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        on_event(&v, pid);
        events.push(v);
    }
    let status = child.wait().unwrap();
    (status, events, err.join().unwrap())
}

/// Resident memory of a process, in bytes (0 once it is gone).
pub fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
