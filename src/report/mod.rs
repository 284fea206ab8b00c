//! What a scan found, in a form every writer (JSON, table, CSV, EDL, Avid markers, OTIO,
//! HTML) reads.

pub mod avid;
pub mod csv;
pub mod edl;
pub mod html;
mod markers;
pub mod otio;
pub mod outputs;
pub mod table;

pub use outputs::{OutputError, Outputs};

use crate::gallery::{ConsentRecord, RefRecord, RefStatus};
use crate::media::MediaInfo;
use crate::policy::Severity;
use crate::timecode::FrameIndex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One registered person, or one registered reference (logo, artwork, ...), in one shot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// What was matched: `talent` or `reference`.
    pub kind: String,
    /// Shot index within the file.
    pub shot: usize,
    /// Who, or which reference.
    pub name: String,
    /// Talent: whether the track(s) identify the person or only point to them (a possible
    /// match, for review), and the evidence that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::face::track::IdentityEvidence>,
    /// Talent: their consent record at scan time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRecord>,
    /// References: the rights record and the geometric evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<RefDetail>,
    /// How serious.
    pub severity: Severity,
    /// Why, in words.
    pub reason: String,
    /// First sampled frame the person is seen on.
    pub first_frame: FrameIndex,
    /// Last sampled frame the person is seen on.
    pub last_frame: FrameIndex,
    /// Timecode of `first_frame`.
    pub tc_in: String,
    /// Timecode of `last_frame`.
    pub tc_out: String,
    /// Sampled frames with this person's face.
    pub frames_seen: usize,
    /// Of those, frames whose face matched them under the threshold.
    pub frames_matched: usize,
    /// Largest face (or matched region), longer box side, in pixels.
    pub largest_face_px: u32,
    /// Talent: smallest embedding distance to the person's gallery photos. References:
    /// `1 - score`, so lower is closer for both kinds.
    pub distance: f32,
    /// The threshold in force (references: 0.5, the accept bar of the verified inliers).
    pub threshold: f32,
    /// 0..1 score: 1 identical, 0.5 at the threshold.
    pub score: f32,
    /// Frame with the closest match: the evidence frame.
    pub best_frame: FrameIndex,
    /// Its timecode.
    pub best_tc: String,
    /// Face (or region) box on that frame: x, y, width, height in pixels.
    pub best_box: [f32; 4],
    /// The written approval that covers this finding, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approvals::Approval>,
    /// Images behind the finding (frame with box, crop, gallery reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::Evidence>,
    /// Spot-check mode: each continuous run of frames the person is on screen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appearances: Vec<Appearance>,
    /// Every gallery distance on the best frame (spot-check mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_scores: Option<Vec<(String, f32)>>,
}

impl Finding {
    /// Identified, unless the finding is a possible match. Reference findings and reports
    /// written before the review band existed count as identified.
    pub fn decision(&self) -> crate::face::track::Decision {
        self.identity
            .as_ref()
            .map_or(crate::face::track::Decision::Identified, |i| i.decision)
    }

    /// True for a finding about the whole file (its provenance), not about something seen
    /// on its frames: it sits at the file's first frame and has no score.
    pub fn is_file_level(&self) -> bool {
        self.kind == PROVENANCE
    }

    /// True for a possible match (review band).
    pub fn is_possible(&self) -> bool {
        self.decision() == crate::face::track::Decision::Possible
    }

