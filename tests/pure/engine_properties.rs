//! Property tests for the pure recovery engine: random dependency graphs (random tiers,
//! durations, optional edges, step and check counts, parallelism) planned, decided and
//! simulated, checked against answers computed independently here.

mod graphs {
    //! Random dependency graphs and the ClinicalSystems they stand for (built with the
    //! engine fixture).

    use std::collections::BTreeSet;

    use lifeline::{
        api::v1alpha1::Tier,
        engine::{PlanErrors, PlanModel, PlanSettings},
    };
    use proptest::{prelude::*, sample::Index};

    use crate::fixture::{self, Sys, plan_all, sys};

    /// One system of a generated graph.
    #[derive(Clone, Debug)]
    pub struct Node {
        pub tier: Tier,
        /// Expected recovery time, whole seconds.
        pub expected: u64,
        pub steps: usize,
        pub checks: usize,
        pub gate: bool,
    }

    impl Node {
        /// What the plan should count for it: its expected time, with or without work
        /// written yet.
        pub fn planned(&self) -> u64 {
            self.expected
        }

        pub fn has_work(&self) -> bool {
            self.steps > 0 || self.checks > 0
        }
    }

    /// A graph: `edges` are `(dependent, dependency, optional)`.
    #[derive(Clone, Debug)]
    pub struct Graph {
        pub nodes: Vec<Node>,
        pub names: Vec<String>,
        pub edges: Vec<(usize, usize, bool)>,
    }

    impl Graph {
        pub fn len(&self) -> usize {
            self.nodes.len()
        }

        pub fn key(&self, i: usize) -> String {
            fixture::key(&self.names[i])
        }

        /// Hard dependencies of each node.
        pub fn hard_deps(&self) -> Vec<BTreeSet<usize>> {
            let mut out = vec![BTreeSet::new(); self.len()];
            for &(a, b, optional) in &self.edges {
                if !optional {
                    out[a].insert(b);
                }
            }
            out
        }

        /// Nodes that hard-depend on each node.
        pub fn hard_dependents(&self) -> Vec<BTreeSet<usize>> {
            let mut out = vec![BTreeSet::new(); self.len()];
            for &(a, b, optional) in &self.edges {
                if !optional {
                    out[b].insert(a);
                }
            }
            out
        }

        /// Node `i` as a ClinicalSystem: its tier, expected time, steps, checks, gate and
        /// dependencies (in edge order, hard and optional).
        fn system(&self, i: usize) -> Sys {
            let n = &self.nodes[i];
            let mut s = sys(&self.names[i])
                .tier(n.tier)
                .expected(&format!("{}s", n.expected))
                .steps(n.steps)
                .checks(n.checks);
            for &(_, b, optional) in self.edges.iter().filter(|e| e.0 == i) {
                let dep = [self.names[b].as_str()];
                s = if optional {
                    s.wants(&dep)
                } else {
                    s.needs(&dep)
                };
            }
            if n.gate {
                s = s.gate();
            }
            s
        }

        /// Plans every node.
        pub fn plan(&self, settings: PlanSettings) -> Result<PlanModel, PlanErrors> {
            let systems: Vec<Sys> = (0..self.len()).map(|i| self.system(i)).collect();
            plan_all(&systems, settings)
        }

        /// For each node, its index in the model.
        pub fn model_index(&self, model: &PlanModel) -> Vec<usize> {
            (0..self.len())
                .map(|i| model.find(&self.key(i)).expect("every node is planned"))
                .collect()
        }
    }

    pub fn tier() -> impl Strategy<Value = Tier> {
        prop::sample::select(Tier::ALL.to_vec())
    }

    pub fn node() -> impl Strategy<Value = Node> {
        (
            tier(),
            0u64..=40,
            0usize..=3,
            0usize..=2,
            prop::bool::weighted(0.3),
        )
            .prop_map(|(tier, expected, steps, checks, gate)| Node {
                tier,
                expected,
                steps,
                checks,
                gate,
            })
    }

