//! `lifeline status` (optionally watching) of a RecoveryPlan. It only reads the plan;
//! rendering is a pure function ([`render_table`]) so it can be tested without a cluster.
//!
//! The table is drawn in `table`; the release stages, approvals, interventions, data loss
//! and hand-back under it in `release`.

mod release;
mod table;

use std::{io::IsTerminal, time::Duration};

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
use crate::api::v1alpha1::{PlanPhase, RecoveryPlan, RecoveryPlanStatus, format_duration};

pub use release::render_release;
pub use table::{DROPPED_FIRST, render_table, render_table_styled, render_table_width};

use table::fit_lines;

/// How often `status --watch` redraws a terminal even when the plan has not changed, so
/// the elapsed times keep moving (the operator does not write timestamp-only updates).
pub const WATCH_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

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

/// The name without the namespace when it is `namespace`.
pub(super) fn display_name(name: &str, namespace: &str) -> String {
    match name.split_once('/') {
        Some((ns, short)) if ns == namespace => short.to_string(),
        _ => name.to_string(),
    }
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
