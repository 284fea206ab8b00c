//! Where a batch's worker processes leave their evidence images until the supervisor stores
//! them in the journal (see [`crate::evidence::Spill`]): a private folder beside the journal
//! (`<journal>.evidence`, mode 0700), one file per input being scanned, each deleted once
//! its images are in the journal (or its worker died), and the folder when the batch ends.
//! A folder left by a batch that was killed is removed when the journal is next opened
//! (its lock says no other process is using it).

use super::journal::{Entry, Journal, JournalError, Outcome};
use crate::evidence::{Jpeg, SpillReader};
use std::path::{Path, PathBuf};

/// The batch's spill folder, removed with its contents when dropped.
pub struct SpillDir {
    path: PathBuf,
    /// Kept for a batch without a journal file: a fresh temporary folder.
    temp: Option<tempfile::TempDir>,
}

impl SpillDir {
    /// The folder for `journal` (emptied if a killed batch left it), or a temporary one
    /// for a batch without a journal file.
    pub fn new(journal: Option<&Path>) -> std::io::Result<Self> {
        let Some(journal) = journal else {
            let temp = tempfile::Builder::new()
                .prefix(".clearshot-evidence-")
                .tempdir()?;
            return Ok(Self {
                path: temp.path().to_path_buf(),
                temp: Some(temp),
            });
        };
        let mut name = journal.as_os_str().to_owned();
        name.push(".evidence");
        let path = PathBuf::from(name);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&path)?;
        Ok(Self { path, temp: None })
    }

    /// The spill file of job `job`.
    pub fn file(&self, job: usize) -> PathBuf {
        self.path.join(format!("{job}.spill"))
    }

    /// Deletes job `job`'s spill file, if there is one.
    pub fn discard(&self, job: usize) {
        let _ = std::fs::remove_file(self.file(job));
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if self.temp.is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Why a finished input's report could not be stored with its images.
pub enum StoreError {
    /// The report or its spill file is unusable: the input fails with this line.
    Input(String),
    /// The journal failed: the batch stops.
    Journal(JournalError),
}

/// Records a finished input: its report as the worker sent it (`text`), with every image
/// it left in `spill` moved into the journal, all in one transaction; returns the outcome
/// as stored (the report now refers to its images by their digests).
pub fn store_done(
    journal: &mut Journal,
    input: &str,
    identity: &str,
    run_key: &str,
    text: &str,
    spill: &Path,
) -> Result<Outcome, StoreError> {
    let mut report = super::journal::parse_report(text).map_err(StoreError::Input)?;
    let mut reader = None;
    let mut w = journal.begin(input).map_err(StoreError::Journal)?;
    for j in report.evidence_images_mut() {
        let Jpeg::Spilled { offset, len } = *j else {
            continue;
        };
        let r = match &mut reader {
            Some(r) => r,
            None => reader.insert(SpillReader::open(spill).map_err(StoreError::Input)?),
        };
        let bytes = r.read(offset, len).map_err(StoreError::Input)?;
        let sha256 = w.add_image(&bytes).map_err(StoreError::Journal)?;
        *j = Jpeg::Stored {
            sha256,
            store: None,
        };
    }
    let text =
        serde_json::to_string(&report).map_err(|e| StoreError::Input(format!("report: {e}")))?;
    let outcome = Outcome::Done(text);
    w.commit(&Entry {
        identity: identity.to_string(),
        run_key: run_key.to_string(),
        outcome: outcome.clone(),
    })
    .map_err(StoreError::Journal)?;
    Ok(outcome)
}
