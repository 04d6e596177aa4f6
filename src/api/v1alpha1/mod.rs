//! `lifeline.dev/v1alpha1`: ClinicalSystem, RecoveryPlan, Approval, Intervention,
//! RecoveryDrill, and the operator's RecoveryRecord and RecoveryProgress.

mod approval;
mod clinical_system;
mod common;
pub mod conditions;
mod intervention;
mod recovery_drill;
mod recovery_plan;
mod recovery_progress;
mod recovery_record;

pub use approval::*;
pub use clinical_system::*;
pub use common::*;
pub use intervention::*;
pub use recovery_drill::*;
pub use recovery_plan::*;
pub use recovery_progress::*;
pub use recovery_record::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD of this version, in the order `lifeline crd` prints them, with each field's
/// description as flowing text (see [`unwrap_description`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut all = vec![
        ClinicalSystem::crd(),
        RecoveryPlan::crd(),
        Approval::crd(),
        Intervention::crd(),
        RecoveryDrill::crd(),
        RecoveryRecord::crd(),
        RecoveryProgress::crd(),
    ];
    for crd in &mut all {
        for version in &mut crd.spec.versions {
            let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.take())
            else {
                continue;
            };
            let unwrapped = serde_json::to_value(&schema)
                .map(|mut v| {
                    unwrap_descriptions(&mut v);
                    v
                })
                .and_then(serde_json::from_value);
            if let Some(s) = version.schema.as_mut() {
                s.open_api_v3_schema = Some(unwrapped.unwrap_or(schema));
            }
        }
    }
    all
}

fn unwrap_descriptions(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    serde_json::Value::String(text) if key == "description" => {
                        *text = unwrap_description(text);
                    }
                    other => unwrap_descriptions(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// A doc comment as `kubectl explain` should print it: the line breaks of the source
/// (wrapped at 92 columns) joined into spaces, so the terminal wraps the text; a blank line
/// (a new paragraph) and a line that starts a list item (`- `) keep their break.
pub fn unwrap_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_end();
        if i > 0 {
            let paragraph = line.is_empty() || out.ends_with('\n');
            let item = line.trim_start().starts_with("- ");
            out.push(if paragraph || item { '\n' } else { ' ' });
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_flow_but_keep_paragraphs_and_list_items() {
        assert_eq!(
            unwrap_description(
                "A system that lifeline can\nrestore.\n\nSecond paragraph\n- one\n- two"
            ),
            "A system that lifeline can restore.\n\nSecond paragraph\n- one\n- two"
        );
    }

    #[test]
    fn no_crd_description_keeps_a_source_line_break() {
        let text = serde_json::to_string(&crds()).expect("json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        fn check(v: &serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, c) in map {
                        if k == "description" {
                            let d = c.as_str().unwrap_or_default();
                            for (i, line) in d.split('\n').enumerate().skip(1) {
                                let before = d.split('\n').nth(i - 1).unwrap_or_default();
                                assert!(
                                    line.is_empty() || before.is_empty() || line.starts_with("- "),
                                    "a wrapped description: {d:?}"
                                );
                            }
                        } else {
                            check(c);
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(check),
                _ => {}
            }
        }
        check(&v);
    }
}
