//! The bundle module (`filter_bundle.wasm`, root `gateway`: auth, quota, analytics, routing as
//! one filter) run by host-test as Envoy runs it, driven by a structure-aware scenario: requests
//! (method, path, credentials valid and not, headers with duplicates and non-ASCII text, the
//! identity headers a client may forge, body chunks, trailers), answers to its callouts (key
//! server bodies: real JWKS shapes, arbitrary text, error statuses, failures, timeouts) and time
//! steps. The module is compiled once per process (host-test caches it); each input gets a
//! fresh gateway.
//!
//! Asserts after every step: no trap and no failed VM (a panic in the module is a trap); a
//! request answered locally never reached the upstream (no headers when refused on them, no
//! body byte nor its end when refused on the body); identity headers reach the upstream once at
//! most and only as the chain sets them: `x-gateway-consumer` is a consumer whose valid
//! credential the request carried, with that consumer's plan, `x-gateway-version` and
//! `x-gateway-cluster` a configured version and cluster, whatever the client sent.
#![no_main]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use host_test::{
    CallReply, Error, FilterSpec, Gateway, Harness, Outcome, Request, Response, StreamId,
};
use libfuzzer_sys::fuzz_target;

/// The module: `GATEWAY_FUZZ_BUNDLE` (set by scripts/fuzz, which builds it first), else built
/// here with host-test's builder.
fn module() -> &'static PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| match std::env::var_os("GATEWAY_FUZZ_BUNDLE") {
        Some(path) => PathBuf::from(path),
        None => host_test::build::cargo_wasm_target("filter-bundle", filter_core::WASM_TARGET)
            .expect("building filter-bundle"),
    })
}

fn config() -> &'static String {
    static CONFIG: OnceLock<String> = OnceLock::new();
    CONFIG.get_or_init(gateway_fuzz::gateway_config)
}

fn jwks_bodies() -> &'static Vec<Vec<u8>> {
    static BODIES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BODIES.get_or_init(|| {
        let mut fuzz = gateway_fuzz::jwks();
        // A key server never serves secrets: the Ed25519 key only.
        fuzz["keys"]
            .as_array_mut()
            .expect("keys")
            .retain(|k| k["kty"] == "OKP");
        let mut out = vec![fuzz.to_string().into_bytes()];
        for name in ["auth0", "okta", "mixed", "google", "keycloak"] {
            out.push(gateway_fuzz::read(&format!(
                "filters/auth/testdata/jwks/{name}.json"
            )));
        }
        out
    })
}

const START: u64 = 1_767_225_600;

#[derive(Debug, Arbitrary)]
struct Scenario {
    steps: Vec<Step>,
}

#[derive(Debug, Arbitrary)]
enum Step {
    Request(Box<Req>),
    Advance(u16),
    Answer(Answer),
}

#[derive(Debug, Arbitrary)]
enum Answer {
    Jwks(u8),
    Body(u16, String),
    Fail,
    TimeOut,
}

#[derive(Debug, Arbitrary)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
    Options,
    Other(String),
}

#[derive(Debug, Arbitrary)]
struct Req {
    method: Method,
    path: u8,
    path_tail: String,
    creds: Vec<Cred>,
    headers: Vec<(Name, Text)>,
    body: Vec<Vec<u8>>,
    trailers: Vec<(Name, Text)>,
    status: u16,
    response_headers: Vec<(Name, Text)>,
    response_body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Cred {
    ApiKey(bool),
    ApiKeyQuery(bool),
    ApiKeyWrong(Text),
    Basic,
    BasicWrong(Text),
    Jwt {
        signer: gateway_fuzz::Signer,
        sub: u8,
        exp: i16,
        scope: Text,
        cookie: bool,
    },
    RemoteJwt {
        sub: u8,
        exp: i16,
    },
    JwtGarbage(Text),
    Hmac {
        date_skew: i16,
        wrong: bool,
    },
}

/// Header names: the ones the chain reads or sets, or any.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Other(String),
}

