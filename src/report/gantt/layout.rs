//! The chart's layout: its dimensions and colours, its time scale, and what each row shows,
//! all decided before anything is written.

use super::{GanttRow, Outcome, SegmentKind};
use crate::api::v1alpha1::Tier;
use crate::report::fmt::format_offset;

// ---------------------------------------------------------------------------------------
// Layout, in SVG user units (px).

/// Space around the whole chart.
pub(super) const MARGIN: f64 = 16.0;
/// Font size of the title.
pub(super) const TITLE_FONT_SIZE: f64 = 16.0;
/// Font size of row labels.
pub(super) const FONT_SIZE: f64 = 12.0;
/// Font size of the summary line, axis labels, notes and legend.
pub(super) const SMALL_FONT_SIZE: f64 = 11.0;
/// Baseline of the title, below the top margin.
pub(super) const TITLE_BASELINE: f64 = 16.0;
/// Baseline of the summary line, below the top margin.
pub(super) const SUMMARY_BASELINE: f64 = 34.0;
/// Height of the title and summary block, below the top margin.
pub(super) const HEADER_HEIGHT: f64 = 44.0;
/// Height of the band above the rows that holds the time-axis labels.
pub(super) const AXIS_HEIGHT: f64 = 20.0;
/// Width of the label column left of the plot.
pub(super) const LABEL_WIDTH: f64 = 240.0;
/// Labels longer than this many characters are truncated with an ellipsis.
pub(super) const LABEL_MAX_CHARS: usize = 34;
/// Titles longer than this many characters are truncated with an ellipsis.
pub(super) const TITLE_MAX_CHARS: usize = 110;
/// Left edge of the plot: time 0.
pub(super) const PLOT_LEFT: f64 = MARGIN + LABEL_WIDTH;
/// Width of the plot: time 0 to the end of the axis.
pub(super) const PLOT_WIDTH: f64 = 640.0;
/// Space right of the plot for notes that follow a bar ending at the end of the axis.
pub(super) const RIGHT_GUTTER: f64 = 150.0;
/// Width of the whole chart.
pub(super) const WIDTH: f64 = PLOT_LEFT + PLOT_WIDTH + RIGHT_GUTTER + MARGIN;
/// Top edge of the first row.
pub(super) const ROWS_TOP: f64 = MARGIN + HEADER_HEIGHT + AXIS_HEIGHT;
/// Height of each row; row `i` spans `ROWS_TOP + i * ROW_HEIGHT` downwards.
pub(super) const ROW_HEIGHT: f64 = 24.0;
/// Height of a bar, centred in its row.
pub(super) const BAR_HEIGHT: f64 = 14.0;
/// Bars shorter than this (zero-length restores) are widened to it so they stay visible.
pub(super) const MIN_BAR_WIDTH: f64 = 2.0;
/// Half the width (and height) of the RTO diamond.
pub(super) const RTO_HALF: f64 = 5.0;
/// Gap between a bar or mark and the note that follows it.
pub(super) const NOTE_GAP: f64 = 8.0;
/// Gap between the plot's left edge and a "blocked" or "not started" note.
pub(super) const NOTE_INSET: f64 = 4.0;
/// Approximate advance of one character, in ems, for placing text after text.
pub(super) const CHAR_WIDTH_EM: f64 = 0.6;
/// Shift from a row's centre line to the baseline that centres text on it, in ems.
pub(super) const BASELINE_SHIFT_EM: f64 = 0.35;
/// Gap between the last row and the legend.
pub(super) const LEGEND_GAP: f64 = 16.0;
/// Height of each of the two legend lines.
pub(super) const LEGEND_LINE_HEIGHT: f64 = 20.0;
/// Width of each legend entry.
pub(super) const LEGEND_ITEM_WIDTH: f64 = 200.0;
/// Size of a legend swatch.
pub(super) const SWATCH: f64 = 12.0;
/// Gap between a legend swatch and its text.
pub(super) const SWATCH_GAP: f64 = 6.0;
/// At most this many rows are drawn; a note counts the rest.
pub(super) const MAX_ROWS: usize = 5000;
/// The axis has at most this many ticks, counting the one at 0.
pub(super) const MAX_TICKS: usize = 12;
/// The axis spans at least this many seconds, so an empty or instant run still has one.
pub(super) const MIN_SPAN_SECS: f64 = 5.0;
/// Times are clamped to a year; nothing real runs longer and it bounds the axis search.
pub(super) const MAX_OFFSET_SECS: f64 = 366.0 * DAY;

