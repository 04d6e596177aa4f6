//! The status table: a summary line and one row per system, fitted to a terminal.

use std::fmt::Write as _;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::{display_name, human_duration, one_line, plan_name, truncate};
use crate::api::v1alpha1::{
    ActionPhase, PlanPhase, RecoveryPlan, RecoveryPlanStatus, SystemPhase, SystemStatus,
};
use crate::engine::time::seconds_between;

/// The longest check error shown in the CHECKS column; the rest is cut with "…".
const CHECK_ERROR_WIDTH: usize = 48;

/// The plan's status for people, as of `now`: a summary line (phase, verified/total,
/// current stage, elapsed since the run started), then one row per system with SYSTEM,
/// TIER, PHASE, STEP, ELAPSED/OBJECTIVE, CHECKS and MESSAGE.
///
/// System names are shown without the namespace when it is the plan's. ELAPSED counts
/// from the start of the run (what the recovery-time objective is measured against) to
/// `verifiedAt`, or to the failure, the end of the run, or `now`.
pub fn render_table(plan: &RecoveryPlan, now: Timestamp) -> String {
    render_table_width(plan, now, None)
}

/// The columns [`render_table_width`] drops, in this order, when the table is wider than
/// the terminal: CHECKS, then STEP, then TIER. SYSTEM, PHASE, ELAPSED/OBJECTIVE and
/// MESSAGE stay; MESSAGE is then cut to fit (ending in "…"), and so is any line still too
/// wide.
pub const DROPPED_FIRST: [&str; 3] = ["CHECKS", "STEP", "TIER"];

/// Each line of `text` cut to `width` characters (ending in "…"); all of it without one.
pub(super) fn fit_lines(text: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&cut(line, width));
        out.push('\n');
    }
    out
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// [`render_table`] fitted to `width` columns of a terminal (see [`DROPPED_FIRST`]); no
/// width: every column, nothing cut.
pub fn render_table_width(plan: &RecoveryPlan, now: Timestamp, width: Option<usize>) -> String {
    render_table_styled(plan, now, width, false)
}

/// The symbol and the ANSI colour of a phase on a terminal: green for a system that is
/// back, red for one that failed or is blocked, yellow for one degraded or held.
fn phase_style(phase: SystemPhase) -> Option<(&'static str, &'static str)> {
    match phase {
        SystemPhase::Verified | SystemPhase::Released => Some(("✓", "32")),
        SystemPhase::Failed | SystemPhase::Blocked => Some(("✗", "31")),
        SystemPhase::Degraded | SystemPhase::Held => Some(("!", "33")),
        _ => None,
    }
}

