//! Tests of the sink: batching, backoff, bounds and exact accounting.

use super::*;
use crate::config;
use filter_core::{FakeHost, HeaderMap};

fn cfg(extra: &str) -> EventsConfig {
    let json = format!(
        r#"{{"events":{{"cluster":"collector","flush_interval_ms":1000,"timeout_ms":2000,
            "backoff_initial_ms":1000,"backoff_max_ms":8000,"max_batch_events":3,
            "max_buffer_events":5{extra}}}}}"#
    );
    config::parse(json.as_bytes()).unwrap().events.unwrap()
}

fn ok(status: &str) -> Result<CallResponse, CallFailure> {
    Ok(CallResponse {
        headers: HeaderMap::from_pairs([(":status", status)]),
        body: Vec::new(),
    })
}

fn setup(extra: &str) -> (Sink, MetricSet, FakeHost) {
    let mut host = FakeHost::new();
    host.clusters = vec!["collector".into()];
    (Sink::new(cfg(extra)), MetricSet::new(100, "other"), host)
}

fn push_n(sink: &mut Sink, m: &MetricSet, h: &mut FakeHost, from: usize, n: usize) {
    for i in from..from + n {
        sink.push(format!("{{\"n\":{i}}}").into_bytes(), m, h);
    }
}

fn metric(h: &FakeHost, name: &str) -> i64 {
    h.metric(name).unwrap_or(0)
}

#[test]
fn a_tick_posts_one_batch_of_json_lines() {
    let (mut sink, m, mut h) = setup("");
    sink.on_tick(&m, &mut h);
    assert!(h.calls.is_empty(), "nothing to send");
    push_n(&mut sink, &m, &mut h, 0, 4);
    sink.on_tick(&m, &mut h);
    assert_eq!(h.calls.len(), 1);
    let (token, call) = h.calls[0].clone();
    assert_eq!(call.upstream, "collector");
    assert_eq!(
        call.body, b"{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n",
        "max_batch_events = 3"
    );
    assert!(call
        .headers
        .contains(&("content-type".into(), BATCH_CONTENT_TYPE.into())));
    assert!(call.headers.contains(&(":path".into(), "/events".into())));
    assert_eq!(call.timeout, Duration::from_secs(2));
    sink.on_tick(&m, &mut h);
    assert_eq!(h.calls.len(), 1, "one batch in flight at a time");
    sink.on_response(token, ok("204"), &m, &mut h);
    assert_eq!(metric(&h, EVENTS_SENT_TOTAL), 3);
    assert_eq!(sink.held() as i64, 1);
    sink.on_tick(&m, &mut h);
    assert_eq!(h.calls[1].1.body, b"{\"n\":3}\n");
}

#[test]
fn a_whole_batch_waiting_goes_as_soon_as_the_previous_one_succeeds() {
    let (mut sink, m, mut h) = setup("");
    push_n(&mut sink, &m, &mut h, 0, 5);
    sink.on_tick(&m, &mut h);
    push_n(&mut sink, &m, &mut h, 5, 2);
    assert_eq!(
        (h.calls.len(), sink.buffered()),
        (1, 4),
        "one in flight, four waiting"
    );
    let first = h.calls[0].0;
    sink.on_response(first, ok("200"), &m, &mut h);
    assert_eq!(
        h.calls.len(),
        2,
        "three of the four waiting make a batch: sent at once"
    );
    assert_eq!(h.calls[1].1.body, b"{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n");
    sink.on_response(h.calls[1].0, ok("200"), &m, &mut h);
    assert_eq!(
        h.calls.len(),
        2,
        "one event is not a batch: it waits for the tick"
    );
    sink.on_tick(&m, &mut h);
    assert_eq!(h.calls[2].1.body, b"{\"n\":6}\n");
    sink.on_response(h.calls[2].0, ok("200"), &m, &mut h);
    assert_eq!(metric(&h, EVENTS_SENT_TOTAL), 7);
    assert_eq!(sink.held() as i64, 0);
    assert_eq!(metric(&h, EVENTS_DROPPED_TOTAL), 0);
}

#[test]
fn a_failed_batch_waits_for_the_backoff_even_with_a_batch_waiting() {
    let (mut sink, m, mut h) = setup("");
    push_n(&mut sink, &m, &mut h, 0, 5);
    sink.on_tick(&m, &mut h);
    push_n(&mut sink, &m, &mut h, 5, 1);
    sink.on_response(h.calls[0].0, ok("503"), &m, &mut h);
    assert_eq!(
        h.calls.len(),
        1,
        "no new POST before the backoff has passed"
    );
    assert_eq!(
        sink.buffered(),
        5,
        "the batch is back, the oldest beyond the bound dropped"
    );
}

#[test]
fn the_oldest_events_are_dropped_and_counted() {
    let (mut sink, m, mut h) = setup("");
    push_n(&mut sink, &m, &mut h, 0, 8);
    assert_eq!(sink.buffered(), 5);
    assert_eq!(metric(&h, EVENTS_DROPPED_TOTAL), 3);
    assert_eq!(sink.held() as i64, 5);
    sink.on_tick(&m, &mut h);
    assert!(
        h.calls[0].1.body.starts_with(b"{\"n\":3}\n"),
        "oldest went first"
    );
}

