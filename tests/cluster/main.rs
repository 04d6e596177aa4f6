//! The tests that talk to the local control plane, in one test binary
//! (`cargo test --test cluster`), one module per area; [`support`] is what they share
//! (the cluster, a namespace per test, clients, waiting, builders, the operator as a
//! process). The cluster is the one `LIFELINE_TEST_KUBECONFIG` names, or else one started
//! for this process on first use.
//!
//! All of these tests run as threads of this one process, those of different modules at
//! the same time too: what they share on the cluster (the CRDs, `lifeline-system` and
//! its RBAC) is applied idempotently, and the operator's Deployment there is held under
//! [`support::LIFELINE_SYSTEM_DEPLOYMENT`].

mod support;

mod admission;
mod blip;
mod chart;
mod cluster_script;
mod controlplane;
mod crash;
mod crd_validation;
mod ctl;
mod drill;
mod handover;
mod malformed;
mod operator;
mod playbooks;
mod progress;
mod rbac;
mod record;
mod release;

// Reading the status table, shared with the `pure` binary.
#[path = "../shared/table.rs"]
mod table;
