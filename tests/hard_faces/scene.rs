//! Test scenes for hard faces, shared by tests/hard_faces.rs and examples/hard_faces.rs:
//! real face photos pasted, turned or shrunk, into 1080p frames made from real face-free
//! photos (scikit-image's data images, extracted by scripts/make_hard_faces.sh).
#![allow(dead_code)]

use clearshot::face::detect::{Face, FaceDetector, Turn};
use clearshot::face::embed::{Embedder, Embedding};
use clearshot::models::ModelSet;
use image::RgbImage;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The scripts that extract this test's photos, run once per test binary (the tests run in
/// parallel threads; two runs of a script at once would race on its output folder).
fn ensure_fixtures() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        for script in ["scripts/make_hard_faces.sh", "scripts/make_enroll_clips.sh"] {
            let st = std::process::Command::new("bash")
                .arg(root().join(script))
                .status()
                .expect("run a fixture script");
            assert!(st.success(), "{script} failed");
        }
    });
}

/// The face photos: five from scikit-image and the face_recognition sdist (US-government
/// and NASA photos, public domain), each showing one face.
pub fn face_photos() -> Vec<PathBuf> {
    ensure_fixtures();
    let c = root().join("third_party/cache");
    vec![
        c.join("photos/astronaut.png"),
        c.join("photos/obama.jpg"),
        c.join("photos/biden.jpg"),
        root().join("fixtures/generated/enroll/photos/obama2.jpg"),
        c.join("photos/obama3.jpg"),
    ]
}

/// Face-free real photos (extracted on first use).
pub fn backgrounds() -> Vec<PathBuf> {
    ensure_fixtures();
    let dir = root().join("fixtures/generated/hard_faces");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("backgrounds folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bg_"))
        })
        .collect();
    v.sort();
    v
}

/// A 1920x1080 frame: the photo scaled to cover it, centre-cropped.
pub fn frame_from(path: &Path) -> RgbImage {
    let img = image::open(path).expect("background").to_rgb8();
    let s = (1920.0 / img.width() as f32).max(1080.0 / img.height() as f32);
    let w = ((img.width() as f32 * s).ceil() as u32).max(1920);
    let h = ((img.height() as f32 * s).ceil() as u32).max(1080);
    let big = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    image::imageops::crop_imm(&big, (w - 1920) / 2, (h - 1080) / 2, 1920, 1080).to_image()
}

/// Models and the two stages the tests use.
pub struct Stages {
    pub detector: FaceDetector,
    pub embedder: Embedder,
}

impl Stages {
    pub fn load() -> Self {
        let models = ModelSet::load(&root().join("models")).expect("models");
        Self {
            detector: FaceDetector::load(
                &models.detector_full,
                models.detector_short.as_ref(),
                Default::default(),
                1,
            )
            .and_then(|d| d.with_cascade(models.cascade.as_ref(), 1))
            .expect("detector"),
            embedder: Embedder::load(&models.embedder, 1).expect("embedder"),
        }
    }

    /// The embedding of one face.
    pub fn embed(&mut self, img: &RgbImage, face: &Face) -> Option<Embedding> {
        let chip = self
            .embedder
            .chips(img, std::slice::from_ref(face))
            .pop()
            .flatten()?;
        self.embedder.embed_chips(&[&chip]).ok()?.pop()
    }
}

/// A face photo with its one upright face.
pub struct Subject {
    pub name: String,
    pub photo: RgbImage,
    pub face: Face,
    pub embedding: Embedding,
}

impl Subject {
    /// Loads the photo and finds its face with the upright pass (the biggest one).
    pub fn load(path: &Path, st: &mut Stages) -> Self {
        let photo = image::open(path).expect("photo").to_rgb8();
        let faces = st.detector.detect(&photo).expect("detect");
        let face = faces.into_iter().next().expect("a face in the photo");
        let embedding = st.embed(&photo, &face).expect("embedding");
        Self {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            photo,
            face,
            embedding,
        }
    }

    /// Pastes the face (with a margin of context: a square of twice its size) into `frame`,
    /// scaled so the face box is `size` px, turned by `turn`, centred at `at`. Returns the
    /// face's centre and size in the frame.
    pub fn paste(&self, frame: &mut RgbImage, size: f32, turn: Turn, at: [u32; 2]) -> [f32; 3] {
        let f = &self.face;
        let side = (2.0 * f.size()).min(self.photo.width().min(self.photo.height()) as f32);
        let [cx, cy] = f.centre();
        let x0 = (cx - side / 2.0).clamp(0.0, self.photo.width() as f32 - side) as u32;
        let y0 = (cy - side / 2.0).clamp(0.0, self.photo.height() as f32 - side) as u32;
        let crop = image::imageops::crop_imm(&self.photo, x0, y0, side as u32, side as u32);
        // Where the face's centre sits in the crop, as a fraction.
        let fx = (cx - x0 as f32) / side;
        let fy = (cy - y0 as f32) / side;
        let scale = size / f.size();
        let out = ((side * scale).round() as u32).max(4);
        let small = image::imageops::resize(
            &crop.to_image(),
            out,
            out,
            image::imageops::FilterType::Lanczos3,
        );
        let turned = turn.apply(&small);
        let ox = at[0] as i64 - out as i64 / 2;
        let oy = at[1] as i64 - out as i64 / 2;
        image::imageops::replace(frame, &turned, ox, oy);
        // The face centre after the turn, in the pasted square.
        let o = out as f32;
        let (px, py) = (fx * o, fy * o);
        let (tx, ty) = match turn {
            Turn::None => (px, py),
            Turn::Cw90 => (o - py, px),
            Turn::Half => (o - px, o - py),
            Turn::Ccw90 => (py, o - px),
        };
        [ox as f32 + tx, oy as f32 + ty, size]
    }
}

/// The face found at `truth` (centre x, centre y, size): its centre within a third of the
/// size, its size within a factor of 1.6.
pub fn found_at<T>(faces: &[(Face, T)], truth: [f32; 3]) -> Option<&(Face, T)> {
    faces.iter().find(|(f, _)| {
        let [x, y] = f.centre();
        let r = f.size() / truth[2];
        (x - truth[0]).abs() < truth[2] / 3.0
            && (y - truth[1]).abs() < truth[2] / 3.0
            && (1.0 / 1.6..1.6).contains(&r)
    })
}

/// `frame` as a dim, noisy night shot: levels squeezed to 18 + 0.22 x (as
/// `scripts/make_face_video_eval.py`'s `dark` case) and Gaussian-like noise of about 9 levels
/// (a sum of uniform draws from a fixed-seed generator, so every run sees the same frame).
pub fn dim(frame: &RgbImage, seed: u64) -> RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut out = frame.clone();
    for p in out.pixels_mut() {
        for c in p.0.iter_mut() {
            // Four uniforms on [-0.5, 0.5) sum to variance 1/3: scale for a sigma of 9.
            let n: f32 = (0..4).map(|_| uniform() - 0.5).sum::<f32>() * 9.0 * 3f32.sqrt();
            *c = (18.0 + *c as f32 * 0.22 + n).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}
