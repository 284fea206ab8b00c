//! The settings that decide what a scan finds. They travel to the worker processes, are
//! recorded in the journal and in every report, and (with the models and the gallery state)
//! make the key that says whether a journal entry is still valid. How the work is spread
//! (`--jobs`, `--workers`) is not among them: it never changes a result.

use crate::face::detect::HardFaces;
use crate::media::SamplingOptions;
use crate::references::MatchConfig;
use crate::scan::ScanOptions;
use crate::timecode::FrameRate;
use serde::{Deserialize, Serialize};
use time::Date;

/// What a scan looks for and how closely (flags of `scan` and `inspect`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanSettings {
    /// Frames per second the models see, at least (plus first, middle and last of each shot).
    pub sample_rate: f64,
    /// Minimum sampled frames per shot.
    pub min_per_shot: u32,
    /// Tile side for small-face detection in pixels (0: whole frame only).
    pub tile: u32,
    /// Face distance threshold; None: the embedder's, from the manifest.
    pub threshold: Option<f32>,
    /// Upper limit of the review band (possible matches); None: the default band.
    #[serde(default)]
    pub review_limit: Option<f32>,
    /// Match registered references.
    pub references: bool,
    /// Frames per second references are matched on, at most.
    pub ref_rate: f64,
    /// The thorough reference matcher (small references; the default, `--coarse-refs` turns
    /// it off).
    pub fine_refs: bool,
    /// Every reference check searches the whole frame (else only a shot's first and those
    /// where the picture shows something new: `scan::refgate`). Every-frame spot checks
    /// always do.
    #[serde(default)]
    pub ref_search_every: bool,
    /// Every frame of the range (spot checks).
    pub every_frame: bool,
    /// Inclusive frame range (spot checks); None: the whole file.
    pub range: Option<(u64, u64)>,
    /// Keep every gallery distance of every face (spot checks).
    pub keep_all_scores: bool,
    /// Pictures larger than this many pixels are refused before anything is allocated.
    pub max_pixels: u64,
    /// Frame rate of numbered image sequences.
    pub seq_rate: FrameRate,
    /// Where the detection passes for hard faces (turned, tiny) are spent. Part of the run
    /// key, so journals made with another mode (or before the setting existed) rescan.
    #[serde(default)]
    pub hard_faces: HardFaces,
    /// Decode every frame in full (see `SamplingOptions::skip_unneeded`). Part of the run key:
    /// samples may fall on other frames.
    #[serde(default)]
    pub decode_all: bool,
    /// PEM trust anchors of approved signers (`--trust-anchors`): their credentials are
    /// `trusted`. The record keeps only their sha256.
    #[serde(default)]
    pub trust_anchors: Option<String>,
    /// Group the faces nobody registered into people across the batch (`--unknown`). Off by
    /// default: it keeps biometric data of people who consented to nothing (see
    /// [`crate::unknown`]). Absent from the record when off, so older journals stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<crate::unknown::UnknownSettings>,
}

/// Default `--max-pixels`: well above 8K UHD (33 MP) and a 150 MP medium-format still.
pub const DEFAULT_MAX_PIXELS: u64 = crate::media::DEFAULT_MAX_PIXELS;

impl Default for ScanSettings {
    fn default() -> Self {
        let s = SamplingOptions::default();
        Self {
            sample_rate: s.per_second,
            min_per_shot: s.min_per_shot,
            tile: crate::face::detect::DetectOptions::default().tile,
            threshold: None,
            review_limit: None,
            references: true,
            ref_rate: 1.0,
            fine_refs: true,
            ref_search_every: false,
            every_frame: false,
            range: None,
            keep_all_scores: false,
            max_pixels: DEFAULT_MAX_PIXELS,
            seq_rate: FrameRate { num: 24, den: 1 },
            hard_faces: HardFaces::default(),
            decode_all: false,
            trust_anchors: None,
            unknown: None,
        }
    }
}

impl ScanSettings {
    /// The scan options these settings make, with `workers` model threads; consent is judged
    /// on `today`. Rejects settings that cannot work, with the reason.
    pub fn options(&self, today: Date, workers: usize) -> Result<ScanOptions, String> {
        let mut o = ScanOptions::new(today);
        o.sampling = SamplingOptions {
            per_second: self.sample_rate,
            min_per_shot: self.min_per_shot,
            every_frame: self.every_frame,
            range: self.range,
            skip_unneeded: !self.decode_all,
            ..SamplingOptions::default()
        };
        o.detect.tile = self.tile;
        o.detect.hard = self.hard_faces;
        o.workers = workers;
        o.threshold = self.threshold;
        o.review_limit = self.review_limit;
        o.references = self.references;
        o.ref_per_second = self.ref_rate;
        o.keep_all_scores = self.keep_all_scores;
        o.seq_rate = self.seq_rate;
        o.sampling.max_pixels = self.max_pixels;
        o.provenance.trust_anchors = self.trust_anchors.clone();
        o.unknown = self.unknown.is_some();
        if let Some(u) = &self.unknown {
            u.validate()?;
        }
        if self.fine_refs {
            o.ip = MatchConfig::fine();
        }
        if self.ref_search_every || self.every_frame {
            o.ref_gate = None;
        }
        if self.max_pixels == 0 {
            return Err("--max-pixels must be at least 1".into());
        }
        if self.seq_rate.num == 0 || self.seq_rate.den == 0 {
            return Err("--seq-rate must be a positive frame rate".into());
        }
        o.validate()?;
        Ok(o)
    }

