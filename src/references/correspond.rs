//! Descriptor correspondences: brute-force Hamming nearest neighbours with Lowe's ratio test,
//! one reference feature per frame feature.

use super::orb::{hamming, Descriptor};

/// A reference feature matched to a frame feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Correspondence {
    /// Index into the reference features.
    pub reference: usize,
    /// Index into the frame features.
    pub frame: usize,
    /// Hamming distance.
    pub distance: u32,
}

/// The two nearest frame descriptors of one reference descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nearest {
    /// Index of the nearest frame descriptor (`usize::MAX` when the frame has none).
    pub index: usize,
    /// Its distance.
    pub d1: u32,
    /// Distance of the second nearest (`u32::MAX` when there is none).
    pub d2: u32,
}

/// For every reference descriptor, its nearest and second-nearest frame descriptors.
/// Brute force, four reference descriptors at a time (each frame descriptor loaded once for
/// four distance chains: 2.0 -> 1.3 ns a pair on 800 x 3000 random descriptors here); with
/// the CPU's population-count instruction when it has one (x86-64 baseline code has none,
/// and the software count is about three times slower).
pub fn nearest_two(reference: &[Descriptor], frame: &[Descriptor]) -> Vec<Nearest> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports the only feature the function is compiled with.
            return unsafe { nearest_two_popcnt(reference, frame) };
        }
    }
    nearest_two_portable(reference, frame)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn nearest_two_popcnt(reference: &[Descriptor], frame: &[Descriptor]) -> Vec<Nearest> {
    nearest_two_portable(reference, frame)
}

#[inline(always)]
fn nearest_two_portable(reference: &[Descriptor], frame: &[Descriptor]) -> Vec<Nearest> {
    let mut out = Vec::with_capacity(reference.len());
    let (quads, rest) = reference.as_chunks::<4>();
    for q in quads {
        out.extend(nearest_block(q, frame));
    }
    for r in rest {
        out.extend(nearest_block::<1>(std::array::from_ref(r), frame));
    }
    out
}

/// [`nearest_two`] of `N` reference descriptors in one pass over the frame. Plain loops (no
/// closures), so that everything inlines into the caller's target features, and `N` is a
/// constant so the block is unrolled.
#[inline(always)]
fn nearest_block<const N: usize>(q: &[Descriptor; N], frame: &[Descriptor]) -> [Nearest; N] {
    let mut best = [(u32::MAX, u32::MAX, usize::MAX); N];
    for (fi, fd) in frame.iter().enumerate() {
        for (b, rd) in best.iter_mut().zip(q) {
            let d = hamming(rd, fd);
            if d < b.1 {
                if d < b.0 {
                    *b = (d, b.0, fi);
                } else {
                    b.1 = d;
                }
            }
        }
    }
    best.map(|(d1, d2, index)| Nearest { index, d1, d2 })
}

/// For every reference descriptor, the nearest frame descriptor when it is closer than
/// `ratio` times the second nearest and at most `max_distance`; each frame descriptor keeps
/// only its closest reference descriptor.
pub fn ratio_matches(
    reference: &[Descriptor],
    frame: &[Descriptor],
    ratio: f32,
    max_distance: u32,
) -> Vec<Correspondence> {
    ratio_filter(
        &nearest_two(reference, frame),
        frame.len(),
        ratio,
        max_distance,
    )
}

/// [`ratio_matches`] from precomputed neighbours.
pub fn ratio_filter(
    nearest: &[Nearest],
    frame_len: usize,
    ratio: f32,
    max_distance: u32,
) -> Vec<Correspondence> {
    let mut best_for_frame: Vec<Option<Correspondence>> = vec![None; frame_len];
    for (ri, n) in nearest.iter().enumerate() {
        let (d1, d2, i1) = (n.d1, n.d2, n.index);
        if i1 == usize::MAX || d1 > max_distance {
            continue;
        }
        if d2 != u32::MAX && d1 as f32 >= ratio * d2 as f32 {
            continue;
        }
        let c = Correspondence {
            reference: ri,
            frame: i1,
            distance: d1,
        };
        match best_for_frame[i1] {
            Some(prev) if prev.distance <= d1 => {}
            _ => best_for_frame[i1] = Some(c),
        }
    }
    best_for_frame.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::references::orb::SplitMix64;

    fn random(rng: &mut SplitMix64) -> Descriptor {
        [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ]
    }

    fn flip(d: Descriptor, bits: usize, rng: &mut SplitMix64) -> Descriptor {
        let mut d = d;
        for _ in 0..bits {
            let b = rng.below(256);
            d[b / 64] ^= 1 << (b % 64);
        }
        d
    }

    #[test]
    fn ratio_test_keeps_distinct_matches_and_drops_ambiguous_ones() {
        let mut rng = SplitMix64(5);
        let refs: Vec<_> = (0..20).map(|_| random(&mut rng)).collect();
        let mut frame: Vec<_> = (0..200).map(|_| random(&mut rng)).collect();
        // Reference 0..10 appear once with 10 flipped bits: clear matches.
        for (i, r) in refs.iter().enumerate().take(10) {
            frame[i * 7] = flip(*r, 10, &mut rng);
        }
        // Reference 10 appears twice almost equally well: ambiguous, must be dropped.
        frame[150] = flip(refs[10], 10, &mut rng);
        frame[151] = flip(refs[10], 11, &mut rng);
        let m = ratio_matches(&refs, &frame, 0.8, 80);
        assert_eq!(m.len(), 10, "{m:?}");
        for c in &m {
            assert!(c.reference < 10);
            assert_eq!(c.frame, c.reference * 7);
        }
    }

    #[test]
    fn one_reference_feature_per_frame_feature() {
        let mut rng = SplitMix64(9);
        let base = random(&mut rng);
        let refs = vec![flip(base, 4, &mut rng), flip(base, 12, &mut rng)];
        let mut frame: Vec<_> = (0..50).map(|_| random(&mut rng)).collect();
        frame[3] = base;
        let m = ratio_matches(&refs, &frame, 0.8, 80);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].reference, m[0].frame), (0, 3));
    }

    #[test]
    fn blocked_search_equals_one_reference_at_a_time_with_ties() {
        let mut rng = SplitMix64(13);
        let base: Vec<_> = (0..6).map(|_| random(&mut rng)).collect();
        // Few distinct frame descriptors, so equal distances (ties) are common.
        let frame: Vec<_> = (0..300)
            .map(|i| flip(base[i % 6], rng.below(6), &mut rng))
            .collect();
        for n in [0, 1, 3, 4, 5, 8, 11] {
            let refs: Vec<_> = (0..n).map(|i| flip(base[i % 6], 3, &mut rng)).collect();
            let got = nearest_two(&refs, &frame);
            assert_eq!(got.len(), n);
            for (rd, g) in refs.iter().zip(&got) {
                let mut d: Vec<(u32, usize)> =
                    frame.iter().map(|f| hamming(rd, f)).zip(0..).collect();
                d.sort(); // by distance, then the first index
                assert_eq!((g.index, g.d1, g.d2), (d[0].1, d[0].0, d[1].0), "{n}");
            }
        }
        assert_eq!(nearest_two(&[base[0]], &[])[0].index, usize::MAX);
    }
}
