//! The parts of the report: its facts (objectives and scope), faults, systems, checks,
//! approvals and history.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Cell, DEFAULT_TIMEOUT, Row, Table, TableSection};
use crate::api::v1alpha1::{DrillApprovals, DrillOutcome, DrillRun, FailurePolicy, RecoveryDrill};
use crate::report::drill::figures::{SystemFigures, SystemResult, seconds_between};
use crate::report::drill::run::{name_of, namespace_of};
use crate::report::drill::words::{fault_words, outcome_words, selection_text, trigger_words};
use crate::report::fmt::{full_utc, human};

pub(super) fn facts(
    drill: &RecoveryDrill,
    run: Option<&DrillRun>,
    finished: bool,
) -> Vec<(&'static str, String)> {
    let spec = &drill.spec;
    let mut facts = vec![(
        "Drill",
        format!("{} in namespace {}", name_of(drill), namespace_of(drill)),
    )];
    facts.push(("Systems chosen", selection_text(drill)));
    facts.push((
        "Approvals",
        match spec.approvals {
            DrillApprovals::Automatic => {
                "automatic: the drill approved each release stage itself".to_string()
            }
            DrillApprovals::Real => {
                "real: people approved each release stage, as in a real recovery".to_string()
            }
        },
    ));
    facts.push((
        "Timeout",
        spec.timeout.as_ref().map_or_else(
            || format!("{DEFAULT_TIMEOUT} (the default)"),
            |t| t.to_string(),
        ),
    ));
    facts.push((
        "Schedule",
        spec.schedule.clone().map_or_else(
            || "none: it runs only when asked".to_string(),
            |s| format!("{s} (cron, UTC)"),
        ),
    ));
    let stages: Vec<&str> = spec
        .recovery
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    facts.push((
        "Release stages",
        if stages.is_empty() {
            "none".to_string()
        } else {
            stages.join(", ")
        },
    ));
    facts.push((
        "If a system fails",
        match spec.recovery.failure_policy {
            FailurePolicy::Continue => "the systems that do not need it carry on (continue)",
            FailurePolicy::Halt => "nothing new starts (halt)",
        }
        .to_string(),
    ));
    let Some(run) = run else {
        if let Some(status) = &drill.status {
            facts.push(("Phase", status.phase.to_string()));
        }
        return facts;
    };
    facts.push(("Run number", run.number.to_string()));
    facts.push(("Triggered", trigger_words(run.trigger)));
    if let Some(plan) = &run.plan {
        facts.push(("Recovery plan", plan.clone()));
    }
    facts.push((
        "Started",
        run.started_at
            .as_ref()
            .map_or_else(|| "not recorded".to_string(), |t| full_utc(t.0)),
    ));
    facts.push((
        "Finished",
        match (&run.finished_at, &run.started_at) {
            (Some(end), Some(start)) => match seconds_between(start.0, end.0) {
                Some(took) => format!("{}, after {}", full_utc(end.0), human(took)),
                None => full_utc(end.0),
            },
            (Some(end), None) => full_utc(end.0),
            (None, _) if finished => "not recorded".to_string(),
            (None, _) => format!(
                "not yet (phase {})",
                drill
                    .status
                    .as_ref()
                    .map_or_else(|| "unknown".to_string(), |s| s.phase.to_string())
            ),
        },
    ));
    facts.push((
        "Outcome",
        run.outcome
            .map_or_else(|| "not decided yet".to_string(), outcome_words),
    ));
    if let Some(reason) = &run.reason {
        facts.push(("Why", reason.clone()));
    }
    facts
}

