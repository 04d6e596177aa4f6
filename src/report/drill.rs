//! The drill report (`lifeline report`): what a chaos drill broke, how long each system took
//! to come back against its recovery-time objective, who approved the release, and what
//! needs fixing. As Markdown for engineers and wikis ([`markdown`]), and as a
//! self-contained HTML page a hospital board can read ([`html`]).
//!
//! The report is made from the RecoveryDrill object alone: its spec, the current or last
//! run (`status.run`) and the run history (`status.history`). Everything here is pure (no
//! client, clock or I/O) and never panics, whatever the object holds.
//!
//! Every figure is worked out from the recorded timestamps ([`system_figures`]): a system's
//! recovery time runs from its `faultAt` to its `verifiedAt`. The controller's own
//! `recoverySeconds` and `objectiveMet` are only used when a timestamp is missing.
//!
//! Times are shown in UTC and as the time since the run started, read like a stopwatch:
//! `+0:42` is 42 seconds in, `+12:05` twelve minutes five seconds, `+1:02:03` an hour, two
//! minutes and three seconds.

use std::fmt::{self, Write as _};

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{LabelSelector, Time},
    jiff::Timestamp,
};

pub use super::fmt::format_since;
use super::fmt::{
    Esc, full_utc, human, iso, long_date, md, plural, same_day, their, time_of_day, url_path,
};
use super::gantt::{GanttChart, GanttRow, Outcome};
use crate::api::v1alpha1::{
    DrillApprovals, DrillOutcome, DrillRun, DrillSystemResult, FailurePolicy, Fault, RecoveryDrill,
    Tier,
};

/// A drill's timeout when `spec.timeout` is unset, as the API documents it.
const DEFAULT_TIMEOUT: &str = "1h";

/// What the Markdown report says about the chart when it has no SVG file beside it.
pub const GANTT_NOTE: &str = "Gantt chart: use --format html, or -o FILE to also write the SVG";

// ---------------------------------------------------------------------------------------
// Figures: what each system measured, from the timestamps.

/// One system's measured recovery in a run, worked out from its recorded timestamps.
///
/// Durations are whole seconds between the timestamps' whole seconds (as the controller
/// records `recoverySeconds`), counted from the system's fault: its `faultAt`, or the run's
/// start when the drill did not break it itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemFigures {
    /// The system's name.
    pub name: String,
    /// Its tier, when recorded.
    pub tier: Option<Tier>,
    /// Its phase in the recovery plan, when recorded.
    pub phase: Option<String>,
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
    fn class(self) -> &'static str {
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

/// Whole seconds from `from` to `to`; `None` when `to` is earlier.
fn seconds_between(from: Timestamp, to: Timestamp) -> Option<u64> {
    u64::try_from(to.as_second() - from.as_second()).ok()
}

fn figures(run: &DrillRun, s: &DrillSystemResult, finished: bool) -> SystemFigures {
    let fault = s.fault_at.as_ref().or(run.started_at.as_ref()).map(|t| t.0);
    // From the timestamps; the recorded figure only when one of them is missing.
    let measure = |at: Option<&Time>, recorded: Option<u64>| match (fault, at) {
        (Some(fault), Some(at)) => seconds_between(fault, at.0),
        (None, Some(_)) => recorded,
        (_, None) => None,
    };
    let phase = s.phase.as_deref();
    let verified = s.verified_at.is_some() || matches!(phase, Some("Verified" | "Released"));
    let recovery_seconds = match (fault, &s.verified_at) {
        (Some(fault), Some(at)) => seconds_between(fault, at.0),
        _ if verified => s.recovery_seconds,
        _ => None,
    };
    let result = if verified {
        match (recovery_seconds, s.objective_seconds) {
            (Some(took), Some(objective)) if took <= objective => SystemResult::Met,
            (Some(took), Some(objective)) => SystemResult::Missed {
                by_seconds: took - objective,
            },
            _ => SystemResult::Unmeasured,
        }
    } else if s.failed_at.is_some() || phase == Some("Failed") {
        SystemResult::Failed
    } else if finished {
        SystemResult::NotVerified
    } else {
        SystemResult::InProgress
    };
    SystemFigures {
        name: s.name.clone(),
        tier: s.tier,
        phase: s.phase.clone(),
        objective_seconds: s.objective_seconds,
        recovery_seconds,
        release_seconds: measure(s.released_at.as_ref(), s.release_seconds),
        full_release_seconds: measure(s.fully_released_at.as_ref(), None),
        failed_after_seconds: measure(s.failed_at.as_ref(), None),
        result,
    }
}

// ---------------------------------------------------------------------------------------
// Action items.

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
        phase: Option<String>,
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
                phase
                    .as_deref()
                    .map_or_else(String::new, |p| format!(" (it ended {p})")),
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
                phase: s.phase.clone(),
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

// ---------------------------------------------------------------------------------------
// The headline.

/// The report's one-sentence summary, e.g. "22 of 24 systems recovered within their
/// objective; the longest took 41 min against a 30 min objective. 1 system failed."
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

// ---------------------------------------------------------------------------------------
// The Gantt chart.

