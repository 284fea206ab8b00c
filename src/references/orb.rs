//! ORB-style local features: FAST-9 corners on an image pyramid, ranked by the Harris response,
//! oriented by the intensity centroid, described by 256 steered BRIEF tests.
//!
//! Hand-written: no maintained pure-Rust crate offers oriented FAST + rotated BRIEF
//! (`imageproc` has FAST and unsteered BRIEF only), and the `opencv` crate costs a system
//! OpenCV plus minutes of binding generation per clean build (measured, see `mod.rs`).
//! The sampling pattern is not OpenCV's learned table but a fixed seeded Gaussian one (the
//! original BRIEF "G II" pattern), so descriptors are only comparable with this code.

use super::gray::Gray;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Border (pixels) kept free at every level: the orientation disc has radius 15.
const BORDER: usize = 16;
/// Radius of the orientation disc.
const ORIENT_RADIUS: i32 = 15;
/// Largest radius of a BRIEF test point (rotated points stay inside the border).
const PATTERN_RADIUS: f32 = 13.0;

/// One keypoint, in pixel coordinates of the image given to [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Pyramid level it was found at.
    pub level: u8,
    /// Scale of the level it was found at (1 at level 0), in pixels of the image given to
    /// [`detect`]: the descriptor covers a disc of about 13 x `size` pixels.
    pub size: f32,
    /// Orientation in radians.
    pub angle: f32,
    /// Harris response (larger is stronger).
    pub response: f32,
}

/// A 256-bit binary descriptor.
pub type Descriptor = [u64; 4];

/// Keypoints and their descriptors (same length).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Keypoints.
    pub keypoints: Vec<Keypoint>,
    /// Descriptors, one per keypoint.
    pub descriptors: Vec<Descriptor>,
}

impl Features {
    /// Number of features.
    pub fn len(&self) -> usize {
        self.keypoints.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.keypoints.is_empty()
    }
}

/// Detection parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrbParams {
    /// Total number of features over all levels.
    pub max_features: usize,
    /// Scale step between pyramid levels.
    pub scale_factor: f32,
    /// Maximum pyramid levels.
    pub max_levels: usize,
    /// Stop adding levels when the short side would fall below this.
    pub min_level_side: usize,
    /// FAST intensity threshold.
    pub fast_threshold: u8,
}

impl Default for OrbParams {
    fn default() -> Self {
        Self {
            max_features: 3000,
            scale_factor: 1.25,
            max_levels: 8,
            min_level_side: 48,
            fast_threshold: 16,
        }
    }
}

/// Hamming distance of two descriptors.
#[inline(always)]
pub fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Detects and describes features. `mask` (same size as `img`, optional) keeps only keypoints
/// whose level-0 position has mask value >= 128; `keep` is the rectangle (x0, y0, x1, y1) of
/// `img` where keypoint centres may lie (the rest is padding that descriptors may sample).
pub fn detect(img: &Gray, mask: Option<&Gray>, keep: Option<[f32; 4]>, p: &OrbParams) -> Features {
    let mut levels: Vec<(Gray, f32)> = vec![(img.clone(), 1.0)];
    while levels.len() < p.max_levels {
        let s = p.scale_factor.powi(levels.len() as i32);
        let (w, h) = (
            (img.w as f32 / s).round() as usize,
            (img.h as f32 / s).round() as usize,
        );
        if w.min(h) < p.min_level_side.max(2 * BORDER + 8) {
            break;
        }
        levels.push((img.resize(w, h), s));
    }
    let areas: Vec<f32> = levels
        .iter()
        .map(|(g, _)| (g.w.saturating_sub(2 * BORDER) * g.h.saturating_sub(2 * BORDER)) as f32)
        .collect();
    let total: f32 = areas.iter().sum::<f32>().max(1.0);
    let mut out = Features::default();
    for (li, (g, s)) in levels.iter().enumerate() {
        let share = areas[li] / total;
        let budget = ((p.max_features as f32 * share).ceil() as usize).max(8);
        let allowed = |x: usize, y: usize| {
            let (bx, by) = (x as f32 * s, y as f32 * s);
            if let Some([x0, y0, x1, y1]) = keep {
                if bx < x0 || by < y0 || bx >= x1 || by >= y1 {
                    return false;
                }
            }
            match mask {
                Some(m) => {
                    let (mx, my) = ((bx as usize).min(m.w - 1), (by as usize).min(m.h - 1));
                    m.at(mx, my) >= 128
                }
                None => true,
            }
        };
        let corners = fast_corners(g, p.fast_threshold, budget, &allowed);
        if corners.is_empty() {
            continue;
        }
        let smooth = g.blur();
        for (x, y, response) in corners {
            let angle = orientation(g, x, y);
            out.descriptors.push(describe(&smooth, x, y, angle));
            out.keypoints.push(Keypoint {
                x: x as f32 * s,
                y: y as f32 * s,
                level: li as u8,
                size: *s,
                angle,
                response,
            });
        }
    }
    out
}

