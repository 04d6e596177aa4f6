//! A system's release notice, pure: when a system is released at a stage, what staff and
//! the people who approved it are told: to whom it is released, what was tested, how much
//! data the restore lost, what staff must do now (`release.handBack`) and who approved it.
//! The same notice is the Event, the `SystemReleased` webhook notification, an entry of the
//! recovery record and the page `lifeline notice` prints.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use crate::api::v1alpha1::{
    ActionPhase, DataLoss, HandBackItem, RecoveryPlanStatus, Stage, SystemStatus,
};
use crate::engine::PlanModel;

/// One release notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseNotice {
    /// The plan ("namespace/name").
    pub plan: String,
    /// The system ("namespace/name").
    pub system: String,
    /// The name staff know it by.
    pub display_name: String,
    /// The stage it was released at.
    pub stage: String,
    /// To whom, in words (the stage's `audience.description`, else its name).
    pub audience: String,
    /// When.
    pub released_at: Time,
    /// What was tested: each check and whether it passed, and how many times it ran.
    pub checks: Vec<CheckedNotice>,
    /// The data-loss window, if the restore reported its restore point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<DataLoss>,
    /// What staff must do now, and what is done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hand_back: Vec<HandBackItem>,
    /// Who approved it at this stage (none for a stage that needs no approval).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
}

/// One check as a notice tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedNotice {
    /// The check's name.
    pub name: String,
    /// Whether it passes (at the time of the notice).
    pub passed: bool,
    /// How many times it has run.
    pub runs: u32,
}

/// The notice of `s` released at `stage` (the plan's stage spec, if it still has it), as
/// the plan `plan` ("namespace/name") records it in `status`.
pub fn notice(
    plan: &str,
    display_name: &str,
    stage_name: &str,
    stage: Option<&Stage>,
    s: &SystemStatus,
    status: &RecoveryPlanStatus,
) -> Option<ReleaseNotice> {
    let release = s.releases.iter().rev().find(|r| r.stage == stage_name)?;
    let mut approved_by: Vec<String> = status
        .approvals
        .iter()
        .filter(|a| a.accepted && a.stage == stage_name && a.systems.iter().any(|x| x == &s.name))
        .map(|a| a.approver.clone())
        .collect();
    approved_by.sort();
    approved_by.dedup();
    Some(ReleaseNotice {
        plan: plan.to_string(),
        system: s.name.clone(),
        display_name: if display_name.is_empty() {
            s.name.clone()
        } else {
            display_name.to_string()
        },
        stage: stage_name.to_string(),
        audience: stage
            .and_then(|st| st.audience.description.clone())
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("stage {stage_name}")),
        released_at: release.at.clone(),
        checks: s
            .checks
            .iter()
            .map(|c| CheckedNotice {
                name: c.name.clone(),
                passed: c.phase == ActionPhase::Succeeded,
                runs: c.attempts + c.reruns,
            })
            .collect(),
        data_loss: s.data_loss.clone(),
        hand_back: s.hand_back.clone(),
        approved_by,
    })
}

/// The notices of every release from `prev` to `next`: one per system and stage it was
/// newly released at.
pub fn released(
    plan: &str,
    stages: &[Stage],
    model: &PlanModel,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
) -> Vec<ReleaseNotice> {
    let mut out = Vec::new();
    for (i, s) in next.systems.iter().enumerate() {
        let before = prev.system(i, &s.name).map_or(0, |p| p.releases.len());
        let display = model
            .index
            .get(&s.name)
            .and_then(|&i| model.systems.get(i))
            .map_or("", |m| m.display_name.as_str());
        for r in s.releases.iter().skip(before) {
            let stage = stages.iter().find(|st| st.name == r.stage);
            out.extend(notice(plan, display, &r.stage, stage, s, next));
        }
    }
    out
}

/// The notice in one short paragraph, for an Event's note (which holds at most 1 KB).
pub fn summary(n: &ReleaseNotice) -> String {
    let passed = n.checks.iter().filter(|c| c.passed).count();
    let mut out = format!(
        "{} ({}) released to {} ({}); {passed}/{} checks pass",
        n.display_name,
        n.system,
        n.audience,
        n.stage,
        n.checks.len()
    );
    if let Some(d) = &n.data_loss {
        out.push_str("; ");
        out.push_str(&data_loss_words(d));
    }
    if !n.hand_back.is_empty() {
        out.push_str(&format!(
            "; hand-back: {} item{} for staff ({})",
            n.hand_back.len(),
            if n.hand_back.len() == 1 { "" } else { "s" },
            n.hand_back
                .iter()
                .map(|i| i.item.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    out
}

fn words(seconds: u64) -> String {
    crate::api::v1alpha1::format_duration(std::time::Duration::from_secs(seconds))
}

/// A data-loss window in words: "data restored to 2026-11-30T23:00:00Z, 3h 10m before
/// the incident (objective 24h: within)".
pub fn data_loss_words(d: &DataLoss) -> String {
    let objective = match (d.objective_seconds, d.objective_met) {
        (Some(o), Some(met)) => format!(
            " (objective {}: {})",
            words(o),
            if met { "within" } else { "OVER" }
        ),
        (Some(o), None) => format!(" (objective {})", words(o)),
        _ => String::new(),
    };
    match (&d.restore_point, d.window_seconds) {
        (Some(rp), Some(0)) => format!(
            "data restored to {}, after the incident began: nothing lost{objective}",
            rp.0
        ),
        (Some(rp), Some(w)) => format!(
            "data lost: {} (restored to {}, the incident began {}){objective}",
            words(w),
            rp.0,
            d.incident_at.0
        ),
        _ => format!(
            "data-loss window UNKNOWN: {}{objective}",
            d.problem.as_deref().unwrap_or("no restore point reported")
        ),
    }
}
