//! Linking the faces seen on the sampled frames of one shot into tracks (one per person on
//! screen), and deciding who each track is from all its frames together: one good frontal
//! frame is enough to name someone, one lucky frame of a stranger is not.

use crate::face::detect::blazeface::iou;
use crate::face::detect::Face;
use crate::face::embed::Embedding;
use crate::face::matching::{Candidate, Matcher};
use crate::models::Metric;
use crate::timecode::FrameIndex;
use serde::{Deserialize, Serialize};

/// One face on one sampled frame, with its distances to the gallery.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Frame index.
    pub frame: FrameIndex,
    /// The face.
    pub face: Face,
    /// Its embedding (None when it could not be aligned).
    pub embedding: Option<Embedding>,
    /// Distance to every registered person, nearest first.
    pub ranking: Vec<Candidate>,
    /// The aligned chip, kept only when enrolling.
    pub chip: Option<image::RgbImage>,
    /// `scan --unknown`: a small crop of a face that matched nobody (JPEG, base64).
    pub crop: Option<String>,
    /// The embedder was fed a dim chip (smoothed and stretched, [`crate::face::dim`]).
    pub dim: bool,
}

/// Faces of one person through a shot.
#[derive(Debug, Clone, Default)]
pub struct Track {
    /// Observations in frame order.
    pub obs: Vec<Observation>,
}

/// Who a track is, and what that rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Person index in the matcher.
    pub person: usize,
    /// Smallest distance to that person over the track.
    pub distance: f32,
    /// Index (into `obs`) of the frame with that distance.
    pub best: usize,
    /// Faces of the track within the threshold of that person (and nearest to them).
    pub votes: usize,
    /// The evidence, as the report records it.
    pub evidence: IdentityEvidence,
}

/// How sure the scan is of who a track is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// A possible match: the track's faces point to one registered person, but not strongly
    /// enough to name them. A person must confirm it.
    Possible,
    /// The track is that person.
    Identified,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Self::Identified => "identified",
            Self::Possible => "possible",
        })
    }
}

/// What a talent finding's identity rests on: every face of its track(s), compared with
/// every registered person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityEvidence {
    /// Identified or possible.
    pub decision: Decision,
    /// Faces with an embedding.
    pub faces: usize,
    /// Of those, faces whose nearest registered person is this one.
    pub nearest: usize,
    /// Of those, faces within the identification threshold.
    pub within_threshold: usize,
    /// Median distance of all the faces to this person.
    pub median_distance: f32,
    /// Spread of those distances: the interquartile range.
    pub spread: f32,
    /// Median, over the faces, of how much nearer this person is than the next-nearest
    /// registered person (absent when only one person is registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// The identification threshold in force.
    pub threshold: f32,
    /// The upper limit of the review band in force.
    pub review_limit: f32,
}

impl IdentityEvidence {
    /// The evidence in words, for reports.
    pub fn summary(&self) -> String {
        let margin = self
            .margin
            .map(|m| format!(", {m:.3} nearer than anyone else registered"))
            .unwrap_or_default();
        format!(
            "{} of {} faces nearest to this person, {} within the threshold {:.2}; median distance \
             {:.3} (spread {:.3}){margin}",
            self.nearest,
            self.faces,
            self.within_threshold,
            self.threshold,
            self.median_distance,
            self.spread,
        )
    }
}

/// The rules that turn a track's faces into a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentityRules {
    /// A face within this distance of a person matches them.
    pub threshold: f32,
    /// A track whose median distance to one person is within this (and above what
    /// identifies) is a possible match, if the other conditions hold.
    pub review_limit: f32,
    /// Faces a track needs before it can be a possible match: one frame is a glimpse,
    /// not the consistency that the review band rests on.
    pub min_faces: usize,
    /// Share of the faces whose nearest registered person must be the same one.
    pub min_agreement: f32,
    /// How much nearer (median over the faces) that person must be than the next one.
    pub min_margin: f32,
}

impl IdentityRules {
    /// The default rules for a threshold, with the default review band.
    pub fn new(threshold: f32) -> Self {
        Self::with_band(threshold, threshold + super::matching::DEFAULT_REVIEW_BAND)
    }

    /// The rules a matcher's threshold and review band imply.
    pub fn for_matcher(m: &Matcher) -> Self {
        Self::with_band(m.threshold(), m.review_limit())
    }

