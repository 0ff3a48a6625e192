//! Keeping secrets out of everything a probe records: URL passwords and
//! token-like query values, and secret-looking words in free text (command
//! lines, log lines).

use url::Url;

/// The URL with any password and secret-looking query values replaced by
/// `REDACTED`.
pub fn url(u: &Url) -> String {
    let mut u = u.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_name(&k) {
                    "REDACTED".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Whether a key, parameter or variable name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass",
        "secret",
        "token",
        "auth",
        "key",
        "cookie",
        "session",
        "credential",
        "sig",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Free text with the values of `name=value`, `name: value` and
/// `scheme://user:password@` patterns redacted where the name looks secret.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // URL credentials: scheme://user:pass@host
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                out.push_str(&userinfo[..=colon]);
                out.push_str("REDACTED");
                out.push_str(&authority[at..]);
            } else {
                out.push_str(authority);
            }
        } else {
            out.push_str(authority);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_assignments(&out)
}

/// Redact the value after `name=` / `name:` / `name ` (for `Bearer`) where
/// the name looks secret.
fn redact_assignments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Find the end of a word.
        let start = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric()
                || bytes[i] == b'_'
                || bytes[i] == b'-'
                || bytes[i] == b'.')
        {
            i += 1;
        }
        let word = &s[start..i];
        out.push_str(word);
        if i >= bytes.len() {
            break;
        }
        let sep = bytes[i];
        let is_bearer = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic");
        if !word.is_empty()
            && ((sep == b'=' || sep == b':') && is_secret_name(word) || sep == b' ' && is_bearer)
        {
            out.push(sep as char);
            i += 1;
            // Skip optional spaces and an opening quote.
            while i < bytes.len() && bytes[i] == b' ' {
                out.push(' ');
                i += 1;
            }
            let quote = if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let q = bytes[i];
                out.push(q as char);
                i += 1;
                Some(q)
            } else {
                None
            };
            let vstart = i;
            while i < bytes.len() {
                let b = bytes[i];
                let stop = match quote {
                    Some(q) => b == q,
                    None => {
                        b.is_ascii_whitespace()
                            || b == b'&'
                            || b == b','
                            || b == b';'
                            || b == b'"'
                            || b == b'\''
                    }
                };
                if stop {
                    break;
                }
                i += 1;
            }
            // `Authorization: Bearer xyz`: the scheme word is not the secret, the next one is.
            let value = &s[vstart..i];
            if quote.is_none()
                && ["bearer", "basic", "token", "digest"]
                    .iter()
                    .any(|w| value.eq_ignore_ascii_case(w))
            {
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && bytes[i] != b'"'
                    && bytes[i] != b'\''
                {
                    i += 1;
                }
            }
            if i > vstart {
                out.push_str("REDACTED");
            }
            continue;
        }
        if i == start {
            // Not a word character: copy one char (UTF-8 safe).
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_and_token_are_redacted() {
        let u = Url::parse("https://bob:hunter2@example.com/x?token=abc&page=2").unwrap();
        let r = url(&u);
        assert!(!r.contains("hunter2"), "{r}");
        assert!(!r.contains("abc"), "{r}");
        assert!(r.contains("page=2"), "{r}");
    }

    #[test]
    fn text_redacts_assignments_bearer_and_url_credentials() {
        let s = r#"connect postgres://app:s3cr3t@db:5432/x password=p4ss api_key: "k3y" Authorization: Bearer abc.def retries=3"#;
        let r = text(s);
        for secret in ["s3cr3t", "p4ss", "k3y", "abc.def"] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
        assert!(r.contains("retries=3"), "{r}");
        assert!(r.contains("postgres://app:REDACTED@db:5432/x"), "{r}");
    }

    #[test]
    fn text_keeps_non_ascii() {
        assert_eq!(text("héllo wörld"), "héllo wörld");
    }
}
