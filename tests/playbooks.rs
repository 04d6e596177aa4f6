//! The playbooks and the CRD manifests apply cleanly to a real API server: every object
//! under `playbooks/quickstart` and `playbooks/northern-care` is admitted (with the CRDs
//! installed), reads back as the lifeline types, and `kubectl apply -k manifests/`
//! passes a server-side dry run.
//!
//! Each playbook is applied into a fresh test namespace instead of its own (its Namespace
//! objects are skipped), so tests sharing a cluster do not touch each other's objects.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    time::Duration,
};

use kube::{
    Api,
    api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams},
    core::{GroupVersionKind, TypeMeta},
    discovery::{self, Scope},
};
use lifeline::api::v1alpha1::{ClinicalSystem, RecoveryPlan};
use serde::Deserialize;
use serde_json::Value;
use support::{
    TEST_FIELD_MANAGER, TestNamespace, cluster, ensure_crds, eventually, repo_root, with_namespace,
};

/// How long discovery may take to serve a CRD that was just Established.
const DISCOVERY: Duration = Duration::from_secs(30);

/// One YAML document of a playbook.
struct Document {
    /// "path/to/file.yaml#3" (the third document in the file), for failure messages.
    origin: String,
    object: Value,
}

impl Document {
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            out.push(path);
        }
    }
}

/// Every non-empty YAML document under `playbooks/<name>`, files in path order.
fn playbook(name: &str) -> Vec<Document> {
    let root = repo_root().join("playbooks").join(name);
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let shown = file.strip_prefix(repo_root()).unwrap_or(&file).display();
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let origin = format!("{shown}#{}", i + 1);
            let object =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{origin}: not YAML: {e}"));
            if object.is_null() {
                continue; // a document of comments only
            }
            docs.push(Document { origin, object });
        }
    }
    assert!(
        !docs.is_empty(),
        "no YAML documents under {}",
        root.display()
    );
    docs
}

/// The API resource for `gvk`, by discovery. A CRD just Established may take a moment to
/// appear in discovery, hence the retries.
async fn resolve(client: &kube::Client, gvk: &GroupVersionKind) -> (ApiResource, Scope) {
    eventually(
        &format!(
            "{}/{} {} to be discoverable",
            gvk.group, gvk.version, gvk.kind
        ),
        DISCOVERY,
        || async move {
            discovery::pinned_kind(client, gvk)
                .await
                .map(|(ar, caps)| (ar, caps.scope))
                .map_err(|e| e.to_string())
        },
    )
    .await
}

/// Applies every object of `playbook_name` into the test namespace by server-side apply,
/// and checks that each is admitted and then listed in that namespace. Returns the names
/// applied per kind.
async fn apply_playbook(
    ns: &TestNamespace,
    playbook_name: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let docs = playbook(playbook_name);
    let declared: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d.kind() == "Namespace")
        .map(|d| d.name())
        .collect();
    assert!(
        !declared.is_empty(),
        "playbook {playbook_name} declares its namespace"
    );

    let client = ns.client.clone();
    let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
    let mut resources: HashMap<GroupVersionKind, (ApiResource, Scope)> = HashMap::new();
    let mut applied: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut failures = Vec::new();

    for doc in docs.iter().filter(|d| d.kind() != "Namespace") {
        // The playbook keeps everything in its own namespaces; moving objects to the test
        // namespace must not hide a reference to some other one.
        match doc.namespace() {
            Some(n) if declared.contains(n) => {}
            other => {
                failures.push(format!(
                    "{}: {} {} is in namespace {other:?}, not one the playbook declares ({declared:?})",
                    doc.origin,
                    doc.kind(),
                    doc.name()
                ));
                continue;
            }
        }
        let types: TypeMeta = match serde_json::from_value(doc.object.clone()) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: no apiVersion/kind: {e}", doc.origin));
                continue;
            }
        };
        let gvk = match GroupVersionKind::try_from(&types) {
            Ok(gvk) => gvk,
            Err(e) => {
                failures.push(format!("{}: {e}", doc.origin));
                continue;
            }
        };
        if !resources.contains_key(&gvk) {
            let resolved = resolve(&client, &gvk).await;
            resources.insert(gvk.clone(), resolved);
        }
        let (ar, scope) = &resources[&gvk];
        if *scope != Scope::Namespaced {
            failures.push(format!(
                "{}: {} is cluster-scoped; the playbook test only handles namespaced objects",
                doc.origin,
                doc.kind()
            ));
            continue;
        }
        let mut object = doc.object.clone();
        object["metadata"]["namespace"] = Value::String(ns.name.clone());
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, ar);
        match api.patch(doc.name(), &params, &Patch::Apply(&object)).await {
            Ok(_) => {
                applied
                    .entry(doc.kind().to_string())
                    .or_default()
                    .insert(doc.name().to_string());
            }
            Err(e) => failures.push(format!(
                "{}: {} {} was not admitted: {e}",
                doc.origin,
                doc.kind(),
                doc.name()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "playbook {playbook_name}:\n- {}",
        failures.join("\n- ")
    );

    // Every object applied is there.
    for (gvk, (ar, _)) in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, ar);
        let listed: BTreeSet<String> = api
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("list {}: {e}", gvk.kind))
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        let want = applied.get(&gvk.kind).cloned().unwrap_or_default();
        let missing: Vec<_> = want.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "{} missing from {} after applying {playbook_name}: {missing:?}",
            gvk.kind,
            ns.name
        );
    }
    applied
}

