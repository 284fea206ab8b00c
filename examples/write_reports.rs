//! Writes the CSV, EDL and OTIO reports for a saved JSON scan report.
//!
//! `cargo run --release --example write_reports -- REPORT.json OUT_DIR` writes
//! `OUT_DIR/<stem>.csv`, `.edl` and `.otio`.

use anyhow::{bail, Context, Result};
use clearshot::report::{self, ScanReport};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir] = args.as_slice() else {
        bail!("usage: write_reports REPORT.json OUT_DIR");
    };
    let input = PathBuf::from(input);
    let text =
        std::fs::read_to_string(&input).with_context(|| format!("reading {}", input.display()))?;
    let scan: ScanReport =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", input.display()))?;
    let out_dir = PathBuf::from(out_dir);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let stem = input
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    let outputs = [
        ("csv", report::csv::render(&scan)),
        ("edl", report::edl::render(&scan)),
        ("otio", report::otio::render(&scan)?),
    ];
    for (ext, body) in outputs {
        let path = out_dir.join(format!("{stem}.{ext}"));
        report::write_atomic(&path, body.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
