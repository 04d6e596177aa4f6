//! The `lifeline` binary as a user runs it: `crd`, `plan`, `simulate` and `report` on the
//! playbooks, on a recorded drill and on broken input.

use std::{path::Path, process::Command};

fn lifeline(args: &[&str]) -> std::process::Output {
    // No kubeconfig of the machine's: without -n, objects go to `default`.
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KUBECONFIG", "/nonexistent/lifeline-test-kubeconfig")
        .args(args)
        .output()
        .expect("run lifeline")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "lifeline failed:\n{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn version_prints_the_crate_version() {
    let out = lifeline(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("lifeline {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn committed_crds_are_exactly_what_lifeline_crd_prints() {
    let out = lifeline(&["crd"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/crds/crds.yaml"),
    )
    .expect("manifests/crds/crds.yaml");
    assert!(
        stdout(&out) == committed,
        "manifests/crds/crds.yaml is stale: regenerate it with `cargo run -- crd > manifests/crds/crds.yaml && scripts/chart-sync`"
    );
    for kind in ["ClinicalSystem", "RecoveryPlan", "Approval"] {
        assert!(
            committed.contains(&format!("kind: {kind}\n")),
            "{kind} CRD present"
        );
    }
}

#[test]
fn plan_json_gives_waves_and_critical_path() {
    let v = json(&lifeline(&[
        "plan",
        "playbooks/quickstart",
        "--output",
        "json",
    ]));
    assert_eq!(
        v["waves"],
        serde_json::json!([
            ["lifeline-quickstart/identity"],
            ["lifeline-quickstart/patient-records"],
            ["lifeline-quickstart/results-viewer"]
        ])
    );
    assert_eq!(
        v["criticalPath"]["systems"],
        serde_json::json!([
            "lifeline-quickstart/identity",
            "lifeline-quickstart/patient-records",
            "lifeline-quickstart/results-viewer"
        ])
    );
    // identity 5m + patient-records 10m + results-viewer 5m, per the playbook.
    assert_eq!(v["criticalPath"]["seconds"], 1200);
}

#[test]
fn plan_northern_care_orders_every_dependency_first() {
    let v = json(&lifeline(&[
        "plan",
        "playbooks/northern-care",
        "--output",
        "json",
    ]));
    let waves = v["waves"].as_array().expect("waves");
    let systems: usize = waves.iter().map(|w| w.as_array().map_or(0, Vec::len)).sum();
    assert!(
        systems >= 20,
        "northern-care has at least 20 systems, got {systems}"
    );
    assert!(waves.len() >= 5, "several waves, got {}", waves.len());
    assert!(v["criticalPath"]["seconds"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn plan_text_dot_and_mermaid_show_the_graph() {
    let text = stdout(&lifeline(&["plan", "playbooks/quickstart"]));
    assert!(
        text.contains("Wave 1") && text.contains("Critical path (20m)"),
        "{text}"
    );
    let dot = stdout(&lifeline(&["plan", "playbooks/quickstart", "-o", "dot"]));
    assert!(dot.starts_with("digraph") && dot.contains("->"), "{dot}");
    let mermaid = stdout(&lifeline(&[
        "plan",
        "playbooks/quickstart",
        "-o",
        "mermaid",
    ]));
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("-->"),
        "{mermaid}"
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

const SYSTEM: &str = r#"apiVersion: lifeline.dev/v1alpha1
kind: ClinicalSystem
metadata:
  name: NAME
  namespace: ward
spec:
  displayName: NAME
  tier: critical
  recoveryTimeObjective: 1h
  expectedRecoveryTime: 10m
  restore:
    steps:
    - name: start
      scale: {kind: Deployment, name: NAME, replicas: 1}
"#;

fn system(name: &str, deps: &[&str]) -> String {
    let mut s = SYSTEM.replace("NAME", name);
    if !deps.is_empty() {
        s.push_str("  dependsOn:\n");
        for d in deps {
            s.push_str(&format!("  - name: {d}\n"));
        }
    }
    s
}

#[test]
fn plan_rejects_an_unknown_dependency_naming_file_object_and_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "systems.yaml",
        &format!(
            "{}---\n{}",
            system("lab", &[]),
            system("results", &["lab", "ghost"])
        ),
    );
    let out = lifeline(&["plan", dir.path().to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("systems.yaml (document 2)"), "{err}");
    assert!(err.contains("ward/results"), "{err}");
    assert!(
        err.contains("spec.dependsOn names ward/ghost, which does not exist"),
        "{err}"
    );
}

#[test]
fn a_system_with_no_steps_or_checks_yet_takes_its_expected_time_in_plan_and_simulate() {
    // The tabletop is run before the steps are written: the time the user wrote counts.
    let dir = tempfile::tempdir().expect("tempdir");
    let bare = "apiVersion: lifeline.dev/v1alpha1\nkind: ClinicalSystem\nmetadata:\n  name: pas\n  \
                namespace: ward\nspec:\n  displayName: PAS\n  tier: critical\n  \
                recoveryTimeObjective: 1h\n  expectedRecoveryTime: 45m\n";
    write(
        dir.path(),
        "systems.yaml",
        &format!("{bare}---\n{}", system("epr", &["pas"])),
    );
    let path = dir.path().to_str().expect("utf-8 path");
    let plan = stdout(&lifeline(&["plan", path]));
    let pas = plan
        .lines()
        .find(|l| l.contains("ward/pas"))
        .expect("pas in the plan");
    assert!(pas.contains("expected 45m"), "{plan}");
    let v = json(&lifeline(&["simulate", path, "--output", "json"]));
    let systems = v["systems"].as_array().expect("systems");
    assert_eq!(systems[0]["name"], "ward/pas");
    assert_eq!(systems[0]["verifiedAt"], 2700.0, "{v}");
    assert_eq!(systems[1]["startedAt"], 2700.0, "{v}");
    assert_eq!(v["finishedAt"], 3300.0);
}

#[test]
fn plan_and_simulate_refuse_a_misspelled_field_as_kubectl_apply_does() {
    // `dependOn` for `dependsOn`: a looser reader would drop the dependency and plan lab
    // and results in parallel, with exit code 0.
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "systems.yaml",
        &format!(
            "{}---\n{}  dependOn:\n  - name: lab\n",
            system("lab", &[]),
            system("results", &[])
        ),
    );
    for command in ["plan", "simulate"] {
        let out = lifeline(&[command, dir.path().to_str().expect("utf-8 path")]);
        assert!(!out.status.success(), "{command} accepted dependOn");
        let err = stderr(&out);
        assert!(
            err.contains(
                "systems.yaml (document 2): ClinicalSystem ward/results: \
                 spec.dependOn: unknown field (did you mean dependsOn?)"
            ),
            "{command}: {err}"
        );
    }
    // The same file spelled right plans results after lab.
    write(
        dir.path(),
        "systems.yaml",
        &format!("{}---\n{}", system("lab", &[]), system("results", &["lab"])),
    );
    let v = json(&lifeline(&[
        "plan",
        dir.path().to_str().expect("utf-8 path"),
        "-o",
        "json",
    ]));
    assert_eq!(v["waves"].as_array().map(Vec::len), Some(2), "{v}");
}

#[test]
fn report_refuses_an_unknown_field_in_a_drill_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(DRILL_FIXTURE).expect("fixture");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        text.replacen(
            "\"objectiveSeconds\": 1800,",
            "\"objectiveSecond\": 1800,",
            1,
        ),
    )
    .expect("write");
    let out = lifeline(&["report", "--from-file", bad.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "RecoveryDrill northern-care-staging/weekend-core: \
             status.run.systems[0].objectiveSecond: unknown field (did you mean objectiveSeconds?)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plan_prints_a_cycle_as_a_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "cycle.yaml",
        &format!(
            "{}---\n{}---\n{}",
            system("a", &["b"]),
            system("b", &["c"]),
            system("c", &["a"])
        ),
    );
    let out = lifeline(&["plan", dir.path().to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("dependency cycle: ward/a -> ward/b -> ward/c -> ward/a"),
        "{err}"
    );
}

#[test]
fn plan_names_the_field_of_a_malformed_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "bad.yaml",
        &system("lab", &[]).replace("tier: critical", "tier: urgent"),
    );
    let out = lifeline(&["plan", dir.path().to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("bad.yaml (document 1): ClinicalSystem ward/lab: spec.tier"),
        "{err}"
    );
    assert!(err.contains("unknown variant `urgent`"), "{err}");

    write(
        dir.path(),
        "bad.yaml",
        &system("lab", &[]).replace("recoveryTimeObjective: 1h", "recoveryTimeObjective: 1 day"),
    );
    let err = stderr(&lifeline(&[
        "plan",
        dir.path().to_str().expect("utf-8 path"),
    ]));
    assert!(
        err.contains("ward/lab") && err.contains("spec.recoveryTimeObjective"),
        "{err}"
    );
}

#[test]
fn simulate_json_reports_seconds_from_the_start() {
    let v = json(&lifeline(&[
        "simulate",
        "playbooks/quickstart",
        "--output",
        "json",
    ]));
    assert_eq!(v["finishedAt"], 1200.0);
    let systems = v["systems"].as_array().expect("systems");
    assert_eq!(systems.len(), 3);
    assert_eq!(systems[0]["name"], "lifeline-quickstart/identity");
    assert_eq!(systems[0]["startedAt"], 0.0);
    assert_eq!(systems[0]["verifiedAt"], 300.0);
    assert_eq!(systems[2]["startedAt"], 900.0);
    assert_eq!(systems[2]["verifiedAt"], 1200.0);
}

#[test]
fn simulate_releases_every_system_through_every_stage() {
    // northern-care has four stages, three of them needing people: each system moves one
    // such stage per decision, and the tabletop still takes every one to the last.
    let out = stdout(&lifeline(&["simulate", "playbooks/northern-care"]));
    for stage in [
        "it-validation",
        "pilot-ward",
        "emergency-departments",
        "all-sites",
    ] {
        // A system released through several stages at one instant has one line for them.
        let released = out
            .lines()
            .filter_map(|l| l.split_once("released to stage").map(|(_, rest)| rest))
            .filter(|rest| {
                let stages = rest.trim_start_matches('s').trim();
                let stages = stages.split(" after ").next().unwrap_or_default();
                stages.split(", ").any(|s| s == stage)
            })
            .count();
        assert_eq!(released, 24, "24 systems released to {stage}:\n{out}");
    }
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("  +")).collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        lines.len(),
        "no timeline line repeats:\n{out}"
    );
}

#[test]
fn simulate_counts_a_system_that_never_recovers_as_missed_and_check_fails() {
    let out = lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--fail",
        "identity",
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "2 of 24 verified, 1 failed, 21 blocked; 2 met their recovery-time objective, \
             22 missed it (22 of them never recovered)."
        ),
        "{text}"
    );
    assert!(
        text.contains("northern-care/identity failed and blocked 21 systems that depend on it:"),
        "{text}"
    );
    assert!(
        text.contains("21 systems blocked by northern-care/identity:"),
        "one line for the systems one failure blocked:\n{text}"
    );
    assert!(
        stderr(&out).contains("22 of 24 systems would miss their recovery-time objective"),
        "{}",
        stderr(&out)
    );
    // Without --check the run is not an error; a run that meets every objective passes
    // --check.
    let out = lifeline(&["simulate", "playbooks/northern-care", "--fail", "identity"]);
    assert_eq!(out.status.code(), Some(0));
    let out = lifeline(&["simulate", "playbooks/quickstart", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let v = json(&lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--fail",
        "identity",
        "--seed",
        "7",
        "--jitter",
        "10",
        "-o",
        "json",
    ]));
    assert_eq!(v["plan"], "northern-care/northern-care-recovery");
    assert_eq!(v["parameters"]["seed"], 7);
    assert_eq!(v["parameters"]["jitterPercent"], 10.0);
    assert_eq!(v["parameters"]["fail"][0], "northern-care/identity");
    assert_eq!(v["summary"]["missed"], 22, "{}", v["summary"]);
    let pas = v["systems"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "northern-care/pas")
        .expect("pas");
    assert_eq!(pas["tier"], "mission-critical");
    assert_eq!(pas["objectiveSeconds"], 9000.0);
    assert_eq!(pas["met"], false);
    assert_eq!(pas["blockedBy"], "northern-care/identity");
}

