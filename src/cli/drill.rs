//! Client-side drill commands: `lifeline drill run` (asks the operator for a run by
//! setting the `lifeline.dev/run-requested` annotation, and can wait for its end) and
//! `lifeline drill status` (a rendering of the drill's status, pure and testable).

use std::{fmt::Write as _, time::Duration};

use anyhow::Context as _;
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{DrillCommand, DrillOutput, PlanTarget, with_plan};
use crate::{
    api::v1alpha1::{
        DrillPhase, RUN_ANNOTATION, RecoveryDrill, RecoveryDrillStatus, format_duration,
    },
    cli::control::FIELD_MANAGER,
};

/// What went wrong in a drill command. Every message names the drill.
#[derive(Debug, thiserror::Error)]
pub enum DrillCtlError {
    /// No such drill.
    #[error("recoverydrill {namespace}/{name} not found in namespace {namespace}")]
    NotFound {
        /// The namespace looked in.
        namespace: String,
        /// The drill's name.
        name: String,
    },
    /// `spec.abort` is set: no run starts.
    #[error("recoverydrill {drill} has spec.abort set: clear it before asking for a run")]
    Aborted {
        /// "namespace/name".
        drill: String,
    },
    /// The run did not end in time.
    #[error("recoverydrill {drill}: run not finished after {waited} (phase {phase}: {message})")]
    Timeout {
        /// "namespace/name".
        drill: String,
        /// How long it waited.
        waited: String,
        /// The drill's phase then.
        phase: DrillPhase,
        /// Its message then.
        message: String,
    },
    /// The operator took the request but started no run (the drill was refused).
    #[error("recoverydrill {drill}: the run was not started: {reason}")]
    NotStarted {
        /// "namespace/name".
        drill: String,
        /// The drill's message: why.
        reason: String,
    },
    /// The API call failed.
    #[error("recoverydrill {drill}: {action}: {source}")]
    Kube {
        /// "namespace/name".
        drill: String,
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: kube::Error,
    },
}

async fn get(
    api: &Api<RecoveryDrill>,
    ns: &str,
    name: &str,
) -> Result<RecoveryDrill, DrillCtlError> {
    api.get_opt(name)
        .await
        .map_err(|source| DrillCtlError::Kube {
            drill: format!("{ns}/{name}"),
            action: "read it",
            source,
        })?
        .ok_or_else(|| DrillCtlError::NotFound {
            namespace: ns.to_string(),
            name: name.to_string(),
        })
}

/// Asks the operator for a run of the drill now. Returns the request's token.
pub async fn request_run(client: Client, ns: &str, name: &str) -> Result<String, DrillCtlError> {
    let api: Api<RecoveryDrill> = Api::namespaced(client, ns);
    let drill = get(&api, ns, name).await?;
    if drill.spec.abort {
        return Err(DrillCtlError::Aborted {
            drill: format!("{ns}/{name}"),
        });
    }
    let token = Timestamp::now().to_string();
    let patch = json!({ "metadata": { "annotations": { RUN_ANNOTATION: token } } });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: super::connect::dry_run(),
        ..Default::default()
    };
    if super::connect::dry_run() {
        println!(
            "a run of drill {ns}/{name} would be requested with this change (server dry run, not stored):"
        );
        print!("{}", serde_yaml::to_string(&patch).unwrap_or_default());
    }
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| DrillCtlError::Kube {
            drill: format!("{ns}/{name}"),
            action: "request a run",
            source,
        })?;
    Ok(token)
}

/// Waits (polling every second, up to `timeout`) until the run asked for with `token`
/// has finished, and returns the drill then.
pub async fn wait_run(
    client: Client,
    ns: &str,
    name: &str,
    token: &str,
    timeout: Duration,
) -> Result<RecoveryDrill, DrillCtlError> {
    wait_run_showing(client, ns, name, token, timeout, &mut |_| {}).await
}

