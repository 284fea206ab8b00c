//! C2PA content credentials through the `c2pa` crate, offline: built without any HTTP client
//! and with remote manifest and OCSP fetching switched off in the settings as well.

use super::{
    ai_kind, Action, AiDeclaration, Credentials, DeclaredIn, Ingredient, Provenance,
    ProvenanceOptions, Signer, Validation,
};
use c2pa::{Context, Error, Manifest, Reader, ValidationState};
use std::path::Path;

/// Ingredient chains deeper than this are cut (a crafted store could nest without end).
const MAX_DEPTH: usize = 8;

/// The reader's context: no network, the given trust anchors.
pub(super) fn context(opts: &ProvenanceOptions) -> Result<Context, Error> {
    let mut settings = serde_json::json!({
        "verify": {"remote_manifest_fetch": false, "ocsp_fetch": false},
    });
    if let Some(pem) = &opts.trust_anchors {
        settings["trust"] = serde_json::json!({ "user_anchors": pem });
    }
    Context::new().with_settings(settings)
}

/// Reads the store of `path` (or its `.c2pa` sidecar) into a [`Provenance`].
pub(super) fn read(path: &Path, opts: &ProvenanceOptions) -> (Provenance, Vec<String>) {
    let unreadable = |e: &dyn std::fmt::Display| {
        (
            Provenance::none(Credentials::Unreadable),
            vec![format!(
                "{}: content credentials unreadable: {e}",
                path.display()
            )],
        )
    };
    let ctx = match context(opts) {
        Ok(c) => c,
        Err(e) => return unreadable(&e),
    };
    let sidecar = path.with_extension("c2pa");
    let is_store = path.extension().is_some_and(|e| e == "c2pa");
    // `with_file` falls back to the sidecar silently: read the file alone first when one
    // exists, so the report can say where the credentials were.
    let (result, location) = if !is_store && sidecar.is_file() {
        let embedded = std::fs::File::open(path)
            .map_err(Error::from)
            .and_then(|f| {
                let fmt = c2pa_format(path);
                Reader::from_context(ctx).with_stream(&fmt, f)
            });
        match embedded {
            Err(Error::JumbfNotFound) => match context(opts) {
                Ok(ctx) => (
                    Reader::from_context(ctx).with_file(path),
                    Credentials::Sidecar,
                ),
                Err(e) => return unreadable(&e),
            },
            other => (other, Credentials::Embedded),
        }
    } else {
        (
            Reader::from_context(ctx).with_file(path),
            Credentials::Embedded,
        )
    };
    let reader = match result {
        Ok(r) => r,
        Err(Error::JumbfNotFound) => return (Provenance::none(Credentials::None), Vec::new()),
        Err(Error::UnsupportedType) => {
            return (Provenance::none(Credentials::Unsupported), Vec::new())
        }
        Err(e) => return unreadable(&e),
    };
    (describe(&reader, location), Vec::new())
}

/// The format hint for a stream: the extension (the crate sniffs the bytes first anyway).
fn c2pa_format(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn describe(reader: &Reader, location: Credentials) -> Provenance {
    let mut p = Provenance::none(location);
    p.validation = Some(match reader.validation_state() {
        ValidationState::Trusted => Validation::Trusted,
        ValidationState::Valid => Validation::Valid,
        _ => Validation::Invalid,
    });
    if let Some(codes) = reader
        .validation_results()
        .and_then(|r| r.active_manifest())
    {
        p.failures = codes
            .failure()
            .iter()
            .map(|s| s.code().to_string())
            .collect();
    }
    p.manifest = reader.active_label().map(String::from);
    let Some(m) = reader.active_manifest() else {
        return p;
    };
    p.signer = m.signature_info().map(|s| Signer {
        issuer: s.issuer.clone(),
        common_name: s.common_name.clone(),
        time: s.time.clone(),
        alg: s.alg.map(|a| a.to_string()),
    });
    p.generator = generator(m);
    p.actions = actions(m);
    p.ai = declaration(&p.actions);
    p.ingredients = ingredients(reader, m, 0);
    p
}

fn generator(m: &Manifest) -> Option<String> {
    let g = m.claim_generator_info.as_ref()?.first()?;
    Some(match &g.version {
        Some(v) => format!("{} {v}", g.name),
        None => g.name.clone(),
    })
}

/// Every action of every `c2pa.actions` / `c2pa.actions.v2` assertion.
fn actions(m: &Manifest) -> Vec<Action> {
    let mut out = Vec::new();
    for a in m
        .assertions()
        .iter()
        .filter(|a| a.label().starts_with("c2pa.actions"))
    {
        let Ok(v) = a.value() else { continue };
        for act in v["actions"].as_array().into_iter().flatten() {
            let text = |k: &str| act[k].as_str().map(String::from);
            let agent = match &act["softwareAgent"] {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => {
                    o.get("name").and_then(|n| n.as_str()).map(String::from)
                }
                _ => None,
            };
            out.push(Action {
                action: text("action").unwrap_or_default(),
                digital_source_type: text("digitalSourceType"),
                software_agent: agent,
            });
        }
    }
    out
}

/// The strongest AI declaration among the actions: generated before composite.
fn declaration(actions: &[Action]) -> Option<AiDeclaration> {
    actions
        .iter()
        .filter_map(|a| {
            let uri = a.digital_source_type.as_ref()?;
            Some(AiDeclaration {
                kind: ai_kind(uri)?,
                digital_source_type: uri.clone(),
                declared_in: DeclaredIn::C2pa,
            })
        })
        .min_by_key(|d| d.kind as u8)
}

fn ingredients(reader: &Reader, m: &Manifest, depth: usize) -> Vec<Ingredient> {
    if depth >= MAX_DEPTH {
        return Vec::new();
    }
    m.ingredients()
        .iter()
        .map(|i| {
            let own = i.active_manifest().and_then(|l| reader.get_manifest(l));
            Ingredient {
                title: i.title().map(String::from),
                format: i.format().map(String::from),
                relationship: serde_json::to_value(i.relationship())
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                credentials: own.is_some(),
                generator: own.and_then(generator),
                declares: own
                    .and_then(|o| declaration(&actions(o)))
                    .map(|d| super::short_type(&d.digital_source_type).to_string()),
                ingredients: own
                    .map(|o| ingredients(reader, o, depth + 1))
                    .unwrap_or_default(),
            }
        })
        .collect()
}
