//! Tests of the port probe.
