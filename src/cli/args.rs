//! The command line: every subcommand, flag and default, as clap reads them. `main.rs` turns
//! them into library calls.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clearshot::batch;
use clearshot::face::detect::HardFaces;
use std::path::PathBuf;

pub(crate) const EXIT_HELP: &str = "Exit status of `scan`: 0 no finding at or above --fail-on; 1 findings at or above \
--fail-on; 2 some inputs could not be scanned (bad media, unreadable file); 3 usage or set-up error \
(bad flags, missing models or ONNX Runtime, broken gallery or approvals file, report file exists).";

#[derive(Parser)]
#[command(
    name = "clearshot",
    version,
    about = "Scan media for registered talent likeness and third-party IP (logos, artwork, posters) and flag what needs written approval. Runs offline.",
    after_help = EXIT_HELP
)]
pub(crate) struct Cli {
    /// Gallery database of talent and references [default: $CLEARSHOT_GALLERY or ~/.local/share/clearshot/gallery.sqlite]
    #[arg(long, global = true)]
    pub(crate) gallery: Option<PathBuf>,
    /// Folder with manifest.json and the ONNX models [default: $CLEARSHOT_MODELS, models/ beside the binary, or ~/.local/share/clearshot/models]
    #[arg(long, global = true)]
    pub(crate) models: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Scan files and folders (recursively) for registered talent and references.
    #[command(after_help = EXIT_HELP)]
    Scan(Box<ScanArgs>),
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
    /// Measure grouping of unregistered faces into people on a labelled set (scripts/make_unknown_eval.py writes one).
    EvalUnknown(EvalUnknownArgs),
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
pub(crate) enum RefsCmd {
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
pub(crate) struct InspectArgs {
    /// The media file.
    pub(crate) file: PathBuf,
    /// First timecode of the range (the file's own timecode, e.g. 10:00:03:00).
    #[arg(long)]
    pub(crate) from: String,
    /// Last timecode of the range (inclusive).
    #[arg(long)]
    pub(crate) to: String,
    #[command(flatten)]
    pub(crate) out: OutputArgs,
    /// Face distance at or below which a face is a registered person [default: the embedder's].
    #[arg(long)]
    pub(crate) threshold: Option<f32>,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    pub(crate) date: Option<String>,
}

#[derive(Args, Clone)]
pub(crate) struct OutputArgs {
    /// Write the full JSON report (chain of custody, findings, evidence images) here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write one CSV row per finding here.
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// Write a CMX3600 marker-list EDL (a Resolve marker and an Avid locator per finding) here; a scan of several files writes one per file, FILE's stem + file name (markers.edl: markers.demo.mp4.edl).
    #[arg(long, value_name = "FILE")]
    pub(crate) edl: Option<PathBuf>,
    /// Write the tab-separated marker list Avid Media Composer's Markers window imports here; named per file like --edl.
    #[arg(long, value_name = "FILE")]
    pub(crate) avid_markers: Option<PathBuf>,
    /// Write an OpenTimelineIO timeline with a marker per finding here.
    #[arg(long)]
    pub(crate) otio: Option<PathBuf>,
    /// Write a self-contained HTML evidence report into this folder (index.html).
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
    /// Write one JSON record per event as it happens (file started, finding, file finished, file failed, batch finished); `-` for stdout (then no table).
    #[arg(long)]
    pub(crate) jsonl: Option<PathBuf>,
    /// Replace report files that already exist (otherwise they are never overwritten).
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Written approvals (JSON): covered findings become info, with the approval cited.
    #[arg(long)]
    pub(crate) approvals: Option<PathBuf>,
    /// Severity of a file that declares AI generation or AI editing (C2PA or XMP): `review`, or `escalate` for final deliverables (judged when the report is made: changing it rescans nothing).
    #[arg(long, value_name = "SEVERITY", default_value = "review", value_parser = ["review", "escalate"])]
    pub(crate) ai: String,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "escalate")]
    pub(crate) fail_on: FailOn,
}

#[derive(Args)]
pub(crate) struct MergeArgs {
    /// The shards' journals (every task of the array).
    #[arg(required = true)]
    pub(crate) journals: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) out: OutputArgs,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    pub(crate) date: Option<String>,
}

