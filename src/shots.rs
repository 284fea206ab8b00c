//! Shots and the hard-cut detector that finds them.
//!
//! Every decoded frame is reduced to a [`Thumbnail`] (64x36 luma, box-averaged), and the
//! [`CutDetector`] compares each thumbnail with the previous one. The measure is built to
//! ignore what is not a cut:
//!
//! * camera/film noise: box-averaging into 64x36 cells already divides pixel noise by the cell
//!   size;
//! * slow pans and zooms: the pixel difference is *motion tolerant*: each thumbnail pixel is
//!   compared with the best match among the previous thumbnail's 3x3 neighbourhood, so content
//!   that moved by up to one thumbnail pixel (1/64 of the width) per frame costs almost
//!   nothing;
//! * fast but continuous motion: a frame is a cut only if its score is also well above the
//!   recent scores of the same shot (adaptive part);
//! * darkness: between two dim frames the thumbnails are also compared with their levels
//!   stretched (see `Stretch`), so a cut between two night shots is not lost in their few
//!   levels.
//!
//! A hard cut changes the picture everywhere at once, so it scores high on both the
//! motion-tolerant difference and the luma histogram distance.

use crate::timecode::FrameIndex;
use serde::Serialize;
use std::collections::VecDeque;

/// A run of frames between two cuts: `[first, last]`, inclusive. A still is one shot of one
/// frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shot {
    /// Position in the file's list of shots, from 0.
    pub index: usize,
    /// First frame of the shot.
    pub first: FrameIndex,
    /// Last frame of the shot (inclusive).
    pub last: FrameIndex,
}

impl Shot {
    /// Number of frames in the shot.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Always false: a shot has at least one frame. (Pairs with `len` for clippy.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `frame` lies in this shot.
    pub fn contains(&self, frame: FrameIndex) -> bool {
        (self.first..=self.last).contains(&frame)
    }
}

/// Thumbnail width in pixels.
pub const THUMB_W: usize = 64;
/// Thumbnail height in pixels.
pub const THUMB_H: usize = 36;
const THUMB_LEN: usize = THUMB_W * THUMB_H;

/// A small 8-bit luma picture of one frame: all the cut detector looks at.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pixels: Box<[u8; THUMB_LEN]>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mean = self.pixels.iter().map(|&p| u32::from(p)).sum::<u32>() / THUMB_LEN as u32;
        write!(f, "Thumbnail({THUMB_W}x{THUMB_H}, mean {mean})")
    }
}

impl Thumbnail {
    /// Wraps `THUMB_W * THUMB_H` row-major luma values; None if the length is wrong.
    pub fn from_pixels(pixels: &[u8]) -> Option<Self> {
        let array: [u8; THUMB_LEN] = pixels.try_into().ok()?;
        Some(Self {
            pixels: Box::new(array),
        })
    }

    /// Box-averages an 8-bit gray buffer (`stride` bytes per row).
    pub fn from_gray(width: usize, height: usize, stride: usize, data: &[u8]) -> Self {
        let mut builder = ThumbnailBuilder::new(width, height);
        for y in builder.rows() {
            if let Some(line) = data.get(y * stride..y * stride + width) {
                builder.add_row(y, line);
            }
        }
        builder.finish()
    }

    /// The luma values, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels[..]
    }
}

/// Box-averages a picture into a [`Thumbnail`] row by row, so callers can feed rows straight
/// from a decoder's plane (or convert one row at a time) without copying the picture.
///
/// Only every few rows are read (see [`ThumbnailBuilder::rows`]): a 64x36 average of a large
/// frame needs far fewer samples than it has, and this runs on every decoded frame.
#[derive(Debug)]
pub struct ThumbnailBuilder {
    height: usize,
    /// Column ranges [start, end) of the thumbnail's columns.
    cols: Vec<(usize, usize)>,
    sums: [u32; THUMB_LEN],
    counts: [u32; THUMB_LEN],
}

impl ThumbnailBuilder {
    /// A builder for a `width` x `height` picture.
    pub fn new(width: usize, height: usize) -> Self {
        let cols = (0..THUMB_W)
            .map(|c| {
                let start = c * width / THUMB_W;
                // At least one column, so pictures narrower than 64 still fill every cell.
                let end = ((c + 1) * width / THUMB_W).max(start + 1).min(width);
                (start, end)
            })
            .collect();
        Self {
            height,
            cols,
            sums: [0; THUMB_LEN],
            counts: [0; THUMB_LEN],
        }
    }

