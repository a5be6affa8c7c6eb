//! Tests of the filter over a fake host: requests measured into metrics and events, the
//! cardinality guard, and a collector outage.

use super::*;
use crate::metrics::{
    labelled_name, ACCESS_TOTAL, EVENTS_DROPPED_TOTAL, EVENTS_SENT_TOTAL, LABEL_OVERFLOWS_TOTAL,
    LOCAL_REPLIES_TOTAL, REQUESTS_TOTAL, REQUEST_DURATION_MS, RESPONSES_TOTAL,
};
use filter_core::{FakeHost, HeaderKind};

const CONFIG: &str = r#"{
    "apis": [{"name": "orders", "path_prefixes": ["/orders", "/v1/orders", "/v2/orders"]}],
    "labels": {"consumer": 2},
    "events": {"cluster": "collector", "max_buffer_events": 50, "max_batch_events": 10}
}"#;

fn plugin(host: &mut FakeHost) -> Rc<AnalyticsPlugin> {
    Rc::new(AnalyticsPlugin::configure(CONFIG.as_bytes(), host).unwrap())
}

/// Runs one request through the stream: request headers (unless a filter before answered),
/// then the response as Envoy's properties describe it, then `on_log`.
fn request(
    p: &Rc<AnalyticsPlugin>,
    host: &mut FakeHost,
    consumer: Option<&str>,
    status: u16,
    details: &str,
    reached: bool,
) {
    let mut req = vec![
        (":method", "GET".to_owned()),
        (":path", "/v2/orders/1".to_owned()),
    ];
    if let Some(c) = consumer {
        req.push(("x-gateway-consumer", c.to_owned()));
        req.push(("x-gateway-version", "v2".to_owned()));
    }
    let mut headers = HeaderMap::from_pairs(req.clone());
    host.headers.insert(HeaderKind::Request, headers.clone());
    host.headers.insert(
        HeaderKind::Response,
        HeaderMap::from_pairs([(":status", status.to_string())]),
    );
    host.set_prop("response.code", i64::from(status).to_le_bytes().to_vec());
    host.set_prop("response.code_details", details);
    host.set_prop("request.duration", 3_000_000i64.to_le_bytes().to_vec());
    let mut s = AnalyticsPlugin::new_stream(p);
    if reached {
        assert_eq!(
            s.on_request_headers(&mut headers, true, host),
            Decision::Continue
        );
        assert_eq!(headers.edits().len(), 0, "the filter never edits requests");
        // Latency runs from the request headers; request.duration serves only unreached filters.
        host.advance(std::time::Duration::from_millis(3));
    }
    s.on_log(host);
    s.on_log(host);
}

fn requests(host: &FakeHost, consumer: &str, class: &str) -> Option<i64> {
    host.metric(&labelled_name(
        &REQUESTS_TOTAL,
        &[
            consumer,
            "orders",
            if consumer == "anonymous" {
                "none"
            } else {
                "v2"
            },
            class,
        ],
    ))
}

#[test]
fn upstream_and_local_replies_are_counted_once() {
    let mut host = FakeHost::new();
    let p = plugin(&mut host);
    request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    request(
        &p,
        &mut host,
        None,
        401,
        "gateway_missing_credentials",
        false,
    );
    request(
        &p,
        &mut host,
        Some("bob"),
        429,
        "gateway_quota_exceeded",
        true,
    );
    assert_eq!(
        requests(&host, "alice", "2xx"),
        Some(2),
        "on_log twice counts once"
    );
    assert_eq!(requests(&host, "anonymous", "4xx"), Some(1), "401 counted");
    assert_eq!(requests(&host, "bob", "4xx"), Some(1), "429 counted");
    let local = |reason: &str, code: &str| {
        host.metric(&labelled_name(
            &LOCAL_REPLIES_TOTAL,
            &["orders", reason, code],
        ))
    };
    assert_eq!(local("missing_credentials", "401"), Some(1));
    assert_eq!(local("quota_exceeded", "429"), Some(1));
    let access = |c: &str, a: &str, q: &str| {
        host.metric(&labelled_name(&ACCESS_TOTAL, &[c, "orders", a, q]))
    };
    assert_eq!(access("anonymous", "denied", "none"), Some(1));
    assert_eq!(access("bob", "ok", "exceeded"), Some(1));
    assert_eq!(access("alice", "ok", "ok"), Some(2));
    let route = |code: &str| {
        host.metric(&labelled_name(
            &RESPONSES_TOTAL,
            &["orders", "_v2_orders", "GET", code],
        ))
    };
    assert_eq!(
        route("200"),
        Some(2),
        "route falls back to the matched prefix"
    );
    let hist = labelled_name(&REQUEST_DURATION_MS, &["orders", "v2", "2xx"]);
    assert_eq!(host.samples(&hist), Some(&[3, 3][..]));
    assert_eq!(host.metric(EVENTS_TOTAL), Some(4));
    assert_eq!(p.sink().unwrap().borrow().buffered(), 4);
}

