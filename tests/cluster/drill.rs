//! RecoveryDrills on the real API server with the operator running: admission admits them
//! only in staging namespaces, the operator refuses systems outside the namespace, a run
//! injects and proves its faults, recovers with an owned plan, measures each system and
//! reverts; deleting a drill mid-outage reverts it; overlapping drills wait; a schedule
//! fires; and the northern-care playbook runs as a drill to completion.

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::api::{
    admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding},
    apps::v1::Deployment,
    core::v1::Namespace,
    networking::v1::NetworkPolicy,
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{
        ClinicalSystem, DrillOutcome, DrillPhase, DrillTrigger, FaultKind, RecordKind,
        RecordedKind, RecoveryDrill, RecoveryPlan,
    },
    cli::drill as drillctl,
    controller::{
        RunOptions,
        drill::{isolation_policy_name, plan_name},
        run,
    },
    engine::time,
};
use serde_json::{Value, json};
/// Whole seconds between two recorded moments, as the report and the engine count them.
fn seconds_between(
    from: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    to: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> u64 {
    time::seconds_between(from.0, to.0).unwrap_or(0)
}

use crate::support::{
    self, TestNamespace, admin_client, ensure_crds, eventually, object, repo_root, wait_for,
    with_namespace,
};

const WAIT: Duration = Duration::from_secs(90);

/// Labels the test namespace `lifeline.dev/environment=staging`.
async fn make_staging(ns: &TestNamespace) {
    let namespaces: Api<Namespace> = Api::all(ns.client.clone());
    namespaces
        .patch(
            &ns.name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({ "metadata": { "labels": { "lifeline.dev/environment": "staging" } } }),
            ),
        )
        .await
        .expect("label the namespace staging");
}

/// A Deployment "name" with `replicas` (kwok makes its pods Ready) and a ClinicalSystem
/// that scales it back to `replicas` and checks it is ready; released by `app=name`.
async fn web_system(ns: &TestNamespace, name: &str, replicas: i32, extra_checks: Vec<Value>) {
    let pp = PostParams::default();
    ns.api::<Deployment>()
        .create(&pp, &support::fake_deployment(name, replicas))
        .await
        .expect("deployment");
    let mut system = support::gated_system(name, name, replicas);
    if let Some(checks) = system["spec"]["verify"]["checks"].as_array_mut() {
        checks.extend(extra_checks);
    }
    ns.api::<ClinicalSystem>()
        .create(&pp, &object(system))
        .await
        .expect("system");
    let deployments: Api<Deployment> = ns.api();
    wait_for(&deployments, name, "all replicas ready", WAIT, |d| {
        d.status.as_ref().and_then(|s| s.ready_replicas) == Some(replicas)
    })
    .await;
}

/// Makes the recovery of system `name` scale its Deployment to `replicas`, not to the
/// count it runs at: the revert then has to put the recorded count back itself.
async fn recover_to(ns: &TestNamespace, name: &str, replicas: i32) {
    ns.api::<ClinicalSystem>()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "restore": { "steps": [
                { "name": "start", "scale": { "kind": "Deployment", "name": name, "replicas": replicas } }
            ] } } })),
        )
        .await
        .expect("change the recovery's replicas");
}

/// A staging namespace with lims (2 replicas) and pacs (1, with a `viewer` check), and
/// drill `name` over both with every kind of fault: lims scaled to zero and isolated for
/// 2s, pacs's pods deleted and its viewer check failed for 3s. Returns the drills' API.
async fn every_kind_of_fault(ns: &TestNamespace, name: &str) -> Api<RecoveryDrill> {
    make_staging(ns).await;
    web_system(ns, "lims", 2, vec![]).await;
    web_system(
        ns,
        "pacs",
        1,
        vec![
            json!({ "name": "viewer", "workloadReady": { "kind": "Deployment", "name": "pacs" } }),
        ],
    )
    .await;
    let drills: Api<RecoveryDrill> = ns.api();
    let d = drill(
        name,
        &["lims", "pacs"],
        json!([
            { "system": "lims", "scaleToZero": {} },
            { "system": "lims", "isolate": { "duration": "2s" } },
            { "system": "pacs", "deletePods": {} },
            { "system": "pacs", "failCheck": { "check": "viewer", "duration": "3s" } }
        ]),
    );
    drills
        .create(&PostParams::default(), &d)
        .await
        .expect("drill");
    drills
}

/// Waits for the run requested with `token` to finish, asserts it Passed, and returns the
/// drill's status and the run.
async fn passed(
    ns: &TestNamespace,
    name: &str,
    token: &str,
) -> (
    lifeline::api::v1alpha1::RecoveryDrillStatus,
    lifeline::api::v1alpha1::DrillRun,
) {
    let done = drillctl::wait_run(ns.client.clone(), &ns.name, name, token, WAIT)
        .await
        .expect("the run finishes");
    let status = done.status.expect("status");
    let run = status.run.clone().expect("run");
    assert_eq!(
        run.outcome,
        Some(DrillOutcome::Passed),
        "{:?}: {:?}",
        run.reason,
        run
    );
    (status, run)
}

/// Every fault of `run` was injected, then proven no earlier.
/// Every fault of `drill`'s spec has its record in `run`, and every record was injected,
/// then proven: a run whose records were lost (an empty list) fails this.
fn assert_every_fault_proven(drill: &RecoveryDrill, run: &lifeline::api::v1alpha1::DrillRun) {
    assert!(!drill.spec.faults.is_empty(), "the drill has faults");
    for spec in &drill.spec.faults {
        let kind = spec.kind().expect("a fault of one kind");
        assert!(
            run.faults
                .iter()
                .any(|f| f.system == spec.system && f.kind == kind),
            "no record of the {kind} fault of {} in {:?}",
            spec.system,
            run.faults
        );
    }
    for f in &run.faults {
        let injected = f
            .injected_at
            .clone()
            .unwrap_or_else(|| panic!("{f:?} injected"));
        let proven = f
            .proven_at
            .clone()
            .unwrap_or_else(|| panic!("{f:?} proven"));
        assert!(proven.0 >= injected.0, "{f:?}");
    }
}

#[test]
#[should_panic(expected = "no record of the scaleToZero fault of lims")]
fn the_proof_assertion_fails_when_a_run_lost_its_fault_records() {
    let drill = drill(
        "weekly",
        &["lims"],
        json!([{ "system": "lims", "scaleToZero": {} }]),
    );
    assert_every_fault_proven(&drill, &lifeline::api::v1alpha1::DrillRun::default());
}

fn drill(name: &str, systems: &[&str], faults: Value) -> RecoveryDrill {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
        "metadata": { "name": name },
        "spec": {
            "systems": { "names": systems },
            "faults": faults,
            "recovery": { "stages": [
                { "name": "it-validation", "audience": { "namespaceSelector": { "matchLabels": { "team": "it" } } } },
                { "name": "wards", "audience": { "ipBlocks": ["10.20.0.0/16"] }, "approval": { "required": 1 } }
            ] },
            "timeout": "10m"
        }
    }))
}

fn operator(ns: &TestNamespace) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let opts = RunOptions::local(&ns.name, "drill-test");
    tokio::spawn(async move { run(admin_client().await, opts).await })
}

/// Deletes every drill in the namespace and waits until the operator has reverted them
/// and let them go (their finalizers would otherwise hold the namespace), then stops it.
async fn stop(ns: &TestNamespace, op: tokio::task::JoinHandle<anyhow::Result<()>>) {
    let drills: Api<RecoveryDrill> = ns.api();
    let _ = drills
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await;
    eventually("every drill to be reverted and gone", WAIT, || {
        let drills = drills.clone();
        async move {
            let left = drills
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            if left.items.is_empty() {
                Ok(())
            } else {
                Err(format!("{} left", left.items.len()))
            }
        }
    })
    .await;
    op.abort();
}

