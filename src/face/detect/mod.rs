//! Face detection on a whole frame: BlazeFace full range on the frame and on overlapping
//! tiles (so small faces are found), short range on the frame for close-ups, merged.

pub mod blazeface;

use crate::models::{Channels, InputSpec, Layout, ModelRef};
use crate::runtime::{Model, RuntimeError};
use blazeface::RawDetection;
use image::RgbImage;
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
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            tile: 640,
            overlap: 192,
            min_face: 24.0,
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

/// Where a region landed inside the square model input.
#[derive(Debug, Clone, Copy)]
struct Letterbox {
    scale: f32,
    pad_x: f32,
    pad_y: f32,
}

/// Area-averaged resize of `region` into the model's input, letterboxed (centred, zero
/// padding in model units), written as `pixel * scale + offset` into `out` at batch slot
/// `slot`. Area averaging avoids the aliasing a point sampler shows at 5-10x reduction.
fn fill_input(
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
struct BlazeModel {
    model: Model,
    reference: ModelRef,
    anchors: Vec<[f32; 2]>,
}

impl BlazeModel {
    fn load(r: &ModelRef, threads: usize) -> Result<Self, RuntimeError> {
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

    /// Runs the model on each region (batched when the model allows) and returns the
    /// detections in frame pixels, each with the region it came from.
    fn detect(
        &mut self,
        img: &RgbImage,
        regions: &[Region],
    ) -> Result<Vec<(RawDetection, Region)>, RuntimeError> {
        let entry = &self.reference.entry;
        let spec = &entry.input;
        let Some(bf) = entry.blazeface.as_ref() else {
            return Ok(Vec::new());
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
fn to_frame(d: RawDetection, lb: Letterbox, r: Region, iw: f32, ih: f32) -> RawDetection {
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
    opts: DetectOptions,
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
            opts,
        })
    }

    /// All faces in `img`, largest first.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<Face>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        if fw == 0 || fh == 0 {
            return Ok(Vec::new());
        }
        let whole = Region {
            x: 0,
            y: 0,
            w: fw,
            h: fh,
        };
        let mut regions = vec![whole];
        regions.extend(tiles(fw, fh, self.opts.tile, self.opts.overlap));
        let mut all: Vec<RawDetection> = self
            .full
            .detect(img, &regions)?
            .into_iter()
            .filter(|(d, r)| *r == whole || !cut_by_tile(d, *r, fw, fh))
            .map(|(d, _)| d)
            .collect();
        if let Some(short) = self.short.as_mut() {
            // Short range is trained on close faces; small hits from it are unreliable.
            let min = 0.15 * fw.max(fh) as f32;
            all.extend(
                short
                    .detect(img, &[whole])?
                    .into_iter()
                    .map(|(d, _)| d)
                    .filter(|d| d.w.max(d.h) >= min),
            );
        }
        let iou = self
            .full
            .reference
            .entry
            .blazeface
            .as_ref()
            .map_or(0.3, |b| b.nms_iou);
        let mut faces: Vec<Face> = blazeface::weighted_nms(all, iou)
            .into_iter()
            .map(|d| Face {
                x: d.cx - d.w / 2.0,
                y: d.cy - d.h / 2.0,
                w: d.w,
                h: d.h,
                score: d.score,
                keypoints: d.keypoints,
            })
            .filter(|f| f.size() >= self.opts.min_face)
            .collect();
        faces.sort_by(|a, b| b.size().total_cmp(&a.size()));
        Ok(faces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_a_1080p_frame_with_overlap() {
        let t = tiles(1920, 1080, 640, 192);
        assert!(!t.is_empty());
        // Every pixel column and row is covered, tiles stay inside the frame.
        for r in &t {
            assert!(r.x + r.w <= 1920 && r.y + r.h <= 1080);
        }
        let xs: Vec<u32> = t.iter().filter(|r| r.y == 0).map(|r| r.x).collect();
        assert_eq!(xs.first(), Some(&0));
        assert_eq!(xs.last(), Some(&(1920 - 640)));
        for w in xs.windows(2) {
            assert!(w[0] + 640 >= w[1] + 192, "overlap at least 192: {xs:?}");
        }
        assert!(t.iter().any(|r| r.y + r.h == 1080));
    }

    #[test]
    fn small_frames_need_no_tiles() {
        assert!(tiles(640, 480, 640, 192).is_empty());
        assert!(tiles(1920, 1080, 0, 0).is_empty());
    }

    #[test]
    fn letterbox_maps_back_to_frame_pixels() {
        let spec = InputSpec {
            name: "in".into(),
            width: 8,
            height: 8,
            layout: Layout::Nchw,
            channels: Channels::Rgb,
            scale: 1.0 / 255.0,
            offset: 0.0,
        };
        // A 32x16 white frame: letterboxed into 8x4 rows 2..6 of the 8x8 input.
        let img = RgbImage::from_pixel(32, 16, image::Rgb([255, 255, 255]));
        let mut input = ndarray::ArrayD::<f32>::zeros(vec![1, 3, 8, 8]);
        let r = Region {
            x: 0,
            y: 0,
            w: 32,
            h: 16,
        };
        let lb = fill_input(&img, r, &spec, &mut input, 0);
        assert_eq!(input[[0, 0, 0, 0]], 0.0);
        assert!((input[[0, 1, 3, 3]] - 1.0).abs() < 1e-6);
        assert_eq!(input[[0, 2, 6, 3]], 0.0);
        let d = RawDetection {
            cx: 0.5,
            cy: 0.5,
            w: 0.25,
            h: 0.25,
            score: 1.0,
            keypoints: vec![[0.25, 0.25]],
        };
        let f = to_frame(d, lb, r, 8.0, 8.0);
        assert!((f.cx - 16.0).abs() < 1e-4 && (f.cy - 8.0).abs() < 1e-4);
        assert!((f.w - 8.0).abs() < 1e-4);
        assert!((f.keypoints[0][0] - 8.0).abs() < 1e-4);
        assert!((f.keypoints[0][1] - 0.0).abs() < 1e-4);
    }

    #[test]
    fn a_face_cut_by_an_inner_tile_edge_is_dropped() {
        let r = Region {
            x: 480,
            y: 0,
            w: 640,
            h: 640,
        };
        let d = |cx: f32| RawDetection {
            cx,
            cy: 300.0,
            w: 100.0,
            h: 100.0,
            score: 0.9,
            keypoints: vec![],
        };
        assert!(cut_by_tile(&d(500.0), r, 1920, 1080));
        assert!(!cut_by_tile(&d(800.0), r, 1920, 1080));
    }
}
