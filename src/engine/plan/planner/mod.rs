//! The planner: turns a RecoveryPlan and the ClinicalSystems it selects into a validated
//! [`PlanModel`]: the dependency graph checked (unknown dependencies, cycles, duplicates,
//! hard dependencies left out of the plan, malformed specs), the restore waves and the
//! critical path.

//!
//! - `model`: what the planner returns ([`PlanModel`]) and is given ([`SystemSource`],
//!   [`PlanSettings`]).
//! - `problems`: what it reports ([`PlanProblem`]), and a system's spec checked for what
//!   the CRD schema would reject.
//! - `graph`: the restore waves, cycles and the critical path over the dependency graph.

mod graph;
mod model;
mod problems;

use std::collections::{HashMap, hash_map::Entry};

use crate::api::v1alpha1::Tier;

pub use model::{
    CriticalPath, DEFAULT_MONITOR_INTERVAL, DEFAULT_RETRY_INTERVAL, MIN_RETRY_INTERVAL, PlanModel,
    PlanSettings, StageModel, SystemModel, SystemSource, monitor_interval_of, retry_interval_of,
    stage_index,
};
pub use problems::{PlanErrors, PlanProblem};

use graph::{critical_path, levels, order_by_waves, report_cycles};
use problems::check_spec;

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
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
