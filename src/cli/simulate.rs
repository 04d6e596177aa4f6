//! `lifeline simulate`: runs a plan against an in-memory cluster in virtual time (a
//! tabletop exercise) and prints the timeline, a summary and optionally a Gantt chart.

use std::{fmt::Write as _, io::IsTerminal, time::Duration};

use anyhow::{Context, bail};
use serde_json::json;

use super::{SimOutput, SimulateArgs, plan::load_model};
use crate::{
    api::v1alpha1::{SystemPhase, format_duration},
    report::gantt,
    sim,
};

/// `lifeline simulate`.
pub(super) fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<()> {
    let (plan, model) = load_model(&args.source, args.parallelism)?;
    let plan_ns = plan
        .as_deref()
        .and_then(|p| p.split_once('/'))
        .map_or_else(|| args.source.namespace(), |(ns, _)| ns.to_string());
    let mut fail = Vec::new();
    for f in &args.fail {
        let key = if f.contains('/') {
            f.clone()
        } else {
            format!("{plan_ns}/{f}")
        };
        if model.find(&key).is_none() {
            bail!("--fail {f}: {key} is not in the plan");
        }
        fail.push(key);
    }
    if !(0.0..=100.0).contains(&args.jitter) {
        bail!("--jitter {}: must be between 0 and 100", args.jitter);
    }
    let opts = sim::SimOptions {
        fail,
        seed: args.seed,
        jitter_percent: args.jitter,
        approval_delay: args.approval_delay,
    };

    let text = matches!(args.output, SimOutput::Text);
    let live = text && std::io::stderr().is_terminal();
    let total = model.systems.len() as u64;
    let bar = live.then(|| {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} verified  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let mut lines = String::new();
    if text {
        let _ = writeln!(
            lines,
            "Simulating {}: {} systems, parallelism {}, {}",
            plan.as_deref()
                .map_or("every ClinicalSystem found".to_string(), |p| format!(
                    "plan {p}"
                )),
            model.systems.len(),
            model
                .settings
                .parallelism
                .map_or("unlimited".to_string(), |p| p.to_string()),
            if opts.jitter_percent > 0.0 {
                format!("jitter ±{}% (seed {})", opts.jitter_percent, opts.seed)
            } else {
                "exact expected times".to_string()
            }
        );
        let _ = writeln!(
            lines,
            "(virtual time; approvals assumed given as soon as each stage is due)\n"
        );
    }
    let report = sim::simulate(&model, &opts, |_, status| {
        if let Some(pb) = &bar {
            let verified = status
                .systems
                .iter()
                .filter(|s| s.phase.is_verified())
                .count();
            pb.set_position(verified as u64);
        }
    });
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }

    if let Some(path) = &args.gantt {
        let chart = gantt_of(plan.as_deref(), &report);
        std::fs::write(path, chart.to_svg())
            .with_context(|| format!("write Gantt chart to {}", path.display()))?;
    }

    match args.output {
        SimOutput::Json => {
            let summary = Summary::of(&report);
            let v = json!({
                "plan": plan,
                "parameters": {
                    "parallelism": model.settings.parallelism,
                    "seed": opts.seed,
                    "jitterPercent": opts.jitter_percent,
                    "approvalDelaySeconds": opts.approval_delay.map(|d| d.as_secs_f64()),
                    "fail": opts.fail,
                },
                "finishedAt": report.finished_at,
                "summary": {
                    "systems": summary.total,
                    "verified": summary.verified,
                    "failed": summary.failed,
                    "blocked": summary.blocked,
                    "met": summary.met,
                    "missed": summary.missed,
                    "neverRecovered": summary.never_recovered,
                },
                "systems": report.systems.iter().zip(&report.status.systems).map(|(s, st)| json!({
                    "name": s.name,
                    "tier": s.tier.as_str(),
                    "objectiveSeconds": s.objective,
                    "met": s.objective_met == Some(true),
                    "phase": s.phase,
                    "startedAt": s.started_at,
                    "verifiedAt": s.verified_at,
                    "fullyReleasedAt": s.fully_released_at,
                    "waitedForDecisions": s.waited_for_decisions,
                    "blockedBy": st.blocked_by,
                    "message": s.message,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SimOutput::Text => {
            print!("{lines}");
            print!("{}", timeline_text(&report));
            print!("{}", summary_text(&report));
            if let Some(path) = &args.gantt {
                println!("\nGantt chart written to {}", path.display());
            }
        }
    }
    let summary = Summary::of(&report);
    if args.check && summary.missed > 0 {
        return Err(ObjectivesMissed {
            missed: summary.missed,
            total: summary.total,
        }
        .into());
    }
    Ok(())
}

/// `simulate --check` found objectives missed: the command exits with
/// [`ObjectivesMissed::EXIT_CODE`], so that CI of playbooks can tell it from an error.
#[derive(Debug, thiserror::Error)]
#[error("{missed} of {total} systems would miss their recovery-time objective (simulate --check)")]
pub struct ObjectivesMissed {
    /// Systems that would miss theirs, the ones that never recover included.
    pub missed: usize,
    /// Systems simulated.
    pub total: usize,
}

impl ObjectivesMissed {
    /// The exit code of `simulate --check` when an objective is missed.
    pub const EXIT_CODE: u8 = 3;
}

/// The counts of a simulated run. A system that never recovers (failed, blocked, or not
/// verified when the run ends) has missed its objective: it counts as missed.
struct Summary {
    total: usize,
    verified: usize,
    failed: usize,
    blocked: usize,
    met: usize,
    missed: usize,
    never_recovered: usize,
}

impl Summary {
    fn of(report: &sim::SimReport) -> Summary {
        let count =
            |p: &dyn Fn(&sim::SimSystem) -> bool| report.systems.iter().filter(|s| p(s)).count();
        let met = count(&|s| s.objective_met == Some(true));
        Summary {
            total: report.systems.len(),
            verified: count(&|s| s.phase.is_verified()),
            failed: count(&|s| s.phase == SystemPhase::Failed),
            blocked: count(&|s| s.phase == SystemPhase::Blocked),
            met,
            missed: report.systems.len() - met,
            never_recovered: count(&|s| s.verified_at.is_none()),
        }
    }
}

/// The timeline, one line per event, with what happened to one system at one instant
/// folded into one line (its releases through stages that need nobody), and the systems
/// one failure blocked at one instant folded into one line.
pub fn timeline_text(report: &sim::SimReport) -> String {
    let width = report
        .systems
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    let blocked_by = |name: &str| {
        report
            .status
            .systems
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.blocked_by.clone())
    };
    let mut out = String::new();
    let events = &report.timeline;
    let mut i = 0;
    while i < events.len() {
        let ev = &events[i];
        let at = format_duration(Duration::from_millis((ev.at * 1000.0) as u64));
        let plain_release = |e: &sim::TimelineEvent| {
            e.phase == SystemPhase::Released
                && e.text.starts_with("released to stage ")
                && !e.text.contains(" after ")
        };
        if plain_release(ev) {
            let mut stages = vec![ev.text.trim_start_matches("released to stage ").to_string()];
            while let Some(next) = events.get(i + stages.len()) {
                if next.at != ev.at || next.system != ev.system || !plain_release(next) {
                    break;
                }
                stages.push(
                    next.text
                        .trim_start_matches("released to stage ")
                        .to_string(),
                );
            }
            let what = if stages.len() == 1 {
                format!("released to stage {}", stages[0])
            } else {
                format!("released to stages {}", stages.join(", "))
            };
            let _ = writeln!(out, "  +{at:<8} {:<width$}  {what}", ev.system);
            i += stages.len();
            continue;
        }
        if ev.phase == SystemPhase::Blocked
            && let Some(root) = blocked_by(&ev.system)
        {
            let mut names = vec![ev.system.clone()];
            while let Some(next) = events.get(i + names.len()) {
                if next.at != ev.at
                    || next.phase != SystemPhase::Blocked
                    || blocked_by(&next.system).as_deref() != Some(root.as_str())
                {
                    break;
                }
                names.push(next.system.clone());
            }
            if names.len() > 1 {
                const SHOWN: usize = 6;
                let mut list = names
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if names.len() > SHOWN {
                    let _ = write!(list, " and {} more", names.len() - SHOWN);
                }
                let _ = writeln!(
                    out,
                    "  +{at:<8} {:<width$}  {} systems blocked by {root}: {list}",
                    "",
                    names.len()
                );
                i += names.len();
                continue;
            }
        }
        let _ = writeln!(out, "  +{at:<8} {:<width$}  {}", ev.system, ev.text);
        i += 1;
    }
    out
}

/// The summary table after a simulated run.
pub fn summary_text(report: &sim::SimReport) -> String {
    let mut out = String::new();
    let sum = Summary::of(report);
    let never = if sum.never_recovered > 0 {
        format!(" ({} of them never recovered)", sum.never_recovered)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\nFinished after {}: {} of {} verified, {} failed, {} blocked; {} met their recovery-time objective, {} missed it{never}.",
        format_duration(Duration::from_millis((report.finished_at * 1000.0) as u64)),
        sum.verified,
        sum.total,
        sum.failed,
        sum.blocked,
        sum.met,
        sum.missed,
    );
    // What each failure kept from coming back.
    for s in report
        .systems
        .iter()
        .filter(|s| s.phase == SystemPhase::Failed)
    {
        let blocked: Vec<&str> = report
            .status
            .systems
            .iter()
            .filter(|b| b.blocked_by.as_deref() == Some(s.name.as_str()))
            .map(|b| b.name.as_str())
            .collect();
        if !blocked.is_empty() {
            let _ = writeln!(
                out,
                "{} failed and blocked {} that depend on it: {}.",
                s.name,
                if blocked.len() == 1 {
                    "1 system".to_string()
                } else {
                    format!("{} systems", blocked.len())
                },
                blocked.join(", ")
            );
        }
    }
    out.push('\n');
    let width = report
        .systems
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<16}  {:<9}  {:<9}  {:<9}  RESULT",
        "SYSTEM", "TIER", "PHASE", "VERIFIED", "OBJECTIVE"
    );
    for s in &report.systems {
        let verified = s
            .verified_at
            .map(|v| format_duration(Duration::from_millis((v * 1000.0) as u64)))
            .unwrap_or_else(|| "-".to_string());
        let result = match (s.objective_met, &s.message) {
            (Some(true), _) => "met".to_string(),
            (Some(false), _) => "MISSED".to_string(),
            (None, Some(why)) => format!("MISSED, never recovered: {why}"),
            (None, None) => "MISSED, never recovered".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<16}  {:<9}  {:<9}  {:<9}  {}",
            s.name,
            s.tier.as_str(),
            s.phase.to_string(),
            verified,
            format_duration(Duration::from_secs_f64(s.objective.max(0.0))),
            result
        );
    }
    out
}

/// The Gantt chart of a simulated run.
pub fn gantt_of(plan: Option<&str>, report: &sim::SimReport) -> gantt::GanttChart {
    gantt::GanttChart {
        title: format!(
            "Simulated recovery: {}",
            plan.unwrap_or("every ClinicalSystem found")
        ),
        finished_at: report.finished_at,
        rows: report
            .systems
            .iter()
            .map(|s| gantt::GanttRow {
                name: s.name.clone(),
                label: s.display_name.clone(),
                tier: s.tier,
                start: s.started_at,
                verified: s.verified_at,
                end: s.failed_at,
                released: s.fully_released_at.filter(|_| s.waited_for_decisions > 0.0),
                segments: Vec::new(),
                objective: s.objective,
                outcome: match s.phase {
                    SystemPhase::Verified | SystemPhase::Released => gantt::Outcome::Verified,
                    SystemPhase::Failed => gantt::Outcome::Failed,
                    SystemPhase::Blocked => gantt::Outcome::Blocked,
                    _ => gantt::Outcome::NotFinished,
                },
            })
            .collect(),
    }
}
