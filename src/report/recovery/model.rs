//! The recovery report decided once, before anything is written: its headline, facts,
//! chart, sections and action items, from a [`Recovery`].

use k8s_openapi::jiff::Timestamp;

use super::record::{Recovery, SoakEnd, SystemSeen};
use crate::api::v1alpha1::Tier;
use crate::engine::notice::data_loss_words;
use crate::engine::time::offset_seconds;
use crate::report::fmt::{format_since, full_utc, human, plural};
use crate::report::gantt::{GanttChart, GanttRow, Outcome, Segment, SegmentKind};

/// A table row: its cells, and what it is about.
pub(super) struct Row {
    /// The system it is about, for `data-system`.
    pub(super) system: Option<String>,
    /// A class for the row's result cell ("met", "missed", ...).
    pub(super) tone: Option<&'static str>,
    /// The cells.
    pub(super) cells: Vec<String>,
}

/// A section of the report: a heading, a gloss, a table.
pub(super) struct Section {
    pub(super) id: &'static str,
    pub(super) heading: &'static str,
    pub(super) gloss: &'static str,
    pub(super) headers: &'static [&'static str],
    pub(super) rows: Vec<Row>,
    /// The column that takes each row's tone.
    pub(super) result: usize,
    pub(super) empty: &'static str,
    /// Rows left out (the timeline is cut to [`TIMELINE_ROWS`]).
    pub(super) left_out: usize,
}

/// The most timeline rows a report shows; the full record is in the evidence bundle.
pub const TIMELINE_ROWS: usize = 2000;

/// The report.
pub(super) struct Report {
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) chain: Result<String, String>,
    pub(super) headline: String,
    pub(super) good: bool,
    pub(super) facts: Vec<(&'static str, String)>,
    pub(super) chart: Option<GanttChart>,
    pub(super) actions: Vec<String>,
    pub(super) sections: Vec<Section>,
}

fn when(r: &Recovery, t: Timestamp) -> String {
    match r.origin.or(r.started) {
        Some(o) => format!("{} ({})", full_utc(t), format_since(offset_seconds(o, t))),
        None => full_utc(t),
    }
}

fn opt_when(r: &Recovery, t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), |t| when(r, t))
}

fn tier_of(s: &SystemSeen) -> Tier {
    s.tier
        .as_deref()
        .and_then(|t| serde_json::from_value(serde_json::Value::String(t.into())).ok())
        .unwrap_or(Tier::Deferrable)
}

/// What `s`'s time went on, part by part, on the chart's clock (`off`), every part from
/// the record's own entries: each attempt's restore (from `Restoring` to its steps done)
/// and verification (its checks, until verified), each run of its soaks, each wait for
/// people before a release (from the moment it was ready: verified, released at the stage
/// before, or soaked there), and each regression.
fn segments(r: &Recovery, s: &SystemSeen, off: impl Fn(Timestamp) -> f64) -> Vec<Segment> {
    let part =
        |kind, start: Timestamp, end: Option<Timestamp>, failed, note: Option<String>| Segment {
            kind,
            start: off(start),
            end: end.map(&off),
            failed,
            note,
        };
    let mut out = Vec::new();
    for a in &s.attempts {
        let stop = a.failed.or(a.cancelled);
        let restored = a.restored.or(a.verified);
        out.push(part(
            SegmentKind::Restore,
            a.started,
            restored.or(stop),
            restored.is_none() && a.failed.is_some(),
            None,
        ));
        // Checks that passed in the reconcile that saw the restore done took no time of
        // their own: no part for them.
        if let Some(from) = a.restored.filter(|r| a.verified != Some(*r)) {
            out.push(part(
                SegmentKind::Verification,
                from,
                a.verified.or(stop),
                a.verified.is_none() && a.failed.is_some(),
                None,
            ));
        }
    }
    for (i, a) in s.attempts.iter().enumerate() {
        let Some(verified) = a.verified else {
            continue;
        };
        let next = s.attempts.get(i + 1).map(|n| n.started);
        let releases: Vec<&(String, Timestamp)> = s
            .releases
            .iter()
            .filter(|(_, t)| *t >= verified && next.is_none_or(|n| *t < n))
            .collect();
        let mut ready = Some(verified);
        let mut soaked = false;
        for (k, (stage, at)) in releases.iter().enumerate() {
            if let Some(from) = ready.filter(|f| at > f) {
                out.push(part(
                    SegmentKind::Waiting,
                    from,
                    Some(*at),
                    false,
                    Some(format!("before its release at stage {stage}")),
                ));
            }
            // Ready for the next release when its soak at this stage was done.
            let before_next = releases.get(k + 1).map(|(_, t)| *t).or(next);
            let mut runs = s
                .soaks
                .iter()
                .filter(|run| &run.stage == stage && run.started >= *at)
                .filter(|run| before_next.is_none_or(|n| run.started <= n));
            soaked = false;
            ready = match runs.next_back() {
                None => Some(*at),
                Some(run) if run.end == Some(SoakEnd::Done) => {
                    soaked = true;
                    run.ended
                }
                Some(_) => None,
            };
        }
        // Still waiting at the last entry: verified and never released while the plan
        // awaits approval, or soaked at a stage (the last has no soak, so one follows).
        let waiting = (releases.is_empty() && r.phase == "AwaitingApproval") || soaked;
        if next.is_none()
            && r.finished.is_none()
            && waiting
            && matches!(s.phase.as_str(), "Verified" | "Released")
            && let Some(from) = ready
        {
            out.push(part(
                SegmentKind::Waiting,
                from,
                None,
                false,
                Some("still waiting at the last entry".into()),
            ));
        }
    }
    for run in &s.soaks {
        let how = match &run.end {
            None => String::new(),
            Some(SoakEnd::Done) => ", done".into(),
            Some(SoakEnd::Held(why)) => format!(", held: {why}"),
            Some(SoakEnd::CutShort) => ", cut short: the system left the stage".into(),
        };
        out.push(part(
            SegmentKind::Soak,
            run.started,
            run.ended,
            false,
            Some(format!("stage {}{how}", run.stage)),
        ));
    }
    for g in &s.regressions {
        out.push(part(
            SegmentKind::Regression,
            g.started,
            g.ended,
            false,
            Some(format!("check {}: {}", g.check, g.error)),
        ));
    }
    out
}

