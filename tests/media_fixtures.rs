//! The media stage through its public API only, as the pipeline uses it, on the generated
//! fixtures (scripts/make_fixtures.sh, run here if needed).

use clearshot::media::{
    self, FrameSink, MediaError, MediaInfo, SampledFrame, SamplingOptions, StreamSummary,
};
use clearshot::shots::Shot;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn fixture(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = std::process::Command::new("bash")
            .arg(root.join("scripts/make_fixtures.sh"))
            .status()
            .expect("bash runs scripts/make_fixtures.sh");
        assert!(
            status.success(),
            "scripts/make_fixtures.sh failed (needs ffmpeg)"
        );
        root.join("fixtures/generated/formats")
    })
    .join(name)
}

/// Keeps what the pipeline would keep.
#[derive(Default)]
struct Frames {
    got: Vec<(u64, usize, u32, u32)>,
    last_progress: u64,
}

impl FrameSink for Frames {
    fn sample(&mut self, frame: SampledFrame) -> ControlFlow<()> {
        let (w, h) = frame.image.dimensions();
        self.got.push((frame.index, frame.shot, w, h));
        ControlFlow::Continue(())
    }

    fn progress(&mut self, decoded: u64) {
        assert!(decoded >= self.last_progress);
        self.last_progress = decoded;
    }
}

#[test]
fn probe_then_stream_a_clip_with_cuts() {
    media::init();
    let path = fixture("h264_25.mp4");
    let info: MediaInfo = media::probe(&path).expect("probe");
    assert_eq!(
        (info.width, info.height, info.frame_count),
        (320, 180, Some(175))
    );

    let mut frames = Frames::default();
    let summary: StreamSummary =
        media::stream(&path, &SamplingOptions::default(), &mut frames).expect("stream");
    let shots: Vec<(u64, u64)> = summary
        .shots
        .iter()
        .map(|s: &Shot| (s.first, s.last))
        .collect();
    assert_eq!(shots, vec![(0, 49), (50, 124), (125, 174)]);
    assert_eq!(summary.frames_decoded, 175);
    assert_eq!(frames.last_progress, 175);
    assert_eq!(summary.frames_sampled as usize, frames.got.len());
    assert!(frames.got.iter().all(|&(_, _, w, h)| (w, h) == (320, 180)));
    // The summary serialises for the report.
    let json = serde_json::to_string(&summary).expect("json");
    assert!(json.contains("\"start_timecode\""));
}

#[test]
fn start_timecode_and_errors_are_reported() {
    let info = media::probe(&fixture("prores_tc.mov")).expect("probe");
    assert_eq!(info.start_timecode.to_string(), "01:00:00:00");
    let err: MediaError = media::probe(&fixture("truncated.mp4")).unwrap_err();
    assert!(err
        .to_string()
        .contains("truncated.mp4: truncated: moov atom not found"));
    let err = media::load_still(&fixture("empty.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::Empty { .. }));
}
