//! Linking the faces seen on the sampled frames of one shot into tracks (one per person on
//! screen), and deciding who each track is from all its frames together: one good frontal
//! frame is enough to name someone, one lucky frame of a stranger is not.

use crate::face::detect::Face;
use crate::face::embed::Embedding;
use crate::face::matching::{Candidate, Matcher};
use crate::models::Metric;
use crate::timecode::FrameIndex;

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
    /// Evidence images, captured for faces that matched someone.
    pub evidence: Option<Box<crate::evidence::Evidence>>,
    /// The aligned chip, kept only when enrolling.
    pub chip: Option<image::RgbImage>,
}

/// Faces of one person through a shot.
#[derive(Debug, Clone, Default)]
pub struct Track {
    /// Observations in frame order.
    pub obs: Vec<Observation>,
}

/// Who a track is.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Person index in the matcher.
    pub person: usize,
    /// Smallest distance to that person over the track.
    pub distance: f32,
    /// Index (into `obs`) of the frame with that distance.
    pub best: usize,
    /// Frames of the track matched to that person.
    pub votes: usize,
}

/// Links observations (in frame order) into tracks. A face joins the track whose latest face
/// is nearby on screen and looks alike (embedding distance under `link_distance`), or any
/// track of the shot it matches closely (a person who left and came back); otherwise it
/// starts a new track. Faces on the same frame never share a track.
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
            let dist = match (&o.embedding, &last.embedding) {
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

/// Names the track if its frames agree: the person most often nearest and under the
/// threshold wins, provided at least a third of the track's frames (and at least one)
/// match them. Profiles and blurred frames may miss; a stranger who grazes the threshold
/// once in a long track is not named.
pub fn identify(track: &Track, matcher: &Matcher) -> Option<Identity> {
    let thr = matcher.threshold();
    let mut votes: Vec<(usize, f32, usize)> = Vec::new(); // person, best distance, best obs
    let mut counts = std::collections::HashMap::<usize, usize>::new();
    for (i, o) in track.obs.iter().enumerate() {
        let Some(top) = o.ranking.first() else {
            continue;
        };
        if top.distance > thr {
            continue;
        }
        *counts.entry(top.person).or_default() += 1;
        match votes.iter_mut().find(|v| v.0 == top.person) {
            Some(v) if top.distance < v.1 => {
                v.1 = top.distance;
                v.2 = i;
            }
            Some(_) => {}
            None => votes.push((top.person, top.distance, i)),
        }
    }
    let (person, distance, best) = votes
        .into_iter()
        .max_by(|a, b| counts[&a.0].cmp(&counts[&b.0]).then(b.1.total_cmp(&a.1)))?;
    let n = counts[&person];
    let frames = track.obs.iter().filter(|o| o.embedding.is_some()).count();
    if n * 3 < frames {
        return None;
    }
    Some(Identity {
        person,
        distance,
        best,
        votes: n,
    })
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
            evidence: None,
            chip: None,
        }
    }

    fn matcher() -> Matcher {
        let t = |name: &str, v: [f32; 2]| Talent {
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
        };
        Matcher::new(
            &[t("ann", [0.0, 0.0]), t("bob", [5.0, 0.0])],
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
        let a = identify(&tracks[0], &m).unwrap();
        assert_eq!(m.name(a.person), "ann");
        assert_eq!(a.votes, 3);
        assert!((a.distance - 0.1).abs() < 1e-6);
        assert_eq!(a.best, 0);
        assert_eq!(m.name(identify(&tracks[1], &m).unwrap().person), "bob");
    }

    #[test]
    fn one_grazing_frame_does_not_name_a_stranger() {
        let m = matcher();
        let mut o: Vec<_> = (0..6).map(|i| obs(i * 12, 400.0, [0.0, 0.9], &m)).collect();
        o.push(obs(80, 400.0, [0.0, 0.45], &m));
        let tracks = link(o, Metric::Euclidean, 0.6);
        assert_eq!(tracks.len(), 1);
        assert_eq!(identify(&tracks[0], &m), None);
    }
}
