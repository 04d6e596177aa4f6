//! The drill report (`lifeline report`): what a chaos drill broke, how long each system took
//! to come back against its recovery-time objective, who approved the release, and what
//! needs fixing. As Markdown for engineers and wikis ([`markdown`]), and as a
//! self-contained HTML page a hospital board can read ([`html`]).
//!
//! The report is made from the RecoveryDrill object alone: its spec, the current or last
//! run (`status.run`) and the run history (`status.history`). Everything here is pure (no
//! client, clock or I/O) and never panics, whatever the object holds.
//!
//! Every figure is worked out from the recorded timestamps ([`system_figures`]): a system's
//! recovery time runs from its `faultAt` to its `verifiedAt`. The controller's own
//! `recoverySeconds` and `objectiveMet` are only used when a timestamp is missing.
//!
//! Times are shown in UTC and as the time since the run started, read like a stopwatch:
//! `+0:42` is 42 seconds in, `+12:05` twelve minutes five seconds, `+1:02:03` an hour, two
//! minutes and three seconds.
//!
//! Where things are, one file per concern:
//!
//! - `figures.rs`: what each system measured ([`SystemFigures`], [`system_figures`]) and
//!   the one-sentence [`headline`].
//! - `actions.rs`: what needs fixing ([`ActionItem`], [`action_items`]).
//! - `chart.rs`: the run as a Gantt chart ([`gantt_chart`], [`gantt_svg`]), on the run's
//!   clock; the chart itself is drawn by [`crate::report::gantt`].
//! - `model/`: the report decided once, before anything is written: its facts and its
//!   sections (faults, systems, checks, approvals, history in `sections.rs`; the
//!   timeline in `timeline.rs`), in the words of `words.rs`.
//! - `markdown.rs` ([`markdown`], [`markdown_linking`]) and `html.rs` ([`html`]): the two
//!   renderings of the model; the page's CSS is `style.css`, included in the HTML.
//! - `run.rs`: reading the RecoveryDrill object (its run, name, recorded moments).
//! - `src/report/fmt.rs`: durations ([`format_since`]), UTC times, plurals and escaping,
//!   shared with the chart.

mod actions;
mod chart;
mod figures;
#[cfg(test)]
mod fixture;
mod html;
mod markdown;
mod model;
mod run;
mod words;

pub use actions::{ActionItem, action_items};
pub use chart::{gantt_chart, gantt_svg};
pub use figures::{SystemFigures, SystemResult, headline, system_figures};
pub use html::html;
pub use markdown::{ChartLink, GANTT_NOTE, markdown, markdown_linking};

pub use crate::report::fmt::format_since;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use fixture::{assert_tables_well_formed, drill_of, fixture};

    #[test]
    fn a_drill_without_a_run_says_so() {
        let mut value = fixture();
        value["status"] = json!({ "phase": "Waiting", "message": "pas is held by drill other" });
        for drill in [drill_of(value.clone()), {
            let mut bare = value.clone();
            bare.as_object_mut().expect("an object").remove("status");
            drill_of(bare)
        }] {
            let md = markdown(&drill);
            assert!(md.contains("This drill has not run yet."), "{md}");
            assert!(!md.contains("## What we broke"));
            assert!(assert_tables_well_formed(&md) <= 1);
            let page = html(&drill);
            assert!(page.contains("This drill has not run yet."));
            assert!(!page.contains("<figure"));
            assert!(page.trim_end().ends_with("</html>"));
            assert!(system_figures(&drill).is_empty());
            assert!(action_items(&drill).is_empty());
            assert!(gantt_svg(&drill).is_none());
        }
        assert!(markdown(&drill_of(value)).contains("pas is held by drill other"));
    }

    #[test]
    fn nonsense_does_not_panic() {
        let mut value = fixture();
        let run = &mut value["status"]["run"];
        // Verified before the fault, a system with no times at all, a run with no start.
        run["systems"][0]["verifiedAt"] = json!("2025-03-15T02:00:00Z");
        run["systems"][1] = json!({ "name": "" });
        run.as_object_mut().expect("an object").remove("startedAt");
        run["faults"][0]["injectedAt"] = json!("0001-01-01T00:00:00Z");
        run["approvals"][0]["at"] = json!("9999-12-30T00:00:00Z");
        let drill = drill_of(value);
        let figures = system_figures(&drill);
        assert_eq!(figures[0].recovery_seconds, None);
        assert_eq!(figures[0].result, SystemResult::Unmeasured);
        assert_eq!(figures[1].result, SystemResult::NotVerified);
        assert_eq!(assert_tables_well_formed(&markdown(&drill)), 6);
        assert!(html(&drill).contains("<figure id=\"gantt\">"));
        let empty = drill_of(json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "RecoveryDrill",
            "metadata": {},
            "spec": { "systems": {}, "faults": [] },
            "status": { "run": { "number": 0, "trigger": "manual" } }
        }));
        assert!(markdown(&empty).contains("# Drill report: default/(unnamed), run 0"));
        assert!(html(&empty).contains("no systems were measured"));
    }
}
