//! A whole estate restored on the local cluster, lifeline beside its floor, in one run:
//! N systems in a random dependency graph of DEPTH levels (about three hard dependencies
//! each, at least one on the level before), every system a Deployment scaled from 0 and
//! checked with `workloadReady` (kwok makes pods ready at once, so the work itself costs
//! almost nothing).
//!
//! 1. The floor: a minimal walker that scales each level's Deployments (all at once) and
//!    waits by watch until they are available; no checks, no status, no record. What the
//!    control plane itself allows.
//! 2. lifeline: the operator (this build's `lifeline run`, a process of its own) restores
//!    the same estate from a RecoveryPlan selecting every system, to Succeeded.
//!
//! For each: wall time, seconds per level, the API server's requests by verb and resource
//! during the phase (every client's: the controller manager's, the scheduler's and kwok's
//! too), and for lifeline its CPU time, peak RSS and its own requests (its
//! `lifeline_api_requests_total`); then lifeline / floor, and lifeline's
//! dispatch latency (from a dependency verified to its dependent's first step, from the
//! operator's JSON log).
//!
//! ```sh
//! scripts/bench-restore 200 20        # starts a cluster of its own, then this
//! LIFELINE_BENCH_KUBECONFIG=... cargo bench --bench restore -- 200 20
//! scripts/bench-restore 200 20 --plans 10   # 10 plans at once, an estate each
//! scripts/bench-restore 200 20 --argo       # and Argo Workflows beside them
//! ```
//!
//! With `--plans P`, P estates of N systems, each in a namespace of its own, are walked
//! by the floor all at once, then restored by P plans at once under one operator watching
//! the whole cluster.
//!
//! With `--argo` (and `LIFELINE_BENCH_ARGO` naming the `workflow-controller` binary that
//! `scripts/argo/build` makes; `scripts/bench-restore N DEPTH --argo` does both), a third
//! phase after lifeline's: Argo Workflows' controller (v4.0.5, a process of its own, as
//! lifeline's operator is) runs one Workflow whose DAG has the estate's shape, a task per
//! system depending on the system's hard dependencies, each task a pod that kwok completes
//! (`scripts/argo/pod-complete-argo.yaml`). kwok runs no container, so Argo's executor
//! (the `wait` container, which reports each task's outputs in a WorkflowTaskResult) is
//! stood in for by this benchmark: for each pod that starts, it creates the task's result
//! as unfinished and then marks it finished, the two writes the executor makes. What is
//! Argo's own is the controller: the DAG's scheduling, the pods it creates, and the
//! Workflow's status it writes. The Argo phase is never run by default nor in CI (its Go
//! build takes minutes); it needs the Argo CRDs on the cluster (`scripts/bench-restore`
//! applies them).
//!
//! Run by `cargo test` (no `--bench` argument) with `LIFELINE_TEST_KUBECONFIG` set, it
//! restores 50 systems in 5 levels and fails if either walker does not finish: a test that
//! the benchmark works, not timed. Without a cluster it says so and does nothing.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace, Pod},
};
use kube::{
    Api, Client, ResourceExt,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
        PostParams,
    },
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, watcher},
};
use lifeline::api::v1alpha1::{ClinicalSystem, PlanPhase, RecoveryPlan, RecoveryProgress};
use serde_json::json;

/// How long one walker may take before the run is given up.
const DEADLINE: Duration = Duration::from_secs(3600);
/// Scale requests in flight at once (the floor's fan-out).
const FAN_OUT: usize = 32;

/// A random dependency graph: each system's level and hard dependencies.
struct Estate {
    levels: Vec<Vec<usize>>,
    deps: Vec<Vec<usize>>,
}

/// xorshift64*, seeded: the same graph every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn estate(n: usize, depth: usize) -> Estate {
    let depth = depth.clamp(1, n.max(1));
    let mut levels: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for i in 0..n {
        levels[i * depth / n].push(i);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut deps = vec![Vec::new(); n];
    for l in 1..depth {
        for &i in &levels[l] {
            // One on the level before (so the graph has DEPTH levels), two more anywhere
            // earlier.
            let before = &levels[l - 1];
            let mut mine = vec![before[rng.below(before.len())]];
            for _ in 0..2 {
                let k = rng.below(l);
                let pick = levels[k][rng.below(levels[k].len())];
                if !mine.contains(&pick) {
                    mine.push(pick);
                }
            }
            deps[i] = mine;
        }
    }
    Estate { levels, deps }
}

fn name(i: usize) -> String {
    format!("sys-{i:04}")
}

async fn client() -> Option<Client> {
    let path = std::env::var("LIFELINE_BENCH_KUBECONFIG")
        .or_else(|_| std::env::var("LIFELINE_TEST_KUBECONFIG"))
        .ok()?;
    let kubeconfig = Kubeconfig::read_from(&path).expect("read the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the kubeconfig");
    Some(Client::try_from(config).expect("a client"))
}