async fn waiting_run(drills: &Api<RecoveryDrill>, name: &str) -> lifeline::api::v1alpha1::DrillRun {
    drills
        .get(name)
        .await
        .expect("drill")
        .status
        .and_then(|s| s.run)
        .expect("a pending run")
}

/// The RecoveryPlan of run `number` of `drill` is gone (a run deletes it when it ends).
async fn assert_plan_gone(ns: &TestNamespace, drill: &str, number: u32) {
    let plans: Api<RecoveryPlan> = ns.api();
    let name = plan_name(drill, number);
    assert!(
        plans.get_opt(&name).await.expect("get the plan").is_none(),
        "RecoveryPlan {name} is deleted when the run ends"
    );
}

async fn replicas(ns: &TestNamespace, name: &str) -> i32 {
    ns.api::<Deployment>()
        .get(name)
        .await
        .expect("deployment")
        .spec
        .and_then(|s| s.replicas)
        .unwrap_or(1)
}

async fn finished(drills: &Api<RecoveryDrill>, name: &str, runs: usize) -> RecoveryDrill {
    wait_for(
        drills,
        name,
        &format!("{runs} finished run(s)"),
        WAIT,
        |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.phase == DrillPhase::Finished && s.history.len() >= runs)
        },
    )
    .await
}

#[tokio::test]
async fn a_drill_injects_proves_recovers_measures_and_reverts() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-run", |ns: TestNamespace| async move {
        let drills = every_kind_of_fault(&ns, "weekly").await;
        let op = operator(&ns);

        // Nothing happens until a run is asked for.
        wait_for(&drills, "weekly", "Idle with the finalizer", WAIT, |d| {
            d.metadata
                .finalizers
                .as_ref()
                .is_some_and(|f| f.iter().any(|f| f == "lifeline.dev/drill-revert"))
                && d.status
                    .as_ref()
                    .is_some_and(|s| s.phase == DrillPhase::Idle)
        })
        .await;
        assert_eq!(replicas(&ns, "lims").await, 2, "untouched before a run");

        let token = drillctl::request_run(ns.client.clone(), &ns.name, "weekly")
            .await
            .expect("run");
        // The isolation policy exists while the fault holds.
        let policies: Api<NetworkPolicy> = ns.api();
        let isolation = isolation_policy_name("weekly", "lims");
        let seen = wait_for(&drills, "weekly", "the isolation to be proven", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.run.as_ref())
                .is_some_and(|r| {
                    r.faults
                        .iter()
                        .any(|f| f.kind == FaultKind::Isolate && f.proven_at.is_some())
                })
        })
        .await;
        let run = seen.status.clone().and_then(|s| s.run).expect("run");
        assert_eq!(run.trigger, DrillTrigger::Manual);
        let pre: Vec<(String, String, Option<i32>, bool)> = run
            .pre_state
            .iter()
            .map(|r| (r.kind.to_string(), r.name.clone(), r.replicas, r.existed))
            .collect();
        assert!(
            pre.contains(&("Deployment".into(), "lims".into(), Some(2), true)),
            "{pre:?}"
        );
        assert!(
            pre.contains(&("NetworkPolicy".into(), isolation.clone(), None, false)),
            "{pre:?}"
        );

        let (status, run) = passed(&ns, "weekly", &token).await;

        // Every fault was injected, then proven, with what was seen.
        assert_every_fault_proven(&seen, &run);
        let proof = |kind: &str| {
            run.faults
                .iter()
                .find(|f| f.kind.as_str() == kind)
                .and_then(|f| f.proof.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            proof("scaleToZero"),
            "Deployment/lims scaled from 2 to 0 replicas; no pod left"
        );
        assert!(
            proof("deletePods").starts_with("1 pods deleted, none of them left"),
            "{}",
            proof("deletePods")
        );
        assert!(
            proof("isolate").starts_with(&format!("deny-all NetworkPolicy {isolation} in place")),
            "{}",
            proof("isolate")
        );
        assert!(
            proof("failCheck").contains("failed on purpose by drill weekly"),
            "{}",
            proof("failCheck")
        );
        assert!(
            run.faults
                .iter()
                .filter(|f| f.kind == FaultKind::Isolate)
                .all(|f| f.lifted_at.is_some())
        );

        // Each system measured from its first fault, to verified and released.
        assert_eq!(run.systems.len(), 2);
        for s in &run.systems {
            let fault = s.fault_at.clone().expect("fault time");
            let verified = s.verified_at.clone().expect("verified");
            assert_eq!(
                s.recovery_seconds,
                Some(seconds_between(&fault, &verified)),
                "{s:?}"
            );
            assert!(
                s.released_at.is_some() && s.fully_released_at.is_some(),
                "{s:?}"
            );
            assert_eq!(s.objective_met, Some(true), "{s:?}");
        }
        let pacs = run.systems.iter().find(|s| s.name == "pacs").expect("pacs");
        assert!(
            pacs.failed_checks
                .iter()
                .any(|c| c.check == "viewer" && c.injected && c.passed_in_the_end),
            "{pacs:?}"
        );
        // Automatic approvals, one per system per stage, recorded as the drill's own.
        let mut stages: Vec<(&str, &str, Vec<String>)> = run
            .approvals
            .iter()
            .map(|a| (a.stage.as_str(), a.by.as_str(), a.systems.clone()))
            .collect();
        stages.sort();
        let auto = "drill auto-approval";
        let one = |s: &str| vec![s.to_string()];
        assert_eq!(
            stages,
            [
                ("it-validation", auto, one("lims")),
                ("it-validation", auto, one("pacs")),
                ("wards", auto, one("lims")),
                ("wards", auto, one("pacs")),
            ]
        );

        // Reverted: the plan is gone, the replicas are as before, no isolation, no claims.
        assert_plan_gone(&ns, "weekly", 1).await;
        assert_eq!(replicas(&ns, "lims").await, 2);
        assert!(policies.get_opt(&isolation).await.expect("get").is_none());
        assert!(
            status.held.is_empty(),
            "the systems are free again: {:?}",
            status.held
        );
        assert_eq!(status.history.len(), 1);
        assert_eq!(status.history[0].outcome, DrillOutcome::Passed);
        assert_eq!(status.history[0].verified, "2/2");
        // The failCheck's error stays on record though the check passed in the end.
        let viewer = pacs
            .failed_checks
            .iter()
            .find(|c| c.check == "viewer")
            .expect("viewer");
        assert!(
            viewer.message.contains("failed on purpose by drill weekly"),
            "{viewer:?}"
        );

        // A second run, as a resilience lead starts it: `lifeline drill run --wait`.
        let (kubeconfig, name) = (support::cluster().kubeconfig.clone(), ns.name.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
                .args([
                    "drill",
                    "run",
                    "weekly",
                    "-n",
                    &name,
                    "--wait",
                    "--timeout",
                    "90s",
                ])
                .env("KUBECONFIG", kubeconfig)
                .output()
                .expect("run lifeline")
        })
        .await
        .expect("join");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!("run of drill {}/weekly requested (", ns.name)),
            "{stdout}"
        );
        assert!(
            stdout.contains("Run 2 (manual)") && stdout.contains("Passed"),
            "{stdout}"
        );
        // The wait said what it waited for, since when, and each phase it saw.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("waiting for the run to finish (at most 1m30s), since "),
            "{stderr}"
        );
        assert!(
            stderr
                .lines()
                .any(|l| l.trim_start().starts_with('+') && l.contains("Finished")),
            "{stderr}"
        );
        let status = drills
            .get("weekly")
            .await
            .expect("drill")
            .status
            .expect("status");
        assert_eq!(status.history.len(), 2);
        assert_eq!(replicas(&ns, "lims").await, 2);
        stop(&ns, op).await;

        // Each run has a record of its own: every fault injected and proven, the revert,
        // the end; it verifies, and outlives the drill (stop above deleted it).
        let head = status
            .run
            .as_ref()
            .and_then(|r| r.record.clone())
            .expect("run 2's record head");
        assert!(
            matches!(drills.get_opt("weekly").await, Ok(None)),
            "stop deleted the drill"
        );
        for run in [1u32, 2] {
            let bundle = lifeline::cli::evidence::export_drill(
                ns.client.clone(),
                &ns.name,
                "weekly",
                Some(run),
            )
            .await
            .expect("export the run's record");
            lifeline::cli::evidence::verify(&bundle).expect("the run's record verifies");
            if run == 2 {
                assert_eq!(
                    (bundle.manifest.entries, bundle.manifest.head.as_str()),
                    (head.entries, head.head.as_str())
                );
            }
            let of = |k: RecordKind, event: Option<&str>| {
                bundle
                    .entries
                    .iter()
                    .filter(|e| e.kind == k && event.is_none_or(|ev| e.data["event"] == json!(ev)))
                    .count()
            };
            let faults = status.run.as_ref().map_or(0, |r| r.faults.len());
            assert!(faults >= 4, "every kind of fault");
            assert_eq!(of(RecordKind::Fault, Some("injected")), faults, "run {run}");
            assert_eq!(of(RecordKind::Fault, Some("proven")), faults, "run {run}");
            assert_eq!(of(RecordKind::PreDrillState, None), 1, "run {run}");
            assert_eq!(of(RecordKind::DrillRecovery, None), 1, "run {run}");
            assert_eq!(of(RecordKind::Revert, None), 1, "run {run}");
            assert!(
                bundle
                    .entries
                    .iter()
                    .any(|e| e.kind == RecordKind::DrillPhase
                        && e.data["to"] == json!("Finished")
                        && e.data["outcome"] == json!("Passed")),
                "run {run} ends Passed in its record"
            );
            let proofs: Vec<&str> = bundle
                .entries
                .iter()
                .filter(|e| e.data["event"] == json!("proven"))
                .filter_map(|e| e.data["proof"].as_str())
                .collect();
            assert!(proofs.iter().all(|p| !p.is_empty()), "{proofs:?}");
        }
    })
    .await;
}

