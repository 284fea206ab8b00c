//! The single pass over a video: decode every frame, find cuts on thumbnails, pick samples
//! online, convert only the picks to RGB, hand them to the sink.

use super::decode::VideoDecoder;
use super::gaps::GapFiller;
use super::open::{self, Geometry, Opened};
use super::picture::{RgbConverter, Thumbnailer};
use super::sampler::{Pick, Sampler};
use super::{
    still, FrameSink, MediaError, MediaInfo, SampledFrame, SamplingOptions, StreamSummary,
};
use crate::shots::{CutDetector, Shot, ShotList, Thumbnail};
use crate::stages::{self, Stage};
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use std::ops::ControlFlow;
use std::path::Path;

/// Report progress to the sink every this many decoded frames.
const PROGRESS_EVERY: u64 = 25;

/// Decodes `path` once, from its first frame, finding shots on every frame and handing the
/// sampled frames (see [`SamplingOptions`]) to `sink` in increasing index order.
///
/// Stills give one shot of one frame. Damage after the first good frame becomes warnings in
/// the summary; a file with no decodable frame is an error.
pub fn stream(
    path: &Path,
    opts: &SamplingOptions,
    sink: &mut dyn FrameSink,
) -> Result<StreamSummary, MediaError> {
    super::init();
    opts.validate().map_err(|source| MediaError::Options {
        path: path.to_path_buf(),
        source,
    })?;
    open::check_file(path)?;
    if still::sniff(path)?.is_some() {
        return stream_still(path, opts, sink);
    }
    let opened = open::open(path, opts.max_pixels)?;
    if opened.info.is_still {
        // A picture format only FFmpeg reads (e.g. BMP, JPEG 2000): one frame like any still.
        return stream_still(path, opts, sink);
    }
    stream_video(opened, opts, sink)
}

/// A still as a one-frame, one-shot video.
fn stream_still(
    path: &Path,
    opts: &SamplingOptions,
    sink: &mut dyn FrameSink,
) -> Result<StreamSummary, MediaError> {
    let info = super::probe_limited(path, opts.max_pixels)?;
    let image = super::load_still_limited(path, opts.max_pixels)?;
    let in_range = opts.range.is_none_or(|(first, _)| first == 0);
    sink.start(&info);
    sink.progress(1);
    let mut sampled = 0;
    if in_range {
        sampled = 1;
        if sink
            .sample(SampledFrame {
                index: 0,
                shot: 0,
                image,
            })
            .is_break()
        {
            return Err(MediaError::Cancelled {
                path: path.to_path_buf(),
                frame: 0,
            });
        }
    }
    Ok(StreamSummary {
        info,
        shots: vec![Shot {
            index: 0,
            first: 0,
            last: 0,
        }],
        frames_decoded: 1,
        frames_skipped: 0,
        frames_sampled: sampled,
        warnings: Vec::new(),
    })
}

