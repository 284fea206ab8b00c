//! The second detector for dim frames: the MTCNN cascade (Zhang et al., 2016; the weights of
//! PyPI `mtcnn` 1.0.0, MIT, converted by `scripts/build_cascade.py`). A proposal network
//! slides over an image pyramid, a refining network re-scores each proposal on its own 24 px
//! crop, and an output network gives the final box and five landmarks on a 48 px crop.
//!
//! Why a second detector: BlazeFace misses small faces in dark, noisy frames (night shots;
//! `eval-unknown`'s dim split: three 60 px faces never detected at any setting of the passes),
//! where the cascade, trained on other data and looking at every 12 px window of its pyramid,
//! finds them. It costs several BlazeFace runs per frame, so the scan runs it only on dim
//! frames ([`is_dim`]): on every sample of a dim shot, since BlazeFace's close looks between
//! key samples lose the faces only the cascade sees.
//!
//! The stages follow the reference implementation (boxes in its 1-based pixel convention,
//! truncation where it truncates, the same non-maximum suppression), so the landmarks and
//! boxes agree with it (`tests/parity/check_cascade.py` holds the models to it).

use super::blazeface::RawDetection;
use crate::media::{luma, spread_of};
use crate::models::{CascadeModels, ModelRef};
use crate::runtime::{Model, RuntimeError};
use area::{crop_into, resample_into};
use image::RgbImage;

mod area;

/// A frame whose luma spans fewer levels than this (2nd to 98th percentile) is dim: the range
/// the cut detector also stretches (`shots::difference`). Measured on `eval-unknown`'s frames:
/// dark shots span 35-58 levels, lit ones 124 and more.
pub const DIM_FRAME_SPREAD: u8 = 80;

/// The smallest face the cascade looks for on a whole frame, in pixels: the pyramid's first
/// level maps it to the network's 12 px window (faces from 60 px are what identification
/// needs; the cascade's boxes run a little larger than the face).
pub const MIN_FACE: f32 = 40.0;

/// The pyramid's scale step (the reference's).
const FACTOR: f32 = 0.709;
/// Score thresholds of the three stages (the reference's defaults).
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
/// Proposals passed to the refining stage, and refined boxes to the output stage, at most
/// (best first): bounds a noisy frame's cost.
const MAX_REFINE: usize = 400;
const MAX_OUTPUT: usize = 64;
/// Crops per model run.
const BATCH: usize = 64;

/// Whether `img` is dim: its luma, read on a grid of every 8th pixel of every 8th row (32k
/// pixels of a 1080p frame, ~0.2 ms), spans fewer than [`DIM_FRAME_SPREAD`] levels.
pub fn is_dim(img: &RgbImage) -> bool {
    let row = img.width() as usize * 3;
    let levels = img
        .as_raw()
        .chunks_exact(row.max(3))
        .step_by(8)
        .flat_map(|r| r.chunks_exact(3).step_by(8))
        .map(|p| luma(p[0], p[1], p[2]));
    spread_of(levels).is_some_and(|(lo, hi)| hi.saturating_sub(lo) < DIM_FRAME_SPREAD)
}

/// What the small-faces pass asks of the cascade ([`Cascade::detect_band`]).
pub struct Band<'a> {
    /// Smallest and largest face, in frame pixels.
    pub faces: [f32; 2],
    /// The whole frame shrunk (the first detector's copy), to build the pyramid from.
    pub shrunk: Option<&'a RgbImage>,
    /// Faces found already: proposals on them are dropped.
    pub known: &'a [RawDetection],
    /// Overlap at which a proposal is one of `known` (as [`super::passes::merge`] judges).
    pub iou: f32,
}

/// One network of the cascade and how to feed it.
struct Net {
    name: String,
    model: Model,
    input: String,
    scale: f32,
    offset: f32,
    side: u32,
    regression: String,
    probability: String,
    landmarks: Option<String>,
}

