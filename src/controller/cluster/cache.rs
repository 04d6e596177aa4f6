//! The operator's caches of the lifeline objects a reconcile reads (ClinicalSystems,
//! Approvals, Interventions): kube-runtime reflector stores filled by the very watch
//! streams that wake the plan controller, so a reconcile an event triggers always sees
//! that event in the cache, and a reconcile makes no LIST of them. The first reconcile
//! waits until each cache holds its initial list: an operator that has just started never
//! decides from an empty cache.

use std::{borrow::Cow, hash::Hasher, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt, runtime::reflector::Store};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};

use crate::{
    api::v1alpha1::{Approval, ClinicalSystem, Intervention},
    controller::steps::workload::WorkloadState,
};

/// A lifeline object as the operator's caches keep it: parsed into its type once, as the
/// watch (or a list) delivers it, not at every reconcile that reads it, and without the
/// JSON maps of a dynamic object. One that does not parse as its type is kept as its
/// metadata and why (the field path included), so that it cannot break the watch, or a
/// reconcile, for every other object: each is parsed on its own.
#[derive(Debug)]
pub struct Parsed<K> {
    object: Result<Arc<K>, Malformed>,
    /// What a change of the object that matters to a plan changes (everything but its
    /// status and its version), hashed: see [`without_status_only_changes`].
    fingerprint: u64,
}

/// An object that does not parse as its type.
#[derive(Clone, Debug)]
struct Malformed {
    metadata: ObjectMeta,
    error: Arc<str>,
}

impl<K> Clone for Parsed<K> {
    fn clone(&self) -> Self {
        Self {
            object: self.object.clone(),
            fingerprint: self.fingerprint,
        }
    }
}

impl<K> Parsed<K> {
    /// The object, or why it does not parse.
    pub fn object(&self) -> Result<&Arc<K>, &str> {
        self.object.as_ref().map_err(|m| &*m.error)
    }
}

impl<K: Resource<DynamicType = ()> + DeserializeOwned> Parsed<K> {
    /// Parses `value` as `K`, without what no reconcile reads ([`strip_value_metadata`]).
    pub fn from_value(mut value: serde_json::Value) -> Self {
        let fingerprint = fingerprint(&value);
        if let Some(meta) = value.get_mut("metadata") {
            strip_value_metadata(meta);
        }
        let metadata = || {
            value
                .get("metadata")
                .and_then(|m| ObjectMeta::deserialize(m).ok())
                .unwrap_or_default()
        };
        let object = match serde_path_to_error::deserialize::<_, K>(&value) {
            Ok(k) => Ok(Arc::new(k)),
            Err(e) => {
                let path = e.path().to_string();
                Err(Malformed {
                    metadata: metadata(),
                    error: format!("{path}: {}", e.into_inner()).into(),
                })
            }
        };
        Self {
            object,
            fingerprint,
        }
    }
}

impl<'de, K: Resource<DynamicType = ()> + DeserializeOwned> Deserialize<'de> for Parsed<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Self::from_value)
    }
}

impl<K> Resource for Parsed<K>
where
    K: Resource<DynamicType = ()> + Clone,
{
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match &self.object {
            Ok(k) => k.meta(),
            Err(m) => &m.metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match &mut self.object {
            Ok(k) => Arc::make_mut(k).meta_mut(),
            Err(m) => &mut m.metadata,
        }
    }
}

/// A change that matters to a plan: the object's identity, generation, deletion, labels,
/// annotations and spec (not its status, nor its resource version), hashed.
fn fingerprint(value: &serde_json::Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let meta = &value["metadata"];
    for field in ["uid", "generation", "labels"] {
        h.write(meta[field].to_string().as_bytes());
    }
    h.write_u8(u8::from(!meta["deletionTimestamp"].is_null()));
    let mut annotations = meta["annotations"].clone();
    if let Some(a) = annotations.as_object_mut() {
        a.remove(LAST_APPLIED);
    }
    h.write(annotations.to_string().as_bytes());
    h.write(value["spec"].to_string().as_bytes());
    h.finish()
}

/// The lifeline kinds a reconcile reads from the operator's caches.
pub trait Cached:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync
{
    /// This kind's cache in `scope`, if the scope watches it.
    fn store(scope: &Scope) -> Option<&Store<Parsed<Self>>>;
}

impl Cached for ClinicalSystem {
    fn store(scope: &Scope) -> Option<&Store<Parsed<Self>>> {
        scope.systems.as_ref()
    }
}

impl Cached for Approval {
    fn store(scope: &Scope) -> Option<&Store<Parsed<Self>>> {
        scope.approvals.as_ref()
    }
}

