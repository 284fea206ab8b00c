//! Single-channel 8-bit images for the keypoint stage: conversion, resizing and blurring.
//! Hand-written because they are a few dozen lines and sit on the hot path (the `image` crate's
//! generic resize/blur are several times slower for this one fixed case).

/// A row-major 8-bit grey image.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// `w * h` luma values.
    pub px: Vec<u8>,
}

impl Gray {
    /// An image filled with `v`.
    pub fn filled(w: usize, h: usize, v: u8) -> Self {
        Self {
            w,
            h,
            px: vec![v; w * h],
        }
    }

    /// Luma (BT.601 integer weights) of an RGB image.
    pub fn from_rgb(img: &image::RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let px = img
            .as_raw()
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect();
        Self { w, h, px }
    }

    /// Pixel at (x, y); callers keep coordinates inside.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.px[y * self.w + x]
    }

    /// Bilinear resize to `nw` x `nh`; when shrinking by more than 2 it first box-averages so
    /// no detail aliases into false corners.
    pub fn resize(&self, nw: usize, nh: usize) -> Self {
        let mut src = std::borrow::Cow::Borrowed(self);
        while src.w >= 2 * nw.max(1) * 2 && src.h >= 2 * nh.max(1) * 2 {
            src = std::borrow::Cow::Owned(src.half());
        }
        let (sw, sh) = (src.w, src.h);
        if nw == 0 || nh == 0 || sw == 0 || sh == 0 {
            return Self::filled(nw, nh, 0);
        }
        // Fixed point: source position and an 8-bit weight of the next pixel, per column and
        // per row; rows are interpolated horizontally once each (x 256) and cached.
        let taps = |n: usize, s: usize| -> Vec<(usize, u32)> {
            let f = s as f32 / n as f32;
            (0..n)
                .map(|i| {
                    let p = ((i as f32 + 0.5) * f - 0.5).clamp(0.0, (s - 1) as f32);
                    let i0 = p as usize;
                    (i0, ((p - i0 as f32) * 256.0 + 0.5) as u32)
                })
                .collect()
        };
        let (xt, yt) = (taps(nw, sw), taps(nh, sh));
        let mut px = vec![0u8; nw * nh];
        if nh < sh {
            // Shrinking: each output row interpolates its two source rows first (contiguous,
            // vectorises), then gathers along it, so the gather runs once per output pixel
            // instead of once per source row and output column. The sums are exact integers
            // rounded once, so both orders give the same bytes. A blend is <= 255 x 256 (u16
            // lanes); one more column repeats the last, so every gather reads a pair.
            let mut col = vec![0u16; sw + 1];
            for (y, &(y0, t)) in yt.iter().enumerate() {
                let y1 = (y0 + 1).min(sh - 1);
                let (a, b) = (
                    &src.px[y0 * sw..(y0 + 1) * sw],
                    &src.px[y1 * sw..(y1 + 1) * sw],
                );
                let t16 = t as u16;
                for ((c, &a), &b) in col.iter_mut().zip(a).zip(b) {
                    *c = a as u16 * (256 - t16) + b as u16 * t16;
                }
                col[sw] = col[sw - 1];
                for (o, &(x0, t)) in px[y * nw..(y + 1) * nw].iter_mut().zip(&xt) {
                    let pair = &col[x0..x0 + 2];
                    let v = pair[0] as u32 * (256 - t) + pair[1] as u32 * t;
                    *o = ((v + 32768) >> 16) as u8;
                }
            }
            return Self { w: nw, h: nh, px };
        }
        let hrow = |y: usize, out: &mut Vec<u32>| {
            let row = &src.px[y * sw..(y + 1) * sw];
            out.clear();
            out.extend(xt.iter().map(|&(x0, t)| {
                let x1 = (x0 + 1).min(sw - 1);
                row[x0] as u32 * (256 - t) + row[x1] as u32 * t
            }));
        };
        let (mut r0, mut r1) = (Vec::with_capacity(nw), Vec::with_capacity(nw));
        let mut cached = (usize::MAX, usize::MAX);
        for (y, &(y0, t)) in yt.iter().enumerate() {
            let y1 = (y0 + 1).min(sh - 1);
            if cached != (y0, y1) {
                if cached.1 == y0 {
                    std::mem::swap(&mut r0, &mut r1);
                } else {
                    hrow(y0, &mut r0);
                }
                hrow(y1, &mut r1);
                cached = (y0, y1);
            }
            for ((o, &a), &b) in px[y * nw..(y + 1) * nw].iter_mut().zip(&r0).zip(&r1) {
                *o = ((a * (256 - t) + b * t + 32768) >> 16) as u8;
            }
        }
        Self { w: nw, h: nh, px }
    }

    /// 2x2 box downscale.
    fn half(&self) -> Self {
        let (nw, nh) = (self.w / 2, self.h / 2);
        let mut px = vec![0u8; nw * nh];
        for y in 0..nh {
            let r0 = &self.px[2 * y * self.w..];
            let r1 = &self.px[(2 * y + 1) * self.w..];
            for x in 0..nw {
                let s = r0[2 * x] as u16
                    + r0[2 * x + 1] as u16
                    + r1[2 * x] as u16
                    + r1[2 * x + 1] as u16;
                px[y * nw + x] = ((s + 2) / 4) as u8;
            }
        }
        Self { w: nw, h: nh, px }
    }

    /// Separable binomial blur [1 4 6 4 1]/16 twice over (sigma ~1.4), borders replicated:
    /// BRIEF tests compare single pixels, so they need a smoothed image.
    pub fn blur(&self) -> Self {
        let (w, h) = (self.w, self.h);
        if w == 0 || h == 0 {
            return self.clone();
        }
        let k = [1u16, 4, 6, 4, 1];
        let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        let mut tmp = vec![0u16; w * h];
        for y in 0..h {
            let row = &self.px[y * w..(y + 1) * w];
            let out = &mut tmp[y * w..(y + 1) * w];
            let edge = |x: usize| -> u16 {
                (0..5)
                    .map(|i| k[i] * row[clamp(x as isize + i as isize - 2, w)] as u16)
                    .sum()
            };
            if w < 5 {
                for (x, o) in out.iter_mut().enumerate() {
                    *o = edge(x);
                }
                continue;
            }
            for x in [0, 1, w - 2, w - 1] {
                out[x] = edge(x);
            }
            // Interior without clamping (vectorises); <= 16 * 255.
            for (o, win) in out[2..w - 2].iter_mut().zip(row.windows(5)) {
                *o = win[0] as u16
                    + 4 * win[1] as u16
                    + 6 * win[2] as u16
                    + 4 * win[3] as u16
                    + win[4] as u16;
            }
        }
        let mut px = vec![0u8; w * h];
        for y in 0..h {
            let r: [&[u16]; 5] = std::array::from_fn(|i| {
                let yy = clamp(y as isize + i as isize - 2, h);
                &tmp[yy * w..(yy + 1) * w]
            });
            for (x, o) in px[y * w..(y + 1) * w].iter_mut().enumerate() {
                let s = r[0][x] as u32
                    + 4 * r[1][x] as u32
                    + 6 * r[2][x] as u32
                    + 4 * r[3][x] as u32
                    + r[4][x] as u32;
                *o = ((s + 128) >> 8) as u8;
            }
        }
        Self { w, h, px }
    }
}

