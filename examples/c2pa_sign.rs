//! Signs a test fixture with C2PA content credentials, offline (scripts/make_c2pa.sh):
//!
//! `c2pa_sign CHAIN KEY SRC DST SOURCE_TYPE [--parent FILE] [--sidecar]`
//!
//! `SOURCE_TYPE` is the IPTC digital source type (`trainedAlgorithmicMedia`, ...) of the
//! `c2pa.created` action, or of the `c2pa.edited` action when `--parent` names a signed file
//! the new one is made from (`c2pa.opened` it first). `--sidecar` writes the store next to an
//! untouched copy as `DST` with a `.c2pa` extension. No timestamp server: nothing leaves the
//! machine.

use anyhow::{bail, Context as _, Result};
use c2pa::{create_signer, Builder, Context, SigningAlg};
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sidecar = take_flag(&mut args, "--sidecar");
    let parent = take_value(&mut args, "--parent")?;
    let [chain, key, src, dst, source_type] = <[String; 5]>::try_from(args).map_err(|_| {
        anyhow::anyhow!(
            "usage: c2pa_sign CHAIN KEY SRC DST SOURCE_TYPE [--parent FILE] [--sidecar]"
        )
    })?;
    let uri = format!("http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}");
    let actions = if parent.is_some() {
        serde_json::json!([
            {"action": "c2pa.opened"},
            {"action": "c2pa.edited", "digitalSourceType": uri,
             "softwareAgent": {"name": "clearshot test editor"}}
        ])
    } else {
        serde_json::json!([
            {"action": "c2pa.created", "digitalSourceType": uri,
             "softwareAgent": {"name": "clearshot test generator"}}
        ])
    };
    let definition = serde_json::json!({
        "claim_generator_info": [{"name": "clearshot-fixtures", "version": "1.0"}],
        "title": PathBuf::from(&dst).file_name().map(|n| n.to_string_lossy().into_owned()),
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]
    });
    let ctx = Context::new().with_settings(serde_json::json!({
        "verify": {"remote_manifest_fetch": false, "ocsp_fetch": false}
    }))?;
    let mut builder = Builder::from_context(ctx).with_definition(definition.to_string())?;
    if let Some(p) = &parent {
        let format = ext(p)?;
        let mut f = std::fs::File::open(p).with_context(|| p.clone())?;
        let title = PathBuf::from(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        builder.add_ingredient_from_stream(
            serde_json::json!({"title": title, "relationship": "parentOf"}).to_string(),
            &format,
            &mut f,
        )?;
    }
    builder.set_no_embed(sidecar);
    let signer = create_signer::from_files(&chain, &key, SigningAlg::Es256, None)?;
    let store = builder
        .sign_file(signer.as_ref(), &src, &dst)
        .with_context(|| format!("signing {src} into {dst}"))?;
    if sidecar {
        std::fs::write(PathBuf::from(&dst).with_extension("c2pa"), store)?;
    }
    Ok(())
}

fn ext(p: &str) -> Result<String> {
    match PathBuf::from(p).extension() {
        Some(e) => Ok(e.to_string_lossy().to_lowercase()),
        None => bail!("{p}: no extension to tell the format"),
    }
}

fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    let had = args.iter().any(|a| a == name);
    args.retain(|a| a != name);
    had
}

fn take_value(args: &mut Vec<String>, name: &str) -> Result<Option<String>> {
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    if i + 1 >= args.len() {
        bail!("{name} needs a value");
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Ok(Some(v))
}
