//! Hand-back to staff, against the cluster: each system's `release.handBack` items, and
//! who completed each, from the hand-back Interventions people made with `lifeline
//! handback` (whose requester the API server checked on create). The progress itself is
//! worked out by [`crate::engine::run::hand_back`].

use kube::ResourceExt;

use crate::api::v1alpha1::{Intervention, InterventionAction, RecoveryPlan, RecoveryPlanStatus};
use crate::controller::Context;
use crate::engine::{
    PlanModel,
    run::hand_back::{Done, progress},
};
use crate::error::Error;

/// Sets each system's `handBack` in `status`: its items and who did each since its latest
/// restore. Lists the plan's Interventions only when a released system has items.
pub async fn update(
    ctx: &Context,
    plan: &RecoveryPlan,
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
) -> Result<(), Error> {
    let any_released = model
        .systems
        .iter()
        .zip(&status.systems)
        .any(|(m, s)| !m.hand_back.is_empty() && !s.releases.is_empty());
    let mut done: Vec<(String, Done)> = Vec::new();
    if any_released {
        let ns = plan.namespace().unwrap_or_default();
        let (interventions, _bad) = ctx.parsed_in::<Intervention>(&ns).await?;
        for i in interventions
            .iter()
            .filter(|i| i.spec.action == InterventionAction::HandBack)
            .filter(|i| super::interventions::for_plan(i, plan))
        {
            let (Some(system), Some(item), Some(at)) = (
                i.spec.system.as_deref(),
                i.spec.item.clone(),
                i.metadata.creation_timestamp.as_ref(),
            ) else {
                continue;
            };
            let key = if system.contains('/') {
                system.to_string()
            } else {
                format!("{ns}/{system}")
            };
            done.push((
                key,
                Done {
                    item,
                    by: i.spec.requester.username.clone(),
                    groups: i.spec.requester.groups.clone(),
                    at: at.0,
                    request: i.name_any(),
                    comment: i.spec.reason.clone(),
                },
            ));
        }
    }
    for (m, s) in model.systems.iter().zip(status.systems.iter_mut()) {
        if m.key != s.name {
            continue;
        }
        if m.hand_back.is_empty() {
            s.hand_back.clear();
            continue;
        }
        // Only once released: before that, nobody has it back to hand over to.
        let mine: Vec<Done> = if s.releases.is_empty() {
            Vec::new()
        } else {
            done.iter()
                .filter(|(k, _)| k == &s.name)
                .map(|(_, d)| d.clone())
                .collect()
        };
        let since = s.restored_again.last().map(|r| r.at.0);
        let items = progress(&m.hand_back, &mine, since);
        if s.hand_back != items {
            s.hand_back = items;
        }
    }
    Ok(())
}
