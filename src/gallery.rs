//! The talent gallery: registered people with their consent records and face embeddings,
//! in one SQLite file. It is biometric personal data: the file is created private (0600) and
//! nothing leaves the machine. Photos are never stored: only embeddings, the photo's file
//! name and sha256, and a 150 px aligned face chip per photo so evidence reports can show the
//! reference next to the match (`gallery add --no-chip` stores none).

use crate::face::embed::Embedding;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use time::Date;

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

/// Consent given by a person for use of their likeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consent {
    /// Written consent on file.
    Granted,
    /// Consent refused.
    Denied,
    /// No consent record.
    Unknown,
}

impl FromStr for Consent {
    type Err = GalleryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "granted" => Ok(Self::Granted),
            "denied" => Ok(Self::Denied),
            "unknown" => Ok(Self::Unknown),
            other => Err(GalleryError::Invalid(format!(
                "consent '{other}' is not one of granted, denied, unknown"
            ))),
        }
    }
}

impl fmt::Display for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Unknown => "unknown",
        })
    }
}

/// A consent record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// State of consent.
    pub consent: Consent,
    /// What the consent covers, in the user's words.
    pub scope: Option<String>,
    /// Last day the consent is valid (inclusive), `YYYY-MM-DD`.
    pub expires: Option<String>,
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, GalleryError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt).map_err(|_| GalleryError::Invalid(format!("date '{s}' is not YYYY-MM-DD")))
}

impl ConsentRecord {
    /// True when consent is granted and not expired on `today`.
    pub fn valid_on(&self, today: Date) -> bool {
        self.consent == Consent::Granted
            && match &self.expires {
                None => true,
                Some(e) => parse_date(e).map(|d| today <= d).unwrap_or(false),
            }
    }

    /// True when an expiry date is set and has passed.
    pub fn expired_on(&self, today: Date) -> bool {
        self.expires
            .as_deref()
            .and_then(|e| parse_date(e).ok())
            .is_some_and(|d| today > d)
    }
}

/// One registered person.
#[derive(Debug, Clone, Serialize)]
pub struct Talent {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Consent record.
    pub consent: ConsentRecord,
    /// When enrolled (UTC, RFC 3339).
    pub added: String,
    /// Embeddings for the embedder asked for.
    #[serde(skip)]
    pub embeddings: Vec<Embedding>,
    /// Count of embeddings stored for any embedder.
    pub photos: usize,
    /// The first stored face chip (JPEG, base64), for evidence reports.
    #[serde(skip)]
    pub reference_jpeg: Option<String>,
}

/// A face to enroll: its embedding and where it came from.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The embedding.
    pub embedding: Embedding,
    /// The photo's file name (not its path, not its pixels).
    pub photo_name: String,
    /// sha256 of the photo file.
    pub photo_sha256: String,
    /// The aligned face chip as JPEG bytes, if it is to be kept.
    pub chip_jpeg: Option<Vec<u8>>,
}

/// An open gallery.
pub struct Gallery {
    path: PathBuf,
    conn: Connection,
}

const SCHEMA: &str = "
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
const REF_SCHEMA: &str = "
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

/// Who holds the rights to a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefStatus {
    /// The production owns it.
    Owned,
    /// Used under a licence.
    Licensed,
    /// Someone else's.
    ThirdParty,
}

impl FromStr for RefStatus {
    type Err = GalleryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owned" => Ok(Self::Owned),
            "licensed" => Ok(Self::Licensed),
            "third-party" => Ok(Self::ThirdParty),
            o => Err(GalleryError::Invalid(format!(
                "status '{o}' is not one of owned, licensed, third-party"
            ))),
        }
    }
}

impl fmt::Display for RefStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Owned => "owned",
            Self::Licensed => "licensed",
            Self::ThirdParty => "third-party",
        })
    }
}

/// The rights record of a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRecord {
    /// logo, artwork, character, product or photo.
    pub kind: String,
    /// Rights holder.
    pub owner: String,
    /// Who holds the rights.
    pub status: RefStatus,
    /// Licence reference, for licensed material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_ref: Option<String>,
}

/// Kinds of reference accepted.
pub const REF_KINDS: [&str; 5] = ["logo", "artwork", "character", "product", "photo"];

/// One enrolled reference image: the matcher's enrollment bytes and provenance.
#[derive(Debug, Clone)]
pub struct RefEnrollment {
    /// Enrollment format version.
    pub format: u32,
    /// Serialised enrollment (features, embedding).
    pub data: Vec<u8>,
    /// File name of the image.
    pub image_name: String,
    /// sha256 of the image file.
    pub image_sha256: String,
    /// Small JPEG of the image for evidence reports.
    pub thumbnail_jpeg: Option<Vec<u8>>,
}

