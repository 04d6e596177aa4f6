//! What the controller's reconcilers share in talking to the API server: reading an
//! object fresh before deciding, listing lifeline objects one by one, writing status, and
//! who the operator is ([`identity`]), when it could not reach the API server
//! ([`outage`]), the caches a reconcile reads instead of listing ([`cache`]), and the count of the
//! operator's own requests ([`requests`]).

pub mod cache;
pub mod identity;
pub mod outage;
pub mod progress;
pub mod requests;

use std::{future::Future, sync::Arc};

use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action as Requeue,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use super::{Context, FIELD_MANAGER};
use crate::error::{Error, KubeContext};

/// Reconciles `obj` from a fresh read of it, not the watch cache, unless the cache holds
/// exactly the version this process wrote last ([`Context::written`]): a requeue can come
/// before the watch delivers this operator's own last status write, and deciding from
/// that older status would repeat a transition (start a drill run twice, record a
/// pre-drill state after the faults, repeat an Event). A cached object at the version
/// this process's own last write produced is that write, so it needs no read; any other
/// version (someone else's change, a write of ours the watch has not delivered, a
/// process that has not written the object since it started) is read fresh. An object
/// gone by then needs nothing but `gone` (forgetting it). Each reconcile's duration and
/// error go to the metrics.
pub async fn reconcile_fresh<K, F, Fut>(
    obj: Arc<K>,
    ctx: Arc<Context>,
    gone: impl FnOnce(&Context, &str, &str),
    inner: F,
) -> Result<Requeue, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    F: FnOnce(K, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Requeue, Error>>,
{
    let started = std::time::Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let metrics = ctx.metrics.clone();
    let ours = obj
        .uid()
        .and_then(|uid| ctx.written_version(&uid))
        .is_some_and(|rv| obj.resource_version().as_deref() == Some(rv.as_str()));
    let fresh = if ours {
        Ok(Some((*obj).clone()))
    } else {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        api.get_opt(&name)
            .await
            .during(|| format!("read {} {ns}/{name}", K::kind(&())))
    };
    let result = match fresh {
        Ok(Some(fresh)) => inner(fresh, ctx).await,
        Ok(None) => {
            if let Some(uid) = obj.uid() {
                ctx.forget_written(&uid);
            }
            gone(&ctx, &ns, &name);
            Ok(Requeue::await_change())
        }
        Err(e) => Err(e),
    };
    metrics.observe_reconcile(started.elapsed(), result.as_ref().err());
    result
}

/// Writes `status` to `K`'s status subresource by server-side apply with the operator's
/// field manager, unless it equals `prev`: the one way plans and drills record status.
pub async fn apply_status<K, S>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    prev: &S,
    status: &S,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if prev == status {
        return Ok(());
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    patch_status::<K>(
        ctx,
        namespace,
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        Patch::Apply(body),
        "the status",
    )
    .await
}

/// Patches `K`'s status subresource and remembers the version written
/// ([`Context::wrote`]).
async fn patch_status<K>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    params: &PatchParams,
    patch: Patch<serde_json::Value>,
    what: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let written = api
        .patch_status(name, params, &patch)
        .await
        .during(|| format!("write {what} of {} {namespace}/{name}", K::kind(&())))?;
    ctx.wrote(&written);
    Ok(())
}

/// How many requests of one kind (Events, scale patches) one reconcile has in flight at
/// once.
pub const FAN_OUT: usize = 16;

/// Runs `work`, at most [`FAN_OUT`] at a time, and gives each one's output in `work`'s
/// order.
pub async fn bounded<'a, T: Send + 'a>(work: Vec<futures::future::BoxFuture<'a, T>>) -> Vec<T> {
    use futures::StreamExt;
    futures::stream::iter(work)
        .buffered(FAN_OUT)
        .collect::<Vec<T>>()
        .await
}

/// Replaces only the conditions in `K`'s status (a merge patch, which leaves every
/// other status field as stored): for when the whole status cannot be stored.
pub async fn merge_status_conditions<K>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    patch_status::<K>(
        ctx,
        namespace,
        name,
        &PatchParams::default(),
        Patch::Merge(json!({ "status": { "conditions": conditions } })),
        "the conditions",
    )
    .await
}

/// Lists a lifeline kind in `namespace` and parses each object on its own: the well-formed
/// ones, and the names of the malformed ones with why (the field path included).
pub async fn list_parsed<K>(
    client: &Client,
    namespace: &str,
) -> Result<(Vec<K>, Vec<(String, String)>), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<cache::Parsed<K>> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&Default::default())
        .await
        .during(|| format!("list {} in {namespace}", K::plural(&())))?;
    let (good, bad) = cache::split(list.items.iter());
    drop(list);
    Ok((good.into_iter().map(Arc::unwrap_or_clone).collect(), bad))
}
