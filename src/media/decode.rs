//! Decoding the chosen video stream, in presentation order, with FFmpeg's threads on, and
//! surviving damaged data: errors after the first good frame become warnings.
//!
//! Every frame is decoded unless [`VideoDecoder::skip_nonref`] is on: then the decoder skips
//! the frames no other frame refers to (most B-frames of H.264 and HEVC, about half of all
//! frames and of the decoding time), and each frame that does come out still gets its exact
//! index, counted from the timestamps of the packets sent. [`VideoDecoder::seek_before`] and
//! [`VideoDecoder::decode_only`] serve the second decoder that fills a gap in full (`gaps`).
//!
//! The pixel limit holds here too: FFmpeg's decoder refuses to allocate pictures far over it,
//! and every frame that comes out is checked exactly (a stream can change size mid-way) before
//! anything converts it.

use super::open::{self, Geometry, Opened};
use super::picture::frame_sar;
use super::MediaError;
use ffmpeg::codec::Id;
use ffmpeg::format::context::Input;
use ffmpeg::{decoder, frame, Packet};
use ffmpeg_next as ffmpeg;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

/// At most this many warnings are kept in detail; the rest are only counted.
const MAX_DETAILED_WARNINGS: usize = 20;
/// Give up after this many demux/decode errors in a row without a frame: the rest of the file
/// is not going to get better, and each error costs time.
const MAX_CONSECUTIVE_ERRORS: u32 = 1000;

/// A running decoder over one file's video stream.
pub(crate) struct VideoDecoder {
    path: PathBuf,
    input: Input,
    stream_index: usize,
    decoder: decoder::Video,
    /// For the displayed size of each frame, which the RGB picture will have.
    geometry: Geometry,
    max_pixels: u64,
    /// End of input reached and the decoder told so.
    draining: bool,
    /// Frames returned so far.
    decoded: u64,
    /// Index (presentation order) of the next frame to come out, counting skipped ones.
    next_index: u64,
    /// While frames may be skipped: the timestamps of the packets sent whose frames have
    /// neither come out nor been passed over yet, smallest first. A frame with timestamp `t`
    /// comes out after every frame before it in presentation order was sent, so the pending
    /// timestamps below `t` are exactly the frames skipped just before it.
    pending: Option<BinaryHeap<Reverse<i64>>>,
    /// The frames passed over since [`VideoDecoder::take_skipped`] last ran: timestamp and
    /// index, in presentation order.
    skipped: Vec<(i64, u64)>,
    /// Non-reference frames are being skipped.
    skipping: bool,
    /// Decode in full only the packets with a timestamp strictly inside this interval; the
    /// others only when they are references (one thread only: the setting must apply to the
    /// very next packet).
    window: Option<(i64, i64)>,
    /// Packets of our stream sent to the decoder.
    packets: u64,
    consecutive_errors: u32,
    first_error: Option<String>,
    warnings: Vec<String>,
    suppressed_warnings: u64,
}

