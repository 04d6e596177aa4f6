//! The report model: everything the report shows, decided once from the RecoveryDrill
//! ([`Report::of`]) and then rendered twice, as Markdown (`markdown.rs`) and as HTML
//! (`html.rs`). The sections: facts (objectives and scope), faults, systems, checks,
//! approvals, timeline and history.

use std::fmt::Write as _;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::actions::{ActionItem, action_items};
use super::chart::gantt_chart;
use super::figures::{SystemFigures, SystemResult, headline, seconds_between, system_figures};
use super::run::{is_finished, name_of, namespace_of, origin, run_of};
use super::words::{fault_words, outcome_words, planned_fault, selection_text, trigger_words};
use crate::api::v1alpha1::{DrillApprovals, DrillOutcome, DrillRun, FailurePolicy, RecoveryDrill};
use crate::engine::time::offset_seconds;
use crate::report::fmt::{format_since, full_utc, human, long_date, same_day, time_of_day};
use crate::report::gantt::GanttChart;

/// A drill's timeout when `spec.timeout` is unset, as the API documents it.
const DEFAULT_TIMEOUT: &str = "1h";

/// What the chart shows, under it (and under its link in Markdown).
pub(super) const CHART_CAPTION: &str = "Each bar runs from when a system's restore started to when it was checked and working (red hatching: it failed; dashed: it was still down when the run ended). The diamond is its deadline: its recovery-time objective counted from when we broke it. Times are from the start of the run.";

/// A table cell.
#[derive(Clone, Debug)]
pub(super) enum Cell {
    /// Text (from the object or ours), escaped when written.
    Text(String),
    /// A moment: UTC and time since the run started; "—" when unknown.
    At(Option<Timestamp>),
    /// A verdict, in words and, in HTML, colour: the CSS class and the words.
    Mark(&'static str, String),
    /// A system by the name staff know it by, with its ID in small type.
    Named(String, String),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn at(t: Option<&Time>) -> Cell {
        Cell::At(t.map(|t| t.0))
    }
}

/// A table row, optionally about one system (its `data-system`).
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub(super) system: Option<String>,
    pub(super) result: Option<&'static str>,
    pub(super) cells: Vec<Cell>,
}

impl Row {
    fn new(cells: Vec<Cell>) -> Row {
        Row {
            system: None,
            result: None,
            cells,
        }
    }
}

/// A table with its HTML id and column headings.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) id: &'static str,
    pub(super) headers: &'static [&'static str],
    pub(super) rows: Vec<Row>,
}

/// The tone of the headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tone {
    Good,
    Bad,
    Neutral,
}

impl Tone {
    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Neutral => "neutral",
        }
    }
}

/// A section of the report with a table, or a sentence when the table would be empty.
#[derive(Clone, Debug)]
pub(super) struct TableSection {
    /// The HTML section id.
    pub(super) id: &'static str,
    /// The heading for people.
    pub(super) heading: &'static str,
    /// The heading's technical gloss, for engineers.
    pub(super) gloss: &'static str,
    /// A sentence before the table.
    pub(super) intro: String,
    pub(super) table: Table,
    /// What to say instead of an empty table.
    pub(super) empty: &'static str,
}

/// Everything the report shows, decided before anything is written.
pub(super) struct Report {
    /// "namespace/name".
    pub(super) key: String,
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) verdict: String,
    pub(super) tone: Tone,
    pub(super) headline: String,
    /// The words of the report a board may not know, each in plain words.
    pub(super) terms: &'static [(&'static str, &'static str)],
    /// (label, value) pairs: the objectives and scope.
    pub(super) facts: Vec<(&'static str, String)>,
    /// The systems in the drill, "name (tier, objective 30m)".
    pub(super) scope_systems: Vec<String>,
    /// The faults the spec plans.
    pub(super) planned_faults: Vec<String>,
    /// The run's start, for offsets.
    pub(super) origin: Option<Timestamp>,
    pub(super) has_run: bool,
    pub(super) faults: TableSection,
    pub(super) chart: Option<GanttChart>,
    pub(super) systems: Table,
    pub(super) actions: Vec<ActionItem>,
    pub(super) checks: TableSection,
    pub(super) approvals: TableSection,
    pub(super) timeline: TableSection,
    pub(super) history: TableSection,
}

