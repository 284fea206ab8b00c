//! The HTML report as a person sees it: a real scan of the demo clip by the real binary,
//! its JSON read back into `ScanReport`, written with `clearshot::report::html::write`, and
//! the page loaded in headless Chromium (DOM dump and a screenshot).
//!
//! Chromium is the Debian package `chromium`, installed by `scripts/test.sh` (through
//! `scripts/setup.sh`); without it this test fails rather than passing silently.

mod common;
use common::*;

use clearshot::report::ScanReport;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium binary: `$CHROMIUM` if set, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "headless Chromium is needed to check the HTML report, and `chromium` is not on \
             the PATH: run scripts/test.sh (it installs the Debian package `chromium`), or \
             `apt-get install -y chromium`, or set CHROMIUM to its binary"
        )
    })
}

/// Runs headless Chromium on `page` with `args` in a fresh profile; returns stdout.
fn run_chromium(page: &Path, args: &[&str], profile: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({e}): run scripts/test.sh"));
    // Read the pipes on threads so a full pipe cannot stall Chromium.
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut so, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut se, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for chromium") {
            break st;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().expect("stdout reader").expect("chromium stdout");
    let stderr = err.join().expect("stderr reader");
    assert!(status.success(), "chromium failed: {status}\n{stderr}");
    stdout
}

/// The `<article>` card of the finding about `name` in the dumped DOM.
fn card<'a>(dom: &'a str, name: &str) -> &'a str {
    let cards: Vec<&str> = dom
        .split("<article ")
        .skip(1)
        .map(|c| c.split("</article>").next().unwrap_or(c))
        .filter(|c| c.contains(name))
        .collect();
    assert_eq!(cards.len(), 1, "one card for {name}");
    cards[0]
}

#[test]
fn html_report_of_the_demo_scan_renders_in_chromium() {
    // Fail first, before the slow scan, when Chromium is missing.
    let _ = chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let g = demo_gallery(dir.path());
    let json_path = dir.path().join("r.json");
    let (out, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(demo().join("demo.mp4"))
        .arg("--json")
        .arg(&json_path));
    assert_eq!(out.status.code(), Some(1), "escalate exits 1: {so}\n{se}");
    let text = std::fs::read_to_string(&json_path).expect("report written");
    let report: ScanReport = serde_json::from_str(&text).expect("report deserializes");

    // A directory that does not exist yet is created.
    let html_dir = dir.path().join("html/out");
    let page = clearshot::report::html::write(&report, &html_dir).expect("write HTML");
    assert_eq!(page, html_dir.join("index.html"));
    let html = std::fs::read_to_string(&page).expect("page written");
    assert_eq!(html, clearshot::report::html::render(&report));
    for scheme in ["http://", "https://"] {
        assert!(!html.contains(scheme), "page refers to {scheme}");
    }

    let profile = tempfile::tempdir().expect("profile dir");
    let dom = run_chromium(&page, &["--dump-dom"], profile.path());
    assert!(dom.contains("</html>"), "DOM dump: {dom:.500}");
    for scheme in ["http://", "https://"] {
        assert!(!dom.contains(scheme), "DOM refers to {scheme}");
    }
    let obama = card(&dom, "Barack Obama");
    assert!(obama.contains("class=\"badge escalate\""), "{obama:.600}");
    assert!(obama.contains("denied"), "{obama:.600}");
    let biden = card(&dom, "Joe Biden");
    assert!(biden.contains("class=\"badge info\""), "{biden:.600}");
    assert!(biden.contains("granted"), "{biden:.600}");
    assert!(biden.contains("2099-12-31"), "{biden:.600}");
    // The settings in words a reader needs; the matcher's internals stay in the JSON.
    let settings = dom
        .split("<h2>Settings</h2>")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("settings section");
    for words in [
        "<dt>Frames examined</dt><dd>At least 2 frames a second",
        "<dt>Face match</dt>",
        "<dt>Review band</dt><dd>A person whose faces sit consistently at a distance between ",
        "<dt>References</dt><dd>None registered in the gallery",
        "<dt>Consent judged on</dt>",
        "recorded in the JSON report",
    ] {
        assert!(settings.contains(words), "{words:?} in {settings}");
    }
    for raw in ["reference_matcher", "tile_windows", "{"] {
        assert!(!settings.contains(raw), "{raw:?} in {settings}");
    }
    assert!(
        text.contains("\"tile_windows\""),
        "the JSON report keeps every setting"
    );
    // Chain of custody: every model hash and the gallery state.
    for m in &report.models {
        assert!(dom.contains(&m.sha256), "model {} hash", m.name);
    }
    assert!(dom.contains(&report.gallery.state_sha256));

    // Three images per finding, each a data: URI holding a JPEG that decodes.
    let prefix = "data:image/jpeg;base64,";
    let imgs: Vec<&str> = dom.split("<img").skip(1).collect();
    assert_eq!(imgs.len(), 6, "six images");
    for img in imgs {
        let src = img
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("img has src");
        let b64 = src.strip_prefix(prefix).expect("data:image/jpeg URI");
        let bytes = clearshot::evidence::decode_base64(b64).expect("base64 decodes");
        let jpeg = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .expect("JPEG decodes");
        assert!(jpeg.width() > 0 && jpeg.height() > 0);
    }

    let shot = dir.path().join("page.png");
    let profile = tempfile::tempdir().expect("profile dir");
    run_chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
        profile.path(),
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.len() > 8 && png.starts_with(b"\x89PNG"),
        "PNG screenshot"
    );
    let img = image::load_from_memory(&png).expect("screenshot decodes");
    assert_eq!((img.width(), img.height()), (1280, 2000));
}

