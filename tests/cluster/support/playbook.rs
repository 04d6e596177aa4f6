//! The playbooks under `playbooks/`, applied into a test namespace, and a stand-in for
//! the services their checks reach.
//!
//! Each playbook is applied into a fresh test namespace instead of its own (its Namespace
//! objects are skipped), so tests sharing a cluster do not touch each other's objects.
//! Under kwok no pod serves traffic, so [`ServiceStandIn`] answers the playbook's `http`
//! and `tcp` checks on a loopback address of its own, and the operator is pointed at it
//! with `resolve` (as `scripts/demo` does with `scripts/demo-stub.py`).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    time::Duration,
};

use kube::{
    Api,
    api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams},
    core::{GroupVersionKind, TypeMeta},
    discovery::{self, Scope},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TEST_FIELD_MANAGER, TestNamespace, eventually, repo_root};

/// How long discovery may take to serve a CRD that was just Established.
const DISCOVERY: Duration = Duration::from_secs(30);

/// One YAML document of a playbook.
pub struct Document {
    /// "path/to/file.yaml#3" (the third document in the file), for failure messages.
    pub origin: String,
    pub object: Value,
}

impl Document {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
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
pub fn playbook(name: &str) -> Vec<Document> {
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
pub async fn apply_playbook(
    ns: &TestNamespace,
    playbook_name: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    apply_playbook_where(ns, playbook_name, |_| true).await
}

/// [`apply_playbook`], for the documents `keep` accepts only.
pub async fn apply_playbook_where(
    ns: &TestNamespace,
    playbook_name: &str,
    keep: impl Fn(&Document) -> bool,
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

    for doc in docs.iter().filter(|d| d.kind() != "Namespace" && keep(d)) {
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

/// What a playbook's checks reach: HTTP ports, TCP-only ports, host names, and every
/// `bodyContains` string.
#[derive(Debug, Default)]
pub struct CheckTargets {
    pub http_ports: BTreeSet<u16>,
    pub tcp_ports: BTreeSet<u16>,
    pub hosts: BTreeSet<String>,
    pub needles: Vec<String>,
}

/// Scans the ClinicalSystems of `playbook_name` for what their checks reach.
pub fn check_targets(playbook_name: &str) -> CheckTargets {
    let mut t = CheckTargets::default();
    for doc in playbook(playbook_name)
        .iter()
        .filter(|d| d.kind() == "ClinicalSystem")
    {
        let checks = doc.object["spec"]["verify"]["checks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in checks {
            if let Some(url) = c["http"]["url"].as_str() {
                let parsed = reqwest::Url::parse(url)
                    .unwrap_or_else(|e| panic!("{}: check url {url}: {e}", doc.origin));
                assert_eq!(
                    parsed.scheme(),
                    "http",
                    "{}: the stand-in serves http only",
                    doc.origin
                );
                t.hosts
                    .insert(parsed.host_str().unwrap_or_default().to_string());
                t.http_ports
                    .insert(parsed.port_or_known_default().unwrap_or(80));
                if let Some(n) = c["http"]["bodyContains"].as_str() {
                    t.needles.push(n.to_string());
                }
            }
            if let (Some(host), Some(port)) = (c["tcp"]["host"].as_str(), c["tcp"]["port"].as_u64())
            {
                t.hosts.insert(host.to_string());
                t.tcp_ports.insert(u16::try_from(port).expect("a port"));
            }
        }
    }
    let http = t.http_ports.clone();
    t.tcp_ports.retain(|p| !http.contains(p));
    t
}

/// Answers a playbook's `http` checks (200, with every `bodyContains` string in the body)
/// and accepts its `tcp` checks, on a loopback address no other test uses. Stops when
/// dropped.
pub struct ServiceStandIn {
    /// Each host name the checks use, mapped to the address it listens on: the
    /// operator's `resolve`.
    pub resolve: Vec<(String, IpAddr)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ServiceStandIn {
    /// Starts listening for every port `playbook_name`'s checks use.
    pub async fn start(playbook_name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        use tokio::io::AsyncWriteExt;
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let targets = check_targets(playbook_name);
        let body = format!("lifeline test stand-in: {}\n", targets.needles.join(" "));
        // 127.x.y.z from the process id and a counter: distinct per test and process, so
        // fixed ports (8080, 5432) never collide with another test or a running demo.
        let pid = std::process::id();
        let mut attempt = 0;
        let (ip, listeners) = loop {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let ip = Ipv4Addr::new(
                127,
                100 + (pid % 100) as u8,
                ((pid / 100) % 250) as u8,
                (n % 250 + 2) as u8,
            );
            let mut listeners = Vec::new();
            let mut ok = true;
            for port in targets.http_ports.iter().chain(&targets.tcp_ports) {
                match tokio::net::TcpListener::bind((ip, *port)).await {
                    Ok(l) => listeners.push((*port, l)),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                break (IpAddr::V4(ip), listeners);
            }
            attempt += 1;
            assert!(
                attempt < 50,
                "no free loopback address for the service stand-in"
            );
        };
        let mut tasks = Vec::new();
        for (port, listener) in listeners {
            let http = targets.http_ports.contains(&port);
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((mut conn, _)) = listener.accept().await {
                    if !http {
                        drop(conn);
                        continue;
                    }
                    let body = body.clone();
                    tokio::spawn(async move {
                        if super::read_request_head(&mut conn).await.is_none() {
                            return;
                        }
                        let response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = conn.write_all(response.as_bytes()).await;
                        let _ = conn.shutdown().await;
                    });
                }
            }));
        }
        let resolve = targets.hosts.iter().map(|h| (h.clone(), ip)).collect();
        Self { resolve, tasks }
    }
}

impl Drop for ServiceStandIn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Confirms every manual restore step of the ClinicalSystems in the namespace for `plan`,
/// as the duty manager would once each is done (`scripts/demo` does the same). Returns
/// how many were confirmed.
pub async fn confirm_manual_steps(ns: &TestNamespace, plan: &str) -> usize {
    let systems: Api<DynamicObject> = Api::namespaced_with(
        ns.client.clone(),
        &ns.name,
        &ApiResource::erase::<lifeline::api::v1alpha1::ClinicalSystem>(&()),
    );
    let approvals: Api<lifeline::api::v1alpha1::Approval> = ns.api();
    // A confirmation counts for the plan it names by uid, or when made after the plan's
    // creation second: the plan must exist, and each names its uid, as `lifeline confirm`
    // does.
    let uid = ns
        .api::<lifeline::api::v1alpha1::RecoveryPlan>()
        .get(plan)
        .await
        .unwrap_or_else(|e| panic!("confirm the manual steps of plan {plan}: {e}"))
        .metadata
        .uid;
    let mut n = 0;
    for s in systems
        .list(&ListParams::default())
        .await
        .expect("list systems")
        .items
    {
        let system = s.metadata.name.clone().unwrap_or_default();
        let steps = s.data["spec"]["restore"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for step in steps.iter().filter(|st| st.get("manual").is_some()) {
            let step_name = step["name"].as_str().unwrap_or_default();
            // As many different people as the step needs.
            let required = step["manual"]["required"].as_u64().unwrap_or(1);
            for person in 0..required {
                let who = if person == 0 {
                    "duty-manager".to_string()
                } else {
                    format!("custodian-{}", person + 1)
                };
                let approval = super::object(json!({
                    "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
                    "metadata": { "name": format!("{plan}-{system}-{step_name}-{who}") },
                    "spec": {
                        "plan": plan, "planUid": uid, "system": system, "step": step_name, "decision": "approve",
                        "comment": format!("Confirmed by {who}"),
                        "approver": { "username": who }
                    }
                }));
                approvals
                    .create(&PostParams::default(), &approval)
                    .await
                    .expect("confirm a manual step");
            }
            n += 1;
        }
    }
    n
}
