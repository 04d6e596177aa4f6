//! Reading Deployments and StatefulSets: how many replicas are wanted, updated, available.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::{Api, Client};

use crate::{
    api::v1alpha1::WorkloadKind,
    error::{Error, KubeContext},
};

/// What a workload's status says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadState {
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.replicas`: pods that exist.
    pub replicas: i32,
    /// Pods on the current pod template.
    pub updated: i32,
    /// Pods available (ready for minReadySeconds).
    pub available: i32,
    /// The controller has seen the latest spec.
    pub observed_current: bool,
    /// The pod template's annotations (for the restart token).
    pub template_annotations: std::collections::BTreeMap<String, String>,
}

impl WorkloadState {
    /// The latest spec is rolled out and every wanted pod is available, with no extra
    /// pods left over.
    pub fn rolled_out(&self) -> bool {
        self.observed_current
            && self.updated >= self.desired
            && self.available >= self.desired
            && self.replicas == self.desired
    }

    /// A short description for messages: "2/3 available".
    pub fn describe(&self) -> String {
        format!(
            "{}/{} available, {} updated{}",
            self.available,
            self.desired,
            self.updated,
            if self.observed_current {
                ""
            } else {
                ", spec not yet observed"
            }
        )
    }
}

/// Sets a workload's replicas through its scale subresource.
pub async fn set_replicas(
    client: &Client,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
    replicas: i32,
) -> Result<(), Error> {
    use kube::api::{Patch, PatchParams};
    let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": replicas } }));
    let pp = PatchParams::default();
    let what = || format!("scale {kind} {namespace}/{name} to {replicas}");
    match kind {
        WorkloadKind::Deployment => {
            Api::<Deployment>::namespaced(client.clone(), namespace)
                .patch_scale(name, &pp, &patch)
                .await
                .during(what)?;
        }
        WorkloadKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .patch_scale(name, &pp, &patch)
                .await
                .during(what)?;
        }
    }
    Ok(())
}

/// The label selector of a workload's pods (`spec.selector.matchLabels`), or `None` when
/// it does not exist.
pub async fn pod_labels(
    client: &Client,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, Error> {
    let what = || format!("read {kind} {namespace}/{name}");
    Ok(match kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .during(what)?
            .map(|d| {
                d.spec
                    .unwrap_or_default()
                    .selector
                    .match_labels
                    .unwrap_or_default()
            }),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .during(what)?
            .map(|s| {
                s.spec
                    .unwrap_or_default()
                    .selector
                    .match_labels
                    .unwrap_or_default()
            }),
    })
}

/// What a Deployment's spec and status say.
pub fn of_deployment(d: &Deployment) -> WorkloadState {
    let spec = d.spec.clone().unwrap_or_default();
    let st = d.status.clone().unwrap_or_default();
    WorkloadState {
        desired: spec.replicas.unwrap_or(1),
        replicas: st.replicas.unwrap_or(0),
        updated: st.updated_replicas.unwrap_or(0),
        available: st.available_replicas.unwrap_or(0),
        observed_current: st.observed_generation >= d.metadata.generation,
        template_annotations: spec
            .template
            .metadata
            .and_then(|m| m.annotations)
            .unwrap_or_default(),
    }
}

/// What a StatefulSet's spec and status say.
pub fn of_statefulset(s: &StatefulSet) -> WorkloadState {
    let spec = s.spec.clone().unwrap_or_default();
    let st = s.status.clone().unwrap_or_default();
    let revision_current = st.update_revision.is_none()
        || st.current_revision == st.update_revision
        || st.updated_replicas.unwrap_or(0) >= spec.replicas.unwrap_or(1);
    WorkloadState {
        desired: spec.replicas.unwrap_or(1),
        replicas: st.replicas,
        updated: st.updated_replicas.unwrap_or(0),
        available: st.available_replicas.unwrap_or(0),
        observed_current: st.observed_generation >= s.metadata.generation && revision_current,
        template_annotations: spec
            .template
            .metadata
            .and_then(|m| m.annotations)
            .unwrap_or_default(),
    }
}

/// The state of a workload, or `None` when it does not exist, read from the API server.
pub async fn state(
    client: &Client,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<WorkloadState>, Error> {
    let what = || format!("read {kind} {namespace}/{name}");
    Ok(match kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .during(what)?
            .map(|d| of_deployment(&d)),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .during(what)?
            .map(|s| of_statefulset(&s)),
    })
}

/// The state of a workload from the operator's cache of workloads (which the watches that
/// wake the plan controller fill), else from the API server: a workload the cache does not
/// have yet (created a moment ago) is read, never taken for missing. A cached state is a
/// past state of the server's, so a step waiting for its own target (a size, a rollout)
/// can only see it reached later, never sooner.
pub async fn state_cached(
    ctx: &crate::controller::Context,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<WorkloadState>, Error> {
    if let Some(found) = ctx
        .workloads
        .get()
        .and_then(|w| w.state(namespace, kind, name))
    {
        return Ok(Some(found));
    }
    state(&ctx.client, namespace, kind, name).await
}