/// The API server's request counts by "VERB resource", from its /metrics.
async fn requests(client: &Client) -> BTreeMap<String, f64> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("a request");
    let text = client.request_text(req).await.unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let sub = label("subresource");
        let resource = if sub.is_empty() {
            label("resource")
        } else {
            format!("{}/{sub}", label("resource"))
        };
        if resource.is_empty() {
            continue;
        }
        *out.entry(format!("{} {resource}", label("verb")))
            .or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - before.get(k).copied().unwrap_or(0.0)).max(0.0) as u64,
            )
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn top(requests: &BTreeMap<String, u64>) -> String {
    let mut all: Vec<(&String, &u64)> = requests.iter().collect();
    all.sort_by(|a, b| b.1.cmp(a.1));
    all.iter()
        .take(8)
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every count of `requests`, largest first (`top` keeps the first eight).
fn every(requests: &BTreeMap<String, u64>) -> String {
    let mut all: Vec<(&String, &u64)> = requests.iter().collect();
    all.sort_by(|a, b| b.1.cmp(a.1));
    all.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// lifeline's CRDs, applied (and established) on the cluster.
async fn ensure_crds(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in lifeline::api::v1alpha1::crds() {
        let name = crd.name_any();
        let params = PatchParams::apply("lifeline-bench").force();
        let mut tries = 0;
        while let Err(e) = crds.patch(&name, &params, &Patch::Apply(&crd)).await {
            tries += 1;
            assert!(tries < 20, "apply CRD {name}: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let established = kube::runtime::wait::await_condition(
            crds.clone(),
            &name,
            kube::runtime::wait::conditions::is_crd_established(),
        );
        tokio::time::timeout(Duration::from_secs(60), established)
            .await
            .unwrap_or_else(|_| panic!("CRD {name} not established"))
            .expect("watch the CRD");
    }
}

async fn create_estate(client: &Client, ns: &str, e: &Estate) {
    ensure_crds(client).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": ns } })).expect("namespace"),
        )
        .await
        .expect("create the namespace");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let systems: Api<ClinicalSystem> = Api::namespaced(client.clone(), ns);
    let n = e.deps.len();
    futures::stream::iter(0..n)
        .map(|i| {
            let (deployments, systems) = (deployments.clone(), systems.clone());
            let deps: Vec<_> = e.deps[i].iter().map(|&d| json!({ "name": name(d) })).collect();
            async move {
                let d: Deployment = serde_json::from_value(json!({
                    "metadata": { "name": name(i), "labels": { "app": name(i) } },
                    "spec": {
                        "replicas": 0,
                        "selector": { "matchLabels": { "app": name(i) } },
                        "template": {
                            "metadata": { "labels": { "app": name(i) } },
                            "spec": { "containers": [{ "name": "main", "image": "registry.example/app:1" }] }
                        }
                    }
                }))
                .expect("deployment");
                deployments
                    .create(&PostParams::default(), &d)
                    .await
                    .expect("create a Deployment");
                let s: ClinicalSystem = serde_json::from_value(json!({
                    "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
                    "metadata": { "name": name(i), "labels": { "bench": "restore" } },
                    "spec": {
                        "displayName": name(i), "tier": "critical", "recoveryTimeObjective": "4h",
                        "dependsOn": deps,
                        "restore": { "steps": [{ "name": "up", "scale": { "kind": "Deployment", "name": name(i), "replicas": 1 } }] },
                        "verify": { "checks": [{ "name": "ready", "workloadReady": { "kind": "Deployment", "name": name(i) } }], "retryInterval": "1s" }
                    }
                }))
                .expect("system");
                systems
                    .create(&PostParams::default(), &s)
                    .await
                    .expect("create a ClinicalSystem");
            }
        })
        .buffer_unordered(FAN_OUT)
        .collect::<Vec<_>>()
        .await;
}

/// Available replicas of every Deployment of `ns`, kept by a watch.
fn watch_available(
    client: &Client,
    ns: &str,
) -> tokio::sync::watch::Receiver<HashMap<String, i32>> {
    let (tx, rx) = tokio::sync::watch::channel(HashMap::new());
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Ok(Some(d)) = stream.try_next().await {
            let available = d
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            tx.send_modify(|m| {
                m.insert(d.name_any(), if wanted == 0 { -1 } else { available });
            });
        }
    });
    rx
}

async fn scale_all(client: &Client, ns: &str, which: &[usize], replicas: i32) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(which.iter().copied())
        .map(|i| {
            let api = api.clone();
            async move {
                api.patch_scale(
                    &name(i),
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "replicas": replicas } })),
                )
                .await
                .expect("scale");
            }
        })
        .buffer_unordered(FAN_OUT)
        .collect::<Vec<_>>()
        .await;
}

