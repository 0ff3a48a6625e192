//! Tests of the tls probe.