    /// Names in an order unrelated to the graph, so sorting by name cannot stand in for
    /// sorting by dependency.
    fn names(n: usize) -> impl Strategy<Value = Vec<String>> {
        Just((0..n).collect::<Vec<usize>>())
            .prop_shuffle()
            .prop_map(|perm| perm.into_iter().map(|p| format!("sys-{p:02}")).collect())
    }

    /// A random DAG of 1 to `max` nodes: every edge goes from a later node to an earlier
    /// one (in generation order, not name order); about a fifth are optional.
    pub fn dag(max: usize) -> impl Strategy<Value = Graph> {
        (1..=max).prop_flat_map(|n| {
            (
                prop::collection::vec(node(), n),
                names(n),
                prop::collection::vec(
                    (any::<Index>(), any::<Index>(), prop::bool::weighted(0.2)),
                    0..=2 * n,
                ),
            )
                .prop_map(move |(nodes, names, raw)| {
                    let edges = raw
                        .into_iter()
                        .filter_map(|(a, b, optional)| {
                            let (a, b) = (a.index(n), b.index(n));
                            (a != b).then(|| (a.max(b), a.min(b), optional))
                        })
                        .collect();
                    Graph {
                        nodes,
                        names,
                        edges,
                    }
                })
        })
    }

    /// A random directed graph of 1 to `max` nodes that may have cycles: edges in any
    /// direction, now and then a self-dependency.
    pub fn digraph(max: usize) -> impl Strategy<Value = Graph> {
        (1..=max).prop_flat_map(|n| {
            (
                prop::collection::vec(node(), n),
                names(n),
                prop::collection::vec(
                    (
                        any::<Index>(),
                        any::<Index>(),
                        prop::bool::weighted(0.3),
                        prop::bool::weighted(0.05),
                    ),
                    0..=2 * n,
                ),
            )
                .prop_map(move |(nodes, names, raw)| {
                    let edges = raw
                        .into_iter()
                        .filter_map(|(a, b, optional, self_loop_ok)| {
                            let (a, b) = (a.index(n), b.index(n));
                            (a != b || self_loop_ok).then_some((a, b, optional))
                        })
                        .collect();
                    Graph {
                        nodes,
                        names,
                        edges,
                    }
                })
        })
    }

    /// A small fixed generator for timings inside one case.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }
}

use std::{
    cmp::Reverse,
    collections::{BTreeSet, BinaryHeap, HashMap, HashSet},
    time::Duration,
};

use graphs::*;
use lifeline::{
    api::v1alpha1::{ActionPhase, FailurePolicy, PlanPhase, RecoveryPlanStatus, SystemPhase},
    engine::{Action, Inputs, Observation, PlanModel, PlanProblem, PlanSettings, decide, observe},
    sim::{SimOptions, simulate},
};
use proptest::{prelude::*, sample::Index, test_runner::TestCaseError};

use crate::fixture::{self, stages};

/// Every node that transitively hard-depends on `root`.
fn transitive_dependents(graph: &Graph, root: usize) -> BTreeSet<usize> {
    let dependents = graph.hard_dependents();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(x) = stack.pop() {
        for &d in &dependents[x] {
            if seen.insert(d) {
                stack.push(d);
            }
        }
    }
    seen
}

/// Earliest finish of each node with unlimited capacity: its own planned time after the
/// latest of its hard dependencies. Nodes depend only on earlier nodes in a [`dag`].
fn earliest_finish(graph: &Graph) -> Vec<u64> {
    let deps = graph.hard_deps();
    let mut finish = vec![0u64; graph.len()];
    for i in 0..graph.len() {
        let start = deps[i].iter().map(|&d| finish[d]).max().unwrap_or(0);
        finish[i] = start + graph.nodes[i].planned();
    }
    finish
}

