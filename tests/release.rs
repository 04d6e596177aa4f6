//! Staged release on the real API server: the NetworkPolicy gate of a system at every
//! stage, the released-stage label, approvals that count and ones that are ignored with
//! their reason, and a deleted plan leaving the last released state in place.

mod support;

use std::time::Duration;

use k8s_openapi::api::{core::v1::Service, networking::v1::NetworkPolicy};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{Approval, ClinicalSystem, PlanPhase, RecoveryPlan},
    controller::{RunOptions, release::policy_name, run},
};
use serde_json::json;
use support::{
    TestNamespace, admin_client, ensure_crds, eventually, object, wait_for, with_namespace,
};

const WAIT: Duration = Duration::from_secs(60);

fn approval(name: &str, stage: &str, who: &str, groups: &[&str], acks: &[&str]) -> Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name },
        "spec": {
            "plan": "release", "stage": stage, "decision": "approve",
            "comment": format!("{who} checked the results"),
            "acknowledged": acks,
            "approver": { "username": who, "groups": groups }
        }
    }))
}

/// The `from` peers of the gate, as comparable strings.
async fn peers(policies: &Api<NetworkPolicy>, name: &str) -> Vec<String> {
    let np = policies.get(name).await.expect("the release gate exists");
    let spec = np.spec.expect("spec");
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    assert_eq!(
        spec.pod_selector.and_then(|s| s.match_labels),
        Some([("app".to_string(), "web".to_string())].into())
    );
    spec.ingress
        .unwrap_or_default()
        .iter()
        .flat_map(|r| r.from.clone().unwrap_or_default())
        .map(|p| serde_json::to_string(&p).expect("json"))
        .collect()
}

async fn stage_of(plans: &Api<RecoveryPlan>, stage: &str) -> RecoveryPlan {
    wait_for(
        plans,
        "release",
        &format!("released at {stage}"),
        WAIT,
        |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems
                    .first()
                    .is_some_and(|x| x.released_stage.as_deref() == Some(stage))
            })
        },
    )
    .await
}

