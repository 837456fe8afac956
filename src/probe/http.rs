//! One plain HTTP request to a flagged target, for the service fingerprints: dialed like a probe (our
//! zones and DNS, `connect_to`, `allow_dial`, the per-address limit), `GET /` with the record's own
//! name as `Host` (how a browser visiting the name asks, and what the service routes on), no redirect
//! followed, the body read up to a cap, all within the handshake timeout. The answer is evidence for a
//! fingerprint, never a verdict of ownership: that is the TLS probe's, from certificates.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

use super::runner::Prober;

/// The most of a body a fingerprint looks at.
pub const BODY_CAP: usize = 64 * 1024;

/// What one request got back.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// The address shown (the one DNS gave; the dialed one when `connect_to` maps the name).
    pub address: SocketAddr,
    pub status: u16,
    /// A redirect's `Location` (not followed).
    pub location: Option<String>,
    /// At most [`BODY_CAP`] bytes of the body.
    pub body: Vec<u8>,
}

impl Prober {
    /// `GET /` on `dial_host:port` with `Host: host_header`. Tries the target's addresses in order
    /// until one accepts the connection; one request in all.
    pub async fn http_get(&self, host_header: &str, dial_host: &str, port: u16) -> Result<HttpAnswer, String> {
        let plan = self.plan(dial_host, port).await?;
        let mut last = format!("{dial_host} has no address to dial");
        for (shown, dial) in plan {
            let dial = match dial {
                Ok(d) if self.allowed(d.ip()) => d,
                Ok(d) => {
                    last = format!("{d} is outside [probe] allow_dial");
                    continue;
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let _slot = self.slot(dial.ip()).await;
            let connect = tokio::time::timeout(self.settings().connect_timeout, tokio::net::TcpStream::connect(dial)).await;
            let stream = match connect {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    last = format!("cannot connect to {dial}: {e}");
                    continue;
                }
                Err(_) => {
                    last = format!("{dial} did not accept a connection within {} ms", self.settings().connect_timeout.as_millis());
                    continue;
                }
            };
            let bound = self.settings().handshake_timeout;
            let shown = shown.unwrap_or(dial);
            return match tokio::time::timeout(bound, request(stream, host_header)).await {
                Ok(Ok((status, location, body))) => Ok(HttpAnswer { address: shown, status, location, body }),
                Ok(Err(e)) => Err(format!("HTTP to {dial}: {e}")),
                Err(_) => Err(format!("{dial} did not answer HTTP within {} ms", bound.as_millis())),
            };
        }
        Err(last)
    }
}

async fn request(stream: tokio::net::TcpStream, host: &str) -> Result<(u16, Option<String>, Vec<u8>), String> {
    let words = |e: hyper::Error| dangle_model::excerpt(&e.to_string());
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(words)?;
    // The connection's own task; it ends when the response (or our interest in it) does.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get("/")
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, concat!("dangle/", env!("CARGO_PKG_VERSION"), " (dangling DNS check)"))
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| format!("`{host}` cannot be a Host header: {e}"))?;
    let resp = send.send_request(req).await.map_err(words)?;
    let status = resp.status().as_u16();
    let location = resp.headers().get(hyper::header::LOCATION).and_then(|v| v.to_str().ok()).map(dangle_model::excerpt);
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while out.len() < BODY_CAP {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    let room = BODY_CAP - out.len();
                    out.extend_from_slice(&d[..d.len().min(room)]);
                }
            }
            // A body cut short still shows what it showed.
            Some(Err(_)) | None => break,
        }
    }
    driver.abort();
    Ok((status, location, out))
}
