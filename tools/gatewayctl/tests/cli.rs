//! gatewayctl run as a process on a copy of envoy-config/plugins: every command, the filters'
//! own readers deciding, and refused changes leaving every file byte-for-byte untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh copy of envoy-config/plugins in a temporary directory (removed on drop).
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn plugins() -> Dir {
    let dir = std::env::temp_dir().join(format!(
        "gatewayctl-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envoy-config/plugins");
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    Dir(dir)
}

fn ctl(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatewayctl"))
        .arg("--config-dir")
        .arg(&dir.0)
        .args(args)
        .env_remove("GATEWAYCTL_ENVOY_DIR")
        .output()
        .unwrap()
}

fn ok(dir: &Dir, args: &[&str]) -> String {
    let out = ctl(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must be refused; returns its stderr and checks nothing changed.
fn refused(dir: &Dir, args: &[&str]) -> String {
    let before = snapshot(&dir.0);
    let out = ctl(dir, args);
    assert!(!out.status.success(), "{args:?} was accepted");
    assert_eq!(
        snapshot(&dir.0),
        before,
        "{args:?} changed files though refused"
    );
    String::from_utf8(out.stderr).unwrap()
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn read(dir: &Dir, name: &str) -> Value {
    serde_json::from_slice(&fs::read(dir.0.join(name)).unwrap()).unwrap()
}

fn write(dir: &Dir, name: &str, v: &Value) {
    fs::write(dir.0.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn auth(dir: &Dir) -> filter_auth::config::Config {
    filter_auth::config::Config::parse(&fs::read(dir.0.join("auth.json")).unwrap()).unwrap()
}

/// The consumer id the key authenticates as now, or the refusal.
fn who(dir: &Dir, key: &str) -> Result<String, filter_auth::apikey::ApiKeyError> {
    let config = auth(dir);
    let index = config
        .api_key
        .as_ref()
        .unwrap()
        .authenticate(key.as_bytes(), now())?;
    Ok(config.consumers[index].id.to_string())
}

fn consumer<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
}

fn version<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn no_temp_files(dir: &Dir) {
    for name in snapshot(&dir.0).keys() {
        assert!(!name.ends_with(".tmp"), "temp file left: {name}");
    }
}

#[test]
fn keys_issue_stores_only_the_digest_and_the_key_authenticates() {
    let dir = plugins();
    let out = ok(&dir, &["keys", "issue", "--consumer", "bob"]);
    let key = out.trim();
    assert!(key.starts_with("gw_") && key.len() == 67, "{key}");
    let text = fs::read_to_string(dir.0.join("auth.json")).unwrap();
    assert!(!text.contains(key), "the key itself is stored");
    let digest = hex(&Sha256::digest(key.as_bytes()));
    assert!(text.contains(&digest));
    assert_eq!(who(&dir, key).unwrap(), "bob");
    // The sample keys still work.
    assert_eq!(who(&dir, "demo-bob-key-0002").ok().as_deref(), Some("bob"));
    no_temp_files(&dir);
    // Two issues give two different keys.
    let again = ok(&dir, &["keys", "issue", "--consumer", "bob"]);
    assert_ne!(again.trim(), key);
}

#[test]
fn keys_issue_with_expiry_and_list_shows_ids_created_expiry_never_secrets() {
    let dir = plugins();
    let key = ok(
        &dir,
        &[
            "keys",
            "issue",
            "--consumer",
            "alice",
            "--expires",
            "2030-01-01T00:00:00Z",
        ],
    );
    let key = key.trim();
    let digest = hex(&Sha256::digest(key.as_bytes()));
    let a = read(&dir, "auth.json");
    let keys = consumer(&a, "alice").unwrap()["api_keys"]
        .as_array()
        .unwrap();
    let entry = keys
        .iter()
        .find(|k| k["sha256"] == digest.as_str())
        .unwrap();
    assert_eq!(entry["expires_at"], 1_893_456_000u64);
    let listed = ok(&dir, &["keys", "list", "--consumer", "alice", "--json"]);
    assert!(!listed.contains(key) && !listed.contains(&digest));
    let rows: Value = serde_json::from_str(&listed).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == digest[..12])
        .unwrap();
    assert_eq!(row["consumer"], "alice");
    assert_eq!(row["expires"], "2030-01-01T00:00:00Z");
    assert_eq!(row["state"], "active");
    assert!(row["created"].as_str().unwrap().ends_with('Z'));
    let table = ok(&dir, &["keys", "list"]);
    assert!(table.contains(&digest[..12]) && !table.contains(&digest));
    assert!(table.lines().count() >= 6);
}

#[test]
fn keys_issue_refusals_leave_files_untouched() {
    let dir = plugins();
    let e = refused(&dir, &["keys", "issue", "--consumer", "nobody"]);
    assert!(e.contains("nobody"), "{e}");
    let e = refused(
        &dir,
        &[
            "keys",
            "issue",
            "--consumer",
            "bob",
            "--expires",
            "tomorrow",
        ],
    );
    assert!(e.contains("--expires"), "{e}");
    // A change auth refuses: keys for a consumer while auth has no `api_key` section.
    let mut a = read(&dir, "auth.json");
    a.as_object_mut().unwrap().remove("api_key");
    for c in a["consumers"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("api_keys");
    }
    a["rules"][0]["any_of"] = json!(["jwt"]);
    write(&dir, "auth.json", &a);
    filter_auth::config::Config::parse(&fs::read(dir.0.join("auth.json")).unwrap()).unwrap();
    let e = refused(&dir, &["keys", "issue", "--consumer", "bob"]);
    assert!(e.contains("auth.json: invalid configuration at `"), "{e}");
    assert!(e.contains("api_key"), "{e}");
}

#[test]
fn keys_rotate_keeps_the_old_key_for_the_grace_period() {
    let dir = plugins();
    let new = ok(
        &dir,
        &["keys", "rotate", "--consumer", "bob", "--grace", "1h"],
    );
    let new = new.trim();
    assert_eq!(who(&dir, new).unwrap(), "bob");
    // The old key still works, and expires in an hour.
    assert_eq!(who(&dir, "demo-bob-key-0002").unwrap(), "bob");
    let a = read(&dir, "auth.json");
    let old = consumer(&a, "bob").unwrap()["api_keys"][0]["expires_at"]
        .as_u64()
        .unwrap();
    assert!(old.abs_diff(now() + 3600) <= 5, "{old}");
    // Rotating one key by id: only that one.
    let e = refused(
        &dir,
        &[
            "keys",
            "rotate",
            "--consumer",
            "bob",
            "--key-id",
            "000000000000",
        ],
    );
    assert!(e.contains("000000000000"), "{e}");
    let e = refused(
        &dir,
        &["keys", "rotate", "--consumer", "bob", "--grace", "soon"],
    );
    assert!(e.contains("--grace"), "{e}");
}

#[test]
fn keys_revoke_by_id_and_by_consumer() {
    let dir = plugins();
    let key = ok(&dir, &["keys", "issue", "--consumer", "erin"]);
    let key = key.trim().to_string();
    let id = hex(&Sha256::digest(key.as_bytes()))[..12].to_string();
    ok(&dir, &["keys", "revoke", "--key-id", &id]);
    assert_eq!(
        who(&dir, &key),
        Err(filter_auth::apikey::ApiKeyError::Unknown)
    );
    assert!(!ok(&dir, &["keys", "list"]).contains(&id));
    let e = refused(&dir, &["keys", "revoke", "--key-id", &id]);
    assert!(e.contains("no such key"), "{e}");
    // Every key of a consumer.
    ok(&dir, &["keys", "revoke", "--consumer", "alice", "--all"]);
    assert!(who(&dir, "demo-alice-key-0001").is_err());
    assert!(consumer(&read(&dir, "auth.json"), "alice").unwrap()["api_keys"].is_null());
    assert!(!ctl(&dir, &["keys", "revoke", "--consumer", "alice"])
        .status
        .success());
}

#[test]
fn consumers_add_remove_and_plans_stay_consistent_with_quota() {
    let dir = plugins();
    ok(
        &dir,
        &[
            "consumers",
            "add",
            "--id",
            "zed",
            "--plan",
            "gold",
            "--groups",
            "customers,beta",
        ],
    );
    for file in ["auth.json", "quota.json", "quota-global.json"] {
        let c = consumer(&read(&dir, file), "zed").cloned().unwrap();
        assert_eq!(c["plan"], "gold", "{file}");
    }
    assert_eq!(
        consumer(&read(&dir, "auth.json"), "zed").unwrap()["groups"],
        json!(["customers", "beta"])
    );
    let key = ok(&dir, &["keys", "issue", "--consumer", "zed"]);
    assert_eq!(who(&dir, key.trim()).unwrap(), "zed");
    ok(
        &dir,
        &["consumers", "set-plan", "--id", "zed", "--plan", "trial"],
    );
    for file in ["auth.json", "quota.json", "quota-global.json"] {
        assert_eq!(
            consumer(&read(&dir, file), "zed").unwrap()["plan"],
            "trial",
            "{file}"
        );
    }
    ok(
        &dir,
        &[
            "consumers",
            "set-groups",
            "--id",
            "zed",
            "--groups",
            "staff",
        ],
    );
    assert_eq!(
        consumer(&read(&dir, "auth.json"), "zed").unwrap()["groups"],
        json!(["staff"])
    );
    ok(
        &dir,
        &["consumers", "set-groups", "--id", "zed", "--groups", ""],
    );
    assert!(consumer(&read(&dir, "auth.json"), "zed").unwrap()["groups"].is_null());
    assert!(ok(&dir, &["consumers", "list"]).contains("zed"));
    ok(&dir, &["consumers", "remove", "--id", "zed"]);
    for file in ["auth.json", "quota.json", "quota-global.json"] {
        assert!(consumer(&read(&dir, file), "zed").is_none(), "{file}");
    }
    assert!(who(&dir, key.trim()).is_err());
    assert!(!fs::read_to_string(dir.0.join(".gatewayctl-keys.json"))
        .unwrap()
        .contains(&hex(&Sha256::digest(key.trim().as_bytes()))[..12]));
}

#[test]
fn consumers_refusals_name_the_field_and_leave_files_untouched() {
    let dir = plugins();
    let e = refused(
        &dir,
        &["consumers", "add", "--id", "zed", "--plan", "platinum"],
    );
    assert!(
        e.contains("quota.json: invalid configuration at `consumers[5].plan`"),
        "{e}"
    );
    let e = refused(&dir, &["consumers", "add", "--id", "alice"]);
    assert!(
        e.contains("auth.json: invalid configuration at `consumers[5]`: duplicate consumer id"),
        "{e}"
    );
    let e = refused(&dir, &["consumers", "add", "--id", "bad id!"]);
    assert!(e.contains("consumers[5].id"), "{e}");
    let e = refused(
        &dir,
        &["consumers", "set-plan", "--id", "bob", "--plan", "platinum"],
    );
    assert!(e.contains("consumers[1].plan"), "{e}");
    let e = refused(&dir, &["consumers", "remove", "--id", "nobody"]);
    assert!(e.contains("nobody"), "{e}");
}

#[test]
fn versions_promote_deprecate_retire() {
    let dir = plugins();
    let mut r = read(&dir, "routing.json");
    r["versions"][1]["status"] = json!("preview");
    write(&dir, "routing.json", &r);
    ok(&dir, &["versions", "promote", "v2"]);
    assert_eq!(
        version(&read(&dir, "routing.json"), "v2")["status"],
        "stable"
    );
    let e = refused(&dir, &["versions", "promote", "v2"]);
    assert!(e.contains("only a preview version"), "{e}");
    ok(
        &dir,
        &[
            "versions",
            "deprecate",
            "v1",
            "--at",
            "2027-01-01T00:00:00Z",
            "--sunset",
            "2028-01-01T00:00:00Z",
            "--successor",
            "v2",
            "--deprecation-url",
            "https://developer.example/deprecations/v1",
        ],
    );
    let v1 = version(&read(&dir, "routing.json"), "v1").clone();
    assert_eq!(v1["status"], "deprecated");
    assert_eq!(v1["deprecation"], "2027-01-01T00:00:00Z");
    assert_eq!(v1["sunset"], "2028-01-01T00:00:00Z");
    assert_eq!(v1["successor"], "v2");
    filter_routing::config::parse(&fs::read(dir.0.join("routing.json")).unwrap()).unwrap();
    ok(&dir, &["versions", "retire", "v1beta"]);
    assert_eq!(
        version(&read(&dir, "routing.json"), "v1beta")["status"],
        "retired"
    );
    assert!(ok(&dir, &["versions", "list"]).contains("retired"));
}

#[test]
fn versions_refusals_name_the_field_and_leave_files_untouched() {
    let dir = plugins();
    // Sunset before the deprecation date.
    let e = refused(
        &dir,
        &[
            "versions",
            "deprecate",
            "v1",
            "--at",
            "2028-01-01T00:00:00Z",
            "--sunset",
            "2027-01-01T00:00:00Z",
        ],
    );
    assert!(
        e.contains("routing.json: invalid configuration at `versions[0].sunset`"),
        "{e}"
    );
    // v2 is v1beta's successor and the canary's target: routing refuses retiring it.
    let e = refused(&dir, &["versions", "retire", "v2"]);
    assert!(
        e.contains("routing.json: invalid configuration at `"),
        "{e}"
    );
    assert!(e.contains("v2"), "{e}");
    let e = refused(&dir, &["versions", "deprecate", "v9"]);
    assert!(e.contains("v9"), "{e}");
    let e = refused(&dir, &["versions", "deprecate", "v1", "--successor", "v1"]);
    assert!(e.contains("versions[0].successor"), "{e}");
    let e = refused(&dir, &["versions", "deprecate", "v1", "--at", "yesterday"]);
    assert!(e.contains("--at"), "{e}");
}

#[test]
fn canary_set_and_remove() {
    let dir = plugins();
    ok(
        &dir,
        &[
            "canary",
            "set",
            "--from",
            "v1",
            "--to",
            "v2",
            "--percent",
            "35",
        ],
    );
    let r = read(&dir, "routing.json");
    assert_eq!(
        r["canaries"],
        json!([{"from": "v1", "to": "v2", "percent": 35, "explicit": false}])
    );
    ok(
        &dir,
        &[
            "canary",
            "set",
            "--from",
            "v1",
            "--to",
            "v2",
            "--percent",
            "12.5",
        ],
    );
    assert_eq!(read(&dir, "routing.json")["canaries"][0]["percent"], 12.5);
    let e = refused(
        &dir,
        &[
            "canary",
            "set",
            "--from",
            "v1",
            "--to",
            "v2",
            "--percent",
            "150",
        ],
    );
    assert!(e.contains("canaries[0].percent"), "{e}");
    let e = refused(
        &dir,
        &[
            "canary",
            "set",
            "--from",
            "v1",
            "--to",
            "v0",
            "--percent",
            "5",
        ],
    );
    assert!(e.contains("canaries[0].to"), "{e}");
    ok(
        &dir,
        &[
            "canary",
            "ramp",
            "--from",
            "v1",
            "--to",
            "v2",
            "--start",
            "2027-01-01T00:00:00Z",
            "--end",
            "2027-01-11T00:00:00Z",
            "--to-percent",
            "50",
            "--steps",
            "5",
        ],
    );
    assert_eq!(
        read(&dir, "routing.json")["canaries"],
        json!([{"from": "v1", "to": "v2", "explicit": false, "ramp": {
            "start": "2027-01-01T00:00:00Z", "end": "2027-01-11T00:00:00Z", "steps": 5,
            "from_percent": 0, "to_percent": 50}}])
    );
    let e = refused(
        &dir,
        &[
            "canary",
            "ramp",
            "--from",
            "v1",
            "--to",
            "v2",
            "--start",
            "2027-01-11T00:00:00Z",
            "--end",
            "2027-01-01T00:00:00Z",
        ],
    );
    assert!(e.contains("canaries[0].ramp.end"), "{e}");
    ok(&dir, &["canary", "remove", "--from", "v1"]);
    assert_eq!(read(&dir, "routing.json")["canaries"], json!([]));
    let e = refused(&dir, &["canary", "remove", "--from", "v1"]);
    assert!(e.contains("no canary"), "{e}");
}

#[test]
fn apply_renders_ecds_resources_from_the_plugin_files() {
    let dir = plugins();
    let envoy = dir.0.join("ecds");
    fs::create_dir(&envoy).unwrap();
    ok(
        &dir,
        &[
            "apply",
            "--envoy-dir",
            envoy.to_str().unwrap(),
            "--dist",
            "/opt/dist",
            "--bundle",
        ],
    );
    for (name, policy) in [
        ("auth", "FAIL_CLOSED"),
        ("quota", "FAIL_CLOSED"),
        ("analytics", "FAIL_OPEN"),
        ("routing", "FAIL_CLOSED"),
    ] {
        let r: Value =
            serde_json::from_slice(&fs::read(envoy.join(format!("{name}.json"))).unwrap()).unwrap();
        let res = &r["resources"][0];
        assert_eq!(
            res["@type"],
            "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
        );
        assert_eq!(res["name"], format!("gateway.{name}"));
        let config = &res["typed_config"]["config"];
        assert_eq!(config["root_id"], name);
        assert_eq!(config["failure_policy"], policy);
        assert_eq!(
            config["vm_config"]["code"]["local"]["filename"],
            format!("/opt/dist/filter_{name}.wasm")
        );
        let inner: Value =
            serde_json::from_str(config["configuration"]["value"].as_str().unwrap()).unwrap();
        assert_eq!(inner, read(&dir, &format!("{name}.json")));
    }
    let bundle: Value =
        serde_json::from_slice(&fs::read(envoy.join("gateway.json")).unwrap()).unwrap();
    assert_eq!(
        bundle["resources"][0]["typed_config"]["config"]["root_id"],
        "gateway"
    );
    // Every change with --envoy-dir is applied too.
    let before = fs::read(envoy.join("routing.json")).unwrap();
    let auth_before = fs::read(envoy.join("auth.json")).unwrap();
    ok(
        &dir,
        &[
            "--envoy-dir",
            envoy.to_str().unwrap(),
            "--dist",
            "/opt/dist",
            "versions",
            "retire",
            "v1beta",
        ],
    );
    assert_ne!(fs::read(envoy.join("routing.json")).unwrap(), before);
    assert_eq!(fs::read(envoy.join("auth.json")).unwrap(), auth_before);
    // An invalid plugin file: nothing rendered.
    let snap = snapshot(&envoy);
    let mut q = read(&dir, "quota.json");
    q["plans"][0]["limits"][0]["window"] = json!("fortnight");
    write(&dir, "quota.json", &q);
    let out = ctl(
        &dir,
        &[
            "apply",
            "--envoy-dir",
            envoy.to_str().unwrap(),
            "--dist",
            "/opt/dist",
        ],
    );
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("quota.json: invalid configuration at `plans[0].limits[0].window`"),
        "{e}"
    );
    assert_eq!(snapshot(&envoy), snap);
    let e = refused(&dir, &["validate"]);
    assert!(e.contains("plans[0].limits[0].window"), "{e}");
}

#[test]
fn help_is_complete() {
    let dir = plugins();
    let top = ok(&dir, &["--help"]);
    for word in [
        "keys",
        "consumers",
        "versions",
        "canary",
        "apply",
        "validate",
        "--config-dir",
        "--envoy-dir",
        "--dist",
    ] {
        assert!(top.contains(word), "--help lacks {word}");
    }
    for (args, words) in [
        (vec!["keys", "issue"], vec!["--consumer", "--expires"]),
        (vec!["keys", "rotate"], vec!["--grace", "--key-id"]),
        (vec!["keys", "revoke"], vec!["--key-id", "--all"]),
        (vec!["keys", "list"], vec!["--json"]),
        (vec!["consumers", "add"], vec!["--id", "--plan", "--groups"]),
        (vec!["consumers", "set-plan"], vec!["--plan"]),
        (vec!["consumers", "set-groups"], vec!["--groups"]),
        (vec!["consumers", "remove"], vec!["--id"]),
        (
            vec!["versions", "deprecate"],
            vec!["--sunset", "--successor", "--deprecation-url"],
        ),
        (vec!["versions", "retire"], vec!["--successor"]),
        (vec!["versions", "promote"], vec!["<NAME>"]),
        (vec!["canary", "set"], vec!["--percent", "--from", "--to"]),
        (
            vec!["canary", "ramp"],
            vec!["--start", "--end", "--steps", "--to-percent"],
        ),
        (
            vec!["usage"],
            vec!["--events", "--from", "--to", "--format"],
        ),
        (vec!["apply"], vec!["--bundle"]),
    ] {
        let mut a = args.clone();
        a.push("--help");
        let text = ok(&dir, &a);
        for w in words {
            assert!(text.contains(w), "{args:?} --help lacks {w}");
        }
    }
}

#[test]
fn usage_counts_events_per_consumer_and_plan_in_the_period() {
    let dir = plugins();
    let event = |ts: u64, consumer: &str, plan: &str, status: u16, quota: &str| {
        json!({"v":1,"time":"2026-01-01T00:00:00.000Z","ts_ms":ts,"request_id":null,
               "consumer":consumer,"plan":plan,"credential":"api-key","api":"orders","version":"v1",
               "route":null,"method":"GET","path":"/v1/orders","status":status,
               "status_class":format!("{}xx", status / 100),"local":status == 429,
               "details":null,"reason":null,"auth":"ok","quota":quota,
               "request_bytes":0,"response_bytes":0,"duration_us":1,"upstream_us":null})
        .to_string()
    };
    let t0 = 1_767_225_600_000u64; // 2026-01-01T00:00:00Z
    let lines = [
        event(t0, "alice", "gold", 200, "ok"),
        event(t0 + 1, "alice", "gold", 200, "ok"),
        event(t0 + 2, "erin", "trial", 429, "exceeded"),
        event(t0 + 3, "erin", "trial", 200, "ok"),
        event(t0 + 86_400_000, "alice", "gold", 200, "ok"), // next day: outside
        event(t0 - 1, "bob", "free", 200, "ok"),            // before: outside
    ];
    let events = dir.0.join("events.jsonl");
    fs::write(&events, lines.join("\n") + "\n").unwrap();
    let path = events.to_str().unwrap();
    let period = [
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-02T00:00:00Z",
    ];
    let mut args = vec!["usage", "--events", path];
    args.extend(period);
    args.extend(["--format", "json"]);
    let rows: Value = serde_json::from_str(&ok(&dir, &args)).unwrap();
    assert_eq!(
        rows,
        json!([
            {"consumer": "alice", "plan": "gold", "from": "2026-01-01T00:00:00Z",
             "to": "2026-01-02T00:00:00Z", "requests": 2, "used": 2, "refused": 0},
            {"consumer": "erin", "plan": "trial", "from": "2026-01-01T00:00:00Z",
             "to": "2026-01-02T00:00:00Z", "requests": 2, "used": 1, "refused": 1},
        ])
    );
    let mut args = vec!["usage", "--events", path];
    args.extend(period);
    args.extend(["--format", "csv"]);
    assert_eq!(
        ok(&dir, &args),
        "consumer,plan,from,to,requests,used,refused\n\
         alice,gold,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,2,2,0\n\
         erin,trial,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,2,1,1\n"
    );
    let e = refused(
        &dir,
        &[
            "usage",
            "--events",
            path,
            "--from",
            "2026-01-02T00:00:00Z",
            "--to",
            "2026-01-01T00:00:00Z",
        ],
    );
    assert!(e.contains("--to"), "{e}");
}
