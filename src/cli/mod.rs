//! The `lifeline` command line.

pub mod approve;
pub mod drill;
pub mod manifest;
pub mod status;

use std::{
    fmt::Write as _,
    io::{IsTerminal, Write as _},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::json;

use crate::{
    api::v1alpha1::{RecoveryDrill, SystemPhase, format_duration},
    engine::{self, PlanModel},
    report::{self, gantt},
    sim,
};

/// lifeline: restore clinical systems in dependency order, verify them, release them
/// to staff stage by stage, and rehearse it in drills.
#[derive(Debug, Parser)]
#[command(name = "lifeline", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every lifeline CustomResourceDefinition as YAML (what manifests/crds.yaml holds).
    Crd,
    /// Validate ClinicalSystems and a RecoveryPlan from files, and print the restore order.
    Plan(PlanArgs),
    /// Run a plan against an in-memory cluster in virtual time: a tabletop exercise.
    Simulate(SimulateArgs),
    /// Run the operator: restore, verify and record the systems of every RecoveryPlan.
    Run(RunArgs),
    /// Show a plan's progress: each system's phase, step, time against its objective and checks.
    Status(StatusArgs),
    /// Retry a failed system from its failed step (the operator carries it out).
    Retry {
        #[command(flatten)]
        target: PlanTarget,
        /// The failed system ("name" or "namespace/name").
        system: String,
    },
    /// Approve a release stage as yourself, after seeing what was tested.
    Approve(DecideArgs),
    /// Reject a release stage as yourself: the stage halts with your reason.
    Reject(DecideArgs),
    /// Pause a plan: nothing new starts; what is running finishes.
    Pause {
        #[command(flatten)]
        target: PlanTarget,
    },
    /// Resume a paused plan.
    Resume {
        #[command(flatten)]
        target: PlanTarget,
    },
    /// Abort a plan: nothing new starts and every unfinished system is Cancelled.
    Abort {
        #[command(flatten)]
        target: PlanTarget,
    },
    /// Write a drill's report: what was broken, how long each system took against its
    /// objective, who approved the release, and what needs fixing.
    Report(ReportArgs),
    /// Chaos drills in staging: start a run, see its status.
    #[command(subcommand)]
    Drill(DrillCommand),
}

/// A RecoveryPlan on the cluster.
#[derive(Debug, clap::Args)]
pub struct PlanTarget {
    /// The RecoveryPlan's name.
    plan: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

/// `lifeline drill ...`.
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Start a run of a drill now (the operator injects its faults, recovers, measures and
    /// reverts).
    Run {
        #[command(flatten)]
        target: DrillTarget,
        /// Wait for the run to finish and print its status.
        #[arg(long)]
        wait: bool,
        /// With --wait, how long to wait (e.g. 30m, 2h).
        #[arg(long, default_value = "2h", value_parser = parse_cli_duration)]
        timeout: std::time::Duration,
    },
    /// Show a drill: its phase, the current or last run (faults with proof, each system's
    /// recovery against its objective, approvals) and its history.
    Status {
        #[command(flatten)]
        target: DrillTarget,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: DrillOutput,
    },
}

/// How `lifeline drill status` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DrillOutput {
    /// For people.
    Table,
    /// The drill object as JSON.
    Json,
}

/// A drill on the command line.
#[derive(Debug, clap::Args)]
pub struct DrillTarget {
    /// The RecoveryDrill's name.
    drill: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

fn parse_cli_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::api::v1alpha1::parse_duration(s).map_err(|e| e.to_string())
}

/// `lifeline approve` and `lifeline reject`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    target: PlanTarget,
    /// The release stage.
    #[arg(long)]
    stage: String,
    /// Why (required to reject).
    #[arg(long)]
    comment: Option<String>,
    /// A checklist item you acknowledge, verbatim. Repeat for each.
    #[arg(long = "ack", value_name = "ITEM")]
    acks: Vec<String>,
    /// Record without asking for confirmation.
    #[arg(short, long)]
    yes: bool,
}

