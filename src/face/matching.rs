//! Comparing face embeddings with the talent gallery.

use crate::face::embed::Embedding;
use crate::gallery::Talent;
use crate::models::Metric;
use serde::Serialize;

/// How far beyond the threshold the review band reaches by default. Measured on the
/// dlib embedder: blurred, low-resolution and archive faces of a registered person sit at
/// 0.50-0.56 from their frontal gallery photo, strangers from about 0.54 up but rarely
/// nearest to the same person on every frame of a track; see `track::identify`.
pub const DEFAULT_REVIEW_BAND: f32 = 0.10;

/// The gallery as the matcher sees it: each person's embeddings for the active embedder.
pub struct Matcher {
    people: Vec<(String, Vec<Embedding>)>,
    metric: Metric,
    threshold: f32,
    review_limit: f32,
}

/// Distance from one face to one registered person (the nearest of their photos).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    /// Index into the matcher's people.
    pub person: usize,
    /// Distance (smaller is closer).
    pub distance: f32,
}

impl Matcher {
    /// Builds a matcher; people without embeddings for this embedder are skipped.
    pub fn new(talent: &[Talent], metric: Metric, threshold: f32) -> Self {
        Self {
            people: talent
                .iter()
                .filter(|t| !t.embeddings.is_empty())
                .map(|t| (t.name.clone(), t.embeddings.clone()))
                .collect(),
            metric,
            threshold,
            review_limit: threshold + DEFAULT_REVIEW_BAND,
        }
    }

    /// The same matcher with the review band reaching to `limit` (at least the threshold).
    pub fn with_review_limit(mut self, limit: f32) -> Self {
        self.review_limit = limit.max(self.threshold);
        self
    }

    /// Upper limit of the review band: a track whose faces sit consistently between the
    /// threshold and this distance of one person is a possible match.
    pub fn review_limit(&self) -> f32 {
        self.review_limit
    }

    /// Number of people with embeddings.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// True when nobody can be matched.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Name of person `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.people[i].0
    }

    /// The match threshold (distance at or below is the same person).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Distance of `e` to every person, nearest first.
    pub fn rank(&self, e: &Embedding) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = self
            .people
            .iter()
            .enumerate()
            .map(|(person, (_, refs))| Candidate {
                person,
                distance: refs
                    .iter()
                    .map(|r| e.distance(r, self.metric))
                    .fold(f32::INFINITY, f32::min),
            })
            .collect();
        out.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        out
    }

    /// A 0..1 score for a distance: 1 identical, 0.5 at the threshold, 0 at twice it.
    pub fn score(&self, distance: f32) -> f32 {
        (1.0 - distance / (2.0 * self.threshold)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::{Consent, ConsentRecord};

    fn person(name: &str, vs: &[[f32; 2]]) -> Talent {
        Talent {
            id: 0,
            name: name.into(),
            consent: ConsentRecord {
                consent: Consent::Unknown,
                scope: None,
                expires: None,
            },
            added: String::new(),
            embeddings: vs.iter().map(|v| Embedding(v.to_vec())).collect(),
            photos: vs.len(),
            reference_jpeg: None,
        }
    }

    #[test]
    fn nearest_photo_of_each_person_ranks_them() {
        let m = Matcher::new(
            &[
                person("a", &[[0.0, 0.0], [1.0, 0.0]]),
                person("b", &[[0.0, 3.0]]),
                person("nobody", &[]),
            ],
            Metric::Euclidean,
            0.5,
        );
        assert_eq!(m.len(), 2);
        let r = m.rank(&Embedding(vec![0.9, 0.0]));
        assert_eq!(m.name(r[0].person), "a");
        assert!((r[0].distance - 0.1).abs() < 1e-6);
        assert_eq!(m.name(r[1].person), "b");
        assert!((m.score(0.5) - 0.5).abs() < 1e-6);
        assert_eq!(m.score(2.0), 0.0);
    }
}