/// The run as a Gantt chart on the clock the recovery is measured from: each system's
/// restore, verification, soaks, waits for people and regressions ([`segments`]).
pub(super) fn chart(r: &Recovery) -> Option<GanttChart> {
    let origin = r.origin.or(r.started)?;
    if r.systems.iter().all(|s| s.restore_started.is_none()) {
        return None;
    }
    let off = |t: Option<Timestamp>| t.map(|t| offset_seconds(origin, t) as f64);
    let rows = r
        .systems
        .iter()
        .map(|s| {
            let outcome = if s.verified.is_some() {
                Outcome::Verified
            } else if s.phase == "Failed" {
                Outcome::Failed
            } else if s.phase == "Blocked" {
                Outcome::Blocked
            } else {
                Outcome::NotFinished
            };
            GanttRow {
                name: s.key.clone(),
                label: s.display_name.clone().unwrap_or_else(|| s.key.clone()),
                tier: tier_of(s),
                start: off(s.restore_started),
                verified: off(s.verified),
                end: off(s.failed).filter(|_| s.verified.is_none()),
                // Drawn in parts, which show each wait for people.
                released: None,
                objective: s.objective.map_or(f64::INFINITY, |o| o as f64),
                outcome,
                segments: segments(r, s, |t| offset_seconds(origin, t) as f64),
            }
        })
        .collect();
    let end = r
        .finished
        .or(r.last)
        .map_or(0.0, |t| offset_seconds(origin, t) as f64);
    Some(GanttChart {
        title: format!("Recovery {}", r.plan),
        rows,
        finished_at: end,
    })
}

fn result_of(r: &Recovery, s: &SystemSeen) -> (String, &'static str) {
    let origin = r.origin.or(r.started);
    match (s.recovery_seconds(origin), s.objective) {
        (Some(took), Some(o)) if took <= o => (
            format!("met: {} (objective {})", human(took), human(o)),
            "met",
        ),
        (Some(took), Some(o)) => (
            format!(
                "MISSED by {}: {} (objective {})",
                human(took - o),
                human(took),
                human(o)
            ),
            "missed",
        ),
        (Some(took), None) => (human(took), "unmeasured"),
        (None, _) if s.phase == "Failed" => ("failed".into(), "failed"),
        (None, _) if s.phase == "Blocked" => ("blocked".into(), "not-verified"),
        (None, _) if r.finished.is_some() => {
            (format!("not verified ({})", s.phase), "not-verified")
        }
        (None, _) => (format!("in progress ({})", s.phase), "in-progress"),
    }
}

fn data_loss_cell(s: &SystemSeen) -> (String, Option<&'static str>) {
    match &s.data_loss {
        None => ("not reported".into(), None),
        Some(d) => (
            data_loss_words(d),
            match (d.window_seconds, d.objective_met) {
                (None, _) => Some("missed"),
                (_, Some(false)) => Some("missed"),
                (_, Some(true)) => Some("met"),
                _ => None,
            },
        ),
    }
}

