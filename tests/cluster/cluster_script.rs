//! `scripts/cluster` itself: two clusters side by side, `down` stops exactly the
//! processes it started, and a failed start says why and cleans up.

use crate::support;
use std::{path::PathBuf, process::Command};

fn script() -> PathBuf {
    support::repo_root().join("scripts/cluster")
}

fn cluster_dir(name: &str) -> PathBuf {
    let root = std::env::var_os("LIFELINE_CLUSTER_ROOT")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("lifeline/clusters"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/lifeline/clusters")
        });
    root.join(name)
}

fn pid_alive(pid: u32) -> bool {
    // A zombie has exited; only its exit status is left.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn started_pids(dir: &std::path::Path) -> Vec<u32> {
    [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    ]
    .iter()
    .map(|c| {
        std::fs::read_to_string(dir.join(format!("run/{c}.pid")))
            .unwrap_or_else(|e| panic!("pid file of {c}: {e}"))
            .trim()
            .parse()
            .expect("pid")
    })
    .collect()
}

fn server_of(kubeconfig: &std::path::Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).expect("kubeconfig");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server in kubeconfig")
        .to_string()
}

#[test]
fn a_second_cluster_runs_beside_the_first_and_down_stops_only_its_own() {
    let first = support::cluster();
    let name = format!("lt-second-{}", std::process::id());
    let pid = std::process::id().to_string();
    let out = Command::new(script())
        .args(["up", "--name", &name, "--owner-pid", &pid])
        .output()
        .expect("run scripts/cluster up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "second cluster failed to start:\n{stderr}"
    );
    assert!(
        stderr.contains("ready in "),
        "up prints the time it took:\n{stderr}"
    );
    let kubeconfig = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("path")
            .trim(),
    );
    assert_ne!(
        server_of(&kubeconfig),
        server_of(&first.kubeconfig),
        "distinct API server ports"
    );

    // `up` of a cluster already up says so and prints the same kubeconfig path, the one
    // line on stdout, as a fresh start does (scripts/demo drill reads it).
    let again = Command::new(script())
        .args(["up", "--name", &name, "--owner-pid", &pid])
        .output()
        .expect("run scripts/cluster up again");
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("{}\n", kubeconfig.display()),
        "stderr: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    let dir = cluster_dir(&name);
    let pids = started_pids(&dir);
    assert!(pids.iter().all(|p| pid_alive(*p)), "all components running");
    let status = Command::new(script())
        .args(["status", "--name", &name])
        .output()
        .expect("status");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );

    let down = Command::new(script())
        .args(["down", "--name", &name])
        .output()
        .expect("down");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    for p in &pids {
        assert!(!pid_alive(*p), "process {p} still running after down");
    }
    assert!(!dir.exists(), "{} removed", dir.display());
    // The first cluster is untouched.
    first.kubectl(&["get", "--raw", "/readyz"]);
}

#[test]
fn a_failed_start_prints_the_failing_log_exits_non_zero_and_leaves_nothing_running() {
    let name = format!("lt-fail-{}", std::process::id());
    let out = Command::new(script())
        .args(["up", "--name", &name])
        .env("LIFELINE_APISERVER_EXTRA_ARGS", "--no-such-flag")
        .output()
        .expect("run scripts/cluster up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up must fail:\n{stderr}");
    assert!(
        stderr.contains("kube-apiserver failed to start"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown flag: --no-such-flag"),
        "tail of the log:\n{stderr}"
    );
    let dir = cluster_dir(&name);
    let etcd: u32 = std::fs::read_to_string(dir.join("run/etcd.pid"))
        .expect("etcd pid file kept with the logs")
        .trim()
        .parse()
        .expect("pid");
    assert!(!pid_alive(etcd), "etcd stopped after the failed start");
    let down = Command::new(script())
        .args(["down", "--name", &name])
        .output()
        .expect("down");
    assert!(down.status.success());
    assert!(!dir.exists());
}