#[test]
fn the_cardinality_guard_sends_extra_consumers_to_other() {
    let mut host = FakeHost::new();
    let p = plugin(&mut host);
    for c in ["alice", "bob", "carol", "dave", "alice"] {
        request(&p, &mut host, Some(c), 200, "via_upstream", true);
    }
    assert_eq!(requests(&host, "alice", "2xx"), Some(2));
    assert_eq!(requests(&host, "bob", "2xx"), Some(1));
    assert_eq!(requests(&host, "carol", "2xx"), None);
    assert_eq!(
        requests(&host, "other", "2xx"),
        Some(2),
        "carol and dave overflow"
    );
    assert_eq!(host.metric(LABEL_OVERFLOWS_TOTAL), Some(2));
    let names = host
        .metrics
        .iter()
        .filter(|m| m.name.starts_with("gateway_requests_total"))
        .count();
    assert_eq!(names, 3, "alice, bob, other");
}

#[test]
fn hostile_label_values_stay_in_one_label() {
    let mut host = FakeHost::new();
    let p = plugin(&mut host);
    request(
        &p,
        &mut host,
        Some("a.b=c\u{2028}"),
        200,
        "via_upstream",
        true,
    );
    let name = labelled_name(&REQUESTS_TOTAL, &["a_b_c_", "orders", "v2", "2xx"]);
    assert_eq!(host.metric(&name), Some(1));
}

#[test]
fn events_flow_to_the_collector_on_tick() {
    let mut host = FakeHost::new();
    host.clusters = vec!["collector".into()];
    let p = plugin(&mut host);
    assert_eq!(p.tick_period(), Some(Duration::from_secs(1)));
    for _ in 0..3 {
        request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    }
    assert!(host.calls.is_empty(), "nothing is sent from on_log");
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 1);
    let (token, call) = host.calls[0].clone();
    let body = String::from_utf8(call.body).unwrap();
    assert_eq!(body.lines().count(), 3);
    for line in body.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["consumer"], "alice");
        assert_eq!(v["status"], 200);
    }
    let ok = CallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: Vec::new(),
    };
    p.on_call_response(token, Ok(ok), &mut host);
    assert_eq!(host.metric(EVENTS_SENT_TOTAL), Some(3));
}

#[test]
fn a_sink_outage_never_affects_requests() {
    let mut host = FakeHost::new();
    host.clusters = vec!["nowhere".into()];
    let p = plugin(&mut host);
    for i in 0..500 {
        request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
        if i % 10 == 0 {
            host.advance(Duration::from_secs(1));
            p.on_tick(&mut host);
        }
    }
    let sink = p.sink().unwrap().borrow();
    assert!(sink.buffered() <= 50);
    assert_eq!(host.metric(EVENTS_DROPPED_TOTAL), Some(450));
    assert_eq!(
        requests(&host, "alice", "2xx"),
        Some(500),
        "every request measured"
    );
}

#[test]
fn metrics_only_without_events() {
    let mut host = FakeHost::new();
    let p = Rc::new(AnalyticsPlugin::configure(b"{}", &mut host).unwrap());
    assert_eq!(p.tick_period(), None);
    request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    p.on_tick(&mut host);
    assert!(host.calls.is_empty());
    assert_eq!(
        host.metric(EVENTS_TOTAL),
        Some(0),
        "defined at configure time"
    );
    let name = labelled_name(&REQUESTS_TOTAL, &["alice", "unknown", "v2", "2xx"]);
    assert_eq!(host.metric(&name), Some(1));
}

#[test]
fn bad_config_is_refused_with_the_field() {
    let mut host = FakeHost::new();
    let err = AnalyticsPlugin::configure(br#"{"labels":{"api":0}}"#, &mut host).unwrap_err();
    assert_eq!(err.field, "labels.api");
}

#[test]
fn rows_define_only_what_a_request_updates_and_keep_counting_overflows() {
    use crate::metrics::{HEALTH, NAME_OVERFLOWS_TOTAL};
    let mut host = FakeHost::new();
    let p = plugin(&mut host);
    request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
    assert!(
        !host
            .metrics
            .iter()
            .any(|m| m.name.starts_with(LOCAL_REPLIES_TOTAL.name)),
        "no local reply, no local-reply metric"
    );
    // Room for three labelled names beyond the health metrics: a request needs four.
    let capped = CONFIG.replace(
        r#""labels": {"consumer": 2},"#,
        &format!(
            r#""labels": {{"consumer": 2}}, "max_metric_names": {},"#,
            HEALTH.len() + 3
        ),
    );
    let mut host = FakeHost::new();
    let p = Rc::new(AnalyticsPlugin::configure(capped.as_bytes(), &mut host).unwrap());
    let overflows = |h: &FakeHost| h.metric(NAME_OVERFLOWS_TOTAL).unwrap_or(0);
    let mut seen = Vec::new();
    for _ in 0..3 {
        request(&p, &mut host, Some("alice"), 200, "via_upstream", true);
        seen.push(overflows(&host));
    }
    assert!(seen[0] > 0, "the fourth name overflowed: {seen:?}");
    assert!(
        seen[0] < seen[1] && seen[1] < seen[2],
        "past the cap, every request counts its overflow: {seen:?}"
    );
    assert_eq!(
        requests(&host, "alice", "2xx"),
        Some(3),
        "the names before the cap still count"
    );
}