impl Cached for Intervention {
    fn store(scope: &Scope) -> Option<&Store<Parsed<Self>>> {
        scope.interventions.as_ref()
    }
}

/// The caches of one watch scope: every namespace (`namespace` none), or one.
#[derive(Clone)]
pub struct Scope {
    /// The namespace watched, none for all.
    pub namespace: Option<String>,
    /// ClinicalSystems.
    pub systems: Option<Store<Parsed<ClinicalSystem>>>,
    /// Approvals (watched in the plans' namespaces only).
    pub approvals: Option<Store<Parsed<Approval>>>,
    /// Interventions (watched in the plans' namespaces only).
    pub interventions: Option<Store<Parsed<Intervention>>>,
}

/// The caches of every scope the operator watches.
#[derive(Clone, Default)]
pub struct Caches {
    /// One per watch scope.
    pub scopes: Vec<Scope>,
}

impl Caches {
    /// The cache of `K` that holds the objects of `namespace`, if one does.
    pub fn covering<K: Cached>(&self, namespace: &str) -> Option<&Store<Parsed<K>>> {
        self.scopes
            .iter()
            .find(|s| s.namespace.as_deref().is_none_or(|n| n == namespace))
            .and_then(K::store)
    }
}

/// Every object of `namespace` in `store`, by name (with the name and error of each that
/// does not parse). Waits until the store holds its initial list.
pub async fn parsed_in<K>(
    store: &Store<Parsed<K>>,
    namespace: &str,
) -> (Vec<Arc<K>>, Vec<(String, String)>)
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    // The writer lives as long as the controller; if it is gone, so is the operator.
    let _ = store.wait_until_ready().await;
    let mut objects: Vec<_> = store
        .state()
        .into_iter()
        .filter(|o| o.namespace().as_deref() == Some(namespace))
        .collect();
    objects.sort_by_key(|o| o.name_any());
    split(objects.iter().map(|o| o.as_ref()))
}

/// The well-formed objects of `objects`, and the name and error of each malformed one.
pub fn split<'a, K>(
    objects: impl Iterator<Item = &'a Parsed<K>>,
) -> (Vec<Arc<K>>, Vec<(String, String)>)
where
    K: Resource<DynamicType = ()> + Clone + 'a,
{
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for o in objects {
        match o.object() {
            Ok(k) => good.push(k.clone()),
            Err(e) => bad.push((o.name_any(), e.to_string())),
        }
    }
    (good, bad)
}

/// A Deployment or StatefulSet as the workload cache keeps it: its identity and what a
/// step or a check reads of it ([`WorkloadState`]), nothing else. An estate's Deployments
/// carry pod templates of several KiB each (containers, environment, volumes), managed
/// fields and conditions; a reconcile reads none of them.
#[derive(Debug)]
pub struct Workload<K> {
    metadata: ObjectMeta,
    /// What the workload's spec and status say.
    pub state: WorkloadState,
    kind: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for Workload<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            state: self.state.clone(),
            kind: std::marker::PhantomData,
        }
    }
}

/// A kind of workload the operator scales and checks.
pub trait Rolls: Resource<DynamicType = ()> + DeserializeOwned {
    /// What `self`'s spec and status say.
    fn state(&self) -> WorkloadState;
}

impl Rolls for Deployment {
    fn state(&self) -> WorkloadState {
        crate::controller::steps::workload::of_deployment(self)
    }
}

impl Rolls for StatefulSet {
    fn state(&self) -> WorkloadState {
        crate::controller::steps::workload::of_statefulset(self)
    }
}

impl<K: Rolls> Workload<K> {
    /// What the cache keeps of `k`.
    pub fn of(k: &K) -> Self {
        let m = k.meta();
        Self {
            metadata: ObjectMeta {
                name: m.name.clone(),
                namespace: m.namespace.clone(),
                uid: m.uid.clone(),
                resource_version: m.resource_version.clone(),
                generation: m.generation,
                deletion_timestamp: m.deletion_timestamp.clone(),
                ..Default::default()
            },
            state: k.state(),
            kind: std::marker::PhantomData,
        }
    }
}

impl<'de, K: Rolls> Deserialize<'de> for Workload<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        K::deserialize(d).map(|k| Self::of(&k))
    }
}

