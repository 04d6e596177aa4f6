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

/// Whether a failing attempt at `now` of a check first tried at `started` is its last:
/// the time it has run, without `away` (the part of it the API server did not answer:
/// the check could not be tried then, so its deadline does not run), and one more retry
/// `interval` would pass its `deadline`.
pub(super) fn past_deadline(
    started: Timestamp,
    now: Timestamp,
    away: Duration,
    interval: Duration,
    deadline: Duration,
) -> bool {
    engine::time::elapsed(started, now).saturating_sub(away) + interval > deadline
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::cluster::outage::Outages;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).expect("timestamp")
    }

    #[test]
    fn time_the_api_server_did_not_answer_does_not_spend_a_checks_deadline() {
        let (interval, deadline) = (Duration::from_secs(5), Duration::from_secs(60));
        // Started at 0, failing at 100: past its minute.
        assert!(past_deadline(
            t(0),
            t(100),
            Duration::ZERO,
            interval,
            deadline
        ));
        // The API server did not answer from 10 to 70: it has run 40 s of its minute.
        let mut outages = Outages::default();
        outages.answered(t(10));
        outages.unanswered(t(12));
        outages.answered(t(70));
        let away = outages.within(t(0), t(100));
        assert_eq!(away, Duration::from_secs(60));
        assert!(!past_deadline(t(0), t(100), away, interval, deadline));
        // Down again after its last answer at 70, and still down at 130: 10 s run.
        outages.unanswered(t(82));
        let away = outages.within(t(0), t(130));
        assert_eq!(away, Duration::from_secs(120));
        assert!(!past_deadline(t(0), t(130), away, interval, deadline));
        // Back at 130: its deadline runs again, and a failure after 176 is the last.
        outages.answered(t(130));
        for (now, last) in [(150, false), (175, false), (176, true)] {
            let away = outages.within(t(0), t(now));
            assert_eq!(
                past_deadline(t(0), t(now), away, interval, deadline),
                last,
                "at {now}"
            );
        }
    }
}
