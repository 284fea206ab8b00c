//! Grouping unregistered faces into people on a labelled set (`scripts/make_unknown_eval.py`
//! writes one): scan every clip with `--unknown` and an empty gallery, group the batch as a
//! scan's report does ([`crate::unknown::group`]), and score the people against the labels.
//!
//! Each reported appearance is labelled by the face put nearest its box. **Purity**: the
//! share of reported people whose appearances are all one identity (a person mixing two is a
//! false merge). **Completeness**: the share of the recurring people's labelled appearances
//! (faces of at least `min_face_px`) that land in the reported person holding most of that
//! identity's appearances.

use super::EvalError;
use crate::face::cluster;
use crate::face::detect::HardFaces;
use crate::face::embed::Embedding;
use crate::models::{Metric, ModelSet};
use crate::report::FileReport;
use crate::scan::{RefSet, ScanOptions, Scanner};
use crate::timecode::FrameIndex;
use crate::unknown::UnknownSettings;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// labels.json of the set.
#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    /// `tune` or `heldout`.
    #[serde(default)]
    pub split: String,
    /// The clips.
    pub clips: Vec<Clip>,
}

/// One clip.
#[derive(Debug, Clone, Deserialize)]
pub struct Clip {
    /// Video path, relative to the labels file.
    pub path: String,
    /// Its shots.
    pub shots: Vec<Shot>,
}

/// One shot and the faces put in it.
#[derive(Debug, Clone, Deserialize)]
pub struct Shot {
    /// First frame (inclusive).
    pub first_frame: FrameIndex,
    /// Last frame (inclusive).
    pub last_frame: FrameIndex,
    /// The faces.
    pub faces: Vec<FaceLabel>,
    /// What was done to the whole shot (`soft`, `dark`), if anything.
    #[serde(default)]
    pub effect: Option<String>,
}

/// One face put in a shot.
#[derive(Debug, Clone, Deserialize)]
pub struct FaceLabel {
    /// Who (one-off strangers have an identity of their own).
    pub identity: String,
    /// Comes back in other shots.
    pub recurring: bool,
    /// Centre on the frame, pixels.
    pub centre: [f32; 2],
    /// Face width, pixels.
    pub face_px: u32,
    /// In-plane turn, degrees.
    #[serde(default)]
    pub roll_deg: f32,
    /// Flipped left to right.
    #[serde(default)]
    pub mirrored: bool,
}

/// An expected appearance that did not land in its identity's main person, and why it may
/// not have (`eval-unknown --details`).
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// The clip.
    pub clip: String,
    /// Shot index in the clip.
    pub shot: usize,
    /// Who.
    pub identity: String,
    /// Face width put there, pixels.
    pub face_px: u32,
    /// In-plane turn put there, degrees.
    pub roll_deg: f32,
    /// Flipped.
    pub mirrored: bool,
    /// The shot's effect, if any.
    pub effect: Option<String>,
    /// Tracks of the scan that are this face (0: the detector or tracker lost it).
    pub tracks: usize,
    /// Of those, tracks whose every kept face was fed to the embedder as a dim chip.
    pub dim_tracks: usize,
    /// Of those, tracks whose faces stayed under the grouping's smallest face (never grouped).
    pub small_tracks: usize,
    /// The reported people other than the identity's main one that hold a track of this
    /// face, each with its number of appearances (none: its tracks joined no reported
    /// person, such as a one-shot group).
    pub in_people: Vec<(String, usize)>,
    /// Nearest track of the same identity in another shot (mean distance between their
    /// faces, as the grouping's link reads it).
    pub nearest_same: Option<f32>,
    /// Nearest track that is in the identity's main person (grouped there, not merely of a
    /// shot that person appears in).
    pub nearest_main: Option<f32>,
    /// The same by the faces nearest each other (what a lone view's join reads against
    /// `attach`).
    pub nearest_main_faces: Option<f32>,
    /// Nearest track of another identity.
    pub nearest_other: Option<f32>,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = |v: Option<f32>| v.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
        write!(
            f,
            "missed {} shot {} {}: {} px, roll {}, {}{}: ",
            self.clip,
            self.shot + 1,
            self.identity,
            self.face_px,
            self.roll_deg,
            if self.mirrored { "mirrored, " } else { "" },
            self.effect.as_deref().unwrap_or("clean")
        )?;
        if self.tracks == 0 {
            return write!(f, "never tracked");
        }
        write!(f, "{} track(s)", self.tracks)?;
        if self.dim_tracks > 0 {
            write!(f, ", {} dim", self.dim_tracks)?;
        }
        if self.small_tracks > 0 {
            write!(f, ", {} too small to group", self.small_tracks)?;
        }
        if self.in_people.is_empty() {
            write!(f, ", in no reported person")?;
        }
        for (id, n) in &self.in_people {
            write!(f, ", in {id} ({n} appearance(s))")?;
        }
        write!(
            f,
            "; nearest same identity {} (in its main person {}; by nearest faces {}), nearest other {}",
            d(self.nearest_same),
            d(self.nearest_main),
            d(self.nearest_main_faces),
            d(self.nearest_other)
        )
    }
}

