//! The scan: one decoder thread streams sampled frames through a bounded channel to worker
//! threads (each owning its own detector and embedder sessions); their observations are
//! grouped into shots, tracks and findings. Memory is bounded by the channel, whatever the
//! length of the video.

use crate::detect::{DetectOptions, FaceDetector};
use crate::embed::Embedder;
use crate::gallery::{Reference, Talent};
use crate::ipmatch::embed::IpEmbedder;
use crate::ipmatch::{IpError, IpMatch, IpMatcher, MatchConfig, RefImage};
use crate::matching::Matcher;
use crate::media::{self, FrameSink, MediaError, SampledFrame, SamplingOptions};
use crate::models::ModelSet;
use crate::policy::{self, Severity};
use crate::report::{
    Appearance, FaceDetail, FileReport, Finding, FrameDetail, RefDetail, RefFrameDetail,
    SameRegion, ShotReport,
};
use crate::runtime::RuntimeError;
use crate::timecode::FrameIndex;
use crate::track::{self, Observation};
use crossbeam_channel::{bounded, unbounded};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use time::Date;

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
}

/// The registered references a scan matches against: every enrolled image, and the
/// reference each belongs to.
#[derive(Debug, Clone, Default)]
pub struct RefSet {
    /// References with their rights records.
    pub refs: Vec<Reference>,
    /// Every usable enrolled image.
    pub images: Vec<RefImage>,
    /// For each of `images`, its index in `refs`.
    pub owner: Vec<usize>,
}

impl RefSet {
    /// Decodes the enrollment data of each reference (read from the gallery in
    /// [`crate::ipmatch::REF_FORMAT`]); references without usable data are named in the error
    /// list so the caller can warn (they were enrolled by an older build).
    pub fn new(refs: Vec<Reference>) -> (Self, Vec<String>) {
        let mut images = Vec::new();
        let mut owner = Vec::new();
        let mut unusable = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let mut ok = 0;
            for bytes in &r.data {
                if let Ok(img) = RefImage::from_bytes(bytes) {
                    images.push(img);
                    owner.push(i);
                    ok += 1;
                }
            }
            if ok == 0 {
                unusable.push(r.name.clone());
            }
        }
        (
            Self {
                refs,
                images,
                owner,
            },
            unusable,
        )
    }

    /// True when there is nothing to match.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
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
            today,
            keep_all_scores: false,
            references: true,
            ref_per_second: 1.0,
            ip: MatchConfig::default(),
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
        if self.workers == 0 || self.workers > 256 {
            return Err(format!("workers must be 1..=256, got {}", self.workers));
        }
        if let Some(t) = self.threshold {
            if !(t > 0.0 && t.is_finite()) {
                return Err(format!("threshold must be a positive number, got {t}"));
            }
        }
        Ok(())
    }
}

/// One worker's models.
pub struct Worker {
    detector: FaceDetector,
    embedder: Embedder,
    ip: Option<IpMatcher>,
}

/// A reference verified on one frame, with evidence when asked for.
#[derive(Debug, Clone)]
pub struct RefHit {
    /// Index into [`RefSet::refs`].
    pub reference: usize,
    /// The best verified match among the reference's images.
    pub found: IpMatch,
    /// Frame with the box drawn, the region, for reports.
    pub evidence: Option<Box<crate::evidence::Evidence>>,
}

impl Worker {
    /// Loads the active models; the reference matcher (with the manifest's image embedder,
    /// if any) only when `ip` is given.
    pub fn load(
        models: &ModelSet,
        opts: &DetectOptions,
        ip: Option<&MatchConfig>,
    ) -> Result<Self, WorkerError> {
        let ip = match (ip, &models.ip_embedder) {
            (None, _) => None,
            (Some(c), Some(m)) => {
                Some(IpMatcher::with_embedder(c.clone(), IpEmbedder::load(m, 1)?))
            }
            (Some(c), None) => Some(IpMatcher::new(c.clone())),
        };
        Ok(Self {
            detector: FaceDetector::load(
                &models.detector_full,
                models.detector_short.as_ref(),
                *opts,
                1,
            )?,
            embedder: Embedder::load(&models.embedder, 1)?,
            ip,
        })
    }

