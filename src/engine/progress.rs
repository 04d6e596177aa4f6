//! How a plan's per-system progress is split into RecoveryProgress shards, so that no
//! object lifeline writes grows with the estate. A system belongs to shard
//! `fnv1a(key) % shards`, which does not move when systems are added or removed; the
//! number of shards is a power of two, only ever doubled, and doubled until no shard holds
//! more than [`MAX_SYSTEMS_PER_SHARD`] systems or [`MAX_SHARD_BYTES`] of JSON.

use crate::api::v1alpha1::SystemStatus;

/// The most systems one shard holds.
pub const MAX_SYSTEMS_PER_SHARD: usize = 64;
/// The most JSON one shard's systems take: an eighth of etcd's 1.5 MiB request limit,
/// half of the 256 KiB lifeline allows any object it writes.
pub const MAX_SHARD_BYTES: usize = 128 * 1024;
/// The most shards a plan's progress is split into.
pub const MAX_SHARDS: u32 = 1 << 14;

/// FNV-1a (64-bit): stable across builds and platforms, unlike std's hasher.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The shard of the system `key` ("namespace/name") among `shards`.
pub fn shard_of(key: &str, shards: u32) -> u32 {
    u32::try_from(fnv1a(key) % u64::from(shards.max(1))).unwrap_or(0)
}

/// One shard's content: its systems in the plan's order, with each one's position in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    /// The systems.
    pub systems: Vec<SystemStatus>,
    /// Each system's position in the plan's order.
    pub positions: Vec<u32>,
}

/// A plan's progress split into shards.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// How many shards.
    pub shards: u32,
    /// Each shard's content, by shard number (`parts.len() == shards`).
    pub parts: Vec<Part>,
}

fn split(systems: &[SystemStatus], shards: u32) -> Vec<Part> {
    let mut parts = vec![Part::default(); shards as usize];
    for (i, s) in systems.iter().enumerate() {
        let p = &mut parts[shard_of(&s.name, shards) as usize];
        p.systems.push(s.clone());
        p.positions.push(u32::try_from(i).unwrap_or(u32::MAX));
    }
    parts
}

/// The JSON size of a shard's systems.
pub fn bytes(part: &Part) -> usize {
    serde_json::to_vec(&part.systems).map_or(usize::MAX, |v| v.len())
}

/// `systems` (in the plan's order) split into at least `at_least` shards (rounded up to a
/// power of two), doubled until every shard is within bounds, or [`MAX_SHARDS`].
pub fn layout(systems: &[SystemStatus], at_least: u32) -> Layout {
    layout_keeping(systems, at_least, |_, _| false)
}

/// [`layout`], where `stored(k, part)` says that shard `k` of `at_least` shards is
/// already stored as `part` (so within bounds): only the other shards are measured.
pub fn layout_keeping(
    systems: &[SystemStatus],
    at_least: u32,
    stored: impl Fn(u32, &Part) -> bool,
) -> Layout {
    let first = at_least.clamp(1, MAX_SHARDS).next_power_of_two();
    let mut shards = first;
    loop {
        let parts = split(systems, shards);
        let fits = parts
            .iter()
            .all(|p| p.systems.len() <= MAX_SYSTEMS_PER_SHARD)
            && (0u32..)
                .zip(&parts)
                .all(|(k, p)| (shards == first && stored(k, p)) || bytes(p) <= MAX_SHARD_BYTES);
        if fits || shards >= MAX_SHARDS {
            return Layout { shards, parts };
        }
        shards *= 2;
    }
}

