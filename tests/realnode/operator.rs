//! lifeline's own pods: installed by `kubectl apply -k` of `manifests/`, ready, electing a leader, serving
//! health and metrics through the pod, and handing over mid-restore without repeating a
//! step.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[test]
fn installed_from_manifests_two_pods_serve_health_and_metrics_and_hand_over_mid_restore() {
    let _one = serial();
    installed();

    // Two replicas Ready under the restricted security context, on the real node, one
    // holding the Lease.
    let pods = eventually("two Ready operator pods", Duration::from_secs(120), || {
        let ready = ready_operator_pods();
        if ready.len() == 2 {
            Ok(ready)
        } else {
            Err(format!("ready: {ready:?}"))
        }
    });
    // `lifeline version` reads the installed operator: its version, image, replicas and
    // the Lease holder.
    let out = lifeline(&cluster().kubeconfig, &["version", "-o", "json"]);
    assert!(
        out.status.success(),
        "lifeline version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let operator = &version["server"]["operator"];
    assert_eq!(operator["version"], env!("CARGO_PKG_VERSION"), "{version}");
    assert_eq!(operator["image"], lifeline_image(), "{version}");
    assert_eq!(operator["readyReplicas"], 2, "{version}");
    assert!(
        operator["leader"].as_str().is_some_and(|l| !l.is_empty()),
        "a leader holds the Lease: {version}"
    );
    for pod in &pods {
        let p = get(&["-n", "lifeline-system", "pod", pod]).expect("operator pod");
        assert_eq!(p["spec"]["nodeName"], NODE, "{pod} runs on the real node");
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["securityContext"]["runAsUser"], 65532);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        let started = &p["status"]["containerStatuses"][0];
        assert_eq!(started["ready"], true, "{pod}: {started}");
        assert!(
            started["containerID"]
                .as_str()
                .unwrap_or("")
                .starts_with("containerd://"),
            "{pod} runs in containerd: {started}"
        );
    }
    let holder = eventually("a Lease holder", Duration::from_secs(60), || {
        lease_holder().ok_or_else(|| "no holder yet".to_string())
    });
    assert!(
        pods.contains(&holder),
        "the Lease is held by {holder}, not one of {pods:?}"
    );

    // /healthz, /readyz and /metrics through each pod's address and through the Service.
    let ns = Namespace::create("rn-operator", &[]);
    client_pod(&ns.0, "probe");
    for pod in &pods {
        let p = get(&["-n", "lifeline-system", "pod", pod]).expect("pod");
        let ip = p["status"]["podIP"].as_str().expect("pod IP").to_string();
        for (path, says) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let body = fetch_from(&ns.0, "probe", &format!("http://{ip}:8080{path}"))
                .unwrap_or_else(|e| panic!("{pod} {path}: {e}"));
            assert!(body.to_lowercase().contains(says), "{pod} {path}: {body}");
        }
    }
    let metrics = eventually(
        "/metrics through the Service",
        Duration::from_secs(30),
        || {
            fetch_from(
                &ns.0,
                "probe",
                "http://lifeline-operator-metrics.lifeline-system.svc:8080/metrics",
            )
        },
    );
    assert!(
        metrics.contains("lifeline_"),
        "metrics: {}",
        &metrics[..metrics.len().min(400)]
    );

    // The PodDisruptionBudget counts both replicas and allows one disruption.
    let pdb = eventually("the PDB's status", Duration::from_secs(60), || {
        let pdb = get(&["-n", "lifeline-system", "pdb", "lifeline-operator"]).ok_or("no PDB")?;
        if pdb["status"]["currentHealthy"] == 2 {
            Ok(pdb)
        } else {
            Err(pdb["status"].to_string())
        }
    });
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1, "{}", pdb["status"]);

    // A restore of two systems whose steps are real Jobs (each runs 6 s); the leader is
    // deleted while the first runs. The other replica takes the Lease and finishes the
    // plan, and each Job ran once.
    let work = Namespace::create("rn-handover", &[]);
    let job = |name: &str| {
        json!({
            "name": name,
            "job": { "template": { "spec": { "backoffLimit": 0, "template": { "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "containers": [{ "name": "restore", "image": BUSYBOX, "imagePullPolicy": "Never",
                                 "command": ["sh", "-c", "echo restoring; sleep 6; echo restored"],
                                 "securityContext": {
                                     "allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 65532,
                                     "capabilities": { "drop": ["ALL"] }, "seccompProfile": { "type": "RuntimeDefault" }
                                 } }]
            } } } } }
        })
    };
    for (system, after) in [("pas", None), ("epr", Some("pas"))] {
        let mut spec = json!({
            "displayName": system,
            "tier": "critical",
            "recoveryTimeObjective": "30m",
            "restore": { "timeout": "5m", "steps": [job("load-backup")] },
            "verify": { "checks": [] }
        });
        if let Some(dep) = after {
            spec["dependsOn"] = json!([{ "name": dep }]);
        }
        apply(&json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": system, "namespace": work.0, "labels": { "estate": "handover" } },
            "spec": spec
        }).to_string());
    }
    apply(&json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "handover", "namespace": work.0 },
        "spec": { "requestedBy": ADMIN, "systems": { "selector": { "matchLabels": { "estate": "handover" } } } }
    }).to_string());
    eventually("the first restore Job", Duration::from_secs(90), || {
        let jobs = get(&["-n", &work.0, "jobs"]).ok_or("no jobs")?;
        let n = jobs["items"].as_array().map_or(0, Vec::len);
        if n >= 1 {
            Ok(())
        } else {
            Err("no Job yet".into())
        }
    });
    let old = lease_holder().expect("a holder");
    kubectl(&[
        "-n",
        "lifeline-system",
        "delete",
        "pod",
        &old,
        "--wait=false",
    ]);
    let new = eventually(
        "the Lease to move",
        Duration::from_secs(90),
        || match lease_holder() {
            Some(h) if h != old => Ok(h),
            h => Err(format!("holder {h:?}")),
        },
    );
    // The standby replica takes over, not the replacement the Deployment starts.
    let standby = pods.iter().find(|p| **p != old).expect("the other replica");
    assert_eq!(
        &new, standby,
        "the Lease moved from {old} to {new}, not to the standby replica {standby}"
    );
    let plan = eventually("the plan to succeed", Duration::from_secs(180), || {
        let plan = get(&["-n", &work.0, "recoveryplan", "handover"]).ok_or("no plan")?;
        if plan["status"]["phase"] == "Succeeded" {
            Ok(plan)
        } else {
            Err(plan["status"].to_string())
        }
    });
    let jobs = get(&["-n", &work.0, "jobs"]).expect("jobs");
    let jobs = jobs["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(jobs.len(), 2, "one Job per step, none repeated: {jobs:?}");
    for j in &jobs {
        assert_eq!(j["status"]["succeeded"], 1, "{}", j["metadata"]["name"]);
        assert!(
            j["status"]["failed"].is_null() || j["status"]["failed"] == 0,
            "{}",
            j["status"]
        );
        let name = j["metadata"]["name"].as_str().unwrap_or_default();
        let pods = get(&["-n", &work.0, "pods", "-l", &format!("job-name={name}")]).expect("pods");
        assert_eq!(
            pods["items"].as_array().map_or(0, Vec::len),
            1,
            "Job {name} ran one pod"
        );
    }
    // `lifeline logs` shows what a step's Job printed, from its real pod.
    let out = lifeline(
        &cluster().kubeconfig,
        &["logs", "handover", "pas", "load-backup", "-n", &work.0],
    );
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && logs == "restoring\nrestored\n",
        "lifeline logs: {logs:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for system in ["pas", "epr"] {
        assert_eq!(
            system_status(&plan, &work.0, system)["phase"],
            "Verified",
            "{}",
            plan["status"]
        );
    }
    // Two replicas again, the new one included.
    eventually(
        "two Ready operator pods again",
        Duration::from_secs(120),
        || {
            let ready = ready_operator_pods();
            if ready.len() == 2 && !ready.contains(&old) {
                Ok(())
            } else {
                Err(format!("{ready:?}"))
            }
        },
    );
}
