//! Tests of [`Chain`] with recording members on the fake host.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;

use super::*;
use crate::fake::FakeHost;
use crate::reply::{LocalReply, Problem};

thread_local! {
    static EVENTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn event(e: String) {
    EVENTS.with(|v| v.borrow_mut().push(e));
}

fn take_events() -> Vec<String> {
    EVENTS.with(|v| std::mem::take(&mut *v.borrow_mut()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecConfig {
    #[serde(default)]
    reply: bool,
    #[serde(default)]
    pause: bool,
    #[serde(default)]
    tick_secs: Option<u64>,
    #[serde(default)]
    blind: bool,
}

struct Rec<const ID: u8> {
    config: RecConfig,
}

struct RecStream<const ID: u8> {
    plugin: Rc<Rec<ID>>,
}

impl<const ID: u8> Plugin for Rec<ID> {
    const NAME: &'static str = "rec";
    type Stream = RecStream<ID>;

    fn configure(config: &[u8], _host: &mut dyn Host) -> Result<Self, ConfigError> {
        Ok(Self {
            config: from_json(config)?,
        })
    }

    fn new_stream(plugin: &Rc<Self>) -> Self::Stream {
        RecStream {
            plugin: plugin.clone(),
        }
    }

    fn tick_period(&self) -> Option<Duration> {
        self.config.tick_secs.map(Duration::from_secs)
    }

    fn on_tick(&self, host: &mut dyn Host) {
        event(format!("{ID} tick"));
        let _ = host.http_call(&HttpCall::get("c", "/", Duration::from_secs(1)));
    }

    fn on_call_response(
        &self,
        token: u32,
        _response: Result<CallResponse, CallFailure>,
        _host: &mut dyn Host,
    ) {
        event(format!("{ID} root-call {token}"));
    }
}

impl<const ID: u8> Stream for RecStream<ID> {
    fn reads_response_headers(&self) -> bool {
        !self.plugin.config.blind
    }

    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        _eos: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let seen = headers.get_str("x-trail").unwrap_or("").to_string();
        event(format!("{ID} request saw [{seen}]"));
        headers.set("x-trail", format!("{seen}{ID}"));
        if self.plugin.config.reply {
            return LocalReply::problem(&Problem::new(401, "no", "No")).into();
        }
        if self.plugin.config.pause {
            let _ = host.http_call(&HttpCall::get("c", "/", Duration::from_secs(1)));
            return Decision::Pause;
        }
        Decision::Continue
    }

    fn on_request_forwarded(&mut self, headers: &HeaderMap) {
        let trail = headers.get_str("x-trail").unwrap_or("");
        event(format!("{ID} forwarded [{trail}]"));
    }

    fn on_call_response(
        &mut self,
        token: u32,
        _response: Result<CallResponse, CallFailure>,
        _headers: &mut HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        event(format!("{ID} stream-call {token}"));
        Decision::Continue
    }

    fn on_response_headers(
        &mut self,
        _headers: &mut HeaderMap,
        _eos: bool,
        _host: &mut dyn Host,
    ) -> Decision {
        event(format!("{ID} response"));
        Decision::Continue
    }

    fn on_log(&mut self, _host: &mut dyn Host) {
        event(format!("{ID} log"));
    }
}

struct Spec;
impl ChainSpec for Spec {
    const NAME: &'static str = "test-chain";
    const MEMBERS: &'static [(&'static str, Factory)] = &[
        ("one", factory::<Rec<1>>),
        ("two", factory::<Rec<2>>),
        ("three", factory::<Rec<3>>),
    ];
}

fn chain(config: &str, host: &mut FakeHost) -> Rc<Chain<Spec>> {
    take_events();
    Rc::new(Chain::<Spec>::configure(config.as_bytes(), host).unwrap())
}

fn ok_response() -> Result<CallResponse, CallFailure> {
    Ok(CallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: Vec::new(),
    })
}

