//! The learned global embedding (EfficientNet-Lite0, GeM pooled, unit length) of whole
//! images and of frame regions, through the manifest's `ip_embedder` entry.
//!
//! Regions come from one run over the whole (downscaled) frame: the model's second output,
//! `gem_map` in the manifest's `outputs`, is the map its global pooling averages (x^p), and
//! any window of it is pooled the same way (GeM: mean, then the p-th root, then unit
//! length). That costs one network pass per frame instead of one per tile. A model without
//! that output still works: then [`IpEmbedder::feature_map`] gives `None` and the caller
//! embeds tile crops. The manifest's `ip_map`, when present, is the same network quantised to
//! int8: it gives the maps (about half the float model's time on a 1280x720 frame, the same
//! `eval-refs` results), while references are embedded with the float model.

use super::IpError;
use crate::models::ModelRef;
use crate::runtime::Model;
use image::RgbImage;

/// A unit-length image embedding.
pub type Embedding = Vec<f32>;

/// Cosine similarity of two unit-length embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The IP embedder a worker owns (ONNX sessions need `&mut` to run).
pub struct IpEmbedder {
    model: FloatModel,
    input: String,
    output: String,
    scale: f32,
    offset: f32,
    /// Name of the pre-pooling map output (`gem_map`), when the model has one.
    map_output: Option<String>,
    /// GeM exponent of the pooling (1 = plain average).
    gem_p: f32,
    /// The manifest's `ip_map` (the same network quantised to int8), run instead of `model`
    /// for feature maps when present.
    map_model: Option<MapModel>,
}

/// The float network: loaded with the embedder when it also gives the feature maps, else on
/// its first use. A scan with the int8 map never runs it (references come embedded from the
/// gallery), so its session (~40-110 ms and its weights, per worker) is not made there.
struct FloatModel {
    name: String,
    path: std::path::PathBuf,
    threads: usize,
    loaded: Option<Model>,
}

impl FloatModel {
    fn get(&mut self) -> Result<&mut Model, crate::runtime::RuntimeError> {
        Ok(match self.loaded {
            Some(ref mut m) => m,
            None => self
                .loaded
                .insert(Model::load(&self.name, &self.path, self.threads)?),
        })
    }
}

/// A model run only for its `gem_map` output.
struct MapModel {
    model: Model,
    input: String,
    output: String,
}

/// The pre-pooling feature map of one image: `channels` x `h` x `w` values x^p (what the
/// global pooling averages), with a summed-area table for window pooling.
pub struct FeatureMap {
    /// Channels.
    pub channels: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// Summed-area table, (h + 1) x (w + 1) x `channels`: a corner's channels are
    /// contiguous, so pooling a window reads four runs of memory.
    sat: Vec<f32>,
    gem_p: f32,
}

impl FeatureMap {
    fn new(channels: usize, h: usize, w: usize, data: &[f32], gem_p: f32) -> Self {
        let (sh, sw) = (h + 1, w + 1);
        let mut sat = vec![0f32; sh * sw * channels];
        for y in 0..h {
            for x in 0..w {
                let at = |yy: usize, xx: usize| (yy * sw + xx) * channels;
                let (o, up, left, diag) = (at(y + 1, x + 1), at(y, x + 1), at(y + 1, x), at(y, x));
                for c in 0..channels {
                    sat[o + c] =
                        data[(c * h + y) * w + x] + sat[up + c] + sat[left + c] - sat[diag + c];
                }
            }
        }
        Self {
            channels,
            h,
            w,
            sat,
            gem_p,
        }
    }

