//! Opening a file with FFmpeg: choosing the video stream and reading what the container says
//! about it (size, rate, length, start timecode, rotation). Failures become one-line
//! [`MediaError`]s with the cause found by looking at the bytes.
//!
//! The pixel limit is applied at every step that could allocate a picture: the size a still's
//! header claims (before FFmpeg sees the file), the size each stream's header declares (before
//! FFmpeg's stream analysis decodes anything), FFmpeg's own `max_pixels` for that analysis, and
//! the size the analysis settles on.

use super::sniff::{self, Content};
use super::{header, MediaError, MediaInfo};
use crate::timecode::{FrameRate, Timecode};
use ffmpeg::codec::packet::side_data::Type as SideDataType;
use ffmpeg::format::context::Input;
use ffmpeg::media::Type as MediaType;
use ffmpeg::Rational;
use ffmpeg_next as ffmpeg;
use std::ffi::CString;
use std::path::Path;

/// An opened file, positioned at its start, with the video stream chosen.
pub(crate) struct Opened {
    pub input: Input,
    pub video_index: usize,
    pub info: MediaInfo,
    /// How to turn decoded pictures into what a viewer sees.
    pub geometry: Geometry,
    /// Things worth telling the user that did not stop the open (e.g. a bad timecode tag).
    pub warnings: Vec<String>,
    /// The pixel limit the file was opened under; decoding keeps to it.
    pub max_pixels: u64,
}

/// The transform from coded pictures to the displayed picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Sample aspect ratio (num, den); 1:1 when unknown.
    pub sar: (u32, u32),
    /// Clockwise quarter turns to apply for display (0-3), from the display matrix.
    pub quarter_turns: u8,
}

impl Geometry {
    /// Display size in square pixels of a `w` x `h` coded picture with sample aspect `sar`.
    pub fn display_size(&self, w: u32, h: u32, sar: Option<(u32, u32)>) -> (u32, u32) {
        let (n, d) = sar.unwrap_or(self.sar);
        // Anamorphic pixels are stretched horizontally only, as players do. Ratios beyond 4:1
        // are damage, not anamorphic video, and would ask swscale for absurd sizes.
        let sane = n > 0 && d > 0 && n <= 4 * d && d <= 4 * n;
        let w = if sane && n != d {
            ((u64::from(w) * u64::from(n) + u64::from(d) / 2) / u64::from(d)).max(1) as u32
        } else {
            w
        };
        if self.quarter_turns % 2 == 1 {
            (h, w)
        } else {
            (w, h)
        }
    }
}

/// The 'tmcd' fourcc as FFmpeg stores codec tags (little-endian).
const TMCD: u32 = u32::from_le_bytes(*b"tmcd");

