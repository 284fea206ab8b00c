//! People nobody registered (`scan --unknown`). Each file's scan keeps, for every face track
//! that matched nobody, a few of its embeddings and one small face crop ([`UnknownTrack`],
//! in the file's report as the journal stores it). Where the batch's report is assembled
//! (one machine, or the merge of a cluster's shards), [`group`] clusters those tracks over
//! every file into people ([`crate::face::cluster`]), keeps the people seen in enough shots
//! or for long enough, and drops every other track's embeddings: the report carries the
//! biometric data of a person nobody registered only when they recur, and only so that the
//! user can enroll them (`gallery add --from-report`, see [`enroll`]).

pub mod enroll;

use crate::face::cluster::{self, ClusterParams, Span, TrackPoint};
use crate::face::embed::Embedding;
use crate::models::Metric;
use crate::policy::Severity;
use crate::report::{FileReport, Finding};
use crate::timecode::FrameIndex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Embeddings a track keeps (its largest faces): several, so one blurred or turned frame
/// does not decide who a track is.
pub const FACES_PER_TRACK: usize = 4;

/// One face track of one file that matched nobody in the gallery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownTrack {
    /// Shot index within the file.
    pub shot: usize,
    /// First sampled frame with the face.
    pub first_frame: FrameIndex,
    /// Last sampled frame with the face.
    pub last_frame: FrameIndex,
    /// Sampled frames with the face.
    pub frames_seen: usize,
    /// Largest face, longer box side, in pixels.
    pub largest_face_px: u32,
    /// The frame of the largest face.
    pub best_frame: FrameIndex,
    /// That face's box: x, y, width, height in pixels.
    pub best_box: [f32; 4],
    /// That face, cropped with some context (JPEG, base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_jpeg: Option<String>,
    /// Embeddings of the track's largest faces (at most [`FACES_PER_TRACK`]).
    pub embeddings: Vec<Embedding>,
    /// Every one of those faces was a dim view ([`crate::face::dim::for_embedder`]): the grouping
    /// lets a group of only dim views join a person as it lets a one-shot group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dim: bool,
}

/// When a group of unknown tracks is reported as a person (the `--unknown-*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnknownSettings {
    /// Distances that make one person.
    pub cluster: ClusterParams,
    /// Reported when seen in at least this many shots...
    pub min_shots: usize,
    /// ...or on screen for at least this many seconds in all.
    pub min_seconds: f64,
    /// Tracks whose largest face is smaller than this are not grouped (too few pixels for
    /// an embedding that tells look-alikes apart).
    pub min_face_px: u32,
}

impl Default for UnknownSettings {
    fn default() -> Self {
        Self {
            cluster: ClusterParams::default(),
            min_shots: 2,
            min_seconds: 10.0,
            min_face_px: 40,
        }
    }
}

impl UnknownSettings {
    /// Rejects settings that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        self.cluster.validate()?;
        if self.min_shots == 0 {
            return Err("--unknown-min-shots must be at least 1".into());
        }
        if !(self.min_seconds >= 0.0 && self.min_seconds.is_finite()) {
            return Err(format!(
                "--unknown-min-seconds must be a number of seconds, got {}",
                self.min_seconds
            ));
        }
        Ok(())
    }
}

/// How tight a person's group is: distances of each appearance's faces (their mean) to
/// the person's centre, against the link distance that made the group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cohesion {
    /// Median over the appearances.
    pub median_distance: f32,
    /// The farthest appearance.
    pub max_distance: f32,
    /// The link distance in force.
    pub link: f32,
}

/// One person nobody registered, recurring in the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownPerson {
    /// `U1`, `U2`, ... in order of first appearance (stable within the report).
    pub id: String,
    /// Shots they are seen in.
    pub shots: usize,
    /// Files they are seen in.
    pub files: usize,
    /// Seconds on screen, first to last sampled frame of each appearance.
    pub seconds: f64,
    /// How tight the group is.
    pub cohesion: Cohesion,
    /// Each shot they are seen in.
    pub appearances: Vec<UnknownAppearance>,
}

impl UnknownPerson {
    /// `3 shots in 2 files`.
    pub fn extent(&self) -> String {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        format!(
            "{} shot{} in {} file{}",
            self.shots,
            s(self.shots),
            self.files,
            s(self.files)
        )
    }
}

