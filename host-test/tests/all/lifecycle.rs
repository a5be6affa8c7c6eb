//! Root lifecycle, full exchanges, local replies, stream end order.

use crate::guests::probe;
use host_test::{Error, FilterSpec, Harness, LogLevel, Request, Response};

#[test]
fn configure_and_full_exchange() {
    let mut gw = Harness::new()
        .filter(
            FilterSpec::wasm(probe())
                .name("a")
                .config("name=a")
                .vm_config("vmcfg"),
        )
        .build()
        .unwrap();
    assert!(gw.logged("vm_start config=vmcfg"));
    assert!(gw.logged("configure name=a"));
    let out = gw
        .request(Request::get("/x").header("x-probe", "add"))
        .respond_with(Response::ok().body("hello"))
        .unwrap();
    assert!(out.finished);
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().header("x-added"), Some("a"));
    assert_eq!(out.upstream_request().header("x-order"), Some("a"));
    assert_eq!(out.client_response().header("x-resp-order"), Some("a"));
    assert_eq!(out.client_response().body_str(), "hello");
}

#[test]
fn configure_false_is_an_error() {
    let err = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("reject"))
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::Rejected {
                phase: "proxy_on_configure",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn local_reply_short_circuits_and_response_filters_see_it() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("a").config("name=a"))
        .filter(FilterSpec::wasm(probe()).name("b").config("name=b"))
        .filter(FilterSpec::wasm(probe()).name("c").config("name=c"))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/x").header("x-probe", "local"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 403);
    let lr = out.local_reply().unwrap();
    assert_eq!(lr.filter, "a");
    assert_eq!(lr.body_str(), "denied");
    assert!(!out.reached_upstream());
    assert_eq!(out.client_response().header("x-probe-reply"), Some("a"));
    // Only filter a's context exists: it sees its own local reply in on_response_headers.
    assert_eq!(out.client_response().header("x-resp-order"), Some("a"));
    assert!(!gw.logged("b request_headers"));
}

#[test]
fn stream_end_order_is_log_done_delete() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("a").config("name=a"))
        .build()
        .unwrap();
    gw.request(Request::get("/"))
        .respond_with(Response::ok())
        .unwrap();
    let msgs: Vec<String> = gw
        .logs()
        .into_iter()
        .map(|l| l.message)
        .filter(|m| m.starts_with("a on_"))
        .collect();
    assert_eq!(msgs, ["a on_log 2", "a on_done 2", "a on_delete 2"]);
}

#[test]
fn logs_have_levels_and_respect_the_log_level() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .log_level(LogLevel::Debug)
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-probe", "log"))
        .send()
        .unwrap();
    assert_eq!(gw.logs_at(LogLevel::Debug), ["debug line"]);
    assert_eq!(gw.logs_at(LogLevel::Warn), ["warn line"]);
    assert_eq!(gw.logs_at(LogLevel::Error), ["error line"]);
    assert!(gw.logs_at(LogLevel::Trace).is_empty());
}

#[test]
fn cargo_wasm_builds_a_workspace_crate() {
    let p = host_test::build::cargo_wasm("filter-auth").unwrap();
    assert!(p.ends_with(
        "target/host-test-wasm/wasm32-wasip1/release/host-test/filter-auth/filter_auth.wasm"
    ));
    let module = std::fs::read(&p).unwrap();
    assert_eq!(
        host_test::build::cargo_wasm("filter-auth").unwrap(),
        p,
        "cached"
    );
    // The same package with other features: a module of its own, and the first one untouched
    // (cargo itself writes both builds to one file name).
    let other = host_test::build::cargo_wasm_args(
        "filter-auth",
        &["--no-default-features", "--features", "export"],
    )
    .unwrap();
    assert_ne!(other, p);
    assert_eq!(
        other.file_name(),
        p.file_name(),
        "the stem names the filter"
    );
    assert_ne!(std::fs::read(&other).unwrap(), module);
    assert_eq!(std::fs::read(&p).unwrap(), module);
}

#[test]
fn request_and_response_builders() {
    let r = Request::get("/a")
        .set_header(":scheme", "https")
        .header("A", "1")
        .header("a", "2");
    assert_eq!(r.headers.get(":scheme"), Some("https"));
    assert_eq!(
        r.headers.get_all("a"),
        ["1", "2"],
        "keys are lowercased, repeats kept"
    );
    let r = r.without_header("a").body("x").body("y").trailer("t", "1");
    assert_eq!((r.headers.get("a"), r.chunks.len()), (None, 2));
    let resp = Response::status(404).set_header(":status", "418");
    assert_eq!(resp.headers.get_all(":status"), ["418"]);
}

/// Envoy 1.40 runs a plugin on its main thread too (checked with the real Envoy's trace log at
/// `--concurrency 2`: `on_vm_start` and `on_configure` four times, three VMs ticking): a
/// configuration canary (started, configured, dropped) and the main thread's own VM, whose
/// root context ticks but never gets a stream.
#[test]
fn main_thread_vm_starts_configures_and_ticks_but_gets_no_streams() {
    let count = |gw: &host_test::Gateway, needle: &str, worker: Option<usize>| {
        gw.logs()
            .iter()
            .filter(|l| l.message.starts_with(needle))
            .filter(|l| worker.is_none_or(|w| l.worker == w))
            .count()
    };
    let workers = 2;
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=p;tick=1000"))
        .workers(workers)
        .build()
        .unwrap();
    assert!(gw.has_main_thread());
    let main = gw.workers();
    // The canary and the main thread's VM, then one VM per worker.
    assert_eq!(count(&gw, "vm_start", None), workers + 2);
    assert_eq!(count(&gw, "configure", None), workers + 2);
    assert_eq!(count(&gw, "vm_start", Some(main)), 2);
    // Every root context that lives on ticks: the workers' and the main thread's.
    gw.advance(std::time::Duration::from_millis(1000)).unwrap();
    assert_eq!(count(&gw, "tick 1", None), workers + 1);
    assert_eq!(count(&gw, "tick 1", Some(main)), 1);
    assert_eq!(gw.metric("probe_ticks"), Some(workers as i64 + 1));
    // Streams go to the workers only, whichever worker a request asks for.
    for w in [None, None, None, Some(main), Some(99)] {
        let mut req = Request::get("/").header("x-probe", "metric");
        if let Some(w) = w {
            req = req.on_worker(w);
        }
        gw.request(req).respond_with(Response::ok()).unwrap();
    }
    assert_eq!(count(&gw, "p request_headers", None), 5);
    assert_eq!(count(&gw, "p request_headers", Some(main)), 0);
    assert_eq!(gw.metric("probe_requests"), Some(5));

    // The switch: workers only.
    let gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("tick=1000"))
        .workers(workers)
        .main_thread(false)
        .build()
        .unwrap();
    assert!(!gw.has_main_thread());
    assert_eq!(count(&gw, "vm_start", None), workers);
    // ngx_wasm_module has no main-thread VM.
    let gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .workers(workers)
        .profile(host_test::HostProfile::Nginx)
        .build()
        .unwrap();
    assert!(!gw.has_main_thread());
    assert_eq!(count(&gw, "configure", None), workers);
}
