//! Reading event files: one JSON event per line; blank lines ignored; anything else counted as
//! invalid and skipped (a partly written last line, a log line mixed in).

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::event::UsageEvent;

/// Events read from the inputs.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The events, in file order.
    pub events: Vec<UsageEvent<'static>>,
    /// Lines that were not events.
    pub invalid_lines: usize,
    /// Files read.
    pub files: Vec<PathBuf>,
}

/// The files named by `inputs`: files as given, directories expanded to their `*.jsonl`,
/// `*.ndjson` and `*.log` files in name order.
pub fn expand(inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(input)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|x| x == "jsonl" || x == "ndjson" || x == "log")
                })
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Parses events from a reader into `into`.
pub fn read_events(reader: impl BufRead, into: &mut Loaded) -> io::Result<()> {
    for line in reader.split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<UsageEvent<'static>>(&line) {
            Ok(e) if e.v >= 1 => into.events.push(e),
            _ => into.invalid_lines += 1,
        }
    }
    Ok(())
}

/// Reads every event from `inputs`.
pub fn load_paths(inputs: &[PathBuf]) -> io::Result<Loaded> {
    let mut loaded = Loaded::default();
    for file in expand(inputs)? {
        let f = std::fs::File::open(&file)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
        read_events(BufReader::new(f), &mut loaded)?;
        loaded.files.push(file);
    }
    Ok(loaded)
}

/// Reads events from one path (a convenience for tests).
pub fn load_path(path: &Path) -> io::Result<Loaded> {
    load_paths(&[path.to_path_buf()])
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
