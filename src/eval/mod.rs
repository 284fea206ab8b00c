//! Identification accuracy on a labelled photo set: enroll its gallery in memory (never in
//! the user's gallery), scan its queries, count registered faces found and false matches,
//! and show how both move with the threshold.

use crate::face::matching::Matcher;
use crate::gallery::{Consent, ConsentRecord, Talent};
use crate::media;
use crate::scan::Scanner;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub mod unknown;
pub mod video;

/// Reads a labels file of clips: parsed, with at least one clip, each of which exists
/// (relative to the file's folder); `clips` lists the clip paths of the parsed labels.
pub(crate) fn read_clip_labels<T: serde::de::DeserializeOwned>(
    path: &Path,
    clips: fn(&T) -> Vec<&str>,
) -> Result<T, EvalError> {
    let bad = |cause: String| EvalError::Labels {
        path: path.display().to_string(),
        cause,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let labels: T = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let paths = clips(&labels);
    if paths.is_empty() {
        return Err(bad("no clips".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(c) = paths.iter().find(|c| !base.join(c).is_file()) {
        return Err(bad(format!("clip {c} does not exist")));
    }
    Ok(labels)
}

/// Errors of the evaluation command.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// labels.json unreadable or malformed.
    #[error("{path}: {cause}")]
    Labels {
        /// Labels path.
        path: String,
        /// Cause.
        cause: String,
    },
    /// A gallery photo failed.
    #[error("{0}")]
    Gallery(String),
    /// A model failed.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A worker could not load its models.
    #[error(transparent)]
    Worker(#[from] crate::scan::WorkerError),
    /// A clip could not be scanned.
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
}

#[derive(Deserialize)]
struct Labels {
    gallery: BTreeMap<String, Vec<String>>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    path: String,
    persons: Vec<String>,
    #[serde(default)]
    unregistered_faces: usize,
}

/// Per-face result: expected identities of its photo, best person and distance.
struct FaceResult {
    query: usize,
    best: Option<(String, f32)>,
}

/// Runs the evaluation, printing one line per query through `out`; returns the summary.
pub fn run(
    scanner: &mut Scanner,
    labels_path: &Path,
    out: &mut dyn FnMut(String),
) -> Result<String, EvalError> {
    let bad = |cause: String| EvalError::Labels {
        path: labels_path.display().to_string(),
        cause,
    };
    let text = std::fs::read_to_string(labels_path).map_err(|e| bad(e.to_string()))?;
    let labels: Labels = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let base = labels_path.parent().unwrap_or(Path::new("."));
    let spec = scanner.models.embedder_spec().clone();
    let threshold = scanner.opts.threshold.unwrap_or(spec.match_threshold);
    let empty = Matcher::new(&[], spec.metric, threshold);
    let Some(worker) = scanner.worker() else {
        return Err(EvalError::Gallery("no worker".into()));
    };

    let talent = enroll_gallery(worker, &empty, base, &labels.gallery, out)?;
    let matcher = Matcher::new(&talent, spec.metric, threshold);

    let mut faces = Vec::new();
    let mut failed = 0;
    for (qi, q) in labels.queries.iter().enumerate() {
        let img = match media::load_still(&base.join(&q.path)) {
            Ok(i) => i,
            Err(e) => {
                out(format!("FAILED {e}"));
                failed += 1;
                continue;
            }
        };
        let obs = worker.analyse(0, &img, &matcher, false)?;
        let mut found = Vec::new();
        for o in &obs {
            let best = o
                .ranking
                .first()
                .map(|c| (matcher.name(c.person).to_string(), c.distance));
            if let Some((n, d)) = &best {
                if *d <= threshold {
                    let mark = if q.persons.contains(n) { "" } else { " FALSE" };
                    found.push(format!("{n} {d:.3}{mark}"));
                }
            }
            faces.push(FaceResult { query: qi, best });
        }
        let missing: Vec<&String> = q
            .persons
            .iter()
            .filter(|p| {
                !faces.iter().any(|f| {
                    f.query == qi
                        && f.best
                            .as_ref()
                            .is_some_and(|(n, d)| n == *p && *d <= threshold)
                })
            })
            .collect();
        out(format!(
            "{}: {} faces (expected {}), found [{}]{}",
            q.path,
            obs.len(),
            q.persons.len() + q.unregistered_faces,
            found.join(", "),
            if missing.is_empty() {
                String::new()
            } else {
                format!(
                    " MISSED {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }

    let score = |thr: f32| {
        let mut found = 0;
        let mut expected = 0;
        for (qi, q) in labels.queries.iter().enumerate() {
            let hits: BTreeSet<&str> = faces
                .iter()
                .filter(|f| f.query == qi)
                .filter_map(|f| f.best.as_ref())
                .filter(|(_, d)| *d <= thr)
                .map(|(n, _)| n.as_str())
                .collect();
            expected += q.persons.len();
            found += q
                .persons
                .iter()
                .filter(|p| hits.contains(p.as_str()))
                .count();
        }
        let false_matches = faces
            .iter()
            .filter_map(|f| f.best.as_ref().map(|b| (f.query, b)))
            .filter(|(qi, (n, d))| *d <= thr && !labels.queries[*qi].persons.contains(n))
            .count();
        let true_matches = faces
            .iter()
            .filter_map(|f| f.best.as_ref().map(|b| (f.query, b)))
            .filter(|(qi, (n, d))| *d <= thr && labels.queries[*qi].persons.contains(n))
            .count();
        (found, expected, false_matches, true_matches)
    };
    out("threshold sweep (distance: recall, false matches):".into());
    for step in 0..=10 {
        let t = threshold - 0.1 + 0.02 * step as f32;
        let (f, e, fm, _) = score(t);
        out(format!("  {t:.2}: {f}/{e}, {fm}"));
    }
    let (found, expected, false_matches, true_matches) = score(threshold);
    let precision = if true_matches + false_matches == 0 {
        1.0
    } else {
        true_matches as f64 / (true_matches + false_matches) as f64
    };
    Ok(format!(
        "threshold {threshold:.3}: recall {found}/{expected} ({:.1}%), precision {:.1}%, false matches {false_matches} over {} faces in {} photos, {failed} photos unreadable",
        100.0 * found as f64 / expected.max(1) as f64,
        100.0 * precision,
        faces.len(),
        labels.queries.len(),
    ))
}

/// Enrolls a labelled gallery in memory (never the user's gallery): the largest face of each
/// photo, photos relative to `base`. Consent is unknown: evaluation judges identity only.
pub(crate) fn enroll_gallery(
    worker: &mut crate::scan::Worker,
    empty: &Matcher,
    base: &Path,
    gallery: &BTreeMap<String, Vec<String>>,
    out: &mut dyn FnMut(String),
) -> Result<Vec<Talent>, EvalError> {
    let mut talent = Vec::new();
    for (name, photos) in gallery {
        let mut embeddings = Vec::new();
        for p in photos {
            let path = base.join(p);
            let img = media::load_still(&path).map_err(|e| EvalError::Gallery(e.to_string()))?;
            let obs = worker.analyse(0, &img, empty, false)?;
            if obs.len() != 1 {
                out(format!(
                    "note: {p}: {} faces, enrolling the largest",
                    obs.len()
                ));
            }
            match obs.into_iter().find_map(|o| o.embedding) {
                Some(e) => embeddings.push(e),
                None => return Err(EvalError::Gallery(format!("{p}: no usable face"))),
            }
        }
        talent.push(Talent {
            id: 0,
            name: name.clone(),
            consent: ConsentRecord {
                consent: Consent::Unknown,
                scope: None,
                expires: None,
            },
            added: String::new(),
            photos: embeddings.len(),
            embeddings,
            reference_jpeg: None,
        });
    }
    Ok(talent)
}
