//! The unknown-people section of the HTML report (`scan --unknown`): one card per recurring
//! person nobody registered, with a face crop and the timecodes of each appearance.

use super::{figure, Esc};
use crate::unknown::UnknownPerson;
use std::fmt::Write;

/// Appends the section (nothing when the scan found no recurring unknown person).
pub(super) fn section(out: &mut String, people: &[UnknownPerson]) {
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
             (farthest) from the person's centre; one person within {:.2}.</p>\n<div class=\"evidence\">\n",
            p.extent(),
            p.seconds,
            p.cohesion.median_distance,
            p.cohesion.max_distance,
            p.cohesion.link,
            id = Esc(&p.id),
        );
        for a in &p.appearances {
            figure(
                out,
                "crop",
                &format!("{} \u{b7} shot {}", a.file_name(), a.shot + 1),
                &format!(
                    "{} \u{2013} {}, {} frames, face {} px, distance {:.3}",
                    a.tc_in, a.tc_out, a.frames_seen, a.largest_face_px, a.distance
                ),
                a.crop_jpeg.as_deref(),
                "no face crop stored",
            );
        }
        out.push_str("</div>\n</article>\n");
    }
    out.push_str("</section>\n");
}
