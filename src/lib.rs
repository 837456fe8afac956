//! dangle finds dangling DNS records: names in your zones that point at IPs, load balancers, buckets,
//! CDN and app endpoints, or delegated name servers that you no longer own.
//!
//! The pipeline: providers enumerate records and assets ([`dangle_model`]), [`reconcile`] judges every
//! record without I/O, [`store`] keeps every run in SQLite, [`report`] writes CSV / JSON / Markdown.
//! The binary's subcommands live in [`commands`].

pub mod providers;
pub mod reconcile;
pub mod config;
pub mod store;
pub mod time;
pub mod tls;
pub mod http;
pub mod alert;
pub mod progress;
pub mod cli;
pub mod commands;
pub mod report;
pub mod pipeline;
pub mod signals;
pub mod rows;
pub mod probe;
pub mod errors;
pub mod fuzz;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
