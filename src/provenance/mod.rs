//! Provenance: what a file says about where it came from, read offline before any frame is
//! decoded. C2PA content credentials (embedded, or in a `<name>.c2pa` sidecar) come first
//! (`c2pa.rs`); a file without a store may still carry the IPTC digital source type in its XMP
//! (`xmp.rs`). What is serious is decided in `policy::provenance`, not here.

mod c2pa;
mod xmp;

use serde::{Deserialize, Serialize};
use std::path::Path;

/// IPTC digital source types (suffix of the URI) that say a model made the content.
const GENERATED: &[&str] = &[
    "trainedAlgorithmicMedia",
    "algorithmicMedia",
    "trainedAlgorithmicData",
];
/// ... or that a model was used to edit it.
const COMPOSITE: &[&str] = &["compositeWithTrainedAlgorithmicMedia"];

/// Errors the provenance reader reports (as warnings: the scan goes on).
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The trust anchors given with `--trust-anchors` were refused by the C2PA reader.
    #[error("trust anchors: {0}")]
    Anchors(String),
}

/// How to read credentials: offline always; optional trust anchors (PEM) of approved signers.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceOptions {
    /// PEM certificates whose signers count as `trusted`.
    pub trust_anchors: Option<String>,
}

/// Whether and where a file carries content credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// A C2PA store inside the file.
    Embedded,
    /// A C2PA store in a `<name>.c2pa` sidecar next to it.
    Sidecar,
    /// None (recorded, not flagged).
    None,
    /// The C2PA reader does not take this format (MKV, WebM, ...): unknown, not "none".
    Unsupported,
    /// A store is there but could not be read (see the warnings).
    Unreadable,
}

/// The C2PA validation state of the active manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Failed a check (the file or its manifest changed after signing, or a bad signature).
    Invalid,
    /// Intact and signed, by a signer not in the trust list.
    Valid,
    /// Intact and signed by a trusted signer (`--trust-anchors`).
    Trusted,
}

/// Who signed the active manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signer {
    /// Certificate issuer (organisation).
    pub issuer: Option<String>,
    /// Certificate common name.
    pub common_name: Option<String>,
    /// Signing time (RFC 3339), when the signature has one.
    pub time: Option<String>,
    /// Signature algorithm.
    pub alg: Option<String>,
}

/// One action of a `c2pa.actions` assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// `c2pa.created`, `c2pa.edited`, ...
    pub action: String,
    /// IPTC digital source type URI, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_source_type: Option<String>,
    /// The tool that did it, when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_agent: Option<String>,
}

/// What the file was made from (a C2PA ingredient), with its own credentials if it has any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingredient {
    /// Its title (usually the file name).
    pub title: Option<String>,
    /// Its MIME type.
    pub format: Option<String>,
    /// `parentOf`, `componentOf` or `inputTo`.
    pub relationship: String,
    /// Whether it carries credentials of its own.
    pub credentials: bool,
    /// Its generator, when it has credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Its own AI declaration, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declares: Option<String>,
    /// Its ingredients in turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingredients: Vec<Ingredient>,
}

/// Where an AI declaration was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredIn {
    /// A signed C2PA actions assertion.
    C2pa,
    /// The IPTC `DigitalSourceType` of the file's XMP (unsigned).
    Xmp,
}

/// What kind of AI involvement a file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiKind {
    /// Made by a model (`trainedAlgorithmicMedia`, `algorithmicMedia`).
    Generated,
    /// Edited with one (`compositeWithTrainedAlgorithmicMedia`).
    Composite,
}

/// A file's declaration of AI involvement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiDeclaration {
    /// Generated or composite.
    pub kind: AiKind,
    /// The digital source type URI as written.
    pub digital_source_type: String,
    /// Where it was read.
    pub declared_in: DeclaredIn,
}

/// Everything clearshot read about a file's provenance. Stable field names (the JSON report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Whether and where credentials are.
    pub credentials: Credentials,
    /// Validation state of the active manifest (with credentials only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// C2PA failure codes of the active manifest (`assertion.dataHash.mismatch`, ...).
    /// `signingCredential.untrusted` is listed when no trust anchor covers the signer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// The active manifest's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Who signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    /// The tool that wrote the manifest (`name version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Actions of the active manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// What it was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingredients: Vec<Ingredient>,
    /// The file's AI declaration (C2PA actions first, else XMP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiDeclaration>,
}