    /// The record of these settings in reports and the journal: every field, with the
    /// threshold and review band resolved to the ones in force and the reference matcher's
    /// full settings.
    pub fn record(
        &self,
        opts: &ScanOptions,
        threshold: f32,
        references: bool,
    ) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("threshold".into(), serde_json::json!(threshold));
            m.insert(
                "review_limit".into(),
                serde_json::json!(self
                    .review_limit
                    .unwrap_or(threshold + crate::face::matching::DEFAULT_REVIEW_BAND)),
            );
            m.insert("references".into(), serde_json::json!(references));
            m.insert(
                "trust_anchors".into(),
                serde_json::json!(self.trust_anchors.as_ref().map(|pem| {
                    use sha2::Digest;
                    format!("sha256:{}", crate::models::hex(&sha2::Sha256::digest(pem)))
                })),
            );
            m.insert(
                "reference_matcher".into(),
                serde_json::to_value(&opts.ip).unwrap_or_default(),
            );
            m.insert(
                "reference_gate".into(),
                serde_json::to_value(opts.ref_gate).unwrap_or_default(),
            );
        }
        v
    }
}

/// Parses `--seq-rate`: `24`, `25`, `23.976`, `29.97`, `24000/1001`.
pub fn parse_rate(text: &str) -> Result<FrameRate, String> {
    let bad = || format!("'{text}' is not a frame rate (24, 23.976, 24000/1001)");
    let (num, den) = match text.split_once('/') {
        Some((n, d)) => (
            n.trim().parse::<u32>().map_err(|_| bad())?,
            d.trim().parse::<u32>().map_err(|_| bad())?,
        ),
        None => {
            let f: f64 = text.trim().parse().map_err(|_| bad())?;
            if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
                return Err(bad());
            }
            // NTSC rates are written rounded (23.976, 29.97, 59.94): they mean n*1000/1001.
            let ntsc = (f * 1.001).round();
            if (f - ntsc / 1.001).abs() < 0.005 && (f - f.round()).abs() > 0.005 {
                (ntsc as u32 * 1000, 1001)
            } else if (f - f.round()).abs() < 1e-9 {
                (f.round() as u32, 1)
            } else {
                ((f * 1000.0).round() as u32, 1000)
            }
        }
    };
    FrameRate::new(num, den).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_editors_write_them() {
        let r = |t: &str| parse_rate(t).map(|r| (r.num, r.den));
        assert_eq!(r("24"), Ok((24, 1)));
        assert_eq!(r("23.976"), Ok((24000, 1001)));
        assert_eq!(r("29.97"), Ok((30000, 1001)));
        assert_eq!(r("59.94"), Ok((60000, 1001)));
        assert_eq!(r("24000/1001"), Ok((24000, 1001)));
        assert_eq!(r("12.5"), Ok((12500, 1000)));
        for bad in ["", "0", "-24", "x", "24/0", "1e9", "NaN", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hard_faces_mode_reaches_the_options_and_the_record() {
        let today = crate::gallery::parse_date("2026-12-01").unwrap();
        let s = ScanSettings {
            hard_faces: HardFaces::Key,
            ..ScanSettings::default()
        };
        let o = s.options(today, 1).unwrap();
        assert_eq!(o.detect.hard, HardFaces::Key);
        let d = ScanSettings::default();
        assert_ne!(
            s.record(&o, 0.5, true),
            d.record(&d.options(today, 1).unwrap(), 0.5, true),
            "another mode is another run key"
        );
        // Settings recorded before the field existed still read back.
        let mut old = serde_json::to_value(&d).unwrap();
        old.as_object_mut().unwrap().remove("hard_faces");
        let back: ScanSettings = serde_json::from_value(old).unwrap();
        assert_eq!(back.hard_faces, HardFaces::default());
    }

    #[test]
    fn defaults_make_valid_options_and_nonsense_is_refused() {
        let today = crate::gallery::parse_date("2026-12-01").unwrap();
        let s = ScanSettings::default();
        assert!(s.options(today, 2).is_ok());
        let bad = ScanSettings {
            max_pixels: 0,
            ..ScanSettings::default()
        };
        assert!(bad.options(today, 2).is_err());
        let bad = ScanSettings {
            sample_rate: 0.0,
            ..ScanSettings::default()
        };
        assert!(bad.options(today, 2).is_err());
    }
}
