//! The drill the unit tests report on, and a check that Markdown tables are well formed.

use serde_json::json;

use crate::api::v1alpha1::RecoveryDrill;

/// A finished run of four systems: identity met its objective, lims missed it (and
/// its recorded `recoverySeconds` is wrong on purpose), pas failed with a real failed
/// check, epr met it through a check the drill failed on purpose. One automatic, one
/// human and one ignored approval.
pub(super) fn fixture() -> serde_json::Value {
    json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryDrill",
        "metadata": { "name": "core-drill", "namespace": "northern-care-staging" },
        "spec": {
            "systems": { "names": ["identity", "lims", "pas", "epr"] },
            "faults": [
                { "system": "identity", "scaleToZero": {} },
                { "system": "lims", "deletePods": {} },
                { "system": "pas", "isolate": { "duration": "10m" } },
                { "system": "epr", "failCheck": { "check": "login", "duration": "5m" } }
            ],
            "recovery": {
                "stages": [
                    { "name": "it-validation" },
                    { "name": "pilot-ward", "approval": { "required": 1 } }
                ]
            },
            "approvals": "automatic",
            "timeout": "2h",
            "schedule": "0 3 * * 6"
        },
        "status": {
            "phase": "Finished",
            "run": {
                "number": 3,
                "trigger": "schedule",
                "startedAt": "2025-03-15T03:00:00Z",
                "recoveryStartedAt": "2025-03-15T03:01:00Z",
                "finishedAt": "2025-03-15T03:45:00Z",
                "outcome": "ObjectivesMissed",
                "reason": "1 of 4 objectives missed: lims",
                "plan": "core-drill-run-3",
                "faults": [
                    {
                        "system": "identity", "kind": "scaleToZero", "target": "Deployment/directory",
                        "injectedAt": "2025-03-15T03:00:05Z", "provenAt": "2025-03-15T03:00:20Z",
                        "proof": "0 pods left of 2"
                    },
                    {
                        "system": "lims", "kind": "deletePods", "target": "pods app=lims",
                        "injectedAt": "2025-03-15T03:00:06Z", "provenAt": "2025-03-15T03:00:30Z",
                        "proof": "none of the 3 deleted pods is left", "podUids": ["a", "b", "c"]
                    },
                    {
                        "system": "pas", "kind": "isolate", "target": "NetworkPolicy/lifeline-drill-pas",
                        "injectedAt": "2025-03-15T03:00:07Z", "provenAt": "2025-03-15T03:00:25Z",
                        "proof": "the check api-health failed: connection timed out",
                        "liftedAt": "2025-03-15T03:10:07Z"
                    },
                    {
                        "system": "epr", "kind": "failCheck", "target": "check login",
                        "injectedAt": "2025-03-15T03:00:08Z", "provenAt": "2025-03-15T03:00:40Z",
                        "proof": "the check failed: forced by drill core-drill",
                        "liftedAt": "2025-03-15T03:05:08Z"
                    }
                ],
                "systems": [
                    {
                        "name": "identity", "tier": "mission-critical", "phase": "Released",
                        "objectiveSeconds": 1800,
                        "faultAt": "2025-03-15T03:00:05Z",
                        "restoreStartedAt": "2025-03-15T03:01:00Z",
                        "verifiedAt": "2025-03-15T03:12:05Z",
                        "releasedAt": "2025-03-15T03:13:00Z",
                        "fullyReleasedAt": "2025-03-15T03:40:00Z",
                        "recoverySeconds": 720, "releaseSeconds": 775, "objectiveMet": true
                    },
                    {
                        "name": "lims", "tier": "critical", "phase": "Released",
                        "objectiveSeconds": 900,
                        "faultAt": "2025-03-15T03:00:06Z",
                        "restoreStartedAt": "2025-03-15T03:12:10Z",
                        "verifiedAt": "2025-03-15T03:26:06Z",
                        "releasedAt": "2025-03-15T03:27:00Z",
                        "fullyReleasedAt": "2025-03-15T03:40:00Z",
                        "recoverySeconds": 800, "objectiveMet": true,
                        "failedChecks": [
                            { "check": "hl7-feed", "message": "no ACK within 30s", "failures": 1,
                              "passedInTheEnd": true, "injected": false }
                        ]
                    },
                    {
                        "name": "pas", "tier": "mission-critical", "phase": "Failed",
                        "objectiveSeconds": 1800,
                        "faultAt": "2025-03-15T03:00:07Z",
                        "restoreStartedAt": "2025-03-15T03:12:10Z",
                        "failedAt": "2025-03-15T03:20:00Z",
                        "objectiveMet": false,
                        "failedChecks": [
                            { "check": "api-health", "message": "connection refused", "failures": 5,
                              "passedInTheEnd": false, "injected": false }
                        ]
                    },
                    {
                        "name": "epr", "tier": "mission-critical", "phase": "Verified",
                        "objectiveSeconds": 3600,
                        "faultAt": "2025-03-15T03:00:08Z",
                        "restoreStartedAt": "2025-03-15T03:12:10Z",
                        "verifiedAt": "2025-03-15T03:30:08Z",
                        "releasedAt": "2025-03-15T03:31:00Z",
                        "recoverySeconds": 1800, "objectiveMet": true,
                        "failedChecks": [
                            { "check": "login", "message": "forced by drill core-drill", "failures": 3,
                              "passedInTheEnd": true, "injected": true }
                        ]
                    }
                ],
                "approvals": [
                    { "stage": "it-validation", "by": "drill auto-approval", "at": "2025-03-15T03:13:00Z",
                      "comment": "approved by the drill itself (approvals: automatic)",
                      "accepted": true, "automatic": true },
                    { "stage": "pilot-ward", "by": "mallory", "at": "2025-03-15T03:33:00Z",
                      "comment": "ignored: not in the approver groups", "accepted": false, "automatic": false },
                    { "stage": "pilot-ward", "by": "dr.jones", "at": "2025-03-15T03:35:00Z",
                      "comment": "Ward F7 happy | paper records back-entered", "accepted": true, "automatic": false }
                ],
                "reverted": ["Deployment/directory replicas 2"]
            },
            "history": [
                { "number": 3, "trigger": "schedule", "startedAt": "2025-03-15T03:00:00Z",
                  "finishedAt": "2025-03-15T03:45:00Z", "outcome": "ObjectivesMissed",
                  "verified": "3/4", "objectivesMet": "2/4", "longestRecoverySeconds": 1800,
                  "reason": "1 of 4 objectives missed: lims" },
                { "number": 2, "trigger": "manual", "startedAt": "2025-03-08T03:00:00Z",
                  "finishedAt": "2025-03-08T03:40:00Z", "outcome": "Passed",
                  "verified": "4/4", "objectivesMet": "4/4", "longestRecoverySeconds": 1500 }
            ]
        }
    })
}

