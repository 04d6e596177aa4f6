//! The CRD schemas generated from the Rust types hold against the real API server: each
//! rule rejects what it should with HTTP 422, naming the field and carrying the rule's
//! message, and the objects next to the rule (a minimal valid object of each kind, the
//! edge values a rule must still allow) are admitted.
//!
//! Every bad object is a valid object with exactly one thing wrong, so a rejection can
//! only come from the rule under test; the API server's other complaints, if any, would
//! fail the case.

use crate::support::{TestNamespace, ensure_crds, with_namespace};
use kube::{
    Api, Resource,
    api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams},
};
use lifeline::api::v1alpha1::{Approval, ClinicalSystem, RecoveryDrill, RecoveryPlan};
use serde_json::{Value, json};

const DURATION: &str = "must be a duration such as 30s, 15m, 4h or 1h30m (units: ms, s, m, h)";
const DNS_NAME: &str = "must be a DNS-1123 name: lower-case letters, digits, '-' and '.'";
const DNS_LABEL: &str = "must be a DNS-1123 label: lower-case letters, digits and '-'";
const ONE_STEP_ACTION: &str =
    "a restore step must set exactly one of scale, rolloutRestart, job, waitFor or manual";
const ONE_CHECK_ACTION: &str = "a check must set exactly one of http, tcp, job or workloadReady";
const ONE_SELECTION: &str = "set exactly one of systems.selector and systems.names";
const STAGE_OR_STEP: &str = "set either spec.stage, or both spec.system and spec.step";
const IMMUTABLE: &str = "an Approval is immutable: create a new one instead";
/// The API server adds this cause when schema errors keep it from running the CEL rules.
const CEL_SKIPPED: &str = "some validation rules were not checked";

/// A bad object: the valid one with `patch` merged in, rejected at `field` with `message`.
struct Rejected {
    case: &'static str,
    /// A JSON merge patch (RFC 7386) for the valid object: `null` removes a field, a list
    /// replaces the whole list.
    patch: Value,
    /// The exact field path the API server reports (`status.details.causes[].field`).
    field: &'static str,
    /// Text the cause's message, and the response's message, must contain.
    message: &'static str,
}

/// An object the schema must admit: the valid one with `patch` merged in.
struct Admitted {
    case: &'static str,
    patch: Value,
}

fn reject(
    case: &'static str,
    patch: Value,
    field: &'static str,
    message: &'static str,
) -> Rejected {
    Rejected {
        case,
        patch,
        field,
        message,
    }
}

fn admit(case: &'static str, patch: Value) -> Admitted {
    Admitted { case, patch }
}

/// RFC 7386 merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn patched(base: &Value, name: String, patch: &Value) -> DynamicObject {
    let mut obj = base.clone();
    obj["metadata"]["name"] = Value::String(name);
    merge(&mut obj, patch);
    serde_json::from_value(obj).expect("test object is a Kubernetes object")
}

fn dynamic_api<K: Resource<DynamicType = ()>>(ns: &TestNamespace) -> Api<DynamicObject> {
    Api::namespaced_with(ns.client.clone(), &ns.name, &ApiResource::erase::<K>(&()))
}

/// Checks that `result` is a 422 naming `field` with `message`, and nothing else.
fn check_rejection(
    result: Result<DynamicObject, kube::Error>,
    field: &str,
    message: &str,
) -> Result<(), String> {
    let status = match result {
        Ok(_) => return Err("admitted".to_string()),
        Err(kube::Error::Api(status)) => status,
        Err(e) => return Err(format!("not an API error: {e}")),
    };
    if status.code != 422 {
        return Err(format!(
            "HTTP {} (want 422): {}",
            status.code, status.message
        ));
    }
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    let is_expected =
        |c: &kube::core::response::StatusCause| c.field == field && c.message.contains(message);
    let listed = || {
        causes
            .iter()
            .map(|c| format!("\n    {:?}: {}", c.field, c.message))
            .collect::<String>()
    };
    if !causes.iter().any(is_expected) {
        return Err(format!(
            "no cause at {field:?} containing {message:?}; causes:{}",
            listed()
        ));
    }
    if let Some(other) = causes
        .iter()
        .find(|c| !is_expected(c) && !c.message.contains(CEL_SKIPPED))
    {
        return Err(format!(
            "also rejected for something else ({:?}: {}), so the case does not isolate the rule; causes:{}",
            other.field,
            other.message,
            listed()
        ));
    }
    if !(status.message.contains(field) && status.message.contains(message)) {
        return Err(format!(
            "the message does not name {field:?} with {message:?}: {}",
            status.message
        ));
    }
    Ok(())
}

