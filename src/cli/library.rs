//! `gallery` and `refs`: enrolling talent and registering references, flags to library calls.

use super::args::{GalleryCmd, RefsCmd};
use anyhow::Result;
use clearshot::enroll;
use clearshot::gallery::{ConsentRecord, Gallery, RefRecord, TalentPoses};
use clearshot::references::MatchConfig;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn gallery(cmd: GalleryCmd, path: &Path, models_dir: &Path) -> Result<ExitCode> {
    match cmd {
        GalleryCmd::Add {
            name,
            consent,
            scope,
            expires,
            update,
            no_chip,
            from_report,
            unknown,
            files,
        } => {
            let record = ConsentRecord {
                consent: consent.parse()?,
                scope,
                expires,
            };
            if let Some(e) = &record.expires {
                clearshot::gallery::parse_date(e)?;
            }
            if let (Some(report), Some(id)) = (from_report, unknown) {
                return add_from_report(&name, &record, &report, &id, update, path, models_dir);
            }
            let mut scanner = enroll::single_worker_scanner(models_dir, None)?;
            let limits = enroll::ClipLimits::default();
            let enrolled = enroll::talent_files(&mut scanner, &files, !no_chip, &limits)?;
            let faces: Vec<_> = enrolled
                .into_iter()
                .flat_map(|e| {
                    println!("{e}");
                    e.faces
                })
                .collect();
            let mut g = Gallery::open_or_create(path)?;
            let emb = &scanner.models.embedder;
            g.add(&name, &record, &emb.name, &emb.entry.sha256, &faces, update)?;
            println!(
                "enrolled {name} ({} face{} from {} file{}, consent {}) in {}",
                faces.len(),
                if faces.len() == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                record.consent,
                path.display()
            );
        }
        GalleryCmd::List { json } => {
            let g = Gallery::open(path)?;
            let t = g.talent_poses()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!(
                    "{:<24} {:<8} {:<11} {:<6} {:<7} {:<5} {:<7} SCOPE",
                    "NAME", "CONSENT", "EXPIRES", "FACES", "FRONTAL", "3/4", "PROFILE"
                );
                for TalentPoses { talent: p, poses } in &t {
                    println!(
                        "{:<24} {:<8} {:<11} {:<6} {:<7} {:<5} {:<7} {}",
                        p.name,
                        p.consent.consent,
                        p.consent.expires.as_deref().unwrap_or("-"),
                        p.photos,
                        poses.frontal,
                        poses.three_quarter,
                        poses.profile,
                        p.consent.scope.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        GalleryCmd::Remove { name } => {
            let mut g = Gallery::open(path)?;
            g.remove(&name)?;
            println!("removed {name} from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gallery add --from-report R --unknown ID`: the person's stored embeddings, checked to
/// come from the active embedder.
fn add_from_report(
    name: &str,
    record: &ConsentRecord,
    report: &Path,
    id: &str,
    update: bool,
    path: &Path,
    models_dir: &Path,
) -> Result<ExitCode> {
    let models = enroll::load_models(models_dir)?;
    let emb = &models.embedder;
    let (person, faces) =
        clearshot::unknown::enroll::faces_from_report(report, id, &emb.entry.sha256)?;
    let mut g = Gallery::open_or_create(path)?;
    g.add(name, record, &emb.name, &emb.entry.sha256, &faces, update)?;
    println!(
        "enrolled {name} ({} face{} from unknown person {id}: {} shot{} of {}, consent {}) in {}",
        faces.len(),
        if faces.len() == 1 { "" } else { "s" },
        person.shots,
        if person.shots == 1 { "" } else { "s" },
        report.display(),
        record.consent,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn refs(cmd: RefsCmd, path: &Path, models_dir: &Path) -> Result<ExitCode> {
    match cmd {
        RefsCmd::Add {
            name,
            kind,
            owner,
            status,
            licence_ref,
            update,
            images,
        } => {
            let record = RefRecord {
                kind,
                owner,
                status: status.parse()?,
                licence_ref,
            };
            if record.status == clearshot::gallery::RefStatus::Licensed
                && record.licence_ref.is_none()
            {
                eprintln!(
                    "clearshot: warning: licensed reference '{name}' has no --licence-ref to cite"
                );
            }
            let mut matcher = enroll::ip_matcher(models_dir, MatchConfig::default())?;
            let enrolled = enroll::reference_images(&mut matcher, &name, &images)?;
            let mut g = Gallery::open_or_create(path)?;
            g.add_reference(&name, &record, &enrolled, update)?;
            println!(
                "enrolled {name} ({} image{}, {} {}, owner {}) in {}",
                enrolled.len(),
                if enrolled.len() == 1 { "" } else { "s" },
                record.status,
                record.kind,
                record.owner,
                path.display()
            );
        }
        RefsCmd::List { json } => {
            let g = Gallery::open(path)?;
            let list = g.references(None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<10} {:<12} {:<20} {:<6} LICENCE",
                    "NAME", "KIND", "STATUS", "OWNER", "IMAGES"
                );
                for r in &list {
                    println!(
                        "{:<24} {:<10} {:<12} {:<20} {:<6} {}",
                        r.name,
                        r.record.kind,
                        r.record.status,
                        r.record.owner,
                        r.images,
                        r.record.licence_ref.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        RefsCmd::Remove { name } => {
            let mut g = Gallery::open(path)?;
            g.remove_reference(&name)?;
            println!("removed reference {name} from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