#[derive(Args)]
pub(crate) struct ScanArgs {
    /// Media files or folders. Folders are walked recursively for media file types.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) out: OutputArgs,
    #[command(flatten)]
    pub(crate) tune: TuneArgs,
    /// Files scanned at once, each in its own worker process [default: one per core, up to 8].
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// The batch's journal, kept (resume after a crash or kill; shards to merge) [default: $XDG_STATE_HOME/clearshot/journals/ID.sqlite, ID from the paths and the gallery, removed once the batch is complete and reported].
    #[arg(long)]
    pub(crate) journal: Option<PathBuf>,
    /// Forget what the journal holds and scan everything again.
    #[arg(long)]
    pub(crate) fresh: bool,
    /// Scan only share I of N (0-based) of the inputs, as one task of an array job; `auto` reads SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with CLEARSHOT_SHARD_COUNT. Give each shard its own --journal, then `clearshot merge` them.
    #[arg(long)]
    pub(crate) shard: Option<String>,
    /// Resident memory one file's worker may use before that file is stopped, e.g. 4G, 800M [default: 80% of RAM shared by the jobs, at most 8G].
    #[arg(long, value_parser = batch::supervisor::parse_size)]
    pub(crate) max_memory: Option<u64>,
    /// Seconds a file may go without progress before it is stopped as hung.
    #[arg(long, default_value_t = 120.0)]
    pub(crate) stall_timeout: f64,
    #[command(flatten)]
    pub(crate) unknown: UnknownArgs,
}

#[derive(Args, Clone)]
pub(crate) struct UnknownArgs {
    /// Group the faces nobody registered into people across the whole batch and report each recurring one (severity review: check for a release). Off by default: their embeddings go only into the reports asked for (see README, Unknown people).
    #[arg(long)]
    pub(crate) unknown: bool,
    /// With --unknown: report a person seen in at least this many shots...
    #[arg(long, default_value_t = 2, requires = "unknown")]
    pub(crate) unknown_min_shots: usize,
    /// ...or on screen for at least this many seconds in all.
    #[arg(long, default_value_t = 10.0, requires = "unknown")]
    pub(crate) unknown_min_seconds: f64,
}

impl UnknownArgs {
    /// The settings these flags ask for (None without --unknown).
    pub(crate) fn settings(&self) -> Option<clearshot::unknown::UnknownSettings> {
        self.unknown.then(|| clearshot::unknown::UnknownSettings {
            min_shots: self.unknown_min_shots,
            min_seconds: self.unknown_min_seconds,
            ..Default::default()
        })
    }
}

/// Resource limits from the flags, resolved once the number of jobs is known.
#[derive(Default)]
pub(crate) struct BatchLimits {
    pub(crate) max_memory: Option<u64>,
    pub(crate) stall: Option<f64>,
}

impl BatchLimits {
    pub(crate) fn resolve(&self, jobs: usize) -> batch::supervisor::Limits {
        batch::supervisor::Limits::for_machine(jobs, self.max_memory, self.stall)
    }
}

#[derive(Args, Clone)]
pub(crate) struct TuneArgs {
    /// Frames per second the models see, at least (plus first, middle and last of each shot).
    #[arg(long, default_value_t = 2.0)]
    pub(crate) sample_rate: f64,
    /// Minimum sampled frames per shot.
    #[arg(long, default_value_t = 3)]
    pub(crate) min_per_shot: u32,
    /// Face distance at or below which a face is a registered person [default: the embedder's, from the manifest].
    #[arg(long)]
    pub(crate) threshold: Option<f32>,
    /// Upper limit of the review band: a track whose faces sit consistently between the threshold and this distance of one registered person is a possible match, severity review [default: threshold + 0.10; the threshold itself turns the band off].
    #[arg(long)]
    pub(crate) review_limit: Option<f32>,
    /// Tile side for small-face detection in pixels (0: whole frame only).
    #[arg(long, default_value_t = 640)]
    pub(crate) tile: u32,
    /// Model threads in each worker process [default: the cores shared by the jobs].
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Pictures larger than this many pixels are refused before decoding (decompression bombs).
    #[arg(long, default_value_t = batch::settings::DEFAULT_MAX_PIXELS)]
    pub(crate) max_pixels: u64,
    /// Frame rate of numbered image sequences (24, 25, 23.976, 24000/1001).
    #[arg(long, default_value = "24")]
    pub(crate) seq_rate: String,
    /// Scan numbered stills (shot_0001.dpx ...) one by one instead of as one clip per sequence (e.g. a folder of camera photos).
    #[arg(long)]
    pub(crate) no_sequences: bool,
    /// Judge consent expiry on this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    pub(crate) date: Option<String>,
    /// Do not match registered references (talent only).
    #[arg(long)]
    pub(crate) no_refs: bool,
    /// Frames per second references are matched on, at most, plus the first and last sample of each shot (`inspect` matches every frame).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) ref_rate: f64,
    /// The thorough reference matcher, finding small references (background signage down to ~5% of the frame width): the default.
    #[arg(long, conflicts_with = "coarse_refs")]
    pub(crate) fine_refs: bool,
    /// The cheaper reference matcher (learned proposals at 360 px instead of 720): about half the cost of a search and less memory, but it misses references under ~10% of the frame width.
    #[arg(long)]
    pub(crate) coarse_refs: bool,
    /// When a reference check searches the whole frame: `changed` (a shot's first check, then only when the picture shows something the shot's last search did not: the camera's zoom and pan are aligned away first, and what a pan or pull-out reveals is searched once a third of the picture is new or on the shot's last check; the checks between re-verify what was found, where it is, and after a push-in what the search proposed but could not verify) or `every` (every check; `inspect` always does).
    #[arg(long, default_value = "changed", value_parser = ["changed", "every"])]
    pub(crate) ref_search: String,
    /// Where to look for hard faces (turned 90/180 degrees, ~24-128 px): `regions` takes a close, turned and enlarged look at what the usual pass found face-like, and on each shot's first sample (then one every 5 s) asks a second detector for the faces of ~56-128 px the usual pass misses; `key` adds whole-frame turned and fine passes on each shot's key frames (about one a second, several times the detection cost there); `all` on every sample; `off` not at all.
    #[arg(long, default_value = "regions", value_parser = HardFaces::NAMES)]
    pub(crate) hard_faces: String,
    /// Decode every frame in full, also the H.264/HEVC frames no other frame refers to where no sample or cut needs them (skipped by default: about half the decoding time; cuts stay frame-exact, samples fall on the first decoded frame at or after each grid point).
    #[arg(long)]
    pub(crate) decode_all: bool,
    /// PEM certificates of approved signers (a studio's own, its vendors'): content credentials they signed are reported `trusted` rather than `valid`.
    #[arg(long, value_name = "PEM")]
    pub(crate) trust_anchors: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
    Escalate,
    Review,
    Never,
}

