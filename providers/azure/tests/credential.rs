//! The credential chain with real azure_identity credentials: a stub `az` on PATH, App Service's
//! managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER) on loopback, a service principal's
//! certificate and a workload identity's federated token against a local token endpoint, and nothing
//! at all. One test
//! function in its own test binary: it sets process environment variables, which no other test may
//! see. IMDS (169.254.169.254) is never dialed: IDENTITY_ENDPOINT is always set here, so the managed
//! identity credential takes the App Service form.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use dangle_azure::credential::{Chosen, Kind};
use dangle_azure::AzureSource;
use dangle_model::Provider;
use serde_json::json;
use dangle_azure::testing::{ArmServer, IdentityEndpoint, Route};

const SUB: &str = "11111111-1111-1111-1111-111111111111";

fn set_env(vars: &[(&str, Option<&str>)]) {
    for (k, v) in vars {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_tries_each_credential_in_order_and_says_what_it_tried() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let identity = IdentityEndpoint::start("the-secret", "msi-token").await;
    let arm = ArmServer::start(50).await;
    arm.route(&format!("/subscriptions/{SUB}"), Route::Doc(json!({"subscriptionId": SUB})));
    let scope = format!("{}/.default", arm.url);
    // No service principal, no federated token; the managed identity endpoint refuses this header;
    // no `az` on PATH.
    set_env(&[
        ("AZURE_TENANT_ID", None),
        ("AZURE_CLIENT_ID", None),
        ("AZURE_CLIENT_SECRET", None),
        ("AZURE_CLIENT_CERTIFICATE_PATH", None),
        ("AZURE_FEDERATED_TOKEN_FILE", None),
        ("IDENTITY_ENDPOINT", Some(&identity.url)),
        ("IDENTITY_HEADER", Some("wrong")),
        ("PATH", Some(bin.to_str().unwrap())),
    ]);

    // 1. Nothing answers: one error naming each credential tried and why.
    let e = Chosen::new(None).get_token(&[&scope], None).await.unwrap_err().to_string();
    assert!(e.starts_with("no Azure credential: tried environment (AZURE_TENANT_ID and AZURE_CLIENT_ID are not both set); workload identity (AZURE_FEDERATED_TOKEN_FILE is not set); managed identity ("), "{e}");
    assert!(e.contains("; Azure CLI ("), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");

    // 2. A stub `az` on PATH: the chain falls through to the Azure CLI, and ARM sees its token.
    let args = dir.path().join("az-args");
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    std::fs::write(
        bin.join("az"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nprintf '{{\"accessToken\": \"cli-token\", \"expires_on\": {expires}, \"tokenType\": \"Bearer\"}}'\n",
            args.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("az"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let chain = Arc::new(Chosen::new(None));
    let src = AzureSource::new("azure", &arm.url, chain.clone(), Some(arm.ca_pem.as_bytes()), Duration::from_secs(10)).unwrap();
    let inv = src.with_subscriptions(vec![SUB.into()]).enumerate().await.unwrap();
    assert_eq!(chain.kind(), Some(Kind::AzureCli));
    assert!(inv.gaps.iter().all(|g| g.service != "subscription"), "{:?}", inv.gaps);
    assert!(arm.requests().iter().all(|r| r.bearer.as_deref() == Some("cli-token")), "{:?}", arm.requests());
    let called = std::fs::read_to_string(&args).unwrap();
    assert!(called.starts_with(&format!("account get-access-token -o json --scope {scope}")), "{called}");
    // `credential = "azure_cli"` alone gets the same token.
    let t = Chosen::new(Some(Kind::AzureCli)).get_token(&[&scope], None).await.unwrap();
    assert_eq!(t.token.secret(), "cli-token");

    // 3. The right identity header: managed identity answers first (it comes before the CLI).
    set_env(&[("IDENTITY_HEADER", Some("the-secret"))]);
    let chain = Chosen::new(None);
    let t = chain.get_token(&[&scope], None).await.unwrap();
    assert_eq!((t.token.secret(), chain.kind()), ("msi-token", Some(Kind::ManagedIdentity)));
    let asked = identity.log.lock().unwrap().clone();
    assert!(asked.iter().any(|q| q.contains(&format!("resource={}", arm.url.replace(':', "%3A").replace('/', "%2F")))), "{asked:?}");

    // 4. A service principal's certificate: an RS256 client assertion, signed with its key, posted to
    // Entra ID (here the local server, through AZURE_AUTHORITY_HOST and the provider's CA).
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client = "0b8f2c1e-1111-4a4a-9c9c-2d2d2d2d2d2d";
    let pem_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/azure/sp.pem");
    arm.route(&format!("/{tenant}/oauth2/v2.0/token"), Route::Token("cert-token".into()));
    set_env(&[
        ("AZURE_TENANT_ID", Some(tenant)),
        ("AZURE_CLIENT_ID", Some(client)),
        ("AZURE_CLIENT_CERTIFICATE_PATH", Some(pem_path)),
        ("AZURE_AUTHORITY_HOST", Some(&arm.url)),
    ]);
    let chain = Chosen::new(None).with_ca(Some(arm.ca_pem.as_bytes())).unwrap();
    let t = chain.get_token(&[&scope], None).await.unwrap();
    assert_eq!((t.token.secret(), chain.kind()), ("cert-token", Some(Kind::Environment)));
    let post = arm.requests().into_iter().find(|r| r.method == "POST").expect("a token request");
    assert!(post.path.starts_with(&format!("/{tenant}/oauth2/v2.0/token")), "{post:?}");
    let form: std::collections::HashMap<String, String> = post
        .body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2F", "/").replace("%2E", ".").replace("%2D", "-")))
        .collect();
    assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "{form:?}");
    assert_eq!(form["client_id"], client);
    check_assertion(&form["client_assertion"], pem_path, &format!("{}/{tenant}/oauth2/v2.0/token", arm.url), client);
    set_env(&[("AZURE_CLIENT_CERTIFICATE_PATH", None)]);

    // 5. Workload identity (AKS): the federated token file is the assertion.
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, "the.federated.jwt").unwrap();
    set_env(&[("AZURE_FEDERATED_TOKEN_FILE", Some(token_file.to_str().unwrap()))]);
    arm.route(&format!("/{tenant}/oauth2/v2.0/token"), Route::Token("workload-token".into()));
    let chain = Chosen::new(None).with_ca(Some(arm.ca_pem.as_bytes())).unwrap();
    let t = chain.get_token(&[&scope], None).await.unwrap();
    assert_eq!((t.token.secret(), chain.kind()), ("workload-token", Some(Kind::WorkloadIdentity)));
    let post = arm.requests().into_iter().rfind(|r| r.method == "POST").unwrap();
    assert!(post.body.contains("client_assertion=the.federated.jwt"), "{}", post.body);
    set_env(&[("AZURE_TENANT_ID", None), ("AZURE_CLIENT_ID", None), ("AZURE_FEDERATED_TOKEN_FILE", None), ("AZURE_AUTHORITY_HOST", None)]);

    // 6. A named credential is the only one tried.
    set_env(&[("IDENTITY_HEADER", Some("wrong"))]);
    let e = Chosen::new(Some(Kind::WorkloadIdentity)).get_token(&[&scope], None).await.unwrap_err().to_string();
    assert_eq!(e, "no Azure credential: tried workload identity (AZURE_FEDERATED_TOKEN_FILE is not set)");
}

/// The assertion is a JWT signed RS256 by the certificate's key, naming the certificate's thumbprint,
/// for `audience`, by and about `client`.
fn check_assertion(jwt: &str, pem_path: &str, audience: &str, client: &str) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let decode = |p: &str| -> serde_json::Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap() };
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let pem = std::fs::read(pem_path).unwrap();
    let (_, der) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let sha256 = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der.contents).as_ref());
    assert_eq!((header["alg"].as_str(), header["x5t#S256"].as_str()), (Some("RS256"), Some(sha256.as_str())), "{header}");
    assert_eq!((claims["aud"].as_str(), claims["iss"].as_str(), claims["sub"].as_str()), (Some(audience), Some(client), Some(client)), "{claims}");
    assert!(claims["exp"].as_u64().unwrap() > claims["nbf"].as_u64().unwrap());
    let cert = der.parse_x509().unwrap();
    let key = cert.public_key().subject_public_key.data.to_vec();
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("the assertion verifies with the certificate's key");
}
