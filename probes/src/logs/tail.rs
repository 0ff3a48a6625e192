//! A bounded reader of the end of a log file: it seeks to at most
//! `max_bytes` before the end, drops the first partial line and splits the
//! rest into lines (lossy UTF-8, each cut at [`MAX_LINE_BYTES`]). It never
//! reads more than its budget, never follows a FIFO or a device, and turns
//! every I/O problem into a [`Failure`]. Blocking: call it from
//! `spawn_blocking`.

use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::units::UnixTime;
use crate::{Failure, FailureKind, Phase};

/// Default byte budget: the last 1 MiB of a log.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;

/// Longest line kept, in bytes; the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// What was read, for the observation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailSummary {
    /// Size of the file when it was opened.
    pub file_size: u64,
    /// Bytes read, across the file and its rotated predecessor.
    pub bytes_read: u64,
    /// Lines read (the partial first line dropped).
    pub lines: u64,
    /// Reading began after the start of the oldest file read: older lines
    /// exist that were not read.
    pub started_mid_file: bool,
    /// The file was truncated or replaced while it was being read.
    #[serde(skip_serializing_if = "is_false", default)]
    pub changed_during_read: bool,
    /// Lines longer than [`MAX_LINE_BYTES`], kept cut.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub long_lines_cut: u64,
    /// The rotated predecessor (`<path>.1`) whose end was read before the
    /// file's own lines, when the file alone was too short.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predecessor: Option<PathBuf>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The end of a log: its lines, oldest first, and how they were read.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    pub lines: Vec<String>,
    pub summary: TailSummary,
    /// Modification time of the file the newest lines came from, taken after
    /// reading.
    pub mtime: Option<UnixTime>,
}

impl Tail {
    /// A tail of in-memory log text, read whole (for parsing fixtures and
    /// captured logs without touching the file system).
    pub fn from_bytes(bytes: &[u8], mtime: Option<UnixTime>) -> Self {
        let (lines, cut) = split_lines(bytes);
        Self {
            summary: TailSummary {
                file_size: bytes.len() as u64,
                bytes_read: bytes.len() as u64,
                lines: lines.len() as u64,
                long_lines_cut: cut,
                ..TailSummary::default()
            },
            lines,
            mtime,
        }
    }

    /// Put `older` (the predecessor's tail) before these lines.
    pub fn prepend(&mut self, older: Self, path: PathBuf) {
        let mut lines = older.lines;
        lines.append(&mut self.lines);
        self.lines = lines;
        let s = &mut self.summary;
        s.bytes_read += older.summary.bytes_read;
        s.lines += older.summary.lines;
        s.long_lines_cut += older.summary.long_lines_cut;
        s.started_mid_file = older.summary.started_mid_file;
        s.changed_during_read |= older.summary.changed_during_read;
        s.predecessor = Some(path);
        if s.lines == older.summary.lines {
            self.mtime = older.mtime;
        }
    }
}

/// A failure to read `path`, classified.
fn io_failure(err: &io::Error, path: &Path) -> Failure {
    let p = path.display();
    match err.kind() {
        io::ErrorKind::NotFound => Failure::new(
            FailureKind::NotFound,
            Phase::Local,
            format!("{p}: no such file"),
        ),
        io::ErrorKind::PermissionDenied => Failure::new(
            FailureKind::PermissionDenied,
            Phase::Local,
            format!(
                "{p}: permission denied (logs are usually readable by root and the group adm: \
                 run as root or add this user to adm)"
            ),
        ),
        _ => Failure::from_io(err, Phase::Local, &format!("reading {p}")),
    }
}

/// Open `path` for reading if it is a regular file. `O_NONBLOCK` so that a
/// FIFO swapped in after the check cannot block the open.
fn open_regular(path: &Path) -> Result<(File, Metadata), Failure> {
    let meta = std::fs::metadata(path).map_err(|e| io_failure(&e, path))?;
    if meta.is_dir() {
        return Err(Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("{}: is a directory, not a log file", path.display()),
        ));
    }
    if !meta.is_file() {
        return Err(Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("{}: not a regular file", path.display()),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| io_failure(&e, path))?;
    let meta = file.metadata().map_err(|e| io_failure(&e, path))?;
    if !meta.is_file() {
        return Err(Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("{}: not a regular file", path.display()),
        ));
    }
    Ok((file, meta))
}