/// Offsets of the 16-pixel Bresenham circle of radius 3, clockwise from the top.
const CIRCLE: [(i32, i32); 16] = [
    (0, -3),
    (1, -3),
    (2, -2),
    (3, -1),
    (3, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 3),
    (-1, 3),
    (-2, 2),
    (-3, 1),
    (-3, 0),
    (-3, -1),
    (-2, -2),
    (-1, -3),
];

/// True when the 16-bit circular mask has 9 consecutive set bits.
#[inline]
fn has_arc9(m: u32) -> bool {
    let d = m | (m << 16);
    let mut a = d;
    for i in 1..9 {
        a &= d >> i;
    }
    a != 0
}

/// FAST-9 corners ([`fast_scores`]) with 3x3 non-maximum suppression, ranked by Harris
/// response and spread over a grid so that a small textured object is not starved by a busy
/// background. Returns at most `budget` (x, y, harris).
fn fast_corners(
    g: &Gray,
    t: u8,
    budget: usize,
    allowed: &dyn Fn(usize, usize) -> bool,
) -> Vec<(usize, usize, f32)> {
    let (w, h) = (g.w, g.h);
    if w <= 2 * BORDER || h <= 2 * BORDER {
        return Vec::new();
    }
    let (score, found) = fast_scores(g, t);
    let mut cands = Vec::new();
    for &i in &found {
        let (x, y) = (i % w, i / w);
        let s = score[i];
        // Strict on one side so that plateaus keep exactly one point.
        let nms = score[i - w - 1] < s
            && score[i - w] < s
            && score[i - w + 1] < s
            && score[i - 1] < s
            && score[i + 1] <= s
            && score[i + w - 1] <= s
            && score[i + w] <= s
            && score[i + w + 1] <= s;
        if nms && allowed(x, y) {
            cands.push((x, y, harris(g, x, y)));
        }
    }
    cands.sort_by(|a, b| b.2.total_cmp(&a.2));
    const CELL: usize = 48;
    let (cw, ch) = (w.div_ceil(CELL), h.div_ceil(CELL));
    let cap = (2 * budget).div_ceil(cw * ch).max(3);
    let mut per_cell = vec![0usize; cw * ch];
    let mut out = Vec::with_capacity(budget.min(cands.len()));
    let mut rest = Vec::new();
    for c in cands {
        let cell = (c.1 / CELL) * cw + c.0 / CELL;
        if per_cell[cell] < cap && out.len() < budget {
            per_cell[cell] += 1;
            out.push(c);
        } else {
            rest.push(c);
        }
    }
    for c in rest {
        if out.len() >= budget {
            break;
        }
        out.push(c);
    }
    out
}

/// The FAST-9 score of every pixel inside the border (0 where it is no corner: the larger
/// of the summed excess of a bright and of a dark arc of 9 contiguous circle pixels beyond
/// `t`), and the indices of the non-zero ones in raster order.
///
/// Row by row: a branch-free test of the 4 compass pixels over the whole row first (9
/// contiguous of 16 always include 2 of them; the loop vectorises), packed into 64-pixel
/// words whose set bits alone get the full circle, so no pixel costs a branch of its own.
fn fast_scores(g: &Gray, t: u8) -> (Vec<u16>, Vec<usize>) {
    let (w, h) = (g.w, g.h);
    let mut score = vec![0u16; w * h];
    let mut found = Vec::new();
    if w <= 2 * BORDER || h <= 2 * BORDER {
        return (score, found);
    }
    let offs: [isize; 16] = CIRCLE.map(|(dx, dy)| dy as isize * w as isize + dx as isize);
    let n = w - 2 * BORDER;
    let mut pass = vec![0u8; n];
    let mut words = vec![0u64; n.div_ceil(64)];
    for y in BORDER..h - BORDER {
        let at = |dy: isize, dx: isize| {
            let start = ((y as isize + dy) * w as isize + BORDER as isize + dx) as usize;
            &g.px[start..start + n]
        };
        let (row, up, down, right, left) = (at(0, 0), at(-3, 0), at(3, 0), at(0, 3), at(0, -3));
        for (i, p) in pass.iter_mut().enumerate() {
            let c = row[i];
            let (hi, lo) = (c.saturating_add(t), c.saturating_sub(t));
            let (a, b, cc, d) = (up[i], right[i], down[i], left[i]);
            let nb = (a > hi) as u8 + (b > hi) as u8 + (cc > hi) as u8 + (d > hi) as u8;
            let nd = (a < lo) as u8 + (b < lo) as u8 + (cc < lo) as u8 + (d < lo) as u8;
            *p = (nb >= 2) as u8 | (nd >= 2) as u8;
        }
        for (word, chunk) in words.iter_mut().zip(pass.chunks(64)) {
            *word = chunk
                .iter()
                .enumerate()
                .fold(0u64, |m, (j, &p)| m | (p as u64) << j);
        }
        for (wi, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let j = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let i = y * w + BORDER + wi * 64 + j;
                let s = circle_score(&g.px, i, &offs, t);
                if s > 0 {
                    score[i] = s;
                    found.push(i);
                }
            }
        }
    }
    (score, found)
}

