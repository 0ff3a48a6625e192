//! Tests of the dns probe against real DNS servers on 127.0.0.1: an
//! in-process hickory authoritative server for `test.example.`, hand-written
//! UDP responders answering SERVFAIL or REFUSED, and a socket that never
//! answers.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_server::proto::rr::{Name, RData, Record, RecordSet, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::UdpSocket;
use why5xx_probes::dns::{self, DnsSpec, SystemResolver};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

const OK_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const BOTH_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 6);
const BOTH_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 6);

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn insert(records: &mut BTreeMap<RrKey, RecordSet>, owner: &str, rdata: RData) {
    let owner = name(owner);
    let rtype = rdata.record_type();
    let set = records
        .entry(RrKey::new(owner.clone().into(), rtype))
        .or_insert_with(|| RecordSet::new(owner.clone(), rtype, 1));
    set.insert(Record::from_rdata(owner, 60, rdata), 1);
}

/// An authoritative server for `test.example.` on an ephemeral UDP port:
/// `ok` has only an A record, `both` has A and AAAA, nothing else exists.
async fn zone_server() -> SocketAddr {
    let origin = name("test.example.");
    let mut records = BTreeMap::new();
    insert(
        &mut records,
        "test.example.",
        RData::SOA(SOA::new(
            name("ns.test.example."),
            name("hostmaster.test.example."),
            1,
            3600,
            600,
            86400,
            60,
        )),
    );
    insert(
        &mut records,
        "test.example.",
        RData::NS(NS(name("ns.test.example."))),
    );
    insert(
        &mut records,
        "ns.test.example.",
        RData::A(A(Ipv4Addr::LOCALHOST)),
    );
    insert(&mut records, "ok.test.example.", RData::A(A(OK_V4)));
    insert(&mut records, "both.test.example.", RData::A(A(BOTH_V4)));
    insert(
        &mut records,
        "both.test.example.",
        RData::AAAA(AAAA(BOTH_V6)),
    );
    let zone = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .unwrap();
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone) as Arc<dyn ZoneHandler>]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut server = Server::new(catalog);
    server.register_socket(socket);
    // The server's tasks live as long as it does: keep it until the test's
    // runtime ends.
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    addr
}

/// A UDP responder that answers every query with an empty response carrying
/// `rcode` (2 = SERVFAIL, 5 = REFUSED), echoing the ID and the question.
async fn rcode_server(rcode: u8) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            if let Some(reply) = rcode_reply(&buf[..n], rcode) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    addr
}

/// The response to `query`: same ID, opcode and RD, QR and RA set, the one
/// question echoed, no records.
fn rcode_reply(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    // The question: labels up to the root label, then type and class.
    let mut end = 12;
    loop {
        let len = usize::from(*query.get(end)?);
        end += 1 + len;
        if len == 0 {
            break;
        }
    }
    end += 4;
    let question = query.get(12..end)?;
    let mut reply = Vec::with_capacity(end);
    reply.extend_from_slice(&query[0..2]);
    reply.push(0x80 | (query[2] & 0x79)); // QR, opcode and RD from the query
    reply.push(0x80 | (rcode & 0x0f)); // RA and the response code
    reply.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    Some(reply)
}

fn spec(name: &str, server: SocketAddr) -> DnsSpec {
    DnsSpec {
        name: name.to_owned(),
        server: Some(server),
        expect: Vec::new(),
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn name_with_a_record_resolves() {
    let server = zone_server().await;
    let obs = dns::run(&spec("ok.test.example", server), &ProbeContext::default()).await;
    assert_eq!(obs.server, server.to_string());
    assert_eq!(obs.a.addresses, vec![IpAddr::V4(OK_V4)]);
    assert!(obs.a.failure.is_none(), "{obs:?}");
    assert_eq!(obs.addresses().count(), 1);
    assert!(obs.failure.is_none(), "{obs:?}");
}

#[tokio::test]
async fn only_an_a_record_is_nodata_for_aaaa_but_no_failure() {
    let server = zone_server().await;
    let obs = dns::run(&spec("ok.test.example.", server), &ProbeContext::default()).await;
    assert!(obs.aaaa.addresses.is_empty());
    let aaaa = obs.aaaa.failure.as_ref().expect("AAAA should fail");
    assert_eq!(aaaa.kind, FailureKind::NoRecords, "{aaaa:?}");
    assert_eq!(aaaa.phase, Phase::Dns);
    assert!(obs.failure.is_none(), "{obs:?}");
}

#[tokio::test]
async fn missing_name_is_nxdomain() {
    let server = zone_server().await;
    let obs = dns::run(
        &spec("nothere.test.example", server),
        &ProbeContext::default(),
    )
    .await;
    assert_eq!(obs.a.failure.as_ref().unwrap().kind, FailureKind::NxDomain);
    assert_eq!(
        obs.aaaa.failure.as_ref().unwrap().kind,
        FailureKind::NxDomain
    );
    let failure = obs.failure.expect("overall failure");
    assert_eq!(failure.kind, FailureKind::NxDomain);
    assert_eq!(failure.phase, Phase::Dns);
    assert!(failure.detail.contains("nothere.test.example"), "{failure}");
}

#[tokio::test]
async fn answer_is_compared_with_expectation() {
    let server = zone_server().await;
    let mut s = spec("both.test.example", server);
    s.expect = vec![IpAddr::V4(BOTH_V4), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99))];
    let obs = dns::run(&s, &ProbeContext::default()).await;
    assert_eq!(obs.a.addresses, vec![IpAddr::V4(BOTH_V4)]);
    assert_eq!(obs.aaaa.addresses, vec![IpAddr::V6(BOTH_V6)]);
    assert_eq!(obs.missing, vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99))]);
    assert_eq!(obs.unexpected, vec![IpAddr::V6(BOTH_V6)]);
    assert!(obs.failure.is_none());

    // No expectation: nothing is missing or unexpected.
    let obs = dns::run(&spec("both.test.example", server), &ProbeContext::default()).await;
    assert!(obs.missing.is_empty() && obs.unexpected.is_empty());
}

