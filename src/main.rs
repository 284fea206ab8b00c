//! The clearshot command line: flags in, library calls, reports out.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clearshot::approvals::Approvals;
use clearshot::batch::{self, events::JsonLines, settings::ScanSettings, BatchConfig, RunInfo};
use clearshot::enroll;
use clearshot::face::detect::HardFaces;
use clearshot::gallery::{ConsentRecord, Gallery, RefRecord, TalentPoses};
use clearshot::ipmatch::MatchConfig;
use clearshot::media;
use clearshot::models;
use clearshot::policy::Severity;
use clearshot::report::{self, ScanReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXIT_HELP: &str = "Exit status of `scan`: 0 no finding at or above --fail-on; 1 findings at or above \
--fail-on; 2 some inputs could not be scanned (bad media, unreadable file); 3 usage or set-up error \
(bad flags, missing models or ONNX Runtime, broken gallery or approvals file, report file exists).";

#[derive(Parser)]
#[command(
    name = "clearshot",
    version,
    about = "Scan media for registered talent likeness and third-party IP (logos, artwork, posters) and flag what needs written approval. Runs offline.",
    after_help = EXIT_HELP
)]
struct Cli {
    /// Gallery database of talent and references [default: $CLEARSHOT_GALLERY or ~/.local/share/clearshot/gallery.sqlite]
    #[arg(long, global = true)]
    gallery: Option<PathBuf>,
    /// Folder with manifest.json and the ONNX models [default: $CLEARSHOT_MODELS, models/ beside the binary, or ~/.local/share/clearshot/models]
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Scan files and folders (recursively) for registered talent and references.
    #[command(after_help = EXIT_HELP)]
    Scan(ScanArgs),
    /// Manage the talent gallery (biometric data: stays on this machine, file mode 0600).
    #[command(subcommand)]
    Gallery(GalleryCmd),
    /// Manage the reference gallery: owned, licensed and third-party logos, artwork, characters, products, photos.
    #[command(subcommand)]
    Refs(RefsCmd),
    /// Spot-check one range of one file: every frame, every face, every gallery distance.
    #[command(after_help = EXIT_HELP)]
    Inspect(InspectArgs),
    /// Build one batch's reports from the journals of its shards (`scan --shard I/N --journal J`).
    #[command(after_help = EXIT_HELP)]
    Merge(MergeArgs),
    /// A worker process of a batch (started by `scan` itself; speaks JSON lines on stdin/stdout).
    #[command(hide = true)]
    Worker,
    /// Re-hash the files (and models) a JSON report names; exit 0 when all are unchanged.
    Verify {
        /// A JSON report written by `scan --json` or `inspect --json`.
        report: PathBuf,
    },
    /// Measure identification on a labelled photo set (labels.json: gallery + queries).
    Eval(EvalArgs),
    /// Measure identification on a labelled video set (scripts/make_face_video_eval.py writes one).
    EvalVideo(EvalVideoArgs),
    /// Measure reference matching on a labelled scene set (scripts/make_ip_eval.py writes one).
    EvalRefs {
        /// labels.json with references and scenes.
        labels: PathBuf,
        /// Keypoints only: skip the learned tile proposals.
        #[arg(long)]
        no_tiles: bool,
        /// The thorough matcher of `scan --fine-refs` and `inspect`.
        #[arg(long)]
        fine: bool,
        /// Print every miss too (false alarms are always printed).
        #[arg(long)]
        details: bool,
        /// Exit 1 when inset recall is below this fraction (a regression gate).
        #[arg(long)]
        min_inset_recall: Option<f64>,
        /// Exit 1 when there are more false alarms than this.
        #[arg(long)]
        max_false_alarms: Option<usize>,
    },
}

