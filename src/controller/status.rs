//! Writing a plan's status: server-side apply on the status subresource with one field
//! manager, only when something other than a timestamp changed, with conditions whose
//! `lastTransitionTime` is kept while their status stays the same.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{Context, FIELD_MANAGER};
use crate::{
    api::v1alpha1::{PlanPhase, RecoveryPlan, RecoveryPlanStatus},
    error::{Error, KubeContext},
};

/// Condition type: the plan is valid and the operator is acting on it.
pub const READY: &str = "Ready";
/// Condition type: systems are being restored or verified.
pub const PROGRESSING: &str = "Progressing";

/// A condition to set: type, whether it holds, reason and message.
pub struct NewCondition<'a> {
    /// The condition type.
    pub type_: &'a str,
    /// Whether it holds.
    pub status: bool,
    /// A CamelCase reason.
    pub reason: &'a str,
    /// For people.
    pub message: String,
}

/// Sets a condition, keeping its `lastTransitionTime` when its status did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    new: NewCondition<'_>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let NewCondition {
        type_,
        status,
        reason,
        message,
    } = new;
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

fn progressing(status: &RecoveryPlanStatus) -> (bool, &'static str, String) {
    let progress = status.progress.clone().unwrap_or_default();
    match status.phase {
        PlanPhase::Running => (true, "Restoring", format!("{progress} systems verified")),
        PlanPhase::Pending => (true, "Starting", "starting".to_string()),
        PlanPhase::AwaitingApproval => (
            false,
            "AwaitingApproval",
            format!("{progress} systems verified; a release stage awaits approval"),
        ),
        PlanPhase::Paused => (false, "Paused", "spec.paused is set".to_string()),
        PlanPhase::Succeeded => (false, "Succeeded", format!("{progress} systems verified")),
        PlanPhase::Failed => (false, "Failed", {
            let failed: Vec<&str> = status
                .systems
                .iter()
                .filter(|s| s.phase == crate::api::v1alpha1::SystemPhase::Failed)
                .map(|s| s.name.as_str())
                .collect();
            format!("failed: {}", failed.join(", "))
        }),
        PlanPhase::Aborted => (false, "Aborted", "spec.abort is set".to_string()),
    }
}

async fn apply(
    ctx: &Context,
    plan: &RecoveryPlan,
    status: &RecoveryPlanStatus,
) -> Result<(), Error> {
    let ns = plan.namespace().unwrap_or_default();
    let name = plan.name_any();
    let api: Api<RecoveryPlan> = Api::namespaced(ctx.client.clone(), &ns);
    let body = json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .during(|| format!("write the status of RecoveryPlan {ns}/{name}"))?;
    Ok(())
}

/// Writes `next` (with conditions filled in) if it differs from `prev`.
pub async fn write(
    ctx: &Context,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    now: Timestamp,
) -> Result<(), Error> {
    let generation = plan.metadata.generation;
    let mut conditions = prev.conditions.clone();
    set_condition(
        &mut conditions,
        &prev.conditions,
        NewCondition {
            type_: READY,
            status: true,
            reason: "Planned",
            message: format!("{} systems in restore order", next.systems.len()),
        },
        generation,
        now,
    );
    let (on, reason, message) = progressing(next);
    set_condition(
        &mut conditions,
        &prev.conditions,
        NewCondition {
            type_: PROGRESSING,
            status: on,
            reason,
            message,
        },
        generation,
        now,
    );
    next.conditions = conditions;
    if next == prev {
        return Ok(());
    }
    apply(ctx, plan, next).await
}

/// Records that the plan cannot run, and why, leaving what was recorded about systems.
pub async fn write_invalid(ctx: &Context, plan: &RecoveryPlan, message: &str) -> Result<(), Error> {
    let prev = plan.status.clone().unwrap_or_default();
    let mut next = prev.clone();
    next.observed_generation = plan.metadata.generation;
    let now = Timestamp::now();
    let mut conditions = prev.conditions.clone();
    set_condition(
        &mut conditions,
        &prev.conditions,
        NewCondition {
            type_: READY,
            status: false,
            reason: "InvalidPlan",
            message: message.to_string(),
        },
        plan.metadata.generation,
        now,
    );
    set_condition(
        &mut conditions,
        &prev.conditions,
        NewCondition {
            type_: PROGRESSING,
            status: false,
            reason: "InvalidPlan",
            message: "fix the plan or its ClinicalSystems; nothing runs until then".to_string(),
        },
        plan.metadata.generation,
        now,
    );
    next.conditions = conditions;
    if next == prev {
        return Ok(());
    }
    apply(ctx, plan, &next).await
}
