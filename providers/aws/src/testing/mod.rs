//! A moto server for tests: started on a free loopback port from the virtualenv `scripts/setup`
//! creates, stopped on drop. Each test assumes a role into its own account id, so tests share one
//! binary run but never state.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};

pub mod faults;

/// The virtualenv holding moto: `DANGLE_VENV`, else `.venv` at the workspace root.
pub fn venv() -> PathBuf {
    std::env::var_os("DANGLE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"))
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto, or panics with what to do: a missing emulator is a failing test, never a skip.
    pub fn start() -> Self {
        let exe = venv().join("bin/moto_server");
        assert!(exe.exists(), "moto is not installed at {}: run scripts/setup", exe.display());
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
        // A watcher shell owns moto and ends it when this process is gone, so a server kept in a
        // `static` (whose Drop never runs) does not outlive the tests.
        let script = format!(
            "'{}' -H 127.0.0.1 -p {port} & m=$!; while kill -0 {} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; kill $m 2>/dev/null",
            exe.display(),
            std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; run scripts/setup", exe.display()));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {addr} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint: format!("http://{addr}") }
    }

    /// The static credentials moto accepts (its default account is 123456789012).
    pub fn credentials() -> Credentials {
        Credentials::new("testing", "testing", None, None, "moto")
    }

    /// An SDK config for `account` (assumed from the base credentials), for seeding an estate.
    pub async fn account(&self, account: &str, region: &str) -> SdkConfig {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Self::credentials())
            .load()
            .await;
        let out = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(role(account))
            .role_session_name("seed")
            .send()
            .await
            .expect("moto assume-role");
        let c = out.credentials().expect("credentials");
        let creds = Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "seed");
        base.to_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds)).build()
    }
}

/// An http endpoint nothing listens on: a port of 127.42.0.1, an address no test server binds (they
/// all bind 127.0.0.1), so the port cannot be taken between finding it and dialling it.
pub fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.42.0.1:0").expect("a free port on 127.42.0.1");
    format!("http://127.42.0.1:{}", l.local_addr().expect("bound").port())
}

/// The role a test assumes into `account`.
pub fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/dangle-readonly")
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The whole group: the watcher shell and moto.
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// Creates a public hosted zone and returns its id (without `/hostedzone/`).
pub async fn zone(cfg: &SdkConfig, name: &str) -> String {
    let out = aws_sdk_route53::Client::new(cfg)
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("{name}-{}", std::process::id()))
        .send()
        .await
        .expect("create zone");
    out.hosted_zone().expect("zone").id().rsplit('/').next().unwrap().to_string()
}

/// Creates a classic ELB (HTTP 80 → 80 in us-east-1a) and returns its DNS name.
pub async fn classic_elb(cfg: &SdkConfig, name: &str) -> String {
    use aws_sdk_elasticloadbalancing::types::Listener;
    let out = aws_sdk_elasticloadbalancing::Client::new(cfg)
        .create_load_balancer()
        .load_balancer_name(name)
        .listeners(Listener::builder().protocol("HTTP").load_balancer_port(80).instance_port(80).build().expect("a listener"))
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("create the classic ELB");
    out.dns_name().expect("a DNS name").to_string()
}

/// The name servers Route53 gave a hosted zone (without their final dot).
pub async fn name_servers(cfg: &SdkConfig, zone_id: &str) -> Vec<String> {
    let out = aws_sdk_route53::Client::new(cfg).get_hosted_zone().id(zone_id).send().await.expect("get zone");
    out.delegation_set().expect("a delegation set").name_servers().to_vec()
}

/// A record set with plain values.
pub fn rrs(name: &str, t: RrType, values: &[&str]) -> ResourceRecordSet {
    let mut b = ResourceRecordSet::builder().name(name).r#type(t).ttl(300);
    for v in values {
        b = b.resource_records(ResourceRecord::builder().value(*v).build().unwrap());
    }
    b.build().unwrap()
}

/// Upserts record sets, 500 per change batch.
pub async fn upsert(cfg: &SdkConfig, zone_id: &str, sets: Vec<ResourceRecordSet>) {
    let client = aws_sdk_route53::Client::new(cfg);
    for chunk in sets.chunks(500) {
        let mut batch = ChangeBatch::builder();
        for s in chunk {
            batch = batch.changes(Change::builder().action(ChangeAction::Upsert).resource_record_set(s.clone()).build().unwrap());
        }
        client.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch.build().unwrap()).send().await.expect("change records");
    }
}

