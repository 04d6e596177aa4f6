//! The admission policies of `manifests/operator/admission.yaml`, enforced by a real API server.
//!
//! Each live test runs with a copy of the shipped policies and bindings scoped to its own
//! namespace ([`support::policies`] says why, and how the copies differ from the shipped
//! file only in their names and namespace selectors, which
//! [`shipped_policies_parse_and_copies_keep_their_rules`] checks), so these tests exercise
//! the shipped rules. People get the ClusterRoles of `manifests/operator/people-rbac.yaml`
//! through RoleBindings in the test namespace, and act through impersonation.

use std::{future::Future, time::Duration};

use crate::support::{
    self, TestNamespace, admin_client, apply_manifests, client_as, event_notes, eventually, object,
    policies::{self, SETTLED, copy_name, create_settled, denied, scoped_copy, shipped},
    repo_root,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{Approval, PlanPhase, RecoveryPlan},
    controller::FIELD_MANAGER,
};
use serde_json::{Value, json};

/// The Approval policy (and its binding) in manifests/operator/admission.yaml.
const APPROVAL_POLICY: &str = "lifeline-approval-identity";
/// The Intervention policy (and its binding) in manifests/operator/admission.yaml.
const INTERVENTION_POLICY: &str = "lifeline-intervention-identity";
/// The RecoveryRecord policy (and its binding) in manifests/operator/admission.yaml.
const RECORD_POLICY: &str = "lifeline-record-writer";
/// The RecoveryProgress policy (and its binding) in manifests/operator/admission.yaml.
const PROGRESS_POLICY: &str = "lifeline-progress-writer";
/// The RecoveryPlan policy (and its binding) in manifests/operator/admission.yaml.
const PLAN_POLICY: &str = "lifeline-plan-requester";
/// The RecoveryDrill policy (and its binding) in manifests/operator/admission.yaml (its live tests
/// are in tests/cluster/drill.rs).
const DRILL_POLICY: &str = "lifeline-drill-staging-only";
/// The ClinicalSystem Job policy (and its binding) in manifests/operator/admission.yaml.
const JOBS_POLICY: &str = "lifeline-system-jobs";
/// The release policy (and its binding) in manifests/operator/admission.yaml.
const RELEASE_POLICY: &str = "lifeline-release-policy";
/// The staging-label policy (and its binding) in manifests/operator/admission.yaml.
const STAGING_POLICY: &str = "lifeline-staging-label";
/// The policy (and its binding) in manifests/operator/admission.yaml guarding the namespace
/// annotation that lists the ServiceAccounts ClinicalSystem Jobs may run as.
const JOB_ACCOUNTS_POLICY: &str = "lifeline-job-service-accounts";
/// The audience-label policy (and its binding) in manifests/operator/admission.yaml.
const AUDIENCE_POLICY: &str = "lifeline-audience-label";
/// The drill-plan policy (and its binding) in manifests/operator/admission.yaml.
const DRILL_PLANS_POLICY: &str = "lifeline-drill-plans";
/// The user the API server sees for the operator's ServiceAccount
/// (manifests/operator/serviceaccount.yaml), and its groups.
const OPERATOR: &str = "system:serviceaccount:lifeline-system:lifeline-operator";
const OPERATOR_GROUPS: &[&str] = &[
    "system:serviceaccounts",
    "system:serviceaccounts:lifeline-system",
];

/// The approver: lifeline-approver in the test namespace.
const ALICE: &str = "alice";
const ALICE_GROUPS: &[&str] = &["clinical-safety-officers"];
/// May create Approvals, but holds `approve` on no plan.
const MALLORY: &str = "mallory";
/// Holds `approve` on plan [`WARD_B`] only (resourceNames).
const BOB: &str = "bob";
/// lifeline-operator-admin in the test namespace: creates the plans.
const CAROL: &str = "carol";
const CAROL_GROUPS: &[&str] = &["lifeline-ops"];
/// Another clinical safety officer: lifeline-approver in the test namespace.
const DANA: &str = "dana";
/// An approver outside the clinical safety officers: lifeline-approver, a porter.
const EVE: &str = "eve";
const EVE_GROUPS: &[&str] = &["porters"];
/// The incident commander: lifeline-operator-admin and lifeline-approver, so admission
/// lets them approve the plan they requested; only the operator can refuse it.
const IC: &str = "ic";
/// May write ClinicalSystems and create Jobs in the test namespace (the Role job-author).
const FRANK: &str = "frank";
/// May create, change and delete every lifeline kind in the test namespace, records
/// included, but does not hold `append` (the Role record-editor).
const GRACE: &str = "grace";
/// The plans the approvals name.
const WARD_A: &str = "ward-a";
const WARD_B: &str = "ward-b";

// ---------------------------------------------------------------------------------------
// The shipped file and its per-namespace copies.
// ---------------------------------------------------------------------------------------

