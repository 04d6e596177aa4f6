//! The recovery state machine. [`decide`] takes a plan, the status so far and the current
//! time, and returns the new status and the actions to take; [`observe`] records what an
//! executor saw (a step finished, a check passed). Both are pure: no client, no clock.
//!
//! Every action is recorded in the returned status before anyone runs it (a step is
//! `Running` with its start time and attempt number), so an executor that crashes and
//! comes back finds the step in status and resumes it rather than starting another.

use std::collections::BTreeMap;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::api::v1alpha1::{
    ActionPhase, CheckStatus, FailurePolicy, PlanPhase, RecoveryPlanStatus, Regression, SoakStatus,
    StepStatus, SystemPhase, SystemStatus,
};
use crate::engine::{
    approvals::truncate,
    plan::PlanModel,
    time::{after, elapsed, objective_met, seconds_between},
};

/// How the message of a system waiting for its dependencies starts ("waiting for a, b").
pub const WAITING_FOR: &str = "waiting for ";

/// Whether a release stage may proceed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageGate {
    /// Approved (or needs no approval): systems may be released at this stage.
    Open,
    /// Waiting for approval.
    Awaiting,
    /// Rejected, with the reason.
    Rejected(String),
}

/// What the engine is told besides the plan and the status.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The current time.
    pub now: Timestamp,
    /// `spec.paused`: start nothing new.
    pub paused: bool,
    /// The plan was aborted: cancel what has not finished.
    pub aborted: bool,
    /// One gate per stage of the plan, in order, for every system the stage decides as a
    /// whole. Missing entries count as `Awaiting`.
    pub gates: Vec<StageGate>,
    /// The gate of one system at one stage (stage index, "namespace/name"), from the
    /// Approvals that name it; where present it decides for that system instead of the
    /// stage's gate.
    pub system_gates: BTreeMap<(usize, String), StageGate>,
    /// The systems of the plan that another plan holds ("namespace/name"), see
    /// [`super::handover`].
    pub holders: BTreeMap<String, super::handover::Holder>,
}

impl Inputs {
    /// The gate of system `key` at stage `k`.
    pub fn gate(&self, k: usize, key: &str) -> &StageGate {
        gate_of(&self.gates, &self.system_gates, k, key)
    }
}

/// The gate of system `key` at stage `k`: its own where it has one, else the stage's,
/// else awaiting.
pub fn gate_of<'a>(
    gates: &'a [StageGate],
    system_gates: &'a BTreeMap<(usize, String), StageGate>,
    k: usize,
    key: &str,
) -> &'a StageGate {
    const AWAITING: &StageGate = &StageGate::Awaiting;
    system_gates
        .get(&(k, key.to_string()))
        .or_else(|| gates.get(k))
        .unwrap_or(AWAITING)
}

impl Inputs {
    /// Inputs at `now` with every stage open, not paused, not aborted.
    pub fn at(now: Timestamp, model: &PlanModel) -> Self {
        Self {
            now,
            paused: false,
            aborted: false,
            gates: vec![StageGate::Open; model.settings.stages.len()],
            system_gates: BTreeMap::new(),
            holders: BTreeMap::new(),
        }
    }
}

/// Something an executor must do. Indices point into [`PlanModel::systems`] and their
/// steps, checks and the plan's stages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Run restore step `step` of `system` and report [`Observation::StepSucceeded`] or
    /// [`Observation::StepFailed`].
    StartStep {
        /// System index.
        system: usize,
        /// Step index.
        step: usize,
    },
    /// Run check `check` of `system` (with retries up to its deadline) and report
    /// [`Observation::CheckAttempt`]s.
    StartCheck {
        /// System index.
        system: usize,
        /// Check index.
        check: usize,
    },
    /// Open `system`'s release gate to `stage` (and every stage before it).
    Release {
        /// System index.
        system: usize,
        /// Stage index.
        stage: usize,
    },
}

