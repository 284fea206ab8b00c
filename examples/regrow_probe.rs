//! Whether verifying a search's learned proposals again after a push-in finds what a new
//! search of the pushed-in picture finds (`scan::refgate`'s `max_push`):
//! `cargo run --release --example regrow_probe -- LABELS [ZOOM...]`
//!
//! Labels from `scripts/make_ip_eval.py` (small insets: `--inset-width 0.042 0.047`). Each
//! inset scene is searched with the thorough matcher, then pushed in about its centre (a crop
//! scaled back up: softer than a camera's push-in, which resolves more detail) and searched
//! again in full, and followed with the first search's matches and proposals mapped.
use clearshot::references::{embed::IpEmbedder, eval::Labels, IpMatch, IpMatcher, MatchConfig};
use image::RgbImage;
use std::path::{Path, PathBuf};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let labels = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: LABELS [ZOOM...]"))?,
    );
    let mut zooms: Vec<f32> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if zooms.is_empty() {
        zooms = vec![1.06, 1.12, 1.18];
    }
    let dir = labels.parent().unwrap_or(Path::new(".")).to_path_buf();
    let l: Labels = serde_json::from_str(&std::fs::read_to_string(&labels)?)?;
    let models = clearshot::models::ModelSet::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"),
    )?;
    let m = models
        .ip_embedder
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the model set has no ip_embedder"))?;
    let mut matcher = IpMatcher::with_embedder(
        MatchConfig::fine(),
        IpEmbedder::load(m, models.ip_map.as_ref(), 1)?,
    );
    let mut refs = Vec::new();
    for r in &l.references {
        refs.push(matcher.enroll(&r.id, &image::open(dir.join(&r.file))?)?);
    }
    // Per zoom: found by a new search / by the follow, in all and among those the first
    // search missed.
    let mut tally = vec![[0usize; 4]; zooms.len()];
    let (mut n, mut first) = (0, 0);
    for sc in l.scenes.iter().filter(|s| s.kind == "inset") {
        let Some(ti) = sc
            .refs
            .first()
            .and_then(|t| l.references.iter().position(|r| r.id == t.r#ref))
        else {
            continue;
        };
        let img = image::open(dir.join(&sc.file))?.to_rgb8();
        let has = |found: &[IpMatch]| found.iter().any(|f| f.reference == ti);
        n += 1;
        let found = matcher.match_frame(&img, &refs)?;
        let at_first = has(&found);
        first += at_first as usize;
        let proposals = matcher.last_proposals();
        for (k, &z) in zooms.iter().enumerate() {
            let (w, h) = img.dimensions();
            let to = |r: [f32; 4]| {
                let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
                [
                    ((r[0] - cx) * z + cx).max(0.0),
                    ((r[1] - cy) * z + cy).max(0.0),
                    ((r[2] - cx) * z + cx).min(w as f32),
                    ((r[3] - cy) * z + cy).min(h as f32),
                ]
            };
            let pushed = push_in(&img, z);
            let searched = has(&matcher.match_frame(&pushed, &refs)?);
            let previous: Vec<IpMatch> = found
                .iter()
                .map(|m| IpMatch {
                    bbox: to(m.bbox),
                    ..m.clone()
                })
                .collect();
            let mut moved = proposals.clone();
            for p in &mut moved {
                p.window = to(p.window);
            }
            moved.retain(|p| p.window[2] > p.window[0] + 8.0 && p.window[3] > p.window[1] + 8.0);
            let followed = has(&matcher.follow(&pushed, &refs, &previous, &moved)?);
            let t = &mut tally[k];
            t[0] += searched as usize;
            t[1] += followed as usize;
            t[2] += (searched && !at_first) as usize;
            t[3] += (followed && !at_first) as usize;
        }
    }
    println!(
        "{}: {n} insets, {first} found by the first search",
        labels.display()
    );
    for (z, t) in zooms.iter().zip(&tally) {
        println!(
            "pushed in {:.0}%: a new search finds {}/{n} ({} the first missed), the follow with \
             the proposals {}/{n} ({} the first missed)",
            (z - 1.0) * 100.0,
            t[0],
            t[2],
            t[1],
            t[3]
        );
    }
    Ok(())
}

/// `img` pushed in by `z` about its centre: the middle 1/z cropped and scaled back up.
fn push_in(img: &RgbImage, z: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cw, ch) = ((w as f32 / z).round() as u32, (h as f32 / z).round() as u32);
    let crop = image::imageops::crop_imm(img, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image();
    image::imageops::resize(&crop, w, h, image::imageops::FilterType::Triangle)
}