async fn wait_until(
    rx: &mut tokio::sync::watch::Receiver<HashMap<String, i32>>,
    what: &str,
    ok: impl Fn(&HashMap<String, i32>) -> bool,
) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if ok(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.expect("the watch ended");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not happen within {DEADLINE:?}"));
}

/// The floor: level by level, scale up and wait for availability. Returns the wall time.
async fn floor(client: &Client, ns: &str, e: &Estate) -> Duration {
    let mut rx = watch_available(client, ns);
    let n = e.deps.len();
    wait_until(&mut rx, "the Deployments listed", |m| m.len() == n).await;
    let start = Instant::now();
    for level in &e.levels {
        scale_all(client, ns, level, 1).await;
        wait_until(&mut rx, "a level available", |m| {
            level
                .iter()
                .all(|&i| m.get(&name(i)).copied().unwrap_or(0) >= 1)
        })
        .await;
    }
    start.elapsed()
}

/// Waits (at most 300 s) until `ns` has no pods.
async fn pods_gone(client: &Client, ns: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    tokio::time::timeout(Duration::from_secs(300), async {
        while !pods
            .list_metadata(&ListParams::default().limit(1))
            .await
            .expect("list pods")
            .items
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("the estate's pods gone within 300 s");
}

/// CPU seconds and peak RSS (KiB) of process `pid`, from /proc.
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, hwm)
}

/// Dispatch latency, in milliseconds, from the operator's JSON log at `log`: for each
/// system with hard dependencies, from the last of them being verified ("system verified")
/// to its own first restore step ("restore step started"), sorted.
fn dispatch(log: &std::path::Path, e: &Estate, namespaces: &[String]) -> Vec<f64> {
    let mut verified: BTreeMap<String, f64> = BTreeMap::new();
    let mut started: BTreeMap<String, f64> = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(at), Some(system), Some(message)) = (
            v["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok()),
            v["fields"]["system"].as_str(),
            v["fields"]["message"].as_str(),
        ) else {
            continue;
        };
        let ms = at.as_microsecond() as f64 / 1000.0;
        let into = match message {
            "system verified" => &mut verified,
            "restore step started" => &mut started,
            _ => continue,
        };
        into.entry(system.to_string()).or_insert(ms);
    }
    let mut out = Vec::new();
    for ns in namespaces {
        for (i, deps) in e.deps.iter().enumerate() {
            let key = |j: usize| format!("{ns}/{}", name(j));
            let Some(start) = started.get(&key(i)) else {
                continue;
            };
            let last = deps
                .iter()
                .map(|&d| verified.get(&key(d)).copied())
                .collect::<Option<Vec<f64>>>()
                .and_then(|v| v.into_iter().reduce(f64::max));
            if let Some(last) = last {
                out.push(start - last);
            }
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// The `p`th percentile of sorted `v` (nearest rank).
fn percentile(v: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (v.len().saturating_sub(1)) as f64).round() as usize;
    v.get(i.min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// The operator's metrics, from its metrics address (plain HTTP on loopback).
fn metrics_text(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut text = String::new();
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
        return text;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let _ = conn.read_to_string(&mut text);
    text
}

/// How many reconciles the operator made and the seconds they took in all, from its
/// `lifeline_reconcile_duration_seconds` histogram.
fn reconciles(text: &str) -> (u64, f64) {
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("lifeline_reconcile_duration_seconds_count ") as u64,
        value("lifeline_reconcile_duration_seconds_sum "),
    )
}

/// The operator's own request counts by "VERB resource", from its
/// `lifeline_api_requests_total` in its metrics `text`.
fn own_requests(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("lifeline_api_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        *out.entry(format!("{} {}", label("verb"), label("resource")))
            .or_insert(0) += n;
    }
    out
}

/// What the lifeline phase measured.
struct Lifeline {
    took: Duration,
    cpu: f64,
    rss: u64,
    log: std::path::PathBuf,
    /// The operator's own requests, by "VERB resource".
    own: BTreeMap<String, u64>,
    /// The operator's reconciles, and the seconds they took in all.
    reconciled: (u64, f64),
}

/// lifeline: the operator restores the estate from a plan. Returns the wall time, the
/// operator's CPU seconds and peak RSS (KiB), its log and its own request counts.
async fn lifeline(client: &Client, namespaces: &[String], kubeconfig: &str) -> Lifeline {
    // A loopback port for the operator's metrics, found free just before it starts.
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .to_string();
    // One namespace: an operator scoped to it; several: one operator for the cluster.
    let mut args = vec!["run", "--metrics-addr", metrics_addr.as_str()];
    if let [ns] = namespaces {
        args.extend(["--namespace", ns.as_str()]);
    }
    // Warnings, and the two lines a dispatch is measured between, in JSON.
    let log = std::env::temp_dir().join(format!("bench-restore-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("the operator's log");
    // LIFELINE_BENCH_WRAP runs the operator under a profiler ("heaptrack -o /tmp/op",
    // "perf record -g -o /tmp/op.data --"), stopped with SIGINT so that it writes its data:
    // the figures of CPU and RSS are then the wrapper's, not the operator's.
    let wrap = std::env::var("LIFELINE_BENCH_WRAP").unwrap_or_default();
    let mut command: Vec<&str> = wrap.split_whitespace().collect();
    command.push(env!("CARGO_BIN_EXE_lifeline"));
    let mut operator = std::process::Command::new(command[0])
        .args(&command[1..])
        .args(&args)
        .env("KUBECONFIG", kubeconfig)
        .env(
            "RUST_LOG",
            "warn,lifeline::controller::plan::reconcile=info",
        )
        .env("LIFELINE_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start lifeline run");
    let plan: RecoveryPlan = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "estate" },
        "spec": { "systems": { "selector": { "matchLabels": { "bench": "restore" } } } }
    }))
    .expect("plan");
    let start = Instant::now();
    let each = namespaces.iter().map(|ns| {
        let plans: Api<RecoveryPlan> = Api::namespaced(client.clone(), ns);
        let plan = plan.clone();
        async move {
            plans
                .create(&PostParams::default(), &plan)
                .await
                .expect("create the plan");
            tokio::time::timeout(DEADLINE, async {
                let mut stream = watcher(
                    plans.clone(),
                    watcher::Config::default().fields("metadata.name=estate"),
                )
                .default_backoff()
                .applied_objects()
                .boxed();
                while let Ok(Some(p)) = stream.try_next().await {
                    let phase = p.status.as_ref().map(|s| s.phase);
                    if matches!(phase, Some(PlanPhase::Succeeded | PlanPhase::Failed)) {
                        return phase;
                    }
                }
                None
            })
            .await
            .ok()
            .flatten()
        }
    });
    let done = futures::future::join_all(each).await;
    let took = start.elapsed();
    let (cpu, rss) = usage(operator.id());
    let metrics = metrics_text(&metrics_addr);
    let own = own_requests(&metrics);
    let reconciled = reconciles(&metrics);
    if wrap.is_empty() {
        let _ = operator.kill();
    } else {
        // A profiler writes its data when its program ends: ask it to, by its pid.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &operator.id().to_string()])
            .status();
    }
    let _ = operator.wait();
    assert!(
        done.iter().all(|p| *p == Some(PlanPhase::Succeeded)),
        "not every plan succeeded within {DEADLINE:?}: {done:?}"
    );
    Lifeline {
        took,
        cpu,
        rss,
        log,
        own,
        reconciled,
    }
}

