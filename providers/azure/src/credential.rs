//! Which Azure identity dangle reads with: the provider's `credential` key names one, or a chain tries,
//! in order, the environment (a service principal's secret), workload identity (an AKS federated token),
//! managed identity (App Service's `IDENTITY_ENDPOINT` / `IDENTITY_HEADER`, else the VM's IMDS) and the
//! Azure CLI (`az account get-access-token`). The first that yields a token is kept for the run; when
//! none does, the error names each one tried and why it failed.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::Transport;
use tokio::sync::OnceCell;

/// One kind of credential (config `credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
}

impl Kind {
    pub const CHAIN: [Kind; 4] = [Kind::Environment, Kind::WorkloadIdentity, Kind::ManagedIdentity, Kind::AzureCli];

    /// The config spelling: `environment`, `workload_identity`, `managed_identity`, `azure_cli`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "environment" => Kind::Environment,
            "workload_identity" => Kind::WorkloadIdentity,
            "managed_identity" => Kind::ManagedIdentity,
            "azure_cli" => Kind::AzureCli,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Environment => "environment",
            Kind::WorkloadIdentity => "workload identity",
            Kind::ManagedIdentity => "managed identity",
            Kind::AzureCli => "Azure CLI",
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Entra ID's token service: `AZURE_AUTHORITY_HOST` (a sovereign cloud), else the public one.
fn authority() -> String {
    var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| "https://login.microsoftonline.com".to_string())
}

/// The credential of one kind, or why it cannot be had here (without asking any server). Token
/// requests go through `transport` (the system's roots and the provider's `ca_file`: a
/// TLS-inspecting proxy sees Entra ID as it sees ARM).
fn build(kind: Kind, transport: &Option<Transport>) -> Result<Arc<dyn TokenCredential>, String> {
    let e = |e: azure_core::Error| crate::arm::chain(&e);
    let client_options = || azure_core::http::ClientOptions { transport: transport.clone(), ..Default::default() };
    match kind {
        Kind::Environment => {
            let (tenant, client) = match (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) {
                (Some(t), Some(c)) => (t, c),
                _ => return Err("AZURE_TENANT_ID and AZURE_CLIENT_ID are not both set".into()),
            };
            if let Some(secret) = var("AZURE_CLIENT_SECRET") {
                let options = azure_identity::ClientSecretCredentialOptions { client_options: client_options() };
                return Ok(azure_identity::ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(options)).map_err(e)?);
            }
            if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
                let pem = dangle_model::input::read_file(std::path::Path::new(&path), 1 << 20).map_err(|err| format!("AZURE_CLIENT_CERTIFICATE_PATH {path}: {err}"))?;
                let assertion = crate::certificate::CertAssertion::from_pem(&pem, &path, &tenant, &client, &authority())?;
                let options = azure_identity::ClientAssertionCredentialOptions { client_options: client_options() };
                return Ok(azure_identity::ClientAssertionCredential::new(tenant, client, assertion, Some(options)).map_err(e)?);
            }
            Err("neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set".into())
        }
        Kind::WorkloadIdentity => {
            if var("AZURE_FEDERATED_TOKEN_FILE").is_none() {
                return Err("AZURE_FEDERATED_TOKEN_FILE is not set".into());
            }
            let options = azure_identity::WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions { client_options: client_options() },
                ..Default::default()
            };
            Ok(azure_identity::WorkloadIdentityCredential::new(Some(options)).map_err(e)?)
        }
        Kind::ManagedIdentity => {
            // The token endpoint is on this machine (IMDS, or App Service's): two quick retries, not
            // the minute a remote service gets.
            let retry = azure_core::http::RetryOptions::exponential(azure_core::http::ExponentialRetryOptions {
                initial_delay: azure_core::time::Duration::milliseconds(200),
                max_retries: 2,
                max_total_elapsed: azure_core::time::Duration::seconds(5),
                max_delay: azure_core::time::Duration::seconds(1),
            });
            let options = azure_identity::ManagedIdentityCredentialOptions {
                client_options: azure_core::http::ClientOptions { retry, ..Default::default() },
                ..Default::default()
            };
            Ok(azure_identity::ManagedIdentityCredential::new(Some(options)).map_err(e)?)
        }
        Kind::AzureCli => Ok(azure_identity::AzureCliCredential::new(None).map_err(e)?),
    }
}

/// How long one credential may take to answer (the CLI may be slow): the chain moves on after this.
const PER_CREDENTIAL: Duration = Duration::from_secs(15);

/// The VM metadata endpoint (IMDS) in the chain: on a machine outside Azure nothing answers there, so
/// the chain gives it a short look before the CLI (named alone, it gets [`PER_CREDENTIAL`]).
const IMDS_IN_CHAIN: Duration = Duration::from_secs(3);

fn bound(kind: Kind, alone: bool) -> Duration {
    let imds = kind == Kind::ManagedIdentity && var("IDENTITY_ENDPOINT").is_none() && var("MSI_ENDPOINT").is_none();
    if imds && !alone {
        IMDS_IN_CHAIN
    } else {
        PER_CREDENTIAL
    }
}

/// The credential a provider reads with: one kind, or the chain.
#[derive(Debug)]
pub struct Chosen {
    kinds: Vec<Kind>,
    /// How token requests reach Entra ID (`None`: azure_core's default client).
    transport: Option<Transport>,
    /// The credential that answered first, kept for the rest of the run.
    found: OnceCell<(Kind, Arc<dyn TokenCredential>)>,
}

impl Chosen {
    pub fn new(only: Option<Kind>) -> Self {
        Self { kinds: only.map_or_else(|| Kind::CHAIN.to_vec(), |k| vec![k]), transport: None, found: OnceCell::new() }
    }

    /// Token requests trust the system's roots and `ca_pem` (the provider's `ca_file`).
    pub fn with_ca(self, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        self.with_tls(crate::arm::tls_config(ca_pem)?)
    }

    /// Token requests trust what `tls` trusts (the configuration the provider's ARM requests use).
    pub fn with_tls(mut self, tls: rustls::ClientConfig) -> Result<Self, String> {
        self.transport = Some(crate::arm::transport(tls, std::time::Duration::from_secs(30))?);
        Ok(self)
    }

    /// The kind that answered, once one has.
    pub fn kind(&self) -> Option<Kind> {
        self.found.get().map(|(k, _)| *k)
    }

    async fn first(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let mut tried = Vec::new();
        for &kind in &self.kinds {
            let cred = match build(kind, &self.transport) {
                Ok(c) => c,
                Err(why) => {
                    tried.push(format!("{} ({why})", kind.name()));
                    continue;
                }
            };
            let limit = bound(kind, self.kinds.len() == 1);
            match tokio::time::timeout(limit, cred.get_token(scopes, None)).await {
                Ok(Ok(token)) => {
                    let _ = self.found.set((kind, cred));
                    tracing::info!(credential = kind.name(), "Azure credential found");
                    return Ok(token);
                }
                Ok(Err(e)) => tried.push(format!("{} ({})", kind.name(), crate::arm::chain(&e))),
                Err(_) => tried.push(format!("{} (no answer within {} s)", kind.name(), limit.as_secs())),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("no Azure credential: tried {}", tried.join("; ")),
        ))
    }
}

#[async_trait::async_trait]
impl TokenCredential for Chosen {
    async fn get_token(&self, scopes: &[&str], options: Option<TokenRequestOptions<'_>>) -> azure_core::Result<AccessToken> {
        match self.found.get() {
            Some((_, cred)) => cred.get_token(scopes, options).await,
            None => self.first(scopes).await,
        }
    }
}
