//! Test support for integration tests that run against the real local control plane
//! (`scripts/cluster`).
//!
//! - When `LIFELINE_TEST_KUBECONFIG` is set (the README's test command sets it and
//!   shares one cluster across the whole run), that cluster is used.
//! - Otherwise the first test that asks starts a cluster for this test process, named
//!   after the process id, and the cluster script tears it down when the process exits,
//!   however it exits (a panic, an abort or a kill included).
//!
//! Each test runs in a fresh namespace ([`with_namespace`]), removed afterwards, with a
//! client as cluster admin and clients as impersonated users ([`client_as`]).
//! [`wait_for`] waits on a condition with a deadline and, on timeout, fails with the
//! object's YAML and its recent Events.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use futures::FutureExt;
use k8s_openapi::{
    NamespaceResourceScope,
    api::core::v1::{Event, Namespace},
};
use kube::{
    Api, Client, Config, Resource, ResourceExt,
    api::{DeleteParams, ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde::{Serialize, de::DeserializeOwned};

pub mod playbook;
pub mod policies;

/// The environment variable naming a kubeconfig for an already running cluster.
pub const KUBECONFIG_ENV: &str = "LIFELINE_TEST_KUBECONFIG";

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running control plane this test process uses.
#[derive(Debug)]
pub struct TestCluster {
    /// Admin kubeconfig (client certificate in `system:masters`).
    pub kubeconfig: PathBuf,
}

impl TestCluster {
    /// The folder holding the pinned control-plane binaries (kubectl among them).
    /// Builds them if the cache is empty; instant otherwise.
    pub fn bin_dir(&self) -> PathBuf {
        static BIN: OnceLock<PathBuf> = OnceLock::new();
        BIN.get_or_init(|| {
            let out = Command::new(repo_root().join("scripts/controlplane/build"))
                .output()
                .expect("run scripts/controlplane/build");
            assert!(
                out.status.success(),
                "scripts/controlplane/build failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
    }

    /// Runs the pinned kubectl against this cluster and returns its stdout; fails the
    /// test with stderr when kubectl fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new(self.bin_dir().join("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The cluster for this test process: the shared one, or one started on first use.
pub fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Some(path) = std::env::var_os(KUBECONFIG_ENV) {
            let kubeconfig = PathBuf::from(path);
            assert!(
                kubeconfig.is_file(),
                "{KUBECONFIG_ENV}={} is not a file",
                kubeconfig.display()
            );
            return TestCluster { kubeconfig };
        }
        let pid = std::process::id();
        let name = format!("test-{pid}");
        eprintln!("{KUBECONFIG_ENV} is not set: starting cluster '{name}' for this test process");
        let out = Command::new(repo_root().join("scripts/cluster"))
            .args(["up", "--name", &name, "--owner-pid", &pid.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/cluster up");
        assert!(
            out.status.success(),
            "scripts/cluster up failed (its log is above)"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = stdout
            .lines()
            .last()
            .map(|l| PathBuf::from(l.trim()))
            .expect("scripts/cluster up prints the kubeconfig path");
        TestCluster { kubeconfig }
    })
}

async fn config_from(kubeconfig: &Path) -> Config {
    let kc = Kubeconfig::read_from(kubeconfig).expect("read test kubeconfig");
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("load test kubeconfig")
}

/// A client as cluster admin of the cluster `kubeconfig` names (a test's own cluster).
pub async fn client_from(kubeconfig: &Path) -> Client {
    Client::try_from(config_from(kubeconfig).await).expect("build client")
}

/// A client as cluster admin. Create one per test: a client belongs to the tokio
/// runtime it was made on, and each `#[tokio::test]` has its own.
pub async fn admin_client() -> Client {
    let config = config_from(&cluster().kubeconfig).await;
    Client::try_from(config).expect("build admin client")
}

/// A client that acts as `user` with `groups`, through impersonation by the admin.
/// The API server authorizes its requests as that user, and admission sees that user
/// in `request.userInfo`.
pub async fn client_as(user: &str, groups: &[&str]) -> Client {
    let mut config = config_from(&cluster().kubeconfig).await;
    config.auth_info.impersonate = Some(user.to_string());
    config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    Client::try_from(config).expect("build impersonating client")
}

/// A namespace that exists for one test.
#[derive(Clone)]
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
}

impl TestNamespace {
    /// A namespaced API in this namespace, as admin.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// A namespaced API in this namespace, through another client.
    pub fn api_with<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(client.clone(), &self.name)
    }
}

/// A DNS-1123 namespace name from the test name, unique in this run.
fn namespace_name(test: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut base: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    base.truncate(40);
    let base = base.trim_matches('-');
    format!("lt-{base}-{}-{seq}", std::process::id())
}

/// Runs `body` in a fresh namespace labelled `lifeline.dev/test=<test>`, then deletes
/// the namespace, also when the body panics (the panic is re-raised afterwards).
pub async fn with_namespace<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = admin_client().await;
    let name = namespace_name(test);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": { "lifeline.dev/test": "true" } }
    }))
    .expect("namespace manifest");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
    let result = AssertUnwindSafe(body(TestNamespace {
        name: name.clone(),
        client: client.clone(),
    }))
    .catch_unwind()
    .await;
    if let Err(e) = namespaces.delete(&name, &DeleteParams::default()).await {
        eprintln!("warning: could not delete namespace {name}: {e}");
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Waits until `cond` holds for the object `name` (watching it, not polling), or
/// fails the test after `timeout` with the object's YAML and its recent Events.
/// Returns the object as it was when the condition held.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&K) -> bool,
) -> K
where
    K: Readable,
{
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let client = Client::from(api.clone());
    let until = async {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = std::pin::pin!(watcher(api.clone(), config).default_backoff());
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                    let obj = obj.read_with(&client).await;
                    if cond(&obj) {
                        return Ok(obj);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "watch interrupted; retrying"),
            }
        }
        Err("the watch ended")
    };
    match tokio::time::timeout(timeout, until).await {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => panic!("{name}: watch failed while waiting for {what}: {e}"),
        Err(_) => {
            let report = describe(api, name).await;
            panic!(
                "timed out after {timeout:?} waiting for {name} to be {what}\n{report}",
                timeout = timeout
            )
        }
    }
}

