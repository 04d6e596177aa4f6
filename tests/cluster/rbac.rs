//! The operator's RBAC in `manifests/` is enough and no more.
//!
//! - Enough: the operator, run in this process as the ServiceAccount
//!   `lifeline-system/lifeline-operator` with exactly the roles of `manifests/operator/rbac.yaml`
//!   (leader election included), completes a restore with a Job, a scale and a rollout
//!   restart, a dependency and a workload check, and records Events; a `waitFor` step on a
//!   kind it may not read fails with a message naming the aggregated role, and succeeds
//!   once a ClusterRole labelled for aggregation grants it.
//! - No more: the ServiceAccount is refused Secrets, creating or deleting workloads,
//!   writing ClinicalSystems and Approvals, and Leases other than its own; `rbac.yaml`
//!   has no wildcard, never names Secrets, and grants exactly the permissions listed in
//!   [`GRANTED`], each of which is an API call the operator makes.

use std::{collections::BTreeSet, future::Future, time::Duration};

use crate::support::{
    self, TestNamespace, admin_client, apply_manifests, client_as, ensure_crds, eventually, object,
    repo_root, wait_for, with_namespace,
};
use futures::FutureExt;
use k8s_openapi::api::{
    apps::v1::Deployment,
    batch::v1::Job,
    coordination::v1::Lease,
    core::v1::{Pod, Secret},
    events::v1::Event,
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{Approval, ClinicalSystem, PlanPhase, RecoveryPlan, SystemPhase},
    controller::{FIELD_MANAGER, LEASE_NAME, RunOptions, steps::restore::RESTART_ANNOTATION},
};
use serde_json::json;

/// The operator's namespace (manifests/operator/namespace.yaml).
const OPERATOR_NAMESPACE: &str = "lifeline-system";
/// The operator's ServiceAccount (manifests/operator/serviceaccount.yaml).
const OPERATOR_SA: &str = "lifeline-operator";
/// The user the API server sees for that ServiceAccount.
const OPERATOR_USER: &str = "system:serviceaccount:lifeline-system:lifeline-operator";
/// The groups the API server gives that ServiceAccount.
const OPERATOR_GROUPS: &[&str] = &[
    "system:serviceaccounts",
    "system:serviceaccounts:lifeline-system",
    "system:authenticated",
];
/// The manifests that set up the operator's identity and permissions, in apply order.
const RBAC_MANIFESTS: &[&str] = &["namespace.yaml", "serviceaccount.yaml", "rbac.yaml"];
/// How long a plan may take to finish.
const PLAN_DONE: Duration = Duration::from_secs(90);
/// How long RBAC changes (bindings, aggregation) may take to reach the authorizer.
const RBAC_SETTLED: Duration = Duration::from_secs(30);
/// How long an Event may take to appear after the status that caused it.
const EVENT_SEEN: Duration = Duration::from_secs(30);
/// How long the operator's Deployment may take to become available (kwok's fake pods).
const DEPLOYMENT_AVAILABLE: Duration = Duration::from_secs(60);
/// The image deployment.yaml runs, built from the Dockerfile (its tag is the crate version).
const IMAGE: &str = concat!("ghcr.io/lifeline-dev/lifeline:", env!("CARGO_PKG_VERSION"));

/// Every permission `manifests/operator/rbac.yaml` grants, as `role: apiGroup/resource[name]: verb`,
/// each one an API call in `src/controller/` (rbac.yaml's comments say which). A change
/// to the operator's permissions must change this list too: that is the review.
const GRANTED: &[&str] = &[
    // The controller's watch on plans (list + watch) and the readiness list.
    "lifeline-operator: lifeline.dev/recoveryplans: list",
    "lifeline-operator: lifeline.dev/recoveryplans: watch",
    // Status by server-side apply on the status subresource.
    "lifeline-operator: lifeline.dev/recoveryplans/status: patch",
    "lifeline-operator: lifeline.dev/clinicalsystems: list",
    "lifeline-operator: lifeline.dev/clinicalsystems: watch",
    "lifeline-operator: lifeline.dev/clinicalsystems/status: patch",
    "lifeline-operator: lifeline.dev/approvals: list",
    "lifeline-operator: lifeline.dev/approvals: watch",
    "lifeline-operator: lifeline.dev/interventions: list",
    "lifeline-operator: lifeline.dev/interventions: watch",
    // The hash-chained record (server-side apply), and the verb admission asks for.
    "lifeline-operator: lifeline.dev/recoveryrecords: get",
    "lifeline-operator: lifeline.dev/recoveryrecords: list",
    "lifeline-operator: lifeline.dev/recoveryrecords: create",
    "lifeline-operator: lifeline.dev/recoveryrecords: patch",
    "lifeline-operator: lifeline.dev/recoveryrecords: delete",
    "lifeline-operator: lifeline.dev/recoveryrecords: append",
    "lifeline-operator: lifeline.dev/recoveryprogresses: list",
    "lifeline-operator: lifeline.dev/recoveryprogresses: create",
    "lifeline-operator: lifeline.dev/recoveryprogresses: update",
    "lifeline-operator: lifeline.dev/recoveryprogresses: delete",
    "lifeline-operator: lifeline.dev/recoveryprogresses: record",
    // `job` steps and checks.
    "lifeline-operator: batch/jobs: create",
    "lifeline-operator: batch/jobs: get",
    "lifeline-operator: batch/jobs: list",
    "lifeline-operator: batch/jobs: watch",
    // `scale` and `rolloutRestart` steps, `workloadReady` checks, and the watches.
    "lifeline-operator: apps/deployments: get",
    "lifeline-operator: apps/deployments: list",
    "lifeline-operator: apps/deployments: patch",
    "lifeline-operator: apps/deployments: watch",
    "lifeline-operator: apps/statefulsets: get",
    "lifeline-operator: apps/statefulsets: list",
    "lifeline-operator: apps/statefulsets: patch",
    "lifeline-operator: apps/statefulsets: watch",
    "lifeline-operator: apps/deployments/scale: patch",
    "lifeline-operator: apps/statefulsets/scale: patch",
    // kube's event Recorder.
    "lifeline-operator: events.k8s.io/events: create",
    "lifeline-operator: events.k8s.io/events: patch",
    // Release gates and the released-stage label.
    "lifeline-operator: networking.k8s.io/networkpolicies: create",
    "lifeline-operator: networking.k8s.io/networkpolicies: patch",
    "lifeline-operator: networking.k8s.io/ingresses: patch",
    "lifeline-operator: networking.k8s.io/servicecidrs: list",
    "lifeline-operator: /services: patch",
    // Drills: the drill itself, its plan, its claims, its faults, the staging label.
    "lifeline-operator: lifeline.dev/recoverydrills: get",
    "lifeline-operator: lifeline.dev/recoverydrills: list",
    "lifeline-operator: lifeline.dev/recoverydrills: watch",
    "lifeline-operator: lifeline.dev/recoverydrills: patch",
    "lifeline-operator: lifeline.dev/recoverydrills/status: patch",
    "lifeline-operator: lifeline.dev/recoveryplans: get",
    "lifeline-operator: lifeline.dev/recoveryplans: create",
    "lifeline-operator: lifeline.dev/recoveryplans: delete",
    // Not an API call: the verb admission asks of whoever makes a drill's plan.
    "lifeline-operator: lifeline.dev/recoveryplans: drill",
    "lifeline-operator: /pods: list",
    "lifeline-operator: /pods: delete",
    "lifeline-operator: networking.k8s.io/networkpolicies: get",
    "lifeline-operator: networking.k8s.io/networkpolicies: delete",
    "lifeline-operator: /namespaces: get",
    // kube-lease-manager: get, create when missing, take and renew by patch.
    "lifeline-operator-leader-election: coordination.k8s.io/leases: create",
    "lifeline-operator-leader-election: coordination.k8s.io/leases[lifeline-operator]: get",
    "lifeline-operator-leader-election: coordination.k8s.io/leases[lifeline-operator]: patch",
];

