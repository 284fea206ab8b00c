//! Face evidence captured once per shot and person: while a worker goes through a shot's
//! samples it holds the frame of each person's best face so far (the [`EvidenceGate`]'s
//! claims), and makes the evidence images when the shot ends on that worker. Capturing at
//! every claim made images that a later, better frame replaced: on the bench clip's push-ins
//! nearly every sample beat the one before (39 captures for 8 findings, ~20 ms each).
//!
//! [`EvidenceGate`]: super::findings::EvidenceGate

use crate::evidence::Evidence;
use crate::face::track::Observation;
use crate::timecode::FrameIndex;
use image::RgbImage;
use std::sync::Arc;

/// Evidence made after its frame's result was sent: the collector keeps it as it keeps the
/// images that come with a frame's faces.
pub(super) struct LateEvidence {
    pub(super) shot: usize,
    pub(super) person: usize,
    pub(super) distance: f32,
    pub(super) frame: FrameIndex,
    pub(super) evidence: Box<Evidence>,
}

/// A claimed face: its person, distance and box (x, y, w, h in frame pixels).
pub(super) type Claim = (usize, f32, [f32; 4]);

/// The faces of a sample that want evidence, in order: those whose nearest person is within
/// the review limit (a possible match needs its evidence as much as an identification) and
/// whose (person, distance) `claim` grants (the scan's [`EvidenceGate`]: better than the best
/// so far of its shot and person).
///
/// [`EvidenceGate`]: super::findings::EvidenceGate
pub(super) fn claims(
    faces: &[Observation],
    review_limit: f32,
    mut claim: impl FnMut(usize, f32) -> bool,
) -> Vec<Claim> {
    faces
        .iter()
        .filter_map(|o| {
            let c = o.ranking.first()?;
            (c.distance <= review_limit && claim(c.person, c.distance)).then_some((
                c.person,
                c.distance,
                [o.face.x, o.face.y, o.face.w, o.face.h],
            ))
        })
        .collect()
}

struct HeldFace {
    person: usize,
    distance: f32,
    frame: FrameIndex,
    bbox: [f32; 4],
    image: Arc<RgbImage>,
}

/// One worker's held frames, for the shot it is in.
#[derive(Default)]
pub(super) struct Held {
    shot: Option<usize>,
    faces: Vec<HeldFace>,
}

/// People whose frames a worker holds at once, at most (a 1080p frame is 6 MB): the claims of
/// more people in one shot are captured at once, as before.
pub(super) const MAX_HELD: usize = 4;

impl Held {
    /// Before a sample of `shot`: the evidence of the shot held so far, if this is another.
    pub(super) fn next_shot(&mut self, shot: usize) -> Vec<LateEvidence> {
        if self.shot == Some(shot) {
            return Vec::new();
        }
        let out = self.finish();
        self.shot = Some(shot);
        out
    }

    /// Holds `image` (sample `frame` of the current shot) for each of `claims`, each better
    /// than what was held for its person; returns the evidence of claims there is no room to
    /// hold, made now.
    pub(super) fn hold(
        &mut self,
        claims: &[Claim],
        frame: FrameIndex,
        image: Arc<RgbImage>,
    ) -> Vec<LateEvidence> {
        let shot = self.shot.unwrap_or_default();
        let mut now = Vec::new();
        for &(person, distance, bbox) in claims {
            let held = HeldFace {
                person,
                distance,
                frame,
                bbox,
                image: Arc::clone(&image),
            };
            match self.faces.iter().position(|h| h.person == person) {
                Some(i) => self.faces[i] = held,
                None if self.faces.len() < MAX_HELD => self.faces.push(held),
                None => now.push(capture(shot, held)),
            }
        }
        now
    }

    /// The evidence of everything held (the shot ended, or the file).
    pub(super) fn finish(&mut self) -> Vec<LateEvidence> {
        let shot = self.shot.take().unwrap_or_default();
        self.faces.drain(..).map(|h| capture(shot, h)).collect()
    }
}

