//! Numbered image sequences (`shot_0001.dpx ... shot_0240.dpx`, how VFX and DI hand over
//! shots) as one clip each: finding them among files ([`group`]) and decoding one as a clip
//! ([`stream_sequence`], in `sequence/stream.rs`).
//!
//! Decisions, and why:
//!
//! * **Which files.** Extensions dpx, exr, tif, tiff, png, jpg, jpeg, in any case
//!   ([`SEQUENCE_EXT`]): the formats shots are handed over in. Other numbered files
//!   (`clip_01.mp4`, `scan_1.webp`) stay files.
//! * **The frame number** is the last run of ASCII digits of the name, and it must end the
//!   stem (right before the extension's dot), where renderers and conform tools put it (Nuke's
//!   `####`, FFmpeg's `%04d`): `plate.1001.exr` is 1001, `A001C003_0001.tif` is 1, `frame12.png`
//!   is 12. So `shot_0001_v2.dpx` is frame 2 of `shot_0001_v`, which keeps versions apart
//!   instead of merging them. Runs longer than [`MAX_DIGITS`] are IDs or timestamps
//!   (`IMG_20240101123456.jpg`), not frame numbers (and could overflow u64); a `-` before the
//!   digits stays in the prefix (negative frame numbers are not supported).
//! * **Padding.** A number written with a leading zero fixes the width (`0001`: 4 digits); one
//!   without fits any width up to its length (`1001` is 4-padded or unpadded alike, `10000`
//!   continues a 4-padded sequence). Within one folder, prefix and extension, each number joins
//!   the widest fixed width that fits it; the others form one sequence whose width is their
//!   shortest length (`frame1.png..frame240.png`: width 1, pattern `frame#.png`). Formatting a
//!   number at its sequence's width always gives its file name back, and `shot_001.png` next to
//!   `shot_0001.png` makes two sequences.
//! * **Size.** At least `min_len` members, never fewer than 2: a lone numbered file is a still.
//! * **Timeline.** Frame index = number - first number, so the clip keeps its real length and a
//!   gap is a hole: `frame_count` = last - first + 1 and frame index i shows at timecode
//!   `Timecode::from_frames(first + i, rate)`, the frame number read as a timecode the way
//!   conform tools read it (`plate.1001.exr` at 24 fps starts at 00:00:41:17). Timecode in
//!   DPX/EXR headers is not read.
//! * **Gaps** are reported once each (`shot_####.dpx [0001-0240]: frames 0101-0105 missing`).
//!   Missing frames are never delivered and are not a cut by themselves: the cut detector
//!   compares the frames on either side. A sampling grid point that falls in a gap is taken by
//!   the first frame after it. A shot ends at its last frame that exists, so frames missing at
//!   a cut belong to no shot.
//! * **Frames** load one by one with [`load_still`](super::load_still) (the `image` crate for
//!   PNG/JPEG/TIFF, FFmpeg's first frame for DPX and EXR). A frame that does not load is a
//!   warning naming the file and frame, and counts as missing; a frame of another size than the
//!   first is a warning and is fitted (letterboxed) into the first frame's size, so it is still
//!   scanned and every sampled frame has the size `MediaInfo` gives. No loadable frame at all
//!   is an error. Warnings of one kind stop after [`MAX_WARNINGS`] lines plus a count.
//! * **Memory.** A few frames load in parallel (one per decoder thread, at most 8); after cut
//!   detection only the sampler's picks and middle candidates are kept, as for video.
//! * **`MediaInfo`**: container `image sequence`, the first loadable frame's codec and size,
//!   `frame_rate` = the rate asked for, `timecode_source` naming the frame number, `is_still`
//!   false, `path` = [`ImageSequence::path`] (the folder joined with the `####` pattern).
//! * **Progress** reports the timeline position (index + 1), not the count of files read, so a
//!   progress bar over `frame_count` reaches its end despite gaps.
//! * **`SamplingOptions::range`** is in frame indices (number - first). Frames before it are
//!   loaded only to find cuts, as for video, so shot numbers do not depend on the range.

mod frames;
mod stream;

pub use stream::{probe_sequence, stream_sequence, CONTAINER};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Extensions (compared case-insensitively) whose numbered files group into sequences.
pub const SEQUENCE_EXT: &[&str] = &["dpx", "exr", "tif", "tiff", "png", "jpg", "jpeg"];

/// Longest digit run read as a frame number: 9 digits is 482 days at 24 fps; longer runs are
/// IDs or timestamps.
pub const MAX_DIGITS: usize = 9;