/// Logs from the operator under test, shown with a failing test's output.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A client that acts as the operator's ServiceAccount.
async fn operator_client() -> Client {
    client_as(OPERATOR_USER, OPERATOR_GROUPS).await
}

/// Installs the CRDs and the operator's namespace, ServiceAccount and RBAC, then waits
/// until the API server authorizes the ServiceAccount by them (bindings reach the
/// authorizer's cache a moment after they are written).
async fn install_operator_rbac(ns: &TestNamespace) {
    ensure_crds(&ns.client).await;
    apply_manifests(RBAC_MANIFESTS).await;
    let plans: Api<RecoveryPlan> = ns.api_with(&operator_client().await);
    eventually(
        "the operator's ServiceAccount to be allowed to list RecoveryPlans",
        RBAC_SETTLED,
        || {
            let plans = plans.clone();
            async move {
                plans
                    .list(&Default::default())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await;
}

/// Runs the operator in this process as its ServiceAccount, scoped to `namespace`, until
/// `body` finishes; fails the test if the operator stops first (it should run until it
/// is stopped, so stopping means it hit an error, such as a permission it lacks).
async fn with_operator<Fut: Future<Output = ()>>(
    namespace: &str,
    leader_election: bool,
    identity: &str,
    body: Fut,
) {
    with_operator_watching(namespace, &[], leader_election, identity, body).await
}

/// [`with_operator`], also watching the namespaces `also` (an estate across them).
async fn with_operator_watching<Fut: Future<Output = ()>>(
    namespace: &str,
    also: &[String],
    leader_election: bool,
    identity: &str,
    body: Fut,
) {
    init_tracing();
    let opts = RunOptions {
        metrics_addr: "127.0.0.1:0".parse().expect("a socket address"),
        leader_election,
        lease_namespace: OPERATOR_NAMESPACE.into(),
        identity: identity.into(),
        namespace: Some(namespace.into()),
        watch_namespaces: also.to_vec(),
        resolve: vec![],
        check_networks: vec!["127.0.0.0/8".parse().expect("a CIDR")],
        notify: None,
        record_retention: lifeline::controller::plan::record::DEFAULT_RETENTION,
    };
    let operator = tokio::spawn(lifeline::controller::run(operator_client().await, opts));
    let abort = operator.abort_handle();
    let body = std::panic::AssertUnwindSafe(body).catch_unwind();
    tokio::pin!(body);
    tokio::select! {
        outcome = &mut body => {
            abort.abort();
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
        stopped = operator => {
            panic!("the operator stopped while the test was running: {stopped:?}");
        }
    }
}

fn plan(name: &str, systems: &[&str]) -> RecoveryPlan {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "metadata": { "name": name },
        "spec": { "systems": { "names": systems }, "failurePolicy": "continue" }
    }))
}

/// Waits until the plan reaches a final phase, and returns it.
async fn finished(plans: &Api<RecoveryPlan>, name: &str) -> RecoveryPlan {
    wait_for(plans, name, "finished", PLAN_DONE, |p| {
        p.status.as_ref().is_some_and(|s| s.phase_is_final())
    })
    .await
}

fn phase(plan: &RecoveryPlan) -> PlanPhase {
    plan.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

#[tokio::test]
async fn operator_restores_a_plan_as_its_service_account() {
    with_namespace("rbac-restore", |ns: TestNamespace| async move {
        install_operator_rbac(&ns).await;
        let pp = PostParams::default();

        // Two workloads as an outage leaves them: the database scaled to 0, the results
        // viewer running but needing a restart once its database is back.
        let deployments: Api<Deployment> = ns.api();
        deployments
            .create(&pp, &support::fake_deployment("lab-db", 0))
            .await
            .expect("create lab-db");
        deployments
            .create(&pp, &support::fake_deployment("results-viewer", 1))
            .await
            .expect("create results-viewer");

        let systems: Api<ClinicalSystem> = ns.api();
        let lab: ClinicalSystem = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "ClinicalSystem",
            "metadata": { "name": "laboratory" },
            "spec": {
                "displayName": "Laboratory Information System",
                "tier": "mission-critical",
                "recoveryTimeObjective": "30m",
                "owner": { "team": "Pathology IT" },
                "restore": { "steps": [
                    { "name": "integrity-check", "job": { "template": { "spec": {
                        "backoffLimit": 0,
                        "template": { "spec": {
                            "restartPolicy": "Never",
                            "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
                            "containers": [{ "name": "check", "image": "registry.invalid/check:1",
                                "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } } }]
                        } }
                    } } } },
                    { "name": "scale-up", "scale": { "kind": "Deployment", "name": "lab-db", "replicas": 2 } }
                ] }
            }
        }));
        let viewer: ClinicalSystem = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "ClinicalSystem",
            "metadata": { "name": "results-viewer" },
            "spec": {
                "displayName": "Results Viewer",
                "tier": "critical",
                "recoveryTimeObjective": "1h",
                "owner": { "team": "Clinical Applications" },
                "dependsOn": [{ "name": "laboratory" }],
                "restore": { "steps": [
                    { "name": "restart", "rolloutRestart": { "kind": "Deployment", "name": "results-viewer" } }
                ] },
                "verify": { "retryInterval": "1s", "checks": [
                    { "name": "pods-ready", "workloadReady": { "kind": "Deployment", "name": "results-viewer" } }
                ] }
            }
        }));
        systems.create(&pp, &lab).await.expect("create laboratory");
        systems.create(&pp, &viewer).await.expect("create results-viewer");
        let plans: Api<RecoveryPlan> = ns.api();
        plans
            .create(&pp, &plan("restore", &["laboratory", "results-viewer"]))
            .await
            .expect("create plan");

        // The identity is unique to this process, so two test runs sharing a cluster
        // never both believe they hold the Lease.
        let identity = format!("rbac-test-{}", std::process::id());
        let ns_name = ns.name.clone();
        with_operator(&ns_name, true, &identity, async {
            let done = finished(&plans, "restore").await;
            assert_eq!(
                phase(&done),
                PlanPhase::Succeeded,
                "the plan finished but did not succeed:\n{}",
                serde_yaml::to_string(&lifeline::cli::status::status_json(&done.status.clone().unwrap_or_default())).unwrap_or_default()
            );
            let status = done.status.expect("a finished plan has a status");
            assert_eq!(status.systems.len(), 2);
            for s in &status.systems {
                assert!(
                    matches!(s.phase, SystemPhase::Verified | SystemPhase::Released),
                    "{} is {:?}",
                    s.name,
                    s.phase
                );
            }

            // Each ClinicalSystem's own status is written under these roles too.
            for s in &status.systems {
                let name = s.name.rsplit('/').next().unwrap_or_default().to_string();
                let want = s.phase;
                eventually(
                    &format!("{name}'s own status, written as the ServiceAccount"),
                    Duration::from_secs(30),
                    || {
                        let (systems, name) = (systems.clone(), name.clone());
                        async move {
                            let cs = systems.get(&name).await.map_err(|e| e.to_string())?;
                            match cs.status.as_ref().and_then(|st| st.phase) {
                                Some(p) if p == want => Ok(()),
                                other => Err(format!("{other:?}")),
                            }
                        }
                    },
                )
                .await;
            }

            // The world is restored: the Job ran (owned by the plan), the database is
            // scaled up, the viewer was restarted.
            let jobs: Api<Job> = ns.api();
            let owned = jobs
                .list(&kube::api::ListParams::default().labels("lifeline.dev/plan=restore"))
                .await
                .expect("list Jobs")
                .items;
            assert_eq!(owned.len(), 1, "one Job for the integrity check");
            let job = &owned[0];
            assert!(
                job.owner_references()
                    .iter()
                    .any(|o| o.kind == "RecoveryPlan" && o.name == "restore"),
                "the Job is owned by the plan: {:?}",
                job.owner_references()
            );
            assert_eq!(job.status.as_ref().and_then(|s| s.succeeded), Some(1));
            let db = deployments.get("lab-db").await.expect("read lab-db");
            assert_eq!(db.spec.and_then(|s| s.replicas), Some(2));
            let viewer = deployments
                .get("results-viewer")
                .await
                .expect("read results-viewer");
            let annotations = viewer
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations)
                .unwrap_or_default();
            assert!(
                annotations.contains_key(RESTART_ANNOTATION),
                "the viewer's pod template carries the restart token: {annotations:?}"
            );

            // Events were published (a missing permission there is only logged).
            let events: Api<Event> = ns.api();
            eventually("a PlanSucceeded Event from the operator", EVENT_SEEN, || {
                let events = events.clone();
                async move {
                    let list = events
                        .list(&Default::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    let seen: Vec<String> = list
                        .items
                        .iter()
                        .filter(|e| e.reporting_controller.as_deref() == Some(FIELD_MANAGER))
                        .map(|e| e.reason.clone().unwrap_or_default())
                        .collect();
                    if seen.iter().any(|r| r == "PlanSucceeded") {
                        Ok(())
                    } else {
                        Err(format!("Events from {FIELD_MANAGER}: {seen:?}"))
                    }
                }
            })
            .await;

            // It acted as the elected leader.
            let leases: Api<Lease> = Api::namespaced(ns.client.clone(), OPERATOR_NAMESPACE);
            let lease = leases.get(LEASE_NAME).await.expect("read the leader Lease");
            assert_eq!(
                lease.spec.and_then(|s| s.holder_identity).as_deref(),
                Some(identity.as_str())
            );
        })
        .await;
    })
    .await;
}

