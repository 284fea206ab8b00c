//! Choosing what a clip enrolls: which faces are the one person, and which of their faces to
//! keep (a few of the best per pose bin, no near-duplicates). Pure logic over the faces seen
//! on the samples, so the rules are tested without models.

use crate::face::detect::blazeface::iou;
use crate::face::embed::Embedding;
use crate::face::pose::{Pose, PoseBin};
use crate::models::Metric;

/// One face seen on one sample of a clip.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Ordinal of the sample (0, 1, 2...), not the frame index.
    pub sample: usize,
    /// Shot of the sample.
    pub shot: usize,
    /// Box `[x0, y0, x1, y1]` in frame pixels.
    pub corners: [f32; 4],
    /// Detector confidence.
    pub score: f32,
    /// Face size in pixels (longer side of the box).
    pub size: f32,
    /// Variance of the Laplacian of the aligned chip (grey levels): higher is sharper.
    pub sharpness: f32,
    /// Head pose, when the keypoints gave one.
    pub pose: Option<Pose>,
    /// The embedding.
    pub embedding: Embedding,
    /// The aligned chip as JPEG, when chips are kept.
    pub chip_jpeg: Option<Vec<u8>>,
}

impl Seen {
    /// How good a reference the face makes: sharp, confident and not upscaled. The chip is
    /// 150 px, so faces from 150 px up count fully; the Laplacian's variance grows with the
    /// square of contrast, hence the square root.
    pub fn quality(&self) -> f32 {
        self.sharpness.max(0.0).sqrt() * self.score * (self.size / 150.0).min(1.0)
    }
}

/// Distances that decide who is who, in the embedder's metric.
#[derive(Debug, Clone, Copy)]
pub struct Linking {
    /// The embedder's metric.
    pub metric: Metric,
    /// At or below: the same person wherever they are (the match threshold).
    pub same: f32,
    /// At or below, on the next sample of the same shot with overlapping boxes: the same
    /// person turning their head (a profile sits further from a frontal face than the match
    /// threshold).
    pub track: f32,
    /// Below: a near-duplicate of a face already kept.
    pub duplicate: f32,
}

impl Linking {
    /// Distances scaled from the match threshold (0.5 for dlib: track 0.75, duplicate 0.15).
    pub fn from_threshold(metric: Metric, threshold: f32) -> Self {
        Self {
            metric,
            same: threshold,
            track: threshold * 1.5,
            duplicate: threshold * 0.3,
        }
    }
}

/// Boxes overlapping at least this much (intersection over union) on consecutive samples are
/// the same face moving.
const TRACK_IOU: f32 = 0.5;

