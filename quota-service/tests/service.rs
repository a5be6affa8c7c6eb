//! End-to-end: a real `redis-server` on a free port and the built `quota-service` binary, driven
//! over gRPC (Envoy's generated client) and HTTP. Every process started here is killed by a Drop
//! guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_quota-service");

const CONFIG: &str = r#"{
    "plans": [
        {"name": "burst", "limits": [{"name": "per-minute", "limit": 50, "window": "minute"}]},
        {"name": "duo", "limits": [
            {"name": "small", "limit": 2, "window": "minute"},
            {"name": "large", "limit": 10, "window": "hour"}
        ]},
        {"name": "gold", "limits": [{"name": "per-minute", "limit": 10, "window": "minute"}]},
        {"name": "bulk", "limits": [
            {"name": "per-minute", "limit": 1000000000000, "window": "minute"},
            {"name": "per-day", "limit": 1000000000000, "window": "day"}
        ]}
    ]
}"#;

// --- processes ---

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "quota-service-test-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A redis-server without persistence on 127.0.0.1.
struct Redis {
    port: u16,
    dir: TempDir,
    proc: Option<Proc>,
}

impl Redis {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let mut redis = Self {
            port,
            dir: TempDir::new("redis"),
            proc: None,
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and waits for a PONG.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install redis-server)");
        self.proc = Some(Proc(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A running quota-service.
struct Service {
    grpc: SocketAddr,
    http: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    proc: Proc,
    _dir: TempDir,
}

impl Service {
    fn start(redis_url: &str, extra: &[&str]) -> Self {
        let dir = TempDir::new("service");
        let config = dir.0.join("quota.json");
        std::fs::write(&config, CONFIG).expect("config");
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["--redis", redis_url])
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("quota-service binary");
        let stderr = child.stderr.take().expect("stderr");
        let proc = Proc(child);
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("quota-service ready") {
                    let _ = tx.send(line.clone());
                }
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "quota-service not ready: {:?}",
                    log.lock().map(|l| l.clone())
                )
            });
        let addr = |name: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {ready:?}"))
        };
        Self {
            grpc: addr("grpc="),
            http: addr("http="),
            log,
            proc,
            _dir: dir,
        }
    }

    async fn client(&self) -> RateLimitServiceClient<Channel> {
        RateLimitServiceClient::connect(format!("http://{}", self.grpc))
            .await
            .expect("gRPC connection")
    }
}

// --- requests ---

fn descriptor(plan: &str, limit: &str, window: u64, key: &str) -> RateLimitDescriptor {
    let entries = [
        ("quota_plan", plan.to_owned()),
        ("quota_limit", limit.to_owned()),
        ("quota_window", window.to_string()),
        ("quota_key", key.to_owned()),
        ("quota_scope", "-".to_owned()),
    ];
    RateLimitDescriptor {
        entries: entries
            .into_iter()
            .map(|(k, v)| Entry {
                key: k.to_owned(),
                value: v,
            })
            .collect(),
        ..Default::default()
    }
}

fn request(hits: u32, descriptors: Vec<RateLimitDescriptor>) -> RateLimitRequest {
    RateLimitRequest {
        domain: "gateway".into(),
        descriptors,
        hits_addend: hits,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn check(
    client: &mut RateLimitServiceClient<Channel>,
    req: RateLimitRequest,
) -> Result<RateLimitResponse, tonic::Status> {
    client.should_rate_limit(req).await.map(|r| r.into_inner())
}

fn codes(resp: &RateLimitResponse) -> Vec<i32> {
    resp.statuses.iter().map(|s| s.code).collect()
}

fn remaining(resp: &RateLimitResponse) -> Vec<u32> {
    resp.statuses.iter().map(|s| s.limit_remaining).collect()
}

const OK: i32 = Code::Ok as i32;
const OVER: i32 = Code::OverLimit as i32;

struct HttpReply {
    status: u16,
    content_type: String,
    body: String,
}

impl HttpReply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 exchange (`Connection: close`).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> HttpReply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    assert!(
        header("transfer-encoding").is_none(),
        "responses carry a Content-Length"
    );
    HttpReply {
        status,
        content_type: header("content-type").unwrap_or_default(),
        body: body.to_owned(),
    }
}

fn json_request(hits_field: &str, hits: u32, plan: &str, window: u64, key: &str) -> String {
    serde_json::json!({
        "domain": "gateway",
        hits_field: hits,
        "descriptors": [{"entries": [
            {"key": "quota_plan", "value": plan},
            {"key": "quota_limit", "value": "per-minute"},
            {"key": "quota_window", "value": window.to_string()},
            {"key": "quota_key", "value": key},
            {"key": "quota_scope", "value": "-"},
        ]}]
    })
    .to_string()
}

/// Runs `n` checks of `req` at once, spread over `clients`; returns (admitted, refused).
async fn concurrent(
    clients: &[RateLimitServiceClient<Channel>],
    n: usize,
    req: RateLimitRequest,
) -> (usize, usize) {
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let mut client = clients[i % clients.len()].clone();
        let req = req.clone();
        tasks.push(tokio::spawn(async move { check(&mut client, req).await }));
    }
    let (mut admitted, mut refused) = (0, 0);
    for task in tasks {
        let resp = task.await.expect("task").expect("check answered");
        match resp.overall_code {
            OK => admitted += 1,
            OVER => refused += 1,
            other => panic!("unexpected code {other}"),
        }
    }
    (admitted, refused)
}

