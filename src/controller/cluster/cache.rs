//! The operator's caches of the lifeline objects a reconcile reads (ClinicalSystems,
//! Approvals, Interventions): kube-runtime reflector stores filled by the very watch
//! streams that wake the plan controller, so a reconcile an event triggers always sees
//! that event in the cache, and a reconcile makes no LIST of them. The first reconcile
//! waits until each cache holds its initial list: an operator that has just started never
//! decides from an empty cache.

use kube::{ResourceExt, api::DynamicObject, runtime::reflector::Store};
use serde::de::DeserializeOwned;

/// Which cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ClinicalSystems.
    Systems,
    /// Approvals.
    Approvals,
    /// Interventions.
    Interventions,
}

/// The caches of one watch scope: every namespace (`namespace` none), or one.
#[derive(Clone)]
pub struct Scope {
    /// The namespace watched, none for all.
    pub namespace: Option<String>,
    /// ClinicalSystems.
    pub systems: Option<Store<DynamicObject>>,
    /// Approvals (watched in the plans' namespaces only).
    pub approvals: Option<Store<DynamicObject>>,
    /// Interventions (watched in the plans' namespaces only).
    pub interventions: Option<Store<DynamicObject>>,
}

/// The caches of every scope the operator watches.
#[derive(Clone, Default)]
pub struct Caches {
    /// One per watch scope.
    pub scopes: Vec<Scope>,
}

impl Caches {
    /// The cache of `kind` that holds the objects of `namespace`, if one does.
    pub fn covering(&self, kind: Kind, namespace: &str) -> Option<&Store<DynamicObject>> {
        self.scopes
            .iter()
            .find(|s| s.namespace.as_deref().is_none_or(|n| n == namespace))
            .and_then(|s| match kind {
                Kind::Systems => s.systems.as_ref(),
                Kind::Approvals => s.approvals.as_ref(),
                Kind::Interventions => s.interventions.as_ref(),
            })
    }
}

/// Every object of `namespace` in `store`, by name, parsed one by one as `K` (with the
/// name and error of each that does not parse). Waits until the store holds its initial
/// list.
pub async fn parsed_in<K>(
    store: &Store<DynamicObject>,
    namespace: &str,
) -> (Vec<K>, Vec<(String, String)>)
where
    K: DeserializeOwned,
{
    // The writer lives as long as the controller; if it is gone, so is the operator.
    let _ = store.wait_until_ready().await;
    let mut objects: Vec<_> = store
        .state()
        .into_iter()
        .filter(|o| o.namespace().as_deref() == Some(namespace))
        .collect();
    objects.sort_by_key(|o| o.name_any());
    super::parse_each(objects.iter().map(|o| o.as_ref()))
}

/// The Deployments and StatefulSets the plan controller watches, cached per scope.
#[derive(Clone, Default)]
pub struct Workloads {
    /// (namespace watched, none for all; its Deployments; its StatefulSets).
    pub scopes: Vec<(
        Option<String>,
        Store<k8s_openapi::api::apps::v1::Deployment>,
        Store<k8s_openapi::api::apps::v1::StatefulSet>,
    )>,
}

impl Workloads {
    /// The cached state of a workload, if the cache of its namespace has it (and holds its
    /// initial list).
    pub fn state(
        &self,
        namespace: &str,
        kind: crate::api::v1alpha1::WorkloadKind,
        name: &str,
    ) -> Option<crate::controller::steps::workload::WorkloadState> {
        use crate::api::v1alpha1::WorkloadKind;
        use crate::controller::steps::workload::{of_deployment, of_statefulset};
        let (_, deployments, statefulsets) = self
            .scopes
            .iter()
            .find(|(n, _, _)| n.as_deref().is_none_or(|n| n == namespace))?;
        match kind {
            WorkloadKind::Deployment => deployments
                .get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
                .map(|d| of_deployment(&d)),
            WorkloadKind::StatefulSet => statefulsets
                .get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
                .map(|s| of_statefulset(&s)),
        }
    }
}