    /// The reference matcher, when loaded.
    pub fn ip_matcher(&mut self) -> Option<&mut IpMatcher> {
        self.ip.as_mut()
    }

    /// References verified in one picture, at most one hit per reference (its image with
    /// the most inliers), with evidence images when `evidence`.
    pub fn match_refs(
        &mut self,
        img: &image::RgbImage,
        refs: &RefSet,
        evidence: bool,
    ) -> Result<Vec<RefHit>, IpError> {
        let Some(m) = self.ip.as_mut() else {
            return Ok(Vec::new());
        };
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let mut best: Vec<Option<IpMatch>> = vec![None; refs.refs.len()];
        for found in m.match_frame(img, &refs.images)? {
            let r = refs.owner[found.reference];
            if best[r].as_ref().is_none_or(|b| found.inliers > b.inliers) {
                best[r] = Some(found);
            }
        }
        Ok(best
            .into_iter()
            .enumerate()
            .filter_map(|(reference, f)| f.map(|f| (reference, f)))
            .map(|(reference, found)| {
                let b = found.bbox;
                let evidence = evidence.then(|| {
                    Box::new(crate::evidence::capture(
                        img,
                        [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    ))
                });
                RefHit {
                    reference,
                    found,
                    evidence,
                }
            })
            .collect())
    }

    /// Faces in one picture, each with its embedding and gallery ranking; evidence images
    /// for faces that match someone when `evidence`, the aligned chip when `keep_chip`.
    pub fn analyse(
        &mut self,
        frame: FrameIndex,
        img: &image::RgbImage,
        matcher: &Matcher,
        evidence: bool,
        keep_chip: bool,
    ) -> Result<Vec<Observation>, RuntimeError> {
        let faces = self.detector.detect(img)?;
        let chips = self.embedder.chips(img, &faces);
        let ok: Vec<&image::RgbImage> = chips.iter().flatten().collect();
        let mut embs = if ok.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed_chips(&ok)?
        }
        .into_iter();
        Ok(faces
            .into_iter()
            .zip(chips)
            .map(|(face, chip)| {
                let embedding = chip.as_ref().and_then(|_| embs.next());
                let ranking = embedding
                    .as_ref()
                    .map(|e| matcher.rank(e))
                    .unwrap_or_default();
                let matched = ranking
                    .first()
                    .is_some_and(|c| c.distance <= matcher.threshold());
                let evidence = (evidence && matched).then(|| {
                    Box::new(crate::evidence::capture(
                        img,
                        [face.x, face.y, face.w, face.h],
                    ))
                });
                Observation {
                    frame,
                    face,
                    embedding,
                    ranking,
                    evidence,
                    chip: if keep_chip { chip } else { None },
                }
            })
            .collect())
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
}

/// A sampled frame on its way to a worker, and whether references are matched on it.
struct Job {
    frame: SampledFrame,
    refs: bool,
}

/// Decides which sampled frames reference matching runs on: each shot's first and last
/// sample, and in between samples at least `1 / per_second` seconds after the previous one
/// matched (every sample when that is denser than the sampling, or in every-frame mode).
/// Faces are still looked for on every sample; this bounds what reference matching, the
/// costlier stage, adds to a scan. Holds one frame back, to know whether it ends its shot.
struct RefPacer {
    per_second: f64,
    every: bool,
    /// Frames between matched samples (from the file's frame rate; 0 = every sample).
    gap: f64,
    /// Shot and index of the last sample matched.
    last: Option<(usize, FrameIndex)>,
    pending: Option<SampledFrame>,
}

impl RefPacer {
    fn new(per_second: f64, every: bool) -> Self {
        Self {
            per_second,
            every,
            gap: 0.0,
            last: None,
            pending: None,
        }
    }

