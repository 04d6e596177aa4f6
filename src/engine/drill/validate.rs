//! Whether a drill may run at all: the namespace is staging, its systems exist in the
//! drill's namespace (and depend on nothing outside it), and each fault names a system,
//! check, pods or workloads that are there. Checked on every reconcile, so a run that
//! becomes invalid is stopped and reverted.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::faults::{fault_selector, scale_targets};
use crate::{
    api::v1alpha1::{ClinicalSystem, ENVIRONMENT_LABEL, RecoveryDrillSpec, STAGING},
    engine::{drill::schedule::Schedule, plan::selection as selector},
};

/// Why namespace `ns`, with `labels`, does not allow drills, if it does not.
pub fn staging_problem(ns: &str, labels: &BTreeMap<String, String>) -> Option<String> {
    let label = labels.get(ENVIRONMENT_LABEL).map(String::as_str);
    (label != Some(STAGING)).then(|| {
        format!(
            "namespace {ns} is not labelled {ENVIRONMENT_LABEL}={STAGING}: drills run only in staging"
        )
    })
}

/// The drill's systems among `all` (the ClinicalSystems of namespace `ns`, with
/// `malformed` naming those that did not parse and why), or why they cannot be had.
pub fn select(
    ns: &str,
    spec: &RecoveryDrillSpec,
    all: &[ClinicalSystem],
    malformed: &[(String, String)],
) -> Result<Vec<ClinicalSystem>, String> {
    let keys = selector::select_systems(
        ns,
        &spec.systems,
        all.iter().map(|s| {
            (
                s.metadata.name.as_deref().unwrap_or_default(),
                s.metadata.labels.as_ref(),
            )
        }),
    )?;
    let mut out = Vec::new();
    for key in keys {
        let name = crate::api::v1alpha1::short_name(&key);
        if let Some((_, why)) = malformed.iter().find(|(n, _)| n == name) {
            return Err(format!("ClinicalSystem {ns}/{name} is malformed: {why}"));
        }
        match all.iter().find(|s| s.name_any() == name) {
            Some(s) => out.push(s.clone()),
            None => {
                return Err(format!(
                    "spec.systems: {name} is not a ClinicalSystem in namespace {ns}: a drill touches nothing outside its namespace"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("spec.systems selects no ClinicalSystem".into());
    }
    Ok(out)
}

/// Why the drill cannot run with `systems` (its selected systems) in namespace `ns`, if
/// it cannot. The message names the field.
pub fn problem(ns: &str, spec: &RecoveryDrillSpec, systems: &[ClinicalSystem]) -> Option<String> {
    if let Some(expr) = &spec.schedule
        && let Err(e) = Schedule::parse(expr)
    {
        return Some(e);
    }
    if let Some(t) = &spec.timeout
        && let Err(e) = t.parse()
    {
        return Some(format!("spec.timeout: {e}"));
    }
    for s in systems {
        for dep in &s.spec.depends_on {
            if let Some(other) = dep.namespace.as_deref().filter(|n| *n != ns) {
                return Some(format!(
                    "ClinicalSystem {ns}/{} depends on {other}/{}, outside the drill's namespace: a drill touches nothing outside its namespace",
                    s.name_any(),
                    dep.name
                ));
            }
        }
    }
    for (i, f) in spec.faults.iter().enumerate() {
        let Some(system) = systems.iter().find(|s| s.name_any() == f.system) else {
            return Some(format!(
                "spec.faults[{i}].system: {} is not one of the drill's systems",
                f.system
            ));
        };
        if let Some(fc) = &f.fail_check
            && !system.spec.checks().iter().any(|c| c.name == fc.check)
        {
            return Some(format!(
                "spec.faults[{i}].failCheck.check: ClinicalSystem {} has no check {}",
                f.system, fc.check
            ));
        }
        let needs_pods = f.delete_pods.is_some() || f.isolate.is_some();
        if needs_pods && fault_selector(f, system).is_none() {
            return Some(format!(
                "spec.faults[{i}]: ClinicalSystem {} has no release.podSelector; set the fault's selector",
                f.system
            ));
        }
        if let Some(sz) = &f.scale_to_zero
            && sz.workloads.is_empty()
            && scale_targets(system).is_empty()
        {
            return Some(format!(
                "spec.faults[{i}].scaleToZero: ClinicalSystem {} has no scale step; name the workloads",
                f.system
            ));
        }
        if let Some(d) = f.isolate.as_ref().and_then(|x| x.duration.as_ref())
            && let Err(e) = d.parse()
        {
            return Some(format!("spec.faults[{i}].isolate.duration: {e}"));
        }
        if let Some(d) = f.fail_check.as_ref().and_then(|x| x.duration.as_ref())
            && let Err(e) = d.parse()
        {
            return Some(format!("spec.faults[{i}].failCheck.duration: {e}"));
        }
    }
    None
}
