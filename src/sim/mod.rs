//! The tabletop simulator: runs the real engine against an in-memory world in virtual
//! time. Each system takes its planned duration (its `expectedRecoveryTime`, split evenly
//! over its restore steps and its checks), exactly or with seeded jitter. People decide
//! each system at a stage that needs approval after the stage's `expectedDecisionTime` (or
//! [`SimOptions::approval_delay`]) from when it comes to wait there, or at once. A
//! system soaks at a stage for the stage's `soak`, its checks passing throughout. No
//! cluster, no clock: a full estate runs in milliseconds.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashSet},
    time::Duration,
};

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::{
    api::v1alpha1::{RecoveryPlanStatus, SystemPhase, Tier},
    engine::{Action, Inputs, Observation, PlanModel, decide_owned, observe},
};

/// The step a system with neither restore steps nor checks takes in a tabletop: its
/// expected recovery time.
pub const STAND_IN_STEP: &str = "expected-recovery-time";

/// How to run a simulation.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Systems ("namespace/name") whose restore fails.
    pub fail: Vec<String>,
    /// Seed for the jitter.
    pub seed: u64,
    /// Each system's duration varies uniformly by up to this many percent either way.
    pub jitter_percent: f64,
    /// How long people take to decide each system at a stage that needs approval, once it
    /// waits there, where the stage gives no `expectedDecisionTime`. `None`: at once.
    pub approval_delay: Option<Duration>,
}

/// Something that happened during the run, for the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// Seconds from the start.
    pub at: f64,
    /// "namespace/name".
    pub system: String,
    /// The phase it entered.
    pub phase: SystemPhase,
    /// What happened, for people.
    pub text: String,
}

/// One system's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimSystem {
    /// "namespace/name".
    pub name: String,
    /// Display name.
    #[serde(skip)]
    pub display_name: String,
    /// Tier.
    #[serde(skip)]
    pub tier: Tier,
    /// Final phase.
    pub phase: SystemPhase,
    /// Seconds from the start when its restore started.
    pub started_at: Option<f64>,
    /// Seconds from the start when it was verified.
    pub verified_at: Option<f64>,
    /// Seconds from the start when it failed.
    #[serde(skip)]
    pub failed_at: Option<f64>,
    /// Its recovery-time objective, in seconds.
    #[serde(skip)]
    pub objective: f64,
    /// Whether it was verified within its objective.
    #[serde(skip)]
    pub objective_met: Option<bool>,
    /// Seconds from the start when it was released at the last stage.
    pub fully_released_at: Option<f64>,
    /// Seconds it waited, in all, for people to decide it at the stages that need them.
    pub waited_for_decisions: f64,
    /// Why it ended as it did (failed step, blocking dependency).
    #[serde(skip)]
    pub message: Option<String>,
}

/// The outcome of a simulation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    /// Seconds from the start until nothing more happened.
    pub finished_at: f64,
    /// Every system, in restore order.
    pub systems: Vec<SimSystem>,
    /// What happened, in order.
    #[serde(skip)]
    pub timeline: Vec<TimelineEvent>,
    /// The plan's final status, as the engine wrote it.
    #[serde(skip)]
    pub status: RecoveryPlanStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Done {
    /// People decide some system now: nothing to observe, decide again.
    Decision,
    Step {
        system: usize,
        step: usize,
        ok: bool,
    },
    Check {
        system: usize,
        check: usize,
        ok: bool,
    },
}

/// splitmix64: a small, fixed generator, so a seed gives the same run on every version.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a key, so each system's jitter depends on the seed and its own name only.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or(Timestamp::MAX)
}

