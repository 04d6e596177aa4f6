//! The command line's arguments: [`Cli`], its [`Command`]s and their options, as clap
//! parses them. What each command does lives in its own module beside this one.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::status::StatusOutput;

/// lifeline: restore clinical systems in dependency order, verify them, release them
/// to staff stage by stage, and rehearse it in drills.
#[derive(Debug, Parser)]
#[command(name = "lifeline", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The kubeconfig to use (default: KUBECONFIG, else ~/.kube/config, else the pod's
    /// service account).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every lifeline CustomResourceDefinition as YAML (what manifests/crds/crds.yaml holds).
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
        /// The failed system ("name", or "namespace/name" where systems of two namespaces share the name).
        system: String,
        /// Send the request with the API server's dry run: show what would be recorded,
        /// store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Restore a verified system again from a step, then verify it, leaving its
    /// dependencies alone (the operator carries it out).
    Restore {
        #[command(flatten)]
        target: PlanTarget,
        /// The system ("name", or "namespace/name" where systems of two namespaces share the name).
        system: String,
        /// The restore step to start from (default: the first).
        #[arg(long, value_name = "STEP")]
        from_step: Option<String>,
        /// Also run steps marked `repeatable: false` (a restore from backup).
        #[arg(long)]
        force: bool,
    },
    /// Confirm a manual restore step as yourself (or reject it with --reject).
    Confirm {
        #[command(flatten)]
        target: PlanTarget,
        /// The system ("name", or "namespace/name" where systems of two namespaces share the name).
        system: String,
        /// The manual step.
        step: String,
        /// Why, for the record (required with --reject).
        #[arg(long)]
        comment: Option<String>,
        /// Reject the step: it fails with your reason.
        #[arg(long)]
        reject: bool,
    },
    /// Approve a release stage as yourself, after seeing what was tested.
    Approve(DecideArgs),
    /// Reject a release stage for systems waiting there, as yourself, with a reason.
    ///
    /// Each system named with --system (without it, each one waiting at the stage) stays
    /// where it is, held by your reason, while the others go on, until the stage's quorum
    /// approves it again in decisions made after yours.
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
    /// Record, as yourself, that a hand-back item of a released system is done (e.g.
    /// "back-enter paper results since the restore point").
    Handback {
        #[command(flatten)]
        target: PlanTarget,
        /// The released system ("name" or "namespace/name").
        system: String,
        /// The item: its number from 1 (as `lifeline notice` lists them), its words, or
        /// the start of them.
        #[arg(long)]
        item: String,
        /// What was done, for the record.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Print a released system's release notice: to whom it is released, what was
    /// tested, the data-loss window and what staff must do (hand-back).
    Notice {
        #[command(flatten)]
        target: PlanTarget,
        /// The released system ("name" or "namespace/name").
        system: String,
        /// The stage (default: the latest it was released at).
        #[arg(long)]
        stage: Option<String>,
        /// The format (default: html when FILE ends in .html or .htm, md for .md, else
        /// text).
        #[arg(long, value_enum)]
        format: Option<NoticeFormat>,
        /// Write the notice to FILE instead of stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write the report of a drill, or of a recovery from its record (also after the plan
    /// is deleted): each system's time and data loss against its objectives, who
    /// approved what, interventions, hand-back and what needs fixing.
    Report(ReportArgs),
    /// Chaos drills in staging: start a run, see its status.
    #[command(subcommand)]
    Drill(DrillCommand),
    /// The tamper-evident record of a recovery: export it as a bundle, verify a bundle.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Print the client's version and, from the cluster, the API server's and the
    /// operator's.
    Version(VersionArgs),
    /// List the RecoveryPlans of a namespace (or of all, with -A).
    List(ListArgs),
    /// Print the logs of the pod of a Job that a restore step or check of a system ran.
    Logs(LogsArgs),
    /// Print a shell completion script: `source <(lifeline completion bash)`.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// A RecoveryPlan on the cluster.
#[derive(Debug, clap::Args)]
pub struct PlanTarget {
    /// The RecoveryPlan's name.
    pub(super) plan: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub(super) namespace: Option<String>,
}

/// `lifeline evidence ...`.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Write the record of a recovery (its RecoveryRecords, also after the plan is
    /// deleted), or of a drill run (PLAN given as drill/NAME), and a manifest with the
    /// chain's head to FILE as JSON.
    Export {
        #[command(flatten)]
        target: PlanTarget,
        /// Where to write the bundle.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: std::path::PathBuf,
        /// The plan's uid, when several plans of this name were recorded (default: the
        /// plan that exists, else the latest recorded).
        #[arg(long)]
        uid: Option<String>,
        /// With `drill/NAME` for the plan: the drill run whose record to export (its
        /// claims, faults with their proof, revert; default: the latest recorded).
        #[arg(long)]
        run: Option<u32>,
        /// Sign the bundle with this Ed25519 private key (PKCS#8, from `lifeline evidence
        /// keygen`).
        #[arg(long, value_name = "FILE")]
        sign_key: Option<std::path::PathBuf>,
    },
    /// Recompute a bundle's chain and say which entry is the first altered, missing,
    /// reordered or added one. Exits 1 if the bundle does not verify.
    Verify {
        /// The bundle `lifeline evidence export` wrote.
        file: std::path::PathBuf,
        /// Also check the bundle's signature with this Ed25519 public key (hex, as
        /// `lifeline evidence keygen` prints it).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Make an Ed25519 key pair for signing bundles: writes the private key (PKCS#8) to
    /// FILE and prints the public key.
    Keygen {
        /// Where to write the private key.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: std::path::PathBuf,
    },
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
        /// Send the request with the API server's dry run: show what would be recorded,
        /// start nothing.
        #[arg(long, conflicts_with = "wait")]
        dry_run: bool,
    },
    /// List the RecoveryDrills of a namespace (or of all, with -A).
    List(ListArgs),
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
    #[value(alias = "wide")]
    Table,
    /// The drill object as JSON.
    Json,
    /// The drill object as YAML.
    Yaml,
    /// `recoverydrill.lifeline.dev/NAME`.
    Name,
}

/// A drill on the command line.
#[derive(Debug, clap::Args)]
pub struct DrillTarget {
    /// The RecoveryDrill's name.
    pub(super) drill: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub(super) namespace: Option<String>,
}

fn parse_cli_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::api::v1alpha1::parse_duration(s).map_err(|e| e.to_string())
}

