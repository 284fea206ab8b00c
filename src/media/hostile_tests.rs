//! The hostile-input corpus of `scripts/make_hostile.sh` through `probe`, `load_still` and
//! `stream`: each file ends as its `expected.json` says, every error is one line that starts
//! with the file's path, nothing panics, and the files that claim enormous pictures are refused
//! quickly without their memory ever being allocated.
//!
//! The corpus runs in a child process (this test binary again) with its address space capped:
//! a regression that decodes a bomb then fails the test instead of taking the machine's memory
//! (an uncapped 40000x40000 PNG once reached 23.8 GB). The child measures each call's peak
//! memory by resetting the kernel's high-water mark (`/proc/self/clear_refs`) before it.

use super::test_fixtures::Collect;
use super::{stream, MediaError, SamplingOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Address space of the child: the corpus needs well under 100 MB of memory; the rest is
/// room for thread stacks and allocator arenas, which count here although mostly unused.
const CHILD_ADDRESS_SPACE_KIB: u64 = 4 * 1024 * 1024;
/// Most a single call may add to the process's peak resident memory.
const MAX_PEAK_GROWTH: u64 = 200 << 20;
/// Longest a file that claims too many pixels may take to be refused (a few ms measured; the
/// margin is for a loaded machine).
const MAX_REFUSAL_TIME: Duration = Duration::from_secs(1);

/// The corpus folder, built (or checked, in milliseconds) once per process.
fn corpus() -> PathBuf {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let script = root.join("scripts/make_hostile.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed (needs the ffmpeg CLI and python3): {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(root.join("fixtures/generated/hostile"))
    });
    match ready {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("hostile corpus unavailable: {e}"),
    }
}

