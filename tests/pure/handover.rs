//! Plans that hand over, in the engine: a system another plan holds is left alone, its
//! dependents wait for that plan to verify it and then go on, and a hold that ends first
//! gives the system back.

use lifeline::{
    api::v1alpha1::{PlanPhase, SystemPhase},
    engine::{PlanSettings, run::handover::Holder},
};

use crate::fixture::*;

fn held_by(plan: &str, phase: SystemPhase) -> Holder {
    Holder {
        plan: format!("{NS}/{plan}"),
        phase,
        stage: None,
    }
}

/// `db` held elsewhere, `app` (this plan's own) on top of it.
fn run_with_db_held(phase: SystemPhase) -> Run {
    let systems = [sys("db"), sys("app").needs(&["db"])];
    let mut run = Run::new(must_plan(&systems, settings()));
    run.holders.insert(key("db"), held_by("first", phase));
    run
}

#[test]
fn a_held_system_is_left_alone_and_its_dependents_wait_for_the_holder() {
    let mut run = run_with_db_held(SystemPhase::Restoring);
    assert_eq!(run.decide(), acts(&[]), "nothing of db runs here");
    assert_eq!(run.phase("db"), SystemPhase::Held);
    let by = run.sys("db").held_by.clone().expect("heldBy recorded");
    assert_eq!(by.plan, "ward/first");
    assert_eq!(by.phase, SystemPhase::Restoring);
    assert!(
        run.message("db").is_some_and(|m| m.contains("ward/first")),
        "{:?}",
        run.message("db")
    );
    assert_eq!(run.phase("app"), SystemPhase::Waiting);
    assert_eq!(run.status.phase, PlanPhase::Running);

    // The holder verifies it: app starts at once, db still runs nothing here.
    run.now = 60;
    run.holders
        .insert(key("db"), held_by("first", SystemPhase::Released));
    assert_eq!(run.decide(), acts(&["start app step-1"]));
    assert_eq!(run.phase("db"), SystemPhase::Held);
    assert_eq!(
        run.sys("db").held_by.as_ref().map(|b| b.since.clone()),
        Some(time(0)),
        "held since it was first found held"
    );
    run.restore_one("app");
    assert_eq!(run.phase("app"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    assert_eq!(run.status.progress.as_deref(), Some("2/2"));
}

#[test]
fn a_dependency_failed_in_a_running_plan_holds_its_dependents_back_without_blocking_them() {
    let mut run = run_with_db_held(SystemPhase::Failed);
    run.decide();
    assert_eq!(
        run.phase("app"),
        SystemPhase::Waiting,
        "the holder may retry it"
    );
}

#[test]
fn a_hold_that_ends_before_verification_gives_the_system_back() {
    let mut run = run_with_db_held(SystemPhase::Restoring);
    run.decide();
    run.holders.clear();
    run.now = 30;
    assert_eq!(run.decide(), acts(&["start db step-1"]));
    assert_eq!(run.phase("db"), SystemPhase::Restoring);
    assert_eq!(run.sys("db").held_by, None);
}

#[test]
fn a_hold_that_ends_after_verification_still_counts_and_restores_nothing() {
    let mut run = run_with_db_held(SystemPhase::Verified);
    assert_eq!(run.decide(), acts(&["start app step-1"]));
    run.holders.clear();
    run.now = 30;
    assert_eq!(run.decide(), acts(&[]), "db is not restored over again");
    assert_eq!(run.phase("db"), SystemPhase::Held);
    let by = run.sys("db").held_by.clone().expect("heldBy kept");
    assert!(by.plan_gone);
    assert!(
        run.message("db")
            .is_some_and(|m| m.contains("no longer holds"))
    );
}

#[test]
fn a_finished_plan_takes_no_new_hold() {
    let systems = [sys("db")];
    let mut run = Run::new(must_plan(&systems, settings()));
    run.decide();
    run.restore_one("db");
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    run.holders
        .insert(key("db"), held_by("older", SystemPhase::Released));
    run.now = 10;
    run.decide();
    assert_eq!(run.phase("db"), SystemPhase::Verified, "its record stays");
}

#[test]
fn a_held_system_with_a_gate_does_not_hold_back_the_release_of_its_dependents() {
    let systems = [sys("db").gate(), sys("app").gate().needs(&["db"])];
    let settings = PlanSettings {
        stages: stages(&["it", "ward"]),
        ..settings()
    };
    let mut run = Run::new(must_plan(&systems, settings));
    run.holders
        .insert(key("db"), held_by("first", SystemPhase::Released));
    run.decide();
    run.restore_one("app");
    run.decide();
    assert_eq!(run.phase("app"), SystemPhase::Released);
    assert_eq!(run.sys("app").released_stage.as_deref(), Some("ward"));
    assert_eq!(
        run.sys("db").released_stage,
        None,
        "its stages are the holder's"
    );
}

#[test]
fn the_planner_accepts_a_held_system_whose_dependencies_the_plan_leaves_out() {
    let systems = [
        sys("base"),
        sys("db").needs(&["base"]),
        sys("app").needs(&["db"]),
    ];
    let refused = plan_some(&systems, &["db", "app"], settings());
    assert!(refused.is_err(), "db's dependency base is not in the plan");
    let mut settings = settings();
    settings.held_elsewhere.insert(key("db"));
    let model = plan_some(&systems, &["db", "app"], settings).expect("db is held elsewhere");
    assert_eq!(model.systems.len(), 2);
}

#[test]
fn a_dependency_in_another_namespace_verified_by_another_plan_counts_and_is_not_restored() {
    use lifeline::{
        api::v1alpha1::Dependency,
        engine::{SystemSource, plan},
    };
    // The platform team's identity service, which its own plan recovers, and the ward's
    // record system on top of it.
    let identity = sys("identity");
    let mut epr = sys("epr");
    epr.spec.depends_on.push(Dependency {
        name: "identity".into(),
        namespace: Some("platform".into()),
        optional: false,
    });
    let all = [
        SystemSource {
            namespace: "platform",
            name: &identity.name,
            spec: &identity.spec,
            origin: &identity.origin,
        },
        SystemSource {
            namespace: NS,
            name: &epr.name,
            spec: &epr.spec,
            origin: &epr.origin,
        },
    ];
    let model = plan(
        &all,
        &["platform/identity".to_string(), key("epr")],
        settings(),
    )
    .expect("a plan across two namespaces");
    let mut run = Run::new(model);
    let holder = |phase| Holder {
        plan: "platform/infra".into(),
        phase,
        stage: None,
    };
    let identity_status = |run: &Run| {
        run.status
            .systems
            .iter()
            .find(|s| s.name == "platform/identity")
            .cloned()
            .expect("platform/identity in the status")
    };
    // While the platform's plan restores it, nothing of it runs here and epr waits.
    run.holders
        .insert("platform/identity".into(), holder(SystemPhase::Restoring));
    assert_eq!(run.decide(), acts(&[]), "nothing of identity runs here");
    assert_eq!(identity_status(&run).phase, SystemPhase::Held);
    assert_eq!(run.phase("epr"), SystemPhase::Waiting);

    // The platform's plan verifies it: epr starts at once, identity is not restored.
    run.now = 60;
    run.holders
        .insert("platform/identity".into(), holder(SystemPhase::Verified));
    assert_eq!(run.decide(), acts(&["start epr step-1"]));
    let held = identity_status(&run);
    assert_eq!(held.phase, SystemPhase::Held);
    assert!(
        held.steps.iter().all(|s| s.attempts == 0),
        "{:?}",
        held.steps
    );
    let by = held.held_by.expect("heldBy names the other plan");
    assert_eq!(
        (by.plan.as_str(), by.phase),
        ("platform/infra", SystemPhase::Verified)
    );
    assert!(
        held.message
            .as_deref()
            .is_some_and(|m| m.contains("platform/infra")),
        "status says by which plan: {:?}",
        held.message
    );
    run.restore_one("epr");
    assert_eq!(run.phase("epr"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
}
