//! The gallery file's tables, and opening a file: checking it is ours, migrating older
//! galleries forward.

use super::{Gallery, GalleryError};
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS talent (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  consent TEXT NOT NULL CHECK (consent IN ('granted','denied','unknown')),
  scope TEXT,
  expires TEXT,
  added TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS talent_embedding (
  id INTEGER PRIMARY KEY,
  talent_id INTEGER NOT NULL REFERENCES talent(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  photo_name TEXT NOT NULL,
  photo_sha256 TEXT NOT NULL,
  added TEXT NOT NULL,
  chip BLOB
);
";

/// Third-party / owned IP references, in the same file (added to older galleries on open).
pub(super) const REF_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS reference (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('logo','artwork','character','product','photo')),
  owner TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('owned','licensed','third-party')),
  licence_ref TEXT,
  added TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reference_image (
  id INTEGER PRIMARY KEY,
  reference_id INTEGER NOT NULL REFERENCES reference(id) ON DELETE CASCADE,
  format INTEGER NOT NULL,
  data BLOB NOT NULL,
  image_name TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  thumbnail BLOB,
  added TEXT NOT NULL
);
";

impl Gallery {
    pub(super) fn connect(path: &Path, read_only: bool) -> Result<Self, GalleryError> {
        let db = |source| GalleryError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = if read_only {
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        } else {
            Connection::open(path)
        }
        .map_err(db)?;
        let not_gallery = |cause: String| GalleryError::NotAGallery {
            path: path.to_path_buf(),
            cause,
        };
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| not_gallery(e.to_string()))?;
        // An existing file must be ours: an empty database, or one with our meta row.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| not_gallery(e.to_string()))?;
        // A gallery holds tables only: a view or a trigger could make a read run forever or
        // write behind our back.
        let foreign: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('view', 'trigger')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| not_gallery(e.to_string()))?;
        if foreign > 0 {
            return Err(not_gallery("it holds views or triggers".into()));
        }
        if tables > 0 {
            let kind: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| not_gallery(e.to_string()))?;
            if kind.as_deref() != Some("clearshot-gallery-1") {
                return Err(not_gallery("no clearshot format marker".into()));
            }
            // Galleries made before chips were kept gain the (empty) column.
            let has_chip: bool = conn
                .query_row(
                    "SELECT count(*) FROM pragma_table_info('talent_embedding') WHERE name = 'chip'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db)?
                > 0;
            if read_only {
                let has_refs: bool = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE name = 'reference'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(db)?
                    > 0;
                if !(has_chip && has_refs) {
                    return Err(not_gallery(
                        "made by an older clearshot: run `clearshot gallery list` once to upgrade it"
                            .into(),
                    ));
                }
            } else if !has_chip {
                conn.execute_batch("ALTER TABLE talent_embedding ADD COLUMN chip BLOB;")
                    .map_err(db)?;
            }
            if !read_only {
                conn.execute_batch(REF_SCHEMA).map_err(db)?;
                migrate_pose(&conn).map_err(db)?;
            }
        } else if read_only {
            return Err(not_gallery("empty database".into()));
        } else {
            conn.execute_batch(SCHEMA).map_err(db)?;
            conn.execute_batch(REF_SCHEMA).map_err(db)?;
            migrate_pose(&conn).map_err(db)?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format', 'clearshot-gallery-1')",
                [],
            )
            .map_err(db)?;
        }
        // A read-only open of a gallery from before poses were kept works as it is: scans
        // read vectors only, and listings count its faces as of unknown pose.
        let has_pose = has_column(&conn, "talent_embedding", "pose").map_err(db)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn,
            has_pose,
        })
    }
}

/// The pose columns of `talent_embedding` (added in place to older galleries, whose faces
/// stay of unknown pose: NULL). `pose` is a [`PoseClass`](crate::face::pose::PoseClass) name,
/// `yaw` its estimate in degrees.
fn migrate_pose(conn: &Connection) -> rusqlite::Result<()> {
    if has_column(conn, "talent_embedding", "pose")? {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN;
         ALTER TABLE talent_embedding ADD COLUMN pose TEXT
           CHECK (pose IS NULL OR pose IN ('frontal', 'three-quarter', 'profile'));
         ALTER TABLE talent_embedding ADD COLUMN yaw REAL;
         COMMIT;",
    )
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}