/// `lifeline status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: PlanTarget,
    /// Keep showing the plan as it changes, until it finishes.
    #[arg(short, long)]
    watch: bool,
    /// With --watch, also stop when the plan awaits approval.
    #[arg(long, requires = "watch")]
    until_settled: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = status::StatusOutput::Table)]
    output: status::StatusOutput,
}

/// `lifeline report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The RecoveryDrill's name (with --from-file, needed only when the file holds several).
    #[arg(required_unless_present = "from_file")]
    drill: Option<String>,
    /// Its namespace (default: the kubeconfig context's; with --from-file, any).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The report's format (default: html when FILE ends in .html or .htm, else md).
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
    /// Write the report to FILE instead of stdout. In Markdown, the Gantt chart is also
    /// written beside it as SVG (report.md: report.svg) and linked from the report.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Read the drill from a YAML or JSON file (e.g. `kubectl get rdrill NAME -o yaml`)
    /// instead of the cluster.
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
}

/// Formats for `lifeline report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown, for engineers and wikis.
    #[value(alias = "markdown")]
    Md,
    /// One self-contained HTML page (inline style and chart, no scripts), for the board.
    Html,
}

/// `lifeline run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where to serve /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIFELINE_METRICS_ADDR")]
    metrics_addr: std::net::SocketAddr,
    /// Elect a leader through a Lease so that only one replica acts.
    #[arg(long, env = "LIFELINE_LEADER_ELECT")]
    leader_elect: bool,
    /// The namespace of the leader Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "lifeline-system")]
    lease_namespace: String,
    /// This replica's identity in the Lease and in Events (default: POD_NAME, or the
    /// host name and process id).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Act only on RecoveryPlans in this namespace (default: every namespace).
    #[arg(long, env = "LIFELINE_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Reach HOST at IP for http and tcp checks instead of through DNS, like curl's
    /// --resolve (for an operator run outside the cluster). Repeatable: HOST=IP.
    #[arg(long, value_name = "HOST=IP", value_parser = parse_resolve)]
    resolve: Vec<(String, std::net::IpAddr)>,
    /// POST a JSON notification here when a stage awaits approval, a system fails or is
    /// blocked, or a plan finishes. Never blocks a reconcile; retried with backoff.
    #[arg(long, env = "LIFELINE_NOTIFY_URL", value_name = "URL")]
    notify_url: Option<reqwest::Url>,
    /// Attempts per notification before it is given up (backoff 1 s, doubling).
    #[arg(long, default_value_t = 6, env = "LIFELINE_NOTIFY_ATTEMPTS")]
    notify_attempts: u32,
}

fn parse_resolve(s: &str) -> Result<(String, std::net::IpAddr), String> {
    let (host, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not HOST=IP"))?;
    let ip = ip
        .parse()
        .map_err(|e| format!("'{ip}' is not an IP address: {e}"))?;
    if host.is_empty() {
        return Err(format!("'{s}' has no host name"));
    }
    Ok((host.to_string(), ip))
}

/// Where the objects come from.
#[derive(Debug, clap::Args)]
pub struct Source {
    /// Files or directories of YAML (multi-document files are fine; non-lifeline objects
    /// are skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The RecoveryPlan to use when the files hold several ("name" or "namespace/name").
    /// Without a plan in the files, every ClinicalSystem is planned.
    #[arg(long)]
    pub plan: Option<String>,
    /// Namespace for objects that do not name one.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
}

/// `lifeline plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    source: Source,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PlanOutput::Text)]
    output: PlanOutput,
}

/// Formats for `lifeline plan`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanOutput {
    /// Waves and the critical path, for people.
    Text,
    /// `{"waves": [[...]], "criticalPath": {"systems": [...], "seconds": N}}`.
    Json,
    /// Graphviz.
    Dot,
    /// A Mermaid flowchart (renders in GitHub and GitLab).
    Mermaid,
}

