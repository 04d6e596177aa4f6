//! Benchmarks of the pure engine at the scale of a large estate (see BENCHMARKS.md).
//!
//! - `plan_10k`: [`lifeline::engine::plan`] over 10,000 systems and about 40,000 hard
//!   dependency edges: duplicate and reference checks, spec checks, cycle detection,
//!   waves and the critical path.
//! - `simulate_1k/*`: [`lifeline::sim::simulate`] of a 1,000-system plan (about 4,000
//!   edges) to completion, with parallelism 50 and with no cap.
//!
//! The estates are random DAGs from a fixed seed (each system depends only on systems
//! generated before it), built outside the timed closures. Before timing, each benchmark
//! checks once that its output is the real thing (every system planned or verified), so
//! a change that turns the work into a constant fails here instead of looking fast.

#![forbid(unsafe_code)]

use std::{hint::black_box, time::Duration};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use lifeline::{
    api::v1alpha1::{
        ApprovalRule, Check, ClinicalSystemSpec, Dependency, DurationString, FailurePolicy,
        HttpCheck, ManualStep, PlanPhase, Release, Restore, RestoreStep, ScaleStep, SystemPhase,
        TcpCheck, Tier, Verify, WaitForStep, WorkloadKind, WorkloadRef,
    },
    engine::{PlanModel, PlanSettings, StageModel, SystemSource, plan},
    sim::{SimOptions, simulate},
};

/// Seed of every generated estate, so each run benchmarks the same graphs.
const SEED: u64 = 0x11fe_11ae_2026;
/// Namespaces the systems are spread over; about 7 in 8 dependencies cross namespaces.
const NAMESPACES: u64 = 8;
/// Hard dependencies per system are drawn uniformly from this range (mean 4).
const MIN_DEPS: u64 = 2;
const MAX_DEPS: u64 = 6;

/// splitmix64 (Steele, Lea and Flood): tiny, fixed, good enough for test graphs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// A generated estate: the owned objects that [`SystemSource`]s borrow.
struct Estate {
    /// (namespace, name, spec), in generation order.
    systems: Vec<(String, String, ClinicalSystemSpec)>,
    /// Hard dependency edges generated.
    edges: usize,
}

impl Estate {
    /// `n` systems of all tiers, each with 1-3 restore steps, 1-2 checks and
    /// `MIN_DEPS..=MAX_DEPS` hard dependencies on earlier systems (fewer for the first few).
    fn generate(n: usize, seed: u64) -> Self {
        let mut rng = SplitMix64(seed);
        let mut systems: Vec<(String, String, ClinicalSystemSpec)> = Vec::with_capacity(n);
        let mut edges = 0;
        for i in 0..n {
            let namespace = format!("trust-{}", rng.below(NAMESPACES));
            let name = format!("sys-{i:05}");

            let wanted = usize::try_from(rng.between(MIN_DEPS, MAX_DEPS))
                .unwrap_or(usize::MAX)
                .min(i);
            let mut picked: Vec<usize> = Vec::with_capacity(wanted);
            while picked.len() < wanted {
                let j = usize::try_from(rng.below(i as u64)).unwrap_or(0);
                if !picked.contains(&j) {
                    picked.push(j);
                }
            }
            edges += picked.len();
            let depends_on = picked
                .iter()
                .map(|&j| {
                    let (dep_ns, dep_name, _) = &systems[j];
                    Dependency {
                        name: dep_name.clone(),
                        namespace: (dep_ns != &namespace).then(|| dep_ns.clone()),
                        optional: false,
                    }
                })
                .collect();

            let steps = (0..rng.between(1, 3))
                .map(|k| step(&name, k, &mut rng))
                .collect();
            let checks = (0..rng.between(1, 2))
                .map(|k| check(&namespace, &name, k))
                .collect();
            let spec = ClinicalSystemSpec {
                display_name: format!("System {i}"),
                description: None,
                owner: None,
                tier: Tier::ALL[(i + usize::try_from(rng.below(4)).unwrap_or(0)) % 4],
                recovery_time_objective: DurationString::new(
                    ["30m", "1h", "4h", "1h30m"][usize::try_from(rng.below(4)).unwrap_or(0)],
                ),
                // Distinct, odd durations, so the simulator sees many distinct event times.
                recovery_point_objective: None,
                expected_recovery_time: Some(DurationString::new(format!(
                    "{}s",
                    rng.between(60, 3600)
                ))),
                depends_on,
                restore: Some(Restore {
                    steps,
                    timeout: Some(DurationString::new("2h")),
                }),
                verify: Some(Verify {
                    checks,
                    retry_interval: Some(DurationString::new("10s")),
                    deadline: Some(DurationString::new("5m")),
                    monitor_interval: None,
                }),
                release: (i % 3 == 0).then(|| Release {
                    pod_selector: LabelSelector::default(),
                    service: Some(name.clone()),
                    ingress: None,
                    withdraw_on_failure: false,
                    hand_back: Vec::new(),
                    reapprove_after_restore: false,
                }),
            };
            systems.push((namespace, name, spec));
        }
        Self { systems, edges }
    }