/// The ingress peers of the release gate `lifeline-release-<system>`: `None` while it
/// admits nobody (no ingress rule), else the namespaces it names.
async fn gate_admits(ns: &TestNamespace, system: &str) -> Option<Vec<String>> {
    let policies: Api<NetworkPolicy> = ns.api();
    let np = policies
        .get(&lifeline::controller::plan::release::policy_name(system))
        .await
        .expect("the release gate");
    let rules = np.spec.and_then(|s| s.ingress).unwrap_or_default();
    if rules.is_empty() {
        return None;
    }
    Some(
        rules
            .iter()
            .flat_map(|r| r.from.clone().unwrap_or_default())
            .map(|p| {
                p.namespace_selector
                    .and_then(|n| n.match_labels)
                    .and_then(|l| l.get("kubernetes.io/metadata.name").cloned())
                    .unwrap_or_else(|| "(own namespace)".into())
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_drills_isolation_keeps_the_release_gate_shut_until_it_ends() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-island", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        // A tcp check that always connects: this cluster's network enforces no
        // NetworkPolicy, as a node whose enforcement leaks would not. The check is held
        // (not tried) while lims is isolated, so lims is not verified through the leak.
        let tcp = support::StubTcp::start().await;
        web_system(&ns, "lims", 1, vec![support::steps::tcp("port", tcp.port)]).await;
        let drills: Api<RecoveryDrill> = ns.api();
        // The failing readiness check keeps lims unverified a while past its isolation,
        // so that the run does not end (and revert the gate) before the gate is seen open.
        let d = drill(
            "island",
            &["lims"],
            json!([
                { "system": "lims", "isolate": { "duration": "12s" } },
                { "system": "lims", "failCheck": { "check": "ready", "duration": "20s" } }
            ]),
        );
        drills
            .create(&PostParams::default(), &d)
            .await
            .expect("drill");
        let op = operator(&ns);
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "island")
            .await
            .expect("run");

        // Once the recovery gates lims, its gate admits nobody: not the verification
        // audience, which would open the drill's deny-all policy (policies only add).
        let plans: Api<RecoveryPlan> = ns.api();
        let plan = plan_name("island", 1);
        let gated = wait_for(&plans, &plan, "lims gated while isolated", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems.iter().any(|x| {
                    x.gate
                        .as_ref()
                        .is_some_and(|g| g.isolated_by.as_deref() == Some("island"))
                })
            })
        })
        .await;
        let isolation = gated
            .spec
            .drill
            .as_ref()
            .and_then(|d| d.isolations.first())
            .cloned()
            .expect("the plan carries the isolation");
        assert_eq!(isolation.system, "lims");
        let until = isolation.until.expect("an isolation with a duration ends");
        assert_eq!(
            gate_admits(&ns, "lims").await,
            None,
            "the gate admits nobody"
        );
        // The connecting check is not tried while the isolation lasts, and says why.
        let held = wait_for(&plans, &plan, "lims' tcp check held", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems.iter().any(|x| {
                    x.checks.iter().any(|c| {
                        c.name == "port"
                            && c.last_error.as_deref().is_some_and(|e| {
                                e.starts_with("not tried: drill island isolates lims until ")
                            })
                    })
                })
            })
        })
        .await;
        assert!(
            k8s_openapi::jiff::Timestamp::now() < until.0,
            "the check was seen held only after the isolation: {:?}",
            held.status
        );
        assert_eq!(tcp.accepted(), 0, "no connection to lims while isolated");

        // When the isolation ends the gate admits the verification audience again, and
        // only then.
        let reopened = eventually("the gate to reopen when the isolation ends", WAIT, || {
            let ns = &ns;
            async move {
                match gate_admits(ns, "lims").await {
                    Some(peers) => Ok(peers),
                    None => Err("still shut".to_string()),
                }
            }
        })
        .await;
        let reopened_at = k8s_openapi::jiff::Timestamp::now();
        assert!(
            reopened_at >= until.0,
            "reopened at {reopened_at}, before {}",
            until.0
        );
        assert!(
            reopened.contains(&"lifeline-system".to_string()),
            "{reopened:?}"
        );
        let (_, run) = passed(&ns, "island", &token).await;
        let lims = run.systems.iter().find(|s| s.name == "lims").expect("lims");
        assert!(
            lims.verified_at.as_ref().is_some_and(|v| v.0 >= until.0),
            "lims verified only after its isolation ended: {lims:?}"
        );
        assert!(
            tcp.accepted() > 0,
            "the check connected once the isolation ended"
        );
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn an_isolation_shuts_an_earlier_gate_at_once_and_connections_that_get_through_are_a_breach()
{
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-leak", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        // lims' Service name resolves, for this operator, to a listener that always
        // accepts: a network that lets every connection through, isolated or not.
        let tcp = support::StubTcp::start().await;
        let host = format!("lims.{}.svc", ns.name);
        web_system(
            &ns,
            "lims",
            1,
            vec![json!({ "name": "port", "tcp": { "host": host, "port": tcp.port } })],
        )
        .await;
        // An earlier recovery released lims to a ward: its gate admits the ward.
        let policies: Api<NetworkPolicy> = ns.api();
        let earlier = json!({
            "podSelector": { "matchLabels": { "app": "lims" } },
            "policyTypes": ["Ingress"],
            "ingress": [{ "from": [{ "namespaceSelector": { "matchLabels": {
                "kubernetes.io/metadata.name": "ward-7b" } } }] }]
        });
        policies
            .create(
                &PostParams::default(),
                &object(json!({
                    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {
                        "name": lifeline::controller::plan::release::policy_name("lims"),
                        // lifeline's gate, as the earlier recovery labelled it (a policy of
                        // that name without these is never taken over).
                        "labels": { "app.kubernetes.io/managed-by": "lifeline", "lifeline.dev/system": "lims" }
                    },
                    "spec": earlier
                })),
            )
            .await
            .expect("the earlier gate");
        assert_eq!(gate_admits(&ns, "lims").await, Some(vec!["ward-7b".to_string()]));
        let drills: Api<RecoveryDrill> = ns.api();
        drills
            .create(
                &PostParams::default(),
                &drill(
                    "leaky",
                    &["lims"],
                    json!([{ "system": "lims", "isolate": { "duration": "60s" } }]),
                ),
            )
            .await
            .expect("drill");
        let mut opts = RunOptions::local(&ns.name, "drill-leak");
        opts.resolve = vec![(host.clone(), std::net::Ipv4Addr::LOCALHOST.into())];
        let op = tokio::spawn(async move { run(admin_client().await, opts).await });
        drillctl::request_run(ns.client.clone(), &ns.name, "leaky")
            .await
            .expect("run");

        // Connections still get through, so the drill keeps injecting (up to 30 s) and
        // its recovery plan does not exist yet: the earlier gate is shut by the drill.
        wait_for(&drills, "leaky", "the isolation injected", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.run.as_ref())
                .is_some_and(|r| r.faults.iter().any(|f| f.injected_at.is_some()))
        })
        .await;
        eventually("the earlier gate shut", WAIT, || {
            let ns = &ns;
            async move {
                match gate_admits(ns, "lims").await {
                    None => Ok(()),
                    Some(peers) => Err(format!("admits {peers:?}")),
                }
            }
        })
        .await;
        let plans: Api<RecoveryPlan> = ns.api();
        assert!(
            plans
                .get_opt(&plan_name("leaky", 1))
                .await
                .expect("get")
                .is_none(),
            "shut by the drill, before its recovery plan exists"
        );
        assert_eq!(
            drills.get("leaky").await.expect("drill").status.map(|s| s.phase),
            Some(DrillPhase::Injecting)
        );

        // The proof says the network may not enforce the policy; then, while the
        // isolation holds, every try that gets through is counted as a breach.
        let watched = wait_for(&drills, "leaky", "a breach counted", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.run.as_ref())
                .and_then(|r| r.faults.first())
                .and_then(|f| f.watch.as_ref())
                .is_some_and(|w| w.breaches > 1)
        })
        .await;
        let fault = watched
            .status
            .and_then(|s| s.run)
            .and_then(|r| r.faults.into_iter().next())
            .expect("the fault");
        assert!(
            fault
                .proof
                .as_deref()
                .is_some_and(|p| p.contains("may not enforce NetworkPolicy")),
            "{fault:?}"
        );
        let watch = fault.watch.expect("watched");
        assert_eq!(watch.breaches, watch.tries, "every try got through: {watch:?}");
        assert_eq!(watch.through, [format!("{host}:{}", tcp.port)]);

        // Deleting the drill reverts it: the earlier gate is back as it was.
        stop(&ns, op).await;
        assert_eq!(gate_admits(&ns, "lims").await, Some(vec!["ward-7b".to_string()]));
    })
    .await;
}

