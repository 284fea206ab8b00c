//! Whether a picture shows something an earlier one of the same shot did not: a small luma
//! thumbnail of each, aligned by the global zoom and pan between them, compared block by
//! block. Reference matching uses it to search a shot again only where something new can
//! have appeared (`scan::refgate`); a camera move alone is not new content.

use image::RgbImage;

/// Thumbnail width in pixels (a 1080p frame: 8 x 8 pixels each).
pub const THUMB_WIDTH: usize = 240;

/// Side of a compared block, in thumbnail pixels (32 px on 1080p, 21 on 720p).
const BLOCK: usize = 4;

/// A picture's luma, area-averaged to [`THUMB_WIDTH`] pixels wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    w: usize,
    h: usize,
    px: Vec<f32>,
    mean: f32,
}

/// How `now` differs from `base` once aligned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Zoom from `base` to `now` (above 1: pushed in).
    pub zoom: f32,
    /// Pan, as a share of the picture width.
    pub pan: f32,
    /// Where the centre of `now` lies in `base`, less the centre: shares of its width and
    /// height (see [`Change::to_later`]).
    pub shift: [f32; 2],
    /// Share of `now` that `base` did not show (pulled out or panned in).
    pub revealed: f32,
    /// The largest mean absolute luma difference (0-255) of a block after alignment and the
    /// brightness offset (the median difference where both pictures show the same place), less half a pixel's gradient (edges a fraction of a pixel
    /// off): how much something changed in place.
    pub residual: f32,
}

impl Change {
    /// Where a point of `base` (shares of its width and height) lies in `now`.
    pub fn to_later(&self, p: [f32; 2]) -> [f32; 2] {
        [
            0.5 + (p[0] - self.shift[0] - 0.5) * self.zoom,
            0.5 + (p[1] - self.shift[1] - 0.5) * self.zoom,
        ]
    }
}

impl Thumb {
    /// The thumbnail of a picture (pictures narrower than [`THUMB_WIDTH`] keep their size).
    pub fn of(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let tw = THUMB_WIDTH.min(w).max(1);
        let th = ((h * tw + w / 2) / w.max(1)).clamp(1, h.max(1));
        let small = super::resize::shrink_to(img, tw as u32, th as u32);
        let (tw, th) = (small.width() as usize, small.height() as usize);
        let px: Vec<f32> = small
            .as_raw()
            .chunks_exact(3)
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect();
        let mean = px.iter().sum::<f32>() / px.len().max(1) as f32;
        Self {
            w: tw,
            h: th,
            px,
            mean,
        }
    }