/// Warning lines of one kind (gaps, frames that do not load, frames of another size) per
/// sequence; the rest are counted in one more line.
pub const MAX_WARNINGS: usize = 10;

/// A file name split around its frame number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedName {
    /// Everything before the frame number, e.g. `shot_` or `plate.`.
    pub prefix: String,
    /// The frame number.
    pub number: u64,
    /// How many digits the name spells it with (`0001`: 4, `12`: 2).
    pub digits: usize,
    /// The extension without its dot, as written (case kept).
    pub ext: String,
}

impl NumberedName {
    /// Written with a leading zero, so its width is fixed (`0001`, not `1001` or `0`).
    fn is_padded(&self) -> bool {
        self.digits > 1 && count_digits(self.number) < self.digits
    }
}

/// `"shot_0001.dpx"` -> prefix `shot_`, number 1, digits 4, ext `dpx`: the last run of ASCII
/// digits, which must end the part before the extension. None when there is no extension, no
/// such run, or a run longer than [`MAX_DIGITS`]. Never panics.
pub fn parse_numbered(file_name: &str) -> Option<NumberedName> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let digits = stem.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > MAX_DIGITS {
        return None;
    }
    // ASCII digits are single bytes, never part of a multi-byte character: a char boundary.
    let (prefix, run) = stem.split_at(stem.len() - digits);
    Some(NumberedName {
        prefix: prefix.to_string(),
        number: run.parse().ok()?,
        digits,
        ext: ext.to_string(),
    })
}

/// Whether files with extension `ext` (no dot) can form sequences.
pub fn is_sequence_ext(ext: &str) -> bool {
    SEQUENCE_EXT.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// Numbered stills of one folder sharing prefix, padding and extension: one clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSequence {
    /// The folder holding the frames.
    pub dir: PathBuf,
    /// File name before the frame number.
    pub prefix: String,
    /// Minimum width of the frame number (1: unpadded); longer numbers are written in full.
    pub digits: usize,
    /// Extension without the dot, as written.
    pub ext: String,
    /// Frame numbers and their files, sorted by number, no duplicates.
    pub frames: Vec<(u64, PathBuf)>,
}

impl ImageSequence {
    /// The first frame number (0 for an empty sequence).
    pub fn first(&self) -> u64 {
        self.frames.first().map_or(0, |f| f.0)
    }

    /// The last frame number (0 for an empty sequence).
    pub fn last(&self) -> u64 {
        self.frames.last().map_or(0, |f| f.0)
    }

    /// Frames on the timeline from first to last, gaps included.
    pub fn frame_count(&self) -> u64 {
        if self.frames.is_empty() {
            return 0;
        }
        self.last().saturating_sub(self.first()).saturating_add(1)
    }

    /// `number` written as in the file names (zero-padded to `digits`).
    pub fn format_number(&self, number: u64) -> String {
        format!("{number:0width$}", width = self.digits)
    }

    /// The file name pattern, one `#` per digit of padding: `shot_####.dpx`.
    pub fn pattern(&self) -> String {
        format!("{}{}.{}", self.prefix, "#".repeat(self.digits), self.ext)
    }

    /// How reports name the clip: `shot_####.dpx [0001-0240]`.
    pub fn display_name(&self) -> String {
        format!(
            "{} [{}-{}]",
            self.pattern(),
            self.format_number(self.first()),
            self.format_number(self.last())
        )
    }

    /// The folder joined with the pattern: the clip's path in reports and errors.
    pub fn path(&self) -> PathBuf {
        self.dir.join(self.pattern())
    }

    /// Missing frame numbers between first and last, as inclusive ranges in order.
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        self.frames
            .windows(2)
            .filter(|w| w[1].0.saturating_sub(w[0].0) > 1)
            .map(|w| (w[0].0 + 1, w[1].0 - 1))
            .collect()
    }
}

/// One thing to scan: a media file or an image sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// A video or a still.
    File(PathBuf),
    /// Numbered stills scanned as one clip.
    Sequence(ImageSequence),
}

impl Input {
    /// The file, or the sequence's folder joined with its `####` pattern.
    pub fn path(&self) -> PathBuf {
        match self {
            Self::File(p) => p.clone(),
            Self::Sequence(s) => s.path(),
        }
    }

