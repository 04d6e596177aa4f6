//! A drill on the real node: `deletePods` kills running containers (their replacements
//! have new container IDs), `isolate` blocks real connections, and after the revert
//! connections work again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::gates::web_system;
use crate::support::*;

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
    get(&["-n", ns, "recoverydrill", "lims-weekly"])
        .map(|d| d["status"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn delete_pods_kills_real_containers_and_isolate_blocks_real_connections_until_reverted() {
    let _one = serial();
    installed();
    let ns = Namespace::create("rn-drill", &[("lifeline.dev/environment", "staging")]);
    client_pod(&ns.0, "client");
    web_system(&ns.0, "lims", 2, json!({ "estate": "lab" }));
    kubectl(&[
        "-n",
        &ns.0,
        "rollout",
        "status",
        "deployment/lims",
        "--timeout=90s",
    ]);
    let url = format!("http://lims.{}.svc:8080/", ns.0);
    let before = eventually(
        "two running lims containers",
        Duration::from_secs(60),
        || {
            let ids = container_ids(&ns.0, "lims");
            if ids.len() == 2 {
                Ok(ids)
            } else {
                Err(format!("{ids:?}"))
            }
        },
    );
    fetch_from(&ns.0, "client", &url).expect("lims answers before the drill");

    apply(
        &json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
            "metadata": { "name": "lims-weekly", "namespace": ns.0 },
            "spec": {
                "systems": { "names": ["lims"] },
                "faults": [
                    { "system": "lims", "deletePods": {} },
                    { "system": "lims", "isolate": { "duration": "40s" } }
                ],
                "approvals": "automatic"
            }
        })
        .to_string(),
    );

    let out = lifeline(
        &cluster().kubeconfig,
        &["drill", "run", "lims-weekly", "-n", &ns.0],
    );
    assert!(
        out.status.success(),
        "lifeline drill run failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Isolated: the client in lims' own namespace, which its release gate would admit,
    // cannot connect.
    let blocked = eventually(
        "lims isolated",
        Duration::from_secs(120),
        || match fetch_from(&ns.0, "client", &url) {
            Err(e) => Ok(e),
            Ok(_) => Err(format!("still reachable; drill {}", drill_status(&ns.0))),
        },
    );
    eprintln!("isolated lims: {blocked}");
    // The proofs in status: the pods are gone, and a connection to lims failed (not only
    // that a policy exists).
    let proof = |status: &Value, kind: &str| -> String {
        status["run"]["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["proof"].as_str())
            .unwrap_or_default()
            .to_string()
    };
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
        isolated.contains("connections fail: ")
            && isolated.contains(&format!("lims.{}.svc:8080", ns.0)),
        "the isolate proof is a failed connection: {isolated}"
    );

    let finished = eventually("the drill to finish", Duration::from_secs(300), || {
        let st = drill_status(&ns.0);
        if st["phase"] == "Finished" {
            Ok(st)
        } else {
            Err(st.to_string())
        }
    });
    // After the revert, lims answers again, from containers that are not the ones killed.
    let body = eventually(
        "lims reachable after the revert",
        Duration::from_secs(60),
        || fetch_from(&ns.0, "client", &url),
    );
    assert!(body.contains("lifeline test page"), "{body}");
    let after = container_ids(&ns.0, "lims");
    assert!(!after.is_empty(), "lims runs after the drill");
    for id in &after {
        assert!(
            !before.contains(id),
            "container {id} survived deletePods (before: {before:?})"
        );
    }
    assert!(
        get(&[
            "-n",
            &ns.0,
            "networkpolicies",
            "-l",
            "lifeline.dev/drill=lims-weekly"
        ])
        .map(|l| l["items"].as_array().map_or(0, Vec::len))
            == Some(0),
        "the isolation policy is gone after the revert: {finished}"
    );
}
