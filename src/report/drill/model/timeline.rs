//! The report's timeline: every recorded moment of the run, in order.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::{Cell, Row, Table, TableSection};
use crate::api::v1alpha1::DrillRun;
use crate::engine::time::offset_seconds;
use crate::report::drill::figures::SystemFigures;
use crate::report::drill::words::{fault_words, outcome_words, trigger_words};
use crate::report::fmt::{format_since, full_utc, human, same_day, time_of_day};

/// One line of the timeline.
pub(super) struct Event {
    pub(super) at: Timestamp,
    pub(super) text: String,
}

pub(super) fn timeline_section(
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
pub(super) fn timeline(run: &DrillRun, figures: &[SystemFigures]) -> Vec<Event> {
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
