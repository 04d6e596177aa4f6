//! The planner: turns a RecoveryPlan and the ClinicalSystems it selects into a validated
//! [`PlanModel`]: the dependency graph checked (unknown dependencies, cycles, duplicates,
//! hard dependencies left out of the plan, malformed specs), the restore waves and the
//! critical path.

use std::{
    collections::{HashMap, hash_map::Entry},
    fmt,
    time::Duration,
};

use petgraph::{
    algo::tarjan_scc,
    graph::{DiGraph, NodeIndex},
};
use serde::Serialize;

use crate::api::v1alpha1::{
    ApprovalRule, ClinicalSystemSpec, DEFAULT_EXPECTED_RECOVERY_TIME, FailurePolicy, Tier,
    parse_duration,
};

/// One ClinicalSystem as the planner sees it: its key and spec, and where it came from
/// (a file and document, or "cluster") for error messages.
#[derive(Clone, Debug)]
pub struct SystemSource<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The spec.
    pub spec: &'a ClinicalSystemSpec,
    /// Where the object came from, e.g. "playbooks/x/systems.yaml (document 3)".
    pub origin: &'a str,
}

/// What the plan asks for, independent of where it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanSettings {
    /// Cap on systems restoring or verifying at once; `None` for no cap.
    pub parallelism: Option<u32>,
    /// What happens after a failure.
    pub failure_policy: FailurePolicy,
    /// Release stages, in order.
    pub stages: Vec<StageModel>,
    /// `spec.incidentStartedAt`: recovery times count from it.
    pub incident_started_at: Option<k8s_openapi::jiff::Timestamp>,
    /// Systems in the plan that another plan recovers ("namespace/name"): this plan does
    /// not run them, so their own hard dependencies need not be in it.
    pub held_elsewhere: std::collections::BTreeSet<String>,
}

impl PlanSettings {
    /// The position of stage `name` among the plan's stages, if it is one of them.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        stage_index(self.stages.iter().map(|s| s.name.as_str()), name)
    }

    /// The position of the stage a system released at `released` waits for next: 0 for a
    /// system not released yet, `stages.len()` for one released at every stage.
    pub fn next_stage(&self, released: Option<&str>) -> usize {
        released
            .and_then(|r| self.stage_index(r))
            .map_or(0, |i| i + 1)
    }
}

/// The position of stage `name` among `stages`, in order: the one lookup every part of
/// lifeline uses to place a stage.
pub fn stage_index<'a>(mut stages: impl Iterator<Item = &'a str>, name: &str) -> Option<usize> {
    stages.position(|s| s == name)
}

/// A release stage as the engine needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageModel {
    /// Stage name.
    pub name: String,
    /// Its approval rule.
    pub approval: ApprovalRule,
    /// Checklist items every approver acknowledges.
    pub checklist: Vec<String>,
    /// How long people usually take to decide a system here (for the simulator).
    pub decision_time: Option<Duration>,
    /// How long a system stays here, its checks passing, before it may go on.
    pub soak: Option<Duration>,
}

/// One system in a validated plan. Dependencies are indices into [`PlanModel::systems`].
#[derive(Clone, Debug, PartialEq)]
pub struct SystemModel {
    /// "namespace/name".
    pub key: String,
    /// The name people know it by.
    pub display_name: String,
    /// Tier.
    pub tier: Tier,
    /// Recovery-time objective.
    pub objective: Duration,
    /// Expected restore plus verification time.
    pub expected: Duration,
    /// Hard dependencies (must be verified before this restore starts).
    pub hard_deps: Vec<usize>,
    /// Optional dependencies in the plan (ordering hints only).
    pub optional_deps: Vec<usize>,
    /// Restore step names, in order.
    pub steps: Vec<String>,
    /// Which restore steps are manual (confirmed by an Approval).
    pub manual_steps: Vec<bool>,
    /// Which restore steps may run again without `--force` (not `repeatable: false`).
    pub repeatable_steps: Vec<bool>,
    /// `release.reapproveAfterRestore`.
    pub reapprove_after_restore: bool,
    /// Check names.
    pub checks: Vec<String>,
    /// Whether the system has a release gate (`spec.release`).
    pub has_release_gate: bool,
    /// The pause between runs of a check: of a failing one while verifying, of every one
    /// while soaking or degraded.
    pub retry_interval: Duration,
    /// The pause between runs of its checks once verified (`verify.monitorInterval`).
    pub monitor_interval: Duration,
    /// `release.withdrawOnFailure`: a regression drops the gate to the verification
    /// audience.
    pub withdraw_on_failure: bool,
    /// The recovery-point objective (`recoveryPointObjective`), if it declares one.
    pub point_objective: Option<Duration>,
    /// Which restore steps report a restore point (`restorePoint`).
    pub restore_point_steps: Vec<bool>,
    /// `release.handBack`: what staff must do once it is back.
    pub hand_back: Vec<String>,
}

