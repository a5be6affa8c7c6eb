//! `keys`: API keys in auth's own format, `consumers[].api_keys[]` = `{"sha256": "<hex>",
//! "expires_at": <unix seconds>}` (the format has no id or creation date, and refuses unknown
//! fields). A key's id is the first 12 hex digits of its digest (it reveals nothing of the key);
//! the creation time is kept beside the configuration in `.gatewayctl-keys.json`, which no
//! filter reads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::store::{consumer_index, err, hex, list_mut, Error, Store, KEY_META};
use crate::KeysCmd;

/// Length of a key id (hex digits of the digest).
pub const ID_LEN: usize = 12;

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 (UTC, seconds) of Unix seconds.
pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Unix seconds of an RFC 3339 date.
pub fn parse_date(what: &str, text: &str) -> Result<u64, Error> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| {
            Error(format!(
                "{what}: `{text}` is not an RFC 3339 date (2027-01-01T00:00:00Z)"
            ))
        })
}

fn new_key() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error(format!("OS RNG: {e}")))?;
    Ok(format!("gw_{}", hex(&bytes)))
}

fn digest(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn id_of(sha256: &str) -> String {
    sha256.chars().take(ID_LEN).collect()
}

/// Adds a new key to consumer `index`; returns (key, id).
fn add_key(
    store: &mut Store,
    consumer: &str,
    expires: Option<u64>,
) -> Result<(String, String), Error> {
    let key = new_key()?;
    let sha = digest(&key);
    let id = id_of(&sha);
    let auth = store.edit("auth")?;
    let index = consumer_index(auth, consumer)?;
    let mut entry = Map::new();
    entry.insert("sha256".into(), Value::String(sha));
    if let Some(at) = expires {
        entry.insert("expires_at".into(), json!(at));
    }
    let consumers = list_mut(auth, "consumers")?;
    let c = consumers
        .get_mut(index)
        .ok_or_else(|| Error(format!("consumer {consumer} not found")))?;
    list_mut(c, "api_keys")?.push(Value::Object(entry));
    let meta = store.edit_or_new(KEY_META)?;
    let keys = obj_mut(meta, "keys")?;
    keys.insert(
        id.clone(),
        json!({"consumer": consumer, "created": rfc3339(now())}),
    );
    Ok((key, id))
}

fn obj_mut<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, Error> {
    let o = v
        .as_object_mut()
        .ok_or_else(|| Error("not a JSON object".into()))?;
    o.entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| Error(format!("`{key}` is not an object")))
}

/// One key, as listed.
struct Listed {
    id: String,
    consumer: String,
    created: Option<String>,
    expires_at: Option<u64>,
}

fn listed(store: &mut Store) -> Result<Vec<Listed>, Error> {
    let meta = if store.exists(KEY_META) {
        store.get(KEY_META)?.clone()
    } else {
        Value::Null
    };
    let auth = store.get("auth")?;
    let mut out = Vec::new();
    for c in auth
        .get("consumers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let consumer = c
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for k in c
            .get("api_keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let sha = k.get("sha256").and_then(Value::as_str).unwrap_or("");
            let id = id_of(sha);
            let created = meta
                .pointer(&format!("/keys/{id}/created"))
                .and_then(Value::as_str)
                .map(str::to_string);
            out.push(Listed {
                id,
                consumer: consumer.clone(),
                created,
                expires_at: k.get("expires_at").and_then(Value::as_u64),
            });
        }
    }
    Ok(out)
}

/// Removes the keys for which `pick(consumer, id)` holds; returns their ids.
fn remove_keys(store: &mut Store, pick: impl Fn(&str, &str) -> bool) -> Result<Vec<String>, Error> {
    let auth = store.edit("auth")?;
    let mut removed = Vec::new();
    for c in list_mut(auth, "consumers")?.iter_mut() {
        let consumer = c
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(keys) = c.get_mut("api_keys").and_then(Value::as_array_mut) else {
            continue;
        };
        keys.retain(|k| {
            let id = id_of(k.get("sha256").and_then(Value::as_str).unwrap_or(""));
            if pick(&consumer, &id) {
                removed.push(id);
                false
            } else {
                true
            }
        });
        if keys.is_empty() {
            if let Some(o) = c.as_object_mut() {
                o.remove("api_keys");
            }
        }
    }
    forget(store, &removed)?;
    Ok(removed)
}

/// Drops the metadata of removed keys.
pub fn forget(store: &mut Store, ids: &[String]) -> Result<(), Error> {
    if ids.is_empty() || !store.exists(KEY_META) {
        return Ok(());
    }
    let meta = store.edit(KEY_META)?;
    let keys = obj_mut(meta, "keys")?;
    for id in ids {
        keys.remove(id);
    }
    Ok(())
}

