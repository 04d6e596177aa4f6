//! What a drill run measured (from its faults and its plan's status), how it ended, and
//! its one-line summary.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::v1alpha1::short_name as short;
use crate::api::v1alpha1::{
    DrillApprovalRecord, DrillOutcome, DrillRun, DrillRunSummary, DrillSystemResult, FailedCheck,
    PlanPhase, RecoveryPlanStatus, Stage, SystemPhase,
};
use crate::engine::time::{objective_met, seconds_between};

/// Who a drill's own approvals are recorded as.
pub const AUTO_APPROVER: &str = "drill auto-approval";

/// When the run broke `system`: its first fault's injection, or the run's start for a
/// system the drill did not break itself.
pub fn fault_time(run: &DrillRun, system: &str) -> Option<Time> {
    run.faults
        .iter()
        .filter(|f| f.system == system)
        .filter_map(|f| f.injected_at.clone())
        .min_by_key(|t| t.0)
        .or_else(|| run.started_at.clone())
}

/// Each system's measured recovery, from the run's faults and its plan's status. The
/// checks in `forced` ("system", "check") failed on purpose (failCheck faults); those in
/// `isolated` connect to a system the run isolated, and their failures are the drill's
/// doing when they passed in the end or the isolation still holds them (a check that
/// never passed after its isolation ended failed on its own).
pub fn measure(
    run: &DrillRun,
    plan: Option<&RecoveryPlanStatus>,
    forced: &[(String, String)],
    isolated: &[(String, String)],
) -> Vec<DrillSystemResult> {
    let Some(plan) = plan else {
        // No plan yet: the systems the drill broke, with when.
        let mut names: Vec<&str> = run.faults.iter().map(|f| f.system.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        return names
            .into_iter()
            .map(|n| DrillSystemResult {
                name: n.to_string(),
                fault_at: fault_time(run, n),
                ..Default::default()
            })
            .collect();
    };
    plan.systems
        .iter()
        .map(|s| {
            let name = short(&s.name).to_string();
            let fault_at = fault_time(run, &name);
            let since = |t: &Option<Time>| match (&fault_at, t) {
                (Some(f), Some(t)) => seconds_between(f.0, t.0),
                _ => None,
            };
            let released_at = s.releases.first().map(|r| r.at.clone());
            let recovery_seconds = since(&s.verified_at);
            let objective_met = match recovery_seconds {
                Some(took) => objective_met(took, s.objective_seconds),
                None => matches!(
                    s.phase,
                    SystemPhase::Failed | SystemPhase::Blocked | SystemPhase::Cancelled
                )
                .then_some(false),
            };
            let failed_checks = s
                .checks
                .iter()
                .filter_map(|c| {
                    let passed = c.phase == crate::api::v1alpha1::ActionPhase::Succeeded;
                    let failures = c.attempts.saturating_sub(u32::from(passed));
                    let message = c.last_error.clone().unwrap_or_default();
                    let pair = |(sys, chk): &(String, String)| *sys == name && *chk == c.name;
                    let injected = forced.iter().any(pair)
                        || (isolated.iter().any(pair)
                            && (passed || message.starts_with(super::faults::HELD_BY_ISOLATION)));
                    (failures > 0).then(|| FailedCheck {
                        check: c.name.clone(),
                        message,
                        failures,
                        passed_in_the_end: passed,
                        injected,
                    })
                })
                .collect();
            DrillSystemResult {
                display_name: None,
                tier: s.tier,
                phase: Some(s.phase),
                objective_seconds: s.objective_seconds,
                restore_started_at: s.restore_started_at.clone(),
                verified_at: s.verified_at.clone(),
                release_seconds: since(&released_at),
                released_at,
                fully_released_at: s.releases.last().map(|r| r.at.clone()),
                failed_at: s.failed_at.clone(),
                recovery_seconds,
                objective_met,
                failed_checks,
                fault_at,
                name,
            }
        })
        .collect()
}

/// Gives each measured system of `run` the name staff know it by, from `systems` (the
/// drill's ClinicalSystems, in its namespace).
pub fn name_systems(run: &mut DrillRun, systems: &[crate::api::v1alpha1::ClinicalSystem]) {
    for s in &mut run.systems {
        s.display_name = systems
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(s.name.as_str()))
            .map(|c| c.spec.display_name.clone())
            .filter(|d| !d.is_empty() && *d != s.name);
    }
}

