use super::*;

/// The rigid head the estimator assumes (cm; x to the image's right, y down, z towards the
/// camera; origin between the tragions): eyes, nose tip, mouth, tragions in BlazeFace order.
const HEAD: [[f32; 3]; 6] = [
    [-3.2, 0.0, 8.0],
    [3.2, 0.0, 8.0],
    [0.0, 3.0, 10.0],
    [0.0, 6.0, 9.0],
    [-7.3, 1.0, 0.0],
    [7.3, 1.0, 0.0],
];

/// Keypoints of HEAD turned by `yaw` and tilted by `roll` (degrees), seen from the front at
/// 20 px per cm, placed at (300, 200).
fn project(yaw: f32, roll: f32) -> Vec<[f32; 2]> {
    let (sy, cy) = yaw.to_radians().sin_cos();
    let (sr, cr) = roll.to_radians().sin_cos();
    HEAD.iter()
        .map(|&[x, y, z]| {
            let x = x * cy + z * sy;
            [
                300.0 + 20.0 * (x * cr - y * sr),
                200.0 + 20.0 * (x * sr + y * cr),
            ]
        })
        .collect()
}

#[test]
fn the_head_model_gives_back_its_yaw_and_roll() {
    for yaw in (-80..=80).step_by(5) {
        for roll in [-30.0, 0.0, 12.0] {
            let p = Pose::from_keypoints(&project(yaw as f32, roll)).expect("a pose");
            assert!(
                (p.yaw - yaw as f32).abs() < 0.5,
                "yaw {yaw} roll {roll}: {p:?}"
            );
            assert!((p.roll - roll).abs() < 0.5, "yaw {yaw} roll {roll}: {p:?}");
        }
    }
}

#[test]
fn classes_change_at_the_documented_cut_offs() {
    let class = |yaw: f32| Pose::from_keypoints(&project(yaw, 0.0)).map(|p| p.class());
    assert_eq!(class(0.0), Some(PoseClass::Frontal));
    assert_eq!(class(19.0), Some(PoseClass::Frontal));
    assert_eq!(class(-21.0), Some(PoseClass::ThreeQuarter));
    assert_eq!(class(54.0), Some(PoseClass::ThreeQuarter));
    assert_eq!(class(-56.0), Some(PoseClass::Profile));
    assert_eq!(
        PoseClass::of_yaw(THREE_QUARTER_FROM - 0.01),
        PoseClass::Frontal
    );
    assert_eq!(
        PoseClass::of_yaw(-THREE_QUARTER_FROM),
        PoseClass::ThreeQuarter
    );
    assert_eq!(
        PoseClass::of_yaw(PROFILE_FROM - 0.01),
        PoseClass::ThreeQuarter
    );
    assert_eq!(PoseClass::of_yaw(-PROFILE_FROM), PoseClass::Profile);
    assert_eq!(PoseBin::of_yaw(-30.0), PoseBin::ThreeQuarterLeft);
    assert_eq!(PoseBin::of_yaw(30.0), PoseBin::ThreeQuarterRight);
    assert_eq!(PoseBin::of_yaw(-60.0), PoseBin::ProfileLeft);
    assert_eq!(PoseBin::of_yaw(89.0), PoseBin::ProfileRight);
    assert_eq!(PoseBin::of_yaw(-5.0), PoseBin::Frontal);
    for c in PoseClass::ALL {
        assert_eq!(PoseClass::parse(c.as_str()), Some(c));
    }
    assert_eq!(PoseClass::parse("sideways"), None);
}

#[test]
fn a_mirrored_face_turns_the_other_way() {
    for yaw in [10.0, 35.0, 70.0] {
        let kp = project(yaw, 5.0);
        let mirrored: Vec<[f32; 2]> = [1, 0, 2, 3, 5, 4]
            .iter()
            .map(|&i| [1000.0 - kp[i][0], kp[i][1]])
            .collect();
        let (a, b) = (
            Pose::from_keypoints(&kp).expect("pose"),
            Pose::from_keypoints(&mirrored).expect("pose"),
        );
        assert!((a.yaw + b.yaw).abs() < 0.5, "{a:?} {b:?}");
        assert_eq!(a.class(), b.class());
    }
}

#[test]
fn a_hidden_far_eye_still_reads_as_a_profile() {
    // BlazeFace puts the far eye next to the near one on a strict profile.
    let mut kp = project(85.0, 0.0);
    kp[0] = [kp[1][0] - 1.0, kp[1][1]];
    let p = Pose::from_keypoints(&kp).expect("pose from the ears");
    assert_eq!(p.bin(), PoseBin::ProfileRight, "{p:?}");
}

#[test]
fn unusable_keypoints_give_no_pose() {
    assert_eq!(Pose::from_keypoints(&project(0.0, 0.0)[..5]), None);
    let mut nan = project(0.0, 0.0);
    nan[2][0] = f32::NAN;
    assert_eq!(Pose::from_keypoints(&nan), None);
    assert_eq!(Pose::from_keypoints(&[[5.0, 5.0]; 6]), None);
}

/// The detector on real photos and on their mirror images: the measured yaw flips sign and
/// the class stays. The photos (face_recognition's Obama and Biden portraits, NASA's
/// astronaut) come from scripts/make_enroll_clips.sh and scripts/make_demo.sh.
#[test]
fn real_photos_and_their_mirrors() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let st = std::process::Command::new("bash")
        .arg(root.join("scripts/make_enroll_clips.sh"))
        .status()
        .expect("run make_enroll_clips.sh");
    assert!(st.success(), "make_enroll_clips.sh failed");
    let photos = root.join("fixtures/generated/enroll/photos");
    let mut scanner = crate::enroll::single_worker_scanner(&root.join("models"), None)
        .expect("models and ONNX Runtime (run scripts/setup.sh or set ORT_DYLIB_PATH)");
    // (photo, expected class): obama2 and obama3 are turned about 25 degrees.
    let cases = [
        (photos.join("obama.jpg"), PoseClass::Frontal),
        (photos.join("biden.jpg"), PoseClass::Frontal),
        (photos.join("obama2.jpg"), PoseClass::ThreeQuarter),
        (photos.join("obama3.jpg"), PoseClass::ThreeQuarter),
        (
            root.join("third_party/cache/photos/astronaut.png"),
            PoseClass::Frontal,
        ),
    ];
    let mut yaw = |img: &image::RgbImage| {
        let obs = scanner.analyse_image(img).expect("detector runs");
        assert_eq!(obs.len(), 1, "one face");
        Pose::from_keypoints(&obs[0].face.keypoints).expect("a pose")
    };
    for (path, class) in cases {
        let img = crate::media::load_still(&path).expect("photo");
        let a = yaw(&img);
        let b = yaw(&image::imageops::flip_horizontal(&img));
        let name = path.display();
        assert_eq!(a.class(), class, "{name}: {a:?}");
        assert_eq!(b.class(), class, "{name} mirrored: {b:?}");
        // The detector sees the mirror afresh: a few degrees of difference are noise.
        assert!(
            (a.yaw + b.yaw).abs() < 12.0,
            "{name}: {a:?} vs mirrored {b:?}"
        );
        if class != PoseClass::Frontal {
            assert!(a.yaw.signum() != b.yaw.signum(), "{name}: {a:?} {b:?}");
        }
    }
}
