//! The operator process: the watches, the plan and drill controllers, leader election
//! and the shutdown.

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
    coordination::v1::Lease,
};
use kube::{
    Api, Client, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        Controller,
        controller::Config as ControllerConfig,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use tracing::{error, info, warn};

use super::cluster::cache::{Parsed, Workload};
use super::health::{health_server, probe};
use super::{
    CONCURRENCY, Context, LEASE_GRACE_SECONDS, LEASE_NAME, LEASE_SECONDS, cluster, drill, metrics,
    notify, plan, steps,
};
use crate::api::v1alpha1::{Approval, ClinicalSystem, Intervention, RecoveryDrill, RecoveryPlan};

/// How many changes of plans the shared watch holds for a controller that has not taken
/// them yet (the watch waits beyond that).
const SHARED_BUFFER: usize = 1024;

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
        info!(identity = %opts.identity, lease = %format!("{}/{LEASE_NAME}", opts.lease_namespace), "waiting to be elected leader");
        let leases: Api<Lease> = Api::namespaced(client.clone(), &opts.lease_namespace);
        let mut shutdown = std::pin::pin!(tokio::signal::ctrl_c());
        // A replica just started (the Deployment's replacement of a leader being deleted, say)
        // lets a standby that was already waiting take a free Lease first: a standby is warm,
        // its caches filled. The Lease is there unless this is the first replica ever.
        if matches!(leases.get_opt(LEASE_NAME).await, Ok(Some(_))) {
            tokio::select! {
                _ = tokio::time::sleep(STARTUP_DEFER) => {}
                _ = &mut shutdown => return Ok(()),
            }
        }
        // A leader that shuts down lets the Lease go at once, but a standby's manager sleeps
        // until the expiry it last saw (up to LEASE_SECONDS), and a replica just started
        // would take it first. So a standby looks at the Lease every RELEASED_POLL, and when
        // nobody holds it asks again at once with a new manager (which reads it afresh).
        let (rx, task) = 'elect: loop {
            let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
                .with_namespace(&opts.lease_namespace)
                .with_identity(&opts.identity)
                .with_duration(LEASE_SECONDS)
                .with_grace(LEASE_GRACE_SECONDS)
                .build()
                .await
                .context("set up leader election")?;
            let (mut rx, task) = manager.watch().await;
            let mut poll = tokio::time::interval_at(
                tokio::time::Instant::now() + RELEASED_POLL,
                RELEASED_POLL,
            );
            loop {
                if *rx.borrow_and_update() {
                    break 'elect (rx, task);
                }
                tokio::select! {
                    changed = rx.changed() => changed.context("leader election stopped")?,
                    _ = poll.tick() => {
                        if released(&leases).await {
                            info!("the leader let the Lease go; asking for it now");
                            drop(rx);
                            let _ = task.await;
                            continue 'elect;
                        }
                    }
                    _ = &mut shutdown => {
                        drop(rx);
                        let _ = task.await;
                        return Ok(());
                    }
                }
            }
        };
        info!(identity = %opts.identity, "elected leader");
        Some((rx, task))
    } else {
        None
    };

    let mut check_networks = opts.check_networks.clone();
    let services = steps::reach::service_networks(&client).await;
    info!(networks = ?services, "checks reach the cluster's Service networks");
    check_networks.extend(services);
    let mut ctx = Context::new(
        client.clone(),
        &opts.identity,
        metrics.clone(),
        steps::reach::Reach::new(check_networks, opts.resolve.clone()),
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
    let controller = Controller::for_shared_stream(for_plans, store.clone())
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
    ctx.record_retention = opts.record_retention;
    let _ = ctx.plans.set(store.clone());
    let ctx = Arc::new(ctx);
    tokio::spawn(probe(client.clone(), ctx.clone()));
    let plans_watch = {
        use kube::runtime::WatchStreamExt as _;
        let ctx = ctx.clone();
        watcher(plans, wc.clone())
            .default_backoff()
            .reflect_shared(plans_writer)
            .for_each(move |event| {
                match event {
                    // The controller never reconciles a plan that has left its cache, so
                    // what the operator keeps of a deleted plan is forgotten here.
                    Ok(watcher::Event::Delete(p)) => plan::reconcile::forget(&ctx, &p),
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "watching RecoveryPlans; trying again"),
                }
                async {}
            })
    };
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
    let on_system = {
        let store = store.clone();
        move |o: Parsed<ClinicalSystem>| plans_in_namespace(&store, &o)
    };
    let on_deployment = {
        let store = store.clone();
        move |o: Workload<Deployment>| plans_in_namespace(&store, &o)
    };
    let on_statefulset = {
        let store = store.clone();
        move |o: Workload<StatefulSet>| plans_in_namespace(&store, &o)
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
    // An Approval or an Intervention wakes the plan it names; a malformed one, every plan
    // of its namespace (which each log it, naming its field).
    let on_approval = {
        let store = store.clone();
        move |a: Parsed<Approval>| match a.object() {
            Ok(a) => vec![
                ObjectRef::<RecoveryPlan>::new(&a.spec.plan)
                    .within(&a.namespace().unwrap_or_default()),
            ],
            Err(_) => plans_in_namespace(&store, &a),
        }
    };
    let on_intervention = {
        let store = store.clone();
        move |i: Parsed<Intervention>| match i.object() {
            Ok(i) => vec![
                ObjectRef::<RecoveryPlan>::new(&i.spec.plan)
                    .within(&i.namespace().unwrap_or_default()),
            ],
            Err(_) => plans_in_namespace(&store, &i),
        }
    };
    let drills = {
        let drill_api: Api<RecoveryDrill> = scoped(&client, ns);
        let drill_controller = Controller::new(drill_api, wc.clone())
            .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
        let drill_store = drill_controller.store();
        let on_system =
            move |o: PartialObjectMeta<ClinicalSystem>| drills_in_namespace(&drill_store, &o);
        // A drill is woken by any change of a ClinicalSystem in its namespace and reads
        // them fresh, so its watch asks for their metadata alone.
        let systems = {
            use kube::runtime::WatchStreamExt as _;
            watcher(
                scoped::<PartialObjectMeta<ClinicalSystem>>(&client, ns),
                wc.clone(),
            )
            .default_backoff()
            .touched_objects()
        };
        drill_controller
            .owns_shared_stream(for_drills)
            .watches_stream(systems, on_system)
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
    let (systems_cache, systems_stream) =
        cached_watch(scoped::<Parsed<ClinicalSystem>>(&client, ns), wc.clone());
    let (approvals_cache, approvals_stream) =
        cached_watch(scoped::<Parsed<Approval>>(&client, ns), wc.clone());
    let (interventions_cache, interventions_stream) =
        cached_watch(scoped::<Parsed<Intervention>>(&client, ns), wc.clone());
    let mut workloads = cluster::cache::Workloads::default();
    let (deployments_cache, deployments_stream) =
        cached_watch(scoped::<Workload<Deployment>>(&client, ns), wc.clone());
    let (statefulsets_cache, statefulsets_stream) =
        cached_watch(scoped::<Workload<StatefulSet>>(&client, ns), wc.clone());
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
        .watches_stream(
            cluster::cache::without_status_only_changes(systems_stream, systems_cache),
            on_system.clone(),
        )
        .watches_stream(deployments_stream, on_deployment.clone())
        .watches_stream(statefulsets_stream, on_statefulset.clone())
        .watches_stream(approvals_stream, on_approval)
        .watches_stream(interventions_stream, on_intervention)
        .watches_shared_stream(for_waking, on_plan);
    // The other namespaces of an estate the scoped plans use.
    if ns.is_some() {
        for name in &opts.watch_namespaces {
            let other = Some(name.as_str());
            let (systems_cache, systems_stream) =
                cached_watch(scoped::<Parsed<ClinicalSystem>>(&client, other), wc.clone());
            let (deployments_cache, deployments_stream) =
                cached_watch(scoped::<Workload<Deployment>>(&client, other), wc.clone());
            let (statefulsets_cache, statefulsets_stream) =
                cached_watch(scoped::<Workload<StatefulSet>>(&client, other), wc.clone());
            workloads
                .scopes
                .push((Some(name.clone()), deployments_cache, statefulsets_cache));
            caches.scopes.push(Scope {
                namespace: Some(name.clone()),
                systems: Some(systems_cache.clone()),
                approvals: None,
                interventions: None,
            });
            let systems_stream =
                cluster::cache::without_status_only_changes(systems_stream, systems_cache);
            controller = controller
                .owns(
                    scoped::<Job>(&client, other),
                    wc.clone().labels(steps::restore::PLAN_LABEL),
                )
                .watches_stream(systems_stream, on_system.clone())
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

/// How long a replica just started waits before it first asks for a Lease that is there,
/// so that a standby polling every RELEASED_POLL takes it first.
const STARTUP_DEFER: std::time::Duration = std::time::Duration::from_secs(3);

/// How often a standby looks whether the leader let the Lease go.
const RELEASED_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the Lease is there and nobody holds it (a leader let it go as it shut down).
async fn released(leases: &Api<Lease>) -> bool {
    match leases.get_opt(LEASE_NAME).await {
        Ok(Some(lease)) => lease
            .spec
            .and_then(|s| s.holder_identity)
            .is_none_or(|h| h.is_empty()),
        _ => false,
    }
}