/// [`wait_run`], telling `progress` each phase and message the drill comes to, as a line
/// ("+45s Injecting: ...") counted from when the wait began.
pub async fn wait_run_showing(
    client: Client,
    ns: &str,
    name: &str,
    token: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(String),
) -> Result<RecoveryDrill, DrillCtlError> {
    let api: Api<RecoveryDrill> = Api::namespaced(client, ns);
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut shown: Option<(DrillPhase, Option<String>)> = None;
    loop {
        let drill = get(&api, ns, name).await?;
        let st = drill.status.clone().unwrap_or_default();
        let now = (st.phase, st.message.clone());
        if shown.as_ref() != Some(&now) {
            progress(format!(
                "  +{:<6} {:?}{}",
                format_duration(Duration::from_secs(started.elapsed().as_secs())),
                st.phase,
                st.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
            shown = Some(now);
        }
        if st.run_token.as_deref() == Some(token)
            && matches!(st.phase, DrillPhase::Finished | DrillPhase::Idle)
        {
            // Taken, but did a run start for it? A refused request leaves the last run.
            return if st.run.as_ref().and_then(|r| r.token.as_deref()) == Some(token) {
                Ok(drill)
            } else {
                Err(DrillCtlError::NotStarted {
                    drill: format!("{ns}/{name}"),
                    reason: st
                        .message
                        .unwrap_or_else(|| "the operator gave no reason".into()),
                })
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DrillCtlError::Timeout {
                drill: format!("{ns}/{name}"),
                waited: format_duration(timeout),
                phase: st.phase,
                message: st.message.unwrap_or_default(),
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads the drill.
pub async fn fetch(client: Client, ns: &str, name: &str) -> Result<RecoveryDrill, DrillCtlError> {
    let api: Api<RecoveryDrill> = Api::namespaced(client, ns);
    get(&api, ns, name).await
}

fn at(t: &Option<Time>, start: Option<&Time>) -> String {
    match (t, start) {
        (Some(t), Some(s)) => format!(
            "+{}",
            format_duration(Duration::from_secs(
                crate::engine::time::seconds_between(s.0, t.0).unwrap_or(0)
            ))
        ),
        (Some(t), None) => t.0.to_string(),
        (None, _) => "-".into(),
    }
}

fn secs(s: Option<u64>) -> String {
    s.map(|s| format_duration(Duration::from_secs(s)))
        .unwrap_or_else(|| "-".into())
}

/// The drill's status for people: phase, the current or last run (faults, systems,
/// approvals) and the history.
pub fn render(drill: &RecoveryDrill) -> String {
    let status: RecoveryDrillStatus = drill.status.clone().unwrap_or_default();
    let mut out = String::new();
    let ns = drill.metadata.namespace.as_deref().unwrap_or_default();
    let name = drill.metadata.name.as_deref().unwrap_or_default();
    let _ = writeln!(out, "Drill {ns}/{name}: {}", status.phase);
    if let Some(m) = &status.message {
        let _ = writeln!(out, "  {m}");
    }
    if let Some(s) = &drill.spec.schedule {
        let next = status
            .next_schedule_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "Schedule: {s} (next {next})");
    }
    let Some(run) = &status.run else {
        let _ = writeln!(out, "No run yet: lifeline drill run {name} -n {ns}");
        return out;
    };
    let start = run.started_at.as_ref();
    let _ = writeln!(
        out,
        "Run {} ({}), started {}{}",
        run.number,
        run.trigger,
        start.map(|t| t.0.to_string()).unwrap_or_else(|| "-".into()),
        match (&run.outcome, &run.reason) {
            (Some(o), Some(r)) => format!(": {o} ({r})"),
            (Some(o), None) => format!(": {o}"),
            _ => String::new(),
        }
    );
    if let Some(p) = &run.plan {
        let _ = writeln!(out, "Recovery plan: {p}");
    }
    if !run.faults.is_empty() {
        let _ = writeln!(
            out,
            "\nFAULT        SYSTEM                   TARGET                                   INJECTED  PROVEN    PROOF"
        );
        for f in &run.faults {
            let _ = writeln!(
                out,
                "{:<12} {:<24} {:<40} {:<9} {:<9} {}",
                f.kind,
                f.system,
                f.target,
                at(&f.injected_at, start),
                at(&f.proven_at, start),
                f.proof.as_deref().unwrap_or("-")
            );
            if let Some(w) = &f.watch {
                let _ = writeln!(
                    out,
                    "{:<12} watched while it held: {} tries, {}",
                    "",
                    w.tries,
                    match w.breaches {
                        0 => "none got through".to_string(),
                        n => format!(
                            "{n} GOT THROUGH ({}), first at {}",
                            w.through.join(", "),
                            at(&w.first_breach_at, start)
                        ),
                    }
                );
            }
        }
    }
    if !run.systems.is_empty() {
        let _ = writeln!(
            out,
            "\nSYSTEM                   PHASE       RECOVERY   OBJECTIVE  MET     RELEASED"
        );
        for s in &run.systems {
            let _ = writeln!(
                out,
                "{:<24} {:<11} {:<10} {:<10} {:<7} {}",
                s.name,
                s.phase.map_or("-".to_string(), |p| p.to_string()),
                secs(s.recovery_seconds),
                secs(s.objective_seconds),
                match s.objective_met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "-",
                },
                secs(s.release_seconds)
            );
        }
    }
    if !run.approvals.is_empty() {
        let _ = writeln!(out, "\nApprovals:");
        for a in &run.approvals {
            let _ = writeln!(
                out,
                "  {} {} by {}{}{}",
                at(&a.at, start),
                a.stage,
                a.by,
                if a.accepted { "" } else { " (ignored)" },
                a.comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            );
        }
    }
    if !run.reverted.is_empty() {
        let _ = writeln!(out, "\nReverted:");
        for r in &run.reverted {
            let _ = writeln!(out, "  {r}");
        }
    }
    if !status.history.is_empty() {
        let _ = writeln!(
            out,
            "\nRUN  TRIGGER   STARTED                OUTCOME           VERIFIED  OBJECTIVES  LONGEST"
        );
        for h in &status.history {
            let _ = writeln!(
                out,
                "{:<4} {:<9} {:<22} {:<17} {:<9} {:<11} {}",
                h.number,
                h.trigger,
                h.started_at
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_else(|| "-".into()),
                h.outcome.to_string(),
                h.verified,
                h.objectives_met,
                secs(h.longest_recovery_seconds)
            );
        }
    }
    out
}

/// `lifeline drill run` and `lifeline drill status`.
pub(super) fn drill_cmd(cmd: DrillCommand) -> anyhow::Result<()> {
    let cmd = match cmd {
        DrillCommand::List(args) => return super::list::drills_cmd(args),
        other => other,
    };
    let target = match &cmd {
        DrillCommand::List(_) => return Ok(()),
        DrillCommand::Run { target, .. } | DrillCommand::Status { target, .. } => PlanTarget {
            plan: target.drill.clone(),
            namespace: target.namespace.clone(),
        },
    };
    with_plan(&target, |client, ns, drill| async move {
        match cmd {
            DrillCommand::Run { wait, timeout, .. } => {
                let token = request_run(client.clone(), &ns, &drill).await?;
                if super::connect::dry_run() {
                    return Ok(());
                }
                println!("run of drill {ns}/{drill} requested ({token})");
                if wait {
                    eprintln!(
                        "waiting for the run to finish (at most {}), since {}:",
                        format_duration(timeout),
                        Timestamp::now().strftime("%H:%M:%S UTC")
                    );
                    let done =
                        wait_run_showing(client, &ns, &drill, &token, timeout, &mut |line| {
                            eprintln!("{line}")
                        })
                        .await?;
                    print!("{}", render(&done));
                }
            }
            DrillCommand::List(_) => {}
            DrillCommand::Status { output, .. } => {
                let d = fetch(client, &ns, &drill).await?;
                match output {
                    DrillOutput::Table => print!("{}", render(&d)),
                    DrillOutput::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&d).context("encode the drill")?
                    ),
                    DrillOutput::Yaml => {
                        print!("{}", serde_yaml::to_string(&d).context("encode the drill")?)
                    }
                    DrillOutput::Name => println!("recoverydrill.lifeline.dev/{drill}"),
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_finished_run_and_a_drill_without_one() {
        let drill: RecoveryDrill = serde_json::from_value(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
            "metadata": { "name": "weekly", "namespace": "staging" },
            "spec": { "systems": { "names": ["lims"] },
                      "faults": [{ "system": "lims", "scaleToZero": {} }] },
            "status": {
                "phase": "Finished",
                "run": {
                    "number": 2, "trigger": "manual",
                    "startedAt": "2026-11-21T03:00:00Z",
                    "outcome": "ObjectivesMissed", "reason": "1 of 1 objectives missed: lims",
                    "faults": [{ "system": "lims", "kind": "scaleToZero", "target": "Deployment/lims",
                                 "injectedAt": "2026-11-21T03:00:01Z", "provenAt": "2026-11-21T03:00:03Z",
                                 "proof": "Deployment/lims scaled from 2 to 0 replicas; no pod left" }],
                    "systems": [{ "name": "lims", "phase": "Verified", "recoverySeconds": 1200,
                                  "objectiveSeconds": 900, "objectiveMet": false }]
                },
                "history": [{ "number": 2, "trigger": "manual", "outcome": "ObjectivesMissed",
                              "verified": "1/1", "objectivesMet": "0/1", "longestRecoverySeconds": 1200 }]
            }
        }))
        .expect("a drill");
        let out = render(&drill);
        assert!(out.starts_with("Drill staging/weekly: Finished"), "{out}");
        assert!(out.contains("Run 2 (manual)"), "{out}");
        assert!(
            out.contains("ObjectivesMissed (1 of 1 objectives missed: lims)"),
            "{out}"
        );
        assert!(out.contains("+1s"), "injected a second in: {out}");
        assert!(out.contains("MISSED"), "{out}");
        assert!(out.contains("20m"), "{out}");
        let mut idle = drill.clone();
        idle.status = None;
        assert!(render(&idle).contains("No run yet: lifeline drill run weekly -n staging"));
    }
}