#[test]
fn simulate_models_the_time_people_take_to_decide_each_system() {
    // quickstart's all-staff stage needs one approval: with people taking an hour per
    // system, each is released there an hour after it came to wait, and the tabletop ends
    // an hour later than with decisions at once.
    let at_once = json(&lifeline(&[
        "simulate",
        "playbooks/quickstart",
        "-o",
        "json",
    ]));
    assert_eq!(at_once["finishedAt"], 1200.0);
    assert_eq!(at_once["systems"][0]["waitedForDecisions"], 0.0);
    let v = json(&lifeline(&[
        "simulate",
        "playbooks/quickstart",
        "--approval-delay",
        "1h",
        "-o",
        "json",
    ]));
    for (i, verified) in [300.0, 900.0, 1200.0].into_iter().enumerate() {
        let s = &v["systems"][i];
        assert_eq!(s["verifiedAt"], verified, "{v}");
        assert_eq!(s["waitedForDecisions"], 3600.0, "{v}");
        assert_eq!(s["fullyReleasedAt"], verified + 3600.0, "{v}");
    }
    assert_eq!(v["finishedAt"], 4800.0);
    // The timeline says how long each waited, and the chart draws the waits.
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("run.svg");
    let text = stdout(&lifeline(&[
        "simulate",
        "playbooks/quickstart",
        "--approval-delay",
        "1h",
        "--gantt",
        svg.to_str().expect("utf-8 path"),
    ]));
    assert!(
        text.contains("released to stage all-staff after 1h waiting for a decision"),
        "{text}"
    );
    let chart = std::fs::read_to_string(&svg).expect("the chart");
    assert_eq!(chart.matches(r#"class="waiting""#).count(), 3, "{chart}");
}

#[test]
fn a_stages_expected_decision_time_wins_over_the_default_delay() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "systems.yaml", &system("lab", &[]));
    write(
        dir.path(),
        "plan.yaml",
        "apiVersion: lifeline.dev/v1alpha1\nkind: RecoveryPlan\nmetadata:\n  name: p\n  \
         namespace: ward\nspec:\n  systems:\n    names: [lab]\n  stages:\n  - name: ward\n    \
         approval: {required: 1}\n    expectedDecisionTime: 30m\n",
    );
    let path = dir.path().to_str().expect("utf-8 path");
    let v = json(&lifeline(&[
        "simulate",
        path,
        "--approval-delay",
        "4h",
        "-o",
        "json",
    ]));
    assert_eq!(v["systems"][0]["verifiedAt"], 600.0, "{v}");
    assert_eq!(v["systems"][0]["waitedForDecisions"], 1800.0, "{v}");
}

