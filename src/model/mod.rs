//! Leaf types every stage shares: the cause catalogue, statuses, severities,
//! findings, dependency kinds and probe ids. Nothing here runs a probe, reads
//! a config or prints.

pub mod causes;
pub mod dep_kind;
pub mod findings;
pub mod probe_id;
