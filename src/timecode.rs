//! Frame rates, frame indices and SMPTE timecode (drop-frame aware).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of a decoded frame within one media file, counted from 0.
pub type FrameIndex = u64;

/// A rational frame rate such as 24000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRate {
    /// Numerator (frames).
    pub num: u32,
    /// Denominator (seconds).
    pub den: u32,
}

/// Errors from parsing or building timecode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimecodeError {
    /// The text is not `HH:MM:SS:FF` / `HH:MM:SS;FF`.
    #[error("'{0}' is not a timecode (expected HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame)")]
    Syntax(String),
    /// A field is out of range for the frame rate.
    #[error("timecode '{0}' is out of range at {1} fps")]
    Range(String, String),
    /// The frame rate is zero or not representable.
    #[error("invalid frame rate {0}/{1}")]
    Rate(u32, u32),
}

impl FrameRate {
    /// Builds a frame rate, rejecting zero parts.
    pub fn new(num: u32, den: u32) -> Result<Self, TimecodeError> {
        if num == 0 || den == 0 {
            return Err(TimecodeError::Rate(num, den));
        }
        Ok(Self { num, den })
    }

    /// Frames per second as a float (for display and sampling arithmetic only).
    pub fn fps(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// The integer frame count a timecode counts in (30 for 29.97, 25 for 25).
    pub fn nominal(&self) -> u32 {
        (self.fps().round() as u32).max(1)
    }

    /// True for the NTSC rates that SMPTE counts in drop-frame (29.97 and 59.94).
    pub fn is_ntsc_drop_rate(&self) -> bool {
        self.den == 1001 && (self.num == 30000 || self.num == 60000)
    }

    /// Seconds from the start of the file to `frame`.
    pub fn seconds_at(&self, frame: FrameIndex) -> f64 {
        frame as f64 * f64::from(self.den) / f64::from(self.num)
    }

    /// The frame showing at `seconds` from the start (rounded down).
    pub fn frame_at(&self, seconds: f64) -> FrameIndex {
        (seconds.max(0.0) * self.fps() + 1e-6).floor() as FrameIndex
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{:.3}", self.fps())
        }
    }
}

/// A SMPTE timecode: a frame count since 00:00:00:00 at a given rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timecode {
    /// Frames since 00:00:00:00 (a real count: drop-frame labels are skipped, not frames).
    pub frames: u64,
    /// Frame rate the timecode counts in.
    pub rate: FrameRate,
    /// Drop-frame counting (only meaningful for 29.97 and 59.94).
    pub drop_frame: bool,
}

impl Timecode {
    /// A timecode `frames` frames after midnight, drop-frame where the rate calls for it.
    pub fn from_frames(frames: u64, rate: FrameRate) -> Self {
        Self {
            frames,
            rate,
            drop_frame: rate.is_ntsc_drop_rate(),
        }
    }

    /// Parses `HH:MM:SS:FF` (non-drop) or `HH:MM:SS;FF` / `HH:MM:SS.FF` (drop-frame).
    pub fn parse(text: &str, rate: FrameRate) -> Result<Self, TimecodeError> {
        let t = text.trim();
        let syntax = || TimecodeError::Syntax(t.to_string());
        let drop_sep = t.contains(';') || t.contains('.');
        let parts: Vec<&str> = t.split([':', ';', '.']).collect();
        if parts.len() != 4 {
            return Err(syntax());
        }
        let mut v = [0u64; 4];
        for (slot, p) in v.iter_mut().zip(&parts) {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            *slot = p.parse().map_err(|_| syntax())?;
        }
        let [h, m, s, f] = v;
        let nominal = u64::from(rate.nominal());
        let range = || TimecodeError::Range(t.to_string(), rate.to_string());
        if m > 59 || s > 59 || f >= nominal || h > 23 {
            return Err(range());
        }
        let drop_frame = drop_sep && rate.is_ntsc_drop_rate();
        let drop = if drop_frame { nominal / 15 } else { 0 };
        if drop_frame && s == 0 && f < drop && m % 10 != 0 {
            // Those labels do not exist in drop-frame counting.
            return Err(range());
        }
        let total_minutes = 60 * h + m;
        let labels = ((total_minutes * 60) + s) * nominal + f;
        let frames = labels - drop * (total_minutes - total_minutes / 10);
        Ok(Self {
            frames,
            rate,
            drop_frame,
        })
    }

    /// This timecode moved on by `frames` frames.
    pub fn add_frames(self, frames: u64) -> Self {
        Self {
            frames: self.frames + frames,
            ..self
        }
    }

