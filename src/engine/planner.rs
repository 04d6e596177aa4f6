//! The planner: turns a RecoveryPlan and the ClinicalSystems it selects into a validated
//! [`PlanModel`]: the dependency graph checked (unknown dependencies, cycles, duplicates,
//! hard dependencies left out of the plan, malformed specs), the restore waves and the
//! critical path.

use std::{collections::HashMap, fmt, time::Duration};

use petgraph::{
    algo::{tarjan_scc, toposort},
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
}

/// A release stage as the engine needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct StageModel {
    /// Stage name.
    pub name: String,
    /// Its approval rule.
    pub approval: ApprovalRule,
    /// Checklist items every approver acknowledges.
    pub checklist: Vec<String>,
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
    /// Check names.
    pub checks: Vec<String>,
    /// Whether the system has a release gate (`spec.release`).
    pub has_release_gate: bool,
}

impl SystemModel {
    /// How long the system takes in a plan: its expected time, or zero for a system
    /// with neither restore steps nor checks (it completes as soon as its dependencies do).
    pub fn planned_duration(&self) -> Duration {
        if self.steps.is_empty() && self.checks.is_empty() {
            Duration::ZERO
        } else {
            self.expected
        }
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
    ] {
        if let Some(Err(e)) = value.map(|d| d.parse()) {
            bad(field.into(), e.to_string());
        }
    }
    (objective, expected)
}

/// Builds and validates a plan from every known system (`all`) and the keys the plan
/// selects (`selected`, "namespace/name"). Returns every problem found, not just the first.
pub fn plan(
    all: &[SystemSource<'_>],
    selected: &[String],
    settings: PlanSettings,
) -> Result<PlanModel, PlanErrors> {
    let mut problems = Vec::new();

    // Every known system, by key; duplicates reported.
    let keys: Vec<String> = all.iter().map(|s| key(s.namespace, s.name)).collect();
    let mut known: HashMap<&str, &SystemSource<'_>> = HashMap::with_capacity(all.len());
    for (src, k) in all.iter().zip(&keys) {
        if let Some(first) = known.get(k.as_str()) {
            problems.push(PlanProblem::Duplicate {
                system: k.clone(),
                first: first.origin.to_string(),
                second: src.origin.to_string(),
            });
        } else {
            known.insert(k, src);
        }
    }

    // The selected systems, deduplicated, in a stable order.
    let mut chosen: Vec<&str> = Vec::with_capacity(selected.len());
    let mut chosen_set: HashMap<&str, ()> = HashMap::with_capacity(selected.len());
    for k in selected {
        if !known.contains_key(k.as_str()) {
            problems.push(PlanProblem::UnknownSelected { system: k.clone() });
        } else if chosen_set.insert(k.as_str(), ()).is_none() {
            chosen.push(k.as_str());
        }
    }
    if chosen.is_empty() && problems.is_empty() {
        problems.push(PlanProblem::Empty);
    }
    chosen.sort_unstable();
    // Every known key with its position in the plan if selected, so a dependency is
    // resolved with one lookup.
    let mut resolve: HashMap<&str, Option<usize>> = known.keys().map(|k| (*k, None)).collect();
    for (i, k) in chosen.iter().enumerate() {
        if let Some(at) = resolve.get_mut(k) {
            *at = Some(i);
        }
    }
    // Dependency keys are built here rather than allocated one by one.
    let mut dep_key = String::new();

    // Nodes and edges (dependency -> dependent) over hard dependencies.
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(chosen.len(), chosen.len() * 4);
    let nodes: Vec<NodeIndex> = (0..chosen.len()).map(|i| graph.add_node(i)).collect();
    let mut systems: Vec<SystemModel> = Vec::with_capacity(chosen.len());
    for (i, k) in chosen.iter().enumerate() {
        let src = known[k];
        let (objective, expected) = check_spec(src, &mut problems);
        let mut hard_deps = Vec::new();
        let mut optional_deps = Vec::new();
        for dep in &src.spec.depends_on {
            dep_key.clear();
            dep_key.push_str(dep.namespace.as_deref().unwrap_or(src.namespace));
            dep_key.push('/');
            dep_key.push_str(&dep.name);
            let Some(&at) = resolve.get(dep_key.as_str()) else {
                problems.push(PlanProblem::UnknownDependency {
                    system: k.to_string(),
                    origin: src.origin.to_string(),
                    missing: dep_key.clone(),
                });
                continue;
            };
            match at {
                Some(j) if dep.optional => optional_deps.push(j),
                Some(j) => {
                    if !hard_deps.contains(&j) {
                        hard_deps.push(j);
                        graph.add_edge(nodes[j], nodes[i], ());
                    }
                }
                None if dep.optional => {}
                None => problems.push(PlanProblem::DependencyNotSelected {
                    system: k.to_string(),
                    dependency: dep_key.clone(),
                }),
            }
        }
        let steps = src.spec.steps();
        systems.push(SystemModel {
            key: k.to_string(),
            display_name: src.spec.display_name.clone(),
            tier: src.spec.tier,
            objective,
            expected,
            hard_deps,
            optional_deps,
            steps: steps.iter().map(|s| s.name.clone()).collect(),
            manual_steps: steps.iter().map(|s| s.manual.is_some()).collect(),
            checks: src.spec.checks().iter().map(|c| c.name.clone()).collect(),
            has_release_gate: src.spec.release.is_some(),
        });
    }

    // Cycles over hard and optional dependencies alike: an optional dependency in a cycle
    // still makes the order meaningless. Self-loops included.
    // The copy with optional edges is only made when there are any.
    let with_optional;
    let cycle_graph = if systems.iter().any(|s| !s.optional_deps.is_empty()) {
        let mut g = graph.clone();
        for (i, s) in systems.iter().enumerate() {
            for &j in &s.optional_deps {
                g.add_edge(nodes[j], nodes[i], ());
            }
        }
        with_optional = g;
        &with_optional
    } else {
        &graph
    };
    if toposort(cycle_graph, None).is_err() {
        for scc in tarjan_scc(cycle_graph) {
            let cyclic = scc.len() > 1 || cycle_graph.contains_edge(scc[0], scc[0]);
            if cyclic {
                let cycle = find_cycle(cycle_graph, &scc);
                let mut names: Vec<String> = cycle
                    .iter()
                    .map(|n| systems[cycle_graph[*n]].key.clone())
                    .collect();
                if let Some(first) = names.first().cloned() {
                    names.push(first);
                }
                problems.push(PlanProblem::Cycle(names));
            }
        }
    }

    if !problems.is_empty() {
        return Err(PlanErrors(problems));
    }

    let (systems, waves) = order_by_waves(systems);
    let index = systems
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.clone(), i))
        .collect();
    let critical_path = critical_path(&systems);
    Ok(PlanModel {
        systems,
        index,
        waves,
        critical_path,
        settings,
    })
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

