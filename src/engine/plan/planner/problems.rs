//! What the planner reports: one problem per thing wrong with the plan or a system, all
//! of them at once; and a system's spec checked for what the CRD schema would reject.

use std::{fmt, time::Duration};

use super::{SystemSource, key};
use crate::api::v1alpha1::{DEFAULT_EXPECTED_RECOVERY_TIME, parse_duration};

/// One problem found while planning. Every variant names what it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanProblem {
    /// A system's `dependsOn` names a system that does not exist.
    #[error("{system} ({origin}): spec.dependsOn names {missing}, which does not exist")]
    UnknownDependency {
        /// The referring system.
        system: String,
        /// Where it came from.
        origin: String,
        /// The missing name.
        missing: String,
    },
    /// Two objects with the same namespace and name.
    #[error("{system} is defined twice: {first} and {second}")]
    Duplicate {
        /// The duplicated key.
        system: String,
        /// Where the first came from.
        first: String,
        /// Where the second came from.
        second: String,
    },
    /// A dependency cycle, printed `a -> b -> c -> a`.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// The plan selects a system but not one of its hard dependencies.
    #[error(
        "{system} is in the plan but its hard dependency {dependency} is not: add it to the plan or mark the dependency optional"
    )]
    DependencyNotSelected {
        /// The selected system.
        system: String,
        /// The hard dependency left out.
        dependency: String,
    },
    /// The plan names a system that does not exist.
    #[error("the plan selects {system}, which does not exist")]
    UnknownSelected {
        /// The missing system.
        system: String,
    },
    /// A field of a system's spec is malformed.
    #[error("{system} ({origin}): {field}: {message}")]
    InvalidField {
        /// The system.
        system: String,
        /// Where it came from.
        origin: String,
        /// The field path, e.g. "spec.restore.steps[2]".
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The plan selects no systems at all.
    #[error("the plan selects no ClinicalSystems")]
    Empty,
}

/// Every problem found, so a person fixes them all in one go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanProblem>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the plan:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}

/// Checks one system's spec for what the CRD schema would reject, for input that did not
/// go through the API server (files read by the CLI).
pub(super) fn check_spec(
    src: &SystemSource<'_>,
    problems: &mut Vec<PlanProblem>,
) -> (Duration, Duration) {
    // The key is only needed for a problem: formatting it up front for every system was
    // a measurable share of planning a large estate.
    let mut bad = |field: String, message: String| {
        problems.push(PlanProblem::InvalidField {
            system: key(src.namespace, src.name),
            origin: src.origin.to_string(),
            field,
            message,
        })
    };
    let spec = src.spec;
    let objective = match parse_duration(&spec.recovery_time_objective.0) {
        Ok(d) => d,
        Err(e) => {
            bad("spec.recoveryTimeObjective".into(), e.to_string());
            Duration::ZERO
        }
    };
    let expected_text = spec
        .expected_recovery_time
        .as_ref()
        .map(|d| d.0.as_str())
        .unwrap_or(DEFAULT_EXPECTED_RECOVERY_TIME);
    let expected = match parse_duration(expected_text) {
        Ok(d) => d,
        Err(e) => {
            bad("spec.expectedRecoveryTime".into(), e.to_string());
            Duration::ZERO
        }
    };
    // Duplicate names: the nearest earlier namesake, by a scan (at most 50 of each per the
    // schema) rather than a map allocated for every system.
    let steps = spec.steps();
    for (i, step) in steps.iter().enumerate() {
        if step.action().is_none() {
            bad(
                format!("spec.restore.steps[{i}]"),
                "a restore step must set exactly one of scale, rolloutRestart, job, waitFor or manual"
                    .into(),
            );
        }
        if let Some(first) = steps[..i].iter().rposition(|x| x.name == step.name) {
            bad(
                format!("spec.restore.steps[{i}].name"),
                format!("'{}' is also the name of steps[{first}]", step.name),
            );
        }
    }
    let checks = spec.checks();
    for (i, check) in checks.iter().enumerate() {
        if check.action().is_none() {
            bad(
                format!("spec.verify.checks[{i}]"),
                "a check must set exactly one of http, tcp, job or workloadReady".into(),
            );
        }
        if let Some(first) = checks[..i].iter().rposition(|x| x.name == check.name) {
            bad(
                format!("spec.verify.checks[{i}].name"),
                format!("'{}' is also the name of checks[{first}]", check.name),
            );
        }
    }
    for (field, value) in [
        (
            "spec.restore.timeout",
            spec.restore.as_ref().and_then(|r| r.timeout.as_ref()),
        ),
        (
            "spec.verify.retryInterval",
            spec.verify.as_ref().and_then(|v| v.retry_interval.as_ref()),
        ),
        (
            "spec.verify.deadline",
            spec.verify.as_ref().and_then(|v| v.deadline.as_ref()),
        ),
        (
            "spec.recoveryPointObjective",
            spec.recovery_point_objective.as_ref(),
        ),
    ] {
        if let Some(Err(e)) = value.map(|d| d.parse()) {
            bad(field.into(), e.to_string());
        }
    }
    (objective, expected)
}