/// Creates the valid object, every admitted variant and every rejected variant, and
/// fails once with every case that did not behave.
async fn run_cases(
    api: &Api<DynamicObject>,
    kind: &str,
    valid: &Value,
    admitted: &[Admitted],
    rejected: &[Rejected],
) {
    let pp = PostParams::default();
    let mut failures = Vec::new();

    let base = patched(valid, "valid".to_string(), &json!({}));
    if let Err(e) = api.create(&pp, &base).await {
        failures.push(format!("the valid {kind} was not admitted: {e}"));
    }
    for (i, case) in admitted.iter().enumerate() {
        let obj = patched(valid, format!("admitted-{i}"), &case.patch);
        if let Err(e) = api.create(&pp, &obj).await {
            failures.push(format!("{kind}: {}: not admitted: {e}", case.case));
        }
    }
    for (i, case) in rejected.iter().enumerate() {
        let obj = patched(valid, format!("rejected-{i}"), &case.patch);
        let name = obj.metadata.name.clone().unwrap_or_default();
        if let Err(e) = check_rejection(api.create(&pp, &obj).await, case.field, case.message) {
            failures.push(format!("{kind}: {}: {e}", case.case));
        } else if matches!(api.get_opt(&name).await, Ok(Some(_))) {
            failures.push(format!("{kind}: {}: rejected, yet stored", case.case));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n- {}",
        failures.len(),
        1 + admitted.len() + rejected.len(),
        failures.join("\n- ")
    );
}

fn valid_clinical_system() -> Value {
    json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "ClinicalSystem",
        "metadata": { "name": "set-per-case" },
        "spec": {
            "displayName": "Laboratory Information System",
            "tier": "critical",
            "recoveryTimeObjective": "4h",
            "expectedRecoveryTime": "45m",
            "dependsOn": [{ "name": "identity" }],
            "restore": {
                "timeout": "1h",
                "steps": [{
                    "name": "scale-up",
                    "scale": { "kind": "Deployment", "name": "lims", "replicas": 2 }
                }]
            },
            "verify": {
                "retryInterval": "10s",
                "deadline": "5m",
                "checks": [{
                    "name": "front-page",
                    "http": { "url": "http://lims.pathology.svc:8080/healthz", "timeout": "5s" }
                }]
            }
        }
    })
}