    /// The unit-length embedding of cells `x0..x1` x `y0..y1` (pooled as the model pools).
    pub fn window(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Embedding {
        let mut e = vec![0f32; self.channels];
        self.pool_into(x0, y0, x1, y1, &mut e);
        e
    }

    /// [`FeatureMap::window`] written into `out` (`channels` long).
    fn pool_into(&self, x0: usize, y0: usize, x1: usize, y1: usize, out: &mut [f32]) {
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let (x0, y0) = (x0.min(x1), y0.min(y1));
        let inv_n = 1.0 / ((x1 - x0) * (y1 - y0)).max(1) as f32;
        let sw = self.w + 1;
        let c = self.channels;
        let run = |y: usize, x: usize| &self.sat[(y * sw + x) * c..(y * sw + x + 1) * c];
        let (a, b, d, e) = (run(y1, x1), run(y0, x1), run(y1, x0), run(y0, x0));
        for i in 0..c {
            out[i] = ((a[i] - b[i] - d[i] + e[i]) * inv_n).max(1e-12);
        }
        if self.gem_p == 3.0 {
            out.iter_mut().for_each(|v| *v = cbrt_positive(*v));
        } else if self.gem_p != 1.0 {
            let inv_p = 1.0 / self.gem_p;
            out.iter_mut().for_each(|v| *v = v.powf(inv_p));
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v /= norm);
    }

    /// Unit-length embeddings of many windows (x0, y0, x1, y1 in cells), one row each.
    pub fn windows(&self, cells: &[[usize; 4]]) -> ndarray::Array2<f32> {
        let mut m = ndarray::Array2::<f32>::zeros((cells.len(), self.channels));
        for (row, w) in m.outer_iter_mut().zip(cells) {
            if let Some(out) = row.into_slice() {
                self.pool_into(w[0], w[1], w[2], w[3], out);
            }
        }
        m
    }
}

/// Cosines of every row of `windows` (unit-length embeddings) with every embedding of
/// `refs`: a (windows x refs) matrix, computed as one matrix product.
pub fn cosines(windows: &ndarray::Array2<f32>, refs: &[&Embedding]) -> ndarray::Array2<f32> {
    let dim = windows.ncols();
    let mut r = ndarray::Array2::<f32>::zeros((dim, refs.len()));
    for (j, e) in refs.iter().enumerate() {
        for (i, v) in e.iter().take(dim).enumerate() {
            r[[i, j]] = *v;
        }
    }
    windows.dot(&r)
}

impl IpEmbedder {
    /// Loads the manifest's image embedder, and `map` (the manifest's `ip_map`) for feature
    /// maps when given (`ModelSet::load` has validated the entries and checked the files'
    /// sha256). The two must read their input the same way.
    pub fn load(m: &ModelRef, map: Option<&ModelRef>, threads: usize) -> Result<Self, IpError> {
        let entry = &m.entry;
        let map_model = match map {
            Some(mm) => {
                let (a, b) = (&entry.input, &mm.entry.input);
                if a.scale != b.scale || a.offset != b.offset || a.channels != b.channels {
                    return Err(IpError::Input(format!(
                        "map model '{}' reads its input differently from '{}'",
                        mm.name, m.name
                    )));
                }
                Some(MapModel {
                    model: Model::load(&mm.name, &mm.path, threads)?,
                    input: b.name.clone(),
                    // ModelSet::load refuses an ip_map entry without a 'gem_map' output.
                    output: mm.entry.output("gem_map").unwrap_or("gem_map").to_string(),
                })
            }
            None => None,
        };
        // ModelSet::load refuses an ip_embedder entry without an 'embedding' output.
        let output = entry.output("embedding").unwrap_or("embedding").to_string();
        let gem_p = entry.ip_embedder.as_ref().map_or(1.0, |s| s.gem_p).max(1.0);
        let mut model = FloatModel {
            name: m.name.clone(),
            path: m.path.clone(),
            threads,
            loaded: None,
        };
        if map_model.is_none() {
            model.get()?;
        }
        Ok(Self {
            model,
            input: entry.input.name.clone(),
            output,
            scale: entry.input.scale,
            offset: entry.input.offset,
            map_output: entry.output("gem_map").map(str::to_string),
            gem_p,
            map_model,
        })
    }

    /// True when [`IpEmbedder::feature_map`] gives maps.
    pub fn has_feature_map(&self) -> bool {
        self.map_model.is_some() || self.map_output.is_some()
    }

    /// The pre-pooling feature map of one image (`None` when the model does not expose one).
    pub fn feature_map(&mut self, image: &RgbImage) -> Result<Option<FeatureMap>, IpError> {
        if !self.has_feature_map() {
            return Ok(None);
        }
        let input = self.tensor(std::slice::from_ref(image))?;
        let out = match (self.map_model.as_mut(), self.map_output.as_deref()) {
            (Some(mm), _) => mm.model.run(&mm.input, input, &[&mm.output])?,
            (None, map) => {
                self.model
                    .get()?
                    .run(&self.input, input, &[map.unwrap_or("gem_map")])?
            }
        };
        let o = &out[0];
        let [1, c, h, w] = o.shape[..] else {
            return Err(IpError::Input(format!(
                "feature map has shape {:?}, expected [1, C, H, W]",
                o.shape
            )));
        };
        if o.data.len() != c * h * w || h == 0 || w == 0 {
            return Err(IpError::Input("feature map size mismatch".into()));
        }
        Ok(Some(FeatureMap::new(c, h, w, &o.data, self.gem_p)))
    }

    /// Embeds images that all have the same size, in one batch.
    pub fn embed_batch(&mut self, images: &[RgbImage]) -> Result<Vec<Embedding>, IpError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let n = images.len();
        let input = self.tensor(images)?;
        let out = self.model.get()?.run(&self.input, input, &[&self.output])?;
        let dim = out[0].data.len() / n.max(1);
        if dim == 0 {
            return Err(IpError::Input("the embedder returned nothing".into()));
        }
        Ok(out[0].data.chunks_exact(dim).map(|c| c.to_vec()).collect())
    }

