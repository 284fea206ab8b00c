//! The `--csv` writer: one row per finding, for spreadsheets and clearance logs.
//!
//! RFC 4180: a header row, CRLF line ends, and a field quoted (with `"` doubled) when it
//! holds a comma, a quote, CR or LF, or leading/trailing spaces. Text fields that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) get a
//! leading `'`, since file and talent names come from outside the tool.

use super::{FileReport, Finding, ScanReport};
use std::fmt::Write;

/// Column names, in order.
pub const HEADER: [&str; 13] = [
    "file",
    "shot",
    "tc_in",
    "tc_out",
    "kind",
    "name",
    "score",
    "distance",
    "severity",
    "best_frame",
    "best_tc",
    "reason",
    "decision",
];

/// Renders every finding of every scanned file as CSV (header first, CRLF line ends).
///
/// `shot` is 1-based, as in the table on stdout; `score` and `distance` have 4 decimals;
/// `file` is the path as scanned.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    push_row(&mut out, HEADER.iter().map(|h| (*h).to_string()));
    for file in &report.files {
        for finding in &file.findings {
            push_row(&mut out, row(file, finding));
        }
    }
    out
}

/// The cells of one finding's row, in [`HEADER`] order.
fn row(file: &FileReport, x: &Finding) -> [String; 13] {
    [
        text(&file.display_path()),
        (x.shot + 1).to_string(),
        x.tc_in.clone(),
        x.tc_out.clone(),
        text(&x.kind),
        text(&x.name),
        score(x, x.score),
        score(x, x.distance),
        x.severity.to_string(),
        x.best_frame.to_string(),
        x.best_tc.clone(),
        text(&x.reason),
        if x.reference.is_none() && !x.is_file_level() && x.kind != "unknown" {
            x.decision().to_string()
        } else {
            String::new()
        },
    ]
}

/// A score cell; empty for a file-level (provenance) finding, which has none.
fn score(x: &Finding, v: f32) -> String {
    if x.is_file_level() {
        String::new()
    } else {
        format!("{v:.4}")
    }
}

/// Neutralises spreadsheet formula injection in free text.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Appends one record, quoting cells as RFC 4180 requires.
fn push_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", quote(&cell));
    }
    out.push_str("\r\n");
}