#[test]
fn reference_findings_render_with_rights_region_and_gallery_image() {
    let _ = chromium();
    let ip = ip_fixtures();
    let dir = tempfile::tempdir().expect("temp dir");
    let g = dir.path().join("g.sqlite");
    for (name, kind, status, file) in [
        (
            "Matplotlib logo",
            "logo",
            "third-party",
            "matplotlib_logo.png",
        ),
        ("Chelsea poster", "artwork", "owned", "chelsea.png"),
    ] {
        let (o, so, se) = run(clearshot(&g)
            .args(["refs", "add", "--name", name, "--kind", kind])
            .args(["--owner", "Rights Holder", "--status", status])
            .arg(ip.join("refs").join(file)));
        assert!(o.status.success(), "{so}{se}");
    }
    let html_dir = dir.path().join("html");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg(ip.join("ip_clip.mp4"))
        .arg("--html")
        .arg(&html_dir));
    assert_eq!(o.status.code(), Some(1), "{so}{se}");
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = run_chromium(
        &html_dir.join("index.html"),
        &["--dump-dom"],
        profile.path(),
    );
    let logo = card(&dom, "Matplotlib logo");
    assert!(logo.contains("class=\"badge escalate\""), "{logo:.800}");
    assert!(
        logo.contains("third-party") && logo.contains("Rights Holder"),
        "{logo:.800}"
    );
    assert!(
        logo.contains("inliers") && logo.contains("Region crop"),
        "{logo:.800}"
    );
    assert_eq!(
        logo.matches("<img").count(),
        3,
        "frame, region, gallery reference"
    );
    let poster = card(&dom, "Chelsea poster");
    assert!(poster.contains("class=\"badge info\"") && poster.contains("owned"));
}

/// A small report built in memory, with hostile text where the user types it.
fn hostile_report() -> ScanReport {
    let evil = "<script>alert('x')</script> & \"co\"";
    let media = serde_json::json!({
        "path": "/clips/a&b <x>.mp4", "container": "mov", "video_codec": "h264",
        "width": 1920, "height": 1080, "frame_rate": {"num": 25, "den": 1},
        "frame_count": 10, "duration_seconds": 0.4,
        "start_timecode": {"frames": 0, "rate": {"num": 25, "den": 1}, "drop_frame": false},
        "timecode_source": null, "is_still": false
    });
    let finding = serde_json::json!({
        "kind": "talent", "shot": 0, "name": evil,
        "consent": {"consent": "unknown", "scope": evil, "expires": null},
        "severity": "review", "reason": evil, "first_frame": 0, "last_frame": 9,
        "tc_in": "00:00:00:00", "tc_out": "00:00:00:09", "frames_seen": 3,
        "frames_matched": 3, "largest_face_px": 80, "distance": 0.4, "threshold": 0.5,
        "score": 0.6, "best_frame": 4, "best_tc": "00:00:00:04",
        "best_box": [1.0, 2.0, 3.0, 4.0],
        "approval": {"who": evil, "reference": "LEGAL-<1>", "note": evil, "from": "00:00:00:00"},
        // Not base64 of a JPEG (and an attempt to break out of the attribute); a JPEG header.
        "evidence": {"frame_jpeg": "\"><script>", "crop_jpeg": "/9j/4AA="}
    });
    let file = serde_json::json!({
        "path": "/clips/a&b <x>.mp4", "sha256": "cafe", "media": media,
        "start_timecode": "00:00:00:00", "frames_decoded": 10, "frames_sampled": 3,
        "shots": [], "warnings": [evil], "findings": [finding]
    });
    let v = serde_json::json!({
        "tool": "clearshot", "version": "0.1.0",
        "command_line": ["clearshot", "scan", "a&b <x>.mp4"],
        "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:09Z",
        "models": [],
        "gallery": {"path": "/g<1>.sqlite", "state_sha256": "ab", "talent": 1, "matchable": 1},
        "settings": {"threshold": 0.5, "note": evil},
        "files": [file],
        "failures": [{"path": "/clips/<bad>.mov", "error": evil}]
    });
    serde_json::from_value(v).expect("report from JSON")
}

#[test]
fn html_escapes_user_text_and_says_when_images_are_missing() {
    let html = clearshot::report::html::render(&hostile_report());
    assert!(!html.contains("<script"), "unescaped markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
    assert!(html.contains("a&amp;b &lt;x&gt;.mp4"));
    assert!(html.contains("&lt;bad&gt;.mov"), "failure listed");
    assert!(html.contains("cafe"), "file hash in the chain of custody");
    assert!(html.contains("class=\"badge review\""));
    assert!(html.contains("LEGAL-&lt;1&gt;"), "approval reference");
    assert!(html.contains("covered by approval"));
    // The frame is not a JPEG: not embedded; the crop is; there is no reference.
    assert_eq!(html.matches("<img").count(), 1);
    assert!(html.contains("stored image could not be decoded"));
    assert!(html.contains("no reference image stored"));
    assert!(!html.contains("http://") && !html.contains("https://"));
}
