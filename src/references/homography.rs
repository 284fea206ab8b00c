//! Plane homographies: normalised DLT (4 points, and least squares on all inliers), RANSAC, and
//! the sanity checks that keep a lucky fit on clutter from becoming a match.
//!
//! Hand-written: `arrsac` provides only the consensus loop (the model, the estimator and the
//! residual would still be ours), and no maintained crate estimates homographies without
//! OpenCV; the whole thing is an 8x8 linear solve plus a sampling loop.

use super::orb::SplitMix64;

/// A 3x3 homography, row-major, mapping (x, y, 1) of the reference to the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// Maps a point; `None` when it goes to infinity.
    pub fn apply(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let h = &self.0;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        Some([
            (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
            (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
        ])
    }

    /// Squared transfer error of a correspondence (infinite when the point leaves the plane).
    pub fn error2(&self, src: [f64; 2], dst: [f64; 2]) -> f64 {
        match self.apply(src) {
            Some(q) => (q[0] - dst[0]).powi(2) + (q[1] - dst[1]).powi(2),
            None => f64::INFINITY,
        }
    }
}

/// Hartley normalisation: translate to the centroid, scale to mean distance sqrt(2).
fn normaliser(pts: &[[f64; 2]]) -> [f64; 3] {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p[1]).sum::<f64>() / n;
    let d = pts
        .iter()
        .map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let s = if d > 1e-12 {
        std::f64::consts::SQRT_2 / d
    } else {
        1.0
    };
    [s, cx, cy]
}

/// Least-squares homography (h33 = 1 in normalised coordinates) from >= 4 correspondences.
pub fn fit(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<Homography> {
    if src.len() < 4 || src.len() != dst.len() {
        return None;
    }
    let [ss, sx, sy] = normaliser(src);
    let [ds, dx, dy] = normaliser(dst);
    // Normal equations A^T A h = A^T b of the 2n x 8 system.
    let mut ata = [[0f64; 8]; 8];
    let mut atb = [0f64; 8];
    for (p, q) in src.iter().zip(dst) {
        let (x, y) = ((p[0] - sx) * ss, (p[1] - sy) * ss);
        let (u, v) = ((q[0] - dx) * ds, (q[1] - dy) * ds);
        let rows = [
            ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
            ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
        ];
        for (r, b) in rows {
            for i in 0..8 {
                atb[i] += r[i] * b;
                for j in 0..8 {
                    ata[i][j] += r[i] * r[j];
                }
            }
        }
    }
    let h = solve8(ata, atb)?;
    // Undo the normalisation: H = Td^-1 * Hn * Ts.
    let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
    let ts = [ss, 0.0, -ss * sx, 0.0, ss, -ss * sy, 0.0, 0.0, 1.0];
    let td_inv = [1.0 / ds, 0.0, dx, 0.0, 1.0 / ds, dy, 0.0, 0.0, 1.0];
    let m = mul3(&td_inv, &mul3(&hn, &ts));
    if m[8].abs() < 1e-12 || m.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(Homography(m.map(|v| v / m[8])))
}

/// Least-squares affine map (as a homography with no perspective row) from >= 3
/// correspondences. Used when the inliers lie near a line (a wide word mark), where the
/// eight-parameter fit is unconstrained across the line.
pub fn fit_affine(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<Homography> {
    if src.len() < 3 || src.len() != dst.len() {
        return None;
    }
    let [ss, sx, sy] = normaliser(src);
    let mut ata = [[0f64; 3]; 3];
    let (mut bu, mut bv) = ([0f64; 3], [0f64; 3]);
    for (p, q) in src.iter().zip(dst) {
        let r = [(p[0] - sx) * ss, (p[1] - sy) * ss, 1.0];
        for i in 0..3 {
            bu[i] += r[i] * q[0];
            bv[i] += r[i] * q[1];
            for j in 0..3 {
                ata[i][j] += r[i] * r[j];
            }
        }
    }
    let u = solve3(ata, bu)?;
    let v = solve3(ata, bv)?;
    // Undo the source normalisation.
    let m = [
        u[0] * ss,
        u[1] * ss,
        u[2] - u[0] * ss * sx - u[1] * ss * sy,
        v[0] * ss,
        v[1] * ss,
        v[2] - v[0] * ss * sx - v[1] * ss * sy,
        0.0,
        0.0,
        1.0,
    ];
    m.iter().all(|v| v.is_finite()).then_some(Homography(m))
}

fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&a);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut x = [0f64; 3];
    for (c, xc) in x.iter_mut().enumerate() {
        let mut m = a;
        for r in 0..3 {
            m[r][c] = b[r];
        }
        *xc = det(&m) / d;
    }
    Some(x)
}

