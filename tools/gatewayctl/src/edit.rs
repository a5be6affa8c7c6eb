//! `consumers`, `versions` and `canary`: edits of auth, quota and routing's JSON. The filters'
//! own readers decide what is valid (at commit); the checks here only find what to edit.

use serde_json::{json, Map, Value};

use crate::keys::{forget, now, parse_date, rfc3339, ID_LEN};
use crate::store::{consumer_index, err, find, list_mut, Error, Store};
use crate::{CanaryCmd, ConsumersCmd, VersionsCmd};

fn set_or_remove(o: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            o.insert(key.to_string(), v);
        }
        None => {
            o.remove(key);
        }
    }
}

fn object(v: &mut Value) -> Result<&mut Map<String, Value>, Error> {
    v.as_object_mut()
        .ok_or_else(|| Error("not a JSON object".into()))
}

/// Sets (or removes) consumer `id`'s plan in every quota file.
fn quota_plan(store: &mut Store, id: &str, plan: Option<&str>) -> Result<(), Error> {
    for stem in store.quota_files()? {
        let q = store.edit(&stem)?;
        let index = find(q, "consumers", "id", id);
        let list = list_mut(q, "consumers")?;
        match (index, plan) {
            (Some(i), Some(p)) => {
                if let Some(c) = list.get_mut(i) {
                    object(c)?.insert("plan".into(), json!(p));
                }
            }
            (Some(i), None) => {
                list.remove(i);
            }
            (None, Some(p)) => list.push(json!({"id": id, "plan": p})),
            (None, None) => {}
        }
    }
    Ok(())
}

/// Runs a `consumers` command; true when something was changed.
pub fn consumers(store: &mut Store, cmd: &ConsumersCmd) -> Result<bool, Error> {
    match cmd {
        ConsumersCmd::Add { id, plan, groups } => {
            // A duplicate id is left for auth's reader to refuse, naming the field.
            let auth = store.edit("auth")?;
            let mut c = Map::new();
            c.insert("id".into(), json!(id));
            if let Some(p) = plan {
                c.insert("plan".into(), json!(p));
            }
            if !groups.is_empty() {
                c.insert("groups".into(), json!(groups));
            }
            list_mut(auth, "consumers")?.push(Value::Object(c));
            if let Some(p) = plan {
                for stem in store.quota_files()? {
                    list_mut(store.edit(&stem)?, "consumers")?.push(json!({"id": id, "plan": p}));
                }
            }
            store.commit()?;
            eprintln!("added consumer {id}");
        }
        ConsumersCmd::Remove { id } => {
            let auth = store.edit("auth")?;
            let index = consumer_index(auth, id)?;
            let removed = list_mut(auth, "consumers")?.remove(index);
            let ids: Vec<String> = removed
                .get("api_keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|k| k.get("sha256").and_then(Value::as_str))
                .map(|s| s.chars().take(ID_LEN).collect())
                .collect();
            forget(store, &ids)?;
            quota_plan(store, id, None)?;
            store.commit()?;
            eprintln!("removed consumer {id}");
        }
        ConsumersCmd::SetPlan { id, plan } => {
            let auth = store.edit("auth")?;
            let index = consumer_index(auth, id)?;
            if let Some(c) = list_mut(auth, "consumers")?.get_mut(index) {
                object(c)?.insert("plan".into(), json!(plan));
            }
            quota_plan(store, id, Some(plan))?;
            store.commit()?;
            eprintln!("{id}: plan {plan}");
        }
        ConsumersCmd::SetGroups { id, groups } => {
            let groups: Vec<&String> = groups.iter().filter(|g| !g.is_empty()).collect();
            let auth = store.edit("auth")?;
            let index = consumer_index(auth, id)?;
            if let Some(c) = list_mut(auth, "consumers")?.get_mut(index) {
                let value = (!groups.is_empty()).then(|| json!(groups));
                set_or_remove(object(c)?, "groups", value);
            }
            store.commit()?;
            eprintln!("{id}: groups {:?}", groups);
        }
        ConsumersCmd::List => {
            let auth = store.get("auth")?;
            println!("{:<16}  {:<12}  {:<5}  GROUPS", "ID", "PLAN", "KEYS");
            for c in auth
                .get("consumers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
                let keys = c
                    .get("api_keys")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let groups: Vec<&str> = c
                    .get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "{:<16}  {:<12}  {:<5}  {}",
                    s("id"),
                    s("plan"),
                    keys,
                    groups.join(",")
                );
            }
            return Ok(false);
        }
    }
    Ok(true)
}

fn version_mut<'a>(
    routing: &'a mut Value,
    name: &str,
) -> Result<&'a mut Map<String, Value>, Error> {
    let index = find(routing, "versions", "name", name)
        .ok_or_else(|| Error(format!("no version `{name}` in routing.json")))?;
    let v = list_mut(routing, "versions")?
        .get_mut(index)
        .ok_or_else(|| Error(format!("no version `{name}`")))?;
    object(v)
}

fn date_arg(what: &str, value: &Option<String>) -> Result<Option<Value>, Error> {
    value
        .as_deref()
        .map(|d| parse_date(what, d).map(|s| json!(rfc3339(s))))
        .transpose()
}

