//! The `--edl` writer: a file's findings as a marker-list EDL, the form DaVinci Resolve
//! writes for "Timeline Markers to EDL" and reads back as timeline markers, with Avid Media
//! Composer's `* LOC:` locator on each event.
//!
//! Resolve's marker list is a CMX 3600 EDL with one event per marker: a one-frame cut at the
//! marker's timecode (source and record alike), then one line `<note> |C:<colour> |M:<name>
//! |D:<duration in frames>`. Choices:
//! - One EDL per scanned file ([`render`]): record time is one timeline, and two files'
//!   timecodes cannot share it (`Outputs` names the files).
//! - Events are sorted by timecode and never overlap, so strict readers (the
//!   `otio-cmx3600-adapter`, conform tools) accept the list. Resolve keeps one marker per
//!   frame, so it never writes two at one frame; a finding that starts on the same frame as
//!   the one before (two people in one shot) takes the next free frame of record time. Its
//!   source timecode and its `* LOC:` keep the finding's own frame, and its note says where
//!   it starts. Every finding arrives as its own marker.
//! - Reel `AX` (an auxiliary source: the 8-character reel cannot hold a file name); the file
//!   name goes on `* FROM CLIP NAME:`.
//! - `FCM: DROP FRAME` and `HH:MM:SS;FF` on the event lines of a drop-frame file,
//!   `FCM: NON-DROP FRAME` and `HH:MM:SS:FF` otherwise. The `* LOC:` timecode is written
//!   with colons in both (the FCM line says how to count): the locator readers in use (the
//!   OTIO adapter among them) only take `HH:MM:SS:FF` there. The frame rate itself is not in
//!   an EDL: import onto a timeline at the file's rate, starting at the file's timecode.
//! - Colour by severity: escalate red, review yellow, info green (`ResolveColorRed` ... for
//!   Resolve, `RED` ... for Avid).
//! - Text is made EDL-safe: one line, no `|`, and a note never starts with a digit, `*` or a
//!   capital letter (it would read as an event, a comment or a keyword such as `LOC`).

use super::markers::{self, Marker};
use super::{FileReport, ScanReport};
use crate::policy::Severity;
use crate::timecode::Timecode;
use std::fmt::Write;

/// Longest title CMX 3600 readers accept.
const TITLE_MAX: usize = 70;

/// One EDL per scanned file, in report order.
pub fn render(report: &ScanReport) -> Vec<String> {
    report.files.iter().map(render_file).collect()
}

/// The EDL of one file's findings (LF line ends).
pub fn render_file(file: &FileReport) -> String {
    let drop_frame = file.media.start_timecode.drop_frame;
    let mut out = header(&format!("clearshot {}", file.display_name()), drop_frame);
    // Record time of the last event: the next one starts after it.
    let mut last_record: Option<u64> = None;
    for (i, m) in markers::of_file(file).iter().enumerate() {
        let record = match last_record {
            Some(r) if r >= m.tc_in.frames => r.saturating_add(1),
            _ => m.tc_in.frames,
        };
        last_record = Some(record);
        out.push('\n');
        push_event(&mut out, i + 1, file, m, record);
    }
    out
}

/// The EDL of a scan that scanned no file: the header only.
pub fn render_none() -> String {
    header("clearshot (no file scanned)", false)
}

fn header(title: &str, drop_frame: bool) -> String {
    let title: String = markers::one_line(title).chars().take(TITLE_MAX).collect();
    let fcm = if drop_frame {
        "FCM: DROP FRAME"
    } else {
        "FCM: NON-DROP FRAME"
    };
    format!("TITLE: {title}\n{fcm}\n")
}

