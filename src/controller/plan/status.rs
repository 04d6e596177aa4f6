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
    let what = format!("the status of RecoveryPlan {ns}/{name}");
    let mut api = Api {
        ctx,
        ns: &ns,
        name: &name,
        prev,
    };
    let stored = store(next, prev, &what, plan.metadata.generation, now, &mut api).await;
    if let Err(e @ Error::TooLarge { .. }) = &stored {
        warn_of_record(ctx, plan, "StatusTooLarge", &e.to_string()).await;
    }
    stored
}

/// A Warning Event on the plan about what could not be recorded.
async fn warn_of_record(ctx: &Context, plan: &RecoveryPlan, reason: &str, note: &str) {
    let ev = kube::runtime::events::Event {
        type_: kube::runtime::events::EventType::Warning,
        reason: reason.into(),
        note: Some(super::events::fit_note(note)),
        action: "Record".into(),
        secondary: None,
    };
    super::events::publish_all(ctx, &kube::Resource::object_ref(plan, &()), &[ev]).await;
}

/// Where a plan's status is stored.
pub trait Store {
    /// Writes `put`.
    fn put(&mut self, put: Put<'_>) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The plan's status subresource.
struct Api<'a> {
    ctx: &'a Context,
    ns: &'a str,
    name: &'a str,
    prev: &'a RecoveryPlanStatus,
}

impl Store for Api<'_> {
    async fn put(&mut self, put: Put<'_>) -> Result<(), Error> {
        match put {
            Put::Status(status) => {
                cluster::apply_status::<RecoveryPlan, _>(
                    self.ctx, self.ns, self.name, self.prev, status,
                )
                .await
            }
            Put::Conditions(conditions) => {
                cluster::merge_status_conditions::<RecoveryPlan>(
                    self.ctx, self.ns, self.name, conditions,
                )
                .await
            }
        }
    }
}

/// One write of a plan's status: the whole of it, or (when even the trimmed status is
/// refused for its size) only its conditions, which say why nothing more is recorded.
#[derive(Debug)]
pub enum Put<'a> {
    /// The status, whole or trimmed.
    Status(&'a RecoveryPlanStatus),
    /// Only the conditions, replacing the stored ones.
    Conditions(&'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]),
}

/// Stores `next` through `put`: whole; if refused for its size, trimmed ([`trim`]); if
/// that is refused too, only the conditions, with `StatusComplete=False` saying that
/// nothing more can be recorded, and the error [`Error::TooLarge`], which is not retried:
/// the caller acts on nothing it could not record, and the plan waits for a change (a
/// smaller selection) rather than retry every few seconds with work unrecorded.
pub async fn store(
    next: &mut RecoveryPlanStatus,
    prev: &RecoveryPlanStatus,
    what: &str,
    generation: Option<i64>,
    now: Timestamp,
    store: &mut impl Store,
) -> Result<(), Error> {
    match store.put(Put::Status(next)).await {
        Err(e) if too_large(&e) => {
            tracing::warn!(object = %what, error = %e, "the status is too large to store; writing it trimmed");
            trim(next, &e.to_string(), &prev.conditions, generation, now);
        }
        other => return other,
    }
    let refusal = match store.put(Put::Status(next)).await {
        Err(e) if too_large(&e) => e.to_string(),
        other => return other,
    };
    tracing::error!(object = %what, error = %refusal, "the status is too large to store even trimmed; the plan stops acting until it is smaller");
    let mut conditions = prev.conditions.clone();
    crate::engine::conditions::set_condition(
        &mut conditions,
        &prev.conditions,
        crate::engine::conditions::NewCondition {
            type_: crate::api::v1alpha1::conditions::STATUS_COMPLETE,
            status: false,
            reason: crate::api::v1alpha1::conditions::reason::TOO_LARGE,
            message: crate::engine::approvals::truncate(
                &format!(
                    "the API server refused the status even trimmed ({refusal}); lifeline does nothing more for this plan, since it could not record it: select fewer systems (spec.systems) or split the estate into several plans"
                ),
                1024,
            ),
        },
        generation,
        now,
    );
    store.put(Put::Conditions(&conditions)).await?;
    Err(Error::TooLarge {
        what: what.to_string(),
        message: refusal,
    })
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
/// (counted instead) and the instructions of the manual steps waiting for people; with
/// `StatusComplete=False` saying the API server refused the whole. What the engine
/// resumes from stays (each system's progress is not in the plan's status at all: it is
/// in the plan's RecoveryProgress shards).
pub fn trim(
    status: &mut RecoveryPlanStatus,
    refusal: &str,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    generation: Option<i64>,
    now: Timestamp,
) {
    use crate::api::v1alpha1::conditions as c;
    let before = status.approvals.len();
    status.approvals.retain(|r| r.accepted);
    status.approvals_not_listed = status
        .approvals_not_listed
        .saturating_add(u32::try_from(before - status.approvals.len()).unwrap_or(u32::MAX));
    for step in &mut status.awaiting_steps {
        step.instructions = crate::engine::approvals::truncate(&step.instructions, 200);
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
                    "the API server refused the full status ({refusal}); written without the ignored Approvals' records and with manual steps' instructions cut short"
                ),
                1024,
            ),
        },
        generation,
        now,
    );
}

