//! Reports: renderings of a recovery run for people, such as the SVG Gantt chart that
//! `lifeline simulate --gantt` writes and the drill report embeds.

pub mod gantt;
