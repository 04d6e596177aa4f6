//! lifeline as a kubectl plugin: installed on PATH as `kubectl-lifeline`, it runs as
//! `kubectl lifeline status PLAN`, `kubectl lifeline approve ...`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    lifeline::cli::main("kubectl lifeline")
}
