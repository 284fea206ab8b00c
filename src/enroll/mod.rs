//! Enrolling into the gallery: a person from photos that each show one face and from clips of
//! them (`clip`: sampled, the one person kept, a few faces per pose), a reference from its
//! images. Only what matching needs is kept (embeddings, keypoint data, a small
//! chip or thumbnail for evidence reports, the file name and sha256), never the pictures.

pub mod clip;
mod select;

pub use clip::ClipLimits;

use crate::face::pose::Pose;
use crate::gallery::{Enrollment, PoseCounts, RefEnrollment};
use crate::media::{self, MediaError};
use crate::models::{self, ModelSet};
use crate::references::{embed::IpEmbedder, IpMatcher, MatchConfig};
use crate::scan::{RefSet, ScanOptions, Scanner};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a photo or an image cannot be enrolled, or the models cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Models missing or not as the manifest says.
    #[error(transparent)]
    Models(#[from] crate::models::ModelError),
    /// ONNX Runtime cannot be loaded.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A model session could not be made.
    #[error(transparent)]
    Worker(#[from] crate::scan::WorkerError),
    /// The reference matcher failed.
    #[error("{path}: cannot enroll: {source}")]
    Ip {
        /// The image.
        path: PathBuf,
        /// Cause.
        source: crate::references::IpError,
    },
    /// The picture cannot be read (or is over the pixel limit).
    #[error(transparent)]
    Media(#[from] MediaError),
    /// No face, or several.
    #[error("{}: {found}; a reference photo must show exactly one face, a clip one person", path.display())]
    Faces {
        /// The photo.
        path: PathBuf,
        /// What was found.
        found: String,
    },
    /// A clip shows more than one person on many samples.
    #[error("{}: two people each on many samples ({first} and {second} of {samples}); enroll from a clip of one person (trim or crop it)", path.display())]
    People {
        /// The clip.
        path: PathBuf,
        /// Samples the most frequent person is on.
        first: usize,
        /// Samples the next person is on.
        second: usize,
        /// Samples analysed.
        samples: usize,
    },
    /// A clip decoded with damage (truncated, corrupt frames): not enrolled.
    #[error("{}: damaged or truncated clip, not enrolled: {cause}", path.display())]
    Damaged {
        /// The clip.
        path: PathBuf,
        /// What the decoder found.
        cause: String,
    },
    /// The face's landmarks could not be aligned.
    #[error("{}: the face could not be aligned (eyes, nose and mouth must be visible)", .0.display())]
    NotAligned(PathBuf),
    /// Reading the file failed.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Settings that cannot work.
    #[error("{0}")]
    Settings(String),
}

/// The models from `dir`, hash-checked, with ONNX Runtime started.
pub fn load_models(dir: &Path) -> Result<ModelSet, EnrollError> {
    let set = ModelSet::load(dir)?;
    crate::runtime::init()?;
    Ok(set)
}

/// A scanner with one worker thread and no gallery (enrolling, evaluation).
pub fn single_worker_scanner(
    models_dir: &Path,
    threshold: Option<f32>,
) -> Result<Scanner, EnrollError> {
    let models = load_models(models_dir)?;
    let mut opts = ScanOptions::new(time::OffsetDateTime::now_utc().date());
    opts.workers = 1;
    opts.threshold = threshold;
    opts.validate().map_err(EnrollError::Settings)?;
    Ok(Scanner::new(models, opts, Vec::new(), RefSet::default())?)
}

/// The reference matcher with the manifest's image embedder (when it names one).
pub fn ip_matcher(models_dir: &Path, config: MatchConfig) -> Result<IpMatcher, EnrollError> {
    let models = load_models(models_dir)?;
    Ok(match &models.ip_embedder {
        Some(m) if config.tiles => IpMatcher::with_embedder(
            config,
            IpEmbedder::load(m, models.ip_map.as_ref(), 1)
                .map_err(|e| EnrollError::Worker(crate::scan::WorkerError::Ip(e)))?,
        ),
        _ => IpMatcher::new(config),
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn sha256(p: &Path) -> Result<String, EnrollError> {
    models::sha256_file(p).map_err(|source| EnrollError::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// What one input file gives: the faces to store and, for the report line, their poses.
#[derive(Debug, Clone)]
pub struct EnrolledFile {
    /// The file's name.
    pub name: String,
    /// The faces to store.
    pub faces: Vec<Enrollment>,
    /// Their poses.
    pub poses: PoseCounts,
    /// Samples analysed, for a clip (None for a photo).
    pub samples: Option<usize>,
}

impl fmt::Display for EnrolledFile {
    /// `clip.mp4: 7 faces kept (frontal 3, three-quarter 2, profile 2) from 120 samples`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.faces.len();
        write!(
            f,
            "{}: {n} face{} kept ({})",
            self.name,
            if n == 1 { "" } else { "s" },
            self.poses
        )?;
        if let Some(s) = self.samples {
            write!(f, " from {s} sample{}", if s == 1 { "" } else { "s" })?;
        }
        Ok(())
    }
}

/// Enrolls a person from each file: a photo showing exactly one face, or a video clip of
/// them (see [`clip::talent_clip`]). Any file that cannot be enrolled fails the lot, so the
/// caller stores all or nothing. `keep_chip` keeps the 150 px aligned faces as the gallery's
/// evidence pictures.
pub fn talent_files(
    scanner: &mut Scanner,
    files: &[PathBuf],
    keep_chip: bool,
    limits: &ClipLimits,
) -> Result<Vec<EnrolledFile>, EnrollError> {
    let mut out = Vec::new();
    for p in files {
        if media::probe(p)?.is_still {
            out.push(talent_photo(scanner, p, keep_chip)?);
        } else {
            out.push(clip::talent_clip(scanner, p, keep_chip, limits)?);
        }
    }
    Ok(out)
}

/// The one face of a photo.
fn talent_photo(
    scanner: &mut Scanner,
    p: &Path,
    keep_chip: bool,
) -> Result<EnrolledFile, EnrollError> {
    let img = media::load_still(p)?;
    let mut obs = scanner.analyse_image(&img)?;
    if obs.len() != 1 {
        return Err(EnrollError::Faces {
            path: p.to_path_buf(),
            found: match obs.len() {
                0 => "no face found".into(),
                n => format!("{n} faces found (crop it)"),
            },
        });
    }
    let o = obs.remove(0);
    let chip_jpeg = o.chip.as_ref().filter(|_| keep_chip).and_then(chip_jpeg);
    let embedding = o
        .embedding
        .ok_or_else(|| EnrollError::NotAligned(p.to_path_buf()))?;
    let pose = Pose::from_keypoints(&o.face.keypoints);
    let mut poses = PoseCounts::default();
    poses.count(pose.map(|p| p.class()));
    Ok(EnrolledFile {
        name: file_name(p),
        faces: vec![Enrollment {
            embedding,
            photo_name: file_name(p),
            photo_sha256: sha256(p)?,
            chip_jpeg,
            pose,
        }],
        poses,
        samples: None,
    })
}

/// An aligned chip as the JPEG the gallery keeps.
fn chip_jpeg(chip: &image::RgbImage) -> Option<Vec<u8>> {
    crate::evidence::decode_base64(&crate::evidence::jpeg_base64(chip, 90))
}

/// Enrolls each image of reference `name` (PNG transparency honoured: only the opaque part
/// counts), refusing pictures over the default pixel limit before decoding them.
pub fn reference_images(
    matcher: &mut IpMatcher,
    name: &str,
    images: &[PathBuf],
) -> Result<Vec<RefEnrollment>, EnrollError> {
    let mut out = Vec::new();
    for p in images {
        let img = read_rgba(p)?;
        let r = matcher
            .enroll(name, &img)
            .map_err(|source| EnrollError::Ip {
                path: p.clone(),
                source,
            })?;
        out.push(RefEnrollment {
            format: crate::references::REF_FORMAT,
            data: r.to_bytes(),
            image_name: file_name(p),
            image_sha256: sha256(p)?,
            thumbnail_jpeg: reference_thumbnail(&img),
        });
    }
    Ok(out)
}

/// A reference image with its alpha channel; the size is checked from the header first.
fn read_rgba(p: &Path) -> Result<image::DynamicImage, EnrollError> {
    let unreadable = |cause: String| {
        EnrollError::Media(MediaError::Decode {
            path: p.to_path_buf(),
            cause: format!("not a readable image ({cause})"),
        })
    };
    let open = || {
        image::ImageReader::open(p)
            .and_then(|r| r.with_guessed_format())
            .map_err(|source| EnrollError::Io {
                path: p.to_path_buf(),
                source,
            })
    };
    let (w, h) = open()?
        .into_dimensions()
        .map_err(|e| unreadable(e.to_string()))?;
    let max = media::DEFAULT_MAX_PIXELS;
    if u64::from(w) * u64::from(h) > max {
        return Err(EnrollError::Media(MediaError::TooLarge {
            path: p.to_path_buf(),
            width: w,
            height: h,
            max,
        }));
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max.saturating_mul(16));
    reader.limits(limits);
    reader.decode().map_err(|e| unreadable(e.to_string()))
}

/// A small JPEG of a reference image (transparent parts over light grey) for evidence reports.
fn reference_thumbnail(img: &image::DynamicImage) -> Option<Vec<u8>> {
    let rgba = img.to_rgba8();
    let mut flat = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in flat.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            o[c] = ((u32::from(p[c]) * a + 235 * (255 - a)) / 255) as u8;
        }
    }
    let s = (200.0 / flat.width().max(flat.height()) as f32).min(1.0);
    let small = image::imageops::resize(
        &flat,
        ((flat.width() as f32 * s) as u32).max(1),
        ((flat.height() as f32 * s) as u32).max(1),
        image::imageops::FilterType::Triangle,
    );
    crate::evidence::decode_base64(&crate::evidence::jpeg_base64(&small, 88))
}
