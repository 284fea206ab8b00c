//! What happens in a batch, as it happens: for the progress display, and as JSON Lines
//! (`--jsonl`), one record per event in the manner of ripgrep's `--json`:
//! `{"type": "...", "data": {...}}` with stable field names, flushed line by line so a media
//! asset manager can ingest results while the batch runs.
//!
//! Types: `batch_started`, `file_started`, `finding` (as in the JSON report, without the
//! evidence images), `file_finished`, `file_failed`, `warning`, `batch_finished`.

use crate::policy::Severity;
use crate::report::Finding;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// One event of a batch.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event<'a> {
    /// The plan is made and the journal read.
    BatchStarted {
        /// Inputs in the batch.
        inputs: usize,
        /// Of those, to be scanned now.
        to_scan: usize,
        /// Of those, already in the journal (done or failed) and not scanned again.
        from_journal: usize,
        /// The journal (none for spot checks).
        journal: Option<&'a Path>,
        /// Bytes to scan.
        bytes: u64,
    },
    /// A worker opened an input.
    FileStarted {
        /// The input.
        path: &'a Path,
        /// Its frames, when known.
        frames: Option<u64>,
        /// Its size on disk.
        bytes: u64,
    },
    /// A finding of a finished input (approvals applied; no evidence images).
    Finding {
        /// The input.
        path: &'a Path,
        /// The finding.
        finding: &'a Finding,
    },
    /// An input is scanned (now, or in an earlier run of this batch).
    FileFinished {
        /// The input.
        path: &'a Path,
        /// From the journal rather than scanned now.
        from_journal: bool,
        /// Findings.
        findings: usize,
        /// Highest severity among them.
        worst: Option<Severity>,
        /// Seconds the scan took (scanned now only).
        seconds: Option<f64>,
        /// Problems that did not stop it.
        warnings: &'a [String],
    },
    /// An input could not be scanned.
    FileFailed {
        /// The input.
        path: &'a Path,
        /// The one-line cause.
        error: &'a str,
        /// It will be tried once more in this run.
        retry: bool,
    },
    /// Something the user should know that stops nothing.
    Warning {
        /// The input it concerns, if any.
        path: Option<&'a Path>,
        /// One line.
        message: &'a str,
    },
    /// The batch ended (or was stopped).
    BatchFinished {
        /// Inputs scanned in this run.
        scanned: usize,
        /// Inputs taken from the journal.
        from_journal: usize,
        /// Inputs that could not be scanned.
        failed: usize,
        /// Inputs left unscanned (stopped early).
        pending: usize,
        /// Stopped on request before the end.
        interrupted: bool,
    },
}

/// Hears a batch's events.
pub trait Observer {
    /// An event.
    fn event(&mut self, event: &Event);
    /// Frames decoded so far in an input (often; not written as JSON Lines).
    fn progress(&mut self, _path: &Path, _decoded: u64) {}
}

/// Nobody listens.
impl Observer for () {
    fn event(&mut self, _event: &Event) {}
}

/// Passes events to several observers.
pub struct Fanout<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Fanout<'_> {
    fn event(&mut self, event: &Event) {
        for o in &mut self.0 {
            o.event(event);
        }
    }
    fn progress(&mut self, path: &Path, decoded: u64) {
        for o in &mut self.0 {
            o.progress(path, decoded);
        }
    }
}

/// Tells `observer` what a finished batch's report holds, as the events a run would have
/// sent (every input from the journal): for `merge`.
pub fn replay(report: &crate::report::ScanReport, observer: &mut dyn Observer) {
    let inputs = report.files.len() + report.failures.len() + report.pending.len();
    observer.event(&Event::BatchStarted {
        inputs,
        to_scan: 0,
        from_journal: report.files.len() + report.failures.len(),
        journal: None,
        bytes: 0,
    });
    for f in &report.files {
        for finding in &f.findings {
            observer.event(&Event::Finding {
                path: &f.path,
                finding,
            });
        }
        observer.event(&Event::FileFinished {
            path: &f.path,
            from_journal: true,
            findings: f.findings.len(),
            worst: f.findings.iter().map(|x| x.severity).max(),
            seconds: None,
            warnings: &f.warnings,
        });
    }
    for f in &report.failures {
        observer.event(&Event::FileFailed {
            path: &f.path,
            error: &f.error,
            retry: false,
        });
    }
    observer.event(&Event::BatchFinished {
        scanned: 0,
        from_journal: report.files.len() + report.failures.len(),
        failed: report.failures.len(),
        pending: report.pending.len(),
        interrupted: false,
    });
}

/// Writes events as JSON Lines, flushing each line.
pub struct JsonLines<W: Write> {
    out: W,
    /// The first write error; nothing more is written after it.
    pub error: Option<std::io::Error>,
}

impl<W: Write> JsonLines<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Self { out, error: None }
    }
}

impl<W: Write> Observer for JsonLines<W> {
    fn event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        let stripped;
        let event = match event {
            Event::Finding { path, finding } if finding.evidence.is_some() => {
                stripped = Finding {
                    evidence: None,
                    ..(*finding).clone()
                };
                &Event::Finding {
                    path,
                    finding: &stripped,
                }
            }
            e => e,
        };
        let mut line = match serde_json::to_vec(event) {
            Ok(l) => l,
            Err(e) => {
                self.error = Some(std::io::Error::other(e));
                return;
            }
        };
        line.push(b'\n');
        if let Err(e) = self.out.write_all(&line).and_then(|_| self.out.flush()) {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_tagged_line_each() {
        let mut j = JsonLines::new(Vec::new());
        j.event(&Event::FileFailed {
            path: Path::new("/a b.mp4"),
            error: "/a b.mp4: truncated",
            retry: false,
        });
        j.event(&Event::BatchFinished {
            scanned: 1,
            from_journal: 2,
            failed: 1,
            pending: 0,
            interrupted: false,
        });
        let text = String::from_utf8(j.out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["type"], "file_failed");
        assert_eq!(lines[0]["data"]["path"], "/a b.mp4");
        assert_eq!(lines[1]["type"], "batch_finished");
        assert_eq!(lines[1]["data"]["from_journal"], 2);
    }
}