pub use crate::media::luma;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_flat_images_flat_and_sizes_right() {
        let g = Gray::filled(640, 360, 77);
        let r = g.resize(100, 57);
        assert_eq!((r.w, r.h), (100, 57));
        assert!(r.px.iter().all(|&v| v == 77));
    }

    /// Bilinear resampling as first written: the fixed-point weights of `resize`, every
    /// output pixel from its four source pixels (no box pre-shrink).
    fn plain_bilinear(g: &Gray, nw: usize, nh: usize) -> Gray {
        let tap = |i: usize, n: usize, s: usize| {
            let p = ((i as f32 + 0.5) * (s as f32 / n as f32) - 0.5).clamp(0.0, (s - 1) as f32);
            let i0 = p as usize;
            (
                i0,
                (i0 + 1).min(s - 1),
                ((p - i0 as f32) * 256.0 + 0.5) as u32,
            )
        };
        let mut out = Gray::filled(nw, nh, 0);
        for y in 0..nh {
            let (y0, y1, ty) = tap(y, nh, g.h);
            for x in 0..nw {
                let (x0, x1, tx) = tap(x, nw, g.w);
                let h = |yy| g.at(x0, yy) as u32 * (256 - tx) + g.at(x1, yy) as u32 * tx;
                out.px[y * nw + x] = ((h(y0) * (256 - ty) + h(y1) * ty + 32768) >> 16) as u8;
            }
        }
        out
    }

    #[test]
    fn resize_equals_plain_bilinear_shrinking_and_growing() {
        let mut rng = crate::references::orb::SplitMix64(3);
        let mut g = Gray::filled(203, 117, 0);
        for p in g.px.iter_mut() {
            *p = rng.below(256) as u8;
        }
        // Under 4x each way, so no box pre-shrink: shrinks (both orders of work), growths,
        // one side each way, and the same size.
        for (nw, nh) in [
            (162, 94),
            (104, 60),
            (80, 33),
            (400, 250),
            (150, 200),
            (250, 90),
        ] {
            assert_eq!(g.resize(nw, nh), plain_bilinear(&g, nw, nh), "{nw}x{nh}");
        }
        assert_eq!(g.resize(203, 117), g);
    }

    #[test]
    fn blur_preserves_mean_and_smooths_an_edge() {
        let mut g = Gray::filled(20, 5, 0);
        for y in 0..5 {
            for x in 10..20 {
                g.px[y * 20 + x] = 200;
            }
        }
        let b = g.blur();
        assert!(b.at(9, 2) > 0 && b.at(9, 2) < 100, "{}", b.at(9, 2));
        assert!(b.at(10, 2) > 100 && b.at(10, 2) < 200);
        assert_eq!(b.at(0, 2), 0);
        assert_eq!(b.at(19, 2), 200);
    }
}
