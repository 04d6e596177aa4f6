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
    /// Connections got through to a system while the drill isolated it.
    IsolationBreached {
        /// The system.
        system: String,
        /// Tries that got through.
        breaches: u32,
        /// Tries in all.
        tries: u32,
        /// The targets that accepted a connection.
        through: Vec<String>,
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
            | ActionItem::CheckFailed { system, .. }
            | ActionItem::IsolationBreached { system, .. } => Some(system),
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
            ActionItem::IsolationBreached {
                system,
                breaches,
                tries,
                through,
            } => write!(
                f,
                "{system} was not cut off while the drill isolated it: {breaches} of {tries} \
                 connection tries from the operator got through ({}). This network does not \
                 reliably enforce NetworkPolicy, and lifeline's release gates are \
                 NetworkPolicies: fix the enforcement before trusting a gate to keep staff \
                 out.",
                through.join(", ")
            ),
            ActionItem::Refused { reason } => write!(f, "The drill could not run: {reason}"),
        }
    }
}

/// What needs fixing after the current (or last) run: each isolation that connections got
/// through, then each missed objective, each system that failed or (once the run ended)
/// was never verified, and each failed check the drill did not cause; for each system in
/// the run's order, its result first, then its checks.
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
    for f in &run.faults {
        if let Some(w) = f.watch.as_ref().filter(|w| w.breaches > 0) {
            items.push(ActionItem::IsolationBreached {
                system: f.system.clone(),
                breaches: w.breaches,
                tries: w.tries,
                through: w.through.clone(),
            });
        }
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
    fn an_isolation_that_connections_got_through_comes_first() {
        let mut value = fixture();
        value["status"]["run"]["faults"][2]["watch"] = json!({
            "tries": 40, "breaches": 2, "firstBreachAt": "2025-03-15T03:02:00Z",
            "lastBreachAt": "2025-03-15T03:03:00Z", "through": ["pas.core.svc:8080"]
        });
        let items = action_items(&drill_of(value.clone()));
        assert_eq!(
            items[0],
            ActionItem::IsolationBreached {
                system: "pas".into(),
                breaches: 2,
                tries: 40,
                through: vec!["pas.core.svc:8080".into()],
            }
        );
        let text = items[0].to_string();
        assert!(
            text.starts_with("pas was not cut off while the drill isolated it: 2 of 40")
                && text.contains("release gates are NetworkPolicies"),
            "{text}"
        );
        assert_eq!(items.len(), 5, "and the four items before: {items:?}");
        // A watch with nothing through is no item.
        value["status"]["run"]["faults"][2]["watch"] = json!({ "tries": 40, "breaches": 0 });
        assert_eq!(action_items(&drill_of(value)).len(), 4);
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