/// An object as a test reads it: as the API server gives it, and a RecoveryPlan with its
/// systems' progress from its RecoveryProgress shards, as `lifeline status` reads it.
pub trait Readable:
    Resource + Clone + std::fmt::Debug + Send + Sync + DeserializeOwned + Serialize + 'static
{
    /// The object with what a reader adds to it.
    fn read_with(self, _client: &Client) -> impl Future<Output = Self> + Send {
        async { self }
    }
}

impl Readable for lifeline::api::v1alpha1::RecoveryPlan {
    async fn read_with(self, client: &Client) -> Self {
        lifeline::controller::cluster::progress::fetch(client, self)
            .await
            .expect("read the plan's RecoveryProgress objects")
    }
}

macro_rules! readable_as_is {
    ($($k:ty),* $(,)?) => { $(impl Readable for $k {})* };
}
readable_as_is!(
    lifeline::api::v1alpha1::RecoveryDrill,
    lifeline::api::v1alpha1::ClinicalSystem,
    lifeline::api::v1alpha1::Approval,
    lifeline::api::v1alpha1::Intervention,
    lifeline::api::v1alpha1::RecoveryRecord,
    lifeline::api::v1alpha1::RecoveryProgress,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
);

/// Writes a hand-made status for the plan `name` as the operator stores one: its
/// `systems` in one RecoveryProgress shard (as admin, who holds every verb), the rest
/// through the status subresource (merged), naming that shard. For tests of what people
/// see, with no operator running.
pub async fn write_status(
    plans: &Api<lifeline::api::v1alpha1::RecoveryPlan>,
    name: &str,
    mut status: serde_json::Value,
) {
    use lifeline::api::v1alpha1::SystemStatus;
    let plan = plans
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("get RecoveryPlan {name}: {e}"));
    let ns = plan.namespace().unwrap_or_default();
    let uid = plan.uid().unwrap_or_default();
    // Without `systems` in it, the systems stay as they are.
    if let Some(systems) = status.as_object_mut().and_then(|m| m.remove("systems")) {
        let systems: Vec<SystemStatus> =
            serde_json::from_value(systems).expect("the systems are SystemStatuses");
        let refs = write_shard(plans, name, &ns, &uid, systems).await;
        if let Some(m) = status.as_object_mut() {
            m.insert("progressObjects".into(), refs);
        }
    }
    plans
        .patch_status(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({ "status": status })),
        )
        .await
        .unwrap_or_else(|e| panic!("patch the status of RecoveryPlan {name}: {e}"));
}

/// Writes `systems` as the one RecoveryProgress shard of the plan `name` (uid `uid`),
/// returning the `progressObjects` that name it.
async fn write_shard(
    plans: &Api<lifeline::api::v1alpha1::RecoveryPlan>,
    name: &str,
    ns: &str,
    uid: &str,
    systems: Vec<lifeline::api::v1alpha1::SystemStatus>,
) -> serde_json::Value {
    use lifeline::api::v1alpha1::{RECORD_PLAN_UID_LABEL, RecoveryProgress, RecoveryProgressSpec};
    let shard_name = lifeline::controller::cluster::progress::object_name(name, uid, 1, 0);
    let shards: Api<RecoveryProgress> = Api::namespaced(Client::from(plans.clone()), ns);
    let count = systems.len();
    let mut shard = RecoveryProgress::new(
        &shard_name,
        RecoveryProgressSpec {
            plan: name.to_string(),
            plan_uid: uid.to_string(),
            shards: 1,
            shard: 0,
            positions: (0..u32::try_from(count).unwrap_or(0)).collect(),
            systems,
        },
    );
    shard.metadata.labels = Some([(RECORD_PLAN_UID_LABEL.to_string(), uid.to_string())].into());
    let written = match shards.get_opt(&shard_name).await.expect("read the shard") {
        Some(old) => {
            shard.metadata.resource_version = old.resource_version();
            shards
                .replace(&shard_name, &PostParams::default(), &shard)
                .await
        }
        None => shards.create(&PostParams::default(), &shard).await,
    }
    .unwrap_or_else(|e| panic!("write RecoveryProgress {shard_name}: {e}"));
    serde_json::json!({ "shards": 1, "systems": count, "objects": [{
        "name": shard_name, "shard": 0, "systems": count,
        "resourceVersion": written.resource_version().unwrap_or_default()
    }] })
}