/// Opens `path` and reads everything `probe` reports, refusing pictures of more than
/// `max_pixels` pixels. Does not decode (FFmpeg's stream analysis may, within the limit).
pub(crate) fn open(path: &Path, max_pixels: u64) -> Result<Opened, MediaError> {
    super::init();
    check_file(path)?;
    let claimed = header::claimed_size(path).map_err(|e| MediaError::Open {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    if let Some((width, height)) = claimed {
        MediaError::check_size(path, width, height, max_pixels)?;
    }
    open_with_ffmpeg(path, max_pixels)
}

/// [`open`] with FFmpeg's checks only, without looking at the header first (for the tests
/// that make sure FFmpeg alone does not decode a bomb).
pub(crate) fn open_with_ffmpeg(path: &Path, max_pixels: u64) -> Result<Opened, MediaError> {
    let (input, declared) = input_within(path, max_pixels)?;
    let video_index = choose_video_stream(path, &input)?;
    if let Some(&(width, height)) = declared.get(video_index) {
        // Containers may declare the stored, macroblock-aligned size (MXF: 320x192 for a
        // 320x180 picture), so this early check has FFmpeg's slack; the size the analysis
        // settles on is checked exactly below.
        if u64::from(width) * u64::from(height) > ffmpeg_max_pixels(max_pixels).unsigned_abs() {
            return Err(MediaError::TooLarge {
                path: path.to_path_buf(),
                width,
                height,
                max: max_pixels,
            });
        }
    }
    let mut warnings = Vec::new();
    let (info, geometry) = describe(path, &input, video_index, &mut warnings)?;
    // The displayed size first, as probe reports it (anamorphic video is widened for display,
    // and the RGB picture has that size), then the coded size the decoder allocates.
    MediaError::check_size(path, info.width, info.height, max_pixels)?;
    let coded = coded_size(&input, video_index);
    MediaError::check_size(path, coded.0, coded.1, max_pixels)?;
    if info.is_still && (coded.0 == 0 || coded.1 == 0) {
        // FFmpeg read no picture header: nothing will decode, and probe must not report 0x0.
        return Err(explain(path, "no picture size could be read".into()));
    }
    Ok(Opened {
        input,
        video_index,
        info,
        geometry,
        warnings,
        max_pixels,
    })
}

/// FFmpeg's `max_pixels` for `max_pixels` of ours. FFmpeg counts the width rounded up to its
/// stride alignment (up to 63 more columns) and some codecs their coded, macroblock-aligned
/// size, so it gets a quarter more (the alignment of pictures 256 or more pixels wide) plus a
/// megapixel (that of small and narrow ones). It is the hard stop against allocating; each
/// decoded frame is then checked exactly against our limit.
pub(crate) fn ffmpeg_max_pixels(max_pixels: u64) -> i64 {
    let slack = max_pixels / 4 + (1 << 20);
    i64::try_from(max_pixels.saturating_add(slack)).unwrap_or(i64::MAX)
}

/// `avformat_open_input` then `avformat_find_stream_info`, as `ffmpeg::format::input` does,
/// but with each stream's size as its header declares it read in between (the analysis may
/// replace an absurd size with 0x0, hiding it), and with the analysis's decoders under
/// FFmpeg's `max_pixels`, so that probing a bomb does not decode it.
fn input_within(path: &Path, max_pixels: u64) -> Result<(Input, Vec<(u32, u32)>), MediaError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| MediaError::Open {
        path: path.to_path_buf(),
        cause: "the path contains a NUL byte".into(),
    })?;
    let limit =
        CString::new(ffmpeg_max_pixels(max_pixels).to_string()).map_err(|_| MediaError::Open {
            path: path.to_path_buf(),
            cause: "bad pixel limit".into(),
        })?;
    // SAFETY: the FFI calls follow FFmpeg's documented protocol: a null context pointer for
    // avformat_open_input, which frees it on failure; the context is owned by `Input` (which
    // closes it on drop) as soon as it exists; the options array has one dictionary per stream
    // present when find_stream_info is called, and every dictionary is freed afterwards.
    unsafe {
        let mut ps = std::ptr::null_mut();
        let r = ffmpeg::ffi::avformat_open_input(
            &mut ps,
            c_path.as_ptr(),
            std::ptr::null(),
            std::ptr::null_mut(),
        );
        if r < 0 {
            return Err(open_failure(path, ffmpeg::Error::from(r)));
        }
        let mut input = Input::wrap(ps);
        let declared: Vec<(u32, u32)> = input
            .streams()
            .map(|s| {
                let cp = s.parameters().as_ptr();
                ((*cp).width.max(0) as u32, (*cp).height.max(0) as u32)
            })
            .collect();
        let mut options: Vec<*mut ffmpeg::ffi::AVDictionary> = Vec::with_capacity(declared.len());
        for _ in 0..declared.len() {
            let mut dict = std::ptr::null_mut();
            ffmpeg::ffi::av_dict_set(&mut dict, c"max_pixels".as_ptr(), limit.as_ptr(), 0);
            options.push(dict);
        }
        let r = ffmpeg::ffi::avformat_find_stream_info(
            input.as_mut_ptr(),
            if options.is_empty() {
                std::ptr::null_mut()
            } else {
                options.as_mut_ptr()
            },
        );
        for dict in &mut options {
            ffmpeg::ffi::av_dict_free(dict);
        }
        if r < 0 {
            return Err(open_failure(path, ffmpeg::Error::from(r)));
        }
        Ok((input, declared))
    }
}

/// The coded size of stream `index` after stream analysis; 0x0 when FFmpeg found none.
fn coded_size(input: &Input, index: usize) -> (u32, u32) {
    input.stream(index).map_or((0, 0), |s| {
        // SAFETY: codecpar belongs to the open input and is read-only here.
        unsafe {
            let cp = s.parameters().as_ptr();
            ((*cp).width.max(0) as u32, (*cp).height.max(0) as u32)
        }
    })
}

