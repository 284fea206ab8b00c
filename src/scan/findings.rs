//! From what the workers saw on each sampled frame to shots, tracks and findings, with the
//! best evidence per finding.

use super::held::LateEvidence;
use super::{RefHit, Scanner, WorkerError};
use crate::evidence::{Evidence, Jpeg, Spill};
use crate::face::track::{self, Observation};
use crate::media;
use crate::policy;
use crate::report::{
    Appearance, FaceDetail, FileReport, Finding, FrameDetail, RefDetail, RefFrameDetail,
    SameRegion, ShotReport,
};
use crate::timecode::FrameIndex;
use std::path::Path;

impl Scanner {
    pub(super) fn build_report(
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
        let mut unknown_tracks = Vec::new();
        for shot in &summary.shots {
            let frames: Vec<_> = per_frame.iter().filter(|f| f.shot == shot.index).collect();
            findings.extend(self.reference_findings(info, shot.index, &frames, &mut evidence));
            let obs: Vec<Observation> = frames.iter().flat_map(|f| f.faces.clone()).collect();
            let faces_seen = obs.len();
            let tracks = track::link(obs, metric, link);
            let rules = track::IdentityRules::for_matcher(&self.matcher);
            let mut unknown = 0;
            let mut by_person: Vec<(usize, Vec<(&track::Track, track::Identity)>)> = Vec::new();
            for t in &tracks {
                match track::identify(t, &rules) {
                    Some(id) => match by_person.iter_mut().find(|(p, _)| *p == id.person) {
                        Some((_, v)) => v.push((t, id)),
                        None => by_person.push((id.person, vec![(t, id)])),
                    },
                    None => {
                        unknown += 1;
                        if self.opts.unknown {
                            unknown_tracks.extend(unknown_track(shot.index, t));
                        }
                    }
                }
            }
            for (person, mut group) in by_person {
                let name = self.matcher.name(person);
                let Some(talent) = self.talent.iter().find(|t| t.name == name) else {
                    continue;
                };
                // One finding per person and shot, at the strongest decision: a track that
                // identifies them makes the possible ones beside it moot (another face that
                // resembles them, or the same face at a worse moment).
                let Some(decision) = group.iter().map(|(_, id)| id.evidence.decision).max() else {
                    continue;
                };
                group.retain(|(_, id)| id.evidence.decision == decision);
                let (severity, reason) = policy::talent(&talent.consent, self.opts.today, decision);
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
                        e.reference_jpeg = evidence.reference(talent.reference_jpeg.as_ref());
                        e
                    });
                findings.push(Finding {
                    kind: "talent".into(),
                    shot: shot.index,
                    name: name.to_string(),
                    identity: Some(bid.evidence.clone()),
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
                sampled: frames.iter().map(|f| f.index).collect(),
                frames_ref_checked: frames.iter().filter(|f| f.refs_checked).count(),
                ref_searched: frames
                    .iter()
                    .filter(|f| f.refs_searched)
                    .map(|f| f.index)
                    .collect(),
                ref_followed_shot: frames.iter().find_map(|f| f.refs_from),
                faces_seen,
                unidentified_faces: unknown,
            });
        }
        crate::report::sort_findings(&mut findings);
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
            sequence: None,
            provenance: None,
            unknown_tracks,
        }
    }
}

