//! Close looks: a crop around a face-like region or a face seen on the previous sample,
//! enlarged to BlazeFace's input (turned, side by side in one picture when several turns are
//! asked for), and the short-range model's second opinion on a dim face.

use super::blazeface::RawDetection;
use super::passes::{self, Pass, Turn};
use super::{to_raw, whole, Face, FaceDetector, Region};
use crate::runtime::RuntimeError;
use image::RgbImage;

impl FaceDetector {
    /// A close look at each of `faces` (a previous sample's), at the turn its pass found it
    /// (every turn for a close look's find), accepted at the model's threshold since the
    /// face was there; each keeps its pass.
    pub(super) fn looks_again(
        &mut self,
        img: &RgbImage,
        faces: &[(Face, Pass)],
    ) -> Result<Vec<(RawDetection, Pass)>, RuntimeError> {
        let mut out = Vec::new();
        for (face, pass) in faces {
            let d = to_raw(face);
            let turns: &[Turn] = match pass {
                Pass::Turned(t) => std::slice::from_ref(t),
                Pass::Regions => &Turn::ALL,
                Pass::Upright | Pass::Fine | Pass::Dim | Pass::Small => &[Turn::None],
            };
            out.extend(
                self.close_looks(img, std::slice::from_ref(&d), turns)?
                    .into_iter()
                    .map(|d| (d, *pass)),
            );
        }
        Ok(out)
    }

    /// Whether the short-range model, trained on faces close up, also finds a face at `d`:
    /// on the upright square crop [`passes::SECOND_CONTEXT`] times its size (so the face
    /// fills a third of the model's input, as it was trained to see), with its centre in the
    /// crop's middle half, scoring at least [`passes::SECOND_SCORE`].
    pub(super) fn seen_close_up(
        &mut self,
        img: &RgbImage,
        d: &RawDetection,
    ) -> Result<bool, RuntimeError> {
        let (fw, fh) = img.dimensions();
        let (Some(short), Some(r)) = (
            self.short.as_mut(),
            passes::region_crop(d, fw, fh, passes::SECOND_CONTEXT),
        ) else {
            return Ok(false);
        };
        let sheet = passes::Mosaic::new(img, r, &[Turn::None]);
        let w = whole(sheet.image());
        Ok(short
            .detect_above(sheet.image(), None, &[w], passes::SECOND_SCORE)?
            .into_iter()
            .filter_map(|(d, _)| sheet.back(d, [r.x as f32, r.y as f32]))
            .any(|p| in_middle(&p, r)))
    }

    /// A close look at each face-like region: its crop at each of `turns`, side by side in one
    /// picture ([`passes::Mosaic`]: one model run per region), enlarged to the model's input;
    /// the best detection whose centre lies in the crop's middle half.
    pub(super) fn close_looks(
        &mut self,
        img: &RgbImage,
        regions: &[RawDetection],
        turns: &[Turn],
    ) -> Result<Vec<RawDetection>, RuntimeError> {
        let (fw, fh) = img.dimensions();
        let mut out = Vec::new();
        for d in regions {
            // Several turns in one picture for a weak response big enough to show there;
            // a small one, or one that responds like a turned face, gets a look at each turn.
            let mosaic = turns.len() > 1
                && d.w.max(d.h) >= passes::MOSAIC_MIN_FACE
                && d.score < passes::MOSAIC_MAX_SCORE;
            let context = if mosaic {
                passes::MOSAIC_CONTEXT
            } else {
                passes::CONTEXT
            };
            let Some(r) = passes::region_crop(d, fw, fh, context) else {
                continue;
            };
            let sheets: Vec<passes::Mosaic> = if mosaic {
                vec![passes::Mosaic::new(img, r, turns)]
            } else {
                turns
                    .iter()
                    .map(|t| passes::Mosaic::new(img, r, std::slice::from_ref(t)))
                    .collect()
            };
            let mut found = Vec::new();
            for sheet in &sheets {
                let w = whole(sheet.image());
                found.extend(
                    self.full
                        .detect(sheet.image(), &[w])?
                        .into_iter()
                        .filter_map(|(d, _)| sheet.back(d, [r.x as f32, r.y as f32])),
                );
            }
            if let Some(best) = found
                .into_iter()
                .filter(|p| in_middle(p, r))
                .max_by(|a, b| a.score.total_cmp(&b.score))
            {
                out.push(best);
            }
        }
        Ok(out)
    }
}

/// Whether `p`'s centre lies in the middle half of `r` (a close look's crop): the face the
/// look was for, not a neighbour at its edge.
fn in_middle(p: &RawDetection, r: Region) -> bool {
    (p.cx - (r.x + r.w / 2) as f32).abs() < r.w as f32 / 4.0
        && (p.cy - (r.y + r.h / 2) as f32).abs() < r.h as f32 / 4.0
}
