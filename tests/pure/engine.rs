//! Scenario tests for the pure recovery engine: the planner fed ClinicalSystem specs, and
//! `decide`/`observe`/`retry` fed observations one at a time, asserting the exact actions
//! and status that come back. No cluster, no clock.

use crate::fixture::*;
use lifeline::{
    api::v1alpha1::{ActionPhase, PlanPhase, SystemPhase, Tier},
    engine::{
        Inputs, Observation, PlanErrors, PlanModel, PlanProblem, PlanSettings, StageGate,
        approvals::{PlanFacts, awaiting, evaluate},
        decide, due_reruns, retry,
    },
};

// ---------------------------------------------------------------------------------------
// Ordering

#[test]
fn a_chain_starts_each_system_only_after_the_previous_is_verified() {
    let model = must_plan(
        &[
            sys("c").needs(&["b"]),
            sys("b").needs(&["a"]),
            sys("a").steps(2),
        ],
        settings(),
    );
    let mut run = Run::new(model);

    assert_eq!(run.decide(), acts(&["start a step-1"]));
    assert_eq!(run.status.phase, PlanPhase::Running);
    assert_eq!(run.phase("a"), SystemPhase::Restoring);
    assert_eq!(run.phase("b"), SystemPhase::Waiting);
    assert_eq!(run.message("b"), Some("waiting for ward/a"));
    assert_eq!(run.phase("c"), SystemPhase::Waiting);
    assert_eq!(run.message("c"), Some("waiting for ward/b"));

    run.now = 60;
    run.step_ok("a", 0);
    assert_eq!(run.decide(), acts(&["start a step-2"]));
    assert_eq!(run.sys("a").steps[0].phase, ActionPhase::Succeeded);
    assert_eq!(run.sys("a").steps[1].phase, ActionPhase::Running);

    run.now = 120;
    run.step_ok("a", 1);
    assert_eq!(run.decide(), acts(&["check a check-1"]));
    assert_eq!(run.phase("a"), SystemPhase::Verifying);
    assert_eq!(
        run.phase("b"),
        SystemPhase::Waiting,
        "b waits for a's checks"
    );

    run.now = 180;
    run.check_ok("a", 0);
    assert_eq!(run.decide(), acts(&["start b step-1"]));
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.sys("a").verified_at, Some(time(180)));
    assert_eq!(
        run.sys("b").restore_started_at,
        Some(time(180)),
        "b starts the moment a is verified"
    );
    assert_eq!(run.phase("c"), SystemPhase::Waiting);

    run.now = 200;
    assert_eq!(
        run.restore_one("b"),
        acts(&["check b check-1", "start c step-1"])
    );
    assert_eq!(run.restore_one("c"), acts(&["check c check-1"]));
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    assert_eq!(run.status.progress.as_deref(), Some("3/3"));
    assert_eq!(run.status.finished_at, Some(time(200)));
}

#[test]
fn a_diamond_joins_only_when_both_branches_are_verified() {
    //   top needs left and right; both need base.
    let model = must_plan(
        &[
            sys("base"),
            sys("left").needs(&["base"]),
            sys("right").needs(&["base"]),
            sys("top").needs(&["left", "right"]),
        ],
        settings(),
    );
    assert_eq!(
        wave_names(&model),
        vec![vec!["base"], vec!["left", "right"], vec!["top"]]
    );
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start base step-1"]));
    assert_eq!(
        run.restore_one("base"),
        acts(&[
            "check base check-1",
            "start left step-1",
            "start right step-1"
        ])
    );
    run.step_ok("left", 0);
    assert_eq!(run.decide(), acts(&["check left check-1"]));
    run.check_ok("left", 0);
    assert_eq!(run.decide(), acts(&[]), "top still needs right");
    assert_eq!(run.phase("top"), SystemPhase::Waiting);
    assert_eq!(run.message("top"), Some("waiting for ward/right"));
    assert_eq!(
        run.restore_one("right"),
        acts(&["check right check-1", "start top step-1"])
    );
}

fn wave_names(model: &PlanModel) -> Vec<Vec<&str>> {
    model
        .waves
        .iter()
        .map(|w| {
            w.iter()
                .map(|&i| model.systems[i].key.trim_start_matches("ward/"))
                .collect()
        })
        .collect()
}

#[test]
fn an_optional_dependency_does_not_hold_a_restore_back() {
    let model = must_plan(&[sys("pas"), sys("letters").wants(&["pas"])], settings());
    assert_eq!(wave_names(&model), vec![vec!["letters", "pas"]]);
    let letters = model.find(&key("letters")).unwrap();
    assert_eq!(model.systems[letters].hard_deps, Vec::<usize>::new());
    assert_eq!(
        model.systems[letters].optional_deps,
        vec![model.find(&key("pas")).unwrap()]
    );
    let mut run = Run::new(model);
    assert_eq!(
        run.decide(),
        acts(&["start letters step-1", "start pas step-1"])
    );
    // Even a failed optional dependency blocks nothing.
    run.step_failed("pas", 0, "disk full");
    run.step_ok("letters", 0);
    assert_eq!(run.decide(), acts(&["check letters check-1"]));
    assert_eq!(run.phase("pas"), SystemPhase::Failed);
    run.check_ok("letters", 0);
    run.decide();
    assert_eq!(run.phase("letters"), SystemPhase::Verified);
    assert_eq!(run.sys("letters").blocked_by, None);
    assert_eq!(run.status.phase, PlanPhase::Failed);
}

#[test]
fn a_system_with_neither_steps_nor_checks_completes_as_soon_as_its_dependencies_do() {
    let model = must_plan(
        &[
            sys("db"),
            sys("marker").steps(0).checks(0).needs(&["db"]),
            sys("app").needs(&["marker"]),
            sys("root-marker").steps(0).checks(0),
        ],
        settings(),
    );
    let marker = model.find(&key("marker")).unwrap();
    assert_eq!(
        model.systems[marker].planned_duration(),
        model.systems[marker].expected,
        "a plan counts its expected time even before its steps are written"
    );
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start db step-1"]));
    assert_eq!(run.phase("root-marker"), SystemPhase::Verified);
    assert_eq!(run.sys("root-marker").verified_at, Some(time(0)));
    assert_eq!(run.phase("marker"), SystemPhase::Waiting);

    run.now = 300;
    run.step_ok("db", 0);
    run.decide();
    run.now = 400;
    run.check_ok("db", 0);
    // In one decision: db verified, the marker verified, and app started.
    assert_eq!(run.decide(), acts(&["start app step-1"]));
    assert_eq!(run.phase("marker"), SystemPhase::Verified);
    assert_eq!(run.sys("marker").restore_started_at, Some(time(400)));
    assert_eq!(run.sys("marker").verified_at, Some(time(400)));
    assert_eq!(run.sys("marker").recovery_seconds, Some(400));
}

#[test]
fn the_parallelism_cap_starts_ready_systems_in_tier_order_then_by_name() {
    let model = must_plan(
        &[
            sys("zeta").tier(Tier::MissionCritical),
            sys("alpha").tier(Tier::Deferrable),
            sys("beta").tier(Tier::Critical),
            sys("gamma").tier(Tier::Critical),
            sys("delta").tier(Tier::MissionCritical),
        ],
        capped(2),
    );
    let mut run = Run::new(model);
    assert_eq!(
        run.decide(),
        acts(&["start delta step-1", "start zeta step-1"])
    );
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(run.phase(name), SystemPhase::Waiting, "{name}");
        assert_eq!(
            run.message(name),
            Some("ready; waiting for capacity (parallelism 2)"),
            "{name}"
        );
    }
    // Moving from restore to verify keeps the slot.
    run.step_ok("zeta", 0);
    assert_eq!(run.decide(), acts(&["check zeta check-1"]));
    run.check_ok("zeta", 0);
    assert_eq!(run.decide(), acts(&["start beta step-1"]));
    run.step_failed("delta", 0, "boom");
    assert_eq!(
        run.decide(),
        acts(&["start gamma step-1"]),
        "a failure frees a slot"
    );
    assert_eq!(run.phase("alpha"), SystemPhase::Waiting);
    let actions = run.restore_one("beta");
    assert_eq!(actions, acts(&["check beta check-1", "start alpha step-1"]));
}

// ---------------------------------------------------------------------------------------
// Failure policies

