//! Staged release on the real API server: the NetworkPolicy gate of a system at every
//! stage, the released-stage label, approvals that count and ones that are ignored with
//! their reason, and a deleted plan leaving the last released state in place.

use std::time::Duration;

use crate::support::{
    self, TestNamespace, admin_client, client_as, ensure_crds, eventually, object, policies,
    wait_for, with_namespace,
};
use k8s_openapi::api::{
    core::v1::Service,
    networking::v1::{Ingress, NetworkPolicy},
};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{Approval, ClinicalSystem, Decision, PlanPhase, RecoveryPlan},
    controller::{RunOptions, plan::release::policy_name, run},
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

fn approval(name: &str, stage: &str, who: &str, groups: &[&str], acks: &[&str]) -> Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name },
        "spec": {
            "plan": "release", "stage": stage, "systems": ["web"], "decision": "approve",
            "comment": format!("{who} checked the results"),
            "acknowledged": acks,
            "approver": { "username": who, "groups": groups }
        }
    }))
}

/// The RecoveryPlan "release" of the system "web", released in `stages` (the plan's
/// `spec.stages`), requested by `requested_by` when given.
fn staged_plan(requested_by: Option<&str>, stages: serde_json::Value) -> RecoveryPlan {
    let mut spec = json!({ "systems": { "names": ["web"] }, "stages": stages });
    if let Some(who) = requested_by {
        spec["requestedBy"] = json!(who);
    }
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "release" },
        "spec": spec
    }))
}

/// The `from` peers of the gate, as comparable strings.
async fn peers(policies: &Api<NetworkPolicy>, name: &str) -> Vec<String> {
    let np = policies.get(name).await.expect("the release gate exists");
    let spec = np.spec.expect("spec");
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    spec.ingress
        .unwrap_or_default()
        .iter()
        .flat_map(|r| r.from.clone().unwrap_or_default())
        .map(|p| serde_json::to_string(&p).expect("json"))
        .collect()
}

/// Waits until the gate admits exactly `want` (the status records a release before the
/// operator applies it, so the policy follows a moment later).
async fn gate_becomes(policies: &Api<NetworkPolicy>, name: &str, want: &[&str]) {
    eventually(
        &format!("gate {name} to admit {want:?}"),
        WAIT,
        || async move {
            let got = peers(policies, name).await;
            if got == want {
                Ok(())
            } else {
                Err(format!("it admits {got:?}"))
            }
        },
    )
    .await;
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
        ns.api::<Ingress>()
            .create(
                &pp,
                &object(json!({
                    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": { "name": "web" },
                    "spec": { "defaultBackend": { "service": { "name": "web", "port": { "number": 8080 } } } }
                })),
            )
            .await
            .expect("ingress");
        let mut system = support::gated_system("web", "web", 1);
        system["spec"]["release"]["service"] = json!("web");
        system["spec"]["release"]["ingress"] = json!("web");
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(system))
            .await
            .expect("system");
        let plans: Api<RecoveryPlan> = ns.api();
        let plan = staged_plan(
            Some("commander"),
            json!([
                { "name": "it-validation",
                  "audience": { "namespaceSelector": { "matchLabels": { "team": "it" } } } },
                { "name": "pilot-ward",
                  "audience": { "ipBlocks": ["10.20.7.0/24"] },
                  "approval": { "required": 1, "approverGroups": ["clinical-safety-officers"] },
                  "checklist": ["Paper records back-entered"] },
                { "name": "all-sites",
                  "audience": { "ipBlocks": ["10.10.0.0/16", "10.11.0.0/16"] },
                  "approval": { "required": 1 } }
            ]),
        );
        plans.create(&pp, &plan).await.expect("plan");

        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-test"),
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
        gate_becomes(&policies, &gate, &[operator_ns, same_ns, it]).await;
        let selector = policies.get(&gate).await.expect("gate").spec.and_then(|s| s.pod_selector);
        assert_eq!(
            selector.and_then(|s| s.match_labels),
            Some([("app".to_string(), "web".to_string())].into()),
            "the gate selects the system's pods"
        );
        let awaiting = wait_for(&plans, "release", "AwaitingApproval", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::AwaitingApproval)
        })
        .await;
        let status = awaiting.status.expect("status");
        let awaiting: Vec<String> = status.awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            awaiting,
            ["stage pilot-ward awaits 1 more approval (of 1) from clinical-safety-officers for web"]
        );
        assert_eq!(status.awaiting[0].systems, [format!("{}/web", ns.name)]);
        drop(p);
        let svc = ns.api::<Service>().get("web").await.expect("service");
        assert_eq!(
            svc.metadata.labels.and_then(|l| l.get("lifeline.dev/released-stage").cloned()),
            Some("it-validation".to_string())
        );

        // The requester approving their own plan, someone outside the groups, and a
        // missing checklist item: all ignored, with the reason recorded; nothing released.
        for a in [
            approval("by-requester", "pilot-ward", "commander", &["clinical-safety-officers"], &["Paper records back-entered"]),
            approval("by-porter", "pilot-ward", "porter", &["porters"], &["Paper records back-entered"]),
            approval("no-checklist", "pilot-ward", "alice", &["clinical-safety-officers"], &[]),
        ] {
            support::create_approval(&ns, a.clone()).await;
        }
        let ignored = wait_for(&plans, "release", "three approvals recorded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.approvals.len() == 3)
        })
        .await;
        let ignored = ignored.status.expect("status");
        // No early release, in the very status that recorded the approvals (the gate
        // follows the status a moment later).
        assert_eq!(
            ignored.systems[0].released_stage.as_deref(),
            Some("it-validation"),
            "no release on ignored approvals"
        );
        let reasons: Vec<(String, bool, String)> = ignored
            .approvals
            .into_iter()
            .map(|r| (r.name, r.accepted, r.reason))
            .collect();
        assert!(reasons.contains(&("by-requester".into(), false, "ignored: approver is the plan's requester".into())), "{reasons:?}");
        assert!(reasons.contains(&("by-porter".into(), false, "ignored: approver is in none of the groups clinical-safety-officers".into())), "{reasons:?}");
        assert!(reasons.contains(&("no-checklist".into(), false, "ignored: checklist not acknowledged: Paper records back-entered".into())), "{reasons:?}");
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it], "no early release");

        // An approval for a later stage does not skip the one before it.
        support::create_approval(&ns, approval("sites-early", "all-sites", "bob", &[], &[])).await;
        let early = eventually("the early all-sites approval to be recorded", WAIT, || {
            let plans = plans.clone();
            async move {
                let p = crate::support::read_plan(&plans, "release").await.map_err(|e| e.to_string())?;
                let s = p.status.unwrap_or_default();
                if s.approvals.iter().any(|a| a.name == "sites-early" && a.accepted) {
                    Ok(s)
                } else {
                    Err("not yet".into())
                }
            }
        })
        .await;
        assert_eq!(
            early.systems[0].released_stage.as_deref(),
            Some("it-validation"),
            "all-sites not before pilot-ward"
        );
        assert_eq!(peers(&policies, &gate).await, [operator_ns, same_ns, it], "all-sites not before pilot-ward");

        // A genuine approval opens pilot-ward, and all-sites (already approved) follows.
        support::create_approval(&ns, approval("alice-ok", "pilot-ward", "alice", &["clinical-safety-officers"], &["Paper records back-entered"])).await;
        stage_of(&plans, "all-sites").await;
        gate_becomes(&policies, &gate, &[operator_ns, same_ns, it, ward, site_a, site_b]).await;
        wait_for(&plans, "release", "Succeeded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;
        // The Service, the Ingress and the workload carry the stage, for ingress
        // controllers and applications to key off.
        let stage_label = |labels: Option<std::collections::BTreeMap<String, String>>| {
            labels.and_then(|l| l.get("lifeline.dev/released-stage").cloned())
        };
        let svc = ns.api::<Service>().get("web").await.expect("service");
        assert_eq!(stage_label(svc.metadata.labels).as_deref(), Some("all-sites"));
        let ing = ns.api::<Ingress>().get("web").await.expect("ingress");
        assert_eq!(stage_label(ing.metadata.labels).as_deref(), Some("all-sites"));
        let dep = ns
            .api::<k8s_openapi::api::apps::v1::Deployment>()
            .get("web")
            .await
            .expect("deployment");
        assert_eq!(stage_label(dep.metadata.labels).as_deref(), Some("all-sites"));

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
        let kept = policies.get(&gate).await.expect("the gate stays");
        assert_eq!(
            kept.metadata.owner_references, None,
            "no owner: the garbage collector never removes a gate"
        );
        assert_eq!(
            kept.metadata.labels.and_then(|l| l.get("app.kubernetes.io/managed-by").cloned()),
            Some("lifeline".to_string())
        );
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn approve_records_the_decision_as_the_authenticated_user_after_showing_what_was_tested() {
    ensure_crds(&admin_client().await).await;
    with_namespace("approve-cli", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let plan = staged_plan(
            None,
            json!([{ "name": "pilot-ward", "approval": { "required": 1 },
                     "checklist": ["Downtime procedures stood down"] }]),
        );
        ns.api::<RecoveryPlan>().create(&pp, &plan).await.expect("plan");
        // What the operator recorded: web verified (its API check passed on the second
        // attempt), his still restoring.
        let status = json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "status": { "phase": "AwaitingApproval", "systems": [
                { "name": format!("{}/web", ns.name), "phase": "Verified", "checks": [
                    { "name": "ready", "phase": "Succeeded", "attempts": 1 },
                    { "name": "api", "phase": "Succeeded", "attempts": 2, "lastError": "HTTP 503" }
                ] },
                { "name": format!("{}/his", ns.name), "phase": "Restoring" }
            ] }
        });
        support::write_status(&ns.api::<RecoveryPlan>(), "release", status["status"].clone()).await;
        let role: k8s_openapi::api::rbac::v1::Role = object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": { "name": "approver" },
            "rules": [
                { "apiGroups": ["lifeline.dev"], "resources": ["recoveryplans"], "verbs": ["get"] },
                { "apiGroups": ["lifeline.dev"], "resources": ["recoveryprogresses"], "verbs": ["list"] },
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
        let err = lifeline::cli::approve::decide(
            alice.clone(), &ns.name, "release", "pilot-ward", vec![], Decision::Approve, None, vec![],
            |_, _, _| Ok(true),
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
                let name = lifeline::cli::approve::decide(
                    alice, &ns, "release", "pilot-ward", vec![], Decision::Approve,
                    Some("results checked on the ward".into()),
                    vec!["Downtime procedures stood down".into()],
                    |summary, _, me| {
                        shown = summary.to_string();
                        who = me.username.clone();
                        Ok(true)
                    },
                )
                .await
                .map_err(|e| format!("{e:#}"))?;
                assert_eq!(who, "alice");
                Ok((name, shown))
            }
        })
        .await;
        let (name, shown) = name;
        assert_eq!(
            shown,
            format!(
                "Stage pilot-ward of {ns}/release (stage 1 of 1):\n\
                 \x20 checklist to acknowledge (--ack):\n\
                 \x20   - Downtime procedures stood down\n\
                 \x20 {ns}/web (Verified):\n\
                 \x20   check ready: passed (1 attempts)\n\
                 \x20   check api: passed (2 attempts)\n",
                ns = ns.name
            ),
            "each verified system at the stage, its checks and results; not the one restoring"
        );
        let recorded = ns.api::<Approval>().get(&name).await.expect("approval recorded");
        assert_eq!(recorded.spec.approver.username, "alice", "the API server said who");
        assert!(recorded.spec.approver.groups.contains(&"clinical-safety-officers".to_string()));
        assert_eq!(recorded.spec.decision, Decision::Approve);
        assert_eq!(recorded.spec.acknowledged, ["Downtime procedures stood down"]);
        // It names exactly the systems shown, and the very plan they were shown in.
        assert_eq!(recorded.spec.systems, [format!("{}/web", ns.name)]);
        let plan_uid = ns.api::<RecoveryPlan>().get("release").await.expect("plan").metadata.uid;
        assert_eq!(recorded.spec.plan_uid, plan_uid);

        // A rejection needs a reason, and is recorded as alice's, with it.
        let err = lifeline::cli::approve::decide(
            alice.clone(), &ns.name, "release", "pilot-ward", vec![], Decision::Reject, None, vec![],
            |_, _, _| Ok(true),
        )
        .await
        .expect_err("no reason");
        assert_eq!(err.to_string(), "a rejection needs a reason: --comment \"...\"");
        let rejected = lifeline::cli::approve::decide(
            alice.clone(), &ns.name, "release", "pilot-ward", vec![], Decision::Reject,
            Some("ward printers are still down".into()), vec![],
            |_, _, _| Ok(true),
        )
        .await
        .expect("reject recorded");
        assert_ne!(rejected, name, "a second decision is a second Approval");
        let recorded = ns.api::<Approval>().get(&rejected).await.expect("rejection recorded");
        assert_eq!(recorded.spec.decision, Decision::Reject);
        assert_eq!(recorded.spec.approver.username, "alice");
        assert_eq!(recorded.spec.comment.as_deref(), Some("ward printers are still down"));

        // Not confirmed: nothing recorded.
        let before = ns.api::<Approval>().list(&Default::default()).await.expect("list").items.len();
        let err = lifeline::cli::approve::decide(
            alice, &ns.name, "release", "pilot-ward", vec![], Decision::Approve, None,
            vec!["Downtime procedures stood down".into()],
            |_, _, _| Ok(false),
        )
        .await
        .expect_err("not confirmed");
        assert_eq!(err.to_string(), "not recorded: you did not confirm");
        let after = ns.api::<Approval>().list(&Default::default()).await.expect("list").items.len();
        assert_eq!(after, before);
    })
    .await;
}

