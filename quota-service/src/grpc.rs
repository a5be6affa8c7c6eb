//! Envoy's rate limit service v3: `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`.
//!
//! Malformed requests are INVALID_ARGUMENT, storage failures UNAVAILABLE: any status but OK is a
//! service failure to the filter (and to Envoy's own rate limit filter, whose
//! `failure_mode_deny` then decides).

use std::sync::Arc;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tonic::{Request, Response, Status};

use crate::check::{CheckError, Checker};

/// Largest request message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The gRPC service over a [`Checker`].
pub struct Rls {
    checker: Arc<Checker>,
}

impl Rls {
    /// The service, ready to add to a tonic server.
    pub fn server(checker: Arc<Checker>) -> RateLimitServiceServer<Rls> {
        RateLimitServiceServer::new(Rls { checker }).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// The gRPC status for a check error.
pub fn status(err: &CheckError) -> Status {
    match err {
        CheckError::Invalid(m) => Status::invalid_argument(m.clone()),
        CheckError::Unavailable(m) => Status::unavailable(m.clone()),
        CheckError::Internal(m) => Status::internal(m.clone()),
    }
}

#[tonic::async_trait]
impl RateLimitService for Rls {
    async fn should_rate_limit(
        &self,
        request: Request<RateLimitRequest>,
    ) -> Result<Response<RateLimitResponse>, Status> {
        match self.checker.check(request.get_ref()).await {
            Ok(response) => Ok(Response::new(response)),
            Err(err) => Err(status(&err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
    use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
    use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
        Code, DescriptorStatus, RateLimit,
    };
    use envoy_types::pb::google::protobuf::Duration as PbDuration;
    use filter_quota::rls;
    use prost::Message;
    use tonic::Code as GrpcCode;

    #[test]
    fn errors_map_to_grpc_codes() {
        assert_eq!(
            status(&CheckError::Invalid("x".into())).code(),
            GrpcCode::InvalidArgument
        );
        assert_eq!(
            status(&CheckError::Unavailable("x".into())).code(),
            GrpcCode::Unavailable
        );
        assert_eq!(
            status(&CheckError::Internal("x".into())).code(),
            GrpcCode::Internal
        );
    }

    /// The filter declares the messages by hand; Envoy's generated types must read what it
    /// writes, field by field.
    #[test]
    fn the_filters_request_is_envoys_request() {
        let entries = [
            (rls::entry::PLAN, "gold"),
            (rls::entry::LIMIT, "per-minute"),
            (rls::entry::WINDOW, "29000000"),
            (rls::entry::KEY, "c:alice"),
            (rls::entry::SCOPE, "api:orders"),
        ];
        let sent = rls::RateLimitRequest {
            domain: "gateway".into(),
            descriptors: vec![
                rls::RateLimitDescriptor {
                    entries: entries
                        .iter()
                        .map(|(k, v)| rls::Entry {
                            key: (*k).into(),
                            value: (*v).into(),
                        })
                        .collect(),
                };
                2
            ],
            hits_addend: 7,
        };
        let got = RateLimitRequest::decode(sent.encode_bytes().as_slice()).expect("decodes");
        assert_eq!(got.domain, "gateway");
        assert_eq!(got.hits_addend, 7);
        assert_eq!(got.descriptors.len(), 2);
        let d: &RateLimitDescriptor = &got.descriptors[1];
        let pairs: Vec<(&str, &str)> = d
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(pairs, entries);
        assert!(d.limit.is_none() && d.hits_addend.is_none() && !d.is_negative_hits);
        // And back: Envoy's encoding is the filter's.
        assert_eq!(
            rls::RateLimitRequest::decode(got.encode_to_vec().as_slice()).expect("decodes"),
            sent
        );
    }

    /// The filter must read every field of Envoy's response it declares.
    #[test]
    fn envoys_response_is_the_filters_response() {
        let sent = RateLimitResponse {
            overall_code: Code::OverLimit as i32,
            statuses: vec![
                DescriptorStatus {
                    code: Code::Ok as i32,
                    current_limit: Some(RateLimit {
                        name: "per-minute".into(),
                        requests_per_unit: 10,
                        unit: Unit::Minute as i32,
                    }),
                    limit_remaining: 7,
                    duration_until_reset: Some(PbDuration {
                        seconds: 41,
                        nanos: 500_000_000,
                    }),
                    quota: None,
                },
                DescriptorStatus {
                    code: Code::OverLimit as i32,
                    current_limit: Some(RateLimit {
                        name: "per-month".into(),
                        requests_per_unit: u32::MAX,
                        unit: Unit::Week as i32,
                    }),
                    limit_remaining: 0,
                    duration_until_reset: Some(PbDuration {
                        seconds: 86_400,
                        nanos: 1_000,
                    }),
                    quota: None,
                },
            ],
            ..Default::default()
        };
        let got = rls::RateLimitResponse::decode_bytes(&sent.encode_to_vec()).expect("decodes");
        assert!(!got.admitted());
        assert_eq!(got.overall_code, rls::Code::OverLimit as i32);
        assert_eq!(got.statuses.len(), 2);
        let first = &got.statuses[0];
        assert_eq!(first.code, rls::Code::Ok as i32);
        assert_eq!(first.limit_remaining, 7);
        assert_eq!(
            first.current_limit,
            Some(rls::RateLimit {
                requests_per_unit: 10,
                unit: 2,
                name: "per-minute".into(),
            })
        );
        assert_eq!(
            first.duration_until_reset.map(|d| d.as_micros()),
            Some(41_500_000)
        );
        let second = &got.statuses[1];
        assert_eq!(second.code, rls::Code::OverLimit as i32);
        assert_eq!(
            second
                .current_limit
                .as_ref()
                .map(|l| (l.requests_per_unit, l.unit)),
            Some((u32::MAX, 7))
        );
        assert_eq!(
            second.duration_until_reset.map(|d| d.as_micros()),
            Some(86_400_000_001)
        );
        // The codes' numbers agree.
        for (envoy, filter) in [
            (Code::Unknown, rls::Code::Unknown),
            (Code::Ok, rls::Code::Ok),
            (Code::OverLimit, rls::Code::OverLimit),
        ] {
            assert_eq!(envoy as i32, filter as i32);
        }
        let ok = RateLimitResponse {
            overall_code: Code::Ok as i32,
            ..Default::default()
        };
        assert!(rls::RateLimitResponse::decode_bytes(&ok.encode_to_vec())
            .expect("decodes")
            .admitted());
    }
}
