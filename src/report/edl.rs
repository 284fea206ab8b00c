//! The `--edl` writer: a CMX 3600 EDL whose events carry the findings as markers for
//! DaVinci Resolve and locators for Avid Media Composer.
//!
//! Choices (an EDL has one title, one track and no per-file sections):
//! - One EDL per scan. Events follow the report: file by file, each file's findings in
//!   order, numbered `001`..`999` and then `1000`, `1001`, ... (the number simply widens;
//!   CMX 3600 itself stops at 999, so very large scans may need `--otio` or splitting).
//! - Each event is one finding at the file's own timecode (start timecode + frame index):
//!   source in/out equals record in/out, `tc_in` to `tc_out` + 1 frame. Events may overlap
//!   (two people in a shot, files sharing timecode): this is a marker list, not a cut list.
//! - Reel `AX` (auxiliary source: the 8-character reel cannot hold a file name); the file
//!   name goes on `* FROM CLIP NAME:`.
//! - `FCM: DROP FRAME` and `HH:MM:SS;FF` for drop-frame files, `FCM: NON-DROP FRAME` and
//!   `HH:MM:SS:FF` otherwise; when a scan mixes the two, an `FCM:` line precedes the first
//!   event that changes mode. The frame rate itself is not in an EDL: import into a
//!   timeline at the file's rate.
//! - Marker lines, right after the event line, in the form Resolve writes ("Timeline
//!   Markers to EDL"): `<reason> |C:ResolveColor<Colour> |M:<who> (<severity>) |D:<frames>`,
//!   then Avid's `* LOC: <tc in> <COLOUR> <who> (<severity>): <reason>`. Colour by
//!   severity: escalate red, review yellow, info green (the same names in both).
//! - Text is made EDL-safe: one line, no `|`, and a marker note never starts with a digit
//!   or `*` (it would read as an event or a comment).

use super::{FileReport, Finding, ScanReport};
use crate::policy::Severity;
use crate::timecode::{FrameIndex, Timecode};
use std::fmt::Write;

/// Longest title CMX 3600 readers accept.
const TITLE_MAX: usize = 70;

/// Renders all findings of a scan as one CMX 3600 EDL (LF line ends).
pub fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "TITLE: {}", title(report));
    let mut drop_frame = report
        .files
        .iter()
        .find(|f| !f.findings.is_empty())
        .or(report.files.first())
        .is_some_and(|f| f.media.start_timecode.drop_frame);
    let _ = writeln!(out, "{}", fcm(drop_frame));
    let mut number = 0usize;
    for file in &report.files {
        for finding in &file.findings {
            number += 1;
            out.push('\n');
            let df = file.media.start_timecode.drop_frame;
            if df != drop_frame {
                drop_frame = df;
                let _ = writeln!(out, "{}", fcm(drop_frame));
            }
            push_event(&mut out, number, file, finding);
        }
    }
    out
}

/// One event: the event line, Resolve's marker line, the clip name and Avid's locator.
fn push_event(out: &mut String, number: usize, file: &FileReport, x: &Finding) {
    let tc_in = file_tc(file, x.first_frame);
    let tc_out = file_tc(file, x.last_frame.saturating_add(1));
    let frames = x.last_frame.saturating_sub(x.first_frame).saturating_add(1);
    let label = one_line(&format!("{} ({})", x.label(), x.severity)).replace('|', "/");
    let (resolve, avid) = colours(x.severity);
    let reason = one_line(&x.reason).replace('|', "/");
    let note = if reason.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
        format!("- {reason}")
    } else {
        reason.clone()
    };
    let _ = writeln!(
        out,
        "{number:03}  {reel:<8} V     C        {tc_in} {tc_out} {tc_in} {tc_out}",
        reel = "AX"
    );
    let _ = writeln!(out, "{note} |C:{resolve} |M:{label} |D:{frames}");
    let _ = writeln!(out, "* FROM CLIP NAME:  {}", one_line(&file_name(file)));
    let _ = writeln!(out, "* LOC: {tc_in} {avid:<7} {label}: {reason}");
}

/// The title line's text: the file name for a one-file scan, else a count.
fn title(report: &ScanReport) -> String {
    let t = match report.files.as_slice() {
        [one] => format!("clearshot {}", file_name(one)),
        files => format!("clearshot {} files", files.len()),
    };
    one_line(&t).chars().take(TITLE_MAX).collect()
}

/// The frame-code-mode line.
fn fcm(drop_frame: bool) -> &'static str {
    if drop_frame {
        "FCM: DROP FRAME"
    } else {
        "FCM: NON-DROP FRAME"
    }
}

/// Resolve's and Avid's colour names for a severity.
fn colours(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Escalate => ("ResolveColorRed", "RED"),
        Severity::Review => ("ResolveColorYellow", "YELLOW"),
        Severity::Info => ("ResolveColorGreen", "GREEN"),
    }
}

