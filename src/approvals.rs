//! Written approvals the legal team already holds. A finding covered by an approval (same
//! person or reference, same file or any, inside the approved timecode range) becomes `info`
//! with the approval cited, so a re-scan after approval passes the delivery gate.
//!
//! File format (JSON):
//! ```json
//! {"approvals": [
//!   {"who": "Barack Obama", "file": "demo.mp4", "from": "10:00:00:00", "to": "10:00:05:00",
//!    "reference": "LEGAL-2026-0142", "note": "cleared for the festival cut"}
//! ]}
//! ```
//! `file` (a file name or a full path) and `from`/`to` (timecode at the file's rate) are
//! optional: leaving them out approves every file / the whole file.

use crate::policy::Severity;
use crate::report::FileReport;
use crate::timecode::Timecode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors reading an approvals file.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// Unreadable.
    #[error("{path}: cannot read approvals: {source}")]
    Read {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("{path}: invalid approvals file: {cause}")]
    Invalid {
        /// Path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
}

/// One written approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Person or reference name, exactly as in the gallery.
    pub who: String,
    /// File name or path it covers; all files when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// First timecode covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last timecode covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The approval's reference number.
    pub reference: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct ApprovalsFile {
    approvals: Vec<Approval>,
}

/// A loaded approvals file.
#[derive(Debug, Clone, Default)]
pub struct Approvals {
    /// Where they came from.
    pub path: Option<PathBuf>,
    /// The approvals.
    pub list: Vec<Approval>,
}

impl Approvals {
    /// Reads and checks an approvals file (every timecode must parse).
    pub fn load(path: &Path) -> Result<Self, ApprovalError> {
        let text = std::fs::read_to_string(path).map_err(|source| ApprovalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks the text of an approvals file read from `path` (named in errors): the same
    /// checks as [`Approvals::load`], without touching the disk (the fuzz harness uses it).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ApprovalError> {
        let invalid = |cause: String| ApprovalError::Invalid {
            path: path.to_path_buf(),
            cause,
        };
        let f: ApprovalsFile = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        // Syntax check at the most permissive common rate; the real rate applies per file.
        let rate = crate::timecode::FrameRate { num: 60, den: 1 };
        for (i, a) in f.approvals.iter().enumerate() {
            if a.who.trim().is_empty() || a.reference.trim().is_empty() {
                return Err(invalid(format!(
                    "approval {}: 'who' and 'reference' are required",
                    i + 1
                )));
            }
            for tc in [&a.from, &a.to].into_iter().flatten() {
                Timecode::parse(tc, rate)
                    .map_err(|e| invalid(format!("approval {} ({}): {e}", i + 1, a.who)))?;
            }
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            list: f.approvals,
        })
    }

    /// Marks the findings of `file` that an approval covers: severity `info`, approval cited.
    /// Returns how many findings changed.
    pub fn apply(&self, file: &mut FileReport) -> usize {
        let rate = file.media.frame_rate;
        let start = file.media.start_timecode;
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let full = file.path.display().to_string();
        let mut changed = 0;
        for f in &mut file.findings {
            let covers = |a: &Approval| {
                if a.who != f.name {
                    return false;
                }
                if let Some(want) = &a.file {
                    if *want != name && *want != full {
                        return false;
                    }
                }
                // In i128: frame counts read from a stored report can be any u64, and the
                // difference of two of them must neither overflow nor wrap.
                let frame_of = |tc: &str| {
                    Timecode::parse(tc, rate)
                        .ok()
                        .map(|t| i128::from(t.frames) - i128::from(start.frames))
                };
                let from_ok = match &a.from {
                    None => true,
                    Some(tc) => frame_of(tc).is_some_and(|fr| fr <= i128::from(f.first_frame)),
                };
                let to_ok = match &a.to {
                    None => true,
                    Some(tc) => frame_of(tc).is_some_and(|fr| fr >= i128::from(f.last_frame)),
                };
                from_ok && to_ok
            };
            if let Some(a) = self.list.iter().find(|a| covers(a)) {
                if f.severity != Severity::Info || f.approval.is_none() {
                    changed += 1;
                }
                f.reason = format!("approved under {}: {}", a.reference, f.reason);
                f.severity = crate::policy::APPROVED;
                f.approval = Some(a.clone());
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obama(from: Option<&str>, to: Option<&str>) -> Approvals {
        Approvals {
            path: None,
            list: vec![Approval {
                who: "Barack Obama".into(),
                file: None,
                from: from.map(Into::into),
                to: to.map(Into::into),
                reference: "LEGAL-1".into(),
                note: None,
            }],
        }
    }

    /// The 25 fps file of the writers' fixture: Barack Obama on frames 0-79 from 10:00:00:00.
    fn clip() -> FileReport {
        crate::report::csv::fixture::report().files.remove(1)
    }

    #[test]
    fn a_range_covers_the_findings_inside_it() {
        let a = obama(Some("10:00:00:00"), Some("10:00:04:00"));
        assert_eq!(a.apply(&mut clip()), 1);
        let late = obama(Some("10:00:00:01"), None);
        assert_eq!(late.apply(&mut clip()), 0);
    }

    /// Frame counts of a stored report (the `journal` fuzz harness feeds any) can be any
    /// u64: the subtraction overflowed (a panic with overflow checks) and casts to i64 wrapped.
    #[test]
    fn frame_counts_beyond_i64_neither_overflow_nor_wrap() {
        let mut file = clip();
        file.media.start_timecode.frames = 1 << 63;
        let a = obama(Some("10:00:00:00"), Some("10:00:04:00"));
        // The approved range lies long before this file starts: nothing is covered.
        assert_eq!(a.apply(&mut file), 0);
        let mut file = clip();
        file.findings[0].first_frame = (1 << 63) + 10;
        file.findings[0].last_frame = (1 << 63) + 20;
        // From the file's start timecode on, open-ended: covered however late the finding.
        assert_eq!(obama(Some("10:00:00:00"), None).apply(&mut file), 1);
    }
}
