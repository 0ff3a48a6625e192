//! Leaf types every stage shares: the cause catalogue, statuses, severities,
//! findings and dependency kinds. Nothing here runs a probe, reads
//! a config or prints.

pub mod causes;
pub mod dep_kind;
pub mod findings;