/// `lifeline simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    source: Source,
    /// Override the plan's parallelism (0: unlimited).
    #[arg(long)]
    parallelism: Option<u32>,
    /// Make this system's restore fail ("namespace/name", or "name" in the plan's namespace).
    #[arg(long, value_name = "SYSTEM")]
    fail: Vec<String>,
    /// Seed for --jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Vary each system's duration by up to this many percent either way.
    #[arg(long, value_name = "PCT", default_value_t = 0.0)]
    jitter: f64,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = SimOutput::Text)]
    output: SimOutput,
    /// Write an SVG Gantt chart of the run to this file.
    #[arg(long, value_name = "FILE.svg")]
    gantt: Option<PathBuf>,
}

/// Formats for `lifeline simulate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimOutput {
    /// A timeline and a summary, for people.
    Text,
    /// `{"finishedAt": S, "systems": [{"name", "phase", "startedAt", "verifiedAt"}]}`.
    Json,
}

/// The whole program: parse arguments as `bin_name`, set up logging, run, and turn an
/// error into a message and a non-zero exit.
pub fn main(bin_name: &'static str) -> std::process::ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().bin_name(bin_name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    crate::telemetry::init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
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
            print!("{}", crds_yaml()?);
            Ok(())
        }
        Some(Command::Plan(args)) => plan_cmd(args),
        Some(Command::Simulate(args)) => simulate_cmd(args),
        Some(Command::Run(args)) => run_cmd(args),
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
        Some(Command::Retry { target, system }) => {
            with_plan(&target, |client, ns, plan| async move {
                let token = status::retry(client, &ns, &plan, &system).await?;
                println!("retry of {system} in {ns}/{plan} requested (token {token})");
                Ok(())
            })
        }
        Some(Command::Approve(args)) => decide_cmd(args, crate::api::v1alpha1::Decision::Approve),
        Some(Command::Reject(args)) => decide_cmd(args, crate::api::v1alpha1::Decision::Reject),
        Some(Command::Pause { target }) => with_plan(&target, |client, ns, plan| async move {
            status::pause(client, &ns, &plan).await?;
            println!("{ns}/{plan} paused: nothing new starts; what is running finishes");
            Ok(())
        }),
        Some(Command::Resume { target }) => with_plan(&target, |client, ns, plan| async move {
            status::resume(client, &ns, &plan).await?;
            println!("{ns}/{plan} resumed");
            Ok(())
        }),
        Some(Command::Abort { target }) => with_plan(&target, |client, ns, plan| async move {
            status::abort(client, &ns, &plan).await?;
            println!("{ns}/{plan} aborted: unfinished systems are Cancelled");
            Ok(())
        }),
        Some(Command::Report(args)) => report_cmd(args),
        Some(Command::Drill(cmd)) => drill_cmd(cmd),
    }
}

fn drill_cmd(cmd: DrillCommand) -> anyhow::Result<()> {
    let target = match &cmd {
        DrillCommand::Run { target, .. } | DrillCommand::Status { target, .. } => PlanTarget {
            plan: target.drill.clone(),
            namespace: target.namespace.clone(),
        },
    };
    with_plan(&target, |client, ns, drill| async move {
        match cmd {
            DrillCommand::Run { wait, timeout, .. } => {
                let token = drill::request_run(client.clone(), &ns, &drill).await?;
                println!("run of drill {ns}/{drill} requested ({token})");
                if wait {
                    let done = drill::wait_run(client, &ns, &drill, &token, timeout).await?;
                    print!("{}", drill::render(&done));
                }
            }
            DrillCommand::Status { output, .. } => {
                let d = drill::fetch(client, &ns, &drill).await?;
                match output {
                    DrillOutput::Table => print!("{}", drill::render(&d)),
                    DrillOutput::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&d).context("encode the drill")?
                    ),
                }
            }
        }
        Ok(())
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// Runs `f` with a client, the plan's namespace (the flag, or the kubeconfig context's)
/// and its name.
fn with_plan<F, Fut>(target: &PlanTarget, f: F) -> anyhow::Result<()>
where
    F: FnOnce(kube::Client, String, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let plan = target.plan.clone();
    let namespace = target.namespace.clone();
    runtime()?.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("connect to the Kubernetes API (KUBECONFIG or in-cluster config)")?;
        let ns = namespace.unwrap_or_else(|| client.default_namespace().to_string());
        f(client, ns, plan).await
    })
}

