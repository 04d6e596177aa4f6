//! The admission policies of `manifests/operator/admission.yaml` in force for one test.
//!
//! The shipped bindings apply to every namespace, and the test modules share the cluster
//! (most create RecoveryPlans as admin without `spec.requestedBy`), so a test that wants
//! the shipped policies ([`with_policies`]) installs a copy of the shipped policies and
//! bindings, renamed after its namespace and with the bindings' `namespaceSelector`
//! narrowed to that namespace, and removes it afterwards. Only those two fields differ
//! from the shipped file (`admission::shipped_policies_parse_and_copies_keep_their_rules`
//! checks it), so such tests exercise the shipped rules. People get the ClusterRoles of
//! `manifests/operator/people-rbac.yaml` through RoleBindings in the test namespace
//! ([`bind`]), and act through impersonation ([`super::client_as`]).

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;
use k8s_openapi::api::{
    admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding},
    rbac::v1::RoleBinding,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use lifeline::api::v1alpha1::{Approval, RecoveryPlan};
use serde_json::{Value, json};

use super::{
    TEST_FIELD_MANAGER, TestNamespace, admin_client, apply_manifests, ensure_crds, eventually,
    object, repo_root, with_namespace,
};

/// How long a policy, a binding or an RBAC grant may take to reach the API server's
/// admission and authorization caches.
pub const SETTLED: Duration = Duration::from_secs(60);

