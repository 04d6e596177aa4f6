//! The intervals, deadlines and timeouts a system's spec gives its restore and checks,
//! and how long its restore attempt has run.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::{DEFAULT_CHECK_DEADLINE, DEFAULT_RETRY_INTERVAL};
use crate::api::v1alpha1::{ClinicalSystem, RecoveryPlanStatus};
use crate::controller::Context;
use crate::engine;

/// How long system `s`'s restore attempt has run at `now`: without the time the plan was
/// paused, and without the time the API server did not answer.
pub(super) fn attempt_elapsed(
    ctx: &Context,
    status: &RecoveryPlanStatus,
    s: &crate::api::v1alpha1::SystemStatus,
    now: Timestamp,
) -> Option<Duration> {
    let ran = engine::restore_elapsed(status, s, now)?;
    let start = s
        .attempt_started_at
        .as_ref()
        .or(s.restore_started_at.as_ref())?;
    Some(ran.saturating_sub(ctx.unreachable_within(start.0, now)))
}

pub(super) fn retry_interval(system: Option<&ClinicalSystem>) -> Duration {
    system.map_or(DEFAULT_RETRY_INTERVAL, |s| {
        crate::engine::plan::retry_interval_of(&s.spec)
    })
}

pub(super) fn check_deadline(system: Option<&ClinicalSystem>) -> Duration {
    system
        .and_then(|s| s.spec.verify.as_ref())
        .and_then(|v| v.deadline.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_CHECK_DEADLINE)
}

pub(super) fn restore_timeout(system: Option<&ClinicalSystem>) -> Option<Duration> {
    system
        .and_then(|s| s.spec.restore.as_ref())
        .and_then(|r| r.timeout.as_ref())
        .and_then(|d| d.parse().ok())
}
