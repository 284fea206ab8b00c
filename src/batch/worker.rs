//! The worker process (`clearshot worker`, started by the supervisor, never by hand): loads
//! the models once, then scans one input per request. Whatever an input does to it (a
//! decoder crash, a runaway allocation, a hang) ends this process only; the supervisor
//! sees it, records it against that input, and starts another worker.

use super::protocol::{Reply, Request, WorkerConfig};
use super::setup::ScanSetup;
use super::BatchError;
use crate::media::MediaInfo;
use crate::scan::ScanProgress;
use std::io::{BufRead, Write};
use std::time::Instant;

/// Serves requests from `input` until it closes, answering on `output`.
pub fn serve(input: impl BufRead, mut output: impl Write) -> Result<(), BatchError> {
    let mut lines = input.lines();
    let first = match lines.next() {
        Some(line) => line.map_err(BatchError::Protocol)?,
        None => return Ok(()),
    };
    let config: WorkerConfig = serde_json::from_str(&first)
        .map_err(|e| BatchError::Settings(format!("worker configuration: {e}")))?;
    let today = crate::gallery::parse_date(&config.date)?;
    let setup = ScanSetup::load(
        &config.models_dir,
        &config.gallery,
        &config.settings,
        today,
        config.workers,
    )?;
    if setup.header.key() != config.run_key {
        return Err(BatchError::Changed);
    }
    let mut scanner = setup.scanner()?;
    send(&mut output, &Reply::Ready)?;
    for line in lines {
        let line = line.map_err(BatchError::Protocol)?;
        let req: Request = serde_json::from_str(&line)
            .map_err(|e| BatchError::Settings(format!("worker request: {e}")))?;
        let started = Instant::now();
        let mut progress = Progress {
            job: req.job,
            out: &mut output,
            broken: None,
        };
        scanner.spill_evidence_to(req.spill.clone());
        let result = scanner.scan_input(&req.input, &mut progress);
        if let Some(e) = progress.broken {
            // The supervisor is gone: nobody to report to.
            return Err(BatchError::Protocol(e));
        }
        let reply = match result {
            Ok(report) => Reply::Done {
                job: req.job,
                report: serde_json::value::to_raw_value(&report)
                    .map_err(|e| BatchError::Settings(format!("report: {e}")))?,
                seconds: started.elapsed().as_secs_f64(),
            },
            Err(e) => Reply::Failed {
                job: req.job,
                error: crate::media::one_line(&e.to_string()),
            },
        };
        send(&mut output, &reply)?;
    }
    Ok(())
}

fn send(out: &mut impl Write, reply: &Reply) -> Result<(), BatchError> {
    let mut line = serde_json::to_vec(reply).map_err(|e| BatchError::Settings(e.to_string()))?;
    line.push(b'\n');
    out.write_all(&line)
        .and_then(|_| out.flush())
        .map_err(BatchError::Protocol)
}

/// Tells the supervisor how the current input goes.
struct Progress<'a, W: Write> {
    job: usize,
    out: &'a mut W,
    broken: Option<std::io::Error>,
}

impl<W: Write> Progress<'_, W> {
    fn say(&mut self, reply: &Reply) {
        if self.broken.is_none() {
            if let Err(BatchError::Protocol(e)) = send(self.out, reply) {
                self.broken = Some(e);
            }
        }
    }
}

impl<W: Write> ScanProgress for Progress<'_, W> {
    fn started(&mut self, info: &MediaInfo) {
        self.say(&Reply::Started {
            job: self.job,
            frames: info.frame_count,
        });
    }

    fn decoded(&mut self, frames: u64) {
        self.say(&Reply::Progress {
            job: self.job,
            decoded: frames,
        });
    }
}
