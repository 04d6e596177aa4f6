//! What a ClinicalSystem's own status says (`kubectl get csys`), from the plan that holds
//! it, and which plan writes it: the plan that claims the system (see
//! [`super::handover::claims`]), or, while no plan claims it, the plan that wrote it last
//! or any plan when none has. A plan that only waits for a system another plan holds
//! never overwrites that plan's word.

use crate::api::v1alpha1::{ClinicalSystemStatus, PlanPhase, SystemPhase, SystemStatus};

/// What a waiting system's own status says while the plan waits for its dependencies.
pub const WAITING_FOR_DEPENDENCIES: &str = "waiting for its dependencies to be verified";

/// The ClinicalSystem status that `plan` (its key) reports for system `s`.
pub fn of(plan: &str, s: &SystemStatus) -> ClinicalSystemStatus {
    let degraded_since = (s.phase == SystemPhase::Degraded)
        .then(|| {
            s.regressions
                .iter()
                .rev()
                .find(|r| r.ended_at.is_none())
                .map(|r| r.started_at.clone())
        })
        .flatten();
    // The plan names the dependencies still awaited, one fewer at each verification; the
    // system's own status says only that it waits for them, so it is not written again
    // each time one of them is verified (at an estate's scale, most of its writes).
    let message = match &s.message {
        Some(m) if s.phase == SystemPhase::Waiting && m.starts_with(super::decide::WAITING_FOR) => {
            Some(format!(
                "{WAITING_FOR_DEPENDENCIES} (the plan {plan} names them)"
            ))
        }
        other => other.clone(),
    };
    ClinicalSystemStatus {
        plan: Some(plan.to_string()),
        phase: Some(s.phase),
        message,
        released_stage: s.released_stage.clone(),
        last_verified: s.verified_at.clone(),
        degraded_since,
        objective_met: s.objective_met,
        data_loss_seconds: s.data_loss.as_ref().and_then(|d| d.window_seconds),
    }
}

/// What `plan` (in phase `plan_phase`) should write to the system's status, given what it
/// says now: None when the status already says it, or when another plan holds the word.
pub fn to_write(
    plan: &str,
    plan_phase: PlanPhase,
    s: &SystemStatus,
    current: Option<&ClinicalSystemStatus>,
) -> Option<ClinicalSystemStatus> {
    let want = of(plan, s);
    if current == Some(&want) {
        return None;
    }
    let claims = s.phase != SystemPhase::Held && super::handover::claims(s.phase, plan_phase);
    let unheld = current.is_none_or(|c| c.plan.is_none() || c.plan.as_deref() == Some(plan));
    (claims || unheld).then_some(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(phase: SystemPhase) -> SystemStatus {
        SystemStatus {
            name: "ward/lab".into(),
            phase,
            released_stage: Some("all-staff".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_status_a_plan_reports_is_written_once() {
        let s = system(SystemPhase::Released);
        let want = to_write("ward/p", PlanPhase::Running, &s, None).expect("first write");
        assert_eq!(want.plan.as_deref(), Some("ward/p"));
        assert_eq!(want.phase, Some(SystemPhase::Released));
        assert_eq!(want.released_stage.as_deref(), Some("all-staff"));
        assert_eq!(
            to_write("ward/p", PlanPhase::Running, &s, Some(&want)),
            None
        );
    }

    #[test]
    fn a_system_waiting_for_its_dependencies_is_not_written_again_as_each_is_verified() {
        let waiting = |message: &str| SystemStatus {
            message: Some(message.into()),
            ..system(SystemPhase::Waiting)
        };
        let first = to_write(
            "ward/p",
            PlanPhase::Running,
            &waiting("waiting for ward/a, ward/b"),
            None,
        )
        .expect("first write");
        assert_eq!(
            first.message.as_deref(),
            Some("waiting for its dependencies to be verified (the plan ward/p names them)")
        );
        assert_eq!(
            to_write(
                "ward/p",
                PlanPhase::Running,
                &waiting("waiting for ward/b"),
                Some(&first)
            ),
            None,
            "one dependency fewer is the plan's news, not the system's"
        );
        // Waiting for capacity, or a paused plan, is said as it is.
        let paused = to_write(
            "ward/p",
            PlanPhase::Running,
            &waiting("ready; the plan is paused"),
            Some(&first),
        )
        .expect("a new reason to wait");
        assert_eq!(paused.message.as_deref(), Some("ready; the plan is paused"));
    }

    #[test]
    fn a_plan_that_waits_for_a_held_system_leaves_the_holders_word() {
        let held = of("ward/first", &system(SystemPhase::Released));
        for phase in [
            SystemPhase::Held,
            SystemPhase::Pending,
            SystemPhase::Waiting,
        ] {
            assert_eq!(
                to_write(
                    "ward/second",
                    PlanPhase::Running,
                    &system(phase),
                    Some(&held)
                ),
                None,
                "{phase:?}"
            );
        }
        // The plan that claims it (restoring it again) takes the word.
        let restoring = system(SystemPhase::Restoring);
        assert!(to_write("ward/second", PlanPhase::Running, &restoring, Some(&held)).is_some());
        // A system nobody wrote yet is written by whichever plan sees it.
        assert!(
            to_write(
                "ward/second",
                PlanPhase::Running,
                &system(SystemPhase::Pending),
                None
            )
            .is_some()
        );
    }
}
