//! `lifeline status` (optionally watching) of a RecoveryPlan. It only reads the plan;
//! rendering is a pure function ([`render_table`]) so it can be tested without a cluster.

use std::{fmt::Write as _, io::IsTerminal, time::Duration};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Client, ResourceExt,
    runtime::{
        WatchStreamExt,
        watcher::{self, Event},
    },
};

use super::error::{CtlError, kube_error};
use crate::api::v1alpha1::{
    ActionPhase, PlanPhase, RecoveryPlan, RecoveryPlanStatus, SystemPhase, SystemStatus,
    format_duration,
};

/// How often `status --watch` redraws a terminal even when the plan has not changed, so
/// the elapsed times keep moving (the operator does not write timestamp-only updates).
pub const WATCH_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// The longest check error shown in the CHECKS column; the rest is cut with "…".
const CHECK_ERROR_WIDTH: usize = 48;

/// Moves the cursor home and clears the screen.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// Output formats of [`status`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusOutput {
    /// A summary line and one row per system, for people; on a terminal it fits the
    /// terminal's width (see [`render_table_width`]).
    #[default]
    Table,
    /// The table with every column, however wide.
    Wide,
    /// The plan's `.status` as pretty JSON.
    Json,
    /// The plan's `.status` as YAML.
    Yaml,
    /// `recoveryplan.lifeline.dev/NAME`, as `kubectl get -o name` prints it.
    Name,
}

/// Prints the plan's status to `out`, as a table ([`render_table`]) or as JSON.
///
/// With `watch`, prints it again whenever the plan changes (watching only that object)
/// and returns once the plan is Succeeded, Failed or Aborted (after printing its final
/// state), or on Ctrl-C. When stdout is a terminal, a table is redrawn in place (the
/// screen is cleared first) and refreshed every [`WATCH_REFRESH_INTERVAL`] so elapsed
/// times move; otherwise each change is appended. Watching installs a Ctrl-C handler
/// for the rest of the process.
///
/// Errors: the plan does not exist ([`CtlError::PlanNotFound`]) or is deleted while
/// watched, the API refuses the request, or `out` cannot be written.
pub async fn status(
    client: Client,
    namespace: &str,
    plan: &str,
    watch: bool,
    output: StatusOutput,
    out: &mut impl std::io::Write,
) -> Result<(), CtlError> {
    status_until(client, namespace, plan, watch, false, output, out).await
}

/// [`status`], and with `until_settled` a watch also stops when the plan awaits
/// approval (nothing more happens until a person decides).
pub async fn status_until(
    client: Client,
    namespace: &str,
    plan: &str,
    watch: bool,
    until_settled: bool,
    output: StatusOutput,
    out: &mut impl std::io::Write,
) -> Result<(), CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client, namespace);
    let current = get_plan(&api, namespace, plan).await?;
    let clear = watch && output == StatusOutput::Table && std::io::stdout().is_terminal();
    print_status(&current, output, clear, out)?;
    let done = |p: &RecoveryPlan| is_final(p) || (until_settled && awaits_approval(p));
    if !watch || done(&current) {
        return Ok(());
    }
    watch_plan(&api, (namespace, plan), current, output, clear, &done, out).await
}

fn awaits_approval(plan: &RecoveryPlan) -> bool {
    plan.status
        .as_ref()
        .is_some_and(|s| s.phase == PlanPhase::AwaitingApproval)
}