#[tokio::test]
async fn deleting_a_drill_mid_outage_restores_replicas_and_removes_isolation() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-delete", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        web_system(&ns, "epr", 3, vec![]).await;
        recover_to(&ns, "epr", 1).await;
        let drills: Api<RecoveryDrill> = ns.api();
        // The check fails for good: the recovery cannot finish, the outage lasts.
        let mut d = drill(
            "stuck",
            &["epr"],
            json!([
                { "system": "epr", "scaleToZero": {} },
                { "system": "epr", "isolate": {} },
            ]),
        );
        d.spec.faults.push(object(
            json!({ "system": "epr", "failCheck": { "check": "ready" } }),
        ));
        drills
            .create(&PostParams::default(), &d)
            .await
            .expect("drill");
        let op = operator(&ns);
        wait_for(&drills, "stuck", "the finalizer", WAIT, |d| {
            d.metadata.finalizers.is_some()
        })
        .await;
        drillctl::request_run(ns.client.clone(), &ns.name, "stuck")
            .await
            .expect("run");
        wait_for(&drills, "stuck", "Recovering", WAIT, |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.phase == DrillPhase::Recovering)
        })
        .await;
        let policies: Api<NetworkPolicy> = ns.api();
        let isolation = isolation_policy_name("stuck", "epr");
        assert!(
            policies.get_opt(&isolation).await.expect("get").is_some(),
            "isolated"
        );
        // The recovery plan is the drill's: owned by it, requested by the operator.
        let owned = ns
            .api::<RecoveryPlan>()
            .get(&plan_name("stuck", 1))
            .await
            .expect("the run's plan");
        let owner = owned.metadata.owner_references.unwrap_or_default();
        assert_eq!(owner.len(), 1);
        assert_eq!(
            (
                owner[0].kind.as_str(),
                owner[0].name.as_str(),
                owner[0].controller
            ),
            ("RecoveryDrill", "stuck", Some(true))
        );
        assert_eq!(owned.spec.drill.map(|d| d.name).as_deref(), Some("stuck"));
        // Mid-outage: scaled to zero, or to the recovery's one replica, not the three
        // recorded before the drill.
        let during = replicas(&ns, "epr").await;
        assert!(during < 3, "epr runs {during} replicas mid-outage");

        drills
            .delete("stuck", &DeleteParams::default())
            .await
            .expect("delete");
        eventually("the drill to be gone", WAIT, || {
            let drills = drills.clone();
            async move {
                match drills.get_opt("stuck").await {
                    Ok(None) => Ok(()),
                    Ok(Some(d)) => Err(format!("still there: {:?}", d.status.map(|s| s.message))),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
        assert_eq!(
            replicas(&ns, "epr").await,
            3,
            "the recorded replicas are back"
        );
        assert!(
            policies.get_opt(&isolation).await.expect("get").is_none(),
            "isolation removed"
        );
        assert_plan_gone(&ns, "stuck", 1).await;
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn a_run_past_its_timeout_is_stopped_and_reverted() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-timeout", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        web_system(&ns, "ris", 2, vec![]).await;
        recover_to(&ns, "ris", 1).await;
        let drills: Api<RecoveryDrill> = ns.api();
        let mut d = drill(
            "slow",
            &["ris"],
            json!([
                { "system": "ris", "scaleToZero": {} },
                { "system": "ris", "isolate": {} },
            ]),
        );
        d.spec.faults.push(object(
            json!({ "system": "ris", "failCheck": { "check": "ready" } }),
        ));
        d.spec.timeout = Some(lifeline::api::v1alpha1::DurationString::new("6s"));
        drills
            .create(&PostParams::default(), &d)
            .await
            .expect("drill");
        // Notifications go to a webhook: the stop and the end of the run are posted.
        let (hook, addr) = support::Webhook::start(0).await;
        let mut opts = RunOptions::local(&ns.name, "drill-timeout");
        opts.notify = Some(lifeline::controller::notify::NotifyOptions::new(
            format!("http://{addr}/hook").parse().expect("url"),
        ));
        let op = tokio::spawn(async move { run(admin_client().await, opts).await });
        wait_for(&drills, "slow", "the finalizer", WAIT, |d| {
            d.metadata.finalizers.is_some()
        })
        .await;
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "slow")
            .await
            .expect("run");
        let done = drillctl::wait_run(ns.client.clone(), &ns.name, "slow", &token, WAIT)
            .await
            .expect("stopped by its timeout");
        let run = done.status.and_then(|s| s.run).expect("run");
        assert_eq!(run.outcome, Some(DrillOutcome::TimedOut));
        assert_eq!(
            run.reason.as_deref(),
            Some("the run took longer than its timeout of 6s")
        );
        let took = seconds_between(
            run.started_at.as_ref().expect("started"),
            run.finished_at.as_ref().expect("finished"),
        );
        assert!((6..60).contains(&took), "stopped soon after 6s: {took}s");
        // The revert itself put back the two recorded replicas (the recovery would have
        // left one) and deleted the isolation policy; the drill is still there, so the
        // garbage collector had no part in it.
        assert_eq!(replicas(&ns, "ris").await, 2, "reverted");
        let isolation = isolation_policy_name("slow", "ris");
        assert!(
            ns.api::<NetworkPolicy>()
                .get_opt(&isolation)
                .await
                .expect("get")
                .is_none(),
            "isolation removed"
        );
        let scaled_back = run.reverted.iter().any(|r| {
            r.starts_with("Deployment/ris: replicas ") && r.ends_with("-> 2, as before the drill")
        });
        assert!(scaled_back, "{:?}", run.reverted);
        assert!(
            run.reverted.contains(&format!(
                "NetworkPolicy/{isolation}: deleted (it did not exist before the drill)"
            )),
            "{:?}",
            run.reverted
        );
        assert_plan_gone(&ns, "slow", 1).await;
        let posted = eventually("the drill's stop and end to be posted", WAIT, || {
            let hook = hook.clone();
            async move {
                let got = hook.received();
                let reasons: Vec<String> = got
                    .iter()
                    .filter_map(|n| n["reason"].as_str().map(str::to_string))
                    .collect();
                if reasons.contains(&"DrillFinished".to_string()) {
                    Ok(got)
                } else {
                    Err(format!("{reasons:?}"))
                }
            }
        })
        .await;
        let reasons: Vec<&str> = posted.iter().filter_map(|n| n["reason"].as_str()).collect();
        assert_eq!(reasons, ["DrillStopped", "DrillFinished"], "{posted:?}");
        assert_eq!(posted[1]["drill"]["name"], "slow");
        assert_eq!(posted[1]["severity"], "Warning");
        assert_eq!(
            posted[1]["message"],
            "TimedOut: the run took longer than its timeout of 6s"
        );
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn a_second_drill_on_the_same_system_waits_for_the_first_and_says_why() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-overlap", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        web_system(&ns, "lims", 1, vec![]).await;
        let drills: Api<RecoveryDrill> = ns.api();
        let mut first = drill("first", &["lims"], json!([{ "system": "lims", "scaleToZero": {} }]));
        first.spec.faults.push(object(json!({ "system": "lims", "failCheck": { "check": "ready" } })));
        drills.create(&PostParams::default(), &first).await.expect("first");
        drills
            .create(&PostParams::default(), &drill("second", &["lims"], json!([{ "system": "lims", "deletePods": {} }])))
            .await
            .expect("second");
        let op = operator(&ns);
        for n in ["first", "second"] {
            wait_for(&drills, n, "the finalizer", WAIT, |d| d.metadata.finalizers.is_some()).await;
        }
        drillctl::request_run(ns.client.clone(), &ns.name, "first").await.expect("run first");
        wait_for(&drills, "first", "Recovering", WAIT, |d| {
            d.status.as_ref().is_some_and(|s| s.phase == DrillPhase::Recovering)
        })
        .await;
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "second").await.expect("run second");
        let waiting = wait_for(&drills, "second", "Waiting", WAIT, |d| {
            d.status.as_ref().is_some_and(|s| s.phase == DrillPhase::Waiting)
        })
        .await;
        let message = waiting.status.and_then(|s| s.message).unwrap_or_default();
        assert_eq!(
            message,
            format!("waiting: ClinicalSystem lims is held by drill {}/first; this run starts when it is free", ns.name)
        );
        let held = drills.get("first").await.expect("first").status.expect("status").held;
        assert_eq!(held, ["lims"], "the first drill holds lims");
        let pending = waiting_run(&drills, "second").await;
        assert!(pending.started_at.is_none() && pending.faults.is_empty(), "nothing injected: {pending:?}");

        // Stopping the first lets the second run.
        drills
            .patch("first", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "abort": true } })))
            .await
            .expect("abort first");
        let first_done = finished(&drills, "first", 1).await;
        assert_eq!(first_done.status.and_then(|s| s.run).and_then(|r| r.outcome), Some(DrillOutcome::Aborted));
        let second = drillctl::wait_run(ns.client.clone(), &ns.name, "second", &token, WAIT)
            .await
            .expect("the second run finishes");
        let run = second.status.and_then(|s| s.run).expect("run");
        assert_eq!(run.outcome, Some(DrillOutcome::Passed), "{:?}", run.reason);
        assert_eq!(replicas(&ns, "lims").await, 1);
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn a_scheduled_drill_fires_on_schedule() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-schedule", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        web_system(&ns, "lims", 1, vec![]).await;
        let drills: Api<RecoveryDrill> = ns.api();
        let mut d = drill(
            "nightly",
            &["lims"],
            json!([{ "system": "lims", "scaleToZero": {} }]),
        );
        // Every 5 seconds (a leading seconds field).
        d.spec.schedule = Some("*/5 * * * * *".into());
        drills
            .create(&PostParams::default(), &d)
            .await
            .expect("drill");
        let op = operator(&ns);
        let done = finished(&drills, "nightly", 1).await;
        let status = done.status.expect("status");
        assert_eq!(status.history[0].trigger, DrillTrigger::Schedule);
        assert_eq!(status.history[0].outcome, DrillOutcome::Passed);
        let fired = status.last_schedule_time.expect("last schedule time");
        assert_eq!(
            fired.0.as_second() % 5,
            0,
            "fired on a 5-second boundary: {fired:?}"
        );
        let next = status.next_schedule_time.expect("next schedule time");
        assert!(next.0 > fired.0);
        // Stop it before it fires again during namespace teardown.
        drills
            .patch(
                "nightly",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "schedule": null } })),
            )
            .await
            .expect("unschedule");
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn the_operator_refuses_systems_and_dependencies_outside_the_drills_namespace() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-other", |other: TestNamespace| async move {
        web_system(&other, "pas", 1, vec![]).await;
        with_namespace("drill-refuse", |ns: TestNamespace| async move {
            make_staging(&ns).await;
            let drills: Api<RecoveryDrill> = ns.api();
            let op = operator(&ns);
            // pas lives in the other namespace only.
            drills
                .create(&PostParams::default(), &drill("elsewhere", &["pas"], json!([{ "system": "pas", "scaleToZero": {} }])))
                .await
                .expect("admitted: the operator decides");
            drillctl::request_run(ns.client.clone(), &ns.name, "elsewhere").await.expect("ask");
            let refused = wait_for(&drills, "elsewhere", "refused", WAIT, |d| {
                d.status.as_ref().is_some_and(|s| s.message.as_deref().is_some_and(|m| m.contains("not a ClinicalSystem")))
            })
            .await;
            let status = refused.status.expect("status");
            assert_eq!(
                status.message.as_deref(),
                Some(format!("spec.systems: pas is not a ClinicalSystem in namespace {}: a drill touches nothing outside its namespace", ns.name).as_str())
            );
            let ready = status.conditions.iter().find(|c| c.type_ == "Ready").expect("Ready");
            assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "Invalid"));
            assert!(status.run.is_none(), "no run started");
            assert_eq!(replicas(&other, "pas").await, 1, "the other namespace is untouched");

            // A system here that depends on one there is refused too.
            let mut lims = support::clinical_system("lims", &[], vec![], vec![]);
            lims["spec"]["dependsOn"] = json!([{ "name": "pas", "namespace": other.name }]);
            ns.api::<ClinicalSystem>().create(&PostParams::default(), &object(lims)).await.expect("system");
            drills
                .create(&PostParams::default(), &drill("crossing", &["lims"], json!([{ "system": "lims", "failCheck": { "check": "none" } }])))
                .await
                .expect("drill");
            let refused = wait_for(&drills, "crossing", "refused", WAIT, |d| {
                d.status.as_ref().is_some_and(|s| s.message.as_deref().is_some_and(|m| m.contains("outside the drill's namespace")))
            })
            .await;
            assert_eq!(
                refused.status.and_then(|s| s.message).as_deref(),
                Some(format!("ClinicalSystem {}/lims depends on {}/pas, outside the drill's namespace: a drill touches nothing outside its namespace", ns.name, other.name).as_str())
            );
            // A workload to break that does not exist: the run is not started.
            let ward = support::clinical_system("ward", &[], vec![], vec![]);
            ns.api::<ClinicalSystem>().create(&PostParams::default(), &object(ward)).await.expect("system");
            drills
                .create(
                    &PostParams::default(),
                    &drill("ghost", &["ward"], json!([{ "system": "ward", "scaleToZero": { "workloads": [{ "kind": "Deployment", "name": "ghost" }] } }])),
                )
                .await
                .expect("drill");
            wait_for(&drills, "ghost", "the finalizer", WAIT, |d| d.metadata.finalizers.is_some()).await;
            let token = drillctl::request_run(ns.client.clone(), &ns.name, "ghost").await.expect("ask");
            let refused = wait_for(&drills, "ghost", "refused", WAIT, |d| {
                d.status.as_ref().is_some_and(|s| s.message.as_deref().is_some_and(|m| m.contains("does not exist")))
            })
            .await;
            let status = refused.status.expect("status");
            assert_eq!(
                status.message.as_deref(),
                Some(format!("spec.faults: Deployment/ghost does not exist in namespace {}; the run was not started", ns.name).as_str())
            );
            assert!(status.run.is_none() && status.held.is_empty(), "nothing started or held");
            // `lifeline drill run --wait` says so, rather than show an earlier run.
            let err = drillctl::wait_run(ns.client.clone(), &ns.name, "ghost", &token, WAIT)
                .await
                .expect_err("not started");
            assert_eq!(
                err.to_string(),
                format!(
                    "recoverydrill {ns}/ghost: the run was not started: spec.faults: Deployment/ghost does not exist in namespace {ns}; the run was not started",
                    ns = ns.name
                )
            );
            stop(&ns, op).await;
        })
        .await;
    })
    .await;
}

