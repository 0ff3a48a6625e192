//! Tests of the access-log probe on logs a real nginx wrote (the built-in
//! `combined` format and a custom format with request and upstream times,
//! against an upstream that answers, one that refuses and a path nginx
//! answers 503 itself), and on generated files: a large log whose window is
//! found by binary search, a window reaching into rotated plain and gzipped
//! files, over-long lines, binary garbage and invalid UTF-8.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use why5xx_probes::ProbeContext;
use why5xx_probes::logs::access::{
    self, AccessLogSpec, FormatDialect, NGINX_COMBINED, normalise_path,
};
use why5xx_probes::logs::run_access_log;
use why5xx_probes::units::UnixTime;

use crate::support;

const CUSTOM: &str = r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent rt=$request_time ua="$upstream_addr" us="$upstream_status" ut="$upstream_response_time""#;

fn spec(path: std::path::PathBuf, format: &str) -> AccessLogSpec {
    AccessLogSpec {
        format: format.to_string(),
        ..AccessLogSpec::combined(path)
    }
}

#[tokio::test]
async fn real_nginx_access_log_counts_statuses_paths_and_upstreams() {
    let up = support::free_port();
    let refused = support::refused_addr();
    let app = std::net::TcpListener::bind(("127.0.0.1", up)).unwrap();
    let server = std::thread::spawn(move || {
        // A minimal upstream: answers every connection with 200.
        for s in app.incoming().take(3).flatten() {
            let mut s = s;
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let nginx = support::Nginx::start(&format!(
        "log_format timed '{CUSTOM}';\n\
         server {{ listen 127.0.0.1:{{port}}; access_log {{prefix}}/logs/timed.log timed;\n\
           location /ok/ {{ proxy_pass http://127.0.0.1:{up}; }}\n\
           location /down/ {{ proxy_pass http://{refused}; }}\n\
           location /off {{ return 503; }} }}"
    ));
    for path in [
        "/ok/1",
        "/ok/2",
        "/down/orders/17?x=1",
        "/down/orders/18",
        "/off",
        "/ok/3",
    ] {
        support::get_status(&nginx.url(path));
    }
    // nginx writes the line after the response: give it a moment.
    std::thread::sleep(Duration::from_millis(200));
    let ctx = ProbeContext::default();

    let obs = run_access_log(
        &spec(nginx.prefix.path().join("logs/timed.log"), CUSTOM),
        &ctx,
    )
    .await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert_eq!(obs.requests, 6, "{obs:?}");
    assert_eq!(obs.by_status.get(&200), Some(&3));
    assert_eq!(obs.by_status.get(&502), Some(&2));
    assert_eq!(obs.by_status.get(&503), Some(&1));
    assert_eq!(obs.errors_5xx, 3);
    assert_eq!(obs.unparsed_lines, 0);
    let first = obs.first_5xx.as_ref().unwrap();
    assert_eq!(first.status, 502);
    assert_eq!(first.path.as_deref(), Some("/down/orders/:id"));
    let now = UnixTime::now().0;
    assert!((now - first.at.0).abs() <= 5, "{first:?} vs {now}");
    assert_eq!(obs.top_paths[0].path, "/down/orders/:id");
    assert_eq!(obs.top_paths[0].errors_5xx, 2);
    let bad = obs
        .by_upstream
        .iter()
        .find(|u| u.address == refused.to_string())
        .unwrap_or_else(|| panic!("{:?}", obs.by_upstream));
    assert_eq!((bad.requests, bad.errors_5xx), (2, 2));
    assert!(obs.unknown_fields.contains(&"$remote_addr".to_string()));

    // The same server's built-in combined log (the http-level access_log
    // of the support config is not used by this server): nginx's default
    // main log gets nothing here, so read the timed one as combined to see
    // a format mismatch counted, not crashed.
    let wrong = run_access_log(
        &spec(nginx.prefix.path().join("logs/timed.log"), NGINX_COMBINED),
        &ctx,
    )
    .await;
    assert_eq!(wrong.requests + wrong.unparsed_lines, 6, "{wrong:?}");
    drop(nginx);
    let _ = server.join();
}

/// `n` combined lines, one every `step` seconds, ending at `end`; every
/// `error_every`-th is a 502.
fn combined_lines(n: u64, end: i64, step: i64, error_every: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let t = end - (n - 1 - i) as i64 * step;
        let status = if error_every > 0 && i % error_every == 0 {
            502
        } else {
            200
        };
        let _ = writeln!(
            out,
            "10.0.0.{} - - [{}] \"GET /api/items/{} HTTP/1.1\" {status} 12 \"-\" \"load/1.0\"",
            i % 250,
            time_local(t),
            i
        );
    }
    out
}

fn time_local(t: i64) -> String {
    humantime_like(std::time::UNIX_EPOCH + Duration::from_secs(t as u64))
}

/// `01/Dec/2026:14:02:11 +0000` for a time, via `time`.
fn humantime_like(at: std::time::SystemTime) -> String {
    let dt = time::OffsetDateTime::from(at);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(dt.month())) - 1];
    format!(
        "{:02}/{month}/{}:{:02}:{:02}:{:02} +0000",
        dt.day(),
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[test]
fn a_large_log_is_read_from_where_the_window_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let now = 1_796_133_731;
    // 200,000 lines over about 55 hours; the last 15 minutes hold 300.
    std::fs::write(&path, combined_lines(200_000, now, 1, 0)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(combined_lines(300, now, 3, 10).as_bytes())
        .unwrap();
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();
    let obs = access::scan(&AccessLogSpec::combined(&path), UnixTime(now));
    assert_eq!(obs.unparsed_lines, 0);
    // The window (its first second included) has the 300 late lines and
    // the last 901 seconds of the 200,000.
    assert_eq!(obs.requests, 300 + 901, "{obs:?}");
    assert_eq!(obs.errors_5xx, 30);
    assert!(
        obs.bytes_read < size / 20,
        "read {} of {size}",
        obs.bytes_read
    );
    assert_eq!(obs.per_minute.iter().map(|m| m.requests).sum::<u64>(), 1201);
}

#[test]
fn the_window_reaches_into_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let now = 1_796_133_731;
    // Newest 5 minutes in the log, 5 before in .1, 5 before in .2.gz.
    std::fs::write(&path, combined_lines(300, now, 1, 100)).unwrap();
    std::fs::write(
        dir.path().join("access.log.1"),
        combined_lines(300, now - 300, 1, 100),
    )
    .unwrap();
    let gz = std::fs::File::create(dir.path().join("access.log.2.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    enc.write_all(combined_lines(300, now - 600, 1, 100).as_bytes())
        .unwrap();
    enc.finish().unwrap();
    let obs = access::scan(&AccessLogSpec::combined(&path), UnixTime(now));
    assert_eq!(obs.files.len(), 3, "{:?}", obs.files);
    assert_eq!(obs.requests, 900, "{obs:?}");
    assert_eq!(obs.errors_5xx, 9);
}

#[test]
fn garbage_long_lines_and_invalid_utf8_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let now = 1_796_133_731;
    let mut bytes = combined_lines(10, now, 1, 5).into_bytes();
    bytes.extend(std::iter::repeat_n(b'x', 1_000_000));
    bytes.push(b'\n');
    bytes.extend([0xff, 0xfe, 0x00, 0x01, b'\n']);
    bytes.extend(combined_lines(10, now, 1, 0).into_bytes());
    std::fs::write(&path, bytes).unwrap();
    let obs = access::scan(&AccessLogSpec::combined(&path), UnixTime(now));
    assert_eq!(obs.requests, 20);
    assert_eq!(obs.errors_5xx, 2);
    assert_eq!(obs.unparsed_lines, 2);
}

#[test]
fn a_missing_log_is_a_failure_observation() {
    let obs = access::scan(
        &AccessLogSpec::combined("/nonexistent/access.log"),
        UnixTime(0),
    );
    assert!(obs.failure.is_some());
    assert_eq!(normalise_path("/a/1"), "/a/:id");
    assert_eq!(FormatDialect::default(), FormatDialect::Nginx);
}