/// Records that the plan's systems' progress is lost (`StatusComplete=False`, reason
/// `ProgressLost`, and a Warning Event): the plan does nothing more, rather than restore
/// again systems whose state it no longer knows.
pub async fn write_lost(
    ctx: &Context,
    plan: &RecoveryPlan,
    problem: &str,
    now: Timestamp,
) -> Result<(), Error> {
    use crate::api::v1alpha1::conditions as c;
    let prev = plan.status.clone().unwrap_or_default();
    let message = crate::engine::approvals::truncate(
        &format!(
            "{problem}: lifeline does nothing more for this plan rather than restore again systems whose progress it no longer knows. See who deleted them (the API server's audit log), then recover what is left with a new RecoveryPlan"
        ),
        1024,
    );
    let mut conditions = prev.conditions.clone();
    crate::engine::conditions::set_condition(
        &mut conditions,
        &prev.conditions,
        crate::engine::conditions::NewCondition {
            type_: c::STATUS_COMPLETE,
            status: false,
            reason: c::reason::PROGRESS_LOST,
            message: message.clone(),
        },
        plan.metadata.generation,
        now,
    );
    if conditions != prev.conditions {
        tracing::error!(plan = %plan.name_any(), problem = %problem, "a plan's progress is lost; it does nothing more");
        warn_of_record(ctx, plan, "ProgressLost", &message).await;
        let ns = plan.namespace().unwrap_or_default();
        cluster::merge_status_conditions::<RecoveryPlan>(ctx, &ns, &plan.name_any(), &conditions)
            .await?;
    }
    Ok(())
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
    cluster::apply_status::<RecoveryPlan, _>(ctx, &ns, &plan.name_any(), &prev, &next).await
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

    /// A store that refuses any status whose JSON is over `limit` bytes, and keeps what
    /// it was asked to write.
    struct Sized {
        limit: usize,
        stored: Option<RecoveryPlanStatus>,
        conditions: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>,
        writes: usize,
    }

    impl Sized {
        fn refusing_over(limit: usize) -> Sized {
            Sized {
                limit,
                stored: None,
                conditions: None,
                writes: 0,
            }
        }
    }

    impl Store for Sized {
        async fn put(&mut self, put: Put<'_>) -> Result<(), Error> {
            self.writes += 1;
            match put {
                Put::Status(status) => {
                    if serde_json::to_vec(status).unwrap().len() > self.limit {
                        return Err(refused(500, "etcdserver: request is too large"));
                    }
                    self.stored = Some(status.clone());
                }
                Put::Conditions(c) => self.conditions = Some(c.to_vec()),
            }
            Ok(())
        }
    }

    /// A status holding `n` Approval records with comments of `comment` bytes, accepted
    /// or ignored (what grows a plan's own status: its systems are in its shards).
    fn estate(n: usize, comment: usize, accepted: bool) -> RecoveryPlanStatus {
        RecoveryPlanStatus {
            approvals: (0..n)
                .map(|i| ApprovalRecord {
                    name: format!("approval-{i}"),
                    stage: "ward".into(),
                    systems: vec![format!("ward/system-{i}")],
                    approver: "alice".into(),
                    decision: Decision::Approve,
                    accepted,
                    reason: if accepted {
                        "accepted"
                    } else {
                        "ignored: a duplicate"
                    }
                    .into(),
                    comment: Some("x".repeat(comment)),
                    at: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_status_that_fits_is_written_once_and_whole() {
        let mut next = estate(10, 50, true);
        let mut store_ = Sized::refusing_over(1 << 20);
        block_on(store(
            &mut next,
            &RecoveryPlanStatus::default(),
            "plan",
            Some(1),
            Timestamp::UNIX_EPOCH,
            &mut store_,
        ))
        .unwrap();
        assert_eq!(store_.writes, 1);
        assert_eq!(store_.stored.as_ref(), Some(&next));
    }

    #[test]
    fn a_status_too_large_whole_is_written_trimmed() {
        let mut next = RecoveryPlanStatus {
            approvals: [
                estate(2, 100, true).approvals,
                estate(10, 2_000, false).approvals,
            ]
            .concat(),
            ..Default::default()
        };
        let whole = serde_json::to_vec(&next).unwrap().len();
        let mut store_ = Sized::refusing_over(whole / 2);
        block_on(store(
            &mut next,
            &RecoveryPlanStatus::default(),
            "plan",
            Some(1),
            Timestamp::UNIX_EPOCH,
            &mut store_,
        ))
        .unwrap();
        let stored = store_.stored.unwrap();
        assert_eq!(stored.approvals.len(), 2, "the accepted ones stay");
        assert_eq!(
            stored.approvals_not_listed, 10,
            "the ignored ones are counted"
        );
        assert!(
            stored
                .conditions
                .iter()
                .any(|c| c.type_ == "StatusComplete" && c.status == "False")
        );
    }

    #[test]
    fn a_status_too_large_even_trimmed_stops_the_plan_with_a_condition_and_is_not_retried() {
        let prev = RecoveryPlanStatus {
            phase: crate::api::v1alpha1::PlanPhase::Running,
            ..estate(3, 10, true)
        };
        let mut next = estate(5_000, 20, true);
        let mut store_ = Sized::refusing_over(64 * 1024);
        let e = block_on(store(
            &mut next,
            &prev,
            "the status of RecoveryPlan ward/estate",
            Some(1),
            Timestamp::UNIX_EPOCH,
            &mut store_,
        ))
        .unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(
            !e.is_transient(),
            "a size refusal must not be retried as transient"
        );
        assert_eq!(e.category(), "too_large");
        assert!(e.to_string().contains("RecoveryPlan ward/estate"), "{e}");
        // Nothing of the new status was stored; only the condition saying why.
        assert_eq!(store_.stored, None);
        let conditions = store_.conditions.unwrap();
        let c = conditions
            .iter()
            .find(|c| c.type_ == "StatusComplete")
            .unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "TooLarge")
        );
        assert!(c.message.contains("spec.systems"), "{}", c.message);
        assert!(c.message.len() <= 1024);
        assert_eq!(store_.writes, 3);
    }
}
