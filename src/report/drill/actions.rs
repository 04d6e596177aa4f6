//! Action items: what the run showed needs fixing.

use std::fmt;

use super::figures::{SystemResult, figures};
use super::run::{is_finished, run_of};
use crate::api::v1alpha1::SystemPhase;
use crate::api::v1alpha1::{DrillOutcome, RecoveryDrill};
use crate::report::fmt::{human, plural};

/// Something the drill showed needs fixing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionItem {
    /// A system came back later than its objective.
    MissedObjective {
        /// The system.
        system: String,
        /// Its measured recovery time.
        recovery_seconds: u64,
        /// Its objective.
        objective_seconds: u64,
    },
    /// A system's restore failed.
    SystemFailed {
        /// The system.
        system: String,
    },
    /// The run ended without a system being verified.
    NeverVerified {
        /// The system.
        system: String,
        /// Its phase when the run ended.
        phase: Option<SystemPhase>,
    },
    /// A check failed that the drill did not make fail.
    CheckFailed {
        /// The system.
        system: String,
        /// The check.
        check: String,
        /// Failed attempts.
        failures: u32,
        /// Whether it passed in the end.
        passed_in_the_end: bool,
        /// Its last error.
        message: String,
    },
    /// The drill could not run at all.
    Refused {
        /// Why, as the controller recorded it.
        reason: String,
    },
}

impl ActionItem {
    /// The system the item is about, if it is about one.
    pub fn system(&self) -> Option<&str> {
        match self {
            ActionItem::MissedObjective { system, .. }
            | ActionItem::SystemFailed { system }
            | ActionItem::NeverVerified { system, .. }
            | ActionItem::CheckFailed { system, .. } => Some(system),
            ActionItem::Refused { .. } => None,
        }
    }
}

impl fmt::Display for ActionItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionItem::MissedObjective {
                system,
                recovery_seconds,
                objective_seconds,
            } => write!(
                f,
                "{system} missed its recovery-time objective: back in {} against {} ({} over). \
                 Find what slowed it down, or agree an objective it can meet.",
                human(*recovery_seconds),
                human(*objective_seconds),
                human(recovery_seconds.saturating_sub(*objective_seconds)),
            ),
            ActionItem::SystemFailed { system } => write!(
                f,
                "{system} failed and was not recovered in this run. Find out why and fix its \
                 restore before the next drill."
            ),
            ActionItem::NeverVerified { system, phase } => write!(
                f,
                "{system} was never verified{}: it did not come back in this run.",
                phase.map_or_else(String::new, |p| format!(" (it ended {p})")),
            ),
            ActionItem::CheckFailed {
                system,
                check,
                failures,
                passed_in_the_end,
                message,
            } => {
                write!(
                    f,
                    "{system}: the check \"{check}\" failed {failures} time{} without the drill \
                     causing it{}",
                    plural(*failures as usize),
                    if *passed_in_the_end {
                        ", and passed in the end"
                    } else {
                        ", and never passed"
                    },
                )?;
                if message.trim().is_empty() {
                    f.write_str(".")
                } else {
                    write!(f, ": {}", message.trim())
                }
            }
            ActionItem::Refused { reason } => write!(f, "The drill could not run: {reason}"),
        }
    }
}

/// What needs fixing after the current (or last) run: each missed objective, each system
/// that failed or (once the run ended) was never verified, and each failed check the drill
/// did not cause; for each system in the run's order, its result first, then its checks.
pub fn action_items(drill: &RecoveryDrill) -> Vec<ActionItem> {
    let Some(run) = run_of(drill) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    if run.outcome == Some(DrillOutcome::Refused) {
        items.push(ActionItem::Refused {
            reason: run
                .reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".to_string()),
        });
    }
    let finished = is_finished(run);
    for s in &run.systems {
        let fig = figures(run, s, finished);
        match fig.result {
            SystemResult::Missed { .. } => {
                if let (Some(recovery_seconds), Some(objective_seconds)) =
                    (fig.recovery_seconds, fig.objective_seconds)
                {
                    items.push(ActionItem::MissedObjective {
                        system: s.name.clone(),
                        recovery_seconds,
                        objective_seconds,
                    });
                }
            }
            SystemResult::Failed => items.push(ActionItem::SystemFailed {
                system: s.name.clone(),
            }),
            SystemResult::NotVerified => items.push(ActionItem::NeverVerified {
                system: s.name.clone(),
                phase: s.phase,
            }),
            SystemResult::Met | SystemResult::Unmeasured | SystemResult::InProgress => {}
        }
        for c in s.failed_checks.iter().filter(|c| !c.injected) {
            items.push(ActionItem::CheckFailed {
                system: s.name.clone(),
                check: c.check.clone(),
                failures: c.failures,
                passed_in_the_end: c.passed_in_the_end,
                message: c.message.clone(),
            });
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::drill::fixture::{drill, drill_of, fixture};
    use crate::report::drill::{html, markdown};

    #[test]
    fn action_items_are_exactly_the_misses_failures_and_real_check_failures() {
        let items = action_items(&drill());
        assert_eq!(
            items,
            [
                ActionItem::MissedObjective {
                    system: "lims".into(),
                    recovery_seconds: 1560,
                    objective_seconds: 900,
                },
                ActionItem::CheckFailed {
                    system: "lims".into(),
                    check: "hl7-feed".into(),
                    failures: 1,
                    passed_in_the_end: true,
                    message: "no ACK within 30s".into(),
                },
                ActionItem::SystemFailed {
                    system: "pas".into()
                },
                ActionItem::CheckFailed {
                    system: "pas".into(),
                    check: "api-health".into(),
                    failures: 5,
                    passed_in_the_end: false,
                    message: "connection refused".into(),
                },
            ]
        );
        assert_eq!(
            items[0].to_string(),
            "lims missed its recovery-time objective: back in 26m against 15m \
             (11m over). Find what slowed it down, or agree an objective it can meet."
        );
        // Both renderings list them, and nothing about epr's injected check.
        let html = html(&drill());
        let list = &html[html.find("<ol id=\"action-items\">").expect("the list")..];
        let list = &list[..list.find("</ol>").expect("closed")];
        assert_eq!(list.matches("<li").count(), 4);
        assert!(!list.contains("epr"));
        let md = markdown(&drill());
        assert!(md.contains("4. pas: the check \"api-health\" failed 5 times"));
        assert!(!md.contains("5. "));
    }

    #[test]
    fn a_clean_run_has_no_action_items() {
        let mut value = fixture();
        let run = &mut value["status"]["run"];
        run["systems"] = json!([run["systems"][0].clone(), run["systems"][3].clone()]);
        run["outcome"] = json!("Passed");
        let drill = drill_of(value);
        assert!(action_items(&drill).is_empty());
        assert!(markdown(&drill).contains("## What needs fixing (action items)\n\nNone.\n"));
        assert!(html(&drill).contains("<p id=\"action-items\" class=\"none\">None."));
        assert!(html(&drill).contains("class=\"headline good\""));
    }
}