pub(super) const MINUTE: f64 = 60.0;
pub(super) const HOUR: f64 = 3600.0;
pub(super) const DAY: f64 = 86_400.0;
/// Tick intervals the axis may use, shortest first: each is at most 2.5 times the one
/// before, so the chosen step always gives between 6 and [`MAX_TICKS`] ticks.
pub(super) const NICE_STEPS: [f64; 23] = [
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    MINUTE,
    2.0 * MINUTE,
    5.0 * MINUTE,
    10.0 * MINUTE,
    15.0 * MINUTE,
    30.0 * MINUTE,
    HOUR,
    2.0 * HOUR,
    3.0 * HOUR,
    6.0 * HOUR,
    12.0 * HOUR,
    DAY,
    2.0 * DAY,
    5.0 * DAY,
    10.0 * DAY,
    20.0 * DAY,
    50.0 * DAY,
];

// Colours. Tier fills are from the Okabe-Ito palette, which stays distinct under the common
// colour-vision deficiencies; failure is also shown by hatching and text, never colour alone.

/// Text.
pub(super) const TEXT_COLOUR: &str = "#1a1a1a";
/// Secondary text: axis labels, "blocked", the summary line.
pub(super) const MUTED_COLOUR: &str = "#595959";
/// Vertical grid lines at each tick.
pub(super) const GRID_COLOUR: &str = "#d9d9d9";
/// Background of every other row.
pub(super) const STRIPE_COLOUR: &str = "#f5f5f5";
/// Failed bars and missed objectives.
pub(super) const ALERT_COLOUR: &str = "#c62828";
/// The RTO diamond.
pub(super) const RTO_COLOUR: &str = "#1a1a1a";
/// Fill of the tier-neutral "failed" and "not finished" legend swatches.
pub(super) const LEGEND_SWATCH_COLOUR: &str = "#bdbdbd";
/// Fill opacity of a failed bar, under its hatching.
pub(super) const FAILED_FILL_OPACITY: f64 = 0.45;
/// Fill opacity of a bar still in progress when the run ended.
pub(super) const OPEN_FILL_OPACITY: f64 = 0.25;
/// Id of the hatching pattern for failed bars. Prefixed, since inline SVGs share the HTML
/// page's id space; two charts on one page define the same pattern, so either copy serves.
pub(super) const HATCH_ID: &str = "lifeline-gantt-failed-hatch";

/// Fill of a soak, in any tier: yellow (Okabe-Ito), outlined, so it reads apart from the
/// tiers' colours and from the faint wait.
pub(super) const SOAK_COLOUR: &str = "#f0e442";
/// Outline of a soak.
pub(super) const SOAK_STROKE: &str = "#6b6400";
/// Fill opacity of a verification, lighter than its restore.
pub(super) const VERIFY_FILL_OPACITY: f64 = 0.5;
/// Fill opacity of a wait for people, thin as well as lighter.
pub(super) const WAIT_FILL_OPACITY: f64 = 0.55;
/// Fill of the parts' legend swatches: a neutral grey dark enough that the lighter parts
/// still show.
pub(super) const SEGMENT_SWATCH_COLOUR: &str = "#7a7a7a";

/// The fill of a tier's bars.
pub(super) fn tier_colour(tier: Tier) -> &'static str {
    match tier {
        Tier::MissionCritical => "#0072b2", // blue
        Tier::Critical => "#e69f00",        // orange
        Tier::Important => "#009e73",       // bluish green
        Tier::Deferrable => "#cc79a7",      // reddish purple
    }
}

// ---------------------------------------------------------------------------------------
// Scale.

/// A time as the chart uses it: `None` if it is NaN or infinite, otherwise clamped to
/// `0..=MAX_OFFSET_SECS`.
pub(super) fn time(seconds: f64) -> Option<f64> {
    seconds
        .is_finite()
        .then(|| seconds.clamp(0.0, MAX_OFFSET_SECS))
}

/// [`time`] of an optional value.
pub(super) fn opt_time(seconds: Option<f64>) -> Option<f64> {
    seconds.and_then(time)
}

/// Objectives later than this multiple of the run's last event are drawn at the right
/// edge of the axis (their tooltip still gives the real time).
pub(super) const OBJECTIVE_HORIZON: f64 = 1.5;

/// The time axis: ticks every `step` seconds from 0 to `span`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Axis {
    pub(super) step: f64,
    pub(super) span: f64,
}

