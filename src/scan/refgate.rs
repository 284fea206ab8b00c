//! Which reference checks search the whole frame, and which only re-verify what the shot's
//! last search found: a shot is searched again once its picture shows something the last
//! searched picture did not (`media::change`: the camera's zoom and pan aligned away, then
//! block by block), or the camera moved further than the gate allows. Between, a push-in
//! also re-verifies what the search proposed but could not verify, where it now is: a
//! reference too small to verify then may have grown enough. What a pull-out or a pan
//! revealed stays in view as the camera goes on, so it is searched once a third of the
//! picture is new, and at the latest on the shot's last check. A shot back on an earlier
//! shot's setup (the pacer compares each shot's first picture with those of the file's
//! last few shots and sends it to that shot's worker) follows that shot's searched
//! pictures, judged the same way, instead of searching again.

use super::pacer::SETUP_SHOTS;
use crate::media::change::{Change, Thumb};
use crate::references::{IpMatch, Proposal};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// When a reference check searches again (`scan --ref-search changed`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RefGate {
    /// Push-in since the shot was last looked at beyond which what its last search proposed
    /// is verified again where it is now (what was too small to verify may have grown).
    pub max_zoom: f32,
    /// Push-in since the last search beyond which the shot is searched again (measured with
    /// `examples/regrow_probe.rs`: up to 12% the proposals find about what a new search
    /// finds, beyond it clearly less). A pull-out shows nothing bigger: only what it
    /// reveals counts.
    #[serde(default = "default_max_push")]
    pub max_push: f32,
    /// Share of the picture not shown at the last search (pulled out, panned) beyond which
    /// the shot is searched again. What the camera reveals stays in view while it goes on
    /// (a pan carries it across the whole picture, a pull-out keeps it), and the shot's
    /// last check searches what is left ([`RefGate::last_revealed`]): this bounds how late
    /// it is found, not whether. A third: what a pan brings in is searched before it is a
    /// third of the way across; the bench's pull-outs (15%, 24% of the picture new) search
    /// once, on their last check, instead of twice at a tenth.
    pub max_revealed: f32,
    /// The same share on the shot's last check: what was revealed since the last search
    /// is searched before the shot ends. 5%: a strip a pan brings in narrower than that
    /// holds no whole reference the thorough matcher finds (~5% of the width and up), and
    /// a handheld shot's drift stays under it, so such shots do not search twice.
    #[serde(default = "default_last_revealed")]
    pub last_revealed: f32,
    /// Largest block difference (luma levels, see [`Change::residual`]) still counted as
    /// the same picture.
    pub max_residual: f32,
    /// Checks in a row that only re-verify; the next one searches whatever the picture
    /// (about every 8 s at the default rate: what a thumbnail cannot show, such as a
    /// reference as bright as what it covers, is found that late at most).
    pub max_follows: u32,
}

fn default_max_push() -> f32 {
    0.12
}

fn default_last_revealed() -> f32 {
    0.05
}

impl Default for RefGate {
    fn default() -> Self {
        Self {
            max_zoom: 0.06,
            max_push: default_max_push(),
            max_revealed: 0.33,
            last_revealed: default_last_revealed(),
            max_residual: 12.0,
            max_follows: 8,
        }
    }
}

/// What a check of a shot needs, judged from its [`Change`] since the shot's last search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Nothing the search did not see: re-verify what it found.
    Same,
    /// Pushed in past `max_zoom` since the last look, nothing else: re-verify what it found
    /// and what it proposed.
    Grown,
    /// Something new: search.
    New,
}

impl RefGate {
    /// How `now` differs from `base`, measured over the zooms this gate tells apart.
    pub fn change(&self, base: &Thumb, now: &Thumb) -> Change {
        base.compare(now, self.max_push.max(self.max_zoom))
    }

    /// Whether `now` shows what `base` does, as a fresh look at `base`'s shot would judge
    /// it (a shot's `last` check judges reveals tighter): what lets a check follow a
    /// searched picture instead of searching.
    pub fn shows_again(&self, base: &Thumb, now: &Thumb, last: bool) -> bool {
        self.judge(&self.change(base, now), 1.0, last) == Verdict::Same
    }

