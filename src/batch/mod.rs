//! The batch: everything between the paths a user names and one report over all of them.
//!
//! `plan` turns paths into inputs; `journal` keeps each finished input's report durably so
//! an interrupted batch resumes where it stopped; `supervisor` scans the inputs in worker
//! processes (`worker`, speaking `protocol`), several at once, so that no input can take
//! the batch down; `events` tells the user (and `--jsonl` readers) as things happen;
//! `interrupt` handles Ctrl-C; `assemble` makes the one report from the journal, the same
//! bytes whether the batch ran straight through or was resumed.

pub mod assemble;
pub mod events;
pub mod interrupt;
pub mod journal;
pub mod merge;
pub mod plan;
pub mod progress;
pub mod protocol;
pub mod settings;
pub mod setup;
mod spill;
pub mod supervisor;
pub mod worker;

use crate::approvals::Approvals;
use crate::report::ScanReport;
use events::{Event, Observer};
use journal::{Entry, Journal, JournalStore, Outcome};
use plan::{Plan, Planned};
use protocol::{Request, WorkerConfig};
use settings::ScanSettings;
use setup::ScanSetup;
use spill::{SpillDir, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use supervisor::{Finish, Handler, Limits, Supervisor};
use time::Date;

/// Why a batch could not run at all (a bad input never does this: it gets its line).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Models missing or not as the manifest says.
    #[error(transparent)]
    Models(#[from] crate::models::ModelError),
    /// The gallery cannot be read.
    #[error(transparent)]
    Gallery(#[from] crate::gallery::GalleryError),
    /// The journal cannot be used.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// ONNX Runtime cannot be loaded.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A model session could not be made.
    #[error(transparent)]
    Worker(#[from] crate::scan::WorkerError),
    /// Settings that cannot work.
    #[error("{0}")]
    Settings(String),
    /// A worker process could not start (its own message).
    #[error("cannot start a worker process: {0}")]
    WorkerStart(String),
    /// The gallery or the models changed while the batch ran.
    #[error("the gallery or the models changed since this batch started; run it again")]
    Changed,
    /// The pipe between supervisor and worker broke.
    #[error("worker pipe: {0}")]
    Protocol(std::io::Error),
}

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Models folder.
    pub models_dir: PathBuf,
    /// Gallery database.
    pub gallery: PathBuf,
    /// What to look for.
    pub settings: ScanSettings,
    /// The date consent is judged on.
    pub date: Date,
    /// Severity of a file that declares AI generation or editing (`--ai`), judged when
    /// the report is made, like consent.
    pub ai: crate::policy::Severity,
    /// Inputs scanned at once (worker processes).
    pub jobs: usize,
    /// Model threads in each worker process.
    pub workers: usize,
    /// The journal file; None keeps it in memory (spot checks).
    pub journal: Option<PathBuf>,
    /// Forget the journal's entries first.
    pub fresh: bool,
    /// Numbered stills of one folder are one clip (image sequences).
    pub sequences: bool,
    /// Scan only this share of the inputs (a task of an array job).
    pub shard: Option<plan::Shard>,
    /// What one input may use.
    pub limits: Limits,
    /// The clearshot binary the workers run.
    pub exe: PathBuf,
}

/// Worker processes and model threads for this machine: files in parallel (one decoder
/// thread each) with the cores shared between them.
pub fn default_jobs_and_workers(cores: usize, files: usize) -> (usize, usize) {
    let cores = cores.max(1);
    let jobs = cores.clamp(1, 8).min(files.max(1));
    (jobs, (cores / jobs).max(1))
}

/// The run's own facts, which no two runs share: kept in clearly named report fields.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Start (UTC, RFC 3339).
    pub started: String,
    /// The command line.
    pub command_line: Vec<String>,
}

/// What a batch leaves.
pub struct BatchOutcome {
    /// The report over every input (approvals applied).
    pub report: ScanReport,
    /// Stopped on request before the end.
    pub interrupted: bool,
    /// Inputs scanned in this run.
    pub scanned: usize,
    /// Inputs taken from the journal.
    pub from_journal: usize,
}

/// Scans `paths` as one batch.
pub fn run(
    paths: &[PathBuf],
    config: &BatchConfig,
    approvals: &Approvals,
    run: &RunInfo,
    observer: &mut dyn Observer,
    stop: &dyn Fn() -> bool,
) -> Result<BatchOutcome, BatchError> {
    let plan = plan::plan(paths, config.sequences);
    let setup = ScanSetup::load(
        &config.models_dir,
        &config.gallery,
        &config.settings,
        config.date,
        config.workers,
    )?;
    for w in &setup.warnings {
        observer.event(&Event::Warning {
            path: None,
            message: w,
        });
    }
    let header = setup.header.clone();
    let run_key = header.key();
    drop(setup);
    let mut journal = match &config.journal {
        Some(p) => Journal::open(p)?,
        None => Journal::in_memory()?,
    };
    if config.fresh {
        journal.clear()?;
    }
    journal.set_batch(&header, &plan)?;
    // A task of an array scans its share; the journal keeps the whole plan for the merge.
    let plan = match config.shard {
        Some(s) => {
            journal.set_meta("shard", &s.to_string())?;
            Plan {
                inputs: s.select(&plan.inputs),
                problems: if s.index == 0 {
                    plan.problems
                } else {
                    Vec::new()
                },
            }
        }
        None => plan,
    };

    // What the journal already has, and what is left to scan.
    let spill = SpillDir::new(config.journal.as_deref()).map_err(|e| {
        BatchError::Settings(format!("cannot make a folder for evidence images: {e}"))
    })?;
    let mut queue = Vec::new();
    let mut reused = Vec::new();
    let mut identities = Vec::new();
    for (job, p) in plan.inputs.iter().enumerate() {
        let identity = plan::identity(&p.input);
        let entry = journal.get(&p.key)?;
        let valid = entry
            .as_ref()
            .filter(|e| e.identity == identity && e.run_key == run_key);
        match valid.map(|e| &e.outcome) {
            Some(Outcome::Done(_) | Outcome::Failed(_)) => reused.push(job),
            _ => queue.push(Request {
                job,
                input: p.input.clone(),
                spill: Some(spill.file(job)),
            }),
        }
        identities.push(identity);
    }
    let bytes = queue.iter().map(|r| plan.inputs[r.job].bytes).sum();
    observer.event(&Event::BatchStarted {
        inputs: plan.inputs.len() + plan.problems.len(),
        to_scan: queue.len(),
        from_journal: reused.len(),
        journal: config.journal.as_deref(),
        bytes,
    });
    for f in &plan.problems {
        observer.event(&Event::FileFailed {
            path: &f.path,
            error: &f.error,
            retry: false,
        });
    }
    let date = config.date;
    let judgement = assemble::Judgement {
        date,
        approvals,
        approvals_path: approvals.path.clone(),
        ai: config.ai,
    };
    let from_journal = reused.len();
    for job in reused {
        if let Some(e) = journal.get(&plan.inputs[job].key)? {
            tell(
                observer,
                &plan.inputs[job],
                &e.outcome,
                true,
                None,
                &judgement,
            );
        }
    }

    let mut handler = BatchHandler {
        plan: &plan.inputs,
        identities: &identities,
        run_key: &run_key,
        journal: &mut journal,
        observer,
        stop,
        judgement: &judgement,
        spill: &spill,
        scanned: 0,
    };
    let finish = if queue.is_empty() {
        Finish::Complete
    } else {
        let worker = WorkerConfig {
            models_dir: config.models_dir.clone(),
            gallery: config.gallery.clone(),
            settings: config.settings.clone(),
            date: date.to_string(),
            workers: config.workers,
            run_key: run_key.clone(),
        };
        let mut sup = Supervisor::new(config.exe.clone(), &worker, config.jobs, config.limits)?;
        sup.run(queue, &mut handler)?
    };
    let scanned = handler.scanned;
    drop(spill);
    let interrupted = finish == Finish::Interrupted;
    // The report's evidence images stay in the journal until a writer needs them.
    let store = Arc::new(JournalStore::new(journal));
    let evidence: crate::evidence::Store = store.clone();
    let report = assemble::assemble(
        &header,
        &plan,
        &|p| {
            let o = store.with(|j| assemble::current(j, p, &run_key))?;
            Ok(o.map(|o| (o, evidence.clone())))
        },
        &judgement,
        run,
        interrupted,
    )?;
    observer.event(&Event::BatchFinished {
        scanned,
        from_journal,
        failed: report.failures.len(),
        pending: report.pending.len(),
        interrupted,
    });
    Ok(BatchOutcome {
        report,
        interrupted,
        scanned,
        from_journal,
    })
}

/// Tells the observer how an input ended.
fn tell(
    observer: &mut dyn Observer,
    p: &Planned,
    outcome: &Outcome,
    from_journal: bool,
    seconds: Option<f64>,
    judgement: &assemble::Judgement,
) {
    let path = p.input.path();
    match outcome {
        Outcome::Done(text) => match journal::parse_report(text) {
            Ok(mut r) => {
                assemble::judge(&mut r, &path, judgement);
                for f in &r.findings {
                    observer.event(&Event::Finding {
                        path: &path,
                        finding: f,
                    });
                }
                observer.event(&Event::FileFinished {
                    path: &path,
                    from_journal,
                    findings: r.findings.len(),
                    worst: r.findings.iter().map(|f| f.severity).max(),
                    seconds,
                    warnings: &r.warnings,
                });
            }
            Err(e) => observer.event(&Event::FileFailed {
                path: &path,
                error: &e,
                retry: false,
            }),
        },
        Outcome::Failed(e) => observer.event(&Event::FileFailed {
            path: &path,
            error: e,
            retry: false,
        }),
        Outcome::Crashed { cause, .. } => observer.event(&Event::FileFailed {
            path: &path,
            error: cause,
            retry: true,
        }),
    }
}

/// A worker process may die on the same input this many times before it is failed.
pub const MAX_ATTEMPTS: u32 = 2;

struct BatchHandler<'a> {
    plan: &'a [Planned],
    identities: &'a [String],
    run_key: &'a str,
    journal: &'a mut Journal,
    observer: &'a mut dyn Observer,
    stop: &'a dyn Fn() -> bool,
    judgement: &'a assemble::Judgement<'a>,
    spill: &'a SpillDir,
    scanned: usize,
}

