//! Fuzz harnesses for the parsers of files a user hands to clearshot: written approvals
//! (`--approvals`), a gallery (`--gallery` may point at any file), a batch journal
//! (`--journal`) and the names of numbered image sequences (with `--seq-rate`).
//!
//! Each harness takes arbitrary bytes, runs them through the parser and then through what
//! clearshot does next with the result, and must never panic: an error is the only right
//! answer to bad input. Where a module documents a property of its output (an image
//! sequence's frame names round-trip through its pattern), the harness asserts it, so a
//! violation is a crash to the fuzzer like any other.
//!
//! The bodies live here rather than in `fuzz/` so that every `cargo test` builds them and
//! the tests below replay `fuzz/corpus/` plus a few thousand deterministic mutations through
//! them: the cargo-fuzz targets in `fuzz/fuzz_targets/` are one line each and cannot rot.

use crate::approvals::{Approval, Approvals};
use crate::batch::assemble::judge;
use crate::batch::journal::{self, Journal, Outcome};
use crate::batch::settings::parse_rate;
use crate::batch::setup::RunHeader;
use crate::face::embed::Embedding;
use crate::face::matching::Matcher;
use crate::face::track::Decision;
use crate::gallery::{Consent, ConsentRecord, Gallery};
use crate::media::sequence::{group, parse_numbered, ImageSequence, Input};
use crate::media::MediaInfo;
use crate::models::Metric;
use crate::policy::Severity;
use crate::report::{FileReport, Finding, GalleryRecord, ScanReport};
use crate::scan::RefSet;
use crate::timecode::{FrameRate, Timecode};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// sha256 of the face embedder the seed gallery was enrolled with (`dlib-resnet-v1` in
/// `models/manifest.json`), so the harness reads embeddings the way a scan does. The replay
/// test fails if the seed gallery stops holding embeddings under it.
const EMBEDDER_SHA256: &str = "a6bab1e0c8a5ad947c5be2475c6f2aeebe702941a5ed1a46b6548efbe3f2d031";

/// Frame rates a parsed approval is applied at: each file applies it at its own rate, while
/// the file is only checked at 60 fps, and drop-frame counting changes which labels exist.
const RATES: [(u32, u32); 6] = [
    (25, 1),
    (24000, 1001),
    (30000, 1001),
    (60000, 1001),
    (60, 1),
    (1, 1),
];

/// The file an approvals file is read from, as errors name it.
const APPROVALS_PATH: &str = "approvals.json";

/// Most approvals (and findings made for them) one input is applied to: enough to mix
/// names, files and ranges, bounded so one input stays fast.
const MAX_APPLIED: usize = 16;

/// Runs approvals-file text through [`Approvals::parse`] and applies what it accepts to
/// findings at several frame rates and start timecodes.
pub fn approvals(data: &[u8]) {
    let _ = approvals_read(data);
}

/// Opens arbitrary bytes as a gallery file, read-only (scans) and read-write (`gallery
/// list`/`remove`), and reads everything a scan reads: talent with consent, embeddings,
/// references with their enrollment data, and the state digest.
pub fn gallery(data: &[u8]) {
    let _ = gallery_read(data);
}

/// Opens arbitrary bytes as a batch journal (read-only, as shards are merged) and reads its
/// header, plan and every entry; each stored report is parsed, judged, approved and written
/// in every report format. The bytes are also parsed as one stored report by themselves.
pub fn journal(data: &[u8]) {
    let _ = journal_read(data);
}

/// Reads arbitrary bytes as file names, one per line (the first byte sets `min_len`), and
/// runs them through [`parse_numbered`], [`parse_rate`] and [`group`], checking what the
/// sequence module promises about the groups it makes.
pub fn sequence_names(data: &[u8]) {
    let _ = sequence_read(data);
}

