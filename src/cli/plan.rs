//! `lifeline plan`: validates ClinicalSystems and a RecoveryPlan from files and prints
//! the restore order as text, JSON, Graphviz or Mermaid.

use std::{fmt::Write as _, time::Duration};

use serde_json::json;

use super::{PlanArgs, PlanOutput, Source, manifest};
use crate::{
    api::v1alpha1::format_duration,
    engine::{self, PlanModel},
};

/// Loads the files and plans them; errors name the file, object and problem.
pub(super) fn load_model(
    source: &Source,
    parallelism: Option<u32>,
) -> anyhow::Result<(Option<String>, PlanModel)> {
    let bundle = manifest::load(&source.paths, &source.namespace())?;
    let selection = bundle
        .select(source.plan.as_deref())
        .map_err(anyhow::Error::msg)?;
    let mut settings = selection.settings;
    if let Some(p) = parallelism {
        settings.parallelism = (p > 0).then_some(p);
    }
    let model = engine::plan(&selection.all, &selection.selected, settings)?;
    Ok((selection.plan, model))
}

/// `lifeline plan`.
pub(super) fn plan_cmd(args: PlanArgs) -> anyhow::Result<()> {
    let (plan, model) = load_model(&args.source, None)?;
    let out = match args.output {
        PlanOutput::Text => plan_text(plan.as_deref(), &model),
        PlanOutput::Json => {
            let v = json!({
                "waves": model.waves.iter().map(|w| w.iter().map(|&i| &model.systems[i].key).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "criticalPath": {
                    "systems": model.critical_path.systems.iter().map(|&i| &model.systems[i].key).collect::<Vec<_>>(),
                    "seconds": model.critical_path.duration.as_secs(),
                }
            });
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        PlanOutput::Dot => plan_dot(&model),
        PlanOutput::Mermaid => plan_mermaid(&model),
    };
    print!("{out}");
    Ok(())
}

fn plan_text(plan: Option<&str>, model: &PlanModel) -> String {
    let mut out = String::new();
    let n = model.systems.len();
    let _ = writeln!(
        out,
        "Restore order for {}: {n} system{}, {} wave{}",
        plan.map_or("every ClinicalSystem found".to_string(), |p| format!(
            "plan {p}"
        )),
        if n == 1 { "" } else { "s" },
        model.waves.len(),
        if model.waves.len() == 1 { "" } else { "s" },
    );
    let width = model.systems.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for (w, wave) in model.waves.iter().enumerate() {
        let _ = writeln!(out, "\nWave {}", w + 1);
        for &i in wave {
            let s = &model.systems[i];
            let deps: Vec<&str> = s
                .hard_deps
                .iter()
                .map(|&d| model.systems[d].key.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {:<width$}  {:<16}  expected {:<7} objective {:<7}{}",
                s.key,
                s.tier.as_str(),
                format_duration(s.planned_duration()),
                format_duration(s.objective),
                if deps.is_empty() {
                    String::new()
                } else {
                    format!("  after {}", deps.join(", "))
                },
            );
        }
    }
    let cp = &model.critical_path;
    let _ = writeln!(
        out,
        "\nCritical path ({}): {}",
        format_duration(cp.duration),
        cp.systems
            .iter()
            .map(|&i| model.systems[i].key.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let late: Vec<&str> = model
        .systems
        .iter()
        .filter(|s| earliest_finish(model, s) > s.objective)
        .map(|s| s.key.as_str())
        .collect();
    if !late.is_empty() {
        let _ = writeln!(
            out,
            "Cannot meet their objective even with unlimited parallelism: {}",
            late.join(", ")
        );
    }
    out
}

/// The earliest a system can be verified, with unlimited parallelism.
fn earliest_finish(model: &PlanModel, s: &engine::SystemModel) -> Duration {
    // Systems are in restore order, so a memo over indices in order works; this helper
    // is only used for small outputs, so recompute recursively with a cache.
    fn go(model: &PlanModel, i: usize, memo: &mut Vec<Option<Duration>>) -> Duration {
        if let Some(d) = memo[i] {
            return d;
        }
        let start = model.systems[i]
            .hard_deps
            .iter()
            .map(|&d| go(model, d, memo))
            .max()
            .unwrap_or(Duration::ZERO);
        let d = start + model.systems[i].planned_duration();
        memo[i] = Some(d);
        d
    }
    let mut memo = vec![None; model.systems.len()];
    model
        .find(&s.key)
        .map_or(Duration::ZERO, |i| go(model, i, &mut memo))
}

fn graph_id(i: usize) -> String {
    format!("s{i}")
}

fn plan_dot(model: &PlanModel) -> String {
    let mut out =
        String::from("digraph recovery {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (i, s) in model.systems.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{} | {}\"];",
            graph_id(i),
            s.key.replace('"', "\\\""),
            s.tier.as_str(),
            format_duration(s.planned_duration())
        );
    }
    for (i, s) in model.systems.iter().enumerate() {
        for &d in &s.hard_deps {
            let _ = writeln!(out, "  {} -> {};", graph_id(d), graph_id(i));
        }
        for &d in &s.optional_deps {
            let _ = writeln!(out, "  {} -> {} [style=dashed];", graph_id(d), graph_id(i));
        }
    }
    out.push_str("}\n");
    out
}

fn plan_mermaid(model: &PlanModel) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, s) in model.systems.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{} · {}\"]",
            graph_id(i),
            s.key.replace('"', "#quot;"),
            s.tier.as_str(),
            format_duration(s.planned_duration())
        );
    }
    for (i, s) in model.systems.iter().enumerate() {
        for &d in &s.hard_deps {
            let _ = writeln!(out, "  {} --> {}", graph_id(d), graph_id(i));
        }
        for &d in &s.optional_deps {
            let _ = writeln!(out, "  {} -.-> {}", graph_id(d), graph_id(i));
        }
    }
    out
}
