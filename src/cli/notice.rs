//! `lifeline notice`: a released system's release notice (to whom, what was tested, the
//! data-loss window, what staff must do), as text, Markdown or a printable HTML page, from
//! the plan's status and the system's `release.handBack`.

use std::{io::Write as _, path::PathBuf};

use anyhow::{Context as _, bail};
use kube::{Api, Client};

use super::NoticeFormat;
use super::control::find_system;
use super::status::{get_plan, plan_name};
use crate::api::v1alpha1::{ClinicalSystem, RecoveryPlan};

/// `lifeline notice`.
pub async fn notice_cmd(
    client: Client,
    namespace: &str,
    plan: &str,
    system: &str,
    stage: Option<&str>,
    format: Option<NoticeFormat>,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    let current = get_plan(&api, namespace, plan).await?;
    let full = plan_name(&current);
    let status = current.status.clone().unwrap_or_default();
    let found = find_system(&status, namespace, &full, system)?;
    let Some(stage_name) = stage
        .map(str::to_string)
        .or_else(|| found.releases.last().map(|r| r.stage.clone()))
    else {
        bail!(
            "recoveryplan {full}: {} is {} and not released to staff yet, so it has no release notice",
            found.name,
            found.phase
        );
    };
    let (sys_ns, short) = found
        .name
        .split_once('/')
        .unwrap_or((namespace, &found.name));
    let display = Api::<ClinicalSystem>::namespaced(client, sys_ns)
        .get_opt(short)
        .await
        .with_context(|| format!("read clinicalsystem {sys_ns}/{short}"))?
        .map(|c| c.spec.display_name)
        .unwrap_or_default();
    let spec_stage = current.spec.stages.iter().find(|s| s.name == stage_name);
    let Some(n) =
        crate::engine::notice::notice(&full, &display, &stage_name, spec_stage, found, &status)
    else {
        bail!(
            "recoveryplan {full}: {} was never released at stage {stage_name} (it was at: {})",
            found.name,
            if found.releases.is_empty() {
                "none".to_string()
            } else {
                found
                    .releases
                    .iter()
                    .map(|r| r.stage.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    };
    let format = format.unwrap_or_else(|| {
        match output
            .as_deref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("html" | "htm") => NoticeFormat::Html,
            Some("md") => NoticeFormat::Md,
            _ => NoticeFormat::Text,
        }
    });
    let text = match format {
        NoticeFormat::Text => crate::report::notice::text(&n),
        NoticeFormat::Md => crate::report::notice::markdown(&n),
        NoticeFormat::Html => crate::report::notice::html(&n),
    };
    match output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            println!(
                "release notice of {} at stage {stage_name} written to {}",
                found.name,
                path.display()
            );
            Ok(())
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("write the notice to stdout"),
    }
}
