//! `gallery add` with video clips, through the real binary on clips made from real photos
//! (scripts/make_enroll_clips.sh): one person enrolled by pose, a clip of two people refused,
//! a truncated clip refused with the gallery untouched, and the person found afterwards in a
//! clip made from another photo of them.

mod common;

use common::{clearshot, demo, json, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

static CLIPS: Once = Once::new();

/// fixtures/generated/enroll, built on first use.
fn clips() -> PathBuf {
    CLIPS.call_once(|| {
        let st = Command::new("bash")
            .arg(root().join("scripts/make_enroll_clips.sh"))
            .status()
            .expect("run make_enroll_clips.sh");
        assert!(st.success(), "make_enroll_clips.sh failed");
    });
    root().join("fixtures/generated/enroll")
}

/// The numbers of a `NAME: N faces kept (frontal F, three-quarter T, profile P) from S
/// samples` line: [N, F, T, P, S].
fn kept_line(stdout: &str, name: &str) -> [u64; 5] {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no line for {name}: {stdout}"));
    let nums: Vec<u64> = line[name.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let shape = format!(
        "{name}: {} faces kept (frontal {}, three-quarter {}, profile {}) from {} samples",
        nums.first().unwrap_or(&0),
        nums.get(1).unwrap_or(&0),
        nums.get(2).unwrap_or(&0),
        nums.get(3).unwrap_or(&0),
        nums.get(4).unwrap_or(&0)
    );
    assert_eq!(line, shape, "summary line");
    [nums[0], nums[1], nums[2], nums[3], nums[4]]
}

fn add(g: &Path, name: &str, extra: &[&str], files: &[PathBuf]) -> (bool, String, String) {
    let (o, so, se) = run(clearshot(g)
        .args(["gallery", "add", "--name", name, "--consent", "denied"])
        .args(extra)
        .args(files));
    (o.status.success(), so, se)
}

/// The one line of stderr (fails when there are several).
fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    lines[0]
}

#[test]
fn a_clip_enrolls_its_person_by_pose_and_a_scan_then_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let (ok, so, se) = add(&g, "Barack Obama", &[], &[clips().join("obama_enroll.mp4")]);
    assert!(ok, "{so}{se}");
    let [n, frontal, three_quarter, profile, samples] = kept_line(&so, "obama_enroll.mp4");
    assert!(n >= 2, "{so}");
    assert_eq!(n, frontal + three_quarter + profile);
    // The clip shows obama.jpg (frontal) and obama2.jpg turned about 25 degrees each way.
    assert!(frontal >= 1 && three_quarter >= 2, "{so}");
    // 7.2 s at 4 samples per second, plus the first and last frames of its 3 shots.
    assert!((25..=36).contains(&samples), "{so}");
    // Near-duplicates are skipped: the clip holds three distinct pictures of the person, each
    // on about 10 samples, and no bin keeps more than 3.
    assert!(n <= 5, "{so}");

    let list = run(clearshot(&g).args(["gallery", "list", "--json"]));
    assert!(list.0.status.success(), "{}", list.2);
    let people: serde_json::Value = serde_json::from_str(&list.1).unwrap();
    let p = &people[0];
    assert_eq!(p["name"], "Barack Obama");
    assert_eq!(p["photos"], n);
    assert_eq!(p["poses"]["frontal"], frontal);
    assert_eq!(p["poses"]["three_quarter"], three_quarter);
    assert_eq!(p["poses"]["unknown"], 0);
    let table = run(clearshot(&g).args(["gallery", "list"])).1;
    assert!(
        table.contains("FRONTAL") && table.contains("PROFILE"),
        "{table}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&g).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "gallery must stay private");
    }

    // demo.mp4's Obama shot is obama3.jpg, which the clip does not hold.
    let report = dir.path().join("report.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .args(["--fail-on", "never", "--json"])
        .arg(&report));
    assert!(o.status.success(), "{so}{se}");
    let truth = json(&demo().join("demo.json"));
    let obama_shot = truth["shots"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["who"] == "obama")
        .unwrap();
    let r = json(&report);
    let findings = r["files"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only Obama, only once: {findings:?}");
    assert_eq!(findings[0]["name"], "Barack Obama");
    assert_eq!(findings[0]["shot"], obama_shot);
}

#[test]
fn a_clip_of_two_people_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let (ok, so, se) = add(&g, "Someone", &[], &[clips().join("two_people.mp4")]);
    assert!(!ok, "{so}");
    let line = one_line(&se);
    assert!(
        line.contains("two_people.mp4") && line.contains("two people"),
        "{line}"
    );
    assert!(!g.exists(), "a refused enrollment created the gallery");
}

#[test]
fn a_truncated_clip_fails_in_one_line_and_leaves_the_gallery_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g.sqlite");
    let photos = clips().join("photos");
    let (ok, so, se) = add(&g, "Barack Obama", &[], &[photos.join("obama.jpg")]);
    assert!(ok, "{so}{se}");
    let before = std::fs::read(&g).unwrap();
    let whole = std::fs::read(clips().join("obama_enroll.mp4")).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    // A good photo first: all or nothing, so it is not stored either.
    let (ok, so, se) = add(
        &g,
        "Barack Obama",
        &["--update"],
        &[photos.join("obama2.jpg"), cut.clone()],
    );
    assert!(!ok, "{so}");
    let line = one_line(&se);
    assert!(line.contains("cut.mp4"), "{line}");
    assert!(!line.contains("obama2.jpg"), "{line}");
    assert_eq!(std::fs::read(&g).unwrap(), before, "the gallery changed");
    // And a file that is no media at all.
    let junk = dir.path().join("junk.mov");
    std::fs::write(&junk, b"not a movie at all, just text").unwrap();
    let (ok, _, se) = add(&g, "Barack Obama", &["--update"], &[junk]);
    assert!(!ok);
    assert!(one_line(&se).contains("junk.mov"), "{se}");
    assert_eq!(std::fs::read(&g).unwrap(), before, "the gallery changed");
}

/// The hostile corpus (scripts/make_hostile.sh): damaged, empty, huge, foreign files and the
/// test-pattern sources they are made from. None shows a person, so each is refused (no crash)
/// in one line naming it, and leaves no gallery behind.
#[test]
fn hostile_files_are_refused_in_one_line_naming_them() {
    let hostile = common::fixtures().join("hostile");
    let expected = json(&hostile.join("expected.json"));
    let files = expected.as_object().unwrap();
    assert!(files.len() >= 30, "hostile corpus: {files:?}");
    for name in files.keys() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g.sqlite");
        let (o, so, se) = run(clearshot(&g)
            .args(["gallery", "add", "--name", "X", "--consent", "denied"])
            .arg(hostile.join(name)));
        let file = Path::new(name).file_name().unwrap().to_string_lossy();
        assert_eq!(o.status.code(), Some(3), "{name}: {so}{se}");
        assert!(one_line(&se).contains(&*file), "{name}: {se}");
        assert!(!g.exists(), "{name} created the gallery");
    }
}
