//! Registered references (logos, artwork, characters, products, photos) and their rights
//! records.

use super::{id_by_name, now_rfc3339, Gallery, GalleryError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

impl Gallery {
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
}