/// Back to the outage between the phases: every Deployment scaled to 0, the namespaces'
/// pods gone and each Deployment's status caught up, so that the controller manager's and
/// kwok's work of undoing one phase is counted in neither that phase nor the next.
async fn reset(client: &Client, namespaces: &[String], e: &Estate) {
    let all: Vec<usize> = (0..e.deps.len()).collect();
    for ns in namespaces {
        scale_all(client, ns, &all, 0).await;
    }
    for ns in namespaces {
        pods_gone(client, ns).await;
        settled(client, ns).await;
    }
}

/// Waits (at most 300 s) until the controller manager has caught up with every Deployment
/// of `ns` (its status observes its generation) and none has pods.
async fn settled(client: &Client, ns: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let list = deployments
                .list(&ListParams::default())
                .await
                .expect("list the Deployments");
            let settled = list.items.iter().all(|d| {
                let st = d.status.clone().unwrap_or_default();
                st.observed_generation == d.metadata.generation && st.replicas.unwrap_or(0) == 0
            });
            if settled {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("every Deployment's status at 0 replicas within 300 s");
}

/// The label Argo puts on each of a Workflow's pods and task results: the Workflow's name.
const ARGO_WORKFLOW_LABEL: &str = "workflows.argoproj.io/workflow";

/// Argo's Workflow and WorkflowTaskResult, as dynamic objects (no Rust types for them here).
fn argo_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind),
        plural,
    )
}

/// One Workflow with the estate's shape: a DAG task per system, depending on the system's
/// hard dependencies, each a pod of one container. The command is given, so that Argo's
/// emissary executor need not look the image's entrypoint up in a registry; kwok runs none.
fn workflow(e: &Estate) -> serde_json::Value {
    let tasks: Vec<_> = (0..e.deps.len())
        .map(|i| {
            let deps: Vec<String> = e.deps[i].iter().map(|&d| name(d)).collect();
            json!({ "name": name(i), "template": "restore", "dependencies": deps })
        })
        .collect();
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": { "name": "estate" },
        "spec": {
            "entrypoint": "estate",
            "templates": [
                { "name": "estate", "dag": { "tasks": tasks } },
                { "name": "restore", "container": { "image": "registry.example/app:1", "command": ["/bin/restore"] } }
            ]
        }
    })
}

