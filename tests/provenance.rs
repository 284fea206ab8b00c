//! Provenance on real signed files (scripts/make_c2pa.sh: a test CA and signer made with the
//! openssl CLI, fixtures signed by the c2pa crate itself): AI declarations in C2PA and XMP,
//! validation, trust anchors, sidecars, a corrupt store, formats C2PA does not take, the
//! reports, approvals and `verify`.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A gallery (the demo's two people) in `dir`, copied from one enrolled once per run.
fn gallery(dir: &Path) -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let src = ONCE.get_or_init(|| {
        #[allow(deprecated)]
        let keep = tempfile::tempdir().unwrap().into_path();
        demo_gallery(&keep)
    });
    let g = dir.join("g.sqlite");
    if !g.exists() {
        std::fs::copy(src, &g).unwrap();
    }
    g
}

/// Scans `files` with the demo gallery; returns (exit code, stdout, stderr, JSON report).
fn scan(dir: &Path, files: &[PathBuf], extra: &[&str]) -> (Option<i32>, String, String, Value) {
    let report = dir.join(format!("r{}.json", std::process::id() ^ rand_suffix()));
    let (o, so, se) = run(clearshot(&gallery(dir))
        .arg("scan")
        .args(files)
        .arg("--fresh")
        .arg("--json")
        .arg(&report)
        .args(extra));
    let r = if report.exists() {
        json(&report)
    } else {
        Value::Null
    };
    (o.status.code(), so, se, r)
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The report of the file named `name`.
fn file<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in the report: {r}"))
}

fn prov_finding(f: &Value) -> Option<&Value> {
    f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "provenance")
}

#[test]
fn ai_declarations_are_read_from_c2pa_and_xmp_and_flagged_for_review() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "ai.jpg",
        "ai.mp4",
        "composite.jpg",
        "camera.jpg",
        "xmp_ai.jpg",
        "plain.jpg",
        "ai.mkv",
    ];
    let files: Vec<PathBuf> = names.iter().map(|n| c.join(n)).collect();
    let (code, so, se, r) = scan(dir.path(), &files, &[]);
    // Review does not fail the default gate (escalate).
    assert_eq!(code, Some(0), "{so}{se}");

    for n in ["ai.jpg", "ai.mp4"] {
        let f = file(&r, n);
        let p = &f["provenance"];
        assert_eq!(p["credentials"], "embedded", "{n}: {p}");
        assert_eq!(p["validation"], "valid", "{n}: {p}");
        assert_eq!(p["ai"]["kind"], "generated", "{n}");
        assert_eq!(p["ai"]["declared_in"], "c2pa", "{n}");
        assert!(p["ai"]["digital_source_type"]
            .as_str()
            .unwrap()
            .ends_with("/trainedAlgorithmicMedia"));
        assert_eq!(p["signer"]["common_name"], "clearshot test signer", "{p}");
        assert_eq!(p["signer"]["issuer"], "clearshot tests", "{p}");
        assert_eq!(p["generator"], "clearshot-fixtures 1.0", "{p}");
        assert_eq!(p["actions"][0]["action"], "c2pa.created", "{p}");
        let x = prov_finding(f).expect("a provenance finding");
        assert_eq!(x["severity"], "review");
        assert_eq!(x["first_frame"], 0);
        assert!(
            x["reason"].as_str().unwrap().contains("AI-generated"),
            "{x}"
        );
    }

    // The edited composite: its own declaration, and its signed parent with its own.
    let p = &file(&r, "composite.jpg")["provenance"];
    assert_eq!(p["ai"]["kind"], "composite", "{p}");
    let parent = &p["ingredients"][0];
    assert_eq!(parent["title"], "camera.jpg", "{p}");
    assert_eq!(parent["relationship"], "parentOf", "{p}");
    assert_eq!(parent["credentials"], true, "{p}");
    assert_eq!(parent["generator"], "clearshot-fixtures 1.0", "{p}");

    // Signed, no AI: recorded, not flagged.
    let f = file(&r, "camera.jpg");
    assert_eq!(f["provenance"]["validation"], "valid");
    assert!(f["provenance"].get("ai").is_none(), "{}", f["provenance"]);
    assert!(prov_finding(f).is_none());

    // XMP only: the declaration, said to come from XMP.
    let f = file(&r, "xmp_ai.jpg");
    assert_eq!(f["provenance"]["credentials"], "none");
    assert_eq!(f["provenance"]["ai"]["declared_in"], "xmp");
    assert!(prov_finding(f).unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("unsigned XMP"));

    // Nothing: recorded, not flagged. MKV: not "none" but unsupported.
    let f = file(&r, "plain.jpg");
    assert_eq!(f["provenance"]["credentials"], "none");
    assert!(prov_finding(f).is_none());
    let f = file(&r, "ai.mkv");
    assert_eq!(f["provenance"]["credentials"], "unsupported");
    assert!(prov_finding(f).is_none());

    // The table has a line for each file that declares AI.
    assert!(
        so.contains(
            "provenance: C2PA valid; AI-generated (trainedAlgorithmicMedia, declared in C2PA)"
        ),
        "{so}"
    );
    assert!(
        so.contains(
            "provenance: no credentials; AI-generated (trainedAlgorithmicMedia, declared in XMP)"
        ),
        "{so}"
    );
}

