//! Prometheus metrics, all prefixed `lifeline_`: plans by phase, system recovery seconds,
//! step and check failures by kind, reconcile duration and errors by category, and the
//! operator's own API requests by verb and resource.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::{
    api::v1alpha1::{
        Check, CheckAction, ClinicalSystem, PlanPhase, RecoveryPlanStatus, StepAction,
    },
    engine::PlanModel,
    error::Error,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabel {
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabel {
    category: String,
}

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    plans: Family<PhaseLabel, Gauge>,
    recovery: Family<TierLabel, Histogram>,
    step_failures: Family<KindLabel, Counter>,
    check_failures: Family<KindLabel, Counter>,
    reconcile: Histogram,
    errors: Family<CategoryLabel, Counter>,
    notifications: Family<OutcomeLabel, Counter>,
    drill_runs: Family<OutcomeLabel, Counter>,
    drill_recovery: Family<TierLabel, Histogram>,
    degraded: Gauge,
    regressions: Family<TierLabel, Counter>,
    phases: Mutex<HashMap<String, PlanPhase>>,
    degraded_by_plan: Mutex<HashMap<String, i64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lifeline");
        let plans = Family::<PhaseLabel, Gauge>::default();
        registry.register("plans", "RecoveryPlans by phase", plans.clone());
        let recovery = Family::<TierLabel, Histogram>::new_with_constructor(|| {
            // 1 minute to 24 hours.
            Histogram::new([
                60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
            ])
        });
        registry.register(
            "system_recovery_seconds",
            "Seconds from the start of a plan to a system's verification, by tier",
            recovery.clone(),
        );
        let step_failures = Family::<KindLabel, Counter>::default();
        registry.register(
            "step_failures",
            "Restore steps that failed, by step kind",
            step_failures.clone(),
        );
        let check_failures = Family::<KindLabel, Counter>::default();
        registry.register(
            "check_failures",
            "Checks that failed for good, by check kind",
            check_failures.clone(),
        );
        let reconcile = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register(
            "reconcile_duration_seconds",
            "Time spent reconciling one plan",
            reconcile.clone(),
        );
        let errors = Family::<CategoryLabel, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by error category",
            errors.clone(),
        );
        let notifications = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "notifications",
            "Webhook notifications, by outcome (delivered, failed, dropped)",
            notifications.clone(),
        );
        let drill_runs = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "drill_runs",
            "Finished drill runs, by outcome (Passed, ObjectivesMissed, Failed, TimedOut, Aborted, Refused)",
            drill_runs.clone(),
        );
        let drill_recovery = Family::<TierLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
            ])
        });
        registry.register(
            "drill_system_recovery_seconds",
            "Seconds from a drill's fault to the system verified, by tier",
            drill_recovery.clone(),
        );
        let degraded = Gauge::default();
        registry.register(
            "systems_degraded",
            "Verified systems whose checks fail again, over every plan",
            degraded.clone(),
        );
        let regressions = Family::<TierLabel, Counter>::default();
        registry.register(
            "system_regressions",
            "Times a verified system's check failed again, by tier",
            regressions.clone(),
        );
        registry.register(
            "api_requests",
            "The operator's own requests to the API server, by verb and resource",
            super::cluster::requests::family().clone(),
        );
        Self {
            registry,
            degraded,
            regressions,
            degraded_by_plan: Mutex::default(),
            notifications,
            drill_runs,
            drill_recovery,
            plans,
            recovery,
            step_failures,
            check_failures,
            reconcile,
            errors,
            phases: Mutex::default(),
        }
    }
}

impl Metrics {
    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// One reconcile took `took`, and failed with `error` if any.
    pub fn observe_reconcile(&self, took: Duration, error: Option<&Error>) {
        self.reconcile.observe(took.as_secs_f64());
        if let Some(e) = error {
            self.errors
                .get_or_create(&CategoryLabel {
                    category: e.category().to_string(),
                })
                .inc();
        }
    }