/// Stops a child process (by its pid) when dropped, so that a phase that fails or panics
/// leaves no controller running.
struct Stop(std::process::Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Aborts a spawned task when dropped.
struct Abort(tokio::task::JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The stand-in for Argo's executor. In a real pod the `wait` container creates the task's
/// WorkflowTaskResult (named by the node's ID, labelled with the Workflow's name and
/// `report-outputs-completed: "false"`) when it starts, and sets that label to "true" when
/// the main container has ended and its outputs are reported; the controller does not count
/// a node finished while its result says "false". kwok starts no container, so for each
/// Argo pod seen Running or Succeeded, this makes the same two writes, in that order.
/// Returns its watch (stopped when dropped) and the count of pods it has reported for.
fn stand_in_executor(
    client: &Client,
    namespaces: &[String],
) -> (Abort, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{Arc, atomic::AtomicUsize, atomic::Ordering};
    let done = Arc::new(AtomicUsize::new(0));
    let streams: Vec<_> = namespaces
        .iter()
        .map(|ns| {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            watcher(pods, watcher::Config::default().labels(ARGO_WORKFLOW_LABEL))
                .default_backoff()
                .applied_objects()
                .boxed()
        })
        .collect();
    let (client, count) = (client.clone(), done.clone());
    let task = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        let mut pods = futures::stream::select_all(streams);
        while let Ok(Some(pod)) = pods.try_next().await {
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
            if !matches!(phase.as_deref(), Some("Running" | "Succeeded")) {
                continue;
            }
            let ns = pod.namespace().unwrap_or_default();
            let (Some(node), Some(workflow), Some(owner)) = (
                pod.annotations()
                    .get("workflows.argoproj.io/node-id")
                    .cloned(),
                pod.labels().get(ARGO_WORKFLOW_LABEL).cloned(),
                pod.owner_references()
                    .iter()
                    .find(|o| o.kind == "Workflow")
                    .cloned(),
            ) else {
                continue;
            };
            if !seen.insert(format!("{ns}/{node}")) {
                continue;
            }
            let results: Api<DynamicObject> = Api::namespaced_with(
                client.clone(),
                &ns,
                &argo_resource("WorkflowTaskResult", "workflowtaskresults"),
            );
            let count = count.clone();
            tokio::spawn(async move {
                let result: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
                    "metadata": {
                        "name": node,
                        "labels": {
                            ARGO_WORKFLOW_LABEL: workflow,
                            "workflows.argoproj.io/report-outputs-completed": "false"
                        },
                        "ownerReferences": [{
                            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                            "name": owner.name, "uid": owner.uid
                        }]
                    }
                }))
                .expect("task result");
                if let Err(e) = results.create(&PostParams::default(), &result).await {
                    eprintln!("  argo executor stand-in: create the task result {node}: {e}");
                    return;
                }
                let finished = json!({ "metadata": { "labels": { "workflows.argoproj.io/report-outputs-completed": "true" } } });
                match results
                    .patch(&node, &PatchParams::default(), &Patch::Merge(&finished))
                    .await
                {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("  argo executor stand-in: finish the task result {node}: {e}")
                    }
                }
            });
        }
    });
    (Abort(task), done)
}

/// What Argo's phase measured.
struct ArgoRun {
    took: Duration,
    /// From the controller's start to the first Workflow seen Running.
    first_running: Duration,
    cpu: f64,
    rss: u64,
    /// Pods the executor's stand-in reported for.
    results: usize,
    /// Pod nodes in the Workflows' status, and the largest Workflow's JSON size.
    pod_nodes: usize,
    largest: usize,
    /// Whether Argo stored some Workflow's nodes compressed (not counted then).
    compressed: bool,
}

