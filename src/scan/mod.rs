//! The scan: one decoder thread streams sampled frames through small bounded queues to worker
//! threads (each owning its own detector and embedder sessions): each shot's samples to one
//! worker, in order, so it can follow the faces from sample to sample, and check references
//! on the samples the pacer marks, searching the whole frame only when the shot shows
//! something its last search did not (`refgate`). Their observations are grouped into shots,
//! tracks and findings. Memory is bounded by the queues, whatever the length of the video.
//!
//! Files: `worker` (one thread's models: faces, references), `pacer` (which samples
//! references are checked on and which look on the whole grid; the frame sink and its
//! routing), `refgate` (when a reference check searches), `findings` (shots, tracks and
//! findings from what the workers saw).

mod findings;
mod held;
mod pacer;
pub mod refgate;
mod worker;

use findings::{collect, Collected, EvidenceGate, FrameResult};
use held::Held;
use pacer::{Job, RefPacer, Sink};
pub use refgate::RefGate;
pub use worker::{RefHit, RefSet, Worker};

use crate::face::detect::DetectOptions;
use crate::face::matching::Matcher;
use crate::face::track::Observation;
use crate::gallery::Talent;
use crate::media::{self, Input, MediaError, SamplingOptions};
use crate::models::ModelSet;
use crate::policy::Severity;
use crate::references::{IpError, MatchConfig};
use crate::report::{FileReport, SequenceRecord};
use crate::runtime::RuntimeError;
use crossbeam_channel::{bounded, unbounded};
use std::path::{Path, PathBuf};
use time::Date;

/// Hears how a file's scan goes (progress bars, the worker process's reports).
pub trait ScanProgress {
    /// The file is open: what it is (frame count, duration).
    fn started(&mut self, _info: &media::MediaInfo) {}
    /// Frames decoded so far.
    fn decoded(&mut self, _frames: u64) {}
}

/// Nobody listens.
impl ScanProgress for () {}

/// Why one file could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Decoding failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A model failed.
    #[error("{path}: {source}")]
    Model {
        /// File being scanned.
        path: PathBuf,
        /// Cause.
        source: WorkerError,
    },
}

/// Why a worker could not load its models or analyse a frame.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// ONNX Runtime (face models).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The reference matcher or its embedder.
    #[error(transparent)]
    Ip(#[from] IpError),
    /// The evidence spill file could not be made.
    #[error("cannot make the evidence spill file {0}")]
    Spill(String),
}
/// Settings for a scan, validated once before any work.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Frame sampling and shot detection.
    pub sampling: SamplingOptions,
    /// Face detection.
    pub detect: DetectOptions,
    /// Worker threads running the models.
    pub workers: usize,
    /// Distance at or below which a face is a registered person (default: the manifest's).
    pub threshold: Option<f32>,
    /// Upper limit of the review band (possible matches); None: the threshold plus
    /// [`crate::face::matching::DEFAULT_REVIEW_BAND`]. Equal to the threshold: no band.
    pub review_limit: Option<f32>,
    /// The date consent expiry is judged against.
    pub today: Date,
    /// Keep every gallery distance of every face (spot-check mode).
    pub keep_all_scores: bool,
    /// Match registered references (logos, artwork, ...) on the sampled frames.
    pub references: bool,
    /// Sampled frames per second references are matched on, at most (plus each shot's
    /// first and last sample; every sample in every-frame mode).
    pub ref_per_second: f64,
    /// Reference matcher settings.
    pub ip: MatchConfig,
    /// When a check searches a shot again (None: every check searches the whole frame).
    pub ref_gate: Option<RefGate>,
    /// Frame rate of numbered image sequences.
    pub seq_rate: crate::timecode::FrameRate,
    /// How content credentials are read (trust anchors).
    pub provenance: crate::provenance::ProvenanceOptions,
    /// Keep the tracks that match nobody (embeddings and a crop) for grouping across the
    /// batch (`scan --unknown`).
    pub unknown: bool,
}