/// The run as a Gantt chart; `None` before the first run.
///
/// One row per system, in the run's order. Every time is seconds from the run's start, so
/// all rows share one clock and line up with the timeline. A bar runs from when the
/// system's restore started (or, if it never started, from its fault) to when it was
/// verified or failed, or to the run's end.
///
/// The objective, though, is counted from the system's own fault, not from the run's
/// start: the RTO mark is placed at `faultAt + objective`, the deadline the system really
/// had. A bar that ends left of its mark met its objective exactly when
/// [`system_figures`] says it did; drawing objectives from the run's start would move the
/// deadline of every system broken after the start earlier than it really was.
pub fn gantt_chart(drill: &RecoveryDrill) -> Option<GanttChart> {
    let run = run_of(drill)?;
    let origin = origin(run);
    let offset = |t: Option<&Time>| -> Option<f64> {
        let (origin, t) = (origin?, t?);
        Some((t.0.as_second() - origin.as_second()) as f64)
    };
    let finished = is_finished(run);
    let rows = run
        .systems
        .iter()
        .map(|s| {
            let fig = figures(run, s, finished);
            let fault = s.fault_at.as_ref().or(run.started_at.as_ref());
            let outcome = match fig.result {
                SystemResult::Met | SystemResult::Missed { .. } | SystemResult::Unmeasured => {
                    Outcome::Verified
                }
                SystemResult::Failed => Outcome::Failed,
                SystemResult::NotVerified if s.phase.as_deref() == Some("Blocked") => {
                    Outcome::Blocked
                }
                SystemResult::NotVerified | SystemResult::InProgress => Outcome::NotFinished,
            };
            let objective = match (offset(fault), s.objective_seconds) {
                (Some(fault), Some(objective)) => fault + objective as f64,
                // No deadline to mark: the chart ignores infinite times.
                _ => f64::INFINITY,
            };
            GanttRow {
                name: format!("{}/{}", namespace_of(drill), s.name),
                label: s.name.clone(),
                // A system without a recorded tier is drawn as the least urgent.
                tier: s.tier.unwrap_or(Tier::Deferrable),
                start: offset(s.restore_started_at.as_ref().or(fault)),
                verified: offset(s.verified_at.as_ref()),
                end: offset(s.failed_at.as_ref()),
                objective,
                outcome,
            }
        })
        .collect();
    let end = match (&run.finished_at, origin) {
        (Some(finished), Some(origin)) => (finished.0.as_second() - origin.as_second()) as f64,
        (None, Some(origin)) => all_times(run)
            .into_iter()
            .map(|t| (t.as_second() - origin.as_second()) as f64)
            .fold(0.0, f64::max),
        _ => 0.0,
    };
    Some(GanttChart {
        title: format!(
            "Drill {}/{}, run {}",
            namespace_of(drill),
            name_of(drill),
            run.number
        ),
        rows,
        finished_at: end,
    })
}

/// The Gantt chart as a standalone SVG document, for the file the Markdown report links
/// to; `None` before the first run.
pub fn gantt_svg(drill: &RecoveryDrill) -> Option<String> {
    gantt_chart(drill).map(|chart| chart.to_svg())
}

// ---------------------------------------------------------------------------------------
// The report, decided once and rendered twice.

/// Where the Markdown report finds its Gantt chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartLink<'a> {
    /// Nowhere (the report goes to a terminal): a note says how to get it.
    Note,
    /// An SVG file beside the report, by its file name (written by the caller with
    /// [`gantt_svg`]).
    File(&'a str),
}

/// The report as Markdown, for a terminal: where the chart would be, a note says how to
/// get it ([`GANTT_NOTE`]).
pub fn markdown(drill: &RecoveryDrill) -> String {
    markdown_linking(drill, ChartLink::Note)
}

/// The report as Markdown, with the Gantt chart as `chart` says.
pub fn markdown_linking(drill: &RecoveryDrill, chart: ChartLink<'_>) -> String {
    let report = Report::of(drill);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = report.write_markdown(&mut out, chart);
    out
}

/// The report as one self-contained HTML page: inline style, the Gantt chart as inline
/// SVG in `<figure id="gantt">`, the systems in `<table id="systems">` with one
/// `<tr data-system="NAME">` each, no scripts and nothing loaded from elsewhere (a
/// Content-Security-Policy forbids it), readable printed.
pub fn html(drill: &RecoveryDrill) -> String {
    let report = Report::of(drill);
    let mut out = String::new();
    let _ = report.write_html(&mut out);
    out
}

/// A table cell.
#[derive(Clone, Debug)]
enum Cell {
    /// Text (from the object or ours), escaped when written.
    Text(String),
    /// A moment: UTC and time since the run started; "—" when unknown.
    At(Option<Timestamp>),
    /// A verdict, in words and, in HTML, colour: the CSS class and the words.
    Mark(&'static str, String),
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
struct Row {
    system: Option<String>,
    result: Option<&'static str>,
    cells: Vec<Cell>,
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
struct Table {
    id: &'static str,
    headers: &'static [&'static str],
    rows: Vec<Row>,
}

/// The tone of the headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tone {
    Good,
    Bad,
    Neutral,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Neutral => "neutral",
        }
    }
}

/// A section of the report with a table, or a sentence when the table would be empty.
#[derive(Clone, Debug)]
struct TableSection {
    /// The HTML section id.
    id: &'static str,
    /// The heading for people.
    heading: &'static str,
    /// The heading's technical gloss, for engineers.
    gloss: &'static str,
    /// A sentence before the table.
    intro: String,
    table: Table,
    /// What to say instead of an empty table.
    empty: &'static str,
}