/// What an executor saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A restore step finished successfully. `token` identifies its side effect.
    StepSucceeded {
        /// System index.
        system: usize,
        /// Step index.
        step: usize,
        /// Identifies the side effect (e.g. a Job name), if any.
        token: Option<String>,
    },
    /// A restore step that reports a restore point reported it (or failed to): observed
    /// just before its [`Observation::StepSucceeded`].
    RestorePoint {
        /// System index.
        system: usize,
        /// Step index.
        step: usize,
        /// The point in time its data was restored to.
        at: Option<Timestamp>,
        /// Why there is none, when there is none.
        problem: Option<String>,
    },
    /// A restore step failed for good.
    StepFailed {
        /// System index.
        system: usize,
        /// Step index.
        step: usize,
        /// Why, for people.
        message: String,
    },
    /// One attempt of a check finished.
    CheckAttempt {
        /// System index.
        system: usize,
        /// Check index.
        check: usize,
        /// Whether it passed.
        passed: bool,
        /// The error, when it failed.
        error: Option<String>,
        /// True when no more attempts will be made (the deadline passed).
        last: bool,
    },
    /// A check that had passed ran again (see [`due_reruns`]).
    CheckRerun {
        /// System index.
        system: usize,
        /// Check index.
        check: usize,
        /// Whether it passed.
        passed: bool,
        /// The error, when it failed.
        error: Option<String>,
    },
}

/// The result of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The new status.
    pub status: RecoveryPlanStatus,
    /// What to do now, in order.
    pub actions: Vec<Action>,
    /// The earliest moment the decision changes by time alone, with nothing new observed
    /// (a soak ends): decide again then.
    pub wake_at: Option<Timestamp>,
}

/// The most of a step's message or a check's error the status keeps: what a Job, an
/// API server or a target says is never under the plan author's control.
pub const MESSAGE_LIMIT: usize = 1024;

fn time(t: Timestamp) -> Time {
    Time(t)
}

/// Makes `status.systems` hold exactly one entry per system of the model, in restore
/// order, keeping what was recorded for systems already there (`now`, when known, is when
/// a new one joined).
fn align(model: &PlanModel, status: &mut RecoveryPlanStatus, now: Option<Time>) {
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

struct Ctx<'a> {
    model: &'a PlanModel,
    inputs: &'a Inputs,
    now: Time,
    actions: Vec<Action>,
    wake_at: Option<Timestamp>,
}

/// The most regressions a system's status lists.
pub const REGRESSIONS_LISTED: usize = 20;