/// The RecoveryPlan `name` with its systems' progress.
pub async fn read_plan(
    plans: &Api<lifeline::api::v1alpha1::RecoveryPlan>,
    name: &str,
) -> Result<lifeline::api::v1alpha1::RecoveryPlan, kube::Error> {
    let plan = plans.get(name).await?;
    Ok(plan.read_with(&Client::from(plans.clone())).await)
}

/// The object's YAML and its recent Events, for failure messages.
pub async fn describe<K>(api: &Api<K>, name: &str) -> String
where
    K: Resource + Clone + std::fmt::Debug + DeserializeOwned + Serialize,
{
    let mut out = String::new();
    match api.get_opt(name).await {
        Ok(Some(obj)) => {
            out.push_str("--- object ---\n");
            out.push_str(&serde_yaml::to_string(&obj).unwrap_or_else(|e| format!("{e}")));
            if let Some(ns) = obj.namespace() {
                let events: Api<Event> = Api::namespaced(api.clone().into_client(), &ns);
                let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
                out.push_str("--- events ---\n");
                match events.list(&lp).await {
                    Ok(list) => {
                        let mut items = list.items;
                        items.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
                        for e in items.iter().rev().take(20).rev() {
                            out.push_str(&format!(
                                "{} {} {}: {}\n",
                                e.type_.as_deref().unwrap_or("-"),
                                e.reason.as_deref().unwrap_or("-"),
                                e.involved_object.kind.as_deref().unwrap_or("-"),
                                e.message.as_deref().unwrap_or("")
                            ));
                        }
                    }
                    Err(e) => out.push_str(&format!("(could not list events: {e})\n")),
                }
            }
        }
        Ok(None) => out.push_str("(the object does not exist)\n"),
        Err(e) => out.push_str(&format!("(could not read the object: {e})\n")),
    }
    out
}

/// Builds a typed object from JSON, failing the test with the error.
pub fn object<K: DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("test manifest matches its type")
}

