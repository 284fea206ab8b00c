//! Area-averaged downscaling of RGB pictures: each output pixel is the mean of the block of
//! source pixels it covers. Cheaper than a filtered resize (one read of each source pixel,
//! integer sums) and free of aliasing, for every "make it smaller" in the pipeline: the
//! detector's shrunk frame and model inputs, and the evidence thumbnails.

use image::RgbImage;

/// Adds each span `[x0, x1)` of an RGB row to its three sums in `acc`.
pub(crate) fn add_spans(row: &[u8], xs: &[(usize, usize)], acc: &mut [u32]) {
    for (k, &(x0, x1)) in xs.iter().enumerate() {
        let (mut a0, mut a1, mut a2) = (0u32, 0u32, 0u32);
        for p in row[x0 * 3..x1 * 3].chunks_exact(3) {
            a0 += u32::from(p[0]);
            a1 += u32::from(p[1]);
            a2 += u32::from(p[2]);
        }
        acc[k * 3] += a0;
        acc[k * 3 + 1] += a1;
        acc[k * 3 + 2] += a2;
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
    for (oy, &(y0, y1)) in ys.iter().enumerate() {
        acc.iter_mut().for_each(|a| *a = 0);
        for yy in y0..y1 {
            let row = &raw[yy * stride..(yy + 1) * stride];
            add_spans(row, &xs, &mut acc);
        }
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
