//! Recall and false alarms of the IP matcher on a labelled set (`labels.json`, written by
//! `scripts/make_ip_eval.py`): every reference is enrolled, every scene is matched against
//! all of them, and each reported match is scored against the scene's truth.

use super::{IpError, IpMatcher, RefImage};
use crate::face::detect::blazeface::iou;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One enrolled reference in `labels.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelRef {
    /// Identifier used by scenes.
    pub id: String,
    /// Image file relative to `labels.json`.
    pub file: String,
    /// logo, artwork, photo, character, ...
    pub kind: String,
}

/// A reference placed in a scene.
#[derive(Debug, Clone, Deserialize)]
pub struct Placement {
    /// Reference id.
    pub r#ref: String,
    /// Axis-aligned box (x0, y0, x1, y1) of its opaque part, in scene pixels.
    pub bbox: [f32; 4],
}

/// One scene in `labels.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Scene {
    /// Image file relative to `labels.json`.
    pub file: String,
    /// inset, full, negative, distractor.
    pub kind: String,
    /// References visible in the scene.
    #[serde(default)]
    pub refs: Vec<Placement>,
}

/// The label file.
#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    /// References to enroll.
    pub references: Vec<LabelRef>,
    /// Scenes to search.
    pub scenes: Vec<Scene>,
}

/// Below this IoU with its true box, a match of a reference that is in the scene counts as a
/// false alarm (somewhere else); from it to 0.5, as misplaced (on the reference, loose box).
pub const MISPLACED_IOU: f32 = 0.1;

/// Counts for one group (a scene kind or a reference kind).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Placed references.
    pub truth: usize,
    /// Of those, found with IoU >= 0.5.
    pub found: usize,
}

/// Outcome of an evaluation run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Scenes searched.
    pub scenes: usize,
    /// References enrolled.
    pub references: usize,
    /// Recall by scene kind (inset, full).
    pub by_scene_kind: BTreeMap<String, Tally>,
    /// Recall of inset scenes by reference kind.
    pub inset_by_ref_kind: BTreeMap<String, Tally>,
    /// Matches of a reference that is not in the scene (or far from where it is: its box
    /// overlaps the true one by less than [`MISPLACED_IOU`]).
    pub false_alarms: usize,
    /// Matches of a reference that is in the scene, on it but with a loose box (IoU with
    /// the true box at least [`MISPLACED_IOU`], below 0.5): not found, and not false alarms.
    pub misplaced: usize,
    /// Details of each misplaced match, as for false alarms.
    pub misplaced_details: Vec<String>,
    /// Scenes with at least one false alarm, by scene kind.
    pub false_alarm_scenes: BTreeMap<String, usize>,
    /// Found matches by stage (keypoints, tile).
    pub by_stage: BTreeMap<String, usize>,
    /// Mean milliseconds per scene in `match_frame`.
    pub ms_per_scene: f64,
    /// Details of each false alarm: scene file, reference id, inliers, cosine.
    pub false_alarm_details: Vec<String>,
    /// Placed references that were not found: scene file, reference id, truth box, and the
    /// best inlier count any attempt for it reached.
    pub missed_details: Vec<String>,
    /// Separation: the most inliers any attempt reached for a reference that is not in the
    /// scene (accepted or not), with where.
    pub wrong_max_inliers: u32,
    /// Scene, reference and stage of `wrong_max_inliers`.
    pub wrong_max_detail: String,
    /// Separation: the fewest inliers among correctly found references.
    pub found_min_inliers: Option<u32>,
}

impl Summary {
    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} scenes, {} references, {:.0} ms/scene\n",
            self.scenes, self.references, self.ms_per_scene
        );
        let pct = |t: &Tally| {
            if t.truth == 0 {
                0.0
            } else {
                100.0 * t.found as f64 / t.truth as f64
            }
        };
        for (k, t) in &self.by_scene_kind {
            s += &format!(
                "recall {k:<10} {:>4}/{:<4} {:5.1}%\n",
                t.found,
                t.truth,
                pct(t)
            );
        }
        for (k, t) in &self.inset_by_ref_kind {
            s += &format!(
                "  inset {k:<9} {:>4}/{:<4} {:5.1}%\n",
                t.found,
                t.truth,
                pct(t)
            );
        }
        s += &format!("found by stage: {:?}\n", self.by_stage);
        s += &format!(
            "false alarms: {} (scenes with one, by kind: {:?})\n",
            self.false_alarms, self.false_alarm_scenes
        );
        s += &format!(
            "misplaced: {} (the reference, on it with a loose box: counted as missed)\n",
            self.misplaced
        );
        s += &format!(
            "separation: found matches have >= {} inliers; absent references reached at most {} ({})\n",
            self.found_min_inliers.map_or("-".to_string(), |v| v.to_string()),
            self.wrong_max_inliers,
            self.wrong_max_detail
        );
        for d in &self.false_alarm_details {
            s += &format!("  FA {d}\n");
        }
        for d in &self.misplaced_details {
            s += &format!("  misplaced {d}\n");
        }
        for d in &self.missed_details {
            s += &format!("  missed {d}\n");
        }
        s
    }
}

