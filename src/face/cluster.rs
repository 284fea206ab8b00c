//! Grouping face tracks into people when nobody registered them (`scan --unknown`).
//!
//! Exact and bounded: each track is one point (the mean of its embeddings); a blocked
//! matrix product over all pairs (ndarray, row blocks in parallel) keeps, for every track,
//! its nearest later tracks within the search radius (at most `neighbours`, so one person
//! in every shot of a batch cannot fill memory with pairs). Each candidate pair is then
//! judged on the tracks' several embeddings (mean distance over all pairs of faces), and
//! the pairs are merged nearest first (Kruskal) under two rules learned from the photo
//! managers' bug trackers: two tracks seen at once in one shot are never one person (a
//! cannot-link), and two groups join only when their centres are near too, so a chain of
//! look-alikes cannot drag two people into one.

use crate::face::embed::Embedding;
use crate::models::Metric;
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;

/// Where and when a track is on screen: two tracks of the same file and shot whose frames
/// overlap are two people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Input (file) index in the batch.
    pub file: usize,
    /// Shot index in the file.
    pub shot: usize,
    /// First sampled frame.
    pub first: u64,
    /// Last sampled frame.
    pub last: u64,
}

impl Span {
    fn overlaps(&self, o: &Span) -> bool {
        self.file == o.file && self.shot == o.shot && self.first <= o.last && o.first <= self.last
    }
}

/// One track to group: its face embeddings and where it is.
#[derive(Debug, Clone, Copy)]
pub struct TrackPoint<'a> {
    /// A few embeddings of the track's faces (at least one).
    pub embeddings: &'a [Embedding],
    /// Where it is on screen.
    pub span: Span,
    /// Only dim views of the face (night shots): a worse view, like a one-shot group's.
    pub dim: bool,
}

/// How close is one person.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterParams {
    /// Two tracks are one person when the mean distance between their faces is at most this.
    #[serde(with = "short")]
    pub link: f32,
    /// Two groups join only when their centres are at most this far apart.
    #[serde(with = "short")]
    pub merge: f32,
    /// Candidate pairs kept per track (its nearest later tracks).
    pub neighbours: usize,
    /// A track left alone joins the group of its nearest track within this distance (the
    /// median distance from each face of either track to the nearest face of the other)...
    #[serde(with = "short")]
    pub attach: f32,
    /// ...when every other group is farther by at least this.
    #[serde(with = "short")]
    pub margin: f32,
}

/// An f32 setting in JSON as its shortest decimal (0.46, not 0.46000000834465027): settings
/// are part of the journal's run key, and the long form does not survive serde_json's
/// parsing bit for bit, so a shard's entries would not match its own header at merge time.
mod short {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(v.to_string().parse::<f64>().unwrap_or(f64::from(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        f64::deserialize(d).map(|v| v as f32)
    }
}

impl Default for ClusterParams {
    /// Tuned on the `tune` split of scripts/make_unknown_eval.py (see the README).
    fn default() -> Self {
        Self {
            link: 0.46,
            merge: 0.40,
            neighbours: 32,
            attach: 0.46,
            margin: 0.08,
        }
    }
}

impl ClusterParams {
    /// Rejects parameters that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("link", self.link),
            ("merge", self.merge),
            ("attach", self.attach),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(format!(
                    "unknown-face {name} distance must be a positive number, got {v}"
                ));
            }
        }
        if !(self.margin >= 0.0 && self.margin.is_finite()) {
            return Err(format!(
                "unknown-face margin must be a distance, got {}",
                self.margin
            ));
        }
        if self.neighbours == 0 {
            return Err("unknown-face neighbours must be at least 1".into());
        }
        Ok(())
    }
}

/// The groups found.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Track indices of each group, in index order; groups ordered by their first track.
    /// Every track is in exactly one group (a lone track is a group of one).
    pub groups: Vec<Vec<usize>>,
    /// Candidate pairs within the search radius.
    pub candidates: usize,
    /// Merges refused because the tracks were on screen together.
    pub cannot_link: usize,
}

