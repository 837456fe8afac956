//! An RFC 1035 master-file (BIND zone file) reader.
//!
//! Handles `$ORIGIN`, `$TTL`, `$INCLUDE`, `@`, relative and absolute names, blank owners (the previous
//! owner), parentheses across lines, comments, quoted strings, optional class, TTL units (`1h30m`), and
//! the RFC 3597 generic form (decoded for the types dangle judges). Registered types that dangle does not
//! judge are kept by name; a word that is no type is an error, as in BIND. Every error names the file
//! and line and quotes at most a short escaped excerpt of the input.
//!
//! `$INCLUDE` reads only regular files under the including zone file's folder (or the roots the config
//! names), so a zone file cannot be used to read, say, `/proc/self/environ`; out-of-zone data is skipped
//! with a warning, as BIND does.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dangle_model::input::{read_file, MAX_DATA_FILE};
use dangle_model::{excerpt, DnsName, DnsRecord, Location, ProviderError, RecordType, Target};

const MAX_INCLUDE_DEPTH: usize = 8;
const DEFAULT_TTL: u32 = 3600;
/// Sets with more targets than this de-duplicate through a hash set (80k A records at one name).
const SMALL_SET: usize = 16;

/// A token of a logical line: a slice of the file unless quotes had to be removed.
#[derive(Debug)]
struct Token<'a> {
    text: Cow<'a, str>,
    quoted: bool,
}

/// One entry: several physical lines joined by parentheses.
#[derive(Debug)]
struct Entry<'a> {
    line: usize,
    blank_owner: bool,
    tokens: Vec<Token<'a>>,
}

fn err(path: &Path, line: usize, message: impl Into<String>) -> ProviderError {
    ProviderError::Parse { path: path.to_path_buf(), line, message: message.into() }
}

/// The entries of a text, one at a time, honouring quotes, escapes, comments and parentheses: a
/// zone of a million lines is never held as tokens all at once.
struct Entries<'a> {
    path: &'a Path,
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    /// The entry being read (it ends where a line starts outside parentheses).
    cur: Option<Entry<'a>>,
    /// Parenthesis depth, and the line that opened the outermost one.
    depth: usize,
    open_line: usize,
    done: bool,
}

fn entries<'a>(path: &'a Path, text: &'a str) -> Entries<'a> {
    Entries { path, lines: text.lines().enumerate(), cur: None, depth: 0, open_line: 0, done: false }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ProviderError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some((i, raw)) = self.lines.next() else {
                self.done = true;
                if self.depth > 0 {
                    return Some(Err(err(self.path, self.open_line, "`(` opened here is never closed")));
                }
                return self.cur.take().filter(|e| !e.tokens.is_empty()).map(Ok);
            };
            let line_no = i + 1;
            let mut finished = None;
            if self.depth == 0 {
                finished = self.cur.take().filter(|e| !e.tokens.is_empty());
                self.cur = Some(Entry { line: line_no, blank_owner: raw.starts_with(' ') || raw.starts_with('\t'), tokens: Vec::new() });
            }
            let mut cur = self.cur.take().expect("an entry is open");
            let r = self.tokenize(raw, line_no, &mut cur.tokens);
            self.cur = Some(cur);
            if let Err(e) = r {
                self.done = true;
                return Some(Err(e));
            }
            if let Some(e) = finished {
                return Some(Ok(e));
            }
        }
        None
    }
}

impl<'a> Entries<'a> {
    /// Splits one physical line into tokens. A token is a slice of the line; a quoted one becomes
    /// its text without the quotes (escapes stay as written, for the record types to decode).
    fn tokenize(&mut self, raw: &'a str, line_no: usize, tokens: &mut Vec<Token<'a>>) -> Result<(), ProviderError> {
        let b = raw.as_bytes();
        let mut i = 0;
        let mut start: Option<usize> = None;
        let mut quoted = false;
        let mut in_quote = false;
        let push = |start: usize, end: usize, quoted: bool, tokens: &mut Vec<Token<'a>>| {
            let slice = &raw[start..end];
            let text = if quoted { Cow::Owned(unquote(slice)) } else { Cow::Borrowed(slice) };
            tokens.push(Token { text, quoted });
        };
        while i < b.len() {
            let c = b[i];
            if in_quote {
                match c {
                    b'"' => in_quote = false,
                    // The escaped byte is part of the token, whatever it is.
                    b'\\' => i += 1,
                    _ => {}
                }
                i += 1;
                continue;
            }
            match c {
                b';' => break,
                b'"' => {
                    in_quote = true;
                    quoted = true;
                    start.get_or_insert(i);
                }
                b'(' | b')' | b' ' | b'\t' | b'\r' => {
                    if let Some(s) = start.take() {
                        push(s, i, quoted, tokens);
                        quoted = false;
                    }
                    if c == b'(' {
                        if self.depth == 0 {
                            self.open_line = line_no;
                        }
                        self.depth += 1;
                    } else if c == b')' {
                        if self.depth == 0 {
                            return Err(err(self.path, line_no, "`)` without a matching `(`"));
                        }
                        self.depth -= 1;
                    }
                }
                b'\\' => {
                    start.get_or_insert(i);
                    i += 1;
                }
                _ => {
                    start.get_or_insert(i);
                }
            }
            i += 1;
        }
        if in_quote {
            return Err(err(self.path, line_no, "unterminated quoted string"));
        }
        if let Some(s) = start {
            push(s, b.len().min(i), quoted, tokens);
        }
        Ok(())
    }
}

