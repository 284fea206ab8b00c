//! The `--otio` writer: an OpenTimelineIO timeline (JSON, as `opentimelineio` 0.18 writes
//! it) with the findings as markers.
//!
//! Layout: `Timeline.1` -> `Stack.1` -> one `Track.1` (kind Video) per scanned file, each
//! holding one `Clip.2` whose `ExternalReference.1` points at the file (`file://` URL;
//! a relative path is made absolute against the current directory). Times are in the
//! media's own space at its rate (`num/den` as a float, values in frames): the available
//! range starts at the file's start timecode and spans the whole file, as does the clip's
//! source range. Each finding is a `Marker.2` on the clip: name `<who> (<severity>)`,
//! colour RED / YELLOW / GREEN for escalate / review / info, marked range `first_frame`
//! to `last_frame` inclusive, comment the reason, and metadata `{"clearshot": finding}`
//! (the whole finding as in the JSON report, without the evidence images).

use super::{FileReport, Finding, ScanReport};
use crate::policy::Severity;
use serde_json::{json, Value};
use std::path::Path;

/// Why an OTIO document could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OtioError {
    /// A file's frame rate has a zero part, so no time in it can be written.
    #[error("{0}: invalid frame rate {1}/{2}")]
    Rate(String, u32, u32),
    /// A finding could not be encoded.
    #[error("could not encode a finding: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders the scan as an OpenTimelineIO JSON document (pretty-printed).
pub fn render(report: &ScanReport) -> Result<String, OtioError> {
    let tracks = report
        .files
        .iter()
        .map(track)
        .collect::<Result<Vec<_>, _>>()?;
    let timeline = json!({
        "OTIO_SCHEMA": "Timeline.1",
        "metadata": {
            "clearshot": {
                "tool": report.tool,
                "version": report.version,
                "started": report.started,
                "finished": report.finished,
                "gallery_state_sha256": report.gallery.state_sha256,
            }
        },
        "name": format!("{} {}", report.tool, report.started),
        "global_start_time": null,
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "metadata": {},
            "name": "tracks",
            "source_range": null,
            "effects": [],
            "markers": [],
            "enabled": true,
            "color": null,
            "children": tracks,
        },
    });
    let mut text = serde_json::to_string_pretty(&timeline)?;
    text.push('\n');
    Ok(text)
}

/// One file's track: a single clip covering the file, its findings as markers.
fn track(file: &FileReport) -> Result<Value, OtioError> {
    let rate = file.media.frame_rate;
    if rate.num == 0 || rate.den == 0 {
        return Err(OtioError::Rate(
            file.path.display().to_string(),
            rate.num,
            rate.den,
        ));
    }
    let fps = rate.fps();
    let start = file.media.start_timecode.frames;
    let whole = range(start, media_frames(file), fps);
    let name = file.display_name();
    let markers = file
        .findings
        .iter()
        .map(|x| marker(x, start, fps))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "OTIO_SCHEMA": "Track.1",
        "metadata": {},
        "name": name,
        "source_range": null,
        "effects": [],
        "markers": [],
        "enabled": true,
        "color": null,
        "children": [{
            "OTIO_SCHEMA": "Clip.2",
            "metadata": {
                "clearshot": {
                    "path": file.path,
                    "sha256": file.sha256,
                    "start_timecode": file.start_timecode,
                    "frame_rate": rate,
                    "frames_decoded": file.frames_decoded,
                    "warnings": file.warnings,
                }
            },
            "name": name,
            "source_range": whole,
            "effects": [],
            "markers": markers,
            "enabled": true,
            "color": null,
            "media_references": {
                "DEFAULT_MEDIA": {
                    "OTIO_SCHEMA": "ExternalReference.1",
                    "metadata": {},
                    "name": name,
                    "available_range": whole,
                    "available_image_bounds": null,
                    "target_url": file_url(&file.path),
                }
            },
            "active_media_reference_key": "DEFAULT_MEDIA",
        }],
        "kind": "Video",
    }))
}