/// One event: the event line, Resolve's marker line, the clip name and Avid's locator.
/// `record` is the frame the event takes in record time (the marker's own, or the next free
/// one when an earlier marker holds it).
fn push_event(out: &mut String, number: usize, file: &FileReport, m: &Marker, record: u64) {
    let src_in = m.tc_in;
    let src_out = src_in.add_frames(1);
    let rec_in = Timecode {
        frames: record,
        ..src_in
    };
    let rec_out = rec_in.add_frames(1);
    let label = m.label.replace('|', "/");
    let reason = m.reason.replace('|', "/");
    let (resolve, avid) = colours(m.severity);
    let mut note =
        if reason.starts_with(|c: char| c.is_ascii_digit() || c.is_uppercase() || c == '*') {
            format!("- {reason}")
        } else {
            reason.clone()
        };
    if record != src_in.frames {
        let _ = write!(note, " (starts at {src_in})");
    }
    let _ = writeln!(
        out,
        "{number:03}  {reel:<8} V     C        {src_in} {src_out} {rec_in} {rec_out}",
        reel = "AX"
    );
    let _ = writeln!(out, "{note} |C:{resolve} |M:{label} |D:{}", m.frames);
    let _ = writeln!(
        out,
        "* FROM CLIP NAME:  {}",
        markers::one_line(&file.display_name())
    );
    let _ = writeln!(
        out,
        "* LOC: {} {avid:<7} {label}: {reason}",
        src_in.to_string().replace(';', ":")
    );
}

