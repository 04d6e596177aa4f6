//! The recovery state machine. [`decide`] takes a plan, the status so far and the current
//! time, and returns the new status and the actions to take; [`observe`] records what an
//! executor saw (a step finished, a check passed). Both are pure: no client, no clock.
//!
//! Every action is recorded in the returned status before anyone runs it (a step is
//! `Running` with its start time and attempt number), so an executor that crashes and
//! comes back finds the step in status and resumes it rather than starting another.
//!
//! - `inputs`: what the engine is told besides the plan and the status (stage gates).
//! - `actions`: what a decision asks an executor to do.
//! - `system`: how one system moves on within a decision (restored, verified, soaked,
//!   watched for regressions).
//! - `observations`: what an executor saw, recorded in the status.
//! - `reruns`: the checks of verified systems due to run again.
//! - `corrections`: changes made outside a decision (retry, restore again, a release
//!   undone or taken back).

mod actions;
mod align;
mod corrections;
mod inputs;
mod observations;
mod reruns;
mod system;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::api::v1alpha1::{
    FailurePolicy, PlanPhase, RecoveryPlanStatus, SystemPhase, SystemStatus,
};
use crate::engine::{
    plan::PlanModel,
    time::{elapsed, seconds_between},
};

pub use actions::{Action, Decision};
pub use corrections::{
    RESTORES_LISTED, RestoreError, RetryError, regate, restore_again, retry, unrelease,
};
pub use inputs::{Inputs, StageGate, gate_of};
pub use observations::{MESSAGE_LIMIT, Observation, observe};
pub use reruns::{Reruns, due_reruns};
pub use system::REGRESSIONS_LISTED;

use align::align;
use system::Ctx;

/// How the message of a system waiting for its dependencies starts ("waiting for a, b").
pub const WAITING_FOR: &str = "waiting for ";

fn time(t: Timestamp) -> Time {
    Time(t)
}

/// The phase that counts for what depends on `s`: for a system another plan holds, its
/// phase there.
pub fn counted_phase(s: &SystemStatus) -> SystemPhase {
    match (s.phase, &s.held_by) {
        (SystemPhase::Held, Some(by)) => by.phase,
        (phase, _) => phase,
    }
}

/// Marks the systems another plan holds `Held` (see [`super::handover`]), and gives back
/// those whose hold ended before the holder verified them.
fn hand_over(status: &mut RecoveryPlanStatus, inputs: &Inputs, now: &Time) {
    let adopt = !matches!(status.phase, PlanPhase::Succeeded | PlanPhase::Failed);
    for s in &mut status.systems {
        match inputs.holders.get(&s.name) {
            Some(h) if adopt || s.phase == SystemPhase::Held => {
                let since = s
                    .held_by
                    .as_ref()
                    .filter(|b| s.phase == SystemPhase::Held && b.plan == h.plan)
                    .map_or_else(|| now.clone(), |b| b.since.clone());
                let held = crate::api::v1alpha1::HeldBy {
                    plan: h.plan.clone(),
                    phase: h.phase,
                    stage: h.stage.clone(),
                    since,
                    plan_gone: false,
                };
                let message = format!(
                    "held by plan {}, where it is {}{}: this plan leaves it alone",
                    h.plan,
                    h.phase,
                    h.stage
                        .as_deref()
                        .map(|k| format!(" at stage {k}"))
                        .unwrap_or_default()
                );
                if s.phase != SystemPhase::Held || s.held_by.as_ref() != Some(&held) {
                    s.held_by = Some(held);
                }
                s.phase = SystemPhase::Held;
                if s.message.as_deref() != Some(message.as_str()) {
                    s.message = Some(message);
                }
            }
            _ if s.phase == SystemPhase::Held => match s.held_by.as_mut() {
                Some(by) if by.phase.is_verified() => {
                    if !by.plan_gone {
                        by.plan_gone = true;
                        s.message = Some(format!(
                            "plan {}, which verified it, no longer holds it: this plan counts it as restored and does not restore it over again",
                            by.plan
                        ));
                    }
                }
                _ => {
                    s.phase = SystemPhase::Pending;
                    s.held_by = None;
                    s.message = None;
                }
            },
            _ => {}
        }
    }
}

/// The stage index a system is released at, if any.
fn released_index(model: &PlanModel, s: &SystemStatus) -> Option<usize> {
    model.settings.stage_index(s.released_stage.as_deref()?)
}

/// Decides what happens next. Pure: the same plan, status and inputs always give the same
/// decision, and deciding again with no new observations gives no new actions.
pub fn decide(model: &PlanModel, prev: &RecoveryPlanStatus, inputs: &Inputs) -> Decision {
    decide_owned(model, prev.clone(), inputs)
}