/// How many approvals were accepted.
fn approvals_read(data: &[u8]) -> usize {
    // `load` refuses text that is not UTF-8 before parsing; lossy text reaches the parser.
    let text = String::from_utf8_lossy(data);
    let Ok(approvals) = Approvals::parse(&text, Path::new(APPROVALS_PATH)) else {
        return 0;
    };
    let names: Vec<&str> = approvals
        .list
        .iter()
        .take(MAX_APPLIED)
        .map(|a| a.who.as_str())
        .collect();
    for (num, den) in RATES {
        let Ok(rate) = FrameRate::new(num, den) else {
            continue;
        };
        for start in [0, 10 * 3600 * u64::from(rate.nominal())] {
            let mut report = sample_report(rate, start, &names);
            approvals.apply(&mut report);
        }
    }
    approvals.list.len()
}

/// A scanned file `/media/demo.mp4` at `rate` whose timecode starts at frame `start`, with
/// one talent finding per name spread over its first ten minutes.
fn sample_report(rate: FrameRate, start: u64, names: &[&str]) -> FileReport {
    let start_timecode = Timecode::from_frames(start, rate);
    let path = PathBuf::from("/media/demo.mp4");
    let minute = u64::from(rate.nominal()) * 60;
    let findings = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let first = i as u64 * minute / 2;
            let last = first + minute;
            let tc = |frame: u64| start_timecode.add_frames(frame).to_string();
            Finding {
                kind: "talent".into(),
                shot: i + 1,
                name: (*name).to_string(),
                identity: None,
                consent: Some(ConsentRecord {
                    consent: Consent::Denied,
                    scope: None,
                    expires: None,
                }),
                reference: None,
                severity: Severity::Escalate,
                reason: "consent denied".into(),
                first_frame: first,
                last_frame: last,
                tc_in: tc(first),
                tc_out: tc(last),
                frames_seen: 3,
                frames_matched: 3,
                largest_face_px: 120,
                distance: 0.3,
                threshold: 0.6,
                score: 0.75,
                best_frame: first,
                best_tc: tc(first),
                best_box: [10.0, 10.0, 120.0, 120.0],
                approval: None,
                evidence: None,
                appearances: Vec::new(),
                all_scores: None,
            }
        })
        .collect();
    FileReport {
        path: path.clone(),
        sha256: None,
        media: MediaInfo {
            path,
            container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            video_codec: "h264".into(),
            width: 1920,
            height: 1080,
            frame_rate: rate,
            frame_count: Some(minute * 10),
            duration_seconds: Some(600.0),
            start_timecode,
            timecode_source: None,
            is_still: false,
        },
        start_timecode: start_timecode.to_string(),
        frames_decoded: minute * 10,
        frames_sampled: 20,
        shots: Vec::new(),
        findings,
        warnings: Vec::new(),
        frames: None,
        sequence: None,
        provenance: None,
        unknown_tracks: Vec::new(),
    }
}

/// A private scratch folder for one input, removed with everything SQLite leaves beside a
/// database (`-wal`, `-shm`, `-journal`): SQLite opens files, not byte slices.
struct Scratch(PathBuf);