impl Report {
    pub(super) fn of(r: &Recovery) -> Report {
        let origin = r.origin.or(r.started);
        let verified = r.systems.iter().filter(|s| s.verified.is_some()).count();
        let missed: Vec<&SystemSeen> = r
            .systems
            .iter()
            .filter(|s| s.objective_met(origin) == Some(false))
            .collect();
        let over: Vec<&SystemSeen> = r
            .systems
            .iter()
            .filter(|s| {
                s.data_loss
                    .as_ref()
                    .is_some_and(|d| d.objective_met == Some(false) || d.window_seconds.is_none())
            })
            .collect();
        let regressions: usize = r.systems.iter().map(|s| s.regressions.len()).sum();
        let n = r.systems.len();
        let mut headline = format!(
            "{verified} of {n} system{} verified; {} of them within {} recovery-time objective",
            plural(n),
            verified - missed.len().min(verified),
            if verified == 1 { "its" } else { "their" }
        );
        if !over.is_empty() {
            headline.push_str(&format!(
                "; {} data-loss window{} over objective or unknown",
                over.len(),
                plural(over.len())
            ));
        }
        if regressions > 0 {
            headline.push_str(&format!(
                "; {regressions} regression{} after release",
                plural(regressions)
            ));
        }
        headline.push('.');
        let good = verified == n && missed.is_empty() && over.is_empty() && r.chain.is_ok();

        let chain = match &r.chain {
            Ok(()) => Ok(format!(
                "The record's hash chain verifies: {} entries, head {}.",
                r.entries, r.head
            )),
            Err(t) => Err(format!(
                "THE RECORD DOES NOT VERIFY: {t}. What follows is what the entries say, not evidence."
            )),
        };
        let mut facts = vec![
            ("Plan", r.plan.clone()),
            ("Run (uid)", r.uid.clone()),
            ("Started", opt_when(r, r.started)),
        ];
        if r.origin.is_some() && r.origin != r.started {
            facts.push(("Incident began", opt_when(r, r.origin)));
        }
        facts.push((
            "Outcome",
            match r.finished {
                Some(t) => format!("{} at {}", r.phase, when(r, t)),
                None => format!("{} (still under way at the last entry)", r.phase),
            },
        ));
        facts.push(("Record", format!("{} entries, head {}", r.entries, r.head)));

        let mut report = Report {
            title: format!("Recovery report: {}", r.plan),
            subtitle: match r.started {
                Some(t) => format!(
                    "{} · {n} system{} · made from the recovery's tamper-evident record",
                    crate::report::fmt::long_date(t),
                    plural(n)
                ),
                None => "made from the recovery's tamper-evident record".into(),
            },
            chain,
            headline,
            good,
            facts,
            chart: chart(r),
            actions: actions(r),
            sections: Vec::new(),
        };
        report.sections = vec![
            systems_section(r),
            approvals_section(r),
            interventions_section(r),
            regressions_section(r),
            hand_back_section(r),
            checks_section(r),
            timeline_section(r),
        ];
        report
    }
}

fn systems_section(r: &Recovery) -> Section {
    let rows = r
        .systems
        .iter()
        .map(|s| {
            let (result, tone) = result_of(r, s);
            let (loss, _) = data_loss_cell(s);
            Row {
                system: Some(s.key.clone()),
                tone: Some(tone),
                cells: vec![
                    match &s.display_name {
                        Some(d) => format!("{d} ({})", s.key),
                        None => s.key.clone(),
                    },
                    s.tier.clone().unwrap_or_else(|| "-".into()),
                    opt_when(r, s.restore_started),
                    opt_when(r, s.verified),
                    result,
                    loss,
                    if s.releases.is_empty() {
                        "-".into()
                    } else {
                        s.releases
                            .iter()
                            .map(|(st, t)| format!("{st} {}", when(r, *t)))
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                    s.phase.clone(),
                ],
            }
        })
        .collect();
    Section {
        id: "systems",
        result: 4,
        heading: "Systems",
        gloss: "recovery time against the recovery-time objective, data lost against the recovery-point objective",
        headers: &[
            "System",
            "Tier",
            "Restore started",
            "Verified",
            "Recovery time",
            "Data loss",
            "Released",
            "Last phase",
        ],
        rows,
        empty: "The record names no system.",
        left_out: 0,
    }
}

fn approvals_section(r: &Recovery) -> Section {
    let rows = r
        .approvals
        .iter()
        .map(|a| Row {
            system: a.systems.first().cloned(),
            tone: Some(if a.accepted { "counted" } else { "ignored" }),
            cells: vec![
                when(r, a.at),
                if a.stage.is_empty() {
                    "(manual step)".into()
                } else {
                    a.stage.clone()
                },
                if a.systems.is_empty() {
                    "the whole stage".into()
                } else {
                    a.systems.join(", ")
                },
                format!(
                    "{}{}",
                    a.approver,
                    if a.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", a.groups.join(", "))
                    }
                ),
                a.decision.clone(),
                if a.accepted {
                    "counted".into()
                } else {
                    format!("not counted: {}", a.reason)
                },
                a.comment.clone().unwrap_or_default(),
                a.acknowledged.join("; "),
            ],
        })
        .collect();
    Section {
        id: "approvals",
        result: 5,
        heading: "Approvals",
        gloss: "every Approval as the operator saw it when it decided; identities vouched for by the API server",
        headers: &[
            "Recorded",
            "Stage",
            "Systems",
            "By",
            "Decision",
            "Counted",
            "Comment",
            "Acknowledged",
        ],
        rows,
        empty: "No approvals were recorded.",
        left_out: 0,
    }
}

