//! Restore steps against the cluster. [`drive_step`] both starts a step and checks on it:
//! every side effect is an idempotent "ensure" keyed by a deterministic name or token, so
//! calling it again after a crash finds the work instead of repeating it.

use std::time::Duration;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        batch::v1::Job,
        core::v1::Namespace,
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams},
    discovery,
};
use serde_json::json;

use super::workload;
use crate::{
    api::v1alpha1::{ClinicalSystem, JobStep, RecoveryPlan, StepAction, WaitForStep, WorkloadKind},
    error::{Error, KubeContext},
};
use crate::{
    controller::Context,
    engine::{job_policy, names},
};

/// The annotation a rollout-restart step writes into the pod template.
pub const RESTART_ANNOTATION: &str = "lifeline.dev/restart-token";
/// Labels on everything the operator creates.
pub const PLAN_LABEL: &str = "lifeline.dev/plan";
/// The system an object belongs to.
pub const SYSTEM_LABEL: &str = "lifeline.dev/system";
/// How often to look again at something no watch tells us about (a `waitFor` object).
pub const WAIT_FOR_RECHECK: Duration = Duration::from_secs(5);

/// Where a step stands after [`drive_step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepProgress {
    /// Finished; `token` names the side effect (a Job, an Approval).
    Succeeded {
        /// The side effect's name.
        token: Option<String>,
    },
    /// Failed for good.
    Failed(String),
    /// Still going; look again after this long if nothing wakes us sooner.
    Running(Option<Duration>),
}

/// The owner reference that ties created objects to the plan (so they are garbage
/// collected with it).
pub fn owner(plan: &RecoveryPlan) -> Option<OwnerReference> {
    plan.controller_owner_ref(&())
}

/// Starts or checks on restore step `step` (attempt `attempt`) of `system`; a manual
/// step is decided by `approvals` (the plan namespace's, listed once per reconcile).
pub async fn drive_step(
    ctx: &Context,
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    step: usize,
    attempt: u32,
    approvals: &[crate::api::v1alpha1::Approval],
) -> Result<StepProgress, Error> {
    let ns = system.namespace().unwrap_or_default();
    let sys_name = system.name_any();
    let Some(spec) = system.spec.steps().get(step) else {
        return Ok(StepProgress::Failed(format!(
            "step {step} no longer exists in ClinicalSystem {ns}/{sys_name}"
        )));
    };
    let Some(action) = spec.action() else {
        return Ok(StepProgress::Failed(format!(
            "ClinicalSystem {ns}/{sys_name}: spec.restore.steps[{step}] must set exactly one action"
        )));
    };
    match action {
        StepAction::Scale(s) => scale(ctx, &ns, s.kind, &s.name, s.replicas).await,
        StepAction::RolloutRestart(w) => {
            let token = names::restart_token(
                plan.uid().as_deref().unwrap_or("nouid"),
                &sys_name,
                &spec.name,
                attempt,
            );
            rollout_restart(ctx, &ns, w.kind, &w.name, &token).await
        }
        StepAction::Job(j) => {
            let uid = plan.uid().unwrap_or_default();
            let name = names::step_job(&plan.name_any(), &uid, &sys_name, &spec.name, attempt);
            let at = format!("spec.restore.steps{{{}}}.job", spec.name);
            run_job(ctx, plan, &ns, &sys_name, &at, &name, j).await
        }
        StepAction::WaitFor(w) => wait_for(ctx, &ns, w).await,
        StepAction::Manual(m) => Ok(manual(plan, &ns, &sys_name, m, &spec.name, approvals)),
    }
}

async fn scale(
    ctx: &Context,
    ns: &str,
    kind: WorkloadKind,
    name: &str,
    replicas: i32,
) -> Result<StepProgress, Error> {
    let Some(state) = workload::state_cached(ctx, ns, kind, name).await? else {
        return Ok(StepProgress::Failed(format!(
            "{kind} {ns}/{name} does not exist"
        )));
    };
    if state.desired != replicas {
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        let pp = PatchParams::default();
        let what = || format!("scale {kind} {ns}/{name} to {replicas}");
        match kind {
            WorkloadKind::Deployment => {
                Api::<Deployment>::namespaced(ctx.client.clone(), ns)
                    .patch_scale(name, &pp, &patch)
                    .await
                    .during(what)?;
            }
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(ctx.client.clone(), ns)
                    .patch_scale(name, &pp, &patch)
                    .await
                    .during(what)?;
            }
        }
        return Ok(StepProgress::Running(None));
    }
    Ok(if state.rolled_out() {
        StepProgress::Succeeded { token: None }
    } else {
        StepProgress::Running(None)
    })
}

