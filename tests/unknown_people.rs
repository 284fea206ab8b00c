//! `scan --unknown` on two clips of the labelled unknown-faces set (scripts/make_unknown_eval.py:
//! real photos from registry packages composited into 720p clips), then `gallery add
//! --from-report ... --unknown ID`, then a re-scan that names the person: the real binary, the
//! real models, real media.

mod common;

use common::{clearshot, demo_gallery, json, root, run};
use std::path::PathBuf;
use std::process::Command;

/// The tune split's clips, generated when missing with the venv that scripts/test.sh makes.
fn tune_clips() -> Vec<PathBuf> {
    let dir = root().join("fixtures/generated/unknown_eval/tune");
    if !dir.join("labels.json").is_file() {
        let py = root().join("third_party/venv-facevideo/bin/python");
        let st = Command::new(&py)
            .arg(root().join("scripts/make_unknown_eval.py"))
            .args(["--split", "tune"])
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run scripts/test.sh (it makes the venv and the set)",
                    py.display()
                )
            });
        assert!(st.success(), "make_unknown_eval.py --split tune failed");
    }
    ["tune_1.mp4", "tune_2.mp4"]
        .iter()
        .map(|c| dir.join("clips").join(c))
        .collect()
}

/// `gallery add --name "Day Player" --from-report REPORT --unknown ID`.
fn add_from_report(g: &std::path::Path, report: &std::path::Path, id: &str) -> Command {
    let mut c = clearshot(g);
    c.args([
        "gallery",
        "add",
        "--name",
        "Day Player",
        "--consent",
        "unknown",
    ])
    .arg("--from-report")
    .arg(report)
    .args(["--unknown", id]);
    c
}

#[test]
fn recurring_unknown_people_are_reported_enrolled_and_then_named() {
    let clips = tune_clips();
    let dir = tempfile::tempdir().expect("temp dir");
    // Obama (registered) is in these clips too: he is a talent finding, never an unknown.
    let g = demo_gallery(dir.path());
    let report = dir.path().join("scan.json");
    let csv = dir.path().join("scan.csv");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .args(&clips)
        .arg("--unknown")
        .arg("--json")
        .arg(&report)
        .arg("--csv")
        .arg(&csv)
        .args(["--fail-on", "never"]));
    assert!(o.status.success(), "scan --unknown: {so}{se}");
    let r = json(&report);
    let people = r["unknown_people"].as_array().expect("unknown_people");
    assert!(
        people.len() >= 3,
        "the tune clips hold 4 recurring strangers: {so}"
    );
    let mut markers = 0;
    for (i, p) in people.iter().enumerate() {
        assert_eq!(p["id"], format!("U{}", i + 1));
        let apps = p["appearances"].as_array().expect("appearances");
        assert!(apps.len() >= 2 || p["seconds"].as_f64() >= Some(10.0));
        for a in apps {
            assert!(!a["embeddings"].as_array().expect("embeddings").is_empty());
            let crop = a["crop_jpeg"].as_str().expect("a face crop");
            assert!(crop.starts_with("/9j/"), "a JPEG");
            assert!(a["tc_in"].as_str().is_some_and(|t| t.len() == 11));
        }
        markers += apps.len();
        let p_cohesion = &p["cohesion"];
        assert!(p_cohesion["max_distance"].as_f64() <= p_cohesion["link"].as_f64());
        assert!(
            so.contains(&format!("UNKNOWN U{} ", i + 1)),
            "a table line per person: {so}"
        );
    }
    // Nobody's tracks outside the people, and no unknown person is the registered one.
    for f in r["files"].as_array().expect("files") {
        assert!(
            f.get("unknown_tracks").is_none(),
            "tracks left in the report"
        );
        for x in f["findings"].as_array().expect("findings") {
            if x["kind"] == "talent" {
                assert!(x["name"] == "Barack Obama" || x["name"] == "Joe Biden");
            }
        }
    }
    // One CSV row per appearance, severity review.
    let rows: Vec<String> = std::fs::read_to_string(&csv)
        .expect("csv")
        .lines()
        .filter(|l| l.contains(",unknown,"))
        .map(str::to_string)
        .collect();
    assert_eq!(rows.len(), markers);
    assert!(rows.iter().all(|l| l.contains(",review,")));

    // Enroll U1 from the report; an id the report lacks is a one-line error naming it.
    let (o, so, se) = run(&mut add_from_report(&g, &report, "U99"));
    assert_eq!(o.status.code(), Some(3), "{so}{se}");
    assert!(
        se.contains("scan.json: no unknown person U99 (the report has U1"),
        "{se}"
    );
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    let (o, so, se) = run(&mut add_from_report(&g, &report, "U1"));
    assert!(o.status.success(), "gallery add --from-report: {so}{se}");
    assert!(so.contains("from unknown person U1"), "{so}");

    // A re-scan names them where U1 was seen; U1 is no longer unknown.
    let u1: Vec<(String, u64)> = people[0]["appearances"]
        .as_array()
        .expect("appearances")
        .iter()
        .map(|a| {
            (
                a["file"].as_str().expect("file").to_string(),
                a["shot"].as_u64().expect("shot"),
            )
        })
        .collect();
    let again = dir.path().join("again.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .args(&clips)
        .arg("--unknown")
        .arg("--json")
        .arg(&again)
        .args(["--fail-on", "never"]));
    assert!(o.status.success(), "re-scan: {so}{se}");
    let r2 = json(&again);
    let named: Vec<(String, u64)> = r2["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| {
            let path = f["path"].as_str().unwrap_or_default().to_string();
            f["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["name"] == "Day Player")
                .map(move |x| (path.clone(), x["shot"].as_u64().unwrap_or(u64::MAX)))
        })
        .collect();
    for a in &u1 {
        assert!(named.contains(a), "{a:?} not named: {named:?}");
    }
    assert_eq!(
        r2["unknown_people"].as_array().map_or(0, Vec::len),
        people.len() - 1,
        "U1 is registered now"
    );
}

