//! Pure parsers and bounded readers for `/proc`, shared by the process,
//! port and later probes. A process that vanishes mid-read is normal and
//! simply skipped, never an error.