    /// The file's frame rate is known.
    fn start(&mut self, fps: f64) {
        self.gap = if self.every || !(fps > 0.0 && fps.is_finite()) {
            0.0
        } else {
            fps / self.per_second
        };
        self.last = None;
        self.pending = None;
    }

    /// Takes the next sample; gives back the previous one with its decision.
    fn push(&mut self, frame: SampledFrame) -> Option<Job> {
        let next_shot = frame.shot;
        let prev = self.pending.replace(frame)?;
        Some(self.decide(prev, Some(next_shot)))
    }

    /// End of the file: the sample held back (the last of its shot).
    fn finish(&mut self) -> Option<Job> {
        let prev = self.pending.take()?;
        Some(self.decide(prev, None))
    }

    fn decide(&mut self, frame: SampledFrame, next_shot: Option<usize>) -> Job {
        let first_of_shot = self.last.is_none_or(|(shot, _)| shot != frame.shot);
        let last_of_shot = next_shot != Some(frame.shot);
        // Half a frame of slack: grid samples land on whole frames.
        let due = self
            .last
            .is_none_or(|(_, at)| (frame.index - at) as f64 + 0.5 >= self.gap);
        let refs = first_of_shot || last_of_shot || due;
        if refs {
            self.last = Some((frame.shot, frame.index));
        }
        Job { frame, refs }
    }
}

struct Sink<'a> {
    tx: Option<crossbeam_channel::Sender<Job>>,
    pacer: RefPacer,
    progress: &'a mut dyn FnMut(u64),
}

impl Sink<'_> {
    fn send(&mut self, job: Option<Job>) -> ControlFlow<()> {
        let Some(job) = job else {
            return ControlFlow::Continue(());
        };
        match self.tx.as_ref().map(|tx| tx.send(job)) {
            Some(Ok(())) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        }
    }

    /// Sends the frame held back and closes the channel, so workers finish.
    fn finish(&mut self) {
        let last = self.pacer.finish();
        let _ = self.send(last);
        self.tx = None;
    }
}