/// What `scan --unknown` keeps of a track that matched nobody: the embeddings of its
/// largest faces, and the crop and box of the largest one.
fn unknown_track(shot: usize, t: &track::Track) -> Option<crate::unknown::UnknownTrack> {
    let mut faces: Vec<&Observation> = t.obs.iter().filter(|o| o.embedding.is_some()).collect();
    // Largest first; ties to the earlier frame.
    faces.sort_by(|a, b| {
        b.face
            .size()
            .total_cmp(&a.face.size())
            .then(a.frame.cmp(&b.frame))
    });
    let best = *faces.first()?;
    let kept = &faces[..faces.len().min(crate::unknown::FACES_PER_TRACK)];
    let embeddings = kept.iter().filter_map(|o| o.embedding.clone()).collect();
    let crop = faces.iter().find_map(|o| o.crop.clone());
    Some(crate::unknown::UnknownTrack {
        shot,
        first_frame: t.obs.first()?.frame,
        last_frame: t.obs.last()?.frame,
        frames_seen: t.obs.len(),
        largest_face_px: best.face.size().round() as u32,
        best_frame: best.frame,
        best_box: [best.face.x, best.face.y, best.face.w, best.face.h].map(|v| v.round()),
        crop_jpeg: crop,
        embeddings,
        dim: kept.iter().all(|o| o.dim),
    })
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
                        && crate::face::detect::blazeface::iou(a.found.bbox, b.found.bbox) >= 0.5
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
                    e.reference_jpeg = evidence.reference(reference.thumbnail_jpeg.as_ref());
                    e
                });
            let seen: std::collections::BTreeSet<FrameIndex> = hits.iter().map(|h| h.0).collect();
            out.push(Finding {
                kind: "reference".into(),
                shot,
                name: reference.name.clone(),
                identity: None,
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
/// With a spill file (in a worker process) the images wait there, so that what this map
/// holds does not grow with the images of a long video.
#[derive(Default)]
pub(super) struct EvidenceMap {
    faces: std::collections::HashMap<(usize, usize), (f32, FrameIndex, Evidence)>,
    /// The best hit's (inliers, frame share, frame), see [`ref_order`], and its evidence.
    refs: std::collections::HashMap<(usize, usize), (RefRank, Evidence)>,
    spill: Option<Spill>,
    /// Gallery images already spilled, by their base64 (one copy however many findings).
    spilled_references: std::collections::HashMap<String, Jpeg>,
}

impl EvidenceMap {
    pub(super) fn new(spill: Option<Spill>) -> Self {
        Self {
            spill,
            ..Self::default()
        }
    }

    /// `e` with its images moved to the spill file, if there is one.
    fn keep(&mut self, mut e: Evidence) -> Evidence {
        if let Some(spill) = self.spill.as_mut() {
            for j in e.images_mut() {
                *j = spill.take(std::mem::replace(j, Jpeg::Inline(String::new())));
            }
        }
        e
    }

    /// Face evidence for (shot, person) from a face at `distance` on `frame`, kept when it
    /// beats what is kept. Ties go to the earlier frame, as in the finding's choice of its
    /// best frame, so the evidence kept is the best frame's whatever order the workers
    /// finish in.
    fn keep_face(&mut self, key: (usize, usize), distance: f32, frame: FrameIndex, e: Evidence) {
        if self
            .faces
            .get(&key)
            .is_none_or(|b| (distance, frame) < (b.0, b.1))
        {
            let e = self.keep(e);
            self.faces.insert(key, (distance, frame, e));
        }
    }

    /// A gallery image (base64) for a finding's evidence, spilled once however often used.
    fn reference(&mut self, b64: Option<&String>) -> Option<Jpeg> {
        let b64 = b64?;
        let Some(spill) = self.spill.as_mut() else {
            return Some(Jpeg::Inline(b64.clone()));
        };
        Some(
            self.spilled_references
                .entry(b64.clone())
                .or_insert_with(|| spill.take(Jpeg::Inline(b64.clone())))
                .clone(),
        )
    }
}

/// Which face evidence is worth capturing while workers run: a frame's (distance, frame)
/// must beat the best claimed so far for its shot and person. The best frame of each is
/// always captured (nothing before it can beat it), so the evidence kept is the same as when
/// every frame is captured, in whatever order the workers go.
#[derive(Default)]
pub(super) struct EvidenceGate(
    std::sync::Mutex<std::collections::HashMap<(usize, usize), (f32, FrameIndex)>>,
);

impl EvidenceGate {
    /// True (and recorded) when (distance, frame) beats the best so far of (shot, person).
    pub(super) fn claim(
        &self,
        shot: usize,
        person: usize,
        distance: f32,
        frame: FrameIndex,
    ) -> bool {
        let Ok(mut best) = self.0.lock() else {
            return true;
        };
        let better = best
            .get(&(shot, person))
            .is_none_or(|b| (distance, frame) < *b);
        if better {
            best.insert((shot, person), (distance, frame));
        }
        better
    }
}

/// What the models saw on one sampled frame.
pub(super) struct FrameResult {
    pub(super) index: FrameIndex,
    pub(super) shot: usize,
    pub(super) faces: Vec<Observation>,
    pub(super) refs: Vec<RefHit>,
    /// Whether references were checked on this frame.
    pub(super) refs_checked: bool,
    /// Whether that check searched the whole frame (else it re-verified what the shot's last
    /// search found: `scan::refgate`).
    pub(super) refs_searched: bool,
    /// The earlier shot whose searched picture the check followed, if it did.
    pub(super) refs_from: Option<usize>,
}

/// What a worker sends the collector: a sample's result, or face evidence made after it
/// (when its shot ended on that worker, `held`).
pub(super) enum Collected {
    Frame(FrameResult),
    Evidence(LateEvidence),
}

pub(super) fn collect(
    rx: crossbeam_channel::Receiver<Result<Collected, WorkerError>>,
    spill: Option<Spill>,
) -> Result<(Vec<FrameResult>, EvidenceMap), WorkerError> {
    let mut frames: Vec<FrameResult> = Vec::new();
    // One result per sample: its faces and its reference check come from its shot's worker.
    let mut best = EvidenceMap::new(spill);
    for r in rx {
        let mut f = match r? {
            Collected::Frame(f) => f,
            Collected::Evidence(e) => {
                best.keep_face((e.shot, e.person), e.distance, e.frame, *e.evidence);
                continue;
            }
        };
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
                let e = best.keep(*e);
                best.refs.insert(key, (rank, e));
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

/// Records a file's provenance and, when the policy flags it, a file-level finding at the
/// file's first frame (shot 0), named `provenance` so an approval (`"who": "provenance"`)
/// covers it like any other finding.
pub(super) fn add_provenance(
    report: &mut FileReport,
    p: crate::provenance::Provenance,
    ai: policy::Severity,
) {
    if let Some((severity, reason)) = policy::provenance(&p, ai) {
        let tc = report.media.start_timecode.to_string();
        report.findings.push(Finding {
            kind: crate::report::PROVENANCE.into(),
            shot: 0,
            name: crate::report::PROVENANCE.into(),
            identity: None,
            consent: None,
            reference: None,
            severity,
            reason,
            first_frame: 0,
            last_frame: 0,
            tc_in: tc.clone(),
            tc_out: tc.clone(),
            frames_seen: 0,
            frames_matched: 0,
            largest_face_px: 0,
            distance: 0.0,
            threshold: 0.0,
            score: 1.0,
            best_frame: 0,
            best_tc: tc,
            best_box: [0.0; 4],
            approval: None,
            evidence: None,
            appearances: Vec::new(),
            all_scores: None,
        });
        crate::report::sort_findings(&mut report.findings);
    }
    report.provenance = Some(p);
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
}