/// What a cache keeps of an object: managed fields and kubectl's last-applied copy of the
/// object never, and of a kind whatever no reconcile reads. An estate's Deployments carry
/// pod templates of several KiB each (containers, environment, volumes); the operator reads
/// only their replicas, status, selector and template annotations.
pub trait Trim {
    /// Drops from `self` what the operator never reads.
    fn trim(&mut self);
}

/// The annotation `kubectl apply` keeps a whole copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn trim_metadata(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

impl Trim for DynamicObject {
    fn trim(&mut self) {
        trim_metadata(&mut self.metadata);
    }
}

impl Trim for k8s_openapi::api::apps::v1::Deployment {
    fn trim(&mut self) {
        trim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.template.spec = None;
        }
    }
}

impl Trim for k8s_openapi::api::apps::v1::StatefulSet {
    fn trim(&mut self) {
        trim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.template.spec = None;
            spec.volume_claim_templates = None;
        }
    }
}

/// A watch of `api` that fills a cache: the cache, and the stream of touched objects that
/// wakes the controller (each event is in the cache by the time it is yielded). What is
/// kept is trimmed ([`Trim`]).
pub fn cached_watch<K>(
    api: kube::Api<K>,
    dyntype: K::DynamicType,
    config: kube::runtime::watcher::Config,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: kube::Resource + Trim + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync + 'static,
{
    use kube::runtime::{WatchStreamExt as _, reflector::store::Writer};
    let writer = Writer::new(dyntype);
    let reader = writer.as_reader();
    let stream = kube::runtime::watcher(api, config)
        .default_backoff()
        .modify(Trim::trim)
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// The objects of a cached watch stream whose change matters to the plans: everything
/// but a change of the status alone (the operator writes ClinicalSystem status itself,
/// and must not wake every plan of the namespace for it). An object gone from `cache`
/// (deleted) always passes.
pub fn without_status_only_changes<S>(
    stream: S,
    cache: Store<DynamicObject>,
    resource: kube::api::ApiResource,
) -> impl futures::Stream<Item = S::Item> + Send + 'static
where
    S: futures::Stream<Item = Result<DynamicObject, kube::runtime::watcher::Error>>
        + Send
        + 'static,
{
    use futures::StreamExt as _;
    use std::hash::{Hash, Hasher};
    let mut last: std::collections::HashMap<(Option<String>, String), u64> = Default::default();
    stream.filter(move |item| {
        let pass = match item {
            Err(_) => true,
            Ok(o) => {
                let key = (o.namespace(), o.name_any());
                let present = cache
                    .get(&kube::runtime::reflector::ObjectRef::from_obj_with(
                        o,
                        resource.clone(),
                    ))
                    .is_some();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                o.metadata.generation.hash(&mut h);
                o.metadata.uid.hash(&mut h);
                o.metadata.deletion_timestamp.is_some().hash(&mut h);
                serde_json::to_string(&o.metadata.labels)
                    .unwrap_or_default()
                    .hash(&mut h);
                serde_json::to_string(&o.metadata.annotations)
                    .unwrap_or_default()
                    .hash(&mut h);
                serde_json::to_string(o.data.get("spec").unwrap_or(&serde_json::Value::Null))
                    .unwrap_or_default()
                    .hash(&mut h);
                let fingerprint = h.finish();
                if !present {
                    last.remove(&key);
                    true
                } else {
                    last.insert(key, fingerprint) != Some(fingerprint)
                }
            }
        };
        std::future::ready(pass)
    })
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use kube::{
        api::{ApiResource, DynamicObject, GroupVersionKind},
        runtime::{reflector::store::Writer, watcher::Event},
    };

    use super::without_status_only_changes;

    #[test]
    fn trimmed_workloads_read_as_before_and_keep_no_pod_spec() {
        use super::Trim as _;
        use crate::controller::steps::workload::{of_deployment, of_statefulset};
        let template = serde_json::json!({
            "metadata": { "labels": { "app": "pas" }, "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-12-03T10:00:00Z" } },
            "spec": { "containers": [{ "name": "pas", "image": "pas:1",
                "env": [{ "name": "A", "value": "x".repeat(4096) }] }] }
        });
        let meta = serde_json::json!({
            "name": "pas", "namespace": "ward", "generation": 4,
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me" },
            "managedFields": [{ "manager": "kubectl", "operation": "Apply" }]
        });
        let d: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
            "metadata": meta,
            "spec": { "replicas": 3, "selector": { "matchLabels": { "app": "pas" } }, "template": template },
            "status": { "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2 }
        }))
        .expect("deployment");
        let mut trimmed = d.clone();
        trimmed.trim();
        assert_eq!(of_deployment(&trimmed), of_deployment(&d));
        assert!(
            trimmed
                .spec
                .as_ref()
                .is_some_and(|s| s.template.spec.is_none())
        );
        assert!(trimmed.metadata.managed_fields.is_none());
        let annotations = trimmed.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["keep"]);
        let (kept, was) = (json_len(&trimmed), json_len(&d));
        assert!(kept * 4 < was, "{kept} of {was} bytes kept");

        let s: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(serde_json::json!({
            "metadata": meta,
            "spec": { "replicas": 2, "serviceName": "pas", "selector": { "matchLabels": { "app": "pas" } },
                "template": template,
                "volumeClaimTemplates": [{ "metadata": { "name": "data" }, "spec": { "accessModes": ["ReadWriteOnce"] } }] },
            "status": { "observedGeneration": 4, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                "currentRevision": "r1", "updateRevision": "r1" }
        }))
        .expect("statefulset");
        let mut trimmed = s.clone();
        trimmed.trim();
        assert_eq!(of_statefulset(&trimmed), of_statefulset(&s));
        assert!(
            trimmed
                .spec
                .as_ref()
                .is_some_and(|x| x.volume_claim_templates.is_none())
        );
    }

    /// The size of an object as JSON, for comparing what a cache keeps.
    fn json_len<T: serde::Serialize>(v: &T) -> usize {
        serde_json::to_vec(v).map_or(0, |v| v.len())
    }

    fn system(labels: &[(&str, &str)], phase: &str) -> DynamicObject {
        let resource = resource();
        let mut o = DynamicObject::new("lab", &resource).within("ward");
        o.metadata.uid = Some("u1".into());
        o.metadata.generation = Some(1);
        o.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        o.data =
            serde_json::json!({ "spec": { "tier": "critical" }, "status": { "phase": phase } });
        o
    }

    fn resource() -> ApiResource {
        ApiResource::from_gvk(&GroupVersionKind::gvk(
            "lifeline.dev",
            "v1alpha1",
            "ClinicalSystem",
        ))
    }

    #[tokio::test]
    async fn a_change_of_status_alone_wakes_nobody_and_a_deletion_always_does() {
        let mut writer = Writer::new(resource());
        let reader = writer.as_reader();
        let first = system(&[("estate", "lab")], "Restoring");
        let status_only = system(&[("estate", "lab")], "Verified");
        let relabelled = system(&[("estate", "other")], "Verified");
        for o in [&first, &status_only, &relabelled] {
            writer.apply_watcher_event(&Event::Apply(o.clone()));
        }
        let items: Vec<Result<DynamicObject, kube::runtime::watcher::Error>> = vec![
            Ok(first.clone()),
            Ok(status_only.clone()),
            Ok(relabelled.clone()),
        ];
        let passed: Vec<DynamicObject> =
            without_status_only_changes(futures::stream::iter(items), reader.clone(), resource())
                .filter_map(|r| async move { r.ok() })
                .collect()
                .await;
        let phases: Vec<String> = passed
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o.data["status"]["phase"].as_str().unwrap_or_default(),
                    o.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("estate"))
                        .cloned()
                        .unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            phases,
            ["Restoring lab", "Verified other"],
            "the status-only change is dropped"
        );

        // Deleted: gone from the cache, it passes even though nothing else changed.
        writer.apply_watcher_event(&Event::Delete(relabelled.clone()));
        let items: Vec<Result<DynamicObject, kube::runtime::watcher::Error>> =
            vec![Ok(relabelled.clone()), Ok(relabelled.clone())];
        let after: Vec<_> =
            without_status_only_changes(futures::stream::iter(items), reader, resource())
                .collect()
                .await;
        assert_eq!(after.len(), 2, "a deletion always wakes the plans");
    }
}