    /// The (hours, minutes, seconds, frames) labels of this timecode.
    pub fn fields(&self) -> (u64, u64, u64, u64) {
        let nominal = u64::from(self.rate.nominal());
        let mut n = self.frames;
        if self.drop_frame {
            // SMPTE 12M: skip `drop` labels at the start of each minute except every tenth.
            let drop = nominal / 15;
            let per_10min = nominal * 600 - drop * 9;
            let per_min = nominal * 60 - drop;
            // Labels repeat every day (144 ten-minute blocks), so a count reduced to one day
            // has the same label, and `n + skipped` below cannot overflow on the absurd
            // counts a stored report may hold.
            n %= per_10min * 144;
            let tens = n / per_10min;
            let rem = n % per_10min;
            let skipped = if rem > drop {
                drop * 9 * tens + drop * ((rem - drop) / per_min)
            } else {
                drop * 9 * tens
            };
            n += skipped;
        }
        let f = n % nominal;
        let s = (n / nominal) % 60;
        let m = (n / (nominal * 60)) % 60;
        let h = (n / (nominal * 3600)) % 24;
        (h, m, s, f)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s, fr) = self.fields();
        let sep = if self.drop_frame { ';' } else { ':' };
        write!(f, "{h:02}:{m:02}:{s:02}{sep}{fr:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u32, d: u32) -> FrameRate {
        FrameRate::new(n, d).unwrap()
    }

    #[test]
    fn non_drop_formats_plainly() {
        let tc = Timecode::from_frames(25 * 3600 + 25 * 61 + 3, r(25, 1));
        assert_eq!(tc.to_string(), "01:01:01:03");
        let tc = Timecode::from_frames(24 * 60, r(24000, 1001));
        assert_eq!(tc.to_string(), "00:01:00:00");
    }

    #[test]
    fn drop_frame_skips_two_labels_each_minute_but_the_tenth() {
        let rate = r(30000, 1001);
        assert_eq!(Timecode::from_frames(1799, rate).to_string(), "00:00:59;29");
        assert_eq!(Timecode::from_frames(1800, rate).to_string(), "00:01:00;02");
        assert_eq!(
            Timecode::from_frames(17982, rate).to_string(),
            "00:10:00;00"
        );
        assert_eq!(
            Timecode::from_frames(17981, rate).to_string(),
            "00:09:59;29"
        );
        // One hour of 29.97 DF is 107892 frames.
        assert_eq!(
            Timecode::from_frames(107_892, rate).to_string(),
            "01:00:00;00"
        );
    }

    #[test]
    fn drop_frame_at_59_94_drops_four() {
        let rate = r(60000, 1001);
        assert_eq!(Timecode::from_frames(3599, rate).to_string(), "00:00:59;59");
        assert_eq!(Timecode::from_frames(3600, rate).to_string(), "00:01:00;04");
        assert_eq!(
            Timecode::from_frames(215_784, rate).to_string(),
            "01:00:00;00"
        );
    }

    #[test]
    fn parse_round_trips() {
        for (rate, text) in [
            (r(30000, 1001), "01:23:45;12"),
            (r(30000, 1001), "00:10:00;00"),
            (r(60000, 1001), "10:00:00;00"),
            (r(25, 1), "10:00:00:24"),
            (r(24000, 1001), "00:59:59:23"),
        ] {
            let tc = Timecode::parse(text, rate).unwrap();
            assert_eq!(tc.to_string(), text);
            assert_eq!(Timecode::from_frames(tc.frames, rate).frames, tc.frames);
        }
    }

    #[test]
    fn parse_rejects_bad_text() {
        let rate = r(30000, 1001);
        assert!(matches!(
            Timecode::parse("00:01:00;00", rate),
            Err(TimecodeError::Range(..))
        ));
        assert!(matches!(
            Timecode::parse("00:00:00:30", rate),
            Err(TimecodeError::Range(..))
        ));
        assert!(matches!(
            Timecode::parse("1:2:3", rate),
            Err(TimecodeError::Syntax(..))
        ));
        assert!(Timecode::parse("aa:00:00:00", rate).is_err());
    }

    #[test]
    fn every_drop_frame_label_is_sequential() {
        // Walk 11 minutes: each label must follow the previous one by exactly one label.
        let rate = r(30000, 1001);
        let mut prev = Timecode::from_frames(0, rate).fields();
        for n in 1..(17982 + 1800) {
            let cur = Timecode::from_frames(n, rate);
            let back = Timecode::parse(&cur.to_string(), rate).unwrap();
            assert_eq!(back.frames, n, "{cur}");
            let f = cur.fields();
            assert!(f > prev, "{f:?} after {prev:?}");
            prev = f;
        }
    }

    /// A stored report's start timecode (the `journal` fuzz harness feeds any) can be any
    /// u64 frame count: adding the skipped labels overflowed near u64::MAX.
    #[test]
    fn any_frame_count_has_a_label() {
        let rate = r(30000, 1001);
        let day = 17982 * 144;
        for frames in [u64::MAX, u64::MAX - 1, 1 << 63] {
            let tc = Timecode::from_frames(frames, rate);
            let (h, m, s, f) = tc.fields();
            assert!(h < 24 && m < 60 && s < 60 && f < 30, "{tc}");
            // The same label as the same time of day a whole number of days earlier.
            assert_eq!(
                tc.to_string(),
                Timecode::from_frames(frames % day, rate).to_string()
            );
        }
        assert_eq!(
            Timecode::from_frames(day + 1800, rate).to_string(),
            "00:01:00;02"
        );
    }
}
