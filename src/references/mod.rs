//! Registered references (logos, artwork, posters, product photos): finds an enrolled
//! reference image inside a video frame and localises it.
//!
//! Keypoints find and verify; the learned embedding proposes where to look harder:
//! 1. ORB-style features ([`orb`]: FAST corners on a pyramid, steered BRIEF) of the whole
//!    frame are matched to each reference ([`correspond`]) and verified
//!    ([`verify`](mod@verify)) with a RANSAC homography ([`homography`]; an affine RANSAC when
//!    the homography's projection is implausible, as with word marks whose matches lie near a
//!    line), plausibility checks on the projected quad and a minimum of unique inliers spread
//!    over the reference.
//! 2. With the ONNX image embedder (EfficientNet-Lite0, GeM pooled, [`embed`]), windows whose
//!    pooled feature-map cosine with a reference not yet found is high (`proposals`) are
//!    re-examined with keypoints at a higher resolution, so small insets get enough features.
//!    One model run on the whole frame gives the map every window is pooled from (the model's
//!    `gem_map` output, built in by `scripts/build_ip_model.py` and checked by its parity test).
//! 3. Later pictures of a shot can be followed instead of searched ([`IpMatcher::follow`]):
//!    what was found, and what was proposed but not verified, is verified again where it is.
//!
//! Measured with `clearshot eval-refs` on `scripts/make_ip_eval.py`'s set (seed 1: 10
//! references, 60 insets at 10-40% of the width rotated up to 15 degrees with perspective and
//! JPEG, 10 full-frame copies, 20 negatives, 20 distractors): insets 59/60 (logos 11/12),
//! full-frame 10/10, 0 false alarms, ~320-440 ms per 1280x720 scene on one core. On the
//! held-out seed-2 set, never tuned on: insets 58/60, full-frame 10/10, 0 false alarms. In a
//! scan, matching runs on at most `ScanOptions::ref_per_second` samples a second plus each
//! shot's first and last (`scan::pacer`'s `RefPacer`). Every match carries the projected
//! corners of the reference's opaque area, its bounding box, the verified inlier count and a
//! score. Enrollment data ([`RefImage`], `enroll`) is serialisable; a flat image (nothing but
//! its outline) is refused.

pub mod correspond;
pub mod embed;
mod enroll;
pub mod eval;
pub mod gray;
pub mod homography;
pub mod orb;
mod proposals;
pub mod verify;

pub use enroll::{RefImage, REF_FORMAT};

use crate::stages;
use embed::IpEmbedder;
use gray::Gray;
use image::{DynamicImage, RgbImage};
use orb::OrbParams;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use verify::{bbox_of, verify, FrameSet, Verified};