    /// The rows worth feeding: all of them up to 360 lines, then every n-th so about 180-360
    /// rows are read (e.g. every 6th of 1080).
    pub fn rows(&self) -> std::iter::StepBy<std::ops::Range<usize>> {
        let step = (self.height / 180).max(1);
        (0..self.height).step_by(step)
    }

    /// Adds row `y`: `line` holds its 8-bit luma, `width` values (extra values are ignored).
    pub fn add_row(&mut self, y: usize, line: &[u8]) {
        if y >= self.height {
            return;
        }
        let base = (y * THUMB_H / self.height) * THUMB_W;
        for (c, &(start, end)) in self.cols.iter().enumerate() {
            if let Some(cell) = line.get(start..end) {
                // A plain sum over a contiguous slice: the compiler vectorises it.
                self.sums[base + c] += cell.iter().map(|&v| u32::from(v)).sum::<u32>();
                self.counts[base + c] += cell.len() as u32;
            }
        }
    }

    /// The averaged thumbnail.
    pub fn finish(self) -> Thumbnail {
        let mut pixels = Box::new([0u8; THUMB_LEN]);
        fill_averages(&mut pixels, &self.sums, &self.counts);
        Thumbnail { pixels }
    }
}

/// Turns per-cell sums into averages; a cell that got no sample (a picture smaller than the
/// thumbnail) copies its left or upper neighbour so it does not read as black.
fn fill_averages(out: &mut [u8; THUMB_LEN], sums: &[u32; THUMB_LEN], counts: &[u32; THUMB_LEN]) {
    for i in 0..THUMB_LEN {
        out[i] = if let Some(avg) = (sums[i] + counts[i] / 2).checked_div(counts[i]) {
            avg as u8
        } else if i % THUMB_W > 0 {
            out[i - 1]
        } else if i >= THUMB_W {
            out[i - THUMB_W]
        } else {
            0
        };
    }
}

/// How different two consecutive thumbnails are, each part in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDifference {
    /// Mean over pixels of the smallest absolute difference to the previous thumbnail's
    /// 3x3 neighbourhood, / 255. Near 0 for noise and slow motion.
    pub motion_tolerant: f32,
    /// Half the L1 distance of 32-bin luma histograms (share of pixels whose brightness
    /// class changed). Blind to motion, high when the picture's content changes.
    pub histogram: f32,
}

impl FrameDifference {
    /// Compares `cur` with `prev`.
    pub fn between(prev: &Thumbnail, cur: &Thumbnail) -> Self {
        Self::of_pixels(prev.pixels(), cur.pixels())
    }

    /// Compares two dim pictures with their levels stretched (see [`Stretch`]); None unless
    /// both are dim and textured.
    pub fn between_dim(prev: &Thumbnail, cur: &Thumbnail) -> Option<Self> {
        let (a, b) = (Stretch::of(prev)?, Stretch::of(cur)?);
        Some(Self::of_pixels(&a.apply(prev), &b.apply(cur)))
    }

    fn of_pixels(p: &[u8], c: &[u8]) -> Self {
        let mut total = 0u64;
        for y in 0..THUMB_H {
            let ys = y.saturating_sub(1)..=(y + 1).min(THUMB_H - 1);
            for x in 0..THUMB_W {
                let v = i16::from(c[y * THUMB_W + x]);
                let mut best = i16::MAX;
                for yy in ys.clone() {
                    let row = &p[yy * THUMB_W..(yy + 1) * THUMB_W];
                    for &q in &row[x.saturating_sub(1)..=(x + 1).min(THUMB_W - 1)] {
                        best = best.min((v - i16::from(q)).abs());
                    }
                }
                total += best as u64;
            }
        }
        let mut hp = [0i32; 32];
        let mut hc = [0i32; 32];
        for (&a, &b) in p.iter().zip(c) {
            hp[usize::from(a >> 3)] += 1;
            hc[usize::from(b >> 3)] += 1;
        }
        let moved: i32 = hp.iter().zip(&hc).map(|(a, b)| (a - b).abs()).sum();
        Self {
            motion_tolerant: total as f32 / (THUMB_LEN as f32 * 255.0),
            histogram: moved as f32 / (2.0 * THUMB_LEN as f32),
        }
    }

