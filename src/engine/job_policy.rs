//! What a ClinicalSystem's Job template may run, checked by the operator as it creates the
//! Job. The admission policy `lifeline-system-jobs` (manifests/operator/admission.yaml)
//! refuses a ClinicalSystem whose templates break these rules, but a ClinicalSystem stored
//! before the policy was in force, or while it was not installed, was never checked, and
//! the operator would run whatever it holds as a Job of its own making: a confused deputy.
//! So the operator checks again, the rules of that policy that need no authorizer:
//!
//! - the pod runs as the namespace's `default` ServiceAccount or one an administrator
//!   lists in the namespace's annotation [`SERVICE_ACCOUNTS_ANNOTATION`];
//! - no host namespaces (`hostNetwork`, `hostPID`, `hostIPC`);
//! - volumes only of the kinds Pod Security `restricted` allows (no `hostPath`);
//! - in every container (init and ephemeral ones too): not privileged,
//!   `allowPrivilegeEscalation: false`, capabilities dropping `ALL` and adding nothing but
//!   `NET_BIND_SERVICE`, `runAsNonRoot` (its own or the pod's) and never user 0, a seccomp
//!   profile `RuntimeDefault` or `Localhost` (its own or the pod's), no `hostPort`,
//!   `procMount` only `Default`;
//! - on the pod and every container: SELinux only a container type and no user or role,
//!   AppArmor never `Unconfined` (nor the pod template's older
//!   `container.apparmor.security.beta.kubernetes.io/*` annotation other than
//!   `runtime/default` or `localhost/*`), no Windows `hostProcess`; the pod's sysctls only
//!   the safe ones.
//!
//! Whether the ClinicalSystem's author may create Jobs is the API server's to say, at
//! admission; it is not known here.

use k8s_openapi::api::{
    batch::v1::JobTemplateSpec,
    core::v1::{
        AppArmorProfile, PodSecurityContext, SELinuxOptions, SecurityContext,
        WindowsSecurityContextOptions,
    },
};

/// The namespace annotation listing, comma-separated, the ServiceAccounts besides
/// `default` that a ClinicalSystem's Jobs may run as (the admission policy reads it too).
pub const SERVICE_ACCOUNTS_ANNOTATION: &str = "lifeline.dev/job-service-accounts";

/// The volume kinds Pod Security `restricted` allows.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The SELinux types Pod Security allows (an empty type is none).
const ALLOWED_SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// The sysctls Pod Security baseline (and so restricted) allows.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The pod template annotations that set a container's AppArmor profile the older way.
const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The ServiceAccounts a Job may run as in a namespace whose
/// [`SERVICE_ACCOUNTS_ANNOTATION`] is `annotation`: `default`, and those it lists.
pub fn allowed_accounts(annotation: Option<&str>) -> Vec<String> {
    let mut accounts = vec!["default".to_string()];
    accounts.extend(
        annotation
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string),
    );
    accounts
}

