//! RecoveryProgress: one shard of a RecoveryPlan's per-system progress. A plan's status
//! holds what concerns the plan as a whole (phase, approvals, people's interventions,
//! conditions, the record's head); what each system has been through (its phase, steps,
//! checks, releases, regressions) lives in these objects, so that no object lifeline
//! writes grows with the estate: a system belongs to shard `fnv1a(key) % shards`, and
//! the operator doubles the shards before any holds more than a bounded number of
//! systems or bytes. Written by the operator only (an admission policy refuses
//! everyone else's create and update), owned by the plan and deleted with it; the plan's
//! status names every shard with the version last written, so a shard that disappears
//! is found, and the plan waits for a person rather than restore its systems again.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::SystemStatus;

/// One shard of a plan's per-system progress.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "RecoveryProgress",
    plural = "recoveryprogresses",
    shortname = "lprogress",
    category = "lifeline",
    namespaced,
    doc = "One shard of a RecoveryPlan's per-system progress. Written by the operator only; owned by the plan.",
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.plan"}"#,
    printcolumn = r#"{"name":"Shard","type":"integer","jsonPath":".spec.shard"}"#,
    printcolumn = r#"{"name":"Of","type":"integer","jsonPath":".spec.shards"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryProgressSpec {
    /// The RecoveryPlan, in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub plan: String,
    /// Its uid.
    #[schemars(length(min = 1, max = 64))]
    pub plan_uid: String,
    /// How many shards the plan's progress is split into.
    #[schemars(range(min = 1))]
    pub shards: u32,
    /// This shard's number, from 0.
    pub shard: u32,
    /// The systems of this shard, in the plan's order: what each has been through. The
    /// list is written whole, so it is atomic (no per-entry field ownership).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub systems: Vec<SystemStatus>,
    /// Each system's place in the plan's restore order, in the order of `systems`: the
    /// shards together give the plan's order back.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub positions: Vec<u32>,
}
