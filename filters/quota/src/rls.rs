//! The messages of Envoy's rate limit service v3 (`envoy.service.ratelimit.v3`), declared with
//! `prost` derive: `ShouldRateLimit` takes a [`RateLimitRequest`] and answers a
//! [`RateLimitResponse`]. Only the fields the global store uses are declared; prost skips the
//! others when decoding. The field numbers are those of Envoy's `rls.proto` and
//! `ratelimit.proto`; quota-service's tests check them against the `envoy-types` crate.
//!
//! The same messages travel over HTTP as proto3 JSON (see [`crate::global`]).

use prost::Message;

/// The gRPC service name.
pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
/// The gRPC method name.
pub const METHOD: &str = "ShouldRateLimit";

/// Descriptor entry keys the global store sends, in this order, in each descriptor.
pub mod entry {
    /// The plan name.
    pub const PLAN: &str = "quota_plan";
    /// The limit name.
    pub const LIMIT: &str = "quota_limit";
    /// The id of the limit's window at the gateway's clock (decimal), so counters follow the
    /// filter's windows (epoch or calendar aligned) whatever the service's own windows are.
    pub const WINDOW: &str = "quota_window";
    /// The metered subject: `c:<consumer>`, `k:<key digest>` or `b:<bucket>`.
    pub const KEY: &str = "quota_key";
    /// The scope: `-`, `api:<api>`, `route:<route>` or `version:<version>`.
    pub const SCOPE: &str = "quota_scope";
}

/// `RateLimitRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitRequest {
    /// The rate limit domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// One descriptor per limit of the plan, in plan order.
    #[prost(message, repeated, tag = "2")]
    pub descriptors: Vec<RateLimitDescriptor>,
    /// Units to add to every descriptor's counter (the request's cost, or a lease block).
    #[prost(uint32, tag = "3")]
    pub hits_addend: u32,
}

/// `envoy.extensions.common.ratelimit.v3.RateLimitDescriptor`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitDescriptor {
    /// Ordered entries.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Entry>,
}

/// `RateLimitDescriptor.Entry`.
#[derive(Clone, PartialEq, Message)]
pub struct Entry {
    /// Entry key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Entry value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `RateLimitResponse.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Code {
    /// No answer.
    Unknown = 0,
    /// Under the limit.
    Ok = 1,
    /// Over the limit.
    OverLimit = 2,
}

/// `RateLimitResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitResponse {
    /// OVER_LIMIT if any descriptor is over its limit.
    #[prost(enumeration = "Code", tag = "1")]
    pub overall_code: i32,
    /// One status per descriptor, in request order.
    #[prost(message, repeated, tag = "2")]
    pub statuses: Vec<DescriptorStatus>,
}

/// `RateLimitResponse.DescriptorStatus`.
#[derive(Clone, PartialEq, Message)]
pub struct DescriptorStatus {
    /// This descriptor's code.
    #[prost(enumeration = "Code", tag = "1")]
    pub code: i32,
    /// The limit that applied.
    #[prost(message, optional, tag = "2")]
    pub current_limit: Option<RateLimit>,
    /// Units left in the window (after this request's hits when it was admitted).
    #[prost(uint32, tag = "3")]
    pub limit_remaining: u32,
    /// Time until the window resets.
    #[prost(message, optional, tag = "4")]
    pub duration_until_reset: Option<Duration>,
}

/// `RateLimitResponse.RateLimit`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimit {
    /// Units per `unit`.
    #[prost(uint32, tag = "1")]
    pub requests_per_unit: u32,
    /// `RateLimit.Unit`: 0 unknown, 1 second, 2 minute, 3 hour, 4 day, 5 month, 6 year, 7 week.
    #[prost(int32, tag = "2")]
    pub unit: i32,
    /// The limit's name.
    #[prost(string, tag = "3")]
    pub name: String,
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Duration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds, 0 to 999,999,999.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Duration {
    /// The duration in microseconds (0 if negative).
    pub fn as_micros(&self) -> u64 {
        let secs = u64::try_from(self.seconds).unwrap_or(0);
        let nanos = u64::try_from(self.nanos).unwrap_or(0);
        secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
    }

    /// A duration of `us` microseconds.
    pub fn from_micros(us: u64) -> Self {
        Self {
            seconds: i64::try_from(us / 1_000_000).unwrap_or(i64::MAX),
            nanos: i32::try_from((us % 1_000_000) * 1_000).unwrap_or(0),
        }
    }
}

impl RateLimitRequest {
    /// The protobuf encoding.
    pub fn encode_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

impl RateLimitResponse {
    /// Decodes a response; `None` if the bytes are not one.
    pub fn decode_bytes(bytes: &[u8]) -> Option<Self> {
        Self::decode(bytes).ok()
    }

    /// Whether the request was admitted.
    pub fn admitted(&self) -> bool {
        self.overall_code == Code::Ok as i32
    }
}