/// Errors of the IP matcher.
#[derive(Debug, thiserror::Error)]
pub enum IpError {
    /// The reference image cannot be used.
    #[error("reference '{name}': {message}")]
    Reference {
        /// Reference name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Bad input to a function (sizes, shapes).
    #[error("invalid input: {0}")]
    Input(String),
    /// ONNX Runtime failed.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// Stored enrollment bytes could not be read.
    #[error("stored reference data is unreadable: {0}")]
    Decode(String),
    /// An image or label file could not be read.
    #[error("{path}: {message}")]
    File {
        /// File path.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// Matcher settings; the defaults are the ones measured on the evaluation set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchConfig {
    /// The frame is downscaled so its long side is at most this for the keypoint stage.
    pub frame_max_side: u32,
    /// Features detected on the whole frame.
    pub frame_features: usize,
    /// References are scaled so their long side is this before detection.
    pub ref_side: u32,
    /// Features kept per reference.
    pub ref_features: usize,
    /// Lowe ratio for descriptor matches.
    pub ratio: f32,
    /// Largest Hamming distance of a descriptor match (of 256 bits).
    pub max_distance: u32,
    /// RANSAC inlier threshold, in working-frame pixels.
    pub ransac_threshold: f64,
    /// Unique inliers needed to accept a whole-frame keypoint match.
    pub min_inliers: u32,
    /// Run the whole-frame keypoint pass (off only to measure the tile stage on its own).
    pub whole_frame: bool,
    /// Run the learned tile proposals (needs an embedder).
    pub tiles: bool,
    /// The frame is scaled so its short side is this for the embedder's feature map.
    pub tile_map_side: u32,
    /// Window shapes (width, height in feature-map cells, 32 scaled pixels each) pooled from
    /// the map at every position.
    pub tile_windows: Vec<[u32; 2]>,
    /// Tile sizes as fractions of the frame's short side (embedders without a feature map).
    pub tile_fractions: Vec<f32>,
    /// Input side of each tile for the embedder (embedders without a feature map).
    pub tile_input: u32,
    /// Cosine at or above which a tile is re-examined for a reference.
    pub tile_propose_cosine: f32,
    /// Tiles re-examined per reference.
    pub tile_candidates: usize,
    /// Unique inliers needed inside a proposed tile.
    pub tile_min_inliers: u32,
    /// Regions re-detected per frame at most (the tile stage's cost bound).
    pub max_regions: usize,
    /// A region is the proposal window grown by this fraction of its size on each side.
    pub region_grow: f32,
    /// Smallest region side, as a fraction of the frame's short side.
    pub region_min_fraction: f32,
    /// Long side a region is scaled to for detection.
    pub region_side: u32,
    /// Largest magnification of a region.
    pub region_max_zoom: f32,
    /// Features detected per region.
    pub region_features: usize,
    /// Largest difference (degrees) between a keypoint's orientation and the one the model
    /// predicts for it, for it to count as an inlier.
    pub orientation_tolerance: f32,
    /// Largest factor between a keypoint's size and the one the model predicts.
    pub scale_tolerance: f32,
    /// Run the guided second pass (re-match near the model's projection, refit).
    pub guided: bool,
    /// Consistent inliers a first model needs before the guided pass runs.
    pub guided_min_inliers: u32,
    /// Largest Hamming distance of a guided match.
    pub guided_max_distance: u32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            frame_max_side: 1280,
            frame_features: 3000,
            ref_side: 480,
            ref_features: 800,
            ratio: 0.8,
            max_distance: 72,
            ransac_threshold: 5.0,
            min_inliers: 8,
            whole_frame: true,
            tiles: true,
            tile_map_side: 360,
            tile_windows: vec![[2, 2], [3, 3], [4, 4], [5, 5], [6, 6]],
            tile_fractions: vec![0.5, 0.3],
            tile_input: 128,
            tile_propose_cosine: 0.0,
            tile_candidates: 2,
            tile_min_inliers: 8,
            max_regions: 6,
            region_grow: 0.5,
            region_min_fraction: 0.25,
            region_side: 800,
            region_max_zoom: 3.0,
            region_features: 2000,
            orientation_tolerance: 25.0,
            scale_tolerance: 1.6,
            guided: true,
            guided_min_inliers: 4,
            guided_max_distance: 72,
        }
    }
}

impl MatchConfig {
    /// The thorough setting (`scan --fine-refs`, and `inspect`): the learned proposals read
    /// the frame at a 720 px short side instead of 360, so references down to about 5% of
    /// the frame width are proposed where keypoints on the whole frame miss them. Measured
    /// with `eval-refs --fine`: insets of 5-10% of the width 45/60 instead of 17/60, the
    /// 10-40% sets 60/60 on both seeds, 0 false alarms on them, about twice the cost per frame.
    pub fn fine() -> Self {
        Self {
            tile_map_side: 720,
            ..Self::default()
        }
    }
}

/// Which evidence accepted a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Keypoints on the whole frame.
    Keypoints,
    /// A learned tile proposal verified by keypoints inside the tile.
    Tile,
    /// Re-verified by keypoints around where the shot's last search found it
    /// ([`IpMatcher::follow`]).
    Followed,
}

/// A reference found in a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpMatch {
    /// Index into the references given to [`IpMatcher::match_frame`].
    pub reference: usize,
    /// The reference's opaque box corners (top-left, top-right, bottom-right, bottom-left)
    /// projected into the frame, in frame pixels.
    pub corners: [[f32; 2]; 4],
    /// Axis-aligned box (x0, y0, x1, y1) of `corners`, clipped to the frame.
    pub bbox: [f32; 4],
    /// Unique RANSAC inliers.
    pub inliers: u32,
    /// Confidence in [0, 1): inliers / (inliers + 8), so 0.5 at the default accept bar.
    pub score: f32,
    /// Box area / frame area.
    pub frame_share: f32,
    /// Which stage accepted it.
    pub stage: Stage,
    /// Best tile cosine for this reference, when the learned stage ran.
    pub cosine: Option<f32>,
}

