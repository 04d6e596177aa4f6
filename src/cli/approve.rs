//! `lifeline approve` and `lifeline reject`: record a person's decision on a release stage as
//! an Approval, acting as the current kubeconfig user. The username and groups come from a
//! SelfSubjectReview (the API server says who you are; you never type it), and the
//! admission policy checks them again when the Approval is created.

use std::{fmt::Write as _, io::IsTerminal};

use anyhow::{Context as _, bail};
use kube::{Api, Client, ResourceExt, api::PostParams};
use serde_json::json;

use super::{DecideArgs, with_plan};
use crate::{
    api::v1alpha1::{ActionPhase, Approval, Decision, RecoveryPlan},
    controller::cluster::identity::{Me, whoami},
    engine::names::object_name,
};

/// The systems ("namespace/name") verified and waiting at `stage` of `plan`.
pub fn waiting_for(plan: &RecoveryPlan, stage: &str) -> Vec<String> {
    let settings = crate::engine::plan::settings::settings_of(plan);
    let Some(k) = settings.stage_index(stage) else {
        return Vec::new();
    };
    plan.status
        .iter()
        .flat_map(|st| &st.systems)
        .filter(|s| s.phase.is_verified() && settings.next_stage(s.released_stage.as_deref()) == k)
        .map(|s| s.name.clone())
        .collect()
}

/// Every stage that verified systems of `plan` wait at, and what they wait for.
pub fn awaiting_summary(plan: &RecoveryPlan) -> String {
    let status = plan.status.clone().unwrap_or_default();
    let mut out = String::new();
    if status.awaiting.is_empty() {
        let _ = writeln!(
            out,
            "no verified system of {}/{} waits for a decision",
            plan.namespace().unwrap_or_default(),
            plan.name_any()
        );
    }
    for a in &status.awaiting {
        let _ = writeln!(out, "{a}");
        if !a.checklist.is_empty() {
            let _ = writeln!(out, "  checklist: {}", a.checklist.join("; "));
        }
    }
    out
}