#[tokio::test]
async fn approve_with_system_records_only_the_systems_named_and_refuses_one_not_waiting() {
    ensure_crds(&admin_client().await).await;
    with_namespace("approve-systems", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let mut plan = staged_plan(
            None,
            json!([
                { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } },
                { "name": "pilot-ward", "approval": { "required": 1 } },
                { "name": "all-sites", "approval": { "required": 1 } }
            ]),
        );
        plan.spec.systems.names = Some(["web", "lab", "pas", "his", "ris"].map(String::from).to_vec());
        ns.api::<RecoveryPlan>().create(&pp, &plan).await.expect("plan");
        // web, lab and pas verified and waiting at pilot-ward; his still restoring; ris
        // already released at pilot-ward, so waiting at all-sites instead.
        let released = |name: &str, stage: &str| {
            json!({ "name": format!("{}/{name}", ns.name), "phase": "Released", "releasedStage": stage,
                    "checks": [{ "name": "ready", "phase": "Succeeded", "attempts": 1 }] })
        };
        let status = json!({
            "phase": "AwaitingApproval",
            "systems": [
                released("web", "it-validation"),
                released("lab", "it-validation"),
                released("pas", "it-validation"),
                { "name": format!("{}/his", ns.name), "phase": "Restoring" },
                released("ris", "pilot-ward"),
            ]
        });
        support::write_status(&ns.api::<RecoveryPlan>(), "release", status).await;
        let approvals = ns.api::<Approval>();
        let count = || async {
            approvals.list(&Default::default()).await.expect("list").items.len()
        };
        let approve = |systems: &[&str]| {
            let mut args = vec!["approve", "release", "-n", &ns.name, "--stage", "pilot-ward"];
            for s in systems {
                args.extend(["--system", s]);
            }
            args.extend(["--comment", "results checked", "--yes"]);
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                support::lifeline(&args).await
            }
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

        // `--system lab --system pas`: exactly those two, shown and recorded.
        let out = approve(&["lab", "pas"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let shown = text(&out.stderr);
        assert!(
            shown.contains(&format!("  {}/lab (Released):", ns.name))
                && shown.contains(&format!("  {}/pas (Released):", ns.name))
                && !shown.contains("/web"),
            "what was tested for the two named, not for web: {shown}"
        );
        let said = text(&out.stdout);
        let name = said
            .trim()
            .strip_prefix(&format!("approve of stage pilot-ward of {}/release recorded as Approval ", ns.name))
            .unwrap_or_else(|| panic!("{said}"))
            .to_string();
        let recorded = approvals.get(&name).await.expect("the Approval");
        assert_eq!(
            recorded.spec.systems,
            [format!("{}/lab", ns.name), format!("{}/pas", ns.name)]
        );

        // At once, by the same person, the third (as namespace/name): a second Approval,
        // of web alone.
        let web = format!("{}/web", ns.name);
        let out = approve(&[&web]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(count().await, 2, "two decisions, two Approvals");
        let all = approvals.list(&Default::default()).await.expect("list").items;
        let web_only = all.iter().find(|a| a.metadata.name.as_deref() != Some(name.as_str())).expect("web's");
        assert_eq!(web_only.spec.systems, [web]);

        // A system not waiting at the stage is refused, by name, with what does wait, and
        // nothing is recorded, also when it is named beside one that waits.
        let waiting = format!("waiting there: {ns}/web, {ns}/lab, {ns}/pas", ns = ns.name);
        for (named, refused) in [
            (&["his"][..], "his"),
            (&["ris"][..], "ris"),
            (&["web", "his"][..], "his"),
            (&["nope"][..], "nope"),
        ] {
            let out = approve(named).await;
            assert_eq!(out.status.code(), Some(1), "{named:?}");
            let err = text(&out.stderr);
            assert!(
                err.contains(&format!(
                    "{ns}/{refused} is not verified and waiting at stage pilot-ward of {ns}/release; {waiting}",
                    ns = ns.name
                )),
                "{named:?}: {err}"
            );
            assert_eq!(count().await, 2, "{named:?}: nothing recorded");
        }
    })
    .await;
}

/// The peers a release gate should admit once `stages` have been released: the
/// verification audience (the operator's namespace and the system's own), then each
/// stage's audience in order. Written out from the plan, independently of the operator.
fn expected_peers(stages: &[serde_json::Value]) -> Vec<String> {
    let mut out = vec![
        r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"lifeline-system"}}}"#.to_string(),
        r#"{"podSelector":{}}"#.to_string(),
    ];
    for s in stages {
        let a = &s["audience"];
        let mut selectors = serde_json::Map::new();
        for key in ["namespaceSelector", "podSelector"] {
            if let Some(v) = a.get(key) {
                selectors.insert(key.to_string(), v.clone());
            }
        }
        if !selectors.is_empty() {
            out.push(serde_json::Value::Object(selectors).to_string());
        }
        for cidr in a["ipBlocks"].as_array().into_iter().flatten() {
            out.push(json!({ "ipBlock": { "cidr": cidr } }).to_string());
        }
    }
    out
}

#[tokio::test]
async fn northern_care_is_released_stage_by_stage_with_every_gate_checked_at_every_stage() {
    use crate::support::playbook::{
        ServiceStandIn, apply_playbook, confirm_manual_steps, playbook,
    };
    ensure_crds(&admin_client().await).await;
    with_namespace("release-northern-care", |ns: TestNamespace| async move {
        let docs = playbook("northern-care");
        let plan_doc = docs
            .iter()
            .find(|d| d.kind() == "RecoveryPlan")
            .expect("the playbook's plan");
        let plan_name = plan_doc.name().to_string();
        let stages = plan_doc.object["spec"]["stages"]
            .as_array()
            .cloned()
            .expect("stages");
        // Every system with a release gate, and the pods its gate selects.
        let gated: Vec<(String, serde_json::Value)> = docs
            .iter()
            .filter(|d| d.kind() == "ClinicalSystem")
            .filter_map(|d| {
                let sel = d.object["spec"]["release"]["podSelector"].clone();
                (!sel.is_null()).then(|| (d.name().to_string(), sel))
            })
            .collect();
        assert!(
            gated.len() >= 10,
            "northern-care gates most of its systems: {}",
            gated.len()
        );
        let every_system: Vec<String> = docs
            .iter()
            .filter(|d| d.kind() == "ClinicalSystem")
            .map(|d| d.name().to_string())
            .collect();

        apply_playbook(&ns, "northern-care").await;
        assert!(
            confirm_manual_steps(&ns, &plan_name).await > 0,
            "the playbook has manual steps"
        );
        let standin = ServiceStandIn::start("northern-care").await;
        let mut opts = RunOptions::local(&ns.name, "release-northern-care");
        opts.resolve = standin.resolve.clone();
        let operator = tokio::spawn(run(admin_client().await, opts));

        let plans: Api<RecoveryPlan> = ns.api();
        let policies: Api<NetworkPolicy> = ns.api();
        use std::collections::{BTreeMap, BTreeSet};
        let slow = Duration::from_secs(180);
        let names: Vec<String> = stages
            .iter()
            .map(|s| s["name"].as_str().expect("stage name").to_string())
            .collect();
        let last = names.last().cloned().expect("a stage");
        let gate_of: BTreeMap<String, serde_json::Value> = gated.iter().cloned().collect();
        let bare = |qualified: &str| qualified.rsplit('/').next().unwrap_or("").to_string();
        // What the people have approved, (stage, system); the stage each gated system was
        // last seen released at, its gate checked there; and each batch as it was given:
        // its stage, its systems and how many systems were not yet verified then.
        let mut approved: BTreeSet<(String, String)> = BTreeSet::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut batches: Vec<(String, Vec<String>, usize)> = Vec::new();
        // Systems waiting for a decision nobody has given yet, by stage.
        let waiting = |p: &RecoveryPlan, approved: &BTreeSet<(String, String)>| {
            let mut out: Vec<(String, Vec<String>)> = Vec::new();
            for a in p.status.iter().flat_map(|s| &s.awaiting) {
                if a.needed == 0 || a.soak_until.is_some() {
                    continue;
                }
                let new: Vec<String> = a
                    .systems
                    .iter()
                    .map(|q| bare(q))
                    .filter(|n| !approved.contains(&(a.stage.clone(), n.clone())))
                    .collect();
                if !new.is_empty() {
                    out.push((a.stage.clone(), new));
                }
            }
            out
        };
        // Gated systems released at a stage other than the one their gate was checked at.
        let moved = |p: &RecoveryPlan, seen: &BTreeMap<String, String>| {
            p.status
                .iter()
                .flat_map(|s| &s.systems)
                .filter_map(|x| {
                    let name = bare(&x.name);
                    let stage = x.released_stage.clone()?;
                    (gate_of.contains_key(&name) && seen.get(&name) != Some(&stage))
                        .then_some((name, stage))
                })
                .collect::<Vec<_>>()
        };
        loop {
            let p = wait_for(
                &plans,
                &plan_name,
                "a system to wait for a decision or move to a stage",
                slow,
                |p| {
                    !waiting(p, &approved).is_empty()
                        || !moved(p, &seen).is_empty()
                        || seen.len() == gated.len() && seen.values().all(|s| *s == last)
                },
            )
            .await;
            // Every gate that moved is checked at its new stage, before anything more is
            // approved: no system gets past an approval-requiring stage without its own
            // approval, and its gate admits exactly the stages up to that one.
            for (system, stage) in moved(&p, &seen) {
                let i = names.iter().position(|n| *n == stage).expect("a stage");
                if stages[i]["approval"]["required"].as_u64().unwrap_or(0) > 0 {
                    assert!(
                        approved.contains(&(stage.clone(), system.clone())),
                        "{system} released at {stage} without its approval"
                    );
                }
                let want = expected_peers(&stages[..=i]);
                let want: Vec<&str> = want.iter().map(String::as_str).collect();
                gate_becomes(&policies, &policy_name(&system), &want).await;
                let np = policies
                    .get(&policy_name(&system))
                    .await
                    .expect("the gate exists");
                let spec = np.spec.expect("spec");
                assert_eq!(
                    spec.policy_types,
                    Some(vec!["Ingress".to_string()]),
                    "{system}"
                );
                assert_eq!(
                    serde_json::to_value(spec.pod_selector).expect("json"),
                    gate_of[&system],
                    "{system}: the gate selects the system's pods"
                );
                let got: Vec<String> = spec
                    .ingress
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|r| r.from.clone().unwrap_or_default())
                    .map(|p| serde_json::to_string(&p).expect("json"))
                    .collect();
                assert_eq!(got, want, "{system} at stage {stage}");
                seen.insert(system, stage);
            }
            if seen.len() == gated.len()
                && seen.values().all(|s| *s == last)
                && waiting(&p, &approved).is_empty()
            {
                break;
            }
            // The systems waiting now are approved now, as one batch per stage: distinct
            // people, none of them the plan's requester (incident-commander).
            let unverified = p
                .status
                .iter()
                .flat_map(|s| &s.systems)
                .filter(|x| x.verified_at.is_none())
                .count();
            for (stage, systems) in waiting(&p, &approved) {
                let i = names.iter().position(|n| *n == stage).expect("a stage");
                let rule = &stages[i]["approval"];
                let checklist: Vec<&str> = stages[i]["checklist"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str())
                    .collect();
                let groups: Vec<&str> = rule["approverGroups"][0].as_str().into_iter().collect();
                let b = batches.len();
                let required = rule["required"].as_u64().unwrap_or(0) as usize;
                for who in ["alice", "dana", "eve"].iter().take(required) {
                    let mut a = approval(
                        &format!("{stage}-{who}-{b}"),
                        &stage,
                        who,
                        &groups,
                        &checklist,
                    );
                    a.spec.plan = plan_name.clone();
                    a.spec.systems = systems.clone();
                    support::create_approval(&ns, a).await;
                }
                approved.extend(systems.iter().map(|n| (stage.clone(), n.clone())));
                batches.push((stage, systems, unverified));
            }
        }
        // The first decision came while some systems were still restoring or waiting, and
        // the people decided each approval stage in more than one batch.
        let (first_stage, first, unverified) = batches.first().cloned().expect("a batch");
        assert!(
            unverified > 0,
            "the first batch ({first_stage}: {first:?}) was approved with every system verified"
        );
        for stage in names.iter().filter(|n| batches.iter().any(|b| b.0 == **n)) {
            let n = batches.iter().filter(|b| b.0 == *stage).count();
            assert!(n >= 2, "{stage} decided in {n} batch(es): {batches:?}");
        }
        assert!(batches.len() >= 3, "{batches:?}");
        for (i, stage) in names.iter().enumerate() {
            if stages[i]["approval"]["required"].as_u64().unwrap_or(0) > 0 {
                for system in &every_system {
                    assert!(
                        approved.contains(&(stage.clone(), system.clone())),
                        "{system} was never approved at {stage}: {batches:?}"
                    );
                }
            }
        }
        wait_for(&plans, &plan_name, "Succeeded", slow, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;
        operator.abort();
        drop(standin);
    })
    .await;
}

