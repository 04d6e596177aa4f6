//! Each kind of fault carried out against the cluster, one file each. What to do and when
//! is the drill engine's decision ([`crate::engine::drill::faults`]); these only act and
//! observe.

pub mod delete_pods;
pub mod fail_check;
pub mod isolate;
pub mod scale_to_zero;
