//! Evidence a person can look at: the frame a finding rests on (scaled down, with the box
//! drawn) and the face crop, JPEG-encoded and carried inside the JSON and HTML reports as
//! base64 so a report stays one self-contained file. While a batch runs, the images wait on
//! disk rather than in memory (see `jpeg`).

mod jpeg;

pub use jpeg::{sha256_hex, EvidenceStore, Jpeg, Spill, SpillReader, Store};

use crate::media::resize::shrink_to;
use base64::Engine;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// Images behind one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The frame, at most 640 px wide, box drawn.
    pub frame_jpeg: Jpeg,
    /// The region (face or reference) with some context.
    pub crop_jpeg: Jpeg,
    /// The gallery's reference image for the matched person or reference, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_jpeg: Option<Jpeg>,
}

impl Evidence {
    /// Every image, for moving them between spill, journal and report.
    pub fn images_mut(&mut self) -> impl Iterator<Item = &mut Jpeg> {
        [
            Some(&mut self.frame_jpeg),
            Some(&mut self.crop_jpeg),
            self.reference_jpeg.as_mut(),
        ]
        .into_iter()
        .flatten()
    }
}

/// Width of the frame thumbnail.
const FRAME_WIDTH: u32 = 640;
/// Longer side of the crop.
const CROP_SIZE: u32 = 256;

/// JPEG bytes of an image, base64.
pub fn jpeg_base64(img: &RgbImage, quality: u8) -> String {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    // Encoding an in-memory RGB image cannot fail short of running out of memory.
    if img.write_with_encoder(enc).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes base64 to bytes (for writers that store files).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn draw_box(img: &mut RgbImage, b: [f32; 4], colour: Rgb<u8>, thickness: i64) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let x0 = b[0].round() as i64;
    let y0 = b[1].round() as i64;
    let x1 = (b[0] + b[2]).round() as i64;
    let y1 = (b[1] + b[3]).round() as i64;
    let mut put = |x: i64, y: i64| {
        if x >= 0 && y >= 0 && x < w && y < h {
            img.put_pixel(x as u32, y as u32, colour);
        }
    };
    for t in 0..thickness {
        for x in x0..=x1 {
            put(x, y0 + t);
            put(x, y1 - t);
        }
        for y in y0..=y1 {
            put(x0 + t, y);
            put(x1 - t, y);
        }
    }
}

/// Evidence for a region `b` (x, y, w, h in frame pixels) of `frame`.
pub fn capture(frame: &RgbImage, b: [f32; 4]) -> Evidence {
    let (fw, fh) = frame.dimensions();
    let crop = region(frame, b, CROP_SIZE);
    let scale = (FRAME_WIDTH as f32 / fw as f32).min(1.0);
    let mut thumb = if scale < 1.0 {
        shrink_to(frame, FRAME_WIDTH, (fh as f32 * scale) as u32)
    } else {
        frame.clone()
    };
    draw_box(&mut thumb, b.map(|v| v * scale), Rgb([255, 220, 0]), 2);
    Evidence {
        frame_jpeg: Jpeg::Inline(jpeg_base64(&thumb, 82)),
        crop_jpeg: Jpeg::Inline(jpeg_base64(&crop, 88)),
        reference_jpeg: None,
    }
}

/// Longer side of the crop kept for a face that matched nobody (`scan --unknown`): small,
/// since every such face of a shot keeps one until its track is known.
pub const UNKNOWN_CROP_SIZE: u32 = 112;

/// A face that matched nobody, cropped with context (JPEG, base64), for `scan --unknown`.
pub fn face_crop(frame: &RgbImage, b: [f32; 4]) -> String {
    jpeg_base64(&region(frame, b, UNKNOWN_CROP_SIZE), 85)
}

/// The region `b` grown by half its size on each side (clamped to the frame), its box
/// drawn, at most `size` px on its longer side.
fn region(frame: &RgbImage, b: [f32; 4], size: u32) -> RgbImage {
    let (fw, fh) = frame.dimensions();
    let grow = 0.5 * b[2].max(b[3]);
    let cx0 = (b[0] - grow).max(0.0) as u32;
    let cy0 = (b[1] - grow).max(0.0) as u32;
    let cx1 = ((b[0] + b[2] + grow).min(fw as f32) as u32).max(cx0 + 1);
    let cy1 = ((b[1] + b[3] + grow).min(fh as f32) as u32).max(cy0 + 1);
    let mut crop = image::imageops::crop_imm(frame, cx0, cy0, cx1 - cx0, cy1 - cy0).to_image();
    draw_box(
        &mut crop,
        [b[0] - cx0 as f32, b[1] - cy0 as f32, b[2], b[3]],
        Rgb([255, 220, 0]),
        2,
    );
    let s = size as f32 / crop.width().max(crop.height()) as f32;
    if s < 1.0 {
        crop = shrink_to(
            &crop,
            (crop.width() as f32 * s) as u32,
            (crop.height() as f32 * s) as u32,
        );
    }
    crop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_makes_decodable_jpegs_of_the_right_size() {
        let frame = RgbImage::from_pixel(1920, 1080, Rgb([40, 80, 120]));
        let e = capture(&frame, [900.0, 400.0, 200.0, 200.0]);
        let thumb = image::load_from_memory(&e.frame_jpeg.bytes().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (640, 360));
        let crop = image::load_from_memory(&e.crop_jpeg.bytes().unwrap()).unwrap();
        assert_eq!(crop.width().max(crop.height()), 256);
        // The box is drawn: a yellow-ish pixel on its top edge in the thumbnail.
        let p = thumb.to_rgb8().get_pixel(333, 134).0;
        assert!(p[0] > 180 && p[1] > 150 && p[2] < 100, "{p:?}");
    }

    #[test]
    fn a_box_at_the_frame_edge_is_clamped() {
        let frame = RgbImage::new(100, 50);
        let e = capture(&frame, [-10.0, 30.0, 40.0, 40.0]);
        assert!(e.crop_jpeg.bytes().is_ok_and(|b| !b.is_empty()));
    }
}