/// The scored result for one set of grouping settings.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownEval {
    /// Settings the grouping ran with.
    pub settings: UnknownSettings,
    /// Reported people.
    pub people: usize,
    /// Of those, people whose appearances are all one identity.
    pub pure: usize,
    /// People mixing two identities or more.
    pub false_merges: usize,
    /// People that are a one-off stranger (cannot recur: a false alarm).
    pub strangers_reported: usize,
    /// Labelled appearances of recurring people (faces >= min_face_px).
    pub expected: usize,
    /// Of those, in their identity's main person.
    pub complete: usize,
    /// Of the expected appearances not complete, those no track of the scan was (the
    /// detector or tracker lost the face; the grouping never saw it).
    pub untracked: usize,
    /// Recurring identities spread over more than one person.
    pub split_identities: usize,
    /// Recurring identities with no person at all.
    pub missing_identities: usize,
    /// Reported appearances matching no labelled face.
    pub unlabelled: usize,
    /// Per person: id and each appearance (identity, clip and shot).
    pub detail: Vec<(String, Vec<String>)>,
    /// The expected appearances not complete.
    pub misses: Vec<Miss>,
}

impl UnknownEval {
    /// Pure people / people (1 when there are none).
    pub fn purity(&self) -> f64 {
        ratio(self.pure, self.people)
    }

    /// Complete appearances / expected.
    pub fn completeness(&self) -> f64 {
        ratio(self.complete, self.expected)
    }

    /// One line: the figures the gate reads.
    pub fn summary(&self, min_face_px: u32) -> String {
        let c = &self.settings.cluster;
        format!(
            "link {:.2} merge {:.2} attach {:.2}: purity {:.1}% ({}/{} people, {} false merges), completeness {:.1}% ({}/{} appearances of recurring people, faces >= {min_face_px} px; {} of the misses never tracked); {} identities split, {} missing, {} strangers reported, {} unlabelled appearances",
            c.link,
            c.merge,
            c.attach,
            100.0 * self.purity(),
            self.pure,
            self.people,
            self.false_merges,
            100.0 * self.completeness(),
            self.complete,
            self.expected,
            self.untracked,
            self.split_identities,
            self.missing_identities,
            self.strangers_reported,
            self.unlabelled
        )
    }
}

/// (clip, shot index, identity) of a labelled face.
type Labelled = (String, usize, String);

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Reads and checks labels.json: every clip must exist.
pub fn read_labels(path: &Path) -> Result<Labels, EvalError> {
    super::read_clip_labels(path, |l: &Labels| {
        l.clips.iter().map(|c| c.path.as_str()).collect()
    })
}

/// Scans every clip of the set with `--unknown`, an empty gallery and `hard` (the scan is
/// the slow part: [`score`] then groups its reports with any settings).
pub fn scan(
    models: ModelSet,
    labels_path: &Path,
    hard: HardFaces,
) -> Result<(Labels, Vec<FileReport>), EvalError> {
    let labels = read_labels(labels_path)?;
    let base = labels_path.parent().unwrap_or(Path::new("."));
    let mut opts = ScanOptions::new(time::OffsetDateTime::now_utc().date());
    opts.references = false;
    opts.unknown = true;
    opts.detect.hard = hard;
    let mut scanner = Scanner::new(models, opts, Vec::new(), RefSet::default())?;
    let mut files = Vec::new();
    for clip in &labels.clips {
        files.push(scanner.scan_file(&base.join(&clip.path), &mut ())?);
    }
    Ok((labels, files))
}

