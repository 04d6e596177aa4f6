//! Release gates stop real connections: before its stage is approved a ward's pod cannot
//! reach the system's Service; after, it can; a ward of no released stage still cannot.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// A system served by busybox httpd (restored by scaling it to one replica), checked
/// through its Service, gated by `release`.
pub fn web_system(ns: &str, name: &str, replicas: i32, labels: serde_json::Value) {
    apply(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "terminationGracePeriodSeconds": 0, "containers": [{
                    "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                    "command": web_command(name), "ports": [{ "name": "http", "containerPort": 8080 }],
                    "readinessProbe": { "httpGet": { "path": "/", "port": "http" }, "periodSeconds": 1 }
                }] }
            }
        }
    }).to_string());
    apply(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": ns },
        "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": 8080, "targetPort": "http" }] }
    }).to_string());
    apply(&json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
        "metadata": { "name": name, "namespace": ns, "labels": labels },
        "spec": {
            "displayName": name, "tier": "critical", "recoveryTimeObjective": "30m",
            "restore": { "timeout": "5m", "steps": [
                { "name": "scale-up", "scale": { "kind": "Deployment", "name": name, "replicas": 1 } }
            ] },
            "verify": { "checks": [
                { "name": "ready", "workloadReady": { "kind": "Deployment", "name": name } },
                { "name": "page", "http": { "url": format!("http://{name}.{ns}.svc:8080/"),
                  "expectedStatus": [200], "bodyContains": "lifeline test page" } }
            ] },
            "release": { "podSelector": { "matchLabels": { "app": name } }, "service": name }
        }
    }).to_string());
}

/// Fails the test unless `url` stays unreachable from `ns/pod` (three tries).
fn stays_blocked(ns: &str, pod: &str, url: &str, why: &str) {
    for _ in 0..3 {
        match fetch_from(ns, pod, url) {
            Ok(body) => panic!("{why}: {ns}/{pod} reached {url}: {body}"),
            Err(e) => assert!(
                connection_failed(&e),
                "{why}: {ns}/{pod} could not fetch {url}, but not because the connection was refused or timed out: {e}"
            ),
        }
    }
}

#[test]
fn a_ward_reaches_a_system_only_after_its_stage_is_approved_and_other_wards_never() {
    let _one = serial();
    installed();
    let gate = Namespace::create("rn-gate", &[]);
    let ward = Namespace::create("rn-ward-7b", &[("ward", "7b")]);
    let other = Namespace::create("rn-ward-9c", &[("ward", "9c")]);
    for ns in [&gate.0, &ward.0, &other.0] {
        client_pod(ns, "client");
    }
    web_system(&gate.0, "epr", 0, json!({ "estate": "gate" }));
    apply(&json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "gate", "namespace": gate.0 },
        "spec": {
            "requestedBy": ADMIN,
            "systems": { "selector": { "matchLabels": { "estate": "gate" } } },
            "stages": [{
                "name": "ward-7b",
                "audience": { "description": "Ward 7B", "namespaceSelector": { "matchLabels": { "ward": "7b" } } },
                "approval": { "required": 1 }
            }]
        }
    }).to_string());
    let url = format!("http://epr.{}.svc:8080/", gate.0);

    eventually(
        "epr verified, waiting for ward-7b",
        Duration::from_secs(180),
        || {
            let plan = get(&["-n", &gate.0, "recoveryplan", "gate"]).ok_or("no plan")?;
            let st = system_status(&plan, &gate.0, "epr");
            if st["phase"] == "Verified" {
                Ok(())
            } else {
                Err(plan["status"].to_string())
            }
        },
    );
    assert!(
        get(&["-n", &gate.0, "networkpolicy", "lifeline-release-epr"]).is_some(),
        "the gate exists"
    );
    // The verification audience (the system's own namespace) reaches it; the ward not yet.
    let body = fetch_from(&gate.0, "client", &url).expect("the system's own namespace reaches it");
    assert!(body.contains("lifeline test page"), "{body}");
    stays_blocked(&ward.0, "client", &url, "before approval");
    stays_blocked(&other.0, "client", &url, "before approval");

    // Alice, a clinical safety officer, approves epr for ward 7B with the CLI.
    apply(&json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": { "name": "alice-approves", "namespace": gate.0 },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lifeline-approver" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice" }]
    }).to_string());
    let alice = kubeconfig_as("alice", &["clinical-safety-officers"]);
    // First with --dry-run: admission checks her decision, it is shown, nothing opens.
    let out = lifeline(
        &alice,
        &[
            "approve",
            "gate",
            "-n",
            &gate.0,
            "--stage",
            "ward-7b",
            "--yes",
            "--dry-run",
        ],
    );
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success()
            && shown.contains("would be recorded (server dry run")
            && shown.contains("username: alice"),
        "lifeline approve --dry-run:\n{shown}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stays_blocked(&ward.0, "client", &url, "after a dry-run approval");
    let stored = get(&["-n", &gate.0, "approvals"]).expect("approvals");
    assert_eq!(
        stored["items"].as_array().map(Vec::len),
        Some(0),
        "a dry run stored an Approval: {stored}"
    );
    let out = lifeline(
        &alice,
        &[
            "approve", "gate", "-n", &gate.0, "--stage", "ward-7b", "--yes",
        ],
    );
    assert!(
        out.status.success(),
        "lifeline approve failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    eventually("epr released to ward-7b", Duration::from_secs(120), || {
        let plan = get(&["-n", &gate.0, "recoveryplan", "gate"]).ok_or("no plan")?;
        let st = system_status(&plan, &gate.0, "epr");
        if st["releasedStage"] == "ward-7b" {
            Ok(())
        } else {
            Err(st.to_string())
        }
    });
    let body = eventually("ward 7B to reach epr", Duration::from_secs(60), || {
        fetch_from(&ward.0, "client", &url)
    });
    assert!(body.contains("lifeline test page"), "{body}");
    stays_blocked(&other.0, "client", &url, "ward 9C is in no released stage");
}

/// A pod's traffic stays on this machine: it has no default route, so an address outside
/// the machine has no route at all. Asked of the kernel's routing table only (`ip route
/// get` sends nothing), for 192.0.2.1, an address reserved for documentation.
#[test]
fn a_pod_has_no_route_off_the_machine() {
    let _one = serial();
    let ns = Namespace::create("rn-route", &[]);
    client_pod(&ns.0, "client");
    let exec = |args: &[&str]| {
        let mut all = vec!["-n", ns.0.as_str(), "exec", "client", "--"];
        all.extend_from_slice(args);
        kubectl_output(&all, None)
    };
    let routes = exec(&["ip", "route", "show"]);
    let table = String::from_utf8_lossy(&routes.stdout).into_owned();
    assert!(
        routes.status.success() && !table.trim().is_empty(),
        "ip route show in the pod: {table} {}",
        String::from_utf8_lossy(&routes.stderr)
    );
    assert!(
        !table.lines().any(|l| l.starts_with("default")),
        "the pod has a default route: {table}"
    );
    let outside = exec(&["ip", "route", "get", "192.0.2.1"]);
    let said = String::from_utf8_lossy(&outside.stderr).into_owned();
    assert!(
        !outside.status.success() && said.contains("unreachable"),
        "an address outside the machine must have no route from a pod: {} {said}",
        String::from_utf8_lossy(&outside.stdout)
    );
}