/// A token's text without its (unescaped) quote characters.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {}
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    out
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


/// Parses one zone file.
pub struct ZoneReader<'a> {
    pub source: Arc<str>,
    /// The path as shown in reports and errors.
    pub display_path: &'a Path,
    /// The path on disk.
    pub disk_path: &'a Path,
    pub origin: Option<DnsName>,
    /// Folders `$INCLUDE` may read from besides the zone file's own (canonical paths).
    pub include_roots: &'a [PathBuf],
}

#[derive(Default)]
struct State {
    origin: Option<DnsName>,
    ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<DnsName>,
    /// Bytes read so far, over the file and everything it includes.
    read: u64,
    /// Folders `$INCLUDE` may read from.
    roots: Vec<PathBuf>,
}

type SetKey = (DnsName, RecordType);

/// The record sets read so far, in the order they first appear, each (name, type) once.
struct Sets {
    records: Vec<DnsRecord>,
    at: rustc_hash::FxHashMap<SetKey, u32>,
    /// The targets again, for sets large enough for `contains` to be quadratic (80k A records at one name).
    big: rustc_hash::FxHashMap<u32, std::collections::HashSet<Target>>,
    source: Arc<str>,
    account: Arc<str>,
    zone: DnsName,
    /// The file of the latest location, shared by every record of it.
    file: Option<Arc<str>>,
}

impl Sets {
    /// Line `line` of `shown`: the file's name is one allocation for all its records (a million
    /// records have a million locations).
    fn location(&mut self, shown: &str, line: usize) -> Location {
        let file = match &self.file {
            Some(f) if &**f == shown => f.clone(),
            _ => self.file.insert(Arc::from(shown)).clone(),
        };
        Location::Line { file, line: u32::try_from(line).unwrap_or(u32::MAX) }
    }

    /// Adds one record's targets to its set (created at `line` of `shown` if new); the lowest TTL wins.
    fn add(&mut self, key: SetKey, ttl: u32, shown: &str, line: usize, targets: Vec<Target>) {
        let i = match self.at.get(&key) {
            Some(i) => *i as usize,
            None => {
                let i = self.records.len();
                self.at.insert(key.clone(), i as u32);
                let location = self.location(shown, line);
                self.records.push(DnsRecord {
                    source: self.source.clone(),
                    account: self.account.clone(),
                    zone: self.zone.clone(),
                    zone_private: false,
                    name: key.0,
                    rtype: key.1,
                    ttl,
                    set_id: None,
                    targets: Default::default(),
                    location: Some(location),
                    spec: None,
                });
                i
            }
        };
        let r = &mut self.records[i];
        r.ttl = r.ttl.min(ttl);
        for t in targets {
            if let Some(index) = self.big.get_mut(&(i as u32)) {
                if index.insert(t.clone()) {
                    r.targets.push(t);
                }
            } else if !r.targets.contains(&t) {
                r.targets.push(t);
                if r.targets.len() > SMALL_SET {
                    self.big.insert(i as u32, r.targets.iter().cloned().collect());
                }
            }
        }
    }
}