/// Default pause between runs of a verified system's checks.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(60);

/// A ClinicalSystem's monitor interval: `verify.monitorInterval`, else the default, never
/// under a second.
pub fn monitor_interval_of(spec: &crate::api::v1alpha1::ClinicalSystemSpec) -> Duration {
    spec.verify
        .as_ref()
        .and_then(|v| v.monitor_interval.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_MONITOR_INTERVAL)
        .max(MIN_RETRY_INTERVAL)
}

/// Default pause between attempts of a failing check.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest pause between attempts of a check.
pub const MIN_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// A ClinicalSystem's retry interval: `verify.retryInterval`, else the default, and never
/// under a second (the schema refuses less; an object stored before it did is held to it
/// here, so one check never retries in a tight loop).
pub fn retry_interval_of(spec: &crate::api::v1alpha1::ClinicalSystemSpec) -> Duration {
    spec.verify
        .as_ref()
        .and_then(|v| v.retry_interval.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_RETRY_INTERVAL)
        .max(MIN_RETRY_INTERVAL)
}

impl SystemModel {
    /// How long the system takes in a plan and in the simulator: its expected time, also
    /// for a system with neither restore steps nor checks yet (a tabletop is run before
    /// they are written). The operator completes such a system as soon as its
    /// dependencies do, as there is nothing to run.
    pub fn planned_duration(&self) -> Duration {
        self.expected
    }
}

/// A validated plan: systems in restore order (wave by wave; within a wave, tier then
/// name), with the waves and critical path.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanModel {
    /// The systems, in restore order.
    pub systems: Vec<SystemModel>,
    /// Index of each system by key.
    pub index: HashMap<String, usize>,
    /// Topological levels over hard dependencies: wave 0 has no hard dependencies in the plan.
    pub waves: Vec<Vec<usize>>,
    /// The longest chain of hard dependencies by planned duration.
    pub critical_path: CriticalPath,
    /// The plan's settings.
    pub settings: PlanSettings,
}

/// The longest chain of hard dependencies, by planned duration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    /// Indices into [`PlanModel::systems`], first to last.
    pub systems: Vec<usize>,
    /// The chain's total planned duration.
    pub duration: Duration,
}

/// One problem found while planning. Every variant names what it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanProblem {
    /// A system's `dependsOn` names a system that does not exist.
    #[error("{system} ({origin}): spec.dependsOn names {missing}, which does not exist")]
    UnknownDependency {
        /// The referring system.
        system: String,
        /// Where it came from.
        origin: String,
        /// The missing name.
        missing: String,
    },
    /// Two objects with the same namespace and name.
    #[error("{system} is defined twice: {first} and {second}")]
    Duplicate {
        /// The duplicated key.
        system: String,
        /// Where the first came from.
        first: String,
        /// Where the second came from.
        second: String,
    },
    /// A dependency cycle, printed `a -> b -> c -> a`.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// The plan selects a system but not one of its hard dependencies.
    #[error(
        "{system} is in the plan but its hard dependency {dependency} is not: add it to the plan or mark the dependency optional"
    )]
    DependencyNotSelected {
        /// The selected system.
        system: String,
        /// The hard dependency left out.
        dependency: String,
    },
    /// The plan names a system that does not exist.
    #[error("the plan selects {system}, which does not exist")]
    UnknownSelected {
        /// The missing system.
        system: String,
    },
    /// A field of a system's spec is malformed.
    #[error("{system} ({origin}): {field}: {message}")]
    InvalidField {
        /// The system.
        system: String,
        /// Where it came from.
        origin: String,
        /// The field path, e.g. "spec.restore.steps[2]".
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The plan selects no systems at all.
    #[error("the plan selects no ClinicalSystems")]
    Empty,
}