impl Net {
    fn load(m: &ModelRef, threads: usize) -> Result<Self, RuntimeError> {
        let out = |k: &str| m.entry.output(k).unwrap_or(k).to_string();
        Ok(Self {
            name: m.name.clone(),
            model: Model::load(&m.name, &m.path, threads)?,
            input: m.entry.input.name.clone(),
            scale: m.entry.input.scale,
            offset: m.entry.input.offset,
            side: m.entry.input.width,
            regression: out("regression"),
            probability: out("probability"),
            landmarks: m.entry.output("landmarks").map(str::to_string),
        })
    }

    /// Runs the net on same-size planes (NCHW, already scaled); its outputs in the order
    /// regression, probability, landmarks.
    fn run(
        &mut self,
        n: usize,
        h: usize,
        w: usize,
        data: Vec<f32>,
    ) -> Result<Vec<crate::runtime::Output>, RuntimeError> {
        let input = ndarray::ArrayD::from_shape_vec(vec![n, 3, h, w], data).map_err(|e| {
            RuntimeError::Run {
                model: self.name.clone(),
                cause: e.to_string(),
            }
        })?;
        let mut names = vec![self.regression.as_str(), self.probability.as_str()];
        if let Some(l) = self.landmarks.as_deref() {
            names.push(l);
        }
        let out = self.model.run(&self.input, input, &names)?;
        if out.len() != names.len() {
            return Err(RuntimeError::Run {
                model: self.name.clone(),
                cause: "the cascade model returned too few outputs".into(),
            });
        }
        Ok(out)
    }
}

/// A box of the cascade: corners in the reference's convention (x1, y1, x2, y2, inclusive,
/// pixel `x1` is column `x1 - 1`), score, and the regression the stage gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

/// How overlap is measured in suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller box.
    Min,
}

/// The cascade a worker thread owns.
pub struct Cascade {
    proposal: Net,
    refine: Net,
    output: Net,
}

impl Cascade {
    /// Loads the three networks.
    pub fn load(m: &CascadeModels, threads: usize) -> Result<Self, RuntimeError> {
        Ok(Self {
            proposal: Net::load(&m.proposal, threads)?,
            refine: Net::load(&m.refine, threads)?,
            output: Net::load(&m.output, threads)?,
        })
    }

    /// Faces of at least `min_face` pixels in `img`, in frame pixels, each with four
    /// keypoints in BlazeFace's order: image-left eye, image-right eye, nose tip, mouth
    /// centre (the midpoint of the cascade's two mouth corners).
    pub fn detect(
        &mut self,
        img: &RgbImage,
        min_face: f32,
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        let (w, h) = img.dimensions();
        if w < 12 || h < 12 {
            return Ok(Vec::new());
        }
        let proposed = self.propose(img, img, pyramid(w, h, min_face.max(12.0)))?;
        let refined = self.refined(img, proposed)?;
        self.finished(img, refined)
    }

    /// Faces of `band.faces` pixels in a lit frame `img`, for the small-faces pass: the
    /// pyramid's levels for those sizes only, read from `band.shrunk` when it is at least as
    /// big as the first of them, and the proposals on a face found already dropped before
    /// the later stages. A proposer, not the reference's pipeline: what it finds gets a
    /// close look by BlazeFace.
    pub fn detect_band(
        &mut self,
        img: &RgbImage,
        band: &Band,
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        let (w, h) = img.dimensions();
        if w < 12 || h < 12 {
            return Ok(Vec::new());
        }
        let levels = band_levels(w, h, band.faces);
        let first = levels.first().copied().unwrap_or(0.0);
        let source = band
            .shrunk
            .filter(|s| {
                s.width() as f32 >= w as f32 * first && s.height() as f32 >= h as f32 * first
            })
            .unwrap_or(img);
        let proposed: Vec<Candidate> = self
            .propose(img, source, levels)?
            .into_iter()
            .filter(|c| {
                let d = to_detection(*c, [[0.0; 2]; 5]);
                !band
                    .known
                    .iter()
                    .any(|k| super::passes::same_face(k, &d, band.iou))
            })
            .collect();
        let refined = self.refined(img, proposed)?;
        self.finished(img, refined)
    }

