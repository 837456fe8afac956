//! An RFC 1035 master-file (BIND zone file) reader.
//!
//! Handles `$ORIGIN`, `$TTL`, `$INCLUDE`, `@`, relative and absolute names, blank owners (the previous
//! owner), parentheses across lines, comments, quoted strings, optional class, TTL units (`1h30m`), and
//! the RFC 3597 generic form. Unknown types are kept by name. Every error names the file and line.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dangle_model::{DnsName, DnsRecord, ProviderError, RecordType, Target};

const MAX_INCLUDE_DEPTH: usize = 8;
const DEFAULT_TTL: u32 = 3600;

/// A token of a logical line.
#[derive(Debug)]
struct Token {
    text: String,
    quoted: bool,
}

/// One entry: several physical lines joined by parentheses.
#[derive(Debug)]
struct Entry {
    line: usize,
    blank_owner: bool,
    tokens: Vec<Token>,
}

fn err(path: &Path, line: usize, message: impl Into<String>) -> ProviderError {
    ProviderError::Parse { path: path.to_path_buf(), line, message: message.into() }
}

/// Splits text into entries, honouring quotes, escapes, comments and parentheses.
fn entries(path: &Path, text: &str) -> Result<Vec<Entry>, ProviderError> {
    let mut out = Vec::new();
    let mut cur: Option<Entry> = None;
    let mut depth = 0usize;
    let mut open_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut chars = raw.chars().peekable();
        if depth == 0 {
            if let Some(e) = cur.take() {
                if !e.tokens.is_empty() {
                    out.push(e);
                }
            }
            let blank_owner = raw.starts_with(' ') || raw.starts_with('\t');
            cur = Some(Entry { line: line_no, blank_owner, tokens: Vec::new() });
        }
        let entry = cur.as_mut().expect("entry started above");
        let mut tok = String::new();
        let mut in_tok = false;
        let mut quoted = false;
        let mut in_quote = false;
        while let Some(c) = chars.next() {
            if in_quote {
                match c {
                    '"' => {
                        in_quote = false;
                    }
                    '\\' => {
                        tok.push(c);
                        if let Some(n) = chars.next() {
                            tok.push(n);
                        }
                    }
                    _ => tok.push(c),
                }
                continue;
            }
            match c {
                ';' => break,
                '"' => {
                    in_quote = true;
                    in_tok = true;
                    quoted = true;
                }
                '(' | ')' | ' ' | '\t' | '\r' => {
                    if in_tok {
                        entry.tokens.push(Token { text: std::mem::take(&mut tok), quoted });
                        in_tok = false;
                        quoted = false;
                    }
                    if c == '(' {
                        if depth == 0 {
                            open_line = line_no;
                        }
                        depth += 1;
                    } else if c == ')' {
                        if depth == 0 {
                            return Err(err(path, line_no, "`)` without a matching `(`"));
                        }
                        depth -= 1;
                    }
                }
                '\\' => {
                    in_tok = true;
                    tok.push(c);
                    if let Some(n) = chars.next() {
                        tok.push(n);
                    }
                }
                _ => {
                    in_tok = true;
                    tok.push(c);
                }
            }
        }
        if in_quote {
            return Err(err(path, line_no, "unterminated quoted string"));
        }
        if in_tok {
            entry.tokens.push(Token { text: tok, quoted });
        }
    }
    if depth > 0 {
        return Err(err(path, open_line, "`(` opened here is never closed"));
    }
    if let Some(e) = cur.take() {
        if !e.tokens.is_empty() {
            out.push(e);
        }
    }
    Ok(out)
}

/// `3600`, `1h`, `1h30m`, `2W`.
pub fn parse_ttl(s: &str) -> Option<u32> {
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    let mut total: u64 = 0;
    let mut num: u64 = 0;
    let mut have = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = num.checked_mul(10)?.checked_add(u64::from(d))?;
            have = true;
        } else {
            let unit = match c.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return None,
            };
            if !have {
                return None;
            }
            total = total.checked_add(num.checked_mul(unit)?)?;
            num = 0;
            have = false;
        }
    }
    if have {
        total = total.checked_add(num)?;
    }
    u32::try_from(total).ok()
}

fn is_class(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    matches!(u.as_str(), "IN" | "CH" | "CS" | "HS") || (u.starts_with("CLASS") && u[5..].parse::<u16>().is_ok())
}

