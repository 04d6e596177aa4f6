//! Reading a recovery's record: the entries of its hash-chained record, folded into what
//! the report shows (each system's moments, the approvals, interventions, notices and
//! hand-back as the operator saw them). Nothing here trusts the plan's status: it may be
//! gone. Every figure is worked out from the entries' own timestamps.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::api::v1alpha1::{DataLoss, RecordEntry, RecordKind};
use crate::engine::notice::ReleaseNotice;
use crate::engine::record::{Tamper, verify};
use crate::engine::time::{objective_met, seconds_between};

/// One check of a system, as the record tells it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSeen {
    /// Its name.
    pub name: String,
    /// How many times it ran, as last recorded.
    pub runs: u64,
    /// When it first failed.
    pub first_failed: Option<Timestamp>,
    /// Its last error.
    pub last_error: Option<String>,
    /// When it last passed.
    pub passed: Option<Timestamp>,
    /// Whether it passes, as last recorded.
    pub passing: bool,
}

/// A step that failed, as the record tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFailure {
    /// When.
    pub at: Timestamp,
    /// The step.
    pub step: String,
    /// Its attempt.
    pub attempt: u64,
    /// Why.
    pub message: String,
}

/// A regression: a check that failed after the system was verified.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionSeen {
    /// The check.
    pub check: String,
    /// Its error.
    pub error: String,
    /// When it began.
    pub started: Timestamp,
    /// When the checks passed again.
    pub ended: Option<Timestamp>,
    /// Whether the gate was withdrawn for it.
    pub withdrawn: bool,
}

/// One attempt at restoring a system (the first, a retry, a restore again), as its phase
/// entries tell it: restoring from `started`, its checks running from `restored`, until it
/// was verified or failed.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptSeen {
    /// When it entered `Restoring`.
    pub started: Timestamp,
    /// When its restore steps were done: it entered `Verifying`, or was verified at once.
    pub restored: Option<Timestamp>,
    /// When it was verified.
    pub verified: Option<Timestamp>,
    /// When it failed.
    pub failed: Option<Timestamp>,
    /// When the plan stopped it (aborted) before it was verified.
    pub cancelled: Option<Timestamp>,
}

impl AttemptSeen {
    /// Whether it is still under way (neither verified, failed nor cancelled).
    pub fn open(&self) -> bool {
        self.verified.is_none() && self.failed.is_none() && self.cancelled.is_none()
    }
}

/// One run of a system's soak at a stage: from its start (the release, or its checks
/// passing again after a hold) to the hold that interrupted it, its end, or none yet.
#[derive(Clone, Debug, PartialEq)]
pub struct SoakSeen {
    /// The stage.
    pub stage: String,
    /// When it started.
    pub started: Timestamp,
    /// When it stopped: held, done or cut short.
    pub ended: Option<Timestamp>,
    /// How it stopped, if it did.
    pub end: Option<SoakEnd>,
}

/// How a run of a soak stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum SoakEnd {
    /// Done: the system may go on to the next stage.
    Done,
    /// A failing check held it (why).
    Held(String),
    /// The system left the stage before it was done.
    CutShort,
}

/// A hand-back item someone completed.
#[derive(Clone, Debug, PartialEq)]
pub struct HandBackSeen {
    /// The item.
    pub item: String,
    /// Who.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// What they wrote.
    pub comment: Option<String>,
}

/// One system of the recovery, as the record tells it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemSeen {
    /// "namespace/name".
    pub key: String,
    /// The name staff know it by (from its release notices), if it was released.
    pub display_name: Option<String>,
    /// Its tier, if recorded.
    pub tier: Option<String>,
    /// Its phase, as last recorded.
    pub phase: String,
    /// When its restore first started.
    pub restore_started: Option<Timestamp>,
    /// When it was first verified.
    pub verified: Option<Timestamp>,
    /// When it last failed (if it is failed).
    pub failed: Option<Timestamp>,
    /// Its recovery-time objective, in seconds.
    pub objective: Option<u64>,
    /// Each stage it was released at, and when.
    pub releases: Vec<(String, Timestamp)>,
    /// Its checks.
    pub checks: Vec<CheckSeen>,
    /// Steps that failed.
    pub step_failures: Vec<StepFailure>,
    /// Each time it failed (a step or a check), with why.
    pub failures: Vec<(Timestamp, String)>,
    /// How many times a step was started again (retries and restores again).
    pub reattempts: u64,
    /// Its regressions.
    pub regressions: Vec<RegressionSeen>,
    /// Each run of its soaks, in order.
    pub soaks: Vec<SoakSeen>,
    /// Each attempt at restoring it, in order.
    pub attempts: Vec<AttemptSeen>,
    /// Its latest data-loss window.
    pub data_loss: Option<DataLoss>,
    /// Its hand-back items, from its latest notice.
    pub hand_back: Vec<String>,
    /// The items people completed.
    pub handed_back: Vec<HandBackSeen>,
}