/// Runs a `keys` command; true when something was changed.
pub fn run(store: &mut Store, cmd: &KeysCmd) -> Result<bool, Error> {
    match cmd {
        KeysCmd::Issue { consumer, expires } => {
            let expires = expires
                .as_deref()
                .map(|e| parse_date("--expires", e))
                .transpose()?;
            let (key, id) = add_key(store, consumer, expires)?;
            store.commit()?;
            println!("{key}");
            eprintln!(
                "issued key {id} to {consumer}{}; the key is printed once and not stored",
                expires
                    .map(|e| format!(" (expires {})", rfc3339(e)))
                    .unwrap_or_default()
            );
            Ok(true)
        }
        KeysCmd::Rotate {
            consumer,
            key_id,
            grace,
            expires,
        } => {
            let grace = humantime::parse_duration(grace)
                .map_err(|e| Error(format!("--grace: `{grace}`: {e}")))?;
            let expires = expires
                .as_deref()
                .map(|e| parse_date("--expires", e))
                .transpose()?;
            let until = now().saturating_add(grace.as_secs());
            let auth = store.edit("auth")?;
            let index = consumer_index(auth, consumer)?;
            let c = list_mut(auth, "consumers")?
                .get_mut(index)
                .ok_or_else(|| Error(format!("consumer {consumer} not found")))?;
            let mut rotated = Vec::new();
            for k in list_mut(c, "api_keys")?.iter_mut() {
                let id = id_of(k.get("sha256").and_then(Value::as_str).unwrap_or(""));
                if key_id.as_ref().is_some_and(|want| *want != id) {
                    continue;
                }
                let current = k.get("expires_at").and_then(Value::as_u64);
                if current.is_some_and(|at| at <= until) {
                    continue; // already expires within the grace period
                }
                if let Some(o) = k.as_object_mut() {
                    o.insert("expires_at".into(), json!(until));
                }
                rotated.push(id);
            }
            if let Some(want) = key_id {
                if rotated.is_empty() {
                    return err(format!(
                        "{consumer} has no key {want} expiring after the grace period"
                    ));
                }
            }
            let (key, id) = add_key(store, consumer, expires)?;
            store.commit()?;
            println!("{key}");
            eprintln!(
                "issued key {id} to {consumer}; {} expire at {}",
                if rotated.is_empty() {
                    "no old keys".to_string()
                } else {
                    rotated.join(", ")
                },
                rfc3339(until)
            );
            Ok(true)
        }
        KeysCmd::Revoke {
            key_id,
            consumer,
            all,
        } => {
            let removed = match (key_id, consumer) {
                (Some(want), _) => {
                    if want.len() < 4 {
                        return err("--key-id: give at least 4 hex digits");
                    }
                    let matching: Vec<_> = listed(store)?
                        .into_iter()
                        .filter(|k| k.id.starts_with(want.as_str()))
                        .collect();
                    if matching.len() > 1 {
                        return err(format!("--key-id {want}: matches several keys"));
                    }
                    let want = want.clone();
                    remove_keys(store, |_, id| id.starts_with(want.as_str()))?
                }
                (None, Some(c)) if *all => {
                    consumer_index(store.get("auth")?, c)?;
                    remove_keys(store, |consumer, _| consumer == c)?
                }
                _ => return err("give --key-id, or --consumer with --all"),
            };
            if removed.is_empty() {
                return err("no such key");
            }
            store.commit()?;
            eprintln!("revoked {}", removed.join(", "));
            Ok(true)
        }
        KeysCmd::List { consumer, json } => {
            let now = now();
            let keys: Vec<_> = listed(store)?
                .into_iter()
                .filter(|k| consumer.as_ref().is_none_or(|c| *c == k.consumer))
                .collect();
            let state = |k: &Listed| match k.expires_at {
                Some(at) if at <= now => "expired",
                _ => "active",
            };
            if *json {
                let rows: Vec<Value> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id,
                            "consumer": k.consumer,
                            "created": k.created,
                            "expires": k.expires_at.map(rfc3339),
                            "state": state(k),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(|e| Error(e.to_string()))?
                );
            } else {
                println!(
                    "{:<12}  {:<16}  {:<20}  {:<20}  STATE",
                    "ID", "CONSUMER", "CREATED", "EXPIRES"
                );
                for k in &keys {
                    println!(
                        "{:<12}  {:<16}  {:<20}  {:<20}  {}",
                        k.id,
                        k.consumer,
                        k.created.as_deref().unwrap_or("-"),
                        k.expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                        state(k)
                    );
                }
            }
            Ok(false)
        }
    }
}
