//! Release gates from Approvals, system by system: what admission cannot see is applied
//! by the operator (separation of duties, quorum of distinct people per system, approver
//! groups, the checklist, rejections that hold the systems they name), and every Approval
//! is recorded with what it decided and why.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lifeline::{
    api::v1alpha1::{Approval, ApprovalRule},
    engine::{
        PlanSettings, StageGate, StageModel,
        approvals::{Evaluation, PlanFacts, evaluate},
    },
};
use serde_json::json;

fn settings() -> PlanSettings {
    PlanSettings {
        stages: vec![
            StageModel {
                name: "it-validation".into(),
                approval: ApprovalRule::default(),
                checklist: vec![],
                decision_time: None,
                soak: None,
            },
            StageModel {
                name: "pilot-ward".into(),
                approval: ApprovalRule {
                    required: 2,
                    approver_groups: vec!["clinical-safety-officers".into()],
                    allow_requester: false,
                    distinct_groups: false,
                },
                checklist: vec!["Paper records back-entered".into()],
                decision_time: None,
                soak: None,
            },
        ],
        ..Default::default()
    }
}

fn approval(
    name: &str,
    plan: &str,
    who: &str,
    groups: &[&str],
    decision: &str,
    acks: &[&str],
    at: &str,
) -> Approval {
    serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name, "namespace": "ward", "creationTimestamp": at },
        "spec": {
            "plan": plan,
            "stage": "pilot-ward",
            "systems": ["a"],
            "decision": decision,
            "comment": format!("{who} says {decision}"),
            "acknowledged": acks,
            "approver": { "username": who, "groups": groups }
        }
    }))
    .expect("approval")
}

const CSO: &[&str] = &["clinical-safety-officers"];

/// When the plan "recovery" was created: its run starts at 2026-01-01T00:00:00Z.
fn created() -> Time {
    Time("2026-01-01T00:00:00Z".parse().expect("a timestamp"))
}

/// A clinical safety officer's approval of pilot-ward with the checklist acknowledged,
/// `minute` minutes into the run.
fn ok(name: &str, who: &str, minute: u32) -> Approval {
    approval(
        name,
        "recovery",
        who,
        CSO,
        "approve",
        ACK,
        &format!("2026-01-01T00:{minute:02}:30Z"),
    )
}
const ACK: &[&str] = &["Paper records back-entered"];

/// The systems of the plan "recovery".
const SYSTEMS: [&str; 2] = ["ward/a", "ward/b"];

fn eval_with(
    settings: &PlanSettings,
    requester: Option<&str>,
    approvals: &[Approval],
) -> Evaluation {
    let systems: Vec<String> = SYSTEMS.iter().map(|s| s.to_string()).collect();
    let created = created();
    let plan = PlanFacts {
        name: "recovery",
        uid: Some("plan-uid-1"),
        namespace: "ward",
        created: Some(&created),
        requested_by: requester,
        regated: &[],
    };
    evaluate(&plan, settings, &systems, approvals)
}

/// System a's gate at pilot-ward, and each Approval's record.
fn gate(approvals: &[Approval]) -> (StageGate, Vec<(String, bool, String)>) {
    let eval = eval_with(&settings(), Some("incident-commander"), approvals);
    assert_eq!(
        *eval.gate(0, "ward/a"),
        StageGate::Open,
        "required 0 is automatic"
    );
    (
        eval.gate(1, "ward/a").clone(),
        eval.records
            .into_iter()
            .map(|r| (r.name, r.accepted, r.reason))
            .collect(),
    )
}

/// `a` naming other systems.
fn naming(mut a: Approval, systems: &[&str]) -> Approval {
    a.spec.systems = systems.iter().map(|s| s.to_string()).collect();
    a
}

#[test]
fn no_approvals_awaits() {
    assert_eq!(gate(&[]).0, StageGate::Awaiting);
}

#[test]
fn the_requester_approving_their_own_plan_is_ignored_with_the_reason() {
    let (g, r) = gate(&[approval(
        "a1",
        "recovery",
        "incident-commander",
        CSO,
        "approve",
        ACK,
        "2026-01-01T00:00:30Z",
    )]);
    assert_eq!(g, StageGate::Awaiting);
    assert_eq!(
        r,
        vec![(
            "a1".into(),
            false,
            "ignored: approver is the plan's requester".into()
        )]
    );
}

