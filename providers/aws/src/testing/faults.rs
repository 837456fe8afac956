//! A fault-injecting proxy in front of moto: each request is matched by the service and region of its
//! SigV4 credential scope, and a matching rule answers in place of moto with the failure a real AWS
//! endpoint (or the network in between) can produce. Everything else is relayed untouched, after a
//! delay when one is set (a real endpoint's latency, for benchmarks: `dangle-aws-proxy`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failure the proxy can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The service refuses the caller (403 AccessDenied / UnauthorizedOperation / AccessDeniedException).
    AccessDenied,
    /// The service throttles every attempt (Throttling / RequestLimitExceeded / SlowDown), past all retries.
    Throttled,
    /// The request is read and never answered.
    Timeout,
    /// The connection is closed as soon as the request is read.
    ConnectionReset,
    /// 200 OK with a body that is not the protocol's XML or JSON.
    Malformed,
    /// 200 OK that announces more body than it sends.
    Truncated,
    /// What AWS answers in a region the account has not opted into (AuthFailure / InvalidClientTokenId).
    RegionNotEnabled,
}

impl Fault {
    pub const ALL: [Fault; 7] =
        [Fault::AccessDenied, Fault::Throttled, Fault::Timeout, Fault::ConnectionReset, Fault::Malformed, Fault::Truncated, Fault::RegionNotEnabled];

    pub fn name(self) -> &'static str {
        match self {
            Fault::AccessDenied => "AccessDenied",
            Fault::Throttled => "throttling past retries",
            Fault::Timeout => "timeout",
            Fault::ConnectionReset => "connection reset",
            Fault::Malformed => "malformed response",
            Fault::Truncated => "truncated response",
            Fault::RegionNotEnabled => "region not enabled",
        }
    }
}

/// Which requests a rule answers: a SigV4 service name (`ec2`, `elasticloadbalancing`, `s3`,
/// `route53`, `cloudfront`, `sts`, `organizations`), optionally one region, and optionally only the
/// requests whose bytes contain a string (an account id in an AssumeRole body: one account fails).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    pub service: String,
    pub region: Option<String>,
    pub body: Option<String>,
}

#[derive(Default)]
struct State {
    rules: Vec<(Scope, Fault)>,
    /// (service, region) of every request answered with a fault.
    hits: Vec<(String, String)>,
    /// Held before each relayed request.
    delay: Duration,
    /// Relayed requests in flight (STS's aside: role sessions are opened with the base key), by
    /// access key (one per assumed role: one per account), and the most seen at once.
    in_flight: std::collections::HashMap<String, usize>,
    most: InFlight,
    /// (service, `Action` of a query-protocol body) of every relayed request.
    relayed: Vec<(String, String)>,
}

/// The most relayed requests in flight at once: in all, and per access key (per account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InFlight {
    pub all: usize,
    pub per_key: std::collections::HashMap<String, usize>,
}

/// The proxy; its rules can change between scans.
#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and relays to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        Self::start_with(upstream, Vec::new())
    }

    /// The same, with rules from the first request on.
    pub fn start_with(upstream: &str, rules: Vec<(Scope, Fault)>) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(Mutex::new(State { rules, hits: Vec::new(), delay: Duration::ZERO, in_flight: Default::default(), most: InFlight::default(), relayed: Vec::new() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, st) = (upstream.clone(), st.clone());
                std::thread::spawn(move || serve(client, &upstream, &st));
            }
        });
        Self { endpoint, state }
    }

    /// Replaces the rules: each fault for every request in its scope.
    pub fn set(&self, rules: Vec<(Scope, Fault)>) {
        let mut s = self.state.lock().unwrap();
        s.rules = rules;
        s.hits.clear();
    }

    /// Holds every relayed request this long before it goes upstream (each on its own thread: the
    /// delays of requests in flight overlap, as a real endpoint's latency does).
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// How many relayed requests were calls of `action` to `service` (query-protocol services: STS,
    /// EC2, ELB, whose bodies name their `Action`).
    pub fn relayed(&self, service: &str, action: &str) -> usize {
        self.state.lock().unwrap().relayed.iter().filter(|(s, a)| s == service && a == action).count()
    }

    /// The most requests (but STS's) that were in flight at once since the proxy started.
    pub fn most_in_flight(&self) -> InFlight {
        self.state.lock().unwrap().most.clone()
    }

    /// (service, region) of every request answered with a fault since the last `set`.
    pub fn hits(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().hits.clone()
    }
}

