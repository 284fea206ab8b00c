//! Which frames to sample, decided online as frames arrive, in bounded memory.
//!
//! Per shot (the part of it inside the range): its first frame, every frame on the
//! `1/per_second` grid, and its last frame. A shot that would end with fewer than
//! `min_per_shot` samples also gets middle frames, placed in the largest gaps between its
//! samples.
//!
//! Samples leave in index order, so middle candidates can only be frames since the last
//! sample that left. Frames are therefore kept only while the current shot is still short of
//! samples, counting the grid frames seen and the last frame to come: with the default
//! `min_per_shot` of 3 that is from the shot's first frame to its first grid frame, at most
//! one grid interval. While the shot is short, grid frames are held back rather than sent,
//! so that middles can still go before them. Candidates are thinned to at most
//! [`MAX_CANDIDATES`] (evenly), so memory is bounded even for a very sparse grid.
//!
//! Generic over the payload so the rules can be tested with plain numbers.

use crate::timecode::{FrameIndex, FrameRate};
use std::collections::VecDeque;

/// Cap on buffered middle candidates; beyond it every other one is dropped (and only every
/// second later frame is considered), so they stay evenly spread at half the density.
pub(crate) const MAX_CANDIDATES: usize = 32;

/// A frame chosen for sampling.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pick<T> {
    pub index: FrameIndex,
    pub shot: usize,
    pub payload: T,
}

/// A frame held back while the shot is short of samples.
struct Held<T> {
    index: FrameIndex,
    payload: T,
    /// On the grid: will be sampled. Otherwise a middle candidate.
    grid: bool,
}

/// The online sampling state.
pub(crate) struct Sampler<T> {
    /// Frames per grid step (fps / per_second); <= 1 means every frame.
    grid_frames: f64,
    every_frame: bool,
    min_per_shot: u32,
    range: (FrameIndex, FrameIndex),
    /// Shot of the frames being collected.
    shot: usize,
    /// Samples already sent for the current shot (within the range).
    sent: u32,
    /// Index of the last sample sent.
    last_sent: FrameIndex,
    /// The most recent frame, not sampled: the shot's last frame if a cut follows.
    pending: Option<(FrameIndex, T)>,
    /// Frames since the last sample sent (excluding `pending`), kept while the shot is short.
    held: VecDeque<Held<T>>,
    /// Grid frames in `held`.
    held_grid: u32,
    /// Only every `keep_every`-th candidate is kept (grows when candidates hit the cap).
    keep_every: u64,
    /// Candidates offered since the last sample sent.
    offered: u64,
    /// Whether a frame inside the range has been seen.
    started: bool,
    /// The last frame pushed inside the range: image sequences may skip numbers (gaps).
    prev: Option<FrameIndex>,
}

impl<T> Sampler<T> {
    /// A sampler for `rate` fps video. `range` is inclusive.
    pub fn new(
        rate: FrameRate,
        per_second: f64,
        min_per_shot: u32,
        every_frame: bool,
        range: (FrameIndex, FrameIndex),
    ) -> Self {
        Self {
            grid_frames: rate.fps() / per_second,
            every_frame,
            min_per_shot,
            range,
            shot: 0,
            sent: 0,
            last_sent: 0,
            pending: None,
            held: VecDeque::new(),
            held_grid: 0,
            keep_every: 1,
            offered: 0,
            started: false,
            prev: None,
        }
    }

    /// Whether frame `index` lies on the sampling grid: the first frame at or after a
    /// multiple of `1/per_second` seconds. `prev` is the frame pushed before it, if any: a
    /// grid point in a gap of an image sequence goes to the first frame after the gap.
    fn on_grid(&self, index: FrameIndex, prev: Option<FrameIndex>) -> bool {
        if self.grid_frames <= 1.0 || index == 0 {
            return true;
        }
        // Grid point k is at frame k * grid_frames; frame i is on the grid when a grid point
        // falls in (prev, i] (prev = i - 1 in video). The epsilon keeps a grid point that is
        // exactly a whole frame from being lost to rounding below it.
        let k = |i: FrameIndex| (i as f64 / self.grid_frames + 1e-9).floor();
        k(index) != k(prev.unwrap_or(index - 1))
    }