impl VideoDecoder {
    /// Opens the decoder for `opened`'s video stream. `threads` 0 lets FFmpeg choose.
    pub fn new(opened: Opened, threads: usize) -> Result<Self, MediaError> {
        let Opened {
            input,
            video_index,
            info,
            geometry,
            max_pixels,
            ..
        } = opened;
        let path = info.path;
        let stream = input
            .stream(video_index)
            .ok_or_else(|| MediaError::Decode {
                path: path.clone(),
                cause: format!("stream {video_index} vanished"),
            })?;
        let id = stream.parameters().id();
        let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| MediaError::Decode {
                path: path.clone(),
                cause: format!("codec parameters: {e}"),
            })?;
        // Threads must be configured before the decoder is opened. MPEG-1/2 decoders only have
        // slice threads; the others we care about (H.264, HEVC, ProRes, DNxHD...) decode whole
        // frames in parallel.
        // SAFETY: plain field writes on a context we own and have not opened yet.
        unsafe {
            let raw = ctx.as_mut_ptr();
            (*raw).thread_count = i32::try_from(threads).unwrap_or(0);
            (*raw).thread_type = match id {
                Id::MPEG1VIDEO | Id::MPEG2VIDEO => ffmpeg::ffi::FF_THREAD_SLICE,
                _ => ffmpeg::ffi::FF_THREAD_FRAME | ffmpeg::ffi::FF_THREAD_SLICE,
            };
            (*raw).pkt_timebase = stream.time_base().into();
            // FFmpeg checks this before it allocates any picture, including when the stream
            // changes size mid-way (then the decoder fails instead of allocating).
            (*raw).max_pixels = open::ffmpeg_max_pixels(max_pixels);
        }
        let codec = ffmpeg::decoder::find(id).ok_or_else(|| MediaError::Unsupported {
            path: path.clone(),
            cause: format!("no decoder for codec '{}' in this FFmpeg", id.name()),
        })?;
        let decoder = ctx
            .decoder()
            .open_as(codec)
            .and_then(|o| o.video())
            .map_err(|e| MediaError::Decode {
                path: path.clone(),
                cause: format!("cannot open the {} decoder: {e}", id.name()),
            })?;
        Ok(Self {
            path,
            input,
            stream_index: video_index,
            decoder,
            geometry,
            max_pixels,
            draining: false,
            decoded: 0,
            next_index: 0,
            pending: None,
            skipped: Vec::new(),
            skipping: false,
            window: None,
            packets: 0,
            consecutive_errors: 0,
            first_error: None,
            warnings: Vec::new(),
            suppressed_warnings: 0,
        })
    }

    /// Frames returned so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The frames passed over (skipped, or lost to damage) just before the frame returned
    /// last: timestamp and index, in presentation order.
    pub fn take_skipped(&mut self) -> Vec<(i64, u64)> {
        std::mem::take(&mut self.skipped)
    }

    /// Once the stream is exhausted: the frames skipped after the last one returned, as
    /// [`VideoDecoder::take_skipped`].
    pub fn take_tail(&mut self) -> Vec<(i64, u64)> {
        let mut tail = Vec::new();
        if let Some(pending) = self.pending.as_mut().filter(|_| self.draining) {
            while let Some(Reverse(t)) = pending.pop() {
                tail.push((t, self.next_index));
                self.next_index += 1;
            }
        }
        tail
    }

    /// Skips the frames no other frame refers to (on), or decodes every frame again (off),
    /// from the next packet sent. Frame indices stay exact while every packet carries a
    /// timestamp; a packet without one turns skipping off for good.
    pub fn skip_nonref(&mut self, on: bool) {
        if on && self.pending.is_none() {
            if self.packets > 0 {
                return; // indices can only be counted from the first packet
            }
            self.pending = Some(BinaryHeap::new());
        }
        self.skipping = on && self.pending.is_some();
        self.set_discard(self.skipping);
    }

    /// Whether non-reference frames are being skipped.
    pub fn skipping(&self) -> bool {
        self.skipping
    }

    fn set_discard(&mut self, nonref: bool) {
        let value = if nonref {
            ffmpeg::ffi::AVDiscard::AVDISCARD_NONREF
        } else {
            ffmpeg::ffi::AVDiscard::AVDISCARD_DEFAULT
        };
        // SAFETY: a plain field write on the context we own; decoders read it per packet
        // (frame threads copy it when the packet is handed to a thread).
        unsafe {
            (*self.decoder.as_mut_ptr()).skip_frame = value;
        }
    }

    /// Moves to the key frame at or before presentation timestamp `pts` (stream time base),
    /// ready to decode from there.
    pub fn seek_before(&mut self, pts: i64) -> Result<(), MediaError> {
        let index = i32::try_from(self.stream_index).unwrap_or(i32::MAX);
        // SAFETY: the format context is ours and open; av_seek_frame validates its arguments.
        let rc = unsafe {
            ffmpeg::ffi::av_seek_frame(
                self.input.as_mut_ptr(),
                index,
                pts,
                ffmpeg::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if rc < 0 {
            return Err(MediaError::Decode {
                path: self.path.clone(),
                cause: format!(
                    "cannot seek to timestamp {pts}: {}",
                    ffmpeg::Error::from(rc)
                ),
            });
        }
        self.decoder.flush();
        self.draining = false;
        Ok(())
    }

    /// From now on decode in full only the frames whose timestamps lie strictly between
    /// `after` and `before`, and of the others only those referred to. Only for a decoder
    /// opened with one thread.
    pub fn decode_only(&mut self, after: i64, before: i64) {
        self.window = Some((after, before));
    }

    /// The next frame in presentation order, or None when the stream is exhausted. A frame
    /// over the pixel limit (coded or as displayed) is [`MediaError::TooLarge`].
    pub fn next_frame(&mut self) -> Result<Option<frame::Video>, MediaError> {
        Ok(self.next_indexed()?.map(|(_, f)| f))
    }

    /// As [`VideoDecoder::next_frame`], with the frame's index in presentation order (skipped
    /// frames counted).
    pub fn next_indexed(&mut self) -> Result<Option<(u64, frame::Video)>, MediaError> {
        loop {
            let mut frame = frame::Video::empty();
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    self.check_size(&frame)?;
                    let index = self.index_of(frame.pts());
                    if frame.is_corrupt() {
                        self.warn(format!(
                            "frame {index}: decoded with errors (damaged data concealed)"
                        ));
                    }
                    self.decoded += 1;
                    self.consecutive_errors = 0;
                    return Ok(Some((index, frame)));
                }
                Err(ffmpeg::Error::Eof) => return Ok(None),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    if self.draining {
                        // A decoder that wants input after EOF is broken; do not spin.
                        return Ok(None);
                    }
                    if !self.feed() {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    if self.error(format!("near frame {}: decode error: {e}", self.next_index)) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The index of a frame that came out with timestamp `pts`: the frames skipped before it
    /// are the pending timestamps below `pts`.
    fn index_of(&mut self, pts: Option<i64>) -> u64 {
        if let (Some(pending), Some(t)) = (self.pending.as_mut(), pts) {
            while let Some(Reverse(q)) = pending.peek().copied().filter(|Reverse(q)| *q < t) {
                pending.pop();
                self.skipped.push((q, self.next_index));
                self.next_index += 1;
            }
            if pending.peek() == Some(&Reverse(t)) {
                pending.pop();
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        index
    }

    /// Refuses a decoded frame whose coded or displayed size is over the limit: the RGB
    /// conversion would allocate the displayed size (twice: swscale's output and the picture).
    fn check_size(&self, frame: &frame::Video) -> Result<(), MediaError> {
        let (w, h) = (frame.width(), frame.height());
        let (dw, dh) = self.geometry.display_size(w, h, frame_sar(frame));
        MediaError::check_size(&self.path, dw, dh, self.max_pixels)?;
        MediaError::check_size(&self.path, w, h, self.max_pixels)
    }

    /// Sends the next packet of our stream (or end of stream) to the decoder. False when
    /// decoding must stop.
    fn feed(&mut self) -> bool {
        loop {
            let mut packet = Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    self.packets += 1;
                    self.track(packet.pts());
                    match self.decoder.send_packet(&packet) {
                        Ok(()) => return true,
                        Err(e) => {
                            if self
                                .error(format!("near frame {}: decode error: {e}", self.next_index))
                            {
                                return false;
                            }
                        }
                    }
                }
                Err(ffmpeg::Error::Eof) => return self.send_eof(),
                // Demuxers can resync after damaged data: skip it.
                Err(ffmpeg::Error::InvalidData) => {
                    if self.error(format!(
                        "near frame {}: damaged container data",
                        self.next_index
                    )) {
                        return false;
                    }
                }
                Err(e) => {
                    // An I/O error or a cut-off file: decode what is buffered, then stop.
                    self.error(format!("near frame {}: read error: {e}", self.next_index));
                    return self.send_eof();
                }
            }
        }
    }

    /// Notes a packet's timestamp before it is sent, and sets what to discard of it.
    fn track(&mut self, pts: Option<i64>) {
        if let Some((after, before)) = self.window {
            let wanted = pts.is_some_and(|t| t > after && t < before);
            self.set_discard(!wanted);
        }
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        match pts {
            Some(t) => pending.push(Reverse(t)),
            None => {
                // Without a timestamp the skipped frames cannot be counted: decode them all.
                // Frames already skipped in flight may shift the numbers after this point.
                self.pending = None;
                self.skip_nonref(false);
                self.warn(format!(
                    "near frame {}: a packet without a timestamp; decoding every frame from \
                     here (frame numbers after this point may be off by a few)",
                    self.next_index
                ));
            }
        }
    }

    fn send_eof(&mut self) -> bool {
        self.draining = true;
        self.decoder.send_eof().is_ok()
    }

    /// Records an error; true when there have been too many in a row to go on.
    fn error(&mut self, message: String) -> bool {
        if self.first_error.is_none() {
            self.first_error = Some(message.clone());
        }
        self.warn(message);
        self.consecutive_errors += 1;
        if self.consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
            self.warn(format!(
                "near frame {}: giving up after {MAX_CONSECUTIVE_ERRORS} errors in a row",
                self.next_index
            ));
            return true;
        }
        false
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_DETAILED_WARNINGS {
            self.warnings
                .push(format!("{}: {message}", self.path.display()));
        } else {
            self.suppressed_warnings += 1;
        }
    }

    /// The error to return when not one frame came out.
    pub fn no_frames_error(&self) -> MediaError {
        let cause = match &self.first_error {
            Some(first) => format!(
                "no frame could be decoded from {} packets (first error {first})",
                self.packets
            ),
            None if self.packets == 0 => "the video stream holds no packets".to_string(),
            None => format!("no frame came out of {} packets", self.packets),
        };
        MediaError::Decode {
            path: self.path.clone(),
            cause,
        }
    }

    /// The warnings collected, with a final count of those not kept in detail.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut w = std::mem::take(&mut self.warnings);
        if self.suppressed_warnings > 0 {
            w.push(format!(
                "{}: {} more decode warnings not listed",
                self.path.display(),
                self.suppressed_warnings
            ));
        }
        w
    }

    /// The file being decoded.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