    /// A webhook notification was delivered, failed for good, or dropped.
    pub fn notification(&self, outcome: &str) {
        self.notifications
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// A drill run finished: its outcome, and each system's measured recovery.
    pub fn drill_finished(&self, run: &crate::api::v1alpha1::DrillRun) {
        let outcome = run
            .outcome
            .map(|o| o.to_string())
            .unwrap_or_else(|| "Aborted".into());
        self.drill_runs
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        for s in &run.systems {
            if let (Some(secs), Some(tier)) = (s.recovery_seconds, s.tier) {
                self.drill_recovery
                    .get_or_create(&TierLabel {
                        tier: tier.to_string(),
                    })
                    .observe(secs as f64);
            }
        }
    }

    /// Records a plan's phase (for the by-phase gauge).
    pub fn set_phase(&self, namespace: &str, name: &str, phase: PlanPhase) {
        let Ok(mut phases) = self.phases.lock() else {
            return;
        };
        phases.insert(format!("{namespace}/{name}"), phase);
        self.count_phases(&phases);
    }

    /// Sets the by-phase gauge from the phases of the plans there are.
    fn count_phases(&self, phases: &HashMap<String, PlanPhase>) {
        let mut counts: HashMap<PlanPhase, i64> = HashMap::new();
        for p in phases.values() {
            *counts.entry(*p).or_default() += 1;
        }
        for p in [
            PlanPhase::Pending,
            PlanPhase::Running,
            PlanPhase::AwaitingApproval,
            PlanPhase::Succeeded,
            PlanPhase::Failed,
            PlanPhase::Paused,
            PlanPhase::Aborted,
        ] {
            self.plans
                .get_or_create(&PhaseLabel {
                    phase: p.to_string(),
                })
                .set(counts.get(&p).copied().unwrap_or(0));
        }
    }

    /// Forgets a deleted plan: it no longer counts in the by-phase gauge.
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut by_plan) = self.degraded_by_plan.lock()
            && by_plan.remove(&format!("{namespace}/{name}")).is_some()
        {
            self.degraded.set(by_plan.values().sum());
        }
        if let Ok(mut phases) = self.phases.lock()
            && phases.remove(&format!("{namespace}/{name}")).is_some()
        {
            self.count_phases(&phases);
        }
    }

    /// Records what changed between two statuses of a plan: its phase, and systems that
    /// were verified.
    pub fn record_plan(
        &self,
        namespace: &str,
        name: &str,
        model: &PlanModel,
        prev: &RecoveryPlanStatus,
        next: &RecoveryPlanStatus,
    ) {
        self.set_phase(namespace, name, next.phase);
        let degraded = next
            .systems
            .iter()
            .filter(|s| s.phase == crate::api::v1alpha1::SystemPhase::Degraded)
            .count();
        if let Ok(mut by_plan) = self.degraded_by_plan.lock() {
            by_plan.insert(
                format!("{namespace}/{name}"),
                i64::try_from(degraded).unwrap_or(i64::MAX),
            );
            self.degraded.set(by_plan.values().sum());
        }
        for (i, s) in next.systems.iter().enumerate() {
            let was = prev.system(i, &s.name);
            if s.regression_count > was.map_or(0, |p| p.regression_count)
                && let Some(m) = model.systems.get(i)
            {
                self.regressions
                    .get_or_create(&TierLabel {
                        tier: m.tier.to_string(),
                    })
                    .inc();
            }
            let newly = s.verified_at.is_some() && was.is_none_or(|p| p.verified_at.is_none());
            if newly && let (Some(secs), Some(m)) = (s.recovery_seconds, model.systems.get(i)) {
                self.recovery
                    .get_or_create(&TierLabel {
                        tier: m.tier.to_string(),
                    })
                    .observe(secs as f64);
            }
        }
    }

    /// A restore step failed.
    pub fn step_failed(&self, system: &ClinicalSystem, step: usize) {
        let kind = match system.spec.steps().get(step).and_then(|s| s.action()) {
            Some(StepAction::Scale(_)) => "scale",
            Some(StepAction::RolloutRestart(_)) => "rolloutRestart",
            Some(StepAction::Job(_)) => "job",
            Some(StepAction::WaitFor(_)) => "waitFor",
            Some(StepAction::Manual(_)) => "manual",
            None => "invalid",
        };
        self.step_failures
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// A check failed for good.
    pub fn check_failed(&self, check: &Check) {
        let kind = match check.action() {
            Some(CheckAction::Http(_)) => "http",
            Some(CheckAction::Tcp(_)) => "tcp",
            Some(CheckAction::Job(_)) => "job",
            Some(CheckAction::WorkloadReady(_)) => "workloadReady",
            None => "invalid",
        };
        self.check_failures
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_plan_no_longer_counts_in_the_phase_gauge() {
        let m = Metrics::default();
        m.set_phase("ward", "a", PlanPhase::Running);
        m.set_phase("ward", "b", PlanPhase::Running);
        assert!(m.encode().contains("lifeline_plans{phase=\"Running\"} 2"));
        m.forget("ward", "a");
        let text = m.encode();
        assert!(
            text.contains("lifeline_plans{phase=\"Running\"} 1"),
            "{text}"
        );
        m.forget("ward", "b");
        m.forget("ward", "never-there");
        let text = m.encode();
        assert!(
            text.contains("lifeline_plans{phase=\"Running\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn degraded_systems_are_counted_across_plans_until_they_recover_or_the_plan_goes() {
        use crate::api::v1alpha1::{RecoveryPlanStatus, SystemPhase, SystemStatus};
        let spec: crate::api::v1alpha1::ClinicalSystemSpec =
            serde_json::from_value(serde_json::json!({
                "displayName": "Lab", "tier": "critical", "recoveryTimeObjective": "1h",
                "restore": { "steps": [{ "name": "start", "scale": { "kind": "Deployment", "name": "x", "replicas": 1 } }] }
            }))
            .expect("a spec");
        let all: Vec<crate::engine::SystemSource<'_>> = ["lab", "pas"]
            .iter()
            .map(|name| crate::engine::SystemSource {
                namespace: "ward",
                name,
                spec: &spec,
                origin: "test",
            })
            .collect();
        let model = crate::engine::plan(
            &all,
            &["ward/lab".to_string(), "ward/pas".to_string()],
            crate::engine::PlanSettings::default(),
        )
        .expect("a model");
        let status = |phases: [SystemPhase; 2]| RecoveryPlanStatus {
            phase: PlanPhase::Succeeded,
            systems: model
                .systems
                .iter()
                .zip(phases)
                .map(|(m, phase)| SystemStatus {
                    name: m.key.clone(),
                    phase,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let gauge = |m: &Metrics| {
            let text = m.encode();
            text.lines()
                .find(|l| l.starts_with("lifeline_systems_degraded "))
                .map(str::to_string)
                .unwrap_or_else(|| panic!("no lifeline_systems_degraded in {text}"))
        };
        let m = Metrics::default();
        let released = status([SystemPhase::Released, SystemPhase::Released]);
        m.record_plan("ward", "a", &model, &released, &released);
        assert_eq!(gauge(&m), "lifeline_systems_degraded 0");
        let one = status([SystemPhase::Degraded, SystemPhase::Released]);
        m.record_plan("ward", "a", &model, &released, &one);
        assert_eq!(gauge(&m), "lifeline_systems_degraded 1");
        // Another plan's degraded systems add up with the first's.
        let both = status([SystemPhase::Degraded, SystemPhase::Degraded]);
        m.record_plan("ward", "b", &model, &released, &both);
        assert_eq!(gauge(&m), "lifeline_systems_degraded 3");
        // Recorded again (another reconcile) they are not counted twice.
        m.record_plan("ward", "b", &model, &both, &both);
        assert_eq!(gauge(&m), "lifeline_systems_degraded 3");
        // The first plan's system recovers; the second plan is deleted.
        m.record_plan("ward", "a", &model, &one, &released);
        assert_eq!(gauge(&m), "lifeline_systems_degraded 2");
        m.forget("ward", "b");
        assert_eq!(gauge(&m), "lifeline_systems_degraded 0");
    }

    #[test]
    fn a_finished_drill_counts_its_outcome_and_each_measured_recovery() {
        let m = Metrics::default();
        let run: crate::api::v1alpha1::DrillRun = serde_json::from_value(serde_json::json!({
            "number": 1, "trigger": "manual", "outcome": "ObjectivesMissed",
            "systems": [
                { "name": "lims", "tier": "critical", "recoverySeconds": 1200 },
                { "name": "pacs", "tier": "critical" }
            ]
        }))
        .expect("a run");
        m.drill_finished(&run);
        let text = m.encode();
        assert!(
            text.contains("lifeline_drill_runs_total{outcome=\"ObjectivesMissed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("lifeline_drill_system_recovery_seconds_count{tier=\"critical\"} 1"),
            "{text}"
        );
    }
}
