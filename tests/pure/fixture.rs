//! The engine fixture of the `pure` tests: builds ClinicalSystem specs and plans, and
//! drives the engine by hand (`engine`'s scenarios, and `engine_properties`' random
//! graphs, which it turns into these same systems).

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{LabelSelector, Time},
    jiff::Timestamp,
};
use lifeline::{
    api::v1alpha1::{
        ApprovalRule, Check, ClinicalSystemSpec, Dependency, DurationString, FailurePolicy,
        ManualStep, RecoveryPlanStatus, Release, Restore, RestoreStep, SystemPhase, SystemStatus,
        TcpCheck, Tier, Verify,
    },
    engine::{
        Action, Inputs, Observation, PlanErrors, PlanModel, PlanSettings, StageGate, StageModel,
        SystemSource, decide, observe, plan, retry, run::handover::Holder,
    },
};

/// The namespace every fixture system lives in.
pub const NS: &str = "ward";
/// The plan's start, in seconds since the epoch; clocks in tests count from here.
pub const T0: i64 = 1_750_000_000;

/// "ward/<name>".
pub fn key(name: &str) -> String {
    format!("{NS}/{name}")
}

/// The time `secs` seconds after [`T0`].
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("a valid timestamp")
}

/// [`at`] as the status records it.
pub fn time(secs: i64) -> Time {
    Time(at(secs))
}

/// A ClinicalSystem under construction.
#[derive(Clone, Debug)]
pub struct Sys {
    pub name: String,
    pub spec: ClinicalSystemSpec,
    pub origin: String,
}

/// An `important` system with a 1h objective, 10m expected, one manual step and one
/// TCP check, depending on nothing.
pub fn sys(name: &str) -> Sys {
    Sys {
        name: name.to_string(),
        origin: format!("systems.yaml ({name})"),
        spec: ClinicalSystemSpec {
            display_name: name.to_uppercase(),
            description: None,
            owner: None,
            tier: Tier::Important,
            recovery_time_objective: DurationString::new("1h"),
            recovery_point_objective: None,
            expected_recovery_time: Some(DurationString::new("10m")),
            depends_on: Vec::new(),
            restore: None,
            verify: None,
            release: None,
        },
    }
    .steps(1)
    .checks(1)
}

/// A system read from the YAML of its spec, as a user writes it.
pub fn from_yaml(name: &str, yaml: &str) -> Sys {
    Sys {
        name: name.to_string(),
        origin: format!("systems.yaml ({name})"),
        spec: serde_yaml::from_str(yaml).expect("fixture YAML is a ClinicalSystemSpec"),
    }
}

impl Sys {
    pub fn tier(mut self, tier: Tier) -> Self {
        self.spec.tier = tier;
        self
    }

    pub fn rto(mut self, d: &str) -> Self {
        self.spec.recovery_time_objective = DurationString::new(d);
        self
    }

    pub fn expected(mut self, d: &str) -> Self {
        self.spec.expected_recovery_time = Some(DurationString::new(d));
        self
    }

    /// Hard dependencies, by name in the same namespace.
    pub fn needs(mut self, deps: &[&str]) -> Self {
        self.spec.depends_on.extend(deps.iter().map(|d| Dependency {
            name: d.to_string(),
            namespace: None,
            optional: false,
        }));
        self
    }

    /// Optional dependencies.
    pub fn wants(mut self, deps: &[&str]) -> Self {
        self.spec.depends_on.extend(deps.iter().map(|d| Dependency {
            name: d.to_string(),
            namespace: None,
            optional: true,
        }));
        self
    }

    /// `n` manual restore steps named step-1, step-2, ...
    pub fn steps(mut self, n: usize) -> Self {
        self.spec.restore = (n > 0).then(|| Restore {
            steps: (1..=n)
                .map(|i| RestoreStep {
                    name: format!("step-{i}"),
                    scale: None,
                    rollout_restart: None,
                    job: None,
                    wait_for: None,
                    manual: Some(ManualStep {
                        instructions: "do it".into(),
                        required: None,
                        approver_groups: vec![],
                    }),
                    repeatable: None,
                    restore_point: None,
                })
                .collect(),
            timeout: None,
        });
        self
    }

    /// `n` TCP checks named check-1, check-2, ...
    pub fn checks(mut self, n: usize) -> Self {
        self.spec.verify = (n > 0).then(|| Verify {
            checks: (1..=n)
                .map(|i| Check {
                    name: format!("check-{i}"),
                    http: None,
                    tcp: Some(TcpCheck {
                        host: "db".into(),
                        port: 5432,
                    }),
                    job: None,
                    workload_ready: None,
                })
                .collect(),
            retry_interval: None,
            deadline: None,
            monitor_interval: None,
        });
        self
    }

    /// Gives the system a release gate.
    pub fn gate(mut self) -> Self {
        self.spec.release = Some(Release {
            pod_selector: LabelSelector::default(),
            service: None,
            ingress: None,
            withdraw_on_failure: false,
            reapprove_after_restore: false,
            hand_back: Vec::new(),
        });
        self
    }

    /// A release gate that is withdrawn to the verification audience on a regression.
    pub fn withdrawn_on_failure(mut self) -> Self {
        self = self.gate();
        if let Some(r) = self.spec.release.as_mut() {
            r.withdraw_on_failure = true;
        }
        self
    }
}

pub fn sources(systems: &[Sys]) -> Vec<SystemSource<'_>> {
    systems
        .iter()
        .map(|s| SystemSource {
            namespace: NS,
            name: &s.name,
            spec: &s.spec,
            origin: &s.origin,
        })
        .collect()
}