/// The decoding loop proper.
fn stream_video(
    opened: Opened,
    opts: &SamplingOptions,
    sink: &mut dyn FrameSink,
) -> Result<StreamSummary, MediaError> {
    let mut info: MediaInfo = opened.info.clone();
    let geometry = opened.geometry;
    let max_pixels = opened.max_pixels;
    let mut warnings = opened.warnings.clone();
    let mut decoder = VideoDecoder::new(opened, opts.decoder_threads)?;
    // Skipping frames needs a codec whose decoder can tell which frames nothing refers to,
    // and it would defeat sampling every frame.
    let may_skip = opts.skip_unneeded
        && !opts.every_frame
        && matches!(info.video_codec.as_str(), "h264" | "hevc");
    decoder.skip_nonref(may_skip);
    let mut gaps = GapFiller::new(decoder.path(), max_pixels);
    sink.start(&info);
    let range = opts.range.unwrap_or((0, u64::MAX));
    let mut frames = Frames {
        out: Output {
            sink,
            converter: RgbConverter::default(),
            geometry,
            sampled: 0,
            warnings: Vec::new(),
        },
        thumbnailer: Thumbnailer::default(),
        detector: CutDetector::new(opts.cut_threshold),
        shots: ShotList::new(),
        sampler: Sampler::new(
            info.frame_rate,
            opts.per_second,
            opts.min_per_shot,
            opts.every_frame,
            range,
        ),
        picks: Vec::new(),
        thumb_failures: 0,
        last: None,
        last_pts: None,
        taken: 0,
    };
    let mut budget = GapBudget::default();
    let mut reached_range_end = false;

    while let Some((index, frame)) = stages::time(Stage::Decode, || decoder.next_indexed())? {
        let thumb = stages::time(Stage::Cuts, || frames.thumbnailer.thumbnail(&frame));
        let skipped = decoder.take_skipped();
        let mut step = 1;
        if let (Some(&(_, first)), Some(last_pts)) = (skipped.first(), frames.last_pts) {
            let suspect = thumb
                .as_ref()
                .is_none_or(|t| frames.detector.may_cut_before(t));
            if !suspect {
                step = index - first + 1;
            } else if !frames.fill_gap(&mut gaps, last_pts, &skipped, decoder.path())? {
                warnings.push(format!(
                    "{}: frames {first}-{}: could not decode them to look for a cut; a cut \
                     there is placed at frame {index}",
                    decoder.path().display(),
                    index - 1
                ));
            }
            if suspect && budget.spent(index) && decoder.skipping() {
                // Gaps that need filling this often cost more than decoding every frame.
                decoder.skip_nonref(false);
            }
        }
        frames.take(index, frame, thumb, step, decoder.path())?;
        if decoder.decoded() % PROGRESS_EVERY == 0 {
            frames.out.sink.progress(index + 1);
        }
        if index >= range.1 {
            reached_range_end = true;
            break;
        }
    }
    if !reached_range_end {
        let tail = decoder.take_tail();
        if let Some(last_pts) = frames.last_pts.filter(|_| !tail.is_empty()) {
            // Frames skipped at the very end: the last shot's last frame is one of them.
            frames.fill_gap(&mut gaps, last_pts, &tail, decoder.path())?;
        }
    }
    let Frames {
        mut out,
        shots,
        mut sampler,
        mut picks,
        thumb_failures,
        last,
        taken,
        ..
    } = frames;
    sampler.finish(&mut picks);
    out.deliver(&mut picks, decoder.path())?;

    let Some(last) = last else {
        return Err(decoder.no_frames_error());
    };
    let decoded = last + 1;
    out.sink.progress(decoded);
    let path = decoder.path().display().to_string();
    // In the order things happened: opening, decoding, conversion, then the totals.
    warnings.extend(decoder.take_warnings());
    warnings.append(&mut out.warnings);
    if thumb_failures > 0 {
        warnings.push(format!(
            "{path}: {thumb_failures} frames in a pixel format without a luma thumbnail; \
             cuts there are not detected"
        ));
    }
    if !reached_range_end {
        if let Some(expected) = info.frame_count {
            // Containers with an exact count (MP4/MOV) reveal a cut-off or damaged file.
            // Estimates from the duration may be a frame or two off; ignore that much.
            if decoded + (expected / 100).max(2) < expected {
                warnings.push(format!(
                    "{path}: decoded {decoded} frames but the container announces {expected} \
                     (truncated or damaged file?)"
                ));
            }
        }
        info.frame_count = Some(decoded);
    }
    if range.0 >= decoded {
        warnings.push(format!(
            "{path}: range starts at frame {} but the video has {decoded} frames; nothing \
             sampled",
            range.0
        ));
    }
    Ok(StreamSummary {
        info,
        shots: shots.finish(),
        frames_decoded: decoded,
        frames_skipped: decoded.saturating_sub(taken),
        frames_sampled: out.sampled,
        warnings,
    })
}

