//! The checks of verified systems due to run again.

use k8s_openapi::jiff::Timestamp;

use crate::api::v1alpha1::{ActionPhase, RecoveryPlanStatus, SystemPhase};
use crate::engine::{
    plan::PlanModel,
    time::{after, elapsed},
};

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
