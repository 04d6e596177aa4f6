//! How one system moves on within a decision: its restore steps started one by one, its
//! checks run, verified, soaked at each release stage, and watched for regressions.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::{Action, Inputs};
use crate::api::v1alpha1::{ActionPhase, Regression, SoakStatus, SystemPhase, SystemStatus};
use crate::engine::{
    plan::PlanModel,
    time::{after, objective_met, seconds_between},
};

pub(super) struct Ctx<'a> {
    pub(super) model: &'a PlanModel,
    pub(super) inputs: &'a Inputs,
    pub(super) now: Time,
    pub(super) actions: Vec<Action>,
    pub(super) wake_at: Option<Timestamp>,
}

/// The most regressions a system's status lists.
pub const REGRESSIONS_LISTED: usize = 20;

impl Ctx<'_> {
    /// Marks verified system `i` Degraded while a check fails again, and back once they
    /// all pass, recording the regression.
    pub(super) fn watch(&mut self, i: usize, s: &mut SystemStatus) {
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
    pub(super) fn soaked(&mut self, s: &mut SystemStatus, k: usize) -> bool {
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

    pub(super) fn verified(&self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
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
    pub(super) fn advance_restore(&mut self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
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
    pub(super) fn advance_verify(&mut self, i: usize, s: &mut SystemStatus, plan_started: &Time) {
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
