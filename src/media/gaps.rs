//! Filling a gap left by skipped frames, exactly, when it may hold a cut.
//!
//! With non-reference frames skipped (see `decode`), the stream loop sees frames a few apart
//! (an H.264 stream with three B-frames: about one in three). A hard cut between two frames it
//! saw changes the picture between them as much as a cut does, so the loop can tell which gaps
//! may hold one; for those, a second decoder of the same file seeks to the key frame before
//! the gap, decodes the reference frames up to it and every frame inside it, and hands those
//! frames over in order, so cuts (and the shot's last frame) stay frame-exact.

use super::decode::VideoDecoder;
use super::open;
use super::MediaError;
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};

/// A second decoder of one file, opened at the first gap that needs it.
pub(crate) struct GapFiller {
    path: PathBuf,
    max_pixels: u64,
    decoder: Option<VideoDecoder>,
}

impl GapFiller {
    /// A filler for `path`, opening it under the same pixel limit as the main decoder.
    pub fn new(path: &Path, max_pixels: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            max_pixels,
            decoder: None,
        }
    }

    /// Decodes the frames after timestamp `after` (stream time base) up to the last one in
    /// `wanted` (timestamp and index, sorted), and hands each wanted one to `each` with its
    /// index, in presentation order. Returns how many were handed over.
    pub fn fill(
        &mut self,
        after: i64,
        wanted: &[(i64, u64)],
        each: &mut dyn FnMut(u64, frame::Video) -> Result<(), MediaError>,
    ) -> Result<usize, MediaError> {
        let decoder = match &mut self.decoder {
            Some(d) => d,
            None => {
                let opened = open::open(&self.path, self.max_pixels)?;
                // One thread: the decode window must apply to the very next packet.
                self.decoder.insert(VideoDecoder::new(opened, 1)?)
            }
        };
        // Some containers seek by decoding timestamp, which runs a few frames ahead of the
        // presentation one: aim well before the gap (it lands on the key frame before).
        let Some(&(last, _)) = wanted.last() else {
            return Ok(0);
        };
        let before = last.saturating_add(1);
        let span = last.saturating_sub(after).max(1);
        decoder.seek_before(after.saturating_sub(4 * span))?;
        decoder.decode_only(after, before);
        let mut n = 0;
        while let Some(frame) = decoder.next_frame()? {
            let Some(t) = frame.pts() else {
                continue;
            };
            if t >= before {
                break;
            }
            if let Ok(k) = wanted.binary_search_by_key(&t, |&(pts, _)| pts) {
                each(wanted[k].1, frame)?;
                n += 1;
                if n == wanted.len() {
                    break;
                }
            }
        }
        Ok(n)
    }
}
