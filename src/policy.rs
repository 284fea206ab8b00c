//! The one place that decides how serious a finding is. Reports, exit codes and gates all
//! read the severity from here.

use crate::gallery::{Consent, ConsentRecord, RefRecord, RefStatus};
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

/// Severity of a registered person's appearance, with the reason in words.
pub fn talent(record: &ConsentRecord, today: Date) -> (Severity, String) {
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
            talent(&rec(Consent::Granted, None), today).0,
            Severity::Info
        );
        assert_eq!(
            talent(&rec(Consent::Granted, Some("2027-01-01")), today).0,
            Severity::Info
        );
        let (s, why) = talent(&rec(Consent::Granted, Some("2026-01-01")), today);
        assert_eq!(s, Severity::Escalate);
        assert!(why.contains("expired on 2026-01-01"), "{why}");
        assert_eq!(
            talent(&rec(Consent::Denied, None), today).0,
            Severity::Escalate
        );
        assert_eq!(
            talent(&rec(Consent::Unknown, None), today).0,
            Severity::Escalate
        );
        assert!(Severity::Escalate > Severity::Review && Severity::Review > Severity::Info);
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
}
