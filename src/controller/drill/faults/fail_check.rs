//! `failCheck`: nothing to do to the cluster. The drill's plan carries the fault in
//! `spec.drill.failChecks`, and the plan's own check runner fails the check while it is in
//! force (this is where it asks); the drill proves it from the plan's record of the failure.

use kube::ResourceExt;

use crate::{
    api::v1alpha1::{Check, ClinicalSystem, RecoveryPlan},
    engine::drill::faults::forced_failure,
};

/// Why `check` of `system` fails on purpose at `now`, if `plan` was created by a drill with
/// a `failCheck` fault for it that is still in force.
pub fn forced(
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    check: &Check,
    now: k8s_openapi::jiff::Timestamp,
) -> Option<String> {
    forced_failure(
        plan.spec.drill.as_ref(),
        &system.name_any(),
        &check.name,
        now,
    )
}
