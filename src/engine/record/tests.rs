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

/// A plan's status as JSON, `systems` and all (which the plan's own object does not store:
/// they are in its progress shards), for the plan-side tests.
fn status(v: Value) -> RecoveryPlanStatus {
    let mut status: RecoveryPlanStatus = serde_json::from_value(v.clone()).expect("a plan status");
    if let Some(systems) = v.get("systems") {
        status.systems = serde_json::from_value(systems.clone()).expect("the systems");
    }
    status
}

#[test]
fn a_plan_records_its_start_each_step_each_check_change_and_the_pass() {
    let none = RecoveryPlanStatus::default();
    let pas = |phase: &str, step: Value, check: Value| {
        json!([{ "name": "ward/pas", "phase": phase, "tier": "critical", "objectiveSeconds": 3600,
                 "steps": [step], "checks": [check] }])
    };
    let restoring = status(json!({
        "phase": "Running", "startedAt": at(0), "measuredFrom": at(-600),
        "systems": pas("Restoring",
            json!({ "name": "restore-db", "phase": "Running", "attempts": 1, "token": "j-1" }),
            json!({ "name": "login", "phase": "Pending", "attempts": 0 }))
    }));
    let first = transitions(&none, &restoring, &[], &[], at(0).0);
    assert_eq!(
        kinds(&first),
        [
            RecordKind::PlanPhase,
            RecordKind::SystemPhase,
            RecordKind::Step
        ],
        "a check not tried yet is not recorded"
    );
    assert_eq!(first[0].data["startedAt"], json!(at(0)));
    assert_eq!(
        first[0].data["measuredFrom"],
        json!(at(-600)),
        "the first entry says what the run is measured from"
    );
    assert_eq!(first[1].data["from"], Value::Null);
    assert_eq!(first[1].data["to"], json!("Restoring"));
    assert_eq!(first[1].data["objectiveSeconds"], json!(3600));
    assert_eq!(
        first[2].data,
        json!({ "step": "restore-db", "phase": "Running", "attempt": 1, "message": null, "token": "j-1" })
    );

    // The restore done, the check's first failure.
    let failing = status(json!({
        "phase": "Running", "startedAt": at(0), "measuredFrom": at(-600),
        "systems": pas("Verifying",
            json!({ "name": "restore-db", "phase": "Succeeded", "attempts": 1, "token": "j-1" }),
            json!({ "name": "login", "phase": "Running", "attempts": 1, "lastError": "status 503",
                    "failingSince": at(60) }))
    }));
    let second = transitions(&restoring, &failing, &[], &[], at(60).0);
    assert_eq!(
        kinds(&second),
        [RecordKind::SystemPhase, RecordKind::Step, RecordKind::Check]
    );
    assert_eq!(second[0].at, at(60));
    assert_eq!(
        second[2].data,
        json!({ "check": "login", "phase": "Running", "attempts": 1, "error": "status 503", "failing": true })
    );
    // Tried again with the same error: nothing new. A new error: an entry.
    let mut again = failing.clone();
    again.systems[0].checks[0].attempts = 2;
    assert!(transitions(&failing, &again, &[], &[], at(61).0).is_empty());
    let mut changed = again.clone();
    changed.systems[0].checks[0].last_error = Some("timed out".into());
    let third = transitions(&again, &changed, &[], &[], at(62).0);
    assert_eq!(kinds(&third), [RecordKind::Check]);
    assert_eq!(third[0].data["error"], json!("timed out"));
    // The pass (its last error kept as the record of its failures), and verified.
    let passed = status(json!({
        "phase": "Running", "startedAt": at(0), "measuredFrom": at(-600),
        "systems": pas("Verified",
            json!({ "name": "restore-db", "phase": "Succeeded", "attempts": 1, "token": "j-1" }),
            json!({ "name": "login", "phase": "Succeeded", "attempts": 3, "lastError": "timed out" }))
    }));
    let fourth = transitions(&changed, &passed, &[], &[], at(63).0);
    assert_eq!(kinds(&fourth), [RecordKind::SystemPhase, RecordKind::Check]);
    assert_eq!(fourth[0].data["to"], json!("Verified"));
    assert_eq!(
        fourth[1].data,
        json!({ "check": "login", "phase": "Succeeded", "attempts": 3, "error": "timed out", "failing": false })
    );
}