fn interventions_section(r: &Recovery) -> Section {
    let rows = r
        .interventions
        .iter()
        .map(|i| Row {
            system: i.system.clone(),
            tone: Some(if i.vouched { "counted" } else { "ignored" }),
            cells: vec![
                when(r, i.at),
                i.action.clone(),
                match (&i.system, &i.step) {
                    (Some(s), Some(st)) => format!("{s} step {st}"),
                    (Some(s), None) => s.clone(),
                    _ => "the plan".into(),
                },
                if i.vouched {
                    i.by.clone()
                } else {
                    format!("{} (not vouched for: the plan was edited directly)", i.by)
                },
                i.reason.clone().unwrap_or_default(),
                i.refused.clone().unwrap_or_default(),
            ],
        })
        .collect();
    Section {
        id: "interventions",
        result: 3,
        heading: "Interventions",
        gloss: "pauses, resumes, aborts, retries, restores and confirmations, with who",
        headers: &["When", "Action", "About", "By", "Reason", "Refused"],
        rows,
        empty: "Nobody intervened.",
        left_out: 0,
    }
}

fn regressions_section(r: &Recovery) -> Section {
    let mut rows = Vec::new();
    for s in &r.systems {
        for g in &s.regressions {
            rows.push(Row {
                system: Some(s.key.clone()),
                tone: Some(if g.ended.is_some() { "met" } else { "missed" }),
                cells: vec![
                    s.key.clone(),
                    g.check.clone(),
                    g.error.clone(),
                    when(r, g.started),
                    opt_when(r, g.ended),
                    g.ended
                        .and_then(|e| crate::engine::time::seconds_between(g.started, e))
                        .map_or_else(|| "still failing".into(), human),
                    if g.withdrawn {
                        "withdrawn to the verification audience".into()
                    } else {
                        "staff kept access".into()
                    },
                ],
            });
        }
    }
    Section {
        id: "regressions",
        result: 6,
        heading: "Regressions",
        gloss: "checks that failed again after the system was verified",
        headers: &[
            "System", "Check", "Error", "Began", "Ended", "Lasted", "Access",
        ],
        rows,
        empty: "No system failed again after it was verified.",
        left_out: 0,
    }
}

fn hand_back_section(r: &Recovery) -> Section {
    let mut rows = Vec::new();
    for s in &r.systems {
        for item in &s.hand_back {
            let done = s.handed_back.iter().find(|h| &h.item == item);
            rows.push(Row {
                system: Some(s.key.clone()),
                tone: Some(if done.is_some() { "met" } else { "missed" }),
                cells: vec![
                    s.key.clone(),
                    item.clone(),
                    done.map_or_else(|| "NOT DONE".into(), |h| h.by.clone()),
                    done.map_or_else(|| "-".into(), |h| when(r, h.at)),
                    done.and_then(|h| h.comment.clone()).unwrap_or_default(),
                ],
            });
        }
    }
    Section {
        id: "hand-back",
        result: 2,
        heading: "Hand-back to staff",
        gloss: "what staff had to do once each system was back, and who did it",
        headers: &["System", "Item", "Done by", "When", "Comment"],
        rows,
        empty: "No released system listed hand-back items.",
        left_out: 0,
    }
}