impl Scratch {
    /// A new empty folder under the system's temporary folder, unique in this process.
    fn new() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("clearshot-fuzz-{}-{n}", std::process::id()));
        // A killed earlier process with the same id may have left it behind.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).ok()?;
        Some(Self(dir))
    }

    /// Writes `data` to `name` in the folder.
    fn file(&self, name: &str, data: &[u8]) -> Option<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, data).ok()?;
        Some(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The day consent and approvals are judged on: fixed, so every run of an input agrees.
fn today() -> time::Date {
    time::macros::date!(2026 - 12 - 01)
}

/// How many records (people, embeddings, references, decoded reference images) were read.
fn gallery_read(data: &[u8]) -> usize {
    let Some(scratch) = Scratch::new() else {
        return 0;
    };
    let Some(path) = scratch.file("gallery.sqlite", data) else {
        return 0;
    };
    let mut read = 0;
    // Read-only first, on the bytes as given: a read-write open may upgrade the file.
    if let Ok(g) = Gallery::open_read_only(&path) {
        read += gallery_records(&g);
    }
    if let Ok(g) = Gallery::open(&path) {
        read += gallery_records(&g);
    }
    read
}

/// Reads `g` as a scan does and returns how many records it read.
fn gallery_records(g: &Gallery) -> usize {
    let mut read = 0;
    if let Ok(people) = g.talent(None) {
        for p in &people {
            for d in [Decision::Identified, Decision::Possible] {
                let _ = crate::policy::talent(&p.consent, today(), d);
            }
        }
        read += people.len();
    }
    if let Ok(people) = g.talent(Some(EMBEDDER_SHA256)) {
        read += people.iter().map(|p| p.embeddings.len()).sum::<usize>();
        // Stored embeddings meet a face of the embedder's own size (128-d).
        let face = Embedding(vec![0.088; 128]);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let m = Matcher::new(&people, metric, 0.6);
            for c in m.rank(&face) {
                let _ = (m.name(c.person), m.score(c.distance));
            }
        }
    }
    let _ = g.references(None);
    if let Ok(refs) = g.references(Some(crate::references::REF_FORMAT)) {
        for r in &refs {
            let _ = crate::policy::reference(&r.record, &[]);
        }
        read += refs.len();
        let (set, _unusable) = RefSet::new(refs);
        read += set.images.len();
    }
    let _ = g.state_digest();
    read
}

/// How many stored reports were read (from the journal, and the bytes as one report).
fn journal_read(data: &[u8]) -> usize {
    // A stored report is JSON text: give the report parser the bytes directly too, so the
    // fuzzer can work on the JSON without keeping a SQLite file valid around it.
    let mut read = report_read(&String::from_utf8_lossy(data), None, None);
    let Some(scratch) = Scratch::new() else {
        return read;
    };
    let Some(path) = scratch.file("journal.sqlite", data) else {
        return read;
    };
    let Ok(j) = Journal::open_read_only(&path) else {
        return read;
    };
    let header = j.header().ok().flatten();
    if let Some(h) = &header {
        let _ = h.key();
    }
    let plan = j.plan().ok().flatten().unwrap_or_default();
    let planned: Vec<String> = plan.inputs.iter().map(|p| p.key.clone()).collect();
    let inputs = j.inputs().unwrap_or_default();
    for input in inputs.iter().chain(&planned) {
        let Ok(Some(entry)) = j.get(input) else {
            continue;
        };
        if let Outcome::Done(text) = entry.outcome {
            read += report_read(&text, Some(Path::new(input)), header.as_ref());
        }
    }
    read
}

/// Parses one stored file report and does what a batch does with it: names it by `input`,
/// judges consent, applies approvals, and writes every report format. 1 when it parsed.
fn report_read(text: &str, input: Option<&Path>, header: Option<&RunHeader>) -> usize {
    let Ok(mut file) = journal::parse_report(text) else {
        return 0;
    };
    let path = input.map_or_else(|| file.path.clone(), Path::to_path_buf);
    let approvals = sample_approvals(&file);
    judge(
        &mut file,
        &path,
        &crate::batch::assemble::Judgement {
            date: today(),
            approvals: &approvals,
            approvals_path: None,
            ai: crate::policy::Severity::Escalate,
        },
    );
    let mut report = ScanReport {
        tool: "clearshot".into(),
        version: header.map_or_else(String::new, |h| h.version.clone()),
        command_line: vec!["clearshot".into(), "scan".into()],
        started: String::new(),
        finished: String::new(),
        models: header.map_or_else(Vec::new, |h| h.models.clone()),
        gallery: header.map_or_else(
            || GalleryRecord {
                path: PathBuf::from("gallery.sqlite"),
                state_sha256: String::new(),
                talent: 0,
                matchable: 0,
                references: 0,
            },
            |h| h.gallery.clone(),
        ),
        settings: header.map_or(serde_json::Value::Null, |h| h.settings.clone()),
        files: vec![file],
        failures: Vec::new(),
        incomplete: false,
        pending: Vec::new(),
        unknown_people: Vec::new(),
    };
    report.unknown_people = crate::unknown::group(
        &mut report.files,
        &crate::unknown::UnknownSettings::default(),
        crate::models::Metric::Euclidean,
    );
    let _ = serde_json::to_string(&report);
    let _ = crate::report::csv::render(&report);
    let _ = crate::report::edl::render(&report);
    let _ = crate::report::html::render(&report);
    let _ = crate::report::otio::render(&report);
    let _ = crate::report::table::render(&report.files, &report.failures);
    1
}

