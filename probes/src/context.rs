//! What probes of one run share: TLS client configurations and trust roots,
//! the system resolver and the host's socket table, each built at most once
//! per run and only when a probe first asks for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::{dns, port, tls};

/// Time budget of probes that only read local kernel state.
pub const LOCAL_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Shared, lazily built resources of one run. Cheap to create.
#[derive(Debug, Default)]
pub struct ProbeContext {
    extra_ca_files: Vec<PathBuf>,
    tls: OnceCell<Arc<tls::TlsToolkit>>,
    resolver: OnceCell<Arc<dns::SystemResolver>>,
    sockets: OnceCell<Arc<port::SocketTable>>,
}

impl ProbeContext {
    /// A context that also trusts the CA certificates in `extra_ca_files`
    /// (PEM), on top of the webpki roots, the system store and `SSL_CERT_FILE`.
    pub fn new(extra_ca_files: Vec<PathBuf>) -> Self {
        Self {
            extra_ca_files,
            ..Self::default()
        }
    }

    /// TLS client configurations and the chain verifier for this run.
    pub async fn tls(&self) -> Arc<tls::TlsToolkit> {
        self.tls
            .get_or_init(|| async {
                let files = self.extra_ca_files.clone();
                let built =
                    tokio::task::spawn_blocking(move || tls::TlsToolkit::build(&files)).await;
                Arc::new(built.unwrap_or_else(|e| tls::TlsToolkit::build_failed(&e.to_string())))
            })
            .await
            .clone()
    }

    /// The system resolver (from `/etc/resolv.conf`), built once.
    pub async fn resolver(&self) -> Arc<dns::SystemResolver> {
        self.resolver
            .get_or_init(|| async { Arc::new(dns::SystemResolver::from_system()) })
            .await
            .clone()
    }

    /// The host's listening TCP sockets with their owners, read once per run.
    pub async fn sockets(&self) -> Arc<port::SocketTable> {
        self.sockets
            .get_or_init(|| async {
                let read = tokio::task::spawn_blocking(port::SocketTable::read).await;
                Arc::new(read.unwrap_or_else(|e| port::SocketTable::failed(&e.to_string())))
            })
            .await
            .clone()
    }
}