/// Retries `attempt` until it returns `Some`, or fails after `timeout` with `what`.
/// For conditions that have no object to watch (an RBAC grant or an admission
/// policy taking effect); waits grow from 50 ms to 1 s between attempts.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(50);
    loop {
        match attempt().await {
            Ok(v) => return v,
            Err(last) => {
                if tokio::time::Instant::now() >= deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The field manager the tests apply objects with (CRDs, playbooks).
pub const TEST_FIELD_MANAGER: &str = "lifeline-tests";

/// How long [`ensure_crds`] waits for each CRD to be Established.
pub const CRD_ESTABLISHED: Duration = Duration::from_secs(60);

/// Installs every lifeline CRD (`lifeline::api::v1alpha1::crds()`) by server-side apply
/// (field manager [`TEST_FIELD_MANAGER`], forced) and waits until each is Established.
///
/// Idempotent, so any number of tests may call it at once, in this process or in others
/// sharing the cluster. Note that Established stays True when an existing CRD's schema
/// changes; the API server picks up a new schema from its informer within moments.
pub async fn ensure_crds(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in lifeline::api::v1alpha1::crds() {
        let name = crd.name_any();
        // Conflicts (two creates racing), throttling and server errors are worth another
        // try; anything else (an invalid CRD, say) fails the test at once.
        let outcome = eventually(
            &format!("CRD {name} to be applied"),
            CRD_ESTABLISHED,
            || {
                let (crds, params, crd, name) = (crds.clone(), params.clone(), crd.clone(), &name);
                async move {
                    match crds.patch(name, &params, &Patch::Apply(&crd)).await {
                        Ok(_) => Ok(Ok(())),
                        Err(kube::Error::Api(s)) if !retryable(s.code) => {
                            Ok(Err(format!("{} {}", s.code, s.message)))
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
        )
        .await;
        if let Err(e) = outcome {
            panic!("apply CRD {name}: {e}");
        }
        names.push(name);
    }
    for name in names {
        wait_for(&crds, &name, "Established", CRD_ESTABLISHED, |crd| {
            crd.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .await;
    }
}

/// Whether an API error with this HTTP status is worth another try: a conflict (two
/// writers racing), throttling, or a server error.
fn retryable(code: u16) -> bool {
    code == 409 || code == 429 || code >= 500
}

/// Held by the tests that create, delete or dry-run the operator's Deployment in
/// `lifeline-system` (`rbac` and `playbooks`), which would otherwise race: a dry run
/// reads the Deployment and then patches it, and fails if it is deleted in between.
/// Both are modules of this one test binary, so a lock in the process keeps them apart.
pub static LIFELINE_SYSTEM_DEPLOYMENT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long [`apply_manifests`] keeps retrying.
pub const MANIFESTS_APPLIED: Duration = Duration::from_secs(60);

/// Applies files of `manifests/` (for example `"namespace.yaml"`), in the order given, by
/// server-side apply as admin (field manager [`TEST_FIELD_MANAGER`], forced), with the
/// pinned kubectl. Idempotent, so tests in this process or others sharing the cluster may
/// apply the same files at once. Retries what can be transient (a namespace still
/// terminating, a race with another applier) and fails the test with kubectl's message
/// after [`MANIFESTS_APPLIED`]. Returns kubectl's output.
pub async fn apply_manifests(files: &[&str]) -> String {
    let mut args: Vec<String> = [
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        TEST_FIELD_MANAGER,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in files {
        args.push("-f".into());
        args.push(
            repo_root()
                .join("manifests/operator")
                .join(f)
                .display()
                .to_string(),
        );
    }
    let what = format!("kubectl {}", args.join(" "));
    eventually(&what, MANIFESTS_APPLIED, || {
        let args = args.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let c = cluster();
                let out = Command::new(c.bin_dir().join("kubectl"))
                    .arg("--kubeconfig")
                    .arg(&c.kubeconfig)
                    .args(&args)
                    .output()
                    .map_err(|e| format!("run kubectl: {e}"))?;
                if out.status.success() {
                    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).into_owned())
                }
            })
            .await
            .map_err(|e| format!("kubectl task: {e}"))?
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Running the operator as a subprocess, local stand-ins for the services that checks
// reach, and builders for ClinicalSystems and RecoveryPlans (`operator`, `crash`, `drill`,
// `release` and others).
// ---------------------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (bound and released at once; good enough for a test).
pub fn free_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// `lifeline run` as a child process, scoped with `--namespace` to one test namespace,
/// logging (`RUST_LOG=info`) to a file. Killed with SIGKILL when dropped; when the test
/// is failing by then, its log is printed.
pub struct Operator {
    /// A short name for messages ("operator", "a", "b").
    pub label: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics_addr: std::net::SocketAddr,
    args: Vec<String>,
    child: Option<std::process::Child>,
    log: PathBuf,
    starts: u32,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// Starts `lifeline run --namespace <namespace> --metrics-addr 127.0.0.1:<free port>
    /// --check-network 127.0.0.0/8` (the tests' stubs listen on loopback) plus `extra`
    /// arguments.
    pub fn start(label: &str, namespace: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the operator log");
        let log = dir.path().join(format!("{label}.log"));
        let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_local_port()));
        let mut args: Vec<String> = vec![
            "run".into(),
            "--namespace".into(),
            namespace.into(),
            "--metrics-addr".into(),
            metrics_addr.to_string(),
            "--check-network".into(),
            "127.0.0.0/8".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut op = Self {
            label: label.to_string(),
            metrics_addr,
            args,
            child: None,
            log,
            starts: 0,
            _dir: dir,
        };
        op.spawn();
        op
    }

    /// Starts the process again (after [`Operator::kill`]), appending to the same log.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{}: already running", self.label);
        self.starts += 1;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the operator log");
        {
            use std::io::Write;
            writeln!(
                file,
                "===== start #{} of operator {} =====",
                self.starts, self.label
            )
            .expect("write the operator log");
        }
        let stderr = file.try_clone().expect("clone the log file handle");
        let child = Command::new(env!("CARGO_BIN_EXE_lifeline"))
            .args(&self.args)
            .env("KUBECONFIG", &cluster().kubeconfig)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("LIFELINE_LOG_FORMAT", "text")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("KUBERNETES_SERVICE_HOST")
            // Settings `lifeline run` also reads from the environment: only `args` count.
            .env_remove("LIFELINE_METRICS_ADDR")
            .env_remove("LIFELINE_LEADER_ELECT")
            .env_remove("LIFELINE_WATCH_NAMESPACE")
            .env_remove("POD_NAMESPACE")
            .env_remove("POD_NAME")
            .stdin(std::process::Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .expect("start lifeline run");
        self.child = Some(child);
    }

    /// Kills the process with SIGKILL (no shutdown, no lease release) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Fails the test (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!(
                "operator {} exited with {status}; its log:\n{}",
                self.label,
                self.log()
            );
        }
    }

    /// Everything the process logged, over every start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// How many lines of an operator's log [`Operator`] prints when dropped.
pub const OPERATOR_LOG_TAIL: usize = 400;

impl Drop for Operator {
    /// Kills the process and prints the end of its log. The test harness shows what a
    /// test printed only when the test fails, and a failure inside [`with_namespace`] is
    /// caught (to delete the namespace) before this runs, so `thread::panicking()` cannot
    /// tell: print always.
    fn drop(&mut self) {
        self.kill();
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(OPERATOR_LOG_TAIL)..];
        eprintln!(
            "----- log of operator {} ({} of {} lines) -----\n{}\n----- end of log of operator {} -----",
            self.label,
            tail.len(),
            lines.len(),
            tail.join("\n"),
            self.label
        );
    }
}

/// Reads an HTTP request up to the end of its headers; `None` if the connection closes
/// first.
pub async fn read_request_head(conn: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A tiny HTTP server on 127.0.0.1 for `http` checks: answers every request with the
/// current status (default 200), except that a path can be told to fail its first N
/// requests with 500. Records every request it answered. Stops when dropped.
pub struct StubHttp {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    state: std::sync::Arc<StubHttpState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct StubHttpState {
    status: std::sync::atomic::AtomicU16,
    fail_first: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    answered: std::sync::Mutex<Vec<(String, u16)>>,
}

impl StubHttp {
    /// Starts the server, answering `status` to everything.
    pub async fn start(status: u16) -> Self {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stub HTTP server");
        let addr = listener.local_addr().expect("stub HTTP address");
        let state = std::sync::Arc::new(StubHttpState::default());
        state.status.store(status, Ordering::SeqCst);
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let Some(head) = read_request_head(&mut conn).await else {
                        return;
                    };
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let code = {
                        let mut fail = state.fail_first.lock().expect("stub state");
                        match fail.get_mut(&path) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                500
                            }
                            _ => state.status.load(Ordering::SeqCst),
                        }
                    };
                    state
                        .answered
                        .lock()
                        .expect("stub state")
                        .push((path, code));
                    let body = if code == 200 { "ok" } else { "not ok" };
                    let response = format!(
                        "HTTP/1.1 {code} Stub\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// The URL of `path` ("/lims") on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Makes the next `n` requests for `path` fail with 500.
    pub fn fail_first(&self, path: &str, n: u32) {
        self.state
            .fail_first
            .lock()
            .expect("stub state")
            .insert(path.to_string(), n);
    }

    /// Every (path, status) answered so far, in order.
    pub fn answered(&self) -> Vec<(String, u16)> {
        self.state.answered.lock().expect("stub state").clone()
    }

    /// How many requests for `path` were answered with `status`.
    pub fn count(&self, path: &str, status: u16) -> usize {
        self.answered()
            .iter()
            .filter(|(p, s)| p == path && *s == status)
            .count()
    }
}

impl Drop for StubHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP listener on 127.0.0.1 for `tcp` checks that accepts and counts connections.
pub struct StubTcp {
    /// Its port.
    pub port: u16,
    accepted: std::sync::Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl StubTcp {
    /// Starts listening.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stub TCP listener");
        let port = listener.local_addr().expect("stub TCP address").port();
        let accepted = std::sync::Arc::new(AtomicU32::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for StubTcp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every version of the objects of kind `K` in a namespace that a watch delivered, in
/// order, recorded by a background task until dropped: for asserting on everything that
/// happened during a run, not only on where it ended.
pub struct Recording<K> {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(bool, K)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl<K> Recording<K>
where
    K: Resource + Clone + std::fmt::Debug + Send + Sync + DeserializeOwned + 'static,
    <K as Resource>::DynamicType: Default,
{
    /// Starts watching `api` (with `labels` as a label selector, if given), and returns
    /// once the watch has delivered its initial list.
    pub async fn start(api: Api<K>, labels: Option<&str>) -> Self {
        use futures::StreamExt;
        use kube::runtime::watcher;
        let mut config = watcher::Config::default();
        if let Some(l) = labels {
            config = config.labels(l);
        }
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = seen.clone();
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut synced = Some(synced_tx);
            let mut stream = std::pin::pin!(watcher(api, config));
            while let Some(event) = stream.next().await {
                let Ok(event) = event else { continue };
                let mut out = out.lock().expect("recording");
                match event {
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o) => out.push((false, o)),
                    watcher::Event::Delete(o) => out.push((true, o)),
                    watcher::Event::Init => {}
                    watcher::Event::InitDone => {
                        if let Some(tx) = synced.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), synced_rx)
            .await
            .expect("the recording watch lists within 30s")
            .expect("the recording watch started");
        Self { seen, task }
    }

    /// Every version seen so far, in order.
    pub fn versions(&self) -> Vec<K> {
        self.seen
            .lock()
            .expect("recording")
            .iter()
            .filter(|(deleted, _)| !deleted)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every object whose deletion was seen.
    pub fn deleted(&self) -> Vec<K> {
        self.seen
            .lock()
            .expect("recording")
            .iter()
            .filter(|(deleted, _)| *deleted)
            .map(|(_, o)| o.clone())
            .collect()
    }
}

impl<K> Drop for Recording<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every version of the RecoveryPlans of a namespace that a watch delivered, each with
/// its systems' progress as it was when that version was written: the plan's status names
/// the version of each RecoveryProgress shard it goes with, and a second watch records
/// every version of the shards.
pub struct PlanRecording {
    plans: Recording<lifeline::api::v1alpha1::RecoveryPlan>,
    progress: Recording<lifeline::api::v1alpha1::RecoveryProgress>,
}

impl PlanRecording {
    /// Starts recording the plans of `namespace` and their progress (the plans' Api is
    /// `plans`), once both watches have listed.
    pub async fn start(plans: Api<lifeline::api::v1alpha1::RecoveryPlan>, namespace: &str) -> Self {
        let progress = Api::namespaced(Client::from(plans.clone()), namespace);
        let progress = Recording::start(progress, None).await;
        Self {
            plans: Recording::start(plans, None).await,
            progress,
        }
    }

    /// Every version of a plan seen so far, in order, with its systems as of that
    /// version. A version whose shards' versions were not all seen is left out.
    pub fn versions(&self) -> Vec<lifeline::api::v1alpha1::RecoveryPlan> {
        let shards = self.progress.versions();
        let mut out = Vec::new();
        for mut plan in self.plans.versions() {
            let Some(status) = plan.status.as_mut() else {
                out.push(plan);
                continue;
            };
            let Some(refs) = status.progress_objects.clone() else {
                out.push(plan);
                continue;
            };
            let found: Option<Vec<&lifeline::api::v1alpha1::RecoveryProgress>> = refs
                .objects
                .iter()
                .map(|r| {
                    shards.iter().find(|p| {
                        p.name_any() == r.name
                            && p.resource_version().as_deref() == Some(r.resource_version.as_str())
                    })
                })
                .collect();
            let Some(found) = found else { continue };
            status.systems = lifeline::engine::progress::merge(
                found
                    .iter()
                    .map(|p| (&p.spec.systems[..], &p.spec.positions[..])),
            );
            out.push(plan);
        }
        out
    }
}

/// A Deployment of fake pods (kwok makes them Ready) labelled `app=<name>`.
pub fn fake_deployment(name: &str, replicas: i32) -> k8s_openapi::api::apps::v1::Deployment {
    object(serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "main", "image": format!("registry.example/{name}:1") }] }
            }
        }
    }))
}

/// A `job` step or check body: a JobTemplateSpec whose pod kwok completes at once.
pub fn job_body() -> serde_json::Value {
    serde_json::json!({
        "template": {
            "metadata": { "labels": { "lifeline.dev/test": "job" } },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        // Within Pod Security restricted, as admission and the operator
                        // (engine::job_policy) require of a Job the operator runs.
                        "securityContext": {
                            "runAsNonRoot": true,
                            "seccompProfile": { "type": "RuntimeDefault" }
                        },
                        "containers": [{
                            "name": "main",
                            "image": "registry.example/job:1",
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "capabilities": { "drop": ["ALL"] }
                            }
                        }]
                    }
                }
            }
        }
    })
}

/// Restore steps and checks for [`clinical_system`].
pub mod steps {
    use serde_json::{Value, json};

    /// Scale a Deployment.
    pub fn scale(name: &str, deployment: &str, replicas: i32) -> Value {
        json!({ "name": name, "scale": { "kind": "Deployment", "name": deployment, "replicas": replicas } })
    }
    /// Rollout-restart a Deployment.
    pub fn restart(name: &str, deployment: &str) -> Value {
        json!({ "name": name, "rolloutRestart": { "kind": "Deployment", "name": deployment } })
    }
    /// Run a Job.
    pub fn job(name: &str) -> Value {
        json!({ "name": name, "job": super::job_body() })
    }
    /// Check: a Deployment is fully available.
    pub fn ready(name: &str, deployment: &str) -> Value {
        json!({ "name": name, "workloadReady": { "kind": "Deployment", "name": deployment } })
    }
    /// Check: GET `url` answers 200.
    pub fn http(name: &str, url: &str) -> Value {
        json!({ "name": name, "http": { "url": url, "timeout": "2s" } })
    }
    /// Check: 127.0.0.1:`port` accepts a connection.
    pub fn tcp(name: &str, port: u16) -> Value {
        json!({ "name": name, "tcp": { "host": "127.0.0.1", "port": port } })
    }
    /// Check: a Job completes.
    pub fn job_check(name: &str) -> Value {
        json!({ "name": name, "job": super::job_body() })
    }
}

/// A ClinicalSystem `name` (tier critical, objective 1h) depending on `deps`, with these
/// restore steps and checks (see [`steps`]).
pub fn clinical_system(
    name: &str,
    deps: &[&str],
    restore: Vec<serde_json::Value>,
    checks: Vec<serde_json::Value>,
) -> serde_json::Value {
    let deps: Vec<serde_json::Value> = deps
        .iter()
        .map(|d| serde_json::json!({ "name": d }))
        .collect();
    serde_json::json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "ClinicalSystem",
        "metadata": { "name": name },
        "spec": {
            "displayName": name,
            "tier": "critical",
            "recoveryTimeObjective": "1h",
            "dependsOn": deps,
            "restore": { "steps": restore },
            "verify": { "checks": checks, "retryInterval": "1s" }
        }
    })
}