/// A system "web" whose only check calls `url`, released in one stage that needs one
/// approval; returns the plan's API.
async fn one_stage_release(ns: &TestNamespace, url: &str) -> Api<RecoveryPlan> {
    let pp = PostParams::default();
    let mut system =
        support::clinical_system("web", &[], vec![], vec![support::steps::http("up", url)]);
    system["spec"]["verify"]["deadline"] = json!("10m");
    system["spec"]["release"] = json!({ "podSelector": { "matchLabels": { "app": "web" } } });
    ns.api::<ClinicalSystem>()
        .create(&pp, &object(system))
        .await
        .expect("system");
    let plans: Api<RecoveryPlan> = ns.api();
    let plan = staged_plan(
        Some("commander"),
        json!([{ "name": "pilot-ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
                 "approval": { "required": 1 } }]),
    );
    plans.create(&pp, &plan).await.expect("plan");
    plans
}

#[tokio::test]
async fn an_approval_that_arrives_before_the_system_is_verified_releases_nothing_early() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-early", |ns: TestNamespace| async move {
        let stub = support::StubHttp::start(503).await;
        let plans = one_stage_release(&ns, &stub.url("/web")).await;
        let operator = tokio::spawn(run(admin_client().await, RunOptions::local(&ns.name, "release-early")));
        let policies: Api<NetworkPolicy> = ns.api();
        let gate = policy_name("web");
        let verification = [
            r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"lifeline-system"}}}"#,
            r#"{"podSelector":{}}"#,
        ];

        // The check fails; the approval is there before the system is verified.
        wait_for(&plans, "release", "the check to have failed once", WAIT, |_| stub.count("/web", 503) > 0).await;
        support::create_approval(&ns, approval("early", "pilot-ward", "alice", &[], &[])).await;
        let p = wait_for(&plans, "release", "the early approval to be accepted", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.approvals.iter().any(|a| a.name == "early" && a.accepted))
        })
        .await;
        let s = p.status.expect("status");
        assert!(s.systems[0].verified_at.is_none(), "not verified yet: {:?}", s.systems[0]);
        assert_eq!(s.systems[0].released_stage, None, "approved but not verified: not released");
        eventually("the gate to exist", WAIT, || {
            let policies = policies.clone();
            let gate = gate.clone();
            async move { policies.get(&gate).await.map_err(|e| e.to_string()) }
        })
        .await;
        assert_eq!(peers(&policies, &gate).await, verification, "only the verification audience");

        // Once the check passes the system is verified, and only then released.
        stub.set_status(200);
        let p = stage_of(&plans, "pilot-ward").await;
        let s = p.status.expect("status");
        let verified = s.systems[0].verified_at.clone().expect("verified");
        let released = s.systems[0].releases.first().map(|r| r.at.clone()).expect("released at");
        assert!(released.0 >= verified.0, "released {released:?} before verified {verified:?}");
        gate_becomes(&policies, &gate, &[verification[0], verification[1], r#"{"ipBlock":{"cidr":"10.20.7.0/24"}}"#]).await;
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn a_stage_awaiting_approval_is_posted_to_the_webhook_retried_and_never_blocks_the_plan() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-webhook", |ns: TestNamespace| async move {
        // The webhook holds its first answer until told, and then fails it: the plan must go
        // on meanwhile, and the notification must be retried.
        let (hook, addr) = support::Webhook::start(1).await;
        let stub = support::StubHttp::start(200).await;
        let plans = one_stage_release(&ns, &stub.url("/web")).await;
        let mut opts = RunOptions::local(&ns.name, "release-webhook");
        let mut notify = lifeline::controller::notify::NotifyOptions::new(
            format!("http://{addr}/hook").parse().expect("url"),
        );
        notify.backoff = Duration::from_millis(200);
        notify.timeout = Duration::from_secs(120);
        opts.notify = Some(notify);
        let operator = tokio::spawn(run(admin_client().await, opts));

        wait_for(&plans, "release", "AwaitingApproval", WAIT, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase == PlanPhase::AwaitingApproval)
        })
        .await;
        let first = eventually("the webhook to be called", WAIT, || {
            let hook = hook.clone();
            async move {
                hook.received()
                    .first()
                    .cloned()
                    .ok_or("not yet".to_string())
            }
        })
        .await;
        assert_eq!(first["reason"], "AwaitingApproval", "{first}");
        assert_eq!(first["plan"]["name"], "release");
        assert_eq!(first["plan"]["namespace"], ns.name.as_str());
        assert_eq!(first["awaiting"][0]["stage"], "pilot-ward", "{first}");
        assert_eq!(first["awaiting"][0]["needed"], 1, "{first}");
        assert_eq!(
            first["awaiting"][0]["from"],
            "anyone with the approve verb but the requester"
        );

        // While the webhook holds its answer, the approval is acted on.
        support::create_approval(&ns, approval("go", "pilot-ward", "alice", &[], &[])).await;
        wait_for(
            &plans,
            "release",
            "Succeeded while the webhook hangs",
            WAIT,
            |p| {
                p.status
                    .as_ref()
                    .is_some_and(|s| s.phase == PlanPhase::Succeeded)
            },
        )
        .await;
        assert_eq!(hook.received().len(), 1, "still holding the first answer");
        hook.release.notify_one();

        // The failed delivery is retried with the same id, then the rest follow in order.
        let all = eventually("the retry and PlanSucceeded to arrive", WAIT, || {
            let hook = hook.clone();
            async move {
                let got = hook.received();
                if got.iter().any(|n| n["reason"] == "PlanSucceeded") {
                    Ok(got)
                } else {
                    Err(format!("{got:?}"))
                }
            }
        })
        .await;
        assert_eq!(
            all[1]["id"], first["id"],
            "the retry is the same notification: {all:?}"
        );
        let reasons: Vec<&str> = all
            .iter()
            .filter_map(|n| n["reason"].as_str())
            .filter(|r| *r != "SystemReleased")
            .collect();
        assert_eq!(
            reasons,
            ["AwaitingApproval", "AwaitingApproval", "PlanSucceeded"]
        );
        // Each release is notified with its notice: the stage, to whom, what was tested.
        let released: Vec<&serde_json::Value> = all
            .iter()
            .filter(|n| n["reason"] == "SystemReleased")
            .collect();
        assert!(!released.is_empty(), "{all:?}");
        for n in released {
            assert!(
                n["notice"]["stage"].is_string() && n["notice"]["checks"].is_array(),
                "{n}"
            );
        }
        operator.abort();
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Release system by system with the shipped admission policies in force (copies scoped to
// the test's namespace, see `support::policies`) and every person acting as themselves
// (impersonated): the incident commander declares the recovery, the duty manager
// confirms a manual step, and clinical safety officers decide through `lifeline approve`.
// ---------------------------------------------------------------------------------------

/// The incident commander (lifeline-operator-admin): declares the recovery, so is the
/// plan's `requestedBy`, which the shipped policy checks against the requesting user.
const COMMANDER: &str = "commander";
/// The clinical safety officers and the duty manager (lifeline-approver).
const PEOPLE: [&str; 5] = ["alice", "bob", "carol", "dana", "duty-manager"];
/// The groups everyone who decides is in.
const CSO: &[&str] = &["clinical-safety-officers"];

/// IT validation: the verification namespaces, which the shipped release policy lets a
/// stage reach without people.
fn it_validation() -> serde_json::Value {
    json!({ "name": "it-validation",
            "audience": { "namespaceSelector": { "matchLabels": { "lifeline.dev/audience": "it-validation" } } } })
}

/// Whether a gate's peer (as [`peers`] gives it) is IT validation's audience.
fn is_it_peer(peer: &str) -> bool {
    peer.contains(r#""lifeline.dev/audience":"it-validation""#)
}

/// Runs `body` in a fresh namespace with the shipped policies in force there, the
/// commander and [`PEOPLE`] granted their roles.
async fn with_people<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    policies::with_policies(test, |ns| async move {
        policies::bind(&ns, COMMANDER, "lifeline-operator-admin").await;
        for who in PEOPLE {
            policies::bind(&ns, who, "lifeline-approver").await;
        }
        policies::assert_in_force(&ns).await;
        body(ns).await;
    })
    .await;
}

/// The commander declares `plan` (as its `requestedBy`) through the shipped policies;
/// returns the plans' API, as admin.
async fn declare(ns: &TestNamespace, mut plan: RecoveryPlan) -> Api<RecoveryPlan> {
    plan.spec.requested_by = Some(COMMANDER.into());
    let as_commander = ns.api_with::<RecoveryPlan>(&client_as(COMMANDER, &["lifeline-ops"]).await);
    policies::create_settled(&as_commander, &plan, false)
        .await
        .unwrap_or_else(|e| panic!("the commander declares the recovery: {e}"));
    ns.api()
}

/// Whether an error of `lifeline approve` is RBAC (or the policy's authorizer check) not
/// yet having seen the test's grants.
fn grant_not_seen(e: &anyhow::Error) -> bool {
    let e = format!("{e:#}");
    e.contains(" cannot ") || e.contains("may not approve")
}

/// `who` decides `systems` at `stage` of the plan "release" with `lifeline approve` (or
/// `lifeline reject`, for `Decision::Reject`), naming each with `--system`, as themselves
/// through the shipped policy. Asserts the decision covers exactly those systems and is
/// recorded as `who`'s, and returns the Approval as stored.
async fn decide_as(
    ns: &TestNamespace,
    who: &'static str,
    stage: &'static str,
    systems: &[&str],
    decision: Decision,
    comment: &str,
) -> Approval {
    let client = client_as(who, CSO).await;
    let keys: Vec<String> = systems.iter().map(|s| format!("{}/{s}", ns.name)).collect();
    let name = eventually(
        &format!("{who}'s {decision} of {systems:?} at {stage} with lifeline approve"),
        policies::SETTLED,
        || {
            let (client, namespace, keys) = (client.clone(), ns.name.clone(), keys.clone());
            let named: Vec<String> = systems.iter().map(|s| s.to_string()).collect();
            let comment = comment.to_string();
            async move {
                let result = lifeline::cli::approve::decide(
                    client,
                    &namespace,
                    "release",
                    stage,
                    named,
                    decision,
                    Some(comment),
                    vec![],
                    |summary, covered, me| {
                        assert_eq!(me.username, who, "the API server says who decides");
                        assert_eq!(covered, keys.as_slice(), "it covers what was named");
                        for k in &keys {
                            assert!(summary.contains(&format!("  {k} (")), "{summary}");
                        }
                        Ok(true)
                    },
                )
                .await;
                match result {
                    Ok(name) => Ok(name),
                    Err(e) if grant_not_seen(&e) => Err(format!("{e:#}")),
                    Err(e) => panic!("{who}'s {decision} of {systems:?} at {stage}: {e:#}"),
                }
            }
        },
    )
    .await;
    let stored = ns
        .api::<Approval>()
        .get(&name)
        .await
        .expect("the decision is stored");
    assert_eq!(stored.spec.approver.username, who);
    assert_eq!(stored.spec.systems, keys);
    assert_eq!(stored.spec.decision, decision);
    stored
}

/// What `lifeline approve --system X` (each of `systems`) by `who` at `stage` says when
/// it refuses, asserting that it records nothing.
async fn refused_as(ns: &TestNamespace, who: &str, stage: &str, systems: &[&str]) -> String {
    let client = client_as(who, CSO).await;
    let before = ns
        .api::<Approval>()
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .len();
    let refusal = eventually(
        &format!("{who}'s approval of {systems:?} to be refused"),
        policies::SETTLED,
        || {
            let (client, namespace) = (client.clone(), ns.name.clone());
            let named: Vec<String> = systems.iter().map(|s| s.to_string()).collect();
            async move {
                match lifeline::cli::approve::decide(
                    client,
                    &namespace,
                    "release",
                    stage,
                    named,
                    Decision::Approve,
                    None,
                    vec![],
                    |_, _, _| Ok(true),
                )
                .await
                {
                    Ok(name) => {
                        panic!("{who}'s approval of {systems:?} at {stage} was recorded as {name}")
                    }
                    Err(e) if grant_not_seen(&e) => Err(format!("{e:#}")),
                    Err(e) => Ok(format!("{e:#}")),
                }
            }
        },
    )
    .await;
    let after = ns
        .api::<Approval>()
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .len();
    assert_eq!(after, before, "a refusal records nothing");
    refusal
}

/// Waits until the creation second of `decision` is over (creation is recorded to the
/// second, and a decision that lifts a rejection must be made after it).
async fn after_the_second_of(decision: &Approval) {
    let at = decision
        .metadata
        .creation_timestamp
        .clone()
        .expect("created")
        .0;
    eventually("the second of the decision to pass", WAIT, || async move {
        if k8s_openapi::jiff::Timestamp::now().as_second() > at.as_second() {
            Ok(())
        } else {
            Err("same second".to_string())
        }
    })
    .await;
}

/// Deployments and gated ClinicalSystems (checked every second) for `names`, as admin.
async fn gated_systems(ns: &TestNamespace, names: &[&str]) {
    let pp = PostParams::default();
    for name in names {
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment(name, 0))
            .await
            .expect("deployment");
        let mut system = support::gated_system(name, name, 1);
        system["spec"]["verify"]["retryInterval"] = json!("1s");
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(system))
            .await
            .expect("system");
    }
}

