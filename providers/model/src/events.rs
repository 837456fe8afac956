//! Change events (`dangle react`): what a provider type reads of its cloud's own events (an
//! EventBridge or CloudTrail record, an Activity Log event) — the part of its estate to read again.

use crate::Scope;

/// One change to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub scope: Scope,
    /// For people: `ec2 ReleaseAddress in 111111111111 us-east-1 (eipalloc-…)`.
    pub what: String,
}

/// What an event says, or why it says nothing to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Change(Change),
    /// Read, and nothing to do: a failed call, an event this build does not react to.
    Ignored(String),
}

/// A JSON value's text field.
pub fn text<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}
