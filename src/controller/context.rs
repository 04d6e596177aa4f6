//! What every reconcile shares: the client, the Event recorder, the metrics, the caches
//! and what this process last wrote.

use std::sync::Arc;

use anyhow::Context as _;
use kube::{
    Client,
    runtime::{
        events::{Recorder, Reporter},
        reflector::Store,
    },
};
use tracing::warn;

use super::{FIELD_MANAGER, cluster, list_parsed, metrics, notify, plan, steps};
use crate::{
    api::v1alpha1::{Approval, RecoveryPlan},
    error::Error,
};

/// Shared by every reconcile.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes Kubernetes Events.
    pub recorder: Recorder,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The HTTP client for `http` checks: it follows no redirect.
    pub http: reqwest::Client,
    /// The HTTP client for `http` checks that follow redirects: on the same host only.
    pub http_same_host: reqwest::Client,
    /// Where `http` and `tcp` checks may connect.
    pub reach: Arc<steps::reach::Reach>,
    /// Plans (by uid) whose release gates this process has applied in full once: after a
    /// restart every gate is applied again, so a crash between recording a release and
    /// applying it loses nothing.
    pub gates_synced: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Queues webhook notifications, when a webhook is configured.
    pub notifier: Option<notify::Notifier>,
    /// The operator's own username (from a SelfSubjectReview): the requester of the plans
    /// that drills create.
    pub username: String,
    /// Held while a drill decides whether to start a run (see [`drill`](super::drill)).
    pub drill_starts: tokio::sync::Mutex<()>,
    /// The operator's cache of RecoveryPlans, once the controller runs: which systems
    /// other plans hold.
    pub plans: std::sync::OnceLock<Store<RecoveryPlan>>,
    /// What each plan claimed when this process last wrote its status.
    pub written_claims: std::sync::Mutex<plan::handover::Written>,
    /// The resourceVersion this process's last status write gave each plan and drill,
    /// by uid: a cached object at that version needs no fresh read.
    pub written: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// What this process last wrote to each ClinicalSystem's status, by "namespace/name"
    /// and uid: the same again is not written, whether or not the cache shows it yet.
    pub system_statuses: std::sync::Mutex<
        std::collections::HashMap<String, (String, crate::api::v1alpha1::ClinicalSystemStatus)>,
    >,
    /// Each plan's RecoveryProgress shards as this process last read or wrote them.
    pub progress: plan::progress::Memo,
    /// The unsealed RecoveryRecord chunk of each record as this process last wrote it, by
    /// namespace and name: the next append starts from it instead of reading it.
    pub chunks:
        std::sync::Mutex<std::collections::HashMap<String, crate::api::v1alpha1::RecoveryRecord>>,
    /// One lock per namespace, held from reading what other plans hold to recording what
    /// a plan claims there ([`Context::claim`]): plans whose systems share no namespace
    /// decide in parallel.
    pub claiming: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When the API server did not answer: that time counts against no timeout.
    pub outages: std::sync::Mutex<cluster::outage::Outages>,
    /// How long a recovery's record is kept after its plan was created.
    pub record_retention: std::time::Duration,
    /// The caches of what the plan controller watches, once it runs: a reconcile reads
    /// ClinicalSystems, Approvals and Interventions from them instead of listing them.
    pub caches: std::sync::OnceLock<cluster::cache::Caches>,
    /// The Deployments and StatefulSets the plan controller watches, once it runs: steps
    /// and `workloadReady` checks read them from here.
    pub workloads: std::sync::OnceLock<cluster::cache::Workloads>,
    /// Each plan's publishing of what people see (ClinicalSystem status, Events) still
    /// going out, by uid: at most one per plan, and the next waits for it.
    pub publishing:
        std::sync::Mutex<std::collections::HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Context {
    /// Remembers the version of `obj` this process just wrote.
    pub fn wrote<K: kube::Resource>(&self, obj: &K) {
        let (Some(uid), Some(rv)) = (obj.meta().uid.clone(), obj.meta().resource_version.clone())
        else {
            return;
        };
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid, rv);
    }

    /// The version of the object `uid` this process wrote last, if it wrote it.
    pub fn written_version(&self, uid: &str) -> Option<String> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .cloned()
    }

    /// Keeps `chunk`, as just written; a sealed chunk is not appended to again, so it
    /// is let go.
    pub fn keep_chunk(&self, chunk: crate::api::v1alpha1::RecoveryRecord) {
        let key = format!(
            "{}/{}",
            chunk.metadata.namespace.as_deref().unwrap_or_default(),
            chunk.metadata.name.as_deref().unwrap_or_default()
        );
        let mut chunks = self
            .chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if chunk.spec.sealed {
            chunks.remove(&key);
        } else {
            chunks.insert(key, chunk);
        }
    }

    /// The chunk `namespace/name` as this process last wrote it, if it is kept.
    pub fn kept_chunk(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<crate::api::v1alpha1::RecoveryRecord> {
        self.chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&format!("{namespace}/{name}"))
            .cloned()
    }

    /// Lets the kept chunk `namespace/name` go: the next append reads it.
    pub fn let_go_chunk(&self, namespace: &str, name: &str) {
        self.chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&format!("{namespace}/{name}"));
    }

    /// Forgets the object `uid` (it is gone), and the record chunks kept for it.
    pub fn forget_written(&self, uid: &str) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
        self.chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, c| c.spec.plan_uid != uid);
    }

    /// Holds the claiming locks of `namespaces` (every namespace a plan's systems are in),
    /// taken in name order so that two plans never wait on each other.
    pub async fn claim<'a>(
        &self,
        namespaces: impl IntoIterator<Item = &'a str>,
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let names: std::collections::BTreeSet<&str> = namespaces.into_iter().collect();
        let locks: Vec<Arc<tokio::sync::Mutex<()>>> = {
            let mut map = self
                .claiming
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            names
                .iter()
                .map(|n| map.entry((*n).to_string()).or_default().clone())
                .collect()
        };
        let mut held = Vec::with_capacity(locks.len());
        for lock in locks {
            held.push(lock.lock_owned().await);
        }
        held
    }

    /// A context for `client`, publishing Events as `identity`.
    pub fn new(
        client: Client,
        identity: &str,
        metrics: Arc<metrics::Metrics>,
        reach: steps::reach::Reach,
    ) -> anyhow::Result<Self> {
        let reach = Arc::new(reach);
        let client_for = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .user_agent(concat!("lifeline/", env!("CARGO_PKG_VERSION")))
                // Every name resolves only to addresses checks may reach, redirects too.
                .dns_resolver(Arc::new(steps::reach::Resolver(reach.clone())))
                .redirect(redirects)
                .build()
                .context("build the HTTP client for checks")
        };
        let http = client_for(reqwest::redirect::Policy::none())?;
        let http_same_host = client_for(reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt.previous().first().is_some_and(|first| {
                first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same && attempt.previous().len() <= 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))?;
        Ok(Self {
            recorder: Recorder::new(
                client.clone(),
                Reporter {
                    controller: FIELD_MANAGER.to_string(),
                    instance: Some(identity.to_string()),
                },
            ),
            client,
            metrics,
            http,
            http_same_host,
            reach,
            gates_synced: Default::default(),
            notifier: None,
            username: String::new(),
            drill_starts: tokio::sync::Mutex::new(()),
            plans: std::sync::OnceLock::new(),
            written_claims: Default::default(),
            claiming: Default::default(),
            written: Default::default(),
            system_statuses: Default::default(),
            chunks: Default::default(),
            progress: Default::default(),
            outages: Default::default(),
            record_retention: plan::record::DEFAULT_RETENTION,
            caches: std::sync::OnceLock::new(),
            workloads: std::sync::OnceLock::new(),
            publishing: Default::default(),
        })
    }

    /// Every `K` in `namespace`, parsed one by one (with the names and errors of those that
    /// do not parse): from the operator's cache when it has one of that namespace, else
    /// listed from the API server.
    pub async fn parsed_in<K>(
        &self,
        namespace: &str,
    ) -> Result<(Vec<Arc<K>>, Vec<(String, String)>), Error>
    where
        K: cluster::cache::Cached<Scope = k8s_openapi::NamespaceResourceScope> + 'static,
    {
        match self.caches.get().and_then(|c| c.covering::<K>(namespace)) {
            Some(store) => Ok(cluster::cache::parsed_in(store, namespace).await),
            None => {
                let (good, bad) = list_parsed::<K>(&self.client, namespace).await?;
                Ok((good.into_iter().map(Arc::new).collect(), bad))
            }
        }
    }

    /// How much of `from..to` the API server did not answer.
    pub fn unreachable_within(
        &self,
        from: k8s_openapi::jiff::Timestamp,
        to: k8s_openapi::jiff::Timestamp,
    ) -> std::time::Duration {
        self.outages
            .lock()
            .map(|o| o.within(from, to))
            .unwrap_or_default()
    }

    /// Every well-formed Approval in `namespace` (a malformed one is logged and skipped).
    pub async fn approvals(&self, namespace: &str) -> Result<Vec<Approval>, Error> {
        let (good, bad) = self.parsed_in::<Approval>(namespace).await?;
        for (name, e) in bad {
            warn!(approval = %format!("{namespace}/{name}"), error = %e, "ignoring a malformed Approval");
        }
        Ok(good.into_iter().map(Arc::unwrap_or_clone).collect())
    }
}
