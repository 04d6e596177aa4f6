//! What a plan's reconcile adds to its record: every change between the status before and
//! after (the plan's phase; each system's phase, steps, checks, releases, soaks,
//! regressions, data loss and hand-back), each release notice sent, each Approval as the operator saw
//! it, and each new intervention.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use serde_json::{Value, json};

use super::{Body, body};
use crate::api::v1alpha1::{Approval, RecordKind, RecoveryPlanStatus, SoakStatus, SystemStatus};
use crate::engine::time::seconds_between;

/// What changed in one system between `before` (none: new to the plan) and `after`.
fn system_transitions(
    before: Option<&SystemStatus>,
    after: &SystemStatus,
    now: &Time,
) -> Vec<Body> {
    let mut out = Vec::new();
    let name = Some(after.name.as_str());
    if before.map(|b| b.phase) != Some(after.phase) {
        out.push(body(
            now,
            RecordKind::SystemPhase,
            name,
            json!({
                "from": before.map(|b| b.phase),
                "to": after.phase,
                "tier": after.tier,
                "message": after.message,
                "blockedBy": after.blocked_by,
                "heldBy": after.held_by.as_ref().map(|h| &h.plan),
                "recoverySeconds": after.recovery_seconds,
                "objectiveSeconds": after.objective_seconds,
                "objectiveMet": after.objective_met,
            }),
        ));
    }
    for step in &after.steps {
        let old = before.and_then(|b| b.steps.iter().find(|s| s.name == step.name));
        let changed = old.is_none_or(|o| o.phase != step.phase || o.attempts != step.attempts);
        if changed && (old.is_some() || step.attempts > 0) {
            out.push(body(
                now,
                RecordKind::Step,
                name,
                json!({
                    "step": step.name,
                    "phase": step.phase,
                    "attempt": step.attempts,
                    "message": step.message,
                    "token": step.token,
                }),
            ));
        }
    }
    for check in &after.checks {
        let old = before.and_then(|b| b.checks.iter().find(|c| c.name == check.name));
        let changed = old.is_none_or(|o| {
            o.phase != check.phase
                || o.last_error != check.last_error
                || o.failing_since.is_some() != check.failing_since.is_some()
        });
        if changed && (old.is_some() || check.attempts > 0) {
            out.push(body(
                now,
                RecordKind::Check,
                name,
                json!({
                    "check": check.name,
                    "phase": check.phase,
                    "attempts": check.attempts + check.reruns,
                    "error": check.last_error,
                    "failing": check.failing_since.is_some(),
                }),
            ));
        }
    }
    let released_before = before.map_or(0, |b| b.releases.len());
    for r in after.releases.iter().skip(released_before) {
        out.push(body(
            &r.at,
            RecordKind::Release,
            name,
            json!({ "stage": r.stage }),
        ));
    }
    out.extend(soak_transitions(
        before.and_then(|b| b.soak.as_ref()),
        after.soak.as_ref(),
        name,
        now,
    ));
    if after.data_loss.is_some()
        && before.and_then(|b| b.data_loss.as_ref()) != after.data_loss.as_ref()
    {
        out.push(body(
            now,
            RecordKind::DataLoss,
            name,
            serde_json::to_value(&after.data_loss).unwrap_or(Value::Null),
        ));
    }
    for item in &after.hand_back {
        let Some(by) = &item.done_by else { continue };
        let known = before.is_some_and(|b| {
            b.hand_back
                .iter()
                .any(|o| o.item == item.item && o.request == item.request && o.done_by.is_some())
        });
        if !known {
            out.push(body(
                item.done_at.as_ref().unwrap_or(now),
                RecordKind::HandBack,
                name,
                json!({
                    "item": item.item,
                    "by": by,
                    "groups": item.groups,
                    "request": item.request,
                    "comment": item.comment,
                }),
            ));
        }
    }
    let regressions_before = before.map_or(0, |b| b.regression_count);
    if after.regression_count > regressions_before
        && let Some(r) = after.regressions.last()
    {
        out.push(body(
            &r.started_at,
            RecordKind::RegressionStarted,
            name,
            json!({ "check": r.check, "error": r.error, "withdrawn": r.withdrawn, "count": after.regression_count }),
        ));
    }
    for r in &after.regressions {
        let ended_before = before.is_some_and(|b| {
            b.regressions
                .iter()
                .any(|o| o.started_at == r.started_at && o.ended_at.is_some())
        });
        if let Some(end) = r.ended_at.as_ref().filter(|_| !ended_before) {
            out.push(body(
                end,
                RecordKind::RegressionEnded,
                name,
                json!({ "check": r.check, "startedAt": r.started_at, "seconds": r.seconds }),
            ));
        }
    }
    out
}

