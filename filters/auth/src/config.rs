//! Configuration: the runtime [`Config`] the filter works with, and [`Config::parse`], the entry
//! point from the plugin configuration's bytes: JSON read into the wire structs ([`wire`]), then
//! validated into the runtime types (`validate`, where inline JWT keys are parsed, once). Every
//! error names the field path.

mod validate;
pub mod wire;

#[cfg(test)]
mod tests;

use std::rc::Rc;

use filter_core::config::{parse, Field};
use filter_core::ConfigError;
use rustc_hash::FxHashMap;

use crate::apikey::ApiKeyConfig;
use crate::basic::BasicConfig;
use crate::consumer::Consumer;
use crate::jwt::JwtConfig;
use crate::rules::Rule;
use crate::signing::HmacConfig;
use wire::RawConfig;

/// Most consumers, keys, rules or providers in one list.
pub const MAX_ITEMS: usize = 10_000;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Realm in challenges.
    pub realm: String,
    /// Consumers (ids unique), shared with the identities they authenticate.
    pub consumers: Vec<Rc<Consumer>>,
    /// Index in `consumers` by id.
    pub consumer_ids: FxHashMap<String, usize>,
    /// API keys.
    pub api_key: Option<ApiKeyConfig>,
    /// JWT.
    pub jwt: Option<JwtConfig>,
    /// Basic.
    pub basic: Option<BasicConfig>,
    /// HMAC.
    pub hmac: Option<HmacConfig>,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

impl Config {
    /// Parses and validates the plugin configuration.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        // Duplicate members anywhere (inside an inline JWKS too) are refused by `parse`.
        Self::try_from(RawConfig::read(Field::root(&parse(bytes)?))?)
    }
}
