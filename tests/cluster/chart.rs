//! The Helm chart (`charts/lifeline`), with Helm built from its Go module
//! (`scripts/helm/build`): `helm lint` passes, `helm template` renders exactly the objects
//! of the kustomizations (`manifests/crds/`, `manifests/operator/`), values change only
//! the image and the replica count, and the chart installs onto a local cluster of its
//! own (cluster-scoped objects such as the ClusterRoles cannot share the test cluster
//! with the kustomize install) and uninstalls keeping the CRDs, and so the data.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{self, OwnCluster, repo_root};

/// The helm binary: `LIFELINE_HELM` (scripts/test builds it first), else built now.
fn helm() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        if let Some(path) = std::env::var_os("LIFELINE_HELM") {
            return PathBuf::from(path);
        }
        let out = Command::new(repo_root().join("scripts/helm/build"))
            .output()
            .expect("run scripts/helm/build");
        assert!(
            out.status.success(),
            "scripts/helm/build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The objects of a multi-document YAML stream, without empty documents, sorted by kind,
/// namespace and name.
fn objects(yaml: &str) -> Vec<Value> {
    let mut all: Vec<Value> = serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect();
    let key = |v: &Value| {
        format!(
            "{}/{}/{}",
            v["kind"].as_str().unwrap_or_default(),
            v["metadata"]["namespace"].as_str().unwrap_or_default(),
            v["metadata"]["name"].as_str().unwrap_or_default()
        )
    };
    all.sort_by_key(key);
    all
}

/// Where two objects first differ, as a path with both values; numbers compare by value
/// (kustomize writes `10.0` as `10`).
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{at}.{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]"))),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(format!("{at}: chart {a}, kustomization {b}")),
    }
}

/// The objects `kubectl kustomize` builds from `manifests/crds/` and `manifests/operator/`.
fn kustomized() -> Vec<Value> {
    let kubectl = support::cluster().bin_dir().join("kubectl");
    let mut yaml = run(&kubectl, &["kustomize", "manifests/crds"]);
    yaml.push_str("\n---\n");
    yaml.push_str(&run(&kubectl, &["kustomize", "manifests/operator"]));
    objects(&yaml)
}

/// The objects of the files the two kustomizations list, as written (the kustomizations
/// list resources and transform nothing; kustomize's own YAML writer turns a folded
/// scalar with more-indented lines into different text, so the content is compared with
/// the files themselves).
fn listed() -> Vec<Value> {
    let mut yaml = String::new();
    for dir in ["manifests/crds", "manifests/operator"] {
        let k: Value = serde_yaml::from_str(
            &std::fs::read_to_string(repo_root().join(dir).join("kustomization.yaml"))
                .expect("kustomization.yaml"),
        )
        .expect("YAML");
        for file in k["resources"].as_array().into_iter().flatten() {
            let path = repo_root()
                .join(dir)
                .join(file.as_str().unwrap_or_default());
            yaml.push_str(&std::fs::read_to_string(&path).expect("a listed file"));
            yaml.push_str("\n---\n");
        }
    }
    objects(&yaml)
}

#[test]
fn the_chart_lints_and_renders_exactly_the_kustomizations_objects() {
    let lint = run(helm(), &["lint", "charts/lifeline", "--strict"]);
    assert!(
        lint.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{lint}"
    );

    let rendered = objects(&run(
        helm(),
        &["template", "lifeline", "charts/lifeline", "--include-crds"],
    ));
    let expected = listed();
    let names = |all: &[Value]| -> Vec<String> {
        all.iter()
            .map(|v| format!("{} {}", v["kind"], v["metadata"]["name"]))
            .collect()
    };
    assert_eq!(
        names(&rendered),
        names(&kustomized()),
        "the chart renders other objects than the kustomizations (run scripts/chart-sync)"
    );
    for (got, want) in rendered.iter().zip(&expected) {
        if let Some(at) = first_difference(got, want, String::new()) {
            panic!(
                "{} {} differs between the chart and the kustomization at {at} (run scripts/chart-sync)",
                want["kind"], want["metadata"]["name"]
            );
        }
    }

    // Values move the image and the replica count, and nothing else.
    let custom = objects(&run(
        helm(),
        &[
            "template",
            "lifeline",
            "charts/lifeline",
            "--set",
            "image.repository=registry.example.org/lifeline,image.tag=9.9.9,replicas=3",
        ],
    ));
    let deployment = custom
        .iter()
        .find(|v| v["kind"] == "Deployment")
        .expect("the operator's Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.org/lifeline:9.9.9"
    );
}

#[test]
fn the_chart_installs_the_operator_and_uninstalls_keeping_the_crds() {
    let cluster = OwnCluster::up(&format!("chart-{}", std::process::id()));
    let kubeconfig = cluster.kubeconfig.to_str().expect("UTF-8 path").to_string();
    let kubectl = support::cluster().bin_dir().join("kubectl");
    let out = run(
        helm(),
        &[
            "--kubeconfig",
            &kubeconfig,
            "install",
            "lifeline",
            "charts/lifeline",
            "--wait",
            "--timeout",
            "180s",
        ],
    );
    assert!(out.contains("STATUS: deployed"), "{out}");
    // The Deployment is available and the CRDs are established.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d: Value = serde_json::from_str(&run(
            &kubectl,
            &[
                "--kubeconfig",
                &kubeconfig,
                "-n",
                "lifeline-system",
                "get",
                "deployment",
                "lifeline-operator",
                "-o",
                "json",
            ],
        ))
        .expect("JSON");
        if d["status"]["availableReplicas"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the chart's Deployment never became available: {}",
            d["status"]
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let crds = run(
        &kubectl,
        &["--kubeconfig", &kubeconfig, "get", "crd", "-o", "name"],
    );
    assert!(crds.contains("clinicalsystems.lifeline.dev"), "{crds}");

    // Uninstalling removes the operator and keeps the CRDs (Helm never deletes crds/).
    run(
        helm(),
        &[
            "--kubeconfig",
            &kubeconfig,
            "uninstall",
            "lifeline",
            "--wait",
        ],
    );
    let crds = run(
        &kubectl,
        &["--kubeconfig", &kubeconfig, "get", "crd", "-o", "name"],
    );
    assert!(
        crds.contains("clinicalsystems.lifeline.dev")
            && crds.contains("recoveryrecords.lifeline.dev"),
        "uninstalling the chart deleted the CRDs: {crds}"
    );
    let left = run(
        &kubectl,
        &[
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "lifeline-system",
            "get",
            "deployments",
            "-o",
            "name",
            "--ignore-not-found",
        ],
    );
    assert_eq!(left.trim(), "", "the operator is gone");
}
