//! The one place that decides how serious a finding is. Reports, exit codes and gates all
//! read the severity from here.

use crate::gallery::{Consent, ConsentRecord};
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
}