/// The plan's systems, in its order, from its shards' content: each system once (the
/// first by position, should a stale shard name one again).
pub fn merge<'a>(
    parts: impl IntoIterator<Item = (&'a [SystemStatus], &'a [u32])>,
) -> Vec<SystemStatus> {
    let mut all: Vec<(u32, &SystemStatus)> = Vec::new();
    for (systems, positions) in parts {
        for (k, s) in systems.iter().enumerate() {
            all.push((positions.get(k).copied().unwrap_or(u32::MAX), s));
        }
    }
    all.sort_by_key(|(p, _)| *p);
    let mut seen = std::collections::HashSet::new();
    all.into_iter()
        .filter(|(_, s)| seen.insert(s.name.as_str()))
        .map(|(_, s)| s.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::{
        ActionPhase, CheckStatus, ProgressObjects, ProgressRef, StageRelease, StepStatus,
        SystemPhase,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(secs: i64) -> Option<Time> {
        Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_780_000_000 + secs).unwrap(),
        ))
    }

    /// A system shaped like a northern-care one mid-recovery: three steps, two checks, one
    /// failed attempt, released at two stages.
    fn system(i: usize) -> SystemStatus {
        let step = |n: &str, attempts| StepStatus {
            name: n.into(),
            phase: ActionPhase::Succeeded,
            started_at: at(10),
            finished_at: at(20),
            attempts,
            message: Some("scaled deployment/pas-web to 3 replicas".into()),
            token: Some("b3c1e0d2a4f5".into()),
            ..Default::default()
        };
        let check = |n: &str| CheckStatus {
            name: n.into(),
            phase: ActionPhase::Succeeded,
            attempts: 2,
            started_at: at(30),
            finished_at: at(40),
            last_error: Some("GET http://pas-web.clinical.svc/health: 503".into()),
            last_attempt_at: at(40),
            last_failed_at: at(35),
            ..Default::default()
        };
        SystemStatus {
            name: format!("trust-{:02}/system-{i:05}", i % 40),
            phase: SystemPhase::Released,
            message: Some("released to all-sites".into()),
            restore_started_at: at(5),
            verified_at: at(40),
            recovery_seconds: Some(35),
            objective_seconds: Some(3600),
            objective_met: Some(true),
            steps: vec![
                step("restore-db", 2),
                step("scale-web", 1),
                step("warm-cache", 1),
            ],
            checks: vec![check("web-health"), check("hl7-port")],
            released_stage: Some("all-sites".into()),
            releases: vec![
                StageRelease {
                    stage: "pilot-ward".into(),
                    at: at(50).unwrap(),
                },
                StageRelease {
                    stage: "all-sites".into(),
                    at: at(90).unwrap(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn every_system_is_in_exactly_one_shard_and_merge_gives_the_plan_order_back() {
        for n in [0, 1, 7, 64, 65, 300, 1000] {
            let systems: Vec<SystemStatus> = (0..n).map(system).collect();
            let l = layout(&systems, 1);
            assert_eq!(l.parts.len(), l.shards as usize);
            assert_eq!(l.parts.iter().map(|p| p.systems.len()).sum::<usize>(), n);
            for (k, p) in l.parts.iter().enumerate() {
                for s in &p.systems {
                    assert_eq!(shard_of(&s.name, l.shards) as usize, k, "{}", s.name);
                }
            }
            let merged = merge(l.parts.iter().map(|p| (&p.systems[..], &p.positions[..])));
            assert_eq!(merged, systems, "{n} systems");
        }
    }

    #[test]
    fn a_system_stays_in_its_shard_when_others_come_and_go() {
        let systems: Vec<SystemStatus> = (0..200).map(system).collect();
        let before = layout(&systems, 1);
        let fewer: Vec<SystemStatus> = systems.iter().step_by(3).cloned().collect();
        let after = layout(&fewer, before.shards);
        assert_eq!(
            after.shards, before.shards,
            "never fewer shards than before"
        );
        for s in &fewer {
            assert_eq!(
                shard_of(&s.name, after.shards),
                shard_of(&s.name, before.shards)
            );
        }
    }

    #[test]
    fn no_object_grows_past_256_kib_at_5000_systems() {
        let systems: Vec<SystemStatus> = (0..5000).map(system).collect();
        let one = serde_json::to_vec(&systems[0]).unwrap().len();
        assert!(one > 1000, "the system is northern-care sized: {one} bytes");
        let l = layout(&systems, 1);
        let largest = l.parts.iter().map(bytes).max().unwrap();
        assert!(largest <= MAX_SHARD_BYTES, "largest shard {largest} bytes");
        assert!(
            l.parts
                .iter()
                .all(|p| p.systems.len() <= MAX_SYSTEMS_PER_SHARD)
        );
        // What the plan's status holds of them: a reference per shard.
        let refs = ProgressObjects {
            shards: l.shards,
            systems: 5000,
            objects: (0..l.shards)
                .map(|k| ProgressRef {
                    name: format!("{}-progress-{k}-0123456789ab", "a".repeat(40)),
                    shard: k,
                    resource_version: "123456789".into(),
                    systems: 64,
                })
                .collect(),
        };
        let plan_part = serde_json::to_vec(&refs).unwrap().len();
        assert!(
            plan_part <= 64 * 1024,
            "the plan's references take {plan_part} bytes"
        );
        // The whole estate in one object would not fit.
        assert!(serde_json::to_vec(&systems).unwrap().len() > 1536 * 1024);
    }

    #[test]
    fn a_shard_already_stored_is_not_measured_again_and_a_new_one_too_large_doubles_them() {
        let mut systems: Vec<SystemStatus> = (0..10).map(system).collect();
        for s in &mut systems {
            s.message = Some("x".repeat(MAX_SHARD_BYTES / 8));
        }
        // Ten systems of 16 KiB each are 160 KiB: over one shard's bound.
        assert!(layout(&systems, 1).shards > 1);
        let kept = layout_keeping(&systems, 1, |_, _| true);
        assert_eq!(
            kept.shards, 1,
            "what is stored was within bounds when it was written"
        );
    }

    #[test]
    fn merge_keeps_each_system_once() {
        let a = [system(1), system(2)];
        let b = [system(2)];
        let merged = merge([(&a[..], &[0, 1][..]), (&b[..], &[5][..])]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[1].name, system(2).name);
    }
}