    /// Stage 1: the proposal network over the pyramid's `levels` of `img`, each resampled
    /// from `source` (`img` itself, or a smaller copy of the whole of it).
    fn propose(
        &mut self,
        img: &RgbImage,
        source: &RgbImage,
        levels: Vec<f32>,
    ) -> Result<Vec<Candidate>, RuntimeError> {
        let (w, h) = img.dimensions();
        let (src_w, src_h) = source.dimensions();
        let mut all = Vec::new();
        for s in levels {
            let sw = (w as f32 * s).ceil() as u32;
            let sh = (h as f32 * s).ceil() as u32;
            if sw < 12 || sh < 12 {
                continue;
            }
            let mut data = vec![0f32; 3 * (sw * sh) as usize];
            resample_into(
                source,
                [0, 0, i64::from(src_w), i64::from(src_h)],
                (sw as usize, sh as usize),
                (self.proposal.scale, self.proposal.offset),
                &mut data,
            );
            let out = self.proposal.run(1, sh as usize, sw as usize, data)?;
            let (reg, prob) = (&out[0], &out[1]);
            let [1, 4, oh, ow] = reg.shape[..] else {
                return Err(shape_error("regression", &reg.shape));
            };
            if prob.shape[..] != [1, 2, oh, ow] {
                return Err(shape_error("probability", &prob.shape));
            }
            let plane = oh * ow;
            let mut found = Vec::new();
            for y in 0..oh {
                for x in 0..ow {
                    let i = y * ow + x;
                    let p = prob.data[plane + i];
                    if p < THRESHOLDS[0] {
                        continue;
                    }
                    let at = |k: f32| (k / s).trunc();
                    found.push(Candidate {
                        b: [
                            at(2.0 * x as f32 + 1.0),
                            at(2.0 * y as f32 + 1.0),
                            at(2.0 * x as f32 + 12.0),
                            at(2.0 * y as f32 + 12.0),
                        ],
                        score: p,
                        reg: [
                            reg.data[i],
                            reg.data[plane + i],
                            reg.data[2 * plane + i],
                            reg.data[3 * plane + i],
                        ],
                    });
                }
            }
            all.extend(suppress(found, 0.5, Overlap::Union));
        }
        let kept = suppress(all, 0.7, Overlap::Union);
        Ok(kept
            .into_iter()
            .map(|c| {
                // Not `regress`: the reference's first stage scales by x2 - x1, no + 1.
                let (rw, rh) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
                let b = [
                    c.b[0] + c.reg[0] * rw,
                    c.b[1] + c.reg[1] * rh,
                    c.b[2] + c.reg[2] * rw,
                    c.b[3] + c.reg[3] * rh,
                ];
                Candidate {
                    b: square(b).map(f32::trunc),
                    ..c
                }
            })
            .filter(|c| sane(c.b, w, h))
            .collect())
    }

    /// Stage 2: each proposal's 24 px crop re-scored, survivors regressed and squared.
    fn refined(
        &mut self,
        img: &RgbImage,
        mut boxes: Vec<Candidate>,
    ) -> Result<Vec<Candidate>, RuntimeError> {
        boxes.truncate(MAX_REFINE);
        let mut kept = Vec::new();
        for chunk in boxes.chunks(BATCH) {
            let out = run_crops(&mut self.refine, img, chunk)?;
            let (reg, prob) = (&out[0], &out[1]);
            check_rows(&reg.shape, chunk.len(), 4)?;
            check_rows(&prob.shape, chunk.len(), 2)?;
            for (k, c) in chunk.iter().enumerate() {
                let score = prob.data[2 * k + 1];
                if score > THRESHOLDS[1] {
                    kept.push(Candidate {
                        b: c.b,
                        score,
                        reg: [
                            reg.data[4 * k],
                            reg.data[4 * k + 1],
                            reg.data[4 * k + 2],
                            reg.data[4 * k + 3],
                        ],
                    });
                }
            }
        }
        Ok(suppress(kept, 0.7, Overlap::Union)
            .into_iter()
            .map(|c| Candidate {
                b: square(regress(c.b, c.reg)),
                ..c
            })
            .filter(|c| sane(c.b, img.width(), img.height()))
            .collect())
    }