/// A registered reference (logo, artwork, ...).
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Rights record.
    pub record: RefRecord,
    /// When enrolled.
    pub added: String,
    /// Number of images.
    pub images: usize,
    /// Enrollment data of each image in the format asked for.
    #[serde(skip)]
    pub data: Vec<Vec<u8>>,
    /// First image's thumbnail (JPEG, base64), for evidence reports.
    #[serde(skip)]
    pub thumbnail_jpeg: Option<String>,
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

    fn connect(path: &Path, read_only: bool) -> Result<Self, GalleryError> {
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
            }
        } else if read_only {
            return Err(not_gallery("empty database".into()));
        } else {
            conn.execute_batch(SCHEMA).map_err(db)?;
            conn.execute_batch(REF_SCHEMA).map_err(db)?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format', 'clearshot-gallery-1')",
                [],
            )
            .map_err(db)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            conn,
        })
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

    /// Adds a person with their faces in one transaction. With `update`, an existing person
    /// gets the new faces and the given consent record; without it, an existing name is an
    /// error (nothing is changed).
    pub fn add(
        &mut self,
        name: &str,
        record: &ConsentRecord,
        model: &str,
        model_sha256: &str,
        faces: &[Enrollment],
        update: bool,
    ) -> Result<i64, GalleryError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(GalleryError::Invalid(
                "talent name must not be empty".into(),
            ));
        }
        if let Some(e) = &record.expires {
            parse_date(e)?;
        }
        let path = self.path.clone();
        let db = move |source| GalleryError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&db)?;
        let existing = id_by_name(&tx, "talent", name).map_err(&db)?;
        let now = now_rfc3339();
        let id = match existing {
            Some(_) if !update => return Err(GalleryError::Exists(name.to_string())),
            Some(id) => {
                tx.execute(
                    "UPDATE talent SET consent = ?1, scope = ?2, expires = ?3 WHERE id = ?4",
                    params![record.consent.to_string(), record.scope, record.expires, id],
                )
                .map_err(&db)?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO talent (name, consent, scope, expires, added) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![name, record.consent.to_string(), record.scope, record.expires, now],
                )
                .map_err(&db)?;
                tx.last_insert_rowid()
            }
        };
        for f in faces {
            tx.execute(
                "INSERT INTO talent_embedding (talent_id, model, model_sha256, dim, vector, photo_name, photo_sha256, added, chip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    model,
                    model_sha256,
                    f.embedding.0.len() as i64,
                    f.embedding.to_bytes(),
                    f.photo_name,
                    f.photo_sha256,
                    now,
                    f.chip_jpeg
                ],
            )
            .map_err(&db)?;
        }
        tx.commit().map_err(&db)?;
        Ok(id)
    }

    /// Removes a person and their embeddings.
    pub fn remove(&mut self, name: &str) -> Result<(), GalleryError> {
        self.remove_named("talent", name)
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

    /// Adds a reference with its images in one transaction; `update` as for talent.
    pub fn add_reference(
        &mut self,
        name: &str,
        record: &RefRecord,
        images: &[RefEnrollment],
        update: bool,
    ) -> Result<i64, GalleryError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(GalleryError::Invalid(
                "reference name must not be empty".into(),
            ));
        }
        if !REF_KINDS.contains(&record.kind.as_str()) {
            return Err(GalleryError::Invalid(format!(
                "kind '{}' is not one of {}",
                record.kind,
                REF_KINDS.join(", ")
            )));
        }
        let path = self.path.clone();
        let db = move |source| GalleryError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&db)?;
        let existing = id_by_name(&tx, "reference", name).map_err(&db)?;
        let now = now_rfc3339();
        let id = match existing {
            Some(_) if !update => return Err(GalleryError::Exists(name.to_string())),
            Some(id) => {
                tx.execute(
                    "UPDATE reference SET kind = ?1, owner = ?2, status = ?3, licence_ref = ?4 WHERE id = ?5",
                    params![record.kind, record.owner, record.status.to_string(), record.licence_ref, id],
                )
                .map_err(&db)?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO reference (name, kind, owner, status, licence_ref, added) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![name, record.kind, record.owner, record.status.to_string(), record.licence_ref, now],
                )
                .map_err(&db)?;
                tx.last_insert_rowid()
            }
        };
        for i in images {
            tx.execute(
                "INSERT INTO reference_image (reference_id, format, data, image_name, image_sha256, thumbnail, added)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, i.format, i.data, i.image_name, i.image_sha256, i.thumbnail_jpeg, now],
            )
            .map_err(&db)?;
        }
        tx.commit().map_err(&db)?;
        Ok(id)
    }

    /// Removes a reference and its images.
    pub fn remove_reference(&mut self, name: &str) -> Result<(), GalleryError> {
        self.remove_named("reference", name)
    }

    /// Every reference by name, with the enrollment data of format `format` (None: no data).
    pub fn references(&self, format: Option<u32>) -> Result<Vec<Reference>, GalleryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.name, r.kind, r.owner, r.status, r.licence_ref, r.added,
                        (SELECT count(*) FROM reference_image i WHERE i.reference_id = r.id)
                 FROM reference r ORDER BY r.name",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            })
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, kind, owner, status, licence_ref, added, images) =
                row.map_err(self.db())?;
            let status = status.parse().map_err(|_| GalleryError::NotAGallery {
                path: self.path.clone(),
                cause: format!("reference '{name}' has an invalid status '{status}'"),
            })?;
            let mut data = Vec::new();
            if let Some(f) = format {
                let mut s = self
                    .conn
                    .prepare("SELECT data FROM reference_image WHERE reference_id = ?1 AND format = ?2 ORDER BY id")
                    .map_err(self.db())?;
                let rows = s
                    .query_map(params![id, f], |r| r.get::<_, Vec<u8>>(0))
                    .map_err(self.db())?;
                for r in rows {
                    data.push(r.map_err(self.db())?);
                }
            }
            let thumb: Option<Vec<u8>> = self
                .conn
                .query_row(
                    "SELECT thumbnail FROM reference_image WHERE reference_id = ?1 AND thumbnail IS NOT NULL ORDER BY id LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db())?;
            out.push(Reference {
                id,
                name,
                record: RefRecord {
                    kind,
                    owner,
                    status,
                    licence_ref,
                },
                added,
                images: images as usize,
                data,
                thumbnail_jpeg: thumb.map(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }),
            });
        }
        Ok(out)
    }

    /// Everyone, by name, with the embeddings made by the embedder whose file hash is
    /// `model_sha256` (pass `None` to load no embeddings).
    pub fn talent(&self, model_sha256: Option<&str>) -> Result<Vec<Talent>, GalleryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.id, t.name, t.consent, t.scope, t.expires, t.added,
                        (SELECT count(*) FROM talent_embedding e WHERE e.talent_id = t.id)
                 FROM talent t ORDER BY t.name",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, consent, scope, expires, added, photos) = row.map_err(self.db())?;
            let consent = consent.parse().map_err(|_| GalleryError::NotAGallery {
                path: self.path.clone(),
                cause: format!("talent '{name}' has an invalid consent value '{consent}'"),
            })?;
            let embeddings = match model_sha256 {
                Some(sha) => self.embeddings(id, sha)?,
                None => Vec::new(),
            };
            let reference_jpeg: Option<Vec<u8>> = self
                .conn
                .query_row(
                    "SELECT chip FROM talent_embedding WHERE talent_id = ?1 AND chip IS NOT NULL ORDER BY id LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db())?;
            out.push(Talent {
                id,
                name,
                consent: ConsentRecord {
                    consent,
                    scope,
                    expires,
                },
                added,
                embeddings,
                photos: photos as usize,
                reference_jpeg: reference_jpeg.map(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }),
            });
        }
        Ok(out)
    }

    fn embeddings(&self, talent_id: i64, sha: &str) -> Result<Vec<Embedding>, GalleryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT vector FROM talent_embedding WHERE talent_id = ?1 AND model_sha256 = ?2 ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![talent_id, sha], |r| r.get::<_, Vec<u8>>(0))
            .map_err(self.db())?;
        let mut out = Vec::new();
        for r in rows {
            let bytes = r.map_err(self.db())?;
            let e = Embedding::from_bytes(&bytes).ok_or_else(|| GalleryError::NotAGallery {
                path: self.path.clone(),
                cause: "an embedding is not a whole number of f32 values".into(),
            })?;
            out.push(e);
        }
        Ok(out)
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
mod tests {
    use super::*;