#[test]
fn an_approval_made_before_the_plan_was_created_is_ignored() {
    // A plan deleted and applied again under the same name: last incident's decision
    // does not open this one's stage.
    let (g, r) = gate(&[
        approval(
            "old",
            "recovery",
            "alice",
            CSO,
            "approve",
            ACK,
            "2025-12-31T23:59:59Z",
        ),
        ok("a2", "bob", 1),
    ]);
    assert_eq!(g, StageGate::Awaiting, "one of two counts");
    assert_eq!(
        r[0],
        (
            "old".into(),
            false,
            "ignored: made before this plan was created (it decided an earlier plan of the same name)"
                .into()
        )
    );
    assert_eq!(r[1].2, "accepted");
}

#[test]
fn an_approval_of_a_stage_the_plan_does_not_have_is_recorded_as_ignored() {
    let mut typo = ok("a1", "alice", 0);
    typo.spec.stage = Some("pilot-wards".into());
    let (g, r) = gate(&[typo]);
    assert_eq!(g, StageGate::Awaiting);
    assert_eq!(
        r,
        vec![(
            "a1".into(),
            false,
            "ignored: the plan has no stage pilot-wards (its stages: it-validation, pilot-ward)"
                .into()
        )]
    );
}

#[test]
fn the_requester_counts_where_the_stage_allows_it() {
    let mut lenient = settings();
    lenient.stages[1].approval.allow_requester = true;
    lenient.stages[1].approval.required = 1;
    let eval = eval_with(
        &lenient,
        Some("incident-commander"),
        &[ok("a1", "incident-commander", 0)],
    );
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Open);
    assert_eq!(eval.records[0].reason, "accepted");
}

#[test]
fn without_a_requester_an_approval_counts_and_says_separation_of_duties_was_not_checked() {
    let eval = eval_with(
        &settings(),
        None,
        &[ok("a1", "alice", 0), ok("a2", "bob", 1)],
    );
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Open);
    assert_eq!(
        eval.records[0].reason,
        "accepted; the plan names no requester (spec.requestedBy), so separation of duties was not checked"
    );
}

#[test]
fn a_quorum_of_two_needs_two_distinct_people() {
    let twice = [ok("a1", "alice", 0), ok("a2", "alice", 1)];
    let (g, r) = gate(&twice);
    assert_eq!(
        g,
        StageGate::Awaiting,
        "the same person twice is not a quorum"
    );
    assert_eq!(
        r[1].2,
        "ignored: alice has already approved ward/a at this stage"
    );

    let two = [ok("a1", "alice", 0), ok("a2", "bob", 1)];
    let (g, r) = gate(&two);
    assert_eq!(g, StageGate::Open);
    assert!(
        r.iter().all(|(_, ok, why)| *ok && why == "accepted"),
        "{r:?}"
    );
}

#[test]
fn an_approver_outside_the_groups_is_ignored() {
    let (g, r) = gate(&[
        ok("a1", "alice", 0),
        approval(
            "a2",
            "recovery",
            "eve",
            &["porters"],
            "approve",
            ACK,
            "2026-01-01T00:01:00Z",
        ),
    ]);
    assert_eq!(g, StageGate::Awaiting);
    assert_eq!(
        r[1],
        (
            "a2".into(),
            false,
            "ignored: approver is in none of the groups clinical-safety-officers".into()
        )
    );
}

#[test]
fn a_missing_checklist_item_is_ignored_naming_the_item() {
    let (g, r) = gate(&[
        ok("a1", "alice", 0),
        approval(
            "a2",
            "recovery",
            "bob",
            CSO,
            "approve",
            &[],
            "2026-01-01T00:01:00Z",
        ),
    ]);
    assert_eq!(g, StageGate::Awaiting);
    assert_eq!(
        r[1].2,
        "ignored: checklist not acknowledged: Paper records back-entered"
    );
}

