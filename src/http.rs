//! The HTTP client of dangle's requests besides the prober's own (alerts' webhooks, Certificate
//! Transparency searches): reqwest on dangle's rustls configuration with the system's roots, no
//! redirect followed (a redirect is an answer to report, not to chase, and would carry an alert's body
//! and token elsewhere).

/// A client for one run's requests.
pub fn client() -> anyhow::Result<reqwest::Client> {
    let tls = crate::tls::client_config(None).map_err(anyhow::Error::msg)?;
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls).redirect(reqwest::redirect::Policy::none()).build()?)
}
