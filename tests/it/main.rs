//! Every integration test of the `dangle` crate, in one test binary: each of them links the engine and
//! the AWS SDK, and one link instead of five saves minutes and gigabytes on a cold build.
//!
//! - `architecture`: dependencies run one way (reads the sources)
//! - `cli`: the binary on the demo's files and on bad input (inside `unshare -n` where allowed)
//! - `aws`: the engine against moto, and the fault matrix
//! - `aws_binary`: the binary against moto, inside a fresh network namespace
//! - `azure_binary`: the binary against a local ARM server, inside a fresh network namespace
//! - `probe_binary`: `scan` with the prober and `dangle probe` against real rustls servers
//! - `ranges_refresh`: `scripts/refresh-ranges --fetch` against a local HTTP server
//! - `toy`: a fifth provider in this one file, registered with one line: it scans, reacts and writes changes

mod architecture;
mod aws;
mod alerts;
mod aws_binary;
mod azure_binary;
mod baselines;
mod cli;
mod common;
mod examples;
mod formats;
mod probe_binary;
mod postgres;
mod shards;
mod signals;
mod toy;
mod ranges_refresh;
