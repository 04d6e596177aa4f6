//! `lifeline retry`, `restore`, `pause`, `resume` and `abort`: each records who asks in
//! an Intervention (the API server vouches for the person), then writes the request into
//! the RecoveryPlan (an annotation naming the Intervention, a spec field); the operator
//! acts on it and records it with the person.

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{
    error::{CtlError, kube_error},
    status::{display_name, get_plan, plan_name},
};
use crate::api::v1alpha1::{
    Intervention, InterventionAction, InterventionSpec, PlanPhase, RETRY_ANNOTATION_PREFIX,
    RecoveryPlan, RecoveryPlanStatus, SystemPhase, SystemStatus,
};

/// The field manager of every write these commands make, so `managedFields` shows that
/// a person asked for it through the CLI.
pub const FIELD_MANAGER: &str = "lifeline-cli";

/// Records that the user behind `client` asks for `action` on `plan` (about `system`, for
/// a retry or restore): creates an Intervention naming them, which the admission policy
/// lifeline-intervention-identity checks. Returns its name, the token of the request.
async fn intervene(
    client: &Client,
    plan: &RecoveryPlan,
    action: InterventionAction,
    system: Option<&str>,
    restore: Option<(Option<&str>, bool)>,
    hand_back: Option<(&str, Option<&str>)>,
) -> Result<String, CtlError> {
    let namespace = plan.metadata.namespace.clone().unwrap_or_default();
    let plan_name_ = plan.metadata.name.clone().unwrap_or_default();
    let full = plan_name(plan);
    let me = crate::controller::cluster::identity::whoami(client)
        .await
        .map_err(|e| CtlError::Identity {
            plan: full.clone(),
            reason: format!("{e:#}"),
        })?;
    let stamp = retry_token(Timestamp::now());
    let action_text = action.to_string().to_ascii_lowercase();
    let name = crate::engine::names::hashed_name(
        &[&plan_name_, &action_text],
        &[
            plan.metadata.uid.as_deref().unwrap_or_default(),
            &action_text,
            system.unwrap_or_default(),
            &stamp,
        ],
    );
    let intervention = Intervention {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        spec: InterventionSpec {
            plan: plan_name_,
            plan_uid: plan.metadata.uid.clone(),
            action,
            system: system.map(str::to_string),
            from_step: restore.and_then(|(s, _)| s.map(str::to_string)),
            force: restore.and_then(|(_, f)| f.then_some(true)),
            item: hand_back.map(|(i, _)| i.to_string()),
            reason: hand_back.and_then(|(_, c)| c.map(str::to_string)),
            requester: crate::api::v1alpha1::Approver {
                username: me.username,
                groups: me.groups,
            },
        },
    };
    let api: Api<Intervention> = Api::namespaced(client.clone(), &namespace);
    let params = kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: super::connect::dry_run(),
    };
    let stored = api.create(&params, &intervention).await.map_err(|source| {
        CtlError::InterventionRefused {
            plan: full,
            action,
            source,
        }
    })?;
    super::connect::show_dry_run(&format!("Intervention {name}"), &stored);
    Ok(name)
}

/// Requests a retry of `system` (its name, or "namespace/name"), which must be a Failed
/// system of the plan, by setting the plan's `retry.lifeline.dev/<system name>`
/// annotation (`<namespace>.retry.lifeline.dev/<system name>` for a system in another
/// namespace than the plan's) to a fresh token. The operator carries out each token once. Returns the
/// token.
///
/// Errors: the plan does not exist, is aborted, the system is not in the plan
/// ([`CtlError::UnknownSystem`]) or not Failed ([`CtlError::NotFailed`]), or the API
/// refuses the patch.
pub async fn retry(
    client: Client,
    namespace: &str,
    plan: &str,
    system: &str,
) -> Result<String, CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let (full_name, found, current) = system_of(
        &api,
        namespace,
        plan,
        system,
        "its systems can no longer be retried",
    )
    .await?;
    if found.phase != SystemPhase::Failed {
        return Err(CtlError::NotFailed {
            plan: full_name,
            system: system.to_string(),
            phase: found.phase,
        });
    }
    let key = request_key(&full_name, RETRY_ANNOTATION_PREFIX, namespace, &found.name)?;
    let token = intervene(
        &client,
        &current,
        InterventionAction::Retry,
        Some(&found.name),
        None,
        None,
    )
    .await?;
    let patch = json!({ "metadata": { "annotations": { key: token } } });
    patch_plan(&api, namespace, plan, &patch).await?;
    Ok(token)
}

