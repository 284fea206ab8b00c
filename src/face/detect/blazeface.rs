//! BlazeFace decoding: anchors, box/keypoint regression, weighted non-maximum suppression.
//! Pure functions over the model's raw outputs, so they are unit-tested without a model.

use crate::models::{AnchorGrid, BlazeFaceSpec};

/// A detection in the model's normalised input space (0 to 1 on both axes).
#[derive(Debug, Clone, PartialEq)]
pub struct RawDetection {
    /// Box centre x, centre y, width, height.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// Sigmoid score.
    pub score: f32,
    /// Keypoints (x, y).
    pub keypoints: Vec<[f32; 2]>,
}

impl RawDetection {
    fn corners(&self) -> [f32; 4] {
        [
            self.cx - self.w / 2.0,
            self.cy - self.h / 2.0,
            self.cx + self.w / 2.0,
            self.cy + self.h / 2.0,
        ]
    }

    /// Intersection over union with another detection.
    pub fn iou(&self, other: &RawDetection) -> f32 {
        iou(self.corners(), other.corners())
    }
}

/// IoU of two `[x0, y0, x1, y1]` boxes.
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: [f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Anchor centres in output order: per grid, row-major cells, `per_cell` anchors each.
pub fn anchors(grids: &[AnchorGrid]) -> Vec<[f32; 2]> {
    let mut out = Vec::new();
    for g in grids {
        let n = g.grid as f32;
        for y in 0..g.grid {
            for x in 0..g.grid {
                for _ in 0..g.per_cell {
                    out.push([(x as f32 + 0.5) / n, (y as f32 + 0.5) / n]);
                }
            }
        }
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-100.0, 100.0)).exp())
}

/// Decodes one image's raw outputs (`regressors`: anchors x stride, `logits`: anchors) into
/// detections above the threshold. Regressor values are in input pixels relative to the anchor.
pub fn decode(
    regressors: &[f32],
    logits: &[f32],
    anchors: &[[f32; 2]],
    spec: &BlazeFaceSpec,
    input_w: f32,
    input_h: f32,
) -> Vec<RawDetection> {
    let n = anchors.len().min(logits.len());
    let stride = regressors.len().checked_div(n).unwrap_or(0);
    let kp = spec.keypoints as usize;
    if stride < 4 + 2 * kp {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, anchor) in anchors.iter().enumerate().take(n) {
        let score = sigmoid(logits[i]);
        if score < spec.score_threshold {
            continue;
        }
        let r = &regressors[i * stride..(i + 1) * stride];
        let keypoints = (0..kp)
            .map(|k| {
                [
                    r[4 + 2 * k] / input_w + anchor[0],
                    r[5 + 2 * k] / input_h + anchor[1],
                ]
            })
            .collect();
        out.push(RawDetection {
            cx: r[0] / input_w + anchor[0],
            cy: r[1] / input_h + anchor[1],
            w: r[2] / input_w,
            h: r[3] / input_h,
            score,
            keypoints,
        });
    }
    out
}

