//! Face detection on a whole frame: BlazeFace full range on the frame and on overlapping
//! tiles (so small faces are found), short range on the frame for close-ups, merged; on dim
//! frames also a second detector, the MTCNN cascade (`cascade`), which on lit frames proposes
//! the faces of 56-128 px the tiles miss (`Pass::Small`) for BlazeFace's close look.

pub mod blazeface;
pub mod cascade;
mod input;
mod looks;
mod passes;

use crate::models::{CascadeModels, ModelRef};
use crate::runtime::RuntimeError;
use blazeface::RawDetection;
use cascade::Cascade;
use image::RgbImage;
use input::BlazeModel;
pub use passes::{HardFaces, Pass, Turn, EXTRA_SCORE};
use serde::Serialize;

/// A face found in a frame, in frame pixels.
#[derive(Debug, Clone, Serialize)]
pub struct Face {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// Detector confidence (0..1).
    pub score: f32,
    /// Keypoints: image-left eye, image-right eye, nose tip, mouth centre, then ears.
    pub keypoints: Vec<[f32; 2]>,
}

impl Face {
    /// The face's size in pixels (the longer side of its box).
    pub fn size(&self) -> f32 {
        self.w.max(self.h)
    }

    /// Box centre.
    pub fn centre(&self) -> [f32; 2] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0]
    }

    /// `[x0, y0, x1, y1]`.
    pub fn corners(&self) -> [f32; 4] {
        [self.x, self.y, self.x + self.w, self.y + self.h]
    }
}

/// Detection settings, validated once.
#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    /// Side of the square tiles the full-range model also runs on (0 disables tiling).
    pub tile: u32,
    /// Overlap between neighbouring tiles in pixels; a face smaller than this is always whole
    /// in some tile.
    pub overlap: u32,
    /// Faces smaller than this many pixels are dropped (too small to identify reliably).
    pub min_face: f32,
    /// Where a scan spends the passes for hard faces (turned, tiny).
    pub hard: HardFaces,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            tile: 640,
            overlap: 192,
            min_face: 24.0,
            hard: HardFaces::default(),
        }
    }
}

impl DetectOptions {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.tile != 0 && (self.tile < 128 || self.overlap > self.tile / 2) {
            return Err(format!(
                "tile size {} with overlap {}: tiles must be >= 128 px and overlap < half a tile",
                self.tile, self.overlap
            ));
        }
        if self.min_face.is_nan() || self.min_face < 0.0 {
            return Err("minimum face size must be >= 0".into());
        }
        Ok(())
    }
}

/// A rectangle of the frame fed to the model, letterboxed into its square input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Overlapping tiles of side `tile` covering a `width` x `height` frame, spread evenly.
pub fn tiles(width: u32, height: u32, tile: u32, overlap: u32) -> Vec<Region> {
    if tile == 0 || (width <= tile * 5 / 4 && height <= tile * 5 / 4) {
        return Vec::new();
    }
    let axis = |len: u32| -> Vec<(u32, u32)> {
        if len <= tile {
            return vec![(0, len)];
        }
        let step = tile - overlap;
        let n = (len - tile).div_ceil(step) + 1;
        (0..n)
            .map(|i| {
                // Even spread: first at 0, last flush with the far edge.
                let start = ((len - tile) as u64 * i as u64 / (n - 1) as u64) as u32;
                (start, tile)
            })
            .collect()
    };
    let xs = axis(width);
    let ys = axis(height);
    let mut out = Vec::with_capacity(xs.len() * ys.len());
    for &(y, h) in &ys {
        for &(x, w) in &xs {
            out.push(Region { x, y, w, h });
        }
    }
    out
}

