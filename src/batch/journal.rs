//! The journal: one SQLite file per batch that holds each finished file's full report (or
//! its failure) the moment it is done, committed with fsync before the next result is
//! counted. Running the same command again reuses every entry whose key still holds and
//! scans the rest; `--fresh` empties it first.
//!
//! An entry is keyed by what makes the result valid: the input (its canonical path), the
//! file's identity (device, inode, size and modification time; for an image sequence, those
//! of every frame) with the content hash recorded beside it, and the run key (tool version,
//! models, gallery state, settings; see [`RunHeader::key`]). A file is trusted unchanged
//! when its identity is (as make, rsync and git do); a changed identity means a new scan.
//!
//! A done entry's evidence images are rows of their own (keyed by their SHA-256 and the
//! input), written in the same transaction as the report that refers to them, so no process
//! needs to hold a whole file's images at once.
//!
//! The file is private (mode 0600): reports hold evidence crops of faces, which are
//! biometric data. It is locked while a batch runs, so two scans never share one.

use super::plan::Plan;
use super::setup::RunHeader;
use crate::evidence::EvidenceStore;
use crate::report::FileReport;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The journal's format marker.
const FORMAT: &str = "clearshot-journal-1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entry (
  input TEXT PRIMARY KEY,
  identity TEXT NOT NULL,
  run_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'crashed')),
  attempts INTEGER NOT NULL,
  report TEXT,
  error TEXT,
  recorded TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
  sha256 TEXT NOT NULL,
  input TEXT NOT NULL,
  jpeg BLOB NOT NULL,
  PRIMARY KEY (sha256, input)
);
CREATE INDEX IF NOT EXISTS evidence_input ON evidence (input);
";

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed (disk full, permissions, ...).
    #[error("{path}: journal: {cause}")]
    Db {
        /// Journal path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
    /// The file is not a clearshot journal.
    #[error("{path}: not a clearshot journal ({cause}); pass another --journal")]
    NotAJournal {
        /// Journal path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
    /// Another clearshot holds it.
    #[error("{path}: journal in use by another clearshot process; wait for it, or pass another --journal")]
    Busy {
        /// Journal path.
        path: PathBuf,
    },
}

/// What the journal holds for one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Scanned: the file report as JSON (exactly as the worker made it).
    Done(String),
    /// Could not be scanned, with the one-line cause.
    Failed(String),
    /// The worker died on it `attempts` times (retried while under the limit).
    Crashed {
        /// Deaths so far.
        attempts: u32,
        /// The last cause.
        cause: String,
    },
}

/// One input's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// File identity when it was recorded.
    pub identity: String,
    /// Run key when it was recorded.
    pub run_key: String,
    /// What happened.
    pub outcome: Outcome,
}

/// An open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// Opened for writing (and switched to WAL).
    writer: bool,
}

impl Drop for Journal {
    /// Folds the write-ahead log back into the one file when the scan closes it cleanly, so
    /// the journal is a single self-contained file that a merge can read from a read-only
    /// folder (a killed scan leaves its log beside it; nothing committed is lost either way).
    fn drop(&mut self) {
        if self.writer {
            let _ = self
                .conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;");
        }
    }
}

