//! Runs every planned probe at once (bounded by `concurrency`), each under
//! its own timeout and all under the run's deadline. Whatever happens — a
//! probe that hangs, a probe that panics — every probe gets a result and the
//! run ends by the deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use why5xx_probes::{Observation, ProbeContext, ProbeSpec};

use crate::engine::plan::Planned;

/// Extra time a probe gets beyond its own timeout before the runner cuts it
/// off (a probe enforces its timeout itself; this is the backstop).
const GRACE: Duration = Duration::from_millis(50);

/// File descriptors kept back from `RLIMIT_NOFILE` for the runtime, stdio,
/// the trust store and the resolver before sizing concurrency by it.
pub const RESERVED_FDS: u64 = 32;
/// Descriptors one probe in flight may hold at once (a socket and a file,
/// or a connection and its resolver's).
pub const FDS_PER_PROBE: u64 = 2;

/// `requested` capped so that the probes in flight cannot run out of file
/// descriptors under the soft `RLIMIT_NOFILE` `soft_limit` (`None`:
/// unlimited): at most `(soft_limit - RESERVED_FDS) / FDS_PER_PROBE`, and
/// never below 1. A low `ulimit -n` makes the run slower, not wrong.
pub fn fd_capped_concurrency(requested: usize, soft_limit: Option<u64>) -> usize {
    let Some(limit) = soft_limit else {
        return requested.max(1);
    };
    let cap = limit.saturating_sub(RESERVED_FDS) / FDS_PER_PROBE;
    let cap = usize::try_from(cap).unwrap_or(usize::MAX).max(1);
    requested.clamp(1, cap)
}

/// This process's soft `RLIMIT_NOFILE`; `None` when unlimited.
pub fn open_files_soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// How a probe ended.
#[derive(Debug, Clone)]
#[expect(clippy::large_enum_variant, reason = "one per probe, built once")]
pub enum Outcome {
    /// It finished and observed something (perhaps a failure).
    Observed(Observation),
    /// It could not finish: `timeout` (deadline), `panic: ...`, `cancelled`.
    Unfinished(String),
}

/// One probe's result.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub planned: Planned,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl ProbeRun {
    /// The observation, when the probe finished.
    pub fn observation(&self) -> Option<&Observation> {
        match &self.outcome {
            Outcome::Observed(o) => Some(o),
            Outcome::Unfinished(_) => None,
        }
    }
}

/// Run `probes`, at most `concurrency` at a time, all done by `deadline`
/// from now. Results come back in the order of `probes`.
pub async fn run(
    probes: Vec<Planned>,
    ctx: Arc<ProbeContext>,
    concurrency: usize,
    deadline: Duration,
) -> Vec<ProbeRun> {
    run_with(probes, concurrency, deadline, move |spec| {
        let ctx = Arc::clone(&ctx);
        async move { spec.run(&ctx).await }
    })
    .await
}