    /// Stage 3: the output network's score, box and landmarks on each 48 px crop.
    fn finished(
        &mut self,
        img: &RgbImage,
        boxes: Vec<Candidate>,
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        let mut boxes: Vec<Candidate> = boxes
            .into_iter()
            .map(|c| Candidate {
                b: c.b.map(f32::trunc),
                ..c
            })
            .collect();
        boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
        boxes.truncate(MAX_OUTPUT);
        let mut done: Vec<(Candidate, [[f32; 2]; 5])> = Vec::new();
        for chunk in boxes.chunks(BATCH) {
            let out = run_crops(&mut self.output, img, chunk)?;
            let [reg, prob, marks] = &out[..] else {
                return Err(shape_error("output network's outputs", &[out.len()]));
            };
            check_rows(&reg.shape, chunk.len(), 4)?;
            check_rows(&prob.shape, chunk.len(), 2)?;
            check_rows(&marks.shape, chunk.len(), 10)?;
            for (k, c) in chunk.iter().enumerate() {
                let score = prob.data[2 * k + 1];
                if score <= THRESHOLDS[2] {
                    continue;
                }
                let (bw, bh) = (c.b[2] - c.b[0] + 1.0, c.b[3] - c.b[1] + 1.0);
                let m = &marks.data[10 * k..10 * k + 10];
                let points = std::array::from_fn(|i| {
                    [bw * m[i] + c.b[0] - 1.0, bh * m[5 + i] + c.b[1] - 1.0]
                });
                let r = &reg.data[4 * k..4 * k + 4];
                let b = regress(c.b, [r[0], r[1], r[2], r[3]]);
                done.push((
                    Candidate {
                        b,
                        score,
                        reg: [0.0; 4],
                    },
                    points,
                ));
            }
        }
        // Suppression by the smaller box's share, carrying each box's landmarks along.
        Ok(suppress_by(done, 0.7, Overlap::Min, |(c, _)| c)
            .into_iter()
            .map(|(c, p)| to_detection(c, p))
            .collect())
    }
}

/// The pyramid's scales: the first maps `min_face` to the network's 12 px window, each next
/// one is [`FACTOR`] of the last, down to a short side of 12 px.
fn pyramid(w: u32, h: u32, min_face: f32) -> Vec<f32> {
    let m = 12.0 / min_face;
    let mut side = w.min(h) as f32 * m;
    let mut scales = Vec::new();
    let mut s = m;
    while side >= 12.0 {
        scales.push(s);
        s *= FACTOR;
        side *= FACTOR;
    }
    scales
}

/// The pyramid's levels for faces of `faces[0]` to `faces[1]` px: level `s` finds faces of
/// 12 / `s` px to about 12 / (`s` * [`FACTOR`]), so the last is the first that reaches the
/// top of the band.
fn band_levels(w: u32, h: u32, faces: [f32; 2]) -> Vec<f32> {
    let [lo, hi] = faces;
    let top = 12.0 / hi.max(lo);
    let mut levels = Vec::new();
    for s in pyramid(w, h, lo.max(12.0)) {
        levels.push(s);
        if s * FACTOR <= top {
            break;
        }
    }
    levels
}

/// Runs `net` on the crops of `boxes` (each scaled to the net's side), in one batch.
fn run_crops(
    net: &mut Net,
    img: &RgbImage,
    boxes: &[Candidate],
) -> Result<Vec<crate::runtime::Output>, RuntimeError> {
    let side = net.side as usize;
    let plane = side * side;
    let mut data = vec![0f32; boxes.len() * 3 * plane];
    for (k, c) in boxes.iter().enumerate() {
        crop_into(
            img,
            c.b,
            side,
            net.scale,
            net.offset,
            &mut data[k * 3 * plane..(k + 1) * 3 * plane],
        );
    }
    net.run(boxes.len(), side, side, data)
}

