//! The `lifeline` binary as a user runs it.

use std::process::Command;

fn lifeline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(args)
        .output()
        .expect("run lifeline")
}

#[test]
fn version_prints_the_crate_version() {
    let out = lifeline(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("lifeline {}", env!("CARGO_PKG_VERSION"))
    );
}