#[test]
fn simulate_fail_blocks_the_dependents() {
    let v = json(&lifeline(&[
        "simulate",
        "playbooks/quickstart",
        "--fail",
        "patient-records",
        "-o",
        "json",
    ]));
    let phase = |i: usize| v["systems"][i]["phase"].as_str().unwrap_or("").to_string();
    assert_eq!(phase(1), "Failed");
    assert_eq!(phase(2), "Blocked");
    assert!(v["systems"][2]["verifiedAt"].is_null());
    assert!(v["systems"][0]["verifiedAt"].is_number());

    let out = lifeline(&["simulate", "playbooks/quickstart", "--fail", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--fail nope"), "{}", stderr(&out));
}

#[test]
fn simulate_jitter_is_reproducible_with_a_seed() {
    let a = stdout(&lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--jitter",
        "20",
        "--seed",
        "7",
        "-o",
        "json",
    ]));
    let b = stdout(&lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--jitter",
        "20",
        "--seed",
        "7",
        "-o",
        "json",
    ]));
    let c = stdout(&lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--jitter",
        "20",
        "--seed",
        "8",
        "-o",
        "json",
    ]));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn simulate_writes_a_gantt_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("run.svg");
    let out = lifeline(&[
        "simulate",
        "playbooks/northern-care",
        "--gantt",
        svg.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Finished after") && text.contains("met their recovery-time objective"),
        "{text}"
    );
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    assert!(
        chart.starts_with("<svg") || chart.starts_with("<?xml"),
        "an SVG document"
    );
    assert!(
        chart.contains("data-system=\"northern-care/epr\""),
        "a row per system"
    );
}