/// One person in one shot of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownAppearance {
    /// The file (as the report names it).
    pub file: PathBuf,
    /// Shot index within the file.
    pub shot: usize,
    /// First sampled frame.
    pub first_frame: FrameIndex,
    /// Last sampled frame.
    pub last_frame: FrameIndex,
    /// Timecode of `first_frame`.
    pub tc_in: String,
    /// Timecode of `last_frame`.
    pub tc_out: String,
    /// Sampled frames with their face.
    pub frames_seen: usize,
    /// Largest face, longer box side, in pixels.
    pub largest_face_px: u32,
    /// Frame of the representative face (the largest).
    pub best_frame: FrameIndex,
    /// Its timecode.
    pub best_tc: String,
    /// Its box: x, y, width, height in pixels.
    pub best_box: [f32; 4],
    /// Distance of this appearance's faces (their mean) to the person's centre.
    pub distance: f32,
    /// The representative face crop (JPEG, base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_jpeg: Option<String>,
    /// The embeddings of their faces here, for `gallery add --from-report`.
    pub embeddings: Vec<Embedding>,
}

impl UnknownAppearance {
    /// The file's name without its folder.
    pub fn file_name(&self) -> String {
        self.file.file_name().map_or_else(
            || self.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// Takes the unknown tracks out of every file, groups them over the batch and returns the
/// people to report; each appearance also becomes a `review` finding of its file (kind
/// `unknown`), so every marker writer lists it. Tracks of no reported person are dropped.
pub fn group(files: &mut [FileReport], s: &UnknownSettings, metric: Metric) -> Vec<UnknownPerson> {
    let mut tracks: Vec<(usize, UnknownTrack)> = Vec::new();
    for (fi, f) in files.iter_mut().enumerate() {
        for t in std::mem::take(&mut f.unknown_tracks) {
            if t.largest_face_px >= s.min_face_px && !t.embeddings.is_empty() {
                tracks.push((fi, t));
            }
        }
    }
    let points: Vec<TrackPoint> = tracks
        .iter()
        .map(|(fi, t)| TrackPoint {
            embeddings: &t.embeddings,
            span: Span {
                file: *fi,
                shot: t.shot,
                first: t.first_frame,
                last: t.last_frame,
            },
            dim: t.dim,
        })
        .collect();
    let groups = cluster::cluster(&points, metric, &s.cluster).groups;
    let mut people: Vec<UnknownPerson> = groups
        .into_iter()
        .filter_map(|g| person(files, &tracks, &g, s, metric))
        .collect();
    people.sort_by_key(|p| {
        p.appearances
            .first()
            .map(|a| (file_index(files, &a.file), a.first_frame))
    });
    for (i, p) in people.iter_mut().enumerate() {
        p.id = format!("U{}", i + 1);
    }
    for p in &people {
        for a in &p.appearances {
            if let Some(fi) = file_index(files, &a.file) {
                let f = appearance_finding(p, a, s.cluster.link);
                files[fi].findings.push(f);
            }
        }
    }
    for f in files.iter_mut() {
        crate::report::sort_findings(&mut f.findings);
    }
    people
}

fn file_index(files: &[FileReport], path: &std::path::Path) -> Option<usize> {
    files.iter().position(|f| f.path == path)
}

/// A group of tracks as a person, when seen in enough shots or for long enough.
fn person(
    files: &[FileReport],
    tracks: &[(usize, UnknownTrack)],
    group: &[usize],
    s: &UnknownSettings,
    metric: Metric,
) -> Option<UnknownPerson> {
    // One appearance per (file, shot): a person who leaves the frame and comes back.
    let mut by_shot: std::collections::BTreeMap<(usize, usize), Vec<&UnknownTrack>> =
        Default::default();
    for &i in group {
        let (fi, t) = &tracks[i];
        by_shot.entry((*fi, t.shot)).or_default().push(t);
    }
    let seconds: f64 = by_shot
        .iter()
        .map(|((fi, _), ts)| {
            let first = ts.iter().map(|t| t.first_frame).min().unwrap_or(0);
            let last = ts.iter().map(|t| t.last_frame).max().unwrap_or(0);
            let rate = files[*fi].media.frame_rate;
            if rate.num == 0 || rate.den == 0 {
                0.0
            } else {
                last.saturating_sub(first).saturating_add(1) as f64 * f64::from(rate.den)
                    / f64::from(rate.num)
            }
        })
        .sum();
    if by_shot.len() < s.min_shots && seconds < s.min_seconds {
        return None;
    }
    let prepared = |e: &Embedding| -> Vec<f32> {
        match metric {
            Metric::Euclidean => e.0.clone(),
            Metric::Cosine => {
                let n = e.0.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                e.0.iter().map(|v| v / n).collect()
            }
        }
    };
    let mean = |es: &mut dyn Iterator<Item = &Embedding>| -> Vec<f32> {
        let mut sum: Vec<f32> = Vec::new();
        let mut n = 0.0;
        for e in es {
            let v = prepared(e);
            if sum.is_empty() {
                sum = vec![0.0; v.len()];
            }
            for (a, b) in sum.iter_mut().zip(&v) {
                *a += b;
            }
            n += 1.0;
        }
        sum.iter().map(|v| v / n).collect()
    };
    let centre = mean(&mut group.iter().flat_map(|&i| tracks[i].1.embeddings.iter()));
    let dist = |v: &[f32]| -> f32 {
        v.iter()
            .zip(&centre)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    };
    let appearances: Vec<UnknownAppearance> = by_shot
        .iter()
        .filter_map(|((fi, shot), ts)| {
            let f = &files[*fi];
            let tc = |fr: FrameIndex| f.media.start_timecode.add_frames(fr).to_string();
            let best = ts
                .iter()
                .max_by_key(|t| (t.largest_face_px, std::cmp::Reverse(t.best_frame)))?;
            let first = ts.iter().map(|t| t.first_frame).min()?;
            let last = ts.iter().map(|t| t.last_frame).max()?;
            let embeddings: Vec<Embedding> = ts
                .iter()
                .flat_map(|t| t.embeddings.iter().cloned())
                .collect();
            let distance = dist(&mean(&mut embeddings.iter()));
            Some(UnknownAppearance {
                file: f.path.clone(),
                shot: *shot,
                first_frame: first,
                last_frame: last,
                tc_in: tc(first),
                tc_out: tc(last),
                frames_seen: ts.iter().map(|t| t.frames_seen).sum(),
                largest_face_px: best.largest_face_px,
                best_frame: best.best_frame,
                best_tc: tc(best.best_frame),
                best_box: best.best_box,
                distance,
                crop_jpeg: best.crop_jpeg.clone(),
                embeddings,
            })
        })
        .collect();
    let mut d: Vec<f32> = appearances.iter().map(|a| a.distance).collect();
    d.sort_by(f32::total_cmp);
    let cohesion = Cohesion {
        median_distance: d.get(d.len() / 2).copied().unwrap_or(0.0),
        max_distance: d.last().copied().unwrap_or(0.0),
        link: s.cluster.link,
    };
    let files_seen: std::collections::BTreeSet<usize> = by_shot.keys().map(|k| k.0).collect();
    Some(UnknownPerson {
        id: String::new(),
        shots: by_shot.len(),
        files: files_seen.len(),
        seconds,
        cohesion,
        appearances,
    })
}

/// The finding that puts one appearance on its file's markers: severity `review` (a
/// recurring person nobody registered needs a release check).
fn appearance_finding(p: &UnknownPerson, a: &UnknownAppearance, link: f32) -> Finding {
    Finding {
        kind: "unknown".into(),
        shot: a.shot,
        name: format!("unknown person {}", p.id),
        identity: None,
        consent: None,
        reference: None,
        severity: Severity::Review,
        reason: format!(
            "not in the gallery; seen in {} shot{} of {} file{} ({:.1} s): check for a signed release",
            p.shots,
            if p.shots == 1 { "" } else { "s" },
            p.files,
            if p.files == 1 { "" } else { "s" },
            p.seconds
        ),
        first_frame: a.first_frame,
        last_frame: a.last_frame,
        tc_in: a.tc_in.clone(),
        tc_out: a.tc_out.clone(),
        frames_seen: a.frames_seen,
        frames_matched: a.frames_seen,
        largest_face_px: a.largest_face_px,
        distance: a.distance,
        threshold: link,
        score: (1.0 - a.distance / (2.0 * link)).clamp(0.0, 1.0),
        best_frame: a.best_frame,
        best_tc: a.best_tc.clone(),
        best_box: a.best_box,
        approval: None,
        evidence: None,
        appearances: Vec::new(),
        all_scores: None,
    }
}

#[cfg(test)]
mod tests;
