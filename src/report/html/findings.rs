//! The findings section: one card per finding, with who or what was found, the rights and
//! approval behind it, and its evidence images side by side.

use super::{escape, provenance, severity_class, Esc, Page};
use crate::evidence::{Evidence, Jpeg};
use crate::gallery::Consent;
use crate::policy::Severity;
use crate::report::{FileReport, Finding};
use base64::Engine;
use std::fmt::Write;

pub(super) fn findings(out: &mut Page, files: &[FileReport]) {
    out.push_str("<section>\n<h2>Findings</h2>\n");
    if files.is_empty() {
        out.push_str("<p class=\"muted\">No file was scanned.</p>\n");
    }
    for f in files {
        if f.findings.iter().all(|x| x.kind == "unknown") {
            w!(
                out,
                "<p class=\"none\">{}: no registered talent or reference found.</p>\n",
                Esc(&f.display_name())
            );
        }
        // Unknown people's appearances have their own section, a card per person.
        for x in f.findings.iter().filter(|x| x.kind != "unknown") {
            card(out, f, x);
        }
    }
    out.push_str("</section>\n");
}

fn card(out: &mut Page, file: &FileReport, x: &Finding) {
    if x.is_file_level() {
        return provenance::card(out, file, x);
    }
    let sev = severity_class(x.severity);
    let talent = x.kind == "talent";
    w!(
        out,
        "<article class=\"card finding {sev}\" data-severity=\"{sev}\" data-name=\"{}\">\n\
         <div class=\"card-head\">\n<span class=\"badge {sev}\">{sev}</span>\n\
         <h3 class=\"who\">{}</h3>\n<span class=\"kind\">{}</span>\n\
         <span class=\"where\">{} &middot; shot {} &middot; <span class=\"mono\">{} &ndash; {}</span></span>\n\
         </div>\n<p class=\"reason\"><strong>Reason:</strong> {}</p>\n<div class=\"facts\">\n<dl>\n",
        Esc(&x.name),
        Esc(&x.label()),
        Esc(&if x.is_possible() {
            "talent: possible match".to_string()
        } else {
            x.kind.clone()
        }),
        Esc(&file.display_name()),
        x.shot + 1,
        Esc(&x.tc_in),
        Esc(&x.tc_out),
        Esc(&x.reason)
    );
    w!(
        out,
        "<dt>Shot</dt><dd>{} <span class=\"muted\">(frames {}&ndash;{})</span></dd>\n\
         <dt>TC in &ndash; out</dt><dd class=\"mono\">{} &ndash; {}</dd>\n\
         <dt>Best match</dt><dd><span class=\"mono\">{}</span> <span class=\"muted\">(frame {})</span></dd>\n\
         <dt>Frames seen</dt><dd>{} <span class=\"muted\">({} matched)</span></dd>\n\
         <dt>{}</dt><dd>{} px</dd>\n\
         <dt>Score</dt><dd><strong>{:.3}</strong> <span class=\"muted\">(1 identical, 0.5 at the threshold)</span></dd>\n\
         <dt>Distance</dt><dd>{:.4} <span class=\"muted\">(threshold {:.4}; lower is closer)</span></dd>\n\
         </dl>\n",
        x.shot + 1,
        x.first_frame,
        x.last_frame,
        Esc(&x.tc_in),
        Esc(&x.tc_out),
        Esc(&x.best_tc),
        x.best_frame,
        x.frames_seen,
        x.frames_matched,
        if talent { "Largest face" } else { "Largest region" },
        x.largest_face_px,
        x.score,
        x.distance,
        x.threshold
    );
    if let Some(id) = &x.identity {
        w!(
            out,
            "<dl class=\"identity\">\n<dt>Identity</dt><dd><strong>{}</strong> \
             <span class=\"muted\">(review band up to distance {:.2})</span></dd>\n\
             <dt>Evidence</dt><dd>{}</dd>\n</dl>\n",
            if id.decision == crate::face::track::Decision::Possible {
                "possible match: confirm who this is"
            } else {
                "identified"
            },
            id.review_limit,
            Esc(&id.summary())
        );
    }
    rights(out, x);
    approval(out, x);
    out.push_str("</div>\n");
    evidence(out, x, talent);
    out.push_str("</article>\n");
}

/// The content of the open Approval cell, and the end of its list.
pub(super) fn approval(out: &mut Page, x: &Finding) {
    match &x.approval {
        Some(a) => {
            w!(
                out,
                "<span class=\"approved\">on file</span> <span class=\"mono\">{}</span>\
                 <br><span class=\"note\">covers {}, {}</span>",
                Esc(&a.reference),
                a.file.as_deref().map_or_else(|| "all files".into(), escape),
                match (&a.from, &a.to) {
                    (None, None) => "the whole file".to_string(),
                    (f, t) => format!(
                        "{} &ndash; {}",
                        f.as_deref().map_or_else(|| "start".into(), escape),
                        t.as_deref().map_or_else(|| "end".into(), escape)
                    ),
                }
            );
            if let Some(n) = a.note.as_deref().filter(|n| !n.is_empty()) {
                w!(out, "<br><span class=\"note\">{}</span>", Esc(n));
            }
        }
        None if x.severity == Severity::Escalate => {
            out.push_str("<span class=\"missing\">none on file &mdash; required</span>")
        }
        None => out.push_str("<span class=\"muted\">none on file</span>"),
    }
    out.push_str("</dd>\n</dl>\n");
}