    fn enroll(v: f32) -> Enrollment {
        Enrollment {
            embedding: Embedding(vec![v; 4]),
            photo_name: "p.jpg".into(),
            photo_sha256: "00".into(),
            chip_jpeg: Some(vec![1, 2, 3]),
        }
    }

    fn rec(c: Consent) -> ConsentRecord {
        ConsentRecord {
            consent: c,
            scope: None,
            expires: None,
        }
    }

    #[test]
    fn add_list_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/g.sqlite");
        let mut g = Gallery::open_or_create(&p).unwrap();
        g.add(
            "Ann",
            &rec(Consent::Denied),
            "m",
            "sha",
            &[enroll(1.0)],
            false,
        )
        .unwrap();
        // Re-adding without --update changes nothing.
        assert!(matches!(
            g.add(
                "Ann",
                &rec(Consent::Granted),
                "m",
                "sha",
                &[enroll(2.0)],
                false
            ),
            Err(GalleryError::Exists(_))
        ));
        let t = g.talent(Some("sha")).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].consent.consent, Consent::Denied);
        assert_eq!(t[0].embeddings, vec![Embedding(vec![1.0; 4])]);
        assert_eq!(t[0].reference_jpeg.as_deref(), Some("AQID"));
        let d1 = g.state_digest().unwrap();
        g.add(
            "Ann",
            &rec(Consent::Granted),
            "m",
            "sha",
            &[enroll(2.0)],
            true,
        )
        .unwrap();
        let t = g.talent(Some("sha")).unwrap();
        assert_eq!(t[0].embeddings.len(), 2);
        assert_eq!(t[0].consent.consent, Consent::Granted);
        assert_ne!(d1, g.state_digest().unwrap());
        // Another embedder's vectors are not mixed in.
        assert!(g.talent(Some("other")).unwrap()[0].embeddings.is_empty());
        g.remove("Ann").unwrap();
        assert!(g.talent(None).unwrap().is_empty());
        assert!(matches!(g.remove("Ann"), Err(GalleryError::UnknownName(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "gallery must be private");
        }
    }

    #[test]
    fn a_foreign_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.sqlite");
        std::fs::write(&p, b"my notes, not a database").unwrap();
        assert!(Gallery::open(&p).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"my notes, not a database");
        let other = dir.path().join("other.sqlite");
        {
            let c = Connection::open(&other).unwrap();
            c.execute_batch("CREATE TABLE x (a);").unwrap();
        }
        assert!(matches!(
            Gallery::open(&other),
            Err(GalleryError::NotAGallery { .. })
        ));
        assert!(matches!(
            Gallery::open(&dir.path().join("none.sqlite")),
            Err(GalleryError::Missing { .. })
        ));
    }

    #[test]
    fn references_round_trip_and_change_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Gallery::open_or_create(&dir.path().join("g.sqlite")).unwrap();
        let before = g.state_digest().unwrap();
        let rec = RefRecord {
            kind: "logo".into(),
            owner: "Acme".into(),
            status: RefStatus::ThirdParty,
            licence_ref: None,
        };
        let img = RefEnrollment {
            format: 1,
            data: vec![9, 9],
            image_name: "acme.png".into(),
            image_sha256: "00".into(),
            thumbnail_jpeg: Some(vec![1, 2, 3]),
        };
        g.add_reference("Acme logo", &rec, std::slice::from_ref(&img), false)
            .unwrap();
        assert!(matches!(
            g.add_reference("Acme logo", &rec, &[img], false),
            Err(GalleryError::Exists(_))
        ));
        let bad = RefRecord {
            kind: "tune".into(),
            ..rec.clone()
        };
        assert!(g.add_reference("x", &bad, &[], false).is_err());
        let refs = g.references(Some(1)).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].record, rec);
        assert_eq!(refs[0].data, vec![vec![9, 9]]);
        assert_eq!(refs[0].thumbnail_jpeg.as_deref(), Some("AQID"));
        assert!(g.references(Some(2)).unwrap()[0].data.is_empty());
        assert_ne!(before, g.state_digest().unwrap());
        g.remove_reference("Acme logo").unwrap();
        assert!(g.references(None).unwrap().is_empty());
        assert_eq!(
            "third-party".parse::<RefStatus>().unwrap(),
            RefStatus::ThirdParty
        );
    }

    #[test]
    fn consent_validity_and_expiry() {
        let today = parse_date("2026-11-21").unwrap();
        let mut r = rec(Consent::Granted);
        assert!(r.valid_on(today));
        r.expires = Some("2026-11-21".into());
        assert!(r.valid_on(today));
        r.expires = Some("2026-11-20".into());
        assert!(!r.valid_on(today));
        assert!(r.expired_on(today));
        assert!(!rec(Consent::Unknown).valid_on(today));
        assert!(parse_date("21/11/2026").is_err());
    }
}