#[tokio::test]
async fn clinical_system_schema_rules() {
    with_namespace("crd-clinicalsystem", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let scale = json!({ "kind": "Deployment", "name": "lims", "replicas": 1 });
        let manual = json!({ "instructions": "Restart the analyser interface by hand" });
        let http = json!({ "url": "https://lims.pathology.svc/healthz" });
        let tcp = json!({ "host": "lims.pathology.svc", "port": 5432 });
        let step = |name: &str| json!({ "name": name, "manual": manual });
        let check = |name: &str| json!({ "name": name, "tcp": tcp });
        // A waitFor step with `field` set to `value`, and a release whose podSelector is
        // `selector`.
        let wait_for = |field: &str, value: Value| {
            let mut w = json!({ "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": "lims-db", "condition": "Ready" });
            w[field] = value;
            json!({ "spec": { "restore": { "steps": [{ "name": "db", "waitFor": w }] } } })
        };
        let released = |selector: Value| json!({ "spec": { "release": { "podSelector": selector } } });
        let labels = |n: usize| -> Value {
            (0..n).map(|i| (format!("label-{i}"), json!("x".repeat(63)))).collect::<serde_json::Map<_, _>>().into()
        };
        let expressions = |n: usize| -> Value {
            (0..n).map(|i| json!({ "key": format!("tier-{i}"), "operator": "Exists" })).collect::<Vec<_>>().into()
        };
        let long_key = format!("{}/{}", "p".repeat(253), "k".repeat(63));
        let mut widest_labels = labels(19);
        widest_labels[long_key.as_str()] = json!("v".repeat(63));
        let mut widest_expressions = expressions(19);
        if let Value::Array(list) = &mut widest_expressions {
            list.push(json!({ "key": long_key, "operator": "In", "values": vec!["v".repeat(63); 50] }));
        }

        let admitted = [
            admit(
                "only the required fields",
                json!({ "spec": {
                    "expectedRecoveryTime": null, "dependsOn": null,
                    "restore": null, "verify": null
                }}),
            ),
            // The rule cannot see metadata.namespace (CEL at the root sees only name and
            // generateName), so it lets any dependency that names a namespace through,
            // the system's own included; the planner reports that one as a cycle.
            admit(
                "a same-named system in another namespace",
                json!({
                    "metadata": { "name": "lims" },
                    "spec": { "dependsOn": [{ "name": "lims", "namespace": "pathology" }] }
                }),
            ),
            admit(
                "compound and millisecond durations",
                json!({ "spec": {
                    "recoveryTimeObjective": "1h30m",
                    "expectedRecoveryTime": "1m30s500ms",
                    "restore": { "timeout": "250ms" }
                }}),
            ),
            admit(
                "scale to 0 replicas",
                json!({ "spec": { "restore": { "steps": [{
                    "name": "scale-down",
                    "scale": { "kind": "StatefulSet", "name": "lims-db", "replicas": 0 }
                }]}}}),
            ),
            admit(
                "a restore point from a Job's termination message, an RPO and hand-back items",
                json!({ "spec": {
                    "recoveryPointObjective": "24h",
                    "restore": { "steps": [{
                        "name": "restore-db",
                        "job": { "template": { "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "restore", "image": "restore:1" }] } } } } },
                        "restorePoint": { "terminationMessage": true }
                    }]},
                    "release": { "podSelector": { "matchLabels": { "app": "lims" } }, "handBack": ["back-enter paper results since the restore point"] }
                }}),
            ),
            admit(
                "a restore point from a field of the waitFor object",
                json!({ "spec": { "restore": { "steps": [{
                    "name": "db-recovered",
                    "waitFor": { "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": "lims-db", "condition": "Ready" },
                    "restorePoint": { "field": "status.recoveryTarget.targetTime" }
                }]}}}),
            ),
            admit(
                "scale to 1000 replicas",
                json!({ "spec": { "restore": { "steps": [{
                    "name": "scale-up",
                    "scale": { "kind": "Deployment", "name": "lims", "replicas": 1000 }
                }]}}}),
            ),
            admit(
                "a waitFor at its bounds",
                json!({ "spec": { "restore": { "steps": [{ "name": "db", "waitFor": {
                    "apiVersion": format!("{}/v1", "g".repeat(314)), "kind": "K".repeat(63), "name": "lims-db",
                    "condition": "C".repeat(316), "status": "S".repeat(64)
                }}]}}}),
            ),
            admit(
                "a podSelector at its bounds",
                released(json!({ "matchLabels": widest_labels, "matchExpressions": widest_expressions })),
            ),
        ];

        let rejected = [
            reject(
                "depends on itself",
                json!({
                    "metadata": { "name": "results-viewer" },
                    "spec": { "dependsOn": [{ "name": "identity" }, { "name": "results-viewer" }] }
                }),
                "spec.dependsOn",
                "a system may not depend on itself",
            ),
            reject(
                "displayName missing",
                json!({ "spec": { "displayName": null } }),
                "spec.displayName",
                "Required value",
            ),
            reject(
                "tier missing",
                json!({ "spec": { "tier": null } }),
                "spec.tier",
                "Required value",
            ),
            reject(
                "recoveryTimeObjective missing",
                json!({ "spec": { "recoveryTimeObjective": null } }),
                "spec.recoveryTimeObjective",
                "Required value",
            ),
            reject(
                "unknown tier",
                json!({ "spec": { "tier": "urgent" } }),
                "spec.tier",
                "Unsupported value: \"urgent\"",
            ),
            reject(
                "recoveryPointObjective in days",
                json!({ "spec": { "recoveryPointObjective": "1d" } }),
                "spec.recoveryPointObjective",
                DURATION,
            ),
            reject(
                "a termination message on a step that runs no Job",
                json!({ "spec": { "restore": { "steps": [{ "name": "scale-up", "scale": scale, "restorePoint": { "terminationMessage": true } }] } } }),
                "spec.restore.steps[0]",
                "only a job step's pod writes a termination message",
            ),
            reject(
                "a restore point field without its object",
                json!({ "spec": { "restore": { "steps": [{ "name": "scale-up", "scale": scale, "restorePoint": { "field": "status.restoredTo" } }] } } }),
                "spec.restore.steps[0]",
                "name the object that holds the field",
            ),
            reject(
                "a restore point from nowhere",
                json!({ "spec": { "restore": { "steps": [{ "name": "scale-up", "scale": scale, "restorePoint": { "terminationMessage": false } }] } } }),
                "spec.restore.steps[0].restorePoint",
                "set exactly one of terminationMessage: true and field",
            ),
            reject(
                "a restore point field that is not a path",
                json!({ "spec": { "restore": { "steps": [{ "name": "db", "waitFor": { "apiVersion": "v1", "kind": "ConfigMap", "name": "db", "condition": "Ready" }, "restorePoint": { "field": "status..x[0]" } }] } } }),
                "spec.restore.steps[0].restorePoint.field",
                "must be a dotted path",
            ),
            reject(
                "recoveryTimeObjective in days",
                json!({ "spec": { "recoveryTimeObjective": "1d" } }),
                "spec.recoveryTimeObjective",
                DURATION,
            ),
            reject(
                "expectedRecoveryTime with a space",
                json!({ "spec": { "expectedRecoveryTime": "5 m" } }),
                "spec.expectedRecoveryTime",
                DURATION,
            ),
            reject(
                "restore.timeout without a unit",
                json!({ "spec": { "restore": { "timeout": "10" } } }),
                "spec.restore.timeout",
                DURATION,
            ),
            reject(
                "verify.deadline in words",
                json!({ "spec": { "verify": { "deadline": "soon" } } }),
                "spec.verify.deadline",
                DURATION,
            ),
            reject(
                "verify.retryInterval of zero",
                json!({ "spec": { "verify": { "retryInterval": "0s" } } }),
                "spec.verify.retryInterval",
                "must be at least 1s",
            ),
            reject(
                "verify.retryInterval under a second",
                json!({ "spec": { "verify": { "retryInterval": "250ms" } } }),
                "spec.verify.retryInterval",
                "must be at least 1s",
            ),
            reject(
                "verify.retryInterval with a fraction",
                json!({ "spec": { "verify": { "retryInterval": "1.5s" } } }),
                "spec.verify.retryInterval",
                DURATION,
            ),
            reject(
                "http timeout negative",
                json!({ "spec": { "verify": { "checks": [{
                    "name": "front-page",
                    "http": { "url": "http://lims.pathology.svc/", "timeout": "-5s" }
                }]}}}),
                "spec.verify.checks[0].http.timeout",
                DURATION,
            ),
            reject(
                "dependency name not DNS-1123",
                json!({ "spec": { "dependsOn": [{ "name": "Patient_Records" }] } }),
                "spec.dependsOn[0].name",
                DNS_NAME,
            ),
            reject(
                "dependency namespace not DNS-1123",
                json!({ "spec": { "dependsOn": [{ "name": "identity", "namespace": "core.infra" }] } }),
                "spec.dependsOn[0].namespace",
                DNS_LABEL,
            ),
            reject(
                "step name not DNS-1123",
                json!({ "spec": { "restore": { "steps": [step("Scale_Up")] } } }),
                "spec.restore.steps[0].name",
                DNS_LABEL,
            ),
            reject(
                "check name not DNS-1123",
                json!({ "spec": { "verify": { "checks": [check("front.page")] } } }),
                "spec.verify.checks[0].name",
                DNS_LABEL,
            ),
            reject(
                "negative replicas",
                json!({ "spec": { "restore": { "steps": [{
                    "name": "scale-up",
                    "scale": { "kind": "Deployment", "name": "lims", "replicas": -1 }
                }]}}}),
                "spec.restore.steps[0].scale.replicas",
                "should be greater than or equal to 0",
            ),
            reject(
                "step with no action",
                json!({ "spec": { "restore": { "steps": [step("ok"), { "name": "nothing" }] } } }),
                "spec.restore.steps[1]",
                ONE_STEP_ACTION,
            ),
            reject(
                "step with two actions",
                json!({ "spec": { "restore": { "steps": [
                    { "name": "both", "scale": scale, "manual": manual }
                ]}}}),
                "spec.restore.steps[0]",
                ONE_STEP_ACTION,
            ),
            reject(
                "check with no action",
                json!({ "spec": { "verify": { "checks": [check("ok"), { "name": "nothing" }] } } }),
                "spec.verify.checks[1]",
                ONE_CHECK_ACTION,
            ),
            reject(
                "check with two actions",
                json!({ "spec": { "verify": { "checks": [
                    { "name": "both", "http": http, "tcp": tcp }
                ]}}}),
                "spec.verify.checks[0]",
                ONE_CHECK_ACTION,
            ),
            reject(
                "duplicate step names",
                json!({ "spec": { "restore": { "steps": [step("confirm"), step("confirm")] } } }),
                "spec.restore.steps[1]",
                "Duplicate value",
            ),
            reject(
                "duplicate check names",
                json!({ "spec": { "verify": { "checks": [check("port"), check("port")] } } }),
                "spec.verify.checks[1]",
                "Duplicate value",
            ),
            reject(
                "http url not http(s)",
                json!({ "spec": { "verify": { "checks": [{
                    "name": "front-page", "http": { "url": "ftp://lims.pathology.svc/" }
                }]}}}),
                "spec.verify.checks[0].http.url",
                "must be an http:// or https:// URL",
            ),
            reject(
                "a bodyContains of 600 KB",
                json!({ "spec": { "verify": { "checks": [{
                    "name": "front-page",
                    "http": { "url": "http://lims.pathology.svc/", "bodyContains": "x".repeat(600 * 1024) }
                }]}}}),
                "spec.verify.checks[0].http.bodyContains",
                "Too long",
            ),
            reject(
                "more than 1000 replicas",
                json!({ "spec": { "restore": { "steps": [{
                    "name": "scale-up",
                    "scale": { "kind": "Deployment", "name": "lims", "replicas": 1001 }
                }]}}}),
                "spec.restore.steps[0].scale.replicas",
                "should be less than or equal to 1000",
            ),
            reject(
                "a waitFor apiVersion of 318 characters",
                wait_for("apiVersion", json!(format!("{}/v1", "g".repeat(315)))),
                "spec.restore.steps[0].waitFor.apiVersion",
                "Too long",
            ),
            reject(
                "a waitFor kind of 64 characters",
                wait_for("kind", json!("K".repeat(64))),
                "spec.restore.steps[0].waitFor.kind",
                "Too long",
            ),
            reject(
                "a waitFor condition of 317 characters",
                wait_for("condition", json!("C".repeat(317))),
                "spec.restore.steps[0].waitFor.condition",
                "Too long",
            ),
            reject(
                "a waitFor status of 65 characters",
                wait_for("status", json!("S".repeat(65))),
                "spec.restore.steps[0].waitFor.status",
                "Too long",
            ),
            reject(
                "21 matchLabels in the release podSelector",
                released(json!({ "matchLabels": labels(21) })),
                "spec.release.podSelector.matchLabels",
                "Too many",
            ),
            reject(
                "a release podSelector label key of 318 characters",
                released(json!({ "matchLabels": { format!("{long_key}x"): "lims" } })),
                "spec.release.podSelector.matchLabels",
                "a label key is at most 317 characters",
            ),
            reject(
                "a release podSelector label value of 64 characters",
                released(json!({ "matchLabels": { "app": "v".repeat(64) } })),
                "spec.release.podSelector.matchLabels.app",
                "Too long",
            ),
            reject(
                "21 matchExpressions in the release podSelector",
                released(json!({ "matchExpressions": expressions(21) })),
                "spec.release.podSelector.matchExpressions",
                "Too many",
            ),
            reject(
                "an unknown operator in the release podSelector",
                released(json!({ "matchExpressions": [{ "key": "app", "operator": "Near", "values": ["lims"] }] })),
                "spec.release.podSelector.matchExpressions[0].operator",
                "Unsupported value: \"Near\"",
            ),
            reject(
                "51 values in a release podSelector expression",
                released(json!({ "matchExpressions": [{ "key": "app", "operator": "In", "values": vec!["lims"; 51] }] })),
                "spec.release.podSelector.matchExpressions[0].values",
                "Too many",
            ),
            reject(
                "a release podSelector expression value of 64 characters",
                released(json!({ "matchExpressions": [{ "key": "app", "operator": "In", "values": ["v".repeat(64)] }] })),
                "spec.release.podSelector.matchExpressions[0].values[0]",
                "Too long",
            ),
        ];

        let api = dynamic_api::<ClinicalSystem>(&ns);
        run_cases(&api, "ClinicalSystem", &valid_clinical_system(), &admitted, &rejected).await;
    })
    .await;
}

fn valid_recovery_plan() -> Value {
    json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "metadata": { "name": "set-per-case" },
        "spec": {
            "systems": { "selector": { "matchLabels": { "lifeline.dev/estate": "test" } } },
            "parallelism": 4,
            "failurePolicy": "continue",
            "stages": [
                { "name": "it-validation", "approval": { "required": 0 } },
                {
                    "name": "all-staff",
                    "audience": { "ipBlocks": ["10.0.0.0/8"] },
                    "approval": { "required": 2, "approverGroups": ["clinical-safety-officers"] },
                    "checklist": ["IT validation found no faults"]
                }
            ]
        }
    })
}