/// Groups `tracks` into people. Deterministic: the same tracks in the same order give the
/// same groups whatever the thread count.
pub fn cluster(tracks: &[TrackPoint], metric: Metric, p: &ClusterParams) -> Clustering {
    let n = tracks.len();
    let dim = tracks
        .iter()
        .find_map(|t| t.embeddings.first())
        .map_or(0, |e| e.0.len());
    let (points, faces) = centres(tracks, metric, dim);
    // The centre of a track is at most as far from another's as the mean of their face
    // distances (triangle inequality on means), so this radius misses no pair that `link`
    // would accept. The lone-view step reads pairs by their nearest faces, which have no
    // such bound: it looks among centres [`NEAR_SLACK`] farther.
    let radius = p.link.max(p.attach);
    let pairs = candidate_pairs(points.view(), radius + NEAR_SLACK, p.neighbours);
    let candidates = pairs.len();
    let mut pairs: Vec<Pair> = pairs
        .into_par_iter()
        .filter_map(|(i, j)| {
            let (a, b) = (&faces[i as usize], &faces[j as usize]);
            if a.is_empty() || b.is_empty() {
                return None;
            }
            let (mean, near) = pair_distances(a, b);
            (mean <= p.link || near <= radius).then_some(Pair { mean, near, i, j })
        })
        .collect();
    pairs.sort_by(|a, b| {
        a.mean
            .total_cmp(&b.mean)
            .then(a.i.cmp(&b.i))
            .then(a.j.cmp(&b.j))
    });
    let mut sets = Groups::new(tracks, &points);
    let mut cannot_link = 0;
    for &Pair { mean: d, i, j, .. } in &pairs {
        if d > p.link {
            break;
        }
        let (a, b) = (sets.find(i as usize), sets.find(j as usize));
        if a == b {
            continue;
        }
        if sets.conflict(a, b) {
            cannot_link += 1;
            continue;
        }
        if sets.centre_distance(a, b) <= p.merge {
            sets.union(a, b);
        }
    }
    // The lone-view step reads each pair by its faces nearest each other (see `Pair`).
    let mut directed: Vec<(f32, u32, u32)> = pairs
        .iter()
        .filter(|e| e.near <= radius)
        .flat_map(|e| [(e.near, e.i, e.j), (e.near, e.j, e.i)])
        .collect();
    directed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    // Round after round: a view whose nearest person-track is a view that joined in the
    // last round joins in the next (a person's dark views reach it through each other).
    while attach_lone_tracks(&mut sets, &directed, p) > 0 {}
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let r = sets.find(i);
        let g = *by_root.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    Clustering {
        groups,
        candidates,
        cannot_link,
    }
}

