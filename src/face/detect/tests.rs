//! Unit tests of the detector's geometry: tiles, letterbox, shrinking, cut faces.

use super::input::{fill_input, to_frame};
use super::*;
use crate::media::resize::shrink;
use crate::models::{Channels, InputSpec, Layout};

#[test]
fn tiles_cover_a_1080p_frame_with_overlap() {
    let t = tiles(1920, 1080, 640, 192);
    assert!(!t.is_empty());
    // Every pixel column and row is covered, tiles stay inside the frame.
    for r in &t {
        assert!(r.x + r.w <= 1920 && r.y + r.h <= 1080);
    }
    let xs: Vec<u32> = t.iter().filter(|r| r.y == 0).map(|r| r.x).collect();
    assert_eq!(xs.first(), Some(&0));
    assert_eq!(xs.last(), Some(&(1920 - 640)));
    for w in xs.windows(2) {
        assert!(w[0] + 640 >= w[1] + 192, "overlap at least 192: {xs:?}");
    }
    assert!(t.iter().any(|r| r.y + r.h == 1080));
}

#[test]
fn small_frames_need_no_tiles() {
    assert!(tiles(640, 480, 640, 192).is_empty());
    assert!(tiles(1920, 1080, 0, 0).is_empty());
}

#[test]
fn letterbox_maps_back_to_frame_pixels() {
    let spec = InputSpec {
        name: "in".into(),
        width: 8,
        height: 8,
        layout: Layout::Nchw,
        channels: Channels::Rgb,
        scale: 1.0 / 255.0,
        offset: 0.0,
    };
    // A 32x16 white frame: letterboxed into 8x4 rows 2..6 of the 8x8 input.
    let img = RgbImage::from_pixel(32, 16, image::Rgb([255, 255, 255]));
    let mut input = ndarray::ArrayD::<f32>::zeros(vec![1, 3, 8, 8]);
    let r = Region {
        x: 0,
        y: 0,
        w: 32,
        h: 16,
    };
    let lb = fill_input(&img, r, &spec, &mut input, 0);
    assert_eq!(input[[0, 0, 0, 0]], 0.0);
    assert!((input[[0, 1, 3, 3]] - 1.0).abs() < 1e-6);
    assert_eq!(input[[0, 2, 6, 3]], 0.0);
    let d = RawDetection {
        cx: 0.5,
        cy: 0.5,
        w: 0.25,
        h: 0.25,
        score: 1.0,
        keypoints: vec![[0.25, 0.25]],
    };
    let f = to_frame(d, lb, r, 8.0, 8.0);
    assert!((f.cx - 16.0).abs() < 1e-4 && (f.cy - 8.0).abs() < 1e-4);
    assert!((f.w - 8.0).abs() < 1e-4);
    assert!((f.keypoints[0][0] - 8.0).abs() < 1e-4);
    assert!((f.keypoints[0][1] - 0.0).abs() < 1e-4);
}

#[test]
fn shrinking_averages_each_block_and_tiles_read_from_it_as_from_the_frame() {
    // A 6x4 frame of 2x2 blocks with distinct colours shrinks to their means.
    let img = RgbImage::from_fn(6, 4, |x, y| {
        let v = (10 * (x / 2) + 40 * (y / 2) + (x % 2) + (y % 2)) as u8;
        image::Rgb([v, 255 - v, 7])
    });
    let small = shrink(&img, 0.5);
    assert_eq!(small.dimensions(), (3, 2));
    for (x, y, p) in small.enumerate_pixels() {
        let v = (10 * x + 40 * y + 1) as u8;
        assert_eq!(p.0, [v, 255 - v, 7], "block {x},{y}");
    }
    // A smooth 1080p frame through a shrunk copy gives the input read directly, but for
    // where the box edges fall (3.33 px boxes vs 3-4 px blocks).
    let frame = RgbImage::from_fn(1920, 1080, |x, y| {
        let v =
            |a: f32, b: f32| (128.0 + 100.0 * (x as f32 / a).sin() * (y as f32 / b).cos()) as u8;
        image::Rgb([v(37.0, 23.0), v(19.0, 41.0), v(53.0, 11.0)])
    });
    let spec = InputSpec {
        name: "in".into(),
        width: 192,
        height: 192,
        layout: Layout::Nchw,
        channels: Channels::Rgb,
        scale: 1.0 / 255.0,
        offset: 0.0,
    };
    let r = Region {
        x: 640,
        y: 440,
        w: 640,
        h: 640,
    };
    let mut direct = ndarray::ArrayD::<f32>::zeros(vec![1, 3, 192, 192]);
    fill_input(&frame, r, &spec, &mut direct, 0);
    let small = shrink(&frame, 0.3);
    assert_eq!(small.dimensions(), (576, 324));
    let mut via = ndarray::ArrayD::<f32>::zeros(vec![1, 3, 192, 192]);
    let sub = image::imageops::crop_imm(&small, 192, 132, 192, 192).to_image();
    let whole = Region {
        x: 0,
        y: 0,
        w: 192,
        h: 192,
    };
    fill_input(&sub, whole, &spec, &mut via, 0);
    let diffs: Vec<f32> = direct
        .iter()
        .zip(via.iter())
        .map(|(a, b)| (a - b).abs() * 255.0)
        .collect();
    let max = diffs.iter().copied().fold(0.0f32, f32::max);
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    assert!(
        mean < 2.0 && max < 12.0,
        "difference in levels: mean {mean}, max {max}"
    );
}

#[test]
fn a_face_cut_by_an_inner_tile_edge_is_dropped() {
    let r = Region {
        x: 480,
        y: 0,
        w: 640,
        h: 640,
    };
    let d = |cx: f32| RawDetection {
        cx,
        cy: 300.0,
        w: 100.0,
        h: 100.0,
        score: 0.9,
        keypoints: vec![],
    };
    assert!(cut_by_tile(&d(500.0), r, 1920, 1080));
    assert!(!cut_by_tile(&d(800.0), r, 1920, 1080));
}