/// [`decide`], taking the status by value: the same decision without copying the status,
/// for a caller that replaces its status with the decision's anyway (the simulator, which
/// decides once per event).
pub fn decide_owned(
    model: &PlanModel,
    mut status: RecoveryPlanStatus,
    inputs: &Inputs,
) -> Decision {
    align(model, &mut status, Some(time(inputs.now)));
    let now = time(inputs.now);
    let run_started = status.started_at.get_or_insert_with(|| now.clone()).clone();
    // Recovery times count from the incident's start when the plan names it.
    let plan_started = model
        .settings
        .incident_started_at
        .map(Time)
        .unwrap_or(run_started);
    if model.settings.incident_started_at.is_some() {
        status.measured_from = Some(plan_started.clone());
    }
    let mut ctx = Ctx {
        model,
        inputs,
        now: now.clone(),
        actions: Vec::new(),
        wake_at: None,
    };

    if inputs.aborted || status.phase == PlanPhase::Aborted {
        for s in &mut status.systems {
            if !s.phase.is_terminal() {
                s.phase = SystemPhase::Cancelled;
                s.message = Some("the plan was aborted".to_string());
            }
        }
        status.phase = PlanPhase::Aborted;
        status.finished_at.get_or_insert(now);
        summarize(model, &mut status);
        return Decision {
            status,
            actions: Vec::new(),
            wake_at: None,
        };
    }

    // 0. A pause does not count against a restore's timeout: when it ends, each system
    //    restoring meanwhile is credited with its length.
    match (inputs.paused, status.paused_since.clone()) {
        (true, None) => status.paused_since = Some(now.clone()),
        (false, Some(since)) => {
            let secs = seconds_between(since.0, now.0).unwrap_or(0);
            for s in status
                .systems
                .iter_mut()
                .filter(|s| s.phase == SystemPhase::Restoring)
            {
                s.paused_seconds = s.paused_seconds.saturating_add(secs);
            }
            status.paused_since = None;
        }
        _ => {}
    }

    // 0b. A system another plan holds is left alone here, and counts as restored once
    //     that plan verified it; a hold that ends first gives it back to this plan. A
    //     finished plan takes no new holds: its record of what it did stays.
    hand_over(&mut status, inputs, &now);

    // 1. Move active systems on, in restore order.
    for i in 0..status.systems.len() {
        let s = &mut status.systems[i];
        match s.phase {
            SystemPhase::Restoring => ctx.advance_restore(i, s, &plan_started),
            SystemPhase::Verifying => ctx.advance_verify(i, s, &plan_started),
            _ => {}
        }
    }

    // 1a. Verified systems whose checks fail again are Degraded (their gate withdrawn to
    //     the verification audience if they ask for it), and back once the checks pass;
    //     the systems that rest on them are at risk, naming which.
    for i in 0..status.systems.len() {
        ctx.watch(i, &mut status.systems[i]);
    }
    for i in 0..status.systems.len() {
        let risk = model.systems[i].hard_deps.iter().find_map(|&d| {
            let dep = &status.systems[d];
            match counted_phase(dep) {
                SystemPhase::Degraded => Some(format!("{} is degraded", dep.name)),
                SystemPhase::Pending
                | SystemPhase::Waiting
                | SystemPhase::Restoring
                | SystemPhase::Verifying
                    if dep.verified_at.is_some() =>
                {
                    Some(format!("{} is being restored again", dep.name))
                }
                _ => dep.at_risk.clone(),
            }
        });
        let s = &mut status.systems[i];
        let risk = risk.filter(|_| s.phase.is_verified());
        if s.at_risk != risk {
            s.at_risk = risk;
        }
    }

    // 1b. The data-loss window of each system whose restore reported its restore point
    //     (kept while a restore again runs, until a new point is reported).
    for (m, s) in model.systems.iter().zip(status.systems.iter_mut()) {
        if let Some(d) = super::data_loss::data_loss(m, s, &plan_started)
            && s.data_loss.as_ref() != Some(&d)
        {
            s.data_loss = Some(d);
        }
    }

    // 2. Block, cancel or ready the systems that have not started, in restore order, so
    //    that a verdict on a dependency is known before its dependents are looked at.
    let halted = model.settings.failure_policy == FailurePolicy::Halt
        && status
            .systems
            .iter()
            .any(|s| s.phase == SystemPhase::Failed);
    let mut ready: Vec<usize> = Vec::new();
    // "waiting for a, b" is written here and only copied into a status when it changed,
    // which is rarely: rebuilding it for every waiting system at every decision was most
    // of the simulator's time on a large plan.
    let mut waiting_message = String::new();
    for i in 0..status.systems.len() {
        if !matches!(
            status.systems[i].phase,
            SystemPhase::Pending | SystemPhase::Waiting
        ) {
            continue;
        }
        let m = &model.systems[i];
        // Under a halt, a cancelled dependency means the plan stopped, not that the
        // dependency broke: the system is cancelled below like every other not started.
        let stopped_dep = m
            .hard_deps
            .iter()
            .copied()
            .find(|&d| match status.systems[d].phase {
                SystemPhase::Failed | SystemPhase::Blocked => true,
                SystemPhase::Cancelled => !halted,
                _ => false,
            });
        if let Some(d) = stopped_dep {
            let dep = &status.systems[d];
            // `blocked_by` names the system that failed, however far down the chain.
            let (message, root) = match (dep.phase, dep.blocked_by.as_deref()) {
                (SystemPhase::Failed, _) => {
                    (format!("dependency {} failed", dep.name), dep.name.clone())
                }
                (SystemPhase::Blocked, Some(root)) => (
                    format!("dependency {} is blocked by {root}", dep.name),
                    root.to_string(),
                ),
                _ => (
                    format!("dependency {} was cancelled", dep.name),
                    dep.name.clone(),
                ),
            };
            let s = &mut status.systems[i];
            s.phase = SystemPhase::Blocked;
            s.blocked_by = Some(root);
            s.message = Some(message);
            continue;
        }
        if halted {
            let s = &mut status.systems[i];
            s.phase = SystemPhase::Cancelled;
            s.message = Some("not started: the plan halts after a failure".to_string());
            continue;
        }
        waiting_message.clear();
        waiting_message.push_str(WAITING_FOR);
        let mut waiting = false;
        for &d in &m.hard_deps {
            // A dependency failing again holds back what would be restored on top of it.
            let phase = counted_phase(&status.systems[d]);
            if !phase.is_verified() || phase == SystemPhase::Degraded {
                if waiting {
                    waiting_message.push_str(", ");
                }
                waiting_message.push_str(&status.systems[d].name);
                waiting = true;
            }
        }
        if waiting {
            let s = &mut status.systems[i];
            s.phase = SystemPhase::Waiting;
            if s.message.as_deref() != Some(waiting_message.as_str()) {
                s.message = Some(waiting_message.clone());
            }
            continue;
        }
        if m.steps.is_empty() && m.checks.is_empty() {
            if !inputs.paused {
                let s = &mut status.systems[i];
                s.restore_started_at = Some(now.clone());
                ctx.verified(i, s, &plan_started);
            }
            continue;
        }
        ready.push(i);
    }

    // 3. Start ready systems, most urgent tier first, then by name, while capacity lasts.
    let active = status
        .systems
        .iter()
        .filter(|s| s.phase.is_active())
        .count();
    let mut slots = match model.settings.parallelism {
        Some(p) => (p as usize).saturating_sub(active),
        None => usize::MAX,
    };
    if inputs.paused || halted {
        slots = 0;
    }
    ready.sort_by(|&a, &b| {
        (model.systems[a].tier, &model.systems[a].key)
            .cmp(&(model.systems[b].tier, &model.systems[b].key))
    });
    for i in ready {
        let s = &mut status.systems[i];
        if slots == 0 {
            s.phase = SystemPhase::Waiting;
            s.message = Some(if inputs.paused {
                "ready; the plan is paused".to_string()
            } else {
                match model.settings.parallelism {
                    Some(p) => format!("ready; waiting for capacity (parallelism {p})"),
                    None => "ready".to_string(),
                }
            });
            continue;
        }
        slots -= 1;
        s.phase = SystemPhase::Restoring;
        s.restore_started_at.get_or_insert_with(|| now.clone());
        // Each attempt (a retry, a restore again) has its whole restore timeout.
        s.attempt_started_at = Some(now.clone());
        s.paused_seconds = 0;
        ctx.advance_restore(i, s, &plan_started);
    }

    // 4. Release verified systems stage by stage.
    if !inputs.paused {
        for i in 0..status.systems.len() {
            if !status.systems[i].phase.is_verified() {
                continue;
            }
            loop {
                let current = released_index(model, &status.systems[i]);
                // A system leaves a stage only once it has soaked there, and never while
                // a check fails.
                if let Some(k) = current
                    && !ctx.soaked(&mut status.systems[i], k)
                {
                    break;
                }
                if status.systems[i]
                    .checks
                    .iter()
                    .any(|c| c.failing_since.is_some())
                {
                    break;
                }
                // A gate the API server refused holds the system until it can be applied.
                if status.systems[i]
                    .gate
                    .as_ref()
                    .is_some_and(|g| g.error.is_some())
                {
                    break;
                }
                let next = current.map_or(0, |k| k + 1);
                let Some(stage) = model.settings.stages.get(next) else {
                    break;
                };
                // Restored again: back to the stage it was approved at, without new
                // decisions; beyond it, as any other.
                let resumed = status.systems[i]
                    .resume_stage
                    .as_deref()
                    .and_then(|r| model.settings.stage_index(r))
                    .is_some_and(|r| next <= r);
                if !resumed && *inputs.gate(next, &status.systems[i].name) != StageGate::Open {
                    break;
                }
                // Another plan releases what it holds, at its own stages.
                let deps_released = model.systems[i].hard_deps.iter().all(|&d| {
                    !model.systems[d].has_release_gate
                        || status.systems[d].phase == SystemPhase::Held
                        || released_index(model, &status.systems[d]).is_some_and(|k| k >= next)
                });
                if !deps_released {
                    break;
                }
                let s = &mut status.systems[i];
                s.phase = SystemPhase::Released;
                s.released_stage = Some(stage.name.clone());
                if s.resume_stage.as_deref() == Some(stage.name.as_str()) {
                    s.resume_stage = None;
                }
                s.releases.push(crate::api::v1alpha1::StageRelease {
                    stage: stage.name.clone(),
                    at: now.clone(),
                });
                ctx.actions.push(Action::Release {
                    system: i,
                    stage: next,
                });
                // Its soak at the new stage starts now.
                if !ctx.soaked(s, next) {
                    break;
                }
                // One stage that needs people per decision: the next waits for the next
                // reconcile, so no chain of decisions carries a system on in one go.
                if stage.approval.required > 0 {
                    break;
                }
            }
        }
    }

    // 5. The plan's phase.
    let stages = model.settings.stages.len();
    let done = |s: &SystemStatus| match s.phase {
        SystemPhase::Failed | SystemPhase::Blocked | SystemPhase::Cancelled => true,
        SystemPhase::Verified => stages == 0,
        SystemPhase::Released => released_index(model, s).is_some_and(|k| k + 1 == stages),
        // A regression is watched; the plan's work on the system is done if it is
        // released everywhere it was to be (or was never to be).
        SystemPhase::Degraded => {
            stages == 0 || released_index(model, s).is_some_and(|k| k + 1 == stages)
        }
        SystemPhase::Held => counted_phase(s).is_verified(),
        _ => false,
    };
    let all_done = status.systems.iter().all(done);
    let all_settled = status
        .systems
        .iter()
        .all(|s| s.phase.is_terminal() || counted_phase(s).is_verified());
    let any_failed = status.systems.iter().any(|s| {
        matches!(
            s.phase,
            SystemPhase::Failed | SystemPhase::Blocked | SystemPhase::Cancelled
        )
    });
    status.phase = if all_done {
        if any_failed {
            PlanPhase::Failed
        } else {
            PlanPhase::Succeeded
        }
    } else if inputs.paused {
        PlanPhase::Paused
    } else if all_settled {
        PlanPhase::AwaitingApproval
    } else {
        PlanPhase::Running
    };
    if matches!(status.phase, PlanPhase::Succeeded | PlanPhase::Failed) {
        status.finished_at.get_or_insert(now);
    } else {
        status.finished_at = None;
    }
    summarize(model, &mut status);
    Decision {
        status,
        actions: ctx.actions,
        wake_at: ctx.wake_at,
    }
}

/// Fills `progress` and `currentStage`.
fn summarize(model: &PlanModel, status: &mut RecoveryPlanStatus) {
    let verified = status
        .systems
        .iter()
        .filter(|s| counted_phase(s).is_verified())
        .count();
    status.progress = Some(format!("{verified}/{}", status.systems.len()));
    status.current_stage = status
        .systems
        .iter()
        .filter(|s| s.phase.is_verified())
        .map(|s| released_index(model, s))
        .min()
        .flatten()
        .map(|k| model.settings.stages[k].name.clone());
}

/// How long system `s`'s current restore attempt has run at `now`, not counting the time
/// the plan was paused (so far, and now if it still is).
pub fn restore_elapsed(
    status: &RecoveryPlanStatus,
    s: &SystemStatus,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let start = s
        .attempt_started_at
        .as_ref()
        .or(s.restore_started_at.as_ref())?;
    let mut paused = std::time::Duration::from_secs(s.paused_seconds);
    if let Some(since) = &status.paused_since {
        paused += elapsed(since.0.max(start.0), now);
    }
    Some(elapsed(start.0, now).saturating_sub(paused))
}