/// The documents of manifests/operator/admission.yaml.
pub fn shipped() -> Vec<Value> {
    let path = repo_root().join("manifests/operator/admission.yaml");
    let text = std::fs::read_to_string(&path).expect("read manifests/operator/admission.yaml");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let v: serde_yaml::Value =
                serde::Deserialize::deserialize(doc).expect("admission.yaml is YAML");
            serde_json::to_value(v).expect("admission.yaml converts to JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The name a copy of the shipped object `name` gets for namespace `ns`.
pub fn copy_name(name: &str, ns: &str) -> String {
    format!("{name}-{ns}")
}

/// A copy of the shipped policies and bindings that applies only in namespace `ns`:
/// renamed (and the bindings pointed at the renamed policies), the bindings'
/// `matchResources.namespaceSelector` set to that namespace. Nothing else changes.
pub fn scoped_copy(
    ns: &str,
) -> (
    Vec<ValidatingAdmissionPolicy>,
    Vec<ValidatingAdmissionPolicyBinding>,
) {
    let mut policies = Vec::new();
    let mut bindings = Vec::new();
    for mut doc in shipped() {
        let name = doc["metadata"]["name"]
            .as_str()
            .expect("a name")
            .to_string();
        doc["metadata"]["name"] = json!(copy_name(&name, ns));
        match doc["kind"].as_str() {
            Some("ValidatingAdmissionPolicy") => policies.push(object(doc)),
            Some("ValidatingAdmissionPolicyBinding") => {
                let policy = doc["spec"]["policyName"].as_str().expect("policyName");
                doc["spec"]["policyName"] = json!(copy_name(policy, ns));
                doc["spec"]["matchResources"]["namespaceSelector"] =
                    json!({ "matchLabels": { "kubernetes.io/metadata.name": ns } });
                bindings.push(object(doc));
            }
            other => panic!("unexpected kind {other:?} in admission.yaml"),
        }
    }
    (policies, bindings)
}

/// Installs the CRDs, the people's ClusterRoles and a copy of the policies scoped to a
/// fresh namespace (waiting until the API server has type-checked them without a
/// warning), runs `body`, and removes the copies, also when the body panics. Nobody is
/// granted anything: the body binds its people ([`bind`]).
pub async fn with_policies<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = admin_client().await;
    ensure_crds(&client).await;
    apply_manifests(&["people-rbac.yaml"]).await;
    with_namespace(test, |ns| async move {
        let (policies, bindings) = scoped_copy(&ns.name);
        let vaps: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
        let vapbs: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
        let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
        for p in &policies {
            vaps.patch(&p.name_any(), &params, &Patch::Apply(p))
                .await
                .unwrap_or_else(|e| panic!("apply policy {}: {e}", p.name_any()));
        }
        for b in &bindings {
            vapbs
                .patch(&b.name_any(), &params, &Patch::Apply(b))
                .await
                .unwrap_or_else(|e| panic!("apply binding {}: {e}", b.name_any()));
        }
        let result = AssertUnwindSafe(async {
            for p in &policies {
                assert_type_checked(&vaps, &p.name_any()).await;
            }
            body(ns.clone()).await;
        })
        .catch_unwind()
        .await;
        for b in &bindings {
            if let Err(e) = vapbs.delete(&b.name_any(), &DeleteParams::default()).await {
                eprintln!("warning: could not delete binding {}: {e}", b.name_any());
            }
        }
        for p in &policies {
            if let Err(e) = vaps.delete(&p.name_any(), &DeleteParams::default()).await {
                eprintln!("warning: could not delete policy {}: {e}", p.name_any());
            }
        }
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

/// Waits until the API server has type-checked policy `name`, and fails on any warning
/// (a misspelt field, a type error in an expression).
pub async fn assert_type_checked(vaps: &Api<ValidatingAdmissionPolicy>, name: &str) {
    let status = eventually(
        &format!("policy {name} to be type-checked"),
        SETTLED,
        || {
            let vaps = vaps.clone();
            async move {
                let p = vaps.get(name).await.map_err(|e| e.to_string())?;
                let status = p.status.clone().unwrap_or_default();
                match (status.observed_generation, p.metadata.generation) {
                    (Some(seen), Some(generation)) if seen == generation => Ok(status),
                    other => Err(format!("observed/generation: {other:?}")),
                }
            }
        },
    )
    .await;
    let warnings = status
        .type_checking
        .and_then(|t| t.expression_warnings)
        .unwrap_or_default();
    assert!(warnings.is_empty(), "policy {name}: {warnings:#?}");
}

/// Binds ClusterRole `role` (of manifests/operator/people-rbac.yaml) to user `user` in
/// the test namespace.
pub async fn bind(ns: &TestNamespace, user: &str, role: &str) {
    let binding: RoleBinding = object(json!({
        "metadata": { "name": format!("{user}-{role}") },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
    }));
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .unwrap_or_else(|e| panic!("bind {role} to {user}: {e}"));
}

/// Waits until the copies' Approval and RecoveryPlan policies deny what they must in the
/// test namespace (an Approval naming someone other than its creator, a plan without
/// `spec.requestedBy`; dry runs as admin), so what a test does next is decided under them.
pub async fn assert_in_force(ns: &TestNamespace) {
    let forged: Approval = object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
        "metadata": { "name": "forged-probe" },
        "spec": { "plan": "probe", "stage": "probe", "systems": ["probe"], "decision": "approve",
                  "approver": { "username": "not-the-requesting-user" } }
    }));
    let approvals = ns.api::<Approval>();
    eventually("the Approval policy to take effect", SETTLED, || {
        let (api, obj) = (approvals.clone(), forged.clone());
        async move {
            denied(
                create_settled(&api, &obj, true).await,
                403,
                "spec.approver.username must be the requesting user",
            )
        }
    })
    .await;
    let unrequested: RecoveryPlan = object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "unrequested-probe" },
        "spec": { "systems": { "names": ["probe"] } }
    }));
    let plans = ns.api::<RecoveryPlan>();
    eventually("the RecoveryPlan policy to take effect", SETTLED, || {
        let (api, obj) = (plans.clone(), unrequested.clone());
        async move {
            denied(
                create_settled(&api, &obj, true).await,
                422,
                "spec.requestedBy is required",
            )
        }
    })
    .await;
}

/// The request was denied with HTTP `code` and a message containing `needle`; an error
/// otherwise.
pub fn denied<T>(result: Result<T, kube::Error>, code: u16, needle: &str) -> Result<(), String> {
    match result {
        Ok(_) => Err("admitted".into()),
        Err(kube::Error::Api(s)) if s.code == code && s.message.contains(needle) => Ok(()),
        Err(kube::Error::Api(s)) => Err(format!("HTTP {}: {}", s.code, s.message)),
        Err(e) => Err(format!("not an API error: {e}")),
    }
}

/// Whether an error is RBAC still refusing the request itself (a grant not yet seen).
pub fn rbac_not_settled<T>(result: &Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("cannot "))
}

/// Creates `obj` through `api` (dry run when `dry_run`), retrying while RBAC has not yet
/// seen the test's grants, and returns the outcome.
pub async fn create_settled<K>(api: &Api<K>, obj: &K, dry_run: bool) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let pp = PostParams {
        dry_run,
        ..PostParams::default()
    };
    let deadline = tokio::time::Instant::now() + SETTLED;
    loop {
        let result = api.create(&pp, obj).await;
        if !rbac_not_settled(&result) || tokio::time::Instant::now() >= deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
