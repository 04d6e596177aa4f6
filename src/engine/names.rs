//! Deterministic names for what the operator creates, so a retry after a crash finds the
//! object instead of creating a second one.

/// Kubernetes names of Jobs (and their pods' labels) must stay within 63 characters.
const MAX_NAME: usize = 63;

/// FNV-1a, for a short stable suffix when a name must be shortened.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A Service's or pod's name in the cluster's DNS (`*.svc`, `*.svc.cluster.local`).
pub fn is_cluster_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host.ends_with(".svc") || host.ends_with(".svc.cluster.local")
}

/// `parts` joined with '-', shortened with a hash suffix when longer than 63 characters.
pub fn object_name(parts: &[&str]) -> String {
    let full = parts.join("-");
    if full.len() <= MAX_NAME {
        return full;
    }
    let suffix = format!("{:08x}", fnv1a(&full) as u32);
    let keep = MAX_NAME - suffix.len() - 1;
    let head: String = full.chars().take(keep).collect();
    format!("{}-{suffix}", head.trim_end_matches('-'))
}

/// The NetworkPolicy that is `system`'s release gate.
pub fn release_policy(system: &str) -> String {
    object_name(&["lifeline-release", system])
}

/// The deny-all NetworkPolicy with which drill `drill` isolates `system`.
pub fn isolation_policy(drill: &str, system: &str) -> String {
    hashed_name(
        &["lifeline-drill", drill, system],
        &["isolation", drill, system],
    )
}

/// The RecoveryPlan of run `number` of drill `drill`: `<drill>-run-<number>` when that
/// fits in 63 characters (never another drill's or run's: the number is the digits after
/// the last `-run-`), else a readable head and a hash of the whole identity
/// ([`hashed_name`]), not the 32-bit hash of [`object_name`], with which two long drill
/// names sharing their first 54 characters can be found that share a plan. A run's plan
/// is recorded in the drill's status as it is created, so a run under way keeps the name
/// it was given.
pub fn drill_plan(drill: &str, number: u32) -> String {
    let number = number.to_string();
    let readable = format!("{drill}-run-{number}");
    if readable.len() <= MAX_NAME {
        return readable;
    }
    hashed_name(&[drill, "run", &number], &["drill-plan", drill, &number])
}

