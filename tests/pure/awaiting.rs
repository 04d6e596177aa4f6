//! What people are told waits for them: each time systems come to wait at a stage, an
//! `AwaitingApproval` Event and its webhook notification name the systems that newly
//! wait there, also when the stage already awaits a decision about others.

use crate::fixture::*;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::Event;
use lifeline::{
    api::v1alpha1::{AwaitingStage, PlanPhase, RecoveryPlan, RecoveryPlanStatus},
    controller::{notify::for_event, plan::events::transitions},
    engine::PlanModel,
};

/// The plan "recovery" of epr and pas (namespace "ward").
fn plan() -> RecoveryPlan {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "recovery", "namespace": NS, "uid": "uid-1" },
        "spec": { "systems": { "names": ["epr", "pas"] } }
    }))
    .expect("a plan")
}

fn model() -> PlanModel {
    must_plan(&[sys("epr").gate(), sys("pas").gate()], settings())
}

fn reference() -> ObjectReference {
    ObjectReference {
        kind: Some("RecoveryPlan".into()),
        name: Some("recovery".into()),
        namespace: Some(NS.into()),
        uid: Some("uid-1".into()),
        ..Default::default()
    }
}

/// Stage pilot-ward awaiting `needed` more approvals (of 2) for `systems`.
fn awaits(systems: &[&str], needed: u32) -> AwaitingStage {
    AwaitingStage {
        stage: "pilot-ward".into(),
        systems: systems.iter().map(|s| key(s)).collect(),
        needed,
        required: 2,
        from: "clinical-safety-officers".into(),
        ..Default::default()
    }
}

/// A status awaiting approval with `awaiting`.
fn waiting(awaiting: Vec<AwaitingStage>) -> RecoveryPlanStatus {
    RecoveryPlanStatus {
        phase: PlanPhase::AwaitingApproval,
        awaiting,
        ..Default::default()
    }
}

/// The `AwaitingApproval` Events from `prev` to `next`.
fn told(prev: &RecoveryPlanStatus, next: &RecoveryPlanStatus) -> Vec<Event> {
    transitions(&model(), &reference(), prev, next)
        .into_iter()
        .filter(|e| e.reason == "AwaitingApproval")
        .collect()
}

#[test]
fn a_system_that_comes_to_wait_at_a_stage_already_awaiting_approval_is_told_by_name() {
    let none = RecoveryPlanStatus {
        phase: PlanPhase::Running,
        ..Default::default()
    };
    let epr = waiting(vec![awaits(&["epr"], 2)]);
    let first = told(&none, &epr);
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].note.as_deref(),
        Some(
            "stage pilot-ward awaits 2 more approvals (of 2) from clinical-safety-officers for epr"
        )
    );

    // pas is verified later and joins epr at pilot-ward, needing the same: one Event,
    // naming pas alone (epr's wait was told already).
    let both = waiting(vec![awaits(&["epr", "pas"], 2)]);
    let joined = told(&epr, &both);
    assert_eq!(joined.len(), 1, "one Event for pas");
    let note = joined[0].note.as_deref().unwrap_or_default();
    assert_eq!(
        note,
        "stage pilot-ward awaits 2 more approvals (of 2) from clinical-safety-officers for pas"
    );
    assert_eq!(
        joined[0]
            .secondary
            .as_ref()
            .and_then(|r| r.field_path.as_deref()),
        Some("spec.stages{pilot-ward}.systems{pas}"),
        "its own series, not a count on epr's"
    );

    // Its webhook notification says the same, under an id of its own (a receiver that
    // deduplicates by id does not drop it as epr's again), with what the stage awaits.
    let plan = plan();
    let n = for_event(&plan, &both, &joined[0]).expect("AwaitingApproval is notified");
    let earlier = for_event(&plan, &epr, &first[0]).expect("notified");
    assert_eq!(n.reason, "AwaitingApproval");
    assert_eq!(n.message, note);
    assert_ne!(n.id, earlier.id);
    assert_eq!(n.awaiting, both.awaiting);

    // One approval of pas: it still waits at the stage, for less; nobody is told again.
    let pas_approved_once = waiting(vec![awaits(&["epr"], 2), awaits(&["pas"], 1)]);
    assert!(told(&both, &pas_approved_once).is_empty());
}

#[test]
fn a_system_that_comes_to_wait_beside_one_held_by_a_rejection_is_told_it_awaits_approval() {
    let held = AwaitingStage {
        halted: Some("rejected by carol: results not reconciled".into()),
        needed: 0,
        ..awaits(&["epr"], 2)
    };
    let before = waiting(vec![held.clone()]);
    let after = waiting(vec![held, awaits(&["pas"], 2)]);
    let events = transitions(&model(), &reference(), &before, &after);
    let notes: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.reason.as_str(), e.note.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        notes,
        [(
            "AwaitingApproval",
            "stage pilot-ward awaits 2 more approvals (of 2) from clinical-safety-officers for pas"
        )],
        "epr's rejection is not told again; pas awaits a decision of its own"
    );
}
