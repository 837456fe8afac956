//! `dangle probe HOST[:PORT]`: one target, every address it resolves to, verdict and evidence. The
//! seed's `openssl s_client -showcerts` check, with a verdict that only our anchors or pins can make
//! `ours`, and a client certificate that never reaches anyone else.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;

use super::Outcome;
use crate::cli::ProbeArgs;
use crate::config::{parse_nameserver, Config, ProbeConfig};
use crate::probe::{load, Evidence, Job, Verdict};

fn settings(args: &ProbeArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<ProbeConfig> {
    let mut p = match &args.config {
        Some(path) => Config::load_with(path, registry)?.probe,
        None => ProbeConfig::default(),
    };
    p.trust_anchors.extend(args.trust_anchors.iter().cloned());
    p.spki_pins.extend(args.spki_pins.iter().cloned());
    if args.client_cert.is_some() {
        p.client_cert = args.client_cert.clone();
        p.client_key = args.client_key.clone();
    }
    for c in &args.connect_to {
        let (from, to) = c.split_once('=').with_context(|| format!("--connect-to {c}: write FROM=TO"))?;
        p.connect_to.insert(from.to_string(), to.to_string());
    }
    if !args.nameservers.is_empty() {
        p.nameservers = Some(args.nameservers.iter().map(|n| parse_nameserver(n).map_err(|e| anyhow::anyhow!("--nameserver {e}"))).collect::<Result<_, _>>()?);
    }
    if let Some(ms) = args.connect_timeout_ms {
        p.connect_timeout_ms = ms;
    }
    if let Some(ms) = args.handshake_timeout_ms {
        p.handshake_timeout_ms = ms;
    }
    // The same check as `[probe]` in a config: a value out of range is refused, never clamped.
    p.check().map_err(|(key, m)| match key {
        "connect_timeout_ms" | "handshake_timeout_ms" => anyhow::anyhow!("--{}: {m}", key.replace('_', "-")),
        "client_cert" => anyhow::anyhow!("--client-cert and --client-key go together"),
        _ => anyhow::anyhow!("[probe] {key}: {m}"),
    })?;
    // One target: no reason to limit where it may be dialed beyond what the user typed.
    p.allow_dial.clear();
    Ok(p)
}

pub fn run(args: &ProbeArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let (host, port) = crate::probe::parse_target(&args.target).map_err(anyhow::Error::msg)?;
    let cfg = settings(args, registry)?;
    let prober = Arc::new(load::prober(&cfg)?);
    if prober.settings().trust.is_empty() {
        tracing::warn!("no --trust-anchor or --spki-pin: no server can prove it is ours");
    }
    let sni = crate::probe::default_sni(&host, args.sni.as_deref());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
    let job = Job { target: host, sni, port };
    let evidence = rt.block_on(prober.run_job(&job));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &evidence)?;
        writeln!(out)?;
    } else {
        for (i, ev) in evidence.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            print_one(&mut out, ev)?;
        }
    }
    out.flush()?;
    Ok(Outcome { findings: evidence.iter().filter(|e| e.verdict == Verdict::Foreign).count(), gaps: 0 })
}

fn print_one(out: &mut impl Write, ev: &Evidence) -> std::io::Result<()> {
    let sni = if ev.sni.is_empty() { "no SNI".to_string() } else { format!("SNI {}", ev.sni) };
    writeln!(out, "{:<11}{} ({sni})", "target", ev.target)?;
    writeln!(out, "{:<11}{}", "address", ev.place())?;
    writeln!(out, "{:<11}{} — {}", "verdict", ev.verdict, ev.detail)?;
    if let Some(v) = &ev.tls_version {
        let parts: Vec<&str> = [Some(v.as_str()), ev.cipher_suite.as_deref(), ev.kx_group.as_deref()].into_iter().flatten().collect();
        writeln!(out, "{:<11}{}; ALPN {}", "tls", parts.join(", "), ev.alpn.as_deref().unwrap_or("none"))?;
    }
    for (i, c) in ev.chain.iter().enumerate() {
        let label = if i == 0 { "chain" } else { "" };
        writeln!(out, "{label:<11}[{i}] {}", c.subject)?;
        writeln!(out, "{:<15}issuer  {}", "", c.issuer)?;
        if !c.sans.is_empty() {
            writeln!(out, "{:<15}names   {}", "", c.sans.join(", "))?;
        }
        writeln!(out, "{:<15}valid   {} to {}", "", c.not_before, c.not_after)?;
        writeln!(out, "{:<15}serial  {}", "", c.serial)?;
        writeln!(out, "{:<15}spki    sha256 {}", "", c.spki_sha256)?;
        writeln!(out, "{:<15}cert    sha256 {}", "", c.sha256)?;
    }
    if let Some(names) = &ev.requested_ca_names {
        let list = if names.is_empty() { "any CA".to_string() } else { names.join("; ") };
        let m = if ev.client_cert_mandatory { "mandatory" } else { "optional" };
        writeln!(out, "{:<11}client certificate {m}, from {list}", "mtls")?;
    }
    if let Some(a) = &ev.authentication {
        writeln!(out, "{:<11}{}", "auth", a.detail)?;
    }
    writeln!(out, "{:<11}connect {} ms, handshake {} ms, {} attempt(s)", "timings", ev.connect_ms, ev.handshake_ms, ev.attempts)?;
    if let Some(e) = &ev.error {
        writeln!(out, "{:<11}{e}", "error")?;
    }
    Ok(())
}
