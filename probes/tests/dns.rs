//! Tests of the dns probe.