impl ZoneReader<'_> {
    /// Reads the file and returns its record sets in (name, type) order, with the zone apex it used.
    pub fn read(&self) -> Result<(DnsName, Vec<DnsRecord>), ProviderError> {
        let mut read = 0;
        let text = read_text(&self.source, self.disk_path, &mut read)?;
        self.parse(&text, read)
    }

    /// Parses `text` as the contents of the file (`$INCLUDE` still reads from beside `disk_path`);
    /// `read` is what reading it cost of the input budget.
    pub fn parse(&self, text: &str, read: u64) -> Result<(DnsName, Vec<DnsRecord>), ProviderError> {
        let zone = match &self.origin {
            Some(o) => o.clone(),
            None => infer_origin(self.display_path, text)?,
        };
        let own_dir = self
            .disk_path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        let mut roots = vec![own_dir];
        roots.extend(self.include_roots.iter().cloned());
        let account: Arc<str> = Arc::from(self.display_path.display().to_string());
        let mut sets = Sets {
            records: Vec::new(),
            at: Default::default(),
            big: Default::default(),
            source: self.source.clone(),
            account,
            zone: zone.clone(),
            file: None,
        };
        let mut state = State { origin: Some(zone.clone()), read, roots, ..State::default() };
        self.parse_into(self.display_path, self.disk_path, text, &zone, &mut state, &mut sets, 0)?;
        if sets.records.is_empty() {
            return Err(err(self.display_path, 1, "the zone file holds no records (a zone has at least an SOA and NS records); an empty file would make every run look clean"));
        }
        drop(sets.at);
        let mut records = sets.records;
        // (name, type) order, as the rest of dangle expects a zone's sets.
        records.sort_unstable_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
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
        sets: &mut Sets,
        depth: usize,
    ) -> Result<(), ProviderError> {
        let shown: Arc<str> = Arc::from(path.display().to_string());
        for e in entries(path, text) {
            let e = e?;
            let line = e.line;
            let first = &e.tokens[0].text;
            if !e.blank_owner && first.starts_with('$') {
                let arg = |i: usize| e.tokens.get(i).map(|t| t.text.as_ref());
                match first.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => {
                        let o = arg(1).ok_or_else(|| err(path, line, "$ORIGIN needs a name"))?;
                        let base = st.origin.clone().unwrap_or_else(DnsName::root);
                        st.origin = Some(
                            DnsName::parse_relative(o, &base).map_err(|x| err(path, line, format!("$ORIGIN: {x}")))?,
                        );
                    }
                    "$TTL" => {
                        let t = arg(1).ok_or_else(|| err(path, line, "$TTL needs a value"))?;
                        st.ttl = Some(parse_ttl(t).ok_or_else(|| err(path, line, format!("$TTL: `{}` is not a TTL", excerpt(t))))?);
                    }
                    "$INCLUDE" => {
                        if depth >= MAX_INCLUDE_DEPTH {
                            return Err(err(path, line, format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}")));
                        }
                        let f = arg(1).ok_or_else(|| err(path, line, "$INCLUDE needs a file name"))?;
                        let (inc_disk, inc_show) = self.include(path, disk, line, f, st)?;
                        let inc_text = read_text(&self.source, &inc_disk, &mut st.read).map_err(|x| err(path, line, format!("$INCLUDE: {x}")))?;
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
                            format!("unsupported directive `{}` (supported: $ORIGIN, $TTL, $INCLUDE; expand $GENERATE first)", excerpt(other)),
                        ))
                    }
                }
                continue;
            }
            self.record(path, &shown, &e, zone, st, sets)?;
        }
        Ok(())
    }

    /// Where `$INCLUDE file` reads from (on disk, and as reports show it). The file must resolve, through
    /// any links, to a regular file under one of the allowed roots.
    fn include(&self, path: &Path, disk: &Path, line: usize, f: &str, st: &State) -> Result<(PathBuf, PathBuf), ProviderError> {
        let rel = Path::new(f);
        let (inc_disk, inc_show) = if rel.is_absolute() {
            (rel.to_path_buf(), rel.to_path_buf())
        } else {
            let dd = disk.parent().unwrap_or(Path::new("."));
            let sd = path.parent().unwrap_or(Path::new(""));
            (dd.join(rel), sd.join(rel))
        };
        let real = inc_disk.canonicalize().map_err(|e| err(path, line, format!("$INCLUDE `{}`: {e}", excerpt(f))))?;
        if !st.roots.iter().any(|r| real.starts_with(r)) {
            return Err(err(
                path,
                line,
                format!(
                    "$INCLUDE `{}` lies outside the zone file's folder; a zone file may include only files beside or below it (or under the provider's `include_dirs`)",
                    excerpt(f)
                ),
            ));
        }
        Ok((real, inc_show))
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        path: &Path,
        shown: &Arc<str>,
        e: &Entry,
        zone: &DnsName,
        st: &mut State,
        sets: &mut Sets,
    ) -> Result<(), ProviderError> {
        let line = e.line;
        let origin = st.origin.clone().ok_or_else(|| err(path, line, "relative name before any $ORIGIN"))?;
        let mut toks = e.tokens.iter().peekable();
        let owner = if e.blank_owner {
            st.last_owner.clone().ok_or_else(|| err(path, line, "record with a blank owner before any owner"))?
        } else {
            let t = toks.next().expect("entries are never empty");
            DnsName::parse_relative(&t.text, &origin).map_err(|x| err(path, line, format!("owner: {x}")))?
        };
        st.last_owner = Some(owner.clone());
        let (ttl, rtype) = header(path, line, &mut toks)?;
        let rdata: Vec<&Token> = toks.collect();
        if !owner.is_within(zone) {
            // BIND loads such a zone and ignores the out-of-zone data; one stray glue record must not
            // stop the whole run.
            tracing::warn!("{}:{line}: ignoring out-of-zone data: `{owner}` is outside the zone `{zone}`", path.display());
            return Ok(());
        }
        let data = Data { path, line, rtype: &rtype, origin: &origin, rdata: &rdata };
        let targets = data.targets()?;
        if rtype == RecordType::Soa && ttl.is_none() && st.ttl.is_none() && !data.is_generic() {
            // RFC 2308 §4: without $TTL, the SOA minimum is the default (BIND and dnspython agree).
            // `targets` checked that the seven fields are there.
            st.ttl = rdata.get(6).and_then(|t| parse_ttl(&t.text));
        }
        let ttl = ttl.or(st.ttl).or(st.last_ttl).unwrap_or(DEFAULT_TTL);
        st.last_ttl = Some(ttl);
        sets.add((owner, rtype), ttl, shown, line, targets);
        Ok(())
    }
}