/// Groups `files` (a copy) with `settings` and scores the people against `labels`.
pub fn score(
    labels: &Labels,
    files: &[FileReport],
    settings: &UnknownSettings,
    metric: Metric,
    min_face_px: u32,
) -> UnknownEval {
    // Which labelled clip each scanned file is (same order).
    let clip_of: BTreeMap<PathBuf, &Clip> = files
        .iter()
        .zip(&labels.clips)
        .map(|(f, c)| (f.path.clone(), c))
        .collect();
    // The labelled faces some track of the scan is (before grouping): an appearance missing
    // from here was lost by the detector or tracker, not by the grouping.
    let mut tracks: Vec<Track> = files
        .iter()
        .flat_map(|f| {
            let clip_of = &clip_of;
            f.unknown_tracks.iter().filter_map(move |t| {
                label_of(clip_of, &f.path, t.best_frame, t.best_box).map(|label| Track {
                    label,
                    embeddings: &t.embeddings,
                    dim: t.dim,
                    grouped: t.largest_face_px >= settings.min_face_px,
                    person: None,
                })
            })
        })
        .collect();
    let tracked: BTreeSet<Labelled> = tracks.iter().map(|t| t.label.clone()).collect();
    let mut grouped = files.to_vec();
    let people = crate::unknown::group(&mut grouped, settings, metric);
    // Which person each track went to: an appearance carries its tracks' embeddings.
    for t in &mut tracks {
        t.person = t.embeddings.first().and_then(|e| {
            people.iter().position(|p| {
                p.appearances
                    .iter()
                    .any(|a| a.embeddings.iter().any(|x| x == e))
            })
        });
    }
    let mut unlabelled = 0;
    // Per person, per appearance: the (clip, shot, identity) it is.
    let mut who: Vec<(String, Vec<Labelled>)> = Vec::new();
    for p in &people {
        let mut apps = Vec::new();
        for a in &p.appearances {
            match label_of(&clip_of, &a.file, a.best_frame, a.best_box) {
                Some(l) => apps.push(l),
                None => unlabelled += 1,
            }
        }
        who.push((p.id.clone(), apps));
    }
    let mut eval = UnknownEval {
        settings: *settings,
        people: people.len(),
        pure: 0,
        false_merges: 0,
        strangers_reported: 0,
        expected: 0,
        complete: 0,
        untracked: 0,
        split_identities: 0,
        missing_identities: 0,
        unlabelled,
        detail: who
            .iter()
            .map(|(id, apps)| {
                let name = |clip: &str| {
                    Path::new(clip)
                        .file_stem()
                        .map_or_else(|| clip.to_string(), |s| s.to_string_lossy().into_owned())
                };
                let apps = apps
                    .iter()
                    .map(|(clip, shot, who)| format!("{who} ({} shot {})", name(clip), shot + 1))
                    .collect();
                (id.clone(), apps)
            })
            .collect(),
        misses: Vec::new(),
    };
    let recurring: BTreeSet<&str> = labels
        .clips
        .iter()
        .flat_map(|c| &c.shots)
        .flat_map(|s| &s.faces)
        .filter(|f| f.recurring)
        .map(|f| f.identity.as_str())
        .collect();
    for (_, apps) in &who {
        let ids: BTreeSet<&str> = apps.iter().map(|a| a.2.as_str()).collect();
        match ids.len() {
            0 | 1 => eval.pure += 1,
            _ => eval.false_merges += 1,
        }
        if ids.len() == 1 && ids.iter().all(|i| !recurring.contains(i)) {
            eval.strangers_reported += 1;
        }
    }
    for identity in &recurring {
        // Its main person: the one with most of its appearances.
        let counts: Vec<usize> = who
            .iter()
            .map(|(_, apps)| apps.iter().filter(|a| a.2 == *identity).count())
            .collect();
        let main = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
            .filter(|(_, n)| **n > 0)
            .map(|(i, _)| i);
        match counts.iter().filter(|n| **n > 0).count() {
            0 => eval.missing_identities += 1,
            1 => {}
            _ => eval.split_identities += 1,
        }
        for (clip, shot, labelled, face) in labelled_appearances(labels, identity, min_face_px) {
            eval.expected += 1;
            let found = main.is_some_and(|m| {
                who[m]
                    .1
                    .iter()
                    .any(|a| a.0 == clip && a.1 == shot && a.2 == *identity)
            });
            let key = (clip, shot, identity.to_string());
            if found {
                eval.complete += 1;
                continue;
            }
            if !tracked.contains(&key) {
                eval.untracked += 1;
            }
            let effect = labelled.effect.clone();
            let ctx = MissContext {
                tracks: &tracks,
                people: &people,
                main,
                metric,
            };
            eval.misses.push(ctx.miss(key, (face, effect)));
        }
    }
    eval
}

