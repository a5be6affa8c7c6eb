//! Validation of the wire format into the runtime [`Config`]; every error names its field.

use std::time::{SystemTime, UNIX_EPOCH};

use filter_core::ConfigError;

use super::wire::{RawConfig, RawRamp, RawVersion};
use super::{
    Canary, Config, Cookie, Override, Ramp, Source, Version, Weight, MAX_URL_LEN, MAX_VERSIONS,
};
use crate::lifecycle::{self, Lifecycle};
use crate::version::is_version_token;

fn header_name(field: &str, name: &str) -> Result<String, ConfigError> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(':') || !filter_core::headers::is_valid_name(&lower) {
        return Err(ConfigError::new(field, "not a valid header name"));
    }
    Ok(lower)
}

fn date(field: &str, value: &str) -> Result<SystemTime, ConfigError> {
    let t = humantime::parse_rfc3339(value)
        .map_err(|e| ConfigError::new(field, format!("not an RFC 3339 date: {e}")))?;
    if t < UNIX_EPOCH {
        return Err(ConfigError::new(field, "date before 1970"));
    }
    Ok(t)
}

fn percent(field: &str, p: f64) -> Result<u32, ConfigError> {
    if !p.is_finite() || !(0.0..=100.0).contains(&p) {
        return Err(ConfigError::new(
            field,
            "must be a percentage from 0 to 100",
        ));
    }
    // In range, so the rounded product fits in u32.
    Ok((p * 100.0).round() as u32)
}

fn url(field: &str, value: &str) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_URL_LEN
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
    if !ok {
        return Err(ConfigError::new(
            field,
            "must be 1 to 2048 visible ASCII characters without <, >, \" or \\",
        ));
    }
    Ok(value.to_owned())
}

fn cluster(field: &str, value: &str) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if !ok {
        return Err(ConfigError::new(
            field,
            "must be 1 to 128 of letters, digits, '.', '_', '-', ':'",
        ));
    }
    Ok(value.to_owned())
}