/// Asserts that `result` is the API server's 403.
#[tokio::test]
async fn operator_runs_a_drill_as_its_service_account() {
    use lifeline::api::v1alpha1::{DrillOutcome, DrillPhase, RecoveryDrill};
    with_namespace("rbac-drill", |ns: TestNamespace| async move {
        install_operator_rbac(&ns).await;
        let admin = admin_client().await;
        Api::<k8s_openapi::api::core::v1::Namespace>::all(admin)
            .patch(
                &ns.name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "lifeline.dev/environment": "staging" } } })),
            )
            .await
            .expect("label staging");
        let pp = PostParams::default();
        let deployments: Api<Deployment> = ns.api();
        deployments
            .create(&pp, &support::fake_deployment("lab-db", 2))
            .await
            .expect("create lab-db");
        let system = support::gated_system("laboratory", "lab-db", 2);
        ns.api::<ClinicalSystem>().create(&pp, &object(system)).await.expect("system");
        wait_for(&deployments, "lab-db", "ready", PLAN_DONE, |d| {
            d.status.as_ref().and_then(|s| s.ready_replicas) == Some(2)
        })
        .await;
        let drills: Api<RecoveryDrill> = ns.api();
        let drill: RecoveryDrill = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
            "metadata": { "name": "as-sa" },
            "spec": {
                "systems": { "names": ["laboratory"] },
                "faults": [
                    { "system": "laboratory", "deletePods": {} },
                    { "system": "laboratory", "scaleToZero": {} },
                    { "system": "laboratory", "isolate": { "duration": "1s" } },
                    { "system": "laboratory", "failCheck": { "check": "ready", "duration": "8s" } }
                ],
                "recovery": { "stages": [{ "name": "it", "audience": { "ipBlocks": ["10.0.0.0/8"] } }] }
            }
        }));
        drills.create(&pp, &drill).await.expect("drill");
        with_operator(&ns.name, false, "rbac-drill", async {
            wait_for(&drills, "as-sa", "the finalizer", PLAN_DONE, |d| d.metadata.finalizers.is_some()).await;
            let token = lifeline::cli::drill::request_run(ns.client.clone(), &ns.name, "as-sa")
                .await
                .expect("request a run");
            let done = lifeline::cli::drill::wait_run(ns.client.clone(), &ns.name, "as-sa", &token, PLAN_DONE)
                .await
                .expect("the run finishes as the ServiceAccount");
            let run = done.status.and_then(|s| s.run).expect("run");
            assert_eq!(run.outcome, Some(DrillOutcome::Passed), "{:?}", run.reason);
            assert!(run.faults.iter().all(|f| f.proven_at.is_some()), "{:?}", run.faults);
            // Deleting it goes through the finalizer, as the ServiceAccount too.
            drills.delete("as-sa", &DeleteParams::default()).await.expect("delete");
            eventually("the drill to be gone", PLAN_DONE, || {
                let drills = drills.clone();
                async move {
                    match drills.get_opt("as-sa").await {
                        Ok(None) => Ok(()),
                        Ok(Some(d)) => Err(format!("{:?}", d.status.map(|s| s.phase == DrillPhase::Finished))),
                        Err(e) => Err(e.to_string()),
                    }
                }
            })
            .await;
        })
        .await;
    })
    .await;
}

fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn operator_is_refused_what_it_does_not_need() {
    with_namespace("rbac-refused", |ns: TestNamespace| async move {
        install_operator_rbac(&ns).await;
        let pp = PostParams::default();
        let secret: Secret = object(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": "lab-db-credentials" },
            "stringData": { "password": "not-for-the-operator" }
        }));
        ns.api::<Secret>()
            .create(&pp, &secret)
            .await
            .expect("create a Secret as admin");
        ns.api::<Deployment>()
            .create(&pp, &support::fake_deployment("lab-db", 1))
            .await
            .expect("create a Deployment as admin");

        let sa = operator_client().await;
        // What it needs works (so the refusals below are not a missing binding)...
        let deployments: Api<Deployment> = ns.api_with(&sa);
        deployments
            .get("lab-db")
            .await
            .expect("the operator reads Deployments");
        // ...and what it does not need is refused.
        let secrets: Api<Secret> = ns.api_with(&sa);
        assert_forbidden(
            "read a Secret",
            secrets.get("lab-db-credentials").await,
        );
        assert_forbidden("list Secrets", secrets.list(&Default::default()).await);
        assert_forbidden(
            "create a Deployment",
            deployments.create(&pp, &support::fake_deployment("rogue", 1)).await,
        );
        assert_forbidden(
            "delete a Deployment",
            deployments.delete("lab-db", &DeleteParams::default()).await,
        );
        assert_forbidden(
            "create a Pod",
            ns.api_with::<Pod>(&sa)
                .create(
                    &pp,
                    &object(json!({
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": { "name": "rogue" },
                        "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1" }] }
                    })),
                )
                .await,
        );
        assert_forbidden(
            "delete a Job",
            ns.api_with::<Job>(&sa)
                .delete("anything", &DeleteParams::default())
                .await,
        );
        assert_forbidden(
            "change a ClinicalSystem",
            ns.api_with::<ClinicalSystem>(&sa)
                .patch(
                    "anything",
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "tier": "deferrable" } })),
                )
                .await,
        );
        // The operator must never be able to approve a release or a manual step itself.
        let approvals: Api<DynamicObject> = Api::namespaced_with(
            sa.clone(),
            &ns.name,
            &ApiResource::erase::<Approval>(&()),
        );
        let forged: DynamicObject = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "Approval",
            "metadata": { "name": "forged" },
            "spec": {
                "plan": "restore",
                "stage": "all-staff",
                "systems": ["web"],
                "decision": "approve",
                "approver": { "username": OPERATOR_USER }
            }
        }));
        assert_forbidden("create an Approval", approvals.create(&pp, &forged).await);
        assert_forbidden(
            "change a RecoveryPlan's spec",
            ns.api_with::<RecoveryPlan>(&sa)
                .patch(
                    "anything",
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "paused": true } })),
                )
                .await,
        );
        // Leader election is limited to its own Lease.
        let leases: Api<Lease> = Api::namespaced(sa.clone(), OPERATOR_NAMESPACE);
        assert_forbidden("read another Lease", leases.get("someone-else").await);
        assert_forbidden(
            "read Leases in the test namespace",
            ns.api_with::<Lease>(&sa).get(LEASE_NAME).await,
        );
    })
    .await;
}

#[tokio::test]
async fn wait_for_kinds_are_granted_through_the_aggregated_role() {
    with_namespace("rbac-waitfor", |ns: TestNamespace| async move {
        install_operator_rbac(&ns).await;
        let pp = PostParams::default();
        let pods: Api<Pod> = ns.api();
        pods.create(
            &pp,
            &object(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": { "name": "analyser-gateway" },
                "spec": { "containers": [{ "name": "app", "image": "registry.invalid/gateway:1" }] }
            })),
        )
        .await
        .expect("create the Pod");
        wait_for(&pods, "analyser-gateway", "Ready", PLAN_DONE, |p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .await;
        let system: ClinicalSystem = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "ClinicalSystem",
            "metadata": { "name": "analysers" },
            "spec": {
                "displayName": "Laboratory analysers",
                "tier": "critical",
                "recoveryTimeObjective": "1h",
                "restore": { "steps": [
                    { "name": "gateway-ready", "waitFor": {
                        "apiVersion": "v1", "kind": "Pod", "name": "analyser-gateway", "condition": "Ready"
                    } }
                ] }
            }
        }));
        ns.api::<ClinicalSystem>()
            .create(&pp, &system)
            .await
            .expect("create the system");
        let plans: Api<RecoveryPlan> = ns.api();
        let ns_name = ns.name.clone();
        // Without leader election: the Lease belongs to the test that proves it works.
        with_operator(&ns_name, false, "rbac-test-waitfor", async {
            // Pods are no kind the operator reads by default: the step fails, and says how
            // to grant it.
            plans
                .create(&pp, &plan("before-grant", &["analysers"]))
                .await
                .expect("create plan");
            let done = finished(&plans, "before-grant").await;
            assert_eq!(phase(&done), PlanPhase::Failed);
            let status = serde_yaml::to_string(&lifeline::cli::status::status_json(&done.status.clone().unwrap_or_default())).unwrap_or_default();
            assert!(
                status.contains("lifeline-operator-extra"),
                "the failure names the role to extend:\n{status}"
            );

            // A ClusterRole labelled for aggregation extends lifeline-operator-extra.
            let admin = admin_client().await;
            let roles: Api<ClusterRole> = Api::all(admin.clone());
            let grant = format!("lifeline-test-waitfor-pods-{}", ns.name);
            roles
                .create(
                    &pp,
                    &object(json!({
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRole",
                        "metadata": {
                            "name": grant,
                            "labels": { "lifeline.dev/aggregate-to-operator": "true" }
                        },
                        "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]
                    })),
                )
                .await
                .expect("create the aggregated ClusterRole");
            let outcome = std::panic::AssertUnwindSafe(async {
                wait_for(&roles, "lifeline-operator-extra", "aggregating pods", RBAC_SETTLED, |r| {
                    r.rules.iter().flatten().any(|rule| {
                        rule.resources.iter().flatten().any(|res| res == "pods")
                    })
                })
                .await;
                let as_operator: Api<Pod> = ns.api_with(&operator_client().await);
                eventually("the operator to be allowed to read the Pod", RBAC_SETTLED, || {
                    let as_operator = as_operator.clone();
                    async move {
                        as_operator
                            .get("analyser-gateway")
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    }
                })
                .await;
                plans
                    .create(&pp, &plan("after-grant", &["analysers"]))
                    .await
                    .expect("create plan");
                let done = finished(&plans, "after-grant").await;
                assert_eq!(
                    phase(&done),
                    PlanPhase::Succeeded,
                    "{}",
                    serde_yaml::to_string(&lifeline::cli::status::status_json(&done.status.clone().unwrap_or_default())).unwrap_or_default()
                );
            })
            .catch_unwind()
            .await;
            if let Err(e) = roles.delete(&grant, &DeleteParams::default()).await {
                eprintln!("warning: could not delete ClusterRole {grant}: {e}");
            }
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        })
        .await;
    })
    .await;
}