fn report_cmd(args: ReportArgs) -> anyhow::Result<()> {
    let drill = match (&args.from_file, &args.drill) {
        (Some(path), name) => drill_from_file(path, name.as_deref(), args.namespace.as_deref())?,
        (None, Some(name)) => {
            let name = name.clone();
            let namespace = args.namespace.clone();
            runtime()?.block_on(async move {
                let client = kube::Client::try_default()
                    .await
                    .context("connect to the Kubernetes API (KUBECONFIG or in-cluster config)")?;
                let ns = namespace.unwrap_or_else(|| client.default_namespace().to_string());
                Ok::<_, anyhow::Error>(drill::fetch(client, &ns, &name).await?)
            })?
        }
        (None, None) => bail!("name the drill: lifeline report DRILL, or --from-file FILE"),
    };
    let format = args.format.unwrap_or_else(|| {
        let ext = args
            .output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html" | "htm") => ReportFormat::Html,
            _ => ReportFormat::Md,
        }
    });
    let Some(path) = &args.output else {
        let text = match format {
            ReportFormat::Md => report::drill::markdown(&drill),
            ReportFormat::Html => report::drill::html(&drill),
        };
        return std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("write the report to stdout");
    };
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
    };
    match format {
        ReportFormat::Html => {
            write(path, &report::drill::html(&drill))?;
            println!("drill report written to {}", path.display());
        }
        ReportFormat::Md => {
            let svg_path = svg_beside(path);
            let chart =
                report::drill::gantt_svg(&drill).zip(svg_path.file_name().and_then(|n| n.to_str()));
            match chart {
                Some((svg, file)) => {
                    let text = report::drill::markdown_linking(
                        &drill,
                        report::drill::ChartLink::File(file),
                    );
                    write(&svg_path, &svg)?;
                    write(path, &text)?;
                    println!(
                        "drill report written to {}, its Gantt chart to {}",
                        path.display(),
                        svg_path.display()
                    );
                }
                None => {
                    write(path, &report::drill::markdown(&drill))?;
                    println!("drill report written to {}", path.display());
                }
            }
        }
    }
    Ok(())
}

/// Where the Markdown report at `path` keeps its Gantt chart: the same name with `.svg`
/// (`report.md`: `report.svg`), or `.gantt.svg` when the report itself ends in `.svg`.
fn svg_beside(path: &Path) -> PathBuf {
    let svg = path.with_extension("svg");
    if svg == path {
        path.with_extension("gantt.svg")
    } else {
        svg
    }
}

