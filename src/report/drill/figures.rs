//! Figures: what each system measured in the run, from the recorded timestamps, and the
//! report's one-sentence headline made from them.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::run::{is_finished, run_of};
use crate::api::v1alpha1::SystemPhase;
use crate::api::v1alpha1::{DrillRun, DrillSystemResult, RecoveryDrill, Tier};
use crate::report::fmt::{human, plural, their};

/// One system's measured recovery in a run, worked out from its recorded timestamps.
///
/// Durations are whole seconds between the timestamps' whole seconds (as the controller
/// records `recoverySeconds`), counted from the system's fault: its `faultAt`, or the run's
/// start when the drill did not break it itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemFigures {
    /// The system's name.
    pub name: String,
    /// The name staff know it by, when recorded.
    pub display_name: Option<String>,
    /// Its tier, when recorded.
    pub tier: Option<Tier>,
    /// Its phase in the recovery plan, when recorded.
    pub phase: Option<SystemPhase>,
    /// Its recovery-time objective, in seconds.
    pub objective_seconds: Option<u64>,
    /// Seconds from the fault to `verifiedAt`: the measured recovery time.
    pub recovery_seconds: Option<u64>,
    /// Seconds from the fault to `releasedAt`: when staff first had it back.
    pub release_seconds: Option<u64>,
    /// Seconds from the fault to `fullyReleasedAt`: when every stage had it back.
    pub full_release_seconds: Option<u64>,
    /// Seconds from the fault to `failedAt`.
    pub failed_after_seconds: Option<u64>,
    /// How it did against its objective.
    pub result: SystemResult,
}

/// How a system did against its objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemResult {
    /// Verified within its objective.
    Met,
    /// Verified after its objective.
    Missed {
        /// By how many seconds.
        by_seconds: u64,
    },
    /// Verified, but there is no objective, or no time, to measure it against.
    Unmeasured,
    /// Its restore failed.
    Failed,
    /// The run ended without it being verified (blocked, cancelled, timed out).
    NotVerified,
    /// The run is still going and the system is not back yet.
    InProgress,
}

impl SystemResult {
    /// The CSS class and `data-result` value of the result.
    pub(super) fn class(self) -> &'static str {
        match self {
            SystemResult::Met => "met",
            SystemResult::Missed { .. } => "missed",
            SystemResult::Unmeasured => "unmeasured",
            SystemResult::Failed => "failed",
            SystemResult::NotVerified => "not-verified",
            SystemResult::InProgress => "in-progress",
        }
    }
}

/// Each system's figures in the current (or last) run, in the order the run records them;
/// empty before the first run.
pub fn system_figures(drill: &RecoveryDrill) -> Vec<SystemFigures> {
    run_of(drill).map_or_else(Vec::new, |run| {
        let finished = is_finished(run);
        run.systems
            .iter()
            .map(|s| figures(run, s, finished))
            .collect()
    })
}

use crate::engine::time::objective_met;
pub(super) use crate::engine::time::seconds_between;

pub(super) fn figures(run: &DrillRun, s: &DrillSystemResult, finished: bool) -> SystemFigures {
    let fault = s.fault_at.as_ref().or(run.started_at.as_ref()).map(|t| t.0);
    // From the timestamps; the recorded figure only when one of them is missing.
    let measure = |at: Option<&Time>, recorded: Option<u64>| match (fault, at) {
        (Some(fault), Some(at)) => seconds_between(fault, at.0),
        (None, Some(_)) => recorded,
        (_, None) => None,
    };
    let verified = s.verified_at.is_some() || s.phase.is_some_and(SystemPhase::is_verified);
    let recovery_seconds = match (fault, &s.verified_at) {
        (Some(fault), Some(at)) => seconds_between(fault, at.0),
        _ if verified => s.recovery_seconds,
        _ => None,
    };
    let result = if verified {
        match recovery_seconds.map(|took| (took, objective_met(took, s.objective_seconds))) {
            Some((_, Some(true))) => SystemResult::Met,
            Some((took, Some(false))) => SystemResult::Missed {
                by_seconds: took.saturating_sub(s.objective_seconds.unwrap_or(0)),
            },
            Some((_, None)) | None => SystemResult::Unmeasured,
        }
    } else if s.failed_at.is_some() || s.phase == Some(SystemPhase::Failed) {
        SystemResult::Failed
    } else if finished {
        SystemResult::NotVerified
    } else {
        SystemResult::InProgress
    };
    SystemFigures {
        name: s.name.clone(),
        display_name: s.display_name.clone(),
        tier: s.tier,
        phase: s.phase,
        objective_seconds: s.objective_seconds,
        recovery_seconds,
        release_seconds: measure(s.released_at.as_ref(), s.release_seconds),
        full_release_seconds: measure(s.fully_released_at.as_ref(), None),
        failed_after_seconds: measure(s.failed_at.as_ref(), None),
        result,
    }
}

// ---------------------------------------------------------------------------------------
// The headline.

/// The report's one-sentence summary, e.g. "22 of 24 systems recovered within their
/// objective; the longest took 41m against a 30m objective. 1 system failed."
pub fn headline(drill: &RecoveryDrill) -> String {
    match run_of(drill) {
        None => "This drill has not run yet.".to_string(),
        Some(run) => headline_of(&system_figures(drill), is_finished(run)),
    }
}

