//! What a drill's reconcile adds to the record of its current run.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use serde_json::{Value, json};

use super::{Body, body};
use crate::api::v1alpha1::RecordKind;

/// Everything a drill reconcile adds to the record of its current run, in order: the
/// phase, the pre-drill state once recorded, each fault injected, proven and lifted, the
/// recovery plan created, each system's measured recovery, each approval, what the revert
/// put back, and the outcome. `prev` is the status before (its run, if the same run).
pub fn drill_transitions(
    prev: &crate::api::v1alpha1::RecoveryDrillStatus,
    next: &crate::api::v1alpha1::RecoveryDrillStatus,
    now: Timestamp,
) -> Vec<Body> {
    let now = Time(now);
    let Some(run) = &next.run else {
        return Vec::new();
    };
    let before = prev.run.as_ref().filter(|r| r.number == run.number);
    let mut out = Vec::new();
    let phase_changed = prev.phase != next.phase || before.is_none();
    let outcome_new = run.outcome.is_some() && before.and_then(|b| b.outcome) != run.outcome;
    if phase_changed || outcome_new {
        out.push(body(
            &now,
            RecordKind::DrillPhase,
            None,
            json!({
                "from": prev.phase,
                "to": next.phase,
                "run": run.number,
                "trigger": run.trigger,
                "message": next.message,
                "outcome": run.outcome,
                "reason": run.reason,
                "held": next.held,
            }),
        ));
    }
    if !run.pre_state.is_empty() && before.is_none_or(|b| b.pre_state.is_empty()) {
        out.push(body(
            &now,
            RecordKind::PreDrillState,
            None,
            json!({ "objects": run.pre_state }),
        ));
    }
    for f in &run.faults {
        let old = before.and_then(|b| {
            b.faults
                .iter()
                .find(|o| o.system == f.system && o.kind == f.kind && o.target == f.target)
        });
        let newly = |a: Option<&Time>, b: Option<&Time>| a.is_some() && b.is_none();
        for (what, at, was) in [
            (
                "injected",
                f.injected_at.as_ref(),
                old.and_then(|o| o.injected_at.as_ref()),
            ),
            (
                "proven",
                f.proven_at.as_ref(),
                old.and_then(|o| o.proven_at.as_ref()),
            ),
            (
                "lifted",
                f.lifted_at.as_ref(),
                old.and_then(|o| o.lifted_at.as_ref()),
            ),
        ] {
            if newly(at, was) {
                out.push(body(
                    at.unwrap_or(&now),
                    RecordKind::Fault,
                    Some(&f.system),
                    json!({
                        "event": what,
                        "kind": f.kind,
                        "target": f.target,
                        "proof": if what == "proven" { f.proof.clone() } else { None },
                        "podUids": if what == "proven" { f.pod_uids.clone() } else { Vec::new() },
                    }),
                ));
            }
        }
    }
    if run.plan.is_some() && before.is_none_or(|b| b.plan.is_none()) {
        out.push(body(
            run.recovery_started_at.as_ref().unwrap_or(&now),
            RecordKind::DrillRecovery,
            None,
            json!({ "plan": run.plan }),
        ));
    }
    for sys in &run.systems {
        let old = before.and_then(|b| b.systems.iter().find(|o| o.name == sys.name));
        let changed = old.is_none_or(|o| {
            o.phase != sys.phase
                || o.verified_at != sys.verified_at
                || o.fully_released_at != sys.fully_released_at
                || o.objective_met != sys.objective_met
        });
        if changed && (sys.verified_at.is_some() || sys.failed_at.is_some() || old.is_some()) {
            out.push(body(
                &now,
                RecordKind::DrillSystem,
                Some(&sys.name),
                serde_json::to_value(sys).unwrap_or(Value::Null),
            ));
        }
    }
    let approvals_before = before.map_or(0, |b| b.approvals.len());
    for a in run.approvals.iter().skip(approvals_before) {
        out.push(body(
            a.at.as_ref().unwrap_or(&now),
            RecordKind::DrillApproval,
            None,
            serde_json::to_value(a).unwrap_or(Value::Null),
        ));
    }
    let reverted_before = before.map_or(0, |b| b.reverted.len());
    if run.reverted.len() > reverted_before {
        out.push(body(
            &now,
            RecordKind::Revert,
            None,
            json!({ "putBack": run.reverted[reverted_before..] }),
        ));
    }
    out
}