/// Every rule of the module documentation that `template` breaks, each naming the field
/// (from the template, e.g. `spec.template.spec.containers[restore].securityContext.privileged`)
/// and what it must be; empty when the template may run. `accounts` are the
/// ServiceAccounts allowed ([`allowed_accounts`]).
pub fn problems(template: &JobTemplateSpec, accounts: &[String]) -> Vec<String> {
    let Some(pod) = template
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
    else {
        return vec!["spec.template.spec: the template has no pod spec".into()];
    };
    let at = "spec.template.spec";
    let mut out = Vec::new();
    for (field, account) in [
        ("serviceAccountName", &pod.service_account_name),
        ("serviceAccount", &pod.service_account),
    ] {
        if let Some(a) = account
            && !accounts.contains(a)
        {
            out.push(format!(
                "{at}.{field}: {a:?} is not an allowed ServiceAccount (allowed: {}; an \
                 administrator lists more in the namespace annotation {SERVICE_ACCOUNTS_ANNOTATION})",
                accounts.join(", ")
            ));
        }
    }
    for (field, set) in [
        ("hostNetwork", pod.host_network),
        ("hostPID", pod.host_pid),
        ("hostIPC", pod.host_ipc),
    ] {
        if set == Some(true) {
            out.push(format!(
                "{at}.{field}: a Job may not share the node's namespaces"
            ));
        }
    }
    for v in pod.volumes.iter().flatten() {
        let kinds = serde_json::to_value(v).ok();
        let bad: Vec<String> = kinds
            .as_ref()
            .and_then(|k| k.as_object())
            .map(|o| {
                o.keys()
                    .filter(|k| *k != "name" && !ALLOWED_VOLUMES.contains(&k.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for kind in bad {
            out.push(format!(
                "{at}.volumes[{}].{kind}: a Job's volumes may be only {} (Pod Security restricted)",
                v.name,
                ALLOWED_VOLUMES.join(", ")
            ));
        }
    }
    let pod_sc = pod.security_context.clone().unwrap_or_default();
    if pod_sc.run_as_user == Some(0) {
        out.push(format!(
            "{at}.securityContext.runAsUser: a Job may not run as root (user 0)"
        ));
    }
    if seccomp_type(None, &pod_sc) == Some("Unconfined") {
        out.push(format!(
            "{at}.securityContext.seccompProfile.type: a Job may not run Unconfined"
        ));
    }
    let pod_at = format!("{at}.securityContext");
    out.extend(confinement_problems(
        &pod_at,
        pod_sc.se_linux_options.as_ref(),
        pod_sc.app_armor_profile.as_ref(),
        pod_sc.windows_options.as_ref(),
    ));
    for s in pod_sc.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
            out.push(format!(
                "{pod_at}.sysctls[{}]: not a safe sysctl (only {}; Pod Security restricted)",
                s.name,
                SAFE_SYSCTLS.join(", ")
            ));
        }
    }
    let annotations = template
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref());
    for (key, value) in annotations.into_iter().flatten() {
        if key.starts_with(APPARMOR_ANNOTATION_PREFIX)
            && value != "runtime/default"
            && !value.starts_with("localhost/")
        {
            out.push(format!(
                "spec.template.metadata.annotations[{key}]: {value:?}: AppArmor must be \
                 runtime/default or localhost/<profile> (Pod Security restricted)"
            ));
        }
    }
    let containers = pod
        .containers
        .iter()
        .map(|c| ("containers", &c.name, &c.security_context, &c.ports))
        .chain(
            pod.init_containers
                .iter()
                .flatten()
                .map(|c| ("initContainers", &c.name, &c.security_context, &c.ports)),
        );
    let ephemeral = pod.ephemeral_containers.iter().flatten().map(|c| {
        (
            "ephemeralContainers",
            &c.name,
            &c.security_context,
            &c.ports,
        )
    });
    for (list, name, sc, ports) in containers.chain(ephemeral) {
        let at = format!("{at}.{list}[{name}]");
        out.extend(container_problems(&at, sc.as_ref(), &pod_sc));
        for p in ports.iter().flatten() {
            if p.host_port.is_some_and(|h| h != 0) {
                out.push(format!(
                    "{at}.ports[{}].hostPort: a Job may not bind a port of the node",
                    p.container_port
                ));
            }
        }
    }
    out
}

/// The seccomp profile type in force: the container's, else the pod's.
fn seccomp_type<'a>(
    c: Option<&'a SecurityContext>,
    pod: &'a PodSecurityContext,
) -> Option<&'a str> {
    c.and_then(|c| c.seccomp_profile.as_ref())
        .or(pod.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str())
}

