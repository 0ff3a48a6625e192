//! The status codes a proxy itself answers for a cause, where they differ
//! from the guide's: behind HAProxy a server that refuses, or that its
//! health check took down, gives **503** ("No server available", `SC`,
//! `<NOSRV>`), not 502. A finding gains the proxy's codes before its
//! symptoms are cited, so the endpoint's 503 is cited as its symptom. One
//! table per proxy; it decides no cause and never changes a severity.
//!
//! HAProxy's rows live here (the HAProxy work of issue 10); the Apache
//! mapping is added beside them, in `attach_symptoms`' own terms.

use why5xx_probes::proxy::Dialect;

use super::facts::Facts;
use crate::model::causes::Cause;
use crate::model::findings::Finding;

/// What HAProxy answers for `cause`, beyond the guide's codes
/// (REFERENCE.md, HAProxy: termination states and their statuses).
pub(crate) fn haproxy_codes(cause: Cause) -> &'static [u16] {
    match cause {
        // SC to a server: refused; <NOSRV>: every server DOWN by its check.
        Cause::UpstreamNotRunning | Cause::ProxyMisconfiguration => &[503],
        _ => &[],
    }
}

/// Add the codes the running proxy answers for the finding's cause.
pub(crate) fn add_proxy_codes(finding: &mut Finding, f: &Facts) {
    if f.proxy_model.is_none() {
        return;
    }
    let extra = match f.dialect() {
        Dialect::Haproxy => haproxy_codes(finding.cause),
        Dialect::Nginx => &[],
    };
    for code in extra {
        if !finding.status_codes.contains(code) {
            finding.status_codes.push(*code);
        }
    }
}
