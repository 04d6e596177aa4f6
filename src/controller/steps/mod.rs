//! What a plan does to the cluster for one system: its restore steps ([`restore`]) and the
//! restore point they report ([`restore_point`]), its
//! checks ([`verify`]), and the Deployments and StatefulSets they act on ([`workload`]).

pub mod reach;
pub mod restore;
pub mod restore_point;
pub mod verify;
pub mod workload;
