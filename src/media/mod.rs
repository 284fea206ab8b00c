//! Media input: probing files, loading stills, and streaming a video's frames once, in order,
//! while finding shot cuts and handing the sampled frames to a [`FrameSink`].
//!
//! Everything FFmpeg reads works (MP4/MOV/MXF/MKV..., H.264, HEVC, ProRes, DNxHD, MPEG-2...);
//! stills go through the `image` crate so that the format is taken from the content and EXIF
//! orientation is honoured.
//!
//! Files: `open` (demuxing, stream choice, container metadata), `decode` (the FFmpeg decoder
//! loop), `picture` (thumbnails and RGB conversion), `sampler` (which frames to sample),
//! `still` (pictures), `header` (sizes claimed by the still formats only FFmpeg reads), `sniff`
//! (explaining files FFmpeg refuses), `error`, `sequence` (numbered image sequences such as
//! `shot_0001.dpx...`, scanned as one clip).
//!
//! Every entry point refuses pictures over a pixel limit ([`SamplingOptions::max_pixels`],
//! [`DEFAULT_MAX_PIXELS`]) with [`MediaError::TooLarge`], from the header, before allocating
//! them: a decompression bomb costs a few milliseconds, not the machine's memory.

pub mod change;
mod decode;
mod error;
mod gaps;
mod header;
mod open;
mod picture;
pub mod resize;
mod sampler;
pub mod sequence;
mod sniff;
mod still;
mod stream;

pub use error::{MediaError, OptionsError};
pub use picture::{luma, spread_of};
pub use sequence::{probe_sequence, stream_sequence, ImageSequence, Input};
pub(crate) use still::one_line;
pub use stream::stream;

use crate::shots::{Shot, DEFAULT_CUT_THRESHOLD};
use crate::timecode::{FrameIndex, FrameRate, Timecode};
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Initialises FFmpeg once per process and silences its own logging: every problem reaches
/// the caller as a [`MediaError`] or a warning instead. Called by every function here; call
/// it yourself only to silence FFmpeg before other FFmpeg use.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // ffmpeg::init only registers devices/filters, which 5.1 no longer needs; it cannot
        // fail in a way that matters to decoding.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
    });
}

/// What a media file holds, as far as this program cares: its video stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The file.
    pub path: PathBuf,
    /// FFmpeg's demuxer name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `mxf`, `png_pipe`.
    pub container: String,
    /// FFmpeg's codec name, e.g. `h264`, `hevc`, `prores`, `mpeg2video`, `png`, `mjpeg`.
    pub video_codec: String,
    /// Displayed width in square pixels: the coded width corrected by the sample aspect
    /// ratio, after display rotation (phone video) or EXIF orientation (stills). Sampled
    /// frames have exactly this size.
    pub width: u32,
    /// Displayed height, as for `width`.
    pub height: u32,
    /// Frame rate from the container (snapped to the standard rate within 0.02%); 25/1 for
    /// stills.
    pub frame_rate: FrameRate,
    /// Number of frames: the container's count, else duration x rate. After a full
    /// [`stream`] it is the number of frames actually decoded.
    pub frame_count: Option<u64>,
    /// Length in seconds, when the container says; None for stills.
    pub duration_seconds: Option<f64>,
    /// Timecode of frame 0 (from a `tmcd` track or a `timecode` tag); 00:00:00:00 when none.
    pub start_timecode: Timecode,
    /// Where `start_timecode` came from, e.g. `stream 1 (tmcd) tag timecode`; None when it
    /// was defaulted.
    pub timecode_source: Option<String>,
    /// A single picture rather than video.
    pub is_still: bool,
}

/// How [`stream`] samples frames and finds cuts.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingOptions {
    /// Sample at least this many frames per second of video (default 2.0).
    pub per_second: f64,
    /// At least this many samples per shot: first, middle(s), last (default 3).
    pub min_per_shot: u32,
    /// Sample every frame of the range (spot checks).
    pub every_frame: bool,
    /// Inclusive frame range to sample; frames before it are decoded only to find cuts, and
    /// decoding stops after its end. None: the whole file.
    pub range: Option<(FrameIndex, FrameIndex)>,
    /// Decoder threads; 0 lets FFmpeg choose (one per core).
    pub decoder_threads: usize,
    /// Cut sensitivity in (0, 1]: lower finds more cuts. Default
    /// [`crate::shots::DEFAULT_CUT_THRESHOLD`].
    pub cut_threshold: f32,
    /// Refuse pictures and frames of more pixels than this ([`MediaError::TooLarge`]), before
    /// allocating them. Default [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: u64,
    /// Skip decoding the frames no other frame refers to (H.264, HEVC: most B-frames), where
    /// neither a sample nor a cut needs them (default on). Cuts stay frame-exact: a gap that
    /// may hold one is decoded in full. Samples then fall on decoded frames: the first at or
    /// after each grid point. Off: every frame decoded, samples exactly on the grid.
    pub skip_unneeded: bool,
}