/// What happens to each frame, decoded by the main decoder or filling a gap: its thumbnail
/// to the cut detector, its index to the shot list, the frame to the sampler, the picks out.
struct Frames<'a> {
    out: Output<'a>,
    thumbnailer: Thumbnailer,
    detector: CutDetector,
    shots: ShotList,
    sampler: Sampler<frame::Video>,
    picks: Vec<Pick<frame::Video>>,
    thumb_failures: u64,
    /// Index of the last frame taken.
    last: Option<u64>,
    /// Its timestamp, when it had one.
    last_pts: Option<i64>,
    /// Frames taken.
    taken: u64,
}

impl Frames<'_> {
    /// Takes frame `index`, `step` frames after the last one taken (more than one: the
    /// frames between were skipped, and no cut lies there).
    fn take(
        &mut self,
        index: u64,
        frame: frame::Video,
        thumb: Option<Thumbnail>,
        step: u64,
        path: &Path,
    ) -> Result<(), MediaError> {
        let starts_shot = match thumb {
            Some(thumb) if step > 1 => {
                self.detector.push_after_gap(thumb, step);
                false
            }
            Some(thumb) => stages::time(Stage::Cuts, || self.detector.push(thumb)),
            None => {
                // Without a thumbnail this frame cannot be compared; treat it as the same shot.
                self.thumb_failures += 1;
                false
            }
        };
        self.last = Some(index);
        self.last_pts = frame.pts();
        self.taken += 1;
        let shot = self.shots.push(index, starts_shot);
        self.sampler.push(
            index,
            shot,
            starts_shot || index == 0,
            frame,
            &mut self.picks,
        );
        self.out.deliver(&mut self.picks, path)
    }

    /// Decodes the `skipped` frames (timestamp and index, in order) after the last frame
    /// taken (timestamp `after`) and takes each. False when not one could be decoded.
    fn fill_gap(
        &mut self,
        gaps: &mut GapFiller,
        after: i64,
        skipped: &[(i64, u64)],
        path: &Path,
    ) -> Result<bool, MediaError> {
        let mut got = Vec::new();
        let filled = stages::time(Stage::Decode, || {
            gaps.fill(after, skipped, &mut |i, f| {
                got.push((i, f));
                Ok(())
            })
        });
        for (index, f) in got {
            let thumb = stages::time(Stage::Cuts, || self.thumbnailer.thumbnail(&f));
            self.take(index, f, thumb, 1, path)?;
        }
        Ok(filled.is_ok_and(|n| n > 0))
    }
}

/// How often gaps may be filled before skipping stops paying: more than [`GapBudget::MAX`]
/// in [`GapBudget::WINDOW`] frames (fast motion everywhere, or cuts every few frames).
#[derive(Default)]
struct GapBudget {
    recent: std::collections::VecDeque<u64>,
}

impl GapBudget {
    const WINDOW: u64 = 250;
    const MAX: usize = 12;

    /// Records a gap filled at frame `index`; true when the budget is spent.
    fn spent(&mut self, index: u64) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|&i| i + Self::WINDOW < index)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(index);
        self.recent.len() > Self::MAX
    }
}

/// Converts picks and hands them to the sink.
struct Output<'a> {
    sink: &'a mut dyn FrameSink,
    converter: RgbConverter,
    geometry: Geometry,
    sampled: u64,
    warnings: Vec<String>,
}

impl Output<'_> {
    fn deliver(
        &mut self,
        picks: &mut Vec<Pick<frame::Video>>,
        path: &Path,
    ) -> Result<(), MediaError> {
        for pick in picks.drain(..) {
            let converted = stages::time(Stage::Convert, || {
                self.converter.convert(&pick.payload, &self.geometry)
            });
            let image = match converted {
                Ok(image) => image,
                Err(e) => {
                    self.warnings.push(format!(
                        "{}: frame {}: cannot convert to RGB ({e}); not sampled",
                        path.display(),
                        pick.index
                    ));
                    continue;
                }
            };
            self.sampled += 1;
            let frame = SampledFrame {
                index: pick.index,
                shot: pick.shot,
                image,
            };
            if let ControlFlow::Break(()) = self.sink.sample(frame) {
                return Err(MediaError::Cancelled {
                    path: path.to_path_buf(),
                    frame: pick.index,
                });
            }
        }
        Ok(())
    }
}

