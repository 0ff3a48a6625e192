//! Tests of the http probe.