/// The consent block of a talent finding, or the rights block of a reference finding,
/// up to the open Approval cell.
fn rights(out: &mut Page, x: &Finding) {
    let na = || "<span class=\"muted\">not stated</span>".to_string();
    if let Some(r) = &x.reference {
        let status = r.record.status.to_string();
        w!(
            out,
            "<dl class=\"consent\">\n<dt>Rights</dt><dd><span class=\"state {}\">{}</span></dd>\n\
             <dt>Owner</dt><dd>{}</dd>\n<dt>Kind</dt><dd>{}</dd>\n<dt>Licence</dt><dd>{}</dd>\n\
             <dt>Verified</dt><dd>{} inliers{} <span class=\"muted\">({})</span></dd>\n\
             <dt>On screen</dt><dd>{:.1} s, {} <span class=\"muted\">(up to {:.1}% of the frame)</span></dd>\n",
            if status == "third-party" { "denied" } else { "granted" },
            Esc(&status),
            Esc(&r.record.owner),
            Esc(&r.record.kind),
            r.record.licence_ref.as_deref().map_or_else(na, escape),
            r.inliers,
            r.cosine.map_or_else(String::new, |c| format!(", cosine {c:.2}")),
            match r.stage {
                crate::references::Stage::Keypoints => "keypoints on the whole frame",
                crate::references::Stage::Tile => "learned tile proposal, keypoints inside it",
                crate::references::Stage::Followed => {
                    "keypoints where the shot's last search found it"
                }
            },
            r.screen_time_s,
            Esc(&r.prominence),
            100.0 * r.max_frame_share
        );
        if !r.same_region.is_empty() {
            out.push_str("<dt>Same region</dt><dd>");
            for (i, o) in r.same_region.iter().enumerate() {
                w!(
                    out,
                    "{}{} <span class=\"muted\">({})</span>",
                    if i > 0 { ", " } else { "" },
                    Esc(&o.name),
                    Esc(&o.status.to_string())
                );
            }
            out.push_str("</dd>\n");
        }
        out.push_str("<dt>Approval</dt><dd>");
        return;
    }
    let (consent, scope, expires) = match &x.consent {
        Some(c) => (
            match c.consent {
                Consent::Granted => "granted",
                Consent::Denied => "denied",
                Consent::Unknown => "unknown",
            },
            c.scope.as_deref().map_or_else(na, escape),
            c.expires.as_deref().map_or_else(
                || "<span class=\"muted\">no expiry set</span>".into(),
                escape,
            ),
        ),
        None => ("unknown", na(), na()),
    };
    w!(
        out,
        "<dl class=\"consent\">\n<dt>Consent</dt><dd><span class=\"state {consent}\">{consent}</span></dd>\n\
         <dt>Scope</dt><dd>{scope}</dd>\n<dt>Expires</dt><dd>{expires}</dd>\n<dt>Approval</dt><dd>"
    );
}

/// A `data:` URI for an evidence image, when it can be read and is a JPEG.
pub(super) fn jpeg_uri(jpeg: &Jpeg) -> Option<String> {
    let bytes = jpeg.bytes().ok()?;
    bytes.starts_with(&[0xFF, 0xD8]).then(|| {
        format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        )
    })
}

pub(super) fn figure(
    out: &mut Page,
    class: &str,
    label: &str,
    note: &str,
    jpeg: Option<&Jpeg>,
    absent: &str,
) {
    w!(out, "<figure class=\"{class}\">\n");
    match jpeg.map(jpeg_uri) {
        Some(Some(uri)) => w!(
            out,
            "<img src=\"{uri}\" alt=\"{}\">\n",
            Esc(&format!("{label}: {note}"))
        ),
        Some(None) => {
            out.push_str("<div class=\"noimg\">stored image could not be decoded</div>\n")
        }
        None => w!(out, "<div class=\"noimg\">{}</div>\n", Esc(absent)),
    }
    w!(
        out,
        "<figcaption><strong>{}</strong> {}</figcaption>\n</figure>\n",
        Esc(label),
        Esc(note)
    );
}

fn evidence(out: &mut Page, x: &Finding, talent: bool) {
    out.push_str("<div class=\"evidence\">\n");
    let e: Option<&Evidence> = x.evidence.as_ref();
    figure(
        out,
        "frame",
        "Best frame",
        &format!("{} (frame {}), box drawn", x.best_tc, x.best_frame),
        e.map(|e| &e.frame_jpeg),
        "no evidence image stored",
    );
    figure(
        out,
        "crop",
        if talent { "Face crop" } else { "Region crop" },
        "from the best frame",
        e.map(|e| &e.crop_jpeg),
        "no evidence image stored",
    );
    figure(
        out,
        "reference",
        "Gallery reference",
        &format!("as registered for {}", x.name),
        e.and_then(|e| e.reference_jpeg.as_ref()),
        "no reference image stored",
    );
    out.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_uri_refuses_what_is_not_a_jpeg() {
        let uri = |b64: &str| jpeg_uri(&Jpeg::Inline(b64.into()));
        assert!(uri("not base64 \"><script>").is_none());
        assert!(uri("aGVsbG8=").is_none());
        assert_eq!(
            uri("/9j/4AA=").as_deref(),
            Some("data:image/jpeg;base64,/9j/4AA=")
        );
    }
}