/// The shipped documents of `kind`.
fn shipped_of(kind: &str) -> Vec<Value> {
    shipped()
        .into_iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

#[test]
fn shipped_policies_parse_and_copies_keep_their_rules() {
    let policies = shipped_of("ValidatingAdmissionPolicy");
    let bindings = shipped_of("ValidatingAdmissionPolicyBinding");
    assert_eq!(shipped().len(), 24, "twelve policies and twelve bindings");
    let names = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .map(|d| {
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names(&policies),
        [
            APPROVAL_POLICY,
            INTERVENTION_POLICY,
            RECORD_POLICY,
            PROGRESS_POLICY,
            PLAN_POLICY,
            DRILL_POLICY,
            JOBS_POLICY,
            RELEASE_POLICY,
            STAGING_POLICY,
            JOB_ACCOUNTS_POLICY,
            AUDIENCE_POLICY,
            DRILL_PLANS_POLICY
        ]
    );
    assert_eq!(
        names(&bindings),
        [
            APPROVAL_POLICY,
            INTERVENTION_POLICY,
            RECORD_POLICY,
            PROGRESS_POLICY,
            PLAN_POLICY,
            DRILL_POLICY,
            JOBS_POLICY,
            RELEASE_POLICY,
            STAGING_POLICY,
            JOB_ACCOUNTS_POLICY,
            AUDIENCE_POLICY,
            DRILL_PLANS_POLICY
        ]
    );

    for (p, (resource, operations)) in policies.iter().zip([
        ("approvals", json!(["CREATE", "UPDATE"])),
        ("interventions", json!(["CREATE", "UPDATE"])),
        ("recoveryrecords", json!(["CREATE", "UPDATE", "DELETE"])),
        // Not DELETE: the garbage collector deletes a plan's progress with the plan.
        ("recoveryprogresses", json!(["CREATE", "UPDATE"])),
        ("recoveryplans", json!(["CREATE", "UPDATE"])),
        // Only creation: a drill stays deletable (its finalizer removable) after the
        // namespace loses its label.
        ("recoverydrills", json!(["CREATE"])),
        ("clinicalsystems", json!(["CREATE", "UPDATE"])),
        // Stages are immutable: a plan's creation is all there is to check.
        ("recoveryplans", json!(["CREATE"])),
        ("namespaces", json!(["CREATE", "UPDATE"])),
        ("namespaces", json!(["CREATE", "UPDATE"])),
        ("namespaces", json!(["CREATE", "UPDATE"])),
        ("recoveryplans", json!(["CREATE", "UPDATE"])),
    ]) {
        assert_eq!(p["spec"]["failurePolicy"], "Fail", "{p:#}");
        // Only the main resource: the operator's writes to <resource>/status pass.
        let (group, version) = if resource == "namespaces" {
            ("", "v1")
        } else {
            ("lifeline.dev", "*")
        };
        assert_eq!(
            p["spec"]["matchConstraints"]["resourceRules"],
            json!([{
                "apiGroups": [group],
                "apiVersions": [version],
                "operations": operations,
                "resources": [resource],
            }]),
            "{p:#}"
        );
        let validations = p["spec"]["validations"].as_array().expect("validations");
        for v in validations {
            let message = v["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("spec")
                    || message.starts_with("metadata.namespace")
                    || message.starts_with("metadata.labels")
                    || message.starts_with("metadata.annotations")
                    || message.contains("\"approve\""),
                "a denial names the field or the verb: {v:#}"
            );
        }
    }
    for b in &bindings {
        assert_eq!(b["spec"]["validationActions"], json!(["Deny"]), "{b:#}");
        assert!(
            b["spec"].get("matchResources").is_none(),
            "the shipped bindings apply cluster-wide: {b:#}"
        );
    }

    // The typed copies carry every field of the shipped file (nothing unknown was
    // dropped in parsing) and differ from it only in the rewritten fields.
    let ns = "lt-some-test-1";
    let (copies, binding_copies) = scoped_copy(ns);
    for (shipped, copy) in policies.iter().zip(&copies) {
        let copy = serde_json::to_value(copy).expect("serialize");
        assert_eq!(copy["spec"], shipped["spec"]);
        let name = shipped["metadata"]["name"].as_str().unwrap_or_default();
        assert_eq!(copy["metadata"]["name"], copy_name(name, ns));
        assert_eq!(copy["metadata"]["labels"], shipped["metadata"]["labels"]);
    }
    for (shipped, copy) in bindings.iter().zip(&binding_copies) {
        let mut copy = serde_json::to_value(copy).expect("serialize");
        let name = shipped["metadata"]["name"].as_str().unwrap_or_default();
        assert_eq!(copy["spec"]["policyName"], copy_name(name, ns));
        assert_eq!(
            copy["spec"]["matchResources"],
            json!({ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ns } } })
        );
        copy["spec"]["policyName"] = shipped["spec"]["policyName"].clone();
        copy["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("matchResources");
        assert_eq!(copy["spec"], shipped["spec"]);
    }
}

// ---------------------------------------------------------------------------------------
// Live setup.
// ---------------------------------------------------------------------------------------

/// Runs `body` with the shipped policies in force in a fresh namespace
/// ([`support::policies::with_policies`]) and the people granted their roles there.
async fn with_policies<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = ()>,
{
    support::policies::with_policies(test, |ns| async move {
        grant_roles(&ns).await;
        body(ns).await;
    })
    .await;
}

/// RoleBindings in the test namespace: alice is an approver, carol an operator admin,
/// mallory may create Approvals without `approve`, bob holds `approve` on ward-b only.
async fn grant_roles(ns: &TestNamespace) {
    let roles = ns.api::<Role>();
    let bindings = ns.api::<RoleBinding>();
    let pp = PostParams::default();
    for (name, rules) in [
        (
            "approval-creator",
            json!([{ "apiGroups": ["lifeline.dev"], "resources": ["approvals"], "verbs": ["create"] }]),
        ),
        (
            "job-author",
            json!([
                { "apiGroups": ["lifeline.dev"], "resources": ["clinicalsystems"], "verbs": ["create", "update", "patch", "get"] },
                { "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"] }
            ]),
        ),
        (
            "record-editor",
            json!([{ "apiGroups": ["lifeline.dev"], "resources": ["recoveryrecords", "recoveryprogresses", "recoveryplans", "approvals", "interventions", "clinicalsystems"], "verbs": ["get", "list", "create", "update", "patch", "delete"] }]),
        ),
        (
            "approve-ward-b",
            json!([
                { "apiGroups": ["lifeline.dev"], "resources": ["approvals"], "verbs": ["create"] },
                { "apiGroups": ["lifeline.dev"], "resources": ["recoveryplans"], "verbs": ["approve"], "resourceNames": [WARD_B] }
            ]),
        ),
    ] {
        let role: Role = object(json!({ "metadata": { "name": name }, "rules": rules }));
        roles.create(&pp, &role).await.expect("create Role");
    }
    for (user, kind, role) in [
        (ALICE, "ClusterRole", "lifeline-approver"),
        (DANA, "ClusterRole", "lifeline-approver"),
        (EVE, "ClusterRole", "lifeline-approver"),
        (IC, "ClusterRole", "lifeline-approver"),
        (IC, "ClusterRole", "lifeline-operator-admin"),
        (CAROL, "ClusterRole", "lifeline-operator-admin"),
        (MALLORY, "Role", "approval-creator"),
        (BOB, "Role", "approve-ward-b"),
        (FRANK, "Role", "job-author"),
        (GRACE, "Role", "record-editor"),
    ] {
        let binding: RoleBinding = object(json!({
            "metadata": { "name": format!("{user}-{role}") },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
        }));
        bindings
            .create(&pp, &binding)
            .await
            .expect("create RoleBinding");
    }
}

/// An Approval of stage `release` of `plan`, naming `username` and `groups`.
fn approval(name: &str, plan: &str, username: &str, groups: &[&str]) -> Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name },
        "spec": {
            "plan": plan,
            "stage": "release",
            "systems": ["web"],
            "decision": "approve",
            "approver": { "username": username, "groups": groups }
        }
    }))
}

/// A RecoveryPlan `name` with `requestedBy` (when given).
fn plan(name: &str, requested_by: Option<&str>) -> RecoveryPlan {
    let mut v = support::recovery_plan(name, &["his"]);
    if let Some(r) = requested_by {
        v["spec"]["requestedBy"] = json!(r);
    }
    object(v)
}

/// Asserts the outcome of creating `obj` through `api` is a denial (`code`, `needle`).
async fn assert_denied<K>(api: &Api<K>, obj: &K, code: u16, needle: &str)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let result = create_settled(api, obj, true).await;
    if let Err(e) = denied(result, code, needle) {
        panic!(
            "creating {} must be denied ({code}, {needle:?}): {e}",
            obj.name_any()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Live tests.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn approvals_name_their_creator_who_may_approve_the_plan() {
    with_policies("approvals-identity", |ns| async move {
        let carol = client_as(CAROL, CAROL_GROUPS).await;
        let alice = client_as(ALICE, ALICE_GROUPS).await;
        let plans = ns.api_with::<RecoveryPlan>(&carol);
        for name in [WARD_A, WARD_B] {
            create_settled(&plans, &plan(name, Some(CAROL)), false)
                .await
                .unwrap_or_else(|e| panic!("carol creates plan {name}: {e}"));
        }
        let as_alice = ns.api_with::<Approval>(&alice);

        // A forged username; also the probe that the policy is in effect.
        let forged = approval("forged-user", WARD_A, MALLORY, ALICE_GROUPS);
        eventually("the Approval policy to take effect", SETTLED, || {
            let (api, obj) = (as_alice.clone(), forged.clone());
            async move {
                denied(
                    create_settled(&api, &obj, true).await,
                    403,
                    "spec.approver.username must be the requesting user (alice), not mallory",
                )
            }
        })
        .await;

        // Forged groups: one too many, or one missing.
        assert_denied(
            &as_alice,
            &approval(
                "extra-group",
                WARD_A,
                ALICE,
                &["clinical-safety-officers", "lifeline-admins"],
            ),
            403,
            "spec.approver.groups must be the requesting user's groups [clinical-safety-officers]",
        )
        .await;
        assert_denied(
            &as_alice,
            &approval("missing-group", WARD_A, ALICE, &[]),
            403,
            "spec.approver.groups must be the requesting user's groups [clinical-safety-officers]",
        )
        .await;

        // The genuine approver, listing system:authenticated or not, in any order.
        create_settled(
            &as_alice,
            &approval(
                "with-all-groups",
                WARD_A,
                ALICE,
                &["system:authenticated", "clinical-safety-officers"],
            ),
            true,
        )
        .await
        .expect("alice listing system:authenticated first is admitted");
        let created = create_settled(
            &as_alice,
            &approval("alice-ward-a", WARD_A, ALICE, ALICE_GROUPS),
            false,
        )
        .await
        .expect("the genuine approver is admitted");
        assert_eq!(created.spec.approver.username, ALICE);

        // Editing the Approval afterwards, even as admin: the spec is immutable (the
        // CRD's own rule answers first; the policy's rule says the same).
        let approvals = ns.api::<Approval>();
        let edit = approvals
            .patch(
                "alice-ward-a",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "comment": "changed my mind" } })),
            )
            .await;
        if let Err(e) = denied(edit, 422, "immutable") {
            panic!("editing an Approval's spec must be rejected: {e}");
        }
        // Its metadata may change (labels, finalizers).
        approvals
            .patch(
                "alice-ward-a",
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "audited": "yes" } } })),
            )
            .await
            .expect("a label on an Approval is admitted");

        // A user who may create Approvals but holds no `approve`.
        let mallory = client_as(MALLORY, &[]).await;
        assert_denied(
            &ns.api_with::<Approval>(&mallory),
            &approval("mallory-ward-a", WARD_A, MALLORY, &[]),
            403,
            "user mallory may not approve recoveryplans/ward-a",
        )
        .await;
        assert_denied(
            &ns.api_with::<Approval>(&mallory),
            &approval("mallory-ward-a", WARD_A, MALLORY, &[]),
            403,
            "needs the RBAC verb \"approve\"",
        )
        .await;

        // `approve` on a different plan only.
        let bob = ns.api_with::<Approval>(&client_as(BOB, &[]).await);
        assert_denied(
            &bob,
            &approval("bob-ward-a", WARD_A, BOB, &[]),
            403,
            "user bob may not approve recoveryplans/ward-a",
        )
        .await;
        create_settled(&bob, &approval("bob-ward-b", WARD_B, BOB, &[]), false)
            .await
            .expect("bob approves the plan he holds `approve` on");
    })
    .await;
}