impl Journal {
    /// Opens the journal at `path`, creating it (private, and its folder) if needed, and
    /// takes its lock for this process.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let db = |e: &dyn std::fmt::Display| JournalError::Db {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| db(&e))?;
            }
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            // Another process may have created it in between: then it is theirs to fill.
            if let Err(e) = o.open(path) {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(db(&e));
                }
            }
        }
        let conn = Connection::open(path).map_err(|e| db(&e))?;
        Self::prepare(conn, path, false)
    }

    /// Opens an existing journal to read it (merging shards); never writes or locks it.
    pub fn open_read_only(path: &Path) -> Result<Self, JournalError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| JournalError::Db {
                path: path.to_path_buf(),
                cause: e.to_string(),
            })?;
        Self::prepare(conn, path, true)
    }

    /// A journal that lives as long as the process (spot checks keep none): SQLite's
    /// private temporary database, which goes to a temporary file once it outgrows its
    /// cache (evidence images of a long file), and is deleted when closed.
    pub fn in_memory() -> Result<Self, JournalError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open("").map_err(|e| JournalError::Db {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        Self::prepare(conn, &path, false)
    }

    fn prepare(conn: Connection, path: &Path, read_only: bool) -> Result<Self, JournalError> {
        let not_journal = |cause: String| JournalError::NotAJournal {
            path: path.to_path_buf(),
            cause,
        };
        let busy = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                JournalError::Busy {
                    path: path.to_path_buf(),
                }
            }
            _ => not_journal(e.to_string()),
        };
        if !read_only {
            // EXCLUSIVE locking keeps a second clearshot out for as long as this one runs.
            conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")
                .map_err(busy)?;
        }
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(busy)?;
        let mut j = Self {
            conn,
            path: path.to_path_buf(),
            writer: false,
        };
        // A journal holds tables only (a view or trigger could make a read run forever).
        let foreign: i64 = j
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('view', 'trigger')",
                [],
                |r| r.get(0),
            )
            .map_err(busy)?;
        if foreign > 0 {
            return Err(not_journal("it holds views or triggers".into()));
        }
        if tables == 0 {
            if read_only {
                return Err(not_journal("empty".into()));
            }
            j.conn
                .execute_batch(&format!(
                    "BEGIN EXCLUSIVE; {SCHEMA} INSERT INTO meta VALUES ('format', '{FORMAT}'); COMMIT;"
                ))
                .map_err(busy)?;
        } else {
            let format: Option<String> = j
                .conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| not_journal(e.to_string()))?;
            if format.as_deref() != Some(FORMAT) {
                return Err(not_journal("no clearshot journal marker".into()));
            }
        }
        if !read_only {
            // Only now that the file is known to be ours: WAL with synchronous=FULL, so every
            // commit is on disk (fsync) when it returns and a power cut loses at most the
            // entry being written.
            j.conn
                .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
                .map_err(busy)?;
            // Journals made before evidence had rows of its own get the table now.
            j.conn.execute_batch(SCHEMA).map_err(busy)?;
            j.writer = path != Path::new(":memory:");
        }
        Ok(j)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |e| JournalError::Db {
            path: self.path.clone(),
            cause: e.to_string(),
        }
    }

    /// Forgets every entry (`--fresh`).
    pub fn clear(&mut self) -> Result<(), JournalError> {
        self.conn
            .execute_batch(
                "DELETE FROM entry; DELETE FROM evidence; DELETE FROM meta WHERE key != 'format';",
            )
            .map_err(self.db())
    }

    /// Records what the batch runs with and its whole plan (every input, before sharding),
    /// so the journal alone can make the reports.
    pub fn set_batch(&mut self, header: &RunHeader, plan: &Plan) -> Result<(), JournalError> {
        let header = serde_json::to_string(header).unwrap_or_default();
        let problems = serde_json::to_string(&plan.problems).unwrap_or_default();
        let plan = serde_json::to_string(&plan.inputs).unwrap_or_default();
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| JournalError::Db {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        for (k, v) in [("header", header), ("plan", plan), ("problems", problems)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![k, v],
            )
            .map_err(|e| JournalError::Db {
                path: path.clone(),
                cause: e.to_string(),
            })?;
        }
        tx.commit().map_err(|e| JournalError::Db {
            path,
            cause: e.to_string(),
        })
    }

    /// Sets one free-form meta value (e.g. the shard).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(self.db())
    }

    /// One meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.db())
    }

    /// The run header recorded by [`Journal::set_batch`].
    pub fn header(&self) -> Result<Option<RunHeader>, JournalError> {
        match self.meta("header")? {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| JournalError::NotAJournal {
                        path: self.path.clone(),
                        cause: format!("unreadable header: {e}"),
                    })
            }
        }
    }

    /// The plan recorded by [`Journal::set_batch`].
    pub fn plan(&self) -> Result<Option<Plan>, JournalError> {
        let bad = |e: serde_json::Error| JournalError::NotAJournal {
            path: self.path.clone(),
            cause: format!("unreadable plan: {e}"),
        };
        let Some(inputs) = self.meta("plan")? else {
            return Ok(None);
        };
        let problems = match self.meta("problems")? {
            Some(p) => serde_json::from_str(&p).map_err(bad)?,
            None => Vec::new(),
        };
        Ok(Some(Plan {
            inputs: serde_json::from_str(&inputs).map_err(bad)?,
            problems,
        }))
    }

    /// The entry for `input`, if any.
    pub fn get(&self, input: &str) -> Result<Option<Entry>, JournalError> {
        self.conn
            .query_row(
                "SELECT identity, run_key, status, attempts, report, error FROM entry WHERE input = ?1",
                [input],
                |r| {
                    let status: String = r.get(2)?;
                    let attempts: u32 = r.get(3)?;
                    let report: Option<String> = r.get(4)?;
                    let error: Option<String> = r.get(5)?;
                    Ok(Entry {
                        identity: r.get(0)?,
                        run_key: r.get(1)?,
                        outcome: match status.as_str() {
                            "done" => Outcome::Done(report.unwrap_or_default()),
                            "failed" => Outcome::Failed(error.unwrap_or_default()),
                            _ => Outcome::Crashed {
                                attempts,
                                cause: error.unwrap_or_default(),
                            },
                        },
                    })
                },
            )
            .optional()
            .map_err(self.db())
    }

    /// Every input with an entry, in input order.
    pub fn inputs(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT input FROM entry ORDER BY input")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    /// Records `input`'s outcome, durably (the commit is fsynced before this returns).
    pub fn put(&mut self, input: &str, entry: &Entry) -> Result<(), JournalError> {
        self.begin(input)?.commit(entry)
    }

    /// Starts recording `input`'s outcome: its earlier evidence images are dropped, new ones
    /// are added with [`EntryWriter::add_image`], and nothing is kept unless
    /// [`EntryWriter::commit`] is reached.
    pub fn begin(&mut self, input: &str) -> Result<EntryWriter<'_>, JournalError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_error(&path, e))?;
        tx.execute("DELETE FROM evidence WHERE input = ?1", [input])
            .map_err(|e| db_error(&path, e))?;
        Ok(EntryWriter {
            tx,
            input: input.to_string(),
            path,
        })
    }

    /// The evidence image stored under `sha256`, if any.
    fn image(&self, sha256: &str) -> Result<Option<Vec<u8>>, JournalError> {
        self.conn
            .query_row(
                "SELECT jpeg FROM evidence WHERE sha256 = ?1 LIMIT 1",
                [sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())
    }
}