/// The documents of `manifests/operator/<file>` of kind `K`.
fn manifest_objects<K: serde::de::DeserializeOwned>(file: &str, kind: &str) -> Vec<K> {
    use serde::Deserialize;
    let path = repo_root().join("manifests/operator").join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|doc| {
            let value = serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (value.get("kind").and_then(|k| k.as_str()) == Some(kind)).then(|| {
                serde_yaml::from_value(value).unwrap_or_else(|e| {
                    panic!("{}: a {kind} that does not parse: {e}", path.display())
                })
            })
        })
        .collect()
}

/// `role: group/resource[names]: verb` for every permission `rule` grants.
fn permissions(role: &str, rule: &PolicyRule, out: &mut BTreeSet<String>) {
    let names = rule
        .resource_names
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|n| format!("[{}]", n.join(",")))
        .unwrap_or_default();
    for group in rule.api_groups.iter().flatten() {
        for resource in rule.resources.iter().flatten() {
            for verb in &rule.verbs {
                out.insert(format!("{role}: {group}/{resource}{names}: {verb}"));
            }
        }
    }
}

#[test]
fn rbac_manifest_grants_exactly_what_the_operator_uses() {
    let cluster_roles: Vec<ClusterRole> = manifest_objects("rbac.yaml", "ClusterRole");
    let roles: Vec<Role> = manifest_objects("rbac.yaml", "Role");
    let mut rules: Vec<(String, &PolicyRule)> = Vec::new();
    for r in &cluster_roles {
        for rule in r.rules.iter().flatten() {
            rules.push((r.name_any(), rule));
        }
    }
    for r in &roles {
        assert_eq!(r.namespace().as_deref(), Some(OPERATOR_NAMESPACE));
        for rule in r.rules.iter().flatten() {
            rules.push((r.name_any(), rule));
        }
    }
    assert!(!rules.is_empty(), "rbac.yaml has rules");

    let mut granted = BTreeSet::new();
    for (role, rule) in &rules {
        let fields = [
            ("apiGroups", rule.api_groups.clone().unwrap_or_default()),
            ("resources", rule.resources.clone().unwrap_or_default()),
            ("verbs", rule.verbs.clone()),
            (
                "resourceNames",
                rule.resource_names.clone().unwrap_or_default(),
            ),
            (
                "nonResourceURLs",
                rule.non_resource_urls.clone().unwrap_or_default(),
            ),
        ];
        for (field, values) in &fields {
            assert!(
                !values.iter().any(|v| v.contains('*')),
                "{role}: a wildcard in {field}: {values:?}"
            );
        }
        assert!(
            !rule
                .resources
                .iter()
                .flatten()
                .any(|r| r.split('/').next() == Some("secrets")),
            "{role}: grants access to Secrets"
        );
        assert!(
            rule.non_resource_urls.as_ref().is_none_or(|u| u.is_empty()),
            "{role}: grants non-resource URLs"
        );
        permissions(role, rule, &mut granted);
    }
    let expected: BTreeSet<String> = GRANTED.iter().map(|s| s.to_string()).collect();
    let extra: Vec<&String> = granted.difference(&expected).collect();
    let missing: Vec<&String> = expected.difference(&granted).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "rbac.yaml grants more than the operator uses: {extra:#?}\nor less: {missing:#?}"
    );

    // The aggregated role for waitFor kinds has no rules of its own: only what ClusterRoles
    // labelled for it grant.
    let extra_role = cluster_roles
        .iter()
        .find(|r| r.name_any() == "lifeline-operator-extra")
        .expect("rbac.yaml has the ClusterRole lifeline-operator-extra");
    assert!(extra_role.rules.as_ref().is_none_or(|r| r.is_empty()));
    let selectors = extra_role
        .aggregation_rule
        .as_ref()
        .and_then(|a| a.cluster_role_selectors.clone())
        .unwrap_or_default();
    assert!(
        selectors.iter().any(|s| s
            .match_labels
            .as_ref()
            .and_then(|l| l.get("lifeline.dev/aggregate-to-operator"))
            .is_some_and(|v| v == "true")),
        "lifeline-operator-extra aggregates ClusterRoles labelled lifeline.dev/aggregate-to-operator=true: {selectors:?}"
    );

    // Every role is bound to the operator's ServiceAccount, and to nothing else.
    let mut bound: BTreeSet<String> = BTreeSet::new();
    let bindings: Vec<ClusterRoleBinding> = manifest_objects("rbac.yaml", "ClusterRoleBinding");
    let role_bindings: Vec<RoleBinding> = manifest_objects("rbac.yaml", "RoleBinding");
    let subjects = bindings
        .iter()
        .map(|b| (b.role_ref.clone(), b.subjects.clone()))
        .chain(
            role_bindings
                .iter()
                .map(|b| (b.role_ref.clone(), b.subjects.clone())),
        );
    for (role_ref, subjects) in subjects {
        let subjects = subjects.unwrap_or_default();
        assert!(
            subjects.iter().all(|s| s.kind == "ServiceAccount"
                && s.name == OPERATOR_SA
                && s.namespace.as_deref() == Some(OPERATOR_NAMESPACE)),
            "{} is bound only to {OPERATOR_NAMESPACE}/{OPERATOR_SA}: {subjects:?}",
            role_ref.name
        );
        assert!(!subjects.is_empty(), "{} is bound", role_ref.name);
        bound.insert(format!("{}/{}", role_ref.kind, role_ref.name));
    }
    let defined: BTreeSet<String> = cluster_roles
        .iter()
        .map(|r| format!("ClusterRole/{}", r.name_any()))
        .chain(roles.iter().map(|r| format!("Role/{}", r.name_any())))
        .collect();
    assert_eq!(bound, defined, "every role is bound, and only those");
}

#[test]
fn deployment_runs_lifeline_run_with_leader_election() {
    use clap::Parser;
    use lifeline::cli::{Cli, Command};

    let deployments: Vec<Deployment> = manifest_objects("deployment.yaml", "Deployment");
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(d.namespace().as_deref(), Some(OPERATOR_NAMESPACE));
    let spec = d.spec.as_ref().expect("a Deployment has a spec");
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().expect("a pod template");
    assert_eq!(pod.service_account_name.as_deref(), Some(OPERATOR_SA));
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some(IMAGE));

    // The arguments are a `lifeline run` command line that the binary accepts, with
    // leader election and metrics reachable from outside the pod.
    let args = container.args.clone().unwrap_or_default();
    let cli = Cli::try_parse_from(std::iter::once("lifeline".to_string()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("the Deployment's args {args:?} do not parse: {e}"));
    assert!(matches!(cli.command, Some(Command::Run(_))), "{args:?}");
    assert!(args.iter().any(|a| a == "--leader-elect"), "{args:?}");
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--metrics-addr" && w[1] == "0.0.0.0:8080"),
        "{args:?}"
    );

    // The replica's identity and the Lease's namespace come from the downward API.
    for (name, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let from = container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str());
        assert_eq!(from, Some(field), "{name}");
    }
    let probe_path = |p: Option<&k8s_openapi::api::core::v1::Probe>| {
        p.and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(
        probe_path(container.liveness_probe.as_ref()).as_deref(),
        Some("/healthz")
    );
    assert_eq!(
        probe_path(container.readiness_probe.as_ref()).as_deref(),
        Some("/readyz")
    );
}

