//! An SVG Gantt chart of a recovery run: one row per clinical system, a bar from the moment
//! its restore started to the moment it was verified (or failed), coloured by tier, with the
//! system's recovery-time objective (RTO) marked and missed objectives flagged in red.
//!
//! The renderer is pure (no I/O, nothing beyond `std`) and never panics. Times that are NaN
//! or infinite are ignored, negative times are clamped to the start of the run and times
//! beyond a year are clamped to a year. The output is a standalone SVG 1.1 document that also
//! works inline in an HTML page: it styles with presentation attributes rather than a
//! `<style>` sheet, so embedding it cannot restyle the page around it.
//!
//! Layout, left to right: a margin, the label column, the plot, a gutter for the "failed" and
//! "missed RTO" notes, a margin. Top to bottom: the title and summary line, the time-axis
//! labels, the rows, the legend. The constants below name every dimension.

use std::fmt::{self, Write as _};

pub use super::fmt::format_offset;
use super::fmt::{Esc, plural, their};
use crate::api::v1alpha1::Tier;

/// One bar of the chart: one clinical system in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct GanttRow {
    /// The system as `namespace/name`; becomes the row's `data-system` attribute.
    pub name: String,
    /// Display name shown left of the plot, e.g. "Laboratory Information System". Long
    /// labels are truncated with an ellipsis (the full text is in the tooltip); an empty
    /// label falls back to `name`.
    pub label: String,
    /// How much the hospital depends on the system; sets the bar colour.
    pub tier: Tier,
    /// Seconds from the start of the run when the restore started; `None` if it never did.
    pub start: Option<f64>,
    /// Seconds from the start of the run when the system was verified; `None` if it was not.
    pub verified: Option<f64>,
    /// Seconds from the start of the run when the restore stopped without being verified
    /// (the failure time of an [`Outcome::Failed`] row).
    pub end: Option<f64>,
    /// The recovery-time objective, in seconds from the start of the run (the RTO mark).
    pub objective: f64,
    /// How the system's restore ended.
    pub outcome: Outcome,
}

/// How a system's restore ended, which decides how its row is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Restored and verified: a solid bar from `start` to `verified`.
    Verified,
    /// The restore failed: a red-outlined, hatched bar from `start` to `end`.
    Failed,
    /// Never started because something it depends on did not come back: no bar, a grey
    /// "blocked" note.
    Blocked,
    /// Still in progress when the run ended: a dashed bar from `start` to the end of the run.
    NotFinished,
}

impl Outcome {
    /// The outcome as written in the row's `data-outcome` attribute and in tooltips.
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Failed => "failed",
            Outcome::Blocked => "blocked",
            Outcome::NotFinished => "not-finished",
        }
    }
}

/// A Gantt chart of one recovery run or drill.
#[derive(Clone, Debug, PartialEq)]
pub struct GanttChart {
    /// Shown at the top, e.g. "Drill 2025-03-14: pathology".
    pub title: String,
    /// One row per system, drawn top to bottom in this order.
    pub rows: Vec<GanttRow>,
    /// Seconds from the start of the run when the run ended.
    pub finished_at: f64,
}

