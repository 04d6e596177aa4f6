//! One reconcile of a RecoveryDrill. A run goes
//! `Idle -> (Waiting) -> Injecting -> Recovering -> Reverting -> Finished`:
//!
//! - **Start**: on a new `lifeline.dev/run-requested` token or when the schedule fires.
//!   The drill claims its systems in its own `status.held`; runs start one at a time
//!   (a lock in the operator, which runs as one leader), so two drills never hold one
//!   system; a system held by another drill makes this one wait, saying which. Then it
//!   records the state of everything it will change, in status, before touching
//!   anything.
//! - **Injecting**: each fault is injected, then proven (pods gone, policy in place) and
//!   the times recorded. Once every fault is proven, and the proofs are written, it
//!   creates the RecoveryPlan, owned by
//!   the drill, with the drill's `failCheck` faults in `spec.drill`.
//! - **Recovering**: measures each system from its fault to verified and released, lifts
//!   faults whose duration is over, and ends on the plan's end, the timeout or
//!   `spec.abort` (which abort the plan).
//! - **Reverting**: deletes the plan, then puts back what the recovery did not, from the
//!   recorded state, and releases the claims. Deleting the drill at any point does the
//!   same first (finalizer).
//!
//! Safety twice over: admission admits drills only in namespaces labelled
//! `lifeline.dev/environment=staging`, and this reconcile checks the label again and
//! refuses systems, dependencies or faults outside the drill's namespace.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{
    api::{
        core::v1::{Namespace, Pod},
        networking::v1::{NetworkPolicy, NetworkPolicySpec},
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::{
        controller::Action,
        events::{Event, EventType},
    },
};
use serde_json::json;
use tracing::{info, warn};

use super::{Context, FIELD_MANAGER, list_parsed, names, status as plan_status, workload};
use crate::{
    api::v1alpha1::{
        ClinicalSystem, DRILL_FINALIZER, DrillApprovals, DrillOutcome, DrillPhase, DrillRun,
        ENVIRONMENT_LABEL, FaultRecord, ForcedCheckFailure, PlanDrill, PlanPhase, RUN_ANNOTATION,
        RecordedState, RecoveryDrill, RecoveryDrillStatus, RecoveryPlan, RecoveryPlanSpec, STAGING,
        StepAction, WorkloadKind,
    },
    engine::drill::{self as measure, Schedule},
    engine::selection as selector,
    error::{Error, KubeContext},
};

/// The default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default `spec.historyLimit`.
pub const DEFAULT_HISTORY: usize = 5;
/// How often a running drill looks again (besides the watches).
pub const POLL: Duration = Duration::from_secs(1);
/// How often a waiting drill looks again for its systems to be free.
pub const WAIT_POLL: Duration = Duration::from_secs(5);
/// The label on objects a drill creates, naming it.
pub const DRILL_LABEL: &str = "lifeline.dev/drill";

/// The deny-all NetworkPolicy that isolates `system` for `drill`.
pub fn isolation_policy_name(drill: &str, system: &str) -> String {
    names::object_name(&["lifeline-drill", drill, system])
}

/// The RecoveryPlan of run `number` of `drill`.
pub fn plan_name(drill: &str, number: u32) -> String {
    names::object_name(&[drill, "run", &number.to_string()])
}

fn duration_of(d: Option<&crate::api::v1alpha1::DurationString>) -> Option<Duration> {
    d.and_then(|d| d.parse().ok())
}

fn plus(t: &Time, d: Duration) -> Time {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
    Time(
        t.0.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(secs))
            .unwrap_or(t.0),
    )
}

/// Reconciles one drill.
pub async fn reconcile(drill: Arc<RecoveryDrill>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    // Read the drill from the API server, not the watch cache: a run's record must be the
    // one last written (a stale copy could start a run twice or record the pre-drill state
    // after the faults).
    let ns = drill.namespace().unwrap_or_default();
    let api: Api<RecoveryDrill> = Api::namespaced(ctx.client.clone(), &ns);
    let fresh = api
        .get_opt(&drill.name_any())
        .await
        .during(|| format!("read RecoveryDrill {ns}/{}", drill.name_any()));
    let result = match fresh {
        Ok(Some(d)) => reconcile_inner(&d, &ctx).await,
        Ok(None) => Ok(Action::await_change()),
        Err(e) => Err(e),
    };
    ctx.metrics
        .observe_reconcile(started.elapsed(), result.as_ref().err());
    result
}

/// What to do after a failed reconcile of a drill.
pub fn error_policy(drill: Arc<RecoveryDrill>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(drill = %drill.name_any(), namespace = %drill.namespace().unwrap_or_default(), category = error.category(), error = %error, "drill reconcile failed");
    if error.is_transient() {
        Action::requeue(super::reconcile::ERROR_REQUEUE)
    } else {
        Action::requeue(super::reconcile::REFUSED_REQUEUE)
    }
}

/// The cluster side of one drill: its namespace and APIs.
struct Drill<'a> {
    ctx: &'a Context,
    drill: &'a RecoveryDrill,
    ns: String,
    name: String,
    now: Timestamp,
}

async fn reconcile_inner(drill: &RecoveryDrill, ctx: &Context) -> Result<Action, Error> {
    let d = Drill {
        ctx,
        drill,
        ns: drill.namespace().unwrap_or_default(),
        name: drill.name_any(),
        now: Timestamp::now(),
    };
    let prev = drill.status.clone().unwrap_or_default();
    let mut status = prev.clone();

    if drill.metadata.deletion_timestamp.is_some() {
        return d.finalize(&prev, status).await;
    }
    if !drill.finalizers().iter().any(|f| f == DRILL_FINALIZER) {
        d.add_finalizer().await?;
        return Ok(Action::await_change());
    }
    status.observed_generation = drill.metadata.generation;

    let active = matches!(
        status.phase,
        DrillPhase::Injecting | DrillPhase::Recovering | DrillPhase::Reverting
    );
    // Safety and validity, every time: a run in progress that becomes invalid is stopped
    // and reverted; otherwise nothing starts.
    let problem = match d.staging_problem().await? {
        Some(p) => Some(p),
        None => d.validate().await?,
    };
    if let Some(problem) = problem {
        if active {
            if status.phase != DrillPhase::Reverting
                && let Some(run) = status.run.as_mut()
            {
                run.outcome = Some(DrillOutcome::Refused);
                run.reason = Some(problem.clone());
                status.phase = DrillPhase::Reverting;
            }
        } else {
            if status.message.as_deref() != Some(problem.as_str()) {
                d.event(EventType::Warning, "DrillRefused", &problem).await;
            }
            status.message = Some(problem);
            if status.phase == DrillPhase::Waiting {
                status.phase = DrillPhase::Idle;
                status.run = status.run.filter(|r| r.started_at.is_some());
            }
            // Consume the request: a refused run is not started later by surprise.
            status.run_token = d.requested_token().or(status.run_token);
            d.set_conditions(&prev, &mut status, false, "Invalid");
            d.write(&prev, &status).await?;
            return Ok(Action::await_change());
        }
    }

    // Runs start one at a time, so that two drills never take the same system.
    let _starting = match status.phase {
        DrillPhase::Idle | DrillPhase::Finished | DrillPhase::Waiting => {
            Some(ctx.drill_starts.lock().await)
        }
        _ => None,
    };
    let requeue = match status.phase {
        DrillPhase::Idle | DrillPhase::Finished | DrillPhase::Waiting => {
            d.maybe_start(&mut status).await?
        }
        DrillPhase::Injecting => d.inject(&mut status).await?,
        DrillPhase::Recovering => d.recover(&mut status).await?,
        DrillPhase::Reverting => d.revert(&mut status).await?,
    };
    let running = !matches!(status.phase, DrillPhase::Idle | DrillPhase::Finished);
    d.set_conditions(
        &prev,
        &mut status,
        true,
        if running { "Running" } else { "Ready" },
    );
    d.write(&prev, &status).await?;
    Ok(requeue)
}

