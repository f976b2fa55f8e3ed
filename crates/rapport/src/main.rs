//! The `rapport` command. The CLI tree mirrors the modules: `serve`, `demo`, `keys`, `import`, `metrics`, `journeys`, `text`, `churn`, `clv`, `config`,
//! `default-config`. Logs go to stderr; stdout carries only what a command outputs.

mod commands;
mod demo;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{LogFormat, Settings, SettingsLayer};

#[derive(Debug, Parser)]
#[command(name = "rapport", version, about = "Rapport: open-source customer experience management")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (SQLite in ./rapport-data by default).
    Serve(ServeArgs),
    /// Load Evergreen, a demo company (24 months of an online retailer with a membership app),
    /// into the workspace `demo`, replacing it if it exists, and serve it.
    Demo(DemoArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the people who sign in to the dashboard.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The audit log: who read or changed what.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Bring in data kept elsewhere.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write everything in a workspace to a directory: JSONL files and a manifest
    /// (`rapport import workspace` reads it back).
    Export(ExportArgs),
    /// A CX metric with its n, 95% interval and change, as `GET /v1/metrics/{metric}` reports it.
    Metrics(MetricsCommand),
    /// Journeys: definitions, their analytics and the journey map.
    #[command(subcommand)]
    Journeys(JourneysCommand),
    /// Text analytics on stdin: one text per line in, one JSON object per line out, same order.
    #[command(subcommand)]
    Text(TextCommand),
    /// Churn models on any customer table.
    #[command(subcommand)]
    Churn(ChurnCommand),
    /// Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend.
    #[command(subcommand)]
    Clv(ClvCommand),
    /// The keys personal data is sealed with.
    #[command(subcommand)]
    DataKey(DataKeyCommand),
    /// Print the effective settings and where each value came from.
    Config(DatabaseArgs),
    /// Print a commented example config file.
    DefaultConfig,
}

/// Where the data is: shared by every command that opens the database.
#[derive(Debug, Clone, clap::Args)]
struct DatabaseArgs {
    /// TOML config file.
    #[arg(long, env = "RAPPORT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded database [default: ./rapport-data].
    #[arg(long, env = "RAPPORT_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/rapport.db].
    #[arg(long, env = "RAPPORT_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// The keys personal data is sealed with, made on first start [default: <data-dir>/keys.json].
    #[arg(long, env = "RAPPORT_KEYS_FILE", value_name = "FILE")]
    keys_file: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "RAPPORT_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Log format on stderr [default: text].
    #[arg(long, env = "RAPPORT_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Refuse automatic merges that would give one customer more identities than this [default: 50].
    #[arg(long, env = "RAPPORT_MAX_IDENTITIES_PER_CUSTOMER", value_name = "N")]
    max_identities_per_customer: Option<usize>,
    /// SMTP relay for e-mail survey invitations: smtp://HOST:PORT, smtp://HOST:PORT?tls=required
    /// (STARTTLS) or smtps://HOST:PORT [default: none].
    #[arg(long, env = "RAPPORT_SMTP_URL", value_name = "URL")]
    smtp_url: Option<String>,
    /// A CA certificate (PEM) the SMTP relay's certificate may chain to [default: public roots].
    #[arg(long, env = "RAPPORT_SMTP_CA_FILE", value_name = "FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// From address of survey e-mails [default: Rapport <surveys@localhost>].
    #[arg(long, env = "RAPPORT_MAIL_FROM", value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// Messaging provider for SMS and chat survey invitations, an http(s) URL [default: none].
    #[arg(long, env = "RAPPORT_MESSAGING_URL", value_name = "URL")]
    messaging_url: Option<String>,
    /// Base URL customers reach this server at, for links in e-mails [default: http://<listen>].
    #[arg(long, env = "RAPPORT_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Rate limits of public endpoints: true or false [default: true].
    #[arg(long, env = "RAPPORT_RATE_LIMITS", value_name = "BOOL")]
    rate_limits: Option<bool>,
}

#[derive(Debug, Clone, clap::Args)]
struct DemoArgs {
    /// How many customers (1 to 1,000,000).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    customers: u32,
    /// The random seed: the same seed and end make the same company.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The history ends at the start of this day, YYYY-MM-DD (UTC) [default: today].
    #[arg(long, value_parser = parse_date)]
    end: Option<time::Date>,
    /// The workspace to (re)create.
    #[arg(long, default_value = "demo")]
    workspace: String,
    /// Generate and load, print the admin key on stdout, and exit instead of serving.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

fn parse_date(text: &str) -> Result<time::Date, String> {
    time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("`{text}` is not a date like 2026-06-30"))
}

