//! The evaluation commands (`eval`, `eval-video`, `eval-unknown`, `eval-refs`): each prints
//! its figures and exits 1 when a gate given on the command line is not met.

use super::args::{EvalArgs, EvalUnknownArgs, EvalVideoArgs};
use anyhow::{Context, Result};
use clearshot::enroll;
use clearshot::references::MatchConfig;
use std::path::Path;
use std::process::ExitCode;

/// `eval`: identification on labelled photos.
pub(crate) fn eval(args: EvalArgs, models_dir: &Path) -> Result<ExitCode> {
    let mut scanner = enroll::single_worker_scanner(models_dir, args.threshold)?;
    let summary = clearshot::eval::run(&mut scanner, &args.labels, &mut |line| println!("{line}"))?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// `eval-video`: the talent scan on labelled clips.
pub(crate) fn eval_video(args: EvalVideoArgs, models_dir: &Path) -> Result<ExitCode> {
    let models = enroll::load_models(models_dir)?;
    let result = clearshot::eval::video::run(models, &args.labels, &mut |line| println!("{line}"))?;
    print!("{}", clearshot::eval::video::table(&result));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, text + "\n").with_context(|| format!("{}", path.display()))?;
    }
    let all = result.overall;
    let mut ok = true;
    if let Some(min) = args.min_hits {
        if all.hits() < min {
            println!(
                "FAIL: {} of {} registered appearances found or possible, at least {min} required",
                all.hits(),
                all.expected
            );
            ok = false;
        }
    }
    if all.false_total() > args.max_false {
        println!(
            "FAIL: {} false identities and {} false review flags, at most {} allowed",
            all.false_identities, all.false_review_flags, args.max_false
        );
        ok = false;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `eval-unknown`: the grouping of unregistered people, for each setting asked for.
pub(crate) fn eval_unknown(args: EvalUnknownArgs, models_dir: &Path) -> Result<ExitCode> {
    use clearshot::eval::unknown;
    let models = enroll::load_models(models_dir)?;
    let metric = models.embedder_spec().metric;
    let hard =
        clearshot::face::detect::HardFaces::parse(&args.hard_faces).map_err(anyhow::Error::msg)?;
    let (labels, files) = unknown::scan(models, &args.labels, hard)?;
    let base = clearshot::unknown::UnknownSettings::default();
    let or_base = |v: &[f32], d: f32| if v.is_empty() { vec![d] } else { v.to_vec() };
    let c = base.cluster;
    let mut combos = Vec::new();
    for link in or_base(&args.link, c.link) {
        for merge in or_base(&args.merge, c.merge) {
            for attach in or_base(&args.attach, c.attach) {
                combos.push((link, merge, attach));
            }
        }
    }
    let mut results = Vec::new();
    let mut ok = true;
    {
        for (link, merge, attach) in combos {
            let mut s = base;
            s.cluster.link = link;
            s.cluster.merge = merge;
            s.cluster.attach = attach;
            s.validate().map_err(anyhow::Error::msg)?;
            let r = unknown::score(&labels, &files, &s, metric, args.min_face_px);
            if args.details {
                for (id, apps) in &r.detail {
                    println!("{id}: {}", apps.join(", "));
                }
                for m in &r.misses {
                    println!("{m}");
                }
            }
            println!("{}: {}", labels.split, r.summary(args.min_face_px));
            if args.min_purity.is_some_and(|m| r.purity() < m) {
                println!(
                    "FAIL: purity {:.3} is below {:?}",
                    r.purity(),
                    args.min_purity
                );
                ok = false;
            }
            if args.min_completeness.is_some_and(|m| r.completeness() < m) {
                println!(
                    "FAIL: completeness {:.3} is below {:?}",
                    r.completeness(),
                    args.min_completeness
                );
                ok = false;
            }
            results.push(r);
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, text + "\n").with_context(|| format!("{}", path.display()))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `eval-refs`: the reference matcher on a labelled set (`scripts/make_ip_eval.py`), with the
/// learned proposals unless `!tiles`, thorough when `fine`; fails below the gate.
pub(crate) fn eval_refs(
    labels: &Path,
    tiles: bool,
    fine: bool,
    details: bool,
    (min_recall, max_fa): (Option<f64>, Option<usize>),
    models_dir: &Path,
) -> Result<ExitCode> {
    let config = MatchConfig {
        tiles,
        ..if fine {
            MatchConfig::fine()
        } else {
            MatchConfig::default()
        }
    };
    // One matcher per core: the scenes are independent.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut matchers = (0..cores)
        .map(|_| enroll::ip_matcher(models_dir, config.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = clearshot::references::eval::run(labels, &mut matchers, 0)?;
    if !details {
        summary.missed_details.clear();
    }
    print!("{}", summary.to_text());
    let inset = summary.by_scene_kind.get("inset");
    let recall = inset.map_or(0.0, |t| t.found as f64 / t.truth.max(1) as f64);
    let mut ok = true;
    if let Some(want) = min_recall {
        if recall < want {
            println!("FAIL: inset recall {recall:.3} is below {want}");
            ok = false;
        }
    }
    if let Some(max) = max_fa {
        if summary.false_alarms > max {
            println!(
                "FAIL: {} false alarms, at most {max} allowed",
                summary.false_alarms
            );
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
