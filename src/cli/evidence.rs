//! `lifeline evidence export` and `verify`: a recovery's hash-chained record as one JSON
//! bundle (the entries, its report, and a manifest with the chain's head, counts and the
//! report's hash), and the check
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
    /// For a drill run's record: the run's number (`plan` then names the drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_run: Option<u32>,
    /// When the bundle was written.
    pub exported_at: String,
    /// SHA-256 (hex) of the bundle's `report`, so a signature over the manifest covers
    /// the report too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_sha256: Option<String>,
}

/// A recovery's record, as `lifeline evidence export` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// What it holds.
    pub manifest: Manifest,
    /// The entries, in the order they were stored.
    pub entries: Vec<RecordEntry>,
    /// The recovery's report (Markdown), made from the entries at export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// An Ed25519 signature of the manifest (which names the chain's head), when the
    /// bundle was exported with `--sign-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A bundle's signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// Always "ed25519".
    pub algorithm: String,
    /// The public key that verifies it, hex.
    pub public_key: String,
    /// The signature of the manifest's canonical JSON, hex.
    pub value: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> anyhow::Result<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        bail!("not hex: an odd number of digits");
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).context("not hex"))
        .collect()
}

/// The bytes a signature covers: the manifest's canonical JSON (keys sorted).
fn signed_bytes(manifest: &Manifest) -> anyhow::Result<Vec<u8>> {
    let value = serde_json::to_value(manifest).context("serialize the manifest")?;
    Ok(serde_json::to_vec(&value)?)
}

/// Makes an Ed25519 key pair: the private key as PKCS#8 (for `--sign-key`), and the
/// public key, hex (for `--public-key`).
pub fn keygen() -> anyhow::Result<(Vec<u8>, String)> {
    use ring::signature::KeyPair as _;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generate an Ed25519 key"))?;
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("read back the Ed25519 key"))?;
    Ok((pkcs8.as_ref().to_vec(), hex(pair.public_key().as_ref())))
}

/// Signs `bundle`'s manifest with the PKCS#8 Ed25519 key in `key`.
pub fn sign(bundle: &mut Bundle, key: &[u8]) -> anyhow::Result<()> {
    use ring::signature::KeyPair as _;
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(key).map_err(|_| {
        anyhow::anyhow!(
            "the signing key is not a PKCS#8 Ed25519 key (make one with lifeline evidence keygen)"
        )
    })?;
    let sig = pair.sign(&signed_bytes(&bundle.manifest)?);
    bundle.signature = Some(Signature {
        algorithm: "ed25519".into(),
        public_key: hex(pair.public_key().as_ref()),
        value: hex(sig.as_ref()),
    });
    Ok(())
}

/// Checks `bundle`'s signature with `public_key` (hex).
pub fn check_signature(bundle: &Bundle, public_key: &str) -> anyhow::Result<()> {
    let Some(sig) = &bundle.signature else {
        bail!("the bundle is not signed (export it with --sign-key)");
    };
    if sig.algorithm != "ed25519" {
        bail!("signature.algorithm is {:?}, not ed25519", sig.algorithm);
    }
    let key = unhex(public_key).context("--public-key")?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(&signed_bytes(&bundle.manifest)?, &unhex(&sig.value).context("signature.value")?)
        .map_err(|_| anyhow::anyhow!("the signature does not match: the manifest was changed, or it was signed with another key than the one given"))
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
    let Some(chunks) = by_uid.remove(&chosen) else {
        bail!("no record of recoveryplan {namespace}/{plan} with uid {chosen}");
    };
    let from_status = live
        .filter(|p| p.uid().as_deref() == Some(chosen.as_str()))
        .and_then(|p| p.status.and_then(|s| s.record))
        .map(|r| (r, "the plan's status"));
    Ok(bundle_of(
        format!("{namespace}/{plan}"),
        chosen,
        None,
        chunks,
        from_status,
        "the record itself: the plan is gone",
    ))
}

