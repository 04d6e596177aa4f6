//! Types shared by the lifeline resources: durations, names, workload references.

use std::fmt;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CEL: a DNS-1123 label (lower-case alphanumerics and '-', starting and ending alphanumeric).
pub(crate) const DNS1123_LABEL_RULE: &str = "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')";
/// CEL: a DNS-1123 subdomain (labels joined by '.').
pub(crate) const DNS1123_SUBDOMAIN_RULE: &str =
    "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')";
/// CEL: a duration such as `30s`, `15m`, `4h` or `1h30m`.
pub(crate) const DURATION_RULE: &str = "self.matches('^([0-9]+(ms|s|m|h))+$')";
pub(crate) const DURATION_MESSAGE: &str =
    "must be a duration such as 30s, 15m, 4h or 1h30m (units: ms, s, m, h)";

/// The schema of a bounded label selector: at most 20 `matchLabels` (keys at most 317
/// characters, values at most 63) and at most 20 `matchExpressions` (a known operator, at
/// most 50 values of at most 63 characters each), so that no selector can grow an object,
/// the NetworkPolicy made from it, or the CEL rules that read it without bound. The shape
/// is that of `metav1.LabelSelector`.
pub(crate) fn bounded_label_selector_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "properties": {
            "matchLabels": {
                "description": "Labels the pods must all have: at most 20, keys at most 317 characters, values at most 63.",
                "type": "object",
                "maxProperties": 20,
                "additionalProperties": { "type": "string", "maxLength": 63 },
                "x-kubernetes-validations": [{
                    "rule": "self.all(k, size(k) <= 317)",
                    "message": "a label key is at most 317 characters (a 253-character prefix, '/', a 63-character name)"
                }]
            },
            "matchExpressions": {
                "description": "Requirements the pods' labels must all meet: at most 20.",
                "type": "array",
                "maxItems": 20,
                "items": {
                    "description": "A requirement on one label.",
                    "type": "object",
                    "properties": {
                        "key": {
                            "description": "The label key.",
                            "type": "string", "minLength": 1, "maxLength": 317
                        },
                        "operator": {
                            "description": "How the key relates to the values: In, NotIn, Exists or DoesNotExist.",
                            "type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]
                        },
                        "values": {
                            "description": "For In and NotIn, the values (at most 50, each at most 63 characters); empty for Exists and DoesNotExist.",
                            "type": "array",
                            "maxItems": 50,
                            "items": { "type": "string", "maxLength": 63 }
                        }
                    },
                    "required": ["key", "operator"]
                }
            }
        }
    })
}

/// A duration written the way people say it: `30s`, `15m`, `4h`, `1h30m`.
///
/// Parsed once, at the edge, into a [`std::time::Duration`] by [`DurationString::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationString(pub String);

impl JsonSchema for DurationString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DurationString".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // A bound on the length keeps the CEL rules on durations cheap for the API server.
        schemars::json_schema!({
            "type": "string",
            "maxLength": 32,
        })
    }
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a duration such as 30s, 15m, 4h or 1h30m: {reason}")]
pub struct DurationError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl DurationString {
    /// Wraps a string without checking it; [`DurationString::parse`] checks.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The duration, or why the text is not one. Accepts one or more `<digits><unit>`
    /// groups with units `ms`, `s`, `m` and `h` (the same rule the CRD schema applies).
    pub fn parse(&self) -> Result<std::time::Duration, DurationError> {
        parse_duration(&self.0)
    }
}

impl fmt::Display for DurationString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `1h30m`-style durations. See [`DurationString::parse`].
pub fn parse_duration(input: &str) -> Result<std::time::Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    if input.is_empty() {
        return Err(err("it is empty"));
    }
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err("expected a number before each unit"));
        }
        let value: u64 = input[start..i]
            .parse()
            .map_err(|_| err("a number is too large"))?;
        let unit_ms: u64 = if input[i..].starts_with("ms") {
            i += 2;
            1
        } else {
            let unit = bytes.get(i).copied();
            i += 1;
            match unit {
                Some(b's') => 1_000,
                Some(b'm') => 60_000,
                Some(b'h') => 3_600_000,
                None => return Err(err("a number has no unit (ms, s, m or h)")),
                Some(_) => return Err(err("units are ms, s, m and h")),
            }
        };
        total_ms = value
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| err("it is too long"))?;
    }
    Ok(std::time::Duration::from_millis(total_ms))
}

/// The name in a system's key ("namespace/name" -> "name").
pub fn short_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// A duration in whole units, largest first, leaving out the units it has none of:
/// `[(1, "h"), (30, "m")]` for an hour and a half. Units are `h`, `m`, `s` and `ms`; no
/// unit at all for zero. Every duration lifeline shows is written from these.
pub fn duration_units(d: std::time::Duration) -> Vec<(u128, &'static str)> {
    let mut ms = d.as_millis();
    let mut out = Vec::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push((ms / size, unit));
            ms %= size;
        }
    }
    out
}

/// Formats a duration the way [`parse_duration`] reads it, largest units first
/// (`1h30m`, `45s`, `0s`). Sub-second parts are kept as `ms`.
pub fn format_duration(d: std::time::Duration) -> String {
    let units = duration_units(d);
    if units.is_empty() {
        return "0s".to_string();
    }
    units.iter().map(|(n, unit)| format!("{n}{unit}")).collect()
}

/// The kinds of workload a restore step or check can act on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum WorkloadKind {
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        })
    }
}

/// A Deployment or StatefulSet in the system's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// `Deployment` or `StatefulSet`.
    pub kind: WorkloadKind,
    /// The workload's name, in the ClinicalSystem's namespace.
    #[x_kube(validation = kube::core::Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_the_durations_people_write() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(
            parse_duration("1m30s500ms"),
            Ok(Duration::from_millis(90_500))
        );
    }

    #[test]
    fn rejects_what_the_schema_rejects() {
        for bad in [
            "",
            "5",
            "h",
            "1d",
            "1.5h",
            "-1h",
            "1h 30m",
            "m5",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must not parse");
        }
        assert!(
            parse_duration("1d")
                .unwrap_err()
                .to_string()
                .contains("'1d' is not a duration")
        );
    }

    #[test]
    fn formatting_round_trips() {
        for s in ["0s", "45s", "15m", "1h30m", "2h0m5s", "1m30s500ms"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{s}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