impl Axis {
    /// The axis for a chart whose latest time is `latest` seconds: the smallest nice step
    /// that needs at most `MAX_TICKS` ticks, ending at the first tick at or after `latest`.
    pub(super) fn covering(latest: f64) -> Axis {
        let latest = time(latest).unwrap_or(0.0).max(MIN_SPAN_SECS);
        let max_intervals = (MAX_TICKS - 1) as f64;
        let step = NICE_STEPS
            .iter()
            .copied()
            .find(|step| latest / step <= max_intervals)
            .unwrap_or(NICE_STEPS[NICE_STEPS.len() - 1]);
        // The tolerance keeps floating-point noise from adding a tick past an exact multiple.
        let intervals = (latest / step - 1e-9).ceil().max(1.0);
        Axis {
            step,
            span: intervals * step,
        }
    }

    /// The tick times, from 0 to `span` inclusive.
    pub(super) fn ticks(self) -> impl Iterator<Item = f64> {
        let intervals = (self.span / self.step).round() as usize;
        (0..=intervals).map(move |i| i as f64 * self.step)
    }

    /// The x coordinate of `t` seconds (already passed through [`time`]).
    pub(super) fn x(self, t: f64) -> f64 {
        PLOT_LEFT + (t / self.span).clamp(0.0, 1.0) * PLOT_WIDTH
    }
}

// ---------------------------------------------------------------------------------------
// What each row shows, decided before anything is drawn.

/// How a bar is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BarStyle {
    /// Verified: solid tier colour.
    Solid,
    /// Failed: faded tier colour, red outline, red hatching.
    Failed,
    /// Not finished when the run ended: faint tier colour, dashed outline.
    Open,
}

/// A bar from `start` to `end` seconds (`end >= start`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Bar {
    pub(super) start: f64,
    pub(super) end: f64,
    pub(super) style: BarStyle,
}

/// The bar of a row, if it has one: blocked rows and rows that never started have none.
pub(super) fn bar(row: &GanttRow, finished_at: f64) -> Option<Bar> {
    let start = opt_time(row.start)?;
    let (end, style) = match row.outcome {
        Outcome::Blocked => return None,
        Outcome::Verified => (
            opt_time(row.verified)
                .or(opt_time(row.end))
                .unwrap_or(start),
            BarStyle::Solid,
        ),
        Outcome::Failed => (
            opt_time(row.end)
                .or(opt_time(row.verified))
                .unwrap_or(finished_at),
            BarStyle::Failed,
        ),
        Outcome::NotFinished => (finished_at, BarStyle::Open),
    };
    Some(Bar {
        start,
        end: end.max(start),
        style,
    })
}

/// A part of a row ([`super::Segment`]) as it is drawn: times passed through [`time`], an
/// open part running to the end of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct SegmentBar<'a> {
    pub(super) kind: SegmentKind,
    pub(super) start: f64,
    pub(super) end: f64,
    /// Still under way when the run ended.
    pub(super) open: bool,
    pub(super) failed: bool,
    pub(super) note: Option<&'a str>,
}

/// Where a part of `kind` sits in its row: its height, as a fraction of [`BAR_HEIGHT`],
/// centred on the row. Restores and verifications are full bars; a regression, on top of
/// them, a little less; a soak half and a wait a third, under them.
pub(super) fn segment_height(kind: SegmentKind) -> f64 {
    match kind {
        SegmentKind::Restore | SegmentKind::Verification => 1.0,
        SegmentKind::Regression => 0.7,
        SegmentKind::Soak => 0.5,
        SegmentKind::Waiting => 1.0 / 3.0,
    }
}

/// The parts of a row as they are drawn, in drawing order: waits and soaks first, then
/// restores and verifications, regressions last, on top. A part whose start is not a time
/// is left out.
pub(super) fn segment_bars(row: &GanttRow, finished_at: f64) -> Vec<SegmentBar<'_>> {
    let order = |k: SegmentKind| match k {
        SegmentKind::Waiting => 0,
        SegmentKind::Soak => 1,
        SegmentKind::Restore => 2,
        SegmentKind::Verification => 3,
        SegmentKind::Regression => 4,
    };
    let mut out: Vec<SegmentBar<'_>> = row
        .segments
        .iter()
        .filter_map(|s| {
            let start = time(s.start)?;
            let (end, open) = match opt_time(s.end) {
                Some(end) => (end, false),
                None => (finished_at, true),
            };
            Some(SegmentBar {
                kind: s.kind,
                start,
                end: end.max(start),
                open,
                failed: s.failed,
                note: s.note.as_deref(),
            })
        })
        .collect();
    out.sort_by_key(|b| order(b.kind));
    out
}

