//! host-test guest built with the proxy-wasm Rust SDK. Plugin configuration is
//! `key=value;...` (`name`, `tick` ms, `reject`, `panic_configure`); each request picks actions
//! with the `x-probe` header (comma-separated): local, callout, grpc, pause, add, panic, loop,
//! shared, metric, property, buffer, log, queue, foreign, close, leak (keeps 64 KiB for good),
//! headers (logs the request header pairs and the values of `authorization` and `x-api-key`,
//! then adds `accept: added` and replaces `x-first`), echo (with callout or grpc: the reply's
//! body bytes become a 200 local reply's body).

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root { panic_tick: false, name: String::new(), header: String::new(), ticks: 0, queue: None })
    });
}}

struct Root {
    panic_tick: bool,
    name: String,
    header: String,
    ticks: u32,
    queue: Option<u32>,
}

fn conf(cfg: &str, key: &str) -> Option<String> {
    cfg.split(';').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == key => Some(v.to_string()),
        None if kv == key => Some(String::new()),
        _ => None,
    })
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        let vm = self.get_vm_configuration().unwrap_or_default();
        log::info!("vm_start config={}", String::from_utf8_lossy(&vm));
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let cfg = self.get_plugin_configuration().unwrap_or_default();
        let cfg = String::from_utf8_lossy(&cfg).into_owned();
        log::info!("configure {cfg}");
        self.name = conf(&cfg, "name").unwrap_or_else(|| "probe".into());
        self.header = conf(&cfg, "header").unwrap_or_else(|| "x-probe".into());
        self.panic_tick = conf(&cfg, "panic_tick").is_some();
        if conf(&cfg, "panic_configure").is_some() {
            panic!("bad configuration");
        }
        if let Some(ms) = conf(&cfg, "tick").and_then(|t| t.parse().ok()) {
            self.set_tick_period(Duration::from_millis(ms));
        }
        if conf(&cfg, "queue").is_some() {
            self.queue = proxy_wasm::hostcalls::register_shared_queue("probe-q").ok();
        }
        conf(&cfg, "reject").is_none()
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        if self.panic_tick {
            panic!("tick panic");
        }
        log::info!("tick {}", self.ticks);
        if let Ok(id) = proxy_wasm::hostcalls::define_metric(MetricType::Counter, "probe_ticks") {
            let _ = proxy_wasm::hostcalls::increment_metric(id, 1);
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(item)) = proxy_wasm::hostcalls::dequeue_shared_queue(queue_id) {
            log::info!("dequeued {}", String::from_utf8_lossy(&item));
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe {
            id: context_id,
            name: self.name.clone(),
            header: self.header.clone(),
            actions: Vec::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    id: u32,
    name: String,
    header: String,
    actions: Vec<String>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        log::info!("{} on_delete {}", self.name, self.id);
    }
}

impl Probe {
    fn has(&self, a: &str) -> bool {
        self.actions.iter().any(|x| x == a)
    }
}

impl Context for Probe {
    fn on_http_call_response(&mut self, token: u32, nh: usize, body: usize, _nt: usize) {
        log::info!(
            "{} call response token={token} headers={nh} body={body}",
            self.name
        );
        if nh == 0 {
            let (code, msg) = self.get_grpc_status();
            let text = format!("callout failed: {code} {}", msg.unwrap_or_default());
            self.send_http_response(503, vec![], Some(text.as_bytes()));
            return;
        }
        let status = self
            .get_http_call_response_header(":status")
            .unwrap_or_default();
        let body = self
            .get_http_call_response_body(0, body)
            .unwrap_or_default();
        if self.has("echo") {
            self.send_http_response(200, vec![("x-upstream-status", &status)], Some(&body));
            return;
        }
        if status == "200" {
            self.set_http_request_header("x-auth", Some(&String::from_utf8_lossy(&body)));
            self.resume_http_request();
        } else {
            self.send_http_response(
                401,
                vec![("x-upstream-status", &status)],
                Some(b"unauthorized"),
            );
        }
    }

    fn on_grpc_call_response(&mut self, token: u32, status: u32, size: usize) {
        let msg = self
            .get_grpc_call_response_body(0, size)
            .unwrap_or_default();
        log::info!(
            "grpc response token={token} status={status} msg={}",
            String::from_utf8_lossy(&msg)
        );
        if self.has("echo") {
            self.send_http_response(200, vec![], Some(&msg));
            return;
        }
        self.set_http_request_header(
            "x-grpc",
            Some(&format!("{status}:{}", String::from_utf8_lossy(&msg))),
        );
        self.resume_http_request();
    }

