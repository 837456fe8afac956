//! Dependencies run one way (design.md): the reconciler sees only the model; the prober knows targets
//! and its own options, never config, store or the commands; the store takes the rows a scan builds and
//! knows no prober type; reports read typed rows; provider crates know only the model. This reads the
//! paths in the sources (every `crate::…`, `use crate::{…}` group and crate name) and fails on a wrong
//! direction, naming the file and line.

use std::path::{Path, PathBuf};

/// (area under src/, modules of this crate it must not reach).
const RULES: &[(&str, &[&str])] = &[
    ("reconcile", &["config", "probe", "store", "report", "commands", "cli", "providers", "conformance", "errors", "fuzz"]),
    ("probe", &["config", "store", "report", "commands", "cli", "providers", "conformance"]),
    ("store", &["probe", "config", "report", "commands", "cli", "providers", "conformance"]),
    ("report", &["probe", "config", "commands", "cli", "providers", "conformance"]),
    ("time.rs", &["config", "probe", "store", "report", "commands", "reconcile", "providers"]),
];

/// Crates a part must not name: the engine's judgement knows no provider crate; a provider crate
/// knows no engine and no other provider.
const CRATE_RULES: &[(&str, &[&str])] = &[
    ("src/reconcile", &["dangle_aws", "dangle_files", "aws_sdk_", "rusqlite", "rustls", "tokio"]),
    ("src/probe", &["dangle_aws", "dangle_files", "rusqlite"]),
    ("src/store", &["dangle_aws", "dangle_files", "rustls", "tokio_rustls", "x509_parser"]),
    ("providers/model/src", &["dangle::", "dangle_aws", "dangle_files"]),
    ("providers/files/src", &["dangle::", "dangle_aws"]),
    ("providers/aws/src", &["dangle::", "dangle_files"]),
];

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
    for (dir, names) in CRATE_RULES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} holds no source");
        // A module's tests may build their inputs with anything (the reconciler's with AWS's description).
        for f in files.into_iter().filter(|f| !f.ends_with("tests.rs")) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, l) in text.lines().enumerate() {
                if l.trim_start().starts_with("//") {
                    continue;
                }
                for name in *names {
                    let hit = l.match_indices(name).any(|(i, _)| i == 0 || !l.as_bytes()[i - 1].is_ascii_alphanumeric() && l.as_bytes()[i - 1] != b'_');
                    if hit {
                        v.push(format!("{}:{}: {dir} names `{name}`", f.strip_prefix(root).unwrap().display(), n + 1));
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
    for dir in ["src", "providers/model/src", "providers/files/src", "providers/aws/src"] {
        rust_files(&root.join(dir), &mut files);
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