    fn sources(&self) -> Vec<SystemSource<'_>> {
        self.systems
            .iter()
            .map(|(namespace, name, spec)| SystemSource {
                namespace,
                name,
                spec,
                origin: "benches/engine.rs",
            })
            .collect()
    }

    fn keys(&self) -> Vec<String> {
        self.systems
            .iter()
            .map(|(namespace, name, _)| format!("{namespace}/{name}"))
            .collect()
    }
}

/// Restore step `k`: one of scale, rolloutRestart, waitFor and manual.
fn step(system: &str, k: u64, rng: &mut SplitMix64) -> RestoreStep {
    let mut s = RestoreStep {
        name: format!("step-{k}"),
        scale: None,
        rollout_restart: None,
        job: None,
        wait_for: None,
        manual: None,
        repeatable: None,
        restore_point: None,
    };
    match rng.below(4) {
        0 => {
            s.scale = Some(ScaleStep {
                kind: WorkloadKind::StatefulSet,
                name: format!("{system}-db"),
                replicas: 1,
            })
        }
        1 => {
            s.rollout_restart = Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: system.to_string(),
            })
        }
        2 => {
            s.wait_for = Some(WaitForStep {
                api_version: "postgresql.cnpg.io/v1".into(),
                kind: "Cluster".into(),
                name: format!("{system}-db"),
                condition: "Ready".into(),
                status: None,
            })
        }
        _ => {
            s.manual = Some(ManualStep {
                instructions: "Confirm the interface engine queue has drained.".into(),
                required: None,
                approver_groups: vec![],
            })
        }
    }
    s
}

/// Check `k`: an HTTP check first, a TCP check second.
fn check(namespace: &str, system: &str, k: u64) -> Check {
    let mut c = Check {
        name: format!("check-{k}"),
        http: None,
        tcp: None,
        job: None,
        workload_ready: None,
    };
    if k == 0 {
        c.http = Some(HttpCheck {
            url: format!("http://{system}.{namespace}.svc:8080/healthz"),
            expected_status: vec![200],
            body_contains: None,
            follow_redirects: false,
            timeout: None,
        });
    } else {
        c.tcp = Some(TcpCheck {
            host: format!("{system}-db.{namespace}.svc"),
            port: 5432,
        });
    }
    c
}

fn settings(parallelism: Option<u32>) -> PlanSettings {
    let stage = |name: &str| StageModel {
        name: name.to_string(),
        approval: ApprovalRule::default(),
        checklist: vec!["paper records back-entered".to_string()],
        decision_time: None,
        soak: None,
    };
    PlanSettings {
        parallelism,
        failure_policy: FailurePolicy::Continue,
        stages: vec![stage("pilot-ward"), stage("all-staff")],
        incident_started_at: None,
        held_elsewhere: Default::default(),
    }
}