/// Every problem found, so a person fixes them all in one go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanProblem>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the plan:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Checks one system's spec for what the CRD schema would reject, for input that did not
/// go through the API server (files read by the CLI).
fn check_spec(src: &SystemSource<'_>, problems: &mut Vec<PlanProblem>) -> (Duration, Duration) {
    // The key is only needed for a problem: formatting it up front for every system was
    // a measurable share of planning a large estate.
    let mut bad = |field: String, message: String| {
        problems.push(PlanProblem::InvalidField {
            system: key(src.namespace, src.name),
            origin: src.origin.to_string(),
            field,
            message,
        })
    };
    let spec = src.spec;
    let objective = match parse_duration(&spec.recovery_time_objective.0) {
        Ok(d) => d,
        Err(e) => {
            bad("spec.recoveryTimeObjective".into(), e.to_string());
            Duration::ZERO
        }
    };
    let expected_text = spec
        .expected_recovery_time
        .as_ref()
        .map(|d| d.0.as_str())
        .unwrap_or(DEFAULT_EXPECTED_RECOVERY_TIME);
    let expected = match parse_duration(expected_text) {
        Ok(d) => d,
        Err(e) => {
            bad("spec.expectedRecoveryTime".into(), e.to_string());
            Duration::ZERO
        }
    };
    // Duplicate names: the nearest earlier namesake, by a scan (at most 50 of each per the
    // schema) rather than a map allocated for every system.
    let steps = spec.steps();
    for (i, step) in steps.iter().enumerate() {
        if step.action().is_none() {
            bad(
                format!("spec.restore.steps[{i}]"),
                "a restore step must set exactly one of scale, rolloutRestart, job, waitFor or manual"
                    .into(),
            );
        }
        if let Some(first) = steps[..i].iter().rposition(|x| x.name == step.name) {
            bad(
                format!("spec.restore.steps[{i}].name"),
                format!("'{}' is also the name of steps[{first}]", step.name),
            );
        }
    }
    let checks = spec.checks();
    for (i, check) in checks.iter().enumerate() {
        if check.action().is_none() {
            bad(
                format!("spec.verify.checks[{i}]"),
                "a check must set exactly one of http, tcp, job or workloadReady".into(),
            );
        }
        if let Some(first) = checks[..i].iter().rposition(|x| x.name == check.name) {
            bad(
                format!("spec.verify.checks[{i}].name"),
                format!("'{}' is also the name of checks[{first}]", check.name),
            );
        }
    }
    for (field, value) in [
        (
            "spec.restore.timeout",
            spec.restore.as_ref().and_then(|r| r.timeout.as_ref()),
        ),
        (
            "spec.verify.retryInterval",
            spec.verify.as_ref().and_then(|v| v.retry_interval.as_ref()),
        ),
        (
            "spec.verify.deadline",
            spec.verify.as_ref().and_then(|v| v.deadline.as_ref()),
        ),
        (
            "spec.recoveryPointObjective",
            spec.recovery_point_objective.as_ref(),
        ),
    ] {
        if let Some(Err(e)) = value.map(|d| d.parse()) {
            bad(field.into(), e.to_string());
        }
    }
    (objective, expected)
}

/// Every known system's "namespace/name", in one buffer: one allocation for all of them
/// instead of one each, and lookups and sorting that compare neighbouring memory.
struct Keys {
    text: String,
    /// Where each key ends in `text`; key `i` starts where key `i - 1` ends.
    ends: Vec<usize>,
}