#[derive(Subcommand)]
enum RefsCmd {
    /// Enroll a reference from one or more images (PNG transparency: only the opaque part counts).
    Add {
        /// The reference's name (unique).
        #[arg(long)]
        name: String,
        /// What it is.
        #[arg(long, value_parser = ["logo", "artwork", "character", "product", "photo"])]
        kind: String,
        /// Who holds the rights.
        #[arg(long)]
        owner: String,
        /// owned and licensed are recorded (info); third-party blocks delivery (escalate).
        #[arg(long, value_parser = ["owned", "licensed", "third-party"])]
        status: String,
        /// The licence (contract or reference number), cited in reports.
        #[arg(long)]
        licence_ref: Option<String>,
        /// Add images to / change the record of a reference already enrolled.
        #[arg(long)]
        update: bool,
        /// Reference images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// List enrolled references and their rights records.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a reference and its images' data.
    Remove {
        /// The reference's name.
        name: String,
    },
}

#[derive(Args)]
struct InspectArgs {
    /// The media file.
    file: PathBuf,
    /// First timecode of the range (the file's own timecode, e.g. 10:00:03:00).
    #[arg(long)]
    from: String,
    /// Last timecode of the range (inclusive).
    #[arg(long)]
    to: String,
    #[command(flatten)]
    out: OutputArgs,
    /// Face distance at or below which a face is a registered person [default: the embedder's].
    #[arg(long)]
    threshold: Option<f32>,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    date: Option<String>,
}

#[derive(Args, Clone)]
struct OutputArgs {
    /// Write the full JSON report (chain of custody, findings, evidence images) here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write one CSV row per finding here.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write a CMX3600 marker-list EDL (a Resolve marker and an Avid locator per finding) here; a scan of several files writes one per file, FILE's stem + file name (markers.edl: markers.demo.mp4.edl).
    #[arg(long, value_name = "FILE")]
    edl: Option<PathBuf>,
    /// Write the tab-separated marker list Avid Media Composer's Markers window imports here; named per file like --edl.
    #[arg(long, value_name = "FILE")]
    avid_markers: Option<PathBuf>,
    /// Write an OpenTimelineIO timeline with a marker per finding here.
    #[arg(long)]
    otio: Option<PathBuf>,
    /// Write a self-contained HTML evidence report into this folder (index.html).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write one JSON record per event as it happens (file started, finding, file finished, file failed, batch finished); `-` for stdout (then no table).
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// Replace report files that already exist (otherwise they are never overwritten).
    #[arg(long)]
    overwrite: bool,
    /// Written approvals (JSON): covered findings become info, with the approval cited.
    #[arg(long)]
    approvals: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "escalate")]
    fail_on: FailOn,
}

#[derive(Args)]
struct MergeArgs {
    /// The shards' journals (every task of the array).
    #[arg(required = true)]
    journals: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    date: Option<String>,
}

#[derive(Args)]
struct ScanArgs {
    /// Media files or folders. Folders are walked recursively for media file types.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    tune: TuneArgs,
    /// Files scanned at once, each in its own worker process [default: one per core, up to 8].
    #[arg(long)]
    jobs: Option<usize>,
    /// The batch's journal, kept (resume after a crash or kill; shards to merge) [default: $XDG_STATE_HOME/clearshot/journals/ID.sqlite, ID from the paths and the gallery, removed once the batch is complete and reported].
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Forget what the journal holds and scan everything again.
    #[arg(long)]
    fresh: bool,
    /// Scan only share I of N (0-based) of the inputs, as one task of an array job; `auto` reads SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with CLEARSHOT_SHARD_COUNT. Give each shard its own --journal, then `clearshot merge` them.
    #[arg(long)]
    shard: Option<String>,
    /// Resident memory one file's worker may use before that file is stopped, e.g. 4G, 800M [default: 80% of RAM shared by the jobs, at most 8G].
    #[arg(long, value_parser = batch::supervisor::parse_size)]
    max_memory: Option<u64>,
    /// Seconds a file may go without progress before it is stopped as hung.
    #[arg(long, default_value_t = 120.0)]
    stall_timeout: f64,
}

/// Resource limits from the flags, resolved once the number of jobs is known.
#[derive(Default)]
struct BatchLimits {
    max_memory: Option<u64>,
    stall: Option<f64>,
}

impl BatchLimits {
    fn resolve(&self, jobs: usize) -> batch::supervisor::Limits {
        batch::supervisor::Limits::for_machine(jobs, self.max_memory, self.stall)
    }
}

