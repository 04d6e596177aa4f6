//! Reports: renderings of a recovery run for people, such as the SVG Gantt chart that
//! `lifeline simulate --gantt` writes and the drill report (`lifeline report`) that embeds it.

pub mod drill;
mod fmt;
pub mod gantt;