async fn rollout_restart(
    ctx: &Context,
    ns: &str,
    kind: WorkloadKind,
    name: &str,
    token: &str,
) -> Result<StepProgress, Error> {
    let Some(state) = workload::state_cached(ctx, ns, kind, name).await? else {
        return Ok(StepProgress::Failed(format!(
            "{kind} {ns}/{name} does not exist"
        )));
    };
    if state
        .template_annotations
        .get(RESTART_ANNOTATION)
        .map(String::as_str)
        != Some(token)
    {
        let patch = Patch::Merge(json!({
            "spec": { "template": { "metadata": { "annotations": { RESTART_ANNOTATION: token } } } }
        }));
        let pp = PatchParams::default();
        let what = || format!("restart {kind} {ns}/{name}");
        match kind {
            WorkloadKind::Deployment => {
                Api::<Deployment>::namespaced(ctx.client.clone(), ns)
                    .patch(name, &pp, &patch)
                    .await
                    .during(what)?;
            }
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(ctx.client.clone(), ns)
                    .patch(name, &pp, &patch)
                    .await
                    .during(what)?;
            }
        }
        return Ok(StepProgress::Running(None));
    }
    Ok(if state.rolled_out() {
        StepProgress::Succeeded {
            token: Some(token.to_string()),
        }
    } else {
        StepProgress::Running(None)
    })
}

/// Builds the Job for a `job` step or check: the user's template, named
/// deterministically, labelled, and owned by the plan.
pub fn job_object(plan: &RecoveryPlan, ns: &str, system: &str, name: &str, step: &JobStep) -> Job {
    let mut metadata = step.template.metadata.clone().unwrap_or_default();
    metadata.name = Some(name.to_string());
    metadata.namespace = Some(ns.to_string());
    metadata.generate_name = None;
    let labels = metadata.labels.get_or_insert_with(Default::default);
    labels.insert(PLAN_LABEL.to_string(), plan.name_any());
    labels.insert(SYSTEM_LABEL.to_string(), system.to_string());
    metadata.owner_references = owner(plan).map(|o| vec![o]);
    Job {
        metadata,
        spec: step.template.spec.clone(),
        status: None,
    }
}

/// Whether `plan` (this run of it, by uid) owns `job`.
fn owned_by(job: &Job, plan: &RecoveryPlan) -> bool {
    let uid = plan.uid().unwrap_or_default();
    !uid.is_empty()
        && job
            .owner_references()
            .iter()
            .any(|o| o.uid == uid && o.kind == "RecoveryPlan")
}

/// Ensures the Job exists and reports how it went; a Job of that name the plan does not
/// own fails the step, naming it. `at` is where the template is in the ClinicalSystem
/// (`spec.restore.steps{NAME}.job`, `spec.verify.checks{NAME}.job`). A template that
/// breaks the rules of [`job_policy`] fails the step before any Job is made.
pub async fn run_job(
    ctx: &Context,
    plan: &RecoveryPlan,
    ns: &str,
    system: &str,
    at: &str,
    name: &str,
    step: &JobStep,
) -> Result<StepProgress, Error> {
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let job = match api
        .get_opt(name)
        .await
        .during(|| format!("read Job {ns}/{name}"))?
    {
        // A Job of this name that the plan did not create is never its step's result.
        Some(job) if !owned_by(&job, plan) => {
            return Ok(StepProgress::Failed(format!(
                "Job {ns}/{name} exists and is not owned by RecoveryPlan {ns}/{}: lifeline never counts a Job it did not create; delete it, then retry",
                plan.name_any()
            )));
        }
        Some(job) => job,
        None => {
            if let Some(why) = refusal(ctx, ns, system, at, step).await? {
                return Ok(StepProgress::Failed(why));
            }
            let job = job_object(plan, ns, system, name, step);
            match api.create(&PostParams::default(), &job).await {
                Ok(j) => j,
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Ok(StepProgress::Running(None));
                }
                Err(kube::Error::Api(s)) if s.code == 422 || s.code == 400 => {
                    return Ok(StepProgress::Failed(format!(
                        "the Job template was rejected: {}",
                        s.message
                    )));
                }
                Err(e) => {
                    return Err(Error::Kube {
                        action: format!("create Job {ns}/{name}"),
                        source: e,
                    });
                }
            }
        }
    };
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let holds = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if holds("Complete").is_some() {
        return Ok(StepProgress::Succeeded {
            token: Some(name.to_string()),
        });
    }
    if let Some(c) = holds("Failed") {
        return Ok(StepProgress::Failed(format!(
            "Job {ns}/{name} failed: {}",
            c.message
                .as_deref()
                .or(c.reason.as_deref())
                .unwrap_or("no reason given")
        )));
    }
    Ok(StepProgress::Running(None))
}

