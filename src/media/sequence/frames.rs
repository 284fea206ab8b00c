//! Reading a sequence's frames: a few files at a time in parallel, fitting a frame of another
//! size into the clip's, and the warning lines (capped per kind).

use super::ImageSequence;
use crate::media::{load_still_limited, MediaError};
use image::RgbImage;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Loads `paths` with up to `workers` threads, refusing pictures over `max_pixels`;
/// results in the order of `paths`.
pub(super) fn load_all(
    paths: &[&Path],
    workers: usize,
    max_pixels: u64,
) -> Vec<Result<RgbImage, MediaError>> {
    if workers <= 1 || paths.len() <= 1 {
        return paths
            .iter()
            .map(|p| load_still_limited(p, max_pixels))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<RgbImage, MediaError>>> =
        std::iter::repeat_with(|| None).take(paths.len()).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers.min(paths.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return got;
                        };
                        got.push((i, load_still_limited(path, max_pixels)));
                    }
                })
            })
            .collect();
        for handle in handles {
            // A panicking decoder leaves its slots empty: those frames fail below.
            for (i, loaded) in handle.join().unwrap_or_default() {
                slots[i] = Some(loaded);
            }
        }
    });
    slots
        .into_iter()
        .zip(paths)
        .map(|(slot, path)| {
            slot.unwrap_or_else(|| {
                Err(MediaError::Decode {
                    path: path.to_path_buf(),
                    cause: "the decoder crashed on this file".into(),
                })
            })
        })
        .collect()
}

/// `image` scaled to fit inside `size`, keeping its aspect ratio, centred on black.
pub(super) fn fit(image: &RgbImage, size: (u32, u32)) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut canvas = RgbImage::new(size.0, size.1);
    if w == 0 || h == 0 || size.0 == 0 || size.1 == 0 {
        return canvas;
    }
    let scale = (f64::from(size.0) / f64::from(w)).min(f64::from(size.1) / f64::from(h));
    let fw = ((f64::from(w) * scale).round() as u32).clamp(1, size.0);
    let fh = ((f64::from(h) * scale).round() as u32).clamp(1, size.1);
    let scaled = image::imageops::resize(image, fw, fh, image::imageops::FilterType::Triangle);
    let (x, y) = ((size.0 - fw) / 2, (size.1 - fh) / 2);
    image::imageops::replace(&mut canvas, &scaled, i64::from(x), i64::from(y));
    canvas
}

/// Warning lines for one sequence, at most [`MAX_WARNINGS`](super::MAX_WARNINGS) of each kind.
pub(super) struct Warnings {
    /// Names the clip in every line: its folder, pattern and range.
    pub label: String,
    lines: Vec<String>,
    /// Lines left out, per kind: gaps, unreadable frames, resized frames.
    left_out: [u64; 3],
    shown: [usize; 3],
}

const GAP: usize = 0;
const UNREADABLE: usize = 1;
const RESIZED: usize = 2;

impl Warnings {
    pub fn new(seq: &ImageSequence) -> Self {
        Self {
            label: seq.dir.join(seq.display_name()).display().to_string(),
            lines: Vec::new(),
            left_out: [0; 3],
            shown: [0; 3],
        }
    }

    fn push(&mut self, kind: usize, line: impl FnOnce() -> String) {
        if self.shown[kind] < super::MAX_WARNINGS {
            self.shown[kind] += 1;
            self.lines.push(line());
        } else {
            self.left_out[kind] += 1;
        }
    }

    pub fn gap(&mut self, seq: &ImageSequence, (a, b): (u64, u64)) {
        let label = &self.label;
        let line = if a == b {
            format!("{label}: frame {} missing", seq.format_number(a))
        } else {
            let (a, b) = (seq.format_number(a), seq.format_number(b));
            format!("{label}: frames {a}-{b} missing")
        };
        self.push(GAP, || line);
    }

    pub fn unreadable(&mut self, seq: &ImageSequence, number: u64, e: &MediaError) {
        let line = format!(
            "{}: frame {} skipped: {e}",
            self.label,
            seq.format_number(number)
        );
        self.push(UNREADABLE, || line);
    }

    pub fn resized(
        &mut self,
        seq: &ImageSequence,
        number: u64,
        path: &Path,
        (w, h): (u32, u32),
        (fw, fh): (u32, u32),
    ) {
        let line = format!(
            "{}: frame {} ({}) is {w}x{h}, not {fw}x{fh} like the first frame; scaled to fit",
            self.label,
            seq.format_number(number),
            path.display()
        );
        self.push(RESIZED, || line);
    }

    /// All lines, then one line per kind that was cut short.
    pub fn finish(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        let what = [
            "more gaps",
            "more frames that cannot be read",
            "more frames of another size",
        ];
        for (n, what) in self.left_out.iter().zip(what) {
            if *n > 0 {
                lines.push(format!("{}: {n} {what}", self.label));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_aspect_ratio() {
        let white = RgbImage::from_pixel(100, 100, image::Rgb([255, 255, 255]));
        let out = fit(&white, (320, 180));
        assert_eq!(out.dimensions(), (320, 180));
        // 180x180 in the middle: black bars of 70 columns each side.
        assert_eq!(out.get_pixel(69, 90), &image::Rgb([0, 0, 0]));
        assert_eq!(out.get_pixel(70, 90), &image::Rgb([255, 255, 255]));
        assert_eq!(out.get_pixel(249, 90), &image::Rgb([255, 255, 255]));
        assert_eq!(out.get_pixel(250, 90), &image::Rgb([0, 0, 0]));
        assert_eq!(fit(&RgbImage::new(0, 0), (4, 4)).dimensions(), (4, 4));
    }
}
