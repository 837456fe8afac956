//! `scripts/refresh-ranges --fetch` against a local HTTP server that serves small copies of the
//! published range files (fixtures/cloud-ranges-mini): the refresh path a user runs, with no internet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Serves `dir` over HTTP/1.0 for exactly `requests` requests, then stops.
fn serve(dir: &'static Path, requests: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut served = Vec::new();
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match std::fs::read(dir.join(&path)) {
                Ok(body) => {
                    write!(stream, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
                    stream.write_all(&body).unwrap();
                }
                Err(_) => write!(stream, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap(),
            }
            served.push(path);
        }
        served
    });
    (port, handle)
}

/// Runs `scripts/refresh-ranges --fetch` against the mirror on `port`, writing `target`.
fn refresh(port: u16, target: &Path) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("python3")
        .arg(root.join("scripts/refresh-ranges"))
        .args(["--fetch", "--base-url", &format!("http://127.0.0.1:{port}"), "--out"])
        .arg(target)
        .output()
        .expect("python3 is needed to run scripts/refresh-ranges")
}

#[test]
fn refresh_from_a_mirror_writes_the_compact_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures: &'static Path = Box::leak(root.join("fixtures/cloud-ranges-mini").into_boxed_path());
    let (port, server) = serve(fixtures, 7);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("cloud_ranges.txt");
    let o = refresh(port, &target);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut served = server.join().unwrap();
    served.sort();
    assert_eq!(served.len(), 7, "{served:?}");
    let text = std::fs::read_to_string(&target).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("#snapshot\taws=2025-07-24-20-23-14 sync 1753388594; azure=changeNumber 363;"), "{header}");
    let body: Vec<&str> = lines.collect();
    // A prefix published as AMAZON, S3 and EC2 keeps the most specific service, EC2.
    assert!(body.contains(&"aws\tap-northeast-2\tEC2\t3.5.140.0/22"), "{body:#?}");
    assert!(!body.iter().any(|l| l.contains("AMAZON\t3.5.140.0/22")), "{body:#?}");
    assert!(body.contains(&"aws\tGLOBAL\tCLOUDFRONT\t120.52.22.96/27 205.251.249.0/24"), "{body:#?}");
    assert!(body.iter().any(|l| l.starts_with("azure\teastus\tAzureCloud\t")), "{body:#?}");
    assert!(body.iter().any(|l| l.starts_with("cloudflare\t\tCDN\t") && l.contains("2400:cb00::/32")), "{body:#?}");
    for p in ["gcp\t", "oracle\t", "digitalocean\t"] {
        assert!(body.iter().any(|l| l.starts_with(p)), "{p} missing: {body:#?}");
    }
}

#[test]
fn a_failing_mirror_is_an_error_not_an_empty_snapshot() {
    let empty: &'static Path = Box::leak(tempfile::tempdir().unwrap().keep().into_boxed_path());
    let (port, _server) = serve(empty, 1);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("cloud_ranges.txt");
    let o = refresh(port, &target);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("404"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!target.exists(), "a failed refresh must not leave a snapshot behind");
}