#[test]
fn a_reject_halts_the_stage_with_the_reason_even_after_a_quorum() {
    let (g, r) = gate(&[
        ok("a1", "alice", 0),
        ok("a2", "bob", 1),
        approval(
            "a3",
            "recovery",
            "carol",
            CSO,
            "reject",
            &[],
            "2026-01-01T00:02:00Z",
        ),
    ]);
    assert_eq!(
        g,
        StageGate::Rejected("rejected by carol: carol says reject".into())
    );
    assert_eq!(
        r[2],
        (
            "a3".into(),
            true,
            "rejected: holds ward/a at this stage".into()
        )
    );
}

#[test]
fn a_system_no_approval_names_waits_for_its_own_however_many_the_stage_has_had() {
    // Two people approved a; b was verified later and nobody has looked at it.
    let eval = eval_with(
        &settings(),
        Some("incident-commander"),
        &[ok("a1", "alice", 0), ok("a2", "bob", 1)],
    );
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Open);
    assert_eq!(*eval.gate(1, "ward/b"), StageGate::Awaiting);
    assert_eq!(eval.records[0].systems, ["ward/a"]);
}

#[test]
fn the_quorum_counts_distinct_people_per_system() {
    // One person for a, another for b: neither has two.
    let split = [ok("a1", "alice", 0), naming(ok("a2", "bob", 1), &["b"])];
    let eval = eval_with(&settings(), Some("incident-commander"), &split);
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Awaiting);
    assert_eq!(*eval.gate(1, "ward/b"), StageGate::Awaiting);
    // Both people for both (one Approval each naming the two): both open.
    let both = [
        naming(ok("a1", "alice", 0), &["a", "b"]),
        naming(ok("a2", "bob", 1), &["a", "ward/b"]),
    ];
    let eval = eval_with(&settings(), Some("incident-commander"), &both);
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Open);
    assert_eq!(*eval.gate(1, "ward/b"), StageGate::Open);
}

#[test]
fn a_rejection_holds_only_the_systems_it_names_until_the_quorum_approves_them_again() {
    let reject = approval(
        "r1",
        "recovery",
        "carol",
        CSO,
        "reject",
        &[],
        "2026-01-01T00:02:00Z",
    );
    let before = [
        naming(ok("a1", "alice", 0), &["a", "b"]),
        naming(ok("a2", "bob", 1), &["a", "b"]),
        reject,
    ];
    let eval = eval_with(&settings(), Some("incident-commander"), &before);
    assert_eq!(
        *eval.gate(1, "ward/a"),
        StageGate::Rejected("rejected by carol: carol says reject".into())
    );
    assert_eq!(*eval.gate(1, "ward/b"), StageGate::Open, "b goes on");
    // One approval after the rejection is not the quorum; two are, and lift it.
    let mut after = before.to_vec();
    after.push(ok("a3", "alice", 3));
    let eval = eval_with(&settings(), Some("incident-commander"), &after);
    assert!(matches!(eval.gate(1, "ward/a"), StageGate::Rejected(_)));
    after.push(ok("a4", "dave", 4));
    let eval = eval_with(&settings(), Some("incident-commander"), &after);
    assert_eq!(*eval.gate(1, "ward/a"), StageGate::Open, "lifted");
    assert_eq!(eval.records.len(), 5, "both decisions stay in the record");
}

#[test]
fn within_one_second_a_rejection_counts_after_the_approvals() {
    // Creation is recorded to the second: an approval in the rejection's second may have
    // been made before it, so it does not lift it.
    let mut reject = approval(
        "z-reject",
        "recovery",
        "carol",
        CSO,
        "reject",
        &[],
        "2026-01-01T00:05:30Z",
    );
    reject.spec.systems = vec!["a".into()];
    let same_second = [ok("a1", "alice", 5), ok("a2", "bob", 5), reject];
    let (g, _) = gate(&same_second);
    assert_eq!(
        g,
        StageGate::Rejected("rejected by carol: carol says reject".into())
    );
    let mut later = same_second.to_vec();
    later.push(ok("a3", "alice", 6));
    later.push(ok("a4", "bob", 6));
    let (g, _) = gate(&later);
    assert_eq!(g, StageGate::Open, "two approvals a second later lift it");
}