/// The terms of a drill report, explained for a board.
pub(super) const TERMS: &[(&str, &str)] = &[
    (
        "Drill",
        "a rehearsal: we broke systems on purpose, on a copy of the hospital's systems kept for testing (staging), and timed how long it took to bring them back.",
    ),
    (
        "Recovery-time objective (RTO)",
        "how long a system may be down before harm to patients or services becomes likely; the trust sets it for each system.",
    ),
    (
        "Tier",
        "how much the hospital depends on a system: mission-critical, critical, important or deferrable.",
    ),
    (
        "Fault",
        "what we did to break a system: switched it off, deleted its running copies, cut it off the network, or made one of its health checks fail.",
    ),
    (
        "Proof",
        "what we saw that showed the fault really took effect before recovery started.",
    ),
    (
        "Check",
        "an automatic test that a system works (it answers, it logs people in); a system counts as recovered once all its checks pass.",
    ),
    (
        "Release stage",
        "a group of staff a recovered system is given back to, in order (IT first, then a pilot ward, then every site); later stages need a person's approval.",
    ),
];

impl Report {
    pub(super) fn of(drill: &RecoveryDrill) -> Report {
        let key = format!("{}/{}", namespace_of(drill), name_of(drill));
        let run = run_of(drill);
        let figures = system_figures(drill);
        let finished = run.is_some_and(is_finished);
        let origin = run.and_then(origin);
        let (verdict, tone) = match run {
            None => ("Not run yet".to_string(), Tone::Neutral),
            Some(run) => match run.outcome {
                Some(DrillOutcome::Passed) => (outcome_words(DrillOutcome::Passed), Tone::Good),
                Some(o) => (outcome_words(o), Tone::Bad),
                None if finished => ("Finished".to_string(), Tone::Neutral),
                None => ("In progress".to_string(), Tone::Neutral),
            },
        };
        let mut headline = headline(drill);
        if let Some(run) = run {
            // How much was broken against how much was in scope: a board reads "7 of 10
            // recovered" differently when only 3 were broken.
            let mut broken: Vec<&str> = run.faults.iter().map(|f| f.system.as_str()).collect();
            broken.sort_unstable();
            broken.dedup();
            let in_scope = run.systems.len().max(broken.len());
            let others = in_scope - broken.len();
            let _ = write!(
                headline,
                " We broke {} of the {in_scope} system{} in scope on purpose",
                broken.len(),
                crate::report::fmt::plural(in_scope),
            );
            headline.push_str(&match others {
                0 => ".".to_string(),
                1 => "; the other one was recovered and checked with them.".to_string(),
                n => format!("; the other {n} were recovered and checked with them."),
            });
        }
        if let (None, Some(message)) = (run, drill.status.as_ref().and_then(|s| s.message.as_ref()))
        {
            let _ = write!(headline, " {}", message.trim());
        }
        let subtitle = match run {
            None => format!("Drill {key}"),
            Some(run) => {
                let mut s = format!("Drill {key} · run {}", run.number);
                if let Some(start) = run.started_at.as_ref() {
                    let _ = write!(s, " · {}", long_date(start.0));
                }
                s
            }
        };
        Report {
            title: match run {
                None => format!("Drill report: {key}"),
                Some(run) => format!("Drill report: {key}, run {}", run.number),
            },
            subtitle,
            verdict,
            tone,
            headline,
            terms: TERMS,
            facts: facts(drill, run, finished),
            scope_systems: scope_systems(drill, run),
            planned_faults: drill.spec.faults.iter().map(planned_fault).collect(),
            origin,
            has_run: run.is_some(),
            faults: faults_section(run),
            chart: gantt_chart(drill),
            systems: systems_table(&figures),
            actions: action_items(drill),
            checks: checks_section(run),
            approvals: approvals_section(run),
            timeline: timeline_section(run, origin, &figures),
            history: history_section(drill),
            key,
        }
    }

