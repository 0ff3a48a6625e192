//! End-to-end tests of the `why5xx` binary against real servers the tests
//! start on loopback. One test binary with modules keeps link time down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../probes/tests/support.rs"]
#[allow(dead_code)]
mod support;

mod badconfig;
mod cli;
mod deepconfig;
mod diagnose;
mod formats;
mod hostile;
mod lab;
mod lab_apache;
mod lab_haproxy;
mod modes;
mod secrets;
mod tools;