/// Turns zone-file escapes (`\.`, `\065`) in a name into plain text.
fn unescape_name(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b.len() >= i + 4 && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                let n: u32 = s[i + 1..i + 4].parse().unwrap_or(0);
                out.push(char::from_u32(n).unwrap_or('?'));
                i += 4;
            } else {
                out.push(b[i + 1] as char);
                i += 2;
            }
        } else {
            let ch = s[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Parses one zone file.
pub struct ZoneReader<'a> {
    pub source: Arc<str>,
    /// The path as shown in reports and errors.
    pub display_path: &'a Path,
    /// The path on disk.
    pub disk_path: &'a Path,
    pub origin: Option<DnsName>,
}

#[derive(Default)]
struct State {
    origin: Option<DnsName>,
    ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<DnsName>,
}

type SetKey = (DnsName, RecordType);

struct Collected {
    ttl: u32,
    line: (PathBuf, usize),
    targets: Vec<Target>,
}

impl ZoneReader<'_> {
    /// Reads the file and returns its record sets in (name, type) order, with the zone apex it used.
    pub fn read(&self) -> Result<(DnsName, Vec<DnsRecord>), ProviderError> {
        let text = read_text(&self.source, self.disk_path)?;
        let zone = match &self.origin {
            Some(o) => o.clone(),
            None => infer_origin(self.display_path, &text)?,
        };
        let mut sets: BTreeMap<SetKey, Collected> = BTreeMap::new();
        let mut state = State { origin: Some(zone.clone()), ..State::default() };
        self.parse_into(self.display_path, self.disk_path, &text, &zone, &mut state, &mut sets, 0)?;
        let account: Arc<str> = Arc::from(self.display_path.display().to_string());
        let records = sets
            .into_iter()
            .map(|((name, rtype), c)| DnsRecord {
                source: self.source.clone(),
                account: account.clone(),
                zone: zone.clone(),
                zone_private: false,
                name,
                rtype,
                ttl: c.ttl,
                set_id: None,
                targets: c.targets.into(),
                location: Some(Arc::from(format!("{}:{}", c.line.0.display(), c.line.1))),
            })
            .collect();
        Ok((zone, records))
    }

    #[allow(clippy::too_many_arguments)]
    fn parse_into(
        &self,
        path: &Path,
        disk: &Path,
        text: &str,
        zone: &DnsName,
        st: &mut State,
        sets: &mut BTreeMap<SetKey, Collected>,
        depth: usize,
    ) -> Result<(), ProviderError> {
        for e in entries(path, text)? {
            let line = e.line;
            let first = &e.tokens[0].text;
            if !e.blank_owner && first.starts_with('$') {
                let arg = |i: usize| e.tokens.get(i).map(|t| t.text.as_str());
                match first.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => {
                        let o = arg(1).ok_or_else(|| err(path, line, "$ORIGIN needs a name"))?;
                        let base = st.origin.clone().unwrap_or_else(DnsName::root);
                        st.origin = Some(
                            DnsName::parse_relative(&unescape_name(o), &base)
                                .map_err(|x| err(path, line, format!("$ORIGIN: {x}")))?,
                        );
                    }
                    "$TTL" => {
                        let t = arg(1).ok_or_else(|| err(path, line, "$TTL needs a value"))?;
                        st.ttl = Some(parse_ttl(t).ok_or_else(|| err(path, line, format!("$TTL: `{t}` is not a TTL")))?);
                    }
                    "$INCLUDE" => {
                        if depth >= MAX_INCLUDE_DEPTH {
                            return Err(err(path, line, format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}")));
                        }
                        let f = arg(1).ok_or_else(|| err(path, line, "$INCLUDE needs a file name"))?;
                        let rel = Path::new(f);
                        let (inc_disk, inc_show) = if rel.is_absolute() {
                            (rel.to_path_buf(), rel.to_path_buf())
                        } else {
                            let dd = disk.parent().unwrap_or(Path::new("."));
                            let sd = path.parent().unwrap_or(Path::new(""));
                            (dd.join(rel), sd.join(rel))
                        };
                        let inc_text = read_text(&self.source, &inc_disk).map_err(|x| err(path, line, format!("$INCLUDE: {x}")))?;
                        let saved = st.origin.clone();
                        if let Some(o) = arg(2) {
                            let base = st.origin.clone().unwrap_or_else(DnsName::root);
                            st.origin = Some(
                                DnsName::parse_relative(o, &base).map_err(|x| err(path, line, format!("$INCLUDE origin: {x}")))?,
                            );
                        }
                        self.parse_into(&inc_show, &inc_disk, &inc_text, zone, st, sets, depth + 1)?;
                        st.origin = saved;
                    }
                    other => {
                        return Err(err(
                            path,
                            line,
                            format!("unsupported directive `{other}` (supported: $ORIGIN, $TTL, $INCLUDE; expand $GENERATE first)"),
                        ))
                    }
                }
                continue;
            }
            self.record(path, &e, zone, st, sets)?;
        }
        Ok(())
    }

    fn record(
        &self,
        path: &Path,
        e: &Entry,
        zone: &DnsName,
        st: &mut State,
        sets: &mut BTreeMap<SetKey, Collected>,
    ) -> Result<(), ProviderError> {
        let line = e.line;
        let origin = st.origin.clone().ok_or_else(|| err(path, line, "relative name before any $ORIGIN"))?;
        let mut toks = e.tokens.iter().peekable();
        let owner = if e.blank_owner {
            st.last_owner.clone().ok_or_else(|| err(path, line, "record with a blank owner before any owner"))?
        } else {
            let t = toks.next().expect("entries are never empty");
            DnsName::parse_relative(&unescape_name(&t.text), &origin).map_err(|x| err(path, line, format!("owner `{}`: {x}", t.text)))?
        };
        if !owner.is_within(zone) {
            return Err(err(path, line, format!("`{owner}` is outside the zone `{zone}`")));
        }
        let mut ttl = None;
        let mut rtype = None;
        for _ in 0..3 {
            let Some(t) = toks.next() else { break };
            if ttl.is_none() && t.text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(parse_ttl(&t.text).ok_or_else(|| err(path, line, format!("`{}` is not a TTL", t.text)))?);
            } else if is_class(&t.text) {
                if !t.text.eq_ignore_ascii_case("IN") {
                    return Err(err(path, line, format!("class `{}`: only IN zones are judged", t.text)));
                }
            } else {
                rtype = Some(t.text.parse::<RecordType>().unwrap_or_else(|e| match e {}));
                break;
            }
        }
        let rtype = rtype.ok_or_else(|| err(path, line, "missing record type"))?;
        let rdata: Vec<&Token> = toks.collect();
        let ttl = ttl.or(st.ttl).or(st.last_ttl).unwrap_or(DEFAULT_TTL);
        let name_arg = |i: usize, what: &str| -> Result<DnsName, ProviderError> {
            let t = rdata.get(i).ok_or_else(|| err(path, line, format!("{rtype} record is missing its {what}")))?;
            DnsName::parse_relative(&unescape_name(&t.text), &origin)
                .map_err(|x| err(path, line, format!("{rtype} {what} `{}`: {x}", t.text)))
        };
        let num_arg = |i: usize, what: &str| -> Result<u32, ProviderError> {
            let t = rdata.get(i).ok_or_else(|| err(path, line, format!("{rtype} record is missing its {what}")))?;
            t.text.parse::<u32>().map_err(|_| err(path, line, format!("{rtype} {what} `{}` is not a number", t.text)))
        };
        let want = |n: usize| -> Result<(), ProviderError> {
            if rdata.len() != n {
                Err(err(path, line, format!("{rtype} record needs {n} data field(s), found {}", rdata.len())))
            } else {
                Ok(())
            }
        };
        let generic = rdata.first().is_some_and(|t| t.text == "\\#");
        let mut targets = Vec::new();
        if generic {
            check_generic(path, line, &rdata)?;
        } else {
            match rtype {
                RecordType::A => {
                    want(1)?;
                    let ip: Ipv4Addr =
                        rdata[0].text.parse().map_err(|_| err(path, line, format!("A record data `{}` is not an IPv4 address", rdata[0].text)))?;
                    targets.push(Target::Ip(ip.into()));
                }
                RecordType::Aaaa => {
                    want(1)?;
                    let ip: Ipv6Addr = rdata[0]
                        .text
                        .parse()
                        .map_err(|_| err(path, line, format!("AAAA record data `{}` is not an IPv6 address", rdata[0].text)))?;
                    targets.push(Target::Ip(ip.into()));
                }
                RecordType::Cname | RecordType::Ns | RecordType::Dname => {
                    want(1)?;
                    targets.push(Target::Host(name_arg(0, "target")?));
                }
                RecordType::Ptr => {
                    want(1)?;
                    name_arg(0, "target")?;
                }
                RecordType::Mx => {
                    want(2)?;
                    u16::try_from(num_arg(0, "preference")?).map_err(|_| err(path, line, "MX preference above 65535"))?;
                    let host = name_arg(1, "exchange")?;
                    if !host.is_root() {
                        targets.push(Target::Host(host));
                    }
                }
                RecordType::Srv => {
                    want(4)?;
                    for (i, w) in ["priority", "weight", "port"].iter().enumerate() {
                        u16::try_from(num_arg(i, w)?).map_err(|_| err(path, line, format!("SRV {w} above 65535")))?;
                    }
                    let host = name_arg(3, "target")?;
                    if !host.is_root() {
                        targets.push(Target::Host(host));
                    }
                }
                RecordType::Soa => {
                    want(7)?;
                    name_arg(0, "primary name server")?;
                    name_arg(1, "responsible mailbox")?;
                    num_arg(2, "serial")?;
                    for (i, w) in ["refresh", "retry", "expire", "minimum"].iter().enumerate() {
                        let t = &rdata[3 + i].text;
                        parse_ttl(t).ok_or_else(|| err(path, line, format!("SOA {w} `{t}` is not a time")))?;
                    }
                }
                RecordType::Txt => {
                    if rdata.is_empty() {
                        return Err(err(path, line, "TXT record without any string"));
                    }
                    if let Some(t) = rdata.iter().find(|t| t.quoted && t.text.len() > 255 + t.text.matches('\\').count() * 3) {
                        return Err(err(path, line, format!("TXT string longer than 255 octets ({}…)", &t.text[..20])));
                    }
                }
                RecordType::Caa => {
                    want(3)?;
                    let f = num_arg(0, "flags")?;
                    if f > 255 {
                        return Err(err(path, line, "CAA flags above 255"));
                    }
                }
                _ => {}
            }
        }
        st.last_owner = Some(owner.clone());
        st.last_ttl = Some(ttl);
        let entry = sets.entry((owner, rtype)).or_insert_with(|| Collected {
            ttl,
            line: (path.to_path_buf(), line),
            targets: Vec::new(),
        });
        entry.ttl = entry.ttl.min(ttl);
        for t in targets {
            if !entry.targets.contains(&t) {
                entry.targets.push(t);
            }
        }
        Ok(())
    }
}

