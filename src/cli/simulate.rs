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
        .map_or(args.source.namespace.as_str(), |(ns, _)| ns)
        .to_string();
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
    let width = model.systems.iter().map(|s| s.key.len()).max().unwrap_or(0);
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
    if let Some(pb) = &bar {
        pb.println(lines.trim_end());
        lines.clear();
    }
    let report = sim::simulate(&model, &opts, |ev, status| {
        if !text {
            return;
        }
        let line = format!(
            "  +{:<8} {:<width$}  {}",
            format_duration(Duration::from_millis((ev.at * 1000.0) as u64)),
            ev.system,
            ev.text
        );
        match &bar {
            Some(pb) => {
                pb.println(line);
                let verified = status
                    .systems
                    .iter()
                    .filter(|s| s.phase.is_verified())
                    .count();
                pb.set_position(verified as u64);
            }
            None => {
                lines.push_str(&line);
                lines.push('\n');
            }
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
            let v = json!({
                "finishedAt": report.finished_at,
                "systems": report.systems.iter().map(|s| json!({
                    "name": s.name,
                    "phase": s.phase,
                    "startedAt": s.started_at,
                    "verifiedAt": s.verified_at,
                    "fullyReleasedAt": s.fully_released_at,
                    "waitedForDecisions": s.waited_for_decisions,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SimOutput::Text => {
            print!("{lines}");
            print!("{}", summary_text(&report));
            if let Some(path) = &args.gantt {
                println!("\nGantt chart written to {}", path.display());
            }
        }
    }
    Ok(())
}

/// The summary table after a simulated run.
pub fn summary_text(report: &sim::SimReport) -> String {
    let mut out = String::new();
    let count = |p: fn(SystemPhase) -> bool| report.systems.iter().filter(|s| p(s.phase)).count();
    let verified = count(SystemPhase::is_verified);
    let failed = count(|p| p == SystemPhase::Failed);
    let blocked = count(|p| p == SystemPhase::Blocked);
    let met = report
        .systems
        .iter()
        .filter(|s| s.objective_met == Some(true))
        .count();
    let missed = report
        .systems
        .iter()
        .filter(|s| s.objective_met == Some(false))
        .count();
    let _ = writeln!(
        out,
        "\nFinished after {}: {verified} of {} verified, {failed} failed, {blocked} blocked; {met} met their recovery-time objective, {missed} missed it.\n",
        format_duration(Duration::from_millis((report.finished_at * 1000.0) as u64)),
        report.systems.len()
    );
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
        let result = match (s.objective_met, s.phase) {
            (Some(true), _) => "met".to_string(),
            (Some(false), _) => "MISSED".to_string(),
            (None, _) => s.message.clone().unwrap_or_default(),
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