#[tokio::test]
async fn recovery_plan_schema_rules() {
    with_namespace("crd-recoveryplan", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let selector = json!({ "matchLabels": { "lifeline.dev/estate": "test" } });
        let stage = |name: &str| json!({ "name": name });

        let admitted = [
            admit(
                "only the required fields",
                json!({ "spec": {
                    "systems": { "selector": null, "names": ["identity"] },
                    "parallelism": null, "failurePolicy": null, "stages": null
                }}),
            ),
            admit(
                "systems by name",
                json!({ "spec": { "systems": { "selector": null, "names": ["identity", "lims.v2"] } } }),
            ),
            admit(
                "a soak before the last stage",
                json!({ "spec": { "stages": [
                    { "name": "ward", "soak": "24h" }, { "name": "all-sites" }
                ]}}),
            ),
            admit(
                "the edge values: parallelism 1, 10 approvers",
                json!({ "spec": {
                    "parallelism": 1,
                    "stages": [{ "name": "all-sites", "approval": { "required": 10 } }]
                }}),
            ),
        ];

        let rejected = [
            reject(
                "systems by selector and by name",
                json!({ "spec": { "systems": { "selector": selector, "names": ["identity"] } } }),
                "spec.systems",
                ONE_SELECTION,
            ),
            reject(
                "systems by neither",
                json!({ "spec": { "systems": { "selector": null } } }),
                "spec.systems",
                ONE_SELECTION,
            ),
            reject(
                "system name not DNS-1123",
                json!({ "spec": { "systems": { "selector": null, "names": ["identity", "Lab_System"] } } }),
                "spec.systems.names[1]",
                "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?",
            ),
            reject(
                "parallelism 0",
                json!({ "spec": { "parallelism": 0 } }),
                "spec.parallelism",
                "should be greater than or equal to 1",
            ),
            reject(
                "a soak on the last stage",
                json!({ "spec": { "stages": [
                    { "name": "ward", "soak": "1h" }, { "name": "all-sites", "soak": "1h" }
                ]}}),
                "spec.stages",
                "the last stage cannot have a soak",
            ),
            reject(
                "a soak that is not a duration",
                json!({ "spec": { "stages": [{ "name": "ward", "soak": "a day" }, stage("all")] } }),
                "spec.stages[0].soak",
                "must be a duration",
            ),
            reject(
                "stage name not DNS-1123",
                json!({ "spec": { "stages": [stage("Pilot_Ward")] } }),
                "spec.stages[0].name",
                DNS_LABEL,
            ),
            reject(
                "duplicate stage names",
                json!({ "spec": { "stages": [stage("pilot-ward"), stage("all-sites"), stage("pilot-ward")] } }),
                "spec.stages[2]",
                "Duplicate value",
            ),
            reject(
                "an audience network that is no CIDR",
                json!({ "spec": { "stages": [{ "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24", "not-a-cidr"] } }] } }),
                "spec.stages[0].audience.ipBlocks",
                "each must be a CIDR such as 10.20.7.0/24 or fd00::/64",
            ),
            reject(
                "parallelism beyond any estate",
                json!({ "spec": { "parallelism": 4294967296u64 } }),
                "spec.parallelism",
                "should be less than or equal to 10000",
            ),
            reject(
                "a decision time that is no duration",
                json!({ "spec": { "stages": [{ "name": "all-sites", "approval": { "required": 1 }, "expectedDecisionTime": "2 hours" }] } }),
                "spec.stages[0].expectedDecisionTime",
                DURATION,
            ),
            reject(
                "more than 10 approvers",
                json!({ "spec": { "stages": [{ "name": "all-sites", "approval": { "required": 11 } }] } }),
                "spec.stages[0].approval.required",
                "should be less than or equal to 10",
            ),
        ];

        let api = dynamic_api::<RecoveryPlan>(&ns);
        run_cases(&api, "RecoveryPlan", &valid_recovery_plan(), &admitted, &rejected).await;
    })
    .await;
}