/// The FAST-9 score of pixel `i` (see [`fast_scores`]), without branches on the pixels.
#[inline]
fn circle_score(px: &[u8], i: usize, offs: &[isize; 16], t: u8) -> u16 {
    let c = px[i] as i16;
    let (hi, lo) = (c + t as i16, c - t as i16);
    let (mut bright, mut dark) = (0u32, 0u32);
    let (mut sb, mut sd) = (0u16, 0u16);
    for (k, &o) in offs.iter().enumerate() {
        let v = px[(i as isize + o) as usize] as i16;
        let (b, d) = (v > hi, v < lo);
        bright |= (b as u32) << k;
        dark |= (d as u32) << k;
        sb = sb.wrapping_add((b as u16).wrapping_mul((v - hi) as u16));
        sd = sd.wrapping_add((d as u16).wrapping_mul((lo - v) as u16));
    }
    let sb = if has_arc9(bright) { sb } else { 0 };
    let sd = if has_arc9(dark) { sd } else { 0 };
    sb.max(sd)
}

/// Harris corner response over a 7x7 window with central differences.
fn harris(g: &Gray, x: usize, y: usize) -> f32 {
    let (mut a, mut b, mut c) = (0f32, 0f32, 0f32);
    for yy in y - 3..=y + 3 {
        for xx in x - 3..=x + 3 {
            let ix = g.at(xx + 1, yy) as f32 - g.at(xx - 1, yy) as f32;
            let iy = g.at(xx, yy + 1) as f32 - g.at(xx, yy - 1) as f32;
            a += ix * ix;
            b += iy * iy;
            c += ix * iy;
        }
    }
    let det = a * b - c * c;
    let tr = a + b;
    (det - 0.04 * tr * tr) / (49.0 * 49.0 * 255.0 * 255.0) * 1e4
}

/// Half-widths of the orientation disc's rows, top to bottom.
fn disc_spans() -> &'static [i32; 2 * ORIENT_RADIUS as usize + 1] {
    static S: OnceLock<[i32; 2 * ORIENT_RADIUS as usize + 1]> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = [0i32; 2 * ORIENT_RADIUS as usize + 1];
        for (i, v) in s.iter_mut().enumerate() {
            let dy = i as i32 - ORIENT_RADIUS;
            *v = ((ORIENT_RADIUS * ORIENT_RADIUS - dy * dy) as f32).sqrt() as i32;
        }
        s
    })
}

/// Intensity-centroid orientation over a disc of radius 15. Each row's sums are 32-bit
/// (at most 31 x 15 x 255 per row, ~1.8 M over the disc), so the row loops vectorise.
fn orientation(g: &Gray, x: usize, y: usize) -> f32 {
    let (mut m10, mut m01) = (0i32, 0i32);
    for (dy, &span) in (-ORIENT_RADIUS..=ORIENT_RADIUS).zip(disc_spans()) {
        let start = (y as i32 + dy) as usize * g.w + (x as i32 - span) as usize;
        let row = &g.px[start..=start + 2 * span as usize];
        let (mut sum, mut moment) = (0i32, 0i32);
        for (k, &v) in row.iter().enumerate() {
            sum += v as i32;
            moment += (k as i32 - span) * v as i32;
        }
        m10 += moment;
        m01 += dy * sum;
    }
    (m01 as f32).atan2(m10 as f32)
}

