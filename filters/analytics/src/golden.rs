//! Golden-file assertions for tests: `BLESS=1` rewrites the file, otherwise a mismatch fails
//! with a unified diff. Files live in `testdata/golden/` of the crate.

use std::path::PathBuf;

/// Path of a golden file.
pub fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/golden")
        .join(name)
}

/// Compares `actual` with the golden file `name` (or rewrites it when `BLESS=1`).
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header(&format!("{name} (golden)"), &format!("{name} (actual)"))
            .to_string();
        panic!(
            "golden file {} differs (rerun with BLESS=1 to accept):\n{diff}",
            path.display()
        );
    }
}