/// The default pixel limit: 200 MP, well above 8K UHD (33 MP) and 150 MP medium-format
/// stills, far below what a decompression bomb claims (a 40000x40000 PNG is 1600 MP).
pub const DEFAULT_MAX_PIXELS: u64 = 200_000_000;

impl Default for SamplingOptions {
    fn default() -> Self {
        Self {
            per_second: 2.0,
            min_per_shot: 3,
            every_frame: false,
            range: None,
            decoder_threads: 0,
            cut_threshold: DEFAULT_CUT_THRESHOLD,
            max_pixels: DEFAULT_MAX_PIXELS,
            skip_unneeded: true,
        }
    }
}

/// More decoder threads than this is a mistake (FFmpeg itself caps frame threads lower).
const MAX_DECODER_THREADS: usize = 256;

impl SamplingOptions {
    /// Rejects values that make no sense, before any file is opened.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(OptionsError::PerSecond(self.per_second));
        }
        if self.min_per_shot == 0 {
            return Err(OptionsError::MinPerShot(self.min_per_shot));
        }
        if let Some((first, last)) = self.range {
            if last < first {
                return Err(OptionsError::Range(first, last));
            }
        }
        if !(self.cut_threshold > 0.0 && self.cut_threshold <= 1.0) {
            return Err(OptionsError::CutThreshold(self.cut_threshold));
        }
        if self.max_pixels == 0 {
            return Err(OptionsError::MaxPixels(self.max_pixels));
        }
        if self.decoder_threads > MAX_DECODER_THREADS {
            return Err(OptionsError::Threads {
                got: self.decoder_threads,
                max: MAX_DECODER_THREADS,
            });
        }
        Ok(())
    }
}

/// One sampled frame, upright, in square pixels.
#[derive(Debug, Clone)]
pub struct SampledFrame {
    /// Frame index: count of decoded frames before it, in presentation order.
    pub index: FrameIndex,
    /// Index of the shot it belongs to (into [`StreamSummary::shots`]).
    pub shot: usize,
    /// The picture.
    pub image: image::RgbImage,
}

/// What [`stream`] found, besides the frames it handed over.
#[derive(Debug, Clone, Serialize)]
pub struct StreamSummary {
    /// The file's description (`frame_count` exact when the whole file was decoded).
    pub info: MediaInfo,
    /// All shots from frame 0 to the last frame decoded (with a range, the last shot is cut
    /// at the range's end).
    pub shots: Vec<Shot>,
    /// Frames gone through (including those before the range): decoded, or skipped as
    /// neither sampled nor needed to place a cut (see `SamplingOptions::skip_unneeded`).
    pub frames_decoded: u64,
    /// Of those, frames not decoded at all.
    pub frames_skipped: u64,
    /// Frames handed to the sink.
    pub frames_sampled: u64,
    /// Problems that did not stop the file, one line each, naming the file (and frame).
    pub warnings: Vec<String>,
}

/// Receives sampled frames from [`stream`].
pub trait FrameSink {
    /// Called for each sampled frame in increasing index order; Break stops decoding (-> MediaError::Cancelled).
    fn sample(&mut self, frame: SampledFrame) -> std::ops::ControlFlow<()>;
    /// Called once, before the first frame, with the file's description.
    fn start(&mut self, _info: &MediaInfo) {}
    /// Called now and then with the number of frames decoded so far (for progress bars).
    fn progress(&mut self, _decoded: u64) {}
}

/// Describes a media file without decoding it, refusing pictures over
/// [`DEFAULT_MAX_PIXELS`].
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    probe_limited(path, DEFAULT_MAX_PIXELS)
}