/// Plans every system given.
pub fn plan_all(systems: &[Sys], settings: PlanSettings) -> Result<PlanModel, PlanErrors> {
    let selected: Vec<String> = systems.iter().map(|s| key(&s.name)).collect();
    plan(&sources(systems), &selected, settings)
}

/// Plans `selected` (names) out of `systems`.
pub fn plan_some(
    systems: &[Sys],
    selected: &[&str],
    settings: PlanSettings,
) -> Result<PlanModel, PlanErrors> {
    let selected: Vec<String> = selected.iter().map(|s| key(s)).collect();
    plan(&sources(systems), &selected, settings)
}

pub fn must_plan(systems: &[Sys], settings: PlanSettings) -> PlanModel {
    plan_all(systems, settings).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

/// Stages that need no approval, by name.
pub fn stages(names: &[&str]) -> Vec<StageModel> {
    names
        .iter()
        .map(|n| StageModel {
            name: n.to_string(),
            approval: ApprovalRule::default(),
            checklist: Vec::new(),
            decision_time: None,
            soak: None,
        })
        .collect()
}

pub fn settings() -> PlanSettings {
    PlanSettings::default()
}

pub fn capped(parallelism: u32) -> PlanSettings {
    PlanSettings {
        parallelism: Some(parallelism),
        ..PlanSettings::default()
    }
}

pub fn halting() -> PlanSettings {
    PlanSettings {
        failure_policy: FailurePolicy::Halt,
        ..PlanSettings::default()
    }
}

/// One recovery run driven by hand: a plan, the status so far, a clock and the
/// engine's other inputs.
pub struct Run {
    pub model: PlanModel,
    pub status: RecoveryPlanStatus,
    /// Seconds since [`T0`].
    pub now: i64,
    pub paused: bool,
    pub aborted: bool,
    pub gates: Vec<StageGate>,
    /// Systems other plans hold, by key.
    pub holders: std::collections::BTreeMap<String, Holder>,
}

impl Run {
    /// A run with every stage gate open.
    pub fn new(model: PlanModel) -> Self {
        let gates = vec![StageGate::Open; model.settings.stages.len()];
        Self {
            model,
            status: RecoveryPlanStatus::default(),
            now: 0,
            paused: false,
            aborted: false,
            gates,
            holders: Default::default(),
        }
    }

    pub fn inputs(&self) -> Inputs {
        Inputs {
            now: at(self.now),
            paused: self.paused,
            aborted: self.aborted,
            gates: self.gates.clone(),
            system_gates: Default::default(),
            holders: self.holders.clone(),
        }
    }

    /// Decides, keeps the new status, and returns the actions, rendered.
    pub fn decide(&mut self) -> Vec<String> {
        let d = decide(&self.model, &self.status, &self.inputs());
        self.status = d.status;
        d.actions.iter().map(|a| self.render(a)).collect()
    }

    /// Renders an action as "start a step-1", "check a check-1" or "release a it".
    pub fn render(&self, a: &Action) -> String {
        let short = |i: usize| self.model.systems[i].key.trim_start_matches("ward/");
        match *a {
            Action::StartStep { system, step } => format!(
                "start {} {}",
                short(system),
                self.model.systems[system].steps[step]
            ),
            Action::StartCheck { system, check } => format!(
                "check {} {}",
                short(system),
                self.model.systems[system].checks[check]
            ),
            Action::Release { system, stage } => format!(
                "release {} {}",
                short(system),
                self.model.settings.stages[stage].name
            ),
        }
    }

    pub fn idx(&self, name: &str) -> usize {
        self.model
            .find(&key(name))
            .unwrap_or_else(|| panic!("{name} is not in the plan"))
    }

    pub fn sys(&self, name: &str) -> &SystemStatus {
        &self.status.systems[self.idx(name)]
    }

    pub fn phase(&self, name: &str) -> SystemPhase {
        self.sys(name).phase
    }

    pub fn message(&self, name: &str) -> Option<&str> {
        self.sys(name).message.as_deref()
    }

    pub fn observe(&mut self, obs: Observation) {
        observe(&mut self.status, &obs, at(self.now));
    }

    pub fn step_ok(&mut self, name: &str, step: usize) {
        let system = self.idx(name);
        self.observe(Observation::StepSucceeded {
            system,
            step,
            token: None,
        });
    }

    pub fn step_failed(&mut self, name: &str, step: usize, message: &str) {
        let system = self.idx(name);
        self.observe(Observation::StepFailed {
            system,
            step,
            message: message.to_string(),
        });
    }

    pub fn attempt(
        &mut self,
        name: &str,
        check: usize,
        passed: bool,
        error: Option<&str>,
        last: bool,
    ) {
        let system = self.idx(name);
        self.observe(Observation::CheckAttempt {
            system,
            check,
            passed,
            error: error.map(str::to_string),
            last,
        });
    }

    pub fn check_ok(&mut self, name: &str, check: usize) {
        self.attempt(name, check, true, None, false);
    }

    /// Takes a system with one step and one check from not started to verified,
    /// deciding after each observation, and returns every action of those decisions.
    pub fn restore_one(&mut self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.step_ok(name, 0);
        out.extend(self.decide());
        self.check_ok(name, 0);
        out.extend(self.decide());
        out
    }

    pub fn retry(&mut self, name: &str) {
        retry(&self.model, &mut self.status, &key(name)).expect("retry accepted");
    }
}

/// Shorthand for `Vec<String>` expectations.
pub fn acts(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}
