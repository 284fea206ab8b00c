//! The unknown face tracks a labelled `eval-unknown` set's scan keeps, as JSON on stdout
//! (clip, shot, frames, best box, dim, embeddings), to study distances outside the grouping:
//! `cargo run --release --example unknown_tracks -- LABELS.json > tracks.json`.
//! Models from `CLEARSHOT_MODELS` (default `models/`).

use anyhow::{Context as _, Result};
use clearshot::face::detect::HardFaces;
use clearshot::models::ModelSet;
use std::path::PathBuf;

fn main() -> Result<()> {
    let labels = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: unknown_tracks LABELS.json")?,
    );
    let dir = std::env::var_os("CLEARSHOT_MODELS").map_or_else(|| "models".into(), PathBuf::from);
    let models = ModelSet::load(&dir)?;
    let (labels, files) = clearshot::eval::unknown::scan(models, &labels, HardFaces::Regions)?;
    let out: Vec<_> = files
        .iter()
        .zip(&labels.clips)
        .flat_map(|(f, c)| {
            f.unknown_tracks.iter().map(move |t| {
                serde_json::json!({
                    "clip": c.path, "shot": t.shot, "first": t.first_frame,
                    "last": t.last_frame, "best_frame": t.best_frame, "best_box": t.best_box,
                    "px": t.largest_face_px, "dim": t.dim,
                    "embeddings": t.embeddings.iter().map(|e| &e.0).collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
