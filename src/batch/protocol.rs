//! What the supervising process and a worker process say to each other: one JSON object
//! per line, over the worker's stdin and stdout (pipes only, no network). The one thing on
//! disk is the evidence images, which wait in the spill file a request names (private,
//! beside the journal) so that neither process holds a long file's images in memory.
//!
//! The supervisor first sends a [`WorkerConfig`]; the worker loads its models and answers
//! [`Reply::Ready`]. Then for each [`Request`] the worker answers `started`, `progress` now
//! and then, and one `done` or `failed`. The worker exits when its stdin closes.

use super::plan::Input;
use super::settings::ScanSettings;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a worker process scans with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Models folder.
    pub models_dir: PathBuf,
    /// Gallery database (opened read only).
    pub gallery: PathBuf,
    /// Scan settings.
    pub settings: ScanSettings,
    /// The date consent is judged on (YYYY-MM-DD).
    pub date: String,
    /// Model threads.
    pub workers: usize,
    /// The supervisor's run key: the worker refuses to scan if its own differs (the gallery
    /// or the models changed since the batch started).
    pub run_key: String,
}

/// One input to scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The supervisor's job number.
    pub job: usize,
    /// What to scan.
    pub input: Input,
    /// The file to write evidence images to (`None`: keep them in the report).
    #[serde(default)]
    pub spill: Option<PathBuf>,
}

/// A worker's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Models loaded; waiting for requests.
    Ready,
    /// The input is open.
    Started {
        /// Job number.
        job: usize,
        /// Frames in it, when known.
        frames: Option<u64>,
    },
    /// Frames decoded so far.
    Progress {
        /// Job number.
        job: usize,
        /// Frames decoded.
        decoded: u64,
    },
    /// Scanned: the file report, as JSON.
    Done {
        /// Job number.
        job: usize,
        /// The [`crate::report::FileReport`], kept as the worker wrote it.
        report: Box<serde_json::value::RawValue>,
        /// Seconds the scan took inside the worker.
        seconds: f64,
    },
    /// The input could not be scanned (bad media, unreadable file): the one-line cause.
    Failed {
        /// Job number.
        job: usize,
        /// Cause, naming the file.
        error: String,
    },
}