const DRILL_FIXTURE: &str = "tests/fixtures/drill-northern-care.json";

#[test]
fn report_writes_markdown_with_its_gantt_chart_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("drill.md");
    let out = lifeline(&[
        "report",
        "--from-file",
        DRILL_FIXTURE,
        "-o",
        md.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&md).expect("report written");
    assert!(
        text.starts_with("# Drill report: northern-care-staging/weekend-core, run 7\n"),
        "{text}"
    );
    assert!(text.contains("\n![Gantt chart](drill.svg)\n"), "{text}");
    let chart = std::fs::read_to_string(dir.path().join("drill.svg")).expect("svg written");
    assert!(chart.starts_with("<svg"), "an SVG document");
    assert_eq!(
        chart.matches("<g class=\"row\"").count(),
        10,
        "a row per system"
    );

    // On stdout, a note instead of the chart; with an .html file, the page.
    let out = lifeline(&["report", "weekend-core", "--from-file", DRILL_FIXTURE]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("\nGantt chart: use --format html, or -o FILE to also write the SVG\n")
    );
    let html = dir.path().join("drill.html");
    let out = lifeline(&[
        "report",
        "--from-file",
        DRILL_FIXTURE,
        "-o",
        html.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).expect("page written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<figure id=\"gantt\">\n<svg "));
}