/// Read the last `max_bytes` of a file `size` bytes long. The byte before
/// the window is read too, to know whether the window starts on a line.
/// Returns the bytes from the first whole line on, and whether anything
/// before them was left unread.
fn read_window(file: &mut File, size: u64, max_bytes: u64) -> io::Result<(Vec<u8>, bool)> {
    let start = size.saturating_sub(max_bytes);
    let from = start.saturating_sub(1);
    file.seek(SeekFrom::Start(from))?;
    let want = size - from;
    let mut buf = Vec::with_capacity(usize::try_from(want.min(max_bytes + 1)).unwrap_or(0));
    file.by_ref().take(want).read_to_end(&mut buf)?;
    if start == 0 {
        return Ok((buf, false));
    }
    // buf[0] is the byte before the window: a newline there means the
    // window starts on a whole line.
    let skip = if buf.first() == Some(&b'\n') {
        1
    } else {
        buf.iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| i + 1)
    };
    buf.drain(..skip);
    Ok((buf, true))
}

/// Split bytes into lines: `\n` separated, a trailing `\r` dropped, lossy
/// UTF-8, each cut at [`MAX_LINE_BYTES`]. Returns the lines and how many
/// were cut.
pub fn split_lines(bytes: &[u8]) -> (Vec<String>, u64) {
    let mut cut = 0;
    let mut lines = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() && bytes.is_empty() {
        return (lines, 0);
    }
    for raw in body.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if raw.len() > MAX_LINE_BYTES {
            cut += 1;
            &raw[..MAX_LINE_BYTES]
        } else {
            raw
        };
        lines.push(String::from_utf8_lossy(raw).into_owned());
    }
    (lines, cut)
}

fn mtime_of(meta: &Metadata) -> Option<UnixTime> {
    Some(UnixTime(meta.mtime())).filter(|t| t.0 > 0)
}

/// Read at most `max_bytes` from the end of `path`.
pub fn read_tail(path: &Path, max_bytes: u64) -> Result<Tail, Failure> {
    let (mut file, meta) = open_regular(path)?;
    let size = meta.len();
    let (mut bytes, mut mid) =
        read_window(&mut file, size, max_bytes).map_err(|e| io_failure(&e, path))?;
    let after = file.metadata().map_err(|e| io_failure(&e, path))?;
    let mut changed = false;
    if after.len() < size {
        // Truncated under us (logrotate's copytruncate): read the new end.
        changed = true;
        (bytes, mid) =
            read_window(&mut file, after.len(), max_bytes).map_err(|e| io_failure(&e, path))?;
    }
    // Renamed away and replaced (logrotate's create): we read the old file
    // through our handle, which is complete; say so.
    if let Ok(now) = std::fs::metadata(path)
        && (now.ino() != after.ino() || now.dev() != after.dev())
    {
        changed = true;
    }
    let (lines, cut) = split_lines(&bytes);
    Ok(Tail {
        summary: TailSummary {
            file_size: size,
            bytes_read: bytes.len() as u64,
            lines: lines.len() as u64,
            started_mid_file: mid,
            changed_during_read: changed,
            long_lines_cut: cut,
            predecessor: None,
        },
        lines,
        mtime: mtime_of(&file.metadata().unwrap_or(after)),
    })
}

/// The rotated predecessor of a log: `<path>.1`.
pub fn predecessor_path(path: &Path) -> PathBuf {
    let mut p = OsString::from(path.as_os_str());
    p.push(".1");
    PathBuf::from(p)
}

/// Prepend the end of `<path>.1` to `tail` if the file was read whole, left
/// budget over, and `wants_older` says the window reaches further back.
/// Problems reading the predecessor are ignored: it is optional.
pub fn extend_with_predecessor(
    tail: &mut Tail,
    path: &Path,
    max_bytes: u64,
    wants_older: impl FnOnce(&Tail) -> bool,
) {
    let left = max_bytes.saturating_sub(tail.summary.bytes_read);
    if tail.summary.started_mid_file || left == 0 || !wants_older(tail) {
        return;
    }
    let pred = predecessor_path(path);
    if let Ok(older) = read_tail(&pred, left) {
        tail.prepend(older, pred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_handles_crlf_trailing_newline_and_invalid_utf8() {
        let (lines, cut) = split_lines(b"a\r\nb\xff\n\nc");
        assert_eq!(lines, vec!["a", "b\u{fffd}", "", "c"]);
        assert_eq!(cut, 0);
        assert_eq!(split_lines(b"").0, Vec::<String>::new());
        assert_eq!(split_lines(b"\n").0, vec![""]);
    }

    #[test]
    fn split_cuts_long_lines() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let (lines, cut) = split_lines(&long);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(cut, 1);
    }

    #[test]
    fn predecessor_is_dot_one() {
        assert_eq!(
            predecessor_path(Path::new("/var/log/nginx/error.log")),
            PathBuf::from("/var/log/nginx/error.log.1")
        );
    }
}
