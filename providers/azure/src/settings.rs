//! `type = "azure"` in dangle.toml: this crate's settings and its factory for the engine's registry.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dangle_model::registry::{self, Configured, Context, Factory, SettingsError};
use dangle_model::{BoxFuture, Provider, ProviderError};
use serde::Deserialize;

use crate::credential::{Chosen, Kind};
use crate::AzureSource;

/// Azure's public cloud; a sovereign cloud or a local server is `endpoint_url`.
pub const PUBLIC_ARM: &str = "https://management.azure.com";

/// The factory the engine registers under `azure`.
pub struct AzureFactory;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    subscriptions: Option<Vec<String>>,
    endpoint_url: Option<String>,
    ca_file: Option<PathBuf>,
    credential: Option<String>,
    concurrency: Option<usize>,
    timeout_secs: Option<u64>,
}

/// Validated settings of one Azure provider.
#[derive(Debug)]
struct AzureConfig {
    name: String,
    endpoint: String,
    ca_file: Option<PathBuf>,
    credential: Option<Kind>,
    s: Settings,
}

/// A subscription id as ARM writes it (a GUID): anything else would be a path inside the URL.
fn is_subscription_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl Factory for AzureFactory {
    fn kind(&self) -> &'static str {
        "azure"
    }

    /// Activity Log events.
    fn read_event(&self, event: &serde_json::Value) -> Option<Result<Vec<dangle_model::events::Seen>, String>> {
        crate::events::read(event)
    }

    fn event_shapes(&self) -> Option<&'static str> {
        Some(crate::events::SHAPES)
    }

    /// Azure CLI edits of the record sets.
    fn changes(&self, sets: &[dangle_model::change::SetEdit<'_>], _what: &str) -> Option<dangle_model::change::ChangeSet> {
        Some(crate::change::changes(sets))
    }

    fn configure(&self, name: &str, settings: toml::Table, cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: Settings = registry::settings(settings)?;
        if let Some(subs) = &s.subscriptions {
            if subs.is_empty() {
                return Err(SettingsError::key("subscriptions", "empty list (leave the key out for every subscription the identity can read)"));
            }
            if let Some(bad) = subs.iter().find(|s| !is_subscription_id(s)) {
                return Err(SettingsError::key("subscriptions", format!("`{}` is not a subscription id (a GUID)", dangle_model::excerpt(bad))));
            }
        }
        let endpoint = s.endpoint_url.clone().unwrap_or_else(|| PUBLIC_ARM.to_string());
        if !endpoint.starts_with("https://") {
            return Err(SettingsError::key(
                "endpoint_url",
                format!("`{}` is not https: Azure bearer tokens travel over TLS only (for a local server, serve https and name its CA in `ca_file`)", dangle_model::excerpt(&endpoint)),
            ));
        }
        if let Some(n) = s.concurrency {
            if n == 0 || n > 64 {
                return Err(SettingsError::key("concurrency", format!("{n} is outside 1..=64")));
            }
        }
        if let Some(t) = s.timeout_secs {
            if t == 0 || t > 600 {
                return Err(SettingsError::key("timeout_secs", format!("{t} is outside 1..=600")));
            }
        }
        let ca_file = s.ca_file.as_deref().map(|p| cx.path("ca_file", p)).transpose()?;
        let credential = match s.credential.as_deref() {
            None => None,
            Some(c) => Some(Kind::parse(c).ok_or_else(|| {
                SettingsError::key(
                    "credential",
                    format!("`{}` is not a credential: one of environment, workload_identity, managed_identity, azure_cli", dangle_model::excerpt(c)),
                )
            })?),
        };
        Ok(Box::new(AzureConfig { name: name.to_string(), endpoint, ca_file, credential, s }))
    }
}

impl Configured for AzureConfig {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        Box::pin(async move {
            let ca = match &self.ca_file {
                Some(p) => Some(dangle_model::input::read_file(p, 1 << 20).map_err(|e| ProviderError::Io {
                    provider: self.name.clone(),
                    path: p.clone(),
                    source: e,
                })?),
                None => None,
            };
            let timeout = Duration::from_secs(self.s.timeout_secs.unwrap_or(60));
            let config = |message: String| ProviderError::Config { provider: self.name.clone(), message };
            // One trust configuration (the system's roots are read once) for ARM and for tokens.
            let tls = crate::tls_config(ca.as_deref()).map_err(|e| config(format!("ca_file {e}")))?;
            let credential = Chosen::new(self.credential).with_tls(tls.clone()).map_err(config)?;
            let mut src = AzureSource::with_tls(&self.name, &self.endpoint, Arc::new(credential), tls, timeout)?;
            if let Some(subs) = &self.s.subscriptions {
                src = src.with_subscriptions(subs.clone());
            }
            if let Some(n) = self.s.concurrency {
                src = src.with_concurrency(n);
            }
            Ok(Box::new(src) as Box<dyn Provider>)
        })
    }
}
