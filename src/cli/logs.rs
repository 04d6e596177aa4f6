//! `lifeline logs PLAN SYSTEM [STEP]`: the logs of the pod of a Job a restore step or a
//! check ran, found from the plan's status (a job step's token is its Job; a job check's
//! Job is named from the plan, the system, the check and the attempt).

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, ResourceExt,
    api::{ListParams, LogParams},
};

use super::{LogsArgs, control, with_plan};
use crate::{api::v1alpha1::short_name, engine::names};

/// `lifeline logs`.
pub(super) fn logs_cmd(args: LogsArgs) -> anyhow::Result<()> {
    let LogsArgs {
        target,
        system,
        step,
        tail,
    } = args;
    with_plan(&target, |client, ns, plan_name| async move {
        let plan = crate::controller::cluster::progress::get(&client, &ns, &plan_name)
            .await
            .with_context(|| format!("read recoveryplan {ns}/{plan_name}"))?
            .with_context(|| format!("recoveryplan {ns}/{plan_name} not found"))?;
        let status = plan.status.clone().unwrap_or_default();
        let s = control::find_system(&status, &ns, &format!("{ns}/{plan_name}"), &system)?;
        let short = short_name(&s.name).to_string();
        let uid = plan.uid().unwrap_or_default();
        let system_ns = s
            .name
            .split_once('/')
            .map_or(ns.as_str(), |(n, _)| n)
            .to_string();
        // The Jobs this system ran, newest last: job steps (their token), job checks.
        let mut jobs: Vec<(String, String)> = Vec::new();
        for st in &s.steps {
            if let Some(token) = st.token.as_deref().filter(|_| st.attempts > 0) {
                jobs.push((st.name.clone(), token.to_string()));
            }
        }
        for c in &s.checks {
            if c.attempts > 0 {
                let job = names::check_job(&plan_name, &uid, &short, &c.name, c.attempts);
                jobs.push((c.name.clone(), job));
            }
        }
        let chosen = match &step {
            Some(want) => jobs.iter().rev().find(|(n, _)| n == want).cloned(),
            None => jobs.last().cloned(),
        };
        let Some((what, job)) = chosen else {
            let steps: Vec<&str> = s
                .steps
                .iter()
                .map(|x| x.name.as_str())
                .chain(s.checks.iter().map(|c| c.name.as_str()))
                .collect();
            bail!(
                "{}: {} (its steps and checks: {}); only a job step or job check has pod logs",
                s.name,
                match &step {
                    Some(want) => format!("{want} has run no Job"),
                    None => "no step or check of it has run a Job".to_string(),
                },
                if steps.is_empty() {
                    "none".to_string()
                } else {
                    steps.join(", ")
                }
            );
        };
        let pods: Api<Pod> = Api::namespaced(client, &system_ns);
        let mut found = pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .with_context(|| format!("list the pods of Job {system_ns}/{job}"))?
            .items;
        found.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
        let Some(pod) = found.last() else {
            bail!(
                "Job {system_ns}/{job} ({what} of {}) has no pod left (a Job's pods go when it is deleted or its TTL passes)",
                s.name
            );
        };
        let params = LogParams {
            tail_lines: tail,
            ..LogParams::default()
        };
        let text = pods
            .logs(&pod.name_any(), &params)
            .await
            .with_context(|| format!("read the logs of pod {system_ns}/{}", pod.name_any()))?;
        eprintln!(
            "==> {what} of {}: Job {job}, pod {}",
            s.name,
            pod.name_any()
        );
        print!("{text}");
        Ok(())
    })
}