#[test]
fn an_approval_in_the_plans_own_second_counts_only_when_it_names_the_plans_uid() {
    // Creation is recorded to the second: made in the plan's second, an Approval without
    // the uid may have been made just before the plan, for an earlier one of its name.
    let at = "2026-01-01T00:00:00Z";
    let bare = approval("a1", "recovery", "alice", CSO, "approve", ACK, at);
    let mut named = approval("a2", "recovery", "bob", CSO, "approve", ACK, at);
    named.spec.plan_uid = Some("plan-uid-1".into());
    let (_, r) = gate(&[bare, named]);
    assert_eq!(r[0].0, "a1");
    assert!(!r[0].1);
    assert!(
        r[0].2
            .starts_with("ignored: made in the second this plan was created, without spec.planUid"),
        "{}",
        r[0].2
    );
    assert_eq!(
        (r[1].0.as_str(), r[1].1, r[1].2.as_str()),
        ("a2", true, "accepted")
    );
    // Earlier still, with the uid: it names this plan, so it was made for it.
    let mut early = approval(
        "a3",
        "recovery",
        "carol",
        CSO,
        "approve",
        ACK,
        "2025-12-31T23:59:59Z",
    );
    early.spec.plan_uid = Some("plan-uid-1".into());
    let (_, r) = gate(&[early]);
    assert_eq!(r[0].2, "accepted");
}

#[test]
fn an_approval_naming_another_plans_uid_counts_for_nothing_whatever_the_clock() {
    // Made after this plan was created, but for the plan of the same name before it.
    let mut stale = ok("a1", "alice", 1);
    stale.spec.plan_uid = Some("plan-uid-0".into());
    let mut mine = ok("a2", "bob", 1);
    mine.spec.plan_uid = Some("plan-uid-1".into());
    let (g, r) = gate(&[stale, mine]);
    assert_eq!(g, StageGate::Awaiting, "one of two counts");
    assert_eq!(
        r[0],
        (
            "a1".into(),
            false,
            "ignored: it names another plan of this name (spec.planUid)".into()
        )
    );
    assert_eq!(r[1].2, "accepted");
}

#[test]
fn an_approval_naming_no_system_of_the_plan_counts_for_nothing() {
    let (g, r) = gate(&[naming(ok("a1", "alice", 0), &["pharmacy"])]);
    assert_eq!(g, StageGate::Awaiting);
    assert_eq!(
        r[0],
        (
            "a1".into(),
            false,
            "ignored: ward/pharmacy is not a system of this plan".into()
        )
    );
}

#[test]
fn approvals_of_other_plans_do_not_count_and_order_is_by_creation() {
    let (g, r) = gate(&[
        ok("b2", "bob", 5),
        approval(
            "x1",
            "another-plan",
            "alice",
            CSO,
            "approve",
            ACK,
            "2026-01-01T00:00:00Z",
        ),
        ok("a1", "alice", 1),
    ]);
    assert_eq!(g, StageGate::Open);
    let names: Vec<&str> = r.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["a1", "b2"]);
}

#[test]
fn status_shows_the_stages_what_they_await_and_every_approval_with_its_reason() {
    let plan: lifeline::api::v1alpha1::RecoveryPlan = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "recovery", "namespace": "ward" },
        "spec": {
            "systems": { "names": ["a"] },
            "stages": [
                { "name": "it-validation" },
                { "name": "pilot-ward", "approval": { "required": 2 } }
            ]
        },
        "status": {
            "phase": "AwaitingApproval",
            "awaiting": [{ "stage": "pilot-ward", "systems": ["ward/a"], "needed": 1, "required": 2,
                           "from": "anyone with the approve verb but the requester" }],
            "approvals": [
                { "name": "a1", "stage": "pilot-ward", "systems": ["ward/a"], "approver": "alice",
                  "decision": "approve", "accepted": true, "reason": "accepted", "comment": "looked fine" },
                { "name": "a2", "stage": "pilot-ward", "systems": ["ward/a"], "approver": "commander",
                  "decision": "approve",
                  "accepted": false, "reason": "ignored: approver is the plan's requester" }
            ]
        }
    }))
    .expect("plan");
    let text = lifeline::cli::status::render_release(&plan);
    assert_eq!(
        text,
        "\nStages: it-validation (automatic) -> pilot-ward (2 approvals)\n\
         Awaiting: stage pilot-ward awaits 1 more approval (of 2) from anyone with the approve verb but the requester for a\n\
         Approvals:\n  \
         pilot-ward approve a by alice: accepted (looked fine)\n  \
         pilot-ward approve a by commander: ignored: approver is the plan's requester\n"
    );
}