    /// Takes frame `index` of shot `shot`; `starts_shot` marks the first frame of a shot.
    /// Frames must come in order. Samples decided now are appended to `out`, in order.
    pub fn push(
        &mut self,
        index: FrameIndex,
        shot: usize,
        starts_shot: bool,
        payload: T,
        out: &mut Vec<Pick<T>>,
    ) {
        let (first, last) = self.range;
        if index < first || index > last {
            return;
        }
        let prev = self.prev.replace(index);
        if starts_shot || !self.started || shot != self.shot {
            self.close_shot(out);
            self.started = true;
            self.shot = shot;
            self.send(index, payload, out);
            return;
        }
        if self.every_frame {
            self.send(index, payload, out);
            return;
        }
        if let Some((i, p)) = self.pending.take() {
            self.offer_candidate(i, p);
        }
        if self.on_grid(index, prev) {
            if self.short_of_samples(1) {
                self.held.push_back(Held {
                    index,
                    payload,
                    grid: true,
                });
                self.held_grid += 1;
            } else {
                // Enough samples are now certain: nothing held is needed as a middle.
                self.flush_grid(out);
                self.send(index, payload, out);
            }
        } else {
            self.pending = Some((index, payload));
        }
    }

    /// Ends sampling (end of stream or of the range): the current shot's last frame and any
    /// middle frames it still needs.
    pub fn finish(&mut self, out: &mut Vec<Pick<T>>) {
        self.close_shot(out);
    }

    /// Whether the shot would end short of samples, counting what was sent, the grid frames
    /// held, `extra` more, and its last frame still to come.
    fn short_of_samples(&self, extra: u32) -> bool {
        self.sent + self.held_grid + extra + 1 < self.min_per_shot
    }

    /// A frame that turned out not to be the shot's last: keep it as a middle candidate if
    /// the shot may need one.
    fn offer_candidate(&mut self, index: FrameIndex, payload: T) {
        if !self.short_of_samples(0) {
            return;
        }
        self.offered += 1;
        if !(self.offered - 1).is_multiple_of(self.keep_every) {
            return;
        }
        self.held.push_back(Held {
            index,
            payload,
            grid: false,
        });
        if self.held.len() - self.held_grid as usize > MAX_CANDIDATES {
            // Halve the density: keep the 1st, 3rd, 5th... candidate, and all grid frames.
            let mut n = 0;
            self.held.retain(|h| {
                if h.grid {
                    return true;
                }
                n += 1;
                n % 2 == 1
            });
            self.keep_every *= 2;
        }
    }

    /// Sends the held grid frames, in order, and forgets the candidates.
    fn flush_grid(&mut self, out: &mut Vec<Pick<T>>) {
        let held = std::mem::take(&mut self.held);
        self.held_grid = 0;
        for h in held.into_iter().filter(|h| h.grid) {
            self.send(h.index, h.payload, out);
        }
    }

    fn send(&mut self, index: FrameIndex, payload: T, out: &mut Vec<Pick<T>>) {
        out.push(Pick {
            index,
            shot: self.shot,
            payload,
        });
        self.sent += 1;
        self.last_sent = index;
        self.offered = 0;
        self.keep_every = 1;
    }

    fn close_shot(&mut self, out: &mut Vec<Pick<T>>) {
        let pending = self.pending.take();
        let certain = self.sent + self.held_grid + u32::from(pending.is_some());
        let needed = self.min_per_shot.saturating_sub(certain) as usize;
        let mut held: Vec<Held<T>> = std::mem::take(&mut self.held).into();
        self.held_grid = 0;
        if needed > 0 {
            let mut fixed: Vec<FrameIndex> = vec![self.last_sent];
            fixed.extend(held.iter().filter(|h| h.grid).map(|h| h.index));
            fixed.extend(pending.as_ref().map(|p| p.0));
            let candidates: Vec<FrameIndex> =
                held.iter().filter(|h| !h.grid).map(|h| h.index).collect();
            let chosen = fill_gaps(fixed, &candidates, needed);
            for h in &mut held {
                if chosen.contains(&h.index) {
                    h.grid = true;
                }
            }
        }
        for h in held.into_iter().filter(|h| h.grid) {
            self.send(h.index, h.payload, out);
        }
        if let Some((index, payload)) = pending {
            self.send(index, payload, out);
        }
        self.sent = 0;
        self.offered = 0;
        self.keep_every = 1;
    }
}