impl SystemSeen {
    /// Seconds from `origin` to its first verification.
    pub fn recovery_seconds(&self, origin: Option<Timestamp>) -> Option<u64> {
        seconds_between(origin?, self.verified?)
    }

    /// Whether it met its recovery-time objective (`None` when not verified or no
    /// objective).
    pub fn objective_met(&self, origin: Option<Timestamp>) -> Option<bool> {
        objective_met(self.recovery_seconds(origin)?, self.objective)
    }

    /// Hand-back items not done since the latest notice.
    pub fn hand_back_open(&self) -> Vec<&str> {
        self.hand_back
            .iter()
            .filter(|i| !self.handed_back.iter().any(|h| &h.item == *i))
            .map(String::as_str)
            .collect()
    }
}

/// An Approval as the operator saw it when it decided.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalSeen {
    /// When the operator recorded it.
    pub at: Timestamp,
    /// The Approval's name.
    pub name: String,
    /// The stage (empty for a confirmation of a manual step).
    pub stage: String,
    /// The systems it decides.
    pub systems: Vec<String>,
    /// Approve or reject.
    pub decision: String,
    /// Whether it counted.
    pub accepted: bool,
    /// Why it counted or not.
    pub reason: String,
    /// Who (vouched for by the API server).
    pub approver: String,
    /// Their groups.
    pub groups: Vec<String>,
    /// Their comment.
    pub comment: Option<String>,
    /// The checklist items they acknowledged.
    pub acknowledged: Vec<String>,
}

/// An intervention, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct InterventionSeen {
    /// When the operator acted on it.
    pub at: Timestamp,
    /// What.
    pub action: String,
    /// About which system, step.
    pub system: Option<String>,
    /// The step, for a confirmation.
    pub step: Option<String>,
    /// Who.
    pub by: String,
    /// Whether the API server vouched for them.
    pub vouched: bool,
    /// Their reason.
    pub reason: Option<String>,
    /// Why the operator refused it, if it did.
    pub refused: Option<String>,
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    /// When.
    pub at: Timestamp,
    /// The system, if about one.
    pub system: Option<String>,
    /// What, in words.
    pub what: String,
    /// The entry's number in the record.
    pub seq: u64,
}