#[test]
fn without_unknown_no_embedding_reaches_the_report() {
    let clips = tune_clips();
    let dir = tempfile::tempdir().expect("temp dir");
    let g = demo_gallery(dir.path());
    let report = dir.path().join("scan.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(&clips[0])
        .arg("--json")
        .arg(&report)
        .args(["--fail-on", "never"]));
    assert!(o.status.success(), "scan: {so}{se}");
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(!text.contains("\"unknown_people\"") && !text.contains("\"embeddings\""));
    assert!(!text.contains("\"unknown_tracks\"") && !text.contains("\"unknown\":"));
    // The default journal is gone once the report is written.
    let journals = dir.path().join("state/clearshot/journals");
    let left = std::fs::read_dir(&journals).map_or(0, |d| d.count());
    assert_eq!(left, 0, "a journal was left in {}", journals.display());
}

/// The shards of an array job each scan part of the batch; their merge groups the whole
/// batch, as one machine does (a shard's settings record must survive its journal bit for
/// bit, or no entry matches its header at merge time).
#[test]
fn a_merge_of_shards_groups_the_whole_batch_as_one_machine_does() {
    let clips = tune_clips();
    let dir = tempfile::tempdir().expect("temp dir");
    let g = demo_gallery(dir.path());
    for i in 0..2 {
        let (o, so, se) = run(clearshot(&g)
            .arg("scan")
            .args(&clips)
            .arg("--unknown")
            .args(["--shard", &format!("{i}/2"), "--journal"])
            .arg(dir.path().join(format!("j{i}.sqlite")))
            .args(["--fail-on", "never"]));
        assert!(o.status.success(), "shard {i}: {so}{se}");
    }
    let merged = dir.path().join("merged.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("merge")
        .arg(dir.path().join("j0.sqlite"))
        .arg(dir.path().join("j1.sqlite"))
        .arg("--json")
        .arg(&merged)
        .args(["--fail-on", "never"]));
    assert!(o.status.success(), "merge: {so}{se}");
    let one = dir.path().join("one.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .args(&clips)
        .arg("--unknown")
        .arg("--json")
        .arg(&one)
        .args(["--fail-on", "never"]));
    assert!(o.status.success(), "scan: {so}{se}");
    let (m, s) = (json(&merged), json(&one));
    assert!(!s["unknown_people"].as_array().expect("people").is_empty());
    assert_eq!(m["unknown_people"], s["unknown_people"]);
    assert_eq!(m["files"], s["files"]);
    // The shards' journals keep each track's faces and whether they were dim views (what
    // the grouping lets join a person as a lone view): exactly the tracks of the labelled
    // dark shots are.
    let (mut dim_in_dark, mut dim_in_lit, mut lit_in_dark) = (0, 0, 0);
    for i in 0..2 {
        for (clip, t) in journal_tracks(&dir.path().join(format!("j{i}.sqlite"))) {
            let frame = t["best_frame"].as_u64().expect("best frame");
            let dark = effect_at(&clip, frame) == "dark";
            match (t["dim"].as_bool().unwrap_or(false), dark) {
                (true, true) => dim_in_dark += 1,
                (true, false) => dim_in_lit += 1,
                (false, true) => lit_in_dark += 1,
                (false, false) => {}
            }
        }
    }
    assert!(dim_in_dark > 0, "no dim track in the dark shots");
    assert_eq!(
        (dim_in_lit, lit_in_dark),
        (0, 0),
        "dim flags off the dark shots"
    );
}