/// The release approvals of a run: the people's (every Approval the plan recorded, with
/// whether it counted), and, with `automatic` approvals, one drill auto-approval per system
/// per stage, at the moment the stage released it.
pub fn approvals(
    plan: Option<&RecoveryPlanStatus>,
    stages: &[Stage],
    automatic: bool,
) -> Vec<DrillApprovalRecord> {
    let Some(plan) = plan else {
        return Vec::new();
    };
    let mut out: Vec<DrillApprovalRecord> = plan
        .approvals
        .iter()
        .map(|a| DrillApprovalRecord {
            stage: a.stage.clone(),
            systems: a.systems.clone(),
            by: a.approver.clone(),
            at: a.at.clone(),
            comment: match (&a.comment, a.accepted) {
                (c, true) => c.clone(),
                (Some(c), false) => Some(format!("{c} ({})", a.reason)),
                (None, false) => Some(a.reason.clone()),
            },
            accepted: a.accepted,
            automatic: false,
        })
        .collect();
    if automatic {
        for stage in stages {
            for s in &plan.systems {
                if let Some(r) = s.releases.iter().find(|r| r.stage == stage.name) {
                    let name = short(&s.name);
                    out.push(DrillApprovalRecord {
                        stage: stage.name.clone(),
                        systems: vec![name.to_string()],
                        by: AUTO_APPROVER.to_string(),
                        at: Some(r.at.clone()),
                        comment: Some(format!(
                            "{name} approved by the drill itself (approvals: automatic)"
                        )),
                        accepted: true,
                        automatic: true,
                    });
                }
            }
        }
    }
    out.sort_by_key(|a| a.at.as_ref().map(|t| t.0));
    out
}

/// How a run whose plan ended in `phase` went, and why, in words.
pub fn outcome(phase: PlanPhase, systems: &[DrillSystemResult]) -> (DrillOutcome, String) {
    let names = |pred: &dyn Fn(&DrillSystemResult) -> bool| -> Vec<&str> {
        systems
            .iter()
            .filter(|s| pred(s))
            .map(|s| s.name.as_str())
            .collect()
    };
    match phase {
        PlanPhase::Aborted => (
            DrillOutcome::Aborted,
            "the recovery plan was aborted".into(),
        ),
        PlanPhase::Failed => {
            let failed = names(&|s| s.phase == Some(SystemPhase::Failed));
            (
                DrillOutcome::Failed,
                format!("the recovery failed: {}", failed.join(", ")),
            )
        }
        _ => {
            let missed = names(&|s| s.objective_met == Some(false));
            if missed.is_empty() {
                (
                    DrillOutcome::Passed,
                    format!(
                        "all {} systems recovered within their objectives",
                        systems.len()
                    ),
                )
            } else {
                (
                    DrillOutcome::ObjectivesMissed,
                    format!(
                        "{} of {} objectives missed: {}",
                        missed.len(),
                        systems.len(),
                        missed.join(", ")
                    ),
                )
            }
        }
    }
}

/// The faults of a run never seen to take effect ("lims failCheck check api"): a
/// `failCheck` whose duration ended before the check's first attempt, for one.
pub fn unproven(run: &DrillRun) -> Vec<String> {
    run.faults
        .iter()
        .filter(|f| f.proven_at.is_none())
        .map(|f| format!("{} {} {}", f.system, f.kind, f.target))
        .collect()
}

/// Each isolation a connection got through while it held, for people: "lims: 3 of 17
/// tries got through (lims.lab.svc:8080), first at 2026-11-21T03:00:12Z".
pub fn breached(run: &DrillRun) -> Vec<String> {
    run.faults
        .iter()
        .filter_map(|f| {
            let w = f.watch.as_ref().filter(|w| w.breaches > 0)?;
            Some(format!(
                "{}: {} of {} tries got through ({}){}",
                f.system,
                w.breaches,
                w.tries,
                w.through.join(", "),
                w.first_breach_at
                    .as_ref()
                    .map(|t| format!(", first at {}", crate::engine::time::iso(t.0)))
                    .unwrap_or_default()
            ))
        })
        .collect()
}

