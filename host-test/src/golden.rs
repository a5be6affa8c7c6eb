//! Golden files for traces and other text outputs: compare, print a line diff on mismatch,
//! rewrite when `HOST_TEST_BLESS=1` is set (as wasmtime's `WASMTIME_TEST_BLESS`).

use std::path::Path;

/// Compares `actual` with the file at `path`. With `HOST_TEST_BLESS=1` the file is
/// (re)written instead. Returns `Err` with a line diff (`-` expected, `+` actual) on mismatch
/// or when the file is missing.
pub fn check(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var("HOST_TEST_BLESS").is_ok_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        return std::fs::write(path, actual).map_err(|e| e.to_string());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with HOST_TEST_BLESS=1 to create it)",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "{} differs (HOST_TEST_BLESS=1 rewrites it):\n{}",
        path.display(),
        diff(&expected, actual)
    ))
}

/// A line diff from the longest common subsequence.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