/// The SELinux, AppArmor and Windows rules a security context (of the pod or a
/// container, at `at`) breaks.
fn confinement_problems(
    at: &str,
    se_linux: Option<&SELinuxOptions>,
    app_armor: Option<&AppArmorProfile>,
    windows: Option<&WindowsSecurityContextOptions>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(se) = se_linux {
        if let Some(t) = se.type_.as_deref()
            && !ALLOWED_SELINUX_TYPES.contains(&t)
        {
            out.push(format!(
                "{at}.seLinuxOptions.type: {t:?} is not a container type (only {}; Pod \
                 Security restricted)",
                ALLOWED_SELINUX_TYPES[1..].join(", ")
            ));
        }
        for (field, value) in [("user", &se.user), ("role", &se.role)] {
            if value.as_deref().is_some_and(|v| !v.is_empty()) {
                out.push(format!(
                    "{at}.seLinuxOptions.{field}: may not be set (Pod Security restricted)"
                ));
            }
        }
    }
    if app_armor.is_some_and(|a| a.type_ == "Unconfined") {
        out.push(format!(
            "{at}.appArmorProfile.type: a Job may not run Unconfined"
        ));
    }
    if windows.and_then(|w| w.host_process) == Some(true) {
        out.push(format!(
            "{at}.windowsOptions.hostProcess: a Job may not run as a Windows host process"
        ));
    }
    out
}

/// The rules one container breaks, at `at` (`spec.template.spec.containers[name]`).
fn container_problems(
    at: &str,
    sc: Option<&SecurityContext>,
    pod: &PodSecurityContext,
) -> Vec<String> {
    let mut out = Vec::new();
    let at = format!("{at}.securityContext");
    if sc.and_then(|c| c.privileged) == Some(true) {
        out.push(format!("{at}.privileged: a Job may not be privileged"));
    }
    if sc.and_then(|c| c.allow_privilege_escalation) != Some(false) {
        out.push(format!(
            "{at}.allowPrivilegeEscalation: must be false (Pod Security restricted)"
        ));
    }
    let caps = sc.and_then(|c| c.capabilities.as_ref());
    if !caps
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    {
        out.push(format!(
            "{at}.capabilities.drop: must include ALL (Pod Security restricted)"
        ));
    }
    for add in caps.and_then(|c| c.add.as_ref()).into_iter().flatten() {
        if add != "NET_BIND_SERVICE" {
            out.push(format!(
                "{at}.capabilities.add: {add:?} may not be added (only NET_BIND_SERVICE)"
            ));
        }
    }
    if sc.and_then(|c| c.run_as_user) == Some(0) {
        out.push(format!(
            "{at}.runAsUser: a Job may not run as root (user 0)"
        ));
    }
    let non_root = sc
        .and_then(|c| c.run_as_non_root)
        .or(pod.run_as_non_root)
        .unwrap_or(false);
    if !non_root {
        out.push(format!(
            "{at}.runAsNonRoot: must be true, on the container or the pod (Pod Security restricted)"
        ));
    }
    if !matches!(seccomp_type(sc, pod), Some("RuntimeDefault" | "Localhost")) {
        out.push(format!(
            "{at}.seccompProfile.type: must be RuntimeDefault or Localhost, on the container \
             or the pod (Pod Security restricted)"
        ));
    }
    if let Some(m) = sc.and_then(|c| c.proc_mount.as_deref())
        && m != "Default"
    {
        out.push(format!(
            "{at}.procMount: {m:?} may not be used, only Default (Pod Security restricted)"
        ));
    }
    if let Some(c) = sc {
        out.extend(confinement_problems(
            &at,
            c.se_linux_options.as_ref(),
            c.app_armor_profile.as_ref(),
            c.windows_options.as_ref(),
        ));
    }
    out
}