#[test]
fn byte_bounds_apply_to_buffer_and_batch() {
    let (mut sink, m, mut h) = setup(r#","max_batch_bytes":1024,"max_buffer_bytes":2048"#);
    for i in 0..3 {
        sink.push(format!("{i}{}", "x".repeat(700)).into_bytes(), &m, &mut h);
    }
    assert_eq!(sink.buffered(), 2, "three 702-byte lines exceed 2048 bytes");
    assert!(sink.buffered_bytes() <= 2048);
    sink.on_tick(&m, &mut h);
    assert_eq!(
        h.calls[0].1.body.len(),
        702,
        "a batch holds one line under 1024 bytes"
    );
    sink.push("y".repeat(5000).into_bytes(), &m, &mut h);
    assert_eq!(
        metric(&h, EVENTS_DROPPED_TOTAL),
        2,
        "an event over the buffer is dropped"
    );
}

#[test]
fn failures_back_off_exponentially_and_keep_the_events() {
    let (mut sink, m, mut h) = setup("");
    h.clusters = vec!["elsewhere".into()];
    push_n(&mut sink, &m, &mut h, 0, 2);
    let mut waits = Vec::new();
    for _ in 0..6 {
        let before = h.now;
        sink.on_tick(&m, &mut h);
        let next = sink.next_attempt().unwrap();
        waits.push(next.duration_since(before).unwrap().as_secs());
        // Ticks before the backoff ends do nothing.
        h.advance(Duration::from_millis(500));
        sink.on_tick(&m, &mut h);
        h.now = next;
    }
    assert_eq!(waits, [1, 2, 4, 8, 8, 8], "doubling, capped at backoff_max");
    assert_eq!(metric(&h, FLUSH_FAILURES_TOTAL), 6);
    assert_eq!(sink.buffered(), 2, "missing cluster loses nothing");
    h.clusters = vec!["collector".into()];
    sink.on_tick(&m, &mut h);
    let token = h.calls[0].0;
    sink.on_response(token, ok("200"), &m, &mut h);
    assert_eq!(sink.failures(), 0);
    assert_eq!(sink.next_attempt(), None);
    assert_eq!(metric(&h, EVENTS_SENT_TOTAL), 2);
}

#[test]
fn failed_answers_requeue_the_batch() {
    let cases: &[(&str, Result<CallResponse, CallFailure>)] = &[
        ("status 500", ok("500")),
        ("status 429", ok("429")),
        ("no status", ok("abc")),
        (
            "timeout",
            Err(CallFailure {
                reason: "timeout".into(),
            }),
        ),
        (
            "reset",
            Err(CallFailure {
                reason: "reset".into(),
            }),
        ),
    ];
    for (why, answer) in cases {
        let (mut sink, m, mut h) = setup("");
        push_n(&mut sink, &m, &mut h, 0, 4);
        sink.on_tick(&m, &mut h);
        let token = h.calls[0].0;
        sink.on_response(token + 4, ok("200"), &m, &mut h);
        assert_eq!(sink.in_flight(), 3, "{why}: unknown token ignored");
        sink.on_response(token, answer.clone(), &m, &mut h);
        assert_eq!(sink.buffered(), 4, "{why}");
        assert_eq!(sink.failures(), 1, "{why}");
        assert_eq!(metric(&h, EVENTS_SENT_TOTAL), 0, "{why}");
        h.advance(Duration::from_secs(1));
        sink.on_tick(&m, &mut h);
        assert_eq!(
            h.calls[1].1.body, h.calls[0].1.body,
            "{why}: same batch again"
        );
    }
}

#[test]
fn a_call_never_answered_counts_as_failed() {
    let (mut sink, m, mut h) = setup("");
    push_n(&mut sink, &m, &mut h, 0, 1);
    sink.on_tick(&m, &mut h);
    let token = h.calls[0].0;
    h.advance(Duration::from_secs(4));
    sink.on_tick(&m, &mut h);
    assert_eq!(sink.in_flight(), 1, "still within 2 x timeout + interval");
    h.advance(Duration::from_secs(1));
    sink.on_tick(&m, &mut h);
    assert_eq!(sink.in_flight(), 0);
    assert_eq!(sink.buffered(), 1);
    assert_eq!(metric(&h, FLUSH_FAILURES_TOTAL), 1);
    sink.on_response(token, ok("200"), &m, &mut h);
    assert_eq!(metric(&h, EVENTS_SENT_TOTAL), 0, "late answer ignored");
}

#[test]
fn an_outage_keeps_memory_bounded_and_accounting_exact() {
    let (mut sink, m, mut h) = setup("");
    h.clusters = vec!["down".into()];
    let produced = 10_000;
    for i in 0..produced {
        sink.push(format!("{{\"n\":{i}}}").into_bytes(), &m, &mut h);
        if i % 100 == 0 {
            h.advance(Duration::from_millis(700));
            sink.on_tick(&m, &mut h);
        }
        assert!(sink.buffered() <= 5);
    }
    h.clusters = vec!["collector".into()];
    h.advance(Duration::from_secs(60));
    loop {
        sink.on_tick(&m, &mut h);
        let Some((token, _)) = h.calls.last().cloned() else {
            break;
        };
        if sink.in_flight() == 0 {
            break;
        }
        sink.on_response(token, ok("200"), &m, &mut h);
    }
    let sent = metric(&h, EVENTS_SENT_TOTAL);
    let dropped = metric(&h, EVENTS_DROPPED_TOTAL);
    assert_eq!(sent, 5, "the newest five survive");
    assert_eq!(sent + dropped, produced, "produced = sent + dropped");
    assert_eq!(sink.held() as i64, 0);
    assert!(h.calls.last().unwrap().1.body.ends_with(b"{\"n\":9999}\n"));
}
