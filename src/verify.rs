//! `clearshot verify REPORT`: re-hashes what a report says it scanned and says, per file,
//! whether it is unchanged, so evidence can be re-checked later.

use crate::models::sha256_file;
use crate::provenance::{Provenance, ProvenanceOptions, Validation};
use crate::report::ScanReport;
use std::path::{Path, PathBuf};

/// State of one file against the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Same bytes as at scan time.
    Unchanged,
    /// Different bytes.
    Changed {
        /// sha256 now.
        now: String,
    },
    /// Cannot be read any more.
    Missing(String),
    /// The report holds no hash for it.
    NoHash,
    /// The content credentials read now differ from those the report recorded.
    Differs {
        /// As recorded.
        then: String,
        /// As read now.
        now: String,
    },
}

/// One line of the verification.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked (a scanned file, a model, the gallery).
    pub what: String,
    /// Path checked.
    pub path: PathBuf,
    /// Result.
    pub state: FileState,
}

/// Errors reading the report.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Unreadable or not a clearshot report.
    #[error("{path}: not a readable clearshot report: {cause}")]
    Report {
        /// Path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
}

/// Reads a JSON report.
pub fn load(path: &Path) -> Result<ScanReport, VerifyError> {
    let bad = |cause: String| VerifyError::Report {
        path: path.to_path_buf(),
        cause,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let r: ScanReport = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if r.tool != "clearshot" {
        return Err(bad(format!("made by '{}'", r.tool)));
    }
    Ok(r)
}

fn check(what: String, path: &Path, want: Option<&str>) -> Check {
    check_hash(what, path, want, sha256_file(path))
}

fn check_hash(
    what: String,
    path: &Path,
    want: Option<&str>,
    now: std::io::Result<String>,
) -> Check {
    let state = match (want, now) {
        (_, Err(e)) => FileState::Missing(e.to_string()),
        (None, Ok(_)) => FileState::NoHash,
        (Some(w), Ok(now)) if now.eq_ignore_ascii_case(w) => FileState::Unchanged,
        (Some(_), Ok(now)) => FileState::Changed { now },
    };
    Check {
        what,
        path: path.to_path_buf(),
        state,
    }
}

/// Re-hashes every scanned file, and each model found in `models_dir`, against the report.
pub fn run(report: &ScanReport, models_dir: Option<&Path>) -> Vec<Check> {
    let mut out: Vec<Check> = report
        .files
        .iter()
        .map(|f| match &f.sequence {
            // A sequence is hashed over its frames, as the scan did.
            Some(s) => check_hash(
                "image sequence".into(),
                &f.path,
                f.sha256.as_deref(),
                match s.frames(&f.path) {
                    Some(frames) => crate::models::sha256_sequence(&frames),
                    None => Err(std::io::Error::other(
                        "the report's frame range disagrees with its frame count",
                    )),
                },
            ),
            None => check("media".into(), &f.path, f.sha256.as_deref()),
        })
        .collect();
    for f in report.files.iter().filter(|f| f.sequence.is_none()) {
        if let Some(then) = &f.provenance {
            out.push(credentials(&f.path, then));
        }
    }
    if let Some(dir) = models_dir {
        for m in &report.models {
            out.push(check(
                format!("model {}", m.name),
                &dir.join(&m.file),
                Some(&m.sha256),
            ));
        }
    }
    out
}

/// Re-reads the content credentials of `path` and compares them with the report's: where
/// they are, the validation state, the failure codes, the manifest and the AI declaration.
/// Trust is not compared (the report keeps only a digest of the anchors it was given).
fn credentials(path: &Path, then: &Provenance) -> Check {
    let (now, _) = crate::provenance::read(path, &ProvenanceOptions::default());
    let key = |p: &Provenance| {
        let mut failures: Vec<&str> = p
            .failures
            .iter()
            .map(String::as_str)
            .filter(|c| *c != "signingCredential.untrusted")
            .collect();
        failures.sort_unstable();
        (
            p.credentials,
            p.validation.map(|v| v == Validation::Invalid),
            failures.join(","),
            p.manifest.clone(),
            p.ai.clone(),
        )
    };
    Check {
        what: "content credentials".into(),
        path: path.to_path_buf(),
        state: if key(then) == key(&now) {
            FileState::Unchanged
        } else {
            FileState::Differs {
                then: then.summary(),
                now: now.summary(),
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, b"abc").unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(check("m".into(), &p, Some(sha)).state, FileState::Unchanged);
        assert!(matches!(
            check("m".into(), &p, Some("00")).state,
            FileState::Changed { .. }
        ));
        assert_eq!(check("m".into(), &p, None).state, FileState::NoHash);
        assert!(matches!(
            check("m".into(), &dir.path().join("gone"), Some(sha)).state,
            FileState::Missing(_)
        ));
    }
}