#[tokio::test]
async fn plans_name_their_requester_and_status_writes_pass() {
    with_policies("plan-requester", |ns| async move {
        let carol = client_as(CAROL, CAROL_GROUPS).await;
        let plans = ns.api_with::<RecoveryPlan>(&carol);

        // A forged requester; also the probe that the policy is in effect.
        eventually("the RecoveryPlan policy to take effect", SETTLED, || {
            let plans = plans.clone();
            async move {
                denied(
                    create_settled(&plans, &plan("forged", Some(ALICE)), true).await,
                    403,
                    "spec.requestedBy must be the requesting user (carol), not alice",
                )
            }
        })
        .await;
        assert_denied(
            &plans,
            &plan("anonymous", None),
            422,
            "spec.requestedBy is required: set it to the requesting user (carol)",
        )
        .await;

        // The right requester.
        let created = create_settled(&plans, &plan(WARD_A, Some(CAROL)), false)
            .await
            .expect("a plan requested by its creator is admitted");
        assert_eq!(created.spec.requested_by.as_deref(), Some(CAROL));

        // Changing the requester later, by anyone.
        for api in [&plans, &ns.api::<RecoveryPlan>()] {
            let change = api
                .patch(
                    WARD_A,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "requestedBy": "dave" } })),
                )
                .await;
            if let Err(e) = denied(
                change,
                422,
                "spec.requestedBy is immutable: it is \"carol\", not \"dave\"",
            ) {
                panic!("changing spec.requestedBy must be rejected: {e}");
            }
        }
        // Other changes pass: the operator admin pauses the plan.
        let paused = plans
            .patch(
                WARD_A,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "paused": true } })),
            )
            .await
            .expect("pausing the plan is admitted");
        assert!(paused.spec.paused);

        // The operator's status write (server-side apply on the status subresource).
        let status = json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "RecoveryPlan",
            "status": { "phase": "Paused", "observedGeneration": paused.metadata.generation }
        });
        let written = ns
            .api::<RecoveryPlan>()
            .patch_status(
                WARD_A,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&status),
            )
            .await
            .expect("a status write is not checked by the policy");
        assert_eq!(written.status.map(|s| s.phase), Some(PlanPhase::Paused));
    })
    .await;
}

/// A decision on `stage` of `plan` by `who` (in `groups`), acknowledging `acks`.
fn decision(
    name: &str,
    plan: &str,
    stage: &str,
    (who, groups): (&str, &[&str]),
    decision: &str,
    acks: &[&str],
    comment: &str,
) -> Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name },
        "spec": {
            "plan": plan, "stage": stage, "systems": ["web"], "decision": decision, "comment": comment,
            "acknowledged": acks,
            "approver": { "username": who, "groups": groups }
        }
    }))
}

/// Creates `approval` as `who` (in `groups`), through the shipped policy, naming its
/// plan's uid as `lifeline approve` does.
async fn decide(ns: &TestNamespace, (who, groups): (&str, &[&str]), approval: &Approval) {
    let api = ns.api_with::<Approval>(&client_as(who, groups).await);
    let mut approval = approval.clone();
    if let Ok(plan) = ns.api::<RecoveryPlan>().get(&approval.spec.plan).await {
        approval.spec.plan_uid = plan.metadata.uid;
    }
    let approval = &approval;
    create_settled(&api, approval, false)
        .await
        .unwrap_or_else(|e| panic!("{who} creates Approval {}: {e}", approval.name_any()));
}

/// The plan's status once `ready` holds for it.
async fn plan_until(
    ns: &TestNamespace,
    plan: &str,
    what: &str,
    ready: impl Fn(&lifeline::api::v1alpha1::RecoveryPlanStatus) -> bool,
) -> lifeline::api::v1alpha1::RecoveryPlanStatus {
    support::wait_for(&ns.api::<RecoveryPlan>(), plan, what, SETTLED, |p| {
        p.status.as_ref().is_some_and(&ready)
    })
    .await
    .status
    .unwrap_or_default()
}

