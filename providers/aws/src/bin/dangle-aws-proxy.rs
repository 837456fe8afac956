//! A latency proxy in front of moto for the scale benchmark (`scripts/bench-scale latency`): every
//! request is held `--delay-ms` before it is relayed, on a thread of its own, so requests in flight
//! wait side by side as they do on a real endpoint.
//!
//!   dangle-aws-proxy --upstream http://127.0.0.1:PORT --delay-ms 1000 --ready FILE
//!
//! `--ready` receives the proxy's endpoint URL once it listens; it runs until killed.

use std::time::Duration;

use dangle_aws::testing::faults::FaultProxy;

fn main() {
    let (mut upstream, mut delay, mut ready) = (None, 0u64, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next();
        match (flag.as_str(), value) {
            ("--upstream", Some(v)) => upstream = Some(v),
            ("--delay-ms", Some(v)) => match v.parse() {
                Ok(n) => delay = n,
                Err(_) => fail("--delay-ms takes a number of milliseconds"),
            },
            ("--ready", Some(v)) => ready = Some(v),
            (other, _) => fail(&format!("unknown argument or missing value: `{other}`")),
        }
    }
    let Some(upstream) = upstream else { fail("--upstream is required") };
    let proxy = FaultProxy::start(&upstream);
    proxy.set_delay(Duration::from_millis(delay));
    match ready {
        Some(f) => {
            if let Err(e) = std::fs::write(&f, &proxy.endpoint) {
                fail(&format!("--ready {f}: {e}"));
            }
        }
        None => println!("{}", proxy.endpoint),
    }
    loop {
        std::thread::park();
    }
}

fn fail(message: &str) -> ! {
    eprintln!("dangle-aws-proxy: {message}");
    std::process::exit(2);
}