/// Everything the report shows, decided before anything is written.
struct Report {
    /// "namespace/name".
    key: String,
    title: String,
    subtitle: String,
    verdict: String,
    tone: Tone,
    headline: String,
    /// (label, value) pairs: the objectives and scope.
    facts: Vec<(&'static str, String)>,
    /// The systems in the drill, "name (tier, objective 30 min)".
    scope_systems: Vec<String>,
    /// The faults the spec plans.
    planned_faults: Vec<String>,
    /// The run's start, for offsets.
    origin: Option<Timestamp>,
    has_run: bool,
    faults: TableSection,
    chart: Option<GanttChart>,
    systems: Table,
    actions: Vec<ActionItem>,
    checks: TableSection,
    approvals: TableSection,
    timeline: TableSection,
    history: TableSection,
}

impl Report {
    fn of(drill: &RecoveryDrill) -> Report {
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
    fn moment(&self, t: Timestamp) -> (String, Option<String>) {
        let clock = match self.origin {
            Some(origin) if same_day(origin, t) => format!("{} UTC", time_of_day(t)),
            _ => full_utc(t),
        };
        let since = self
            .origin
            .map(|origin| format_since(t.as_second() - origin.as_second()));
        (clock, since)
    }

    // -------- Markdown

    fn write_markdown(&self, out: &mut String, chart: ChartLink<'_>) -> fmt::Result {
        writeln!(out, "# {}\n", md(&self.title))?;
        writeln!(out, "{}\n", md(&self.subtitle))?;
        writeln!(out, "**{}.** {}\n", md(&self.verdict), md(&self.headline))?;

        writeln!(out, "## What we rehearsed (objectives and scope)\n")?;
        for (label, value) in &self.facts {
            writeln!(out, "- **{label}:** {}", md(value))?;
        }
        if !self.scope_systems.is_empty() {
            writeln!(
                out,
                "- **Systems ({}):** {}",
                self.scope_systems.len(),
                md(&self.scope_systems.join(", "))
            )?;
        }
        writeln!(out, "- **Faults planned ({}):**", self.planned_faults.len())?;
        for fault in &self.planned_faults {
            writeln!(out, "  - {}", md(fault))?;
        }
        out.push('\n');

        if !self.has_run {
            return self.write_md_section(out, &self.history);
        }

        self.write_md_section(out, &self.faults)?;

        writeln!(out, "## How long recovery took (against each objective)\n")?;
        match (&self.chart, chart) {
            (Some(_), ChartLink::File(file)) => {
                writeln!(out, "![Gantt chart]({})\n", url_path(file))?;
                writeln!(out, "{}\n", CHART_CAPTION)?;
            }
            (Some(_), ChartLink::Note) => writeln!(out, "{GANTT_NOTE}\n")?,
            (None, _) => {}
        }
        self.write_md_table(out, &self.systems)?;

        writeln!(out, "## What needs fixing (action items)\n")?;
        if self.actions.is_empty() {
            writeln!(out, "None.\n")?;
        } else {
            for (i, item) in self.actions.iter().enumerate() {
                writeln!(out, "{}. {}", i + 1, md(&item.to_string()))?;
            }
            out.push('\n');
        }

        self.write_md_section(out, &self.checks)?;
        self.write_md_section(out, &self.approvals)?;
        self.write_md_section(out, &self.timeline)?;
        self.write_md_section(out, &self.history)
    }

    fn write_md_section(&self, out: &mut String, section: &TableSection) -> fmt::Result {
        writeln!(out, "## {} ({})\n", section.heading, section.gloss)?;
        if section.table.rows.is_empty() {
            return writeln!(out, "{}\n", section.empty);
        }
        if !section.intro.is_empty() {
            writeln!(out, "{}\n", md(&section.intro))?;
        }
        self.write_md_table(out, &section.table)
    }

    fn write_md_table(&self, out: &mut String, table: &Table) -> fmt::Result {
        let columns = table.headers.len();
        writeln!(out, "| {} |", table.headers.join(" | "))?;
        writeln!(out, "|{}", " --- |".repeat(columns))?;
        for row in &table.rows {
            out.push('|');
            for i in 0..columns {
                let text = match row.cells.get(i) {
                    Some(Cell::Text(text)) | Some(Cell::Mark(_, text)) => md(text),
                    Some(Cell::At(Some(t))) => {
                        let (clock, since) = self.moment(*t);
                        match since {
                            Some(since) => format!("{clock} ({since})"),
                            None => clock,
                        }
                    }
                    Some(Cell::At(None)) | None => String::new(),
                };
                let text = if text.trim().is_empty() {
                    "—".to_string()
                } else {
                    text
                };
                write!(out, " {text} |")?;
            }
            out.push('\n');
        }
        out.push('\n');
        Ok(())
    }

    // -------- HTML

    fn write_html(&self, out: &mut String) -> fmt::Result {
        out.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str(
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        );
        writeln!(out, "<title>{}</title>", Esc(&self.title))?;
        writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>")?;

        writeln!(out, "<header>\n<h1>Recovery drill report</h1>")?;
        writeln!(out, "<p class=\"subtitle\">{}</p>", Esc(&self.subtitle))?;
        writeln!(
            out,
            "<p id=\"headline\" class=\"headline {}\"><strong class=\"verdict\">{}.</strong> {}</p>\n</header>",
            self.tone.class(),
            Esc(&self.verdict),
            Esc(&self.headline),
        )?;

        writeln!(
            out,
            "<section id=\"scope\">\n<h2>What we rehearsed</h2>\n<dl class=\"facts\">"
        )?;
        for (label, value) in &self.facts {
            writeln!(out, "<dt>{}</dt><dd>{}</dd>", Esc(label), Esc(value))?;
        }
        if !self.scope_systems.is_empty() {
            writeln!(
                out,
                "<dt>Systems ({})</dt><dd>{}</dd>",
                self.scope_systems.len(),
                Esc(&self.scope_systems.join(", "))
            )?;
        }
        writeln!(
            out,
            "<dt>Faults planned ({})</dt><dd><ul class=\"planned\">",
            self.planned_faults.len()
        )?;
        for fault in &self.planned_faults {
            writeln!(out, "<li>{}</li>", Esc(fault))?;
        }
        writeln!(out, "</ul></dd>\n</dl>\n</section>")?;

        if self.has_run {
            self.write_html_section(out, &self.faults)?;

            writeln!(
                out,
                "<section id=\"recovery\">\n<h2>How long recovery took</h2>\n<p class=\"gloss\">Each system's recovery time runs from the moment we broke it to the moment it was checked and working again, against its recovery-time objective.</p>"
            )?;
            if let Some(chart) = &self.chart {
                writeln!(
                    out,
                    "<figure id=\"gantt\">\n{}<figcaption>{}</figcaption>\n</figure>",
                    chart.to_svg(),
                    Esc(CHART_CAPTION)
                )?;
            }
            self.write_html_table(out, &self.systems)?;
            writeln!(out, "</section>")?;

            writeln!(out, "<section id=\"actions\">\n<h2>What needs fixing</h2>")?;
            if self.actions.is_empty() {
                writeln!(
                    out,
                    "<p id=\"action-items\" class=\"none\">None. Every system came back within its objective and no check failed unexpectedly.</p>"
                )?;
            } else {
                writeln!(out, "<ol id=\"action-items\">")?;
                for item in &self.actions {
                    match item.system() {
                        Some(system) => writeln!(
                            out,
                            "<li data-system=\"{}\">{}</li>",
                            Esc(system),
                            Esc(&item.to_string())
                        )?,
                        None => writeln!(out, "<li>{}</li>", Esc(&item.to_string()))?,
                    }
                }
                writeln!(out, "</ol>")?;
            }
            writeln!(out, "</section>")?;

            self.write_html_section(out, &self.checks)?;
            self.write_html_section(out, &self.approvals)?;
            self.write_html_section(out, &self.timeline)?;
        }
        self.write_html_section(out, &self.history)?;

        writeln!(
            out,
            "<footer>Made by lifeline from the RecoveryDrill {}: its spec and the record of its runs. Times are UTC; “+m:ss” is the time since the run started.</footer>\n</body>\n</html>",
            Esc(&self.key)
        )
    }

    fn write_html_section(&self, out: &mut String, section: &TableSection) -> fmt::Result {
        writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>",
            section.id,
            Esc(section.heading)
        )?;
        if section.table.rows.is_empty() {
            writeln!(out, "<p class=\"none\">{}</p>", Esc(section.empty))?;
        } else {
            if !section.intro.is_empty() {
                writeln!(out, "<p class=\"gloss\">{}</p>", Esc(&section.intro))?;
            }
            self.write_html_table(out, &section.table)?;
        }
        writeln!(out, "</section>")
    }