/// Fails early, with a plain cause, on files that are missing, unreadable, folders or empty.
pub(crate) fn check_file(path: &Path) -> Result<(), MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::Open {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    if meta.is_dir() {
        return Err(MediaError::Open {
            path: path.to_path_buf(),
            cause: "is a directory".into(),
        });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty {
            path: path.to_path_buf(),
        });
    }
    // Open now so a permission problem is reported as such, not as a demuxer error.
    std::fs::File::open(path).map_err(|e| MediaError::Open {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    Ok(())
}

/// Explains why FFmpeg could not open a file that exists and is not empty.
fn open_failure(path: &Path, err: ffmpeg::Error) -> MediaError {
    match err {
        // Demuxers report data that ends early as an I/O error (Matroska) as well as EOF; a
        // real read error shows again when the bytes are looked at.
        ffmpeg::Error::InvalidData | ffmpeg::Error::Eof => explain(path, err.to_string()),
        ffmpeg::Error::Other {
            errno: ffmpeg::util::error::EIO,
        } => explain(path, err.to_string()),
        other => MediaError::Open {
            path: path.to_path_buf(),
            cause: other.to_string(),
        },
    }
}

/// Says what is wrong with a file FFmpeg cannot read, from its bytes; `err` is FFmpeg's
/// complaint, used when the bytes are of a known format.
fn explain(path: &Path, err: String) -> MediaError {
    let p = path.to_path_buf();
    match sniff::sniff(path) {
        Ok(Content::IsoBmff(walk)) => match walk.problem() {
            Some(cause) => MediaError::Truncated { path: p, cause },
            None => MediaError::Decode {
                path: p,
                cause: format!("MP4/MOV structure is unreadable: {err}"),
            },
        },
        Ok(Content::Cut(_, cause)) => MediaError::Truncated { path: p, cause },
        Ok(Content::Known(kind)) => MediaError::Decode {
            path: p,
            cause: format!("{kind} data that FFmpeg cannot read: {err}"),
        },
        Ok(Content::Text(line)) => MediaError::NotMedia {
            path: p,
            cause: format!("text file (starts \"{line}\")"),
        },
        Ok(Content::Unknown(hex)) => MediaError::NotMedia {
            path: p,
            cause: format!("no known media format (starts {hex})"),
        },
        Err(e) => MediaError::Open {
            path: p,
            cause: e.to_string(),
        },
    }
}

/// The stream to decode: FFmpeg's best video stream, skipping cover art.
fn choose_video_stream(path: &Path, input: &Input) -> Result<usize, MediaError> {
    let is_picture_stream = |s: &ffmpeg::Stream| {
        s.parameters().medium() == MediaType::Video
            && !s
                .disposition()
                .contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
    };
    if let Some(best) = input.streams().best(MediaType::Video) {
        if is_picture_stream(&best) {
            return Ok(best.index());
        }
    }
    if let Some(s) = input.streams().find(|s| is_picture_stream(s)) {
        return Ok(s.index());
    }
    let kinds: Vec<String> = input
        .streams()
        .map(|s| {
            let p = s.parameters();
            let cover = s
                .disposition()
                .contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC);
            format!(
                "{} {}{}",
                medium_name(p.medium()),
                p.id().name(),
                if cover { " (cover art)" } else { "" }
            )
        })
        .collect();
    if kinds.is_empty() {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            cause: format!("{} container with no streams", input.format().name()),
        });
    }
    Err(MediaError::NoVideoStream {
        path: path.to_path_buf(),
        cause: format!("streams: {}", kinds.join(", ")),
    })
}

fn medium_name(m: MediaType) -> &'static str {
    match m {
        MediaType::Video => "video",
        MediaType::Audio => "audio",
        MediaType::Subtitle => "subtitle",
        MediaType::Data => "data",
        MediaType::Attachment => "attachment",
        MediaType::Unknown => "unknown",
    }
}

/// Demuxers that read a single picture file.
fn is_picture_demuxer(name: &str) -> bool {
    name == "image2" || name == "image2pipe" || name.ends_with("_pipe")
}

