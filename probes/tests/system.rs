//! Tests of the system probe.
