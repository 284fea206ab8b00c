//! The terminal's view of a batch: one line per problem on stderr (always), and when stderr
//! is a terminal, a bar over the whole batch (by bytes, weighted within each file by the
//! frames decoded) with the frame rate and an ETA, plus a bar per running file.

use super::events::{Event, Observer};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Running {
    bar: ProgressBar,
    frames: Option<u64>,
    bytes: u64,
    decoded: u64,
}

/// Progress bars and problem lines on stderr.
pub struct Terminal {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<PathBuf, Running>,
    done_bytes: u64,
    decoded: u64,
    files: usize,
    finished: usize,
    failed: usize,
    start: Instant,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    /// Bars only when stderr is a terminal; problem lines always.
    pub fn new() -> Self {
        let multi = MultiProgress::with_draw_target(if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.set_prefix("batch");
        Self {
            multi,
            overall,
            running: HashMap::new(),
            done_bytes: 0,
            decoded: 0,
            files: 0,
            finished: 0,
            failed: 0,
            start: Instant::now(),
        }
    }

    fn line(&self, text: &str) {
        self.multi.suspend(|| eprintln!("clearshot: {text}"));
    }

    fn update(&mut self) {
        let partial: f64 = self
            .running
            .values()
            .map(|r| match r.frames {
                Some(n) if n > 0 => r.bytes as f64 * (r.decoded as f64 / n as f64).min(1.0),
                _ => 0.0,
            })
            .sum();
        self.overall.set_position(self.done_bytes + partial as u64);
        let fps = self.decoded as f64 / self.start.elapsed().as_secs_f64().max(1e-3);
        let failed = if self.failed > 0 {
            format!(", {} failed", self.failed)
        } else {
            String::new()
        };
        self.overall.set_message(format!(
            "{}/{} files{failed}, {} frames at {fps:.0} fps",
            self.finished, self.files, self.decoded
        ));
    }

    fn end_file(&mut self, path: &Path) {
        if let Some(r) = self.running.remove(path) {
            self.done_bytes += r.bytes;
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
        self.finished += 1;
        self.update();
    }
}

impl Observer for Terminal {
    fn event(&mut self, event: &Event) {
        match event {
            Event::BatchStarted {
                to_scan,
                from_journal,
                journal,
                bytes,
                ..
            } => {
                self.files = *to_scan;
                self.overall.set_length((*bytes).max(1));
                if *from_journal > 0 {
                    if let Some(j) = journal {
                        self.line(&format!(
                            "resuming: {from_journal} inputs already in the journal {} (--fresh to scan them again)",
                            j.display()
                        ));
                    }
                }
                self.update();
            }
            Event::FileStarted {
                path,
                frames,
                bytes,
            } => {
                let bar = self.multi.add(ProgressBar::new(frames.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} frames {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix("file");
                bar.set_message(
                    path.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                );
                // A retried input starts again from nothing.
                if let Some(old) = self.running.insert(
                    path.to_path_buf(),
                    Running {
                        bar,
                        frames: *frames,
                        bytes: *bytes,
                        decoded: 0,
                    },
                ) {
                    old.bar.finish_and_clear();
                    self.multi.remove(&old.bar);
                }
            }
            Event::FileFinished {
                path,
                from_journal,
                warnings,
                ..
            } => {
                for w in warnings.iter() {
                    self.line(&format!("warning: {w}"));
                }
                if !from_journal {
                    self.end_file(path);
                }
            }
            Event::FileFailed { path, error, retry } => {
                self.line(error);
                if *retry {
                    if let Some(r) = self.running.remove(*path) {
                        r.bar.finish_and_clear();
                        self.multi.remove(&r.bar);
                    }
                } else {
                    self.failed += 1;
                    self.end_file(path);
                }
            }
            Event::Warning { message, .. } => self.line(&format!("warning: {message}")),
            Event::BatchFinished {
                interrupted,
                pending,
                ..
            } => {
                self.overall.finish_and_clear();
                if *interrupted {
                    self.line(&format!(
                        "stopped: {pending} inputs not scanned; run the same command again to resume"
                    ));
                }
            }
            Event::Finding { .. } => {}
        }
    }

    fn progress(&mut self, path: &Path, decoded: u64) {
        if let Some(r) = self.running.get_mut(path) {
            self.decoded += decoded.saturating_sub(r.decoded);
            r.decoded = decoded;
            r.bar.set_position(decoded);
        }
        self.update();
    }
}
