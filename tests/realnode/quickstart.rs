//! The quickstart playbook restored on real pods: its `http` checks reach real servers
//! through their Services by DNS name, from the operator's pod, with no `--resolve` and
//! no stub.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::support::*;

/// The playbook's documents, as JSON.
fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("playbooks/quickstart").join(file))
        .unwrap_or_else(|e| panic!("read playbooks/quickstart/{file}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("playbook YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn quickstart_playbook_restores_real_pods_and_its_http_checks_reach_them_by_service_name() {
    let _one = serial();
    installed();
    // The playbook in a namespace of this process's own (so a rerun on the same cluster
    // starts afresh: a namespace holding recovery records stays), and, for what this node
    // can run, busybox httpd serving a page instead of nginx, the checks looking for that
    // page's words. Everything else as it ships.
    let ns_name = format!("lifeline-quickstart-{}", std::process::id());
    let ns = ns_name.as_str();
    let place = |doc: &mut Value| {
        if doc["kind"] == "Namespace" {
            doc["metadata"]["name"] = json!(ns);
        } else {
            doc["metadata"]["namespace"] = json!(ns);
        }
    };
    for mut doc in documents("namespace.yaml") {
        place(&mut doc);
        apply(&doc.to_string());
    }
    for mut doc in documents("workloads.yaml") {
        place(&mut doc);
        if doc["kind"] == "Deployment" {
            let name = doc["metadata"]["name"].as_str().expect("name").to_string();
            let c = &mut doc["spec"]["template"]["spec"]["containers"][0];
            c["image"] = json!(BUSYBOX);
            c["imagePullPolicy"] = json!("Never");
            c["command"] = web_command(&name);
        }
        apply(&doc.to_string());
    }
    for mut doc in documents("systems.yaml") {
        place(&mut doc);
        for check in doc["spec"]["verify"]["checks"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if check["http"]["bodyContains"] == "nginx" {
                check["http"]["bodyContains"] = json!("lifeline test page");
            }
            if let Some(url) = check["http"]["url"].as_str() {
                check["http"]["url"] =
                    json!(url.replace(".lifeline-quickstart.svc", &format!(".{ns}.svc")));
            }
        }
        apply(&doc.to_string());
    }
    // The plan as it ships: its requestedBy is the local cluster's admin, who applies it.
    for mut doc in documents("plan.yaml") {
        assert_eq!(doc["spec"]["requestedBy"], ADMIN);
        place(&mut doc);
        apply(&doc.to_string());
    }

    let plan = eventually(
        "every quickstart system released to it-validation",
        Duration::from_secs(240),
        || {
            let plan = get(&["-n", ns, "recoveryplan", "quickstart"]).ok_or("no plan")?;
            let done = ["identity", "patient-records", "results-viewer"]
                .iter()
                .all(|s| {
                    let st = system_status(&plan, ns, s);
                    st["phase"] == "Released" && st["releasedStage"] == "it-validation"
                });
            if done {
                Ok(plan)
            } else {
                Err(plan["status"].to_string())
            }
        },
    );
    for (system, check) in [
        ("identity", "login-page"),
        ("patient-records", "front-page"),
        ("results-viewer", ""),
    ] {
        let st = system_status(&plan, ns, system);
        let checks = st["checks"].as_array().cloned().unwrap_or_default();
        let http: Vec<&Value> = checks
            .iter()
            .filter(|c| check.is_empty() || c["name"] == check)
            .filter(|c| c["name"] != "pods-ready")
            .collect();
        assert!(!http.is_empty(), "{system} has an http check: {checks:?}");
        for c in http {
            assert_eq!(c["phase"], "Succeeded", "{system}: {c}");
        }
    }
    // The requests came from an operator pod: each web server logged them.
    let operator_ips: Vec<String> = ready_operator_pods()
        .iter()
        .filter_map(|p| get(&["-n", "lifeline-system", "pod", p]))
        .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
        .collect();
    for deployment in ["identity", "patient-records", "results-viewer"] {
        let selector = format!("app.kubernetes.io/name={deployment}");
        let logs = kubectl(&["-n", ns, "logs", "-l", &selector, "--prefix", "--tail=-1"]);
        assert!(
            operator_ips.iter().any(|ip| logs.contains(ip.as_str())),
            "{deployment}'s server logged no request from the operator ({operator_ips:?}):\n{logs}"
        );
    }
}