    /// The verdict on `c`, when the shot was last looked at (searched, or its proposals
    /// verified again) at zoom `seen` relative to the search, on the shot's `last` check
    /// or not.
    pub fn judge(&self, c: &Change, seen: f32, last: bool) -> Verdict {
        let revealed = if last {
            self.last_revealed
        } else {
            self.max_revealed
        };
        let new =
            c.residual > self.max_residual || c.revealed > revealed || c.zoom > 1.0 + self.max_push;
        if new {
            Verdict::New
        } else if c.zoom > seen * (1.0 + self.max_zoom) {
            Verdict::Grown
        } else {
            Verdict::Same
        }
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f32, hi: f32| v.is_finite() && (0.0..=hi).contains(&v);
        if !ok(self.max_zoom, 1.0)
            || !ok(self.max_push, 1.0)
            || !ok(self.max_revealed, 1.0)
            || !ok(self.last_revealed, 1.0)
            || !ok(self.max_residual, 255.0)
        {
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
    /// Re-verify these matches of the shot's last search where they are, and these of its
    /// proposals (mapped into this picture; none unless the camera pushed in).
    Follow(Vec<IpMatch>, Vec<Proposal>),
}

/// Searched pictures a shot keeps for later shots to follow: its first and latest three.
const KEPT_PER_SHOT: usize = 4;

/// A worker's memory of the last searched picture of its shot, and of the searched
/// pictures of its shots within [`SETUP_SHOTS`] before it (a shot the pacer found `like`
/// one of them may follow them).
#[derive(Default)]
pub(super) struct RefMemory {
    base: Option<Base>,
    /// The current shot and the earlier shot it is like.
    like: Option<(usize, usize)>,
    /// Searched (or adopted) pictures of this worker's recent shots, oldest first.
    earlier: VecDeque<Base>,
    /// The shot that followed an earlier one's picture, and that earlier shot.
    adopted: Option<(usize, usize)>,
}

#[derive(Clone)]
struct Base {
    shot: usize,
    thumb: Thumb,
    /// The searched frame's size (the proposals' pixels).
    size: (u32, u32),
    found: Vec<IpMatch>,
    /// What the search proposed and did not verify, in its frame's pixels.
    proposals: Vec<Proposal>,
    /// Zoom (relative to the search) when the proposals were last verified.
    seen: f32,
    /// The zoom of a pending [`Verdict::Grown`] follow.
    growing: Option<f32>,
    /// Checks since, all follows.
    follows: u32,
}

impl RefMemory {
    /// What the check of `img` (a sample of `shot`, its `last` or not) does, and its
    /// thumbnail for [`RefMemory::searched`]. Without a gate every check searches.
    pub(super) fn step(
        &mut self,
        shot: usize,
        (last, like): (bool, Option<usize>),
        img: &image::RgbImage,
        gate: Option<&RefGate>,
    ) -> (RefStep, Option<Thumb>) {
        let Some(gate) = gate else {
            return (RefStep::Search, None);
        };
        if let Some(k) = like {
            self.like = Some((shot, k));
        }
        // Only the shots the pacer could still name: the memory stays bounded, and what a
        // shot finds does not depend on which other shots this worker took.
        while self
            .earlier
            .front()
            .is_some_and(|b| b.shot + SETUP_SHOTS < shot)
        {
            self.earlier.pop_front();
        }
        let thumb = Thumb::of(img);
        let step = match self.base.as_mut() {
            Some(b) if b.shot == shot && b.follows < gate.max_follows => {
                let c = gate.change(&b.thumb, &thumb);
                match gate.judge(&c, b.seen, last) {
                    Verdict::New => self.adopt(shot, last, &thumb, gate),
                    Verdict::Same => {
                        b.growing = None;
                        RefStep::Follow(b.found.clone(), Vec::new())
                    }
                    Verdict::Grown => {
                        b.growing = Some(c.zoom);
                        let now = img.dimensions();
                        let moved = b
                            .proposals
                            .iter()
                            .filter(|p| b.found.iter().all(|m| m.reference != p.reference))
                            .filter_map(|p| map_window(p, &c, b.size, now))
                            .collect();
                        RefStep::Follow(b.found.clone(), moved)
                    }
                }
            }
            Some(b) if b.shot == shot => RefStep::Search,
            _ => self.adopt(shot, last, &thumb, gate),
        };
        (step, Some(thumb))
    }

    /// A follow of the latest searched picture of the shot this one is like that shows
    /// what `thumb` does (judged as a check of that picture's own shot would be), or a
    /// search.
    fn adopt(&mut self, shot: usize, last: bool, thumb: &Thumb, gate: &RefGate) -> RefStep {
        let Some((_, like)) = self.like.filter(|(s, _)| *s == shot) else {
            return RefStep::Search;
        };
        let found = self
            .earlier
            .iter()
            .rev()
            .filter(|b| b.shot == like)
            .find(|b| gate.shows_again(&b.thumb, thumb, last));
        let Some(b) = found else {
            return RefStep::Search;
        };
        let b = Base {
            shot,
            seen: 1.0,
            growing: None,
            follows: 0,
            ..b.clone()
        };
        let step = RefStep::Follow(b.found.clone(), Vec::new());
        self.adopted = Some((shot, like));
        self.remember(b.clone());
        self.base = Some(b);
        step
    }

    /// Keeps `b` among the searched pictures later shots may follow: a shot's first and its
    /// latest few ([`KEPT_PER_SHOT`] in all), so a long take searched every few seconds
    /// does not grow the memory with its length.
    fn remember(&mut self, b: Base) {
        let shot = b.shot;
        self.earlier.push_back(b);
        let mine: Vec<usize> = (0..self.earlier.len())
            .filter(|&i| self.earlier[i].shot == shot)
            .collect();
        if mine.len() > KEPT_PER_SHOT {
            self.earlier.remove(mine[1]);
        }
    }

    /// The earlier shot whose searched picture a check of `shot` followed, if one did.
    pub(super) fn followed_from(&self, shot: usize) -> Option<usize> {
        self.adopted.filter(|(s, _)| *s == shot).map(|(_, k)| k)
    }

    /// A search of `shot`, on a frame of `size`, found `found` and verified `proposals`
    /// without finding their reference, on the picture of `thumb`.
    pub(super) fn searched(
        &mut self,
        shot: usize,
        size: (u32, u32),
        thumb: Option<Thumb>,
        found: &[IpMatch],
        proposals: Vec<Proposal>,
    ) {
        self.base = thumb.map(|thumb| Base {
            shot,
            thumb,
            size,
            found: found.to_vec(),
            proposals,
            seen: 1.0,
            growing: None,
            follows: 0,
        });
        if let Some(b) = self.base.clone() {
            self.remember(b);
        }
    }

    /// A follow re-found `found`: later follows look where they are now (a reference the
    /// follow lost keeps its last place; one its proposals found is followed from now on).
    pub(super) fn followed(&mut self, found: &[IpMatch]) {
        if let Some(b) = self.base.as_mut() {
            b.follows += 1;
            if let Some(z) = b.growing.take() {
                b.seen = z;
            }
            for f in found {
                match b.found.iter_mut().find(|o| o.reference == f.reference) {
                    Some(old) => *old = f.clone(),
                    None => b.found.push(f.clone()),
                }
            }
        }
    }
}

/// A proposal of a frame of `size` moved by the camera change `c` into a frame of `now`,
/// clipped to it; None when less than half of it is still in view.
fn map_window(p: &Proposal, c: &Change, size: (u32, u32), now: (u32, u32)) -> Option<Proposal> {
    let (sw, sh) = (size.0.max(1) as f32, size.1.max(1) as f32);
    let (nw, nh) = (now.0 as f32, now.1 as f32);
    let r = p.window;
    let a = c.to_later([r[0] / sw, r[1] / sh]);
    let b = c.to_later([r[2] / sw, r[3] / sh]);
    let full = (b[0] - a[0]) * nw * (b[1] - a[1]) * nh;
    let window = [
        (a[0] * nw).clamp(0.0, nw),
        (a[1] * nh).clamp(0.0, nh),
        (b[0] * nw).clamp(0.0, nw),
        (b[1] * nh).clamp(0.0, nh),
    ];
    let kept = (window[2] - window[0]) * (window[3] - window[1]);
    (full > 0.0 && kept * 2.0 >= full).then_some(Proposal { window, ..*p })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// The test scene's grey at (x, y), defined beyond the picture too.
    fn shade(x: f32, y: f32) -> Rgb<u8> {
        let v = 128.0 + 60.0 * (x / 29.0).sin() * (y / 17.0).cos();
        Rgb([v as u8, v as u8, v as u8])
    }

    fn scene(shift: u32) -> RgbImage {
        RgbImage::from_fn(480, 270, |x, y| shade((x + shift) as f32, y as f32))
    }

    /// `scene(0)` pushed in by `s` about its centre.
    fn pushed(s: f32) -> RgbImage {
        let img = scene(0);
        RgbImage::from_fn(480, 270, |x, y| {
            let sx = (240.0 + (x as f32 - 240.0) / s).round() as u32;
            let sy = (135.0 + (y as f32 - 135.0) / s).round() as u32;
            *img.get_pixel(sx.min(479), sy.min(269))
        })
    }

    fn proposal(reference: usize) -> Proposal {
        Proposal {
            reference,
            window: [300.0, 60.0, 360.0, 120.0],
            cosine: 0.4,
        }
    }

    #[test]
    fn a_shot_is_searched_first_then_followed_until_something_new_shows() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (step, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        assert_eq!(step, RefStep::Search);
        m.searched(0, (480, 270), thumb, &[], vec![proposal(3)]);
        // The same picture, a little panned: nothing new, and nothing grew.
        let (step, _) = m.step(0, (false, None), &scene(4), Some(&gate));
        assert_eq!(step, RefStep::Follow(Vec::new(), Vec::new()));
        // Something appears.
        let mut later = scene(4);
        for y in 100..140 {
            for x in 300..360 {
                later.put_pixel(x, y, Rgb([if x < 330 { 10 } else { 250 }; 3]));
            }
        }
        assert_eq!(
            m.step(0, (false, None), &later, Some(&gate)).0,
            RefStep::Search
        );
        // After `max_follows` follows, a search whatever the picture.
        for _ in 0..gate.max_follows {
            m.followed(&[]);
        }
        assert_eq!(
            m.step(0, (false, None), &scene(4), Some(&gate)).0,
            RefStep::Search
        );
        // Another shot is always searched, and so is every check without a gate.
        assert_eq!(
            m.step(1, (false, None), &scene(0), Some(&gate)).0,
            RefStep::Search
        );
        assert_eq!(m.step(0, (false, None), &scene(0), None).0, RefStep::Search);
    }

    #[test]
    fn a_push_in_verifies_the_proposals_again_then_searches() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (_, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        m.searched(0, (480, 270), thumb, &[], vec![proposal(3)]);
        // 3%: the same picture.
        assert_eq!(
            m.step(0, (false, None), &pushed(1.03), Some(&gate)).0,
            RefStep::Follow(Vec::new(), Vec::new())
        );
        m.followed(&[]);
        // 8%: grown; the proposal is looked at again where the push-in moved it (away from
        // the centre, and larger).
        let RefStep::Follow(_, moved) = m.step(0, (false, None), &pushed(1.08), Some(&gate)).0
        else {
            panic!("a push-in of 8% is no search");
        };
        let [p] = moved.as_slice() else {
            panic!("{moved:?}");
        };
        let want = [240.0 + 60.0 * 1.08, 135.0 - 75.0 * 1.08];
        assert!((p.window[0] - want[0]).abs() < 6.0, "{p:?}");
        assert!((p.window[1] - want[1]).abs() < 6.0, "{p:?}");
        assert!(p.window[2] - p.window[0] > 60.0, "{p:?}");
        m.followed(&[]);
        // 10%: within 6% of the last look, so no proposals again.
        assert_eq!(
            m.step(0, (false, None), &pushed(1.10), Some(&gate)).0,
            RefStep::Follow(Vec::new(), Vec::new())
        );
        m.followed(&[]);
        // 15%: past `max_push` since the search.
        assert_eq!(
            m.step(0, (false, None), &pushed(1.15), Some(&gate)).0,
            RefStep::Search
        );
    }

    /// `scene(0)` pulled out by `s` about its centre: more of the same scene around it.
    fn pulled(s: f32) -> RgbImage {
        RgbImage::from_fn(480, 270, |x, y| {
            shade(
                240.0 + (x as f32 - 240.0) * s,
                135.0 + (y as f32 - 135.0) * s,
            )
        })
    }

    #[test]
    fn what_a_pull_out_reveals_is_searched_by_the_shots_last_check_at_the_latest() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (_, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        m.searched(0, (480, 270), thumb, &[], Vec::new());
        // 10% out: a sixth of the picture is new, followed while the shot goes on...
        assert_eq!(
            m.step(0, (false, None), &pulled(1.10), Some(&gate)).0,
            RefStep::Follow(Vec::new(), Vec::new())
        );
        m.followed(&[]);
        // ... and searched on its last check.
        assert_eq!(
            m.step(0, (true, None), &pulled(1.10), Some(&gate)).0,
            RefStep::Search
        );
        // A handheld drift (3% of the width) on the last check: followed.
        let (_, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        m.searched(0, (480, 270), thumb, &[], Vec::new());
        assert_eq!(
            m.step(0, (true, None), &scene(14), Some(&gate)).0,
            RefStep::Follow(Vec::new(), Vec::new())
        );
        // Half the picture new: searched at once.
        assert_eq!(
            m.step(0, (false, None), &pulled(1.45), Some(&gate)).0,
            RefStep::Search
        );
    }

    #[test]
    fn a_reference_found_by_its_proposal_is_followed_from_then_on() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (_, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        m.searched(0, (480, 270), thumb, &[], vec![proposal(3)]);
        let RefStep::Follow(_, moved) = m.step(0, (false, None), &pushed(1.08), Some(&gate)).0
        else {
            panic!("no search expected");
        };
        let hit = IpMatch {
            reference: 3,
            corners: [[300.0, 40.0], [370.0, 40.0], [370.0, 110.0], [300.0, 110.0]],
            bbox: moved[0].window,
            inliers: 12,
            score: 0.6,
            frame_share: 0.03,
            stage: crate::references::Stage::Tile,
            cosine: Some(0.4),
        };
        m.followed(std::slice::from_ref(&hit));
        // Pushed in further (but within 6% of the last look): the hit is followed, and its
        // proposal is not looked at again.
        assert_eq!(
            m.step(0, (false, None), &pushed(1.11), Some(&gate)).0,
            RefStep::Follow(vec![hit], Vec::new())
        );
    }

    fn hit(reference: usize) -> IpMatch {
        IpMatch {
            reference,
            corners: [[300.0, 40.0], [370.0, 40.0], [370.0, 110.0], [300.0, 110.0]],
            bbox: [300.0, 40.0, 370.0, 110.0],
            inliers: 12,
            score: 0.6,
            frame_share: 0.03,
            stage: crate::references::Stage::Keypoints,
            cosine: None,
        }
    }

    #[test]
    fn a_shot_like_an_earlier_one_follows_what_its_search_found() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        let (_, thumb) = m.step(0, (false, None), &scene(0), Some(&gate));
        m.searched(0, (480, 270), thumb, &[hit(2)], Vec::new());
        let other = pulled(1.45);
        let (_, thumb) = m.step(1, (false, None), &other, Some(&gate));
        m.searched(1, (480, 270), thumb, &[], Vec::new());
        // Back on shot 0's setup, a little panned: what its search found is verified.
        assert_eq!(
            m.step(2, (false, Some(0)), &scene(4), Some(&gate)).0,
            RefStep::Follow(vec![hit(2)], Vec::new())
        );
        assert_eq!(m.followed_from(2), Some(0));
        assert_eq!(m.followed_from(1), None);
        // Then followed as any shot's search would be, and searched when something new shows.
        assert_eq!(
            m.step(2, (false, None), &scene(3), Some(&gate)).0,
            RefStep::Follow(vec![hit(2)], Vec::new())
        );
        assert_eq!(
            m.step(2, (false, None), &pulled(1.45), Some(&gate)).0,
            RefStep::Search
        );
        // Named like shot 0 but showing another picture: searched.
        assert_eq!(
            m.step(3, (false, Some(0)), &other, Some(&gate)).0,
            RefStep::Search
        );
        // Without the pacer's word, searched whatever the picture.
        assert_eq!(
            m.step(4, (false, None), &scene(0), Some(&gate)).0,
            RefStep::Search
        );
        // A shot adopted from is a shot that can be adopted from.
        assert_eq!(
            m.step(5, (false, Some(2)), &scene(0), Some(&gate)).0,
            RefStep::Follow(vec![hit(2)], Vec::new())
        );
        // Beyond `SETUP_SHOTS`, forgotten (as the pacer would not name it).
        let far = 2 + SETUP_SHOTS + 1;
        assert_eq!(
            m.step(far, (false, Some(0)), &scene(0), Some(&gate)).0,
            RefStep::Search
        );
        assert!(m.earlier.iter().all(|b| b.shot + SETUP_SHOTS >= far));
    }

    #[test]
    fn a_long_take_keeps_its_first_and_latest_searched_pictures_only() {
        let gate = RefGate::default();
        let mut m = RefMemory::default();
        for i in 0..20 {
            let (_, thumb) = m.step(0, (false, None), &scene(i), Some(&gate));
            m.searched(0, (480, 270), thumb, &[hit(i as usize)], Vec::new());
        }
        let kept: Vec<usize> = m.earlier.iter().map(|b| b.found[0].reference).collect();
        assert_eq!(kept, vec![0, 17, 18, 19]);
    }

    #[test]
    fn gate_settings_are_checked() {
        assert!(RefGate::default().validate().is_ok());
        let bad = RefGate {
            max_zoom: f32::NAN,
            ..RefGate::default()
        };
        assert!(bad.validate().is_err());
        let bad = RefGate {
            max_push: -0.1,
            ..RefGate::default()
        };
        assert!(bad.validate().is_err());
    }
}