/// A group seen in one shot only (a worse view: dark, blurred, turned; often one track)
/// joins the group of its nearest track (`edges`: directed, nearest first, by the faces
/// nearest each other: see [`Pair`]) when that is within `attach` and clearly nearer
/// (by `margin`) than any other group; decided on the groups as the merging left them, so
/// their order does not matter, and never against the cannot-link rule. Only groups seen
/// in two shots or more are candidates, and rivals: two dark views of one person in two
/// shots are often each other's nearest, and a one-shot group is no person to join (it
/// was not even joined to the view next to it). A group of dim views only, in however
/// many shots, is a worse view too: it joins the same way, but only a group with a lit
/// view, and only when that is its nearest (a night shoot's other people are rivals).
/// Returns how many groups joined; the caller runs it again on the groups that left, until
/// none joins (a view nearest another that just joined follows it).
fn attach_lone_tracks(sets: &mut Groups, edges: &[(f32, u32, u32)], p: &ClusterParams) -> usize {
    let n = sets.parent.len();
    let root: Vec<usize> = (0..n).map(|i| sets.find(i)).collect();
    let one_shot = |g: usize| sets.spans[g].len() == 1;
    let dim_only = |g: usize| sets.lit[g] == 0;
    // Per joining group: its nearest (distance, group) and the nearest other group's distance.
    let mut best: HashMap<usize, ((f32, usize), f32)> = HashMap::new();
    // Each edge is directed: `a` the track of a group that may join, `b` one of a person.
    for &(d, a, b) in edges {
        let (a, b) = (a as usize, b as usize);
        let (ga, gb) = (root[a], root[b]);
        if ga == gb || !(one_shot(ga) || dim_only(ga)) || one_shot(gb) {
            continue;
        }
        let e = best
            .entry(ga)
            .or_insert(((f32::INFINITY, usize::MAX), f32::INFINITY));
        if gb == e.0 .1 {
            continue;
        }
        // Edges come nearest first: the first group seen is the nearest.
        if e.0 .0.is_infinite() {
            e.0 = (d, gb);
        } else if e.1.is_infinite() {
            e.1 = d;
        }
    }
    let mut joins: Vec<(usize, usize)> = best
        .into_iter()
        .filter(|(a, ((d, g), second))| {
            *d <= p.attach && *second - *d >= p.margin && (one_shot(*a) || !dim_only(*g))
        })
        .map(|(a, ((_, g), _))| (a, g))
        .collect();
    joins.sort_unstable();
    let mut joined = 0;
    for (a, g) in joins {
        let (ra, rg) = (sets.find(a), sets.find(g));
        if ra != rg && !sets.conflict(ra, rg) {
            sets.union(ra, rg);
            joined += 1;
        }
    }
    joined
}

/// Each track's centre (rows of an n x dim matrix) and its faces as plain vectors; unit
/// length first under the cosine metric, so euclidean distance orders pairs the same way.
/// (Borrowed under the euclidean metric: a batch's embeddings are not copied.)
fn centres<'a>(
    tracks: &[TrackPoint<'a>],
    metric: Metric,
    dim: usize,
) -> (Array2<f32>, Vec<Faces<'a>>) {
    let mut points = Array2::<f32>::zeros((tracks.len(), dim));
    let mut faces = Vec::with_capacity(tracks.len());
    for (i, t) in tracks.iter().enumerate() {
        let vs = faces_of(t.embeddings, metric, dim);
        let mut row = points.row_mut(i);
        for v in &vs {
            for (r, x) in row.iter_mut().zip(v.iter()) {
                *r += x / vs.len() as f32;
            }
        }
        faces.push(vs);
    }
    (points, faces)
}

/// A track's faces as plain vectors.
type Faces<'a> = Vec<Cow<'a, [f32]>>;

/// A track's faces of `dim` values as the grouping compares them: unit length under the
/// cosine metric, borrowed as they are under the euclidean one.
fn faces_of(embeddings: &[Embedding], metric: Metric, dim: usize) -> Faces<'_> {
    embeddings
        .iter()
        .filter(|e| e.0.len() == dim)
        .map(|e| match metric {
            Metric::Euclidean => Cow::Borrowed(e.0.as_slice()),
            Metric::Cosine => {
                let norm = e.0.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                Cow::Owned(e.0.iter().map(|v| v / norm).collect())
            }
        })
        .collect()
}

/// The distance between two tracks that the link reads: the mean over every pair of their
/// faces (for reports and evaluations that explain a grouping).
pub fn track_distance(a: &[Embedding], b: &[Embedding], metric: Metric) -> f32 {
    let dim = a.first().map_or(0, |e| e.0.len());
    pair_distances(&faces_of(a, metric, dim), &faces_of(b, metric, dim)).0
}

/// The distance between two tracks that the lone-view step reads: the median, over every
/// face of either, of its distance to the nearest face of the other (see `Pair`).
pub fn nearest_faces_distance(a: &[Embedding], b: &[Embedding], metric: Metric) -> f32 {
    let dim = a.first().map_or(0, |e| e.0.len());
    pair_distances(&faces_of(a, metric, dim), &faces_of(b, metric, dim)).1
}

