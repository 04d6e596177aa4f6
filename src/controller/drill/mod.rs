//! A RecoveryDrill's reconcile: `observe -> decide -> record -> act`. What a run does
//! next is decided by the pure drill engine ([`crate::engine::drill`]); this module reads
//! what the engine wants to see ([`observe`]), writes the status the engine returns, and
//! only then carries out its actions ([`act`], with each kind of fault in [`faults`]), so
//! an operator stopped at any instant resumes from what status says.
//!
//! Safety twice over: admission admits drills only in namespaces labelled
//! `lifeline.dev/environment=staging`, and the engine checks the label again on every
//! reconcile and refuses systems, dependencies or faults outside the drill's namespace.

pub mod act;
pub mod faults;
pub mod observe;

use std::sync::Arc;

use kube::{
    Resource, ResourceExt,
    runtime::{
        controller::Action as Requeue,
        events::{Event, EventType},
    },
};
use tracing::{info, warn};

use super::{Context, cluster};
use crate::{
    api::v1alpha1::{DRILL_FINALIZER, RUN_ANNOTATION, RecoveryDrill},
    engine::{
        drill::{self as engine, Decision, Facts, Notice, NoticeKind},
        names,
    },
    error::Error,
};

pub use crate::engine::drill::{DEFAULT_HISTORY, DEFAULT_TIMEOUT, DRILL_LABEL, POLL, WAIT_POLL};

/// The deny-all NetworkPolicy that isolates `system` for `drill`.
pub fn isolation_policy_name(drill: &str, system: &str) -> String {
    names::isolation_policy(drill, system)
}

/// The RecoveryPlan of run `number` of `drill`.
pub fn plan_name(drill: &str, number: u32) -> String {
    names::drill_plan(drill, number)
}

/// Reconciles one drill, from a fresh read of it: a run's record must be the one last
/// written (a stale copy could start a run twice or record the pre-drill state after the
/// faults).
pub async fn reconcile(drill: Arc<RecoveryDrill>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    cluster::reconcile_fresh(
        drill,
        ctx,
        |_, _, _| {},
        |drill, ctx| async move { reconcile_inner(&drill, &ctx).await },
    )
    .await
}

/// What to do after a failed reconcile of a drill.
pub fn error_policy(drill: Arc<RecoveryDrill>, error: &Error, _ctx: Arc<Context>) -> Requeue {
    warn!(drill = %drill.name_any(), namespace = %drill.namespace().unwrap_or_default(), category = error.category(), error = %error, "drill reconcile failed");
    if error.is_transient() {
        Requeue::requeue(super::plan::reconcile::ERROR_REQUEUE)
    } else {
        Requeue::requeue(super::plan::reconcile::REFUSED_REQUEUE)
    }
}

async fn reconcile_inner(drill: &RecoveryDrill, ctx: &Context) -> Result<Requeue, Error> {
    let ns = drill.namespace().unwrap_or_default();
    let name = drill.name_any();
    let prev = drill.status.clone().unwrap_or_default();
    let facts = Facts {
        name: &name,
        namespace: &ns,
        spec: &drill.spec,
        status: &prev,
        generation: drill.metadata.generation,
        created: drill.metadata.creation_timestamp.as_ref().map(|t| t.0),
        requested: drill.annotations().get(RUN_ANNOTATION).map(String::as_str),
        deleting: drill.metadata.deletion_timestamp.is_some(),
        has_finalizer: drill.finalizers().iter().any(|f| f == DRILL_FINALIZER),
        operator: Some(ctx.username.as_str()),
        now: k8s_openapi::jiff::Timestamp::now(),
    };
    // Runs start one at a time, so that two drills never claim the same system: the lock
    // is held from observing the other drills' claims to recording this one's.
    let _starting = if prev.phase.is_active() {
        None
    } else {
        Some(ctx.drill_starts.lock().await)
    };
    let observed = observe::observe(ctx, &facts).await?;
    let mut decision = engine::decide(&facts, &observed);
    // The run's record first, then the status that reports it; both before acting.
    record_run(ctx, drill, &prev, &mut decision.status, facts.now).await?;
    cluster::apply_status::<RecoveryDrill, _>(ctx, &ns, &name, &prev, &decision.status).await?;
    let Decision {
        status,
        actions,
        notices,
        requeue,
    } = decision;
    for action in &actions {
        act::act(ctx, drill, &facts, action).await?;
    }
    for notice in &notices {
        if let NoticeKind::Finished(_) = notice.kind
            && let Some(run) = &status.run
        {
            ctx.metrics.drill_finished(run);
            info!(drill = %format!("{ns}/{name}"), number = run.number, outcome = ?run.outcome, "drill run finished");
        }
        publish(ctx, drill, &status.phase.to_string(), notice).await;
    }
    Ok(match requeue {
        Some(after) => Requeue::requeue(after),
        None => Requeue::await_change(),
    })
}

/// Appends what changed in the current run from `prev` to `next` to the run's record
/// (its own RecoveryRecords, not owned by the drill), and sets the run's record head.
async fn record_run(
    ctx: &Context,
    drill: &RecoveryDrill,
    prev: &crate::api::v1alpha1::RecoveryDrillStatus,
    next: &mut crate::api::v1alpha1::RecoveryDrillStatus,
    now: k8s_openapi::jiff::Timestamp,
) -> Result<(), Error> {
    let bodies = crate::engine::record::drill_transitions(prev, next, now);
    let Some(run) = next.run.as_mut() else {
        return Ok(());
    };
    // A run that waited keeps the record it began while waiting.
    let before = prev
        .run
        .as_ref()
        .filter(|r| r.number == run.number)
        .and_then(|r| r.record.clone());
    if run.record.is_none() {
        run.record = before;
    }
    let subject = crate::controller::plan::record::Subject::of_drill_run(
        drill,
        run.number,
        run.started_at.as_ref().map(|t| t.0),
    );
    run.record = Some(
        crate::controller::plan::record::append_bodies(ctx, &subject, run.record.clone(), bodies)
            .await?,
    );
    Ok(())
}

/// Tells people: an Event on the drill, and the notification webhook if one is set.
async fn publish(ctx: &Context, drill: &RecoveryDrill, phase: &str, notice: &Notice) {
    let ev = Event {
        type_: if notice.kind.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: notice.kind.reason().into(),
        note: Some(super::plan::events::fit_note(&notice.note)),
        action: "Drill".into(),
        secondary: None,
    };
    if let Some(notifier) = &ctx.notifier
        && let Some(n) = super::notify::for_drill_event(drill, phase, &ev)
    {
        notifier.send(n);
    }
    if let Err(e) = ctx.recorder.publish(&ev, &drill.object_ref(&())).await {
        warn!(reason = %ev.reason, error = %e, "could not publish an Event");
    }
}