impl Keys {
    fn new(all: &[SystemSource<'_>]) -> Self {
        let len = all
            .iter()
            .map(|s| s.namespace.len() + 1 + s.name.len())
            .sum();
        let mut text = String::with_capacity(len);
        let mut ends = Vec::with_capacity(all.len());
        for s in all {
            text.push_str(s.namespace);
            text.push('/');
            text.push_str(s.name);
            ends.push(text.len());
        }
        Self { text, ends }
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// Lists of indices stored end to end: list `i` is `items[ends[i - 1]..ends[i]]`.
struct Lists {
    items: Vec<usize>,
    ends: Vec<usize>,
}

impl Lists {
    fn with_capacity(lists: usize, items: usize) -> Self {
        Self {
            items: Vec::with_capacity(items),
            ends: Vec::with_capacity(lists),
        }
    }

    fn push(&mut self, list: &[usize]) {
        self.items.extend_from_slice(list);
        self.ends.push(self.items.len());
    }

    fn get(&self, i: usize) -> &[usize] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.items[start..self.ends[i]]
    }
}

/// Builds and validates a plan from every known system (`all`) and the keys the plan
/// selects (`selected`, "namespace/name"). Returns every problem found, not just the first.
pub fn plan(
    all: &[SystemSource<'_>],
    selected: &[String],
    settings: PlanSettings,
) -> Result<PlanModel, PlanErrors> {
    let mut problems = Vec::new();

    // Every known system, by key, to its position in `all`; duplicates reported.
    let keys = Keys::new(all);
    let mut known: HashMap<&str, usize> = HashMap::with_capacity(all.len());
    for (i, src) in all.iter().enumerate() {
        match known.entry(keys.get(i)) {
            Entry::Occupied(first) => problems.push(PlanProblem::Duplicate {
                system: first.key().to_string(),
                first: all[*first.get()].origin.to_string(),
                second: src.origin.to_string(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }

    // The selected systems (positions in `all`), deduplicated, in key order.
    let mut chosen: Vec<usize> = Vec::with_capacity(selected.len());
    let mut picked = vec![false; all.len()];
    for k in selected {
        match known.get(k.as_str()) {
            None => problems.push(PlanProblem::UnknownSelected { system: k.clone() }),
            Some(&i) if !picked[i] => {
                picked[i] = true;
                chosen.push(i);
            }
            Some(_) => {}
        }
    }
    if chosen.is_empty() && problems.is_empty() {
        problems.push(PlanProblem::Empty);
    }
    // Keys are unique, so the order is total.
    chosen.sort_unstable_by(|&a, &b| keys.get(a).cmp(keys.get(b)));
    // Each known system's position in the plan, if selected, so a dependency is resolved
    // with one lookup.
    let mut in_plan: Vec<Option<usize>> = vec![None; all.len()];
    for (i, &c) in chosen.iter().enumerate() {
        in_plan[c] = Some(i);
    }
    // The selected systems are read in the order they were given, usually the order they
    // sit in memory, rather than key order: reading them in key order was dominated by
    // cache misses. `at[p]` is where the system at key-order position `p` is in
    // `systems`, and dependencies are key-order positions.
    let n = chosen.len();
    let mut systems: Vec<SystemModel> = Vec::with_capacity(n);
    let mut at = vec![0usize; n];
    // Each system's tier and hard dependencies, by where it is in `systems`, for the
    // passes over the graph: small arrays rather than the systems themselves.
    let mut tiers: Vec<Tier> = Vec::with_capacity(n);
    let mut hard = Lists::with_capacity(n, n * 4);
    // Problems found here, with the key-order position of their system: they are
    // reported in key order.
    let mut found: Vec<(usize, PlanProblem)> = Vec::new();
    // Dependency keys are built here rather than allocated one by one.
    let mut dep_key = String::new();
    for (c, src) in all.iter().enumerate() {
        let Some(pos) = in_plan[c] else {
            continue;
        };
        at[pos] = systems.len();
        let first_problem = problems.len();
        let (objective, expected) = check_spec(src, &mut problems);
        let mut hard_deps = Vec::with_capacity(src.spec.depends_on.len());
        let mut optional_deps = Vec::new();
        for dep in &src.spec.depends_on {
            dep_key.clear();
            dep_key.push_str(dep.namespace.as_deref().unwrap_or(src.namespace));
            dep_key.push('/');
            dep_key.push_str(&dep.name);
            let Some(&known_at) = known.get(dep_key.as_str()) else {
                problems.push(PlanProblem::UnknownDependency {
                    system: keys.get(c).to_string(),
                    origin: src.origin.to_string(),
                    missing: dep_key.clone(),
                });
                continue;
            };
            match in_plan[known_at] {
                Some(j) if dep.optional => optional_deps.push(j),
                Some(j) => {
                    if !hard_deps.contains(&j) {
                        hard_deps.push(j);
                    }
                }
                None if dep.optional || settings.held_elsewhere.contains(keys.get(c)) => {}
                None => problems.push(PlanProblem::DependencyNotSelected {
                    system: keys.get(c).to_string(),
                    dependency: dep_key.clone(),
                }),
            }
        }
        found.extend(problems.drain(first_problem..).map(|p| (pos, p)));
        tiers.push(src.spec.tier);
        hard.push(&hard_deps);
        let steps = src.spec.steps();
        systems.push(SystemModel {
            key: keys.get(c).to_string(),
            display_name: src.spec.display_name.clone(),
            tier: src.spec.tier,
            objective,
            expected,
            hard_deps,
            optional_deps,
            steps: steps.iter().map(|s| s.name.clone()).collect(),
            manual_steps: steps.iter().map(|s| s.manual.is_some()).collect(),
            repeatable_steps: steps.iter().map(|s| s.repeatable != Some(false)).collect(),
            reapprove_after_restore: src
                .spec
                .release
                .as_ref()
                .is_some_and(|r| r.reapprove_after_restore),
            checks: src.spec.checks().iter().map(|c| c.name.clone()).collect(),
            has_release_gate: src.spec.release.is_some(),
            retry_interval: retry_interval_of(src.spec),
            monitor_interval: monitor_interval_of(src.spec),
            withdraw_on_failure: src
                .spec
                .release
                .as_ref()
                .is_some_and(|r| r.withdraw_on_failure),
            point_objective: src
                .spec
                .recovery_point_objective
                .as_ref()
                .and_then(|d| d.parse().ok()),
            restore_point_steps: steps.iter().map(|s| s.restore_point.is_some()).collect(),
            hand_back: src
                .spec
                .release
                .as_ref()
                .map(|r| r.hand_back.clone())
                .unwrap_or_default(),
        });
    }
    // A stable sort: each system's problems stay in the order they were found.
    found.sort_by_key(|(pos, _)| *pos);
    problems.extend(found.into_iter().map(|(_, p)| p));

    // Topological levels over hard dependencies; they cover every system only if there
    // is no cycle among them.
    let mut waves = levels(n, |p| hard.get(at[p]).iter().copied());
    // Cycles over hard and optional dependencies alike: an optional dependency in a cycle
    // still makes the order meaningless. Self-loops included.
    let has_optional = systems.iter().any(|s| !s.optional_deps.is_empty());
    let acyclic = waves.iter().map(Vec::len).sum::<usize>() == n
        && (!has_optional
            || levels(n, |p| {
                let i = at[p];
                hard.get(i).iter().chain(&systems[i].optional_deps).copied()
            })
            .iter()
            .map(Vec::len)
            .sum::<usize>()
                == n);
    if !acyclic {
        report_cycles(&systems, &at, has_optional, &mut problems);
    }

    if !problems.is_empty() {
        return Err(PlanErrors(problems));
    }

    for wave in &mut waves {
        // Positions are in key order and keys are unique, so the position orders like the
        // key without comparing strings.
        wave.sort_unstable_by_key(|&p| (tiers[at[p]], p));
    }
    let (systems, waves) = order_by_waves(systems, &at, waves);
    let mut index = HashMap::with_capacity(systems.len());
    for (i, s) in systems.iter().enumerate() {
        index.insert(s.key.clone(), i);
    }
    let critical_path = critical_path(&systems);
    Ok(PlanModel {
        systems,
        index,
        waves,
        critical_path,
        settings,
    })
}

/// Kahn's algorithm over `n` systems whose dependencies are `deps(i)`: the topological
/// levels (level 0 has no dependencies), each in the order found. The levels hold fewer
/// than `n` systems in all when there is a cycle.
fn levels<I: Iterator<Item = usize>>(n: usize, deps: impl Fn(usize) -> I) -> Vec<Vec<usize>> {
    // Dependents of each system, flattened: those of `d` are
    // `dependents[start[d]..start[d + 1]]`.
    let mut pending = vec![0usize; n];
    let mut start = vec![0usize; n + 1];
    for (i, waiting) in pending.iter_mut().enumerate() {
        for d in deps(i) {
            *waiting += 1;
            start[d + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut dependents = vec![0usize; start[n]];
    for i in 0..n {
        for d in deps(i) {
            dependents[fill[d]] = i;
            fill[d] += 1;
        }
    }
    let mut frontier: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut out = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for &i in &frontier {
            for &d in &dependents[start[i]..start[i + 1]] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    next.push(d);
                }
            }
        }
        out.push(std::mem::replace(&mut frontier, next));
    }
    out
}

/// Reports every cycle among `systems` (`at[p]` is the system at key-order position
/// `p`), over hard dependencies and, if `with_optional`, optional ones. Only called when
/// there is one, so the graph library's strongly connected components are only paid for
/// then.
fn report_cycles(
    systems: &[SystemModel],
    at: &[usize],
    with_optional: bool,
    problems: &mut Vec<PlanProblem>,
) {
    // Nodes in key order and edges (dependency -> dependent) in the order that fixes the
    // order the cycles are reported in.
    let n = at.len();
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(n, n * 4);
    let nodes: Vec<NodeIndex> = (0..n).map(|p| graph.add_node(p)).collect();
    for (p, &i) in at.iter().enumerate() {
        for &j in &systems[i].hard_deps {
            graph.add_edge(nodes[j], nodes[p], ());
        }
    }
    if with_optional {
        for (p, &i) in at.iter().enumerate() {
            for &j in &systems[i].optional_deps {
                graph.add_edge(nodes[j], nodes[p], ());
            }
        }
    }
    for scc in tarjan_scc(&graph) {
        let cyclic = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if cyclic {
            let cycle = find_cycle(&graph, &scc);
            let mut names: Vec<String> = cycle
                .iter()
                .map(|n| systems[at[graph[*n]]].key.clone())
                .collect();
            if let Some(first) = names.first().cloned() {
                names.push(first);
            }
            problems.push(PlanProblem::Cycle(names));
        }
    }
}

/// A cycle through the strongly connected component `scc`, as nodes in dependency order
/// ("a depends on b" reads a -> b). Walks dependent -> dependency edges inside the
/// component from its smallest member until a node repeats.
fn find_cycle(graph: &DiGraph<usize, ()>, scc: &[NodeIndex]) -> Vec<NodeIndex> {
    let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
    let Some(&start) = scc.iter().min_by_key(|n| graph[**n]) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut seen: HashMap<NodeIndex, usize> = HashMap::from([(start, 0)]);
    let mut current = start;
    loop {
        // Edges point dependency -> dependent; follow them backwards to read
        // "dependent -> dependency".
        let next = graph
            .neighbors_directed(current, petgraph::Direction::Incoming)
            .filter(|n| members.contains(n))
            .min_by_key(|n| graph[*n]);
        let Some(next) = next else {
            return path;
        };
        if let Some(&at) = seen.get(&next) {
            return path.split_off(at);
        }
        seen.insert(next, path.len());
        path.push(next);
        current = next;
    }
}

/// Puts systems into restore order (`waves` of key-order positions, each already sorted
/// by tier then key; `at[p]` is the system at position `p`) and returns them with the
/// waves as indices into the new order.
fn order_by_waves(
    systems: Vec<SystemModel>,
    at: &[usize],
    waves: Vec<Vec<usize>>,
) -> (Vec<SystemModel>, Vec<Vec<usize>>) {
    let n = systems.len();
    let mut new_index = vec![0usize; n];
    let mut order = Vec::with_capacity(n);
    for wave in &waves {
        for &i in wave {
            new_index[i] = order.len();
            order.push(i);
        }
    }
    let mut slots: Vec<Option<SystemModel>> = systems.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n);
    for &p in &order {
        if let Some(mut s) = slots[at[p]].take() {
            for d in s.hard_deps.iter_mut().chain(s.optional_deps.iter_mut()) {
                *d = new_index[*d];
            }
            out.push(s);
        }
    }
    let waves = waves
        .iter()
        .map(|w| w.iter().map(|&i| new_index[i]).collect())
        .collect();
    (out, waves)
}

/// The longest chain of hard dependencies by planned duration. Systems are in restore
/// order, so every dependency comes before its dependents.
fn critical_path(systems: &[SystemModel]) -> CriticalPath {
    let n = systems.len();
    let mut finish = vec![Duration::ZERO; n];
    let mut via: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        let mut start = Duration::ZERO;
        for &d in &systems[i].hard_deps {
            if via[i].is_none() || finish[d] > start {
                start = finish[d];
                via[i] = Some(d);
            }
        }
        finish[i] = start + systems[i].planned_duration();
    }
    let Some(end) = (0..n).max_by(|&a, &b| finish[a].cmp(&finish[b]).then(b.cmp(&a))) else {
        return CriticalPath::default();
    };
    let mut chain = vec![end];
    let mut cur = end;
    while let Some(prev) = via[cur] {
        chain.push(prev);
        cur = prev;
    }
    chain.reverse();
    CriticalPath {
        systems: chain,
        duration: finish[end],
    }
}

impl PlanModel {
    /// The index of a system by "namespace/name".
    pub fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// For each system, the systems that hard-depend on it.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.systems.len()];
        for (i, s) in self.systems.iter().enumerate() {
            for &d in &s.hard_deps {
                out[d].push(i);
            }
        }
        out
    }
}