/// [`run`] with the probing itself supplied by `probe` (tests substitute
/// probes that hang or panic).
pub async fn run_with<F, Fut>(
    probes: Vec<Planned>,
    concurrency: usize,
    deadline: Duration,
    probe: F,
) -> Vec<ProbeRun>
where
    F: Fn(ProbeSpec) -> Fut,
    Fut: Future<Output = Observation> + Send + 'static,
{
    let start = Instant::now();
    let deadline_at = tokio::time::Instant::from_std(start + deadline);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut results: Vec<Option<(Outcome, Duration)>> = vec![None; probes.len()];

    for (i, p) in probes.iter().enumerate() {
        let limit = p.spec.timeout() + GRACE;
        let fut = probe(p.spec.clone());
        let permits = Arc::clone(&permits);
        let handle = set.spawn(async move {
            // A closed semaphore cannot happen here; treat it as cancelled.
            let Ok(_permit) = permits.acquire_owned().await else {
                return (Outcome::Unfinished("cancelled".to_string()), Duration::ZERO);
            };
            let began = Instant::now();
            let outcome = match tokio::time::timeout(limit, fut).await {
                Ok(obs) => Outcome::Observed(obs),
                Err(_) => Outcome::Unfinished("timeout".to_string()),
            };
            (outcome, began.elapsed())
        });
        index_of.insert(handle.id(), i);
    }

    loop {
        match tokio::time::timeout_at(deadline_at, set.join_next_with_id()).await {
            Ok(None) => break,
            Ok(Some(Ok((id, (outcome, took))))) => {
                if let Some(&i) = index_of.get(&id) {
                    results[i] = Some((outcome, took));
                }
            }
            Ok(Some(Err(e))) => {
                if let Some(&i) = index_of.get(&e.id()) {
                    let why = if e.is_panic() {
                        format!("panic: {}", panic_message(&*e.into_panic()))
                    } else {
                        "cancelled".to_string()
                    };
                    tracing::warn!(probe = %probes[i].id, "{why}");
                    results[i] = Some((Outcome::Unfinished(why), start.elapsed()));
                }
            }
            Err(_) => {
                tracing::warn!(
                    "deadline of {deadline:?} reached; {} probe(s) unfinished",
                    set.len()
                );
                set.abort_all();
                break;
            }
        }
    }

    let elapsed = start.elapsed();
    probes
        .into_iter()
        .zip(results)
        .map(|(planned, r)| {
            let (outcome, duration) =
                r.unwrap_or((Outcome::Unfinished("timeout".to_string()), elapsed));
            ProbeRun {
                planned,
                outcome,
                duration,
            }
        })
        .collect()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::Role;
    use why5xx_probes::{Observation, tcp};

    fn planned(id: &str, timeout: Duration) -> Planned {
        Planned {
            id: crate::model::probe_id::ProbeId::recorded(id),
            target: id.to_string(),
            role: Role::Dependency {
                slow: None,
                kind: crate::model::dep_kind::DepKind::Api,
                credentials: false,
            },
            spec: ProbeSpec::Tcp(tcp::TcpSpec {
                host: id.to_string(),
                port: 1,
                timeout,
            }),
        }
    }

    #[tokio::test]
    async fn panics_hangs_and_deadline_each_give_a_result() {
        let probes = vec![
            planned("ok", Duration::from_secs(5)),
            planned("panics", Duration::from_secs(5)),
            planned("hangs-past-timeout", Duration::from_millis(100)),
            planned("hangs-past-deadline", Duration::from_secs(60)),
        ];
        let started = Instant::now();
        let runs = run_with(probes, 8, Duration::from_millis(600), |spec| async move {
            let ProbeSpec::Tcp(t) = spec else {
                unreachable!()
            };
            match t.host.as_str() {
                "ok" => Observation::Tcp(tcp::TcpObservation::default()),
                "panics" => panic!("boom"),
                _ => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Observation::Tcp(tcp::TcpObservation::default())
                }
            }
        })
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the deadline must end the run"
        );
        let outcome = |i: usize| match &runs[i].outcome {
            Outcome::Observed(_) => "observed".to_string(),
            Outcome::Unfinished(why) => why.clone(),
        };
        assert_eq!(outcome(0), "observed");
        assert_eq!(outcome(1), "panic: boom");
        assert_eq!(outcome(2), "timeout");
        assert_eq!(outcome(3), "timeout");
        assert_eq!(
            runs.iter()
                .map(|r| r.planned.id.as_str())
                .collect::<Vec<_>>(),
            ["ok", "panics", "hangs-past-timeout", "hangs-past-deadline"]
        );
    }

    #[test]
    fn concurrency_is_capped_by_the_open_files_limit() {
        assert_eq!(fd_capped_concurrency(64, None), 64);
        assert_eq!(fd_capped_concurrency(64, Some(1_048_576)), 64);
        assert_eq!(fd_capped_concurrency(64, Some(64)), 16);
        assert_eq!(fd_capped_concurrency(64, Some(1024)), 64);
        assert_eq!(fd_capped_concurrency(8, Some(64)), 8);
        assert_eq!(fd_capped_concurrency(64, Some(20)), 1);
        assert_eq!(fd_capped_concurrency(0, None), 1);
    }

    #[tokio::test]
    async fn concurrency_bounds_probes_in_flight() {
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let probes = (0..20)
            .map(|i| planned(&format!("p{i}"), Duration::from_secs(5)))
            .collect();
        let (f, p) = (Arc::clone(&in_flight), Arc::clone(&peak));
        let runs = run_with(probes, 3, Duration::from_secs(20), move |_| {
            let (f, p) = (Arc::clone(&f), Arc::clone(&p));
            async move {
                let now = f.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                p.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                f.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                Observation::Tcp(tcp::TcpObservation::default())
            }
        })
        .await;
        assert_eq!(runs.len(), 20);
        assert!(
            runs.iter()
                .all(|r| matches!(r.outcome, Outcome::Observed(_)))
        );
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }
}
