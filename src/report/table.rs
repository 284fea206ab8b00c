//! The compact human table printed on stdout.

use super::{FileFailure, FileReport};
use std::fmt::Write;

/// Renders one line per finding (file, shot, TC in-out, who, score, severity), a line per
/// file with no findings, and a line per failed file.
pub fn render(files: &[FileReport], failures: &[FileFailure]) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    for f in files {
        let name = f.display_name();
        // Unknown people get a line each below (render_report), not one per appearance.
        let findings: Vec<_> = f.findings.iter().filter(|x| x.kind != "unknown").collect();
        if findings.is_empty() {
            rows.push([
                name.clone(),
                "-".into(),
                format!("{} shots", f.shots.len()),
                "nothing registered found".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for x in findings {
            // A file's provenance: what it declares, where the score would be.
            let prov = f.provenance.as_ref().filter(|_| x.is_file_level());
            rows.push([
                name.clone(),
                (x.shot + 1).to_string(),
                format!("{}-{}", x.tc_in, x.tc_out),
                match prov {
                    Some(p) => format!("provenance: {}", p.summary()),
                    None => x.label(),
                },
                match (&x.reference, prov) {
                    (_, Some(_)) => "-".into(),
                    (Some(r), None) => format!("{:.2} ({} inliers)", x.score, r.inliers),
                    (None, None) => format!("{:.2} (d={:.3})", x.score, x.distance),
                },
                x.severity.to_string().to_uppercase(),
            ]);
        }
    }
    let head = ["FILE", "SHOT", "TC IN-OUT", "WHO", "SCORE", "SEVERITY"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                // Padded by hand: a format width above u16::MAX panics, and a cell (a name
                // from the gallery, a path from a stored report) may be longer than that.
                s.push_str(c);
                let pad = width[i].saturating_sub(c.chars().count()) + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &head);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&mut out, &cells);
    }
    for f in failures {
        let _ = writeln!(out, "FAILED  {}", f.error);
    }
    out
}

/// The table, then a line per unknown person (`scan --unknown`).
pub fn render_report(r: &super::ScanReport) -> String {
    let mut out = render(&r.files, &r.failures);
    for p in &r.unknown_people {
        let first = p.appearances.first().map_or_else(String::new, |a| {
            format!("; first {} shot {} {}", a.file_name(), a.shot + 1, a.tc_in)
        });
        let _ = writeln!(
            out,
            "UNKNOWN {}  {}, {:.1} s{first}; cohesion {:.3} (max {:.3})  REVIEW",
            p.id,
            p.extent(),
            p.seconds,
            p.cohesion.median_distance,
            p.cohesion.max_distance
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let r = crate::report::csv::fixture::report();
        let t = render(&r.files, &r.failures);
        let lines: Vec<&str> = t.lines().collect();
        let at = lines[0].find("SHOT").expect("header");
        assert!(lines[1..]
            .iter()
            .all(|l| l.chars().nth(at - 2) == Some(' ')));
        assert!(lines[3].starts_with("clip_25.mp4"), "{t}");
        assert!(
            lines[1].contains("  possibly Zoë \"Zed\" O'Hara, Jr.  "),
            "{t}"
        );
        assert_eq!(lines[3].chars().nth(at), Some('1'), "{t}");
    }

    /// A cell longer than u16::MAX characters (a name in a stored report or a gallery) made
    /// the width argument of `format!` panic.
    #[test]
    fn a_cell_longer_than_a_format_width_is_padded() {
        let mut r = crate::report::csv::fixture::report();
        let long = "x".repeat(70_000);
        r.files[1].findings[0].name = long.clone();
        let t = render(&r.files, &r.failures);
        let row = t.lines().find(|l| l.contains(&long)).expect("the long row");
        assert!(row.contains(&format!("{long}  ")), "padded after the name");
    }
}