fn checks_section(r: &Recovery) -> Section {
    let mut rows = Vec::new();
    for s in &r.systems {
        for c in &s.checks {
            rows.push(Row {
                system: Some(s.key.clone()),
                tone: Some(if c.passing { "met" } else { "missed" }),
                cells: vec![
                    s.key.clone(),
                    c.name.clone(),
                    c.runs.to_string(),
                    opt_when(r, c.first_failed),
                    c.last_error.clone().unwrap_or_default(),
                    opt_when(r, c.passed),
                    if c.passing { "passing" } else { "FAILING" }.into(),
                ],
            });
        }
    }
    Section {
        id: "checks",
        result: 6,
        heading: "Checks",
        gloss: "what was tested, each check's first failure and last pass",
        headers: &[
            "System",
            "Check",
            "Runs",
            "First failed",
            "Last error",
            "Last passed",
            "At the end",
        ],
        rows,
        empty: "No check ran.",
        left_out: 0,
    }
}

fn timeline_section(r: &Recovery) -> Section {
    let rows: Vec<Row> = r
        .timeline
        .iter()
        .take(TIMELINE_ROWS)
        .map(|m| Row {
            system: m.system.clone(),
            tone: None,
            cells: vec![
                when(r, m.at),
                m.system.clone().unwrap_or_else(|| "plan".into()),
                m.what.clone(),
                m.seq.to_string(),
            ],
        })
        .collect();
    Section {
        id: "timeline",
        result: 0,
        heading: "Timeline",
        gloss: "what happened, in order, with each entry's number in the record",
        headers: &["When", "About", "What", "Entry"],
        left_out: r.timeline.len().saturating_sub(rows.len()),
        rows,
        empty: "Nothing was recorded.",
    }
}

/// What needs fixing, most urgent first.
fn actions(r: &Recovery) -> Vec<String> {
    let origin = r.origin.or(r.started);
    let mut out = Vec::new();
    if let Err(t) = &r.chain {
        out.push(format!(
            "The record does not verify ({t}): find out who changed it and how."
        ));
    }
    for s in &r.systems {
        if s.verified.is_none() {
            let why = s
                .step_failures
                .last()
                .map(|f| format!(": step {} failed ({})", f.step, f.message))
                .unwrap_or_default();
            out.push(format!("{} was never verified ({}){why}.", s.key, s.phase));
        }
    }
    for s in &r.systems {
        if let (Some(took), Some(o)) = (s.recovery_seconds(origin), s.objective)
            && took > o
        {
            out.push(format!(
                "{} took {} against its objective of {}: shorten its restore or review the objective.",
                s.key,
                human(took),
                human(o)
            ));
        }
    }
    for s in &r.systems {
        if let Some(d) = &s.data_loss {
            match (d.window_seconds, d.objective_met) {
                (None, _) => out.push(format!(
                    "{}'s data-loss window is unknown ({}): make its restore step report its restore point.",
                    s.key,
                    d.problem.as_deref().unwrap_or("no restore point")
                )),
                (Some(w), Some(false)) => out.push(format!(
                    "{} lost {} of data against its recovery-point objective of {}: back it up more often.",
                    s.key,
                    human(w),
                    human(d.objective_seconds.unwrap_or(0))
                )),
                _ => {}
            }
        }
    }
    for s in &r.systems {
        if !s.regressions.is_empty() {
            let checks: Vec<&str> = s.regressions.iter().map(|g| g.check.as_str()).collect();
            out.push(format!(
                "{} failed again {} time{} after it was verified (check {}): find out why it did not stay up.",
                s.key,
                s.regressions.len(),
                plural(s.regressions.len()),
                checks.join(", ")
            ));
        }
        if s.verified.is_some() && !s.failures.is_empty() {
            let why: Vec<&str> = s.failures.iter().map(|(_, m)| m.as_str()).collect();
            out.push(format!(
                "{} failed {} time{} before it came back ({}): make its restore and checks reliable.",
                s.key,
                s.failures.len(),
                plural(s.failures.len()),
                why.join("; ")
            ));
        }
        let open = s.hand_back_open();
        if !open.is_empty() && !s.releases.is_empty() {
            out.push(format!(
                "{}: hand-back not done: {}.",
                s.key,
                open.join("; ")
            ));
        }
    }
    let unvouched = r.interventions.iter().filter(|i| !i.vouched).count();
    if unvouched > 0 {
        out.push(format!(
            "{unvouched} intervention{} made by editing the plan directly, with nobody vouched for: use the lifeline commands, which record who.",
            if unvouched == 1 { " was" } else { "s were" }
        ));
    }
    out
}