/// A finished run in one line, for `status.history`.
pub fn summary(run: &DrillRun) -> DrillRunSummary {
    let total = run.systems.len();
    let verified = run
        .systems
        .iter()
        .filter(|s| s.verified_at.is_some())
        .count();
    let measured: Vec<&DrillSystemResult> = run
        .systems
        .iter()
        .filter(|s| s.objective_met.is_some())
        .collect();
    let met = measured
        .iter()
        .filter(|s| s.objective_met == Some(true))
        .count();
    DrillRunSummary {
        number: run.number,
        trigger: run.trigger,
        started_at: run.started_at.clone(),
        finished_at: run.finished_at.clone(),
        outcome: run.outcome.unwrap_or(DrillOutcome::Aborted),
        verified: format!("{verified}/{total}"),
        objectives_met: format!("{met}/{}", measured.len()),
        longest_recovery_seconds: run.systems.iter().filter_map(|s| s.recovery_seconds).max(),
        reason: run.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::{
        ActionPhase, CheckStatus, DrillTrigger, FaultKind, FaultRecord, StageRelease, SystemStatus,
        Tier,
    };

    fn t(s: &str) -> Time {
        Time(s.parse().expect("a timestamp"))
    }

    fn fault(system: &str, at: &str) -> FaultRecord {
        FaultRecord {
            system: system.into(),
            kind: FaultKind::ScaleToZero,
            target: format!("Deployment/{system}"),
            injected_at: Some(t(at)),
            proven_at: Some(t(at)),
            proof: None,
            lifted_at: None,
            pod_uids: vec![],
            workload: None,
            check: None,
            watch: None,
        }
    }

    fn run() -> DrillRun {
        DrillRun {
            number: 1,
            trigger: DrillTrigger::Manual,
            started_at: Some(t("2026-11-21T03:00:00Z")),
            faults: vec![
                fault("lims", "2026-11-21T03:00:10Z"),
                fault("lims", "2026-11-21T03:00:05Z"),
                fault("pacs", "2026-11-21T03:00:20Z"),
            ],
            ..Default::default()
        }
    }

    fn system(
        name: &str,
        phase: SystemPhase,
        verified: Option<&str>,
        objective: u64,
    ) -> SystemStatus {
        SystemStatus {
            name: format!("staging/{name}"),
            tier: Some(Tier::Critical),
            phase,
            verified_at: verified.map(t),
            objective_seconds: Some(objective),
            ..Default::default()
        }
    }

    #[test]
    fn recovery_is_measured_from_the_first_fault_of_each_system() {
        let mut lims = system(
            "lims",
            SystemPhase::Released,
            Some("2026-11-21T03:10:05Z"),
            900,
        );
        lims.releases = vec![
            StageRelease {
                stage: "it".into(),
                at: t("2026-11-21T03:10:06Z"),
            },
            StageRelease {
                stage: "all".into(),
                at: t("2026-11-21T03:20:05Z"),
            },
        ];
        let pacs = system(
            "pacs",
            SystemPhase::Verified,
            Some("2026-11-21T03:30:20Z"),
            900,
        );
        let epr = system("epr", SystemPhase::Failed, None, 900);
        let plan = RecoveryPlanStatus {
            systems: vec![lims, pacs, epr],
            ..Default::default()
        };
        let m = measure(&run(), Some(&plan), &[], &[]);
        assert_eq!(m[0].name, "lims");
        assert_eq!(
            m[0].fault_at,
            Some(t("2026-11-21T03:00:05Z")),
            "the earliest fault"
        );
        assert_eq!(m[0].recovery_seconds, Some(600));
        assert_eq!(m[0].release_seconds, Some(601));
        assert_eq!(m[0].fully_released_at, Some(t("2026-11-21T03:20:05Z")));
        assert_eq!(m[0].objective_met, Some(true));
        assert_eq!(m[1].recovery_seconds, Some(1800));
        assert_eq!(m[1].objective_met, Some(false), "30 min against 15");
        assert_eq!(
            m[2].fault_at,
            Some(t("2026-11-21T03:00:00Z")),
            "not broken: from the start"
        );
        assert_eq!(m[2].objective_met, Some(false), "failed: missed");
        let (outcome, why) = outcome(PlanPhase::Failed, &m);
        assert_eq!(outcome, DrillOutcome::Failed);
        assert_eq!(why, "the recovery failed: epr");
    }

    #[test]
    fn failed_checks_say_whether_the_drill_failed_them_on_purpose() {
        let mut lims = system(
            "lims",
            SystemPhase::Verified,
            Some("2026-11-21T03:10:05Z"),
            900,
        );
        lims.checks = vec![
            CheckStatus {
                name: "api".into(),
                phase: ActionPhase::Succeeded,
                attempts: 4,
                last_error: Some("failed on purpose by drill weekly".into()),
                ..Default::default()
            },
            CheckStatus {
                name: "db".into(),
                phase: ActionPhase::Succeeded,
                attempts: 1,
                ..Default::default()
            },
            CheckStatus {
                name: "hl7".into(),
                phase: ActionPhase::Succeeded,
                attempts: 2,
                last_error: Some("connection refused".into()),
                ..Default::default()
            },
        ];
        let plan = RecoveryPlanStatus {
            systems: vec![lims],
            ..Default::default()
        };
        let m = measure(&run(), Some(&plan), &[("lims".into(), "api".into())], &[]);
        let checks: Vec<(&str, u32, bool, bool)> = m[0]
            .failed_checks
            .iter()
            .map(|c| {
                (
                    c.check.as_str(),
                    c.failures,
                    c.passed_in_the_end,
                    c.injected,
                )
            })
            .collect();
        assert_eq!(checks, [("api", 3, true, true), ("hl7", 1, true, false)]);
    }

    #[test]
    fn an_isolated_systems_connecting_checks_failed_by_the_drill_unless_they_never_passed_after() {
        let check = |name: &str, phase, attempts, error: Option<&str>| CheckStatus {
            name: name.into(),
            phase,
            attempts,
            last_error: error.map(str::to_string),
            ..Default::default()
        };
        let mut lims = system("lims", SystemPhase::Verifying, None, 900);
        lims.checks = vec![
            // Held while isolated, then passed.
            check("page", ActionPhase::Succeeded, 5, None),
            // Still held.
            check(
                "api",
                ActionPhase::Running,
                3,
                Some("not tried: drill weekly isolates lims until 2026-11-21T03:05:00Z"),
            ),
            // Held, then failed on its own once the isolation ended.
            check("db", ActionPhase::Running, 6, Some("connection refused")),
        ];
        let plan = RecoveryPlanStatus {
            systems: vec![lims],
            ..Default::default()
        };
        let isolated: Vec<(String, String)> = ["page", "api", "db"]
            .iter()
            .map(|c| ("lims".to_string(), c.to_string()))
            .collect();
        let m = measure(&run(), Some(&plan), &[], &isolated);
        let injected: Vec<(&str, bool)> = m[0]
            .failed_checks
            .iter()
            .map(|c| (c.check.as_str(), c.injected))
            .collect();
        assert_eq!(injected, [("page", true), ("api", true), ("db", false)]);
        let m = measure(&run(), Some(&plan), &[], &[]);
        assert!(
            m[0].failed_checks.iter().all(|c| !c.injected),
            "not isolated: every failure is the system's own"
        );
    }

    #[test]
    fn outcomes_and_summary() {
        let plan = RecoveryPlanStatus {
            systems: vec![
                system(
                    "lims",
                    SystemPhase::Verified,
                    Some("2026-11-21T03:10:05Z"),
                    900,
                ),
                system(
                    "pacs",
                    SystemPhase::Verified,
                    Some("2026-11-21T03:30:20Z"),
                    900,
                ),
            ],
            ..Default::default()
        };
        let mut r = run();
        r.systems = measure(&r, Some(&plan), &[], &[]);
        let (o, why) = outcome(PlanPhase::Succeeded, &r.systems);
        assert_eq!(o, DrillOutcome::ObjectivesMissed);
        assert_eq!(why, "1 of 2 objectives missed: pacs");
        r.outcome = Some(o);
        let s = summary(&r);
        assert_eq!(
            (s.verified.as_str(), s.objectives_met.as_str()),
            ("2/2", "1/2")
        );
        assert_eq!(s.longest_recovery_seconds, Some(1800));
        r.systems.truncate(1);
        assert_eq!(
            outcome(PlanPhase::Succeeded, &r.systems).0,
            DrillOutcome::Passed
        );
    }

    #[test]
    fn automatic_approvals_are_recorded_per_system_per_stage_at_its_release() {
        let mut a = system(
            "a",
            SystemPhase::Released,
            Some("2026-11-21T03:01:00Z"),
            900,
        );
        a.releases = vec![StageRelease {
            stage: "it".into(),
            at: t("2026-11-21T03:02:00Z"),
        }];
        let mut b = system(
            "b",
            SystemPhase::Released,
            Some("2026-11-21T03:01:00Z"),
            900,
        );
        b.releases = vec![StageRelease {
            stage: "it".into(),
            at: t("2026-11-21T03:01:30Z"),
        }];
        let plan = RecoveryPlanStatus {
            systems: vec![a, b],
            ..Default::default()
        };
        let stages: Vec<Stage> = serde_json::from_value(serde_json::json!([
            { "name": "it" }, { "name": "wards" }
        ]))
        .expect("stages");
        let got = approvals(Some(&plan), &stages, true);
        assert_eq!(got.len(), 2, "one per system at it; wards released nothing");
        assert!(got.iter().all(|a| a.by == AUTO_APPROVER && a.stage == "it"));
        assert_eq!(got[0].systems, ["b"]);
        assert_eq!(got[0].at, Some(t("2026-11-21T03:01:30Z")));
        assert_eq!(got[1].systems, ["a"]);
        assert_eq!(got[1].at, Some(t("2026-11-21T03:02:00Z")));
        assert!(approvals(Some(&plan), &stages, false).is_empty());
    }
}
