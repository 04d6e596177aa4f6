//! Strict reading of the objects users write: a field the CRD's schema does not know is
//! an error, as it is for `kubectl apply` (the API server's strict field validation),
//! with the nearest known field suggested. Without this, `dependOn:` for `dependsOn:`
//! would be dropped silently and the restore order would be wrong with exit code 0.

use kube::CustomResourceExt;
use serde_json::Value;

use crate::api::v1alpha1::{ClinicalSystem, RecoveryDrill, RecoveryPlan};

/// The fields of `metadata` (ObjectMeta) an object may carry, as the API server knows
/// them; what is under them (labels, annotations, managedFields) is not checked here.
const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// A field the schema does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    /// Where it is, as kubectl writes it: `spec.checks[0].htpp`.
    pub path: String,
    /// The nearest field the schema knows at that place, when one is close.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for UnknownField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: unknown field", self.path)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean {s}?)")?;
        }
        Ok(())
    }
}

/// The openAPIV3Schema of a lifeline kind, or None for a kind lifeline does not define;
/// made once per kind, not once per object (an estate's files hold thousands).
fn schema_of(kind: &str) -> Option<&'static Value> {
    use std::sync::OnceLock;
    fn of(
        crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> Option<Value> {
        let version = crd.spec.versions.into_iter().next()?;
        let schema = version.schema?.open_api_v3_schema?;
        serde_json::to_value(schema).ok()
    }
    static SYSTEM: OnceLock<Option<Value>> = OnceLock::new();
    static PLAN: OnceLock<Option<Value>> = OnceLock::new();
    static DRILL: OnceLock<Option<Value>> = OnceLock::new();
    match kind {
        "ClinicalSystem" => SYSTEM.get_or_init(|| of(ClinicalSystem::crd())).as_ref(),
        "RecoveryPlan" => PLAN.get_or_init(|| of(RecoveryPlan::crd())).as_ref(),
        "RecoveryDrill" => DRILL.get_or_init(|| of(RecoveryDrill::crd())).as_ref(),
        _ => None,
    }
}

/// Every field of `object` (a whole lifeline object, as YAML) that the schema of its
/// kind does not know, in document order. Empty for kinds lifeline does not define and
/// for values that are not JSON-like (the typed parse then reports those).
pub fn unknown_fields(kind: &str, object: &serde_yaml::Value) -> Vec<UnknownField> {
    let (Some(schema), Ok(value)) = (schema_of(kind), serde_json::to_value(object)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(meta) = value.get("metadata").and_then(Value::as_object) {
        for key in meta.keys() {
            if !OBJECT_META.contains(&key.as_str()) {
                out.push(UnknownField {
                    path: format!("metadata.{key}"),
                    suggestion: nearest(key, OBJECT_META.iter().copied()),
                });
            }
        }
    }
    walk(schema, &value, "", &mut out);
    out
}

fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<UnknownField>) {
    if schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue; // the object's type and ObjectMeta, checked above
                }
                match (props.and_then(|p| p.get(key)), extra) {
                    (Some(s), _) => walk(s, child, &at, out),
                    (None, Some(s)) => walk(s, child, &at, out),
                    // An object with no properties listed is free-form.
                    (None, None) if props.is_none() => {}
                    (None, None) => out.push(UnknownField {
                        path: at,
                        suggestion: props.and_then(|p| nearest(key, p.keys().map(String::as_str))),
                    }),
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, child) in items.iter().enumerate() {
                    walk(s, child, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// The known field nearest to `typed`, when it is near enough to be a slip of the keys
/// (same letters in another case, or a few edits away), as kubectl and cargo suggest.
fn nearest<'a>(typed: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let lower = typed.to_ascii_lowercase();
    let limit = (typed.len() / 3).clamp(1, 3);
    known
        .map(|k| {
            let d = if k.to_ascii_lowercase() == lower {
                0
            } else {
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase())
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).expect("yaml")
    }

    const SYSTEM: &str = "
apiVersion: lifeline.dev/v1alpha1
kind: ClinicalSystem
metadata: {name: lab, namespace: ward, labels: {a: b}}
spec:
  tier: critical
  recoveryTimeObjective: 1h
";

    #[test]
    fn a_correct_object_has_no_unknown_fields() {
        assert_eq!(unknown_fields("ClinicalSystem", &yaml(SYSTEM)), vec![]);
    }

    #[test]
    fn a_misspelled_field_is_found_with_the_nearest_known_one() {
        let text = format!("{SYSTEM}  dependOn: [pas]\n");
        assert_eq!(
            unknown_fields("ClinicalSystem", &yaml(&text)),
            vec![UnknownField {
                path: "spec.dependOn".into(),
                suggestion: Some("dependsOn".into())
            }]
        );
    }

    #[test]
    fn fields_are_checked_inside_lists_and_metadata() {
        let text = format!(
            "{SYSTEM}  verify:\n    checks:\n    - name: up\n      htpp: {{url: http://x}}\n"
        )
        .replace("labels:", "lables:");
        let found = unknown_fields("ClinicalSystem", &yaml(&text));
        let paths: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            paths.contains(&"metadata.lables: unknown field (did you mean labels?)".to_string()),
            "{paths:?}"
        );
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("spec.verify.checks[0].htpp: unknown field")),
            "{paths:?}"
        );
    }

    #[test]
    fn a_field_far_from_every_known_one_has_no_suggestion() {
        let text = format!("{SYSTEM}  colour: blue\n");
        assert_eq!(
            unknown_fields("ClinicalSystem", &yaml(&text)),
            vec![UnknownField {
                path: "spec.colour".into(),
                suggestion: None
            }]
        );
    }

    #[test]
    fn kinds_lifeline_does_not_define_are_not_checked() {
        assert_eq!(unknown_fields("Deployment", &yaml("spec: {x: 1}")), vec![]);
    }
}
