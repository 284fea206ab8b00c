//! Face embeddings: aligned chips through the manifest's embedder.

use crate::face::align::align_face;
use crate::face::detect::Face;
use crate::models::{Channels, EmbedderSpec, Layout, Metric, ModelRef};
use crate::runtime::{Model, RuntimeError};
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// A face embedding of the active embedder's dimension (raw or unit length, as its manifest
/// entry says).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// Distance to another embedding under `metric` (smaller is closer).
    pub fn distance(&self, other: &Embedding, metric: Metric) -> f32 {
        match metric {
            Metric::Euclidean => self
                .0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt(),
            Metric::Cosine => {
                let dot: f32 = self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum();
                let na = self.0.iter().map(|a| a * a).sum::<f32>().sqrt();
                let nb = other.0.iter().map(|b| b * b).sum::<f32>().sqrt();
                if na == 0.0 || nb == 0.0 {
                    1.0
                } else {
                    1.0 - dot / (na * nb)
                }
            }
        }
    }

    /// Serialises as little-endian f32 bytes (the gallery's storage form).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Reads little-endian f32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        Some(Self(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }
}

/// The embedder a worker thread owns.
pub struct Embedder {
    model: Model,
    reference: ModelRef,
    spec: EmbedderSpec,
}

impl Embedder {
    /// Loads the manifest's embedder.
    pub fn load(r: &ModelRef, threads: usize) -> Result<Self, RuntimeError> {
        let spec = r
            .entry
            .embedder
            .clone()
            .ok_or_else(|| RuntimeError::Session {
                path: r.path.clone(),
                cause: "no embedder facts in the manifest".into(),
            })?;
        Ok(Self {
            model: Model::load(&r.name, &r.path, threads)?,
            reference: r.clone(),
            spec,
        })
    }

    /// The embedder's facts.
    pub fn spec(&self) -> &EmbedderSpec {
        &self.spec
    }

    /// Aligns each face to the template; `None` where the keypoints cannot be used.
    pub fn chips(&self, img: &RgbImage, faces: &[Face]) -> Vec<Option<RgbImage>> {
        let input = &self.reference.entry.input;
        faces
            .iter()
            .map(|f| {
                align_face(
                    img,
                    &f.keypoints,
                    &self.spec.template,
                    input.width,
                    input.height,
                )
            })
            .collect()
    }

    /// Embeds aligned chips (each at the model's input size) in one batch where allowed.
    pub fn embed_chips(&mut self, chips: &[&RgbImage]) -> Result<Vec<Embedding>, RuntimeError> {
        Ok(self
            .embed_views(chips)?
            .into_iter()
            .map(|(e, _)| e)
            .collect())
    }

    /// As [`Embedder::embed_chips`], each embedding with whether the model was fed the chip
    /// as a dim view (smoothed and stretched by [`crate::face::dim::for_embedder`]).
    pub fn embed_views(
        &mut self,
        chips: &[&RgbImage],
    ) -> Result<Vec<(Embedding, bool)>, RuntimeError> {
        let entry = &self.reference.entry;
        let input = &entry.input;
        let out_name = entry.output("embedding").unwrap_or("embedding").to_string();
        let batch = if entry.dynamic_batch() {
            chips.len().max(1)
        } else {
            1
        };
        let (h, w) = (input.height as usize, input.width as usize);
        let order: [usize; 3] = match input.channels {
            Channels::Rgb => [0, 1, 2],
            Channels::Bgr => [2, 1, 0],
        };
        let mut result = Vec::with_capacity(chips.len());
        for group in chips.chunks(batch) {
            let shape = match input.layout {
                Layout::Nchw => vec![group.len(), 3, h, w],
                Layout::Nhwc => vec![group.len(), h, w, 3],
            };
            let mut t = ndarray::ArrayD::<f32>::zeros(shape);
            let mut dim = Vec::with_capacity(group.len());
            for (i, chip) in group.iter().enumerate() {
                let fed = crate::face::dim::for_embedder(chip);
                dim.push(matches!(fed, std::borrow::Cow::Owned(_)));
                for (x, y, p) in fed.enumerate_pixels() {
                    let (x, y) = (x as usize, y as usize);
                    if x >= w || y >= h {
                        continue;
                    }
                    for (c, &src) in order.iter().enumerate() {
                        let v = f32::from(p[src]) * input.scale + input.offset;
                        match input.layout {
                            Layout::Nchw => t[[i, c, y, x]] = v,
                            Layout::Nhwc => t[[i, y, x, c]] = v,
                        }
                    }
                }
            }
            let outs = self.model.run(&input.name, t, &[out_name.as_str()])?;
            let per = outs[0].data.len() / group.len();
            if per != self.spec.dim {
                return Err(RuntimeError::Run {
                    model: self.reference.name.clone(),
                    cause: format!(
                        "embedding has {per} values, the manifest says {}",
                        self.spec.dim
                    ),
                });
            }
            for (i, dim) in dim.into_iter().enumerate() {
                let mut v = outs[0].data[i * per..(i + 1) * per].to_vec();
                if self.spec.l2_normalize {
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    if n > 0.0 {
                        v.iter_mut().for_each(|x| *x /= n);
                    }
                }
                result.push((Embedding(v), dim));
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let a = Embedding(vec![0.0, 3.0]);
        let b = Embedding(vec![4.0, 0.0]);
        assert!((a.distance(&b, Metric::Euclidean) - 5.0).abs() < 1e-6);
        assert!((a.distance(&b, Metric::Cosine) - 1.0).abs() < 1e-6);
        assert!(a.distance(&a, Metric::Cosine).abs() < 1e-6);
    }

    #[test]
    fn bytes_round_trip() {
        let a = Embedding(vec![0.25, -1.5, 3.0e-7]);
        assert_eq!(Embedding::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(Embedding::from_bytes(&[1, 2, 3]), None);
    }
}