/// The rest of `status --watch`, after the first print of `current`.
async fn watch_plan(
    api: &Api<RecoveryPlan>,
    (namespace, plan): (&str, &str),
    mut current: RecoveryPlan,
    output: StatusOutput,
    clear: bool,
    done: &impl Fn(&RecoveryPlan) -> bool,
    out: &mut impl std::io::Write,
) -> Result<(), CtlError> {
    let full_name = format!("{namespace}/{plan}");
    let config = watcher::Config::default().fields(&format!("metadata.name={plan}"));
    let mut events = std::pin::pin!(watcher::watcher(api.clone(), config).default_backoff());
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    // Off when no Ctrl-C handler could be installed: then only a final phase ends it.
    let mut ctrl_c_armed = true;
    let mut refresh = tokio::time::interval_at(
        tokio::time::Instant::now() + WATCH_REFRESH_INTERVAL,
        WATCH_REFRESH_INTERVAL,
    );
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether the current (re-)list has returned the plan.
    let mut listed = true;
    loop {
        let event = tokio::select! {
            signal = &mut ctrl_c, if ctrl_c_armed => match signal {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                    ctrl_c_armed = false;
                    continue;
                }
            },
            _ = refresh.tick(), if clear => {
                print_status(&current, output, clear, out)?;
                continue;
            }
            event = events.next() => event,
        };
        let changed = match event {
            // The watcher retries forever; it never ends.
            None => return Ok(()),
            Some(Err(e)) if is_permanent(&e) => {
                return Err(CtlError::Watch {
                    plan: full_name,
                    source: e,
                });
            }
            Some(Err(e)) => {
                tracing::warn!(plan = %full_name, error = %e, "watch interrupted; retrying");
                continue;
            }
            Some(Ok(Event::Init)) => {
                listed = false;
                continue;
            }
            Some(Ok(Event::InitDone)) if !listed => {
                return Err(CtlError::Deleted { plan: full_name });
            }
            Some(Ok(Event::InitDone)) => continue,
            Some(Ok(Event::Delete(_))) => return Err(CtlError::Deleted { plan: full_name }),
            Some(Ok(Event::Apply(obj) | Event::InitApply(obj))) => {
                listed = true;
                let changed = obj.resource_version() != current.resource_version();
                current = with_progress(api, obj).await?;
                changed
            }
        };
        if changed {
            print_status(&current, output, clear, out)?;
        }
        if done(&current) {
            return Ok(());
        }
    }
}

/// Whether a watch error will not go away by retrying: the plan or its API is gone, or
/// the user may not watch it.
fn is_permanent(e: &watcher::Error) -> bool {
    let code = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(code, 401 | 403 | 404)
}

/// Whether the plan has reached a phase `status --watch` stops at.
fn is_final(plan: &RecoveryPlan) -> bool {
    matches!(
        plan.status.as_ref().map(|s| s.phase),
        Some(PlanPhase::Succeeded | PlanPhase::Failed | PlanPhase::Aborted)
    )
}

/// Writes one rendering of the plan and flushes.
fn print_status(
    plan: &RecoveryPlan,
    output: StatusOutput,
    clear: bool,
    out: &mut impl std::io::Write,
) -> Result<(), CtlError> {
    let text = match output {
        StatusOutput::Table | StatusOutput::Wide => {
            // On a terminal the table fits its width, so a redraw never wraps and the
            // summary stays at the top; in a pipe nothing is cut.
            let width = (output == StatusOutput::Table && std::io::stdout().is_terminal())
                .then(|| {
                    console::Term::stdout()
                        .size_checked()
                        .map(|(_, w)| usize::from(w))
                })
                .flatten();
            let colour =
                width.is_some() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let mut text = render_table_styled(plan, Timestamp::now(), width, colour);
            text.push_str(&fit_lines(&render_release(plan), width));
            text
        }
        StatusOutput::Name => format!("recoveryplan.lifeline.dev/{}\n", plan.name_any()),
        StatusOutput::Yaml => {
            let status = status_json(&plan.status.clone().unwrap_or_default());
            serde_yaml::to_string(&status).map_err(|e| CtlError::Output {
                plan: plan_name(plan),
                source: std::io::Error::other(e),
            })?
        }
        StatusOutput::Json => {
            let status = status_json(&plan.status.clone().unwrap_or_default());
            let mut json =
                serde_json::to_string_pretty(&status).map_err(|source| CtlError::Serialize {
                    plan: plan_name(plan),
                    source,
                })?;
            json.push('\n');
            json
        }
    };
    let prefix = if clear { CLEAR_SCREEN } else { "" };
    out.write_all(prefix.as_bytes())
        .and_then(|()| out.write_all(text.as_bytes()))
        .and_then(|()| out.flush())
        .map_err(|source| CtlError::Output {
            plan: plan_name(plan),
            source,
        })
}

/// Reads the plan with its systems' progress (its RecoveryProgress shards), turning a
/// 404 into an error that names it.
pub(super) async fn get_plan(
    api: &Api<RecoveryPlan>,
    namespace: &str,
    plan: &str,
) -> Result<RecoveryPlan, CtlError> {
    let found = api
        .get(plan)
        .await
        .map_err(|e| kube_error("get", namespace, plan, e))?;
    with_progress(api, found).await
}

