//! The clearshot command line: flags in, library calls, reports out.

use anyhow::{bail, Context, Result};
use clap::Parser;
use clearshot::approvals::Approvals;
use clearshot::batch::{self, events::JsonLines, settings::ScanSettings, BatchConfig, RunInfo};
use clearshot::enroll;
use clearshot::face::detect::HardFaces;
use clearshot::media;
use clearshot::models;
use clearshot::policy::Severity;
use clearshot::references::MatchConfig;
use clearshot::report::{self, ScanReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cli;
use cli::args::*;
use cli::library::{gallery, refs};

fn main() -> ExitCode {
    // clap exits 2 on a usage error, which here means "some inputs could not be scanned":
    // usage errors are 3, as documented; --help and --version are 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clearshot: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    media::init();
    let gallery_path = cli
        .gallery
        .clone()
        .unwrap_or_else(clearshot::paths::default_gallery);
    let models_dir = cli.models.clone().unwrap_or_else(models::default_dir);
    match cli.cmd {
        Cmd::Scan(args) => {
            let args = *args;
            let settings = ScanSettings {
                unknown: args.unknown.settings(),
                ..settings(&args.tune)?
            };
            let keep_journal = args.journal.is_some();
            let journal = match args.journal {
                Some(j) => j,
                None => batch::default_journal(&args.paths, &gallery_path),
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
                &gallery_path,
                &models_dir,
            )
        }
        Cmd::Merge(args) => merge(args),
        Cmd::Worker => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            batch::worker::serve(stdin.lock(), stdout.lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Inspect(args) => inspect(args, &gallery_path, &models_dir),
        Cmd::Verify { report } => verify(&report, &models_dir),
        Cmd::Gallery(cmd) => gallery(cmd, &gallery_path, &models_dir),
        Cmd::Refs(cmd) => refs(cmd, &gallery_path, &models_dir),
        Cmd::Eval(args) => clearshot_eval(args, &models_dir),
        Cmd::EvalVideo(args) => eval_video(args, &models_dir),
        Cmd::EvalUnknown(args) => eval_unknown(args, &models_dir),
        Cmd::EvalRefs {
            labels,
            no_tiles,
            fine,
            details,
            min_inset_recall,
            max_false_alarms,
        } => {
            let gate = (min_inset_recall, max_false_alarms);
            let config = MatchConfig {
                tiles: !no_tiles,
                ..if fine {
                    MatchConfig::fine()
                } else {
                    MatchConfig::default()
                }
            };
            eval_refs(&labels, config, details, gate, &models_dir)
        }
    }
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

fn merge(args: MergeArgs) -> Result<ExitCode> {
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

fn inspect(args: InspectArgs, gallery_path: &Path, models_dir: &Path) -> Result<ExitCode> {
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

fn verify(report_path: &Path, models_dir: &Path) -> Result<ExitCode> {
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

fn clearshot_eval(args: EvalArgs, models_dir: &Path) -> Result<ExitCode> {
    let mut scanner = enroll::single_worker_scanner(models_dir, args.threshold)?;
    let summary = clearshot::eval::run(&mut scanner, &args.labels, &mut |line| println!("{line}"))?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

fn eval_video(args: EvalVideoArgs, models_dir: &Path) -> Result<ExitCode> {
    let models = enroll::load_models(models_dir)?;
    let result = clearshot::eval::video::run(models, &args.labels, &mut |line| println!("{line}"))?;
    print!("{}", clearshot::eval::video::table(&result));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, text + "\n").with_context(|| format!("{}", path.display()))?;
    }
    let all = result.overall;
    let mut ok = true;
    if let Some(min) = args.min_hits {
        if all.hits() < min {
            println!(
                "FAIL: {} of {} registered appearances found or possible, at least {min} required",
                all.hits(),
                all.expected
            );
            ok = false;
        }
    }
    if all.false_total() > args.max_false {
        println!(
            "FAIL: {} false identities and {} false review flags, at most {} allowed",
            all.false_identities, all.false_review_flags, args.max_false
        );
        ok = false;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn eval_unknown(args: EvalUnknownArgs, models_dir: &Path) -> Result<ExitCode> {
    use clearshot::eval::unknown;
    let models = enroll::load_models(models_dir)?;
    let metric = models.embedder_spec().metric;
    let (labels, files) = unknown::scan(models, &args.labels)?;
    let base = clearshot::unknown::UnknownSettings::default();
    let or_base = |v: &[f32], d: f32| if v.is_empty() { vec![d] } else { v.to_vec() };
    let c = base.cluster;
    let mut combos = Vec::new();
    for link in or_base(&args.link, c.link) {
        for merge in or_base(&args.merge, c.merge) {
            for attach in or_base(&args.attach, c.attach) {
                combos.push((link, merge, attach));
            }
        }
    }
    let mut results = Vec::new();
    let mut ok = true;
    {
        for (link, merge, attach) in combos {
            let mut s = base;
            s.cluster.link = link;
            s.cluster.merge = merge;
            s.cluster.attach = attach;
            s.validate().map_err(anyhow::Error::msg)?;
            let r = unknown::score(&labels, &files, &s, metric, args.min_face_px);
            if args.details {
                for (id, apps) in &r.detail {
                    println!("{id}: {}", apps.join(", "));
                }
            }
            println!("{}: {}", labels.split, r.summary(args.min_face_px));
            if args.min_purity.is_some_and(|m| r.purity() < m) {
                println!(
                    "FAIL: purity {:.3} is below {:?}",
                    r.purity(),
                    args.min_purity
                );
                ok = false;
            }
            if args.min_completeness.is_some_and(|m| r.completeness() < m) {
                println!(
                    "FAIL: completeness {:.3} is below {:?}",
                    r.completeness(),
                    args.min_completeness
                );
                ok = false;
            }
            results.push(r);
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, text + "\n").with_context(|| format!("{}", path.display()))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn eval_refs(
    labels: &Path,
    config: MatchConfig,
    details: bool,
    (min_recall, max_fa): (Option<f64>, Option<usize>),
    models_dir: &Path,
) -> Result<ExitCode> {
    // One matcher per core: the scenes are independent.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut matchers = (0..cores)
        .map(|_| enroll::ip_matcher(models_dir, config.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = clearshot::references::eval::run(labels, &mut matchers, 0)?;
    if !details {
        summary.missed_details.clear();
    }
    print!("{}", summary.to_text());
    let inset = summary.by_scene_kind.get("inset");
    let recall = inset.map_or(0.0, |t| t.found as f64 / t.truth.max(1) as f64);
    let mut ok = true;
    if let Some(want) = min_recall {
        if recall < want {
            println!("FAIL: inset recall {recall:.3} is below {want}");
            ok = false;
        }
    }
    if let Some(max) = max_fa {
        if summary.false_alarms > max {
            println!(
                "FAIL: {} false alarms, at most {max} allowed",
                summary.false_alarms
            );
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
