//! A malformed object must not wedge the operator: a ClinicalSystem whose Job template the
//! API server kept as-is but that is not a valid Job makes only the plan that selects it
//! invalid (with a condition naming the object and field); other plans go on.

use std::time::Duration;

use crate::support::{
    self, TestNamespace, admin_client, ensure_crds, object, wait_for, with_namespace,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, api::PostParams};
use lifeline::{
    api::v1alpha1::{ClinicalSystem, PlanPhase, RecoveryPlan},
    controller::{RunOptions, run},
};
use serde_json::json;

#[tokio::test]
async fn a_malformed_system_invalidates_only_the_plan_that_selects_it() {
    ensure_crds(&admin_client().await).await;
    with_namespace("malformed", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let deployments: Api<Deployment> = ns.api();
        deployments
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("create web");
        // The good system, created through the typed API.
        let systems: Api<ClinicalSystem> = ns.api();
        systems
            .create(
                &pp,
                &object(support::clinical_system(
                    "good",
                    &[],
                    vec![json!({ "name": "start", "scale": { "kind": "Deployment", "name": "web", "replicas": 1 } })],
                    vec![],
                )),
            )
            .await
            .expect("create good");
        // The bad one, created untyped: `containers` is a string, which the CRD keeps
        // (the Job template is stored as-is) but no Job can be made from.
        let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
            ns.client.clone(),
            &ns.name,
            &kube::api::ApiResource::erase::<ClinicalSystem>(&()),
        );
        let bad: kube::api::DynamicObject = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "ClinicalSystem",
            "metadata": { "name": "bad" },
            "spec": {
                "displayName": "bad", "tier": "critical", "recoveryTimeObjective": "1h",
                "restore": { "steps": [{ "name": "check", "job": { "template": { "spec": {
                    "template": { "spec": { "containers": "not-a-list" } }
                } } } }] }
            }
        }));
        raw.create(&pp, &bad).await.expect("the API server keeps the template as-is");

        let plans: Api<RecoveryPlan> = ns.api();
        for (name, system) in [("uses-good", "good"), ("uses-bad", "bad")] {
            let plan: RecoveryPlan = object(support::recovery_plan(name, &[system]));
            plans.create(&pp, &plan).await.expect("create plan");
        }

        let client = admin_client().await;
        let operator = tokio::spawn(run(
            client,
            RunOptions::local(&ns.name, "malformed-test"),
        ));

        let good = wait_for(&plans, "uses-good", "Succeeded", Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;
        assert_eq!(good.status.map(|s| s.progress), Some(Some("1/1".to_string())));

        let bad = wait_for(&plans, "uses-bad", "marked invalid", Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "InvalidPlan")
            })
        })
        .await;
        let ready = bad
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .expect("Ready condition");
        assert!(
            ready.message.contains(&format!("ClinicalSystem {}/bad is malformed", ns.name)),
            "{}",
            ready.message
        );
        assert!(ready.message.contains("spec.restore.steps[0].job.template"), "{}", ready.message);
        operator.abort();
    })
    .await;
}