impl FrameSink for Sink<'_> {
    fn start(&mut self, info: &media::MediaInfo) {
        self.pacer.start(info.frame_rate.fps());
    }

    fn sample(&mut self, frame: SampledFrame) -> ControlFlow<()> {
        let job = self.pacer.push(frame);
        self.send(job)
    }

    fn progress(&mut self, decoded: u64) {
        (self.progress)(decoded);
    }
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
        let matcher = Matcher::new(&talent, spec.metric, threshold);
        let ip = (always_ip || (opts.references && !refs.is_empty())).then_some(&opts.ip);
        let workers = (0..opts.workers)
            .map(|_| Worker::load(&models, &opts.detect, ip))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            models,
            opts,
            talent,
            refs,
            matcher,
            workers,
        })
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
        w.analyse(0, img, matcher, false, true)
    }

    /// Embeds the faces of one picture with the first worker.
    pub fn worker(&mut self) -> Option<&mut Worker> {
        self.workers.first_mut()
    }

    /// Scans one file. `progress` is called with the count of frames decoded so far.
    pub fn scan_file(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<FileReport, ScanError> {
        let matcher = &self.matcher;
        let refs = &self.refs;
        let sampling = &self.opts.sampling;
        let ref_rate = self.opts.ref_per_second;
        let (frame_tx, frame_rx) = bounded::<Job>(self.workers.len() * 2);
        let (obs_tx, obs_rx) = unbounded::<Result<FrameResult, WorkerError>>();
        let (summary, collected, sha256) = std::thread::scope(|s| {
            for w in self.workers.iter_mut() {
                let rx = frame_rx.clone();
                let tx = obs_tx.clone();
                s.spawn(move || {
                    for Job {
                        frame: f,
                        refs: match_refs,
                    } in rx
                    {
                        let r = w
                            .analyse(f.index, &f.image, matcher, true, false)
                            .map_err(WorkerError::from)
                            .and_then(|faces| {
                                let hits = if match_refs {
                                    w.match_refs(&f.image, refs, true)?
                                } else {
                                    Vec::new()
                                };
                                Ok(FrameResult {
                                    index: f.index,
                                    shot: f.shot,
                                    faces,
                                    refs: hits,
                                    refs_checked: match_refs && w.ip.is_some() && !refs.is_empty(),
                                })
                            });
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            break;
                        }
                    }
                });
            }
            drop(frame_rx);
            drop(obs_tx);
            // Collects as results arrive, keeping only the best evidence per (shot, person),
            // so a long appearance does not pile up images.
            let collector = s.spawn(move || collect(obs_rx));
            // Chain of custody: hash the file while it is being decoded (the OS cache
            // serves the second reader).
            let hasher = s.spawn(|| crate::models::sha256_file(path).ok());
            let mut sink = Sink {
                tx: Some(frame_tx),
                pacer: RefPacer::new(ref_rate, sampling.every_frame),
                progress,
            };
            let summary = media::stream(path, sampling, &mut sink);
            sink.finish();
            let collected = collector.join().unwrap_or_else(|_| {
                Err(WorkerError::Runtime(RuntimeError::Run {
                    model: "collector".into(),
                    cause: "a worker thread panicked".into(),
                }))
            });
            let sha256 = hasher.join().ok().flatten();
            (summary, collected, sha256)
        });
        let (mut per_frame, evidence) = collected.map_err(|source| ScanError::Model {
            path: path.to_path_buf(),
            source,
        })?;
        let summary = summary?;
        per_frame.sort_by_key(|f| f.index);
        let mut report = self.build_report(path, summary, per_frame, evidence);
        report.sha256 = sha256;
        Ok(report)
    }

    fn build_report(
        &self,
        path: &Path,
        summary: media::StreamSummary,
        per_frame: Vec<FrameResult>,
        mut evidence: EvidenceMap,
    ) -> FileReport {
        let info = &summary.info;
        let tc = |f: FrameIndex| info.start_timecode.add_frames(f).to_string();
        let metric = self.models.embedder_spec().metric;
        let link = self.matcher.threshold() * 1.2;
        let mut shots = Vec::new();
        let mut findings = Vec::new();
        for shot in &summary.shots {
            let frames: Vec<_> = per_frame.iter().filter(|f| f.shot == shot.index).collect();
            findings.extend(self.reference_findings(info, shot.index, &frames, &mut evidence));
            let obs: Vec<Observation> = frames.iter().flat_map(|f| f.faces.clone()).collect();
            let faces_seen = obs.len();
            let tracks = track::link(obs, metric, link);
            let mut unknown = 0;
            let mut by_person: Vec<(usize, Vec<(&track::Track, track::Identity)>)> = Vec::new();
            for t in &tracks {
                match track::identify(t, &self.matcher) {
                    Some(id) => match by_person.iter_mut().find(|(p, _)| *p == id.person) {
                        Some((_, v)) => v.push((t, id)),
                        None => by_person.push((id.person, vec![(t, id)])),
                    },
                    None => unknown += 1,
                }
            }
            for (person, group) in by_person {
                let name = self.matcher.name(person);
                let Some(talent) = self.talent.iter().find(|t| t.name == name) else {
                    continue;
                };
                let (severity, reason) = policy::talent(&talent.consent, self.opts.today);
                let first = group
                    .iter()
                    .flat_map(|(t, _)| t.obs.first())
                    .map(|o| o.frame)
                    .min();
                let last = group
                    .iter()
                    .flat_map(|(t, _)| t.obs.last())
                    .map(|o| o.frame)
                    .max();
                let (Some(first), Some(last)) = (first, last) else {
                    continue;
                };
                let frames_seen: std::collections::BTreeSet<u64> = group
                    .iter()
                    .flat_map(|(t, _)| t.obs.iter().map(|o| o.frame))
                    .collect();
                let largest = group
                    .iter()
                    .flat_map(|(t, _)| t.obs.iter().map(|o| o.face.size()))
                    .fold(0.0f32, f32::max);
                let Some((bt, bid)) = group.iter().min_by(|a, b| {
                    a.1.distance
                        .total_cmp(&b.1.distance)
                        .then(a.0.obs[a.1.best].frame.cmp(&b.0.obs[b.1.best].frame))
                }) else {
                    continue;
                };
                let best = &bt.obs[bid.best];
                let evidence = evidence
                    .faces
                    .remove(&(shot.index, person))
                    .filter(|(_, frame, _)| *frame == best.frame)
                    .map(|(_, _, mut e)| {
                        e.reference_jpeg = talent.reference_jpeg.clone();
                        e
                    });
                findings.push(Finding {
                    kind: "talent".into(),
                    shot: shot.index,
                    name: name.to_string(),
                    consent: Some(talent.consent.clone()),
                    reference: None,
                    severity,
                    reason,
                    first_frame: first,
                    last_frame: last,
                    tc_in: tc(first),
                    tc_out: tc(last),
                    frames_seen: frames_seen.len(),
                    frames_matched: group.iter().map(|(_, id)| id.votes).sum(),
                    largest_face_px: largest.round() as u32,
                    distance: bid.distance,
                    threshold: self.matcher.threshold(),
                    score: self.matcher.score(bid.distance),
                    best_frame: best.frame,
                    best_tc: tc(best.frame),
                    best_box: [best.face.x, best.face.y, best.face.w, best.face.h]
                        .map(|v| v.round()),
                    evidence,
                    approval: None,
                    appearances: if self.opts.keep_all_scores {
                        appearances(&frames_seen, &tc)
                    } else {
                        Vec::new()
                    },
                    all_scores: self.opts.keep_all_scores.then(|| {
                        best.ranking
                            .iter()
                            .map(|c| (self.matcher.name(c.person).to_string(), c.distance))
                            .collect()
                    }),
                });
            }
            shots.push(ShotReport {
                index: shot.index,
                first_frame: shot.first,
                last_frame: shot.last,
                tc_in: tc(shot.first),
                tc_out: tc(shot.last),
                frames_sampled: frames.len(),
                frames_ref_checked: frames.iter().filter(|f| f.refs_checked).count(),
                faces_seen,
                unidentified_faces: unknown,
            });
        }
        findings.sort_by(|a, b| {
            a.shot
                .cmp(&b.shot)
                .then(b.severity.cmp(&a.severity))
                .then(a.name.cmp(&b.name))
        });
        let frames = self.opts.keep_all_scores.then(|| {
            per_frame
                .iter()
                .map(|f| FrameDetail {
                    frame: f.index,
                    tc: tc(f.index),
                    shot: f.shot,
                    references: f
                        .refs
                        .iter()
                        .map(|h| RefFrameDetail {
                            name: self.refs.refs[h.reference].name.clone(),
                            bbox: xywh(h.found.bbox),
                            inliers: h.found.inliers,
                            cosine: h.found.cosine,
                        })
                        .collect(),
                    faces: f
                        .faces
                        .iter()
                        .map(|o| FaceDetail {
                            bbox: [o.face.x, o.face.y, o.face.w, o.face.h].map(|v| v.round()),
                            detection_score: o.face.score,
                            distances: o
                                .ranking
                                .iter()
                                .map(|c| (self.matcher.name(c.person).to_string(), c.distance))
                                .collect(),
                        })
                        .collect(),
                })
                .collect()
        });
        FileReport {
            path: path.to_path_buf(),
            sha256: None,
            frames,
            media: summary.info.clone(),
            start_timecode: summary.info.start_timecode.to_string(),
            frames_decoded: summary.frames_decoded,
            frames_sampled: summary.frames_sampled,
            shots,
            findings,
            warnings: summary.warnings,
        }
    }
}

