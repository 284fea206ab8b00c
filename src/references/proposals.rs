//! Where to look harder: the learned proposals. One run of the image embedder on the whole
//! frame gives a feature map; every window of `MatchConfig::tile_windows` cells is pooled from
//! it (GeM, `embed::FeatureMap`) and scored against every reference not yet found as one
//! matrix product. Each reference's best windows (near-duplicates dropped) are proposed for
//! keypoint verification in a region around them (`IpMatcher`'s tile stage). Embedders
//! without a `gem_map` output embed square crops instead.

use super::embed::{self, Embedding, IpEmbedder};
use super::{IpError, IpMatch, MatchConfig, Proposal, RefImage};
use image::RgbImage;

/// The learned proposals for the references in `refs` that `found` does not have yet, every
/// reference's best first, then the second bests (up to `tile_candidates` each). Each match
/// already in `found` gets the best cosine any window reached for its reference (the report
/// shows it).
pub(super) fn propose(
    embedder: &mut IpEmbedder,
    frame: &RgbImage,
    refs: &[RefImage],
    found: &mut [Option<IpMatch>],
    cfg: &MatchConfig,
) -> Result<Vec<Proposal>, IpError> {
    let windows = if embedder.has_feature_map() {
        map_windows(embedder, frame, cfg)?
    } else {
        crop_windows(embedder, frame, cfg)?
    };
    // Every window against every reference still to find, as one matrix product.
    let wanted: Vec<usize> = (0..refs.len())
        .filter(|&ri| refs[ri].embedding.is_some())
        .collect();
    let ref_embs: Vec<&Embedding> = wanted
        .iter()
        .filter_map(|&ri| refs[ri].embedding.as_ref())
        .collect();
    let scores = embed::cosines(&windows.1, &ref_embs);
    // Per reference: windows by falling cosine, near-duplicates of a better one dropped.
    let mut proposals: Vec<Vec<(f32, [f32; 4])>> = vec![Vec::new(); refs.len()];
    for (col, &ri) in wanted.iter().enumerate() {
        let mut scored: Vec<(f32, usize)> = scores
            .column(col)
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best_cos = scored.first().map(|c| c.0);
        if let Some(m) = found[ri].as_mut() {
            m.cosine = best_cos;
            continue;
        }
        let mut kept: Vec<(f32, [f32; 4])> = Vec::new();
        for &(cos, wi) in &scored {
            if kept.len() >= cfg.tile_candidates || cos < cfg.tile_propose_cosine {
                break;
            }
            let rect = windows.0[wi];
            if kept
                .iter()
                .all(|k| crate::face::detect::blazeface::iou(k.1, rect) < 0.3)
            {
                kept.push((cos, rect));
            }
        }
        proposals[ri] = kept;
    }
    // Every reference's best proposal first, then the second bests.
    let mut order = Vec::new();
    for round in 0..cfg.tile_candidates {
        for (ri, kept) in proposals.iter().enumerate() {
            if let Some(&(cosine, window)) = kept.get(round) {
                order.push(Proposal {
                    reference: ri,
                    window,
                    cosine,
                });
            }
        }
    }
    Ok(order)
}

/// Frame rectangles (x0, y0, x1, y1) and their learned embeddings, one row each.
type Windows = (Vec<[f32; 4]>, ndarray::Array2<f32>);

