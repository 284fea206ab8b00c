//! Face alignment: a least-squares similarity transform from the embedder's template to the
//! detected keypoints, and a bilinear warp that cuts the face chip out of the frame.

use crate::models::Template;
use image::RgbImage;

/// A similarity transform `x' = a*x - b*y + tx`, `y' = b*x + a*y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Scale times cos(angle).
    pub a: f32,
    /// Scale times sin(angle).
    pub b: f32,
    /// Translation x.
    pub tx: f32,
    /// Translation y.
    pub ty: f32,
}

impl Similarity {
    /// Applies the transform to a point.
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    /// The scale factor.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// Least-squares fit mapping each `from[i]` onto `to[i]` (at least two distinct points).
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<Self> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let nf = n as f64;
        let (mut mx, mut my, mut ux, mut uy) = (0f64, 0f64, 0f64, 0f64);
        for i in 0..n {
            mx += f64::from(from[i][0]);
            my += f64::from(from[i][1]);
            ux += f64::from(to[i][0]);
            uy += f64::from(to[i][1]);
        }
        mx /= nf;
        my /= nf;
        ux /= nf;
        uy /= nf;
        // Closed form (Umeyama without reflection) on centred points.
        let (mut sxx, mut sab, mut sba) = (0f64, 0f64, 0f64);
        for i in 0..n {
            let x = f64::from(from[i][0]) - mx;
            let y = f64::from(from[i][1]) - my;
            let u = f64::from(to[i][0]) - ux;
            let v = f64::from(to[i][1]) - uy;
            sxx += x * x + y * y;
            sab += x * u + y * v;
            sba += x * v - y * u;
        }
        if sxx < 1e-12 {
            return None;
        }
        let a = sab / sxx;
        let b = sba / sxx;
        Some(Self {
            a: a as f32,
            b: b as f32,
            tx: (ux - (a * mx - b * my)) as f32,
            ty: (uy - (b * mx + a * my)) as f32,
        })
    }
}

/// The four points BlazeFace gives that the template can use: eyes, nose, and the mouth
/// centre (the midpoint of the template's two mouth corners).
pub fn template_points(t: &Template) -> Option<[[f32; 2]; 4]> {
    if t.points.len() < 5 {
        return None;
    }
    let p = &t.points;
    Some([
        p[0],
        p[1],
        p[2],
        [(p[3][0] + p[4][0]) / 2.0, (p[3][1] + p[4][1]) / 2.0],
    ])
}

/// Cuts an aligned `out_w` x `out_h` chip: `chip_to_frame` maps chip pixel centres to frame
/// coordinates; pixels outside the frame are black.
pub fn warp(img: &RgbImage, chip_to_frame: &Similarity, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let raw = img.as_raw();
    let px = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            f32::from(raw[((y * w + x) * 3) as usize + c])
        }
    };
    let mut out = RgbImage::new(out_w, out_h);
    for (ox, oy, pixel) in out.enumerate_pixels_mut() {
        let [fx, fy] = chip_to_frame.apply([ox as f32, oy as f32]);
        let x0 = fx.floor();
        let y0 = fy.floor();
        let (dx, dy) = (fx - x0, fy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        for c in 0..3 {
            let v = px(x0, y0, c) * (1.0 - dx) * (1.0 - dy)
                + px(x0 + 1, y0, c) * dx * (1.0 - dy)
                + px(x0, y0 + 1, c) * (1.0 - dx) * dy
                + px(x0 + 1, y0 + 1, c) * dx * dy;
            pixel[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Aligns a face given its keypoints (left eye, right eye, nose, mouth centre) to the
/// template, returning the chip at the embedder's input size.
pub fn align_face(
    img: &RgbImage,
    keypoints: &[[f32; 2]],
    template: &Template,
    input_w: u32,
    input_h: u32,
) -> Option<RgbImage> {
    let tp = template_points(template)?;
    if keypoints.len() < 4 {
        return None;
    }
    // The template may be defined for another chip size than the model's input.
    let sx = input_w as f32 / template.width as f32;
    let sy = input_h as f32 / template.height as f32;
    let dst: Vec<[f32; 2]> = tp.iter().map(|p| [p[0] * sx, p[1] * sy]).collect();
    let t = Similarity::fit(&dst, &keypoints[..4])?;
    if t.scale().is_nan() || t.scale() <= 1e-3 {
        return None;
    }
    Some(warp(img, &t, input_w, input_h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let truth = Similarity {
            a: 2.0 * 0.3f32.cos(),
            b: 2.0 * 0.3f32.sin(),
            tx: 40.0,
            ty: -7.5,
        };
        let from = [[10.0, 10.0], [60.0, 12.0], [35.0, 40.0], [33.0, 70.0]];
        let to: Vec<_> = from.iter().map(|p| truth.apply(*p)).collect();
        let fit = Similarity::fit(&from, &to).unwrap();
        for (x, y) in [
            (fit.a, truth.a),
            (fit.b, truth.b),
            (fit.tx, truth.tx),
            (fit.ty, truth.ty),
        ] {
            assert!((x - y).abs() < 1e-3, "{fit:?} vs {truth:?}");
        }
        assert!((fit.scale() - 2.0).abs() < 1e-4);
    }

    #[test]
    fn fit_is_least_squares_under_noise() {
        let from = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
        let to = [[0.5, 0.0], [10.0, 0.5], [0.0, 9.5], [9.5, 10.0]];
        let fit = Similarity::fit(&from, &to).unwrap();
        assert!((fit.scale() - 1.0).abs() < 0.06);
        assert!(Similarity::fit(&[[1.0, 1.0]; 3], &to[..3]).is_none());
    }

    #[test]
    fn warp_cuts_the_mapped_region() {
        // Left half red, right half blue; a chip mapped to the right half must be blue.
        let mut img = RgbImage::new(100, 50);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = if x < 50 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            };
        }
        let t = Similarity {
            a: 1.0,
            b: 0.0,
            tx: 60.0,
            ty: 10.0,
        };
        let chip = warp(&img, &t, 20, 20);
        assert_eq!(chip.get_pixel(10, 10), &image::Rgb([0, 0, 255]));
        // Off the frame is black.
        let t2 = Similarity { tx: 95.0, ..t };
        assert_eq!(
            warp(&img, &t2, 20, 20).get_pixel(19, 5),
            &image::Rgb([0, 0, 0])
        );
    }

    #[test]
    fn template_mouth_is_the_corner_midpoint() {
        let t = Template {
            width: 150,
            height: 150,
            points: vec![
                [47.51, 45.53],
                [101.49, 45.53],
                [74.50, 78.04],
                [50.11, 98.85],
                [98.89, 98.85],
            ],
        };
        let p = template_points(&t).unwrap();
        assert!((p[3][0] - 74.5).abs() < 1e-4 && (p[3][1] - 98.85).abs() < 1e-4);
    }
}