#[tokio::test]
async fn expected_address_of_a_missing_name_is_missing() {
    let server = zone_server().await;
    let mut s = spec("gone.test.example", server);
    s.expect = vec![IpAddr::V4(OK_V4)];
    let obs = dns::run(&s, &ProbeContext::default()).await;
    assert_eq!(obs.missing, vec![IpAddr::V4(OK_V4)]);
    assert!(obs.unexpected.is_empty());
    assert_eq!(obs.failure.unwrap().kind, FailureKind::NxDomain);
}

#[tokio::test]
async fn servfail_is_classified() {
    let server = rcode_server(2).await;
    let obs = dns::run(
        &spec("api.internal.example", server),
        &ProbeContext::default(),
    )
    .await;
    assert_eq!(obs.a.failure.as_ref().unwrap().kind, FailureKind::ServFail);
    assert_eq!(
        obs.aaaa.failure.as_ref().unwrap().kind,
        FailureKind::ServFail
    );
    assert_eq!(obs.failure.unwrap().kind, FailureKind::ServFail);
}

#[tokio::test]
async fn refused_is_classified() {
    let server = rcode_server(5).await;
    let obs = dns::run(
        &spec("api.internal.example", server),
        &ProbeContext::default(),
    )
    .await;
    assert_eq!(
        obs.a.failure.as_ref().unwrap().kind,
        FailureKind::DnsRefused
    );
    assert_eq!(obs.failure.unwrap().kind, FailureKind::DnsRefused);
}

#[tokio::test]
async fn silent_server_times_out_within_the_budget() {
    // Bound but never read: queries go unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = spec("api.internal.example", silent.local_addr().unwrap());
    s.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let obs = dns::run(&s, &ProbeContext::default()).await;
    let took = started.elapsed();
    for lookup in [&obs.a, &obs.aaaa] {
        let f = lookup.failure.as_ref().unwrap();
        assert_eq!(
            (f.kind, f.phase),
            (FailureKind::Timeout, Phase::Dns),
            "{f:?}"
        );
    }
    assert_eq!(obs.failure.unwrap().kind, FailureKind::Timeout);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    drop(silent);
}

#[tokio::test]
async fn system_resolver_answers_localhost_itself() {
    let ctx = ProbeContext::default();
    let system = ctx.resolver().await;
    assert!(system.error.is_none(), "{:?}", system.error);
    let obs = dns::run(
        &DnsSpec {
            name: "localhost".into(),
            server: None,
            expect: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            timeout: Duration::from_secs(2),
        },
        &ctx,
    )
    .await;
    assert_eq!(obs.server, "system");
    assert!(obs.failure.is_none(), "{obs:?}");
    assert!(obs.missing.is_empty(), "{obs:?}");
}

#[test]
fn system_resolver_builds_without_a_runtime() {
    let system = SystemResolver::from_system();
    assert!(system.error.is_none(), "{:?}", system.error);
}

#[test]
fn rcode_reply_echoes_id_and_question() {
    // ID 0xbeef, RD, one question "a." IN A, one OPT record after it.
    let query = [
        0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 1, b'a', 0, 0, 1, 0, 1, 0, 0, 41, 4, 0, 0,
        0, 0, 0, 0, 0,
    ];
    let reply = rcode_reply(&query, 2).unwrap();
    assert_eq!(&reply[0..2], &[0xbe, 0xef]);
    assert_eq!(reply[2], 0x81);
    assert_eq!(reply[3], 0x82);
    assert_eq!(&reply[12..], &[1, b'a', 0, 0, 1, 0, 1]);
}