impl Scanner {
    /// One finding per reference verified in a shot: first/last sampled frame, the frame with
    /// the most inliers as evidence, screen time, share of the frame, and the other
    /// references verified on the same region (owned vs third-party conflicts).
    fn reference_findings(
        &self,
        info: &media::MediaInfo,
        shot: usize,
        frames: &[&FrameResult],
        evidence: &mut EvidenceMap,
    ) -> Vec<Finding> {
        let tc = |f: FrameIndex| info.start_timecode.add_frames(f).to_string();
        let fps = if info.frame_rate.den == 0 {
            0.0
        } else {
            f64::from(info.frame_rate.num) / f64::from(info.frame_rate.den)
        };
        let mut by_ref: std::collections::BTreeMap<usize, Vec<(FrameIndex, &RefHit)>> =
            Default::default();
        let mut same: std::collections::BTreeSet<(usize, usize)> = Default::default();
        for f in frames {
            for h in &f.refs {
                by_ref.entry(h.reference).or_default().push((f.index, h));
            }
            for a in &f.refs {
                for b in &f.refs {
                    if a.reference != b.reference
                        && crate::detect::blazeface::iou(a.found.bbox, b.found.bbox) >= 0.5
                    {
                        same.insert((a.reference, b.reference));
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (r, hits) in by_ref {
            let reference = &self.refs.refs[r];
            let Some(&(best_frame, best)) = hits.iter().max_by(|a, b| {
                ref_order(
                    (a.1.found.inliers, a.1.found.frame_share, a.0),
                    (b.1.found.inliers, b.1.found.frame_share, b.0),
                )
            }) else {
                continue;
            };
            let first = hits.iter().map(|h| h.0).min().unwrap_or(best_frame);
            let last = hits.iter().map(|h| h.0).max().unwrap_or(best_frame);
            let max_share = hits
                .iter()
                .map(|h| h.1.found.frame_share)
                .fold(0.0f32, f32::max);
            let largest = hits
                .iter()
                .map(|h| {
                    let b = h.1.found.bbox;
                    (b[2] - b[0]).max(b[3] - b[1])
                })
                .fold(0.0f32, f32::max);
            let same_region: Vec<SameRegion> = same
                .iter()
                .filter(|(a, _)| *a == r)
                .map(|&(_, b)| SameRegion {
                    name: self.refs.refs[b].name.clone(),
                    status: self.refs.refs[b].record.status,
                })
                .collect();
            let pairs: Vec<(String, crate::gallery::RefStatus)> = same_region
                .iter()
                .map(|s| (s.name.clone(), s.status))
                .collect();
            let (severity, reason) = policy::reference(&reference.record, &pairs);
            let m = &best.found;
            let b = m.bbox;
            let centre = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            let (w, h) = (info.width as f32, info.height as f32);
            let central =
                (centre.0 - w / 2.0).abs() < w / 6.0 && (centre.1 - h / 2.0).abs() < h / 6.0;
            let prominence = if max_share >= 0.10 || (central && max_share >= 0.03) {
                "focal"
            } else {
                "background"
            };
            let evidence = evidence
                .refs
                .remove(&(shot, r))
                .filter(|(rank, _)| rank.2 == best_frame)
                .map(|(_, mut e)| {
                    e.reference_jpeg = reference.thumbnail_jpeg.clone();
                    e
                });
            let seen: std::collections::BTreeSet<FrameIndex> = hits.iter().map(|h| h.0).collect();
            out.push(Finding {
                kind: "reference".into(),
                shot,
                name: reference.name.clone(),
                consent: None,
                reference: Some(RefDetail {
                    record: reference.record.clone(),
                    inliers: m.inliers,
                    cosine: m.cosine,
                    stage: m.stage,
                    corners: m.corners,
                    frame_share: m.frame_share,
                    max_frame_share: max_share,
                    screen_time_s: if fps > 0.0 {
                        (last - first + 1) as f64 / fps
                    } else {
                        0.0
                    },
                    prominence: prominence.into(),
                    same_region,
                }),
                severity,
                reason,
                first_frame: first,
                last_frame: last,
                tc_in: tc(first),
                tc_out: tc(last),
                frames_seen: seen.len(),
                frames_matched: seen.len(),
                largest_face_px: largest.round() as u32,
                distance: 1.0 - m.score,
                threshold: 0.5,
                score: m.score,
                best_frame,
                best_tc: tc(best_frame),
                best_box: xywh(b),
                approval: None,
                evidence,
                appearances: if self.opts.keep_all_scores {
                    appearances(&seen, &tc)
                } else {
                    Vec::new()
                },
                all_scores: None,
            });
        }
        out
    }
}

/// Each continuous run of `frames` with its timecodes (spot-check mode).
fn appearances(
    frames: &std::collections::BTreeSet<FrameIndex>,
    tc: &dyn Fn(FrameIndex) -> String,
) -> Vec<Appearance> {
    runs(frames)
        .into_iter()
        .map(|(a, b)| Appearance {
            first_frame: a,
            last_frame: b,
            tc_in: tc(a),
            tc_out: tc(b),
        })
        .collect()
}

/// Continuous runs in a sorted set of frames; a gap of one missed frame (a blink, a
/// detector miss) does not split a run.
fn runs(frames: &std::collections::BTreeSet<FrameIndex>) -> Vec<(FrameIndex, FrameIndex)> {
    let mut out: Vec<(FrameIndex, FrameIndex)> = Vec::new();
    for &f in frames {
        match out.last_mut() {
            Some((_, last)) if f <= *last + 2 => *last = f,
            _ => out.push((f, f)),
        }
    }
    out
}

/// Best evidence per (shot, person) and per (shot, reference), each with the frame it is
/// from: faces keep the smallest distance, references the most inliers.
#[derive(Default)]
struct EvidenceMap {
    faces: std::collections::HashMap<(usize, usize), (f32, FrameIndex, crate::evidence::Evidence)>,
    /// The best hit's (inliers, frame share, frame), see [`ref_order`], and its evidence.
    refs: std::collections::HashMap<(usize, usize), (RefRank, crate::evidence::Evidence)>,
}

/// What the models saw on one sampled frame.
struct FrameResult {
    index: FrameIndex,
    shot: usize,
    faces: Vec<Observation>,
    refs: Vec<RefHit>,
    /// Whether references were matched on this frame.
    refs_checked: bool,
}

fn collect(
    rx: crossbeam_channel::Receiver<Result<FrameResult, WorkerError>>,
) -> Result<(Vec<FrameResult>, EvidenceMap), WorkerError> {
    let mut frames = Vec::new();
    let mut best = EvidenceMap::default();
    for r in rx {
        let mut f = r?;
        for o in &mut f.faces {
            let (Some(e), Some(top)) = (o.evidence.take(), o.ranking.first()) else {
                continue;
            };
            let key = (f.shot, top.person);
            // Ties go to the earlier frame, as in the finding's choice of its best frame, so
            // the evidence kept is the best frame's whatever order the workers finish in.
            if best
                .faces
                .get(&key)
                .is_none_or(|b| (top.distance, f.index) < (b.0, b.1))
            {
                best.faces.insert(key, (top.distance, f.index, *e));
            }
        }
        for h in &mut f.refs {
            let Some(e) = h.evidence.take() else {
                continue;
            };
            let key = (f.shot, h.reference);
            let rank = (h.found.inliers, h.found.frame_share, f.index);
            if best
                .refs
                .get(&key)
                .is_none_or(|b| ref_order(rank, b.0).is_gt())
            {
                best.refs.insert(key, (rank, *e));
            }
        }
        frames.push(f);
    }
    Ok((frames, best))
}

/// A reference hit's (inliers, frame share, frame), as [`ref_order`] compares them.
type RefRank = (u32, f32, FrameIndex);

/// Which of two reference hits is the better evidence (`Greater`: `a`): more inliers, then
/// a larger share of the frame, then the earlier frame.
fn ref_order(a: RefRank, b: RefRank) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(b.2.cmp(&a.2))
}

/// (x0, y0, x1, y1) to (x, y, width, height), rounded.
fn xywh(b: [f32; 4]) -> [f32; 4] {
    [b[0], b[1], b[2] - b[0], b[3] - b[1]].map(|v| v.round())
}

/// The highest severity among the findings of a batch.
pub fn worst(files: &[FileReport]) -> Option<Severity> {
    files
        .iter()
        .flat_map(|f| f.findings.iter().map(|x| x.severity))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_on_gaps_longer_than_one_frame() {
        let set: std::collections::BTreeSet<u64> = [3, 4, 5, 7, 8, 20, 21].into_iter().collect();
        assert_eq!(runs(&set), vec![(3, 8), (20, 21)]);
        assert!(runs(&Default::default()).is_empty());
    }

    #[test]
    fn reference_evidence_ties_go_to_the_earlier_frame() {
        use std::cmp::Ordering::*;
        assert_eq!(ref_order((12, 0.1, 50), (11, 0.9, 10)), Greater);
        assert_eq!(ref_order((12, 0.2, 50), (12, 0.1, 10)), Greater);
        assert_eq!(ref_order((12, 0.1, 10), (12, 0.1, 50)), Greater);
        assert_eq!(ref_order((12, 0.1, 10), (12, 0.1, 10)), Equal);
    }

    /// The frames (index) the pacer matches references on, for samples (index, shot).
    fn paced(samples: &[(u64, usize)], fps: f64, per_second: f64, every: bool) -> Vec<u64> {
        let mut p = RefPacer::new(per_second, every);
        p.start(fps);
        let mut jobs = Vec::new();
        for &(index, shot) in samples {
            jobs.extend(p.push(SampledFrame {
                index,
                shot,
                image: image::RgbImage::new(1, 1),
            }));
        }
        jobs.extend(p.finish());
        assert_eq!(jobs.len(), samples.len(), "every sample reaches a worker");
        jobs.iter()
            .filter(|j| j.refs)
            .map(|j| j.frame.index)
            .collect()
    }

    #[test]
    fn references_are_matched_once_a_second_and_on_each_shots_first_and_last_sample() {
        // 25 fps sampled at 2/s: a 4 s shot (0..=99), then a 0.4 s shot (100..=109).
        let samples = [
            (0, 0),
            (13, 0),
            (25, 0),
            (38, 0),
            (50, 0),
            (63, 0),
            (75, 0),
            (88, 0),
            (99, 0),
            (100, 1),
            (105, 1),
            (109, 1),
        ];
        assert_eq!(
            paced(&samples, 25.0, 1.0, false),
            vec![0, 25, 50, 75, 99, 100, 109]
        );
        // Denser than the sampling: every sample.
        assert_eq!(paced(&samples, 25.0, 10.0, false).len(), samples.len());
        // Every-frame mode (inspect), whatever the rate.
        assert_eq!(paced(&samples, 25.0, 0.1, true).len(), samples.len());
        // NTSC: grid samples on whole frames still count as a second apart.
        let ntsc = [(0, 0), (15, 0), (30, 0), (45, 0), (60, 0), (75, 0)];
        assert_eq!(
            paced(&ntsc, 30000.0 / 1001.0, 1.0, false),
            vec![0, 30, 60, 75]
        );
        // A still: its one frame.
        assert_eq!(paced(&[(0, 0)], 0.0, 1.0, false), vec![0]);
    }
}
