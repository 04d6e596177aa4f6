//! One reconcile of a RecoveryPlan: `load -> plan -> observe -> decide -> record -> act`.
//! Only `observe`, `record` and `act` touch the cluster; the decision is the pure engine's.
//!
//! - `observe`: what the cluster says of each running step and due check.
//! - `requests`: the `lifeline retry` and `lifeline restore` requests on the plan.
//! - `manual`: the manual restore steps waiting for people to confirm them.
//! - `timing`: the intervals, deadlines and timeouts a system's spec gives it.

mod manual;
mod observe;
mod requests;
mod timing;

use std::{collections::HashMap, sync::Arc, time::Duration};

use k8s_openapi::jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action as Requeue};
use tracing::{info, warn};

use super::{events, status};
use crate::controller::{
    Context,
    steps::restore::{self, StepProgress},
};
use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryPlan, SystemPhase},
    engine::{
        self, Action, Inputs, SystemSource,
        plan::{selection as selector, settings::settings_of},
    },
    error::Error,
};
use manual::{awaiting_steps, confirmation_of};
use observe::observe;
use requests::{apply_restores, apply_retries};
use timing::{attempt_elapsed, restore_timeout, retry_interval};

pub use crate::engine::plan::{DEFAULT_RETRY_INTERVAL, MIN_RETRY_INTERVAL};
/// Default time a check may keep failing before its system fails.
pub const DEFAULT_CHECK_DEADLINE: Duration = Duration::from_secs(300);
/// The longest a plan under way goes without a reconcile.
pub const RESYNC: Duration = Duration::from_secs(30);
/// Requeue after a transient error.
pub const ERROR_REQUEUE: Duration = Duration::from_secs(5);
/// How many manual steps waiting for people the plan's status lists (the rest counted).
pub const AWAITING_STEPS_LISTED: usize = 100;
/// Requeue after the API server refused a request (quota, admission, permission).
pub const REFUSED_REQUEUE: Duration = Duration::from_secs(30);

/// The systems a plan in `ns` selects, from the ClinicalSystems of the namespaces it
/// lists.
fn selected_keys(
    plan: &RecoveryPlan,
    ns: &str,
    systems: &[Arc<ClinicalSystem>],
) -> Result<Vec<String>, Error> {
    selector::select_across(
        ns,
        &plan.spec.systems,
        systems.iter().map(|s| {
            (
                s.metadata.namespace.as_deref().unwrap_or(ns),
                s.metadata.name.as_deref().unwrap_or_default(),
                s.metadata.labels.as_ref(),
            )
        }),
    )
    .map_err(Error::InvalidPlan)
}

/// Reconciles one plan, from a fresh read of it.
pub async fn reconcile(plan: Arc<RecoveryPlan>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let uid = plan.uid().unwrap_or_default();
    crate::controller::cluster::reconcile_fresh(
        plan,
        ctx,
        move |ctx, ns, name| {
            ctx.metrics.forget(ns, name);
            super::handover::forget(ctx, ns, name);
            super::progress::forget(ctx, &uid);
            forget_publishing(ctx, &uid);
        },
        |plan, ctx| async move { reconcile_inner(&plan, &ctx).await },
    )
    .await
}

/// Forgets what the operator keeps of a plan that is deleted or being deleted: it no longer
/// counts in the metrics, holds systems for other plans, or has progress shards cached.
/// Called by the watch of the plans as it sees the deletion (the controller does not
/// reconcile a plan that has left its cache) and by a reconcile that finds it going.
pub fn forget(ctx: &Context, plan: &RecoveryPlan) {
    let (ns, name) = (plan.namespace().unwrap_or_default(), plan.name_any());
    ctx.metrics.forget(&ns, &name);
    super::handover::forget(ctx, &ns, &name);
    let uid = plan.uid().unwrap_or_default();
    super::progress::forget(ctx, &uid);
    forget_publishing(ctx, &uid);
}