/// The drill policy of manifests/operator/admission.yaml, copied and bound to `namespaces` only
/// (the shipped binding applies cluster-wide, which would affect other tests).
async fn install_drill_policy(client: &kube::Client, suffix: &str, namespaces: &[&str]) -> String {
    let text = std::fs::read_to_string(repo_root().join("manifests/operator/admission.yaml"))
        .expect("admission.yaml");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            serde_json::to_value(
                <serde_yaml::Value as serde::Deserialize>::deserialize(d).expect("yaml"),
            )
            .expect("json")
        })
        .collect();
    let name = format!("lifeline-drill-staging-only-{suffix}");
    let mut policy = docs
        .iter()
        .find(|d| {
            d["kind"] == "ValidatingAdmissionPolicy"
                && d["metadata"]["name"] == "lifeline-drill-staging-only"
        })
        .cloned()
        .expect("the shipped drill policy");
    policy["metadata"]["name"] = json!(name);
    let mut binding = docs
        .iter()
        .find(|d| {
            d["kind"] == "ValidatingAdmissionPolicyBinding"
                && d["spec"]["policyName"] == "lifeline-drill-staging-only"
        })
        .cloned()
        .expect("the shipped drill binding");
    binding["metadata"]["name"] = json!(name);
    binding["spec"]["policyName"] = json!(name);
    binding["spec"]["matchResources"] = json!({ "namespaceSelector": { "matchExpressions": [
        { "key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces }
    ] } });
    let pp = PostParams::default();
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .create(&pp, &object(policy))
        .await
        .expect("policy");
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .create(&pp, &object(binding))
        .await
        .expect("binding");
    name
}