/// The adversarial cases that admission lets through and the operator decides, with the
/// shipped policies in force and every person acting as themselves (impersonated): the
/// requester approving their own plan, an approver outside `approverGroups`, a missing
/// checklist item, the same person twice against a quorum of two, two people meeting it,
/// and a rejection halting the next stage, each with its exact record in the plan's
/// status, and an Event for each stage that comes to await approval.
#[tokio::test]
async fn people_decide_stages_through_the_shipped_policy_and_the_operator() {
    with_policies("people-decide", |ns| async move {
        const PLAN: &str = "ward-c";
        const ACK: &str = "Paper records back-entered";
        let cso: &[&str] = &["clinical-safety-officers"];
        let pp = PostParams::default();
        ns.api::<k8s_openapi::api::apps::v1::Deployment>()
            .create(&pp, &support::fake_deployment("web", 0))
            .await
            .expect("deployment");
        ns.api::<lifeline::api::v1alpha1::ClinicalSystem>()
            .create(&pp, &object(support::gated_system("web", "web", 1)))
            .await
            .expect("system");

        // The incident commander declares the recovery (the policy checks requestedBy).
        let plans = ns.api_with::<RecoveryPlan>(&client_as(IC, cso).await);
        let mut p = support::recovery_plan(PLAN, &["web"]);
        p["spec"]["requestedBy"] = json!(IC);
        p["spec"]["stages"] = json!([
            { "name": "it-validation", "audience": { "namespaceSelector": { "matchLabels": { "lifeline.dev/audience": "it-validation" } } } },
            { "name": "pilot-ward", "audience": { "ipBlocks": ["10.20.7.0/24"] },
              "approval": { "required": 2, "approverGroups": ["clinical-safety-officers"] },
              "checklist": [ACK] },
            { "name": "all-sites", "audience": { "ipBlocks": ["10.10.0.0/16"] },
              "approval": { "required": 1 } }
        ]);
        let plan: RecoveryPlan = object(p);
        eventually("the RecoveryPlan policy to take effect", SETTLED, || {
            let (plans, plan) = (plans.clone(), plan.clone());
            async move {
                let mut forged = plan;
                forged.metadata.name = Some("forged".into());
                forged.spec.requested_by = Some(ALICE.into());
                denied(create_settled(&plans, &forged, true).await, 403, "spec.requestedBy")
            }
        })
        .await;
        create_settled(&plans, &plan, false)
            .await
            .expect("the incident commander creates the plan");
        // The Approval policy is in force before anyone decides.
        let as_eve = ns.api_with::<Approval>(&client_as(EVE, EVE_GROUPS).await);
        eventually("the Approval policy to take effect", SETTLED, || {
            let as_eve = as_eve.clone();
            let forged = decision("forged", PLAN, "pilot-ward", (ALICE, cso), "approve", &[ACK], "");
            async move {
                denied(create_settled(&as_eve, &forged, true).await, 403, "spec.approver.username")
            }
        })
        .await;

        let operator = tokio::spawn(lifeline::controller::run(
            admin_client().await,
            lifeline::controller::RunOptions::local(&ns.name, "people-decide"),
        ));
        let released = |s: &lifeline::api::v1alpha1::RecoveryPlanStatus| {
            s.systems.first().and_then(|x| x.released_stage.clone())
        };
        plan_until(&ns, PLAN, "released at it-validation", |s| {
            released(s).as_deref() == Some("it-validation")
        })
        .await;

        // Admitted by the policy (each names themselves and holds `approve`), ignored by
        // the operator.
        for (who, approval) in [
            (
                (IC, cso),
                decision("p1-ic", PLAN, "pilot-ward", (IC, cso), "approve", &[ACK], "all good"),
            ),
            (
                (EVE, EVE_GROUPS),
                decision("p2-eve", PLAN, "pilot-ward", (EVE, EVE_GROUPS), "approve", &[ACK], "fine by me"),
            ),
            (
                (ALICE, cso),
                decision("p3-alice-no-ack", PLAN, "pilot-ward", (ALICE, cso), "approve", &[], "looks fine"),
            ),
            (
                (ALICE, cso),
                decision("p4-alice", PLAN, "pilot-ward", (ALICE, cso), "approve", &[ACK], "results checked"),
            ),
            (
                (ALICE, cso),
                decision("p5-alice-again", PLAN, "pilot-ward", (ALICE, cso), "approve", &[ACK], "really sure"),
            ),
        ] {
            decide(&ns, who, &approval).await;
        }
        let status = plan_until(&ns, PLAN, "five approvals recorded", |s| s.approvals.len() == 5).await;
        let again = format!("ignored: alice has already approved {}/web at this stage", ns.name);
        let records: Vec<(&str, &str, bool, &str)> = status
            .approvals
            .iter()
            .map(|r| (r.name.as_str(), r.approver.as_str(), r.accepted, r.reason.as_str()))
            .collect();
        assert_eq!(
            records,
            [
                ("p1-ic", IC, false, "ignored: approver is the plan's requester"),
                ("p2-eve", EVE, false, "ignored: approver is in none of the groups clinical-safety-officers"),
                ("p3-alice-no-ack", ALICE, false, "ignored: checklist not acknowledged: Paper records back-entered"),
                ("p4-alice", ALICE, true, "accepted"),
                ("p5-alice-again", ALICE, false, again.as_str()),
            ]
        );
        // The same person twice is not a quorum of two: nothing released, in the same
        // status that recorded the approvals.
        assert_eq!(released(&status).as_deref(), Some("it-validation"));
        let awaiting: Vec<String> = status.awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            awaiting,
            ["stage pilot-ward awaits 1 more approval (of 2) from clinical-safety-officers for web"]
        );

        // A second person meets the quorum; all-sites then awaits, and is rejected.
        // Dana approves with `lifeline approve`, which asks the API server who she is
        // (her groups include system:authenticated, which the policy allows).
        let dana = client_as(DANA, cso).await;
        let recorded = eventually("dana's approval through the CLI", SETTLED, || {
            let (dana, ns) = (dana.clone(), ns.name.clone());
            async move {
                lifeline::cli::approve::decide(
                    dana, &ns, PLAN, "pilot-ward", vec![], lifeline::api::v1alpha1::Decision::Approve,
                    Some("ward 7 ready".into()), vec![ACK.into()],
                    |summary, _, me| {
                        assert!(summary.contains("/web (Released):"), "{summary}");
                        assert_eq!(me.username, DANA);
                        Ok(true)
                    },
                )
                .await
                .map_err(|e| format!("{e:#}"))
            }
        })
        .await;
        let status = plan_until(&ns, PLAN, "released at pilot-ward", |s| {
            released(s).as_deref() == Some("pilot-ward")
        })
        .await;
        let counted = status.approvals.iter().find(|a| a.name == recorded).expect("recorded");
        assert_eq!((counted.approver.as_str(), counted.accepted, counted.reason.as_str()), (DANA, true, "accepted"));
        decide(
            &ns,
            (DANA, cso),
            &decision("s1-dana", PLAN, "all-sites", (DANA, cso), "reject", &[], "Oldham's interface queue is not drained"),
        )
        .await;
        let status = plan_until(&ns, PLAN, "all-sites halted", |s| {
            s.approvals.iter().any(|a| a.name == "s1-dana")
        })
        .await;
        let awaiting: Vec<String> = status.awaiting.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            awaiting,
            ["stage all-sites halted for web: rejected by dana: Oldham's interface queue is not drained"]
        );
        assert_eq!(released(&status).as_deref(), Some("pilot-ward"), "a rejection holds the system at the stage");
        let halted = status.approvals.iter().find(|a| a.name == "s1-dana").expect("recorded");
        assert_eq!(
            (halted.accepted, halted.reason.clone()),
            (true, format!("rejected: holds {}/web at this stage", ns.name))
        );
        // An approval made after the rejection, by the stage's quorum (one), lifts it;
        // both decisions stay in the record. Creation is recorded to the second: the
        // approval is made once the rejection's second is over.
        let rejected_at = halted.at.clone().expect("created").0;
        eventually("the second of the rejection to pass", SETTLED, || async move {
            if k8s_openapi::jiff::Timestamp::now().as_second() > rejected_at.as_second() {
                Ok(())
            } else {
                Err("same second".to_string())
            }
        })
        .await;
        decide(
            &ns,
            (ALICE, cso),
            &decision("s2-alice", PLAN, "all-sites", (ALICE, cso), "approve", &[], "queue drained now"),
        )
        .await;
        let status = plan_until(&ns, PLAN, "all-sites released after the rejection is lifted", |s| {
            s.systems.first().and_then(|x| x.released_stage.as_deref()) == Some("all-sites")
        })
        .await;
        let lifted = status.approvals.iter().find(|a| a.name == "s2-alice").expect("recorded");
        assert_eq!((lifted.accepted, lifted.reason.as_str()), (true, "accepted"));
        assert!(status.approvals.iter().any(|a| a.name == "s1-dana" && a.accepted), "the rejection stays in the record");

        // One Event per stage that came to await approval, and one for the rejection.
        let awaited = eventually("an Event for each stage awaiting approval", SETTLED, || {
            let ns = &ns;
            async move {
                let notes = event_notes(ns, "AwaitingApproval").await;
                if notes.len() >= 2 { Ok(notes) } else { Err(format!("{notes:?}")) }
            }
        })
        .await;
        assert_eq!(
            awaited,
            [
                "stage all-sites awaits 1 more approval (of 1) from anyone with the approve verb but the requester for web",
                "stage pilot-ward awaits 2 more approvals (of 2) from clinical-safety-officers for web",
            ]
        );
        let rejected = eventually("the StageRejected Event", SETTLED, || {
            let ns = &ns;
            async move {
                let notes = event_notes(ns, "StageRejected").await;
                if notes.is_empty() { Err("none yet".to_string()) } else { Ok(notes) }
            }
        })
        .await;
        assert_eq!(
            rejected,
            ["stage all-sites halted for web: rejected by dana: Oldham's interface queue is not drained"]
        );
        operator.abort();
    })
    .await;
}

/// A pod spec that meets Pod Security `restricted`.
fn restricted_pod() -> Value {
    json!({
        "restartPolicy": "Never",
        "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [{
            "name": "restore", "image": "registry.example/pg-restore:2.3",
            "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } }
        }]
    })
}

/// The ClinicalSystem `name` whose restore step `restore` runs a Job with `pod` as its
/// pod spec.
fn system_with_job(name: &str, pod: Value) -> lifeline::api::v1alpha1::ClinicalSystem {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
        "metadata": { "name": name },
        "spec": {
            "displayName": "PAS", "tier": "critical", "recoveryTimeObjective": "1h",
            "restore": { "steps": [
                { "name": "restore", "job": { "template": { "spec": { "template": { "spec": pod } } } } }
            ]}
        }
    }))
}

/// A container that meets Pod Security `restricted`, its security context with `extra`.
fn extra_container(extra: Value) -> Value {
    let mut sc = json!({ "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } });
    if let (Value::Object(sc), Value::Object(extra)) = (&mut sc, extra) {
        sc.extend(extra);
    }
    json!({ "name": "prepare", "image": "registry.example/pg-restore:2.3", "securityContext": sc })
}

/// `restricted_pod()` with `path` (a JSON pointer; its parent exists) set to `value`.
fn pod_with(path: &str, value: Value) -> Value {
    let mut pod = restricted_pod();
    let (parent, key) = path.rsplit_once('/').expect("a pointer");
    let parent = pod
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent} in the pod"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("{path}: the parent is neither object nor array"),
    }
    pod
}

