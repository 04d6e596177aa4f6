//! The lifeline API: group `lifeline.dev`. One module per version.

pub mod v1alpha1;

/// The API group of every lifeline resource.
pub const GROUP: &str = "lifeline.dev";