#[tokio::test]
async fn admission_admits_drills_only_in_staging_namespaces() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-prod", |prod: TestNamespace| async move {
        with_namespace("drill-staging", |staging: TestNamespace| async move {
            make_staging(&staging).await;
            let admin = admin_client().await;
            let policy = install_drill_policy(&admin, &prod.name, &[&prod.name, &staging.name]).await;
            let d = drill("try", &["lims"], json!([{ "system": "lims", "scaleToZero": {} }]));
            // The policy takes a moment to reach admission: retry until the denial shows.
            let message = eventually("the unlabelled namespace to be refused", WAIT, || {
                let api: Api<RecoveryDrill> = prod.api();
                let d = d.clone();
                async move {
                    match api.create(&PostParams::default(), &d).await {
                        Err(kube::Error::Api(e)) if e.code == 403 => Ok(e.message),
                        Err(e) => Err(e.to_string()),
                        Ok(_) => {
                            let _ = api.delete("try", &DeleteParams::default()).await;
                            Err("admitted".to_string())
                        }
                    }
                }
            })
            .await;
            assert!(
                message.contains(&format!(
                    "metadata.namespace: a RecoveryDrill is admitted only in a namespace labelled lifeline.dev/environment=staging, and namespace {} is not",
                    prod.name
                )),
                "{message}"
            );
            staging
                .api::<RecoveryDrill>()
                .create(&PostParams::default(), &d)
                .await
                .expect("admitted in staging");
            let _ = Api::<ValidatingAdmissionPolicyBinding>::all(admin.clone()).delete(&policy, &DeleteParams::default()).await;
            let _ = Api::<ValidatingAdmissionPolicy>::all(admin).delete(&policy, &DeleteParams::default()).await;
        })
        .await;
    })
    .await;
}

