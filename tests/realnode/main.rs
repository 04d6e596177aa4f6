//! The tests on a real node (`cargo test --test realnode`): lifeline installed from
//! `manifests/` and running in pods, restores of real containers, checks that reach real
//! servers by their Service names, release gates and drill faults that stop real packets.
//! The cluster is the one `LIFELINE_REALNODE_KUBECONFIG` names (scripts/test starts it
//! with `scripts/cluster up --real-node`), or one started for this process. The tests run
//! one at a time: they share the operator, and one of them deletes its leader.

mod support;

mod drill;
mod gates;
mod operator;
mod quickstart;
