//! Shots and the hard-cut detector that finds them.
//!
//! Every decoded frame is reduced to a [`Thumbnail`] (64x36 luma, box-averaged), and the
//! [`CutDetector`] compares each thumbnail with the previous one. The measure is built to
//! ignore what is not a cut:
//!
//! * camera/film noise: box-averaging into 64x36 cells already divides pixel noise by the cell
//!   size;
//! * slow pans and zooms: the pixel difference is *motion tolerant*: each thumbnail pixel is
//!   compared with the best match among the previous thumbnail's 3x3 neighbourhood, so content
//!   that moved by up to one thumbnail pixel (1/64 of the width) per frame costs almost
//!   nothing;
//! * fast but continuous motion: a frame is a cut only if its score is also well above the
//!   recent scores of the same shot (adaptive part);
//! * darkness: between two dim frames the thumbnails are also compared with their levels
//!   stretched (see `Stretch`), so a cut between two night shots is not lost in their few
//!   levels.
//!
//! A hard cut changes the picture everywhere at once, so it scores high on both the
//! motion-tolerant difference and the luma histogram distance.
//!
//! Files: `thumbnail` (the 64x36 picture of a frame), `difference` (the measure between two
//! thumbnails), this one (the detector's rules and the shot list).

mod difference;
#[cfg(test)]
mod tests;
mod thumbnail;

pub use difference::FrameDifference;

use difference::Stretch;
pub use thumbnail::{Thumbnail, ThumbnailBuilder, THUMB_H, THUMB_W};

use crate::timecode::FrameIndex;
use serde::Serialize;
use std::collections::VecDeque;

/// A run of frames between two cuts: `[first, last]`, inclusive. A still is one shot of one
/// frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shot {
    /// Position in the file's list of shots, from 0.
    pub index: usize,
    /// First frame of the shot.
    pub first: FrameIndex,
    /// Last frame of the shot (inclusive).
    pub last: FrameIndex,
}

impl Shot {
    /// Number of frames in the shot.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Always false: a shot has at least one frame. (Pairs with `len` for clippy.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `frame` lies in this shot.
    pub fn contains(&self, frame: FrameIndex) -> bool {
        (self.first..=self.last).contains(&frame)
    }
}

/// Default for [`CutDetector::new`]'s threshold (and `SamplingOptions::cut_threshold`).
///
/// Measured on the fixture clips and the tests here: hard cuts between unrelated pictures
/// score 0.13-0.45; noise, slow or 2%-per-frame pans and zooms stay below 0.03; violent
/// shake (random 6% jitter every frame) reaches 0.1, which the adaptive part then absorbs.
pub const DEFAULT_CUT_THRESHOLD: f32 = 0.10;

/// How many times the recent average score a frame must reach to count as a cut, so that a
/// shot full of fast motion needs a bigger jump than a calm one.
const ADAPTIVE_RATIO: f32 = 3.0;
/// How many recent scores form that average.
const HISTORY: usize = 8;

/// Finds hard cuts online: feed every frame's thumbnail in order; `push` says whether that
/// frame starts a new shot. Causal (no look-ahead), so the answer is known at the new shot's
/// first frame.
#[derive(Debug)]
pub struct CutDetector {
    threshold: f32,
    /// The last frame pushed, with its stretch when it is dim (each frame's is worked out
    /// once, as the later frame of its pair).
    prev: Option<(Thumbnail, Option<Stretch>)>,
    recent: VecDeque<f32>,
    /// The stretched scores of the current run of dim frames (see [`Stretch`]).
    recent_dim: VecDeque<f32>,
}

impl CutDetector {
    /// A detector that fires when a frame's [`FrameDifference::score`] reaches `threshold`
    /// (and is well above the shot's recent scores). Use [`DEFAULT_CUT_THRESHOLD`] unless
    /// tuning.
    pub fn new(threshold: f32) -> Self {
        Self {
            threshold,
            prev: None,
            recent: VecDeque::with_capacity(HISTORY),
            recent_dim: VecDeque::with_capacity(HISTORY),
        }
    }

    /// Takes the next frame's thumbnail; true when this frame is the first of a new shot.
    /// The first frame ever pushed starts shot 0 and returns false.
    pub fn push(&mut self, thumb: Thumbnail) -> bool {
        let stretch = Stretch::of(&thumb);
        let scores = self.scores(&thumb, stretch.as_ref());
        self.prev = Some((thumb, stretch));
        let Some((score, dim)) = scores else {
            return false;
        };
        // As ever on the frames as they are; between two dim frames, also on the stretched
        // ones against the stretched scores of the run.
        let cut = self.is_cut(score, &self.recent)
            || dim.is_some_and(|d| self.is_cut(d, &self.recent_dim));
        if cut {
            // The new shot's motion level is unknown: start its history afresh.
            self.recent.clear();
            self.recent_dim.clear();
        } else {
            remember(&mut self.recent, score);
            match dim {
                Some(d) => remember(&mut self.recent_dim, d),
                None => self.recent_dim.clear(),
            }
        }
        cut
    }

