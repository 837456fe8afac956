//! The provider registry: every provider type this build knows, one line each. A provider crate
//! exports a [`Factory`] under its config `type`; a type whose crate is behind a cargo feature that is
//! off stays listed, so a config naming it gets a clear error instead of "unknown type".
//!
//! Adding a provider: its crate (one [`dangle_model::Provider`] and its factory), one line below, and
//! its cloud's table (see docs/providers.md, "Adding a provider").

use dangle_model::registry::Factory;

/// A provider type as this build has it.
pub enum Entry {
    Built(&'static dyn Factory),
    /// Known, but not in this build: which cargo feature brings it.
    Missing { kind: &'static str, feature: &'static str },
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Built(f) => f.kind(),
            Self::Missing { kind, .. } => kind,
        }
    }
}

/// `provider!("feature", "type", factory)`: the factory when the feature is on, a marker otherwise.
macro_rules! provider {
    ($feature:literal, $kind:literal, $factory:expr) => {{
        #[cfg(feature = $feature)]
        let e = Entry::Built(&$factory);
        #[cfg(not(feature = $feature))]
        let e = Entry::Missing { kind: $kind, feature: $feature };
        e
    }};
}

/// Every provider type, in the order `dangle` lists them.
pub fn registry() -> [Entry; 4] {
    [
        provider!("aws", "aws", dangle_aws::AwsFactory),
        provider!("azure", "azure", dangle_azure::AzureFactory),
        Entry::Built(&dangle_files::ZoneFileFactory),
        Entry::Built(&dangle_files::StaticListFactory),
    ]
}

/// The clouds a registry's provider types know: the built-in ones and each type's own.
pub fn clouds(registry: &[Entry]) -> dangle_model::Clouds {
    dangle_model::Clouds::builtin().with(registry.iter().filter_map(|e| if let Entry::Built(f) = e { f.cloud() } else { None }))
}

/// This build's registry and one more type: how a test (the conformance suite's toy provider) or an
/// embedding program registers a provider of its own, in one line.
pub fn with(extra: Entry) -> Vec<Entry> {
    let mut r: Vec<Entry> = registry().into();
    r.push(extra);
    r
}