impl BatchHandler<'_> {
    /// Commits `outcome` to the journal (durably: a result counts only once it is there),
    /// then tells the observer.
    fn record(
        &mut self,
        job: usize,
        outcome: Outcome,
        seconds: Option<f64>,
    ) -> Result<(), BatchError> {
        let entry = Entry {
            identity: self.identities[job].clone(),
            run_key: self.run_key.to_string(),
            outcome,
        };
        self.journal.put(&self.plan[job].key, &entry)?;
        self.spill.discard(job);
        tell(
            self.observer,
            &self.plan[job],
            &entry.outcome,
            false,
            seconds,
            self.judgement,
        );
        Ok(())
    }
}

impl Handler for BatchHandler<'_> {
    fn started(&mut self, job: usize, frames: Option<u64>) {
        self.observer.event(&Event::FileStarted {
            path: &self.plan[job].input.path(),
            frames,
            bytes: self.plan[job].bytes,
        });
    }

    fn progress(&mut self, job: usize, decoded: u64) {
        self.observer
            .progress(&self.plan[job].input.path(), decoded);
    }

    fn done(&mut self, job: usize, report: &str, seconds: f64) -> Result<(), BatchError> {
        self.scanned += 1;
        let stored = spill::store_done(
            self.journal,
            &self.plan[job].key,
            &self.identities[job],
            self.run_key,
            report,
            &self.spill.file(job),
        );
        self.spill.discard(job);
        match stored {
            Ok(outcome) => {
                tell(
                    self.observer,
                    &self.plan[job],
                    &outcome,
                    false,
                    Some(seconds),
                    self.judgement,
                );
                Ok(())
            }
            Err(StoreError::Journal(e)) => Err(e.into()),
            Err(StoreError::Input(cause)) => {
                let name = plan::label(&self.plan[job].input);
                self.record(job, Outcome::Failed(format!("{name}: {cause}")), None)
            }
        }
    }

    fn failed(&mut self, job: usize, error: &str) -> Result<(), BatchError> {
        self.record(job, Outcome::Failed(error.to_string()), None)
    }

    fn crashed(&mut self, job: usize, cause: &str) -> Result<bool, BatchError> {
        let key = &self.plan[job].key;
        let before = match self.journal.get(key)? {
            Some(Entry {
                identity,
                run_key,
                outcome: Outcome::Crashed { attempts, .. },
            }) if identity == self.identities[job] && run_key == self.run_key => attempts,
            _ => 0,
        };
        let attempts = before + 1;
        let name = plan::label(&self.plan[job].input);
        let outcome = if attempts >= MAX_ATTEMPTS {
            Outcome::Failed(format!("{name}: {cause}; gave up after {attempts} tries"))
        } else {
            Outcome::Crashed {
                attempts,
                cause: format!("{name}: {cause}; trying once more"),
            }
        };
        self.record(job, outcome, None)?;
        Ok(attempts < MAX_ATTEMPTS)
    }

    fn stop(&self) -> bool {
        (self.stop)()
    }
}

/// The default journal of a batch over `paths` with `gallery`: `<state dir>/journals/<id>.sqlite`,
/// where the id is a digest of the canonical paths as given and of the gallery (so the same
/// command finds it again, and scans of the same folder against two galleries do not meet).
pub fn default_journal(paths: &[PathBuf], gallery: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut keys: Vec<String> = paths.iter().map(|p| plan::key_of(p)).collect();
    keys.sort();
    keys.push(plan::key_of(gallery));
    let digest = Sha256::digest(keys.join("\0").as_bytes());
    let id = crate::models::hex(&digest[..8]);
    crate::paths::state_dir()
        .join("journals")
        .join(format!("{id}.sqlite"))
}

/// Removes a journal and SQLite's companion files (a default journal, once its batch is
/// complete and reported: its evidence crops are biometric data and are not kept longer
/// than needed).
pub fn remove_journal(path: &Path) -> std::io::Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::remove_file(path)
}

/// True when `path` names standard output (`-`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}
