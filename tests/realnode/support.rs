//! What the real-node tests share: the cluster with its real node, kubectl, waiting with
//! a deadline, commands run inside pods, and lifeline installed from `manifests/crds/` and `manifests/operator/` once.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{Mutex, MutexGuard, OnceLock},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The environment variable naming the kubeconfig of a running cluster with a real node.
pub const KUBECONFIG_ENV: &str = "LIFELINE_REALNODE_KUBECONFIG";
/// The real node's name (scripts/realnode/node).
pub const NODE: &str = "lifeline-real-0";
/// The user the cluster's admin kubeconfig authenticates as (scripts/cluster).
pub const ADMIN: &str = "lifeline-admin";
/// The busybox image the node's scripts import.
pub const BUSYBOX: &str = "lifeline.local/busybox:1.35.0";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct RealCluster {
    pub kubeconfig: PathBuf,
    /// The cluster's folder (scripts/cluster), holding its binaries and the node's state.
    pub dir: PathBuf,
}

/// The cluster: the one `LIFELINE_REALNODE_KUBECONFIG` names, or one started with a real
/// node for this process (torn down when it exits).
pub fn cluster() -> &'static RealCluster {
    static CLUSTER: OnceLock<RealCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let kubeconfig = match std::env::var_os(KUBECONFIG_ENV) {
            Some(path) => PathBuf::from(path),
            None => {
                let pid = std::process::id();
                let name = format!("realnode-{pid}");
                eprintln!(
                    "{KUBECONFIG_ENV} is not set: starting cluster '{name}' with a real node"
                );
                let out = Command::new(repo_root().join("scripts/cluster"))
                    .args(["up", "--name", &name, "--real-node", "--owner-pid"])
                    .arg(pid.to_string())
                    .stderr(Stdio::inherit())
                    .output()
                    .expect("run scripts/cluster up");
                assert!(
                    out.status.success(),
                    "scripts/cluster up --real-node failed (its log is above)"
                );
                PathBuf::from(
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim(),
                )
            }
        };
        assert!(
            kubeconfig.is_file(),
            "{} is not a kubeconfig file",
            kubeconfig.display()
        );
        let dir = kubeconfig
            .parent()
            .expect("kubeconfig in the cluster folder")
            .to_path_buf();
        assert!(
            dir.join("node").is_dir(),
            "{} has no real node (start it with scripts/cluster up --real-node)",
            dir.display()
        );
        RealCluster { kubeconfig, dir }
    })
}

/// One test at a time: they share the operator, and one of them deletes its leader.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// kubectl against the cluster; the output whatever the exit code.
pub fn kubectl_output(args: &[&str], stdin: Option<&str>) -> Output {
    let c = cluster();
    let mut cmd = Command::new(c.dir.join("bin/kubectl"));
    cmd.arg("--kubeconfig").arg(&c.kubeconfig).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write kubectl stdin");
    }
    child.wait_with_output().expect("wait for kubectl")
}

