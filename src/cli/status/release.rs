//! Under the table: the manual steps and release stages awaiting people, who approved
//! what, the latest interventions, and each system's data loss and hand-back.

use std::fmt::Write as _;

use super::one_line;
use crate::api::v1alpha1::{RecoveryPlan, RecoveryPlanStatus};

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
