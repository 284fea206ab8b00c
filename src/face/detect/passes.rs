//! The passes for hard faces, beyond the upright pass: the frame turned a quarter, half and
//! three quarters (people lying down, upside down), finer tiles (faces down to ~24 px on
//! 1080p), close looks around the upright pass's face-like regions (its sub-threshold
//! responses), turned and enlarged, and close looks at the faces of 56-128 px the second
//! detector (the MTCNN cascade) finds on a lit frame. Every detection is mapped back to frame
//! pixels, boxes and keypoints, so alignment cuts upright chips from them.

use super::blazeface::RawDetection;
use super::Region;
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Where a scan spends the passes for hard faces (`--hard-faces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HardFaces {
    /// The upright pass only.
    Off,
    /// Close looks (turned, enlarged) at the face-like regions the upright pass saw but did
    /// not accept, on every sample; the small-faces pass on each shot's first sample and one
    /// every few seconds; the whole-frame turned and fine passes on none.
    #[default]
    Regions,
    /// Close looks on every sample, and the whole-frame turned and fine passes on each shot's
    /// key frames (first and last sample, about one a second).
    Key,
    /// Close looks and every pass (the small faces' one too) on every sample.
    All,
}

impl HardFaces {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 4] = ["off", "regions", "key", "all"];

    /// Parses a command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "regions" => Ok(Self::Regions),
            "key" => Ok(Self::Key),
            "all" => Ok(Self::All),
            _ => Err(format!(
                "'{text}' is not a hard-faces mode ({})",
                Self::NAMES.join(", ")
            )),
        }
    }

    /// The passes to run on one sample: `key` when it is one of its shot's key frames,
    /// `small` when the small-faces pass is due on it (always with `all`).
    pub fn passes(self, key: bool, small: bool) -> &'static [Pass] {
        // The small-faces pass last in each list, so leaving it out is a shorter slice.
        const LOOKS: [Pass; 3] = [Pass::Regions, Pass::Dim, Pass::Small];
        const EVERY: [Pass; 7] = [
            Pass::Regions,
            Pass::Dim,
            Pass::Turned(Turn::Cw90),
            Pass::Turned(Turn::Half),
            Pass::Turned(Turn::Ccw90),
            Pass::Fine,
            Pass::Small,
        ];
        let all: &'static [Pass] = match (self, key) {
            (Self::Off, _) => return &[],
            (Self::Regions, _) | (Self::Key, false) => &LOOKS,
            (Self::Key, true) | (Self::All, _) => &EVERY,
        };
        if small || self == Self::All {
            all
        } else {
            &all[..all.len() - 1]
        }
    }
}

/// A detection pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Full range on the frame and 640 px tiles, short range on the frame.
    Upright,
    /// The upright pass on the frame turned.
    Turned(Turn),
    /// Full range on ~320 px tiles, for faces of 24-80 px.
    Fine,
    /// Crops around the upright pass's sub-threshold responses, enlarged, at each turn.
    Regions,
    /// The second detector (the MTCNN cascade) on the whole frame, when the frame is dim.
    Dim,
    /// On a lit frame, the second detector's faces of [`SMALL_FACES`] px that the other
    /// passes did not find, each confirmed by a close look (BlazeFace's box and keypoints).
    Small,
}

impl Pass {
    /// A short name for reports and benches.
    pub fn name(self) -> &'static str {
        match self {
            Self::Upright => "upright",
            Self::Turned(Turn::None) => "turned 0",
            Self::Turned(Turn::Cw90) => "turned 90",
            Self::Turned(Turn::Half) => "turned 180",
            Self::Turned(Turn::Ccw90) => "turned 270",
            Self::Fine => "fine",
            Self::Regions => "regions",
            Self::Dim => "dim",
            Self::Small => "small",
        }
    }
}

/// How the picture is turned before the model sees it (clockwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// As it is.
    None,
    /// A quarter turn clockwise.
    Cw90,
    /// Half a turn.
    Half,
    /// A quarter turn anticlockwise.
    Ccw90,
}

impl Turn {
    /// Every turn.
    pub const ALL: [Turn; 4] = [Turn::None, Turn::Cw90, Turn::Half, Turn::Ccw90];

    /// The picture turned.
    pub fn apply(self, img: &RgbImage) -> RgbImage {
        match self {
            Turn::None => img.clone(),
            Turn::Cw90 => image::imageops::rotate90(img),
            Turn::Half => image::imageops::rotate180(img),
            Turn::Ccw90 => image::imageops::rotate270(img),
        }
    }

    /// A point of the turned picture back in the original one, which is `w` x `h`
    /// (continuous coordinates: pixel edges at whole numbers).
    pub fn back(self, p: [f32; 2], w: f32, h: f32) -> [f32; 2] {
        match self {
            Turn::None => p,
            // rotate90 sends (x, y) to (h - y, x).
            Turn::Cw90 => [p[1], h - p[0]],
            Turn::Half => [w - p[0], h - p[1]],
            // rotate270 sends (x, y) to (y, w - x).
            Turn::Ccw90 => [w - p[1], p[0]],
        }
    }

    /// A detection on the turned picture back in the original `w` x `h` one, moved by
    /// `offset` (where that picture sits in the frame).
    pub fn back_detection(self, d: RawDetection, w: f32, h: f32, offset: [f32; 2]) -> RawDetection {
        let shift = |p: [f32; 2]| {
            let q = self.back(p, w, h);
            [q[0] + offset[0], q[1] + offset[1]]
        };
        let [cx, cy] = shift([d.cx, d.cy]);
        let (bw, bh) = match self {
            Turn::None | Turn::Half => (d.w, d.h),
            Turn::Cw90 | Turn::Ccw90 => (d.h, d.w),
        };
        RawDetection {
            cx,
            cy,
            w: bw,
            h: bh,
            score: d.score,
            keypoints: d.keypoints.iter().map(|&p| shift(p)).collect(),
        }
    }
}

/// Side and overlap of the fine pass's tiles: a 24 px face is ~7% of a tile (the full-range
/// model finds most faces from ~6% of its input), and faces up to the overlap are whole in
/// some tile (bigger ones are the 640 px tiles' business).
pub const FINE_TILE: u32 = 320;
/// Overlap of the fine tiles.
pub const FINE_OVERLAP: u32 = 80;
/// Faces the fine pass reports are at most this big (bigger ones are cut by its tiles).
pub const FINE_MAX_FACE: f32 = 80.0;

/// Sub-threshold responses of the upright pass at or above this score are face-like regions
/// (measured: 0.43-0.58 at faces turned 90-270 degrees, 0.15-0.40 at most 32 px faces).
pub const REGION_SCORE: f32 = 0.15;
/// Upright faces accepted below this score also get a close look: a face turned a quarter
/// can pass upright (0.61-0.78 measured) with its keypoints wrong.
pub const SURE_SCORE: f32 = 0.8;
/// The extra passes' detections must score at least this (the upright pass's threshold is
/// 0.6): they look at more pictures of the same frame, so more chances of a face-like
/// pattern; 0.75 removed those they found on face-free real photos but one.
pub const EXTRA_SCORE: f32 = 0.75;
/// A close look's face scoring between the model's threshold and [`EXTRA_SCORE`] stands when
/// the short-range model (trained on faces close up) finds it too, at this score, on an
/// upright crop [`SECOND_CONTEXT`] times its size. Dim, noisy faces score 0.6-0.75 in close
/// looks and 0.75-0.85 in the short-range model. Measured on 714 real photos (the `ip_eval`
/// scenes and distractors, the `hard_faces` backgrounds; each as it is and dimmed with noise):
/// the rule added one face, a real one (the astronaut of a distractor), and none where there
/// is no face, the same at 0.65, 0.7 and 0.75. Each model alone accepted more of the photos'
/// face-like regions (the close look at 0.6: 13, the short range at 0.75: 18), face-like
/// patterns among them. `eval-unknown`: held out 28 -> 30 of 36 appearances at 0.75; 0.7
/// adds one on dev (a soft, rolled 72 px face), nothing elsewhere; the 60 s bench clip asks
/// for no second opinion.
pub const SECOND_SCORE: f32 = 0.7;
/// See [`SECOND_SCORE`].
pub const SECOND_CONTEXT: f32 = 3.0;

/// The faces the small-faces pass asks the second detector for, in pixels. The 640 px tiles
/// shrink a 60 px face to 18 px of BlazeFace's input, where it responds 0.06 (under the 0.15
/// that earns a close look); the cascade's pyramid for 56-128 px costs ~37 ms a 1080p frame
/// (one thread; 48 px: 42 ms), and a close look at a 60 px face scores it 0.76-0.85.
pub const SMALL_FACES: [f32; 2] = [56.0, 128.0];
/// At most this many of the second detector's small faces per frame get a close look, best
/// first (none on the bench clip, whose faces the tiles find).
pub const MAX_SMALL: usize = 3;

/// At most this many face-like regions per frame get a close look, best first. Measured on
/// the 60 s bench clip: 4 cost +37% scan time over `off`, 2 cost +15%, with the same
/// `eval-video` results and 11+ of 15 turned faces in tests/hard_faces.rs.
pub const MAX_REGIONS: usize = 2;

/// How much of a region's surroundings a close look at one turn sees: three times the
/// response's size (a turned face's box is off, and its context helps).
pub const CONTEXT: f32 = 3.0;
/// The same for a close look at several turns in one [`Mosaic`], where each turn gets half
/// the model's input: 2.5 keeps the face larger there. Measured on the 15 turned faces of
/// `tests/hard_faces.rs`: 2.25-2.75 find the same 12 as single looks at 3.0 do, 2.0 finds 10
/// (too little context), 3.0 finds 10 (one found with its keypoints off).
pub const MOSAIC_CONTEXT: f32 = 2.5;
/// Face-like regions smaller than this (px) get a close look at each turn on its own rather
/// than one [`Mosaic`]: a single look enlarges a 24 px response to 48 px of the model's
/// input, a mosaic not at all (its crop is at least 96 px, a quarter of the input). From 32 px
/// up the mosaic shows the face at 32-38 px, a sixth of the input or more.
pub const MOSAIC_MIN_FACE: f32 = 32.0;
/// Face-like regions responding at this score or more get a close look at each turn on its
/// own too: faces turned 90-270 degrees respond at 0.43-0.58 (see [`REGION_SCORE`]), and in
/// a mosaic (each turn at half the input) 2 of the 15 turned faces of `examples/hard_faces.rs`
/// were lost (one missed, one found upright with its keypoints off) that single looks find.
/// Weaker responses (clutter, most of a video's regions) share one run.
pub const MOSAIC_MAX_SCORE: f32 = 0.4;

/// The square crop of the frame a face-like region gets a close look in: `context` times the
/// response's size, at least 96 px, so the model sees a small face enlarged; clamped inside
/// the frame.
pub fn region_crop(d: &RawDetection, fw: u32, fh: u32, context: f32) -> Option<Region> {
    if ![d.cx, d.cy, d.w, d.h].iter().all(|v| v.is_finite()) || fw == 0 || fh == 0 {
        return None;
    }
    let side = (context * d.w.max(d.h)).max(96.0).min(fw.min(fh) as f32);
    let side = side as u32;
    let x = (d.cx - side as f32 / 2.0).clamp(0.0, (fw - side) as f32) as u32;
    let y = (d.cy - side as f32 / 2.0).clamp(0.0, (fh - side) as f32) as u32;
    Some(Region {
        x,
        y,
        w: side,
        h: side,
    })
}

/// The turns of one square crop side by side in one picture (two across, as many rows as
/// needed), so the model sees them all in one run: a close look at every turn costs one run
/// instead of four. Each turn then gets half the model's input, which puts a region's face
/// (2/5 of the crop at [`MOSAIC_CONTEXT`]) at 1/5 of the input, inside the sizes the
/// full-range model finds well (from ~10%; most from ~6%). One turn is the crop itself.
pub struct Mosaic {
    image: RgbImage,
    side: u32,
    turns: Vec<Turn>,
}

impl Mosaic {
    /// The square `region` of `frame` at each of `turns`, read straight from the frame (no
    /// crop or turned copy on the way).
    pub fn new(frame: &RgbImage, region: Region, turns: &[Turn]) -> Self {
        let side = region
            .w
            .min(region.h)
            .min(frame.width())
            .min(frame.height());
        let cols = turns.len().clamp(1, 2) as u32;
        let rows = turns.len().div_ceil(2).max(1) as u32;
        let mut image = RgbImage::new(side * cols, side * rows);
        let n = side as usize;
        // Clamped inside the frame, whatever the region says.
        let x0 = region.x.min(frame.width() - side) as usize;
        let y0 = region.y.min(frame.height() - side) as usize;
        let src = frame.as_raw();
        let src_stride = frame.width() as usize * 3;
        let dst_stride = image.width() as usize * 3;
        let dst = &mut *image;
        for (i, turn) in turns.iter().enumerate() {
            let (cx, cy) = Self::origin(side, i);
            let (cx, cy) = (cx as usize, cy as usize);
            for v in 0..n {
                let out = (cy + v) * dst_stride + cx * 3;
                let out = &mut dst[out..out + n * 3];
                if *turn == Turn::None {
                    let from = (y0 + v) * src_stride + x0 * 3;
                    out.copy_from_slice(&src[from..from + n * 3]);
                    continue;
                }
                for (u, px) in out.chunks_exact_mut(3).enumerate() {
                    // The pixel of the crop that `turn` puts at (u, v) (upright rows are
                    // copied whole above).
                    let (x, y) = match turn {
                        Turn::None => (u, v),
                        Turn::Cw90 => (v, n - 1 - u),
                        Turn::Half => (n - 1 - u, n - 1 - v),
                        Turn::Ccw90 => (n - 1 - v, u),
                    };
                    let from = (y0 + y) * src_stride + (x0 + x) * 3;
                    px.copy_from_slice(&src[from..from + 3]);
                }
            }
        }
        Self {
            image,
            side,
            turns: turns.to_vec(),
        }
    }

    fn origin(side: u32, i: usize) -> (u32, u32) {
        ((i as u32 % 2) * side, (i as u32 / 2) * side)
    }

    /// The picture the model looks at.
    pub fn image(&self) -> &RgbImage {
        &self.image
    }

    /// A detection on the picture back on the crop's frame, the crop at `offset` there: it
    /// belongs to the turn its centre falls in (none past the last one).
    pub fn back(&self, d: RawDetection, offset: [f32; 2]) -> Option<RawDetection> {
        let side = self.side as f32;
        if !(d.cx >= 0.0 && d.cy >= 0.0) || side <= 0.0 {
            return None;
        }
        let (col, row) = ((d.cx / side) as usize, (d.cy / side) as usize);
        if col > 1 {
            return None;
        }
        let i = row * 2 + col;
        let turn = *self.turns.get(i)?;
        let (x, y) = Self::origin(self.side, i);
        let (x, y) = (x as f32, y as f32);
        let local = RawDetection {
            cx: d.cx - x,
            cy: d.cy - y,
            keypoints: d.keypoints.iter().map(|p| [p[0] - x, p[1] - y]).collect(),
            ..d
        };
        Some(turn.back_detection(local, side, side, offset))
    }
}

/// An extra pass's detection replaces the upright one of the same face only when it scores
/// this much higher: a face turned 90 degrees can pass upright with its keypoints wrong.
pub const REPLACE_MARGIN: f32 = 0.1;

/// Merges the extra passes' detections into the upright pass's. Where several found the same
/// face (overlap above `iou`, or either's centre inside the other's box) the upright detection
/// stays unless an extra one scores [`REPLACE_MARGIN`] higher; among extras the best score wins.
pub fn merge(
    upright: Vec<RawDetection>,
    mut extra: Vec<(RawDetection, Pass)>,
    iou: f32,
) -> Vec<(RawDetection, Pass)> {
    let mut kept: Vec<(RawDetection, Pass)> =
        upright.into_iter().map(|d| (d, Pass::Upright)).collect();
    extra.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
    for (d, pass) in extra {
        match kept.iter_mut().find(|(k, _)| same_face(k, &d, iou)) {
            Some(k) if k.1 == Pass::Upright && d.score > k.0.score + REPLACE_MARGIN => {
                *k = (d, pass)
            }
            Some(_) => {}
            None => kept.push((d, pass)),
        }
    }
    kept
}

pub(super) fn same_face(a: &RawDetection, b: &RawDetection, iou: f32) -> bool {
    let inside = |p: &RawDetection, q: &RawDetection| {
        (p.cx - q.cx).abs() < q.w / 2.0 && (p.cy - q.cy).abs() < q.h / 2.0
    };
    a.iou(b) > iou || inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(cx: f32, cy: f32, w: f32, h: f32, score: f32) -> RawDetection {
        RawDetection {
            cx,
            cy,
            w,
            h,
            score,
            keypoints: vec![[cx - w / 4.0, cy - h / 4.0], [cx + w / 4.0, cy - h / 4.0]],
        }
    }

    /// A picture with one marked pixel, turned each way: the marked pixel of the turned
    /// picture maps back onto the original mark.
    #[test]
    fn turned_points_map_back_onto_the_same_pixel() {
        let (w, h) = (7u32, 4u32);
        let mut img = RgbImage::new(w, h);
        img.put_pixel(5, 1, image::Rgb([255, 0, 0]));
        for turn in Turn::ALL {
            let t = turn.apply(&img);
            let (u, v) = t
                .enumerate_pixels()
                .find(|(_, _, p)| p[0] == 255)
                .map(|(u, v, _)| (u, v))
                .unwrap();
            let back = turn.back([u as f32 + 0.5, v as f32 + 0.5], w as f32, h as f32);
            assert_eq!(back, [5.5, 1.5], "{turn:?}");
        }
    }

    /// Every turn of a marked region in one mosaic: each cell is the region turned (as the
    /// image crate turns it), and each copy of the mark maps back onto the mark in the frame,
    /// whichever cell it is in; a point in an empty cell maps nowhere.
    #[test]
    fn each_cell_of_a_mosaic_maps_back_through_its_own_turn() {
        let mut frame =
            RgbImage::from_fn(40, 30, |x, y| image::Rgb([0, (x * 6) as u8, (y * 8) as u8]));
        frame.put_pixel(19, 10, image::Rgb([255, 0, 0]));
        let r = Region {
            x: 12,
            y: 8,
            w: 10,
            h: 10,
        };
        let crop = image::imageops::crop_imm(&frame, r.x, r.y, r.w, r.h).to_image();
        let offset = [r.x as f32, r.y as f32];
        for turns in [&Turn::ALL[..], &Turn::ALL[1..], &Turn::ALL[..1]] {
            let sheet = Mosaic::new(&frame, r, turns);
            let cells = (turns.len().min(2) as u32, turns.len().div_ceil(2) as u32);
            assert_eq!(sheet.image().dimensions(), (10 * cells.0, 10 * cells.1));
            for (i, turn) in turns.iter().enumerate() {
                let (x, y) = Mosaic::origin(10, i);
                let cell = image::imageops::crop_imm(sheet.image(), x, y, 10, 10).to_image();
                assert_eq!(cell, turn.apply(&crop), "{turn:?}");
            }
            let marks: Vec<(u32, u32)> = sheet
                .image()
                .enumerate_pixels()
                .filter(|(_, _, p)| p[0] == 255)
                .map(|(u, v, _)| (u, v))
                .collect();
            assert_eq!(marks.len(), turns.len());
            for (u, v) in marks {
                let (x, y) = (u as f32 + 0.5, v as f32 + 0.5);
                let b = sheet.back(det(x, y, 4.0, 2.0, 0.9), offset).unwrap();
                assert_eq!([b.cx, b.cy], [19.5, 10.5], "{turns:?} at ({u}, {v})");
                assert_eq!(b.keypoints.len(), 2);
            }
        }
        // Three turns leave the bottom-right cell empty; nothing maps from there or outside.
        let sheet = Mosaic::new(&frame, r, &Turn::ALL[1..]);
        assert!(sheet.back(det(15.0, 15.0, 4.0, 4.0, 0.9), offset).is_none());
        assert!(sheet.back(det(25.0, 5.0, 4.0, 4.0, 0.9), offset).is_none());
        assert!(sheet.back(det(-1.0, 5.0, 4.0, 4.0, 0.9), offset).is_none());
        assert!(sheet
            .back(det(f32::NAN, 5.0, 4.0, 4.0, 0.9), offset)
            .is_none());
    }

    #[test]
    fn a_quarter_turn_swaps_the_box_and_moves_every_keypoint() {
        // On the picture turned clockwise (h x w = 100 x 200), a face box 20 wide, 40 high.
        let d = det(30.0, 50.0, 20.0, 40.0, 0.9);
        let b = Turn::Cw90.back_detection(d.clone(), 200.0, 100.0, [10.0, 5.0]);
        assert_eq!((b.w, b.h), (40.0, 20.0));
        assert_eq!([b.cx, b.cy], [50.0 + 10.0, 100.0 - 30.0 + 5.0]);
        // Image-left eye of the turned picture (25, 40) is at (40, 75) + offset.
        assert_eq!(b.keypoints[0], [40.0 + 10.0, 75.0 + 5.0]);
        let half = Turn::Half.back_detection(d, 100.0, 200.0, [0.0, 0.0]);
        assert_eq!(
            [half.cx, half.cy, half.w, half.h],
            [70.0, 150.0, 20.0, 40.0]
        );
    }

    #[test]
    fn the_upright_detection_wins_and_extras_do_not_repeat() {
        let up = vec![det(100.0, 100.0, 50.0, 50.0, 0.9)];
        let extra = vec![
            (
                det(105.0, 100.0, 60.0, 60.0, 0.95),
                Pass::Turned(Turn::Cw90),
            ),
            (det(400.0, 100.0, 30.0, 30.0, 0.8), Pass::Turned(Turn::Half)),
            (det(402.0, 101.0, 32.0, 30.0, 0.9), Pass::Regions),
        ];
        let m = merge(up, extra, 0.3);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].1, Pass::Upright);
        assert_eq!(m[0].0.cx, 100.0);
        assert_eq!(m[1].1, Pass::Regions);
        // A face the upright pass barely accepted (turned, keypoints wrong) is replaced by
        // a turned pass that is sure of it.
        let up = vec![det(100.0, 100.0, 50.0, 50.0, 0.6)];
        let extra = vec![(det(104.0, 98.0, 52.0, 52.0, 0.9), Pass::Turned(Turn::Cw90))];
        let m = merge(up, extra, 0.3);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].1, Pass::Turned(Turn::Cw90));
    }

    #[test]
    fn region_crops_stay_inside_the_frame_and_enlarge_small_responses() {
        let r = region_crop(&det(10.0, 1075.0, 24.0, 24.0, 0.3), 1920, 1080, CONTEXT).unwrap();
        assert_eq!((r.x, r.y, r.w, r.h), (0, 1080 - 96, 96, 96));
        let r = region_crop(&det(960.0, 540.0, 200.0, 200.0, 0.3), 1920, 1080, CONTEXT).unwrap();
        assert_eq!((r.x, r.w), (660, 600));
        let r = region_crop(&det(960.0, 540.0, 900.0, 900.0, 0.3), 1920, 1080, CONTEXT).unwrap();
        assert_eq!((r.y, r.h), (0, 1080));
        assert!(region_crop(&det(0.0, 0.0, f32::NAN, 1.0, 0.3), 1920, 1080, CONTEXT).is_none());
    }

    #[test]
    fn modes_parse_and_choose_passes() {
        assert_eq!(HardFaces::parse("key"), Ok(HardFaces::Key));
        assert!(HardFaces::parse("sometimes").is_err());
        assert!(HardFaces::Off.passes(true, true).is_empty());
        assert_eq!(
            HardFaces::Regions.passes(true, false),
            &[Pass::Regions, Pass::Dim]
        );
        assert_eq!(
            HardFaces::Regions.passes(false, true),
            &[Pass::Regions, Pass::Dim, Pass::Small]
        );
        assert_eq!(
            HardFaces::Key.passes(false, false),
            &[Pass::Regions, Pass::Dim]
        );
        assert_eq!(HardFaces::Key.passes(true, false).len(), 6);
        assert_eq!(HardFaces::Key.passes(true, true).len(), 7);
        assert_eq!(HardFaces::All.passes(false, false).len(), 7);
    }
}
