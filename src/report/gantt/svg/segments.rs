//! A row drawn in parts ([`super::super::Segment`]): each restore, verification, soak, wait
//! for people and regression its own rectangle, and the legend line that names them.

use std::fmt::{self, Write as _};

use super::super::layout::*;
use super::super::{GanttChart, GanttRow, SegmentKind};
use super::{Num, Renderer};
use crate::report::fmt::Esc;

/// Whether any row of `chart` is drawn in parts, so the legend names them.
pub(super) fn any(chart: &GanttChart) -> bool {
    chart
        .rows
        .iter()
        .take(MAX_ROWS)
        .any(|r| !r.segments.is_empty())
}

/// The fill of a part of `kind` in a row of `colour` (its tier's), as presentation
/// attributes.
fn fill(kind: SegmentKind, colour: &str) -> String {
    match kind {
        SegmentKind::Restore => format!(r#"fill="{colour}""#),
        SegmentKind::Verification => {
            format!(r#"fill="{colour}" fill-opacity="{VERIFY_FILL_OPACITY}""#)
        }
        SegmentKind::Soak => format!(r#"fill="{SOAK_COLOUR}""#),
        SegmentKind::Waiting => format!(r#"fill="{colour}" fill-opacity="{WAIT_FILL_OPACITY}""#),
        SegmentKind::Regression => format!(r#"fill="{ALERT_COLOUR}""#),
    }
}

/// The outline of a part of `kind` in a row of `colour`, if it has one: its colour and
/// width.
fn outline(kind: SegmentKind, colour: &str) -> Option<(&str, f64)> {
    match kind {
        SegmentKind::Verification => Some((colour, 1.5)),
        SegmentKind::Soak => Some((SOAK_STROKE, 1.0)),
        SegmentKind::Restore | SegmentKind::Waiting | SegmentKind::Regression => None,
    }
}

/// The presentation attributes of a part: its fill and outline; red for one that ended
/// in a failure, dashed for one still under way.
fn style(kind: SegmentKind, colour: &str, open: bool, failed: bool) -> String {
    let mut out = fill(kind, colour);
    let line = if failed {
        Some((ALERT_COLOUR, 1.5))
    } else if open {
        outline(kind, colour).or(Some((colour, 1.5)))
    } else {
        outline(kind, colour)
    };
    if let Some((stroke, width)) = line {
        out.push_str(&format!(
            r#" stroke="{stroke}" stroke-width="{}""#,
            Num(width)
        ));
    }
    if open {
        out.push_str(r#" stroke-dasharray="4 3""#);
    }
    out
}

impl Renderer<'_> {
    /// The parts of `row`, centred on `mid`; returns the x where the last of them ends.
    pub(super) fn write_segments(&self, out: &mut String, row: &GanttRow, mid: f64) -> f64 {
        let colour = tier_colour(row.tier);
        let mut right = f64::MIN;
        for bar in segment_bars(row, self.finished_at) {
            let x = self.axis.x(bar.start);
            let width = (self.axis.x(bar.end) - x).max(MIN_BAR_WIDTH);
            let height = BAR_HEIGHT * segment_height(bar.kind);
            let y = mid - height / 2.0;
            right = right.max(x + width);
            let _ = write!(
                out,
                r#"<rect class="segment" data-segment="{}" data-start="{}" data-end="{}"{}{} x="{}" y="{}" width="{}" height="{}" {}><title>{}</title></rect>"#,
                bar.kind.as_str(),
                Num(bar.start),
                Num(bar.end),
                if bar.open { r#" data-open="true""# } else { "" },
                if bar.failed {
                    r#" data-failed="true""#
                } else {
                    ""
                },
                Num(x),
                Num(y),
                Num(width),
                Num(height),
                style(bar.kind, colour, bar.open, bar.failed),
                Esc(&segment_tooltip(row, &bar)),
            );
            if bar.failed {
                // Over the part but transparent to the pointer, so its tooltip still shows.
                let _ = write!(
                    out,
                    r#"<rect class="hatch" x="{}" y="{}" width="{}" height="{}" fill="url(#{HATCH_ID})" pointer-events="none"/>"#,
                    Num(x),
                    Num(y),
                    Num(width),
                    Num(height),
                );
            }
        }
        right
    }

    /// The legend line of the parts, at `line` (its centre).
    pub(super) fn write_segment_legend(&self, out: &mut String, line: f64) -> fmt::Result {
        // The parts are shown in a neutral colour: the tier line above gives the rest.
        let colour = SEGMENT_SWATCH_COLOUR;
        for (i, kind) in SegmentKind::ALL.into_iter().enumerate() {
            let x = MARGIN + i as f64 * LEGEND_ITEM_WIDTH;
            let height = SWATCH * segment_height(kind);
            write!(
                out,
                r#"<rect class="legend-segment" data-segment="{}" x="{}" y="{}" width="{s}" height="{}" {}/>"#,
                kind.as_str(),
                Num(x),
                Num(line - height / 2.0),
                Num(height),
                style(kind, colour, false, false),
                s = Num(SWATCH),
            )?;
            write!(
                out,
                r#"<text x="{}" y="{}" font-size="{}" fill="{TEXT_COLOUR}">{}</text>"#,
                Num(x + SWATCH + SWATCH_GAP),
                Num(line + SMALL_FONT_SIZE * BASELINE_SHIFT_EM),
                Num(SMALL_FONT_SIZE),
                Esc(kind.words()),
            )?;
        }
        Ok(())
    }
}