/// A recovery, as its record tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// The plan ("namespace/name").
    pub plan: String,
    /// Its uid.
    pub uid: String,
    /// How many entries.
    pub entries: u64,
    /// The hash of the last entry.
    pub head: String,
    /// The chain checked against the head given (or against itself).
    pub chain: Result<(), Tamper>,
    /// When the run started.
    pub started: Option<Timestamp>,
    /// What recovery times count from (the incident's start, else the run's).
    pub origin: Option<Timestamp>,
    /// When it finished, if it did.
    pub finished: Option<Timestamp>,
    /// The plan's phase, as last recorded.
    pub phase: String,
    /// The last moment recorded.
    pub last: Option<Timestamp>,
    /// The systems, in the order the record first names them.
    pub systems: Vec<SystemSeen>,
    /// Approvals and confirmations.
    pub approvals: Vec<ApprovalSeen>,
    /// Interventions.
    pub interventions: Vec<InterventionSeen>,
    /// Release notices, as sent.
    pub notices: Vec<ReleaseNotice>,
    /// Everything but check and step detail, in order.
    pub timeline: Vec<Moment>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    v.get(key)?.as_str()?.parse().ok()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Recovery {
    /// Folds `entries` (in stored order) of the record of plan `plan` (uid `uid`); the
    /// chain is checked against `head` (the hash and count a manifest or the plan's status
    /// records), else against itself.
    pub fn from_entries(
        plan: &str,
        uid: &str,
        entries: &[RecordEntry],
        head: Option<(&str, u64)>,
    ) -> Recovery {
        let mut r = Recovery {
            plan: plan.to_string(),
            uid: uid.to_string(),
            entries: entries.len() as u64,
            head: entries.last().map(|e| e.hash.clone()).unwrap_or_default(),
            chain: verify(entries, head),
            started: None,
            origin: None,
            finished: None,
            phase: "Pending".into(),
            last: entries.iter().map(|e| e.at.0).max(),
            systems: Vec::new(),
            approvals: Vec::new(),
            interventions: Vec::new(),
            notices: Vec::new(),
            timeline: Vec::new(),
        };
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for e in entries {
            r.fold(e, &mut index);
        }
        r
    }

    fn system(&mut self, index: &mut BTreeMap<String, usize>, key: &str) -> &mut SystemSeen {
        let i = *index.entry(key.to_string()).or_insert_with(|| {
            self.systems.push(SystemSeen {
                key: key.to_string(),
                phase: "Pending".into(),
                ..Default::default()
            });
            self.systems.len() - 1
        });
        &mut self.systems[i]
    }

    fn moment(&mut self, e: &RecordEntry, what: String) {
        self.timeline.push(Moment {
            at: e.at.0,
            system: e.system.clone(),
            what,
            seq: e.seq,
        });
    }

    fn fold(&mut self, e: &RecordEntry, index: &mut BTreeMap<String, usize>) {
        let d = &e.data;
        let at = e.at.0;
        let key = e.system.clone().unwrap_or_default();
        match e.kind {
            RecordKind::PlanPhase => {
                if let Some(t) = time(d, "startedAt") {
                    self.started.get_or_insert(t);
                }
                if let Some(t) = time(d, "measuredFrom") {
                    self.origin.get_or_insert(t);
                }
                self.started.get_or_insert(at);
                let to = text(d, "to").unwrap_or_default();
                if matches!(to.as_str(), "Succeeded" | "Failed" | "Aborted") {
                    self.finished = Some(at);
                } else {
                    self.finished = None;
                }
                self.phase = to.clone();
                self.moment(e, format!("the plan is {to}"));
            }
            RecordKind::SystemPhase => {
                let to = text(d, "to").unwrap_or_default();
                let message = text(d, "message");
                let s = self.system(index, &key);
                if let Some(o) = d.get("objectiveSeconds").and_then(Value::as_u64) {
                    s.objective = Some(o);
                }
                if let Some(t) = text(d, "tier") {
                    s.tier = Some(t);
                }
                s.phase = to.clone();
                let open = s.attempts.last_mut().filter(|a| a.open());
                match to.as_str() {
                    "Restoring" => {
                        s.restore_started.get_or_insert(at);
                        s.failed = None;
                        if open.is_none() {
                            s.attempts.push(AttemptSeen {
                                started: at,
                                restored: None,
                                verified: None,
                                failed: None,
                                cancelled: None,
                            });
                        }
                    }
                    "Verifying" => {
                        if let Some(a) = open {
                            a.restored.get_or_insert(at);
                        }
                    }
                    "Verified" | "Released" => {
                        s.verified.get_or_insert(at);
                        if let Some(a) = open {
                            a.restored.get_or_insert(at);
                            a.verified = Some(at);
                        }
                    }
                    "Cancelled" => {
                        if let Some(a) = open {
                            a.cancelled = Some(at);
                        }
                    }
                    "Failed" => {
                        if let Some(a) = open {
                            a.failed = Some(at);
                        }
                        s.failed = Some(at);
                        s.failures.push((
                            at,
                            message
                                .clone()
                                .unwrap_or_else(|| "no reason recorded".into()),
                        ));
                    }
                    _ => {}
                }
                let what = match message {
                    Some(m) if matches!(to.as_str(), "Failed" | "Blocked" | "Degraded") => {
                        if m.to_lowercase().starts_with(&to.to_lowercase()) {
                            m
                        } else {
                            format!("{to}: {m}")
                        }
                    }
                    _ => to,
                };
                self.moment(e, what);
            }
            RecordKind::Step => {
                let step = text(d, "step").unwrap_or_default();
                let phase = text(d, "phase").unwrap_or_default();
                let attempt = d.get("attempt").and_then(Value::as_u64).unwrap_or(0);
                let s = self.system(index, &key);
                if phase == "Running" && attempt > 1 {
                    s.reattempts += 1;
                }
                if phase == "Failed" {
                    let message = text(d, "message").unwrap_or_default();
                    s.step_failures.push(StepFailure {
                        at,
                        step: step.clone(),
                        attempt,
                        message: message.clone(),
                    });
                    self.moment(
                        e,
                        format!("step {step} failed (attempt {attempt}): {message}"),
                    );
                }
            }
            RecordKind::Check => {
                let name = text(d, "check").unwrap_or_default();
                let phase = text(d, "phase").unwrap_or_default();
                let runs = d.get("attempts").and_then(Value::as_u64).unwrap_or(0);
                let error = text(d, "error");
                let s = self.system(index, &key);
                let c = match s.checks.iter().position(|c| c.name == name) {
                    Some(i) => &mut s.checks[i],
                    None => {
                        s.checks.push(CheckSeen {
                            name: name.clone(),
                            ..Default::default()
                        });
                        let n = s.checks.len() - 1;
                        &mut s.checks[n]
                    }
                };
                c.runs = c.runs.max(runs);
                let failing =
                    d.get("failing").and_then(Value::as_bool).unwrap_or(false) || phase == "Failed";
                if failing || error.is_some() && phase != "Succeeded" {
                    c.first_failed.get_or_insert(at);
                    c.last_error = error.or(c.last_error.take());
                    c.passing = false;
                }
                if phase == "Succeeded" && !failing {
                    c.passed = Some(at);
                    c.passing = true;
                }
            }
            RecordKind::Release => {
                let stage = text(d, "stage").unwrap_or_default();
                self.system(index, &key).releases.push((stage.clone(), at));
                self.moment(e, format!("released at stage {stage}"));
            }
            RecordKind::RegressionStarted => {
                let check = text(d, "check").unwrap_or_default();
                let error = text(d, "error").unwrap_or_default();
                let withdrawn = d.get("withdrawn").and_then(Value::as_bool).unwrap_or(false);
                self.system(index, &key).regressions.push(RegressionSeen {
                    check: check.clone(),
                    error: error.clone(),
                    started: at,
                    ended: None,
                    withdrawn,
                });
                self.moment(
                    e,
                    format!(
                        "regression: check {check} failed again ({error}){}",
                        if withdrawn {
                            "; gate withdrawn to the verification audience"
                        } else {
                            "; staff keep access"
                        }
                    ),
                );
            }
            RecordKind::RegressionEnded => {
                let started = time(d, "startedAt");
                let s = self.system(index, &key);
                if let Some(reg) = s
                    .regressions
                    .iter_mut()
                    .rev()
                    .find(|g| g.ended.is_none() && started.is_none_or(|t| t == g.started))
                {
                    reg.ended = Some(at);
                }
                self.moment(e, "the checks pass again: regression over".into());
            }
            RecordKind::SoakStarted => {
                let stage = text(d, "stage").unwrap_or_default();
                let again = d.get("holds").and_then(Value::as_u64).unwrap_or(0) > 0;
                let until = time(d, "until");
                let s = self.system(index, &key);
                s.soaks.push(SoakSeen {
                    stage: stage.clone(),
                    started: at,
                    ended: None,
                    end: None,
                });
                self.moment(
                    e,
                    format!(
                        "soak at stage {stage} started{}{}",
                        if again { " again after a hold" } else { "" },
                        until
                            .map(|u| format!(", until {}", crate::engine::time::iso(u)))
                            .unwrap_or_default()
                    ),
                );
            }
            RecordKind::SoakHeld => {
                let stage = text(d, "stage").unwrap_or_default();
                let why = text(d, "heldBy").unwrap_or_else(|| "a check failing".into());
                let s = self.system(index, &key);
                if let Some(open) = s.soaks.last_mut().filter(|k| k.ended.is_none()) {
                    open.ended = Some(at);
                    open.end = Some(SoakEnd::Held(why.clone()));
                }
                self.moment(e, format!("held at stage {stage}: {why}"));
            }
            RecordKind::SoakEnded => {
                let stage = text(d, "stage").unwrap_or_default();
                let done = d.get("completed").and_then(Value::as_bool).unwrap_or(false);
                let s = self.system(index, &key);
                if let Some(open) = s.soaks.last_mut().filter(|k| k.ended.is_none()) {
                    open.ended = Some(at);
                    open.end = Some(if done {
                        SoakEnd::Done
                    } else {
                        SoakEnd::CutShort
                    });
                }
                let what = match d.get("seconds").and_then(Value::as_u64) {
                    Some(secs) if done => format!(
                        "soaked at stage {stage} for {}",
                        crate::report::fmt::human(secs)
                    ),
                    _ if done => format!("soaked at stage {stage}"),
                    _ => format!("soak at stage {stage} cut short: the system left the stage"),
                };
                self.moment(e, what);
            }
            RecordKind::DataLoss => {
                if let Ok(dl) = serde_json::from_value::<DataLoss>(d.clone()) {
                    let words = crate::engine::notice::data_loss_words(&dl);
                    self.system(index, &key).data_loss = Some(dl);
                    self.moment(e, words);
                }
            }
            RecordKind::Notice => {
                if let Ok(n) = serde_json::from_value::<ReleaseNotice>(d.clone()) {
                    let s = self.system(index, &key);
                    s.display_name = Some(n.display_name.clone());
                    s.hand_back = n.hand_back.iter().map(|h| h.item.clone()).collect();
                    self.moment(
                        e,
                        format!(
                            "release notice sent: {}",
                            crate::engine::notice::summary(&n)
                        ),
                    );
                    self.notices.push(n);
                }
            }
            RecordKind::HandBack => {
                let item = text(d, "item").unwrap_or_default();
                let by = text(d, "by").unwrap_or_default();
                self.system(index, &key).handed_back.push(HandBackSeen {
                    item: item.clone(),
                    by: by.clone(),
                    at,
                    comment: text(d, "comment"),
                });
                self.moment(e, format!("hand-back done by {by}: {item}"));
            }
            RecordKind::Approval => {
                let a = ApprovalSeen {
                    at,
                    name: text(d, "name").unwrap_or_default(),
                    stage: text(d, "stage").unwrap_or_default(),
                    systems: strings(d, "systems"),
                    decision: text(d, "decision").unwrap_or_default(),
                    accepted: d.get("accepted").and_then(Value::as_bool).unwrap_or(false),
                    reason: text(d, "reason").unwrap_or_default(),
                    approver: d
                        .get("approver")
                        .and_then(|a| text(a, "username"))
                        .unwrap_or_default(),
                    groups: d
                        .get("approver")
                        .map(|a| strings(a, "groups"))
                        .unwrap_or_default(),
                    comment: text(d, "comment"),
                    acknowledged: strings(d, "acknowledged"),
                };
                let what = format!(
                    "{} {} by {} at stage {} for {}{}",
                    a.name,
                    a.decision.to_lowercase(),
                    a.approver,
                    a.stage,
                    if a.systems.is_empty() {
                        "the whole stage".to_string()
                    } else {
                        a.systems.join(", ")
                    },
                    if a.accepted {
                        String::new()
                    } else {
                        format!(" (not counted: {})", a.reason)
                    }
                );
                self.approvals.push(a);
                self.moment(e, what);
            }
            RecordKind::DrillPhase
            | RecordKind::PreDrillState
            | RecordKind::Fault
            | RecordKind::DrillRecovery
            | RecordKind::DrillSystem
            | RecordKind::DrillApproval
            | RecordKind::Revert => {
                // A drill run's own record: its moments in the timeline.
                let what = match e.kind {
                    RecordKind::DrillPhase => {
                        format!("drill {}", text(d, "to").unwrap_or_default())
                    }
                    RecordKind::PreDrillState => "pre-drill state recorded".into(),
                    RecordKind::Fault => format!(
                        "fault {} {}{}",
                        text(d, "kind").unwrap_or_default(),
                        text(d, "event").unwrap_or_default(),
                        text(d, "proof")
                            .map(|p| format!(": {p}"))
                            .unwrap_or_default()
                    ),
                    RecordKind::DrillRecovery => {
                        format!(
                            "recovery plan {} created",
                            text(d, "plan").unwrap_or_default()
                        )
                    }
                    RecordKind::DrillSystem => {
                        format!("measured: {}", text(d, "phase").unwrap_or_default())
                    }
                    RecordKind::DrillApproval => format!(
                        "approved at {} by {}",
                        text(d, "stage").unwrap_or_default(),
                        text(d, "by").unwrap_or_default()
                    ),
                    _ => "reverted".into(),
                };
                self.moment(e, what);
            }
            RecordKind::Intervention => {
                let i = InterventionSeen {
                    at,
                    action: text(d, "action").unwrap_or_default(),
                    system: text(d, "system"),
                    step: text(d, "step"),
                    by: text(d, "by").unwrap_or_else(|| "unknown".into()),
                    vouched: d.get("vouched").and_then(Value::as_bool).unwrap_or(false),
                    reason: text(d, "reason"),
                    refused: text(d, "refused"),
                };
                let what = format!(
                    "{} by {}{}{}",
                    i.action,
                    i.by,
                    i.step
                        .as_ref()
                        .map(|s| format!(" of step {s}"))
                        .unwrap_or_default(),
                    i.refused
                        .as_ref()
                        .map(|r| format!(" (refused: {r})"))
                        .unwrap_or_default()
                );
                self.interventions.push(i);
                self.moment(e, what);
            }
        }
    }
}
