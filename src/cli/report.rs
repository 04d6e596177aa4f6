//! `lifeline report`: writes a drill's report, or a real recovery's from its record
//! (Markdown with its Gantt chart as SVG beside it, or one HTML page), from the cluster or
//! from a file (a drill's YAML, a recovery's evidence bundle).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

use super::{ReportArgs, ReportFormat, runtime};
use crate::{api::v1alpha1::RecoveryDrill, report};

/// What a report is about: a drill, or a real recovery (from its record).
enum Subject {
    Drill(Box<RecoveryDrill>),
    Recovery(Box<report::recovery::Recovery>),
}

impl Subject {
    fn what(&self) -> &'static str {
        match self {
            Subject::Drill(_) => "drill report",
            Subject::Recovery(_) => "recovery report",
        }
    }

    fn html(&self) -> String {
        match self {
            Subject::Drill(d) => report::drill::html(d),
            Subject::Recovery(r) => report::recovery::html(r),
        }
    }

    fn markdown(&self, chart: Option<&str>) -> String {
        match (self, chart) {
            (Subject::Drill(d), Some(file)) => {
                report::drill::markdown_linking(d, report::drill::ChartLink::File(file))
            }
            (Subject::Drill(d), None) => report::drill::markdown(d),
            (Subject::Recovery(r), chart) => report::recovery::markdown_linking(r, chart),
        }
    }

    fn svg(&self) -> Option<String> {
        match self {
            Subject::Drill(d) => report::drill::gantt_svg(d),
            Subject::Recovery(r) => report::recovery::gantt_svg(r),
        }
    }
}

/// The report of a recovery from its evidence bundle.
fn recovery_of_bundle(bundle: &super::evidence::Bundle) -> report::recovery::Recovery {
    report::recovery::Recovery::from_entries(
        &bundle.manifest.plan,
        &bundle.manifest.plan_uid,
        &bundle.entries,
        Some((&bundle.manifest.head, bundle.manifest.entries)),
    )
}

/// Reads what `name` names on the cluster: `drill/NAME`, `plan/NAME`, or a bare name (a
/// RecoveryDrill if one has it, else the record of the RecoveryPlan of that name).
async fn subject_on_cluster(
    client: kube::Client,
    ns: &str,
    name: &str,
    uid: Option<&str>,
) -> anyhow::Result<Subject> {
    let (kind, bare) = match name.split_once('/') {
        Some((k, n)) => (Some(k.to_ascii_lowercase()), n),
        None => (None, name),
    };
    let as_plan = |client: kube::Client| async move {
        let bundle = super::evidence::export(client, ns, bare, uid).await?;
        Ok::<_, anyhow::Error>(Subject::Recovery(Box::new(recovery_of_bundle(&bundle))))
    };
    match kind.as_deref() {
        Some("drill" | "recoverydrill" | "rdrill") => Ok(Subject::Drill(Box::new(
            super::drill::fetch(client, ns, bare).await?,
        ))),
        Some("plan" | "recoveryplan" | "rplan") => as_plan(client).await,
        Some(other) => bail!("{name}: say drill/NAME or plan/NAME, not {other}/"),
        None => {
            let drills: kube::Api<RecoveryDrill> = kube::Api::namespaced(client.clone(), ns);
            match drills
                .get_opt(bare)
                .await
                .with_context(|| format!("read recoverydrill {ns}/{bare}"))?
            {
                Some(d) if uid.is_none() => Ok(Subject::Drill(Box::new(d))),
                _ => as_plan(client).await.with_context(|| {
                    format!("{ns}/{bare} is neither a RecoveryDrill nor a recorded RecoveryPlan")
                }),
            }
        }
    }
}

/// `lifeline report`.
pub(super) fn report_cmd(args: ReportArgs) -> anyhow::Result<()> {
    let subject = match (&args.from_file, &args.drill) {
        (Some(path), name) => {
            // An evidence bundle is JSON with a manifest; anything else is a drill.
            match super::evidence::read(path) {
                Ok(bundle) => Subject::Recovery(Box::new(recovery_of_bundle(&bundle))),
                Err(_) => Subject::Drill(Box::new(drill_from_file(
                    path,
                    name.as_deref(),
                    args.namespace.as_deref(),
                )?)),
            }
        }
        (None, Some(name)) => {
            let name = name.clone();
            let namespace = args.namespace.clone();
            let uid = args.uid.clone();
            runtime()?.block_on(async move {
                let client = super::connect::client().await?;
                let ns = namespace.unwrap_or_else(|| client.default_namespace().to_string());
                subject_on_cluster(client, &ns, &name, uid.as_deref()).await
            })?
        }
        (None, None) => {
            bail!("name the drill or plan: lifeline report NAME, or --from-file FILE")
        }
    };
    let format = args.format.unwrap_or_else(|| {
        let ext = args
            .output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html" | "htm") => ReportFormat::Html,
            _ => ReportFormat::Md,
        }
    });
    let what = subject.what();
    let Some(path) = &args.output else {
        let text = match format {
            ReportFormat::Md => subject.markdown(None),
            ReportFormat::Html => subject.html(),
        };
        return std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("write the report to stdout");
    };
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
    };
    match format {
        ReportFormat::Html => {
            write(path, &subject.html())?;
            println!("{what} written to {}", path.display());
        }
        ReportFormat::Md => {
            let svg_path = svg_beside(path);
            let chart = subject
                .svg()
                .zip(svg_path.file_name().and_then(|n| n.to_str()));
            match chart {
                Some((svg, file)) => {
                    let text = subject.markdown(Some(file));
                    write(&svg_path, &svg)?;
                    write(path, &text)?;
                    println!(
                        "{what} written to {}, its Gantt chart to {}",
                        path.display(),
                        svg_path.display()
                    );
                }
                None => {
                    write(path, &subject.markdown(None))?;
                    println!("{what} written to {}", path.display());
                }
            }
        }
    }
    Ok(())
}

