//! Registered people: consent records, enrolling faces, reading them back.

use super::{id_by_name, now_rfc3339, Gallery, GalleryError};
use crate::face::embed::Embedding;
use crate::face::pose::{Pose, PoseClass};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::Date;

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
    /// The face's head pose, when its keypoints gave one.
    pub pose: Option<Pose>,
}

/// How many of a person's faces are of each pose (all embedders).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoseCounts {
    /// Frontal faces.
    pub frontal: usize,
    /// Three-quarter faces.
    pub three_quarter: usize,
    /// Profiles.
    pub profile: usize,
    /// Faces enrolled before poses were kept.
    pub unknown: usize,
}

impl PoseCounts {
    /// Counts one face of `class` (None: unknown).
    pub fn count(&mut self, class: Option<PoseClass>) {
        *match class {
            Some(PoseClass::Frontal) => &mut self.frontal,
            Some(PoseClass::ThreeQuarter) => &mut self.three_quarter,
            Some(PoseClass::Profile) => &mut self.profile,
            None => &mut self.unknown,
        } += 1;
    }
}

impl fmt::Display for PoseCounts {
    /// `frontal 3, three-quarter 2, profile 2`, with `unknown N` only when there are some.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frontal {}, three-quarter {}, profile {}",
            self.frontal, self.three_quarter, self.profile
        )?;
        if self.unknown > 0 {
            write!(f, ", unknown {}", self.unknown)?;
        }
        Ok(())
    }
}

/// A person as `gallery list` shows them: the record and the poses of their faces.
#[derive(Debug, Clone, Serialize)]
pub struct TalentPoses {
    /// The person.
    #[serde(flatten)]
    pub talent: Talent,
    /// Their faces by pose.
    pub poses: PoseCounts,
}

impl Gallery {
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
                "INSERT INTO talent_embedding (talent_id, model, model_sha256, dim, vector, photo_name, photo_sha256, added, chip, pose, yaw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    model,
                    model_sha256,
                    f.embedding.0.len() as i64,
                    f.embedding.to_bytes(),
                    f.photo_name,
                    f.photo_sha256,
                    now,
                    f.chip_jpeg,
                    f.pose.map(|p| p.class().as_str()),
                    f.pose.map(|p| f64::from(p.yaw))
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

    /// Everyone, by name, without embeddings, with the poses of their faces (an older
    /// gallery opened read-only counts them all as unknown).
    pub fn talent_poses(&self) -> Result<Vec<TalentPoses>, GalleryError> {
        let mut out = Vec::new();
        for talent in self.talent(None)? {
            let mut poses = PoseCounts::default();
            if self.has_pose {
                let mut stmt = self
                    .conn
                    .prepare("SELECT pose FROM talent_embedding WHERE talent_id = ?1")
                    .map_err(self.db())?;
                let rows = stmt
                    .query_map([talent.id], |r| r.get::<_, Option<String>>(0))
                    .map_err(self.db())?;
                for r in rows {
                    poses.count(r.map_err(self.db())?.as_deref().and_then(PoseClass::parse));
                }
            } else {
                poses.unknown = talent.photos;
            }
            out.push(TalentPoses { talent, poses });
        }
        Ok(out)
    }
}