/// Windows pooled from one feature map of the whole frame (scaled so its short side is
/// `tile_map_side`): every placement of every `tile_windows` shape, in map cells.
fn map_windows(
    embedder: &mut IpEmbedder,
    frame: &RgbImage,
    cfg: &MatchConfig,
) -> Result<Windows, IpError> {
    let (fw, fh) = frame.dimensions();
    let s = (cfg.tile_map_side as f32 / fw.min(fh) as f32).min(1.0);
    let (sw, sh) = (
        ((fw as f32 * s).round() as u32).max(32),
        ((fh as f32 * s).round() as u32).max(32),
    );
    let small = shrink_rgb(frame, sw, sh);
    let Some(map) = embedder.feature_map(&small)? else {
        return Ok((Vec::new(), ndarray::Array2::zeros((0, 0))));
    };
    let (cx, cy) = (fw as f32 / map.w as f32, fh as f32 / map.h as f32);
    let (mut rects, mut cells) = (Vec::new(), Vec::new());
    for &[kw, kh] in &cfg.tile_windows {
        let (kw, kh) = (kw as usize, kh as usize);
        if kw == 0 || kh == 0 || kw > map.w || kh > map.h {
            continue;
        }
        for y in 0..=map.h - kh {
            for x in 0..=map.w - kw {
                rects.push([
                    x as f32 * cx,
                    y as f32 * cy,
                    ((x + kw) as f32 * cx).min(fw as f32),
                    ((y + kh) as f32 * cy).min(fh as f32),
                ]);
                cells.push([x, y, x + kw, y + kh]);
            }
        }
    }
    let emb = map.windows(&cells);
    Ok((rects, emb))
}

/// `frame` scaled to `w` x `h`: an exact 2 x 2 box average when that fits (720p to the
/// default map size), area averaging otherwise (`media::resize`: a filtered resize of a
/// 1080p frame cost ~100 ms, a tenth of a frame's matching).
fn shrink_rgb(frame: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (fw, fh) = frame.dimensions();
    if (fw, fh) == (w, h) {
        return frame.clone();
    }
    if fw != 2 * w || fh != 2 * h {
        if w <= fw && h <= fh {
            return crate::media::resize::shrink_to(frame, w, h);
        }
        return image::imageops::resize(frame, w, h, image::imageops::FilterType::Triangle);
    }
    let src = frame.as_raw();
    let stride = fw as usize * 3;
    let mut out = vec![0u8; (w * h * 3) as usize];
    for (y, row) in out.chunks_exact_mut(w as usize * 3).enumerate() {
        let r0 = &src[2 * y * stride..(2 * y + 1) * stride];
        let r1 = &src[(2 * y + 1) * stride..(2 * y + 2) * stride];
        for (x, o) in row.chunks_exact_mut(3).enumerate() {
            for (c, oc) in o.iter_mut().enumerate() {
                let i = 6 * x + c;
                let s = r0[i] as u32 + r0[i + 3] as u32 + r1[i] as u32 + r1[i + 3] as u32;
                *oc = ((s + 2) / 4) as u8;
            }
        }
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| {
        image::imageops::resize(frame, w, h, image::imageops::FilterType::Triangle)
    })
}

/// Square tiles (`tile_fractions` of the short side) embedded one crop each: the fallback
/// for models without a `gem_map` output.
fn crop_windows(
    embedder: &mut IpEmbedder,
    frame: &RgbImage,
    cfg: &MatchConfig,
) -> Result<Windows, IpError> {
    let (fw, fh) = frame.dimensions();
    let tiles = embed::tiles(fw, fh, &cfg.tile_fractions);
    let side = cfg.tile_input.max(32);
    let crops: Vec<RgbImage> = tiles
        .iter()
        .map(|t| {
            let c = image::imageops::crop_imm(frame, t.x, t.y, t.size, t.size).to_image();
            image::imageops::resize(&c, side, side, image::imageops::FilterType::Triangle)
        })
        .collect();
    let mut embs = Vec::with_capacity(crops.len());
    for chunk in crops.chunks(16) {
        embs.extend(embedder.embed_batch(chunk)?);
    }
    let rects = tiles
        .iter()
        .map(|t| {
            [
                t.x as f32,
                t.y as f32,
                (t.x + t.size) as f32,
                (t.y + t.size) as f32,
            ]
        })
        .collect();
    let dim = embs.first().map_or(0, Vec::len);
    let flat: Vec<f32> = embs.iter().flat_map(|e| e.iter().copied()).collect();
    let emb = ndarray::Array2::from_shape_vec((embs.len(), dim), flat)
        .map_err(|e| IpError::Input(format!("tile embeddings: {e}")))?;
    Ok((rects, emb))
}
