//! Status conditions, computed purely: a condition keeps its `lastTransitionTime` while
//! its status stays the same (cert-manager's rule), so a rewrite with the same meaning is
//! no change at all. The types and reasons are in [`crate::api::v1alpha1::conditions`].

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

use crate::api::v1alpha1::{
    PlanPhase, RecoveryDrillStatus, RecoveryPlanStatus, SystemPhase,
    conditions::{PROGRESSING, READY, RUNNING, reason},
};

/// A condition to set: type, whether it holds, reason and message.
pub struct NewCondition<'a> {
    /// The condition type.
    pub type_: &'a str,
    /// Whether it holds.
    pub status: bool,
    /// A CamelCase reason.
    pub reason: &'a str,
    /// For people.
    pub message: String,
}

/// Sets a condition, keeping its `lastTransitionTime` when its status did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    new: NewCondition<'_>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let NewCondition {
        type_,
        status,
        reason,
        message,
    } = new;
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// `previous` with each of `new` set ([`set_condition`]).
fn with(
    previous: &[Condition],
    new: [NewCondition<'_>; 2],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut conditions = previous.to_vec();
    for c in new {
        set_condition(&mut conditions, previous, c, generation, now);
    }
    conditions
}

/// The `Progressing` condition of a plan in `status`: whether, why, and what.
fn progressing(status: &RecoveryPlanStatus) -> NewCondition<'static> {
    let progress = status.progress.clone().unwrap_or_default();
    let (status_, reason, message) = match status.phase {
        PlanPhase::Running => (
            true,
            reason::RESTORING,
            format!("{progress} systems verified"),
        ),
        PlanPhase::Pending => (true, reason::STARTING, "starting".to_string()),
        PlanPhase::AwaitingApproval => (
            false,
            reason::AWAITING_APPROVAL,
            format!("{progress} systems verified; a release stage awaits approval"),
        ),
        PlanPhase::Paused => (false, reason::PAUSED, "spec.paused is set".to_string()),
        PlanPhase::Succeeded => (
            false,
            reason::SUCCEEDED,
            format!("{progress} systems verified"),
        ),
        PlanPhase::Failed => (false, reason::FAILED, {
            let failed: Vec<&str> = status
                .systems
                .iter()
                .filter(|s| s.phase == SystemPhase::Failed)
                .map(|s| s.name.as_str())
                .collect();
            format!("failed: {}", failed.join(", "))
        }),
        PlanPhase::Aborted => (false, reason::ABORTED, "spec.abort is set".to_string()),
    };
    NewCondition {
        type_: PROGRESSING,
        status: status_,
        reason,
        message,
    }
}

/// Fills in the conditions of a valid plan's `next` status: `Ready` (planned) and
/// `Progressing` (from its phase), keeping transition times from `prev`.
pub fn plan_valid(
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    generation: Option<i64>,
    now: Timestamp,
) {
    let ready = NewCondition {
        type_: READY,
        status: true,
        reason: reason::PLANNED,
        message: format!("{} systems in restore order", next.systems.len()),
    };
    // Conditions other than these two (GatesApplied, StatusComplete) stay as `next` has
    // them.
    let progressing = progressing(next);
    for c in [ready, progressing] {
        set_condition(&mut next.conditions, &prev.conditions, c, generation, now);
    }
}

/// Fills in the conditions of a plan that cannot run, for `message`.
pub fn plan_invalid(
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let ready = NewCondition {
        type_: READY,
        status: false,
        reason: reason::INVALID_PLAN,
        message: message.to_string(),
    };
    let progressing = NewCondition {
        type_: PROGRESSING,
        status: false,
        reason: reason::INVALID_PLAN,
        message: "fix the plan or its ClinicalSystems; nothing runs until then".to_string(),
    };
    next.conditions = with(&prev.conditions, [ready, progressing], generation, now);
}

/// Fills in a drill's conditions: `Ready` (valid, or why not: `problem`) and `Running`
/// (whether a run is in progress, with the phase as its reason).
pub fn drill(
    prev: &RecoveryDrillStatus,
    next: &mut RecoveryDrillStatus,
    problem: Option<&str>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let ready = NewCondition {
        type_: READY,
        status: problem.is_none(),
        reason: if problem.is_none() {
            reason::VALID
        } else {
            reason::INVALID
        },
        message: match problem {
            Some(p) => p.to_string(),
            None => next
                .message
                .clone()
                .unwrap_or_else(|| "the drill is valid".into()),
        },
    };
    let running = next.phase.is_running();
    let phase = next.phase.to_string();
    let running = NewCondition {
        type_: RUNNING,
        status: running,
        reason: if running {
            phase.as_str()
        } else {
            reason::NOT_RUNNING
        },
        message: format!("phase {}", next.phase),
    };
    next.conditions = with(&prev.conditions, [ready, running], generation, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::DrillPhase;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    fn find<'a>(c: &'a [Condition], t: &str) -> &'a Condition {
        c.iter().find(|c| c.type_ == t).expect("the condition")
    }

    #[test]
    fn a_transition_time_stays_while_the_status_does() {
        let prev = RecoveryPlanStatus {
            phase: PlanPhase::Running,
            ..Default::default()
        };
        let mut first = prev.clone();
        plan_valid(&prev, &mut first, Some(1), at("2026-05-01T10:00:00Z"));
        let mut second = first.clone();
        second.progress = Some("3/7".into());
        plan_valid(&first, &mut second, Some(1), at("2026-05-01T10:05:00Z"));
        let p = find(&second.conditions, PROGRESSING);
        assert_eq!(p.last_transition_time.0, at("2026-05-01T10:00:00Z"));
        assert_eq!(p.message, "3/7 systems verified");
        let mut third = second.clone();
        third.phase = PlanPhase::Succeeded;
        plan_valid(&second, &mut third, Some(1), at("2026-05-01T10:09:00Z"));
        let p = find(&third.conditions, PROGRESSING);
        assert_eq!(
            (p.status.as_str(), p.reason.as_str()),
            ("False", reason::SUCCEEDED)
        );
        assert_eq!(p.last_transition_time.0, at("2026-05-01T10:09:00Z"));
    }

    #[test]
    fn a_drill_says_whether_it_is_valid_and_which_phase_runs() {
        let prev = RecoveryDrillStatus::default();
        let mut next = RecoveryDrillStatus {
            phase: DrillPhase::Recovering,
            ..Default::default()
        };
        drill(&prev, &mut next, None, Some(2), at("2026-05-01T10:00:00Z"));
        let ready = find(&next.conditions, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", reason::VALID)
        );
        let running = find(&next.conditions, RUNNING);
        assert_eq!(
            (running.status.as_str(), running.reason.as_str()),
            ("True", "Recovering")
        );
        let mut refused = next.clone();
        refused.phase = DrillPhase::Idle;
        drill(
            &next,
            &mut refused,
            Some("namespace x is not staging"),
            Some(2),
            at("2026-05-01T10:01:00Z"),
        );
        let ready = find(&refused.conditions, READY);
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            ("False", reason::INVALID, "namespace x is not staging")
        );
        let running = find(&refused.conditions, RUNNING);
        assert_eq!(running.reason, reason::NOT_RUNNING);
    }
}