/// Why the operator refuses to create the Job of `template` for ClinicalSystem
/// `system` ("namespace/name") at `at` (the step or check, as
/// `spec.restore.steps{restore-db}.job`), if it does: the first problem, how many more,
/// and why the operator checks at all.
pub fn refusal(
    system: &str,
    at: &str,
    template: &JobTemplateSpec,
    accounts: &[String],
) -> Option<String> {
    let found = problems(template, accounts);
    let first = found.first()?;
    let more = match found.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Some(format!(
        "ClinicalSystem {system}: {at}.template.{first}{more}; the operator creates no Job \
         that the admission policy lifeline-system-jobs refuses (this ClinicalSystem was \
         stored without it), so the step is refused until the template is fixed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A template that keeps every rule.
    fn restricted() -> Value {
        json!({ "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
            "volumes": [{ "name": "scratch", "emptyDir": {} }, { "name": "creds", "secret": { "secretName": "db" } }],
            "containers": [{
                "name": "restore", "image": "registry.example/restore:1",
                "ports": [{ "containerPort": 8080 }],
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": { "drop": ["ALL"], "add": ["NET_BIND_SERVICE"] }
                }
            }]
        } } } })
    }

    fn template(v: Value) -> JobTemplateSpec {
        serde_json::from_value(v).expect("a JobTemplateSpec")
    }

    fn problems_of(v: Value, accounts: &[&str]) -> Vec<String> {
        let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
        problems(&template(v), &accounts)
    }

    /// `restricted()` with `value` at the JSON pointer `path`.
    fn with(path: &str, value: Value) -> Value {
        let mut t = restricted();
        let (parent, key) = path.rsplit_once('/').expect("a path");
        let slot = t.pointer_mut(parent).expect("the parent exists");
        match slot {
            Value::Array(a) => a.push(value),
            Value::Object(o) => {
                o.insert(key.to_string(), value);
            }
            _ => panic!("{parent} holds no fields"),
        }
        t
    }

    #[test]
    fn a_restricted_template_as_the_default_or_a_listed_account_runs() {
        assert_eq!(
            problems_of(restricted(), &["default"]),
            Vec::<String>::new()
        );
        let listed = with("/spec/template/spec/serviceAccountName", json!("restorer"));
        assert_eq!(
            allowed_accounts(Some(" restorer , backup,")),
            vec!["default", "restorer", "backup"]
        );
        assert!(
            problems_of(listed.clone(), &["default", "restorer", "backup"]).is_empty(),
            "a listed account"
        );
        let why = problems_of(listed, &["default"]);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].starts_with(
                "spec.template.spec.serviceAccountName: \"restorer\" is not an allowed"
            ) && why[0].contains(SERVICE_ACCOUNTS_ANNOTATION),
            "{}",
            why[0]
        );
    }

    #[test]
    fn each_rule_of_the_admission_policy_is_kept_naming_the_field() {
        let pod = "/spec/template/spec";
        let c0 = "/spec/template/spec/containers/0/securityContext";
        let cases: Vec<(Value, &str)> = vec![
            (
                with(&format!("{pod}/serviceAccount"), json!("operator")),
                "spec.template.spec.serviceAccount:",
            ),
            (
                with(&format!("{pod}/hostNetwork"), json!(true)),
                "spec.template.spec.hostNetwork:",
            ),
            (
                with(&format!("{pod}/hostPID"), json!(true)),
                "spec.template.spec.hostPID:",
            ),
            (
                with(&format!("{pod}/hostIPC"), json!(true)),
                "spec.template.spec.hostIPC:",
            ),
            (
                with(
                    &format!("{pod}/volumes/-"),
                    json!({ "name": "root", "hostPath": { "path": "/" } }),
                ),
                "spec.template.spec.volumes[root].hostPath:",
            ),
            (
                with(&format!("{c0}/privileged"), json!(true)),
                "containers[restore].securityContext.privileged:",
            ),
            (
                with(&format!("{c0}/allowPrivilegeEscalation"), json!(true)),
                "containers[restore].securityContext.allowPrivilegeEscalation:",
            ),
            (
                with(
                    &format!("{c0}/capabilities"),
                    json!({ "drop": ["NET_RAW"] }),
                ),
                "containers[restore].securityContext.capabilities.drop:",
            ),
            (
                with(
                    &format!("{c0}/capabilities"),
                    json!({ "drop": ["ALL"], "add": ["SYS_ADMIN"] }),
                ),
                "containers[restore].securityContext.capabilities.add: \"SYS_ADMIN\"",
            ),
            (
                with(&format!("{c0}/runAsNonRoot"), json!(false)),
                "containers[restore].securityContext.runAsNonRoot:",
            ),
            (
                with(&format!("{c0}/runAsUser"), json!(0)),
                "containers[restore].securityContext.runAsUser:",
            ),
            (
                with(&format!("{pod}/securityContext/runAsUser"), json!(0)),
                "spec.template.spec.securityContext.runAsUser:",
            ),
            (
                with(
                    &format!("{c0}/seccompProfile"),
                    json!({ "type": "Unconfined" }),
                ),
                "containers[restore].securityContext.seccompProfile.type:",
            ),
            (
                with(
                    &format!("{pod}/securityContext/seccompProfile"),
                    json!({ "type": "Unconfined" }),
                ),
                "spec.template.spec.securityContext.seccompProfile.type:",
            ),
            (
                with(
                    "/spec/template/spec/containers/0/ports/0/hostPort",
                    json!(80),
                ),
                "containers[restore].ports[8080].hostPort:",
            ),
            (
                with(
                    &format!("{pod}/initContainers"),
                    json!([{ "name": "prep", "image": "registry.example/prep:1" }]),
                ),
                "initContainers[prep].securityContext.allowPrivilegeEscalation:",
            ),
            (
                with(
                    &format!("{pod}/ephemeralContainers"),
                    json!([{ "name": "debug", "image": "registry.example/debug:1",
                             "securityContext": { "privileged": true } }]),
                ),
                "ephemeralContainers[debug].securityContext.privileged:",
            ),
            (
                with(
                    &format!("{pod}/securityContext/seLinuxOptions"),
                    json!({ "type": "spc_t" }),
                ),
                "spec.template.spec.securityContext.seLinuxOptions.type: \"spc_t\"",
            ),
            (
                with(
                    &format!("{c0}/seLinuxOptions"),
                    json!({ "user": "system_u" }),
                ),
                "containers[restore].securityContext.seLinuxOptions.user:",
            ),
            (
                with(
                    &format!("{c0}/seLinuxOptions"),
                    json!({ "role": "sysadm_r" }),
                ),
                "containers[restore].securityContext.seLinuxOptions.role:",
            ),
            (
                with(&format!("{c0}/procMount"), json!("Unmasked")),
                "containers[restore].securityContext.procMount: \"Unmasked\"",
            ),
            (
                with(
                    &format!("{pod}/securityContext/sysctls"),
                    json!([{ "name": "kernel.msgmax", "value": "65536" }]),
                ),
                "spec.template.spec.securityContext.sysctls[kernel.msgmax]:",
            ),
            (
                with(
                    &format!("{pod}/securityContext/appArmorProfile"),
                    json!({ "type": "Unconfined" }),
                ),
                "spec.template.spec.securityContext.appArmorProfile.type:",
            ),
            (
                with(
                    &format!("{c0}/appArmorProfile"),
                    json!({ "type": "Unconfined" }),
                ),
                "containers[restore].securityContext.appArmorProfile.type:",
            ),
            (
                with(
                    "/spec/template/metadata",
                    json!({ "annotations": { "container.apparmor.security.beta.kubernetes.io/restore": "unconfined" } }),
                ),
                "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/restore]:",
            ),
            (
                with(
                    &format!("{pod}/securityContext/windowsOptions"),
                    json!({ "hostProcess": true }),
                ),
                "spec.template.spec.securityContext.windowsOptions.hostProcess:",
            ),
            (
                with(
                    &format!("{c0}/windowsOptions"),
                    json!({ "hostProcess": true }),
                ),
                "containers[restore].securityContext.windowsOptions.hostProcess:",
            ),
            (
                with(
                    &format!("{pod}/initContainers"),
                    json!([{ "name": "prep", "image": "registry.example/prep:1",
                             "securityContext": { "procMount": "Unmasked" } }]),
                ),
                "initContainers[prep].securityContext.procMount:",
            ),
            (
                with(
                    &format!("{pod}/ephemeralContainers"),
                    json!([{ "name": "debug", "image": "registry.example/debug:1",
                             "securityContext": { "seLinuxOptions": { "type": "spc_t" } } }]),
                ),
                "ephemeralContainers[debug].securityContext.seLinuxOptions.type:",
            ),
        ];
        for (t, field) in cases {
            let why = problems_of(t, &["default"]);
            assert!(why.iter().any(|w| w.contains(field)), "{field}: {why:#?}");
        }
        // Without a pod-level runAsNonRoot or seccomp profile, each container needs its own.
        let mut bare = restricted();
        bare["spec"]["template"]["spec"]
            .as_object_mut()
            .expect("pod")
            .remove("securityContext");
        let why = problems_of(bare, &["default"]);
        assert!(
            why.iter()
                .any(|w| w.ends_with("(Pod Security restricted)") && w.contains("runAsNonRoot")),
            "{why:#?}"
        );
        assert!(
            why.iter().any(|w| w.contains("seccompProfile.type")),
            "{why:#?}"
        );
        assert_eq!(
            problems_of(json!({ "spec": {} }), &["default"]),
            vec!["spec.template.spec: the template has no pod spec"]
        );
    }

    #[test]
    fn what_restricted_allows_of_selinux_apparmor_sysctls_and_proc_mount_runs() {
        let mut t = restricted();
        let pod = &mut t["spec"]["template"]["spec"];
        pod["securityContext"]["seLinuxOptions"] =
            json!({ "type": "container_t", "level": "s0:c123,c456" });
        pod["securityContext"]["sysctls"] =
            json!([{ "name": "net.ipv4.ip_unprivileged_port_start", "value": "0" }]);
        pod["securityContext"]["appArmorProfile"] = json!({ "type": "RuntimeDefault" });
        pod["securityContext"]["windowsOptions"] = json!({ "hostProcess": false });
        pod["containers"][0]["securityContext"]["procMount"] = json!("Default");
        pod["containers"][0]["securityContext"]["appArmorProfile"] =
            json!({ "type": "Localhost", "localhostProfile": "lifeline-restore" });
        t["spec"]["template"]["metadata"] = json!({ "annotations": {
            "container.apparmor.security.beta.kubernetes.io/restore": "localhost/lifeline-restore",
            "container.apparmor.security.beta.kubernetes.io/other": "runtime/default"
        } });
        assert_eq!(problems_of(t, &["default"]), Vec::<String>::new());
    }

    #[test]
    fn the_deputy_of_the_security_review_is_refused_naming_the_system_step_and_field() {
        // The template the review ran: another ServiceAccount, host namespaces, privileged,
        // a hostPath of /.
        let deputy = template(json!({ "spec": { "template": { "spec": {
            "serviceAccountName": "lifeline-operator",
            "hostPID": true, "hostNetwork": true,
            "volumes": [{ "name": "host", "hostPath": { "path": "/" } }],
            "containers": [{ "name": "x", "image": "busybox",
                "securityContext": { "privileged": true },
                "volumeMounts": [{ "name": "host", "mountPath": "/host" }] }]
        } } } }));
        let why = refusal(
            "pathology/lims",
            "spec.restore.steps{restore-db}.job",
            &deputy,
            &allowed_accounts(None),
        )
        .expect("refused");
        assert!(
            why.starts_with(
                "ClinicalSystem pathology/lims: spec.restore.steps{restore-db}.job.template.\
                 spec.template.spec.serviceAccountName: \"lifeline-operator\""
            ) && why.contains(" more)")
                && why.contains("lifeline-system-jobs"),
            "{why}"
        );
        assert_eq!(
            refusal(
                "pathology/lims",
                "spec.restore.steps{r}.job",
                &template(restricted()),
                &allowed_accounts(None)
            ),
            None
        );
    }
}
