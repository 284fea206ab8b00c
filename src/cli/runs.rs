//! The commands that make or check reports: `scan`, `inspect` (a scan of every frame of a
//! range), `merge` (shards' journals into one report) and `verify` (a report against the
//! files and models it names).

use super::args::*;
use anyhow::{bail, Context, Result};
use clearshot::approvals::Approvals;
use clearshot::batch::{self, events::JsonLines, settings::ScanSettings, BatchConfig, RunInfo};
use clearshot::face::detect::HardFaces;
use clearshot::media;
use clearshot::policy::Severity;
use clearshot::report::{self, ScanReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `scan`: the flags into the batch's settings and run plan, then [`scan`].
pub(crate) fn scan_command(
    args: ScanArgs,
    gallery_path: &Path,
    models_dir: &Path,
) -> Result<ExitCode> {
    let settings = ScanSettings {
        unknown: args.unknown.settings(),
        ..settings(&args.tune)?
    };
    let keep_journal = args.journal.is_some();
    let journal = match args.journal {
        Some(j) => j,
        None => batch::default_journal(&args.paths, gallery_path),
    };
    let shard = args
        .shard
        .as_deref()
        .map(|s| batch::plan::Shard::parse(s, &|k| std::env::var(k).ok()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let run_plan = RunPlan {
        shard,
        keep_journal,
        journal: Some(journal),
        sequences: !args.tune.no_sequences,
        fresh: args.fresh,
        jobs: args.jobs,
        workers: args.tune.workers,
        limits: BatchLimits {
            max_memory: args.max_memory,
            stall: Some(args.stall_timeout),
        },
    };
    if args.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    scan(
        &args.paths,
        settings,
        args.tune.date.as_deref(),
        &args.out,
        run_plan,
        gallery_path,
        models_dir,
    )
}

fn today(date: Option<&str>) -> Result<time::Date> {
    match date {
        Some(d) => Ok(clearshot::gallery::parse_date(d)?),
        None => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

fn settings(t: &TuneArgs) -> Result<ScanSettings> {
    Ok(ScanSettings {
        sample_rate: t.sample_rate,
        min_per_shot: t.min_per_shot,
        tile: t.tile,
        threshold: t.threshold,
        review_limit: t.review_limit,
        references: !t.no_refs,
        ref_rate: t.ref_rate,
        fine_refs: !t.coarse_refs,
        ref_search_every: t.ref_search == "every",
        decode_all: t.decode_all,
        hard_faces: HardFaces::parse(&t.hard_faces).map_err(anyhow::Error::msg)?,
        max_pixels: t.max_pixels,
        seq_rate: batch::settings::parse_rate(&t.seq_rate).map_err(anyhow::Error::msg)?,
        trust_anchors: t.trust_anchors.as_deref().map(trust_anchors).transpose()?,
        ..ScanSettings::default()
    })
}

/// Reads and checks `--trust-anchors` before any work.
fn trust_anchors(path: &std::path::Path) -> Result<String> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("--trust-anchors {}", path.display()))?;
    clearshot::provenance::check_anchors(&pem)
        .with_context(|| format!("--trust-anchors {}", path.display()))?;
    Ok(pem)
}

impl OutputArgs {
    /// `--ai`.
    fn ai_severity(&self) -> Severity {
        if self.ai == "escalate" {
            Severity::Escalate
        } else {
            Severity::Review
        }
    }

    /// The report files asked for; `per_file`: the run covers several media files, so each
    /// gets its own marker lists.
    fn outputs(&self, per_file: bool) -> report::Outputs {
        report::Outputs {
            json: self.json.clone(),
            csv: self.csv.clone(),
            edl: self.edl.clone(),
            avid: self.avid_markers.clone(),
            per_file,
            otio: self.otio.clone(),
            html: self.html.clone(),
            jsonl: self.jsonl.clone().filter(|p| !batch::is_stdout(p)),
            overwrite: self.overwrite,
        }
    }
}

fn check_outputs(out: &OutputArgs, per_file: bool) -> Result<()> {
    Ok(out.outputs(per_file).check()?)
}

fn write_outputs(full: &ScanReport, out: &OutputArgs, per_file: bool) -> Result<()> {
    Ok(out.outputs(per_file).write(full)?)
}

/// Whether a scan of `paths` covers several media files (more than one path, or a folder):
/// then marker lists are written one per file.
fn several_files(paths: &[PathBuf]) -> bool {
    !matches!(paths, [one] if !one.is_dir())
}

/// How a scan runs: where its journal is and how the work is spread.
struct RunPlan {
    shard: Option<batch::plan::Shard>,
    /// Keep the journal once the batch is complete (it was named with --journal).
    keep_journal: bool,
    journal: Option<PathBuf>,
    sequences: bool,
    fresh: bool,
    jobs: Option<usize>,
    workers: Option<usize>,
    limits: BatchLimits,
}

fn scan(
    paths: &[PathBuf],
    settings: ScanSettings,
    date: Option<&str>,
    out: &OutputArgs,
    run_plan: RunPlan,
    gallery_path: &Path,
    models_dir: &Path,
) -> Result<ExitCode> {
    let started = batch::assemble::now();
    let per_file = several_files(paths);
    check_outputs(out, per_file)?;
    let approvals = match &out.approvals {
        Some(p) => Approvals::load(p)?,
        None => Approvals::default(),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, workers) = batch::default_jobs_and_workers(
        cores,
        paths.len().max(
            // Folders: their files are counted by the plan; assume many.
            if paths.iter().any(|p| p.is_dir()) {
                usize::MAX
            } else {
                paths.len()
            },
        ),
    );
    let jobs = run_plan.jobs.unwrap_or(jobs);
    let workers = run_plan.workers.unwrap_or_else(|| {
        if run_plan.jobs.is_some() {
            (cores / jobs.max(1)).max(1)
        } else {
            workers
        }
    });
    let config = BatchConfig {
        models_dir: models_dir.to_path_buf(),
        gallery: gallery_path.to_path_buf(),
        settings,
        date: today(date)?,
        ai: out.ai_severity(),
        jobs,
        workers,
        journal: run_plan.journal.clone(),
        fresh: run_plan.fresh,
        sequences: run_plan.sequences,
        shard: run_plan.shard,
        limits: run_plan.limits.resolve(jobs),
        exe: std::env::current_exe().context("cannot find the clearshot binary for its workers")?,
    };
    let interrupt =
        batch::interrupt::Interrupt::install().context("cannot install the Ctrl-C handler")?;
    let mut terminal = batch::progress::Terminal::new();
    let jsonl_to_stdout = out.jsonl.as_deref().is_some_and(batch::is_stdout);
    let mut jsonl: Option<JsonLines<Box<dyn std::io::Write>>> = match &out.jsonl {
        None => None,
        Some(p) if batch::is_stdout(p) => Some(JsonLines::new(Box::new(std::io::stdout()))),
        Some(p) => Some(JsonLines::new(Box::new(
            std::fs::File::create(p).with_context(|| format!("{}: cannot write", p.display()))?,
        ))),
    };
    let mut observers: Vec<&mut dyn batch::events::Observer> = vec![&mut terminal];
    if let Some(j) = jsonl.as_mut() {
        observers.push(j);
    }
    let mut observer = batch::events::Fanout(observers);
    let run = RunInfo {
        started,
        command_line: std::env::args().collect(),
    };
    let stop = || interrupt.requested();
    let outcome = batch::run(paths, &config, &approvals, &run, &mut observer, &stop)?;
    drop(observer);
    if let Some(e) = jsonl.and_then(|j| j.error) {
        eprintln!("clearshot: --jsonl: cannot write: {e}");
    }
    let full = outcome.report;
    if !jsonl_to_stdout {
        print!("{}", report::table::render_report(&full));
    }
    write_outputs(&full, out, per_file)?;
    let status = exit_status(&full, out.fail_on);
    let incomplete = full.incomplete;
    // The report reads its evidence images from the journal: close it before removing it.
    drop(full);
    if let (Some(j), false, false) = (&run_plan.journal, run_plan.keep_journal, incomplete) {
        if let Err(e) = batch::remove_journal(j) {
            eprintln!(
                "clearshot: warning: {}: cannot remove the finished batch's journal: {e}",
                j.display()
            );
        }
    }
    Ok(status)
}

/// 2 when inputs failed or are missing, else 1 when a finding is at or above the gate.
fn exit_status(full: &ScanReport, fail_on: FailOn) -> ExitCode {
    let worst = clearshot::scan::worst(&full.files);
    let gate = match fail_on {
        FailOn::Escalate => Some(Severity::Escalate),
        FailOn::Review => Some(Severity::Review),
        FailOn::Never => None,
    };
    if !full.failures.is_empty() || full.incomplete {
        ExitCode::from(2)
    } else if matches!((gate, worst), (Some(g), Some(w)) if w >= g) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn merge(args: MergeArgs) -> Result<ExitCode> {
    let started = batch::assemble::now();
    let out = &args.out;
    // A merge puts a batch's files back together: marker lists go one per file.
    check_outputs(out, true)?;
    let approvals = match &out.approvals {
        Some(p) => Approvals::load(p)?,
        None => Approvals::default(),
    };
    let judgement = batch::assemble::Judgement {
        date: today(args.date.as_deref())?,
        approvals: &approvals,
        approvals_path: approvals.path.clone(),
        ai: out.ai_severity(),
    };
    let run = RunInfo {
        started,
        command_line: std::env::args().collect(),
    };
    let merged = batch::merge::merge(&args.journals, &judgement, &run)?;
    for line in &merged.missing {
        eprintln!("clearshot: {line}");
    }
    let full = merged.report;
    for f in &full.failures {
        eprintln!("clearshot: {}", f.error);
    }
    let jsonl_to_stdout = out.jsonl.as_deref().is_some_and(batch::is_stdout);
    if let Some(p) = &out.jsonl {
        let sink: Box<dyn std::io::Write> = if jsonl_to_stdout {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::File::create(p)
                    .with_context(|| format!("{}: cannot write", p.display()))?,
            )
        };
        let mut j = JsonLines::new(sink);
        batch::events::replay(&full, &mut j);
        if let Some(e) = j.error {
            eprintln!("clearshot: --jsonl: cannot write: {e}");
        }
    }
    if !jsonl_to_stdout {
        print!("{}", report::table::render_report(&full));
    }
    write_outputs(&full, out, true)?;
    Ok(exit_status(&full, out.fail_on))
}

pub(crate) fn inspect(
    args: InspectArgs,
    gallery_path: &Path,
    models_dir: &Path,
) -> Result<ExitCode> {
    let info = media::probe(&args.file)?;
    let frame_of = |text: &str| -> Result<u64> {
        let tc = clearshot::timecode::Timecode::parse(text, info.frame_rate)
            .with_context(|| format!("{}: --from/--to", args.file.display()))?;
        tc.frames
            .checked_sub(info.start_timecode.frames)
            .with_context(|| {
                format!(
                    "{text} is before the file's start timecode {}",
                    info.start_timecode
                )
            })
    };
    let (a, b) = (frame_of(&args.from)?, frame_of(&args.to)?);
    if b < a {
        bail!("--to {} is before --from {}", args.to, args.from);
    }
    if let Some(n) = info.frame_count {
        if a >= n {
            bail!(
                "{}: --from {} is past the end of the file ({n} frames)",
                args.file.display(),
                args.from
            );
        }
    }
    let settings = ScanSettings {
        every_frame: true,
        range: Some((a, b)),
        fine_refs: true,
        keep_all_scores: true,
        threshold: args.threshold,
        ..ScanSettings::default()
    };
    // A spot check keeps no journal and scans its one file in one worker process.
    let run_plan = RunPlan {
        shard: None,
        keep_journal: false,
        journal: None,
        sequences: false,
        fresh: false,
        jobs: Some(1),
        workers: None,
        limits: BatchLimits::default(),
    };
    scan(
        std::slice::from_ref(&args.file),
        settings,
        args.date.as_deref(),
        &args.out,
        run_plan,
        gallery_path,
        models_dir,
    )
}

pub(crate) fn verify(report_path: &Path, models_dir: &Path) -> Result<ExitCode> {
    use clearshot::verify::FileState;
    let report = clearshot::verify::load(report_path)?;
    let checks = clearshot::verify::run(&report, Some(models_dir));
    let mut ok = true;
    for c in &checks {
        let (word, extra) = match &c.state {
            FileState::Unchanged => ("UNCHANGED", String::new()),
            FileState::Changed { now } => ("CHANGED", format!(" (sha256 now {now})")),
            FileState::Missing(e) => ("MISSING", format!(" ({e})")),
            FileState::NoHash => ("NO HASH", " (the report recorded none)".into()),
            FileState::Differs { then, now } => ("CHANGED", format!(" (was: {then}; now: {now})")),
        };
        ok &= c.state == FileState::Unchanged;
        println!("{word:<10} {:<28} {}{extra}", c.what, c.path.display());
    }
    println!(
        "{}: report of {} by clearshot {} ({} to {})",
        if ok { "verified" } else { "NOT verified" },
        report_path.display(),
        report.version,
        report.started,
        report.finished
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