impl Drill<'_> {
    fn drills(&self) -> Api<RecoveryDrill> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    fn plans(&self) -> Api<RecoveryPlan> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    fn policies(&self) -> Api<NetworkPolicy> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    fn key(&self) -> String {
        format!("RecoveryDrill {}/{}", self.ns, self.name)
    }

    async fn event(&self, type_: EventType, reason: &str, note: &str) {
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(super::events::fit_note(note)),
            action: "Drill".into(),
            secondary: None,
        };
        if let Some(notifier) = &self.ctx.notifier {
            let phase = match reason {
                "DrillWaiting" => "Waiting",
                "DrillStopped" => "Reverting",
                "DrillFinished" => "Finished",
                _ => "Idle",
            };
            if let Some(n) = super::notify::for_drill_event(self.drill, phase, &ev) {
                notifier.send(n);
            }
        }
        if let Err(e) = self
            .ctx
            .recorder
            .publish(&ev, &self.drill.object_ref(&()))
            .await
        {
            warn!(reason, error = %e, "could not publish an Event");
        }
    }

    async fn add_finalizer(&self) -> Result<(), Error> {
        let mut finalizers = self.drill.finalizers().to_vec();
        finalizers.push(DRILL_FINALIZER.to_string());
        let patch = json!({ "metadata": {
            "finalizers": finalizers,
            "resourceVersion": self.drill.resource_version(),
        }});
        self.drills()
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .during(|| format!("add the finalizer to {}", self.key()))?;
        Ok(())
    }

    async fn write(
        &self,
        prev: &RecoveryDrillStatus,
        next: &RecoveryDrillStatus,
    ) -> Result<(), Error> {
        if prev == next {
            return Ok(());
        }
        let body = json!({
            "apiVersion": "lifeline.dev/v1alpha1",
            "kind": "RecoveryDrill",
            "status": next,
        });
        self.drills()
            .patch_status(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(body),
            )
            .await
            .during(|| format!("write the status of {}", self.key()))?;
        Ok(())
    }

    fn set_conditions(
        &self,
        prev: &RecoveryDrillStatus,
        next: &mut RecoveryDrillStatus,
        valid: bool,
        reason: &str,
    ) {
        let generation = self.drill.metadata.generation;
        let mut conditions = prev.conditions.clone();
        let running = !matches!(next.phase, DrillPhase::Idle | DrillPhase::Finished);
        plan_status::set_condition(
            &mut conditions,
            &prev.conditions,
            plan_status::NewCondition {
                type_: plan_status::READY,
                status: valid,
                reason: if valid { "Valid" } else { reason },
                message: next
                    .message
                    .clone()
                    .unwrap_or_else(|| "the drill is valid".into()),
            },
            generation,
            self.now,
        );
        plan_status::set_condition(
            &mut conditions,
            &prev.conditions,
            plan_status::NewCondition {
                type_: "Running",
                status: running,
                reason: if running { "Running" } else { "NotRunning" },
                message: format!("phase {}", next.phase),
            },
            generation,
            self.now,
        );
        next.conditions = conditions;
    }

    // ----- safety and validation -----

    /// Why the namespace does not allow drills, if it does not.
    async fn staging_problem(&self) -> Result<Option<String>, Error> {
        let namespaces: Api<Namespace> = Api::all(self.ctx.client.clone());
        let ns = namespaces
            .get(&self.ns)
            .await
            .during(|| format!("read Namespace {}", self.ns))?;
        let label = ns.labels().get(ENVIRONMENT_LABEL).map(String::as_str);
        Ok((label != Some(STAGING)).then(|| {
            format!(
                "namespace {} is not labelled {ENVIRONMENT_LABEL}={STAGING}: drills run only in staging",
                self.ns
            )
        }))
    }

    /// The drill's systems (ClinicalSystems in its namespace), or why it cannot run.
    async fn systems(&self) -> Result<Result<Vec<ClinicalSystem>, String>, Error> {
        let (all, bad) = list_parsed::<ClinicalSystem>(&self.ctx.client, &self.ns).await?;
        let keys = match selector::select_systems(
            &self.ns,
            &self.drill.spec.systems,
            all.iter().map(|s| {
                (
                    s.metadata.name.as_deref().unwrap_or_default(),
                    s.metadata.labels.as_ref(),
                )
            }),
        ) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = Vec::new();
        for key in keys {
            let name = key.rsplit('/').next().unwrap_or(&key);
            if let Some((_, why)) = bad.iter().find(|(n, _)| n == name) {
                return Ok(Err(format!(
                    "ClinicalSystem {}/{name} is malformed: {why}",
                    self.ns
                )));
            }
            match all.iter().find(|s| s.name_any() == name) {
                Some(s) => out.push(s.clone()),
                None => {
                    return Ok(Err(format!(
                        "spec.systems: {name} is not a ClinicalSystem in namespace {}: a drill touches nothing outside its namespace",
                        self.ns
                    )));
                }
            }
        }
        if out.is_empty() {
            return Ok(Err("spec.systems selects no ClinicalSystem".into()));
        }
        Ok(Ok(out))
    }

    /// Why the drill cannot run, if it cannot.
    async fn validate(&self) -> Result<Option<String>, Error> {
        let spec = &self.drill.spec;
        if let Some(expr) = &spec.schedule
            && let Err(e) = Schedule::parse(expr)
        {
            return Ok(Some(e));
        }
        if let Some(t) = &spec.timeout
            && let Err(e) = t.parse()
        {
            return Ok(Some(format!("spec.timeout: {e}")));
        }
        let systems = match self.systems().await? {
            Ok(s) => s,
            Err(e) => return Ok(Some(e)),
        };
        for s in &systems {
            for dep in &s.spec.depends_on {
                if let Some(other) = dep.namespace.as_deref().filter(|n| *n != self.ns) {
                    return Ok(Some(format!(
                        "ClinicalSystem {}/{} depends on {other}/{}, outside the drill's namespace: a drill touches nothing outside its namespace",
                        self.ns,
                        s.name_any(),
                        dep.name
                    )));
                }
            }
        }
        for (i, f) in spec.faults.iter().enumerate() {
            let Some(system) = systems.iter().find(|s| s.name_any() == f.system) else {
                return Ok(Some(format!(
                    "spec.faults[{i}].system: {} is not one of the drill's systems",
                    f.system
                )));
            };
            if let Some(fc) = &f.fail_check
                && !system.spec.checks().iter().any(|c| c.name == fc.check)
            {
                return Ok(Some(format!(
                    "spec.faults[{i}].failCheck.check: ClinicalSystem {} has no check {}",
                    f.system, fc.check
                )));
            }
            let needs_pods = f.delete_pods.as_ref().is_some_and(|p| p.selector.is_none())
                || f.isolate.as_ref().is_some_and(|p| p.selector.is_none());
            if needs_pods && system.spec.release.is_none() {
                return Ok(Some(format!(
                    "spec.faults[{i}]: ClinicalSystem {} has no release.podSelector; set the fault's selector",
                    f.system
                )));
            }
            if let Some(sz) = &f.scale_to_zero
                && sz.workloads.is_empty()
                && scale_targets(system).is_empty()
            {
                return Ok(Some(format!(
                    "spec.faults[{i}].scaleToZero: ClinicalSystem {} has no scale step; name the workloads",
                    f.system
                )));
            }
            if let Some(d) = f.isolate.as_ref().and_then(|x| x.duration.as_ref())
                && let Err(e) = d.parse()
            {
                return Ok(Some(format!("spec.faults[{i}].isolate.duration: {e}")));
            }
            if let Some(d) = f.fail_check.as_ref().and_then(|x| x.duration.as_ref())
                && let Err(e) = d.parse()
            {
                return Ok(Some(format!("spec.faults[{i}].failCheck.duration: {e}")));
            }
        }
        Ok(None)
    }

    // ----- starting a run -----

    fn requested_token(&self) -> Option<String> {
        self.drill.annotations().get(RUN_ANNOTATION).cloned()
    }

    async fn maybe_start(&self, status: &mut RecoveryDrillStatus) -> Result<Action, Error> {
        let token = self.requested_token();
        let manual = token.is_some() && token != status.run_token;
        let mut scheduled = false;
        let mut next_fire = None;
        let mut fired_at = None;
        if let Some(expr) = &self.drill.spec.schedule
            && let Ok(schedule) = Schedule::parse(expr)
        {
            let last = status
                .last_schedule_time
                .as_ref()
                .or(self.drill.metadata.creation_timestamp.as_ref())
                .map(|t| t.0)
                .unwrap_or(self.now);
            let (fired, next) = schedule.due(last, self.now);
            scheduled = fired.is_some();
            fired_at = fired;
            next_fire = next;
            status.next_schedule_time = next.map(Time);
        }
        let waiting = status.phase == DrillPhase::Waiting;
        if !(manual || scheduled || waiting) {
            status.message = None;
            return Ok(match next_fire {
                Some(t) => Action::requeue(until(self.now, t)),
                None => Action::await_change(),
            });
        }
        // The request this run answers: a new one, or the one a waiting run was for.
        let request = if manual {
            token.clone()
        } else if waiting {
            status.run.as_ref().and_then(|r| r.token.clone())
        } else {
            None
        };
        if manual {
            status.run_token = token;
        }
        if let Some(at) = fired_at {
            status.last_schedule_time = Some(Time(at));
        }
        if self.drill.spec.abort {
            status.phase = if status.run.is_some() {
                DrillPhase::Finished
            } else {
                DrillPhase::Idle
            };
            status.run = status.run.take().filter(|r| r.started_at.is_some());
            status.message = Some("spec.abort is set: no run starts until it is cleared".into());
            return Ok(Action::await_change());
        }
        let trigger = if waiting {
            status
                .run
                .as_ref()
                .map(|r| r.trigger.clone())
                .unwrap_or_else(|| "manual".into())
        } else if manual {
            "manual".to_string()
        } else {
            "schedule".to_string()
        };
        let number = status
            .run
            .as_ref()
            .filter(|r| r.started_at.is_some())
            .map(|r| r.number)
            .into_iter()
            .chain(status.history.iter().map(|h| h.number))
            .max()
            .unwrap_or(0)
            + 1;
        let systems = match self.systems().await? {
            Ok(s) => s,
            Err(e) => {
                status.message = Some(e);
                return Ok(Action::await_change());
            }
        };
        // Hold every system, or wait for the drill that holds one.
        if let Some(holder) = self.holder(&systems).await? {
            if !waiting {
                self.event(EventType::Normal, "DrillWaiting", &holder).await;
            }
            status.phase = DrillPhase::Waiting;
            status.message = Some(format!(
                "waiting: {holder}; this run starts when it is free"
            ));
            if !waiting {
                // The runs before this one stay in history; this one is pending.
                if let Some(done) = status.run.take().filter(|r| r.started_at.is_some()) {
                    push_history(status, &done, self.history_limit());
                }
                status.run = Some(DrillRun {
                    number,
                    trigger,
                    token: request,
                    ..Default::default()
                });
            }
            return Ok(Action::requeue(WAIT_POLL));
        }
        let pre_state = self.record_pre_state(&systems).await?;
        // A workload to scale that is not there: nothing to break, nothing to measure.
        if let Some(missing) = pre_state
            .iter()
            .find(|r| r.replicas.is_none() && !r.existed && r.kind != "NetworkPolicy")
        {
            let why = format!(
                "spec.faults: {}/{} does not exist in namespace {}; the run was not started",
                missing.kind, missing.name, self.ns
            );
            self.event(EventType::Warning, "DrillRefused", &why).await;
            status.message = Some(why);
            if waiting {
                status.phase = DrillPhase::Idle;
                status.run = None;
            }
            return Ok(Action::await_change());
        }
        let faults = self.fault_records(&systems);
        status.held = systems.iter().map(|s| s.name_any()).collect();
        status.run = Some(DrillRun {
            number,
            trigger: trigger.clone(),
            token: request,
            started_at: Some(Time(self.now)),
            pre_state,
            faults,
            ..Default::default()
        });
        status.phase = DrillPhase::Injecting;
        status.message = Some(format!("run {number} ({trigger}): injecting faults"));
        info!(drill = %self.key(), number, %trigger, "drill run started");
        self.event(
            EventType::Normal,
            "DrillStarted",
            &format!("run {number} started ({trigger}); pre-drill state recorded"),
        )
        .await;
        Ok(Action::requeue(Duration::from_millis(100)))
    }

    fn history_limit(&self) -> usize {
        self.drill
            .spec
            .history_limit
            .map(|n| n as usize)
            .unwrap_or(DEFAULT_HISTORY)
    }

    /// Who holds one of `systems`, if another drill in a run does. Drills hold their
    /// systems in `status.held`; the operator starts runs one at a time (under
    /// `Context::drill_starts`) and reads the other drills from the API server, so two
    /// runs never take the same system.
    async fn holder(&self, systems: &[ClinicalSystem]) -> Result<Option<String>, Error> {
        let others = self
            .drills()
            .list(&ListParams::default())
            .await
            .during(|| format!("list RecoveryDrills in {}", self.ns))?;
        for other in others.items.iter().filter(|o| o.name_any() != self.name) {
            let st = other.status.clone().unwrap_or_default();
            if !matches!(
                st.phase,
                DrillPhase::Injecting | DrillPhase::Recovering | DrillPhase::Reverting
            ) {
                continue;
            }
            if let Some(s) = systems.iter().find(|s| st.held.contains(&s.name_any())) {
                return Ok(Some(format!(
                    "ClinicalSystem {} is held by drill {}/{}",
                    s.name_any(),
                    self.ns,
                    other.name_any()
                )));
            }
        }
        Ok(None)
    }

    /// The workloads and policies the run will change, as they are now.
    async fn record_pre_state(
        &self,
        systems: &[ClinicalSystem],
    ) -> Result<Vec<RecordedState>, Error> {
        let mut out: Vec<RecordedState> = Vec::new();
        // Workloads: those the faults scale to zero (recorded even when missing: the run
        // is refused then), then those the recovery scales (recorded where they exist, to
        // put back what it changed), each once.
        let mut workloads: Vec<(WorkloadKind, String, bool)> = Vec::new();
        for f in &self.drill.spec.faults {
            let system = systems.iter().find(|s| s.name_any() == f.system);
            if let (Some(sz), Some(system)) = (&f.scale_to_zero, system) {
                workloads.extend(
                    workload_targets(sz, system)
                        .into_iter()
                        .map(|(k, n)| (k, n, true)),
                );
            }
        }
        workloads.extend(
            systems
                .iter()
                .flat_map(scale_targets)
                .map(|(k, n)| (k, n, false)),
        );
        for (i, (kind, name, broken)) in workloads.iter().enumerate() {
            if workloads[..i]
                .iter()
                .any(|(k, n, _)| k == kind && n == name)
            {
                continue;
            }
            let st = workload::state(&self.ctx.client, &self.ns, *kind, name).await?;
            if st.is_none() && !broken {
                continue;
            }
            out.push(RecordedState {
                kind: kind.to_string(),
                name: name.clone(),
                replicas: st.as_ref().map(|s| s.desired),
                existed: st.is_some(),
                policy_spec: None,
            });
        }
        for f in self
            .drill
            .spec
            .faults
            .iter()
            .filter(|f| f.isolate.is_some())
        {
            if !systems.iter().any(|s| s.name_any() == f.system) {
                continue;
            }
            let name = isolation_policy_name(&self.name, &f.system);
            if out
                .iter()
                .any(|r| r.kind == "NetworkPolicy" && r.name == name)
            {
                continue;
            }
            let existing = self
                .policies()
                .get_opt(&name)
                .await
                .during(|| format!("read NetworkPolicy {}/{name}", self.ns))?;
            // A policy left by an earlier run of this drill is the drill's own.
            let ours = existing
                .as_ref()
                .is_some_and(|p| p.labels().get(DRILL_LABEL) == Some(&self.name));
            out.push(RecordedState {
                kind: "NetworkPolicy".into(),
                existed: existing.is_some() && !ours,
                policy_spec: None,
                replicas: None,
                name,
            });
        }
        // The recovery applies release gates: record them to put back as they were.
        for s in systems.iter().filter(|s| s.spec.release.is_some()) {
            let name = super::release::policy_name(&s.name_any());
            let existing = self
                .policies()
                .get_opt(&name)
                .await
                .during(|| format!("read NetworkPolicy {}/{name}", self.ns))?;
            out.push(RecordedState {
                kind: "NetworkPolicy".into(),
                existed: existing.is_some(),
                policy_spec: existing
                    .and_then(|p| p.spec)
                    .and_then(|spec| serde_json::to_string(&spec).ok()),
                replicas: None,
                name,
            });
        }
        Ok(out)
    }

    /// One record per fault and target, nothing injected yet.
    fn fault_records(&self, systems: &[ClinicalSystem]) -> Vec<FaultRecord> {
        let mut out = Vec::new();
        let record = |system: &str, kind: &str, target: String| FaultRecord {
            system: system.to_string(),
            kind: kind.to_string(),
            target,
            injected_at: None,
            proven_at: None,
            proof: None,
            lifted_at: None,
            pod_uids: vec![],
        };
        for f in &self.drill.spec.faults {
            let Some(system) = systems.iter().find(|s| s.name_any() == f.system) else {
                continue;
            };
            if let Some(sz) = &f.scale_to_zero {
                for (kind, name) in workload_targets(sz, system) {
                    out.push(record(&f.system, "scaleToZero", format!("{kind}/{name}")));
                }
            }
            if f.delete_pods.is_some() {
                out.push(record(
                    &f.system,
                    "deletePods",
                    format!("pods of {}", f.system),
                ));
            }
            if f.isolate.is_some() {
                out.push(record(
                    &f.system,
                    "isolate",
                    format!(
                        "NetworkPolicy/{}",
                        isolation_policy_name(&self.name, &f.system)
                    ),
                ));
            }
            if let Some(fc) = &f.fail_check {
                out.push(record(
                    &f.system,
                    "failCheck",
                    format!("check {}", fc.check),
                ));
            }
        }
        out
    }

    // ----- injecting -----

    /// The pod selector of fault `f` for `system`, as a list selector string.
    fn pod_selector(f: Option<&LabelSelector>, system: &ClinicalSystem) -> Option<LabelSelector> {
        f.cloned()
            .or_else(|| system.spec.release.as_ref().map(|r| r.pod_selector.clone()))
    }

    async fn pods_matching(&self, sel: &LabelSelector) -> Result<Vec<Pod>, Error> {
        let selector =
            kube::core::Selector::try_from(sel.clone()).map_err(|e| Error::InvalidObject {
                what: format!("{} pod selector", self.key()),
                message: e.to_string(),
            })?;
        Ok(self
            .pods()
            .list(&ListParams::default().labels_from(&selector))
            .await
            .during(|| format!("list pods in {}", self.ns))?
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect())
    }

    async fn inject(&self, status: &mut RecoveryDrillStatus) -> Result<Action, Error> {
        if let Some(action) = self.stop_condition(status).await? {
            return Ok(action);
        }
        let systems = match self.systems().await? {
            Ok(s) => s,
            Err(e) => {
                status.message = Some(e);
                return Ok(Action::requeue(POLL));
            }
        };
        let Some(run) = status.run.as_mut() else {
            status.phase = DrillPhase::Idle;
            return Ok(Action::await_change());
        };
        let now = Time(self.now);
        let before = run.faults.clone();
        for i in 0..run.faults.len() {
            let fault = run.faults[i].clone();
            let Some(system) = systems.iter().find(|s| s.name_any() == fault.system) else {
                continue;
            };
            let spec = self
                .drill
                .spec
                .faults
                .iter()
                .filter(|f| f.system == fault.system);
            match fault.kind.as_str() {
                "scaleToZero" => {
                    let Some((kind, name)) = parse_target(&fault.target) else {
                        continue;
                    };
                    if fault.injected_at.is_none() {
                        workload::set_replicas(&self.ctx.client, &self.ns, kind, name, 0).await?;
                        run.faults[i].injected_at = Some(now.clone());
                    } else if fault.proven_at.is_none() {
                        let st = workload::state(&self.ctx.client, &self.ns, kind, name).await?;
                        let pods =
                            match workload::pod_labels(&self.ctx.client, &self.ns, kind, name)
                                .await?
                            {
                                Some(labels) => self
                                    .pods_matching(&LabelSelector {
                                        match_labels: Some(labels),
                                        ..Default::default()
                                    })
                                    .await?
                                    .len(),
                                None => 0,
                            };
                        if st
                            .as_ref()
                            .is_some_and(|s| s.desired == 0 && s.replicas == 0)
                            && pods == 0
                        {
                            let was = run
                                .pre_state
                                .iter()
                                .find(|r| format!("{}/{}", r.kind, r.name) == fault.target)
                                .and_then(|r| r.replicas)
                                .unwrap_or(0);
                            run.faults[i].proven_at = Some(now.clone());
                            run.faults[i].proof = Some(format!(
                                "{} scaled from {was} to 0 replicas; no pod left",
                                fault.target
                            ));
                        }
                    }
                }
                "deletePods" => {
                    let sel = spec
                        .clone()
                        .find_map(|f| f.delete_pods.as_ref())
                        .and_then(|p| Self::pod_selector(p.selector.as_ref(), system));
                    let Some(sel) = sel else { continue };
                    if fault.pod_uids.is_empty() && fault.injected_at.is_none() {
                        // Record which pods before deleting them (status first).
                        let pods = self.pods_matching(&sel).await?;
                        run.faults[i].pod_uids =
                            pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
                        if run.faults[i].pod_uids.is_empty() {
                            run.faults[i].injected_at = Some(now.clone());
                            run.faults[i].proven_at = Some(now.clone());
                            run.faults[i].proof = Some("no pod was running to delete".into());
                        }
                        return Ok(Action::requeue(Duration::from_millis(100)));
                    }
                    if fault.injected_at.is_none() {
                        let pods = self.pods_matching(&sel).await?;
                        for p in pods.iter().filter(|p| {
                            p.metadata
                                .uid
                                .as_ref()
                                .is_some_and(|u| fault.pod_uids.contains(u))
                        }) {
                            let dp = DeleteParams {
                                preconditions: Some(Preconditions {
                                    uid: p.metadata.uid.clone(),
                                    resource_version: None,
                                }),
                                ..Default::default()
                            };
                            match self.pods().delete(&p.name_any(), &dp).await {
                                Ok(_) => {}
                                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                                Err(e) => {
                                    return Err(e).during(|| {
                                        format!("delete pod {}/{}", self.ns, p.name_any())
                                    });
                                }
                            }
                        }
                        run.faults[i].injected_at = Some(now.clone());
                    } else if fault.proven_at.is_none() {
                        let pods = self.pods_matching(&sel).await?;
                        let left = pods
                            .iter()
                            .filter(|p| {
                                p.metadata
                                    .uid
                                    .as_ref()
                                    .is_some_and(|u| fault.pod_uids.contains(u))
                            })
                            .count();
                        if left == 0 {
                            run.faults[i].proven_at = Some(now.clone());
                            run.faults[i].proof = Some(format!(
                                "{} pods deleted, none of them left ({} replacements since)",
                                fault.pod_uids.len(),
                                pods.len()
                            ));
                        }
                    }
                }
                "isolate" => {
                    let sel = spec
                        .clone()
                        .find_map(|f| f.isolate.as_ref())
                        .and_then(|p| Self::pod_selector(p.selector.as_ref(), system));
                    let Some(sel) = sel else { continue };
                    let name = isolation_policy_name(&self.name, &fault.system);
                    if fault.injected_at.is_none() {
                        self.apply_isolation(&name, &fault.system, &sel).await?;
                        run.faults[i].injected_at = Some(now.clone());
                    } else if fault.proven_at.is_none()
                        && self
                            .policies()
                            .get_opt(&name)
                            .await
                            .during(|| format!("read NetworkPolicy {}/{name}", self.ns))?
                            .is_some()
                    {
                        let pods = self.pods_matching(&sel).await?.len();
                        run.faults[i].proven_at = Some(now.clone());
                        run.faults[i].proof = Some(format!(
                            "deny-all NetworkPolicy {name} in place, selecting {pods} pods"
                        ));
                    }
                }
                // Injected with the plan, proven when the plan records the failure.
                "failCheck" if fault.injected_at.is_none() => {
                    run.faults[i].injected_at = Some(now.clone());
                }
                _ => {}
            }
        }
        let ready = run
            .faults
            .iter()
            .all(|f| f.kind == "failCheck" || f.proven_at.is_some());
        if !ready {
            return Ok(Action::requeue(POLL));
        }
        if run.faults != before {
            // The proofs go into status before the plan exists: once the plan scales a
            // workload back up, its scaleToZero could never be proven again.
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        // Every fault has taken effect, as recorded: start the recovery.
        let number = run.number;
        let plan = self.plan_object(run, &systems)?;
        match self.plans().create(&PostParams::default(), &plan).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => {
                return Err(e)
                    .during(|| format!("create RecoveryPlan {}/{}", self.ns, plan.name_any()));
            }
        }
        run.plan = Some(plan.name_any());
        run.recovery_started_at = Some(now.clone());
        run.systems = measure::measure(run, None, &[]);
        status.phase = DrillPhase::Recovering;
        status.message = Some(format!(
            "run {number}: every fault proven; recovering with RecoveryPlan {}",
            plan.name_any()
        ));
        self.event(
            EventType::Normal,
            "RecoveryStarted",
            &format!(
                "run {number}: faults proven; RecoveryPlan {} created",
                plan.name_any()
            ),
        )
        .await;
        Ok(Action::requeue(POLL))
    }

    async fn apply_isolation(
        &self,
        name: &str,
        system: &str,
        sel: &LabelSelector,
    ) -> Result<(), Error> {
        let policy = NetworkPolicy {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(BTreeMap::from([
                    (DRILL_LABEL.to_string(), self.name.clone()),
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "lifeline".to_string(),
                    ),
                ])),
                annotations: Some(BTreeMap::from([(
                    "lifeline.dev/purpose".to_string(),
                    format!(
                        "drill {} isolates {system}: no traffic in or out",
                        self.name
                    ),
                )])),
                owner_references: Some(vec![self.owner()]),
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(sel.clone()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![]),
                egress: Some(vec![]),
            }),
        };
        let body = serde_json::to_value(&policy).map_err(|source| Error::Serialize {
            what: format!("NetworkPolicy {name}"),
            source,
        })?;
        let mut body = body;
        body["apiVersion"] = json!("networking.k8s.io/v1");
        body["kind"] = json!("NetworkPolicy");
        self.policies()
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .during(|| format!("create NetworkPolicy {}/{name}", self.ns))?;
        Ok(())
    }

    fn owner(&self) -> OwnerReference {
        OwnerReference {
            api_version: "lifeline.dev/v1alpha1".into(),
            kind: "RecoveryDrill".into(),
            name: self.name.clone(),
            uid: self.drill.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }
    }

    /// The run's RecoveryPlan, owned by the drill.
    fn plan_object(
        &self,
        run: &DrillRun,
        systems: &[ClinicalSystem],
    ) -> Result<RecoveryPlan, Error> {
        let spec = &self.drill.spec;
        let mut stages = spec.recovery.stages.clone();
        if spec.approvals == DrillApprovals::Automatic {
            for s in &mut stages {
                s.approval = Default::default();
                s.checklist.clear();
            }
        }
        let fail_checks = spec
            .faults
            .iter()
            .filter_map(|f| f.fail_check.as_ref().map(|fc| (f, fc)))
            .map(|(f, fc)| {
                let injected = run
                    .faults
                    .iter()
                    .find(|r| {
                        r.kind == "failCheck"
                            && r.system == f.system
                            && r.target == format!("check {}", fc.check)
                    })
                    .and_then(|r| r.injected_at.clone());
                ForcedCheckFailure {
                    system: f.system.clone(),
                    check: fc.check.clone(),
                    until: match (injected, duration_of(fc.duration.as_ref())) {
                        (Some(t), Some(d)) => Some(plus(&t, d)),
                        _ => None,
                    },
                }
            })
            .collect();
        let names: Vec<String> = systems.iter().map(|s| s.name_any()).collect();
        let name = plan_name(&self.name, run.number);
        let mut plan = RecoveryPlan::new(
            &name,
            RecoveryPlanSpec {
                systems: crate::api::v1alpha1::SystemSelection {
                    selector: None,
                    names: Some(names),
                },
                parallelism: spec.recovery.parallelism,
                failure_policy: spec.recovery.failure_policy,
                paused: false,
                abort: false,
                stages,
                requested_by: Some(self.ctx.username.clone()).filter(|u| !u.is_empty()),
                drill: Some(PlanDrill {
                    name: self.name.clone(),
                    fail_checks,
                }),
            },
        );
        plan.metadata.namespace = Some(self.ns.clone());
        plan.metadata.owner_references = Some(vec![self.owner()]);
        plan.metadata.labels = Some(BTreeMap::from([
            (DRILL_LABEL.to_string(), self.name.clone()),
            ("lifeline.dev/drill-run".to_string(), run.number.to_string()),
        ]));
        Ok(plan)
    }

    // ----- recovering -----

    /// Ends the run on `spec.abort` or the timeout: records why and goes to Reverting.
    async fn stop_condition(
        &self,
        status: &mut RecoveryDrillStatus,
    ) -> Result<Option<Action>, Error> {
        let timeout = duration_of(self.drill.spec.timeout.as_ref()).unwrap_or(DEFAULT_TIMEOUT);
        let Some(run) = status.run.as_mut() else {
            return Ok(None);
        };
        let (outcome, reason) = if self.drill.spec.abort {
            (DrillOutcome::Aborted, "spec.abort was set".to_string())
        } else if run
            .started_at
            .as_ref()
            .is_some_and(|t| self.now >= plus(t, timeout).0)
        {
            (
                DrillOutcome::TimedOut,
                format!(
                    "the run took longer than its timeout of {}",
                    crate::api::v1alpha1::format_duration(timeout)
                ),
            )
        } else {
            return Ok(None);
        };
        run.outcome = Some(outcome);
        run.reason = Some(reason.clone());
        status.phase = DrillPhase::Reverting;
        status.message = Some(format!("run {}: {reason}; reverting", run.number));
        self.event(EventType::Warning, "DrillStopped", &reason)
            .await;
        Ok(Some(Action::requeue(Duration::from_millis(100))))
    }

    async fn recover(&self, status: &mut RecoveryDrillStatus) -> Result<Action, Error> {
        if let Some(action) = self.stop_condition(status).await? {
            return Ok(action);
        }
        let Some(run) = status.run.as_mut() else {
            status.phase = DrillPhase::Idle;
            return Ok(Action::await_change());
        };
        let plan_name = run
            .plan
            .clone()
            .unwrap_or_else(|| plan_name(&self.name, run.number));
        let Some(plan) = self
            .plans()
            .get_opt(&plan_name)
            .await
            .during(|| format!("read RecoveryPlan {}/{plan_name}", self.ns))?
        else {
            run.outcome = Some(DrillOutcome::Aborted);
            run.reason = Some(format!("RecoveryPlan {plan_name} was deleted"));
            status.phase = DrillPhase::Reverting;
            return Ok(Action::requeue(Duration::from_millis(100)));
        };
        let plan_status = plan.status.clone().unwrap_or_default();
        let mut next = POLL * 2;
        let now = Time(self.now);
        // Faults with a duration are lifted when it is over; failCheck faults are proven by
        // the plan's record of the failure.
        for i in 0..run.faults.len() {
            let f = run.faults[i].clone();
            let spec = self.drill.spec.faults.iter().find(|s| {
                s.system == f.system
                    && match f.kind.as_str() {
                        "isolate" => s.isolate.is_some(),
                        "failCheck" => s
                            .fail_check
                            .as_ref()
                            .is_some_and(|fc| f.target == format!("check {}", fc.check)),
                        _ => false,
                    }
            });
            let duration = spec.and_then(|s| {
                duration_of(s.isolate.as_ref().and_then(|x| x.duration.as_ref())).or_else(|| {
                    duration_of(s.fail_check.as_ref().and_then(|x| x.duration.as_ref()))
                })
            });
            if f.kind == "failCheck" && f.proven_at.is_none() {
                let check = f.target.trim_start_matches("check ");
                let seen = plan_status
                    .systems
                    .iter()
                    .find(|s| s.name.rsplit('/').next() == Some(f.system.as_str()))
                    .and_then(|s| s.checks.iter().find(|c| c.name == check))
                    .filter(|c| {
                        c.last_error
                            .as_deref()
                            .is_some_and(|e| e.contains("failed on purpose"))
                    });
                if let Some(c) = seen {
                    run.faults[i].proven_at = c
                        .last_failed_at
                        .clone()
                        .or_else(|| c.last_attempt_at.clone())
                        .or(Some(now.clone()));
                    run.faults[i].proof = Some(format!(
                        "check {check} failed: {}",
                        c.last_error.clone().unwrap_or_default()
                    ));
                }
            }
            if let (Some(d), Some(at), None) =
                (duration, f.injected_at.as_ref(), f.lifted_at.as_ref())
            {
                let due = plus(at, d);
                if self.now >= due.0 {
                    if f.kind == "isolate" {
                        self.delete_policy(&isolation_policy_name(&self.name, &f.system))
                            .await?;
                    }
                    run.faults[i].lifted_at = Some(if f.kind == "failCheck" {
                        due
                    } else {
                        now.clone()
                    });
                } else {
                    next = next.min(until(self.now, due.0));
                }
            }
        }
        self.record_measurements(run, &plan);
        let done = matches!(
            plan_status.phase,
            PlanPhase::Succeeded | PlanPhase::Failed | PlanPhase::Aborted
        ) && plan_status.observed_generation == plan.metadata.generation;
        if done {
            let (outcome, mut reason) = measure::outcome(plan_status.phase, &run.systems);
            let unproven = measure::unproven(run);
            if !unproven.is_empty() {
                reason.push_str(&format!(
                    "; faults never seen to take effect: {}",
                    unproven.join(", ")
                ));
            }
            run.outcome = Some(outcome);
            run.reason = Some(reason.clone());
            status.message = Some(format!("run {}: {reason}; reverting", run.number));
            status.phase = DrillPhase::Reverting;
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        status.message = Some(format!(
            "run {}: recovering, {} systems verified",
            run.number,
            plan_status.progress.clone().unwrap_or_else(|| "0/0".into())
        ));
        Ok(Action::requeue(next.max(Duration::from_millis(200))))
    }

    /// Each system's measurements and the approvals, from the plan's status.
    fn record_measurements(&self, run: &mut DrillRun, plan: &RecoveryPlan) {
        let forced: Vec<(String, String)> = plan
            .spec
            .drill
            .as_ref()
            .map(|d| {
                d.fail_checks
                    .iter()
                    .map(|f| (f.system.clone(), f.check.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let status = plan.status.clone().unwrap_or_default();
        run.systems = measure::measure(run, Some(&status), &forced);
        run.approvals = measure::approvals(
            Some(&status),
            &self.drill.spec.recovery.stages,
            self.drill.spec.approvals == DrillApprovals::Automatic,
        );
    }

    // ----- reverting -----

    async fn delete_policy(&self, name: &str) -> Result<bool, Error> {
        match self.policies().delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
            Err(e) => Err(e).during(|| format!("delete NetworkPolicy {}/{name}", self.ns)),
        }
    }

    /// Deletes the run's plan; true once it is gone.
    async fn plan_gone(&self, run: &DrillRun) -> Result<bool, Error> {
        let Some(name) = run.plan.clone() else {
            // No plan recorded; one may exist if the operator stopped right after creating it.
            let name = plan_name(&self.name, run.number);
            return self.delete_plan(&name).await;
        };
        self.delete_plan(&name).await
    }

    async fn delete_plan(&self, name: &str) -> Result<bool, Error> {
        let Some(plan) = self
            .plans()
            .get_opt(name)
            .await
            .during(|| format!("read RecoveryPlan {}/{name}", self.ns))?
        else {
            return Ok(true);
        };
        // Deleting is enough: the plan controller does nothing for a plan being deleted.
        if plan.metadata.deletion_timestamp.is_none() {
            let dp = DeleteParams::foreground();
            match self.plans().delete(name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(true),
                Err(e) => {
                    return Err(e).during(|| format!("delete RecoveryPlan {}/{name}", self.ns));
                }
            }
        }
        Ok(false)
    }

    /// Puts back everything recorded in `run.pre_state`; what it did, for the record.
    async fn put_back(&self, run: &DrillRun) -> Result<Vec<String>, Error> {
        let mut done = Vec::new();
        for r in &run.pre_state {
            match r.kind.as_str() {
                "Deployment" | "StatefulSet" => {
                    let kind = if r.kind == "Deployment" {
                        WorkloadKind::Deployment
                    } else {
                        WorkloadKind::StatefulSet
                    };
                    let (Some(want), true) = (r.replicas, r.existed) else {
                        continue;
                    };
                    if let Some(st) =
                        workload::state(&self.ctx.client, &self.ns, kind, &r.name).await?
                        && st.desired != want
                    {
                        workload::set_replicas(&self.ctx.client, &self.ns, kind, &r.name, want)
                            .await?;
                        done.push(format!(
                            "{}/{}: replicas {} -> {want}, as before the drill",
                            r.kind, r.name, st.desired
                        ));
                    }
                }
                "NetworkPolicy" => {
                    if !r.existed {
                        if self.delete_policy(&r.name).await? {
                            done.push(format!(
                                "NetworkPolicy/{}: deleted (it did not exist before the drill)",
                                r.name
                            ));
                        }
                    } else if let Some(spec) = r
                        .policy_spec
                        .as_deref()
                        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                    {
                        let current = self
                            .policies()
                            .get_opt(&r.name)
                            .await
                            .during(|| format!("read NetworkPolicy {}/{}", self.ns, r.name))?;
                        let same = current
                            .as_ref()
                            .and_then(|p| p.spec.as_ref())
                            .and_then(|s| serde_json::to_value(s).ok())
                            == Some(spec.clone());
                        if !same {
                            let body = json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": { "name": r.name }, "spec": spec });
                            self.policies()
                                .patch(
                                    &r.name,
                                    &PatchParams::apply(FIELD_MANAGER).force(),
                                    &Patch::Apply(&body),
                                )
                                .await
                                .during(|| {
                                    format!("restore NetworkPolicy {}/{}", self.ns, r.name)
                                })?;
                            done.push(format!(
                                "NetworkPolicy/{}: restored as before the drill",
                                r.name
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(done)
    }

    async fn revert(&self, status: &mut RecoveryDrillStatus) -> Result<Action, Error> {
        let Some(mut run) = status.run.clone() else {
            status.phase = DrillPhase::Idle;
            return Ok(Action::await_change());
        };
        // Measure once more from the plan's last status, then the plan goes first, so it
        // cannot undo the revert.
        if let Some(name) = &run.plan
            && let Some(plan) = self
                .plans()
                .get_opt(name)
                .await
                .during(|| format!("read RecoveryPlan {}/{name}", self.ns))?
            && plan.metadata.deletion_timestamp.is_none()
        {
            self.record_measurements(&mut run, &plan);
        }
        if !self.plan_gone(&run).await? {
            status.run = Some(run);
            return Ok(Action::requeue(POLL));
        }
        let done = self.put_back(&run).await?;
        run.reverted.extend(done);
        let now = Time(self.now);
        for f in run.faults.iter_mut() {
            if f.kind == "isolate" && f.lifted_at.is_none() && f.injected_at.is_some() {
                f.lifted_at = Some(now.clone());
            }
        }
        status.held.clear();
        run.finished_at = Some(now);
        if run.outcome.is_none() {
            run.outcome = Some(DrillOutcome::Aborted);
        }
        let outcome = run.outcome.unwrap_or(DrillOutcome::Aborted);
        let reason = run.reason.clone().unwrap_or_default();
        push_history(status, &run, self.history_limit());
        self.ctx.metrics.drill_finished(&run);
        status.message = Some(format!("run {} {outcome}: {reason}", run.number));
        status.run = Some(run);
        status.phase = DrillPhase::Finished;
        self.event(
            if outcome == DrillOutcome::Passed {
                EventType::Normal
            } else {
                EventType::Warning
            },
            "DrillFinished",
            &format!("{outcome}: {reason}"),
        )
        .await;
        Ok(Action::requeue(Duration::from_millis(100)))
    }

    /// The drill is being deleted: stop the run, put everything back, let it go.
    async fn finalize(
        &self,
        prev: &RecoveryDrillStatus,
        mut status: RecoveryDrillStatus,
    ) -> Result<Action, Error> {
        if !self.drill.finalizers().iter().any(|f| f == DRILL_FINALIZER) {
            return Ok(Action::await_change());
        }
        if let Some(run) = status.run.as_mut()
            && run.finished_at.is_none()
            && run.started_at.is_some()
        {
            if run.outcome.is_none() {
                run.outcome = Some(DrillOutcome::Aborted);
                run.reason = Some("the drill was deleted".into());
            }
            status.phase = DrillPhase::Reverting;
            let action = self.revert(&mut status).await?;
            self.write(prev, &status).await?;
            if status.phase == DrillPhase::Reverting {
                return Ok(action);
            }
        }
        let finalizers: Vec<String> = self
            .drill
            .finalizers()
            .iter()
            .filter(|f| *f != DRILL_FINALIZER)
            .cloned()
            .collect();
        let patch = json!({ "metadata": {
            "finalizers": finalizers,
            "resourceVersion": self.drill.resource_version(),
        }});
        match self
            .drills()
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).during(|| format!("remove the finalizer of {}", self.key())),
        }
        info!(drill = %self.key(), "drill deleted after reverting");
        Ok(Action::await_change())
    }
}

/// Moves a finished run into the history (newest first, at most `limit`).
fn push_history(status: &mut RecoveryDrillStatus, run: &DrillRun, limit: usize) {
    if run.finished_at.is_none() || status.history.iter().any(|h| h.number == run.number) {
        return;
    }
    status.history.insert(0, measure::summary(run));
    status.history.truncate(limit);
}

/// The time from `now` to `t`, at least a little.
fn until(now: Timestamp, t: Timestamp) -> Duration {
    let ms = t.as_millisecond() - now.as_millisecond();
    Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(100))
}

/// "Deployment/lims" → (kind, name).
fn parse_target(target: &str) -> Option<(WorkloadKind, &str)> {
    let (kind, name) = target.split_once('/')?;
    match kind {
        "Deployment" => Some((WorkloadKind::Deployment, name)),
        "StatefulSet" => Some((WorkloadKind::StatefulSet, name)),
        _ => None,
    }
}

/// The workloads a system's `scale` steps name: what its recovery scales back up.
fn scale_targets(system: &ClinicalSystem) -> Vec<(WorkloadKind, String)> {
    let mut out: Vec<(WorkloadKind, String)> = Vec::new();
    for step in system.spec.steps() {
        let target = match step.action() {
            Some(StepAction::Scale(s)) => Some((s.kind, s.name.clone())),
            _ => None,
        };
        if let Some(t) = target
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    out
}

/// The workloads a scaleToZero fault acts on.
fn workload_targets(
    f: &crate::api::v1alpha1::ScaleToZeroFault,
    system: &ClinicalSystem,
) -> Vec<(WorkloadKind, String)> {
    if f.workloads.is_empty() {
        scale_targets(system)
    } else {
        f.workloads
            .iter()
            .map(|w| (w.kind, w.name.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_short() {
        assert_eq!(
            isolation_policy_name("weekly", "lims"),
            "lifeline-drill-weekly-lims"
        );
        assert_eq!(plan_name("weekly", 3), "weekly-run-3");
        let long = isolation_policy_name(&"d".repeat(60), "pathology-lims");
        assert!(long.len() <= 63, "{long}");
        assert_eq!(
            long,
            isolation_policy_name(&"d".repeat(60), "pathology-lims")
        );
    }

    #[test]
    fn targets_parse_back() {
        assert_eq!(
            parse_target("StatefulSet/db"),
            Some((WorkloadKind::StatefulSet, "db"))
        );
        assert_eq!(parse_target("check api"), None);
    }
}