    /// The name as reports show it: `possibly NAME` for a possible match.
    pub fn label(&self) -> String {
        if self.is_possible() {
            format!("possibly {}", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// `kind` and `name` of a file's provenance finding (an approval names it in `who`).
pub const PROVENANCE: &str = "provenance";

/// What a reference finding rests on, beyond the fields shared with talent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefDetail {
    /// Rights record at scan time (kind, owner, status, licence).
    pub record: RefRecord,
    /// Unique RANSAC inliers of the best frame's verified homography.
    pub inliers: u32,
    /// Best tile cosine of the learned stage, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosine: Option<f32>,
    /// Which stage accepted the best frame (keypoints on the whole frame, or a tile).
    pub stage: crate::references::Stage,
    /// The reference's corners projected into the best frame (TL, TR, BR, BL), in pixels.
    pub corners: [[f32; 2]; 4],
    /// Share of the frame the region covers on the best frame.
    pub frame_share: f32,
    /// Largest share over the shot.
    pub max_frame_share: f32,
    /// Seconds between the first and last sampled frame it is seen on (inclusive).
    pub screen_time_s: f64,
    /// `focal` (at least 10% of the frame, or central and at least 3%) or `background`.
    pub prominence: String,
    /// Other references matched on the same region of the same frames (owned vs third-party
    /// conflicts are named in the reason too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_region: Vec<SameRegion>,
}

/// Another reference that matched the same region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SameRegion {
    /// Its name.
    pub name: String,
    /// Its rights status.
    pub status: RefStatus,
}

/// A continuous run of frames (spot-check mode), frame-accurate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Appearance {
    /// First frame.
    pub first_frame: FrameIndex,
    /// Last frame (inclusive).
    pub last_frame: FrameIndex,
    /// Timecode in.
    pub tc_in: String,
    /// Timecode of the last frame.
    pub tc_out: String,
}

/// One face on one frame with every gallery distance (spot-check mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceDetail {
    /// x, y, width, height in pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Detector confidence.
    pub detection_score: f32,
    /// Distance to every registered person, nearest first.
    pub distances: Vec<(String, f32)>,
}

/// Everything seen on one frame (spot-check mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameDetail {
    /// Frame index.
    pub frame: FrameIndex,
    /// Its timecode.
    pub tc: String,
    /// Shot index.
    pub shot: usize,
    /// Faces.
    pub faces: Vec<FaceDetail>,
    /// References verified on this frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<RefFrameDetail>,
}

/// One reference verified on one frame (spot-check mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefFrameDetail {
    /// Reference name.
    pub name: String,
    /// x, y, width, height in pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Unique verified inliers.
    pub inliers: u32,
    /// Best tile cosine, when the learned stage ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosine: Option<f32>,
}

/// One shot of a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShotReport {
    /// Shot index.
    pub index: usize,
    /// First frame (inclusive).
    pub first_frame: FrameIndex,
    /// Last frame (inclusive).
    pub last_frame: FrameIndex,
    /// Timecode in.
    pub tc_in: String,
    /// Timecode of the last frame.
    pub tc_out: String,
    /// Frames the models saw.
    pub frames_sampled: usize,
    /// Which frames those were, in order (so a reviewer, or a peer tool in a benchmark, can
    /// look at the same ones).
    #[serde(default)]
    pub sampled: Vec<FrameIndex>,
    /// Of those, frames references were checked on (0 when no reference was matched).
    #[serde(default)]
    pub frames_ref_checked: usize,
    /// Of those, the frames where the check searched the whole frame for every reference;
    /// on the others it re-verified what the shot's last search found, where it was, as the
    /// picture showed nothing new (`scan --ref-search changed`).
    #[serde(default)]
    pub ref_searched: Vec<FrameIndex>,
    /// The earlier shot whose searched pictures this one's checks followed instead of
    /// searching, having shown one of them again (the camera back on that shot's setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_followed_shot: Option<usize>,
    /// Faces detected over those frames.
    pub faces_seen: usize,
    /// Face tracks that matched nobody in the gallery.
    pub unidentified_faces: usize,
}

