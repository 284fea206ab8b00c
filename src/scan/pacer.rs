//! Which sampled frames references are matched on, and the frame sink that feeds the
//! workers.

use super::refgate::RefGate;
use crate::media::change::Thumb;
use crate::media::{self, FrameSink, SampledFrame};
use crate::stages::{self, Stage};
use crate::timecode::FrameIndex;
use std::collections::VecDeque;
use std::ops::ControlFlow;
/// A sampled frame on its way to a worker, whether references are matched on it, whether
/// it is one of its shot's key frames (first and last sample, about one a second), where
/// `--hard-faces key` runs the whole-frame passes for hard faces, and whether faces are
/// looked for on the whole tile grid (first and last sample, one every two seconds; the
/// samples between follow the faces already found), and whether it is its shot's last sample.
pub(super) struct Job {
    pub(super) frame: SampledFrame,
    pub(super) refs: bool,
    pub(super) last: bool,
    pub(super) key: bool,
    pub(super) grid: bool,
    /// Whether the small-faces pass runs on it ([`SMALL_PER_SECOND`]).
    pub(super) small: bool,
    /// On a shot's first sample: an earlier shot of the file, at most [`SETUP_SHOTS`]
    /// back, whose first picture this one's is (the camera back on a setup: the next take,
    /// the reverse shot's cut back). The shot goes to that shot's worker, whose reference
    /// checks may follow what that shot's searches found instead of searching again.
    pub(super) like: Option<usize>,
}

/// How many shots back a shot's first picture is compared with (and each worker keeps the
/// searched pictures of).
pub(super) const SETUP_SHOTS: usize = 8;

/// Samples at least `gap` frames apart within a shot, plus each shot's first and last.
struct Cadence {
    per_second: f64,
    gap: f64,
    /// Shot and index of the last sample chosen.
    last: Option<(usize, FrameIndex)>,
}

impl Cadence {
    fn new(per_second: f64) -> Self {
        Self {
            per_second,
            gap: 0.0,
            last: None,
        }
    }

    fn start(&mut self, fps: f64, every: bool) {
        self.gap = if every || !(fps > 0.0 && fps.is_finite()) {
            0.0
        } else {
            fps / self.per_second
        };
        self.last = None;
    }

    fn choose(&mut self, frame: &SampledFrame, last_of_shot: bool) -> bool {
        let first_of_shot = self.last.is_none_or(|(shot, _)| shot != frame.shot);
        // Half a frame of slack: grid samples land on whole frames.
        let due = self
            .last
            .is_none_or(|(_, at)| (frame.index - at) as f64 + 0.5 >= self.gap);
        let chosen = first_of_shot || last_of_shot || due;
        if chosen {
            self.last = Some((frame.shot, frame.index));
        }
        chosen
    }
}

/// Key frames for the hard-faces passes: about one a second.
const KEY_PER_SECOND: f64 = 1.0;

/// Samples the small-faces pass (`Pass::Small`) runs on: each shot's first sample, then one
/// every few seconds; the samples between keep its faces by following them.
const SMALL_PER_SECOND: f64 = 0.2;

/// Samples that look for faces on the whole tile grid (with the close looks): one every two
/// seconds, plus each shot's first and last sample.
const GRID_PER_SECOND: f64 = 0.5;

/// Decides which sampled frames reference matching runs on: each shot's first and last
/// sample, and in between samples at least `1 / per_second` seconds after the previous one
/// matched (every sample when that is denser than the sampling, or in every-frame mode).
/// Faces are still looked for on every sample; this bounds what reference matching, the
/// costlier stage, adds to a scan. Holds one frame back, to know whether it ends its shot.
/// Key frames for the hard-faces passes are chosen the same way, at one a second.
pub(super) struct RefPacer {
    every: bool,
    refs: Cadence,
    key: Cadence,
    grid: Cadence,
    small: Cadence,
    pending: Option<SampledFrame>,
}

impl RefPacer {
    pub(super) fn new(per_second: f64, every: bool) -> Self {
        Self {
            every,
            refs: Cadence::new(per_second),
            key: Cadence::new(KEY_PER_SECOND),
            grid: Cadence::new(GRID_PER_SECOND),
            small: Cadence::new(SMALL_PER_SECOND),
            pending: None,
        }
    }

    /// The file's frame rate is known.
    fn start(&mut self, fps: f64) {
        self.refs.start(fps, self.every);
        self.key.start(fps, self.every);
        self.grid.start(fps, self.every);
        self.small.start(fps, self.every);
        self.pending = None;
    }

    /// Takes the next sample; gives back the previous one with its decision.
    fn push(&mut self, frame: SampledFrame) -> Option<Job> {
        let next_shot = frame.shot;
        let prev = self.pending.replace(frame)?;
        Some(self.decide(prev, Some(next_shot)))
    }