/// A ClinicalSystem `name` for the Deployment `workload` (made by [`fake_deployment`]): its
/// restore scales it to `replicas`, its check `ready` waits for it, and its release gate
/// selects its pods (`app=<workload>`).
pub fn gated_system(name: &str, workload: &str, replicas: i32) -> serde_json::Value {
    let mut system = clinical_system(
        name,
        &[],
        vec![
            serde_json::json!({ "name": "start", "scale": { "kind": "Deployment", "name": workload, "replicas": replicas } }),
        ],
        vec![
            serde_json::json!({ "name": "ready", "workloadReady": { "kind": "Deployment", "name": workload } }),
        ],
    );
    system["spec"]["release"] =
        serde_json::json!({ "podSelector": { "matchLabels": { "app": workload } } });
    system
}

/// A RecoveryPlan `name` selecting `systems` by name, no release stages.
pub fn recovery_plan(name: &str, systems: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "metadata": { "name": name },
        "spec": { "systems": { "names": systems } }
    })
}

/// The Jobs the plan made for `system`, by name.
pub async fn jobs_of(ns: &TestNamespace, system: &str) -> Vec<String> {
    let mut names: Vec<String> = ns
        .api::<k8s_openapi::api::batch::v1::Job>()
        .list(&ListParams::default().labels(&format!("lifeline.dev/system={system}")))
        .await
        .expect("list Jobs")
        .items
        .into_iter()
        .map(|j| j.name_any())
        .collect();
    names.sort();
    names
}

