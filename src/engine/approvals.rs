//! Which systems may be released at which stage, from the Approvals people recorded. A
//! stage decision is about the systems it names: a system verified later waits for one
//! that names it. Pure: the Approvals' identities were checked by the API server
//! (admission); this applies what admission cannot see, per system: separation of duties,
//! the quorum of distinct people, approver groups, the checklist, and rejections (which
//! hold only the systems they name, until the stage's quorum approves them again). Every
//! Approval considered is recorded with what it decided and why.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{PlanSettings, StageGate};
use crate::api::v1alpha1::{Approval, ApprovalRecord, AwaitingStage, Decision, RecoveryPlanStatus};

/// What the Approvals of a plan decide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Per stage, the gate of a system no Approval names: open for a stage that needs no
    /// approval, awaiting for one that does.
    pub gates: Vec<StageGate>,
    /// Per stage and system ("namespace/name") named by an Approval: its gate.
    pub system_gates: BTreeMap<(usize, String), StageGate>,
    /// Per stage and system: who approved it, since its last rejection.
    pub approvers: BTreeMap<(usize, String), Vec<String>>,
    /// Per stage and system: how many of those approvals count towards the quorum (all
    /// of them, or with `distinctGroups` as many as can each stand for another group).
    pub counted: BTreeMap<(usize, String), u32>,
    /// Every stage Approval of the plan that counts, and the latest ignored ones (at
    /// most [`IGNORED_LISTED`]), with what each decided.
    pub records: Vec<ApprovalRecord>,
    /// Ignored Approvals not in `records`.
    pub not_listed: u32,
}

impl Evaluation {
    /// The gate of system `key` at stage `k`.
    pub fn gate(&self, k: usize, key: &str) -> &StageGate {
        super::run::decide::gate_of(&self.gates, &self.system_gates, k, key)
    }
}

/// The plan's key of a system an Approval in `namespace` names: "namespace/name", or the
/// name as given when it names a namespace.
pub fn system_key(namespace: &str, name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// The plan whose Approvals are weighed.
#[derive(Clone, Copy, Debug)]
pub struct PlanFacts<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its uid, when it has one.
    pub uid: Option<&'a str>,
    /// Its namespace.
    pub namespace: &'a str,
    /// When it was created.
    pub created: Option<&'a Time>,
    /// `spec.requestedBy`.
    pub requested_by: Option<&'a str>,
    /// Systems ("namespace/name") whose gate was reset under the plan, when, and why (its
    /// `spec.release` changed, or it was withdrawn for a regression): an Approval made
    /// until then (to the second) decided the gate as it was, and counts no more for them.
    pub regated: &'a [(String, Time, String)],
}

impl<'a> PlanFacts<'a> {
    /// What of `plan` weighs the confirmations of its manual steps: its name, uid,
    /// namespace and creation (the requester and reset gates are about stages).
    pub fn confirming(plan: &'a crate::api::v1alpha1::RecoveryPlan) -> Self {
        Self {
            name: plan.metadata.name.as_deref().unwrap_or_default(),
            uid: plan.metadata.uid.as_deref(),
            namespace: plan.metadata.namespace.as_deref().unwrap_or_default(),
            created: plan.metadata.creation_timestamp.as_ref(),
            requested_by: None,
            regated: &[],
        }
    }
}

/// The most ignored Approvals a plan's status lists; the rest are counted.
pub const IGNORED_LISTED: usize = 20;
/// The most of an approver's comment a record in status keeps (the Approval keeps it all).
pub const COMMENT_LIMIT: usize = 512;

/// `text` cut to `limit` bytes at a character boundary, ending in "…" when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Per stage and system, how far its Approvals have got.
#[derive(Default)]
struct Tally {
    approvers: Vec<String>,
    /// Each approver's groups that count at the stage, in step with `approvers`.
    groups: Vec<Vec<String>>,
    rejected: Option<String>,
}

