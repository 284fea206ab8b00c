//! Runs the inputs of a batch in worker processes, `jobs` at a time, as Apache Tika runs
//! its parsers: each worker is a child process of this one (the same binary, `clearshot
//! worker`) that loads the models once and scans one input per request. A worker that
//! crashes, passes the memory cap or stops making progress is killed and replaced, and the
//! input is retried once; only that input is affected.
//!
//! Workers are fenced: they die with this process (PR_SET_PDEATHSIG), sit in their own
//! process group (a terminal's Ctrl-C reaches only the supervisor, which decides), and have
//! their resident memory watched every 100 ms.

use super::protocol::{Reply, Request, WorkerConfig};
use super::BatchError;
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a single input may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Resident memory of a worker process, in bytes, before its input is stopped.
    pub max_memory: u64,
    /// Time without any progress before an input is stopped as hung.
    pub stall: Duration,
}

impl Limits {
    /// The limits for `jobs` workers on this machine: resident memory `max_memory`, else 80%
    /// of RAM shared by the jobs and at most 8 GiB each; `stall` seconds (default 120).
    pub fn for_machine(jobs: usize, max_memory: Option<u64>, stall: Option<f64>) -> Self {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(8 << 30, |kib| kib * 1024)
            .min(cgroup_memory_max().unwrap_or(u64::MAX));
        let share = (total as f64 * 0.8 / jobs.max(1) as f64) as u64;
        Self {
            max_memory: max_memory.unwrap_or(share.min(8 << 30)),
            stall: Duration::from_secs_f64(stall.unwrap_or(120.0).max(0.05)),
        }
    }
}

/// The memory limit of this process's cgroup (v2), as Slurm, Kubernetes and Docker set it:
/// a worker must be stopped by clearshot's cap, with its line, before the job's limit kills
/// the whole job.
fn cgroup_memory_max() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let file = std::path::Path::new("/sys/fs/cgroup")
        .join(rel.trim_start_matches('/'))
        .join("memory.max");
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Parses a size: `8G`, `800M`, `1.5G`, `1073741824`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("'{text}': use a size like 4G or 800M")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{text}': use a size like 4G or 800M"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("'{text}' is not a positive size"));
    }
    Ok((v * mult as f64) as u64)
}

/// Receives what the workers report, in the supervisor's thread.
pub trait Handler {
    /// An input is open (`frames` when known).
    fn started(&mut self, job: usize, frames: Option<u64>);
    /// Frames decoded so far.
    fn progress(&mut self, job: usize, decoded: u64);
    /// Scanned; `report` is the file report as JSON.
    fn done(&mut self, job: usize, report: &str, seconds: f64) -> Result<(), BatchError>;
    /// Could not be scanned (bad media): the one-line cause.
    fn failed(&mut self, job: usize, error: &str) -> Result<(), BatchError>;
    /// The worker died on it; returns true when the input is to be tried again.
    fn crashed(&mut self, job: usize, cause: &str) -> Result<bool, BatchError>;
    /// True once the user asked to stop.
    fn stop(&self) -> bool;
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Every input has an outcome.
    Complete,
    /// Stopped on request; running inputs were abandoned (they have no outcome).
    Interrupted,
}

enum Msg {
    Reply(usize, u64, Reply),
    Garbage(usize, u64, String),
    Eof(usize, u64),
}

struct Running {
    req: Request,
    last_heard: Instant,
}

struct Slot {
    generation: u64,
    child: Child,
    stdin: Option<ChildStdin>,
    ready: bool,
    running: Option<Running>,
    /// Why the supervisor killed it, if it did.
    killed: Option<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// Starts and watches worker processes.
pub struct Supervisor {
    exe: PathBuf,
    config: String,
    jobs: usize,
    limits: Limits,
    generation: u64,
}

impl Supervisor {
    /// Workers run `exe worker` with `config`; at most `jobs` at once.
    pub fn new(
        exe: PathBuf,
        config: &WorkerConfig,
        jobs: usize,
        limits: Limits,
    ) -> Result<Self, BatchError> {
        let config =
            serde_json::to_string(config).map_err(|e| BatchError::Settings(e.to_string()))?;
        Ok(Self {
            exe,
            config,
            jobs: jobs.max(1),
            limits,
            generation: 0,
        })
    }

