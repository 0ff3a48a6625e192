//! The maintenance-flag probe: do the files that switch an application into
//! maintenance mode exist, since when, and what does a small one say. Only
//! regular files are opened (never a FIFO or a device), and only their
//! first line is kept, redacted.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::UnixTime;
use crate::{Failure, Phase, ProbeContext, process, redact};

/// Only files at most this big have their first line read.
pub const SMALL_FILE_BYTES: u64 = 4096;

/// At most this many characters of the first line are kept.
pub const FIRST_LINE_MAX_CHARS: usize = 200;

/// The flag files to look at.
#[derive(Debug, Clone, Default)]
pub struct FlagsSpec {
    pub paths: Vec<PathBuf>,
}

/// One flag file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagFile {
    pub path: PathBuf,
    /// Whether it exists (following symlinks). False also when it could
    /// not be looked at; `failure` then says why.
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mtime: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// Whether it is a directory rather than a file.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub is_dir: bool,
    /// For a regular file of at most [`SMALL_FILE_BYTES`]: its first line,
    /// secrets redacted, at most [`FIRST_LINE_MAX_CHARS`] characters.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_line: Option<String>,
    /// Anything other than "does not exist" that got in the way
    /// (permission denied on the directory or the file).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the flag probe saw, one entry per path, in the spec's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagsObservation {
    pub flags: Vec<FlagFile>,
    /// Set only when the whole scan could not run (timed out).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl FlagsObservation {
    /// The flags that exist.
    pub fn present(&self) -> impl Iterator<Item = &FlagFile> {
        self.flags.iter().filter(|f| f.exists)
    }
}

/// A first line as a report shows it: redacted, cut to
/// [`FIRST_LINE_MAX_CHARS`] characters.
pub fn display_first_line(line: &str) -> String {
    let line = line.trim_end_matches(['\n', '\r']);
    let redacted = redact::text(line);
    match redacted.char_indices().nth(FIRST_LINE_MAX_CHARS) {
        Some((cut, _)) => redacted[..cut].to_string(),
        None => redacted,
    }
}

/// Look at each flag file. Runs on the blocking pool.
pub async fn run(spec: &FlagsSpec, ctx: &ProbeContext) -> FlagsObservation {
    let _ = ctx;
    let paths = spec.paths.clone();
    let fallback = spec.paths.clone();
    match process::local_blocking("flag file scan", move || {
        paths.into_iter().map(look).collect::<Vec<_>>()
    })
    .await
    {
        Ok(flags) => FlagsObservation {
            flags,
            failure: None,
        },
        Err(failure) => FlagsObservation {
            flags: fallback
                .into_iter()
                .map(|path| FlagFile {
                    path,
                    ..FlagFile::default()
                })
                .collect(),
            failure: Some(failure),
        },
    }
}

fn look(path: PathBuf) -> FlagFile {
    let mut flag = FlagFile {
        path,
        ..FlagFile::default()
    };
    let meta = match std::fs::metadata(&flag.path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return flag,
        Err(e) => {
            let what = format!("stat {}", flag.path.display());
            flag.failure = Some(Failure::from_io(&e, Phase::Local, &what));
            return flag;
        }
    };
    flag.exists = true;
    flag.mtime = Some(UnixTime(std::os::unix::fs::MetadataExt::mtime(&meta)));
    flag.size = Some(meta.len());
    flag.is_dir = meta.is_dir();
    if meta.is_file() && meta.len() <= SMALL_FILE_BYTES {
        match read_first_line(&flag.path) {
            Ok(line) => flag.first_line = Some(display_first_line(&line)),
            Err(e) => {
                let what = format!("read {}", flag.path.display());
                flag.failure = Some(Failure::from_io(&e, Phase::Local, &what));
            }
        }
    }
    flag
}

/// The first line of a small file, read lossily (at most
/// [`SMALL_FILE_BYTES`] bytes, whatever the file grew to meanwhile).
fn read_first_line(path: &std::path::Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    std::io::BufReader::new(file.take(SMALL_FILE_BYTES)).read_until(b'\n', &mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_are_redacted_and_cut() {
        assert_eq!(
            display_first_line("down for db migration\n"),
            "down for db migration"
        );
        assert_eq!(
            display_first_line("by deploy token=abc123\r\n"),
            "by deploy token=REDACTED"
        );
        assert_eq!(
            display_first_line(&"é".repeat(300)).chars().count(),
            FIRST_LINE_MAX_CHARS
        );
    }
}