/// True when the box touches an edge of its tile that is not an edge of the frame: such a
/// face is cut off here and seen whole in the neighbouring tile.
fn cut_by_tile(d: &RawDetection, r: Region, fw: u32, fh: u32) -> bool {
    let m = 2.0;
    let [x0, y0, x1, y1] = [
        d.cx - d.w / 2.0,
        d.cy - d.h / 2.0,
        d.cx + d.w / 2.0,
        d.cy + d.h / 2.0,
    ];
    (r.x > 0 && x0 < r.x as f32 + m)
        || (r.y > 0 && y0 < r.y as f32 + m)
        || (r.x + r.w < fw && x1 > (r.x + r.w) as f32 - m)
        || (r.y + r.h < fh && y1 > (r.y + r.h) as f32 - m)
}

/// The face detector a worker thread owns.
pub struct FaceDetector {
    full: BlazeModel,
    short: Option<BlazeModel>,
    /// The second detector for dim frames ([`Pass::Dim`]), when the manifest names one.
    cascade: Option<Cascade>,
    opts: DetectOptions,
}

/// The upright pass's result: accepted detections, the face-like regions it saw, and the
/// shrunk copy of the frame its tiles read (when they read one).
struct Upright {
    faces: Vec<RawDetection>,
    regions: Vec<RawDetection>,
    shrunk: Option<RgbImage>,
}

impl FaceDetector {
    /// Loads the detector models named by the manifest.
    pub fn load(
        full: &ModelRef,
        short: Option<&ModelRef>,
        opts: DetectOptions,
        threads: usize,
    ) -> Result<Self, RuntimeError> {
        Ok(Self {
            full: BlazeModel::load(full, threads)?,
            short: short.map(|s| BlazeModel::load(s, threads)).transpose()?,
            cascade: None,
            opts,
        })
    }

    /// Adds the second detector for dim frames (run by [`Pass::Dim`]); `None` leaves it out.
    pub fn with_cascade(
        mut self,
        cascade: Option<&CascadeModels>,
        threads: usize,
    ) -> Result<Self, RuntimeError> {
        self.cascade = cascade.map(|c| Cascade::load(c, threads)).transpose()?;
        Ok(self)
    }

    /// The settings in use.
    pub fn options(&self) -> &DetectOptions {
        &self.opts
    }

