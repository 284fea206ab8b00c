//! The report files a run writes: checked before any work (nothing the user has is
//! overwritten without `overwrite`, and a folder that cannot be written is found now, not
//! after an overnight batch), then each written by its format's writer through a temporary
//! name and a rename, so no report is ever half-written.

use super::ScanReport;
use std::path::{Path, PathBuf};

/// Why a report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file exists and `overwrite` was not asked for.
    #[error("{}: already exists; pass --overwrite to replace it", .0.display())]
    Exists(PathBuf),
    /// The folder cannot be written.
    #[error("{}: cannot write a report here ({source})", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("{}: cannot write: {cause}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
}

/// Which reports to write, and where.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The full JSON report.
    pub json: Option<PathBuf>,
    /// One CSV row per finding.
    pub csv: Option<PathBuf>,
    /// CMX3600 EDL with locators.
    pub edl: Option<PathBuf>,
    /// OpenTimelineIO timeline.
    pub otio: Option<PathBuf>,
    /// Folder for the self-contained HTML report (index.html).
    pub html: Option<PathBuf>,
    /// The JSON Lines event file (written as the run goes, by the batch; checked here).
    pub jsonl: Option<PathBuf>,
    /// Replace files that exist.
    pub overwrite: bool,
}

impl Outputs {
    /// Checks every output before any work.
    pub fn check(&self) -> Result<(), OutputError> {
        let html = self.html.as_ref().map(|d| d.join("index.html"));
        for p in [
            &self.json,
            &self.csv,
            &self.edl,
            &self.otio,
            &html,
            &self.jsonl,
        ]
        .into_iter()
        .flatten()
        {
            if p.exists() && !self.overwrite {
                return Err(OutputError::Exists(p.clone()));
            }
            let mut dir = parent(p);
            // The HTML folder is made when the report is written: check where it will be.
            if Some(p) == html.as_ref() && !dir.exists() {
                dir = parent(dir);
            }
            let probe = dir.join(format!(".clearshot-write-test.{}", std::process::id()));
            std::fs::write(&probe, b"").map_err(|source| OutputError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
            let _ = std::fs::remove_file(&probe);
        }
        Ok(())
    }

    /// Writes every report asked for (except JSON Lines, written as the run goes).
    pub fn write(&self, report: &ScanReport) -> Result<(), OutputError> {
        let put = |p: &Option<PathBuf>, text: Result<Vec<u8>, String>| {
            let Some(p) = p else { return Ok(()) };
            let fail = |cause: String| OutputError::Write {
                path: p.clone(),
                cause,
            };
            super::write_atomic(p, &text.map_err(fail)?).map_err(|e| fail(e.to_string()))
        };
        if self.json.is_some() {
            put(
                &self.json,
                serde_json::to_vec_pretty(report).map_err(|e| e.to_string()),
            )?;
        }
        if self.csv.is_some() {
            put(&self.csv, Ok(super::csv::render(report).into_bytes()))?;
        }
        if self.edl.is_some() {
            put(&self.edl, Ok(super::edl::render(report).into_bytes()))?;
        }
        if self.otio.is_some() {
            put(
                &self.otio,
                super::otio::render(report)
                    .map(String::into_bytes)
                    .map_err(|e| e.to_string()),
            )?;
        }
        if let Some(dir) = &self.html {
            super::html::write(report, dir).map_err(|e| OutputError::Write {
                path: dir.clone(),
                cause: e.to_string(),
            })?;
        }
        Ok(())
    }
}

fn parent(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