#[tokio::test]
async fn a_system_is_released_stage_by_stage_behind_its_network_policy() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        ns.api::<Service>()
            .create(
                &pp,
                &object(json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" },
                    "spec": { "selector": { "app": "web" }, "ports": [{ "port": 8080 }] }
                })),
            )
            .await
            .expect("service");
        let mut system = support::clinical_system(
            "web",
            &[],
            vec![json!({ "name": "start", "scale": { "kind": "Deployment", "name": "web", "replicas": 1 } })],
            vec![json!({ "name": "ready", "workloadReady": { "kind": "Deployment", "name": "web" } })],
        );
        system["spec"]["release"] = json!({ "podSelector": { "matchLabels": { "app": "web" } }, "service": "web" });
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(system))
            .await
            .expect("system");
        let plans: Api<RecoveryPlan> = ns.api();
        let plan: RecoveryPlan = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "release" },
            "spec": {
                "systems": { "names": ["web"] },
                "requestedBy": "commander",
                "stages": [
                    { "name": "it-validation",
                      "audience": { "namespaceSelector": { "matchLabels": { "team": "it" } } } },
                    { "name": "pilot-ward",
                      "audience": { "ipBlocks": ["10.20.7.0/24"] },
                      "approval": { "required": 1, "approverGroups": ["clinical-safety-officers"] },
                      "checklist": ["Paper records back-entered"] },
                    { "name": "all-sites",
                      "audience": { "ipBlocks": ["10.10.0.0/16", "10.11.0.0/16"] },
                      "approval": { "required": 1 } }
                ]
            }
        }));
        plans.create(&pp, &plan).await.expect("plan");

        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions {
                metrics_addr: "127.0.0.1:0".parse().expect("addr"),
                leader_election: false,
                lease_namespace: ns.name.clone(),
                identity: "release-test".into(),
                namespace: Some(ns.name.clone()),
                resolve: vec![],
            },
        ));

        let policies: Api<NetworkPolicy> = ns.api();
        let gate = policy_name("web");
        let operator_ns = r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"lifeline-system"}}}"#;
        let same_ns = r#"{"podSelector":{}}"#;
        let it = r#"{"namespaceSelector":{"matchLabels":{"team":"it"}}}"#;
        let ward = r#"{"ipBlock":{"cidr":"10.20.7.0/24"}}"#;
        let site_a = r#"{"ipBlock":{"cidr":"10.10.0.0/16"}}"#;
        let site_b = r#"{"ipBlock":{"cidr":"10.11.0.0/16"}}"#;

        // Stage 1 needs no approval: released once verified; the plan then awaits people.
        let p = stage_of(&plans, "it-validation").await;
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it]);
        let awaiting = wait_for(&plans, "release", "AwaitingApproval", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::AwaitingApproval)
        })
        .await;
        let status = awaiting.status.expect("status");
        assert_eq!(
            status.awaiting,
            ["stage pilot-ward awaits 1 more approval (of 1) from clinical-safety-officers"]
        );
        drop(p);
        let svc = ns.api::<Service>().get("web").await.expect("service");
        assert_eq!(
            svc.metadata.labels.and_then(|l| l.get("lifeline.dev/released-stage").cloned()),
            Some("it-validation".to_string())
        );

        // The requester approving their own plan, someone outside the groups, and a
        // missing checklist item: all ignored, with the reason recorded; nothing released.
        let approvals: Api<Approval> = ns.api();
        for a in [
            approval("by-requester", "pilot-ward", "commander", &["clinical-safety-officers"], &["Paper records back-entered"]),
            approval("by-porter", "pilot-ward", "porter", &["porters"], &["Paper records back-entered"]),
            approval("no-checklist", "pilot-ward", "alice", &["clinical-safety-officers"], &[]),
        ] {
            approvals.create(&pp, &a).await.expect("approval");
        }
        let ignored = wait_for(&plans, "release", "three approvals recorded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.approvals.len() == 3)
        })
        .await;
        let reasons: Vec<(String, bool, String)> = ignored
            .status
            .expect("status")
            .approvals
            .into_iter()
            .map(|r| (r.name, r.accepted, r.reason))
            .collect();
        assert!(reasons.contains(&("by-requester".into(), false, "ignored: approver is the plan's requester".into())), "{reasons:?}");
        assert!(reasons.contains(&("by-porter".into(), false, "ignored: approver is in none of the groups clinical-safety-officers".into())), "{reasons:?}");
        assert!(reasons.contains(&("no-checklist".into(), false, "ignored: checklist not acknowledged: Paper records back-entered".into())), "{reasons:?}");
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it], "no early release");

        // An approval for a later stage does not skip the one before it.
        approvals
            .create(&pp, &approval("sites-early", "all-sites", "bob", &[], &[]))
            .await
            .expect("approval");
        eventually("the early all-sites approval to be recorded", WAIT, || {
            let plans = plans.clone();
            async move {
                let p = plans.get("release").await.map_err(|e| e.to_string())?;
                let s = p.status.unwrap_or_default();
                if s.approvals.iter().any(|a| a.name == "sites-early" && a.accepted) {
                    Ok(s)
                } else {
                    Err("not yet".into())
                }
            }
        })
        .await;
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it], "all-sites not before pilot-ward");

        // A genuine approval opens pilot-ward, and all-sites (already approved) follows.
        approvals
            .create(&pp, &approval("alice-ok", "pilot-ward", "alice", &["clinical-safety-officers"], &["Paper records back-entered"]))
            .await
            .expect("approval");
        stage_of(&plans, "all-sites").await;
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it, ward, site_a, site_b]);
        wait_for(&plans, "release", "Succeeded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;

        // Deleting the plan leaves the last released state in place.
        plans.delete("release", &DeleteParams::default()).await.expect("delete plan");
        eventually("the plan to be gone", WAIT, || {
            let plans = plans.clone();
            async move {
                match plans.get_opt("release").await {
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err("still there".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it, ward, site_a, site_b]);
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn approve_records_the_decision_as_the_authenticated_user_after_showing_what_was_tested() {
    use lifeline::api::v1alpha1::Decision;
    ensure_crds(&admin_client().await).await;
    with_namespace("approve-cli", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let plan: RecoveryPlan = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "release" },
            "spec": {
                "systems": { "names": ["web"] },
                "stages": [{ "name": "pilot-ward", "approval": { "required": 1 },
                             "checklist": ["Downtime procedures stood down"] }]
            }
        }));
        ns.api::<RecoveryPlan>().create(&pp, &plan).await.expect("plan");
        let role: k8s_openapi::api::rbac::v1::Role = object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": { "name": "approver" },
            "rules": [
                { "apiGroups": ["lifeline.dev"], "resources": ["recoveryplans"], "verbs": ["get"] },
                { "apiGroups": ["lifeline.dev"], "resources": ["approvals"], "verbs": ["create"] }
            ]
        }));
        ns.api::<k8s_openapi::api::rbac::v1::Role>().create(&pp, &role).await.expect("role");
        let binding: k8s_openapi::api::rbac::v1::RoleBinding = object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": { "name": "alice-approver" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "approver" },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice" }]
        }));
        ns.api::<k8s_openapi::api::rbac::v1::RoleBinding>()
            .create(&pp, &binding)
            .await
            .expect("binding");
        let alice = support::client_as("alice", &["clinical-safety-officers"]).await;

        // A missing checklist item is refused before anything is recorded.
        let err = lifeline::approve::decide(
            alice.clone(), &ns.name, "release", "pilot-ward", Decision::Approve, None, vec![],
            |_, _| Ok(true),
        )
        .await
        .expect_err("checklist missing");
        assert!(err.to_string().contains("--ack \"Downtime procedures stood down\""), "{err}");

        // RBAC for the new role reaches the authorizer through an informer: retry.
        let name = eventually("alice to be allowed to approve", WAIT, || {
            let alice = alice.clone();
            let ns = ns.name.clone();
            async move {
                let mut shown = String::new();
                let mut who = String::new();
                let name = lifeline::approve::decide(
                    alice, &ns, "release", "pilot-ward", Decision::Approve,
                    Some("results checked on the ward".into()),
                    vec!["Downtime procedures stood down".into()],
                    |summary, me| {
                        shown = summary.to_string();
                        who = me.username.clone();
                        Ok(true)
                    },
                )
                .await
                .map_err(|e| format!("{e:#}"))?;
                assert!(shown.contains("Stage pilot-ward of"), "{shown}");
                assert!(shown.contains("Downtime procedures stood down"), "{shown}");
                assert_eq!(who, "alice");
                Ok(name)
            }
        })
        .await;
        let recorded = ns.api::<Approval>().get(&name).await.expect("approval recorded");
        assert_eq!(recorded.spec.approver.username, "alice", "the API server said who");
        assert!(recorded.spec.approver.groups.contains(&"clinical-safety-officers".to_string()));
        assert_eq!(recorded.spec.decision, Decision::Approve);
        assert_eq!(recorded.spec.acknowledged, ["Downtime procedures stood down"]);
    })
    .await;
}
