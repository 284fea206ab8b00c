//! Feeding a frame region to a BlazeFace model: the letterboxed, area-averaged input, the
//! model run (batched over regions), and the way back from model units to frame pixels.

use super::blazeface::{self, RawDetection};
use super::Region;
use crate::media::resize::{add_spans, shrink, sum_rows};
use crate::models::{Channels, InputSpec, Layout, ModelRef};
use crate::runtime::{Model, RuntimeError};
use crate::stages::{self, Stage};
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
    let r = [
        region.x as f32,
        region.y as f32,
        region.w as f32,
        region.h as f32,
    ];
    fill_scaled(img, r, 1.0, spec, out, slot)
}

/// As [`fill_input`], reading `src`, a copy of the frame shrunk by `factor` (1.0: the frame
/// itself); `r` is the region in `src` pixels. The letterbox maps back to frame pixels.
fn fill_scaled(
    src: &RgbImage,
    r: [f32; 4],
    factor: f32,
    spec: &InputSpec,
    out: &mut ndarray::ArrayD<f32>,
    slot: usize,
) -> Letterbox {
    let (iw, ih) = (spec.width as usize, spec.height as usize);
    let [rx, ry, rw, rh] = r;
    let s = (iw as f32 / rw).min(ih as f32 / rh);
    let dw = ((rw * s).round() as usize).clamp(1, iw);
    let dh = ((rh * s).round() as usize).clamp(1, ih);
    let px = (iw - dw) / 2;
    let py = (ih - dh) / 2;
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    // The source span of each output column and row: [start, end), at least one pixel.
    let spans = |origin: f32, step: f32, n: usize, limit: usize| -> Vec<(usize, usize)> {
        (0..n)
            .map(|i| {
                let f0 = origin + i as f32 * step;
                let a = (f0.max(0.0) as usize).min(limit.saturating_sub(1));
                let b = ((f0 + step).ceil() as usize).min(limit).max(a + 1);
                (a, b)
            })
            .collect()
    };
    let end_x = ((rx + rw).ceil() as usize).min(sw);
    let end_y = ((ry + rh).ceil() as usize).min(sh);
    let xs = spans(rx, rw / dw as f32, dw, end_x);
    let ys = spans(ry, rh / dh as f32, dh, end_y);
    let order: [usize; 3] = match spec.channels {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    let plane = iw * ih;
    let base = slot * 3 * plane;
    let pad_value = spec.offset; // pixel 0 (black), as MediaPipe pads
    let raw = src.as_raw();
    let stride = sw * 3;
    let Some(data) = out.as_slice_mut() else {
        return Letterbox {
            scale: s * factor,
            pad_x: px as f32,
            pad_y: py as f32,
        };
    };
    let slot_data = &mut data[base..base + 3 * plane];
    // The source columns the spans read, summed over each output row's source rows.
    let first = xs.first().map_or(0, |x| x.0);
    let last = xs.last().map_or(0, |x| x.1);
    let mut sums = vec![0u32; (last - first) * 3];
    let mut acc = vec![0u32; dw * 3];
    // One output row, channel by channel in the model's order, padding included.
    let mut rows = [
        vec![pad_value; iw],
        vec![pad_value; iw],
        vec![pad_value; iw],
    ];
    for oy in 0..ih {
        let inside_y = oy >= py && oy < py + dh;
        if inside_y {
            let (y0, y1) = ys[oy - py];
            sum_rows(raw, stride, first * 3..last * 3, y0..y1, &mut sums);
            add_spans(&sums, first, &xs, &mut acc);
            for (k, &(x0, x1)) in xs.iter().enumerate() {
                let n = ((y1 - y0) * (x1 - x0)) as f32;
                let mul = spec.scale / n;
                for (c, &from) in order.iter().enumerate() {
                    rows[c][px + k] = acc[k * 3 + from] as f32 * mul + spec.offset;
                }
            }
        }
        for (c, row) in rows.iter().enumerate() {
            match spec.layout {
                Layout::Nchw => {
                    let dst = &mut slot_data[c * plane + oy * iw..c * plane + (oy + 1) * iw];
                    if inside_y {
                        dst.copy_from_slice(row);
                    } else {
                        dst.fill(pad_value);
                    }
                }
                Layout::Nhwc => {
                    for (ox, &v) in row.iter().enumerate() {
                        slot_data[(oy * iw + ox) * 3 + c] = if inside_y { v } else { pad_value };
                    }
                }
            }
        }
    }
    Letterbox {
        scale: s * factor,
        pad_x: px as f32,
        pad_y: py as f32,
    }
}

/// Regions per detector run. Batches are slower per image here: the activations of a big
/// batch no longer fit the cache. Whole 60 s bench scans (2 workers, detector model time):
/// 14.8-15.0 s one at a time, 15.0-15.9 in twos, 19.0-21.0 in nines.
const DETECT_BATCH: usize = 1;

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

    /// The frame shrunk for `regions`, when two or more of them are read shrunk 2x or more
    /// (to the largest of their scales), so they read the small copy instead of the frame.
    pub(super) fn shrunk_for(&self, img: &RgbImage, regions: &[Region]) -> Option<RgbImage> {
        let shrunk: Vec<f32> = regions
            .iter()
            .map(|r| self.scale_of(r))
            .filter(|&s| s <= 0.5)
            .collect();
        let factor = shrunk.iter().copied().fold(0.0f32, f32::max);
        (shrunk.len() > 1).then(|| stages::time(Stage::DetectInput, || shrink(img, factor)))
    }

    /// How much a region is scaled to fit the model's input.
    fn scale_of(&self, r: &Region) -> f32 {
        let spec = &self.reference.entry.input;
        (spec.width as f32 / r.w as f32).min(spec.height as f32 / r.h as f32)
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
        self.detect_above(img, None, regions, t)
    }

    /// As [`BlazeModel::detect`], keeping detections scoring at least `threshold` (below the
    /// manifest's, to see the sub-threshold responses).
    pub(super) fn detect_above(
        &mut self,
        img: &RgbImage,
        small: Option<&RgbImage>,
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
            DETECT_BATCH
        } else {
            1
        };
        let mut out = Vec::new();
        let (h, w) = (spec.height as usize, spec.width as usize);
        // Regions shrunk 2x or more (the whole frame, the tiles) read a copy of the frame
        // shrunk once (`small`, shared by the models of one frame, or made here), not the
        // frame once per region.
        let own = small
            .is_none()
            .then(|| self.shrunk_for(img, regions))
            .flatten();
        let small = small.or(own.as_ref());
        let small_factor = small.map_or(0.0, |s| s.width() as f32 / img.width().max(1) as f32);
        for chunk in regions.chunks(batch) {
            let shape = match spec.layout {
                Layout::Nchw => vec![chunk.len(), 3, h, w],
                Layout::Nhwc => vec![chunk.len(), h, w, 3],
            };
            let mut input = ndarray::ArrayD::<f32>::zeros(shape);
            let boxes: Vec<Letterbox> = stages::time(Stage::DetectInput, || {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match small {
                        Some(sm)
                            if self.scale_of(r) <= 0.5
                                && self.scale_of(r) <= small_factor + 1e-3 =>
                        {
                            let fx = sm.width() as f32 / img.width() as f32;
                            let fy = sm.height() as f32 / img.height() as f32;
                            let rr = [
                                r.x as f32 * fx,
                                r.y as f32 * fy,
                                r.w as f32 * fx,
                                r.h as f32 * fy,
                            ];
                            fill_scaled(sm, rr, fx, spec, &mut input, i)
                        }
                        _ => fill_input(img, *r, spec, &mut input, i),
                    })
                    .collect()
            });
            let outs = stages::time(Stage::DetectModel, || {
                self.model
                    .run(&spec.name, input, &[reg_name.as_str(), score_name.as_str()])
            })?;
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
