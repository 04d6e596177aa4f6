//! Writing a plan's status: its conditions filled in (kept stable while their status stays
//! the same, [`crate::engine::conditions`]) and written only when something changed.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::{
    api::v1alpha1::{RecoveryPlan, RecoveryPlanStatus},
    controller::{Context, cluster},
    engine::conditions,
    error::Error,
};

/// Writes `next` (with conditions filled in) if it differs from `prev`.
pub async fn write(
    ctx: &Context,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    now: Timestamp,
) -> Result<(), Error> {
    conditions::plan_valid(prev, next, plan.metadata.generation, now);
    let ns = plan.namespace().unwrap_or_default();
    cluster::apply_status::<RecoveryPlan, _>(&ctx.client, &ns, &plan.name_any(), prev, next).await
}

/// Records that the plan cannot run, and why, leaving what was recorded about systems.
pub async fn write_invalid(ctx: &Context, plan: &RecoveryPlan, message: &str) -> Result<(), Error> {
    let prev = plan.status.clone().unwrap_or_default();
    let mut next = prev.clone();
    next.observed_generation = plan.metadata.generation;
    conditions::plan_invalid(
        &prev,
        &mut next,
        message,
        plan.metadata.generation,
        Timestamp::now(),
    );
    let ns = plan.namespace().unwrap_or_default();
    cluster::apply_status::<RecoveryPlan, _>(&ctx.client, &ns, &plan.name_any(), &prev, &next).await
}
