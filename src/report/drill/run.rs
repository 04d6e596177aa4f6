//! Reading the RecoveryDrill object: its current (or last) run, its name and namespace,
//! and the moments the run recorded.

use k8s_openapi::jiff::Timestamp;

use crate::api::v1alpha1::{DrillRun, RecoveryDrill};

pub(super) fn run_of(drill: &RecoveryDrill) -> Option<&DrillRun> {
    drill.status.as_ref().and_then(|s| s.run.as_ref())
}

pub(super) fn name_of(drill: &RecoveryDrill) -> &str {
    drill.metadata.name.as_deref().unwrap_or("(unnamed)")
}

pub(super) fn namespace_of(drill: &RecoveryDrill) -> &str {
    drill.metadata.namespace.as_deref().unwrap_or("default")
}

/// Whether the run has ended.
pub(super) fn is_finished(run: &DrillRun) -> bool {
    run.finished_at.is_some() || run.outcome.is_some()
}

/// Every moment the run recorded.
pub(super) fn all_times(run: &DrillRun) -> Vec<Timestamp> {
    let mut times: Vec<Timestamp> = [&run.started_at, &run.recovery_started_at, &run.finished_at]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .collect();
    for f in &run.faults {
        times.extend(
            [&f.injected_at, &f.proven_at, &f.lifted_at]
                .into_iter()
                .flatten()
                .map(|t| t.0),
        );
    }
    for s in &run.systems {
        times.extend(
            [
                &s.fault_at,
                &s.restore_started_at,
                &s.verified_at,
                &s.released_at,
                &s.fully_released_at,
                &s.failed_at,
            ]
            .into_iter()
            .flatten()
            .map(|t| t.0),
        );
    }
    times.extend(
        run.approvals
            .iter()
            .filter_map(|a| a.at.as_ref())
            .map(|t| t.0),
    );
    times
}

/// The run's start, or its earliest recorded moment when the start was not recorded.
pub(super) fn origin(run: &DrillRun) -> Option<Timestamp> {
    run.started_at
        .as_ref()
        .map(|t| t.0)
        .or_else(|| all_times(run).into_iter().min())
}
