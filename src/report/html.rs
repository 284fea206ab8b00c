//! The report as one self-contained HTML page for a legal reviewer: chain of custody, a
//! summary per file, and one card per finding with its evidence images side by side.
//!
//! The page needs nothing beyond itself: the CSS is inline, there is no JavaScript, and the
//! images are `data:` URIs built from the report's base64 evidence. Every piece of text that
//! comes from the report (file names, person names, scopes, notes, the command line) is
//! HTML-escaped, and an evidence image is embedded only when its base64 decodes to a JPEG.

use super::{FileFailure, FileReport, Finding, ScanReport};
use crate::policy::Severity;
use std::fmt::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the page [`write`](fn@write) creates inside its directory.
pub const INDEX: &str = "index.html";

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod findings;
mod page;
mod provenance;
mod settings;
mod unknown;

use findings::findings;
use page::Page;

/// Text escaped for HTML content and attribute values.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Escapes `s` for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    Esc(s).to_string()
}

/// Renders the whole report as one HTML document.
pub fn render(report: &ScanReport) -> String {
    let mut out = Page::in_memory();
    page(&mut out, report);
    // A page in memory has nowhere to fail.
    out.finish().unwrap_or_default()
}

fn page(out: &mut Page, report: &ScanReport) {
    let title = format!("{} scan report", report.tool);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{} {}\">\n<title>{}</title>\n<style>{CSS}</style>\n\
         </head>\n<body>\n<main>\n",
        Esc(&report.tool),
        Esc(&report.version),
        Esc(&title)
    );
    header(out, report);
    custody(out, report);
    settings::section(out, &report.settings, report.gallery.references);
    files(out, &report.files, &report.failures);
    findings(out, &report.files);
    unknown::section(out, &report.unknown_people);
    footer(out, report);
    out.push_str("</main>\n</body>\n</html>\n");
}

/// Writes the page to `dir/index.html`, creating `dir` if needed, through
/// [`crate::report::write_atomic_with`], as it is rendered (evidence images are read one
/// at a time). An existing page is replaced (the CLI decides whether that is allowed).
/// Returns the page's path.
pub fn write(report: &ScanReport, dir: &Path) -> Result<PathBuf, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(INDEX);
    super::write_atomic_with(&path, |w| {
        let mut out = Page::to(w);
        page(&mut out, report);
        out.finish().map(|_| ())
    })?;
    Ok(path)
}

/// Findings of each severity.
#[derive(Default, Clone, Copy)]
struct Counts {
    escalate: usize,
    review: usize,
    info: usize,
}

