//! A small authoritative DNS server on 127.0.0.1 for tests: it answers over
//! UDP from a fixed table and counts the queries it gets.

use super::*;
use hickory_resolver::proto::op::{Message, MessageType, OpCode};
use hickory_resolver::proto::rr::Record;
use hickory_resolver::proto::rr::rdata::{SOA, TXT};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the server answers for one name.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// TXT records, each a list of character-strings.
    Records(Vec<Vec<String>>),
    /// The name exists with no TXT record.
    NoData,
    /// SERVFAIL.
    ServFail,
    /// No answer at all.
    Silent,
}

/// A running server; names not in its table get NXDOMAIN.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) queries: Arc<AtomicUsize>,
}

impl TestServer {
    pub(crate) fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

fn soa() -> Option<Record> {
    Some(Record::from_rdata(
        Name::from_ascii("test.").ok()?,
        300,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.test.").ok()?,
            Name::from_ascii("admin.test.").ok()?,
            1,
            60,
            60,
            60,
            60,
        )),
    ))
}

fn answer(table: &HashMap<String, Reply>, query: &Message) -> Option<Message> {
    let q = query.queries.first()?;
    let name = normalize_name(&q.name().to_ascii());
    let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.add_query(q.clone());
    match table.get(&name) {
        Some(Reply::Records(records)) => {
            for strings in records {
                response.add_answer(Record::from_rdata(
                    q.name().clone(),
                    300,
                    RData::TXT(TXT::new(strings.clone())),
                ));
            }
        }
        Some(Reply::NoData) => {
            response.add_authority(soa()?);
        }
        Some(Reply::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
        Some(Reply::Silent) => return None,
        None => {
            response.metadata.response_code = ResponseCode::NXDomain;
            response.add_authority(soa()?);
        }
    }
    Some(response)
}

/// Starts a server answering from `table` (names without the final dot).
pub(crate) async fn start(table: Vec<(&str, Reply)>) -> TestServer {
    let table: HashMap<String, Reply> = table
        .into_iter()
        .map(|(name, reply)| (normalize_name(name), reply))
        .collect();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if let Some(response) = answer(&table, &query) {
                let bytes = response.to_vec().unwrap();
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    TestServer { addr, queries }
}
