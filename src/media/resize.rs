//! Area-averaged downscaling of RGB pictures: each output pixel is the mean of the block of
//! source pixels it covers. Cheaper than a filtered resize (one read of each source pixel,
//! integer sums) and free of aliasing, for every "make it smaller" in the pipeline: the
//! detector's shrunk frame and model inputs, and the evidence thumbnails.

use image::RgbImage;

/// Sums, byte by byte, rows `ys` of `raw` (`stride` bytes a row), bytes `cols` of each, into
/// `out` (`cols.len()` sums, overwritten). A straight loop the compiler vectorises: each
/// source byte is read once, and the spans of a row of output are then added up once per
/// output row instead of once per source row.
pub(crate) fn sum_rows(
    raw: &[u8],
    stride: usize,
    cols: std::ops::Range<usize>,
    ys: std::ops::Range<usize>,
    out: &mut [u32],
) {
    out.fill(0);
    for y in ys {
        let row = &raw[y * stride + cols.start..y * stride + cols.end];
        for (o, &v) in out.iter_mut().zip(row) {
            *o += u32::from(v);
        }
    }
}

/// The three sums of each span `[x0, x1)` (pixels, counted from pixel `first` of `sums`, which
/// holds three sums a pixel), written to `acc` (three per span, overwritten).
pub(crate) fn add_spans(sums: &[u32], first: usize, xs: &[(usize, usize)], acc: &mut [u32]) {
    for (k, &(x0, x1)) in xs.iter().enumerate() {
        let (mut a0, mut a1, mut a2) = (0u32, 0u32, 0u32);
        for p in sums[(x0 - first) * 3..(x1 - first) * 3].chunks_exact(3) {
            a0 += p[0];
            a1 += p[1];
            a2 += p[2];
        }
        acc[k * 3] = a0;
        acc[k * 3 + 1] = a1;
        acc[k * 3 + 2] = a2;
    }
}

/// The picture shrunk by area averaging to `factor` of its size (0 < factor < 1): each
/// output pixel is the mean of the source pixels it covers, so nothing aliases, and each
/// source pixel is read once.
pub fn shrink(img: &RgbImage, factor: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let nw = (w as f32 * factor).round() as u32;
    let nh = (h as f32 * factor).round() as u32;
    shrink_to(img, nw, nh)
}

/// The picture shrunk by area averaging to `width` x `height` (clamped to 1 px and to its
/// own size: this never enlarges).
pub fn shrink_to(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let nw = (width as usize).clamp(1, w.max(1));
    let nh = (height as usize).clamp(1, h.max(1));
    let spans = |len: usize, n: usize| -> Vec<(usize, usize)> {
        (0..n)
            .map(|i| {
                let a = i * len / n;
                let b = ((i + 1) * len / n).max(a + 1).min(len);
                (a, b)
            })
            .collect()
    };
    let xs = spans(w, nw);
    let ys = spans(h, nh);
    let raw = img.as_raw();
    let stride = w * 3;
    let mut out = vec![0u8; nw * nh * 3];
    let mut acc = vec![0u32; nw * 3];
    let mut sums = vec![0u32; stride];
    for (oy, &(y0, y1)) in ys.iter().enumerate() {
        sum_rows(raw, stride, 0..stride, y0..y1, &mut sums);
        add_spans(&sums, 0, &xs, &mut acc);
        let row = &mut out[oy * nw * 3..(oy + 1) * nw * 3];
        for (k, &(x0, x1)) in xs.iter().enumerate() {
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            for c in 0..3 {
                row[k * 3 + c] = ((acc[k * 3 + c] + n / 2) / n) as u8;
            }
        }
    }
    RgbImage::from_raw(nw as u32, nh as u32, out).unwrap_or_else(|| img.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: each output pixel the rounded mean of the block it covers.
    fn block_means(img: &RgbImage, nw: usize, nh: usize) -> Vec<u8> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut out = Vec::new();
        for oy in 0..nh {
            let (y0, y1) = (oy * h / nh, ((oy + 1) * h / nh).max(oy * h / nh + 1).min(h));
            for ox in 0..nw {
                let (x0, x1) = (ox * w / nw, ((ox + 1) * w / nw).max(ox * w / nw + 1).min(w));
                for c in 0..3 {
                    let mut sum = 0u32;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            sum += u32::from(img.get_pixel(x as u32, y as u32)[c]);
                        }
                    }
                    let n = ((y1 - y0) * (x1 - x0)) as u32;
                    out.push(((sum + n / 2) / n) as u8);
                }
            }
        }
        out
    }

    #[test]
    fn shrinking_gives_each_blocks_mean() {
        let img = RgbImage::from_fn(67, 41, |x, y| {
            let v = (x * 37 + y * 91 + x * y) % 256;
            image::Rgb([v as u8, (255 - v) as u8, ((v * 7) % 256) as u8])
        });
        for (nw, nh) in [(67, 41), (33, 20), (10, 7), (1, 1), (66, 40)] {
            let small = shrink_to(&img, nw, nh);
            assert_eq!(small.dimensions(), (nw, nh));
            assert_eq!(small.as_raw(), &block_means(&img, nw as usize, nh as usize));
        }
    }
}
