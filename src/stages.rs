//! Where a scan's time goes: process-wide counters of CPU time and calls per pipeline stage,
//! read by `examples/stage_times.rs` for the per-stage table of `benches/scan_vs_ffmpeg.sh`.
//!
//! A span counts the CPU time of the thread that runs it (not wall time: with more threads
//! than cores, wall time would count the waits too). It costs two clock reads and two relaxed
//! atomic adds, so the counters are always on: no build or flag measures something other than
//! what users run. Work a stage hands to other threads (FFmpeg's frame threads) is not in its
//! span; the example prints it as the rest of the process's CPU time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// CPU time used by the calling thread so far.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// A stage of the scan pipeline, in data-flow order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Demuxing and decoding packets into frames (the decoder thread).
    Decode,
    /// Shot-cut thumbnails and frame differences (every frame).
    Cuts,
    /// Conversion of sampled frames to RGB.
    Convert,
    /// Building the detector's model inputs (resizing regions of the frame).
    DetectInput,
    /// The face detector model runs.
    DetectModel,
    /// The second detector on dim frames (the MTCNN cascade: pyramid, crops and its models).
    DimDetect,
    /// The small-faces pass's proposer: the cascade on a lit frame, for faces the tiles miss
    /// (the close looks at what it finds count as the detector's).
    SmallFaces,
    /// Cutting aligned face chips.
    Align,
    /// The face embedder model runs.
    Embed,
    /// Evidence images (frame thumbnail and crop, JPEG).
    Evidence,
    /// Reference checks: the gate (what changed since the shot's last search).
    RefGate,
    /// Reference keypoints: the grayscale frame, ORB detection on the whole frame and in
    /// proposal regions.
    RefKeypoints,
    /// Learned reference proposals: the embedder's feature map and the pooled windows.
    RefProposals,
    /// Reference verification: descriptor matching and the RANSAC models.
    RefVerify,
}

impl Stage {
    /// Every stage, in data-flow order.
    pub const ALL: [Stage; 14] = [
        Stage::Decode,
        Stage::Cuts,
        Stage::Convert,
        Stage::DetectInput,
        Stage::DetectModel,
        Stage::DimDetect,
        Stage::SmallFaces,
        Stage::Align,
        Stage::Embed,
        Stage::Evidence,
        Stage::RefGate,
        Stage::RefKeypoints,
        Stage::RefProposals,
        Stage::RefVerify,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Cuts => "shot cuts",
            Stage::Convert => "RGB conversion",
            Stage::DetectInput => "detector input",
            Stage::DetectModel => "detector model",
            Stage::DimDetect => "dim detector",
            Stage::SmallFaces => "small faces",
            Stage::Align => "face alignment",
            Stage::Embed => "face embedding",
            Stage::Evidence => "evidence images",
            Stage::RefGate => "ref gate",
            Stage::RefKeypoints => "ref keypoints",
            Stage::RefProposals => "ref proposals",
            Stage::RefVerify => "ref verification",
        }
    }
}

const N: usize = Stage::ALL.len();
static NANOS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
static CALLS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];

/// Adds `elapsed` to a stage's time.
pub fn add(stage: Stage, elapsed: Duration) {
    NANOS[stage as usize].fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    CALLS[stage as usize].fetch_add(1, Ordering::Relaxed);
}

/// Runs `f`, counting the CPU time it takes on this thread to `stage`.
pub fn time<T>(stage: Stage, f: impl FnOnce() -> T) -> T {
    let t = thread_cpu();
    let out = f();
    add(stage, thread_cpu().saturating_sub(t));
    out
}

/// One stage's totals since the start (or the last [`reset`]).
#[derive(Debug, Clone, Copy)]
pub struct StageTotal {
    /// The stage.
    pub stage: Stage,
    /// CPU time summed over every thread.
    pub time: Duration,
    /// Spans counted.
    pub calls: u64,
}

/// Every stage's totals.
pub fn snapshot() -> Vec<StageTotal> {
    Stage::ALL
        .iter()
        .map(|&stage| StageTotal {
            stage,
            time: Duration::from_nanos(NANOS[stage as usize].load(Ordering::Relaxed)),
            calls: CALLS[stage as usize].load(Ordering::Relaxed),
        })
        .collect()
}

/// Sets every counter back to zero.
pub fn reset() {
    for i in 0..N {
        NANOS[i].store(0, Ordering::Relaxed);
        CALLS[i].store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_add_up_per_stage() {
        // Other tests may run scans in parallel: compare before and after, not absolutes.
        let before = snapshot()[Stage::Evidence as usize];
        add(Stage::Evidence, Duration::from_millis(5));
        let v = time(Stage::Evidence, || 7);
        assert_eq!(v, 7);
        let after = snapshot()[Stage::Evidence as usize];
        assert!(after.calls >= before.calls + 2);
        assert!(after.time >= before.time + Duration::from_millis(5));
    }
}