pub(super) fn scope_systems(drill: &RecoveryDrill, run: Option<&DrillRun>) -> Vec<String> {
    match run {
        Some(run) if !run.systems.is_empty() => run
            .systems
            .iter()
            .map(|s| {
                let mut text = match &s.display_name {
                    Some(display) => format!("{display} ({})", s.name),
                    None => s.name.clone(),
                };
                let mut parts = Vec::new();
                if let Some(tier) = s.tier {
                    parts.push(tier.to_string());
                }
                if let Some(objective) = s.objective_seconds {
                    parts.push(format!("objective {}", human(objective)));
                }
                if !parts.is_empty() {
                    let _ = write!(text, " ({})", parts.join(", "));
                }
                text
            })
            .collect(),
        _ => drill.spec.systems.names.clone().unwrap_or_default(),
    }
}

pub(super) fn faults_section(run: Option<&DrillRun>) -> TableSection {
    let rows = run
        .map(|run| {
            run.faults
                .iter()
                .map(|f| Row {
                    system: Some(f.system.clone()),
                    result: None,
                    cells: vec![
                        Cell::text(&f.system),
                        Cell::text(fault_words(f.kind)),
                        Cell::text(&f.target),
                        Cell::at(f.injected_at.as_ref()),
                        Cell::at(f.proven_at.as_ref()),
                        Cell::text(f.proof.clone().unwrap_or_default()),
                        Cell::at(f.lifted_at.as_ref()),
                    ],
                })
                .collect()
        })
        .unwrap_or_default();
    TableSection {
        id: "faults",
        heading: "What we broke",
        gloss: "faults injected, with proof",
        intro: "Each fault was checked to have taken effect before the recovery started; \
                the proof is what the drill saw."
            .to_string(),
        table: Table {
            id: "faults-table",
            headers: &[
                "System",
                "What we did",
                "Target",
                "Injected",
                "Proven",
                "Proof",
                "Lifted",
            ],
            rows,
        },
        empty: "No faults were injected in this run.",
    }
}

pub(super) fn systems_table(figures: &[SystemFigures]) -> Table {
    let rows = figures
        .iter()
        .map(|f| {
            let recovery = match (f.recovery_seconds, f.result, f.failed_after_seconds) {
                (Some(took), _, _) => human(took),
                (None, SystemResult::Failed, Some(after)) => {
                    format!("failed after {}", human(after))
                }
                _ => String::new(),
            };
            Row {
                system: Some(f.name.clone()),
                result: Some(f.result.class()),
                cells: vec![
                    match &f.display_name {
                        Some(display) => Cell::Named(display.clone(), f.name.clone()),
                        None => Cell::text(&f.name),
                    },
                    Cell::text(f.tier.map(|t| t.to_string()).unwrap_or_default()),
                    Cell::text(f.objective_seconds.map(human).unwrap_or_default()),
                    Cell::text(recovery),
                    Cell::Mark(f.result.class(), result_words(f)),
                    Cell::text(f.release_seconds.map(human).unwrap_or_default()),
                    Cell::text(f.full_release_seconds.map(human).unwrap_or_default()),
                ],
            }
        })
        .collect();
    Table {
        id: "systems",
        headers: &[
            "System",
            "Tier",
            "Objective",
            "Recovery time",
            "Result",
            "Back with staff after",
            "Fully released after",
        ],
        rows,
    }
}

fn result_words(f: &SystemFigures) -> String {
    match f.result {
        SystemResult::Met => "✓ Met".to_string(),
        SystemResult::Missed { by_seconds } => format!("✗ Missed by {}", human(by_seconds)),
        SystemResult::Unmeasured => "Recovered (not measured)".to_string(),
        SystemResult::Failed => "✗ Failed".to_string(),
        SystemResult::NotVerified => match f.phase {
            Some(phase) => format!("✗ Never came back ({phase})"),
            None => "✗ Never came back".to_string(),
        },
        SystemResult::InProgress => "… Still recovering".to_string(),
    }
}

