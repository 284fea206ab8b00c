use super::*;
use crate::face::embed::Embedding;
use crate::face::pose::Pose;

fn enroll(v: f32) -> Enrollment {
    Enrollment {
        embedding: Embedding(vec![v; 4]),
        photo_name: "p.jpg".into(),
        photo_sha256: "00".into(),
        chip_jpeg: Some(vec![1, 2, 3]),
        pose: None,
    }
}

fn rec(c: Consent) -> ConsentRecord {
    ConsentRecord {
        consent: c,
        scope: None,
        expires: None,
    }
}

#[test]
fn add_list_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/g.sqlite");
    let mut g = Gallery::open_or_create(&p).unwrap();
    g.add(
        "Ann",
        &rec(Consent::Denied),
        "m",
        "sha",
        &[enroll(1.0)],
        false,
    )
    .unwrap();
    // Re-adding without --update changes nothing.
    assert!(matches!(
        g.add(
            "Ann",
            &rec(Consent::Granted),
            "m",
            "sha",
            &[enroll(2.0)],
            false
        ),
        Err(GalleryError::Exists(_))
    ));
    let t = g.talent(Some("sha")).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].consent.consent, Consent::Denied);
    assert_eq!(t[0].embeddings, vec![Embedding(vec![1.0; 4])]);
    assert_eq!(t[0].reference_jpeg.as_deref(), Some("AQID"));
    let d1 = g.state_digest().unwrap();
    g.add(
        "Ann",
        &rec(Consent::Granted),
        "m",
        "sha",
        &[enroll(2.0)],
        true,
    )
    .unwrap();
    let t = g.talent(Some("sha")).unwrap();
    assert_eq!(t[0].embeddings.len(), 2);
    assert_eq!(t[0].consent.consent, Consent::Granted);
    assert_ne!(d1, g.state_digest().unwrap());
    // Another embedder's vectors are not mixed in.
    assert!(g.talent(Some("other")).unwrap()[0].embeddings.is_empty());
    g.remove("Ann").unwrap();
    assert!(g.talent(None).unwrap().is_empty());
    assert!(matches!(g.remove("Ann"), Err(GalleryError::UnknownName(_))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "gallery must be private");
    }
}

#[test]
fn a_foreign_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.sqlite");
    std::fs::write(&p, b"my notes, not a database").unwrap();
    assert!(Gallery::open(&p).is_err());
    assert_eq!(std::fs::read(&p).unwrap(), b"my notes, not a database");
    let other = dir.path().join("other.sqlite");
    {
        let c = Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE x (a);").unwrap();
    }
    assert!(matches!(
        Gallery::open(&other),
        Err(GalleryError::NotAGallery { .. })
    ));
    assert!(matches!(
        Gallery::open(&dir.path().join("none.sqlite")),
        Err(GalleryError::Missing { .. })
    ));
}

#[test]
fn references_round_trip_and_change_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gallery::open_or_create(&dir.path().join("g.sqlite")).unwrap();
    let before = g.state_digest().unwrap();
    let rec = RefRecord {
        kind: "logo".into(),
        owner: "Acme".into(),
        status: RefStatus::ThirdParty,
        licence_ref: None,
    };
    let img = RefEnrollment {
        format: 1,
        data: vec![9, 9],
        image_name: "acme.png".into(),
        image_sha256: "00".into(),
        thumbnail_jpeg: Some(vec![1, 2, 3]),
    };
    g.add_reference("Acme logo", &rec, std::slice::from_ref(&img), false)
        .unwrap();
    assert!(matches!(
        g.add_reference("Acme logo", &rec, &[img], false),
        Err(GalleryError::Exists(_))
    ));
    let bad = RefRecord {
        kind: "tune".into(),
        ..rec.clone()
    };
    assert!(g.add_reference("x", &bad, &[], false).is_err());
    let refs = g.references(Some(1)).unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].record, rec);
    assert_eq!(refs[0].data, vec![vec![9, 9]]);
    assert_eq!(refs[0].thumbnail_jpeg.as_deref(), Some("AQID"));
    assert!(g.references(Some(2)).unwrap()[0].data.is_empty());
    assert_ne!(before, g.state_digest().unwrap());
    g.remove_reference("Acme logo").unwrap();
    assert!(g.references(None).unwrap().is_empty());
    assert_eq!(
        "third-party".parse::<RefStatus>().unwrap(),
        RefStatus::ThirdParty
    );
}

