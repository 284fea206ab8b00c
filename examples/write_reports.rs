//! Writes the CSV, EDL, Avid marker and OTIO reports for a saved JSON scan report.
//!
//! `cargo run --release --example write_reports -- REPORT.json OUT_DIR` writes
//! `OUT_DIR/<stem>.csv`, `.edl`, `.txt` (Avid markers) and `.otio`; a report of several files
//! gets one EDL and one marker list per file (`<stem>.<file name>.edl`, ...).

use anyhow::{bail, Context, Result};
use clearshot::report::{Outputs, ScanReport};
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
    let path = |ext: &str| Some(out_dir.join(format!("{stem}.{ext}")));
    let outputs = Outputs {
        csv: path("csv"),
        edl: path("edl"),
        avid: path("txt"),
        otio: path("otio"),
        per_file: scan.files.len() > 1,
        overwrite: true,
        ..Outputs::default()
    };
    outputs.write(&scan)?;
    println!("wrote {}", out_dir.display());
    Ok(())
}
