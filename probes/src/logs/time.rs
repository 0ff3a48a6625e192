//! Timestamps found in log lines, and the UTC offset of a log writer that
//! records local time without a zone. Pure: the caller supplies "now" and
//! the file's modification time.

use serde::{Deserialize, Serialize};

use crate::units::UnixTime;

/// A timestamp read from a log line: the wall-clock time as written, in
/// seconds as if it were UTC, and the zone offset when the line names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The written date and time as seconds since the epoch, zone ignored.
    pub wall: i64,
    /// The UTC offset in seconds the line states (`Z`, `+01:00`, `+0000`).
    pub offset: Option<i32>,
}

impl Stamp {
    /// The instant, using `clock`'s offset when the line names none.
    pub fn to_unix(self, clock: LogClock) -> UnixTime {
        UnixTime(self.wall - i64::from(self.offset.unwrap_or(clock.utc_offset_secs)))
    }
}

/// How the UTC offset of zone-less timestamps was found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetSource {
    /// Nothing to go by (no zone-less timestamp, or it did not match the
    /// file's modification time): UTC assumed.
    #[default]
    AssumedUtc,
    /// The newest zone-less timestamp matched the file's modification time
    /// give or take 30 seconds, at this offset.
    FileMtime,
}

/// The UTC offset applied to zone-less timestamps of one log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogClock {
    /// Seconds east of UTC.
    pub utc_offset_secs: i32,
    pub source: OffsetSource,
}

/// Largest distance between the newest timestamp and the file's
/// modification time for the two to be taken as the same moment. A writer
/// stamps a line and writes it within a second; a file touched later (or a
/// block-buffered writer) is far more likely to miss this than to land on
/// another quarter hour.
const ANCHOR_SLACK_SECS: i64 = 30;
/// Offsets are whole quarter hours.
const OFFSET_QUANTUM_SECS: i64 = 900;
/// The widest offset in use (UTC+14).
const MAX_OFFSET_SECS: i64 = 14 * 3600;

impl LogClock {
    /// The offset under which `newest_wall` (the newest zone-less timestamp
    /// in the file) was written at `mtime` (the file's last write), if the
    /// two are within 30 seconds of a quarter-hour offset; else UTC.
    pub fn anchor(newest_wall: Option<i64>, mtime: Option<UnixTime>) -> Self {
        if let (Some(wall), Some(mtime)) = (newest_wall, mtime) {
            let diff = wall - mtime.0;
            let rounded = (diff + OFFSET_QUANTUM_SECS / 2).div_euclid(OFFSET_QUANTUM_SECS)
                * OFFSET_QUANTUM_SECS;
            if (diff - rounded).abs() <= ANCHOR_SLACK_SECS && rounded.abs() <= MAX_OFFSET_SECS {
                return Self {
                    utc_offset_secs: i32::try_from(rounded).unwrap_or(0),
                    source: OffsetSource::FileMtime,
                };
            }
        }
        Self::default()
    }
}