impl GanttChart {
    /// Renders the chart as a standalone SVG 1.1 document, starting with `<svg`.
    ///
    /// Every row is a `<g class="row" data-system="namespace/name" data-tier=".."
    /// data-outcome="..">` group (plus `data-missed="true"` when the system missed its
    /// objective), holding at most one `<rect class="bar">` with a `<title>` tooltip. The time
    /// axis runs from 0 to the first tick at or after the latest time in the chart, so every
    /// bar and RTO mark is visible. At most 5000 rows are drawn; a note counts the rest.
    pub fn to_svg(&self) -> String {
        let renderer = Renderer::new(self);
        let mut out = String::with_capacity(4096 + renderer.shown * 1024);
        // Writing to a String cannot fail; fmt::Error only ever comes from the writer.
        let _ = renderer.write(&mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Layout, in SVG user units (px).

/// Space around the whole chart.
const MARGIN: f64 = 16.0;
/// Font size of the title.
const TITLE_FONT_SIZE: f64 = 16.0;
/// Font size of row labels.
const FONT_SIZE: f64 = 12.0;
/// Font size of the summary line, axis labels, notes and legend.
const SMALL_FONT_SIZE: f64 = 11.0;
/// Baseline of the title, below the top margin.
const TITLE_BASELINE: f64 = 16.0;
/// Baseline of the summary line, below the top margin.
const SUMMARY_BASELINE: f64 = 34.0;
/// Height of the title and summary block, below the top margin.
const HEADER_HEIGHT: f64 = 44.0;
/// Height of the band above the rows that holds the time-axis labels.
const AXIS_HEIGHT: f64 = 20.0;
/// Width of the label column left of the plot.
const LABEL_WIDTH: f64 = 240.0;
/// Labels longer than this many characters are truncated with an ellipsis.
const LABEL_MAX_CHARS: usize = 34;
/// Titles longer than this many characters are truncated with an ellipsis.
const TITLE_MAX_CHARS: usize = 110;
/// Left edge of the plot: time 0.
const PLOT_LEFT: f64 = MARGIN + LABEL_WIDTH;
/// Width of the plot: time 0 to the end of the axis.
const PLOT_WIDTH: f64 = 640.0;
/// Space right of the plot for notes that follow a bar ending at the end of the axis.
const RIGHT_GUTTER: f64 = 150.0;
/// Width of the whole chart.
const WIDTH: f64 = PLOT_LEFT + PLOT_WIDTH + RIGHT_GUTTER + MARGIN;
/// Top edge of the first row.
const ROWS_TOP: f64 = MARGIN + HEADER_HEIGHT + AXIS_HEIGHT;
/// Height of each row; row `i` spans `ROWS_TOP + i * ROW_HEIGHT` downwards.
const ROW_HEIGHT: f64 = 24.0;
/// Height of a bar, centred in its row.
const BAR_HEIGHT: f64 = 14.0;
/// Bars shorter than this (zero-length restores) are widened to it so they stay visible.
const MIN_BAR_WIDTH: f64 = 2.0;
/// Half the width (and height) of the RTO diamond.
const RTO_HALF: f64 = 5.0;
/// Gap between a bar or mark and the note that follows it.
const NOTE_GAP: f64 = 8.0;
/// Gap between the plot's left edge and a "blocked" or "not started" note.
const NOTE_INSET: f64 = 4.0;
/// Approximate advance of one character, in ems, for placing text after text.
const CHAR_WIDTH_EM: f64 = 0.6;
/// Shift from a row's centre line to the baseline that centres text on it, in ems.
const BASELINE_SHIFT_EM: f64 = 0.35;
/// Gap between the last row and the legend.
const LEGEND_GAP: f64 = 16.0;
/// Height of each of the two legend lines.
const LEGEND_LINE_HEIGHT: f64 = 20.0;
/// Width of each legend entry.
const LEGEND_ITEM_WIDTH: f64 = 200.0;
/// Size of a legend swatch.
const SWATCH: f64 = 12.0;
/// Gap between a legend swatch and its text.
const SWATCH_GAP: f64 = 6.0;
/// At most this many rows are drawn; a note counts the rest.
const MAX_ROWS: usize = 5000;
/// The axis has at most this many ticks, counting the one at 0.
const MAX_TICKS: usize = 12;
/// The axis spans at least this many seconds, so an empty or instant run still has one.
const MIN_SPAN_SECS: f64 = 5.0;
/// Times are clamped to a year; nothing real runs longer and it bounds the axis search.
const MAX_OFFSET_SECS: f64 = 366.0 * DAY;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
/// Tick intervals the axis may use, shortest first: each is at most 2.5 times the one
/// before, so the chosen step always gives between 6 and [`MAX_TICKS`] ticks.
const NICE_STEPS: [f64; 23] = [
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
const TEXT_COLOUR: &str = "#1a1a1a";
/// Secondary text: axis labels, "blocked", the summary line.
const MUTED_COLOUR: &str = "#595959";
/// Vertical grid lines at each tick.
const GRID_COLOUR: &str = "#d9d9d9";
/// Background of every other row.
const STRIPE_COLOUR: &str = "#f5f5f5";
/// Failed bars and missed objectives.
const ALERT_COLOUR: &str = "#c62828";
/// The RTO diamond.
const RTO_COLOUR: &str = "#1a1a1a";
/// Fill of the tier-neutral "failed" and "not finished" legend swatches.
const LEGEND_SWATCH_COLOUR: &str = "#bdbdbd";
/// Fill opacity of a failed bar, under its hatching.
const FAILED_FILL_OPACITY: f64 = 0.45;
/// Fill opacity of a bar still in progress when the run ended.
const OPEN_FILL_OPACITY: f64 = 0.25;
/// Id of the hatching pattern for failed bars. Prefixed, since inline SVGs share the HTML
/// page's id space; two charts on one page define the same pattern, so either copy serves.
const HATCH_ID: &str = "lifeline-gantt-failed-hatch";

/// The fill of a tier's bars.
fn tier_colour(tier: Tier) -> &'static str {
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
fn time(seconds: f64) -> Option<f64> {
    seconds
        .is_finite()
        .then(|| seconds.clamp(0.0, MAX_OFFSET_SECS))
}

/// [`time`] of an optional value.
fn opt_time(seconds: Option<f64>) -> Option<f64> {
    seconds.and_then(time)
}

/// Objectives later than this multiple of the run's last event are drawn at the right
/// edge of the axis (their tooltip still gives the real time).
const OBJECTIVE_HORIZON: f64 = 1.5;

/// The time axis: ticks every `step` seconds from 0 to `span`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    step: f64,
    span: f64,
}

impl Axis {
    /// The axis for a chart whose latest time is `latest` seconds: the smallest nice step
    /// that needs at most `MAX_TICKS` ticks, ending at the first tick at or after `latest`.
    fn covering(latest: f64) -> Axis {
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
    fn ticks(self) -> impl Iterator<Item = f64> {
        let intervals = (self.span / self.step).round() as usize;
        (0..=intervals).map(move |i| i as f64 * self.step)
    }

    /// The x coordinate of `t` seconds (already passed through [`time`]).
    fn x(self, t: f64) -> f64 {
        PLOT_LEFT + (t / self.span).clamp(0.0, 1.0) * PLOT_WIDTH
    }
}

// ---------------------------------------------------------------------------------------
// What each row shows, decided before anything is drawn.

/// How a bar is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BarStyle {
    /// Verified: solid tier colour.
    Solid,
    /// Failed: faded tier colour, red outline, red hatching.
    Failed,
    /// Not finished when the run ended: faint tier colour, dashed outline.
    Open,
}

/// A bar from `start` to `end` seconds (`end >= start`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bar {
    start: f64,
    end: f64,
    style: BarStyle,
}

/// The bar of a row, if it has one: blocked rows and rows that never started have none.
fn bar(row: &GanttRow, finished_at: f64) -> Option<Bar> {
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

/// By how many seconds the row missed its objective, if it did.
///
/// A verified system missed it when it was verified after the objective. Any other system
/// was still unavailable when the run ended, so it missed it when the run (or its own last
/// recorded time) went past the objective.
fn missed_by(row: &GanttRow, finished_at: f64) -> Option<f64> {
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
fn display_label(row: &GanttRow) -> &str {
    if !row.label.trim().is_empty() {
        &row.label
    } else if !row.name.trim().is_empty() {
        &row.name
    } else {
        "(unnamed)"
    }
}

/// `text` cut to at most `max_chars` characters, ending in an ellipsis when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The approximate width of `text` at `font_size`, for placing text after text.
fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * CHAR_WIDTH_EM
}

/// An optional time for a tooltip.
fn tooltip_time(seconds: Option<f64>) -> String {
    opt_time(seconds).map_or_else(|| "—".to_string(), format_offset)
}

/// The tooltip of a row: what a person hovering over the bar wants to know.
fn tooltip(row: &GanttRow, missed: Option<f64>) -> String {
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

// ---------------------------------------------------------------------------------------
// Writing.

/// A coordinate, written with at most one decimal (`12`, `12.5`); never NaN.
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = if self.0.is_finite() {
            (self.0 * 10.0).round() / 10.0
        } else {
            0.0
        };
        if rounded.fract() == 0.0 {
            write!(f, "{rounded:.0}")
        } else {
            write!(f, "{rounded:.1}")
        }
    }
}

/// A chart with its scale worked out, ready to write.
struct Renderer<'a> {
    chart: &'a GanttChart,
    /// When the run ended, passed through [`time`] (0 when unknown).
    finished_at: f64,
    axis: Axis,
    /// Rows drawn; the rest are counted in a note.
    shown: usize,
    /// Total height of the chart.
    height: f64,
}

impl<'a> Renderer<'a> {
    fn new(chart: &'a GanttChart) -> Self {
        let finished_at = time(chart.finished_at).unwrap_or(0.0);
        let events = chart
            .rows
            .iter()
            .flat_map(|row| [row.start, row.verified, row.end])
            .filter_map(opt_time)
            .fold(finished_at, f64::max);
        // Objectives far beyond the run (a deferrable system's 24h against a 3h recovery)
        // would squash every bar; those are drawn at the right edge instead.
        let horizon = if events > 0.0 {
            events * OBJECTIVE_HORIZON
        } else {
            f64::INFINITY
        };
        let latest = chart
            .rows
            .iter()
            .filter_map(|row| time(row.objective))
            .filter(|o| *o <= horizon)
            .fold(events, f64::max);
        let shown = chart.rows.len().min(MAX_ROWS);
        let note_rows = usize::from(chart.rows.len() > MAX_ROWS);
        // An empty chart keeps one row's height for its "no systems" note.
        let row_slots = (shown + note_rows).max(1);
        let height = ROWS_TOP
            + row_slots as f64 * ROW_HEIGHT
            + LEGEND_GAP
            + 2.0 * LEGEND_LINE_HEIGHT
            + MARGIN;
        Renderer {
            chart,
            finished_at,
            axis: Axis::covering(latest),
            shown,
            height,
        }
    }