#[tokio::test]
async fn operator_deployment_is_admitted_under_restricted_pod_security() {
    let _only_one = support::LIFELINE_SYSTEM_DEPLOYMENT.lock().await;
    // The namespace enforces Pod Security "restricted", so the ReplicaSet's pods are only
    // created if deployment.yaml meets it; kwok then makes them Ready (nothing really
    // runs: the image need not exist).
    let client = admin_client().await;
    apply_manifests(&[
        "namespace.yaml",
        "serviceaccount.yaml",
        "rbac.yaml",
        "deployment.yaml",
    ])
    .await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = namespaces
        .get(OPERATOR_NAMESPACE)
        .await
        .expect("read the operator's namespace");
    assert_eq!(
        ns.labels()
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let outcome = std::panic::AssertUnwindSafe(async {
        wait_for(
            &deployments,
            "lifeline-operator",
            "2 available replicas",
            DEPLOYMENT_AVAILABLE,
            |d| {
                let s = d.status.as_ref();
                s.and_then(|s| s.observed_generation) == d.metadata.generation
                    && s.and_then(|s| s.available_replicas) == Some(2)
            },
        )
        .await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
        let running = pods
            .list(
                &kube::api::ListParams::default()
                    .labels("app.kubernetes.io/name=lifeline,app.kubernetes.io/component=operator"),
            )
            .await
            .expect("list the operator's pods")
            .items;
        assert_eq!(running.len(), 2);
        for p in &running {
            let spec = p.spec.as_ref().expect("a pod has a spec");
            assert_eq!(spec.service_account_name.as_deref(), Some(OPERATOR_SA));
            let sc = spec.containers[0]
                .security_context
                .as_ref()
                .expect("a security context");
            assert_eq!(sc.read_only_root_filesystem, Some(true));
            assert_eq!(sc.allow_privilege_escalation, Some(false));
        }
    })
    .catch_unwind()
    .await;
    // Leave the operator's namespace and RBAC (other tests use them) but not its fake pods.
    if let Err(e) = deployments
        .delete("lifeline-operator", &DeleteParams::default())
        .await
    {
        eprintln!("warning: could not delete the operator's Deployment: {e}");
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn kustomization_installs_the_operator_in_a_server_side_dry_run() {
    // The dry run reads the operator Deployment and then patches it: it must not run while
    // the test above creates and deletes that Deployment for real (nor does the dry run in
    // `playbooks`).
    let _only_one = support::LIFELINE_SYSTEM_DEPLOYMENT.lock().await;
    // A server-side dry run cannot create the namespace the other objects go in, so it
    // is created for real first (as `kubectl apply -k` does in one go on a real install).
    ensure_crds(&admin_client().await).await;
    apply_manifests(&["namespace.yaml"]).await;
    let dir = repo_root().join("manifests/operator");
    let out = tokio::task::spawn_blocking(move || {
        let dir = dir.to_str().expect("UTF-8 path");
        support::cluster().kubectl(&["apply", "-k", dir, "--dry-run=server"])
    })
    .await
    .expect("kubectl apply -k");
    for object in [
        "namespace/lifeline-system",
        "serviceaccount/lifeline-operator",
        "clusterrole.rbac.authorization.k8s.io/lifeline-operator",
        "clusterrole.rbac.authorization.k8s.io/lifeline-operator-extra",
        "clusterrolebinding.rbac.authorization.k8s.io/lifeline-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/lifeline-operator-extra",
        "role.rbac.authorization.k8s.io/lifeline-operator-leader-election",
        "rolebinding.rbac.authorization.k8s.io/lifeline-operator-leader-election",
        "deployment.apps/lifeline-operator",
        "poddisruptionbudget.policy/lifeline-operator",
        "service/lifeline-operator-metrics",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{object} ")) && l.ends_with("(server dry run)")),
            "kubectl apply -k manifests/operator/ --dry-run=server applies {object}:\n{out}"
        );
    }
}

/// What each person's ClusterRole of manifests/operator/people-rbac.yaml lets them do in a
/// namespace where it is bound, asked of the API server's authorizer
/// (SubjectAccessReview): what they need, and not what belongs to someone else (an
/// operator admin cannot approve, an approver cannot edit or delete an Approval or change
/// a plan, a viewer changes nothing).
#[tokio::test]
async fn people_roles_grant_what_each_needs_and_no_more() {
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    ensure_crds(&admin_client().await).await;
    apply_manifests(&["people-rbac.yaml"]).await;
    with_namespace("people-roles", |ns: TestNamespace| async move {
        let people = [
            ("val", "lifeline-viewer"),
            ("alice", "lifeline-approver"),
            ("carol", "lifeline-operator-admin"),
            ("rita", "lifeline-resilience-lead"),
        ];
        for (user, role) in people {
            let binding: RoleBinding = object(json!({
                "metadata": { "name": format!("{user}-{role}") },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
                "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
            }));
            ns.api::<RoleBinding>()
                .create(&PostParams::default(), &binding)
                .await
                .expect("RoleBinding");
        }
        // (user, verb, resource, allowed)
        let reads = ["clinicalsystems", "recoveryplans", "approvals", "recoverydrills"];
        let mut expected: Vec<(&str, &str, &str, bool)> = Vec::new();
        for r in reads {
            expected.push(("val", "list", r, true));
            expected.push(("val", "watch", r, true));
        }
        expected.extend([
            ("val", "create", "approvals", false),
            ("val", "approve", "recoveryplans", false),
            ("val", "patch", "recoveryplans", false),
            ("val", "create", "recoverydrills", false),
            ("alice", "get", "recoveryplans", true),
            ("alice", "create", "approvals", true),
            ("alice", "approve", "recoveryplans", true),
            ("alice", "update", "approvals", false),
            ("alice", "patch", "approvals", false),
            ("alice", "delete", "approvals", false),
            ("alice", "patch", "recoveryplans", false),
            ("alice", "create", "recoveryplans", false),
            ("alice", "create", "recoverydrills", false),
            ("carol", "create", "recoveryplans", true),
            ("carol", "patch", "recoveryplans", true),
            ("carol", "create", "clinicalsystems", true),
            ("carol", "list", "approvals", true),
            ("carol", "approve", "recoveryplans", false),
            ("carol", "create", "approvals", false),
            ("carol", "delete", "approvals", false),
            ("carol", "create", "interventions", true),
            ("carol", "patch", "interventions", false),
            ("carol", "delete", "interventions", false),
            ("alice", "create", "interventions", false),
            ("carol", "create", "recoverydrills", false),
            ("rita", "create", "recoverydrills", true),
            ("rita", "patch", "recoverydrills", true),
            ("rita", "delete", "recoverydrills", true),
            ("rita", "get", "recoveryplans", true),
            ("rita", "create", "recoveryplans", false),
            ("rita", "approve", "recoveryplans", false),
            ("rita", "create", "approvals", false),
        ]);
        let reviews: Api<SubjectAccessReview> = Api::all(ns.client.clone());
        eventually("every person's access to be as the roles say", RBAC_SETTLED, || {
            let (reviews, expected, ns) = (reviews.clone(), expected.clone(), ns.name.clone());
            async move {
                let mut wrong = Vec::new();
                for (user, verb, resource, allowed) in expected {
                    let review: SubjectAccessReview = object(json!({
                        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                        "spec": { "user": user, "groups": ["system:authenticated"],
                                  "resourceAttributes": { "namespace": ns, "group": "lifeline.dev",
                                                          "resource": resource, "verb": verb } }
                    }));
                    let answer = reviews
                        .create(&PostParams::default(), &review)
                        .await
                        .map_err(|e| e.to_string())?;
                    let got = answer.status.map(|s| s.allowed).unwrap_or(false);
                    if got != allowed {
                        wrong.push(format!("{user} {verb} {resource}: {got}, want {allowed}"));
                    }
                }
                if wrong.is_empty() { Ok(()) } else { Err(wrong.join("; ")) }
            }
        })
        .await;
    })
    .await;
}

/// A ClinicalSystem `name` in `namespace` for the Deployment of that name, scaled to one
/// and checked ready, depending on `deps` ("namespace/name").
fn estate_system(
    namespace: &str,
    name: &str,
    deps: &[(&str, &str)],
) -> lifeline::api::v1alpha1::ClinicalSystem {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
        "metadata": { "name": name, "namespace": namespace, "labels": { "lifeline.dev/estate": "trust" } },
        "spec": {
            "displayName": name, "tier": "critical", "recoveryTimeObjective": "1h",
            "dependsOn": deps.iter().map(|(ns, d)| json!({ "name": d, "namespace": ns })).collect::<Vec<_>>(),
            "restore": { "steps": [{ "name": "start", "scale": { "kind": "Deployment", "name": name, "replicas": 1 } }] },
            "verify": { "retryInterval": "1s", "checks": [
                { "name": "ready", "workloadReady": { "kind": "Deployment", "name": name } }
            ] }
        }
    }))
}