/// Argo Workflows: its controller (the `workflow-controller` at `binary`) runs one Workflow
/// per namespace, each a DAG of the estate's shape, to Succeeded.
async fn argo(
    client: &Client,
    namespaces: &[String],
    kubeconfig: &str,
    binary: &str,
    e: &Estate,
) -> ArgoRun {
    // Its configuration, in the namespace it is started in: defaults, but no metrics
    // server (Argo's listens on every interface; nothing here reads it). Each value is
    // YAML that Argo indents under its key, so it must end in a newline.
    let home = &namespaces[0];
    let config: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "workflow-controller-configmap" },
        "data": { "metricsConfig": "enabled: false\n", "telemetryConfig": "enabled: false\n" }
    }))
    .expect("configmap");
    Api::<ConfigMap>::namespaced(client.clone(), home)
        .create(&PostParams::default(), &config)
        .await
        .expect("create Argo's configmap");
    // One namespace: a controller scoped to it; several: one for the cluster, as lifeline's.
    let qps = std::env::var("LIFELINE_ARGO_QPS").unwrap_or_else(|_| "1000".into());
    let burst = qps
        .parse::<f64>()
        .map(|q| ((q * 1.5) as u64).to_string())
        .unwrap_or_else(|_| qps.clone());
    let mut args = vec![
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        home.as_str(),
        "--executor-image",
        "lifeline.invalid/argoexec:v4.0.5",
        "--qps",
        qps.as_str(),
        "--burst",
        burst.as_str(),
        "--loglevel",
        "warn",
        "--log-format",
        "json",
    ];
    if namespaces.len() == 1 {
        args.push("--namespaced");
    }
    let log = std::env::temp_dir().join(format!("bench-restore-argo-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("Argo's log");
    let mut command = std::process::Command::new(binary);
    command
        .args(&args)
        .env("LEADER_ELECTION_DISABLE", "true")
        .stdout(std::process::Stdio::null())
        .stderr(file);
    // Argo's own default (10 s) unless asked otherwise.
    if let Ok(t) = std::env::var("LIFELINE_ARGO_REQUEUE_TIME") {
        command.env("DEFAULT_REQUEUE_TIME", t);
    }
    let (executor, results) = stand_in_executor(client, namespaces);
    let start = Instant::now();
    let controller = Stop(command.spawn().expect("start Argo's workflow-controller"));
    let workflows = workflow(e);
    let first_running = std::sync::Arc::new(std::sync::Mutex::new(None::<Duration>));
    let each = namespaces.iter().map(|ns| {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &argo_resource("Workflow", "workflows"));
        let wf: DynamicObject = serde_json::from_value(workflows.clone()).expect("workflow");
        let first_running = first_running.clone();
        async move {
            api.create(&PostParams::default(), &wf)
                .await
                .expect("create the Workflow");
            tokio::time::timeout(DEADLINE, async {
                let mut stream = watcher(
                    api.clone(),
                    watcher::Config::default().fields("metadata.name=estate"),
                )
                .default_backoff()
                .applied_objects()
                .boxed();
                while let Ok(Some(w)) = stream.try_next().await {
                    let phase = w.data["status"]["phase"].as_str().unwrap_or_default();
                    if phase == "Running" {
                        first_running
                            .lock()
                            .expect("lock")
                            .get_or_insert(start.elapsed());
                    }
                    if matches!(phase, "Succeeded" | "Failed" | "Error") {
                        return Some(phase.to_string());
                    }
                }
                None
            })
            .await
            .ok()
            .flatten()
        }
    });
    let done = futures::future::join_all(each).await;
    let took = start.elapsed();
    let (cpu, rss) = usage(controller.0.id());
    // The stand-in's last writes may still be under way when the last Workflow succeeds.
    let waited = Instant::now();
    while results.load(std::sync::atomic::Ordering::Relaxed) < e.deps.len() * namespaces.len()
        && waited.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(controller);
    drop(executor);
    if done.iter().any(|p| p.as_deref() != Some("Succeeded")) {
        let tail: String = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "not every Workflow succeeded within {DEADLINE:?}: {done:?}; the controller's log ({}) ends:\n{tail}",
            log.display()
        );
    }
    let _ = std::fs::remove_file(&log);
    // What Argo stored: each Workflow, with every node's status in it.
    let (mut pod_nodes, mut largest, mut compressed) = (0usize, 0usize, false);
    for ns in namespaces {
        let w = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            ns,
            &argo_resource("Workflow", "workflows"),
        )
        .get("estate")
        .await
        .expect("read the Workflow");
        largest = largest.max(serde_json::to_vec(&w).expect("json").len());
        pod_nodes += w.data["status"]["nodes"]
            .as_object()
            .map(|m| m.values().filter(|n| n["type"] == "Pod").count())
            .unwrap_or(0);
        // Over MAX_WORKFLOW_SIZE (1 MiB by default), Argo stores the nodes gzipped.
        compressed |= w.data["status"]["compressedNodes"]
            .as_str()
            .is_some_and(|c| !c.is_empty());
    }
    let first_running = first_running.lock().expect("lock").unwrap_or_default();
    ArgoRun {
        took,
        first_running,
        cpu,
        rss,
        results: results.load(std::sync::atomic::Ordering::Relaxed),
        pod_nodes,
        largest,
        compressed,
    }
}

