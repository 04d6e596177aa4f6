//! Writing the chart as SVG.

use std::fmt::{self, Write as _};

use super::layout::*;
use super::{GanttChart, GanttRow, Outcome};
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
            .flat_map(|row| [row.start, row.verified, row.end, row.released])
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
        out.push_str("</g>");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::gantt::fixture::{
        assert_well_formed, bar_attr, drill, group_of, row, row_groups,
    };

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
    fn an_objective_beyond_the_axis_is_a_labelled_marker_at_the_edge_not_a_diamond() {
        // A two-minute drill against objectives of 30 minutes and 24 hours: the axis ends
        // near the run, so neither objective has a place on it.
        let chart = GanttChart {
            title: "short drill".to_string(),
            finished_at: 2.0 * MINUTE,
            rows: vec![
                GanttRow {
                    start: Some(0.0),
                    verified: Some(2.0 * MINUTE),
                    objective: 30.0 * MINUTE,
                    ..row("ns/pas", Tier::MissionCritical, Outcome::Verified)
                },
                GanttRow {
                    start: Some(0.0),
                    end: Some(MINUTE),
                    objective: 24.0 * HOUR,
                    ..row("ns/coding", Tier::Deferrable, Outcome::Failed)
                },
                GanttRow {
                    start: Some(0.0),
                    verified: Some(MINUTE),
                    objective: 2.5 * MINUTE,
                    ..row("ns/lab", Tier::Critical, Outcome::Verified)
                },
            ],
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        let pas = group_of(&svg, "ns/pas");
        assert!(!pas.contains(r#"class="rto""#), "{pas}");
        assert!(pas.contains(">objective 30m →</text>"), "{pas}");
        let coding = group_of(&svg, "ns/coding");
        assert!(coding.contains(">objective 24h →</text>"), "{coding}");
        assert!(coding.contains(r#"class="failed""#), "{coding}");
        // An objective on the axis keeps its diamond where it belongs.
        let lab = group_of(&svg, "ns/lab");
        assert!(lab.contains(r#"<path class="rto""#) && !lab.contains("rto-beyond"));
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