/// The plan "release" of web and lab, released to IT validation without people, then to
/// the ward with `required` approvals per system, declared by the commander; and the
/// operator running it.
async fn web_and_lab_at_the_ward(
    ns: &TestNamespace,
    required: u32,
) -> (
    Api<RecoveryPlan>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut plan = staged_plan(
        None,
        json!([
            it_validation(),
            { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
              "approval": { "required": required } }
        ]),
    );
    plan.spec.systems.names = Some(vec!["web".into(), "lab".into()]);
    let plans = declare(ns, plan).await;
    let operator = tokio::spawn(run(
        admin_client().await,
        RunOptions::local(&ns.name, "release-two"),
    ));
    (plans, operator)
}

/// The plan "release" has `system` released at `stage`.
fn released_at(system: &'static str, stage: &'static str) -> impl Fn(&RecoveryPlan) -> bool {
    move |p: &RecoveryPlan| {
        p.status.as_ref().is_some_and(|s| {
            s.systems.iter().any(|x| {
                x.name.ends_with(&format!("/{system}"))
                    && x.released_stage.as_deref() == Some(stage)
            })
        })
    }
}

/// Waits until `system`'s gate admits the `ward` network (`admitted`) or no longer does.
async fn ward_becomes(policies: &Api<NetworkPolicy>, system: &str, admitted: bool) {
    eventually(
        &format!(
            "{system}'s gate to {} the ward",
            if admitted { "admit" } else { "shut out" }
        ),
        WAIT,
        || async move {
            let now = admits_ward(policies, system).await;
            if now == admitted {
                Ok(())
            } else {
                Err(format!("admits the ward: {now}"))
            }
        },
    )
    .await;
}

/// The system's gate admits the `ward` network.
async fn admits_ward(policies: &Api<NetworkPolicy>, system: &str) -> bool {
    peers(policies, &policy_name(system))
        .await
        .iter()
        .any(|p| p.contains("10.20.7.0/24"))
}

#[tokio::test]
async fn a_system_verified_after_an_approval_waits_for_its_own() {
    with_people("release-per-system", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        gated_systems(&ns, &["web"]).await;
        // lab is verified later: the duty manager confirms its manual step when the
        // analysers are back, after the ward has already approved web.
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("lab", 0))
            .await
            .expect("deployment");
        let mut lab = support::gated_system("lab", "lab", 1);
        lab["spec"]["restore"]["steps"]
            .as_array_mut()
            .expect("steps")
            .push(json!({ "name": "analysers", "manual": { "instructions": "Restart the analysers" } }));
        ns.api::<ClinicalSystem>().create(&pp, &object(lab)).await.expect("lab");
        let (plans, operator) = web_and_lab_at_the_ward(&ns, 1).await;
        let policies: Api<NetworkPolicy> = ns.api();

        // web verified and waiting at ward, its gate admitting IT validation only; lab
        // waiting for its analysers, its gate admitting no stage.
        wait_for(&plans, "release", "web at it-validation", WAIT, released_at("web", "it-validation")).await;
        admits_only_it(&policies, "web").await;
        let lab_gate = peers(&policies, &policy_name("lab")).await;
        assert!(!lab_gate.iter().any(|p| is_it_peer(p) || p.contains("10.20.7.0/24")), "{lab_gate:?}");

        // alice approves web for the ward, naming it.
        decide_as(&ns, "alice", "ward", &["web"], Decision::Approve, "web's results checked").await;
        wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        ward_becomes(&policies, "web", true).await;
        assert!(!admits_ward(&policies, "lab").await, "nobody approved lab for the ward");

        // lab, verified later, waits at it-validation for its own decision, and its gate
        // keeps the ward out, however many approvals the stage has had.
        let duty = client_as("duty-manager", CSO).await;
        eventually("the duty manager's confirmation through lifeline confirm", policies::SETTLED, || {
            let (duty, namespace) = (duty.clone(), ns.name.clone());
            async move {
                match lifeline::cli::approve::confirm_step(
                    duty, &namespace, "release", "lab", "analysers", Decision::Approve,
                    Some("analysers back".into()),
                )
                .await
                {
                    Ok(name) => Ok(name),
                    Err(e) if grant_not_seen(&e) => Err(format!("{e:#}")),
                    Err(e) => panic!("the duty manager confirms lab's analysers: {e:#}"),
                }
            }
        })
        .await;
        let waiting = wait_for(&plans, "release", "lab waiting at ward", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.awaiting.iter().any(|a| {
                    a.stage == "ward" && a.systems.iter().any(|x| x.ends_with("/lab"))
                })
            })
        })
        .await;
        let status = waiting.status.expect("status");
        let lab_status = status.systems.iter().find(|s| s.name.ends_with("/lab")).expect("lab");
        assert_eq!(lab_status.released_stage.as_deref(), Some("it-validation"));
        let awaiting: Vec<String> = status.awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(awaiting, ["stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for lab"]);
        admits_only_it(&policies, "lab").await;
        assert!(admits_ward(&policies, "web").await, "web stays released to the ward");

        // `lifeline approve` of web again is refused: web no longer waits at the ward.
        assert_eq!(
            refused_as(&ns, "bob", "ward", &["web"]).await,
            format!(
                "{ns}/web is not verified and waiting at stage ward of {ns}/release; waiting there: {ns}/lab",
                ns = ns.name
            )
        );

        // Its own approval, by bob, opens the ward to it.
        decide_as(&ns, "bob", "ward", &["lab"], Decision::Approve, "lab's results checked").await;
        wait_for(&plans, "release", "lab at ward", WAIT, released_at("lab", "ward")).await;
        ward_becomes(&policies, "lab", true).await;
        let done = wait_for(&plans, "release", "Succeeded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;
        let records = done.status.expect("status").approvals;
        let mut covered: Vec<(String, bool, Vec<String>)> = records
            .iter()
            .map(|r| (r.approver.clone(), r.accepted, r.systems.clone()))
            .collect();
        covered.sort();
        assert_eq!(
            covered,
            [
                ("alice".to_string(), true, vec![format!("{}/web", ns.name)]),
                ("bob".to_string(), true, vec![format!("{}/lab", ns.name)]),
            ],
            "the record says exactly what each person approved"
        );
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn quorum_and_rejections_count_per_system() {
    with_people("release-quorum", |ns: TestNamespace| async move {
        gated_systems(&ns, &["web", "lab"]).await;
        let (plans, operator) = web_and_lab_at_the_ward(&ns, 2).await;
        let policies: Api<NetworkPolicy> = ns.api();
        let both_waiting = |p: &RecoveryPlan| {
            p.status.as_ref().is_some_and(|s| {
                s.awaiting
                    .iter()
                    .filter(|a| a.stage == "ward")
                    .map(|a| a.systems.len())
                    .sum::<usize>()
                    == 2
            })
        };
        wait_for(
            &plans,
            "release",
            "both systems waiting at ward",
            WAIT,
            both_waiting,
        )
        .await;

        // alice approves web and bob lab: neither has its two.
        decide_as(
            &ns,
            "alice",
            "ward",
            &["web"],
            Decision::Approve,
            "web checked",
        )
        .await;
        decide_as(
            &ns,
            "bob",
            "ward",
            &["lab"],
            Decision::Approve,
            "lab checked",
        )
        .await;
        let split = wait_for(&plans, "release", "two approvals recorded", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| s.approvals.len() == 2)
        })
        .await
        .status
        .expect("status");
        assert!(
            split.approvals.iter().all(|a| a.accepted),
            "each counts, for its own system: {:?}",
            split.approvals
        );
        assert!(
            split
                .systems
                .iter()
                .all(|s| s.released_stage.as_deref() == Some("it-validation")),
            "one person each is no quorum: {:?}",
            split.systems
        );
        let mut needs: Vec<(String, u32)> = split
            .awaiting
            .iter()
            .flat_map(|a| a.systems.iter().map(move |s| (s.clone(), a.needed)))
            .collect();
        needs.sort();
        assert_eq!(
            needs,
            [
                (format!("{}/lab", ns.name), 1),
                (format!("{}/web", ns.name), 1)
            ]
        );
        admits_only_it(&policies, "web").await;
        admits_only_it(&policies, "lab").await;

        // carol rejects lab; bob approves web: web has its two (alice and bob) and goes
        // on, lab is held.
        let rejection = decide_as(
            &ns,
            "carol",
            "ward",
            &["lab"],
            Decision::Reject,
            "lab results not reconciled",
        )
        .await;
        decide_as(
            &ns,
            "bob",
            "ward",
            &["web"],
            Decision::Approve,
            "web checked too",
        )
        .await;
        let p = wait_for(
            &plans,
            "release",
            "web released at ward",
            WAIT,
            released_at("web", "ward"),
        )
        .await;
        let st = p.status.expect("status");
        let lab = st
            .systems
            .iter()
            .find(|s| s.name.ends_with("/lab"))
            .expect("lab");
        assert_eq!(
            lab.released_stage.as_deref(),
            Some("it-validation"),
            "lab is held"
        );
        let held: Vec<String> = st.awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            held,
            ["stage ward halted for lab: rejected by carol: lab results not reconciled"]
        );
        ward_becomes(&policies, "web", true).await;
        admits_only_it(&policies, "lab").await;

        // Two approvals of lab made after the rejection lift it; both decisions stay in
        // the record.
        after_the_second_of(&rejection).await;
        decide_as(
            &ns,
            "alice",
            "ward",
            &["lab"],
            Decision::Approve,
            "reconciled now",
        )
        .await;
        let one = wait_for(
            &plans,
            "release",
            "alice's approval of lab recorded",
            WAIT,
            |p| p.status.as_ref().is_some_and(|s| s.approvals.len() == 5),
        )
        .await;
        assert_eq!(
            system_status(&one, "lab").released_stage.as_deref(),
            Some("it-validation"),
            "one of two"
        );
        admits_only_it(&policies, "lab").await;
        decide_as(
            &ns,
            "dana",
            "ward",
            &["lab"],
            Decision::Approve,
            "reconciled, agreed",
        )
        .await;
        let done = wait_for(
            &plans,
            "release",
            "lab released at ward",
            WAIT,
            released_at("lab", "ward"),
        )
        .await;
        ward_becomes(&policies, "lab", true).await;
        let rejected = done
            .status
            .expect("status")
            .approvals
            .into_iter()
            .find(|a| a.approver == "carol")
            .expect("the rejection stays in the record");
        assert_eq!(
            (rejected.accepted, rejected.reason.as_str()),
            (
                true,
                format!("rejected: holds {}/lab at this stage", ns.name).as_str()
            )
        );
        operator.abort();
    })
    .await;
}

/// `system`'s gate admits IT validation's audience and not the ward's network.
async fn admits_only_it(policies: &Api<NetworkPolicy>, system: &str) {
    eventually(
        &format!("{system}'s gate to admit IT validation only"),
        WAIT,
        || async move {
            let got = peers(policies, &policy_name(system)).await;
            let it = got.iter().any(|p| is_it_peer(p));
            let ward = got.iter().any(|p| p.contains("10.20.7.0/24"));
            if it && !ward {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
    .await;
}

/// The status of system `name` in `plan`, once the plan has one.
fn find_system<'a>(
    plan: &'a RecoveryPlan,
    name: &str,
) -> Option<&'a lifeline::api::v1alpha1::SystemStatus> {
    plan.status.as_ref().and_then(|s| {
        s.systems
            .iter()
            .find(|x| x.name.ends_with(&format!("/{name}")))
    })
}

/// The status of system `name` in `plan`.
fn system_status<'a>(
    plan: &'a RecoveryPlan,
    name: &str,
) -> &'a lifeline::api::v1alpha1::SystemStatus {
    find_system(plan, name).unwrap_or_else(|| panic!("{name} in the plan's status"))
}

/// The entry of `plan`'s `status.awaiting` that lists system `name`, as people read it.
fn awaiting_for(plan: &RecoveryPlan, name: &str) -> Option<String> {
    plan.status.as_ref().and_then(|s| {
        s.awaiting
            .iter()
            .find(|a| a.systems.iter().any(|x| x.ends_with(&format!("/{name}"))))
            .map(|a| a.to_string())
    })
}