impl Provenance {
    /// Nothing found.
    pub fn none(credentials: Credentials) -> Self {
        Self {
            credentials,
            validation: None,
            failures: Vec::new(),
            manifest: None,
            signer: None,
            generator: None,
            actions: Vec::new(),
            ingredients: Vec::new(),
            ai: None,
        }
    }

    /// True when the file carries a C2PA store (embedded or sidecar).
    pub fn has_credentials(&self) -> bool {
        matches!(
            self.credentials,
            Credentials::Embedded | Credentials::Sidecar
        )
    }

    /// One line for tables and markers: `C2PA valid, AI-generated (trainedAlgorithmicMedia)`.
    pub fn summary(&self) -> String {
        let creds = match (self.credentials, self.validation) {
            (Credentials::Embedded | Credentials::Sidecar, Some(v)) => {
                let v = match v {
                    Validation::Invalid => "INVALID",
                    Validation::Valid => "valid",
                    Validation::Trusted => "trusted",
                };
                let side = if self.credentials == Credentials::Sidecar {
                    " (sidecar)"
                } else {
                    ""
                };
                format!("C2PA {v}{side}")
            }
            (Credentials::Embedded | Credentials::Sidecar, None) => "C2PA".into(),
            (Credentials::None, _) => "no credentials".into(),
            (Credentials::Unsupported, _) => "format not supported by C2PA".into(),
            (Credentials::Unreadable, _) => "credentials unreadable".into(),
        };
        match &self.ai {
            Some(ai) => format!(
                "{creds}; {} ({}, {})",
                match ai.kind {
                    AiKind::Generated => "AI-generated",
                    AiKind::Composite => "edited with AI",
                },
                short_type(&ai.digital_source_type),
                match ai.declared_in {
                    DeclaredIn::C2pa => "declared in C2PA",
                    DeclaredIn::Xmp => "declared in XMP",
                }
            ),
            None => creds,
        }
    }
}

/// `trainedAlgorithmicMedia` from its IPTC (or c2pa.org) URI.
pub fn short_type(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// The AI kind a digital source type URI declares, if any.
pub fn ai_kind(uri: &str) -> Option<AiKind> {
    let t = short_type(uri.trim());
    if COMPOSITE.contains(&t) {
        Some(AiKind::Composite)
    } else if GENERATED.contains(&t) {
        Some(AiKind::Generated)
    } else {
        None
    }
}

/// Reads a file's provenance, offline. Never fails: a store that cannot be read is recorded
/// as `unreadable` with the cause in the returned warnings.
/// Nothing in it depends on the run (no timing): reports of two runs compare equal.
pub fn read(path: &Path, opts: &ProvenanceOptions) -> (Provenance, Vec<String>) {
    let (mut p, mut warnings) = c2pa::read(path, opts);
    if p.ai.is_none() && !p.has_credentials() {
        match xmp::digital_source_type(path) {
            Ok(Some(uri)) => {
                p.ai = ai_kind(&uri).map(|kind| AiDeclaration {
                    kind,
                    digital_source_type: uri,
                    declared_in: DeclaredIn::Xmp,
                })
            }
            Ok(None) => {}
            Err(e) => warnings.push(format!("{}: XMP: {e}", path.display())),
        }
    }
    (p, warnings)
}

/// Checks trust anchors once, before any work (a typed error rather than a warning per file).
pub fn check_anchors(pem: &str) -> Result<(), ProvenanceError> {
    c2pa::context(&ProvenanceOptions {
        trust_anchors: Some(pem.to_string()),
    })
    .map(|_| ())
    .map_err(|e| ProvenanceError::Anchors(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_types_are_told_apart() {
        let iptc = "http://cv.iptc.org/newscodes/digitalsourcetype/";
        assert_eq!(
            ai_kind(&format!("{iptc}trainedAlgorithmicMedia")),
            Some(AiKind::Generated)
        );
        assert_eq!(
            ai_kind(&format!("{iptc}compositeWithTrainedAlgorithmicMedia")),
            Some(AiKind::Composite)
        );
        assert_eq!(
            ai_kind("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData"),
            Some(AiKind::Generated)
        );
        assert_eq!(ai_kind(&format!("{iptc}digitalCapture")), None);
        assert_eq!(ai_kind(&format!("{iptc}composite")), None);
    }

    #[test]
    fn unsupported_is_not_none() {
        let p = Provenance::none(Credentials::Unsupported);
        assert_eq!(p.summary(), "format not supported by C2PA");
        assert!(!p.has_credentials());
    }
}