fn db_error(path: &Path, e: rusqlite::Error) -> JournalError {
    JournalError::Db {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

/// One input's outcome being recorded (see [`Journal::begin`]).
pub struct EntryWriter<'a> {
    tx: rusqlite::Transaction<'a>,
    input: String,
    path: PathBuf,
}

impl EntryWriter<'_> {
    /// Stores one evidence image of the entry; returns its SHA-256 (hex), which the report
    /// refers to it by.
    pub fn add_image(&mut self, jpeg: &[u8]) -> Result<String, JournalError> {
        let sha = crate::evidence::sha256_hex(jpeg);
        self.tx
            .execute(
                "INSERT OR IGNORE INTO evidence (sha256, input, jpeg) VALUES (?1, ?2, ?3)",
                params![sha, self.input, jpeg],
            )
            .map_err(|e| db_error(&self.path, e))?;
        Ok(sha)
    }

    /// Records the outcome and commits everything (fsynced before this returns).
    pub fn commit(self, entry: &Entry) -> Result<(), JournalError> {
        let (status, attempts, report, error) = match &entry.outcome {
            Outcome::Done(r) => ("done", 0, Some(r.as_str()), None),
            Outcome::Failed(e) => ("failed", 0, None, Some(e.as_str())),
            Outcome::Crashed { attempts, cause } => {
                ("crashed", *attempts, None, Some(cause.as_str()))
            }
        };
        let fail = |e| db_error(&self.path, e);
        self.tx
            .execute(
                "INSERT INTO entry (input, identity, run_key, status, attempts, report, error, recorded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, datetime('now'))
                 ON CONFLICT(input) DO UPDATE SET identity = excluded.identity,
                   run_key = excluded.run_key, status = excluded.status,
                   attempts = excluded.attempts, report = excluded.report,
                   error = excluded.error, recorded = excluded.recorded",
                params![self.input, entry.identity, entry.run_key, status, attempts, report, error],
            )
            .map_err(fail)?;
        self.tx.commit().map_err(fail)
    }
}

