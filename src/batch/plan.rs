//! The plan: what a batch scans, from the paths on the command line. Folders are walked
//! (sorted, hidden entries skipped, symlinks followed with loops detected and reported),
//! files named directly are always tried, the same file reached twice is scanned once, and
//! each input gets the key its journal entry is stored under (its canonical path).

use crate::report::FileFailure;
use std::path::{Path, PathBuf};

pub use crate::media::Input;

/// How messages name an input: its path, or the sequence's folder and pattern with its range.
pub fn label(input: &Input) -> String {
    match input {
        Input::File(p) => p.display().to_string(),
        Input::Sequence(s) => format!(
            "{} [{}-{}]",
            s.path().display(),
            s.format_number(s.first()),
            s.format_number(s.last())
        ),
    }
}

/// The files an input is made of.
pub fn files(input: &Input) -> Vec<PathBuf> {
    match input {
        Input::File(p) => vec![p.clone()],
        Input::Sequence(s) => s.frames.iter().map(|(_, p)| p.clone()).collect(),
    }
}

/// An input with what the batch needs to know about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Planned {
    /// What to scan.
    pub input: Input,
    /// Journal key: the canonical path (the path as given when it cannot be resolved).
    pub key: String,
    /// Bytes on disk (for progress).
    pub bytes: u64,
}

/// Everything a batch will scan, in order, and the paths that cannot be scanned at all.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// Inputs in scan order: command-line order, folders walked in name order.
    pub inputs: Vec<Planned>,
    /// Paths that are not inputs (unreadable folders, symlink loops), one line each.
    pub problems: Vec<FileFailure>,
}

/// Media file types picked up when walking a folder (named files are always tried).
pub const MEDIA_EXT: &[&str] = &[
    "mp4", "mov", "mxf", "mkv", "avi", "m4v", "mts", "m2ts", "ts", "webm", "mpg", "mpeg", "y4m",
    "png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "dpx", "exr",
];

fn is_media(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXT.contains(&e.to_ascii_lowercase().as_str()))
}

/// Plans a batch over `paths`; with `sequences`, numbered stills of one folder become one
/// clip each (see [`crate::media::sequence`]), placed where their first frame was.
pub fn plan(paths: &[PathBuf], sequences: bool) -> Plan {
    let mut plan = Plan::default();
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut found, &mut plan.problems);
        } else {
            found.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(key_of(f)));
    let inputs: Vec<Input> = if sequences {
        let order: std::collections::HashMap<&PathBuf, usize> =
            found.iter().enumerate().map(|(i, f)| (f, i)).collect();
        let mut grouped = crate::media::sequence::group(found.clone(), 2);
        grouped.sort_by_key(|i| {
            files(i)
                .first()
                .and_then(|f| order.get(f).copied())
                .unwrap_or(usize::MAX)
        });
        grouped
    } else {
        found.into_iter().map(Input::File).collect()
    };
    for input in inputs {
        let key = match &input {
            Input::File(f) => key_of(f),
            Input::Sequence(s) => key_of(&s.dir).clone() + "/" + &s.pattern(),
        };
        let bytes = files(&input)
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        plan.inputs.push(Planned { input, key, bytes });
    }
    plan
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<FileFailure>) {
    let hidden =
        |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    let entries = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !hidden(e));
    for entry in entries {
        match entry {
            Ok(e) if e.file_type().is_file() && is_media(e.path()) => out.push(e.into_path()),
            Ok(_) => {}
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let error = match e.loop_ancestor() {
                    Some(a) => format!(
                        "{}: symlink loop (back to {}); not followed",
                        path.display(),
                        a.display()
                    ),
                    None => format!(
                        "{}: cannot read ({})",
                        path.display(),
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    ),
                };
                problems.push(FileFailure { path, error });
            }
        }
    }
}

/// The journal key of a path: canonical when it resolves.
pub fn key_of(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// What identifies the input's bytes without reading them: device, inode, size and
/// modification time (nanoseconds) of each file; `missing` when a file cannot be read.
pub fn identity(input: &Input) -> String {
    let mut parts = Vec::new();
    for f in files(input) {
        parts.push(match std::fs::metadata(&f) {
            Ok(m) => stat_identity(&m),
            Err(_) => "missing".to_string(),
        });
    }
    parts.join(",")
}

#[cfg(unix)]
fn stat_identity(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )
}

#[cfg(not(unix))]
fn stat_identity(m: &std::fs::Metadata) -> String {
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}:{}", m.len(), mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_walk_sorted_skip_hidden_and_survive_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/sub")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in [
            "b/2.mp4",
            "b/1.MOV",
            "b/sub/x.png",
            "b/notes.txt",
            ".hidden/y.mp4",
            "a.mp4",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("b"), d.join("b/sub/loop")).unwrap();
        let p = plan(&[d.join("b"), d.join("a.mp4"), d.join("b/2.mp4")], true);
        let names: Vec<String> = p
            .inputs
            .iter()
            .map(|i| {
                i.input
                    .path()
                    .strip_prefix(d)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        // b/2.mp4 named again is scanned once.
        assert_eq!(names, ["b/1.MOV", "b/2.mp4", "b/sub/x.png", "a.mp4"]);
        #[cfg(unix)]
        {
            assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
            assert!(p.problems[0].error.contains("symlink loop"));
            assert!(!p.problems[0].error.contains('\n'));
        }
    }

    #[test]
    fn identity_changes_with_the_file_and_marks_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.mp4");
        std::fs::write(&f, b"one").unwrap();
        let input = Input::File(f.clone());
        let before = identity(&input);
        assert_eq!(before, identity(&input));
        std::fs::write(&f, b"three").unwrap();
        assert_ne!(before, identity(&input));
        std::fs::remove_file(&f).unwrap();
        assert_eq!(identity(&input), "missing");
    }
}