#[test]
fn continue_blocks_the_dependents_of_a_failure_and_lets_the_rest_go_on() {
    let model = must_plan(
        &[
            sys("lims"),
            sys("orders").needs(&["lims"]),
            sys("results").needs(&["orders"]),
            sys("reports").needs(&["results"]),
            sys("pharmacy"),
            sys("eprescribing").needs(&["pharmacy"]),
        ],
        settings(),
    );
    let mut run = Run::new(model);
    assert_eq!(
        run.decide(),
        acts(&["start lims step-1", "start pharmacy step-1"])
    );
    run.now = 90;
    run.step_failed("lims", 0, "backup is corrupt");
    run.step_ok("pharmacy", 0);
    assert_eq!(run.decide(), acts(&["check pharmacy check-1"]));

    let lims = run.sys("lims");
    assert_eq!(lims.phase, SystemPhase::Failed);
    assert_eq!(lims.failed_at, Some(time(90)));
    assert_eq!(
        lims.message.as_deref(),
        Some("restore step 'step-1' failed: backup is corrupt")
    );
    assert_eq!(lims.steps[0].phase, ActionPhase::Failed);

    assert_eq!(run.phase("orders"), SystemPhase::Blocked);
    assert_eq!(run.sys("orders").blocked_by.as_deref(), Some("ward/lims"));
    assert_eq!(run.message("orders"), Some("dependency ward/lims failed"));
    // Further down the chain, blockedBy still names the system that failed.
    assert_eq!(run.phase("results"), SystemPhase::Blocked);
    assert_eq!(run.sys("results").blocked_by.as_deref(), Some("ward/lims"));
    assert_eq!(
        run.message("results"),
        Some("dependency ward/orders is blocked by ward/lims")
    );
    assert_eq!(run.phase("reports"), SystemPhase::Blocked);
    assert_eq!(run.sys("reports").blocked_by.as_deref(), Some("ward/lims"));
    assert_eq!(
        run.message("reports"),
        Some("dependency ward/results is blocked by ward/lims")
    );
    assert_eq!(
        run.status.phase,
        PlanPhase::Running,
        "pharmacy is still going"
    );

    run.check_ok("pharmacy", 0);
    assert_eq!(run.decide(), acts(&["start eprescribing step-1"]));
    run.restore_one("eprescribing");
    assert_eq!(run.phase("eprescribing"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::Failed);
    assert_eq!(run.status.progress.as_deref(), Some("2/6"));
    assert!(run.status.finished_at.is_some());
}

#[test]
fn halt_starts_nothing_new_and_fails_the_plan_once_running_systems_finish() {
    let model = must_plan(
        &[
            sys("lims"),
            sys("orders").needs(&["lims"]),
            sys("pacs").steps(2),
            sys("viewer").needs(&["pacs"]),
            sys("reporting").needs(&["viewer"]),
            sys("dictation").tier(Tier::Deferrable),
        ],
        PlanSettings {
            parallelism: Some(2),
            ..halting()
        },
    );
    let mut run = Run::new(model);
    assert_eq!(
        run.decide(),
        acts(&["start lims step-1", "start pacs step-1"])
    );
    assert_eq!(run.phase("dictation"), SystemPhase::Waiting);

    run.step_failed("lims", 0, "no quorum");
    run.step_ok("pacs", 0);
    assert_eq!(
        run.decide(),
        acts(&["start pacs step-2"]),
        "running systems go on; a freed slot is not used"
    );
    assert_eq!(run.phase("lims"), SystemPhase::Failed);
    assert_eq!(run.phase("orders"), SystemPhase::Blocked);
    assert_eq!(run.sys("orders").blocked_by.as_deref(), Some("ward/lims"));
    let halted = Some("not started: the plan halts after a failure");
    for name in ["dictation", "viewer", "reporting"] {
        assert_eq!(run.phase(name), SystemPhase::Cancelled, "{name}");
        assert_eq!(run.message(name), halted, "{name}");
    }
    assert_eq!(run.status.phase, PlanPhase::Running, "pacs still runs");
    assert_eq!(run.status.finished_at, None);

    run.now = 500;
    run.step_ok("pacs", 1);
    assert_eq!(run.decide(), acts(&["check pacs check-1"]));
    run.check_ok("pacs", 0);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.phase("pacs"), SystemPhase::Verified);
    assert_eq!(run.phase("viewer"), SystemPhase::Cancelled);
    assert_eq!(run.status.phase, PlanPhase::Failed);
    assert_eq!(run.status.finished_at, Some(time(500)));
}

// ---------------------------------------------------------------------------------------
// Pause and abort

#[test]
fn paused_starts_nothing_but_records_what_finishes_and_resuming_continues() {
    let model = must_plan(
        &[sys("a").steps(2), sys("b").needs(&["a"]), sys("c")],
        capped(1),
    );
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start a step-1"]));

    run.paused = true;
    run.now = 30;
    run.step_ok("a", 0);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status.phase, PlanPhase::Paused);
    assert_eq!(run.sys("a").steps[0].phase, ActionPhase::Succeeded);
    assert_eq!(run.sys("a").steps[0].finished_at, Some(time(30)));
    assert_eq!(run.sys("a").steps[1].phase, ActionPhase::Pending);
    assert_eq!(run.phase("a"), SystemPhase::Restoring);
    assert_eq!(run.phase("c"), SystemPhase::Waiting);
    assert_eq!(run.message("c"), Some("ready; the plan is paused"));
    assert_eq!(run.decide(), acts(&[]), "still paused");

    run.paused = false;
    run.now = 60;
    assert_eq!(run.decide(), acts(&["start a step-2"]));
    assert_eq!(run.status.phase, PlanPhase::Running);
    assert_eq!(run.sys("a").steps[1].started_at, Some(time(60)));
    assert_eq!(
        run.message("c"),
        Some("ready; waiting for capacity (parallelism 1)")
    );
}

#[test]
fn pausing_between_restore_and_verify_holds_the_checks() {
    let model = must_plan(&[sys("a").checks(2)], settings());
    let mut run = Run::new(model);
    run.decide();
    run.paused = true;
    run.step_ok("a", 0);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.phase("a"), SystemPhase::Verifying);
    assert!(
        run.sys("a")
            .checks
            .iter()
            .all(|c| c.phase == ActionPhase::Pending)
    );
    run.paused = false;
    assert_eq!(run.decide(), acts(&["check a check-1", "check a check-2"]));
}

#[test]
fn abort_cancels_everything_not_finished() {
    let model = must_plan(
        &[
            sys("a"),
            sys("b").needs(&["a"]),
            sys("c").steps(0).checks(0),
            sys("d"),
        ],
        capped(1),
    );
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start a step-1"]));
    run.restore_one("a");
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.phase("c"), SystemPhase::Verified);
    assert_eq!(run.phase("b"), SystemPhase::Restoring);

    run.aborted = true;
    run.now = 1000;
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status.phase, PlanPhase::Aborted);
    assert_eq!(run.status.finished_at, Some(time(1000)));
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.phase("c"), SystemPhase::Verified);
    for name in ["b", "d"] {
        assert_eq!(run.phase(name), SystemPhase::Cancelled, "{name}");
        assert_eq!(run.message(name), Some("the plan was aborted"), "{name}");
    }
    // Aborted is for good: a later decision without the flag changes nothing.
    run.aborted = false;
    let before = run.status.clone();
    run.step_ok("b", 0);
    run.now = 2000;
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status, before);
}

// ---------------------------------------------------------------------------------------
// Checks and retries

#[test]
fn a_failing_check_attempt_keeps_verifying_until_the_last_attempt_fails_the_system() {
    let model = must_plan(
        &[sys("lims").checks(2), sys("orders").needs(&["lims"])],
        settings(),
    );
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("lims", 0);
    assert_eq!(
        run.decide(),
        acts(&["check lims check-1", "check lims check-2"])
    );
    run.check_ok("lims", 1);

    run.now = 10;
    run.attempt("lims", 0, false, Some("connection refused"), false);
    assert_eq!(run.decide(), acts(&[]));
    let check = &run.sys("lims").checks[0];
    assert_eq!(check.phase, ActionPhase::Running);
    assert_eq!(check.attempts, 1);
    assert_eq!(check.last_error.as_deref(), Some("connection refused"));
    assert_eq!(run.phase("lims"), SystemPhase::Verifying);
    assert_eq!(run.message("lims"), Some("verifying"));

    run.now = 20;
    run.attempt("lims", 0, false, Some("timed out"), true);
    assert_eq!(run.decide(), acts(&[]));
    let lims = run.sys("lims");
    assert_eq!(lims.phase, SystemPhase::Failed);
    assert_eq!(lims.failed_at, Some(time(20)));
    assert_eq!(
        lims.message.as_deref(),
        Some("check 'check-1' failed after 2 attempts: timed out")
    );
    assert_eq!(lims.checks[0].phase, ActionPhase::Failed);
    assert_eq!(lims.checks[0].attempts, 2);
    assert_eq!(lims.checks[1].phase, ActionPhase::Succeeded);
    assert_eq!(run.phase("orders"), SystemPhase::Blocked);
    assert_eq!(run.status.phase, PlanPhase::Failed);
}

#[test]
fn a_check_that_passes_after_failed_attempts_keeps_its_last_error_for_the_record() {
    let model = must_plan(&[sys("a")], settings());
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("a", 0);
    run.decide();
    run.attempt("a", 0, false, Some("503"), false);
    run.attempt("a", 0, false, Some("503"), false);
    run.attempt("a", 0, true, None, false);
    run.decide();
    let c = &run.sys("a").checks[0];
    assert_eq!(c.phase, ActionPhase::Succeeded);
    assert_eq!(c.attempts, 3);
    assert_eq!(c.last_error.as_deref(), Some("503"));
    assert!(
        c.last_failed_at.is_some()
            && c.last_failed_at.as_ref().map(|t| t.0) <= c.last_attempt_at.as_ref().map(|t| t.0),
        "{c:?}"
    );
    assert_eq!(run.phase("a"), SystemPhase::Verified);
}