/// `lifeline approve` and `lifeline reject`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub(super) target: PlanTarget,
    /// The release stage. Without it, `lifeline approve` lists every stage that verified
    /// systems wait at, and what each waits for.
    #[arg(long)]
    pub(super) stage: Option<String>,
    /// A system the decision covers. Repeat for each. Default: every verified system
    /// waiting at the stage, as shown before you confirm.
    #[arg(long = "system", value_name = "SYSTEM")]
    pub(super) systems: Vec<String>,
    /// Why (required to reject).
    #[arg(long)]
    pub(super) comment: Option<String>,
    /// A checklist item you acknowledge, verbatim. Repeat for each.
    #[arg(long = "ack", value_name = "ITEM")]
    pub(super) acks: Vec<String>,
    /// Record without asking for confirmation.
    #[arg(short, long)]
    pub(super) yes: bool,
    /// Send the decision with the API server's dry run: admission checks it (are you
    /// allowed to approve this?) and it is shown, but nothing is stored.
    #[arg(long)]
    pub(super) dry_run: bool,
}

/// `lifeline status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub(super) target: PlanTarget,
    /// Keep showing the plan as it changes, until it finishes.
    #[arg(short, long)]
    pub(super) watch: bool,
    /// With --watch, also stop when the plan awaits approval.
    #[arg(long, requires = "watch")]
    pub(super) until_settled: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = StatusOutput::Table)]
    pub(super) output: StatusOutput,
}