impl Ctx<'_> {
    /// Marks verified system `i` Degraded while a check fails again, and back once they
    /// all pass, recording the regression.
    fn watch(&mut self, i: usize, s: &mut SystemStatus) {
        if !s.phase.is_verified() {
            return;
        }
        let failing = s
            .checks
            .iter()
            .find(|c| c.failing_since.is_some())
            .map(|c| {
                (
                    c.name.clone(),
                    c.failing_since.clone(),
                    c.last_error.clone(),
                )
            });
        match (s.phase, failing) {
            (SystemPhase::Degraded, None) => {
                if let Some(r) = s.regressions.last_mut().filter(|r| r.ended_at.is_none()) {
                    r.seconds = seconds_between(r.started_at.0, self.now.0);
                    r.ended_at = Some(self.now.clone());
                }
                s.phase = if s.released_stage.is_some() {
                    SystemPhase::Released
                } else {
                    SystemPhase::Verified
                };
                s.message = None;
            }
            (SystemPhase::Verified | SystemPhase::Released, Some((check, since, error))) => {
                let withdraw =
                    self.model.systems[i].withdraw_on_failure && s.released_stage.is_some();
                let since = since.unwrap_or_else(|| self.now.clone());
                s.phase = SystemPhase::Degraded;
                s.regression_count = s.regression_count.saturating_add(1);
                s.regressions.push(Regression {
                    check: check.clone(),
                    started_at: since.clone(),
                    ended_at: None,
                    seconds: None,
                    error: error.clone(),
                    withdrawn: withdraw,
                });
                let excess = s.regressions.len().saturating_sub(REGRESSIONS_LISTED);
                s.regressions.drain(..excess);
                if withdraw {
                    s.withdrawn_at = Some(self.now.clone());
                    s.released_stage = None;
                }
                s.message = Some(format!(
                    "degraded: check '{check}' failing since {}: {}; {}",
                    since.0,
                    error.as_deref().unwrap_or("no error recorded"),
                    if withdraw {
                        "its gate is withdrawn to the verification audience until it passes and each stage approves it again"
                    } else {
                        "staff keep access"
                    }
                ));
            }
            _ => {}
        }
    }

    fn wake(&mut self, at: Timestamp) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    /// Whether system `s`, released at stage `k`, has soaked there: it has no soak, or
    /// has been released there that long with its checks passing. Records the soak in
    /// `s.soak` and says in `s.message` what holds the system.
    fn soaked(&mut self, s: &mut SystemStatus, k: usize) -> bool {
        let stage = &self.model.settings.stages[k];
        let Some(length) = stage
            .soak
            .filter(|_| k + 1 < self.model.settings.stages.len())
        else {
            // A soak at an earlier stage stays, as the record of it.
            return true;
        };
        let soak = s.soak.get_or_insert_with(SoakStatus::default);
        if soak.stage != stage.name {
            *soak = SoakStatus {
                stage: stage.name.clone(),
                ..Default::default()
            };
        }
        if soak.completed_at.is_some() {
            return true;
        }
        if let Some(c) = s.checks.iter().find(|c| c.failing_since.is_some()) {
            let why = format!(
                "check '{}' failing since {}: {}",
                c.name,
                c.failing_since.as_ref().map(|t| t.0).unwrap_or(self.now.0),
                c.last_error.as_deref().unwrap_or("no error recorded")
            );
            if soak.since.take().is_some() {
                soak.until = None;
                soak.holds += 1;
            }
            let message = format!("held at stage {}: {why}", stage.name);
            if soak.held_by.as_deref() != Some(why.as_str()) {
                soak.held_by = Some(why);
            }
            if s.message.as_deref() != Some(message.as_str()) {
                s.message = Some(message);
            }
            return false;
        }
        soak.held_by = None;
        let since = soak.since.get_or_insert_with(|| self.now.clone()).0;
        let until = after(since, length);
        soak.until = Some(Time(until));
        if self.now.0 >= until {
            soak.completed_at = Some(self.now.clone());
            s.message = None;
            return true;
        }
        let message = format!("soaking at stage {} until {until}", stage.name);
        if s.message.as_deref() != Some(message.as_str()) {
            s.message = Some(message);
        }
        self.wake(until);
        false
    }

    fn fail(&self, s: &mut SystemStatus, message: String) {
        s.phase = SystemPhase::Failed;
        s.failed_at = Some(self.now.clone());
        s.message = Some(message);
    }

    fn verified(&self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
        s.phase = SystemPhase::Verified;
        s.message = None;
        // Restored again: the first verification stays the record of the recovery.
        if let Some(again) = s
            .restored_again
            .last_mut()
            .filter(|r| r.verified_at.is_none())
            && s.verified_at.is_some()
        {
            again.verified_at = Some(self.now.clone());
            return;
        }
        s.verified_at = Some(self.now.clone());
        let secs = seconds_between(plan_started.0, self.now.0).unwrap_or(0);
        s.recovery_seconds = Some(secs);
        s.objective_met = objective_met(secs, Some(self.model.systems[i].objective.as_secs()));
    }

    /// Moves a Restoring system on: fail it, start its next step, or start verifying.
    fn advance_restore(&mut self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
        if let Some(step) = s.steps.iter().find(|x| x.phase == ActionPhase::Failed) {
            let msg = format!(
                "restore step '{}' failed: {}",
                step.name,
                step.message.as_deref().unwrap_or("no reason given")
            );
            self.fail(s, msg);
            return;
        }
        match s
            .steps
            .iter()
            .position(|x| x.phase != ActionPhase::Succeeded)
        {
            Some(k) => {
                if s.steps[k].phase == ActionPhase::Pending && !self.inputs.paused {
                    let step = &mut s.steps[k];
                    step.phase = ActionPhase::Running;
                    step.started_at = Some(self.now.clone());
                    step.finished_at = None;
                    step.message = None;
                    step.attempts += 1;
                    s.message = Some(format!("restoring: step '{}'", step.name));
                    self.actions.push(Action::StartStep { system: i, step: k });
                }
            }
            None => {
                s.phase = SystemPhase::Verifying;
                self.advance_verify(i, s, plan_started);
            }
        }
    }

    /// Moves a Verifying system on: fail it, start pending checks, or mark it verified.
    fn advance_verify(&mut self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
        if let Some(check) = s.checks.iter().find(|c| c.phase == ActionPhase::Failed) {
            let msg = format!(
                "check '{}' failed after {} attempt{}: {}",
                check.name,
                check.attempts,
                if check.attempts == 1 { "" } else { "s" },
                check.last_error.as_deref().unwrap_or("no error recorded")
            );
            self.fail(s, msg);
            return;
        }
        if s.checks.iter().all(|c| c.phase == ActionPhase::Succeeded) {
            self.verified(i, s, plan_started);
            return;
        }
        if self.inputs.paused {
            return;
        }
        for (k, c) in s.checks.iter_mut().enumerate() {
            if c.phase == ActionPhase::Pending {
                c.phase = ActionPhase::Running;
                c.started_at = Some(self.now.clone());
                c.finished_at = None;
                self.actions.push(Action::StartCheck {
                    system: i,
                    check: k,
                });
            }
        }
        s.message = Some("verifying".to_string());
    }
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