/// MediaPipe's weighted NMS: each kept detection is the score-weighted mean of the
/// detections overlapping the best one by more than `iou_threshold`, which steadies boxes
/// and keypoints compared with plain NMS.
pub fn weighted_nms(mut dets: Vec<RawDetection>, iou_threshold: f32) -> Vec<RawDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !dets.is_empty() {
        let best = dets[0].clone();
        let (group, rest): (Vec<_>, Vec<_>) = dets
            .into_iter()
            .partition(|d| d.iou(&best) > iou_threshold || *d == best);
        dets = rest;
        let total: f32 = group.iter().map(|d| d.score).sum();
        let mut merged = best.clone();
        if total > 0.0 && group.len() > 1 {
            let wavg = |f: &dyn Fn(&RawDetection) -> f32| {
                group.iter().map(|d| f(d) * d.score).sum::<f32>() / total
            };
            merged.cx = wavg(&|d| d.cx);
            merged.cy = wavg(&|d| d.cy);
            merged.w = wavg(&|d| d.w);
            merged.h = wavg(&|d| d.h);
            for k in 0..merged.keypoints.len() {
                merged.keypoints[k] = [
                    wavg(&|d| d.keypoints.get(k).map_or(0.0, |p| p[0])),
                    wavg(&|d| d.keypoints.get(k).map_or(0.0, |p| p[1])),
                ];
            }
        }
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(grids: Vec<AnchorGrid>) -> BlazeFaceSpec {
        BlazeFaceSpec {
            anchors: grids,
            score_threshold: 0.5,
            nms_iou: 0.3,
            keypoints: 6,
        }
    }

    #[test]
    fn anchor_counts_match_the_models() {
        let full = anchors(&[AnchorGrid {
            grid: 48,
            per_cell: 1,
        }]);
        assert_eq!(full.len(), 2304);
        assert_eq!(full[0], [0.5 / 48.0, 0.5 / 48.0]);
        assert_eq!(full[1], [1.5 / 48.0, 0.5 / 48.0]);
        let short = anchors(&[
            AnchorGrid {
                grid: 16,
                per_cell: 2,
            },
            AnchorGrid {
                grid: 8,
                per_cell: 6,
            },
        ]);
        assert_eq!(short.len(), 896);
        assert_eq!(short[0], short[1]);
        assert_eq!(short[512], [0.5 / 8.0, 0.5 / 8.0]);
    }

    #[test]
    fn decode_offsets_from_the_anchor_in_input_pixels() {
        let s = spec(vec![AnchorGrid {
            grid: 2,
            per_cell: 1,
        }]);
        let a = anchors(&s.anchors);
        let mut reg = vec![0.0f32; 4 * 16];
        let logits = vec![-5.0, 5.0, -5.0, -5.0];
        // Anchor 1 is at (0.75, 0.25); move the box 12 px right on a 128 px input.
        reg[16] = 12.0;
        reg[16 + 2] = 32.0;
        reg[16 + 3] = 64.0;
        reg[16 + 4] = -6.4; // first keypoint x
        let d = decode(&reg, &logits, &a, &s, 128.0, 128.0);
        assert_eq!(d.len(), 1);
        assert!((d[0].cx - (0.75 + 12.0 / 128.0)).abs() < 1e-6);
        assert!((d[0].cy - 0.25).abs() < 1e-6);
        assert!((d[0].w - 0.25).abs() < 1e-6);
        assert!((d[0].h - 0.5).abs() < 1e-6);
        assert!((d[0].keypoints[0][0] - 0.7).abs() < 1e-6);
        assert!(d[0].score > 0.99);
    }

    #[test]
    fn weighted_nms_merges_overlaps_and_keeps_separate_faces() {
        let det = |cx: f32, score: f32| RawDetection {
            cx,
            cy: 0.5,
            w: 0.2,
            h: 0.2,
            score,
            keypoints: vec![[cx, 0.5]; 6],
        };
        let out = weighted_nms(vec![det(0.30, 0.9), det(0.32, 0.9), det(0.8, 0.7)], 0.3);
        assert_eq!(out.len(), 2);
        assert!((out[0].cx - 0.31).abs() < 1e-5, "{}", out[0].cx);
        assert!((out[0].keypoints[2][0] - 0.31).abs() < 1e-5);
        assert_eq!(out[1].cx, 0.8);
    }

    #[test]
    fn iou_of_disjoint_and_identical_boxes() {
        assert_eq!(iou([0., 0., 1., 1.], [2., 2., 3., 3.]), 0.0);
        assert!((iou([0., 0., 1., 1.], [0., 0., 1., 1.]) - 1.0).abs() < 1e-6);
        assert!((iou([0., 0., 2., 1.], [1., 0., 3., 1.]) - 1.0 / 3.0).abs() < 1e-6);
    }
}