#[test]
fn retry_resumes_from_the_failed_step_and_unblocks_dependents() {
    let model = must_plan(
        &[
            sys("a").steps(3),
            sys("b").needs(&["a"]),
            sys("c").needs(&["b"]),
        ],
        settings(),
    );
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("a", 0);
    assert_eq!(run.decide(), acts(&["start a step-2"]));
    run.now = 40;
    run.step_failed("a", 1, "timeout");
    run.decide();
    assert_eq!(run.phase("a"), SystemPhase::Failed);
    assert_eq!(run.phase("b"), SystemPhase::Blocked);
    assert_eq!(run.phase("c"), SystemPhase::Blocked);
    assert_eq!(run.status.phase, PlanPhase::Failed);

    // Only a failed system can be retried.
    let err = retry(&run.model, &mut run.status.clone(), &key("b")).expect_err("b has not failed");
    assert_eq!(
        err.to_string(),
        "ward/b is Blocked, not Failed: only a failed system can be retried"
    );
    let err = retry(&run.model, &mut run.status.clone(), &key("nope")).expect_err("no such system");
    assert_eq!(err.to_string(), "ward/nope is not in this plan");

    run.now = 100;
    run.retry("a");
    assert_eq!(run.phase("b"), SystemPhase::Pending);
    // A late report about the failed attempt, before the step is restarted, is ignored.
    run.step_ok("a", 1);
    assert_eq!(run.sys("a").steps[1].phase, ActionPhase::Pending);
    assert_eq!(run.sys("b").blocked_by, None);
    assert_eq!(
        run.decide(),
        acts(&["start a step-2"]),
        "step-1 is not repeated"
    );
    let a = run.sys("a");
    assert_eq!(a.phase, SystemPhase::Restoring);
    assert_eq!(a.failed_at, None);
    assert_eq!(a.steps[0].attempts, 1);
    assert_eq!(a.steps[1].attempts, 2);
    assert_eq!(a.steps[1].phase, ActionPhase::Running);
    assert_eq!(a.steps[1].started_at, Some(time(100)));
    assert_eq!(a.steps[1].finished_at, None);
    assert_eq!(a.steps[1].message, None);
    assert_eq!(a.restore_started_at, Some(time(0)));
    assert_eq!(run.phase("b"), SystemPhase::Waiting);
    assert_eq!(run.status.phase, PlanPhase::Running);
    assert_eq!(run.status.finished_at, None);

    run.step_ok("a", 1);
    assert_eq!(run.decide(), acts(&["start a step-3"]));
    run.step_ok("a", 2);
    run.decide();
    run.check_ok("a", 0);
    assert_eq!(run.decide(), acts(&["start b step-1"]));
    run.restore_one("b");
    run.restore_one("c");
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
}

#[test]
fn retry_waits_for_a_free_slot_under_the_parallelism_cap() {
    let model = must_plan(&[sys("a"), sys("b")], capped(1));
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start a step-1"]));
    run.step_failed("a", 0, "boom");
    assert_eq!(
        run.decide(),
        acts(&["start b step-1"]),
        "the failure frees the slot"
    );
    run.retry("a");
    assert_eq!(run.decide(), acts(&[]), "b holds the only slot");
    assert_eq!(run.phase("a"), SystemPhase::Waiting);
    assert_eq!(
        run.message("a"),
        Some("ready; waiting for capacity (parallelism 1)")
    );
    let actions = run.restore_one("b");
    assert_eq!(
        actions,
        acts(&["check b check-1", "start a step-1"]),
        "a resumes once b is verified"
    );
    assert_eq!(run.sys("a").steps[0].attempts, 2);
}

#[test]
fn retry_of_a_failed_check_reruns_only_the_failed_checks() {
    let model = must_plan(&[sys("a").checks(2)], settings());
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("a", 0);
    run.decide();
    run.check_ok("a", 0);
    run.attempt("a", 1, false, Some("bad"), true);
    run.decide();
    assert_eq!(run.phase("a"), SystemPhase::Failed);
    run.retry("a");
    assert_eq!(run.decide(), acts(&["check a check-2"]));
    assert_eq!(run.phase("a"), SystemPhase::Verifying);
    assert_eq!(run.sys("a").steps[0].attempts, 1);
    run.check_ok("a", 1);
    run.decide();
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.sys("a").checks[1].attempts, 2);
}

#[test]
fn retry_after_a_halt_lets_cancelled_systems_start_again() {
    let model = must_plan(&[sys("a"), sys("b").needs(&["a"]), sys("c")], {
        let mut s = halting();
        s.parallelism = Some(1);
        s
    });
    let mut run = Run::new(model);
    assert_eq!(run.decide(), acts(&["start a step-1"]));
    run.step_failed("a", 0, "x");
    run.decide();
    assert_eq!(run.phase("c"), SystemPhase::Cancelled);
    assert_eq!(run.status.phase, PlanPhase::Failed);
    run.retry("a");
    assert_eq!(run.decide(), acts(&["start a step-1"]));
    assert_eq!(run.phase("c"), SystemPhase::Waiting);
    assert_eq!(run.sys("a").steps[0].attempts, 2);
}

// ---------------------------------------------------------------------------------------
// Idempotence and stale reports

#[test]
fn deciding_again_without_news_changes_nothing() {
    let model = must_plan(
        &[
            sys("a"),
            sys("b").needs(&["a"]),
            sys("c").tier(Tier::Deferrable),
            sys("d"),
        ],
        PlanSettings {
            parallelism: Some(2),
            stages: stages(&["it"]),
            ..settings()
        },
    );
    let mut run = Run::new(model);
    let mut checkpoints = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 50, "the run does not end");
        let actions = run.decide();
        // Deciding again, even later, gives no actions and the same status.
        let again = decide(
            &run.model,
            &run.status,
            &Inputs {
                now: at(run.now + 3600),
                ..run.inputs()
            },
        );
        assert_eq!(again.actions, vec![]);
        assert_eq!(again.status, run.status);
        checkpoints += 1;
        if run.status.phase == PlanPhase::Succeeded {
            break;
        }
        assert!(
            !actions.is_empty() || has_running(&run),
            "stuck: {actions:?}"
        );
        // Complete everything that runs.
        run.now += 10;
        for i in 0..run.status.systems.len() {
            let name = run.model.systems[i]
                .key
                .trim_start_matches("ward/")
                .to_string();
            let s = &run.status.systems[i];
            let running_step = s.steps.iter().position(|x| x.phase == ActionPhase::Running);
            let running_checks: Vec<usize> = (0..s.checks.len())
                .filter(|&k| s.checks[k].phase == ActionPhase::Running)
                .collect();
            if let Some(k) = running_step {
                run.step_ok(&name, k);
            }
            for k in running_checks {
                run.check_ok(&name, k);
            }
        }
    }
    assert!(checkpoints > 4);
}

fn has_running(run: &Run) -> bool {
    run.status.systems.iter().any(|s| {
        s.steps.iter().any(|x| x.phase == ActionPhase::Running)
            || s.checks.iter().any(|x| x.phase == ActionPhase::Running)
    })
}

#[test]
fn duplicate_and_stale_observations_change_nothing() {
    let model = must_plan(&[sys("a").steps(2), sys("b").needs(&["a"])], settings());
    let mut run = Run::new(model);
    run.decide();
    run.now = 10;
    run.step_ok("a", 0);
    assert_eq!(run.decide(), acts(&["start a step-2"]));
    let settled = run.status.clone();

    // The same success again, a late failure of the finished step, a report about a
    // step that has not started, about a check before verification, and about systems
    // and steps that do not exist.
    run.now = 20;
    run.step_ok("a", 0);
    run.step_failed("a", 0, "late");
    run.attempt("a", 0, true, None, true);
    let a = run.idx("a");
    for obs in [
        Observation::StepSucceeded {
            system: a,
            step: 7,
            token: None,
        },
        Observation::StepSucceeded {
            system: 99,
            step: 0,
            token: None,
        },
        Observation::CheckAttempt {
            system: 99,
            check: 0,
            passed: true,
            error: None,
            last: true,
        },
    ] {
        run.observe(obs);
    }
    run.step_ok("b", 0);
    assert_eq!(run.status, settled);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status, settled);

    // A check result for a verified system, and a second pass, are ignored too.
    run.step_ok("a", 1);
    run.decide();
    run.check_ok("a", 0);
    run.decide();
    let verified = run.status.clone();
    run.check_ok("a", 0);
    run.attempt("a", 0, false, Some("flap"), true);
    assert_eq!(run.status, verified);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status, verified);
}

#[test]
fn a_step_token_is_recorded() {
    let model = must_plan(&[sys("a")], settings());
    let mut run = Run::new(model);
    run.decide();
    let a = run.idx("a");
    run.observe(Observation::StepSucceeded {
        system: a,
        step: 0,
        token: Some("job-a-1".into()),
    });
    assert_eq!(run.sys("a").steps[0].token.as_deref(), Some("job-a-1"));
}

// ---------------------------------------------------------------------------------------
// Release stages

