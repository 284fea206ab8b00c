//! Dim face chips (night shots, an underexposed face): before the embedder, a chip whose
//! luma spans few levels is smoothed and its levels spread. Stretching alone spreads the noise
//! with the face (a dim chip's noise, ~9 levels, is a sixth of its ~50-level range), and the
//! embedder then tells a person's dim views apart from their others; smoothing first keeps
//! what the face shows and drops most of the noise. Chips with a normal range pass unchanged,
//! so gallery photos and well-lit frames embed as before. The chip itself (evidence, a
//! gallery's kept chip) is never changed: only what the model is fed.

use crate::media::{luma, spread_of};
use image::RgbImage;
use std::borrow::Cow;

/// A chip whose luma spread (2nd to 98th percentile) is under this many levels is dim.
pub const DIM_SPREAD: u8 = 100;
/// A dim chip's smoothing (Gaussian sigma, pixels of the 150 px chip).
pub const SIGMA: f32 = 1.6;
/// The luma spread a dim chip is stretched to, about mid grey.
pub const TARGET_SPREAD: f32 = 170.0;

/// Chips whose unsmoothed spread reaches this are not looked at further (noise widens a dim
/// chip's spread; smoothing only narrows it): most chips cost one histogram.
const SURELY_LIT: u8 = 130;

/// What the embedder is fed for `chip`: the chip itself, or, when dim (its smoothed luma
/// spread under [`DIM_SPREAD`]), smoothed and stretched.
/// An owned result is a dim view (grouping unknown faces treats a person's dim views apart).
pub fn for_embedder(chip: &RgbImage) -> Cow<'_, RgbImage> {
    match spread(chip) {
        Some((lo, hi)) if hi - lo < SURELY_LIT => {}
        _ => return Cow::Borrowed(chip),
    }
    let smooth = image::imageops::blur(chip, SIGMA);
    match spread(&smooth) {
        Some((lo, hi)) if hi - lo < DIM_SPREAD => Cow::Owned(stretch(&smooth, lo, hi)),
        _ => Cow::Borrowed(chip),
    }
}

/// The 2nd and 98th percentiles of the chip's luma; `None` for an empty chip.
fn spread(chip: &RgbImage) -> Option<(u8, u8)> {
    spread_of(chip.pixels().map(|p| luma(p[0], p[1], p[2])))
}

/// Spreads `[lo, hi]` (the chip's luma range) to [`TARGET_SPREAD`] about 128.
fn stretch(chip: &RgbImage, lo: u8, hi: u8) -> RgbImage {
    let gain = TARGET_SPREAD / f32::from(hi.saturating_sub(lo).max(1));
    let mid = (f32::from(lo) + f32::from(hi)) / 2.0;
    let mut out = chip.clone();
    for p in out.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = ((f32::from(*c) - mid) * gain + 128.0)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 150 px chip: a bright disc on a darker ground, levels squeezed to `scale` about
    /// `base`, plus a fixed pattern of noise of `noise` levels.
    fn chip(base: f32, scale: f32, noise: f32) -> RgbImage {
        RgbImage::from_fn(150, 150, |x, y| {
            let d = ((x as f32 - 75.0).powi(2) + (y as f32 - 70.0).powi(2)).sqrt();
            let v = if d < 45.0 { 200.0 } else { 60.0 };
            let n = (((x * 7919 + y * 104_729) % 17) as f32 / 16.0 - 0.5) * 2.0 * noise;
            let l = (base + v * scale + n).clamp(0.0, 255.0) as u8;
            image::Rgb([l, l, l])
        })
    }

    #[test]
    fn a_well_lit_chip_is_fed_as_it_is() {
        let c = chip(0.0, 1.0, 9.0);
        assert!(matches!(for_embedder(&c), Cow::Borrowed(_)));
    }

    #[test]
    fn a_dim_chip_is_spread_to_the_target_and_its_noise_smoothed() {
        let c = chip(18.0, 0.22, 9.0);
        let (lo, hi) = spread(&c).expect("pixels");
        assert!(hi - lo < DIM_SPREAD, "{lo}..{hi}");
        let fed = for_embedder(&c);
        assert!(matches!(fed, Cow::Owned(_)));
        let (flo, fhi) = spread(&fed).expect("pixels");
        let got = f32::from(fhi - flo);
        assert!(got > 0.8 * TARGET_SPREAD, "{flo}..{fhi}");
        // Inside the disc the noise (a fixed pattern of +-9 levels, stretched 2.8x by the
        // gain alone) is mostly smoothed away.
        let inside: Vec<f32> = (60..90)
            .flat_map(|y| (60..90).map(move |x| (x, y)))
            .map(|(x, y)| f32::from(fed.get_pixel(x, y)[0]))
            .collect();
        let mean = inside.iter().sum::<f32>() / inside.len() as f32;
        let sd =
            (inside.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / inside.len() as f32).sqrt();
        assert!(sd < 6.0, "noise left inside: sd {sd}");
    }

    #[test]
    fn an_empty_or_flat_chip_does_not_fail() {
        assert!(matches!(
            for_embedder(&RgbImage::new(0, 0)),
            Cow::Borrowed(_)
        ));
        let flat = RgbImage::from_pixel(150, 150, image::Rgb([30, 30, 30]));
        let fed = for_embedder(&flat);
        assert_eq!(fed.dimensions(), (150, 150));
    }
}
