//! The local control plane behaves like a real cluster: workloads run on kwok's fake
//! nodes, RBAC is enforced for impersonated users, and ValidatingAdmissionPolicies see
//! the requesting user.

use std::time::Duration;

use crate::support::{
    self, TestNamespace, client_as, cluster, eventually, object, wait_for, with_namespace,
};
use k8s_openapi::api::{
    admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding},
    apps::v1::{Deployment, StatefulSet},
    batch::v1::Job,
    core::v1::{ConfigMap, Pod},
    rbac::v1::RoleBinding,
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

const READY: Duration = Duration::from_secs(60);

#[tokio::test]
async fn deployment_reaches_three_ready_replicas_and_scales_to_zero() {
    with_namespace("deployment", |ns: TestNamespace| async move {
        let deployments: Api<Deployment> = ns.api();
        deployments
            .create(&PostParams::default(), &support::fake_deployment("web", 3))
            .await
            .expect("create deployment");
        wait_for(&deployments, "web", "3 ready replicas", READY, |d| {
            d.status.as_ref().and_then(|s| s.ready_replicas) == Some(3)
        })
        .await;
        let pods: Api<Pod> = ns.api();
        let lp = ListParams::default().labels("app=web");
        assert_eq!(pods.list(&lp).await.expect("list pods").items.len(), 3);

        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "replicas": 0 } })),
            )
            .await
            .expect("scale to 0");
        wait_for(&deployments, "web", "scaled to 0", READY, |d| {
            let s = d.status.as_ref();
            s.and_then(|s| s.observed_generation) == d.metadata.generation
                && s.and_then(|s| s.replicas).unwrap_or(0) == 0
        })
        .await;
        eventually("the pods of web to be gone", READY, || {
            let pods = pods.clone();
            let lp = lp.clone();
            async move {
                let n = pods.list(&lp).await.map_err(|e| e.to_string())?.items.len();
                if n == 0 {
                    Ok(())
                } else {
                    Err(format!("{n} pods left"))
                }
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn statefulset_becomes_ready() {
    with_namespace("statefulset", |ns: TestNamespace| async move {
        let sts: Api<StatefulSet> = ns.api();
        let manifest: StatefulSet = object(json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": { "name": "db" },
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": { "matchLabels": { "app": "db" } },
                "template": {
                    "metadata": { "labels": { "app": "db" } },
                    "spec": { "containers": [{ "name": "db", "image": "registry.invalid/db:1" }] }
                }
            }
        }));
        sts.create(&PostParams::default(), &manifest)
            .await
            .expect("create statefulset");
        let ready = wait_for(&sts, "db", "2 ready replicas", READY, |s| {
            s.status.as_ref().and_then(|s| s.ready_replicas) == Some(2)
        })
        .await;
        assert_eq!(ready.status.and_then(|s| s.available_replicas), Some(2));
    })
    .await;
}

#[tokio::test]
async fn job_completes() {
    with_namespace("job", |ns: TestNamespace| async move {
        let jobs: Api<Job> = ns.api();
        let manifest: Job = object(json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": { "name": "integrity-check" },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{ "name": "check", "image": "registry.invalid/check:1" }]
                    }
                }
            }
        }));
        jobs.create(&PostParams::default(), &manifest)
            .await
            .expect("create job");
        let done = wait_for(&jobs, "integrity-check", "Complete", READY, |j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Complete" && c.status == "True")
                })
        })
        .await;
        assert_eq!(done.status.and_then(|s| s.succeeded), Some(1));
    })
    .await;
}

#[tokio::test]
async fn rbac_denies_an_impersonated_user_until_a_rolebinding_grants_it() {
    with_namespace("rbac", |ns: TestNamespace| async move {
        let user = format!("nurse-{}", ns.name);
        let as_user = client_as(&user, &["ward-staff"]).await;
        let deployments: Api<Deployment> = ns.api_with(&as_user);

        let err = deployments
            .create(&PostParams::default(), &support::fake_deployment("denied", 1))
            .await
            .expect_err("a user with no grants must not create a Deployment");
        match err {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 403, "{status:?}");
                assert!(status.message.contains(&user), "message names the user: {status:?}");
            }
            other => panic!("expected a 403 from the API server, got {other}"),
        }

        let binding: RoleBinding = object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": { "name": "user-edit" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit" },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
        }));
        ns.api::<RoleBinding>()
            .create(&PostParams::default(), &binding)
            .await
            .expect("create rolebinding");

        // RBAC changes reach the authorizer through its informer: retry with a deadline.
        eventually("the RoleBinding to take effect", READY, || {
            let deployments = deployments.clone();
            async move {
                deployments
                    .create(&PostParams::default(), &support::fake_deployment("granted", 1))
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        assert!(ns.api::<Deployment>().get_opt("granted").await.expect("get").is_some());
    })
    .await;
}