/// One scanned file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// sha256 of the file's bytes at scan time (chain of custody; `clearshot verify`).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Media facts.
    pub media: MediaInfo,
    /// Start timecode as text.
    pub start_timecode: String,
    /// Frames decoded.
    pub frames_decoded: u64,
    /// Frames the models saw.
    pub frames_sampled: u64,
    /// Shots.
    pub shots: Vec<ShotReport>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Problems that did not stop the scan.
    pub warnings: Vec<String>,
    /// Spot-check mode: every frame examined, every face, every distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<FrameDetail>>,
    /// A numbered image sequence (`path` is its folder joined with the `####` pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SequenceRecord>,
    /// Content credentials (C2PA) and AI declarations (C2PA or XMP); for a sequence, those
    /// of its first frame. None only in reports written before clearshot read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::Provenance>,
    /// `scan --unknown`: the face tracks that matched nobody, with a few embeddings each.
    /// Only in the journal: the batch's report takes them out (see [`crate::unknown`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_tracks: Vec<crate::unknown::UnknownTrack>,
}

/// The frames of an image sequence scanned as one clip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceRecord {
    /// First frame number (frame index 0).
    pub first: u64,
    /// Last frame number.
    pub last: u64,
    /// Digits of the padded frame number (the `#` count of the pattern).
    pub digits: usize,
    /// Frame files present.
    pub files: usize,
    /// Missing frame numbers, as inclusive ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<(u64, u64)>,
}

impl SequenceRecord {
    /// The frame number's width in names: clearshot never records more than
    /// [`MAX_DIGITS`](crate::media::sequence::MAX_DIGITS), and a stored report that claims
    /// more is capped there (a format width above u16::MAX panics, and the `#` run of the
    /// pattern would be allocated at that length).
    fn width(&self) -> usize {
        self.digits.min(crate::media::sequence::MAX_DIGITS)
    }

    /// `[1001-1048]`.
    pub fn range(&self) -> String {
        let d = self.width();
        format!("[{:0d$}-{:0d$}]", self.first, self.last)
    }

    /// The file of frame `number`, from the sequence's `path` (folder and `####` pattern).
    pub fn frame_path(&self, path: &std::path::Path, number: u64) -> PathBuf {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let d = self.width();
        let hashes = "#".repeat(d);
        let name = match name.rfind(&hashes) {
            Some(i) => format!("{}{:0d$}{}", &name[..i], number, &name[i + d..]),
            None => name,
        };
        path.with_file_name(name)
    }

    /// Every frame present: (number, file). None when the record cannot be a real sequence
    /// (a report is user input: its range must agree with the frames it counts).
    pub fn frames(&self, path: &std::path::Path) -> Option<Vec<(u64, PathBuf)>> {
        let span = self.last.checked_sub(self.first)?.checked_add(1)?;
        let missing: u64 = self
            .missing
            .iter()
            .map(|(a, b)| b.saturating_sub(*a).saturating_add(1))
            .fold(0, u64::saturating_add);
        if span.checked_sub(missing)? != self.files as u64 {
            return None;
        }
        Some(
            (self.first..=self.last)
                .filter(|n| !self.missing.iter().any(|(a, b)| a <= n && n <= b))
                .map(|n| (n, self.frame_path(path, n)))
                .collect(),
        )
    }
}

impl FileReport {
    /// Every evidence image of the file's findings.
    pub fn evidence_images_mut(&mut self) -> impl Iterator<Item = &mut crate::evidence::Jpeg> {
        self.findings
            .iter_mut()
            .filter_map(|f| f.evidence.as_mut())
            .flat_map(|e| e.images_mut())
    }

    /// Makes the images stored in `store` readable by the writers.
    pub fn attach_evidence(&mut self, store: &crate::evidence::Store) {
        for j in self.evidence_images_mut() {
            j.attach(store);
        }
    }

    /// The name reports show: `demo.mp4`, or `shot_####.dpx [1001-1048]` for a sequence.
    pub fn display_name(&self) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match &self.sequence {
            Some(s) => format!("{name} {}", s.range()),
            None => name,
        }
    }

    /// The full path reports show, with the frame range for a sequence.
    pub fn display_path(&self) -> String {
        match &self.sequence {
            Some(s) => format!("{} {}", self.path.display(), s.range()),
            None => self.path.display().to_string(),
        }
    }
}