/// The optional TTL and class and the type of a record, in either order (RFC 1035 §5.1).
fn header<'a: 't, 't>(path: &Path, line: usize, toks: &mut impl Iterator<Item = &'t Token<'a>>) -> Result<(Option<u32>, RecordType), ProviderError> {
    let mut ttl = None;
    for _ in 0..3 {
        let Some(t) = toks.next() else { break };
        if ttl.is_none() && t.text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            ttl = Some(parse_ttl(&t.text).ok_or_else(|| err(path, line, format!("`{}` is not a TTL", excerpt(&t.text))))?);
        } else if let Some(class) = class(&t.text) {
            if class != 1 {
                return Err(err(path, line, format!("class `{}`: only IN zones are judged", excerpt(&t.text))));
            }
        } else {
            let rtype = RecordType::from_mnemonic(&t.text).ok_or_else(|| {
                err(path, line, format!("`{}` is not a record type (a registered mnemonic such as CNAME, or TYPEnnn)", excerpt(&t.text)))
            })?;
            return Ok((ttl, rtype));
        }
    }
    Err(err(path, line, "missing record type"))
}

/// The class number of a class mnemonic (`IN`, `CLASS1`, …), `None` if `s` is not a class.
fn class(s: &str) -> Option<u16> {
    // Asked of every record's type and TTL tokens: no upper-case copy.
    if let Some((_, n)) = [("IN", 1), ("CS", 2), ("CH", 3), ("HS", 4)].iter().find(|(c, _)| s.eq_ignore_ascii_case(c)) {
        return Some(*n);
    }
    let digits = s.get(..5).filter(|p| p.eq_ignore_ascii_case("CLASS")).map(|_| &s[5..])?;
    digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
}

/// One record's data, with what an error needs to say where it is.
struct Data<'a> {
    path: &'a Path,
    line: usize,
    rtype: &'a RecordType,
    origin: &'a DnsName,
    rdata: &'a [&'a Token<'a>],
}

