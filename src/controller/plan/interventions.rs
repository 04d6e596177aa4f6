//! Who intervened: each pause, resume, abort, retry and restore the operator acts on, and
//! each manual step people confirm or reject, goes into the plan's status with the person
//! who asked. The person comes from the Intervention (or Approval) that asked, whose
//! requester the API server checked on create; a change made to the plan directly,
//! without one, is recorded as by "unknown".

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::ResourceExt;

use crate::api::v1alpha1::{
    ActionPhase, Approval, Decision, Intervention, InterventionAction, InterventionKind,
    InterventionRecord, PlanPhase, RecoveryPlan, RecoveryPlanStatus,
};
use crate::controller::Context;
use crate::error::Error;

/// How long before the operator sees a pause, resume or abort the Intervention asking for
/// it may have been made.
pub const ATTRIBUTION_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// The most interventions a plan's status lists.
pub const LISTED: usize = 50;

/// A request the operator acted on in this reconcile: a retry or restore (by its token),
/// with why it was refused, if it was.
#[derive(Clone, Debug)]
pub struct Acted {
    /// Retry or restore.
    pub action: InterventionAction,
    /// "namespace/name".
    pub system: String,
    /// The token it carried: the Intervention's name, when `lifeline` made it.
    pub token: String,
    /// Why it was refused.
    pub refused: Option<String>,
}

/// The changes of this reconcile that people asked for, without who: pauses, resumes and
/// an abort seen between `prev` and `next`, and the requests in `acted`.
fn asked<'a>(
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
    acted: &'a [Acted],
) -> Vec<(InterventionAction, Option<&'a Acted>)> {
    let mut out: Vec<(InterventionAction, Option<&Acted>)> = Vec::new();
    match (prev.paused_since.is_some(), next.paused_since.is_some()) {
        (false, true) => out.push((InterventionAction::Pause, None)),
        (true, false) => out.push((InterventionAction::Resume, None)),
        _ => {}
    }
    if prev.phase != PlanPhase::Aborted && next.phase == PlanPhase::Aborted {
        out.push((InterventionAction::Abort, None));
    }
    out.extend(acted.iter().map(|a| (a.action, Some(a))));
    out
}

/// Whether the Intervention `i` is one for `plan`.
pub(super) fn for_plan(i: &Intervention, plan: &RecoveryPlan) -> bool {
    i.spec.plan == plan.name_any()
        && (i.spec.plan_uid.is_none() || i.spec.plan_uid == plan.uid())
        && match (
            &plan.metadata.creation_timestamp,
            &i.metadata.creation_timestamp,
        ) {
            (Some(p), Some(c)) => c.0 >= p.0,
            _ => true,
        }
}

fn record(
    action: InterventionKind,
    system: Option<String>,
    now: Timestamp,
    from: Option<&Intervention>,
    refused: Option<String>,
) -> InterventionRecord {
    InterventionRecord {
        action,
        system,
        step: None,
        by: from.map_or_else(|| "unknown".into(), |i| i.spec.requester.username.clone()),
        groups: from
            .map(|i| i.spec.requester.groups.clone())
            .unwrap_or_default(),
        vouched: from.is_some(),
        request: from.map(|i| i.name_any()),
        reason: from.and_then(|i| i.spec.reason.clone()),
        requested_at: from.and_then(|i| i.metadata.creation_timestamp.clone()),
        at: Time(now),
        refused,
    }
}

fn kind(a: InterventionAction) -> InterventionKind {
    match a {
        InterventionAction::Pause => InterventionKind::Pause,
        InterventionAction::Resume => InterventionKind::Resume,
        InterventionAction::Abort => InterventionKind::Abort,
        InterventionAction::Retry => InterventionKind::Retry,
        InterventionAction::Restore => InterventionKind::Restore,
        InterventionAction::HandBack => InterventionKind::HandBack,
    }
}

/// What a reconcile saw people ask for.
pub struct Asked<'a> {
    /// The retries and restores it acted on.
    pub acted: &'a [Acted],
    /// The plan's Approvals (confirmations of manual steps among them).
    pub approvals: &'a [Approval],
    /// The people whose confirmations of step `k` of a system ("namespace/name") counted.
    pub confirmed_by: &'a (dyn Fn(&str, usize) -> Vec<String> + Sync),
}

