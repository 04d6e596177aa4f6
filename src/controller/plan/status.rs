//! Writing a plan's status: its conditions filled in (kept stable while their status stays
//! the same, [`crate::engine::conditions`]) and written only when something changed.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::{
    api::v1alpha1::{RecoveryPlan, RecoveryPlanStatus},
    controller::{Context, cluster},
    engine::conditions,
    error::Error,
};

/// Writes `next` (with conditions filled in) if it differs from `prev`. When the API
/// server refuses it for its size, writes it trimmed ([`trim`]) with the condition
/// `StatusComplete=False` saying why, so the plan goes on with what it must keep.
pub async fn write(
    ctx: &Context,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    now: Timestamp,
) -> Result<(), Error> {
    conditions::plan_valid(prev, next, plan.metadata.generation, now);
    // A status trimmed before is tried whole again: the condition says which it is.
    if next
        .conditions
        .iter()
        .any(|c| c.type_ == crate::api::v1alpha1::conditions::STATUS_COMPLETE)
    {
        conditions::set_condition(
            &mut next.conditions,
            &prev.conditions,
            conditions::NewCondition {
                type_: crate::api::v1alpha1::conditions::STATUS_COMPLETE,
                status: true,
                reason: crate::api::v1alpha1::conditions::reason::STORED,
                message: "the whole status is stored".into(),
            },
            plan.metadata.generation,
            now,
        );
    }
    let ns = plan.namespace().unwrap_or_default();
    let name = plan.name_any();
    match cluster::apply_status::<RecoveryPlan, _>(&ctx.client, &ns, &name, prev, next).await {
        Err(e) if too_large(&e) => {
            tracing::warn!(plan = %name, namespace = %ns, error = %e, "the status is too large to store; writing it trimmed");
            trim(
                next,
                &e.to_string(),
                &prev.conditions,
                plan.metadata.generation,
                now,
            );
            cluster::apply_status::<RecoveryPlan, _>(&ctx.client, &ns, &name, prev, next).await
        }
        other => other,
    }
}

/// Whether the API server (or etcd behind it) refused a write for its size.
pub fn too_large(e: &Error) -> bool {
    let Error::Kube {
        source: kube::Error::Api(s),
        ..
    } = e
    else {
        return false;
    };
    let message = s.message.to_ascii_lowercase();
    s.code == 413 || message.contains("too large") || message.contains("too long")
}

/// `status` without what a recovery can do without: the ignored Approvals' records
/// (counted instead), the messages of systems that have not started, and checks' errors
/// beyond 200 bytes; with `StatusComplete=False` saying the API server refused the whole.
/// What the engine resumes from (phases, steps, times, releases, approvals that count)
/// stays.
pub fn trim(
    status: &mut RecoveryPlanStatus,
    refusal: &str,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    generation: Option<i64>,
    now: Timestamp,
) {
    use crate::api::v1alpha1::{SystemPhase, conditions as c};
    let before = status.approvals.len();
    status.approvals.retain(|r| r.accepted);
    status.approvals_not_listed = status
        .approvals_not_listed
        .saturating_add(u32::try_from(before - status.approvals.len()).unwrap_or(u32::MAX));
    for s in &mut status.systems {
        if matches!(s.phase, SystemPhase::Pending | SystemPhase::Waiting) {
            s.message = None;
        }
        for check in &mut s.checks {
            if let Some(e) = &check.last_error {
                check.last_error = Some(crate::engine::approvals::truncate(e, 200));
            }
        }
    }
    crate::engine::conditions::set_condition(
        &mut status.conditions,
        previous,
        crate::engine::conditions::NewCondition {
            type_: c::STATUS_COMPLETE,
            status: false,
            reason: c::reason::TOO_LARGE,
            message: crate::engine::approvals::truncate(
                &format!(
                    "the API server refused the full status ({refusal}); written without the ignored Approvals' records, waiting systems' messages and long check errors"
                ),
                1024,
            ),
        },
        generation,
        now,
    );
}

/// Records that the plan cannot run, and why, leaving what was recorded about systems.
pub async fn write_invalid(ctx: &Context, plan: &RecoveryPlan, message: &str) -> Result<(), Error> {
    let prev = plan.status.clone().unwrap_or_default();
    let mut next = prev.clone();
    next.observed_generation = plan.metadata.generation;
    conditions::plan_invalid(
        &prev,
        &mut next,
        message,
        plan.metadata.generation,
        Timestamp::now(),
    );
    let ns = plan.namespace().unwrap_or_default();
    cluster::apply_status::<RecoveryPlan, _>(&ctx.client, &ns, &plan.name_any(), &prev, &next).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::{ApprovalRecord, Decision, SystemPhase, SystemStatus};

    fn refused(code: u16, message: &str) -> Error {
        Error::Kube {
            action: "write the status".into(),
            source: kube::Error::Api(
                kube::core::Status::failure(message, "")
                    .with_code(code)
                    .boxed(),
            ),
        }
    }

    #[test]
    fn a_refusal_for_size_is_told_from_other_refusals() {
        assert!(too_large(&refused(500, "etcdserver: request is too large")));
        assert!(too_large(&refused(
            413,
            "Request entity too large: limit is 3145728"
        )));
        assert!(!too_large(&refused(422, "spec.parallelism: Invalid value")));
        assert!(!too_large(&refused(409, "the object has been modified")));
    }

    #[test]
    fn a_trimmed_status_keeps_what_the_engine_resumes_from_and_says_what_it_left_out() {
        let record = |name: &str, accepted: bool| ApprovalRecord {
            name: name.into(),
            stage: "ward".into(),
            systems: vec!["ward/epr".into()],
            approver: "alice".into(),
            decision: Decision::Approve,
            accepted,
            reason: if accepted {
                "accepted"
            } else {
                "ignored: approver is the plan's requester"
            }
            .into(),
            comment: None,
            at: None,
        };
        let mut status = RecoveryPlanStatus {
            approvals: vec![record("a1", false), record("a2", true), record("a3", false)],
            approvals_not_listed: 7,
            systems: vec![
                SystemStatus {
                    name: "ward/pas".into(),
                    phase: SystemPhase::Waiting,
                    message: Some("waiting for ward/identity".into()),
                    ..Default::default()
                },
                SystemStatus {
                    name: "ward/epr".into(),
                    phase: SystemPhase::Released,
                    released_stage: Some("ward".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        trim(
            &mut status,
            "etcdserver: request is too large",
            &[],
            Some(1),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            status
                .approvals
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["a2"]
        );
        assert_eq!(status.approvals_not_listed, 9);
        assert_eq!(status.systems[0].message, None);
        assert_eq!(status.systems[1].released_stage.as_deref(), Some("ward"));
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("StatusComplete", "False", "TooLarge")
        );
        assert!(
            c.message.contains("etcdserver: request is too large"),
            "{}",
            c.message
        );
    }
}
