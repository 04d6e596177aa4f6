//! The dependency graph: its topological levels (the restore waves), its cycles, the
//! restore order and the critical path.

use std::{collections::HashMap, time::Duration};

use petgraph::{
    algo::tarjan_scc,
    graph::{DiGraph, NodeIndex},
};

use super::{CriticalPath, PlanProblem, SystemModel};

/// Kahn's algorithm over `n` systems whose dependencies are `deps(i)`: the topological
/// levels (level 0 has no dependencies), each in the order found. The levels hold fewer
/// than `n` systems in all when there is a cycle.
pub(super) fn levels<I: Iterator<Item = usize>>(
    n: usize,
    deps: impl Fn(usize) -> I,
) -> Vec<Vec<usize>> {
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
pub(super) fn report_cycles(
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
pub(super) fn order_by_waves(
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
pub(super) fn critical_path(systems: &[SystemModel]) -> CriticalPath {
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