/// (clip, shot index, shot, face) of each labelled appearance of `identity` with a face of
/// at least `min_px`.
fn labelled_appearances<'a>(
    labels: &'a Labels,
    identity: &'a str,
    min_px: u32,
) -> Vec<(String, usize, &'a Shot, &'a FaceLabel)> {
    labels
        .clips
        .iter()
        .flat_map(|c| {
            c.shots.iter().enumerate().filter_map(move |(i, s)| {
                s.faces
                    .iter()
                    .find(|f| f.identity == identity && f.face_px >= min_px)
                    .map(|f| (c.path.clone(), i, s, f))
            })
        })
        .collect()
}

/// A track of the scan that is a labelled face.
struct Track<'a> {
    label: Labelled,
    embeddings: &'a [Embedding],
    dim: bool,
    /// Large enough for the grouping to take it.
    grouped: bool,
    /// The reported person (index) it went to.
    person: Option<usize>,
}

/// What [`MissContext::miss`] reads: the scan's tracks, the people they were grouped into,
/// and the identity's main person.
struct MissContext<'a> {
    tracks: &'a [Track<'a>],
    people: &'a [crate::unknown::UnknownPerson],
    main: Option<usize>,
    metric: Metric,
}

impl MissContext<'_> {
    /// What is known of a missed appearance: its label, where its tracks (if any) went, and
    /// how near they came to the same identity elsewhere, to the tracks of its main person
    /// and to anyone else.
    fn miss(&self, key: Labelled, (face, effect): (&FaceLabel, Option<String>)) -> Miss {
        let mine: Vec<&Track> = self.tracks.iter().filter(|t| t.label == key).collect();
        let by = |distance: fn(&[Embedding], &[Embedding], Metric) -> f32,
                  keep: &dyn Fn(&Track) -> bool| {
            mine.iter()
                .flat_map(|a| {
                    self.tracks
                        .iter()
                        .filter(|b| (b.label.0 != key.0 || b.label.1 != key.1) && keep(b))
                        .map(|b| distance(a.embeddings, b.embeddings, self.metric))
                })
                .min_by(f32::total_cmp)
        };
        let nearest = |keep: &dyn Fn(&Track) -> bool| by(cluster::track_distance, keep);
        let in_main = |b: &Track| b.person.is_some() && b.person == self.main;
        let in_people: BTreeSet<usize> = mine
            .iter()
            .filter_map(|t| t.person)
            .filter(|p| Some(*p) != self.main)
            .collect();
        Miss {
            nearest_same: nearest(&|b| b.label.2 == key.2),
            nearest_main: nearest(&in_main),
            nearest_main_faces: by(cluster::nearest_faces_distance, &in_main),
            nearest_other: nearest(&|b| b.label.2 != key.2),
            tracks: mine.len(),
            dim_tracks: mine.iter().filter(|t| t.dim).count(),
            small_tracks: mine.iter().filter(|t| !t.grouped).count(),
            in_people: in_people
                .into_iter()
                .map(|p| (self.people[p].id.clone(), self.people[p].appearances.len()))
                .collect(),
            face_px: face.face_px,
            roll_deg: face.roll_deg,
            mirrored: face.mirrored,
            effect,
            clip: key.0,
            shot: key.1,
            identity: key.2,
        }
    }
}

/// The labelled face an appearance is: in the labelled shot holding its frames, the face
/// whose centre is nearest its box's (within the face's size).
fn label_of(
    clip_of: &BTreeMap<PathBuf, &Clip>,
    file: &Path,
    frame: FrameIndex,
    bbox: [f32; 4],
) -> Option<Labelled> {
    let clip = clip_of.get(file)?;
    let (si, shot) = clip
        .shots
        .iter()
        .enumerate()
        .find(|(_, s)| s.first_frame <= frame && frame <= s.last_frame)?;
    let [x, y, w, h] = bbox;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (d, face) = shot
        .faces
        .iter()
        .map(|f| ((f.centre[0] - cx).hypot(f.centre[1] - cy), f))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (d <= (face.face_px as f32).max(w.max(h)))
        .then(|| (clip.path.clone(), si, face.identity.clone()))
}

#[cfg(test)]
#[path = "unknown_tests.rs"]
mod tests;