    /// Bottom edge of the last drawn row (or of the "no systems" note).
    fn rows_bottom(&self) -> f64 {
        ROWS_TOP + self.shown.max(1) as f64 * ROW_HEIGHT
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        let title = if self.chart.title.trim().is_empty() {
            "Recovery timeline"
        } else {
            self.chart.title.as_str()
        };
        let summary = self.summary();
        write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="{fs}">"#,
            w = Num(WIDTH),
            h = Num(self.height),
            fs = Num(FONT_SIZE),
        )?;
        write!(
            out,
            "<title>{}</title><desc>{}</desc>",
            Esc(title),
            Esc(&summary)
        )?;
        write!(
            out,
            r#"<defs><pattern id="{HATCH_ID}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="{ALERT_COLOUR}" stroke-width="2"/></pattern></defs>"#
        )?;
        write!(
            out,
            r##"<rect class="background" x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
            Num(WIDTH),
            Num(self.height)
        )?;
        write!(
            out,
            r#"<text class="title" x="{}" y="{}" font-size="{}" font-weight="bold" fill="{TEXT_COLOUR}">{}</text>"#,
            Num(MARGIN),
            Num(MARGIN + TITLE_BASELINE),
            Num(TITLE_FONT_SIZE),
            Esc(&truncate(title, TITLE_MAX_CHARS)),
        )?;
        write!(
            out,
            r#"<text class="summary" x="{}" y="{}" font-size="{}" fill="{MUTED_COLOUR}">{}</text>"#,
            Num(MARGIN),
            Num(MARGIN + SUMMARY_BASELINE),
            Num(SMALL_FONT_SIZE),
            Esc(&summary),
        )?;
        self.write_axis(out)?;
        for (index, row) in self.chart.rows.iter().take(self.shown).enumerate() {
            self.write_row(out, index, row)?;
        }
        self.write_rows_note(out)?;
        self.write_legend(out)?;
        out.push_str("</svg>\n");
        Ok(())
    }

