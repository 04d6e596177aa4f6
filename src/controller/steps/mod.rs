//! What a plan does to the cluster for one system: its restore steps ([`restore`]), its
//! checks ([`verify`]), and the Deployments and StatefulSets they act on ([`workload`]).

pub mod reach;
pub mod restore;
pub mod verify;
pub mod workload;
