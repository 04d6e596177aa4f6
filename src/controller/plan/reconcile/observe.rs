//! What the cluster says of each running restore step and due check of a plan, as the
//! observations the engine records.

use std::{collections::HashMap, time::Duration};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use tracing::{info, warn};

use super::MIN_RETRY_INTERVAL;
use super::timing::{
    attempt_elapsed, check_deadline, past_deadline, restore_timeout, retry_interval,
};
use crate::controller::{
    Context,
    steps::{
        restore::{self, StepProgress},
        restore_point,
        verify::{self, Attempt},
    },
};
use crate::{
    api::v1alpha1::{ActionPhase, ClinicalSystem, RecoveryPlan, RecoveryPlanStatus, SystemPhase},
    engine::{self, Observation, PlanModel},
    error::Error,
};

/// Checks on every running step and due check (of the systems `only` names, if given:
/// then no due reruns), returning what was seen.
#[allow(clippy::too_many_arguments)]
pub(super) async fn observe(
    ctx: &Context,
    plan: &RecoveryPlan,
    model: &PlanModel,
    by_key: &HashMap<String, &ClinicalSystem>,
    approvals: &[crate::api::v1alpha1::Approval],
    status: &RecoveryPlanStatus,
    only: Option<&std::collections::BTreeSet<usize>>,
    now: Timestamp,
    soonest: &mut impl FnMut(Duration),
) -> Result<Vec<Observation>, Error> {
    let mut out = Vec::new();
    for (i, s) in status.systems.iter().enumerate() {
        if only.is_some_and(|only| !only.contains(&i)) {
            continue;
        }
        let Some(m) = model.systems.get(i) else {
            continue;
        };
        if m.key != s.name {
            continue; // status from an older shape of the plan; decide realigns it
        }
        let Some(cs) = by_key.get(&m.key).copied() else {
            continue;
        };
        match s.phase {
            SystemPhase::Restoring => {
                let Some((k, step)) = s
                    .steps
                    .iter()
                    .enumerate()
                    .find(|(_, st)| st.phase == ActionPhase::Running)
                else {
                    continue;
                };
                // Measured from this attempt's start, without the time spent paused or
                // with the API server unreachable; a paused plan times nothing out.
                if let (Some(timeout), Some(ran)) = (
                    restore_timeout(Some(cs)),
                    attempt_elapsed(ctx, status, s, now),
                ) && !plan.spec.paused
                    && ran > timeout
                {
                    out.push(Observation::StepFailed {
                        system: i,
                        step: k,
                        message: format!(
                            "the restore did not finish within its timeout of {}",
                            crate::api::v1alpha1::format_duration(timeout)
                        ),
                    });
                    continue;
                }
                match restore::drive_step(ctx, plan, cs, k, step.attempts.max(1), approvals).await?
                {
                    StepProgress::Succeeded { token } => {
                        if let Some(spec) = cs.spec.steps().get(k)
                            && spec.restore_point.is_some()
                        {
                            let job = spec.job.as_ref().and(token.as_deref());
                            let (at, problem) = restore_point::read(ctx, cs, spec, job).await?;
                            if let Some(p) = &problem {
                                warn!(plan = %plan.name_any(), system = %m.key, step = %spec.name, problem = %p, "a restore step did not report its restore point; the data-loss window is unknown");
                            }
                            out.push(Observation::RestorePoint {
                                system: i,
                                step: k,
                                at,
                                problem,
                            });
                        }
                        out.push(Observation::StepSucceeded {
                            system: i,
                            step: k,
                            token,
                        })
                    }
                    StepProgress::Failed(message) => {
                        ctx.metrics.step_failed(cs, k);
                        out.push(Observation::StepFailed {
                            system: i,
                            step: k,
                            message,
                        })
                    }
                    StepProgress::Running(Some(d)) => soonest(d),
                    StepProgress::Running(None) => {}
                }
            }
            SystemPhase::Verifying => {
                let interval = retry_interval(Some(cs));
                let deadline = check_deadline(Some(cs));
                for (k, c) in s.checks.iter().enumerate() {
                    if c.phase != ActionPhase::Running {
                        continue;
                    }
                    if let Some(last) = &c.last_attempt_at {
                        let since = engine::time::elapsed(last.0, now);
                        if since < interval {
                            soonest(interval - since);
                            continue;
                        }
                    }
                    let Some(check) = cs.spec.checks().get(k) else {
                        continue;
                    };
                    let result = match crate::controller::drill::faults::fail_check::forced(
                        plan, cs, check, now,
                    ) {
                        Some(why) => Attempt::Failed(why),
                        None => verify::attempt(ctx, plan, cs, check, c.attempts + 1).await,
                    };
                    // A check's deadline does not run while the API server is away.
                    let past_deadline = c.started_at.as_ref().is_some_and(|t| {
                        past_deadline(
                            t.0,
                            now,
                            ctx.unreachable_within(t.0, now),
                            interval,
                            deadline,
                        )
                    });
                    match result {
                        Attempt::Pending => {}
                        Attempt::Unreachable(why) => {
                            info!(plan = %plan.name_any(), system = %m.key, check = %check.name, reason = %why, "check not attempted");
                            out.push(Observation::CheckNotTried {
                                system: i,
                                check: k,
                                reason: why,
                            });
                            soonest(interval);
                        }
                        Attempt::Passed => out.push(Observation::CheckAttempt {
                            system: i,
                            check: k,
                            passed: true,
                            error: None,
                            last: true,
                        }),
                        Attempt::Failed(error) => {
                            if past_deadline {
                                ctx.metrics.check_failed(check);
                            }
                            out.push(Observation::CheckAttempt {
                                system: i,
                                check: k,
                                passed: false,
                                error: Some(error),
                                last: past_deadline,
                            });
                            soonest(interval);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if only.is_some() {
        return Ok(out);
    }
    // Checks of released systems that soak, due again.
    let reruns = engine::due_reruns(model, status, now);
    if let Some(next) = reruns.next {
        soonest(engine::time::elapsed(now, next).max(MIN_RETRY_INTERVAL));
    }
    for (i, k) in reruns.due {
        let (Some(cs), Some(c)) = (
            by_key.get(&model.systems[i].key).copied(),
            status.systems[i].checks.get(k),
        ) else {
            continue;
        };
        let Some(check) = cs.spec.checks().get(k) else {
            continue;
        };
        let result =
            match crate::controller::drill::faults::fail_check::forced(plan, cs, check, now) {
                Some(why) => Attempt::Failed(why),
                None => verify::attempt(ctx, plan, cs, check, c.attempts + c.reruns + 1).await,
            };
        soonest(model.systems[i].retry_interval);
        let (passed, error) = match result {
            Attempt::Pending => continue,
            Attempt::Unreachable(why) => {
                info!(plan = %plan.name_any(), system = %model.systems[i].key, check = %check.name, reason = %why, "check not rerun");
                out.push(Observation::CheckNotTried {
                    system: i,
                    check: k,
                    reason: why,
                });
                continue;
            }
            Attempt::Passed => (true, None),
            Attempt::Failed(error) => {
                ctx.metrics.check_failed(check);
                (false, Some(error))
            }
        };
        out.push(Observation::CheckRerun {
            system: i,
            check: k,
            passed,
            error,
        });
    }
    Ok(out)
}