#[test]
fn release_waits_for_each_gate_and_goes_stage_by_stage() {
    let model = must_plan(
        &[sys("a").gate(), sys("b").gate().needs(&["a"]), sys("c")],
        PlanSettings {
            stages: stages(&["it", "pilot", "all"]),
            ..settings()
        },
    );
    let mut run = Run::new(model);
    run.gates = vec![
        StageGate::Awaiting,
        StageGate::Awaiting,
        StageGate::Awaiting,
    ];
    run.decide();
    run.restore_one("c");
    assert_eq!(run.phase("c"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::Running);
    run.restore_one("a");
    run.restore_one("b");
    assert_eq!(run.phase("b"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::AwaitingApproval);
    assert_eq!(run.status.current_stage, None);
    assert_eq!(run.status.finished_at, None);

    run.gates[0] = StageGate::Open;
    assert_eq!(
        run.decide(),
        acts(&["release a it", "release c it", "release b it"]),
        "in restore order: a and c are in the first wave, b in the second"
    );
    assert_eq!(run.phase("a"), SystemPhase::Released);
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("it"));
    assert_eq!(run.status.current_stage.as_deref(), Some("it"));
    assert_eq!(run.status.phase, PlanPhase::AwaitingApproval);
    assert_eq!(run.decide(), acts(&[]), "released once per stage");

    // A later gate open while an earlier one is not does not skip a stage.
    run.gates[2] = StageGate::Open;
    run.gates[1] = StageGate::Rejected("pilot ward unhappy".into());
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.status.phase, PlanPhase::AwaitingApproval);

    run.gates[1] = StageGate::Open;
    run.now = 900;
    assert_eq!(
        run.decide(),
        acts(&[
            "release a pilot",
            "release a all",
            "release c pilot",
            "release c all",
            "release b pilot",
            "release b all",
        ])
    );
    assert_eq!(run.status.current_stage.as_deref(), Some("all"));
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    assert_eq!(run.status.finished_at, Some(time(900)));
}

#[test]
fn missing_gates_count_as_awaiting() {
    let model = must_plan(
        &[sys("a")],
        PlanSettings {
            stages: stages(&["it", "all"]),
            ..settings()
        },
    );
    let mut run = Run::new(model);
    run.gates = vec![StageGate::Open];
    run.decide();
    assert_eq!(
        run.restore_one("a"),
        acts(&["check a check-1", "release a it"])
    );
    assert_eq!(run.status.phase, PlanPhase::AwaitingApproval);
}

#[test]
fn a_system_is_not_released_at_a_stage_before_its_gated_hard_dependency() {
    // First run: b alone, verified and waiting at the first gate.
    let b_alone = sys("b");
    let settings = PlanSettings {
        stages: stages(&["it", "all"]),
        ..settings()
    };
    let mut run = Run::new(must_plan(&[b_alone], settings.clone()));
    run.gates = vec![StageGate::Awaiting, StageGate::Awaiting];
    run.decide();
    run.restore_one("b");
    assert_eq!(run.phase("b"), SystemPhase::Verified);

    // The plan is edited: b now hard-depends on a, which has a release gate. b is
    // already verified, but it must not reach staff before a does.
    let edited = must_plan(&[sys("a").gate(), sys("b").needs(&["a"])], settings);
    run.model = edited;
    run.gates = vec![StageGate::Open, StageGate::Open];
    run.now = 100;
    assert_eq!(run.decide(), acts(&["start a step-1"]));
    assert_eq!(run.phase("b"), SystemPhase::Verified);
    assert_eq!(run.sys("b").released_stage, None);
    assert_eq!(run.status.phase, PlanPhase::Running);

    run.step_ok("a", 0);
    run.decide();
    run.check_ok("a", 0);
    assert_eq!(
        run.decide(),
        acts(&[
            "release a it",
            "release a all",
            "release b it",
            "release b all"
        ])
    );
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
}

#[test]
fn a_dependency_without_a_release_gate_does_not_hold_a_release_back() {
    let settings = PlanSettings {
        stages: stages(&["it"]),
        ..settings()
    };
    let mut run = Run::new(must_plan(&[sys("b")], settings.clone()));
    run.gates = vec![StageGate::Awaiting];
    run.decide();
    run.restore_one("b");
    run.model = must_plan(&[sys("a"), sys("b").needs(&["a"])], settings);
    run.gates = vec![StageGate::Open];
    assert_eq!(run.decide(), acts(&["start a step-1", "release b it"]));
}

/// A stage Approval of the plan "recovery" (namespace "ward"): `who` approves `system` at
/// `stage`, `minute` minutes after the plan was created.
fn approved(
    stage: &str,
    system: &str,
    who: &str,
    minute: u32,
) -> lifeline::api::v1alpha1::Approval {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "Approval",
        "metadata": {
            "name": format!("{stage}-{system}-{who}"),
            "namespace": "ward",
            "creationTimestamp": format!("2026-01-01T00:{minute:02}:00Z")
        },
        "spec": {
            "plan": "recovery", "stage": stage, "systems": [system], "decision": "approve",
            "approver": { "username": who }
        }
    }))
    .expect("an Approval")
}

#[test]
fn a_system_approved_at_two_stages_ahead_moves_one_approval_stage_per_decision() {
    // pilot and all each need a person; a was approved at both before it was verified
    // (the ward and the site lead decided early), b at neither.
    let mut st = stages(&["it", "pilot", "all"]);
    st[1].approval.required = 1;
    st[2].approval.required = 1;
    let settings = PlanSettings {
        stages: st,
        ..settings()
    };
    let created = time(0);
    let facts = PlanFacts {
        name: "recovery",
        uid: None,
        namespace: "ward",
        created: Some(&created),
        requested_by: Some("commander"),
        regated: &[],
    };
    let eval = evaluate(
        &facts,
        &settings,
        &[key("a"), key("b")],
        &[
            approved("pilot", "a", "alice", 1),
            approved("all", "a", "bob", 2),
        ],
    );
    assert_eq!(eval.gate(1, &key("a")), &StageGate::Open);
    assert_eq!(eval.gate(2, &key("a")), &StageGate::Open);
    assert_eq!(eval.gate(1, &key("b")), &StageGate::Awaiting);
    let mut run = Run::new(must_plan(&[sys("a").gate(), sys("b").gate()], settings));
    run.gates = eval.gates.clone();
    let decide_with_approvals = |run: &mut Run| {
        let inputs = Inputs {
            system_gates: eval.system_gates.clone(),
            ..run.inputs()
        };
        let d = decide(&run.model, &run.status, &inputs);
        run.status = d.status;
        d.actions.iter().map(|a| run.render(a)).collect::<Vec<_>>()
    };
    decide_with_approvals(&mut run);
    run.step_ok("a", 0);
    run.step_ok("b", 0);
    decide_with_approvals(&mut run);
    run.check_ok("a", 0);
    run.check_ok("b", 0);

    // Verified: a goes through it (no people) and pilot, and stops there for this
    // decision, though all is approved for it too.
    assert_eq!(
        decide_with_approvals(&mut run),
        acts(&["release a it", "release a pilot", "release b it"])
    );
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("pilot"));
    assert_eq!(run.sys("b").released_stage.as_deref(), Some("it"));
    // The next decision takes it one stage on, to all; b waits for its own approvals.
    assert_eq!(decide_with_approvals(&mut run), acts(&["release a all"]));
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("all"));
    assert_eq!(decide_with_approvals(&mut run), acts(&[]));
    assert_eq!(run.sys("b").released_stage.as_deref(), Some("it"));
    assert_eq!(run.status.phase, PlanPhase::AwaitingApproval);
}

#[test]
fn nothing_is_released_while_paused() {
    let model = must_plan(
        &[sys("a")],
        PlanSettings {
            stages: stages(&["it"]),
            ..settings()
        },
    );
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("a", 0);
    run.decide();
    run.paused = true;
    run.check_ok("a", 0);
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.status.phase, PlanPhase::Paused);
    run.paused = false;
    assert_eq!(run.decide(), acts(&["release a it"]));
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
}

// Soak

/// A plan whose `ward` stage has a soak of 10 minutes, for system `a` with a release gate.
fn soaking_run() -> Run {
    let mut st = stages(&["it", "ward", "all"]);
    st[1].soak = Some(std::time::Duration::from_secs(600));
    let model = must_plan(
        &[sys("a").gate()],
        PlanSettings {
            stages: st,
            ..settings()
        },
    );
    let mut run = Run::new(model);
    run.decide();
    run.now = 10;
    run
}

fn rerun(run: &mut Run, passed: bool) {
    let system = run.idx("a");
    run.observe(Observation::CheckRerun {
        system,
        check: 0,
        passed,
        error: (!passed).then(|| "GET http://epr/health: status 503".to_string()),
    });
}