    /// Half the size, by 2 x 2 averages (the coarse level of the alignment search).
    fn half(&self) -> Self {
        let (w, h) = ((self.w / 2).max(1), (self.h / 2).max(1));
        let mut px = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let at = |dx: usize, dy: usize| {
                    self.px[(2 * y + dy).min(self.h - 1) * self.w + (2 * x + dx).min(self.w - 1)]
                };
                px.push((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4.0);
            }
        }
        Self {
            w,
            h,
            px,
            mean: self.mean,
        }
    }

    /// Bilinear sample at (x, y), None outside.
    #[inline]
    fn sample(&self, x: f32, y: f32) -> Option<f32> {
        let (px, (y0, y1, fy)) = (place(x, self.w)?, place(y, self.h)?);
        Some(blend(self.row(y0), self.row(y1), px, fy))
    }

    /// Row `y` of the picture.
    #[inline]
    fn row(&self, y: usize) -> &[f32] {
        &self.px[y * self.w..(y + 1) * self.w]
    }

    /// Where pixel (x, y) of the later picture lies in this one under zoom `s` and shift
    /// (tx, ty) (thumbnail pixels), about the centre.
    #[inline]
    fn source(&self, x: f32, y: f32, s: f32, t: [f32; 2]) -> (f32, f32) {
        let (cx, cy) = ((self.w - 1) as f32 / 2.0, (self.h - 1) as f32 / 2.0);
        (cx + (x - cx) / s + t[0], cy + (y - cy) / s + t[1])
    }

    /// Mean absolute difference of `now` against this picture warped by (s, t), over every
    /// `step`-th pixel that lands inside, with the global brightness offset removed, plus a
    /// small charge for the share landing outside (ties go to the warp that reveals less; a
    /// warp that overlaps less than half the picture is never chosen).
    fn cost(&self, now: &Thumb, s: f32, t: [f32; 2], step: usize) -> f32 {
        let offset = now.mean - self.mean;
        // Where each costed column lands in this picture: the same for every row, so worked
        // out once (`sample`'s arithmetic, in the same order: the same sums).
        let cols: Vec<(usize, (usize, usize, f32))> = (0..now.w)
            .step_by(step)
            .filter_map(|x| Some((x, place(self.source(x as f32, 0.0, s, t).0, self.w)?)))
            .collect();
        let (mut sum, mut inside, mut n) = (0f32, 0usize, 0usize);
        let per_row = now.w.div_ceil(step.max(1));
        for y in (0..now.h).step_by(step) {
            n += per_row;
            let Some((y0, y1, fy)) = place(self.source(0.0, y as f32, s, t).1, self.h) else {
                continue;
            };
            let (row0, row1, later) = (self.row(y0), self.row(y1), now.row(y));
            for &(x, px) in &cols {
                sum += (later[x] - blend(row0, row1, px, fy) - offset).abs();
            }
            inside += cols.len();
        }
        if inside * 2 < n {
            return f32::MAX;
        }
        sum / inside as f32 + 2.0 * (n - inside) as f32 / n as f32
    }

    /// The zoom and pan that best map this picture onto `now` (zoom up to `max_zoom` either
    /// way, pan up to a twentieth of the width each way), and what is left once aligned.
    pub fn compare(&self, now: &Thumb, max_zoom: f32) -> Change {
        if (self.w, self.h) != (now.w, now.h) || self.px.is_empty() {
            return Change {
                zoom: 1.0,
                pan: 0.0,
                shift: [0.0; 2],
                revealed: 1.0,
                residual: 255.0,
            };
        }
        // Coarse: zoom in 2% steps and pan in whole pixels on the quarter-size thumbnails
        // (4 pixels here); then around the best in 0.5% and half-pixel steps at half size.
        let zooms = (max_zoom.max(0.0) + 1.0).ln();
        let kmax = (zooms / 0.02).ceil() as i32;
        let (hb, hn) = (self.half(), now.half());
        let (qb, qn) = (hb.half(), hn.half());
        let pan = (qb.w as f32 / 20.0).ceil() as i32;
        let mut best = (f32::MAX, 1.0f32, [0f32; 2]);
        for k in -kmax..=kmax {
            let s = (k as f32 * 0.02).exp();
            let (c, t) = qb.best_shift(&qn, s, pan);
            if c < best.0 {
                best = (c, s, [2.0 * t[0] as f32, 2.0 * t[1] as f32]);
            }
        }
        let (_, s0, t0) = best;
        let (_, s1, t1) = hb.refine(&hn, s0, t0, 0.005, 0.5, 1);
        // Last, at full size in quarter-pixel and 0.2% steps.
        let best = self.refine(now, s1, [2.0 * t1[0], 2.0 * t1[1]], 0.002, 0.25, 2);
        let (_, s, t) = best;
        self.residual(now, s, t)
    }

    /// The whole-pixel shift (up to `pan` either way) that best maps this picture onto `now`
    /// zoomed by `s`, and its cost (as [`Thumb::cost`], summed over this picture's pixels):
    /// `now` is resampled onto this picture's grid once, then every shift is a plain offset.
    fn best_shift(&self, now: &Thumb, s: f32, pan: i32) -> (f32, [i32; 2]) {
        let p = pan.max(0) as usize;
        let (ww, wh) = (self.w + 2 * p, self.h + 2 * p);
        let (cx, cy) = ((self.w - 1) as f32 / 2.0, (self.h - 1) as f32 / 2.0);
        // warped[Y][X] = now at the place this picture's pixel (X - p, Y - p) shows when
        // zoomed by s: pixel X under shift t compares with warped[X - t]. What lands inside
        // `now` is one run of each row (the warp is monotonic): `runs[Y]`.
        let mut warped = vec![0f32; ww * wh];
        let mut runs = vec![(0usize, 0usize); wh];
        for (y, run) in runs.iter_mut().enumerate() {
            let by = cy + (y as f32 - p as f32 - cy) * s;
            for x in 0..ww {
                let bx = cx + (x as f32 - p as f32 - cx) * s;
                if let Some(v) = now.sample(bx, by) {
                    warped[y * ww + x] = v;
                    if run.1 == 0 {
                        run.0 = x;
                    }
                    run.1 = x + 1;
                }
            }
        }
        let offset = now.mean - self.mean;
        let n = self.w * self.h;
        let mut best = (f32::MAX, [0i32; 2]);
        for ty in -pan..=pan {
            for tx in -pan..=pan {
                let (mut sum, mut inside) = (0f32, 0usize);
                let wx0 = (p as i32 - tx) as usize;
                for y in 0..self.h {
                    let wy = (y as i32 + p as i32 - ty) as usize;
                    // This row's pixels x with wx0 + x inside the run.
                    let (r0, r1) = runs[wy];
                    let (x0, x1) = (r0.saturating_sub(wx0), r1.saturating_sub(wx0).min(self.w));
                    if x0 >= x1 {
                        continue;
                    }
                    let row = &warped[wy * ww + wx0 + x0..wy * ww + wx0 + x1];
                    let base = &self.px[y * self.w + x0..y * self.w + x1];
                    for (w, b) in row.iter().zip(base) {
                        sum += (w - b - offset).abs();
                    }
                    inside += x1 - x0;
                }
                if inside * 2 < n {
                    continue;
                }
                let c = sum / inside as f32 + 2.0 * (n - inside) as f32 / n as f32;
                if c < best.0 {
                    best = (c, [tx, ty]);
                }
            }
        }
        best
    }

    /// The best warp (cost, zoom, shift) near (s0, t0): zoom in `zoom_step` (log) steps up to
    /// two either way, then shift in `shift_step` pixels up to two either way, twice over;
    /// costed on every `step`-th pixel.
    fn refine(
        &self,
        now: &Thumb,
        s0: f32,
        t0: [f32; 2],
        zoom_step: f32,
        shift_step: f32,
        step: usize,
    ) -> (f32, f32, [f32; 2]) {
        let mut best = (self.cost(now, s0, t0, step), s0, t0);
        for _ in 0..2 {
            let (s1, t1) = (best.1, best.2);
            for k in [-2, -1, 1, 2] {
                let s = s1 * (k as f32 * zoom_step).exp();
                let c = self.cost(now, s, t1, step);
                if c < best.0 {
                    best = (c, s, t1);
                }
            }
            let (s1, t1) = (best.1, best.2);
            for dy in -2..=2 {
                for dx in -2..=2 {
                    let t = [
                        t1[0] + dx as f32 * shift_step,
                        t1[1] + dy as f32 * shift_step,
                    ];
                    let c = self.cost(now, s1, t, step);
                    if c < best.0 {
                        best = (c, s1, t);
                    }
                }
            }
        }
        best
    }

    /// The median difference of `now` and this picture warped by (s, t), over the pixels
    /// both show: their brightness offset. (The whole pictures' means differ as well when
    /// the camera moves: a push-in fills more of the frame with the subject.)
    fn offset(&self, now: &Thumb, s: f32, t: [f32; 2]) -> f32 {
        let mut d = Vec::with_capacity(now.px.len());
        for y in 0..now.h {
            for x in 0..now.w {
                let (sx, sy) = self.source(x as f32, y as f32, s, t);
                if let Some(v) = self.sample(sx, sy) {
                    d.push(now.px[y * now.w + x] - v);
                }
            }
        }
        if d.is_empty() {
            return now.mean - self.mean;
        }
        let mid = d.len() / 2;
        *d.select_nth_unstable_by(mid, f32::total_cmp).1
    }

    /// The [`Change`] of `now` under the warp (s, t).
    fn residual(&self, now: &Thumb, s: f32, t: [f32; 2]) -> Change {
        let offset = self.offset(now, s, t);
        let (bw, bh) = (now.w.div_ceil(BLOCK), now.h.div_ceil(BLOCK));
        let mut blocks = vec![Block::default(); bw * bh];
        let mut outside = 0usize;
        for y in 0..now.h {
            for x in 0..now.w {
                let (sx, sy) = self.source(x as f32, y as f32, s, t);
                let Some(v) = self.sample(sx, sy) else {
                    outside += 1;
                    continue;
                };
                // An edge a fraction of a pixel off differs by its gradient times the offset:
                // forgive half a pixel's worth, so only new content counts. Where the
                // gradient cannot be read (the searched picture's border) nothing is judged.
                let gx = self.sample(sx + 0.5, sy).zip(self.sample(sx - 0.5, sy));
                let gy = self.sample(sx, sy + 0.5).zip(self.sample(sx, sy - 0.5));
                let (Some(gx), Some(gy)) = (gx, gy) else {
                    continue;
                };
                let g = (gx.0 - gx.1).abs() + (gy.0 - gy.1).abs();
                let b = &mut blocks[(y / BLOCK) * bw + x / BLOCK];
                let d = (now.px[y * now.w + x] - v - offset).abs();
                b.sum += (d - 0.5 * g).max(0.0);
                b.n += 1;
            }
        }
        let half = BLOCK * BLOCK / 2;
        let residual = blocks
            .iter()
            .filter(|b| b.n >= half)
            .map(|b| b.sum / b.n as f32)
            .fold(0f32, f32::max);
        Change {
            zoom: s,
            pan: (t[0].powi(2) + t[1].powi(2)).sqrt() / now.w as f32,
            shift: [
                t[0] / (now.w.max(2) - 1) as f32,
                t[1] / (now.h.max(2) - 1) as f32,
            ],
            revealed: outside as f32 / (now.w * now.h).max(1) as f32,
            residual,
        }
    }
}

