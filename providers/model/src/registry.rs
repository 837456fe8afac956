//! How a provider crate offers itself to the engine: a [`Factory`] under its config `type`, which reads
//! the provider's own settings (its own `Deserialize` type, unknown keys refused by name) into a
//! [`Configured`] provider that the scan builds and enumerates. The engine lists the factories in one
//! registry, one line each; it never names a provider's keys.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::change::{ChangeSet, SetEdit};
use crate::events::Seen;
use crate::{BoxFuture, Provider, ProviderError};

/// A provider type, as the registry lists it.
pub trait Factory: Send + Sync {
    /// The config `type` (`aws`, `zonefile`).
    fn kind(&self) -> &'static str;
    /// Reads one `[[providers]]` table of this type: every key but `type` and `name`.
    fn configure(&self, name: &str, settings: toml::Table, cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError>;
    /// Writes the changes that take values out of record sets that providers of this type read
    /// (`dangle checklist`; `what` names the targets). `None`: this type writes no changes, and its sets
    /// are listed to change by hand.
    fn changes(&self, sets: &[SetEdit<'_>], what: &str) -> Option<ChangeSet> {
        let _ = (sets, what);
        None
    }
    /// Reads a change event of this type's cloud (`dangle react`): `None` when `event` has none of the
    /// shapes it reads ([`Factory::event_shapes`]); else every change it holds, in order, or why it is
    /// not a readable event of that shape.
    fn read_event(&self, event: &serde_json::Value) -> Option<Result<Vec<Seen>, String>> {
        let _ = event;
        None
    }
    /// The events it reads, for people (`an Azure Activity Log event (`operationName`, `records`)`).
    fn event_shapes(&self) -> Option<&'static str> {
        None
    }
    /// The cloud its providers read, when it is not a built-in one ([`crate::Cloud::ALL`]): how a
    /// command outside a scan (a checklist, a stored shard, a config's `[[ranges]]`) knows its table.
    fn cloud(&self) -> Option<crate::Cloud> {
        None
    }
}

/// A validated provider, not yet started: building it may read credentials or files.
pub trait Configured: fmt::Debug + Send + Sync {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>>;
}

/// What a factory may know of the config it reads and tell back.
#[derive(Debug, Default)]
pub struct Context {
    /// The config file's folder: relative paths are relative to it.
    pub dir: PathBuf,
    /// Warnings for the user (the engine logs them with the config's path).
    pub warnings: Vec<String>,
}

impl Context {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), warnings: Vec::new() }
    }

    /// A path from the config: refused when empty, relative to the config's folder.
    pub fn path(&self, key: &str, p: &Path) -> Result<PathBuf, SettingsError> {
        if p.as_os_str().is_empty() {
            return Err(SettingsError::key(key, "empty; give the path of a file"));
        }
        Ok(resolve(&self.dir, p))
    }

    /// An http(s) endpoint URL; plain http to another machine is allowed with a warning.
    pub fn endpoint_url(&mut self, key: &str, url: Option<&str>) -> Result<(), SettingsError> {
        let Some(u) = url else { return Ok(()) };
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(SettingsError::key(key, format!("`{}` is not an http(s) URL", crate::excerpt(u))));
        }
        if cleartext_to_remote(u) {
            self.warnings.push(format!(
                "{key} is plain http to a host that is not this machine: signed requests and session tokens would travel in cleartext; use https"
            ));
        }
        Ok(())
    }
}

/// `path` as written in a config file, against the config's folder.
pub fn resolve(config_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        config_dir.join(path)
    }
}

/// A provider's settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A key whose value is wrong.
    #[error("{key}: {message}")]
    Key { key: String, message: String },
    /// The table as a whole (a missing or unknown key); `key` names the key where there is one.
    #[error("{message}")]
    Table { key: Option<String>, message: String },
}

impl SettingsError {
    pub fn key(key: &str, message: impl Into<String>) -> Self {
        Self::Key { key: key.to_string(), message: message.into() }
    }
    /// The key this error is about, to find its line.
    pub fn key_name(&self) -> Option<&str> {
        match self {
            Self::Key { key, .. } => Some(key.split(['.', '[']).next().unwrap_or(key)),
            Self::Table { key, .. } => key.as_deref(),
        }
    }
}

/// Reads a provider's settings type from its table. Give the type `#[serde(deny_unknown_fields)]`:
/// an unknown key comes back naming itself.
pub fn settings<T: DeserializeOwned>(table: toml::Table) -> Result<T, SettingsError> {
    T::deserialize(toml::Value::Table(table)).map_err(|e| {
        let message = e.message().trim_end().to_string();
        let key = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()).map(str::to_string);
        SettingsError::Table { key, message }
    })
}

/// Plain http is for an emulator on this machine: to any other host, signed requests and session
/// tokens would travel in cleartext.
pub fn cleartext_to_remote(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') { v6.split(']').next().unwrap_or("") } else { host.split(':').next().unwrap_or("") };
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        path: String,
    }

    #[test]
    fn unknown_keys_name_themselves() {
        let t: toml::Table = toml::from_str("path = \"x\"\nregoins = 1\n").unwrap();
        let e = settings::<S>(t).unwrap_err();
        assert_eq!(e.key_name(), Some("regoins"), "{e}");
        assert!(e.to_string().starts_with("unknown field `regoins`"), "{e}");
    }

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for (url, remote) in [
            ("http://127.0.0.1:5000", false),
            ("http://[::1]:5000/", false),
            ("http://localhost:5000", false),
            ("http://user@127.0.0.2", false),
            ("https://10.0.0.5", false),
            ("http://10.0.0.5:5000", true),
            ("http://moto.internal", true),
            ("http://[2001:db8::1]:80", true),
        ] {
            assert_eq!(cleartext_to_remote(url), remote, "{url}");
        }
        let mut cx = Context::new(".");
        cx.endpoint_url("endpoint_url", Some("http://10.0.0.5")).unwrap();
        assert_eq!(cx.warnings.len(), 1);
        assert!(cx.endpoint_url("endpoint_url", Some("ftp://x")).is_err());
    }
}