/// Where the Markdown report at `path` keeps its Gantt chart: the same name with `.svg`
/// (`report.md`: `report.svg`), or `.gantt.svg` when the report itself ends in `.svg`.
fn svg_beside(path: &Path) -> PathBuf {
    let svg = path.with_extension("svg");
    if svg == path {
        path.with_extension("gantt.svg")
    } else {
        svg
    }
}

/// Reads a RecoveryDrill from a YAML or JSON file: one object, several YAML documents, or
/// a `kind: List` (what `kubectl get -o yaml` prints). Other objects are skipped. With
/// several drills, `name` (and `namespace`) choose one. Errors name the file, the
/// document, the drill and the field.
fn drill_from_file(
    path: &Path,
    name: Option<&str>,
    namespace: Option<&str>,
) -> anyhow::Result<RecoveryDrill> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut drills = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let origin = format!("{} (document {})", path.display(), i + 1);
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| anyhow!("{origin}: not valid YAML or JSON: {e}"))?;
        let field = |v: &serde_yaml::Value, key: &str| {
            v.get(key)
                .and_then(serde_yaml::Value::as_str)
                .map(str::to_string)
        };
        let items = if field(&value, "kind").as_deref() == Some("List") {
            value
                .get("items")
                .and_then(serde_yaml::Value::as_sequence)
                .cloned()
                .unwrap_or_default()
        } else {
            vec![value]
        };
        for item in items {
            if field(&item, "kind").as_deref() != Some("RecoveryDrill")
                || field(&item, "apiVersion").as_deref() != Some("lifeline.dev/v1alpha1")
            {
                continue;
            }
            let meta = item.get("metadata");
            let key = format!(
                "{}/{}",
                meta.and_then(|m| field(m, "namespace"))
                    .unwrap_or_else(|| "default".to_string()),
                meta.and_then(|m| field(m, "name"))
                    .unwrap_or_else(|| "(unnamed)".to_string()),
            );
            let unknown = super::strict::unknown_fields("RecoveryDrill", &item);
            if !unknown.is_empty() {
                let each: Vec<String> = unknown.iter().map(ToString::to_string).collect();
                bail!("{origin}: RecoveryDrill {key}: {}", each.join("; "));
            }
            let drill: RecoveryDrill = serde_path_to_error::deserialize(item).map_err(|e| {
                let at = e.path().to_string();
                anyhow!("{origin}: RecoveryDrill {key}: {at}: {}", e.into_inner())
            })?;
            drills.push(drill);
        }
    }
    let key = |d: &RecoveryDrill| {
        format!(
            "{}/{}",
            d.metadata.namespace.as_deref().unwrap_or("default"),
            d.metadata.name.as_deref().unwrap_or("(unnamed)")
        )
    };
    let all: Vec<String> = drills.iter().map(key).collect();
    drills.retain(|d| {
        name.is_none_or(|n| d.metadata.name.as_deref() == Some(n))
            && namespace.is_none_or(|ns| d.metadata.namespace.as_deref().unwrap_or("default") == ns)
    });
    let wanted = match (namespace, name) {
        (Some(ns), Some(n)) => format!(" {ns}/{n}"),
        (None, Some(n)) => format!(" {n}"),
        (Some(ns), None) => format!(" in namespace {ns}"),
        (None, None) => String::new(),
    };
    match (drills.pop(), drills.is_empty()) {
        (Some(drill), true) => Ok(drill),
        (None, _) if all.is_empty() => bail!(
            "{}: no RecoveryDrill (lifeline.dev/v1alpha1) in the file",
            path.display()
        ),
        (None, _) => bail!(
            "{}: no RecoveryDrill{wanted} in the file (it holds {})",
            path.display(),
            all.join(", ")
        ),
        (Some(last), false) => {
            drills.push(last);
            bail!(
                "{}: {} RecoveryDrills{wanted}; name one: {}",
                path.display(),
                drills.len(),
                drills.iter().map(key).collect::<Vec<_>>().join(", ")
            )
        }
    }
}