/// The checks of verified systems that are due to run again now, and when the next one
/// is due after those. A verified system's checks run again at its monitor interval for
/// as long as the plan lasts, and at its retry interval while it soaks at a stage or is
/// degraded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reruns {
    /// (system, check) indices, due now.
    pub due: Vec<(usize, usize)>,
    /// When the next rerun not yet due falls due.
    pub next: Option<Timestamp>,
}

/// The reruns due at `now` (see [`Reruns`]).
pub fn due_reruns(model: &PlanModel, status: &RecoveryPlanStatus, now: Timestamp) -> Reruns {
    let mut out = Reruns::default();
    for (i, s) in status.systems.iter().enumerate() {
        let Some(m) = model.systems.get(i).filter(|m| m.key == s.name) else {
            continue;
        };
        if !s.phase.is_verified() {
            continue;
        }
        let soaking = s.soak.as_ref().is_some_and(|k| {
            k.completed_at.is_none() && Some(&k.stage) == s.released_stage.as_ref()
        });
        // Closely while it soaks or a check fails again; at the monitor interval else.
        let interval = if soaking || s.phase == SystemPhase::Degraded {
            m.retry_interval
        } else {
            m.monitor_interval
        };
        for (k, c) in s.checks.iter().enumerate() {
            if c.phase != ActionPhase::Succeeded {
                continue;
            }
            let due_at = c
                .last_attempt_at
                .as_ref()
                .map_or(now, |t| after(t.0, interval).max(t.0));
            if elapsed(now, due_at).is_zero() {
                out.due.push((i, k));
            } else {
                out.next = Some(out.next.map_or(due_at, |n| n.min(due_at)));
            }
        }
    }
    out
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

/// Records what an executor saw. Observations about a step or check that is not running
/// (a duplicate report, a report from before a retry) change nothing.
pub fn observe(status: &mut RecoveryPlanStatus, obs: &Observation, now: Timestamp) {
    let now = time(now);
    match obs {
        Observation::StepSucceeded {
            system,
            step,
            token,
        } => {
            if let Some(st) = running_step(status, *system, *step) {
                st.phase = ActionPhase::Succeeded;
                st.finished_at = Some(now);
                st.message = None;
                if token.is_some() {
                    st.token = token.clone();
                }
            }
        }
        Observation::RestorePoint {
            system,
            step,
            at,
            problem,
        } => {
            if let Some(st) = running_step(status, *system, *step) {
                st.restore_point = at.map(Time);
                st.restore_point_problem = problem.as_ref().map(|p| truncate(p, MESSAGE_LIMIT));
            }
        }
        Observation::StepFailed {
            system,
            step,
            message,
        } => {
            if let Some(st) = running_step(status, *system, *step) {
                st.phase = ActionPhase::Failed;
                st.finished_at = Some(now);
                st.message = Some(truncate(message, MESSAGE_LIMIT));
            }
        }
        Observation::CheckAttempt {
            system,
            check,
            passed,
            error,
            last,
        } => {
            let Some(c) = status
                .systems
                .get_mut(*system)
                .filter(|s| s.phase == SystemPhase::Verifying)
                .and_then(|s| s.checks.get_mut(*check))
                .filter(|c| c.phase == ActionPhase::Running)
            else {
                return;
            };
            c.attempts += 1;
            c.last_attempt_at = Some(now.clone());
            if *passed {
                c.phase = ActionPhase::Succeeded;
                c.finished_at = Some(now);
                // The last error stays: the record of a check that failed before it passed.
            } else {
                c.last_error = error.as_deref().map(|e| truncate(e, MESSAGE_LIMIT));
                c.last_failed_at = Some(now.clone());
                if *last {
                    c.phase = ActionPhase::Failed;
                    c.finished_at = Some(now);
                }
            }
        }
        Observation::CheckRerun {
            system,
            check,
            passed,
            error,
        } => {
            let Some(c) = rerun_check(status, *system, *check) else {
                return;
            };
            c.reruns += 1;
            c.last_attempt_at = Some(now.clone());
            if *passed {
                c.failing_since = None;
            } else {
                c.last_error = error.as_deref().map(|e| truncate(e, MESSAGE_LIMIT));
                c.last_failed_at = Some(now.clone());
                c.failing_since.get_or_insert(now);
            }
        }
    }
}

fn rerun_check(
    status: &mut RecoveryPlanStatus,
    system: usize,
    check: usize,
) -> Option<&mut CheckStatus> {
    status
        .systems
        .get_mut(system)
        .filter(|s| s.phase.is_verified())
        .and_then(|s| s.checks.get_mut(check))
        .filter(|c| c.phase == ActionPhase::Succeeded)
}

fn running_step(
    status: &mut RecoveryPlanStatus,
    system: usize,
    step: usize,
) -> Option<&mut StepStatus> {
    status
        .systems
        .get_mut(system)
        .filter(|s| s.phase == SystemPhase::Restoring)
        .and_then(|s| s.steps.get_mut(step))
        .filter(|st| st.phase == ActionPhase::Running)
}

/// Takes system `i` back to the verification audience: its `spec.release` changed under
/// the plan, so no stage it was released at still vouches for what it now gates. It waits
/// at the first stage again; the releases it had stay in its record. Changes nothing for a
/// system not released.
pub fn regate(status: &mut RecoveryPlanStatus, i: usize, message: String) {
    let Some(s) = status.systems.get_mut(i) else {
        return;
    };
    if s.released_stage.take().is_some() || s.phase == SystemPhase::Released {
        s.phase = SystemPhase::Verified;
        s.soak = None;
        s.message = Some(message);
    }
}

/// Undoes the release of system `i` at its current stage, back to `applied` (the stage
/// whose gate was last applied, `None` for none): its gate could not be applied, so it is
/// not released there. The release's entry leaves its record.
pub fn unrelease(
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
    i: usize,
    applied: Option<&str>,
    message: String,
) {
    let Some(s) = status.systems.get_mut(i) else {
        return;
    };
    let keep = applied.and_then(|a| model.settings.stage_index(a));
    while let Some(current) = released_index(model, s) {
        if Some(current) <= keep {
            break;
        }
        if s.releases
            .last()
            .is_some_and(|r| r.stage == model.settings.stages[current].name)
        {
            s.releases.pop();
        }
        s.released_stage = current
            .checked_sub(1)
            .map(|k| model.settings.stages[k].name.clone());
    }
    if s.released_stage.is_none() && s.phase == SystemPhase::Released {
        s.phase = SystemPhase::Verified;
    }
    s.message = Some(message);
}

/// Why a restore again was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// No such system in the plan.
    #[error("{0} is not in this plan")]
    UnknownSystem(String),
    /// The system is not verified.
    #[error(
        "{system} is {phase}: only a verified, released or degraded system is restored again (a failed one is retried)"
    )]
    NotVerified {
        /// The system.
        system: String,
        /// Its phase.
        phase: SystemPhase,
    },
    /// No such step.
    #[error("{system} has no restore step {step} (its steps: {steps})")]
    UnknownStep {
        /// The system.
        system: String,
        /// The step asked for.
        step: String,
        /// Its steps.
        steps: String,
    },
    /// A step that must not run twice without `--force`.
    #[error(
        "{system}'s step {step} is repeatable: false (it must not run twice unasked, e.g. a restore from backup overwriting what staff entered since): restore from a later step, or pass --force to run it again"
    )]
    NotRepeatable {
        /// The system.
        system: String,
        /// The step.
        step: String,
    },
}