/// (clip file name, unknown track) of every scanned file in a journal.
fn journal_tracks(path: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let db = rusqlite::Connection::open(path).expect("journal");
    let mut q = db
        .prepare("SELECT report FROM entry WHERE report IS NOT NULL")
        .expect("query");
    let reports: Vec<String> = q
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("reports");
    let mut out = Vec::new();
    for r in reports {
        let r: serde_json::Value = serde_json::from_str(&r).expect("report JSON");
        let clip = std::path::Path::new(r["path"].as_str().expect("path"))
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        for t in r["unknown_tracks"].as_array().expect("tracks") {
            out.push((clip.clone(), t.clone()));
        }
    }
    out
}

/// The effect (`dark`, `soft` or none) the tune split's labels give the shot of `clip` that
/// holds `frame`.
fn effect_at(clip: &str, frame: u64) -> String {
    let labels = json(&root().join("fixtures/generated/unknown_eval/tune/labels.json"));
    let clips = labels["clips"].as_array().expect("clips");
    let c = clips
        .iter()
        .find(|c| c["path"].as_str().is_some_and(|p| p.ends_with(clip)))
        .expect("clip in the labels");
    let shot = c["shots"]
        .as_array()
        .expect("shots")
        .iter()
        .find(|s| {
            s["first_frame"].as_u64() <= Some(frame) && Some(frame) <= s["last_frame"].as_u64()
        })
        .expect("a labelled shot holds the frame");
    shot["effect"].as_str().unwrap_or_default().to_string()
}

/// The second shot of tune_1 holds two faces (labels): tracking_b at 160 px and xlib_a at
/// 60 px, which the 640 px tiles shrink to 18 px, under anything the upright pass responds
/// to. The small-faces pass finds it on the shot's first sample; the samples after follow it,
/// the last one (a grid sample without the small pass) included. With `--hard-faces off`
/// only the big face is seen.
#[test]
fn a_60_px_face_the_tiles_miss_is_seen_on_every_sample_of_its_shot() {
    let clips = tune_clips();
    let labels = json(&root().join("fixtures/generated/unknown_eval/tune/labels.json"));
    let labelled = labels["clips"][0]["shots"][1]["faces"]
        .as_array()
        .expect("faces")
        .iter()
        .map(|f| f["face_px"].as_u64().unwrap_or(0))
        .collect::<Vec<_>>();
    assert_eq!(
        labelled,
        [160, 60],
        "tune_1's second shot as this test knows it"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let g = demo_gallery(dir.path());
    let shot = |hard: &str| {
        let report = dir.path().join(format!("{hard}.json"));
        let (o, so, se) = run(clearshot(&g)
            .arg("scan")
            .arg(&clips[0])
            .args(["--hard-faces", hard, "--fail-on", "never", "--json"])
            .arg(&report));
        assert!(o.status.success(), "scan --hard-faces {hard}: {so}{se}");
        let s = json(&report)["files"][0]["shots"][1].clone();
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        (
            n("frames_sampled"),
            n("faces_seen"),
            n("unidentified_faces"),
        )
    };
    let (samples, seen, unidentified) = shot("regions");
    assert!(samples >= 3, "{samples} samples");
    assert_eq!(
        (seen, unidentified),
        (2 * samples, 2),
        "both faces on every sample"
    );
    let (samples, seen, unidentified) = shot("off");
    assert_eq!(
        (seen, unidentified),
        (samples, 1),
        "the tiles alone see the big face only"
    );
}
