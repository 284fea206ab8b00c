//! A file's findings as NLE markers, shared by the marker writers (`--edl`, `--avid-markers`):
//! where each marker goes on the file's own timecode, how long it is, what it says, and in
//! which colour.

use super::{FileReport, Finding};
use crate::policy::Severity;
use crate::timecode::{FrameIndex, Timecode};

/// One finding as a marker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marker {
    /// The finding's first frame, in the file's own timecode.
    pub tc_in: Timecode,
    /// Frames from the first to the last frame of the finding, both included.
    pub frames: u64,
    /// `who (severity)`, on one line.
    pub label: String,
    /// The finding's reason, on one line.
    pub reason: String,
    /// Severity (the marker's colour).
    pub severity: Severity,
}

/// The markers of `file`, in timecode order (findings that start on the same frame keep
/// the report's order: by shot, the most severe first, then by name).
pub(crate) fn of_file(file: &FileReport) -> Vec<Marker> {
    let mut findings: Vec<&Finding> = file.findings.iter().collect();
    findings.sort_by_key(|x| x.first_frame);
    findings
        .into_iter()
        .map(|x| Marker {
            tc_in: file_tc(file, x.first_frame),
            frames: x.last_frame.saturating_sub(x.first_frame).saturating_add(1),
            label: one_line(&format!("{} ({})", x.label(), x.severity)),
            reason: one_line(&x.reason),
            severity: x.severity,
        })
        .collect()
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

/// Text on one line: control characters (tabs, line ends) become spaces, runs of spaces
/// collapse.
pub(crate) fn one_line(s: &str) -> String {
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
    fn markers_are_in_timecode_order_with_their_frames() {
        let mut r = fixture::report();
        let file = &mut r.files[0];
        file.findings.reverse();
        let m = of_file(file);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].tc_in.to_string(), "01:00:56;20");
        assert_eq!(m[0].frames, 131);
        assert_eq!(m[0].severity, Severity::Review);
        assert_eq!(m[0].label, "possibly Zoë \"Zed\" O'Hara, Jr. (review)");
        assert_eq!(m[0].reason, "no consent record, review | before delivery");
        assert_eq!(m[1].tc_in.to_string(), "01:09:59;29");
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
    fn one_line_drops_tabs_and_line_ends() {
        assert_eq!(one_line(" a\tb\r\n c \u{7}d "), "a b c d");
    }
}