#[test]
fn a_plan_records_each_approval_in_full_each_new_intervention_and_each_notice() {
    use crate::api::v1alpha1::Approval;
    let approval: Approval = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
        "metadata": { "name": "ward-1", "namespace": "ward" },
        "spec": { "plan": "p", "planUid": "uid-1", "stage": "ward", "systems": ["pas"],
                  "decision": "approve", "comment": "paper results re-entered on 7B",
                  "acknowledged": ["paper results back-entered", "ward manager told"],
                  "approver": { "username": "cso-ann", "groups": ["clinical-safety", "nurses"] } }
    }))
    .expect("an Approval");
    let recorded = |accepted: bool, reason: &str| {
        json!([{ "name": "ward-1", "stage": "ward", "systems": ["ward/pas"], "approver": "cso-ann",
                 "decision": "approve", "accepted": accepted, "reason": reason,
                 "comment": "paper results re-entered on 7B", "at": at(100) }])
    };
    let intervention = |action: &str, by: &str, s: i64| {
        json!({ "action": action, "by": by, "groups": ["duty-managers"], "vouched": true,
                "request": format!("{action}-{s}"), "at": at(s) })
    };
    let before = status(json!({ "phase": "AwaitingApproval", "startedAt": at(0) }));
    let after = status(json!({
        "phase": "AwaitingApproval", "startedAt": at(0),
        "approvals": recorded(true, "counted"),
        "interventions": [intervention("pause", "duty-manager", 110)]
    }));
    let out = transitions(
        &before,
        &after,
        std::slice::from_ref(&approval),
        &[],
        at(120).0,
    );
    assert_eq!(
        kinds(&out),
        [RecordKind::Approval, RecordKind::Intervention]
    );
    assert_eq!(out[0].at, at(120), "as the operator saw it when it decided");
    assert_eq!(
        out[0].data,
        json!({
            "name": "ward-1", "stage": "ward", "systems": ["ward/pas"], "decision": "approve",
            "accepted": true, "reason": "counted",
            "approver": { "username": "cso-ann", "groups": ["clinical-safety", "nurses"] },
            "comment": "paper results re-entered on 7B",
            "acknowledged": ["paper results back-entered", "ward manager told"],
            "planUid": "uid-1", "createdAt": at(100)
        })
    );
    assert_eq!(out[1].at, at(110));
    assert_eq!(out[1].data["by"], json!("duty-manager"));
    assert_eq!(out[1].data["groups"], json!(["duty-managers"]));
    assert_eq!(out[1].data["vouched"], json!(true));
    assert!(
        transitions(
            &after,
            &after,
            std::slice::from_ref(&approval),
            &[],
            at(130).0
        )
        .is_empty(),
        "an Approval and an intervention are recorded once"
    );
    // Decided again (no longer counted): recorded again, with why.
    let mut ignored = after.clone();
    ignored.approvals =
        serde_json::from_value(recorded(false, "ignored: stale")).expect("approvals");
    let again = transitions(&after, &ignored, &[approval], &[], at(140).0);
    assert_eq!(kinds(&again), [RecordKind::Approval]);
    assert_eq!(again[0].data["accepted"], json!(false));
    assert_eq!(again[0].data["reason"], json!("ignored: stale"));

    // Twenty listed and more not: the new one is the last listed.
    let listed = |n: i64, not_listed: u32| {
        status(json!({
            "phase": "Running", "startedAt": at(0),
            "interventions": (n - 20..n).map(|i| intervention("resume", &format!("p{i}"), 200 + i)).collect::<Vec<_>>(),
            "interventionsNotListed": not_listed
        }))
    };
    let capped = transitions(&listed(25, 5), &listed(26, 6), &[], &[], at(300).0);
    assert_eq!(kinds(&capped), [RecordKind::Intervention]);
    assert_eq!(capped[0].data["by"], json!("p25"));

    // A release notice, at its release.
    let notice: crate::engine::notice::ReleaseNotice = serde_json::from_value(json!({
        "plan": "ward/p", "system": "ward/pas", "displayName": "Patient Administration",
        "stage": "ward", "audience": "Ward 7B staff", "releasedAt": at(150),
        "checks": [{ "name": "login", "passed": true, "runs": 3 }],
        "handBack": [{ "item": "back-enter admissions" }]
    }))
    .expect("a notice");
    let told = transitions(
        &after,
        &after,
        &[],
        std::slice::from_ref(&notice),
        at(160).0,
    );
    assert_eq!(kinds(&told), [RecordKind::Notice]);
    assert_eq!(told[0].at, at(150));
    assert_eq!(told[0].system.as_deref(), Some("ward/pas"));
    assert_eq!(told[0].data, serde_json::to_value(&notice).expect("json"));
}