#[test]
fn consent_validity_and_expiry() {
    let today = parse_date("2026-11-21").unwrap();
    let mut r = rec(Consent::Granted);
    assert!(r.valid_on(today));
    r.expires = Some("2026-11-21".into());
    assert!(r.valid_on(today));
    r.expires = Some("2026-11-20".into());
    assert!(!r.valid_on(today));
    assert!(r.expired_on(today));
    assert!(!rec(Consent::Unknown).valid_on(today));
    assert!(parse_date("21/11/2026").is_err());
}

/// A gallery as clearshot wrote it before poses were kept: one person, one embedding.
fn old_gallery(p: &Path) {
    let c = Connection::open(p).unwrap();
    c.execute_batch(schema::SCHEMA).unwrap();
    c.execute_batch(schema::REF_SCHEMA).unwrap();
    c.execute_batch(
        "INSERT INTO meta (key, value) VALUES ('format', 'clearshot-gallery-1');
         INSERT INTO talent (name, consent, added) VALUES ('Old', 'granted', 'then');
         INSERT INTO talent_embedding (talent_id, model, model_sha256, dim, vector, photo_name, photo_sha256, added)
           VALUES (1, 'm', 'sha', 1, x'0000803f', 'old.jpg', '00', 'then');",
    )
    .unwrap();
}

#[test]
fn older_galleries_gain_poses_in_place_and_still_open_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("old.sqlite");
    old_gallery(&p);
    // Scans open it read-only as it is: nothing written, faces of unknown pose.
    let before = std::fs::read(&p).unwrap();
    let ro = Gallery::open_read_only(&p).unwrap();
    let digest = ro.state_digest().unwrap();
    let t = ro.talent_poses().unwrap();
    assert_eq!(t[0].poses.unknown, 1);
    assert_eq!(ro.talent(Some("sha")).unwrap()[0].embeddings.len(), 1);
    drop(ro);
    assert_eq!(std::fs::read(&p).unwrap(), before, "a read-only open wrote");
    // A read-write open migrates; the old row stays unknown, the digest (what reports and
    // journals were made against) does not change.
    let mut g = Gallery::open(&p).unwrap();
    assert_eq!(g.state_digest().unwrap(), digest);
    let mut e = enroll(2.0);
    e.pose = Some(Pose {
        yaw: -31.0,
        roll: 2.0,
    });
    g.add("Old", &rec(Consent::Granted), "m", "sha", &[e], true)
        .unwrap();
    let t = g.talent_poses().unwrap();
    assert_eq!(
        t[0].poses,
        PoseCounts {
            frontal: 0,
            three_quarter: 1,
            profile: 0,
            unknown: 1
        }
    );
    assert_eq!(
        t[0].poses.to_string(),
        "frontal 0, three-quarter 1, profile 0, unknown 1"
    );
    let yaw: f64 = g
        .conn
        .query_row(
            "SELECT yaw FROM talent_embedding WHERE pose IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(yaw, -31.0);
    drop(g);
    // Opening again finds the columns and changes nothing more.
    let g = Gallery::open_read_only(&p).unwrap();
    assert_eq!(g.talent_poses().unwrap()[0].poses.three_quarter, 1);
    // A stored pose outside the classes is refused by the column's check.
    assert!(Gallery::open(&p)
        .unwrap()
        .conn
        .execute("UPDATE talent_embedding SET pose = 'sideways'", [])
        .is_err());
}
