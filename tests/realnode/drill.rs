//! A drill on the real node: `deletePods` kills running containers (their replacements
//! have new container IDs), `isolate` is proven by a real connection that fails, every
//! policy selecting the isolated system admits nobody for the isolation's whole duration,
//! and after the revert connections work again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::gates::web_system;
use crate::support::*;

/// How long the drill isolates lims.
const ISOLATION_SECONDS: i64 = 40;

/// The container IDs of the running pods of Deployment `app`.
fn container_ids(ns: &str, app: &str) -> Vec<String> {
    let pods = get(&["-n", ns, "pods", "-l", &format!("app={app}")]).expect("pods");
    pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| {
            p["status"]["containerStatuses"][0]["containerID"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

fn drill_status(ns: &str) -> Value {
    get(&["-n", ns, "recoverydrill", "lab-weekly"])
        .map(|d| d["status"].clone())
        .unwrap_or(Value::Null)
}

/// A fault's proof in the drill's status, empty until it is proven.
fn proof(status: &Value, kind: &str) -> String {
    status["run"]["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == kind)
        .and_then(|f| f["proof"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The two containers of Deployment `app`, once both run.
fn two_containers(ns: &str, app: &str) -> Vec<String> {
    eventually(
        &format!("two running {app} containers"),
        Duration::from_secs(90),
        || {
            let ids = container_ids(ns, app);
            if ids.len() == 2 {
                Ok(ids)
            } else {
                Err(format!("{ids:?}"))
            }
        },
    )
}

#[test]
fn delete_pods_kills_real_containers_and_isolate_is_proven_by_a_refused_connection() {
    let _one = serial();
    installed();
    let ns = Namespace::create("rn-drill", &[("lifeline.dev/environment", "staging")]);
    client_pod(&ns.0, "client");
    // Two systems, so that the isolation is shown by itself: pacs loses its pods, lims is
    // isolated with its pods running.
    web_system(&ns.0, "pacs", 2, json!({ "estate": "lab" }));
    web_system(&ns.0, "lims", 2, json!({ "estate": "lab" }));
    let pacs_before = two_containers(&ns.0, "pacs");
    two_containers(&ns.0, "lims");
    let url = format!("http://lims.{}.svc:8080/", ns.0);
    fetch_from(&ns.0, "client", &url).expect("lims answers before the drill");

    apply(
        &json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
            "metadata": { "name": "lab-weekly", "namespace": ns.0 },
            "spec": {
                "systems": { "names": ["pacs", "lims"] },
                "faults": [
                    { "system": "pacs", "deletePods": {} },
                    { "system": "lims", "isolate": { "duration": format!("{ISOLATION_SECONDS}s") } }
                ],
                "approvals": "automatic"
            }
        })
        .to_string(),
    );
    let out = lifeline(
        &cluster().kubeconfig,
        &["drill", "run", "lab-weekly", "-n", &ns.0],
    );
    assert!(
        out.status.success(),
        "lifeline drill run failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The proofs in status: pacs' pods are gone, and a connection from the operator's pod
    // to lims failed (not only that a policy exists) while lims' pods ran.
    let status = eventually("both faults proven", Duration::from_secs(60), || {
        let st = drill_status(&ns.0);
        if !proof(&st, "deletePods").is_empty() && !proof(&st, "isolate").is_empty() {
            Ok(st)
        } else {
            Err(st.to_string())
        }
    });
    assert!(
        proof(&status, "deletePods").starts_with("2 pods deleted, none of them left"),
        "{status}"
    );
    let isolated = proof(&status, "isolate");
    assert!(
        isolated.contains(&format!("connections fail: lims.{}.svc:8080", ns.0))
            && !isolated.contains("though the run also removes"),
        "the isolate proof is a failed connection: {isolated}"
    );

    // For the isolation's whole duration, every NetworkPolicy that selects lims admits
    // nobody: the drill's deny-all, and the recovery's gate, which would otherwise admit the
    // verification audience (lims' own namespace). Connections from a pod in that namespace
    // are tried meanwhile; one that gets through is reported, not failed on: with both
    // policies in place that is the node's NetworkPolicy enforcement (README, "Defects the
    // real node found").
    let injected = status["run"]["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == "isolate")
        .and_then(|f| f["injectedAt"].as_str())
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .expect("the isolate fault's injectedAt");
    let ends = injected + k8s_openapi::jiff::SignedDuration::from_secs(ISOLATION_SECONDS);
    let margin = k8s_openapi::jiff::SignedDuration::from_secs(3);
    let admitting = || -> Vec<String> {
        let policies = get(&["-n", &ns.0, "networkpolicies"]).expect("networkpolicies");
        policies["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["spec"]["podSelector"]["matchLabels"]["app"] == "lims")
            .filter(|p| {
                p["spec"]["ingress"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
            })
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    // The recovery plan makes lims' gate admitting nobody while the isolation holds (a
    // gate an earlier recovery left open is shut by the drill itself as it isolates:
    // tests/cluster/drill.rs). From the first look on, nothing admits anyone.
    let shut = eventually(
        "every policy selecting lims to admit nobody",
        Duration::from_secs(30),
        || {
            let open = admitting();
            if open.is_empty() {
                Ok(k8s_openapi::jiff::Timestamp::now())
            } else {
                Err(format!("{open:?}"))
            }
        },
    );
    eprintln!(
        "lims' gate admitted nobody {:.1} s after the isolation was injected (at {injected})",
        shut.duration_since(injected).as_secs_f64()
    );
    let (mut tries, mut through) = (0, Vec::new());
    while k8s_openapi::jiff::Timestamp::now() + margin < ends {
        let open = admitting();
        assert!(
            open.is_empty(),
            "during lims' isolation (it ends at {ends}) these policies admit traffic to it: {open:?}; the drill: {}",
            drill_status(&ns.0)
        );
        match fetch_from(&ns.0, "client", &url) {
            Ok(_) => through.push(k8s_openapi::jiff::Timestamp::now().to_string()),
            Err(e) => assert!(
                connection_failed(&e),
                "a connection to lims during its isolation failed, but not at the connection: {e}"
            ),
        }
        tries += 1;
    }
    assert!(
        tries > 0,
        "the isolation had ended before it could be tried"
    );
    // kube-router, which enforces NetworkPolicy on this node in place of kube-network-policies
    // (README, "What does not run here"), lets a connection through now and then while it
    // rebuilds its chains (kube-router#873). The isolation must still hold for most tries: a
    // drill whose isolation did not apply at all fails here, whatever the stand-in does.
    if !through.is_empty() {
        eprintln!(
            "connections to lims got through during its isolation (injected {injected}, ends {ends}), with every policy selecting it admitting nobody: {through:?}"
        );
    }
    assert!(
        through.len() * 2 < tries,
        "{} of {tries} connections to lims got through its isolation: {through:?}",
        through.len()
    );

    let finished = eventually("the drill to finish", Duration::from_secs(300), || {
        let st = drill_status(&ns.0);
        if st["phase"] == "Finished" {
            Ok(st)
        } else {
            Err(st.to_string())
        }
    });
    // lims' connecting checks were held while it was isolated: it was verified only after
    // the isolation ended, whatever the network let through meanwhile. The operator
    // watched the isolation while it held, and counts what got through.
    let lims = finished["run"]["systems"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "lims")
        .cloned()
        .unwrap_or_default();
    let verified = lims["verifiedAt"]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .unwrap_or_else(|| panic!("lims verified: {finished}"));
    assert!(
        verified + k8s_openapi::jiff::SignedDuration::from_secs(1) >= ends,
        "lims verified at {verified}, before its isolation ended at {ends}: {finished}"
    );
    let watch = finished["run"]["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == "isolate")
        .map(|f| f["watch"].clone())
        .unwrap_or_default();
    assert!(
        watch["tries"].as_u64().is_some_and(|n| n > 0),
        "the isolation was watched while it held: {finished}"
    );
    eprintln!("lims' isolation, watched from the operator: {watch}");

    // After the revert, lims answers again; pacs runs in containers that are not the ones
    // killed.
    let body = eventually(
        "lims reachable after the revert",
        Duration::from_secs(60),
        || fetch_from(&ns.0, "client", &url),
    );
    assert!(body.contains("lifeline test page"), "{body}");
    let pacs_after = two_containers(&ns.0, "pacs");
    for id in &pacs_after {
        assert!(
            !pacs_before.contains(id),
            "container {id} survived deletePods (before: {pacs_before:?})"
        );
    }
    let left = get(&[
        "-n",
        &ns.0,
        "networkpolicies",
        "-l",
        "lifeline.dev/drill=lab-weekly",
    ])
    .map(|l| l["items"].as_array().map_or(0, Vec::len));
    assert_eq!(
        left,
        Some(0),
        "the isolation policy is gone after the revert: {finished}"
    );
}