    /// The single score the detector thresholds: the motion-tolerant difference plus a
    /// quarter of the histogram distance. The histogram part is weighted down because noise
    /// alone moves it to 0.02-0.05 (its bins are narrow), while the motion-tolerant part
    /// stays below 0.005 on noise and slow motion.
    pub fn score(&self) -> f32 {
        self.motion_tolerant + 0.25 * self.histogram
    }
}

/// Two dim pictures are also compared as if lit: when both span fewer luma levels than
/// [`Stretch::DIM`] (2nd to 98th percentile; a night exterior spans 16-35 of the frame's
/// levels, a lit picture 100 and more), each has its levels set about its mean and stretched
/// to a spread of [`Stretch::NORMAL`] (at most [`Stretch::MAX_GAIN`] times), so a cut between
/// two dim shots scores like one between two lit ones. Without it, cuts between night shots
/// scored 0.06-0.07 (the threshold is 0.10) and two shots became one. Each picture is set by
/// its own mean and spread, so a fade (the same picture, darker or brighter) stays nearly
/// the same picture; pictures with next to no texture (black, a fade's first frames) are not
/// stretched, their differences being mostly coding noise and 8-bit steps.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    mean: f32,
    gain: f32,
}

impl Stretch {
    /// Pictures spanning fewer levels than this are dim.
    const DIM: u8 = 80;
    /// The spread dim pictures are stretched to.
    const NORMAL: f32 = 160.0;
    /// Pictures spanning fewer levels than this are not stretched.
    const MIN_TEXTURE: u8 = 12;
    /// The largest stretch: the spreads under 40 levels get it, and noise and 8-bit steps
    /// near black are not magnified further.
    const MAX_GAIN: f32 = 4.0;

    /// The stretch of `t` when it is dim and textured.
    fn of(t: &Thumbnail) -> Option<Self> {
        let (lo, hi) = levels(t);
        let spread = hi - lo;
        if !(Self::MIN_TEXTURE..Self::DIM).contains(&spread) {
            return None;
        }
        let px = t.pixels();
        let mean = px.iter().map(|&v| f32::from(v)).sum::<f32>() / px.len() as f32;
        Some(Self {
            mean,
            gain: (Self::NORMAL / f32::from(spread)).min(Self::MAX_GAIN),
        })
    }

    fn apply(&self, t: &Thumbnail) -> Vec<u8> {
        let lut: [u8; 256] = std::array::from_fn(|v| {
            (128.0 + (v as f32 - self.mean) * self.gain)
                .round()
                .clamp(0.0, 255.0) as u8
        });
        t.pixels().iter().map(|&v| lut[usize::from(v)]).collect()
    }
}

/// The 2nd and 98th percentiles of a thumbnail's luma.
fn levels(t: &Thumbnail) -> (u8, u8) {
    crate::media::spread_of(t.pixels().iter().copied()).unwrap_or((0, 0))
}

/// Default for [`CutDetector::new`]'s threshold (and `SamplingOptions::cut_threshold`).
///
/// Measured on the fixture clips and the tests here: hard cuts between unrelated pictures
/// score 0.13-0.45; noise, slow or 2%-per-frame pans and zooms stay below 0.03; violent
/// shake (random 6% jitter every frame) reaches 0.1, which the adaptive part then absorbs.
pub const DEFAULT_CUT_THRESHOLD: f32 = 0.10;

/// How many times the recent average score a frame must reach to count as a cut, so that a
/// shot full of fast motion needs a bigger jump than a calm one.
const ADAPTIVE_RATIO: f32 = 3.0;
/// How many recent scores form that average.
const HISTORY: usize = 8;

/// Finds hard cuts online: feed every frame's thumbnail in order; `push` says whether that
/// frame starts a new shot. Causal (no look-ahead), so the answer is known at the new shot's
/// first frame.
#[derive(Debug)]
pub struct CutDetector {
    threshold: f32,
    prev: Option<Thumbnail>,
    recent: VecDeque<f32>,
    /// The stretched scores of the current run of dim frames (see [`Stretch`]).
    recent_dim: VecDeque<f32>,
}

impl CutDetector {
    /// A detector that fires when a frame's [`FrameDifference::score`] reaches `threshold`
    /// (and is well above the shot's recent scores). Use [`DEFAULT_CUT_THRESHOLD`] unless
    /// tuning.
    pub fn new(threshold: f32) -> Self {
        Self {
            threshold,
            prev: None,
            recent: VecDeque::with_capacity(HISTORY),
            recent_dim: VecDeque::with_capacity(HISTORY),
        }
    }