/// The plan "release" of web and lab: IT validation with a soak of `soak`, then the ward
/// with one approval per system, declared by the commander; and the operator running it.
async fn web_and_lab_soaking(
    ns: &TestNamespace,
    soak: &str,
) -> (
    Api<RecoveryPlan>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut it = it_validation();
    it["soak"] = json!(soak);
    let mut plan = staged_plan(
        None,
        json!([
            it,
            { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
              "approval": { "required": 1 } }
        ]),
    );
    plan.spec.systems.names = Some(vec!["web".into(), "lab".into()]);
    let plans = declare(ns, plan).await;
    let operator = tokio::spawn(run(
        admin_client().await,
        RunOptions::local(&ns.name, "release-soak"),
    ));
    (plans, operator)
}

#[tokio::test]
async fn a_system_soaks_at_a_stage_and_a_check_failing_meanwhile_holds_it_there() {
    const SOAK: i64 = 15;
    with_people("release-soak", |ns: TestNamespace| async move {
        gated_systems(&ns, &["web", "lab"]).await;
        let deployments = ns.api::<k8s_openapi::api::apps::v1::Deployment>();
        let (plans, operator) = web_and_lab_soaking(&ns, &format!("{SOAK}s")).await;
        let policies: Api<NetworkPolicy> = ns.api();
        let soak_until = |p: &RecoveryPlan, name: &str| {
            find_system(p, name).and_then(|w| w.soak.as_ref()).and_then(|k| k.until.clone())
        };

        // Both released at IT validation and soaking there: the ward stays out, and the
        // ward's approvers see how long each one's soak has left.
        let soaking = wait_for(&plans, "release", "web and lab soaking at it-validation", WAIT, |p| {
            ["web", "lab"].iter().all(|s| released_at(s, "it-validation")(p) && soak_until(p, s).is_some())
        })
        .await;
        let until = soak_until(&soaking, "web").expect("until");
        let lab_until = soak_until(&soaking, "lab").expect("until");
        for (name, until) in [("web", &until), ("lab", &lab_until)] {
            let awaiting = awaiting_for(&soaking, name).expect("waiting for the ward");
            assert!(
                awaiting.starts_with("stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for ")
                    && awaiting.ends_with(&format!(", soaking until {}", until.0)),
                "{awaiting}"
            );
            admits_only_it(&policies, name).await;
        }

        // web fails its check while it soaks: held, with why, an Event; lab soaks on.
        deployments
            .patch_scale("web", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(json!({ "spec": { "replicas": 0 } })))
            .await
            .expect("scale web to 0");
        let held = wait_for(&plans, "release", "web held by its failing check", WAIT, |p| {
            find_system(p, "web").and_then(|w| w.soak.as_ref()).is_some_and(|k| k.held_by.is_some())
        })
        .await;
        let web = system_status(&held, "web");
        let soak = web.soak.clone().expect("soak");
        assert_eq!(web.released_stage.as_deref(), Some("it-validation"));
        assert!(
            soak.held_by.as_deref().is_some_and(
                |h| h.contains("check 'ready' failing since") && h.contains("scaled to 0")
            ),
            "{soak:?}"
        );
        assert_eq!((soak.since, soak.until, soak.holds), (None, None, 1));
        assert!(
            web.message.as_deref().is_some_and(|m| m.starts_with("held at stage it-validation")),
            "{:?}",
            web.message
        );
        assert!(web.checks[0].reruns >= 1);
        let lab_soak = system_status(&held, "lab").soak.clone().expect("lab's soak");
        assert_eq!((lab_soak.holds, lab_soak.held_by), (0, None), "lab is not held by web's check");
        let web_waits = awaiting_for(&held, "web").expect("web waits");
        assert!(web_waits.contains("held at the stage before: check 'ready' failing since"), "{web_waits}");
        support::event_note(&ns, "SoakHeld", WAIT, |n| n.contains("web held at stage it-validation")).await;
        admits_only_it(&policies, "web").await;

        // alice approves both for the ward while web is held (one decision naming both):
        // lab goes on once its own soak is over, web stays held behind its gate.
        decide_as(&ns, "alice", "ward", &["web", "lab"], Decision::Approve, "both checked").await;
        let lab_out = wait_for(&plans, "release", "lab at ward", WAIT, released_at("lab", "ward")).await;
        ward_becomes(&policies, "lab", true).await;
        let lab = system_status(&lab_out, "lab");
        let lab_at_ward = lab.releases.iter().find(|r| r.stage == "ward").expect("released at ward").at.0;
        assert!(lab_at_ward.as_second() >= lab_until.0.as_second(), "lab released at {lab_at_ward}, soak until {}", lab_until.0);
        let web = system_status(&lab_out, "web");
        assert_eq!(web.released_stage.as_deref(), Some("it-validation"), "web is held while lab goes on");
        assert!(web.soak.as_ref().is_some_and(|k| k.held_by.is_some()), "{:?}", web.soak);
        assert!(!admits_ward(&policies, "web").await, "the ward is out of web while it is held");

        // web's check passes again: the soak starts again, whole, before the ward.
        deployments
            .patch_scale("web", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(json!({ "spec": { "replicas": 1 } })))
            .await
            .expect("scale web back to 1");
        let again = wait_for(&plans, "release", "web soaking again", WAIT, |p| {
            find_system(p, "web").and_then(|w| w.soak.as_ref()).is_some_and(|k| k.since.is_some())
        })
        .await;
        let soak = system_status(&again, "web").soak.clone().expect("soak");
        let since = soak.since.clone().expect("since").0;
        assert!(since.as_second() >= until.0.as_second() - SOAK, "the soak started again when the check passed");
        let now = k8s_openapi::jiff::Timestamp::now();
        if now.as_second() < since.as_second() + SOAK - 1 {
            // Still within the new soak: at it-validation, the ward out.
            let p = crate::support::read_plan(&plans, "release").await.expect("plan");
            assert_eq!(system_status(&p, "web").released_stage.as_deref(), Some("it-validation"));
            assert!(!admits_ward(&policies, "web").await, "the ward is out while web soaks");
        }

        let released = wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        let web = system_status(&released, "web");
        let at_ward = web.releases.iter().find(|r| r.stage == "ward").expect("released at ward").at.0;
        assert!(at_ward.as_second() >= since.as_second() + SOAK, "released at {at_ward}, soak from {since}");
        let soak = web.soak.clone().expect("the soak's record");
        assert_eq!((soak.stage.as_str(), soak.holds), ("it-validation", 1));
        assert!(soak.completed_at.is_some());
        ward_becomes(&policies, "web", true).await;
        support::event_note(&ns, "SoakCompleted", WAIT, |n| {
            n.contains("web soaked at stage it-validation for") && n.contains("after 1 hold")
        })
        .await;
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn after_its_soak_a_system_still_waits_for_the_next_approval() {
    with_people("release-soak-approval", |ns: TestNamespace| async move {
        gated_systems(&ns, &["web", "lab"]).await;
        let (plans, operator) = web_and_lab_soaking(&ns, "3s").await;
        let soaked = |p: &RecoveryPlan, name: &str| {
            find_system(p, name).and_then(|w| w.soak.as_ref()).is_some_and(|k| k.completed_at.is_some())
        };
        let both = wait_for(&plans, "release", "web and lab soaked at it-validation", WAIT, |p| {
            soaked(p, "web") && soaked(p, "lab")
        })
        .await;
        let policies: Api<NetworkPolicy> = ns.api();
        for name in ["web", "lab"] {
            let s = system_status(&both, name);
            assert_eq!(s.released_stage.as_deref(), Some("it-validation"), "nobody approved {name} for the ward");
            assert!(s.checks[0].reruns >= 1, "{name}'s check ran again while it soaked");
            admits_only_it(&policies, name).await;
        }
        for name in ["web", "lab"] {
            let awaiting = awaiting_for(&both, name).expect("waiting for the ward");
            assert!(
                awaiting.starts_with("stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for ")
                    && !awaiting.contains("soak"),
                "{awaiting}"
            );
        }

        // bob approves web: web goes on, lab still waits for its own decision.
        decide_as(&ns, "bob", "ward", &["web"], Decision::Approve, "web checked").await;
        let web_out = wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        ward_becomes(&policies, "web", true).await;
        assert_eq!(system_status(&web_out, "lab").released_stage.as_deref(), Some("it-validation"));
        assert_eq!(
            awaiting_for(&web_out, "lab").as_deref(),
            Some("stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for lab")
        );
        admits_only_it(&policies, "lab").await;

        // carol approves lab.
        decide_as(&ns, "carol", "ward", &["lab"], Decision::Approve, "lab checked").await;
        wait_for(&plans, "release", "lab at ward", WAIT, released_at("lab", "ward")).await;
        ward_becomes(&policies, "lab", true).await;
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn hundreds_of_ignored_approvals_with_long_comments_do_not_freeze_a_plan() {
    use futures::StreamExt;
    ensure_crds(&admin_client().await).await;
    with_namespace("release-flood", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(support::gated_system("web", "web", 1)))
            .await
            .expect("web");
        let plans: Api<RecoveryPlan> = ns.api();
        let plan = staged_plan(
            Some("commander"),
            json!([{ "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
                     "approval": { "required": 1 } }]),
        );
        plans.create(&pp, &plan).await.expect("plan");
        // 450 Approvals by the plan's requester, each with a 4 KB comment: all ignored.
        let approvals: Api<Approval> = ns.api();
        let long = "x".repeat(4096);
        futures::stream::iter(0..450)
            .map(|i| {
                let (approvals, pp) = (approvals.clone(), pp.clone());
                let mut a = approval(&format!("flood-{i:03}"), "ward", "commander", &[], &[]);
                a.spec.comment = Some(long.clone());
                async move {
                    approvals
                        .create(&pp, &a)
                        .await
                        .expect("an ignored Approval")
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-flood"),
        ));
        wait_for(&plans, "release", "web waiting at ward", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| !s.awaiting.is_empty())
        })
        .await;
        support::create_approval(&ns, approval("ward-web", "ward", "alice", &[], &[])).await;
        let done = wait_for(&plans, "release", "Succeeded", WAIT, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;
        let status = done.status.expect("status");
        let listed_ignored = status.approvals.iter().filter(|r| !r.accepted).count();
        assert_eq!(listed_ignored, lifeline::engine::approvals::IGNORED_LISTED);
        assert_eq!(status.approvals_not_listed, 450 - 20);
        assert!(
            status
                .approvals
                .iter()
                .any(|r| r.name == "ward-web" && r.accepted)
        );
        assert!(
            status
                .approvals
                .iter()
                .all(|r| r.comment.as_ref().is_none_or(|c| c.len() <= 512))
        );
        let size = serde_json::to_vec(&status).expect("json").len();
        assert!(size < 64 * 1024, "the status stays small: {size} bytes");
        operator.abort();
    })
    .await;
}

/// A status write the API server refuses for its size (etcd's request limit, on the real
/// API server) leaves the plan with `StatusComplete=False (TooLarge)` quoting the
/// refusal, rather than freezing with every write failing and nothing said. The plan is
/// made too large for any status: 2,540 labels with keys of 317 characters (schema-valid)
/// take it past the limit with their managed fields, so the API server stores it without
/// them, and every server-side apply of its status (which records them again) is refused,
/// whole and trimmed; the conditions alone (a merge patch) are stored.
#[tokio::test]
async fn a_status_refused_for_its_size_leaves_the_plan_saying_so() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-too-large", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let mut system = support::clinical_system("web", &[], vec![], vec![]);
        system["metadata"]["labels"] = json!({ "estate": "big" });
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(system))
            .await
            .expect("web");
        let prefix = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        let labels: serde_json::Map<String, serde_json::Value> = (0..2540)
            .map(|i| {
                (
                    format!("{prefix}/k{i:04}-{}", "n".repeat(57)),
                    json!("v".repeat(63)),
                )
            })
            .collect();
        let plans: Api<RecoveryPlan> = ns.api();
        let plan: RecoveryPlan = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "big", "labels": labels },
            "spec": { "systems": { "selector": { "matchLabels": { "estate": "big" } } } }
        }));
        plans
            .create(&pp, &plan)
            .await
            .expect("the plan, stored without its managed fields");
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-too-large"),
        ));
        let refused = wait_for(
            &plans,
            "big",
            "StatusComplete=False (TooLarge)",
            WAIT,
            |p| {
                p.status.as_ref().is_some_and(|s| {
                    s.conditions.iter().any(|c| {
                        c.type_ == "StatusComplete" && c.status == "False" && c.reason == "TooLarge"
                    })
                })
            },
        )
        .await;
        let status = refused.status.as_ref().expect("status");
        let condition = status
            .conditions
            .iter()
            .find(|c| c.type_ == "StatusComplete")
            .expect("StatusComplete");
        assert!(
            condition
                .message
                .contains("refused the status even trimmed")
                && condition
                    .message
                    .contains("etcdserver: request is too large")
                && condition.message.contains("spec.systems"),
            "the condition quotes the API server's refusal and says what to do: {}",
            condition.message
        );
        assert!(
            condition.message.len() <= 1024,
            "{}",
            condition.message.len()
        );
        // Nothing else of the status could be recorded: no phase, no start.
        assert!(status.started_at.is_none(), "{:?}", status.started_at);
        support::event_note(&ns, "StatusTooLarge", WAIT, |n| n.contains("too large")).await;
        operator.abort();
    })
    .await;
}

