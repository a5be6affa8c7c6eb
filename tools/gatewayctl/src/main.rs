//! gatewayctl: manages the gateway's plugin configuration (envoy-config/plugins/*.json or
//! `--config-dir`). Every change is validated with the filters' own configuration code before
//! an atomic write; with `--envoy-dir` it is also rendered into the file-based ECDS resources a
//! running Envoy watches (`gatewayctl apply`), so it applies without a restart.

mod ecds;
mod edit;
mod keys;
mod store;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use store::{Error, Store};

/// Manage the proxy-wasm gateway's configuration: API keys, consumers and plans, API versions
/// and canaries. Every change is validated with the filters' own configuration code (errors
/// name the file and field) and written atomically; a refused change writes nothing. With
/// --envoy-dir the result is also rendered into the ECDS files a running Envoy watches
/// (envoy-config/gateway-dynamic.yaml), so it applies without a restart.
#[derive(Parser, Debug)]
#[command(name = "gatewayctl", version, about, long_about)]
pub struct Cli {
    /// Directory of the plugin configuration files (auth.json, quota.json, quota-*.json,
    /// analytics.json, routing.json).
    #[arg(
        long,
        global = true,
        env = "GATEWAYCTL_CONFIG_DIR",
        default_value = "envoy-config/plugins"
    )]
    pub config_dir: PathBuf,

    /// After a successful change, render the ECDS resources into this directory (as `apply`
    /// does), so a running Envoy picks the change up.
    #[arg(long, global = true, env = "GATEWAYCTL_ENVOY_DIR")]
    pub envoy_dir: Option<PathBuf>,

    /// Directory of the built modules (dist/filter_<name>.wasm), named in the ECDS resources.
    #[arg(long, global = true, env = "GATEWAYCTL_DIST", default_value = "dist")]
    pub dist: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// API keys of auth's consumers (only SHA-256 digests are stored).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Consumers: auth's consumers and quota's consumer -> plan mapping, kept consistent.
    #[command(subcommand)]
    Consumers(ConsumersCmd),
    /// API versions of routing: lifecycle status, Deprecation and Sunset.
    #[command(subcommand)]
    Versions(VersionsCmd),
    /// Canary splits of routing.
    #[command(subcommand)]
    Canary(CanaryCmd),
    /// Validate every plugin file with its filter and render the ECDS resources into
    /// --envoy-dir (one <filter>.json per filter, moved into place atomically).
    Apply(ApplyArgs),
    /// Validate every plugin file with its filter; nothing is written.
    Validate,
    /// Requests per consumer and plan over a period, from analytics' usage events (JSON lines
    /// files or directories): requests, used (admitted by quota) and refused (quota exceeded).
    Usage {
        /// Usage event files (JSON lines) or directories of them.
        #[arg(long, required = true, num_args = 1..)]
        events: Vec<PathBuf>,
        /// Start of the period, RFC 3339 (included).
        #[arg(long)]
        from: String,
        /// End of the period, RFC 3339 (excluded).
        #[arg(long)]
        to: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: usage::Format,
    },
}

