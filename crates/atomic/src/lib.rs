//! Writing a file so that a reader sees the old bytes or the new ones, never a torn file, and
//! a crash leaves no half-written checkpoint, dataset or report: a temporary file in the same
//! folder, fsync, rename over the target, fsync the folder. Every writer of Cadenza uses this.
//!
//! Permissions are what any other program's writes give: a new file gets `0666` less the
//! umask (a temp-file crate's `0600` would survive the rename and hide a report from the
//! web server it was written for), and a file that is replaced keeps its own mode.
//!
//! [`DirLock`] keeps two processes out of one output folder.
#![forbid(unsafe_code)]

mod lock;
pub use lock::{DirLock, LockError, LOCK_FILE};

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically (see the crate's documentation). On error the temporary
/// file is removed and a file already at `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] with the contents written by `fill` (streamed, not built in memory first).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<&mut fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a file name", path.display())))?;
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let keep = fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.permissions());
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // `OpenOptions` creates with mode 0666, less the umask, on Unix.
        match fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        {
            let mut w = io::BufWriter::new(&mut f);
            fill(&mut w)?;
            w.flush()?;
        }
        if let Some(p) = keep {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            sync_dir(&dir);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(say_disk_full(e))
        }
    }
}

/// Writes `value` to `path` atomically as pretty-printed JSON (two-space indents, no newline
/// at the end): every JSON file Cadenza writes (manifests, reports, keys, run state) comes
/// through here.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    write_atomic_with(path, |w| serde_json::to_writer_pretty(w, value).map_err(io::Error::other))
}

/// Whether an error, or any error below it, is a full disk (`ENOSPC`, a quota), as far as the
/// error lets one see: an `io::Error` of that kind, or its message in a library's own error.
pub fn is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(io) = x.downcast_ref::<io::Error>() {
            if matches!(io.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) {
                return true;
            }
        }
        let text = x.to_string();
        if text.contains("No space left on device") || text.contains("Disk quota exceeded") {
            return true;
        }
        cur = x.source();
    }
    false
}

/// A full-disk `io::Error` says so in words a user acts on; any other error is returned as is.
pub fn say_disk_full(e: io::Error) -> io::Error {
    if is_disk_full(&e) && !e.to_string().starts_with("the disk is full") {
        io::Error::new(
            e.kind(),
            format!("the disk is full ({e}); free some space, then run again (a training run: --resume)"),
        )
    } else {
        e
    }
}

/// Makes a rename in `dir` durable (best effort; a no-op where folders cannot be opened).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_full_disk_says_so() {
        let e = say_disk_full(io::Error::from(io::ErrorKind::StorageFull));
        assert!(e.to_string().starts_with("the disk is full") && is_disk_full(&e), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        let other = say_disk_full(io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(other.kind(), io::ErrorKind::NotFound);
        assert!(!is_disk_full(&other));
    }

    #[test]
    fn writes_replaces_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("report.html");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn write_json_writes_what_to_string_pretty_gives() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("split.json");
        let v = serde_json::json!({"files": [{"path": "a.mid", "split": "eval"}], "ratio": 0.1});
        write_json(&p, &v).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), serde_json::to_string_pretty(&v).unwrap());
        let e = write_json(&d.path().join("no/such/folder/x.json"), &v).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("stop.json");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(write_atomic(&d.path().join("no/such/folder/x"), b"x").is_err());
    }

    /// A new file has the mode `File::create` gives (0666 less the umask), not a temp file's
    /// 0600; a replaced file keeps the mode it had.
    #[cfg(unix)]
    #[test]
    fn new_files_get_the_usual_mode_and_replaced_files_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("plain");
        fs::File::create(&plain).unwrap();
        let p = d.path().join("comparison.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(mode(&p), mode(&plain));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"{\"a\": 1}").unwrap();
        assert_eq!(mode(&p), 0o640);
    }
}