impl ScanOptions {
    /// Defaults for this machine and date.
    pub fn new(today: Date) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            sampling: SamplingOptions::default(),
            detect: DetectOptions::default(),
            workers: cores.max(1),
            threshold: None,
            review_limit: None,
            today,
            keep_all_scores: false,
            references: true,
            ref_per_second: 1.0,
            ip: MatchConfig::default(),
            ref_gate: Some(RefGate::default()),
            seq_rate: crate::timecode::FrameRate { num: 24, den: 1 },
            provenance: crate::provenance::ProvenanceOptions::default(),
            unknown: false,
        }
    }

    /// Rejects settings that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        self.sampling.validate().map_err(|e| e.to_string())?;
        self.detect.validate()?;
        if !(self.ref_per_second > 0.0 && self.ref_per_second.is_finite()) {
            return Err(format!(
                "reference rate must be a positive number of frames per second, got {}",
                self.ref_per_second
            ));
        }
        if let Some(g) = &self.ref_gate {
            g.validate()?;
        }
        if self.workers == 0 || self.workers > 256 {
            return Err(format!("workers must be 1..=256, got {}", self.workers));
        }
        if let Some(t) = self.threshold {
            if !(t > 0.0 && t.is_finite()) {
                return Err(format!("threshold must be a positive number, got {t}"));
            }
        }
        if let Some(r) = self.review_limit {
            if !(r > 0.0 && r.is_finite()) || self.threshold.is_some_and(|t| r < t) {
                return Err(format!(
                    "review limit must be a distance at or above the threshold, got {r}"
                ));
            }
        }
        Ok(())
    }
}

/// Everything a scan needs that is built once for a batch.
pub struct Scanner {
    /// Models in use.
    pub models: ModelSet,
    /// Settings.
    pub opts: ScanOptions,
    /// Registered people (consent records and embeddings).
    pub talent: Vec<Talent>,
    /// Registered references (rights records and enrollment data).
    pub refs: RefSet,
    matcher: Matcher,
    workers: Vec<Worker>,
    /// Where the next scan puts its evidence images until its report is stored.
    spill: Option<PathBuf>,
}

impl Scanner {
    /// Loads the models once per worker and prepares the matchers. The reference matcher
    /// is loaded when `opts.references` is set and there are references (or `always_ip`,
    /// for enrolling them).
    pub fn new(
        models: ModelSet,
        opts: ScanOptions,
        talent: Vec<Talent>,
        refs: RefSet,
    ) -> Result<Self, WorkerError> {
        Self::with_ip(models, opts, talent, refs, false)
    }

