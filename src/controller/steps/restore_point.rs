//! The point in time a restore step restored its data to (`restorePoint`): from the
//! termination message of a `job` step's pod, or from a field of an object. What is read
//! is never trusted further than a time: anything else is a problem named in status, and
//! the system's data-loss window is then unknown, never guessed. A problem names the field,
//! never what it holds: the operator may read objects the ClinicalSystem's author may not,
//! so echoing a value would make the status a read oracle for them.

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    Api,
    api::{DynamicObject, GroupVersionKind, ListParams},
    discovery,
};

use crate::api::v1alpha1::{ClinicalSystem, RestorePointSource, RestoreStep};
use crate::controller::Context;
use crate::error::{Error, KubeContext};

/// The restore point `step` of `system` reports, or why there is none. `job` is the name
/// of the Job a `job` step ran.
pub async fn read(
    ctx: &Context,
    system: &ClinicalSystem,
    step: &RestoreStep,
    job: Option<&str>,
) -> Result<(Option<Timestamp>, Option<String>), Error> {
    let Some(source) = &step.restore_point else {
        return Ok((None, None));
    };
    let ns = system.metadata.namespace.clone().unwrap_or_default();
    let found = match source {
        RestorePointSource {
            termination_message: Some(true),
            ..
        } => match job {
            Some(job) => from_termination_message(ctx, &ns, job).await?,
            None => Err("restorePoint.terminationMessage is set on a step that runs no Job".into()),
        },
        RestorePointSource {
            field: Some(field), ..
        } => {
            let object = source.object.clone().or_else(|| {
                step.wait_for
                    .as_ref()
                    .map(|w| crate::api::v1alpha1::ObjectRef {
                        api_version: w.api_version.clone(),
                        kind: w.kind.clone(),
                        name: w.name.clone(),
                    })
            });
            match object {
                Some(o) => from_field(ctx, &ns, &o, field).await?,
                None => Err("restorePoint.field names no object (set restorePoint.object)".into()),
            }
        }
        _ => Err("restorePoint sets neither terminationMessage nor field".into()),
    };
    Ok(match found {
        Ok(t) => (Some(t), None),
        Err(why) => (None, Some(why)),
    })
}

/// Reads a restore point from text: an RFC 3339 time. The error says only that it is not
/// one, never the text (nor the parser's message, which quotes it); the caller names
/// where the text came from.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    text.trim()
        .parse::<Timestamp>()
        .map_err(|_| "is not an RFC 3339 time".to_string())
}

/// The `restorePoint` of a termination message (`{"restorePoint": "<RFC 3339>"}`).
pub fn from_message(message: &str) -> Result<Timestamp, String> {
    let value: serde_json::Value = serde_json::from_str(message.trim())
        .map_err(|_| "the termination message is not JSON with a restorePoint".to_string())?;
    match value.get("restorePoint") {
        Some(serde_json::Value::String(t)) => {
            parse_time(t).map_err(|why| format!("the termination message's restorePoint {why}"))
        }
        Some(_) => Err("the termination message's restorePoint is not an RFC 3339 time".into()),
        None => Err("the termination message has no restorePoint".into()),
    }
}

async fn from_termination_message(
    ctx: &Context,
    ns: &str,
    job: &str,
) -> Result<Result<Timestamp, String>, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .during(|| format!("list the pods of Job {ns}/{job}"))?;
    // The pod that succeeded: its containers' termination messages, latest first.
    let mut messages: Vec<(Option<Timestamp>, String)> = list
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
        .flat_map(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.clone())
                .unwrap_or_default()
        })
        .filter_map(|c| {
            let t = c.state?.terminated?;
            Some((t.finished_at.map(|f| f.0), t.message?))
        })
        .collect();
    messages.sort_by_key(|m| std::cmp::Reverse(m.0));
    let Some((_, message)) = messages.first() else {
        return Ok(Err(format!(
            "no succeeded pod of Job {ns}/{job} left a termination message (a restorePoint step's container writes {{\"restorePoint\": \"<RFC 3339>\"}} to /dev/termination-log)"
        )));
    };
    Ok(from_message(message))
}

