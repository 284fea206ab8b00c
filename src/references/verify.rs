//! Geometric verification of one reference against one set of frame features: ratio-test
//! correspondences, RANSAC that also demands agreement of keypoint orientation and size with
//! the model, a guided second pass (re-match every reference feature near where the model
//! puts it, then refit), and the plausibility checks on the projected reference.

use super::correspond::{nearest_two, ratio_filter, Nearest};
use super::homography::{
    fit, fit_affine, implausible, ransac_consistent, wrap_angle, Consistency, Homography,
    LocalFrame, RansacParams,
};
use super::orb::{hamming, Features};
use super::{MatchConfig, RefImage};

/// Frame features in a working image that maps to the frame by
/// `frame = offset + working / scale`, with a grid index for the guided pass.
pub struct FrameSet {
    /// The features.
    pub feats: Features,
    /// Working pixels per frame pixel.
    pub scale: f32,
    /// Frame position of the working image's origin.
    pub offset: [f32; 2],
    /// RANSAC and guided-search radius, in working pixels.
    pub threshold: f64,
    grid: Grid,
}

/// Feature indices bucketed by position (compressed rows).
struct Grid {
    cell: f64,
    cols: usize,
    rows: usize,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    fn new(feats: &Features, cell: f64) -> Self {
        let (mut mx, mut my) = (1f64, 1f64);
        for k in &feats.keypoints {
            mx = mx.max(k.x as f64 + 1.0);
            my = my.max(k.y as f64 + 1.0);
        }
        let cols = (mx / cell).ceil() as usize;
        let rows = (my / cell).ceil() as usize;
        let cell_of = |x: f32, y: f32| {
            let c = ((x as f64 / cell) as usize).min(cols - 1);
            let r = ((y as f64 / cell) as usize).min(rows - 1);
            r * cols + c
        };
        let mut count = vec![0u32; cols * rows + 1];
        for k in &feats.keypoints {
            count[cell_of(k.x, k.y) + 1] += 1;
        }
        for i in 1..count.len() {
            count[i] += count[i - 1];
        }
        let mut fill = count.clone();
        let mut items = vec![0u32; feats.len()];
        for (i, k) in feats.keypoints.iter().enumerate() {
            let c = cell_of(k.x, k.y);
            items[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        Self {
            cell,
            cols,
            rows,
            start: count,
            items,
        }
    }

    /// Calls `f` with every feature index whose cell touches the disc around `q`.
    fn near(&self, q: [f64; 2], radius: f64, mut f: impl FnMut(usize)) {
        let c0 = ((q[0] - radius) / self.cell).floor().max(0.0) as usize;
        let r0 = ((q[1] - radius) / self.cell).floor().max(0.0) as usize;
        let c1 = (((q[0] + radius) / self.cell).floor().max(0.0) as usize).min(self.cols - 1);
        let r1 = (((q[1] + radius) / self.cell).floor().max(0.0) as usize).min(self.rows - 1);
        for r in r0..=r1 {
            for c in c0..=c1 {
                let cell = r * self.cols + c;
                for &i in &self.items[self.start[cell] as usize..self.start[cell + 1] as usize] {
                    f(i as usize);
                }
            }
        }
    }
}

impl FrameSet {
    /// Wraps features of a working image.
    pub fn new(feats: Features, scale: f32, offset: [f32; 2], threshold: f64) -> Self {
        let grid = Grid::new(&feats, 16.0);
        Self {
            feats,
            scale,
            offset,
            threshold,
            grid,
        }
    }
}

/// A verified projection of a reference, in full-frame pixels.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Projected corners of the opaque box.
    pub corners: [[f32; 2]; 4],
    /// Unique consistent inliers.
    pub inliers: u32,
}

/// Outcome of one verification: the accepted projection, or the inlier count the best
/// consistent model reached (for diagnostics: how close a rejected candidate came).
pub struct Outcome {
    /// The match, when accepted.
    pub verified: Option<Verified>,
    /// Unique consistent inliers of the best model (accepted or not), 0 without one.
    pub inliers: u32,
    /// Frame box of the best model's projection (accepted or not).
    pub bbox: Option<[f32; 4]>,
}

impl Outcome {
    fn none(inliers: u32) -> Self {
        Self {
            verified: None,
            inliers,
            bbox: None,
        }
    }
}

fn tolerance(cfg: &MatchConfig) -> Consistency {
    Consistency {
        angle: (cfg.orientation_tolerance as f64).to_radians(),
        log_scale: (cfg.scale_tolerance as f64).max(1.0).ln(),
    }
}

/// Keypoint verification of `r` against `set`; accepted with at least `min_inliers` unique
/// inliers that agree with the model in position, orientation and size.
pub fn verify(
    r: &RefImage,
    set: &FrameSet,
    cfg: &MatchConfig,
    min_inliers: u32,
    frame_size: (u32, u32),
) -> Outcome {
    let feats = &set.feats;
    let nearest = nearest_two(&r.features.descriptors, &feats.descriptors);
    let corr = ratio_filter(&nearest, feats.len(), cfg.ratio, cfg.max_distance);
    if corr.len() < 4 {
        return Outcome::none(0);
    }
    let pairs: Vec<(usize, usize)> = corr.iter().map(|c| (c.reference, c.frame)).collect();
    let tol = tolerance(cfg);
    let (src, dst, frames) = geometry(r, feats, &pairs);
    let rp = RansacParams {
        threshold: set.threshold,
        ..RansacParams::default()
    };
    let Some(cons) = ransac_consistent(&src, &dst, &frames, &tol, &rp) else {
        return Outcome::none(0);
    };
    let first = unique_inliers(&cons.inliers, &src, &dst);
    // The guided pass replaces the model when it explains at least as many matches.
    let refined = (cfg.guided && first >= cfg.guided_min_inliers)
        .then(|| guided(r, set, &nearest, &cons.h, &tol, cfg))
        .flatten()
        .filter(|g| g.3 >= first);
    let (count, projected) = match &refined {
        Some((gh, gpairs, ginl, gcount)) => {
            let (gsrc, gdst, _) = geometry(r, feats, gpairs);
            let c = plausible_projection(r, gh, ginl, &gsrc, &gdst, set, frame_size);
            (*gcount, c.map(|c| (c, *gcount)))
        }
        None => {
            let c = plausible_projection(r, &cons.h, &cons.inliers, &src, &dst, set, frame_size);
            (first, c.map(|c| (c, first)))
        }
    };
    // Matches near a line (word marks) leave a homography's perspective free, and its fit
    // can fly off while the view is plain: look again with an affine model.
    let affine = || {
        let ap = RansacParams { affine: true, ..rp };
        let a = ransac_consistent(&src, &dst, &frames, &tol, &ap)?;
        let c = plausible_projection(r, &a.h, &a.inliers, &src, &dst, set, frame_size)?;
        Some((c, unique_inliers(&a.inliers, &src, &dst)))
    };
    let Some((corners, count)) = projected.or_else(affine) else {
        return Outcome::none(count);
    };
    Outcome {
        verified: (count >= min_inliers).then_some(Verified {
            corners,
            inliers: count,
        }),
        inliers: count,
        bbox: Some(bbox_of(&corners, frame_size)),
    }
}

/// Positions and local frames of correspondences (reference index, frame index).
#[allow(clippy::type_complexity)]
fn geometry(
    r: &RefImage,
    feats: &Features,
    pairs: &[(usize, usize)],
) -> (Vec<[f64; 2]>, Vec<[f64; 2]>, Vec<LocalFrame>) {
    let mut src = Vec::with_capacity(pairs.len());
    let mut dst = Vec::with_capacity(pairs.len());
    let mut frames = Vec::with_capacity(pairs.len());
    for &(ri, fi) in pairs {
        let a = &r.features.keypoints[ri];
        let b = &feats.keypoints[fi];
        src.push([a.x as f64, a.y as f64]);
        dst.push([b.x as f64, b.y as f64]);
        frames.push(LocalFrame {
            ref_angle: a.angle as f64,
            frame_angle: b.angle as f64,
            log_scale: (b.size as f64 / a.size.max(1e-6) as f64).ln(),
        });
    }
    (src, dst, frames)
}

/// The guided pass: every reference feature is matched to the closest descriptor among frame
/// features near its projection that agree in orientation and size; the model is refitted on
/// those and the consistent inliers are counted again (twice).
#[allow(clippy::type_complexity)]
fn guided(
    r: &RefImage,
    set: &FrameSet,
    nearest: &[Nearest],
    h0: &Homography,
    tol: &Consistency,
    cfg: &MatchConfig,
) -> Option<(Homography, Vec<(usize, usize)>, Vec<usize>, u32)> {
    let feats = &set.feats;
    let mut h = *h0;
    let mut result = None;
    let t2 = set.threshold * set.threshold;
    for _ in 0..2 {
        let mut best_for_frame: Vec<(u32, usize)> = vec![(u32::MAX, usize::MAX); feats.len()];
        for (ri, (k, d)) in r
            .features
            .keypoints
            .iter()
            .zip(&r.features.descriptors)
            .enumerate()
        {
            let p = [k.x as f64, k.y as f64];
            let Some(q) = h.apply(p) else { continue };
            let Some(j) = h.jacobian(p) else { continue };
            let det = j[0] * j[3] - j[1] * j[2];
            if det <= 1e-12 {
                continue;
            }
            let (s, c) = (k.angle as f64).sin_cos();
            let expect_angle = (j[2] * c + j[3] * s).atan2(j[0] * c + j[1] * s);
            let expect_size = (k.size as f64).ln() + 0.5 * det.ln();
            let (mut d1, mut i1) = (u32::MAX, usize::MAX);
            set.grid.near(q, set.threshold, |fi| {
                let f = &feats.keypoints[fi];
                let (dx, dy) = (f.x as f64 - q[0], f.y as f64 - q[1]);
                if dx * dx + dy * dy > t2
                    || wrap_angle(f.angle as f64 - expect_angle).abs() > tol.angle
                    || ((f.size as f64).ln() - expect_size).abs() > tol.log_scale
                {
                    return;
                }
                let dist = hamming(d, &feats.descriptors[fi]);
                if dist < d1 {
                    d1 = dist;
                    i1 = fi;
                }
            });
            // Only frame features that are among the two nearest of the whole set: a wrong
            // model lands near some feature, but rarely near one that close in descriptor.
            if i1 != usize::MAX
                && d1 <= cfg.guided_max_distance
                && d1 <= nearest[ri].d2
                && d1 < best_for_frame[i1].0
            {
                best_for_frame[i1] = (d1, ri);
            }
        }
        let pairs: Vec<(usize, usize)> = best_for_frame
            .iter()
            .enumerate()
            .filter(|(_, b)| b.1 != usize::MAX)
            .map(|(fi, b)| (b.1, fi))
            .collect();
        if pairs.len() < 4 {
            break;
        }
        let (src, dst, frames) = geometry(r, feats, &pairs);
        let hh = fit(&src, &dst)?;
        let inl: Vec<usize> = (0..pairs.len())
            .filter(|&i| hh.error2(src[i], dst[i]) <= t2 && hh.consistent(src[i], &frames[i], tol))
            .collect();
        let n = unique_inliers(&inl, &src, &dst);
        match &result {
            Some((_, _, _, best)) if *best >= n => break,
            _ => {}
        }
        h = hh;
        result = Some((hh, pairs, inl, n));
    }
    result
}

/// Projects the reference's opaque box with `h` and applies the plausibility checks; returns
/// the frame corners when the projection is a believable view of the reference.
#[allow(clippy::too_many_arguments)]
fn plausible_projection(
    r: &RefImage,
    h: &Homography,
    inliers: &[usize],
    src: &[[f64; 2]],
    dst: &[[f64; 2]],
    set: &FrameSet,
    (fw, fh): (u32, u32),
) -> Option<[[f32; 2]; 4]> {
    if inliers.len() < 4 {
        return None;
    }
    let [x0, y0, x1, y1] = r.opaque_box.map(|v| v as f64);
    let project = |h: &Homography| -> Option<[[f64; 2]; 4]> {
        let mut quad = [[0f64; 2]; 4];
        for (q, p) in quad
            .iter_mut()
            .zip([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        {
            *q = h.apply(p)?;
        }
        Some(quad)
    };
    // Sides of at least 12 frame pixels.
    let min_side = 12.0 * set.scale as f64;
    let mut quad = project(h)?;
    if implausible(&quad, min_side).is_some() {
        // Inliers along a line (word marks) leave the perspective free: an affine fit of the
        // same inliers is accepted if it explains nearly all of them.
        let s: Vec<_> = inliers.iter().map(|&i| src[i]).collect();
        let d: Vec<_> = inliers.iter().map(|&i| dst[i]).collect();
        let a = fit_affine(&s, &d)?;
        let t2 = set.threshold * set.threshold;
        let kept = s
            .iter()
            .zip(&d)
            .filter(|(p, q)| a.error2(**p, **q) <= t2)
            .count();
        if kept * 10 < s.len() * 9 {
            return None;
        }
        quad = project(&a)?;
        if implausible(&quad, min_side).is_some() {
            return None;
        }
    }
    // The inliers must cover a fair part of the reference, not one small corner of it
    // (repetitive clutter often fits a tiny patch).
    let (ix0, iy0, ix1, iy1) = inliers.iter().fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(a, b, c, d), &i| {
            (
                a.min(src[i][0]),
                b.min(src[i][1]),
                c.max(src[i][0]),
                d.max(src[i][1]),
            )
        },
    );
    let spread = ((ix1 - ix0) * (iy1 - iy0)) / ((x1 - x0) * (y1 - y0)).max(1.0);
    if spread < 0.04 {
        return None;
    }
    let corners = quad.map(|q| {
        [
            q[0] as f32 / set.scale + set.offset[0],
            q[1] as f32 / set.scale + set.offset[1],
        ]
    });
    // The projection must overlap the frame substantially.
    let cx = corners.iter().map(|c| c[0]).sum::<f32>() / 4.0;
    let cy = corners.iter().map(|c| c[1]).sum::<f32>() / 4.0;
    if cx < 0.0 || cy < 0.0 || cx > fw as f32 || cy > fh as f32 {
        return None;
    }
    Some(corners)
}

/// Axis-aligned box of corners, clipped to the frame.
pub fn bbox_of(corners: &[[f32; 2]; 4], (fw, fh): (u32, u32)) -> [f32; 4] {
    let xs = corners.map(|c| c[0]);
    let ys = corners.map(|c| c[1]);
    [
        xs.iter().cloned().fold(f32::MAX, f32::min).max(0.0),
        ys.iter().cloned().fold(f32::MAX, f32::min).max(0.0),
        xs.iter().cloned().fold(f32::MIN, f32::max).min(fw as f32),
        ys.iter().cloned().fold(f32::MIN, f32::max).min(fh as f32),
    ]
}

/// Inliers counted once per distinct position on both sides (the pyramid can match one
/// physical corner several times).
pub fn unique_inliers(idx: &[usize], src: &[[f64; 2]], dst: &[[f64; 2]]) -> u32 {
    let key = |p: [f64; 2]| ((p[0] / 3.0).round() as i64, (p[1] / 3.0).round() as i64);
    let a: std::collections::HashSet<_> = idx.iter().map(|&i| key(src[i])).collect();
    let b: std::collections::HashSet<_> = idx.iter().map(|&i| key(dst[i])).collect();
    a.len().min(b.len()) as u32
}
