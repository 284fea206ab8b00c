//! The compact human table printed on stdout.

use super::{FileFailure, FileReport};
use std::fmt::Write;

/// Renders one line per finding (file, shot, TC in-out, who, score, severity), a line per
/// file with no findings, and a line per failed file.
pub fn render(files: &[FileReport], failures: &[FileFailure]) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    for f in files {
        let name = f.display_name();
        if f.findings.is_empty() {
            rows.push([
                name.clone(),
                "-".into(),
                format!("{} shots", f.shots.len()),
                "nothing registered found".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for x in &f.findings {
            rows.push([
                name.clone(),
                (x.shot + 1).to_string(),
                format!("{}-{}", x.tc_in, x.tc_out),
                x.name.clone(),
                match &x.reference {
                    Some(r) => format!("{:.2} ({} inliers)", x.score, r.inliers),
                    None => format!("{:.2} (d={:.3})", x.score, x.distance),
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
                let _ = write!(s, "{:<w$}  ", c, w = width[i]);
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
