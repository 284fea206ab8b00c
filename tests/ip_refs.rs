//! The real binary on the reference-matching clip: each enrolled reference found in its shot
//! with its box and timecode, the never-enrolled image not matched, severity from the rights
//! status, owned/third-party conflicts on one region named, and the reference gallery's
//! safety rules (one-line errors naming the file, nothing overwritten).

mod common;
use common::*;
use std::path::Path;

fn add(g: &Path, name: &str, kind: &str, status: &str, image: &Path, extra: &[&str]) {
    let (o, so, se) = run(clearshot(g)
        .args([
            "refs", "add", "--name", name, "--kind", kind, "--owner", "Someone",
        ])
        .args(["--status", status])
        .args(extra)
        .arg(image));
    assert!(o.status.success(), "refs add {name}: {so}{se}");
}

/// A temporary folder with a gallery holding the Matplotlib logo (third-party).
fn logo_gallery() -> (tempfile::TempDir, std::path::PathBuf) {
    let ip = ip_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    add(
        &g,
        "Matplotlib logo",
        "logo",
        "third-party",
        &ip.join("refs").join("matplotlib_logo.png"),
        &[],
    );
    (dir, g)
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: [f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    iw * ih / (area(a) + area(b) - iw * ih)
}

#[test]
fn references_are_found_in_their_shots_with_box_timecode_and_rights() {
    let ip = ip_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let refs = ip.join("refs");
    add(
        &g,
        "Matplotlib logo",
        "logo",
        "third-party",
        &refs.join("matplotlib_logo.png"),
        &[],
    );
    add(
        &g,
        "Chelsea poster",
        "artwork",
        "owned",
        &refs.join("chelsea.png"),
        &[],
    );
    add(
        &g,
        "Hubble",
        "artwork",
        "licensed",
        &refs.join("hubble.png"),
        &["--licence-ref", "LIC-2026-7"],
    );
    let (o, list, _) = run(clearshot(&g).args(["refs", "list"]));
    assert!(o.status.success() && list.contains("third-party") && list.contains("LIC-2026-7"));

    let report = dir.path().join("r.json");
    let csv = dir.path().join("r.csv");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(ip.join("ip_clip.mp4"))
        .arg("--json")
        .arg(&report)
        .arg("--csv")
        .arg(&csv));
    // A third-party logo is on screen: escalate, exit 1.
    assert_eq!(o.status.code(), Some(1), "{so}{se}");
    assert!(
        so.contains("Matplotlib logo") && so.contains("ESCALATE"),
        "{so}"
    );

    let truth = json(&ip.join("ip_clip.json"));
    let r = json(&report);
    for role in ["reference embedder", "reference map"] {
        assert!(
            r["models"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["role"] == role && m["sha256"].as_str().is_some_and(|s| s.len() == 64)),
            "the {role} is in the chain of custody: {}",
            r["models"]
        );
    }
    assert_eq!(r["gallery"]["references"], 3);
    let file = &r["files"][0];
    // References are matched on about one sample a second plus each shot's first and last
    // (1.6 s shots sampled at 2/s: 5 samples, 3 matched), faces on every sample.
    for s in file["shots"].as_array().unwrap() {
        let (sampled, checked) = (
            s["frames_sampled"].as_u64().unwrap(),
            s["frames_ref_checked"].as_u64().unwrap(),
        );
        assert!(checked >= 2 && checked < sampled, "{s}");
    }
    let findings = file["findings"].as_array().unwrap();
    let names = [
        ("matplotlib_logo", "Matplotlib logo", "escalate"),
        ("chelsea", "Chelsea poster", "info"),
        ("hubble", "Hubble", "info"),
    ];
    for (shot, t) in truth["shots"].as_array().unwrap().iter().enumerate() {
        let here: Vec<_> = findings.iter().filter(|f| f["shot"] == shot).collect();
        let Some(id) = t["ref"].as_str() else {
            assert!(
                here.is_empty(),
                "the never-enrolled image matched: {here:?}"
            );
            continue;
        };
        let (_, name, severity) = names.iter().find(|n| n.0 == id).unwrap();
        assert_eq!(here.len(), 1, "shot {shot}: {here:?}");
        let f = here[0];
        assert_eq!(f["name"], *name);
        assert_eq!(f["kind"], "reference");
        assert_eq!(f["severity"], *severity, "{}", f["reason"]);
        // In and out lie inside the shot; the timecode is the file's own.
        let (a, b) = (
            t["frames"][0].as_u64().unwrap(),
            t["frames"][1].as_u64().unwrap(),
        );
        let (first, last) = (
            f["first_frame"].as_u64().unwrap(),
            f["last_frame"].as_u64().unwrap(),
        );
        assert!(
            a <= first && first <= last && last <= b,
            "{first}-{last} not in {a}-{b}"
        );
        assert!(
            f["frames_seen"].as_u64().unwrap() >= 3,
            "seen on every frame references were matched on: {f}"
        );
        assert!(f["tc_in"].as_str().unwrap().starts_with("01:00:"));
        // The box is where the reference was composited (it drifts one pixel a frame).
        let best = f["best_frame"].as_u64().unwrap();
        let dx = (best - a) as f64;
        let c = t["corners"].as_array().unwrap();
        let xs: Vec<f64> = c.iter().map(|p| p[0].as_f64().unwrap() + dx).collect();
        let ys: Vec<f64> = c.iter().map(|p| p[1].as_f64().unwrap()).collect();
        let want = [
            xs.iter().cloned().fold(f64::MAX, f64::min),
            ys.iter().cloned().fold(f64::MAX, f64::min),
            xs.iter().cloned().fold(f64::MIN, f64::max),
            ys.iter().cloned().fold(f64::MIN, f64::max),
        ];
        let bb: Vec<f64> = f["best_box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got = [bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]];
        assert!(
            iou(got, want) >= 0.7,
            "shot {shot}: box {got:?} vs truth {want:?}"
        );
        let d = &f["reference"];
        assert!(d["inliers"].as_u64().unwrap() >= 8, "{d}");
        let share = d["frame_share"].as_f64().unwrap();
        assert!(share > 0.005 && share < 0.5, "{d}");
        assert!(d["screen_time_s"].as_f64().unwrap() > 1.0, "{d}");
        let e = &f["evidence"];
        for k in ["frame_jpeg", "crop_jpeg", "reference_jpeg"] {
            assert!(
                e[k].as_str().is_some_and(|s| s.len() > 100),
                "{name}: evidence {k}"
            );
        }
    }
    let hubble = findings.iter().find(|f| f["name"] == "Hubble").unwrap();
    assert!(
        hubble["reason"].as_str().unwrap().contains("LIC-2026-7"),
        "{hubble}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains(",reference,Matplotlib logo,"), "{text}");

    // A written approval for the logo in this file clears the gate on a re-scan.
    let approvals = dir.path().join("approvals.json");
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "Matplotlib logo", "file": "ip_clip.mp4", "reference": "LEGAL-9"}]}"#,
    )
    .unwrap();
    let report2 = dir.path().join("r2.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(ip.join("ip_clip.mp4"))
        .arg("--approvals")
        .arg(&approvals)
        .arg("--json")
        .arg(&report2));
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    let r2 = json(&report2);
    let logo = r2["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Matplotlib logo")
        .cloned()
        .unwrap();
    assert_eq!(logo["severity"], "info");
    assert_eq!(logo["approval"]["reference"], "LEGAL-9");

    // Talent only: the same scan with --no-refs finds nothing and passes the gate.
    let (o, so, _) = run(clearshot(&g)
        .arg("scan")
        .arg(ip.join("ip_clip.mp4"))
        .arg("--no-refs"));
    assert_eq!(o.status.code(), Some(0), "{so}");
}

