//! The cut detector's tests: synthetic pictures, cameras and noise.

use super::difference::levels;
use super::*;

/// A deterministic textured picture: smooth blobs plus fine detail, like a photo.
fn texture(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let s = seed as f32;
    let mut v = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let val = 128.0
                + 60.0 * (fx * (7.0 + s) + fy * 3.0 + s).sin()
                + 40.0 * (fy * (11.0 + s * 0.5) - fx * 2.0).cos()
                + 20.0 * ((x as f32) * 0.9 + (y as f32) * 0.4 + s).sin();
            v.push(val.clamp(0.0, 255.0) as u8);
        }
    }
    v
}

/// A `w` x `h` view of `src` (sw x sh) scaled by `zoom` around its centre, shifted by
/// (dx, dy) source pixels: a virtual camera moving over a still photo.
fn camera(src: &[u8], sw: usize, sh: usize, w: usize, h: usize, zoom: f32, dx: f32) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let sx = (sw as f32 / 2.0 + dx + (x as f32 - w as f32 / 2.0) / zoom) as usize;
            let sy = (sh as f32 / 2.0 + (y as f32 - h as f32 / 2.0) / zoom) as usize;
            out.push(src[sy.min(sh - 1) * sw + sx.min(sw - 1)]);
        }
    }
    out
}

fn thumb(w: usize, h: usize, data: &[u8]) -> Thumbnail {
    Thumbnail::from_gray(w, h, w, data)
}

/// Cheap deterministic noise in [-amp, amp].
fn noisy(data: &[u8], amp: i32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    data.iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % (2 * amp as u32 + 1)) as i32 - amp;
            (i32::from(v) + n).clamp(0, 255) as u8
        })
        .collect()
}

#[test]
fn box_average_of_flat_picture_is_flat() {
    let t = thumb(320, 180, &vec![77u8; 320 * 180]);
    assert!(t.pixels().iter().all(|&p| p == 77));
    // Smaller than the thumbnail: every cell still gets a value.
    let t = thumb(10, 5, &[200u8; 50]);
    assert!(t.pixels().iter().all(|&p| p == 200));
}

#[test]
fn hard_cut_is_found_at_its_first_frame() {
    let (w, h) = (320, 180);
    let a = texture(w, h, 1);
    let b = texture(w, h, 5);
    let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
    let mut cuts = vec![];
    for i in 0..20u32 {
        let src = if i < 12 { &a } else { &b };
        if det.push(thumb(w, h, &noisy(src, 6, i))) {
            cuts.push(i);
        }
    }
    assert_eq!(cuts, vec![12]);
}

#[test]
fn cut_between_pictures_of_equal_brightness_is_found() {
    // Same histogram, different layout: only the spatial part can see it.
    let (w, h) = (320, 180);
    let a = texture(w, h, 2);
    let b: Vec<u8> = a.chunks(w).rev().flatten().copied().collect();
    let d = FrameDifference::between(&thumb(w, h, &a), &thumb(w, h, &b));
    assert!(d.histogram < 0.01, "{d:?}");
    assert!(d.score() >= DEFAULT_CUT_THRESHOLD, "{d:?}");
}

#[test]
fn slow_zoom_and_pan_over_a_still_is_one_shot() {
    let (sw, sh) = (960, 540);
    let photo = texture(sw, sh, 3);
    let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
    let mut max_score = 0f32;
    let mut prev: Option<Thumbnail> = None;
    for i in 0..100 {
        let zoom = 1.0 + 0.004 * i as f32;
        let frame = camera(&photo, sw, sh, 320, 180, zoom, i as f32 * 0.8);
        let t = thumb(320, 180, &frame);
        if let Some(p) = &prev {
            max_score = max_score.max(FrameDifference::between(p, &t).score());
        }
        prev = Some(t.clone());
        assert!(!det.push(t), "false cut at frame {i}");
    }
    assert!(
        max_score < DEFAULT_CUT_THRESHOLD / 2.0,
        "max score {max_score}"
    );
}