/// The tooltip of a part: the system, what the time went on, from when to when.
pub(super) fn segment_tooltip(row: &GanttRow, bar: &SegmentBar<'_>) -> String {
    let mut text = format!("{}: {}", display_label(row), bar.kind.words());
    if let Some(note) = bar.note {
        text.push_str(&format!(", {note}"));
    }
    text.push_str(&format!("\nfrom {}", format_offset(bar.start)));
    if bar.open {
        text.push_str(", still under way when the run ended");
    } else {
        text.push_str(&format!(
            " to {} ({})",
            format_offset(bar.end),
            format_offset(bar.end - bar.start)
        ));
    }
    if bar.failed {
        text.push_str("\nended in a failure");
    }
    text
}

/// By how many seconds the row missed its objective, if it did.
///
/// A verified system missed it when it was verified after the objective. Any other system
/// was still unavailable when the run ended, so it missed it when the run (or its own last
/// recorded time) went past the objective.
pub(super) fn missed_by(row: &GanttRow, finished_at: f64) -> Option<f64> {
    let objective = time(row.objective)?;
    let available_from = match row.outcome {
        Outcome::Verified => opt_time(row.verified).or(opt_time(row.end))?,
        Outcome::Failed | Outcome::Blocked | Outcome::NotFinished => {
            [row.start, row.end, row.verified]
                .into_iter()
                .filter_map(opt_time)
                .fold(finished_at, f64::max)
        }
    };
    (available_from > objective).then_some(available_from - objective)
}

/// The text that names a row: its label, or its name when the label is blank.
pub(super) fn display_label(row: &GanttRow) -> &str {
    if !row.label.trim().is_empty() {
        &row.label
    } else if !row.name.trim().is_empty() {
        &row.name
    } else {
        "(unnamed)"
    }
}

/// `text` cut to at most `max_chars` characters, ending in an ellipsis when cut.
pub(super) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The approximate width of `text` at `font_size`, for placing text after text.
pub(super) fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * CHAR_WIDTH_EM
}

/// An optional time for a tooltip.
pub(super) fn tooltip_time(seconds: Option<f64>) -> String {
    opt_time(seconds).map_or_else(|| "—".to_string(), format_offset)
}

/// The tooltip of a row: what a person hovering over the bar wants to know.
pub(super) fn tooltip(row: &GanttRow, missed: Option<f64>) -> String {
    let label = display_label(row);
    let mut text = if label == row.name {
        label.to_string()
    } else {
        format!("{label} ({})", row.name)
    };
    text.push_str(&format!("\ntier: {}", row.tier.as_str()));
    text.push_str(&format!("\nstarted: {}", tooltip_time(row.start)));
    text.push_str(&format!("\nverified: {}", tooltip_time(row.verified)));
    if row.outcome == Outcome::Failed {
        text.push_str(&format!("\nfailed at: {}", tooltip_time(row.end)));
    }
    text.push_str(&format!(
        "\nobjective (RTO): {}",
        tooltip_time(Some(row.objective))
    ));
    text.push_str(&format!(
        "\noutcome: {}",
        row.outcome.as_str().replace('-', " ")
    ));
    match missed {
        Some(by) if row.outcome == Outcome::Verified => {
            text.push_str(&format!(", missed the objective by {}", format_offset(by)));
        }
        Some(_) => text.push_str(", missed the objective"),
        None => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_uses_nice_steps_and_a_readable_number_of_ticks() {
        assert_eq!(
            Axis::covering(45.0 * MINUTE),
            Axis {
                step: 5.0 * MINUTE,
                span: 45.0 * MINUTE
            }
        );
        assert_eq!(
            Axis::covering(HOUR),
            Axis {
                step: 10.0 * MINUTE,
                span: HOUR
            }
        );
        assert_eq!(
            Axis::covering(61.0 * MINUTE),
            Axis {
                step: 10.0 * MINUTE,
                span: 70.0 * MINUTE
            }
        );
        let mut latest = 0.5;
        while latest < MAX_OFFSET_SECS * 2.0 {
            let axis = Axis::covering(latest);
            let ticks = axis.ticks().count();
            assert!(NICE_STEPS.contains(&axis.step), "{latest}: {axis:?}");
            assert!(
                axis.span >= latest.min(MAX_OFFSET_SECS),
                "{latest}: {axis:?}"
            );
            assert!(ticks <= MAX_TICKS, "{latest}: {ticks} ticks");
            if latest > MIN_SPAN_SECS {
                assert!(ticks >= 6, "{latest}: {ticks} ticks");
            }
            latest *= 1.37;
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -10.0] {
            assert_eq!(Axis::covering(bad).span, MIN_SPAN_SECS, "{bad}");
        }
    }
}
