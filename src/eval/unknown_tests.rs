//! Scoring of a hand-made set: a person seen in four shots of one clip, one of them far from
//! the other three in embedding space.

use super::*;
use crate::face::embed::Embedding;
use crate::unknown::UnknownTrack;

/// A 25 fps clip `c.mov` of four 100-frame shots, person `p` (120 px) in each.
fn labels() -> Labels {
    let face = serde_json::json!({"identity": "p", "recurring": true, "centre": [65.0, 65.0],
        "face_px": 120});
    let shots: Vec<_> = (0..4)
        .map(|i| {
            serde_json::json!({"first_frame": i * 100, "last_frame": i * 100 + 99,
            "faces": [face.clone()]})
        })
        .collect();
    serde_json::from_value(serde_json::json!({"split": "test",
        "clips": [{"path": "c.mov", "shots": shots}]}))
    .expect("labels")
}

/// The clip's report with unknown tracks (shot, largest face px, embedding), each a
/// face of `p` by its box.
fn report(tracks: &[(usize, u32, [f32; 2])]) -> FileReport {
    let media = serde_json::json!({
        "path": "c.mov", "container": "mov", "video_codec": "h264",
        "width": 1920, "height": 1080, "frame_rate": {"num": 25, "den": 1},
        "frame_count": 400, "duration_seconds": 16.0,
        "start_timecode": {"frames": 0, "rate": {"num": 25, "den": 1}, "drop_frame": false},
        "timecode_source": null, "is_still": false
    });
    let mut f: FileReport = serde_json::from_value(serde_json::json!({
        "path": "c.mov", "media": media, "start_timecode": "00:00:00:00",
        "frames_decoded": 400, "frames_sampled": 32, "shots": [], "findings": [],
        "warnings": []
    }))
    .expect("file report");
    f.unknown_tracks = tracks
        .iter()
        .map(|&(shot, px, e)| {
            let first = shot as u64 * 100 + 10;
            UnknownTrack {
                shot,
                first_frame: first,
                last_frame: first + 40,
                frames_seen: 3,
                largest_face_px: px,
                best_frame: first,
                best_box: [10.0, 10.0, 110.0, 110.0],
                crop_jpeg: None,
                embeddings: vec![Embedding(e.to_vec()), Embedding(vec![e[0] + 0.05, e[1]])],
                dim: shot == 3,
            }
        })
        .collect();
    f
}

#[test]
fn a_miss_says_where_its_tracks_went_and_how_far_the_tracks_of_its_person_are() {
    // Shots 0-2 group into one person; shot 3 is far from them, and nearest a track of shot
    // 2 too small to be grouped (so in no person, though its shot's appearance is).
    let files = vec![report(&[
        (0, 120, [0.0, 0.0]),
        (1, 120, [0.02, 0.0]),
        (2, 120, [0.01, 0.01]),
        (2, 30, [1.0, 0.0]),
        (3, 120, [1.1, 0.0]),
    ])];
    let r = score(
        &labels(),
        &files,
        &UnknownSettings::default(),
        Metric::Euclidean,
        60,
    );
    assert_eq!((r.people, r.pure, r.expected, r.complete), (1, 1, 4, 3));
    let [m] = r.misses.as_slice() else {
        panic!("{:?}", r.misses);
    };
    assert_eq!(
        (m.shot, m.tracks, m.dim_tracks, m.small_tracks),
        (3, 1, 1, 0)
    );
    assert!(m.in_people.is_empty(), "{m:?}");
    // The nearest track of `p` is the small one (0.1 away); the nearest of its person ~1.1.
    let same = m.nearest_same.expect("a track of p elsewhere");
    let main = m.nearest_main.expect("a track in p's person");
    assert!((same - 0.1).abs() < 0.03, "{same}");
    assert!((main - 1.09).abs() < 0.05, "{main}");
    assert_eq!(m.nearest_other, None);
    let line = m.to_string();
    assert!(line.contains("1 dim, in no reported person"), "{line}");
}