/// The longest hard-dependency chain, counted in nodes.
fn longest_chain(graph: &Graph) -> usize {
    let deps = graph.hard_deps();
    let mut depth = vec![0usize; graph.len()];
    for i in 0..graph.len() {
        depth[i] = 1 + deps[i].iter().map(|&d| depth[d]).max().unwrap_or(0);
    }
    depth.into_iter().max().unwrap_or(0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Done {
    Step {
        system: usize,
        step: usize,
        ok: bool,
    },
    Check {
        system: usize,
        check: usize,
        passed: bool,
        last: bool,
    },
}

/// Drives `decide`/`observe` by hand with random timings, checks that pass after a few
/// failed attempts, and the given systems (model indices) failing, checking at every
/// decision that nothing starts before its hard dependencies are verified and that the
/// parallelism cap holds. Returns the final status.
fn drive(
    model: &PlanModel,
    seed: u64,
    failing: &HashSet<usize>,
) -> Result<RecoveryPlanStatus, TestCaseError> {
    let mut rng = Rng(seed);
    let mut status = RecoveryPlanStatus::default();
    let mut queue: BinaryHeap<Reverse<(u64, u64, Done)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut now = 0u64;
    for round in 0.. {
        prop_assert!(round < 10_000, "the run does not end");
        let d = decide(model, &status, &Inputs::at(fixture::at(now as i64), model));
        let active = d
            .status
            .systems
            .iter()
            .filter(|s| s.phase.is_active())
            .count();
        if let Some(cap) = model.settings.parallelism {
            prop_assert!(active <= cap as usize, "{active} active, cap {cap}");
        }
        for action in &d.actions {
            let (Action::StartStep { system, .. } | Action::StartCheck { system, .. }) = *action
            else {
                continue;
            };
            let s = &d.status.systems[system];
            prop_assert!(s.phase.is_active(), "{} is {}", s.name, s.phase);
            let started = s.restore_started_at.as_ref().map(|t| t.0);
            prop_assert!(started.is_some(), "{} has no restore start", s.name);
            for &dep in &model.systems[system].hard_deps {
                let ds = &d.status.systems[dep];
                prop_assert!(
                    ds.phase.is_verified(),
                    "{} runs while its dependency {} is {}",
                    s.name,
                    ds.name,
                    ds.phase
                );
                let verified = ds.verified_at.as_ref().map(|t| t.0);
                prop_assert!(verified <= started, "{} started before {}", s.name, ds.name);
            }
            if let Action::StartStep { step, .. } = *action {
                let first_open = s
                    .steps
                    .iter()
                    .position(|x| x.phase != ActionPhase::Succeeded);
                prop_assert_eq!(first_open, Some(step), "steps run in order");
            }
        }
        status = d.status;
        for action in d.actions {
            match action {
                Action::StartStep { system, step } => {
                    let ok = !(failing.contains(&system) && step == 0);
                    seq += 1;
                    let at = now + rng.below(30);
                    queue.push(Reverse((at, seq, Done::Step { system, step, ok })));
                }
                Action::StartCheck { system, check } => {
                    let fails = failing.contains(&system)
                        && model.systems[system].steps.is_empty()
                        && check == 0;
                    let mut at = now;
                    for _ in 0..rng.below(3) {
                        at += rng.below(10);
                        seq += 1;
                        let done = Done::Check {
                            system,
                            check,
                            passed: false,
                            last: false,
                        };
                        queue.push(Reverse((at, seq, done)));
                    }
                    at += rng.below(10);
                    seq += 1;
                    let done = Done::Check {
                        system,
                        check,
                        passed: !fails,
                        last: true,
                    };
                    queue.push(Reverse((at, seq, done)));
                }
                Action::Release { .. } => {}
            }
        }
        let Some(Reverse((next, _, _))) = queue.peek() else {
            break;
        };
        now = *next;
        while let Some(Reverse((at, _, done))) = queue.peek().copied() {
            if at != now {
                break;
            }
            queue.pop();
            let obs = match done {
                Done::Step { system, step, ok } if ok => Observation::StepSucceeded {
                    system,
                    step,
                    token: None,
                },
                Done::Step { system, step, .. } => Observation::StepFailed {
                    system,
                    step,
                    message: "failed".into(),
                },
                Done::Check {
                    system,
                    check,
                    passed,
                    last,
                } => Observation::CheckAttempt {
                    system,
                    check,
                    passed,
                    error: (!passed).then(|| "refused".to_string()),
                    last,
                },
            };
            observe(&mut status, &obs, fixture::at(now as i64));
        }
    }
    Ok(status)
}

proptest! {
    /// Property 1: no restore starts before all of its hard dependencies are verified,
    /// at every decision and in the final record, whatever the timings, the cap and
    /// the failures; and the run ends with every system settled.
    #[test]
    fn nothing_starts_before_its_hard_dependencies_are_verified(
        graph in dag(40),
        parallelism in prop::option::of(1u32..=6),
        seed in any::<u64>(),
        fail in prop::collection::vec(any::<Index>(), 0..=2),
    ) {
        let model = graph
            .plan(PlanSettings { parallelism, ..PlanSettings::default() })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let at = graph.model_index(&model);
        let failing: HashSet<usize> = fail
            .iter()
            .map(|x| at[x.index(graph.len())])
            .filter(|&i| !model.systems[i].steps.is_empty() || !model.systems[i].checks.is_empty())
            .collect();
        let status = drive(&model, seed, &failing)?;

        for (i, s) in status.systems.iter().enumerate() {
            prop_assert!(s.phase.is_terminal(), "{} ended {}", s.name, s.phase);
            if failing.contains(&i) {
                // Failed, unless another failure blocked it before it started.
                prop_assert!(
                    s.phase == SystemPhase::Failed
                        || (s.phase == SystemPhase::Blocked && s.restore_started_at.is_none()),
                    "{} was to fail but is {}", s.name, s.phase
                );
            }
            if let Some(started) = &s.restore_started_at {
                for &d in &model.systems[i].hard_deps {
                    let dep = &status.systems[d];
                    prop_assert!(
                        dep.verified_at.is_some(),
                        "{} started, {} never verified", s.name, dep.name
                    );
                    prop_assert!(dep.verified_at.as_ref().map(|t| t.0) <= Some(started.0));
                }
            } else {
                prop_assert!(
                    matches!(s.phase, SystemPhase::Blocked | SystemPhase::Cancelled),
                    "{} never started but is {}", s.name, s.phase
                );
            }
            if let (Some(started), Some(verified)) = (&s.restore_started_at, &s.verified_at) {
                prop_assert!(started.0 <= verified.0);
            }
        }
        let expected = if failing.is_empty() { PlanPhase::Succeeded } else { PlanPhase::Failed };
        prop_assert_eq!(status.phase, expected);
    }

    /// Property 2: waves are minimal topological levels of the hard dependencies.
    #[test]
    fn waves_are_minimal(graph in dag(60)) {
        let model = graph
            .plan(PlanSettings::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut wave_of = vec![usize::MAX; model.systems.len()];
        for (k, wave) in model.waves.iter().enumerate() {
            prop_assert!(!wave.is_empty());
            for &i in wave {
                prop_assert_eq!(
                    wave_of[i], usize::MAX, "{} is in two waves", &model.systems[i].key
                );
                wave_of[i] = k;
            }
        }
        prop_assert!(wave_of.iter().all(|&k| k != usize::MAX), "every system is in a wave");
        for (i, s) in model.systems.iter().enumerate() {
            let k = wave_of[i];
            for &d in &s.hard_deps {
                prop_assert!(wave_of[d] < k, "{} is not after its dependency", s.key);
            }
            if k > 0 {
                prop_assert!(
                    s.hard_deps.iter().any(|&d| wave_of[d] == k - 1),
                    "{} in wave {} could go earlier", s.key, k
                );
            } else {
                prop_assert!(s.hard_deps.is_empty());
            }
        }
        prop_assert_eq!(model.waves.len(), longest_chain(&graph));

        // The systems are in restore order: wave by wave, then tier, then name.
        let order: Vec<usize> = model.waves.iter().flatten().copied().collect();
        prop_assert_eq!(order, (0..model.systems.len()).collect::<Vec<_>>());
        for wave in &model.waves {
            for pair in wave.windows(2) {
                let (a, b) = (&model.systems[pair[0]], &model.systems[pair[1]]);
                prop_assert!((a.tier, &a.key) < (b.tier, &b.key));
            }
        }

        // The dependencies survive the reordering.
        let at = graph.model_index(&model);
        let deps = graph.hard_deps();
        for i in 0..graph.len() {
            let got: BTreeSet<usize> = model.systems[at[i]].hard_deps.iter().copied().collect();
            let want: BTreeSet<usize> = deps[i].iter().map(|&d| at[d]).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// Property 3: the planner errs exactly when the graph (hard and optional edges) has a
    /// cycle; every cycle it reports is real; every strongly connected component with a
    /// cycle has one reported.
    #[test]
    fn every_cycle_is_found(graph in digraph(25)) {
        let n = graph.len();
        let mut adj = vec![BTreeSet::new(); n];
        for &(a, b, _) in &graph.edges {
            adj[a].insert(b);
        }
        // reach[i][j]: a path of one or more edges from i to j.
        let mut reach = vec![vec![false; n]; n];
        for (i, row) in reach.iter_mut().enumerate() {
            let mut stack: Vec<usize> = adj[i].iter().copied().collect();
            while let Some(x) = stack.pop() {
                if !row[x] {
                    row[x] = true;
                    stack.extend(adj[x].iter().copied());
                }
            }
        }
        let cyclic = (0..n).any(|i| reach[i][i]);
        let result = graph.plan(PlanSettings::default());
        prop_assert_eq!(result.is_err(), cyclic, "{:?}", result.as_ref().err());
        let Err(errors) = result else { return Ok(()); };

        let index: HashMap<String, usize> = (0..n).map(|i| (graph.key(i), i)).collect();
        let mut touched = HashSet::new();
        for problem in &errors.0 {
            let PlanProblem::Cycle(names) = problem else {
                return Err(TestCaseError::fail(format!("not a cycle: {problem}")));
            };
            prop_assert!(names.len() >= 2, "{}", problem);
            prop_assert_eq!(names.first(), names.last(), "{}", problem);
            let nodes: Vec<usize> = names.iter().map(|x| index[x]).collect();
            for pair in nodes.windows(2) {
                prop_assert!(
                    adj[pair[0]].contains(&pair[1]),
                    "{}: {} does not depend on {}", problem, names[0], names[1]
                );
            }
            let distinct: HashSet<usize> = nodes[1..].iter().copied().collect();
            prop_assert_eq!(distinct.len(), nodes.len() - 1, "{} repeats a system", problem);
            prop_assert_eq!(
                problem.to_string(),
                format!("dependency cycle: {}", names.join(" -> "))
            );
            touched.extend(nodes);
        }
        for i in (0..n).filter(|&i| reach[i][i]) {
            let component: Vec<usize> = (0..n).filter(|&j| reach[i][j] && reach[j][i]).collect();
            prop_assert!(
                component.iter().any(|j| touched.contains(j)),
                "no cycle reported through {}", graph.key(i)
            );
        }
    }

    /// Property 4: with unlimited capacity the simulation takes exactly the critical
    /// path, and every system is verified at its earliest possible finish.
    #[test]
    fn unlimited_capacity_finishes_on_the_critical_path(graph in dag(60)) {
        let model = graph
            .plan(PlanSettings::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let finish = earliest_finish(&graph);
        let longest = finish.iter().copied().max().unwrap_or(0);
        prop_assert_eq!(model.critical_path.duration, Duration::from_secs(longest));

        // The critical path is a chain of hard dependencies adding up to its duration.
        let chain = &model.critical_path.systems;
        prop_assert!(!chain.is_empty());
        prop_assert!(model.systems[chain[0]].hard_deps.is_empty());
        for pair in chain.windows(2) {
            prop_assert!(model.systems[pair[1]].hard_deps.contains(&pair[0]));
        }
        let total: Duration = chain.iter().map(|&i| model.systems[i].planned_duration()).sum();
        prop_assert_eq!(total, model.critical_path.duration);

        let report = simulate(&model, &SimOptions::default(), |_, _| {});
        prop_assert_eq!(report.finished_at, longest as f64);
        prop_assert_eq!(report.status.phase, PlanPhase::Succeeded);
        let at = graph.model_index(&model);
        let deps = graph.hard_deps();
        for i in 0..graph.len() {
            let s = &report.systems[at[i]];
            prop_assert_eq!(s.verified_at, Some(finish[i] as f64), "{}", &s.name);
            let ready = deps[i].iter().map(|&d| finish[d]).max().unwrap_or(0);
            prop_assert_eq!(s.started_at, Some(ready as f64), "{}", &s.name);
        }
    }

    /// Property 5: the simulation always ends with every system settled; failing one
    /// system fails exactly it and blocks exactly its transitive hard dependents.
    #[test]
    fn a_failure_blocks_exactly_the_transitive_dependents(
        graph in dag(60),
        parallelism in prop::option::of(1u32..=8),
        stage_count in 0usize..=2,
        fail in prop::option::of(any::<Index>()),
        jitter in prop::bool::weighted(0.3),
        seed in any::<u64>(),
    ) {
        let model = graph
            .plan(PlanSettings {
                parallelism,
                failure_policy: FailurePolicy::Continue,
                stages: stages(&["stage-0", "stage-1"][..stage_count]),
                incident_started_at: None,
                held_elsewhere: Default::default(),
            })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Only a system with a step or a check can fail.
        let candidates: Vec<usize> =
            (0..graph.len()).filter(|&i| graph.nodes[i].has_work()).collect();
        let failed = fail
            .filter(|_| !candidates.is_empty())
            .map(|x| candidates[x.index(candidates.len())]);
        let opts = SimOptions {
            fail: failed.iter().map(|&i| graph.key(i)).collect(),
            seed,
            jitter_percent: if jitter { 50.0 } else { 0.0 },
            approval_delay: None,
        };
        let report = simulate(&model, &opts, |_, _| {});
        let blocked = failed.map(|f| transitive_dependents(&graph, f)).unwrap_or_default();
        let at = graph.model_index(&model);
        for (i, &m) in at.iter().enumerate() {
            let s = &report.systems[m];
            prop_assert!(s.phase.is_terminal(), "{} ended {}", s.name, s.phase);
            let status = &report.status.systems[m];
            if Some(i) == failed {
                prop_assert_eq!(s.phase, SystemPhase::Failed, "{}", &s.name);
            } else if blocked.contains(&i) {
                prop_assert_eq!(s.phase, SystemPhase::Blocked, "{}", &s.name);
                prop_assert_eq!(status.blocked_by.clone(), failed.map(|f| graph.key(f)));
            } else if stage_count == 0 {
                prop_assert_eq!(s.phase, SystemPhase::Verified, "{}", &s.name);
            } else {
                prop_assert_eq!(s.phase, SystemPhase::Released, "{}", &s.name);
                prop_assert_eq!(
                    status.released_stage.clone(),
                    Some(format!("stage-{}", stage_count - 1))
                );
            }
        }
        let expected = if failed.is_some() { PlanPhase::Failed } else { PlanPhase::Succeeded };
        prop_assert_eq!(report.status.phase, expected);
    }
}
