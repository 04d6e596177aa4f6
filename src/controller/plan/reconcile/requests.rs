//! The requests people leave on a plan as annotations: `lifeline retry` (retry a failed
//! system) and `lifeline restore` (restore a verified one again).

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use tracing::{info, warn};

use crate::api::v1alpha1::{RETRY_ANNOTATION_PREFIX, RecoveryPlan, RecoveryPlanStatus};
use crate::controller::plan::interventions::Acted;
use crate::engine::{self, PlanModel};

/// Carries out `lifeline retry` requests: the plan's `retry.lifeline.dev/<system>`
/// annotation (`<namespace>.retry.lifeline.dev/<system>` for a system in another
/// namespace, [`engine::names::requested_system`]) with a token the system has not yet
/// acted on.
pub(super) fn apply_retries(
    plan: &RecoveryPlan,
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
) -> Vec<Acted> {
    let mut acted = Vec::new();
    let ns = plan.namespace().unwrap_or_default();
    for (key, token) in plan.annotations() {
        let Some(full) = engine::names::requested_system(RETRY_ANNOTATION_PREFIX, &ns, key) else {
            continue;
        };
        let Some(i) = model.find(&full) else { continue };
        let done = status
            .systems
            .get(i)
            .is_some_and(|s| s.retry_token.as_deref() == Some(token.as_str()));
        if done {
            continue;
        }
        let refused = match engine::retry(model, status, &full) {
            Ok(()) => {
                info!(plan = %plan.name_any(), system = %full, "retrying a failed system");
                None
            }
            Err(e) => {
                info!(plan = %plan.name_any(), system = %full, reason = %e, "retry request ignored");
                Some(e.to_string())
            }
        };
        if let Some(s) = status.systems.get_mut(i) {
            s.retry_token = Some(token.clone());
        }
        acted.push(Acted {
            action: crate::api::v1alpha1::InterventionAction::Retry,
            system: full,
            token: token.clone(),
            refused,
        });
    }
    acted
}

/// Carries out `lifeline restore` requests: the plan's `restore.lifeline.dev/<system>`
/// annotation (`<namespace>.restore.lifeline.dev/<system>` for another namespace) holding a [`RestoreRequest`](crate::api::v1alpha1::RestoreRequest) whose
/// token the system has not yet acted on. A refused one says why in the system's message.
pub(super) fn apply_restores(
    plan: &RecoveryPlan,
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
    now: Timestamp,
) -> Vec<Acted> {
    let mut acted = Vec::new();
    let ns = plan.namespace().unwrap_or_default();
    for (key, value) in plan.annotations() {
        let Some(full) = engine::names::requested_system(
            crate::api::v1alpha1::RESTORE_ANNOTATION_PREFIX,
            &ns,
            key,
        ) else {
            continue;
        };
        let Some(i) = model.find(&full) else { continue };
        let request: crate::api::v1alpha1::RestoreRequest = match serde_json::from_str(value) {
            Ok(r) => r,
            Err(e) => {
                warn!(plan = %plan.name_any(), system = %full, error = %e, "ignoring a malformed restore request (annotation {key})");
                continue;
            }
        };
        let done = status
            .systems
            .get(i)
            .is_some_and(|s| s.restore_token.as_deref() == Some(request.token.as_str()));
        if done {
            continue;
        }
        let outcome = engine::restore_again(
            model,
            status,
            &full,
            request.from_step.as_deref(),
            request.force,
            now,
        );
        if let Some(s) = status.systems.get_mut(i) {
            s.restore_token = Some(request.token.clone());
            let refused = match outcome {
                Ok(()) => {
                    info!(plan = %plan.name_any(), system = %full, from_step = ?request.from_step, force = request.force, "restoring a system again");
                    None
                }
                Err(e) => {
                    info!(plan = %plan.name_any(), system = %full, reason = %e, "restore request refused");
                    s.message = Some(format!("restore again refused: {e}"));
                    Some(e.to_string())
                }
            };
            acted.push(Acted {
                action: crate::api::v1alpha1::InterventionAction::Restore,
                system: full,
                token: request.token.clone(),
                refused,
            });
        }
    }
    acted
}
