//! The layout keeps the design: the engine decides purely (no Kubernetes client or
//! runtime, no clock, no I/O, no async), and the operator never depends on the CLI. Read
//! from the source tree, so a change that breaks the rule fails here with the line. And no
//! file under `src/` grows past [`MAX_LINES`]: a file that does holds more than one concern.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every line under `src/<folder>` that contains one of `forbidden`, as "file:line: text".
fn offending(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(folder);
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if let Some(f) = forbidden.iter().find(|f| code.contains(**f)) {
                out.push(format!(
                    "{}:{}: {f}: {}",
                    file.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    out
}

#[test]
fn the_engine_has_no_client_runtime_clock_or_io() {
    let found = offending(
        "engine",
        &[
            "kube::Api",
            "kube::Client",
            "kube::runtime",
            "kube::api::",
            "Api<",
            "Client::",
            "tokio",
            "reqwest",
            "async fn",
            ".await",
            "Timestamp::now",
            "SystemTime::now",
            "Instant::now",
            "std::fs",
            "std::net",
            "crate::controller",
            "crate::cli",
        ],
    );
    assert!(
        found.is_empty(),
        "the engine must stay pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_operator_and_the_report_never_use_the_cli() {
    for folder in ["controller", "report", "sim", "api"] {
        let found = offending(folder, &["crate::cli"]);
        assert!(
            found.is_empty(),
            "{folder} uses the CLI:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_api_is_types_only() {
    let found = offending(
        "api",
        &["crate::engine", "crate::controller", "crate::report"],
    );
    assert!(
        found.is_empty(),
        "the API types depend on nothing else:\n{}",
        found.join("\n")
    );
}

/// The most lines a file under `src/` may have: past it a file holds more than one
/// concern, and is split into a folder of modules, one per concern.
const MAX_LINES: usize = 800;

#[test]
fn no_source_file_is_over_the_line_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    files.sort();
    let over: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file)
                .expect("a source file")
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(
        over.is_empty(),
        "split these into modules by concern (at most {MAX_LINES} lines a file):\n{}",
        over.join("\n")
    );
}