/// Which share of a batch one task of an array scans: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    /// Tasks in the array.
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `I/N` (0 <= I < N), or `auto`: the index from `SLURM_ARRAY_TASK_ID` (less
    /// `SLURM_ARRAY_TASK_MIN`) or Kubernetes' `JOB_COMPLETION_INDEX`, the count from
    /// `SLURM_ARRAY_TASK_COUNT`; `CLEARSHOT_SHARD_COUNT`, when set, is the count and makes
    /// `SLURM_ARRAY_TASK_ID` the index as it is (0-based arrays).
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let num = |name: &str| -> Result<Option<usize>, String> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("--shard auto: {name}={v} is not a number"))
                })
                .transpose()
        };
        let (index, count) = if text == "auto" {
            // CLEARSHOT_SHARD_COUNT names the whole array's size: then a task resubmitted
            // alone (`sbatch --array=K`, whose own array has one task) still scans shard K.
            let fixed = num("CLEARSHOT_SHARD_COUNT")?;
            let index = match num("SLURM_ARRAY_TASK_ID")? {
                Some(id) if fixed.is_some() => id,
                Some(id) => id.checked_sub(num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0)).ok_or(
                    "--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN".to_string(),
                )?,
                None => num("JOB_COMPLETION_INDEX")?.ok_or(
                    "--shard auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; pass --shard I/N",
                )?,
            };
            let count = match (fixed, num("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(c), _) | (None, Some(c)) => c,
                (None, None) => {
                    return Err(
                        "--shard auto: no SLURM_ARRAY_TASK_COUNT or CLEARSHOT_SHARD_COUNT; pass --shard I/N"
                            .into(),
                    )
                }
            };
            (index, count)
        } else {
            let bad = || format!("--shard {text}: expected I/N with 0 <= I < N, or auto");
            let (i, n) = text.split_once('/').ok_or_else(bad)?;
            (
                i.trim().parse().map_err(|_| bad())?,
                n.trim().parse().map_err(|_| bad())?,
            )
        };
        if count == 0 || index >= count {
            return Err(format!(
                "--shard {index}/{count}: the index must be below the count (0-based)"
            ));
        }
        Ok(Self { index, count })
    }

    /// Which shard each input goes to: a pure function of the inputs (keys and sizes), the
    /// same on every task. Largest first, each to the shard with the fewest bytes so far
    /// (ties to the lower shard), keys breaking ties between equal sizes.
    pub fn assign(count: usize, inputs: &[Planned]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|&a, &b| {
            inputs[b]
                .bytes
                .cmp(&inputs[a].bytes)
                .then_with(|| inputs[a].key.cmp(&inputs[b].key))
        });
        let mut load = vec![0u64; count.max(1)];
        let mut to = vec![0; inputs.len()];
        for i in order {
            let (s, _) = load
                .iter()
                .enumerate()
                .min_by_key(|&(s, l)| (*l, s))
                .unwrap_or((0, &0));
            load[s] += inputs[i].bytes.max(1);
            to[i] = s;
        }
        to
    }

    /// This shard's inputs, in plan order.
    pub fn select(&self, inputs: &[Planned]) -> Vec<Planned> {
        let to = Self::assign(self.count, inputs);
        inputs
            .iter()
            .zip(to)
            .filter(|(_, s)| *s == self.index)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    fn planned(key: &str, bytes: u64) -> Planned {
        Planned {
            input: Input::File(PathBuf::from(key)),
            key: key.into(),
            bytes,
        }
    }

    #[test]
    fn shards_cover_every_input_once_balanced_by_size_whatever_the_order() {
        let inputs: Vec<Planned> = (0..20)
            .map(|i| planned(&format!("/f{i:02}"), 1000 + (i * 37 % 11) * 500))
            .collect();
        let mut seen = Vec::new();
        let mut loads = Vec::new();
        for index in 0..3 {
            let s = Shard { index, count: 3 }.select(&inputs);
            loads.push(s.iter().map(|p| p.bytes).sum::<u64>());
            seen.extend(s.into_iter().map(|p| p.key));
        }
        seen.sort();
        let mut all: Vec<String> = inputs.iter().map(|p| p.key.clone()).collect();
        all.sort();
        assert_eq!(seen, all);
        let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
        assert!(hi - lo <= 6000, "{loads:?}");
        // Arrival order does not matter: the same shard gets the same inputs.
        let mut reversed = inputs.clone();
        reversed.reverse();
        let keys = |v: Vec<Planned>| {
            let mut k: Vec<String> = v.into_iter().map(|p| p.key).collect();
            k.sort();
            k
        };
        let s = Shard { index: 1, count: 3 };
        assert_eq!(keys(s.select(&inputs)), keys(s.select(&reversed)));
    }

    #[test]
    fn shard_flags_parse_and_read_the_array_task() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse("1/3", &none), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "0/0", "x/2", "2", "-1/2", "auto"] {
            assert!(Shard::parse(bad, &none).is_err(), "{bad}");
        }
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("4".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse("auto", &slurm),
            Ok(Shard { index: 1, count: 3 })
        );
        let k8s = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("2".to_string()),
            "CLEARSHOT_SHARD_COUNT" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("auto", &k8s), Ok(Shard { index: 2, count: 4 }));
        // Task 1 of 3 resubmitted alone: its own array is 1..=1 of one task.
        let again = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" | "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("1".to_string()),
            "CLEARSHOT_SHARD_COUNT" => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse("auto", &again),
            Ok(Shard { index: 1, count: 3 })
        );
    }
}