    /// Scans `queue` (job number and input), reporting to `handler`.
    pub fn run(
        &mut self,
        queue: Vec<Request>,
        handler: &mut dyn Handler,
    ) -> Result<Finish, BatchError> {
        let mut queue: VecDeque<Request> = queue.into();
        let (tx, rx) = unbounded::<Msg>();
        let mut slots: Vec<Option<Slot>> = Vec::new();
        for i in 0..self.jobs.min(queue.len()) {
            slots.push(Some(self.spawn(i, &tx)?));
        }
        let result = self.event_loop(&mut queue, &mut slots, &tx, &rx, handler);
        for slot in slots.iter_mut().flatten() {
            slot.stdin = None;
            if result.is_err() || matches!(result, Ok(Finish::Interrupted)) {
                let _ = slot.child.kill();
            }
            let _ = slot.child.wait();
        }
        result
    }

    fn event_loop(
        &mut self,
        queue: &mut VecDeque<Request>,
        slots: &mut [Option<Slot>],
        tx: &Sender<Msg>,
        rx: &Receiver<Msg>,
        handler: &mut dyn Handler,
    ) -> Result<Finish, BatchError> {
        loop {
            if handler.stop() {
                return Ok(Finish::Interrupted);
            }
            // Hand out work; let idle workers go when there is none.
            for slot in slots.iter_mut().flatten() {
                if !slot.ready || slot.running.is_some() {
                    continue;
                }
                match queue.pop_front() {
                    Some(req) => {
                        let mut line = serde_json::to_vec(&req)
                            .map_err(|e| BatchError::Settings(e.to_string()))?;
                        line.push(b'\n');
                        let sent = slot
                            .stdin
                            .as_mut()
                            .is_some_and(|s| s.write_all(&line).and_then(|_| s.flush()).is_ok());
                        slot.running = Some(Running {
                            req,
                            last_heard: Instant::now(),
                        });
                        if !sent {
                            // It died meanwhile: its end of file will come as a crash of
                            // this job, which is then retried.
                            let _ = slot.child.kill();
                        }
                    }
                    None => slot.stdin = None,
                }
            }
            let busy = slots
                .iter()
                .flatten()
                .any(|s| s.running.is_some() || !s.ready);
            if queue.is_empty() && !busy {
                return Ok(Finish::Complete);
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Reply(i, generation, reply)) => {
                    let Some(slot) = slots[i].as_mut().filter(|s| s.generation == generation)
                    else {
                        continue;
                    };
                    handle_reply(slot, reply, handler)?;
                }
                Ok(Msg::Garbage(i, generation, line)) => {
                    if let Some(slot) = slots[i].as_mut().filter(|s| s.generation == generation) {
                        slot.killed =
                            Some(format!("worker wrote something unexpected: {line:.80}"));
                        let _ = slot.child.kill();
                    }
                }
                Ok(Msg::Eof(i, generation)) => {
                    let Some(mut slot) = slots[i].take_if(|s| s.generation == generation) else {
                        continue;
                    };
                    let status = slot.child.wait().ok();
                    let cause = slot.killed.take().unwrap_or_else(|| {
                        death_cause(
                            status,
                            &slot.stderr.lock().map(|t| t.clone()).unwrap_or_default(),
                        )
                    });
                    if !slot.ready {
                        return Err(BatchError::WorkerStart(cause));
                    }
                    if let Some(run) = slot.running.take() {
                        let cause = format!("the scan crashed ({cause})");
                        if handler.crashed(run.req.job, &cause)? {
                            // Tried again after the rest; the handler decides when to give up.
                            queue.push_back(run.req);
                        }
                    }
                    if !queue.is_empty() {
                        slots[i] = Some(self.spawn(i, tx)?);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(Finish::Complete),
            }
            self.watch(slots);
        }
    }

    /// Kills workers whose input passed the memory cap or stopped making progress.
    fn watch(&self, slots: &mut [Option<Slot>]) {
        for slot in slots.iter_mut().flatten() {
            let Some(run) = &slot.running else { continue };
            if slot.killed.is_some() {
                continue;
            }
            let rss = resident_bytes(slot.child.id());
            if rss > self.limits.max_memory {
                slot.killed = Some(format!(
                    "needed more than {} of memory (--max-memory); stopped",
                    human_bytes(self.limits.max_memory)
                ));
            } else if run.last_heard.elapsed() > self.limits.stall {
                slot.killed = Some(format!(
                    "no progress for {} s (--stall-timeout); stopped",
                    self.limits.stall.as_secs_f64()
                ));
            }
            if slot.killed.is_some() {
                let _ = slot.child.kill();
            }
        }
    }

    fn spawn(&mut self, index: usize, tx: &Sender<Msg>) -> Result<Slot, BatchError> {
        self.generation += 1;
        let generation = self.generation;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        fence(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| BatchError::WorkerStart(format!("{}: {e}", self.exe.display())))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(BatchError::WorkerStart("no pipes to the worker".into()));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        {
            let tail = Arc::clone(&tail);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == 20 {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            });
        }
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let msg = match serde_json::from_str::<Reply>(&line) {
                        Ok(r) => Msg::Reply(index, generation, r),
                        Err(_) => Msg::Garbage(index, generation, line),
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Msg::Eof(index, generation));
            });
        }
        let mut line = self.config.clone().into_bytes();
        line.push(b'\n');
        // A worker that dies at once is reported through its end of file.
        let _ = stdin.write_all(&line).and_then(|_| stdin.flush());
        Ok(Slot {
            generation,
            child,
            stdin: Some(stdin),
            ready: false,
            running: None,
            killed: None,
            stderr: tail,
        })
    }
}