/// kubectl, failing the test with its stderr when it fails; its stdout.
pub fn kubectl(args: &[&str]) -> String {
    let out = kubectl_output(args, None);
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply -f -` of `yaml`.
pub fn apply(yaml: &str) {
    let out = kubectl_output(&["apply", "-f", "-"], Some(yaml));
    assert!(
        out.status.success(),
        "kubectl apply failed:\n{}\n--- input ---\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An object as JSON, or None when it does not exist.
pub fn get(args: &[&str]) -> Option<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let out = kubectl_output(&all, None);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("kubectl get -o json"))
}

/// Polls `attempt` every half second until it gives a value, or fails the test after
/// `timeout` with `what` and the last thing `attempt` reported.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// A namespace for one test, named `<name>-<pid>` so that a rerun on the same cluster
/// gets a new one (a namespace holding recovery records stays until the operator's
/// retention lets them go: nobody else may delete a record), deleted when dropped.
pub struct Namespace(pub String);

impl Namespace {
    pub fn create(name: &str, labels: &[(&str, &str)]) -> Self {
        let name = format!("{name}-{}", std::process::id());
        let name = name.as_str();
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let ns = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": name, "labels": labels }
        });
        apply(&ns.to_string());
        Namespace(name.to_string())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl_output(&["delete", "namespace", &self.0, "--wait=false"], None);
    }
}

/// A busybox pod that sleeps, to connect from, Ready on the real node.
pub fn client_pod(ns: &str, name: &str) {
    apply(&format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"role":"client"}}}},
          "spec":{{"terminationGracePeriodSeconds":0,"containers":[{{"name":"c","image":"{BUSYBOX}","imagePullPolicy":"Never",
          "command":["sleep","3600"]}}]}}}}"#
    ));
    kubectl(&[
        "-n",
        ns,
        "wait",
        "--for=condition=Ready",
        &format!("pod/{name}"),
        "--timeout=60s",
    ]);
}

/// What a web server pod runs: busybox httpd on 8080 serving a page that names `what`,
/// logging each request (with the peer's address) to its stdout.
pub fn web_command(what: &str) -> Value {
    serde_json::json!([
        "sh",
        "-c",
        format!(
            "mkdir -p /tmp/www && echo '<html><body>{what}: lifeline test page</body></html>' > /tmp/www/index.html && exec httpd -f -vv -p 8080 -h /tmp/www 2>&1"
        )
    ])
}

/// GETs `url` from inside pod `ns/pod` (5 s at most): the body, or why it failed.
pub fn fetch_from(ns: &str, pod: &str, url: &str) -> Result<String, String> {
    let out = kubectl_output(
        &[
            "-n", ns, "exec", pod, "--", "timeout", "5", "wget", "-qO-", url,
        ],
        None,
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether a fetch from `fetch_from` failed at the connection itself: refused, or no answer
/// before the 5 s `timeout` killed wget (a NetworkPolicy drops the packets). A name that does
/// not resolve, an HTTP error, or kubectl failing to exec in the pod is none of these, and a
/// gate test that took it for a blocked connection would prove nothing.
pub fn connection_failed(error: &str) -> bool {
    let refused = error.contains("Connection refused");
    // busybox `timeout` kills wget with SIGTERM: exit status 128 + 15.
    let timed_out = error.contains("exit code 143") || error.contains("exit Some(143)");
    (refused || timed_out) && !error.contains("bad address")
}

/// The image lifeline's operator runs: built by scripts/realnode/images from the release
/// binary (`cargo build --release` must have run: scripts/test does) and imported into
/// the node's containerd, once.
pub fn lifeline_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let binary = std::env::var_os("LIFELINE_RELEASE_BINARY")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/release/lifeline"));
        assert!(
            binary.is_file(),
            "{} is missing: build it with `cargo build --release --locked --bin lifeline`",
            binary.display()
        );
        let out_dir = cluster().dir.join("node/images");
        let out = Command::new(repo_root().join("scripts/realnode/images"))
            .arg("lifeline")
            .arg(&out_dir)
            .arg(&binary)
            .output()
            .expect("run scripts/realnode/images");
        assert!(
            out.status.success(),
            "images lifeline failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (reference, archive) = line.split_once(' ').expect("REFERENCE ARCHIVE");
        let out = Command::new(repo_root().join("scripts/realnode/node"))
            .arg("import")
            .arg(&cluster().dir)
            .arg(archive)
            .output()
            .expect("run scripts/realnode/node import");
        assert!(
            out.status.success(),
            "node import failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        reference.to_string()
    })
}

/// lifeline installed as a user installs it: `kubectl apply -k` of a kustomization whose only
/// resource is `manifests/` (the CRDs and the operator), with the image overridden to the
/// local one. Waits until the CRDs are established and both replicas are available. Once
/// per process.
pub fn installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let image = lifeline_image();
        let (name, tag) = image.rsplit_once(':').expect("image tag");
        // Kustomize takes a base only by a relative path: the overlay sits in target/.
        let overlay = repo_root().join("target/realnode-overlay");
        std::fs::create_dir_all(&overlay).expect("overlay folder");
        std::fs::write(
            overlay.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../manifests\nimages:\n  - name: ghcr.io/lifeline-dev/lifeline\n    newName: {name}\n    newTag: {tag}\n"
            ),
        )
        .expect("write overlay");
        let overlay = overlay.display().to_string();
        kubectl(&["apply", "-k", &overlay]);
        kubectl(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
        kubectl(&[
            "-n", "lifeline-system", "rollout", "status", "deployment/lifeline-operator", "--timeout=180s",
        ]);
    });
}

/// The names of the operator's pods that are Ready.
pub fn ready_operator_pods() -> Vec<String> {
    let pods = get(&[
        "-n",
        "lifeline-system",
        "pods",
        "-l",
        "app.kubernetes.io/name=lifeline",
    ])
    .expect("list operator pods");
    pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// The Lease's holder, if any.
pub fn lease_holder() -> Option<String> {
    get(&["-n", "lifeline-system", "lease", "lifeline-operator"])
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
        .filter(|h| !h.is_empty())
}

/// A system's entry in a plan's progress (its RecoveryProgress objects), as it is now.
pub fn system_status(plan: &Value, ns: &str, system: &str) -> Value {
    let key = format!("{ns}/{system}");
    let uid = plan["metadata"]["uid"].as_str().unwrap_or_default();
    let plan_ns = plan["metadata"]["namespace"].as_str().unwrap_or(ns);
    let selector = format!("lifeline.dev/plan-uid={uid}");
    let shards = get(&["-n", plan_ns, "recoveryprogresses", "-l", &selector]).unwrap_or_default();
    shards["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["spec"]["systems"].as_array().into_iter().flatten())
        .find(|s| s["name"] == key.as_str() || s["name"] == system)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A kubeconfig that acts as `user` in `groups` (the admin's certificate, impersonating),
/// for running the lifeline CLI as that person.
pub fn kubeconfig_as(user: &str, groups: &[&str]) -> PathBuf {
    let c = cluster();
    let mut kc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&c.kubeconfig).expect("read kubeconfig"))
            .expect("kubeconfig yaml");
    let u = &mut kc["users"][0]["user"];
    u["as"] = user.into();
    u["as-groups"] = serde_yaml::Value::Sequence(groups.iter().map(|g| (*g).into()).collect());
    let path = c.dir.join(format!("kubeconfig-as-{user}"));
    std::fs::write(&path, serde_yaml::to_string(&kc).expect("yaml")).expect("write kubeconfig");
    path
}

/// Runs the lifeline CLI with `kubeconfig`.
pub fn lifeline(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .output()
        .expect("run lifeline")
}