fn check_generic(path: &Path, line: usize, rdata: &[&Token]) -> Result<(), ProviderError> {
    let len: usize = rdata
        .get(1)
        .and_then(|t| t.text.parse().ok())
        .ok_or_else(|| err(path, line, "generic data (\\#) needs a length"))?;
    let hex: String = rdata[2.min(rdata.len())..].iter().map(|t| t.text.as_str()).collect();
    if hex.len() != len * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(path, line, format!("generic data (\\#) says {len} octets but carries {} hex digits", hex.len())));
    }
    Ok(())
}

fn read_text(source: &str, path: &Path) -> Result<String, ProviderError> {
    let bytes = std::fs::read(path).map_err(|e| ProviderError::Io { provider: source.to_string(), path: path.to_path_buf(), source: e })?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        err(path, line, "not valid UTF-8")
    })
}

/// The zone apex when the config gives no `origin`: a leading `$ORIGIN`, else the file name
/// (`example.com.zone`, `db.example.com`, `example.com`).
fn infer_origin(path: &Path, text: &str) -> Result<DnsName, ProviderError> {
    for (i, line) in text.lines().enumerate() {
        let t = line.split(';').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let mut it = t.split_whitespace();
        if it.next().is_some_and(|d| d.eq_ignore_ascii_case("$ORIGIN")) {
            if let Some(o) = it.next().filter(|o| o.ends_with('.')) {
                return DnsName::parse(o).map_err(|x| err(path, i + 1, format!("$ORIGIN: {x}")));
            }
        }
        if !t.starts_with('$') {
            break;
        }
    }
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let stem = file.strip_suffix(".zone").or_else(|| file.strip_prefix("db.")).unwrap_or(file);
    if stem.contains('.') {
        if let Ok(n) = DnsName::parse(stem) {
            return Ok(n);
        }
    }
    Err(err(path, 1, "cannot tell the zone's origin: set `origin` in the config or start the file with `$ORIGIN name.`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<DnsRecord>, ProviderError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("example.com.zone");
        std::fs::write(&p, text).unwrap();
        let show = Path::new("example.com.zone");
        let r = ZoneReader { source: "zones".into(), display_path: show, disk_path: &p, origin: None };
        r.read().map(|(_, recs)| recs)
    }

    fn find<'a>(recs: &'a [DnsRecord], name: &str, t: &str) -> &'a DnsRecord {
        recs.iter()
            .find(|r| r.name.as_str() == name && r.rtype.as_str() == t)
            .unwrap_or_else(|| panic!("{name} {t} not in {recs:#?}"))
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2W"), Some(1_209_600));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("99999999999"), None);
    }

    #[test]
    fn full_syntax() {
        let recs = parse(
            "$TTL 1h\n\
             @ IN SOA ns1 hostmaster (\n  2024010101 ; serial\n  1h 15m 1w 5m )\n\
             @ NS ns1\n  NS ns2.example.net.\n\
             ns1 300 IN A 192.0.2.1\n\
             www IN 60 CNAME app ; comment\n\
             app A 192.0.2.10\n    A 192.0.2.11\n\
             v6 AAAA 2001:db8::1\n\
             @ MX 10 mail.example.net.\n@ MX 0 .\n\
             _sip._tcp SRV 10 5 5060 sip\n\
             txt TXT \"v=spf1 ; not a comment\" \"second\"\n\
             @ CAA 0 issue \"letsencrypt.org\"\n\
             h HTTPS 1 . alpn=h2\n\
             g TYPE65534 \\# 2 abcd\n\
             $ORIGIN sub.example.com.\n\
             deep CNAME www.example.com.\n",
        )
        .unwrap();
        assert_eq!(find(&recs, "ns1.example.com", "A").ttl, 300);
        assert_eq!(find(&recs, "app.example.com", "A").targets.len(), 2);
        assert_eq!(find(&recs, "app.example.com", "A").ttl, 3600);
        assert_eq!(find(&recs, "www.example.com", "CNAME").targets.as_slice(), [Target::Host(DnsName::parse("app.example.com").unwrap())]);
        assert_eq!(find(&recs, "www.example.com", "CNAME").ttl, 60);
        assert_eq!(find(&recs, "example.com", "NS").targets.len(), 2);
        assert_eq!(find(&recs, "example.com", "MX").targets.len(), 1, "null MX `.` has no target");
        assert_eq!(find(&recs, "_sip._tcp.example.com", "SRV").targets.as_slice(), [Target::Host(DnsName::parse("sip.example.com").unwrap())]);
        assert!(find(&recs, "txt.example.com", "TXT").targets.is_empty());
        assert!(find(&recs, "h.example.com", "HTTPS").targets.is_empty());
        find(&recs, "g.example.com", "TYPE65534");
        find(&recs, "deep.sub.example.com", "CNAME");
        assert_eq!(find(&recs, "www.example.com", "CNAME").location.as_deref(), Some("example.com.zone:8"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line, needle) in [
            ("www A 999.1.1.1\n", 1, "not an IPv4"),
            ("@ NS ns1\n\nwww CNAME\n", 3, "needs 1 data field"),
            ("a A 192.0.2.1\nb (A\n 192.0.2.2\n", 2, "never closed"),
            ("www TXT \"open\n", 1, "unterminated"),
            ("$GENERATE 1-10 h$ A 192.0.2.$\n", 1, "$GENERATE"),
            ("other.org. A 192.0.2.1\n", 1, "outside the zone"),
            ("  A 192.0.2.1\n", 1, "blank owner"),
            ("www MX ten mail\n", 1, "not a number"),
            ("www\n", 1, "missing record type"),
            ("x TYPE9 \\# 3 abcd\n", 1, "3 octets"),
            ("www 1 CH A 192.0.2.1\n", 1, "only IN"),
            ("a.b..c A 192.0.2.1\n", 1, "empty label"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("example.com.zone:{line}: ")), "{text:?}: {e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn origin_inference() {
        let r = ZoneReader { source: "z".into(), display_path: Path::new("zones/weird"), disk_path: Path::new("/nonexistent"), origin: None };
        assert!(r.read().unwrap_err().to_string().contains("cannot read /nonexistent"));
        assert_eq!(infer_origin(Path::new("x"), "; hi\n$ORIGIN Example.org.\n").unwrap().as_str(), "example.org");
        assert_eq!(infer_origin(Path::new("db.example.net"), "").unwrap().as_str(), "example.net");
        assert!(infer_origin(Path::new("zonefile"), "").is_err());
    }

    #[test]
    fn include_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("example.com.zone"), "$INCLUDE hosts.inc\nwww CNAME app\n").unwrap();
        std::fs::write(dir.path().join("hosts.inc"), "app A 192.0.2.7\n").unwrap();
        let p = dir.path().join("example.com.zone");
        let r = ZoneReader { source: "z".into(), display_path: Path::new("example.com.zone"), disk_path: &p, origin: None };
        let (_, recs) = r.read().unwrap();
        assert_eq!(find(&recs, "app.example.com", "A").location.as_deref(), Some("hosts.inc:1"));
        std::fs::write(dir.path().join("hosts.inc"), "$INCLUDE hosts.inc\n").unwrap();
        assert!(r.read().unwrap_err().to_string().contains("nested deeper"));
    }
}
