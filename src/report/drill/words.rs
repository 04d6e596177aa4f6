//! Words for what the RecoveryDrill records: outcomes, triggers, faults and selectors, as
//! the report says them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::api::v1alpha1::{DrillOutcome, DrillTrigger, Fault, FaultKind, RecoveryDrill};

pub(super) fn outcome_words(outcome: DrillOutcome) -> String {
    match outcome {
        DrillOutcome::Passed => "Passed",
        DrillOutcome::ObjectivesMissed => "Objectives missed",
        DrillOutcome::Failed => "Recovery failed",
        DrillOutcome::TimedOut => "Timed out",
        DrillOutcome::Aborted => "Stopped early",
        DrillOutcome::Refused => "Could not run",
    }
    .to_string()
}

pub(super) fn trigger_words(trigger: DrillTrigger) -> String {
    match trigger {
        DrillTrigger::Manual => "started by hand",
        DrillTrigger::Schedule => "started by its schedule",
    }
    .to_string()
}

pub(super) fn fault_words(kind: FaultKind) -> String {
    match kind {
        FaultKind::ScaleToZero => "Switched off (scaled to zero)",
        FaultKind::DeletePods => "Pods deleted",
        FaultKind::Isolate => "Cut off from the network",
        FaultKind::FailCheck => "A check made to fail",
    }
    .to_string()
}

pub(super) fn planned_fault(f: &Fault) -> String {
    let what = if let Some(s) = &f.scale_to_zero {
        if s.workloads.is_empty() {
            "switch off all its workloads (scale to zero)".to_string()
        } else {
            let names: Vec<String> = s
                .workloads
                .iter()
                .map(|w| format!("{}/{}", w.kind, w.name))
                .collect();
            format!("switch off {} (scale to zero)", names.join(", "))
        }
    } else if let Some(d) = &f.delete_pods {
        match &d.selector {
            Some(sel) => format!("delete the pods labelled {}", selector_text(sel)),
            None => "delete its pods".to_string(),
        }
    } else if let Some(i) = &f.isolate {
        let pods = match &i.selector {
            Some(sel) => format!("the pods labelled {}", selector_text(sel)),
            None => "its pods".to_string(),
        };
        match &i.duration {
            Some(d) => format!("cut {pods} off the network for {d}"),
            None => format!("cut {pods} off the network until the run ends"),
        }
    } else if let Some(c) = &f.fail_check {
        match &c.duration {
            Some(d) => format!("make the check \"{}\" fail for {d}", c.check),
            None => format!("make the check \"{}\" fail for the whole run", c.check),
        }
    } else {
        "no fault set".to_string()
    };
    format!("{}: {what}", f.system)
}

pub(super) fn selection_text(drill: &RecoveryDrill) -> String {
    let systems = &drill.spec.systems;
    match (&systems.names, &systems.selector) {
        (Some(names), _) => format!("by name: {}", names.join(", ")),
        (None, Some(sel)) => format!("every ClinicalSystem labelled {}", selector_text(sel)),
        (None, None) => "none".to_string(),
    }
}

pub(super) fn selector_text(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(", ");
        parts.push(if values.is_empty() {
            format!("{} {}", e.key, e.operator)
        } else {
            format!("{} {} ({values})", e.key, e.operator)
        });
    }
    if parts.is_empty() {
        "anything".to_string()
    } else {
        parts.join(", ")
    }
}