async fn run(n: usize, depth: usize, plans: usize, argo_binary: Option<String>) -> Option<()> {
    let client = client().await?;
    let kubeconfig = std::env::var("LIFELINE_BENCH_KUBECONFIG")
        .or_else(|_| std::env::var("LIFELINE_TEST_KUBECONFIG"))
        .ok()?;
    let e = estate(n, depth);
    let namespaces: Vec<String> = (0..plans)
        .map(|k| match plans {
            1 => format!("bench-restore-{}", std::process::id()),
            _ => format!("bench-restore-{}-{k}", std::process::id()),
        })
        .collect();
    for ns in &namespaces {
        create_estate(&client, ns, &e).await;
    }
    // The floor starts once the controller manager has taken in the new Deployments.
    for ns in &namespaces {
        settled(&client, ns).await;
    }
    let levels = e.levels.len() as f64;

    // The floor walks every estate at once, as lifeline's plans do.
    let before = requests(&client).await;
    let start = Instant::now();
    futures::future::join_all(namespaces.iter().map(|ns| floor(&client, ns, &e))).await;
    let floor_took = start.elapsed();
    let after_floor = requests(&client).await;
    reset(&client, &namespaces, &e).await;
    let before_lifeline = requests(&client).await;
    let Lifeline {
        took,
        cpu,
        rss,
        log,
        own,
        reconciled,
    } = lifeline(&client, &namespaces, &kubeconfig).await;
    let latencies = dispatch(&log, &e, &namespaces);
    let _ = std::fs::remove_file(&log);
    let after = requests(&client).await;
    // What lifeline stored: the plan, and each system's progress in its shards.
    let (mut largest_plan, mut largest_shard, mut shards) = (0usize, 0usize, 0usize);
    for ns in &namespaces {
        let plan = Api::<RecoveryPlan>::namespaced(client.clone(), ns)
            .get("estate")
            .await
            .expect("read the plan");
        largest_plan = largest_plan.max(serde_json::to_vec(&plan).expect("json").len());
        let progress = Api::<RecoveryProgress>::namespaced(client.clone(), ns)
            .list(&Default::default())
            .await
            .expect("list the plan's progress");
        shards += progress.items.len();
        for p in &progress.items {
            largest_shard = largest_shard.max(serde_json::to_vec(p).expect("json").len());
        }
    }
    assert!(
        largest_plan.max(largest_shard) <= 256 * 1024,
        "an object lifeline wrote is over 256 KiB: plan {largest_plan} B, shard {largest_shard} B"
    );
    // Argo Workflows, when asked for: the same estate from the same outage.
    let argo_run = match &argo_binary {
        Some(binary) => {
            reset(&client, &namespaces, &e).await;
            let before = requests(&client).await;
            let run = argo(&client, &namespaces, &kubeconfig, binary, &e).await;
            let after = requests(&client).await;
            Some((run, delta(&before, &after)))
        }
        None => None,
    };

    let floor_req = delta(&before, &after_floor);
    let life_req = delta(&before_lifeline, &after);
    let sum = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    let total = n * plans;
    if plans == 1 {
        println!(
            "restore of {n} systems in {} levels (namespace {})",
            e.levels.len(),
            namespaces[0]
        );
    } else {
        println!(
            "restore of {plans} plans at once, each of {n} systems in {} levels in a namespace of its own ({total} systems)",
            e.levels.len()
        );
    }
    println!(
        "  floor:    wall {:.1} s, {:.2} s/level, API requests {} ({})",
        floor_took.as_secs_f64(),
        floor_took.as_secs_f64() / levels,
        sum(&floor_req),
        top(&floor_req)
    );
    println!(
        "  lifeline: wall {:.1} s, {:.2} s/level, API requests {} ({}), operator CPU {cpu:.1} s, peak RSS {} MiB",
        took.as_secs_f64(),
        took.as_secs_f64() / levels,
        sum(&life_req),
        top(&life_req),
        rss / 1024
    );
    println!(
        "  lifeline / floor: {:.2}x wall, {:.1} API requests per system against {:.1}",
        took.as_secs_f64() / floor_took.as_secs_f64().max(0.001),
        sum(&life_req) as f64 / total as f64,
        sum(&floor_req) as f64 / total as f64
    );
    // The operator's own requests, watches and the lists that fill its caches included.
    let own_total: u64 = own.values().sum();
    assert!(
        own.contains_key("PATCH deployments/scale"),
        "the operator's metrics hold no count of its scale requests: {own:?}"
    );
    println!(
        "  the operator's own requests: {own_total}, {:.1} per system ({})",
        own_total as f64 / total as f64,
        top(&own)
    );
    println!(
        "  the operator's reconciles: {}, {:.1} ms each on average, {:.0}% of the wall time",
        reconciled.0,
        reconciled.1 * 1000.0 / reconciled.0.max(1) as f64,
        reconciled.1 * 100.0 / took.as_secs_f64().max(0.001)
    );
    println!(
        "  stored: the plan {:.1} KiB at most, {shards} RecoveryProgress objects, the largest {:.1} KiB",
        largest_plan as f64 / 1024.0,
        largest_shard as f64 / 1024.0
    );
    if let Some((a, argo_req)) = &argo_run {
        println!(
            "  argo:     wall {:.1} s, {:.2} s/level, API requests {} ({}), controller CPU {:.1} s, peak RSS {} MiB",
            a.took.as_secs_f64(),
            a.took.as_secs_f64() / levels,
            sum(argo_req),
            top(argo_req),
            a.cpu,
            a.rss / 1024
        );
        println!(
            "  argo / lifeline: {:.2}x wall and per level, {:.1} API requests per system against {:.1}",
            a.took.as_secs_f64() / took.as_secs_f64().max(0.001),
            sum(argo_req) as f64 / total as f64,
            sum(&life_req) as f64 / total as f64
        );
        println!(
            "  argo: first Workflow Running {:.1} s after the controller started; {} pod nodes{}; the executor stood in for on {} pods; requeue time {}; CRDs {}; the largest Workflow {:.1} KiB",
            a.first_running.as_secs_f64(),
            a.pod_nodes,
            if a.compressed {
                " (and nodes stored compressed, not counted)"
            } else {
                ""
            },
            a.results,
            std::env::var("LIFELINE_ARGO_REQUEUE_TIME")
                .unwrap_or_else(|_| "10s (Argo's default)".into()),
            std::env::var("LIFELINE_ARGO_CRDS").unwrap_or_else(|_| "(not said)".into()),
            a.largest as f64 / 1024.0
        );
        println!("  argo's phase, every request: {}", every(argo_req));
        assert!(
            a.compressed || a.pod_nodes == total,
            "Argo ran {} pods for {total} systems",
            a.pod_nodes
        );
        assert_eq!(
            a.results, total,
            "the executor's stand-in reported every pod"
        );
    }
    // In `cargo test` too: a restore whose dispatches cannot be found in the log is a
    // broken benchmark, not a slow one.
    assert!(
        !latencies.is_empty(),
        "no dispatch found in the operator's log"
    );
    println!(
        "  dispatch (a dependency verified to its dependent's first step), over {} systems: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0)
    );
    // One Markdown row of the figures above, for scripts/bench-table.
    let per_level = |d: Duration| d.as_secs_f64() / levels;
    let argo_cells = match &argo_run {
        Some((a, _)) => format!(
            "{:.1} s, {:.2} s | {:.1}x | {:.1} s, {} MiB",
            a.took.as_secs_f64(),
            per_level(a.took),
            a.took.as_secs_f64() / took.as_secs_f64().max(0.001),
            a.cpu,
            a.rss / 1024
        ),
        None => "not run | | ".into(),
    };
    println!(
        "  row: | {} | {:.1} s, {:.2} s | {:.1} s, {:.2} s | {:.2}x | {argo_cells} | {:.1} | {:.1} s, {} MiB | {:.1} ms |",
        if plans == 1 {
            format!("{n}, {}", e.levels.len())
        } else {
            format!("{plans} x {n}, {}", e.levels.len())
        },
        floor_took.as_secs_f64(),
        per_level(floor_took),
        took.as_secs_f64(),
        per_level(took),
        took.as_secs_f64() / floor_took.as_secs_f64().max(0.001),
        own_total as f64 / total as f64,
        cpu,
        rss / 1024,
        percentile(&latencies, 99.0),
    );
    let all: Api<Namespace> = Api::all(client.clone());
    for ns in &namespaces {
        let _ = all.delete(ns, &DeleteParams::default()).await;
    }
    Some(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    // Argo's phase only when asked for, with the controller scripts/argo/build made.
    let argo = (bench && args.iter().any(|a| a == "--argo")).then(|| {
        std::env::var("LIFELINE_BENCH_ARGO").expect(
            "--argo needs LIFELINE_BENCH_ARGO, the workflow-controller binary (scripts/bench-restore N DEPTH --argo sets it)",
        )
    });
    let plans: usize = args
        .iter()
        .position(|a| a == "--plans")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let numbers: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| args.get(i.wrapping_sub(1)).is_none_or(|p| p != "--plans"))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let (n, depth) = if bench {
        (
            numbers.first().copied().unwrap_or(200),
            numbers.get(1).copied().unwrap_or(20),
        )
    } else {
        // `cargo test`: that it works, on 50 systems, not timed.
        (50, 5)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if runtime.block_on(run(n, depth, plans, argo)).is_none() {
        println!(
            "restore bench: no cluster (set LIFELINE_BENCH_KUBECONFIG, or run scripts/bench-restore); nothing measured"
        );
    }
}