/// Runs the lifeline CLI against the test cluster.
pub async fn lifeline(args: &[&str]) -> std::process::Output {
    let kubeconfig = cluster().kubeconfig.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .expect("run lifeline")
    })
    .await
    .expect("join")
}

/// Creates `obj` in the test namespace, failing the test on error.
pub async fn create<K>(ns: &TestNamespace, obj: &K) -> K
where
    K: Resource<Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned,
    <K as Resource>::DynamicType: Default,
{
    ns.api::<K>()
        .create(&PostParams::default(), obj)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", obj.name_any()))
}

/// Reading a RecoveryPlan's status, and assertions every operator test makes on it.
pub mod plan_status {
    use kube::ResourceExt;
    use lifeline::api::v1alpha1::{
        ActionPhase, PlanPhase, RecoveryPlan, RecoveryPlanStatus, SystemPhase, SystemStatus,
    };

    /// A system's name and its hard dependencies.
    pub type Topology<'a> = &'a [(&'a str, &'a [&'a str])];

    /// The plan's status (default when none yet).
    pub fn status(plan: &RecoveryPlan) -> RecoveryPlanStatus {
        plan.status.clone().unwrap_or_default()
    }

    /// The plan's phase (Pending when no status yet).
    pub fn phase(plan: &RecoveryPlan) -> PlanPhase {
        plan.status.as_ref().map(|s| s.phase).unwrap_or_default()
    }

    /// The status of system `name` ("ns/name" in status), if recorded.
    pub fn find<'a>(
        status: &'a RecoveryPlanStatus,
        ns: &str,
        name: &str,
    ) -> Option<&'a SystemStatus> {
        let key = format!("{ns}/{name}");
        status.systems.iter().find(|s| s.name == key)
    }

    /// The status of system `name`, failing the test when it is missing.
    pub fn sys<'a>(status: &'a RecoveryPlanStatus, ns: &str, name: &str) -> &'a SystemStatus {
        find(status, ns, name)
            .unwrap_or_else(|| panic!("{ns}/{name} is not in the plan's status:\n{status:#?}"))
    }

    /// Asserts, for every version of the plan the watch delivered and for the final status,
    /// that no system had started restoring before every hard dependency was verified, and
    /// that no recorded `restoreStartedAt` is before a hard dependency's `verifiedAt`.
    pub fn assert_dependency_order(
        ns: &str,
        topology: Topology<'_>,
        versions: &[RecoveryPlan],
        last: &RecoveryPlanStatus,
    ) {
        assert!(
            versions.len() >= 3,
            "the recording saw {} versions of the plan: it must see the run, not only its end",
            versions.len()
        );
        for (n, plan) in versions.iter().enumerate() {
            let Some(st) = &plan.status else { continue };
            for (name, deps) in topology {
                let Some(s) = find(st, ns, name) else {
                    continue;
                };
                let started = s.restore_started_at.is_some()
                    || matches!(
                        s.phase,
                        SystemPhase::Restoring
                            | SystemPhase::Verifying
                            | SystemPhase::Verified
                            | SystemPhase::Released
                    );
                if !started {
                    continue;
                }
                for d in *deps {
                    let dep = find(st, ns, d).map(|d| d.phase).unwrap_or_default();
                    assert!(
                        dep.is_verified(),
                        "version {n} of the plan (resourceVersion {:?}): {name} is {} (started {:?}) while its dependency {d} is {dep}:\n{st:#?}",
                        plan.resource_version(),
                        s.phase,
                        s.restore_started_at,
                    );
                }
            }
        }
        for (name, deps) in topology {
            let s = sys(last, ns, name);
            let Some(started) = &s.restore_started_at else {
                continue;
            };
            for d in *deps {
                let dep = sys(last, ns, d);
                let verified = dep.verified_at.as_ref().unwrap_or_else(|| {
                    panic!("{name} started but dependency {d} has no verifiedAt")
                });
                assert!(
                    started.0 >= verified.0,
                    "{name} restoreStartedAt {} is before dependency {d} verifiedAt {}",
                    started.0,
                    verified.0
                );
            }
        }
    }

    /// Asserts every step of every system ran exactly once and every check passed.
    pub fn assert_each_step_once_and_checks_passed(st: &RecoveryPlanStatus) {
        for s in &st.systems {
            for step in &s.steps {
                assert_eq!(
                    (step.phase, step.attempts),
                    (ActionPhase::Succeeded, 1),
                    "{} step {}: {step:#?}",
                    s.name,
                    step.name
                );
            }
            for c in &s.checks {
                assert_eq!(
                    c.phase,
                    ActionPhase::Succeeded,
                    "{} check {}: {c:#?}",
                    s.name,
                    c.name
                );
                assert!(c.attempts >= 1, "{} check {}: {c:#?}", s.name, c.name);
            }
        }
    }

    /// The phase of system `name` in the plan (Pending when not recorded).
    pub fn sys_phase(plan: &RecoveryPlan, ns: &str, name: &str) -> SystemPhase {
        plan.status
            .as_ref()
            .and_then(|s| find(s, ns, name))
            .map(|s| s.phase)
            .unwrap_or_default()
    }

    /// Attempts of check `check` of system `name` so far (0 when not recorded).
    pub fn check_attempts(plan: &RecoveryPlan, ns: &str, name: &str, check: &str) -> u32 {
        plan.status
            .as_ref()
            .and_then(|s| find(s, ns, name))
            .and_then(|s| s.checks.iter().find(|c| c.name == check))
            .map_or(0, |c| c.attempts)
    }
}

