//! Dependencies run one way (design.md): the reconciler sees only the model; the prober knows targets
//! and its own options, never config, store or the commands; the store takes the rows a scan builds and
//! knows no prober type; reports read typed rows; provider crates know only the model; the engine
//! names a provider crate in its registry only. This reads the paths in the sources (every `crate::…`,
//! `use crate::{…}` group and crate name) and fails on a wrong direction, naming the file and line.
//! The provider crates are whatever `providers/*` holds: a new one is checked without an edit here.

use std::path::{Path, PathBuf};

/// (area under src/, modules of this crate it must not reach).
const RULES: &[(&str, &[&str])] = &[
    ("reconcile", &["config", "probe", "store", "report", "commands", "cli", "providers", "conformance", "errors", "fuzz", "signals", "pipeline"]),
    ("probe", &["config", "store", "report", "commands", "cli", "providers", "conformance", "reconcile"]),
    ("store", &["probe", "config", "report", "commands", "cli", "providers", "conformance", "signals", "pipeline"]),
    ("signals", &["commands", "cli", "pipeline", "report", "providers", "conformance"]),
    ("pipeline", &["commands", "cli", "providers", "conformance"]),
    ("report", &["probe", "config", "commands", "cli", "providers", "conformance", "signals", "pipeline"]),
    ("time.rs", &["config", "probe", "store", "report", "commands", "reconcile", "providers"]),
    ("tls.rs", &["config", "probe", "store", "report", "commands", "reconcile", "providers"]),
    ("http.rs", &["config", "probe", "store", "report", "commands", "reconcile", "providers"]),
];

/// Crates a part of the engine must not name besides the provider crates (which no part names).
const ENGINE_CRATE_RULES: &[(&str, &[&str])] = &[
    ("src/reconcile", &["aws_sdk_", "rusqlite", "rustls", "tokio"]),
    ("src/probe", &["rusqlite"]),
    ("src/store", &["rustls", "tokio_rustls", "x509_parser"]),
];

/// Where the engine may name provider crates: its registry, and the replay of their fuzz corpora.
const REGISTRY: &[&str] = &["src/providers.rs", "src/fuzz.rs"];

/// Each provider crate under `providers/` but the model: (folder, the name code uses: `dangle_aws`).
fn provider_crates(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join("providers")).unwrap().flatten() {
        let manifest = std::fs::read_to_string(e.path().join("Cargo.toml")).unwrap_or_default();
        let name = manifest.lines().find_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"').map(str::to_string));
        if let Some(name) = name.filter(|n| n != "dangle-model") {
            out.push((e.path(), name.replace('-', "_")));
        }
    }
    out.sort();
    assert!(out.len() >= 3, "providers/ holds {} provider crates: the reader found none of files, aws, azure", out.len());
    out
}

/// Crates a part must not name: the engine's judgement, prober and store know no provider crate (and
/// the engine names them in its registry only); the model knows no engine and no provider; a provider
/// crate knows no engine and no other provider.
fn crate_rules(root: &Path) -> Vec<(PathBuf, Vec<String>, &'static [&'static str])> {
    let providers = provider_crates(root);
    let idents: Vec<String> = providers.iter().map(|(_, n)| n.clone()).collect();
    let mut rules: Vec<(PathBuf, Vec<String>, &'static [&'static str])> = Vec::new();
    for (dir, more) in ENGINE_CRATE_RULES {
        let names = idents.iter().cloned().chain(more.iter().map(|m| m.to_string())).collect();
        rules.push((root.join(dir), names, &[]));
    }
    rules.push((root.join("src"), idents.clone(), REGISTRY));
    let engine = |others: Vec<String>| std::iter::once("dangle::".to_string()).chain(others).collect::<Vec<_>>();
    rules.push((root.join("providers/model/src"), engine(idents.clone()), &[]));
    for (dir, me) in &providers {
        rules.push((dir.join("src"), engine(idents.iter().filter(|n| *n != me).cloned().collect()), &[]));
    }
    rules
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The modules of this crate a source text reaches, with their lines: `crate::x`, and each item of a
/// `use crate::{x, y::z}` group (which may span lines).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let code: String = text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n");
    let line_at = |i: usize| code[..i].bytes().filter(|b| *b == b'\n').count() + 1;
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + "crate::".len();
        // `dangle_model::crate::` does not occur; `$crate::` (macros) is the macro's own crate.
        if start > 0 && code.as_bytes()[start - 1].is_ascii_alphanumeric() || code[..start].ends_with('$') {
            continue;
        }
        let rest = &code[at..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((line_at(start), first_segment(&item)));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            if !item.trim().is_empty() {
                out.push((line_at(start), first_segment(&item)));
            }
        } else {
            out.push((line_at(start), first_segment(rest)));
        }
    }
    out
}