/// A ClinicalSystem "vault" in `namespace` of the estate "vaults": two custodians' manual
/// unseal, then its Deployment started and checked.
fn vault_in(namespace: &str) -> ClinicalSystem {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
        "metadata": { "name": "vault", "namespace": namespace, "labels": { "lifeline.dev/estate": "vaults" } },
        "spec": {
            "displayName": "vault", "tier": "critical", "recoveryTimeObjective": "1h",
            "restore": { "steps": [
                { "name": "unseal", "manual": { "instructions": "A key custodian unseals the vault" } },
                { "name": "start", "scale": { "kind": "Deployment", "name": "vault", "replicas": 1 } }
            ] },
            "verify": { "retryInterval": "1s", "monitorInterval": "1h", "checks": [
                { "name": "ready", "workloadReady": { "kind": "Deployment", "name": "vault" } }
            ] }
        }
    }))
}

/// Restore again, retry and confirm name a system by its namespace: with a "vault" in
/// the plan's namespace and one in another, a bare `vault` is refused as ambiguous naming
/// both, an Approval naming "vault" confirms the plan namespace's alone, and the other's
/// step waits until it is confirmed as "namespace/vault"; a failed system of the other
/// namespace is retried by its bare name, and its vault restored again from a step, each
/// through an annotation that names the namespace (`<namespace>.retry.lifeline.dev/...`).
#[tokio::test]
async fn restore_again_retry_and_confirm_reach_a_system_in_another_namespace() {
    ensure_crds(&admin_client().await).await;
    apply_manifests(RBAC_MANIFESTS).await;
    with_namespace("estate-vault-a", |a: TestNamespace| async move {
        with_namespace("estate-vault-b", |b: TestNamespace| async move {
            let pp = PostParams::default();
            let (an, bn) = (a.name.clone(), b.name.clone());
            for (ns, name) in [(&a, "vault"), (&b, "vault"), (&b, "lims"), (&b, "lims-feed")] {
                ns.api::<Deployment>()
                    .create(&pp, &support::fake_deployment(name, 0))
                    .await
                    .expect("deployment");
            }
            for ns in [&a, &b] {
                ns.api::<ClinicalSystem>()
                    .create(&pp, &vault_in(&ns.name))
                    .await
                    .expect("vault");
            }
            // The laboratory system's feed is down: its check fails within 3 s.
            let lims: ClinicalSystem = object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
                "metadata": { "name": "lims", "namespace": bn, "labels": { "lifeline.dev/estate": "vaults" } },
                "spec": {
                    "displayName": "lims", "tier": "critical", "recoveryTimeObjective": "1h",
                    "restore": { "steps": [{ "name": "start", "scale": { "kind": "Deployment", "name": "lims", "replicas": 1 } }] },
                    "verify": { "retryInterval": "1s", "deadline": "3s", "monitorInterval": "1h", "checks": [
                        { "name": "feed", "workloadReady": { "kind": "Deployment", "name": "lims-feed" } }
                    ] }
                }
            }));
            b.api::<ClinicalSystem>().create(&pp, &lims).await.expect("lims");
            let plans: Api<RecoveryPlan> = a.api();
            plans
                .create(&pp, &object(json!({
                    "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
                    "metadata": { "name": "vaults" },
                    "spec": { "systems": {
                        "selector": { "matchLabels": { "lifeline.dev/estate": "vaults" } },
                        "namespaces": [bn]
                    } }
                })))
                .await
                .expect("plan");
            let (vault_a, vault_b, lims_b) =
                (format!("{an}/vault"), format!("{bn}/vault"), format!("{bn}/lims"));
            let system = |p: &RecoveryPlan, key: &str| {
                p.status
                    .as_ref()
                    .and_then(|s| s.systems.iter().find(|s| s.name == key))
                    .cloned()
            };
            let identity = format!("rbac-vaults-{}", std::process::id());
            with_operator_watching(&an, std::slice::from_ref(&bn), false, &identity, async {
                wait_for(&plans, "vaults", "both unseals awaiting and lims failed", PLAN_DONE, |p| {
                    p.status.as_ref().is_some_and(|s| s.awaiting_steps.len() == 2)
                        && system(p, &lims_b).is_some_and(|s| s.phase == SystemPhase::Failed)
                })
                .await;

                // A bare name two namespaces share is refused, naming both.
                let out = support::lifeline(&["confirm", "vaults", "vault", "unseal", "-n", &an]).await;
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(!out.status.success(), "{err}");
                assert!(
                    err.contains("ambiguous") && err.contains(&vault_a) && err.contains(&vault_b),
                    "{err}"
                );

                // An Approval naming "vault" is about the plan namespace's vault alone.
                let bare: Approval = object(json!({
                    "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
                    "metadata": { "name": "unseal-bare" },
                    "spec": { "plan": "vaults", "system": "vault", "step": "unseal", "decision": "approve",
                              "comment": "key turned", "approver": { "username": "lee" } }
                }));
                a.api::<Approval>().create(&pp, &bare).await.expect("approval");
                let one = wait_for(&plans, "vaults", "the plan namespace's vault verified", PLAN_DONE, |p| {
                    system(p, &vault_a).is_some_and(|s| s.phase.is_verified())
                })
                .await;
                let other = system(&one, &vault_b).expect("the other vault");
                assert_eq!(other.phase, SystemPhase::Restoring, "{other:#?}");
                let awaiting = &one.status.as_ref().expect("status").awaiting_steps;
                assert_eq!(
                    awaiting.iter().map(|s| s.system.as_str()).collect::<Vec<_>>(),
                    [vault_b.as_str()],
                    "a confirmation of {vault_a} does not confirm {vault_b}"
                );

                // Named with its namespace, the other vault is confirmed.
                let confirm_b = format!("{bn}/vault");
                let out = support::lifeline(&["confirm", "vaults", &confirm_b, "unseal", "--comment", "key 2", "-n", &an]).await;
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                wait_for(&plans, "vaults", "the other namespace's vault verified", PLAN_DONE, |p| {
                    system(p, &vault_b).is_some_and(|s| s.phase.is_verified())
                })
                .await;

                // The other namespace's lims, retried by its bare name once its feed is up.
                b.api::<Deployment>()
                    .patch("lims-feed", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 1 } })))
                    .await
                    .expect("start the feed");
                let out = support::lifeline(&["retry", "vaults", "lims", "-n", &an]).await;
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let done = wait_for(&plans, "vaults", "Succeeded after the retry", PLAN_DONE, |p| {
                    phase(p) == PlanPhase::Succeeded
                })
                .await;
                let retried = system(&done, &lims_b).expect("lims");
                assert!(retried.retry_token.is_some(), "{retried:#?}");
                let retry_key = format!("{bn}.retry.lifeline.dev/lims");
                assert!(done.annotations().contains_key(&retry_key), "{:?}", done.annotations());

                // The other vault restored again from its start: its unseal is not asked again.
                let out = support::lifeline(&["restore", "vaults", &confirm_b, "--from-step", "start", "-n", &an]).await;
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let again = wait_for(&plans, "vaults", "the other vault restored again", PLAN_DONE, |p| {
                    system(p, &vault_b).is_some_and(|s| s.restored_again.first().is_some_and(|r| r.verified_at.is_some()))
                })
                .await;
                let attempts = |key: &str| -> Vec<(String, u32)> {
                    system(&again, key)
                        .expect("system")
                        .steps
                        .iter()
                        .map(|s| (s.name.clone(), s.attempts))
                        .collect()
                };
                assert_eq!(attempts(&vault_b), [("unseal".to_string(), 1), ("start".to_string(), 2)]);
                assert_eq!(attempts(&vault_a), [("unseal".to_string(), 1), ("start".to_string(), 1)], "the plan namespace's vault is left alone");
                let restore_key = format!("{bn}.restore.lifeline.dev/vault");
                assert!(again.annotations().contains_key(&restore_key), "{:?}", again.annotations());
            })
            .await;
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn an_estate_across_three_namespaces_restores_in_dependency_order_under_the_shipped_rbac() {
    ensure_crds(&admin_client().await).await;
    apply_manifests(RBAC_MANIFESTS).await;
    with_namespace("estate-platform", |platform: TestNamespace| async move {
        with_namespace("estate-clinical", |clinical: TestNamespace| async move {
            with_namespace(
                "estate-diagnostics",
                |diagnostics: TestNamespace| async move {
                    let pp = PostParams::default();
                    let (p, c, d) = (
                        platform.name.clone(),
                        clinical.name.clone(),
                        diagnostics.name.clone(),
                    );
                    for (ns, name) in [
                        (&platform, "identity"),
                        (&clinical, "epr"),
                        (&diagnostics, "lims"),
                    ] {
                        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
                            .create(&pp, &support::fake_deployment(name, 0))
                            .await
                            .expect("deployment");
                    }
                    platform
                        .api::<ClinicalSystem>()
                        .create(&pp, &estate_system(&p, "identity", &[]))
                        .await
                        .expect("identity");
                    clinical
                        .api::<ClinicalSystem>()
                        .create(&pp, &estate_system(&c, "epr", &[(&p, "identity")]))
                        .await
                        .expect("epr");
                    diagnostics
                        .api::<ClinicalSystem>()
                        .create(
                            &pp,
                            &estate_system(&d, "lims", &[(&p, "identity"), (&c, "epr")]),
                        )
                        .await
                        .expect("lims");
                    // The plan lives with the clinical team and selects across the three.
                    let plans: Api<RecoveryPlan> = clinical.api();
                    plans
                    .create(&pp, &object(json!({
                        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
                        "metadata": { "name": "trust" },
                        "spec": { "systems": {
                            "selector": { "matchLabels": { "lifeline.dev/estate": "trust" } },
                            "namespaces": [p, d]
                        } }
                    })))
                    .await
                    .expect("plan");
                    let also = vec![platform.name.clone(), diagnostics.name.clone()];
                    let identity = format!("rbac-estate-{}", std::process::id());
                    with_operator_watching(&clinical.name, &also, false, &identity, async {
                        let done = finished(&plans, "trust").await;
                        let status = done.status.clone().expect("status");
                        assert_eq!(
                            phase(&done),
                            PlanPhase::Succeeded,
                            "{}",
                            serde_yaml::to_string(&status).unwrap_or_default()
                        );
                        let names: Vec<&str> =
                            status.systems.iter().map(|s| s.name.as_str()).collect();
                        let (identity, epr, lims) = (
                            format!("{p}/identity"),
                            format!("{c}/epr"),
                            format!("{d}/lims"),
                        );
                        assert_eq!(
                            names,
                            [identity.as_str(), epr.as_str(), lims.as_str()],
                            "restore order across namespaces"
                        );
                        let at = |key: &str| {
                            let s = status
                                .systems
                                .iter()
                                .find(|s| s.name == key)
                                .expect("system");
                            (
                                s.restore_started_at.clone().expect("started").0,
                                s.verified_at.clone().expect("verified").0,
                            )
                        };
                        assert!(
                            at(&epr).0 >= at(&identity).1,
                            "epr started after identity was verified"
                        );
                        assert!(
                            at(&lims).0 >= at(&epr).1,
                            "lims started after epr was verified"
                        );
                    })
                    .await;
                },
            )
            .await;
        })
        .await;
    })
    .await;
}