/// The most restores again a system's status lists.
pub const RESTORES_LISTED: usize = 20;

/// Restores verified system `key` again from step `from_step` (default the first), then
/// runs its checks, leaving its dependencies alone. Its gate goes back to the
/// verification audience meanwhile; once verified it returns to the stage it was last
/// approved at (or, with `reapproveAfterRestore`, goes through release again on new
/// Approvals). A step marked `repeatable: false` is refused without `force`. The next
/// [`decide`] starts it.
pub fn restore_again(
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
    key: &str,
    from_step: Option<&str>,
    force: bool,
    now: Timestamp,
) -> Result<(), RestoreError> {
    let i = model
        .find(key)
        .ok_or_else(|| RestoreError::UnknownSystem(key.to_string()))?;
    align(model, status, None);
    let m = &model.systems[i];
    let s = &mut status.systems[i];
    if !s.phase.is_verified() {
        return Err(RestoreError::NotVerified {
            system: key.to_string(),
            phase: s.phase,
        });
    }
    let k = match from_step {
        None => 0,
        Some(step) => {
            m.steps
                .iter()
                .position(|n| n == step)
                .ok_or_else(|| RestoreError::UnknownStep {
                    system: key.to_string(),
                    step: step.to_string(),
                    steps: m.steps.join(", "),
                })?
        }
    };
    if !force
        && let Some(j) =
            (k..m.steps.len()).find(|&j| !m.repeatable_steps.get(j).copied().unwrap_or(true))
    {
        return Err(RestoreError::NotRepeatable {
            system: key.to_string(),
            step: m.steps[j].clone(),
        });
    }
    let now = time(now);
    for step in s.steps.iter_mut().skip(k) {
        step.phase = ActionPhase::Pending;
        step.finished_at = None;
        step.message = None;
        step.restore_point = None;
        step.restore_point_problem = None;
    }
    for c in &mut s.checks {
        c.phase = ActionPhase::Pending;
        c.failing_since = None;
    }
    if m.reapprove_after_restore {
        s.reapprove_after = Some(now.clone());
        s.resume_stage = None;
    } else if let Some(stage) = s.released_stage.clone() {
        // Where it was approved to: it goes back there once verified.
        s.resume_stage = Some(stage);
    }
    if let Some(r) = s.regressions.last_mut().filter(|r| r.ended_at.is_none()) {
        r.seconds = seconds_between(r.started_at.0, now.0);
        r.ended_at = Some(now.clone());
    }
    s.released_stage = None;
    s.soak = None;
    s.phase = SystemPhase::Pending;
    s.message = Some(format!(
        "restoring again from step {}{}",
        m.steps.get(k).map_or("(none)", String::as_str),
        if force { ", forced" } else { "" }
    ));
    s.restored_again.push(crate::api::v1alpha1::RestoredAgain {
        at: now,
        from_step: m.steps.get(k).cloned().unwrap_or_default(),
        forced: force,
        verified_at: None,
    });
    let excess = s.restored_again.len().saturating_sub(RESTORES_LISTED);
    s.restored_again.drain(..excess);
    if matches!(status.phase, PlanPhase::Succeeded | PlanPhase::Failed) {
        status.phase = PlanPhase::Running;
        status.finished_at = None;
    }
    Ok(())
}