    /// The name without its folder: the file name, or `shot_####.dpx [0001-0240]`.
    pub fn display_name(&self) -> String {
        match self {
            Self::File(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Self::Sequence(s) => s.display_name(),
        }
    }
}

/// A numbered file waiting to be grouped.
struct Member {
    name: NumberedName,
    path: PathBuf,
}

/// Groups numbered stills of one folder with the same prefix, padding and extension (at least
/// `min_len` members, and never fewer than 2) into sequences; everything else stays a file.
/// Duplicate paths count once. Deterministic: output sorted by [`Input::path`].
pub fn group(files: Vec<PathBuf>, min_len: usize) -> Vec<Input> {
    let min_len = min_len.max(2);
    let mut files = files;
    files.sort();
    files.dedup();
    let mut buckets: BTreeMap<(PathBuf, String, String), Vec<Member>> = BTreeMap::new();
    let mut out = Vec::new();
    for path in files {
        let numbered = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_numbered)
            .filter(|n| is_sequence_ext(&n.ext));
        match numbered {
            Some(name) => {
                let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
                let key = (dir, name.prefix.clone(), name.ext.clone());
                buckets.entry(key).or_default().push(Member { name, path });
            }
            None => out.push(Input::File(path)),
        }
    }
    for ((dir, prefix, ext), members) in buckets {
        for (digits, mut frames) in by_padding(members) {
            if frames.len() < min_len {
                out.extend(frames.into_iter().map(|(_, p)| Input::File(p)));
                continue;
            }
            frames.sort();
            out.push(Input::Sequence(ImageSequence {
                dir: dir.clone(),
                prefix: prefix.clone(),
                digits,
                ext: ext.clone(),
                frames,
            }));
        }
    }
    // A file literally named like a pattern sorts next to the sequence: files first.
    out.sort_by(|a, b| {
        a.path()
            .cmp(&b.path())
            .then_with(|| matches!(a, Input::Sequence(_)).cmp(&matches!(b, Input::Sequence(_))))
    });
    out
}

/// Splits the members of one folder, prefix and extension by padding width (see the module
/// doc): width -> (number, path).
fn by_padding(members: Vec<Member>) -> BTreeMap<usize, Vec<(u64, PathBuf)>> {
    let fixed: BTreeSet<usize> = members
        .iter()
        .filter(|m| m.name.is_padded())
        .map(|m| m.name.digits)
        .collect();
    let mut groups: BTreeMap<usize, Vec<(u64, PathBuf)>> = BTreeMap::new();
    let mut free = Vec::new();
    for m in members {
        let width = if m.name.is_padded() {
            Some(m.name.digits)
        } else {
            fixed.range(..=m.name.digits).next_back().copied()
        };
        match width {
            Some(w) => groups.entry(w).or_default().push((m.name.number, m.path)),
            None => free.push(m),
        }
    }
    // Free members are all shorter than every fixed width, so this width is a new one.
    if let Some(width) = free.iter().map(|m| m.name.digits).min() {
        groups.insert(
            width,
            free.into_iter().map(|m| (m.name.number, m.path)).collect(),
        );
    }
    groups
}

