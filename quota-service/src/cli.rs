//! Command line: flags as `--flag value` or `--flag=value`; every error names its flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::limits::Plans;

/// Usage text.
pub const USAGE: &str = "\
usage:
  quota-service --config FILE --redis URL --grpc ADDR --http ADDR [--domain DOMAIN]
                [--threads N] [--timeout-ms MS]
  quota-service print-config envoy-ratelimit|limitador --config FILE [--domain DOMAIN]

Serves Envoy's rate limit service v3 (gRPC, envoy.service.ratelimit.v3.RateLimitService) and
POST /v1/check (the same request and response as proto3 JSON) and GET /healthz over HTTP, counting
the limits of the quota filter's plans with Limitador on Redis.

  --config FILE     the quota filter's JSON plugin configuration (its plans are the limits)
  --redis URL       Redis, e.g. redis://127.0.0.1:6379
  --grpc ADDR       gRPC listen address, e.g. 127.0.0.1:8081 (port 0: any free port)
  --http ADDR       HTTP listen address, e.g. 127.0.0.1:8080
  --domain DOMAIN   the rate limit domain requests must carry (default gateway)
  --threads N       runtime worker threads, 1 to 64 (default 2)
  --timeout-ms MS   how long a check waits for Redis before answering UNAVAILABLE / 503,
                    10 to 60000 (default 1000)

print-config prints the plans as an envoyproxy/ratelimit configuration or a limitador-server
limits file, to use a stock rate limit service instead. RUST_LOG sets the log level (info).";

/// Default rate limit domain.
pub const DEFAULT_DOMAIN: &str = "gateway";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve.
    Serve(ServeOptions),
    /// Print a stock service's configuration.
    PrintConfig {
        /// Which service.
        format: Format,
        /// The quota filter configuration file.
        config: PathBuf,
        /// The rate limit domain.
        domain: String,
    },
    /// Print the usage.
    Help,
}

/// The server's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The quota filter configuration file.
    pub config: PathBuf,
    /// Redis URL.
    pub redis: String,
    /// gRPC listen address.
    pub grpc: SocketAddr,
    /// HTTP listen address.
    pub http: SocketAddr,
    /// The rate limit domain.
    pub domain: String,
    /// Runtime worker threads.
    pub threads: usize,
    /// How long a check waits for Redis.
    pub timeout: Duration,
}

/// `print-config` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// envoyproxy/ratelimit YAML.
    EnvoyRatelimit,
    /// limitador-server limits YAML.
    Limitador,
}

#[derive(Default)]
struct Flags {
    config: Option<String>,
    redis: Option<String>,
    grpc: Option<String>,
    http: Option<String>,
    domain: Option<String>,
    threads: Option<String>,
    timeout_ms: Option<String>,
}

impl Flags {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "--config" => &mut self.config,
            "--redis" => &mut self.redis,
            "--grpc" => &mut self.grpc,
            "--http" => &mut self.http,
            "--domain" => &mut self.domain,
            "--threads" => &mut self.threads,
            "--timeout-ms" => &mut self.timeout_ms,
            _ => return None,
        })
    }
}

/// Parses the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    let mut format = None;
    if args.peek().map(String::as_str) == Some("print-config") {
        args.next();
        format = Some(match args.next().as_deref() {
            Some("envoy-ratelimit") => Format::EnvoyRatelimit,
            Some("limitador") => Format::Limitador,
            Some(other) => {
                return Err(format!(
                    "print-config: unknown format {other:?} (envoy-ratelimit or limitador)"
                ))
            }
            None => {
                return Err(
                    "print-config: a format is required (envoy-ratelimit or limitador)".into(),
                )
            }
        });
    }
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let Some(slot) = flags.slot(&name) else {
            return Err(format!("unknown argument {arg:?}"));
        };
        if slot.is_some() {
            return Err(format!("{name} is given twice"));
        }
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        *slot = Some(value);
    }
    let domain = domain(flags.domain.as_deref())?;
    let config = PathBuf::from(flags.config.ok_or("--config is required")?);
    if let Some(format) = format {
        for (name, given) in [
            ("--redis", flags.redis.is_some()),
            ("--grpc", flags.grpc.is_some()),
            ("--http", flags.http.is_some()),
            ("--threads", flags.threads.is_some()),
            ("--timeout-ms", flags.timeout_ms.is_some()),
        ] {
            if given {
                return Err(format!("{name} is not an option of print-config"));
            }
        }
        return Ok(Command::PrintConfig {
            format,
            config,
            domain,
        });
    }
    let redis = flags.redis.ok_or("--redis is required")?;
    if let Err(err) = redis::Client::open(redis.as_str()) {
        return Err(format!("--redis {redis:?}: {err}"));
    }
    let grpc = addr("--grpc", flags.grpc)?;
    let http = addr("--http", flags.http)?;
    if grpc == http && grpc.port() != 0 {
        return Err(format!("--grpc and --http are both {grpc}"));
    }
    let threads = number("--threads", flags.threads.as_deref(), 2, 1, 64)?;
    let timeout_ms = number(
        "--timeout-ms",
        flags.timeout_ms.as_deref(),
        1_000,
        10,
        60_000,
    )?;
    Ok(Command::Serve(ServeOptions {
        config,
        redis,
        grpc,
        http,
        domain,
        threads: usize::try_from(threads).unwrap_or(2),
        timeout: Duration::from_millis(timeout_ms),
    }))
}