/// What changed in one system's soak between `old` and `new`: a soak at a stage started
/// (at release, or when its checks passed again after a hold), held by a failing check,
/// done, or cut short (the system left the stage before it was done: restored again, or
/// its release withdrawn).
fn soak_transitions(
    old: Option<&SoakStatus>,
    new: Option<&SoakStatus>,
    name: Option<&str>,
    now: &Time,
) -> Vec<Body> {
    let mut out = Vec::new();
    let same = old.filter(|o| new.is_some_and(|n| n.stage == o.stage));
    if let Some(o) = old.filter(|o| o.completed_at.is_none() && same.is_none()) {
        out.push(body(
            now,
            RecordKind::SoakEnded,
            name,
            json!({ "stage": o.stage, "completed": false, "since": o.since, "holds": o.holds }),
        ));
    }
    let Some(n) = new else {
        return out;
    };
    if let Some(since) = &n.since
        && same.is_none_or(|o| o.since.as_ref() != Some(since))
    {
        out.push(body(
            since,
            RecordKind::SoakStarted,
            name,
            json!({ "stage": n.stage, "since": since, "until": n.until, "holds": n.holds }),
        ));
    }
    if let Some(why) = &n.held_by
        && same.is_none_or(|o| o.held_by.is_none())
    {
        out.push(body(
            now,
            RecordKind::SoakHeld,
            name,
            json!({ "stage": n.stage, "heldBy": why, "holds": n.holds }),
        ));
    }
    if let Some(done) = &n.completed_at
        && same.is_none_or(|o| o.completed_at.is_none())
    {
        out.push(body(
            done,
            RecordKind::SoakEnded,
            name,
            json!({
                "stage": n.stage,
                "completed": true,
                "since": n.since,
                "holds": n.holds,
                "seconds": n.since.as_ref().and_then(|s| seconds_between(s.0, done.0)),
            }),
        ));
    }
    out
}

/// Everything a reconcile adds to the record, in order: the plan's phase (the first entry
/// also says what the run is measured from), each system's transitions (phase, steps,
/// checks, releases, soaks, regressions, data loss, hand-back), each release notice sent, each
/// Approval the operator decided on for the first time (copied in full from `approvals`:
/// approver, groups, comment, systems, acknowledged items) and each new intervention.
pub fn transitions(
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
    approvals: &[Approval],
    notices: &[crate::engine::notice::ReleaseNotice],
    now: Timestamp,
) -> Vec<Body> {
    let now = Time(now);
    let mut out = Vec::new();
    if prev.phase != next.phase || prev.started_at.is_none() {
        let mut data = json!({ "from": prev.phase, "to": next.phase, "progress": next.progress });
        if prev.started_at.is_none() {
            data["startedAt"] = json!(next.started_at);
            data["measuredFrom"] = json!(next.measured_from.as_ref().or(next.started_at.as_ref()));
        }
        out.push(body(&now, RecordKind::PlanPhase, None, data));
    }
    for (i, s) in next.systems.iter().enumerate() {
        let before = prev.system(i, &s.name);
        out.extend(system_transitions(before, s, &now));
    }
    for n in notices {
        out.push(body(
            &n.released_at,
            RecordKind::Notice,
            Some(&n.system),
            serde_json::to_value(n).unwrap_or(Value::Null),
        ));
    }
    for a in &next.approvals {
        let known = prev
            .approvals
            .iter()
            .any(|p| p.name == a.name && p.accepted == a.accepted && p.reason == a.reason);
        if known {
            continue;
        }
        let full = approvals
            .iter()
            .find(|x| x.metadata.name.as_deref() == Some(a.name.as_str()));
        out.push(body(
            &now,
            RecordKind::Approval,
            None,
            json!({
                "name": a.name,
                "stage": a.stage,
                "systems": a.systems,
                "decision": a.decision,
                "accepted": a.accepted,
                "reason": a.reason,
                "approver": full.map(|x| &x.spec.approver),
                "comment": full.and_then(|x| x.spec.comment.as_ref()),
                "acknowledged": full.map(|x| &x.spec.acknowledged),
                "planUid": full.and_then(|x| x.spec.plan_uid.as_ref()),
                "createdAt": a.at,
            }),
        ));
    }
    let known = prev.interventions.len() + prev.interventions_not_listed as usize;
    let now_total = next.interventions.len() + next.interventions_not_listed as usize;
    let new = now_total
        .saturating_sub(known)
        .min(next.interventions.len());
    for r in next
        .interventions
        .iter()
        .skip(next.interventions.len() - new)
    {
        out.push(body(
            &r.at,
            RecordKind::Intervention,
            r.system.as_deref(),
            serde_json::to_value(r).unwrap_or(Value::Null),
        ));
    }
    out
}