#[test]
fn approve_without_a_stage_lists_what_waits_per_stage() {
    let plan: lifeline::api::v1alpha1::RecoveryPlan = serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
        "metadata": { "name": "recovery", "namespace": "ward" },
        "spec": { "systems": { "names": ["a", "b", "c"] },
                  "stages": [{ "name": "pilot-ward", "approval": { "required": 2 } }] },
        "status": { "awaiting": [
            { "stage": "pilot-ward", "systems": ["ward/a", "ward/b"], "needed": 1, "required": 2,
              "from": "clinical-safety-officers", "checklist": ["Paper records back-entered"] },
            { "stage": "pilot-ward", "systems": ["ward/c"], "needed": 0, "required": 2,
              "from": "clinical-safety-officers", "halted": "rejected by carol: not yet" }
        ] }
    }))
    .expect("plan");
    assert_eq!(
        lifeline::cli::approve::awaiting_summary(&plan),
        "stage pilot-ward awaits 1 more approval (of 2) from clinical-safety-officers for a, b\n  \
         checklist: Paper records back-entered\n\
         stage pilot-ward halted for c: rejected by carol: not yet\n"
    );
    let mut none = plan.clone();
    none.status = None;
    assert_eq!(
        lifeline::cli::approve::awaiting_summary(&none),
        "no verified system of ward/recovery waits for a decision\n"
    );
}

#[test]
fn with_distinct_groups_two_people_of_one_group_do_not_make_a_quorum_of_two() {
    let mut s = settings();
    s.stages[1].approval.approver_groups = vec![
        "clinical-safety-officers".into(),
        "incident-commanders".into(),
    ];
    s.stages[1].approval.distinct_groups = true;
    let in_groups = |name: &str, who: &str, groups: &[&str], minute: u32| {
        approval(
            name,
            "recovery",
            who,
            groups,
            "approve",
            ACK,
            &format!("2026-01-01T00:{minute:02}:30Z"),
        )
    };
    let eval = |approvals: &[Approval]| eval_with(&s, Some("incident-commander"), approvals);
    // Two usernames, one group: one counts.
    let same = [
        in_groups("a1", "alice", CSO, 1),
        in_groups("a2", "alice-admin", CSO, 2),
    ];
    let e = eval(&same);
    assert_eq!(*e.gate(1, "ward/a"), StageGate::Awaiting);
    assert_eq!(e.counted.get(&(1, "ward/a".to_string())), Some(&1));
    let waits = lifeline::engine::approvals::awaiting(&s, &verified_at_it(), &e);
    assert_eq!(waits[0].needed, 1);
    assert!(
        waits[0].from.ends_with(", each for a different group"),
        "{}",
        waits[0].from
    );
    // One from each group: the quorum.
    let both = [
        in_groups("a1", "alice", CSO, 1),
        in_groups("a2", "ian", &["incident-commanders"], 2),
    ];
    assert_eq!(*eval(&both).gate(1, "ward/a"), StageGate::Open);
    // Someone in both groups and someone in one: each stands for a different group.
    let matched = [
        in_groups(
            "a1",
            "alice",
            &["clinical-safety-officers", "incident-commanders"],
            1,
        ),
        in_groups("a2", "bob", CSO, 2),
    ];
    assert_eq!(*eval(&matched).gate(1, "ward/a"), StageGate::Open);
}

