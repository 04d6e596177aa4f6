//! The properties over every path a run can take (an abort, a deletion, a failing
//! plan, a lost action, at any move), and a clean run in order.

use super::*;

fn faults_strategy() -> impl Strategy<Value = Faults> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(proptest::option::of(1u32..30)),
        proptest::option::of(proptest::option::of(1u32..30)),
    )
        .prop_map(
            |(scale_lims, delete_pacs, isolate_lims, fail_pacs)| Faults {
                scale_lims,
                delete_pacs,
                isolate_lims,
                fail_pacs,
            },
        )
        .prop_filter("at least one fault", |f| {
            f.scale_lims || f.delete_pacs || f.isolate_lims.is_some() || f.fail_pacs.is_some()
        })
}

fn intervention_strategy() -> impl Strategy<Value = Intervention> {
    prop_oneof![
        Just(Intervention::None),
        Just(Intervention::Abort),
        Just(Intervention::Delete),
        Just(Intervention::DeletePlan),
        Just(Intervention::PlanFails),
        Just(Intervention::Unstage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every fault injected is put back on every path to the end (a clean run, an abort,
    /// a deletion, a deleted or failing plan, the namespace no longer staging, at any
    /// move, with or without a release gate before the drill), even when the operator dies
    /// after writing a status and before acting on it.
    #[test]
    fn every_path_to_the_end_puts_everything_back(
        faults in faults_strategy(),
        intervention in intervention_strategy(),
        gated in any::<bool>(),
        when in 0usize..25,
        lost in proptest::collection::vec(0usize..30, 0..6),
        step in 1i64..8,
    ) {
        let t = run(faults, gated, intervention, when, &lost, step);
        assert_each_move(&t)?;
        assert_put_back(&t)?;
    }
}

#[test]
fn a_run_that_becomes_invalid_at_any_move_is_put_back_in_full() {
    // The namespace stops being staging mid-run: the run is refused and reverted, from a
    // full look at what it recorded, whatever the move.
    let faults = Faults {
        scale_lims: true,
        delete_pacs: true,
        isolate_lims: Some(None),
        fail_pacs: None,
    };
    for when in 0..20 {
        for gated in [false, true] {
            let t = run(faults, gated, Intervention::Unstage, when, &[], 2);
            assert_each_move(&t).unwrap_or_else(|e| panic!("move {when}: {e}"));
            assert_put_back(&t).unwrap_or_else(|e| panic!("move {when}: {e}"));
        }
    }
}

#[test]
fn a_clean_run_records_injects_proves_recovers_and_reverts_in_that_order() {
    let faults = Faults {
        scale_lims: true,
        delete_pacs: true,
        isolate_lims: Some(None),
        fail_pacs: None,
    };
    let t = run(faults, true, Intervention::None, usize::MAX, &[], 2);
    let phases: Vec<DrillPhase> = t.decisions.iter().map(|d| d.status.phase).collect();
    let mut seen: Vec<DrillPhase> = phases.clone();
    seen.dedup();
    assert_eq!(
        seen,
        [
            DrillPhase::Idle,
            DrillPhase::Injecting,
            DrillPhase::Recovering,
            DrillPhase::Reverting,
            DrillPhase::Finished
        ],
        "{phases:?}"
    );
    let run = t.world.status.run.clone().expect("a run");
    assert_eq!(
        run.outcome,
        Some(crate::api::v1alpha1::DrillOutcome::Passed)
    );
    assert_eq!(run.faults.len(), 3);
    for f in &run.faults {
        assert!(f.proven_at.is_some(), "{f:?}");
    }
    // The recovery scaled lims and pacs to 1 and rewrote lims' gate; the revert put back
    // 3 replicas each and the gate as it was, and removed the gate pacs did not have.
    assert!(
        run.reverted
            .contains(&"Deployment/lims: replicas 1 -> 3, as before the drill".to_string()),
        "{:?}",
        run.reverted
    );
    assert!(run.reverted.contains(&format!(
        "NetworkPolicy/{}: deleted (it did not exist before the drill)",
        names::release_policy("pacs")
    )));
    assert_eq!(
        t.world.policies[&names::release_policy("lims")].spec,
        Some(gate("lims", "all-sites"))
    );
    assert!(
        t.decisions
            .iter()
            .flat_map(|d| &d.notices)
            .any(|n| n.kind == NoticeKind::Finished(crate::api::v1alpha1::DrillOutcome::Passed))
    );
    assert_put_back(&t).expect("put back");
}
