//! Shards and merge (the Slurm path without Slurm; scripts/slurm/test_slurm.sh runs it on a
//! real one-node cluster): three shards of one batch merge into the report of a one-machine
//! scan, a missing shard's inputs are named, journals of another batch are refused.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn inputs() -> Vec<PathBuf> {
    let f = fixtures().join("formats");
    vec![
        demo().join("demo.mp4"),
        f.join("h264_25.mp4"),
        f.join("prores_tc.mov"),
        f.join("seq_dpx"),
        f.join("still.png"),
        f.join("corrupt.mp4"),
    ]
}

fn facts(path: &Path) -> serde_json::Value {
    let mut v = json(path);
    for k in ["started", "finished", "command_line"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn shards_merge_into_the_one_machine_report_and_missing_or_foreign_shards_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = demo_gallery(d);
    let one = d.join("one.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("scan")
        .arg("--json")
        .arg(&one)
        .args(inputs()));
    assert_eq!(o.status.code(), Some(2), "{so}\n{se}");

    let journals: Vec<PathBuf> = (0..3)
        .map(|i| d.join(format!("shard-{i}.sqlite")))
        .collect();
    let mut scanned = 0;
    for (i, j) in journals.iter().enumerate() {
        let mut cmd = clearshot(&g);
        cmd.args(["scan", "--shard", "auto", "--jsonl", "-", "--journal"])
            .arg(j)
            .args(inputs())
            .env("SLURM_ARRAY_TASK_ID", (i + 10).to_string())
            .env("SLURM_ARRAY_TASK_MIN", "10")
            .env("SLURM_ARRAY_TASK_COUNT", "3");
        let (o, so, se) = run(&mut cmd);
        assert!(matches!(o.status.code(), Some(0..=2)), "{so}\n{se}");
        let started: serde_json::Value = serde_json::from_str(so.lines().next().unwrap()).unwrap();
        let n = started["data"]["to_scan"].as_u64().unwrap();
        assert!(n >= 1, "shard {i} has nothing to scan");
        scanned += n;
    }
    assert_eq!(
        scanned,
        inputs().len() as u64,
        "every input in exactly one shard"
    );

    let merged = d.join("merged.json");
    let (o, so, se) = run(clearshot(&g)
        .arg("merge")
        .args(&journals)
        .arg("--json")
        .arg(&merged));
    assert_eq!(o.status.code(), Some(2), "{so}\n{se}");
    assert!(
        facts(&one) == facts(&merged),
        "merge differs from the one-machine scan"
    );

    // A shard missing: its inputs are named, the report says incomplete.
    let partial = d.join("partial.json");
    let (o, _, se) = run(clearshot(&g)
        .arg("merge")
        .args(&journals[..2])
        .arg("--json")
        .arg(&partial));
    assert_eq!(o.status.code(), Some(2), "{se}");
    let r = json(&partial);
    assert_eq!(r["incomplete"], true);
    let pending = r["pending"].as_array().unwrap();
    assert!(!pending.is_empty());
    for p in pending {
        let line = se
            .lines()
            .find(|l| l.contains(p.as_str().unwrap()))
            .unwrap_or_else(|| panic!("{p} not named: {se}"));
        assert!(line.contains("in none of the journals"), "{line}");
    }

    // A journal of another batch (other settings) is refused with one line naming it.
    let other = d.join("other.sqlite");
    let (o, so, se) = run(clearshot(&g)
        .args(["scan", "--sample-rate", "3", "--shard", "0/3", "--journal"])
        .arg(&other)
        .args(inputs()));
    assert!(matches!(o.status.code(), Some(0..=2)), "{so}\n{se}");
    let (o, _, se) = run(clearshot(&g).arg("merge").args(&journals[1..]).arg(&other));
    assert_eq!(o.status.code(), Some(3), "{se}");
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(
        se.contains("other.sqlite") && se.contains("other models, gallery or settings"),
        "{se}"
    );
}
