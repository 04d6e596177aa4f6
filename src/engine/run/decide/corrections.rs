//! Changes to a plan's status made outside a decision: a person's retry or restore
//! again, and a release the controller takes back (its gate could not be applied, or the
//! system's release changed under the plan). The next decision carries on from them.

use k8s_openapi::jiff::Timestamp;

use super::{align, released_index, time};
use crate::api::v1alpha1::{ActionPhase, PlanPhase, RecoveryPlanStatus, SystemPhase};
use crate::engine::{plan::PlanModel, time::seconds_between};

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
/// [`decide`](super::decide) starts it.
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
/// it blocked or that a halt cancelled be considered again. The next [`decide`](super::decide) restarts it.
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