    fn write_html_table(&self, out: &mut String, table: &Table) -> fmt::Result {
        writeln!(out, "<table id=\"{}\">\n<thead><tr>", table.id)?;
        for header in table.headers {
            write!(out, "<th scope=\"col\">{}</th>", Esc(header))?;
        }
        writeln!(out, "</tr></thead>\n<tbody>")?;
        for row in &table.rows {
            out.push_str("<tr");
            if let Some(system) = &row.system {
                write!(out, " data-system=\"{}\"", Esc(system))?;
            }
            if let Some(result) = row.result {
                write!(out, " data-result=\"{result}\"")?;
            }
            out.push('>');
            for cell in &row.cells {
                match cell {
                    Cell::Text(text) if text.trim().is_empty() => out.push_str("<td>—</td>"),
                    Cell::Text(text) => write!(out, "<td>{}</td>", Esc(text))?,
                    Cell::Mark(class, text) => {
                        write!(out, "<td class=\"mark {class}\">{}</td>", Esc(text))?;
                    }
                    Cell::At(None) => out.push_str("<td>—</td>"),
                    Cell::At(Some(t)) => {
                        let (clock, since) = self.moment(*t);
                        write!(
                            out,
                            "<td class=\"when\"><time datetime=\"{}\">{}</time>",
                            iso(*t),
                            Esc(&clock)
                        )?;
                        if let Some(since) = since {
                            write!(out, " <span class=\"since\">({since})</span>")?;
                        }
                        out.push_str("</td>");
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        writeln!(out, "</tbody>\n</table>")
    }
}

/// What the chart shows, under it (and under its link in Markdown).
const CHART_CAPTION: &str = "Each bar runs from when a system's restore started to when it was checked and working (red hatching: it failed; dashed: it was still down when the run ended). The diamond is its deadline: its recovery-time objective counted from when we broke it. Times are from the start of the run.";

/// The page's style: plain, readable on screen and on paper.
const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a; background: #ffffff; max-width: 1120px; margin: 0 auto; padding: 24px; line-height: 1.45; font-size: 16px; }
h1 { font-size: 1.8rem; margin: 0 0 0.25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 0.5rem; padding-bottom: 0.25rem; border-bottom: 2px solid #e0e0e0; }
.subtitle, .gloss, figcaption, footer, .since, .none { color: #595959; }
.headline { font-size: 1.2rem; padding: 12px 16px; border-left: 6px solid #757575; border-radius: 4px; background: #f5f5f5; }
.headline.good { border-color: #2e7d32; background: #e8f5e9; }
.headline.bad { border-color: #c62828; background: #ffebee; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
ul.planned { margin: 0; padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.95rem; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #e0e0e0; }
th { background: #f5f5f5; }
td.when { white-space: nowrap; }
td.when .since { display: block; }
td.mark { font-weight: bold; white-space: nowrap; }
.met, .injected, .counted { color: #1b5e20; background: #e8f5e9; }
.missed, .failed, .not-verified, .unexpected, .ignored { color: #b71c1c; background: #ffebee; }
.unmeasured, .in-progress, .automatic { color: #424242; background: #f5f5f5; }
figure { margin: 1rem 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; margin-top: 0.25rem; }
ol#action-items li { margin: 0.25rem 0; }
footer { margin-top: 2rem; font-size: 0.85rem; }
@page { margin: 15mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  tr, figure, .headline, dl.facts { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
";

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
    facts.push(("Triggered", trigger_words(&run.trigger)));
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
        run.outcome.map_or_else(
            || "not decided yet".to_string(),
            |o| format!("{} ({o})", outcome_words(o)),
        ),
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
                let mut text = s.name.clone();
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
                        Cell::text(fault_words(&f.kind)),
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
                    Cell::text(&f.name),
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
        SystemResult::NotVerified => match f.phase.as_deref() {
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
        intro: "Before staff got systems back, each release stage was approved; an ignored \
                approval did not count (the comment says why)."
            .to_string(),
        table: Table {
            id: "approvals-table",
            headers: &["Stage", "Approved by", "When", "How", "Counted", "Comment"],
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
                .map(|origin| format_since(e.at.as_second() - origin.as_second()))
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
            trigger_words(&run.trigger)
        ),
    );
    for f in &run.faults {
        add(
            f.injected_at.as_ref(),
            format!(
                "{}: fault injected: {} ({})",
                f.system,
                fault_words(&f.kind).to_lowercase(),
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
                Cell::text(trigger_words(&h.trigger)),
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

// ---------------------------------------------------------------------------------------
// Words.

fn outcome_words(outcome: DrillOutcome) -> String {
    match outcome {
        DrillOutcome::Passed => "Passed",
        DrillOutcome::ObjectivesMissed => "Objectives missed",
        DrillOutcome::Failed => "Recovery failed",
        DrillOutcome::TimedOut => "Timed out",
        DrillOutcome::Aborted => "Stopped early",
        DrillOutcome::Refused => "Could not run",
    }
    .to_string()
}

fn trigger_words(trigger: &str) -> String {
    match trigger {
        "manual" => "started by hand".to_string(),
        "schedule" => "started by its schedule".to_string(),
        other => other.to_string(),
    }
}

fn fault_words(kind: &str) -> String {
    match kind {
        "scaleToZero" => "Switched off (scaled to zero)".to_string(),
        "deletePods" => "Pods deleted".to_string(),
        "isolate" => "Cut off from the network".to_string(),
        "failCheck" => "A check made to fail".to_string(),
        other => other.to_string(),
    }
}

fn planned_fault(f: &Fault) -> String {
    let what = if let Some(s) = &f.scale_to_zero {
        if s.workloads.is_empty() {
            "switch off all its workloads (scale to zero)".to_string()
        } else {
            let names: Vec<String> = s
                .workloads
                .iter()
                .map(|w| format!("{}/{}", w.kind, w.name))
                .collect();
            format!("switch off {} (scale to zero)", names.join(", "))
        }
    } else if let Some(d) = &f.delete_pods {
        match &d.selector {
            Some(sel) => format!("delete the pods labelled {}", selector_text(sel)),
            None => "delete its pods".to_string(),
        }
    } else if let Some(i) = &f.isolate {
        let pods = match &i.selector {
            Some(sel) => format!("the pods labelled {}", selector_text(sel)),
            None => "its pods".to_string(),
        };
        match &i.duration {
            Some(d) => format!("cut {pods} off the network for {d}"),
            None => format!("cut {pods} off the network until the run ends"),
        }
    } else if let Some(c) = &f.fail_check {
        match &c.duration {
            Some(d) => format!("make the check \"{}\" fail for {d}", c.check),
            None => format!("make the check \"{}\" fail for the whole run", c.check),
        }
    } else {
        "no fault set".to_string()
    };
    format!("{}: {what}", f.system)
}

fn selection_text(drill: &RecoveryDrill) -> String {
    let systems = &drill.spec.systems;
    match (&systems.names, &systems.selector) {
        (Some(names), _) => format!("by name: {}", names.join(", ")),
        (None, Some(sel)) => format!("every ClinicalSystem labelled {}", selector_text(sel)),
        (None, None) => "none".to_string(),
    }
}

fn selector_text(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(", ");
        parts.push(if values.is_empty() {
            format!("{} {}", e.key, e.operator)
        } else {
            format!("{} {} ({values})", e.key, e.operator)
        });
    }
    if parts.is_empty() {
        "anything".to_string()
    } else {
        parts.join(", ")
    }
}

// ---------------------------------------------------------------------------------------
// The drill.

fn run_of(drill: &RecoveryDrill) -> Option<&DrillRun> {
    drill.status.as_ref().and_then(|s| s.run.as_ref())
}

fn name_of(drill: &RecoveryDrill) -> &str {
    drill.metadata.name.as_deref().unwrap_or("(unnamed)")
}

fn namespace_of(drill: &RecoveryDrill) -> &str {
    drill.metadata.namespace.as_deref().unwrap_or("default")
}

/// Whether the run has ended.
fn is_finished(run: &DrillRun) -> bool {
    run.finished_at.is_some() || run.outcome.is_some()
}

/// Every moment the run recorded.
fn all_times(run: &DrillRun) -> Vec<Timestamp> {
    let mut times: Vec<Timestamp> = [&run.started_at, &run.recovery_started_at, &run.finished_at]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .collect();
    for f in &run.faults {
        times.extend(
            [&f.injected_at, &f.proven_at, &f.lifted_at]
                .into_iter()
                .flatten()
                .map(|t| t.0),
        );
    }
    for s in &run.systems {
        times.extend(
            [
                &s.fault_at,
                &s.restore_started_at,
                &s.verified_at,
                &s.released_at,
                &s.fully_released_at,
                &s.failed_at,
            ]
            .into_iter()
            .flatten()
            .map(|t| t.0),
        );
    }
    times.extend(
        run.approvals
            .iter()
            .filter_map(|a| a.at.as_ref())
            .map(|t| t.0),
    );
    times
}

/// The run's start, or its earliest recorded moment when the start was not recorded.
fn origin(run: &DrillRun) -> Option<Timestamp> {
    run.started_at
        .as_ref()
        .map(|t| t.0)
        .or_else(|| all_times(run).into_iter().min())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A finished run of four systems: identity met its objective, lims missed it (and
    /// its recorded `recoverySeconds` is wrong on purpose), pas failed with a real failed
    /// check, epr met it through a check the drill failed on purpose. One automatic, one
    /// human and one ignored approval.
    fn fixture() -> serde_json::Value {
        json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "RecoveryDrill",
            "metadata": { "name": "core-drill", "namespace": "northern-care-staging" },
            "spec": {
                "systems": { "names": ["identity", "lims", "pas", "epr"] },
                "faults": [
                    { "system": "identity", "scaleToZero": {} },
                    { "system": "lims", "deletePods": {} },
                    { "system": "pas", "isolate": { "duration": "10m" } },
                    { "system": "epr", "failCheck": { "check": "login", "duration": "5m" } }
                ],
                "recovery": {
                    "stages": [
                        { "name": "it-validation" },
                        { "name": "pilot-ward", "approval": { "required": 1 } }
                    ]
                },
                "approvals": "automatic",
                "timeout": "2h",
                "schedule": "0 3 * * 6"
            },
            "status": {
                "phase": "Finished",
                "run": {
                    "number": 3,
                    "trigger": "schedule",
                    "startedAt": "2025-03-15T03:00:00Z",
                    "recoveryStartedAt": "2025-03-15T03:01:00Z",
                    "finishedAt": "2025-03-15T03:45:00Z",
                    "outcome": "ObjectivesMissed",
                    "reason": "1 of 4 objectives missed: lims",
                    "plan": "core-drill-run-3",
                    "faults": [
                        {
                            "system": "identity", "kind": "scaleToZero", "target": "Deployment/directory",
                            "injectedAt": "2025-03-15T03:00:05Z", "provenAt": "2025-03-15T03:00:20Z",
                            "proof": "0 pods left of 2"
                        },
                        {
                            "system": "lims", "kind": "deletePods", "target": "pods app=lims",
                            "injectedAt": "2025-03-15T03:00:06Z", "provenAt": "2025-03-15T03:00:30Z",
                            "proof": "none of the 3 deleted pods is left", "podUids": ["a", "b", "c"]
                        },
                        {
                            "system": "pas", "kind": "isolate", "target": "NetworkPolicy/lifeline-drill-pas",
                            "injectedAt": "2025-03-15T03:00:07Z", "provenAt": "2025-03-15T03:00:25Z",
                            "proof": "the check api-health failed: connection timed out",
                            "liftedAt": "2025-03-15T03:10:07Z"
                        },
                        {
                            "system": "epr", "kind": "failCheck", "target": "check login",
                            "injectedAt": "2025-03-15T03:00:08Z", "provenAt": "2025-03-15T03:00:40Z",
                            "proof": "the check failed: forced by drill core-drill",
                            "liftedAt": "2025-03-15T03:05:08Z"
                        }
                    ],
                    "systems": [
                        {
                            "name": "identity", "tier": "mission-critical", "phase": "Released",
                            "objectiveSeconds": 1800,
                            "faultAt": "2025-03-15T03:00:05Z",
                            "restoreStartedAt": "2025-03-15T03:01:00Z",
                            "verifiedAt": "2025-03-15T03:12:05Z",
                            "releasedAt": "2025-03-15T03:13:00Z",
                            "fullyReleasedAt": "2025-03-15T03:40:00Z",
                            "recoverySeconds": 720, "releaseSeconds": 775, "objectiveMet": true
                        },
                        {
                            "name": "lims", "tier": "critical", "phase": "Released",
                            "objectiveSeconds": 900,
                            "faultAt": "2025-03-15T03:00:06Z",
                            "restoreStartedAt": "2025-03-15T03:12:10Z",
                            "verifiedAt": "2025-03-15T03:26:06Z",
                            "releasedAt": "2025-03-15T03:27:00Z",
                            "fullyReleasedAt": "2025-03-15T03:40:00Z",
                            "recoverySeconds": 800, "objectiveMet": true,
                            "failedChecks": [
                                { "check": "hl7-feed", "message": "no ACK within 30s", "failures": 1,
                                  "passedInTheEnd": true, "injected": false }
                            ]
                        },
                        {
                            "name": "pas", "tier": "mission-critical", "phase": "Failed",
                            "objectiveSeconds": 1800,
                            "faultAt": "2025-03-15T03:00:07Z",
                            "restoreStartedAt": "2025-03-15T03:12:10Z",
                            "failedAt": "2025-03-15T03:20:00Z",
                            "objectiveMet": false,
                            "failedChecks": [
                                { "check": "api-health", "message": "connection refused", "failures": 5,
                                  "passedInTheEnd": false, "injected": false }
                            ]
                        },
                        {
                            "name": "epr", "tier": "mission-critical", "phase": "Verified",
                            "objectiveSeconds": 3600,
                            "faultAt": "2025-03-15T03:00:08Z",
                            "restoreStartedAt": "2025-03-15T03:12:10Z",
                            "verifiedAt": "2025-03-15T03:30:08Z",
                            "releasedAt": "2025-03-15T03:31:00Z",
                            "recoverySeconds": 1800, "objectiveMet": true,
                            "failedChecks": [
                                { "check": "login", "message": "forced by drill core-drill", "failures": 3,
                                  "passedInTheEnd": true, "injected": true }
                            ]
                        }
                    ],
                    "approvals": [
                        { "stage": "it-validation", "by": "drill auto-approval", "at": "2025-03-15T03:13:00Z",
                          "comment": "approved by the drill itself (approvals: automatic)",
                          "accepted": true, "automatic": true },
                        { "stage": "pilot-ward", "by": "mallory", "at": "2025-03-15T03:33:00Z",
                          "comment": "ignored: not in the approver groups", "accepted": false, "automatic": false },
                        { "stage": "pilot-ward", "by": "dr.jones", "at": "2025-03-15T03:35:00Z",
                          "comment": "Ward F7 happy | paper records back-entered", "accepted": true, "automatic": false }
                    ],
                    "reverted": ["Deployment/directory replicas 2"]
                },
                "history": [
                    { "number": 3, "trigger": "schedule", "startedAt": "2025-03-15T03:00:00Z",
                      "finishedAt": "2025-03-15T03:45:00Z", "outcome": "ObjectivesMissed",
                      "verified": "3/4", "objectivesMet": "2/4", "longestRecoverySeconds": 1800,
                      "reason": "1 of 4 objectives missed: lims" },
                    { "number": 2, "trigger": "manual", "startedAt": "2025-03-08T03:00:00Z",
                      "finishedAt": "2025-03-08T03:40:00Z", "outcome": "Passed",
                      "verified": "4/4", "objectivesMet": "4/4", "longestRecoverySeconds": 1500 }
                ]
            }
        })
    }

    fn drill_of(value: serde_json::Value) -> RecoveryDrill {
        serde_json::from_value(value).expect("a valid RecoveryDrill")
    }

    fn drill() -> RecoveryDrill {
        drill_of(fixture())
    }

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
                // Recorded as 800 s and met; the timestamps say 26 min against 15.
                ("lims", SystemResult::Missed { by_seconds: 660 }),
                ("pas", SystemResult::Failed),
                ("epr", SystemResult::Met),
            ]
        );
        assert_eq!(figures[1].recovery_seconds, Some(1560));
    }

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
            "lims missed its recovery-time objective: back in 26 min against 15 min \
             (11 min over). Find what slowed it down, or agree an objective it can meet."
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

    #[test]
    fn headline_counts_met_objectives_and_names_the_longest() {
        assert_eq!(
            headline(&drill()),
            "2 of 4 systems recovered within their objective; the longest took 30 min \
             against a 1 h objective. 1 system failed."
        );
        let page = html(&drill());
        assert!(page.contains(
            "<p id=\"headline\" class=\"headline bad\"><strong class=\"verdict\">Objectives missed.</strong> 2 of 4 systems"
        ));
    }

    #[test]
    fn times_are_shown_in_utc_and_since_the_start() {
        assert_eq!(format_since(0), "+0:00");
        assert_eq!(format_since(42), "+0:42");
        assert_eq!(format_since(12 * 60 + 5), "+12:05");
        assert_eq!(format_since(3723), "+1:02:03");
        assert_eq!(format_since(-5), "-0:05");
        assert_eq!(format_since(i64::MIN), "-2562047788015215:30:08");
        let md = markdown(&drill());
        // The lims fault: injected, proven, no lift.
        assert!(
            md.contains("| lims | Pods deleted | pods app=lims | 03:00:06 UTC (+0:06) | 03:00:30 UTC (+0:30) | none of the 3 deleted pods is left | — |"),
            "{md}"
        );
        assert!(md.contains("- **Started:** 2025-03-15 03:00:00 UTC"));
        assert!(md.contains("- **Finished:** 2025-03-15 03:45:00 UTC, after 45 min"));
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
            "lims: checked and working, 26 min after the fault",
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

    #[test]
    fn gantt_rows_share_the_run_clock_with_objectives_from_each_fault() {
        let chart = gantt_chart(&drill()).expect("a chart");
        assert_eq!(chart.finished_at, 45.0 * 60.0);
        let lims = &chart.rows[1];
        assert_eq!(lims.name, "northern-care-staging/lims");
        assert_eq!(lims.start, Some((12 * 60 + 10) as f64));
        assert_eq!(lims.verified, Some((26 * 60 + 6) as f64));
        // Its fault at +0:06 plus its 15 min objective.
        assert_eq!(lims.objective, (6 + 900) as f64);
        assert_eq!(lims.outcome, Outcome::Verified);
        assert_eq!(chart.rows[2].outcome, Outcome::Failed);
        assert_eq!(chart.rows[2].end, Some(20.0 * 60.0));
        // The chart flags exactly the systems the figures say missed.
        let svg = gantt_svg(&drill()).expect("an SVG");
        assert_eq!(svg.matches("data-missed=\"true\"").count(), 2);
        assert!(svg.contains("data-system=\"northern-care-staging/lims\" data-tier=\"critical\" data-outcome=\"verified\" data-missed=\"true\""));
        assert!(svg.contains("data-system=\"northern-care-staging/pas\" data-tier=\"mission-critical\" data-outcome=\"failed\" data-missed=\"true\""));
    }

    #[test]
    fn html_is_one_self_contained_page_with_the_chart_and_systems_table() {
        let page = html(&drill());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        for absent in [
            "<script", "<link", "<img", "src=", "href=", "@import", "url(http",
        ] {
            assert!(!page.contains(absent), "{absent} in the page");
        }
        let figure = &page[page.find("<figure id=\"gantt\">").expect("the figure")..];
        assert!(figure[..figure.find("</figure>").expect("closed")].contains("<svg "));
        for name in ["identity", "lims", "pas", "epr"] {
            assert_eq!(
                page.matches(&format!("<tr data-system=\"{name}\" data-result="))
                    .count(),
                1,
                "{name}"
            );
        }
        assert!(page.contains("<td class=\"mark missed\">✗ Missed by 11 min</td>"));
        assert!(page.contains("<td class=\"mark met\">✓ Met</td>"));
        assert!(page.contains("<td class=\"mark injected\">Yes, on purpose</td>"));
        assert!(page.contains("<td class=\"mark unexpected\">No: needs fixing</td>"));
        assert!(page.contains("<td class=\"mark ignored\">Ignored</td>"));
        for heading in [
            "What we broke",
            "How long recovery took",
            "What needs fixing",
        ] {
            assert!(page.contains(&format!("<h2>{heading}</h2>")), "{heading}");
        }
    }

    #[test]
    fn html_escapes_everything_from_the_object() {
        let mut value = fixture();
        let evil = "<script>alert('x')</script>";
        value["metadata"]["name"] = json!(evil);
        value["status"]["run"]["systems"][0]["name"] = json!(evil);
        value["status"]["run"]["systems"][1]["name"] = json!("lims\" onmouseover=\"alert(1)");
        value["status"]["run"]["approvals"][2]["comment"] = json!(format!("fine {evil}"));
        value["status"]["run"]["faults"][0]["proof"] = json!("<img src=x onerror=alert(1)>");
        value["status"]["run"]["reason"] = json!("& <b>bold</b>");
        let drill = drill_of(value);
        let page = html(&drill);
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>"));
        assert!(!page.contains("\" onmouseover"));
        assert!(page.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"));
        assert!(page.contains("<tr data-system=\"lims&quot; onmouseover=&quot;alert(1)\""));
        assert!(page.contains("&amp; &lt;b&gt;bold&lt;/b&gt;"));
        // Markdown passes no HTML either.
        let md = markdown(&drill);
        assert!(!md.contains("<script"));
        assert!(!md.contains("<img"));
    }

    #[test]
    fn a_drill_without_a_run_says_so() {
        let mut value = fixture();
        value["status"] = json!({ "phase": "Waiting", "message": "pas is held by drill other" });
        for drill in [drill_of(value.clone()), {
            let mut bare = value.clone();
            bare.as_object_mut().expect("an object").remove("status");
            drill_of(bare)
        }] {
            let md = markdown(&drill);
            assert!(md.contains("This drill has not run yet."), "{md}");
            assert!(!md.contains("## What we broke"));
            assert!(assert_tables_well_formed(&md) <= 1);
            let page = html(&drill);
            assert!(page.contains("This drill has not run yet."));
            assert!(!page.contains("<figure"));
            assert!(page.trim_end().ends_with("</html>"));
            assert!(system_figures(&drill).is_empty());
            assert!(action_items(&drill).is_empty());
            assert!(gantt_svg(&drill).is_none());
        }
        assert!(markdown(&drill_of(value)).contains("pas is held by drill other"));
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

    #[test]
    fn the_markdown_links_or_notes_the_chart() {
        let drill = drill();
        let noted = markdown(&drill);
        assert!(noted.contains(GANTT_NOTE));
        assert!(!noted.contains("!["));
        let linked = markdown_linking(&drill, ChartLink::File("drill report.svg"));
        assert!(linked.contains("![Gantt chart](drill%20report.svg)"));
        assert!(!linked.contains(GANTT_NOTE));
    }

    /// Every table: a header, a separator and rows, all with the same number of cells,
    /// counting only unescaped pipes. Returns how many tables there are.
    fn assert_tables_well_formed(md: &str) -> usize {
        let cells = |line: &str| {
            let mut count = 0;
            let mut escaped = false;
            for c in line.chars() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '|' if !escaped => count += 1,
                    _ => escaped = false,
                }
                if c != '\\' {
                    escaped = false;
                }
            }
            count
        };
        let lines: Vec<&str> = md.lines().collect();
        let mut i = 0;
        let mut tables = 0;
        while i < lines.len() {
            if !lines[i].starts_with('|') {
                i += 1;
                continue;
            }
            tables += 1;
            assert!(
                i > 0 && lines[i - 1].is_empty(),
                "blank line before table at {i}"
            );
            let width = cells(lines[i]);
            assert!(width >= 2, "{}", lines[i]);
            let separator = lines.get(i + 1).copied().unwrap_or_default();
            assert_eq!(
                separator,
                format!("|{}", " --- |".repeat(width - 1)),
                "separator after {}",
                lines[i]
            );
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                assert!(lines[i].ends_with(" |"), "{}", lines[i]);
                assert_eq!(cells(lines[i]), width, "{}", lines[i]);
                i += 1;
            }
            assert!(
                lines.get(i).is_none_or(|l| l.is_empty()),
                "blank line after table"
            );
        }
        tables
    }

    #[test]
    fn markdown_tables_are_well_formed() {
        let md = markdown(&drill());
        // faults, systems, checks, approvals, timeline, history
        assert_eq!(assert_tables_well_formed(&md), 6);
        assert_eq!(md.matches("\n| --- |").count(), 6);
        // The pipe in dr.jones's comment is escaped, not a column.
        assert!(md.contains("Ward F7 happy \\| paper records back-entered"));
        let mut value = fixture();
        value["status"]["run"]["systems"][0]["name"] = json!("a|b\nc\\");
        assert_eq!(assert_tables_well_formed(&markdown(&drill_of(value))), 6);
    }

    #[test]
    fn nonsense_does_not_panic() {
        let mut value = fixture();
        let run = &mut value["status"]["run"];
        // Verified before the fault, a system with no times at all, a run with no start.
        run["systems"][0]["verifiedAt"] = json!("2025-03-15T02:00:00Z");
        run["systems"][1] = json!({ "name": "" });
        run.as_object_mut().expect("an object").remove("startedAt");
        run["faults"][0]["injectedAt"] = json!("0001-01-01T00:00:00Z");
        run["approvals"][0]["at"] = json!("9999-12-30T00:00:00Z");
        let drill = drill_of(value);
        let figures = system_figures(&drill);
        assert_eq!(figures[0].recovery_seconds, None);
        assert_eq!(figures[0].result, SystemResult::Unmeasured);
        assert_eq!(figures[1].result, SystemResult::NotVerified);
        assert_eq!(assert_tables_well_formed(&markdown(&drill)), 6);
        assert!(html(&drill).contains("<figure id=\"gantt\">"));
        let empty = drill_of(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "RecoveryDrill",
            "metadata": {},
            "spec": { "systems": {}, "faults": [] },
            "status": { "run": { "number": 0, "trigger": "" } }
        }));
        assert!(markdown(&empty).contains("# Drill report: default/(unnamed), run 0"));
        assert!(html(&empty).contains("no systems were measured"));
    }
}