fn token(field: &str, value: &str) -> Result<String, ConfigError> {
    if !filter_core::headers::is_valid_name(&value.to_ascii_lowercase()) || value.starts_with(':') {
        return Err(ConfigError::new(field, "must be an RFC 9110 token"));
    }
    Ok(value.to_owned())
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let api = match &raw.api {
            Some(api) if is_version_token(api) => Some(api.to_ascii_lowercase()),
            Some(_) => return Err(ConfigError::new("api", "must be 1 to 32 of [A-Za-z0-9._-]")),
            None => None,
        };
        let sources = match raw.sources {
            Some(s) => s,
            None if api.is_some() => {
                vec![Source::Path, Source::Header, Source::Query, Source::Accept]
            }
            None => vec![Source::Path, Source::Header, Source::Query],
        };
        if sources.is_empty() {
            return Err(ConfigError::new("sources", "must name at least one source"));
        }
        for (i, s) in sources.iter().enumerate() {
            if sources[..i].contains(s) {
                return Err(ConfigError::new(
                    format!("sources[{i}]"),
                    "duplicate source",
                ));
            }
        }
        if sources.contains(&Source::Accept) && api.is_none() {
            return Err(ConfigError::new(
                "api",
                "required when sources contain accept",
            ));
        }
        let query = match &raw.query {
            q if is_version_token(q) => q.clone(),
            _ => {
                return Err(ConfigError::new(
                    "query",
                    "must be 1 to 32 of [A-Za-z0-9._-]",
                ))
            }
        };
        if !matches!(raw.unknown_status, 400 | 404) {
            return Err(ConfigError::new("unknown_status", "must be 400 or 404"));
        }
        if !(16..=65_536).contains(&raw.max_path_bytes) {
            return Err(ConfigError::new("max_path_bytes", "must be 16 to 65536"));
        }

        let versions = validate_versions(&raw.versions, raw.case_sensitive)?;
        let mut config = Config {
            vendor_prefix: api.as_ref().map(|api| format!("application/vnd.{api}.")),
            api,
            sources,
            header: header_name("header", &raw.header)?,
            query,
            default_version: None,
            unknown_status: raw.unknown_status,
            conflicts: raw.conflicts,
            case_sensitive: raw.case_sensitive,
            strip_prefix: raw.strip_prefix,
            max_path_bytes: raw.max_path_bytes,
            consumer_header: header_name(
                "identity.consumer_header",
                &raw.identity.consumer_header,
            )?,
            groups_header: header_name("identity.groups_header", &raw.identity.groups_header)?,
            credential_header: header_name(
                "identity.credential_header",
                &raw.identity.credential_header,
            )?,
            cluster_header: header_name("output.cluster_header", &raw.output.cluster_header)?,
            version_header: header_name("output.version_header", &raw.output.version_header)?,
            versions,
            canaries: Vec::new(),
            sticky_header: match &raw.sticky.header {
                Some(h) => Some(header_name("sticky.header", h)?),
                None => None,
            },
            cookie: match &raw.sticky.cookie {
                Some(c) => {
                    if !(1..=400 * 24 * 3600).contains(&c.max_age_seconds) {
                        return Err(ConfigError::new(
                            "sticky.cookie.max_age_seconds",
                            "must be 1 to 34560000 (400 days)",
                        ));
                    }
                    Some(Cookie {
                        name: token("sticky.cookie.name", &c.name)?,
                        max_age: c.max_age_seconds,
                        secure: c.secure,
                    })
                }
                None => None,
            },
            override_: None,
        };
        if config.cluster_header == config.version_header {
            return Err(ConfigError::new(
                "output.version_header",
                "must differ from output.cluster_header",
            ));
        }

        let live = |field: &str, name: &str, config: &Config| -> Result<usize, ConfigError> {
            let i = config
                .versions
                .iter()
                .position(|v| v.name == name)
                .ok_or_else(|| ConfigError::new(field, format!("no version named {name:?}")))?;
            if config.versions[i].status == Lifecycle::Retired {
                return Err(ConfigError::new(
                    field,
                    format!("version {name:?} is retired"),
                ));
            }
            Ok(i)
        };
        if let Some(d) = &raw.default_version {
            config.default_version = Some(live("default_version", d, &config)?);
        }
        for (i, v) in raw.versions.iter().enumerate() {
            if let Some(s) = &v.successor {
                let field = format!("versions[{i}].successor");
                let j = live(&field, s, &config)?;
                if j == i {
                    return Err(ConfigError::new(field, "a version cannot succeed itself"));
                }
                let target = match &v.successor_url {
                    Some(u) => url(&format!("versions[{i}].successor_url"), u)?,
                    None => format!("/{s}"),
                };
                config.versions[i]
                    .response_headers
                    .push(("link", lifecycle::link(&target, "successor-version")));
            } else if v.successor_url.is_some() {
                return Err(ConfigError::new(
                    format!("versions[{i}].successor_url"),
                    "needs successor",
                ));
            }
        }

        if raw.canaries.len() > MAX_VERSIONS {
            return Err(ConfigError::new("canaries", "at most 64 canaries"));
        }
        for (i, c) in raw.canaries.iter().enumerate() {
            let field = |f: &str| format!("canaries[{i}].{f}");
            let from = live(&field("from"), &c.from, &config)?;
            let to = live(&field("to"), &c.to, &config)?;
            if from == to {
                return Err(ConfigError::new(field("to"), "must differ from `from`"));
            }
            if config.canaries.iter().any(|k: &Canary| k.from == from) {
                return Err(ConfigError::new(
                    field("from"),
                    "another canary already splits this version",
                ));
            }
            let weight = match (c.percent, &c.ramp) {
                (Some(p), None) => Weight::Fixed(percent(&field("percent"), p)?),
                (None, Some(r)) => Weight::Ramp(ramp(&field("ramp"), r)?),
                _ => {
                    return Err(ConfigError::new(
                        format!("canaries[{i}]"),
                        "exactly one of `percent` and `ramp` is required",
                    ))
                }
            };
            config.canaries.push(Canary {
                from,
                to,
                weight,
                explicit: c.explicit,
                salt: format!("{}>{}", c.from, c.to),
            });
        }

        if let Some(o) = &raw.override_ {
            if o.groups.is_empty() {
                return Err(ConfigError::new("override.groups", "at least one group"));
            }
            let mut groups = Vec::new();
            for (i, g) in o.groups.iter().enumerate() {
                groups.push(token(&format!("override.groups[{i}]"), g)?);
            }
            config.override_ = Some(Override {
                header: header_name("override.header", &o.header)?,
                groups,
            });
        }
        check_header_clashes(&config)?;
        Ok(config)
    }
}