/// One field, quoted when needed.
fn quote(cell: &str) -> std::borrow::Cow<'_, str> {
    let needs =
        cell.contains([',', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ');
    if needs {
        format!("\"{}\"", cell.replace('"', "\"\"")).into()
    } else {
        cell.into()
    }
}

/// A small report shared by the unit tests of the CSV, EDL and OTIO writers: a 29.97
/// drop-frame file (start 01:00:00;00) with findings across a dropped-label minute and a
/// ten-minute boundary, a 25 fps file (start 10:00:00:00) and a 23.976 file with none.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::report::ScanReport;

    const JSON: &str = r#"{
      "tool": "clearshot", "version": "0.1.0", "command_line": ["clearshot", "scan"],
      "started": "2026-01-02T03:04:05Z", "finished": "2026-01-02T03:05:00Z",
      "models": [],
      "gallery": {"path": "/g.sqlite", "state_sha256": "00", "talent": 3, "matchable": 3},
      "settings": {},
      "failures": [],
      "files": [
        {
          "path": "/media/in/interview \"A&B\", take 1.mov",
          "sha256": "ab",
          "media": {
            "path": "/media/in/interview \"A&B\", take 1.mov",
            "container": "mov", "video_codec": "prores", "width": 1920, "height": 1080,
            "frame_rate": {"num": 30000, "den": 1001}, "frame_count": 18100,
            "duration_seconds": 603.936,
            "start_timecode": {"frames": 107892, "rate": {"num": 30000, "den": 1001},
                               "drop_frame": true},
            "timecode_source": "tmcd", "is_still": false
          },
          "start_timecode": "01:00:00;00",
          "frames_decoded": 18100, "frames_sampled": 600, "shots": [], "warnings": [],
          "findings": [
            {
              "kind": "talent", "shot": 2, "name": "Zoë \"Zed\" O'Hara, Jr.",
              "identity": {"decision": "possible", "faces": 5, "nearest": 5,
                           "within_threshold": 0, "median_distance": 0.54, "spread": 0.02,
                           "margin": 0.2, "threshold": 0.5, "review_limit": 0.6},
              "consent": {"consent": "unknown", "scope": null, "expires": null},
              "severity": "review", "reason": "no consent record,\nreview | before delivery",
              "first_frame": 1700, "last_frame": 1830,
              "tc_in": "01:00:56;20", "tc_out": "01:01:01;02",
              "frames_seen": 5, "frames_matched": 5, "largest_face_px": 200,
              "distance": 0.25, "threshold": 0.5, "score": 0.75,
              "best_frame": 1760, "best_tc": "01:00:58;20", "best_box": [1, 2, 3, 4]
            },
            {
              "kind": "talent", "shot": 7, "name": "=HYPERLINK(\"x\")",
              "consent": {"consent": "granted", "scope": "all", "expires": null},
              "severity": "info", "reason": "2 releases on file",
              "first_frame": 17981, "last_frame": 18022,
              "tc_in": "01:09:59;29", "tc_out": "01:10:01;10",
              "frames_seen": 3, "frames_matched": 3, "largest_face_px": 90,
              "distance": 0.1, "threshold": 0.5, "score": 0.9,
              "best_frame": 17987, "best_tc": "01:10:00;05", "best_box": [1, 2, 3, 4]
            }
          ]
        },
        {
          "path": "/media/in/clip_25.mp4",
          "media": {
            "path": "/media/in/clip_25.mp4",
            "container": "mov", "video_codec": "h264", "width": 1920, "height": 1080,
            "frame_rate": {"num": 25, "den": 1}, "frame_count": 300, "duration_seconds": 12.0,
            "start_timecode": {"frames": 900000, "rate": {"num": 25, "den": 1},
                               "drop_frame": false},
            "timecode_source": "tmcd", "is_still": false
          },
          "start_timecode": "10:00:00:00",
          "frames_decoded": 300, "frames_sampled": 24, "shots": [], "warnings": [],
          "findings": [
            {
              "kind": "talent", "shot": 0, "name": "Barack Obama",
              "consent": {"consent": "denied", "scope": null, "expires": null},
              "severity": "escalate",
              "reason": "consent denied: written approval needed before delivery",
              "first_frame": 0, "last_frame": 79,
              "tc_in": "10:00:00:00", "tc_out": "10:00:03:04",
              "frames_seen": 8, "frames_matched": 8, "largest_face_px": 295,
              "distance": 0.3280171, "threshold": 0.5, "score": 0.6719829,
              "best_frame": 63, "best_tc": "10:00:02:13", "best_box": [852, 303, 285, 285],
              "evidence": {"frame_jpeg": "AAAA", "crop_jpeg": "AAAA", "reference_jpeg": null}
            }
          ]
        },
        {
          "path": "/media/in/empty.mov",
          "media": {
            "path": "/media/in/empty.mov",
            "container": "mov", "video_codec": "h264", "width": 640, "height": 360,
            "frame_rate": {"num": 24000, "den": 1001}, "frame_count": null,
            "duration_seconds": 2.0,
            "start_timecode": {"frames": 0, "rate": {"num": 24000, "den": 1001},
                               "drop_frame": false},
            "timecode_source": null, "is_still": false
          },
          "start_timecode": "00:00:00:00",
          "frames_decoded": 0, "frames_sampled": 4, "shots": [], "warnings": [],
          "findings": []
        }
      ]
    }"#;

    /// The report above.
    pub(crate) fn report() -> ScanReport {
        serde_json::from_str(JSON).expect("fixture report parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_finding_with_rfc4180_quoting() {
        let csv = render(&fixture::report());
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "file,shot,tc_in,tc_out,kind,name,score,distance,severity,best_frame,best_tc,reason,decision"
        );
        assert_eq!(
            lines[1],
            "\"/media/in/interview \"\"A&B\"\", take 1.mov\",3,01:00:56;20,01:01:01;02,talent,\
             \"Zoë \"\"Zed\"\" O'Hara, Jr.\",0.7500,0.2500,review,1760,01:00:58;20,\
             \"no consent record,\nreview | before delivery\",possible"
        );
        // The quoted line break stays inside the field; the record ends with CRLF.
        assert!(csv.contains("\"no consent record,\nreview | before delivery\",possible\r\n"));
        assert!(csv.contains(",talent,\"'=HYPERLINK(\"\"x\"\")\",0.9000,0.1000,info,17987,"));
        assert!(csv.ends_with(
            "/media/in/clip_25.mp4,1,10:00:00:00,10:00:03:04,talent,Barack Obama,0.6720,\
             0.3280,escalate,63,10:00:02:13,consent denied: written approval needed before \
             delivery,identified\r\n"
        ));
        assert_eq!(csv.matches("\r\n").count(), 4, "header + 3 findings");
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote(" padded"), "\" padded\"");
        assert_eq!(quote("cr\rlf"), "\"cr\rlf\"");
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("@x"), "'@x");
        assert_eq!(text("Ann"), "Ann");
    }

    #[test]
    fn empty_scan_is_just_the_header() {
        let mut r = fixture::report();
        r.files.clear();
        assert_eq!(render(&r).matches("\r\n").count(), 1);
    }
}