/// Rows per block of the all-pairs product.
const ROW_BLOCK: usize = 256;
/// Columns per block (a 256 x 4096 f32 tile is 4 MB).
const COL_BLOCK: usize = 4096;

/// Every pair (i < j) whose centres are within `radius`, at most `k` per i (its nearest),
/// by blocked matrix products: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b.
fn candidate_pairs(points: ArrayView2<f32>, radius: f32, k: usize) -> Vec<(u32, u32)> {
    let n = points.nrows();
    let norms: Vec<f32> = points.rows().into_iter().map(|r| r.dot(&r)).collect();
    let r2 = radius * radius;
    let blocks: Vec<usize> = (0..n).step_by(ROW_BLOCK).collect();
    blocks
        .into_par_iter()
        .flat_map_iter(|r0| {
            let r1 = (r0 + ROW_BLOCK).min(n);
            let rows = points.slice(s![r0..r1, ..]);
            let mut near: Vec<Vec<(f32, u32)>> = vec![Vec::new(); r1 - r0];
            let mut c0 = r0;
            while c0 < n {
                let c1 = (c0 + COL_BLOCK).min(n);
                let dots = rows.dot(&points.slice(s![c0..c1, ..]).t());
                for ((ri, list), row) in near.iter_mut().enumerate().zip(dots.rows()) {
                    let i = r0 + ri;
                    let skip = (i + 1).max(c0) - c0;
                    let cols = row.iter().zip(&norms[c0..c1]).enumerate().skip(skip);
                    for (jj, (dot, norm)) in cols {
                        let d2 = norms[i] + norm - 2.0 * dot;
                        if d2 <= r2 {
                            keep_nearest(list, (d2, (c0 + jj) as u32), k);
                        }
                    }
                }
                c0 = c1;
            }
            near.into_iter().enumerate().flat_map(move |(ri, list)| {
                list.into_iter().map(move |(_, j)| ((r0 + ri) as u32, j))
            })
        })
        .collect()
}

/// Keeps the `k` smallest (distance, index) in `list` (unsorted; k is small).
fn keep_nearest(list: &mut Vec<(f32, u32)>, item: (f32, u32), k: usize) {
    if list.len() < k {
        list.push(item);
        return;
    }
    let worst = list
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.1 .1.cmp(&b.1 .1)))
        .map(|(i, _)| i);
    if let Some(w) = worst {
        if (item.0, item.1) < list[w] {
            list[w] = item;
        }
    }
}

/// How much farther apart than `link` and `attach` two tracks' centres may be for the
/// lone-view step to compare their nearest faces. Measured on the tuning splits (see the
/// README): 0.05 finds every join that 0.10 and 0.20 find.
const NEAR_SLACK: f32 = 0.05;

/// A candidate pair of tracks: the mean distance over their faces' pairs (what the link
/// reads: every view of one must resemble every view of the other), and the median over
/// every face of either track of its distance to the nearest face of the other (what the
/// lone-view step reads: a dark or turned view is judged by its faces that look like the
/// person, not dragged away by its noisiest frames).
struct Pair {
    mean: f32,
    near: f32,
    i: u32,
    j: u32,
}

/// The mean euclidean distance over every pair of faces of two tracks, and the median
/// nearest-face distance (see [`Pair`]).
fn pair_distances(a: &[Cow<[f32]>], b: &[Cow<[f32]>]) -> (f32, f32) {
    let nb = b.len();
    let mut d = Vec::with_capacity(a.len() * nb);
    for x in a {
        for y in b {
            d.push(
                x.iter()
                    .zip(y.iter())
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum::<f32>()
                    .sqrt(),
            );
        }
    }
    let mean = d.iter().sum::<f32>() / d.len().max(1) as f32;
    let mins: Vec<f32> = d
        .chunks(nb.max(1))
        .map(|r| r.iter().copied().fold(f32::INFINITY, f32::min))
        .chain((0..nb).map(|j| {
            d.iter()
                .skip(j)
                .step_by(nb)
                .copied()
                .fold(f32::INFINITY, f32::min)
        }))
        .collect();
    let near = crate::face::track::median(mins);
    (mean, near)
}