/// A bundle of `chunks` (the record of `of`, uid `uid`, in any order), its head from a
/// status (`from_status`, and which), else from the record itself (`gone` says why).
fn bundle_of(
    of: String,
    uid: String,
    drill_run: Option<u32>,
    mut chunks: Vec<RecoveryRecord>,
    from_status: Option<(crate::api::v1alpha1::RecordHead, &str)>,
    gone: &str,
) -> Bundle {
    chunks.sort_by_key(|c| c.spec.chunk);
    let entries: Vec<RecordEntry> = chunks.iter().flat_map(|c| c.spec.entries.clone()).collect();
    let (head, count, head_from) = match from_status {
        Some((r, from)) => (r.head, r.entries, from.to_string()),
        None => (
            entries.last().map(|e| e.hash.clone()).unwrap_or_default(),
            entries.len() as u64,
            gone.to_string(),
        ),
    };
    Bundle {
        manifest: Manifest {
            format: FORMAT.into(),
            plan: of,
            plan_uid: uid,
            entries: count,
            chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            head,
            head_from,
            drill_run,
            exported_at: Timestamp::now().to_string(),
            report_sha256: None,
        },
        entries,
        report: None,
        signature: None,
    }
}

/// Reads the record of run `run` of drill `drill` in `namespace` (default: its latest
/// recorded run).
pub async fn export_drill(
    client: Client,
    namespace: &str,
    drill: &str,
    run: Option<u32>,
) -> anyhow::Result<Bundle> {
    use crate::api::v1alpha1::{RECORD_DRILL_LABEL, RecoveryDrill};
    let records: Api<RecoveryRecord> = Api::namespaced(client.clone(), namespace);
    let chunks = records
        .list(&ListParams::default().labels(&format!("{RECORD_DRILL_LABEL}={drill}")))
        .await
        .with_context(|| format!("list the recoveryrecords of drill {namespace}/{drill}"))?
        .items;
    let runs: std::collections::BTreeSet<u32> = chunks.iter().filter_map(|c| c.spec.run).collect();
    let Some(chosen) = run.or_else(|| runs.last().copied()) else {
        bail!(
            "no record of recoverydrill {namespace}/{drill}: no RecoveryRecord is labelled {RECORD_DRILL_LABEL}={drill}"
        );
    };
    let mine: Vec<RecoveryRecord> = chunks
        .into_iter()
        .filter(|c| c.spec.run == Some(chosen))
        .collect();
    if mine.is_empty() {
        bail!(
            "no record of run {chosen} of recoverydrill {namespace}/{drill} (recorded runs: {})",
            runs.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let uid = mine[0].spec.plan_uid.clone();
    let live = Api::<RecoveryDrill>::namespaced(client, namespace)
        .get_opt(drill)
        .await
        .with_context(|| format!("read recoverydrill {namespace}/{drill}"))?;
    let from_status = live
        .filter(|d| d.uid().as_deref() == Some(uid.as_str()))
        .and_then(|d| d.status.and_then(|s| s.run))
        .filter(|r| r.number == chosen)
        .and_then(|r| r.record)
        .map(|r| (r, "the drill's status"));
    Ok(bundle_of(
        format!("{namespace}/{drill}"),
        uid,
        Some(chosen),
        mine,
        from_status,
        "the record itself: the drill's status no longer holds this run",
    ))
}

/// Puts the recovery's report (Markdown, made from the bundle's entries) in `bundle`,
/// and its SHA-256 in the manifest.
pub fn add_report(bundle: &mut Bundle) {
    let r = crate::report::recovery::Recovery::from_entries(
        &bundle.manifest.plan,
        &bundle.manifest.plan_uid,
        &bundle.entries,
        Some((&bundle.manifest.head, bundle.manifest.entries)),
    );
    let text = crate::report::recovery::markdown(&r);
    bundle.manifest.report_sha256 = Some(sha256(&text));
    bundle.report = Some(text);
}

fn sha256(text: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
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

/// Recomputes the chain against the manifest's head, and the report's hash against the
/// manifest's.
pub fn verify(bundle: &Bundle) -> anyhow::Result<()> {
    crate::engine::record::verify(
        &bundle.entries,
        Some((&bundle.manifest.head, bundle.manifest.entries)),
    )?;
    match (&bundle.report, &bundle.manifest.report_sha256) {
        (Some(text), Some(want)) if &sha256(text) != want => {
            bail!("the report was altered: its SHA-256 is not the one the manifest records")
        }
        (Some(_), None) => bail!("the bundle holds a report the manifest does not record"),
        (None, Some(_)) => bail!("the report the manifest records was removed from the bundle"),
        _ => {}
    }
    Ok(())
}

/// `lifeline evidence export`, `verify` and `keygen`.
pub fn evidence_cmd(cmd: super::EvidenceCommand) -> anyhow::Result<()> {
    match cmd {
        super::EvidenceCommand::Export {
            target,
            output,
            uid,
            run,
            sign_key,
        } => super::with_plan(&target, |client, ns, plan| async move {
            let mut bundle = match plan.strip_prefix("drill/") {
                Some(drill) => export_drill(client, &ns, drill, run).await?,
                None => {
                    let plan = plan.strip_prefix("plan/").unwrap_or(&plan);
                    let mut b = export(client, &ns, plan, uid.as_deref()).await?;
                    add_report(&mut b);
                    b
                }
            };
            if let Some(key) = &sign_key {
                let key = std::fs::read(key)
                    .with_context(|| format!("read the signing key {}", key.display()))?;
                sign(&mut bundle, &key)?;
            }
            write(&bundle, &output)?;
            println!(
                "wrote the record of {}{} (uid {}): {} entries in {} chunks, head {} ({}){} to {}",
                bundle.manifest.plan,
                bundle
                    .manifest
                    .drill_run
                    .map(|r| format!(" run {r}"))
                    .unwrap_or_default(),
                bundle.manifest.plan_uid,
                bundle.manifest.entries,
                bundle.manifest.chunks,
                bundle.manifest.head,
                bundle.manifest.head_from,
                if bundle.signature.is_some() {
                    ", signed"
                } else {
                    ""
                },
                output.display()
            );
            Ok(())
        }),
        super::EvidenceCommand::Verify { file, public_key } => {
            let bundle = read(&file)?;
            verify(&bundle).with_context(|| format!("evidence {}", file.display()))?;
            if let Some(key) = &public_key {
                check_signature(&bundle, key)
                    .with_context(|| format!("evidence {}", file.display()))?;
            }
            println!(
                "{}: the record of {} (uid {}) verifies: {} entries, head {}{}",
                file.display(),
                bundle.manifest.plan,
                bundle.manifest.plan_uid,
                bundle.manifest.entries,
                bundle.manifest.head,
                if public_key.is_some() {
                    ", signed with the key given"
                } else {
                    ""
                }
            );
            Ok(())
        }
        super::EvidenceCommand::Keygen { output } => {
            let (private, public) = keygen()?;
            std::fs::write(&output, private)
                .with_context(|| format!("write {}", output.display()))?;
            println!("{public}");
            eprintln!(
                "private key written to {} (keep it secret); the public key above verifies what it signs",
                output.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::{Body, GENESIS, seal};

    fn bundle() -> Bundle {
        let e = seal(
            0,
            GENESIS,
            Body {
                at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    Timestamp::from_second(1_750_000_000).expect("t"),
                ),
                kind: crate::api::v1alpha1::RecordKind::PlanPhase,
                system: None,
                data: serde_json::json!({ "to": "Running" }),
            },
        );
        Bundle {
            manifest: Manifest {
                format: FORMAT.into(),
                plan: "ward/p".into(),
                plan_uid: "u".into(),
                entries: 1,
                chunks: 1,
                head: e.hash.clone(),
                head_from: "the plan's status".into(),
                exported_at: "2026-12-02T00:00:00Z".into(),
                drill_run: None,
                report_sha256: None,
            },
            entries: vec![e],
            report: None,
            signature: None,
        }
    }

    #[test]
    fn a_signed_bundle_verifies_with_its_key_and_no_other() {
        let (key, public) = keygen().expect("keygen");
        let (_, other) = keygen().expect("keygen");
        let mut b = bundle();
        assert!(check_signature(&b, &public).is_err(), "unsigned");
        sign(&mut b, &key).expect("sign");
        assert!(verify(&b).is_ok());
        check_signature(&b, &public).expect("its own key");
        assert!(check_signature(&b, &other).is_err(), "another key");
        // A manifest changed after signing (a new head for a rewritten chain) fails.
        let mut changed = b.clone();
        changed.manifest.entries = 2;
        let err = check_signature(&changed, &public).expect_err("changed");
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(sign(&mut b, b"not a key").is_err());
    }

    #[test]
    fn the_report_is_covered_by_the_manifest() {
        let mut b = bundle();
        add_report(&mut b);
        assert!(
            b.report
                .as_deref()
                .is_some_and(|r| r.contains("Recovery report: ward/p"))
        );
        verify(&b).expect("intact");
        let mut edited = b.clone();
        edited.report = edited.report.map(|r| r.replace("ward/p", "ward/q"));
        assert!(
            verify(&edited)
                .unwrap_err()
                .to_string()
                .contains("report was altered")
        );
        let mut removed = b.clone();
        removed.report = None;
        assert!(
            verify(&removed)
                .unwrap_err()
                .to_string()
                .contains("removed")
        );
    }
}