#[derive(Subcommand)]
pub(crate) enum GalleryCmd {
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
        /// Enroll an unknown person of this JSON report (written by `scan --unknown --json`) from the embeddings it stores; needs --unknown.
        #[arg(long, requires = "unknown", conflicts_with = "files")]
        from_report: Option<PathBuf>,
        /// The unknown person's id in that report (U1, U2, ...).
        #[arg(long, requires = "from_report")]
        unknown: Option<String>,
        /// Reference photos (one face each) and video clips (one person; at most 4 samples per second and 300 per clip).
        #[arg(required_unless_present = "from_report")]
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
pub(crate) struct EvalArgs {
    /// labels.json (see ../shared/eval/README.md for the format).
    pub(crate) labels: PathBuf,
    /// Face distance threshold to report on [default: the embedder's].
    #[arg(long)]
    pub(crate) threshold: Option<f32>,
}

#[derive(Args)]
pub(crate) struct EvalVideoArgs {
    /// labels.json of the video set (gallery, clips and their labelled shots).
    pub(crate) labels: PathBuf,
    /// Write the per-shot results and totals as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Exit 1 when fewer registered appearances than this are found or flagged possible.
    #[arg(long)]
    pub(crate) min_hits: Option<usize>,
    /// Exit 1 when false identities plus false review flags exceed this.
    #[arg(long, default_value_t = 0)]
    pub(crate) max_false: usize,
}

#[derive(Args)]
pub(crate) struct EvalUnknownArgs {
    /// labels.json of the set (clips, and the faces put in each shot).
    pub(crate) labels: PathBuf,
    /// Link distances to try (comma-separated) [default: the scan's].
    #[arg(long, value_delimiter = ',')]
    pub(crate) link: Vec<f32>,
    /// Centre distances to try (comma-separated) [default: the scan's].
    #[arg(long, value_delimiter = ',')]
    pub(crate) merge: Vec<f32>,
    /// Attach distances to try (comma-separated) [default: the scan's].
    #[arg(long, value_delimiter = ',')]
    pub(crate) attach: Vec<f32>,
    /// Completeness counts the recurring people's faces of at least this width, pixels.
    #[arg(long, default_value_t = 60)]
    pub(crate) min_face_px: u32,
    /// Print each reported person's appearances (as labelled), and each missed appearance.
    #[arg(long)]
    pub(crate) details: bool,
    /// Where the scans spend the passes for hard faces, as `scan --hard-faces`.
    #[arg(long, default_value = "regions", value_parser = HardFaces::NAMES)]
    pub(crate) hard_faces: String,
    /// Write the results as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Exit 1 when purity (share of people that are one identity) is below this fraction.
    #[arg(long)]
    pub(crate) min_purity: Option<f64>,
    /// Exit 1 when completeness is below this fraction.
    #[arg(long)]
    pub(crate) min_completeness: Option<f64>,
}