#[test]
fn report_errors_name_the_file_drill_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(DRILL_FIXTURE).expect("fixture");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        text.replacen(
            "\"objectiveSeconds\": 1800,",
            "\"objectiveSeconds\": \"half an hour\",",
            1,
        ),
    )
    .expect("write");
    let out = lifeline(&["report", "--from-file", bad.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "bad.json (document 1): RecoveryDrill northern-care-staging/weekend-core: \
             status.run.systems[0].objectiveSeconds: invalid type: string \"half an hour\""
        ),
        "{}",
        stderr(&out)
    );
    let out = lifeline(&["report", "nightly", "--from-file", DRILL_FIXTURE]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "no RecoveryDrill nightly in the file (it holds northern-care-staging/weekend-core)"
        ),
        "{}",
        stderr(&out)
    );
}

/// A kubeconfig for a server nobody listens on (port 1 of loopback), whose context names
/// namespace `ward2`.
fn unreachable_kubeconfig(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    write(
        dir,
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n\
         contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ward2}\ncurrent-context: x\n\
         users:\n- name: u\n  user: {token: abc}\n",
    );
    path
}

fn lifeline_with_kubeconfig(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KUBECONFIG", kubeconfig)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run lifeline")
}

#[test]
fn with_no_cluster_an_error_is_one_line_naming_the_server_and_what_to_try() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = unreachable_kubeconfig(dir.path());
    for args in [
        &["status", "northern-care"][..],
        &["drill", "run", "weekly"],
        &["approve", "northern-care", "--stage", "all-sites"],
    ] {
        let out = lifeline_with_kubeconfig(&kubeconfig, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(
            err.contains("cannot reach the Kubernetes API server at https://127.0.0.1:1/")
                && err.contains("kubectl cluster-info"),
            "{args:?}: {err}"
        );
        assert!(!err.contains('\u{1b}'), "{args:?}: colour codes: {err:?}");
        assert!(
            !err.contains("INFO") && !err.contains("WARN"),
            "{args:?}: {err}"
        );
    }
    // A kubeconfig that is not there is named.
    let out = lifeline_with_kubeconfig(&dir.path().join("missing"), &["status", "p"]);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read the kubeconfig") && err.contains("missing"),
        "{err}"
    );
    // --kubeconfig wins over KUBECONFIG.
    let out = lifeline_with_kubeconfig(
        &dir.path().join("missing"),
        &[
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "status",
            "p",
        ],
    );
    assert!(
        stderr(&out).contains("https://127.0.0.1:1/"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_n_objects_go_to_the_kubeconfig_contexts_namespace_as_with_kubectl_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = unreachable_kubeconfig(dir.path());
    let systems = dir.path().join("systems");
    std::fs::create_dir(&systems).expect("mkdir");
    write(
        &systems,
        "lab.yaml",
        &system("lab", &[]).replace("  namespace: ward\n", ""),
    );
    let path = systems.to_str().expect("utf-8 path");
    let out = lifeline_with_kubeconfig(&kubeconfig, &["plan", path, "-o", "json"]);
    let v = json(&out);
    assert_eq!(v["waves"][0][0], "ward2/lab", "{v}");
    let out = lifeline_with_kubeconfig(&kubeconfig, &["plan", path, "-n", "ward3", "-o", "json"]);
    assert_eq!(json(&out)["waves"][0][0], "ward3/lab");
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = lifeline(&["completion", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for command in ["simulate", "approve", "drill", "list", "version"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lifeline.bash");
    std::fs::write(&path, stdout(&lifeline(&["completion", "bash"]))).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("run bash");
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn the_board_report_says_what_was_broken_of_what_was_in_scope_and_explains_its_terms() {
    let out = lifeline(&["report", "--from-file", DRILL_FIXTURE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("We broke 8 of the 10 systems in scope on purpose; the other 2 were recovered and checked with them."),
        "{report}"
    );
    assert!(
        report.contains("- **Outcome:** Objectives missed\n"),
        "no doubled words:\n{report}"
    );
    assert!(!report.contains("(ObjectivesMissed)"), "{report}");
    assert!(report.contains("## Terms used in this report"), "{report}");
    // Systems go by the names staff know, their IDs in small type; one without a
    // recorded display name keeps its ID.
    assert!(
        report.contains("| Patient Administration System <sub>pas</sub> | mission-critical |"),
        "{report}"
    );
    assert!(
        report.contains("| core-network | mission-critical |"),
        "{report}"
    );
    let html = stdout(&lifeline(&[
        "report",
        "--from-file",
        DRILL_FIXTURE,
        "--format",
        "html",
    ]));
    assert!(
        html.contains("<td>Laboratory Information System <small class=\"id\">lims</small></td>"),
        "{html}"
    );
    assert!(
        report.contains("- **Recovery-time objective (RTO):** how long a system may be down"),
        "{report}"
    );
}

#[test]
fn demo_down_keeps_the_reports_it_told_you_to_give_the_board() {
    // With a cache of its own: no cluster named demo there, the state of a finished demo.
    let cache = tempfile::tempdir().expect("tempdir");
    let state = cache.path().join("lifeline/demo");
    std::fs::create_dir_all(state.join("reports")).expect("mkdir");
    for f in [
        "reports/pathology-weekly.html",
        "reports/pathology-weekly.md",
        "operator.log",
        "stub.log",
    ] {
        std::fs::write(state.join(f), "x").expect("write");
    }
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo"))
        .arg("down")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .expect("run scripts/demo down");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "Kept the reports in {}",
            state.join("reports").display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(state.join("reports/pathology-weekly.html").is_file());
    assert!(state.join("reports/pathology-weekly.md").is_file());
    assert!(!state.join("operator.log").exists() && !state.join("stub.log").exists());
}
