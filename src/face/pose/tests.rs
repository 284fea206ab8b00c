use super::*;

#[test]
fn probe_real() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut sc = crate::enroll::single_worker_scanner(&root.join("models"), None).unwrap();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for d in [
        "third_party/cache/photos",
        "third_party/cache/face_recognition_photos",
    ] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir("/work/shared/eval/faces/deepface").unwrap() {
        files.push(e.unwrap().path());
    }
    files.sort();
    for f in files {
        let Ok(img) = crate::media::load_still(&f) else {
            continue;
        };
        for (m, im) in [
            ("", img.clone()),
            ("M", image::imageops::flip_horizontal(&img)),
        ] {
            let obs = sc.analyse_image(&im).unwrap();
            for o in obs {
                let kp = &o.face.keypoints;
                let p = Pose::from_keypoints(kp).unwrap();
                println!(
                    "POSE {}{m} size {:.0} yaw {:.1} roll {:.1} {:?}",
                    f.file_name().unwrap().to_string_lossy(),
                    o.face.size(),
                    p.yaw,
                    p.roll,
                    p.class()
                );
            }
        }
    }
}
