//! Service fingerprints: what a cloud or SaaS host answers when nothing is claimed behind a name, from
//! the can-i-take-over-xyz list (EdOverflow/can-i-take-over-xyz `fingerprints.json`, CC BY 4.0, embedded
//! in `data/`) and dangle's own cloud entries (S3's error codes, which also say when a bucket is held).
//! No I/O here: the scan's fingerprint step makes the one request (or DNS lookup) per target and hands
//! the answer to [`match_answer`].
//!
//! A fingerprint is a second opinion, never an ownership judgement: it can raise or lower a flagged
//! row's severity and confidence, and it never makes a row `owned` or `dangling`.

use std::net::IpAddr;
use std::sync::OnceLock;

use dangle_model::cloud::{self, ends_with_label};
use dangle_model::DnsName;
use regex::Regex;

/// What can-i-take-over-xyz says of taking over a name at the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stance {
    /// "Vulnerable": anyone can claim an unclaimed name there.
    Vulnerable,
    /// "Edge case": claimable under conditions (a plan, a verification step, a region).
    EdgeCase,
    /// "Not vulnerable": the answer means unclaimed, but nobody else can claim the name.
    NotVulnerable,
}

impl Stance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vulnerable => "vulnerable",
            Self::EdgeCase => "edge case",
            Self::NotVulnerable => "not vulnerable",
        }
    }
}

/// What a fingerprint looks at.
#[derive(Debug)]
pub enum Test {
    /// The target does not exist in DNS (NXDOMAIN).
    NxDomain,
    /// The HTTP status code.
    Status(u16),
    /// Any of these patterns in the response body (case-insensitive).
    Body(Vec<Regex>),
}

/// One fingerprint of one service.
#[derive(Debug)]
pub struct Fingerprint {
    pub service: String,
    /// CNAME target suffixes it applies to (label-aligned); empty for the entries matched by cloud
    /// service (S3).
    pub suffixes: Vec<String>,
    pub test: Test,
    /// The fingerprint as its source wrote it, for the reason.
    pub text: String,
    pub stance: Stance,
    /// A negative fingerprint: this answer means the name is held (by someone).
    pub held: bool,
    /// Where the fingerprint comes from.
    pub source: &'static str,
    /// Applies to hosts of this cloud service (dangle's own cloud entries).
    service_match: Option<&'static str>,
}

impl Fingerprint {
    fn applies(&self, host: &str, service: Option<&str>) -> bool {
        if let (Some(want), Some(got)) = (self.service_match, service) {
            if want == got {
                return true;
            }
        }
        self.suffixes.iter().any(|s| ends_with_label(host, s) && host.len() > s.len())
    }
}

/// Where the can-i-take-over-xyz entries come from (shown in reasons and the README).
pub const CITOXYZ: &str = "can-i-take-over-xyz (CC BY 4.0)";
/// dangle's own cloud entries.
pub const DANGLE: &str = "dangle's cloud fingerprints";

/// Documented host suffixes of services the list names without one (the list's own `cname` is empty
/// there); the fingerprint and its stance stay the list's.
const EXTRA_SUFFIXES: &[(&str, &[&str])] = &[
    ("Github", &["github.io"]),
    ("Heroku", &["herokuapp.com", "herokudns.com"]),
    ("Netlify", &["netlify.app", "netlify.com"]),
    ("Shopify", &["myshopify.com"]),
    ("Vercel", &["vercel.app"]),
    ("Pantheon", &["pantheonsite.io"]),
    ("Tumblr", &["domains.tumblr.com"]),
    ("Webflow", &["proxy.webflow.com", "proxy-ssl.webflow.com"]),
    ("Zendesk", &["zendesk.com"]),
    ("Fastly", &["fastly.net"]),
];

/// Every fingerprint: the list's entries that name a suffix and a test, then dangle's cloud entries.
pub fn all() -> &'static [Fingerprint] {
    static ALL: OnceLock<Vec<Fingerprint>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = parse_list(include_str!("data/can-i-take-over-xyz-fingerprints.json"));
        out.extend(cloud_entries());
        out
    })
}

/// The fingerprints that apply to a CNAME target.
pub fn for_host(host: &DnsName) -> Vec<&'static Fingerprint> {
    let h = host.as_str();
    let service = cloud::classify(host).map(|m| m.service.name);
    all().iter().filter(|f| f.applies(h, service)).collect()
}

