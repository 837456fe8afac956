//! The change that takes values out of record sets before a decommission (`dangle checklist`): what
//! the engine hands the provider type that read each set ([`SetEdit`]), and what it writes back
//! ([`ChangeSet`]) — a Route53 change batch, the lines of a zone file, an Azure CLI edit. The engine
//! knows none of these forms; it lays out whatever a provider writes.

use serde::Serialize;

use crate::{Location, RecordType, Target};

/// A record set some of whose values go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEdit<'a> {
    pub source: &'a str,
    pub account: &'a str,
    pub zone: &'a str,
    pub name: &'a str,
    pub rtype: &'a RecordType,
    pub set_id: &'a str,
    pub location: Option<&'a Location>,
    /// The provider's own description of the set as its change API names it ([`crate::DnsRecord::spec`]),
    /// as of the set's latest sighting.
    pub spec: Option<&'a str>,
    /// Every value of the set (one per row), and those that go.
    pub values: Vec<&'a Target>,
    pub going: Vec<&'a Target>,
}

impl SetEdit<'_> {
    /// Whether every value goes (the set is deleted, not rewritten).
    pub fn whole(&self) -> bool {
        self.values.iter().all(|v| self.going.iter().any(|g| same_value(v, g)))
    }

    /// `NAME TYPE`, and `(SET)` when it has a set id.
    pub fn label(&self) -> String {
        match self.set_id {
            "" => format!("{} {}", self.name, self.rtype),
            id => format!("{} {} ({id})", self.name, self.rtype),
        }
    }

    /// Where it is, for a list of sets to change by hand: `LABEL in ZONE (SOURCE / ACCOUNT)`.
    pub fn by_hand(&self) -> String {
        format!("{} in {} ({} / {})", self.label(), self.zone, self.source, self.account)
    }
}

/// Two values of a set name the same thing: an alias and the name it aliases, a name with or without
/// its final dot, in any case.
pub fn same_value(a: &Target, b: &Target) -> bool {
    value_text(a) == value_text(b)
}

/// The host or address a value names, as a change API writes it: an alias's name, a name without its
/// final dot, lower case.
pub fn value_text(t: &Target) -> String {
    match t {
        Target::Alias { dns_name, .. } => dns_name.as_str().to_string(),
        other => other.to_string().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// How a change is made, which orders the sections of a checklist: batches for a change API first,
/// then lines of files, then edits of single record sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Form {
    Batch,
    Line,
    Edit,
}

/// The changes one provider type writes for the record sets it read.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSet {
    /// Its key under `changes` in `checklist --format json` (`route53`, `zone_files`, `azure`).
    pub key: &'static str,
    pub form: Form,
    /// The heading of its Markdown section (`Zone files`, `Azure DNS`); batches head their own.
    pub heading: &'static str,
    /// What to do once the changes are made, said after them (empty: nothing).
    pub then: &'static str,
    pub items: Vec<Change>,
    /// The sets (positions in what it was handed) it could not write a change for.
    pub by_hand: Vec<usize>,
}

impl ChangeSet {
    pub fn new(key: &'static str, form: Form, heading: &'static str) -> Self {
        Self { key, form, heading, then: "", items: Vec::new(), by_hand: Vec::new() }
    }
}

/// One change, as `checklist --format json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Change {
    Batch(Batch),
    Line(LineEdit),
    Edit(SetChange),
}

/// A batch for a provider's change API, to save as `file` and apply with `command`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    /// The service and what it calls a zone, for people: `Route53`, `hosted zone`.
    #[serde(skip)]
    pub service: &'static str,
    #[serde(skip)]
    pub zone_noun: &'static str,
    pub account: String,
    pub zone: String,
    /// The id the change API knows the zone by.
    pub hosted_zone_id: String,
    pub command: String,
    pub file: String,
    pub batch: serde_json::Value,
}

/// A line to delete from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineEdit {
    pub file: String,
    pub line: u64,
    pub record: String,
    pub edit: String,
}

/// An edit of one record set, with the command that makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetChange {
    pub record_set: String,
    pub edit: String,
    pub command: String,
}