/// A name from the readable `parts` (joined with '-', cut to fit) and a hash of the full
/// `identity`: `<readable>-<12 hex>`, at most 63 characters. The hash is of the identity's
/// parts each with its length (SHA-256), so two identities never share a name however
/// their parts are spelled (`x-y` + `z` and `x` + `y-z` differ), and a name cannot be
/// crafted to match another's.
pub fn hashed_name(readable: &[&str], identity: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in identity {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let digest = ctx.finish();
    let hash: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keep = MAX_NAME - hash.len() - 1;
    let head: String = readable.join("-").chars().take(keep).collect();
    let head = head.trim_end_matches(['-', '.']);
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

/// The Job for attempt `attempt` of restore step `step` of `system` in the plan `plan`
/// whose uid is `plan_uid`.
pub fn step_job(plan: &str, plan_uid: &str, system: &str, step: &str, attempt: u32) -> String {
    let attempt = attempt.to_string();
    hashed_name(
        &[plan, system, step, &attempt],
        &["step", plan_uid, system, step, &attempt],
    )
}

/// The Job for attempt `attempt` of check `check` of `system` in the plan `plan` whose uid
/// is `plan_uid`; never the name of a step's Job.
pub fn check_job(plan: &str, plan_uid: &str, system: &str, check: &str, attempt: u32) -> String {
    let attempt = attempt.to_string();
    hashed_name(
        &[plan, system, check, &attempt],
        &["check", plan_uid, system, check, &attempt],
    )
}

/// The token a rollout-restart step writes into the pod template, identifying the plan
/// run (by its uid), the system, the step and the attempt: the same after a crash, so the
/// restart is not repeated, and new for a retry (and never another step's).
pub fn restart_token(plan_uid: &str, system: &str, step: &str, attempt: u32) -> String {
    let attempt = attempt.to_string();
    hashed_name(
        &[system, step, &attempt],
        &["restart", plan_uid, system, step, &attempt],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_stable_short_and_never_shared() {
        let name = step_job("p", "uid-1", "lims", "verify-db", 1);
        assert!(name.starts_with("p-lims-verify-db-1-"), "{name}");
        assert_eq!(name, step_job("p", "uid-1", "lims", "verify-db", 1));
        // Parts that join to the same text are different identities.
        assert_ne!(
            step_job("p", "uid-1", "x-y", "z", 1),
            step_job("p", "uid-1", "x", "y-z", 1)
        );
        assert_ne!(
            step_job("p", "uid-1", "q-r", "s", 1),
            step_job("p-q", "uid-1", "r", "s", 1)
        );
        // A check's Job and a step's Job of the same name never share one.
        assert_ne!(
            step_job("p", "uid-1", "lims", "smoke", 1),
            check_job("p", "uid-1", "lims", "smoke", 1)
        );
        // Another run of a plan with the same name gets other Jobs.
        assert_ne!(
            step_job("p", "uid-1", "lims", "verify-db", 1),
            step_job("p", "uid-2", "lims", "verify-db", 1)
        );
        assert_ne!(
            restart_token("uid-1", "x-y", "z", 1),
            restart_token("uid-1", "x", "y-z", 1)
        );
        let long = step_job(
            "northern-care-recovery",
            "uid-1",
            "laboratory-information-system",
            "restore-from-backup",
            12,
        );
        assert!(long.len() <= 63, "{long}");
        assert!(!long.contains("--"), "{long}");
        assert_ne!(
            long,
            step_job(
                "northern-care-recovery",
                "uid-1",
                "laboratory-information-system",
                "restore-from-backup",
                13
            )
        );
    }

    #[test]
    fn a_drills_objects_are_named_after_it_within_63_characters() {
        assert!(
            isolation_policy("weekly", "lims").starts_with("lifeline-drill-weekly-lims-"),
            "{}",
            isolation_policy("weekly", "lims")
        );
        // Drill a-b on system c and drill a on system b-c are different isolations.
        assert_ne!(isolation_policy("a-b", "c"), isolation_policy("a", "b-c"));
        assert_eq!(drill_plan("weekly", 3), "weekly-run-3");
        assert_eq!(release_policy("epr"), "lifeline-release-epr");
        // A long drill name is shortened with a hash of the whole name, so two drills
        // whose names share the first 63 characters still get different policies.
        let a = isolation_policy(&"d".repeat(60), "pathology-lims");
        let b = isolation_policy(&"d".repeat(60), "pathology-pacs");
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.starts_with("lifeline-drill-ddd"), "{a}");
        let run_10 = drill_plan(&"d".repeat(60), 10);
        let run_11 = drill_plan(&"d".repeat(60), 11);
        assert_ne!(run_10, run_11);
        assert!(run_10.len() <= 63, "{run_10}");
    }

    #[test]
    fn two_long_drill_names_never_share_a_plan() {
        // Two drills of 63 characters sharing their first 57, whose plans' names the
        // 32-bit hash of object_name made one.
        let a = "weekly-isolation-of-the-pathology-laboratory-information-dejlim";
        let b = "weekly-isolation-of-the-pathology-laboratory-information-1e8vpe";
        assert_eq!(
            object_name(&[a, "run", "1"]),
            object_name(&[b, "run", "1"]),
            "the collision object_name has"
        );
        let (pa, pb) = (drill_plan(a, 1), drill_plan(b, 1));
        assert_ne!(pa, pb);
        for p in [&pa, &pb] {
            assert!(p.len() <= 63, "{p}");
            assert!(
                p.starts_with("weekly-isolation-of-the-pathology-laboratory-"),
                "{p}"
            );
        }
        // A name that fits is kept as it always was.
        assert_eq!(drill_plan("weekly", 12), "weekly-run-12");
        assert_eq!(drill_plan(&"d".repeat(57), 1).len(), 63);
        assert_eq!(
            drill_plan(&"d".repeat(57), 1),
            format!("{}-run-1", "d".repeat(57))
        );
    }
}
