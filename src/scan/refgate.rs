//! Which reference checks search the whole frame, and which only re-verify what the shot's
//! last search found: a shot is searched again once its picture shows something the last
//! searched picture did not (`media::change`: the camera's zoom and pan aligned away, then
//! block by block), or the camera moved further than the gate allows.

use crate::ipmatch::IpMatch;
use crate::media::change::{Change, Thumb};
use serde::{Deserialize, Serialize};

/// When a reference check searches again (`scan --ref-search changed`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RefGate {
    /// Zoom either way since the last search beyond which the shot is searched again (what
    /// was too small to find may have grown).
    pub max_zoom: f32,
    /// Share of the picture not shown at the last search (pulled out, panned) beyond which
    /// the shot is searched again.
    pub max_revealed: f32,
    /// Largest block difference (luma levels, see [`Change::residual`]) still counted as
    /// the same picture.
    pub max_residual: f32,
    /// Checks in a row that only re-verify; the next one searches whatever the picture
    /// (about every 8 s at the default rate: what a thumbnail cannot show, such as a
    /// reference as bright as what it covers, is found that late at most).
    pub max_follows: u32,
}

impl Default for RefGate {
    fn default() -> Self {
        Self {
            max_zoom: 0.06,
            max_revealed: 0.10,
            max_residual: 12.0,
            max_follows: 8,
        }
    }
}

impl RefGate {
    /// True when `c` shows nothing the searched picture did not.
    pub fn unchanged(&self, c: &Change) -> bool {
        (c.zoom.ln().abs() <= (1.0 + self.max_zoom).ln())
            && c.revealed <= self.max_revealed
            && c.residual <= self.max_residual
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f32, hi: f32| v.is_finite() && (0.0..=hi).contains(&v);
        if !ok(self.max_zoom, 1.0) || !ok(self.max_revealed, 1.0) || !ok(self.max_residual, 255.0) {
            return Err(format!("reference gate out of range: {self:?}"));
        }
        Ok(())
    }
}

/// What a reference check does.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RefStep {
    /// Search the whole frame for every reference.
    Search,
    /// Re-verify these matches of the shot's last search where they were.
    Follow(Vec<IpMatch>),
}

/// A worker's memory of the last searched picture of its shot.
#[derive(Default)]
pub(super) struct RefMemory {
    base: Option<Base>,
}

struct Base {
    shot: usize,
    thumb: Thumb,
    found: Vec<IpMatch>,
    /// Checks since, all follows.
    follows: u32,
}

impl RefMemory {
    /// What the check of `img` (a sample of `shot`) does, and its thumbnail for
    /// [`RefMemory::searched`]. Without a gate every check searches.
    pub(super) fn step(
        &self,
        shot: usize,
        img: &image::RgbImage,
        gate: Option<&RefGate>,
    ) -> (RefStep, Option<Thumb>) {
        let Some(gate) = gate else {
            return (RefStep::Search, None);
        };
        let thumb = Thumb::of(img);
        let step = match &self.base {
            Some(b)
                if b.shot == shot
                    && b.follows < gate.max_follows
                    && gate.unchanged(&b.thumb.compare(&thumb, gate.max_zoom)) =>
            {
                RefStep::Follow(b.found.clone())
            }
            _ => RefStep::Search,
        };
        (step, Some(thumb))
    }

    /// A search of `shot` found `found` on the picture of `thumb`.
    pub(super) fn searched(&mut self, shot: usize, thumb: Option<Thumb>, found: &[IpMatch]) {
        self.base = thumb.map(|thumb| Base {
            shot,
            thumb,
            found: found.to_vec(),
            follows: 0,
        });
    }

    /// A follow re-found `found`: later follows look where they are now (a reference the
    /// follow lost keeps its last place).
    pub(super) fn followed(&mut self, found: &[IpMatch]) {
        if let Some(b) = self.base.as_mut() {
            b.follows += 1;
            for f in found {
                if let Some(old) = b.found.iter_mut().find(|o| o.reference == f.reference) {
                    *old = f.clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn scene(shift: u32) -> RgbImage {
        RgbImage::from_fn(480, 270, |x, y| {
            let v = 128.0 + 60.0 * ((x + shift) as f32 / 29.0).sin() * (y as f32 / 17.0).cos();
            Rgb([v as u8, v as u8, v as u8])
        })
    }

    #[test]
    fn a_shot_is_searched_first_then_followed_until_something_new_shows() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (step, thumb) = m.step(0, &scene(0), Some(&gate));
        assert_eq!(step, RefStep::Search);
        m.searched(0, thumb, &[]);
        // The same picture, a little panned: nothing new.
        let (step, _) = m.step(0, &scene(4), Some(&gate));
        assert_eq!(step, RefStep::Follow(Vec::new()));
        // Something appears.
        let mut later = scene(4);
        for y in 100..140 {
            for x in 300..360 {
                later.put_pixel(x, y, Rgb([if x < 330 { 10 } else { 250 }; 3]));
            }
        }
        assert_eq!(m.step(0, &later, Some(&gate)).0, RefStep::Search);
        // After `max_follows` follows, a search whatever the picture.
        for _ in 0..gate.max_follows {
            m.followed(&[]);
        }
        assert_eq!(m.step(0, &scene(4), Some(&gate)).0, RefStep::Search);
        // Another shot is always searched, and so is every check without a gate.
        assert_eq!(m.step(1, &scene(0), Some(&gate)).0, RefStep::Search);
        assert_eq!(m.step(0, &scene(0), None).0, RefStep::Search);
    }

    #[test]
    fn gate_settings_are_checked() {
        assert!(RefGate::default().validate().is_ok());
        let bad = RefGate {
            max_zoom: f32::NAN,
            ..RefGate::default()
        };
        assert!(bad.validate().is_err());
    }
}