/// The list's parsed entries (those with a suffix and a usable fingerprint).
fn parse_list(json: &str) -> Vec<Fingerprint> {
    let raw: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
    let mut out = Vec::new();
    for e in raw.as_array().into_iter().flatten() {
        let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let service = s("service").to_string();
        let stance = match s("status") {
            "Vulnerable" => Stance::Vulnerable,
            "Edge case" => Stance::EdgeCase,
            "Not vulnerable" => Stance::NotVulnerable,
            _ => continue,
        };
        let mut suffixes: Vec<String> = Vec::new();
        for c in e.get("cname").and_then(|c| c.as_array()).into_iter().flatten() {
            // Entries are host suffixes; a few are addresses or URLs, which no CNAME target matches.
            if let Some(c) = c.as_str().and_then(|c| DnsName::parse(c).ok()) {
                if c.label_count() >= 2 && c.as_str().parse::<IpAddr>().is_err() && !suffixes.iter().any(|s| s == c.as_str()) {
                    suffixes.push(c.as_str().to_string());
                }
            }
        }
        if let Some((_, more)) = EXTRA_SUFFIXES.iter().find(|(name, _)| *name == service) {
            suffixes.extend(more.iter().map(|s| s.to_string()));
        }
        if suffixes.is_empty() {
            continue;
        }
        let text = s("fingerprint").to_string();
        let test = if e.get("nxdomain").and_then(|v| v.as_bool()) == Some(true) {
            Test::NxDomain
        } else if let Some(code) = e.get("http_status").and_then(|v| v.as_u64()).and_then(|c| u16::try_from(c).ok()) {
            Test::Status(code)
        } else {
            match body_patterns(&text) {
                Some(p) => Test::Body(p),
                None => continue,
            }
        };
        out.push(Fingerprint { service, suffixes, test, text, stance, held: false, source: CITOXYZ, service_match: None });
    }
    out
}

/// A fingerprint's text as patterns: alternatives are written "`A` `B`" in the list, `&#124;` is a `|`,
/// and a text with `.*`, `\.` or `|` is a regular expression (the list's few such entries); anything
/// else matches as written.
fn body_patterns(text: &str) -> Option<Vec<Regex>> {
    let text = text.replace("&#124;", "|").replace("&rsquo;", "\u{2019}").replace("&amp;", "&");
    let mut out = Vec::new();
    for alt in text.split("` `").map(|a| a.trim_matches('`').trim()).filter(|a| !a.is_empty()) {
        let regex_like = alt.contains(".*") || alt.contains("\\.") || alt.contains('|');
        let pattern = if regex_like { alt.to_string() } else { regex::escape(alt) };
        let built = regex::RegexBuilder::new(&pattern).case_insensitive(true).size_limit(1 << 20).build();
        let re = match built {
            Ok(re) => re,
            Err(_) => regex::RegexBuilder::new(&regex::escape(alt)).case_insensitive(true).build().ok()?,
        };
        out.push(re);
    }
    (!out.is_empty()).then_some(out)
}

/// dangle's cloud entries: S3's REST and website endpoints (every region's form) answer with an error
/// code that tells a missing bucket from a held one.
fn cloud_entries() -> Vec<Fingerprint> {
    let body = |p: &str| Test::Body(body_patterns(p).expect("a valid pattern"));
    vec![
        Fingerprint {
            service: "AWS/S3".into(),
            suffixes: Vec::new(),
            test: body("NoSuchBucket"),
            text: "NoSuchBucket".into(),
            stance: Stance::Vulnerable,
            held: false,
            source: DANGLE,
            service_match: Some(cloud::S3.name),
        },
        Fingerprint {
            service: "AWS/S3".into(),
            suffixes: Vec::new(),
            test: body("<Code>AccessDenied</Code>|<Code>AllAccessDisabled</Code>|<ListBucketResult|NoSuchWebsiteConfiguration|<Code>NoSuchKey</Code>|Code: NoSuchKey"),
            text: "AccessDenied, AllAccessDisabled, ListBucketResult, NoSuchWebsiteConfiguration or NoSuchKey (the bucket exists)".into(),
            stance: Stance::Vulnerable,
            held: true,
            source: DANGLE,
            service_match: Some(cloud::S3.name),
        },
    ]
}

/// What a target answered, as the fingerprint step saw it.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The target does not exist in DNS.
    NxDomain,
    /// The target resolves (to these addresses).
    Resolves,
    /// An HTTP response: its status and the first bytes of its body.
    Http { status: u16, body: &'a [u8] },
}

/// The fingerprint an answer matches, of those that apply to its target: a "nothing claimed here" one
/// first, then a negative ("held") one.
pub fn match_answer<'f>(fps: &[&'f Fingerprint], answer: Answer<'_>) -> Option<&'f Fingerprint> {
    let body = match answer {
        Answer::Http { body, .. } => Some(String::from_utf8_lossy(body)),
        _ => None,
    };
    let hit = |f: &Fingerprint| match (&f.test, answer) {
        (Test::NxDomain, Answer::NxDomain) => true,
        (Test::Status(want), Answer::Http { status, .. }) => *want == status,
        (Test::Body(p), Answer::Http { .. }) => body.as_deref().is_some_and(|b| p.iter().any(|re| re.is_match(b))),
        _ => false,
    };
    let positive = fps.iter().copied().filter(|f| !f.held).find(|f| hit(f));
    positive.or_else(|| fps.iter().copied().filter(|f| f.held).find(|f| hit(f)))
}

/// The part of `body` a body fingerprint matched (what a reason quotes: the answer's own words, not
/// the pattern).
pub fn matched_text(fp: &Fingerprint, body: &[u8]) -> Option<String> {
    let Test::Body(patterns) = &fp.test else { return None };
    let text = String::from_utf8_lossy(body);
    patterns.iter().find_map(|re| re.find(&text).map(|m| m.as_str().to_string()))
}