/// What every import takes: the file, the workspace, and what to do with bad rows.
#[derive(Debug, Clone, clap::Args)]
struct ImportFile {
    /// The file: .csv or .jsonl.
    file: PathBuf,
    /// The workspace's name.
    #[arg(long)]
    workspace: String,
    /// Import the rows without problems and report the others, instead of importing nothing.
    #[arg(long)]
    skip_bad_rows: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct ExportArgs {
    /// A new or empty directory.
    directory: PathBuf,
    /// The workspace's name.
    #[arg(long)]
    workspace: String,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// A `rapport export` directory, into a new workspace (here or in another database): settings,
    /// surveys, events (customers resolved again), responses and feedback (analysed again).
    Workspace(ExportArgs),
    /// Feedback: comments, reviews, social mentions, transcripts. CSV (columns id, kind, source,
    /// text, customer, channel, touchpoint, occurred_at, rating, title, url, author, platform,
    /// reach; a transcript is one row per turn with conversation and speaker) or JSONL (one item
    /// per line as `POST /v1/feedback` takes it). Redacted and analysed as the API does; a second
    /// run of the same file adds nothing.
    Feedback(ImportFile),
    /// Events: Segment calls (track, identify, page, screen, group, alias), one JSON object per
    /// line (.jsonl) each naming its `type`, or CSV rows (columns type, name, user_id,
    /// anonymous_id, group_id, previous_id, channel, timestamp, message_id, and properties,
    /// traits, context as JSON); resolved into customers as `/v1/batch` does. A call without
    /// `messageId` gets one from its content, so a second run of the same file adds nothing.
    Events(ImportFile),
    /// Customers, one row per customer (CSV or JSONL: customer as TYPE:VALUE or a user id, optional
    /// timestamp, every other column a trait; email and phone also link those identities), as
    /// identify calls resolved into customers. A second run of the same file adds nothing.
    Customers(ImportFile),
    /// Orders, one row per order (CSV or JSONL: order_id, customer, timestamp, amount, and
    /// optionally currency and channel), as the workspace's order events (`Order Completed`), for
    /// lifetime value and churn features. A second run of the same file adds nothing.
    Orders(ImportFile),
    /// Survey responses, one row per answer (CSV or JSONL: response, customer, submitted_at,
    /// question, value, and optionally dimension, channel, touchpoint, agent). Prints how many
    /// were added; a second run of the same file adds none.
    Responses {
        #[command(flatten)]
        import: ImportFile,
        /// The survey the answers belong to (its id); they are checked against its current version.
        #[arg(long)]
        survey: String,
    },
}

impl ImportCommand {
    /// The file and options of a one-file import (every kind but `workspace`).
    fn file(&self) -> Option<&ImportFile> {
        match self {
            ImportCommand::Feedback(import)
            | ImportCommand::Events(import)
            | ImportCommand::Orders(import)
            | ImportCommand::Customers(import)
            | ImportCommand::Responses { import, .. } => Some(import),
            ImportCommand::Workspace(_) => None,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
struct MetricsCommand {
    /// nps, enps, csat, ces, rating or response_rate.
    metric: String,
    /// The workspace's name.
    #[arg(long)]
    workspace: String,
    /// First day, YYYY-MM-DD (UTC) [default: 364 days before --to].
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC) [default: today].
    #[arg(long)]
    to: Option<String>,
    /// Comma-separated: day|week|month|quarter, survey, question, dimension, touchpoint, channel,
    /// agent, traits.<key>.
    #[arg(long, value_name = "LIST")]
    group_by: Option<String>,
    /// Comma-separated field:value|value (same fields as --group-by).
    #[arg(long, value_name = "LIST")]
    filter: Option<String>,
    /// Flag figures on fewer answers [default: the workspace's setting, 30].
    #[arg(long, value_name = "N")]
    min_n: Option<String>,
    /// CSAT: lowest satisfied score [default: the workspace's setting, 4].
    #[arg(long, value_name = "SCORE")]
    satisfied_from: Option<String>,
    /// The journey (id) whose stages journey_stage groups and filters by.
    #[arg(long, value_name = "ID")]
    journey: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum JourneysCommand {
    /// The workspace's journeys: id, name, touchpoints and goal.
    List {
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Creates a journey from a JSON definition (as `POST /v1/journeys` takes it); prints its id.
    Create {
        /// The definition file.
        file: PathBuf,
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// A journey's analytics, as `GET /v1/journeys/{id}/analytics` reports them.
    Analytics(JourneyAnalyticsCommand),
}

#[derive(Debug, Clone, clap::Args)]
struct JourneyAnalyticsCommand {
    /// The journey's id or name.
    journey: String,
    #[arg(long)]
    workspace: String,
    /// First day, YYYY-MM-DD (UTC) [default: 89 days before --to].
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC) [default: today].
    #[arg(long)]
    to: Option<String>,
    /// all, new, returning, channel:NAME or trait:KEY=VALUE [default: all].
    #[arg(long)]
    segment: Option<String>,
    /// A second segment, shown beside the first with the differences (in --json).
    #[arg(long)]
    compare: Option<String>,
    /// Rank touchpoints with at least N visits [default: the workspace's minimum n, 30].
    #[arg(long, value_name = "N")]
    min_n: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write the journey map (SVG) to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum TextCommand {
    /// Sentiment: {"score": -1..1, "label": "negative"|"neutral"|"positive"} per line.
    Sentiment {
        /// Also each sentence's byte offsets, score and label.
        #[arg(long)]
        sentences: bool,
        /// Scores at or below are negative.
        #[arg(long, default_value_t = -0.05, allow_negative_numbers = true, value_name = "SCORE")]
        negative_below: f64,
        /// Scores at or above are positive.
        #[arg(long, default_value_t = 0.05, value_name = "SCORE")]
        positive_above: f64,
    },
    /// Topics: {"topics": [{"topic", "score", "label", "mentions", "sentences"}]} per line, with
    /// byte offsets, from the default customer-experience taxonomy or --taxonomy.
    Topics {
        /// A taxonomy as JSON: {"topics": [{"id", "name", "parent"?, "query"}]}.
        #[arg(long, value_name = "FILE")]
        taxonomy: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ChurnCommand {
    /// Cross-validate a churn model on a CSV table and print ROC AUC (mean ± sd), PR AUC,
    /// calibration, fit time and the leading factors.
    Evaluate(commands::churn::EvaluateArgs),
}

#[derive(Debug, Subcommand)]
enum ClvCommand {
    /// Fit BG/NBD (and Gamma-Gamma when spend is given) by maximum likelihood; print the
    /// parameters and log-likelihood.
    Fit(commands::clv::FitArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key and print it alone on stdout (the workspace is created if needed).
    Create {
        /// Workspace name: letters, digits, `-`, `_`, `.`.
        #[arg(long)]
        workspace: String,
        /// write: ingest only (safe in a website or app); read: read everything; admin: everything.
        #[arg(long, value_parser = ["write", "read", "admin"])]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user and print the password Rapport made for them alone on stdout, once (the
    /// workspace is created if needed).
    Create {
        #[arg(long)]
        workspace: String,
        /// Their e-mail address: the name they sign in with (unique on this server).
        #[arg(long)]
        email: String,
        /// admin: everything; analyst: read everything, edit surveys and analyses; agent: cases and
        /// the customers they concern; viewer: read.
        #[arg(long, value_parser = ["admin", "analyst", "agent", "viewer"])]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The workspace's users.
    List {
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum DataKeyCommand {
    /// Make a new data key current and re-seal every sealed value under it, then drop the old
    /// key from the keys file. Stop the servers first; start them again afterwards.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the workspace's hash chain: exits 0 and prints the head hash when intact, exits 1
    /// naming the first broken entry otherwise.
    Verify {
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Resolves settings from the command line, the environment and the config file.
fn resolve(database: &DatabaseArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Settings> {
    let file = match &database.config {
        Some(path) => SettingsLayer::load(path)?,
        None => SettingsLayer::default(),
    };
    let cli = SettingsLayer {
        data_dir: database.data_dir.clone(),
        database_url: database.database_url.clone(),
        keys_file: database.keys_file.clone(),
        // Environment only, like the admin key.
        data_keys: std::env::var("RAPPORT_DATA_KEYS").ok().filter(|keys| !keys.trim().is_empty()),
        listen: serve.and_then(|serve| serve.listen.clone()),
        log_format: serve.and_then(|serve| serve.log_format),
        max_identities_per_customer: serve.and_then(|serve| serve.max_identities_per_customer),
        smtp_url: serve.and_then(|serve| serve.smtp_url.clone()),
        smtp_ca_file: serve.and_then(|serve| serve.smtp_ca_file.clone()),
        mail_from: serve.and_then(|serve| serve.mail_from.clone()),
        messaging_url: serve.and_then(|serve| serve.messaging_url.clone()),
        public_url: serve.and_then(|serve| serve.public_url.clone()),
        rate_limits: serve.and_then(|serve| serve.rate_limits),
        // Environment only: a flag would show the secret in `ps`.
        admin_key: std::env::var("RAPPORT_ADMIN_KEY").ok().filter(|key| !key.is_empty()),
    };
    Settings::resolve(cli, file)
}

/// mimalloc instead of the system allocator: ingestion allocates and frees many small JSON values
/// per event, and glibc's malloc was 16% of the server's profile (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let settings = resolve(&args.database, Some(&args))?;
                commands::serve::run(settings, None).await
            }
            Command::Demo(args) => {
                let settings = resolve(&args.serve.database, Some(&args.serve))?;
                let options = commands::demo::DemoOptions {
                    customers: args.customers as usize,
                    seed: args.seed,
                    end: args.end,
                    workspace: args.workspace,
                    serve: !args.no_serve,
                };
                commands::demo::run(settings, options).await
            }
            Command::Keys(KeysCommand::Create { workspace, role, database }) => {
                let settings = resolve(&database, None)?;
                commands::keys::create(settings, &workspace, &role).await
            }
            Command::Users(UsersCommand::Create { workspace, email, role, name, database }) => {
                let settings = resolve(&database, None)?;
                commands::users::create(settings, &workspace, &email, &role, &name).await
            }
            Command::Users(UsersCommand::List { workspace, database }) => {
                commands::users::list(resolve(&database, None)?, &workspace).await
            }
            Command::Audit(AuditCommand::Verify { workspace, database }) => {
                commands::users::verify(resolve(&database, None)?, &workspace).await
            }
            Command::Import(ImportCommand::Workspace(args)) => {
                let settings = resolve(&args.database, None)?;
                commands::import_workspace::run(settings, &args.directory, &args.workspace).await
            }
            Command::Export(args) => {
                let settings = resolve(&args.database, None)?;
                commands::export::run(settings, &args.workspace, &args.directory).await
            }
            Command::Import(command) => {
                let import = command.file().ok_or_else(|| anyhow::anyhow!("not a file import"))?;
                let settings = resolve(&import.database, None)?;
                let args = commands::import::ImportArgs {
                    file: &import.file,
                    workspace: &import.workspace,
                    skip_bad_rows: import.skip_bad_rows,
                };
                match &command {
                    ImportCommand::Feedback(_) => commands::import::feedback(settings, args).await,
                    ImportCommand::Events(_) => commands::import::events(settings, args).await,
                    ImportCommand::Orders(_) => commands::import::orders(settings, args).await,
                    ImportCommand::Customers(_) => commands::import::customers(settings, args).await,
                    ImportCommand::Responses { survey, .. } => {
                        commands::import::responses(settings, args, survey).await
                    }
                    ImportCommand::Workspace(_) => anyhow::bail!("not a file import"),
                }
            }
            Command::Metrics(args) => {
                let settings = resolve(&args.database, None)?;
                let query = rapport_core::metrics::query::RawQuery {
                    from: args.from,
                    to: args.to,
                    group_by: args.group_by,
                    filter: args.filter,
                    min_n: args.min_n,
                    satisfied_from: args.satisfied_from,
                    journey: args.journey,
                };
                let metrics = commands::metrics::MetricsArgs {
                    metric: args.metric,
                    workspace: args.workspace,
                    query,
                    json: args.json,
                };
                commands::metrics::run(settings, metrics).await
            }
            Command::Journeys(JourneysCommand::List { workspace, database }) => {
                commands::journeys::list(resolve(&database, None)?, workspace).await
            }
            Command::Journeys(JourneysCommand::Create { file, workspace, database }) => {
                commands::journeys::create(resolve(&database, None)?, workspace, file).await
            }
            Command::Journeys(JourneysCommand::Analytics(args)) => {
                let settings = resolve(&args.database, None)?;
                let query = rapport_core::journey::query::RawJourneyQuery {
                    from: args.from,
                    to: args.to,
                    segment: args.segment,
                    compare: args.compare,
                    min_n: args.min_n,
                };
                let journey = commands::journeys::AnalyticsArgs {
                    journey: args.journey,
                    workspace: args.workspace,
                    query,
                    json: args.json,
                    svg: args.svg,
                };
                commands::journeys::analytics(settings, journey).await
            }
            Command::Text(TextCommand::Sentiment { sentences, negative_below, positive_above }) => {
                let thresholds = commands::text::thresholds(negative_below, positive_above)?;
                commands::text::sentiment(sentences, thresholds)
            }
            Command::Text(TextCommand::Topics { taxonomy }) => {
                commands::text::topics(taxonomy.as_deref(), rapport_text::sentiment::Thresholds::default())
            }
            Command::Clv(ClvCommand::Fit(args)) => commands::clv::fit(args),
            Command::Churn(ChurnCommand::Evaluate(args)) => commands::churn::evaluate(args),
            Command::DataKey(DataKeyCommand::Rotate { database }) => {
                commands::data_key::rotate(&resolve(&database, None)?).await
            }
            Command::Config(database) => {
                print!("{}", resolve(&database, None)?.describe());
                Ok(())
            }
            Command::DefaultConfig => {
                print!("{}", settings::DEFAULT_CONFIG);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