/// Runs a `versions` command; true when something was changed.
pub fn versions(store: &mut Store, cmd: &VersionsCmd) -> Result<bool, Error> {
    match cmd {
        VersionsCmd::Promote { name } => {
            let v = version_mut(store.edit("routing")?, name)?;
            let status = v.get("status").and_then(Value::as_str).unwrap_or("stable");
            if status != "preview" {
                return err(format!(
                    "version {name} is {status}: only a preview version is promoted"
                ));
            }
            v.insert("status".into(), json!("stable"));
            store.commit()?;
            eprintln!("{name}: stable");
        }
        VersionsCmd::Deprecate {
            name,
            at,
            sunset,
            successor,
            successor_url,
            deprecation_url,
        } => {
            let at = date_arg("--at", at)?.unwrap_or_else(|| json!(rfc3339(now())));
            let sunset = date_arg("--sunset", sunset)?;
            let v = version_mut(store.edit("routing")?, name)?;
            v.insert("status".into(), json!("deprecated"));
            v.insert("deprecation".into(), at);
            if let Some(s) = sunset {
                v.insert("sunset".into(), s);
            }
            if let Some(s) = successor {
                v.insert("successor".into(), json!(s));
            }
            if let Some(u) = successor_url {
                v.insert("successor_url".into(), json!(u));
            }
            if let Some(u) = deprecation_url {
                v.insert("deprecation_url".into(), json!(u));
            }
            store.commit()?;
            eprintln!("{name}: deprecated");
        }
        VersionsCmd::Retire {
            name,
            successor,
            successor_url,
        } => {
            let v = version_mut(store.edit("routing")?, name)?;
            v.insert("status".into(), json!("retired"));
            if let Some(s) = successor {
                v.insert("successor".into(), json!(s));
            }
            if let Some(u) = successor_url {
                v.insert("successor_url".into(), json!(u));
            }
            store.commit()?;
            eprintln!("{name}: retired");
        }
        VersionsCmd::List => {
            let routing = store.get("routing")?;
            println!(
                "{:<10}  {:<10}  {:<12}  {:<20}  {:<20}  SUCCESSOR",
                "NAME", "STATUS", "CLUSTER", "DEPRECATION", "SUNSET"
            );
            for v in routing
                .get("versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |k: &str, d: &'static str| {
                    v.get(k).and_then(Value::as_str).unwrap_or(d).to_string()
                };
                println!(
                    "{:<10}  {:<10}  {:<12}  {:<20}  {:<20}  {}",
                    s("name", "-"),
                    s("status", "stable"),
                    s("cluster", "-"),
                    s("deprecation", "-"),
                    s("sunset", "-"),
                    s("successor", "-")
                );
            }
            return Ok(false);
        }
    }
    Ok(true)
}

/// A percentage, whole ones as integers (20, not 20.0).
fn share(percent: f64) -> Value {
    if percent.fract() == 0.0 && (0.0..=100.0).contains(&percent) {
        json!(percent as u64)
    } else {
        json!(percent)
    }
}

/// Puts `canary` at `index` (the version's current canary) or at the end.
fn replace_canary(routing: &mut Value, index: Option<usize>, canary: Value) -> Result<(), Error> {
    let list = list_mut(routing, "canaries")?;
    match index.and_then(|i| list.get_mut(i)) {
        Some(c) => *c = canary,
        None => list.push(canary),
    }
    Ok(())
}

/// Runs a `canary` command; true when something was changed.
pub fn canary(store: &mut Store, cmd: &CanaryCmd) -> Result<bool, Error> {
    match cmd {
        CanaryCmd::Set {
            from,
            to,
            percent,
            explicit,
        } => {
            let routing = store.edit("routing")?;
            let index = find(routing, "canaries", "from", from);
            let canary =
                json!({"from": from, "to": to, "percent": share(*percent), "explicit": explicit});
            replace_canary(routing, index, canary)?;
            store.commit()?;
            eprintln!("canary {from} -> {to}: {percent} %");
        }
        CanaryCmd::Ramp {
            from,
            to,
            start,
            end,
            from_percent,
            to_percent,
            steps,
            explicit,
        } => {
            let start = json!(rfc3339(parse_date("--start", start)?));
            let end = json!(rfc3339(parse_date("--end", end)?));
            let routing = store.edit("routing")?;
            let index = find(routing, "canaries", "from", from);
            let canary = json!({"from": from, "to": to, "explicit": explicit, "ramp": {
                "start": start, "end": end, "steps": steps,
                "from_percent": share(*from_percent), "to_percent": share(*to_percent)}});
            replace_canary(routing, index, canary)?;
            store.commit()?;
            eprintln!("canary {from} -> {to}: ramp {from_percent} % -> {to_percent} %");
        }
        CanaryCmd::Remove { from } => {
            let routing = store.edit("routing")?;
            let Some(index) = find(routing, "canaries", "from", from) else {
                return err(format!("no canary from `{from}` in routing.json"));
            };
            list_mut(routing, "canaries")?.remove(index);
            store.commit()?;
            eprintln!("canary of {from} removed");
        }
    }
    Ok(true)
}