/// [`render_table_width`], with `colour`: each phase with its symbol and colour (see
/// [`phase_style`]), for a terminal; without, plain text for a pipe or `NO_COLOR`.
pub fn render_table_styled(
    plan: &RecoveryPlan,
    now: Timestamp,
    width: Option<usize>,
    colour: bool,
) -> String {
    let namespace = plan.namespace().unwrap_or_default();
    let empty = RecoveryPlanStatus::default();
    let status = plan.status.as_ref().unwrap_or(&empty);
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(plan, status, now));
    for c in &status.conditions {
        if c.type_ == crate::api::v1alpha1::conditions::READY && c.status == "False" {
            let _ = writeln!(out, "Not ready ({}): {}", c.reason, one_line(&c.message));
        }
    }
    out.push('\n');
    if status.systems.is_empty() {
        out.push_str("No systems yet: the operator has not looked at this plan.\n");
        return out;
    }
    let header = [
        "SYSTEM",
        "TIER",
        "PHASE",
        "STEP",
        "ELAPSED/OBJECTIVE",
        "CHECKS",
        "MESSAGE",
    ];
    let rows: Vec<[String; 7]> = status
        .systems
        .iter()
        .map(|s| {
            [
                display_name(&s.name, &namespace),
                s.tier
                    .map_or_else(|| "-".to_string(), |t| t.as_str().to_string()),
                match phase_style(s.phase).filter(|_| colour) {
                    Some((symbol, _)) => format!("{symbol} {}", phase_cell(s)),
                    None => phase_cell(s),
                },
                step_cell(s),
                elapsed_cell(s, status, now),
                checks_cell(s),
                message_cell(s, &status.awaiting, now),
            ]
        })
        .collect();
    let mut shown: Vec<usize> = (0..header.len()).collect();
    let widths_of = |shown: &[usize]| -> Vec<usize> {
        shown
            .iter()
            .map(|&c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    };
    const GAP: usize = 3;
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    let mut widths = widths_of(&shown);
    if let Some(max) = width {
        for drop in DROPPED_FIRST {
            if total(&widths) <= max {
                break;
            }
            shown.retain(|&c| header[c] != drop);
            widths = widths_of(&shown);
        }
        // Still too wide: SYSTEM and PHASE give up characters (the widest first, to
        // no less than MIN_CUT_COLUMN each) until MESSAGE has MIN_MESSAGE.
        const MIN_CUT_COLUMN: usize = 12;
        const MIN_MESSAGE: usize = 20;
        let message_width = widths.last().copied().unwrap_or(0).min(MIN_MESSAGE);
        loop {
            let last = widths.len().saturating_sub(1);
            let without_message = total(&widths[..last]) + GAP;
            if without_message + message_width <= max {
                break;
            }
            let widest = shown
                .iter()
                .enumerate()
                .filter(|(_, c)| matches!(header[**c], "SYSTEM" | "PHASE"))
                .map(|(i, _)| i)
                .max_by_key(|&i| widths[i]);
            match widest {
                Some(i) if widths[i] > MIN_CUT_COLUMN => widths[i] -= 1,
                _ => break,
            }
        }
        // The last column (MESSAGE) takes what is left.
        if let Some(last) = widths.len().checked_sub(1) {
            let others = total(&widths[..last]) + GAP;
            widths[last] = widths[last].min(max.saturating_sub(others).max(header[6].len()));
        }
    }
    let phase_column = shown.iter().position(|&c| header[c] == "PHASE");
    let mut push_row = |cells: Vec<&str>, style: Option<&str>| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let cell = cut(cell, *w);
            let pad = w - cell.chars().count() + GAP;
            match style.filter(|_| Some(i) == phase_column) {
                Some(code) => line.push_str(&format!("\u{1b}[{code}m{cell}\u{1b}[0m")),
                None => line.push_str(&cell),
            }
            if i + 1 < cells.len() {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let line = line.trim_end();
        // A styled line is already within the width: its columns were fitted.
        out.push_str(&match (width, style) {
            (Some(w), None) => cut(line, w),
            _ => line.to_string(),
        });
        out.push('\n');
    };
    push_row(shown.iter().map(|&c| header[c]).collect(), None);
    for (row, s) in rows.iter().zip(&status.systems) {
        let style = phase_style(s.phase)
            .filter(|_| colour)
            .map(|(_, code)| code);
        push_row(shown.iter().map(|&c| row[c].as_str()).collect(), style);
    }
    match width {
        Some(w) => {
            // The summary and conditions above the table fit too.
            let (head, table) = out.split_at(out.find("\n\n").map_or(0, |i| i + 1));
            let mut fitted = fit_lines(head, Some(w));
            fitted.push_str(table);
            fitted
        }
        None => out,
    }
}

/// "recoveryplan ns/name: Running, 3/7 verified, stage pilot-ward, elapsed 12m".
fn summary_line(plan: &RecoveryPlan, status: &RecoveryPlanStatus, now: Timestamp) -> String {
    let mut phase = status.phase.to_string();
    let requested = if plan.spec.abort && status.phase != PlanPhase::Aborted {
        Some("abort requested")
    } else if plan.spec.paused && status.phase != PlanPhase::Paused {
        Some("pause requested")
    } else if !plan.spec.paused && status.phase == PlanPhase::Paused {
        Some("resume requested")
    } else {
        None
    };
    if let Some(r) = requested {
        let _ = write!(phase, " ({r})");
    }
    let progress = status.progress.clone().unwrap_or_else(|| {
        let verified = status
            .systems
            .iter()
            .filter(|s| s.phase.is_verified())
            .count();
        format!("{verified}/{}", status.systems.len())
    });
    let stage = status.current_stage.as_deref().map_or_else(
        || "no stage released yet".to_string(),
        |s| format!("stage {s}"),
    );
    let elapsed = match &status.started_at {
        Some(start) => {
            let end = status.finished_at.as_ref().map_or(now, |t| t.0);
            format!(
                "elapsed {}",
                human_duration(seconds_between(start.0, end).unwrap_or(0))
            )
        }
        None => "not started".to_string(),
    };
    format!(
        "recoveryplan {}: {phase}, {progress} verified, {stage}, {elapsed}",
        plan_name(plan)
    )
}

/// The phase, with the stage for a released system.
fn phase_cell(s: &SystemStatus) -> String {
    match (&s.phase, &s.released_stage) {
        (SystemPhase::Released, Some(stage)) => format!("Released ({stage})"),
        (SystemPhase::Degraded, Some(stage)) => format!("Degraded ({stage})"),
        (SystemPhase::Held, _) => match &s.held_by {
            Some(by) => format!("Held ({})", by.phase),
            None => "Held".to_string(),
        },
        (phase, _) => phase.to_string(),
    }
}

