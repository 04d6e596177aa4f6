//! A RecoveryPlan's spec as the engine's [`PlanSettings`]: parallelism, failure policy
//! and release stages. Pure; used by the controller and by `lifeline plan`/`simulate`.

use super::{PlanSettings, StageModel};
use crate::api::v1alpha1::RecoveryPlan;

/// The engine's view of a RecoveryPlan's settings.
pub fn settings_of(plan: &RecoveryPlan) -> PlanSettings {
    PlanSettings {
        parallelism: plan.spec.parallelism,
        failure_policy: plan.spec.failure_policy,
        stages: plan
            .spec
            .stages
            .iter()
            .map(|s| StageModel {
                name: s.name.clone(),
                approval: s.approval.clone(),
                checklist: s.checklist.clone(),
                decision_time: s
                    .expected_decision_time
                    .as_ref()
                    .and_then(|d| d.parse().ok()),
                soak: s.soak.as_ref().and_then(|d| d.parse().ok()),
            })
            .collect(),
        incident_started_at: plan.spec.incident_started_at.as_ref().map(|t| t.0),
        held_elsewhere: Default::default(),
    }
}
