//! Reading the wire structs from the parsed JSON document (unknown members are errors).

use filter_core::config::Field;
use filter_core::ConfigError;

use super::{
    consumer_header, credential_header, eight, groups_header, million, one, one_u64, plan_header,
    thousand, yes, AlgorithmName, ChargeAt, GlobalOnError, KeySource, Mode, OnErrorName, Protocol,
    RawConfig, RawConsumer, RawCost, RawGlobal, RawHeaders, RawIdentity, RawKey, RawLimit, RawPlan,
    RawReport, RawRoute, RawStore, Scope, Unidentified,
};
use crate::window::Unit;

type Result<T> = std::result::Result<T, ConfigError>;

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "plans",
            "default_plan",
            "consumers",
            "key",
            "identity",
            "routes",
            "cost",
            "headers",
            "shadow",
            "store",
            "report",
            "unidentified",
        ])?;
        Ok(Self {
            plans: o.req("plans", |f| f.list(RawPlan::read))?,
            default_plan: o.opt("default_plan", Field::string)?,
            consumers: o.or_default("consumers", |f| f.list(RawConsumer::read))?,
            key: o.or_default("key", RawKey::read)?,
            identity: o.or_default("identity", RawIdentity::read)?,
            routes: o.or_default("routes", |f| f.list(RawRoute::read))?,
            cost: o.or_default("cost", RawCost::read)?,
            headers: o.or_default("headers", RawHeaders::read)?,
            shadow: o.or_default("shadow", Field::bool)?,
            store: o.or_default("store", RawStore::read)?,
            report: o.opt("report", RawReport::read)?,
            unidentified: o.or_default("unidentified", |f| {
                f.choice(&[
                    ("allow", Unidentified::Allow),
                    ("reject", Unidentified::Reject),
                ])
            })?,
        })
    }
}

impl RawPlan {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "limits"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            limits: o.req("limits", |f| f.list(RawLimit::read))?,
        })
    }
}

impl RawLimit {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "name",
            "limit",
            "window",
            "window_size",
            "calendar",
            "algorithm",
            "burst",
            "charge",
        ])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            limit: o.req("limit", Field::u64)?,
            window: o.req("window", unit)?,
            window_size: o.or("window_size", Field::u32, one())?,
            calendar: o.or_default("calendar", Field::bool)?,
            algorithm: o.or_default("algorithm", |f| {
                f.choice(&[
                    ("fixed_window", AlgorithmName::FixedWindow),
                    ("sliding_window", AlgorithmName::SlidingWindow),
                    ("gcra", AlgorithmName::Gcra),
                ])
            })?,
            burst: o.opt("burst", Field::u64)?,
            charge: o.or_default("charge", |f| {
                f.choice(&[
                    ("request", ChargeAt::Request),
                    ("response", ChargeAt::Response),
                ])
            })?,
        })
    }
}

fn unit(f: Field<'_>) -> Result<Unit> {
    f.choice(&[
        ("second", Unit::Second),
        ("minute", Unit::Minute),
        ("hour", Unit::Hour),
        ("day", Unit::Day),
        ("week", Unit::Week),
        ("month", Unit::Month),
    ])
}

impl RawConsumer {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["id", "plan"])?;
        Ok(Self {
            id: o.req("id", Field::string)?,
            plan: o.opt("plan", Field::string)?,
        })
    }
}

impl RawKey {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["source", "header", "buckets", "per"])?;
        Ok(Self {
            source: o.or_default("source", |f| {
                f.choice(&[
                    ("consumer", KeySource::Consumer),
                    ("api_key", KeySource::ApiKey),
                    ("client_address", KeySource::ClientAddress),
                    ("header", KeySource::Header),
                ])
            })?,
            header: o.opt("header", Field::string)?,
            buckets: o.opt("buckets", Field::u32)?,
            per: o.or_default("per", |f| {
                f.choice(&[
                    ("none", Scope::None),
                    ("api", Scope::Api),
                    ("route", Scope::Route),
                    ("version", Scope::Version),
                ])
            })?,
        })
    }
}

impl RawIdentity {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "consumer_header",
            "plan_header",
            "groups_header",
            "credential_header",
        ])?;
        Ok(Self {
            consumer_header: o.or("consumer_header", Field::string, consumer_header())?,
            plan_header: o.or("plan_header", Field::string, plan_header())?,
            groups_header: o.or("groups_header", Field::string, groups_header())?,
            credential_header: o.or("credential_header", Field::string, credential_header())?,
        })
    }
}

impl RawRoute {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "path_prefix", "methods", "api", "version", "cost"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            path_prefix: o.req("path_prefix", Field::string)?,
            methods: o.or_default("methods", Field::strings)?,
            api: o.opt("api", Field::string)?,
            version: o.opt("version", Field::string)?,
            cost: o.opt("cost", Field::u64)?,
        })
    }
}

impl RawCost {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "min", "max", "response_header", "response_max"])?;
        Ok(Self {
            header: o.opt("header", Field::string)?,
            min: o.or("min", Field::u64, one_u64())?,
            max: o.or("max", Field::u64, thousand())?,
            response_header: o.opt("response_header", Field::string)?,
            response_max: o.or("response_max", Field::u64, million())?,
        })
    }
}

impl RawHeaders {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["on_success", "ietf", "x_ratelimit"])?;
        Ok(Self {
            on_success: o.or_default("on_success", Field::bool)?,
            ietf: o.or("ietf", Field::bool, yes())?,
            x_ratelimit: o.or("x_ratelimit", Field::bool, yes())?,
        })
    }
}

impl RawStore {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["max_attempts", "on_error", "global"])?;
        Ok(Self {
            max_attempts: o.or("max_attempts", Field::u32, eight())?,
            on_error: o.or_default("on_error", |f| {
                f.choice(&[
                    ("admit", OnErrorName::Admit),
                    ("refuse", OnErrorName::Refuse),
                ])
            })?,
            global: o.opt("global", RawGlobal::read)?,
        })
    }
}

impl RawGlobal {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "cluster",
            "protocol",
            "path",
            "domain",
            "mode",
            "block",
            "timeout_ms",
            "on_error",
            "instances",
            "max_pending",
        ])?;
        Ok(Self {
            cluster: o.req("cluster", Field::string)?,
            protocol: o.or_default("protocol", |f| {
                f.choice(&[("grpc", Protocol::Grpc), ("http", Protocol::Http)])
            })?,
            path: o.opt("path", Field::string)?,
            domain: o.or("domain", Field::string, "gateway".to_owned())?,
            mode: o.or_default("mode", |f| {
                f.choice(&[("exact", Mode::Exact), ("leased", Mode::Leased)])
            })?,
            block: o.opt("block", Field::u32)?,
            timeout_ms: o.or("timeout_ms", Field::u32, 50)?,
            on_error: o.or_default("on_error", |f| {
                f.choice(&[
                    ("allow", GlobalOnError::Allow),
                    ("deny", GlobalOnError::Deny),
                    ("local", GlobalOnError::Local),
                ])
            })?,
            instances: o.or("instances", Field::u32, 1)?,
            max_pending: o.or("max_pending", Field::u32, 1_024)?,
        })
    }
}

impl RawReport {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["path", "group"])?;
        Ok(Self {
            path: o.req("path", Field::string)?,
            group: o.req("group", Field::string)?,
        })
    }
}