pub(super) fn drill_of(value: serde_json::Value) -> RecoveryDrill {
    serde_json::from_value(value).expect("a valid RecoveryDrill")
}

pub(super) fn drill() -> RecoveryDrill {
    drill_of(fixture())
}

/// Every table: a header, a separator and rows, all with the same number of cells,
/// counting only unescaped pipes. Returns how many tables there are.
pub(super) fn assert_tables_well_formed(md: &str) -> usize {
    let cells = |line: &str| {
        let mut count = 0;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => count += 1,
                _ => escaped = false,
            }
            if c != '\\' {
                escaped = false;
            }
        }
        count
    };
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    let mut tables = 0;
    while i < lines.len() {
        if !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        tables += 1;
        assert!(
            i > 0 && lines[i - 1].is_empty(),
            "blank line before table at {i}"
        );
        let width = cells(lines[i]);
        assert!(width >= 2, "{}", lines[i]);
        let separator = lines.get(i + 1).copied().unwrap_or_default();
        assert_eq!(
            separator,
            format!("|{}", " --- |".repeat(width - 1)),
            "separator after {}",
            lines[i]
        );
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            assert!(lines[i].ends_with(" |"), "{}", lines[i]);
            assert_eq!(cells(lines[i]), width, "{}", lines[i]);
            i += 1;
        }
        assert!(
            lines.get(i).is_none_or(|l| l.is_empty()),
            "blank line after table"
        );
    }
    tables
}
