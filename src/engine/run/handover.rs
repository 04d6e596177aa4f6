//! Plans that hand over: one plan recovers a system at a time. A plan *claims* a system
//! once it has started on it (restoring, verifying, verified, released, degraded, or
//! failed while the plan still runs and may retry it); every other plan selecting the
//! system finds it `Held` by the claimant and leaves it alone, and counts it as restored
//! once the claimant has verified it. Where two plans claim one system (they started it
//! in the same instant), the older plan keeps it. Pure: the controller gathers what each
//! plan claims and asks [`holders`].

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use crate::api::v1alpha1::{PlanPhase, RecoveryPlanStatus, SystemPhase};

/// A system another plan holds, as the deciding plan is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holding plan ("namespace/name").
    pub plan: String,
    /// The system's phase there.
    pub phase: SystemPhase,
    /// The stage it is released at there.
    pub stage: Option<String>,
}

/// One system a plan claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// "namespace/name".
    pub system: String,
    /// Its phase in the plan.
    pub phase: SystemPhase,
    /// The stage it is released at there.
    pub stage: Option<String>,
}

/// What one plan claims, and what orders it among plans claiming the same system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanClaims {
    /// "namespace/name".
    pub plan: String,
    /// When the plan was created: the older of two claimants keeps a system.
    pub created: Option<Timestamp>,
    /// The systems it claims, by key order.
    pub systems: Vec<Claimed>,
}

/// Whether a system in `phase`, in a plan whose phase is `plan`, is claimed by it. A
/// verified system stays claimed after the plan finishes (it watches it, and nobody
/// should restore it over again unasked); a failed one only while the plan may retry it.
pub fn claims(phase: SystemPhase, plan: PlanPhase) -> bool {
    let finished = matches!(
        plan,
        PlanPhase::Succeeded | PlanPhase::Failed | PlanPhase::Aborted
    );
    match phase {
        SystemPhase::Restoring | SystemPhase::Verifying => plan != PlanPhase::Aborted,
        SystemPhase::Verified | SystemPhase::Released | SystemPhase::Degraded => true,
        SystemPhase::Failed => !finished,
        _ => false,
    }
}

impl PlanClaims {
    /// What plan `plan` (created at `created`) claims, from its status. A drill's plan
    /// (`rehearsal`) claims nothing once it has finished: the next run of the drill
    /// breaks and restores the same systems again, on purpose.
    pub fn of(
        plan: &str,
        created: Option<Timestamp>,
        status: &RecoveryPlanStatus,
        rehearsal: bool,
    ) -> Self {
        let over = rehearsal && status.phase_is_final();
        let mut systems: Vec<Claimed> = status
            .systems
            .iter()
            .filter(|s| !over && claims(s.phase, status.phase))
            .map(|s| Claimed {
                system: s.name.clone(),
                phase: s.phase,
                stage: s.released_stage.clone(),
            })
            .collect();
        systems.sort_by(|a, b| a.system.cmp(&b.system));
        Self {
            plan: plan.to_string(),
            created,
            systems,
        }
    }

    fn find(&self, system: &str) -> Option<&Claimed> {
        self.systems
            .binary_search_by(|c| c.system.as_str().cmp(system))
            .ok()
            .map(|i| &self.systems[i])
    }

    /// The order among claimants: the older plan first, then by name; a plan whose
    /// creation is unknown last.
    fn rank(&self) -> (bool, Option<Timestamp>, &str) {
        (self.created.is_none(), self.created, &self.plan)
    }
}