/// Describes a media file without decoding it; a picture of more than `max_pixels` pixels
/// is [`MediaError::TooLarge`].
pub fn probe_limited(path: &Path, max_pixels: u64) -> Result<MediaInfo, MediaError> {
    init();
    open::check_file(path)?;
    if let Some(format) = still::sniff(path)? {
        return probe_still(path, format, max_pixels).or_else(|still_err| match still_err {
            // The header was read and is too big: FFmpeg would read the same header.
            MediaError::TooLarge { .. } => Err(still_err),
            // A picture variant `image` cannot parse may still be FFmpeg's to read.
            _ => open::open(path, max_pixels)
                .map(|o| o.info)
                .map_err(|ffmpeg_err| too_large_or(ffmpeg_err, still_err)),
        });
    }
    Ok(open::open(path, max_pixels)?.info)
}

/// A still's description: names from FFmpeg when it reads the file, size from `image`
/// (after EXIF orientation).
fn probe_still(
    path: &Path,
    format: image::ImageFormat,
    max_pixels: u64,
) -> Result<MediaInfo, MediaError> {
    let (width, height) = still::oriented_size(path, format, max_pixels)?;
    let (container, video_codec) = match open::open(path, max_pixels) {
        Ok(o) => (o.info.container, o.info.video_codec),
        // FFmpeg refusing a picture `image` reads is no reason to fail.
        Err(_) => ("image".to_string(), format!("{format:?}").to_lowercase()),
    };
    let rate = open::still_rate();
    Ok(MediaInfo {
        path: path.to_path_buf(),
        container,
        video_codec,
        width,
        height,
        frame_rate: rate,
        frame_count: Some(1),
        duration_seconds: None,
        start_timecode: Timecode::from_frames(0, rate),
        timecode_source: None,
        is_still: true,
    })
}

/// Loads one picture: a still through the `image` crate (format sniffed from the content,
/// EXIF orientation applied), or else the first frame FFmpeg decodes. Pictures over
/// [`DEFAULT_MAX_PIXELS`] are refused.
pub fn load_still(path: &Path) -> Result<image::RgbImage, MediaError> {
    load_still_limited(path, DEFAULT_MAX_PIXELS)
}

/// [`load_still`] with its own pixel limit: a picture of more than `max_pixels` pixels is
/// [`MediaError::TooLarge`], found from the header before the pixels are decoded.
pub fn load_still_limited(path: &Path, max_pixels: u64) -> Result<image::RgbImage, MediaError> {
    init();
    open::check_file(path)?;
    if let Some(format) = still::sniff(path)? {
        match still::load(path, format, max_pixels) {
            Ok(picture) => return Ok(picture),
            Err(e @ MediaError::TooLarge { .. }) => return Err(e),
            // Some variants (e.g. exotic TIFF compressions) are FFmpeg's to read; report the
            // image reader's error only if FFmpeg cannot either.
            Err(image_err) => {
                return stream::first_frame(path, max_pixels)
                    .map_err(|ffmpeg_err| too_large_or(ffmpeg_err, image_err))
            }
        }
    }
    stream::first_frame(path, max_pixels)
}

