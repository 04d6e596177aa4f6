//! `deletePods`: the recorded pods deleted, each by uid (a replacement with the same name
//! is spared); observed as the pods the fault's selector matches.

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::LabelSelector};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Preconditions},
};

use crate::{
    controller::Context,
    engine::drill::PodSeen,
    error::{Error, KubeContext},
};

/// The pods in `ns` that `sel` matches and that are not being deleted.
pub async fn pods_matching(
    ctx: &Context,
    ns: &str,
    sel: &LabelSelector,
) -> Result<Vec<PodSeen>, Error> {
    let selector =
        kube::core::Selector::try_from(sel.clone()).map_err(|e| Error::InvalidObject {
            what: format!("a drill's pod selector in {ns}"),
            message: e.to_string(),
        })?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    Ok(pods
        .list(&ListParams::default().labels_from(&selector))
        .await
        .during(|| format!("list pods in {ns}"))?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            Some(PodSeen {
                uid: p.metadata.uid.clone()?,
                name: p.name_any(),
            })
        })
        .collect())
}

/// Deletes each of `pods` if it is still the pod with that uid.
pub async fn delete(ctx: &Context, ns: &str, pods: &[PodSeen]) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    for p in pods {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(p.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&p.name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e).during(|| format!("delete pod {ns}/{}", p.name)),
        }
    }
    Ok(())
}