#[test]
fn runs_members_in_envoy_order_and_shares_edits() {
    // Once all continued, every member sees the headers as forwarded, later members' edits too.
    let mut host = FakeHost::new();
    // Key order in the config does not change the run order.
    let c = chain(r#"{"three": {}, "one": {}}"#, &mut host);
    assert_eq!(c.member_names(), ["one", "three"]);
    let mut s = Chain::new_stream(&c);
    let mut h = HeaderMap::default();
    assert_eq!(
        s.on_request_headers(&mut h, true, &mut host),
        Decision::Continue
    );
    assert_eq!(
        s.on_response_headers(&mut HeaderMap::default(), true, &mut host),
        Decision::Continue
    );
    s.on_log(&mut host);
    assert_eq!(
        take_events(),
        [
            "1 request saw []",
            "3 request saw [1]",
            "1 forwarded [13]",
            "3 forwarded [13]",
            "3 response",
            "1 response",
            "1 log",
            "3 log"
        ]
    );
    assert_eq!(h.get_str("x-trail"), Some("13"));
}

#[test]
fn a_local_reply_stops_later_members_but_all_log() {
    // A refused request is not forwarded: no member hears of it.
    let mut host = FakeHost::new();
    let c = chain(
        r#"{"one": {}, "two": {"reply": true}, "three": {}}"#,
        &mut host,
    );
    let mut s = Chain::new_stream(&c);
    let d = s.on_request_headers(&mut HeaderMap::default(), true, &mut host);
    assert!(matches!(d, Decision::Respond(r) if r.status == 401));
    s.on_log(&mut host);
    assert_eq!(
        take_events(),
        [
            "1 request saw []",
            "2 request saw [1]",
            "1 log",
            "2 log",
            "3 log"
        ]
    );
}

#[test]
fn a_paused_member_resumes_the_chain_after_its_callout() {
    let mut host = FakeHost::new();
    let c = chain(r#"{"one": {"pause": true}, "two": {}}"#, &mut host);
    let mut s = Chain::new_stream(&c);
    let mut h = HeaderMap::default();
    assert_eq!(
        s.on_request_headers(&mut h, true, &mut host),
        Decision::Pause
    );
    assert_eq!(take_events(), ["1 request saw []"]);
    let token = host.calls[0].0;
    let d = s.on_call_response(token, ok_response(), &mut h, &mut host);
    assert_eq!(d, Decision::Continue);
    assert_eq!(
        take_events(),
        [
            format!("1 stream-call {token}"),
            "2 request saw [1]".into(),
            "1 forwarded [12]".into(),
            "2 forwarded [12]".into()
        ]
    );
}

#[test]
fn ticks_each_member_at_its_own_period_and_routes_root_callouts() {
    let mut host = FakeHost::new();
    let c = chain(
        r#"{"one": {"tick_secs": 1}, "two": {"tick_secs": 3}}"#,
        &mut host,
    );
    assert_eq!(c.tick_period(), Some(Duration::from_secs(1)));
    for _ in 0..4 {
        c.on_tick(&mut host);
        host.advance(Duration::from_secs(1));
    }
    assert_eq!(
        take_events(),
        ["1 tick", "2 tick", "1 tick", "1 tick", "1 tick", "2 tick"]
    );
    // The second call was made by member two: its response goes to member two.
    let token = host.calls[1].0;
    c.on_call_response(token, ok_response(), &mut host);
    c.on_call_response(token, ok_response(), &mut host);
    assert_eq!(
        take_events(),
        [format!("2 root-call {token}")],
        "a token is delivered once"
    );
}

#[test]
fn config_errors_name_the_member_field() {
    let mut host = FakeHost::new();
    let cases = [
        (r#"{"four": {}}"#, "four", "unknown member"),
        (r#"{"two": {"pause": 3}}"#, "two.pause", "invalid type"),
        (r#"{"one": {"bogus": 1}}"#, "one.bogus", "unknown field"),
        ("{}", ".", "no member configured"),
        ("[]", ".", "invalid type"),
    ];
    for (config, field, message) in cases {
        let err = Chain::<Spec>::configure(config.as_bytes(), &mut host)
            .err()
            .unwrap_or_else(|| panic!("{config} must be refused"));
        assert_eq!(err.field, field, "{config}: {err}");
        assert!(err.message.contains(message), "{config}: {err}");
    }
}

#[test]
fn the_chain_reads_response_headers_when_any_member_does() {
    let mut host = FakeHost::new();
    for (config, reads) in [
        (
            r#"{"one": {"blind": true}, "three": {"blind": true}}"#,
            false,
        ),
        (r#"{"one": {"blind": true}, "two": {}}"#, true),
        (r#"{"three": {}}"#, true),
    ] {
        let chain = Rc::new(Chain::<Spec>::configure(config.as_bytes(), &mut host).unwrap());
        assert_eq!(
            Chain::new_stream(&chain).reads_response_headers(),
            reads,
            "{config}"
        );
    }
}
