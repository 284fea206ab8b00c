//! Enrolling an unknown person from a report (`gallery add --from-report R.json --unknown
//! U3`): the embeddings of their appearances, stored in the report, become their gallery
//! faces, so a re-scan names them without anyone digging out photos.

use super::UnknownPerson;
use crate::gallery::Enrollment;
use crate::report::ScanReport;
use std::path::{Path, PathBuf};

/// Why a report cannot enroll that person.
#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct FromReportError {
    /// The report.
    pub path: PathBuf,
    /// The one-line cause.
    pub cause: String,
}

/// The faces of person `id` in the JSON report at `path`, checked to come from the embedder
/// whose file has sha256 `embedder_sha256` (an embedding of another model means nothing to
/// this one).
pub fn faces_from_report(
    path: &Path,
    id: &str,
    embedder_sha256: &str,
) -> Result<(UnknownPerson, Vec<Enrollment>), FromReportError> {
    let bad = |cause: String| FromReportError {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let report: ScanReport = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("not a clearshot JSON report ({e})")))?;
    let ids: Vec<&str> = report
        .unknown_people
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    let Some(person) = report.unknown_people.iter().find(|p| p.id == id) else {
        return Err(bad(if ids.is_empty() {
            format!("no unknown person {id}: the report has no unknown people (was it scanned with --unknown?)")
        } else {
            format!("no unknown person {id} (the report has {})", ids.join(", "))
        }));
    };
    match report.models.iter().find(|m| m.role == "embedder") {
        Some(m) if m.sha256 == embedder_sha256 => {}
        Some(m) => {
            return Err(bad(format!(
                "its embeddings come from another embedder ({}, sha256 {}) than the active one; re-scan with the active models",
                m.name, m.sha256
            )))
        }
        None => return Err(bad("it does not name the embedder its embeddings come from".into())),
    }
    let sha = crate::models::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let report_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let faces: Vec<Enrollment> = person
        .appearances
        .iter()
        .flat_map(|a| {
            let photo_name = format!("{report_name} {id}: {} shot {}", a.file_name(), a.shot + 1);
            let sha = sha.clone();
            a.embeddings.iter().map(move |e| Enrollment {
                embedding: e.clone(),
                photo_name: photo_name.clone(),
                photo_sha256: sha.clone(),
                chip_jpeg: None,
                pose: None,
            })
        })
        .collect();
    if faces.is_empty() {
        return Err(bad(format!(
            "unknown person {id} has no stored embeddings to enroll from"
        )));
    }
    let dim = faces[0].embedding.0.len();
    if dim == 0
        || faces
            .iter()
            .any(|f| f.embedding.0.len() != dim || f.embedding.0.iter().any(|v| !v.is_finite()))
    {
        return Err(bad(format!(
            "unknown person {id} has malformed embeddings (empty, of mixed length or not finite)"
        )));
    }
    Ok((person.clone(), faces))
}