/// A webhook receiver on 127.0.0.1 (path `/hook`) recording each POST's JSON body, in
/// order; its first `fail_first` requests are held until `release` is notified and then
/// answered 500.
#[derive(Clone, Default)]
pub struct Webhook {
    pub received: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// Requests still to answer 500, each once `release` is notified.
    pub fail: std::sync::Arc<std::sync::atomic::AtomicU32>,
    pub release: std::sync::Arc<tokio::sync::Notify>,
}

impl Webhook {
    pub async fn start(fail_first: u32) -> (Self, std::net::SocketAddr) {
        use axum::{Router, body::Bytes, http::StatusCode, routing::post};
        let hook = Webhook::default();
        hook.fail
            .store(fail_first, std::sync::atomic::Ordering::SeqCst);
        let state = hook.clone();
        let app = Router::new().route(
            "/hook",
            post(move |body: Bytes| {
                let state = state.clone();
                async move {
                    let body: serde_json::Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|e| serde_json::json!({ "invalid": e.to_string() }));
                    let failing = state
                        .fail
                        .fetch_update(
                            std::sync::atomic::Ordering::SeqCst,
                            std::sync::atomic::Ordering::SeqCst,
                            |n| n.checked_sub(1),
                        )
                        .is_ok();
                    state.received.lock().expect("webhook state").push(body);
                    if failing {
                        state.release.notified().await;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind webhook");
        let addr = listener.local_addr().expect("webhook address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (hook, addr)
    }

    pub fn received(&self) -> Vec<serde_json::Value> {
        self.received.lock().expect("webhook state").clone()
    }
}

/// The systems ("namespace/name") an Event's note is about: each one a wave's Event names
/// ("restore started: ns/a, ns/b", "verified within the objective: ns/a after 2s
/// (objective 1h), ns/b after 3s (objective 1h)"), or the one a per-system Event begins with
/// ("ns/a: dependency failed").
pub fn systems_named(note: &str) -> Vec<String> {
    for lead in ["restore started: ", "verified within the objective: "] {
        if let Some(list) = note.strip_prefix(lead) {
            return list
                .split(", ")
                .filter_map(|item| item.split(' ').next())
                .map(str::to_string)
                .collect();
        }
    }
    note.split([':', ' '])
        .next()
        .map(str::to_string)
        .into_iter()
        .collect()
}

/// The Events in the test namespace with `reason`, by note.
pub async fn event_notes(ns: &TestNamespace, reason: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> = ns.api();
    let mut notes: Vec<String> = events
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.note)
        .collect();
    notes.sort();
    notes
}

/// Waits up to `deadline` for an Event of `reason` in the test namespace whose note
/// `matches` (Events go out a moment after the status that records what they tell).
pub async fn event_note(
    ns: &TestNamespace,
    reason: &str,
    deadline: Duration,
    matches: impl Fn(&str) -> bool + Copy,
) {
    eventually(&format!("a {reason} Event"), deadline, || async move {
        let notes = event_notes(ns, reason).await;
        if notes.iter().any(|n| matches(n)) {
            Ok(())
        } else {
            Err(format!("{notes:?}"))
        }
    })
    .await;
}

/// Creates the stage Approval `a` in the test namespace naming its plan's uid, as
/// `lifeline approve` does (an Approval without it made in the plan's own second counts
/// for nothing), and returns it as created.
pub async fn create_approval(
    ns: &TestNamespace,
    mut a: lifeline::api::v1alpha1::Approval,
) -> lifeline::api::v1alpha1::Approval {
    if a.spec.stage.is_some()
        && a.spec.plan_uid.is_none()
        && let Ok(plan) = ns
            .api::<lifeline::api::v1alpha1::RecoveryPlan>()
            .get(&a.spec.plan)
            .await
    {
        a.spec.plan_uid = plan.metadata.uid;
    }
    ns.api::<lifeline::api::v1alpha1::Approval>()
        .create(&PostParams::default(), &a)
        .await
        .unwrap_or_else(|e| panic!("create Approval {}: {e}", a.name_any()))
}

/// A cluster of a test's own, torn down when dropped (and by `--owner-pid` should
/// the test process die first).
pub struct OwnCluster {
    /// Its name.
    pub name: String,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
}

impl OwnCluster {
    /// Starts cluster `name` (scripts/cluster up), failing the test if it does not start.
    pub fn up(name: &str) -> Self {
        let out = Command::new(repo_root().join("scripts/cluster"))
            .args([
                "up",
                "--name",
                name,
                "--owner-pid",
                &std::process::id().to_string(),
            ])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/cluster up");
        assert!(
            out.status.success(),
            "scripts/cluster up --name {name} failed (log above)"
        );
        let kubeconfig = PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .expect("kubeconfig path")
                .trim(),
        );
        Self {
            name: name.to_string(),
            kubeconfig,
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/cluster"))
            .args(["down", "--name", &self.name])
            .output();
    }
}