    /// As [`Scanner::new`]; `always_ip` loads the reference matcher even with no references.
    pub fn with_ip(
        models: ModelSet,
        opts: ScanOptions,
        talent: Vec<Talent>,
        refs: RefSet,
        always_ip: bool,
    ) -> Result<Self, WorkerError> {
        let spec = models.embedder_spec().clone();
        let threshold = opts.threshold.unwrap_or(spec.match_threshold);
        let matcher = Matcher::new(&talent, spec.metric, threshold).with_review_limit(
            opts.review_limit
                .unwrap_or(threshold + crate::face::matching::DEFAULT_REVIEW_BAND),
        );
        let ip = (always_ip || (opts.references && !refs.is_empty())).then_some(&opts.ip);
        // Each worker's model sessions in its own thread: creating a session is mostly
        // ONNX Runtime's graph optimisation, ~0.2 s a worker, which would otherwise come one
        // after another before the first frame.
        let workers = std::thread::scope(|s| {
            let loading: Vec<_> = (0..opts.workers)
                .map(|_| {
                    s.spawn(|| {
                        Worker::load(&models, &opts.detect, ip).map(|mut w| {
                            w.unknown_crops = opts.unknown;
                            w
                        })
                    })
                })
                .collect();
            loading
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(Self {
            models,
            opts,
            talent,
            refs,
            matcher,
            workers,
            spill: None,
        })
    }

    /// Makes the next scan write its evidence images to a new file at `path` (the worker
    /// process's spill file, see [`crate::evidence::Spill`]) instead of keeping them in its
    /// report; `None` keeps them inline.
    pub fn spill_evidence_to(&mut self, path: Option<PathBuf>) {
        self.spill = path;
    }

    /// True when this scan matches references.
    pub fn matches_references(&self) -> bool {
        self.workers.first().is_some_and(|w| w.ip.is_some()) && !self.refs.is_empty()
    }

    /// The matcher (names and threshold).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Faces in a single picture (for enrolling and evaluation).
    pub fn analyse_image(
        &mut self,
        img: &image::RgbImage,
    ) -> Result<Vec<Observation>, RuntimeError> {
        let matcher = &self.matcher;
        // Scanner::new always loads at least one worker (validated workers >= 1).
        let Some(w) = self.workers.first_mut() else {
            return Ok(Vec::new());
        };
        w.analyse(0, img, matcher, true)
    }

    /// Embeds the faces of one picture with the first worker.
    pub fn worker(&mut self) -> Option<&mut Worker> {
        self.workers.first_mut()
    }

    /// Scans one file, telling `progress` what the file is and how many frames are decoded.
    pub fn scan_file(
        &mut self,
        path: &Path,
        progress: &mut dyn ScanProgress,
    ) -> Result<FileReport, ScanError> {
        self.scan_input(&Input::File(path.to_path_buf()), progress)
    }

    /// Scans one input (a file, or an image sequence as one clip).
    pub fn scan_input(
        &mut self,
        input: &Input,
        progress: &mut dyn ScanProgress,
    ) -> Result<FileReport, ScanError> {
        let path = &input.path();
        let seq_rate = self.opts.seq_rate;
        let matcher = &self.matcher;
        let refs = &self.refs;
        let sampling = &self.opts.sampling;
        let ref_rate = self.opts.ref_per_second;
        let hard = self.opts.detect.hard;
        // One queue per worker: a shot's samples go to one worker, in order (see `Sink`).
        // Six samples deep, so the decoder can go on to the next shot (and worker) while a
        // worker searches a frame for references (~0.5 s). Bench clip, 10 references, two
        // alternated runs: 20.0-20.7 s with two, 17.3-17.7 s with six, for ~50 MB more peak
        // memory (1080p: 6 MB a sample).
        let (frame_txs, frame_rxs): (Vec<_>, Vec<_>) =
            (0..self.workers.len()).map(|_| bounded::<Job>(6)).unzip();
        let matching = self.matches_references();
        let ref_gate = self.opts.ref_gate;
        let (obs_tx, obs_rx) = unbounded::<Result<Collected, WorkerError>>();
        let gate = &EvidenceGate::default();
        let spill = match self.spill.take() {
            Some(p) => Some(
                crate::evidence::Spill::create(&p).map_err(|e| ScanError::Model {
                    path: path.to_path_buf(),
                    source: WorkerError::Spill(format!("{}: {e}", p.display())),
                })?,
            ),
            None => None,
        };
        let (summary, collected, sha256, prov) = std::thread::scope(|s| {
            for (w, rx) in self.workers.iter_mut().zip(frame_rxs) {
                let tx = obs_tx.clone();
                w.forget_shot();
                s.spawn(move || {
                    // Face evidence is made when the shot ends on this worker, from the
                    // frame of each person's best face (`held`).
                    let mut held = Held::default();
                    let send_late = |late: Vec<held::LateEvidence>| {
                        late.into_iter()
                            .all(|e| tx.send(Ok(Collected::Evidence(e))).is_ok())
                    };
                    for job in rx {
                        let Job {
                            frame: f,
                            key,
                            grid,
                            small,
                            refs: check,
                            last,
                            like,
                        } = job;
                        if !send_late(held.next_shot(f.shot)) {
                            break;
                        }
                        let r = w
                            .analyse_sample(&f, grid, matcher, hard.passes(key, small))
                            .map_err(WorkerError::from)
                            .and_then(|faces| {
                                let (hits, searched) = if check && matching {
                                    w.check_refs(&f, (last, like), refs, ref_gate.as_ref())?
                                } else {
                                    (Vec::new(), false)
                                };
                                Ok(FrameResult {
                                    index: f.index,
                                    shot: f.shot,
                                    faces,
                                    refs: hits,
                                    refs_checked: check && matching,
                                    refs_searched: searched,
                                    refs_from: w.refs_followed_from(f.shot),
                                })
                            });
                        let claims = match &r {
                            Ok(fr) => held::claims(&fr.faces, matcher.review_limit(), |p, d| {
                                gate.claim(f.shot, p, d, f.index)
                            }),
                            Err(_) => Vec::new(),
                        };
                        let failed = r.is_err();
                        if tx.send(r.map(Collected::Frame)).is_err() || failed {
                            break;
                        }
                        if !claims.is_empty() {
                            let index = f.index;
                            let now = held.hold(&claims, index, std::sync::Arc::new(f.image));
                            if !send_late(now) {
                                break;
                            }
                        }
                    }
                    send_late(held.finish());
                });
            }
            drop(obs_tx);
            // Collects as results arrive, keeping only the best evidence per (shot, person),
            // so a long appearance does not pile up images.
            let collector = s.spawn(move || collect(obs_rx, spill));
            // Chain of custody: hash the file while it is being decoded (the OS cache
            // serves the second reader).
            let hasher = s.spawn(|| match input {
                Input::File(p) => crate::models::sha256_file(p).ok(),
                Input::Sequence(q) => crate::models::sha256_sequence(&q.frames).ok(),
            });
            // Content credentials, beside the decode (a few ms; ~0.1 s for a large MP4).
            let prov = s.spawn(|| {
                let first = match input {
                    Input::File(p) => Some(p.clone()),
                    Input::Sequence(q) => q.frames.first().map(|(_, p)| p.clone()),
                };
                first.map(|p| crate::provenance::read(&p, &self.opts.provenance))
            });
            let setups = ref_gate.filter(|_| matching).map(pacer::Setups::new);
            let mut sink = Sink::new(
                frame_txs,
                RefPacer::new(ref_rate, sampling.every_frame),
                progress,
                setups,
            );
            let summary = match input {
                Input::File(p) => media::stream(p, sampling, &mut sink),
                Input::Sequence(q) => media::stream_sequence(q, seq_rate, sampling, &mut sink),
            };
            sink.finish();
            let collected = collector.join().unwrap_or_else(|_| {
                Err(WorkerError::Runtime(RuntimeError::Run {
                    model: "collector".into(),
                    cause: "a worker thread panicked".into(),
                }))
            });
            let sha256 = hasher.join().ok().flatten();
            let prov = prov.join().ok().flatten();
            (summary, collected, sha256, prov)
        });
        let (mut per_frame, evidence) = collected.map_err(|source| ScanError::Model {
            path: path.to_path_buf(),
            source,
        })?;
        let summary = summary?;
        per_frame.sort_by_key(|f| f.index);
        let mut report = self.build_report(path, summary, per_frame, evidence);
        report.sha256 = sha256;
        if let Some((p, warnings)) = prov {
            report.warnings.extend(warnings);
            // `review` for a declaration; `--ai escalate` is applied when the report is made.
            findings::add_provenance(&mut report, p, Severity::Review);
        }
        if let Input::Sequence(q) = input {
            report.sequence = Some(SequenceRecord {
                first: q.first(),
                last: q.last(),
                digits: q.digits,
                files: q.frames.len(),
                missing: q.gaps(),
            });
        }
        Ok(report)
    }
}

/// The highest severity among the findings of a batch.
pub fn worst(files: &[FileReport]) -> Option<Severity> {
    files
        .iter()
        .flat_map(|f| f.findings.iter().map(|x| x.severity))
        .max()
}