/// `found` with its systems' progress filled in from its RecoveryProgress shards (read
/// again until the plan and its shards go together, [`crate::controller::cluster::progress::fetch`]).
pub(super) async fn with_progress(
    api: &Api<RecoveryPlan>,
    found: RecoveryPlan,
) -> Result<RecoveryPlan, CtlError> {
    let plan = plan_name(&found);
    crate::controller::cluster::progress::fetch(&kube::Client::from(api.clone()), found)
        .await
        .map_err(|e| match e {
            crate::error::Error::Kube { source, .. } => CtlError::Kube {
                action: "read the RecoveryProgress objects of",
                plan,
                source,
            },
            other => CtlError::Kube {
                action: "read the RecoveryProgress objects of",
                plan,
                source: kube::Error::Service(Box::new(other)),
            },
        })
}

/// A plan's status as JSON, its systems' progress included.
pub fn status_json(status: &RecoveryPlanStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert(
            "systems".into(),
            serde_json::to_value(&status.systems).unwrap_or_default(),
        );
    }
    v
}

/// "namespace/name" of a plan.
pub(super) fn plan_name(plan: &RecoveryPlan) -> String {
    format!(
        "{}/{}",
        plan.namespace().unwrap_or_default(),
        plan.name_any()
    )
}

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
fn fit_lines(text: &str, width: Option<usize>) -> String {
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
                message_cell(s, &status.awaiting),
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

/// The release stages, what they await and from whom, and who approved what (with why
/// an Approval was ignored). Empty for a plan without stages.
pub fn render_release(plan: &RecoveryPlan) -> String {
    let mut out = String::new();
    let status = plan.status.clone().unwrap_or_default();
    // Manual steps waiting for people, whether or not the plan has stages.
    for line in &status.awaiting_steps {
        let _ = writeln!(out, "Awaiting: {}", one_line(&line.to_string()));
    }
    if status.awaiting_steps_not_listed > 0 {
        let _ = writeln!(
            out,
            "Awaiting: {} more manual steps (the status lists the first {})",
            status.awaiting_steps_not_listed,
            status.awaiting_steps.len()
        );
    }
    out.push_str(&render_interventions(&status));
    out.push_str(&render_data_and_hand_back(&status));
    if plan.spec.stages.is_empty() {
        return out;
    }
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    let stages: Vec<String> = plan
        .spec
        .stages
        .iter()
        .map(|st| {
            let required = st.approval.required;
            if required == 0 {
                format!("{} (automatic)", st.name)
            } else {
                format!(
                    "{} ({required} approval{})",
                    st.name,
                    if required == 1 { "" } else { "s" }
                )
            }
        })
        .collect();
    let _ = writeln!(out, "\nStages: {}", stages.join(" -> "));
    for line in &status.awaiting {
        let _ = writeln!(out, "Awaiting: {line}");
    }
    if !status.approvals.is_empty() {
        let _ = writeln!(out, "Approvals:");
        for a in &status.approvals {
            let systems: Vec<&str> = a
                .systems
                .iter()
                .map(|s| crate::api::v1alpha1::short_name(s))
                .collect();
            let _ = writeln!(
                out,
                "  {} {} {} by {}: {}{}",
                a.stage,
                a.decision,
                systems.join(", "),
                a.approver,
                a.reason,
                a.comment
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            );
        }
    }
    out
}

/// Each system's data-loss window ("Data loss:") and hand-back progress ("Hand-back:"),
/// for the systems that have them.
fn render_data_and_hand_back(status: &RecoveryPlanStatus) -> String {
    let mut out = String::new();
    let losses: Vec<_> = status
        .systems
        .iter()
        .filter_map(|s| s.data_loss.as_ref().map(|d| (s, d)))
        .collect();
    if !losses.is_empty() {
        out.push_str(
            "Data loss:
",
        );
        for (s, d) in losses {
            let _ = writeln!(
                out,
                "  {}: {}",
                crate::api::v1alpha1::short_name(&s.name),
                crate::engine::notice::data_loss_words(d)
            );
        }
    }
    let hand_back: Vec<_> = status
        .systems
        .iter()
        .filter(|s| !s.hand_back.is_empty() && !s.releases.is_empty())
        .collect();
    if !hand_back.is_empty() {
        out.push_str(
            "Hand-back:
",
        );
        for s in hand_back {
            let done = crate::engine::run::hand_back::done_count(&s.hand_back);
            let open: Vec<String> = s
                .hand_back
                .iter()
                .enumerate()
                .filter(|(_, h)| h.done_by.is_none())
                .map(|(i, h)| format!("{}. {}", i + 1, h.item))
                .collect();
            let _ = writeln!(
                out,
                "  {}: {done}/{} done{}",
                crate::api::v1alpha1::short_name(&s.name),
                s.hand_back.len(),
                if open.is_empty() {
                    String::new()
                } else {
                    format!("; to do: {}", open.join("; "))
                }
            );
        }
    }
    out
}

/// The latest interventions, who asked and when: "Interventions:" and a line each, the
/// latest five (of how many).
fn render_interventions(status: &RecoveryPlanStatus) -> String {
    const SHOWN: usize = 5;
    let all = &status.interventions;
    if all.is_empty() {
        return String::new();
    }
    let total = all.len() + status.interventions_not_listed as usize;
    let mut out = if total > SHOWN {
        format!("Interventions (latest {SHOWN} of {total}):\n")
    } else {
        "Interventions:\n".to_string()
    };
    for r in all.iter().skip(all.len().saturating_sub(SHOWN)) {
        let at =
            r.at.0
                .round(k8s_openapi::jiff::Unit::Second)
                .unwrap_or(r.at.0);
        let what = match (&r.system, &r.step) {
            (Some(system), Some(step)) => format!(
                "{} step {step} of {}",
                r.action,
                crate::api::v1alpha1::short_name(system)
            ),
            (Some(system), None) => {
                format!("{} {}", r.action, crate::api::v1alpha1::short_name(system))
            }
            _ => r.action.to_string(),
        };
        let by = if r.vouched {
            r.by.clone()
        } else {
            format!(
                "{} (not vouched: the plan was changed without an Intervention)",
                r.by
            )
        };
        let _ = writeln!(
            out,
            "  {at} {what} by {by}{}{}",
            r.reason
                .as_deref()
                .map(|c| format!(": {}", one_line(c)))
                .unwrap_or_default(),
            r.refused
                .as_deref()
                .map(|why| format!(" (refused: {})", one_line(why)))
                .unwrap_or_default()
        );
    }
    out
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
            format!("elapsed {}", human_duration(seconds_between(start.0, end)))
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
                    .map(|v| seconds_between(start.0, v.0))
            })
        } else {
            let end = match (&s.failed_at, &status.finished_at) {
                (Some(t), _) if s.phase == SystemPhase::Failed => t.0,
                (_, Some(t)) => t.0,
                _ => now,
            };
            Some(seconds_between(start.0, end))
        }
    });
    format!(
        "{}/{}",
        elapsed.map_or_else(|| "-".to_string(), human_duration),
        s.objective_seconds
            .map_or_else(|| "-".to_string(), human_duration)
    )
}