fn first_segment(s: &str) -> String {
    s.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

fn violations(root: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for (area, forbidden) in RULES {
        let path = root.join("src").join(area);
        let mut files = Vec::new();
        if path.is_file() {
            files.push(path);
        } else {
            rust_files(&path, &mut files);
        }
        assert!(!files.is_empty(), "src/{area} holds no source: the rule would check nothing");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (line, module) in crate_paths(&text) {
                if forbidden.contains(&module.as_str()) {
                    v.push(format!("{}:{line}: {area} reaches crate::{module}", f.strip_prefix(root).unwrap().display()));
                }
            }
            if text.contains("super::super::") {
                v.push(format!("{}: super::super:: climbs out of its area; name the path from crate::", f.strip_prefix(root).unwrap().display()));
            }
        }
    }
    for (dir, names, allowed) in crate_rules(root) {
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let shown = dir.strip_prefix(root).unwrap().display().to_string();
        assert!(!files.is_empty(), "{shown} holds no source");
        // A module's tests may build their inputs with anything (the reconciler's with AWS's description).
        for f in files.into_iter().filter(|f| !f.ends_with("tests.rs")) {
            let rel = f.strip_prefix(root).unwrap().display().to_string();
            if allowed.contains(&rel.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, l) in non_test(&text).lines().enumerate() {
                if l.trim_start().starts_with("//") {
                    continue;
                }
                for name in &names {
                    let hit = l.match_indices(name.as_str()).any(|(i, _)| i == 0 || !l.as_bytes()[i - 1].is_ascii_alphanumeric() && l.as_bytes()[i - 1] != b'_');
                    if hit {
                        v.push(format!("{rel}:{}: {shown} names `{name}`", n + 1));
                    }
                }
            }
        }
    }
    v
}

#[test]
fn dependencies_run_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let v = violations(root);
    assert!(v.is_empty(), "wrong-way dependencies:\n  {}", v.join("\n  "));
}

#[test]
fn the_reader_sees_every_form_of_path() {
    let text = "use crate::store::Store;\n// use crate::probe::x;\nuse crate::{\n    reconcile::Status,\n    config::{Config, X},\n};\nfn f() { crate::probe::run(); $crate::x(); }\n";
    let got = crate_paths(text);
    assert_eq!(
        got,
        vec![(1, "store".to_string()), (3, "reconcile".to_string()), (3, "config".to_string()), (7, "probe".to_string())],
        "a commented path is skipped, a group yields each item, an inline path counts"
    );
}

/// Where `Debug` formatting may appear outside tests, and why it never reaches a person as a message.
const DEBUG_ALLOWED: &[(&str, &str)] = &[
    // Violations of the shape suite name the offending item of our own model for a provider's author.
    ("providers/model/src/conformance.rs", "{g:?}"),
    ("providers/model/src/conformance.rs", "{n:?}"),
    ("providers/model/src/conformance.rs", "{c:?}"),
    // A fuzz target's assertion shows the offending text escaped, for whoever triages the crash.
    ("src/fuzz.rs", "{m:?}"),
];

/// The source without its `#[cfg(test)] mod tests { … }` tail (test modules sit at the end of a file).
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests").map_or(text, |i| &text[..i])
}

/// `Debug` formatting in format strings (`{:?}`, `{x:#?}`) and tracing fields (`field = ?value`).
fn debug_uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, l) in non_test(text).lines().enumerate() {
        let t = l.trim_start();
        if t.starts_with("//") || t.starts_with("#[derive") {
            continue;
        }
        for pat in [":?}", ":#?}"] {
            for (i, _) in l.match_indices(pat) {
                let open = l[..i].rfind('{').unwrap_or(i);
                out.push((n + 1, l[open..i + pat.len()].to_string()));
            }
        }
        if (t.contains("tracing::") || t.contains("warn!(") || t.contains("info!(") || t.contains("error!(") || t.contains("debug!(")) && t.contains("= ?") {
            out.push((n + 1, "= ?".to_string()));
        }
    }
    out
}

#[test]
fn no_error_or_log_shows_a_debug_form() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("providers/model/src"), &mut files);
    for (dir, _) in provider_crates(root) {
        rust_files(&dir.join("src"), &mut files);
    }
    let mut v = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        // Test code and harnesses: tests.rs files, the moto harness, the bench binaries' asserts.
        if rel.ends_with("tests.rs") || rel.contains("/testing/") || rel.starts_with("src/bin/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (line, what) in debug_uses(&text) {
            if !DEBUG_ALLOWED.iter().any(|(file, snippet)| *file == rel && what.contains(snippet)) {
                v.push(format!("{rel}:{line}: {what}"));
            }
        }
    }
    assert!(v.is_empty(), "Debug formatting where a person reads the text (use Display, or a field's own words):\n  {}", v.join("\n  "));
}

#[test]
fn the_debug_reader_finds_format_and_tracing_forms() {
    let text = "let a = format!(\"{x:?}\");\n// format!(\"{y:?}\")\nlet b = format!(\"{:#?}\", z);\ntracing::warn!(error = ?e, \"x\");\n#[cfg(test)]\nmod tests { fn t() { format!(\"{q:?}\"); } }\n";
    let got: Vec<(usize, String)> = debug_uses(text);
    assert_eq!(got, vec![(1, "{x:?}".to_string()), (3, "{:#?}".to_string()), (4, "= ?".to_string())]);
}
