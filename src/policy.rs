//! The one place that decides how serious a finding is. Reports, exit codes and gates all
//! read the severity from here.

use crate::face::track::Decision;
use crate::gallery::{Consent, ConsentRecord, RefRecord, RefStatus};
use crate::provenance::{AiKind, DeclaredIn, Provenance, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::Date;

/// How serious a finding is, in the style of delivery QC tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Recorded for completeness; nothing to do.
    Info,
    /// A person should look at it.
    Review,
    /// Blocks delivery until written approval is on file.
    Escalate,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Info => "info",
            Self::Review => "review",
            Self::Escalate => "escalate",
        })
    }
}

/// Severity of a finding covered by a written approval on file.
pub const APPROVED: Severity = Severity::Info;

/// Severity of a registered person's appearance, with the reason in words. A possible match
/// (the faces point to the person but fall short of naming them) is always `review`, never
/// `escalate`: a person must first confirm who it is; the consent record is cited so the
/// reviewer knows what hangs on the answer.
pub fn talent(record: &ConsentRecord, today: Date, decision: Decision) -> (Severity, String) {
    let (severity, why) = identified_talent(record, today);
    match decision {
        Decision::Identified => (severity, why),
        Decision::Possible => {
            let then = match severity {
                Severity::Escalate => "if it is them, written approval is needed before delivery",
                _ => "if it is them, their consent covers it",
            };
            (
                Severity::Review,
                format!(
                    "possible match, not certain enough to name: a person must confirm who this \
                     is ({why}; {then})",
                    why = why
                        .strip_suffix(": written approval needed before delivery")
                        .unwrap_or(&why)
                ),
            )
        }
    }
}

/// Severity of an identified registered person's appearance.
fn identified_talent(record: &ConsentRecord, today: Date) -> (Severity, String) {
    let scope = record
        .scope
        .as_deref()
        .map(|s| format!(" (scope: {s})"))
        .unwrap_or_default();
    match record.consent {
        Consent::Granted if record.valid_on(today) => {
            (Severity::Info, format!("consent granted{scope}"))
        }
        Consent::Granted if record.expired_on(today) => (
            Severity::Escalate,
            format!(
                "consent expired on {}{scope}: written approval needed before delivery",
                record.expires.as_deref().unwrap_or("?")
            ),
        ),
        Consent::Granted => (
            Severity::Escalate,
            format!(
                "consent expiry '{}' is unreadable: written approval needed before delivery",
                record.expires.as_deref().unwrap_or("")
            ),
        ),
        Consent::Denied => (
            Severity::Escalate,
            "consent denied: written approval needed before delivery".into(),
        ),
        Consent::Unknown => (
            Severity::Escalate,
            "no consent on record: written approval needed before delivery".into(),
        ),
    }
}

/// Severity of a verified match to a registered reference, with the reason in words.
/// `same_region` names the other references (and their status) verified on the same region
/// of the same frames: an owned or licensed match that is also a third-party match there is
/// not cleared by its own record, so it asks for review.
pub fn reference(r: &RefRecord, same_region: &[(String, RefStatus)]) -> (Severity, String) {
    let others = |want: &dyn Fn(RefStatus) -> bool| -> Vec<String> {
        same_region
            .iter()
            .filter(|(_, s)| want(*s))
            .map(|(n, s)| format!("{s} reference '{n}'"))
            .collect()
    };
    match r.status {
        RefStatus::ThirdParty => {
            let mut why = format!(
                "third-party {} owned by {}: written approval needed before delivery",
                r.kind, r.owner
            );
            let cleared = others(&|s| s != RefStatus::ThirdParty);
            if !cleared.is_empty() {
                why += &format!(
                    "; the same region also matches {}: confirm which it is",
                    cleared.join(", ")
                );
            }
            (Severity::Escalate, why)
        }
        RefStatus::Licensed | RefStatus::Owned => {
            let mut why = match r.status {
                RefStatus::Licensed => format!(
                    "licensed {} from {} (licence {})",
                    r.kind,
                    r.owner,
                    r.licence_ref.as_deref().unwrap_or("reference not given")
                ),
                _ => format!("owned {} ({})", r.kind, r.owner),
            };
            let third = others(&|s| s == RefStatus::ThirdParty);
            if third.is_empty() {
                (Severity::Info, why)
            } else {
                why += &format!(
                    ", but the same region also matches {}: a person must confirm which it is",
                    third.join(", ")
                );
                (Severity::Review, why)
            }
        }
    }
}

