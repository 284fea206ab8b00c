//! The unknown-people section of the HTML report (`scan --unknown`): one card per recurring
//! person nobody registered, with a face crop and the timecodes of each appearance.

use super::findings::figure;
use super::{Esc, Page};
use crate::unknown::UnknownPerson;
use std::fmt::Write;

/// Appends the section (nothing when the scan found no recurring unknown person).
pub(super) fn section(out: &mut Page, people: &[UnknownPerson]) {
    if people.is_empty() {
        return;
    }
    w!(
        out,
        "<section class=\"unknown-people\">\n<h2>Unknown people</h2>\n\
         <p class=\"muted\">Faces that match nobody in the gallery and recur across the batch, \
         grouped by likeness. Each needs a release check before delivery; \
         <span class=\"mono\">clearshot gallery add --from-report REPORT.json --unknown ID</span> \
         registers one.</p>\n"
    );
    for p in people {
        w!(
            out,
            "<article class=\"card unknown review\" data-severity=\"review\" data-id=\"{id}\">\n\
             <div class=\"card-head\">\n<span class=\"badge review\">review</span>\n\
             <h3 class=\"who\">Unknown person {id}</h3>\n<span class=\"kind\">not registered</span>\n\
             <span class=\"where\">{} &middot; {:.1} s on screen</span>\n</div>\n\
             <p class=\"reason\"><strong>Cohesion:</strong> appearances {:.3} (median) to {:.3} \
             (farthest) from the person's centre; one person within {:.2}.</p>\n<div class=\"appearances\">\n",
            p.extent(),
            p.seconds,
            p.cohesion.median_distance,
            p.cohesion.max_distance,
            p.cohesion.link,
            id = Esc(&p.id),
        );
        for a in &p.appearances {
            let crop = a.crop_jpeg.clone().map(crate::evidence::Jpeg::Inline);
            figure(
                out,
                "crop",
                &format!("{} \u{b7} shot {}", a.file_name(), a.shot + 1),
                &format!(
                    "{} \u{2013} {}, {} frames, face {} px, distance {:.3}",
                    a.tc_in, a.tc_out, a.frames_seen, a.largest_face_px, a.distance
                ),
                crop.as_ref(),
                "no face crop stored",
            );
        }
        out.push_str("</div>\n</article>\n");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unknown::{Cohesion, UnknownAppearance};

    #[test]
    fn a_card_per_person_with_a_crop_per_appearance_and_escaped_names() {
        let mut page = Page::in_memory();
        section(&mut page, &[]);
        assert!(
            page.finish().unwrap().is_empty(),
            "no section without people"
        );
        let a = UnknownAppearance {
            file: "/clips/<b>&c.mp4".into(),
            shot: 2,
            first_frame: 0,
            last_frame: 24,
            tc_in: "01:00:00:00".into(),
            tc_out: "01:00:01:00".into(),
            frames_seen: 3,
            largest_face_px: 120,
            best_frame: 12,
            best_tc: "01:00:00:12".into(),
            best_box: [1.0, 2.0, 3.0, 4.0],
            distance: 0.2,
            crop_jpeg: Some("/9j/4AA=".into()),
            embeddings: Vec::new(),
        };
        let p = UnknownPerson {
            id: "U1".into(),
            shots: 2,
            files: 1,
            seconds: 2.0,
            cohesion: Cohesion {
                median_distance: 0.1,
                max_distance: 0.2,
                link: 0.46,
            },
            appearances: vec![
                a.clone(),
                UnknownAppearance {
                    crop_jpeg: None,
                    ..a
                },
            ],
        };
        let mut page = Page::in_memory();
        section(&mut page, &[p]);
        let out = page.finish().unwrap();
        assert_eq!(out.matches("<article class=\"card unknown").count(), 1);
        assert!(out.contains("Unknown person U1") && out.contains("2 shots in 1 file"));
        assert!(out.contains("&lt;b&gt;&amp;c.mp4 \u{b7} shot 3"), "{out}");
        assert!(out.contains("data:image/jpeg;base64,/9j/4AA="));
        assert!(out.contains("no face crop stored"));
    }
}
