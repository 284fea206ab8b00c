//! Merging the journals of a batch's shards (the tasks of an array job) into the batch's
//! reports. Each shard's journal holds the whole plan and the run header, so the merge needs
//! neither the models nor the gallery nor the media: it checks that the journals belong to
//! one batch, takes each input's outcome from whichever journal has it, and assembles the
//! report exactly as a one-machine scan would (same bytes apart from the run's own fields).

use super::assemble::{self, Judgement};
use super::journal::{Journal, JournalStore, Outcome};
use super::plan::Plan;
use super::setup::RunHeader;
use super::{BatchError, RunInfo};
use crate::evidence::Store;
use crate::report::ScanReport;
use std::path::PathBuf;

/// What a merge made.
pub struct Merged {
    /// The batch's report.
    pub report: ScanReport,
    /// Inputs no journal has an outcome for, one line each (a shard that did not finish).
    pub missing: Vec<String>,
}

/// Merges the journals at `paths`.
pub fn merge(
    paths: &[PathBuf],
    judgement: &Judgement,
    run: &RunInfo,
) -> Result<Merged, BatchError> {
    let mut journals = Vec::new();
    let mut first: Option<(PathBuf, RunHeader, Plan)> = None;
    for p in paths {
        let j = Journal::open_read_only(p)?;
        let (Some(header), Some(plan)) = (j.header()?, j.plan()?) else {
            return Err(BatchError::Settings(format!(
                "{}: this journal holds no batch (was its scan started?)",
                p.display()
            )));
        };
        match &first {
            None => first = Some((p.clone(), header, plan)),
            Some((p0, h0, plan0)) => {
                if header.key() != h0.key() {
                    return Err(BatchError::Settings(format!(
                        "{}: made with other models, gallery or settings than {}; merge the shards of one batch only",
                        p.display(),
                        p0.display()
                    )));
                }
                if plan.inputs != plan0.inputs {
                    return Err(BatchError::Settings(format!(
                        "{}: made for another list of inputs than {}; merge the shards of one batch only",
                        p.display(),
                        p0.display()
                    )));
                }
            }
        }
        journals.push(std::sync::Arc::new(JournalStore::new(j)));
    }
    let Some((_, header, plan)) = first else {
        return Err(BatchError::Settings("no journal to merge".into()));
    };
    let run_key = header.key();
    // Each input's outcome from the journal that finished it. Identity is not re-checked:
    // the merge may run where the media are not mounted; each shard checked it when it ran.
    // The images of a file's evidence come from the journal that has its report.
    let outcome = |p: &super::plan::Planned| -> Result<assemble::Stored, BatchError> {
        let mut crashed = None;
        for j in &journals {
            if let Some(e) = j.with(|j| j.get(&p.key))?.filter(|e| e.run_key == run_key) {
                let store: Store = j.clone();
                match e.outcome {
                    o @ (Outcome::Done(_) | Outcome::Failed(_)) => return Ok(Some((o, store))),
                    o @ Outcome::Crashed { .. } => crashed = Some((o, store)),
                }
            }
        }
        Ok(crashed)
    };
    let report = assemble::assemble(&header, &plan, &outcome, judgement, run, false)?;
    let missing = report
        .pending
        .iter()
        .map(|p| {
            format!(
                "{}: in none of the journals (did its shard finish? resubmit that task; its journal resumes)",
                p.display()
            )
        })
        .collect();
    Ok(Merged { report, missing })
}
