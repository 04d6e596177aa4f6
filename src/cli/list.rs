//! `lifeline list` (RecoveryPlans) and `lifeline drill list` (RecoveryDrills), as
//! `kubectl get` lists: one namespace (`-n`, else the context's) or all (`-A`), and
//! `-o table|wide|json|yaml|name`.

use std::fmt::Write as _;

use anyhow::Context as _;
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Api, ResourceExt, api::ListParams};

use super::{ListArgs, ListOutput, connect};
use crate::api::v1alpha1::{RecoveryDrill, RecoveryPlan};

/// How long ago `t` was, as `kubectl get` prints ages ("5m", "3h", "2d").
fn age(t: Option<&Time>, now: Timestamp) -> String {
    let Some(t) = t else {
        return "-".to_string();
    };
    let secs = crate::engine::time::seconds_between(t.0, now).unwrap_or(0);
    let (n, unit) = match secs {
        s if s < 120 => (s, "s"),
        s if s < 2 * 3600 => (s / 60, "m"),
        s if s < 2 * 86_400 => (s / 3600, "h"),
        s => (s / 86_400, "d"),
    };
    format!("{n}{unit}")
}

/// Rows as columns padded like `kubectl get` (three spaces between columns).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            l.push_str(c);
            if i + 1 < cells.len() {
                l.extend(std::iter::repeat_n(' ', w - c.chars().count() + 3));
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

async fn list<K>(args: &ListArgs) -> anyhow::Result<(Vec<K>, bool)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    let client = connect::client().await?;
    let (api, what): (Api<K>, String) = if args.all_namespaces {
        (Api::all(client), "every namespace".to_string())
    } else {
        let ns = args
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        (Api::namespaced(client, &ns), format!("namespace {ns}"))
    };
    let kind = K::kind(&K::DynamicType::default()).to_lowercase();
    let items = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("list {kind}s in {what}"))?
        .items;
    Ok((items, args.all_namespaces))
}

fn structured<K: serde::Serialize + kube::Resource>(
    items: &[K],
    output: ListOutput,
    kind: &str,
) -> anyhow::Result<Option<String>> {
    let list = || {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": items,
        })
    };
    Ok(match output {
        ListOutput::Json => Some(serde_json::to_string_pretty(&list())? + "\n"),
        ListOutput::Yaml => Some(serde_yaml::to_string(&list())?),
        ListOutput::Name => Some(
            items
                .iter()
                .map(|i| format!("{kind}/{}\n", i.meta().name.clone().unwrap_or_default()))
                .collect(),
        ),
        ListOutput::Table | ListOutput::Wide => None,
    })
}

/// `lifeline list`: the RecoveryPlans.
pub(super) fn plans_cmd(args: ListArgs) -> anyhow::Result<()> {
    let (mut plans, all) = super::runtime()?.block_on(list::<RecoveryPlan>(&args))?;
    plans.sort_by_key(|p| (p.namespace(), p.name_any()));
    if let Some(text) = structured(&plans, args.output, "recoveryplan.lifeline.dev")? {
        print!("{text}");
        return Ok(());
    }
    print!(
        "{}",
        plans_table(&plans, all, args.output, Timestamp::now())
    );
    Ok(())
}

/// The table `lifeline list` prints.
pub fn plans_table(
    plans: &[RecoveryPlan],
    all: bool,
    output: ListOutput,
    now: Timestamp,
) -> String {
    if plans.is_empty() {
        return "No RecoveryPlans found.\n".to_string();
    }
    let wide = matches!(output, ListOutput::Wide);
    let mut header = vec!["NAME", "PHASE", "PROGRESS", "STAGE", "STARTED"];
    if all {
        header.insert(0, "NAMESPACE");
    }
    if wide {
        header.extend(["REQUESTED BY", "DRILL"]);
    }
    let rows: Vec<Vec<String>> = plans
        .iter()
        .map(|p| {
            let st = p.status.clone().unwrap_or_default();
            let mut row = vec![
                p.name_any(),
                if p.status.is_some() {
                    st.phase.to_string()
                } else {
                    "-".to_string()
                },
                st.progress.clone().unwrap_or_else(|| "-".to_string()),
                st.current_stage.clone().unwrap_or_else(|| "-".to_string()),
                age(st.started_at.as_ref(), now),
            ];
            if all {
                row.insert(0, p.namespace().unwrap_or_default());
            }
            if wide {
                row.push(
                    p.spec
                        .requested_by
                        .clone()
                        .unwrap_or_else(|| "-".to_string()),
                );
                row.push(if p.spec.drill.is_some() { "yes" } else { "no" }.to_string());
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// `lifeline drill list`: the RecoveryDrills.
pub(super) fn drills_cmd(args: ListArgs) -> anyhow::Result<()> {
    let (mut drills, all) = super::runtime()?.block_on(list::<RecoveryDrill>(&args))?;
    drills.sort_by_key(|d| (d.namespace(), d.name_any()));
    if let Some(text) = structured(&drills, args.output, "recoverydrill.lifeline.dev")? {
        print!("{text}");
        return Ok(());
    }
    print!(
        "{}",
        drills_table(&drills, all, args.output, Timestamp::now())
    );
    Ok(())
}

/// The table `lifeline drill list` prints.
pub fn drills_table(
    drills: &[RecoveryDrill],
    all: bool,
    output: ListOutput,
    now: Timestamp,
) -> String {
    if drills.is_empty() {
        return "No RecoveryDrills found.\n".to_string();
    }
    let wide = matches!(output, ListOutput::Wide);
    let mut header = vec!["NAME", "PHASE", "RUNS", "LAST OUTCOME", "LAST RUN"];
    if all {
        header.insert(0, "NAMESPACE");
    }
    if wide {
        header.extend(["NEXT SCHEDULED", "MESSAGE"]);
    }
    let rows: Vec<Vec<String>> = drills
        .iter()
        .map(|d| {
            let st = d.status.clone().unwrap_or_default();
            let last = st.history.first();
            let mut row = vec![
                d.name_any(),
                format!("{:?}", st.phase),
                st.run
                    .as_ref()
                    .map_or_else(|| "0".to_string(), |r| r.number.to_string()),
                last.map_or_else(|| "-".to_string(), |h| format!("{:?}", h.outcome)),
                age(last.and_then(|h| h.started_at.as_ref()), now),
            ];
            if all {
                row.insert(0, d.namespace().unwrap_or_default());
            }
            if wide {
                row.push(
                    st.next_schedule_time
                        .as_ref()
                        .map_or_else(|| "-".to_string(), |t| t.0.to_string()),
                );
                row.push(st.message.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    table(&header, &rows)
}