impl Data<'_> {
    fn err(&self, message: impl Into<String>) -> ProviderError {
        err(self.path, self.line, message)
    }

    fn name(&self, i: usize, what: &str) -> Result<DnsName, ProviderError> {
        let t = self.rdata.get(i).ok_or_else(|| self.err(format!("{} record is missing its {what}", self.rtype)))?;
        DnsName::parse_relative(&t.text, self.origin).map_err(|x| self.err(format!("{} {what}: {x}", self.rtype)))
    }

    fn num(&self, i: usize, what: &str) -> Result<u32, ProviderError> {
        let t = self.rdata.get(i).ok_or_else(|| self.err(format!("{} record is missing its {what}", self.rtype)))?;
        t.text.parse::<u32>().map_err(|_| self.err(format!("{} {what} `{}` is not a number", self.rtype, excerpt(&t.text))))
    }

    fn want(&self, n: usize) -> Result<(), ProviderError> {
        if self.rdata.len() != n {
            return Err(self.err(format!("{} record needs {n} data field(s), found {}", self.rtype, self.rdata.len())));
        }
        Ok(())
    }

    /// RFC 3597 generic data: `\# LENGTH HEX…`, unquoted.
    fn is_generic(&self) -> bool {
        self.rdata.first().is_some_and(|t| t.text == "\\#" && !t.quoted)
    }

    /// Checks the data and returns what the record points at.
    fn targets(&self) -> Result<Vec<Target>, ProviderError> {
        if self.is_generic() {
            let octets = self.generic()?;
            return generic_targets(self.rtype, &octets).map_err(|m| self.err(format!("{} generic data (\\#): {m}", self.rtype)));
        }
        let rdata = self.rdata;
        let mut targets = Vec::new();
        match self.rtype {
            RecordType::A => {
                self.want(1)?;
                let ip: Ipv4Addr =
                    rdata[0].text.parse().map_err(|_| self.err(format!("A record data `{}` is not an IPv4 address", excerpt(&rdata[0].text))))?;
                targets.push(Target::Ip(ip.into()));
            }
            RecordType::Aaaa => {
                self.want(1)?;
                let ip: Ipv6Addr =
                    rdata[0].text.parse().map_err(|_| self.err(format!("AAAA record data `{}` is not an IPv6 address", excerpt(&rdata[0].text))))?;
                targets.push(Target::Ip(ip.into()));
            }
            RecordType::Cname | RecordType::Ns | RecordType::Dname => {
                self.want(1)?;
                targets.push(Target::Host(self.name(0, "target")?));
            }
            RecordType::Ptr => {
                self.want(1)?;
                self.name(0, "target")?;
            }
            RecordType::Mx => {
                self.want(2)?;
                u16::try_from(self.num(0, "preference")?).map_err(|_| self.err("MX preference above 65535"))?;
                let host = self.name(1, "exchange")?;
                if !host.is_root() {
                    targets.push(Target::Host(host));
                }
            }
            RecordType::Srv => {
                self.want(4)?;
                for (i, w) in ["priority", "weight", "port"].iter().enumerate() {
                    u16::try_from(self.num(i, w)?).map_err(|_| self.err(format!("SRV {w} above 65535")))?;
                }
                let host = self.name(3, "target")?;
                if !host.is_root() {
                    targets.push(Target::Host(host));
                }
            }
            RecordType::Soa => {
                self.want(7)?;
                self.name(0, "primary name server")?;
                self.name(1, "responsible mailbox")?;
                self.num(2, "serial")?;
                for (i, w) in ["refresh", "retry", "expire", "minimum"].iter().enumerate() {
                    let t = &rdata[3 + i].text;
                    parse_ttl(t).ok_or_else(|| self.err(format!("SOA {w} `{}` is not a time", excerpt(t))))?;
                }
            }
            RecordType::Txt => {
                if rdata.is_empty() {
                    return Err(self.err("TXT record without any string"));
                }
                if let Some(t) = rdata.iter().find(|t| text_octets(&t.text) > 255) {
                    return Err(self.err(format!("TXT string longer than 255 octets (`{}`)", excerpt(&t.text))));
                }
            }
            RecordType::Caa => {
                self.want(3)?;
                if self.num(0, "flags")? > 255 {
                    return Err(self.err("CAA flags above 255"));
                }
            }
            _ => {}
        }
        Ok(targets)
    }

    /// The octets of RFC 3597 generic data: `\# LENGTH HEX…`.
    fn generic(&self) -> Result<Vec<u8>, ProviderError> {
        let rdata = self.rdata;
        // RDATA is at most 65,535 octets (RFC 1035 §3.2.1): a bigger length is an error, not an overflow.
        let len: usize = rdata
            .get(1)
            .and_then(|t| t.text.parse::<u16>().ok())
            .ok_or_else(|| self.err("generic data (\\#) needs a length from 0 to 65535"))?
            .into();
        let hex: String = rdata[2.min(rdata.len())..].iter().map(|t| t.text.as_ref()).collect();
        if hex.len() != len * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.err(format!("generic data (\\#) says {len} octets but carries {} hex digits", hex.len())));
        }
        Ok((0..len).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex")).collect())
    }
}

/// What RFC 3597 generic data points at, for the types dangle judges (uncompressed names, RFC 3597 §4).
fn generic_targets(rtype: &RecordType, o: &[u8]) -> Result<Vec<Target>, String> {
    let name_at = |at: usize| -> Result<DnsName, String> {
        let (name, used) = DnsName::from_wire(o.get(at..).unwrap_or_default()).map_err(|e| e.to_string())?;
        if at + used != o.len() {
            return Err(format!("{} octets after the name", o.len() - at - used));
        }
        Ok(name)
    };
    let host = |n: DnsName| if n.is_root() { Vec::new() } else { vec![Target::Host(n)] };
    Ok(match rtype {
        RecordType::A => {
            let b: [u8; 4] = o.try_into().map_err(|_| format!("an A record holds 4 octets, not {}", o.len()))?;
            vec![Target::Ip(Ipv4Addr::from(b).into())]
        }
        RecordType::Aaaa => {
            let b: [u8; 16] = o.try_into().map_err(|_| format!("an AAAA record holds 16 octets, not {}", o.len()))?;
            vec![Target::Ip(Ipv6Addr::from(b).into())]
        }
        RecordType::Cname | RecordType::Ns | RecordType::Dname => vec![Target::Host(name_at(0)?)],
        RecordType::Ptr => {
            name_at(0)?;
            Vec::new()
        }
        RecordType::Mx if o.len() >= 2 => host(name_at(2)?),
        RecordType::Srv if o.len() >= 6 => host(name_at(6)?),
        RecordType::Mx | RecordType::Srv => return Err("too short".into()),
        _ => Vec::new(),
    })
}