#[test]
fn a_system_soaks_at_a_stage_before_it_goes_on_and_its_checks_run_again_meanwhile() {
    let mut run = soaking_run();
    assert_eq!(
        run.restore_one("a"),
        acts(&["check a check-1", "release a it", "release a ward"]),
        "released at ward, and held there for its soak"
    );
    let soak = run.sys("a").soak.clone().expect("a soak at ward");
    assert_eq!(soak.stage, "ward");
    assert_eq!(soak.since, Some(time(10)));
    assert_eq!(soak.until, Some(time(610)));
    assert_eq!(soak.completed_at, None);
    assert_eq!(
        run.message("a")
            .map(|m| m.starts_with("soaking at stage ward until")),
        Some(true)
    );
    let d = decide(&run.model, &run.status, &run.inputs());
    assert_eq!(d.wake_at, Some(at(610)), "decide again when the soak ends");
    assert_eq!(d.actions, vec![]);

    // The check runs again every retry interval (10 s by default) from its last run.
    assert_eq!(due_reruns(&run.model, &run.status, at(15)).due, vec![]);
    assert_eq!(
        due_reruns(&run.model, &run.status, at(15)).next,
        Some(at(20))
    );
    assert_eq!(
        due_reruns(&run.model, &run.status, at(20)).due,
        vec![(0, 0)]
    );
    run.now = 20;
    rerun(&mut run, true);
    assert_eq!(run.sys("a").checks[0].reruns, 1);
    assert_eq!(
        due_reruns(&run.model, &run.status, at(25)).next,
        Some(at(30))
    );

    run.now = 609;
    assert_eq!(run.decide(), acts(&[]), "a second short of its soak");
    run.now = 610;
    assert_eq!(run.decide(), acts(&["release a all"]));
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    // Once it has soaked and gone on, it is watched at the monitor interval (1m).
    assert_eq!(
        due_reruns(&run.model, &run.status, at(611)).due,
        vec![(0, 0)]
    );
    run.now = 611;
    rerun(&mut run, true);
    assert_eq!(
        due_reruns(&run.model, &run.status, at(612)).next,
        Some(at(671))
    );
}

#[test]
fn a_check_failing_during_soak_holds_the_system_and_its_soak_starts_again_when_it_passes() {
    let mut run = soaking_run();
    run.restore_one("a");
    run.now = 300;
    rerun(&mut run, false);
    assert_eq!(run.decide(), acts(&[]));
    let soak = run.sys("a").soak.clone().expect("a soak");
    assert_eq!((soak.since, soak.until, soak.holds), (None, None, 1));
    let held = soak.held_by.expect("what holds it");
    assert!(held.contains("check 'check-1' failing since"), "{held}");
    assert!(held.contains("status 503"), "{held}");
    assert_eq!(
        run.message("a")
            .map(|m| m.starts_with("held at stage ward: check 'check-1'")),
        Some(true)
    );
    assert_eq!(run.sys("a").checks[0].failing_since, Some(time(300)));
    assert_eq!(
        decide(&run.model, &run.status, &run.inputs()).wake_at,
        None,
        "time alone does not free it"
    );
    // Failing again changes nothing more; the hold is counted once.
    run.now = 310;
    rerun(&mut run, false);
    run.decide();
    assert_eq!(run.sys("a").soak.as_ref().map(|s| s.holds), Some(1));
    assert_eq!(run.sys("a").checks[0].failing_since, Some(time(300)));

    // Passing again starts the soak again from then: 10 more minutes.
    run.now = 320;
    rerun(&mut run, true);
    assert_eq!(run.decide(), acts(&[]));
    let soak = run.sys("a").soak.clone().expect("a soak");
    assert_eq!((soak.since, soak.until), (Some(time(320)), Some(time(920))));
    assert_eq!(soak.held_by, None);
    assert_eq!(run.sys("a").checks[0].failing_since, None);
    run.now = 610;
    assert_eq!(
        run.decide(),
        acts(&[]),
        "the first soak's end is not enough"
    );
    run.now = 920;
    assert_eq!(run.decide(), acts(&["release a all"]));
}

#[test]
fn a_soaking_system_is_listed_as_waiting_with_its_soak_and_what_holds_it() {
    let mut st = stages(&["it", "ward", "all"]);
    st[1].soak = Some(std::time::Duration::from_secs(600));
    st[2].approval.required = 1;
    let settings = PlanSettings {
        stages: st,
        ..settings()
    };
    let mut run = Run::new(must_plan(&[sys("a").gate()], settings.clone()));
    run.gates[2] = StageGate::Awaiting;
    run.decide();
    run.now = 10;
    run.restore_one("a");
    let facts = PlanFacts {
        name: "recovery",
        uid: None,
        namespace: "ward",
        created: None,
        requested_by: None,
        regated: &[],
    };
    let eval = evaluate(&facts, &settings, &[key("a")], &[]);
    let waits = awaiting(&settings, &run.status, &eval);
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].soak_until, Some(time(610)));
    assert_eq!(
        waits[0].to_string(),
        format!(
            "stage all awaits 1 more approval (of 1) from anyone with the approve verb but the \
             requester for a, soaking until {}",
            at(610)
        )
    );
    run.now = 20;
    rerun(&mut run, false);
    run.decide();
    let waits = awaiting(&settings, &run.status, &eval);
    assert_eq!(waits[0].soak_until, None);
    assert!(
        waits[0]
            .to_string()
            .starts_with("stage all waits for a, held at the stage before: check 'check-1'"),
        "{}",
        waits[0]
    );
}

#[test]
fn the_simulator_holds_each_system_for_its_soak_and_people_decide_after_it() {
    let mut st = stages(&["it", "ward", "all"]);
    st[1].soak = Some(std::time::Duration::from_secs(3600));
    st[2].approval.required = 1;
    st[2].decision_time = Some(std::time::Duration::from_secs(1800));
    let model = must_plan(
        &[sys("a").gate(), sys("b").gate().needs(&["a"])],
        PlanSettings {
            stages: st,
            ..settings()
        },
    );
    let report = lifeline::sim::simulate(&model, &Default::default(), |_, _| {});
    let a = &report.systems[0];
    let b = &report.systems[1];
    assert_eq!((a.verified_at, b.verified_at), (Some(600.0), Some(1200.0)));
    // Verified, released at it and ward, an hour of soak, half an hour for a decision.
    assert_eq!(a.fully_released_at, Some(600.0 + 3600.0 + 1800.0));
    assert_eq!(b.fully_released_at, Some(1200.0 + 3600.0 + 1800.0));
    assert_eq!(a.waited_for_decisions, 1800.0);
    assert_eq!(report.status.phase, PlanPhase::Succeeded);
    assert_eq!(report.finished_at, 6600.0);
}

#[test]
fn without_a_soak_checks_run_again_at_the_monitor_interval() {
    let mut run = Run::new(must_plan(
        &[sys("a").gate()],
        PlanSettings {
            stages: stages(&["it", "all"]),
            ..settings()
        },
    ));
    run.decide();
    run.restore_one("a");
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    assert_eq!(
        due_reruns(&run.model, &run.status, at(59)).next,
        Some(at(60))
    );
    assert_eq!(
        due_reruns(&run.model, &run.status, at(3600)).due,
        vec![(0, 0)]
    );
}

// ---------------------------------------------------------------------------------------
// Recovery times

#[test]
fn recovery_time_is_measured_from_the_plan_start_against_the_objective() {
    let model = must_plan(
        &[
            sys("fast").rto("5m"),
            sys("slow").rto("5m").needs(&["fast"]),
            sys("exact").rto("10m"),
        ],
        settings(),
    );
    let mut run = Run::new(model);
    run.now = 0;
    run.decide();
    assert_eq!(run.status.started_at, Some(time(0)));
    run.now = 120;
    run.step_ok("fast", 0);
    run.step_ok("exact", 0);
    run.decide();
    run.now = 300;
    run.check_ok("fast", 0);
    run.decide();
    run.now = 600;
    run.check_ok("exact", 0);
    run.step_ok("slow", 0);
    run.decide();
    run.now = 601;
    run.check_ok("slow", 0);
    run.decide();

    let fast = run.sys("fast");
    assert_eq!(fast.recovery_seconds, Some(300));
    assert_eq!(fast.objective_seconds, Some(300));
    assert_eq!(
        fast.objective_met,
        Some(true),
        "exactly on the objective is met"
    );
    let exact = run.sys("exact");
    assert_eq!(exact.recovery_seconds, Some(600));
    assert_eq!(exact.objective_met, Some(true));
    let slow = run.sys("slow");
    assert_eq!(slow.restore_started_at, Some(time(300)));
    assert_eq!(
        slow.recovery_seconds,
        Some(601),
        "from the plan start, not the system's own start"
    );
    assert_eq!(slow.objective_met, Some(false));
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
}

#[test]
fn the_plan_start_is_kept_from_the_first_decision() {
    let model = must_plan(&[sys("a").rto("1m")], settings());
    let mut run = Run::new(model);
    run.now = 50;
    run.decide();
    run.now = 80;
    run.step_ok("a", 0);
    run.decide();
    run.now = 110;
    run.check_ok("a", 0);
    run.decide();
    assert_eq!(run.status.started_at, Some(time(50)));
    assert_eq!(run.sys("a").recovery_seconds, Some(60));
    assert_eq!(run.sys("a").objective_met, Some(true));
}

// ---------------------------------------------------------------------------------------
// Planner errors

fn problems(result: Result<PlanModel, PlanErrors>) -> Vec<PlanProblem> {
    match result {
        Ok(_) => panic!("the plan was accepted"),
        Err(e) => e.0,
    }
}

#[test]
fn an_unknown_dependency_names_the_referring_system_and_the_missing_name() {
    let errs = plan_all(&[sys("a"), sys("b").needs(&["a", "ghost"])], settings())
        .expect_err("ghost does not exist");
    assert_eq!(
        errs.0,
        vec![PlanProblem::UnknownDependency {
            system: "ward/b".into(),
            origin: "systems.yaml (b)".into(),
            missing: "ward/ghost".into(),
        }]
    );
    assert_eq!(
        errs.to_string(),
        "1 problem in the plan:\n  - ward/b (systems.yaml (b)): spec.dependsOn names ward/ghost, which does not exist\n"
    );
}