/// The checks that make a plan the real thing rather than a constant.
fn assert_plan_is_real(model: &PlanModel, systems: usize, edges: usize) {
    assert_eq!(model.systems.len(), systems, "every system planned");
    assert_eq!(
        model
            .systems
            .iter()
            .map(|s| s.hard_deps.len())
            .sum::<usize>(),
        edges,
        "every hard dependency kept"
    );
    assert!(model.waves.len() > 1, "more than one wave");
    assert_eq!(
        model.waves.iter().map(Vec::len).sum::<usize>(),
        systems,
        "every system in exactly one wave"
    );
    assert!(
        model.critical_path.systems.len() > 1,
        "a critical path of more than one system"
    );
}

fn plan_10k(c: &mut Criterion) {
    const SYSTEMS: usize = 10_000;
    let estate = Estate::generate(SYSTEMS, SEED);
    let sources = estate.sources();
    let selected = estate.keys();
    let settings = settings(Some(50));

    let model = plan(&sources, &selected, settings.clone()).expect("the generated estate plans");
    assert_plan_is_real(&model, SYSTEMS, estate.edges);
    eprintln!(
        "plan_10k: {} systems, {} hard edges, {} waves, critical path {} systems / {:?}",
        model.systems.len(),
        estate.edges,
        model.waves.len(),
        model.critical_path.systems.len(),
        model.critical_path.duration
    );
    drop(model);

    let mut group = c.benchmark_group("engine");
    // Tens of milliseconds per call: flat sampling keeps the run short on a small machine.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("plan_10k", |b| {
        // The settings clone (two stages) is set-up; the model is dropped untimed.
        b.iter_batched(
            || settings.clone(),
            |settings| plan(black_box(&sources), black_box(&selected), settings),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn simulate_1k(c: &mut Criterion) {
    const SYSTEMS: usize = 1_000;
    let estate = Estate::generate(SYSTEMS, SEED ^ 1);
    let sources = estate.sources();
    let selected = estate.keys();
    let opts = SimOptions::default();

    let mut group = c.benchmark_group("engine/simulate_1k");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));

    let mut unlimited = None;
    for (label, parallelism) in [("unlimited", None), ("parallelism_50", Some(50))] {
        let model =
            plan(&sources, &selected, settings(parallelism)).expect("the generated estate plans");
        assert_plan_is_real(&model, SYSTEMS, estate.edges);

        let mut peak = 0;
        let report = simulate(&model, &opts, |_, status| {
            let active = status
                .systems
                .iter()
                .filter(|s| s.phase.is_active())
                .count();
            peak = peak.max(active);
        });
        assert_eq!(report.status.phase, PlanPhase::Succeeded, "{label}");
        assert_eq!(report.systems.len(), SYSTEMS);
        let verified = report
            .systems
            .iter()
            .filter(|s| s.verified_at.is_some() && s.phase == SystemPhase::Released)
            .count();
        assert_eq!(
            verified, SYSTEMS,
            "{label}: every system verified and released"
        );
        match parallelism {
            // With no cap every system starts as soon as its dependencies are verified,
            // so the run takes exactly the critical path.
            None => {
                let cp = model.critical_path.duration.as_secs_f64();
                assert!(
                    (report.finished_at - cp).abs() < 0.001,
                    "unlimited run took {}s, critical path {cp}s",
                    report.finished_at
                );
                unlimited = Some((report.finished_at, peak));
            }
            Some(cap) => {
                let (finish, uncapped_peak) = unlimited.expect("the uncapped run goes first");
                assert!(
                    report.finished_at >= finish,
                    "a capped run cannot beat the uncapped one"
                );
                assert!(
                    peak <= cap as usize,
                    "{peak} running at once under a cap of {cap}"
                );
                assert!(
                    uncapped_peak > cap as usize,
                    "the cap never binds in this estate"
                );
            }
        }
        eprintln!(
            "simulate_1k/{label}: {} systems, {} hard edges, {} timeline events, \
             at most {peak} restoring or verifying at once, {:.0}s virtual",
            report.systems.len(),
            estate.edges,
            report.timeline.len(),
            report.finished_at
        );
        drop(report);

        group.bench_function(label, |b| {
            b.iter_with_large_drop(|| simulate(black_box(&model), black_box(&opts), |_, _| {}))
        });
    }
    group.finish();
}

criterion_group!(benches, plan_10k, simulate_1k);
criterion_main!(benches);
