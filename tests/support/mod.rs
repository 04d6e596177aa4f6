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
#![allow(dead_code)]

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
    runtime::wait::await_condition,
};
use serde::{Serialize, de::DeserializeOwned};

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
    K: Resource + Clone + std::fmt::Debug + Send + DeserializeOwned + Serialize + 'static,
{
    let condition = |obj: Option<&K>| obj.is_some_and(&cond);
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(Some(obj))) => obj,
        Ok(Ok(None)) => panic!("{name}: deleted while waiting for {what}"),
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
