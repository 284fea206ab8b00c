//! What each hard-faces pass costs per 1080p frame (one thread, median of several runs) and
//! what it finds: real face photos turned 90/180/270 degrees or shrunk to 24/32 px, pasted
//! into 1080p frames of real face-free photos; and the faces each pass adds on those
//! backgrounds alone (false faces). Run with benches/hard_faces.sh, or:
//!
//! `cargo run --release --example hard_faces [-- RUNS]`

#[path = "../tests/hard_faces/scene.rs"]
mod scene;

use clearshot::face::detect::{Pass, Turn};
use scene::{found_at, Stages, Subject};
use std::time::Instant;

const PASSES: [Pass; 6] = [
    Pass::Regions,
    Pass::Turned(Turn::Cw90),
    Pass::Turned(Turn::Half),
    Pass::Turned(Turn::Ccw90),
    Pass::Fine,
    Pass::Small,
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One case: a frame and where its face is.
struct Case {
    label: String,
    frame: image::RgbImage,
    truth: [f32; 3],
    subject: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5);
    let mut st = Stages::load();
    let metric = st.embedder.spec().metric;
    let subjects: Vec<Subject> = scene::face_photos()
        .iter()
        .map(|p| Subject::load(p, &mut st))
        .collect();
    let bgs: Vec<image::RgbImage> = scene::backgrounds()
        .iter()
        .map(|p| scene::frame_from(p))
        .collect();

    // Cases: each subject at each turn (160 px), and at 24 and 32 px upright, placed at
    // spots that are not tile centres, on the backgrounds in turn.
    let spots = [[1333, 287], [517, 803], [1601, 700], [301, 333], [967, 541]];
    let mut cases = Vec::new();
    let mut n = 0;
    for (si, s) in subjects.iter().enumerate() {
        let mut add = |label: String, size: f32, turn: Turn| {
            let mut frame = bgs[n % bgs.len()].clone();
            let truth = s.paste(&mut frame, size, turn, spots[n % spots.len()]);
            n += 1;
            cases.push(Case {
                label,
                frame,
                truth,
                subject: si,
            });
        };
        for (t, name) in [
            (Turn::None, "0"),
            (Turn::Cw90, "90"),
            (Turn::Half, "180"),
            (Turn::Ccw90, "270"),
        ] {
            add(format!("turned {name}"), 160.0, t);
        }
        add("24 px".into(), 24.0, Turn::None);
        add("32 px".into(), 32.0, Turn::None);
    }

    // Is the upright pass's sub-threshold response a usable trigger? Its best score at each
    // hard face, and how many face-like regions face-free frames have.
    let mut trig = std::collections::BTreeMap::<String, Vec<String>>::new();
    for c in &cases {
        let regions = st.detector.face_like_regions(&c.frame)?;
        let tagged: Vec<_> = regions.into_iter().map(|f| (f, ())).collect();
        let s = found_at(&tagged, [c.truth[0], c.truth[1], c.truth[2].max(48.0)])
            .map_or("-".to_string(), |(f, _)| format!("{:.2}", f.score));
        trig.entry(c.label.clone()).or_default().push(s);
    }
    for (k, v) in &trig {
        println!("face-like region score at {k}: {}", v.join(" "));
    }
    let mut per_bg = Vec::new();
    for bg in &bgs {
        per_bg.push(st.detector.face_like_regions(bg)?.len().to_string());
    }
    println!(
        "face-like regions per background frame: {}",
        per_bg.join(" ")
    );

    // Cost per pass on the face-free backgrounds: the upright pass, then each extra pass as
    // (upright + pass) - upright.
    let time = |st: &mut Stages, extra: &[Pass]| -> Result<f64, Box<dyn std::error::Error>> {
        let mut v = vec![0.0];
        for _ in 0..runs {
            for bg in &bgs {
                let t = Instant::now();
                st.detector.detect_passes(bg, extra)?;
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Ok(median(v))
    };
    let upright_ms = time(&mut st, &[])?;
    println!("| pass | ms per 1080p frame (median) | found: turned 90 / 180 / 270 (max distance to upright photo) | found: 24 px / 32 px | false faces on {} backgrounds |", bgs.len());
    println!("|---|---|---|---|---|");
    let mut rows = vec![(Pass::Upright, upright_ms)];
    for p in PASSES {
        rows.push((p, time(&mut st, &[p])? - upright_ms));
    }
    for (pass, ms) in rows {
        let extra: &[Pass] = if pass == Pass::Upright {
            &[]
        } else {
            std::slice::from_ref(&pass)
        };
        let mut found = std::collections::BTreeMap::<String, (usize, usize, f32)>::new();
        for c in &cases {
            let faces = st.detector.detect_passes(&c.frame, extra)?;
            let e = found.entry(c.label.clone()).or_insert((0, 0, 0.0));
            e.1 += 1;
            if let Some((f, p)) = found_at(&faces, c.truth) {
                e.0 += 1;
                eprintln!(
                    "{} {}: {} score {:.2}",
                    c.label,
                    c.subject,
                    p.name(),
                    f.score
                );
                if c.truth[2] >= 100.0 {
                    if let Some(emb) = st.embed(&c.frame, f) {
                        let d = emb.distance(&subjects[c.subject].embedding, metric);
                        e.2 = e.2.max(d);
                    }
                }
            }
        }
        let mut false_faces = 0;
        for (i, bg) in bgs.iter().enumerate() {
            for (f, _) in st
                .detector
                .detect_passes(bg, extra)?
                .iter()
                .filter(|(_, p)| *p == pass)
            {
                false_faces += 1;
                eprintln!(
                    "false face ({}) on background {i}: {:.0} px at ({:.0}, {:.0}), score {:.2}",
                    pass.name(),
                    f.size(),
                    f.x,
                    f.y,
                    f.score
                );
            }
        }
        let cell = |k: &str| {
            found.get(k).map_or("-".to_string(), |(a, b, d)| {
                if *a > 0 && *d > 0.0 {
                    format!("{a}/{b} ({d:.2})")
                } else {
                    format!("{a}/{b}")
                }
            })
        };
        let label = if pass == Pass::Upright {
            "upright (today)".to_string()
        } else {
            format!("+ {}", pass.name())
        };
        println!(
            "| {label} | {ms:.1} | {} / {} / {} (upright: {}) | {} / {} | {false_faces} |",
            cell("turned 90"),
            cell("turned 180"),
            cell("turned 270"),
            cell("turned 0"),
            cell("24 px"),
            cell("32 px"),
        );
    }
    // Everything at once, as `--hard-faces all` runs it.
    let all_ms = time(&mut st, &PASSES)? - upright_ms;
    let mut hits = 0;
    for c in &cases {
        let faces = st.detector.detect_passes(&c.frame, &PASSES)?;
        hits += usize::from(found_at(&faces, c.truth).is_some());
    }
    let mut false_faces = 0;
    for bg in &bgs {
        false_faces += st.detector.detect_passes(bg, &PASSES)?.len();
    }
    println!(
        "| + all passes | {all_ms:.1} | {hits}/{} cases | | {false_faces} faces in all |",
        cases.len()
    );
    Ok(())
}