#[tokio::test]
async fn admission_policy_compares_a_field_with_the_requesting_user() {
    with_namespace("vap", |ns: TestNamespace| async move {
        let policy_name = format!("owner-is-requester-{}", ns.name);
        let message = "data.owner must be the requesting user";
        let policy: ValidatingAdmissionPolicy = object(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": { "name": policy_name },
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [{
                        "apiGroups": [""], "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]
                    }]
                },
                "matchConditions": [{
                    "name": "only-owned",
                    "expression": "has(object.data) && 'owner' in object.data"
                }],
                "validations": [{
                    "expression": "object.data.owner == request.userInfo.username",
                    "message": message
                }]
            }
        }));
        let binding: ValidatingAdmissionPolicyBinding = object(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": { "name": policy_name },
            "spec": {
                "policyName": policy_name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ns.name } }
                }
            }
        }));
        let policies: Api<ValidatingAdmissionPolicy> = Api::all(ns.client.clone());
        let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(ns.client.clone());
        policies.create(&PostParams::default(), &policy).await.expect("create policy");
        bindings.create(&PostParams::default(), &binding).await.expect("create binding");

        let alice = format!("alice-{}", ns.name);
        ns.api::<RoleBinding>()
            .create(
                &PostParams::default(),
                &object(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": { "name": "alice-edit" },
                    "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit" },
                    "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": alice }]
                })),
            )
            .await
            .expect("grant alice edit");
        let as_alice: Api<ConfigMap> = ns.api_with(&client_as(&alice, &["clinical-safety"]).await);
        let owned_by = |cm_name: &str, owner: &str| -> ConfigMap {
            object(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": cm_name },
                "data": { "owner": owner }
            }))
        };

        // The policy reaches admission through an informer: wait until a forged object
        // is refused (dry run, so nothing is stored while we wait).
        let dry = PostParams { dry_run: true, ..Default::default() };
        let refusal = eventually("the admission policy to take effect", READY, || {
            let as_alice = as_alice.clone();
            let forged = owned_by("probe", "mallory");
            let dry = dry.clone();
            async move {
                match as_alice.create(&dry, &forged).await {
                    Err(kube::Error::Api(status)) if status.code == 422 => Ok(status),
                    Err(e) => Err(format!("unexpected error: {e}")),
                    Ok(_) => Err("forged object still admitted".to_string()),
                }
            }
        })
        .await;
        assert!(
            refusal.message.contains(message),
            "the refusal carries the policy's message: {}",
            refusal.message
        );
        assert!(refusal.message.contains(&policy_name), "{}", refusal.message);

        // Not dry run: the forged object is refused and not stored.
        let err = as_alice
            .create(&PostParams::default(), &owned_by("forged", "mallory"))
            .await
            .expect_err("forged owner must be rejected");
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 422), "{err}");
        assert!(ns.api::<ConfigMap>().get_opt("forged").await.expect("get").is_none());

        // The right user's object is admitted.
        as_alice
            .create(&PostParams::default(), &owned_by("genuine", &alice))
            .await
            .expect("alice's own object is admitted");

        let _ = bindings.delete(&policy_name, &DeleteParams::default()).await;
        let _ = policies.delete(&policy_name, &DeleteParams::default()).await;
    })
    .await;
}

#[test]
fn kubectl_sees_three_ready_nodes_and_the_pinned_server_version() {
    let cluster = cluster();
    let nodes: serde_json::Value =
        serde_json::from_str(&cluster.kubectl(&["get", "nodes", "-o", "json"])).expect("json");
    let items = nodes["items"].as_array().expect("items");
    let ready = items
        .iter()
        .filter(|n| {
            n["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count();
    assert_eq!(items.len(), 3, "3 nodes");
    assert_eq!(ready, 3, "3 Ready nodes");

    let pinned =
        std::fs::read_to_string(support::repo_root().join("scripts/controlplane/versions.env"))
            .expect("versions.env");
    let pinned = pinned
        .lines()
        .find_map(|l| l.strip_prefix("KUBERNETES_VERSION="))
        .expect("KUBERNETES_VERSION in versions.env")
        .trim()
        .to_string();
    let version: serde_json::Value =
        serde_json::from_str(&cluster.kubectl(&["version", "-o", "json"])).expect("json");
    assert_eq!(version["serverVersion"]["gitVersion"], pinned.as_str());
    assert_eq!(version["clientVersion"]["gitVersion"], pinned.as_str());
}
