//! The `lifeline` command line (also `kubectl lifeline`): [`main`] and the dispatch to one
//! module per command; the arguments clap parses are in `args.rs` ([`Cli`], [`Command`]).
//! [`status`] shows a plan; [`control`] holds `retry`, `pause`, `resume` and `abort`,
//! which change one; both report a [`CtlError`](error::CtlError).

pub mod approve;
mod args;
pub mod connect;
pub mod control;
pub mod drill;
pub mod error;
pub mod evidence;
pub mod list;
pub mod logs;
pub mod manifest;
pub mod notice;
pub mod operator;
pub mod plan;
pub mod report;
pub mod simulate;
pub mod status;
pub mod strict;
pub mod version;

use anyhow::Context as _;

use crate::api::v1alpha1::Decision;

pub use args::{
    Cli, Command, DecideArgs, DrillCommand, DrillOutput, DrillTarget, EvidenceCommand, ListArgs,
    ListOutput, LogsArgs, NoticeFormat, PlanArgs, PlanOutput, PlanTarget, ReportArgs, ReportFormat,
    RunArgs, SimOutput, SimulateArgs, Source, StatusArgs, VersionArgs, VersionOutput,
};

/// The whole program: parse arguments as `bin_name`, set up logging, run, and turn an
/// error into a message and a non-zero exit.
pub fn main(bin_name: &'static str) -> std::process::ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().bin_name(bin_name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The operator logs; a command a person runs prints its result and, on error, one
    // line, with no log lines on stderr unless RUST_LOG asks for them.
    if matches!(cli.command, Some(Command::Run(_))) || std::env::var_os("RUST_LOG").is_some() {
        crate::telemetry::init();
    }
    connect::set_target(connect::Target {
        kubeconfig: cli.kubeconfig.clone(),
        context: cli.context.clone(),
    });
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", connect::one_line(&err));
            if err.downcast_ref::<simulate::ObjectivesMissed>().is_some() {
                std::process::ExitCode::from(simulate::ObjectivesMissed::EXIT_CODE)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(())
        }
        Some(Command::Crd) => {
            print!("{}", operator::crds_yaml()?);
            Ok(())
        }
        Some(Command::Plan(args)) => plan::plan_cmd(args),
        Some(Command::Simulate(args)) => simulate::simulate_cmd(args),
        Some(Command::Run(args)) => operator::run_cmd(args),
        Some(Command::Status(args)) => with_plan(&args.target, |client, ns, plan| async move {
            status::status_until(
                client,
                &ns,
                &plan,
                args.watch,
                args.until_settled,
                args.output,
                &mut std::io::stdout(),
            )
            .await?;
            Ok(())
        }),
        Some(Command::Retry {
            target,
            system,
            dry_run,
        }) => {
            connect::set_dry_run(dry_run);
            with_plan(&target, |client, ns, plan| async move {
                let token = control::retry(client, &ns, &plan, &system).await?;
                if !dry_run {
                    println!("retry of {system} in {ns}/{plan} requested (token {token})");
                }
                Ok(())
            })
        }
        Some(Command::Restore {
            target,
            system,
            from_step,
            force,
        }) => with_plan(&target, |client, ns, plan| async move {
            let token =
                control::restore(client, &ns, &plan, &system, from_step.as_deref(), force).await?;
            println!(
                "restore of {system} in {ns}/{plan} from {} requested{} (token {token}); its dependencies are left alone",
                from_step
                    .as_deref()
                    .map_or("its first step".to_string(), |s| format!("step {s}")),
                if force {
                    ", steps not repeatable included"
                } else {
                    ""
                }
            );
            Ok(())
        }),
        Some(Command::Confirm {
            target,
            system,
            step,
            comment,
            reject,
        }) => with_plan(&target, |client, ns, plan| async move {
            let decision = if reject {
                Decision::Reject
            } else {
                Decision::Approve
            };
            let name = approve::confirm_step(client, &ns, &plan, &system, &step, decision, comment)
                .await?;
            println!(
                "{} of step {step} of {system} in {ns}/{plan} recorded as Approval {name}",
                if reject { "rejection" } else { "confirmation" }
            );
            Ok(())
        }),
        Some(Command::Handback {
            target,
            system,
            item,
            comment,
        }) => with_plan(&target, |client, ns, plan| async move {
            let (item, token) =
                control::handback(client, &ns, &plan, &system, &item, comment.as_deref()).await?;
            println!(
                "hand-back of {system} in {ns}/{plan}: {item:?} recorded as done by you (Intervention {token})"
            );
            Ok(())
        }),
        Some(Command::Notice {
            target,
            system,
            stage,
            format,
            output,
        }) => with_plan(&target, |client, ns, plan| async move {
            notice::notice_cmd(
                client,
                &ns,
                &plan,
                &system,
                stage.as_deref(),
                format,
                output,
            )
            .await
        }),
        Some(Command::Approve(args)) => {
            connect::set_dry_run(args.dry_run);
            approve::decide_cmd(args, Decision::Approve)
        }
        Some(Command::Reject(args)) => {
            connect::set_dry_run(args.dry_run);
            approve::decide_cmd(args, Decision::Reject)
        }
        Some(Command::Pause { target }) => with_plan(&target, |client, ns, plan| async move {
            control::pause(client, &ns, &plan).await?;
            println!("{ns}/{plan} paused: nothing new starts; what is running finishes");
            Ok(())
        }),
        Some(Command::Resume { target }) => with_plan(&target, |client, ns, plan| async move {
            control::resume(client, &ns, &plan).await?;
            println!("{ns}/{plan} resumed");
            Ok(())
        }),
        Some(Command::Abort { target }) => with_plan(&target, |client, ns, plan| async move {
            control::abort(client, &ns, &plan).await?;
            println!("{ns}/{plan} aborted: unfinished systems are Cancelled");
            Ok(())
        }),
        Some(Command::Report(args)) => report::report_cmd(args),
        Some(Command::Drill(cmd)) => {
            if let DrillCommand::Run { dry_run, .. } = &cmd {
                connect::set_dry_run(*dry_run);
            }
            drill::drill_cmd(cmd)
        }
        Some(Command::Evidence(cmd)) => evidence::evidence_cmd(cmd),
        Some(Command::Version(args)) => version::version_cmd(args),
        Some(Command::List(args)) => list::plans_cmd(args),
        Some(Command::Logs(args)) => logs::logs_cmd(args),
        Some(Command::Completion { shell }) => {
            use clap::CommandFactory;
            use std::io::Write as _;
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "lifeline", &mut script);
            match std::io::stdout().lock().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(anyhow::Error::new(e).context("write the completion script"))
                }
                _ => Ok(()),
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// Runs `f` with a client, the plan's namespace (the flag, or the kubeconfig context's)
/// and its name.
pub(crate) fn with_plan<F, Fut>(target: &PlanTarget, f: F) -> anyhow::Result<()>
where
    F: FnOnce(kube::Client, String, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let plan = target.plan.clone();
    let namespace = target.namespace.clone();
    runtime()?.block_on(async move {
        let client = connect::client().await?;
        let ns = namespace.unwrap_or_else(|| client.default_namespace().to_string());
        match f(client.clone(), ns.clone(), plan.clone()).await {
            Err(e) if is_plan_not_found(&e) => {
                let hint = plan_not_found_hint(&client, &ns, &plan).await;
                Err(anyhow::anyhow!("{}; {hint}", connect::one_line(&e)))
            }
            other => other,
        }
    })
}

