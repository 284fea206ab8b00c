//! The binary on every format fixture: H.264, HEVC, ProRes with tmcd, MPEG-2 in MXF, 29.97
//! drop-frame, stills. Start timecode and shot boundaries must match what the fixtures script
//! built in (expected.json).

mod common;
use common::*;

#[test]
fn every_format_scans_with_its_start_timecode_and_shots() {
    let dir = tempfile::tempdir().unwrap();
    let g = demo_gallery(dir.path());
    let f = fixtures().join("formats");
    let expected = json(&f.join("expected.json"));
    let names = [
        "h264_25.mp4",
        "hevc.mp4",
        "prores_tc.mov",
        "mpeg2.mxf",
        "ntsc_df.mp4",
        "still.png",
        "still.jpg",
        "still.tiff",
        "webp_as.jpg",
    ];
    let report = dir.path().join("r.json");
    let mut cmd = clearshot(&g);
    cmd.arg("scan").arg("--json").arg(&report);
    for n in names {
        cmd.arg(f.join(n));
    }
    let (o, so, se) = run(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "{so}\n{se}");
    let r = json(&report);
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), names.len());
    for (file, name) in files.iter().zip(names) {
        let want = &expected[name];
        assert_eq!(file["media"]["width"], want["width"], "{name}");
        if let Some(tc) = want.get("start_timecode") {
            assert_eq!(&file["start_timecode"], tc, "{name}");
            let shots: Vec<(u64, u64)> = file["shots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["first_frame"].as_u64().unwrap(),
                        s["last_frame"].as_u64().unwrap(),
                    )
                })
                .collect();
            let want_shots: Vec<(u64, u64)> = want["shots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s[0].as_u64().unwrap(), s[1].as_u64().unwrap()))
                .collect();
            assert_eq!(shots, want_shots, "{name}");
        } else {
            assert_eq!(file["media"]["is_still"], true, "{name}");
            assert_eq!(file["shots"].as_array().unwrap().len(), 1, "{name}");
        }
    }
    // Drop-frame timecode is written with ';'; 01:00 is a tenth minute, so no label is skipped.
    let df = &files[4];
    assert_eq!(df["start_timecode"], "00:59:59;28");
    assert_eq!(df["shots"][0]["tc_out"], "01:00:02;27");
}
