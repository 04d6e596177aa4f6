//! Carries out one of the drill engine's actions, after the status that records it is
//! written. Each is idempotent: the engine asks again until it sees the effect.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::faults::{delete_pods, isolate, scale_to_zero};
use crate::{
    api::v1alpha1::{DRILL_FINALIZER, RecoveryDrill, RecoveryPlan},
    controller::Context,
    engine::drill::{Action, DRILL_LABEL, DRILL_RUN_LABEL, Facts},
    error::{Error, KubeContext},
};

/// The drill as the owner of what it creates.
fn owner(drill: &RecoveryDrill) -> OwnerReference {
    OwnerReference {
        api_version: "lifeline.dev/v1alpha1".into(),
        kind: "RecoveryDrill".into(),
        name: drill.name_any(),
        uid: drill.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// Does `action` for `drill`.
pub async fn act(
    ctx: &Context,
    drill: &RecoveryDrill,
    f: &Facts<'_>,
    action: &Action,
) -> Result<(), Error> {
    let ns = f.namespace;
    match action {
        Action::AddFinalizer => set_finalizer(ctx, drill, true).await,
        Action::RemoveFinalizer => set_finalizer(ctx, drill, false).await,
        Action::SetReplicas { workload, replicas } => {
            scale_to_zero::set_replicas(ctx, ns, workload, *replicas).await
        }
        Action::DeletePods { pods } => delete_pods::delete(ctx, ns, pods).await,
        Action::Isolate {
            policy,
            system,
            selector,
            gate,
        } => {
            if let Some(gate) = gate {
                isolate::shut_gate(ctx, ns, f.name, system, gate).await?;
            }
            isolate::apply(ctx, ns, f.name, owner(drill), policy, system, selector).await
        }
        Action::DeletePolicy { name } => isolate::delete(ctx, ns, name).await,
        Action::RestorePolicy { name, spec } => isolate::restore(ctx, ns, name, spec).await,
        Action::CreatePlan { name, run, spec } => {
            let mut plan = RecoveryPlan::new(name, (**spec).clone());
            plan.metadata.namespace = Some(ns.to_string());
            plan.metadata.owner_references = Some(vec![owner(drill)]);
            plan.metadata.labels = Some(BTreeMap::from([
                (DRILL_LABEL.to_string(), f.name.to_string()),
                (DRILL_RUN_LABEL.to_string(), run.to_string()),
            ]));
            let plans: Api<RecoveryPlan> = Api::namespaced(ctx.client.clone(), ns);
            match plans.create(&PostParams::default(), &plan).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(e).during(|| format!("create RecoveryPlan {ns}/{name}")),
            }
        }
        Action::DeletePlan { name } => {
            // Deleting is enough: the plan controller does nothing for a plan being deleted.
            let plans: Api<RecoveryPlan> = Api::namespaced(ctx.client.clone(), ns);
            match plans.delete(name, &DeleteParams::foreground()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => Err(e).during(|| format!("delete RecoveryPlan {ns}/{name}")),
            }
        }
    }
}

/// Adds or removes the revert finalizer, at the drill's resource version.
async fn set_finalizer(ctx: &Context, drill: &RecoveryDrill, on: bool) -> Result<(), Error> {
    let ns = drill.namespace().unwrap_or_default();
    let name = drill.name_any();
    let mut finalizers: Vec<String> = drill
        .finalizers()
        .iter()
        .filter(|f| *f != DRILL_FINALIZER)
        .cloned()
        .collect();
    if on {
        finalizers.push(DRILL_FINALIZER.to_string());
    }
    let patch = json!({ "metadata": {
        "finalizers": finalizers,
        "resourceVersion": drill.resource_version(),
    }});
    let drills: Api<RecoveryDrill> = Api::namespaced(ctx.client.clone(), &ns);
    match drills
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 && !on => Ok(()),
        Err(e) => Err(e).during(|| {
            format!(
                "{} the finalizer of RecoveryDrill {ns}/{name}",
                if on { "add" } else { "remove" }
            )
        }),
    }
}