impl<K: Rolls> Resource for Workload<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The workloads of one watch scope: (namespace watched, none for all; its Deployments;
/// its StatefulSets).
pub type WorkloadScope = (
    Option<String>,
    Store<Workload<Deployment>>,
    Store<Workload<StatefulSet>>,
);

/// The Deployments and StatefulSets the plan controller watches, cached per scope.
#[derive(Clone, Default)]
pub struct Workloads {
    /// One per watch scope.
    pub scopes: Vec<WorkloadScope>,
}

impl Workloads {
    /// The cached state of a workload, if the cache of its namespace has it (and holds its
    /// initial list).
    pub fn state(
        &self,
        namespace: &str,
        kind: crate::api::v1alpha1::WorkloadKind,
        name: &str,
    ) -> Option<WorkloadState> {
        use crate::api::v1alpha1::WorkloadKind;
        let (_, deployments, statefulsets) = self
            .scopes
            .iter()
            .find(|(n, _, _)| n.as_deref().is_none_or(|n| n == namespace))?;
        use kube::runtime::reflector::ObjectRef;
        match kind {
            WorkloadKind::Deployment => deployments
                .get(&ObjectRef::new(name).within(namespace))
                .map(|d| d.state.clone()),
            WorkloadKind::StatefulSet => statefulsets
                .get(&ObjectRef::new(name).within(namespace))
                .map(|s| s.state.clone()),
        }
    }
}

/// The annotation `kubectl apply` keeps a whole copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops from an object's metadata, before it is parsed, what no reconcile reads: its
/// managed fields and kubectl's last-applied copy of the whole object.
fn strip_value_metadata(meta: &mut serde_json::Value) {
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
        if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            a.remove(LAST_APPLIED);
        }
    }
}