/// Requests that verified `system` be restored again from `from_step` (default its first
/// step), then verified, leaving its dependencies alone, by setting the plan's
/// `restore.lifeline.dev/<system name>` annotation (`<namespace>.restore...` for a
/// system in another namespace than the plan's). A step marked `repeatable: false`
/// (a restore from backup) is refused without `force`, with the reason. Returns the token.
///
/// Errors: the plan does not exist or is aborted, the system is not in it or not
/// verified, the step is unknown or not repeatable ([`CtlError::RestoreRefused`]), or the
/// API refuses the patch.
pub async fn restore(
    client: Client,
    namespace: &str,
    plan: &str,
    system: &str,
    from_step: Option<&str>,
    force: bool,
) -> Result<String, CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let (full_name, found, current) = system_of(
        &api,
        namespace,
        plan,
        system,
        "its systems can no longer be restored again",
    )
    .await?;
    let refuse = |reason: String| CtlError::RestoreRefused {
        plan: full_name.clone(),
        reason,
    };
    if !found.phase.is_verified() {
        return Err(refuse(format!(
            "{} is {}: only a verified, released or degraded system is restored again (lifeline retry resumes a failed one)",
            found.name, found.phase
        )));
    }
    let spec = system_spec(&client, namespace, &full_name, &found.name).await?;
    let steps = spec.steps();
    let k = match from_step {
        None => 0,
        Some(step) => steps.iter().position(|s| s.name == step).ok_or_else(|| {
            refuse(format!(
                "{} has no restore step {step} (its steps: {})",
                found.name,
                steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    if !force && let Some(step) = steps.iter().skip(k).find(|s| s.repeatable == Some(false)) {
        return Err(refuse(format!(
            "{}'s step {} is repeatable: false (it must not run twice unasked, e.g. a restore from backup overwriting what staff entered since): restore from a later step with --from-step, or pass --force to run it again",
            found.name, step.name
        )));
    }
    let key = request_key(
        &full_name,
        crate::api::v1alpha1::RESTORE_ANNOTATION_PREFIX,
        namespace,
        &found.name,
    )?;
    let token = intervene(
        &client,
        &current,
        InterventionAction::Restore,
        Some(&found.name),
        Some((from_step, force)),
        None,
    )
    .await?;
    let request = crate::api::v1alpha1::RestoreRequest {
        token,
        from_step: from_step.map(str::to_string),
        force,
    };
    let value = serde_json::to_string(&request).map_err(|source| CtlError::Serialize {
        plan: full_name.clone(),
        source,
    })?;
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    patch_plan(&api, namespace, plan, &patch).await?;
    Ok(request.token)
}

/// The plan's "namespace/name" and the status of its `system`, for a request about that
/// system: refused if the plan is aborted (`what` says what can no longer be done) or the
/// system is not in it.
async fn system_of(
    api: &Api<RecoveryPlan>,
    namespace: &str,
    plan: &str,
    system: &str,
    what: &'static str,
) -> Result<(String, SystemStatus, RecoveryPlan), CtlError> {
    let current = get_plan(api, namespace, plan).await?;
    let full_name = plan_name(&current);
    let status = current.status.clone().unwrap_or_default();
    if current.spec.abort || status.phase == PlanPhase::Aborted {
        return Err(CtlError::Aborted {
            plan: full_name,
            what,
        });
    }
    let found = find_system(&status, namespace, &full_name, system)?.clone();
    Ok((full_name, found, current))
}

/// Sets `spec.paused`: nothing new starts; what is running finishes.
///
/// Errors: the plan does not exist, or the API refuses the patch.
pub async fn pause(client: Client, namespace: &str, plan: &str) -> Result<(), CtlError> {
    set_paused(client, namespace, plan, true).await
}

/// Clears `spec.paused`, so the plan goes on.
///
/// Errors: the plan does not exist, or the API refuses the patch.
pub async fn resume(client: Client, namespace: &str, plan: &str) -> Result<(), CtlError> {
    set_paused(client, namespace, plan, false).await
}

/// Sets `spec.paused` to `paused` (what [`pause`] and [`resume`] do), after recording the
/// request as an Intervention naming the user.
async fn set_paused(
    client: Client,
    namespace: &str,
    plan: &str,
    paused: bool,
) -> Result<(), CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let current = get_plan(&api, namespace, plan).await?;
    let action = if paused {
        InterventionAction::Pause
    } else {
        InterventionAction::Resume
    };
    intervene(&client, &current, action, None, None, None).await?;
    patch_plan(
        &api,
        namespace,
        plan,
        &json!({ "spec": { "paused": paused } }),
    )
    .await
}

/// Sets `spec.abort`: the operator stops the plan for good and cancels every system not
/// yet finished.
///
/// Errors: the plan does not exist, already finished (Succeeded, Failed or Aborted:
/// [`CtlError::AlreadyFinished`]), or the API refuses the patch. Aborting a plan whose
/// abort was already requested succeeds and changes nothing.
pub async fn abort(client: Client, namespace: &str, plan: &str) -> Result<(), CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let current = get_plan(&api, namespace, plan).await?;
    if let Some(phase) = current.status.as_ref().map(|s| s.phase)
        && matches!(
            phase,
            PlanPhase::Succeeded | PlanPhase::Failed | PlanPhase::Aborted
        )
    {
        return Err(CtlError::AlreadyFinished {
            plan: plan_name(&current),
            phase,
        });
    }
    if !current.spec.abort {
        intervene(
            &client,
            &current,
            InterventionAction::Abort,
            None,
            None,
            None,
        )
        .await?;
    }
    patch_plan(&api, namespace, plan, &json!({ "spec": { "abort": true } })).await
}

/// Merge-patches the plan (not its status) as [`FIELD_MANAGER`].
async fn patch_plan(
    api: &Api<RecoveryPlan>,
    namespace: &str,
    plan: &str,
    patch: &serde_json::Value,
) -> Result<(), CtlError> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: super::connect::dry_run(),
        ..PatchParams::default()
    };
    api.patch(plan, &params, &Patch::Merge(patch))
        .await
        .map(|_| {
            if super::connect::dry_run() {
                println!("and this change to recoveryplan {namespace}/{plan} (server dry run, not stored):");
                print!("{}", serde_yaml::to_string(patch).unwrap_or_default());
            }
        })
        .map_err(|e| kube_error("patch", namespace, plan, e))
}