/// The 256 test pairs, drawn once from an isotropic Gaussian (sigma = 31/5) clipped to the
/// pattern radius, with a fixed seed.
fn pattern() -> &'static [[f32; 4]; 256] {
    static P: OnceLock<[[f32; 4]; 256]> = OnceLock::new();
    P.get_or_init(|| {
        let mut rng = SplitMix64(PATTERN_SEED);
        let mut out = [[0f32; 4]; 256];
        for pair in out.iter_mut() {
            for half in 0..2 {
                loop {
                    let (a, b) = rng.gauss2();
                    let (px, py) = (a * 31.0 / 5.0, b * 31.0 / 5.0);
                    if px * px + py * py <= PATTERN_RADIUS * PATTERN_RADIUS {
                        pair[2 * half] = px;
                        pair[2 * half + 1] = py;
                        break;
                    }
                }
            }
        }
        out
    })
}

/// Seed of the BRIEF pattern: changing it invalidates every stored enrollment.
const PATTERN_SEED: u64 = 0x0c1e_a25b_07c1_ea25;

/// The pattern's 512 test points as separate x and y arrays (point 2i and 2i + 1 are the
/// two sides of test i), for a loop that vectorises.
fn pattern_points() -> &'static ([f32; 512], [f32; 512]) {
    static P: OnceLock<([f32; 512], [f32; 512])> = OnceLock::new();
    P.get_or_init(|| {
        let (mut xs, mut ys) = ([0f32; 512], [0f32; 512]);
        for (i, t) in pattern().iter().enumerate() {
            xs[2 * i] = t[0];
            ys[2 * i] = t[1];
            xs[2 * i + 1] = t[2];
            ys[2 * i + 1] = t[3];
        }
        (xs, ys)
    })
}

/// Steered BRIEF: each test point is rotated by the keypoint angle.
fn describe(smooth: &Gray, x: usize, y: usize, angle: f32) -> Descriptor {
    let (s, c) = angle.sin_cos();
    let (xs, ys) = pattern_points();
    let w = smooth.w as i32;
    // Offsets of the rotated points, rounded to nearest (half up) without a libm call:
    // |coordinate| <= PATTERN_RADIUS < 64.
    let mut off = [0i32; 512];
    for ((o, &px), &py) in off.iter_mut().zip(xs).zip(ys) {
        let rx = (c * px - s * py + 64.5) as i32 - 64;
        let ry = (s * px + c * py + 64.5) as i32 - 64;
        *o = ry * w + rx;
    }
    let base = (y * smooth.w + x) as isize;
    let at = |o: i32| smooth.px[(base + o as isize) as usize];
    let mut d = [0u64; 4];
    for (i, pair) in off.chunks_exact(2).enumerate() {
        if at(pair[0]) < at(pair[1]) {
            d[i / 64] |= 1 << (i % 64);
        }
    }
    d
}

