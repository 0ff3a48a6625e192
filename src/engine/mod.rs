//! The pipeline's front half: turn a config (and what discovery finds) into
//! planned probes, and run them concurrently under the deadline. It judges
//! nothing: assessment and rules come after it.

pub mod plan;
pub mod runner;
