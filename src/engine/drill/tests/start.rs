//! Starting a run: the finalizer first, refused outside staging or without its workload,
//! held while another drill runs.

use super::*;

/// A drill that scales lims to zero, and nothing else.
fn lims_off() -> RecoveryDrillSpec {
    let lims = Faults {
        scale_lims: true,
        ..Default::default()
    };
    spec(lims, None, false)
}

#[test]
fn a_new_drill_gets_its_finalizer_before_anything_else() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, false);
    let d = decide(&f, &World::new(true).observe(&f));
    assert_eq!(d.actions, [Action::AddFinalizer]);
    assert_eq!(d.status, status);
}

#[test]
fn a_drill_outside_staging_is_refused_and_its_request_consumed() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, "wards", true);
    let mut o = World::new(true).observe(&f);
    o.namespace_labels.clear();
    let d = decide(&f, &o);
    assert!(d.actions.is_empty());
    assert_eq!(d.status.phase, DrillPhase::Idle);
    assert_eq!(d.status.run_token.as_deref(), Some("t"));
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].kind, NoticeKind::Refused);
    assert!(
        d.notices[0]
            .note
            .contains("not labelled lifeline.dev/environment=staging")
    );
    let ready = d
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Invalid")
    );
}

#[test]
fn a_run_refused_for_a_missing_workload_keeps_saying_why_on_the_moves_after() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, true);
    let mut o = World::new(true).observe(&f);
    o.workloads.clear();
    let d = decide(&f, &o);
    let why = d.status.message.clone().unwrap_or_default();
    assert!(why.contains("does not exist"), "{why}");
    assert!(d.status.run.is_none(), "nothing started");
    // The request is taken; nothing is due on the next move, which says the same.
    let again = Facts {
        now: at(2),
        ..facts(&spec, &d.status, NS, true)
    };
    let next = decide(&again, &World::new(true).observe(&again));
    assert!(next.actions.is_empty());
    assert_eq!(next.status.message.as_deref(), Some(why.as_str()));
}

#[test]
fn a_run_held_by_another_drill_waits_and_says_which() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, true);
    assert!(
        wants(&f, &systems()).holder,
        "a run due to start looks for claims"
    );
    let mut o = World::new(true).observe(&f);
    o.holder = Some("ClinicalSystem lims is held by drill staging/other".into());
    let d = decide(&f, &o);
    assert!(d.actions.is_empty(), "nothing is touched while waiting");
    assert_eq!(d.status.phase, DrillPhase::Waiting);
    assert!(d.status.held.is_empty());
    assert_eq!(d.requeue, Some(WAIT_POLL));
    assert_eq!(d.notices[0].kind, NoticeKind::Waiting);
}