    /// End of the file: the sample held back (the last of its shot).
    fn finish(&mut self) -> Option<Job> {
        let prev = self.pending.take()?;
        Some(self.decide(prev, None))
    }

    fn decide(&mut self, frame: SampledFrame, next_shot: Option<usize>) -> Job {
        let last_of_shot = next_shot != Some(frame.shot);
        let refs = self.refs.choose(&frame, last_of_shot);
        let key = self.key.choose(&frame, last_of_shot);
        let grid = self.grid.choose(&frame, last_of_shot);
        let small = grid && self.small.choose(&frame, false);
        Job {
            frame,
            refs,
            last: last_of_shot,
            key,
            grid,
            small,
            like: None,
        }
    }
}

/// Feeds the workers: each shot's samples go to one worker, in order, so it can follow the
/// faces, and the references its last search found, from one sample to the next. A new shot
/// whose first picture is an earlier shot's ([`Setups`]) goes to that shot's worker (which
/// has finished it: its queue is in order); any other to the worker with the fewest samples
/// waiting. Which worker takes a shot does not change what is found in it: the look-alike
/// is decided here, in file order, and each worker keeps the searched pictures of every
/// shot of its own within [`SETUP_SHOTS`].
pub(super) struct Sink<'a> {
    pub(super) txs: Vec<crossbeam_channel::Sender<Job>>,
    pub(super) pacer: RefPacer,
    pub(super) progress: &'a mut dyn super::ScanProgress,
    /// The shot being fed and the worker taking it.
    route: Option<(usize, usize)>,
    /// Shots' first pictures, when reference checks follow the gate.
    setups: Option<Setups>,
}

/// The first pictures of the file's last [`SETUP_SHOTS`] shots, with the worker of each.
pub(super) struct Setups {
    gate: RefGate,
    recent: VecDeque<(usize, usize, Thumb)>,
}

impl Setups {
    pub(super) fn new(gate: RefGate) -> Self {
        Self {
            gate,
            recent: VecDeque::new(),
        }
    }

    /// The latest earlier shot (and its worker) whose first picture `thumb`, the first of
    /// `shot`, shows again (the gate's verdict: the same picture); then remembers `thumb`
    /// as taken by a worker chosen by `pick` when there was none.
    fn route(
        &mut self,
        shot: usize,
        thumb: Thumb,
        pick: impl FnOnce() -> usize,
    ) -> (usize, Option<usize>) {
        while self
            .recent
            .front()
            .is_some_and(|(s, _, _)| s + SETUP_SHOTS < shot)
        {
            self.recent.pop_front();
        }
        let gate = &self.gate;
        let like = self
            .recent
            .iter()
            .rev()
            .find(|(_, _, t)| gate.shows_again(t, &thumb, false));
        let (worker, like) = match like {
            Some(&(s, w, _)) => (w, Some(s)),
            None => (pick(), None),
        };
        self.recent.push_back((shot, worker, thumb));
        (worker, like)
    }
}

impl<'a> Sink<'a> {
    pub(super) fn new(
        txs: Vec<crossbeam_channel::Sender<Job>>,
        pacer: RefPacer,
        progress: &'a mut dyn super::ScanProgress,
        setups: Option<Setups>,
    ) -> Self {
        Self {
            txs,
            pacer,
            progress,
            route: None,
            setups,
        }
    }

    fn send(&mut self, job: Option<Job>) -> ControlFlow<()> {
        let Some(mut job) = job else {
            return ControlFlow::Continue(());
        };
        let shot = job.frame.shot;
        let worker = match self.route {
            Some((s, w)) if s == shot => w,
            _ => {
                let txs = &self.txs;
                let Some(fewest) = (0..txs.len()).min_by_key(|&i| txs[i].len()) else {
                    return ControlFlow::Break(());
                };
                let w = match self.setups.as_mut() {
                    Some(setups) if job.refs => {
                        let (w, like) = stages::time(Stage::RefGate, || {
                            setups.route(shot, Thumb::of(&job.frame.image), || fewest)
                        });
                        job.like = like;
                        w
                    }
                    _ => fewest,
                };
                self.route = Some((shot, w));
                w
            }
        };
        match self.txs[worker].send(job) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }

    /// Sends the frame held back and closes the channels, so workers finish.
    pub(super) fn finish(&mut self) {
        let last = self.pacer.finish();
        let _ = self.send(last);
        self.txs.clear();
    }
}

