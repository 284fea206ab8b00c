//! Time and peak memory of grouping unknown face tracks (`scan --unknown`) on synthetic
//! dlib-like embeddings: `cargo run --release --example cluster_scale -- 100000`.
//! One size per run, so the peak resident memory (VmHWM) is that size's alone.

use clearshot::face::cluster::{cluster, synthetic_tracks, ClusterParams, Span, TrackPoint};
use clearshot::models::Metric;

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    // A person every 10 tracks on average, 4 faces a track (what a scan keeps).
    let data = synthetic_tracks(n, (n / 10).max(1), 4, 42);
    let before = peak_rss_mb().unwrap_or(0.0);
    let points: Vec<TrackPoint> = data
        .iter()
        .enumerate()
        .map(|(i, (_, faces))| TrackPoint {
            embeddings: faces,
            span: Span {
                file: i / 50,
                shot: i % 50,
                first: 0,
                last: 24,
            },
            dim: false,
        })
        .collect();
    let t = std::time::Instant::now();
    let c = cluster(&points, Metric::Euclidean, &ClusterParams::default());
    let secs = t.elapsed().as_secs_f64();
    let false_merges = c
        .groups
        .iter()
        .filter(|g| g.iter().any(|&i| data[i].0 != data[g[0]].0))
        .count();
    println!(
        "{n} tracks: {secs:.2} s, peak RSS {:.0} MB ({before:.0} MB before clustering), {} groups, {} candidate pairs, {false_merges} false merges, {} threads",
        peak_rss_mb().unwrap_or(0.0),
        c.groups.len(),
        c.candidates,
        rayon::current_num_threads()
    );
}
