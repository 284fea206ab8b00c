//! The settings panel of the HTML report: what a reader must know to weigh the findings
//! (how often frames were looked at, when a face counts as a registered person, the review
//! band, how hard references were looked for, the date consent was judged on), in words.
//! The full settings, the reference matcher's included, stay in the JSON report.
//!
//! A report is user input (any version, hand-edited): a setting that is missing or of
//! another type is left out, never guessed.

use super::Esc;
use super::Page;
use serde_json::Value;
use std::fmt::Write;

/// Appends the settings section; `references`: how many the scan's gallery held.
pub(super) fn section(out: &mut Page, settings: &Value, references: usize) {
    out.push_str("<section>\n<h2>Settings</h2>\n");
    let rows = rows(settings, references);
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">None recorded.</p>\n");
    } else {
        out.push_str("<dl class=\"settings\">\n");
        for (term, text) in &rows {
            w!(
                out,
                "<div><dt>{}</dt><dd>{}</dd></div>\n",
                Esc(term),
                Esc(text)
            );
        }
        out.push_str("</dl>\n");
    }
    out.push_str(
        "<p class=\"muted settings-note\">Every setting, the reference matcher's included, is \
         recorded in the JSON report (<code>--json</code>).</p>\n</section>\n",
    );
}

/// The panel's rows: a term and a sentence each.
fn rows(s: &Value, registered: usize) -> Vec<(&'static str, String)> {
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let flag = |k: &str| s.get(k).and_then(Value::as_bool);
    let mut rows = Vec::new();
    if let Some(r) = sampling(s) {
        rows.push(("Frames examined", r));
    }
    if let Some(t) = num("threshold") {
        rows.push((
            "Face match",
            format!(
                "A face counts as a registered person when its distance to their reference \
                 faces is {} or less (0 is identical; the smaller, the closer).",
                fmt(t)
            ),
        ));
        if let Some(r) = num("review_limit") {
            rows.push(("Review band", review_band(t, r)));
        }
    }
    if let Some(r) = hard_faces(s) {
        rows.push(("Small and turned faces", r));
    }
    match flag("references") {
        Some(false) => rows.push((
            "References",
            if registered == 0 {
                "None registered in the gallery: this scan looked for faces only.".into()
            } else {
                format!(
                    "Not matched (--no-refs): this scan looked for faces only, though the \
                     gallery holds {registered} reference{}.",
                    if registered == 1 { "" } else { "s" }
                )
            },
        )),
        Some(true) => rows.push(("References", references(s))),
        None => {}
    }
    if let Some(u) = s.get("unknown").and_then(unknown_people) {
        rows.push(("Unknown people", u));
    }
    if let Some(d) = s.get("date").and_then(Value::as_str) {
        rows.push((
            "Consent judged on",
            format!("{d} (an expiry date before it counts as expired)."),
        ));
    }
    match s.get("approvals") {
        Some(Value::String(p)) => rows.push((
            "Approvals",
            format!("Written approvals read from {p}; a finding they cover is info, citing it."),
        )),
        Some(Value::Null) => rows.push(("Approvals", "No approvals file was given.".into())),
        _ => {}
    }
    rows
}

/// How the faces nobody registered were grouped (`scan --unknown`).
fn unknown_people(u: &Value) -> Option<String> {
    let link = u.get("cluster")?.get("link")?.as_f64()?;
    let shots = u.get("min_shots")?.as_u64()?;
    let seconds = u.get("min_seconds")?.as_f64()?;
    let px = u.get("min_face_px")?.as_u64()?;
    Some(format!(
        "Faces that match nobody were grouped into people across the batch (--unknown): \
         tracks whose faces are {} apart or less (mean distance) are one person; a person seen \
         in at least {shots} shots or for {} s in all is reported for review; faces under \
         {px} px were not grouped.",
        fmt(link),
        fmt(seconds)
    ))
}