/// The first frame FFmpeg decodes from `path`, as displayed, if within `max_pixels`.
pub(crate) fn first_frame(path: &Path, max_pixels: u64) -> Result<image::RgbImage, MediaError> {
    let opened = open::open(path, max_pixels)?;
    let geometry = opened.geometry;
    let mut decoder = VideoDecoder::new(opened, 1)?;
    let frame = decoder
        .next_frame()?
        .ok_or_else(|| decoder.no_frames_error())?;
    RgbConverter::default()
        .convert(&frame, &geometry)
        .map_err(|e| MediaError::Decode {
            path: path.to_path_buf(),
            cause: format!("cannot convert the first frame to RGB: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::super::test_fixtures::{expected, expected_shots, mean_abs_diff, path, Collect};
    use super::super::{load_still, probe};
    use super::*;

    fn run(name: &str, opts: &SamplingOptions) -> (StreamSummary, Collect) {
        let mut sink = Collect::default();
        let summary = stream(&path(name), opts, &mut sink).unwrap_or_else(|e| panic!("{e}"));
        (summary, sink)
    }

    fn spans(shots: &[Shot]) -> Vec<(u64, u64)> {
        shots.iter().map(|s| (s.first, s.last)).collect()
    }

    #[test]
    fn shots_are_frame_accurate_in_every_format() {
        for name in [
            "h264_25.mp4",
            "h264_midgop.mp4",
            "motion_nocut.mp4",
            "hevc.mp4",
            "prores_tc.mov",
            "mpeg2.mxf",
            "ntsc_df.mp4",
            "rotated.mp4",
        ] {
            let (summary, sink) = run(name, &SamplingOptions::default());
            let want = expected_shots(name);
            assert_eq!(spans(&summary.shots), want, "{name}");
            assert_eq!(summary.frames_decoded, want[want.len() - 1].1 + 1, "{name}");
            assert_eq!(summary.info.frame_count, Some(summary.frames_decoded));
            assert!(
                summary.warnings.is_empty(),
                "{name}: {:?}",
                summary.warnings
            );
            assert_eq!(summary.frames_sampled, sink.samples.len() as u64);
            assert!(sink.progress_calls > 0);
            let (w, h) = (summary.info.width, summary.info.height);
            assert!(sink.samples.iter().all(|s| s.2 == (w, h)), "{name}");
        }
    }

    /// Every frame decoded: samples exactly on the grid (the sampler's rules).
    fn decode_all() -> SamplingOptions {
        SamplingOptions {
            skip_unneeded: false,
            ..SamplingOptions::default()
        }
    }

    #[test]
    fn samples_cover_every_shot_in_order() {
        let opts = decode_all();
        let (summary, sink) = run("h264_25.mp4", &opts);
        let idx: Vec<u64> = sink.samples.iter().map(|s| s.0).collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
        for shot in &summary.shots {
            let mine = sink.samples_of(shot.index);
            assert!(
                mine.iter().all(|&i| shot.contains(i)),
                "{mine:?} in {shot:?}"
            );
            assert_eq!(mine.first(), Some(&shot.first));
            assert_eq!(mine.last(), Some(&shot.last));
            assert!(mine.len() >= opts.min_per_shot as usize);
            // At least per_second samples per second: no gap over one grid step.
            let step = (25.0 / opts.per_second).ceil() as u64;
            assert!(mine.windows(2).all(|w| w[1] - w[0] <= step), "{mine:?}");
        }
        // 175 frames at 2/s: grid frames plus first/last of 3 shots.
        assert_eq!(
            idx,
            vec![0, 13, 25, 38, 49, 50, 63, 75, 88, 100, 113, 124, 125, 138, 150, 163, 174]
        );
    }

    #[test]
    fn range_stops_decoding_and_keeps_shot_numbers() {
        let opts = SamplingOptions {
            range: Some((60, 130)),
            ..decode_all()
        };
        let (summary, sink) = run("h264_25.mp4", &opts);
        assert_eq!(summary.frames_decoded, 131);
        assert_eq!(spans(&summary.shots), vec![(0, 49), (50, 124), (125, 130)]);
        assert_eq!(
            sink.samples.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
            vec![
                (60, 1),
                (63, 1),
                (75, 1),
                (88, 1),
                (100, 1),
                (113, 1),
                (124, 1),
                (125, 2),
                (127, 2), // the range cuts shot 2 to 6 frames, so it gets a middle frame
                (130, 2)
            ]
        );
        // The estimate is kept when the file was not decoded to its end.
        assert_eq!(summary.info.frame_count, Some(175));
    }

    #[test]
    fn skipping_unneeded_frames_keeps_cuts_exact_and_samples_near_the_grid() {
        for name in ["h264_25.mp4", "h264_midgop.mp4", "hevc.mp4", "ntsc_df.mp4"] {
            let (full, _) = run(name, &decode_all());
            let (sparse, sink) = run(name, &SamplingOptions::default());
            assert_eq!(spans(&sparse.shots), spans(&full.shots), "{name}");
            assert_eq!(sparse.frames_decoded, full.frames_decoded, "{name}");
            assert_eq!(full.frames_skipped, 0, "{name}");
            // Skipped: most B-frames (these files have 3 between references).
            assert!(
                sparse.frames_skipped * 3 > sparse.frames_decoded,
                "{name}: {} of {} skipped",
                sparse.frames_skipped,
                sparse.frames_decoded
            );
            let step = (full.info.frame_rate.fps() / 2.0).ceil() as u64;
            for shot in &sparse.shots {
                let mine = sink.samples_of(shot.index);
                // First and last frame of each shot, even inside a gap of skipped frames.
                assert_eq!(mine.first(), Some(&shot.first), "{name} {shot:?}");
                assert_eq!(mine.last(), Some(&shot.last), "{name} {shot:?}");
                // The grid's samples land on the first decoded frame after their grid point:
                // at most a gap (3 frames) late.
                assert!(
                    mine.windows(2).all(|w| w[1] - w[0] <= step + 3),
                    "{name}: {mine:?}"
                );
            }
        }
    }

    #[test]
    fn a_sampled_frame_is_the_frame_of_its_index_when_frames_are_skipped() {
        // Frame 37 of h264_25.mp4 as the ffmpeg CLI decodes it; skipping decodes the gap.
        let want = expected("h264_25_f37.png");
        let cli = load_still(&path("h264_25_f37.png")).unwrap();
        let mut sink = Collect {
            keep_images: true,
            ..Collect::default()
        };
        let opts = SamplingOptions {
            range: Some((36, 38)),
            min_per_shot: 3,
            ..SamplingOptions::default()
        };
        stream(&path(want["frame_of"].as_str().unwrap()), &opts, &mut sink).unwrap();
        let at = sink.samples.iter().position(|s| s.0 == 37);
        let at = at.unwrap_or_else(|| panic!("frame 37 not sampled: {:?}", sink.samples));
        assert!(mean_abs_diff(&sink.images[at], &cli) < 4.0);
    }

    #[test]
    fn every_frame_mode_samples_the_whole_range() {
        let opts = SamplingOptions {
            every_frame: true,
            range: Some((47, 52)),
            ..SamplingOptions::default()
        };
        let (_, sink) = run("h264_25.mp4", &opts);
        let got: Vec<(u64, usize)> = sink.samples.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            got,
            vec![(47, 0), (48, 0), (49, 0), (50, 1), (51, 1), (52, 1)]
        );
    }

    #[test]
    fn frame_index_is_presentation_order() {
        // Compare with the ffmpeg CLI's own decode of the same frame (B-frames in both files).
        for reference in ["h264_25_f37.png", "hevc_f10.png", "rotated_f0.png"] {
            let want = expected(reference);
            let video = want["frame_of"].as_str().unwrap();
            let index = want["index"].as_u64().unwrap();
            let cli = load_still(&path(reference)).unwrap();
            let mut sink = Collect {
                keep_images: true,
                ..Collect::default()
            };
            let opts = SamplingOptions {
                every_frame: true,
                range: Some((index.saturating_sub(1), index + 1)),
                ..SamplingOptions::default()
            };
            stream(&path(video), &opts, &mut sink).unwrap();
            let diffs: Vec<f64> = sink
                .images
                .iter()
                .map(|im| mean_abs_diff(im, &cli))
                .collect();
            let at = sink.samples.iter().position(|s| s.0 == index).unwrap();
            // Not bit-exact: our RGB conversion interpolates chroma more carefully.
            assert!(diffs[at] < 4.0, "{reference}: {diffs:?}");
            for (i, d) in diffs.iter().enumerate() {
                if i != at {
                    assert!(
                        *d > 1.5 * diffs[at],
                        "{reference}: neighbour close: {diffs:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn thread_settings_do_not_change_results() {
        let one = SamplingOptions {
            decoder_threads: 1,
            ..SamplingOptions::default()
        };
        let four = SamplingOptions {
            decoder_threads: 4,
            ..SamplingOptions::default()
        };
        for name in ["hevc.mp4", "mpeg2.mxf"] {
            let (a, sa) = run(name, &one);
            let (b, sb) = run(name, &four);
            assert_eq!(spans(&a.shots), spans(&b.shots));
            assert_eq!(sa.samples, sb.samples);
        }
    }

    #[test]
    fn sink_can_cancel() {
        let mut sink = Collect {
            stop_after: Some(2),
            ..Collect::default()
        };
        let err = stream(&path("h264_25.mp4"), &decode_all(), &mut sink).unwrap_err();
        assert!(
            matches!(err, MediaError::Cancelled { frame: 13, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .ends_with("h264_25.mp4: cancelled after frame 13"));
    }

    #[test]
    fn invalid_options_fail_before_opening() {
        let opts = SamplingOptions {
            per_second: -1.0,
            ..SamplingOptions::default()
        };
        let err = stream(Path::new("missing.mp4"), &opts, &mut Collect::default()).unwrap_err();
        assert!(matches!(err, MediaError::Options { .. }), "{err}");
    }

    #[test]
    fn stills_stream_as_one_frame() {
        for name in ["still.png", "webp_as.jpg", "exif_rot90.jpg"] {
            let (summary, sink) = run(name, &SamplingOptions::default());
            assert_eq!(spans(&summary.shots), vec![(0, 0)]);
            let info = probe(&path(name)).unwrap();
            assert_eq!(sink.samples, vec![(0, 0, (info.width, info.height))]);
            assert!(summary.info.is_still);
        }
    }

    #[test]
    fn damage_after_good_frames_is_a_warning() {
        let name = "truncated_tail.mp4";
        let (summary, sink) = run(name, &SamplingOptions::default());
        let most = expected(name)["frames_at_most"].as_u64().unwrap();
        assert!(summary.frames_decoded > 0 && summary.frames_decoded <= most);
        assert!(!summary.warnings.is_empty());
        for w in &summary.warnings {
            assert!(w.starts_with(&path(name).display().to_string()), "{w}");
            assert!(!w.contains('\n'));
        }
        assert!(summary.warnings.iter().any(|w| w.contains("frame")));
        assert_eq!(
            sink.samples.last().map(|s| s.0),
            Some(summary.frames_decoded - 1)
        );
    }
}
