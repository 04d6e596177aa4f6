//! The manual restore steps of a plan waiting for people to confirm them, and what the
//! Approvals say of each.

use std::collections::HashMap;

use crate::api::v1alpha1::{
    ActionPhase, ClinicalSystem, RecoveryPlan, RecoveryPlanStatus, SystemPhase,
};
use crate::engine::{self, PlanModel};

/// The manual steps running now that wait for people to confirm them.
pub(super) fn awaiting_steps(
    plan: &RecoveryPlan,
    model: &PlanModel,
    by_key: &HashMap<String, &ClinicalSystem>,
    status: &RecoveryPlanStatus,
    approvals: &[crate::api::v1alpha1::Approval],
) -> Vec<crate::api::v1alpha1::AwaitingStep> {
    let mut out = Vec::new();
    for (i, s) in status.systems.iter().enumerate() {
        if s.phase != SystemPhase::Restoring {
            continue;
        }
        let (Some(m), Some(cs)) = (model.systems.get(i), by_key.get(&s.name)) else {
            continue;
        };
        let Some(k) = s
            .steps
            .iter()
            .position(|st| st.phase == ActionPhase::Running)
        else {
            continue;
        };
        let Some(crate::api::v1alpha1::StepAction::Manual(manual)) =
            cs.spec.steps().get(k).and_then(|st| st.action())
        else {
            continue;
        };
        if let Some(engine::approvals::Confirmation::Waiting { by, needed }) =
            confirmation_of(plan, model, by_key, approvals, &s.name, k)
        {
            out.push(crate::api::v1alpha1::AwaitingStep {
                system: s.name.clone(),
                step: m.steps[k].clone(),
                instructions: engine::approvals::truncate(&manual.instructions, 1024),
                needed,
                required: manual.required.unwrap_or(1),
                from: if manual.approver_groups.is_empty() {
                    "anyone who may create Approvals here".into()
                } else {
                    manual.approver_groups.join(" or ")
                },
                confirmed_by: by,
            });
        }
    }
    out
}

/// What the Approvals say about manual step `k` of `system` ("namespace/name"), if that
/// step is a manual one.
pub(super) fn confirmation_of(
    plan: &RecoveryPlan,
    model: &PlanModel,
    by_key: &HashMap<String, &ClinicalSystem>,
    approvals: &[crate::api::v1alpha1::Approval],
    system: &str,
    k: usize,
) -> Option<engine::approvals::Confirmation> {
    let m = &model.systems[model.find(system)?];
    let cs = by_key.get(system)?;
    let Some(crate::api::v1alpha1::StepAction::Manual(manual)) =
        cs.spec.steps().get(k).and_then(|st| st.action())
    else {
        return None;
    };
    Some(engine::approvals::step_confirmation(
        approvals,
        &engine::approvals::PlanFacts::confirming(plan),
        system,
        m.steps.get(k)?,
        &engine::approvals::StepRule {
            required: manual.required.unwrap_or(1),
            groups: &manual.approver_groups,
            since: plan.spec.incident_started_at.as_ref().map(|t| t.0),
        },
    ))
}