/// Builds the [`MediaInfo`] and display geometry of the chosen stream.
fn describe(
    path: &Path,
    input: &Input,
    index: usize,
    warnings: &mut Vec<String>,
) -> Result<(MediaInfo, Geometry), MediaError> {
    let stream = input.stream(index).ok_or_else(|| MediaError::Decode {
        path: path.to_path_buf(),
        cause: format!("stream {index} vanished"),
    })?;
    let params = stream.parameters();
    // SAFETY: codecpar belongs to the open input and is read-only here.
    let (coded_w, coded_h, sar) = unsafe {
        let cp = params.as_ptr();
        let sar = (*cp).sample_aspect_ratio;
        ((*cp).width.max(0) as u32, (*cp).height.max(0) as u32, sar)
    };
    let container = input.format().name().to_string();
    let video_codec = params.id().name().to_string();
    let stream_frames = stream.frames();
    let is_still = is_picture_demuxer(&container) && stream_frames <= 1;

    let geometry = Geometry {
        sar: if sar.num > 0 && sar.den > 0 {
            (sar.num as u32, sar.den as u32)
        } else {
            (1, 1)
        },
        quarter_turns: quarter_turns(&stream, path, warnings),
    };
    let (width, height) = geometry.display_size(coded_w, coded_h, None);

    let frame_rate = if is_still {
        still_rate()
    } else {
        choose_rate(stream.avg_frame_rate(), stream.rate()).unwrap_or_else(|| {
            warnings.push(format!(
                "{}: no usable frame rate in the container; assuming 25 fps",
                path.display()
            ));
            still_rate()
        })
    };

    let duration_seconds = if is_still {
        None
    } else {
        seconds(stream.duration(), stream.time_base()).or_else(|| {
            let d = input.duration();
            (d > 0).then(|| d as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
        })
    };
    let frame_count = if is_still {
        Some(1)
    } else if stream_frames > 0 {
        Some(stream_frames as u64)
    } else {
        duration_seconds.map(|d| (d * frame_rate.fps()).round() as u64)
    };

    let (start_timecode, timecode_source) = match find_timecode(input, index) {
        Some((text, source)) => match Timecode::parse(&text, frame_rate) {
            Ok(tc) => (tc, Some(source)),
            Err(e) => {
                warnings.push(format!(
                    "{}: ignoring start timecode from {source}: {e}",
                    path.display()
                ));
                (Timecode::from_frames(0, frame_rate), None)
            }
        },
        None => (Timecode::from_frames(0, frame_rate), None),
    };

    let info = MediaInfo {
        path: path.to_path_buf(),
        container,
        video_codec,
        width,
        height,
        frame_rate,
        frame_count,
        duration_seconds,
        start_timecode,
        timecode_source,
        is_still,
    };
    Ok((info, geometry))
}

/// Stills are given the conventional 25 fps so a frame index still maps to a time.
pub(crate) fn still_rate() -> FrameRate {
    FrameRate { num: 25, den: 1 }
}

fn seconds(ts: i64, tb: Rational) -> Option<f64> {
    (ts > 0 && ts != ffmpeg::ffi::AV_NOPTS_VALUE && tb.numerator() > 0 && tb.denominator() > 0)
        .then(|| ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator()))
}

/// Frame rates that production files use; container rates within 0.02% of one are snapped
/// to it, because muxers often store e.g. 2997/100 or 1200000/40039 for 29.97. (24 and
/// 23.976 are 0.1% apart.)
const STANDARD_RATES: [(u32, u32); 16] = [
    (24000, 1001),
    (24, 1),
    (25, 1),
    (30000, 1001),
    (30, 1),
    (48000, 1001),
    (48, 1),
    (50, 1),
    (60000, 1001),
    (60, 1),
    (100, 1),
    (120000, 1001),
    (120, 1),
    (12, 1),
    (15, 1),
    (10, 1),
];

/// Picks the stream's frame rate from `avg_frame_rate` and `r_frame_rate`.
pub(crate) fn choose_rate(avg: Rational, real: Rational) -> Option<FrameRate> {
    let valid = |r: Rational| {
        let (n, d) = (r.numerator(), r.denominator());
        (n > 0 && d > 0 && f64::from(n) / f64::from(d) <= 1000.0).then_some((n as u32, d as u32))
    };
    let snap = |(n, d): (u32, u32)| {
        let fps = f64::from(n) / f64::from(d);
        STANDARD_RATES.iter().copied().find(|&(sn, sd)| {
            let s = f64::from(sn) / f64::from(sd);
            ((fps - s) / s).abs() < 0.0002
        })
    };
    let candidates = [valid(avg), valid(real)];
    let chosen = candidates
        .iter()
        .flatten()
        .find_map(|&r| snap(r))
        .or_else(|| candidates.iter().flatten().next().copied())?;
    FrameRate::new(chosen.0, chosen.1).ok()
}

