//! What an executor saw (a step finished, a check passed or failed), recorded in the
//! status by [`observe`].

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::time;
use crate::api::v1alpha1::{ActionPhase, CheckStatus, RecoveryPlanStatus, StepStatus, SystemPhase};
use crate::engine::approvals::truncate;

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
    /// A check due (a first check or a rerun) could not be tried: the API server it reads
    /// did not answer. No attempt is counted; the check's message says why.
    CheckNotTried {
        /// System index.
        system: usize,
        /// Check index.
        check: usize,
        /// Why, for people ("could not ask the API server: ...").
        reason: String,
    },
    /// A check that had passed ran again (see [`due_reruns`](super::due_reruns)).
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

/// The most of a step's message or a check's error the status keeps: what a Job, an
/// API server or a target says is never under the plan author's control.
pub const MESSAGE_LIMIT: usize = 1024;

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
            c.message = None;
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
        Observation::CheckNotTried {
            system,
            check,
            reason,
        } => {
            if let Some(c) = due_check(status, *system, *check) {
                c.message = Some(truncate(reason, MESSAGE_LIMIT));
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
            c.message = None;
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

/// The check `check` of `system` that is due to be tried: running (its system
/// verifying), or passed (its system verified, the check rerun).
fn due_check(
    status: &mut RecoveryPlanStatus,
    system: usize,
    check: usize,
) -> Option<&mut CheckStatus> {
    let s = status.systems.get_mut(system)?;
    let verifying = s.phase == SystemPhase::Verifying;
    let verified = s.phase.is_verified();
    s.checks.get_mut(check).filter(|c| {
        (verifying && c.phase == ActionPhase::Running)
            || (verified && c.phase == ActionPhase::Succeeded)
    })
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
