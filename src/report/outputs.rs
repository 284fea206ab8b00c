//! The report files a run writes: checked before any work (nothing the user has is
//! overwritten without `overwrite`, and a folder that cannot be written is found now, not
//! after an overnight batch), then each written by its format's writer through a temporary
//! name and a rename, so no report is ever half-written.
//!
//! Marker lists (`--edl`, `--avid-markers`) hold one file's timecodes each. A run over one
//! media file writes the path given; a run over several ([`Outputs::per_file`]) writes one
//! list per scanned file beside it, named by [`per_file_paths`]: `markers.edl` becomes
//! `markers.demo.mp4.edl`, `markers.interview.mov.edl`, ...

use super::{FileReport, ScanReport};
use std::path::{Path, PathBuf};

/// Why a report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file exists and `overwrite` was not asked for.
    #[error("{}: already exists; pass --overwrite to replace it", .0.display())]
    Exists(PathBuf),
    /// The folder cannot be written.
    #[error("{}: cannot write a report here ({source})", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("{}: cannot write: {cause}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        cause: String,
    },
}

/// Which reports to write, and where.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The full JSON report.
    pub json: Option<PathBuf>,
    /// One CSV row per finding.
    pub csv: Option<PathBuf>,
    /// CMX3600 marker-list EDL (Resolve markers, Avid locators).
    pub edl: Option<PathBuf>,
    /// Avid Media Composer marker list (tab-separated text).
    pub avid: Option<PathBuf>,
    /// Marker lists are written one per scanned file (a run over several inputs or a
    /// folder), named by [`per_file_paths`]; otherwise at the path given.
    pub per_file: bool,
    /// OpenTimelineIO timeline.
    pub otio: Option<PathBuf>,
    /// Folder for the self-contained HTML report (index.html).
    pub html: Option<PathBuf>,
    /// The JSON Lines event file (written as the run goes, by the batch; checked here).
    pub jsonl: Option<PathBuf>,
    /// Replace files that exist.
    pub overwrite: bool,
}

