//! Reading the wire structs from the parsed JSON document (unknown members are errors).

use filter_core::config::Field;
use filter_core::ConfigError;

use super::{
    default_cluster_header, default_consumer_header, default_cookie, default_credential_header,
    default_groups_header, default_max_age, default_max_path, default_override_header,
    default_steps, default_unknown_status, default_version_header, default_version_param, hundred,
    yes, Conflicts, RawCanary, RawConfig, RawCookie, RawIdentity, RawOutput, RawOverride, RawRamp,
    RawSticky, RawVersion, Source,
};
use crate::lifecycle::Lifecycle;

type Result<T> = std::result::Result<T, ConfigError>;

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "api",
            "sources",
            "header",
            "query",
            "default_version",
            "unknown_status",
            "conflicts",
            "case_sensitive",
            "strip_prefix",
            "max_path_bytes",
            "identity",
            "output",
            "versions",
            "canaries",
            "sticky",
            "override",
        ])?;
        Ok(Self {
            api: o.opt("api", Field::string)?,
            sources: o.opt("sources", |f| f.list(source))?,
            header: o.or("header", Field::string, default_version_param())?,
            query: o.or("query", Field::string, default_version_param())?,
            default_version: o.opt("default_version", Field::string)?,
            unknown_status: o.or("unknown_status", Field::u16, default_unknown_status())?,
            conflicts: o.or_default("conflicts", |f| {
                f.choice(&[("reject", Conflicts::Reject), ("first", Conflicts::First)])
            })?,
            case_sensitive: o.or("case_sensitive", Field::bool, yes())?,
            strip_prefix: o.or("strip_prefix", Field::bool, yes())?,
            max_path_bytes: o.or("max_path_bytes", Field::usize, default_max_path())?,
            identity: o.or_default("identity", RawIdentity::read)?,
            output: o.or_default("output", RawOutput::read)?,
            versions: o.req("versions", |f| f.list(RawVersion::read))?,
            canaries: o.or_default("canaries", |f| f.list(RawCanary::read))?,
            sticky: o.or_default("sticky", RawSticky::read)?,
            override_: o.opt("override", RawOverride::read)?,
        })
    }
}

fn source(f: Field<'_>) -> Result<Source> {
    f.choice(&[
        ("path", Source::Path),
        ("header", Source::Header),
        ("query", Source::Query),
        ("accept", Source::Accept),
    ])
}

impl RawIdentity {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["consumer_header", "groups_header", "credential_header"])?;
        Ok(Self {
            consumer_header: o.or("consumer_header", Field::string, default_consumer_header())?,
            groups_header: o.or("groups_header", Field::string, default_groups_header())?,
            credential_header: o.or(
                "credential_header",
                Field::string,
                default_credential_header(),
            )?,
        })
    }
}

impl RawOutput {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["cluster_header", "version_header"])?;
        Ok(Self {
            cluster_header: o.or("cluster_header", Field::string, default_cluster_header())?,
            version_header: o.or("version_header", Field::string, default_version_header())?,
        })
    }
}

impl RawVersion {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "name",
            "aliases",
            "cluster",
            "status",
            "deprecation",
            "sunset",
            "successor",
            "successor_url",
            "deprecation_url",
        ])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            aliases: o.or_default("aliases", Field::strings)?,
            cluster: o.opt("cluster", Field::string)?,
            status: o.or_default("status", |f| {
                f.choice(&[
                    ("preview", Lifecycle::Preview),
                    ("stable", Lifecycle::Stable),
                    ("deprecated", Lifecycle::Deprecated),
                    ("retired", Lifecycle::Retired),
                ])
            })?,
            deprecation: o.opt("deprecation", Field::string)?,
            sunset: o.opt("sunset", Field::string)?,
            successor: o.opt("successor", Field::string)?,
            successor_url: o.opt("successor_url", Field::string)?,
            deprecation_url: o.opt("deprecation_url", Field::string)?,
        })
    }
}

impl RawCanary {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["from", "to", "percent", "ramp", "explicit"])?;
        Ok(Self {
            from: o.req("from", Field::string)?,
            to: o.req("to", Field::string)?,
            percent: o.opt("percent", Field::f64)?,
            ramp: o.opt("ramp", RawRamp::read)?,
            explicit: o.or_default("explicit", Field::bool)?,
        })
    }
}

impl RawRamp {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["start", "end", "steps", "from_percent", "to_percent"])?;
        Ok(Self {
            start: o.req("start", Field::string)?,
            end: o.req("end", Field::string)?,
            steps: o.or("steps", Field::u32, default_steps())?,
            from_percent: o.or_default("from_percent", Field::f64)?,
            to_percent: o.or("to_percent", Field::f64, hundred())?,
        })
    }
}

impl RawSticky {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "cookie"])?;
        Ok(Self {
            header: o.opt("header", Field::string)?,
            // `null` turns the cookie off; absent keeps the default one.
            cookie: match o.field("cookie") {
                None => default_cookie(),
                Some(f) => f.nullable().map(RawCookie::read).transpose()?,
            },
        })
    }
}

impl RawCookie {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "max_age_seconds", "secure"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            max_age_seconds: o.or("max_age_seconds", Field::u64, default_max_age())?,
            secure: o.or_default("secure", Field::bool)?,
        })
    }
}

impl RawOverride {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "groups"])?;
        Ok(Self {
            header: o.or("header", Field::string, default_override_header())?,
            groups: o.req("groups", Field::strings)?,
        })
    }
}
