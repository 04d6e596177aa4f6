//! What an installer reads agrees: one version (Cargo.toml's) in the binary, the image
//! label, the manifests and the changelog; the licence the image label names is the
//! LICENSE file's.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn the_image_label_and_the_manifests_carry_the_crates_version() {
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains(&format!("org.opencontainers.image.version=\"{VERSION}\"")),
        "the Dockerfile's version label is not {VERSION}"
    );
    let deployment = read("manifests/operator/deployment.yaml");
    assert!(
        deployment.contains(&format!("app.kubernetes.io/version: {VERSION}\n")),
        "manifests/operator/deployment.yaml's version label is not {VERSION}"
    );
    assert!(
        deployment.contains(&format!("image: ghcr.io/lifeline-dev/lifeline:{VERSION}\n")),
        "manifests/operator/deployment.yaml's image tag is not {VERSION}"
    );
}

#[test]
fn the_changelog_has_the_version_and_the_licence_is_the_labels() {
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog.contains(&format!("\n## {VERSION} ")),
        "CHANGELOG.md has no section for {VERSION}"
    );
    assert!(read("LICENSE").contains("Apache License\n                        Version 2.0"));
    assert!(read("Dockerfile").contains("org.opencontainers.image.licenses=\"Apache-2.0\""));
    assert_eq!(env!("CARGO_PKG_LICENSE"), "Apache-2.0");
}

#[test]
fn lifeline_version_client_prints_the_crates_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(["version", "--client", "-o", "json"])
        .output()
        .expect("run lifeline");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["client"]["version"], VERSION);
    assert!(
        v.get("server").is_none(),
        "--client contacts no cluster: {v}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(["version", "--client", "-o", "yaml"])
        .output()
        .expect("run lifeline");
    let v: serde_json::Value = serde_yaml::from_slice(&out.stdout).expect("YAML");
    assert_eq!(v["client"]["version"], VERSION);
}

#[test]
fn the_chart_carries_the_crates_version_and_the_crds_as_generated() {
    let chart = read("charts/lifeline/Chart.yaml");
    assert!(
        chart.contains(&format!("\nversion: {VERSION}\n"))
            && chart.contains(&format!("\nappVersion: \"{VERSION}\"\n")),
        "charts/lifeline/Chart.yaml's version and appVersion are not {VERSION}"
    );
    assert!(
        read("charts/lifeline/crds/crds.yaml") == read("manifests/crds/crds.yaml"),
        "charts/lifeline/crds/crds.yaml is stale: run scripts/chart-sync"
    );
}