#[derive(Args, Clone)]
struct TuneArgs {
    /// Frames per second the models see, at least (plus first, middle and last of each shot).
    #[arg(long, default_value_t = 2.0)]
    sample_rate: f64,
    /// Minimum sampled frames per shot.
    #[arg(long, default_value_t = 3)]
    min_per_shot: u32,
    /// Face distance at or below which a face is a registered person [default: the embedder's, from the manifest].
    #[arg(long)]
    threshold: Option<f32>,
    /// Upper limit of the review band: a track whose faces sit consistently between the threshold and this distance of one registered person is a possible match, severity review [default: threshold + 0.10; the threshold itself turns the band off].
    #[arg(long)]
    review_limit: Option<f32>,
    /// Tile side for small-face detection in pixels (0: whole frame only).
    #[arg(long, default_value_t = 640)]
    tile: u32,
    /// Model threads in each worker process [default: the cores shared by the jobs].
    #[arg(long)]
    workers: Option<usize>,
    /// Pictures larger than this many pixels are refused before decoding (decompression bombs).
    #[arg(long, default_value_t = batch::settings::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Frame rate of numbered image sequences (24, 25, 23.976, 24000/1001).
    #[arg(long, default_value = "24")]
    seq_rate: String,
    /// Scan numbered stills (shot_0001.dpx ...) one by one instead of as one clip per sequence (e.g. a folder of camera photos).
    #[arg(long)]
    no_sequences: bool,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    date: Option<String>,
    /// Do not match registered references (talent only).
    #[arg(long)]
    no_refs: bool,
    /// Frames per second references are matched on, at most, plus the first and last sample of each shot (`inspect` matches every frame).
    #[arg(long, default_value_t = 1.0)]
    ref_rate: f64,
    /// Look harder for small references (background signage down to ~5% of the frame width), at about twice the reference-matching cost (`inspect` always does).
    #[arg(long)]
    fine_refs: bool,
    /// Where to look for hard faces (turned 90/180 degrees, ~24-40 px): `regions` takes a close, turned and enlarged look at what the usual pass found face-like; `key` adds whole-frame turned and fine passes on each shot's key frames (about one a second, several times the detection cost there); `all` on every sample; `off` not at all.
    #[arg(long, default_value = "regions", value_parser = HardFaces::NAMES)]
    hard_faces: String,
    /// Decode every frame in full, also the H.264/HEVC frames no other frame refers to where no sample or cut needs them (skipped by default: about half the decoding time; cuts stay frame-exact, samples fall on the first decoded frame at or after each grid point).
    #[arg(long)]
    decode_all: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Escalate,
    Review,
    Never,
}

#[derive(Subcommand)]
enum GalleryCmd {
    /// Enroll a person from photos that each show exactly one face, and from video clips of them (sampled; a few of the sharpest faces per pose are kept).
    Add {
        /// The person's name (unique).
        #[arg(long)]
        name: String,
        /// Their consent to the use of their likeness.
        #[arg(long, value_parser = ["granted", "denied", "unknown"])]
        consent: String,
        /// What the consent covers.
        #[arg(long)]
        scope: Option<String>,
        /// Last day the consent is valid (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
        /// Add photos to / change the consent record of someone already enrolled.
        #[arg(long)]
        update: bool,
        /// Do not keep the 150 px aligned face chip used as the reference image in evidence reports.
        #[arg(long)]
        no_chip: bool,
        /// Reference photos (one face each) and video clips (one person; at most 4 samples per second and 300 per clip).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List enrolled people and their consent records.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a person and their embeddings.
    Remove {
        /// The person's name.
        name: String,
    },
}

#[derive(Args)]
struct EvalArgs {
    /// labels.json (see ../shared/eval/README.md for the format).
    labels: PathBuf,
    /// Face distance threshold to report on [default: the embedder's].
    #[arg(long)]
    threshold: Option<f32>,
}

#[derive(Args)]
struct EvalVideoArgs {
    /// labels.json of the video set (gallery, clips and their labelled shots).
    labels: PathBuf,
    /// Write the per-shot results and totals as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit 1 when fewer registered appearances than this are found or flagged possible.
    #[arg(long)]
    min_hits: Option<usize>,
    /// Exit 1 when false identities plus false review flags exceed this.
    #[arg(long, default_value_t = 0)]
    max_false: usize,
}

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
            let settings = settings(&args.tune)?;
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
        fine_refs: t.fine_refs,
        decode_all: t.decode_all,
        hard_faces: HardFaces::parse(&t.hard_faces).map_err(anyhow::Error::msg)?,
        max_pixels: t.max_pixels,
        seq_rate: batch::settings::parse_rate(&t.seq_rate).map_err(anyhow::Error::msg)?,
        ..ScanSettings::default()
    })
}

impl OutputArgs {
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
        print!("{}", report::table::render(&full.files, &full.failures));
    }
    write_outputs(&full, out, per_file)?;
    if let (Some(j), false, false) = (&run_plan.journal, run_plan.keep_journal, full.incomplete) {
        if let Err(e) = batch::remove_journal(j) {
            eprintln!(
                "clearshot: warning: {}: cannot remove the finished batch's journal: {e}",
                j.display()
            );
        }
    }
    Ok(exit_status(&full, out.fail_on))
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
        print!("{}", report::table::render(&full.files, &full.failures));
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