const KNOWN: &[&str] = &[
    "x-gateway-consumer",
    "x-gateway-plan",
    "x-gateway-groups",
    "x-gateway-credential",
    "x-gateway-version",
    "x-gateway-cluster",
    "x-api-key",
    "authorization",
    "cookie",
    "api-version",
    "accept",
    "x-request-cost",
    "x-sticky-key",
    "x-api-version-override",
    "x-jwt-scope",
    "date",
    "digest",
    "content-length",
    "x-forwarded-for",
    "content-type",
    "x-usage-tokens",
    "x-envoy-original-path",
    ":path",
    "host",
];

const PATHS: &[&str] = &[
    "/health",
    "/v1/orders",
    "/v2/orders/1",
    "/admin/x",
    "/signed/x",
    "/v1beta/catalog",
    "/v0/x",
    "/v9/x",
    "/orders?api-version=2",
    "/v2/search?q=1",
    "/",
    "/_gateway/quota/usage",
];

impl Name {
    fn text(&self) -> String {
        match self {
            Name::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()].to_string(),
            Name::Other(s) => s.to_ascii_lowercase(),
        }
    }
}

/// Header text: what an HTTP codec lets through (no CR, LF, NUL); bytes from the input as
/// Latin-1 characters, so non-ASCII values (UTF-8 multi-byte text) get in.
#[derive(Debug, Arbitrary)]
struct Text(Vec<u8>);

impl Text {
    fn text(&self) -> String {
        self.0
            .iter()
            .filter(|b| !matches!(b, b'\r' | b'\n' | 0))
            .map(|&b| char::from(b))
            .collect()
    }
}

/// A header a client can send: a token name (no pseudo-header), a value without CR, LF, NUL.
fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\":()<>@,;\\/[]?={}".contains(&b))
        && !value.contains(['\r', '\n', '\0'])
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

struct Built {
    request: Request,
    /// Consumers the request's valid credentials name.
    consumers: BTreeSet<&'static str>,
    has_body: bool,
}