/// The pod selectors of the NetworkPolicies in `ns` labelled for system `system`, with
/// whether each admits the ward's network, by policy name.
async fn gates_of(
    policies: &Api<NetworkPolicy>,
    system: &str,
) -> Vec<(String, serde_json::Value, bool)> {
    let mut out: Vec<(String, serde_json::Value, bool)> = policies
        .list(&kube::api::ListParams::default().labels(&format!("lifeline.dev/system={system}")))
        .await
        .expect("list the gates")
        .items
        .into_iter()
        .map(|np| {
            let name = np.metadata.name.clone().unwrap_or_default();
            let spec = np.spec.unwrap_or_default();
            let ward = serde_json::to_string(&spec.ingress)
                .unwrap_or_default()
                .contains("10.20.7.0/24");
            (
                name,
                serde_json::to_value(spec.pod_selector).expect("json"),
                ward,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn a_gate_changed_under_the_plan_holds_what_it_held_and_waits_for_a_new_approval() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-regate", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        let systems = ns.api::<ClinicalSystem>();
        systems
            .create(&pp, &object(support::gated_system("web", "web", 1)))
            .await
            .expect("web");
        let plans: Api<RecoveryPlan> = ns.api();
        let plan = staged_plan(
            Some("commander"),
            json!([
                { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } },
                { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] }, "approval": { "required": 1 } }
            ]),
        );
        plans.create(&pp, &plan).await.expect("plan");
        let operator = tokio::spawn(run(admin_client().await, RunOptions::local(&ns.name, "release-regate")));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(&plans, "release", "web at it-validation", WAIT, released_at("web", "it-validation")).await;
        let approved = support::create_approval(&ns, approval("ward-web", "ward", "alice", &[], &[]).clone()).await;
        wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        ward_becomes(&policies, "web", true).await;

        // Someone narrows web's selector after the ward approved it (in a later second,
        // so the approval is plainly older than the change).
        let approved_at = approved.metadata.creation_timestamp.expect("created").0.as_second();
        eventually("a second after the approval", WAIT, || async move {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            if now > approved_at { Ok(()) } else { Err(format!("{now}")) }
        })
        .await;
        let narrowed = json!({ "matchLabels": { "app": "web", "tier": "front" } });
        systems
            .patch("web", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(json!({ "spec": { "release": { "podSelector": narrowed } } })))
            .await
            .expect("narrow web's selector");
        let back = wait_for(&plans, "release", "web back before the ward", WAIT, |p| {
            find_system(p, "web").and_then(|w| w.gate.as_ref()).is_some_and(|g| g.changed_at.is_some())
                && released_at("web", "it-validation")(p)
        })
        .await;
        let web = system_status(&back, "web");
        let gate = web.gate.clone().expect("gate");
        assert_eq!(gate.earlier_selectors.len(), 1, "{gate:?}");
        assert_eq!(serde_json::to_value(&gate.earlier_selectors[0]).expect("json"), json!({ "matchLabels": { "app": "web" } }));
        let record = back.status.as_ref().expect("status").approvals.iter().find(|r| r.name == "ward-web").cloned().expect("alice's record");
        assert!(!record.accepted, "{record:?}");
        assert!(record.reason.contains("made before") && record.reason.contains("release settings (spec.release) changed"), "{}", record.reason);
        let awaiting: Vec<String> = back.status.as_ref().expect("status").awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(awaiting, ["stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for web"]);
        // Both the old pods and the new selection are held out of the ward.
        eventually("the gates to follow the change", WAIT, || {
            let policies = policies.clone();
            async move {
                let gates = gates_of(&policies, "web").await;
                let main = gates.iter().find(|g| g.0 == policy_name("web"));
                let earlier = gates.iter().find(|g| g.0 != policy_name("web"));
                match (main, earlier) {
                    (Some(m), Some(e))
                        if m.1 == json!({ "matchLabels": { "app": "web", "tier": "front" } })
                            && !m.2
                            && e.1 == json!({ "matchLabels": { "app": "web" } })
                            && !e.2 => Ok(()),
                    _ => Err(format!("{gates:?}")),
                }
            }
        })
        .await;

        // A new decision, after the change (in a later second), opens the ward to the new
        // selection only.
        let changed_at = gate.changed_at.clone().expect("changed").0.as_second();
        eventually("a second after the change", WAIT, || async move {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            if now > changed_at { Ok(()) } else { Err(format!("{now}")) }
        })
        .await;
        support::create_approval(&ns, approval("ward-web-again", "ward", "bob", &[], &[]).clone()).await;
        wait_for(&plans, "release", "web at ward again", WAIT, released_at("web", "ward")).await;
        eventually("the new selection to admit the ward, the old pods still held", WAIT, || {
            let policies = policies.clone();
            async move {
                let gates = gates_of(&policies, "web").await;
                let ok = gates.iter().any(|g| g.0 == policy_name("web") && g.2)
                    && gates.iter().any(|g| g.0 != policy_name("web") && !g.2);
                if ok { Ok(()) } else { Err(format!("{gates:?}")) }
            }
        })
        .await;
        operator.abort();
    })
    .await;
}

/// The plan "release" of web: IT validation without people, then the ward
/// (10.20.7.0/24 and `more` networks) with one approval.
fn web_at_the_ward(more: &[&str]) -> RecoveryPlan {
    let mut ward: Vec<&str> = vec!["10.20.7.0/24"];
    ward.extend_from_slice(more);
    staged_plan(
        None,
        json!([
            it_validation(),
            { "name": "ward", "audience": { "ipBlocks": ward }, "approval": { "required": 1 } }
        ]),
    )
}

/// Each NetworkPolicy in `ns` labelled for `system`: its name, pod selector and peers.
async fn gates_with_peers(
    policies: &Api<NetworkPolicy>,
    system: &str,
) -> Vec<(String, serde_json::Value, Vec<String>)> {
    let mut out: Vec<(String, serde_json::Value, Vec<String>)> = policies
        .list(&kube::api::ListParams::default().labels(&format!("lifeline.dev/system={system}")))
        .await
        .expect("list the gates")
        .items
        .into_iter()
        .map(|np| {
            let name = np.metadata.name.clone().unwrap_or_default();
            let spec = np.spec.unwrap_or_default();
            let peers = spec
                .ingress
                .unwrap_or_default()
                .iter()
                .flat_map(|r| r.from.clone().unwrap_or_default())
                .map(|p| serde_json::to_string(&p).expect("json"))
                .collect();
            (
                name,
                serde_json::to_value(spec.pod_selector).expect("json"),
                peers,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether a gate's peers are the verification audience alone: the operator's namespace
/// and the system's own.
fn verification_only(peers: &[String]) -> bool {
    peers.len() == 2
        && peers
            .iter()
            .any(|p| p.contains(r#""kubernetes.io/metadata.name":"lifeline-system""#))
        && peers.iter().any(|p| p == r#"{"podSelector":{}}"#)
}

/// Waits until the commander's deletion of the plan "release" is done.
async fn commander_deletes_the_plan(ns: &TestNamespace) {
    let as_commander: Api<RecoveryPlan> =
        ns.api_with(&client_as(COMMANDER, &["lifeline-ops"]).await);
    as_commander
        .delete("release", &DeleteParams::default())
        .await
        .expect("the commander deletes the finished plan");
    let plans: Api<RecoveryPlan> = ns.api();
    eventually("the plan to be gone", WAIT, || {
        let plans = plans.clone();
        async move {
            match plans.get_opt("release").await.expect("read the plan") {
                None => Ok(()),
                Some(p) => Err(format!("still there: {:?}", p.metadata.deletion_timestamp)),
            }
        }
    })
    .await;
}

/// The commander sets web's `spec.release.podSelector` to `selector` (replacing it: a merge
/// patch would keep the labels `selector` leaves out).
async fn commander_selects(ns: &TestNamespace, selector: serde_json::Value) {
    let as_commander: Api<ClinicalSystem> =
        ns.api_with(&client_as(COMMANDER, &["lifeline-ops"]).await);
    as_commander
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Json::<()>(
                serde_json::from_value(json!([
                    { "op": "replace", "path": "/spec/release/podSelector", "value": selector }
                ]))
                .expect("a JSON patch"),
            ),
        )
        .await
        .expect("the commander changes web's selector");
}

fn succeeded(p: &RecoveryPlan) -> bool {
    p.status
        .as_ref()
        .is_some_and(|s| s.phase == PlanPhase::Succeeded)
}

/// Gates are not owned by plans: a system's selector narrowed after one plan released it
/// (no plan holds it) does not leave the pods it no longer selects under no policy at all
/// when the next plan applies the gate. They stay held, admitting the verification
/// audience alone; only the new selection is released, on the new plan's own approval.
#[tokio::test]
async fn a_selector_narrowed_between_two_plans_keeps_the_pods_it_left_held() {
    with_people("release-across", |ns: TestNamespace| async move {
        gated_systems(&ns, &["web"]).await;
        let plans = declare(&ns, web_at_the_ward(&[])).await;
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-across"),
        ));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(
            &plans,
            "release",
            "web at it-validation",
            WAIT,
            released_at("web", "it-validation"),
        )
        .await;
        decide_as(
            &ns,
            "alice",
            "ward",
            &["web"],
            Decision::Approve,
            "web's results checked",
        )
        .await;
        let first = wait_for(
            &plans,
            "release",
            "the first plan Succeeded",
            WAIT,
            succeeded,
        )
        .await;
        ward_becomes(&policies, "web", true).await;
        let all_web = json!({ "matchLabels": { "app": "web" } });
        let gates = gates_with_peers(&policies, "web").await;
        assert_eq!(gates.len(), 1, "one gate so far: {gates:?}");

        // The recovery is over; the commander deletes its plan, narrows web's selector and
        // declares the next recovery of web.
        commander_deletes_the_plan(&ns).await;
        let narrowed = json!({ "matchLabels": { "app": "web", "tier": "front" } });
        commander_selects(&ns, narrowed.clone()).await;
        let plans = declare(&ns, web_at_the_ward(&[])).await;
        let second = wait_for(
            &plans,
            "release",
            "the second plan's web at it-validation",
            WAIT,
            |p| p.metadata.uid != first.metadata.uid && released_at("web", "it-validation")(p),
        )
        .await;
        assert!(
            awaiting_for(&second, "web")
                .is_some_and(|a| a.contains("stage ward awaits 1 more approval")),
            "{:?}",
            second.status.as_ref().map(|s| &s.awaiting)
        );

        // The gate selects the narrowed pods at IT validation; the pods it left are held by
        // a gate of their own, admitting the verification audience only.
        let held = eventually("the pods web's gate left to stay held", WAIT, || {
            let (policies, all_web, narrowed) =
                (policies.clone(), all_web.clone(), narrowed.clone());
            async move {
                let gates = gates_with_peers(&policies, "web").await;
                let main = gates.iter().find(|g| g.0 == policy_name("web"));
                let earlier = gates.iter().find(|g| g.0 != policy_name("web"));
                match (main, earlier) {
                    (Some(m), Some(e))
                        if m.1 == narrowed
                            && m.2.iter().any(|p| is_it_peer(p))
                            && !m.2.iter().any(|p| p.contains("10.20.7.0/24"))
                            && e.1 == all_web =>
                    {
                        Ok(e.clone())
                    }
                    _ => Err(format!("{gates:?}")),
                }
            }
        })
        .await;
        assert!(verification_only(&held.2), "{held:?}");
        assert!(
            held.0.starts_with("lifeline-release-web-earlier-"),
            "{held:?}"
        );

        // The new plan's own approval releases the narrowed selection; the pods it left
        // stay held.
        decide_as(
            &ns,
            "bob",
            "ward",
            &["web"],
            Decision::Approve,
            "web checked again",
        )
        .await;
        wait_for(
            &plans,
            "release",
            "the second plan Succeeded",
            WAIT,
            succeeded,
        )
        .await;
        ward_becomes(&policies, "web", true).await;
        let gates = gates_with_peers(&policies, "web").await;
        let earlier: Vec<_> = gates.iter().filter(|g| g.0 != policy_name("web")).collect();
        assert_eq!(earlier.len(), 1, "{gates:?}");
        assert!(
            earlier[0].1 == all_web && verification_only(&earlier[0].2),
            "{gates:?}"
        );
        operator.abort();
    })
    .await;
}

/// A selector widened after the ward approved web (within the plan) takes web back to
/// IT validation: the pods it now selects too, which no plan ever verified, reach the ward
/// only on a new approval made after the change.
#[tokio::test]
async fn a_selector_widened_after_approval_exposes_no_new_pods_until_approved_again() {
    with_people("release-widened", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        let front = json!({ "matchLabels": { "app": "web", "tier": "front" } });
        let mut web = support::gated_system("web", "web", 1);
        web["spec"]["verify"]["retryInterval"] = json!("1s");
        web["spec"]["release"]["podSelector"] = front.clone();
        ns.api::<ClinicalSystem>().create(&pp, &object(web)).await.expect("web");
        let plans = declare(&ns, web_at_the_ward(&[])).await;
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-widened"),
        ));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(&plans, "release", "web at it-validation", WAIT, released_at("web", "it-validation")).await;
        let approved = decide_as(&ns, "alice", "ward", &["web"], Decision::Approve, "the front end checked").await;
        wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        ward_becomes(&policies, "web", true).await;

        // The commander widens web's selector to every web pod, after the decision.
        after_the_second_of(&approved).await;
        let all_web = json!({ "matchLabels": { "app": "web" } });
        commander_selects(&ns, all_web.clone()).await;
        let back = wait_for(&plans, "release", "web back at it-validation", WAIT, |p| {
            find_system(p, "web")
                .and_then(|w| w.gate.as_ref())
                .is_some_and(|g| g.changed_at.is_some())
                && released_at("web", "it-validation")(p)
        })
        .await;
        assert_eq!(
            awaiting_for(&back, "web").as_deref(),
            Some("stage ward awaits 1 more approval (of 1) from anyone with the approve verb but the requester for web")
        );
        let alice = back.status.as_ref().expect("status").approvals.iter()
            .find(|r| r.approver == "alice").cloned().expect("alice's record");
        assert!(!alice.accepted && alice.reason.contains("release settings (spec.release) changed"), "{alice:?}");
        eventually("the widened gate to keep the ward out", WAIT, || {
            let (policies, all_web) = (policies.clone(), all_web.clone());
            async move {
                let gates = gates_with_peers(&policies, "web").await;
                let ward = gates.iter().any(|g| g.2.iter().any(|p| p.contains("10.20.7.0/24")));
                let main = gates.iter().find(|g| g.0 == policy_name("web"));
                match main {
                    Some(m) if m.1 == all_web && !ward => Ok(()),
                    _ => Err(format!("{gates:?}")),
                }
            }
        })
        .await;

        // bob's decision, after the change, opens the ward to the widened selection.
        let changed_at = system_status(&back, "web").gate.as_ref()
            .and_then(|g| g.changed_at.clone()).expect("changed").0;
        eventually("a second after the change", WAIT, || async move {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            if now > changed_at.as_second() { Ok(()) } else { Err(format!("{now}")) }
        })
        .await;
        decide_as(&ns, "bob", "ward", &["web"], Decision::Approve, "every web pod checked").await;
        wait_for(&plans, "release", "web at ward again", WAIT, released_at("web", "ward")).await;
        ward_becomes(&policies, "web", true).await;
        let gates = gates_with_peers(&policies, "web").await;
        let main = gates.iter().find(|g| g.0 == policy_name("web")).expect("the gate");
        assert_eq!(main.1, all_web);
        operator.abort();
    })
    .await;
}

/// A selector widened while web waits at its first stage (released nowhere) moves the
/// gate at once: the pods only the new selector matches are gated from then on, not left
/// under no policy until web is next released.
#[tokio::test]
async fn a_selector_widened_before_any_release_moves_the_gate_at_once() {
    with_people("release-widened-early", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        let front = json!({ "matchLabels": { "app": "web", "tier": "front" } });
        let mut web = support::gated_system("web", "web", 1);
        web["spec"]["verify"]["retryInterval"] = json!("1s");
        web["spec"]["release"]["podSelector"] = front.clone();
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(web))
            .await
            .expect("web");
        let plans = declare(
            &ns,
            staged_plan(
                None,
                json!([{ "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
                         "approval": { "required": 1 } }]),
            ),
        )
        .await;
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-widened-early"),
        ));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(&plans, "release", "web waiting at ward", WAIT, |p| {
            awaiting_for(p, "web").is_some()
        })
        .await;
        let all_web = json!({ "matchLabels": { "app": "web" } });
        commander_selects(&ns, all_web.clone()).await;
        eventually("web's gate to select every web pod", WAIT, || {
            let (policies, all_web, front) = (policies.clone(), all_web.clone(), front.clone());
            async move {
                let gates = gates_with_peers(&policies, "web").await;
                let main = gates.iter().find(|g| g.0 == policy_name("web"));
                let held = gates.iter().find(|g| g.0 != policy_name("web"));
                match (main, held) {
                    (Some(m), Some(h))
                        if m.1 == all_web
                            && verification_only(&m.2)
                            && h.1 == front
                            && verification_only(&h.2) =>
                    {
                        Ok(())
                    }
                    _ => Err(format!("{gates:?}")),
                }
            }
        })
        .await;
        operator.abort();
    })
    .await;
}

