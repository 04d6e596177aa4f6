//! `lifeline evidence export` and `verify`: a recovery's hash-chained record as one JSON
//! bundle (the entries, and a manifest with the chain's head and counts), and the check
//! that recomputes the chain and names the first entry altered, missing, reordered or
//! added. The record is read from the RecoveryRecords, so it works after the plan is gone.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context as _, bail};
use k8s_openapi::jiff::Timestamp;
use kube::{Api, Client, ResourceExt, api::ListParams};
use serde::{Deserialize, Serialize};

use crate::api::v1alpha1::{RECORD_PLAN_LABEL, RecordEntry, RecoveryPlan, RecoveryRecord};

/// The bundle's format, written in its manifest.
pub const FORMAT: &str = "lifeline-evidence/v1";

/// What a bundle says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The plan ("namespace/name").
    pub plan: String,
    /// Its uid.
    pub plan_uid: String,
    /// How many entries the chain holds.
    pub entries: u64,
    /// In how many chunks it was stored.
    pub chunks: u32,
    /// SHA-256 of the last entry.
    pub head: String,
    /// Where the head comes from: the plan's status (an independent check on the
    /// record), or the record itself once the plan is gone.
    pub head_from: String,
    /// When the bundle was written.
    pub exported_at: String,
}

/// A recovery's record, as `lifeline evidence export` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// What it holds.
    pub manifest: Manifest,
    /// The entries, in the order they were stored.
    pub entries: Vec<RecordEntry>,
}

/// Reads the record of plan `plan` in `namespace` (of uid `uid`, else the plan that
/// exists, else the latest recorded).
pub async fn export(
    client: Client,
    namespace: &str,
    plan: &str,
    uid: Option<&str>,
) -> anyhow::Result<Bundle> {
    let records: Api<RecoveryRecord> = Api::namespaced(client.clone(), namespace);
    let chunks = records
        .list(&ListParams::default().labels(&format!("{RECORD_PLAN_LABEL}={plan}")))
        .await
        .with_context(|| format!("list the recoveryrecords of {namespace}/{plan}"))?
        .items;
    let live = Api::<RecoveryPlan>::namespaced(client, namespace)
        .get_opt(plan)
        .await
        .with_context(|| format!("read recoveryplan {namespace}/{plan}"))?;
    let mut by_uid: BTreeMap<String, Vec<RecoveryRecord>> = BTreeMap::new();
    for c in chunks {
        by_uid.entry(c.spec.plan_uid.clone()).or_default().push(c);
    }
    let chosen = match uid {
        Some(u) => u.to_string(),
        None => match live.as_ref().and_then(|p| p.uid()) {
            Some(u) if by_uid.contains_key(&u) => u,
            _ => by_uid
                .iter()
                .max_by_key(|(_, cs)| {
                    cs.iter()
                        .flat_map(|c| c.spec.entries.first())
                        .map(|e| e.at.0)
                        .min()
                })
                .map(|(u, _)| u.clone())
                .with_context(|| {
                    format!("no record of recoveryplan {namespace}/{plan}: no RecoveryRecord is labelled {RECORD_PLAN_LABEL}={plan}")
                })?,
        },
    };
    let Some(mut chunks) = by_uid.remove(&chosen) else {
        bail!("no record of recoveryplan {namespace}/{plan} with uid {chosen}");
    };
    chunks.sort_by_key(|c| c.spec.chunk);
    let entries: Vec<RecordEntry> = chunks.iter().flat_map(|c| c.spec.entries.clone()).collect();
    let from_status = live
        .filter(|p| p.uid().as_deref() == Some(chosen.as_str()))
        .and_then(|p| p.status.and_then(|s| s.record));
    let (head, count, head_from) = match from_status {
        Some(r) => (r.head, r.entries, "the plan's status".to_string()),
        None => (
            entries.last().map(|e| e.hash.clone()).unwrap_or_default(),
            entries.len() as u64,
            "the record itself: the plan is gone".to_string(),
        ),
    };
    Ok(Bundle {
        manifest: Manifest {
            format: FORMAT.into(),
            plan: format!("{namespace}/{plan}"),
            plan_uid: chosen,
            entries: count,
            chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            head,
            head_from,
            exported_at: Timestamp::now().to_string(),
        },
        entries,
    })
}

/// Writes `bundle` to `path` as pretty JSON.
pub fn write(bundle: &Bundle, path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(bundle).context("serialize the bundle")?;
    std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))
}

/// Reads a bundle from `path`.
pub fn read(path: &Path) -> anyhow::Result<Bundle> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let bundle: Bundle = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a lifeline evidence bundle", path.display()))?;
    if bundle.manifest.format != FORMAT {
        bail!(
            "{}: manifest.format is {:?}, not {FORMAT}",
            path.display(),
            bundle.manifest.format
        );
    }
    Ok(bundle)
}

/// Recomputes the chain against the manifest's head.
pub fn verify(bundle: &Bundle) -> anyhow::Result<()> {
    crate::engine::record::verify(
        &bundle.entries,
        Some((&bundle.manifest.head, bundle.manifest.entries)),
    )?;
    Ok(())
}
