//! Where an evidence image is while a scan's report travels: so that memory stays flat in the
//! length of the video, no process holds a file's evidence images all at once.
//!
//! - A worker process writes each image it captures to its *spill* file, a private file the
//!   supervisor named, and the report it sends back carries the image's place there
//!   ([`Jpeg::Spilled`]).
//! - The supervisor moves those images into the batch journal, keyed by their SHA-256, in the
//!   same transaction as the file's report ([`Jpeg::Stored`]); the spill file is then
//!   deleted.
//! - The report writers fetch each image from the journal as they write it (a stored image
//!   serializes as base64, as the JSON report has always carried it).
//!
//! A report read back from a JSON file, and a still scanned inside the calling process,
//! carry their images inline ([`Jpeg::Inline`]).

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where stored evidence images are read back from (a batch journal).
pub trait EvidenceStore: Send + Sync {
    /// The JPEG bytes stored under `sha256`, `None` when there are none.
    fn jpeg(&self, sha256: &str) -> Result<Option<Vec<u8>>, String>;
}

/// A shared handle on an [`EvidenceStore`].
pub type Store = Arc<dyn EvidenceStore>;

/// One evidence image (JPEG).
#[derive(Clone)]
pub enum Jpeg {
    /// In the report itself, as base64.
    Inline(String),
    /// In the worker's spill file: `len` bytes at `offset`.
    Spilled {
        /// Byte offset in the spill file.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
    /// In a batch journal, under the SHA-256 (hex) of its bytes; `store` is where to read
    /// it from (attached when the report is taken out of the journal).
    Stored {
        /// SHA-256 of the JPEG bytes, lower-case hex.
        sha256: String,
        /// Where the bytes are.
        store: Option<Store>,
    },
}

impl Jpeg {
    /// The JPEG bytes, wherever they are.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Jpeg::Inline(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("evidence image: not base64 ({e})")),
            Jpeg::Spilled { .. } => Err("evidence image still in a worker's spill file".into()),
            Jpeg::Stored { sha256, store } => match store {
                Some(s) => s
                    .jpeg(sha256)?
                    .ok_or_else(|| format!("evidence image {sha256}: not in the journal")),
                None => Err(format!(
                    "evidence image {sha256}: no journal to read it from"
                )),
            },
        }
    }

    /// Attaches `store` to a stored image.
    pub fn attach(&mut self, to: &Store) {
        if let Jpeg::Stored { store, .. } = self {
            *store = Some(Arc::clone(to));
        }
    }
}

impl std::fmt::Debug for Jpeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Jpeg::Inline(b64) => write!(f, "Inline({} base64 chars)", b64.len()),
            Jpeg::Spilled { offset, len } => write!(f, "Spilled({len} bytes at {offset})"),
            Jpeg::Stored { sha256, store } => write!(
                f,
                "Stored({sha256}{})",
                if store.is_some() { ", attached" } else { "" }
            ),
        }
    }
}

/// Equal when the same image is in the same place (a stored image by its digest).
impl PartialEq for Jpeg {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Jpeg::Inline(a), Jpeg::Inline(b)) => a == b,
            (
                Jpeg::Spilled { offset, len },
                Jpeg::Spilled {
                    offset: o2,
                    len: l2,
                },
            ) => offset == o2 && len == l2,
            (Jpeg::Stored { sha256: a, .. }, Jpeg::Stored { sha256: b, .. }) => a == b,
            _ => false,
        }
    }
}

/// How an image that is not inline appears in the reports the processes pass each other.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Inline(String),
    Spilled { spilled: [u64; 2] },
    Stored { stored: String },
}

/// An inline or attached image is written as base64 (the JSON report's form); the others as
/// their place, for the worker's reply and the journal.
impl Serialize for Jpeg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Jpeg::Inline(b64) => s.serialize_str(b64),
            Jpeg::Spilled { offset, len } => Repr::Spilled {
                spilled: [*offset, *len],
            }
            .serialize(s),
            Jpeg::Stored { store: Some(_), .. } => {
                let bytes = self.bytes().map_err(serde::ser::Error::custom)?;
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Jpeg::Stored {
                sha256,
                store: None,
            } => Repr::Stored {
                stored: sha256.clone(),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Jpeg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Inline(b64) => Jpeg::Inline(b64),
            Repr::Spilled {
                spilled: [offset, len],
            } => Jpeg::Spilled { offset, len },
            Repr::Stored { stored } => Jpeg::Stored {
                sha256: stored,
                store: None,
            },
        })
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A worker's spill file: evidence images appended as they are captured.
pub struct Spill {
    file: std::fs::File,
    path: PathBuf,
    end: u64,
}

