//! The phases of a plan, of a system in it, and of a restore step or check.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The plan's phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PlanPhase {
    /// Not started yet.
    #[default]
    Pending,
    /// Systems are being restored or verified.
    Running,
    /// Everything that can be verified is; a release stage awaits approval.
    AwaitingApproval,
    /// Every system verified and released.
    Succeeded,
    /// A system failed and nothing more can make progress.
    Failed,
    /// `spec.paused` is set.
    Paused,
    /// The plan was aborted.
    Aborted,
}

impl fmt::Display for PlanPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A system's phase within a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SystemPhase {
    /// Not looked at yet.
    #[default]
    Pending,
    /// Waiting for its hard dependencies, or for capacity.
    Waiting,
    /// Running its restore steps.
    Restoring,
    /// Running its checks.
    Verifying,
    /// Restored and every check passed.
    Verified,
    /// Released to staff at one or more stages.
    Released,
    /// Verified (and perhaps released), and a check fails again: staff keep access
    /// unless the system's release says `withdrawOnFailure`.
    Degraded,
    /// A step or check failed.
    Failed,
    /// A hard dependency failed (or is blocked), so it cannot start.
    Blocked,
    /// The plan stopped before this system finished.
    Cancelled,
    /// Another plan recovers it (`heldBy`): this plan leaves it alone, its steps, checks
    /// and release gate included, and counts it as restored once that plan has verified
    /// it.
    Held,
}

impl SystemPhase {
    /// True when nothing more will happen to the system in this run (short of a retry).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SystemPhase::Verified
                | SystemPhase::Released
                | SystemPhase::Degraded
                | SystemPhase::Failed
                | SystemPhase::Blocked
                | SystemPhase::Cancelled
        )
    }

    /// True once the system has been verified (and perhaps released).
    pub fn is_verified(self) -> bool {
        matches!(
            self,
            SystemPhase::Verified | SystemPhase::Released | SystemPhase::Degraded
        )
    }

    /// True while the system uses a parallelism slot.
    pub fn is_active(self) -> bool {
        matches!(self, SystemPhase::Restoring | SystemPhase::Verifying)
    }
}

impl fmt::Display for SystemPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The progress of one step or check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ActionPhase {
    /// Not started.
    #[default]
    Pending,
    /// Started, not finished.
    Running,
    /// Finished successfully (a check passed).
    Succeeded,
    /// Finished unsuccessfully, after any retries.
    Failed,
}
