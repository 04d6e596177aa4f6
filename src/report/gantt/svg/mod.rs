//! Writing the chart as SVG.

use std::fmt::{self, Write as _};

use super::layout::*;
use super::{GanttChart, GanttRow, Outcome};

mod segments;
use crate::api::v1alpha1::Tier;
use crate::report::fmt::{Esc, format_offset, plural, their};

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
pub(super) struct Renderer<'a> {
    chart: &'a GanttChart,
    /// When the run ended, passed through [`time`] (0 when unknown).
    finished_at: f64,
    axis: Axis,
    /// Rows drawn; the rest are counted in a note.
    pub(super) shown: usize,
    /// Total height of the chart.
    height: f64,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(chart: &'a GanttChart) -> Self {
        let finished_at = time(chart.finished_at).unwrap_or(0.0);
        let events = chart
            .rows
            .iter()
            .flat_map(|row| {
                [row.start, row.verified, row.end, row.released]
                    .into_iter()
                    .chain(row.segments.iter().flat_map(|s| [Some(s.start), s.end]))
            })
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
            + legend_lines(chart) as f64 * LEGEND_LINE_HEIGHT
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

    pub(super) fn write(&self, out: &mut String) -> fmt::Result {
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
                r#"<line class="tick" data-seconds="{}" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{GRID_COLOUR}" stroke-width="1"/>"#,
                Num(tick),
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
        if let Some(objective) = time(row.objective) {
            write!(out, r#" data-objective="{}""#, Num(objective))?;
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

        // An objective beyond the axis has no place on it: it is drawn as a labelled
        // marker at the edge ("objective 5h →"), never as a diamond at a wrong time.
        let (rto, beyond) = match time(row.objective) {
            Some(objective) if objective > self.axis.span + 1e-9 => (None, Some(objective)),
            Some(objective) => (Some((objective, self.axis.x(objective))), None),
            None => (None, None),
        };
        // Where the notes after the bar (or after the "blocked" note) may start.
        let mut notes_from = match bar(row, self.finished_at) {
            Some(bar) => {
                // A row in parts draws them instead of its one bar; the bar still says
                // where its restore ended for the marker and the notes.
                let parts_end = if row.segments.is_empty() {
                    self.write_bar(out, row, bar, mid, &tooltip)?;
                    f64::MIN
                } else {
                    self.write_segments(out, row, mid)
                };
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
                end_x
                    .max(self.axis.x(bar.start) + MIN_BAR_WIDTH)
                    .max(parts_end)
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

        let mut beyond_span = None;
        if let Some(objective) = beyond {
            let edge = self.axis.x(self.axis.span);
            let label = format!("objective {} →", format_offset(objective));
            let x = edge + NOTE_INSET;
            write!(
                out,
                r#"<text class="rto-beyond" x="{}" y="{}" font-size="{}" fill="{MUTED_COLOUR}"><title>recovery-time objective: {}, beyond the end of this chart</title>{}</text>"#,
                Num(x),
                Num(mid + SMALL_FONT_SIZE * BASELINE_SHIFT_EM),
                Num(SMALL_FONT_SIZE),
                Esc(&format_offset(objective)),
                Esc(&label),
            )?;
            beyond_span = Some((x, x + text_width(&label, SMALL_FONT_SIZE)));
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
            let mut x = notes_from + NOTE_GAP;
            // The notes go after the bar, or after the objective's marker when they would
            // run into it.
            let words = [failed.then_some("failed · "), missed_note.as_deref()]
                .into_iter()
                .flatten()
                .collect::<String>();
            if let Some((from, to)) = beyond_span
                && x < to
                && x + text_width(&words, SMALL_FONT_SIZE) > from
            {
                x = to + NOTE_GAP;
            }
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
        if let (BarStyle::Solid, Some(released)) = (bar.style, opt_time(row.released))
            && released > bar.end
        {
            let from = self.axis.x(bar.end);
            let wait = released - bar.end;
            write!(
                out,
                r#"<rect class="waiting" x="{}" y="{}" width="{}" height="{}" fill="{colour}" fill-opacity="{OPEN_FILL_OPACITY}"><title>waited {} for decisions before its last release</title></rect>"#,
                Num(from),
                Num(mid - BAR_HEIGHT / 6.0),
                Num((self.axis.x(released) - from).max(MIN_BAR_WIDTH)),
                Num(BAR_HEIGHT / 3.0),
                Esc(&crate::report::fmt::format_offset(wait)),
            )?;
        }
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
        if segments::any(self.chart) {
            self.write_segment_legend(out, second_line + LEGEND_LINE_HEIGHT)?;
        }
        out.push_str("</g>");
        Ok(())
    }
}

/// How many lines the legend of `chart` has: the tiers, the marks, and the parts when a row
/// is drawn in parts.
fn legend_lines(chart: &GanttChart) -> usize {
    2 + usize::from(segments::any(chart))
}

#[cfg(test)]
mod tests;
