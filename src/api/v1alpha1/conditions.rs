//! The condition types and reasons lifeline writes, in one place: `kubectl wait
//! --for=condition=...`, alerts and dashboards match on these strings.

/// Condition type: the object is valid and the operator acts on it.
pub const READY: &str = "Ready";
/// Condition type (RecoveryPlan): systems are being restored or verified.
pub const PROGRESSING: &str = "Progressing";
/// Condition type (RecoveryDrill): a run is in progress. Its reason is the drill's phase
/// (`Waiting`, `Injecting`, `Recovering`, `Reverting`) while one is, [`reason::NOT_RUNNING`]
/// otherwise.
pub const RUNNING: &str = "Running";

/// Condition type (RecoveryPlan): False when the API server refused the full status for
/// its size and a trimmed one was written instead (reason [`reason::TOO_LARGE`]).
pub const STATUS_COMPLETE: &str = "StatusComplete";

/// Condition type (RecoveryPlan): every release gate is applied as the status says
/// (False, reason [`reason::APPLY_FAILED`], names the systems and the API server's words).
pub const GATES_APPLIED: &str = "GatesApplied";

/// The reasons of the conditions, CamelCase as Kubernetes has them.
pub mod reason {
    /// Ready (plan): the plan's graph is valid and its systems are in restore order.
    pub const PLANNED: &str = "Planned";
    /// Ready and Progressing (plan): the plan or one of its systems is invalid.
    pub const INVALID_PLAN: &str = "InvalidPlan";
    /// Progressing (plan): systems are being restored or verified.
    pub const RESTORING: &str = "Restoring";
    /// Progressing (plan): the run is starting.
    pub const STARTING: &str = "Starting";
    /// Progressing (plan): a release stage awaits approval.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// Progressing (plan): `spec.paused` is set.
    pub const PAUSED: &str = "Paused";
    /// Progressing (plan): every system verified and released.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Progressing (plan): a system failed.
    pub const FAILED: &str = "Failed";
    /// Progressing (plan): `spec.abort` is set.
    pub const ABORTED: &str = "Aborted";
    /// Ready (drill): the drill can run.
    pub const VALID: &str = "Valid";
    /// Ready (drill): the drill cannot run (its message says why).
    pub const INVALID: &str = "Invalid";
    /// GatesApplied (plan): every gate is applied.
    pub const APPLIED: &str = "Applied";
    /// GatesApplied (plan): a gate could not be applied.
    pub const APPLY_FAILED: &str = "ApplyFailed";
    /// StatusComplete (plan): the whole status is stored again.
    pub const STORED: &str = "Stored";
    /// StatusComplete (plan): the full status was too large to store.
    pub const TOO_LARGE: &str = "TooLarge";
    /// `StatusComplete`: RecoveryProgress objects the status names are gone.
    pub const PROGRESS_LOST: &str = "ProgressLost";
    /// Running (drill): no run in progress.
    pub const NOT_RUNNING: &str = "NotRunning";
}
