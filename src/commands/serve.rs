//! `why5xx serve`: the Prometheus exporter. `GET /metrics` runs the
//! configured diagnosis — at most one at a time, concurrent scrapes sharing
//! the run, a result younger than `--min-interval` reused — and answers the
//! Prometheus text format; `GET /healthz` answers `ok`. Nothing a caller
//! sends chooses what is probed: query strings are refused, only the
//! configured targets run (no SSRF). Small on purpose: HTTP/1 only, bounded
//! request heads, connections and header read time; SIGTERM or SIGINT
//! finishes the responses in flight, then exits 0.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Mutex, Semaphore, watch};

use crate::commands::diagnose as agent;
use crate::config::Config;
use crate::report;
use crate::report::Format;

/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request head read (hyper's smallest buffer limit).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// A client must send a whole request head within this (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed (gracefully) after this long, plus the deadline.
pub const CONNECTION_MAX_AGE: Duration = Duration::from_secs(60);
/// How long a connection told to close may take to finish its response.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on, like 127.0.0.1:9505.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Config file (TOML): what each scrape diagnoses.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Reuse a diagnosis younger than this instead of probing again.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub min_interval: Duration,
    /// More detail on stderr (-v info, -vv debug, -vvv trace).
    #[arg(long, short = 'v', action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s)
}

/// A rendered diagnosis and when it finished.
struct Scrape {
    at: Instant,
    body: Bytes,
}

/// What every connection shares.
struct Exporter {
    cfg: Config,
    min_interval: Duration,
    /// The last scrape; held locked while a diagnosis runs, so concurrent
    /// scrapes wait for that run instead of starting their own.
    last: Arc<Mutex<Option<Scrape>>>,
    runs: AtomicU64,
}

/// Bind, then serve until SIGTERM or SIGINT. A bind error is returned
/// (exit 3); a served-then-stopped exporter is exit 0.
pub fn run(args: &ServeArgs, cfg: Config) -> anyhow::Result<u8> {
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    listener
        .set_nonblocking(true)
        .context("setting the listener non-blocking")?;
    if !args.quiet {
        eprintln!(
            "why5xx: exporter listening on http://{}/metrics",
            args.listen
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let exporter = Arc::new(Exporter {
        cfg,
        min_interval: args.min_interval,
        last: Arc::new(Mutex::new(None)),
        runs: AtomicU64::new(0),
    });
    let result = runtime.block_on(serve(listener, exporter));
    // Probes stuck in blocking reads must not hold the exit.
    runtime.shutdown_background();
    result.map(|()| crate::EXIT_OK)
}

async fn serve(listener: std::net::TcpListener, exporter: Arc<Exporter>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listener =
        tokio::net::TcpListener::from_std(listener).context("registering the listener")?;
    let local = listener
        .local_addr()
        .context("reading the listen address")?;
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    };
    tokio::pin!(stop);
    tracing::info!("serving /metrics and /healthz on http://{local}");

    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (closing, closing_rx) = watch::channel(false);
    let signal = loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p.context("connection limit")?,
            s = &mut stop => break s,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            s = &mut stop => break s,
        };
        tracing::debug!("connection from {peer}");
        let exporter = Arc::clone(&exporter);
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            connection(stream, exporter, closing).await;
            drop(permit);
        });
    };
    drop(listener);
    tracing::info!("{signal}: finishing the responses in flight");
    let _ = closing.send(true);
    // Every connection holds a permit until it is done.
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let grace = exporter.cfg.agent.deadline + CLOSE_GRACE * 2;
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {grace:?}; closing them");
    }
    Ok(())
}

/// Serve one connection until it ends, is too old, or the exporter stops;
/// the last two let the response in flight finish first.
async fn connection(
    stream: tokio::net::TcpStream,
    exporter: Arc<Exporter>,
    mut closing: watch::Receiver<bool>,
) {
    // A response in flight may wait for a whole diagnosis.
    let deadline = exporter.cfg.agent.deadline;
    let max_age = CONNECTION_MAX_AGE + deadline;
    let grace = deadline + CLOSE_GRACE;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let service = service_fn(move |req| {
        let exporter = Arc::clone(&exporter);
        async move { Ok::<_, Infallible>(handle(&req, &exporter).await) }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let too_old = tokio::time::sleep(max_age);
    tokio::pin!(too_old);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("connection: {e}");
            }
            return;
        }
        _ = closing.wait_for(|c| *c) => {}
        () = &mut too_old => {}
    }
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(grace, conn).await.is_err() {
        tracing::debug!("a connection did not finish within {grace:?}; dropped");
    }
}

/// Route one request. Never reads the body; never uses anything from the
/// request but its method and path.
async fn handle(req: &Request<Incoming>, exporter: &Arc<Exporter>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path != "/metrics" && path != "/healthz" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics or /healthz\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if req.uri().query().is_some() {
        return text(
            StatusCode::BAD_REQUEST,
            "query parameters are not accepted: the exporter probes only its configured targets\n",
        );
    }
    if path == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    match exporter.metrics().await {
        Ok(body) => {
            let mut r = Response::new(Full::new(body));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!("/metrics: {e:#}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the diagnosis could not be rendered\n",
            )
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

impl Exporter {
    /// The metrics of a diagnosis no older than `min_interval`: the last
    /// one, the one running now, or a new one.
    async fn metrics(self: &Arc<Self>) -> anyhow::Result<Bytes> {
        let mut last = Arc::clone(&self.last).lock_owned().await;
        if let Some(s) = last.as_ref()
            && s.at.elapsed() < self.min_interval
        {
            return Ok(s.body.clone());
        }
        // The run owns the lock: a scraper that hangs up does not cancel a
        // run others wait for, and no second run starts meanwhile.
        let me = Arc::clone(self);
        let run = tokio::spawn(async move {
            let body = me.diagnose().await?;
            *last = Some(Scrape {
                at: Instant::now(),
                body: body.clone(),
            });
            Ok::<_, anyhow::Error>(body)
        });
        run.await.context("the diagnosis task")?
    }

    /// One whole diagnosis, rendered, plus the exporter's own metrics.
    async fn diagnose(&self) -> anyhow::Result<Bytes> {
        let report = agent::diagnose(&self.cfg).await;
        let runs = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        let mut buf = Vec::new();
        report::render(&report, Format::Prometheus, false, &mut buf)
            .context("rendering the report")?;
        if !buf.is_empty() && !buf.ends_with(b"\n") {
            buf.push(b'\n');
        }
        exporter_metrics(&mut buf, runs);
        Ok(Bytes::from(buf))
    }
}

/// The exporter's own family, after the report's (which carries
/// `why5xx_up`, `why5xx_last_run_timestamp_seconds` and the rest).
fn exporter_metrics(buf: &mut Vec<u8>, runs: u64) {
    use std::io::Write as _;
    let _ = write!(
        buf,
        "# HELP why5xx_exporter_runs_total Diagnoses run since the exporter started (scrapes within --min-interval reuse one).\n\
         # TYPE why5xx_exporter_runs_total counter\n\
         why5xx_exporter_runs_total {runs}\n"
    );
}

/// `why5xx serve`: load the config and run the exporter.
pub fn command(args: &ServeArgs) -> anyhow::Result<u8> {
    let cfg = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => Config::default(),
    };
    run(args, cfg)
}
