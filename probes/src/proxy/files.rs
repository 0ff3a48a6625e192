//! File helpers shared by the nginx and haproxy readers: a bounded read,
//! shell-style globbing for `include conf.d/*.conf`, and modification times.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// Read a whole file as text, at most `max` bytes. A longer file is an
/// error of kind `InvalidData` naming the bound; invalid UTF-8 is replaced.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Seconds since the epoch (fractional) of a file's last modification.
pub fn mtime_secs(path: &Path) -> Option<f64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = modified.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(d.as_secs_f64())
}

/// Whether a path pattern holds a wildcard (`*`, `?` or `[`).
pub fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// At most this many directory entries are looked at while expanding one
/// glob pattern.
pub const MAX_GLOB_ENTRIES: usize = 10_000;

/// The files matching a shell-style pattern, sorted like glob(3) sorts
/// them. Wildcards may appear in any component; `*` and `?` do not match a
/// leading dot unless the pattern component starts with one. Only regular
/// files (or symlinks to them) are returned.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = vec![PathBuf::new()];
    let components: Vec<Component<'_>> = pattern.components().collect();
    let mut seen_entries = 0usize;
    for (i, comp) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let Component::Normal(name) = comp else {
            for c in &mut candidates {
                c.push(comp.as_os_str());
            }
            continue;
        };
        let name = name.to_string_lossy();
        if !has_glob(&name) {
            for c in &mut candidates {
                c.push(name.as_ref());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &candidates {
            let listing = if dir.as_os_str().is_empty() {
                std::fs::read_dir(".")
            } else {
                std::fs::read_dir(dir)
            };
            let Ok(listing) = listing else { continue };
            for entry in listing.flatten() {
                seen_entries += 1;
                if seen_entries > MAX_GLOB_ENTRIES {
                    break;
                }
                let entry_name = entry.file_name();
                let entry_name = entry_name.to_string_lossy();
                if entry_name.starts_with('.') && !name.starts_with('.') {
                    continue;
                }
                if wildmatch(name.as_bytes(), entry_name.as_bytes()) {
                    let path = dir.join(entry_name.as_ref());
                    if last || path.is_dir() {
                        next.push(path);
                    }
                }
            }
        }
        candidates = next;
    }
    let mut out: Vec<PathBuf> = candidates.into_iter().filter(|p| p.is_file()).collect();
    out.sort();
    out
}

/// Shell wildcard matching of one path component: `*`, `?`, and bracket
/// expressions `[abc]`, `[a-z]`, `[!x]` / `[^x]`. `\` quotes the next byte.
pub fn wildmatch(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, len)) = bracket(&pattern[p..], name[n]) {
                        if matched {
                            p += len;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        // An unclosed `[` is literal.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == name[n] {
                        p += 2;
                        n += 1;
                        continue;
                    }
                }
                c => {
                    if c == name[n] {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// Match `c` against the bracket expression at the start of `pattern`;
/// the result and the expression's length, or `None` when it is unclosed.
fn bracket(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|h| *h != b']') {
            let hi = pattern[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

/// The canonical form of a path for cycle detection and comparisons; the
/// path itself when it cannot be resolved.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildmatch(b"*.conf", b"a.conf"));
        assert!(wildmatch(b"*.conf", b".conf"));
        assert!(!wildmatch(b"*.conf", b"a.conf.bak"));
        assert!(wildmatch(b"site-?.conf", b"site-1.conf"));
        assert!(!wildmatch(b"site-?.conf", b"site-10.conf"));
        assert!(wildmatch(b"[ab]*", b"bee"));
        assert!(!wildmatch(b"[!ab]*", b"bee"));
        assert!(wildmatch(b"[a-c]x", b"bx"));
        assert!(wildmatch(b"*", b""));
        assert!(wildmatch(b"a*b*c", b"aXXbYYc"));
        assert!(!wildmatch(b"a*b*c", b"aXXbYY"));
        assert!(wildmatch(b"x[", b"x["));
    }

    #[test]
    fn glob_sorts_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "a.conf", ".hidden.conf", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.conf")).unwrap();
        let found = glob(&dir.path().join("*.conf"));
        assert_eq!(
            found,
            vec![dir.path().join("a.conf"), dir.path().join("b.conf")]
        );
        assert!(glob(&dir.path().join("none/*.conf")).is_empty());
    }

    #[test]
    fn bounded_read_refuses_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "12345").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), "12345");
        assert_eq!(
            read_bounded(&p, 4).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
