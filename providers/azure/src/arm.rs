//! Azure Resource Manager over the official azure_core pipeline: GET only, every list followed through
//! its `nextLink`, retries (429 and 5xx, honouring Retry-After) by azure_core's retry policy, bearer
//! tokens added by its authorization policy, which refuses anything but https.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions, Request, RetryOptions, Transport, Url};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;

/// Pages of one list at most: a `nextLink` that never ends (a misbehaving proxy) stops here.
const MAX_PAGES: usize = 100_000;

/// What went wrong with one ARM request, for a person and for deciding what a gap hides.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArmError {
    /// An HTTP answer other than success: its status and ARM's error code and message.
    #[error("HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status { status: u16, code: Option<String>, message: String },
    /// No answer: connection, TLS, timeout, or the credential could not get a token.
    #[error("{0}")]
    Transport(String),
    /// An answer that is not the JSON ARM defines.
    #[error("unexpected answer: {0}")]
    Shape(String),
}

/// A client for one ARM endpoint.
pub struct Arm {
    pipeline: Pipeline,
    base: Url,
    /// The token scope of the endpoint (`https://management.azure.com/.default`).
    scope: String,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// The trust anchors for the endpoint: the system's roots and the certificates of `ca_pem`.
pub fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(pem) = ca_pem {
        let mut n = 0;
        for c in CertificateDer::pem_slice_iter(pem) {
            let c = c.map_err(|e| format!("not a PEM certificate: {e}"))?;
            roots.add(c).map_err(|e| format!("not a usable CA certificate: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err("holds no PEM certificate".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// An azure_core transport on reqwest with `tls`, no redirects (one would carry the token elsewhere;
/// ARM and Entra ID do not redirect these requests).
fn client(tls: rustls::ClientConfig, timeout: Duration) -> Result<Transport, String> {
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    Ok(Transport::new(Arc::new(client)))
}

/// A transport trusting what `tls` trusts.
pub fn transport(tls: rustls::ClientConfig, timeout: Duration) -> Result<Transport, String> {
    client(tls, timeout)
}

impl Arm {
    /// `base` must be https: bearer tokens travel over TLS only.
    pub fn new(base: Url, credential: Arc<dyn TokenCredential>, tls: rustls::ClientConfig, timeout: Duration) -> Result<Self, String> {
        if base.scheme() != "https" {
            return Err(format!("`{base}` is not https: ARM bearer tokens travel over TLS only"));
        }
        let scope = format!("{}/.default", base.origin().ascii_serialization());
        let options = ClientOptions {
            transport: Some(client(tls, timeout)?),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: azure_core::time::Duration::milliseconds(200),
                max_retries: 4,
                max_total_elapsed: azure_core::time::Duration::seconds(60),
                max_delay: azure_core::time::Duration::seconds(30),
            }),
            ..ClientOptions::default()
        };
        let auth = Arc::new(BearerTokenAuthorizationPolicy::new(credential, [scope.clone()]));
        let pipeline = Pipeline::new(Some("dangle-azure"), Some(env!("CARGO_PKG_VERSION")), options, Vec::new(), vec![auth], None);
        Ok(Self { pipeline, base, scope })
    }

    /// The token scope of this endpoint.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// `path` (from the ARM root, with its query) as a URL of this endpoint.
    fn url(&self, path_and_query: &str) -> Result<Url, ArmError> {
        self.base.join(path_and_query).map_err(|e| ArmError::Shape(format!("`{path_and_query}` is no URL path: {e}")))
    }

    /// GET one JSON document.
    pub async fn get(&self, url: Url) -> Result<Value, ArmError> {
        self.send(Request::new(url, Method::Get)).await
    }

    /// POST `body` (JSON) to `path` (from the ARM root) and read the JSON answer: only for the named
    /// availability checks (`checkNameAvailability`), which read and change nothing.
    pub async fn post_check(&self, path: &str, api_version: &str, body: &Value) -> Result<Value, ArmError> {
        let mut req = Request::new(self.url(&with_version(path, api_version))?, Method::Post);
        req.insert_header("content-type", "application/json");
        req.set_body(body.to_string());
        self.send(req).await
    }

    /// Sends `req` through the pipeline and reads a 2xx answer as JSON; any other status is ARM's error.
    async fn send(&self, mut req: Request) -> Result<Value, ArmError> {
        let ctx = Context::new();
        let options = PipelineSendOptions { skip_checks: true, ..Default::default() };
        let resp = self.pipeline.send(&ctx, &mut req, Some(options)).await.map_err(|e| ArmError::Transport(chain(&e)))?;
        let status = u16::from(resp.status());
        let body = resp.into_body();
        let bytes: &[u8] = body.as_ref();
        if !(200..300).contains(&status) {
            return Err(status_error(status, bytes));
        }
        serde_json::from_slice(bytes).map_err(|e| ArmError::Shape(format!("not JSON: {e}")))
    }

    /// GET one resource at `path` (from the ARM root).
    pub async fn get_path(&self, path: &str, api_version: &str) -> Result<Value, ArmError> {
        self.get(self.url(&with_version(path, api_version))?).await
    }

    /// Every item of a list (`value`), following `nextLink` to the end. A `nextLink` to another origin
    /// is refused: the token would go with it.
    pub async fn list(&self, path: &str, api_version: &str) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        self.each(path, api_version, |v| items.push(v)).await?;
        Ok(items)
    }

    /// Hands `f` every item of a list as its page arrives: a page's JSON is dropped once its items are
    /// read, so a zone of a hundred thousand record sets never sits in memory as JSON.
    pub async fn each(&self, path: &str, api_version: &str, mut f: impl FnMut(Value)) -> Result<(), ArmError> {
        let mut url = self.url(&with_version(path, api_version))?;
        for _ in 0..MAX_PAGES {
            let mut page = self.get(url).await?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => v.into_iter().for_each(&mut f),
                Some(Value::Null) | None => {}
                Some(_) => return Err(ArmError::Shape("`value` is not a list".into())),
            }
            let next = match page.get("nextLink") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Ok(()),
            };
            let n = Url::parse(&next).map_err(|e| ArmError::Shape(format!("nextLink `{next}`: {e}")))?;
            if n.origin() != self.base.origin() {
                return Err(ArmError::Shape(format!("nextLink leaves the endpoint ({}); not followed", n.origin().ascii_serialization())));
            }
            url = n;
        }
        Err(ArmError::Shape(format!("more than {MAX_PAGES} pages")))
    }
}

fn with_version(path: &str, api_version: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}api-version={api_version}")
}

/// ARM's error body (`{"error": {"code", "message"}}`), or the start of whatever came.
fn status_error(status: u16, body: &[u8]) -> ArmError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let code = err.and_then(|e| e.get("code")).and_then(Value::as_str).map(dangle_model::excerpt);
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(dangle_model::excerpt)
        .unwrap_or_else(|| dangle_model::excerpt(&String::from_utf8_lossy(&body[..body.len().min(200)])));
    ArmError::Status { status, code, message }
}

/// An azure_core error and its causes, once each, on one line.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    let line = parts.join(": ").replace(['\n', '\r'], " ");
    dangle_model::input::printable(&line).into_owned()
}