    /// The NCHW input tensor of same-size images.
    fn tensor(&self, images: &[RgbImage]) -> Result<ndarray::ArrayD<f32>, IpError> {
        let Some(first) = images.first() else {
            return Err(IpError::Input("no images".into()));
        };
        let (w, h) = (first.width() as usize, first.height() as usize);
        if images
            .iter()
            .any(|i| i.width() as usize != w || i.height() as usize != h)
        {
            return Err(IpError::Input(
                "embed_batch needs images of one size".into(),
            ));
        }
        let n = images.len();
        let mut data = vec![0f32; n * 3 * h * w];
        for (b, img) in images.iter().enumerate() {
            let base = b * 3 * h * w;
            for (i, p) in img.as_raw().chunks_exact(3).enumerate() {
                for c in 0..3 {
                    data[base + c * h * w + i] = p[c] as f32 * self.scale + self.offset;
                }
            }
        }
        ndarray::ArrayD::from_shape_vec(vec![n, 3, h, w], data)
            .map_err(|e| IpError::Input(e.to_string()))
    }

    /// Embeds one image of any size (at least 32 x 32).
    pub fn embed(&mut self, image: &RgbImage) -> Result<Embedding, IpError> {
        Ok(self.embed_batch(std::slice::from_ref(image))?.remove(0))
    }
}

/// Cube root of a positive, finite value to ~1e-7 relative (an exponent-dividing first
/// guess and three Newton steps; `cbrtf` is a slow libm call and this runs 10^6 times per
/// frame). No branches, so loops over many values vectorise.
#[inline]
fn cbrt_positive(x: f32) -> f32 {
    let mut y = f32::from_bits(x.to_bits() / 3 + 709_921_077);
    for _ in 0..3 {
        y = (2.0 * y + x / (y * y)) / 3.0;
    }
    y
}

/// A square frame region the learned stage looks at, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tile {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Side length.
    pub size: u32,
}

/// Square tiles of each `fractions` x frame height, overlapping by half, covering the frame.
pub fn tiles(width: u32, height: u32, fractions: &[f32]) -> Vec<Tile> {
    let mut out = Vec::new();
    for &f in fractions {
        let size = ((height.min(width) as f32) * f).round() as u32;
        if size < 32 {
            continue;
        }
        let stride = (size / 2).max(1);
        let positions = |extent: u32| -> Vec<u32> {
            let mut v: Vec<u32> = (0..)
                .map(|i| i * stride)
                .take_while(|&p| p + size <= extent)
                .collect();
            // Always reach the far edge.
            if v.last().is_none_or(|&p| p + size < extent) && extent >= size {
                v.push(extent - size);
            }
            v
        };
        for y in positions(height) {
            for x in positions(width) {
                out.push(Tile { x, y, size });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_cube_root_is_accurate() {
        for &x in &[1e-12f32, 1e-6, 0.003, 0.5, 1.0, 7.9, 216.0, 1e6] {
            let (a, b) = (cbrt_positive(x), x.cbrt());
            assert!((a - b).abs() <= 1e-5 * b, "{x}: {a} vs {b}");
        }
    }

    #[test]
    fn window_pooling_matches_direct_gem() {
        // 2 channels, 2 x 3 map of x^3 values.
        let data = [
            1.0f32, 8.0, 27.0, 64.0, 125.0, 216.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0,
        ];
        let m = FeatureMap::new(2, 2, 3, &data, 3.0);
        let e = m.window(1, 0, 3, 2);
        // channel 0: mean(8, 27, 125, 216) = 94, channel 1: 8.
        let (a, b) = (94f32.cbrt(), 2.0f32);
        let n = (a * a + b * b).sqrt();
        assert!(
            (e[0] - a / n).abs() < 1e-5 && (e[1] - b / n).abs() < 1e-5,
            "{e:?}"
        );
    }

    #[test]
    fn tiles_cover_the_frame_and_stay_inside() {
        let t = tiles(1920, 1080, &[0.5, 0.3]);
        assert!(t.len() > 20 && t.len() < 120, "{}", t.len());
        for tile in &t {
            assert!(tile.x + tile.size <= 1920 && tile.y + tile.size <= 1080);
        }
        // Every pixel of the frame lies in some tile of each scale.
        for &(px, py) in &[(0, 0), (1919, 1079), (960, 540), (1919, 0)] {
            assert!(t
                .iter()
                .any(|k| px >= k.x && px < k.x + k.size && py >= k.y && py < k.y + k.size));
        }
    }
}