    /// A moment as "03:00:42 UTC" (with the date when it is not the run's start date, or
    /// there is no start) and its offset from the run's start, "+0:42".
    pub(super) fn moment(&self, t: Timestamp) -> (String, Option<String>) {
        let clock = match self.origin {
            Some(origin) if same_day(origin, t) => format!("{} UTC", time_of_day(t)),
            _ => full_utc(t),
        };
        let since = self
            .origin
            .map(|origin| format_since(offset_seconds(origin, t)));
        (clock, since)
    }
}

// ---------------------------------------------------------------------------------------
// The parts of the report.

fn facts(
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

fn scope_systems(drill: &RecoveryDrill, run: Option<&DrillRun>) -> Vec<String> {
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

fn faults_section(run: Option<&DrillRun>) -> TableSection {
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

fn systems_table(figures: &[SystemFigures]) -> Table {
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

fn checks_section(run: Option<&DrillRun>) -> TableSection {
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

fn approvals_section(run: Option<&DrillRun>) -> TableSection {
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

/// One line of the timeline.
struct Event {
    at: Timestamp,
    text: String,
}

fn timeline_section(
    run: Option<&DrillRun>,
    origin: Option<Timestamp>,
    figures: &[SystemFigures],
) -> TableSection {
    let events = run.map(|run| timeline(run, figures)).unwrap_or_default();
    let rows = events
        .into_iter()
        .map(|e| {
            let clock = match origin {
                Some(origin) if same_day(origin, e.at) => time_of_day(e.at),
                _ => full_utc(e.at),
            };
            let since = origin
                .map(|origin| format_since(offset_seconds(origin, e.at)))
                .unwrap_or_default();
            Row::new(vec![
                Cell::Text(clock),
                Cell::Text(since),
                Cell::Text(e.text),
            ])
        })
        .collect();
    TableSection {
        id: "timeline",
        heading: "What happened, in order",
        gloss: "timeline",
        intro: String::new(),
        table: Table {
            id: "timeline-table",
            headers: &["Time (UTC)", "Since start", "What happened"],
            rows,
        },
        empty: "Nothing was recorded yet.",
    }
}

/// Every recorded moment of the run, oldest first; moments recorded at the same second
/// keep their causal order (start first, finish last).
fn timeline(run: &DrillRun, figures: &[SystemFigures]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut add = |at: Option<&Time>, text: String| {
        if let Some(at) = at {
            events.push(Event { at: at.0, text });
        }
    };
    add(
        run.started_at.as_ref(),
        format!(
            "Run {} started ({})",
            run.number,
            trigger_words(run.trigger)
        ),
    );
    for f in &run.faults {
        add(
            f.injected_at.as_ref(),
            format!(
                "{}: fault injected: {} ({})",
                f.system,
                fault_words(f.kind).to_lowercase(),
                f.target
            ),
        );
        add(
            f.proven_at.as_ref(),
            match &f.proof {
                Some(proof) => format!("{}: fault proven: {proof}", f.system),
                None => format!("{}: fault proven", f.system),
            },
        );
        add(
            f.lifted_at.as_ref(),
            format!("{}: fault lifted ({})", f.system, f.target),
        );
    }
    add(
        run.recovery_started_at.as_ref(),
        match &run.plan {
            Some(plan) => format!("Recovery started (plan {plan})"),
            None => "Recovery started".to_string(),
        },
    );
    for (s, fig) in run.systems.iter().zip(figures) {
        add(
            s.restore_started_at.as_ref(),
            format!("{}: restore started", s.name),
        );
        add(
            s.verified_at.as_ref(),
            match fig.recovery_seconds {
                Some(took) => format!(
                    "{}: checked and working, {} after the fault",
                    s.name,
                    human(took)
                ),
                None => format!("{}: checked and working", s.name),
            },
        );
        add(
            s.released_at.as_ref(),
            format!("{}: released to staff (first stage)", s.name),
        );
        if s.fully_released_at != s.released_at {
            add(
                s.fully_released_at.as_ref(),
                format!("{}: released at every stage", s.name),
            );
        }
        add(s.failed_at.as_ref(), format!("{}: failed", s.name));
    }
    for a in &run.approvals {
        let how = if a.automatic { " (automatic)" } else { "" };
        add(
            a.at.as_ref(),
            if a.accepted {
                format!("Stage {}: approved by {}{how}", a.stage, a.by)
            } else {
                format!("Stage {}: approval by {} ignored", a.stage, a.by)
            },
        );
    }
    add(
        run.finished_at.as_ref(),
        match (run.outcome, &run.reason) {
            (Some(o), Some(reason)) => format!("Run finished: {}: {reason}", outcome_words(o)),
            (Some(o), None) => format!("Run finished: {}", outcome_words(o)),
            (None, _) => "Run finished".to_string(),
        },
    );
    // Stable: ties keep the order above.
    events.sort_by_key(|e| e.at);
    events
}

fn history_section(drill: &RecoveryDrill) -> TableSection {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::drill::fixture::drill;
    use crate::report::drill::{html, markdown};

    #[test]
    fn times_are_shown_in_utc_and_since_the_start() {
        // How the time since the start reads is tested beside `format_since` (fmt.rs).
        let md = markdown(&drill());
        // The lims fault: injected, proven, no lift.
        assert!(
            md.contains("| lims | Pods deleted | pods app=lims | 03:00:06 UTC (+0:06) | 03:00:30 UTC (+0:30) | none of the 3 deleted pods is left | — |"),
            "{md}"
        );
        assert!(md.contains("- **Started:** 2025-03-15 03:00:00 UTC"));
        assert!(md.contains("- **Finished:** 2025-03-15 03:45:00 UTC, after 45m"));
        let page = html(&drill());
        assert!(page.contains(
            "<td class=\"when\"><time datetime=\"2025-03-15T03:10:07Z\">03:10:07 UTC</time> <span class=\"since\">(+10:07)</span></td>"
        ));
    }

    #[test]
    fn timeline_is_chronological_from_start_to_finish() {
        let drill = drill();
        let run = run_of(&drill).expect("a run");
        let events = timeline(run, &system_figures(&drill));
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(
            events.first().map(|e| e.text.as_str()),
            Some("Run 3 started (started by its schedule)")
        );
        assert_eq!(
            events.last().map(|e| e.text.as_str()),
            Some("Run finished: Objectives missed: 1 of 4 objectives missed: lims")
        );
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        for expected in [
            "identity: fault injected: switched off (scaled to zero) (Deployment/directory)",
            "identity: fault proven: 0 pods left of 2",
            "pas: fault lifted (NetworkPolicy/lifeline-drill-pas)",
            "Recovery started (plan core-drill-run-3)",
            "lims: restore started",
            "lims: checked and working, 26m after the fault",
            "identity: released to staff (first stage)",
            "identity: released at every stage",
            "pas: failed",
            "Stage it-validation: approved by drill auto-approval (automatic)",
            "Stage pilot-ward: approval by mallory ignored",
            "Stage pilot-ward: approved by dr.jones",
        ] {
            assert!(texts.contains(&expected), "{expected:?} in {texts:#?}");
        }
        // epr was verified but released once: no separate "every stage" line.
        assert!(!texts.contains(&"epr: released at every stage"));
    }
}