#[tokio::test]
async fn a_clinical_system_runs_only_jobs_its_author_could_run_and_pod_security_allows() {
    with_policies("admission-jobs", |ns| async move {
        use lifeline::api::v1alpha1::ClinicalSystem;
        let carol = client_as(CAROL, CAROL_GROUPS).await;
        let frank = client_as(FRANK, &[]).await;
        let as_carol = ns.api_with::<ClinicalSystem>(&carol);
        let as_frank = ns.api_with::<ClinicalSystem>(&frank);

        // The operator admin may write ClinicalSystems but not create Jobs: no Job step
        // makes the operator create one for them.
        // (Also the probe that the policy is in effect.)
        let needle = format!(
            "spec.restore.steps{{restore}}.job: user {CAROL} may not create Jobs in namespace {}",
            ns.name
        );
        eventually("the ClinicalSystem Job policy to take effect", SETTLED, || {
            let (as_carol, needle) = (as_carol.clone(), needle.clone());
            async move {
                denied(
                    create_settled(&as_carol, &system_with_job("pas", restricted_pod()), true).await,
                    403,
                    &needle,
                )
            }
        })
        .await;
        let mut plain = system_with_job("plain", restricted_pod());
        plain.spec.restore = None;
        create_settled(&as_carol, &plain, false).await.expect("carol's system without a Job");

        // Someone who may create Jobs still gets only restricted pods, as the default
        // ServiceAccount.
        let e = "spec.restore.steps{restore}.job: ";
        let restricted = [
            (pod_with("/hostPID", json!(true)), "spec.template.spec may not set hostNetwork, hostPID or hostIPC"),
            (pod_with("/serviceAccountName", json!("lifeline-operator")), "spec.template.spec.serviceAccountName must be one of [default]"),
            (
                pod_with("/volumes", json!([{ "name": "root", "hostPath": { "path": "/" } }])),
                "spec.template.spec.volumes may be only configMap",
            ),
            (pod_with("/containers/0/securityContext/privileged", json!(true)), "containers may not set securityContext.privileged"),
            (pod_with("/containers/0/securityContext/allowPrivilegeEscalation", json!(true)), "every container must set securityContext.allowPrivilegeEscalation: false"),
            (pod_with("/containers/0/securityContext/capabilities", json!({ "add": ["SYS_ADMIN"], "drop": ["ALL"] })), "every container must set securityContext.capabilities.drop: [ALL]"),
            (pod_with("/securityContext/runAsNonRoot", json!(false)), "set securityContext.runAsNonRoot: true"),
            (pod_with("/securityContext/seccompProfile/type", json!("Unconfined")), "set securityContext.seccompProfile.type: RuntimeDefault"),
            (pod_with("/containers/0/ports", json!([{ "containerPort": 80, "hostPort": 80 }])), "containers may not set ports[].hostPort"),
            (pod_with("/securityContext/seLinuxOptions", json!({ "type": "spc_t" })), "securityContext.seLinuxOptions (of the pod or a container) may set type only to"),
            (pod_with("/containers/0/securityContext/seLinuxOptions", json!({ "user": "system_u" })), "securityContext.seLinuxOptions (of the pod or a container) may set type only to"),
            (pod_with("/containers/0/securityContext/procMount", json!("Unmasked")), "containers may set securityContext.procMount only to Default"),
            (pod_with("/securityContext/sysctls", json!([{ "name": "kernel.msgmax", "value": "65536" }])), "spec.template.spec.securityContext.sysctls may name only"),
            (pod_with("/securityContext/appArmorProfile", json!({ "type": "Unconfined" })), "securityContext.appArmorProfile.type (of the pod or a container) may not be Unconfined"),
            (pod_with("/containers/0/securityContext/appArmorProfile", json!({ "type": "Unconfined" })), "securityContext.appArmorProfile.type (of the pod or a container) may not be Unconfined"),
            (pod_with("/securityContext/windowsOptions", json!({ "hostProcess": true })), "securityContext.windowsOptions.hostProcess (of the pod or a container) may not be true"),
            (pod_with("/containers/0/securityContext/windowsOptions", json!({ "hostProcess": true })), "securityContext.windowsOptions.hostProcess (of the pod or a container) may not be true"),
            // Init and ephemeral containers are held to the same.
            (pod_with("/initContainers", json!([extra_container(json!({ "procMount": "Unmasked" }))])), "containers may set securityContext.procMount only to Default"),
            (pod_with("/ephemeralContainers", json!([extra_container(json!({ "seLinuxOptions": { "type": "spc_t" } }))])), "securityContext.seLinuxOptions (of the pod or a container) may set type only to"),
            (pod_with("/initContainers", json!([extra_container(json!({ "appArmorProfile": { "type": "Unconfined" } }))])), "securityContext.appArmorProfile.type (of the pod or a container) may not be Unconfined"),
        ];
        for (pod, needle) in restricted {
            assert_denied(&as_frank, &system_with_job("pas", pod), 403, &format!("{e}{needle}")).await;
        }
        let check: ClinicalSystem = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": "lims" },
            "spec": {
                "displayName": "LIMS", "tier": "critical", "recoveryTimeObjective": "1h",
                "verify": { "checks": [{ "name": "journey", "job": { "template": { "spec": {
                    "template": { "spec": pod_with("/hostNetwork", json!(true)) } } } } }] }
            }
        }));
        assert_denied(&as_frank, &check, 403, "spec.verify.checks{journey}.job: spec.template.spec may not set hostNetwork").await;
        // The older AppArmor annotation on the pod template says unconfined too.
        let mut annotated = system_with_job("pas", restricted_pod());
        annotated.spec.restore.as_mut().expect("restore").steps[0] = object(json!({
            "name": "restore",
            "job": { "template": { "spec": { "template": {
                "metadata": { "annotations": { "container.apparmor.security.beta.kubernetes.io/restore": "unconfined" } },
                "spec": restricted_pod()
            } } } }
        }));
        assert_denied(&as_frank, &annotated, 403, "spec.restore.steps{restore}.job: securityContext.appArmorProfile.type (of the pod or a container) may not be Unconfined, nor a container.apparmor").await;
        // What restricted allows of the same fields is admitted.
        let mut allowed = restricted_pod();
        allowed["securityContext"]["seLinuxOptions"] = json!({ "type": "container_t", "level": "s0:c123,c456" });
        allowed["securityContext"]["sysctls"] = json!([{ "name": "net.ipv4.ip_unprivileged_port_start", "value": "0" }]);
        allowed["securityContext"]["appArmorProfile"] = json!({ "type": "RuntimeDefault" });
        allowed["securityContext"]["windowsOptions"] = json!({ "hostProcess": false });
        allowed["containers"][0]["securityContext"]["procMount"] = json!("Default");
        allowed["containers"][0]["securityContext"]["appArmorProfile"] = json!({ "type": "Localhost", "localhostProfile": "lifeline-restore" });
        allowed["initContainers"] = json!([extra_container(json!({ "seLinuxOptions": { "type": "container_init_t" } }))]);
        create_settled(&as_frank, &system_with_job("allowed", allowed), true)
            .await
            .expect("what Pod Security restricted allows of SELinux, sysctls, AppArmor and procMount");

        let created = create_settled(&as_frank, &system_with_job("pas", restricted_pod()), false)
            .await
            .expect("a restricted Job as the default ServiceAccount");

        // An edit that leaves the templates alone needs no Job permission; one that
        // changes them does.
        let mut renamed = created.clone();
        renamed.spec.display_name = "Patient administration".into();
        as_carol.replace("pas", &PostParams::default(), &renamed).await.expect("carol renames pas");
        let mut retargeted = as_carol.get("pas").await.expect("pas");
        retargeted.spec.restore.as_mut().expect("restore").steps[0] = object(json!({
            "name": "restore",
            "job": { "template": { "spec": { "template": { "spec": pod_with("/containers/0/image", json!("registry.example/anything:1")) } } } }
        }));
        let refused = as_carol.replace("pas", &PostParams::default(), &retargeted).await;
        if let Err(why) = denied(refused, 403, "may not create Jobs in namespace") {
            panic!("carol changing pas's Job must be denied: {why}");
        }

        // An administrator lists more ServiceAccounts on the namespace.
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin_client().await);
        namespaces
            .patch(&ns.name, &PatchParams::default(), &Patch::Merge(json!({
                "metadata": { "annotations": { "lifeline.dev/job-service-accounts": "restore-runner, verify-runner" } }
            })))
            .await
            .expect("annotate the namespace");
        eventually("restore-runner to be allowed", SETTLED, || {
            let as_frank = as_frank.clone();
            async move {
                let sys = system_with_job("ris", pod_with("/serviceAccountName", json!("verify-runner")));
                create_settled(&as_frank, &sys, true).await.map(|_| ()).map_err(|e| e.to_string())
            }
        })
        .await;
        assert_denied(
            &as_frank,
            &system_with_job("ris", pod_with("/serviceAccountName", json!("lifeline-operator"))),
            403,
            "serviceAccountName must be one of [default, restore-runner, verify-runner]",
        )
        .await;

        // The shipped playbook's Jobs all meet the policy.
        let root = repo_root().join("playbooks/northern-care/systems");
        let mut files: Vec<_> = std::fs::read_dir(&root).expect("systems").map(|e| e.expect("entry").path()).collect();
        files.sort();
        let mut with_jobs = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).expect("yaml");
                let mut sys: ClinicalSystem = serde_json::from_value(serde_json::to_value(v).expect("json")).expect("a ClinicalSystem");
                sys.metadata.namespace = None;
                sys.metadata.name = Some(format!("playbook-{}", sys.name_any()));
                let has_job = serde_json::to_string(&sys.spec).expect("json").contains("\"job\"");
                with_jobs += usize::from(has_job);
                create_settled(&as_frank, &sys, true)
                    .await
                    .unwrap_or_else(|e| panic!("{} from {}: {e}", sys.name_any(), file.display()));
            }
        }
        assert!(with_jobs >= 8, "the playbook has systems with Jobs: {with_jobs}");
    })
    .await;
}