/// The people of a clip: groups of face indices, each one person, by number of samples
/// they are on (most first). Faces link when their embeddings are within `same`, or when
/// they follow each other on consecutive samples of a shot in the same place within `track`.
pub fn people(faces: &[Seen], l: &Linking) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..faces.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..faces.len() {
        for j in i + 1..faces.len() {
            let (a, b) = (&faces[i], &faces[j]);
            let d = a.embedding.distance(&b.embedding, l.metric);
            let moving = b.sample == a.sample + 1
                && a.shot == b.shot
                && iou(a.corners, b.corners) >= TRACK_IOU
                && d <= l.track;
            if d <= l.same || moving {
                let (ra, rb) = (root(&mut parent, i), root(&mut parent, j));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot = vec![usize::MAX; faces.len()];
    for i in 0..faces.len() {
        let r = root(&mut parent, i);
        if slot[r] == usize::MAX {
            slot[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[slot[r]].push(i);
    }
    groups.sort_by_key(|g| std::cmp::Reverse(samples_of(faces, g)));
    groups
}

/// Number of distinct samples a group of faces is on.
pub fn samples_of(faces: &[Seen], group: &[usize]) -> usize {
    let mut s: Vec<usize> = group.iter().map(|&i| faces[i].sample).collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// True when a second person is on enough samples that the clip is not of one person: at
/// least 3 samples and at least a quarter as many as the main person.
pub fn too_many_people(main: usize, second: usize) -> bool {
    second >= 3 && second * 4 >= main
}

/// True when the main person is on enough of a clip's samples to be a person rather than a
/// false detection (damaged frames can look like a face to the detector): on 2 samples at least
/// (1 for a one-sample clip) and on a tenth of them.
pub fn enough_samples(on: usize, samples: usize) -> bool {
    on >= samples.clamp(1, 2) && on * 10 >= samples
}

/// The faces of `group` to keep: per pose bin, up to `per_bin` of the best (see
/// [`Seen::quality`]), skipping any within `duplicate` of a face already kept. Faces without
/// a pose are not kept. Returned best bin first (frontal), best face first.
pub fn choose(faces: &[Seen], group: &[usize], l: &Linking, per_bin: usize) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    for bin in PoseBin::ALL {
        let mut in_bin: Vec<usize> = group
            .iter()
            .copied()
            .filter(|&i| faces[i].pose.is_some_and(|p| p.bin() == bin))
            .collect();
        in_bin.sort_by(|&a, &b| faces[b].quality().total_cmp(&faces[a].quality()));
        let mut n = 0;
        for i in in_bin {
            if n == per_bin {
                break;
            }
            let dup = kept
                .iter()
                .any(|&k| faces[k].embedding.distance(&faces[i].embedding, l.metric) < l.duplicate);
            if !dup {
                kept.push(i);
                n += 1;
            }
        }
    }
    kept
}

/// Variance of the 4-neighbour Laplacian of the picture's grey levels (0..255): the usual
/// focus measure. 0 for pictures under 3x3.
pub fn sharpness(img: &image::RgbImage) -> f32 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let grey: Vec<f32> = img
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let (mut sum, mut sq, mut n) = (0f64, 0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = y * w + x;
            let v =
                f64::from(grey[c - 1] + grey[c + 1] + grey[c - w] + grey[c + w] - 4.0 * grey[c]);
            sum += v;
            sq += v * v;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sq / n - mean * mean).max(0.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(sample: usize, x: f32, emb: [f32; 2], yaw: f32, sharp: f32) -> Seen {
        Seen {
            sample,
            shot: 0,
            corners: [x, 0.0, x + 100.0, 100.0],
            score: 0.9,
            size: 200.0,
            sharpness: sharp,
            pose: Some(Pose { yaw, roll: 0.0 }),
            embedding: Embedding(emb.to_vec()),
            chip_jpeg: None,
        }
    }

    fn link() -> Linking {
        Linking::from_threshold(Metric::Euclidean, 0.5)
    }

    #[test]
    fn a_head_turning_in_place_stays_one_person_and_strangers_apart() {
        // Person A turns in place: each step 0.6 from the last (over the match threshold,
        // within the track distance), 1.8 from start to end.
        let mut faces: Vec<Seen> = (0..4)
            .map(|s| seen(s, 10.0, [0.6 * s as f32, 0.0], 15.0 * s as f32, 100.0))
            .collect();
        // The far-turned face elsewhere, later, still joins by distance.
        faces.push(seen(6, 500.0, [1.85, 0.0], 50.0, 100.0));
        // Person B, far from everyone, on two samples.
        faces.push(seen(1, 600.0, [0.0, 3.0], 0.0, 100.0));
        faces.push(seen(2, 600.0, [0.0, 3.1], 0.0, 100.0));
        let g = people(&faces, &link());
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(g[0], vec![0, 1, 2, 3, 4]);
        assert_eq!(samples_of(&faces, &g[1]), 2);
        // A jump of 0.7 between non-consecutive samples does not link.
        let apart = vec![
            seen(0, 10.0, [0.0, 0.0], 0.0, 1.0),
            seen(2, 10.0, [0.7, 0.0], 0.0, 1.0),
        ];
        assert_eq!(people(&apart, &link()).len(), 2);
        // Nor does a moving box that jumped across the frame.
        let jumped = vec![
            seen(0, 10.0, [0.0, 0.0], 0.0, 1.0),
            seen(1, 400.0, [0.7, 0.0], 0.0, 1.0),
        ];
        assert_eq!(people(&jumped, &link()).len(), 2);
    }

    #[test]
    fn refusal_needs_a_second_person_on_many_samples() {
        assert!(!too_many_people(40, 2));
        assert!(!too_many_people(40, 9));
        assert!(too_many_people(40, 10));
        assert!(too_many_people(4, 3));
        assert!(enough_samples(1, 1) && enough_samples(2, 20));
        assert!(!enough_samples(1, 9) && !enough_samples(2, 21) && !enough_samples(0, 0));
    }

    #[test]
    fn keeps_the_sharpest_per_bin_without_near_duplicates() {
        let faces = vec![
            seen(0, 0.0, [0.0, 0.0], 0.0, 10.0),
            seen(1, 0.0, [0.05, 0.0], 2.0, 500.0), // sharpest frontal
            seen(2, 0.0, [0.3, 0.0], 5.0, 400.0),
            seen(3, 0.0, [0.6, 0.0], -5.0, 300.0),
            seen(4, 0.0, [0.9, 0.0], 8.0, 200.0), // fourth distinct frontal: over the cap
            seen(5, 0.0, [0.0, 0.5], -30.0, 50.0), // three-quarter left
            seen(6, 0.0, [0.0, 0.55], -35.0, 60.0), // its near-duplicate, sharper
            seen(7, 0.0, [0.0, 1.0], 70.0, 20.0), // profile right
        ];
        let all: Vec<usize> = (0..faces.len()).collect();
        let kept = choose(&faces, &all, &link(), 3);
        assert_eq!(kept, vec![1, 2, 3, 6, 7]);
        // A face without a pose is never kept.
        let mut f = faces.clone();
        f[7].pose = None;
        assert!(!choose(&f, &all, &link(), 3).contains(&7));
    }

    #[test]
    fn sharpness_ranks_detail_above_blur() {
        let flat = image::RgbImage::from_pixel(20, 20, image::Rgb([90, 90, 90]));
        let checks = image::RgbImage::from_fn(20, 20, |x, y| {
            image::Rgb(if (x + y) % 2 == 0 { [0; 3] } else { [255; 3] })
        });
        let soft = image::imageops::blur(&checks, 2.0);
        assert_eq!(sharpness(&flat), 0.0);
        assert!(sharpness(&checks) > 10.0 * sharpness(&soft));
        assert_eq!(sharpness(&image::RgbImage::new(2, 2)), 0.0);
    }
}