impl Outputs {
    /// Checks every output before any work.
    pub fn check(&self) -> Result<(), OutputError> {
        let html = self.html.as_ref().map(|d| d.join("index.html"));
        for p in [
            &self.json,
            &self.csv,
            &self.edl,
            &self.avid,
            &self.otio,
            &html,
            &self.jsonl,
        ]
        .into_iter()
        .flatten()
        {
            let lists = self.per_file && [&self.edl, &self.avid].contains(&&Some(p.clone()));
            if !self.overwrite {
                // A run over several inputs writes marker lists beside the path, not at it.
                let taken = if lists {
                    existing_per_file(p)
                } else {
                    p.exists().then(|| p.clone())
                };
                if let Some(p) = taken {
                    return Err(OutputError::Exists(p));
                }
            }
            let mut dir = parent(p);
            // The HTML folder is made when the report is written: check where it will be.
            if Some(p) == html.as_ref() && !dir.exists() {
                dir = parent(dir);
            }
            let probe = dir.join(format!(".clearshot-write-test.{}", std::process::id()));
            std::fs::write(&probe, b"").map_err(|source| OutputError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
            let _ = std::fs::remove_file(&probe);
        }
        Ok(())
    }

    /// Writes every report asked for (except JSON Lines, written as the run goes).
    pub fn write(&self, report: &ScanReport) -> Result<(), OutputError> {
        let put = |p: &Option<PathBuf>, text: Result<Vec<u8>, String>| {
            let Some(p) = p else { return Ok(()) };
            let fail = |cause: String| OutputError::Write {
                path: p.clone(),
                cause,
            };
            super::write_atomic(p, &text.map_err(fail)?).map_err(|e| fail(e.to_string()))
        };
        if let Some(p) = &self.json {
            // Streamed: the evidence images are read from the journal one at a time.
            super::write_atomic_with(p, |w| {
                serde_json::to_writer_pretty(w, report).map_err(std::io::Error::other)
            })
            .map_err(|e| OutputError::Write {
                path: p.clone(),
                cause: e.to_string(),
            })?;
        }
        if self.csv.is_some() {
            put(&self.csv, Ok(super::csv::render(report).into_bytes()))?;
        }
        if let Some(p) = &self.edl {
            self.marker_lists(
                p,
                report,
                super::edl::render_file,
                super::edl::render_none(),
            )?;
        }
        if let Some(p) = &self.avid {
            self.marker_lists(p, report, super::avid::render_file, String::new())?;
        }
        if self.otio.is_some() {
            put(
                &self.otio,
                super::otio::render(report)
                    .map(String::into_bytes)
                    .map_err(|e| e.to_string()),
            )?;
        }
        if let Some(dir) = &self.html {
            super::html::write(report, dir).map_err(|e| OutputError::Write {
                path: dir.clone(),
                cause: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Writes one marker list per scanned file (`render`), or `none` when a run over one
    /// input scanned nothing.
    fn marker_lists(
        &self,
        path: &Path,
        report: &ScanReport,
        render: fn(&FileReport) -> String,
        none: String,
    ) -> Result<(), OutputError> {
        let lists: Vec<(PathBuf, String)> = match report.files.as_slice() {
            [] if !self.per_file => vec![(path.to_path_buf(), none)],
            [one] if !self.per_file => vec![(path.to_path_buf(), render(one))],
            files => per_file_paths(path, files)
                .into_iter()
                .zip(files.iter().map(render))
                .collect(),
        };
        for (p, text) in lists {
            super::write_atomic(&p, text.as_bytes()).map_err(|e| OutputError::Write {
                path: p.clone(),
                cause: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// The marker list of each file beside `base`: `<stem>.<file name>.<extension>`, the file
/// name with anything but letters, digits, `.`, `-`, `_` and `+` made `_`, and `-2`, `-3`,
/// ... after the file name when two files would share a name (`clip.mov` in two folders).
/// `markers.edl` and `/media/a/demo.mp4` give `markers.demo.mp4.edl`.
pub fn per_file_paths(base: &Path, files: &[FileReport]) -> Vec<PathBuf> {
    let (stem, ext) = stem_and_ext(base);
    let mut taken = std::collections::HashSet::new();
    files
        .iter()
        .map(|f| {
            let name: String = f
                .path
                .file_name()
                .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned())
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "._-+".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut n = 1;
            let mut unique = name.clone();
            while !taken.insert(unique.clone()) {
                n += 1;
                unique = format!("{name}-{n}");
            }
            base.with_file_name(format!("{stem}.{unique}{ext}"))
        })
        .collect()
}

/// `markers.edl` gives `("markers", ".edl")`; a name without an extension keeps none.
fn stem_and_ext(base: &Path) -> (String, String) {
    let stem = base
        .file_stem()
        .map_or_else(|| "markers".into(), |s| s.to_string_lossy().into_owned());
    let ext = base
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    (stem, ext)
}

/// A file a run over several inputs could overwrite: one named `<stem>.*<ext>` beside `base`.
fn existing_per_file(base: &Path) -> Option<PathBuf> {
    let (stem, ext) = stem_and_ext(base);
    let prefix = format!("{stem}.");
    let entries = std::fs::read_dir(parent(base)).ok()?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.len() > prefix.len() + ext.len()
                && name.starts_with(&prefix)
                && name.ends_with(&ext)
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found.into_iter().next()
}

fn parent(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::fixture;

    #[test]
    fn per_file_names_keep_the_stem_and_extension_and_never_collide() {
        let mut r = fixture::report();
        let mut twin = r.files[1].clone();
        twin.path = "/other/clip_25.mp4".into();
        r.files.push(twin);
        let names: Vec<String> = per_file_paths(Path::new("/out/markers.edl"), &r.files)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/out/markers.interview__A_B___take_1.mov.edl",
                "/out/markers.clip_25.mp4.edl",
                "/out/markers.empty.mov.edl",
                "/out/markers.clip_25.mp4-2.edl",
            ]
        );
        let bare = per_file_paths(Path::new("m"), &r.files[2..3]);
        assert_eq!(bare, [PathBuf::from("m.empty.mov")]);
    }

    #[test]
    fn marker_lists_go_one_per_file_and_are_never_overwritten_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let report = fixture::report();
        let edl = dir.path().join("m.edl");
        let avid = dir.path().join("m.txt");
        let mut out = Outputs {
            edl: Some(edl.clone()),
            avid: Some(avid.clone()),
            per_file: true,
            ..Outputs::default()
        };
        // An unrelated file with the same stem but another extension is not in the way, and
        // neither is the path given itself (a run over several inputs does not write it).
        std::fs::write(dir.path().join("m.notes.md"), "x").unwrap();
        std::fs::write(&edl, "mine").unwrap();
        out.check().unwrap();
        out.write(&report).unwrap();
        assert_eq!(std::fs::read_to_string(&edl).unwrap(), "mine");
        let clip = dir.path().join("m.clip_25.mp4.edl");
        assert!(std::fs::read_to_string(&clip)
            .unwrap()
            .starts_with("TITLE: clearshot clip_25.mp4\n"));
        let avid_clip = std::fs::read_to_string(dir.path().join("m.clip_25.mp4.txt")).unwrap();
        assert!(avid_clip.starts_with("clearshot\t10:00:00:00\tV1\tred\t"));
        assert!(dir.path().join("m.empty.mov.txt").exists());
        // A second run would overwrite them: refused before any work, unless asked.
        let err = out.check().unwrap_err();
        assert!(
            matches!(&err, OutputError::Exists(p) if p.ends_with("m.clip_25.mp4.edl")),
            "{err}"
        );
        out.overwrite = true;
        out.check().unwrap();
        // A run over one input writes the path given, and refuses to replace it.
        let one = Outputs {
            avid: Some(avid.clone()),
            ..Outputs::default()
        };
        let mut single = fixture::report();
        single.files.truncate(1);
        one.check().unwrap();
        one.write(&single).unwrap();
        assert!(std::fs::read_to_string(&avid)
            .unwrap()
            .starts_with("clearshot\t01:00:56;20\t"));
        assert!(matches!(one.check(), Err(OutputError::Exists(p)) if p == avid));
    }
}
