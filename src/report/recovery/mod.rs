//! The report of a real recovery (`lifeline report PLAN`): made from its hash-chained
//! record alone (the RecoveryRecords, or an evidence bundle), so it works after the plan
//! and its Approvals are deleted. In the drill report's style: a headline, the run as a
//! Gantt chart, each system's recovery time against its objective and data-loss window
//! against its objective, what was checked, every approval per system per stage with its
//! comment, every intervention with its person, regressions, hand-back progress, what
//! needs fixing and the timeline; in Markdown ([`markdown`]) and as one self-contained
//! HTML page ([`html`]).
//!
//! Every figure is worked out from the record's own timestamps ([`record::Recovery`]): a
//! system's recovery time runs from what the run was measured from (the incident's start,
//! else the run's) to the entry that records it verified.
//!
//! - `record.rs`: the entries folded into what the report shows.
//! - `model.rs`: the report decided once (headline, facts, chart, sections, action items).
//! - `render.rs`: the two renderings of it.

mod model;
pub mod record;
mod render;

pub use record::Recovery;
pub use render::{html, markdown, markdown_linking};

/// The run as a Gantt chart (SVG), or `None` before anything was restored.
pub fn gantt_svg(r: &Recovery) -> Option<String> {
    model::chart(r).map(|c| c.to_svg())
}

#[cfg(test)]
mod tests;
