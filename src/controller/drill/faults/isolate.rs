//! `isolate`: a deny-all (ingress and egress) NetworkPolicy selecting the system's pods,
//! owned by the drill and labelled with it; deleted when the fault is lifted. Also the
//! policies a revert deletes or puts back as they were.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::networking::v1::{NetworkPolicy, NetworkPolicySpec},
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::json;

use crate::{
    controller::{Context, FIELD_MANAGER},
    engine::drill::{DRILL_LABEL, PolicySeen},
    error::{Error, KubeContext},
};

/// Applies the deny-all policy `name` for `system` of drill `drill`.
pub async fn apply(
    ctx: &Context,
    ns: &str,
    drill: &str,
    owner: OwnerReference,
    name: &str,
    system: &str,
    sel: &LabelSelector,
) -> Result<(), Error> {
    let policy = NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([
                (DRILL_LABEL.to_string(), drill.to_string()),
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "lifeline".to_string(),
                ),
            ])),
            annotations: Some(BTreeMap::from([(
                "lifeline.dev/purpose".to_string(),
                format!("drill {drill} isolates {system}: no traffic in or out"),
            )])),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(sel.clone()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![]),
            egress: Some(vec![]),
        }),
    };
    let mut body = serde_json::to_value(&policy).map_err(|source| Error::Serialize {
        what: format!("NetworkPolicy {name}"),
        source,
    })?;
    body["apiVersion"] = json!("networking.k8s.io/v1");
    body["kind"] = json!("NetworkPolicy");
    server_side_apply(ctx, ns, name, &body, "create").await
}

/// Makes release gate `gate` of `system` admit nobody while drill `drill` isolates it,
/// if the gate is there: a merge patch of its ingress alone, so that the plan that owns
/// it applies it again whole when it next acts on it, and a revert that puts back the spec
/// recorded before the drill leaves the gate exactly as it was (its annotations are not
/// touched).
pub async fn shut_gate(
    ctx: &Context,
    ns: &str,
    drill: &str,
    system: &str,
    gate: &str,
) -> Result<(), Error> {
    let patch = json!({ "spec": { "ingress": [] } });
    match api(ctx, ns)
        .patch(gate, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = %ns, drill = %drill, system = %system, gate = %gate, "release gate shut for the isolation");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).during(|| format!("shut release gate NetworkPolicy {ns}/{gate}")),
    }
}

/// Applies `body` as policy `name` with the operator's field manager.
async fn server_side_apply(
    ctx: &Context,
    ns: &str,
    name: &str,
    body: &serde_json::Value,
    what: &str,
) -> Result<(), Error> {
    api(ctx, ns)
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .during(|| format!("{what} NetworkPolicy {ns}/{name}"))?;
    Ok(())
}

fn api(ctx: &Context, ns: &str) -> Api<NetworkPolicy> {
    Api::namespaced(ctx.client.clone(), ns)
}

/// Deletes policy `name`; fine if it is gone already.
pub async fn delete(ctx: &Context, ns: &str, name: &str) -> Result<(), Error> {
    match api(ctx, ns).delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).during(|| format!("delete NetworkPolicy {ns}/{name}")),
    }
}

/// Puts policy `name` back with `spec`, as it was before the drill.
pub async fn restore(
    ctx: &Context,
    ns: &str,
    name: &str,
    spec: &serde_json::Value,
) -> Result<(), Error> {
    let body = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": name },
        "spec": spec,
    });
    server_side_apply(ctx, ns, name, &body, "restore").await
}

/// Policy `name` as it is, `None` when it does not exist.
pub async fn observe(ctx: &Context, ns: &str, name: &str) -> Result<Option<PolicySeen>, Error> {
    let p = api(ctx, ns)
        .get_opt(name)
        .await
        .during(|| format!("read NetworkPolicy {ns}/{name}"))?;
    Ok(p.map(|p| PolicySeen {
        drill: p.labels().get(DRILL_LABEL).cloned(),
        spec: p.spec.and_then(|s| serde_json::to_value(s).ok()),
    }))
}