#[test]
fn ai_can_escalate_and_an_approval_covers_it() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    let files = [c.join("ai.jpg")];
    let (code, so, se, r) = scan(dir.path(), &files, &["--ai", "escalate"]);
    assert_eq!(code, Some(1), "{so}{se}");
    let x = prov_finding(file(&r, "ai.jpg")).unwrap();
    assert_eq!(x["severity"], "escalate");
    let approvals = dir.path().join("approvals.json");
    std::fs::write(
        &approvals,
        r#"{"approvals": [{"who": "provenance", "file": "ai.jpg", "reference": "GEN-AI-7"}]}"#,
    )
    .unwrap();
    let a = approvals.to_str().unwrap();
    let (code, so, se, r) = scan(dir.path(), &files, &["--ai", "escalate", "--approvals", a]);
    assert_eq!(code, Some(0), "{so}{se}");
    let x = prov_finding(file(&r, "ai.jpg")).unwrap();
    assert_eq!(x["severity"], "info");
    assert_eq!(x["approval"]["reference"], "GEN-AI-7");
}

#[test]
fn trust_anchors_make_the_studio_signer_trusted() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    let ca = c.join("ca.pem");
    let (code, so, se, r) = scan(
        dir.path(),
        &[c.join("camera.jpg")],
        &["--trust-anchors", ca.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{so}{se}");
    let p = &file(&r, "camera.jpg")["provenance"];
    assert_eq!(p["validation"], "trusted", "{p}");
    assert!(r["settings"]["trust_anchors"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    // Not a certificate: refused before any work (exit 3, a setup error).
    let (code, _, se, _) = scan(
        dir.path(),
        &[c.join("camera.jpg")],
        &["--trust-anchors", c.join("broken.c2pa").to_str().unwrap()],
    );
    assert_eq!(code, Some(3), "{se}");
    assert!(se.contains("--trust-anchors"), "{se}");
}

#[test]
fn altered_files_sidecars_and_corrupt_stores() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = ["tampered.jpg", "sidecar.jpg", "broken.jpg"]
        .iter()
        .map(|n| c.join(n))
        .collect();
    let (code, so, se, r) = scan(
        dir.path(),
        &files,
        &[
            "--csv",
            &dir.path().join("r.csv").display().to_string(),
            "--edl",
            &dir.path().join("m.edl").display().to_string(),
            "--avid-markers",
            &dir.path().join("m.txt").display().to_string(),
        ],
    );
    assert_eq!(code, Some(0), "{so}{se}");
    // Changed after signing: invalid with the failure code, still showing the declaration.
    let f = file(&r, "tampered.jpg");
    let p = &f["provenance"];
    assert_eq!(p["validation"], "invalid", "{p}");
    let codes: Vec<&str> = p["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(codes.contains(&"assertion.dataHash.mismatch"), "{codes:?}");
    assert_eq!(p["ai"]["kind"], "generated");
    let x = prov_finding(f).unwrap();
    assert_eq!(x["severity"], "review");
    let why = x["reason"].as_str().unwrap();
    assert!(
        why.contains("fail validation") && why.contains("assertion.dataHash.mismatch"),
        "{why}"
    );
    // The store in a sidecar.
    let p = &file(&r, "sidecar.jpg")["provenance"];
    assert_eq!(p["credentials"], "sidecar", "{p}");
    assert_eq!(p["validation"], "valid", "{p}");
    assert_eq!(p["ai"]["kind"], "generated", "{p}");
    // A corrupt store: a warning naming the file, and the scan went on.
    let f = file(&r, "broken.jpg");
    assert_eq!(f["provenance"]["credentials"], "unreadable");
    let warnings = f["warnings"].to_string();
    assert!(
        warnings.contains("broken.jpg") && warnings.contains("credentials"),
        "{warnings}"
    );
    // File-level markers at the first frame, in the CSV and the EDL.
    let csv = std::fs::read_to_string(dir.path().join("r.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains("tampered.jpg,1,")
                && l.contains(",provenance,provenance,,,review,0,")),
        "{csv}"
    );
    let edl = std::fs::read_to_string(dir.path().join("m.tampered.jpg.edl")).unwrap();
    assert!(edl.contains("provenance (review)"), "{edl}");
    // Avid's six columns: a yellow marker at the first frame, one frame long.
    let avid = std::fs::read_to_string(dir.path().join("m.tampered.jpg.txt")).unwrap();
    let cols: Vec<&str> = avid
        .lines()
        .next()
        .unwrap_or_default()
        .split('\t')
        .collect();
    assert_eq!(cols.len(), 6, "{avid}");
    assert_eq!((cols[3], cols[5]), ("yellow", "1"), "{avid}");
    assert!(cols[4].contains("provenance"), "{avid}");
}

#[test]
fn verify_rereads_the_credentials() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    // A copy whose sidecar can be taken away without touching the file's bytes.
    let jpg = dir.path().join("sidecar.jpg");
    std::fs::copy(c.join("sidecar.jpg"), &jpg).unwrap();
    std::fs::copy(c.join("sidecar.c2pa"), dir.path().join("sidecar.c2pa")).unwrap();
    let report = dir.path().join("v.json");
    let (o, so, se) = run(clearshot(&gallery(dir.path()))
        .arg("scan")
        .arg(&jpg)
        .arg("--json")
        .arg(&report));
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    let verify = || {
        run(clearshot(&dir.path().join("g.sqlite"))
            .arg("verify")
            .arg(&report))
    };
    let (_, so, _) = verify();
    assert!(
        so.lines()
            .any(|l| l.starts_with("UNCHANGED") && l.contains("content credentials")),
        "{so}"
    );
    std::fs::remove_file(dir.path().join("sidecar.c2pa")).unwrap();
    let (o, so, _) = verify();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        so.lines().any(|l| l.starts_with("CHANGED")
            && l.contains("content credentials")
            && l.contains("now: no credentials")),
        "{so}"
    );
}

#[test]
fn the_html_report_has_a_provenance_card_with_the_chain() {
    let c = c2pa();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("html");
    let (code, so, se, _) = scan(
        dir.path(),
        &[c.join("composite.jpg")],
        &["--html", html.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{so}{se}");
    let page = std::fs::read_to_string(html.join("index.html")).unwrap();
    assert!(
        page.contains("class=\"card finding provenance review\""),
        "no card"
    );
    assert!(page.contains("compositeWithTrainedAlgorithmicMedia"));
    assert!(page.contains("camera.jpg") && page.contains("parentOf"));
    assert!(page.contains("own credentials"));
}