/// Union-find over tracks, each root with the sum of its tracks' centres and where they
/// are on screen (by file and shot).
struct Groups {
    parent: Vec<usize>,
    sum: Vec<Vec<f32>>,
    count: Vec<usize>,
    /// Tracks of the group that are not dim.
    lit: Vec<usize>,
    spans: Vec<HashMap<(usize, usize), Vec<Span>>>,
}

impl Groups {
    fn new(tracks: &[TrackPoint], points: &Array2<f32>) -> Self {
        Self {
            parent: (0..tracks.len()).collect(),
            sum: points.rows().into_iter().map(|r| r.to_vec()).collect(),
            count: vec![1; tracks.len()],
            lit: tracks.iter().map(|t| usize::from(!t.dim)).collect(),
            spans: tracks
                .iter()
                .map(|t| HashMap::from([((t.span.file, t.span.shot), vec![t.span])]))
                .collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// True when a track of `a` and one of `b` are on screen at once.
    fn conflict(&self, a: usize, b: usize) -> bool {
        let (small, large) = if self.spans[a].len() <= self.spans[b].len() {
            (&self.spans[a], &self.spans[b])
        } else {
            (&self.spans[b], &self.spans[a])
        };
        small.iter().any(|(key, xs)| {
            large
                .get(key)
                .is_some_and(|ys| xs.iter().any(|x| ys.iter().any(|y| x.overlaps(y))))
        })
    }

    fn centre_distance(&self, a: usize, b: usize) -> f32 {
        let (na, nb) = (self.count[a] as f32, self.count[b] as f32);
        self.sum[a]
            .iter()
            .zip(&self.sum[b])
            .map(|(x, y)| (x / na - y / nb) * (x / na - y / nb))
            .sum::<f32>()
            .sqrt()
    }

    /// Joins the smaller group into the larger.
    fn union(&mut self, a: usize, b: usize) {
        let (big, small) = if self.count[a] >= self.count[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        self.count[big] += self.count[small];
        self.lit[big] += self.lit[small];
        let moved = std::mem::take(&mut self.sum[small]);
        for (x, y) in self.sum[big].iter_mut().zip(moved) {
            *x += y;
        }
        for (key, spans) in std::mem::take(&mut self.spans[small]) {
            self.spans[big].entry(key).or_default().extend(spans);
        }
    }
}

/// Synthetic dlib-like embeddings for timing and tests: `people` centres spread like
/// different people (about 0.6-0.9 apart), each track a few faces around its person's
/// centre (same-person distances about 0.3-0.4). Deterministic for a seed.
pub fn synthetic_tracks(
    tracks: usize,
    people: usize,
    faces_per_track: usize,
    seed: u64,
) -> Vec<(usize, Vec<Embedding>)> {
    let mut rng = SplitMix(seed);
    let dim = 128;
    let centres: Vec<Vec<f32>> = (0..people.max(1))
        .map(|_| (0..dim).map(|_| rng.gauss() * 0.055).collect())
        .collect();
    (0..tracks)
        .map(|t| {
            let person = (rng.next() % centres.len() as u64) as usize;
            let faces = (0..faces_per_track.max(1))
                .map(|_| {
                    Embedding(
                        centres[person]
                            .iter()
                            .map(|c| c + rng.gauss() * 0.018)
                            .collect(),
                    )
                })
                .collect();
            let _ = t;
            (person, faces)
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so timings need no random crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A standard normal sample (Box-Muller).
    fn gauss(&mut self) -> f32 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