/// "2/3 passed", or the first failed check and its error.
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
    format!("{passed}/{} passed", s.checks.len())
}

/// Why a Failed, Blocked or Waiting system is where it is; empty for the others.
fn message_cell(s: &SystemStatus, awaiting: &[crate::api::v1alpha1::AwaitingStage]) -> String {
    // What a verified system waits for at its next stage, if it waits for people.
    if let Some(a) = awaiting.iter().find(|a| a.systems.contains(&s.name)) {
        let soak = s.soak.as_ref();
        let stage_before = soak.map_or("", |k| k.stage.as_str());
        return match (&a.halted, &a.soak_held, &a.soak_until) {
            (Some(reason), _, _) => one_line(&format!("held at {}: {reason}", a.stage)),
            (None, Some(why), _) => one_line(&format!("held at {stage_before}: {why}")),
            (None, None, until) => {
                let soaking = until.as_ref().map(|t| {
                    format!(
                        "soaking at {stage_before} until {}",
                        t.0.round(k8s_openapi::jiff::Unit::Second).unwrap_or(t.0)
                    )
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

/// The name without the namespace when it is `namespace`.
pub(super) fn display_name(name: &str, namespace: &str) -> String {
    match name.split_once('/') {
        Some((ns, short)) if ns == namespace => short.to_string(),
        _ => name.to_string(),
    }
}

/// Whole seconds from `from` to `to`, never negative.
fn seconds_between(from: Timestamp, to: Timestamp) -> u64 {
    crate::engine::time::seconds_between(from, to).unwrap_or(0)
}

/// Keeps a table cell on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, ending in "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A duration for the status table, written as everywhere else in lifeline
/// ([`format_duration`]: "45s", "3m20s", "1h30m") and, past ten minutes, to the minute
/// and past two days to the hour, as the table has no room for what does not matter then.
pub fn human_duration(seconds: u64) -> String {
    const TEN_MINUTES: u64 = 600;
    const TWO_DAYS: u64 = 48 * 3600;
    let shown = match seconds {
        s if s >= TWO_DAYS => s - s % 3600,
        s if s >= TEN_MINUTES => s - s % 60,
        s => s,
    };
    format_duration(Duration::from_secs(shown))
}