/// Approvals naming the report's own findings, with their timecodes as written, so the
/// report's timecode strings are parsed at its own rate.
fn sample_approvals(file: &FileReport) -> Approvals {
    Approvals {
        path: None,
        list: file
            .findings
            .iter()
            .take(MAX_APPLIED)
            .map(|f| Approval {
                who: f.name.clone(),
                file: None,
                from: Some(f.tc_in.clone()),
                to: Some(f.tc_out.clone()),
                reference: "FUZZ-1".into(),
                note: None,
            })
            .collect(),
    }
}

/// The file name bytes as a path (any bytes on Unix, as a file system allows).
#[cfg(unix)]
fn path_of(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// The file name bytes as a path (lossy text where paths must be Unicode).
#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// How many sequences [`group`] made.
fn sequence_read(data: &[u8]) -> usize {
    let Some((&first, rest)) = data.split_first() else {
        return 0;
    };
    // 0..=7 covers the floor of 2 and a few real minimums.
    let min_len = usize::from(first % 8);
    let lines: Vec<&[u8]> = rest.split(|b| *b == b'\n').collect();
    for line in &lines {
        let text = String::from_utf8_lossy(line);
        if let Some(n) = parse_numbered(&text) {
            // The name is exactly its parts: prefix, number at its width, dot, extension.
            let again = format!("{}{:0w$}.{}", n.prefix, n.number, n.ext, w = n.digits);
            assert_eq!(again, text, "parse_numbered split {text:?} into {n:?}");
        }
        if let Ok(rate) = parse_rate(&text) {
            // A sequence's frame number is read as a timecode at this rate.
            for frames in [0, 1001, 999_999_999] {
                let _ = Timecode::from_frames(frames, rate).to_string();
            }
        }
    }
    let files: Vec<PathBuf> = lines.iter().map(|l| path_of(l)).collect();
    let grouped = group(files.clone(), min_len);
    check_groups(&files, &grouped, min_len);
    let mut reversed = files;
    reversed.reverse();
    assert_eq!(
        group(reversed, min_len),
        grouped,
        "group depends on input order"
    );
    grouped
        .iter()
        .filter(|i| matches!(i, Input::Sequence(_)))
        .count()
}

/// Asserts what `media::sequence` documents about [`group`]'s output.
fn check_groups(files: &[PathBuf], grouped: &[Input], min_len: usize) {
    let mut seen = BTreeSet::new();
    for input in grouped {
        let _ = (input.path(), input.display_name());
        match input {
            Input::File(p) => {
                assert!(seen.insert(p.clone()), "{p:?} is in two inputs");
            }
            Input::Sequence(s) => {
                check_sequence(s, min_len);
                for (_, p) in &s.frames {
                    assert!(seen.insert(p.clone()), "{p:?} is in two inputs");
                }
            }
        }
    }
    // Every file given is in exactly one input (duplicates count once).
    let given: BTreeSet<PathBuf> = files.iter().cloned().collect();
    assert_eq!(seen, given, "group lost or invented files");
    let paths: Vec<PathBuf> = grouped.iter().map(Input::path).collect();
    assert!(paths.is_sorted(), "group's output is not sorted by path");
}

/// Asserts one sequence's documented properties and exercises its names.
fn check_sequence(s: &ImageSequence, min_len: usize) {
    assert!(s.frames.len() >= min_len.max(2), "short sequence {s:?}");
    assert!(
        s.frames.windows(2).all(|w| w[0].0 < w[1].0),
        "frames not sorted or duplicated: {s:?}"
    );
    for (n, p) in &s.frames {
        // Formatting a number at its sequence's width gives its file name back.
        let name = format!("{}{}.{}", s.prefix, s.format_number(*n), s.ext);
        assert_eq!(
            p.file_name().and_then(|f| f.to_str()),
            Some(name.as_str()),
            "frame {n} of {}",
            s.pattern()
        );
        assert_eq!(
            p.parent().unwrap_or(Path::new("")),
            s.dir,
            "frame {n} folder"
        );
    }
    let (first, last) = (s.first(), s.last());
    for (a, b) in s.gaps() {
        assert!(
            first < a && a <= b && b < last,
            "gap {a}-{b} outside {first}-{last}"
        );
    }
    let _ = (s.display_name(), s.path(), s.frame_count());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed corpus of one target.
    fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no seeds", dir.display());
        files
    }

    /// xorshift64: deterministic mutations without a random-number dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Bytes that make interesting edits: format boundaries, digits and separators.
    const INTERESTING: &[u8] = b"\x00\xff\x7f\x80\x01\n0159:;.\"{}[]-#/\\";

    /// One mutation of `seed`, like libFuzzer's simplest ones: flip bits, set bytes to
    /// boundary values, insert or delete bytes, truncate, or repeat a slice.
    fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut d = seed.to_vec();
        for _ in 0..=rng.below(4) {
            let len = d.len();
            match rng.below(6) {
                0 if len > 0 => {
                    let i = rng.below(len);
                    d[i] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let i = rng.below(len);
                    d[i] = INTERESTING[rng.below(INTERESTING.len())];
                }
                2 => {
                    let i = rng.below(len + 1);
                    d.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
                }
                3 if len > 0 => {
                    d.remove(rng.below(len));
                }
                4 => d.truncate(rng.below(len + 1)),
                _ if len > 0 => {
                    let a = rng.below(len);
                    let b = (a + 1 + rng.below(16)).min(len);
                    let slice = d[a..b].to_vec();
                    let at = rng.below(d.len() + 1);
                    d.splice(at..at, slice);
                }
                _ => d.push(b'0'),
            }
        }
        d
    }

    /// Runs every seed of `target` and `rounds` mutations of each through `harness`.
    fn replay(target: &str, rounds: usize, harness: fn(&[u8])) {
        let seeds = corpus(target);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (name, seed) in &seeds {
            harness(seed);
            for round in 0..rounds {
                let input = mutate(seed, &mut rng);
                // Name the input if the harness panics on it.
                let run = std::panic::catch_unwind(|| harness(&input));
                assert!(
                    run.is_ok(),
                    "{target}: mutation {round} of {name} panicked; input: {input:?}"
                );
            }
        }
    }

    #[test]
    fn approvals_replay() {
        replay("approvals", 1000, approvals);
    }

    #[test]
    fn gallery_replay() {
        replay("gallery", 150, gallery);
    }

    #[test]
    fn journal_replay() {
        replay("journal", 150, journal);
    }

    #[test]
    fn sequence_names_replay() {
        replay("sequence_names", 1000, sequence_names);
    }

    /// The real files in the corpus are read, not refused at the door: a format change that
    /// made them useless as seeds would fail here rather than quietly fuzz nothing.
    #[test]
    fn seeds_are_read_in_full() {
        for (name, seed) in corpus("approvals") {
            if name.starts_with("valid_") {
                assert!(approvals_read(&seed) > 0, "approvals/{name}");
            }
        }
        for (name, seed) in corpus("gallery") {
            if name.starts_with("valid_") {
                // 2 people + 2 embeddings + 1 reference + 1 decoded image, read twice.
                assert!(gallery_read(&seed) >= 12, "gallery/{name}");
            }
        }
        for (name, seed) in corpus("journal") {
            if name.starts_with("valid_") {
                assert!(journal_read(&seed) > 0, "journal/{name}");
            }
        }
        for (name, seed) in corpus("sequence_names") {
            if name.starts_with("valid_") {
                assert!(sequence_read(&seed) > 0, "sequence_names/{name}");
            }
        }
    }
}