pub(super) fn checks_section(run: Option<&DrillRun>) -> TableSection {
    let rows = run
        .map(|run| {
            run.systems
                .iter()
                .flat_map(|s| {
                    s.failed_checks.iter().map(|c| Row {
                        system: Some(s.name.clone()),
                        result: None,
                        cells: vec![
                            Cell::text(&s.name),
                            Cell::text(&c.check),
                            Cell::text(c.failures.to_string()),
                            Cell::text(if c.passed_in_the_end { "yes" } else { "no" }),
                            if c.injected {
                                Cell::Mark("injected", "Yes, on purpose".to_string())
                            } else {
                                Cell::Mark("unexpected", "No: needs fixing".to_string())
                            },
                            Cell::text(&c.message),
                        ],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    TableSection {
        id: "checks",
        heading: "Checks that failed",
        gloss: "failed checks; injected ones were made to fail by the drill",
        intro: "A check the drill made to fail on purpose is part of the rehearsal; any other \
                failed check is a real problem found by the drill."
            .to_string(),
        table: Table {
            id: "checks-table",
            headers: &[
                "System",
                "Check",
                "Failed attempts",
                "Passed in the end",
                "Made to fail by the drill",
                "Last error",
            ],
            rows,
        },
        empty: "No check failed.",
    }
}

pub(super) fn approvals_section(run: Option<&DrillRun>) -> TableSection {
    let rows = run
        .map(|run| {
            run.approvals
                .iter()
                .map(|a| {
                    Row::new(vec![
                        Cell::text(&a.stage),
                        Cell::text(
                            a.systems
                                .iter()
                                .map(|s| crate::api::v1alpha1::short_name(s))
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                        Cell::text(&a.by),
                        Cell::at(a.at.as_ref()),
                        if a.automatic {
                            Cell::Mark("automatic", "Automatic (the drill)".to_string())
                        } else {
                            Cell::text("A person")
                        },
                        if a.accepted {
                            Cell::Mark("counted", "Counted".to_string())
                        } else {
                            Cell::Mark("ignored", "Ignored".to_string())
                        },
                        Cell::text(a.comment.clone().unwrap_or_default()),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    TableSection {
        id: "approvals",
        heading: "Who approved the release",
        gloss: "approvals",
        intro: "Before staff got a system back at a release stage, someone approved that \
                system for that stage; an ignored approval did not count (the comment says why)."
            .to_string(),
        table: Table {
            id: "approvals-table",
            headers: &[
                "Stage",
                "Systems",
                "Approved by",
                "When",
                "How",
                "Counted",
                "Comment",
            ],
            rows,
        },
        empty: "No release approvals were recorded in this run.",
    }
}

pub(super) fn history_section(drill: &RecoveryDrill) -> TableSection {
    let history = drill
        .status
        .as_ref()
        .map(|s| s.history.as_slice())
        .unwrap_or_default();
    let rows = history
        .iter()
        .map(|h| {
            let when = |t: &Option<Time>| t.as_ref().map(|t| full_utc(t.0)).unwrap_or_default();
            Row::new(vec![
                Cell::text(h.number.to_string()),
                Cell::text(trigger_words(h.trigger)),
                Cell::text(when(&h.started_at)),
                Cell::text(when(&h.finished_at)),
                if h.outcome == DrillOutcome::Passed {
                    Cell::Mark("met", outcome_words(h.outcome))
                } else {
                    Cell::Mark("missed", outcome_words(h.outcome))
                },
                Cell::text(&h.verified),
                Cell::text(&h.objectives_met),
                Cell::text(h.longest_recovery_seconds.map(human).unwrap_or_default()),
                Cell::text(h.reason.clone().unwrap_or_default()),
            ])
        })
        .collect();
    TableSection {
        id: "history",
        heading: "Previous runs",
        gloss: "run history, newest first",
        intro: String::new(),
        table: Table {
            id: "history-table",
            headers: &[
                "Run",
                "Trigger",
                "Started (UTC)",
                "Finished (UTC)",
                "Outcome",
                "Verified",
                "Objectives met",
                "Longest recovery",
                "Why",
            ],
            rows,
        },
        empty: "No earlier runs are recorded.",
    }
}
