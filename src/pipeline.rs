//! The scan: one decoder thread streams sampled frames through a bounded channel to worker
//! threads (each owning its own detector and embedder sessions); their observations are
//! grouped into shots, tracks and findings. Memory is bounded by the channel, whatever the
//! length of the video.

use crate::detect::{DetectOptions, FaceDetector};
use crate::embed::Embedder;
use crate::gallery::Talent;
use crate::matching::Matcher;
use crate::media::{self, FrameSink, MediaError, SampledFrame, SamplingOptions};
use crate::models::ModelSet;
use crate::policy::{self, Severity};
use crate::report::{Appearance, FaceDetail, FileReport, Finding, FrameDetail, ShotReport};
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
        source: RuntimeError,
    },
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
        }
    }

    /// Rejects settings that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        self.sampling.validate().map_err(|e| e.to_string())?;
        self.detect.validate()?;
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
}

impl Worker {
    /// Loads the active models.
    pub fn load(models: &ModelSet, opts: &DetectOptions) -> Result<Self, RuntimeError> {
        Ok(Self {
            detector: FaceDetector::load(
                &models.detector_full,
                models.detector_short.as_ref(),
                *opts,
                1,
            )?,
            embedder: Embedder::load(&models.embedder, 1)?,
        })
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
    matcher: Matcher,
    workers: Vec<Worker>,
}

struct Sink<'a> {
    tx: Option<crossbeam_channel::Sender<SampledFrame>>,
    progress: &'a mut dyn FnMut(u64),
}

impl FrameSink for Sink<'_> {
    fn sample(&mut self, frame: SampledFrame) -> ControlFlow<()> {
        match self.tx.as_ref().map(|tx| tx.send(frame)) {
            Some(Ok(())) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        }
    }

    fn progress(&mut self, decoded: u64) {
        (self.progress)(decoded);
    }
}

impl Scanner {
    /// Loads the models once per worker and prepares the matcher.
    pub fn new(
        models: ModelSet,
        opts: ScanOptions,
        talent: Vec<Talent>,
    ) -> Result<Self, RuntimeError> {
        let spec = models.embedder_spec().clone();
        let threshold = opts.threshold.unwrap_or(spec.match_threshold);
        let matcher = Matcher::new(&talent, spec.metric, threshold);
        let workers = (0..opts.workers)
            .map(|_| Worker::load(&models, &opts.detect))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            models,
            opts,
            talent,
            matcher,
            workers,
        })
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
        let sampling = &self.opts.sampling;
        let (frame_tx, frame_rx) = bounded::<SampledFrame>(self.workers.len() * 2);
        let (obs_tx, obs_rx) = unbounded::<Result<FrameResult, RuntimeError>>();
        let (summary, collected, sha256) = std::thread::scope(|s| {
            for w in self.workers.iter_mut() {
                let rx = frame_rx.clone();
                let tx = obs_tx.clone();
                s.spawn(move || {
                    for f in rx {
                        let r = w
                            .analyse(f.index, &f.image, matcher, true, false)
                            .map(|o| (f.index, f.shot, o));
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
                progress,
            };
            let summary = media::stream(path, sampling, &mut sink);
            sink.tx = None; // close the channel so workers finish
            let collected = collector.join().unwrap_or_else(|_| {
                Err(RuntimeError::Run {
                    model: "collector".into(),
                    cause: "a worker thread panicked".into(),
                })
            });
            let sha256 = hasher.join().ok().flatten();
            (summary, collected, sha256)
        });
        let (mut per_frame, evidence) = collected.map_err(|source| ScanError::Model {
            path: path.to_path_buf(),
            source,
        })?;
        let summary = summary?;
        per_frame.sort_by_key(|(i, _, _)| *i);
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
            let frames: Vec<_> = per_frame
                .iter()
                .filter(|(_, s, _)| *s == shot.index)
                .collect();
            let obs: Vec<Observation> = frames.iter().flat_map(|(_, _, o)| o.clone()).collect();
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
                let Some((bt, bid)) = group
                    .iter()
                    .min_by(|a, b| a.1.distance.total_cmp(&b.1.distance))
                else {
                    continue;
                };
                let best = &bt.obs[bid.best];
                let evidence = evidence
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
                    consent: talent.consent.clone(),
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
                        runs(&frames_seen)
                            .into_iter()
                            .map(|(a, b)| Appearance {
                                first_frame: a,
                                last_frame: b,
                                tc_in: tc(a),
                                tc_out: tc(b),
                            })
                            .collect()
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
                .map(|(index, shot, obs)| FrameDetail {
                    frame: *index,
                    tc: tc(*index),
                    shot: *shot,
                    faces: obs
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

/// Best evidence per (shot, person): distance, frame, images.
type EvidenceMap =
    std::collections::HashMap<(usize, usize), (f32, FrameIndex, crate::evidence::Evidence)>;

type FrameResult = (u64, usize, Vec<Observation>);

fn collect(
    rx: crossbeam_channel::Receiver<Result<FrameResult, RuntimeError>>,
) -> Result<(Vec<FrameResult>, EvidenceMap), RuntimeError> {
    let mut frames = Vec::new();
    let mut best: EvidenceMap = Default::default();
    for r in rx {
        let (index, shot, mut obs) = r?;
        for o in &mut obs {
            let (Some(e), Some(top)) = (o.evidence.take(), o.ranking.first()) else {
                continue;
            };
            let key = (shot, top.person);
            if best.get(&key).is_none_or(|b| top.distance < b.0) {
                best.insert(key, (top.distance, index, *e));
            }
        }
        frames.push((index, shot, obs));
    }
    Ok((frames, best))
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
}