/// `keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Issue a new random key (OS RNG) to a consumer. The key is printed once on stdout; only
    /// its SHA-256 digest is stored.
    Issue {
        /// Consumer id (must exist in auth.json).
        #[arg(long)]
        consumer: String,
        /// Expiry, RFC 3339 in UTC (2027-01-01T00:00:00Z). Default: never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Issue a new key and make the consumer's current keys expire after a grace period.
    Rotate {
        /// Consumer id.
        #[arg(long)]
        consumer: String,
        /// Rotate only this key (its id from `keys list`); default: every unexpired key.
        #[arg(long)]
        key_id: Option<String>,
        /// How long the old key keeps working (24h, 7days, 30m).
        #[arg(long, default_value = "24h")]
        grace: String,
        /// Expiry of the new key, RFC 3339. Default: never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Revoke a key now (its digest is removed).
    Revoke {
        /// Key id (from `keys list`).
        #[arg(long, required_unless_present = "consumer")]
        key_id: Option<String>,
        /// Revoke every key of this consumer (with --all).
        #[arg(long, requires = "all")]
        consumer: Option<String>,
        /// With --consumer: all its keys.
        #[arg(long)]
        all: bool,
    },
    /// List keys: id, consumer, created, expiry, state. Never secrets.
    List {
        /// Only this consumer's keys.
        #[arg(long)]
        consumer: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `consumers` subcommands.
#[derive(Subcommand, Debug)]
pub enum ConsumersCmd {
    /// Add a consumer to auth (and to every quota file when it has a plan).
    Add {
        /// Consumer id.
        #[arg(long)]
        id: String,
        /// Plan (must be one of quota's plans).
        #[arg(long)]
        plan: Option<String>,
        /// Groups, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Remove a consumer from auth and every quota file (its keys go with it).
    Remove {
        /// Consumer id.
        #[arg(long)]
        id: String,
    },
    /// Set a consumer's plan in auth and every quota file.
    SetPlan {
        /// Consumer id.
        #[arg(long)]
        id: String,
        /// Plan (must be one of quota's plans).
        #[arg(long)]
        plan: String,
    },
    /// Set a consumer's groups in auth (empty: none).
    SetGroups {
        /// Consumer id.
        #[arg(long)]
        id: String,
        /// Groups, comma-separated ("" for none).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        groups: Vec<String>,
    },
    /// List consumers with plan, groups and key count.
    List,
}

/// `versions` subcommands.
#[derive(Subcommand, Debug)]
pub enum VersionsCmd {
    /// preview -> stable.
    Promote {
        /// Version name.
        name: String,
    },
    /// Deprecate a version: `Deprecation` (and `Sunset`, links) on its responses.
    Deprecate {
        /// Version name.
        name: String,
        /// Deprecation date, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Sunset date, RFC 3339: from then on requests get 410.
        #[arg(long)]
        sunset: Option<String>,
        /// Successor version (adds `Link: ...; rel="successor-version"`).
        #[arg(long)]
        successor: Option<String>,
        /// Target of the successor link (default `/<successor>`).
        #[arg(long)]
        successor_url: Option<String>,
        /// Deprecation policy link (`Link: ...; rel="deprecation"`).
        #[arg(long)]
        deprecation_url: Option<String>,
    },
    /// Retire a version: 410 for every request to it.
    Retire {
        /// Version name.
        name: String,
        /// Successor version.
        #[arg(long)]
        successor: Option<String>,
        /// Target of the successor link.
        #[arg(long)]
        successor_url: Option<String>,
    },
    /// List versions with status and dates.
    List,
}

/// `canary` subcommands.
#[derive(Subcommand, Debug)]
pub enum CanaryCmd {
    /// Send a fixed share of one version's traffic to another (replaces that version's canary).
    Set {
        /// Version whose traffic is split.
        #[arg(long)]
        from: String,
        /// Canary version.
        #[arg(long)]
        to: String,
        /// Share, 0-100 (at most two decimals).
        #[arg(long)]
        percent: f64,
        /// Divert requests that named `from` explicitly too.
        #[arg(long)]
        explicit: bool,
    },
    /// Ramp a share of one version's traffic to another over time (replaces that version's
    /// canary): from --from-percent at --start to --to-percent at --end, in --steps steps.
    Ramp {
        /// Version whose traffic is split.
        #[arg(long)]
        from: String,
        /// Canary version.
        #[arg(long)]
        to: String,
        /// Start of the ramp, RFC 3339.
        #[arg(long)]
        start: String,
        /// End of the ramp, RFC 3339.
        #[arg(long)]
        end: String,
        /// Share before the start, 0-100.
        #[arg(long, default_value_t = 0.0)]
        from_percent: f64,
        /// Share from the end on, 0-100.
        #[arg(long, default_value_t = 100.0)]
        to_percent: f64,
        /// Number of steps (1-1000).
        #[arg(long, default_value_t = 10)]
        steps: u32,
        /// Divert requests that named `from` explicitly too.
        #[arg(long)]
        explicit: bool,
    },
    /// Remove the canary of a version.
    Remove {
        /// Version whose canary is removed.
        #[arg(long)]
        from: String,
    },
}

/// `apply` options.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Also render the bundle's resource (gateway.json: one filter, root_id `gateway`).
    #[arg(long)]
    pub bundle: bool,
}

fn run(cli: Cli) -> Result<(), Error> {
    let mut store = Store::open(&cli.config_dir)?;
    let changed = match &cli.command {
        Command::Keys(cmd) => keys::run(&mut store, cmd)?,
        Command::Consumers(cmd) => edit::consumers(&mut store, cmd)?,
        Command::Versions(cmd) => edit::versions(&mut store, cmd)?,
        Command::Canary(cmd) => edit::canary(&mut store, cmd)?,
        Command::Usage {
            events,
            from,
            to,
            format,
        } => {
            usage::run(events, from, to, *format)?;
            false
        }
        Command::Validate => {
            ecds::validate_all(&mut store)?;
            eprintln!("valid");
            false
        }
        Command::Apply(args) => {
            let dir = cli
                .envoy_dir
                .as_deref()
                .ok_or_else(|| Error("apply needs --envoy-dir".into()))?;
            ecds::apply(&mut store, dir, &cli.dist, args.bundle)?;
            return Ok(());
        }
    };
    if changed {
        for path in store.commit()? {
            eprintln!("wrote {}", path.display());
        }
        if let Some(dir) = &cli.envoy_dir {
            ecds::apply(&mut store, dir, &cli.dist, false)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatewayctl: {e}");
            ExitCode::FAILURE
        }
    }
}
