//! A local Azure Resource Manager for tests and the demo (feature `testing`): https on 127.0.0.1 with
//! a certificate from an rcgen CA (or files given), JSON per path (matched case-insensitively, as ARM
//! does), lists served in pages linked by `nextLink` back to this server, and per-path faults (a status
//! with ARM's error body, and Retry-After). Every request is logged: method, path and query, and whether
//! it carried a bearer token. `dangle-arm-fake` serves an estate file with it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::{json, Value};

/// What the server answers at one path. In an estate file: `{"doc": {…}}`, `{"list": […]}` or
/// `{"fail": {"status": 403, "code": "AuthorizationFailed", "retry_after": 1, "times": 2, "then": …}}`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// One resource.
    Doc(Value),
    /// A list: `value` served `page` items at a time.
    List(Vec<Value>),
    /// Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`, no bearer needed): answers any
    /// form with this access token (the test checks what was posted).
    Token(String),
    /// A `checkNameAvailability` endpoint (POST, with a bearer): a name in `taken` exists, any other
    /// is available, a name with characters the service refuses (not `[a-z0-9-]`) is invalid.
    Check { taken: Vec<String> },
    /// A failure: status, ARM error code, and Retry-After seconds; `times` answers, then the route
    /// behind it (`None`: forever).
    Fail {
        status: u16,
        code: String,
        #[serde(default)]
        retry_after: Option<u32>,
        #[serde(default)]
        times: Option<usize>,
        #[serde(default = "empty_list")]
        then: Box<Route>,
    },
}

fn empty_list() -> Box<Route> {
    Box::new(Route::List(Vec::new()))
}

impl Route {
    /// A failure that never ends.
    pub fn fail(status: u16, code: &str) -> Self {
        Route::Fail { status, code: code.to_string(), retry_after: None, times: None, then: empty_list() }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub bearer: Option<String>,
    /// The form a token request posted (empty for a GET).
    pub body: String,
}

pub struct ArmServer {
    pub url: String,
    delay: Arc<std::sync::atomic::AtomicU64>,
    pub ca_pem: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    pub log: Arc<Mutex<Vec<Logged>>>,
    pub page: usize,
    _task: tokio::task::JoinHandle<()>,
}

impl ArmServer {
    /// A server on a free loopback port with a fresh CA (its PEM in `ca_pem`).
    pub async fn start(page: usize) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
        cp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        cp.distinguished_name.push(rcgen::DnType::CommonName, "dangle test ARM CA");
        let ca = cp.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()));
        Self::serve(listener, vec![leaf.der().clone()], key, ca.pem(), page).unwrap()
    }

    /// A server on `listener` presenting `chain` (leaf first) and `key`; `ca_pem` is only reported.
    pub fn serve(
        listener: tokio::net::TcpListener,
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
        ca_pem: String,
        page: usize,
    ) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("the certificate and key do not make a TLS server: {e}"))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let url = format!("https://127.0.0.1:{}", listener.local_addr().map_err(|e| e.to_string())?.port());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let log: Arc<Mutex<Vec<Logged>>> = Arc::default();
        let delay: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let (r, l, base, d) = (routes.clone(), log.clone(), url.clone(), delay.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, r, l, base, d) = (acceptor.clone(), r.clone(), l.clone(), base.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let svc = hyper::service::service_fn(move |req| {
                        let (r, l, base, d) = (r.clone(), l.clone(), base.clone(), d.clone());
                        async move {
                            let ms = d.load(std::sync::atomic::Ordering::Relaxed);
                            if ms > 0 {
                                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                            }
                            let (parts, body) = req.into_parts();
                            let body = http_body_util::BodyExt::collect(body).await.map(|c| c.to_bytes()).unwrap_or_default();
                            Ok::<_, Infallible>(answer(&parts, &body, &r, &l, &base, page))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
                });
            }
        });
        Ok(Self { url, delay, ca_pem, routes, log, page, _task: task })
    }

    /// Holds every answer for `d` (ARM's latency, for benchmarks).
    pub fn with_delay(self, d: std::time::Duration) -> Self {
        self.delay.store(u64::try_from(d.as_millis()).unwrap_or(u64::MAX), std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// A readable, empty subscription: the subscription itself, and every list the provider reads in it
    /// answering no items. Routes set afterwards fill it.
    pub fn empty_subscription(&self, sub: &str) {
        self.route(&format!("/subscriptions/{sub}"), Route::Doc(serde_json::json!({"subscriptionId": sub, "state": "Enabled"})));
        for path in crate::subscription_lists() {
            self.route(&format!("/subscriptions/{sub}/{path}"), Route::List(Vec::new()));
        }
    }

    /// Serves `route` at `path` (any case).
    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_ascii_lowercase(), route);
    }

    /// Every route, to put back later ([`ArmServer::set_routes`]).
    pub fn routes(&self) -> HashMap<String, Route> {
        self.routes.lock().unwrap().clone()
    }

    pub fn set_routes(&self, routes: HashMap<String, Route>) {
        *self.routes.lock().unwrap() = routes;
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }
}

