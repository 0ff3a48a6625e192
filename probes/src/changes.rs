//! Change history from file times: when a deploy path (a release directory
//! or a `current` symlink) last changed, and which files changed after a
//! given time. Only `stat` calls: no file is opened, nothing is followed
//! below a directory's top level.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::UnixTime;
use crate::{Failure, FailureKind, Phase, ProbeContext, process};

/// At most this many top-level entries of a release directory are looked at.
pub const MAX_ENTRIES: usize = 10_000;

/// At most this many paths are looked at by [`newer_than`].
pub const MAX_PATHS: usize = 10_000;

/// One deploy path to look at.
#[derive(Debug, Clone, Default)]
pub struct DeploySpec {
    /// A release directory, or a symlink to one (`/srv/app/current`).
    pub path: PathBuf,
    /// A change newer than this is a recent deployment.
    pub recent: Duration,
}

/// Which of the times is the newest change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// The symlink itself was replaced (a release switch).
    Symlink,
    /// The directory's entry list changed (a file added, removed, renamed).
    Directory,
    /// A top-level entry of the directory changed.
    Entry,
}

/// A file and its modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFile {
    pub path: PathBuf,
    pub mtime: UnixTime,
}

/// What the deploy probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployObservation {
    pub path: PathBuf,
    /// Whether `path` is a symlink.
    pub is_symlink: bool,
    /// The symlink's target as written in it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<PathBuf>,
    /// The directory `path` finally resolves to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolved: Option<PathBuf>,
    /// When the symlink itself was written: when the release was switched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link_mtime: Option<UnixTime>,
    /// The modification time of the directory `path` resolves to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target_mtime: Option<UnixTime>,
    /// The newest top-level entry of that directory (symlinks not followed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub newest_entry: Option<ChangedFile>,
    /// Top-level entries looked at.
    pub entries_scanned: usize,
    /// True when the directory held more than [`MAX_ENTRIES`] entries.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub entries_truncated: bool,
    /// The newest of the times above.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub changed_at: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub changed_by: Option<ChangeSource>,
    /// Seconds since `changed_at` (0 for a time in the future).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub age_secs: Option<u64>,
    /// The spec's `recent`, in seconds.
    pub recent_secs: u64,
    /// Whether `changed_at` is within `recent` of now.
    pub changed_within_window: bool,
    /// `NotFound` for a missing path (or a dangling symlink, with
    /// `target` set); `PermissionDenied` when it cannot be looked at.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

fn mtime(meta: &std::fs::Metadata) -> UnixTime {
    UnixTime(std::os::unix::fs::MetadataExt::mtime(meta))
}

/// The files among `paths` modified after `t` (strictly), newest first.
/// Both the path itself and, for a symlink, what it points to are looked
/// at: a config file edited in place and a symlink switched to another file
/// are both changes. Missing and unreadable paths are skipped; at most
/// [`MAX_PATHS`] paths are looked at.
pub fn newer_than<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
    t: UnixTime,
) -> Vec<ChangedFile> {
    let mut out: Vec<ChangedFile> = paths
        .into_iter()
        .take(MAX_PATHS)
        .filter_map(|p| {
            let p = p.as_ref();
            let own = std::fs::symlink_metadata(p).ok().map(|m| mtime(&m));
            let followed = std::fs::metadata(p).ok().map(|m| mtime(&m));
            let newest = own.max(followed)?;
            (newest > t).then(|| ChangedFile {
                path: p.to_path_buf(),
                mtime: newest,
            })
        })
        .collect();
    out.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.path.cmp(&b.path)));
    out
}

/// The newest of the three times, with which one it is; ties go to the
/// symlink, then the directory (the more telling source).
pub fn newest_change(
    link: Option<UnixTime>,
    dir: Option<UnixTime>,
    entry: Option<UnixTime>,
) -> Option<(UnixTime, ChangeSource)> {
    [
        (link, ChangeSource::Symlink),
        (dir, ChangeSource::Directory),
        (entry, ChangeSource::Entry),
    ]
    .into_iter()
    .filter_map(|(t, s)| t.map(|t| (t, s)))
    .reduce(|best, next| if next.0 > best.0 { next } else { best })
}