fn handle_reply(
    slot: &mut Slot,
    reply: Reply,
    handler: &mut dyn Handler,
) -> Result<(), BatchError> {
    let job = slot.running.as_ref().map(|r| r.req.job);
    if let Some(run) = slot.running.as_mut() {
        run.last_heard = Instant::now();
    }
    match reply {
        Reply::Ready => slot.ready = true,
        Reply::Started { job: j, frames } if Some(j) == job => handler.started(j, frames),
        Reply::Progress { job: j, decoded } if Some(j) == job => handler.progress(j, decoded),
        Reply::Done {
            job: j,
            report,
            seconds,
        } if Some(j) == job => {
            slot.running = None;
            handler.done(j, report.get(), seconds)?;
        }
        Reply::Failed { job: j, error } if Some(j) == job => {
            slot.running = None;
            handler.failed(j, &error)?;
        }
        _ => {
            slot.killed = Some("worker answered about another input".into());
            let _ = slot.child.kill();
        }
    }
    Ok(())
}

/// Why a worker ended, in a few words: the signal, or the exit status and the panic
/// message or last line it printed.
fn death_cause(status: Option<std::process::ExitStatus>, stderr: &VecDeque<String>) -> String {
    let said = stderr
        .iter()
        .position(|l| l.contains("panicked at"))
        .and_then(|i| stderr.get(i + 1))
        .map(|m| format!("panic: {}", m.trim()))
        .or_else(|| {
            stderr
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
                .map(|l| l.trim().trim_start_matches("clearshot: ").to_string())
        });
    let how = match status {
        #[cfg(unix)]
        Some(s) if std::os::unix::process::ExitStatusExt::signal(&s).is_some() => {
            let sig = std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0);
            format!("killed by signal {sig}{}", signal_name(sig))
        }
        Some(s) => match s.code() {
            Some(c) => format!("exit status {c}"),
            None => "ended".to_string(),
        },
        None => "ended".to_string(),
    };
    match said {
        Some(m) => format!("{how}: {m}"),
        None => how,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// Resident memory of a process, from /proc (0 where there is none to read).
fn resident_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// `8.0 GiB`, `512 MiB`.
pub fn human_bytes(b: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if b as f64 >= GIB {
        format!("{:.1} GiB", b as f64 / GIB)
    } else {
        format!("{} MiB", b / (1024 * 1024))
    }
}

/// Puts the worker in its own process group and has the kernel kill it when this process
/// dies (even by SIGKILL), so no worker outlives its supervisor.
#[cfg(target_os = "linux")]
fn fence(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec and only makes two
    // async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn fence(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

#[cfg(not(unix))]
fn fence(_cmd: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn death_causes_read_as_one_line() {
        let tail: VecDeque<String> = [
            "thread 'main' panicked at src/x.rs:1:1:",
            "index out of bounds",
            "note: run with `RUST_BACKTRACE=1`",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            death_cause(None, &tail),
            "ended: panic: index out of bounds"
        );
        let tail: VecDeque<String> = ["clearshot: ONNX Runtime not found".to_string()].into();
        assert_eq!(death_cause(None, &tail), "ended: ONNX Runtime not found");
        assert_eq!(human_bytes(8 << 30), "8.0 GiB");
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("800m"), Ok(800 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err() && parse_size("12X").is_err() && parse_size("G").is_err());
        assert_eq!(human_bytes(300 << 20), "300 MiB");
        assert!(resident_bytes(std::process::id()) > 1 << 20);
    }
}