#[tokio::test]
async fn a_plan_cannot_release_to_staff_on_less_than_the_clusters_release_policy() {
    with_policies("release-policy", |ns| async move {
        let carol = client_as(CAROL, CAROL_GROUPS).await;
        let plans = ns.api_with::<RecoveryPlan>(&carol);
        let it = json!({ "name": "it-validation", "audience": { "namespaceSelector": { "matchLabels": { "lifeline.dev/audience": "it-validation" } } } });
        let staged = |name: &str, stages: Value| -> RecoveryPlan {
            let mut p = support::recovery_plan(name, &["web"]);
            p["spec"]["requestedBy"] = json!(CAROL);
            p["spec"]["stages"] = stages;
            object(p)
        };
        // A plan's author without the approve verb releasing to everyone with nobody's say.
        let everyone = staged("everyone", json!([it, { "name": "everyone", "audience": { "ipBlocks": ["0.0.0.0/0"] } }]));
        let needle = "spec.stages{everyone}.approval.required: the cluster's release policy (ValidatingAdmissionPolicy";
        eventually("the release policy to take effect", SETTLED, || {
            let (plans, everyone) = (plans.clone(), everyone.clone());
            async move { denied(create_settled(&plans, &everyone, true).await, 403, needle) }
        })
        .await;
        // Pods of another namespace, or a namespace selector without the verification
        // labels, are staff too.
        for (name, audience) in [
            ("other-pods", json!({ "podSelector": { "matchLabels": { "app": "ward-terminal" } } })),
            ("any-namespace", json!({ "namespaceSelector": { "matchLabels": { "team": "wards" } } })),
            ("it-and-more", json!({ "namespaceSelector": { "matchLabels": { "lifeline.dev/audience": "it-validation" } }, "ipBlocks": ["10.20.7.0/24"] })),
        ] {
            let plan = staged(name, json!([it, { "name": "ward", "audience": audience }]));
            assert_denied(&plans, &plan, 403, "spec.stages{ward}.approval.required").await;
        }
        // IT validation on its own needs nobody; every other stage one person at least.
        let fine = staged("fine", json!([it, { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] }, "approval": { "required": 1 } }]));
        create_settled(&plans, &fine, false).await.expect("a plan within the policy");
        // A drill's plan, made by the operator, is exempt only in a staging namespace.
        let as_operator = as_the_operator(&ns).await;
        let mut drill = staged("drill-run-1", json!([it, { "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] } }]));
        drill.spec.requested_by = Some(OPERATOR.into());
        drill.spec.drill = Some(object(json!({ "name": "weekly" })));
        assert_denied(&as_operator, &drill, 403, "spec.stages{ward}.approval.required").await;
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin_client().await);
        namespaces
            .patch(&ns.name, &PatchParams::default(), &Patch::Merge(json!({
                "metadata": { "labels": { "lifeline.dev/environment": "staging" } }
            })))
            .await
            .expect("label the namespace staging");
        eventually("the operator's drill plan to be admitted in staging", SETTLED, || {
            let (plans, drill) = (as_operator.clone(), drill.clone());
            async move { create_settled(&plans, &drill, true).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
    })
    .await;
}

/// Lets `user` get and patch the test namespace itself (a Role in it), as a team lead
/// who labels their own namespace might; returns the namespaces as that user.
async fn namespace_patcher(
    ns: &TestNamespace,
    user: &str,
) -> Api<k8s_openapi::api::core::v1::Namespace> {
    let pp = PostParams::default();
    ns.api::<Role>()
        .create(&pp, &object(json!({ "metadata": { "name": "ns-patcher" },
            "rules": [{ "apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"] }] })))
        .await
        .expect("Role");
    ns.api::<RoleBinding>()
        .create(&pp, &object(json!({ "metadata": { "name": format!("{user}-ns-patcher") },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ns-patcher" },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }] })))
        .await
        .expect("RoleBinding");
    Api::all(client_as(user, &[]).await)
}

#[tokio::test]
async fn only_a_designator_may_make_a_namespace_staging() {
    with_policies("staging-label", |ns| async move {
        use k8s_openapi::api::core::v1::Namespace;
        // nina may patch this namespace (a Role in it), but not designate it staging.
        let bindings = ns.api::<RoleBinding>();
        let pp = PostParams::default();
        let as_nina = namespace_patcher(&ns, "nina").await;
        let label = |value: &str| Patch::Merge(json!({ "metadata": { "labels": { "lifeline.dev/environment": value } } }));
        let needle = format!("metadata.labels[lifeline.dev/environment]: user nina may not set, change or remove it on namespace {}", ns.name);
        eventually("nina to be refused the staging label", SETTLED, || {
            let (as_nina, name, needle, patch) = (as_nina.clone(), ns.name.clone(), needle.clone(), label("staging"));
            // A dry run, so that a patch admitted before the policy is in force changes nothing.
            let dry = PatchParams { dry_run: true, ..Default::default() };
            async move { denied(as_nina.patch(&name, &dry, &patch).await, 403, &needle) }
        })
        .await;
        // Other labels are hers to change.
        as_nina
            .patch(&ns.name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "labels": { "team": "wards" } } })))
            .await
            .expect("nina sets another label");
        // With the designator role in this namespace, she may.
        bindings
            .create(&pp, &object(json!({ "metadata": { "name": "nina-designator" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lifeline-staging-designator" },
                "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "nina" }] })))
            .await
            .expect("RoleBinding");
        eventually("nina, designator, to set the staging label", SETTLED, || {
            let (as_nina, name, patch) = (as_nina.clone(), ns.name.clone(), label("staging"));
            async move { as_nina.patch(&name, &PatchParams::default(), &patch).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
        let namespaces_admin: Api<Namespace> = Api::all(admin_client().await);
        let got = namespaces_admin.get(&ns.name).await.expect("namespace");
        assert_eq!(got.labels().get("lifeline.dev/environment").map(String::as_str), Some("staging"));
    })
    .await;
}

#[tokio::test]
async fn only_a_designator_may_list_the_service_accounts_a_namespaces_jobs_run_as() {
    with_policies("job-accounts", |ns| async move {
        use k8s_openapi::api::core::v1::Namespace;
        // nina may patch this namespace, but not choose what its ClinicalSystems' Jobs
        // run as: listing the operator's own ServiceAccount would let any job author
        // run as it.
        let as_nina = namespace_patcher(&ns, "nina").await;
        let annotate = |value: Option<&str>| {
            Patch::Merge(json!({ "metadata": { "annotations": { "lifeline.dev/job-service-accounts": value } } }))
        };
        let dry = PatchParams { dry_run: true, ..Default::default() };
        let needle = format!(
            "metadata.annotations[lifeline.dev/job-service-accounts]: user nina may not set, change or remove it on namespace {}",
            ns.name
        );
        eventually("nina to be refused the job-service-accounts annotation", SETTLED, || {
            let (as_nina, name, needle, patch, dry) =
                (as_nina.clone(), ns.name.clone(), needle.clone(), annotate(Some("lifeline-operator")), dry.clone());
            // A dry run, so that a patch admitted before the policy is in force changes nothing.
            async move { denied(as_nina.patch(&name, &dry, &patch).await, 403, &needle) }
        })
        .await;
        // Other annotations are hers to change.
        as_nina
            .patch(&ns.name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "annotations": { "team": "wards" } } })))
            .await
            .expect("nina sets another annotation");
        // Once an administrator has listed one, she may neither widen nor remove it.
        let namespaces_admin: Api<Namespace> = Api::all(admin_client().await);
        namespaces_admin
            .patch(&ns.name, &PatchParams::default(), &annotate(Some("restore-runner")))
            .await
            .expect("the administrator lists restore-runner");
        for (what, value) in [("widen", Some("restore-runner, lifeline-operator")), ("remove", None)] {
            if let Err(why) = denied(as_nina.patch(&ns.name, &dry, &annotate(value)).await, 403, &needle) {
                panic!("nina may not {what} the annotation: {why}");
            }
        }
        // With the designator role in this namespace, she may.
        policies::bind(&ns, "nina", "lifeline-job-account-designator").await;
        eventually("nina, designator, to change the annotation", SETTLED, || {
            let (as_nina, name, patch) = (as_nina.clone(), ns.name.clone(), annotate(Some("restore-runner, verify-runner")));
            async move { as_nina.patch(&name, &PatchParams::default(), &patch).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
        let got = namespaces_admin.get(&ns.name).await.expect("namespace");
        assert_eq!(
            got.annotations().get("lifeline.dev/job-service-accounts").map(String::as_str),
            Some("restore-runner, verify-runner")
        );
    })
    .await;
}

#[tokio::test]
async fn only_a_designator_may_make_a_namespace_a_verification_audience() {
    with_policies("audience-label", |ns| async move {
        use k8s_openapi::api::core::v1::Namespace;
        // nina may patch this namespace, but not make it a verification audience: stages
        // that need nobody's approval release to it.
        let as_nina = namespace_patcher(&ns, "nina").await;
        let label = |value: Option<&str>| {
            Patch::Merge(json!({ "metadata": { "labels": { "lifeline.dev/audience": value } } }))
        };
        let dry = PatchParams { dry_run: true, ..Default::default() };
        let needle = format!(
            "metadata.labels[lifeline.dev/audience]: user nina may not set, change or remove it on namespace {}",
            ns.name
        );
        eventually("nina to be refused the audience label", SETTLED, || {
            let (as_nina, name, needle, patch, dry) =
                (as_nina.clone(), ns.name.clone(), needle.clone(), label(Some("it-validation")), dry.clone());
            // A dry run, so that a patch admitted before the policy is in force changes nothing.
            async move { denied(as_nina.patch(&name, &dry, &patch).await, 403, &needle) }
        })
        .await;
        // Other labels are hers to change.
        as_nina
            .patch(&ns.name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "labels": { "team": "wards" } } })))
            .await
            .expect("nina sets another label");
        // Once an administrator has made it one, she may neither change nor remove it.
        let namespaces_admin: Api<Namespace> = Api::all(admin_client().await);
        namespaces_admin
            .patch(&ns.name, &PatchParams::default(), &label(Some("it-validation")))
            .await
            .expect("the administrator makes the namespace a verification audience");
        for (what, value) in [("change", Some("wards")), ("remove", None)] {
            if let Err(why) = denied(as_nina.patch(&ns.name, &dry, &label(value)).await, 403, &needle) {
                panic!("nina may not {what} the audience label: {why}");
            }
        }
        // With the designator role in this namespace, she may.
        policies::bind(&ns, "nina", "lifeline-audience-designator").await;
        eventually("nina, designator, to change the audience label", SETTLED, || {
            let (as_nina, name, patch) = (as_nina.clone(), ns.name.clone(), label(Some("pilot-ward")));
            async move { as_nina.patch(&name, &PatchParams::default(), &patch).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
        let got = namespaces_admin.get(&ns.name).await.expect("namespace");
        assert_eq!(got.labels().get("lifeline.dev/audience").map(String::as_str), Some("pilot-ward"));
    })
    .await;
}

/// Plans as the operator's ServiceAccount (the shipped rbac.yaml applied), once the API
/// server sees its grants: a drill's plan of its own passes lifeline-drill-plans.
async fn as_the_operator(ns: &TestNamespace) -> Api<RecoveryPlan> {
    apply_manifests(&["namespace.yaml", "serviceaccount.yaml", "rbac.yaml"]).await;
    let api = ns.api_with::<RecoveryPlan>(&client_as(OPERATOR, OPERATOR_GROUPS).await);
    let mut probe = support::recovery_plan("operator-probe", &["web"]);
    probe["spec"]["requestedBy"] = json!(OPERATOR);
    probe["spec"]["drill"] = json!({ "name": "probe" });
    let probe: RecoveryPlan = object(probe);
    eventually("the operator to hold the verb drill", SETTLED, || {
        let (api, probe) = (api.clone(), probe.clone());
        async move {
            create_settled(&api, &probe, true)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await;
    api
}

#[tokio::test]
async fn only_the_operator_makes_a_drills_plan_which_alone_skips_the_release_policy() {
    with_policies("drill-plans", |ns| async move {
        let as_operator = as_the_operator(&ns).await;
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin_client().await);
        namespaces
            .patch(
                &ns.name,
                &PatchParams::default(),
                &Patch::Merge(json!({
                    "metadata": { "labels": { "lifeline.dev/environment": "staging" } }
                })),
            )
            .await
            .expect("label the namespace staging");
        let as_carol = ns.api_with::<RecoveryPlan>(&client_as(CAROL, CAROL_GROUPS).await);
        // Stages that need nobody, a drill's plan would be allowed them.
        let unapproved = json!([{ "name": "everyone", "audience": { "ipBlocks": ["0.0.0.0/0"] } }]);
        let drill_plan = |name: &str, by: &str, namespaces: &[&str]| -> RecoveryPlan {
            let mut p = support::recovery_plan(name, &["blood-bank"]);
            p["spec"]["requestedBy"] = json!(by);
            p["spec"]["stages"] = unapproved.clone();
            p["spec"]["drill"] = json!({ "name": "weekly" });
            p["spec"]["systems"]["namespaces"] = json!(namespaces);
            object(p)
        };
        // carol, who may write plans, hand-writes a drill's plan in staging that selects
        // production's blood bank: no approval would ever be asked for.
        let forged = drill_plan("forged", CAROL, &["production"]);
        let needle = format!(
            "spec.drill: user {CAROL} may not create a plan with spec.drill in namespace {}",
            ns.name
        );
        eventually("carol's drill plan to be refused", SETTLED, || {
            let (plans, forged, needle) = (as_carol.clone(), forged.clone(), needle.clone());
            async move { denied(create_settled(&plans, &forged, true).await, 403, &needle) }
        })
        .await;
        // Nor in staging alone.
        assert_denied(
            &as_carol,
            &drill_plan("forged-here", CAROL, &[]),
            403,
            &needle,
        )
        .await;
        // Nor may she turn a plan of hers into one.
        let mut hers = support::recovery_plan("hers", &["blood-bank"]);
        hers["spec"]["requestedBy"] = json!(CAROL);
        let hers: RecoveryPlan = object(hers);
        create_settled(&as_carol, &hers, false)
            .await
            .expect("carol's own plan");
        let as_drill = Patch::Merge(json!({ "spec": { "drill": { "name": "weekly" } } }));
        if let Err(why) = denied(
            as_carol
                .patch("hers", &PatchParams::default(), &as_drill)
                .await,
            403,
            "spec.drill: user carol may not set, change or remove spec.drill",
        ) {
            panic!("carol may not add spec.drill to her plan: {why}");
        }
        // Even the operator's drill plan keeps the release policy when it selects systems
        // of another namespace.
        assert_denied(
            &as_operator,
            &drill_plan("elsewhere", OPERATOR, &["production"]),
            403,
            "spec.stages{everyone}.approval.required",
        )
        .await;
        // The operator's, for its own namespace, is admitted; carol may pause it, but not
        // change or remove its drill.
        eventually("the operator's drill plan to be admitted", SETTLED, || {
            let (plans, plan) = (
                as_operator.clone(),
                drill_plan("drill-run-1", OPERATOR, &[]),
            );
            async move {
                create_settled(&plans, &plan, false)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        as_carol
            .patch(
                "drill-run-1",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "paused": true } })),
            )
            .await
            .expect("carol pauses the drill's plan");
        for (what, patch) in [
            (
                "change",
                json!({ "spec": { "drill": { "name": "monthly" } } }),
            ),
            ("remove", json!({ "spec": { "drill": null } })),
        ] {
            if let Err(why) = denied(
                as_carol
                    .patch("drill-run-1", &PatchParams::default(), &Patch::Merge(patch))
                    .await,
                403,
                "spec.drill: user carol may not set, change or remove spec.drill",
            ) {
                panic!("carol may not {what} the drill of the operator's plan: {why}");
            }
        }
    })
    .await;
}

/// An Intervention claiming `username` and `groups` asks for `action` on `plan`.
fn intervention(
    name: &str,
    plan: &str,
    action: &str,
    username: &str,
    groups: &[&str],
) -> lifeline::api::v1alpha1::Intervention {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Intervention",
        "metadata": { "name": name },
        "spec": { "plan": plan, "action": action, "requester": { "username": username, "groups": groups } }
    }))
}

#[tokio::test]
async fn interventions_name_who_asked_and_the_plan_records_them() {
    with_policies("interventions", |ns| async move {
        let carol = client_as(CAROL, CAROL_GROUPS).await;
        let interventions: Api<lifeline::api::v1alpha1::Intervention> = ns.api_with(&carol);
        // Nobody asks in another's name (also the probe that the policy is in effect), or
        // with groups they do not have.
        let forged = intervention("as-alice", WARD_A, "pause", ALICE, ALICE_GROUPS);
        eventually("the Intervention policy to take effect", SETTLED, || {
            let (api, obj) = (interventions.clone(), forged.clone());
            async move {
                denied(
                    create_settled(&api, &obj, true).await,
                    403,
                    "spec.requester.username must be the requesting user (carol), not alice",
                )
            }
        })
        .await;
        assert_denied(
            &interventions,
            &intervention(
                "more-groups",
                WARD_A,
                "pause",
                CAROL,
                &["lifeline-ops", "system:masters"],
            ),
            403,
            "spec.requester.groups must be the requesting user's groups",
        )
        .await;
        // Nor records a hand-back item as done by someone else.
        let mut hand_back = intervention("hb-as-alice", WARD_A, "handBack", ALICE, ALICE_GROUPS);
        hand_back.spec.system = Some("his".into());
        hand_back.spec.item = Some("back-enter paper results".into());
        assert_denied(
            &interventions,
            &hand_back,
            403,
            "spec.requester.username must be the requesting user (carol), not alice",
        )
        .await;
        // A viewer may not ask at all (RBAC).
        let eve = client_as(EVE, EVE_GROUPS).await;
        let as_eve: Api<lifeline::api::v1alpha1::Intervention> = ns.api_with(&eve);
        let refused = as_eve
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &intervention("eve", WARD_A, "pause", EVE, EVE_GROUPS),
            )
            .await;
        assert!(
            matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
            "{refused:?}"
        );

        // Carol pauses and resumes the plan through the CLI's path: an Intervention, then
        // the change; the operator records both with her name.
        // A plan that stays under way: its one system waits for a person.
        let his = support::clinical_system(
            "his",
            &[],
            vec![json!({ "name": "sign-off", "manual": { "instructions": "sign it off" } })],
            vec![],
        );
        ns.api::<lifeline::api::v1alpha1::ClinicalSystem>()
            .create(&PostParams::default(), &object(his))
            .await
            .expect("create his");
        let plans: Api<RecoveryPlan> = ns.api_with(&carol);
        create_settled(&plans, &plan(WARD_A, Some(CAROL)), false)
            .await
            .expect("carol creates the plan");
        let _op = support::Operator::start("interventions", &ns.name, &[]);
        lifeline::cli::control::pause(carol.clone(), &ns.name, WARD_A)
            .await
            .expect("pause as carol");
        let admin: Api<RecoveryPlan> = ns.api();
        support::wait_for(
            &admin,
            WARD_A,
            "the pause recorded",
            Duration::from_secs(60),
            |p| {
                p.status.as_ref().is_some_and(|s| {
                    s.interventions
                        .iter()
                        .any(|r| r.action == lifeline::api::v1alpha1::InterventionKind::Pause)
                })
            },
        )
        .await;
        lifeline::cli::control::resume(carol.clone(), &ns.name, WARD_A)
            .await
            .expect("resume as carol");
        support::wait_for(
            &admin,
            WARD_A,
            "the resume recorded",
            Duration::from_secs(60),
            |p| {
                p.status
                    .as_ref()
                    .is_some_and(|s| s.interventions.len() == 2)
            },
        )
        .await;
        // Someone changes the plan directly, without an Intervention: recorded as unknown.
        admin
            .patch(
                WARD_A,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "paused": true } })),
            )
            .await
            .expect("pause directly");
        let seen = support::wait_for(
            &admin,
            WARD_A,
            "three interventions recorded",
            Duration::from_secs(60),
            |p| {
                p.status
                    .as_ref()
                    .is_some_and(|s| s.interventions.len() >= 3)
            },
        )
        .await;
        let records = seen.status.expect("status").interventions;
        let summary: Vec<(String, String, bool)> = records
            .iter()
            .map(|r| (r.action.to_string(), r.by.clone(), r.vouched))
            .collect();
        assert_eq!(
            summary,
            [
                ("pause".to_string(), CAROL.to_string(), true),
                ("resume".to_string(), CAROL.to_string(), true),
                ("pause".to_string(), "unknown".to_string(), false)
            ]
        );
        assert!(
            records[0].groups.iter().any(|g| g == CAROL_GROUPS[0]),
            "{:?}",
            records[0].groups
        );
        assert!(records[0].request.is_some() && records[0].requested_at.is_some());
        // The record cannot be rewritten: an Intervention is immutable.
        let name = records[0].request.clone().expect("request");
        let changed = interventions
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "action": "abort" } })),
            )
            .await;
        assert!(
            matches!(&changed, Err(kube::Error::Api(s)) if s.code == 422 || s.code == 403),
            "{changed:?}"
        );
        // And lifeline status shows who did it.
        let shown = lifeline::cli::status::render_release(&admin.get(WARD_A).await.expect("plan"));
        assert!(
            shown.contains("pause by carol") && shown.contains("pause by unknown (not vouched"),
            "{shown}"
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_operator_writes_a_plans_progress_whatever_else_one_may_edit() {
    with_policies("progress-writer", |ns| async move {
        use lifeline::api::v1alpha1::RecoveryProgress;
        let shard = |phase: &str| -> RecoveryProgress {
            object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryProgress",
                "metadata": { "name": "ward-a-progress-0" },
                "spec": { "plan": WARD_A, "planUid": "uid-1", "shards": 1, "shard": 0,
                          "systems": [{ "name": format!("{}/pas", ns.name), "phase": phase }],
                          "positions": [0] }
            }))
        };
        let grace = client_as(GRACE, &[]).await;
        let as_grace: Api<RecoveryProgress> = ns.api_with(&grace);
        // Grace may edit everything lifeline-related, yet not write a plan's progress (a
        // system "Released" there would have the operator open its gate)...
        eventually("the progress policy to take effect", SETTLED, || {
            let (api, obj) = (as_grace.clone(), shard("Released"));
            async move { denied(create_settled(&api, &obj, true).await, 403, "only the lifeline operator writes a plan's progress") }
        })
        .await;
        // ...nor change what the operator (here: the admin, who holds every verb) wrote.
        let admin: Api<RecoveryProgress> = ns.api();
        admin.create(&PostParams::default(), &shard("Restoring")).await.expect("the writer creates the shard");
        let edit = as_grace
            .patch("ward-a-progress-0", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "systems": [{ "name": format!("{}/pas", ns.name), "phase": "Released" }] } })))
            .await;
        denied(edit, 403, "may not update a recovery progress object").expect("an edit is refused");
        let kept = admin.get("ward-a-progress-0").await.expect("still there");
        assert_eq!(kept.spec.systems[0].phase, lifeline::api::v1alpha1::SystemPhase::Restoring);
        // Deleting is left to RBAC (the garbage collector deletes a plan's progress with
        // it); a plan whose shard is deleted stops (tests/cluster/operator.rs).
        as_grace.delete("ward-a-progress-0", &DeleteParams::default()).await.expect("RBAC lets grace delete");
    })
    .await;
}

