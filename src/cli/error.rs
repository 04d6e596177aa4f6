//! [`CtlError`]: what went wrong in `lifeline status`, `retry`, `pause`, `resume` or
//! `abort`, each message naming the plan; and the mapping of API errors onto it.

use kube::runtime::watcher;

use crate::api::v1alpha1::{PlanPhase, RETRY_ANNOTATION_PREFIX, SystemPhase};

/// What went wrong in a client-side command. Every message names the plan.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// No such plan.
    #[error("recoveryplan {namespace}/{name} not found in namespace {namespace}")]
    PlanNotFound {
        /// The namespace looked in.
        namespace: String,
        /// The plan's name.
        name: String,
    },
    /// The cluster does not serve the RecoveryPlan API at all.
    #[error(
        "recoveryplan {plan}: this cluster does not serve recoveryplans.lifeline.dev/v1alpha1; \
         install lifeline first (kubectl apply -k manifests/crds/)"
    )]
    ApiNotInstalled {
        /// "namespace/name".
        plan: String,
    },
    /// The named system is not one of the plan's.
    #[error("recoveryplan {plan}: {system} is not in this plan (its systems: {known})")]
    UnknownSystem {
        /// "namespace/name" of the plan.
        plan: String,
        /// The system as given.
        system: String,
        /// The plan's systems, for the reader, or "none yet".
        known: String,
    },
    /// A bare system name that systems of the plan in several namespaces have.
    #[error(
        "recoveryplan {plan}: {system} is ambiguous: it is the name of {candidates}; name the one you mean as namespace/name"
    )]
    AmbiguousSystem {
        /// "namespace/name" of the plan.
        plan: String,
        /// The name as given.
        system: String,
        /// The systems ("namespace/name") that have it, joined with " and ".
        candidates: String,
    },
    /// Only a Failed system can be retried.
    #[error(
        "recoveryplan {plan}: {system} is {phase}, not Failed: only a failed system can be retried"
    )]
    NotFailed {
        /// "namespace/name" of the plan.
        plan: String,
        /// The system as given.
        system: String,
        /// Its phase.
        phase: SystemPhase,
    },
    /// The system's name cannot be the name part of an annotation key.
    #[error(
        "recoveryplan {plan}: cannot request a retry or restore of {system}: \
         '{RETRY_ANNOTATION_PREFIX}{system}' is not a valid annotation key \
         (the name part is limited to 63 characters)"
    )]
    SystemNameTooLong {
        /// "namespace/name" of the plan.
        plan: String,
        /// The system's name.
        system: String,
    },
    /// A restore again that cannot be done, with why.
    #[error("recoveryplan {plan}: {reason}")]
    RestoreRefused {
        /// "namespace/name" of the plan.
        plan: String,
        /// Why, naming the system and step.
        reason: String,
    },
    /// A hand-back that cannot be recorded, with why.
    #[error("recoveryplan {plan}: {reason}")]
    HandBackRefused {
        /// "namespace/name" of the plan.
        plan: String,
        /// Why, naming the system and item.
        reason: String,
    },
    /// Aborted plans are final.
    #[error("recoveryplan {plan} is aborted: {what}")]
    Aborted {
        /// "namespace/name" of the plan.
        plan: String,
        /// What cannot be done, e.g. "its systems can no longer be retried".
        what: &'static str,
    },
    /// Abort on a plan that already reached a final phase.
    #[error("recoveryplan {plan} has already finished ({phase}): there is nothing to abort")]
    AlreadyFinished {
        /// "namespace/name" of the plan.
        plan: String,
        /// Its final phase.
        phase: PlanPhase,
    },
    /// Who is asking could not be told (the SelfSubjectReview failed).
    #[error("recoveryplan {plan}: cannot tell who you are to record who asked: {reason}")]
    Identity {
        /// "namespace/name" of the plan.
        plan: String,
        /// Why.
        reason: String,
    },
    /// The Intervention recording who asked was refused (RBAC, admission).
    #[error(
        "recoveryplan {plan}: the Intervention that records who asked for the {action} was refused: {source}"
    )]
    InterventionRefused {
        /// "namespace/name" of the plan.
        plan: String,
        /// pause, resume, abort, retry or restore.
        action: crate::api::v1alpha1::InterventionAction,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The plan disappeared while it was being watched.
    #[error("recoveryplan {plan} was deleted")]
    Deleted {
        /// "namespace/name" of the plan.
        plan: String,
    },
    /// The API server refused or failed a request.
    #[error("{action} recoveryplan {plan}: {source}")]
    Kube {
        /// What was being done: "get", "patch", ...
        action: &'static str,
        /// "namespace/name" of the plan.
        plan: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The watch failed in a way retrying will not fix (forbidden, not found).
    #[error("watch recoveryplan {plan}: {source}")]
    Watch {
        /// "namespace/name" of the plan.
        plan: String,
        /// The watcher's error.
        #[source]
        source: watcher::Error,
    },
    /// Writing the output failed (e.g. a closed pipe).
    #[error("write status of recoveryplan {plan}: {source}")]
    Output {
        /// "namespace/name" of the plan.
        plan: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The status could not be serialised as JSON.
    #[error("serialize status of recoveryplan {plan}: {source}")]
    Serialize {
        /// "namespace/name" of the plan.
        plan: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// Names a not-found plan, or a missing API, instead of passing the API server's words on.
pub(super) fn kube_error(
    action: &'static str,
    namespace: &str,
    plan: &str,
    e: kube::Error,
) -> CtlError {
    match &e {
        kube::Error::Api(s) if s.code == 404 => {
            // A missing object comes with its name in the details; a missing resource
            // type (the CRD is not installed) does not.
            if s.details.as_ref().is_some_and(|d| d.name == plan) {
                CtlError::PlanNotFound {
                    namespace: namespace.to_string(),
                    name: plan.to_string(),
                }
            } else {
                CtlError::ApiNotInstalled {
                    plan: format!("{namespace}/{plan}"),
                }
            }
        }
        _ => CtlError::Kube {
            action,
            plan: format!("{namespace}/{plan}"),
            source: e,
        },
    }
}
