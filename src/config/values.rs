//! Value types of the config file that check themselves while they are
//! deserialized, so a bad value is reported at its own line and column:
//! `${VAR}` interpolation, durations, ratios, URLs.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use url::Url;

/// Replace each `${VAR}` with the environment variable's value; `$$` is a
/// literal `$`. An unset variable is an error naming it (never its value).
pub fn interpolate(raw: &str) -> Result<String, String> {
    interpolate_with(raw, |name| std::env::var(name).ok())
}

/// [`interpolate`] with the variables looked up by `lookup`.
pub fn interpolate_with(
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated `${` (write `$$` for a literal `$`)".to_string())?;
            let name = &body[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "`${{{name}}}` is not a valid environment variable name"
                ));
            }
            let value =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A string with `${VAR}` replaced.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        interpolate(&raw).map(Text).map_err(de::Error::custom)
    }
}

/// A duration written like `"250ms"`, `"5s"`, `"14d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(raw) = Text::deserialize(d)?;
        parse_duration(&raw).map(Dur).map_err(de::Error::custom)
    }
}

/// Parse a human duration; zero is rejected (every duration here is a limit
/// or a window, and zero would make it meaningless).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim()).map_err(|e| {
        format!("invalid duration {raw:?} ({e}); write e.g. \"250ms\", \"5s\", \"14d\"")
    })?;
    if d.is_zero() {
        return Err(format!("duration {raw:?} must be greater than zero"));
    }
    if d > Duration::from_secs(10 * 365 * 86_400) {
        return Err(format!(
            "duration {raw:?} is absurdly long (over ten years)"
        ));
    }
    Ok(d)
}

/// A share between 0 and 1, like `0.90`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Ratio(pub f64);

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v > 0.0 && v <= 1.0 {
            Ok(Ratio(v))
        } else {
            Err(de::Error::custom(format!(
                "{v} is not a share between 0 and 1 (e.g. 0.90 for 90 %)"
            )))
        }
    }
}

/// A positive finite number, like a load per core of `2.0`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v > 0.0 && v < 1e6 {
            Ok(Positive(v))
        } else {
            Err(de::Error::custom(format!("{v} must be a positive number")))
        }
    }
}

/// An `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(raw) = Text::deserialize(d)?;
        parse_url(&raw, &["http", "https"])
            .map(HttpUrl)
            .map_err(de::Error::custom)
    }
}

/// A dependency's URL: `tcp://`, `http(s)://`, `postgres://`, `redis://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyUrl(pub Url);

/// Schemes a `[[dependency]]` URL may have.
pub const DEPENDENCY_SCHEMES: &[&str] = &[
    "tcp",
    "http",
    "https",
    "postgres",
    "postgresql",
    "redis",
    "rediss",
];

impl<'de> Deserialize<'de> for DependencyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(raw) = Text::deserialize(d)?;
        parse_url(&raw, DEPENDENCY_SCHEMES)
            .map(DependencyUrl)
            .map_err(de::Error::custom)
    }
}

/// Parse a URL with one of `schemes` and a host. The error never repeats
/// the URL itself: it may carry a password.
pub fn parse_url(raw: &str, schemes: &[&str]) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("invalid URL ({e})"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "URL scheme `{}` is not one of {}",
            url.scheme(),
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".to_string());
    }
    if url.scheme() == "tcp" && url.port().is_none() {
        return Err("a tcp:// URL needs a port".to_string());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn interpolation_replaces_and_escapes() {
        assert_eq!(
            interpolate_with("Bearer ${TOKEN}", env).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(
            interpolate_with("cost $$5 and $x", env).unwrap(),
            "cost $5 and $x"
        );
    }

    #[test]
    fn interpolation_errors_name_the_variable_only() {
        let e = interpolate_with("${MISSING}", env).unwrap_err();
        assert!(e.contains("MISSING") && e.contains("not set"), "{e}");
        assert!(interpolate_with("${TOKEN", env).is_err());
        assert!(interpolate_with("${1X}", env).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("14d").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn url_errors_do_not_echo_passwords() {
        let e = parse_url("ftp://u:hunter2@h/", &["http"]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(parse_url("tcp://db", DEPENDENCY_SCHEMES).is_err());
        assert!(parse_url("tcp://db:5432", DEPENDENCY_SCHEMES).is_ok());
    }
}