/// Lists the ClinicalSystems and RecoveryPlans as the lifeline types (so every stored
/// object also deserializes into them) and compares their names with what was applied.
async fn assert_lifeline_objects(
    ns: &TestNamespace,
    applied: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<ClinicalSystem>, Vec<RecoveryPlan>) {
    let systems = ns
        .api::<ClinicalSystem>()
        .list(&ListParams::default())
        .await
        .expect("list ClinicalSystems as the lifeline type")
        .items;
    let plans = ns
        .api::<RecoveryPlan>()
        .list(&ListParams::default())
        .await
        .expect("list RecoveryPlans as the lifeline type")
        .items;
    let names =
        |items: Vec<Option<String>>| -> BTreeSet<String> { items.into_iter().flatten().collect() };
    assert_eq!(
        names(systems.iter().map(|s| s.metadata.name.clone()).collect()),
        applied.get("ClinicalSystem").cloned().unwrap_or_default(),
        "ClinicalSystems"
    );
    assert_eq!(
        names(plans.iter().map(|p| p.metadata.name.clone()).collect()),
        applied.get("RecoveryPlan").cloned().unwrap_or_default(),
        "RecoveryPlans"
    );
    (systems, plans)
}

#[tokio::test]
async fn quickstart_playbook_is_admitted() {
    with_namespace("playbook-quickstart", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let applied = apply_playbook(&ns, "quickstart").await;
        let (systems, plans) = assert_lifeline_objects(&ns, &applied).await;

        let mut names: Vec<_> = systems
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        names.sort();
        assert_eq!(names, ["identity", "patient-records", "results-viewer"]);
        let plan_names: Vec<_> = plans
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        assert_eq!(plan_names, ["quickstart"]);
        for kind in ["Deployment", "Service"] {
            assert_eq!(
                applied.get(kind).map(|n| n.len()),
                Some(3),
                "{kind}s applied"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn northern_care_playbook_is_admitted() {
    with_namespace("playbook-northern-care", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let applied = apply_playbook(&ns, "northern-care").await;
        let (systems, plans) = assert_lifeline_objects(&ns, &applied).await;

        // Guards against the walk missing systems/ and its files.
        assert!(
            systems.len() >= 20,
            "the Northern Care estate has its full set of systems, got {}",
            systems.len()
        );
        let plan_names: Vec<_> = plans
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        assert_eq!(plan_names, ["northern-care-recovery"]);
        // Every system the plan selects by label carries the label.
        let selected = systems
            .iter()
            .filter(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("lifeline.dev/estate"))
                    .is_some_and(|v| v == "northern-care")
            })
            .count();
        assert_eq!(selected, systems.len(), "every system is in the estate");
    })
    .await;
}

#[tokio::test]
async fn crd_kustomization_passes_a_server_side_dry_run() {
    // With the CRDs installed first, the dry run is an update whatever else runs on the
    // cluster; were they missing, a test installing them at the same moment could turn
    // kubectl's create into AlreadyExists.
    ensure_crds(&support::admin_client().await).await;
    // The operator's objects go in lifeline-system, which a dry run cannot create.
    support::apply_manifests(&["namespace.yaml"]).await;
    let dir = repo_root().join("manifests");
    let out = tokio::task::spawn_blocking(move || {
        let dir = dir.to_str().expect("UTF-8 path");
        cluster().kubectl(&["apply", "-k", dir, "--dry-run=server"])
    })
    .await
    .expect("kubectl apply -k");
    for crd in lifeline::api::v1alpha1::crds() {
        let name = crd.metadata.name.expect("a CRD has a name");
        let line = format!("customresourcedefinition.apiextensions.k8s.io/{name} ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&line) && l.ends_with("(server dry run)")),
            "kubectl apply -k manifests/ --dry-run=server applies {name}:\n{out}"
        );
    }
}
