//! Resampling as OpenCV's INTER_AREA does (which the cascade's reference uses): the pyramid's
//! levels and the crops the later stages read.

use image::RgbImage;

/// The pixels of box `b` (reference convention: columns `x1 - 1 ..= x2 - 1`; black outside
/// the frame) resampled to `side` x `side`, as scaled NCHW planes into `out`.
pub(super) fn crop_into(
    img: &RgbImage,
    b: [f32; 4],
    side: usize,
    scale: f32,
    offset: f32,
    out: &mut [f32],
) {
    let (x0, y0) = (b[0] as i64 - 1, b[1] as i64 - 1);
    let cw = (b[2] - b[0] + 1.0).max(1.0) as i64;
    let ch = (b[3] - b[1] + 1.0).max(1.0) as i64;
    resample_into(img, [x0, y0, cw, ch], (side, side), (scale, offset), out);
}

/// The `r` = (x, y, width, height) rectangle of `img` (black outside it) resampled to
/// `size` (area averaging when shrinking, bilinear when enlarging, as OpenCV's INTER_AREA,
/// which the reference uses), as NCHW planes of `pixel * scale + offset` into `out`.
pub(super) fn resample_into(
    img: &RgbImage,
    r: [i64; 4],
    (ow, oh): (usize, usize),
    (scale, offset): (f32, f32),
    out: &mut [f32],
) {
    let [x0, y0, cw, ch] = r;
    let wx = weights(cw.max(1) as usize, ow);
    let wy = weights(ch.max(1) as usize, oh);
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    let plane = ow * oh;
    // Rows of the rectangle resampled horizontally first (each source row once).
    let mut rows: Vec<Option<Vec<[f32; 3]>>> = vec![None; ch.max(1) as usize];
    let row_of = |sy: usize| -> Vec<[f32; 3]> {
        let fy = y0 + sy as i64;
        wx.iter()
            .map(|taps| {
                let mut acc = [0f32; 3];
                if fy < 0 || fy >= ih {
                    return acc;
                }
                for &(sx, f) in taps {
                    let fx = x0 + sx as i64;
                    if fx < 0 || fx >= iw {
                        continue;
                    }
                    let i = ((fy * iw + fx) * 3) as usize;
                    for c in 0..3 {
                        acc[c] += f32::from(raw[i + c]) * f;
                    }
                }
                acc
            })
            .collect()
    };
    for (oy, ry) in wy.iter().enumerate() {
        let mut acc = vec![[0f32; 3]; ow];
        for &(sy, fy) in ry {
            let row = rows[sy].get_or_insert_with(|| row_of(sy));
            for (a, p) in acc.iter_mut().zip(row.iter()) {
                for c in 0..3 {
                    a[c] += p[c] * fy;
                }
            }
        }
        for (ox, a) in acc.iter().enumerate() {
            for c in 0..3 {
                out[c * plane + oy * ow + ox] = a[c] * scale + offset;
            }
        }
    }
}

/// For each of `dst` output samples along an axis of `src` pixels, the source pixels and
/// their weights (summing to 1): the covered share of each when shrinking (area averaging),
/// linear interpolation between pixel centres when enlarging.
fn weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let step = src as f32 / dst as f32;
    (0..dst)
        .map(|i| {
            if step >= 1.0 {
                let (a, b) = (i as f32 * step, (i + 1) as f32 * step);
                let mut taps = Vec::new();
                let mut x = a.floor() as usize;
                while (x as f32) < b && x < src {
                    let cover = (b.min(x as f32 + 1.0) - a.max(x as f32)).max(0.0);
                    if cover > 0.0 {
                        taps.push((x, cover / step));
                    }
                    x += 1;
                }
                taps
            } else {
                let c = ((i as f32 + 0.5) * step - 0.5).clamp(0.0, (src - 1) as f32);
                let x = c.floor() as usize;
                let f = c - x as f32;
                if x + 1 < src && f > 0.0 {
                    vec![(x, 1.0 - f), (x + 1, f)]
                } else {
                    vec![(x, 1.0)]
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_weights_cover_each_output_once() {
        for (src, dst) in [(100, 24), (24, 24), (37, 48), (5, 48), (1, 24)] {
            let w = weights(src, dst);
            assert_eq!(w.len(), dst);
            for taps in &w {
                let sum: f32 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-4, "{src}->{dst}: {sum}");
                assert!(taps.iter().all(|t| t.0 < src));
            }
        }
    }

    #[test]
    fn a_crop_outside_the_frame_is_black_and_inside_is_the_picture() {
        let img = RgbImage::from_pixel(40, 40, image::Rgb([200, 100, 50]));
        let mut out = vec![0f32; 3 * 24 * 24];
        // Columns -10..=29 and rows -10..=29: the top-left quarter is outside.
        crop_into(&img, [-9.0, -9.0, 30.0, 30.0], 24, 1.0, 0.0, &mut out);
        assert_eq!(out[0], 0.0);
        let last = 24 * 24 - 1;
        assert!((out[last] - 200.0).abs() < 1e-3);
        assert!((out[24 * 24 + last] - 100.0).abs() < 1e-3);
    }
}
