//! Times reading the provenance of files (C2PA validation, or the XMP search when there is
//! no store), as a scan does on its own thread: `provenance_read [--runs N] FILE...` prints,
//! per file, the best of N reads in seconds and what was found. Used by
//! benches/provenance_read.sh.

use clearshot::provenance::{read, ProvenanceOptions};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 3;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| fail("--runs needs a number"));
        args.drain(i..i + 2);
    }
    if args.is_empty() {
        fail("usage: provenance_read [--runs N] FILE...");
    }
    let opts = ProvenanceOptions::default();
    for f in args.iter().map(PathBuf::from) {
        let mut best = f64::INFINITY;
        let mut summary = String::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let (p, _) = read(&f, &opts);
            best = best.min(t.elapsed().as_secs_f64());
            summary = p.summary();
        }
        println!("{best:.4}\t{}\t{summary}", f.display());
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("provenance_read: {msg}");
    std::process::exit(2)
}