    /// One line for the board: how many systems came back, and when the run ended.
    fn summary(&self) -> String {
        let rows = &self.chart.rows;
        let count = |outcome: Outcome| rows.iter().filter(|row| row.outcome == outcome).count();
        let parts: Vec<String> = [
            (Outcome::Verified, "verified"),
            (Outcome::Failed, "failed"),
            (Outcome::Blocked, "blocked"),
            (Outcome::NotFinished, "not finished"),
        ]
        .into_iter()
        .filter_map(|(outcome, word)| {
            let n = count(outcome);
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
        let mut summary = format!("{} system{}", rows.len(), plural(rows.len()));
        if !parts.is_empty() {
            summary.push_str(": ");
            summary.push_str(&parts.join(", "));
        }
        let missed = rows
            .iter()
            .filter(|row| missed_by(row, self.finished_at).is_some())
            .count();
        summary.push_str(&format!(
            " · {missed} missed {} recovery-time objective",
            their(missed)
        ));
        summary.push_str(&format!(
            " · run ended at {} · times from the start of the run",
            format_offset(self.finished_at)
        ));
        summary
    }

    fn write_axis(&self, out: &mut String) -> fmt::Result {
        out.push_str(r#"<g class="axis">"#);
        let label_y = ROWS_TOP - AXIS_HEIGHT / 2.0 + SMALL_FONT_SIZE * BASELINE_SHIFT_EM;
        for tick in self.axis.ticks() {
            let x = self.axis.x(tick);
            write!(
                out,
                r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{GRID_COLOUR}" stroke-width="1"/>"#,
                Num(ROWS_TOP - NOTE_INSET),
                Num(self.rows_bottom()),
                x = Num(x),
            )?;
            write!(
                out,
                r#"<text x="{}" y="{}" font-size="{}" text-anchor="middle" fill="{MUTED_COLOUR}">{}</text>"#,
                Num(x),
                Num(label_y),
                Num(SMALL_FONT_SIZE),
                Esc(&format_offset(tick)),
            )?;
        }
        out.push_str("</g>");
        Ok(())
    }

    fn write_row(&self, out: &mut String, index: usize, row: &GanttRow) -> fmt::Result {
        let top = ROWS_TOP + index as f64 * ROW_HEIGHT;
        let mid = top + ROW_HEIGHT / 2.0;
        let missed = missed_by(row, self.finished_at);
        let tooltip = tooltip(row, missed);

        write!(
            out,
            r#"<g class="row" data-system="{}" data-tier="{}" data-outcome="{}""#,
            Esc(&row.name),
            row.tier.as_str(),
            row.outcome.as_str(),
        )?;
        if missed.is_some() {
            out.push_str(r#" data-missed="true""#);
        }
        out.push('>');

        if index % 2 == 1 {
            write!(
                out,
                r#"<rect class="stripe" x="{}" y="{}" width="{}" height="{}" fill="{STRIPE_COLOUR}"/>"#,
                Num(MARGIN),
                Num(top),
                Num(WIDTH - 2.0 * MARGIN),
                Num(ROW_HEIGHT),
            )?;
        }

        let label = display_label(row);
        write!(
            out,
            r#"<text class="label" x="{}" y="{}" fill="{TEXT_COLOUR}"><title>{}</title>{}</text>"#,
            Num(MARGIN),
            Num(mid + FONT_SIZE * BASELINE_SHIFT_EM),
            Esc(&tooltip),
            Esc(&truncate(label, LABEL_MAX_CHARS)),
        )?;

        let rto = time(row.objective)
            .map(|objective| (objective, self.axis.x(objective.min(self.axis.span))));
        // Where the notes after the bar (or after the "blocked" note) may start.
        let mut notes_from = match bar(row, self.finished_at) {
            Some(bar) => {
                self.write_bar(out, row, bar, mid, &tooltip)?;
                let end_x = self.axis.x(bar.end);
                if missed.is_some() && bar.style == BarStyle::Solid {
                    write!(
                        out,
                        r#"<line class="missed-marker" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{ALERT_COLOUR}" stroke-width="2"/>"#,
                        Num(top + 2.0),
                        Num(top + ROW_HEIGHT - 2.0),
                        x = Num(end_x),
                    )?;
                }
                end_x.max(self.axis.x(bar.start) + MIN_BAR_WIDTH)
            }
            None => {
                let note = if row.outcome == Outcome::Blocked {
                    "blocked"
                } else {
                    "not started"
                };
                let width = text_width(note, SMALL_FONT_SIZE);
                let mut x = PLOT_LEFT + NOTE_INSET;
                // Move the note past the RTO diamond rather than print over it.
                if let Some((_, rto_x)) = rto
                    && rto_x + RTO_HALF > x
                    && rto_x - RTO_HALF < x + width
                {
                    x = rto_x + RTO_HALF + NOTE_INSET;
                }
                write!(
                    out,
                    r#"<text class="{class}" x="{}" y="{}" font-size="{}" font-style="italic" fill="{MUTED_COLOUR}"><title>{}</title>{note}</text>"#,
                    Num(x),
                    Num(mid + SMALL_FONT_SIZE * BASELINE_SHIFT_EM),
                    Num(SMALL_FONT_SIZE),
                    Esc(&tooltip),
                    class = note.replace(' ', "-"),
                )?;
                x + width
            }
        };

        if let Some((objective, x)) = rto {
            write!(
                out,
                r##"<path class="rto" d="M{x} {} L{} {y} L{x} {} L{} {y} Z" fill="{RTO_COLOUR}" stroke="#ffffff" stroke-width="1"><title>recovery-time objective: {}</title></path>"##,
                Num(mid - RTO_HALF),
                Num(x + RTO_HALF),
                Num(mid + RTO_HALF),
                Num(x - RTO_HALF),
                Esc(&format_offset(objective)),
                x = Num(x),
                y = Num(mid),
            )?;
            if missed.is_some() {
                notes_from = notes_from.max(x + RTO_HALF);
            }
        }

        let failed = row.outcome == Outcome::Failed;
        let missed_note = match missed {
            Some(by) if row.outcome == Outcome::Verified => {
                Some(format!("missed RTO by {}", format_offset(by)))
            }
            Some(_) => Some("missed RTO".to_string()),
            None => None,
        };
        if failed || missed_note.is_some() {
            let x = notes_from + NOTE_GAP;
            let y = mid + SMALL_FONT_SIZE * BASELINE_SHIFT_EM;
            write!(
                out,
                r#"<text x="{}" y="{}" font-size="{}" font-weight="bold" fill="{ALERT_COLOUR}">"#,
                Num(x),
                Num(y),
                Num(SMALL_FONT_SIZE),
            )?;
            if failed {
                out.push_str(r#"<tspan class="failed">failed</tspan>"#);
            }
            if let Some(note) = missed_note {
                let separator = if failed { " · " } else { "" };
                write!(out, r#"{separator}<tspan class="missed">{note}</tspan>"#)?;
            }
            out.push_str("</text>");
        }

        out.push_str("</g>");
        Ok(())
    }

    fn write_bar(
        &self,
        out: &mut String,
        row: &GanttRow,
        bar: Bar,
        mid: f64,
        tooltip: &str,
    ) -> fmt::Result {
        let x = self.axis.x(bar.start);
        let width = (self.axis.x(bar.end) - x).max(MIN_BAR_WIDTH);
        let y = mid - BAR_HEIGHT / 2.0;
        let colour = tier_colour(row.tier);
        let style = match bar.style {
            BarStyle::Solid => format!(r#"fill="{colour}""#),
            BarStyle::Failed => format!(
                r#"fill="{colour}" fill-opacity="{FAILED_FILL_OPACITY}" stroke="{ALERT_COLOUR}" stroke-width="1.5""#
            ),
            BarStyle::Open => format!(
                r#"fill="{colour}" fill-opacity="{OPEN_FILL_OPACITY}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3""#
            ),
        };
        write!(
            out,
            r#"<rect class="bar" x="{}" y="{}" width="{}" height="{}" {style}><title>{}</title></rect>"#,
            Num(x),
            Num(y),
            Num(width),
            Num(BAR_HEIGHT),
            Esc(tooltip),
        )?;
        if bar.style == BarStyle::Failed {
            // Over the bar but transparent to the pointer, so the bar's tooltip still shows.
            write!(
                out,
                r#"<rect class="hatch" x="{}" y="{}" width="{}" height="{}" fill="url(#{HATCH_ID})" pointer-events="none"/>"#,
                Num(x),
                Num(y),
                Num(width),
                Num(BAR_HEIGHT),
            )?;
        }
        Ok(())
    }

    /// "No systems" for an empty chart, or how many rows were left out of a huge one.
    fn write_rows_note(&self, out: &mut String) -> fmt::Result {
        let hidden = self.chart.rows.len() - self.shown;
        let (index, note) = if self.chart.rows.is_empty() {
            (0, "No systems in this run.".to_string())
        } else if hidden > 0 {
            (
                self.shown,
                format!("… and {hidden} more system{} not shown", plural(hidden)),
            )
        } else {
            return Ok(());
        };
        let mid = ROWS_TOP + (index as f64 + 0.5) * ROW_HEIGHT;
        write!(
            out,
            r#"<text class="rows-note" x="{}" y="{}" font-style="italic" fill="{MUTED_COLOUR}">{}</text>"#,
            Num(MARGIN),
            Num(mid + FONT_SIZE * BASELINE_SHIFT_EM),
            Esc(&note),
        )
    }

    fn write_legend(&self, out: &mut String) -> fmt::Result {
        let hidden_row = usize::from(self.chart.rows.len() > self.shown) as f64 * ROW_HEIGHT;
        let first_line = self.rows_bottom() + hidden_row + LEGEND_GAP + LEGEND_LINE_HEIGHT / 2.0;
        let second_line = first_line + LEGEND_LINE_HEIGHT;
        let swatch_top = |line: f64| line - SWATCH / 2.0;
        let item_x = |i: usize| MARGIN + i as f64 * LEGEND_ITEM_WIDTH;
        let text = |out: &mut String, i: usize, line: f64, label: &str| {
            write!(
                out,
                r#"<text x="{}" y="{}" font-size="{}" fill="{TEXT_COLOUR}">{}</text>"#,
                Num(item_x(i) + SWATCH + SWATCH_GAP),
                Num(line + SMALL_FONT_SIZE * BASELINE_SHIFT_EM),
                Num(SMALL_FONT_SIZE),
                Esc(label),
            )
        };

        out.push_str(r#"<g class="legend">"#);
        for (i, tier) in Tier::ALL.into_iter().enumerate() {
            write!(
                out,
                r#"<rect class="legend-tier" x="{}" y="{}" width="{s}" height="{s}" fill="{}"/>"#,
                Num(item_x(i)),
                Num(swatch_top(first_line)),
                tier_colour(tier),
                s = Num(SWATCH),
            )?;
            text(out, i, first_line, &format!("{tier} tier"))?;
        }

        let centre = item_x(0) + SWATCH / 2.0;
        write!(
            out,
            r#"<path d="M{x} {} L{} {y} L{x} {} L{} {y} Z" fill="{RTO_COLOUR}"/>"#,
            Num(second_line - RTO_HALF),
            Num(centre + RTO_HALF),
            Num(second_line + RTO_HALF),
            Num(centre - RTO_HALF),
            x = Num(centre),
            y = Num(second_line),
        )?;
        text(out, 0, second_line, "recovery-time objective (RTO)")?;

        write!(
            out,
            r##"<rect x="{x}" y="{y}" width="{s}" height="{s}" fill="{LEGEND_SWATCH_COLOUR}" stroke="{ALERT_COLOUR}" stroke-width="1.5"/><rect x="{x}" y="{y}" width="{s}" height="{s}" fill="url(#{HATCH_ID})"/>"##,
            x = Num(item_x(1)),
            y = Num(swatch_top(second_line)),
            s = Num(SWATCH),
        )?;
        text(out, 1, second_line, "failed")?;

        write!(
            out,
            r##"<rect x="{}" y="{}" width="{s}" height="{s}" fill="{LEGEND_SWATCH_COLOUR}" fill-opacity="{OPEN_FILL_OPACITY}" stroke="{MUTED_COLOUR}" stroke-width="1.5" stroke-dasharray="4 3"/>"##,
            Num(item_x(2)),
            Num(swatch_top(second_line)),
            s = Num(SWATCH),
        )?;
        text(out, 2, second_line, "not finished when the run ended")?;

        let x = item_x(3) + SWATCH / 2.0;
        write!(
            out,
            r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{ALERT_COLOUR}" stroke-width="2"/>"#,
            Num(swatch_top(second_line)),
            Num(swatch_top(second_line) + SWATCH),
            x = Num(x),
        )?;
        text(out, 3, second_line, "verified after its RTO")?;
        out.push_str("</g>");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, tier: Tier, outcome: Outcome) -> GanttRow {
        GanttRow {
            name: name.to_string(),
            label: name.to_string(),
            tier,
            start: None,
            verified: None,
            end: None,
            objective: 0.0,
            outcome,
        }
    }

    /// A run of an hour with one system of each outcome; only `pathology/lis` missed its RTO.
    fn drill() -> GanttChart {
        GanttChart {
            title: "Drill: pathology".to_string(),
            finished_at: 50.0 * MINUTE,
            rows: vec![
                GanttRow {
                    label: "Patient Identity".to_string(),
                    start: Some(0.0),
                    verified: Some(5.0 * MINUTE),
                    objective: 15.0 * MINUTE,
                    ..row("core/pas", Tier::MissionCritical, Outcome::Verified)
                },
                GanttRow {
                    label: "Laboratory Information System".to_string(),
                    start: Some(5.0 * MINUTE),
                    verified: Some(20.0 * MINUTE),
                    objective: 15.0 * MINUTE,
                    ..row("pathology/lis", Tier::Critical, Outcome::Verified)
                },
                GanttRow {
                    start: Some(10.0 * MINUTE),
                    end: Some(12.0 * MINUTE),
                    objective: HOUR,
                    ..row("beds/manager", Tier::Important, Outcome::Failed)
                },
                GanttRow {
                    objective: HOUR,
                    ..row("letters/outpatient", Tier::Deferrable, Outcome::Blocked)
                },
                GanttRow {
                    start: Some(30.0 * MINUTE),
                    objective: HOUR,
                    ..row("pharmacy/stock", Tier::Important, Outcome::NotFinished)
                },
            ],
        }
    }

    /// The text of every `<g class="row"` group; row groups contain no nested groups.
    fn row_groups(svg: &str) -> Vec<&str> {
        svg.match_indices(r#"<g class="row""#)
            .map(|(at, _)| {
                let rest = &svg[at..];
                let end = rest.find("</g>").map_or(rest.len(), |i| i + "</g>".len());
                &rest[..end]
            })
            .collect()
    }

    fn group_of<'s>(svg: &'s str, system: &str) -> &'s str {
        let attr = format!(r#"data-system="{system}""#);
        let groups: Vec<_> = row_groups(svg)
            .into_iter()
            .filter(|g| g.contains(&attr))
            .collect();
        assert_eq!(groups.len(), 1, "exactly one row for {system}");
        groups[0]
    }

    /// The numeric value of `name="..."` in the first `<rect class="bar"` of `group`.
    fn bar_attr(group: &str, name: &str) -> f64 {
        let bar = &group[group.find(r#"<rect class="bar""#).expect("a bar")..];
        let bar = &bar[..bar.find('>').expect("a closed tag")];
        let key = format!(r#" {name}=""#);
        let value = &bar[bar.find(&key).expect("the attribute") + key.len()..];
        value[..value.find('"').expect("a closed value")]
            .parse()
            .expect("a number")
    }

    /// A small well-formedness check: tags nest and close, attribute values are quoted,
    /// and every `&` starts an entity.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg "), "starts with <svg: {svg:.60}");
        assert!(svg.trim_end().ends_with("</svg>"));
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            assert_entities(text);
            let close = rest[open..].find('>').expect("tag closes") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "no < inside a tag: {tag}");
            assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance: {tag}");
            assert_entities(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "closing tag matches");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().expect("a tag name");
                stack.push(name);
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_entities(rest);
    }

    fn assert_entities(text: &str) {
        for (at, _) in text.match_indices('&') {
            let entity = &text[at..text[at..].find(';').map_or(text.len(), |i| at + i + 1)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                "bad entity {entity:?}"
            );
        }
    }

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

    #[test]
    fn draws_one_row_group_per_system_in_order() {
        let chart = drill();
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
        let systems: Vec<String> = row_groups(&svg)
            .iter()
            .map(|g| {
                let at = g.find("data-system=\"").expect("data-system") + "data-system=\"".len();
                g[at..at + g[at..].find('"').expect("closed")].to_string()
            })
            .collect();
        let expected: Vec<String> = chart.rows.iter().map(|r| r.name.clone()).collect();
        assert_eq!(systems, expected);
        assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains(r#"viewBox="0 0 "#));
        assert!(svg.contains(">Drill: pathology</text>"));
        for tier in Tier::ALL {
            assert!(
                svg.contains(&format!(">{tier} tier</text>")),
                "legend has {tier}"
            );
        }
    }

    #[test]
    fn bars_follow_the_scale() {
        let svg = drill().to_svg();
        // The latest time in the drill is the hour-long objectives: 10-minute ticks to 1h.
        let axis = Axis::covering(HOUR);
        assert_eq!(axis.span, HOUR);
        let lis = group_of(&svg, "pathology/lis");
        let x = |t: f64| PLOT_LEFT + t / axis.span * PLOT_WIDTH;
        assert!((bar_attr(lis, "x") - x(5.0 * MINUTE)).abs() < 0.06);
        let width = x(20.0 * MINUTE) - x(5.0 * MINUTE);
        assert!((bar_attr(lis, "width") - width).abs() < 0.06);
        assert!((bar_attr(lis, "height") - BAR_HEIGHT).abs() < 0.06);
        let mid = ROWS_TOP + 1.5 * ROW_HEIGHT;
        assert!((bar_attr(lis, "y") - (mid - BAR_HEIGHT / 2.0)).abs() < 0.06);
        // The not-finished bar runs to the end of the run, dashed.
        let pharmacy = group_of(&svg, "pharmacy/stock");
        let width = x(50.0 * MINUTE) - x(30.0 * MINUTE);
        assert!((bar_attr(pharmacy, "width") - width).abs() < 0.06);
        assert!(pharmacy.contains("stroke-dasharray"));
        // The failed bar is outlined in red and hatched.
        let beds = group_of(&svg, "beds/manager");
        assert!(beds.contains(&format!(r#"stroke="{ALERT_COLOUR}""#)));
        assert!(beds.contains(&format!("url(#{HATCH_ID})")));
        assert!(svg.contains(&format!(r#"<pattern id="{HATCH_ID}""#)));
        // Ticks are labelled with nice offsets.
        for label in [">0<", ">10m<", ">30m<", ">1h<"] {
            assert!(svg.contains(label), "axis label {label}");
        }
    }

    #[test]
    fn bars_carry_a_tooltip() {
        let svg = drill().to_svg();
        let lis = group_of(&svg, "pathology/lis");
        let bar = &lis[lis.find(r#"<rect class="bar""#).expect("a bar")..];
        let title = &bar
            [bar.find("<title>").expect("a title")..bar.find("</title>").expect("a closed title")];
        for part in [
            "Laboratory Information System (pathology/lis)",
            "tier: critical",
            "started: 5m",
            "verified: 20m",
            "objective (RTO): 15m",
            "missed the objective by 5m",
        ] {
            assert!(title.contains(part), "{part:?} in {title:?}");
        }
    }

    #[test]
    fn flags_only_the_row_that_missed_its_objective() {
        let chart = drill();
        let svg = chart.to_svg();
        for row in &chart.rows {
            let group = group_of(&svg, &row.name);
            let missed = row.name == "pathology/lis";
            assert_eq!(group.contains(r#"class="missed""#), missed, "{}", row.name);
            assert_eq!(
                group.contains(r#"data-missed="true""#),
                missed,
                "{}",
                row.name
            );
            assert_eq!(group.contains("missed-marker"), missed, "{}", row.name);
            assert_eq!(group.matches(r#"<path class="rto""#).count(), 1);
        }
        assert!(group_of(&svg, "pathology/lis").contains("missed RTO by 5m"));

        // A system still down when the run passes its objective missed it too.
        let mut late = chart.clone();
        late.finished_at = 2.0 * HOUR;
        let svg = late.to_svg();
        assert!(group_of(&svg, "letters/outpatient").contains(r#"class="missed""#));
        assert!(!group_of(&svg, "core/pas").contains(r#"class="missed""#));
    }

    #[test]
    fn blocked_rows_have_no_bar() {
        let svg = drill().to_svg();
        let blocked = group_of(&svg, "letters/outpatient");
        assert!(!blocked.contains(r#"class="bar""#));
        assert!(blocked.contains(">blocked</text>"));
        // With the objective at the start of the run, the note moves past the RTO diamond.
        let chart = GanttChart {
            title: "early objective".to_string(),
            finished_at: HOUR,
            rows: vec![row("ns/blocked", Tier::Critical, Outcome::Blocked)],
        };
        let early = chart.to_svg();
        let group = group_of(&early, "ns/blocked");
        let note = &group[group.find(r#"<text class="blocked""#).expect("a note")..];
        let x: f64 = note[note.find(r#" x=""#).expect("x") + 4..]
            .split('"')
            .next()
            .and_then(|x| x.parse().ok())
            .expect("a number");
        assert!(
            x >= PLOT_LEFT + RTO_HALF,
            "note at {x} overlaps the diamond"
        );
        for system in [
            "core/pas",
            "pathology/lis",
            "beds/manager",
            "pharmacy/stock",
        ] {
            assert_eq!(
                group_of(&svg, system).matches(r#"class="bar""#).count(),
                1,
                "{system}"
            );
        }
    }

    #[test]
    fn escapes_text() {
        let mut chart = drill();
        chart.title = "Ward <A> & \"B\"".to_string();
        chart.rows[0].label = "<&>\"'".to_string();
        chart.rows[0].name = "ns/<&>\"'".to_string();
        chart.rows[1].label = "bell\u{7}".to_string();
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        assert!(svg.contains("&lt;&amp;&gt;&quot;&apos;</text>"));
        assert!(svg.contains(r#"data-system="ns/&lt;&amp;&gt;&quot;&apos;""#));
        assert!(svg.contains("Ward &lt;A&gt; &amp; &quot;B&quot;"));
        assert!(!svg.contains("<&>"));
        assert!(!svg.contains('\u{7}'));
    }

    #[test]
    fn truncates_long_labels_keeping_the_full_text_in_the_tooltip() {
        let mut chart = drill();
        let long = "Electronic Prescribing and Medicines Administration — Ward Edition";
        chart.rows[0].label = long.to_string();
        let svg = chart.to_svg();
        let group = group_of(&svg, "core/pas");
        let shown = truncate(long, LABEL_MAX_CHARS);
        assert_eq!(shown.chars().count(), LABEL_MAX_CHARS);
        assert!(shown.ends_with('…'));
        assert!(group.contains(&format!("{shown}</text>")));
        assert!(group.contains(&format!("<title>{long} (core/pas)")));
    }

    #[test]
    fn empty_chart_renders() {
        let chart = GanttChart {
            title: String::new(),
            rows: Vec::new(),
            finished_at: 0.0,
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        assert!(row_groups(&svg).is_empty());
        assert!(svg.contains("No systems in this run."));
        assert!(svg.contains("<title>Recovery timeline</title>"));
    }

    #[test]
    fn nonsense_numbers_do_not_panic_or_leak_into_the_svg() {
        let values = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let mut rows = Vec::new();
        for (i, &a) in values.iter().enumerate() {
            for &b in &values {
                for outcome in [
                    Outcome::Verified,
                    Outcome::Failed,
                    Outcome::Blocked,
                    Outcome::NotFinished,
                ] {
                    rows.push(GanttRow {
                        start: Some(a),
                        verified: Some(b),
                        end: Some(b),
                        objective: a,
                        ..row(&format!("ns/row-{i}"), Tier::Critical, outcome)
                    });
                }
            }
        }
        for finished_at in values {
            let chart = GanttChart {
                title: "nonsense".to_string(),
                rows: rows.clone(),
                finished_at,
            };
            let svg = chart.to_svg();
            assert_well_formed(&svg);
            assert_eq!(row_groups(&svg).len(), rows.len());
            for bad in ["NaN", "inf"] {
                assert!(!svg.contains(bad), "{bad} in the output");
            }
        }
    }

    #[test]
    fn zero_length_restores_stay_visible() {
        let chart = GanttChart {
            title: "instant".to_string(),
            finished_at: 0.0,
            rows: vec![GanttRow {
                start: Some(0.0),
                verified: Some(0.0),
                ..row("ns/instant", Tier::Important, Outcome::Verified)
            }],
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        let group = group_of(&svg, "ns/instant");
        assert!((bar_attr(group, "width") - MIN_BAR_WIDTH).abs() < 0.06);
        assert!(!group.contains(r#"class="missed""#));
    }

    #[test]
    fn huge_charts_are_capped_with_a_note() {
        let rows: Vec<GanttRow> = (0..MAX_ROWS + 7)
            .map(|i| GanttRow {
                start: Some(i as f64),
                verified: Some(i as f64 + 60.0),
                objective: HOUR,
                ..row(&format!("ns/s{i}"), Tier::ALL[i % 4], Outcome::Verified)
            })
            .collect();
        let chart = GanttChart {
            title: "big".to_string(),
            rows,
            finished_at: HOUR,
        };
        let svg = chart.to_svg();
        assert_eq!(row_groups(&svg).len(), MAX_ROWS);
        assert!(svg.contains("… and 7 more systems not shown"));
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    }
}
