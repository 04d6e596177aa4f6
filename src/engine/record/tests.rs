//! The chain sealed and checked, and what a reconcile adds to the record: of a plan (soaks,
//! checks, Approvals, interventions) and of a drill run.

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::api::v1alpha1::RecoveryPlanStatus;

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

/// A plan's status of one system, `ward/pas`, as `f` makes it.
fn plan_of(f: impl FnOnce(&mut crate::api::v1alpha1::SystemStatus)) -> RecoveryPlanStatus {
    let mut s = crate::api::v1alpha1::SystemStatus {
        name: "ward/pas".into(),
        ..Default::default()
    };
    f(&mut s);
    RecoveryPlanStatus {
        phase: crate::api::v1alpha1::PlanPhase::Running,
        started_at: Some(at(0)),
        systems: vec![s],
        ..Default::default()
    }
}

fn at(s: i64) -> Time {
    Time(Timestamp::from_second(1_750_000_000 + s).expect("t"))
}

fn kinds(b: &[Body]) -> Vec<RecordKind> {
    b.iter().map(|b| b.kind).collect()
}

#[test]
fn a_soak_is_recorded_as_it_starts_is_held_starts_again_and_ends() {
    use crate::api::v1alpha1::{SoakStatus, StageRelease, SystemPhase};
    let soak = |f: fn(&mut SoakStatus)| {
        plan_of(|s| {
            s.phase = SystemPhase::Released;
            s.released_stage = Some("ward".into());
            s.releases = vec![StageRelease {
                stage: "ward".into(),
                at: at(100),
            }];
            let mut k = SoakStatus {
                stage: "ward".into(),
                ..Default::default()
            };
            f(&mut k);
            s.soak = Some(k);
        })
    };
    let verified = plan_of(|s| s.phase = SystemPhase::Verified);
    let soaking = soak(|k| {
        k.since = Some(at(100));
        k.until = Some(at(3700));
    });
    let step = |prev: &RecoveryPlanStatus, next: &RecoveryPlanStatus, now: i64| {
        transitions(prev, next, &[], &[], at(now).0)
    };

    // Released at ward, its soak there starts at the release.
    let released = step(&verified, &soaking, 100);
    assert_eq!(
        kinds(&released),
        [
            RecordKind::SystemPhase,
            RecordKind::Release,
            RecordKind::SoakStarted
        ]
    );
    let started = &released[2];
    assert_eq!(started.at, at(100));
    assert_eq!(started.system.as_deref(), Some("ward/pas"));
    assert_eq!(
        started.data,
        json!({ "stage": "ward", "since": at(100), "until": at(3700), "holds": 0 })
    );
    assert!(step(&soaking, &soaking, 200).is_empty(), "nothing new");

    // A failing check holds it: one entry, however its error changes while it fails.
    let why = "check 'login' failing since 2025-06-15T16:30:00Z: status 503";
    let held = soak(|k| {
        k.holds = 1;
        k.held_by = Some("check 'login' failing since 2025-06-15T16:30:00Z: status 503".into());
    });
    let hold = step(&soaking, &held, 1000);
    assert_eq!(kinds(&hold), [RecordKind::SoakHeld]);
    assert_eq!(hold[0].at, at(1000));
    assert_eq!(
        hold[0].data,
        json!({ "stage": "ward", "heldBy": why, "holds": 1 })
    );
    let still = soak(|k| {
        k.holds = 1;
        k.held_by = Some("check 'login' failing since 2025-06-15T16:30:00Z: timed out".into());
    });
    assert!(step(&held, &still, 1010).is_empty());

    // The check passes: the soak starts again, from then.
    let again = soak(|k| {
        k.holds = 1;
        k.since = Some(at(1100));
        k.until = Some(at(4700));
    });
    let restart = step(&still, &again, 1100);
    assert_eq!(kinds(&restart), [RecordKind::SoakStarted]);
    assert_eq!(restart[0].at, at(1100));
    assert_eq!(restart[0].data["holds"], json!(1));

    // Done: its length counts from the last start.
    let done = soak(|k| {
        k.holds = 1;
        k.since = Some(at(1100));
        k.until = Some(at(4700));
        k.completed_at = Some(at(4705));
    });
    let ended = step(&again, &done, 4705);
    assert_eq!(kinds(&ended), [RecordKind::SoakEnded]);
    assert_eq!(ended[0].at, at(4705));
    assert_eq!(
        ended[0].data,
        json!({ "stage": "ward", "completed": true, "since": at(1100), "holds": 1, "seconds": 3605 })
    );
    assert!(step(&done, &done, 4800).is_empty());

    // Restored again while soaking: the soak is cut short.
    let restoring = plan_of(|s| s.phase = SystemPhase::Pending);
    let cut = step(&again, &restoring, 2000);
    assert_eq!(
        kinds(&cut),
        [RecordKind::SystemPhase, RecordKind::SoakEnded]
    );
    assert_eq!(cut[1].at, at(2000));
    assert_eq!(
        cut[1].data,
        json!({ "stage": "ward", "completed": false, "since": at(1100), "holds": 1 })
    );
    // A soak done and then left (released on at a stage without one) ends nothing more.
    assert!(
        !kinds(&step(&done, &restoring, 5000)).contains(&RecordKind::SoakEnded),
        "a soak that was done is not cut short"
    );

    // Held from its release (a check already failing): held, never started.
    let held_at_once = step(&verified, &held, 100);
    assert_eq!(
        kinds(&held_at_once),
        [
            RecordKind::SystemPhase,
            RecordKind::Release,
            RecordKind::SoakHeld
        ]
    );
}