/// Sorts systems into restore order (wave, then tier, then key) and returns them with the
/// waves as indices into the new order. Assumes no cycles and `systems` sorted by key.
fn order_by_waves(systems: Vec<SystemModel>) -> (Vec<SystemModel>, Vec<Vec<usize>>) {
    let n = systems.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending: Vec<usize> = vec![0; n];
    for (i, s) in systems.iter().enumerate() {
        pending[i] = s.hard_deps.len();
        for &d in &s.hard_deps {
            dependents[d].push(i);
        }
    }
    let mut level = vec![0usize; n];
    let mut frontier: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut waves_old: Vec<Vec<usize>> = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for &i in &frontier {
            for &d in &dependents[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    level[d] = waves_old.len() + 1;
                    next.push(d);
                }
            }
        }
        let mut wave = std::mem::replace(&mut frontier, next);
        // `systems` is in key order here and keys are unique, so the index orders like the
        // key without comparing strings.
        wave.sort_by_key(|&i| (systems[i].tier, i));
        waves_old.push(wave);
    }
    // Renumber.
    let mut new_index = vec![0usize; n];
    let mut order = Vec::with_capacity(n);
    for wave in &waves_old {
        for &i in wave {
            new_index[i] = order.len();
            order.push(i);
        }
    }
    let mut slots: Vec<Option<SystemModel>> = systems.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n);
    for &i in &order {
        if let Some(mut s) = slots[i].take() {
            for d in s.hard_deps.iter_mut().chain(s.optional_deps.iter_mut()) {
                *d = new_index[*d];
            }
            out.push(s);
        }
    }
    let waves = waves_old
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