    /// Takes the next frame's thumbnail; true when this frame is the first of a new shot.
    /// The first frame ever pushed starts shot 0 and returns false.
    pub fn push(&mut self, thumb: Thumbnail) -> bool {
        let Some(score) = self.raw_score(&thumb) else {
            self.prev = Some(thumb);
            return false;
        };
        let dim = self.dim_score(&thumb);
        self.prev = Some(thumb);
        // As ever on the frames as they are; between two dim frames, also on the stretched
        // ones against the stretched scores of the run.
        let cut = self.is_cut(score, &self.recent)
            || dim.is_some_and(|d| self.is_cut(d, &self.recent_dim));
        if cut {
            // The new shot's motion level is unknown: start its history afresh.
            self.recent.clear();
            self.recent_dim.clear();
        } else {
            remember(&mut self.recent, score);
            match dim {
                Some(d) => remember(&mut self.recent_dim, d),
                None => self.recent_dim.clear(),
            }
        }
        cut
    }

    /// A score reaching the threshold and well above the recent ones.
    fn is_cut(&self, score: f32, recent: &VecDeque<f32>) -> bool {
        let mean = if recent.is_empty() {
            0.0
        } else {
            recent.iter().sum::<f32>() / recent.len() as f32
        };
        score >= self.threshold && score >= ADAPTIVE_RATIO * mean
    }

    fn raw_score(&self, thumb: &Thumbnail) -> Option<f32> {
        let prev = self.prev.as_ref()?;
        Some(FrameDifference::between(prev, thumb).score())
    }

    fn dim_score(&self, thumb: &Thumbnail) -> Option<f32> {
        let prev = self.prev.as_ref()?;
        FrameDifference::between_dim(prev, thumb).map(|d| d.score())
    }

    /// The score `thumb` gets against the last frame pushed (None before the first): the
    /// larger of the plain and, between dim frames, the stretched one.
    pub fn score(&self, thumb: &Thumbnail) -> Option<f32> {
        let raw = self.raw_score(thumb)?;
        Some(self.dim_score(thumb).map_or(raw, |d| d.max(raw)))
    }

    /// Whether a gap of unseen frames ending at `thumb` may hold a cut: its score against
    /// the last frame pushed reaches half the threshold (a cut inside the gap changes the
    /// picture between its ends as much as at the cut itself: 0.13 and up).
    pub fn may_cut_before(&self, thumb: &Thumbnail) -> bool {
        self.score(thumb)
            .is_none_or(|s| s >= GAP_SUSPICION * self.threshold)
    }

    /// Takes the thumbnail of a frame `frames` after the last one pushed, the frames between
    /// unseen because [`CutDetector::may_cut_before`] said no cut lies there: never a cut.
    /// The shot's recent motion level is kept per frame (the score over the gap, divided).
    pub fn push_after_gap(&mut self, thumb: Thumbnail, frames: u64) {
        let per_frame = |s: f32| s / frames.max(1) as f32;
        if let Some(score) = self.raw_score(&thumb) {
            remember(&mut self.recent, per_frame(score));
        }
        match self.dim_score(&thumb) {
            Some(d) => remember(&mut self.recent_dim, per_frame(d)),
            None => self.recent_dim.clear(),
        }
        self.prev = Some(thumb);
    }
}

/// Appends `score` to a shot's recent scores, forgetting the oldest beyond [`HISTORY`].
fn remember(recent: &mut VecDeque<f32>, score: f32) {
    if recent.len() == HISTORY {
        recent.pop_front();
    }
    recent.push_back(score);
}

/// A gap between two frames scoring this share of the cut threshold or more may hold a cut
/// and is decoded in full; below it, slow motion and noise over a few frames.
const GAP_SUSPICION: f32 = 0.5;

/// Collects cut positions into a list of [`Shot`]s.
#[derive(Debug, Default)]
pub struct ShotList {
    shots: Vec<Shot>,
    current_first: FrameIndex,
    last_seen: Option<FrameIndex>,
}

impl ShotList {
    /// An empty list; frame 0 starts shot 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records frame `index` (frames must come in order); `starts_shot` is the detector's
    /// verdict. Returns the index of the shot the frame belongs to.
    pub fn push(&mut self, index: FrameIndex, starts_shot: bool) -> usize {
        if let Some(last) = self.last_seen {
            if starts_shot && index > self.current_first {
                self.shots.push(Shot {
                    index: self.shots.len(),
                    first: self.current_first,
                    last,
                });
                self.current_first = index;
            }
        } else {
            self.current_first = index;
        }
        self.last_seen = Some(index);
        self.shots.len()
    }

