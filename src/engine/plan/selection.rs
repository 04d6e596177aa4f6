//! Label selector matching, as the API server does it (`matchLabels` and
//! `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Why a selector could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("matchExpressions[{index}]: {message}")]
pub struct SelectorError {
    /// Which expression.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// Whether `labels` match `selector`. An empty selector matches everything.
pub fn matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectorError> {
    if let Some(ml) = &selector.match_labels
        && ml.iter().any(|(k, v)| labels.get(k) != Some(v))
    {
        return Ok(false);
    }
    for (index, e) in selector.match_expressions.iter().flatten().enumerate() {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or(&[]);
        let ok = match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => {
                return Err(SelectorError {
                    index,
                    message: format!(
                        "operator '{other}' is not one of In, NotIn, Exists, DoesNotExist"
                    ),
                });
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The "namespace/name" keys a RecoveryPlan in `namespace` selects, from `systems` (name
/// and labels of each ClinicalSystem in that namespace). The error names the field.
pub fn select_systems<'a>(
    namespace: &str,
    selection: &crate::api::v1alpha1::SystemSelection,
    systems: impl IntoIterator<Item = (&'a str, Option<&'a BTreeMap<String, String>>)>,
) -> Result<Vec<String>, String> {
    if let Some(names) = &selection.names {
        return Ok(names.iter().map(|n| format!("{namespace}/{n}")).collect());
    }
    let Some(selector) = &selection.selector else {
        return Err("spec.systems: set exactly one of selector and names".to_string());
    };
    let empty = BTreeMap::new();
    let mut keys = Vec::new();
    for (name, labels) in systems {
        if matches(selector, labels.unwrap_or(&empty))
            .map_err(|e| format!("spec.systems.selector.{e}"))?
        {
            keys.push(format!("{namespace}/{name}"));
        }
    }
    Ok(keys)
}

/// The "namespace/name" keys a RecoveryPlan in `own` selects across the namespaces its
/// selection lists, from `systems` (namespace, name and labels of each ClinicalSystem
/// there). A name picks the system of that name in each namespace that has one; a name
/// found nowhere is kept in the plan's own namespace, for the planner to report.
pub fn select_across<'a>(
    own: &str,
    selection: &crate::api::v1alpha1::SystemSelection,
    systems: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a BTreeMap<String, String>>)>,
) -> Result<Vec<String>, String> {
    let systems: Vec<_> = systems.into_iter().collect();
    if let Some(names) = &selection.names {
        let mut keys = Vec::new();
        for n in names {
            let found: Vec<String> = systems
                .iter()
                .filter(|(_, name, _)| name == n)
                .map(|(ns, name, _)| format!("{ns}/{name}"))
                .collect();
            if found.is_empty() {
                keys.push(format!("{own}/{n}"));
            } else {
                keys.extend(found);
            }
        }
        return Ok(keys);
    }
    let Some(selector) = &selection.selector else {
        return Err("spec.systems: set exactly one of selector and names".to_string());
    };
    let empty = BTreeMap::new();
    let mut keys = Vec::new();
    for (ns, name, labels) in systems {
        if matches(selector, labels.unwrap_or(&empty))
            .map_err(|e| format!("spec.systems.selector.{e}"))?
        {
            keys.push(format!("{ns}/{name}"));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("estate", "north")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["critical", "mission-critical"]),
                expr("retired", "DoesNotExist", &[]),
            ]),
        };
        assert!(matches(&sel, &labels(&[("estate", "north"), ("tier", "critical")])).unwrap());
        assert!(!matches(&sel, &labels(&[("estate", "south"), ("tier", "critical")])).unwrap());
        assert!(!matches(&sel, &labels(&[("estate", "north"), ("tier", "important")])).unwrap());
        assert!(
            !matches(
                &sel,
                &labels(&[("estate", "north"), ("tier", "critical"), ("retired", "y")])
            )
            .unwrap()
        );
        assert!(matches(&LabelSelector::default(), &labels(&[])).unwrap());
        let bad = LabelSelector {
            match_expressions: Some(vec![expr("a", "Like", &[])]),
            ..Default::default()
        };
        assert!(
            matches(&bad, &labels(&[]))
                .unwrap_err()
                .to_string()
                .contains("'Like'")
        );
    }
}