    fn on_done(&mut self) -> bool {
        log::info!("{} on_done {}", self.name, self.id);
        true
    }
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _n: usize, eos: bool) -> Action {
        let probe = self
            .get_http_request_header(&self.header)
            .unwrap_or_default();
        self.actions = probe.split(',').map(str::trim).map(String::from).collect();
        log::info!("{} request_headers eos={eos}", self.name);
        let order = self
            .get_http_request_header("x-order")
            .map_or(self.name.clone(), |o| format!("{o},{}", self.name));
        self.set_http_request_header("x-order", Some(&order));
        if self.has("panic") {
            panic!("probe panic in {}", self.name);
        }
        if self.has("loop") {
            let mut x: u64 = 0;
            loop {
                x = x.wrapping_add(std::hint::black_box(1));
                if std::hint::black_box(x) == u64::MAX {
                    break;
                }
            }
        }
        if self.has("leak") {
            std::mem::forget(std::hint::black_box(vec![1u8; 64 * 1024]));
        }
        if self.has("headers") {
            let pairs: Vec<String> = self
                .get_http_request_headers()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            log::info!("{} pairs {}", self.name, pairs.join("|"));
            for k in ["authorization", "x-api-key"] {
                let v = self.get_http_request_header(k);
                log::info!("{} value {k}={}", self.name, v.unwrap_or_default());
            }
            self.add_http_request_header("accept", "added");
            self.set_http_request_header("x-first", Some("replaced"));
        }
        if self.has("add") {
            self.add_http_request_header("x-added", &self.name.clone());
            self.set_http_request_header("x-remove-me", None);
        }
        if self.has("metric") {
            if let Ok(id) =
                proxy_wasm::hostcalls::define_metric(MetricType::Counter, "probe_requests")
            {
                let _ = proxy_wasm::hostcalls::increment_metric(id, 1);
            }
        }
        if self.has("shared") {
            loop {
                let (v, cas) = self.get_shared_data("count");
                let n: u64 = v
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if self
                    .set_shared_data("count", Some((n + 1).to_string().as_bytes()), cas)
                    .is_ok()
                {
                    self.set_http_request_header("x-count", Some(&(n + 1).to_string()));
                    break;
                }
            }
        }
        if self.has("property") {
            let p = self
                .get_property(vec!["request", "path"])
                .unwrap_or_default();
            self.set_http_request_header("x-path", Some(&String::from_utf8_lossy(&p)));
            self.set_property(vec!["probe_seen"], Some(self.name.as_bytes()));
            if let Some(prev) = self.get_property(vec!["probe_prev"]) {
                self.set_http_request_header("x-prev", Some(&String::from_utf8_lossy(&prev)));
            }
            self.set_property(vec!["probe_prev"], Some(self.name.as_bytes()));
        }
        if self.has("log") {
            log::trace!("trace line");
            log::debug!("debug line");
            log::warn!("warn line");
            log::error!("error line");
        }
        if self.has("queue") {
            if let Ok(Some(q)) = proxy_wasm::hostcalls::resolve_shared_queue("", "probe-q") {
                let _ = proxy_wasm::hostcalls::enqueue_shared_queue(q, Some(self.name.as_bytes()));
            }
        }
        if self.has("foreign") {
            let r = proxy_wasm::hostcalls::call_foreign_function("echo", Some(b"ping"));
            let v = match r {
                Ok(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
                Ok(None) => "none".into(),
                Err(e) => format!("{e:?}"),
            };
            self.set_http_request_header("x-foreign", Some(&v));
        }
        if self.has("local") {
            self.send_http_response(
                403,
                vec![("x-probe-reply", &self.name.clone())],
                Some(b"denied"),
            );
            return Action::Pause;
        }
        if self.has("close") {
            self.reset_http_request();
            return Action::Pause;
        }
        if self.has("callout") {
            let r = self.dispatch_http_call(
                "authz",
                vec![
                    (":method", "GET"),
                    (":path", "/check"),
                    (":authority", "authz"),
                ],
                None,
                vec![],
                Duration::from_secs(5),
            );
            return match r {
                Ok(_) => Action::Pause,
                Err(e) => {
                    self.send_http_response(500, vec![], Some(format!("{e:?}").as_bytes()));
                    Action::Pause
                }
            };
        }
        if self.has("grpc") {
            let r = self.dispatch_grpc_call(
                "grpc",
                "probe.Svc",
                "Check",
                vec![("k", b"v")],
                Some(b"req"),
                Duration::from_secs(1),
            );
            return if r.is_ok() {
                Action::Pause
            } else {
                Action::Continue
            };
        }
        if self.has("pause") {
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, eos: bool) -> Action {
        log::info!("{} request_body size={size} eos={eos}", self.name);
        if self.has("buffer") {
            if !eos {
                return Action::Pause;
            }
            let body = self.get_http_request_body(0, size).unwrap_or_default();
            let upper = String::from_utf8_lossy(&body).to_uppercase();
            self.set_http_request_body(0, size, upper.as_bytes());
        }
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, n: usize) -> Action {
        log::info!("{} request_trailers n={n}", self.name);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, eos: bool) -> Action {
        log::info!("{} response_headers eos={eos}", self.name);
        if self.has("local_resp")
            && self.get_http_response_header(":status").as_deref() == Some("200")
        {
            self.send_http_response(502, vec![], Some(b"rewritten"));
            return Action::Pause;
        }
        let order = self
            .get_http_response_header("x-resp-order")
            .map_or(self.name.clone(), |o| format!("{o},{}", self.name));
        self.set_http_response_header("x-resp-order", Some(&order));
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, eos: bool) -> Action {
        log::info!("{} response_body size={size} eos={eos}", self.name);
        Action::Continue
    }

    fn on_log(&mut self) {
        log::info!("{} on_log {}", self.name, self.id);
    }
}
