//! The talent gallery: registered people with their consent records and face embeddings,
//! in one SQLite file. It is biometric personal data: the file is created private (0600) and
//! nothing leaves the machine. Photos are never stored: only embeddings, the photo's file
//! name and sha256, and a 150 px aligned face chip per photo so evidence reports can show the
//! reference next to the match (`gallery add --no-chip` stores none).

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

mod refs;
mod schema;
mod talent;

pub use refs::{RefEnrollment, RefRecord, RefStatus, Reference, REF_KINDS};
pub use talent::{parse_date, Consent, ConsentRecord, Enrollment, PoseCounts, Talent, TalentPoses};

/// Errors from the gallery store.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// SQLite failed.
    #[error("{path}: gallery database error: {source}")]
    Db {
        /// Gallery path.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// The file exists but is not a clearshot gallery.
    #[error("{path}: not a clearshot gallery ({cause})")]
    NotAGallery {
        /// Gallery path.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
    /// Creating the folder or setting permissions failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The gallery does not exist (scan and list never create one).
    #[error("{path}: no gallery here; enroll talent first with `clearshot gallery add` (or pass --gallery)")]
    Missing {
        /// Gallery path.
        path: PathBuf,
    },
    /// No such person.
    #[error("no talent named '{0}' in the gallery")]
    UnknownName(String),
    /// The person exists and the caller did not ask to update.
    #[error(
        "'{0}' is already in the gallery; pass --update to add photos or change the consent record"
    )]
    Exists(String),
    /// Bad field value.
    #[error("{0}")]
    Invalid(String),
}

/// An open gallery.
pub struct Gallery {
    path: PathBuf,
    conn: Connection,
    /// Whether `talent_embedding` has the pose columns (a read-only open of an older
    /// gallery does not).
    has_pose: bool,
}

/// The id of the row called `name` of `table`, if there is one.
fn id_by_name(
    tx: &rusqlite::Transaction<'_>,
    table: &'static str,
    name: &str,
) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        &format!("SELECT id FROM {table} WHERE name = ?1"),
        [name],
        |r| r.get(0),
    )
    .optional()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Gallery {
    /// Opens an existing gallery (scan, list, remove never create one).
    pub fn open(path: &Path) -> Result<Self, GalleryError> {
        if !path.is_file() {
            return Err(GalleryError::Missing {
                path: path.to_path_buf(),
            });
        }
        Self::connect(path, false)
    }

    /// Opens an existing gallery for reading only (scans, worker processes, cluster tasks):
    /// nothing is migrated or written, and a gallery on a read-only disk works.
    pub fn open_read_only(path: &Path) -> Result<Self, GalleryError> {
        if !path.is_file() {
            return Err(GalleryError::Missing {
                path: path.to_path_buf(),
            });
        }
        Self::connect(path, true)
    }

    /// Opens the gallery, creating it (and its folder, private) if needed.
    pub fn open_or_create(path: &Path) -> Result<Self, GalleryError> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| GalleryError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            // Create the file private before SQLite writes biometric data into it.
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            o.open(path).map_err(|source| GalleryError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Self::connect(path, false)
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> GalleryError + '_ {
        move |source| GalleryError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The gallery file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Deletes the row called `name` of `table` (its images and embeddings go with it).
    fn remove_named(&mut self, table: &'static str, name: &str) -> Result<(), GalleryError> {
        let n = self
            .conn
            .execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])
            .map_err(self.db())?;
        if n == 0 {
            return Err(GalleryError::UnknownName(name.to_string()));
        }
        Ok(())
    }

    /// sha256 over every record and embedding in a fixed order: the gallery state a report
    /// was made against, without revealing the biometric data itself.
    pub fn state_digest(&self) -> Result<String, GalleryError> {
        let mut h = Sha256::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.name, t.consent, ifnull(t.scope,''), ifnull(t.expires,''), e.model_sha256, e.vector
                 FROM talent t LEFT JOIN talent_embedding e ON e.talent_id = t.id
                 ORDER BY t.name, e.id",
            )
            .map_err(self.db())?;
        let mut rows = stmt.query([]).map_err(self.db())?;
        while let Some(r) = rows.next().map_err(self.db())? {
            for i in 0..5 {
                let s: Option<String> = r.get(i).map_err(self.db())?;
                h.update(s.unwrap_or_default().as_bytes());
                h.update([0u8]);
            }
            let v: Option<Vec<u8>> = r.get(5).map_err(self.db())?;
            h.update(v.unwrap_or_default());
            h.update([0xffu8]);
        }
        drop(rows);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.name, r.kind, r.owner, r.status, ifnull(r.licence_ref,''), i.data
                 FROM reference r LEFT JOIN reference_image i ON i.reference_id = r.id
                 ORDER BY r.name, i.id",
            )
            .map_err(self.db())?;
        let mut rows = stmt.query([]).map_err(self.db())?;
        while let Some(r) = rows.next().map_err(self.db())? {
            for i in 0..5 {
                let s: Option<String> = r.get(i).map_err(self.db())?;
                h.update(s.unwrap_or_default().as_bytes());
                h.update([0u8]);
            }
            let v: Option<Vec<u8>> = r.get(5).map_err(self.db())?;
            h.update(v.unwrap_or_default());
            h.update([0xfeu8]);
        }
        Ok(crate::models::hex(&h.finalize()))
    }
}

#[cfg(test)]
mod tests;
