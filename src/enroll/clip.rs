//! Enrolling a person from a video clip: sample its frames (bounded however long it is),
//! find and embed the faces, keep the one person on most samples, and keep a few of their
//! sharpest faces per pose so that profiles in the footage meet profile references.

use super::select::{self, Linking, Seen};
use super::{file_name, sha256, EnrollError, EnrolledFile};
use crate::face::pose::Pose;
use crate::gallery::{Enrollment, PoseCounts};
use crate::media::{self, FrameSink, MediaError, SampledFrame, SamplingOptions};
use crate::models::Metric;
use crate::scan::Scanner;
use std::ops::ControlFlow;
use std::path::Path;

/// Limits of clip enrollment.
#[derive(Debug, Clone, Copy)]
pub struct ClipLimits {
    /// At most this many samples per second of video.
    pub per_second: f64,
    /// At most this many samples per clip, however long it is (the rate is lowered to fit).
    pub max_samples: usize,
    /// Only the largest faces of a sample are considered.
    pub max_faces_per_sample: usize,
    /// Faces kept per pose bin.
    pub per_bin: usize,
}

impl Default for ClipLimits {
    fn default() -> Self {
        Self {
            per_second: 4.0,
            max_samples: 300,
            max_faces_per_sample: 8,
            per_bin: 3,
        }
    }
}

impl ClipLimits {
    /// Samples per second for a clip of `seconds` (None: unknown): [`Self::per_second`], lowered
    /// so that the grid fills 80% of [`Self::max_samples`] (shots add their first and last
    /// frames). Samples beyond the cap are never analysed.
    pub fn rate(&self, seconds: Option<f64>) -> f64 {
        let budget = self.max_samples as f64 * 0.8;
        match seconds.filter(|s| s.is_finite() && *s > 0.0) {
            Some(s) => (budget / s).min(self.per_second),
            None => self.per_second,
        }
    }
}

/// Enrolls the one person of the clip at `path`.
pub fn talent_clip(
    scanner: &mut Scanner,
    path: &Path,
    keep_chip: bool,
    limits: &ClipLimits,
) -> Result<EnrolledFile, EnrollError> {
    let info = media::probe(path)?;
    let fps = info.frame_rate.fps();
    let seconds = info
        .duration_seconds
        .or_else(|| info.frame_count.map(|n| n as f64 / fps));
    let opts = SamplingOptions {
        per_second: limits.rate(seconds),
        min_per_shot: 1,
        ..SamplingOptions::default()
    };
    let mut sink = Collector {
        scanner,
        keep_chip,
        limits: *limits,
        samples: 0,
        faces: Vec::new(),
        error: None,
    };
    let summary = match media::stream(path, &opts, &mut sink) {
        Ok(s) => Some(s),
        // The sample cap was reached: what was sampled is enough.
        Err(MediaError::Cancelled { .. }) if sink.error.is_none() => None,
        Err(MediaError::Cancelled { .. }) => {
            return Err(sink.error.take().unwrap_or_else(|| {
                EnrollError::Settings("enrollment stopped for no reason".into())
            }))
        }
        Err(e) => return Err(e.into()),
    };
    // A damaged clip could hold frames of anything: enroll only from clean ones.
    if let Some(w) = summary.as_ref().and_then(|s| s.warnings.first()) {
        return Err(EnrollError::Damaged {
            path: path.to_path_buf(),
            cause: strip_path(w, path),
        });
    }
    let samples = sink.samples;
    let faces = std::mem::take(&mut sink.faces);
    let embedder = &sink.scanner.models.embedder.entry.embedder;
    let metric = embedder.as_ref().map_or(Metric::Euclidean, |e| e.metric);
    let link = Linking::from_threshold(metric, sink.scanner.matcher().threshold());
    let groups = select::people(&faces, &link);
    let Some(main) = groups.first() else {
        return Err(EnrollError::Faces {
            path: path.to_path_buf(),
            found: format!("no face found on {samples} samples"),
        });
    };
    let on_main = select::samples_of(&faces, main);
    if !select::enough_samples(on_main, samples) {
        return Err(EnrollError::Faces {
            path: path.to_path_buf(),
            found: format!(
                "a face on only {on_main} of {samples} samples, too few to tell a person from a false detection"
            ),
        });
    }
    if let Some(second) = groups.get(1) {
        let on_second = select::samples_of(&faces, second);
        if select::too_many_people(on_main, on_second) {
            return Err(EnrollError::People {
                path: path.to_path_buf(),
                first: on_main,
                second: on_second,
                samples,
            });
        }
    }
    let kept = select::choose(&faces, main, &link, limits.per_bin);
    if kept.is_empty() {
        return Err(EnrollError::NotAligned(path.to_path_buf()));
    }
    let name = file_name(path);
    let digest = sha256(path)?;
    let mut poses = PoseCounts::default();
    let mut faces: Vec<Option<Seen>> = faces.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for i in kept {
        let Some(f) = faces[i].take() else { continue };
        poses.count(f.pose.map(|p| p.class()));
        out.push(Enrollment {
            embedding: f.embedding,
            photo_name: name.clone(),
            photo_sha256: digest.clone(),
            chip_jpeg: f.chip_jpeg,
            pose: f.pose,
        });
    }
    Ok(EnrolledFile {
        name,
        faces: out,
        poses,
        samples: Some(samples),
    })
}

/// A warning without the file name it starts with (the error names the file once).
fn strip_path(warning: &str, path: &Path) -> String {
    let p = format!("{}: ", path.display());
    media::one_line(warning.strip_prefix(&p).unwrap_or(warning))
}

/// Analyses each sampled frame as it is decoded, keeping only the faces' compact records.
struct Collector<'a> {
    scanner: &'a mut Scanner,
    keep_chip: bool,
    limits: ClipLimits,
    samples: usize,
    faces: Vec<Seen>,
    error: Option<EnrollError>,
}

impl FrameSink for Collector<'_> {
    fn sample(&mut self, frame: SampledFrame) -> ControlFlow<()> {
        if self.samples >= self.limits.max_samples {
            return ControlFlow::Break(());
        }
        let sample = self.samples;
        self.samples += 1;
        let mut obs = match self.scanner.analyse_image(&frame.image) {
            Ok(o) => o,
            Err(e) => {
                self.error = Some(e.into());
                return ControlFlow::Break(());
            }
        };
        obs.sort_by(|a, b| b.face.size().total_cmp(&a.face.size()));
        obs.truncate(self.limits.max_faces_per_sample);
        for o in obs {
            let (Some(embedding), Some(chip)) = (o.embedding, o.chip) else {
                continue;
            };
            self.faces.push(Seen {
                sample,
                shot: frame.shot,
                corners: o.face.corners(),
                score: o.face.score,
                size: o.face.size(),
                sharpness: select::sharpness(&chip),
                pose: Pose::from_keypoints(&o.face.keypoints),
                embedding,
                chip_jpeg: self.keep_chip.then(|| super::chip_jpeg(&chip)).flatten(),
            });
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_clips_are_sampled_more_sparsely_within_the_cap() {
        let l = ClipLimits::default();
        assert_eq!(l.rate(Some(7.2)), 4.0);
        assert_eq!(l.rate(None), 4.0);
        assert_eq!(l.rate(Some(f64::NAN)), 4.0);
        for s in [120.0, 600.0, 7200.0] {
            let r = l.rate(Some(s));
            assert!(r < 4.0 && (r * s - 240.0).abs() < 1e-6, "{s} s: {r}/s");
        }
    }
}