/// How often frames were looked at.
fn sampling(s: &Value) -> Option<String> {
    if s.get("every_frame").and_then(Value::as_bool) == Some(true) {
        let range = s.get("range").and_then(Value::as_array).and_then(|r| {
            Some(format!(
                " from frame {} to frame {}",
                r.first()?.as_u64()?,
                r.get(1)?.as_u64()?
            ))
        });
        return Some(format!(
            "Every frame{} (a spot check).",
            range.unwrap_or_default()
        ));
    }
    let rate = s.get("sample_rate").and_then(Value::as_f64)?;
    let per_shot = s
        .get("min_per_shot")
        .and_then(Value::as_u64)
        .map_or_else(String::new, |n| format!(", and at least {n} in every shot"));
    Some(format!(
        "At least {} frame{} a second{per_shot}, always including the first, middle and last \
         frame of each shot. A face or reference on screen for less time than that between \
         two examined frames can be missed.",
        fmt(rate),
        if rate == 1.0 { "" } else { "s" }
    ))
}

/// The band of possible matches above the threshold.
fn review_band(threshold: f64, limit: f64) -> String {
    if limit <= threshold {
        "Off: a face is either a registered person or nobody.".into()
    } else {
        format!(
            "A person whose faces sit consistently at a distance between {} and {} from one \
             registered person is reported as a possible match, severity review, for a person \
             to confirm; it is never named as them.",
            fmt(threshold),
            fmt(limit)
        )
    }
}

