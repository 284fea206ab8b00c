//! Where a scan's time goes: scans one file in this process with the settings a user gets by
//! default (plus the flags below) and prints each pipeline stage's time summed over threads,
//! its calls, and the process's CPU time. `benches/scan_vs_ffmpeg.sh` runs it.
//!
//! `cargo run --release --example stage_times -- GALLERY FILE [--fine-refs] [--no-refs]
//!  [--hard-faces off|regions|key|all] [--workers N]`

use clearshot::batch::settings::ScanSettings;
use clearshot::batch::setup::ScanSetup;
use clearshot::stages;
use std::path::PathBuf;
use std::time::Instant;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As `main` does, so the figures are the CLI's.
    clearshot::runtime::refuse_telemetry();
    clearshot::alloc::keep_freed_frames();
    let mut args = std::env::args().skip(1);
    let usage = "usage: stage_times GALLERY FILE [--fine-refs] [--no-refs] [--hard-faces MODE] [--workers N]";
    let gallery = PathBuf::from(args.next().ok_or(usage)?);
    let file = PathBuf::from(args.next().ok_or(usage)?);
    let mut settings = ScanSettings::default();
    let mut workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fine-refs" => settings.fine_refs = true,
            "--no-refs" => settings.references = false,
            "--hard-faces" => {
                let mode = args.next().ok_or(usage)?;
                settings.hard_faces = serde_json::from_value(serde_json::Value::String(mode))?;
            }
            "--workers" => workers = args.next().ok_or(usage)?.parse()?,
            _ => return Err(usage.into()),
        }
    }
    let models = clearshot::models::default_dir();
    let today = time::OffsetDateTime::now_utc().date();
    let setup = ScanSetup::load(&models, &gallery, &settings, today, workers)?;
    let mut scanner = setup.scanner()?;
    stages::reset();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let report = scanner.scan_file(&file, &mut ())?;
    let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    let sampled = report.frames_sampled.max(1) as f64;
    println!(
        "{}: {} frames decoded, {} sampled, {} workers; wall {wall:.2} s, process CPU {cpu:.2} s",
        file.display(),
        report.frames_decoded,
        report.frames_sampled,
        workers
    );
    println!(
        "{:<18} {:>9} {:>8} {:>10} {:>12}",
        "stage", "time s", "share", "calls", "ms/sample"
    );
    let mut counted = 0.0;
    for s in stages::snapshot() {
        let t = s.time.as_secs_f64();
        counted += t;
        println!(
            "{:<18} {:>9.2} {:>7.1}% {:>10} {:>12.1}",
            s.stage.name(),
            t,
            100.0 * t / cpu,
            s.calls,
            1000.0 * t / sampled
        );
    }
    // FFmpeg's frame threads, ONNX Runtime's own overhead, the collector, the system.
    let rest = cpu - counted;
    println!(
        "{:<18} {:>9.2} {:>7.1}%",
        "rest of the CPU",
        rest,
        100.0 * rest / cpu
    );
    Ok(())
}