fn ramp(field: &str, r: &RawRamp) -> Result<Ramp, ConfigError> {
    let start = date(&format!("{field}.start"), &r.start)?;
    let end = date(&format!("{field}.end"), &r.end)?;
    if end <= start {
        return Err(ConfigError::new(
            format!("{field}.end"),
            "must be after start",
        ));
    }
    if !(1..=1000).contains(&r.steps) {
        return Err(ConfigError::new(
            format!("{field}.steps"),
            "must be 1 to 1000",
        ));
    }
    Ok(Ramp {
        start,
        end,
        steps: r.steps,
        from: percent(&format!("{field}.from_percent"), r.from_percent)?,
        to: percent(&format!("{field}.to_percent"), r.to_percent)?,
    })
}

fn validate_versions(
    raw: &[RawVersion],
    case_sensitive: bool,
) -> Result<Vec<Version>, ConfigError> {
    if raw.is_empty() || raw.len() > MAX_VERSIONS {
        return Err(ConfigError::new("versions", "must hold 1 to 64 versions"));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut spellings: Vec<(String, String)> = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let field = |f: &str| format!("versions[{i}].{f}");
        let mut names = vec![(field("name"), v.name.clone())];
        names.extend(
            v.aliases
                .iter()
                .enumerate()
                .map(|(j, a)| (field(&format!("aliases[{j}]")), a.clone())),
        );
        for (f, name) in names {
            if !is_version_token(&name) {
                return Err(ConfigError::new(f, "must be 1 to 32 of [A-Za-z0-9._-]"));
            }
            let key = if case_sensitive {
                name.clone()
            } else {
                name.to_ascii_lowercase()
            };
            if spellings.iter().any(|(_, k)| *k == key) {
                return Err(ConfigError::new(f, format!("{name:?} names two versions")));
            }
            spellings.push((f, key));
        }
        let cluster = match (&v.cluster, v.status) {
            (Some(c), _) => Some(cluster(&field("cluster"), c)?),
            (None, Lifecycle::Retired) => None,
            (None, _) => return Err(ConfigError::new(field("cluster"), "required")),
        };
        let deprecation = match &v.deprecation {
            Some(d) => Some(date(&field("deprecation"), d)?),
            None if v.status == Lifecycle::Deprecated => {
                return Err(ConfigError::new(
                    field("deprecation"),
                    "required when status is deprecated",
                ))
            }
            None => None,
        };
        let sunset = match &v.sunset {
            Some(s) => Some(date(&field("sunset"), s)?),
            None => None,
        };
        if let (Some(d), Some(s)) = (deprecation, sunset) {
            if s < d {
                return Err(ConfigError::new(
                    field("sunset"),
                    "must not precede deprecation",
                ));
            }
        }
        let mut response_headers = Vec::new();
        if let Some(d) = deprecation {
            response_headers.push(("deprecation", lifecycle::deprecation_value(d)));
        }
        if let Some(s) = sunset {
            response_headers.push(("sunset", httpdate::fmt_http_date(s)));
        }
        if let Some(u) = &v.deprecation_url {
            let u = url(&field("deprecation_url"), u)?;
            response_headers.push(("link", lifecycle::link(&u, "deprecation")));
        }
        out.push(Version {
            name: v.name.clone(),
            aliases: v.aliases.clone(),
            cluster,
            status: v.status,
            sunset,
            response_headers,
        });
    }
    Ok(out)
}

fn check_header_clashes(config: &Config) -> Result<(), ConfigError> {
    let outputs = [&config.cluster_header, &config.version_header];
    let mut inputs = vec![
        ("header", &config.header),
        ("identity.consumer_header", &config.consumer_header),
        ("identity.groups_header", &config.groups_header),
        ("identity.credential_header", &config.credential_header),
    ];
    if let Some(h) = &config.sticky_header {
        inputs.push(("sticky.header", h));
    }
    if let Some(o) = &config.override_ {
        inputs.push(("override.header", &o.header));
    }
    for (field, name) in inputs {
        if outputs.contains(&name) {
            return Err(ConfigError::new(
                field,
                "must differ from the output headers the filter sets",
            ));
        }
    }
    Ok(())
}