/// Where the extra passes for hard faces were spent.
fn hard_faces(s: &Value) -> Option<String> {
    let tile = s.get("tile").and_then(Value::as_u64);
    let mode = s.get("hard_faces").and_then(Value::as_str);
    let small = match tile {
        Some(0) => "Whole frames only (no tiles for small faces).".to_string(),
        Some(t) => format!("Frames are also searched in {t}-pixel tiles for small faces."),
        None => String::new(),
    };
    let hard = match mode {
        Some("off") => " No extra passes for turned faces.",
        Some("regions") => {
            " Face-like regions the usual pass did not accept get a closer, turned and \
             enlarged look."
        }
        Some("key") => {
            " Face-like regions get a closer look, and each shot's key frames (about one a \
             second) are also searched turned and at a finer scale."
        }
        Some("all") => " Every examined frame is also searched turned and at a finer scale.",
        _ => "",
    };
    let text = format!("{small}{hard}");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// How references were matched, and how hard they were looked for.
fn references(s: &Value) -> String {
    let rate = s
        .get("ref_rate")
        .and_then(Value::as_f64)
        .map_or_else(String::new, |r| {
            format!(
                " on at most {} frame{} a second (plus the first and last examined frame of each \
                 shot)",
                fmt(r),
                if r == 1.0 { "" } else { "s" }
            )
        });
    let fine = s.get("fine_refs").and_then(Value::as_bool) == Some(true)
        || s.get("every_frame").and_then(Value::as_bool) == Some(true);
    let thoroughness = if fine {
        "thorough matcher: references down to about 5% of the frame's width are looked for"
    } else {
        "coarse matcher (--coarse-refs): measured reliable for references from about a tenth \
         of the frame's width up; smaller ones (background signage) were not looked for"
    };
    let gate = match s.get("reference_gate").filter(|g| !g.is_null()) {
        None => String::new(),
        Some(g) => format!(
            " Each shot was searched in full on its first check, and again whenever its \
             picture showed something the last search had not (a camera move alone is not \
             new) or after {} checks without; the checks between re-verified what had been \
             found, where it was, and after a push-in what the search had proposed but not \
             verified (something too small then may have grown).",
            g.get("max_follows").and_then(Value::as_u64).unwrap_or(0)
        ),
    };
    let inliers = s
        .get("reference_matcher")
        .and_then(|m| m.get("min_inliers"))
        .and_then(Value::as_u64)
        .map_or_else(String::new, |n| {
            format!(
                " A match is reported only when at least {n} distinct points of the reference \
                 are found in the frame in one consistent placement."
            )
        });
    format!(
        "Registered logos and artwork were matched{rate}, with the {thoroughness}.{gate}{inliers}"
    )
}

/// A number as people write it: 0.6000000238 is 0.6, 2.0 is 2.
fn fmt(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The settings a default scan records (the reference matcher cut down).
    fn recorded() -> Value {
        json!({
            "approvals": null, "date": "2026-12-02", "every_frame": false, "fine_refs": true,
            "hard_faces": "regions", "keep_all_scores": false, "max_pixels": 200000000u64,
            "min_per_shot": 3, "range": null, "ref_rate": 1.0,
            "reference_matcher": {"min_inliers": 8, "tile_windows": [[2, 2], [3, 3]]},
            "reference_gate": {"max_zoom": 0.06, "max_push": 0.12, "max_revealed": 0.1,
                               "max_residual": 12.0, "max_follows": 8},
            "references": true, "review_limit": 0.6000000238418579, "sample_rate": 2.0,
            "seq_rate": {"den": 1, "num": 24}, "threshold": 0.5, "tile": 640
        })
    }

    #[test]
    fn a_default_scan_reads_as_sentences_without_the_matchers_internals() {
        let mut page = Page::in_memory();
        section(&mut page, &recorded(), 3);
        let page = page.finish().unwrap();
        for words in [
            "<dt>Frames examined</dt><dd>At least 2 frames a second, and at least 3 in every shot",
            "distance to their reference faces is 0.5 or less",
            "<dt>Review band</dt><dd>A person whose faces sit consistently at a distance between \
             0.5 and 0.6 from one registered person",
            "640-pixel tiles for small faces",
            "on at most 1 frame a second",
            "the thorough matcher",
            "searched in full on its first check",
            "after 8 checks without",
            "at least 8 distinct points",
            "<dt>Consent judged on</dt><dd>2026-12-02",
            "No approvals file was given.",
            "recorded in the JSON report",
        ] {
            assert!(page.contains(words), "missing {words:?} in {page}");
        }
        for raw in [
            "tile_windows",
            "{",
            "0.6000000238",
            "max_pixels",
            "seq_rate",
            "max_residual",
        ] {
            assert!(!page.contains(raw), "{raw:?} leaked into {page}");
        }
    }

    #[test]
    fn a_coarse_scan_searching_every_check_says_so() {
        let mut s = recorded();
        s["fine_refs"] = json!(false);
        s["reference_gate"] = Value::Null;
        let text = references(&s);
        assert!(text.contains("coarse matcher (--coarse-refs)"), "{text}");
        assert!(!text.contains("searched in full"), "{text}");
    }

    #[test]
    fn a_spot_check_a_thorough_scan_and_a_closed_band_say_so() {
        let mut s = recorded();
        s["every_frame"] = json!(true);
        s["range"] = json!([10, 20]);
        s["review_limit"] = json!(0.5);
        s["approvals"] = json!("/legal/<approvals>.json");
        let text = rows(&s, 3)
            .into_iter()
            .map(|(t, d)| format!("{t}: {d}\n"))
            .collect::<String>();
        assert!(text.contains("Frames examined: Every frame from frame 10 to frame 20"));
        assert!(text.contains("Review band: Off"));
        assert!(text.contains("thorough matcher"));
        assert!(text.contains("read from /legal/<approvals>.json"));
        let mut page = Page::in_memory();
        section(&mut page, &s, 3);
        let page = page.finish().unwrap();
        assert!(page.contains("/legal/&lt;approvals&gt;.json"), "escaped");
        s["references"] = json!(false);
        let refs = |n| rows(&s, n).into_iter().find(|(t, _)| *t == "References");
        assert!(refs(0).is_some_and(|(_, d)| d.starts_with("None registered")));
        assert!(refs(1).is_some_and(|(_, d)| d.contains("--no-refs") && d.contains("1 reference.")));
    }

    #[test]
    fn unknown_people_grouping_is_described_when_asked_for() {
        let mut s = recorded();
        let row = |s: &Value| rows(s, 0).into_iter().find(|(t, _)| *t == "Unknown people");
        assert!(row(&s).is_none());
        s["unknown"] = serde_json::to_value(crate::unknown::UnknownSettings::default()).unwrap();
        let (_, d) = row(&s).expect("a row");
        assert!(d.contains("0.46 apart or less"), "{d}");
        assert!(d.contains("at least 2 shots or for 10 s"), "{d}");
        assert!(d.contains("under 40 px"), "{d}");
        s["unknown"] = json!({"cluster": "odd"});
        assert!(row(&s).is_none());
    }

    #[test]
    fn missing_or_odd_settings_are_left_out() {
        for v in [
            json!(null),
            json!({}),
            json!("text"),
            json!({"threshold": "x"}),
        ] {
            let mut page = Page::in_memory();
            section(&mut page, &v, 0);
            let page = page.finish().unwrap();
            assert!(page.contains("None recorded."), "{page}");
        }
        assert_eq!(fmt(0.6000000238418579), "0.6");
        assert_eq!(fmt(2.0), "2");
        assert_eq!(fmt(0.125), "0.125");
    }
}
