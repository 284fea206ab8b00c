//! The `--avid-markers` writer: a file's findings as the tab-separated marker list that Avid
//! Media Composer's Markers window exports and imports (Markers window, Fast menu, Import
//! Markers).
//!
//! One line per marker, six tab-separated columns, as Media Composer writes them:
//!
//! | column | here |
//! | --- | --- |
//! | name (the user who placed the marker) | `clearshot` |
//! | timecode | the finding's first frame, in the file's own timecode (`;` before the frames of a drop-frame file, as Avid shows it) |
//! | track | `V1` |
//! | colour | `red` escalate, `yellow` review, `green` info (Avid's marker colours) |
//! | comment | `who (severity): reason`, on one line, without tabs |
//! | duration | frames from the first to the last frame of the finding (a spanned marker) |
//!
//! One list per scanned file, in timecode order, LF line ends, UTF-8: Media Composer places
//! the markers on the sequence or clip loaded in the monitor, by timecode, so one list holds
//! one file's markers (`Outputs` names the files of a scan of several).

use super::markers;
use super::FileReport;
use crate::policy::Severity;
use std::fmt::Write;

/// The marker list of one file's findings (empty when it has none).
pub fn render_file(file: &FileReport) -> String {
    let mut out = String::new();
    for m in markers::of_file(file) {
        let _ = writeln!(
            out,
            "clearshot\t{}\tV1\t{}\t{}: {}\t{}",
            m.tc_in,
            colour(m.severity),
            m.label,
            m.reason,
            m.frames
        );
    }
    out
}

/// Avid's marker colour for a severity.
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Escalate => "red",
        Severity::Review => "yellow",
        Severity::Info => "green",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::fixture;

    #[test]
    fn one_line_of_six_columns_per_finding() {
        let r = fixture::report();
        let text = render_file(&r.files[0]);
        assert_eq!(
            text,
            "clearshot\t01:00:56;20\tV1\tyellow\tpossibly Zoë \"Zed\" O'Hara, Jr. (review): no \
             consent record, review | before delivery\t131\n\
             clearshot\t01:09:59;29\tV1\tgreen\t=HYPERLINK(\"x\") (info): 2 releases on file\t42\n"
        );
        let escalate = render_file(&r.files[1]);
        assert_eq!(
            escalate,
            "clearshot\t10:00:00:00\tV1\tred\tBarack Obama (escalate): consent denied: \
             written approval needed before delivery\t80\n"
        );
        assert_eq!(render_file(&r.files[2]), "");
    }

    #[test]
    fn tabs_and_line_ends_in_names_stay_out_of_the_columns() {
        let mut r = fixture::report();
        let f = &mut r.files[1];
        f.findings[0].name = "Tab\tName\r\nTwo".into();
        f.findings[0].reason = "a\tb".into();
        let text = render_file(f);
        assert_eq!(text.lines().count(), 1);
        assert_eq!(text.trim_end().split('\t').count(), 6, "{text:?}");
        assert!(text.contains("\tTab Name Two (escalate): a b\t"));
    }
}