fn capture(shot: usize, h: HeldFace) -> LateEvidence {
    let evidence = crate::stages::time(crate::stages::Stage::Evidence, || {
        Box::new(crate::evidence::capture(&h.image, h.bbox))
    });
    LateEvidence {
        shot,
        person: h.person,
        distance: h.distance,
        frame: h.frame,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: u8) -> Arc<RgbImage> {
        Arc::new(RgbImage::from_pixel(64, 48, image::Rgb([v, v, v])))
    }

    #[test]
    fn each_persons_last_claim_of_a_shot_is_captured_when_the_shot_ends() {
        let mut held = Held::default();
        assert!(held.next_shot(3).is_empty());
        let b = [10.0, 10.0, 20.0, 20.0];
        assert!(held
            .hold(&[(0, 0.40, b), (1, 0.45, b)], 100, frame(10))
            .is_empty());
        assert!(held.hold(&[(0, 0.35, b)], 110, frame(20)).is_empty());
        // Same shot: nothing yet.
        assert!(held.next_shot(3).is_empty());
        let mut out = held.next_shot(4);
        out.sort_by_key(|e| e.person);
        let got: Vec<_> = out.iter().map(|e| (e.shot, e.person, e.frame)).collect();
        assert_eq!(got, vec![(3, 0, 110), (3, 1, 100)]);
        assert_eq!(out[0].distance, 0.35);
        assert!(out[0].evidence.frame_jpeg.bytes().is_ok());
        // The next shot starts empty; the file's end captures what it holds.
        assert!(held.hold(&[(2, 0.30, b)], 200, frame(30)).is_empty());
        let end = held.finish();
        assert_eq!(end.len(), 1);
        assert_eq!((end[0].shot, end[0].person, end[0].frame), (4, 2, 200));
        assert!(held.finish().is_empty());
    }

    #[test]
    fn only_faces_whose_nearest_person_won_the_claim_are_claims() {
        use crate::face::detect::Face;
        use crate::face::matching::Candidate;
        let obs = |x: f32, ranking: Vec<Candidate>| Observation {
            frame: 7,
            face: Face {
                x,
                y: 5.0,
                w: 30.0,
                h: 40.0,
                score: 0.9,
                keypoints: Vec::new(),
            },
            embedding: None,
            ranking,
            chip: None,
            crop: None,
            dim: false,
        };
        let faces = vec![
            obs(
                1.0,
                vec![Candidate {
                    person: 0,
                    distance: 0.3,
                }],
            ),
            // Its nearest person is 1: a claim for 1 at another distance is not this face's.
            obs(
                2.0,
                vec![Candidate {
                    person: 1,
                    distance: 0.5,
                }],
            ),
            obs(3.0, Vec::new()),
            obs(
                4.0,
                vec![
                    Candidate {
                        person: 2,
                        distance: 0.4,
                    },
                    Candidate {
                        person: 0,
                        distance: 0.3,
                    },
                ],
            ),
        ];
        let granted = [(0, 0.3), (1, 0.45)];
        let got = claims(&faces, 1.0, |p, d| granted.contains(&(p, d)));
        assert_eq!(got, vec![(0, 0.3, [1.0, 5.0, 30.0, 40.0])]);
        assert!(claims(&faces, 1.0, |_, _| false).is_empty());
        // Beyond the review limit nothing is asked for.
        assert!(claims(&faces, 0.2, |_, _| true).is_empty());
    }

    #[test]
    fn claims_past_the_held_limit_are_captured_at_once() {
        let mut held = Held::default();
        held.next_shot(0);
        let b = [0.0, 0.0, 8.0, 8.0];
        let claims: Vec<Claim> = (0..MAX_HELD + 2).map(|p| (p, 0.4, b)).collect();
        let now = held.hold(&claims, 5, frame(0));
        assert_eq!(now.len(), 2);
        assert_eq!(held.finish().len(), MAX_HELD);
    }
}