/// Serves one client connection: relays or fails its first request, then closes.
fn serve(mut client: TcpStream, upstream: &str, st: &Mutex<State>) {
    let Some((raw, head)) = read_request(&mut client) else { return };
    let (service, region, access_key) = scope_of(&head);
    let (fault, delay) = {
        let mut s = st.lock().unwrap();
        let f = s
            .rules
            .iter()
            .find(|(sc, _)| {
                sc.service == service
                    && sc.region.as_ref().is_none_or(|r| *r == region)
                    && sc.body.as_ref().is_none_or(|b| raw.windows(b.len()).any(|w| w == b.as_bytes()))
            })
            .map(|(_, f)| *f);
        if f.is_some() {
            s.hits.push((service.clone(), region.clone()));
        }
        (f, s.delay)
    };
    match fault {
        None => {
            let key = (service != "sts").then_some(access_key);
            let mut s = st.lock().unwrap();
            s.relayed.push((service.clone(), query_action(&raw)));
            if let Some(k) = &key {
                *s.in_flight.entry(k.clone()).or_default() += 1;
                let (all, mine) = (s.in_flight.values().sum::<usize>(), s.in_flight[k]);
                s.most.all = s.most.all.max(all);
                let most = s.most.per_key.entry(k.clone()).or_default();
                *most = (*most).max(mine);
            }
            drop(s);
            let answer = relay(&raw, upstream, delay);
            // Out of flight before the client can read the answer (and send its next request).
            if let Some(k) = key {
                *st.lock().unwrap().in_flight.entry(k).or_default() -= 1;
            }
            if let Some(a) = answer {
                let _ = client.write_all(&a);
            }
        }

        Some(Fault::ConnectionReset) => {}
        Some(Fault::Timeout) => {
            // Hold the connection until the client gives up.
            let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
            let mut sink = [0u8; 1024];
            while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
        }
        Some(f) => {
            let _ = client.write_all(&answer(f, &service));
        }
    }
}

/// Relays one request upstream after `delay`; its answer. One request per connection on both sides:
/// upstream is asked to close, and read until EOF.
fn relay(raw: &[u8], upstream: &str, delay: Duration) -> Option<Vec<u8>> {
    std::thread::sleep(delay);
    let text = String::from_utf8_lossy(raw).replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let mut up = TcpStream::connect(upstream).ok()?;
    up.write_all(text.as_bytes()).ok()?;
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    Some(resp)
}

/// The `Action` a query-protocol request body names (`Action=AssumeRole&…`), or "".
fn query_action(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or("").to_string()
}

/// The service and region of a SigV4 request: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
/// And its access key (one per assumed role: one per account).
fn scope_of(head: &str) -> (String, String, String) {
    let auth = head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim().to_string()));
    let cred = auth.as_deref().and_then(|a| a.split("Credential=").nth(1)).unwrap_or("");
    let parts: Vec<&str> = cred.split(',').next().unwrap_or("").split('/').collect();
    match parts.as_slice() {
        [key, _, region, service, ..] => (service.to_string(), region.to_string(), key.to_string()),
        _ => (String::new(), String::new(), String::new()),
    }
}

/// Reads one HTTP/1.1 request: its bytes, and its head (request line and headers, up to and including
/// the blank line) as text.
pub fn read_request(s: &mut TcpStream) -> Option<(Vec<u8>, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((buf, head))
}

/// How each service spells an error: (HTTP status, content type, body).
fn error_body(service: &str, status: u16, code: &str, message: &str) -> (u16, &'static str, String) {
    match service {
        "ec2" => (
            status,
            "text/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-1</RequestID></Response>"),
        ),
        "s3" => (
            status,
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-1</RequestId></Error>"),
        ),
        "organizations" => (status, "application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}")),
        // awsQuery (sts, elasticloadbalancing) and restXml (route53, cloudfront) share this shape.
        _ => (
            status,
            "text/xml",
            format!("<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>"),
        ),
    }
}

fn answer(f: Fault, service: &str) -> Vec<u8> {
    let (status, ctype, body) = match f {
        Fault::AccessDenied => match service {
            "ec2" => error_body(service, 403, "UnauthorizedOperation", "You are not authorized to perform this operation."),
            "organizations" => error_body(service, 400, "AccessDeniedException", "You don't have permissions to access this resource."),
            _ => error_body(service, 403, "AccessDenied", "User is not authorized to perform this action"),
        },
        Fault::Throttled => match service {
            "ec2" => error_body(service, 503, "RequestLimitExceeded", "Request limit exceeded."),
            "s3" => error_body(service, 503, "SlowDown", "Please reduce your request rate."),
            "organizations" => error_body(service, 400, "TooManyRequestsException", "Rate exceeded"),
            _ => error_body(service, 400, "Throttling", "Rate exceeded"),
        },
        Fault::RegionNotEnabled => match service {
            "ec2" => error_body(service, 401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
            _ => error_body(service, 403, "InvalidClientTokenId", "The security token included in the request is invalid."),
        },
        Fault::Malformed => (200, "text/xml", "<<<this is not the XML you are looking for".to_string()),
        Fault::Truncated => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4096\r\n\r\n<?xml version=\"1.0\"?>\n<Response><ite";
            return head.as_bytes().to_vec();
        }
        Fault::Timeout | Fault::ConnectionReset => unreachable!("answered without a response"),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Service Unavailable",
    };
    format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault-1\r\n\r\n{body}", body.len()).into_bytes()
}