/// Why the operator may not create the Job of `step` in `ns` (see [`job_policy`]), if
/// it may not: the ServiceAccounts allowed are read from the namespace as it is now.
async fn refusal(
    ctx: &Context,
    ns: &str,
    system: &str,
    at: &str,
    step: &JobStep,
) -> Result<Option<String>, Error> {
    let namespace = Api::<Namespace>::all(ctx.client.clone())
        .get(ns)
        .await
        .during(|| format!("read Namespace {ns}"))?;
    let annotation = namespace
        .annotations()
        .get(job_policy::SERVICE_ACCOUNTS_ANNOTATION)
        .map(String::as_str);
    Ok(job_policy::refusal(
        &format!("{ns}/{system}"),
        at,
        &step.template,
        &job_policy::allowed_accounts(annotation),
    ))
}

async fn wait_for(ctx: &Context, ns: &str, w: &WaitForStep) -> Result<StepProgress, Error> {
    let (group, version) = match w.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), w.api_version.clone()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &w.kind);
    let (resource, _caps) = match discovery::pinned_kind(&ctx.client, &gvk).await {
        Ok(found) => found,
        Err(e) => {
            return Ok(StepProgress::Failed(format!(
                "waitFor: the API server does not serve {} {}: {e}",
                w.api_version, w.kind
            )));
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &resource);
    let obj = match api.get_opt(&w.name).await {
        Ok(o) => o,
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Ok(StepProgress::Failed(format!(
                "waitFor: the operator may not read {} {ns}/{} (grant it get on {} through the lifeline-operator-extra ClusterRole)",
                w.kind, w.name, resource.plural
            )));
        }
        Err(e) => {
            return Err(Error::Kube {
                action: format!("read {} {ns}/{}", w.kind, w.name),
                source: e,
            });
        }
    };
    let want = w.status.as_deref().unwrap_or("True");
    let met = obj.as_ref().is_some_and(|o| {
        o.data["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == w.condition.as_str() && c["status"] == want)
        })
    });
    Ok(if met {
        StepProgress::Succeeded { token: None }
    } else {
        StepProgress::Running(Some(WAIT_FOR_RECHECK))
    })
}

fn manual(
    plan: &RecoveryPlan,
    ns: &str,
    system: &str,
    step: &crate::api::v1alpha1::ManualStep,
    step_name: &str,
    approvals: &[crate::api::v1alpha1::Approval],
) -> StepProgress {
    match crate::engine::approvals::step_confirmation(
        approvals,
        &crate::engine::approvals::PlanFacts::confirming(plan),
        &format!("{ns}/{system}"),
        step_name,
        &crate::engine::approvals::StepRule {
            required: step.required.unwrap_or(1),
            groups: &step.approver_groups,
            since: plan.spec.incident_started_at.as_ref().map(|t| t.0),
        },
    ) {
        crate::engine::approvals::Confirmation::Done { token, .. } => {
            StepProgress::Succeeded { token: Some(token) }
        }
        crate::engine::approvals::Confirmation::Rejected(why) => StepProgress::Failed(why),
        crate::engine::approvals::Confirmation::Waiting { .. } => StepProgress::Running(None),
    }
}
