//! Decode stage alone: `media::stream` with default sampling on a clip, against
//! `ffmpeg -i CLIP -f null -` on the same file in the same run, reported as a ratio, with
//! this process's peak memory (which must not grow with the clip's length).
//!
//! `cargo bench --bench decode_vs_ffmpeg -- [CLIP]` (default: the 20 s 1080p bench clip from
//! `scripts/make_fixtures.sh --bench`).

use clearshot::media::{self, FrameSink, SampledFrame, SamplingOptions};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

struct Count(u64);
impl FrameSink for Count {
    fn sample(&mut self, _f: SampledFrame) -> ControlFlow<()> {
        self.0 += 1;
        ControlFlow::Continue(())
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let clip = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fixtures/generated/bench/h264_1080p_20s.mp4"));
    if !clip.is_file() {
        let st = std::process::Command::new("bash")
            .arg(root.join("scripts/make_fixtures.sh"))
            .arg("--bench")
            .status();
        assert!(st.is_ok_and(|s| s.success()), "cannot make the bench clip");
    }
    media::init();
    let ffmpeg = || {
        let t = Instant::now();
        let st = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&clip)
            .args(["-f", "null", "-"])
            .status();
        assert!(st.is_ok_and(|s| s.success()), "ffmpeg failed");
        t.elapsed().as_secs_f64()
    };
    let f1 = ffmpeg();
    let t = Instant::now();
    let mut sink = Count(0);
    let summary = media::stream(&clip, &SamplingOptions::default(), &mut sink).expect("decode");
    let ours = t.elapsed().as_secs_f64();
    let f2 = ffmpeg();
    let base = (f1 + f2) / 2.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "{}: {} frames, {} sampled, {} shots\nffmpeg -f null (mean of 2): {base:.2} s\nclearshot decode+shots+sampling: {ours:.2} s\nratio: {:.2}\npeak memory {}",
        clip.display(),
        summary.frames_decoded,
        sink.0,
        summary.shots.len(),
        ours / base,
        hwm.trim_start_matches("VmHWM:").trim()
    );
}