/// The start timecode text and where it came from, in order of trust: a QuickTime/MP4 `tmcd`
/// track, the format-level tag (MXF), the video stream's tag, any other stream's tag.
fn find_timecode(input: &Input, video_index: usize) -> Option<(String, String)> {
    for s in input.streams() {
        // SAFETY: codecpar belongs to the open input.
        let tag = unsafe { (*s.parameters().as_ptr()).codec_tag };
        if tag == TMCD {
            if let Some(tc) = s.metadata().get("timecode") {
                return Some((
                    tc.to_string(),
                    format!("stream {} (tmcd) tag timecode", s.index()),
                ));
            }
        }
    }
    if let Some(tc) = input.metadata().get("timecode") {
        return Some((tc.to_string(), "format tag timecode".to_string()));
    }
    if let Some(tc) = input
        .stream(video_index)
        .and_then(|s| s.metadata().get("timecode").map(str::to_string))
    {
        return Some((tc, format!("stream {video_index} (video) tag timecode")));
    }
    input.streams().find_map(|s| {
        s.metadata().get("timecode").map(|tc| {
            (
                tc.to_string(),
                format!(
                    "stream {} ({}) tag timecode",
                    s.index(),
                    medium_name(s.parameters().medium())
                ),
            )
        })
    })
}

/// Clockwise quarter turns from the stream's display matrix (phone footage shot upright).
fn quarter_turns(stream: &ffmpeg::Stream, path: &Path, warnings: &mut Vec<String>) -> u8 {
    let Some(sd) = stream
        .side_data()
        .find(|sd| sd.kind() == SideDataType::DisplayMatrix)
    else {
        return 0;
    };
    let data = sd.data();
    if data.len() < 36 {
        return 0;
    }
    let mut matrix = [0i32; 9];
    for (m, chunk) in matrix.iter_mut().zip(data.chunks_exact(4)) {
        *m = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    // SAFETY: `matrix` is the 3x3 i32 array the function reads.
    let ccw = unsafe { ffmpeg::ffi::av_display_rotation_get(matrix.as_ptr()) };
    if ccw.is_nan() {
        return 0;
    }
    // FFmpeg reports counter-clockwise degrees; players rotate the other way to show it.
    let cw = (-ccw).rem_euclid(360.0);
    let turns = (cw / 90.0).round();
    if (cw - turns * 90.0).abs() > 1.0 {
        warnings.push(format!(
            "{}: display rotation of {cw:.1} degrees is not a quarter turn; ignored",
            path.display()
        ));
        return 0;
    }
    (turns as u8) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_snap_to_standard_values() {
        let r = |n, d| Rational::new(n, d);
        let fr = |n, d| Some(FrameRate { num: n, den: d });
        assert_eq!(choose_rate(r(2997, 100), r(30000, 1001)), fr(30000, 1001));
        assert_eq!(choose_rate(r(1_200_000, 40_039), r(0, 0)), fr(30000, 1001));
        assert_eq!(choose_rate(r(25, 1), r(50, 1)), fr(25, 1));
        // Nothing standard: keep the average rate as it is.
        assert_eq!(choose_rate(r(17, 1), r(0, 1)), fr(17, 1));
        assert_eq!(choose_rate(r(0, 0), r(0, 0)), None);
        // A bogus average falls back to the real base rate.
        assert_eq!(choose_rate(r(90000, 1), r(24, 1)), fr(24, 1));
    }

    #[test]
    fn display_size_applies_sar_and_rotation() {
        let g = Geometry {
            sar: (16, 15),
            quarter_turns: 0,
        };
        assert_eq!(g.display_size(720, 576, None), (768, 576));
        assert_eq!(g.display_size(720, 576, Some((1, 1))), (720, 576));
        assert_eq!(g.display_size(720, 576, Some((65535, 1))), (720, 576));
        let g = Geometry {
            sar: (1, 1),
            quarter_turns: 1,
        };
        assert_eq!(g.display_size(320, 180, None), (180, 320));
    }

    #[test]
    fn ffmpeg_limit_has_slack_for_alignment() {
        assert_eq!(ffmpeg_max_pixels(200_000_000), 250_000_000 + 1_048_576);
        assert_eq!(ffmpeg_max_pixels(8), 8 + 2 + 1_048_576);
        assert_eq!(ffmpeg_max_pixels(u64::MAX), i64::MAX);
    }

    #[test]
    fn picture_demuxers_are_recognised() {
        assert!(is_picture_demuxer("png_pipe") && is_picture_demuxer("image2"));
        assert!(!is_picture_demuxer("mov,mp4,m4a,3gp,3g2,mj2") && !is_picture_demuxer("mxf"));
    }
}