#[test]
fn an_owned_and_a_third_party_match_on_one_region_are_both_named() {
    let ip = ip_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let logo = ip.join("refs/matplotlib_logo.png");
    add(&g, "Rival logo", "logo", "third-party", &logo, &[]);
    add(&g, "Our logo", "logo", "owned", &logo, &[]);
    let report = dir.path().join("r.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(ip.join("ip_clip.mp4"))
        .args(["--json"])
        .arg(&report));
    assert_eq!(o.status.code(), Some(1), "{so}{se}");
    let r = json(&report);
    let findings = r["files"][0]["findings"].as_array().unwrap();
    let get = |n: &str| {
        findings
            .iter()
            .find(|f| f["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {findings:?}"))
    };
    let (ours, rival) = (get("Our logo"), get("Rival logo"));
    assert_eq!(rival["severity"], "escalate");
    assert!(
        rival["reason"]
            .as_str()
            .unwrap()
            .contains("owned reference 'Our logo'"),
        "{}",
        rival["reason"]
    );
    assert_eq!(ours["severity"], "review", "{}", ours["reason"]);
    assert!(ours["reason"]
        .as_str()
        .unwrap()
        .contains("third-party reference 'Rival logo'"));
    assert_eq!(ours["reference"]["same_region"][0]["name"], "Rival logo");
}