/// Severity of a file's provenance, with the reason, or None when it asks nothing of anyone
/// (no credentials, or intact credentials that declare no AI: recorded, not flagged).
/// Generated or AI-edited material may reach a final deliverable only with written approval:
/// a declaration is `ai` (`review` by default, `escalate` with `--ai escalate`). Credentials
/// that fail validation (the file or its manifest changed after signing) are `review`, with
/// the failure codes. Both are said when both hold.
pub fn provenance(p: &Provenance, ai: Severity) -> Option<(Severity, String)> {
    let mut parts = Vec::new();
    let mut severity = Severity::Info;
    if let Some(d) = &p.ai {
        let what = match d.kind {
            AiKind::Generated => "declares AI-generated content",
            AiKind::Composite => "declares AI-edited content",
        };
        let source = match (d.declared_in, p.validation) {
            (DeclaredIn::Xmp, _) => "unsigned XMP",
            (DeclaredIn::C2pa, Some(Validation::Trusted)) => "C2PA, trusted signer",
            (DeclaredIn::C2pa, Some(Validation::Invalid)) => "C2PA, failed validation",
            (DeclaredIn::C2pa, _) => "C2PA",
        };
        let then = match ai {
            Severity::Escalate => "written approval needed before delivery",
            _ => "generated material needs written approval before a final deliverable",
        };
        parts.push(format!(
            "{what} ({}, {source}): {then}",
            crate::provenance::short_type(&d.digital_source_type)
        ));
        severity = severity.max(ai);
    }
    if p.validation == Some(Validation::Invalid) {
        let codes: Vec<&str> = p
            .failures
            .iter()
            .map(String::as_str)
            .filter(|c| *c != "signingCredential.untrusted")
            .collect();
        parts.push(format!(
            "content credentials fail validation ({}): the file or its manifest changed \
             after signing",
            if codes.is_empty() {
                "no failure code given".to_string()
            } else {
                codes.join(", ")
            }
        ));
        severity = severity.max(Severity::Review);
    }
    (!parts.is_empty()).then(|| (severity, parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::parse_date;

    fn rec(c: Consent, expires: Option<&str>) -> ConsentRecord {
        ConsentRecord {
            consent: c,
            scope: Some("episode 1".into()),
            expires: expires.map(String::from),
        }
    }

    #[test]
    fn only_valid_consent_is_info() {
        let today = parse_date("2026-11-21").unwrap();
        assert_eq!(
            talent(&rec(Consent::Granted, None), today, Decision::Identified).0,
            Severity::Info
        );
        assert_eq!(
            talent(
                &rec(Consent::Granted, Some("2027-01-01")),
                today,
                Decision::Identified
            )
            .0,
            Severity::Info
        );
        let (s, why) = talent(
            &rec(Consent::Granted, Some("2026-01-01")),
            today,
            Decision::Identified,
        );
        assert_eq!(s, Severity::Escalate);
        assert!(why.contains("expired on 2026-01-01"), "{why}");
        assert_eq!(
            talent(&rec(Consent::Denied, None), today, Decision::Identified).0,
            Severity::Escalate
        );
        assert_eq!(
            talent(&rec(Consent::Unknown, None), today, Decision::Identified).0,
            Severity::Escalate
        );
        assert!(Severity::Escalate > Severity::Review && Severity::Review > Severity::Info);
    }

    #[test]
    fn a_possible_match_keeps_a_scope_with_a_colon_whole() {
        let today = parse_date("2026-11-21").unwrap();
        let mut r = rec(Consent::Granted, Some("2026-01-01"));
        r.scope = Some("S1: promo".into());
        let (_, why) = talent(&r, today, Decision::Possible);
        assert!(
            why.contains("(consent expired on 2026-01-01 (scope: S1: promo);"),
            "{why}"
        );
    }

    #[test]
    fn a_possible_match_is_review_whatever_the_consent() {
        let today = parse_date("2026-11-21").unwrap();
        for (c, then) in [
            (Consent::Denied, "written approval is needed"),
            (Consent::Unknown, "written approval is needed"),
            (Consent::Granted, "consent covers it"),
        ] {
            let (s, why) = talent(&rec(c, None), today, Decision::Possible);
            assert_eq!(s, Severity::Review, "{c:?}");
            assert!(why.starts_with("possible match"), "{why}");
            assert!(why.contains(then), "{why}");
        }
        let (_, why) = talent(&rec(Consent::Denied, None), today, Decision::Possible);
        assert!(why.contains("(consent denied;"), "{why}");
    }

    #[test]
    fn only_third_party_references_escalate_and_licences_are_cited() {
        let r = |status| RefRecord {
            kind: "logo".into(),
            owner: "Acme".into(),
            status,
            licence_ref: Some("LIC-7".into()),
        };
        assert_eq!(
            reference(&r(RefStatus::ThirdParty), &[]).0,
            Severity::Escalate
        );
        let (s, why) = reference(&r(RefStatus::Licensed), &[]);
        assert_eq!(s, Severity::Info);
        assert!(why.contains("LIC-7"), "{why}");
        assert_eq!(reference(&r(RefStatus::Owned), &[]).0, Severity::Info);
    }

    #[test]
    fn an_owned_match_on_a_third_party_region_asks_for_review_and_both_say_so() {
        let r = |status| RefRecord {
            kind: "logo".into(),
            owner: "Acme".into(),
            status,
            licence_ref: None,
        };
        let (s, why) = reference(
            &r(RefStatus::Owned),
            &[("Rival".into(), RefStatus::ThirdParty)],
        );
        assert_eq!(s, Severity::Review);
        assert!(why.contains("third-party reference 'Rival'"), "{why}");
        let (s, why) = reference(
            &r(RefStatus::ThirdParty),
            &[("Ours".into(), RefStatus::Owned)],
        );
        assert_eq!(s, Severity::Escalate);
        assert!(why.contains("owned reference 'Ours'"), "{why}");
        // Two owned references on one region are no conflict.
        let (s, _) = reference(&r(RefStatus::Owned), &[("Ours".into(), RefStatus::Owned)]);
        assert_eq!(s, Severity::Info);
    }

    fn prov(ai: Option<(AiKind, DeclaredIn)>, v: Option<Validation>) -> Provenance {
        use crate::provenance::{AiDeclaration, Credentials};
        let mut p = Provenance::none(if v.is_some() {
            Credentials::Embedded
        } else {
            Credentials::None
        });
        p.validation = v;
        p.failures = vec![
            "signingCredential.untrusted".into(),
            "assertion.dataHash.mismatch".into(),
        ];
        p.ai = ai.map(|(kind, declared_in)| AiDeclaration {
            kind,
            digital_source_type: "http://cv.iptc.org/newscodes/digitalsourcetype/x".into(),
            declared_in,
        });
        p
    }

    #[test]
    fn ai_declarations_are_review_or_escalate_and_broken_credentials_review() {
        // No credentials, or intact ones without AI: recorded, not flagged.
        assert_eq!(provenance(&prov(None, None), Severity::Review), None);
        assert_eq!(
            provenance(&prov(None, Some(Validation::Valid)), Severity::Review),
            None
        );
        let gen = Some((AiKind::Generated, DeclaredIn::C2pa));
        let (s, why) = provenance(&prov(gen, Some(Validation::Valid)), Severity::Review).unwrap();
        assert_eq!(s, Severity::Review);
        assert!(
            why.contains("AI-generated") && why.contains("C2PA"),
            "{why}"
        );
        let (s, _) = provenance(&prov(gen, Some(Validation::Trusted)), Severity::Escalate).unwrap();
        assert_eq!(s, Severity::Escalate);
        let xmp = Some((AiKind::Composite, DeclaredIn::Xmp));
        let (_, why) = provenance(&prov(xmp, None), Severity::Review).unwrap();
        assert!(
            why.contains("AI-edited") && why.contains("unsigned XMP"),
            "{why}"
        );
        // Altered after signing: review with the codes, the untrusted signer left out.
        let (s, why) =
            provenance(&prov(None, Some(Validation::Invalid)), Severity::Escalate).unwrap();
        assert_eq!(s, Severity::Review);
        assert!(why.contains("assertion.dataHash.mismatch"), "{why}");
        assert!(!why.contains("untrusted"), "{why}");
        let (s, why) =
            provenance(&prov(gen, Some(Validation::Invalid)), Severity::Escalate).unwrap();
        assert_eq!(s, Severity::Escalate);
        assert!(
            why.contains("AI-generated") && why.contains("fail validation"),
            "{why}"
        );
    }
}