fn build(req: &Req, now: SystemTime) -> Built {
    let method = match &req.method {
        Method::Get => "GET".to_string(),
        Method::Post => "POST".to_string(),
        Method::Put => "PUT".to_string(),
        Method::Delete => "DELETE".to_string(),
        Method::Options => "OPTIONS".to_string(),
        Method::Other(s) => s
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .take(16)
            .collect::<String>(),
    };
    let method = if method.is_empty() {
        "GET".to_string()
    } else {
        method
    };
    let tail: String = req
        .path_tail
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let path = format!("{}{tail}", PATHS[usize::from(req.path) % PATHS.len()]);
    let mut request = Request::new(&method, &path);
    let mut consumers = BTreeSet::new();
    let subs = ["alice", "bob", "carol", "dave", "mallory"];
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut sign_hmac = None;
    for cred in req.creds.iter().take(3) {
        match cred {
            Cred::ApiKey(b) | Cred::ApiKeyQuery(b) => {
                let (key, consumer) = gateway_fuzz::API_KEYS[usize::from(*b)];
                consumers.insert(consumer);
                if let Cred::ApiKey(_) = cred {
                    request = request.header("x-api-key", key);
                } else {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let p = format!("{path}{sep}api_key={key}");
                    request = request.set_header(":path", &p);
                }
            }
            Cred::ApiKeyWrong(t) => request = request.header("x-api-key", &t.text()),
            Cred::Basic => {
                let (u, p) = gateway_fuzz::BASIC;
                consumers.insert("carol");
                let creds = base64_std(format!("{u}:{p}"));
                request = request.header("authorization", &format!("Basic {creds}"));
            }
            Cred::BasicWrong(t) => {
                let creds = base64_std(format!("carol:{}", t.text()));
                request = request.header("authorization", &format!("Basic {creds}"));
            }
            Cred::Jwt {
                signer,
                sub,
                exp,
                scope,
                cookie,
            } => {
                let sub = subs[usize::from(*sub) % subs.len()];
                if sub != "mallory" {
                    consumers.insert(sub);
                }
                let header =
                    serde_json::json!({"alg": signer.alg(), "kid": signer.kid()}).to_string();
                let claims = serde_json::json!({
                    "iss": gateway_fuzz::ISSUER, "aud": "gateway", "sub": sub,
                    "exp": now_secs + i64::from(*exp), "scope": scope.text(),
                })
                .to_string();
                let token = signer.token(header.as_bytes(), claims.as_bytes());
                request = if *cookie {
                    request.header("cookie", &format!("access_token={token}"))
                } else {
                    request.header("authorization", &format!("Bearer {token}"))
                };
            }
            Cred::RemoteJwt { sub, exp } => {
                let sub = subs[usize::from(*sub) % subs.len()];
                if sub != "mallory" {
                    consumers.insert(sub);
                }
                let signer = gateway_fuzz::Signer::EdDsa;
                let header = serde_json::json!({"alg": "EdDSA", "kid": "ed"}).to_string();
                let claims = serde_json::json!({
                    "iss": gateway_fuzz::REMOTE_ISSUER, "sub": sub, "exp": now_secs + i64::from(*exp),
                })
                .to_string();
                let token = signer.token(header.as_bytes(), claims.as_bytes());
                request = request.header("authorization", &format!("Bearer {token}"));
            }
            Cred::JwtGarbage(t) => {
                request = request.header("authorization", &format!("Bearer {}", t.text()))
            }
            Cred::Hmac { date_skew, wrong } => sign_hmac = Some((*date_skew, *wrong)),
        }
    }
    for (name, value) in req.headers.iter().take(12) {
        let (n, v) = (name.text(), value.text());
        if valid_header(&n, &v) {
            request = request.header(&n, &v);
        }
    }
    if let Some((skew, wrong)) = sign_hmac {
        let date = http_date(now + Duration::from_secs(u64::from(skew.unsigned_abs())));
        request = request.set_header("date", &date);
        let pairs: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        let map = filter_core::HeaderMap::from_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        );
        let secret: &[u8] = if wrong {
            b"not-the-secret-0123456789abcdef!"
        } else {
            gateway_fuzz::HMAC_KEY.1.as_bytes()
        };
        let auth = filter_auth::signing::sign(
            gateway_fuzz::HMAC_KEY.0,
            "hmac-sha256",
            secret,
            &["(request-target)", "date"],
            &map,
        );
        if !wrong {
            consumers.insert("bob");
        }
        request = request.set_header("authorization", &format!("Signature {auth}"));
    }
    let mut has_body = false;
    for chunk in req.body.iter().take(4) {
        request = request.body(chunk.clone());
        has_body = true;
    }
    for (name, value) in req.trailers.iter().take(4) {
        let (n, v) = (name.text(), value.text());
        if valid_header(&n, &v) {
            request = request.trailer(&n, &v);
            has_body = true;
        }
    }
    Built {
        request,
        consumers,
        has_body,
    }
}

fn base64_std(text: String) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn response(req: &Req) -> Response {
    let status = 100 + req.status % 500;
    let status = if status < 200 { 200 } else { status };
    let mut resp = Response::status(status);
    for (name, value) in req.response_headers.iter().take(6) {
        let (n, v) = (name.text(), value.text());
        if valid_header(&n, &v) {
            resp = resp.header(&n, &v);
        }
    }
    if !req.response_body.is_empty() {
        resp = resp.body(req.response_body.clone());
    }
    resp
}

/// Fails the input on a trap; other harness errors (a stream already ended) are ignored.
fn ok<T>(result: host_test::Result<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e @ Error::Trap { .. }) => panic!("the module trapped: {e}"),
        Err(_) => None,
    }
}

fn no_failed_vm(gw: &Gateway) {
    for w in 0..gw.workers() {
        if let Some(failure) = gw.vm_failure("gateway", w) {
            panic!("worker {w} failed: {failure}");
        }
    }
}

/// `GATEWAY_FUZZ_TRACE=1` prints one line per checked outcome (what the scenarios reach).
fn trace(out: &Outcome) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("GATEWAY_FUZZ_TRACE").is_some()) {
        let consumer = out
            .upstream
            .headers
            .as_ref()
            .and_then(|h| h.get("x-gateway-consumer"));
        eprintln!(
            "outcome: status {} reply {:?} upstream {} consumer {consumer:?}",
            out.status(),
            out.local_reply.as_ref().map(|r| r.details.as_str()),
            out.upstream.headers.is_some(),
        );
    }
}

