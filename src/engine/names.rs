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

/// The most characters the name part of an annotation key may have.
const MAX_ANNOTATION_NAME: usize = 63;

/// The key of the plan annotation `prefix` (a request's domain and '/', as
/// [`RETRY_ANNOTATION_PREFIX`](crate::api::v1alpha1::RETRY_ANNOTATION_PREFIX)) about
/// system `system` ("namespace/name") of a plan in `plan_namespace`: `<prefix><name>` for
/// a system in the plan's namespace (the form lifeline has always written), and
/// `<namespace>.<prefix><name>` for one in another. An annotation key has a single '/',
/// after a DNS-subdomain prefix; a namespace is a DNS label (no dots), so the namespace
/// heading the prefix is read back unambiguously ([`requested_system`]).
///
/// Errors: the system's name is longer than the 63 characters a key's name allows (it is
/// returned).
pub fn request_annotation(
    prefix: &str,
    plan_namespace: &str,
    system: &str,
) -> Result<String, String> {
    let (namespace, name) = system.split_once('/').unwrap_or((plan_namespace, system));
    if name.len() > MAX_ANNOTATION_NAME {
        return Err(name.to_string());
    }
    Ok(if namespace == plan_namespace {
        format!("{prefix}{name}")
    } else {
        format!("{namespace}.{prefix}{name}")
    })
}

/// The system ("namespace/name") a plan annotation `key` of request `prefix` (as
/// [`request_annotation`] writes it) asks about, for a plan in `plan_namespace`; `None`
/// when the key is not such a request.
pub fn requested_system(prefix: &str, plan_namespace: &str, key: &str) -> Option<String> {
    let domain = prefix.strip_suffix('/')?;
    let (head, name) = key.split_once('/')?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    if head == domain {
        return Some(format!("{plan_namespace}/{name}"));
    }
    let namespace = head.strip_suffix(domain)?.strip_suffix('.')?;
    let label = !namespace.is_empty()
        && namespace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    label.then(|| format!("{namespace}/{name}"))
}

/// Why a system a person named could not be picked out of a plan's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedSystem {
    /// No system of the plan has that name.
    Unknown,
    /// A bare name that systems in several namespaces have: these ("namespace/name").
    Ambiguous(Vec<String>),
}

/// The system ("namespace/name") among `systems` that a person means by `given`: a
/// "namespace/name" as it is, or a bare name, which must be the name of exactly one of
/// them, whichever namespace it is in (the plan's, or another its estate spans).
///
/// Errors: no system has that name, or several in different namespaces do (a restore or
/// a confirmation of the wrong one would be worse than a question).
pub fn pick_system<'a>(
    systems: impl IntoIterator<Item = &'a str>,
    given: &str,
) -> Result<String, NamedSystem> {
    let systems: Vec<&str> = systems.into_iter().collect();
    if given.contains('/') {
        return systems
            .iter()
            .find(|s| **s == given)
            .map(|s| s.to_string())
            .ok_or(NamedSystem::Unknown);
    }
    let matching: Vec<String> = systems
        .iter()
        .filter(|s| s.split_once('/').map_or(**s, |(_, n)| n) == given)
        .map(|s| s.to_string())
        .collect();
    match matching.as_slice() {
        [] => Err(NamedSystem::Unknown),
        [one] => Ok(one.clone()),
        _ => Err(NamedSystem::Ambiguous(matching)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_annotation_names_a_system_of_another_namespace_in_its_prefix() {
        let retry = crate::api::v1alpha1::RETRY_ANNOTATION_PREFIX;
        // The plan's own namespace: the form lifeline has always written and read.
        let own = request_annotation(retry, "clinical", "clinical/vault").expect("short");
        assert_eq!(own, "retry.lifeline.dev/vault");
        assert_eq!(
            requested_system(retry, "clinical", &own).as_deref(),
            Some("clinical/vault")
        );
        // Another namespace heads the prefix, and reads back as itself.
        let other = request_annotation(retry, "clinical", "platform/vault").expect("short");
        assert_eq!(other, "platform.retry.lifeline.dev/vault");
        assert_eq!(
            requested_system(retry, "clinical", &other).as_deref(),
            Some("platform/vault")
        );
        // A dotted system name stays the name.
        assert_eq!(
            requested_system(retry, "clinical", "retry.lifeline.dev/pas.v2").as_deref(),
            Some("clinical/pas.v2")
        );
        // Not a request of this kind.
        for key in [
            "restore.lifeline.dev/vault",
            "platform.restore.lifeline.dev/vault",
            "xretry.lifeline.dev/vault",
            ".retry.lifeline.dev/vault",
            "retry.lifeline.dev/",
            "a.b.retry.lifeline.dev/vault",
            "lifeline.dev/vault",
        ] {
            assert_eq!(requested_system(retry, "clinical", key), None, "{key}");
        }
        assert_eq!(
            request_annotation(retry, "clinical", &format!("platform/{}", "v".repeat(64))),
            Err("v".repeat(64))
        );
    }

    #[test]
    fn a_bare_system_name_must_be_one_systems_of_the_plan() {
        let systems = ["a/vault", "b/vault", "b/lims", "a/epr"];
        assert_eq!(pick_system(systems, "lims"), Ok("b/lims".to_string()));
        assert_eq!(pick_system(systems, "b/vault"), Ok("b/vault".to_string()));
        assert_eq!(
            pick_system(systems, "vault"),
            Err(NamedSystem::Ambiguous(vec![
                "a/vault".to_string(),
                "b/vault".to_string()
            ]))
        );
        assert_eq!(pick_system(systems, "c/vault"), Err(NamedSystem::Unknown));
        assert_eq!(pick_system(systems, "pas"), Err(NamedSystem::Unknown));
    }

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
