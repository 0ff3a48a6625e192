//! Tests of the process probe.
