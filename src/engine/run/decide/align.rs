//! Keeping a status in step with the plan: one entry per system, step and check, in
//! the plan's order.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::v1alpha1::{CheckStatus, RecoveryPlanStatus, StepStatus, SystemStatus};
use crate::engine::plan::PlanModel;

/// Makes `status.systems` hold exactly one entry per system of the model, in restore
/// order, keeping what was recorded for systems already there (`now`, when known, is when
/// a new one joined).
pub(super) fn align(model: &PlanModel, status: &mut RecoveryPlanStatus, now: Option<Time>) {
    let in_order = status.systems.len() == model.systems.len()
        && status
            .systems
            .iter()
            .zip(&model.systems)
            .all(|(s, m)| s.name == m.key);
    if !in_order {
        let mut old: std::collections::HashMap<String, SystemStatus> = status
            .systems
            .drain(..)
            .map(|s| (s.name.clone(), s))
            .collect();
        // A system joining a plan already under way records when.
        let added_at = now.filter(|_| status.started_at.is_some());
        status.systems = model
            .systems
            .iter()
            .map(|m| {
                old.remove(&m.key).unwrap_or_else(|| SystemStatus {
                    name: m.key.clone(),
                    added_at: added_at.clone(),
                    ..Default::default()
                })
            })
            .collect();
    }
    for (s, m) in status.systems.iter_mut().zip(&model.systems) {
        s.tier = Some(m.tier);
        s.objective_seconds = Some(m.objective.as_secs());
        align_by_name(
            &mut s.steps,
            &m.steps,
            |x| &x.name,
            |n| StepStatus {
                name: n.to_string(),
                ..Default::default()
            },
        );
        align_by_name(
            &mut s.checks,
            &m.checks,
            |x| &x.name,
            |n| CheckStatus {
                name: n.to_string(),
                ..Default::default()
            },
        );
    }
}

/// Makes `items` hold one entry per name, in the order of `names`, keeping the entries
/// already there and creating the missing ones with `new`.
fn align_by_name<T>(
    items: &mut Vec<T>,
    names: &[String],
    name_of: impl Fn(&T) -> &str,
    new: impl Fn(&str) -> T,
) {
    let in_order =
        items.len() == names.len() && items.iter().zip(names).all(|(a, b)| name_of(a) == b);
    if in_order {
        return;
    }
    let mut old: std::collections::HashMap<String, T> = items
        .drain(..)
        .map(|x| (name_of(&x).to_string(), x))
        .collect();
    *items = names
        .iter()
        .map(|n| old.remove(n).unwrap_or_else(|| new(n)))
        .collect();
}