const STAGE_SYSTEMS: &str =
    "spec.systems: a stage Approval names the systems it decides, and only a stage Approval does";

fn valid_approval() -> Value {
    json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": "set-per-case" },
        "spec": {
            "plan": "northern-care-recovery",
            "stage": "pilot-ward",
            "systems": ["epr"],
            "decision": "approve",
            "comment": "Ward F7 checked",
            "acknowledged": ["Paper records from downtime back-entered for the pilot ward"],
            "approver": { "username": "dr-okafor", "groups": ["clinical-safety-officers"] }
        }
    })
}

#[tokio::test]
async fn approval_schema_rules() {
    with_namespace("crd-approval", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let admitted = [
            admit(
                "a manual step confirmed",
                json!({ "spec": { "stage": null, "systems": null, "system": "pathology/lims", "step": "restart-analysers" } }),
            ),
            admit("a rejection", json!({ "spec": { "decision": "reject" } })),
        ];
        let rejected = [
            reject(
                "stage and system and step",
                json!({ "spec": { "system": "lims", "step": "restart-analysers" } }),
                "spec",
                STAGE_OR_STEP,
            ),
            reject(
                "stage and step",
                json!({ "spec": { "step": "restart-analysers" } }),
                "spec",
                STAGE_OR_STEP,
            ),
            reject(
                "system without step",
                json!({ "spec": { "stage": null, "systems": null, "system": "lims" } }),
                "spec",
                STAGE_OR_STEP,
            ),
            reject(
                "step without system",
                json!({ "spec": { "stage": null, "systems": null, "step": "restart-analysers" } }),
                "spec",
                STAGE_OR_STEP,
            ),
            reject(
                "neither stage nor system and step",
                json!({ "spec": { "stage": null, "systems": null } }),
                "spec",
                STAGE_OR_STEP,
            ),
            reject(
                "a stage decision naming no system",
                json!({ "spec": { "systems": null } }),
                "spec",
                STAGE_SYSTEMS,
            ),
            reject(
                "a stage decision with an empty list of systems",
                json!({ "spec": { "systems": [] } }),
                "spec",
                STAGE_SYSTEMS,
            ),
            reject(
                "a manual step confirmation naming systems",
                json!({ "spec": { "stage": null, "system": "pathology/lims", "step": "restart-analysers" } }),
                "spec",
                STAGE_SYSTEMS,
            ),
            reject(
                "unknown decision",
                json!({ "spec": { "decision": "maybe" } }),
                "spec.decision",
                "Unsupported value: \"maybe\"",
            ),
        ];
        let api = dynamic_api::<Approval>(&ns);
        run_cases(&api, "Approval", &valid_approval(), &admitted, &rejected).await;
    })
    .await;
}