#[test]
fn bad_reference_images_fail_with_one_line_naming_the_file_and_change_nothing() {
    let ip = ip_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    add(
        &g,
        "Logo",
        "logo",
        "third-party",
        &ip.join("refs/matplotlib_logo.png"),
        &[],
    );
    let before = std::fs::read(&g).unwrap();
    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, b"this is not an image").unwrap();
    let flat = dir.path().join("flat.png");
    image::RgbImage::from_pixel(200, 120, image::Rgb([90, 90, 90]))
        .save(&flat)
        .unwrap();
    let clear = dir.path().join("clear.png");
    image::RgbaImage::from_pixel(64, 64, image::Rgba([255, 0, 0, 0]))
        .save(&clear)
        .unwrap();
    for (bad, why) in [
        (&not_image, "not a readable image"),
        (&flat, "too few distinctive features"),
        (&clear, "no opaque pixels"),
    ] {
        let (o, _, se) = run(clearshot(&g)
            .args([
                "refs", "add", "--name", "Bad", "--kind", "logo", "--owner", "X",
            ])
            .args(["--status", "owned"])
            .arg(ip.join("refs/chelsea.png"))
            .arg(bad));
        assert_eq!(o.status.code(), Some(3), "{se}");
        let line = se.trim();
        assert_eq!(line.lines().count(), 1, "one line: {se}");
        assert!(
            line.contains(&*bad.display().to_string()) && line.contains(why),
            "{se}"
        );
    }
    // A name already enrolled is refused without --update.
    let (o, _, se) = run(clearshot(&g)
        .args([
            "refs", "add", "--name", "Logo", "--kind", "logo", "--owner", "X",
        ])
        .args(["--status", "owned"])
        .arg(ip.join("refs/chelsea.png")));
    assert_eq!(o.status.code(), Some(3), "{se}");
    assert_eq!(
        std::fs::read(&g).unwrap(),
        before,
        "the gallery is unchanged"
    );
    // Listing or scanning never creates a gallery.
    let none = dir.path().join("none.sqlite");
    let (o, _, se) = run(clearshot(&none).args(["refs", "list"]));
    assert_eq!(o.status.code(), Some(3), "{se}");
    assert!(!none.exists());
}

#[test]
fn inspect_matches_references_on_every_frame_of_the_range() {
    let (dir, g) = logo_gallery();
    let report = dir.path().join("r.json");
    // Frames 5..=12 of the logo shot (25 fps, start 01:00:00:00).
    let (o, so, se) = run(clearshot(&g)
        .arg("inspect")
        .arg(ip_fixtures().join("ip_clip.mp4"))
        .args(["--from", "01:00:00:05", "--to", "01:00:00:12", "--json"])
        .arg(&report));
    assert_eq!(o.status.code(), Some(1), "{so}{se}");
    let r = json(&report);
    // The thorough matcher (finer learned proposals), recorded with the settings.
    assert_eq!(r["settings"]["reference_matcher"]["tile_map_side"], 720);
    let file = &r["files"][0];
    let shot = &file["shots"][0];
    assert_eq!(shot["frames_sampled"], 8, "{shot}");
    assert_eq!(shot["frames_ref_checked"], 8, "{shot}");
    // A spot check searches every frame in full, whatever changed.
    assert_eq!(r["settings"]["reference_gate"], serde_json::Value::Null);
    assert_eq!(
        shot["ref_searched"].as_array().map(Vec::len),
        Some(8),
        "{shot}"
    );
    let f = &file["findings"][0];
    assert_eq!(f["name"], "Matplotlib logo");
    assert_eq!(f["frames_seen"], 8, "every frame of the range: {f}");
}

#[test]
fn a_shot_is_searched_again_when_a_reference_appears_and_followed_otherwise() {
    // One 6 s shot with a slow push-in; a 110 px logo (8.6% of the width: the small kind
    // only the fine proposals find) appears at frame 75 and stays.
    let clip = ip_appear_clip();
    let (dir, g) = logo_gallery();
    let scan = |extra: &[&str], name: &str| {
        let report = dir.path().join(name);
        let (o, so, se) = run(clearshot(&g)
            .arg("scan")
            .arg(&clip)
            .args(extra)
            .arg("--json")
            .arg(&report));
        assert_eq!(o.status.code(), Some(1), "{so}{se}");
        json(&report)["files"][0].clone()
    };
    let gated = scan(&[], "gated.json");
    let every = scan(&["--ref-search", "every"], "every.json");
    let (gs, es) = (&gated["shots"][0], &every["shots"][0]);
    let searched = |s: &serde_json::Value| -> Vec<u64> {
        s["ref_searched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    // Both check the same frames; `every` searches each, the gate fewer.
    assert_eq!(gs["frames_ref_checked"], es["frames_ref_checked"]);
    let checked = es["frames_ref_checked"].as_u64().unwrap() as usize;
    assert_eq!(searched(es).len(), checked, "{es}");
    let g = searched(gs);
    assert!(g.len() < checked, "the gate followed nothing: {gs}");
    // The first check after the logo appeared searched, and found it, as `every` did.
    let first_after = *searched(es).iter().find(|&&f| f >= 75).unwrap();
    assert!(g.contains(&first_after), "{first_after} not searched: {gs}");
    for report in [&gated, &every] {
        let f = &report["findings"].as_array().unwrap();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0]["name"], "Matplotlib logo");
        assert_eq!(f[0]["first_frame"].as_u64(), Some(first_after), "{}", f[0]);
        assert_eq!(f[0]["last_frame"], 149, "{}", f[0]);
    }
    // The checks after it that only re-verified still saw it, where it was.
    assert_eq!(
        gated["findings"][0]["frames_seen"],
        every["findings"][0]["frames_seen"]
    );
}
