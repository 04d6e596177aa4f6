//! An SVG Gantt chart of a recovery run: one row per clinical system, a bar from the moment
//! its restore started to the moment it was verified (or failed), coloured by tier, with the
//! system's recovery-time objective (RTO) marked and missed objectives flagged in red. A row
//! may instead be drawn in parts ([`GanttRow::segments`]): each restore, each verification,
//! each soak at a stage, each wait for people and each regression, told apart by shape as
//! well as colour, with a legend line of their own.
//!
//! The renderer is pure (no I/O, nothing beyond `std`) and never panics. Times that are NaN
//! or infinite are ignored, negative times are clamped to the start of the run and times
//! beyond a year are clamped to a year. The output is a standalone SVG 1.1 document that also
//! works inline in an HTML page: it styles with presentation attributes rather than a
//! `<style>` sheet, so embedding it cannot restyle the page around it.
//!
//! Layout, left to right: a margin, the label column, the plot, a gutter for the "failed" and
//! "missed RTO" notes, a margin. Top to bottom: the title and summary line, the time-axis
//! labels, the rows, the legend. The constants in `layout.rs` name every dimension.
//!
//! Where things are: the types a caller fills in are here; `layout.rs` has the chart's
//! dimensions, colours and time scale and decides what each row shows; `svg/` writes it.
//! Durations are formatted and text escaped by `src/report/fmt.rs`, shared with the drill
//! report.

mod layout;
mod svg;

#[cfg(test)]
mod fixture;

pub use super::fmt::format_offset;
use crate::api::v1alpha1::Tier;
use svg::Renderer;

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
    /// Seconds from the start of the run when the system was released at the last stage,
    /// if that was after it was verified: the time it waited for people's decisions, drawn
    /// as a thin bar after the restore's.
    pub released: Option<f64>,
    /// The recovery-time objective, in seconds from the start of the run (the RTO mark).
    pub objective: f64,
    /// How the system's restore ended.
    pub outcome: Outcome,
    /// What its time went on, part by part, in seconds from the start of the run. Empty: one
    /// bar from `start` to `verified` (and `released`'s thin bar after it); otherwise these
    /// parts are drawn instead, and `released` is not.
    pub segments: Vec<Segment>,
}

/// What one part of a row's time went on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// Restore steps running: from the restore's start to its last step done.
    Restore,
    /// Checks running until every one passed (verified).
    Verification,
    /// Released at a stage with its checks passing, until its soak there was done, a
    /// failing check held it, or it left the stage.
    Soak,
    /// Verified (or soaked) and waiting for people's decisions before a release.
    Waiting,
    /// A check failing again after the system was verified.
    Regression,
}

impl SegmentKind {
    /// Every kind, in the order the legend shows them.
    pub const ALL: [SegmentKind; 5] = [
        SegmentKind::Restore,
        SegmentKind::Verification,
        SegmentKind::Soak,
        SegmentKind::Waiting,
        SegmentKind::Regression,
    ];

    /// The kind as written in a part's `data-segment` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Restore => "restore",
            SegmentKind::Verification => "verification",
            SegmentKind::Soak => "soak",
            SegmentKind::Waiting => "waiting",
            SegmentKind::Regression => "regression",
        }
    }

    /// The kind in words, for the legend and tooltips.
    pub fn words(self) -> &'static str {
        match self {
            SegmentKind::Restore => "restore",
            SegmentKind::Verification => "verification (checks)",
            SegmentKind::Soak => "soak at a stage",
            SegmentKind::Waiting => "waiting for people",
            SegmentKind::Regression => "regression",
        }
    }
}

/// One part of a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// What the time went on.
    pub kind: SegmentKind,
    /// Seconds from the start of the run when it began.
    pub start: f64,
    /// Seconds from the start of the run when it ended; `None`: still under way when the
    /// run ended (drawn to the run's end, dashed).
    pub end: Option<f64>,
    /// Whether it ended in a failure (a restore step or a check failed): outlined in red
    /// and hatched, as a failed bar is.
    pub failed: bool,
    /// What else a person hovering over it wants to know ("stage ward", "check login").
    pub note: Option<String>,
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
