//! The operator: watches RecoveryPlans (and the ClinicalSystems, Jobs, workloads and
//! Approvals they use) and drives the pure engine against the cluster.
//!
//! - [`plan`]: a RecoveryPlan's reconcile (load, plan, observe, decide, record, act), its
//!   status, Events and release gates.
//! - [`steps`]: restore steps and checks against the cluster, and the workloads they act on.
//! - [`drill`]: a RecoveryDrill's reconcile (observe, decide, record, act), with each
//!   kind of fault carried out in [`drill::faults`].
//! - [`cluster`]: what the reconcilers share in talking to the API server.
//! - [`metrics`]: Prometheus metrics; [`notify`]: the notification webhook.

pub mod cluster;
pub mod drill;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod steps;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    batch::v1::Job,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DynamicObject},
    runtime::{
        Controller,
        controller::Config as ControllerConfig,
        events::{Recorder, Reporter},
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use tracing::{error, info, warn};

use crate::{
    api::v1alpha1::{Approval, ClinicalSystem, Intervention, RecoveryDrill, RecoveryPlan},
    error::Error,
};

/// The field manager for everything the operator writes.
pub const FIELD_MANAGER: &str = "lifeline-operator";
/// The Lease that elects the acting replica.
pub const LEASE_NAME: &str = "lifeline-operator";
/// How many plans are reconciled at once.
pub const CONCURRENCY: u16 = 4;
/// How many changes of plans the shared watch holds for a controller that has not taken
/// them yet (the watch waits beyond that).
const SHARED_BUFFER: usize = 1024;
/// How long a leader's lease lasts without renewal.
pub const LEASE_SECONDS: u64 = 15;
/// How long before expiry the leader renews.
pub const LEASE_GRACE_SECONDS: u64 = 5;

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
    /// Held while a drill decides whether to start a run (see [`drill`]).
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
        })
    }

    /// Every `K` in `namespace`, parsed one by one (with the names and errors of those that
    /// do not parse): from the operator's cache when it has one of that namespace, else
    /// listed from the API server.
    pub async fn parsed_in<K>(
        &self,
        kind: cluster::cache::Kind,
        namespace: &str,
    ) -> Result<(Vec<K>, Vec<(String, String)>), Error>
    where
        K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned,
    {
        match self.caches.get().and_then(|c| c.covering(kind, namespace)) {
            Some(store) => Ok(cluster::cache::parsed_in(store, namespace).await),
            None => list_parsed::<K>(&self.client, namespace).await,
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
        let (good, bad) = self
            .parsed_in::<Approval>(cluster::cache::Kind::Approvals, namespace)
            .await?;
        for (name, e) in bad {
            warn!(approval = %format!("{namespace}/{name}"), error = %e, "ignoring a malformed Approval");
        }
        Ok(good)
    }
}

pub use cluster::list_parsed;

/// How to run the operator.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    pub metrics_addr: SocketAddr,
    /// Elect a leader through a Lease, so only one replica acts.
    pub leader_election: bool,
    /// The Lease's namespace.
    pub lease_namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// Act only on plans in this namespace (default: every namespace).
    pub namespace: Option<String>,
    /// With `namespace`: other namespaces whose ClinicalSystems, workloads and Jobs the
    /// plans there use (an estate across namespaces, `spec.systems.namespaces`), watched
    /// too. Every namespace is watched without `namespace`.
    pub watch_namespaces: Vec<String>,
    /// Host names that `http` and `tcp` checks reach at another IP address instead of
    /// through DNS, like curl's `--resolve` (for an operator run outside the cluster).
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// Networks `http` and `tcp` checks may reach besides cluster names (`*.svc`): the
    /// pod and Service networks, and any other the administrator allows.
    pub check_networks: Vec<ipnet::IpNet>,
    /// Where to POST notifications (a stage awaits approval, a system failed, the plan
    /// finished), if anywhere.
    pub notify: Option<notify::NotifyOptions>,
    /// How long a recovery's record is kept after its plan was created.
    pub record_retention: std::time::Duration,
}