/// The wall time to anchor a clock on: that of the newest timestamp, if it
/// is zone-less (a newer zoned line means the zone-less one was not the
/// last write).
pub fn anchor_wall(newest: Option<Stamp>) -> Option<i64> {
    newest.filter(|s| s.offset.is_none()).map(|s| s.wall)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01.
pub fn year_of_days(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let s = b.get(at..at + len)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn wall(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let ok = (1970..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && h < 24
        && mi < 60
        && s <= 60;
    ok.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// `YYYY?MM?DD?HH:MM:SS` at `at` with the given separators; returns the
/// wall time and the length consumed.
fn ymd_hms(b: &[u8], at: usize, date_sep: u8, time_seps: &[u8]) -> Option<(i64, usize)> {
    let sep = |off: usize, want: &[u8]| b.get(at + off).is_some_and(|c| want.contains(c));
    let field = |off: usize, len: usize| digits(b, at + off, len);
    let ok = sep(4, &[date_sep])
        && sep(7, &[date_sep])
        && sep(10, time_seps)
        && sep(13, b":")
        && sep(16, b":");
    if !ok {
        return None;
    }
    let wall = wall(
        field(0, 4)?,
        field(5, 2)?,
        field(8, 2)?,
        field(11, 2)?,
        field(14, 2)?,
        field(17, 2)?,
    )?;
    Some((wall, 19))
}

/// A zone after an ISO 8601 time: `Z`, `+01:00`, `+0100`, `+01`, or a
/// space then `+0000` (gunicorn). Returns the offset in seconds.
fn zone(b: &[u8], at: usize) -> Option<i32> {
    let mut i = at;
    match b.get(i) {
        Some(b'Z' | b'z') => return Some(0),
        Some(b' ')
            if matches!(b.get(i + 1), Some(b'+' | b'-')) && digits(b, i + 2, 4).is_some() =>
        {
            i += 1;
        }
        _ => {}
    }
    let sign = match b.get(i)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h = digits(b, i + 1, 2)?;
    let m = if b.get(i + 3) == Some(&b':') {
        digits(b, i + 4, 2)?
    } else {
        digits(b, i + 3, 2).unwrap_or(0)
    };
    (h <= 14 && m < 60).then(|| sign * i32::try_from(h * 3600 + m * 60).unwrap_or(0))
}

/// The nginx error log's `YYYY/MM/DD HH:MM:SS` at the start of a line.
pub fn parse_nginx(line: &str) -> Option<Stamp> {
    let (w, _) = ymd_hms(line.as_bytes(), 0, b'/', b" ")?;
    Some(Stamp {
        wall: w,
        offset: None,
    })
}

/// Apache's error log `[Wed Oct 11 14:32:52.123456 2000]` (the fraction
/// optional) at the start of a line; with the length of the bracket.
pub fn parse_apache(line: &str) -> Option<(Stamp, usize)> {
    let b = line.as_bytes();
    (b.first() == Some(&b'[') && b.get(4) == Some(&b' ')).then_some(())?;
    let mon = b.get(5..8)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == mon)?;
    let (day, hour, min, sec) = (
        digits(b, 9, 2)?,
        digits(b, 12, 2)?,
        digits(b, 15, 2)?,
        digits(b, 18, 2)?,
    );
    (b.get(11) == Some(&b' ') && b.get(14) == Some(&b':') && b.get(17) == Some(&b':'))
        .then_some(())?;
    let mut at = 20;
    if b.get(at) == Some(&b'.') {
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    (b.get(at) == Some(&b' ')).then_some(())?;
    let year = digits(b, at + 1, 4)?;
    (b.get(at + 5) == Some(&b']')).then_some(())?;
    Some((
        Stamp {
            wall: wall(year, month as i64 + 1, day, hour, min, sec)?,
            offset: None,
        },
        at + 6,
    ))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Syslog's `Mon DD HH:MM:SS` (day space-padded) at `at`; the year is the
/// one that puts it no later than a day after `now`.
fn syslog(b: &[u8], at: usize, now: UnixTime) -> Option<i64> {
    let mon = b.get(at..at + 3)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == mon)?;
    (b.get(at + 3) == Some(&b' ')).then_some(())?;
    let d = if b.get(at + 4) == Some(&b' ') {
        digits(b, at + 5, 1)?
    } else {
        digits(b, at + 4, 2)?
    };
    (b.get(at + 6) == Some(&b' ')).then_some(())?;
    let h = digits(b, at + 7, 2)?;
    (b.get(at + 9) == Some(&b':')).then_some(())?;
    let mi = digits(b, at + 10, 2)?;
    (b.get(at + 12) == Some(&b':')).then_some(())?;
    let s = digits(b, at + 13, 2)?;
    let year = year_of_days(now.0.div_euclid(86_400));
    let mo = month as i64 + 1;
    let this_year = wall(year, mo, d, h, mi, s)?;
    if this_year > now.0 + 86_400 {
        wall(year - 1, mo, d, h, mi, s)
    } else {
        Some(this_year)
    }
}

/// HAProxy's accept date `[26/Nov/2026:09:30:12.123]` (`%tr`, local time,
/// no zone) anywhere in `line`: the first `[` followed by one.
pub fn parse_haproxy_date(line: &str) -> Option<Stamp> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(i) = line.get(from..)?.find('[') {
        let at = from + i + 1;
        from = at;
        let d = digits(b, at, 2);
        let mon = b.get(at + 3..at + 6);
        let month = mon.and_then(|m| MONTHS.iter().position(|x| x.as_bytes() == m));
        let seps = b.get(at + 2) == Some(&b'/')
            && b.get(at + 6) == Some(&b'/')
            && b.get(at + 11) == Some(&b':')
            && b.get(at + 14) == Some(&b':')
            && b.get(at + 17) == Some(&b':');
        if let (Some(d), Some(month), true) = (d, month, seps)
            && let Some(w) = wall(
                digits(b, at + 7, 4)?,
                month as i64 + 1,
                d,
                digits(b, at + 12, 2)?,
                digits(b, at + 15, 2)?,
                digits(b, at + 18, 2)?,
            )
        {
            return Some(Stamp {
                wall: w,
                offset: None,
            });
        }
    }
    None
}

/// How far into a line a timestamp may start (after a level, a bracket, a
/// process name).
const STAMP_SEARCH_BYTES: usize = 48;

/// The first recognisable timestamp near the start of an application log
/// line: ISO 8601 (`2026-11-26T09:30:12.123Z`, `2026-11-26 09:30:12,123`,
/// `[2026-11-26 09:30:12 +0000]`), `YYYY/MM/DD HH:MM:SS` (Go's `log`,
/// nginx) or syslog's `Nov 26 09:30:12`.
pub fn find_in_line(line: &str, now: UnixTime) -> Option<Stamp> {
    let b = line.as_bytes();
    let end = b.len().min(STAMP_SEARCH_BYTES);
    for at in 0..end {
        let c = b[at];
        let boundary = at == 0 || !b[at - 1].is_ascii_alphanumeric();
        if !boundary {
            continue;
        }
        if c.is_ascii_digit() {
            if let Some((w, len)) = ymd_hms(b, at, b'-', b"T ") {
                let mut i = at + len;
                if matches!(b.get(i), Some(b'.' | b',')) {
                    i += 1;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                }
                return Some(Stamp {
                    wall: w,
                    offset: zone(b, i),
                });
            }
            if let Some((w, _)) = ymd_hms(b, at, b'/', b" ") {
                return Some(Stamp {
                    wall: w,
                    offset: None,
                });
            }
        } else if c.is_ascii_uppercase()
            && let Some(w) = syslog(b, at, now)
        {
            return Some(Stamp {
                wall: w,
                offset: None,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_795_685_412); // 2026-11-26T09:30:12Z

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2026, 11, 26) * 86_400 + 9 * 3600 + 30 * 60 + 12,
            NOW.0
        );
        assert_eq!(year_of_days(days_from_civil(2024, 2, 29)), 2024);
        assert_eq!(year_of_days(days_from_civil(2026, 1, 1)), 2026);
        assert_eq!(year_of_days(days_from_civil(2025, 12, 31)), 2025);
    }

    #[test]
    fn haproxy_accept_date() {
        let s = parse_haproxy_date("127.0.0.1:5 [26/Nov/2026:09:30:12.123] fe be/s1").unwrap();
        assert_eq!(s.wall, NOW.0);
        assert_eq!(s.offset, None);
        assert!(parse_haproxy_date("[x] [26/Nov/2026:09:30:12]").is_some());
        assert!(parse_haproxy_date("[26/Foo/2026:09:30:12.1]").is_none());
        assert!(parse_haproxy_date("[26/Nov/20").is_none());
    }

    #[test]
    fn nginx_stamp() {
        let s = parse_nginx("2026/11/26 09:30:12 [error] 1#1: x").unwrap();
        assert_eq!(s.wall, NOW.0);
        assert_eq!(s.offset, None);
        assert!(parse_nginx("2026-11-26 09:30:12 x").is_none());
    }

    #[test]
    fn application_stamps() {
        let cases = [
            ("2026-11-26T09:30:12Z boom", NOW.0, Some(0)),
            (
                "2026-11-26T10:30:12.123+01:00 boom",
                NOW.0 + 3600,
                Some(3600),
            ),
            ("[2026-11-26 09:30:12 +0000] [42] [ERROR] x", NOW.0, Some(0)),
            ("2026-11-26 09:30:12,123 ERROR app: x", NOW.0, None),
            (
                "E, [2026-11-26T09:30:12.123456 #1234] ERROR -- : x",
                NOW.0,
                None,
            ),
            ("2026/11/26 09:30:12 http: panic serving", NOW.0, None),
            ("Nov 26 09:30:12 web-1 app[12]: x", NOW.0, None),
            (
                "Nov  6 09:30:12 web-1 app[12]: x",
                NOW.0 - 20 * 86_400,
                None,
            ),
        ];
        for (line, wall, offset) in cases {
            let s = find_in_line(line, NOW).unwrap_or_else(|| panic!("no stamp in {line}"));
            assert_eq!((s.wall, s.offset), (wall, offset), "{line}");
        }
        assert!(find_in_line("  File \"x.py\", line 3, in f", NOW).is_none());
        assert!(find_in_line("version 12026-11-26 nope", NOW).is_none());
    }

    #[test]
    fn syslog_in_december_read_in_january_is_last_year() {
        let jan = UnixTime(days_from_civil(2027, 1, 2) * 86_400);
        let s = find_in_line("Dec 31 23:59:59 host x", jan).unwrap();
        assert_eq!(s.wall, days_from_civil(2026, 12, 31) * 86_400 + 86_399);
    }

    #[test]
    fn clock_anchors_on_mtime() {
        let c = LogClock::anchor(Some(NOW.0 + 5 * 3600 + 1800 + 3), Some(NOW));
        assert_eq!(c.source, OffsetSource::FileMtime);
        assert_eq!(c.utc_offset_secs, 5 * 3600 + 1800);
        let c = LogClock::anchor(Some(NOW.0 - 8 * 3600), Some(NOW));
        assert_eq!(c.utc_offset_secs, -8 * 3600);
        // A minute off any quarter hour: not the same moment.
        let c = LogClock::anchor(Some(NOW.0 - 900 - 60), Some(NOW));
        assert_eq!(c, LogClock::default());
        assert_eq!(LogClock::anchor(None, Some(NOW)), LogClock::default());
    }
}