/// The error to report when FFmpeg also failed on a picture the image reader could not read:
/// the image reader's, unless FFmpeg found the picture too large.
fn too_large_or(ffmpeg_err: MediaError, image_err: MediaError) -> MediaError {
    match ffmpeg_err {
        MediaError::TooLarge { .. } => ffmpeg_err,
        _ => image_err,
    }
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
pub(crate) mod test_fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_are_valid_and_nonsense_is_rejected() {
        let ok = SamplingOptions::default();
        assert_eq!(ok.validate(), Ok(()));
        let bad = |f: &dyn Fn(&mut SamplingOptions)| {
            let mut o = SamplingOptions::default();
            f(&mut o);
            o.validate()
        };
        assert_eq!(
            bad(&|o| o.per_second = 0.0),
            Err(OptionsError::PerSecond(0.0))
        );
        assert!(bad(&|o| o.per_second = f64::NAN).is_err());
        assert!(bad(&|o| o.per_second = f64::INFINITY).is_err());
        assert_eq!(
            bad(&|o| o.min_per_shot = 0),
            Err(OptionsError::MinPerShot(0))
        );
        assert_eq!(
            bad(&|o| o.range = Some((10, 9))),
            Err(OptionsError::Range(10, 9))
        );
        assert!(bad(&|o| o.range = Some((10, 10))).is_ok());
        assert!(bad(&|o| o.cut_threshold = 0.0).is_err());
        assert!(bad(&|o| o.cut_threshold = 1.5).is_err());
        assert!(bad(&|o| o.decoder_threads = 10_000).is_err());
        assert_eq!(bad(&|o| o.max_pixels = 0), Err(OptionsError::MaxPixels(0)));
        assert!(bad(&|o| o.max_pixels = 1).is_ok());
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::test_fixtures::{expected, mean_abs_diff, path};
    use super::*;

    #[test]
    fn probe_reads_every_fixture_format() {
        for name in [
            "h264_25.mp4",
            "hevc.mp4",
            "prores_tc.mov",
            "mpeg2.mxf",
            "ntsc_df.mp4",
            "rotated.mp4",
            "still.png",
            "still.jpg",
            "still.tiff",
            "webp_as.jpg",
            "exif_rot90.jpg",
        ] {
            let want = expected(name);
            let info = probe(&path(name)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(info.video_codec, want["codec"], "{name}");
            assert_eq!(u64::from(info.width), want["width"], "{name}");
            assert_eq!(u64::from(info.height), want["height"], "{name}");
            let still = want["still"].as_bool().unwrap_or(false);
            assert_eq!(info.is_still, still, "{name}");
            if still {
                assert_eq!((info.frame_rate.num, info.frame_rate.den), (25, 1));
                assert_eq!(info.frame_count, Some(1));
                continue;
            }
            let rate = &want["rate"];
            assert_eq!(u64::from(info.frame_rate.num), rate[0], "{name}");
            assert_eq!(u64::from(info.frame_rate.den), rate[1], "{name}");
            assert_eq!(info.frame_count, want["frames"].as_u64(), "{name}");
            assert_eq!(
                info.start_timecode.to_string(),
                want["start_timecode"],
                "{name}"
            );
            assert_eq!(
                info.timecode_source.is_some(),
                want["start_timecode"] != "00:00:00:00",
                "{name}: {:?}",
                info.timecode_source
            );
        }
    }

    #[test]
    fn timecode_sources_are_named() {
        let info = probe(&path("prores_tc.mov")).unwrap();
        assert_eq!(
            info.timecode_source.as_deref(),
            Some("stream 1 (tmcd) tag timecode")
        );
        let info = probe(&path("mpeg2.mxf")).unwrap();
        assert_eq!(info.timecode_source.as_deref(), Some("format tag timecode"));
        let info = probe(&path("ntsc_df.mp4")).unwrap();
        assert!(info.start_timecode.drop_frame);
        // Two frames before the hour, in drop-frame counting.
        assert_eq!(info.start_timecode.add_frames(2).to_string(), "01:00:00;00");
    }

    #[test]
    fn broken_inputs_give_one_line_errors() {
        for name in [
            "truncated.mp4",
            "corrupt.mp4",
            "empty.mp4",
            "notmedia.mp4",
            "audio_only.m4a",
        ] {
            let want = expected(name)["error"].as_str().unwrap().to_string();
            let p = path(name);
            let mut sink = super::test_fixtures::Collect::default();
            let mut errors = vec![
                stream(&p, &SamplingOptions::default(), &mut sink).err(),
                load_still(&p).err(),
            ];
            // Only decoding finds a garbage payload behind a sound header.
            if name != "corrupt.mp4" {
                errors.push(probe(&p).err());
            }
            for e in errors {
                let e = e.unwrap_or_else(|| panic!("{name} did not fail"));
                let text = e.to_string();
                let kind = format!("{e:?}");
                assert!(kind.starts_with(&want), "{name}: {kind}");
                assert!(!text.contains('\n'), "{text}");
                assert!(text.starts_with(&p.display().to_string()), "{text}");
            }
        }
        let e = probe(&path("truncated.mp4")).unwrap_err().to_string();
        assert!(e.contains(": truncated: moov atom not found"), "{e}");
        let e = probe(&path("notmedia.mp4")).unwrap_err().to_string();
        assert!(e.contains("not a media file: text file"), "{e}");
        let e = probe(&path("no_such_file.mp4")).unwrap_err();
        assert!(matches!(e, MediaError::Open { .. }), "{e}");
    }

    #[test]
    fn stills_load_by_content_and_orientation() {
        let png = load_still(&path("still.png")).unwrap();
        assert_eq!(png.dimensions(), (320, 180));
        let tiff = load_still(&path("still.tiff")).unwrap();
        assert!(tiff == png, "TIFF and PNG of the same RGB picture differ");
        // WebP data behind a .jpg name (FFmpeg encoded it from 4:2:0, hence not exact).
        let webp = load_still(&path("webp_as.jpg")).unwrap();
        assert_eq!(webp.dimensions(), (320, 180));
        assert!(mean_abs_diff(&webp, &png) < 6.0);
        let jpg = load_still(&path("still.jpg")).unwrap();
        let turned = load_still(&path("exif_rot90.jpg")).unwrap();
        assert_eq!(turned.dimensions(), (180, 320));
        assert!(
            turned == image::imageops::rotate90(&jpg),
            "EXIF rotation not applied"
        );
    }

    #[test]
    fn pixel_limit_applies_to_every_format() {
        for name in [
            "h264_25.mp4",
            "hevc.mp4",
            "prores_tc.mov",
            "mpeg2.mxf",
            "rotated.mp4",
            "still.png",
            "still.jpg",
            "still.tiff",
            "webp_as.jpg",
            "exif_rot90.jpg",
        ] {
            let p = path(name);
            let want = expected(name);
            let (w, h) = (
                want["width"].as_u64().unwrap(),
                want["height"].as_u64().unwrap(),
            );
            let exact = w * h;
            let under = SamplingOptions {
                max_pixels: exact - 1,
                ..SamplingOptions::default()
            };
            let mut sink = super::test_fixtures::Collect::default();
            for e in [
                probe_limited(&p, exact - 1).err(),
                load_still_limited(&p, exact - 1).err(),
                stream(&p, &under, &mut sink).err(),
            ] {
                let e = e.unwrap_or_else(|| panic!("{name}: not refused"));
                assert!(matches!(e, MediaError::TooLarge { .. }), "{name}: {e}");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "{}: {w}x{h} pixels is over the limit of {} (--max-pixels)",
                        p.display(),
                        exact - 1
                    )
                );
            }
            assert!(sink.samples.is_empty(), "{name}");
            let at = SamplingOptions {
                max_pixels: exact,
                ..SamplingOptions::default()
            };
            assert!(probe_limited(&p, exact).is_ok(), "{name}");
            assert!(load_still_limited(&p, exact).is_ok(), "{name}");
            assert!(stream(&p, &at, &mut sink).is_ok(), "{name}");
        }
    }

    #[test]
    fn pixel_limit_applies_to_stills_only_ffmpeg_reads() {
        // A 4x2 24-bit BMP: file header, BITMAPINFOHEADER, two rows of 12 bytes.
        let mut bmp = b"BM".to_vec();
        bmp.extend(78u32.to_le_bytes());
        bmp.extend([0, 0, 0, 0]);
        bmp.extend(54u32.to_le_bytes());
        for v in [40u32, 4, 2] {
            bmp.extend(v.to_le_bytes());
        }
        bmp.extend(1u16.to_le_bytes());
        bmp.extend(24u16.to_le_bytes());
        bmp.extend([0u8; 24]);
        bmp.extend([200u8; 24]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("small.bmp");
        std::fs::write(&p, &bmp).unwrap();
        let e = load_still_limited(&p, 7).unwrap_err();
        assert!(
            matches!(
                e,
                MediaError::TooLarge {
                    width: 4,
                    height: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            probe_limited(&p, 7),
            Err(MediaError::TooLarge { .. })
        ));
        assert_eq!(load_still_limited(&p, 8).unwrap().dimensions(), (4, 2));
        assert_eq!(probe_limited(&p, 8).unwrap().width, 4);
    }

    #[test]
    fn load_still_of_a_video_is_its_first_frame() {
        let first = load_still(&path("h264_25.mp4")).unwrap();
        assert_eq!(first.dimensions(), (320, 180));
        // testsrc2's first frame is close to the PNG made from the same source.
        let png = load_still(&path("still.png")).unwrap();
        let mean = mean_abs_diff(&first, &png);
        assert!(mean < 6.0, "mean difference {mean}");
    }
}
