//! The clearshot command line: flags in, library calls, reports out.

use anyhow::Result;
use clap::Parser;
use clearshot::batch;
use clearshot::media;
use clearshot::models;
use std::process::ExitCode;

mod cli;
use cli::args::*;
use cli::evals::{eval, eval_refs, eval_unknown, eval_video};
use cli::library::{gallery, refs};
use cli::runs::{inspect, merge, scan_command, verify};

fn main() -> ExitCode {
    // Before any thread starts: ONNX Runtime must never queue telemetry for upload.
    clearshot::runtime::refuse_telemetry();
    // Frame-sized buffers stay in the heap between samples (see `alloc`).
    clearshot::alloc::keep_freed_frames();
    // clap exits 2 on a usage error, which here means "some inputs could not be scanned":
    // usage errors are 3, as documented; --help and --version are 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clearshot: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    media::init();
    let gallery_path = cli
        .gallery
        .clone()
        .unwrap_or_else(clearshot::paths::default_gallery);
    let models_dir = cli.models.clone().unwrap_or_else(models::default_dir);
    match cli.cmd {
        Cmd::Scan(args) => scan_command(*args, &gallery_path, &models_dir),
        Cmd::Merge(args) => merge(args),
        Cmd::Worker => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            batch::worker::serve(stdin.lock(), stdout.lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Inspect(args) => inspect(args, &gallery_path, &models_dir),
        Cmd::Verify { report } => verify(&report, &models_dir),
        Cmd::Gallery(cmd) => gallery(cmd, &gallery_path, &models_dir),
        Cmd::Refs(cmd) => refs(cmd, &gallery_path, &models_dir),
        Cmd::Eval(args) => eval(args, &models_dir),
        Cmd::EvalVideo(args) => eval_video(args, &models_dir),
        Cmd::EvalUnknown(args) => eval_unknown(args, &models_dir),
        Cmd::EvalRefs {
            labels,
            no_tiles,
            fine,
            details,
            min_inset_recall,
            max_false_alarms,
        } => {
            let gate = (min_inset_recall, max_false_alarms);
            eval_refs(&labels, !no_tiles, fine, details, gate, &models_dir)
        }
    }
}
