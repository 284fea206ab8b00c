//! Test helper: the files `scripts/make_fixtures.sh` builds, built on first use.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The folder of generated format fixtures, after making sure they exist.
pub(crate) fn dir() -> PathBuf {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("fixtures/generated/formats");
        // Always run it: it only builds what is missing or stale, in milliseconds otherwise.
        let script = root.join("scripts/make_fixtures.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed (needs the ffmpeg CLI): {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir)
    });
    match ready {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("fixtures unavailable: {e}"),
    }
}

/// Path of one fixture file.
pub(crate) fn path(name: &str) -> PathBuf {
    dir().join(name)
}

/// The expectations for `name` from expected.json.
pub(crate) fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path("expected.json")).expect("expected.json readable");
    let all: serde_json::Value = serde_json::from_str(&text).expect("expected.json is JSON");
    all.get(name)
        .cloned()
        .unwrap_or_else(|| panic!("expected.json has no entry for {name}"))
}

/// Expected shots of `name` as (first, last) pairs.
pub(crate) fn expected_shots(name: &str) -> Vec<(u64, u64)> {
    expected(name)["shots"]
        .as_array()
        .expect("shots array")
        .iter()
        .map(|s| (s[0].as_u64().expect("first"), s[1].as_u64().expect("last")))
        .collect()
}

/// A sink that keeps (index, shot, size) of every sample, and optionally the pictures.
#[derive(Default)]
pub(crate) struct Collect {
    pub samples: Vec<(u64, usize, (u32, u32))>,
    pub images: Vec<image::RgbImage>,
    pub keep_images: bool,
    pub progress_calls: u64,
    /// Stop after this many samples.
    pub stop_after: Option<usize>,
}

impl Collect {
    /// The indices of the samples of shot `shot`, in order.
    pub fn samples_of(&self, shot: usize) -> Vec<u64> {
        self.samples
            .iter()
            .filter(|s| s.1 == shot)
            .map(|s| s.0)
            .collect()
    }
}

impl super::FrameSink for Collect {
    fn sample(&mut self, frame: super::SampledFrame) -> std::ops::ControlFlow<()> {
        self.samples
            .push((frame.index, frame.shot, frame.image.dimensions()));
        if self.keep_images {
            self.images.push(frame.image);
        }
        match self.stop_after {
            Some(n) if self.samples.len() >= n => std::ops::ControlFlow::Break(()),
            _ => std::ops::ControlFlow::Continue(()),
        }
    }

    fn progress(&mut self, _decoded: u64) {
        self.progress_calls += 1;
    }
}

/// Mean absolute difference per channel value of two equally sized pictures.
pub(crate) fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}
