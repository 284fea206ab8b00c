//! Feeding a frame region to a BlazeFace model: the letterboxed, area-averaged input, the
//! model run (batched over regions), and the way back from model units to frame pixels.

use super::blazeface::{self, RawDetection};
use super::Region;
use crate::models::{Channels, InputSpec, Layout, ModelRef};
use crate::runtime::{Model, RuntimeError};
use image::RgbImage;

/// Where a region landed inside the square model input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Letterbox {
    scale: f32,
    pad_x: f32,
    pad_y: f32,
}

/// Area-averaged resize of `region` into the model's input, letterboxed (centred, zero
/// padding in model units), written as `pixel * scale + offset` into `out` at batch slot
/// `slot`. Area averaging avoids the aliasing a point sampler shows at 5-10x reduction.
pub(super) fn fill_input(
    img: &RgbImage,
    region: Region,
    spec: &InputSpec,
    out: &mut ndarray::ArrayD<f32>,
    slot: usize,
) -> Letterbox {
    let (iw, ih) = (spec.width as usize, spec.height as usize);
    let s = (iw as f32 / region.w as f32).min(ih as f32 / region.h as f32);
    let dw = ((region.w as f32 * s).round() as usize).clamp(1, iw);
    let dh = ((region.h as f32 * s).round() as usize).clamp(1, ih);
    let px = (iw - dw) / 2;
    let py = (ih - dh) / 2;
    let pad_value = spec.offset; // pixel 0 (black), as MediaPipe pads
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    let sx = region.w as f32 / dw as f32;
    let sy = region.h as f32 / dh as f32;
    let order: [usize; 3] = match spec.channels {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    let mut put = |y: usize, x: usize, c: usize, v: f32| match spec.layout {
        Layout::Nchw => out[[slot, c, y, x]] = v,
        Layout::Nhwc => out[[slot, y, x, c]] = v,
    };
    for oy in 0..ih {
        for ox in 0..iw {
            if oy < py || oy >= py + dh || ox < px || ox >= px + dw {
                for c in 0..3 {
                    put(oy, ox, c, pad_value);
                }
                continue;
            }
            let fy0 = region.y as f32 + (oy - py) as f32 * sy;
            let fx0 = region.x as f32 + (ox - px) as f32 * sx;
            let y0 = fy0 as usize;
            let x0 = fx0 as usize;
            let y1 = ((fy0 + sy).ceil() as usize)
                .min((region.y + region.h) as usize)
                .max(y0 + 1);
            let x1 = ((fx0 + sx).ceil() as usize)
                .min((region.x + region.w) as usize)
                .max(x0 + 1);
            let mut acc = [0u32; 3];
            for yy in y0..y1 {
                let row = &raw[yy * stride + x0 * 3..yy * stride + x1 * 3];
                for p in row.chunks_exact(3) {
                    acc[0] += u32::from(p[0]);
                    acc[1] += u32::from(p[1]);
                    acc[2] += u32::from(p[2]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            for (c, &src) in order.iter().enumerate() {
                put(oy, ox, c, acc[src] as f32 / n * spec.scale + spec.offset);
            }
        }
    }
    Letterbox {
        scale: s,
        pad_x: px as f32,
        pad_y: py as f32,
    }
}

/// One BlazeFace model with its decoding facts.
pub(super) struct BlazeModel {
    model: Model,
    pub(super) reference: ModelRef,
    anchors: Vec<[f32; 2]>,
}

impl BlazeModel {
    pub(super) fn load(r: &ModelRef, threads: usize) -> Result<Self, RuntimeError> {
        let spec = r
            .entry
            .blazeface
            .as_ref()
            .ok_or_else(|| RuntimeError::Session {
                path: r.path.clone(),
                cause: "no blazeface decoding in the manifest".into(),
            })?;
        Ok(Self {
            model: Model::load(&r.name, &r.path, threads)?,
            anchors: blazeface::anchors(&spec.anchors),
            reference: r.clone(),
        })
    }

    /// The manifest's score threshold (0.5 when it has none).
    pub(super) fn threshold(&self) -> f32 {
        self.reference
            .entry
            .blazeface
            .as_ref()
            .map_or(0.5, |b| b.score_threshold)
    }

    /// The manifest's NMS IoU (0.3 when it has none).
    pub(super) fn nms_iou(&self) -> f32 {
        self.reference
            .entry
            .blazeface
            .as_ref()
            .map_or(0.3, |b| b.nms_iou)
    }

    /// Runs the model on each region (batched when the model allows) and returns the
    /// detections in frame pixels, each with the region it came from.
    pub(super) fn detect(
        &mut self,
        img: &RgbImage,
        regions: &[Region],
    ) -> Result<Vec<(RawDetection, Region)>, RuntimeError> {
        let t = self.threshold();
        self.detect_above(img, regions, t)
    }

    /// As [`BlazeModel::detect`], keeping detections scoring at least `threshold` (below the
    /// manifest's, to see the sub-threshold responses).
    pub(super) fn detect_above(
        &mut self,
        img: &RgbImage,
        regions: &[Region],
        threshold: f32,
    ) -> Result<Vec<(RawDetection, Region)>, RuntimeError> {
        let entry = &self.reference.entry;
        let spec = &entry.input;
        let Some(bf) = entry.blazeface.as_ref() else {
            return Ok(Vec::new());
        };
        let bf = &crate::models::BlazeFaceSpec {
            score_threshold: threshold,
            ..bf.clone()
        };
        let reg_name = entry
            .output("regressors")
            .unwrap_or("regressors")
            .to_string();
        let score_name = entry.output("scores").unwrap_or("scores").to_string();
        let batch = if entry.dynamic_batch() {
            regions.len().max(1)
        } else {
            1
        };
        let mut out = Vec::new();
        for chunk in regions.chunks(batch) {
            let (h, w) = (spec.height as usize, spec.width as usize);
            let shape = match spec.layout {
                Layout::Nchw => vec![chunk.len(), 3, h, w],
                Layout::Nhwc => vec![chunk.len(), h, w, 3],
            };
            let mut input = ndarray::ArrayD::<f32>::zeros(shape);
            let boxes: Vec<Letterbox> = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| fill_input(img, *r, spec, &mut input, i))
                .collect();
            let outs =
                self.model
                    .run(&spec.name, input, &[reg_name.as_str(), score_name.as_str()])?;
            let per_reg = outs[0].data.len() / chunk.len();
            let per_score = outs[1].data.len() / chunk.len();
            for (i, (region, lb)) in chunk.iter().zip(&boxes).enumerate() {
                let dets = blazeface::decode(
                    &outs[0].data[i * per_reg..(i + 1) * per_reg],
                    &outs[1].data[i * per_score..(i + 1) * per_score],
                    &self.anchors,
                    bf,
                    w as f32,
                    h as f32,
                );
                for d in dets {
                    out.push((to_frame(d, *lb, *region, w as f32, h as f32), *region));
                }
            }
        }
        Ok(out)
    }
}

/// Maps a detection from normalised model input to frame pixels.
pub(super) fn to_frame(
    d: RawDetection,
    lb: Letterbox,
    r: Region,
    iw: f32,
    ih: f32,
) -> RawDetection {
    let mx = |x: f32| (x * iw - lb.pad_x) / lb.scale + r.x as f32;
    let my = |y: f32| (y * ih - lb.pad_y) / lb.scale + r.y as f32;
    RawDetection {
        cx: mx(d.cx),
        cy: my(d.cy),
        w: d.w * iw / lb.scale,
        h: d.h * ih / lb.scale,
        score: d.score,
        keypoints: d.keypoints.iter().map(|p| [mx(p[0]), my(p[1])]).collect(),
    }
}
