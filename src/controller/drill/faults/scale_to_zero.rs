//! `scaleToZero`: a workload scaled to zero through its scale subresource (and, on revert,
//! back to its recorded replicas); observed as its replicas and the pods it still has.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::delete_pods::pods_matching;
use crate::{
    api::v1alpha1::WorkloadRef,
    controller::{Context, steps::workload},
    engine::drill::WorkloadSeen,
    error::Error,
};

/// Sets `w`'s replicas.
pub async fn set_replicas(
    ctx: &Context,
    ns: &str,
    w: &WorkloadRef,
    replicas: i32,
) -> Result<(), Error> {
    workload::set_replicas(&ctx.client, ns, w.kind, &w.name, replicas).await
}

/// `w` as it is: replicas wanted and running, and its pods not being deleted; `None`
/// when it does not exist.
pub async fn observe(
    ctx: &Context,
    ns: &str,
    w: &WorkloadRef,
) -> Result<Option<WorkloadSeen>, Error> {
    let Some(st) = workload::state(&ctx.client, ns, w.kind, &w.name).await? else {
        return Ok(None);
    };
    let pods = match workload::pod_labels(&ctx.client, ns, w.kind, &w.name).await? {
        Some(labels) => {
            let sel = LabelSelector {
                match_labels: Some(labels),
                ..Default::default()
            };
            pods_matching(ctx, ns, &sel).await?.len()
        }
        None => 0,
    };
    Ok(Some(WorkloadSeen {
        desired: st.desired,
        replicas: st.replicas,
        pods,
    }))
}