fn secs_since_start(
    t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> Option<f64> {
    t.as_ref().map(|t| t.0.as_millisecond() as f64 / 1000.0)
}

/// Per-system unit durations in milliseconds: one unit per restore step and one for all
/// checks together; the remainder goes to the last unit so they sum to the whole.
struct Durations {
    step_ms: Vec<Vec<u64>>,
    check_ms: Vec<u64>,
}

fn durations(model: &PlanModel, opts: &SimOptions) -> Durations {
    let mut step_ms = Vec::with_capacity(model.systems.len());
    let mut check_ms = Vec::with_capacity(model.systems.len());
    let jitter = opts.jitter_percent.clamp(0.0, 100.0) / 100.0;
    for s in &model.systems {
        let base = s.planned_duration().as_millis() as f64;
        let total = if jitter > 0.0 {
            let r = splitmix64(opts.seed ^ fnv1a(&s.key));
            let u = (r >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            (base * (1.0 + jitter * (2.0 * u - 1.0))).max(0.0).round() as u64
        } else {
            base as u64
        };
        let units = s.steps.len() as u64 + u64::from(!s.checks.is_empty());
        let (unit, rest) = match total.checked_div(units) {
            Some(unit) => (unit, total % units),
            None => (0, 0),
        };
        let mut steps = vec![unit; s.steps.len()];
        if s.checks.is_empty() {
            if let Some(last) = steps.last_mut() {
                *last += rest;
            }
            check_ms.push(0);
        } else {
            check_ms.push(unit + rest);
        }
        step_ms.push(std::mem::take(&mut steps));
    }
    Durations { step_ms, check_ms }
}

/// Describes a phase change, for the timeline.
fn describe(
    model: &PlanModel,
    i: usize,
    s: &crate::api::v1alpha1::SystemStatus,
    phase: SystemPhase,
) -> String {
    let m = &model.systems[i];
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match phase {
        SystemPhase::Restoring => format!("restore started ({})", plural(m.steps.len(), "step")),
        SystemPhase::Verifying => format!("verifying ({})", plural(m.checks.len(), "check")),
        SystemPhase::Verified => match (s.recovery_seconds, s.objective_met) {
            (Some(secs), Some(met)) => format!(
                "verified after {} (objective {}: {})",
                crate::api::v1alpha1::format_duration(std::time::Duration::from_secs(secs)),
                crate::api::v1alpha1::format_duration(m.objective),
                if met { "met" } else { "MISSED" }
            ),
            _ => "verified".to_string(),
        },
        _ => s
            .message
            .clone()
            .unwrap_or_else(|| s.phase.to_string().to_lowercase()),
    }
}

/// How long people take to decide a system at stage `k`, if it needs them and the run
/// models it.
fn decision_delay(model: &PlanModel, opts: &SimOptions, k: usize) -> Option<Duration> {
    let stage = model.settings.stages.get(k)?;
    (stage.approval.required > 0)
        .then(|| stage.decision_time.or(opts.approval_delay))
        .flatten()
}

/// When system `s` came to wait at stage `k`, in milliseconds: when it was verified, or
/// released at the stage before, or soaked there when that stage has a soak (people
/// decide on what the soak showed).
fn waiting_since(
    model: &PlanModel,
    s: &crate::api::v1alpha1::SystemStatus,
    k: usize,
) -> Option<u64> {
    let at = if k == 0 {
        s.verified_at.as_ref()?
    } else {
        let before = &model.settings.stages[k - 1];
        match (before.soak, &s.soak) {
            (Some(_), Some(soak)) if soak.stage == before.name => soak.completed_at.as_ref()?,
            _ => &s.releases.iter().find(|r| r.stage == before.name)?.at,
        }
    };
    u64::try_from(at.0.as_millisecond()).ok()
}

/// The engine's gates at `now_ms`: a stage whose decisions take time is open for a
/// system once that time has passed since it came to wait there. With the moments people
/// decide next.
fn decision_gates(
    model: &PlanModel,
    opts: &SimOptions,
    status: &RecoveryPlanStatus,
    now_ms: u64,
) -> (Inputs, Vec<u64>) {
    let mut inputs = Inputs::at(ts(now_ms), model);
    let mut next = Vec::new();
    let delayed: Vec<usize> = (0..model.settings.stages.len())
        .filter(|&k| decision_delay(model, opts, k).is_some())
        .collect();
    if delayed.is_empty() {
        // Decisions at once (the usual tabletop): every gate open, nothing to wait for.
        return (inputs, next);
    }
    for &k in &delayed {
        inputs.gates[k] = crate::engine::StageGate::Awaiting;
    }
    let mut open = BTreeMap::new();
    for s in status.systems.iter().filter(|s| s.phase.is_verified()) {
        let k = model.settings.next_stage(s.released_stage.as_deref());
        let (Some(delay), Some(since)) =
            (decision_delay(model, opts, k), waiting_since(model, s, k))
        else {
            continue;
        };
        let due = since + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX / 2);
        if now_ms >= due {
            open.insert((k, s.name.clone()), crate::engine::StageGate::Open);
        } else {
            next.push(due);
        }
    }
    inputs.system_gates = open;
    (inputs, next)
}

/// Runs the plan to completion in virtual time. `on_event` sees each timeline event as it
/// happens (for live progress) with the status at that moment.
pub fn simulate(
    model: &PlanModel,
    opts: &SimOptions,
    mut on_event: impl FnMut(&TimelineEvent, &RecoveryPlanStatus),
) -> SimReport {
    // A system with neither restore steps nor checks yet takes its expected time in a
    // tabletop: one stand-in step of that length.
    let stand_in;
    let model = if model
        .systems
        .iter()
        .any(|s| s.steps.is_empty() && s.checks.is_empty())
    {
        let mut m = model.clone();
        for s in m
            .systems
            .iter_mut()
            .filter(|s| s.steps.is_empty() && s.checks.is_empty())
        {
            s.steps.push(STAND_IN_STEP.to_string());
            s.manual_steps.push(false);
        }
        stand_in = m;
        &stand_in
    } else {
        model
    };
    let failing: HashSet<usize> = opts.fail.iter().filter_map(|k| model.find(k)).collect();
    let dur = durations(model, opts);
    let mut status = RecoveryPlanStatus::default();
    let mut queue: BinaryHeap<Reverse<(u64, u64, Done)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut now_ms = 0u64;
    let mut timeline = Vec::new();
    // Each system's phase and whether it was verified, before the decision: all that is
    // compared, so the status is handed to the engine instead of being copied per event.
    let mut before: Vec<(SystemPhase, bool)> = Vec::with_capacity(model.systems.len());
    // The moments people decide, once each.
    let mut scheduled: HashSet<u64> = HashSet::new();
    let mut waited = vec![0u64; model.systems.len()];

    loop {
        before.clear();
        before.extend(
            status
                .systems
                .iter()
                .map(|s| (s.phase, s.verified_at.is_some())),
        );
        let (inputs, _) = decision_gates(model, opts, &status, now_ms);
        let decision = decide_owned(model, std::mem::take(&mut status), &inputs);
        // When people decide the systems that now wait for them, and when soaks end.
        let soak_ends = decision
            .wake_at
            .and_then(|w| u64::try_from(w.as_millisecond()).ok());
        for due in decision_gates(model, opts, &decision.status, now_ms)
            .1
            .into_iter()
            .chain(soak_ends)
        {
            if scheduled.insert(due) {
                seq += 1;
                queue.push(Reverse((due, seq, Done::Decision)));
            }
        }
        for (i, new) in decision.status.systems.iter().enumerate() {
            let (old_phase, old_verified) = before
                .get(i)
                .copied()
                .unwrap_or((SystemPhase::default(), false));
            let entered = old_phase != new.phase
                && !matches!(new.phase, SystemPhase::Verified | SystemPhase::Released);
            if entered {
                push_event(
                    model,
                    i,
                    new,
                    new.phase,
                    now_ms,
                    &mut timeline,
                    &decision.status,
                    &mut on_event,
                );
            }
            if !old_verified && new.verified_at.is_some() {
                push_event(
                    model,
                    i,
                    new,
                    SystemPhase::Verified,
                    now_ms,
                    &mut timeline,
                    &decision.status,
                    &mut on_event,
                );
            }
        }
        for action in &decision.actions {
            if let Action::Release { system, stage } = action {
                let s = &decision.status.systems[*system];
                let name = &model.settings.stages[*stage].name;
                let wait = decision_delay(model, opts, *stage)
                    .and_then(|_| waiting_since(model, s, *stage))
                    .map(|since| now_ms.saturating_sub(since));
                let text = match wait {
                    Some(ms) => {
                        waited[*system] += ms;
                        format!(
                            "released to stage {name} after {} waiting for a decision",
                            crate::api::v1alpha1::format_duration(Duration::from_millis(ms))
                        )
                    }
                    None => format!("released to stage {name}"),
                };
                let ev = TimelineEvent {
                    at: now_ms as f64 / 1000.0,
                    system: s.name.clone(),
                    phase: SystemPhase::Released,
                    text,
                };
                on_event(&ev, &decision.status);
                timeline.push(ev);
            }
        }
        status = decision.status;
        // A system moves one stage that needs people per decision: decide again at the
        // same moment while releases go on.
        let released = decision
            .actions
            .iter()
            .any(|a| matches!(a, Action::Release { .. }));
        for action in decision.actions {
            let (at, done) = match action {
                Action::StartStep { system, step } => {
                    let ok = !(failing.contains(&system) && step == 0);
                    (
                        now_ms + dur.step_ms[system][step],
                        Done::Step { system, step, ok },
                    )
                }
                Action::StartCheck { system, check } => {
                    let ok = !(failing.contains(&system)
                        && model.systems[system].steps.is_empty()
                        && check == 0);
                    (
                        now_ms + dur.check_ms[system],
                        Done::Check { system, check, ok },
                    )
                }
                Action::Release { .. } => continue,
            };
            seq += 1;
            queue.push(Reverse((at, seq, done)));
        }
        if released {
            continue;
        }
        let Some(Reverse((next, _, _))) = queue.peek() else {
            break;
        };
        now_ms = *next;
        while let Some(Reverse((at, _, done))) = queue.peek().copied() {
            if at != now_ms {
                break;
            }
            queue.pop();
            let obs = match done {
                Done::Decision => continue,
                Done::Step {
                    system,
                    step,
                    ok: true,
                } => Observation::StepSucceeded {
                    system,
                    step,
                    token: None,
                },
                Done::Step {
                    system,
                    step,
                    ok: false,
                } => Observation::StepFailed {
                    system,
                    step,
                    message: "simulated failure (--fail)".to_string(),
                },
                Done::Check { system, check, ok } => Observation::CheckAttempt {
                    system,
                    check,
                    passed: ok,
                    error: (!ok).then(|| "simulated failure (--fail)".to_string()),
                    last: true,
                },
            };
            observe(&mut status, &obs, ts(now_ms));
        }
    }

    let last_stage = model.settings.stages.last().map(|s| s.name.clone());
    let systems = model
        .systems
        .iter()
        .zip(&status.systems)
        .zip(&waited)
        .map(|((m, s), waited)| SimSystem {
            fully_released_at: last_stage.as_ref().and_then(|last| {
                s.releases
                    .iter()
                    .find(|r| &r.stage == last)
                    .map(|r| r.at.0.as_millisecond() as f64 / 1000.0)
            }),
            waited_for_decisions: *waited as f64 / 1000.0,
            name: m.key.clone(),
            display_name: m.display_name.clone(),
            tier: m.tier,
            phase: s.phase,
            started_at: secs_since_start(&s.restore_started_at),
            verified_at: secs_since_start(&s.verified_at),
            failed_at: secs_since_start(&s.failed_at),
            objective: m.objective.as_secs_f64(),
            objective_met: s.objective_met,
            message: s.message.clone(),
        })
        .collect();
    SimReport {
        finished_at: secs_since_start(&status.finished_at).unwrap_or(now_ms as f64 / 1000.0),
        systems,
        timeline,
        status,
    }
}

#[allow(clippy::too_many_arguments)]
fn push_event(
    model: &PlanModel,
    i: usize,
    s: &crate::api::v1alpha1::SystemStatus,
    phase: SystemPhase,
    now_ms: u64,
    timeline: &mut Vec<TimelineEvent>,
    status: &RecoveryPlanStatus,
    on_event: &mut impl FnMut(&TimelineEvent, &RecoveryPlanStatus),
) {
    // A system that waits or has not been looked at is not news; everything else is.
    if matches!(phase, SystemPhase::Waiting | SystemPhase::Pending) {
        return;
    }
    let ev = TimelineEvent {
        at: now_ms as f64 / 1000.0,
        system: s.name.clone(),
        phase,
        text: describe(model, i, s, phase),
    };
    on_event(&ev, status);
    timeline.push(ev);
}