/// The key of the plan annotation `prefix` (a retry or restore request) about `system`
/// ("namespace/name") of the plan `plan` in `namespace`: see
/// [`request_annotation`](crate::engine::names::request_annotation).
fn request_key(
    plan: &str,
    prefix: &str,
    namespace: &str,
    system: &str,
) -> Result<String, CtlError> {
    crate::engine::names::request_annotation(prefix, namespace, system).map_err(|name| {
        CtlError::SystemNameTooLong {
            plan: plan.to_string(),
            system: name,
        }
    })
}

/// The system a user named in the plan `plan` ("namespace/name") in `namespace`: a
/// "namespace/name", or a bare name that exactly one of its systems has, in whichever
/// namespace (the plan's, or another its estate spans).
///
/// Errors: no system of that name ([`CtlError::UnknownSystem`]), or systems of several
/// namespaces have it ([`CtlError::AmbiguousSystem`], naming them).
pub(super) fn find_system<'a>(
    status: &'a RecoveryPlanStatus,
    namespace: &str,
    plan: &str,
    system: &str,
) -> Result<&'a SystemStatus, CtlError> {
    use crate::engine::names::{NamedSystem, pick_system};
    let key =
        pick_system(status.systems.iter().map(|s| s.name.as_str()), system).map_err(
            |e| match e {
                NamedSystem::Unknown => CtlError::UnknownSystem {
                    plan: plan.to_string(),
                    system: system.to_string(),
                    known: known_systems(status, namespace),
                },
                NamedSystem::Ambiguous(all) => CtlError::AmbiguousSystem {
                    plan: plan.to_string(),
                    system: system.to_string(),
                    candidates: all.join(" and "),
                },
            },
        )?;
    status
        .systems
        .iter()
        .find(|s| s.name == key)
        .ok_or_else(|| CtlError::UnknownSystem {
            plan: plan.to_string(),
            system: system.to_string(),
            known: known_systems(status, namespace),
        })
}