#[test]
fn a_cycle_is_printed_in_dependency_order() {
    let errs = plan_all(
        &[
            sys("a").needs(&["b"]),
            sys("b").needs(&["c"]),
            sys("c").needs(&["a"]),
            sys("d").needs(&["a"]),
        ],
        settings(),
    )
    .expect_err("a cycle");
    let cycle = PlanProblem::Cycle(vec![
        "ward/a".into(),
        "ward/b".into(),
        "ward/c".into(),
        "ward/a".into(),
    ]);
    assert_eq!(
        cycle.to_string(),
        "dependency cycle: ward/a -> ward/b -> ward/c -> ward/a"
    );
    assert_eq!(errs.0, vec![cycle]);
    assert_eq!(
        errs.to_string(),
        "1 problem in the plan:\n  - dependency cycle: ward/a -> ward/b -> ward/c -> ward/a\n"
    );
}

#[test]
fn a_cycle_through_an_optional_dependency_and_a_self_dependency_are_cycles() {
    let errs = problems(plan_all(
        &[
            sys("a").wants(&["b"]),
            sys("b").needs(&["a"]),
            sys("self").needs(&["self"]),
        ],
        settings(),
    ));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.contains(&PlanProblem::Cycle(vec![
        "ward/a".into(),
        "ward/b".into(),
        "ward/a".into()
    ])));
    assert!(errs.contains(&PlanProblem::Cycle(vec![
        "ward/self".into(),
        "ward/self".into()
    ])));
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = plan_all(
        &[
            sys("a").needs(&["b"]),
            sys("b").needs(&["a"]),
            sys("c").needs(&["nowhere"]),
            sys("a"),
        ],
        settings(),
    )
    .expect_err("three problems");
    assert_eq!(errs.0.len(), 3, "{errs}");
    assert!(errs.to_string().starts_with("3 problems in the plan:\n"));
    assert!(errs.0.contains(&PlanProblem::Duplicate {
        system: "ward/a".into(),
        first: "systems.yaml (a)".into(),
        second: "systems.yaml (a)".into(),
    }));
    assert!(errs.0.iter().any(|p| matches!(
        p,
        PlanProblem::UnknownDependency { system, missing, .. }
            if system == "ward/c" && missing == "ward/nowhere"
    )));
    assert!(errs.0.iter().any(|p| matches!(p, PlanProblem::Cycle(_))));
}

#[test]
fn a_duplicate_names_both_origins() {
    let mut second = sys("lims");
    second.origin = "extra.yaml (document 2)".into();
    let errs = problems(plan_all(&[sys("lims"), second], settings()));
    assert_eq!(
        errs,
        vec![PlanProblem::Duplicate {
            system: "ward/lims".into(),
            first: "systems.yaml (lims)".into(),
            second: "extra.yaml (document 2)".into(),
        }]
    );
    assert_eq!(
        errs[0].to_string(),
        "ward/lims is defined twice: systems.yaml (lims) and extra.yaml (document 2)"
    );
}

#[test]
fn a_hard_dependency_left_out_of_the_plan_is_an_error_and_an_optional_one_is_not() {
    let all = [
        sys("db"),
        sys("cache"),
        sys("app").needs(&["db"]).wants(&["cache"]),
    ];
    let errs = problems(plan_some(&all, &["app"], settings()));
    assert_eq!(
        errs,
        vec![PlanProblem::DependencyNotSelected {
            system: "ward/app".into(),
            dependency: "ward/db".into(),
        }]
    );
    assert_eq!(
        errs[0].to_string(),
        "ward/app is in the plan but its hard dependency ward/db is not: add it to the plan or mark the dependency optional"
    );
    let model = plan_some(&all, &["app", "db"], settings()).expect("cache is optional");
    assert_eq!(model.systems.len(), 2);
    let app = model.find("ward/app").unwrap();
    assert_eq!(model.systems[app].optional_deps, Vec::<usize>::new());
}

#[test]
fn selecting_nothing_or_something_unknown_is_an_error() {
    assert_eq!(
        problems(plan_some(&[sys("a")], &[], settings())),
        vec![PlanProblem::Empty]
    );
    assert_eq!(
        problems(plan_some(&[sys("a")], &["b"], settings())),
        vec![PlanProblem::UnknownSelected {
            system: "ward/b".into()
        }]
    );
}

#[test]
fn malformed_durations_and_steps_name_the_field() {
    let bad = from_yaml(
        "lims",
        r#"
displayName: Laboratory Information System
tier: critical
recoveryTimeObjective: 30 minutes
expectedRecoveryTime: 1d
restore:
  timeout: 5x
  steps:
    - name: scale-db
      scale: {kind: StatefulSet, name: db, replicas: 1}
    - name: nothing
    - name: both
      scale: {kind: Deployment, name: api, replicas: 2}
      rolloutRestart: {kind: Deployment, name: api}
    - name: scale-db
      manual: {instructions: check the racks}
verify:
  retryInterval: soon
  deadline: 5m
  checks:
    - name: up
      tcp: {host: db, port: 5432}
    - name: empty
"#,
    );
    let errs = problems(plan_all(&[bad], settings()));
    let fields: Vec<&str> = errs
        .iter()
        .map(|p| match p {
            PlanProblem::InvalidField {
                system,
                origin,
                field,
                ..
            } => {
                assert_eq!(system, "ward/lims");
                assert_eq!(origin, "systems.yaml (lims)");
                field.as_str()
            }
            other => panic!("unexpected problem {other}"),
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            "spec.recoveryTimeObjective",
            "spec.expectedRecoveryTime",
            "spec.restore.steps[1]",
            "spec.restore.steps[2]",
            "spec.restore.steps[3].name",
            "spec.verify.checks[1]",
            "spec.restore.timeout",
            "spec.verify.retryInterval",
        ]
    );
    let text = render_problems(&errs);
    assert!(text.contains(
        "ward/lims (systems.yaml (lims)): spec.recoveryTimeObjective: '30 minutes' is not a duration"
    ), "{text}");
    assert!(text.contains(
        "spec.restore.steps[1]: a restore step must set exactly one of scale, rolloutRestart, job, waitFor or manual"
    ), "{text}");
    assert!(
        text.contains("spec.restore.steps[3].name: 'scale-db' is also the name of steps[0]"),
        "{text}"
    );
    assert!(
        text.contains(
            "spec.verify.checks[1]: a check must set exactly one of http, tcp, job or workloadReady"
        ),
        "{text}"
    );
}

fn render_problems(problems: &[PlanProblem]) -> String {
    PlanErrors(problems.to_vec()).to_string()
}

#[test]
fn the_default_expected_time_is_five_minutes_and_waves_order_by_tier_then_name() {
    let spec = from_yaml(
        "pas",
        "displayName: Patient Administration\ntier: mission-critical\nrecoveryTimeObjective: 30m\n",
    );
    let model = must_plan(
        &[
            spec,
            sys("b-important"),
            sys("a-deferrable").tier(Tier::Deferrable),
            sys("c").needs(&["pas"]).expected("20m"),
        ],
        settings(),
    );
    let pas = model.find("ward/pas").unwrap();
    assert_eq!(
        model.systems[pas].expected,
        std::time::Duration::from_secs(300)
    );
    assert_eq!(
        model.systems[pas].planned_duration(),
        std::time::Duration::from_secs(300)
    );
    assert_eq!(
        wave_names(&model),
        vec![vec!["pas", "b-important", "a-deferrable"], vec!["c"]]
    );
    // The systems are stored in restore order.
    let order: Vec<&str> = model.systems.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        order,
        vec![
            "ward/pas",
            "ward/b-important",
            "ward/a-deferrable",
            "ward/c"
        ]
    );
    // Critical path: pas (5m expected, no work written yet) then c (20m) beats the 10m
    // singletons.
    let names: Vec<&str> = model
        .critical_path
        .systems
        .iter()
        .map(|&i| model.systems[i].key.as_str())
        .collect();
    assert_eq!(names, vec!["ward/pas", "ward/c"]);
    assert_eq!(
        model.critical_path.duration,
        std::time::Duration::from_secs(1500)
    );
}

#[test]
fn a_system_whose_gate_changed_goes_back_to_the_verification_audience_and_keeps_its_record() {
    let mut run = Run::new(must_plan(
        &[sys("a").gate()],
        PlanSettings {
            stages: stages(&["it", "ward"]),
            ..settings()
        },
    ));
    run.decide();
    run.restore_one("a");
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("ward"));
    let i = run.idx("a");
    lifeline::engine::regate(&mut run.status, i, "release changed".into());
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.sys("a").released_stage, None);
    assert_eq!(
        run.sys("a").releases.len(),
        2,
        "the record of its releases stays"
    );
    assert_eq!(run.message("a"), Some("release changed"));
}