impl FrameSink for Sink<'_> {
    fn start(&mut self, info: &media::MediaInfo) {
        self.pacer.start(info.frame_rate.fps());
        self.progress.started(info);
    }

    fn sample(&mut self, frame: SampledFrame) -> ControlFlow<()> {
        let job = self.pacer.push(frame);
        self.send(job)
    }

    fn progress(&mut self, decoded: u64) {
        self.progress.decoded(decoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::SampledFrame;

    /// The frames (index) the pacer matches references on, for samples (index, shot).
    fn paced(samples: &[(u64, usize)], fps: f64, per_second: f64, every: bool) -> Vec<u64> {
        paced_by(samples, fps, per_second, every, |j| j.refs)
    }

    /// The frames (index) of the jobs `pick` chooses.
    fn paced_by(
        samples: &[(u64, usize)],
        fps: f64,
        per_second: f64,
        every: bool,
        pick: fn(&Job) -> bool,
    ) -> Vec<u64> {
        let mut p = RefPacer::new(per_second, every);
        p.start(fps);
        let mut jobs = Vec::new();
        for &(index, shot) in samples {
            jobs.extend(p.push(SampledFrame {
                index,
                shot,
                image: image::RgbImage::new(1, 1),
            }));
        }
        jobs.extend(p.finish());
        assert_eq!(jobs.len(), samples.len(), "every sample reaches a worker");
        jobs.iter()
            .filter(|j| pick(j))
            .map(|j| j.frame.index)
            .collect()
    }

    /// 25 fps sampled at 2/s: a 4 s shot (0..=99), then a 0.4 s shot (100..=109).
    const FOUR_SECOND_SHOT: [(u64, usize); 10] = [
        (0, 0),
        (13, 0),
        (25, 0),
        (38, 0),
        (50, 0),
        (63, 0),
        (99, 0),
        (100, 1),
        (105, 1),
        (109, 1),
    ];

    #[test]
    fn key_frames_are_one_a_second_and_each_shots_ends_whatever_the_reference_rate() {
        let samples = FOUR_SECOND_SHOT;
        let keys = |rate| paced_by(&samples, 25.0, rate, false, |j| j.key);
        assert_eq!(keys(1.0), vec![0, 25, 50, 99, 100, 109]);
        assert_eq!(keys(10.0), keys(1.0));
        assert_eq!(paced_by(&samples, 25.0, 1.0, true, |j| j.key).len(), 10);
    }

    #[test]
    fn the_grid_looks_every_two_seconds_and_on_each_shots_ends() {
        let samples = FOUR_SECOND_SHOT;
        let grid = paced_by(&samples, 25.0, 1.0, false, |j| j.grid);
        assert_eq!(grid, vec![0, 50, 99, 100, 109]);
        // Every-frame mode (inspect): the whole grid on every frame.
        assert_eq!(paced_by(&samples, 25.0, 1.0, true, |j| j.grid).len(), 10);
    }

    #[test]
    fn the_small_faces_pass_runs_on_each_shots_first_grid_sample_then_every_five_seconds() {
        // 25 fps sampled at 2/s: a 12 s shot (0..=299), then a 1 s shot (300..=324).
        let mut samples: Vec<(u64, usize)> = (0..24).map(|i| (i * 25 / 2, 0)).collect();
        samples.push((299, 0));
        samples.extend([(300, 1), (312, 1), (324, 1)]);
        let grid = paced_by(&samples, 25.0, 1.0, false, |j| j.grid);
        let small = paced_by(&samples, 25.0, 1.0, false, |j| j.small);
        assert_eq!(small, vec![0, 150, 299, 300]);
        assert!(small.iter().all(|s| grid.contains(s)), "{small:?} {grid:?}");
        // Every-frame mode (inspect): on every frame.
        assert_eq!(
            paced_by(&samples, 25.0, 1.0, true, |j| j.small).len(),
            samples.len()
        );
    }

    #[test]
    fn each_shot_goes_to_one_worker_in_order() {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| crossbeam_channel::bounded(64)).unzip();
        let mut progress = ();
        let mut sink = Sink::new(txs, RefPacer::new(1.0, false), &mut progress, None);
        sink.pacer.start(25.0);
        let samples = [
            (0, 0),
            (5, 0),
            (9, 0),
            (10, 1),
            (12, 1),
            (20, 2),
            (30, 3),
            (31, 3),
        ];
        for &(index, shot) in &samples {
            let frame = SampledFrame {
                index,
                shot,
                image: image::RgbImage::new(1, 1),
            };
            assert!(sink.sample(frame).is_continue());
        }
        sink.finish();
        let jobs: Vec<Vec<Job>> = rxs.iter().map(|rx| rx.try_iter().collect()).collect();
        let got: Vec<Vec<(u64, usize)>> = jobs
            .iter()
            .map(|q| q.iter().map(|j| (j.frame.index, j.frame.shot)).collect())
            .collect();
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), samples.len());
        for shot in 0..4 {
            let holders: Vec<usize> = (0..2)
                .filter(|&w| got[w].iter().any(|&(_, s)| s == shot))
                .collect();
            assert_eq!(holders.len(), 1, "shot {shot} went to {holders:?}: {got:?}");
        }
        for queue in &got {
            assert!(
                queue.windows(2).all(|p| p[0].0 < p[1].0),
                "in order: {queue:?}"
            );
        }
        // Both workers got work: a new shot goes to the shorter queue.
        assert!(got.iter().all(|q| !q.is_empty()), "{got:?}");
        // The samples references are matched on (each shot's first and last, 1/s: all but
        // frame 5) are marked for the worker of their shot.
        let mut refs: Vec<u64> = jobs
            .iter()
            .flatten()
            .filter(|j| j.refs)
            .map(|j| j.frame.index)
            .collect();
        refs.sort_unstable();
        assert_eq!(refs, vec![0, 9, 10, 12, 20, 30, 31]);
    }

    #[test]
    fn a_shot_back_on_an_earlier_setup_goes_to_its_worker_named_like_it() {
        // Pictures of blocks of `k + 6` pixels, a third of them bright: each its own.
        let picture = |k: u32| {
            image::RgbImage::from_fn(320, 180, |x, y| {
                let (bx, by) = (x / (k + 6), y / (k + 6));
                let v = if (bx * 7 + by * 13 + k).is_multiple_of(3) {
                    220
                } else {
                    30
                };
                image::Rgb([v; 3])
            })
        };
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| crossbeam_channel::bounded(64)).unzip();
        let mut progress = ();
        let setups = Setups::new(RefGate::default());
        let mut sink = Sink::new(txs, RefPacer::new(1.0, false), &mut progress, Some(setups));
        sink.pacer.start(25.0);
        // Setups A, B, A, B, then A again past `SETUP_SHOTS` of other pictures.
        let mut shots = vec![0, 1, 0, 1];
        shots.extend((0..SETUP_SHOTS as u32).map(|i| 2 + i));
        shots.push(0);
        for (shot, &k) in shots.iter().enumerate() {
            for index in [shot as u64 * 10, shot as u64 * 10 + 5] {
                let image = picture(k);
                assert!(sink
                    .sample(SampledFrame { index, shot, image })
                    .is_continue());
            }
        }
        sink.finish();
        let jobs: Vec<Vec<Job>> = rxs.iter().map(|rx| rx.try_iter().collect()).collect();
        let worker_of =
            |shot: usize| (0..2).find(|&w| jobs[w].iter().any(|j| j.frame.shot == shot));
        let like: Vec<Option<usize>> = (0..shots.len())
            .map(|shot| {
                let firsts = jobs.iter().flatten().filter(|j| j.frame.shot == shot);
                firsts.min_by_key(|j| j.frame.index).and_then(|j| j.like)
            })
            .collect();
        let mut want = vec![None, None, Some(0), Some(1)];
        want.extend(std::iter::repeat_n(None, SETUP_SHOTS + 1));
        assert_eq!(like, want);
        assert_eq!(worker_of(2), worker_of(0));
        assert_eq!(worker_of(3), worker_of(1));
        // Only a shot's first sample carries it.
        assert!(jobs.iter().flatten().filter(|j| j.like.is_some()).count() == 2);
    }

    #[test]
    fn references_are_matched_once_a_second_and_on_each_shots_first_and_last_sample() {
        // 25 fps sampled at 2/s: a 4 s shot (0..=99), then a 0.4 s shot (100..=109).
        let samples = [
            (0, 0),
            (13, 0),
            (25, 0),
            (38, 0),
            (50, 0),
            (63, 0),
            (75, 0),
            (88, 0),
            (99, 0),
            (100, 1),
            (105, 1),
            (109, 1),
        ];
        assert_eq!(
            paced(&samples, 25.0, 1.0, false),
            vec![0, 25, 50, 75, 99, 100, 109]
        );
        // Denser than the sampling: every sample.
        assert_eq!(paced(&samples, 25.0, 10.0, false).len(), samples.len());
        // Every-frame mode (inspect), whatever the rate.
        assert_eq!(paced(&samples, 25.0, 0.1, true).len(), samples.len());
        // NTSC: grid samples on whole frames still count as a second apart.
        let ntsc = [(0, 0), (15, 0), (30, 0), (45, 0), (60, 0), (75, 0)];
        assert_eq!(
            paced(&ntsc, 30000.0 / 1001.0, 1.0, false),
            vec![0, 30, 60, 75]
        );
        // A still: its one frame.
        assert_eq!(paced(&[(0, 0)], 0.0, 1.0, false), vec![0]);
    }
}