/// Finds references in frames. Owns the (optional) embedder, so one per worker thread.
pub struct IpMatcher {
    config: MatchConfig,
    embedder: Option<IpEmbedder>,
    attempts: Vec<Attempt>,
}

/// One verification attempt of the last [`IpMatcher::match_frame`] call, accepted or not
/// (diagnostics: how close rejected candidates came to the accept bar).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// Index into the references.
    pub reference: usize,
    /// Which stage tried.
    pub stage: Stage,
    /// Unique consistent inliers of the best model (0 when none was found).
    pub inliers: u32,
    /// Whether it became a match.
    pub accepted: bool,
    /// Frame box of the model's projection, when it passed the plausibility checks.
    pub bbox: Option<[f32; 4]>,
    /// The proposing tile's cosine (tile stage).
    pub cosine: Option<f32>,
    /// The proposing window, frame pixels (tile stage).
    pub window: Option<[f32; 4]>,
}

/// A place the learned map proposed for a reference: where a search looked harder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Index into the references.
    pub reference: usize,
    /// The window (x0, y0, x1, y1), frame pixels.
    pub window: [f32; 4],
    /// Its cosine with the reference.
    pub cosine: f32,
}

impl IpMatcher {
    /// A keypoint-only matcher.
    pub fn new(config: MatchConfig) -> Self {
        Self {
            config,
            embedder: None,
            attempts: Vec::new(),
        }
    }

    /// A matcher with the learned tile stage.
    pub fn with_embedder(config: MatchConfig, embedder: IpEmbedder) -> Self {
        Self {
            config,
            embedder: Some(embedder),
            attempts: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    /// Every verification attempt of the last [`IpMatcher::match_frame`] call.
    pub fn last_attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The learned proposals the last call verified without finding their reference there
    /// (what [`IpMatcher::follow`] can look at again once the camera has pushed in).
    pub fn last_proposals(&self) -> Vec<Proposal> {
        self.attempts
            .iter()
            .filter(|a| a.stage == Stage::Tile && !a.accepted)
            .filter_map(|a| {
                Some(Proposal {
                    reference: a.reference,
                    window: a.window?,
                    cosine: a.cosine?,
                })
            })
            .collect()
    }

    /// Enrolls a reference with this matcher's settings (and embedder, if any).
    pub fn enroll(&mut self, name: &str, image: &DynamicImage) -> Result<RefImage, IpError> {
        RefImage::enroll(name, image, &self.config, self.embedder.as_mut())
    }

    /// All references found in `frame`, at most one match per reference, best first.
    pub fn match_frame(
        &mut self,
        frame: &RgbImage,
        refs: &[RefImage],
    ) -> Result<Vec<IpMatch>, IpError> {
        let (fw, fh) = frame.dimensions();
        if fw < 32 || fh < 32 {
            return Err(IpError::Input(format!("frame {fw}x{fh} is too small")));
        }
        let cfg = self.config.clone();
        let (full, set) = stages::time(stages::Stage::RefKeypoints, || {
            let full = Gray::from_rgb(frame);
            let s = (cfg.frame_max_side as f32 / fw.max(fh) as f32).min(1.0);
            let work = full.resize(
                ((fw as f32 * s).round() as usize).max(1),
                ((fh as f32 * s).round() as usize).max(1),
            );
            let params = OrbParams {
                max_features: cfg.frame_features,
                ..OrbParams::default()
            };
            let feats = orb::detect(&work, None, None, &params);
            (
                full,
                FrameSet::new(feats, s, [0.0, 0.0], cfg.ransac_threshold),
            )
        });
        self.attempts.clear();
        let mut found: Vec<Option<IpMatch>> = vec![None; refs.len()];
        for (ri, r) in refs.iter().enumerate().filter(|_| cfg.whole_frame) {
            found[ri] = self
                .attempt(
                    r,
                    ri,
                    &set,
                    cfg.min_inliers,
                    Stage::Keypoints,
                    None,
                    None,
                    (fw, fh),
                )
                .map(|v| into_match(v, ri, Stage::Keypoints, None, fw, fh));
        }
        let missing = refs
            .iter()
            .zip(&found)
            .any(|(r, f)| f.is_none() && r.embedding.is_some());
        if cfg.tiles && self.embedder.is_some() && missing {
            self.tile_stage(frame, &full, refs, &mut found)?;
        }
        let mut out: Vec<IpMatch> = found.into_iter().flatten().collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.inliers));
        Ok(out)
    }