/// Formats for `lifeline notice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoticeFormat {
    /// Plain text, for a terminal or an e-mail.
    Text,
    /// Markdown.
    #[value(alias = "markdown")]
    Md,
    /// One printable HTML page (inline style, no scripts, nothing fetched).
    Html,
}

/// `lifeline report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// What to report: a RecoveryDrill's name, or a RecoveryPlan's (its recovery record,
    /// also after the plan is deleted); `drill/NAME` or `plan/NAME` says which when both
    /// exist. With --from-file, needed only when the file holds several drills.
    #[arg(required_unless_present = "from_file")]
    pub(super) drill: Option<String>,
    /// For a plan recorded more than once under one name: the uid of the run (default:
    /// the plan that exists, else the latest recorded).
    #[arg(long)]
    pub(super) uid: Option<String>,
    /// Its namespace (default: the kubeconfig context's; with --from-file, any).
    #[arg(short = 'n', long)]
    pub(super) namespace: Option<String>,
    /// The report's format (default: html when FILE ends in .html or .htm, else md).
    #[arg(long, value_enum)]
    pub(super) format: Option<ReportFormat>,
    /// Write the report to FILE instead of stdout. In Markdown, the Gantt chart is also
    /// written beside it as SVG (report.md: report.svg) and linked from the report.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(super) output: Option<PathBuf>,
    /// Read the drill from a YAML or JSON file (e.g. `kubectl get rdrill NAME -o yaml`),
    /// or a recovery from its evidence bundle (`lifeline evidence export`), instead of
    /// the cluster.
    #[arg(long, value_name = "FILE")]
    pub(super) from_file: Option<PathBuf>,
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
    pub(super) metrics_addr: std::net::SocketAddr,
    /// Elect a leader through a Lease so that only one replica acts.
    #[arg(long, env = "LIFELINE_LEADER_ELECT")]
    pub(super) leader_elect: bool,
    /// The namespace of the leader Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "lifeline-system")]
    pub(super) lease_namespace: String,
    /// This replica's identity in the Lease and in Events (default: POD_NAME, or the
    /// host name and process id).
    #[arg(long, env = "POD_NAME")]
    pub(super) identity: Option<String>,
    /// Act only on RecoveryPlans in this namespace (default: every namespace).
    #[arg(long, env = "LIFELINE_WATCH_NAMESPACE")]
    pub(super) namespace: Option<String>,
    /// With --namespace: another namespace whose systems the plans there select
    /// (spec.systems.namespaces), watched too. Repeatable.
    #[arg(long = "also-watch", value_name = "NAMESPACE", requires = "namespace")]
    pub(super) also_watch: Vec<String>,
    /// Reach HOST at IP for http and tcp checks instead of through DNS, like curl's
    /// --resolve (for an operator run outside the cluster). Repeatable: HOST=IP.
    #[arg(long, value_name = "HOST=IP", value_parser = parse_resolve)]
    pub(super) resolve: Vec<(String, std::net::IpAddr)>,
    /// A network `http` and `tcp` checks may reach besides the cluster's Service networks
    /// (read from its ServiceCIDRs): the pod CIDR, or another the administrator allows.
    /// Repeatable. Cluster names (*.svc) are reached only where they resolve into these
    /// networks (a Service name can point anywhere). Link-local and metadata addresses never.
    #[arg(long = "check-network", value_name = "CIDR", value_parser = parse_network)]
    pub(super) check_networks: Vec<ipnet::IpNet>,
    /// POST a JSON notification here when a stage awaits approval, a system fails or is
    /// blocked, or a plan finishes. Never blocks a reconcile; retried with backoff.
    #[arg(long, env = "LIFELINE_NOTIFY_URL", value_name = "URL")]
    pub(super) notify_url: Option<reqwest::Url>,
    /// Attempts per notification before it is given up (backoff 1 s, doubling).
    #[arg(long, default_value_t = 6, env = "LIFELINE_NOTIFY_ATTEMPTS")]
    pub(super) notify_attempts: u32,
    /// How long each recovery's record (its RecoveryRecords) is kept after the plan was
    /// created, e.g. 9600h (400 days, the default).
    #[arg(long, value_name = "DURATION", default_value = "9600h", value_parser = parse_retention)]
    pub(super) record_retention: std::time::Duration,
}

fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    crate::api::v1alpha1::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR such as 10.96.0.0/12 or an IP address"))
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
    /// Namespace for objects that do not name one (default: the kubeconfig context's, as
    /// for kubectl apply, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

impl Source {
    /// The namespace for objects that do not name one.
    pub fn namespace(&self) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(super::connect::context_namespace)
    }
}

/// `lifeline plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub(super) source: Source,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PlanOutput::Text)]
    pub(super) output: PlanOutput,
}

/// `lifeline logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub(super) target: PlanTarget,
    /// The system ("name" or "namespace/name").
    pub(super) system: String,
    /// The job step or job check (default: the last one that ran a Job).
    pub(super) step: Option<String>,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub(super) tail: Option<i64>,
}

/// `lifeline list` and `lifeline drill list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    pub(super) namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub(super) all_namespaces: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ListOutput::Table)]
    pub(super) output: ListOutput,
}

/// Formats for the list commands, as `kubectl get -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    /// Columns, for people.
    Table,
    /// More columns.
    Wide,
    /// A `kind: List` of the objects, as JSON.
    Json,
    /// A `kind: List` of the objects, as YAML.
    Yaml,
    /// `kind.group/name`, one per line.
    Name,
}

/// `lifeline version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Only the client's version; do not contact the cluster.
    #[arg(long)]
    pub(super) client: bool,
    /// Where the operator runs.
    #[arg(long, value_name = "NAMESPACE", default_value = "lifeline-system")]
    pub(super) operator_namespace: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = VersionOutput::Text)]
    pub(super) output: VersionOutput,
}

/// Formats for `lifeline version`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VersionOutput {
    /// One line each, for people.
    Text,
    /// `{"client": {"version"}, "server": {"kubernetes", "operator": {"version", "image",
    /// "replicas", "readyReplicas", "leader"}}}`.
    Json,
    /// The same as YAML.
    Yaml,
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
    pub(super) source: Source,
    /// Override the plan's parallelism (0: unlimited).
    #[arg(long)]
    pub(super) parallelism: Option<u32>,
    /// Make this system's restore fail ("namespace/name", or "name" in the plan's namespace).
    #[arg(long, value_name = "SYSTEM")]
    pub(super) fail: Vec<String>,
    /// Seed for --jitter.
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,
    /// Vary each system's duration by up to this many percent either way.
    #[arg(long, value_name = "PCT", default_value_t = 0.0)]
    pub(super) jitter: f64,
    /// How long people take to decide each system at a stage that needs approval, once it
    /// waits there (a stage's `expectedDecisionTime` wins). Default: at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_cli_duration)]
    pub(super) approval_delay: Option<std::time::Duration>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = SimOutput::Text)]
    pub(super) output: SimOutput,
    /// Write an SVG Gantt chart of the run to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub(super) gantt: Option<PathBuf>,
    /// Exit with code 3 when any system would miss its recovery-time objective (a system
    /// that never recovers misses it), for checking playbooks in CI.
    #[arg(long)]
    pub(super) check: bool,
}

/// Formats for `lifeline simulate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimOutput {
    /// A timeline and a summary, for people.
    Text,
    /// `{"plan", "parameters", "finishedAt", "summary", "systems": [{"name", "tier",
    /// "objectiveSeconds", "met", "phase", "startedAt", "verifiedAt", ...}]}`, times in
    /// seconds from the start.
    Json,
}