impl Spill {
    /// Creates (or empties) the spill file at `path`, readable by this user only.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        Ok(Self {
            file: o.open(path)?,
            path: path.to_path_buf(),
            end: 0,
        })
    }

    /// Moves an inline image into the spill file; other images are left as they are. On a
    /// write error the image stays inline (in memory, as before spilling existed).
    pub fn take(&mut self, jpeg: Jpeg) -> Jpeg {
        let Jpeg::Inline(_) = &jpeg else {
            return jpeg;
        };
        let Ok(bytes) = jpeg.bytes() else {
            return jpeg;
        };
        match self.file.write_all(&bytes) {
            Ok(()) => {
                let offset = self.end;
                self.end += bytes.len() as u64;
                Jpeg::Spilled {
                    offset,
                    len: bytes.len() as u64,
                }
            }
            Err(e) => {
                eprintln!(
                    "clearshot: warning: {}: cannot spill evidence ({e}); kept in memory",
                    self.path.display()
                );
                jpeg
            }
        }
    }
}

/// Reads images back from a spill file (the supervisor, once the worker is done).
pub struct SpillReader {
    file: std::fs::File,
    path: PathBuf,
}

impl SpillReader {
    /// Opens the spill file at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        Ok(Self {
            file: std::fs::File::open(path)
                .map_err(|e| format!("{}: evidence spill file: {e}", path.display()))?,
            path: path.to_path_buf(),
        })
    }

    /// The `len` bytes at `offset`.
    pub fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        // An evidence image is a JPEG of at most 640 px: a length beyond this is damage.
        const MAX: u64 = 64 << 20;
        let fail = |e: &dyn std::fmt::Display| {
            format!("{}: evidence spill file: {e}", self.path.display())
        };
        if len > MAX {
            return Err(fail(&format!("an image of {len} bytes")));
        }
        let mut buf = vec![0; len as usize];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(|e| fail(&e))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, Vec<u8>>);

    impl EvidenceStore for Map {
        fn jpeg(&self, sha256: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.get(sha256).cloned())
        }
    }

    fn inline(bytes: &[u8]) -> Jpeg {
        Jpeg::Inline(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    #[test]
    fn an_image_goes_through_spill_and_store_and_comes_out_as_the_same_base64() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.spill");
        let mut spill = Spill::create(&path).unwrap();
        let a = spill.take(inline(b"\xff\xd8first"));
        let b = spill.take(inline(b"\xff\xd8second image"));
        assert_eq!(a, Jpeg::Spilled { offset: 0, len: 7 });
        assert_eq!(b, Jpeg::Spilled { offset: 7, len: 14 });
        // The worker's reply carries the place, and it reads back as the same place.
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(text, r#"{"spilled":[7,14]}"#);
        assert_eq!(serde_json::from_str::<Jpeg>(&text).unwrap(), b);

        let mut r = SpillReader::open(&path).unwrap();
        let bytes = r.read(7, 14).unwrap();
        assert_eq!(bytes, b"\xff\xd8second image");
        assert!(r.read(7, 100).is_err(), "past the end");

        let sha = sha256_hex(&bytes);
        let mut stored = Jpeg::Stored {
            sha256: sha.clone(),
            store: None,
        };
        let journal_form = serde_json::to_string(&stored).unwrap();
        assert_eq!(journal_form, format!(r#"{{"stored":"{sha}"}}"#));
        let store: Store = Arc::new(Map([(sha, bytes.clone())].into_iter().collect()));
        stored.attach(&store);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&inline(&bytes)).unwrap()
        );
        assert_eq!(stored.bytes().unwrap(), bytes);
    }

    #[test]
    fn a_missing_stored_image_is_an_error_not_an_empty_picture() {
        let store: Store = Arc::new(Map(HashMap::new()));
        let mut j = Jpeg::Stored {
            sha256: "ab".into(),
            store: None,
        };
        assert!(j.bytes().unwrap_err().contains("no journal"));
        j.attach(&store);
        assert!(j.bytes().unwrap_err().contains("not in the journal"));
        assert!(serde_json::to_string(&j).is_err());
    }
}