/// What was tested for `systems` ("namespace/name"), which a decision on `stage` would
/// cover: each one's checks and their results.
pub fn tested_summary(
    plan: &RecoveryPlan,
    stage: &str,
    systems: &[String],
) -> anyhow::Result<String> {
    let stages = &plan.spec.stages;
    let k = crate::engine::stage_index(stages.iter().map(|s| s.name.as_str()), stage)
        .with_context(|| {
            format!(
                "recoveryplan {}/{} has no stage '{stage}' (stages: {})",
                plan.namespace().unwrap_or_default(),
                plan.name_any(),
                stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let status = plan.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Stage {stage} of {}/{} (stage {} of {}):",
        plan.namespace().unwrap_or_default(),
        plan.name_any(),
        k + 1,
        stages.len()
    );
    if let Some(checklist) = stages
        .get(k)
        .map(|s| &s.checklist)
        .filter(|c| !c.is_empty())
    {
        let _ = writeln!(out, "  checklist to acknowledge (--ack):");
        for item in checklist {
            let _ = writeln!(out, "    - {item}");
        }
    }
    let mut any = false;
    for s in status.systems.iter().filter(|s| systems.contains(&s.name)) {
        any = true;
        let _ = writeln!(out, "  {} ({}):", s.name, s.phase);
        for c in &s.checks {
            let result = match c.phase {
                ActionPhase::Succeeded => "passed".to_string(),
                ActionPhase::Failed => format!(
                    "FAILED: {}",
                    c.last_error.as_deref().unwrap_or("no error recorded")
                ),
                ActionPhase::Running => "running".to_string(),
                ActionPhase::Pending => "not run".to_string(),
            };
            let _ = writeln!(
                out,
                "    check {}: {result} ({} attempts)",
                c.name, c.attempts
            );
        }
        if s.checks.is_empty() {
            let _ = writeln!(out, "    no checks defined");
        }
    }
    if !any {
        let _ = writeln!(out, "  no verified system waits for this stage yet");
    }
    Ok(out)
}

/// Records `decision` on `stage` of `plan` as the current user. `confirm` is asked first
/// (it gets the summary of what was tested); returns the Approval's name.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    client: Client,
    namespace: &str,
    plan: &str,
    stage: &str,
    systems: Vec<String>,
    decision: Decision,
    comment: Option<String>,
    acknowledged: Vec<String>,
    confirm: impl FnOnce(&str, &[String], &Me) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let (me, found) = deciding(&client, namespace, plan, decision, comment.as_deref()).await?;
    // The systems it covers: those named, or every one verified and waiting at the stage.
    let waiting = waiting_for(&found, stage);
    let in_plan: Vec<String> = found
        .status
        .as_ref()
        .map(|st| st.systems.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let systems: Vec<String> = if systems.is_empty() {
        waiting.clone()
    } else {
        systems
            .iter()
            .map(|n| crate::engine::approvals::system_key(namespace, n))
            .collect()
    };
    if systems.is_empty()
        && crate::engine::stage_index(found.spec.stages.iter().map(|s| s.name.as_str()), stage)
            .is_some()
    {
        bail!(
            "no verified system of {namespace}/{plan} waits at stage {stage}: nothing to {decision} (name one with --system)"
        );
    }
    for s in &systems {
        let known = if decision == Decision::Approve {
            &waiting
        } else {
            &in_plan
        };
        if !known.contains(s) {
            bail!(
                "{s} is not {} stage {stage} of {namespace}/{plan}; waiting there: {}",
                if decision == Decision::Approve {
                    "verified and waiting at"
                } else {
                    "a system of"
                },
                if waiting.is_empty() {
                    "none".to_string()
                } else {
                    waiting.join(", ")
                }
            );
        }
    }
    let summary = tested_summary(&found, stage, &systems)?;
    if let Some(s) = found.spec.stages.iter().find(|s| s.name == stage)
        && decision == Decision::Approve
    {
        let missing: Vec<&String> = s
            .checklist
            .iter()
            .filter(|item| !acknowledged.contains(item))
            .collect();
        if !missing.is_empty() {
            bail!(
                "stage {stage} needs every checklist item acknowledged; missing: {}",
                missing
                    .iter()
                    .map(|m| format!("--ack {m:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    if !confirm(&summary, &systems, &me)? {
        bail!("not recorded: you did not confirm");
    }
    let (user, stamp) = name_parts(&me);
    let verb = decision.to_string();
    // The systems are in the name's hash, so one person deciding web and then lab in one
    // second makes two Approvals.
    let mut identity = vec![plan, stage, user.as_str(), verb.as_str(), stamp.as_str()];
    identity.extend(systems.iter().map(String::as_str));
    let name = crate::engine::names::hashed_name(&[plan, stage, &user, &verb, &stamp], &identity);
    let approval: Approval = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "plan": plan,
            "planUid": found.metadata.uid,
            "stage": stage,
            "systems": systems,
            "decision": decision,
            "comment": comment,
            "acknowledged": acknowledged,
            "approver": { "username": me.username, "groups": me.groups }
        }
    }))?;
    let params = PostParams {
        dry_run: super::connect::dry_run(),
        ..PostParams::default()
    };
    let stored = Api::<Approval>::namespaced(client, namespace)
        .create(&params, &approval)
        .await
        .with_context(|| format!("record the {decision} of stage {stage} of {namespace}/{plan}"))?;
    super::connect::show_dry_run(&format!("Approval {name}"), &stored);
    Ok(name)
}

/// What every decision starts from: a rejection has a reason, who is deciding (by a
/// SelfSubjectReview), and the plan decided.
async fn deciding(
    client: &Client,
    namespace: &str,
    plan: &str,
    decision: Decision,
    comment: Option<&str>,
) -> anyhow::Result<(Me, RecoveryPlan)> {
    if decision == Decision::Reject && comment.is_none_or(|c| c.trim().is_empty()) {
        bail!("a rejection needs a reason: --comment \"...\"");
    }
    let me = whoami(client).await?;
    let found = crate::controller::cluster::progress::get(client, namespace, plan)
        .await
        .with_context(|| format!("read recoveryplan {namespace}/{plan}"))?
        .with_context(|| format!("recoveryplan {namespace}/{plan} not found"))?;
    Ok((me, found))
}

/// The parts of an Approval's name that say who and when: `me`'s username made DNS-safe,
/// and the second it is recorded in.
fn name_parts(me: &Me) -> (String, String) {
    let user: String = me
        .username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stamp = k8s_openapi::jiff::Timestamp::now().as_second().to_string();
    (user.trim_matches('-').to_string(), stamp)
}

/// Asks on the terminal, or refuses without one unless `yes`.
pub fn ask(
    summary: &str,
    systems: &[String],
    me: &Me,
    decision: Decision,
    stage: &str,
    yes: bool,
) -> anyhow::Result<bool> {
    eprint!("{summary}");
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to confirm on: pass --yes to record the decision");
    }
    eprint!(
        "{decision} stage {stage} for {} as {}? [y/N] ",
        systems.join(", "),
        me.username
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `lifeline approve` (`decision` Approve) and `lifeline reject`: asks, then records.
pub(super) fn decide_cmd(args: DecideArgs, decision: Decision) -> anyhow::Result<()> {
    let DecideArgs {
        target,
        stage,
        systems,
        comment,
        acks,
        yes,
        dry_run: _,
    } = args;
    with_plan(&target, |client, ns, plan| async move {
        let Some(stage) = stage else {
            if decision == Decision::Reject {
                bail!("name the stage to reject: --stage S");
            }
            let found = crate::controller::cluster::progress::get(&client, &ns, &plan)
                .await
                .with_context(|| format!("read recoveryplan {ns}/{plan}"))?
                .with_context(|| format!("recoveryplan {ns}/{plan} not found"))?;
            print!("{}", awaiting_summary(&found));
            return Ok(());
        };
        let stage_name = stage.clone();
        let name = decide(
            client,
            &ns,
            &plan,
            &stage,
            systems,
            decision,
            comment,
            acks,
            |summary, systems, me| ask(summary, systems, me, decision, &stage_name, yes),
        )
        .await?;
        if !super::connect::dry_run() {
            println!("{decision} of stage {stage} of {ns}/{plan} recorded as Approval {name}");
        }
        Ok(())
    })
}

/// Records a confirmation (or, with `Reject`, a rejection) of manual step `step` of
/// `system` in `plan` as the current user (found with a SelfSubjectReview; the API
/// server's admission checks it as for approvals). Returns the Approval's name.
pub async fn confirm_step(
    client: Client,
    namespace: &str,
    plan: &str,
    system: &str,
    step: &str,
    decision: Decision,
    comment: Option<String>,
) -> anyhow::Result<String> {
    let (me, found) = deciding(&client, namespace, plan, decision, comment.as_deref()).await?;
    let status = found.status.clone().unwrap_or_default();
    let names = status.systems.iter().map(|s| s.name.as_str());
    let key = match crate::engine::names::pick_system(names, system) {
        Ok(key) => key,
        Err(crate::engine::names::NamedSystem::Ambiguous(all)) => bail!(
            "{system} is ambiguous in {namespace}/{plan}: it is the name of {}; name the one you mean as namespace/name",
            all.join(" and ")
        ),
        Err(crate::engine::names::NamedSystem::Unknown) => bail!(
            "{system} is not a system of {namespace}/{plan} (its systems: {})",
            status
                .systems
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let Some(s) = status.systems.iter().find(|s| s.name == key) else {
        bail!("{key} is not a system of {namespace}/{plan}");
    };
    if !s.steps.iter().any(|st| st.name == step) {
        bail!(
            "{key} has no restore step {step} (its steps: {})",
            s.steps
                .iter()
                .map(|st| st.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let (sys_ns, short) = key.split_once('/').unwrap_or((namespace, key.as_str()));
    // Only a manual step waits for people; the operator carries out every other kind. (A
    // confirmer who may not read the system is not stopped here: the operator ignores a
    // confirmation of a step that is not manual.)
    let systems: Api<crate::api::v1alpha1::ClinicalSystem> =
        Api::namespaced(client.clone(), sys_ns);
    if let Ok(Some(cs)) = systems.get_opt(short).await
        && let Some(st) = cs.spec.steps().iter().find(|st| st.name == step)
        && st.manual.is_none()
    {
        bail!(
            "step {step} of {key} is not a manual step: the operator carries it out, there is nothing to confirm"
        );
    }
    let (user, stamp) = name_parts(&me);
    let verb = if decision == Decision::Approve {
        "confirm"
    } else {
        "reject"
    };
    // The system's namespace is in the name when it is not the plan's, so confirmations of
    // a/vault and b/vault in one second by one person are two Approvals.
    let name = if sys_ns == namespace {
        object_name(&[plan, short, step, &user, verb, &stamp])
    } else {
        object_name(&[plan, sys_ns, short, step, &user, verb, &stamp])
    };
    let approval: Approval = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "plan": plan,
            "planUid": found.metadata.uid,
            // Always "namespace/name": the operator reads a bare name as one in the plan's
            // namespace, and a confirmation must never count for another namespace's system.
            "system": key,
            "step": step,
            "decision": decision,
            "comment": comment,
            "approver": { "username": me.username, "groups": me.groups }
        }
    }))?;
    Api::<Approval>::namespaced(client, namespace)
        .create(&PostParams::default(), &approval)
        .await
        .with_context(|| {
            format!("record the {verb} of step {step} of {key} in {namespace}/{plan}")
        })?;
    Ok(name)
}