/// The octets a zone-file string stands for: `\DDD` and `\X` are one octet each, other characters
/// their UTF-8 length.
fn text_octets(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1..i + 4).is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
            i += 4;
            n += 1;
        } else if b[i] == b'\\' {
            let c = text[i + 1..].chars().next().map_or(0, char::len_utf8);
            i += 1 + c;
            n += c.max(1);
        } else {
            i += 1;
            n += 1;
        }
    }
    n
}

fn read_text(source: &str, path: &Path, read: &mut u64) -> Result<String, ProviderError> {
    let io = |e| ProviderError::Io { provider: source.to_string(), path: path.to_path_buf(), source: e };
    let bytes = read_file(path, MAX_DATA_FILE.saturating_sub(*read)).map_err(io)?;
    *read += bytes.len() as u64;
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
        let r = ZoneReader { source: "zones".into(), display_path: show, disk_path: &p, origin: None, include_roots: &[] };
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
    fn tokens_of_quotes_escapes_and_parentheses() {
        let toks = |text: &str| -> Vec<Vec<(String, bool)>> {
            entries(Path::new("t.zone"), text)
                .map(|e| e.unwrap().tokens.into_iter().map(|t| (t.text.into_owned(), t.quoted)).collect())
                .collect()
        };
        let t = |s: &str, q: bool| (s.to_string(), q);
        assert_eq!(toks("a\tb  c\r\n"), vec![vec![t("a", false), t("b", false), t("c", false)]]);
        // Quotes go, what they enclose stays one token; escapes stay as written for the type to decode.
        assert_eq!(toks("x TXT \"a ; b\" \"c\\\"d\" ; comment"), vec![vec![t("x", false), t("TXT", false), t("a ; b", true), t("c\\\"d", true)]]);
        assert_eq!(toks("x TXT a\"b c\"d"), vec![vec![t("x", false), t("TXT", false), t("ab cd", true)]]);
        assert_eq!(toks("a\\ b c\\"), vec![vec![t("a\\ b", false), t("c\\", false)]]);
        // Parentheses join lines into one entry, even when a quote holds one.
        assert_eq!(
            toks("@ SOA ns h (\n 1 ; serial\n 2 )\nb A 1.2.3.4\n"),
            vec![vec![t("@", false), t("SOA", false), t("ns", false), t("h", false), t("1", false), t("2", false)], vec![t("b", false), t("A", false), t("1.2.3.4", false)]]
        );
        assert_eq!(toks("x TXT \"(\" y"), vec![vec![t("x", false), t("TXT", false), t("(", true), t("y", false)]]);
        // Entries keep their first line and whether the owner was blank.
        let e: Vec<_> = entries(Path::new("t.zone"), "\n; only a comment\nwww A 1.2.3.4\n  A 1.2.3.5\n").map(|e| e.unwrap()).collect();
        assert_eq!(e.iter().map(|e| (e.line, e.blank_owner)).collect::<Vec<_>>(), [(3, false), (4, true)]);
        for (text, msg) in [("a )\n", "`)` without a matching `(`"), ("a (\nb\n", "never closed"), ("a \"b\n", "unterminated quoted string")] {
            let err = entries(Path::new("t.zone"), text).find_map(Result::err).unwrap().to_string();
            assert!(err.contains(msg), "{text:?}: {err}");
        }
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
        assert_eq!(find(&recs, "www.example.com", "CNAME").location.as_ref().map(ToString::to_string).as_deref(), Some("example.com.zone:8"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line, needle) in [
            ("www A 999.1.1.1\n", 1, "not an IPv4"),
            ("@ NS ns1\n\nwww CNAME\n", 3, "needs 1 data field"),
            ("a A 192.0.2.1\nb (A\n 192.0.2.2\n", 2, "never closed"),
            ("www TXT \"open\n", 1, "unterminated"),
            ("$GENERATE 1-10 h$ A 192.0.2.$\n", 1, "$GENERATE"),
            ("  A 192.0.2.1\n", 1, "blank owner"),
            ("www MX ten mail\n", 1, "not a number"),
            ("www\n", 1, "missing record type"),
            ("x TYPE9 \\# 3 abcd\n", 1, "3 octets"),
            ("x A \\# 4 00\n", 1, "4 octets"),
            ("x TYPE9 \\# 000000000011111111111111111100 00\n", 1, "a length from 0 to 65535"),
            ("www 1 CH A 192.0.2.1\n", 1, "only IN"),
            ("www 1 CLASS3 A 192.0.2.1\n", 1, "only IN"),
            ("a.b..c A 192.0.2.1\n", 1, "empty label"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("example.com.zone:{line}: ")), "{text:?}: {e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    fn parse_in(dir: &Path, text: &str) -> Result<Vec<DnsRecord>, ProviderError> {
        let p = dir.join("example.com.zone");
        std::fs::write(&p, text).unwrap();
        let r = ZoneReader { source: "z".into(), display_path: Path::new("example.com.zone"), disk_path: &p, origin: None, include_roots: &[] };
        r.read().map(|(_, recs)| recs)
    }

    #[test]
    fn include_cannot_read_files_outside_the_zone_folder() {
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(dir.path().join("secret"), "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n").unwrap();
        for inc in ["/proc/self/environ", "../secret", "/etc/passwd"] {
            let e = parse_in(&zones, &format!("$INCLUDE {inc}\nwww A 192.0.2.1\n")).unwrap_err().to_string();
            assert!(e.contains("outside the zone file's folder"), "{inc}: {e}");
            assert!(!e.contains("wJalrXUtnFEMI") && !e.contains("PATH="), "{inc}: {e}");
        }
        // A link that leads out is refused too; one that stays inside is followed.
        std::os::unix::fs::symlink(dir.path().join("secret"), zones.join("link.inc")).unwrap();
        assert!(parse_in(&zones, "$INCLUDE link.inc\n").unwrap_err().to_string().contains("outside"));
        std::fs::create_dir(zones.join("sub")).unwrap();
        std::fs::write(zones.join("sub/hosts.inc"), "app A 192.0.2.7\n").unwrap();
        assert_eq!(parse_in(&zones, "$INCLUDE sub/hosts.inc\n").unwrap().len(), 1);
        // The config can name another root.
        let p = zones.join("example.com.zone");
        std::fs::write(dir.path().join("shared.inc"), "shared A 192.0.2.8\n").unwrap();
        std::fs::write(&p, "$INCLUDE ../shared.inc\n").unwrap();
        let roots = [dir.path().canonicalize().unwrap()];
        let r = ZoneReader { source: "z".into(), display_path: Path::new("example.com.zone"), disk_path: &p, origin: None, include_roots: &roots };
        assert_eq!(r.read().unwrap().1.len(), 1);
    }

    #[test]
    fn include_of_special_files_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.inc")).unwrap();
        let e = parse_in(dir.path(), "$INCLUDE zero.inc\n").unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
        let fifo = dir.path().join("fifo.inc");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = parse_in(dir.path(), "$INCLUDE fifo.inc\n").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // The zone file itself, as a FIFO.
        let r = ZoneReader { source: "z".into(), display_path: Path::new("fifo.inc"), disk_path: &fifo, origin: DnsName::parse("example.com").ok(), include_roots: &[] };
        assert!(r.read().unwrap_err().to_string().contains("not a regular file"));
    }

    #[test]
    fn non_ascii_input_is_an_error_or_a_name_never_a_panic() {
        let recs = parse("\\é A 192.0.2.1\n").unwrap();
        assert_eq!(recs[0].name.as_str(), "\\195\\169.example.com");
        let long = format!("t TXT \"{}\"\n", "é".repeat(200));
        let e = parse(&long).unwrap_err().to_string();
        assert!(e.contains("longer than 255 octets"), "{e}");
        assert!(parse(&format!("t TXT \"{}\"\n", "é".repeat(127))).is_ok(), "254 octets fit");
        assert!(parse(&format!("t TXT \"{}\"\n", "\\233".repeat(255))).is_ok(), "255 escaped octets fit");
    }

    #[test]
    fn generic_rdata_is_decoded() {
        let recs = parse(
            "printer A \\# 4 c00002c8\n\
             p2 TYPE1 \\# 4 C0 00 02 C9\n\
             v6 TYPE28 \\# 16 20010db8000000000000000000000001\n\
             alias CNAME \\# 18 04676f6e65 076578616d706c65 03636f6d 00\n\
             mx MX \\# 6 000a 026d 7800\n",
        )
        .unwrap();
        assert_eq!(find(&recs, "printer.example.com", "A").targets.as_slice(), [Target::Ip("192.0.2.200".parse().unwrap())]);
        assert_eq!(find(&recs, "p2.example.com", "A").targets.as_slice(), [Target::Ip("192.0.2.201".parse().unwrap())]);
        assert_eq!(find(&recs, "v6.example.com", "AAAA").targets.as_slice(), [Target::Ip("2001:db8::1".parse().unwrap())]);
        assert_eq!(find(&recs, "alias.example.com", "CNAME").targets.as_slice(), [Target::Host(DnsName::parse("gone.example.com").unwrap())]);
        assert_eq!(find(&recs, "mx.example.com", "MX").targets.as_slice(), [Target::Host(DnsName::parse("mx").unwrap())]);
        let e = parse("x A \\# 3 c00002\n").unwrap_err().to_string();
        assert!(e.contains("4 octets, not 3"), "{e}");
        assert_eq!(RecordType::from_mnemonic("TYPE65"), RecordType::from_mnemonic("https"));
    }

    #[test]
    fn out_of_zone_data_is_skipped_not_fatal() {
        let recs = parse("www A 192.0.2.1\nns.other.net. A 198.51.100.1\n  AAAA 2001:db8::1\napp CLASS1 A 192.0.2.2\n").unwrap();
        let names: Vec<&str> = recs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["app.example.com", "www.example.com"]);
    }

    #[test]
    fn escaped_dot_stays_inside_the_label() {
        let recs = parse("a\\.b CNAME www\nwww A 192.0.2.1\n").unwrap();
        let r = find(&recs, "a\\.b.example.com", "CNAME");
        assert_eq!(r.name.label_count(), 3);
    }

    #[test]
    fn control_characters_never_reach_a_name() {
        let recs = parse("x\\027]0\\059pwned\\007y CNAME gone\n").unwrap();
        assert!(!recs[0].name.as_str().chars().any(char::is_control), "{}", recs[0].name);
    }

    #[test]
    fn ttl_defaults_to_the_soa_minimum() {
        let recs = parse("@ SOA ns1 host 1 1h 15m 1w 300\n@ NS ns1\nns1 A 192.0.2.1\nx 60 A 192.0.2.2\n").unwrap();
        assert_eq!(find(&recs, "example.com", "SOA").ttl, 300);
        assert_eq!(find(&recs, "example.com", "NS").ttl, 300);
        assert_eq!(find(&recs, "x.example.com", "A").ttl, 60);
        // A generic SOA (found by the fuzzer: it indexed the seventh field of data that has three).
        assert_eq!(find(&parse("@ SOA \\# 2 abcd\nns1 A 192.0.2.1\n").unwrap(), "ns1.example.com", "A").ttl, DEFAULT_TTL);
        // $TTL wins over the SOA minimum.
        assert_eq!(find(&parse("$TTL 900\n@ SOA ns1 host 1 1h 15m 1w 300\nns1 A 192.0.2.1\n").unwrap(), "ns1.example.com", "A").ttl, 900);
    }

    #[test]
    fn unknown_type_mnemonic_and_empty_zone_are_errors() {
        let e = parse("web2 IN CNAEM web\n").unwrap_err().to_string();
        assert!(e.contains("`CNAEM` is not a record type"), "{e}");
        let e = parse("; only a comment\n").unwrap_err().to_string();
        assert!(e.contains("holds no records"), "{e}");
        assert!(parse("x TYPE65534 \\# 0\n").is_ok());
    }

    #[test]
    fn quadratic_dedup_of_many_targets_at_one_name() {
        let mut text = String::new();
        for i in 0..80_000u32 {
            text.push_str(&format!("many A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
        }
        text.push_str("many A 10.0.0.0\nmany A 10.0.0.1\n");
        let recs = parse(&text).unwrap();
        let r = find(&recs, "many.example.com", "A");
        assert_eq!(r.targets.len(), 80_000);
        assert_eq!(r.targets[1], Target::Ip("10.0.0.1".parse().unwrap()), "first appearance order is kept");
    }

    #[test]
    fn origin_inference() {
        let r = ZoneReader { source: "z".into(), display_path: Path::new("zones/weird"), disk_path: Path::new("/nonexistent"), origin: None, include_roots: &[] };
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
        let r = ZoneReader { source: "z".into(), display_path: Path::new("example.com.zone"), disk_path: &p, origin: None, include_roots: &[] };
        let (_, recs) = r.read().unwrap();
        assert_eq!(find(&recs, "app.example.com", "A").location.as_ref().map(ToString::to_string).as_deref(), Some("hosts.inc:1"));
        std::fs::write(dir.path().join("hosts.inc"), "$INCLUDE hosts.inc\n").unwrap();
        assert!(r.read().unwrap_err().to_string().contains("nested deeper"));
    }
}
