//! Release gates. Each system with `spec.release` gets a NetworkPolicy, named
//! `lifeline-release-<system>`, selecting its pods. Before release it admits only the
//! verification audience: the operator's namespace and the system's own namespace (where
//! the systems of the estate reach each other). Each released stage adds its audience;
//! stages only add. The Service, Ingress and workloads get the label
//! `lifeline.dev/released-stage=<stage>`.
//!
//! The policies are not owned by the plan: deleting a plan leaves the last released state
//! in place, so tidying up never cuts clinicians off.

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::Service,
    networking::v1::{
        IPBlock, Ingress, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer,
        NetworkPolicySpec,
    },
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::controller::{Context, FIELD_MANAGER};
use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryPlan, Stage, StepAction, WorkloadKind},
    error::{Error, KubeContext},
};

/// The label carrying the stage a system's objects are released at.
pub const RELEASED_STAGE_LABEL: &str = "lifeline.dev/released-stage";
/// The namespace the operator runs in, always admitted (it runs the checks).
pub const OPERATOR_NAMESPACE: &str = "lifeline-system";

/// The gate's name for a system.
pub use crate::engine::names::release_policy as policy_name;

fn namespace_peer(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(
                [("kubernetes.io/metadata.name".to_string(), name.to_string())].into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The NetworkPolicy for `system` released at `stages[..=released]` (or none released).
pub fn policy(
    system: &ClinicalSystem,
    stages: &[Stage],
    released: Option<usize>,
) -> Option<NetworkPolicy> {
    let release = system.spec.release.as_ref()?;
    let ns = system.namespace().unwrap_or_default();
    let mut from = vec![
        namespace_peer(OPERATOR_NAMESPACE),
        // The estate's own namespace: systems reach their dependencies.
        NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..Default::default()
        },
    ];
    let upto = released.map_or(0, |k| k + 1);
    for stage in stages.iter().take(upto) {
        let a = &stage.audience;
        if a.namespace_selector.is_some() || a.pod_selector.is_some() {
            from.push(NetworkPolicyPeer {
                namespace_selector: a.namespace_selector.clone(),
                pod_selector: a.pod_selector.clone(),
                ..Default::default()
            });
        }
        for cidr in &a.ip_blocks {
            from.push(NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: cidr.clone(),
                    except: None,
                }),
                ..Default::default()
            });
        }
    }
    let stage_label = released
        .and_then(|k| stages.get(k))
        .map_or("none".to_string(), |s| s.name.clone());
    Some(NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(policy_name(&system.name_any())),
            namespace: Some(ns),
            labels: Some(
                [
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "lifeline".to_string(),
                    ),
                    ("lifeline.dev/system".to_string(), system.name_any()),
                    (RELEASED_STAGE_LABEL.to_string(), stage_label),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(release.pod_selector.clone()),
            policy_types: Some(vec!["Ingress".to_string()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: None,
            }]),
            ..Default::default()
        }),
    })
}

/// Applies the gate and the stage labels for `system` at `released` (idempotent).
pub async fn apply(
    ctx: &Context,
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    released: Option<usize>,
) -> Result<(), Error> {
    let Some(np) = policy(system, &plan.spec.stages, released) else {
        return Ok(());
    };
    let ns = system.namespace().unwrap_or_default();
    let name = np.name_any();
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    Api::<NetworkPolicy>::namespaced(ctx.client.clone(), &ns)
        .patch(&name, &pp, &Patch::Apply(&np))
        .await
        .during(|| format!("apply NetworkPolicy {ns}/{name}"))?;
    let Some(k) = released else { return Ok(()) };
    let Some(stage) = plan.spec.stages.get(k) else {
        return Ok(());
    };
    let label =
        Patch::Merge(json!({ "metadata": { "labels": { RELEASED_STAGE_LABEL: stage.name } } }));
    let plain = PatchParams::default();
    let release = system.spec.release.as_ref();
    if let Some(svc) = release.and_then(|r| r.service.as_deref()) {
        label_if_present(
            Api::<Service>::namespaced(ctx.client.clone(), &ns),
            svc,
            &label,
            &plain,
        )
        .await?;
    }
    if let Some(ing) = release.and_then(|r| r.ingress.as_deref()) {
        label_if_present(
            Api::<Ingress>::namespaced(ctx.client.clone(), &ns),
            ing,
            &label,
            &plain,
        )
        .await?;
    }
    for step in system.spec.steps() {
        let (kind, name) = match step.action() {
            Some(StepAction::Scale(s)) => (s.kind, s.name.as_str()),
            Some(StepAction::RolloutRestart(w)) => (w.kind, w.name.as_str()),
            _ => continue,
        };
        match kind {
            WorkloadKind::Deployment => {
                label_if_present(
                    Api::<Deployment>::namespaced(ctx.client.clone(), &ns),
                    name,
                    &label,
                    &plain,
                )
                .await?
            }
            WorkloadKind::StatefulSet => {
                label_if_present(
                    Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns),
                    name,
                    &label,
                    &plain,
                )
                .await?
            }
        }
    }
    Ok(())
}

async fn label_if_present<K>(
    api: Api<K>,
    name: &str,
    patch: &Patch<serde_json::Value>,
    pp: &PatchParams,
) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.patch(name, pp, patch).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Kube {
            action: format!("label {name} with its released stage"),
            source: e,
        }),
    }
}