/// Where coordinate `v` falls along a side of `len` pixels: the pixel at or before it, the
/// next one (the last pixel repeats) and the fraction between them; None outside.
#[inline]
fn place(v: f32, len: usize) -> Option<(usize, usize, f32)> {
    if v < 0.0 || v > (len - 1) as f32 {
        return None;
    }
    let i = v as usize;
    Some((i, (i + 1).min(len - 1), v - i as f32))
}

/// The bilinear value between rows `r0` and `r1` at column place `x` (from [`place`]), `fy`
/// of the way from `r0` to `r1`.
#[inline]
fn blend(r0: &[f32], r1: &[f32], (x0, x1, fx): (usize, usize, f32), fy: f32) -> f32 {
    let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
    let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
    top + (bottom - top) * fy
}

/// One compared block: the residual summed over the pixels both pictures show.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    sum: f32,
    n: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A textured 640x360 picture: smooth gradients and a few hard-edged blobs.
    fn scene() -> RgbImage {
        RgbImage::from_fn(640, 360, |x, y| {
            let (fx, fy) = (x as f32, y as f32);
            let v = 128.0 + 60.0 * (fx / 37.0).sin() * (fy / 23.0).cos() + 30.0 * (fx / 91.0).cos();
            let blob = ((x / 80) + (y / 60)) % 3 == 0;
            let v = if blob { v * 0.6 } else { v };
            Rgb([v as u8, (v * 0.9) as u8, (255.0 - v) as u8])
        })
    }

    /// `img` zoomed by `s` about its centre and shifted by `dx` pixels (bilinear).
    fn warp(img: &RgbImage, s: f32, dx: f32) -> RgbImage {
        let (w, h) = img.dimensions();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        RgbImage::from_fn(w, h, |x, y| {
            let sx = (cx + (x as f32 - cx) / s + dx).clamp(0.0, (w - 1) as f32);
            let sy = (cy + (y as f32 - cy) / s).clamp(0.0, (h - 1) as f32);
            *img.get_pixel(sx.round() as u32, sy.round() as u32)
        })
    }

    #[test]
    fn the_same_picture_has_not_changed() {
        let a = Thumb::of(&scene());
        let c = a.compare(&a, 0.1);
        assert!(c.residual < 0.5 && c.revealed == 0.0, "{c:?}");
    }

    #[test]
    fn a_zoom_or_a_pan_is_aligned_away() {
        let img = scene();
        let a = Thumb::of(&img);
        for (s, dx) in [
            (1.06f32, 0.0f32),
            (1.0 / 1.06, 0.0),
            (1.0, 24.0),
            (1.04, -16.0),
        ] {
            let c = a.compare(&Thumb::of(&warp(&img, s, dx)), 0.1);
            assert!((c.zoom / s - 1.0).abs() < 0.01, "{s} {dx}: {c:?}");
            assert!(c.residual < 12.0, "{s} {dx}: {c:?}");
            // A point of the first picture lands where the warp put it (`warp` shifts the
            // source by dx: the later picture shows source x at (x - dx - cx) * s + cx).
            let [x, _] = c.to_later([0.25, 0.5]);
            let want = ((160.0 - dx - 320.0) * s + 320.0) / 640.0;
            assert!((x - want).abs() < 0.01, "{s} {dx}: {x} vs {want}");
        }
        // Pulled out: the border was not in the first picture.
        let c = a.compare(&Thumb::of(&warp(&img, 1.0 / 1.06, 0.0)), 0.1);
        assert!(c.revealed > 0.08 && c.revealed < 0.14, "{c:?}");
    }

    #[test]
    fn a_push_in_on_a_subject_before_a_dark_backdrop_is_not_a_change() {
        // The subject fills more of the picture as the camera pushes in, so the whole
        // pictures' mean brightness rises by ~25 levels though nothing changed: the offset
        // must come from where both pictures show the same place.
        let img = RgbImage::from_fn(640, 360, |x, y| {
            let inside = (160..480).contains(&x) && (70..290).contains(&y);
            let v = if inside {
                170.0 + 40.0 * (x as f32 / 23.0).sin() * (y as f32 / 31.0).cos()
            } else {
                20.0 + y as f32 / 36.0
            };
            Rgb([v as u8; 3])
        });
        let c = Thumb::of(&img).compare(&Thumb::of(&warp(&img, 1.12, 0.0)), 0.15);
        assert!((c.zoom / 1.12 - 1.0).abs() < 0.01, "{c:?}");
        assert!(c.residual < 8.0, "{c:?}");
    }

    #[test]
    fn a_small_new_thing_is_a_change() {
        let img = scene();
        let mut later = img.clone();
        // A 40 x 24 px patch (about 6% of the width), dark on the left, light on the right.
        for y in 200..224 {
            for x in 500..540 {
                let v = if x < 520 { 20 } else { 235 };
                later.put_pixel(x, y, Rgb([v, v, v]));
            }
        }
        let c = Thumb::of(&img).compare(&Thumb::of(&later), 0.1);
        assert!(c.residual > 20.0, "{c:?}");
        let c = Thumb::of(&img).compare(&Thumb::of(&img), 0.1);
        assert!(c.residual < 1.0, "{c:?}");
    }

    #[test]
    fn different_sizes_or_empty_are_all_new() {
        let a = Thumb::of(&scene());
        let b = Thumb::of(&RgbImage::new(320, 320));
        assert_eq!(a.compare(&b, 0.1).revealed, 1.0);
    }

    /// [`Thumb::cost`] pixel by pixel through `source` and `sample` (the tests check the
    /// two agree exactly).
    fn cost_plain(this: &Thumb, now: &Thumb, s: f32, t: [f32; 2], step: usize) -> f32 {
        let offset = now.mean - this.mean;
        let (mut sum, mut inside, mut n) = (0f32, 0usize, 0usize);
        for y in (0..now.h).step_by(step) {
            for x in (0..now.w).step_by(step) {
                let (sx, sy) = this.source(x as f32, y as f32, s, t);
                if let Some(v) = this.sample(sx, sy) {
                    sum += (now.px[y * now.w + x] - v - offset).abs();
                    inside += 1;
                }
                n += 1;
            }
        }
        if inside * 2 < n {
            return f32::MAX;
        }
        sum / inside as f32 + 2.0 * (n - inside) as f32 / n as f32
    }

    /// [`Thumb::best_shift`] with a test of every pixel (the tests check the two agree).
    fn best_shift_plain(this: &Thumb, now: &Thumb, s: f32, pan: i32) -> (f32, [i32; 2]) {
        let p = pan.max(0) as usize;
        let (ww, wh) = (this.w + 2 * p, this.h + 2 * p);
        let (cx, cy) = ((this.w - 1) as f32 / 2.0, (this.h - 1) as f32 / 2.0);
        // warped[Y][X] = now at the place this picture's pixel (X - p, Y - p) shows when
        // zoomed by s (NaN outside `now`): pixel X under shift t compares with warped[X - t].
        let mut warped = vec![f32::NAN; ww * wh];
        for y in 0..wh {
            for x in 0..ww {
                let bx = cx + (x as f32 - p as f32 - cx) * s;
                let by = cy + (y as f32 - p as f32 - cy) * s;
                if let Some(v) = now.sample(bx, by) {
                    warped[y * ww + x] = v;
                }
            }
        }
        let offset = now.mean - this.mean;
        let n = this.w * this.h;
        let mut best = (f32::MAX, [0i32; 2]);
        for ty in -pan..=pan {
            for tx in -pan..=pan {
                let (mut sum, mut inside) = (0f32, 0usize);
                for y in 0..this.h {
                    let wy = (y as i32 + p as i32 - ty) as usize;
                    let wx0 = (p as i32 - tx) as usize;
                    let row = &warped[wy * ww + wx0..wy * ww + wx0 + this.w];
                    let base = &this.px[y * this.w..(y + 1) * this.w];
                    for (w, b) in row.iter().zip(base) {
                        if !w.is_nan() {
                            sum += (w - b - offset).abs();
                            inside += 1;
                        }
                    }
                }
                if inside * 2 < n {
                    continue;
                }
                let c = sum / inside as f32 + 2.0 * (n - inside) as f32 / n as f32;
                if c < best.0 {
                    best = (c, [tx, ty]);
                }
            }
        }
        best
    }

    #[test]
    fn the_costing_by_rows_and_runs_equals_the_plain_one_exactly() {
        let img = scene();
        let a = Thumb::of(&img);
        for (s, dx) in [
            (1.0f32, 0.0f32),
            (1.07, 5.0),
            (1.0 / 1.13, -9.0),
            (1.3, 40.0),
        ] {
            let b = Thumb::of(&warp(&img, s, dx));
            for (bs, bt) in [
                (1.0f32, [0.0f32, 0.0]),
                (s, [dx / 2.7, 0.3]),
                (0.8, [-30.0, 4.25]),
            ] {
                for step in [1, 2, 3] {
                    let (fast, plain) =
                        (a.cost(&b, bs, bt, step), cost_plain(&a, &b, bs, bt, step));
                    assert_eq!(
                        fast.to_bits(),
                        plain.to_bits(),
                        "{s} {dx} {bs} {bt:?} {step}"
                    );
                }
            }
            // The coarse level's whole-pixel shifts, on the quarter-size thumbnails.
            let (qa, qb) = (a.half().half(), b.half().half());
            for (zoom, pan) in [(1.0f32, 3), (s, 5), (1.0 / s, 2), (1.2, 0), (0.7, 4)] {
                let fast = qa.best_shift(&qb, zoom, pan);
                let plain = best_shift_plain(&qa, &qb, zoom, pan);
                assert_eq!(
                    (fast.0.to_bits(), fast.1),
                    (plain.0.to_bits(), plain.1),
                    "{s} {dx} {zoom} {pan}"
                );
            }
        }
    }
}
