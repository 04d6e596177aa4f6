//! The report model: times in UTC and since the start, the timeline in order.

use super::timeline::timeline;
use super::*;
use crate::report::drill::fixture::drill;
use crate::report::drill::{html, markdown};

#[test]
fn times_are_shown_in_utc_and_since_the_start() {
    // How the time since the start reads is tested beside `format_since` (fmt.rs).
    let md = markdown(&drill());
    // The lims fault: injected, proven, no lift.
    assert!(
        md.contains("| lims | Pods deleted | pods app=lims | 03:00:06 UTC (+0:06) | 03:00:30 UTC (+0:30) | none of the 3 deleted pods is left | — |"),
        "{md}"
    );
    assert!(md.contains("- **Started:** 2025-03-15 03:00:00 UTC"));
    assert!(md.contains("- **Finished:** 2025-03-15 03:45:00 UTC, after 45m"));
    let page = html(&drill());
    assert!(page.contains(
        "<td class=\"when\"><time datetime=\"2025-03-15T03:10:07Z\">03:10:07 UTC</time> <span class=\"since\">(+10:07)</span></td>"
    ));
}

#[test]
fn timeline_is_chronological_from_start_to_finish() {
    let drill = drill();
    let run = run_of(&drill).expect("a run");
    let events = timeline(run, &system_figures(&drill));
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        events.first().map(|e| e.text.as_str()),
        Some("Run 3 started (started by its schedule)")
    );
    assert_eq!(
        events.last().map(|e| e.text.as_str()),
        Some("Run finished: Objectives missed: 1 of 4 objectives missed: lims")
    );
    let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
    for expected in [
        "identity: fault injected: switched off (scaled to zero) (Deployment/directory)",
        "identity: fault proven: 0 pods left of 2",
        "pas: fault lifted (NetworkPolicy/lifeline-drill-pas)",
        "Recovery started (plan core-drill-run-3)",
        "lims: restore started",
        "lims: checked and working, 26m after the fault",
        "identity: released to staff (first stage)",
        "identity: released at every stage",
        "pas: failed",
        "Stage it-validation: approved by drill auto-approval (automatic)",
        "Stage pilot-ward: approval by mallory ignored",
        "Stage pilot-ward: approved by dr.jones",
    ] {
        assert!(texts.contains(&expected), "{expected:?} in {texts:#?}");
    }
    // epr was verified but released once: no separate "every stage" line.
    assert!(!texts.contains(&"epr: released at every stage"));
}