    /// Re-verifies each of `previous` (matches of an earlier picture of the same shot) around
    /// where it was: keypoints re-detected in the region the tile stage would use, matched
    /// against that reference only. What is not verified there is left out. Then `proposals`
    /// (an earlier search's learned proposals that were not verified, mapped into this frame)
    /// are verified again, as the tile stage does: a reference too small to verify then may
    /// have grown enough since. Much cheaper than [`IpMatcher::match_frame`]: no whole-frame
    /// pass, no learned map, a few regions and one reference each.
    pub fn follow(
        &mut self,
        frame: &RgbImage,
        refs: &[RefImage],
        previous: &[IpMatch],
        proposals: &[Proposal],
    ) -> Result<Vec<IpMatch>, IpError> {
        let (fw, fh) = frame.dimensions();
        if fw < 32 || fh < 32 {
            return Err(IpError::Input(format!("frame {fw}x{fh} is too small")));
        }
        self.attempts.clear();
        if previous.is_empty() && proposals.is_empty() {
            return Ok(Vec::new());
        }
        let cfg = self.config.clone();
        let full = stages::time(stages::Stage::RefKeypoints, || Gray::from_rgb(frame));
        let mut found: Vec<Option<IpMatch>> = vec![None; refs.len()];
        for p in previous {
            let Some(r) = refs.get(p.reference) else {
                continue;
            };
            let set = region_features(&full, grow(p.bbox, &cfg, fw, fh), &cfg);
            let (min, stage) = (cfg.tile_min_inliers, Stage::Followed);
            let at = (fw, fh);
            if let Some(v) = self.attempt(r, p.reference, &set, min, stage, p.cosine, None, at) {
                found[p.reference] = Some(into_match(v, p.reference, stage, p.cosine, fw, fh));
            }
        }
        let wanted: Vec<Proposal> = proposals
            .iter()
            .filter(|p| p.reference < refs.len())
            .filter(|p| previous.iter().all(|m| m.reference != p.reference))
            .copied()
            .collect();
        self.verify_proposals(&full, refs, &wanted, &mut found, (fw, fh));
        let mut out: Vec<IpMatch> = found.into_iter().flatten().collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.inliers));
        Ok(out)
    }

    /// Verifies reference `r` (index `ri`) against `set` with the accept bar `min_inliers`,
    /// records the attempt (with the proposing `cosine`, if any) and gives what was verified.
    #[allow(clippy::too_many_arguments)]
    fn attempt(
        &mut self,
        r: &RefImage,
        ri: usize,
        set: &FrameSet,
        min_inliers: u32,
        stage: Stage,
        cosine: Option<f32>,
        window: Option<[f32; 4]>,
        frame: (u32, u32),
    ) -> Option<Verified> {
        let o = stages::time(stages::Stage::RefVerify, || {
            verify(r, set, &self.config, min_inliers, frame)
        });
        self.attempts.push(Attempt {
            reference: ri,
            stage,
            inliers: o.inliers,
            accepted: o.verified.is_some(),
            bbox: o.bbox,
            cosine,
            window,
        });
        o.verified
    }

    fn tile_stage(
        &mut self,
        frame: &RgbImage,
        full: &Gray,
        refs: &[RefImage],
        found: &mut [Option<IpMatch>],
    ) -> Result<(), IpError> {
        let embedder = self.embedder.as_mut().expect("checked by the caller");
        let order = stages::time(stages::Stage::RefProposals, || {
            proposals::propose(embedder, frame, refs, found, &self.config)
        })?;
        self.verify_proposals(full, refs, &order, found, frame.dimensions());
        Ok(())
    }

    /// Verifies `proposals` in order (a reference once found is not tried again), re-detecting
    /// keypoints in at most `max_regions` regions per frame; a proposal inside a region
    /// already detected reuses it. A match records the best cosine proposed for its reference.
    fn verify_proposals(
        &mut self,
        full: &Gray,
        refs: &[RefImage],
        proposals: &[Proposal],
        found: &mut [Option<IpMatch>],
        (fw, fh): (u32, u32),
    ) {
        let cfg = self.config.clone();
        let mut regions: Vec<([f32; 4], FrameSet)> = Vec::new();
        for p in proposals {
            let (ri, rect) = (p.reference, p.window);
            let Some(r) = refs.get(ri) else {
                continue;
            };
            if found[ri].is_some() {
                continue;
            }
            let at = match regions.iter().position(|(g, _)| contains(g, &rect)) {
                Some(i) => i,
                None if regions.len() < cfg.max_regions => {
                    let g = grow(rect, &cfg, fw, fh);
                    regions.push((g, region_features(full, g, &cfg)));
                    regions.len() - 1
                }
                None => continue,
            };
            let (min, cos) = (cfg.tile_min_inliers, Some(p.cosine));
            let set = &regions[at].1;
            if let Some(v) = self.attempt(r, ri, set, min, Stage::Tile, cos, Some(rect), (fw, fh)) {
                let best = proposals
                    .iter()
                    .filter(|q| q.reference == ri)
                    .map(|q| q.cosine)
                    .reduce(f32::max);
                found[ri] = Some(into_match(v, ri, Stage::Tile, best, fw, fh));
            }
        }
    }
}