#[tokio::test]
async fn only_the_operator_writes_a_record_whatever_else_one_may_edit() {
    with_policies("record-writer", |ns| async move {
        let record = |entries: serde_json::Value| -> lifeline::api::v1alpha1::RecoveryRecord {
            object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryRecord",
                "metadata": { "name": "ward-a-record-0" },
                "spec": { "plan": WARD_A, "planUid": "uid-1", "chunk": 0, "first": 0, "entries": entries }
            }))
        };
        let entry = json!({ "seq": 0, "at": "2026-12-01T09:00:00Z", "kind": "approval", "data": { "approver": "alice" }, "prev": "0", "hash": "0" });
        let grace = client_as(GRACE, &[]).await;
        let as_grace: Api<lifeline::api::v1alpha1::RecoveryRecord> = ns.api_with(&grace);
        // Grace may edit everything lifeline-related, yet not create a record...
        eventually("the record policy to take effect", SETTLED, || {
            let (api, obj) = (as_grace.clone(), record(json!([entry.clone()])));
            async move { denied(create_settled(&api, &obj, true).await, 403, "only the lifeline operator writes records") }
        })
        .await;
        // ...nor change or delete one the operator (here: the admin, who holds every verb)
        // wrote.
        let admin: Api<lifeline::api::v1alpha1::RecoveryRecord> = ns.api();
        admin.create(&PostParams::default(), &record(json!([entry.clone()]))).await.expect("the writer creates the record");
        let edit = as_grace
            .patch("ward-a-record-0", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "entries": [{ "seq": 0, "at": "2026-12-01T09:00:00Z", "kind": "approval", "data": { "approver": "mallory" }, "prev": "0", "hash": "0" }] } })))
            .await;
        denied(edit, 403, "may not update a recovery record").expect("an edit is refused");
        let delete = as_grace.delete("ward-a-record-0", &DeleteParams::default()).await;
        denied(delete, 403, "may not delete a recovery record").expect("a deletion is refused");
        // The schema keeps the writer to appending: entries are never removed.
        let shrink = admin
            .patch("ward-a-record-0", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "entries": [] } })))
            .await;
        assert!(matches!(&shrink, Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("a record only grows")), "{shrink:?}");
        let kept = admin.get("ward-a-record-0").await.expect("still there");
        assert_eq!(kept.spec.entries.len(), 1);
    })
    .await;
}
