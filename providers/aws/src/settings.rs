//! `type = "aws"` in dangle.toml: this crate's settings and its factory for the engine's registry.

use std::time::Duration;

use dangle_model::registry::{self, Configured, Context, Factory, SettingsError};
use dangle_model::{BoxFuture, Provider, ProviderError};
use serde::Deserialize;

use crate::AwsSource;

/// The factory the engine registers under `aws`.
pub struct AwsFactory;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    regions: Option<Vec<String>>,
    profile: Option<String>,
    #[serde(default)]
    assume_roles: Vec<String>,
    endpoint_url: Option<String>,
    organization_role: Option<String>,
    external_id: Option<String>,
    timeout_secs: Option<u64>,
    concurrency: Option<usize>,
}

/// Validated settings of one AWS provider. `external_id` is a shared secret of the trust policy:
/// never printed (`Debug` says whether there is one).
struct AwsConfig {
    name: String,
    s: Settings,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("name", &self.name)
            .field("regions", &self.s.regions)
            .field("profile", &self.s.profile)
            .field("assume_roles", &self.s.assume_roles)
            .field("endpoint_url", &self.s.endpoint_url)
            .field("organization_role", &self.s.organization_role)
            .field("external_id", &self.s.external_id.as_ref().map(|_| "<set>"))
            .field("timeout_secs", &self.s.timeout_secs)
            .field("concurrency", &self.s.concurrency)
            .finish()
    }
}

impl Factory for AwsFactory {
    fn kind(&self) -> &'static str {
        "aws"
    }

    /// EventBridge and CloudTrail events.
    fn read_event(&self, event: &serde_json::Value) -> Option<Result<Vec<dangle_model::events::Seen>, String>> {
        crate::events::read(event)
    }

    fn event_shapes(&self) -> Option<&'static str> {
        Some(crate::events::SHAPES)
    }

    /// Route53 change batches.
    fn changes(&self, sets: &[dangle_model::change::SetEdit<'_>], what: &str) -> Option<dangle_model::change::ChangeSet> {
        Some(crate::change::changes(sets, what))
    }

    fn configure(&self, name: &str, settings: toml::Table, cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: Settings = registry::settings(settings)?;
        if let Some(t) = s.timeout_secs {
            if t == 0 || t > 600 {
                return Err(SettingsError::key("timeout_secs", format!("{t} is outside 1..=600")));
            }
        }
        if let Some(n) = s.concurrency {
            if n == 0 || n > 1024 {
                return Err(SettingsError::key("concurrency", format!("{n} is outside 1..=1024")));
            }
        }
        if s.regions.as_ref().is_some_and(Vec::is_empty) {
            return Err(SettingsError::key("regions", "empty list (leave the key out for every enabled region)"));
        }
        for role in &s.assume_roles {
            if !role.starts_with("arn:") || !role.contains(":role/") {
                return Err(SettingsError::key(
                    "assume_roles",
                    format!("`{}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", dangle_model::excerpt(role)),
                ));
            }
        }
        cx.endpoint_url("endpoint_url", s.endpoint_url.as_deref())?;
        Ok(Box::new(AwsConfig { name: name.to_string(), s }))
    }
}

impl Configured for AwsConfig {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        Box::pin(async move {
            let s = &self.s;
            let mut b = AwsSource::builder(&self.name).with_assume_roles(s.assume_roles.iter().cloned());
            if let Some(r) = &s.regions {
                b = b.with_regions(r.iter().cloned());
            }
            if let Some(p) = &s.profile {
                b = b.with_profile(p);
            }
            if let Some(u) = &s.endpoint_url {
                b = b.with_endpoint_url(u);
            }
            if let Some(r) = &s.organization_role {
                b = b.with_organization_role(r);
            }
            if let Some(x) = &s.external_id {
                b = b.with_external_id(x);
            }
            if let Some(t) = s.timeout_secs {
                b = b.with_timeout(Duration::from_secs(t));
            }
            if let Some(n) = s.concurrency {
                b = b.with_concurrency(n);
            }
            Ok(Box::new(b.build().await?) as Box<dyn Provider>)
        })
    }
}
