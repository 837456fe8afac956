//! Asking a delegation's name server directly whether it serves the zone: one non-recursive `SOA`
//! query over UDP to port 53 of the server (its address from our zones or DNS, `connect_to` and
//! `allow_dial` as for a probe), encoded and decoded with hickory-proto. What the server says is the
//! evidence for the live resolution path: a server that refuses the zone, fails on it or only refers
//! elsewhere makes the delegation lame.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::runner::{Lookup, Prober};

/// What one name server said of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// An authoritative answer with the zone's SOA.
    Serves,
    /// The server refused the zone, failed on it, denied it exists or only referred elsewhere: it does
    /// not serve it (the words say which, and where it was asked).
    Lame(String),
    /// The server's own name does not exist.
    ServerMissing(String),
    /// No answer to judge by (a timeout, no address, outside `allow_dial`): why.
    NoAnswer(String),
}

impl Prober {
    /// Asks `server` (a name server's host name) for the SOA of `zone`.
    pub async fn ask_soa(&self, zone: &str, server: &str) -> Authority {
        let server = server.trim_end_matches('.');
        let plan = match self.plan(server, 53).await {
            Ok(p) => p,
            Err(_) if !self.maps(server, 53) => {
                return match self.lookup(server).await {
                    Lookup::NxDomain(n) => Authority::ServerMissing(format!("`{n}` does not exist (NXDOMAIN)")),
                    Lookup::NoAddresses(n) => Authority::NoAnswer(format!("{n} has no address records")),
                    Lookup::Failed(why) => Authority::NoAnswer(why),
                    Lookup::Addresses(_) => Authority::NoAnswer(format!("{server} has no address to dial")),
                };
            }
            Err(e) => return Authority::NoAnswer(e),
        };
        let mut last = Authority::NoAnswer(format!("{server} has no address to dial"));
        for (shown, dial) in plan {
            let dial = match dial {
                Ok(d) if self.allowed(d.ip()) => d,
                Ok(d) => {
                    last = Authority::NoAnswer(format!("{d} is outside [probe] allow_dial"));
                    continue;
                }
                Err(e) => {
                    last = Authority::NoAnswer(e);
                    continue;
                }
            };
            let at = shown.unwrap_or(dial);
            let _slot = self.slot(dial.ip()).await;
            match self.soa_query(zone, dial).await {
                Ok(m) => return judge(zone, server, at, &m),
                Err(e) => last = Authority::NoAnswer(format!("{server} ({at}): {e}")),
            }
        }
        last
    }

    async fn soa_query(&self, zone: &str, dial: SocketAddr) -> Result<Message, String> {
        let name = Name::from_ascii(format!("{}.", zone.trim_end_matches('.'))).map_err(|e| format!("`{zone}`: {e}"))?;
        let mut q = Message::query();
        q.metadata.recursion_desired = false;
        q.add_query(Query::query(name, RecordType::SOA));
        let bytes = q.to_vec().map_err(|e| e.to_string())?;
        let local: SocketAddr = match dial.ip() {
            IpAddr::V4(_) => "0.0.0.0:0".parse().expect("an address"),
            IpAddr::V6(_) => "[::]:0".parse().expect("an address"),
        };
        let sock = tokio::net::UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
        sock.connect(dial).await.map_err(|e| e.to_string())?;
        let bound = self.settings().connect_timeout;
        let exchange = async {
            // Once more if the first datagram is lost: UDP has no retransmission of its own.
            for _ in 0..2 {
                sock.send(&bytes).await.map_err(|e| e.to_string())?;
                let mut buf = vec![0u8; 4096];
                match tokio::time::timeout(bound, sock.recv(&mut buf)).await {
                    Ok(Ok(n)) => match Message::from_vec(&buf[..n]) {
                        Ok(m) if m.metadata.id == q.metadata.id && m.metadata.message_type == MessageType::Response => return Ok(m),
                        Ok(_) => continue,
                        Err(e) => return Err(format!("an answer that is not DNS: {}", dangle_model::excerpt(&e.to_string()))),
                    },
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => continue,
                }
            }
            Err(format!("no answer within {} ms", 2 * bound.as_millis()))
        };
        exchange.await
    }
}

fn judge(zone: &str, server: &str, at: SocketAddr, m: &Message) -> Authority {
    let zone = zone.trim_end_matches('.');
    let code = m.metadata.response_code;
    if m.metadata.op_code != OpCode::Query {
        return Authority::NoAnswer(format!("{server} ({at}) answered with another opcode"));
    }
    match code {
        ResponseCode::NoError => {
            let soa = m.answers.iter().any(|r| matches!(r.data, RData::SOA(_)) && r.name.to_ascii().trim_end_matches('.').eq_ignore_ascii_case(zone));
            if m.metadata.authoritative && soa {
                Authority::Serves
            } else if m.metadata.authoritative {
                Authority::Lame(format!("{server} ({at}) answers for `{zone}` without its SOA: the zone's apex is not there"))
            } else {
                Authority::Lame(format!("{server} ({at}) is not authoritative for `{zone}` (a referral or a cached answer)"))
            }
        }
        ResponseCode::Refused => Authority::Lame(format!("{server} ({at}) answers REFUSED for `{zone}`: it does not host the zone")),
        ResponseCode::ServFail => Authority::Lame(format!("{server} ({at}) answers SERVFAIL for `{zone}`")),
        ResponseCode::NXDomain => Authority::Lame(format!("{server} ({at}) answers NXDOMAIN for `{zone}`")),
        other => Authority::NoAnswer(format!("{server} ({at}) answers {other} for `{zone}`")),
    }
}