/// A journal the report writers read evidence images from (after the scan, or in a merge).
pub struct JournalStore(std::sync::Mutex<Journal>);

impl JournalStore {
    /// Shares `journal` as an evidence store.
    pub fn new(journal: Journal) -> Self {
        Self(std::sync::Mutex::new(journal))
    }

    /// Runs `f` on the journal.
    pub fn with<R>(&self, f: impl FnOnce(&Journal) -> R) -> R {
        // A panic while holding the lock leaves the journal as SQLite left it: still usable.
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }
}

impl EvidenceStore for JournalStore {
    fn jpeg(&self, sha256: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|j| j.image(sha256)).map_err(|e| e.to_string())
    }
}

/// Reads a file report stored by [`Journal::put`].
pub fn parse_report(text: &str) -> Result<FileReport, String> {
    serde_json::from_str(text).map_err(|e| format!("unreadable journal entry: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(outcome: Outcome) -> Entry {
        Entry {
            identity: "1:2:3:4".into(),
            run_key: "k".into(),
            outcome,
        }
    }

    #[test]
    fn entries_survive_reopening_and_fresh_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/j.sqlite");
        {
            let mut j = Journal::open(&p).unwrap();
            j.put("/a.mp4", &entry(Outcome::Done("{}".into()))).unwrap();
            j.put("/b.mp4", &entry(Outcome::Failed("b: bad".into())))
                .unwrap();
            j.put(
                "/c.mp4",
                &entry(Outcome::Crashed {
                    attempts: 1,
                    cause: "signal 11".into(),
                }),
            )
            .unwrap();
            j.put("/a.mp4", &entry(Outcome::Done("{\"x\":1}".into())))
                .unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Closed cleanly: one self-contained file, no write-ahead log beside it.
        assert!(!dir.path().join("sub/j.sqlite-wal").exists());
        let j = Journal::open_read_only(&p).unwrap();
        assert_eq!(j.inputs().unwrap().len(), 3);
        drop(j);
        let mut j = Journal::open(&p).unwrap();
        assert_eq!(
            j.get("/a.mp4").unwrap().unwrap().outcome,
            Outcome::Done("{\"x\":1}".into())
        );
        assert_eq!(
            j.get("/c.mp4").unwrap().unwrap().outcome,
            Outcome::Crashed {
                attempts: 1,
                cause: "signal 11".into()
            }
        );
        assert_eq!(j.inputs().unwrap(), vec!["/a.mp4", "/b.mp4", "/c.mp4"]);
        assert!(j.get("/z.mp4").unwrap().is_none());
        j.clear().unwrap();
        assert!(j.inputs().unwrap().is_empty());
    }

    #[test]
    fn a_second_process_is_kept_out_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.sqlite");
        let mut first = Journal::open(&p).unwrap();
        first
            .put("/a", &entry(Outcome::Failed("x".into())))
            .unwrap();
        let e = Journal::open(&p).err().expect("locked");
        assert!(matches!(e, JournalError::Busy { .. }), "{e}");
        drop(first);
        assert!(Journal::open(&p).is_ok());

        let notes = dir.path().join("notes.sqlite");
        std::fs::write(&notes, b"not a database at all, just text").unwrap();
        let e = Journal::open(&notes).err().expect("refused");
        assert!(e.to_string().contains("notes.sqlite"), "{e}");
        assert_eq!(
            std::fs::read(&notes).unwrap(),
            b"not a database at all, just text"
        );
    }
}
