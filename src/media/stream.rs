//! The single pass over a video: decode every frame, find cuts on thumbnails, pick samples
//! online, convert only the picks to RGB, hand them to the sink.

use super::decode::VideoDecoder;
use super::open::{self, Geometry, Opened};
use super::picture::{RgbConverter, Thumbnailer};
use super::sampler::{Pick, Sampler};
use super::{
    still, FrameSink, MediaError, MediaInfo, SampledFrame, SamplingOptions, StreamSummary,
};
use crate::shots::{CutDetector, Shot, ShotList};
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
    let mut warnings = opened.warnings.clone();
    let mut decoder = VideoDecoder::new(opened, opts.decoder_threads)?;
    sink.start(&info);
    let range = opts.range.unwrap_or((0, u64::MAX));
    let mut out = Output {
        sink,
        converter: RgbConverter::default(),
        geometry,
        sampled: 0,
        warnings: Vec::new(),
    };

    let mut thumbnailer = Thumbnailer::default();
    let mut detector = CutDetector::new(opts.cut_threshold);
    let mut shots = ShotList::new();
    let mut sampler = Sampler::new(
        info.frame_rate,
        opts.per_second,
        opts.min_per_shot,
        opts.every_frame,
        range,
    );
    let mut picks: Vec<Pick<frame::Video>> = Vec::new();
    let mut thumb_failures = 0u64;
    let mut reached_range_end = false;

    while let Some(frame) = stages::time(Stage::Decode, || decoder.next_frame())? {
        let index = decoder.decoded() - 1;
        let cut = stages::time(Stage::Cuts, || {
            thumbnailer
                .thumbnail(&frame)
                .map(|thumb| detector.push(thumb))
        });
        let starts_shot = match cut {
            Some(starts) => starts,
            None => {
                // Without a thumbnail this frame cannot be compared; treat it as the same shot.
                thumb_failures += 1;
                false
            }
        };
        let shot = shots.push(index, starts_shot);
        sampler.push(index, shot, starts_shot || index == 0, frame, &mut picks);
        out.deliver(&mut picks, decoder.path())?;
        if decoder.decoded() % PROGRESS_EVERY == 0 {
            out.sink.progress(decoder.decoded());
        }
        if index >= range.1 {
            reached_range_end = true;
            break;
        }
    }
    sampler.finish(&mut picks);
    out.deliver(&mut picks, decoder.path())?;

    let decoded = decoder.decoded();
    out.sink.progress(decoded);
    if decoded == 0 {
        return Err(decoder.no_frames_error());
    }
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
        frames_sampled: out.sampled,
        warnings,
    })
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

    #[test]
    fn samples_cover_every_shot_in_order() {
        let opts = SamplingOptions::default();
        let (summary, sink) = run("h264_25.mp4", &opts);
        let idx: Vec<u64> = sink.samples.iter().map(|s| s.0).collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
        for shot in &summary.shots {
            let mine: Vec<u64> = sink
                .samples
                .iter()
                .filter(|s| s.1 == shot.index)
                .map(|s| s.0)
                .collect();
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
            ..SamplingOptions::default()
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
        let err = stream(&path("h264_25.mp4"), &SamplingOptions::default(), &mut sink).unwrap_err();
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