/// The running step, else the failed one, else the last one started.
fn step_cell(s: &SystemStatus) -> String {
    let by_phase = |p: ActionPhase| s.steps.iter().find(|st| st.phase == p);
    by_phase(ActionPhase::Running)
        .or_else(|| by_phase(ActionPhase::Failed))
        .or_else(|| {
            s.steps
                .iter()
                .rev()
                .find(|st| st.phase != ActionPhase::Pending)
        })
        .map_or_else(|| "-".to_string(), |st| one_line(&st.name))
}

/// "12m/30m": time since the run started, against the objective.
fn elapsed_cell(s: &SystemStatus, status: &RecoveryPlanStatus, now: Timestamp) -> String {
    let origin = status.measured_from.as_ref().or(status.started_at.as_ref());
    let elapsed = origin.and_then(|start| {
        if s.phase.is_verified() {
            s.recovery_seconds.or_else(|| {
                s.verified_at
                    .as_ref()
                    .map(|v| seconds_between(start.0, v.0).unwrap_or(0))
            })
        } else {
            let end = match (&s.failed_at, &status.finished_at) {
                (Some(t), _) if s.phase == SystemPhase::Failed => t.0,
                (_, Some(t)) => t.0,
                _ => now,
            };
            Some(seconds_between(start.0, end).unwrap_or(0))
        }
    });
    format!(
        "{}/{}",
        elapsed.map_or_else(|| "-".to_string(), human_duration),
        s.objective_seconds
            .map_or_else(|| "-".to_string(), human_duration)
    )
}

/// "2/3 passed" (and why a check was not tried, when one could not be), or the first
/// failed check and its error.
fn checks_cell(s: &SystemStatus) -> String {
    if s.checks.is_empty() {
        return "-".to_string();
    }
    let mut failed = s.checks.iter().filter(|c| c.phase == ActionPhase::Failed);
    if let Some(first) = failed.next() {
        let error = first
            .last_error
            .as_deref()
            .map_or_else(|| "no error recorded".to_string(), one_line);
        let more = failed.count();
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        return format!(
            "{} failed: {}{more}",
            one_line(&first.name),
            truncate(&error, CHECK_ERROR_WIDTH)
        );
    }
    let passed = s
        .checks
        .iter()
        .filter(|c| c.phase == ActionPhase::Succeeded)
        .count();
    // A check that could not be tried (the API server did not answer) says why.
    match s
        .checks
        .iter()
        .find_map(|c| Some((c, c.message.as_deref()?)))
    {
        Some((c, why)) => format!(
            "{passed}/{} passed; {} not tried: {}",
            s.checks.len(),
            one_line(&c.name),
            truncate(&one_line(why), CHECK_ERROR_WIDTH)
        ),
        None => format!("{passed}/{} passed", s.checks.len()),
    }
}

/// Why a Failed, Blocked or Waiting system is where it is, and what a verified one waits
/// for (approvals, or its soak's time left as of `now`); empty for the others.
fn message_cell(
    s: &SystemStatus,
    awaiting: &[crate::api::v1alpha1::AwaitingStage],
    now: Timestamp,
) -> String {
    // What a verified system waits for at its next stage, if it waits for people.
    if let Some(a) = awaiting.iter().find(|a| a.systems.contains(&s.name)) {
        let soak = s.soak.as_ref();
        let stage_before = soak.map_or("", |k| k.stage.as_str());
        return match (&a.halted, &a.soak_held, &a.soak_until) {
            (Some(reason), _, _) => one_line(&format!("held at {}: {reason}", a.stage)),
            (None, Some(why), _) => one_line(&format!("held at {stage_before}: {why}")),
            (None, None, until) => {
                let soaking = until.as_ref().map(|t| match seconds_between(now, t.0) {
                    Some(left) if left > 0 => {
                        format!("soaking at {stage_before}, {} left", human_duration(left))
                    }
                    _ => format!("soaking at {stage_before}, ending"),
                });
                match (a.needed, soaking) {
                    (0, Some(soaking)) => soaking,
                    (needed, soaking) => format!(
                        "awaits {needed} more approval{} for {}{}",
                        if needed == 1 { "" } else { "s" },
                        a.stage,
                        soaking.map(|s| format!("; {s}")).unwrap_or_default()
                    ),
                }
            }
        };
    }
    let message = match s.phase {
        SystemPhase::Failed => s.message.clone().or_else(|| {
            s.steps
                .iter()
                .find(|st| st.phase == ActionPhase::Failed)
                .and_then(|st| st.message.clone())
        }),
        SystemPhase::Blocked => s
            .message
            .clone()
            .or_else(|| s.blocked_by.as_ref().map(|b| format!("blocked by {b}"))),
        SystemPhase::Waiting | SystemPhase::Degraded | SystemPhase::Held => s.message.clone(),
        _ => s.at_risk.as_ref().map(|r| format!("at risk: {r}")),
    };
    message.as_deref().map(one_line).unwrap_or_default()
}