// --- tests ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_admit_exactly_the_limit() {
    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(service.client().await);
    }
    let req = request(1, vec![descriptor("burst", "per-minute", 1_000, "c:alice")]);
    let (admitted, refused) = concurrent(&clients, 200, req.clone()).await;
    assert_eq!((admitted, refused), (50, 150));
    // The counter is full: the next check is refused with nothing left.
    let resp = check(&mut clients[0], req).await.expect("check");
    assert_eq!((codes(&resp), remaining(&resp)), (vec![OVER], vec![0]));
    // Another subject and another window have their own counters.
    let other = request(50, vec![descriptor("burst", "per-minute", 1_000, "c:bob")]);
    let resp = check(&mut clients[0], other).await.expect("check");
    assert_eq!((resp.overall_code, remaining(&resp)), (OK, vec![0]));
    let next = request(1, vec![descriptor("burst", "per-minute", 1_001, "c:alice")]);
    let resp = check(&mut clients[0], next).await.expect("check");
    assert_eq!((resp.overall_code, remaining(&resp)), (OK, vec![49]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_one_limit_charges_none() {
    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let mut client = service.client().await;
    let both = |hits, small_window| {
        request(
            hits,
            vec![
                descriptor("duo", "small", small_window, "k:ab12"),
                descriptor("duo", "large", 7, "k:ab12"),
            ],
        )
    };
    let only =
        |hits, limit: &str, window| request(hits, vec![descriptor("duo", limit, window, "k:ab12")]);

    let resp = check(&mut client, both(2, 1)).await.expect("check");
    assert_eq!(
        (resp.overall_code, codes(&resp), remaining(&resp)),
        (OK, vec![OK, OK], vec![0, 8])
    );
    // "small" refuses: only it is marked, and "large" is not charged.
    let resp = check(&mut client, both(1, 1)).await.expect("check");
    assert_eq!(
        (resp.overall_code, codes(&resp), remaining(&resp)),
        (OVER, vec![OVER, OK], vec![0, 8])
    );
    let resp = check(&mut client, only(8, "large", 7))
        .await
        .expect("check");
    assert_eq!(
        (resp.overall_code, remaining(&resp)),
        (OK, vec![0]),
        "large kept its 8 units"
    );
    // Now "large" refuses a request "small" (a fresh window) would admit: "small" is not charged.
    let resp = check(&mut client, both(1, 2)).await.expect("check");
    assert_eq!(
        (resp.overall_code, codes(&resp), remaining(&resp)),
        (OVER, vec![OK, OVER], vec![2, 0])
    );
    let resp = check(&mut client, only(2, "small", 2))
        .await
        .expect("check");
    assert_eq!(
        (resp.overall_code, remaining(&resp)),
        (OK, vec![0]),
        "small kept its 2 units"
    );
    // Hits above a quota can never be admitted and charge nothing.
    let resp = check(&mut client, only(11, "large", 8))
        .await
        .expect("check");
    assert_eq!((resp.overall_code, remaining(&resp)), (OVER, vec![10]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refusals_charge_no_limit() {
    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let client = service.client().await;
    // Each request has its own "small" window (never binding) and shares "large" (10 an hour).
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let mut client = client.clone();
        let req = request(
            1,
            vec![
                descriptor("duo", "small", 100 + i, "c:judy"),
                descriptor("duo", "large", 50, "c:judy"),
            ],
        );
        tasks.push(tokio::spawn(async move { check(&mut client, req).await }));
    }
    let mut admitted = Vec::new();
    for task in tasks {
        let resp = task.await.expect("task").expect("check");
        admitted.push(resp.overall_code == OK);
    }
    assert_eq!(admitted.iter().filter(|a| **a).count(), 10);
    // A refused request charged its own "small" window nothing; an admitted one charged 1.
    let mut client = client.clone();
    for (i, was_admitted) in admitted.into_iter().enumerate() {
        let only_small = request(
            2,
            vec![descriptor("duo", "small", 100 + i as u64, "c:judy")],
        );
        let resp = check(&mut client, only_small).await.expect("check");
        assert_eq!(resp.overall_code == OK, !was_admitted, "request {i}");
    }
}

/// The filter's own encoders and decoders (filter_quota::global) against the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filters_requests_and_answers_round_trip() {
    use filter_quota::global;
    use prost::Message;

    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let mut client = service.client().await;
    let config = filter_quota::config::parse(CONFIG.as_bytes()).expect("config");
    let duo = config
        .plans
        .iter()
        .find(|p| p.name == "duo")
        .expect("duo plan");
    let now_us = now_secs() * 1_000_000;
    let descriptors = global::descriptors(duo, "api:orders", "c:kim", now_us);

    // gRPC: the filter's message bytes, and its decoder on the service's answer.
    let bytes = global::encode_grpc("gateway", descriptors.clone(), 2);
    let req = RateLimitRequest::decode(bytes.as_slice()).expect("Envoy's request");
    let resp = check(&mut client, req).await.expect("check");
    let answer = global::decode_grpc(&resp.encode_to_vec(), 2).expect("filter's answer");
    assert!(answer.admitted);
    let left: Vec<u64> = answer.statuses.iter().map(|s| s.remaining).collect();
    assert_eq!(left, [0, 8]);
    let resets: Vec<u64> = answer
        .statuses
        .iter()
        .map(|s| s.reset_us.expect("reset"))
        .collect();
    assert!(
        resets[0] <= 60_000_000 && resets[1] <= 3_600_000_000,
        "{resets:?}"
    );

    // HTTP: the filter's JSON body, and its decoder on the service's JSON answer.
    let body = global::encode_json("gateway", &descriptors, 1);
    let reply = http(
        service.http,
        "POST",
        "/v1/check",
        std::str::from_utf8(&body).expect("UTF-8"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = global::decode_json(reply.body.as_bytes(), 2).expect("filter's answer");
    assert!(!answer.admitted);
    assert_eq!(answer.violated(), Some(0));
    assert_eq!(answer.statuses[1].remaining, 8);
    assert!(answer.statuses[1]
        .reset_us
        .is_some_and(|r| r <= 3_600_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_checks_equal_grpc_checks() {
    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let mut client = service.client().await;
    let window = now_secs() / 60;
    let grpc = |hits| {
        request(
            hits,
            vec![descriptor("gold", "per-minute", window, "c:carol")],
        )
    };

    let first = check(&mut client, grpc(3)).await.expect("check");
    assert_eq!((first.overall_code, remaining(&first)), (OK, vec![7]));
    let status = &first.statuses[0];
    let limit = status.current_limit.as_ref().expect("current limit");
    assert_eq!(
        (limit.name.as_str(), limit.requests_per_unit, limit.unit),
        ("per-minute", 10, Unit::Minute as i32)
    );
    let reset = status.duration_until_reset.expect("reset");
    assert!((0..=60).contains(&reset.seconds), "{reset:?}");

    // The same check over HTTP shares the counter and answers the same fields.
    let reply = http(
        service.http,
        "POST",
        "/v1/check",
        &json_request("hitsAddend", 3, "gold", window, "c:carol"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type, "application/json");
    let json = reply.json();
    assert_eq!(json["overallCode"], "OK");
    let s = &json["statuses"][0];
    assert_eq!(s["code"], "OK");
    assert_eq!(s["limitRemaining"], 4);
    assert_eq!(
        s["currentLimit"],
        serde_json::json!({"requestsPerUnit": 10, "unit": "MINUTE", "name": "per-minute"})
    );
    let http_reset: f64 = s["durationUntilReset"]
        .as_str()
        .and_then(|d| d.strip_suffix('s'))
        .and_then(|d| d.parse().ok())
        .expect("duration string");
    let grpc_reset = reset.seconds as f64 + f64::from(reset.nanos) / 1e9;
    assert!(
        http_reset <= grpc_reset + 0.001 && grpc_reset - http_reset < 5.0,
        "{http_reset} vs {grpc_reset}"
    );

    let third = check(&mut client, grpc(3)).await.expect("check");
    assert_eq!((third.overall_code, remaining(&third)), (OK, vec![1]));
    // snake_case, refused: nothing charged, 1 left.
    let reply = http(
        service.http,
        "POST",
        "/v1/check",
        &json_request("hits_addend", 3, "gold", window, "c:carol"),
    )
    .await;
    let json = reply.json();
    assert_eq!(json["overallCode"], "OVER_LIMIT");
    assert_eq!(json["statuses"][0]["code"], "OVER_LIMIT");
    assert_eq!(json["statuses"][0]["limitRemaining"], 1);
    let last = check(&mut client, grpc(1)).await.expect("check");
    assert_eq!((last.overall_code, remaining(&last)), (OK, vec![0]));

    // Bad requests: 400 problems over HTTP, INVALID_ARGUMENT over gRPC, naming what is wrong.
    for (body, detail) in [
        ("{", "EOF"),
        (
            &json_request("hitsAddend", 1, "silver", window, "c:carol") as &str,
            "unknown plan \\\"silver\\\"",
        ),
        (
            r#"{"domain":"gateway","descriptors":[]}"#,
            "at least one descriptor",
        ),
        (r#"{"domain":"other","descriptors":[]}"#, "domain: expected"),
    ] {
        let reply = http(service.http, "POST", "/v1/check", body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json");
        assert!(reply.body.contains(detail), "{body}: {}", reply.body);
        assert_eq!(reply.json()["type"], "urn:gateway:problem:bad-request");
        assert_eq!(reply.json()["status"], 400);
    }
    let err = check(
        &mut client,
        request(
            1,
            vec![descriptor("silver", "per-minute", window, "c:carol")],
        ),
    )
    .await
    .expect_err("unknown plan");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("unknown plan \"silver\""), "{err:?}");
    let err = check(
        &mut client,
        RateLimitRequest {
            domain: "other".into(),
            ..grpc(1)
        },
    )
    .await
    .expect_err("other domain");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let health = http(service.http, "GET", "/healthz", "").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let wrong_method = http(service.http, "GET", "/v1/check", "").await;
    assert_eq!(wrong_method.status, 405);
    // Bodies are bounded (64 KiB).
    let big = format!(r#"{{"domain":"{}"}}"#, "x".repeat(64 * 1024));
    let reply = http(service.http, "POST", "/v1/check", &big).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(reply.json()["type"], "urn:gateway:problem:bad-request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failures_are_unavailable_and_service_resumes() {
    let mut redis = Redis::start();
    let service = Service::start(&redis.url(), &["--timeout-ms", "500"]);
    let mut client = service.client().await;
    let req = || request(1, vec![descriptor("gold", "per-minute", 5, "c:dan")]);
    let resp = check(&mut client, req()).await.expect("check");
    assert_eq!(remaining(&resp), vec![9]);

    redis.stop();
    for _ in 0..3 {
        let start = Instant::now();
        let err = check(&mut client, req()).await.expect_err("Redis is down");
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    let start = Instant::now();
    let reply = http(
        service.http,
        "POST",
        "/v1/check",
        &json_request("hitsAddend", 1, "gold", 5, "c:dan"),
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(
        reply.json()["type"],
        "urn:gateway:problem:quota-unavailable"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    let health = http(service.http, "GET", "/healthz", "").await;
    assert_eq!(health.status, 503, "{}", health.body);

    // Redis comes back (empty: no persistence): checks succeed again without a restart.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let resp = loop {
        match check(&mut client, req()).await {
            Ok(resp) => break resp,
            Err(err) if Instant::now() < deadline => {
                assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!(
                "not recovered: {err:?}; log: {:?}",
                service.log.lock().map(|l| l.clone())
            ),
        }
    };
    assert_eq!((resp.overall_code, remaining(&resp)), (OK, vec![9]));
    let health = http(service.http, "GET", "/healthz", "").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let reply = http(
        service.http,
        "POST",
        "/v1/check",
        &json_request("hitsAddend", 1, "gold", 5, "c:dan"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["statuses"][0]["limitRemaining"], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_admit_exactly_the_limit() {
    let redis = Redis::start();
    let a = Service::start(&redis.url(), &[]);
    let b = Service::start(&redis.url(), &[]);
    let mut clients = Vec::new();
    for _ in 0..2 {
        clients.push(a.client().await);
        clients.push(b.client().await);
    }
    for (round, key) in ["c:erin", "c:frank", "c:grace"].into_iter().enumerate() {
        let req = request(1, vec![descriptor("burst", "per-minute", 9, key)]);
        let (admitted, refused) = concurrent(&clients, 200, req).await;
        assert_eq!((admitted, refused), (50, 150), "round {round}");
    }
    // Heavier requests: 5 hits each, 10 fit.
    let req = request(5, vec![descriptor("burst", "per-minute", 9, "c:heidi")]);
    assert_eq!(concurrent(&clients, 60, req).await, (10, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_waits_for_redis_and_stops_on_sigterm() {
    let port = free_port();
    let later = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        Redis::start_on(port)
    });
    let start = Instant::now();
    let mut service = Service::start(&format!("redis://127.0.0.1:{port}"), &[]);
    let _redis = later.join().expect("redis thread");
    assert!(start.elapsed() >= Duration::from_millis(1_500));
    let waited = service
        .log
        .lock()
        .map(|l| l.iter().any(|line| line.contains("waiting for Redis")))
        .unwrap_or(false);
    assert!(waited, "logged the wait");
    let mut client = service.client().await;
    let resp = check(
        &mut client,
        request(1, vec![descriptor("gold", "per-minute", 3, "c:ivan")]),
    )
    .await
    .expect("check");
    assert_eq!(remaining(&resp), vec![9]);

    let pid = service.proc.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = service.proc.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_arguments_and_configs_fail_with_the_reason() {
    let dir = TempDir::new("cli");
    let bad = dir.0.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"plans":[{"name":"gold","limits":[{"name":"m","limit":0,"window":"minute"}]}]}"#,
    )
    .expect("write");
    let run = |args: &[&str]| -> (ExitStatus, String) {
        let out = Command::new(BIN).args(args).output().expect("run");
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let (status, err) = run(&[
        "--config",
        &path(&bad),
        "--redis",
        "redis://127.0.0.1:1",
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("plans[0].limits[0].limit"), "{err}");
    let (status, err) = run(&["--config", &path(&bad), "--grpc", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("--redis is required"), "{err}");

    let good = dir.0.join("good.json");
    std::fs::write(&good, CONFIG).expect("write");
    let out = Command::new(BIN)
        .args(["print-config", "limitador", "--config", &path(&good)])
        .output()
        .expect("run");
    assert!(out.status.success());
    let limits: Vec<serde_yaml::Value> =
        serde_yaml::from_slice(&out.stdout).expect("limitador YAML");
    assert_eq!(limits.len(), 6);
    let out = Command::new(BIN)
        .args([
            "print-config",
            "envoy-ratelimit",
            "--config",
            &path(&good),
            "--domain",
            "edge",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let doc: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).expect("ratelimit YAML");
    assert_eq!(doc["domain"], "edge");
}

/// Checks per second of one service on this machine: `cargo test --release -- --ignored
/// --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    let redis = Redis::start();
    let service = Service::start(&redis.url(), &[]);
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(service.client().await);
    }
    let duration = Duration::from_secs(5);
    // Admitted checks of a two-limit plan, then refused checks of a one-limit plan (its 10 units
    // are gone after the first requests).
    for (plan, limits, code) in [("bulk", 2, OK), ("gold", 1, OVER)] {
        for concurrency in [1usize, 16, 64] {
            let done = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let mut tasks = Vec::new();
            for i in 0..concurrency {
                let mut client = clients[i % clients.len()].clone();
                let done = Arc::clone(&done);
                tasks.push(tokio::spawn(async move {
                    let key = format!("c:{i}");
                    let names = ["per-minute", "per-day"];
                    let req = request(
                        1,
                        names[..limits]
                            .iter()
                            .map(|limit| descriptor(plan, limit, 1, &key))
                            .collect(),
                    );
                    if code == OVER {
                        check(&mut client, request(10, req.descriptors.clone()))
                            .await
                            .expect("check");
                    }
                    while start.elapsed() < duration {
                        let resp = check(&mut client, req.clone()).await.expect("check");
                        assert_eq!(resp.overall_code, code);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            for task in tasks {
                task.await.expect("task");
            }
            let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
            let what = if code == OK { "admitted" } else { "refused" };
            println!(
                "plan {plan}, limits {limits}, {what}, concurrency {concurrency}: {rate:.0} checks/s"
            );
        }
    }
}