/// The systems of `keys` that a plan other than `me` holds: claimed by it, and not by
/// `me` unless `me` ranks after it.
pub fn holders<'a>(
    me: &PlanClaims,
    others: &[PlanClaims],
    keys: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Holder> {
    let mut out = BTreeMap::new();
    for key in keys {
        let mine = me.find(key).map(|_| me.rank());
        let best = others
            .iter()
            .filter(|o| o.plan != me.plan)
            .filter_map(|o| o.find(key).map(|c| (o.rank(), o, c)))
            .min_by(|a, b| a.0.cmp(&b.0));
        if let Some((rank, o, c)) = best
            && mine.is_none_or(|m| rank < m)
        {
            out.insert(
                key.to_string(),
                Holder {
                    plan: o.plan.clone(),
                    phase: c.phase,
                    stage: c.stage.clone(),
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::SystemStatus;

    fn status(plan: PlanPhase, systems: &[(&str, SystemPhase)]) -> RecoveryPlanStatus {
        RecoveryPlanStatus {
            phase: plan,
            systems: systems
                .iter()
                .map(|(n, p)| SystemStatus {
                    name: n.to_string(),
                    phase: *p,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn at(s: i64) -> Option<Timestamp> {
        Timestamp::from_second(s).ok()
    }

    #[test]
    fn a_started_system_is_held_by_the_plan_that_started_it() {
        let p1 = PlanClaims::of(
            "ns/p1",
            at(100),
            &status(PlanPhase::Running, &[("ns/a", SystemPhase::Restoring)]),
            false,
        );
        let p2 = PlanClaims::of(
            "ns/p2",
            at(50),
            &status(PlanPhase::Running, &[("ns/a", SystemPhase::Pending)]),
            false,
        );
        let held = holders(&p2, std::slice::from_ref(&p1), ["ns/a"]);
        assert_eq!(held["ns/a"].plan, "ns/p1");
        assert!(holders(&p1, &[p2], ["ns/a"]).is_empty());
    }

    #[test]
    fn of_two_claimants_the_older_plan_keeps_the_system() {
        let old = PlanClaims::of(
            "ns/old",
            at(1),
            &status(PlanPhase::Running, &[("ns/a", SystemPhase::Restoring)]),
            false,
        );
        let new = PlanClaims::of(
            "ns/new",
            at(2),
            &status(PlanPhase::Running, &[("ns/a", SystemPhase::Restoring)]),
            false,
        );
        assert_eq!(
            holders(&new, std::slice::from_ref(&old), ["ns/a"])["ns/a"].plan,
            "ns/old"
        );
        assert!(holders(&old, &[new], ["ns/a"]).is_empty());
    }

    #[test]
    fn a_finished_plan_keeps_what_it_verified_and_lets_go_of_what_failed() {
        let done = status(
            PlanPhase::Failed,
            &[
                ("ns/a", SystemPhase::Released),
                ("ns/b", SystemPhase::Failed),
            ],
        );
        let p1 = PlanClaims::of("ns/p1", at(1), &done, false);
        let p2 = PlanClaims::of("ns/p2", at(2), &RecoveryPlanStatus::default(), false);
        let held = holders(&p2, &[p1], ["ns/a", "ns/b"]);
        assert!(held.contains_key("ns/a"));
        assert!(!held.contains_key("ns/b"), "{held:?}");
    }

    #[test]
    fn a_finished_drill_plan_claims_nothing() {
        let done = status(PlanPhase::Succeeded, &[("ns/a", SystemPhase::Released)]);
        assert!(
            PlanClaims::of("ns/run-1", at(1), &done, true)
                .systems
                .is_empty()
        );
        assert_eq!(
            PlanClaims::of("ns/real", at(1), &done, false).systems.len(),
            1
        );
    }

    #[test]
    fn a_running_plan_keeps_a_failed_system_it_may_retry() {
        assert!(claims(SystemPhase::Failed, PlanPhase::Running));
        assert!(!claims(SystemPhase::Failed, PlanPhase::Succeeded));
        assert!(!claims(SystemPhase::Restoring, PlanPhase::Aborted));
        assert!(claims(SystemPhase::Released, PlanPhase::Aborted));
        for p in [
            SystemPhase::Pending,
            SystemPhase::Waiting,
            SystemPhase::Blocked,
            SystemPhase::Cancelled,
            SystemPhase::Held,
        ] {
            assert!(!claims(p, PlanPhase::Running), "{p}");
        }
    }
}