fn gallery(cmd: GalleryCmd, path: &Path, models_dir: &Path) -> Result<ExitCode> {
    match cmd {
        GalleryCmd::Add {
            name,
            consent,
            scope,
            expires,
            update,
            no_chip,
            files,
        } => {
            let record = ConsentRecord {
                consent: consent.parse()?,
                scope,
                expires,
            };
            if let Some(e) = &record.expires {
                clearshot::gallery::parse_date(e)?;
            }
            let mut scanner = enroll::single_worker_scanner(models_dir, None)?;
            let limits = enroll::ClipLimits::default();
            let enrolled = enroll::talent_files(&mut scanner, &files, !no_chip, &limits)?;
            let faces: Vec<_> = enrolled
                .into_iter()
                .flat_map(|e| {
                    println!("{e}");
                    e.faces
                })
                .collect();
            let mut g = Gallery::open_or_create(path)?;
            let emb = &scanner.models.embedder;
            g.add(&name, &record, &emb.name, &emb.entry.sha256, &faces, update)?;
            println!(
                "enrolled {name} ({} face{} from {} file{}, consent {}) in {}",
                faces.len(),
                if faces.len() == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                record.consent,
                path.display()
            );
        }
        GalleryCmd::List { json } => {
            let g = Gallery::open(path)?;
            let t = g.talent_poses()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!(
                    "{:<24} {:<8} {:<11} {:<6} {:<7} {:<5} {:<7} SCOPE",
                    "NAME", "CONSENT", "EXPIRES", "FACES", "FRONTAL", "3/4", "PROFILE"
                );
                for TalentPoses { talent: p, poses } in &t {
                    println!(
                        "{:<24} {:<8} {:<11} {:<6} {:<7} {:<5} {:<7} {}",
                        p.name,
                        p.consent.consent,
                        p.consent.expires.as_deref().unwrap_or("-"),
                        p.photos,
                        poses.frontal,
                        poses.three_quarter,
                        poses.profile,
                        p.consent.scope.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        GalleryCmd::Remove { name } => {
            let mut g = Gallery::open(path)?;
            g.remove(&name)?;
            println!("removed {name} from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn refs(cmd: RefsCmd, path: &Path, models_dir: &Path) -> Result<ExitCode> {
    match cmd {
        RefsCmd::Add {
            name,
            kind,
            owner,
            status,
            licence_ref,
            update,
            images,
        } => {
            let record = RefRecord {
                kind,
                owner,
                status: status.parse()?,
                licence_ref,
            };
            if record.status == clearshot::gallery::RefStatus::Licensed
                && record.licence_ref.is_none()
            {
                eprintln!(
                    "clearshot: warning: licensed reference '{name}' has no --licence-ref to cite"
                );
            }
            let mut matcher = enroll::ip_matcher(models_dir, MatchConfig::default())?;
            let enrolled = enroll::reference_images(&mut matcher, &name, &images)?;
            let mut g = Gallery::open_or_create(path)?;
            g.add_reference(&name, &record, &enrolled, update)?;
            println!(
                "enrolled {name} ({} image{}, {} {}, owner {}) in {}",
                enrolled.len(),
                if enrolled.len() == 1 { "" } else { "s" },
                record.status,
                record.kind,
                record.owner,
                path.display()
            );
        }
        RefsCmd::List { json } => {
            let g = Gallery::open(path)?;
            let list = g.references(None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<10} {:<12} {:<20} {:<6} LICENCE",
                    "NAME", "KIND", "STATUS", "OWNER", "IMAGES"
                );
                for r in &list {
                    println!(
                        "{:<24} {:<10} {:<12} {:<20} {:<6} {}",
                        r.name,
                        r.record.kind,
                        r.record.status,
                        r.record.owner,
                        r.images,
                        r.record.licence_ref.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        RefsCmd::Remove { name } => {
            let mut g = Gallery::open(path)?;
            g.remove_reference(&name)?;
            println!("removed reference {name} from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn eval_refs(
    labels: &Path,
    config: MatchConfig,
    details: bool,
    (min_recall, max_fa): (Option<f64>, Option<usize>),
    models_dir: &Path,
) -> Result<ExitCode> {
    let mut matcher = enroll::ip_matcher(models_dir, config)?;
    let mut summary = clearshot::ipmatch::eval::run(labels, &mut matcher, 0)?;
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
