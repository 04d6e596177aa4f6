//! Reports: renderings of a recovery run for people, such as the SVG Gantt chart that
//! `lifeline simulate --gantt` writes and the drill report (`lifeline report`) that embeds it.
//!
//! Where each thing is:
//!
//! - [`drill`]: the drill report, from a RecoveryDrill object. Its public API is all in
//!   `drill/mod.rs`; behind it, one file per concern: `figures.rs` (each system's measured
//!   recovery and the headline), `actions.rs` (what needs fixing), `chart.rs` (the run as a
//!   Gantt chart), `model/` (the report decided once: facts and sections), `words.rs` (the
//!   words for outcomes, triggers, faults and selectors), `run.rs` (reading the object),
//!   and the two renderings, `markdown.rs` and `html.rs` (with its `style.css`).
//! - [`gantt`]: the SVG Gantt chart: its types in `gantt/mod.rs`, its dimensions, colours,
//!   scale and per-row decisions in `layout.rs`, the writing in `svg/`.
//! - [`recovery`]: the report of a real recovery, from its hash-chained record: `record.rs`
//!   folds the entries, `model.rs` decides the report, `render.rs` writes Markdown and HTML.
//! - [`notice`]: a system's release notice as text, Markdown or a printable page.
//! - `fmt.rs`: the one place for how the reports format durations (in words, as a
//!   stopwatch, as the chart's `1h30m`), UTC moments and plurals, and escape text for
//!   HTML/SVG and for Markdown.

pub mod drill;
mod fmt;
pub mod gantt;
pub mod notice;
pub mod recovery;