    fn with_band(threshold: f32, review_limit: f32) -> Self {
        Self {
            threshold,
            review_limit,
            min_faces: 3,
            min_agreement: 0.75,
            min_margin: 0.05,
        }
    }
}

/// A face whose box overlaps a track's latest face by at least this (intersection over
/// union) joins that track whatever the embeddings say: samples are a fraction of a second
/// apart, so that much overlap is one face that stayed. Measured on `eval-unknown`'s dim
/// split: a 120 px dim face whose two samples overlapped by 0.58 embedded over the link
/// distance apart, became two tracks, and the second joined another person (purity 80%;
/// 100% with this rule, completeness and every other split unchanged).
pub const SAME_PLACE_IOU: f32 = 0.5;

/// Links observations (in frame order) into tracks. A face joins the track whose latest face
/// is at the same place ([`SAME_PLACE_IOU`]), or nearby on screen and alike (embedding
/// distance under `link_distance`), or any track of the shot it matches closely (a person
/// who left and came back); otherwise it starts a new track. Faces on the same frame never
/// share a track.
pub fn link(obs: Vec<Observation>, metric: Metric, link_distance: f32) -> Vec<Track> {
    let mut tracks: Vec<Track> = Vec::new();
    for o in obs {
        let mut best: Option<(usize, f32)> = None;
        for (ti, t) in tracks.iter().enumerate() {
            let Some(last) = t.obs.last() else { continue };
            if last.frame == o.frame {
                continue;
            }
            let near = {
                let [ax, ay] = last.face.centre();
                let [bx, by] = o.face.centre();
                let size = last.face.size().max(o.face.size());
                let ratio = last.face.size() / o.face.size().max(1.0);
                (ax - bx).hypot(ay - by) < 1.5 * size && (0.5..=2.0).contains(&ratio)
            };
            // The same place on the next sample: the same face, however its embedding moved
            // (a dim, noisy face's does; split in two, its halves overlap in time and the
            // grouping's cannot-link then keeps them apart).
            let same_place = iou(last.face.corners(), o.face.corners()) >= SAME_PLACE_IOU;
            let dist = match (&o.embedding, &last.embedding) {
                _ if same_place => 0.0,
                (Some(a), Some(b)) => a.distance(b, metric),
                _ if near => 0.0,
                _ => f32::INFINITY,
            };
            // Nearby faces link at the looser distance; far-apart ones only when alike.
            let limit = if near {
                link_distance
            } else {
                link_distance * 0.75
            };
            if dist <= limit && best.is_none_or(|(_, d)| dist < d) {
                best = Some((ti, dist));
            }
        }
        match best {
            Some((ti, _)) => tracks[ti].obs.push(o),
            None => tracks.push(Track { obs: vec![o] }),
        }
    }
    tracks
}

/// Decides who a track is from all its faces.
///
/// The candidate is the person most often nearest (ties: the smaller median distance).
/// The track **is** that person when at least a third of its faces (and at least one) are
/// within the threshold of them and nearest to them, and they are nearest on at least half
/// the faces: one good frontal frame among profiles is enough, one lucky frame of a stranger
/// in a long track is not. Otherwise it is a **possible** match when it has enough faces,
/// they agree on the person, their median distance is within the review band and that
/// person is clearly nearer than the next: the same face, frame after frame, nearest to the
/// same person, as someone reviewing the shot would see it.
pub fn identify(track: &Track, rules: &IdentityRules) -> Option<Identity> {
    let faces: Vec<(usize, &[Candidate])> = track
        .obs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.embedding.is_some() && !o.ranking.is_empty())
        .map(|(i, o)| (i, o.ranking.as_slice()))
        .collect();
    let n = faces.len();
    if n == 0 {
        return None;
    }
    let dist_to = |r: &[Candidate], p: usize| {
        r.iter()
            .find(|c| c.person == p)
            .map_or(f32::INFINITY, |c| c.distance)
    };
    // The candidate: most often nearest, then the smaller median distance.
    let mut nearest_counts = std::collections::BTreeMap::<usize, usize>::new();
    for (_, r) in &faces {
        *nearest_counts.entry(r[0].person).or_default() += 1;
    }
    let medians: std::collections::BTreeMap<usize, f32> = nearest_counts
        .keys()
        .map(|&p| {
            (
                p,
                median(faces.iter().map(|(_, r)| dist_to(r, p)).collect()),
            )
        })
        .collect();
    let (&person, &nearest) = nearest_counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(medians[b.0].total_cmp(&medians[a.0])))?;
    let mut d: Vec<f32> = faces.iter().map(|(_, r)| dist_to(r, person)).collect();
    let within: Vec<usize> = faces
        .iter()
        .filter(|(_, r)| r[0].person == person && r[0].distance <= rules.threshold)
        .map(|(i, _)| *i)
        .collect();
    let margins: Vec<f32> = faces
        .iter()
        .filter_map(|(_, r)| {
            let other = r.iter().find(|c| c.person != person)?;
            Some(other.distance - dist_to(r, person))
        })
        .collect();
    let margin = (!margins.is_empty()).then(|| median(margins));
    d.sort_by(f32::total_cmp);
    let median_distance = quantile(&d, 0.5);
    let spread = quantile(&d, 0.75) - quantile(&d, 0.25);
    let (best, distance) = faces
        .iter()
        .map(|(i, r)| (*i, dist_to(r, person)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
    let identified = !within.is_empty() && within.len() * 3 >= n && nearest * 2 >= n;
    let possible = n >= rules.min_faces
        && nearest as f32 >= rules.min_agreement * n as f32
        && median_distance <= rules.review_limit
        && margin.is_none_or(|m| m >= rules.min_margin);
    let decision = if identified {
        Decision::Identified
    } else if possible {
        Decision::Possible
    } else {
        return None;
    };
    Some(Identity {
        person,
        distance,
        best,
        votes: within.len(),
        evidence: IdentityEvidence {
            decision,
            faces: n,
            nearest,
            within_threshold: within.len(),
            median_distance,
            spread,
            margin,
            threshold: rules.threshold,
            review_limit: rules.review_limit,
        },
    })
}

/// Median of finite and infinite values alike (infinite when most are; infinite when there
/// are none).
pub(crate) fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    quantile(&v, 0.5)
}

