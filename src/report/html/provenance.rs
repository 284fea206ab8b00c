//! The provenance card of the HTML report: a file's content credentials (validation, signer,
//! generator, actions) and the chain of ingredients it was made from, with the finding's
//! severity, reason and approval.

use super::{severity_class, Esc, Page};
use crate::provenance::{Ingredient, Provenance, Validation};
use crate::report::{FileReport, Finding};
use std::fmt::Write;

/// The card of a file-level provenance finding.
pub(super) fn card(out: &mut Page, file: &FileReport, x: &Finding) {
    let sev = severity_class(x.severity);
    w!(
        out,
        "<article class=\"card finding provenance {sev}\" data-severity=\"{sev}\" data-name=\"{}\">\n\
         <div class=\"card-head\">\n<span class=\"badge {sev}\">{sev}</span>\n\
         <h3 class=\"who\">Provenance</h3>\n<span class=\"kind\">content credentials</span>\n\
         <span class=\"where\">{} &middot; whole file &middot; <span class=\"mono\">{}</span></span>\n\
         </div>\n<p class=\"reason\"><strong>Reason:</strong> {}</p>\n<div class=\"facts\">\n\
         <dl class=\"provenance\">\n",
        Esc(&x.name),
        Esc(&file.display_name()),
        Esc(&x.tc_in),
        Esc(&x.reason)
    );
    if let Some(p) = &file.provenance {
        facts(out, p);
    }
    out.push_str("<dt>Approval</dt><dd>");
    super::findings::approval(out, x);
    out.push_str("</div>\n</article>\n");
}

fn facts(out: &mut Page, p: &Provenance) {
    w!(out, "<dt>Credentials</dt><dd>{}</dd>\n", Esc(&p.summary()));
    if let Some(v) = p.validation {
        let (class, word) = match v {
            Validation::Invalid => ("denied", "invalid"),
            Validation::Valid => ("unknown", "valid (signer not in the trust list)"),
            Validation::Trusted => ("granted", "trusted"),
        };
        w!(
            out,
            "<dt>Validation</dt><dd><span class=\"state {class}\">{word}</span>"
        );
        if !p.failures.is_empty() {
            w!(
                out,
                " <span class=\"mono muted\">{}</span>",
                Esc(&p.failures.join(", "))
            );
        }
        out.push_str("</dd>\n");
    }
    if let Some(s) = &p.signer {
        let text = [&s.common_name, &s.issuer, &s.time, &s.alg]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        w!(out, "<dt>Signer</dt><dd>{}</dd>\n", Esc(&text));
    }
    if let Some(g) = &p.generator {
        w!(out, "<dt>Generator</dt><dd>{}</dd>\n", Esc(g));
    }
    if !p.actions.is_empty() {
        out.push_str("<dt>Actions</dt><dd><ul>");
        for a in &p.actions {
            w!(out, "<li><span class=\"mono\">{}</span>", Esc(&a.action));
            if let Some(t) = &a.digital_source_type {
                w!(out, " &middot; {}", Esc(crate::provenance::short_type(t)));
            }
            if let Some(s) = &a.software_agent {
                w!(out, " <span class=\"muted\">({})</span>", Esc(s));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul></dd>\n");
    }
    if !p.ingredients.is_empty() {
        out.push_str("<dt>Made from</dt><dd class=\"wide\">");
        chain(out, &p.ingredients);
        out.push_str("</dd>\n");
    }
}

/// The ingredients as a nested list: each with its relationship, its own credentials and AI
/// declaration, and its ingredients in turn.
fn chain(out: &mut Page, list: &[Ingredient]) {
    out.push_str("<ul class=\"ingredients\">");
    for i in list {
        w!(
            out,
            "<li>{} <span class=\"muted\">({}{})</span> &middot; {}",
            Esc(i.title.as_deref().unwrap_or("untitled")),
            Esc(&i.relationship),
            i.format
                .as_deref()
                .map_or_else(String::new, |f| format!(", {}", super::escape(f))),
            if i.credentials {
                "own credentials"
            } else {
                "no credentials of its own"
            }
        );
        if let Some(g) = &i.generator {
            w!(out, ", by {}", Esc(g));
        }
        if let Some(d) = &i.declares {
            w!(out, ", declares <strong>{}</strong>", Esc(d));
        }
        if !i.ingredients.is_empty() {
            chain(out, &i.ingredients);
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}
