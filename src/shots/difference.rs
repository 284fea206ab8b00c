//! How different two consecutive thumbnails are: the cut detector's measure.

use super::thumbnail::{Thumbnail, THUMB_H, THUMB_LEN, THUMB_W};

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

    /// Compares two dim pictures with their levels stretched (see `Stretch`); None unless
    /// both are dim and textured.
    pub fn between_dim(prev: &Thumbnail, cur: &Thumbnail) -> Option<Self> {
        let (a, b) = (Stretch::of(prev)?, Stretch::of(cur)?);
        Some(Self::between_stretched(prev, &a, cur, &b))
    }

    /// Compares `prev` stretched by `a` with `cur` stretched by `b`.
    pub(super) fn between_stretched(
        prev: &Thumbnail,
        a: &Stretch,
        cur: &Thumbnail,
        b: &Stretch,
    ) -> Self {
        Self::of_pixels(&a.apply(prev), &b.apply(cur))
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
pub(super) struct Stretch {
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
    pub(super) fn of(t: &Thumbnail) -> Option<Self> {
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
pub(super) fn levels(t: &Thumbnail) -> (u8, u8) {
    crate::media::spread_of(t.pixels().iter().copied()).unwrap_or((0, 0))
}
