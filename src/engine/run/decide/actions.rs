//! What a decision asks of an executor, and the decision itself.

use k8s_openapi::jiff::Timestamp;

use crate::api::v1alpha1::RecoveryPlanStatus;

/// Something an executor must do. Indices point into [`PlanModel::systems`](crate::engine::plan::PlanModel::systems) and their
/// steps, checks and the plan's stages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Run restore step `step` of `system` and report [`Observation::StepSucceeded`](super::Observation::StepSucceeded) or
    /// [`Observation::StepFailed`](super::Observation::StepFailed).
    StartStep {
        /// System index.
        system: usize,
        /// Step index.
        step: usize,
    },
    /// Run check `check` of `system` (with retries up to its deadline) and report
    /// [`Observation::CheckAttempt`](super::Observation::CheckAttempt)s.
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

/// The result of [`decide`](super::decide).
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