fn domain(value: Option<&str>) -> Result<String, String> {
    let domain = value.unwrap_or(DEFAULT_DOMAIN);
    let valid = !domain.is_empty()
        && domain.len() <= 128
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(domain.to_owned())
    } else {
        Err(format!(
            "--domain {domain:?}: 1 to 128 letters, digits, '-', '_' or '.'"
        ))
    }
}

fn addr(name: &str, value: Option<String>) -> Result<SocketAddr, String> {
    let value = value.ok_or_else(|| format!("{name} is required"))?;
    value
        .parse()
        .map_err(|_| format!("{name} {value:?}: not an IP address and port like 127.0.0.1:8081"))
}

fn number(
    name: &str,
    value: Option<&str>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} {value:?}: a whole number from {min} to {max}"
        )),
    }
}

/// Reads the quota filter configuration named by `--config` into the plans.
pub fn load_plans(path: &std::path::Path, domain: &str) -> Result<Plans, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let config = filter_quota::config::parse(&bytes)
        .map_err(|e| format!("--config {}: {e}", path.display()))?;
    Ok(Plans::new(&config, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &str) -> Result<Command, String> {
        parse(args.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn serve_options() {
        let cmd = parse_str(
            "--config q.json --redis redis://127.0.0.1:6379 --grpc 127.0.0.1:8081 --http=127.0.0.1:8080",
        )
        .expect("valid");
        let Command::Serve(opts) = cmd else {
            panic!("serve expected, got {cmd:?}");
        };
        assert_eq!(opts.config, PathBuf::from("q.json"));
        assert_eq!(opts.redis, "redis://127.0.0.1:6379");
        assert_eq!(opts.grpc.port(), 8081);
        assert_eq!(opts.http.port(), 8080);
        assert_eq!(opts.domain, "gateway");
        assert_eq!(opts.threads, 2);
        assert_eq!(opts.timeout, Duration::from_secs(1));

        let cmd = parse_str(
            "--config q.json --redis redis://r:1 --grpc [::1]:0 --http 127.0.0.1:0 --domain edge.eu --threads 4 --timeout-ms 250",
        )
        .expect("valid");
        let Command::Serve(opts) = cmd else {
            panic!("serve expected, got {cmd:?}");
        };
        assert_eq!((opts.domain.as_str(), opts.threads), ("edge.eu", 4));
        assert_eq!(opts.timeout, Duration::from_millis(250));
    }

    #[test]
    fn print_config() {
        assert_eq!(
            parse_str("print-config limitador --config q.json --domain d"),
            Ok(Command::PrintConfig {
                format: Format::Limitador,
                config: "q.json".into(),
                domain: "d".into()
            })
        );
        assert_eq!(
            parse_str("print-config envoy-ratelimit --config=q.json"),
            Ok(Command::PrintConfig {
                format: Format::EnvoyRatelimit,
                config: "q.json".into(),
                domain: "gateway".into()
            })
        );
        assert_eq!(parse_str("--help"), Ok(Command::Help));
    }

    #[test]
    fn errors_name_the_flag() {
        let base =
            "--config q.json --redis redis://127.0.0.1 --grpc 127.0.0.1:1 --http 127.0.0.1:2";
        for (args, expected) in [
            (
                "--redis redis://x --grpc 127.0.0.1:1 --http 127.0.0.1:2",
                "--config is required",
            ),
            (
                "--config q.json --grpc 127.0.0.1:1 --http 127.0.0.1:2",
                "--redis is required",
            ),
            (
                "--config q.json --redis redis://x --http 127.0.0.1:2",
                "--grpc is required",
            ),
            (
                "--config q.json --redis http://x --grpc 127.0.0.1:1 --http 127.0.0.1:2",
                "--redis \"http://x\"",
            ),
            (
                "--config q.json --redis redis://x --grpc localhost:1 --http 127.0.0.1:2",
                "--grpc \"localhost:1\": not an IP address",
            ),
            (
                "--config q.json --redis redis://x --grpc 127.0.0.1:1 --http 127.0.0.1:1",
                "--grpc and --http are both 127.0.0.1:1",
            ),
            (
                &format!("{base} --threads 0"),
                "--threads \"0\": a whole number from 1 to 64",
            ),
            (&format!("{base} --timeout-ms x"), "--timeout-ms \"x\""),
            (&format!("{base} --domain a/b"), "--domain \"a/b\""),
            (&format!("{base} --domain="), "--domain \"\""),
            (
                &format!("{base} --grpc 127.0.0.1:3"),
                "--grpc is given twice",
            ),
            (
                &format!("{base} --verbose"),
                "unknown argument \"--verbose\"",
            ),
            (&format!("{base} --threads"), "--threads needs a value"),
            ("print-config", "print-config: a format is required"),
            (
                "print-config yaml --config q.json",
                "print-config: unknown format \"yaml\"",
            ),
            (
                "print-config limitador --config q.json --redis redis://x",
                "--redis is not an option of print-config",
            ),
        ] {
            let err = parse_str(args).expect_err(args);
            assert!(err.contains(expected), "{args}: {err}");
        }
    }

    #[test]
    fn config_errors_name_the_file_and_field() {
        let dir = std::env::temp_dir().join(format!("quota-service-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            r#"{"plans":[{"name":"gold","limits":[{"name":"m","limit":1,"window":"minute","window_size":0}]}]}"#,
        )
        .expect("write");
        let err = load_plans(&bad, "gateway").expect_err("invalid");
        assert!(
            err.starts_with(&format!("--config {}", bad.display())),
            "{err}"
        );
        assert!(err.contains("plans[0].limits[0].window_size"), "{err}");
        let missing = dir.join("missing.json");
        let err = load_plans(&missing, "gateway").expect_err("missing");
        assert!(err.contains("missing.json"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