fn open(path: &Path) -> Result<image::DynamicImage, IpError> {
    image::open(path).map_err(|e| IpError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// What matching one scene gave: the matches, every attempt, and the seconds it took.
type SceneResult = (Vec<super::IpMatch>, Vec<super::Attempt>, f64);

/// Runs the evaluation; `limit` caps the number of scenes (0 = all). The scenes are shared
/// among `matchers` (one thread each; a matcher keeps nothing between frames, so the summary
/// is the same however many there are).
pub fn run(
    labels_path: &Path,
    matchers: &mut [IpMatcher],
    limit: usize,
) -> Result<Summary, IpError> {
    let Some(first) = matchers.first_mut() else {
        return Ok(Summary::default());
    };
    let text = std::fs::read_to_string(labels_path).map_err(|e| IpError::File {
        path: labels_path.to_path_buf(),
        message: e.to_string(),
    })?;
    let labels: Labels = serde_json::from_str(&text).map_err(|e| IpError::File {
        path: labels_path.to_path_buf(),
        message: e.to_string(),
    })?;
    let dir: PathBuf = labels_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut refs: Vec<RefImage> = Vec::new();
    for r in &labels.references {
        refs.push(first.enroll(&r.id, &open(&dir.join(&r.file))?)?);
    }
    let kind_of: BTreeMap<&str, &str> = labels
        .references
        .iter()
        .map(|r| (r.id.as_str(), r.kind.as_str()))
        .collect();
    let mut sum = Summary {
        references: refs.len(),
        ..Summary::default()
    };
    let mut elapsed = 0.0;
    let scenes = if limit > 0 {
        &labels.scenes[..limit.min(labels.scenes.len())]
    } else {
        &labels.scenes[..]
    };
    let threads = matchers.len();
    let (refs, dir) = (&refs, &dir);
    let mut results: Vec<(usize, Result<SceneResult, IpError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = matchers
            .iter_mut()
            .enumerate()
            .map(|(t, matcher)| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (i, sc) in scenes.iter().enumerate().skip(t).step_by(threads) {
                        let r = open(&dir.join(&sc.file)).and_then(|img| {
                            let img = img.to_rgb8();
                            let t0 = Instant::now();
                            let found = matcher.match_frame(&img, refs)?;
                            let secs = t0.elapsed().as_secs_f64();
                            Ok((found, matcher.last_attempts().to_vec(), secs))
                        });
                        let failed = r.is_err();
                        out.push((i, r));
                        if failed {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // In scene order, as one thread would have gone: the first failure is the one reported.
    results.sort_by_key(|(i, _)| *i);
    for (expected, (i, r)) in (0..scenes.len()).zip(results) {
        if i != expected {
            // A thread that panicked left its scenes out.
            return Err(IpError::File {
                path: labels_path.to_path_buf(),
                message: format!("scene {expected}: its evaluation thread stopped"),
            });
        }
        let sc = &scenes[i];
        let (found, attempts, secs) = r?;
        elapsed += secs;
        sum.scenes += 1;
        for a in &attempts {
            let id = &labels.references[a.reference].id;
            if !sc.refs.iter().any(|p| &p.r#ref == id) && a.inliers > sum.wrong_max_inliers {
                sum.wrong_max_inliers = a.inliers;
                sum.wrong_max_detail =
                    format!("{} ({}): {} stage={:?}", sc.file, sc.kind, id, a.stage);
            }
        }
        let mut hit = vec![false; sc.refs.len()];
        let mut fa_here = 0;
        for m in &found {
            let id = &labels.references[m.reference].id;
            let ok = sc
                .refs
                .iter()
                .enumerate()
                .find(|(_, p)| &p.r#ref == id && iou(p.bbox, m.bbox) >= 0.5);
            match ok {
                Some((i, _)) => {
                    hit[i] = true;
                    sum.found_min_inliers = Some(
                        sum.found_min_inliers
                            .map_or(m.inliers, |v| v.min(m.inliers)),
                    );
                    let stage = serde_json::to_value(m.stage)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    *sum.by_stage.entry(stage).or_default() += 1;
                }
                None => {
                    let detail = format!(
                        "{} ({}): {} inliers={} cosine={:?} stage={:?} bbox={:?}",
                        sc.file, sc.kind, id, m.inliers, m.cosine, m.stage, m.bbox
                    );
                    let on_it = sc
                        .refs
                        .iter()
                        .any(|p| &p.r#ref == id && iou(p.bbox, m.bbox) >= MISPLACED_IOU);
                    if on_it {
                        sum.misplaced += 1;
                        sum.misplaced_details.push(detail);
                    } else {
                        fa_here += 1;
                        sum.false_alarm_details.push(detail);
                    }
                }
            }
        }
        sum.false_alarms += fa_here;
        if fa_here > 0 {
            *sum.false_alarm_scenes.entry(sc.kind.clone()).or_default() += 1;
        }
        for (p, h) in sc.refs.iter().zip(&hit) {
            if !h {
                let best = attempts
                    .iter()
                    .filter(|a| labels.references[a.reference].id == p.r#ref)
                    .map(|a| a.inliers)
                    .max()
                    .unwrap_or(0);
                sum.missed_details.push(format!(
                    "{} ({}): {} at {:?} (best attempt {best} inliers)",
                    sc.file, sc.kind, p.r#ref, p.bbox
                ));
            }
            let t = sum.by_scene_kind.entry(sc.kind.clone()).or_default();
            t.truth += 1;
            t.found += *h as usize;
            if sc.kind == "inset" {
                let k = kind_of.get(p.r#ref.as_str()).copied().unwrap_or("?");
                let t = sum.inset_by_ref_kind.entry(k.to_string()).or_default();
                t.truth += 1;
                t.found += *h as usize;
            }
        }
    }
    if sum.scenes < scenes.len() {
        return Err(IpError::File {
            path: labels_path.to_path_buf(),
            message: format!("scene {}: its evaluation thread stopped", sum.scenes),
        });
    }
    sum.ms_per_scene = 1000.0 * elapsed / sum.scenes.max(1) as f64;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::iou;

    #[test]
    fn iou_of_boxes() {
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]), 0.0);
        assert!((iou([0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    }
}