/// Reads a RecoveryDrill from a YAML or JSON file: one object, several YAML documents, or
/// a `kind: List` (what `kubectl get -o yaml` prints). Other objects are skipped. With
/// several drills, `name` (and `namespace`) choose one. Errors name the file, the
/// document, the drill and the field.
fn drill_from_file(
    path: &Path,
    name: Option<&str>,
    namespace: Option<&str>,
) -> anyhow::Result<RecoveryDrill> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut drills = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let origin = format!("{} (document {})", path.display(), i + 1);
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| anyhow!("{origin}: not valid YAML or JSON: {e}"))?;
        let field = |v: &serde_yaml::Value, key: &str| {
            v.get(key)
                .and_then(serde_yaml::Value::as_str)
                .map(str::to_string)
        };
        let items = if field(&value, "kind").as_deref() == Some("List") {
            value
                .get("items")
                .and_then(serde_yaml::Value::as_sequence)
                .cloned()
                .unwrap_or_default()
        } else {
            vec![value]
        };
        for item in items {
            if field(&item, "kind").as_deref() != Some("RecoveryDrill")
                || field(&item, "apiVersion").as_deref() != Some("lifeline.dev/v1alpha1")
            {
                continue;
            }
            let meta = item.get("metadata");
            let key = format!(
                "{}/{}",
                meta.and_then(|m| field(m, "namespace"))
                    .unwrap_or_else(|| "default".to_string()),
                meta.and_then(|m| field(m, "name"))
                    .unwrap_or_else(|| "(unnamed)".to_string()),
            );
            let drill: RecoveryDrill = serde_path_to_error::deserialize(item).map_err(|e| {
                let at = e.path().to_string();
                anyhow!("{origin}: RecoveryDrill {key}: {at}: {}", e.into_inner())
            })?;
            drills.push(drill);
        }
    }
    let key = |d: &RecoveryDrill| {
        format!(
            "{}/{}",
            d.metadata.namespace.as_deref().unwrap_or("default"),
            d.metadata.name.as_deref().unwrap_or("(unnamed)")
        )
    };
    let all: Vec<String> = drills.iter().map(key).collect();
    drills.retain(|d| {
        name.is_none_or(|n| d.metadata.name.as_deref() == Some(n))
            && namespace.is_none_or(|ns| d.metadata.namespace.as_deref().unwrap_or("default") == ns)
    });
    let wanted = match (namespace, name) {
        (Some(ns), Some(n)) => format!(" {ns}/{n}"),
        (None, Some(n)) => format!(" {n}"),
        (Some(ns), None) => format!(" in namespace {ns}"),
        (None, None) => String::new(),
    };
    match (drills.pop(), drills.is_empty()) {
        (Some(drill), true) => Ok(drill),
        (None, _) if all.is_empty() => bail!(
            "{}: no RecoveryDrill (lifeline.dev/v1alpha1) in the file",
            path.display()
        ),
        (None, _) => bail!(
            "{}: no RecoveryDrill{wanted} in the file (it holds {})",
            path.display(),
            all.join(", ")
        ),
        (Some(last), false) => {
            drills.push(last);
            bail!(
                "{}: {} RecoveryDrills{wanted}; name one: {}",
                path.display(),
                drills.len(),
                drills.iter().map(key).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

fn decide_cmd(args: DecideArgs, decision: crate::api::v1alpha1::Decision) -> anyhow::Result<()> {
    let DecideArgs {
        target,
        stage,
        comment,
        acks,
        yes,
    } = args;
    with_plan(&target, |client, ns, plan| async move {
        let stage_name = stage.clone();
        let name = approve::decide(
            client,
            &ns,
            &plan,
            &stage,
            decision,
            comment,
            acks,
            |summary, me| approve::ask(summary, me, decision, &stage_name, yes),
        )
        .await?;
        println!("{decision} of stage {stage} of {ns}/{plan} recorded as Approval {name}");
        Ok(())
    })
}

fn run_cmd(args: RunArgs) -> anyhow::Result<()> {
    let identity = args.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "lifeline".to_string());
        format!("{host}-{}", std::process::id())
    });
    runtime()?.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("connect to the Kubernetes API (KUBECONFIG or in-cluster config)")?;
        crate::controller::run(
            client,
            crate::controller::RunOptions {
                metrics_addr: args.metrics_addr,
                leader_election: args.leader_elect,
                lease_namespace: args.lease_namespace,
                identity,
                namespace: args.namespace,
                resolve: args.resolve,
                notify: args
                    .notify_url
                    .map(|url| crate::controller::notify::NotifyOptions {
                        attempts: args.notify_attempts.max(1),
                        ..crate::controller::notify::NotifyOptions::new(url)
                    }),
            },
        )
        .await
    })
}

