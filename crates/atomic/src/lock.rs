//! One process per output folder: an advisory lock (`flock` on Unix, `LockFileEx` on Windows,
//! through `std::fs::File::try_lock`) on a lock file that names its holder. The OS releases the
//! lock when the holder exits, however it exits (`kill -9` included), so a lock file left by a
//! dead process never blocks the next run. A second process is refused at once, with the
//! folder and the holder's pid and command in the error.
//!
//! The lock conflicts between two opens of the lock file even within one process: a caller
//! locks a folder once and lets what it calls lock only other folders (subfolders are fine).

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".cadenza.lock";

/// A folder held by this process until the value is dropped.
#[derive(Debug)]
pub struct DirLock {
    file: fs::File,
    path: PathBuf,
}

/// Why a folder could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the folder; `pid` and `command` are what its lock file says (none
    /// when it could not be read).
    Held { dir: PathBuf, pid: Option<u32>, command: Option<String> },
    /// The lock file could not be created or locked.
    Io { path: PathBuf, source: io::Error },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held { dir, pid, command } => {
                write!(f, "{}: in use by ", dir.display())?;
                match pid {
                    Some(pid) => write!(f, "process {pid}")?,
                    None => write!(f, "another process")?,
                }
                if let Some(c) = command {
                    write!(f, " ({c})")?;
                }
                write!(f, "; wait for it to finish, or choose another folder")
            }
            LockError::Io { path, source } => write!(f, "{}: cannot take the lock: {source}", path.display()),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Held { .. } => None,
            LockError::Io { source, .. } => Some(source),
        }
    }
}

impl DirLock {
    /// Locks `dir` (created when missing) through `dir/.cadenza.lock`. `what` says what holds it
    /// (`"training"`, `"comparison"`), for the error another process gets.
    pub fn acquire(dir: &Path, what: &str) -> Result<DirLock, LockError> {
        fs::create_dir_all(dir).map_err(|source| LockError::Io { path: dir.to_path_buf(), source })?;
        Self::lock(dir, dir.join(LOCK_FILE), what)
    }

    /// Locks `dir` through a lock file beside it (`.NAME.cadenza.lock` in its parent, which is
    /// created when missing; `dir` itself is not): for a folder that is built elsewhere and
    /// renamed over the old one, which would take a lock file inside it away.
    pub fn acquire_beside(dir: &Path, what: &str) -> Result<DirLock, LockError> {
        let name = dir.file_name().ok_or_else(|| LockError::Io {
            path: dir.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a folder name"),
        })?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::create_dir_all(parent).map_err(|source| LockError::Io { path: parent.to_path_buf(), source })?;
        Self::lock(dir, parent.join(format!(".{}{LOCK_FILE}", name.to_string_lossy())), what)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(dir: &Path, path: PathBuf, what: &str) -> Result<DirLock, LockError> {
        let io = |source: io::Error| LockError::Io { path: path.clone(), source: crate::say_disk_full(source) };
        let mut file =
            fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let (pid, command) = holder(&path);
                return Err(LockError::Held { dir: dir.to_path_buf(), pid, command });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for a refused process's message (best effort: a full disk leaves it
        // empty, and the lock holds all the same).
        let text = format!("pid {}\nwhat {what}\ncommand {}\n", std::process::id(), command_line());
        let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(text.as_bytes()));
        Ok(DirLock { file, path })
    }
}

impl Drop for DirLock {
    /// Empties the lock file; closing it releases the lock. The file stays: removing it would
    /// let a process that opened it just before lock a file no longer in the folder.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// The pid and command a held lock file names. The holder writes them just after it locks,
/// so an empty file is read again for a moment.
fn holder(path: &Path) -> (Option<u32>, Option<String>) {
    let mut text = String::new();
    for _ in 0..25 {
        text.clear();
        if fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)).is_ok() && text.ends_with('\n') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
    (field("pid ").and_then(|p| p.parse().ok()), field("command ").filter(|c| !c.is_empty()))
}

/// This process's command line, shortened for an error message.
fn command_line() -> String {
    let full = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    match full.char_indices().nth(300) {
        Some((i, _)) => format!("{} …", &full[..i]),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lock on a held folder is refused at once, naming the folder and this process;
    /// once the first is dropped the folder can be locked again.
    #[test]
    fn a_held_folder_is_refused_until_released() {
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("run");
        let first = DirLock::acquire(&run, "training").unwrap();
        assert_eq!(first.path(), run.join(LOCK_FILE));
        let err = DirLock::acquire(&run, "training").unwrap_err();
        let LockError::Held { dir, pid, command } = &err else { panic!("{err}") };
        assert_eq!((dir, *pid), (&run, Some(std::process::id())));
        assert!(command.is_some(), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}: in use by process {}", run.display(), std::process::id())), "{msg}");
        // A subfolder is another folder.
        let inner = DirLock::acquire(&run.join("inner"), "training").unwrap();
        drop(first);
        let again = DirLock::acquire(&run, "comparison").unwrap();
        assert!(fs::read_to_string(again.path()).unwrap().contains("what comparison"));
        drop((again, inner));
        assert_eq!(fs::read_to_string(run.join(LOCK_FILE)).unwrap(), "");
    }

    /// A folder replaced whole is locked through a file beside it, which does not create it.
    #[test]
    fn a_lock_beside_the_folder() {
        let d = tempfile::tempdir().unwrap();
        let ds = d.path().join("ds");
        let lock = DirLock::acquire_beside(&ds, "dataset").unwrap();
        assert_eq!(lock.path(), d.path().join(".ds.cadenza.lock"));
        assert!(!ds.exists());
        let err = DirLock::acquire_beside(&ds, "dataset").unwrap_err();
        assert!(err.to_string().starts_with(&format!("{}: in use by process", ds.display())), "{err}");
        // The folder's own lock is a different one.
        DirLock::acquire(&ds, "training").unwrap();
    }
}
