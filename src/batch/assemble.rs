//! One report from the journal: every input in plan order, each file's report as the
//! worker made it, judged on the run's date (consent expiry) with the written approvals
//! applied. Scan-time facts come only from the journal, so a batch that was killed and
//! resumed gives the same bytes as one that ran straight through; only the run's own
//! fields (`started`, `finished`, `command_line`) differ.

use super::journal::{self, Journal, Outcome};
use super::plan::{Plan, Planned};
use super::setup::RunHeader;
use super::{BatchError, RunInfo};
use crate::approvals::Approvals;
use crate::evidence::Store;
use crate::policy::{self, Severity};
use crate::report::{FileFailure, FileReport, ScanReport};
use std::path::{Path, PathBuf};
use time::Date;

/// What a report is judged by at the time it is made.
pub struct Judgement<'a> {
    /// The date consent is judged on.
    pub date: Date,
    /// Written approvals.
    pub approvals: &'a Approvals,
    /// Where they came from (recorded in the settings).
    pub approvals_path: Option<PathBuf>,
    /// Severity of a file that declares AI generation or editing (`--ai`).
    pub ai: Severity,
}

/// Names a stored file report by `path` (as this run's command line reached it), judges
/// talent consent and a provenance declaration as `j` says (date, `--ai`) and applies the
/// approvals. Neither is part of what was scanned, so changing them needs no rescan.
pub fn judge(r: &mut FileReport, path: &Path, j: &Judgement) {
    r.path = path.to_path_buf();
    for f in &mut r.findings {
        if let (Some(consent), None) = (&f.consent, &f.reference) {
            (f.severity, f.reason) = crate::policy::talent(consent, j.date, f.decision());
        } else if f.is_file_level() {
            if let Some(judged) = r
                .provenance
                .as_ref()
                .and_then(|p| policy::provenance(p, j.ai))
            {
                (f.severity, f.reason) = judged;
            }
        }
    }
    crate::report::sort_findings(&mut r.findings);
    j.approvals.apply(r);
}

/// The entry of `p` in `journal` if it was made for the input as it is now, by this run's
/// models, gallery and settings (an interrupted batch may leave older ones behind).
pub fn current(
    journal: &Journal,
    p: &Planned,
    run_key: &str,
) -> Result<Option<Outcome>, BatchError> {
    let identity = super::plan::identity(&p.input);
    Ok(journal
        .get(&p.key)?
        .filter(|e| e.identity == identity && e.run_key == run_key)
        .map(|e| e.outcome))
}

/// An input's outcome, and the evidence store its report's images are in.
pub type Stored = Option<(Outcome, Store)>;

/// The report of a batch over `plan`, each input's outcome from `outcome`, with the
/// evidence store its images are in.
pub fn assemble(
    header: &RunHeader,
    plan: &Plan,
    outcome: &dyn Fn(&Planned) -> Result<Stored, BatchError>,
    judgement: &Judgement,
    run: &RunInfo,
    interrupted: bool,
) -> Result<ScanReport, BatchError> {
    let mut files = Vec::new();
    let mut failures: Vec<FileFailure> = plan.problems.clone();
    let mut pending = Vec::new();
    for p in &plan.inputs {
        let path = p.input.path();
        match outcome(p)? {
            Some((Outcome::Done(text), store)) => match journal::parse_report(&text) {
                Ok(mut r) => {
                    r.attach_evidence(&store);
                    judge(&mut r, &path, judgement);
                    files.push(r);
                }
                Err(error) => failures.push(FileFailure {
                    path,
                    error: format!("{}: {error}", super::plan::label(&p.input)),
                }),
            },
            Some((Outcome::Failed(error), _)) => failures.push(FileFailure { path, error }),
            Some((Outcome::Crashed { .. }, _)) | None => pending.push(path),
        }
    }
    let unknown_people = match header.settings.get("unknown") {
        Some(u) if !u.is_null() => {
            let s: crate::unknown::UnknownSettings = serde_json::from_value(u.clone())
                .map_err(|e| BatchError::Settings(format!("unknown-face settings: {e}")))?;
            let metric = header
                .settings
                .get("embedder_metric")
                .and_then(|m| serde_json::from_value(m.clone()).ok())
                .unwrap_or(crate::models::Metric::Euclidean);
            crate::unknown::group(&mut files, &s, metric)
        }
        // Never carried into a report that did not ask for them.
        _ => {
            for f in &mut files {
                f.unknown_tracks.clear();
            }
            Vec::new()
        }
    };
    let mut settings = header.settings.clone();
    if let Some(m) = settings.as_object_mut() {
        m.insert("date".into(), serde_json::json!(judgement.date.to_string()));
        m.insert(
            "approvals".into(),
            serde_json::json!(judgement.approvals_path),
        );
        m.insert("ai".into(), serde_json::json!(judgement.ai));
    }
    Ok(ScanReport {
        tool: "clearshot".into(),
        version: header.version.clone(),
        command_line: run.command_line.clone(),
        started: run.started.clone(),
        finished: now(),
        models: header.models.clone(),
        gallery: header.gallery.clone(),
        settings,
        files,
        failures,
        incomplete: interrupted || !pending.is_empty(),
        pending,
        unknown_people,
    })
}

/// Now, UTC, RFC 3339.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
