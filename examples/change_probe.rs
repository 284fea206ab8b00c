//! Prints how each picture differs from a base picture once aligned (`media::change`):
//! `cargo run --release --example change_probe -- BASE.png LATER.png...`
fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: BASE LATER..."))?;
    let b = clearshot::media::change::Thumb::of(&image::open(&base)?.to_rgb8());
    for p in args {
        let img = image::open(&p)?.to_rgb8();
        let t0 = std::time::Instant::now();
        let n = clearshot::media::change::Thumb::of(&img);
        let c = b.compare(&n, 0.12);
        println!(
            "{p}: zoom {:.3} pan {:.3} revealed {:.3} residual {:.1} ({:.1} ms)",
            c.zoom,
            c.pan,
            c.revealed,
            c.residual,
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
