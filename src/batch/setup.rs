//! What every file of a batch is scanned with: the models (checked against the manifest),
//! the gallery's people and references, and the settings. The supervising process loads it
//! without ONNX Runtime to key the journal; each worker process loads it again and builds
//! its [`Scanner`], and the two must agree (the gallery could change in between).

use super::settings::ScanSettings;
use super::BatchError;
use crate::gallery::{Gallery, Talent};
use crate::models::ModelSet;
use crate::report::{GalleryRecord, ModelRecord};
use crate::scan::{RefSet, ScanOptions, Scanner};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use time::Date;

/// The part of a report that is the same for every file of a batch, and what makes a
/// journal entry reusable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunHeader {
    /// clearshot's version (a new version may find other things).
    pub version: String,
    /// Models in use, with their sha256.
    pub models: Vec<ModelRecord>,
    /// The gallery's path and the digest of its state.
    pub gallery: GalleryRecord,
    /// The settings record (see [`ScanSettings::record`]).
    pub settings: serde_json::Value,
}

impl RunHeader {
    /// sha256 over everything that decides a file's result: the version, the models' hashes,
    /// the gallery's state (not its path: a copy on a node's local disk is the same gallery)
    /// and the settings.
    pub fn key(&self) -> String {
        let models: Vec<(&str, &str)> = self
            .models
            .iter()
            .map(|m| (m.role.as_str(), m.sha256.as_str()))
            .collect();
        let basis = serde_json::json!({
            "version": self.version,
            "models": models,
            "gallery": self.gallery.state_sha256,
            "talent": self.gallery.matchable,
            "references": self.gallery.references,
            "settings": self.settings,
        });
        crate::models::hex(&Sha256::digest(basis.to_string().as_bytes()))
    }
}

/// Models, gallery and settings, loaded and checked.
pub struct ScanSetup {
    /// The models (hash-checked against the manifest; no ONNX Runtime session yet).
    pub models: ModelSet,
    /// Registered people usable with the active embedder (and those who are not).
    pub talent: Vec<Talent>,
    /// Registered references.
    pub refs: RefSet,
    /// Options for the scanner.
    pub options: ScanOptions,
    /// The record every report and journal entry carries.
    pub header: RunHeader,
    /// Problems that do not stop the scan (stale enrollments), one line each.
    pub warnings: Vec<String>,
}

impl ScanSetup {
    /// Loads the models from `models_dir` and the gallery at `gallery_path` (read only).
    pub fn load(
        models_dir: &Path,
        gallery_path: &Path,
        settings: &ScanSettings,
        today: Date,
        workers: usize,
    ) -> Result<Self, BatchError> {
        let options = settings
            .options(today, workers)
            .map_err(BatchError::Settings)?;
        let models = ModelSet::load(models_dir)?;
        let gallery = Gallery::open_read_only(gallery_path)?;
        let talent = gallery.talent(Some(&models.embedder.entry.sha256))?;
        let digest = gallery.state_digest()?;
        let mut warnings = Vec::new();
        let unusable: Vec<&str> = talent
            .iter()
            .filter(|t| t.embeddings.is_empty())
            .map(|t| t.name.as_str())
            .collect();
        if !unusable.is_empty() {
            warnings.push(format!(
                "enrolled with another embedder, re-enroll to match: {}",
                unusable.join(", ")
            ));
        }
        let (refs, stale) = RefSet::new(gallery.references(Some(crate::references::REF_FORMAT))?);
        if !stale.is_empty() {
            warnings.push(format!(
                "references enrolled by an older matcher, re-enroll to match: {}",
                stale.join(", ")
            ));
        }
        let gallery_record = GalleryRecord {
            path: gallery_path.to_path_buf(),
            state_sha256: digest,
            talent: talent.len(),
            matchable: talent.len() - unusable.len(),
            references: refs.refs.len(),
        };
        let with_refs = options.references && !refs.is_empty();
        let threshold = options
            .threshold
            .unwrap_or(models.embedder_spec().match_threshold);
        let header = RunHeader {
            version: env!("CARGO_PKG_VERSION").into(),
            models: model_records(&models, with_refs),
            gallery: gallery_record,
            settings: settings.record(&options, threshold, with_refs),
        };
        let mut header = header;
        if settings.unknown.is_some() {
            // Grouping unknown faces where the report is assembled needs the embedder's
            // metric, and a merge has no models.
            if let Some(m) = header.settings.as_object_mut() {
                m.insert(
                    "embedder_metric".into(),
                    serde_json::json!(models.embedder_spec().metric),
                );
            }
        }
        Ok(Self {
            models,
            talent,
            refs,
            options,
            header,
            warnings,
        })
    }

    /// Starts ONNX Runtime and loads each worker thread's sessions.
    pub fn scanner(self) -> Result<Scanner, BatchError> {
        crate::runtime::init()?;
        Ok(Scanner::new(
            self.models,
            self.options,
            self.talent,
            self.refs,
        )?)
    }
}

/// The models a scan uses, for the record (the reference embedder only when references are
/// matched).
pub fn model_records(m: &ModelSet, with_refs: bool) -> Vec<ModelRecord> {
    let mut out = vec![("detector", &m.detector_full)];
    if let Some(s) = &m.detector_short {
        out.push(("detector (close-up)", s));
    }
    if let Some(c) = &m.cascade {
        out.push(("dim-frame detector (proposal)", &c.proposal));
        out.push(("dim-frame detector (refine)", &c.refine));
        out.push(("dim-frame detector (output)", &c.output));
    }
    out.push(("embedder", &m.embedder));
    if let Some(ip) = m.ip_embedder.as_ref().filter(|_| with_refs) {
        out.push(("reference embedder", ip));
        if let Some(map) = &m.ip_map {
            out.push(("reference map", map));
        }
    }
    out.into_iter()
        .map(|(role, r)| ModelRecord {
            role: role.into(),
            name: r.name.clone(),
            file: r.entry.file.clone(),
            sha256: r.entry.sha256.clone(),
            licence: r.entry.licence.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A merge recomputes the key from the header its shards stored as JSON text: every
    /// recorded setting must read back to the same number (serde_json's default float
    /// parser is not exact: 0.12f32 recorded as 0.11999999731779099 came back different).
    #[test]
    fn the_run_key_survives_the_header_read_back_from_a_journal() {
        let settings = ScanSettings::default();
        let today = Date::from_calendar_date(2026, time::Month::December, 2).expect("a date");
        let opts = settings
            .options(today, 2)
            .expect("default settings are valid");
        let header = RunHeader {
            version: "0.1.0".into(),
            models: Vec::new(),
            gallery: GalleryRecord {
                path: "g.sqlite".into(),
                state_sha256: "00".into(),
                talent: 2,
                matchable: 2,
                references: 1,
            },
            settings: settings.record(&opts, 0.5, true),
        };
        let text = serde_json::to_string(&header).expect("a header serialises");
        let back: RunHeader = serde_json::from_str(&text).expect("and reads back");
        assert_eq!(back.key(), header.key());
    }
}
