//! `failCheck`: nothing to do to the cluster. The drill's plan carries the fault in
//! `spec.drill.failChecks`, and the plan's own check runner fails the check while it is in
//! force (this is where it asks); the drill proves it from the plan's record of the failure.
//! The runner asks here too whether an `isolate` fault holds a check that connects to its
//! system (`spec.drill.isolations`): such a check is not tried while the isolation lasts.

use kube::ResourceExt;

use crate::{
    api::v1alpha1::{Check, ClinicalSystem, RecoveryPlan},
    engine::drill::faults::failed_by_drill,
};

/// Why `check` of `system` fails at `now` because of the drill that created `plan`, if it
/// does: a `failCheck` fault for it, or an isolation of the system, still in force.
pub fn forced(
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    check: &Check,
    now: k8s_openapi::jiff::Timestamp,
) -> Option<String> {
    failed_by_drill(plan.spec.drill.as_ref(), &system.name_any(), check, now)
}