/// Why a retry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryError {
    /// No such system in the plan.
    #[error("{0} is not in this plan")]
    UnknownSystem(String),
    /// The system has not failed.
    #[error("{system} is {phase}, not Failed: only a failed system can be retried")]
    NotFailed {
        /// The system.
        system: String,
        /// Its phase.
        phase: SystemPhase,
    },
}

/// Resumes a failed system from its failed step (or failed checks), and lets the systems
/// it blocked or that a halt cancelled be considered again. The next [`decide`] restarts it.
pub fn retry(
    model: &PlanModel,
    status: &mut RecoveryPlanStatus,
    key: &str,
) -> Result<(), RetryError> {
    let i = model
        .find(key)
        .ok_or_else(|| RetryError::UnknownSystem(key.to_string()))?;
    align(model, status, None);
    let s = &mut status.systems[i];
    if s.phase != SystemPhase::Failed {
        return Err(RetryError::NotFailed {
            system: key.to_string(),
            phase: s.phase,
        });
    }
    for step in &mut s.steps {
        if step.phase == ActionPhase::Failed {
            step.phase = ActionPhase::Pending;
        }
    }
    for c in &mut s.checks {
        if c.phase == ActionPhase::Failed {
            c.phase = ActionPhase::Pending;
        }
    }
    // Back to Pending, not straight to Restoring: the next decision starts it when the
    // parallelism cap has room, from its first step that has not succeeded (the failed
    // one), or with its failed checks when every step had succeeded. Under `halt`, a
    // failure still standing elsewhere keeps it from starting: retry that one too.
    s.phase = SystemPhase::Pending;
    s.failed_at = None;
    s.message = Some("retrying".to_string());
    for other in &mut status.systems {
        if matches!(other.phase, SystemPhase::Blocked | SystemPhase::Cancelled) {
            other.phase = SystemPhase::Pending;
            other.blocked_by = None;
            other.message = None;
        }
    }
    if matches!(status.phase, PlanPhase::Failed) {
        status.phase = PlanPhase::Running;
        status.finished_at = None;
    }
    Ok(())
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