/// Rewrites every float as its shortest single-precision decimal (the report's numbers are
/// f32): widened to f64 they print with 17 digits, which OpenTimelineIO does not write back
/// digit for digit, so a read/write round trip would no longer be equivalent.
fn short_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                let short: f64 = format!("{}", f as f32).parse().unwrap_or(f);
                if let Some(m) = serde_json::Number::from_f64(short) {
                    *n = m;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(short_floats),
        Value::Object(o) => o.values_mut().for_each(short_floats),
        _ => {}
    }
}

/// One finding as a marker in the clip's media time.
fn marker(x: &Finding, start: u64, fps: f64) -> Result<Value, OtioError> {
    // Without the evidence images (not even read from the journal).
    let mut finding = serde_json::to_value(Finding {
        evidence: None,
        ..x.clone()
    })?;
    if let Some(map) = finding.as_object_mut() {
        map.remove("evidence");
    }
    short_floats(&mut finding);
    let frames = x.last_frame.saturating_sub(x.first_frame).saturating_add(1);
    Ok(json!({
        "OTIO_SCHEMA": "Marker.2",
        "metadata": { "clearshot": finding },
        "name": format!("{} ({})", x.label(), x.severity),
        "color": colour(x.severity),
        "marked_range": range(start.saturating_add(x.first_frame), frames, fps),
        "comment": x.reason,
    }))
}

/// OTIO's marker colour for a severity.
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Escalate => "RED",
        Severity::Review => "YELLOW",
        Severity::Info => "GREEN",
    }
}

/// The file's length in frames: the largest of what the container, the decoder and the
/// findings say, so every marker lies inside the available range.
fn media_frames(file: &FileReport) -> u64 {
    let from_duration = match (file.media.frame_count, file.media.duration_seconds) {
        (None, Some(s)) if s.is_finite() && s > 0.0 => {
            (s * file.media.frame_rate.fps()).round() as u64
        }
        _ => 0,
    };
    let seen = file
        .findings
        .iter()
        .map(|x| x.last_frame.max(x.first_frame))
        .chain(file.shots.iter().map(|s| s.last_frame))
        .max()
        .map_or(0, |f| f.saturating_add(1));
    [
        file.media.frame_count.unwrap_or(0),
        file.frames_decoded,
        from_duration,
        seen,
        1,
    ]
    .into_iter()
    .max()
    .unwrap_or(1)
}

/// A `TimeRange.1` of `frames` frames from frame `start`.
fn range(start: u64, frames: u64, fps: f64) -> Value {
    json!({
        "OTIO_SCHEMA": "TimeRange.1",
        "duration": time(frames, fps),
        "start_time": time(start, fps),
    })
}

/// A `RationalTime.1`: `value` frames at `fps`.
fn time(value: u64, fps: f64) -> Value {
    json!({ "OTIO_SCHEMA": "RationalTime.1", "rate": fps, "value": value as f64 })
}

