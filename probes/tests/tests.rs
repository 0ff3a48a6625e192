//! Probe tests against real things the tests start: TCP listeners, rustls
//! servers with rcgen certificates, DNS servers, child processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(
    dead_code,
    reason = "shared with the root crate's tests; each uses a part of it"
)]
mod support;

mod access;
mod deep_configs;
mod deps;
mod dns;
mod haproxy;
mod history;
mod hostile;
mod http;
mod logs;
mod nginx_corpus;
mod port;
mod process;
mod proxy;
mod system;
mod tls;
