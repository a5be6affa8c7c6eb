//! quota-service: Envoy's rate limit service v3 (gRPC) and an equivalent HTTP JSON check, with
//! the limits of the quota filter's plans counted by Limitador on Redis. See `cli::USAGE`.
//!
//! Modules: [`cli`] (arguments), [`limits`] (plans as Limitador limits), [`check`] (descriptors
//! to a Limitador context, reserve and commit, statuses), [`grpc`] and [`http`] (the two
//! interfaces), [`serve`] (startup and shutdown), [`export`] (`print-config`).

mod check;
mod cli;
mod export;
mod grpc;
mod http;
mod limits;
mod serve;

use std::process::ExitCode;

use cli::{Command, Format};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("quota-service: {err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::PrintConfig {
            format,
            config,
            domain,
        } => match cli::load_plans(&config, &domain) {
            Ok(plans) => {
                print!(
                    "{}",
                    match format {
                        Format::EnvoyRatelimit => export::envoy_ratelimit_yaml(&plans),
                        Format::Limitador => export::limitador_yaml(&plans),
                    }
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("quota-service: {err}");
                ExitCode::from(2)
            }
        },
        Command::Serve(opts) => {
            let plans = match cli::load_plans(&opts.config, &opts.domain) {
                Ok(plans) => plans,
                Err(err) => {
                    eprintln!("quota-service: {err}");
                    return ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(opts.threads)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    eprintln!("quota-service: cannot start the runtime: {err}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve::run(opts, plans)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    log::error!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
