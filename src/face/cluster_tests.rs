use super::*;

fn span(file: usize, shot: usize, first: u64, last: u64) -> Span {
    Span {
        file,
        shot,
        first,
        last,
    }
}

fn points<'a>(faces: &'a [Vec<Embedding>], spans: &[Span]) -> Vec<TrackPoint<'a>> {
    faces
        .iter()
        .zip(spans)
        .map(|(e, s)| TrackPoint {
            embeddings: e,
            span: *s,
            dim: false,
        })
        .collect()
}

fn e(v: &[f32]) -> Embedding {
    Embedding(v.to_vec())
}

/// The groups of one track per `faces` entry, each in its shot (file, shot) for 10 frames,
/// with the default parameters.
fn groups(faces: &[Vec<Embedding>], shots: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let spans: Vec<Span> = shots.iter().map(|&(f, s)| span(f, s, 0, 10)).collect();
    let p = ClusterParams::default();
    cluster(&points(faces, &spans), Metric::Euclidean, &p).groups
}

#[test]
fn recurring_tracks_group_and_strangers_stay_alone() {
    let faces = vec![
        vec![e(&[0.0, 0.0]), e(&[0.1, 0.0])],
        vec![e(&[0.05, 0.1])],
        vec![e(&[3.0, 0.0])],
        vec![e(&[0.0, 0.15]), e(&[0.1, 0.1])],
    ];
    let spans = [
        span(0, 0, 0, 10),
        span(0, 1, 0, 10),
        span(1, 0, 0, 10),
        span(1, 2, 0, 9),
    ];
    let c = cluster(
        &points(&faces, &spans),
        Metric::Euclidean,
        &ClusterParams::default(),
    );
    assert_eq!(c.groups, vec![vec![0, 1, 3], vec![2]]);
}

#[test]
fn a_lone_view_joins_its_person_even_when_another_lone_view_is_nearer() {
    // A person seen in two shots (0, 1); two dark views in two more shots (2, 3): each
    // nearer the other (0.41) than to the person (0.43), too far from either to link.
    // The nearer view is no person to join: view 2 joins the person at 0.43; view 3, beyond
    // `attach` of the person, then joins through view 2.
    let faces = vec![
        vec![e(&[0.0, 0.0])],
        vec![e(&[0.05, 0.0])],
        vec![e(&[0.48, 0.0])],
        vec![e(&[0.48, 0.41])],
    ];
    let shots = [(0, 0), (0, 1), (1, 0), (1, 1)];
    assert_eq!(groups(&faces, &shots), vec![vec![0, 1, 2, 3]]);
}

#[test]
fn a_group_of_dim_views_joins_its_person_as_a_lone_view_does() {
    // A person lit in two shots (0, 1); two dim views of them in two more shots (2, 3),
    // linked to each other (0.38) but 0.45 and more from the lit views (their centres too
    // far for the link): two shots, so not lone; only dim views, so they may still join the
    // person (within `attach`, no rival).
    let faces = vec![
        vec![e(&[0.0, 0.0])],
        vec![e(&[0.05, 0.0])],
        vec![e(&[0.50, 0.0])],
        vec![e(&[0.50, 0.38])],
    ];
    let shots = [(0, 0), (0, 1), (1, 0), (1, 1)];
    assert_eq!(groups(&faces, &shots), vec![vec![0, 1], vec![2, 3]]);
    let spans: Vec<Span> = shots.iter().map(|&(f, s)| span(f, s, 0, 10)).collect();
    let mut pts = points(&faces, &spans);
    pts[2].dim = true;
    pts[3].dim = true;
    let c = cluster(&pts, Metric::Euclidean, &ClusterParams::default());
    assert_eq!(c.groups, vec![vec![0, 1, 2, 3]]);
    // One lit view among them makes them a person of their own again.
    pts[3].dim = false;
    let c = cluster(&pts, Metric::Euclidean, &ClusterParams::default());
    assert_eq!(c.groups, vec![vec![0, 1], vec![2, 3]]);
}

#[test]
fn a_lone_view_is_judged_by_its_faces_nearest_the_person() {
    // A person in two shots (0, 1); a dark view in a third whose two clearer faces are
    // 0.38-0.40 from them and whose two noisiest are 0.87-0.90 away: 0.64 on the mean of
    // every pair (beyond `attach`), 0.40 by the faces nearest each other (within it).
    let noisy = vec![
        e(&[0.40, 0.0]),
        e(&[0.42, 0.0]),
        e(&[0.40, 0.8]),
        e(&[0.40, -0.8]),
    ];
    let person = vec![vec![e(&[0.0, 0.0])], vec![e(&[0.02, 0.02])]];
    let a = [person.clone(), vec![noisy.clone()]].concat();
    let shots = [(0, 0), (0, 1), (1, 0)];
    assert_eq!(groups(&a, &shots), vec![vec![0, 1, 2]]);
    let mean = track_distance(&noisy, &person[1], Metric::Euclidean);
    assert!(mean > ClusterParams::default().attach, "{mean}");
    // Every face that far: alone.
    let far = vec![e(&[0.40, 0.8]), e(&[0.40, -0.8])];
    let b = [person, vec![far]].concat();
    assert_eq!(groups(&b, &shots), vec![vec![0, 1], vec![2]]);
}

