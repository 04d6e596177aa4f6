//! The report model: everything the report shows, decided once from the RecoveryDrill
//! ([`Report::of`]) and then rendered twice, as Markdown (`markdown.rs`) and as HTML
//! (`html.rs`). The sections: facts (objectives and scope), faults, systems, checks,
//! approvals, timeline and history.

mod sections;
mod timeline;

use std::fmt::Write as _;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::actions::{ActionItem, action_items};
use super::chart::gantt_chart;
use super::figures::{headline, system_figures};
use super::run::{is_finished, name_of, namespace_of, origin, run_of};
use super::words::{outcome_words, planned_fault};
use crate::api::v1alpha1::{DrillOutcome, RecoveryDrill};
use crate::engine::time::offset_seconds;
use crate::report::fmt::{format_since, full_utc, long_date, same_day, time_of_day};
use crate::report::gantt::GanttChart;
use sections::{
    approvals_section, checks_section, facts, faults_section, history_section, scope_systems,
    systems_table,
};
use timeline::timeline_section;

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

#[cfg(test)]
mod tests;
