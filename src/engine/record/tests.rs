//! The chain sealed and checked, and what a drill run adds to its record.

use k8s_openapi::jiff::Timestamp;

use super::*;

fn chain(n: u64) -> Vec<RecordEntry> {
    let mut out: Vec<RecordEntry> = Vec::new();
    for seq in 0..n {
        let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
        out.push(seal(
            seq,
            &prev,
            Body {
                at: Time(Timestamp::from_second(1_750_000_000 + seq as i64).expect("t")),
                kind: RecordKind::SystemPhase,
                system: Some(format!("ward/s{seq}")),
                data: json!({ "to": "Verified", "n": seq }),
            },
        ));
    }
    out
}

fn head(c: &[RecordEntry]) -> Option<(&str, u64)> {
    c.last().map(|e| (e.hash.as_str(), c.len() as u64))
}

#[test]
fn chunks_stay_under_the_limit_and_hold_every_entry() {
    let mut c: Vec<RecordEntry> = Vec::new();
    for seq in 0..3_000u64 {
        let prev = c.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
        c.push(seal(
            seq,
            &prev,
            Body {
                at: Time(Timestamp::from_second(1_750_000_000).expect("t")),
                kind: RecordKind::Approval,
                system: None,
                data: json!({ "comment": "x".repeat(500 + (seq as usize % 700)) }),
            },
        ));
    }
    let lengths = chunk_lengths(&c);
    assert!(lengths.len() > 1, "{lengths:?}");
    assert_eq!(lengths.iter().sum::<usize>(), c.len());
    let mut at = 0;
    for n in lengths {
        let bytes: usize = c[at..at + n].iter().map(entry_size).sum();
        assert!(n > 0 && bytes <= CHUNK_BYTES, "{n} entries, {bytes} bytes");
        at += n;
    }
}

#[test]
fn a_drill_run_records_each_fault_once_as_injected_then_proven() {
    use crate::api::v1alpha1::{DrillPhase, DrillRun, RecoveryDrillStatus};
    let t = |s: i64| Time(Timestamp::from_second(1_750_000_000 + s).expect("t"));
    let fault: crate::api::v1alpha1::FaultRecord = serde_json::from_value(json!({
        "system": "lims", "kind": "deletePods", "target": "pods of lims"
    }))
    .expect("fault");
    let pre: crate::api::v1alpha1::RecordedState = serde_json::from_value(json!({
        "kind": "Deployment", "name": "lims", "replicas": 2, "existed": true
    }))
    .expect("pre-state");
    let idle = RecoveryDrillStatus::default();
    let mut injecting = RecoveryDrillStatus {
        phase: DrillPhase::Injecting,
        run: Some(DrillRun {
            number: 1,
            started_at: Some(t(0)),
            pre_state: vec![pre],
            faults: vec![fault],
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some(f) = injecting.run.as_mut().map(|r| &mut r.faults[0]) {
        f.injected_at = Some(t(1));
    }
    let kinds = |b: &[Body]| b.iter().map(|b| b.kind).collect::<Vec<_>>();
    let first = drill_transitions(&idle, &injecting, t(1).0);
    assert_eq!(
        kinds(&first),
        [
            RecordKind::DrillPhase,
            RecordKind::PreDrillState,
            RecordKind::Fault
        ]
    );
    assert_eq!(first[2].data["event"], json!("injected"));
    let mut proven = injecting.clone();
    if let Some(f) = proven.run.as_mut().map(|r| &mut r.faults[0]) {
        f.proven_at = Some(t(2));
        f.proof = Some("none of the 2 deleted pods is left".into());
    }
    let second = drill_transitions(&injecting, &proven, t(2).0);
    assert_eq!(kinds(&second), [RecordKind::Fault]);
    assert_eq!(second[0].data["event"], json!("proven"));
    assert_eq!(
        second[0].data["proof"],
        json!("none of the 2 deleted pods is left")
    );
    assert!(
        drill_transitions(&proven, &proven, t(3).0).is_empty(),
        "nothing new"
    );
}

#[test]
fn an_intact_chain_verifies() {
    let c = chain(5);
    assert_eq!(verify(&c, head(&c)), Ok(()));
    assert_eq!(verify(&[], Some((GENESIS, 0))), Ok(()));
}

#[test]
fn an_edited_entry_is_named() {
    let c = chain(5);
    let mut t = c.clone();
    t[2].data = json!({ "to": "Failed", "n": 2 });
    assert!(matches!(
        verify(&t, head(&c)),
        Err(Tamper::Altered { seq: 2, .. })
    ));
    // Its hash made again: the next entry no longer follows it.
    t[2].hash = entry_hash(&t[2]);
    assert!(matches!(
        verify(&t, head(&c)),
        Err(Tamper::Altered { seq: 2, .. })
    ));
}

#[test]
fn a_missing_reordered_added_or_cut_entry_is_named() {
    let c = chain(5);
    let mut missing = c.clone();
    missing.remove(3);
    assert!(matches!(
        verify(&missing, head(&c)),
        Err(Tamper::Missing {
            seq: 3,
            after: 4,
            ..
        })
    ));
    let mut reordered = c.clone();
    reordered.swap(1, 2);
    assert!(matches!(
        verify(&reordered, head(&c)),
        Err(Tamper::Reordered {
            seq: 2,
            expected: 1
        })
    ));
    let mut cut = c.clone();
    cut.truncate(3);
    assert!(matches!(
        verify(&cut, head(&c)),
        Err(Tamper::Truncated {
            entries: 3,
            expected: 5,
            ..
        })
    ));
    // A forged entry appended with a hash made to fit.
    let mut added = c.clone();
    let forged = seal(
        5,
        &c[4].hash,
        Body {
            at: c[4].at.clone(),
            kind: RecordKind::Approval,
            system: None,
            data: json!({ "approver": "mallory" }),
        },
    );
    added.push(forged);
    assert_eq!(
        verify(&added, None),
        Ok(()),
        "without a head, a well-made addition is a longer chain"
    );
    assert!(matches!(
        verify(&added, head(&c)),
        Err(Tamper::Added { seq: 5, .. })
    ));
    let mut twice = c.clone();
    twice.push(c[4].clone());
    assert!(matches!(
        verify(&twice, head(&c)),
        Err(Tamper::Added { seq: 4, .. })
    ));
}