#[test]
fn the_distinct_group_count_is_a_maximum_matching() {
    use lifeline::engine::approvals::distinct_group_count;
    let g = |v: &[&[&str]]| -> Vec<Vec<String>> {
        v.iter()
            .map(|x| x.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    assert_eq!(distinct_group_count(&g(&[])), 0);
    assert_eq!(distinct_group_count(&g(&[&["x"], &["x"]])), 1);
    assert_eq!(
        distinct_group_count(&g(&[&["x", "y"], &["x"]])),
        2,
        "the first moves to y"
    );
    assert_eq!(
        distinct_group_count(&g(&[&["x", "y"], &["x", "y"], &["x", "y"]])),
        2
    );
    assert_eq!(
        distinct_group_count(&g(&[&[], &["z"]])),
        1,
        "no group counts for nothing"
    );
}

/// A status with ward/a verified and released at it-validation, waiting at pilot-ward.
fn verified_at_it() -> lifeline::api::v1alpha1::RecoveryPlanStatus {
    lifeline::api::v1alpha1::RecoveryPlanStatus {
        systems: vec![lifeline::api::v1alpha1::SystemStatus {
            name: "ward/a".into(),
            phase: lifeline::api::v1alpha1::SystemPhase::Released,
            released_stage: Some("it-validation".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The plan "recovery" in namespace "ward" (created at [`created`]) whose manual steps are
/// confirmed.
fn step_plan(uid: Option<&str>) -> PlanFacts<'_> {
    static CREATED: std::sync::OnceLock<Time> = std::sync::OnceLock::new();
    PlanFacts {
        name: "recovery",
        uid,
        namespace: "ward",
        created: Some(CREATED.get_or_init(created)),
        requested_by: None,
        regated: &[],
    }
}

fn step_decision(name: &str, who: &str, groups: &[&str], decision: &str, second: u32) -> Approval {
    serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": { "name": name, "namespace": "ward", "creationTimestamp": format!("2026-01-01T00:01:{second:02}Z") },
        "spec": {
            "plan": "recovery", "system": "vault", "step": "unseal",
            "decision": decision, "comment": format!("{who} says {decision}"),
            "approver": { "username": who, "groups": groups }
        }
    }))
    .expect("a step decision")
}

#[test]
fn a_two_person_manual_step_needs_two_distinct_people_from_its_groups() {
    use lifeline::engine::approvals::{Confirmation, StepRule, step_confirmation};
    let custodians = vec!["key-custodians".to_string()];
    let c = |approvals: &[Approval]| {
        step_confirmation(
            approvals,
            &step_plan(Some("plan-uid-1")),
            "ward/vault",
            "unseal",
            &StepRule {
                required: 2,
                groups: &custodians,
                since: None,
            },
        )
    };
    let k = &["key-custodians"];
    assert_eq!(
        c(&[]),
        Confirmation::Waiting {
            by: vec![],
            needed: 2
        }
    );
    // One person twice, and someone outside the custodians: one confirmation.
    let once = [
        step_decision("c1", "kim", k, "approve", 1),
        step_decision("c2", "kim", k, "approve", 2),
        step_decision("c3", "porter", &["porters"], "approve", 3),
    ];
    assert_eq!(
        c(&once),
        Confirmation::Waiting {
            by: vec!["kim".into()],
            needed: 1
        }
    );
    // A second custodian completes it.
    let mut twice = once.to_vec();
    twice.push(step_decision("c4", "lee", k, "approve", 4));
    assert_eq!(
        c(&twice),
        Confirmation::Done {
            token: "c4".into(),
            by: vec!["kim".into(), "lee".into()]
        }
    );
    // A custodian's rejection before the quorum fails the step with the reason.
    let mut rejected = once.to_vec();
    rejected.push(step_decision("c5", "lee", k, "reject", 5));
    assert_eq!(
        c(&rejected),
        Confirmation::Rejected("lee rejected manual step 'unseal': lee says reject".into())
    );
    // A confirmation of another plan of this name counts for nothing.
    let mut other = step_decision("c6", "lee", k, "approve", 6);
    other.spec.plan_uid = Some("plan-uid-0".into());
    let mut with_other = once.to_vec();
    with_other.push(other);
    assert_eq!(
        c(&with_other),
        Confirmation::Waiting {
            by: vec!["kim".into()],
            needed: 1
        }
    );
    // From the incident's start: what was decided before it does not count.
    let since = Some("2026-01-01T00:01:03Z".parse().expect("a timestamp"));
    assert_eq!(
        step_confirmation(
            &twice,
            &step_plan(None),
            "ward/vault",
            "unseal",
            &StepRule {
                required: 2,
                groups: &custodians,
                since,
            },
        ),
        Confirmation::Waiting {
            by: vec!["lee".into()],
            needed: 1
        }
    );
}

#[test]
fn a_confirmation_counts_for_the_system_of_the_namespace_it_names_only() {
    use lifeline::engine::approvals::{Confirmation, StepRule, step_confirmation};
    let rule = StepRule {
        required: 1,
        groups: &[],
        since: None,
    };
    let plan = step_plan(Some("plan-uid-1"));
    // A bare name is the system of the plan's namespace ("ward"), never another's.
    let bare = [step_decision("c1", "kim", &[], "approve", 1)];
    let done = Confirmation::Done {
        token: "c1".into(),
        by: vec!["kim".into()],
    };
    assert_eq!(
        step_confirmation(&bare, &plan, "ward/vault", "unseal", &rule),
        done
    );
    let waiting = Confirmation::Waiting {
        by: vec![],
        needed: 1,
    };
    assert_eq!(
        step_confirmation(&bare, &plan, "platform/vault", "unseal", &rule),
        waiting
    );
    // "namespace/name" counts for that system alone.
    let mut named = step_decision("c1", "kim", &[], "approve", 1);
    named.spec.system = Some("platform/vault".into());
    let named = [named];
    assert_eq!(
        step_confirmation(&named, &plan, "platform/vault", "unseal", &rule),
        done
    );
    assert_eq!(
        step_confirmation(&named, &plan, "ward/vault", "unseal", &rule),
        waiting
    );
}

#[test]
fn without_an_incident_start_a_confirmation_counts_from_the_plans_creation() {
    use lifeline::engine::approvals::{Confirmation, StepRule, step_confirmation};
    let rule = StepRule {
        required: 1,
        groups: &[],
        since: None,
    };
    let waiting = Confirmation::Waiting {
        by: vec![],
        needed: 1,
    };
    // Made before the plan "recovery" was created (an earlier plan of the same name,
    // which named no uid): it does not confirm this plan's step.
    let mut earlier = step_decision("old", "kim", &[], "approve", 0);
    earlier.metadata.creation_timestamp =
        Some(Time("2025-12-31T23:59:00Z".parse().expect("a timestamp")));
    // Made in the second the plan was created, without its uid: cannot be told apart.
    let mut same_second = step_decision("same", "kim", &[], "approve", 0);
    same_second.metadata.creation_timestamp = Some(created());
    for a in [&earlier, &same_second] {
        for uid in [Some("plan-uid-1"), None] {
            assert_eq!(
                step_confirmation(
                    std::slice::from_ref(a),
                    &step_plan(uid),
                    "ward/vault",
                    "unseal",
                    &rule
                ),
                waiting,
                "{:?} with plan uid {uid:?}",
                a.metadata.name
            );
        }
    }
    // One that names the plan's uid was made for it, whenever the clock says it was.
    let mut for_it = same_second.clone();
    for_it.spec.plan_uid = Some("plan-uid-1".into());
    assert_eq!(
        step_confirmation(
            &[for_it],
            &step_plan(Some("plan-uid-1")),
            "ward/vault",
            "unseal",
            &rule
        ),
        Confirmation::Done {
            token: "same".into(),
            by: vec!["kim".into()]
        }
    );
    // One made after the plan's creation counts.
    let later = step_decision("later", "lee", &[], "approve", 1);
    assert_eq!(
        step_confirmation(
            &[earlier, later],
            &step_plan(None),
            "ward/vault",
            "unseal",
            &rule
        ),
        Confirmation::Done {
            token: "later".into(),
            by: vec!["lee".into()]
        }
    );
}