#[test]
fn a_lone_view_reaches_its_person_through_a_view_that_just_joined() {
    // A person in two shots (0, 1); a dark view in shot 2 at 0.40 from them; another in
    // shot 3 at 0.44 from that view (their centres too far apart for the link) and 0.84
    // from the person: the first joins, then the second through it. A view 0.50 beyond the
    // second (shot 4) stays alone.
    let faces = vec![
        vec![e(&[0.0, 0.0])],
        vec![e(&[0.02, 0.0])],
        vec![e(&[0.42, 0.0])],
        vec![e(&[0.86, 0.0])],
        vec![e(&[1.36, 0.0])],
    ];
    let shots = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)];
    assert_eq!(groups(&faces, &shots), vec![vec![0, 1, 2, 3], vec![4]]);
}

#[test]
fn two_faces_on_screen_together_are_never_one_person() {
    // Twins in one shot at the same time, then one of them alone in another shot.
    let faces = vec![
        vec![e(&[0.0, 0.0])],
        vec![e(&[0.05, 0.0])],
        vec![e(&[0.02, 0.0])],
    ];
    let spans = [span(0, 0, 0, 10), span(0, 0, 5, 20), span(0, 1, 0, 10)];
    let c = cluster(
        &points(&faces, &spans),
        Metric::Euclidean,
        &ClusterParams::default(),
    );
    assert_eq!(c.groups.len(), 2, "{c:?}");
    assert!(c.cannot_link >= 1);
    // The same tracks one after the other in the shot (left and came back): one person.
    let spans = [span(0, 0, 0, 10), span(0, 0, 11, 20), span(0, 1, 0, 10)];
    let c = cluster(
        &points(&faces, &spans),
        Metric::Euclidean,
        &ClusterParams::default(),
    );
    assert_eq!(c.groups, vec![vec![0, 1, 2]]);
}

#[test]
fn a_chain_of_look_alikes_does_not_join_its_ends() {
    // Each step 0.35 (within link) but the ends 1.05 apart: single linkage would make
    // one person; the centre rule stops the chain.
    let faces: Vec<Vec<Embedding>> = (0..4).map(|i| vec![e(&[0.35 * i as f32, 0.0])]).collect();
    let spans: Vec<Span> = (0..4).map(|i| span(i, 0, 0, 1)).collect();
    let c = cluster(
        &points(&faces, &spans),
        Metric::Euclidean,
        &ClusterParams::default(),
    );
    assert!(c.groups.len() >= 2, "{c:?}");
    assert!(c.groups.iter().all(|g| g.len() <= 2), "{c:?}");
}

/// Each synthetic track alone in its own file.
fn one_per_file(data: &[(usize, Vec<Embedding>)]) -> Vec<TrackPoint<'_>> {
    data.iter()
        .enumerate()
        .map(|(i, (_, f))| TrackPoint {
            embeddings: f,
            span: span(i, 0, 0, 1),
            dim: false,
        })
        .collect()
}

#[test]
fn blocked_search_equals_brute_force() {
    let data = synthetic_tracks(700, 60, 2, 7);
    let pts = one_per_file(&data);
    let (centres, _) = centres(&pts, Metric::Euclidean, 128);
    let got: std::collections::BTreeSet<(u32, u32)> =
        candidate_pairs(centres.view(), 0.45, usize::MAX)
            .into_iter()
            .collect();
    let mut want = std::collections::BTreeSet::new();
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let d = (&centres.row(i) - &centres.row(j))
                .mapv(|v| v * v)
                .sum()
                .sqrt();
            // Away from the boundary, where float rounding of the two forms may differ.
            if d <= 0.45 - 1e-4 {
                want.insert((i as u32, j as u32));
            } else if d > 0.45 + 1e-4 {
                assert!(!got.contains(&(i as u32, j as u32)));
            }
        }
    }
    assert!(!want.is_empty());
    assert!(want.is_subset(&got));
}

#[test]
fn synthetic_people_are_recovered_without_false_merges() {
    let data = synthetic_tracks(2000, 200, 3, 1);
    let pts = one_per_file(&data);
    let c = cluster(&pts, Metric::Euclidean, &ClusterParams::default());
    for g in &c.groups {
        assert!(
            g.iter().all(|&i| data[i].0 == data[g[0]].0),
            "a false merge"
        );
    }
    // Each person (about 10 tracks) in one group.
    assert!(c.groups.len() <= 210, "{} groups", c.groups.len());
}

#[test]
fn parameters_survive_a_json_round_trip_bit_for_bit() {
    let p = ClusterParams::default();
    let text = serde_json::to_string(&p).unwrap();
    assert!(text.contains("\"link\":0.46,"), "{text}");
    let back: ClusterParams = serde_json::from_str(&text).unwrap();
    assert_eq!(back, p);
    // Stored and read back (as the journal does), the same text, so the same run key.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let again: serde_json::Value = serde_json::from_str(&v.to_string()).unwrap();
    assert_eq!(again.to_string(), v.to_string());
    assert!(v.to_string().contains("\"merge\":0.4,"));
}

#[test]
fn parameters_are_checked() {
    assert!(ClusterParams::default().validate().is_ok());
    let bad = ClusterParams {
        link: f32::NAN,
        ..ClusterParams::default()
    };
    assert!(bad.validate().unwrap_err().contains("link"));
}
