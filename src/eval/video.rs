//! Identification on a labelled video set (`scripts/make_face_video_eval.py` writes one):
//! enroll its gallery in memory, scan each clip with the normal scanner at default settings,
//! and score every labelled shot by the talent findings whose frames overlap it.
//!
//! Per registered person expected in a shot: `found` (a finding identifies them), `possible`
//! (only a possible match, flagged for review) or `missed`. A finding that names someone who
//! is not in the shot is a false identity (identified) or a false review flag (possible).

use super::{enroll_gallery, EvalError};
use crate::face::matching::Matcher;
use crate::face::track::Decision;
use crate::models::ModelSet;
use crate::report::{FileReport, Finding};
use crate::scan::{RefSet, ScanOptions, Scanner};
use crate::timecode::FrameIndex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// labels.json of a video set.
#[derive(Debug, Deserialize)]
pub struct Labels {
    /// `tune` or `heldout` (free text, for the printout).
    #[serde(default)]
    pub split: String,
    /// Person -> photos to enroll, relative to the labels file.
    pub gallery: BTreeMap<String, Vec<String>>,
    /// The clips and their shots.
    pub clips: Vec<Clip>,
}

/// One clip of the set.
#[derive(Debug, Deserialize)]
pub struct Clip {
    /// Video path, relative to the labels file.
    pub path: String,
    /// Its labelled shots.
    pub shots: Vec<Shot>,
}

/// One labelled shot.
#[derive(Debug, Clone, Deserialize)]
pub struct Shot {
    /// The case it tests (`roll90`, `face_24px`, ...).
    pub case: String,
    /// First frame (inclusive).
    pub first_frame: FrameIndex,
    /// Last frame (inclusive).
    pub last_frame: FrameIndex,
    /// Registered people visible in it.
    pub persons: Vec<String>,
    /// Faces of people nobody registered.
    #[serde(default)]
    pub unregistered_faces: usize,
    /// Width of the registered person's face, pixels.
    #[serde(default)]
    pub face_px: u32,
}

/// What happened to one registered person expected in a shot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A finding identifies them.
    Found,
    /// Only a possible match names them (flagged for review).
    Possible,
    /// No finding names them.
    Missed,
}

impl Outcome {
    /// As printed.
    pub fn word(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::Possible => "POSSIBLE",
            Self::Missed => "MISSED",
        }
    }
}

/// One expected person's result.
#[derive(Debug, Clone, Serialize)]
pub struct PersonResult {
    /// Who.
    pub name: String,
    /// Found, possible or missed.
    pub outcome: Outcome,
    /// The finding's distance, when one named them.
    pub distance: Option<f32>,
}

/// A finding that names someone who is not in the shot.
#[derive(Debug, Clone, Serialize)]
pub struct FalseFinding {
    /// Who it names.
    pub name: String,
    /// Identified (a false identity) or possible (a false review flag).
    pub decision: Decision,
    /// Its distance.
    pub distance: f32,
}

/// One labelled shot, scored.
#[derive(Debug, Clone, Serialize)]
pub struct ShotResult {
    /// Clip path as labelled.
    pub clip: String,
    /// The case.
    pub case: String,
    /// Labelled frames.
    pub first_frame: FrameIndex,
    /// Labelled frames (inclusive).
    pub last_frame: FrameIndex,
    /// Each expected person.
    pub persons: Vec<PersonResult>,
    /// Findings naming someone not in the shot.
    pub false_findings: Vec<FalseFinding>,
}

/// Counts over a set of shots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Shots.
    pub shots: usize,
    /// Expected registered appearances.
    pub expected: usize,
    /// Identified.
    pub found: usize,
    /// Flagged as possible.
    pub possible: usize,
    /// Missed.
    pub missed: usize,
    /// Findings identifying someone not in the shot.
    pub false_identities: usize,
    /// Possible matches naming someone not in the shot.
    pub false_review_flags: usize,
}