async fn from_field(
    ctx: &Context,
    ns: &str,
    o: &crate::api::v1alpha1::ObjectRef,
    field: &str,
) -> Result<Result<Timestamp, String>, Error> {
    let (group, version) = match o.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), o.api_version.clone()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &o.kind);
    let (resource, _) = match discovery::pinned_kind(&ctx.client, &gvk).await {
        Ok(found) => found,
        Err(e) => {
            return Ok(Err(format!(
                "restorePoint: the API server does not serve {} {}: {e}",
                o.api_version, o.kind
            )));
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &resource);
    let obj = match api.get_opt(&o.name).await {
        Ok(Some(obj)) => obj,
        Ok(None) => {
            return Ok(Err(format!(
                "restorePoint: {} {ns}/{} does not exist",
                o.kind, o.name
            )));
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Ok(Err(format!(
                "restorePoint: the operator may not read {} {ns}/{} (grant it get on {} through the lifeline-operator-extra ClusterRole)",
                o.kind, o.name, resource.plural
            )));
        }
        Err(e) => {
            return Err(Error::Kube {
                action: format!("read {} {ns}/{}", o.kind, o.name),
                source: e,
            });
        }
    };
    Ok(field_time(&obj.data, field).map_err(|why| format!("{} {ns}/{}: {why}", o.kind, o.name)))
}

/// The time at the dotted path `field` of `data` (an object's fields other than its
/// metadata, as a dynamic object holds them). The error names the path and says it is
/// missing or not an RFC 3339 time, nothing of what the field holds.
pub fn field_time(data: &serde_json::Value, field: &str) -> Result<Timestamp, String> {
    let mut at = data;
    for part in field.trim_start_matches('.').split('.') {
        at = at
            .get(part)
            .ok_or_else(|| format!("it has no field {field}"))?;
    }
    let not_a_time = || format!("its field {field} is not an RFC 3339 time");
    match at.as_str() {
        Some(text) => parse_time(text).map_err(|_| not_a_time()),
        None => Err(not_a_time()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_termination_message_gives_its_restore_point_or_says_what_is_wrong() {
        assert_eq!(
            from_message(r#"{"restorePoint":"2026-11-30T23:00:00Z","bytes":12}"#),
            Ok("2026-11-30T23:00:00Z".parse().expect("t"))
        );
        assert!(
            from_message("restored ok")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(from_message("{}").unwrap_err().contains("no restorePoint"));
        assert!(
            from_message(r#"{"restorePoint":"last night"}"#)
                .unwrap_err()
                .contains("not an RFC 3339 time")
        );
    }

    #[test]
    fn a_field_is_read_by_its_dotted_path() {
        let data = serde_json::json!({"status": {"recoveryTarget": {"targetTime": "2026-11-30T22:15:00Z"}, "n": 3}});
        assert_eq!(
            field_time(&data, "status.recoveryTarget.targetTime"),
            Ok("2026-11-30T22:15:00Z".parse().expect("t"))
        );
        assert!(
            field_time(&data, "status.missing")
                .unwrap_err()
                .contains("no field")
        );
        assert!(
            field_time(&data, "status.n")
                .unwrap_err()
                .contains("status.n is not an RFC 3339 time")
        );
    }

    #[test]
    fn a_field_or_message_that_is_not_a_time_is_named_never_echoed() {
        // restorePoint.object and field may name any object the operator can read, such as
        // a Secret's data or another team's status: what they hold never reaches status.
        let secret = "cGFzc3dvcmQ6IGh1bnRlcjI=";
        let data = serde_json::json!({
            "data": { "password": secret },
            "spec": { "replicas": 3, "token": { "value": secret } },
        });
        for (field, path) in [
            ("data.password", "data.password"),
            (".spec.token.value", ".spec.token.value"),
            ("spec.replicas", "spec.replicas"),
            ("spec.token", "spec.token"),
        ] {
            let why = field_time(&data, field).expect_err(field);
            assert_eq!(why, format!("its field {path} is not an RFC 3339 time"));
        }
        assert_eq!(
            field_time(&data, "data.missing").expect_err("missing"),
            "it has no field data.missing"
        );
        for message in [
            format!("restored from {secret}"),
            format!(r#"{{"restorePoint":"{secret}"}}"#),
            format!(r#"{{"restorePoint":{{"v":"{secret}"}}}}"#),
        ] {
            let why = from_message(&message).expect_err("not a time");
            assert!(!why.contains(secret), "{why}");
            assert!(
                why.contains("not JSON with a restorePoint")
                    || why.contains("restorePoint is not an RFC 3339 time"),
                "{why}"
            );
        }
        assert_eq!(
            parse_time(secret).expect_err("not a time"),
            "is not an RFC 3339 time"
        );
    }
}