/// An audience cannot grow under an approval: the commander's patch adding a network to
/// the ward's audience after the ward approved web is refused (stages are immutable), and
/// a new plan with the wider audience releases web there only on its own approval.
#[tokio::test]
async fn an_audience_widened_after_approval_needs_a_new_plan_and_its_own_approval() {
    with_people("release-audience", |ns: TestNamespace| async move {
        gated_systems(&ns, &["web"]).await;
        let plans = declare(&ns, web_at_the_ward(&[])).await;
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-audience"),
        ));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(
            &plans,
            "release",
            "web at it-validation",
            WAIT,
            released_at("web", "it-validation"),
        )
        .await;
        decide_as(
            &ns,
            "alice",
            "ward",
            &["web"],
            Decision::Approve,
            "web's results checked",
        )
        .await;
        let first = wait_for(
            &plans,
            "release",
            "the first plan Succeeded",
            WAIT,
            succeeded,
        )
        .await;
        ward_becomes(&policies, "web", true).await;

        let wider = "10.99.0.0/16";
        let as_commander: Api<RecoveryPlan> =
            ns.api_with(&client_as(COMMANDER, &["lifeline-ops"]).await);
        let stages = serde_json::to_value(&web_at_the_ward(&[wider]).spec.stages).expect("json");
        let refused = as_commander
            .patch(
                "release",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(json!({ "spec": { "stages": stages } })),
            )
            .await;
        policies::denied(refused, 422, "stages are immutable once the plan exists")
            .unwrap_or_else(|e| panic!("the wider audience is refused: {e}"));
        let now = peers(&policies, &policy_name("web")).await;
        assert!(!now.iter().any(|p| p.contains(wider)), "{now:?}");

        // A new plan with the wider audience: alice's decision was about the first one.
        commander_deletes_the_plan(&ns).await;
        let plans = declare(&ns, web_at_the_ward(&[wider])).await;
        let second = wait_for(
            &plans,
            "release",
            "the second plan's web at it-validation",
            WAIT,
            |p| p.metadata.uid != first.metadata.uid && released_at("web", "it-validation")(p),
        )
        .await;
        let status = second.status.as_ref().expect("status");
        assert!(
            awaiting_for(&second, "web")
                .is_some_and(|a| a.contains("stage ward awaits 1 more approval")),
            "{:?}",
            status.awaiting
        );
        assert!(
            status.approvals.iter().all(|r| !r.accepted),
            "{:?}",
            status.approvals
        );
        eventually(
            "the new plan's gate to admit IT validation, not the ward",
            WAIT,
            || {
                let policies = policies.clone();
                async move {
                    let got = peers(&policies, &policy_name("web")).await;
                    let shut = !got
                        .iter()
                        .any(|p| p.contains(wider) || p.contains("10.20.7.0/24"));
                    if shut && got.iter().any(|p| is_it_peer(p)) {
                        Ok(())
                    } else {
                        Err(format!("{got:?}"))
                    }
                }
            },
        )
        .await;
        decide_as(
            &ns,
            "bob",
            "ward",
            &["web"],
            Decision::Approve,
            "web checked for the wider ward",
        )
        .await;
        wait_for(
            &plans,
            "release",
            "the second plan Succeeded",
            WAIT,
            succeeded,
        )
        .await;
        eventually("the gate to admit the wider ward", WAIT, || {
            let policies = policies.clone();
            async move {
                let got = peers(&policies, &policy_name("web")).await;
                if got.iter().any(|p| p.contains(wider))
                    && got.iter().any(|p| p.contains("10.20.7.0/24"))
                {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            }
        })
        .await;
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn a_gate_the_api_server_refuses_holds_the_system_and_says_why() {
    use k8s_openapi::api::admissionregistration::v1::{
        ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    };
    let admin = admin_client().await;
    ensure_crds(&admin).await;
    with_namespace("release-refused", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        // The cluster refuses any policy admitting the ward's network in this namespace.
        let vap_name = format!("deny-ward-{}", ns.name);
        let vaps: Api<ValidatingAdmissionPolicy> = Api::all(admin_client().await);
        let vapbs: Api<ValidatingAdmissionPolicyBinding> = Api::all(admin_client().await);
        vaps.create(&pp, &object(json!({
            "metadata": { "name": vap_name },
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": { "resourceRules": [{ "apiGroups": ["networking.k8s.io"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["networkpolicies"] }] },
                "validations": [{ "expression": "!has(object.spec.ingress) || !object.spec.ingress.exists(r, has(r.from) && r.from.exists(p, has(p.ipBlock) && p.ipBlock.cidr == '10.20.7.0/24'))", "message": "the ward network is closed by the site's network team" }]
            }
        }))).await.expect("policy");
        vapbs.create(&pp, &object(json!({
            "metadata": { "name": vap_name },
            "spec": { "policyName": vap_name, "validationActions": ["Deny"],
                      "matchResources": { "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ns.name } } } }
        }))).await.expect("binding");
        let policies: Api<NetworkPolicy> = ns.api();
        // Wait until the refusal is in force (dry run of a policy admitting the ward).
        let probe: NetworkPolicy = object(json!({ "metadata": { "name": "probe" }, "spec": { "podSelector": {}, "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.20.7.0/24" } }] }] } }));
        eventually("the refusal to be in force", WAIT, || {
            let (policies, probe) = (policies.clone(), probe.clone());
            async move {
                match policies.create(&PostParams { dry_run: true, ..Default::default() }, &probe).await {
                    Err(kube::Error::Api(s)) if s.message.contains("closed by the site") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;

        ns.api::<k8s_openapi::api::apps::v1::Deployment>().create(&pp, &support::fake_deployment("web", 0)).await.expect("deployment");
        ns.api::<ClinicalSystem>().create(&pp, &object(support::gated_system("web", "web", 1))).await.expect("web");
        let plans: Api<RecoveryPlan> = ns.api();
        plans.create(&pp, &staged_plan(Some("commander"), json!([
            { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } },
            { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] }, "approval": { "required": 1 } }
        ]))).await.expect("plan");
        let operator = tokio::spawn(run(admin_client().await, RunOptions::local(&ns.name, "release-refused")));
        wait_for(&plans, "release", "web at it-validation", WAIT, released_at("web", "it-validation")).await;
        support::create_approval(&ns, approval("ward-web", "ward", "alice", &[], &[]).clone()).await;
        let held = wait_for(&plans, "release", "web held by its refused gate", WAIT, |p| {
            find_system(p, "web").and_then(|w| w.gate.as_ref()).is_some_and(|g| g.error.is_some())
        })
        .await;
        let web = system_status(&held, "web");
        assert_eq!(web.released_stage.as_deref(), Some("it-validation"), "not released where its gate is not applied");
        assert!(!web.releases.iter().any(|r| r.stage == "ward"), "{:?}", web.releases);
        let gate = web.gate.clone().expect("gate");
        assert_eq!(gate.failed_stage.as_deref(), Some("ward"));
        assert!(gate.error.as_deref().is_some_and(|e| e.contains("closed by the site's network team")), "{gate:?}");
        let condition = held.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "GatesApplied").cloned().expect("GatesApplied");
        assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "ApplyFailed"));
        assert!(condition.message.contains("/web at ward") && condition.message.contains("closed by the site's network team"), "{}", condition.message);
        assert!(!admits_ward(&policies, "web").await);

        // The network team lifts it: the system is released at the ward.
        vapbs.delete(&vap_name, &DeleteParams::default()).await.expect("delete binding");
        vaps.delete(&vap_name, &DeleteParams::default()).await.expect("delete policy");
        let done = wait_for(&plans, "release", "web at ward", WAIT, released_at("web", "ward")).await;
        let condition = done.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "GatesApplied").cloned().expect("GatesApplied");
        assert_eq!(condition.status, "True");
        ward_becomes(&policies, "web", true).await;
        operator.abort();
    })
    .await;
}