fn mul3(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut o = [0f64; 9];
    for r in 0..3 {
        for c in 0..3 {
            o[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
        }
    }
    o
}

/// Gaussian elimination with partial pivoting.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-10 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..8 {
            let f = a[r][col] / a[col][col];
            if f != 0.0 {
                let pivot_row = a[col];
                for (x, p) in a[r][col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = [0f64; 8];
    for r in (0..8).rev() {
        let s: f64 = (r + 1..8).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Twice the signed area of a triangle.
fn cross(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// A minimal sample is degenerate when three of its points are (nearly) collinear.
fn degenerate(p: &[[f64; 2]; 4]) -> bool {
    let tri = [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)];
    tri.iter()
        .any(|&(i, j, k)| cross(p[i], p[j], p[k]).abs() < 4.0)
}

/// RANSAC settings.
#[derive(Debug, Clone, Copy)]
pub struct RansacParams {
    /// Inlier threshold on the transfer error, in destination pixels.
    pub threshold: f64,
    /// Iteration cap.
    pub max_iters: usize,
    /// Stop early when this confident that the best model was sampled.
    pub confidence: f64,
    /// Seed (runs are deterministic).
    pub seed: u64,
    /// Fit an affine model (3-point samples, no perspective) instead of a homography: for
    /// references whose matches lie near a line (word marks), where a homography's
    /// perspective is left free and the fit flies off.
    pub affine: bool,
}

impl Default for RansacParams {
    fn default() -> Self {
        Self {
            threshold: 5.0,
            max_iters: 2000,
            confidence: 0.999,
            seed: 0x5eed,
            affine: false,
        }
    }
}

/// A consensus model and its inlier indices.
#[derive(Debug, Clone)]
pub struct Consensus {
    /// Homography refitted on all inliers.
    pub h: Homography,
    /// Indices of the correspondences within the threshold.
    pub inliers: Vec<usize>,
}

/// Robust homography from correspondences `src[i] -> dst[i]`. `None` with fewer than 4 or
/// when no sample gives a model with at least 4 inliers.
pub fn ransac(src: &[[f64; 2]], dst: &[[f64; 2]], p: &RansacParams) -> Option<Consensus> {
    ransac_core(src, dst, None, p)
}

/// What a correspondence of two oriented, scaled keypoints says about the local map: the
/// frame keypoint's orientation and size relative to the reference keypoint's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    /// Orientation of the reference keypoint (radians, reference image).
    pub ref_angle: f64,
    /// Orientation of the frame keypoint (radians, frame image).
    pub frame_angle: f64,
    /// ln(frame keypoint size / reference keypoint size), sizes in the pixels of `dst` and
    /// `src` respectively.
    pub log_scale: f64,
}

/// How far a correspondence's orientation and size may disagree with the model's local
/// rotation and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Consistency {
    /// Largest orientation difference, radians.
    pub angle: f64,
    /// Largest |ln| size ratio.
    pub log_scale: f64,
}

impl Homography {
    /// The Jacobian of the map at `p`: [du/dx, du/dy, dv/dx, dv/dy].
    pub fn jacobian(&self, p: [f64; 2]) -> Option<[f64; 4]> {
        let h = &self.0;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        let u = (h[0] * p[0] + h[1] * p[1] + h[2]) / w;
        let v = (h[3] * p[0] + h[4] * p[1] + h[5]) / w;
        Some([
            (h[0] - u * h[6]) / w,
            (h[1] - u * h[7]) / w,
            (h[3] - v * h[6]) / w,
            (h[4] - v * h[7]) / w,
        ])
    }

    /// True when a correspondence at `p` agrees with the map's local rotation and scale.
    pub fn consistent(&self, p: [f64; 2], lf: &LocalFrame, tol: &Consistency) -> bool {
        let Some(j) = self.jacobian(p) else {
            return false;
        };
        let det = j[0] * j[3] - j[1] * j[2];
        if det <= 1e-12 {
            return false;
        }
        let (s, c) = lf.ref_angle.sin_cos();
        let expect = (j[2] * c + j[3] * s).atan2(j[0] * c + j[1] * s);
        let da = wrap_angle(lf.frame_angle - expect);
        da.abs() <= tol.angle && (lf.log_scale - 0.5 * det.ln()).abs() <= tol.log_scale
    }
}

/// An angle in (-pi, pi] (inputs are sums and differences of a few angles, so a couple of
/// steps suffice; `rem_euclid` costs a libm call on the hot path).
pub fn wrap_angle(a: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    if !a.is_finite() {
        return a;
    }
    let mut r = a;
    while r > PI {
        r -= TAU;
    }
    while r <= -PI {
        r += TAU;
    }
    r
}

/// RANSAC that also uses the keypoints' orientation and size: minimal samples are drawn
/// among correspondences that agree on rotation and scale, and an inlier must agree with the
/// model's local rotation and scale as well as lie within the transfer threshold. Random
/// matches on clutter rarely satisfy all three, true ones nearly always do.
pub fn ransac_consistent(
    src: &[[f64; 2]],
    dst: &[[f64; 2]],
    frames: &[LocalFrame],
    tol: &Consistency,
    p: &RansacParams,
) -> Option<Consensus> {
    if frames.len() != src.len() {
        return None;
    }
    ransac_core(src, dst, Some((frames, tol)), p)
}

fn ransac_core(
    src: &[[f64; 2]],
    dst: &[[f64; 2]],
    oriented: Option<(&[LocalFrame], &Consistency)>,
    p: &RansacParams,
) -> Option<Consensus> {
    let affine = p.affine;
    let n = src.len();
    let size = if affine { 3 } else { 4 };
    let model = |s: &[[f64; 2]], d: &[[f64; 2]]| {
        if affine {
            fit_affine(s, d)
        } else {
            fit(s, d)
        }
    };
    if n < 4 || n != dst.len() {
        return None;
    }
    let t2 = p.threshold * p.threshold;
    let mut rng = SplitMix64(p.seed ^ n as u64);
    let mut best: Vec<usize> = Vec::new();
    let mut iters = p.max_iters;
    let mut i = 0;
    let count = |h: &Homography| -> Vec<usize> {
        (0..n)
            .filter(|&k| {
                h.error2(src[k], dst[k]) <= t2
                    && oriented.is_none_or(|(f, tol)| h.consistent(src[k], &f[k], tol))
            })
            .collect()
    };
    // Pairwise agreement of two correspondences on rotation and scale (a loose version of
    // the per-inlier test: perspective lets them differ across the reference).
    let agree = |a: usize, b: usize| -> bool {
        match oriented {
            None => true,
            Some((f, tol)) => {
                let ra = wrap_angle(f[a].frame_angle - f[a].ref_angle);
                let rb = wrap_angle(f[b].frame_angle - f[b].ref_angle);
                wrap_angle(ra - rb).abs() <= 2.0 * tol.angle
                    && (f[a].log_scale - f[b].log_scale).abs() <= 2.0 * tol.log_scale
            }
        }
    };
    let mut pool: Vec<usize> = Vec::with_capacity(n);
    while i < iters {
        i += 1;
        let mut idx = [0usize; 4];
        idx[0] = rng.below(n);
        let m = if oriented.is_some() {
            pool.clear();
            pool.extend((0..n).filter(|&c| c != idx[0] && agree(idx[0], c)));
            if pool.len() < size - 1 {
                continue;
            }
            pool.len()
        } else {
            n
        };
        let mut k = 1;
        while k < size {
            let r = rng.below(m);
            let c = if oriented.is_some() { pool[r] } else { r };
            if !idx[..k].contains(&c) {
                idx[k] = c;
                k += 1;
            }
        }
        let s = idx.map(|j| src[j]);
        let d = idx.map(|j| dst[j]);
        let (s, d) = (&s[..size], &d[..size]);
        if affine {
            // Three points: not collinear on either side, same orientation (no mirror).
            let (a, b) = (cross(s[0], s[1], s[2]), cross(d[0], d[1], d[2]));
            if a.abs() < 4.0 || b.abs() < 4.0 || a.signum() != b.signum() {
                continue;
            }
        } else {
            let (s4, d4) = ([s[0], s[1], s[2], s[3]], [d[0], d[1], d[2], d[3]]);
            if degenerate(&s4) || degenerate(&d4) {
                continue;
            }
            // A homography preserves the orientation of every triangle (or flips all of them).
            let flips = (0..4).filter(|&a| {
                let (b, c) = ((a + 1) % 4, (a + 2) % 4);
                cross(s[a], s[b], s[c]).signum() != cross(d[a], d[b], d[c]).signum()
            });
            let nf = flips.count();
            if nf != 0 && nf != 4 {
                continue;
            }
        }
        let Some(h) = model(s, d) else { continue };
        let inl = count(&h);
        if inl.len() > best.len() {
            best = inl;
            let w = best.len() as f64 / n as f64;
            let denom = (1.0 - w.powi(size as i32)).max(1e-12).ln();
            if denom < 0.0 {
                let need = ((1.0 - p.confidence).ln() / denom).ceil();
                iters = iters.min(need.max(1.0) as usize).max(i);
            }
        }
    }
    if best.len() < 4 {
        return None;
    }
    // Refit on the inliers twice (the set can grow once the model is better).
    let mut inliers = best;
    let mut h = None;
    for _ in 0..2 {
        let s: Vec<_> = inliers.iter().map(|&k| src[k]).collect();
        let d: Vec<_> = inliers.iter().map(|&k| dst[k]).collect();
        let Some(hh) = model(&s, &d) else { break };
        let again = count(&hh);
        if again.len() < inliers.len() {
            h = h.or(Some(hh));
            break;
        }
        inliers = again;
        h = Some(hh);
    }
    Some(Consensus { h: h?, inliers })
}

/// Why a projected reference is implausible, if it is.
pub fn implausible(quad: &[[f64; 2]; 4], min_side: f64) -> Option<&'static str> {
    // Convex and not mirrored: all turns have the same (positive, in image coordinates with
    // y down and corners given clockwise) sign.
    let turns: Vec<f64> = (0..4)
        .map(|i| cross(quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]))
        .collect();
    if !turns.iter().all(|&t| t > 0.0) {
        return Some("not convex or mirrored");
    }
    let side = |i: usize| {
        let (a, b) = (quad[i], quad[(i + 1) % 4]);
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    };
    let s = [side(0), side(1), side(2), side(3)];
    if s.iter().any(|&v| v < min_side) {
        return Some("too small");
    }
    // Opposite sides: mild perspective only.
    if s[0] / s[2] > 2.5 || s[2] / s[0] > 2.5 || s[1] / s[3] > 2.5 || s[3] / s[1] > 2.5 {
        return Some("too much perspective");
    }
    // Corner angles away from 0/180 degrees (strong shear).
    for i in 0..4 {
        let (a, b, c) = (quad[(i + 3) % 4], quad[i], quad[(i + 1) % 4]);
        let (u, v) = ([a[0] - b[0], a[1] - b[1]], [c[0] - b[0], c[1] - b[1]]);
        let cos = (u[0] * v[0] + u[1] * v[1]) / ((u[0].hypot(u[1]) * v[0].hypot(v[1])).max(1e-12));
        if cos.abs() > 0.8 {
            return Some("too sheared");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> Homography {
        Homography([0.9, -0.2, 310.0, 0.15, 1.05, 120.0, 2e-4, -1e-4, 1.0])
    }

    fn grid() -> Vec<[f64; 2]> {
        let mut v = Vec::new();
        for y in 0..6 {
            for x in 0..7 {
                v.push([x as f64 * 37.0 + 3.0, y as f64 * 29.0 + 11.0]);
            }
        }
        v
    }

    #[test]
    fn fit_recovers_an_exact_homography() {
        let h = truth();
        let src = grid();
        let dst: Vec<_> = src.iter().map(|&p| h.apply(p).unwrap()).collect();
        let pick = [0, 6, 35, 41];
        let got = fit(&pick.map(|i| src[i]), &pick.map(|i| dst[i])).unwrap();
        for (&p, &q) in src.iter().zip(&dst) {
            assert!(got.error2(p, q) < 1e-6, "{:?}", got.0);
        }
        let all = fit(&src, &dst).unwrap();
        for (a, b) in all.0.iter().zip(h.0.iter()) {
            assert!((a - b).abs() < 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn affine_fit_is_exact_on_affine_data_and_stable_on_a_line_of_points() {
        let a = Homography([1.2, 0.3, 40.0, -0.25, 0.9, 7.0, 0.0, 0.0, 1.0]);
        // Points of a wide word mark: two close rows, which leave a homography unconstrained.
        let src: Vec<[f64; 2]> = (0..20)
            .map(|i| [i as f64 * 25.0, 50.0 + (i % 2) as f64 * 6.0])
            .collect();
        let dst: Vec<_> = src.iter().map(|&p| a.apply(p).unwrap()).collect();
        let got = fit_affine(&src, &dst).unwrap();
        for (x, y) in got.0.iter().zip(a.0.iter()) {
            assert!((x - y).abs() < 1e-6, "{:?}", got.0);
        }
    }

    #[test]
    fn ransac_rejects_outliers() {
        let h = truth();
        let mut rng = SplitMix64(3);
        let mut src = grid();
        let mut dst: Vec<_> = src
            .iter()
            .map(|&p| {
                let q = h.apply(p).unwrap();
                [
                    q[0] + rng.uniform() as f64 - 0.5,
                    q[1] + rng.uniform() as f64 - 0.5,
                ]
            })
            .collect();
        let good = src.len();
        // 60% outliers: random pairs.
        for _ in 0..63 {
            src.push([rng.uniform() as f64 * 250.0, rng.uniform() as f64 * 170.0]);
            dst.push([rng.uniform() as f64 * 900.0, rng.uniform() as f64 * 600.0]);
        }
        let c = ransac(&src, &dst, &RansacParams::default()).unwrap();
        let wrong = c.inliers.iter().filter(|&&i| i >= good).count();
        assert!(
            c.inliers.len() >= good - 1,
            "{} of {good} inliers",
            c.inliers.len()
        );
        assert!(wrong <= 2, "{wrong} outliers accepted");
        for &p in &src[..good] {
            let (a, b) = (c.h.apply(p).unwrap(), h.apply(p).unwrap());
            assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 1.0);
        }
    }

    #[test]
    fn affine_ransac_recovers_a_word_mark_along_a_line() {
        // A word mark: matches in a thin band (500 x 12 px), scaled 1.5x and rotated 5 deg,
        // with noise and 40% outliers. Consistent orientations and sizes for the true ones.
        let mut rng = SplitMix64(11);
        let (c, s) = (5f64.to_radians().cos(), 5f64.to_radians().sin());
        let a = Homography([
            1.5 * c,
            -1.5 * s,
            40.0,
            1.5 * s,
            1.5 * c,
            300.0,
            0.0,
            0.0,
            1.0,
        ]);
        let (mut src, mut dst, mut frames) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..60 {
            let p = [rng.uniform() as f64 * 500.0, rng.uniform() as f64 * 12.0];
            let q = a.apply(p).unwrap();
            src.push(p);
            dst.push([
                q[0] + rng.uniform() as f64 - 0.5,
                q[1] + rng.uniform() as f64 - 0.5,
            ]);
            let angle = rng.uniform() as f64 * 6.0;
            frames.push(LocalFrame {
                ref_angle: angle,
                frame_angle: angle + 5f64.to_radians(),
                log_scale: 1.5f64.ln(),
            });
        }
        let good = src.len();
        for _ in 0..40 {
            src.push([rng.uniform() as f64 * 500.0, rng.uniform() as f64 * 12.0]);
            dst.push([rng.uniform() as f64 * 900.0, rng.uniform() as f64 * 600.0]);
            frames.push(LocalFrame {
                ref_angle: rng.uniform() as f64 * 6.0,
                frame_angle: rng.uniform() as f64 * 6.0,
                log_scale: 0.0,
            });
        }
        let tol = Consistency {
            angle: 25f64.to_radians(),
            log_scale: 1.6f64.ln(),
        };
        let p = RansacParams {
            affine: true,
            ..RansacParams::default()
        };
        let got = ransac_consistent(&src, &dst, &frames, &tol, &p).unwrap();
        let wrong = got.inliers.iter().filter(|&&i| i >= good).count();
        assert!(
            got.inliers.len() >= good - 3,
            "{} of {good}",
            got.inliers.len()
        );
        assert!(wrong <= 2, "{wrong} outliers accepted");
        // Off the band too (where a free perspective would fly off), the model is the truth.
        for p in [[0.0, 0.0], [500.0, 0.0], [500.0, 120.0], [0.0, 120.0]] {
            let (x, y) = (got.h.apply(p).unwrap(), a.apply(p).unwrap());
            assert!(
                (x[0] - y[0]).hypot(x[1] - y[1]) < 6.0,
                "{p:?}: {x:?} vs {y:?}"
            );
        }
    }

    #[test]
    fn ransac_finds_nothing_in_pure_noise() {
        let mut rng = SplitMix64(11);
        let src: Vec<_> = (0..60)
            .map(|_| [rng.uniform() as f64 * 300.0, rng.uniform() as f64 * 300.0])
            .collect();
        let dst: Vec<_> = (0..60)
            .map(|_| [rng.uniform() as f64 * 1280.0, rng.uniform() as f64 * 720.0])
            .collect();
        let best = ransac(&src, &dst, &RansacParams::default())
            .map(|c| c.inliers.len())
            .unwrap_or(0);
        assert!(best < 8, "{best} inliers in noise");
    }

    #[test]
    fn plausibility_rejects_mirrors_slivers_and_strong_perspective() {
        let ok = [[0.0, 0.0], [100.0, 5.0], [95.0, 80.0], [3.0, 70.0]];
        assert_eq!(implausible(&ok, 8.0), None);
        let mirrored = [[100.0, 0.0], [0.0, 0.0], [0.0, 80.0], [100.0, 80.0]];
        assert!(implausible(&mirrored, 8.0).is_some());
        let sliver = [[0.0, 0.0], [100.0, 0.0], [100.0, 4.0], [0.0, 4.0]];
        assert!(implausible(&sliver, 8.0).is_some());
        let keystone = [[0.0, 0.0], [300.0, 0.0], [180.0, 80.0], [120.0, 80.0]];
        assert!(implausible(&keystone, 8.0).is_some());
    }
}
