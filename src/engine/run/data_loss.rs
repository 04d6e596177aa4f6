//! A system's data-loss window, pure: from the point its data was restored to (what a
//! restore step reported) to the incident's start, against its recovery-point objective.
//! What staff entered in that window is lost and must be entered again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::v1alpha1::{ActionPhase, DataLoss, SystemStatus};
use crate::engine::{plan::SystemModel, time::seconds_between};

/// The data-loss window of `s` (modelled by `m`) for an incident that started at
/// `incident`: from the restore point of the last succeeded step that reports one (in
/// step order: a later restore overwrites an earlier one). `None` while no step that
/// reports a restore point has succeeded.
pub fn data_loss(m: &SystemModel, s: &SystemStatus, incident: &Time) -> Option<DataLoss> {
    let (_, step) = s.steps.iter().enumerate().rev().find(|(k, st)| {
        st.phase == ActionPhase::Succeeded
            && m.restore_point_steps.get(*k).copied().unwrap_or(false)
    })?;
    let objective = m.point_objective.map(|d| d.as_secs());
    let (window, problem) = match &step.restore_point {
        Some(rp) => (
            // A restore point after the incident's start lost nothing of it.
            Some(seconds_between(rp.0, incident.0).unwrap_or(0)),
            None,
        ),
        None => (
            None,
            Some(
                step.restore_point_problem
                    .clone()
                    .unwrap_or_else(|| "the step reported no restore point".into()),
            ),
        ),
    };
    Some(DataLoss {
        step: step.name.clone(),
        restore_point: step.restore_point.clone(),
        incident_at: incident.clone(),
        window_seconds: window,
        objective_seconds: objective,
        objective_met: window.zip(objective).map(|(w, o)| w <= o),
        problem,
    })
}
