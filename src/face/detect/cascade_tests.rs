//! Unit tests of `cascade`: the pure parts (pyramid, suppression, boxes, resampling, the
//! dim test); the networks themselves are tested against the reference in
//! `tests/hard_faces.rs` and `tests/parity/check_cascade.py`.

use super::*;

fn cand(b: [f32; 4], score: f32) -> Candidate {
    Candidate {
        b,
        score,
        reg: [0.0; 4],
    }
}

#[test]
fn the_pyramid_starts_at_the_smallest_face_and_stops_at_twelve_pixels() {
    let s = pyramid(1280, 720, 40.0);
    assert!((s[0] - 0.3).abs() < 1e-6);
    assert!(s.windows(2).all(|w| (w[1] / w[0] - FACTOR).abs() < 1e-5));
    let last = *s.last().expect("scales");
    assert!(720.0 * last >= 12.0 && 720.0 * last * FACTOR < 12.0);
    assert!(pyramid(10, 10, 40.0).is_empty());
}

#[test]
fn suppression_keeps_the_best_of_overlapping_boxes() {
    let boxes = vec![
        cand([0.0, 0.0, 19.0, 19.0], 0.7),
        cand([1.0, 1.0, 20.0, 20.0], 0.9),
        cand([50.0, 50.0, 69.0, 69.0], 0.8),
    ];
    let kept = suppress(boxes, 0.5, Overlap::Union);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].score, 0.9);
    assert_eq!(kept[1].score, 0.8);
    // A box inside a bigger one: small union overlap, but all of the smaller one.
    let a = [0.0, 0.0, 99.0, 99.0];
    let b = [10.0, 10.0, 29.0, 29.0];
    assert!(overlap(a, b, Overlap::Union) < 0.1);
    assert!((overlap(a, b, Overlap::Min) - 1.0).abs() < 1e-6);
}

#[test]
fn boxes_are_squared_about_their_centre_and_regressed_by_their_size() {
    assert_eq!(square([10.0, 20.0, 30.0, 60.0]), [0.0, 20.0, 40.0, 60.0]);
    // Inclusive size 20: a regression of 0.1 moves an edge 2 px.
    assert_eq!(
        regress([0.0, 0.0, 19.0, 19.0], [0.1, -0.1, 0.0, 0.05]),
        [2.0, -2.0, 19.0, 20.0]
    );
}

#[test]
fn boxes_gone_wild_are_not_cropped() {
    assert!(sane([10.0, 10.0, 60.0, 70.0], 1280, 720));
    assert!(!sane([f32::NAN, 10.0, 60.0, 70.0], 1280, 720));
    assert!(!sane([0.0, 0.0, f32::INFINITY, 70.0], 1280, 720));
    assert!(!sane([0.0, 0.0, 3000.0, 70.0], 1280, 720));
    assert!(!sane([60.0, 10.0, 10.0, 70.0], 1280, 720));
}

#[test]
fn a_bands_levels_run_from_its_smallest_face_to_its_largest() {
    let levels = band_levels(1920, 1080, [56.0, 128.0]);
    assert!((levels[0] - 12.0 / 56.0).abs() < 1e-6, "{levels:?}");
    let last = levels[levels.len() - 1];
    // The last level reaches 128 px faces; the one before does not.
    assert!(12.0 / (last * FACTOR) >= 128.0, "{levels:?}");
    assert!(
        12.0 / (levels[levels.len() - 2] * FACTOR) < 128.0,
        "{levels:?}"
    );
    // Its levels are the whole pyramid's first ones.
    assert_eq!(levels[..], pyramid(1920, 1080, 56.0)[..levels.len()]);
    // A band past the frame's size stops where the pyramid does.
    assert_eq!(band_levels(64, 64, [56.0, 4000.0]), pyramid(64, 64, 56.0));
}

#[test]
fn a_dark_noisy_frame_is_dim_and_a_lit_one_is_not() {
    let dark = RgbImage::from_fn(320, 180, |x, y| {
        let v = 20 + ((x * 31 + y * 17) % 40) as u8;
        image::Rgb([v, v, v])
    });
    assert!(is_dim(&dark));
    let lit = RgbImage::from_fn(320, 180, |x, _| {
        let v = (x * 255 / 319) as u8;
        image::Rgb([v, v, v])
    });
    assert!(!is_dim(&lit));
    assert!(!is_dim(&RgbImage::new(0, 0)));
}
