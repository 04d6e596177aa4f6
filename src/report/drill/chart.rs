//! The run as a Gantt chart ([`crate::report::gantt`]), on the run's clock.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::figures::{SystemResult, figures};
use super::run::{all_times, is_finished, name_of, namespace_of, origin, run_of};
use crate::api::v1alpha1::SystemPhase;
use crate::api::v1alpha1::{RecoveryDrill, Tier};
use crate::engine::time::offset_seconds;
use crate::report::gantt::{GanttChart, GanttRow, Outcome};

/// The run as a Gantt chart; `None` before the first run.
///
/// One row per system, in the run's order. Every time is seconds from the run's start, so
/// all rows share one clock and line up with the timeline. A bar runs from when the
/// system's restore started (or, if it never started, from its fault) to when it was
/// verified or failed, or to the run's end.
///
/// The objective, though, is counted from the system's own fault, not from the run's
/// start: the RTO mark is placed at `faultAt + objective`, the deadline the system really
/// had. A bar that ends left of its mark met its objective exactly when
/// [`system_figures`](super::system_figures) says it did; drawing objectives from the run's start would move the
/// deadline of every system broken after the start earlier than it really was.
pub fn gantt_chart(drill: &RecoveryDrill) -> Option<GanttChart> {
    let run = run_of(drill)?;
    let origin = origin(run);
    let offset = |t: Option<&Time>| -> Option<f64> {
        let (origin, t) = (origin?, t?);
        Some(offset_seconds(origin, t.0) as f64)
    };
    let finished = is_finished(run);
    let rows = run
        .systems
        .iter()
        .map(|s| {
            let fig = figures(run, s, finished);
            let fault = s.fault_at.as_ref().or(run.started_at.as_ref());
            let outcome = match fig.result {
                SystemResult::Met | SystemResult::Missed { .. } | SystemResult::Unmeasured => {
                    Outcome::Verified
                }
                SystemResult::Failed => Outcome::Failed,
                SystemResult::NotVerified if s.phase == Some(SystemPhase::Blocked) => {
                    Outcome::Blocked
                }
                SystemResult::NotVerified | SystemResult::InProgress => Outcome::NotFinished,
            };
            let objective = match (offset(fault), s.objective_seconds) {
                (Some(fault), Some(objective)) => fault + objective as f64,
                // No deadline to mark: the chart ignores infinite times.
                _ => f64::INFINITY,
            };
            GanttRow {
                name: format!("{}/{}", namespace_of(drill), s.name),
                label: s.display_name.clone().unwrap_or_else(|| s.name.clone()),
                // A system without a recorded tier is drawn as the least urgent.
                tier: s.tier.unwrap_or(Tier::Deferrable),
                start: offset(s.restore_started_at.as_ref().or(fault)),
                verified: offset(s.verified_at.as_ref()),
                end: offset(s.failed_at.as_ref()),
                released: None,
                segments: Vec::new(),
                objective,
                outcome,
            }
        })
        .collect();
    let end = match (&run.finished_at, origin) {
        (Some(finished), Some(origin)) => offset_seconds(origin, finished.0) as f64,
        (None, Some(origin)) => all_times(run)
            .into_iter()
            .map(|t| offset_seconds(origin, t) as f64)
            .fold(0.0, f64::max),
        _ => 0.0,
    };
    Some(GanttChart {
        title: format!(
            "Drill {}/{}, run {}",
            namespace_of(drill),
            name_of(drill),
            run.number
        ),
        rows,
        finished_at: end,
    })
}

/// The Gantt chart as a standalone SVG document, for the file the Markdown report links
/// to; `None` before the first run.
pub fn gantt_svg(drill: &RecoveryDrill) -> Option<String> {
    gantt_chart(drill).map(|chart| chart.to_svg())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::drill::fixture::drill;

    #[test]
    fn gantt_rows_share_the_run_clock_with_objectives_from_each_fault() {
        let chart = gantt_chart(&drill()).expect("a chart");
        assert_eq!(chart.finished_at, 45.0 * 60.0);
        let lims = &chart.rows[1];
        assert_eq!(lims.name, "northern-care-staging/lims");
        assert_eq!(lims.start, Some((12 * 60 + 10) as f64));
        assert_eq!(lims.verified, Some((26 * 60 + 6) as f64));
        // Its fault at +0:06 plus its 15 min objective.
        assert_eq!(lims.objective, (6 + 900) as f64);
        assert_eq!(lims.outcome, Outcome::Verified);
        assert_eq!(chart.rows[2].outcome, Outcome::Failed);
        assert_eq!(chart.rows[2].end, Some(20.0 * 60.0));
        // The chart flags exactly the systems the figures say missed.
        let svg = gantt_svg(&drill()).expect("an SVG");
        assert_eq!(svg.matches("data-missed=\"true\"").count(), 2);
        assert!(svg.contains("data-system=\"northern-care-staging/lims\" data-tier=\"critical\" data-outcome=\"verified\" data-missed=\"true\""));
        assert!(svg.contains("data-system=\"northern-care-staging/pas\" data-tier=\"mission-critical\" data-outcome=\"failed\" data-missed=\"true\""));
    }
}