/// True when `outer` contains `inner`.
fn contains(outer: &[f32; 4], inner: &[f32; 4]) -> bool {
    outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3]
}

/// The region re-detected for a proposal: the window grown by `region_grow` of its size on
/// each side (the reference may be larger than the window, or straddle it), at least
/// `region_min_fraction` of the frame's short side, inside the frame.
fn grow(r: [f32; 4], cfg: &MatchConfig, fw: u32, fh: u32) -> [f32; 4] {
    let (w, h) = (r[2] - r[0], r[3] - r[1]);
    let min = cfg.region_min_fraction * fw.min(fh) as f32;
    let gw = (w * (1.0 + 2.0 * cfg.region_grow)).max(min).min(fw as f32);
    let gh = (h * (1.0 + 2.0 * cfg.region_grow)).max(min).min(fh as f32);
    let (cx, cy) = ((r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0);
    let x0 = (cx - gw / 2.0).clamp(0.0, fw as f32 - gw);
    let y0 = (cy - gh / 2.0).clamp(0.0, fh as f32 - gh);
    [x0, y0, x0 + gw, y0 + gh]
}

fn into_match(
    v: Verified,
    reference: usize,
    stage: Stage,
    cosine: Option<f32>,
    fw: u32,
    fh: u32,
) -> IpMatch {
    let bbox = bbox_of(&v.corners, (fw, fh));
    let area = (bbox[2] - bbox[0]).max(0.0) * (bbox[3] - bbox[1]).max(0.0);
    IpMatch {
        reference,
        corners: v.corners,
        bbox,
        inliers: v.inliers,
        score: v.inliers as f32 / (v.inliers as f32 + 8.0),
        frame_share: area / (fw as f32 * fh as f32),
        stage,
        cosine,
    }
}

/// Frame features inside one proposal region, re-detected with the crop scaled so its long
/// side is `region_side` (magnified at most `region_max_zoom` times): small insets get many
/// more features there than in the whole-frame pass.
fn region_features(full: &Gray, g: [f32; 4], cfg: &MatchConfig) -> FrameSet {
    stages::time(stages::Stage::RefKeypoints, || detect_region(full, g, cfg))
}

fn detect_region(full: &Gray, g: [f32; 4], cfg: &MatchConfig) -> FrameSet {
    let x0 = (g[0].max(0.0) as usize).min(full.w.saturating_sub(1));
    let y0 = (g[1].max(0.0) as usize).min(full.h.saturating_sub(1));
    let x1 = (g[2].ceil().max(0.0) as usize).clamp(x0 + 1, full.w);
    let y1 = (g[3].ceil().max(0.0) as usize).clamp(y0 + 1, full.h);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut crop = Gray::filled(cw, ch, 0);
    for y in 0..ch {
        let src = &full.px[(y0 + y) * full.w + x0..(y0 + y) * full.w + x1];
        crop.px[y * cw..(y + 1) * cw].copy_from_slice(src);
    }
    let scale = (cfg.region_side as f32 / cw.max(ch) as f32).min(cfg.region_max_zoom);
    let work = crop.resize(
        ((cw as f32 * scale).round() as usize).max(1),
        ((ch as f32 * scale).round() as usize).max(1),
    );
    let params = OrbParams {
        max_features: cfg.region_features,
        ..OrbParams::default()
    };
    // The RANSAC threshold grows with the crop's magnification over the whole-frame pass
    // (square root: localisation error does not grow as fast as the zoom).
    let whole = (cfg.frame_max_side as f64 / full.w.max(full.h) as f64).min(1.0);
    let threshold = cfg.ransac_threshold * (scale as f64 / whole).max(1.0).sqrt();
    FrameSet::new(
        orb::detect(&work, None, None, &params),
        scale,
        [x0 as f32, y0 as f32],
        threshold,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbaImage;

    /// A synthetic "logo" with an alpha channel: textured opaque disc, transparent corners.
    fn logo() -> RgbaImage {
        let mut rng = orb::SplitMix64(21);
        let mut img = RgbaImage::new(160, 160);
        for _ in 0..60 {
            let (x0, y0) = (rng.below(140), rng.below(140));
            let (w, h) = (6 + rng.below(24), 6 + rng.below(24));
            let col = [
                rng.below(256) as u8,
                rng.below(256) as u8,
                rng.below(256) as u8,
            ];
            for y in y0..(y0 + h).min(160) {
                for x in x0..(x0 + w).min(160) {
                    img.put_pixel(
                        x as u32,
                        y as u32,
                        image::Rgba([col[0], col[1], col[2], 255]),
                    );
                }
            }
        }
        for (x, y, p) in img.enumerate_pixels_mut() {
            let (dx, dy) = (x as f32 - 80.0, y as f32 - 80.0);
            if dx * dx + dy * dy > 70.0 * 70.0 {
                *p = image::Rgba([rng.below(256) as u8, 0, rng.below(256) as u8, 0]);
            }
        }
        img
    }

    #[test]
    fn enrollment_uses_only_opaque_pixels_and_round_trips() {
        let img = DynamicImage::ImageRgba8(logo());
        let r = RefImage::enroll("logo", &img, &MatchConfig::default(), None).unwrap();
        assert!(r.features.len() > 30, "{}", r.features.len());
        for k in &r.features.keypoints {
            let (dx, dy) = (k.x - 80.0, k.y - 80.0);
            assert!(
                dx * dx + dy * dy <= 72.0 * 72.0,
                "keypoint at {},{} is transparent",
                k.x,
                k.y
            );
        }
        let back = RefImage::from_bytes(&r.to_bytes()).unwrap();
        assert_eq!(back, r);
        let mut bytes = r.to_bytes();
        bytes[0] = 99; // format version
        assert!(RefImage::from_bytes(&bytes).is_err());
    }

    #[test]
    fn finds_a_synthetic_logo_pasted_into_a_frame_and_nothing_in_an_empty_one() {
        let logo = logo();
        let r = RefImage::enroll(
            "logo",
            &DynamicImage::ImageRgba8(logo.clone()),
            &MatchConfig::default(),
            None,
        )
        .unwrap();
        let mut frame = RgbImage::from_pixel(640, 360, image::Rgb([40, 60, 50]));
        let big = image::imageops::resize(&logo, 200, 200, image::imageops::FilterType::Triangle);
        for (x, y, p) in big.enumerate_pixels() {
            if p[3] >= 128 {
                frame.put_pixel(300 + x, 100 + y, image::Rgb([p[0], p[1], p[2]]));
            }
        }
        let mut m = IpMatcher::new(MatchConfig::default());
        let found = m.match_frame(&frame, std::slice::from_ref(&r)).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let b = found[0].bbox;
        // Opaque box of the logo is the disc's box (10..150 of 160) scaled by 200/160.
        let truth = [300.0 + 12.5, 100.0 + 12.5, 300.0 + 187.5, 100.0 + 187.5];
        for (a, t) in b.iter().zip(truth) {
            assert!((a - t).abs() < 8.0, "{b:?} vs {truth:?}");
        }
        let empty = RgbImage::from_pixel(640, 360, image::Rgb([40, 60, 50]));
        assert!(m.match_frame(&empty, &[r]).unwrap().is_empty());
    }
}
