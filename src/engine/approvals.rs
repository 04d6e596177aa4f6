//! Which release stages may proceed, from the Approvals people recorded. Pure: the
//! Approvals' identities were checked by the API server (admission); this applies what
//! admission cannot see: separation of duties, the quorum of distinct people, approver
//! groups, the checklist, and rejections. Every Approval considered is recorded with the
//! reason it was accepted or ignored.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{PlanSettings, StageGate};
use crate::api::v1alpha1::{Approval, ApprovalRecord, AwaitingStage, Decision, RecoveryPlanStatus};

/// The gate of each stage and the record of every stage Approval for `plan`, created at
/// `created`. `approvals` may hold Approvals of other plans and manual-step
/// confirmations; they are skipped. Approvals count in creation order; one made before
/// the plan was created decided an earlier plan of the same name, and is ignored.
pub fn evaluate(
    plan: &str,
    created: Option<&Time>,
    requested_by: Option<&str>,
    settings: &PlanSettings,
    approvals: &[Approval],
) -> (Vec<StageGate>, Vec<ApprovalRecord>) {
    let mut mine: Vec<&Approval> = approvals
        .iter()
        .filter(|a| a.spec.plan == plan && a.spec.stage.is_some())
        .collect();
    mine.sort_by(|a, b| {
        let key = |x: &Approval| {
            (
                x.metadata.creation_timestamp.clone().map(|t| t.0),
                x.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut records = Vec::new();
    let mut gates = Vec::with_capacity(settings.stages.len());
    for stage in &settings.stages {
        let mut approvers: Vec<&str> = Vec::new();
        let mut rejected: Option<String> = None;
        for a in mine
            .iter()
            .filter(|a| a.spec.stage.as_deref() == Some(stage.name.as_str()))
        {
            let who = a.spec.approver.username.as_str();
            let rule = &stage.approval;
            let missing: Vec<&str> = stage
                .checklist
                .iter()
                .filter(|item| !a.spec.acknowledged.iter().any(|ack| ack == *item))
                .map(String::as_str)
                .collect();
            let earlier = matches!(
                (a.metadata.creation_timestamp.as_ref(), created),
                (Some(at), Some(plan_at)) if at.0 < plan_at.0
            );
            let verdict: Result<&str, String> = if earlier {
                Err("ignored: made before this plan was created (it decided an earlier plan of the same name)".into())
            } else if requested_by == Some(who) && !stage.approval.allow_requester {
                Err("ignored: approver is the plan's requester".into())
            } else if !rule.approver_groups.is_empty()
                && !a
                    .spec
                    .approver
                    .groups
                    .iter()
                    .any(|g| rule.approver_groups.contains(g))
            {
                Err(format!(
                    "ignored: approver is in none of the groups {}",
                    rule.approver_groups.join(", ")
                ))
            } else if a.spec.decision == Decision::Approve && !missing.is_empty() {
                Err(format!(
                    "ignored: checklist not acknowledged: {}",
                    missing.join("; ")
                ))
            } else if a.spec.decision == Decision::Approve && approvers.contains(&who) {
                Err("ignored: this person has already approved this stage".into())
            } else if a.spec.decision == Decision::Reject {
                Ok("rejected: the stage halts")
            } else if requested_by.is_none() && !stage.approval.allow_requester {
                Ok(
                    "accepted; the plan names no requester (spec.requestedBy), so separation of duties was not checked",
                )
            } else {
                Ok("accepted")
            };
            match &verdict {
                Ok(_) if a.spec.decision == Decision::Reject => {
                    rejected.get_or_insert_with(|| {
                        format!(
                            "rejected by {who}: {}",
                            a.spec.comment.as_deref().unwrap_or("no reason given")
                        )
                    });
                }
                Ok(_) => approvers.push(who),
                Err(_) => {}
            }
            records.push(record(a, verdict.map(str::to_string)));
        }
        gates.push(match rejected {
            Some(reason) => StageGate::Rejected(reason),
            None if approvers.len() as u32 >= stage.approval.required => StageGate::Open,
            None => StageGate::Awaiting,
        });
    }
    // A decision on a stage the plan does not have (a typo, a stage of another plan):
    // recorded, so the person sees it did not count.
    for a in mine.iter().filter(|a| {
        let stage = a.spec.stage.as_deref().unwrap_or_default();
        !settings.stages.iter().any(|s| s.name == stage)
    }) {
        let names: Vec<&str> = settings.stages.iter().map(|s| s.name.as_str()).collect();
        records.push(record(
            a,
            Err(format!(
                "ignored: the plan has no stage {} (its stages: {})",
                a.spec.stage.as_deref().unwrap_or_default(),
                names.join(", ")
            )),
        ));
    }
    (gates, records)
}

/// The record of Approval `a`: accepted (`Ok`) or ignored (`Err`), with the reason.
/// Each stage that verified systems wait at, and what it waits for: how many more
/// approvals from whom, or the rejection that halts it.
pub fn awaiting(
    settings: &PlanSettings,
    status: &RecoveryPlanStatus,
    gates: &[StageGate],
) -> Vec<AwaitingStage> {
    let mut out = Vec::new();
    for (k, stage) in settings.stages.iter().enumerate() {
        let systems: Vec<String> = status
            .systems
            .iter()
            .filter(|s| {
                s.phase.is_verified() && settings.next_stage(s.released_stage.as_deref()) == k
            })
            .map(|s| s.name.clone())
            .collect();
        if systems.is_empty() {
            continue;
        }
        let rule = &stage.approval;
        let from = match (rule.approver_groups.is_empty(), rule.allow_requester) {
            (false, _) => rule.approver_groups.join(" or "),
            (true, true) => "anyone with the approve verb".to_string(),
            (true, false) => "anyone with the approve verb but the requester".to_string(),
        };
        let entry = |needed: u32, halted: Option<String>| AwaitingStage {
            stage: stage.name.clone(),
            systems: systems.clone(),
            needed,
            required: rule.required,
            from: from.clone(),
            halted,
        };
        match gates.get(k) {
            Some(StageGate::Awaiting) | None => {
                let got = status
                    .approvals
                    .iter()
                    .filter(|a| {
                        a.stage == stage.name && a.accepted && a.decision == Decision::Approve
                    })
                    .count();
                let got = u32::try_from(got).unwrap_or(u32::MAX);
                out.push(entry(rule.required.saturating_sub(got), None));
            }
            Some(StageGate::Rejected(reason)) => out.push(entry(0, Some(reason.clone()))),
            Some(StageGate::Open) => {}
        }
    }
    out
}

fn record(a: &Approval, verdict: Result<String, String>) -> ApprovalRecord {
    let accepted = verdict.is_ok();
    ApprovalRecord {
        name: a.metadata.name.clone().unwrap_or_default(),
        stage: a.spec.stage.clone().unwrap_or_default(),
        approver: a.spec.approver.username.clone(),
        decision: a.spec.decision,
        accepted,
        reason: verdict.unwrap_or_else(|r| r),
        comment: a.spec.comment.clone(),
        at: a.metadata.creation_timestamp.clone(),
    }
}