/// The timecode of a frame of `file`: its start timecode moved on by `frame`, in the
/// file's counting (drop-frame or not).
pub(crate) fn file_tc(file: &FileReport, frame: FrameIndex) -> Timecode {
    let start = file.media.start_timecode;
    Timecode {
        frames: start.frames.saturating_add(frame),
        ..start
    }
}

/// The file's name without its folder (the whole path when it has no name).
fn file_name(file: &FileReport) -> String {
    file.display_name()
}

/// Text on one line: control characters become spaces, runs of spaces collapse.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::fixture;

    #[test]
    fn demo_like_25fps_event_and_markers() {
        let mut r = fixture::report();
        r.files.retain(|f| f.path.ends_with("clip_25.mp4"));
        let edl = render(&r);
        assert_eq!(
            edl,
            "TITLE: clearshot clip_25.mp4\n\
             FCM: NON-DROP FRAME\n\
             \n\
             001  AX       V     C        10:00:00:00 10:00:03:05 10:00:00:00 10:00:03:05\n\
             consent denied: written approval needed before delivery |C:ResolveColorRed \
             |M:Barack Obama (escalate) |D:80\n\
             * FROM CLIP NAME:  clip_25.mp4\n\
             * LOC: 10:00:00:00 RED     Barack Obama (escalate): consent denied: written \
             approval needed before delivery\n"
        );
    }

    #[test]
    fn drop_frame_events_use_semicolons_and_switch_fcm() {
        let edl = render(&fixture::report());
        let lines: Vec<&str> = edl.lines().collect();
        assert_eq!(lines[0], "TITLE: clearshot 3 files");
        assert_eq!(lines[1], "FCM: DROP FRAME");
        // 01:00:56;20 + 131 frames crosses 01:01:00, whose labels ;00 and ;01 do not exist.
        assert_eq!(
            lines[3],
            "001  AX       V     C        01:00:56;20 01:01:01;03 01:00:56;20 01:01:01;03"
        );
        assert!(edl.contains(
            "no consent record, review / before delivery |C:ResolveColorYellow \
             |M:possibly Zoë \"Zed\" O'Hara, Jr. (review) |D:131\n"
        ));
        assert!(edl.contains("* FROM CLIP NAME:  interview \"A&B\", take 1.mov\n"));
        assert!(edl.contains(
            "* LOC: 01:00:56;20 YELLOW  possibly Zoë \"Zed\" O'Hara, Jr. (review): no consent \
             record, review / before delivery\n"
        ));
        assert!(edl.contains("* LOC: 01:09:59;29 GREEN   =HYPERLINK(\"x\") (info): 2 releases"));
        // Across the ten-minute mark nothing is dropped.
        assert!(edl.contains(
            "002  AX       V     C        01:09:59;29 01:10:01;11 01:09:59;29 01:10:01;11\n\
             - 2 releases on file |C:ResolveColorGreen"
        ));
        assert!(edl.contains("\nFCM: NON-DROP FRAME\n003  AX       V     C        10:00:00:00"));
        assert_eq!(edl.matches("FCM:").count(), 2);
    }

    #[test]
    fn computed_timecode_matches_the_reported_text() {
        let r = fixture::report();
        for file in &r.files {
            for x in &file.findings {
                assert_eq!(file_tc(file, x.first_frame).to_string(), x.tc_in);
                assert_eq!(file_tc(file, x.last_frame).to_string(), x.tc_out);
                assert_eq!(file_tc(file, x.best_frame).to_string(), x.best_tc);
            }
        }
    }

    #[test]
    fn every_line_is_one_a_reader_expects() {
        let edl = render(&fixture::report());
        for line in edl.lines().filter(|l| !l.is_empty()) {
            let ok = line.starts_with("TITLE: ")
                || line.starts_with("FCM: ")
                || line.starts_with("* ")
                || line.starts_with(|c: char| c.is_ascii_digit())
                    && line.split_whitespace().count() == 8
                || !line.starts_with(|c: char| c.is_ascii_digit())
                    && line.matches('|').count() == 3
                    && line.contains(" |C:ResolveColor");
            assert!(ok, "unexpected EDL line: {line:?}");
        }
    }

    #[test]
    fn numbering_widens_past_999() {
        let mut r = fixture::report();
        r.files.retain(|f| f.path.ends_with("clip_25.mp4"));
        let one = r.files[0].findings[0].clone();
        r.files[0].findings = vec![one; 1001];
        let edl = render(&r);
        assert!(edl.contains("\n999  AX       V"));
        assert!(edl.contains("\n1000  AX       V"));
        assert!(edl.contains("\n1001  AX       V"));
    }

    #[test]
    fn no_findings_gives_a_header_only() {
        let mut r = fixture::report();
        r.files.retain(|f| f.findings.is_empty());
        assert_eq!(
            render(&r),
            "TITLE: clearshot empty.mov\nFCM: NON-DROP FRAME\n"
        );
    }
}
