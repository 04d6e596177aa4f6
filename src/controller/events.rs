//! Kubernetes Events for the transitions a person cares about: a system starts restoring,
//! is verified (with its recovery time against the objective), fails, is blocked, is
//! released; the plan finishes or awaits approval. The ones people act on also go to the
//! webhook, if one is configured ([`super::notify`]).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Resource,
    runtime::events::{Event, EventType},
};
use tracing::warn;

use super::Context;
use crate::{
    api::v1alpha1::{PlanPhase, RecoveryPlan, RecoveryPlanStatus, SystemPhase, format_duration},
    engine::PlanModel,
};

/// A reference to the ClinicalSystem "namespace/name", for an Event's `related` object
/// (which also keeps one system's Events apart from another's).
fn system_ref(key: &str) -> Option<ObjectReference> {
    let (namespace, name) = key.split_once('/')?;
    Some(ObjectReference {
        api_version: Some("lifeline.dev/v1alpha1".into()),
        kind: Some("ClinicalSystem".into()),
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..Default::default()
    })
}

/// The Events for the changes from `prev` to `next`.
pub fn transitions(
    model: &PlanModel,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
) -> Vec<Event> {
    let mut out = Vec::new();
    for (i, s) in next.systems.iter().enumerate() {
        let was = prev.systems.iter().find(|p| p.name == s.name);
        let old_phase = was.map(|p| p.phase).unwrap_or_default();
        let old_stage = was.and_then(|p| p.released_stage.clone());
        if s.verified_at.is_some() && was.is_none_or(|p| p.verified_at.is_none()) {
            let objective = model
                .systems
                .get(i)
                .map(|m| m.objective)
                .unwrap_or_default();
            let took = std::time::Duration::from_secs(s.recovery_seconds.unwrap_or(0));
            let met = s.objective_met.unwrap_or(false);
            out.push(Event {
                type_: if met {
                    EventType::Normal
                } else {
                    EventType::Warning
                },
                reason: "SystemVerified".into(),
                note: Some(format!(
                    "{} verified after {} (objective {}: {})",
                    s.name,
                    format_duration(took),
                    format_duration(objective),
                    if met { "met" } else { "missed" }
                )),
                action: "Verify".into(),
                secondary: system_ref(&s.name),
            });
        }
        if s.released_stage != old_stage
            && let Some(stage) = &s.released_stage
        {
            out.push(Event {
                type_: EventType::Normal,
                reason: "SystemReleased".into(),
                note: Some(format!("{} released to stage {stage}", s.name)),
                action: "Release".into(),
                secondary: system_ref(&s.name),
            });
        }
        if s.phase == old_phase {
            continue;
        }
        let (type_, reason, action) = match s.phase {
            SystemPhase::Restoring => (EventType::Normal, "RestoreStarted", "Restore"),
            SystemPhase::Failed => (EventType::Warning, "SystemFailed", "Restore"),
            SystemPhase::Blocked => (EventType::Warning, "SystemBlocked", "Restore"),
            SystemPhase::Cancelled => (EventType::Normal, "SystemCancelled", "Restore"),
            _ => continue,
        };
        out.push(Event {
            type_,
            reason: reason.into(),
            note: Some(match &s.message {
                Some(m) => format!("{}: {m}", s.name),
                None => s.name.clone(),
            }),
            action: action.into(),
            secondary: system_ref(&s.name),
        });
    }
    if next.phase != prev.phase {
        let (type_, reason) = match next.phase {
            PlanPhase::Succeeded => (EventType::Normal, "PlanSucceeded"),
            PlanPhase::Failed => (EventType::Warning, "PlanFailed"),
            PlanPhase::AwaitingApproval => (EventType::Normal, "AwaitingApproval"),
            PlanPhase::Paused => (EventType::Normal, "PlanPaused"),
            PlanPhase::Aborted => (EventType::Warning, "PlanAborted"),
            PlanPhase::Running | PlanPhase::Pending => (EventType::Normal, "PlanRunning"),
        };
        out.push(Event {
            type_,
            reason: reason.into(),
            note: Some(format!(
                "plan is {}: {} systems verified",
                next.phase,
                next.progress.as_deref().unwrap_or("0/0")
            )),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    out
}

/// Publishes the Events for the changes from `prev` to `next`. Best effort: an Event
/// that cannot be written is logged, never fails the reconcile.
pub async fn publish_transitions(
    ctx: &Context,
    plan: &RecoveryPlan,
    model: &PlanModel,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
) {
    let reference = plan.object_ref(&());
    for ev in transitions(model, prev, next) {
        if let Some(notifier) = &ctx.notifier
            && let Some(n) = super::notify::for_event(plan, next, &ev)
        {
            notifier.send(n);
        }
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            warn!(reason = %ev.reason, error = %e, "could not publish an Event");
        }
    }
}