    /// All faces in `img` from the upright pass, largest first.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<Face>, RuntimeError> {
        self.detect_with(img, &[])
    }

    /// All faces in `img` from the upright pass and `extra` passes, largest first.
    pub fn detect_with(
        &mut self,
        img: &RgbImage,
        extra: &[Pass],
    ) -> Result<Vec<Face>, RuntimeError> {
        Ok(self
            .detect_passes(img, extra)?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// As [`FaceDetector::detect_with`], each face with the pass that found it (the upright
    /// one when several did).
    pub fn detect_passes(
        &mut self,
        img: &RgbImage,
        extra: &[Pass],
    ) -> Result<Vec<(Face, Pass)>, RuntimeError> {
        self.detect_passes_after(img, extra, &[])
    }

    /// As [`FaceDetector::detect_passes`] on a sample of a shot whose previous sample found
    /// `prev`: a face of `prev` that no pass finds again gets a close look where it was (as
    /// [`FaceDetector::follow`] gives it), so a face only a sparse pass finds (the small
    /// faces' one) is kept on the shot's later grid samples.
    pub fn detect_passes_after(
        &mut self,
        img: &RgbImage,
        extra: &[Pass],
        prev: &[(Face, Pass)],
    ) -> Result<Vec<(Face, Pass)>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        if fw == 0 || fh == 0 {
            return Ok(Vec::new());
        }
        let want_regions = extra.contains(&Pass::Regions);
        let up = self.upright(img, want_regions, true, true)?;
        let mut more: Vec<(RawDetection, Pass)> = Vec::new();
        for &pass in extra {
            let found = match pass {
                Pass::Upright | Pass::Dim => Vec::new(),
                Pass::Turned(turn) => self.turned(img, turn)?,
                Pass::Fine => self.fine(img)?,
                Pass::Regions => self.regions(img, &up.regions)?,
                Pass::Small => {
                    let known: Vec<RawDetection> = up
                        .faces
                        .iter()
                        .chain(more.iter().map(|(d, _)| d))
                        .cloned()
                        .collect();
                    self.small(img, up.shrunk.as_ref(), &known)?
                }
            };
            for d in found {
                // A close look's face between the model's threshold and the extra passes'
                // bar stands when the short-range model sees it too (a dim or noisy face).
                let sure = d.score >= passes::EXTRA_SCORE
                    || (matches!(pass, Pass::Regions | Pass::Small)
                        && d.score >= self.full.threshold()
                        && self.seen_close_up(img, &d)?);
                if sure {
                    more.push((d, pass));
                }
            }
        }
        if extra.contains(&Pass::Dim) {
            self.add_dim(img, &up.faces, &mut more)?;
        }
        let iou = self.full.nms_iou();
        // `off` (no extra pass) is the upright pass alone, on grid samples too.
        let prev = if extra.is_empty() { &[] } else { prev };
        let lost: Vec<(Face, Pass)> = prev
            .iter()
            .take(MAX_FOLLOWED)
            .filter(|(f, _)| {
                let d = to_raw(f);
                !up.faces
                    .iter()
                    .chain(more.iter().map(|(m, _)| m))
                    .any(|k| passes::same_face(k, &d, iou))
            })
            .cloned()
            .collect();
        more.extend(self.looks_again(img, &lost)?);
        Ok(self.merged(up.faces, more))
    }

    /// Faces on a shot's sample between those that look on the whole grid: full and short
    /// range on the whole frame (large faces, newcomers close up), and a close look around
    /// each face of the previous sample (`prev`, at the turn its pass found it; every turn
    /// for a close look's find), accepted at the model's threshold since the face was there.
    /// Each face keeps the pass that first found it, so it is followed at the same turn.
    /// With `dim`, the second detector also looks at the whole frame when it is dim (on every
    /// sample, not only the key ones: BlazeFace's close looks lose the faces it finds there,
    /// and a person's dim views group better the more of them a track holds).
    pub fn follow(
        &mut self,
        img: &RgbImage,
        prev: &[(Face, Pass)],
        dim: bool,
    ) -> Result<Vec<(Face, Pass)>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        if fw == 0 || fh == 0 {
            return Ok(Vec::new());
        }
        let up = self.upright(img, false, true, false)?;
        let followed = &prev[..prev.len().min(MAX_FOLLOWED)];
        let mut more = self.looks_again(img, followed)?;
        if dim {
            self.add_dim(img, &up.faces, &mut more)?;
        }
        Ok(self.merged(up.faces, more))
    }

    /// The upright pass's faces and the extra ones, merged, big enough, largest first.
    fn merged(
        &self,
        upright: Vec<RawDetection>,
        more: Vec<(RawDetection, Pass)>,
    ) -> Vec<(Face, Pass)> {
        let iou = self.full.nms_iou();
        let mut faces: Vec<(Face, Pass)> = passes::merge(upright, more, iou)
            .into_iter()
            .map(|(d, pass)| (to_face(d), pass))
            .filter(|(f, _)| f.size() >= self.opts.min_face)
            .collect();
        faces.sort_by(|a, b| b.0.size().total_cmp(&a.0.size()));
        faces
    }

    /// Full range on the frame and, with `grid`, its tiles; short range on the frame (with
    /// `short`), merged; with `regions`, also the sub-threshold responses that overlap no
    /// accepted face.
    fn upright(
        &mut self,
        img: &RgbImage,
        regions: bool,
        short: bool,
        grid: bool,
    ) -> Result<Upright, RuntimeError> {
        let threshold = self.full.threshold();
        let low = if regions {
            passes::REGION_SCORE.min(threshold)
        } else {
            threshold
        };
        let (fw, fh) = img.dimensions();
        let whole = whole(img);
        let mut rs = vec![whole];
        if grid {
            rs.extend(tiles(fw, fh, self.opts.tile, self.opts.overlap));
        }
        // One shrunk copy of the frame for the tiles, the whole frame and the short range.
        let small = self.full.shrunk_for(img, &rs);
        let (mut all, weak): (Vec<RawDetection>, Vec<RawDetection>) = self
            .full
            .detect_above(img, small.as_ref(), &rs, low)?
            .into_iter()
            .filter(|(d, r)| *r == whole || !cut_by_tile(d, *r, fw, fh))
            .map(|(d, _)| d)
            .partition(|d| d.score >= threshold);
        if let Some(short) = self.short.as_mut().filter(|_| short) {
            // Short range is trained on close faces; small hits from it are unreliable.
            let min = 0.15 * fw.max(fh) as f32;
            all.extend(
                short
                    .detect_above(img, small.as_ref(), &[whole], short.threshold())?
                    .into_iter()
                    .map(|(d, _)| d)
                    .filter(|d| d.w.max(d.h) >= min),
            );
        }
        let iou = self.full.nms_iou();
        let faces = blazeface::weighted_nms(all, iou);
        let mut regions: Vec<RawDetection> = if regions {
            let unsure = faces
                .iter()
                .filter(|f| f.score < passes::SURE_SCORE)
                .cloned();
            let weak = blazeface::weighted_nms(weak, iou)
                .into_iter()
                .filter(|w| !faces.iter().any(|f| f.iou(w) > 0.0));
            unsure.chain(weak).collect()
        } else {
            Vec::new()
        };
        regions.truncate(passes::MAX_REGIONS);
        Ok(Upright {
            faces,
            regions,
            shrunk: small,
        })
    }

    /// The upright pass on the frame turned, mapped back.
    fn turned(&mut self, img: &RgbImage, turn: Turn) -> Result<Vec<RawDetection>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        let t = turn.apply(img);
        // No short range here: it gave false faces on turned real photos (a cat, a cup).
        let found: Vec<RawDetection> = self
            .upright(&t, false, false, true)?
            .faces
            .into_iter()
            .map(|d| turn.back_detection(d, fw as f32, fh as f32, [0.0, 0.0]))
            .collect();
        // Each one confirmed by a close look at the same turn: a spoon's highlights passed
        // the whole turned frame at 0.81, and a close look at 0.63.
        let mut confirmed = Vec::new();
        for d in found {
            confirmed.extend(
                self.close_looks(img, std::slice::from_ref(&d), &[turn])?
                    .into_iter()
                    .filter(|c| c.score >= passes::EXTRA_SCORE)
                    .map(|_| d.clone()),
            );
        }
        Ok(confirmed)
    }

    /// Full range on small tiles, for faces too small for the 640 px ones; its own
    /// sub-threshold responses there get a close look (enlarged crops), which finds the
    /// ~24 px faces the tiles alone see only faintly.
    fn fine(&mut self, img: &RgbImage) -> Result<Vec<RawDetection>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        let rs = tiles(fw, fh, passes::FINE_TILE, passes::FINE_OVERLAP);
        let threshold = self.full.threshold();
        let (found, weak): (Vec<RawDetection>, Vec<RawDetection>) = self
            .full
            .detect_above(img, None, &rs, passes::REGION_SCORE.min(threshold))?
            .into_iter()
            .filter(|(d, r)| !cut_by_tile(d, *r, fw, fh))
            .map(|(d, _)| d)
            .filter(|d| d.w.max(d.h) <= passes::FINE_MAX_FACE)
            .partition(|d| d.score >= threshold);
        let iou = self.full.nms_iou();
        let mut found = blazeface::weighted_nms(found, iou);
        let mut weak: Vec<RawDetection> = blazeface::weighted_nms(weak, iou)
            .into_iter()
            .filter(|w| !found.iter().any(|f| f.iou(w) > 0.0))
            .collect();
        weak.truncate(passes::MAX_REGIONS);
        found.extend(self.close_looks(img, &weak, &[Turn::None])?);
        Ok(found)
    }

    /// Adds to `more` (the other passes' faces), on a dim frame, the cascade's faces that
    /// neither `upright` nor `more` has: BlazeFace's stand where both find a face (its score
    /// is not on the cascade's scale, and its six keypoints also give the head's pose).
    /// Nothing on a lit frame, or without the cascade.
    fn add_dim(
        &mut self,
        img: &RgbImage,
        upright: &[RawDetection],
        more: &mut Vec<(RawDetection, Pass)>,
    ) -> Result<(), RuntimeError> {
        let iou = self.full.nms_iou();
        let min_face = self.opts.min_face.max(cascade::MIN_FACE);
        let Some(c) = self.cascade.as_mut() else {
            return Ok(());
        };
        let faces = crate::stages::time(crate::stages::Stage::DimDetect, || {
            if cascade::is_dim(img) {
                c.detect(img, min_face)
            } else {
                Ok(Vec::new())
            }
        })?;
        let others = more.len();
        for d in faces {
            let mut known = upright.iter().chain(more[..others].iter().map(|(k, _)| k));
            if !known.any(|f| passes::same_face(f, &d, iou)) {
                more.push((d, Pass::Dim));
            }
        }
        Ok(())
    }

    /// On a lit frame, the second detector's faces of [`passes::SMALL_FACES`] px that none of
    /// `known` is, best first, each given a close look (upright): BlazeFace's box and
    /// keypoints where it confirms one. `shrunk` is the upright pass's copy of the frame.
    fn small(
        &mut self,
        img: &RgbImage,
        shrunk: Option<&RgbImage>,
        known: &[RawDetection],
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        let band = cascade::Band {
            faces: [
                passes::SMALL_FACES[0].max(self.opts.min_face),
                passes::SMALL_FACES[1],
            ],
            shrunk,
            known,
            iou: self.full.nms_iou(),
        };
        let Some(c) = self.cascade.as_mut() else {
            return Ok(Vec::new());
        };
        if cascade::is_dim(img) {
            return Ok(Vec::new());
        }
        let mut proposed = crate::stages::time(crate::stages::Stage::SmallFaces, || {
            c.detect_band(img, &band)
        })?;
        proposed.sort_by(|a, b| b.score.total_cmp(&a.score));
        proposed.truncate(passes::MAX_SMALL);
        self.close_looks(img, &proposed, &[Turn::None])
    }

    /// Close looks at the upright pass's face-like regions, at every turn.
    fn regions(
        &mut self,
        img: &RgbImage,
        regions: &[RawDetection],
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        self.close_looks(img, regions, &Turn::ALL)
    }

    /// The face-like regions of the upright pass (what [`Pass::Regions`] looks at): the faces
    /// it accepted unsure, then its sub-threshold responses that overlap no accepted face.
    pub fn face_like_regions(&mut self, img: &RgbImage) -> Result<Vec<Face>, RuntimeError> {
        Ok(self
            .upright(img, true, true, true)?
            .regions
            .into_iter()
            .map(to_face)
            .collect())
    }
}

/// Faces followed from one sample to the next, at most (a crowd is left to the grid).
const MAX_FOLLOWED: usize = 8;

/// A detection in frame pixels as a face.
fn to_face(d: RawDetection) -> Face {
    Face {
        x: d.cx - d.w / 2.0,
        y: d.cy - d.h / 2.0,
        w: d.w,
        h: d.h,
        score: d.score,
        keypoints: d.keypoints,
    }
}

/// A face as the detection it came from (centre and size in frame pixels).
fn to_raw(f: &Face) -> RawDetection {
    let [cx, cy] = f.centre();
    RawDetection {
        cx,
        cy,
        w: f.w,
        h: f.h,
        score: f.score,
        keypoints: f.keypoints.clone(),
    }
}

/// The whole picture as a region.
fn whole(img: &RgbImage) -> Region {
    Region {
        x: 0,
        y: 0,
        w: img.width(),
        h: img.height(),
    }
}

#[cfg(test)]
mod tests;
