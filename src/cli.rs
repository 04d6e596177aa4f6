//! The `lifeline` command line.

use clap::Parser;

/// lifeline: restore clinical systems in dependency order, verify them, release them
/// to staff stage by stage, and rehearse it in drills.
#[derive(Debug, Parser)]
#[command(name = "lifeline", version, about, long_about = None)]
pub struct Cli {}

/// Runs the parsed command.
pub fn run(_cli: Cli) -> anyhow::Result<()> {
    Ok(())
}