/// Resolve's and Avid's colour names for a severity.
fn colours(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Escalate => ("ResolveColorRed", "RED"),
        Severity::Review => ("ResolveColorYellow", "YELLOW"),
        Severity::Info => ("ResolveColorGreen", "GREEN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::fixture;

    /// The fixture's file named `name`.
    fn file(name: &str) -> FileReport {
        let r = fixture::report();
        let f = r
            .files
            .iter()
            .find(|f| f.path.to_string_lossy().ends_with(name));
        f.cloned().expect("fixture file")
    }

    #[test]
    fn demo_like_25fps_event_and_markers() {
        assert_eq!(
            render_file(&file("clip_25.mp4")),
            "TITLE: clearshot clip_25.mp4\n\
             FCM: NON-DROP FRAME\n\
             \n\
             001  AX       V     C        10:00:00:00 10:00:00:01 10:00:00:00 10:00:00:01\n\
             consent denied: written approval needed before delivery |C:ResolveColorRed \
             |M:Barack Obama (escalate) |D:80\n\
             * FROM CLIP NAME:  clip_25.mp4\n\
             * LOC: 10:00:00:00 RED     Barack Obama (escalate): consent denied: written \
             approval needed before delivery\n"
        );
    }

    #[test]
    fn drop_frame_events_use_semicolons_and_locators_colons() {
        let edl = render_file(&file("take 1.mov"));
        let lines: Vec<&str> = edl.lines().collect();
        assert_eq!(lines[0], "TITLE: clearshot interview \"A&B\", take 1.mov");
        assert_eq!(lines[1], "FCM: DROP FRAME");
        assert_eq!(
            lines[3],
            "001  AX       V     C        01:00:56;20 01:00:56;21 01:00:56;20 01:00:56;21"
        );
        assert_eq!(
            lines[4],
            "no consent record, review / before delivery |C:ResolveColorYellow \
             |M:possibly Zoë \"Zed\" O'Hara, Jr. (review) |D:131"
        );
        assert_eq!(lines[5], "* FROM CLIP NAME:  interview \"A&B\", take 1.mov");
        assert_eq!(
            lines[6],
            "* LOC: 01:00:56:20 YELLOW  possibly Zoë \"Zed\" O'Hara, Jr. (review): no consent \
             record, review / before delivery"
        );
        // The last label before the ten-minute mark, one frame on: nothing is dropped there.
        assert_eq!(
            lines[8],
            "002  AX       V     C        01:09:59;29 01:10:00;00 01:09:59;29 01:10:00;00"
        );
        assert_eq!(
            lines[9],
            "- 2 releases on file |C:ResolveColorGreen |M:=HYPERLINK(\"x\") (info) |D:42"
        );
        assert_eq!(
            lines[11],
            "* LOC: 01:09:59:29 GREEN   =HYPERLINK(\"x\") (info): 2 releases on file"
        );
        assert_eq!(lines.len(), 12);
    }

    #[test]
    fn a_minute_without_its_first_labels_is_counted_in_drop_frame() {
        let mut f = file("take 1.mov");
        f.findings.truncate(1);
        // 01:00:59;29 + 1 frame is 01:01:00;02 (;00 and ;01 do not exist).
        f.findings[0].first_frame = 1799;
        let edl = render_file(&f);
        assert!(
            edl.contains("01:00:59;29 01:01:00;02 01:00:59;29 01:01:00;02\n"),
            "{edl}"
        );
        assert!(edl.contains("* LOC: 01:00:59:29 YELLOW "), "{edl}");
    }

    #[test]
    fn findings_on_one_frame_take_consecutive_record_frames() {
        let mut f = file("clip_25.mp4");
        let first = f.findings[0].clone();
        let mut later = first.clone();
        later.name = "Joe Biden".into();
        later.first_frame = 1;
        let mut same = first.clone();
        same.name = "Kamala Harris".into();
        // Report order is by shot, not by frame: the writer sorts by timecode.
        f.findings = vec![later, first, same];
        let edl = render_file(&f);
        let events: Vec<&str> = edl.lines().filter(|l| l.contains(" AX ")).collect();
        assert_eq!(
            events,
            [
                "001  AX       V     C        10:00:00:00 10:00:00:01 10:00:00:00 10:00:00:01",
                "002  AX       V     C        10:00:00:00 10:00:00:01 10:00:00:01 10:00:00:02",
                "003  AX       V     C        10:00:00:01 10:00:00:02 10:00:00:02 10:00:00:03",
            ]
        );
        assert!(edl.contains("(starts at 10:00:00:00) |C:ResolveColorRed |M:Kamala Harris"));
        assert!(edl.contains("(starts at 10:00:00:01) |C:ResolveColorRed |M:Joe Biden"));
        // Each keeps its own locator.
        assert!(edl.contains("* LOC: 10:00:00:00 RED     Kamala Harris (escalate)"));
        assert!(edl.contains("* LOC: 10:00:00:01 RED     Joe Biden (escalate)"));
    }

    #[test]
    fn every_line_is_one_a_reader_expects() {
        for edl in render(&fixture::report()) {
            for line in edl.lines().filter(|l| !l.is_empty()) {
                let ok = line.starts_with("TITLE: ")
                    || line.starts_with("FCM: ")
                    || line.starts_with("* FROM CLIP NAME:  ")
                    || line.starts_with("* LOC: ")
                        && line
                            .as_bytes()
                            .get(7..18)
                            .is_some_and(|tc| tc.iter().all(|b| b.is_ascii_digit() || *b == b':'))
                    || line.starts_with(|c: char| c.is_ascii_digit())
                        && line.split_whitespace().count() == 8
                    || !line.starts_with(|c: char| c.is_ascii_digit() || c.is_uppercase())
                        && line.matches('|').count() == 3
                        && line.contains(" |C:ResolveColor");
                assert!(ok, "unexpected EDL line: {line:?}");
            }
        }
    }

    #[test]
    fn a_note_never_reads_as_a_keyword() {
        let mut f = file("clip_25.mp4");
        f.findings[0].reason = "LOC: 1 | 2".into();
        let edl = render_file(&f);
        assert!(edl.contains("\n- LOC: 1 / 2 |C:ResolveColorRed"), "{edl}");
    }

    #[test]
    fn numbering_widens_past_999() {
        let mut f = file("clip_25.mp4");
        let one = f.findings[0].clone();
        f.findings = vec![one; 1001];
        let edl = render_file(&f);
        assert!(edl.contains("\n999  AX       V"));
        assert!(edl.contains("\n1000  AX       V"));
        // The 1001st marker sits 1000 frames (40 s) after the first in record time.
        assert!(edl.contains(
            "\n1001  AX       V     C        10:00:00:00 10:00:00:01 10:00:40:00 10:00:40:01\n"
        ));
    }

    #[test]
    fn no_findings_gives_a_header_only() {
        assert_eq!(
            render_file(&file("empty.mov")),
            "TITLE: clearshot empty.mov\nFCM: NON-DROP FRAME\n"
        );
        assert_eq!(
            render_none(),
            "TITLE: clearshot (no file scanned)\nFCM: NON-DROP FRAME\n"
        );
        assert_eq!(render(&fixture::report()).len(), 3);
    }
}