    /// The index the shot currently being built will get.
    pub fn current(&self) -> usize {
        self.shots.len()
    }

    /// Closes the last shot at the last frame pushed and returns all shots (empty if no
    /// frame was pushed).
    pub fn finish(mut self) -> Vec<Shot> {
        if let Some(last) = self.last_seen {
            self.shots.push(Shot {
                index: self.shots.len(),
                first: self.current_first,
                last,
            });
        }
        self.shots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic textured picture: smooth blobs plus fine detail, like a photo.
    fn texture(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let s = seed as f32;
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                let val = 128.0
                    + 60.0 * (fx * (7.0 + s) + fy * 3.0 + s).sin()
                    + 40.0 * (fy * (11.0 + s * 0.5) - fx * 2.0).cos()
                    + 20.0 * ((x as f32) * 0.9 + (y as f32) * 0.4 + s).sin();
                v.push(val.clamp(0.0, 255.0) as u8);
            }
        }
        v
    }

    /// A `w` x `h` view of `src` (sw x sh) scaled by `zoom` around its centre, shifted by
    /// (dx, dy) source pixels: a virtual camera moving over a still photo.
    fn camera(src: &[u8], sw: usize, sh: usize, w: usize, h: usize, zoom: f32, dx: f32) -> Vec<u8> {
        let mut out = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let sx = (sw as f32 / 2.0 + dx + (x as f32 - w as f32 / 2.0) / zoom) as usize;
                let sy = (sh as f32 / 2.0 + (y as f32 - h as f32 / 2.0) / zoom) as usize;
                out.push(src[sy.min(sh - 1) * sw + sx.min(sw - 1)]);
            }
        }
        out
    }

    fn thumb(w: usize, h: usize, data: &[u8]) -> Thumbnail {
        Thumbnail::from_gray(w, h, w, data)
    }

    /// Cheap deterministic noise in [-amp, amp].
    fn noisy(data: &[u8], amp: i32, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        data.iter()
            .map(|&v| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let n = (state % (2 * amp as u32 + 1)) as i32 - amp;
                (i32::from(v) + n).clamp(0, 255) as u8
            })
            .collect()
    }

    #[test]
    fn box_average_of_flat_picture_is_flat() {
        let t = thumb(320, 180, &vec![77u8; 320 * 180]);
        assert!(t.pixels().iter().all(|&p| p == 77));
        // Smaller than the thumbnail: every cell still gets a value.
        let t = thumb(10, 5, &[200u8; 50]);
        assert!(t.pixels().iter().all(|&p| p == 200));
    }

    #[test]
    fn hard_cut_is_found_at_its_first_frame() {
        let (w, h) = (320, 180);
        let a = texture(w, h, 1);
        let b = texture(w, h, 5);
        let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
        let mut cuts = vec![];
        for i in 0..20u32 {
            let src = if i < 12 { &a } else { &b };
            if det.push(thumb(w, h, &noisy(src, 6, i))) {
                cuts.push(i);
            }
        }
        assert_eq!(cuts, vec![12]);
    }

    #[test]
    fn cut_between_pictures_of_equal_brightness_is_found() {
        // Same histogram, different layout: only the spatial part can see it.
        let (w, h) = (320, 180);
        let a = texture(w, h, 2);
        let b: Vec<u8> = a.chunks(w).rev().flatten().copied().collect();
        let d = FrameDifference::between(&thumb(w, h, &a), &thumb(w, h, &b));
        assert!(d.histogram < 0.01, "{d:?}");
        assert!(d.score() >= DEFAULT_CUT_THRESHOLD, "{d:?}");
    }

    #[test]
    fn slow_zoom_and_pan_over_a_still_is_one_shot() {
        let (sw, sh) = (960, 540);
        let photo = texture(sw, sh, 3);
        let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
        let mut max_score = 0f32;
        let mut prev: Option<Thumbnail> = None;
        for i in 0..100 {
            let zoom = 1.0 + 0.004 * i as f32;
            let frame = camera(&photo, sw, sh, 320, 180, zoom, i as f32 * 0.8);
            let t = thumb(320, 180, &frame);
            if let Some(p) = &prev {
                max_score = max_score.max(FrameDifference::between(p, &t).score());
            }
            prev = Some(t.clone());
            assert!(!det.push(t), "false cut at frame {i}");
        }
        assert!(
            max_score < DEFAULT_CUT_THRESHOLD / 2.0,
            "max score {max_score}"
        );
    }

    #[test]
    fn heavy_noise_is_not_a_cut() {
        let (w, h) = (320, 180);
        let a = texture(w, h, 4);
        let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
        for i in 0..50 {
            assert!(
                !det.push(thumb(w, h, &noisy(&a, 40, i))),
                "false cut at {i}"
            );
        }
    }

    /// A dim, noisy view of `src`: a night shot's levels (18 + 0.12 v: a thumbnail spread
    /// of about 25, as in the evaluation's dark shots) and noise.
    fn dim(src: &[u8], seed: u32) -> Vec<u8> {
        let dark: Vec<u8> = src
            .iter()
            .map(|&v| (18.0 + 0.12 * f32::from(v)) as u8)
            .collect();
        noisy(&dark, 9, seed)
    }

    #[test]
    fn a_cut_between_two_dim_shots_is_found() {
        let (sw, sh) = (960, 540);
        let (a, b) = (texture(sw, sh, 6), texture(sw, sh, 9));
        let view = |src: &[u8], i: u32| {
            let frame = camera(src, sw, sh, 320, 180, 1.0, i as f32 * 0.7);
            thumb(320, 180, &dim(&frame, i))
        };
        let (before, after) = (view(&a, 19), view(&b, 20));
        let (lo, hi) = levels(&after);
        assert!(hi - lo < 40, "a dim picture: {lo}-{hi}");
        // As they are, the two shots differ by less than the threshold; stretched, more.
        let plain = FrameDifference::between(&before, &after).score();
        assert!(plain < DEFAULT_CUT_THRESHOLD, "{plain}");
        let stretched = FrameDifference::between_dim(&before, &after).map(|d| d.score());
        assert!(stretched >= Some(DEFAULT_CUT_THRESHOLD), "{stretched:?}");
        let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
        let cuts: Vec<u32> = (0..40u32)
            .filter(|&i| det.push(view(if i < 20 { &a } else { &b }, i)))
            .collect();
        assert_eq!(cuts, vec![20]);
    }

    #[test]
    fn a_fade_to_black_and_back_is_not_a_string_of_cuts() {
        let (sw, sh) = (960, 540);
        let (a, b) = (texture(sw, sh, 7), texture(sw, sh, 8));
        let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
        let mut cuts = vec![];
        // 24 frames of a, a fade to black over 24, 12 black, a fade up to b over 24, 24 of b.
        for i in 0..108u32 {
            let (src, level) = match i {
                0..24 => (&a, 1.0),
                24..48 => (&a, 1.0 - (i - 23) as f32 / 24.0),
                48..60 => (&a, 0.0),
                60..84 => (&b, (i - 59) as f32 / 24.0),
                _ => (&b, 1.0),
            };
            let frame = camera(src, sw, sh, 320, 180, 1.0, i as f32 * 0.5);
            let faded: Vec<u8> = frame
                .iter()
                .map(|&v| (f32::from(v) * level) as u8)
                .collect();
            let tt = thumb(320, 180, &noisy(&faded, 2, i));
            if det.push(tt) {
                cuts.push(i);
            }
        }
        // At most the fade up out of black may start a shot; nothing inside the fades.
        assert!(cuts.iter().all(|&c| (60..63).contains(&c)), "{cuts:?}");
    }

    #[test]
    fn shot_list_closes_shots_at_cuts() {
        let mut list = ShotList::new();
        let cuts = [3u64, 4, 9];
        for i in 0..12u64 {
            let shot = list.push(i, cuts.contains(&i));
            assert_eq!(shot, cuts.iter().filter(|&&c| c <= i).count());
        }
        let shots = list.finish();
        let spans: Vec<(u64, u64)> = shots.iter().map(|s| (s.first, s.last)).collect();
        assert_eq!(spans, vec![(0, 2), (3, 3), (4, 8), (9, 11)]);
        assert!(shots.iter().enumerate().all(|(i, s)| s.index == i));
        assert_eq!(shots[2].len(), 5);
        assert!(shots[2].contains(8) && !shots[2].contains(9));
        assert!(ShotList::new().finish().is_empty());
    }
}