/// The workloads the estate's scale steps name, with the replicas they restore to: the
/// estate as it runs before the drill breaks it.
fn running_estate() -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = Vec::new();
    for d in support::playbook::playbook("northern-care")
        .iter()
        .filter(|d| d.kind() == "ClinicalSystem")
    {
        for step in d.object["spec"]["restore"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let s = &step["scale"];
            if let (Some(kind), Some(name), Some(n)) = (
                s["kind"].as_str(),
                s["name"].as_str(),
                s["replicas"].as_i64(),
            ) && !out.iter().any(|(k, w, _)| k == kind && w == name)
            {
                out.push((kind.to_string(), name.to_string(), n));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_northern_care_total_outage_drill_runs_to_completion_with_people_approving() {
    use crate::support::playbook::{
        ServiceStandIn, apply_playbook_where, confirm_manual_steps, playbook,
    };
    use lifeline::api::v1alpha1::{Approval, DrillApprovals};
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-northern-care", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        apply_playbook_where(&ns, "northern-care", |d| d.kind() != "RecoveryPlan").await;
        // Bring the estate up as it runs before the outage.
        let estate = running_estate();
        assert!(estate.len() >= 24, "{estate:?}");
        for (kind, name, n) in &estate {
            let patch = Patch::Merge(json!({ "spec": { "replicas": n } }));
            let pp = PatchParams::default();
            match kind.as_str() {
                "Deployment" => {
                    ns.api::<Deployment>()
                        .patch(name, &pp, &patch)
                        .await
                        .expect("scale up");
                }
                _ => {
                    ns.api::<k8s_openapi::api::apps::v1::StatefulSet>()
                        .patch(name, &pp, &patch)
                        .await
                        .expect("scale up");
                }
            }
        }
        eventually("the estate to be running", Duration::from_secs(120), || {
            let ns = &ns;
            let estate = &estate;
            async move {
                for (kind, name, n) in estate {
                    let ready = match kind.as_str() {
                        "Deployment" => ns
                            .api::<Deployment>()
                            .get(name)
                            .await
                            .map_err(|e| e.to_string())?
                            .status
                            .and_then(|s| s.ready_replicas),
                        _ => ns
                            .api::<k8s_openapi::api::apps::v1::StatefulSet>()
                            .get(name)
                            .await
                            .map_err(|e| e.to_string())?
                            .status
                            .and_then(|s| s.ready_replicas),
                    };
                    if i64::from(ready.unwrap_or(0)) != *n {
                        return Err(format!("{kind}/{name}: {ready:?} of {n} ready"));
                    }
                }
                Ok(())
            }
        })
        .await;

        // The drill as the playbook ships it.
        let doc = playbook("drills")
            .into_iter()
            .find(|d| d.kind() == "RecoveryDrill" && d.name() == "total-outage")
            .expect("playbooks/drills/total-outage.yaml");
        let mut drill_doc = doc.object.clone();
        drill_doc["metadata"]["namespace"] = json!(ns.name);
        let drill: RecoveryDrill = object(drill_doc);
        assert_eq!(drill.spec.approvals, DrillApprovals::Real);
        let plan = plan_name("total-outage", 1);
        let drills: Api<RecoveryDrill> = ns.api();
        drills
            .create(&PostParams::default(), &drill)
            .await
            .expect("drill");

        let standin = ServiceStandIn::start("northern-care").await;
        let mut opts = RunOptions::local(&ns.name, "drill-northern-care");
        opts.resolve = standin.resolve.clone();
        let op = tokio::spawn(async move { run(admin_client().await, opts).await });
        wait_for(&drills, "total-outage", "the finalizer", WAIT, |d| {
            d.metadata.finalizers.is_some()
        })
        .await;
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "total-outage")
            .await
            .expect("run");
        wait_for(&drills, "total-outage", "Recovering", WAIT, |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.phase == DrillPhase::Recovering)
        })
        .await;
        // The duty manager and the custodians confirm the manual steps of the drill's plan,
        // which exists now (a confirmation made before it would be of an earlier plan).
        confirm_manual_steps(&ns, &plan).await;

        // The people approve each stage for every system, as on the day.
        let every_system: Vec<String> = ns
            .api::<ClinicalSystem>()
            .list(&Default::default())
            .await
            .expect("systems")
            .items
            .iter()
            .map(|s| s.metadata.name.clone().unwrap_or_default())
            .collect();
        for stage in &drill.spec.recovery.stages {
            let required = stage.approval.required as usize;
            let people = [
                ("alice", "clinical-safety-officers"),
                ("dana", "incident-commanders"),
            ];
            for (who, group) in people.iter().take(required) {
                let a: Approval = object(json!({
                    "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
                    "metadata": { "name": format!("{}-{who}", stage.name) },
                    "spec": {
                        "plan": plan, "stage": stage.name, "systems": every_system,
                        "decision": "approve",
                        "comment": format!("{who}: results checked for {}", stage.name),
                        "acknowledged": stage.checklist,
                        "approver": { "username": who, "groups": [group] }
                    }
                }));
                support::create_approval(&ns, a).await;
            }
        }

        let done = drillctl::wait_run(
            ns.client.clone(),
            &ns.name,
            "total-outage",
            &token,
            Duration::from_secs(300),
        )
        .await
        .expect("the drill finishes");
        let status = done.status.clone().expect("status");
        let run_record = status.run.clone().expect("run");
        assert_eq!(
            run_record.outcome,
            Some(DrillOutcome::Passed),
            "{:?}",
            run_record.reason
        );
        assert_eq!(run_record.systems.len(), 24);
        assert!(
            run_record.faults.iter().all(|f| f.proven_at.is_some()),
            "every fault proven"
        );
        assert_eq!(
            run_record
                .faults
                .iter()
                .filter(|f| f.kind == FaultKind::ScaleToZero)
                .count(),
            estate.len(),
            "one fault per workload the estate scales"
        );
        // The approvals are the people's, with their comments.
        let by: BTreeSet<&str> = run_record
            .approvals
            .iter()
            .filter(|a| a.accepted)
            .map(|a| a.by.as_str())
            .collect();
        assert_eq!(by, BTreeSet::from(["alice", "dana"]));
        assert!(
            run_record
                .approvals
                .iter()
                .all(|a| !a.automatic && a.at.is_some())
        );

        // The report's figures are the recorded timestamps.
        let figures = lifeline::report::drill::system_figures(&done);
        assert_eq!(figures.len(), 24);
        for s in &run_record.systems {
            let f = figures
                .iter()
                .find(|f| f.name == s.name)
                .expect("a row per system");
            let fault = s.fault_at.clone().expect("fault time");
            let verified = s.verified_at.clone().expect("verified");
            let released = s.released_at.clone().expect("released");
            assert_eq!(
                f.recovery_seconds,
                Some(seconds_between(&fault, &verified)),
                "{}",
                s.name
            );
            assert_eq!(
                f.release_seconds,
                Some(seconds_between(&fault, &released)),
                "{}",
                s.name
            );
            assert_eq!(f.objective_seconds, s.objective_seconds, "{}", s.name);
        }
        let md = lifeline::report::drill::markdown(&done);
        for s in &run_record.systems {
            assert!(md.contains(&s.name), "the report names {}", s.name);
        }
        // The CLI, as a person runs it against the cluster.
        let dir = tempfile::tempdir().expect("temp dir");
        let html = dir.path().join("total-outage.html");
        let cli = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
                .args(args)
                .env("KUBECONFIG", &support::cluster().kubeconfig)
                .output()
                .expect("run lifeline");
            assert!(
                out.status.success(),
                "lifeline {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let shown = cli(&["drill", "status", "total-outage", "-n", &ns.name]);
        assert!(
            shown.starts_with(&format!("Drill {}/total-outage: Finished", ns.name)),
            "{shown}"
        );
        assert!(
            shown.contains("Run 1 (manual)") && shown.contains("Passed"),
            "{shown}"
        );
        cli(&[
            "report",
            "total-outage",
            "-n",
            &ns.name,
            "--format",
            "html",
            "-o",
            html.to_str().expect("utf-8 path"),
        ]);
        let page = std::fs::read_to_string(&html).expect("the HTML report");
        let table = page
            .split("<table id=\"systems\"")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .expect("a systems table");
        assert_eq!(
            table.matches("<tr data-system=").count(),
            24,
            "a row per system"
        );

        // Reverted: every workload at its recorded replicas.
        for r in run_record
            .pre_state
            .iter()
            .filter(|r| r.kind == RecordedKind::Deployment)
        {
            assert_eq!(Some(replicas(&ns, &r.name).await), r.replicas, "{}", r.name);
        }
        stop(&ns, op).await;
        drop(standin);
    })
    .await;
}