#[tokio::test]
async fn an_approval_is_immutable_but_its_labels_are_not() {
    with_namespace("crd-approval-immutable", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = dynamic_api::<Approval>(&ns);
        let created = api
            .create(
                &PostParams::default(),
                &patched(
                    &valid_approval(),
                    "pilot-ward-okafor".to_string(),
                    &json!({}),
                ),
            )
            .await
            .expect("create the approval");
        let pp = PatchParams::default();

        let changes = [
            ("the decision", json!({ "spec": { "decision": "reject" } })),
            (
                "a new comment",
                json!({ "spec": { "comment": "changed my mind" } }),
            ),
            (
                "the approver",
                json!({ "spec": { "approver": { "username": "mallory" } } }),
            ),
        ];
        let mut failures = Vec::new();
        for (what, patch) in changes {
            let result = api
                .patch("pilot-ward-okafor", &pp, &Patch::Merge(&patch))
                .await;
            if let Err(e) = check_rejection(result, "spec", IMMUTABLE) {
                failures.push(format!("changing {what}: {e}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        let labelled = api
            .patch(
                "pilot-ward-okafor",
                &pp,
                &Patch::Merge(
                    json!({ "metadata": { "labels": { "lifeline.dev/reviewed": "true" } } }),
                ),
            )
            .await
            .expect("a label may change");
        assert_eq!(
            labelled
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("lifeline.dev/reviewed")),
            Some(&"true".to_string())
        );
        assert_eq!(
            labelled.data["spec"], created.data["spec"],
            "the spec is unchanged"
        );
    })
    .await;
}

#[tokio::test]
async fn a_plans_stages_are_immutable_but_pause_is_not() {
    with_namespace("crd-plan-stages", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = dynamic_api::<RecoveryPlan>(&ns);
        api.create(
            &PostParams::default(),
            &patched(&valid_recovery_plan(), "recovery".to_string(), &json!({})),
        )
        .await
        .expect("create the plan");
        let pp = PatchParams::default();
        const STAGES: &str = "stages are immutable once the plan exists";
        let loosened = [
            (
                "no approval needed for all-staff",
                json!({ "spec": { "stages": [
                    { "name": "it-validation", "approval": { "required": 0 } },
                    { "name": "all-staff", "audience": { "ipBlocks": ["10.0.0.0/8"] } }
                ] } }),
            ),
            (
                "a stage added",
                json!({ "spec": { "stages": [
                    { "name": "it-validation", "approval": { "required": 0 } },
                    { "name": "everyone", "audience": { "ipBlocks": ["0.0.0.0/0"] } }
                ] } }),
            ),
            ("every stage removed", json!({ "spec": { "stages": null } })),
        ];
        let mut failures = Vec::new();
        for (what, patch) in loosened {
            let result = api.patch("recovery", &pp, &Patch::Merge(&patch)).await;
            if let Err(e) = check_rejection(result, "spec.stages", STAGES) {
                failures.push(format!("{what}: {e}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let paused = api
            .patch(
                "recovery",
                &pp,
                &Patch::Merge(json!({ "spec": { "paused": true } })),
            )
            .await
            .expect("pausing is allowed");
        assert_eq!(paused.data["spec"]["paused"], true);
        assert_eq!(
            paused.data["spec"]["stages"][1]["approval"]["required"], 2,
            "the approval rule is unchanged"
        );
        // A plan created without stages cannot have them added either.
        api.create(
            &PostParams::default(),
            &patched(
                &valid_recovery_plan(),
                "no-stages".to_string(),
                &json!({ "spec": { "stages": null } }),
            ),
        )
        .await
        .expect("create a plan without stages");
        let added = api
            .patch(
                "no-stages",
                &pp,
                &Patch::Merge(json!({ "spec": { "stages": [{ "name": "everyone" }] } })),
            )
            .await;
        if let Err(e) = check_rejection(added, "spec.stages", STAGES) {
            panic!("adding stages to a plan without any: {e}");
        }
    })
    .await;
}

fn valid_recovery_drill() -> Value {
    json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryDrill",
        "metadata": { "name": "set-per-case" },
        "spec": {
            "systems": { "names": ["lims", "pacs"] },
            "faults": [
                { "system": "lims", "scaleToZero": {} },
                { "system": "lims", "isolate": { "duration": "2m" } },
                { "system": "pacs", "deletePods": {} },
                { "system": "pacs", "failCheck": { "check": "viewer", "duration": "90s" } }
            ],
            "recovery": { "stages": [{ "name": "it-validation" }] },
            "approvals": "automatic",
            "timeout": "1h",
            "schedule": "0 3 * * 6",
            "historyLimit": 5
        }
    })
}

#[tokio::test]
async fn recovery_drill_schema_rules() {
    with_namespace("crd-recoverydrill", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        const ONE_FAULT: &str =
            "a fault must set exactly one of scaleToZero, deletePods, isolate or failCheck";
        let admitted = [
            admit(
                "real approvals, no schedule, the edge history limits",
                json!({ "spec": { "approvals": "real", "schedule": null, "historyLimit": 50 } }),
            ),
            admit("history limit 1", json!({ "spec": { "historyLimit": 1 } })),
        ];
        let rejected = [
            reject(
                "a soak on the recovery's last stage",
                json!({ "spec": { "recovery": { "stages": [{ "name": "all-sites", "soak": "1h" }] } } }),
                "spec.recovery.stages",
                "the last stage cannot have a soak",
            ),
            reject(
                "a seven-field schedule",
                json!({ "spec": { "schedule": "0 0 3 * * 6 2027" } }),
                "spec.schedule",
                "must be a cron expression of five fields, or six with leading seconds",
            ),
            reject(
                "a fault with two kinds",
                json!({ "spec": { "faults": [{ "system": "lims", "scaleToZero": {}, "deletePods": {} }] } }),
                "spec.faults[0]",
                ONE_FAULT,
            ),
            reject(
                "a fault with no kind",
                json!({ "spec": { "faults": [{ "system": "lims" }] } }),
                "spec.faults[0]",
                ONE_FAULT,
            ),
            reject(
                "no fault at all",
                json!({ "spec": { "faults": [] } }),
                "spec.faults",
                "should have at least 1 items",
            ),
            reject(
                "a fault's system not a DNS-1123 label",
                json!({ "spec": { "faults": [{ "system": "LIMS", "deletePods": {} }] } }),
                "spec.faults[0].system",
                "must be the name of a ClinicalSystem in the drill's namespace",
            ),
            reject(
                "a timeout that is no duration",
                json!({ "spec": { "timeout": "an hour" } }),
                "spec.timeout",
                DURATION,
            ),
            reject(
                "an isolation duration that is no duration",
                json!({ "spec": { "faults": [{ "system": "lims", "isolate": { "duration": "2 minutes" } }] } }),
                "spec.faults[0].isolate.duration",
                DURATION,
            ),
            reject(
                "history limit 0",
                json!({ "spec": { "historyLimit": 0 } }),
                "spec.historyLimit",
                "should be greater than or equal to 1",
            ),
            reject(
                "history limit 51",
                json!({ "spec": { "historyLimit": 51 } }),
                "spec.historyLimit",
                "should be less than or equal to 50",
            ),
            reject(
                "an unknown approvals mode",
                json!({ "spec": { "approvals": "sometimes" } }),
                "spec.approvals",
                "Unsupported value: \"sometimes\"",
            ),
        ];
        let api = dynamic_api::<RecoveryDrill>(&ns);
        run_cases(&api, "RecoveryDrill", &valid_recovery_drill(), &admitted, &rejected).await;
    })
    .await;
}