/// Does any of these fingerprints need an HTTP request (not only a DNS lookup)?
pub fn needs_http(fps: &[&Fingerprint]) -> bool {
    fps.iter().any(|f| !matches!(f.test, Test::NxDomain))
}

/// Does any of these fingerprints look for NXDOMAIN?
pub fn needs_lookup(fps: &[&Fingerprint]) -> bool {
    fps.iter().any(|f| matches!(f.test, Test::NxDomain))
}

/// A service listed as vulnerable to takeover (by CNAME suffix), whatever its test.
pub fn known_takeover(name: &DnsName) -> Option<&'static str> {
    let n = name.as_str();
    all().iter().filter(|f| f.source == CITOXYZ && f.stance == Stance::Vulnerable).find(|f| f.applies(n, None)).map(|f| f.service.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    fn http(fps: &[&'static Fingerprint], status: u16, body: &str) -> Option<&'static Fingerprint> {
        match_answer(fps, Answer::Http { status, body: body.as_bytes() })
    }

    #[test]
    fn the_list_loads_with_its_tests() {
        let all = all();
        assert!(all.iter().filter(|f| f.source == CITOXYZ).count() >= 30, "most entries with a suffix load");
        let readme = for_host(&host("gone.readme.io"));
        assert_eq!(readme.len(), 1);
        assert_eq!(readme[0].stance, Stance::Vulnerable);
        assert!(http(&readme, 200, "<h1>The creators of this project are still working on making everything perfect!</h1>").is_some());
        assert!(http(&readme, 200, "<h1>Welcome to our docs</h1>").is_none());
        assert!(for_host(&host("www.example.org")).is_empty());
    }

    #[test]
    fn regular_expressions_alternatives_and_entities() {
        let ngrok = for_host(&host("abc.ngrok.io"));
        assert!(http(&ngrok, 404, "Tunnel abc.ngrok.io not found").is_some(), "`.*` is a pattern");
        assert!(http(&ngrok, 404, "Tunnel found").is_none());
        let ghost = for_host(&host("blog.ghost.io"));
        assert!(http(&ghost, 200, "Failed to resolve DNS path for this host").is_some(), "&#124; is an alternation");
        let fp = http(&ghost, 200, "<p>Failed to resolve DNS path for this host</p>").unwrap();
        assert_eq!(matched_text(fp, b"<p>Failed to resolve DNS path for this host</p>").as_deref(), Some("Failed to resolve DNS path for this host"));
        assert!(http(&ghost, 200, "Site unavailable.").is_some());
        // A plain text's dots and question marks match only themselves.
        let gemfury = for_host(&host("x.furyns.com"));
        assert!(http(&gemfury, 404, "404: This page could not be found.").is_some());
        assert!(http(&gemfury, 404, "404: This page could not be foundX").is_none());
    }

    #[test]
    fn status_and_nxdomain_tests() {
        let helprace = for_host(&host("x.helprace.com"));
        assert!(http(&helprace, 301, "").is_some());
        assert!(http(&helprace, 200, "").is_none());
        let eb = for_host(&host("gone-env.us-east-1.elasticbeanstalk.com"));
        assert!(needs_lookup(&eb) && !needs_http(&eb));
        assert_eq!(match_answer(&eb, Answer::NxDomain).map(|f| f.stance), Some(Stance::Vulnerable));
        assert!(match_answer(&eb, Answer::Resolves).is_none());
        let elb = for_host(&host("x-1.us-east-1.elb.amazonaws.com"));
        assert_eq!(match_answer(&elb, Answer::NxDomain).map(|f| f.stance), Some(Stance::NotVulnerable));
    }

    #[test]
    fn s3_tells_missing_from_held() {
        for h in ["media.example.com.s3.amazonaws.com", "b.s3.eu-west-1.amazonaws.com", "b.s3-website-us-east-1.amazonaws.com"] {
            let fps = for_host(&host(h));
            let missing = http(&fps, 404, "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>").unwrap();
            assert!(!missing.held, "{h}");
            let held = http(&fps, 403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>").unwrap();
            assert!(held.held, "{h}");
            assert!(http(&fps, 200, "<html>hello</html>").is_none(), "{h}");
        }
    }

    #[test]
    fn suffixes_the_list_leaves_out_are_added() {
        let gh = for_host(&host("someone.github.io"));
        assert_eq!(gh.len(), 1);
        assert_eq!(gh[0].stance, Stance::EdgeCase);
        assert!(http(&gh, 404, "There isn't a GitHub Pages site here.").is_some());
    }

    #[test]
    fn takeover_list() {
        assert_eq!(known_takeover(&host("docs.readme.io")), Some("Readme.io"));
        assert_eq!(known_takeover(&host("www.example.org")), None);
        assert_eq!(known_takeover(&host("someone.github.io")), None, "an edge case is not listed as vulnerable");
    }
}