/// A NetworkPolicy someone else made with the name of a system's gate, before the plan:
/// the operator never takes it over (the forced apply replaced it silently); the system
/// is not released, the gate's error and `GatesApplied` name the policy, and the policy
/// stays as its owner made it. Once it is gone, lifeline's gate is applied.
#[tokio::test]
async fn a_network_policy_of_the_gates_name_made_by_someone_else_is_never_taken_over() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-foreign", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        let policies: Api<NetworkPolicy> = ns.api();
        let gate_name = policy_name("web");
        policies
            .create(
                &pp,
                &object(json!({
                    "metadata": { "name": gate_name, "labels": { "team": "network" } },
                    "spec": {
                        "podSelector": { "matchLabels": { "app": "web" } },
                        "policyTypes": ["Ingress"],
                        "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.99.0.0/16" } }] }]
                    }
                })),
            )
            .await
            .expect("the network team's policy");
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        ns.api::<ClinicalSystem>()
            .create(&pp, &object(support::gated_system("web", "web", 1)))
            .await
            .expect("web");
        let plans: Api<RecoveryPlan> = ns.api();
        plans
            .create(
                &pp,
                &staged_plan(
                    Some("commander"),
                    json!([
                        { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } }
                    ]),
                ),
            )
            .await
            .expect("plan");
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-foreign"),
        ));
        let held = wait_for(&plans, "release", "web's gate refused", WAIT, |p| {
            find_system(p, "web")
                .and_then(|w| w.gate.as_ref())
                .is_some_and(|g| g.error.is_some())
        })
        .await;
        let web = system_status(&held, "web");
        assert_ne!(
            web.released_stage.as_deref(),
            Some("it-validation"),
            "not released behind a policy that is not its gate"
        );
        let error = web.gate.clone().expect("gate").error.unwrap_or_default();
        assert!(
            error.contains(&format!("NetworkPolicy {}/{gate_name}", ns.name))
                && error.contains("is not lifeline's"),
            "{error}"
        );
        let condition = held
            .status
            .as_ref()
            .expect("status")
            .conditions
            .iter()
            .find(|c| c.type_ == "GatesApplied")
            .cloned()
            .expect("GatesApplied");
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", "ApplyFailed")
        );
        assert!(
            condition.message.contains(&gate_name),
            "{}",
            condition.message
        );
        // Theirs, as they made it: their label, their audience, nothing of lifeline's.
        let theirs = policies.get(&gate_name).await.expect("their policy");
        assert_eq!(
            theirs.metadata.labels.clone().unwrap_or_default(),
            [("team".to_string(), "network".to_string())].into(),
            "{theirs:?}"
        );
        let ingress = serde_json::to_string(&theirs.spec.as_ref().and_then(|s| s.ingress.clone()))
            .expect("json");
        assert!(
            ingress.contains("10.99.0.0/16")
                && !ingress.contains("10.1.0.0/16")
                && !ingress.contains("lifeline-system"),
            "{ingress}"
        );

        // The network team removes theirs: lifeline's gate is applied and web released.
        policies
            .delete(&gate_name, &DeleteParams::default())
            .await
            .expect("delete theirs");
        wait_for(
            &plans,
            "release",
            "web at it-validation",
            WAIT,
            released_at("web", "it-validation"),
        )
        .await;
        let ours = policies.get(&gate_name).await.expect("lifeline's gate");
        assert_eq!(
            ours.metadata
                .labels
                .clone()
                .unwrap_or_default()
                .get("app.kubernetes.io/managed-by")
                .cloned(),
            Some("lifeline".to_string()),
            "{ours:?}"
        );
        operator.abort();
    })
    .await;
}

/// Scales Deployment `name` to `replicas`.
async fn scale(ns: &TestNamespace, name: &str, replicas: i32) {
    ns.api::<k8s_openapi::api::apps::v1::Deployment>()
        .patch_scale(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({ "spec": { "replicas": replicas } })),
        )
        .await
        .unwrap_or_else(|e| panic!("scale {name} to {replicas}: {e}"));
}

/// A gated system for Deployment `name`, watched every second, depending on `deps`.
fn watched_system(name: &str, deps: &[&str], withdraw: bool) -> serde_json::Value {
    let mut s = support::gated_system(name, name, 1);
    s["spec"]["verify"]["retryInterval"] = json!("1s");
    s["spec"]["verify"]["monitorInterval"] = json!("1s");
    s["spec"]["dependsOn"] = json!(
        deps.iter()
            .map(|d| json!({ "name": d }))
            .collect::<Vec<_>>()
    );
    if withdraw {
        s["spec"]["release"]["withdrawOnFailure"] = json!(true);
    }
    s
}

#[tokio::test]
async fn a_released_system_that_fails_again_is_degraded_its_dependents_at_risk_and_staff_keep_access()
 {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-degraded", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        for name in ["pas", "epr"] {
            ns.api::<k8s_openapi::api::apps::v1::Deployment>()
                .create(&pp, &support::fake_deployment(name, 0))
                .await
                .expect("deployment");
        }
        let systems = ns.api::<ClinicalSystem>();
        systems
            .create(&pp, &object(watched_system("pas", &[], false)))
            .await
            .expect("pas");
        systems
            .create(&pp, &object(watched_system("epr", &["pas"], false)))
            .await
            .expect("epr");
        let plans: Api<RecoveryPlan> = ns.api();
        let mut plan = staged_plan(
            Some("commander"),
            json!([
                { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } },
                { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] } }
            ]),
        );
        plan.spec.systems.names = Some(vec!["pas".into(), "epr".into()]);
        plans.create(&pp, &plan).await.expect("plan");
        let operator = tokio::spawn(run(
            admin_client().await,
            RunOptions::local(&ns.name, "release-degraded"),
        ));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(&plans, "release", "Succeeded", WAIT, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase == PlanPhase::Succeeded)
        })
        .await;

        // Degraded within one monitor interval (1 s) of the check's target breaking, with
        // 2 s for the Deployment controller to see the scale and the status write: timed
        // on the clock the operator writes `startedAt` with (it runs in this process), and
        // on the watch that sees the status change.
        const MONITOR_INTERVAL: i64 = 1;
        const MARGIN: i64 = 2;
        let broken_at = k8s_openapi::jiff::Timestamp::now();
        scale(&ns, "pas", 0).await;
        let degraded = wait_for(&plans, "release", "pas Degraded", WAIT, |p| {
            find_system(p, "pas")
                .is_some_and(|s| s.phase == lifeline::api::v1alpha1::SystemPhase::Degraded)
        })
        .await;
        let seen_after_ms = (k8s_openapi::jiff::Timestamp::now() - broken_at)
            .total(k8s_openapi::jiff::Unit::Millisecond)
            .expect("milliseconds");
        let pas = system_status(&degraded, "pas");
        let since = pas
            .regressions
            .first()
            .expect("the regression")
            .started_at
            .0;
        assert!(
            since.as_second() >= broken_at.as_second()
                && since.as_second() <= broken_at.as_second() + MONITOR_INTERVAL + MARGIN,
            "Degraded since {since}, the target broken at {broken_at}"
        );
        assert!(
            seen_after_ms <= ((MONITOR_INTERVAL + MARGIN) * 1000) as f64,
            "Degraded seen {seen_after_ms} ms after the target broke"
        );
        assert_eq!(
            pas.released_stage.as_deref(),
            Some("ward"),
            "staff keep access"
        );
        assert!(
            pas.message
                .as_deref()
                .is_some_and(|m| m.contains("check 'ready' failing since")
                    && m.contains("scaled to 0")
                    && m.ends_with("staff keep access")),
            "{:?}",
            pas.message
        );
        assert_eq!(pas.regression_count, 1);
        eventually("epr at risk", WAIT, || {
            let plans = plans.clone();
            async move {
                let p = crate::support::read_plan(&plans, "release")
                    .await
                    .map_err(|e| e.to_string())?;
                match find_system(&p, "epr").and_then(|s| s.at_risk.clone()) {
                    Some(r) if r.ends_with("/pas is degraded") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
        // Staff keep access all through the regression: the ward's gate sampled once in
        // each of four monitor intervals while pas stays Degraded.
        let mut last = 0;
        for sample in 0..4 {
            let second = eventually("the next monitor interval", WAIT, || async move {
                let now = k8s_openapi::jiff::Timestamp::now().as_second();
                if now > last {
                    Ok(now)
                } else {
                    Err(format!("{now}"))
                }
            })
            .await;
            last = second;
            let p = crate::support::read_plan(&plans, "release")
                .await
                .expect("the plan");
            assert_eq!(
                find_system(&p, "pas").map(|s| s.phase),
                Some(lifeline::api::v1alpha1::SystemPhase::Degraded),
                "sample {sample}"
            );
            assert!(
                admits_ward(&policies, "pas").await,
                "the gate still admits the ward at sample {sample} (second {second})"
            );
        }
        assert_eq!(
            degraded.status.as_ref().expect("status").phase,
            PlanPhase::Succeeded
        );
        support::event_note(&ns, "SystemDegraded", WAIT, |n| {
            n.contains("/pas: degraded: check 'ready'")
        })
        .await;

        scale(&ns, "pas", 1).await;
        let back = wait_for(&plans, "release", "pas Released again", WAIT, |p| {
            find_system(p, "pas")
                .is_some_and(|s| s.phase == lifeline::api::v1alpha1::SystemPhase::Released)
        })
        .await;
        let pas = system_status(&back, "pas");
        let r = pas.regressions.first().cloned().expect("the regression");
        assert_eq!(r.check, "ready");
        assert!(r.ended_at.is_some() && r.seconds.is_some(), "{r:?}");
        assert!(!r.withdrawn);
        eventually("epr no longer at risk", WAIT, || {
            let plans = plans.clone();
            async move {
                let p = crate::support::read_plan(&plans, "release")
                    .await
                    .map_err(|e| e.to_string())?;
                match find_system(&p, "epr").map(|s| s.at_risk.clone()) {
                    Some(None) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
        support::event_note(&ns, "SystemRecovered", WAIT, |n| {
            n.contains("/pas: its checks pass again after")
        })
        .await;
        operator.abort();
    })
    .await;
}

#[tokio::test]
async fn with_withdraw_on_failure_a_regression_drops_the_gate_until_a_new_approval() {
    ensure_crds(&admin_client().await).await;
    with_namespace("release-withdraw", |ns: TestNamespace| async move {
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>().create(&pp, &support::fake_deployment("pas", 0)).await.expect("deployment");
        ns.api::<ClinicalSystem>().create(&pp, &object(watched_system("pas", &[], true))).await.expect("pas");
        let plans: Api<RecoveryPlan> = ns.api();
        let mut plan = staged_plan(Some("commander"), json!([
            { "name": "it-validation", "audience": { "ipBlocks": ["10.1.0.0/16"] } },
            { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] }, "approval": { "required": 1 } }
        ]));
        plan.spec.systems.names = Some(vec!["pas".into()]);
        plans.create(&pp, &plan).await.expect("plan");
        let operator = tokio::spawn(run(admin_client().await, RunOptions::local(&ns.name, "release-withdraw")));
        let policies: Api<NetworkPolicy> = ns.api();
        wait_for(&plans, "release", "pas at it-validation", WAIT, released_at("pas", "it-validation")).await;
        let mut ok = approval("ward-pas", "ward", "alice", &[], &[]);
        ok.spec.systems = vec!["pas".into()];
        support::create_approval(&ns, ok).await;
        wait_for(&plans, "release", "pas at ward", WAIT, released_at("pas", "ward")).await;
        ward_becomes(&policies, "pas", true).await;

        scale(&ns, "pas", 0).await;
        let withdrawn = wait_for(&plans, "release", "pas withdrawn", WAIT, |p| {
            find_system(p, "pas").is_some_and(|s| s.withdrawn_at.is_some())
        })
        .await;
        let pas = system_status(&withdrawn, "pas");
        assert_eq!(pas.phase, lifeline::api::v1alpha1::SystemPhase::Degraded);
        assert_eq!(pas.released_stage, None);
        assert!(pas.regressions[0].withdrawn);
        ward_becomes(&policies, "pas", false).await;

        // Passing again it comes back to IT validation; the ward waits for a new decision.
        let withdrawn_at = pas.withdrawn_at.clone().expect("withdrawn").0.as_second();
        scale(&ns, "pas", 1).await;
        let back = wait_for(&plans, "release", "pas back at it-validation, the ward awaiting", WAIT, |p| {
            released_at("pas", "it-validation")(p)
                && p.status.as_ref().is_some_and(|s| s.awaiting.iter().any(|a| a.stage == "ward"))
        })
        .await;
        let record = back.status.as_ref().expect("status").approvals.iter().find(|r| r.name == "ward-pas").cloned().expect("record");
        assert!(!record.accepted && record.reason.contains("gate was withdrawn for a regression"), "{record:?}");
        assert!(!admits_ward(&policies, "pas").await);
        eventually("a second after the withdrawal", WAIT, || async move {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            if now > withdrawn_at { Ok(()) } else { Err(format!("{now}")) }
        })
        .await;
        let mut again = approval("ward-pas-again", "ward", "alice", &[], &[]);
        again.spec.systems = vec!["pas".into()];
        support::create_approval(&ns, again).await;
        wait_for(&plans, "release", "pas at ward again", WAIT, released_at("pas", "ward")).await;
        ward_becomes(&policies, "pas", true).await;
        operator.abort();
    })
    .await;
}