#[test]
fn a_release_whose_gate_was_refused_is_undone_back_to_the_gate_applied() {
    let model = must_plan(
        &[sys("a").gate()],
        PlanSettings {
            stages: stages(&["it", "pilot", "all"]),
            ..settings()
        },
    );
    let mut run = Run::new(model.clone());
    run.decide();
    run.restore_one("a");
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("all"));
    let i = run.idx("a");
    lifeline::engine::unrelease(&model, &mut run.status, i, Some("it"), "refused".into());
    assert_eq!(run.sys("a").released_stage.as_deref(), Some("it"));
    let stages_left: Vec<&str> = run
        .sys("a")
        .releases
        .iter()
        .map(|r| r.stage.as_str())
        .collect();
    assert_eq!(stages_left, ["it"]);
    assert_eq!(run.phase("a"), SystemPhase::Released);
    lifeline::engine::unrelease(&model, &mut run.status, i, None, "refused".into());
    assert_eq!(run.sys("a").released_stage, None);
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    // A gate that cannot be applied holds it: nothing is released while it has an error.
    run.status.systems[i].gate = Some(lifeline::api::v1alpha1::GateStatus {
        error: Some("refused".into()),
        failed_stage: Some("it".into()),
        ..Default::default()
    });
    assert_eq!(run.decide(), acts(&[]));
    run.status.systems[i].gate = None;
    assert_eq!(
        run.decide(),
        acts(&["release a it", "release a pilot", "release a all"])
    );
}

// ---------------------------------------------------------------------------------------
// Watching released systems

fn rerun_of(run: &mut Run, name: &str, passed: bool) {
    let system = run.idx(name);
    run.observe(Observation::CheckRerun {
        system,
        check: 0,
        passed,
        error: (!passed).then(|| "GET http://pas/health: status 503".to_string()),
    });
}

#[test]
fn a_released_system_whose_check_fails_again_is_degraded_its_dependents_at_risk_and_back_when_it_passes()
 {
    let mut run = Run::new(must_plan(
        &[
            sys("pas").gate(),
            sys("epr").gate().needs(&["pas"]),
            sys("lab").needs(&["epr"]),
        ],
        PlanSettings {
            stages: stages(&["it", "all"]),
            ..settings()
        },
    ));
    run.decide();
    run.restore_one("pas");
    run.restore_one("epr");
    run.restore_one("lab");
    assert_eq!(run.status.phase, PlanPhase::Succeeded);
    // Watched at the monitor interval (1m by default), for as long as the plan lasts.
    let reruns = due_reruns(&run.model, &run.status, at(30));
    assert_eq!(reruns.due, vec![]);
    assert_eq!(reruns.next, Some(at(60)));

    run.now = 60;
    rerun_of(&mut run, "pas", false);
    assert_eq!(
        run.decide(),
        acts(&[]),
        "the gate stays: nothing is withdrawn"
    );
    assert_eq!(run.phase("pas"), SystemPhase::Degraded);
    assert_eq!(run.sys("pas").released_stage.as_deref(), Some("all"));
    let message = run.message("pas").expect("why").to_string();
    assert!(
        message.starts_with("degraded: check 'check-1' failing since"),
        "{message}"
    );
    assert!(message.ends_with("staff keep access"), "{message}");
    assert_eq!(
        run.sys("epr").at_risk.as_deref(),
        Some("ward/pas is degraded")
    );
    assert_eq!(
        run.sys("lab").at_risk.as_deref(),
        Some("ward/pas is degraded"),
        "at risk down the chain, naming the root"
    );
    assert_eq!(
        run.status.phase,
        PlanPhase::Succeeded,
        "the plan's work stays done"
    );
    // While degraded, its checks run at the retry interval (10s by default).
    assert_eq!(
        due_reruns(&run.model, &run.status, at(61)).next,
        Some(at(70))
    );

    run.now = 130;
    rerun_of(&mut run, "pas", true);
    run.decide();
    assert_eq!(run.phase("pas"), SystemPhase::Released);
    assert_eq!(run.message("pas"), None);
    assert_eq!(run.sys("epr").at_risk, None);
    let r = &run.sys("pas").regressions[0];
    assert_eq!(
        (
            r.check.as_str(),
            r.started_at.clone(),
            r.ended_at.clone(),
            r.seconds
        ),
        ("check-1", time(60), Some(time(130)), Some(70))
    );
    assert_eq!(run.sys("pas").regression_count, 1);
    assert!(!r.withdrawn);
}

#[test]
fn with_withdraw_on_failure_a_regression_drops_the_gate_until_it_passes_and_is_approved_again() {
    let mut run = Run::new(must_plan(
        &[sys("pas").withdrawn_on_failure()],
        PlanSettings {
            stages: stages(&["it", "ward"]),
            ..settings()
        },
    ));
    run.gates[1] = StageGate::Open;
    run.decide();
    run.restore_one("pas");
    assert_eq!(run.sys("pas").released_stage.as_deref(), Some("ward"));
    run.now = 60;
    rerun_of(&mut run, "pas", false);
    run.gates[1] = StageGate::Awaiting;
    assert_eq!(run.decide(), acts(&[]));
    assert_eq!(run.phase("pas"), SystemPhase::Degraded);
    assert_eq!(
        run.sys("pas").released_stage,
        None,
        "back to the verification audience"
    );
    assert_eq!(run.sys("pas").withdrawn_at, Some(time(60)));
    assert!(run.sys("pas").regressions[0].withdrawn);
    assert_ne!(run.status.phase, PlanPhase::Succeeded);
    // Passing again, it goes through release from the first stage: the ward waits for a
    // new decision.
    run.now = 90;
    rerun_of(&mut run, "pas", true);
    assert_eq!(run.decide(), acts(&["release pas it"]));
    assert_eq!(run.sys("pas").released_stage.as_deref(), Some("it"));
    run.gates[1] = StageGate::Open;
    assert_eq!(run.decide(), acts(&["release pas ward"]));
}

#[test]
fn a_dependent_not_yet_started_waits_while_its_dependency_is_degraded() {
    let mut run = Run::new(must_plan(
        &[sys("pas"), sys("epr").needs(&["pas"])],
        settings(),
    ));
    run.decide();
    run.step_ok("pas", 0);
    run.decide();
    run.check_ok("pas", 0);
    run.paused = true;
    run.decide();
    rerun_of(&mut run, "pas", false);
    run.paused = false;
    assert_eq!(
        run.decide(),
        acts(&[]),
        "epr does not start on a failing pas"
    );
    assert_eq!(run.phase("epr"), SystemPhase::Waiting);
    rerun_of(&mut run, "pas", true);
    assert_eq!(run.decide(), acts(&["start epr step-1"]));
}

#[test]
fn each_attempt_has_its_whole_restore_timeout_and_a_pause_does_not_count() {
    let mut run = Run::new(must_plan(&[sys("pas")], settings()));
    run.decide();
    let i = run.idx("pas");
    assert_eq!(run.sys("pas").attempt_started_at, Some(time(0)));
    run.now = 100;
    run.paused = true;
    run.decide();
    assert_eq!(run.status.paused_since, Some(time(100)));
    let elapsed = |run: &Run, at_s: i64| {
        lifeline::engine::restore_elapsed(&run.status, &run.status.systems[i], at(at_s))
    };
    assert_eq!(
        elapsed(&run, 400),
        Some(std::time::Duration::from_secs(100)),
        "the pause does not count"
    );
    run.now = 500;
    run.paused = false;
    run.decide();
    assert_eq!(run.sys("pas").paused_seconds, 400);
    assert_eq!(run.status.paused_since, None);
    assert_eq!(
        elapsed(&run, 530),
        Some(std::time::Duration::from_secs(130))
    );
    // A retry starts a new attempt with its whole timeout.
    run.step_failed(
        "pas",
        0,
        "the restore did not finish within its timeout of 2m",
    );
    run.decide();
    run.now = 600;
    run.retry("pas");
    run.decide();
    assert_eq!(run.sys("pas").attempt_started_at, Some(time(600)));
    assert_eq!(run.sys("pas").paused_seconds, 0);
    assert_eq!(
        run.sys("pas").restore_started_at,
        Some(time(0)),
        "the first attempt's start stays"
    );
}

// ---------------------------------------------------------------------------------------
// Restore again

#[test]
fn a_system_restored_again_reruns_from_its_step_and_returns_to_the_stage_it_was_approved_at() {
    let model = must_plan(
        &[sys("db"), sys("app").steps(2).gate().needs(&["db"])],
        PlanSettings {
            stages: stages(&["it", "ward"]),
            ..settings()
        },
    );
    let mut run = Run::new(model.clone());
    run.decide();
    run.restore_one("db");
    run.step_ok("app", 0);
    run.decide();
    run.step_ok("app", 1);
    run.decide();
    run.check_ok("app", 0);
    run.decide();
    assert_eq!(run.sys("app").released_stage.as_deref(), Some("ward"));
    let first_verified = run.sys("app").verified_at.clone();

    run.now = 100;
    lifeline::engine::restore_again(
        &model,
        &mut run.status,
        &key("app"),
        Some("step-2"),
        false,
        at(100),
    )
    .expect("restore again");
    assert_eq!(
        run.sys("app").released_stage,
        None,
        "back to the verification audience meanwhile"
    );
    // The ward no longer needs anyone, but nobody may approve it again: it returns there.
    run.gates[1] = StageGate::Awaiting;
    assert_eq!(
        run.decide(),
        acts(&["start app step-2"]),
        "from its step; nothing of db"
    );
    assert_eq!(run.sys("db").phase, SystemPhase::Released, "db untouched");
    assert!(run.sys("db").steps.iter().all(|s| s.attempts == 1));
    assert_eq!(run.sys("app").steps[0].attempts, 1);
    assert_eq!(run.sys("app").steps[1].attempts, 2);
    run.now = 160;
    run.step_ok("app", 1);
    run.decide();
    run.check_ok("app", 0);
    assert_eq!(run.decide(), acts(&["release app it", "release app ward"]));
    let app = run.sys("app");
    assert_eq!(
        app.verified_at, first_verified,
        "the first verification stays the record"
    );
    assert_eq!(app.restored_again[0].verified_at, Some(time(160)));
    assert_eq!(app.resume_stage, None);
}