/// Chooses up to `n` of `candidates` one at a time, each nearest the middle of the largest
/// gap between frames already chosen (`fixed` to start with) that has a candidate in it.
fn fill_gaps(mut fixed: Vec<FrameIndex>, candidates: &[FrameIndex], n: usize) -> Vec<FrameIndex> {
    let mut chosen = Vec::new();
    for _ in 0..n {
        fixed.sort_unstable();
        let mut best: Option<(u64, FrameIndex)> = None;
        for w in fixed.windows(2) {
            let (a, b) = (w[0], w[1]);
            let mid2 = a + b; // twice the middle, to stay in integers
            let pick = candidates
                .iter()
                .copied()
                .filter(|&c| c > a && c < b && !chosen.contains(&c))
                .min_by_key(|&c| (2 * c).abs_diff(mid2));
            if let Some(c) = pick {
                if best.is_none_or(|(gap, _)| b - a > gap) {
                    best = Some((b - a, c));
                }
            }
        }
        let Some((_, c)) = best else { break };
        chosen.push(c);
        fixed.push(c);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sampler over `n` frames with cuts at `cuts`; returns (index, shot) picks.
    fn run(
        rate: (u32, u32),
        per_second: f64,
        min: u32,
        every: bool,
        range: (u64, u64),
        n: u64,
        cuts: &[u64],
    ) -> Vec<(u64, usize)> {
        let rate = FrameRate::new(rate.0, rate.1).unwrap();
        let mut s = Sampler::new(rate, per_second, min, every, range);
        let mut out = Vec::new();
        let mut shot = 0;
        for i in 0..n {
            let cut = cuts.contains(&i);
            if cut {
                shot += 1;
            }
            s.push(i, shot, cut || i == 0, i, &mut out);
            if i == range.1 {
                break;
            }
        }
        s.finish(&mut out);
        for p in &out {
            assert_eq!(p.index, p.payload);
        }
        out.iter().map(|p| (p.index, p.shot)).collect()
    }

    #[test]
    fn grid_first_and_last_frames() {
        // 25 fps, 2/s: grid at 0, 12.5 -> 13, 25, 37.5 -> 38, 50.
        let picks = run((25, 1), 2.0, 3, false, (0, u64::MAX), 51, &[]);
        let idx: Vec<u64> = picks.iter().map(|p| p.0).collect();
        assert_eq!(idx, vec![0, 13, 25, 38, 50]);
    }

    #[test]
    fn short_shot_gets_a_middle_frame() {
        // Shot 1 is frames 20..=24: first 20, grid 25 is in the next shot, last 24, middle 22.
        let picks = run((25, 1), 2.0, 3, false, (0, u64::MAX), 40, &[20, 25]);
        assert_eq!(
            picks,
            vec![
                (0, 0),
                (13, 0),
                (19, 0),
                (20, 1),
                (22, 1),
                (24, 1),
                (25, 2),
                (38, 2),
                (39, 2)
            ]
        );
    }

    #[test]
    fn one_and_two_frame_shots() {
        let picks = run((25, 1), 2.0, 3, false, (0, u64::MAX), 6, &[1, 2, 4]);
        assert_eq!(picks, vec![(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3)]);
    }

    #[test]
    fn samples_come_in_increasing_order_and_every_shot_is_covered() {
        let cuts = [7u64, 9, 30, 31, 90, 140];
        for min in 1..6 {
            for ps in [0.1, 0.5, 2.0, 7.0, 30.0] {
                let picks = run((30000, 1001), ps, min, false, (0, u64::MAX), 200, &cuts);
                assert!(picks.windows(2).all(|w| w[0].0 < w[1].0), "{picks:?}");
                let mut bounds = vec![0u64];
                bounds.extend(cuts);
                bounds.push(200);
                for (shot, w) in bounds.windows(2).enumerate() {
                    let got: Vec<u64> = picks.iter().filter(|p| p.1 == shot).map(|p| p.0).collect();
                    let len = w[1] - w[0];
                    assert!(got.contains(&w[0]) && got.contains(&(w[1] - 1)), "{got:?}");
                    assert!(
                        got.len() as u64 >= u64::from(min).min(len),
                        "shot {shot} ({len} frames) got {got:?} with min {min}, ps {ps}"
                    );
                    assert!(got.iter().all(|&i| i >= w[0] && i < w[1]));
                }
            }
        }
    }

    #[test]
    fn range_limits_samples_and_starts_a_shot() {
        // Range 10..=30 in one long shot: 10 (range start), 13, 25, 30 (range end).
        let picks = run((25, 1), 2.0, 3, false, (10, 30), 100, &[]);
        assert_eq!(picks, vec![(10, 0), (13, 0), (25, 0), (30, 0)]);
        // A cut inside the range keeps the file's shot numbering.
        let picks = run((25, 1), 2.0, 3, false, (10, 30), 100, &[5, 20]);
        assert_eq!(
            picks,
            vec![(10, 1), (13, 1), (19, 1), (20, 2), (25, 2), (30, 2)]
        );
    }

    #[test]
    fn a_grid_point_in_a_gap_goes_to_the_next_frame() {
        // 25 fps, 2/s: grid points 12.5 and 25 fall in the gaps 11..=14 and 24..=25.
        let rate = FrameRate::new(25, 1).unwrap();
        let mut s = Sampler::new(rate, 2.0, 3, false, (0, u64::MAX));
        let mut out = Vec::new();
        let frames = (0..=10).chain(15..=23).chain(26..=40);
        for i in frames {
            s.push(i, 0, i == 0, i, &mut out);
        }
        s.finish(&mut out);
        let idx: Vec<u64> = out.iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![0, 15, 26, 38, 40]);
    }

    #[test]
    fn every_frame_mode() {
        let picks = run((25, 1), 2.0, 3, true, (3, 8), 20, &[5]);
        let want: Vec<(u64, usize)> = (3..=8).map(|i| (i, if i < 5 { 0 } else { 1 })).collect();
        assert_eq!(picks, want);
    }

    #[test]
    fn buffer_stays_bounded_with_a_sparse_grid() {
        // 0.01/s at 25 fps: one grid step is 2500 frames. A shot of 2000 frames needs
        // 8 middles; never more than MAX_CANDIDATES are held.
        let rate = FrameRate::new(25, 1).unwrap();
        let mut s = Sampler::new(rate, 0.01, 10, false, (0, u64::MAX));
        let mut out = Vec::new();
        for i in 0..2000u64 {
            s.push(i, 0, i == 0, i, &mut out);
            assert!(s.held.len() <= MAX_CANDIDATES + 10);
        }
        s.finish(&mut out);
        let idx: Vec<u64> = out.iter().map(|p| p.index).collect();
        assert_eq!(idx.len(), 10);
        assert_eq!((idx[0], idx[9]), (0, 1999));
        // Evenly spread: no gap more than twice the ideal.
        assert!(
            idx.windows(2).all(|w| w[1] - w[0] < 2 * 2000 / 9),
            "{idx:?}"
        );
    }

    #[test]
    fn gaps_are_filled_largest_first() {
        let cands: Vec<u64> = (1..10).collect();
        // One pick between 0 and 10: the middle.
        assert_eq!(fill_gaps(vec![0, 10], &cands, 1), vec![5]);
        // Two picks: the middle, then the middle of one half.
        assert_eq!(fill_gaps(vec![0, 10], &cands, 2), vec![5, 2]);
        // The largest gap wins: 4..10 over 0..4.
        assert_eq!(fill_gaps(vec![0, 4, 10], &cands, 1), vec![7]);
        // Not more than there are candidates.
        assert_eq!(fill_gaps(vec![0, 3], &cands, 5), vec![1, 2]);
        assert!(fill_gaps(vec![0, 10], &cands, 0).is_empty());
    }
}