#[test]
fn corpus_in_a_memory_capped_child() {
    // Build the corpus here, uncapped: the script's ffmpeg and python need their own memory.
    corpus();
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v "$1" && shift && exec "$@""#)
        .arg("sh")
        .arg(CHILD_ADDRESS_SPACE_KIB.to_string())
        .arg(exe)
        .args([
            "media::hostile_tests::capped::",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the capped child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The per-file table, for `cargo test -- --nocapture`.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "capped child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("2 passed"),
        "the child ran other tests than expected:\n{stdout}"
    );
}

/// Runs in the capped child only (see the module comment).
mod capped {
    use super::*;
    use crate::media::{load_still, open, probe, DEFAULT_MAX_PIXELS};

    /// What `expected.json` says about one file.
    struct Expect {
        /// "yes", "no" or "either".
        must_fail: String,
        /// The error kind, e.g. `TooLarge`, when it must fail.
        kind: Option<String>,
        /// The header is sound: probe works although decoding fails.
        probe_ok: bool,
    }

    fn expectations(dir: &Path) -> Vec<(String, Expect)> {
        let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
        let all: serde_json::Value = serde_json::from_str(&text).expect("expected.json is JSON");
        let all = all.as_object().expect("an object of files");
        all.iter()
            .map(|(name, e)| {
                let must_fail = match &e["must_fail"] {
                    serde_json::Value::Bool(true) => "yes".to_string(),
                    serde_json::Value::Bool(false) => "no".to_string(),
                    other => other.as_str().expect("must_fail").to_string(),
                };
                let expect = Expect {
                    must_fail,
                    kind: e["kind"].as_str().map(str::to_string),
                    probe_ok: e["probe_ok"].as_bool().unwrap_or(false),
                };
                (name.clone(), expect)
            })
            .collect()
    }

    fn status_kib(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Runs `f`, returning its result (Err if it panicked), its time, and how far it raised
    /// the process's peak resident memory above what was resident before (None where the
    /// kernel cannot reset the peak).
    fn measure<T>(f: impl FnOnce() -> T) -> (std::thread::Result<T>, Duration, Option<u64>) {
        // "5" resets the peak resident size (VmHWM) to the current one.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = status_kib("VmRSS:");
        let start = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let took = start.elapsed();
        let growth = match (reset, before, status_kib("VmHWM:")) {
            (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before) * 1024),
            _ => None,
        };
        (result, took, growth)
    }

    /// One entry point on `path`: probe, load (load_still) or stream.
    fn run(call: &str, path: &Path) -> Result<(), MediaError> {
        match call {
            "probe" => probe(path).map(drop),
            "load" => load_still(path).map(drop),
            _ => stream(path, &SamplingOptions::default(), &mut Collect::default()).map(drop),
        }
    }

    /// Whether `e` is one line starting with `path`, of kind `kind` when given.
    fn check_error(e: &MediaError, path: &Path, kind: Option<&str>) -> Result<(), String> {
        let text = e.to_string();
        if text.contains('\n') || !text.starts_with(&path.display().to_string()) {
            return Err(format!("not one line starting with the path: {text:?}"));
        }
        match kind {
            Some(k) if !format!("{e:?}").starts_with(k) => Err(format!("expected {k}, got {e:?}")),
            _ => Ok(()),
        }
    }

    #[test]
    #[ignore = "run by corpus_in_a_memory_capped_child, under an address-space cap"]
    fn every_file_ends_as_expected() {
        let dir = corpus();
        let mut problems = Vec::new();
        let mut memory_measured = true;
        println!(
            "{:<14} {:<6} {:<14} {:>9} {:>9}",
            "FILE", "CALL", "RESULT", "TIME", "PEAK+"
        );
        for (name, expect) in expectations(&dir) {
            let path = dir.join(&name);
            for call in ["probe", "load", "stream"] {
                let (result, took, growth) = measure(|| run(call, &path));
                // The error kind: the variant name at the start of the Debug text.
                let shown = match &result {
                    Ok(Ok(())) => "ok".to_string(),
                    Ok(Err(e)) => format!("{e:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or("")
                        .into(),
                    Err(_) => "PANIC".to_string(),
                };
                println!(
                    "{name:<14} {call:<6} {shown:<14} {:>7.1}ms {:>7}",
                    took.as_secs_f64() * 1e3,
                    growth.map_or("?".to_string(), |g| format!("{:.1}MB", g as f64 / 1e6))
                );
                let mut problem = |p: String| problems.push(format!("{name} ({call}): {p}"));
                let outcome = match result {
                    Err(_) => {
                        problem("panicked".into());
                        continue;
                    }
                    Ok(r) => r,
                };
                let must_fail = match expect.must_fail.as_str() {
                    "yes" => Some(!(call == "probe" && expect.probe_ok)),
                    "no" => Some(false),
                    _ => None,
                };
                match (outcome, must_fail) {
                    (Ok(()), Some(true)) => problem("did not fail".into()),
                    (Err(e), Some(false)) => problem(format!("failed: {e}")),
                    (Err(e), Some(true)) => {
                        if let Err(p) = check_error(&e, &path, expect.kind.as_deref()) {
                            problem(p);
                        }
                    }
                    (Err(e), None) => {
                        if let Err(p) = check_error(&e, &path, None) {
                            problem(p);
                        }
                    }
                    (Ok(()), _) => {}
                }
                match growth {
                    Some(g) if g > MAX_PEAK_GROWTH => {
                        problem(format!("peak memory grew by {:.0} MB", g as f64 / 1e6))
                    }
                    None => memory_measured = false,
                    Some(_) => {}
                }
                if expect.kind.as_deref() == Some("TooLarge") && took > MAX_REFUSAL_TIME {
                    problem(format!("took {took:?} to refuse"));
                }
            }
        }
        if !memory_measured {
            println!("(peak memory not measured: /proc/self/clear_refs cannot be written)");
        }
        assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    }

    /// Without the header check, FFmpeg's stream analysis would decode the RLE bitmap bomb to
    /// learn its size (1.8 GB measured); under our `max_pixels` it refuses to, and the file
    /// fails cheaply.
    #[test]
    #[ignore = "run by corpus_in_a_memory_capped_child, under an address-space cap"]
    fn ffmpeg_alone_does_not_decode_the_bmp_bomb() {
        crate::media::init();
        let path = corpus().join("bomb.bmp");
        let (result, took, growth) =
            measure(|| open::open_with_ffmpeg(&path, DEFAULT_MAX_PIXELS).map(|o| o.info));
        let err = result.expect("no panic").expect_err("no size can be read");
        assert!(matches!(err, MediaError::Decode { .. }), "{err}");
        assert!(took < MAX_REFUSAL_TIME, "{took:?}");
        if let Some(g) = growth {
            assert!(g < MAX_PEAK_GROWTH, "peak memory grew by {g} bytes");
        }
    }
}

/// The stream changes from 320x180 to 1920x1080 (2073600 pixels) at frame 25.
fn stream_resize(max_pixels: u64) -> (Result<super::StreamSummary, MediaError>, Collect) {
    let opts = SamplingOptions {
        max_pixels,
        every_frame: true,
        ..SamplingOptions::default()
    };
    let mut sink = Collect::default();
    let result = stream(&corpus().join("resize.ts"), &opts, &mut sink);
    (result, sink)
}

#[test]
fn a_frame_over_the_limit_mid_stream_is_too_large() {
    // FFmpeg's slack lets the bigger frames out of the decoder; our exact check refuses the
    // first of them before it is converted.
    let (result, sink) = stream_resize(1_000_000);
    let err = result.expect_err("the 1080p part is over the limit");
    assert!(
        matches!(
            err,
            MediaError::TooLarge {
                width: 1920,
                height: 1080,
                max: 1_000_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(sink.samples.iter().all(|s| s.2 == (320, 180)));
}

#[test]
fn a_frame_far_over_the_limit_mid_stream_is_never_decoded() {
    // Beyond FFmpeg's slack the decoder itself refuses to allocate the bigger pictures: the
    // first part is scanned, the rest is lost with warnings naming the file.
    let (result, sink) = stream_resize(100_000);
    let summary = result.expect("the first part decodes");
    assert!(
        (1..=25).contains(&summary.frames_decoded),
        "{}",
        summary.frames_decoded
    );
    assert!(sink.samples.iter().all(|s| s.2 == (320, 180)));
    assert!(!summary.warnings.is_empty());
    let path = corpus().join("resize.ts").display().to_string();
    assert!(summary.warnings.iter().all(|w| w.starts_with(&path)));
}

#[test]
fn the_whole_stream_within_the_limit_decodes() {
    let (result, sink) = stream_resize(1920 * 1080);
    let summary = result.expect("both parts are within the limit");
    assert_eq!(summary.frames_decoded, 50);
    assert_eq!(sink.samples.last().map(|s| s.2), Some((1920, 1080)));
}