/// Lets go of a plan's publishing still going out (it finishes on its own).
fn forget_publishing(ctx: &Context, uid: &str) {
    if let Ok(mut p) = ctx.publishing.lock() {
        p.remove(uid);
    }
}

async fn reconcile_inner(plan: &RecoveryPlan, ctx: &Arc<Context>) -> Result<Requeue, Error> {
    if plan.metadata.deletion_timestamp.is_some() {
        // Jobs are owned by the plan and go with it; nothing else to undo.
        forget(ctx, plan);
        return Ok(Requeue::await_change());
    }
    let ns = plan.namespace().unwrap_or_default();
    let name = plan.name_any();
    let now = Timestamp::now();

    // Load, from every namespace the plan selects in: from the operator's cache, except
    // when the plan is new or its spec changed (then listed: systems applied together
    // with the plan may not have reached the cache yet, and a plan must not start without
    // them or be reported invalid for a moment).
    let fresh = plan.status.as_ref().is_none_or(|s| {
        s.started_at.is_none() || s.observed_generation != plan.metadata.generation
    });
    let mut systems: Vec<Arc<ClinicalSystem>> = Vec::new();
    let mut malformed: Vec<(String, String)> = Vec::new();
    for namespace in plan.spec.systems.namespaces_from(&ns) {
        let (good, bad) = if fresh {
            let (good, bad) =
                crate::controller::list_parsed::<ClinicalSystem>(&ctx.client, &namespace).await?;
            (good.into_iter().map(Arc::new).collect(), bad)
        } else {
            ctx.parsed_in::<ClinicalSystem>(&namespace).await?
        };
        systems.extend(good.into_iter().map(|mut s| {
            if s.metadata.namespace.is_none() {
                Arc::make_mut(&mut s).metadata.namespace = Some(namespace.clone());
            }
            s
        }));
        malformed.extend(
            bad.into_iter()
                .map(|(n, e)| (format!("{namespace}/{n}"), e)),
        );
    }
    let key_of = |s: &ClinicalSystem| {
        format!(
            "{}/{}",
            s.metadata.namespace.as_deref().unwrap_or(&ns),
            s.name_any()
        )
    };
    let owned: HashMap<String, Arc<ClinicalSystem>> =
        systems.iter().map(|s| (key_of(s), s.clone())).collect();
    let by_key: HashMap<String, &ClinicalSystem> =
        owned.iter().map(|(k, s)| (k.clone(), s.as_ref())).collect();
    // Each system's progress is kept in the plan's RecoveryProgress shards.
    let mut prev = plan.status.clone().unwrap_or_default();
    prev.systems = match super::progress::load(ctx, plan).await {
        Ok(systems) => systems,
        Err(e @ Error::ProgressLost { .. }) => {
            status::write_lost(ctx, plan, &e.to_string(), now).await?;
            return Ok(Requeue::await_change());
        }
        Err(e) => return Err(e),
    };

    // What other plans hold: the plan leaves those systems alone, and counts a hard
    // dependency they hold without selecting it.
    let others = super::handover::others(ctx, plan).await?;
    let held_before =
        super::handover::held(plan, &prev, &others, by_key.keys().map(String::as_str));

    // Plan. A malformed ClinicalSystem the plan selects makes the plan invalid, naming the
    // object and field; one it does not select is no concern of this plan.
    let model = match selected_keys(plan, &ns, &systems).and_then(|selected| {
        let (keys, held_elsewhere) =
            super::handover::with_held_dependencies(selected, &by_key, &prev, &held_before);
        let problems: Vec<String> = malformed
            .iter()
            .filter(|(key, _)| {
                plan.spec.systems.selector.is_some() || keys.iter().any(|k| k == key)
            })
            .map(|(key, e)| format!("ClinicalSystem {key} is malformed: {e}"))
            .collect();
        if !problems.is_empty() {
            return Err(Error::InvalidPlan(problems.join("; ")));
        }
        let origins: Vec<String> = systems
            .iter()
            .map(|s| format!("ClinicalSystem {}", key_of(s)))
            .collect();
        let all: Vec<SystemSource<'_>> = systems
            .iter()
            .zip(&origins)
            .map(|(s, origin)| SystemSource {
                namespace: s.metadata.namespace.as_deref().unwrap_or(&ns),
                name: s.metadata.name.as_deref().unwrap_or_default(),
                spec: &s.spec,
                origin,
            })
            .collect();
        let mut settings = settings_of(plan);
        settings.held_elsewhere = held_elsewhere;
        engine::plan(&all, &keys, settings).map_err(|e| Error::InvalidPlan(e.to_string()))
    }) {
        Ok(m) => Arc::new(m),
        Err(Error::InvalidPlan(message)) => {
            status::write_invalid(ctx, plan, &message).await?;
            ctx.metrics
                .set_phase(&ns, &name, crate::api::v1alpha1::PlanPhase::Pending);
            return Ok(Requeue::await_change());
        }
        Err(e) => return Err(e),
    };

    // Observe.
    let mut current = prev.clone();
    let mut recheck: Option<Duration> = None;
    let mut soonest = |d: Duration| {
        recheck = Some(recheck.map_or(d, |r: Duration| r.min(d)));
    };
    let mut acted = apply_retries(plan, &model, &mut current);
    // The Approvals, listed once: they decide stages and confirm manual steps.
    let waits_for_people = !model.settings.stages.is_empty()
        || model
            .systems
            .iter()
            .any(|m| m.manual_steps.iter().any(|&b| b));
    let approvals = if waits_for_people {
        ctx.approvals(&ns).await?
    } else {
        Vec::new()
    };
    acted.extend(apply_restores(plan, &model, &mut current, now));
    let aborted = plan.spec.abort;
    if !aborted {
        for obs in observe(
            ctx,
            plan,
            &model,
            &by_key,
            &approvals,
            &current,
            None,
            now,
            &mut soonest,
        )
        .await?
        {
            engine::observe(&mut current, &obs, now);
        }
    }

    // A gate follows the `spec.release` it was made for: one changed under the plan takes
    // the system back to the verification audience until its stages are approved again,
    // and the pods it gated before stay held.
    super::release::follow_release_changes(&model, &by_key, &mut current, now);
    let mut regated: Vec<(
        String,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
        String,
    )> = Vec::new();
    for s in &current.systems {
        if let Some(at) = s.gate.as_ref().and_then(|g| g.changed_at.clone()) {
            regated.push((
                s.name.clone(),
                at,
                format!("{}'s release settings (spec.release) changed", s.name),
            ));
        }
        if let Some(at) = s.reapprove_after.clone() {
            regated.push((s.name.clone(), at, format!("{} was restored again", s.name)));
        }
        if let Some(at) = s.withdrawn_at.clone() {
            regated.push((
                s.name.clone(),
                at,
                format!("{}'s gate was withdrawn for a regression", s.name),
            ));
        }
    }

    // Decide, with the gates the recorded Approvals open for each system.
    let keys: Vec<String> = model.systems.iter().map(|s| s.key.clone()).collect();
    let uid = plan.uid();
    let facts = engine::approvals::PlanFacts {
        name: &name,
        uid: uid.as_deref(),
        namespace: &ns,
        created: plan.metadata.creation_timestamp.as_ref(),
        requested_by: plan.spec.requested_by.as_deref(),
        regated: &regated,
    };
    let mut eval = engine::approvals::evaluate(&facts, &model.settings, &keys, &approvals);
    // From here to the status write, no other plan takes on a system: needed only while
    // this plan may take one on (a plan that already holds all its systems gives up holds
    // at most, which needs no lock).
    let may_claim = current.systems.len() != model.systems.len()
        || current
            .systems
            .iter()
            .any(|s| !engine::run::handover::claims(s.phase, current.phase));
    let claiming = if may_claim {
        Some(
            ctx.claim(
                model
                    .systems
                    .iter()
                    .map(|m| m.key.split_once('/').map_or(ns.as_str(), |(n, _)| n)),
            )
            .await,
        )
    } else {
        None
    };
    let others = super::handover::others(ctx, plan).await?;
    let holders = super::handover::held(plan, &current, &others, keys.iter().map(String::as_str));
    let inputs = Inputs {
        now,
        paused: plan.spec.paused,
        aborted,
        gates: eval.gates.clone(),
        system_gates: eval.system_gates.clone(),
        holders,
    };
    // `current` is not read again: decided by value, without a copy of every system.
    let mut decision = engine::run::decide_owned(&model, current, &inputs);
    // Checks of systems whose restore finished just now run in this reconcile, not the
    // next: they only read (a workload from the cache, a request to the system), so they
    // need nothing recorded first, and a system that passes at once lets its dependents
    // start in the same status write. Bounded: a dependent's restore is never finished
    // in the reconcile that starts it, so one pass is all a level gives.
    if !aborted {
        let starting: std::collections::BTreeSet<usize> = decision
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::StartCheck { system, .. } => Some(*system),
                _ => None,
            })
            .collect();
        if !starting.is_empty() {
            let seen = observe(
                ctx,
                plan,
                &model,
                &by_key,
                &approvals,
                &decision.status,
                Some(&starting),
                now,
                &mut soonest,
            )
            .await?;
            if !seen.is_empty() {
                let mut checked = std::mem::take(&mut decision.status);
                for obs in &seen {
                    engine::observe(&mut checked, obs, now);
                }
                let again = engine::run::decide_owned(&model, checked, &inputs);
                decision.status = again.status;
                decision.wake_at = match (decision.wake_at, again.wake_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                for action in again.actions {
                    if !decision.actions.contains(&action) {
                        decision.actions.push(action);
                    }
                }
            }
        }
    }
    decision.status.observed_generation = plan.metadata.generation;
    decision.status.approvals = std::mem::take(&mut eval.records);
    decision.status.approvals_not_listed = eval.not_listed;
    decision.status.awaiting =
        engine::approvals::awaiting(&model.settings, &decision.status, &eval);
    let mut waiting_steps = awaiting_steps(plan, &model, &by_key, &decision.status, &approvals);
    decision.status.awaiting_steps_not_listed =
        u32::try_from(waiting_steps.len().saturating_sub(AWAITING_STEPS_LISTED))
            .unwrap_or(u32::MAX);
    waiting_steps.truncate(AWAITING_STEPS_LISTED);
    decision.status.awaiting_steps = waiting_steps;
    let confirmed_by = |system: &str, k: usize| {
        confirmation_of(plan, &model, &by_key, &approvals, system, k)
            .map(|c| match c {
                engine::approvals::Confirmation::Done { by, .. }
                | engine::approvals::Confirmation::Waiting { by, .. } => by,
                engine::approvals::Confirmation::Rejected(_) => Vec::new(),
            })
            .unwrap_or_default()
    };
    super::interventions::record_all(
        ctx,
        plan,
        &prev,
        &mut decision.status,
        super::interventions::Asked {
            acted: &acted,
            approvals: &approvals,
            confirmed_by: &confirmed_by,
        },
        now,
    )
    .await?;

    super::hand_back::update(ctx, plan, &model, &mut decision.status).await?;
    let plan_key = format!("{ns}/{name}");
    let notices = engine::notice::released(
        &plan_key,
        &plan.spec.stages,
        &model,
        &prev,
        &decision.status,
    );

    // The record first, then the status that reports it; both before acting, so a crash
    // after this point finds the work in status.
    super::record::append(
        ctx,
        plan,
        &prev,
        &mut decision.status,
        &approvals,
        &notices,
        now,
    )
    .await?;
    super::progress::store(ctx, plan, &mut decision.status).await?;
    status::write(ctx, plan, &prev, &mut decision.status, now).await?;
    super::progress::sweep(ctx, plan).await;
    super::handover::record(ctx, plan, &decision.status);
    drop(claiming);
    for (i, s) in decision.status.systems.iter().enumerate() {
        let newly = s.verified_at.is_some()
            && prev
                .system(i, &s.name)
                .is_none_or(|p| p.verified_at.is_none());
        if newly {
            info!(plan = %name, system = %s.name, recovery_seconds = s.recovery_seconds, objective_met = s.objective_met, "system verified");
        }
    }
    ctx.metrics
        .record_plan(&ns, &name, &model, &prev, &decision.status);

    // Act. Release gates first: a system about to restore gets its pre-release gate, a
    // released one its stage's; all of them once per process, after a restart.
    let uid = plan.uid().unwrap_or_default();
    let first_time = ctx
        .gates_synced
        .lock()
        .map(|set| !set.contains(&uid))
        .unwrap_or(true);
    let written = decision.status.clone();
    let mut gate_failed = false;
    for i in 0..decision.status.systems.len() {
        let Some(cs) = by_key.get(&model.systems[i].key).copied() else {
            continue;
        };
        // Another plan keeps the gate of a system it holds; this one never touches it.
        if cs.spec.release.is_none()
            || inputs.holders.contains_key(&model.systems[i].key)
            || decision.status.systems[i].phase == SystemPhase::Held
        {
            continue;
        }
        // A gate that could not be applied holds the system where it is; its stage's
        // gate is tried again (a dry run: nothing opens before the system is released).
        let failed = decision.status.systems[i]
            .gate
            .as_ref()
            .and_then(|g| g.error.as_ref().and(g.failed_stage.clone()));
        // A drill's isolation of the system holds the gate shut (it admits nobody) until
        // the isolation ends or the run does; the gate is applied again when it changes.
        let isolation = if decision.status.phase_is_final() {
            None
        } else {
            crate::engine::drill::faults::isolation_in_force(
                plan.spec.drill.as_ref(),
                &cs.name_any(),
                now,
            )
        };
        if let Some((_, Some(until))) = isolation
            && let Ok(left) = Duration::try_from(until.duration_since(now))
        {
            soonest(left);
        }
        let isolated_by = isolation.map(|(drill, _)| drill);
        if let Some(failed) = failed {
            let k = model.settings.stage_index(&failed);
            let outcome = super::release::dry_run(ctx, plan, cs, k, isolated_by).await;
            super::release::record_retry(&mut decision.status, i, outcome.as_ref().err());
            if outcome.is_err() {
                gate_failed = true;
                soonest(super::release::GATE_RETRY);
            }
        }
        let s = &decision.status.systems[i];
        let before = prev.system(i, &s.name);
        let entered = s.phase != SystemPhase::Pending
            && s.phase != SystemPhase::Waiting
            && before
                .is_none_or(|p| matches!(p.phase, SystemPhase::Pending | SystemPhase::Waiting));
        let released_changed = before.and_then(|p| p.released_stage.clone()) != s.released_stage;
        let isolation_changed = s.phase != SystemPhase::Pending
            && s.phase != SystemPhase::Waiting
            && s.gate.as_ref().and_then(|g| g.isolated_by.as_deref()) != isolated_by;
        // A changed `spec.release` moves the gate now, released or not: pods only the new
        // selector matches are gated from the moment the change is seen.
        let release_changed = s.gate.as_ref().and_then(|g| g.changed_at.as_ref())
            != before
                .and_then(|p| p.gate.as_ref())
                .and_then(|g| g.changed_at.as_ref());
        if !(first_time || entered || released_changed || isolation_changed || release_changed) {
            continue;
        }
        let stage = s
            .released_stage
            .as_deref()
            .and_then(|r| model.settings.stage_index(r));
        let earlier = s
            .gate
            .as_ref()
            .map(|g| g.earlier_selectors.clone())
            .unwrap_or_default();
        let outcome = super::release::apply(ctx, plan, cs, stage, &earlier, isolated_by).await;
        super::release::record_applied(
            &model,
            &mut decision.status,
            i,
            cs,
            outcome.as_ref().err(),
            isolated_by,
        );
        if let Err(e) = outcome {
            warn!(plan = %name, system = %model.systems[i].key, error = %e, "a release gate could not be applied; the system is not released there");
            gate_failed = true;
            soonest(super::release::GATE_RETRY);
        }
    }
    if gate_failed && let Ok(mut set) = ctx.gates_synced.lock() {
        // Apply every gate again after a restart of this loop, rather than trust one.
        set.remove(&uid);
    }
    // What people see of the transitions just recorded (each ClinicalSystem's status and
    // the Events) goes out beside the steps this reconcile starts, not before them: a
    // dependent's restore does not wait for its dependency's Events. Neither is read to
    // decide anything, so a crash before they go loses no progress.
    let publish_first = || async {
        super::system_status::mirror(ctx, plan, &by_key, &written).await;
        events::publish_transitions(ctx, plan, &model, &prev, &written, &notices).await;
    };
    let mut second = None;
    if decision.status != written {
        super::release::gates_condition(
            &mut decision.status,
            &written,
            plan.metadata.generation,
            now,
        );
        let gate_notices = engine::notice::released(
            &plan_key,
            &plan.spec.stages,
            &model,
            &written,
            &decision.status,
        );
        let recorded = async {
            super::record::append(
                ctx,
                plan,
                &written,
                &mut decision.status,
                &approvals,
                &gate_notices,
                now,
            )
            .await?;
            super::progress::store(ctx, plan, &mut decision.status).await?;
            status::write(ctx, plan, &written, &mut decision.status, now).await
        }
        .await;
        if let Err(e) = recorded {
            // The first write stands: what people see of it still goes out, after what
            // the reconcile before published.
            let previous = ctx.publishing.lock().ok().and_then(|mut p| p.remove(&uid));
            if let Some(p) = previous {
                let _ = p.await;
            }
            publish_first().await;
            return Err(e);
        }
        super::progress::sweep(ctx, plan).await;
        super::handover::record(ctx, plan, &decision.status);
        second = Some((decision.status.clone(), gate_notices));
    }
    if first_time
        && !gate_failed
        && let Ok(mut set) = ctx.gates_synced.lock()
    {
        set.insert(uid.clone());
    }
    // Steps start concurrently (a wave's scale patches), a bounded number at a time;
    // each one's outcome is observed on a later reconcile.
    let mut starts: Vec<futures::future::BoxFuture<'_, Option<Duration>>> = Vec::new();
    for action in &decision.actions {
        match action {
            Action::StartStep { system, step } => {
                let key = &model.systems[*system].key;
                let Some(cs) = by_key.get(key).copied() else {
                    continue;
                };
                let attempt = decision.status.systems[*system].steps[*step].attempts;
                info!(plan = %name, system = %key, step = %model.systems[*system].steps[*step], attempt, "restore step started");
                let (step, approvals, name) = (*step, &approvals, &name);
                starts.push(Box::pin(async move {
                    match restore::drive_step(ctx, plan, cs, step, attempt, approvals).await {
                        Ok(StepProgress::Running(Some(d))) => Some(d),
                        Ok(_) => None,
                        Err(e) => {
                            warn!(plan = %name, system = %key, error = %e, "starting a restore step failed; will retry");
                            None
                        }
                    }
                }));
            }
            Action::StartCheck { .. } => {
                // Run above, in this reconcile, or on the next one.
            }
            Action::Release { system, stage } => {
                info!(plan = %name, system = %model.systems[*system].key, stage = %model.settings.stages[*stage].name, "released");
            }
        }
    }
    // What people see goes out in a task of its own, after the steps start: the next
    // reconcile of the plan does not wait for it. A plan's publishing goes out in order,
    // one at a time: this reconcile waits, beside its steps, for the one before.
    let previous = ctx.publishing.lock().ok().and_then(|mut p| p.remove(&uid));
    let before = async {
        if let Some(p) = previous {
            let _ = p.await;
        }
    };
    let ((), started) = tokio::join!(before, crate::controller::cluster::bounded(starts));
    let publishing = {
        let (ctx, plan, model, owned) = (ctx.clone(), plan.clone(), model.clone(), owned.clone());
        let (prev, written, notices) = (prev.clone(), written, notices);
        async move {
            let by_key: HashMap<String, &ClinicalSystem> =
                owned.iter().map(|(k, s)| (k.clone(), s.as_ref())).collect();
            super::system_status::mirror(&ctx, &plan, &by_key, &written).await;
            events::publish_transitions(&ctx, &plan, &model, &prev, &written, &notices).await;
            if let Some((after, gate_notices)) = &second {
                super::system_status::mirror(&ctx, &plan, &by_key, after).await;
                events::publish_transitions(&ctx, &plan, &model, &written, after, gate_notices)
                    .await;
            }
        }
    };
    let handle = tokio::spawn(publishing);
    if let Ok(mut p) = ctx.publishing.lock() {
        p.insert(uid.clone(), handle);
    }
    for d in started.into_iter().flatten() {
        soonest(d);
    }

    // Requeue only for what is time-based: check retries, waitFor, restore deadlines.
    for (i, s) in decision.status.systems.iter().enumerate() {
        if s.phase == SystemPhase::Verifying {
            let interval = retry_interval(by_key.get(&model.systems[i].key).copied());
            soonest(interval);
        }
        if s.phase == SystemPhase::Restoring
            && !plan.spec.paused
            && let Some(timeout) = restore_timeout(by_key.get(&model.systems[i].key).copied())
            && let Some(ran) = attempt_elapsed(ctx, &decision.status, s, now)
        {
            soonest(timeout.saturating_sub(ran).max(Duration::from_secs(1)));
        }
    }
    // A soak that ends, a check of a soaking system due again.
    if let Some(at) = decision.wake_at {
        soonest(engine::time::elapsed(now, at).max(MIN_RETRY_INTERVAL));
    }
    let reruns = engine::due_reruns(&model, &decision.status, now);
    if let Some(next) = reruns.next {
        soonest(engine::time::elapsed(now, next).max(MIN_RETRY_INTERVAL));
    }
    if !reruns.due.is_empty() {
        soonest(MIN_RETRY_INTERVAL);
    }
    // Released systems stay watched after the plan finishes: their checks' next run.
    let watching =
        decision.status.phase != crate::api::v1alpha1::PlanPhase::Aborted && reruns.next.is_some();
    // A plan under way looks again at least every RESYNC, whatever its watches say: a
    // watch broken by an API server restart, or another plan's hold that ended with that
    // plan's deletion, is noticed within it.
    if !decision.status.phase_is_final() {
        soonest(RESYNC);
    }
    Ok(match recheck {
        Some(d) if watching || !decision.status.phase_is_final() => Requeue::requeue(d),
        _ => Requeue::await_change(),
    })
}

/// What to do after a failed reconcile: invalid input waits for a change (its condition
/// says why); a transient error is retried soon, a refusal a little later.
pub fn error_policy(plan: Arc<RecoveryPlan>, error: &Error, _ctx: Arc<Context>) -> Requeue {
    warn!(plan = %plan.name_any(), namespace = %plan.namespace().unwrap_or_default(), category = error.category(), error = %error, "reconcile failed");
    match error {
        _ if error.is_transient() => Requeue::requeue(ERROR_REQUEUE),
        // Refused by the API server (a ResourceQuota, an admission policy, a missing
        // permission): nothing in our watches may change when it is lifted, so look again.
        Error::Kube { .. } => Requeue::requeue(REFUSED_REQUEUE),
        _ => Requeue::await_change(),
    }
}
