//! Leaf types every stage shares: the cause catalogue, statuses, severities
//! and findings. Nothing here runs a probe, reads a config or prints.

pub mod causes;
pub mod findings;
