//! Enrolling a reference: its keypoints (on the opaque pixels only, the image padded so
//! features near its edges get whole descriptors), its learned embedding, and the compact
//! form stored in the gallery. Flat images, which would match any rectangle, are refused.

use super::embed::{Embedding, IpEmbedder};
use super::gray::Gray;
use super::orb::{self, Features, OrbParams};
use super::{IpError, MatchConfig};
use image::{DynamicImage, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

/// Format version of [`RefImage`] bytes; bump when features or the pattern change.
pub const REF_FORMAT: u32 = 2;

/// An enrolled reference: its local features and (optionally) its learned embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefImage {
    /// Format version ([`REF_FORMAT`]).
    pub format: u32,
    /// Name given at enrollment.
    pub name: String,
    /// Original width in pixels.
    pub width: u32,
    /// Original height in pixels.
    pub height: u32,
    /// Bounding box (x0, y0, x1, y1) of the opaque pixels, in reference pixels: the part
    /// whose corners are projected into the frame.
    pub opaque_box: [f32; 4],
    /// Features, keypoint coordinates in reference pixels.
    pub features: Features,
    /// Learned embedding of the opaque part, when an embedder was given.
    pub embedding: Option<Embedding>,
}

impl RefImage {
    /// Enrolls an image (RGBA: only pixels with alpha >= 128 count; RGB: all of it).
    pub fn enroll(
        name: &str,
        image: &DynamicImage,
        config: &MatchConfig,
        embedder: Option<&mut IpEmbedder>,
    ) -> Result<Self, IpError> {
        let rgba = image.to_rgba8();
        let bad = |message: &str| IpError::Reference {
            name: name.to_string(),
            message: message.to_string(),
        };
        let (w, h) = rgba.dimensions();
        if w < 16 || h < 16 {
            return Err(bad("image is smaller than 16 x 16"));
        }
        let ob = opaque_box(&rgba).ok_or_else(|| bad("image has no opaque pixels"))?;
        if ob[2] - ob[0] < 16.0 || ob[3] - ob[1] < 16.0 {
            return Err(bad("opaque part is smaller than 16 x 16"));
        }
        let flat = over_grey(&rgba);
        // Scale so the long side is `ref_side`, pad with grey so features near the edges get
        // full descriptors, detect only on opaque pixels.
        let s = config.ref_side as f32 / w.max(h) as f32;
        let (sw, sh) = (
            ((w as f32 * s).round() as usize).max(1),
            ((h as f32 * s).round() as usize).max(1),
        );
        const PAD: usize = 20;
        let g = Gray::from_rgb(&flat).resize(sw, sh);
        let m = alpha_gray(&rgba).resize(sw, sh);
        // A flat image has no features of its own, only the false corners of its outline:
        // refuse it rather than enroll something that matches any rectangle.
        let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
        for (v, a) in g.px.iter().zip(&m.px) {
            if *a >= 128 {
                let v = f64::from(*v);
                n += 1.0;
                sum += v;
                sum2 += v * v;
            }
        }
        let spread = if n > 0.0 {
            (sum2 / n - (sum / n).powi(2)).max(0.0).sqrt()
        } else {
            0.0
        };
        if spread < 4.0 {
            return Err(bad("too few distinctive features (flat or tiny image)"));
        }
        let (pw, ph) = (sw + 2 * PAD, sh + 2 * PAD);
        let mut gp = Gray::filled(pw, ph, 128);
        let mut mp = Gray::filled(pw, ph, 0);
        for y in 0..sh {
            let (d, o) = ((y + PAD) * pw + PAD, y * sw);
            gp.px[d..d + sw].copy_from_slice(&g.px[o..o + sw]);
            mp.px[d..d + sw].copy_from_slice(&m.px[o..o + sw]);
        }
        let params = OrbParams {
            max_features: config.ref_features,
            ..OrbParams::default()
        };
        let mut features = orb::detect(&gp, Some(&mp), None, &params);
        for k in &mut features.keypoints {
            k.x = (k.x - PAD as f32) / s;
            k.y = (k.y - PAD as f32) / s;
            k.size /= s;
        }
        if features.len() < 4 {
            return Err(bad("too few distinctive features (flat or tiny image)"));
        }
        let embedding = match embedder {
            Some(e) => Some(e.embed(&embed_input(&flat, ob, 256))?),
            None => None,
        };
        Ok(Self {
            format: REF_FORMAT,
            name: name.to_string(),
            width: w,
            height: h,
            opaque_box: ob,
            features,
            embedding,
        })
    }

    /// Compact binary form (for a SQLite blob).
    pub fn to_bytes(&self) -> Vec<u8> {
        // postcard cannot fail on this plain data into a Vec.
        postcard::to_allocvec(self).expect("serialising a RefImage")
    }

    /// Reads [`RefImage::to_bytes`] output, refusing other format versions.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IpError> {
        let r: Self = postcard::from_bytes(bytes).map_err(|e| IpError::Decode(e.to_string()))?;
        if r.format != REF_FORMAT {
            return Err(IpError::Decode(format!(
                "format {} (this build reads {REF_FORMAT}); enroll the reference again",
                r.format
            )));
        }
        // Stored data is not trusted: the matcher indexes keypoints by descriptor.
        if r.features.keypoints.len() != r.features.descriptors.len() {
            return Err(IpError::Decode(format!(
                "{} keypoints but {} descriptors; enroll the reference again",
                r.features.keypoints.len(),
                r.features.descriptors.len()
            )));
        }
        Ok(r)
    }
}

/// Bounding box of pixels with alpha >= 128.
fn opaque_box(img: &RgbaImage) -> Option<[f32; 4]> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p[3] >= 128 {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
        }
    }
    (x0 < x1).then_some([x0 as f32, y0 as f32, x1 as f32, y1 as f32])
}

/// RGBA composited over mid grey (transparent parts carry no information).
fn over_grey(img: &RgbaImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut out = RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(img.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 128 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// The alpha channel as a grey image.
fn alpha_gray(img: &RgbaImage) -> Gray {
    let (w, h) = img.dimensions();
    Gray {
        w: w as usize,
        h: h as usize,
        px: img.pixels().map(|p| p[3]).collect(),
    }
}

/// The opaque part of a reference, scaled so its long side is `side`, for the embedder.
fn embed_input(flat: &RgbImage, ob: [f32; 4], side: u32) -> RgbImage {
    let [x0, y0, x1, y1] = ob.map(|v| v as u32);
    let c = image::imageops::crop_imm(flat, x0, y0, x1 - x0, y1 - y0).to_image();
    let s = side as f32 / (x1 - x0).max(y1 - y0) as f32;
    let (w, h) = (
        (((x1 - x0) as f32 * s).round() as u32).max(32),
        (((y1 - y0) as f32 * s).round() as u32).max(32),
    );
    image::imageops::resize(&c, w, h, image::imageops::FilterType::Triangle)
}
