//! The test kit's servers as a process, for benchmarks and demos: `dangle-testkit SPEC READY` reads
//! a JSON spec `{"zones": [{"origin": "…", "text": "…"}], "http": [{"host": "…", "status": 200,
//! "body": "…"}]}`, starts the DNS and HTTP servers on loopback, writes `dns ADDR` and `http ADDR`
//! lines to READY, and runs until its standard input closes; then it prints what it was asked
//! (`dns_queries N`, `http_requests N`) on standard output.

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, spec, ready] = args.as_slice() else {
        eprintln!("usage: dangle-testkit SPEC.json READY-FILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(spec).unwrap_or_else(|e| {
        eprintln!("dangle-testkit: cannot read {spec}: {e}");
        std::process::exit(2)
    });
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("dangle-testkit: {spec}: {e}");
        std::process::exit(2)
    });
    let s = |x: &serde_json::Value, k: &str| x.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let zones: Vec<(String, String)> = v["zones"].as_array().into_iter().flatten().map(|z| (s(z, "origin"), s(z, "text"))).collect();
    let zones: Vec<(&str, &str)> = zones.iter().map(|(o, t)| (o.as_str(), t.as_str())).collect();
    let answers = v["http"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (s(a, "host"), dangle_testkit::Reply::new(a.get("status").and_then(|x| x.as_u64()).unwrap_or(200) as u16, s(a, "body"))))
        .collect();
    let dns = dangle_testkit::Dns::start(&zones);
    let http = dangle_testkit::Http::start(answers);
    if let Err(e) = std::fs::write(ready, format!("dns {}\nhttp {}\n", dns.addr, http.addr)) {
        eprintln!("dangle-testkit: cannot write {ready}: {e}");
        std::process::exit(2);
    }
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    println!("dns_queries {}\nhttp_requests {}", dns.queries(), http.hosts().len());
}