impl RunOptions {
    /// Options for an operator acting on `namespace` only, without leader election,
    /// serving metrics on a free loopback port: how tests and local runs start it.
    pub fn local(namespace: &str, identity: &str) -> Self {
        Self {
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            leader_election: false,
            lease_namespace: namespace.to_string(),
            identity: identity.to_string(),
            namespace: Some(namespace.to_string()),
            watch_namespaces: Vec::new(),
            resolve: Vec::new(),
            // A local run checks services on this machine.
            check_networks: ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(127, 0, 0, 0), 8)
                .map(ipnet::IpNet::V4)
                .into_iter()
                .collect(),
            notify: None,
            record_retention: plan::record::DEFAULT_RETENTION,
        }
    }
}

/// An API over every namespace, or only `namespace` when the operator is scoped to one.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A dynamic (untyped) API for a lifeline kind, so that one malformed object (a Job
/// template the API server kept as-is but that is not a valid Job) cannot break a watch
/// or a list for every other object: each is parsed on its own where it is used.
fn dynamic_scoped(
    client: &Client,
    namespace: Option<&str>,
    resource: &ApiResource,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// Installs the process-wide TLS crypto provider that `http` checks use. Harmless when
/// one is already installed.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every plan in the same namespace as `obj`, or selecting systems there: what to
/// reconcile when an object they may use changes.
fn plans_in_namespace<K: ResourceExt>(
    store: &Store<RecoveryPlan>,
    obj: &K,
) -> Vec<ObjectRef<RecoveryPlan>> {
    let ns = obj.namespace();
    store
        .state()
        .iter()
        .filter(|p| {
            p.namespace() == ns
                || ns
                    .as_ref()
                    .is_some_and(|n| p.spec.systems.namespaces.contains(n))
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Every drill in the same namespace as `obj`.
fn drills_in_namespace<K: ResourceExt>(
    store: &Store<RecoveryDrill>,
    obj: &K,
) -> Vec<ObjectRef<RecoveryDrill>> {
    let ns = obj.namespace();
    store
        .state()
        .iter()
        .filter(|d| d.namespace() == ns)
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

/// Runs the operator until a shutdown signal (or, with leader election, until it loses
/// the lease).
pub async fn run(client: Client, opts: RunOptions) -> anyhow::Result<()> {
    install_crypto_provider();
    let metrics = Arc::new(metrics::Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let server = health_server(opts.metrics_addr, metrics.clone(), ready.clone()).await?;
    tokio::spawn(server);

    // Ready once the plans can be listed (the CRDs are installed and RBAC allows it) and,
    // if there are any, the first of them has been reconciled. With leader election every
    // replica is ready once it can list, the standby too, so rollouts and drains proceed.
    let ready_flag = ready.clone();
    let list_client = client.clone();
    let list_ns = opts.namespace.clone();
    let standby = opts.leader_election;
    tokio::spawn(async move {
        let api: Api<RecoveryPlan> = scoped(&list_client, list_ns.as_deref());
        let mut pause = std::time::Duration::from_millis(200);
        loop {
            match api.list(&kube::api::ListParams::default().limit(1)).await {
                Ok(list) => {
                    if list.items.is_empty() || standby {
                        ready_flag.store(true, Ordering::Relaxed);
                    }
                    return;
                }
                Err(e) => warn!(error = %e, "cannot list RecoveryPlans yet"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(10));
        }
    });
    let lease = if opts.leader_election {
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(&opts.lease_namespace)
            .with_identity(&opts.identity)
            .with_duration(LEASE_SECONDS)
            .with_grace(LEASE_GRACE_SECONDS)
            .build()
            .await
            .context("set up leader election")?;
        let (mut rx, task) = manager.watch().await;
        info!(identity = %opts.identity, lease = %format!("{}/{LEASE_NAME}", opts.lease_namespace), "waiting to be elected leader");
        let mut shutdown = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            if *rx.borrow_and_update() {
                break;
            }
            tokio::select! {
                changed = rx.changed() => changed.context("leader election stopped")?,
                _ = &mut shutdown => {
                    drop(rx);
                    let _ = task.await;
                    return Ok(());
                }
            }
        }
        info!(identity = %opts.identity, "elected leader");
        Some((rx, task))
    } else {
        None
    };

    let mut ctx = Context::new(
        client.clone(),
        &opts.identity,
        metrics.clone(),
        steps::reach::Reach::new(opts.check_networks.clone(), opts.resolve.clone()),
    )?;
    if let Some(notify) = opts.notify.clone() {
        info!(url = %notify.url, "notifications go to a webhook");
        ctx.notifier = Some(notify::Notifier::spawn(notify, metrics)?);
    }
    match cluster::identity::whoami(&client).await {
        Ok(me) => ctx.username = me.username,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "cannot tell the operator's own username; drills create plans without requestedBy")
        }
    }
    let ns = opts.namespace.as_deref();
    let plans: Api<RecoveryPlan> = scoped(&client, ns);
    let wc = watcher::Config::default();
    // One watch of the plans, shared: it wakes the plan controller, the plans that share
    // systems with one that changed, and the drills whose plans they are. Three watches
    // made the API server send each plan's every status write three times.
    let (store, plans_writer) = kube::runtime::reflector::store_shared(SHARED_BUFFER);
    let subscribe = || {
        plans_writer
            .subscribe()
            .ok_or_else(|| anyhow::anyhow!("a shared store of plans takes subscribers"))
    };
    let (for_plans, for_waking, for_drills) = (subscribe()?, subscribe()?, subscribe()?);
    let plans_watch = {
        use kube::runtime::WatchStreamExt as _;
        watcher(plans, wc.clone())
            .default_backoff()
            .reflect_shared(plans_writer)
            .for_each(|event| async move {
                if let Err(e) = event {
                    warn!(error = %e, "watching RecoveryPlans; trying again");
                }
            })
    };
    let controller = Controller::for_shared_stream(for_plans, store.clone())
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
    ctx.record_retention = opts.record_retention;
    let _ = ctx.plans.set(store.clone());
    let ctx = Arc::new(ctx);
    tokio::spawn(probe(client.clone(), ctx.clone()));
    // Records past their retention go, hourly, in every namespace the operator acts in.
    {
        let client = client.clone();
        let scopes: Vec<Option<String>> = match &opts.namespace {
            None => vec![None],
            Some(ns) => std::iter::once(ns.clone())
                .chain(opts.watch_namespaces.iter().cloned())
                .map(Some)
                .collect(),
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(plan::record::SWEEP_INTERVAL);
            loop {
                tick.tick().await;
                for scope in &scopes {
                    if let Err(e) = plan::record::sweep(&client, scope.as_deref()).await {
                        warn!(error = %e, "could not delete recovery records past their retention; trying again in an hour");
                    }
                }
            }
        });
    }
    let system_resource = ApiResource::erase::<ClinicalSystem>(&());
    let approval_resource = ApiResource::erase::<Approval>(&());
    let intervention_resource = ApiResource::erase::<Intervention>(&());
    let on_system = {
        let store = store.clone();
        move |o: DynamicObject| plans_in_namespace(&store, &o)
    };
    let on_deployment = {
        let store = store.clone();
        move |o: Deployment| plans_in_namespace(&store, &o)
    };
    let on_statefulset = {
        let store = store.clone();
        move |o: StatefulSet| plans_in_namespace(&store, &o)
    };
    // A plan whose claims may have changed (it takes a system on, verifies one, finishes)
    // wakes the other plans that select systems where it does: they may hold them, or
    // count them as restored. Its systems are in its RecoveryProgress shards, not in the
    // watched object, so a change of its phase or of the shards its status names stands
    // for a change of claims. Other changes of the plan wake nobody.
    let on_plan = {
        let store = store.clone();
        let last: Arc<std::sync::Mutex<std::collections::HashMap<String, _>>> = Default::default();
        move |p: Arc<RecoveryPlan>| {
            let key = plan::handover::key_of(p.as_ref());
            let claims = (
                p.metadata.deletion_timestamp.is_some(),
                p.status
                    .as_ref()
                    .map(|s| (s.phase, s.progress_objects.clone())),
            );
            let changed = last
                .lock()
                .map(|mut l| l.insert(key.clone(), claims.clone()) != Some(claims))
                .unwrap_or(true);
            if !changed {
                return Vec::new();
            }
            let own = p.namespace().unwrap_or_default();
            let mine = p.spec.systems.namespaces_from(&own);
            store
                .state()
                .iter()
                .filter(|o| plan::handover::key_of(o) != key)
                .filter(|o| {
                    let theirs = o
                        .spec
                        .systems
                        .namespaces_from(&o.namespace().unwrap_or_default());
                    theirs.iter().any(|n| mine.contains(n))
                })
                .map(|o| ObjectRef::from_obj(o.as_ref()))
                .collect::<Vec<_>>()
        }
    };
    // An Approval or an Intervention wakes the plan it names.
    let on_approval = move |a: DynamicObject| {
        let ns = a.namespace();
        let plan = a.data["spec"]["plan"].as_str().map(str::to_string);
        plan.map(|p| ObjectRef::<RecoveryPlan>::new(&p).within(ns.as_deref().unwrap_or_default()))
    };
    let drills = {
        let drill_api: Api<RecoveryDrill> = scoped(&client, ns);
        let drill_controller = Controller::new(drill_api, wc.clone())
            .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
        let drill_store = drill_controller.store();
        let on_system = move |o: DynamicObject| drills_in_namespace(&drill_store, &o);
        drill_controller
            .owns_shared_stream(for_drills)
            .watches_with(
                dynamic_scoped(&client, ns, &system_resource),
                system_resource.clone(),
                wc.clone(),
                on_system,
            )
            .shutdown_on_signal()
            .run(drill::reconcile, drill::error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    match e {
                        kube::runtime::controller::Error::ReconcilerFailed(..) => {}
                        other => warn!(error = %other, "drill controller"),
                    }
                }
            })
    };
    let first_result = ready.clone();
    // ClinicalSystems, Approvals and Interventions: watched into caches that a reconcile
    // reads instead of listing them, by the same streams that wake it.
    use cluster::cache::{Caches, Scope, cached_watch};
    let mut caches = Caches::default();
    let (systems_cache, systems_stream) = cached_watch(
        dynamic_scoped(&client, ns, &system_resource),
        system_resource.clone(),
        wc.clone(),
    );
    let (approvals_cache, approvals_stream) = cached_watch(
        dynamic_scoped(&client, ns, &approval_resource),
        approval_resource.clone(),
        wc.clone(),
    );
    let (interventions_cache, interventions_stream) = cached_watch(
        dynamic_scoped(&client, ns, &intervention_resource),
        intervention_resource.clone(),
        wc.clone(),
    );
    let mut workloads = cluster::cache::Workloads::default();
    let (deployments_cache, deployments_stream) =
        cached_watch(scoped::<Deployment>(&client, ns), (), wc.clone());
    let (statefulsets_cache, statefulsets_stream) =
        cached_watch(scoped::<StatefulSet>(&client, ns), (), wc.clone());
    workloads.scopes.push((
        ns.map(str::to_string),
        deployments_cache,
        statefulsets_cache,
    ));
    caches.scopes.push(Scope {
        namespace: ns.map(str::to_string),
        systems: Some(systems_cache.clone()),
        approvals: Some(approvals_cache),
        interventions: Some(interventions_cache),
    });
    let mut controller = controller
        .owns(
            scoped::<Job>(&client, ns),
            wc.clone().labels(steps::restore::PLAN_LABEL),
        )
        .watches_stream_with(
            cluster::cache::without_status_only_changes(
                systems_stream,
                systems_cache,
                system_resource.clone(),
            ),
            on_system.clone(),
            system_resource.clone(),
        )
        .watches_stream(deployments_stream, on_deployment.clone())
        .watches_stream(statefulsets_stream, on_statefulset.clone())
        .watches_stream_with(approvals_stream, on_approval, approval_resource.clone())
        .watches_stream_with(
            interventions_stream,
            on_approval,
            intervention_resource.clone(),
        )
        .watches_shared_stream(for_waking, on_plan);
    // The other namespaces of an estate the scoped plans use.
    if ns.is_some() {
        for name in &opts.watch_namespaces {
            let other = Some(name.as_str());
            let (systems_cache, systems_stream) = cached_watch(
                dynamic_scoped(&client, other, &system_resource),
                system_resource.clone(),
                wc.clone(),
            );
            let (deployments_cache, deployments_stream) =
                cached_watch(scoped::<Deployment>(&client, other), (), wc.clone());
            let (statefulsets_cache, statefulsets_stream) =
                cached_watch(scoped::<StatefulSet>(&client, other), (), wc.clone());
            workloads
                .scopes
                .push((Some(name.clone()), deployments_cache, statefulsets_cache));
            caches.scopes.push(Scope {
                namespace: Some(name.clone()),
                systems: Some(systems_cache.clone()),
                approvals: None,
                interventions: None,
            });
            let systems_stream = cluster::cache::without_status_only_changes(
                systems_stream,
                systems_cache,
                system_resource.clone(),
            );
            controller = controller
                .owns(
                    scoped::<Job>(&client, other),
                    wc.clone().labels(steps::restore::PLAN_LABEL),
                )
                .watches_stream_with(systems_stream, on_system.clone(), system_resource.clone())
                .watches_stream(deployments_stream, on_deployment.clone())
                .watches_stream(statefulsets_stream, on_statefulset.clone());
        }
    }
    let _ = ctx.caches.set(caches);
    let _ = ctx.workloads.set(workloads);
    let running = controller
        .shutdown_on_signal()
        .run(plan::reconcile, plan::error_policy, ctx)
        .for_each(move |result| {
            let first_result = first_result.clone();
            async move {
                if !first_result.swap(true, Ordering::Relaxed) {
                    info!("first plan reconciled; ready");
                }
                if let Err(e) = result {
                    match e {
                        kube::runtime::controller::Error::ReconcilerFailed(..) => {}
                        other => warn!(error = %other, "controller"),
                    }
                }
            }
        });

    // The shared watch runs as long as the controllers do (it never ends by itself).
    let running = async move {
        tokio::select! {
            _ = futures::future::join(running, drills) => {}
            () = plans_watch => {}
        }
    };
    match lease {
        None => running.await,
        Some((mut rx, task)) => {
            let lost = async {
                loop {
                    if rx.changed().await.is_err() || !*rx.borrow_and_update() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = running => {
                    // Graceful shutdown: hand the lease over at once.
                    drop(rx);
                    if let Ok(Err(e)) = task.await {
                        warn!(error = %e, "releasing the lease");
                    }
                    info!("lease released");
                }
                _ = lost => {
                    error!("lost the leader lease; exiting so a new leader takes over cleanly");
                    anyhow::bail!("lost the leader lease");
                }
            }
        }
    }
    Ok(())
}

/// Asks the API server for its version every [`cluster::outage::PROBE_INTERVAL`], and
/// records each stretch it does not answer (see [`cluster::outage`]).
async fn probe(client: Client, ctx: Arc<Context>) {
    use cluster::outage::{PROBE_INTERVAL, PROBE_TIMEOUT};
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let answer = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await;
        let now = k8s_openapi::jiff::Timestamp::now();
        let Ok(mut outages) = ctx.outages.lock() else {
            return;
        };
        match answer {
            Ok(Ok(_)) => {
                if let Some((since, until)) = outages.answered(now) {
                    let seconds = crate::engine::time::elapsed(since, until).as_secs();
                    warn!(since = %since, seconds, "the API server answers again; the time it did not counts against no restore timeout or check deadline");
                }
            }
            Ok(Err(e)) => {
                if outages.unanswered(now) {
                    warn!(error = %e, "the API server does not answer; restore timeouts and check deadlines wait");
                }
            }
            Err(_) => {
                if outages.unanswered(now) {
                    warn!(timeout = ?PROBE_TIMEOUT, "the API server does not answer; restore timeouts and check deadlines wait");
                }
            }
        }
    }
}

/// `/metrics`, `/healthz` (the process is up) and `/readyz` (the watches have synced).
async fn health_server(
    addr: SocketAddr,
    metrics: Arc<metrics::Metrics>,
    ready: Arc<AtomicBool>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use axum::{Router, http::StatusCode, routing::get};
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "watches not synced yet")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr} for metrics and health"))?;
    info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "metrics server stopped");
        }
    })
}