/// Look at one deploy path: is it a symlink, where it points, when it and
/// the directory behind it last changed. Runs on the blocking pool.
pub async fn run(spec: &DeploySpec, ctx: &ProbeContext) -> DeployObservation {
    let _ = ctx;
    let spec = spec.clone();
    let path = spec.path.clone();
    let recent_secs = spec.recent.as_secs();
    match process::local_blocking("deploy path scan", move || observe(&spec, UnixTime::now())).await
    {
        Ok(obs) => obs,
        Err(failure) => DeployObservation {
            path,
            recent_secs,
            failure: Some(failure),
            ..DeployObservation::default()
        },
    }
}

fn observe(spec: &DeploySpec, now: UnixTime) -> DeployObservation {
    let path = &spec.path;
    let mut obs = DeployObservation {
        path: path.clone(),
        recent_secs: spec.recent.as_secs(),
        ..DeployObservation::default()
    };
    let own = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            obs.failure = Some(Failure::from_io(
                &e,
                Phase::Local,
                &format!("stat {}", path.display()),
            ));
            return obs;
        }
    };
    if own.file_type().is_symlink() {
        obs.is_symlink = true;
        obs.link_mtime = Some(mtime(&own));
        obs.target = std::fs::read_link(path).ok();
    }
    match std::fs::metadata(path) {
        Ok(target) => {
            obs.target_mtime = Some(mtime(&target));
            obs.resolved = std::fs::canonicalize(path).ok();
            if target.is_dir() {
                scan_entries(path, &mut obs);
            }
        }
        Err(e) if obs.is_symlink && e.kind() == std::io::ErrorKind::NotFound => {
            let to = obs
                .target
                .as_ref()
                .map_or_else(String::new, |t| format!(" -> {}", t.display()));
            obs.failure = Some(Failure::new(
                FailureKind::NotFound,
                Phase::Local,
                format!("{}{to}: dangling symlink", path.display()),
            ));
        }
        Err(e) => {
            obs.failure = Some(Failure::from_io(
                &e,
                Phase::Local,
                &format!("stat {}", path.display()),
            ));
        }
    }
    if let Some((at, by)) = newest_change(
        obs.link_mtime,
        obs.target_mtime,
        obs.newest_entry.as_ref().map(|e| e.mtime),
    ) {
        let age = u64::try_from(now.0.saturating_sub(at.0)).unwrap_or(0);
        obs.changed_at = Some(at);
        obs.changed_by = Some(by);
        obs.age_secs = Some(age);
        obs.changed_within_window = age <= obs.recent_secs;
    }
    obs
}

/// The newest top-level entry of `dir` (symlinks not followed), at most
/// [`MAX_ENTRIES`] looked at. An unreadable directory leaves it unset.
fn scan_entries(dir: &Path, obs: &mut DeployObservation) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing {
        if obs.entries_scanned >= MAX_ENTRIES {
            obs.entries_truncated = true;
            break;
        }
        let Ok(entry) = entry else { continue };
        obs.entries_scanned += 1;
        // DirEntry::metadata does not follow symlinks.
        let Ok(meta) = entry.metadata() else { continue };
        let t = mtime(&meta);
        if obs.newest_entry.as_ref().is_none_or(|n| t > n.mtime) {
            obs.newest_entry = Some(ChangedFile {
                path: entry.path(),
                mtime: t,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_change_prefers_link_then_dir_on_ties() {
        let t = |s| Some(UnixTime(s));
        assert_eq!(
            newest_change(t(10), t(10), t(10)),
            Some((UnixTime(10), ChangeSource::Symlink))
        );
        assert_eq!(
            newest_change(None, t(10), t(11)),
            Some((UnixTime(11), ChangeSource::Entry))
        );
        assert_eq!(
            newest_change(t(5), t(9), None),
            Some((UnixTime(9), ChangeSource::Directory))
        );
        assert_eq!(newest_change(None, None, None), None);
    }

    #[test]
    fn age_is_measured_from_the_given_now() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DeploySpec {
            path: dir.path().to_path_buf(),
            recent: Duration::from_secs(60),
        };
        let now = UnixTime::now();
        let obs = observe(&spec, UnixTime(now.0 + 3600));
        assert!(!obs.changed_within_window, "{obs:?}");
        assert!(obs.age_secs.unwrap() >= 3599);
        let obs = observe(&spec, now);
        assert!(obs.changed_within_window, "{obs:?}");
        assert_eq!(obs.changed_by, Some(ChangeSource::Directory));
    }
}
