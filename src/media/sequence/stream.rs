//! Decoding an image sequence as one clip: the same single pass as video (thumbnail ->
//! `CutDetector` -> `ShotList` -> `Sampler` -> sink), with frames read from one file each.
//! The rules (gaps, odd frames, timecode) are in the parent module's doc.

use super::frames::{fit, load_all, Warnings};
use super::ImageSequence;
use crate::media::picture::rgb_thumbnail;
use crate::media::sampler::{Pick, Sampler};
use crate::media::{
    init, probe, FrameSink, MediaError, MediaInfo, SampledFrame, SamplingOptions, StreamSummary,
};
use crate::shots::{CutDetector, ShotList};
use crate::timecode::{FrameIndex, FrameRate, Timecode};
use image::RgbImage;
use std::ops::ControlFlow;
use std::path::Path;

/// `MediaInfo::container` of every sequence.
pub const CONTAINER: &str = "image sequence";

/// Report progress to the sink every this many frames read.
const PROGRESS_EVERY: u64 = 25;

/// Frames loaded at once, at most: each is a full RGB picture (26 MB at 4K).
const MAX_PARALLEL: usize = 8;

/// Describes the sequence at `rate` from its first frame that probes with a size, without
/// decoding (so a frame with a sound header and damaged pixels passes here, not in
/// [`stream_sequence`]).
pub fn probe_sequence(seq: &ImageSequence, rate: FrameRate) -> Result<MediaInfo, MediaError> {
    init();
    check(seq, rate)?;
    let mut first_error = None;
    for (_, path) in &seq.frames {
        match probe(path) {
            // FFmpeg names the codec of a DPX or EXR file from its extension alone; only a
            // size shows that it read the header.
            Ok(one) if one.width > 0 && one.height > 0 => {
                let size = (one.width, one.height);
                return Ok(sequence_info(seq, rate, one.video_codec, size));
            }
            Ok(_) => {
                first_error.get_or_insert_with(|| MediaError::Decode {
                    path: path.clone(),
                    cause: "no picture size in the header".into(),
                });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(nothing_decodes(seq, first_error))
}

/// Decodes the sequence as one clip at `rate`, finding shots on every frame and handing the
/// sampled frames (see [`SamplingOptions`]; `range` in frame indices, number - first) to
/// `sink` in increasing index order, exactly as [`stream`](crate::media::stream) does for a
/// video. Gaps, frames that do not load and frames of another size become warnings; a
/// sequence without a single loadable frame is an error.
pub fn stream_sequence(
    seq: &ImageSequence,
    rate: FrameRate,
    opts: &SamplingOptions,
    sink: &mut dyn FrameSink,
) -> Result<StreamSummary, MediaError> {
    init();
    opts.validate().map_err(|source| MediaError::Options {
        path: seq.path(),
        source,
    })?;
    check(seq, rate)?;
    let range = opts.range.unwrap_or((0, u64::MAX));
    let mut warnings = Warnings::new(seq);
    for gap in seq.gaps() {
        warnings.gap(seq, gap);
    }
    let mut pass = Pass {
        seq,
        sink,
        info: None,
        detector: CutDetector::new(opts.cut_threshold),
        shots: ShotList::new(),
        sampler: Sampler::new(
            rate,
            opts.per_second,
            opts.min_per_shot,
            opts.every_frame,
            range,
        ),
        picks: Vec::new(),
        decoded: 0,
        sampled: 0,
        warnings,
        first_error: None,
    };
    // Frames after the range are not read: there is nothing to sample in them.
    let todo: Vec<(FrameIndex, u64, &Path)> = seq
        .frames
        .iter()
        .map(|(number, path)| (number - seq.first(), *number, path.as_path()))
        .take_while(|f| f.0 <= range.1)
        .collect();
    let workers = match opts.decoder_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, MAX_PARALLEL);
    let (mut position, mut read) = (0, 0u64);
    for batch in todo.chunks(workers) {
        let paths: Vec<&Path> = batch.iter().map(|f| f.2).collect();
        for (&(index, number, path), loaded) in
            batch.iter().zip(load_all(&paths, workers, opts.max_pixels))
        {
            pass.frame(index, number, path, loaded, rate)?;
            position = index + 1;
            read += 1;
            if read % PROGRESS_EVERY == 0 {
                pass.sink.progress(position);
            }
        }
    }
    pass.sampler.finish(&mut pass.picks);
    pass.deliver()?;
    pass.sink.progress(position);

    let Some(info) = pass.info.take() else {
        return Err(nothing_decodes(seq, pass.first_error));
    };
    let mut warnings = pass.warnings.finish();
    if range.0 >= seq.frame_count() {
        warnings.push(format!(
            "{}: range starts at frame {} but the sequence has {} frames; nothing sampled",
            pass.warnings.label,
            range.0,
            seq.frame_count()
        ));
    }
    Ok(StreamSummary {
        info,
        shots: pass.shots.finish(),
        frames_decoded: pass.decoded,
        frames_skipped: 0,
        frames_sampled: pass.sampled,
        warnings,
    })
}

/// Rejects what cannot be a clip, before anything is read.
fn check(seq: &ImageSequence, rate: FrameRate) -> Result<(), MediaError> {
    if rate.num == 0 || rate.den == 0 {
        return Err(MediaError::Unsupported {
            path: seq.path(),
            cause: format!("frame rate {}/{} for an image sequence", rate.num, rate.den),
        });
    }
    if seq.frames.is_empty() {
        return Err(MediaError::NotMedia {
            path: seq.path(),
            cause: "image sequence without frames".into(),
        });
    }
    // Only a hand-built value can break this; the timeline needs it.
    if !seq.frames.windows(2).all(|w| w[0].0 < w[1].0) {
        return Err(MediaError::Unsupported {
            path: seq.path(),
            cause: "image sequence frames not in increasing number order".into(),
        });
    }
    Ok(())
}

/// The clip's description, from its first usable frame's codec and size.
fn sequence_info(
    seq: &ImageSequence,
    rate: FrameRate,
    codec: String,
    size: (u32, u32),
) -> MediaInfo {
    let frames = seq.frame_count();
    MediaInfo {
        path: seq.path(),
        container: CONTAINER.to_string(),
        video_codec: codec,
        width: size.0,
        height: size.1,
        frame_rate: rate,
        frame_count: Some(frames),
        duration_seconds: Some(rate.seconds_at(frames)),
        start_timecode: Timecode::from_frames(seq.first(), rate),
        timecode_source: Some(format!("frame number {} at {rate} fps", seq.first())),
        is_still: false,
    }
}

fn nothing_decodes(seq: &ImageSequence, first_error: Option<MediaError>) -> MediaError {
    let first = first_error.map_or_else(String::new, |e| format!(" (first failure: {e})"));
    MediaError::Decode {
        path: seq.path(),
        cause: format!(
            "none of the {} frames of {} can be read{first}",
            seq.frames.len(),
            seq.display_name()
        ),
    }
}

/// State of one pass over a sequence.
struct Pass<'a> {
    seq: &'a ImageSequence,
    sink: &'a mut dyn FrameSink,
    /// Known from the first frame that loads; `sink.start` is called then.
    info: Option<MediaInfo>,
    detector: CutDetector,
    shots: ShotList,
    sampler: Sampler<RgbImage>,
    picks: Vec<Pick<RgbImage>>,
    decoded: u64,
    sampled: u64,
    warnings: Warnings,
    first_error: Option<MediaError>,
}

impl Pass<'_> {
    /// Takes frame `index` (file `number`), or its loading error.
    fn frame(
        &mut self,
        index: FrameIndex,
        number: u64,
        path: &Path,
        loaded: Result<RgbImage, MediaError>,
        rate: FrameRate,
    ) -> Result<(), MediaError> {
        let image = match loaded {
            Ok(image) => image,
            Err(e) => {
                self.warnings.unreadable(self.seq, number, &e);
                self.first_error.get_or_insert(e);
                return Ok(());
            }
        };
        let size = match &self.info {
            Some(info) => (info.width, info.height),
            None => {
                let codec = probe(path)
                    .map_or_else(|_| self.seq.ext.to_ascii_lowercase(), |one| one.video_codec);
                let info = sequence_info(self.seq, rate, codec, image.dimensions());
                self.sink.start(&info);
                let size = (info.width, info.height);
                self.info = Some(info);
                size
            }
        };
        let image = if image.dimensions() == size {
            image
        } else {
            self.warnings
                .resized(self.seq, number, path, image.dimensions(), size);
            fit(&image, size)
        };
        let starts_shot = self.detector.push(rgb_thumbnail(&image));
        let shot = self.shots.push(index, starts_shot);
        let first = self.decoded == 0;
        self.decoded += 1;
        self.sampler
            .push(index, shot, starts_shot || first, image, &mut self.picks);
        self.deliver()
    }

    /// Hands the picks to the sink.
    fn deliver(&mut self) -> Result<(), MediaError> {
        for pick in self.picks.drain(..) {
            self.sampled += 1;
            let frame = SampledFrame {
                index: pick.index,
                shot: pick.shot,
                image: pick.payload,
            };
            if let ControlFlow::Break(()) = self.sink.sample(frame) {
                return Err(MediaError::Cancelled {
                    path: self.seq.path(),
                    frame: pick.index,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{group, Input};
    use super::*;
    use crate::media::test_fixtures::{expected, expected_shots, mean_abs_diff, path, Collect};
    use crate::shots::Shot;

    fn rate24() -> FrameRate {
        FrameRate { num: 24, den: 1 }
    }

    fn sequence_in(dir: &Path) -> ImageSequence {
        let files = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let mut inputs = group(files, 2);
        assert_eq!(inputs.len(), 1, "{inputs:?}");
        match inputs.remove(0) {
            Input::Sequence(s) => s,
            Input::File(p) => panic!("{} is not a sequence", p.display()),
        }
    }

    fn run(seq: &ImageSequence, opts: &SamplingOptions) -> (StreamSummary, Collect) {
        let mut sink = Collect::default();
        let summary =
            stream_sequence(seq, rate24(), opts, &mut sink).unwrap_or_else(|e| panic!("{e}"));
        (summary, sink)
    }

    fn spans(shots: &[Shot]) -> Vec<(u64, u64)> {
        shots.iter().map(|s| (s.first, s.last)).collect()
    }

    fn picks(sink: &Collect) -> Vec<(u64, usize)> {
        sink.samples.iter().map(|s| (s.0, s.1)).collect()
    }

    /// A copy of fixture folder `name` that a test may damage.
    fn copy_of(name: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(path(name)).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
        dir
    }

    #[test]
    fn fixture_sequences_are_clips_with_their_facts() {
        for name in ["seq_dpx", "seq_exr", "seq_png"] {
            let want = expected(name);
            let seq = sequence_in(&path(name));
            assert_eq!(seq.pattern(), want["pattern"], "{name}");
            assert_eq!(Some(seq.first()), want["first"].as_u64(), "{name}");
            assert_eq!(Some(seq.last()), want["last"].as_u64(), "{name}");
            let gaps: Vec<(u64, u64)> = serde_json::from_value(want["gaps"].clone()).unwrap();
            assert_eq!(seq.gaps(), gaps, "{name}");

            let (summary, sink) = run(&seq, &SamplingOptions::default());
            let info = &summary.info;
            assert_eq!(info.video_codec, want["codec"], "{name}");
            assert_eq!(u64::from(info.width), want["width"], "{name}");
            assert_eq!(u64::from(info.height), want["height"], "{name}");
            assert_eq!(info.container, CONTAINER);
            assert!(!info.is_still);
            assert_eq!(info.path, path(name).join(seq.pattern()));
            assert_eq!(info.frame_rate, rate24());
            let frames = seq.last() - seq.first() + 1;
            assert_eq!(info.frame_count, Some(frames));
            assert_eq!(info.duration_seconds, Some(frames as f64 / 24.0));
            assert_eq!(info.start_timecode.to_string(), want["start_timecode_24"]);
            assert!(info.timecode_source.is_some());
            let probed = probe_sequence(&seq, rate24()).unwrap();
            assert_eq!(
                (probed.video_codec.as_str(), probed.width, probed.height),
                (info.video_codec.as_str(), info.width, info.height)
            );

            assert_eq!(spans(&summary.shots), expected_shots(name), "{name}");
            assert_eq!(summary.frames_decoded, seq.frames.len() as u64);
            assert_eq!(summary.frames_sampled, sink.samples.len() as u64);
            assert_eq!(summary.warnings.len(), gaps.len(), "{:?}", summary.warnings);
            let idx: Vec<u64> = sink.samples.iter().map(|s| s.0).collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
            let exists = |i: u64| seq.frames.iter().any(|f| f.0 - seq.first() == i);
            assert!(idx.iter().all(|&i| exists(i)), "{name}: {idx:?}");
            for shot in &summary.shots {
                assert!(
                    idx.contains(&shot.first) && idx.contains(&shot.last),
                    "{name}"
                );
            }
            assert!(sink.samples.iter().all(|s| s.2 == (320, 180)));
        }
    }

    #[test]
    fn ten_bit_dpx_and_float_exr_decode_to_the_picture() {
        // The first testsrc2 frame of each sequence; still.png is the same picture.
        let png = crate::media::load_still(&path("still.png")).unwrap();
        for (name, index) in [("seq_dpx", 0), ("seq_exr", 6), ("seq_png", 0)] {
            let mut sink = Collect {
                keep_images: true,
                ..Collect::default()
            };
            let opts = SamplingOptions {
                range: Some((index, index)),
                ..SamplingOptions::default()
            };
            stream_sequence(&sequence_in(&path(name)), rate24(), &opts, &mut sink).unwrap();
            let diff = mean_abs_diff(&sink.images[0], &png);
            assert!(diff < 6.0, "{name}: {diff}");
        }
    }

    /// Keeps the progress values.
    #[derive(Default)]
    struct Progress(Vec<u64>, u64);

    impl FrameSink for Progress {
        fn sample(&mut self, _frame: SampledFrame) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
        fn start(&mut self, info: &MediaInfo) {
            self.1 = info.frame_count.unwrap_or(0);
        }
        fn progress(&mut self, position: u64) {
            self.0.push(position);
        }
    }

    #[test]
    fn dpx_gaps_are_holes_in_one_timeline() {
        let seq = sequence_in(&path("seq_dpx"));
        let (summary, sink) = run(&seq, &SamplingOptions::default());
        // 2/s at 24 fps: grid points 12 and 36. 12 is missing, so 13 takes it; 22 is the
        // first shot's last frame (23 is missing); the cut at 24 starts shot 1.
        assert_eq!(
            picks(&sink),
            vec![(0, 0), (13, 0), (22, 0), (24, 1), (36, 1), (47, 1)]
        );
        let label = path("seq_dpx").join("shot_####.dpx [1001-1048]");
        let label = label.display();
        assert_eq!(
            summary.warnings,
            vec![
                format!("{label}: frames 1011-1013 missing"),
                format!("{label}: frame 1024 missing"),
            ]
        );
        let mut progress = Progress::default();
        stream_sequence(&seq, rate24(), &SamplingOptions::default(), &mut progress).unwrap();
        assert_eq!(progress.0.last(), Some(&48));
        assert_eq!(progress.1, 48);
        assert!(progress.0.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn range_every_frame_and_cancel_use_frame_indices() {
        let seq = sequence_in(&path("seq_dpx"));
        let opts = SamplingOptions {
            range: Some((5, 30)),
            ..SamplingOptions::default()
        };
        let (summary, sink) = run(&seq, &opts);
        // Frames after the range are not read; shot numbers are the whole clip's.
        assert_eq!(summary.frames_decoded, 27);
        assert_eq!(spans(&summary.shots), vec![(0, 22), (24, 30)]);
        assert_eq!(
            picks(&sink),
            vec![(5, 0), (13, 0), (22, 0), (24, 1), (27, 1), (30, 1)]
        );
        assert_eq!(summary.info.frame_count, Some(48));

        let opts = SamplingOptions {
            every_frame: true,
            range: Some((8, 14)),
            ..SamplingOptions::default()
        };
        let (_, sink) = run(&seq, &opts);
        assert_eq!(picks(&sink), vec![(8, 0), (9, 0), (13, 0), (14, 0)]);

        let opts = SamplingOptions {
            range: Some((100, 200)),
            ..SamplingOptions::default()
        };
        let (summary, sink) = run(&seq, &opts);
        assert!(sink.samples.is_empty());
        assert!(summary.warnings.last().unwrap().contains("nothing sampled"));

        let mut sink = Collect {
            stop_after: Some(2),
            ..Collect::default()
        };
        let err =
            stream_sequence(&seq, rate24(), &SamplingOptions::default(), &mut sink).unwrap_err();
        assert!(
            matches!(err, MediaError::Cancelled { frame: 13, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .ends_with("shot_####.dpx: cancelled after frame 13"));
    }

    #[test]
    fn bad_frames_are_warnings_and_the_clip_goes_on() {
        let dir = copy_of("seq_dpx");
        // The first frame does not decode; frame 1037 (index 36, sampled) is 160x90.
        std::fs::write(dir.path().join("shot_1001.dpx"), b"not a picture").unwrap();
        let odd = dir.path().join("shot_1037.dpx");
        std::fs::copy(path("seq_odd_size.dpx"), &odd).unwrap();
        let seq = sequence_in(dir.path());
        let info = probe_sequence(&seq, rate24()).unwrap();
        assert_eq!(
            (info.width, info.height, info.video_codec.as_str()),
            (320, 180, "dpx")
        );
        let (summary, sink) = run(&seq, &SamplingOptions::default());
        assert_eq!(summary.frames_decoded, 43);
        assert_eq!(summary.shots[0].first, 1);
        assert_eq!(sink.samples.first().map(|s| s.0), Some(1));
        assert!(sink.samples.iter().any(|s| s.0 == 36));
        assert!(sink.samples.iter().all(|s| s.2 == (320, 180)));
        let label = dir.path().join("shot_####.dpx [1001-1048]");
        let label = label.display().to_string();
        let w = &summary.warnings;
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().all(|l| l.starts_with(&label) && !l.contains('\n')));
        let bad = dir.path().join("shot_1001.dpx").display().to_string();
        assert!(
            w[2].starts_with(&format!("{label}: frame 1001 skipped: {bad}: ")),
            "{w:?}"
        );
        assert_eq!(
            w[3],
            format!(
                "{label}: frame 1037 ({}) is 160x90, not 320x180 like the first frame; \
                 scaled to fit",
                odd.display()
            )
        );
    }

    #[test]
    fn no_readable_frame_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=3 {
            std::fs::write(dir.path().join(format!("x_{n:04}.dpx")), b"junk").unwrap();
        }
        let seq = sequence_in(dir.path());
        let errors = [
            stream_sequence(
                &seq,
                rate24(),
                &SamplingOptions::default(),
                &mut Collect::default(),
            )
            .unwrap_err(),
            probe_sequence(&seq, rate24()).unwrap_err(),
        ];
        for e in errors {
            let text = e.to_string();
            assert!(matches!(e, MediaError::Decode { .. }), "{text}");
            assert!(
                text.starts_with(&seq.path().display().to_string()),
                "{text}"
            );
            assert!(text.contains("none of the 3 frames of x_####.dpx [0001-0003]"));
            assert!(!text.contains('\n'));
        }
        let bad_opts = SamplingOptions {
            min_per_shot: 0,
            ..SamplingOptions::default()
        };
        let e = stream_sequence(&seq, rate24(), &bad_opts, &mut Collect::default()).unwrap_err();
        assert!(matches!(e, MediaError::Options { .. }), "{e}");
        let zero = FrameRate { num: 0, den: 1 };
        let e = stream_sequence(
            &seq,
            zero,
            &SamplingOptions::default(),
            &mut Collect::default(),
        )
        .unwrap_err();
        assert!(matches!(e, MediaError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn many_gaps_are_counted_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        for n in (1..=31).step_by(2) {
            let to = dir.path().join(format!("g{n}.png"));
            std::fs::copy(path("seq_png/frame8.png"), to).unwrap();
        }
        let seq = sequence_in(dir.path());
        assert_eq!(seq.gaps().len(), 15);
        let (summary, _) = run(&seq, &SamplingOptions::default());
        let w = &summary.warnings;
        assert_eq!(w.len(), MAX_WARNINGS_PLUS_ONE, "{w:?}");
        assert!(w[0].ends_with("g#.png [1-31]: frame 2 missing"), "{w:?}");
        assert!(w[MAX_WARNINGS_PLUS_ONE - 1].ends_with("g#.png [1-31]: 5 more gaps"));
    }

    const MAX_WARNINGS_PLUS_ONE: usize = super::super::MAX_WARNINGS + 1;

    #[test]
    fn thread_counts_do_not_change_results() {
        let seq = sequence_in(&path("seq_dpx"));
        let with = |threads| {
            run(
                &seq,
                &SamplingOptions {
                    decoder_threads: threads,
                    ..SamplingOptions::default()
                },
            )
        };
        let (a, sa) = with(1);
        for threads in [3, 0] {
            let (b, sb) = with(threads);
            assert_eq!(spans(&a.shots), spans(&b.shots));
            assert_eq!(sa.samples, sb.samples);
            assert_eq!(a.warnings, b.warnings);
        }
    }
}