/// A watch of `api` that fills a cache: the cache, and the stream of touched objects that
/// wakes the controller (each event is in the cache by the time it is yielded).
pub fn cached_watch<K>(
    api: kube::Api<K>,
    config: kube::runtime::watcher::Config,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use kube::runtime::{WatchStreamExt as _, reflector::store::Writer};
    let writer = Writer::new(());
    let reader = writer.as_reader();
    let stream = kube::runtime::watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// The objects of a cached watch stream whose change matters to the plans: everything
/// but a change of the status alone (the operator writes ClinicalSystem status itself,
/// and must not wake every plan of the namespace for it). An object gone from `cache`
/// (deleted) always passes.
pub fn without_status_only_changes<S, K>(
    stream: S,
    cache: Store<Parsed<K>>,
) -> impl futures::Stream<Item = S::Item> + Send + 'static
where
    S: futures::Stream<Item = Result<Parsed<K>, kube::runtime::watcher::Error>> + Send + 'static,
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    use futures::StreamExt as _;
    let mut last: std::collections::HashMap<(Option<String>, String), u64> = Default::default();
    stream.filter(move |item| {
        let pass = match item {
            Err(_) => true,
            Ok(o) => {
                let key = (o.namespace(), o.name_any());
                let present = cache
                    .get(&kube::runtime::reflector::ObjectRef::from_obj(o))
                    .is_some();
                if !present {
                    last.remove(&key);
                    true
                } else {
                    last.insert(key, o.fingerprint) != Some(o.fingerprint)
                }
            }
        };
        std::future::ready(pass)
    })
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use kube::{
        ResourceExt as _,
        runtime::{reflector::store::Writer, watcher::Event},
    };

    use super::{Parsed, Workload, without_status_only_changes};
    use crate::api::v1alpha1::ClinicalSystem;

    #[test]
    fn cached_workloads_read_as_the_whole_object_and_keep_nothing_else() {
        use crate::controller::steps::workload::{of_deployment, of_statefulset};
        let template = serde_json::json!({
            "metadata": { "labels": { "app": "pas" }, "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-12-03T10:00:00Z" } },
            "spec": { "containers": [{ "name": "pas", "image": "pas:1",
                "env": [{ "name": "A", "value": "x".repeat(4096) }] }] }
        });
        let meta = serde_json::json!({
            "name": "pas", "namespace": "ward", "generation": 4, "uid": "u1",
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me" },
            "managedFields": [{ "manager": "kubectl", "operation": "Apply" }]
        });
        let deployment = serde_json::json!({
            "metadata": meta,
            "spec": { "replicas": 3, "selector": { "matchLabels": { "app": "pas" } }, "template": template },
            "status": { "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2 }
        });
        let d: Deployment = serde_json::from_value(deployment.clone()).expect("deployment");
        let cached: Workload<Deployment> =
            serde_json::from_value(deployment).expect("cached deployment");
        assert_eq!(cached.state, of_deployment(&d));
        assert_eq!(
            cached.state.template_annotations.keys().collect::<Vec<_>>(),
            ["kubectl.kubernetes.io/restartedAt"],
            "the restart token is read from the template's annotations"
        );
        assert_eq!(
            (cached.name_any(), cached.namespace(), cached.uid()),
            (
                "pas".to_string(),
                Some("ward".to_string()),
                Some("u1".to_string())
            )
        );
        assert!(cached.metadata.managed_fields.is_none());
        assert!(cached.metadata.annotations.is_none());
        assert!(cached.metadata.labels.is_none());

        let statefulset = serde_json::json!({
            "metadata": meta,
            "spec": { "replicas": 2, "serviceName": "pas", "selector": { "matchLabels": { "app": "pas" } },
                "template": template,
                "volumeClaimTemplates": [{ "metadata": { "name": "data" }, "spec": { "accessModes": ["ReadWriteOnce"] } }] },
            "status": { "observedGeneration": 4, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                "currentRevision": "r1", "updateRevision": "r1" }
        });
        let s: StatefulSet = serde_json::from_value(statefulset.clone()).expect("statefulset");
        let cached: Workload<StatefulSet> =
            serde_json::from_value(statefulset).expect("cached statefulset");
        assert_eq!(cached.state, of_statefulset(&s));
    }

    fn system(labels: serde_json::Value, tier: &str, phase: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": "lab", "namespace": "ward", "uid": "u1", "generation": 1,
                "resourceVersion": phase, "labels": labels,
                "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{...}" },
                "managedFields": [{ "manager": "kubectl", "operation": "Apply" }] },
            "spec": { "displayName": "Lab", "tier": tier, "recoveryTimeObjective": "1h" },
            "status": { "phase": phase }
        })
    }

    #[test]
    fn a_system_is_parsed_once_and_a_malformed_one_is_kept_as_why() {
        let good = Parsed::<ClinicalSystem>::from_value(system(
            serde_json::json!({ "estate": "lab" }),
            "critical",
            "Restoring",
        ));
        let s = good.object().expect("well-formed");
        assert_eq!(s.spec.display_name, "Lab");
        assert!(
            s.metadata.managed_fields.is_none(),
            "managed fields are not kept"
        );
        assert!(
            s.metadata.annotations.as_ref().is_none_or(|a| a.is_empty()),
            "kubectl's last-applied copy is not kept"
        );

        let bad = Parsed::<ClinicalSystem>::from_value(system(
            serde_json::json!({ "estate": "lab" }),
            "urgent",
            "Restoring",
        ));
        let why = bad.object().expect_err("an unknown tier does not parse");
        assert!(why.starts_with("spec.tier: "), "{why}");
        assert_eq!(
            (bad.name_any(), bad.namespace().as_deref()),
            ("lab".into(), Some("ward"))
        );
        let (good_ones, bad_ones) = super::split([&good, &bad].into_iter());
        assert_eq!(good_ones.len(), 1);
        assert_eq!(bad_ones, vec![("lab".to_string(), why.to_string())]);
    }

    #[tokio::test]
    async fn a_change_of_status_alone_wakes_nobody_and_a_deletion_always_does() {
        let mut writer = Writer::new(());
        let reader = writer.as_reader();
        let parsed =
            |labels, phase| Parsed::<ClinicalSystem>::from_value(system(labels, "critical", phase));
        let first = parsed(serde_json::json!({ "estate": "lab" }), "Restoring");
        let status_only = parsed(serde_json::json!({ "estate": "lab" }), "Verified");
        let relabelled = parsed(serde_json::json!({ "estate": "other" }), "Verified");
        for o in [&first, &status_only, &relabelled] {
            writer.apply_watcher_event(&Event::Apply(o.clone()));
        }
        let items: Vec<Result<Parsed<ClinicalSystem>, kube::runtime::watcher::Error>> = vec![
            Ok(first.clone()),
            Ok(status_only.clone()),
            Ok(relabelled.clone()),
        ];
        let passed: Vec<Parsed<ClinicalSystem>> =
            without_status_only_changes(futures::stream::iter(items), reader.clone())
                .filter_map(|r| async move { r.ok() })
                .collect()
                .await;
        let seen: Vec<String> = passed
            .iter()
            .map(|o| {
                let s = o.object().expect("well-formed");
                format!(
                    "{} {}",
                    s.metadata.resource_version.clone().unwrap_or_default(),
                    s.labels().get("estate").cloned().unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            seen,
            ["Restoring lab", "Verified other"],
            "the status-only change is dropped"
        );

        // Deleted: gone from the cache, it passes even though nothing else changed.
        writer.apply_watcher_event(&Event::Delete(relabelled.clone()));
        let items: Vec<Result<Parsed<ClinicalSystem>, kube::runtime::watcher::Error>> =
            vec![Ok(relabelled.clone()), Ok(relabelled.clone())];
        let after: Vec<_> = without_status_only_changes(futures::stream::iter(items), reader)
            .collect()
            .await;
        assert_eq!(after.len(), 2, "a deletion always wakes the plans");
    }
}