/// Decimal digits of `n` (1 for 0).
fn count_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str) -> Option<(String, u64, usize, String)> {
        parse_numbered(name).map(|n| (n.prefix, n.number, n.digits, n.ext))
    }

    fn some(
        prefix: &str,
        number: u64,
        digits: usize,
        ext: &str,
    ) -> Option<(String, u64, usize, String)> {
        Some((prefix.to_string(), number, digits, ext.to_string()))
    }

    #[test]
    fn names_split_around_the_last_digit_run() {
        assert_eq!(parsed("shot_0001.dpx"), some("shot_", 1, 4, "dpx"));
        assert_eq!(parsed("plate.1001.exr"), some("plate.", 1001, 4, "exr"));
        assert_eq!(parsed("A001C003_0001.tif"), some("A001C003_", 1, 4, "tif"));
        assert_eq!(parsed("frame1.png"), some("frame", 1, 1, "png"));
        assert_eq!(parsed("frame240.PNG"), some("frame", 240, 3, "PNG"));
        assert_eq!(parsed("0001.dpx"), some("", 1, 4, "dpx"));
        assert_eq!(parsed("shot_0001_v2.dpx"), some("shot_0001_v", 2, 1, "dpx"));
        assert_eq!(parsed("a.b.0042.tiff"), some("a.b.", 42, 4, "tiff"));
        assert_eq!(parsed("shot.-001.exr"), some("shot.-", 1, 3, "exr"));
        assert_eq!(parsed("x 0.jpg"), some("x ", 0, 1, "jpg"));
        // Non-ASCII prefixes are kept whole; non-ASCII digits are not digits.
        assert_eq!(parsed("ショット_0007.dpx"), some("ショット_", 7, 4, "dpx"));
        assert_eq!(parsed("été9.png"), some("été", 9, 1, "png"));
        assert_eq!(parsed("shot_١٢٣.dpx"), None);
        assert_eq!(parsed("shot_１２.dpx"), None);
        // The run must end the stem, and there must be an extension.
        for name in [
            "shot_0001_final.dpx",
            "shot_0001",
            "shot_0001.",
            ".0001",
            "0001",
            "",
            ".",
            "..",
            "a.",
            "shot.dpx",
            "shot_0001.d-x",
            "shot_0001.dpx ",
            "shot_0001.ä",
            "dir/shot_0001.d/x",
        ] {
            assert_eq!(parsed(name), None, "{name:?}");
        }
        // Runs longer than MAX_DIGITS: IDs and timestamps, and numbers beyond u64.
        assert_eq!(parsed("f123456789.png"), some("f", 123_456_789, 9, "png"));
        assert_eq!(parsed("f1234567890.png"), None);
        assert_eq!(parsed("IMG_20240101123456.jpg"), None);
        assert_eq!(parsed(&format!("f{}.png", "9".repeat(25))), None);
        assert_eq!(parsed(&format!("f{}.png", "0".repeat(40))), None);
    }

    #[test]
    fn parsing_never_panics_on_odd_bytes() {
        let pieces = [
            "",
            "0",
            "9",
            ".",
            "é",
            "\u{0}",
            "a",
            "-",
            "\u{10FFFF}",
            "ß1",
            "٣",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let name = format!("{a}{b}.{c}{a}{b}");
                    if let Some(n) = parse_numbered(&name) {
                        assert!(name.starts_with(&n.prefix));
                        assert!(n.digits >= 1 && n.digits <= MAX_DIGITS);
                    }
                }
            }
        }
    }

    fn files(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    fn sequence(input: &Input) -> &ImageSequence {
        match input {
            Input::Sequence(s) => s,
            Input::File(p) => panic!("{} is not a sequence", p.display()),
        }
    }

    fn describe(inputs: &[Input]) -> Vec<String> {
        inputs
            .iter()
            .map(|i| match i {
                Input::File(p) => format!("file {}", p.display()),
                Input::Sequence(s) => format!("seq {}", s.dir.join(s.display_name()).display()),
            })
            .collect()
    }

    #[test]
    fn a_mixed_folder_groups_by_prefix_padding_and_extension() {
        let mut names: Vec<String> = (1..=5).map(|i| format!("d/shot_{i:04}.dpx")).collect();
        names.extend((1..=3).map(|i| format!("d/shot_{i:03}.dpx"))); // other padding
        names.extend((8..=12).map(|i| format!("d/frame{i}.png"))); // unpadded
        names.extend((1001..=1003).map(|i| format!("d/plate.{i}.exr")));
        names.extend((1..=3).map(|i| format!("d/shot_{i:04}.DPX"))); // other extension
        names.extend((1..=3).map(|i| format!("e/shot_{i:04}.dpx"))); // other folder
        names.extend([
            "d/clip_01.mp4".into(),
            "d/clip_02.mp4".into(),
            "d/lonely_0001.tif".into(),
            "d/notes.txt".into(),
            "d/shot_0001.dpx".into(), // a duplicate
        ]);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let got = group(files(&names), 2);
        assert_eq!(
            describe(&got),
            vec![
                "file d/clip_01.mp4",
                "file d/clip_02.mp4",
                "seq d/frame#.png [8-12]",
                "file d/lonely_0001.tif",
                "file d/notes.txt",
                "seq d/plate.####.exr [1001-1003]",
                "seq d/shot_####.DPX [0001-0003]",
                "seq d/shot_####.dpx [0001-0005]",
                "seq d/shot_###.dpx [001-003]",
                "seq e/shot_####.dpx [0001-0003]",
            ]
        );
        let frames = &sequence(&got[2]).frames;
        assert_eq!(frames[0], (8, PathBuf::from("d/frame8.png")));
        assert_eq!(frames[4], (12, PathBuf::from("d/frame12.png")));
        // The same files in another order give the same answer.
        let mut reversed = files(&names);
        reversed.reverse();
        assert_eq!(group(reversed, 2), got);
    }

    #[test]
    fn padding_rules() {
        // Numbers without a leading zero join the fixed width they fit: 1000 and 10000
        // continue a 4-padded run.
        let got = group(
            files(&["s_0998.tif", "s_0999.tif", "s_1000.tif", "s_10000.tif"]),
            2,
        );
        assert_eq!(describe(&got), vec!["seq s_####.tif [0998-10000]"]);
        let seq = sequence(&got[0]);
        assert_eq!(seq.format_number(10000), "10000");
        for (n, p) in &seq.frames {
            let name = format!("{}{}.{}", seq.prefix, seq.format_number(*n), seq.ext);
            assert_eq!(p, &PathBuf::from(name));
        }
        // All the same length, no leading zero: that length.
        let got = group(files(&["p.1001.exr", "p.1002.exr"]), 2);
        assert_eq!(describe(&got), vec!["seq p.####.exr [1001-1002]"]);
        // Unpadded from 9 to 10.
        let got = group(files(&["f9.jpg", "f10.jpg", "f11.jpg"]), 2);
        assert_eq!(describe(&got), vec!["seq f#.jpg [9-11]"]);
        // Shorter than any fixed width: a sequence of its own.
        let got = group(
            files(&["s_0001.png", "s_0002.png", "s_7.png", "s_8.png"]),
            2,
        );
        assert_eq!(
            describe(&got),
            vec!["seq s_####.png [0001-0002]", "seq s_#.png [7-8]"]
        );
    }

    #[test]
    fn small_groups_and_other_types_stay_files() {
        // One numbered file is a still, whatever min_len says.
        for min_len in [0, 1, 2] {
            let got = group(files(&["a/shot_0001.dpx", "a/other_0002.dpx"]), min_len);
            assert_eq!(
                describe(&got),
                vec!["file a/other_0002.dpx", "file a/shot_0001.dpx"]
            );
        }
        let three = files(&["x_1.png", "x_2.png", "x_3.png"]);
        assert!(group(three.clone(), 4)
            .iter()
            .all(|i| matches!(i, Input::File(_))));
        assert_eq!(group(three, 3).len(), 1);
        let got = group(files(&["v_01.mp4", "v_02.mp4", "w_1.webp", "w_2.webp"]), 2);
        assert!(got.iter().all(|i| matches!(i, Input::File(_))));
        assert!(group(Vec::new(), 2).is_empty());
    }

    #[test]
    #[cfg(unix)]
    fn names_that_are_not_utf8_stay_files() {
        use std::os::unix::ffi::OsStrExt;
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"d/\xff_0001.dpx"));
        let odd2 = PathBuf::from(std::ffi::OsStr::from_bytes(b"d/\xff_0002.dpx"));
        let got = group(vec![odd.clone(), odd2], 2);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Input::File(odd));
    }

    #[test]
    fn gaps_names_and_paths() {
        let got = group(
            files(&[
                "/p/shot_0001.dpx",
                "/p/shot_0002.dpx",
                "/p/shot_0006.dpx",
                "/p/shot_0008.dpx",
                "/p/shot_0009.dpx",
            ]),
            2,
        );
        let seq = sequence(&got[0]);
        assert_eq!((seq.first(), seq.last(), seq.frame_count()), (1, 9, 9));
        assert_eq!(seq.gaps(), vec![(3, 5), (7, 7)]);
        assert_eq!(seq.pattern(), "shot_####.dpx");
        assert_eq!(seq.display_name(), "shot_####.dpx [0001-0009]");
        assert_eq!(seq.path(), PathBuf::from("/p/shot_####.dpx"));
        let input = &got[0];
        assert_eq!(input.path(), seq.path());
        assert_eq!(input.display_name(), "shot_####.dpx [0001-0009]");
        let file = Input::File(PathBuf::from("/p/clip.mov"));
        assert_eq!(file.display_name(), "clip.mov");
        // Serde round trip (reports and checkpoints carry inputs).
        let json = serde_json::to_string(input).unwrap();
        assert_eq!(&serde_json::from_str::<Input>(&json).unwrap(), input);
        // Odd hand-made values do not panic.
        let empty = ImageSequence {
            dir: PathBuf::new(),
            prefix: String::new(),
            digits: 0,
            ext: "exr".into(),
            frames: Vec::new(),
        };
        assert_eq!(
            (empty.first(), empty.last(), empty.frame_count()),
            (0, 0, 0)
        );
        assert!(empty.gaps().is_empty());
        assert_eq!(empty.display_name(), ".exr [0-0]");
        let unsorted = ImageSequence {
            frames: vec![(u64::MAX, PathBuf::new()), (0, PathBuf::new())],
            ..empty
        };
        assert!(unsorted.gaps().is_empty());
        assert_eq!(unsorted.frame_count(), 1);
    }

    #[test]
    fn digit_counts() {
        assert_eq!(count_digits(0), 1);
        assert_eq!(count_digits(9), 1);
        assert_eq!(count_digits(10), 2);
        assert_eq!(count_digits(u64::MAX), 20);
    }
}