/// Every CRD as a multi-document YAML stream: exactly what `manifests/crds.yaml` holds.
pub fn crds_yaml() -> anyhow::Result<String> {
    let mut out = String::new();
    for crd in crate::api::v1alpha1::crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd).context("serialize CRD")?);
    }
    Ok(out)
}

/// Loads the files and plans them; errors name the file, object and problem.
fn load_model(
    source: &Source,
    parallelism: Option<u32>,
) -> anyhow::Result<(Option<String>, PlanModel)> {
    let bundle = manifest::load(&source.paths, &source.namespace)?;
    let selection = bundle
        .select(source.plan.as_deref())
        .map_err(anyhow::Error::msg)?;
    let mut settings = selection.settings;
    if let Some(p) = parallelism {
        settings.parallelism = (p > 0).then_some(p);
    }
    let model = engine::plan(&selection.all, &selection.selected, settings)?;
    Ok((selection.plan, model))
}

fn plan_cmd(args: PlanArgs) -> anyhow::Result<()> {
    let (plan, model) = load_model(&args.source, None)?;
    let out = match args.output {
        PlanOutput::Text => plan_text(plan.as_deref(), &model),
        PlanOutput::Json => {
            let v = json!({
                "waves": model.waves.iter().map(|w| w.iter().map(|&i| &model.systems[i].key).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "criticalPath": {
                    "systems": model.critical_path.systems.iter().map(|&i| &model.systems[i].key).collect::<Vec<_>>(),
                    "seconds": model.critical_path.duration.as_secs(),
                }
            });
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        PlanOutput::Dot => plan_dot(&model),
        PlanOutput::Mermaid => plan_mermaid(&model),
    };
    print!("{out}");
    Ok(())
}

fn plan_text(plan: Option<&str>, model: &PlanModel) -> String {
    let mut out = String::new();
    let n = model.systems.len();
    let _ = writeln!(
        out,
        "Restore order for {}: {n} system{}, {} wave{}",
        plan.map_or("every ClinicalSystem found".to_string(), |p| format!(
            "plan {p}"
        )),
        if n == 1 { "" } else { "s" },
        model.waves.len(),
        if model.waves.len() == 1 { "" } else { "s" },
    );
    let width = model.systems.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for (w, wave) in model.waves.iter().enumerate() {
        let _ = writeln!(out, "\nWave {}", w + 1);
        for &i in wave {
            let s = &model.systems[i];
            let deps: Vec<&str> = s
                .hard_deps
                .iter()
                .map(|&d| model.systems[d].key.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {:<width$}  {:<16}  expected {:<7} objective {:<7}{}",
                s.key,
                s.tier.as_str(),
                format_duration(s.planned_duration()),
                format_duration(s.objective),
                if deps.is_empty() {
                    String::new()
                } else {
                    format!("  after {}", deps.join(", "))
                },
            );
        }
    }
    let cp = &model.critical_path;
    let _ = writeln!(
        out,
        "\nCritical path ({}): {}",
        format_duration(cp.duration),
        cp.systems
            .iter()
            .map(|&i| model.systems[i].key.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let late: Vec<&str> = model
        .systems
        .iter()
        .filter(|s| earliest_finish(model, s) > s.objective)
        .map(|s| s.key.as_str())
        .collect();
    if !late.is_empty() {
        let _ = writeln!(
            out,
            "Cannot meet their objective even with unlimited parallelism: {}",
            late.join(", ")
        );
    }
    out
}

/// The earliest a system can be verified, with unlimited parallelism.
fn earliest_finish(model: &PlanModel, s: &engine::SystemModel) -> Duration {
    // Systems are in restore order, so a memo over indices in order works; this helper
    // is only used for small outputs, so recompute recursively with a cache.
    fn go(model: &PlanModel, i: usize, memo: &mut Vec<Option<Duration>>) -> Duration {
        if let Some(d) = memo[i] {
            return d;
        }
        let start = model.systems[i]
            .hard_deps
            .iter()
            .map(|&d| go(model, d, memo))
            .max()
            .unwrap_or(Duration::ZERO);
        let d = start + model.systems[i].planned_duration();
        memo[i] = Some(d);
        d
    }
    let mut memo = vec![None; model.systems.len()];
    model
        .find(&s.key)
        .map_or(Duration::ZERO, |i| go(model, i, &mut memo))
}

fn graph_id(i: usize) -> String {
    format!("s{i}")
}

fn plan_dot(model: &PlanModel) -> String {
    let mut out =
        String::from("digraph recovery {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (i, s) in model.systems.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{} | {}\"];",
            graph_id(i),
            s.key.replace('"', "\\\""),
            s.tier.as_str(),
            format_duration(s.planned_duration())
        );
    }
    for (i, s) in model.systems.iter().enumerate() {
        for &d in &s.hard_deps {
            let _ = writeln!(out, "  {} -> {};", graph_id(d), graph_id(i));
        }
        for &d in &s.optional_deps {
            let _ = writeln!(out, "  {} -> {} [style=dashed];", graph_id(d), graph_id(i));
        }
    }
    out.push_str("}\n");
    out
}

fn plan_mermaid(model: &PlanModel) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, s) in model.systems.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{} · {}\"]",
            graph_id(i),
            s.key.replace('"', "#quot;"),
            s.tier.as_str(),
            format_duration(s.planned_duration())
        );
    }
    for (i, s) in model.systems.iter().enumerate() {
        for &d in &s.hard_deps {
            let _ = writeln!(out, "  {} --> {}", graph_id(d), graph_id(i));
        }
        for &d in &s.optional_deps {
            let _ = writeln!(out, "  {} -.-> {}", graph_id(d), graph_id(i));
        }
    }
    out
}

fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<()> {
    let (plan, model) = load_model(&args.source, args.parallelism)?;
    let plan_ns = plan
        .as_deref()
        .and_then(|p| p.split_once('/'))
        .map_or(args.source.namespace.as_str(), |(ns, _)| ns)
        .to_string();
    let mut fail = Vec::new();
    for f in &args.fail {
        let key = if f.contains('/') {
            f.clone()
        } else {
            format!("{plan_ns}/{f}")
        };
        if model.find(&key).is_none() {
            bail!("--fail {f}: {key} is not in the plan");
        }
        fail.push(key);
    }
    if !(0.0..=100.0).contains(&args.jitter) {
        bail!("--jitter {}: must be between 0 and 100", args.jitter);
    }
    let opts = sim::SimOptions {
        fail,
        seed: args.seed,
        jitter_percent: args.jitter,
    };

    let text = matches!(args.output, SimOutput::Text);
    let live = text && std::io::stderr().is_terminal();
    let total = model.systems.len() as u64;
    let bar = live.then(|| {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} verified  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let width = model.systems.iter().map(|s| s.key.len()).max().unwrap_or(0);
    let mut lines = String::new();
    if text {
        let _ = writeln!(
            lines,
            "Simulating {}: {} systems, parallelism {}, {}",
            plan.as_deref()
                .map_or("every ClinicalSystem found".to_string(), |p| format!(
                    "plan {p}"
                )),
            model.systems.len(),
            model
                .settings
                .parallelism
                .map_or("unlimited".to_string(), |p| p.to_string()),
            if opts.jitter_percent > 0.0 {
                format!("jitter ±{}% (seed {})", opts.jitter_percent, opts.seed)
            } else {
                "exact expected times".to_string()
            }
        );
        let _ = writeln!(
            lines,
            "(virtual time; approvals assumed given as soon as each stage is due)\n"
        );
    }
    if let Some(pb) = &bar {
        pb.println(lines.trim_end());
        lines.clear();
    }
    let report = sim::simulate(&model, &opts, |ev, status| {
        if !text {
            return;
        }
        let line = format!(
            "  +{:<8} {:<width$}  {}",
            format_duration(Duration::from_millis((ev.at * 1000.0) as u64)),
            ev.system,
            ev.text
        );
        match &bar {
            Some(pb) => {
                pb.println(line);
                let verified = status
                    .systems
                    .iter()
                    .filter(|s| s.phase.is_verified())
                    .count();
                pb.set_position(verified as u64);
            }
            None => {
                lines.push_str(&line);
                lines.push('\n');
            }
        }
    });
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }

    if let Some(path) = &args.gantt {
        let chart = gantt_of(plan.as_deref(), &report);
        std::fs::write(path, chart.to_svg())
            .with_context(|| format!("write Gantt chart to {}", path.display()))?;
    }

    match args.output {
        SimOutput::Json => {
            let v = json!({
                "finishedAt": report.finished_at,
                "systems": report.systems.iter().map(|s| json!({
                    "name": s.name,
                    "phase": s.phase,
                    "startedAt": s.started_at,
                    "verifiedAt": s.verified_at,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SimOutput::Text => {
            print!("{lines}");
            print!("{}", summary_text(&report));
            if let Some(path) = &args.gantt {
                println!("\nGantt chart written to {}", path.display());
            }
        }
    }
    Ok(())
}

/// The summary table after a simulated run.
pub fn summary_text(report: &sim::SimReport) -> String {
    let mut out = String::new();
    let count = |p: fn(SystemPhase) -> bool| report.systems.iter().filter(|s| p(s.phase)).count();
    let verified = count(SystemPhase::is_verified);
    let failed = count(|p| p == SystemPhase::Failed);
    let blocked = count(|p| p == SystemPhase::Blocked);
    let met = report
        .systems
        .iter()
        .filter(|s| s.objective_met == Some(true))
        .count();
    let missed = report
        .systems
        .iter()
        .filter(|s| s.objective_met == Some(false))
        .count();
    let _ = writeln!(
        out,
        "\nFinished after {}: {verified} of {} verified, {failed} failed, {blocked} blocked; {met} met their recovery-time objective, {missed} missed it.\n",
        format_duration(Duration::from_millis((report.finished_at * 1000.0) as u64)),
        report.systems.len()
    );
    let width = report
        .systems
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<16}  {:<9}  {:<9}  {:<9}  RESULT",
        "SYSTEM", "TIER", "PHASE", "VERIFIED", "OBJECTIVE"
    );
    for s in &report.systems {
        let verified = s
            .verified_at
            .map(|v| format_duration(Duration::from_millis((v * 1000.0) as u64)))
            .unwrap_or_else(|| "-".to_string());
        let result = match (s.objective_met, s.phase) {
            (Some(true), _) => "met".to_string(),
            (Some(false), _) => "MISSED".to_string(),
            (None, _) => s.message.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<16}  {:<9}  {:<9}  {:<9}  {}",
            s.name,
            s.tier.as_str(),
            s.phase.to_string(),
            verified,
            format_duration(Duration::from_secs_f64(s.objective.max(0.0))),
            result
        );
    }
    out
}

/// The Gantt chart of a simulated run.
pub fn gantt_of(plan: Option<&str>, report: &sim::SimReport) -> gantt::GanttChart {
    gantt::GanttChart {
        title: format!(
            "Simulated recovery: {}",
            plan.unwrap_or("every ClinicalSystem found")
        ),
        finished_at: report.finished_at,
        rows: report
            .systems
            .iter()
            .map(|s| gantt::GanttRow {
                name: s.name.clone(),
                label: s.display_name.clone(),
                tier: s.tier,
                start: s.started_at,
                verified: s.verified_at,
                end: s.failed_at,
                objective: s.objective,
                outcome: match s.phase {
                    SystemPhase::Verified | SystemPhase::Released => gantt::Outcome::Verified,
                    SystemPhase::Failed => gantt::Outcome::Failed,
                    SystemPhase::Blocked => gantt::Outcome::Blocked,
                    _ => gantt::Outcome::NotFinished,
                },
            })
            .collect(),
    }
}