/// The plan's systems as a reader would type them, for an error message.
pub(super) fn known_systems(status: &RecoveryPlanStatus, namespace: &str) -> String {
    if status.systems.is_empty() {
        return "none yet; the operator has not started the plan".to_string();
    }
    status
        .systems
        .iter()
        .map(|s| display_name(&s.name, namespace))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The spec of the plan's system `system` ("namespace/name", or a name in `namespace`).
async fn system_spec(
    client: &Client,
    namespace: &str,
    plan: &str,
    system: &str,
) -> Result<crate::api::v1alpha1::ClinicalSystemSpec, CtlError> {
    let (sys_ns, short) = system.split_once('/').unwrap_or((namespace, system));
    let systems: Api<crate::api::v1alpha1::ClinicalSystem> =
        Api::namespaced(client.clone(), sys_ns);
    Ok(systems
        .get(short)
        .await
        .map_err(|source| CtlError::Kube {
            action: "read the clinicalsystem of a system in",
            plan: plan.to_string(),
            source,
        })?
        .spec)
}

/// A fresh retry token: the time to the second, and a suffix from the nanoseconds and
/// the process id so two requests within a second differ.
fn retry_token(now: Timestamp) -> String {
    let nanos = now.subsec_nanosecond().unsigned_abs();
    let suffix = nanos ^ std::process::id().rotate_left(17);
    format!("{}-{suffix:08x}", crate::engine::time::iso(now))
}

/// Records, as yourself, that hand-back item `item` (its number from 1, its words, or the
/// start of them) of the released system `system` is done. Returns the item's words and
/// the Intervention's name.
///
/// Errors: no such plan or system, the system is not released yet, it has no such item,
/// or the item is already done (naming who did it).
pub async fn handback(
    client: Client,
    namespace: &str,
    plan: &str,
    system: &str,
    item: &str,
    comment: Option<&str>,
) -> Result<(String, String), CtlError> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let current = get_plan(&api, namespace, plan).await?;
    let full_name = plan_name(&current);
    let status = current.status.clone().unwrap_or_default();
    let found = find_system(&status, namespace, &full_name, system)?.clone();
    let refuse = |reason: String| CtlError::HandBackRefused {
        plan: full_name.clone(),
        reason,
    };
    if found.releases.is_empty() {
        return Err(refuse(format!(
            "{} is {} and not released to staff yet: there is nothing to hand back",
            found.name, found.phase
        )));
    }
    let spec = system_spec(&client, namespace, &full_name, &found.name).await?;
    let items = spec
        .release
        .as_ref()
        .map(|r| r.hand_back.clone())
        .unwrap_or_default();
    let item = crate::engine::run::hand_back::find(&items, item)
        .map_err(|why| refuse(format!("{}: {why}", found.name)))?
        .to_string();
    if let Some(done) = found
        .hand_back
        .iter()
        .find(|h| h.item == item && h.done_by.is_some())
    {
        return Err(refuse(format!(
            "{}: {item:?} was already done by {} at {}",
            found.name,
            done.done_by.as_deref().unwrap_or_default(),
            done.done_at
                .as_ref()
                .map_or("an unknown time".to_string(), |t| t.0.to_string())
        )));
    }
    let token = intervene(
        &client,
        &current,
        InterventionAction::HandBack,
        Some(&found.name),
        None,
        Some((&item, comment)),
    )
    .await?;
    Ok((item, token))
}