/// A file that could not be scanned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileFailure {
    /// The file.
    pub path: PathBuf,
    /// The one-line cause.
    pub error: String,
}

/// A model used, for the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Role in the scan.
    pub role: String,
    /// Manifest entry name.
    pub name: String,
    /// File.
    pub file: String,
    /// sha256 of the file.
    pub sha256: String,
    /// Licence.
    pub licence: String,
}

/// The gallery a scan matched against (no biometric data, only its digest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GalleryRecord {
    /// Gallery file.
    pub path: PathBuf,
    /// sha256 over its records and embeddings.
    pub state_sha256: String,
    /// People registered.
    pub talent: usize,
    /// People usable with the active embedder.
    pub matchable: usize,
    /// References (logos, artwork, ...) registered.
    #[serde(default)]
    pub references: usize,
}

/// A whole scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    /// `clearshot`.
    pub tool: String,
    /// Tool version.
    pub version: String,
    /// The command line.
    pub command_line: Vec<String>,
    /// Start (UTC, RFC 3339).
    pub started: String,
    /// End (UTC, RFC 3339).
    pub finished: String,
    /// Models used.
    pub models: Vec<ModelRecord>,
    /// Gallery used.
    pub gallery: GalleryRecord,
    /// Settings in force.
    pub settings: serde_json::Value,
    /// Scanned files.
    pub files: Vec<FileReport>,
    /// Files that could not be scanned.
    pub failures: Vec<FileFailure>,
    /// The batch was stopped before every input was scanned (see `pending`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// Inputs not scanned because the batch was stopped, or a shard's journal is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PathBuf>,
    /// `scan --unknown`: people nobody registered, recurring in the batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_people: Vec<crate::unknown::UnknownPerson>,
}

/// Report order of a file's findings: by shot, the most severe first, then by name.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.shot
            .cmp(&b.shot)
            .then(b.severity.cmp(&a.severity))
            .then(a.name.cmp(&b.name))
    });
}

/// Writes `text` to `path` through a temporary file in the same folder renamed into place,
/// so a reader never sees half a report and an old report survives a failed write.
pub fn write_atomic(path: &std::path::Path, text: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(text))
}

/// As [`write_atomic`], with the content written by `fill` as it is made.
pub fn write_atomic_with(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        fill(&mut w)?;
        w.flush()
    });
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(digits: usize) -> SequenceRecord {
        SequenceRecord {
            first: 1001,
            last: 1003,
            digits,
            files: 2,
            missing: vec![(1002, 1002)],
        }
    }

    #[test]
    fn sequence_frames_are_named_from_the_pattern() {
        let s = sequence(4);
        assert_eq!(s.range(), "[1001-1003]");
        let path = std::path::Path::new("/plates/shot_####.dpx");
        // A record whose range disagrees with its count (a crafted report) lists nothing.
        let lying = SequenceRecord {
            last: u64::MAX,
            ..sequence(4)
        };
        assert!(lying.frames(path).is_none());
        let frames = s.frames(path).unwrap();
        let names: Vec<_> = frames
            .iter()
            .map(|(n, p)| (*n, p.display().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                (1001, "/plates/shot_1001.dpx".to_string()),
                (1003, "/plates/shot_1003.dpx".to_string())
            ]
        );
    }

    /// A stored report's `digits` above u16::MAX (the `journal` fuzz harness feeds any) made
    /// `range`, and so every writer naming the file, panic.
    #[test]
    fn an_impossible_width_is_capped() {
        let s = sequence(70_000);
        assert_eq!(s.range(), "[000001001-000001003]");
        let p = s.frame_path(std::path::Path::new("/plates/shot_####.dpx"), 1001);
        assert_eq!(p, std::path::Path::new("/plates/shot_####.dpx"));
    }
}