/// The most approvers that can each stand for a different group: a maximum matching
/// of approvers to their groups (Kuhn's augmenting paths; a quorum is at most 10).
pub fn distinct_group_count(groups: &[Vec<String>]) -> u32 {
    fn assign(
        i: usize,
        groups: &[Vec<String>],
        seen: &mut Vec<String>,
        owner: &mut BTreeMap<String, usize>,
    ) -> bool {
        for g in &groups[i] {
            if seen.contains(g) {
                continue;
            }
            seen.push(g.clone());
            let free = match owner.get(g) {
                None => true,
                Some(&j) => assign(j, groups, seen, owner),
            };
            if free {
                owner.insert(g.clone(), i);
                return true;
            }
        }
        false
    }
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = 0;
    for i in 0..groups.len() {
        if assign(i, groups, &mut Vec::new(), &mut owner) {
            count += 1;
        }
    }
    count
}

/// What the stage Approvals of `plan` in `namespace` (created at `created`) decide for
/// its `systems` ("namespace/name"). `approvals` may hold Approvals of other plans and
/// manual-step confirmations; they are skipped. Approvals count in creation order; one
/// made before the plan was created decided an earlier plan of the same name, and is
/// ignored. Kubernetes records creation to the second: within one second a rejection
/// counts after the approvals, so only an approval made in a later second can lift it.
pub fn evaluate(
    plan: &PlanFacts<'_>,
    settings: &PlanSettings,
    systems: &[String],
    approvals: &[Approval],
) -> Evaluation {
    let PlanFacts {
        name: plan,
        uid: plan_uid,
        namespace,
        created,
        requested_by,
        regated,
    } = *plan;
    let mut mine: Vec<&Approval> = approvals
        .iter()
        .filter(|a| a.spec.plan == plan && a.spec.stage.is_some())
        .collect();
    mine.sort_by(|a, b| {
        let key = |x: &Approval| {
            (
                x.metadata.creation_timestamp.clone().map(|t| t.0),
                x.spec.decision == Decision::Reject,
                x.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out = Evaluation::default();
    for (k, stage) in settings.stages.iter().enumerate() {
        let rule = &stage.approval;
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        for a in mine
            .iter()
            .filter(|a| a.spec.stage.as_deref() == Some(stage.name.as_str()))
        {
            let who = a.spec.approver.username.as_str();
            let named: Vec<String> = a
                .spec
                .systems
                .iter()
                .map(|n| system_key(namespace, n))
                .collect();
            let missing: Vec<&str> = stage
                .checklist
                .iter()
                .filter(|item| !a.spec.acknowledged.iter().any(|ack| ack == *item))
                .map(String::as_str)
                .collect();
            let other_plan = matches!(
                (a.spec.plan_uid.as_deref(), plan_uid),
                (Some(named), Some(uid)) if named != uid
            );
            // An Approval naming this plan's uid was made for it; without the uid, only one
            // made in a later second than the plan can be told from a decision about an
            // earlier plan of the same name (Kubernetes records creation to the second).
            let names_uid = plan_uid.is_some() && a.spec.plan_uid.as_deref() == plan_uid;
            let when = match (a.metadata.creation_timestamp.as_ref(), created) {
                (Some(at), Some(plan_at)) => Some(at.0.as_second().cmp(&plan_at.0.as_second())),
                _ => None,
            };
            let refused: Option<String> = if other_plan {
                Some("ignored: it names another plan of this name (spec.planUid)".into())
            } else if !names_uid && when == Some(std::cmp::Ordering::Less) {
                Some("ignored: made before this plan was created (it decided an earlier plan of the same name)".into())
            } else if !names_uid && when == Some(std::cmp::Ordering::Equal) {
                Some("ignored: made in the second this plan was created, without spec.planUid, so it cannot be told from a decision about an earlier plan of the same name; record it again (lifeline approve names the plan's uid)".into())
            } else if requested_by == Some(who)
                && !rule.allow_requester
                && a.spec.decision == Decision::Approve
            {
                Some("ignored: approver is the plan's requester".into())
            } else if !rule.approver_groups.is_empty()
                && !a
                    .spec
                    .approver
                    .groups
                    .iter()
                    .any(|g| rule.approver_groups.contains(g))
            {
                Some(format!(
                    "ignored: approver is in none of the groups {}",
                    rule.approver_groups.join(", ")
                ))
            } else if a.spec.decision == Decision::Approve && !missing.is_empty() {
                Some(format!(
                    "ignored: checklist not acknowledged: {}",
                    missing.join("; ")
                ))
            } else if named.is_empty() {
                Some("ignored: it names no system (spec.systems)".into())
            } else {
                None
            };
            if let Some(why) = refused {
                out.records.push(record(a, named, Err(why)));
                continue;
            }
            let mut decided: Vec<&str> = Vec::new();
            let mut passed_over: Vec<String> = Vec::new();
            for key in &named {
                if !systems.contains(key) {
                    passed_over.push(format!("{key} is not a system of this plan"));
                    continue;
                }
                let stale = regated.iter().find(|(k, changed, _)| {
                    k == key
                        && a.metadata
                            .creation_timestamp
                            .as_ref()
                            .is_none_or(|at| at.0.as_second() <= changed.0.as_second())
                });
                if let Some((_, _, why)) = stale {
                    passed_over.push(format!(
                        "made before {why}, so it decided the gate as it was"
                    ));
                    continue;
                }
                let tally = tallies.entry(key.clone()).or_default();
                match a.spec.decision {
                    Decision::Approve if tally.approvers.iter().any(|p| p == who) => {
                        passed_over.push(format!("{who} has already approved {key} at this stage"));
                    }
                    Decision::Approve => {
                        tally.approvers.push(who.to_string());
                        tally.groups.push(
                            a.spec
                                .approver
                                .groups
                                .iter()
                                .filter(|g| *g != "system:authenticated")
                                .filter(|g| {
                                    rule.approver_groups.is_empty()
                                        || rule.approver_groups.contains(g)
                                })
                                .cloned()
                                .collect(),
                        );
                        decided.push(key);
                    }
                    Decision::Reject => {
                        tally.rejected = Some(format!(
                            "rejected by {who}: {}",
                            truncate(
                                a.spec.comment.as_deref().unwrap_or("no reason given"),
                                COMMENT_LIMIT
                            )
                        ));
                        // Lifted only by the quorum again, from decisions made after it.
                        tally.approvers.clear();
                        tally.groups.clear();
                        decided.push(key);
                    }
                }
            }
            let verdict = if decided.is_empty() {
                Err(format!("ignored: {}", passed_over.join("; ")))
            } else {
                let mut why = match a.spec.decision {
                    Decision::Reject => {
                        format!("rejected: holds {} at this stage", decided.join(", "))
                    }
                    Decision::Approve if passed_over.is_empty() => "accepted".to_string(),
                    Decision::Approve => format!("accepted for {}", decided.join(", ")),
                };
                if !passed_over.is_empty() {
                    why.push_str(&format!(
                        "; ignored for the rest: {}",
                        passed_over.join("; ")
                    ));
                }
                if requested_by.is_none()
                    && !rule.allow_requester
                    && a.spec.decision == Decision::Approve
                {
                    why.push_str("; the plan names no requester (spec.requestedBy), so separation of duties was not checked");
                }
                Ok(why)
            };
            out.records.push(record(a, named, verdict));
        }
        out.gates.push(if rule.required == 0 {
            StageGate::Open
        } else {
            StageGate::Awaiting
        });
        for (key, tally) in tallies {
            let counted = if rule.distinct_groups {
                distinct_group_count(&tally.groups)
            } else {
                u32::try_from(tally.approvers.len()).unwrap_or(u32::MAX)
            };
            let quorum = counted >= rule.required.max(1);
            let gate = match &tally.rejected {
                Some(_) if quorum => StageGate::Open,
                Some(reason) => StageGate::Rejected(reason.clone()),
                None if counted >= rule.required => StageGate::Open,
                None => StageGate::Awaiting,
            };
            out.system_gates.insert((k, key.clone()), gate);
            out.counted.insert((k, key.clone()), counted);
            out.approvers.insert((k, key), tally.approvers);
        }
    }
    // A decision on a stage the plan does not have (a typo, a stage of another plan):
    // recorded, so the person sees it did not count.
    for a in mine.iter().filter(|a| {
        let stage = a.spec.stage.as_deref().unwrap_or_default();
        !settings.stages.iter().any(|s| s.name == stage)
    }) {
        let names: Vec<&str> = settings.stages.iter().map(|s| s.name.as_str()).collect();
        let named = a
            .spec
            .systems
            .iter()
            .map(|n| system_key(namespace, n))
            .collect();
        out.records.push(record(
            a,
            named,
            Err(format!(
                "ignored: the plan has no stage {} (its stages: {})",
                a.spec.stage.as_deref().unwrap_or_default(),
                names.join(", ")
            )),
        ));
    }
    bound_records(&mut out);
    out
}

/// Keeps every record that counts and the latest [`IGNORED_LISTED`] ignored ones, in
/// order, counting the ignored ones left out.
fn bound_records(out: &mut Evaluation) {
    let ignored = out.records.iter().filter(|r| !r.accepted).count();
    let mut skip = ignored.saturating_sub(IGNORED_LISTED);
    out.not_listed = u32::try_from(skip).unwrap_or(u32::MAX);
    out.records.retain(|r| {
        if !r.accepted && skip > 0 {
            skip -= 1;
            return false;
        }
        true
    });
}

/// Each stage that verified systems wait at, and what they wait for, one entry per stage
/// and need: how many more approvals from whom, or the rejection that holds them.
pub fn awaiting(
    settings: &PlanSettings,
    status: &RecoveryPlanStatus,
    eval: &Evaluation,
) -> Vec<AwaitingStage> {
    let mut out: Vec<AwaitingStage> = Vec::new();
    for (k, stage) in settings.stages.iter().enumerate() {
        let rule = &stage.approval;
        let mut from = match (rule.approver_groups.is_empty(), rule.allow_requester) {
            (false, _) => rule.approver_groups.join(" or "),
            (true, true) => "anyone with the approve verb".to_string(),
            (true, false) => "anyone with the approve verb but the requester".to_string(),
        };
        if rule.distinct_groups {
            from.push_str(", each for a different group");
        }
        let waiting = status.systems.iter().filter(|s| {
            s.phase.is_verified() && settings.next_stage(s.released_stage.as_deref()) == k
        });
        for s in waiting {
            // Still soaking at the stage before (or held there by a failing check).
            let soak = s.soak.as_ref().filter(|soak| {
                soak.completed_at.is_none() && s.released_stage.as_ref() == Some(&soak.stage)
            });
            let soak_held = soak.and_then(|k| k.held_by.clone());
            let soak_until = soak
                .and_then(|k| k.until.clone())
                .filter(|_| soak_held.is_none());
            let (needed, halted) = match eval.gate(k, &s.name) {
                StageGate::Open if soak.is_none() => continue,
                StageGate::Open => (0, None),
                StageGate::Awaiting => {
                    let got = eval.counted.get(&(k, s.name.clone())).copied().unwrap_or(0);
                    (rule.required.saturating_sub(got), None)
                }
                StageGate::Rejected(reason) => (0, Some(reason.clone())),
            };
            match out.iter_mut().find(|e| {
                e.stage == stage.name
                    && e.needed == needed
                    && e.halted == halted
                    && e.soak_until == soak_until
                    && e.soak_held == soak_held
            }) {
                Some(e) => e.systems.push(s.name.clone()),
                None => out.push(AwaitingStage {
                    stage: stage.name.clone(),
                    systems: vec![s.name.clone()],
                    needed,
                    required: rule.required,
                    from: from.clone(),
                    checklist: stage.checklist.clone(),
                    halted,
                    soak_until,
                    soak_held,
                }),
            }
        }
    }
    out
}

/// The record of Approval `a` naming `systems`: accepted (`Ok`) or ignored (`Err`), with
/// the reason.
fn record(a: &Approval, systems: Vec<String>, verdict: Result<String, String>) -> ApprovalRecord {
    let accepted = verdict.is_ok();
    ApprovalRecord {
        name: a.metadata.name.clone().unwrap_or_default(),
        stage: a.spec.stage.clone().unwrap_or_default(),
        systems,
        approver: a.spec.approver.username.clone(),
        decision: a.spec.decision,
        accepted,
        reason: verdict.unwrap_or_else(|r| r),
        comment: a
            .spec
            .comment
            .as_deref()
            .map(|c| truncate(c, COMMENT_LIMIT)),
        at: a.metadata.creation_timestamp.clone(),
    }
}

/// Who must confirm a manual step.
#[derive(Clone, Copy, Debug)]
pub struct StepRule<'a> {
    /// How many distinct people.
    pub required: u32,
    /// From which groups (anyone when empty).
    pub groups: &'a [String],
    /// The incident's start: decisions before it do not count.
    pub since: Option<k8s_openapi::jiff::Timestamp>,
}

/// Where the confirmations of a manual step stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Enough distinct people confirmed it; the token names the confirmation that made it.
    Done {
        /// The Approval that completed the quorum.
        token: String,
        /// Who confirmed it.
        by: Vec<String>,
    },
    /// Someone who may confirm it rejected it, with why.
    Rejected(String),
    /// Waiting for more people.
    Waiting {
        /// Who confirmed it so far.
        by: Vec<String>,
        /// How many more are needed.
        needed: u32,
    },
}

/// What the Approvals of `plan` say about manual step `step` of system `system`
/// ("namespace/name"), which needs `rule.required` distinct people from `rule.groups`
/// (anyone when empty). An Approval names its system as "namespace/name", or by name
/// alone for one in the plan's namespace, so a confirmation of `a/vault` never counts for
/// `b/vault`. Decisions count in creation order; the same person twice counts once,
/// someone outside the groups not at all. What an earlier plan of the same name decided
/// does not count: an Approval naming another plan's uid, one made before `rule.since`
/// (the incident's start, when the plan names it), and one without the plan's uid made
/// before or in the second the plan was created (as for stage decisions). A rejection
/// before the quorum fails the step.
pub fn step_confirmation(
    approvals: &[Approval],
    plan: &PlanFacts<'_>,
    system: &str,
    step: &str,
    rule: &StepRule<'_>,
) -> Confirmation {
    let StepRule {
        required,
        groups,
        since,
    } = *rule;
    let mut mine: Vec<&Approval> = approvals
        .iter()
        .filter(|a| {
            a.spec.plan == plan.name
                && a.spec.step.as_deref() == Some(step)
                && a.spec
                    .system
                    .as_deref()
                    .is_some_and(|s| system_key(plan.namespace, s) == system)
                && !matches!((a.spec.plan_uid.as_deref(), plan.uid), (Some(n), Some(u)) if n != u)
        })
        .filter(|a| groups.is_empty() || a.spec.approver.groups.iter().any(|g| groups.contains(g)))
        // From the incident's start, when the plan names it.
        .filter(|a| match (since, a.metadata.creation_timestamp.as_ref()) {
            (Some(since), Some(at)) => at.0.as_second() >= since.as_second(),
            _ => true,
        })
        // From the plan's creation, unless it names the plan's uid: only then can it be
        // told from a decision about an earlier plan of the same name.
        .filter(|a| {
            let names_uid = plan.uid.is_some() && a.spec.plan_uid.as_deref() == plan.uid;
            names_uid
                || match (a.metadata.creation_timestamp.as_ref(), plan.created) {
                    (Some(at), Some(created)) => at.0.as_second() > created.0.as_second(),
                    _ => true,
                }
        })
        .collect();
    mine.sort_by_key(|a| {
        (
            a.metadata.creation_timestamp.clone().map(|t| t.0),
            a.metadata.name.clone(),
        )
    });
    let required = required.max(1);
    let mut by: Vec<String> = Vec::new();
    for a in mine {
        let who = &a.spec.approver.username;
        match a.spec.decision {
            Decision::Reject => {
                return Confirmation::Rejected(format!(
                    "{who} rejected manual step '{step}': {}",
                    truncate(
                        a.spec.comment.as_deref().unwrap_or("no comment"),
                        COMMENT_LIMIT
                    )
                ));
            }
            Decision::Approve if by.contains(who) => {}
            Decision::Approve => {
                by.push(who.clone());
                if u32::try_from(by.len()).unwrap_or(u32::MAX) >= required {
                    return Confirmation::Done {
                        token: a.metadata.name.clone().unwrap_or_default(),
                        by,
                    };
                }
            }
        }
    }
    let have = u32::try_from(by.len()).unwrap_or(u32::MAX);
    Confirmation::Waiting {
        by,
        needed: required.saturating_sub(have),
    }
}