/// A small deterministic generator (SplitMix64); only used for the fixed pattern and RANSAC.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Two independent standard normal values (Box-Muller).
    pub fn gauss2(&mut self) -> (f32, f32) {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f32::consts::TAU * u2;
        (r * t.cos(), r * t.sin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey image with a few solid rectangles (corners everywhere) and some texture.
    fn blocks(w: usize, h: usize) -> Gray {
        let mut g = Gray::filled(w, h, 90);
        let mut rng = SplitMix64(7);
        for _ in 0..40 {
            let (x0, y0) = (rng.below(w - 20), rng.below(h - 20));
            let (bw, bh) = (8 + rng.below(30), 8 + rng.below(30));
            let v = (rng.below(2) * 150 + 40 + rng.below(60)) as u8;
            for y in y0..(y0 + bh).min(h) {
                for x in x0..(x0 + bw).min(w) {
                    g.px[y * w + x] = v;
                }
            }
        }
        g
    }

    /// Noise over the blocks: busy texture where most pixels pass the compass test.
    fn grainy(w: usize, h: usize) -> Gray {
        let mut g = blocks(w, h);
        let mut rng = SplitMix64(11);
        for p in g.px.iter_mut() {
            *p = (*p as i32 + rng.below(49) as i32 - 24).clamp(0, 255) as u8;
        }
        g
    }

    /// The FAST-9 score as first written: the whole circle pixel by pixel, with branches.
    fn reference_score(g: &Gray, x: usize, y: usize, t: u8) -> u16 {
        let c = g.at(x, y) as i16;
        let t = t as i16;
        let (mut bright, mut dark, mut sb, mut sd) = (0u32, 0u32, 0u16, 0u16);
        for (k, &(dx, dy)) in CIRCLE.iter().enumerate() {
            let v = g.at((x as i32 + dx) as usize, (y as i32 + dy) as usize) as i16;
            if v > c + t {
                bright |= 1 << k;
                sb += (v - c - t) as u16;
            } else if v < c - t {
                dark |= 1 << k;
                sd += (c - t - v) as u16;
            }
        }
        if has_arc9(bright) { sb } else { 0 }.max(if has_arc9(dark) { sd } else { 0 })
    }

    #[test]
    fn fast_scores_equal_the_plain_circle_test_everywhere() {
        // Widths around a multiple of 64 inside the border, and thresholds up to saturation.
        for (g, t) in [
            (grainy(200, 120), 16),
            (grainy(2 * BORDER + 64, 50), 16),
            (grainy(2 * BORDER + 65, 50), 40),
            (blocks(150, 90), 16),
            (grainy(97, 61), 250),
        ] {
            let (score, found) = fast_scores(&g, t);
            let mut want_found = Vec::new();
            for y in BORDER..g.h - BORDER {
                for x in BORDER..g.w - BORDER {
                    let want = reference_score(&g, x, y, t);
                    assert_eq!(score[y * g.w + x], want, "({x}, {y}) of {}x{}", g.w, g.h);
                    if want > 0 {
                        want_found.push(y * g.w + x);
                    }
                }
            }
            assert_eq!(found, want_found);
            assert!(t > 200 || found.len() > 20, "{} corners", found.len());
        }
    }

    #[test]
    fn orientation_equals_the_plain_disc_sum() {
        let g = grainy(120, 100);
        for (x, y) in [(20, 20), (60, 50), (99, 79), (45, 70)] {
            let (mut m10, mut m01) = (0i64, 0i64);
            for dy in -ORIENT_RADIUS..=ORIENT_RADIUS {
                let span = ((ORIENT_RADIUS * ORIENT_RADIUS - dy * dy) as f32).sqrt() as i32;
                for dx in -span..=span {
                    let v = g.at((x as i32 + dx) as usize, (y as i32 + dy) as usize) as i64;
                    m10 += dx as i64 * v;
                    m01 += dy as i64 * v;
                }
            }
            assert_eq!(orientation(&g, x, y), (m01 as f32).atan2(m10 as f32));
        }
    }

    #[test]
    fn arc_detection_wraps_around() {
        assert!(has_arc9(0b0000_0001_1111_1111));
        assert!(has_arc9(0b0111_1111_1100_0000));
        assert!(has_arc9(0b1111_0000_0001_1111)); // 5 at the end + 4 at the start
        assert!(!has_arc9(0b0101_0101_0101_0101));
        assert!(!has_arc9(0b0000_0000_1111_1111));
    }

    #[test]
    fn finds_corners_and_descriptors_are_rotation_invariant_on_a_real_turn() {
        let g = blocks(200, 200);
        let f = detect(&g, None, None, &OrbParams::default());
        assert!(f.len() > 40, "{} features", f.len());
        // Rotate the image by 90 degrees: matched keypoints must keep most descriptor bits.
        let mut r = Gray::filled(200, 200, 0);
        for y in 0..200 {
            for x in 0..200 {
                r.px[x * 200 + (199 - y)] = g.at(x, y);
            }
        }
        let fr = detect(&r, None, None, &OrbParams::default());
        let mut close = 0;
        let mut total = 0;
        for (k, d) in f.keypoints.iter().zip(&f.descriptors) {
            if k.level != 0 {
                continue;
            }
            let (ex, ey) = (199.0 - k.y, k.x);
            if let Some((_, dr)) =
                fr.keypoints.iter().zip(&fr.descriptors).find(|(kr, _)| {
                    kr.level == 0 && (kr.x - ex).abs() < 1.5 && (kr.y - ey).abs() < 1.5
                })
            {
                total += 1;
                if hamming(d, dr) < 64 {
                    close += 1;
                }
            }
        }
        assert!(total > 20, "{total} corresponding keypoints");
        assert!(
            close * 10 >= total * 7,
            "{close}/{total} descriptors survive a 90 degree turn"
        );
    }

    #[test]
    fn mask_restricts_keypoints() {
        let g = blocks(200, 200);
        let mut m = Gray::filled(200, 200, 0);
        for y in 0..200 {
            for x in 0..100 {
                m.px[y * 200 + x] = 255;
            }
        }
        let f = detect(&g, Some(&m), None, &OrbParams::default());
        assert!(!f.is_empty());
        assert!(
            f.keypoints.iter().all(|k| k.x < 100.0),
            "keypoint outside the mask"
        );
        let all = detect(&g, None, None, &OrbParams::default());
        assert!(all.keypoints.iter().any(|k| k.x >= 100.0));
    }
}