fn reply(status: u16, body: Value, retry_after: Option<u32>) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status).header("content-type", "application/json");
    if let Some(s) = retry_after {
        b = b.header("retry-after", s.to_string());
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

fn answer(
    req: &hyper::http::request::Parts,
    body: &[u8],
    routes: &Mutex<HashMap<String, Route>>,
    log: &Mutex<Vec<Logged>>,
    base: &str,
    page: usize,
) -> Response<Full<Bytes>> {
    let path = req.uri.path().to_string();
    let query = req.uri.query().unwrap_or_default().to_string();
    let bearer = req.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::to_string);
    let form = String::from_utf8_lossy(body).into_owned();
    log.lock().unwrap().push(Logged { method: req.method.to_string(), path: format!("{path}?{query}"), bearer: bearer.clone(), body: form });
    let key = path.to_ascii_lowercase();
    let mut routes = routes.lock().unwrap();
    if let Some(Route::Token(token)) = routes.get(&key) {
        if req.method != hyper::Method::POST {
            return reply(405, json!({"error": "invalid_request", "error_description": "POST a token request"}), None);
        }
        return reply(200, json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}), None);
    }
    if let Some(Route::Check { taken }) = routes.get(&key) {
        if req.method != hyper::Method::POST || bearer.is_none() {
            return reply(405, json!({"error": {"code": "MethodNotAllowed", "message": "POST a check, with a token"}}), None);
        }
        let asked: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let name = asked.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        // Front Door (classic) answers in words.
        if key.to_ascii_lowercase().contains("checkfrontdoornameavailability") {
            let taken_here = taken.iter().any(|t| t.eq_ignore_ascii_case(&name));
            return match (valid, taken_here) {
                (false, _) => reply(200, json!({"nameAvailability": "Unavailable", "reason": "Invalid", "message": format!("{name} is not a valid name")}), None),
                (true, true) => reply(200, json!({"nameAvailability": "Unavailable", "reason": "Name is already in use", "message": format!("{name} is already taken")}), None),
                (true, false) => reply(200, json!({"nameAvailability": "Available"}), None),
            };
        }
        return if !valid {
            reply(200, json!({"nameAvailable": false, "reason": "Invalid", "message": format!("{name} is not a valid name")}), None)
        } else if taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            reply(200, json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("{name} is already taken")}), None)
        } else {
            reply(200, json!({"nameAvailable": true}), None)
        };
    }
    if req.method != hyper::Method::GET {
        return reply(405, json!({"error": {"code": "MethodNotAllowed", "message": "this server answers GET only"}}), None);
    }
    if bearer.is_none() {
        return reply(401, json!({"error": {"code": "AuthenticationFailed", "message": "no bearer token"}}), None);
    }
    let Some(route) = routes.get_mut(&key) else {
        return reply(404, json!({"error": {"code": "ResourceNotFound", "message": format!("nothing at {path}")}}), None);
    };
    if let Route::Fail { status, code, retry_after, times, then } = route {
        let (status, code, retry_after) = (*status, code.clone(), *retry_after);
        match times {
            Some(0) => {
                let next = (**then).clone();
                *route = next;
            }
            Some(n) => {
                *n -= 1;
                return reply(status, json!({"error": {"code": code, "message": format!("{code} (test)")}}), retry_after);
            }
            None => return reply(status, json!({"error": {"code": code, "message": format!("{code} (test)")}}), retry_after),
        }
    }
    match route {
        Route::Doc(v) => reply(200, v.clone(), None),
        Route::List(items) => {
            let skip: usize = query.split('&').find_map(|kv| kv.strip_prefix("$skiptoken=")).and_then(|s| s.parse().ok()).unwrap_or(0);
            let end = (skip + page).min(items.len());
            let mut body = json!({ "value": items[skip.min(items.len())..end] });
            if end < items.len() {
                let version = query.split('&').find(|kv| kv.starts_with("api-version=")).unwrap_or("api-version=?");
                body["nextLink"] = Value::String(format!("{base}{path}?{version}&$skiptoken={end}"));
            }
            reply(200, body, None)
        }
        Route::Fail { .. } | Route::Token(_) | Route::Check { .. } => unreachable!("answered above"),
    }
}

/// A credential that hands out a fixed token (the credential chain is tested on its own).
#[derive(Debug)]
pub struct FixedToken(pub &'static str);

#[async_trait::async_trait]
impl azure_core::credentials::TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        Ok(azure_core::credentials::AccessToken::new(
            azure_core::credentials::Secret::new(self.0),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// A managed-identity token endpoint (App Service's IDENTITY_ENDPOINT form) over plain http on
/// loopback, as the platform serves it: it answers a GET carrying `X-IDENTITY-HEADER: secret` with
/// `token`, and logs each request's query.
pub struct IdentityEndpoint {
    pub url: String,
    pub log: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl IdentityEndpoint {
    pub async fn start(secret: &'static str, token: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/msi/token", listener.local_addr().unwrap().port());
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let l = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let l = l.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let l = l.clone();
                        async move {
                            l.lock().unwrap().push(req.uri().query().unwrap_or_default().to_string());
                            let ok = req.headers().get("x-identity-header").is_some_and(|v| v == secret);
                            let expires = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600).to_string();
                            Ok::<_, Infallible>(if ok {
                                reply(200, json!({"access_token": token, "expires_on": expires, "token_type": "Bearer", "resource": "x"}), None)
                            } else {
                                reply(400, json!({"error": "invalid_request", "error_description": "missing X-IDENTITY-HEADER"}), None)
                            })
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        Self { url, log, _task: task }
    }
}