fn headline_of(figures: &[SystemFigures], finished: bool) -> String {
    let total = figures.len();
    let count = |pred: fn(SystemResult) -> bool| figures.iter().filter(|f| pred(f.result)).count();
    let met = count(|r| r == SystemResult::Met);
    let mut out = String::new();
    if !finished {
        out.push_str("The drill is still running. So far, ");
    }
    if total == 0 {
        out.push_str("no systems were measured");
    } else {
        let _ = write!(
            out,
            "{met} of {total} system{} recovered within {} objective",
            plural(total),
            their(total),
        );
    }
    let longest = figures
        .iter()
        .filter_map(|f| f.recovery_seconds.map(|took| (took, f.objective_seconds)))
        .max_by_key(|(took, _)| *took);
    match longest {
        Some((took, Some(objective))) => {
            let _ = write!(
                out,
                "; the longest took {} against a {} objective",
                human(took),
                human(objective)
            );
        }
        Some((took, None)) => {
            let _ = write!(out, "; the longest took {}", human(took));
        }
        None => {}
    }
    out.push('.');
    for (n, what) in [
        (count(|r| r == SystemResult::Failed), "failed"),
        (count(|r| r == SystemResult::NotVerified), "never came back"),
        (count(|r| r == SystemResult::InProgress), "still recovering"),
    ] {
        if n > 0 {
            let verb = match (what, n) {
                ("still recovering", 1) => "is ",
                ("still recovering", _) => "are ",
                _ => "",
            };
            let _ = write!(out, " {n} system{} {verb}{what}.", plural(n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    use super::*;
    use crate::report::drill::fixture::{drill, drill_of, fixture};
    use crate::report::drill::{ActionItem, action_items, gantt_chart, html, markdown};
    use crate::report::gantt::Outcome;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("an RFC 3339 timestamp")
    }

    /// Seconds between two of the fixture's timestamps, worked out independently.
    fn between(from: &serde_json::Value, to: &serde_json::Value) -> Option<u64> {
        let (from, to) = (ts(from.as_str()?), ts(to.as_str()?));
        Some(u64::try_from(to.duration_since(from).as_secs()).expect("in order"))
    }

    #[test]
    fn figures_are_the_recorded_timestamps() {
        let value = fixture();
        let figures = system_figures(&drill());
        let systems = value["status"]["run"]["systems"]
            .as_array()
            .expect("systems");
        assert_eq!(figures.len(), systems.len());
        for (fig, s) in figures.iter().zip(systems) {
            assert_eq!(fig.name, s["name"].as_str().expect("a name"));
            assert_eq!(
                fig.recovery_seconds,
                between(&s["faultAt"], &s["verifiedAt"]),
                "{}",
                fig.name
            );
            assert_eq!(
                fig.release_seconds,
                between(&s["faultAt"], &s["releasedAt"]),
                "{}",
                fig.name
            );
            assert_eq!(
                fig.full_release_seconds,
                between(&s["faultAt"], &s["fullyReleasedAt"]),
                "{}",
                fig.name
            );
            assert_eq!(
                fig.failed_after_seconds,
                between(&s["faultAt"], &s["failedAt"]),
                "{}",
                fig.name
            );
        }
        let results: Vec<(&str, SystemResult)> = figures
            .iter()
            .map(|f| (f.name.as_str(), f.result))
            .collect();
        assert_eq!(
            results,
            [
                ("identity", SystemResult::Met),
                // Recorded as 800s and met; the timestamps say 26m against 15.
                ("lims", SystemResult::Missed { by_seconds: 660 }),
                ("pas", SystemResult::Failed),
                ("epr", SystemResult::Met),
            ]
        );
        assert_eq!(figures[1].recovery_seconds, Some(1560));
    }

    #[test]
    fn headline_counts_met_objectives_and_names_the_longest() {
        assert_eq!(
            headline(&drill()),
            "2 of 4 systems recovered within their objective; the longest took 30m \
             against a 1h objective. 1 system failed."
        );
        let page = html(&drill());
        assert!(page.contains(
            "<p id=\"headline\" class=\"headline bad\"><strong class=\"verdict\">Objectives missed.</strong> 2 of 4 systems"
        ));
    }

    #[test]
    fn a_run_in_progress_is_not_judged_early() {
        let mut value = fixture();
        let run = &mut value["status"]["run"];
        for field in ["finishedAt", "outcome", "reason"] {
            run.as_object_mut().expect("an object").remove(field);
        }
        let lims = run["systems"][1].as_object_mut().expect("an object");
        for field in [
            "verifiedAt",
            "releasedAt",
            "fullyReleasedAt",
            "recoverySeconds",
        ] {
            lims.remove(field);
        }
        lims.insert("phase".into(), json!("Verifying"));
        value["status"]["phase"] = json!("Recovering");
        let drill = drill_of(value);
        assert_eq!(system_figures(&drill)[1].result, SystemResult::InProgress);
        assert!(!action_items(&drill).iter().any(|i| matches!(
            i,
            ActionItem::MissedObjective { .. } | ActionItem::NeverVerified { .. }
        )));
        assert!(headline(&drill).starts_with("The drill is still running. So far, 2 of 4"));
        assert!(headline(&drill).ends_with(" 1 system is still recovering."));
        let md = markdown(&drill);
        assert!(md.contains("**In progress.**"));
        assert!(md.contains("not yet (phase Recovering)"));
        let chart = gantt_chart(&drill).expect("a chart");
        // Up to the latest recorded moment: identity's full release, at +40:00.
        assert_eq!(chart.finished_at, 40.0 * 60.0);
        assert_eq!(chart.rows[1].outcome, Outcome::NotFinished);
    }
}
