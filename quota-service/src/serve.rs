//! Startup and shutdown: bind both listeners, connect to Redis (waiting for it), configure the
//! limiter, serve gRPC and HTTP until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use limitador::reservation::ReservationLimits;
use limitador::storage::redis::AsyncRedisStorage;
use limitador::storage::AsyncStorage;
use limitador::AsyncRateLimiterBuilder;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::check::{Checker, HOLD_TTL};
use crate::cli::ServeOptions;
use crate::grpc::Rls;
use crate::http::{router, HttpState};
use crate::limits::Plans;

/// Longest wait between two attempts to reach Redis at startup.
const MAX_CONNECT_DELAY: Duration = Duration::from_secs(5);

/// Runs the service until a shutdown signal.
pub async fn run(opts: ServeOptions, plans: Plans) -> Result<(), String> {
    let limits = plans.limitador_limits()?;
    let odd = plans.not_fixed_window();
    if !odd.is_empty() {
        log::warn!(
            "counted as fixed windows of the filter's window ids: {}",
            odd.join(", ")
        );
    }
    let grpc_listener = TcpListener::bind(opts.grpc)
        .await
        .map_err(|e| format!("--grpc {}: {e}", opts.grpc))?;
    let http_listener = TcpListener::bind(opts.http)
        .await
        .map_err(|e| format!("--http {}: {e}", opts.http))?;
    let grpc_addr = grpc_listener
        .local_addr()
        .map_err(|e| format!("--grpc: {e}"))?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|e| format!("--http: {e}"))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let (conn, storage) = tokio::select! {
        connected = connect(&opts) => connected?,
        _ = stopped(stop_rx.clone()) => return Ok(()),
    };
    let limiter =
        AsyncRateLimiterBuilder::new(AsyncStorage::with_counter_storage(Box::new(storage)))
            // Hold the whole amount: a hold clamped below it would let concurrent requests through.
            .reservation_limits(ReservationLimits {
                max_fraction: 1.0,
                max_ttl: HOLD_TTL,
            })
            .build();
    for limit in limits {
        limiter.add_limit(limit);
    }
    let checker = Arc::new(Checker::new(limiter, plans.clone(), opts.timeout));

    let grpc = tonic::transport::Server::builder().serve_with_incoming_shutdown(
        Rls::server(Arc::clone(&checker)),
        TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
        stopped(stop_rx.clone()),
    );
    let state = HttpState {
        checker,
        redis: conn,
        timeout: opts.timeout,
    };
    let http = axum::serve(http_listener, router(state)).with_graceful_shutdown(stopped(stop_rx));

    log::info!(
        "quota-service ready grpc={grpc_addr} http={http_addr} domain={} plans={}",
        plans.domain,
        plans.plans.len()
    );
    let (grpc, http) = tokio::join!(grpc, http);
    grpc.map_err(|e| format!("gRPC server: {e}"))?;
    http.map_err(|e| format!("HTTP server: {e}"))?;
    Ok(())
}

/// Connects to Redis, retrying until it answers. A bad URL fails at once.
async fn connect(opts: &ServeOptions) -> Result<(ConnectionManager, AsyncRedisStorage), String> {
    let client = redis::Client::open(opts.redis.as_str())
        .map_err(|e| format!("--redis {:?}: {e}", opts.redis))?;
    // No reconnection backoff: while Redis is down each check fails fast (bounded by the
    // timeouts) and starts the next connection attempt, so service resumes with the first check
    // after Redis is back.
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(opts.timeout)
        .set_response_timeout(opts.timeout);
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = async {
            let conn = ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
            let storage = AsyncRedisStorage::new_with_conn_manager(conn.clone()).await?;
            Ok::<_, redis::RedisError>((conn, storage))
        };
        match attempt.await {
            Ok(connected) => return Ok(connected),
            Err(err) if err.kind() == redis::ErrorKind::InvalidClientConfig => {
                return Err(format!("--redis {:?}: {err}", opts.redis));
            }
            Err(err) => {
                log::warn!(
                    "waiting for Redis at {}: {err} (next attempt in {} ms)",
                    opts.redis,
                    delay.as_millis()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_CONNECT_DELAY);
            }
        }
    }
}

/// Resolves once the stop flag is set.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                log::warn!("no SIGTERM handler: {err}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