fn check(out: &Outcome, built: &Built) {
    trace(out);
    let upstream = &out.upstream;
    if let Some(reply) = &out.local_reply {
        assert!(
            upstream.body.is_empty() && !upstream.end_of_stream,
            "refused with {} ({}) but the upstream got the request",
            reply.status,
            reply.details
        );
        if !built.has_body {
            assert!(
                upstream.headers.is_none(),
                "refused with {} but the upstream got the headers",
                reply.status
            );
        }
    }
    let Some(headers) = &upstream.headers else {
        return;
    };
    for name in gateway_fuzz::IDENTITY_HEADERS {
        assert!(
            headers.get_all(name).len() <= 1,
            "{name} reached the upstream twice"
        );
    }
    match headers.get("x-gateway-consumer") {
        Some(consumer) => {
            assert!(
                built.consumers.contains(consumer),
                "x-gateway-consumer {consumer:?} without a valid credential of it (had {:?})",
                built.consumers
            );
            assert_eq!(
                headers.get("x-gateway-plan"),
                gateway_fuzz::plan_of(consumer)
            );
        }
        None => {
            assert_eq!(
                headers.get("x-gateway-plan"),
                None,
                "a plan without a consumer"
            );
            assert_eq!(
                headers.get("x-gateway-groups"),
                None,
                "groups without a consumer"
            );
        }
    }
    if let Some(v) = headers.get("x-gateway-version") {
        assert!(
            ["v1", "v2", "v1beta"].contains(&v),
            "x-gateway-version {v:?}"
        );
    }
    if let Some(c) = headers.get("x-gateway-cluster") {
        assert!(["api_v1", "api_v2"].contains(&c), "x-gateway-cluster {c:?}");
    }
}

fn answer(gw: &mut Gateway, a: &Answer) {
    let Some(call) = gw.pending_calls().into_iter().next() else {
        return;
    };
    let result = match a {
        Answer::Jwks(i) => {
            let bodies = jwks_bodies();
            gw.reply_call(
                call.id,
                CallReply::ok(bodies[usize::from(*i) % bodies.len()].clone()),
            )
        }
        Answer::Body(status, body) => {
            gw.reply_call(call.id, CallReply::status(*status % 600).body(body.clone()))
        }
        Answer::Fail => gw.fail_call(call.id),
        Answer::TimeOut => gw.time_out_call(call.id),
    };
    ok(result);
}

fn gateway() -> Gateway {
    let spec = FilterSpec::wasm(module())
        .name("gateway")
        .root_id("gateway")
        .config(config().as_bytes().to_vec());
    let mut harness = Harness::new()
        .filter(spec)
        .start_time(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    for c in gateway_fuzz::CLUSTERS {
        harness = harness.cluster(c);
    }
    harness.build().expect("the gateway starts")
}

fuzz_target!(
    init: {
        // Compiles the module (host-test keeps it for the process) before libFuzzer's clock runs.
        drop(gateway());
    },
    |scenario: Scenario| {
    let mut gw = gateway();
    let mut open: Vec<(StreamId, Built)> = Vec::new();
    for step in scenario.steps.iter().take(12) {
        match step {
            Step::Request(req) => {
                let now = SystemTime::UNIX_EPOCH + Duration::from_nanos(gw.now_ns());
                let built = build(req, now);
                let Some(out) = ok(gw.request(built.request.clone()).respond_with(response(req))) else { continue };
                check(&out, &built);
                if !out.finished {
                    open.push((StreamId(out.stream), built));
                }
            }
            Step::Advance(ms) => {
                ok(gw.advance(Duration::from_millis(u64::from(*ms) * 10)));
            }
            Step::Answer(a) => answer(&mut gw, a),
        }
        no_failed_vm(&gw);
        // Streams that waited on a callout may have gone on.
        for (id, built) in &open {
            if let Ok(out) = gw.outcome(*id) {
                check(&out, built);
            }
        }
        open.retain(|(id, _)| gw.outcome(*id).is_ok_and(|o| !o.finished));
    }
    }
);