#[test]
fn restore_again_refuses_a_step_that_is_not_repeatable_without_force_and_unknown_steps() {
    let mut db = sys("db").steps(2);
    if let Some(r) = db.spec.restore.as_mut() {
        r.steps[0].repeatable = Some(false);
    }
    let model = must_plan(&[db], settings());
    let mut run = Run::new(model.clone());
    run.decide();
    assert!(matches!(
        lifeline::engine::restore_again(&model, &mut run.status, &key("db"), None, false, at(0)),
        Err(lifeline::engine::RestoreError::NotVerified { .. })
    ));
    run.step_ok("db", 0);
    run.decide();
    run.step_ok("db", 1);
    run.decide();
    run.check_ok("db", 0);
    run.decide();
    let refused =
        lifeline::engine::restore_again(&model, &mut run.status, &key("db"), None, false, at(10))
            .expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("step step-1 is repeatable: false"),
        "{refused}"
    );
    assert_eq!(
        run.phase("db"),
        SystemPhase::Verified,
        "a refusal changes nothing"
    );
    let unknown = lifeline::engine::restore_again(
        &model,
        &mut run.status,
        &key("db"),
        Some("nope"),
        false,
        at(10),
    )
    .expect_err("unknown");
    assert!(
        unknown
            .to_string()
            .contains("has no restore step nope (its steps: step-1, step-2)"),
        "{unknown}"
    );
    // From the later step, or forced, it goes.
    lifeline::engine::restore_again(
        &model,
        &mut run.status,
        &key("db"),
        Some("step-2"),
        false,
        at(10),
    )
    .expect("later step");
    run.decide();
    run.step_ok("db", 1);
    run.decide();
    run.check_ok("db", 0);
    run.decide();
    lifeline::engine::restore_again(&model, &mut run.status, &key("db"), None, true, at(20))
        .expect("forced");
    assert!(run.sys("db").restored_again[1].forced);
}

#[test]
fn recovery_times_count_from_the_incidents_start_also_for_a_system_added_mid_recovery() {
    let settings = PlanSettings {
        incident_started_at: Some(at(-3600)),
        ..settings()
    };
    let mut run = Run::new(must_plan(&[sys("pas").rto("2h")], settings.clone()));
    run.decide();
    run.now = 600;
    run.restore_one("pas");
    assert_eq!(
        run.sys("pas").recovery_seconds,
        Some(4200),
        "an hour before the plan, and ten minutes of it"
    );
    assert_eq!(run.sys("pas").added_at, None);
    // The EPR joins at 20 minutes: it is measured from the incident too, and says when it joined.
    run.model = must_plan(
        &[sys("pas").rto("2h"), sys("epr").rto("1h").needs(&["pas"])],
        settings,
    );
    run.now = 1200;
    run.decide();
    assert_eq!(run.sys("epr").added_at, Some(time(1200)));
    run.now = 1500;
    run.restore_one("epr");
    assert_eq!(run.sys("epr").recovery_seconds, Some(5100));
    assert_eq!(
        run.sys("epr").objective_met,
        Some(false),
        "85 minutes since the incident, against 1h"
    );
}

#[test]
fn with_reapprove_after_restore_a_system_restored_again_waits_for_a_new_approval_at_its_stage() {
    let mut app = sys("app").steps(2).gate().needs(&["db"]);
    if let Some(release) = app.spec.release.as_mut() {
        release.reapprove_after_restore = true;
    }
    let mut stages = stages(&["it", "ward"]);
    stages[1].approval.required = 1;
    let model = must_plan(
        &[sys("db"), app],
        PlanSettings {
            stages,
            ..settings()
        },
    );
    let mut run = Run::new(model.clone());
    run.decide();
    run.restore_one("db");
    run.step_ok("app", 0);
    run.decide();
    run.step_ok("app", 1);
    run.decide();
    run.check_ok("app", 0);
    run.decide();
    assert_eq!(run.sys("app").released_stage.as_deref(), Some("ward"));

    run.now = 100;
    lifeline::engine::restore_again(
        &model,
        &mut run.status,
        &key("app"),
        Some("step-2"),
        false,
        at(100),
    )
    .expect("restore again");
    let app = run.sys("app");
    assert_eq!(app.reapprove_after, Some(time(100)));
    assert_eq!(
        app.resume_stage, None,
        "it does not go back to the ward unasked"
    );

    // The ward's Approval of the first verification was made before the restore again:
    // it counts no more for app, whose gate there awaits a new one.
    let approval = |name: &str, secs: i64| -> lifeline::api::v1alpha1::Approval {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
            "metadata": { "name": name, "namespace": NS, "creationTimestamp": at(secs).to_string() },
            "spec": { "plan": "recovery", "stage": "ward", "systems": ["app"], "decision": "approve",
                      "approver": { "username": "kim" } }
        }))
        .expect("an approval")
    };
    let created = time(0);
    let regated = [(
        key("app"),
        time(100),
        "ward/app was restored again".to_string(),
    )];
    let facts = PlanFacts {
        name: "recovery",
        uid: None,
        namespace: NS,
        created: Some(&created),
        requested_by: None,
        regated: &regated,
    };
    let keys: Vec<String> = model.systems.iter().map(|s| s.key.clone()).collect();
    let before = [approval("ward-first", 50)];
    let eval = evaluate(&facts, &model.settings, &keys, &before);
    assert_eq!(eval.gate(1, &key("app")), &StageGate::Awaiting);
    run.gates[1] = eval.gate(1, &key("app")).clone();

    // Verified again: released through the stage that needs nobody, and held at the ward.
    assert_eq!(run.decide(), acts(&["start app step-2"]));
    run.now = 160;
    run.step_ok("app", 1);
    run.decide();
    run.check_ok("app", 0);
    assert_eq!(run.decide(), acts(&["release app it"]));
    assert_eq!(run.sys("app").released_stage.as_deref(), Some("it"));
    assert_eq!(run.decide(), acts(&[]), "still waiting at the ward");

    // A new Approval, made after the restore again, releases it to the ward.
    let after = [approval("ward-first", 50), approval("ward-again", 200)];
    let eval = evaluate(&facts, &model.settings, &keys, &after);
    assert_eq!(eval.gate(1, &key("app")), &StageGate::Open);
    run.gates[1] = StageGate::Open;
    run.now = 200;
    assert_eq!(run.decide(), acts(&["release app ward"]));
    assert_eq!(run.sys("app").released_stage.as_deref(), Some("ward"));
}

#[test]
fn a_check_the_api_server_could_not_be_asked_for_says_so_and_counts_nothing() {
    let model = must_plan(&[sys("a")], settings());
    let mut run = Run::new(model);
    run.decide();
    run.step_ok("a", 0);
    run.decide();
    assert_eq!(run.phase("a"), SystemPhase::Verifying);
    let not_tried = |run: &mut Run| {
        let system = run.idx("a");
        run.observe(Observation::CheckNotTried {
            system,
            check: 0,
            reason: "could not ask the API server: connection refused".into(),
        });
    };

    // While verifying: the check says why it was not tried, no attempt counts, nothing
    // fails, and the system still verifies.
    run.now = 30;
    not_tried(&mut run);
    run.decide();
    let c = run.sys("a").checks[0].clone();
    assert_eq!(
        c.message.as_deref(),
        Some("could not ask the API server: connection refused")
    );
    assert_eq!((c.phase, c.attempts), (ActionPhase::Running, 0), "{c:?}");
    assert_eq!((&c.last_error, &c.last_attempt_at), (&None, &None), "{c:?}");
    assert_eq!(run.phase("a"), SystemPhase::Verifying);
    // Its next attempt clears the message.
    run.now = 40;
    run.check_ok("a", 0);
    run.decide();
    assert_eq!(run.phase("a"), SystemPhase::Verified);
    assert_eq!(run.sys("a").checks[0].message, None);
    assert_eq!(run.sys("a").checks[0].attempts, 1);

    // A rerun of a verified system's check: said likewise, and not a regression.
    run.now = 100;
    not_tried(&mut run);
    run.decide();
    let c = run.sys("a").checks[0].clone();
    assert!(
        c.message
            .as_deref()
            .is_some_and(|m| m.starts_with("could not ask the API server: ")),
        "{c:?}"
    );
    assert_eq!((c.reruns, &c.failing_since), (0, &None), "{c:?}");
    assert_eq!(run.phase("a"), SystemPhase::Verified, "not Degraded");
}