/// Whether a box can be cropped: finite corners, and no side beyond twice the frame's
/// longer one (a model output gone wild must not make a crop the size of the address space).
fn sane(b: [f32; 4], w: u32, h: u32) -> bool {
    let limit = 2.0 * w.max(h) as f32;
    b.iter().all(|v| v.is_finite())
        && (0.0..=limit).contains(&(b[2] - b[0]))
        && (0.0..=limit).contains(&(b[3] - b[1]))
}

/// The box moved by the regression `r`, in units of its size (reference `bbreg`).
fn regress(b: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    [
        b[0] + r[0] * w,
        b[1] + r[1] * h,
        b[2] + r[2] * w,
        b[3] + r[3] * h,
    ]
}

/// The square with the same centre whose side is the box's longer side (reference `rerec`).
fn square(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let side = w.max(h);
    let x1 = b[0] + w * 0.5 - side * 0.5;
    let y1 = b[1] + h * 0.5 - side * 0.5;
    [x1, y1, x1 + side, y1 + side]
}

/// Overlap of two boxes with the reference's inclusive areas.
fn overlap(a: [f32; 4], b: [f32; 4], how: Overlap) -> f32 {
    let area = |r: [f32; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = iw * ih;
    let denom = match how {
        Overlap::Union => area(a) + area(b) - inter,
        Overlap::Min => area(a).min(area(b)),
    };
    if denom <= 0.0 {
        0.0
    } else {
        inter / denom
    }
}

/// Greedy non-maximum suppression: best score first, dropping every box that overlaps a
/// kept one by more than `threshold`.
fn suppress(boxes: Vec<Candidate>, threshold: f32, how: Overlap) -> Vec<Candidate> {
    suppress_by(boxes, threshold, how, |c| c)
}

/// [`suppress`] over items that carry a box (`candidate` reads it), kept whole.
fn suppress_by<T>(
    mut items: Vec<T>,
    threshold: f32,
    how: Overlap,
    candidate: impl Fn(&T) -> &Candidate,
) -> Vec<T> {
    items.sort_by(|a, b| candidate(b).score.total_cmp(&candidate(a).score));
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        let b = candidate(&item).b;
        if kept
            .iter()
            .all(|k| overlap(candidate(k).b, b, how) <= threshold)
        {
            kept.push(item);
        }
    }
    kept
}

/// A finished box as a detection in frame pixels (0-based), with BlazeFace's first four
/// keypoints.
fn to_detection(c: Candidate, p: [[f32; 2]; 5]) -> RawDetection {
    let [x1, y1, x2, y2] = c.b;
    let (x0, y0) = (x1 - 1.0, y1 - 1.0);
    let mouth = [(p[3][0] + p[4][0]) / 2.0, (p[3][1] + p[4][1]) / 2.0];
    RawDetection {
        cx: (x0 + x2) / 2.0,
        cy: (y0 + y2) / 2.0,
        w: x2 - x0,
        h: y2 - y0,
        score: c.score,
        keypoints: vec![p[0], p[1], p[2], mouth],
    }
}

fn shape_error(what: &str, shape: &[usize]) -> RuntimeError {
    RuntimeError::Run {
        model: "cascade".into(),
        cause: format!("unexpected {what} shape {shape:?}"),
    }
}

fn check_rows(shape: &[usize], n: usize, cols: usize) -> Result<(), RuntimeError> {
    if shape[..] == [n, cols] {
        Ok(())
    } else {
        Err(shape_error(&format!("[{n}, {cols}]"), shape))
    }
}

#[cfg(test)]
#[path = "cascade_tests.rs"]
mod tests;