/// Records in `next` the interventions of this reconcile, with who asked: an
/// Intervention is listed only when there is one to record.
pub async fn record_all(
    ctx: &Context,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    seen: Asked<'_>,
    now: Timestamp,
) -> Result<(), Error> {
    let Asked {
        acted,
        approvals,
        confirmed_by,
    } = seen;
    let mut new = Vec::new();
    let asked = asked(prev, next, acted);
    if !asked.is_empty() {
        let ns = plan.namespace().unwrap_or_default();
        // Listed, not read from the cache: the CLI creates the Intervention just before
        // the change that woke this reconcile, and the cache's watch may not have it yet.
        let (interventions, bad) =
            crate::controller::list_parsed::<Intervention>(&ctx.client, &ns).await?;
        for (name, e) in bad {
            tracing::warn!(intervention = %format!("{ns}/{name}"), error = %e, "ignoring a malformed Intervention");
        }
        let mine: Vec<&Intervention> = interventions.iter().filter(|i| for_plan(i, plan)).collect();
        let recorded = |name: &str| {
            next.interventions
                .iter()
                .any(|r| r.request.as_deref() == Some(name))
        };
        for (action, request) in asked {
            let from = match request {
                // A retry or restore names its Intervention by its token.
                Some(a) => mine.iter().copied().find(|i| {
                    i.name_any() == a.token
                        && i.spec.action == action
                        && i.spec
                            .system
                            .as_deref()
                            .is_some_and(|s| s == a.system || a.system.ends_with(&format!("/{s}")))
                }),
                // A pause, resume or abort: the latest of its kind not yet recorded, made
                // within the last minutes (an Intervention whose change never came, the
                // CLI stopped between the two, must not vouch for a later direct edit).
                None => mine
                    .iter()
                    .copied()
                    .filter(|i| i.spec.action == action && !recorded(&i.name_any()))
                    .filter(|i| {
                        i.metadata.creation_timestamp.as_ref().is_some_and(|c| {
                            crate::engine::time::elapsed(c.0, now) <= ATTRIBUTION_WINDOW
                        })
                    })
                    .max_by_key(|i| i.metadata.creation_timestamp.as_ref().map(|t| t.0)),
            };
            new.push(record(
                kind(action),
                request.map(|a| a.system.clone()),
                now,
                from,
                request.and_then(|a| a.refused.clone()),
            ));
        }
    }
    // Manual steps people finished: each who confirmed it, or who rejected it.
    for (i, s) in next.systems.iter().enumerate() {
        let Some(before) = prev.system(i, &s.name) else {
            continue;
        };
        for (k, step) in s.steps.iter().enumerate() {
            let was_running = before
                .steps
                .get(k)
                .is_some_and(|b| b.phase == ActionPhase::Running && b.name == step.name);
            if !was_running || !matches!(step.phase, ActionPhase::Succeeded | ActionPhase::Failed) {
                continue;
            }
            // The people whose confirmations counted (one Approval each), or those who
            // rejected it.
            let counted = confirmed_by(&s.name, k);
            let mut seen: Vec<&str> = Vec::new();
            for a in approvals.iter().filter(|a| {
                a.spec.plan == plan.name_any()
                    && a.spec.step.as_deref() == Some(step.name.as_str())
                    && a.spec
                        .system
                        .as_deref()
                        .is_some_and(|x| x == s.name || s.name.ends_with(&format!("/{x}")))
                    && (a.spec.plan_uid.is_none() || a.spec.plan_uid == plan.uid())
                    && (step.phase == ActionPhase::Failed) == (a.spec.decision == Decision::Reject)
                    && (a.spec.decision == Decision::Reject
                        || counted.contains(&a.spec.approver.username))
            }) {
                if seen.contains(&a.spec.approver.username.as_str()) {
                    continue;
                }
                seen.push(&a.spec.approver.username);
                new.push(InterventionRecord {
                    action: if a.spec.decision == Decision::Reject {
                        InterventionKind::Reject
                    } else {
                        InterventionKind::Confirm
                    },
                    system: Some(s.name.clone()),
                    step: Some(step.name.clone()),
                    by: a.spec.approver.username.clone(),
                    groups: a.spec.approver.groups.clone(),
                    vouched: true,
                    request: Some(a.name_any()),
                    reason: a
                        .spec
                        .comment
                        .as_deref()
                        .map(|c| crate::engine::approvals::truncate(c, 512)),
                    requested_at: a.metadata.creation_timestamp.clone(),
                    at: Time(now),
                    refused: None,
                });
            }
        }
    }
    if new.is_empty() {
        return Ok(());
    }
    next.interventions.extend(new);
    let excess = next.interventions.len().saturating_sub(LISTED);
    if excess > 0 {
        next.interventions.drain(..excess);
        next.interventions_not_listed = next
            .interventions_not_listed
            .saturating_add(u32::try_from(excess).unwrap_or(u32::MAX));
    }
    Ok(())
}
