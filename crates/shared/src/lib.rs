//! Where the shared data live: the folder beside the project that holds ASAP (`data/asap`),
//! Magenta's fixtures (`fixtures/magenta`) and the reference notes. One rule, used by the
//! binary's defaults and by every test:
//!
//! 1. the environment variable [`ENV`] (`CADENZA_SHARED`) wins; it must name a folder;
//! 2. else `../shared` from the current folder (the project root, where `cadenza` is run);
//! 3. else `../shared` beside the source tree this was built from (tests run in their crate's
//!    folder);
//!
//! (a candidate counts when it holds `data/`, `fixtures/` or `reference/`);
//! 4. else an error that says what to set.
//!
//! Also [`chromium()`]: the browser the tests that render pages drive, found one way.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use thiserror::Error;

/// The environment variable that names the shared folder.
pub const ENV: &str = "CADENZA_SHARED";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SharedError {
    #[error("{ENV}={0} is not a folder")]
    NotAFolder(String),
    #[error(
        "no shared data folder: looked for {0}; set {ENV} to the folder that holds data/asap and fixtures/magenta"
    )]
    NotFound(String),
}

fn source_tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The shared folder under the rule above, given the variable's value and the current folder.
pub fn locate(var: Option<&std::ffi::OsStr>, cwd: &Path) -> Result<PathBuf, SharedError> {
    if let Some(v) = var.filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_dir() { Ok(p) } else { Err(SharedError::NotAFolder(p.display().to_string())) };
    }
    let candidates = [cwd.join("../shared"), source_tree()];
    // A folder named `shared` that holds none of these is something else (from a crate's own
    // folder, `../shared` is this crate).
    let looks_shared = |c: &Path| ["data", "fixtures", "reference"].iter().any(|d| c.join(d).is_dir());
    for c in &candidates {
        if looks_shared(c) {
            return Ok(std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()));
        }
    }
    Err(SharedError::NotFound(candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(" and ")))
}

/// The shared folder (see the crate's documentation).
pub fn dir() -> Result<PathBuf, SharedError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    locate(std::env::var_os(ENV).as_deref(), &cwd)
}

/// `rel` inside the shared folder, for tests and examples: panics with the message that says
/// what to set when there is none, or when `rel` is missing from it.
pub fn require(rel: &str) -> PathBuf {
    let d = dir().unwrap_or_else(|e| panic!("{e}"));
    let p = if rel.is_empty() { d.clone() } else { d.join(rel) };
    assert!(p.exists(), "{} is missing from the shared folder {} (set {ENV} to another)", rel, d.display());
    p
}

/// The headless-capable Chromium the page-rendering tests drive (`chromium`,
/// `chromium-browser` or `google-chrome`, the first on `PATH` that answers `--version`);
/// `None` on a machine without one, where those tests skip.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_then_the_folders_then_a_message() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp.path().join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        assert_eq!(locate(Some(mine.as_os_str()), Path::new("/nowhere")), Ok(mine.clone()));
        let e = locate(Some(tmp.path().join("nope").as_os_str()), tmp.path()).unwrap_err();
        assert!(e.to_string().contains("CADENZA_SHARED=") && e.to_string().contains("not a folder"), "{e}");
        // ../shared from the current folder, when it holds the shared data's folders.
        let root = tmp.path().join("project");
        std::fs::create_dir_all(tmp.path().join("shared")).unwrap();
        let elsewhere = locate(None, &root);
        assert_ne!(
            elsewhere,
            Ok(std::fs::canonicalize(tmp.path().join("shared")).unwrap()),
            "an empty shared/ is not it"
        );
        std::fs::create_dir_all(tmp.path().join("shared/fixtures")).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        assert_eq!(locate(None, &root).unwrap(), std::fs::canonicalize(tmp.path().join("shared")).unwrap());
        // An empty variable counts as unset.
        assert!(locate(Some(std::ffi::OsStr::new("")), &root).is_ok());
        // Neither: the source tree's ../shared when this checkout has one, else the message.
        match locate(None, Path::new("/nowhere/at/all")) {
            Ok(p) => assert!(p.ends_with("shared")),
            Err(e) => assert!(e.to_string().contains("set CADENZA_SHARED"), "{e}"),
        }
    }
}