    /// A score reaching the threshold and well above the recent ones.
    fn is_cut(&self, score: f32, recent: &VecDeque<f32>) -> bool {
        let mean = if recent.is_empty() {
            0.0
        } else {
            recent.iter().sum::<f32>() / recent.len() as f32
        };
        score >= self.threshold && score >= ADAPTIVE_RATIO * mean
    }

    /// The plain score of `thumb` (stretched by `stretch` when dim) against the last frame
    /// pushed and, when both are dim, the stretched one; None before the first frame.
    fn scores(&self, thumb: &Thumbnail, stretch: Option<&Stretch>) -> Option<(f32, Option<f32>)> {
        let (prev, prev_stretch) = self.prev.as_ref()?;
        let raw = FrameDifference::between(prev, thumb).score();
        let dim = prev_stretch
            .as_ref()
            .zip(stretch)
            .map(|(a, b)| FrameDifference::between_stretched(prev, a, thumb, b).score());
        Some((raw, dim))
    }

    /// The score `thumb` gets against the last frame pushed (None before the first): the
    /// larger of the plain and, between dim frames, the stretched one.
    pub fn score(&self, thumb: &Thumbnail) -> Option<f32> {
        let (raw, dim) = self.scores(thumb, Stretch::of(thumb).as_ref())?;
        Some(dim.map_or(raw, |d| d.max(raw)))
    }

    /// Whether a gap of unseen frames ending at `thumb` may hold a cut: its score against
    /// the last frame pushed reaches half the threshold (a cut inside the gap changes the
    /// picture between its ends as much as at the cut itself: 0.13 and up).
    pub fn may_cut_before(&self, thumb: &Thumbnail) -> bool {
        self.score(thumb)
            .is_none_or(|s| s >= GAP_SUSPICION * self.threshold)
    }

    /// Takes the thumbnail of a frame `frames` after the last one pushed, the frames between
    /// unseen because [`CutDetector::may_cut_before`] said no cut lies there: never a cut.
    /// The shot's recent motion level is kept per frame (the score over the gap, divided).
    pub fn push_after_gap(&mut self, thumb: Thumbnail, frames: u64) {
        let per_frame = |s: f32| s / frames.max(1) as f32;
        let stretch = Stretch::of(&thumb);
        if let Some((score, dim)) = self.scores(&thumb, stretch.as_ref()) {
            remember(&mut self.recent, per_frame(score));
            match dim {
                Some(d) => remember(&mut self.recent_dim, per_frame(d)),
                None => self.recent_dim.clear(),
            }
        }
        self.prev = Some((thumb, stretch));
    }
}

/// Appends `score` to a shot's recent scores, forgetting the oldest beyond [`HISTORY`].
fn remember(recent: &mut VecDeque<f32>, score: f32) {
    if recent.len() == HISTORY {
        recent.pop_front();
    }
    recent.push_back(score);
}

/// A gap between two frames scoring this share of the cut threshold or more may hold a cut
/// and is decoded in full; below it, slow motion and noise over a few frames.
const GAP_SUSPICION: f32 = 0.5;

/// Collects cut positions into a list of [`Shot`]s.
#[derive(Debug, Default)]
pub struct ShotList {
    shots: Vec<Shot>,
    current_first: FrameIndex,
    last_seen: Option<FrameIndex>,
}

impl ShotList {
    /// An empty list; frame 0 starts shot 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records frame `index` (frames must come in order); `starts_shot` is the detector's
    /// verdict. Returns the index of the shot the frame belongs to.
    pub fn push(&mut self, index: FrameIndex, starts_shot: bool) -> usize {
        if let Some(last) = self.last_seen {
            if starts_shot && index > self.current_first {
                self.shots.push(Shot {
                    index: self.shots.len(),
                    first: self.current_first,
                    last,
                });
                self.current_first = index;
            }
        } else {
            self.current_first = index;
        }
        self.last_seen = Some(index);
        self.shots.len()
    }

    /// The index the shot currently being built will get.
    pub fn current(&self) -> usize {
        self.shots.len()
    }

    /// Closes the last shot at the last frame pushed and returns all shots (empty if no
    /// frame was pushed).
    pub fn finish(mut self) -> Vec<Shot> {
        if let Some(last) = self.last_seen {
            self.shots.push(Shot {
                index: self.shots.len(),
                first: self.current_first,
                last,
            });
        }
        self.shots
    }
}
