//! Each kind of fault, decided: what a fault acts on, the record it starts from, when it
//! is injected, what proves it took effect, and when it is lifted. The controller carries
//! out the actions this returns (`controller/drill/faults/`, one file per kind).

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::LabelSelector, jiff::Timestamp};
use kube::ResourceExt;

use super::{Action, Observed};
use crate::{
    api::v1alpha1::{
        ClinicalSystem, Fault, FaultKind, FaultRecord, PlanDrill, RecordedKind, RecordedState,
        ScaleToZeroFault, StepAction, WorkloadKind, WorkloadRef,
    },
    engine::names,
};

/// The workloads a system's `scale` steps name: what its recovery scales back up.
pub fn scale_targets(system: &ClinicalSystem) -> Vec<WorkloadRef> {
    let mut out: Vec<WorkloadRef> = Vec::new();
    for step in system.spec.steps() {
        if let Some(StepAction::Scale(s)) = step.action() {
            let w = WorkloadRef {
                kind: s.kind,
                name: s.name.clone(),
            };
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// The workloads a `scaleToZero` fault acts on: those it names, or the system's.
pub fn workload_targets(f: &ScaleToZeroFault, system: &ClinicalSystem) -> Vec<WorkloadRef> {
    if f.workloads.is_empty() {
        scale_targets(system)
    } else {
        f.workloads.clone()
    }
}

/// The pods a `deletePods` or `isolate` fault acts on: its selector, or the system's
/// `release.podSelector`.
pub fn fault_selector(f: &Fault, system: &ClinicalSystem) -> Option<LabelSelector> {
    let own = match f.kind()? {
        FaultKind::DeletePods => f.delete_pods.as_ref().and_then(|p| p.selector.clone()),
        FaultKind::Isolate => f.isolate.as_ref().and_then(|p| p.selector.clone()),
        FaultKind::ScaleToZero | FaultKind::FailCheck => return None,
    };
    own.or_else(|| system.spec.release.as_ref().map(|r| r.pod_selector.clone()))
}

/// One record per fault and target of drill `drill`, nothing injected yet.
pub fn records(drill: &str, faults: &[Fault], systems: &[ClinicalSystem]) -> Vec<FaultRecord> {
    let mut out = Vec::new();
    let record = |system: &str, kind: FaultKind, target: String| FaultRecord {
        system: system.to_string(),
        kind,
        target,
        injected_at: None,
        proven_at: None,
        proof: None,
        lifted_at: None,
        pod_uids: vec![],
        workload: None,
        check: None,
        watch: None,
    };
    for f in faults {
        let Some(system) = systems.iter().find(|s| s.name_any() == f.system) else {
            continue;
        };
        let Some(kind) = f.kind() else { continue };
        match kind {
            FaultKind::ScaleToZero => {
                for w in f
                    .scale_to_zero
                    .as_ref()
                    .map(|sz| workload_targets(sz, system))
                    .unwrap_or_default()
                {
                    out.push(FaultRecord {
                        workload: Some(w.clone().into()),
                        ..record(&f.system, kind, format!("{}/{}", w.kind, w.name))
                    });
                }
            }
            FaultKind::DeletePods => {
                out.push(record(&f.system, kind, format!("pods of {}", f.system)));
            }
            FaultKind::Isolate => out.push(record(
                &f.system,
                kind,
                format!(
                    "NetworkPolicy/{}",
                    names::isolation_policy(drill, &f.system)
                ),
            )),
            FaultKind::FailCheck => {
                let check = f
                    .fail_check
                    .as_ref()
                    .map(|fc| fc.check.clone())
                    .unwrap_or_default();
                out.push(FaultRecord {
                    check: Some(check.clone()),
                    ..record(&f.system, kind, format!("check {check}"))
                });
            }
        }
    }
    out
}

/// The spec fault a record was made from.
pub fn spec_of<'a>(faults: &'a [Fault], rec: &FaultRecord) -> Option<&'a Fault> {
    faults.iter().find(|f| {
        f.system == rec.system
            && f.kind() == Some(rec.kind)
            && match rec.kind {
                FaultKind::FailCheck => {
                    f.fail_check.as_ref().map(|fc| &fc.check) == rec.check.as_ref()
                }
                _ => true,
            }
    })
}

/// The error a check records when a drill's plan fails it on purpose.
pub fn forced_failure_error(drill: &str) -> String {
    format!("failed on purpose by drill {drill} (failCheck fault)")
}

/// Why `check` of `system` fails on purpose at `now`, if the plan was created by drill
/// `drill` with a `failCheck` fault for it that is still in force.
pub fn forced_failure(
    drill: Option<&PlanDrill>,
    system: &str,
    check: &str,
    now: Timestamp,
) -> Option<String> {
    let drill = drill?;
    drill
        .fail_checks
        .iter()
        .find(|f| f.system == system && f.check == check && in_force(f.until.as_ref(), now))
        .map(|_| forced_failure_error(&drill.name))
}

/// Why `check` of `system` fails at `now` because of drill `drill`, if it does: a
/// `failCheck` fault in force for it, or an isolation of the system in force while the
/// check is one that connects to it (`http`, `tcp`). An isolated system's connecting
/// checks are not tried: on a network that enforces the isolation they fail, and one that
/// got through would verify a system that is meant to be unreachable (a leak of the
/// network's enforcement, which the drill records as a breach, not a recovery). They fail
/// as the network would make them fail, against the check's deadline.
pub fn failed_by_drill(
    drill: Option<&PlanDrill>,
    system: &str,
    check: &crate::api::v1alpha1::Check,
    now: Timestamp,
) -> Option<String> {
    if let Some(why) = forced_failure(drill, system, &check.name, now) {
        return Some(why);
    }
    if !connects(check) {
        return None;
    }
    let (name, until) = isolation_in_force(drill, system, now)?;
    Some(match until {
        Some(t) => format!(
            "{HELD_BY_ISOLATION}{name} isolates {system} until {}",
            crate::engine::time::iso(t)
        ),
        None => format!("{HELD_BY_ISOLATION}{name} isolates {system} until its run ends"),
    })
}

/// How the error of a check held by an isolation begins ([`failed_by_drill`]).
pub const HELD_BY_ISOLATION: &str = "not tried: drill ";

/// Whether `check` connects to its system (`http`, `tcp`): what an isolation holds.
pub fn connects(check: &crate::api::v1alpha1::Check) -> bool {
    check.http.is_some() || check.tcp.is_some()
}

/// The ("system", "check") pairs of the run's isolated systems' connecting checks: their
/// failures while the isolation held them are the drill's doing.
pub fn isolated_checks(
    faults: &[FaultRecord],
    systems: &[ClinicalSystem],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in faults
        .iter()
        .filter(|r| r.kind == FaultKind::Isolate && r.injected_at.is_some())
    {
        let Some(system) = systems.iter().find(|s| s.name_any() == r.system) else {
            continue;
        };
        for c in system.spec.checks().iter().filter(|c| connects(c)) {
            let pair = (r.system.clone(), c.name.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// True while a fault that ends at `until` (`None`: when the run ends) is in force.
fn in_force(
    until: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    now: Timestamp,
) -> bool {
    until.is_none_or(|u| now < u.0)
}

/// The isolation of `system` that the plan created by drill `drill` enforces at `now`:
/// the drill's name and when the isolation ends (`None`: when the run ends). While one is
/// in force the system's release gate admits nobody.
pub fn isolation_in_force<'a>(
    drill: Option<&'a PlanDrill>,
    system: &str,
    now: Timestamp,
) -> Option<(&'a str, Option<Timestamp>)> {
    let drill = drill?;
    drill
        .isolations
        .iter()
        .find(|i| i.system == system && in_force(i.until.as_ref(), now))
        .map(|i| (drill.name.as_str(), i.until.as_ref().map(|u| u.0)))
}

/// What the pre-drill record says of `w`'s replicas.
fn replicas_before(pre_state: &[RecordedState], w: &WorkloadRef) -> i32 {
    pre_state
        .iter()
        .find(|r| r.kind == RecordedKind::from(w.kind) && r.name == w.name)
        .and_then(|r| r.replicas)
        .unwrap_or(0)
}

/// What [`inject`] needs of the run besides the fault it moves on.
#[derive(Clone, Copy, Debug)]
pub struct Injecting<'a> {
    /// The drill's name.
    pub drill: &'a str,
    /// The pods the fault acts on (`deletePods`, `isolate`).
    pub selector: Option<&'a LabelSelector>,
    /// The run's pre-drill record.
    pub pre_state: &'a [RecordedState],
    /// Whether another fault of the run removes this fault's system's pods (`deletePods`,
    /// `scaleToZero`): a refused connection then does not show the isolation alone.
    pub pods_removed: bool,
}

/// Moves one fault on while the run injects: injects it (recording the moment, then
/// acting, so a crash in between acts again on the next reconcile), acts again while it
/// has not taken effect, and records the proof once what was observed shows it did.
/// A `failCheck` is injected here and proven by the plan's record of the failure.
pub fn inject(
    facts: &Injecting<'_>,
    rec: &mut FaultRecord,
    observed: &Observed,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<Action> {
    let Injecting {
        drill,
        selector,
        pre_state,
        pods_removed,
    } = *facts;
    if rec.proven_at.is_some() {
        return None;
    }
    match rec.kind {
        FaultKind::ScaleToZero => {
            let w: WorkloadRef = rec.workload.clone()?.into();
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
                return Some(Action::SetReplicas {
                    workload: w,
                    replicas: 0,
                });
            }
            let seen = observed.workload(w.kind, &w.name)?;
            if seen.desired == 0 && seen.replicas == 0 && seen.pods == 0 {
                rec.proven_at = Some(now.clone());
                rec.proof = Some(format!(
                    "{} scaled from {} to 0 replicas; no pod left",
                    rec.target,
                    replicas_before(pre_state, &w)
                ));
                None
            } else if seen.desired != 0 {
                Some(Action::SetReplicas {
                    workload: w,
                    replicas: 0,
                })
            } else {
                None
            }
        }
        FaultKind::DeletePods => {
            let pods = observed.pods.get(&(rec.system.clone(), rec.kind))?;
            if rec.injected_at.is_none() {
                // Which pods, recorded with the moment before any is deleted: the proof
                // is that none of these is left, whatever replaces them.
                rec.injected_at = Some(now.clone());
                rec.pod_uids = pods.iter().map(|p| p.uid.clone()).collect();
                if pods.is_empty() {
                    rec.proven_at = Some(now.clone());
                    rec.proof = Some("no pod was running to delete".into());
                    return None;
                }
                return Some(Action::DeletePods { pods: pods.clone() });
            }
            let left: Vec<_> = pods
                .iter()
                .filter(|p| rec.pod_uids.contains(&p.uid))
                .cloned()
                .collect();
            if left.is_empty() {
                rec.proven_at = Some(now.clone());
                rec.proof = Some(format!(
                    "{} pods deleted, none of them left ({} replacements since)",
                    rec.pod_uids.len(),
                    pods.len()
                ));
                None
            } else {
                Some(Action::DeletePods { pods: left })
            }
        }
        FaultKind::Isolate => {
            let policy = names::isolation_policy(drill, &rec.system);
            let selector = selector?.clone();
            let gate = names::release_policy(&rec.system);
            let gate = pre_state
                .iter()
                .any(|r| r.kind == RecordedKind::NetworkPolicy && r.name == gate && r.existed)
                .then_some(gate);
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
            } else if observed.policy_exists(&policy) {
                let pods = observed
                    .pods
                    .get(&(rec.system.clone(), rec.kind))
                    .map_or(0, Vec::len);
                let in_place =
                    format!("deny-all NetworkPolicy {policy} in place, selecting {pods} pods");
                let waited = rec
                    .injected_at
                    .as_ref()
                    .and_then(|at| crate::engine::time::seconds_between(at.0, now.0))
                    .unwrap_or(0);
                // The proof is a connection that fails, where the system has a Service to
                // connect to: a policy the network does not enforce isolates nothing.
                let proof = match observed.probes.get(&rec.system) {
                    Some(p) if p.open.is_empty() && !p.blocked.is_empty() && pods_removed => {
                        format!(
                            "{in_place}; connections fail: {}, though the run also removes {}'s \
                             pods, which alone refuses them",
                            p.blocked.join("; "),
                            rec.system
                        )
                    }
                    Some(p) if p.open.is_empty() && !p.blocked.is_empty() => {
                        format!("{in_place}; connections fail: {}", p.blocked.join("; "))
                    }
                    Some(p) if !p.open.is_empty() && waited < ISOLATION_PROOF_SECONDS => {
                        // Not in effect yet: the network applies policies after a moment.
                        return Some(Action::Isolate {
                            policy,
                            system: rec.system.clone(),
                            selector,
                            gate,
                        });
                    }
                    Some(p) if !p.open.is_empty() => format!(
                        "{in_place}, but {} still accepted connections {waited}s on: this \
                         cluster's network may not enforce NetworkPolicy",
                        p.open.join(", ")
                    ),
                    Some(p) if !p.untried.is_empty() => {
                        format!("{in_place} (no connection tried: {})", p.untried.join("; "))
                    }
                    _ => format!(
                        "{in_place} (no connection tried: no http or tcp check of {} names \
                         a Service)",
                        rec.system
                    ),
                };
                rec.proven_at = Some(now.clone());
                rec.proof = Some(proof);
                return None;
            }
            Some(Action::Isolate {
                policy,
                system: rec.system.clone(),
                selector,
                gate,
            })
        }
        FaultKind::FailCheck => {
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
            }
            None
        }
    }
}

/// How long an `isolate` fault waits for its system's Service to stop accepting
/// connections before it goes on, saying the network may not enforce the policy.
pub const ISOLATION_PROOF_SECONDS: u64 = 30;

/// Where to connect to prove a system isolated: the host and port of each `http` and
/// `tcp` check whose host is a Service name (`*.svc`, `*.svc.cluster.local`), in order,
/// without repeats. Other hosts (addresses, names outside the cluster) may not be pods of
/// the system at all.
pub fn probe_targets(system: &ClinicalSystem) -> Vec<(String, u16)> {
    let checks = system.spec.verify.as_ref().map(|v| v.checks.as_slice());
    let mut out: Vec<(String, u16)> = Vec::new();
    for c in checks.unwrap_or_default() {
        let target = match (&c.http, &c.tcp) {
            // The URL as the check itself parses it (controller::steps::verify).
            (Some(h), _) => url::Url::parse(&h.url)
                .ok()
                .and_then(|u| Some((u.host_str()?.to_string(), u.port_or_known_default()?))),
            (None, Some(t)) => Some((t.host.clone(), t.port)),
            (None, None) => None,
        };
        if let Some(t) = target
            && names::is_cluster_name(&t.0)
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    out
}

/// The workload kind of a pre-drill record, for a Deployment or StatefulSet.
pub fn workload_of(r: &RecordedState) -> Option<WorkloadRef> {
    r.kind.workload().map(|kind: WorkloadKind| WorkloadRef {
        kind,
        name: r.name.clone(),
    })
}

#[cfg(test)]
mod isolation_proof {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;
    use crate::engine::drill::{PolicySeen, ProbeSeen};

    fn at(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    fn isolated(injected: &str) -> FaultRecord {
        FaultRecord {
            system: "lims".into(),
            kind: FaultKind::Isolate,
            target: "NetworkPolicy/x".into(),
            workload: None,
            check: None,
            injected_at: Some(at(injected)),
            proven_at: None,
            proof: None,
            lifted_at: None,
            pod_uids: vec![],
            watch: None,
        }
    }

    fn observed(probe: Option<ProbeSeen>) -> Observed {
        let mut o = Observed::default();
        o.policies.insert(
            names::isolation_policy("weekly", "lims"),
            Some(PolicySeen {
                drill: Some("weekly".into()),
                spec: None,
            }),
        );
        if let Some(p) = probe {
            o.probes.insert("lims".into(), p);
        }
        o
    }

    /// One `inject` of the isolation of lims by drill weekly, with `probe` observed.
    fn try_at(rec: &mut FaultRecord, probe: Option<ProbeSeen>, now: &Time) -> Option<Action> {
        let selector = selector();
        let facts = Injecting {
            drill: "weekly",
            selector: Some(&selector),
            pre_state: &[],
            pods_removed: false,
        };
        inject(&facts, rec, &observed(probe), now)
    }

    fn selector() -> LabelSelector {
        LabelSelector {
            match_labels: Some([("app".into(), "lims".into())].into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_connection_that_fails_is_the_proof() {
        let mut rec = isolated("2026-05-01T10:00:00Z");
        let probe = ProbeSeen {
            blocked: vec!["lims.lab.svc:8080 (10.96.0.9:8080): Connection refused".into()],
            ..Default::default()
        };
        let action = try_at(&mut rec, Some(probe), &at("2026-05-01T10:00:02Z"));
        assert_eq!(action, None);
        assert!(rec.proven_at.is_some());
        let proof = rec.proof.unwrap_or_default();
        assert!(
            proof.contains("in place") && proof.contains("connections fail: lims.lab.svc:8080"),
            "{proof}"
        );
    }

    #[test]
    fn a_system_still_reachable_is_not_proven_until_the_wait_is_over_and_then_says_so() {
        let probe = ProbeSeen {
            open: vec!["lims.lab.svc:8080".into()],
            ..Default::default()
        };
        let mut rec = isolated("2026-05-01T10:00:00Z");
        let action = try_at(&mut rec, Some(probe.clone()), &at("2026-05-01T10:00:05Z"));
        assert!(matches!(action, Some(Action::Isolate { .. })), "{action:?}");
        assert!(rec.proven_at.is_none() && rec.proof.is_none());

        let late = at("2026-05-01T10:00:30Z");
        let action = try_at(&mut rec, Some(probe), &late);
        assert_eq!(action, None);
        let proof = rec.proof.unwrap_or_default();
        assert!(
            proof.contains("still accepted connections 30s on")
                && proof.contains("may not enforce"),
            "{proof}"
        );
    }

    #[test]
    fn without_a_service_to_try_the_proof_says_no_connection_was_tried() {
        let mut rec = isolated("2026-05-01T10:00:00Z");
        try_at(&mut rec, None, &at("2026-05-01T10:00:01Z"));
        let proof = rec.proof.unwrap_or_default();
        assert!(
            proof.starts_with("deny-all NetworkPolicy") && proof.contains("no connection tried"),
            "{proof}"
        );
    }

    #[test]
    fn a_refusal_while_the_run_also_removes_the_pods_says_it_does_not_prove_the_isolation() {
        let mut rec = isolated("2026-05-01T10:00:00Z");
        let selector = selector();
        let facts = Injecting {
            drill: "weekly",
            selector: Some(&selector),
            pre_state: &[],
            pods_removed: true,
        };
        let probe = ProbeSeen {
            blocked: vec!["lims.lab.svc:8080 (10.96.0.9:8080): Connection refused".into()],
            ..Default::default()
        };
        inject(
            &facts,
            &mut rec,
            &observed(Some(probe)),
            &at("2026-05-01T10:00:02Z"),
        );
        let proof = rec.proof.unwrap_or_default();
        assert!(
            proof.contains("though the run also removes lims's pods"),
            "{proof}"
        );
    }

    #[test]
    fn a_target_that_could_not_be_tried_is_named_in_the_proof() {
        let mut rec = isolated("2026-05-01T10:00:00Z");
        let probe = ProbeSeen {
            untried: vec!["lims.lab.svc:8080: resolve lims.lab.svc: no such host".into()],
            ..Default::default()
        };
        try_at(&mut rec, Some(probe), &at("2026-05-01T10:00:01Z"));
        let proof = rec.proof.unwrap_or_default();
        assert!(
            proof.contains("(no connection tried: lims.lab.svc:8080: resolve"),
            "{proof}"
        );
    }

    #[test]
    fn probe_targets_are_the_service_names_of_http_and_tcp_checks() {
        let system: ClinicalSystem = serde_json::from_value(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": "lims", "namespace": "lab" },
            "spec": {
                "displayName": "LIMS", "tier": "critical", "recoveryTimeObjective": "1h",
                "verify": { "checks": [
                    { "name": "page", "http": { "url": "http://lims.lab.svc:8080/health?x=1" } },
                    { "name": "tls", "http": { "url": "https://lims.lab.svc.cluster.local/" } },
                    { "name": "again", "http": { "url": "http://lims.lab.svc:8080/other" } },
                    { "name": "db", "tcp": { "host": "lims-db.lab.svc", "port": 5432 } },
                    { "name": "outside", "http": { "url": "http://10.0.0.5:8080/" } },
                    { "name": "ready", "workloadReady": { "kind": "Deployment", "name": "lims" } }
                ] }
            }
        }))
        .expect("system");
        assert_eq!(
            probe_targets(&system),
            vec![
                ("lims.lab.svc".to_string(), 8080),
                ("lims.lab.svc.cluster.local".to_string(), 443),
                ("lims-db.lab.svc".to_string(), 5432),
            ]
        );
    }
}