/// Linear-interpolated quantile of sorted values (NaN-free by construction).
fn quantile(sorted: &[f32], q: f32) -> f32 {
    match sorted.len() {
        0 => f32::INFINITY,
        1 => sorted[0],
        n => {
            let pos = q * (n - 1) as f32;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let (a, b, frac) = (sorted[lo], sorted[hi], pos - lo as f32);
            if a == b || frac == 0.0 {
                a
            } else {
                a + (b - a) * frac
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::{Consent, ConsentRecord, Talent};

    fn face(x: f32) -> Face {
        Face {
            x,
            y: 100.0,
            w: 100.0,
            h: 100.0,
            score: 0.9,
            keypoints: vec![],
        }
    }

    fn obs(frame: u64, x: f32, e: [f32; 2], m: &Matcher) -> Observation {
        let embedding = Embedding(e.to_vec());
        Observation {
            frame,
            face: face(x),
            ranking: m.rank(&embedding),
            embedding: Some(embedding),
            chip: None,
            crop: None,
            dim: false,
        }
    }

    fn talent(name: &str, v: [f32; 2]) -> Talent {
        Talent {
            id: 0,
            name: name.into(),
            consent: ConsentRecord {
                consent: Consent::Denied,
                scope: None,
                expires: None,
            },
            added: String::new(),
            embeddings: vec![Embedding(v.to_vec())],
            photos: 1,
            reference_jpeg: None,
        }
    }

    fn matcher() -> Matcher {
        Matcher::new(
            &[talent("ann", [0.0, 0.0]), talent("bob", [5.0, 0.0])],
            Metric::Euclidean,
            0.5,
        )
    }

    #[test]
    fn two_people_in_a_shot_make_two_tracks() {
        let m = matcher();
        let o = vec![
            obs(0, 100.0, [0.1, 0.0], &m),
            obs(0, 900.0, [5.0, 0.2], &m),
            obs(12, 130.0, [0.0, 0.2], &m),
            obs(12, 880.0, [5.1, 0.0], &m),
            obs(24, 160.0, [0.3, 0.3], &m),
        ];
        let tracks = link(o, Metric::Euclidean, 0.6);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].obs.len(), 3);
        let a = identify(&tracks[0], &rules()).unwrap();
        assert_eq!(m.name(a.person), "ann");
        assert_eq!(a.votes, 3);
        assert_eq!(a.evidence.decision, Decision::Identified);
        assert!((a.distance - 0.1).abs() < 1e-6);
        assert_eq!(a.best, 0);
        assert_eq!(
            m.name(identify(&tracks[1], &rules()).unwrap().person),
            "bob"
        );
    }

    #[test]
    fn a_face_that_stays_in_place_is_one_track_however_its_embedding_moves() {
        let m = matcher();
        // Boxes 100 px wide: 30 px on (IoU 0.54) is the same place; 60 px on (IoU 0.25) is
        // not, and there the embeddings 2.0 apart (over the link distance) keep two tracks.
        let o = vec![
            obs(0, 100.0, [0.0, 0.0], &m),
            obs(12, 130.0, [2.0, 0.0], &m),
            obs(24, 190.0, [0.0, 0.0], &m),
        ];
        let tracks = link(o, Metric::Euclidean, 0.6);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].obs.len(), 2);
        assert_eq!(tracks[1].obs[0].frame, 24);
    }

    #[test]
    fn one_grazing_frame_does_not_name_a_stranger() {
        let m = matcher();
        let mut o: Vec<_> = (0..6).map(|i| obs(i * 12, 400.0, [0.0, 0.9], &m)).collect();
        o.push(obs(80, 400.0, [0.0, 0.45], &m));
        let tracks = link(o, Metric::Euclidean, 0.6);
        assert_eq!(tracks.len(), 1);
        assert_eq!(identify(&tracks[0], &rules()), None);
    }

    fn rules() -> IdentityRules {
        IdentityRules::new(0.5)
    }

    /// A track of `n` faces at (x, y) in embedding space, one per sampled frame.
    fn track_at(m: &Matcher, points: &[[f32; 2]]) -> Track {
        Track {
            obs: points
                .iter()
                .enumerate()
                .map(|(i, p)| obs(i as u64 * 12, 400.0, *p, m))
                .collect(),
        }
    }

    #[test]
    fn a_blurred_face_just_outside_the_threshold_on_every_frame_is_possible() {
        let m = matcher();
        // Distances 0.51-0.56 to ann on every frame, far from bob: what blur and archive
        // upscaling do to a registered face.
        let t = track_at(&m, &[[0.0, 0.53], [0.0, 0.51], [0.0, 0.56], [0.0, 0.54]]);
        let id = identify(&t, &rules()).expect("possible");
        assert_eq!(m.name(id.person), "ann");
        let e = &id.evidence;
        assert_eq!(e.decision, Decision::Possible);
        assert_eq!((e.faces, e.nearest, e.within_threshold), (4, 4, 0));
        assert!((e.median_distance - 0.535).abs() < 1e-4, "{e:?}");
        assert!((e.spread - 0.02).abs() < 1e-4, "{e:?}");
        assert!(e.margin.is_some_and(|x| x > 4.0));
        assert!((id.distance - 0.51).abs() < 1e-6 && id.best == 1);
        assert!(e.summary().contains("4 of 4 faces nearest"));
    }

    #[test]
    fn the_review_band_needs_consistency_distance_and_margin() {
        let m = matcher();
        // Beyond the band.
        let far = track_at(&m, &[[0.0, 0.7], [0.0, 0.72], [0.0, 0.69]]);
        assert_eq!(identify(&far, &rules()), None);
        // Too few faces: a glimpse.
        let short = track_at(&m, &[[0.0, 0.53], [0.0, 0.52]]);
        assert_eq!(identify(&short, &rules()), None);
        // Nearest person changes from frame to frame: halfway between ann and bob.
        let m2 = Matcher::new(
            &[talent("ann", [0.0, 0.0]), talent("cat", [0.0, 1.1])],
            Metric::Euclidean,
            0.5,
        );
        let torn = track_at(&m2, &[[0.0, 0.54], [0.0, 0.56], [0.0, 0.53], [0.0, 0.57]]);
        assert_eq!(identify(&torn, &rules()), None);
        // Consistently nearest to ann but cat is almost as near: no margin.
        let close = track_at(&m2, &[[0.0, 0.53], [0.0, 0.52], [0.0, 0.54]]);
        assert_eq!(identify(&close, &rules()), None);
        // The same distances with cat far away are a possible match.
        let clear = track_at(&m, &[[0.0, 0.53], [0.0, 0.52], [0.0, 0.54]]);
        assert_eq!(
            identify(&clear, &rules()).map(|i| i.evidence.decision),
            Some(Decision::Possible)
        );
    }

    #[test]
    fn quantiles_interpolate_and_tolerate_infinity() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0], 0.25), 1.0);
        assert_eq!(
            quantile(&[1.0, f32::INFINITY, f32::INFINITY], 0.5),
            f32::INFINITY
        );
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!(quantile(&[], 0.5).is_infinite());
    }
}
