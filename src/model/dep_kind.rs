//! What a `[[dependency]]` is to the application: a database, a cache, an
//! API or a queue. The config's `kind` key sets it; when absent it follows
//! from the URL's scheme or well-known port, never from the operator's name
//! for it. Nothing here probes, reads a config or names a cause.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// What a dependency is. The rules tell a database error (500) from
/// another dependency's failure by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepKind {
    /// Stores the application's data: `PostgreSQL`, `MySQL`, `MongoDB`, ...
    Database,
    /// Holds data that can be rebuilt: Redis, Memcached.
    Cache,
    /// Answers requests: an HTTP API or any other service (the fallback).
    Api,
    /// Carries messages: `RabbitMQ`, Kafka, NATS.
    Queue,
}

impl DepKind {
    /// Every kind, in the order the config documents them.
    pub const ALL: [Self; 4] = [Self::Database, Self::Cache, Self::Api, Self::Queue];

    /// The config and report spelling: `database`, `cache`, `api`, `queue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Cache => "cache",
            Self::Api => "api",
            Self::Queue => "queue",
        }
    }

    /// The kind spelled `s` (as [`as_str`](Self::as_str) writes it).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a dependency at `url` has when the config does not say:
    /// from the scheme, else (for `tcp://`) from the well-known port, else
    /// [`DepKind::Api`].
    pub fn default_for(url: &Url) -> Self {
        Self::from_scheme(url.scheme())
            .or_else(|| {
                (url.scheme() == "tcp")
                    .then(|| url.port().and_then(Self::from_port))
                    .flatten()
            })
            .unwrap_or(Self::Api)
    }

    /// The kind a URL scheme names, if it names one.
    fn from_scheme(scheme: &str) -> Option<Self> {
        Some(match scheme {
            "postgres" | "postgresql" | "mysql" | "mariadb" | "mongodb" => Self::Database,
            "redis" | "rediss" | "memcached" => Self::Cache,
            "amqp" | "amqps" | "kafka" | "nats" => Self::Queue,
            "http" | "https" => Self::Api,
            _ => return None,
        })
    }

    /// The kind whose servers listen on `port` by default, if any.
    fn from_port(port: u16) -> Option<Self> {
        Some(match port {
            // PostgreSQL, MySQL/MariaDB, MongoDB, SQL Server, Oracle, CockroachDB.
            5432 | 3306 | 27017 | 1433 | 1521 | 26257 => Self::Database,
            // Redis, Memcached.
            6379 | 11211 => Self::Cache,
            // RabbitMQ, Kafka, NATS.
            5672 | 9092 | 4222 => Self::Queue,
            _ => return None,
        })
    }
}

impl fmt::Display for DepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(url: &str) -> DepKind {
        DepKind::default_for(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_scheme_decides_first() {
        assert_eq!(kind("postgres://db.internal/app"), DepKind::Database);
        assert_eq!(
            kind("postgresql://u:p@10.0.0.5:6543/app"),
            DepKind::Database
        );
        assert_eq!(kind("mysql://db:3306/"), DepKind::Database);
        assert_eq!(kind("redis://127.0.0.1:6379/0"), DepKind::Cache);
        assert_eq!(kind("rediss://cache.internal/"), DepKind::Cache);
        assert_eq!(kind("memcached://127.0.0.1:11211"), DepKind::Cache);
        assert_eq!(kind("amqp://mq:5672/"), DepKind::Queue);
        assert_eq!(kind("nats://127.0.0.1:4222"), DepKind::Queue);
        // An HTTP URL is an API even on a database's port.
        assert_eq!(kind("http://127.0.0.1:5432/"), DepKind::Api);
    }

    #[test]
    fn tcp_goes_by_the_well_known_port() {
        assert_eq!(kind("tcp://10.0.0.5:5432"), DepKind::Database);
        assert_eq!(kind("tcp://10.0.0.5:3306"), DepKind::Database);
        assert_eq!(kind("tcp://10.0.0.5:26257"), DepKind::Database);
        assert_eq!(kind("tcp://127.0.0.1:6379"), DepKind::Cache);
        assert_eq!(kind("tcp://127.0.0.1:9092"), DepKind::Queue);
        assert_eq!(kind("tcp://127.0.0.1:8080"), DepKind::Api);
    }

    #[test]
    fn the_name_plays_no_part() {
        // `feedback-api` contains "db"; the old name heuristic made it a
        // database. The kind is a property of the URL, not of the name.
        assert_eq!(kind("http://feedback-api.internal/health"), DepKind::Api);
        assert_eq!(kind("tcp://db.internal:8080"), DepKind::Api);
    }

    #[test]
    fn the_contract_documents_every_kind() {
        let contract = include_str!("../../docs/contract.md");
        let key = contract
            .lines()
            .find(|l| l.starts_with("kind = ") && l.contains("database | cache"))
            .unwrap();
        let spelled: Vec<&str> = DepKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(key.contains(&spelled.join(" | ")), "{key}");
    }

    #[test]
    fn names_round_trip() {
        for k in DepKind::ALL {
            assert_eq!(DepKind::from_name(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(DepKind::from_name("Database"), None);
    }
}