/// A drill with `approvals: real` holds each system at an approval-requiring stage until
/// a person approves it, as a real recovery does: both systems verified and released to
/// IT wait at `wards` (the plan's `status.awaiting` lists them, the run is not finished),
/// an approval of lims alone releases lims while pacs keeps waiting, and only pacs's own
/// approval lets the drill finish, with the two people's approvals recorded.
#[tokio::test]
async fn a_drill_with_real_approvals_waits_at_the_stage_until_a_person_approves_each_system() {
    use lifeline::api::v1alpha1::{Approval, DrillApprovals, SystemPhase};
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-real-approvals", |ns: TestNamespace| async move {
        make_staging(&ns).await;
        web_system(&ns, "lims", 2, vec![]).await;
        web_system(&ns, "pacs", 1, vec![]).await;
        let drills: Api<RecoveryDrill> = ns.api();
        let mut d = drill(
            "weekly",
            &["lims", "pacs"],
            json!([
                { "system": "lims", "scaleToZero": {} },
                { "system": "pacs", "scaleToZero": {} }
            ]),
        );
        d.spec.approvals = DrillApprovals::Real;
        drills
            .create(&PostParams::default(), &d)
            .await
            .expect("drill");
        let op = operator(&ns);
        wait_for(&drills, "weekly", "the finalizer", WAIT, |d| {
            d.metadata.finalizers.is_some()
        })
        .await;
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "weekly")
            .await
            .expect("run");
        let plans: Api<RecoveryPlan> = ns.api();
        let plan = plan_name("weekly", 1);
        let waiting_at_wards = |p: &RecoveryPlan, name: &str| {
            let qualified = format!("{}/{name}", ns.name);
            p.status.as_ref().is_some_and(|s| {
                s.awaiting
                    .iter()
                    .any(|a| a.stage == "wards" && a.needed == 1 && a.systems.contains(&qualified))
                    && s.systems.iter().any(|x| {
                        x.name == qualified
                            && x.phase == SystemPhase::Released
                            && x.released_stage.as_deref() == Some("it-validation")
                    })
            })
        };
        let held = wait_for(&plans, &plan, "lims and pacs waiting at wards", WAIT, |p| {
            waiting_at_wards(p, "lims") && waiting_at_wards(p, "pacs")
        })
        .await;
        let awaiting: Vec<String> = held
            .status
            .as_ref()
            .expect("status")
            .awaiting
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert!(
            awaiting
                .iter()
                .any(|a| a.starts_with("stage wards awaits 1 more approval")),
            "{awaiting:?}"
        );
        let still = drills.get("weekly").await.expect("drill");
        let status = still.status.clone().expect("status");
        assert_eq!(status.phase, DrillPhase::Recovering, "{status:?}");
        assert_eq!(status.run.as_ref().and_then(|r| r.outcome), None);
        assert!(
            status.run.as_ref().is_some_and(|r| r.approvals.is_empty()),
            "no approval recorded before a person gives one: {:?}",
            status.run
        );

        let approve = |who: &str, system: &str| -> Approval {
            object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
                "metadata": { "name": format!("wards-{system}-{who}") },
                "spec": {
                    "plan": plan, "stage": "wards", "systems": [system],
                    "decision": "approve",
                    "comment": format!("{who}: {system} checked for the wards"),
                    "approver": { "username": who, "groups": ["clinical-safety-officers"] }
                }
            }))
        };
        support::create_approval(&ns, approve("alice", "lims")).await;
        let lims_released = wait_for(&plans, &plan, "lims released to wards", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems.iter().any(|x| {
                    x.name.ends_with("/lims") && x.released_stage.as_deref() == Some("wards")
                })
            })
        })
        .await;
        // pacs was not carried along by lims's approval: it still waits, and so does the
        // drill.
        assert!(
            waiting_at_wards(&lims_released, "pacs"),
            "{:?}",
            lims_released.status
        );
        let still = drills.get("weekly").await.expect("drill");
        assert_eq!(
            still.status.as_ref().map(|s| s.phase),
            Some(DrillPhase::Recovering),
            "{:?}",
            still.status
        );

        support::create_approval(&ns, approve("dana", "pacs")).await;
        let (_, run) = passed(&ns, "weekly", &token).await;
        let mut by: Vec<(String, String, Vec<String>, bool)> = run
            .approvals
            .iter()
            .filter(|a| a.accepted)
            .map(|a| {
                (
                    a.stage.clone(),
                    a.by.clone(),
                    a.systems.clone(),
                    a.automatic,
                )
            })
            .collect();
        by.sort();
        assert_eq!(
            by,
            [
                (
                    "wards".into(),
                    "alice".into(),
                    vec![format!("{}/lims", ns.name)],
                    false
                ),
                (
                    "wards".into(),
                    "dana".into(),
                    vec![format!("{}/pacs", ns.name)],
                    false
                ),
            ]
        );
        for s in &run.systems {
            assert!(s.fully_released_at.is_some(), "{s:?}");
        }
        stop(&ns, op).await;
    })
    .await;
}

/// The operator stopped dead (its task aborted between two API calls) as soon as a run
/// has started, again once the recovery plan is recorded, and again once a system is
/// verified: each time a new operator resumes from the drill's status, and the run ends
/// as an uninterrupted one would, with one plan, every fault proven and everything put
/// back.
#[tokio::test]
async fn a_drill_resumes_after_the_operator_stops_in_every_phase() {
    ensure_crds(&admin_client().await).await;
    with_namespace("drill-restart", |ns: TestNamespace| async move {
        let drills = every_kind_of_fault(&ns, "restarted").await;
        recover_to(&ns, "lims", 1).await;
        let mut op = operator(&ns);
        wait_for(&drills, "restarted", "the finalizer", WAIT, |d| {
            d.metadata.finalizers.is_some()
        })
        .await;
        let token = drillctl::request_run(ns.client.clone(), &ns.name, "restarted")
            .await
            .expect("run");

        type Point = fn(&lifeline::api::v1alpha1::RecoveryDrillStatus) -> bool;
        let points: [(&str, Point); 3] = [
            ("started", |s| {
                s.run.as_ref().is_some_and(|r| r.started_at.is_some())
            }),
            ("recovering", |s| {
                s.run.as_ref().is_some_and(|r| r.plan.is_some())
            }),
            ("a system verified", |s| {
                s.run
                    .as_ref()
                    .is_some_and(|r| r.systems.iter().any(|x| x.verified_at.is_some()))
                    || s.phase == DrillPhase::Finished
            }),
        ];
        for (what, reached) in points {
            wait_for(&drills, "restarted", what, WAIT, |d| {
                d.status.as_ref().is_some_and(reached)
            })
            .await;
            op.abort();
            let _ = op.await;
            op = operator(&ns);
        }

        let (status, run) = passed(&ns, "restarted", &token).await;
        assert_eq!(run.number, 1, "one run, resumed, not a second one");
        assert_eq!(
            run.plan.as_deref(),
            Some(plan_name("restarted", 1).as_str())
        );
        let drill = drills.get("restarted").await.expect("the drill");
        assert_every_fault_proven(&drill, &run);
        assert_eq!(run.systems.len(), 2);
        assert!(
            run.systems
                .iter()
                .all(|s| s.verified_at.is_some() && s.objective_met == Some(true)),
            "{:?}",
            run.systems
        );
        // Put back: the recorded replicas (the recovery scaled lims to one), no isolation,
        // no plan, no claims.
        assert_eq!(replicas(&ns, "lims").await, 2);
        assert!(
            ns.api::<NetworkPolicy>()
                .get_opt(&isolation_policy_name("restarted", "lims"))
                .await
                .expect("get")
                .is_none()
        );
        assert_plan_gone(&ns, "restarted", 1).await;
        assert!(status.held.is_empty());
        assert_eq!(status.history.len(), 1);
        stop(&ns, op).await;
    })
    .await;
}

#[tokio::test]
async fn drill_run_dry_run_shows_the_request_and_starts_nothing() {
    with_namespace("drill-dry-run", |ns| async move {
        ensure_crds(&ns.client).await;
        make_staging(&ns).await;
        web_system(&ns, "pacs", 1, vec![]).await;
        let drills = ns.api::<RecoveryDrill>();
        drills
            .create(
                &PostParams::default(),
                &drill("weekly", &["pacs"], json!([{ "system": "pacs", "deletePods": {} }])),
            )
            .await
            .expect("create the drill");
        let out = support::lifeline(&["drill", "run", "weekly", "-n", &ns.name, "--dry-run"]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            stdout.starts_with(&format!(
                "a run of drill {}/weekly would be requested with this change (server dry run, not stored):",
                ns.name
            )) && stdout.contains(lifeline::api::v1alpha1::RUN_ANNOTATION),
            "{stdout}"
        );
        // `drill status` prints as kubectl get does.
        let out = support::lifeline(&["drill", "status", "weekly", "-n", &ns.name, "-o", "name"]).await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "recoverydrill.lifeline.dev/weekly\n"
        );
        let out = support::lifeline(&["drill", "status", "weekly", "-n", &ns.name, "-o", "yaml"]).await;
        let yaml: Value = serde_yaml::from_slice(&out.stdout).expect("YAML");
        assert_eq!(yaml["kind"], "RecoveryDrill");
        assert_eq!(yaml["metadata"]["name"], "weekly");
        let d = drills.get("weekly").await.expect("the drill");
        assert!(
            !kube::ResourceExt::annotations(&d)
                .contains_key(lifeline::api::v1alpha1::RUN_ANNOTATION),
            "a dry run stored its request: {:?}",
            d.metadata.annotations
        );
    })
    .await;
}