/// A `file://` URL for a path, percent-encoded (RFC 8089); a relative path is made
/// absolute against the current directory first, and stays relative if that fails.
pub fn file_url(path: &Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    };
    let text = abs.to_string_lossy();
    #[cfg(windows)]
    let text = text.replace('\\', "/");
    let mut enc = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    if enc.starts_with('/') {
        format!("file://{enc}")
    } else if abs.is_absolute() {
        // A drive path such as C:/media/a.mov.
        format!("file:///{enc}")
    } else {
        enc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::fixture;

    fn doc() -> Value {
        let text = render(&fixture::report()).expect("renders");
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn one_track_and_clip_per_file_with_schema_names() {
        let d = doc();
        assert_eq!(d["OTIO_SCHEMA"], "Timeline.1");
        assert_eq!(d["tracks"]["OTIO_SCHEMA"], "Stack.1");
        let tracks = d["tracks"]["children"].as_array().expect("tracks");
        assert_eq!(tracks.len(), 3);
        for t in tracks {
            assert_eq!(t["OTIO_SCHEMA"], "Track.1");
            assert_eq!(t["kind"], "Video");
            let clips = t["children"].as_array().expect("clips");
            assert_eq!(clips.len(), 1);
            assert_eq!(clips[0]["OTIO_SCHEMA"], "Clip.2");
            assert_eq!(
                clips[0]["media_references"]["DEFAULT_MEDIA"]["OTIO_SCHEMA"],
                "ExternalReference.1"
            );
        }
        let counts: Vec<usize> = tracks
            .iter()
            .map(|t| t["children"][0]["markers"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(counts, [2, 1, 0]);
    }

    #[test]
    fn drop_frame_clip_times_are_frames_at_the_ntsc_rate() {
        let d = doc();
        let clip = &d["tracks"]["children"][0]["children"][0];
        let media = &clip["media_references"]["DEFAULT_MEDIA"];
        assert_eq!(
            media["target_url"],
            "file:///media/in/interview%20%22A%26B%22%2C%20take%201.mov"
        );
        let avail = &media["available_range"];
        assert_eq!(avail["start_time"]["value"], 107_892.0);
        assert_eq!(avail["start_time"]["rate"], 30000.0 / 1001.0);
        assert_eq!(avail["duration"]["value"], 18_100.0);
        assert_eq!(clip["source_range"], *avail);
        let m = &clip["markers"][0];
        assert_eq!(m["OTIO_SCHEMA"], "Marker.2");
        assert_eq!(m["name"], "possibly Zoë \"Zed\" O'Hara, Jr. (review)");
        assert_eq!(
            m["metadata"]["clearshot"]["identity"]["decision"],
            "possible"
        );
        assert_eq!(m["color"], "YELLOW");
        assert_eq!(m["comment"], "no consent record,\nreview | before delivery");
        assert_eq!(m["marked_range"]["start_time"]["value"], 107_892.0 + 1700.0);
        assert_eq!(m["marked_range"]["duration"]["value"], 131.0);
        assert_eq!(m["metadata"]["clearshot"]["tc_in"], "01:00:56;20");
        assert_eq!(clip["markers"][1]["color"], "GREEN");
    }

    #[test]
    fn markers_carry_the_finding_without_evidence() {
        let d = doc();
        let clip = &d["tracks"]["children"][1]["children"][0];
        let m = &clip["markers"][0];
        assert_eq!(m["color"], "RED");
        assert_eq!(m["name"], "Barack Obama (escalate)");
        assert_eq!(m["marked_range"]["start_time"]["value"], 900_000.0);
        assert_eq!(m["marked_range"]["start_time"]["rate"], 25.0);
        assert_eq!(m["marked_range"]["duration"]["value"], 80.0);
        let meta = m["metadata"]["clearshot"].as_object().expect("finding");
        assert!(!meta.contains_key("evidence"));
        assert_eq!(meta["best_frame"], 63);
        assert_eq!(meta["consent"]["consent"], "denied");
    }

    #[test]
    fn unknown_frame_count_falls_back_to_duration() {
        let d = doc();
        let clip = &d["tracks"]["children"][2]["children"][0];
        // 2.0 s at 23.976.
        assert_eq!(clip["source_range"]["duration"]["value"], 48.0);
        assert_eq!(clip["source_range"]["start_time"]["rate"], 24000.0 / 1001.0);
    }

    #[test]
    fn zero_rate_is_an_error_not_a_panic() {
        let mut r = fixture::report();
        r.files[1].media.frame_rate.den = 0;
        assert!(matches!(render(&r), Err(OtioError::Rate(_, 25, 0))));
    }

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/a b/ü#1.mov")),
            "file:///a%20b/%C3%BC%231.mov"
        );
        assert!(file_url(Path::new("rel.mov")).starts_with("file:///"));
    }
}
