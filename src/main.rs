#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    lifeline::cli::main("lifeline")
}