impl Totals {
    fn add(&mut self, r: &ShotResult) {
        self.shots += 1;
        for p in &r.persons {
            self.expected += 1;
            match p.outcome {
                Outcome::Found => self.found += 1,
                Outcome::Possible => self.possible += 1,
                Outcome::Missed => self.missed += 1,
            }
        }
        for f in &r.false_findings {
            match f.decision {
                Decision::Identified => self.false_identities += 1,
                Decision::Possible => self.false_review_flags += 1,
            }
        }
    }

    /// Found plus possible.
    pub fn hits(&self) -> usize {
        self.found + self.possible
    }

    /// False identities plus false review flags.
    pub fn false_total(&self) -> usize {
        self.false_identities + self.false_review_flags
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct VideoEval {
    /// The labels file.
    pub labels: String,
    /// Its split.
    pub split: String,
    /// Every shot.
    pub shots: Vec<ShotResult>,
    /// Totals per case.
    pub by_case: BTreeMap<String, Totals>,
    /// Totals over every shot.
    pub overall: Totals,
    /// Shots the scanner cut each clip into (clip -> count), for telling a missed cut.
    pub detected_shots: BTreeMap<String, usize>,
}

/// Scores one labelled shot against a clip's findings: talent findings whose first..last
/// frames overlap the shot's.
pub fn score_shot(clip: &str, shot: &Shot, findings: &[Finding]) -> ShotResult {
    let here: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == "talent")
        .filter(|f| f.first_frame <= shot.last_frame && f.last_frame >= shot.first_frame)
        .collect();
    let persons = shot
        .persons
        .iter()
        .map(|name| {
            let named: Vec<&&Finding> = here.iter().filter(|f| &f.name == name).collect();
            let best = |d: Decision| {
                named
                    .iter()
                    .filter(|f| f.decision() == d)
                    .map(|f| f.distance)
                    .min_by(f32::total_cmp)
            };
            let (outcome, distance) = match (best(Decision::Identified), best(Decision::Possible)) {
                (Some(d), _) => (Outcome::Found, Some(d)),
                (None, Some(d)) => (Outcome::Possible, Some(d)),
                (None, None) => (Outcome::Missed, None),
            };
            PersonResult {
                name: name.clone(),
                outcome,
                distance,
            }
        })
        .collect();
    let false_findings = here
        .iter()
        .filter(|f| !shot.persons.contains(&f.name))
        .map(|f| FalseFinding {
            name: f.name.clone(),
            decision: f.decision(),
            distance: f.distance,
        })
        .collect();
    ShotResult {
        clip: clip.to_string(),
        case: shot.case.clone(),
        first_frame: shot.first_frame,
        last_frame: shot.last_frame,
        persons,
        false_findings,
    }
}

/// Adds up shot results per case and overall.
pub fn totals(shots: &[ShotResult]) -> (BTreeMap<String, Totals>, Totals) {
    let mut by_case: BTreeMap<String, Totals> = BTreeMap::new();
    let mut overall = Totals::default();
    for s in shots {
        by_case.entry(s.case.clone()).or_default().add(s);
        overall.add(s);
    }
    (by_case, overall)
}

/// Reads and checks labels.json: every clip must exist and every shot be a frame range.
pub fn read_labels(path: &Path) -> Result<Labels, EvalError> {
    let bad = |cause: String| EvalError::Labels {
        path: path.display().to_string(),
        cause,
    };
    let labels: Labels = super::read_clip_labels(path, |l: &Labels| {
        l.clips.iter().map(|c| c.path.as_str()).collect()
    })?;
    for c in &labels.clips {
        for s in &c.shots {
            if s.last_frame < s.first_frame {
                return Err(bad(format!(
                    "{} shot {}: last_frame {} is before first_frame {}",
                    c.path, s.case, s.last_frame, s.first_frame
                )));
            }
            if let Some(p) = s.persons.iter().find(|p| !labels.gallery.contains_key(*p)) {
                return Err(bad(format!(
                    "{} shot {}: {p} is not in the gallery",
                    c.path, s.case
                )));
            }
        }
    }
    Ok(labels)
}

/// One line per shot: clip, case, expected people, outcome and distance, false findings.
pub fn shot_line(r: &ShotResult) -> String {
    let expected = if r.persons.is_empty() {
        "nobody".to_string()
    } else {
        r.persons
            .iter()
            .map(|p| match p.distance {
                Some(d) => format!("{} {} d={d:.3}", p.name, p.outcome.word()),
                None => format!("{} {}", p.name, p.outcome.word()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let falses = r
        .false_findings
        .iter()
        .map(|f| {
            let what = match f.decision {
                Decision::Identified => "FALSE IDENTITY",
                Decision::Possible => "FALSE REVIEW FLAG",
            };
            format!(" {what} {} d={:.3}", f.name, f.distance)
        })
        .collect::<String>();
    format!(
        "{:<16} {:<15} {:>4}-{:<4} {expected}{falses}",
        r.clip, r.case, r.first_frame, r.last_frame
    )
}

/// The per-case table and the overall line.
pub fn table(e: &VideoEval) -> String {
    let mut s = format!(
        "{:<15} {:>5} {:>5} {:>8} {:>6} {:>9} {:>12}\n",
        "CASE", "SHOTS", "FOUND", "POSSIBLE", "MISSED", "FALSE_ID", "FALSE_REVIEW"
    );
    let row = |name: &str, t: &Totals| {
        format!(
            "{name:<15} {:>5} {:>5} {:>8} {:>6} {:>9} {:>12}\n",
            t.shots, t.found, t.possible, t.missed, t.false_identities, t.false_review_flags
        )
    };
    for (case, t) in &e.by_case {
        s.push_str(&row(case, t));
    }
    s.push_str(&row("ALL", &e.overall));
    s
}

/// Enrolls the labels' gallery in memory, scans every clip at default settings and scores
/// every labelled shot. Prints progress and one line per shot through `out`.
pub fn run(
    models: ModelSet,
    labels_path: &Path,
    out: &mut dyn FnMut(String),
) -> Result<VideoEval, EvalError> {
    let labels = read_labels(labels_path)?;
    let base = labels_path.parent().unwrap_or(Path::new("."));
    let today = time::OffsetDateTime::now_utc().date();

    let mut one = ScanOptions::new(today);
    one.workers = 1;
    one.references = false;
    let mut enroller = Scanner::new(models.clone(), one, Vec::new(), RefSet::default())?;
    let spec = models.embedder_spec().clone();
    let empty = Matcher::new(&[], spec.metric, spec.match_threshold);
    let Some(worker) = enroller.worker() else {
        return Err(EvalError::Gallery("no worker".into()));
    };
    let talent = enroll_gallery(worker, &empty, base, &labels.gallery, out)?;
    drop(enroller);

    let mut opts = ScanOptions::new(today);
    opts.references = false;
    let mut scanner = Scanner::new(models, opts, talent, RefSet::default())?;
    let mut shots = Vec::new();
    let mut detected_shots = BTreeMap::new();
    for clip in &labels.clips {
        let report: FileReport = scanner.scan_file(&base.join(&clip.path), &mut ())?;
        detected_shots.insert(clip.path.clone(), report.shots.len());
        for shot in &clip.shots {
            let r = score_shot(&clip.path, shot, &report.findings);
            out(shot_line(&r));
            shots.push(r);
        }
    }
    let (by_case, overall) = totals(&shots);
    Ok(VideoEval {
        labels: labels_path.display().to_string(),
        split: labels.split,
        shots,
        by_case,
        overall,
        detected_shots,
    })
}

#[cfg(test)]
#[path = "video_tests.rs"]
mod tests;