fn is_plan_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<error::CtlError>(),
            Some(error::CtlError::PlanNotFound { .. })
        )
    })
}

/// What to say when a plan is not found: that its namespace does not exist, or the plans
/// there, the nearest one first ("did you mean ...?").
async fn plan_not_found_hint(client: &kube::Client, ns: &str, plan: &str) -> String {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::{Api, api::ListParams};
    if let Err(kube::Error::Api(s)) = Api::<Namespace>::all(client.clone()).get(ns).await
        && s.code == 404
    {
        return format!("namespace {ns} does not exist (give the plan's with -n)");
    }
    let Ok(list) = Api::<crate::api::v1alpha1::RecoveryPlan>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default())
        .await
    else {
        return format!("recoveryplan {ns}/{plan} not found");
    };
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    if names.is_empty() {
        return format!("namespace {ns} has no RecoveryPlans");
    }
    let nearest = names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(n, plan), n))
        .filter(|(d, n)| *d <= (n.len() / 3).clamp(1, 4))
        .min()
        .map(|(_, n)| n.clone());
    match nearest {
        Some(n) => format!(
            "did you mean {n}? (RecoveryPlans in {ns}: {})",
            names.join(", ")
        ),
        None => format!("RecoveryPlans in {ns}: {}", names.join(", ")),
    }
}