#[test]
fn heavy_noise_is_not_a_cut() {
    let (w, h) = (320, 180);
    let a = texture(w, h, 4);
    let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
    for i in 0..50 {
        assert!(
            !det.push(thumb(w, h, &noisy(&a, 40, i))),
            "false cut at {i}"
        );
    }
}

/// A dim, noisy view of `src`: a night shot's levels (18 + 0.12 v: a thumbnail spread
/// of about 25, as in the evaluation's dark shots) and noise.
fn dim(src: &[u8], seed: u32) -> Vec<u8> {
    let dark: Vec<u8> = src
        .iter()
        .map(|&v| (18.0 + 0.12 * f32::from(v)) as u8)
        .collect();
    noisy(&dark, 9, seed)
}

#[test]
fn a_cut_between_two_dim_shots_is_found() {
    let (sw, sh) = (960, 540);
    let (a, b) = (texture(sw, sh, 6), texture(sw, sh, 9));
    let view = |src: &[u8], i: u32| {
        let frame = camera(src, sw, sh, 320, 180, 1.0, i as f32 * 0.7);
        thumb(320, 180, &dim(&frame, i))
    };
    let (before, after) = (view(&a, 19), view(&b, 20));
    let (lo, hi) = levels(&after);
    assert!(hi - lo < 40, "a dim picture: {lo}-{hi}");
    // As they are, the two shots differ by less than the threshold; stretched, more.
    let plain = FrameDifference::between(&before, &after).score();
    assert!(plain < DEFAULT_CUT_THRESHOLD, "{plain}");
    let stretched = FrameDifference::between_dim(&before, &after).map(|d| d.score());
    assert!(stretched >= Some(DEFAULT_CUT_THRESHOLD), "{stretched:?}");
    let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
    let cuts: Vec<u32> = (0..40u32)
        .filter(|&i| det.push(view(if i < 20 { &a } else { &b }, i)))
        .collect();
    assert_eq!(cuts, vec![20]);
}

#[test]
fn a_fade_to_black_and_back_is_not_a_string_of_cuts() {
    let (sw, sh) = (960, 540);
    let (a, b) = (texture(sw, sh, 7), texture(sw, sh, 8));
    let mut det = CutDetector::new(DEFAULT_CUT_THRESHOLD);
    let mut cuts = vec![];
    // 24 frames of a, a fade to black over 24, 12 black, a fade up to b over 24, 24 of b.
    for i in 0..108u32 {
        let (src, level) = match i {
            0..24 => (&a, 1.0),
            24..48 => (&a, 1.0 - (i - 23) as f32 / 24.0),
            48..60 => (&a, 0.0),
            60..84 => (&b, (i - 59) as f32 / 24.0),
            _ => (&b, 1.0),
        };
        let frame = camera(src, sw, sh, 320, 180, 1.0, i as f32 * 0.5);
        let faded: Vec<u8> = frame
            .iter()
            .map(|&v| (f32::from(v) * level) as u8)
            .collect();
        let tt = thumb(320, 180, &noisy(&faded, 2, i));
        if det.push(tt) {
            cuts.push(i);
        }
    }
    // At most the fade up out of black may start a shot; nothing inside the fades.
    assert!(cuts.iter().all(|&c| (60..63).contains(&c)), "{cuts:?}");
}

#[test]
fn shot_list_closes_shots_at_cuts() {
    let mut list = ShotList::new();
    let cuts = [3u64, 4, 9];
    for i in 0..12u64 {
        let shot = list.push(i, cuts.contains(&i));
        assert_eq!(shot, cuts.iter().filter(|&&c| c <= i).count());
    }
    let shots = list.finish();
    let spans: Vec<(u64, u64)> = shots.iter().map(|s| (s.first, s.last)).collect();
    assert_eq!(spans, vec![(0, 2), (3, 3), (4, 8), (9, 11)]);
    assert!(shots.iter().enumerate().all(|(i, s)| s.index == i));
    assert_eq!(shots[2].len(), 5);
    assert!(shots[2].contains(8) && !shots[2].contains(9));
    assert!(ShotList::new().finish().is_empty());
}
