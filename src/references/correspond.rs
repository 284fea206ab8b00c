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
/// and the software count is about three times slower); eight frame descriptors at a time
/// with AVX-512's vector population count where the CPU has it (a real frame's 800 x 2,742:
/// 5.1-5.3 -> 1.5 ms, `BENCH_ORB=1 examples/ip_eval`).
pub fn nearest_two(reference: &[Descriptor], frame: &[Descriptor]) -> Vec<Nearest> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vpopcntdq")
        {
            // SAFETY: the CPU supports the features the function is compiled with.
            return unsafe { wide::nearest_two_avx512(reference, frame) };
        }
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

/// The search eight frame descriptors at a time: the frame's descriptors laid out by word
/// (word k of eight descriptors in one 512-bit register), so one reference descriptor's
/// distances to eight of them take four XORs, four vector population counts and three adds;
/// each lane keeps its own nearest two, merged at the end into exactly what the plain search
/// gives (the first index at the smallest distance, ties included).
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Descriptor, Nearest};
    use std::arch::x86_64::*;

    /// Eight descriptors by word: `words[k][lane]`.
    type Block = [[u64; 8]; 4];

    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub(super) fn nearest_two_avx512(
        reference: &[Descriptor],
        frame: &[Descriptor],
    ) -> Vec<Nearest> {
        let mut blocks: Vec<Block> = vec![[[0; 8]; 4]; frame.len().div_ceil(8)];
        for (i, d) in frame.iter().enumerate() {
            for (k, w) in d.iter().enumerate() {
                blocks[i / 8][k][i % 8] = *w;
            }
        }
        // Lanes of the last block past the frame's end never take part.
        let tail = frame.len() % 8;
        let last_mask: __mmask8 = if tail == 0 { 0xff } else { (1u8 << tail) - 1 };
        let lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
        let eight = _mm512_set1_epi64(8);
        reference
            .iter()
            .map(|r| {
                let rw = r.map(|w| _mm512_set1_epi64(w as i64));
                let mut min1 = _mm512_set1_epi64(-1); // u64::MAX: nothing yet
                let mut min2 = min1;
                let mut idx1 = min1;
                let mut idx = lanes;
                for (bi, b) in blocks.iter().enumerate() {
                    let mut d = _mm512_setzero_si512();
                    for k in 0..4 {
                        // SAFETY: `b[k]` is 64 bytes; unaligned loads are allowed.
                        let w = unsafe { _mm512_loadu_si512(b[k].as_ptr().cast()) };
                        d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(w, rw[k])));
                    }
                    let live = if bi + 1 == blocks.len() {
                        last_mask
                    } else {
                        0xff
                    };
                    // Per lane, as the plain search: nearer than the nearest takes its place
                    // (the old nearest becomes the second), else nearer than the second.
                    let lt1 = _mm512_mask_cmplt_epu64_mask(live, d, min1);
                    let lt2 = _mm512_mask_cmplt_epu64_mask(live & !lt1, d, min2);
                    min2 = _mm512_mask_mov_epi64(min2, lt1, min1);
                    min2 = _mm512_mask_mov_epi64(min2, lt2, d);
                    min1 = _mm512_mask_mov_epi64(min1, lt1, d);
                    idx1 = _mm512_mask_mov_epi64(idx1, lt1, idx);
                    idx = _mm512_add_epi64(idx, eight);
                }
                let (mut m1, mut m2, mut i1) = ([0u64; 8], [0u64; 8], [0u64; 8]);
                // SAFETY: each array is 64 bytes.
                unsafe {
                    _mm512_storeu_si512(m1.as_mut_ptr().cast(), min1);
                    _mm512_storeu_si512(m2.as_mut_ptr().cast(), min2);
                    _mm512_storeu_si512(i1.as_mut_ptr().cast(), idx1);
                }
                merge(&m1, &m2, &i1)
            })
            .collect()
    }

    /// The nearest two over all lanes: the smallest distance at its first index, and the
    /// second smallest distance of all (another lane's nearest, or the winner's second).
    fn merge(m1: &[u64; 8], m2: &[u64; 8], i1: &[u64; 8]) -> Nearest {
        let win = (0..8).min_by_key(|&l| (m1[l], i1[l])).unwrap_or_default();
        let d2 = (0..8)
            .map(|l| if l == win { m2[l] } else { m1[l] })
            .min()
            .unwrap_or(u64::MAX);
        let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Nearest {
            index: if m1[win] == u64::MAX {
                usize::MAX
            } else {
                i1[win] as usize
            },
            d1: narrow(m1[win]),
            d2: narrow(d2),
        }
    }
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

    /// Each kernel this CPU can run gives the plain search's answer, ties included, for
    /// frames of every length around the eight-lane blocks.
    #[test]
    fn every_kernel_equals_the_plain_search() {
        let mut rng = SplitMix64(21);
        let base: Vec<_> = (0..5).map(|_| random(&mut rng)).collect();
        let refs: Vec<_> = (0..9).map(|i| flip(base[i % 5], 2, &mut rng)).collect();
        for n in [0, 1, 2, 7, 8, 9, 15, 16, 17, 64, 301] {
            let frame: Vec<_> = (0..n)
                .map(|i| flip(base[i % 5], rng.below(4), &mut rng))
                .collect();
            let plain = nearest_two_portable(&refs, &frame);
            assert_eq!(nearest_two(&refs, &frame), plain, "frame of {n}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vpopcntdq")
            {
                // SAFETY: checked just above.
                let wide = unsafe { wide::nearest_two_avx512(&refs, &frame) };
                assert_eq!(wide, plain, "frame of {n}");
            } else {
                eprintln!("this CPU has no AVX-512 population count: its kernel is not run");
            }
        }
    }
}
