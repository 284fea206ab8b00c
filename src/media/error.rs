//! The one error type of the media stage.

use std::path::{Path, PathBuf};

/// Why a media file could not be probed, loaded or streamed.
///
/// Every variant names the file; `Display` is one line: `<path>: <what>: <cause>`.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be read at all (missing, permissions, I/O error).
    #[error("{}: cannot open: {cause}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the OS or FFmpeg said.
        cause: String,
    },
    /// The file holds no container or image format that FFmpeg or the image reader knows.
    #[error("{}: not a media file: {cause}", path.display())]
    NotMedia {
        /// The file.
        path: PathBuf,
        /// What the content looks like instead.
        cause: String,
    },
    /// A media file without a video stream (audio only, subtitles only).
    #[error("{}: no video stream: {cause}", path.display())]
    NoVideoStream {
        /// The file.
        path: PathBuf,
        /// Which streams there are.
        cause: String,
    },
    /// The file ends before the data needed to read it (e.g. an MP4 cut before its `moov`).
    #[error("{}: truncated: {cause}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is missing.
        cause: String,
    },
    /// The container opened but not a single frame could be decoded.
    #[error("{}: cannot decode: {cause}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        cause: String,
    },
    /// The video codec has no decoder in this FFmpeg build.
    #[error("{}: unsupported: {cause}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Which codec.
        cause: String,
    },
    /// A 0-byte file.
    #[error("{}: empty file (0 bytes)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The frame sink asked to stop.
    #[error("{}: cancelled after frame {frame}", path.display())]
    Cancelled {
        /// The file.
        path: PathBuf,
        /// The last frame handed to the sink.
        frame: u64,
    },
    /// The picture is bigger than the pixel limit (a decompression bomb, or a header that
    /// lies): refused before anything of that size is allocated.
    #[error("{}: {width}x{height} pixels is over the limit of {max} (--max-pixels)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width the file claims (or a decoded frame has).
        width: u32,
        /// Height the file claims (or a decoded frame has).
        height: u32,
        /// The limit in pixels ([`SamplingOptions::max_pixels`](super::SamplingOptions)).
        max: u64,
    },
    /// The sampling options make no sense (caught before any decoding).
    #[error("{}: invalid sampling options: {source}", path.display())]
    Options {
        /// The file the options were meant for.
        path: PathBuf,
        /// Which option is wrong.
        source: OptionsError,
    },
}

impl MediaError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Open { path, .. }
            | Self::NotMedia { path, .. }
            | Self::NoVideoStream { path, .. }
            | Self::Truncated { path, .. }
            | Self::Decode { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Empty { path }
            | Self::Cancelled { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Options { path, .. } => path,
        }
    }

    /// Fails with [`MediaError::TooLarge`] when a `width` x `height` picture has more than
    /// `max` pixels.
    pub(crate) fn check_size(path: &Path, width: u32, height: u32, max: u64) -> Result<(), Self> {
        if u64::from(width) * u64::from(height) > max {
            return Err(Self::TooLarge {
                path: path.to_path_buf(),
                width,
                height,
                max,
            });
        }
        Ok(())
    }
}

/// A nonsensical [`SamplingOptions`](super::SamplingOptions) value, found by `validate`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// `per_second` must be a positive, finite number.
    #[error("per_second must be > 0 and finite, got {0}")]
    PerSecond(f64),
    /// `min_per_shot` must be at least 1.
    #[error("min_per_shot must be >= 1, got {0}")]
    MinPerShot(u32),
    /// The range ends before it starts.
    #[error("range {0}..={1} ends before it starts")]
    Range(u64, u64),
    /// `cut_threshold` must lie in (0, 1].
    #[error("cut_threshold must be in (0, 1], got {0}")]
    CutThreshold(f32),
    /// `max_pixels` must be at least 1.
    #[error("max_pixels must be >= 1, got {0}")]
    MaxPixels(u64),
    /// More decoder threads than any machine has.
    #[error("decoder_threads must be <= {max}, got {got}")]
    Threads {
        /// What was asked for.
        got: usize,
        /// The limit.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_path_and_cause() {
        let e = MediaError::Truncated {
            path: PathBuf::from("clip.mp4"),
            cause: "moov atom not found".into(),
        };
        assert_eq!(e.to_string(), "clip.mp4: truncated: moov atom not found");
        let e = MediaError::Options {
            path: PathBuf::from("a.mov"),
            source: OptionsError::PerSecond(0.0),
        };
        assert_eq!(
            e.to_string(),
            "a.mov: invalid sampling options: per_second must be > 0 and finite, got 0"
        );
        assert_eq!(e.path(), Path::new("a.mov"));
    }

    #[test]
    fn size_check_names_the_picture_and_the_limit() {
        let p = Path::new("bomb.png");
        assert!(MediaError::check_size(p, 20_000, 10_000, 200_000_000).is_ok());
        let e = MediaError::check_size(p, 40_000, 40_000, 200_000_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bomb.png: 40000x40000 pixels is over the limit of 200000000 (--max-pixels)"
        );
        assert_eq!(e.path(), p);
        // No overflow at the largest sizes a header can state.
        let most = u64::from(u32::MAX) * u64::from(u32::MAX);
        assert!(MediaError::check_size(p, u32::MAX, u32::MAX, most).is_ok());
        assert!(MediaError::check_size(p, u32::MAX, u32::MAX, most - 1).is_err());
    }
}
