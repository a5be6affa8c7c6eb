//! The plugin configuration files: read, changed in memory, validated with the filters' own
//! configuration code, then written atomically (temp file in the same directory, fsync, rename,
//! fsync of the directory). Nothing is written unless every changed file validates.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// An error for the user: printed, then the process exits non-zero.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Shorthand for a user error.
pub fn err<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error(message.into()))
}

/// Which filter reads a plugin file, from its name (`quota-global.json` is quota's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// filter-auth.
    Auth,
    /// filter-quota.
    Quota,
    /// filter-analytics.
    Analytics,
    /// filter-routing.
    Routing,
    /// Not a filter's configuration (gatewayctl's own key metadata).
    Other,
}

impl Kind {
    /// The kind of `<stem>.json`.
    pub fn of(stem: &str) -> Kind {
        match stem {
            "auth" => Kind::Auth,
            s if s == "quota" || s.starts_with("quota-") => Kind::Quota,
            "analytics" => Kind::Analytics,
            "routing" => Kind::Routing,
            _ => Kind::Other,
        }
    }
}

/// Validates `bytes` with the filter's own configuration reader; the error names the field.
pub fn validate(kind: Kind, bytes: &[u8]) -> Result<(), filter_core::ConfigError> {
    match kind {
        Kind::Auth => filter_auth::config::Config::parse(bytes).map(drop),
        Kind::Quota => filter_quota::config::parse(bytes).map(drop),
        Kind::Analytics => filter_analytics::config::parse(bytes).map(drop),
        Kind::Routing => filter_routing::config::parse(bytes).map(drop),
        Kind::Other => Ok(()),
    }
}

struct Doc {
    value: Value,
    /// `None` for a file that did not exist.
    original: Option<Vec<u8>>,
    dirty: bool,
}

/// The configuration directory and the documents read from it.
pub struct Store {
    dir: PathBuf,
    docs: BTreeMap<String, Doc>,
}

/// gatewayctl's own record of when each key was issued (the auth format has no such field).
pub const KEY_META: &str = ".gatewayctl-keys";

impl Store {
    /// A store over `dir` (nothing read yet).
    pub fn open(dir: &Path) -> Result<Store, Error> {
        if !dir.is_dir() {
            return err(format!("{}: not a directory", dir.display()));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            docs: BTreeMap::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `<stem>.json`.
    pub fn path(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.json"))
    }

    /// Whether `<stem>.json` exists.
    pub fn exists(&self, stem: &str) -> bool {
        self.docs.get(stem).is_some_and(|d| d.original.is_some()) || self.path(stem).is_file()
    }

    /// The stems of quota's plugin files present (`quota`, `quota-global`, ...).
    pub fn quota_files(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let entries =
            fs::read_dir(&self.dir).map_err(|e| Error(format!("{}: {e}", self.dir.display())))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".json") {
                if Kind::of(stem) == Kind::Quota {
                    out.push(stem.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn load(&mut self, stem: &str, missing_ok: bool) -> Result<&mut Doc, Error> {
        if !self.docs.contains_key(stem) {
            let path = self.path(stem);
            let doc = match fs::read(&path) {
                Ok(bytes) => {
                    let value = serde_json::from_slice(&bytes)
                        .map_err(|e| Error(format!("{}: invalid JSON: {e}", path.display())))?;
                    Doc {
                        value,
                        original: Some(bytes),
                        dirty: false,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && missing_ok => Doc {
                    value: Value::Object(Default::default()),
                    original: None,
                    dirty: false,
                },
                Err(e) => return err(format!("{}: {e}", path.display())),
            };
            self.docs.insert(stem.to_string(), doc);
        }
        self.docs
            .get_mut(stem)
            .ok_or_else(|| Error(format!("{stem}: not loaded")))
    }

    /// `<stem>.json`, read once.
    pub fn get(&mut self, stem: &str) -> Result<&Value, Error> {
        Ok(&self.load(stem, false)?.value)
    }

    /// `<stem>.json` to change; it will be validated and written by [`Store::commit`].
    pub fn edit(&mut self, stem: &str) -> Result<&mut Value, Error> {
        let doc = self.load(stem, false)?;
        doc.dirty = true;
        Ok(&mut doc.value)
    }

    /// Like [`Store::edit`], an empty object if the file does not exist.
    pub fn edit_or_new(&mut self, stem: &str) -> Result<&mut Value, Error> {
        let doc = self.load(stem, true)?;
        doc.dirty = true;
        Ok(&mut doc.value)
    }

    /// Validates every changed document with its filter, then writes each changed one
    /// atomically. On any validation error nothing is written; the errors name file and field.
    pub fn commit(&mut self) -> Result<Vec<PathBuf>, Error> {
        let mut rendered = Vec::new();
        let mut errors = Vec::new();
        for (stem, doc) in &self.docs {
            if !doc.dirty {
                continue;
            }
            let bytes = render(&doc.value)?;
            if doc.original.as_deref() == Some(bytes.as_slice()) {
                continue;
            }
            if let Err(e) = validate(Kind::of(stem), &bytes) {
                errors.push(format!("{stem}.json: {e}"));
            }
            rendered.push((self.path(stem), bytes));
        }
        if !errors.is_empty() {
            return err(format!(
                "refused (nothing written):\n  {}",
                errors.join("\n  ")
            ));
        }
        let mut written = Vec::new();
        for (path, bytes) in rendered {
            write_atomic(&path, &bytes)?;
            written.push(path);
        }
        for doc in self.docs.values_mut() {
            doc.dirty = false;
        }
        Ok(written)
    }
}

/// Pretty JSON with a final newline.
pub fn render(value: &Value) -> Result<Vec<u8>, Error> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| Error(format!("serializing: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename over
/// `path`, fsync of the directory. A reader (or Envoy's file watch) sees the old file or the new
/// one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 6];
    getrandom::getrandom(&mut suffix).map_err(|e| Error(format!("OS RNG: {e}")))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex(&suffix)));
    let io = |e: std::io::Error| Error(format!("{}: {e}", path.display()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        // Keep the permissions of the file replaced.
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            d.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `v[key]` as an array, created empty when absent.
pub fn list_mut<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Vec<Value>, Error> {
    let o = v
        .as_object_mut()
        .ok_or_else(|| Error("not a JSON object".into()))?;
    o.entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| Error(format!("`{key}` is not an array")))
}

/// Index of the entry of array `list` whose `field` is `name`.
pub fn find(v: &Value, list: &str, field: &str, name: &str) -> Option<usize> {
    v.get(list)?
        .as_array()?
        .iter()
        .position(|c| c.get(field).and_then(Value::as_str) == Some(name))
}

/// Index of consumer `id` in a document with `consumers`.
pub fn consumer_index(v: &Value, id: &str) -> Result<usize, Error> {
    find(v, "consumers", "id", id).ok_or_else(|| Error(format!("no consumer `{id}` in auth.json")))
}