impl Counts {
    fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut c = Self::default();
        for f in findings {
            match f.severity {
                Severity::Escalate => c.escalate += 1,
                Severity::Review => c.review += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }

    /// Three badges with counts.
    fn badges(self) -> String {
        [
            ("escalate", self.escalate),
            ("review", self.review),
            ("info", self.info),
        ]
        .iter()
        .map(|&(class, n)| {
            let zero = if n == 0 { " zero" } else { "" };
            format!("<span class=\"count {class}{zero}\">{n} {class}</span>")
        })
        .collect::<Vec<_>>()
        .join(" ")
    }
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Escalate => "escalate",
        Severity::Review => "review",
        Severity::Info => "info",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One argument quoted the way a POSIX shell would need it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Wall-clock length of the scan, when both times parse as RFC 3339.
fn duration(started: &str, finished: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(started, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(finished, &Rfc3339).ok()?;
    let s = (b - a).as_seconds_f64();
    Some(if s < 120.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {:02} s", (s / 60.0).floor(), (s % 60.0).floor())
    })
}

fn header(out: &mut Page, r: &ScanReport) {
    let all: Vec<&Finding> = r.files.iter().flat_map(|f| &f.findings).collect();
    let counts = Counts::of(all.iter().copied());
    let unapproved = all
        .iter()
        .filter(|f| f.severity == Severity::Escalate && f.approval.is_none())
        .count();
    let (class, verdict) = if unapproved > 0 {
        (
            "escalate",
            format!(
                "Written approval needed before delivery: {} without approval on file.",
                plural(unapproved, "finding", "findings")
            ),
        )
    } else if counts.review > 0 {
        (
            "review",
            format!(
                "{} to be reviewed by a person.",
                plural(counts.review, "finding", "findings")
            ),
        )
    } else {
        ("info", "No finding requires action.".to_string())
    };
    w!(
        out,
        "<header class=\"top\">\n<div class=\"brand\"><span class=\"tool\">{}</span> \
         <span class=\"version\">version {}</span></div>\n<h1>Likeness scan report</h1>\n\
         <p class=\"verdict {class}\">{}</p>\n",
        Esc(&r.tool),
        Esc(&r.version),
        Esc(&verdict)
    );
    if !r.failures.is_empty() {
        w!(
            out,
            "<p class=\"verdict escalate\">{} could not be scanned: {} not covered by this report.</p>\n",
            plural(r.failures.len(), "file", "files"),
            if r.failures.len() == 1 { "it is" } else { "they are" }
        );
    }
    let approved = all.iter().filter(|f| f.approval.is_some()).count();
    w!(out, "<div class=\"totals\">{}", counts.badges());
    if approved > 0 {
        w!(
            out,
            " <span class=\"count approved\">{} covered by approval</span>",
            approved
        );
    }
    w!(
        out,
        " <span class=\"files\">{} scanned</span></div>\n",
        plural(r.files.len(), "file", "files")
    );

    w!(
        out,
        "<dl class=\"meta\">\n<div><dt>Scan started</dt><dd class=\"mono\">{}</dd></div>\n\
         <div><dt>Scan finished</dt><dd class=\"mono\">{}</dd></div>\n",
        Esc(&r.started),
        Esc(&r.finished)
    );
    if let Some(d) = duration(&r.started, &r.finished) {
        w!(out, "<div><dt>Duration</dt><dd>{}</dd></div>\n", Esc(&d));
    }
    let cmd: Vec<String> = r.command_line.iter().map(|a| shell_quote(a)).collect();
    w!(
        out,
        "</dl>\n<div class=\"cmdline\"><span class=\"label\">Command line</span>\
         <code class=\"cmd\">{}</code></div>\n</header>\n",
        Esc(&cmd.join(" "))
    );
}

fn custody(out: &mut Page, r: &ScanReport) {
    out.push_str(
        "<section>\n<h2>Chain of custody</h2>\n<table class=\"grid custody\">\n\
         <thead><tr><th>Item</th><th>Identity</th><th>SHA-256</th></tr></thead>\n<tbody>\n",
    );
    for m in &r.models {
        w!(
            out,
            "<tr><td><span class=\"label\">Model</span><br>{}</td>\
             <td><strong>{}</strong><br><span class=\"muted\">{} &middot; licence {}</span></td>\
             <td class=\"hash\">{}</td></tr>\n",
            Esc(&m.role),
            Esc(&m.name),
            Esc(&m.file),
            Esc(&m.licence),
            Esc(&m.sha256)
        );
    }
    let g = &r.gallery;
    w!(
        out,
        "<tr><td><span class=\"label\">Gallery</span><br>state</td>\
         <td class=\"path\">{}<br><span class=\"muted\">{} registered, {} matchable</span></td>\
         <td class=\"hash\">{}</td></tr>\n",
        Esc(&g.path.display().to_string()),
        g.talent,
        g.matchable,
        Esc(&g.state_sha256)
    );
    for f in &r.files {
        w!(
            out,
            "<tr><td><span class=\"label\">File</span><br>scanned</td><td class=\"path\">{}</td>",
            Esc(&f.display_path())
        );
        match &f.sha256 {
            Some(h) => w!(out, "<td class=\"hash\">{}</td></tr>\n", Esc(h)),
            None => out.push_str("<td class=\"muted\">not recorded</td></tr>\n"),
        }
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn files(out: &mut Page, files: &[FileReport], failures: &[FileFailure]) {
    out.push_str("<section>\n<h2>Files</h2>\n");
    if files.is_empty() {
        out.push_str("<p class=\"muted\">No file was scanned.</p>\n");
    }
    for f in files {
        file_summary(out, f);
    }
    if !failures.is_empty() {
        out.push_str(
            "<div class=\"card failures\">\n<h3>Files that could not be scanned</h3>\n\
             <table class=\"grid\">\n<thead><tr><th>File</th><th>Cause</th></tr></thead>\n<tbody>\n",
        );
        for x in failures {
            w!(
                out,
                "<tr><td class=\"path\">{}</td><td>{}</td></tr>\n",
                Esc(&x.path.display().to_string()),
                Esc(&x.error)
            );
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    out.push_str("</section>\n");
}

fn file_summary(out: &mut Page, f: &FileReport) {
    let m = &f.media;
    w!(
        out,
        "<div class=\"card file\">\n<h3>{}</h3>\n<p class=\"path muted\">{}</p>\n\
         <dl class=\"media\">\n",
        Esc(&f.display_name()),
        Esc(&f.display_path())
    );
    let kind = if f.sequence.is_some() {
        "image sequence"
    } else if m.is_still {
        "still image"
    } else {
        "video"
    };
    w!(
        out,
        "<dt>Media</dt><dd>{}, <span class=\"mono\">{}</span> in <span class=\"mono\">{}</span></dd>\n\
         <dt>Frame size</dt><dd>{} &times; {} at {} fps</dd>\n",
        kind,
        Esc(&m.video_codec),
        Esc(&m.container),
        m.width,
        m.height,
        Esc(&m.frame_rate.to_string())
    );
    w!(
        out,
        "<dt>Start timecode</dt><dd><span class=\"mono\">{}</span>",
        Esc(&f.start_timecode)
    );
    match &m.timecode_source {
        Some(src) => w!(out, " <span class=\"muted\">({})</span>", Esc(src)),
        None => out.push_str(" <span class=\"muted\">(none in file: default)</span>"),
    }
    out.push_str("</dd>\n");
    let duration = m.duration_seconds.map_or_else(String::new, |d| {
        format!(" <span class=\"muted\">({d:.2} s)</span>")
    });
    w!(
        out,
        "<dt>Frames</dt><dd>{} decoded, {} sampled{duration}</dd>\n\
         <dt>Shots</dt><dd>{}</dd>\n\
         <dt>Findings</dt><dd>{}</dd>\n",
        f.frames_decoded,
        f.frames_sampled,
        f.shots.len(),
        Counts::of(&f.findings).badges()
    );
    if let Some(p) = &f.provenance {
        w!(out, "<dt>Provenance</dt><dd>{}</dd>\n", Esc(&p.summary()));
    }
    out.push_str("<dt>Warnings</dt><dd class=\"wide\">");
    if f.warnings.is_empty() {
        out.push_str("<span class=\"muted\">none</span>");
    } else {
        out.push_str("<ul class=\"warnings\">");
        for x in &f.warnings {
            w!(out, "<li>{}</li>", Esc(x));
        }
        out.push_str("</ul>");
    }
    out.push_str("</dd>\n</dl>\n");
    if !f.shots.is_empty() {
        out.push_str(
            "<table class=\"grid shots\">\n<thead><tr><th>Shot</th><th>TC in</th><th>TC out</th>\
             <th>Frames</th><th>Sampled</th><th>Faces seen</th><th>Unidentified faces</th>\
             </tr></thead>\n<tbody>\n",
        );
        for s in &f.shots {
            w!(
                out,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td>\
                 <td>{}&ndash;{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                s.index + 1,
                Esc(&s.tc_in),
                Esc(&s.tc_out),
                s.first_frame,
                s.last_frame,
                s.frames_sampled,
                s.faces_seen,
                s.unidentified_faces
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</div>\n");
}

fn footer(out: &mut Page, r: &ScanReport) {
    w!(
        out,
        "<section class=\"signoff\">\n<h2>Review</h2>\n<div class=\"sign\">\
         <div><span>Reviewed by</span></div><div><span>Date</span></div>\
         <div><span>Signature</span></div></div>\n</section>\n\
         <footer>Generated by {} {} from the scan started {}. This page is self-contained: \
         the evidence images are embedded and nothing is loaded from elsewhere.</footer>\n",
        Esc(&r.tool),
        Esc(&r.version),
        Esc(&r.started)
    );
}

const CSS: &str = r#"
:root{--ink:#1c2430;--muted:#5f6b7a;--line:#dfe3e8;--bg:#f3f5f8;--card:#fff;
--esc:#b42318;--esc-bg:#fef3f2;--rev:#b54708;--rev-bg:#fffaeb;--inf:#067647;--inf-bg:#ecfdf3;
--sans:"Inter","Segoe UI","Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif;
--mono:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 var(--sans)}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:26px;line-height:1.2;margin:4px 0 12px;font-weight:700;letter-spacing:-.01em}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
margin:30px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line);font-weight:700}
h3{font-size:16px;margin:0 0 4px}
code,.mono,.hash,.cmd{font-family:var(--mono);font-size:12.5px}
.muted{color:var(--muted)}
.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:22px 26px;
border-top:5px solid var(--ink)}
.brand .tool{font-weight:700;text-transform:uppercase;letter-spacing:.12em;font-size:12px}
.brand .version{color:var(--muted);font-size:12px;margin-left:6px}
.verdict{margin:8px 0;padding:9px 12px;border-radius:6px;font-weight:600}
.verdict.escalate{background:var(--esc-bg);color:var(--esc);border:1px solid #fecdca}
.verdict.review{background:var(--rev-bg);color:var(--rev);border:1px solid #fedf89}
.verdict.info{background:var(--inf-bg);color:var(--inf);border:1px solid #abefc6}
.meta{display:grid;grid-template-columns:repeat(3,max-content);gap:6px 40px;margin:18px 0 0;
padding-top:14px;border-top:1px solid var(--line)}
.meta dt,.settings dt,.cmdline .label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;
color:var(--muted);font-weight:700}
.meta dd{margin:2px 0 0}
.cmdline{margin-top:12px}
.cmdline .label{display:block;margin-bottom:4px}
.settings{display:grid;grid-template-columns:max-content 1fr;gap:10px 22px;align-items:baseline;
background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin:0}
.settings div{display:contents}
.settings dd{margin:0;overflow-wrap:anywhere}
.settings-note{font-size:12px;margin:8px 2px 0}
.media{grid-template-columns:max-content 1fr max-content 1fr;gap:6px 16px;margin:10px 0 4px}
.media .wide{grid-column:2/-1}
.totals{margin-top:12px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.totals .files{color:var(--muted);margin-left:6px}
.count{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid var(--line);white-space:nowrap}
.count.escalate{color:var(--esc);background:var(--esc-bg)}
.count.review{color:var(--rev);background:var(--rev-bg)}
.count.info{color:var(--inf);background:var(--inf-bg)}
.count.zero{color:var(--muted);background:#f8f9fb}
.count.approved{color:var(--ink);background:#f2f4f7}
table{border-collapse:collapse;width:100%}
.kv th{text-align:left;font-weight:600;color:var(--muted);width:170px;vertical-align:top;
padding:5px 12px 5px 0;white-space:nowrap}
.kv td{padding:5px 0;vertical-align:top;overflow-wrap:anywhere}
section>.kv,section>.grid{background:var(--card);border:1px solid var(--line);border-radius:10px}
section>.kv th{padding-left:16px}
section>.kv td{padding-right:16px}
section>.kv tr:first-child>*{padding-top:12px}
section>.kv tr:last-child>*{padding-bottom:12px}
.grid{font-size:13px;border-radius:10px;overflow:hidden}
.grid th{text-align:left;background:#f8f9fb;color:var(--muted);font-weight:600;font-size:12px;
padding:8px 12px;border-bottom:1px solid var(--line)}
.grid td{padding:8px 12px;border-bottom:1px solid var(--line);vertical-align:top}
.grid tr:last-child td{border-bottom:0}
.label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;font-weight:700;color:var(--muted)}
.hash,.path{overflow-wrap:anywhere;word-break:break-all}
.custody td:first-child{width:150px}
.custody td.hash{width:300px}
.cmd{display:block;white-space:pre-wrap;word-break:break-all;background:#f6f7f9;
border:1px solid var(--line);border-radius:6px;padding:6px 9px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;
margin:0 0 16px;break-inside:avoid;page-break-inside:avoid}
.card .kv{margin:8px 0}
.card .grid{border:1px solid var(--line);margin-top:10px}
.file .path{margin:0 0 6px;font-size:12.5px;font-family:var(--mono)}
.warnings{margin:0;padding-left:18px;color:var(--rev)}
.failures h3{color:var(--esc)}
.none{color:var(--muted);background:var(--card);border:1px dashed var(--line);border-radius:10px;
padding:12px 16px}
.finding{border-left:6px solid var(--line)}
.finding.escalate{border-left-color:var(--esc)}
.finding.review{border-left-color:var(--rev)}
.finding.info{border-left-color:var(--inf)}
.card-head{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.card-head .who{font-size:19px;margin:0}
.card-head .kind{font-size:11px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
border:1px solid var(--line);border-radius:4px;padding:1px 6px}
.card-head .where{margin-left:auto;color:var(--muted);font-size:13px}
.badge{display:inline-block;padding:4px 10px;border-radius:5px;color:#fff;font-size:11px;
font-weight:700;text-transform:uppercase;letter-spacing:.08em}
.badge.escalate{background:var(--esc)}
.badge.review{background:#dc6803}
.badge.info{background:var(--inf)}
.reason{margin:10px 0 12px;padding:8px 12px;background:#f8f9fb;border-radius:6px}
.finding.escalate .reason{background:var(--esc-bg)}
.finding.review .reason{background:var(--rev-bg)}
.facts{display:grid;grid-template-columns:3fr 2fr;gap:22px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0;align-content:start}
dt{color:var(--muted);font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
.consent{border-left:1px solid var(--line);padding-left:20px}
.state{font-weight:700;text-transform:uppercase;font-size:12px;letter-spacing:.06em}
.state.granted{color:var(--inf)}
.state.denied{color:var(--esc)}
.state.unknown{color:var(--rev)}
.missing{color:var(--esc);font-weight:600}
.approved{color:var(--inf);font-weight:700}
.note{color:var(--muted)}
.evidence{display:grid;grid-template-columns:2fr 1fr 1fr;gap:14px;margin-top:16px;align-items:start}
.appearances{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;margin-top:14px;align-items:start}
.appearances img,.appearances .noimg{aspect-ratio:1/1;object-fit:contain}
figure{margin:0;break-inside:avoid}
figure img,.noimg{display:block;width:100%;border:1px solid var(--line);border-radius:6px;background:#0f1319}
.crop img,.reference img,.crop .noimg,.reference .noimg{aspect-ratio:1/1;object-fit:contain}
.noimg{aspect-ratio:1/1;display:flex;align-items:center;justify-content:center;text-align:center;
padding:12px;background:#f8f9fb;border-style:dashed;color:var(--muted);font-size:12.5px}
.frame .noimg{aspect-ratio:16/9}
figcaption{font-size:12px;color:var(--muted);margin-top:6px}
figcaption strong{color:var(--ink);display:block;font-size:12px}
.signoff .sign{display:grid;grid-template-columns:2fr 1fr 2fr;gap:28px;background:var(--card);
border:1px solid var(--line);border-radius:10px;padding:40px 22px 16px}
.sign div{border-top:1px solid var(--ink);padding-top:4px;font-size:12px;color:var(--muted)}
footer{margin-top:26px;color:var(--muted);font-size:12px;text-align:center}
@page{size:A4;margin:14mm}
@media print{
body{background:#fff;font-size:11.5px}
main{max-width:none;padding:0}
.top,.card,section>.kv,section>.grid,.signoff .sign{border-color:#c9ced6}
.card,.top,tr,figure,.signoff{break-inside:avoid;page-break-inside:avoid}
h2,h3{break-after:avoid;page-break-after:avoid}
.badge,.count,.verdict,.finding,.reason,figure img{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.facts{grid-template-columns:3fr 2fr}
.evidence{grid-template-columns:2fr 1fr 1fr}
.card{padding:12px 16px}
}
@media screen and (max-width:760px){.facts,.evidence{grid-template-columns:1fr}.consent{border:0;padding:0}
.card-head .where{margin-left:0}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_possible_match_says_so_with_its_evidence() {
        let page = render(&crate::report::csv::fixture::report());
        assert!(
            page.contains("<h3 class=\"who\">possibly Zoë &quot;Zed&quot;"),
            "who"
        );
        assert!(page.contains("talent: possible match"));
        assert!(page.contains("possible match: confirm who this is"));
        assert!(page.contains("5 of 5 faces nearest to this person, 0 within the threshold"));
        // An identified finding says identified only when it carries the evidence.
        assert_eq!(page.matches("<dt>Identity</dt>").count(), 1);
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b a="1">O'Neil & co</b>"#),
            "&lt;b a=&quot;1&quot;&gt;O&#39;Neil &amp; co&lt;/b&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("/a/b.mp4"), "/a/b.mp4");
        assert_eq!(shell_quote("my clip.mp4"), "'my clip.mp4'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn duration_reads_rfc3339() {
        assert_eq!(
            duration("2026-11-22T02:05:17.9Z", "2026-11-22T02:05:26.9Z").as_deref(),
            Some("9.0 s")
        );
        assert_eq!(duration("yesterday", "today"), None);
    }
}
