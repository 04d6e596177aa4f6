//! `lifeline evidence verify FILE` as a user runs it, on a bundle made from a recovery's
//! record with no cluster: the bundle as exported verifies; a copy with an entry removed,
//! two entries swapped, the chain cut short, an entry rewritten with its hash made again,
//! or a forged entry appended with a hash made to fit each fails, naming the entry.

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use lifeline::api::v1alpha1::{RecordEntry, RecordKind};
use lifeline::cli::evidence::{Bundle, FORMAT, Manifest, add_report, write};
use lifeline::engine::record::{Body, GENESIS, entry_hash, seal};
use serde_json::{Value, json};

fn lifeline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .env("KUBECONFIG", "/nonexistent/lifeline-test-kubeconfig")
        .args(args)
        .output()
        .expect("run lifeline")
}

fn t(s: i64) -> Time {
    Time(Timestamp::from_second(1_764_633_600 + s).expect("a time"))
}

/// A small recovery's record, sealed as the operator seals it: the plan starts, pas is
/// restored, its check fails then passes, it is approved and released, the plan ends.
fn record() -> Vec<RecordEntry> {
    use RecordKind::*;
    let pas = Some("ward/pas");
    let bodies: Vec<(i64, RecordKind, Option<&str>, Value)> = vec![
        (
            0,
            PlanPhase,
            None,
            json!({"from": "Pending", "to": "Running", "startedAt": t(0), "measuredFrom": t(0)}),
        ),
        (
            0,
            SystemPhase,
            pas,
            json!({"from": null, "to": "Restoring", "tier": "critical", "objectiveSeconds": 3600}),
        ),
        (
            60,
            Check,
            pas,
            json!({"check": "login", "phase": "Running", "attempts": 1, "error": "503", "failing": true}),
        ),
        (
            120,
            Check,
            pas,
            json!({"check": "login", "phase": "Succeeded", "attempts": 2, "error": "503", "failing": false}),
        ),
        (
            120,
            SystemPhase,
            pas,
            json!({"from": "Verifying", "to": "Verified", "objectiveSeconds": 3600}),
        ),
        (
            300,
            Approval,
            None,
            json!({"name": "ward-1", "stage": "ward", "systems": ["ward/pas"], "decision": "Approve", "accepted": true, "reason": "counted", "approver": {"username": "cso-ann", "groups": ["clinical-safety"]}, "comment": "looked at pas"}),
        ),
        (300, Release, pas, json!({"stage": "ward"})),
        (
            300,
            PlanPhase,
            None,
            json!({"from": "Running", "to": "Succeeded"}),
        ),
    ];
    let mut out: Vec<RecordEntry> = Vec::new();
    for (seq, (at, kind, system, data)) in bodies.into_iter().enumerate() {
        let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
        out.push(seal(
            seq as u64,
            &prev,
            Body {
                at: t(at),
                kind,
                system: system.map(str::to_string),
                data,
            },
        ));
    }
    out
}

/// The bundle `lifeline evidence export` would write of [`record`], its head as the
/// plan's status recorded it.
fn bundle() -> Bundle {
    let entries = record();
    let last = entries.last().expect("entries");
    let mut b = Bundle {
        manifest: Manifest {
            format: FORMAT.into(),
            plan: "ward/p".into(),
            plan_uid: "uid-1".into(),
            entries: entries.len() as u64,
            chunks: 1,
            head: last.hash.clone(),
            head_from: "the plan's status".into(),
            drill_run: None,
            exported_at: "2026-12-02T00:00:00Z".into(),
            report_sha256: None,
        },
        entries,
        report: None,
        signature: None,
    };
    add_report(&mut b);
    b
}

fn written(dir: &Path, name: &str, b: &Bundle) -> PathBuf {
    let path = dir.join(name);
    write(b, &path).expect("write the bundle");
    path
}

/// Runs `lifeline evidence verify` on `path`: it must fail, and its error must say `want`.
fn refused(path: &Path, want: &str) {
    let out = lifeline(&["evidence", "verify", &path.to_string_lossy()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{} verified:\n{}{err}",
        path.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains(want), "{want:?} not in:\n{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "the error names the file:\n{err}"
    );
}

#[test]
fn verify_names_the_entry_removed_reordered_cut_off_rewritten_or_forged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let intact = bundle();
    let path = written(dir.path(), "intact.json", &intact);
    let out = lifeline(&["evidence", "verify", &path.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the record of ward/p (uid uid-1) verifies: 8 entries"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Entry 3 (the check's pass) removed.
    let mut removed = intact.clone();
    removed.entries.remove(3);
    refused(
        &written(dir.path(), "removed.json", &removed),
        "entry 3 is missing: the chain goes from entry 2 to 4",
    );

    // The Approval and the Release swapped.
    let mut reordered = intact.clone();
    reordered.entries.swap(5, 6);
    refused(
        &written(dir.path(), "reordered.json", &reordered),
        "entry 6 is out of order: it stands where entry 5 belongs",
    );

    // The last three entries cut off (the approval, the release, the end).
    let mut cut = intact.clone();
    cut.entries.truncate(5);
    refused(
        &written(dir.path(), "cut.json", &cut),
        "the chain was cut short: entry 5 and every one after it are missing",
    );

    // The Approval's approver rewritten and its hash made again: the Release no longer
    // follows it.
    let mut rewritten = intact.clone();
    rewritten.entries[5].data["approver"]["username"] = json!("mallory");
    rewritten.entries[5].hash = entry_hash(&rewritten.entries[5]);
    refused(
        &written(dir.path(), "rewritten.json", &rewritten),
        "entry 5 was altered: entry 6 no longer follows it",
    );

    // A forged Approval appended, its hash made to fit the chain.
    let mut forged = intact.clone();
    let last = forged.entries.last().expect("entries").clone();
    forged.entries.push(seal(
        last.seq + 1,
        &last.hash,
        Body {
            at: last.at.clone(),
            kind: RecordKind::Approval,
            system: None,
            data: json!({"name": "late", "stage": "ward", "systems": ["ward/pas"], "decision": "Approve", "accepted": true, "approver": {"username": "mallory"}}),
        },
    ));
    refused(
        &written(dir.path(), "forged.json", &forged),
        "entry 8 was added: the manifest's head is entry 7",
    );
    // A file cut off mid-way is not a bundle at all.
    let text = std::fs::read_to_string(&path).expect("read the bundle");
    let half = dir.path().join("half.json");
    std::fs::write(&half, &text[..text.len() / 2]).expect("write half a bundle");
    refused(&half, "is not a lifeline evidence bundle");
}
