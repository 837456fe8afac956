//! Which accounts to scan, and with what credentials: the base credentials' own account, one account per
//! `assume_roles` entry, or every active account of the Organization with a role name assumed in each.
//! An account whose role cannot be assumed is a gap (`sts`), and the others go on.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use dangle_model::{CoverageGap, Hides};

use crate::{describe, AwsSourceBuilder};

/// One account to scan.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    /// How the credentials were obtained (for logs): `base`, the role ARN.
    pub via: String,
    pub config: SdkConfig,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account").field("id", &self.id).field("via", &self.via).finish_non_exhaustive()
    }
}

/// The account id in a role ARN (`arn:aws:iam::111111111111:role/x`).
pub fn account_of_role(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(_region), Some(account)) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

fn sts_gap(source: &Arc<str>, account: &str, error: String) -> CoverageGap {
    CoverageGap { source: source.clone(), account: Arc::from(account), region: None, service: crate::parts::STS, error, hides: Hides::Account }
}

async fn caller_account(config: &SdkConfig) -> Result<String, String> {
    let out = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(|e| describe(&e))?;
    out.account().map(str::to_string).ok_or_else(|| "GetCallerIdentity returned no account".to_string())
}

async fn assume(base: &SdkConfig, role: &str, external_id: Option<&str>) -> SdkConfig {
    let mut b = aws_config::sts::AssumeRoleProvider::builder(role).session_name("dangle").configure(base);
    if let Some(x) = external_id {
        b = b.external_id(x);
    }
    let provider = b.build().await;
    // A cache of its own for each account's session: the one the base config carries holds 64
    // credential providers and drops one at random past that, so with more accounts their sessions
    // were assumed again and again (16 AssumeRole calls per account at 300 accounts).
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .build()
}

/// `only`: the one account wanted (`dangle react`): the roles of other accounts are not assumed.
pub(crate) async fn discover(base: &SdkConfig, cfg: &AwsSourceBuilder, source: &Arc<str>, gaps: &mut Vec<CoverageGap>, only: Option<&str>) -> Vec<Account> {
    let mut roles: Vec<String> = cfg.assume_roles.clone();
    if let Some(name) = &cfg.organization_role {
        let client = aws_sdk_organizations::Client::new(base);
        let mut pages = client.list_accounts().into_paginator().send();
        let mut found = BTreeSet::new();
        loop {
            match pages.next().await {
                None => break,
                Some(Ok(page)) => {
                    for a in page.accounts() {
                        let active = a.status().is_some_and(|s| s.as_str().eq_ignore_ascii_case("ACTIVE"));
                        if let (true, Some(id)) = (active, a.id()) {
                            found.insert(id.to_string());
                        }
                    }
                }
                Some(Err(e)) => {
                    gaps.push(CoverageGap {
                        source: source.clone(),
                        account: Arc::from("organization"),
                        region: None,
                        service: crate::parts::ORGANIZATIONS,
                        error: describe(&e),
                        hides: Hides::Account,
                    });
                    break;
                }
            }
        }
        let partition = base.region().map(|r| if r.as_ref().starts_with("cn-") { "aws-cn" } else { "aws" }).unwrap_or("aws");
        roles.extend(found.into_iter().map(|id| format!("arn:{partition}:iam::{id}:role/{name}")));
    }
    let mut accounts: Vec<Account> = Vec::new();
    if roles.is_empty() {
        match caller_account(base).await {
            Ok(id) => accounts.push(Account { id, via: "base".into(), config: base.clone() }),
            Err(e) => gaps.push(sts_gap(source, "base credentials", e)),
        }
        return accounts;
    }
    let mut seen = BTreeSet::new();
    let mut wanted = Vec::new();
    for role in roles {
        if only.is_some_and(|id| account_of_role(&role).is_some_and(|a| a != id)) {
            continue;
        }
        let label = account_of_role(&role).unwrap_or(&role).to_string();
        if seen.insert(label.clone()) {
            wanted.push((role, label));
        }
    }
    // A thousand accounts are a thousand role sessions: as many at once as the run's bound
    // (`concurrency`; STS allows hundreds a second), in config order.
    use futures_util::StreamExt as _;
    let assumed: Vec<_> = futures_util::stream::iter(wanted)
        .map(|(role, label)| async move {
            let config = assume(base, &role, cfg.external_id.as_deref()).await;
            let id = caller_account(&config).await;
            (role, label, config, id)
        })
        .buffered(cfg.concurrency.unwrap_or(crate::DEFAULT_CONCURRENCY))
        .collect()
        .await;
    for (role, label, config, id) in assumed {
        match id {
            Ok(id) => accounts.push(Account { id, via: role, config }),
            Err(e) => gaps.push(sts_gap(source, &label, format!("cannot assume {role}: {e}"))),
        }
    }
    accounts
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_arns() {
        assert_eq!(super::account_of_role("arn:aws:iam::111122223333:role/dangle"), Some("111122223333"));
        assert_eq!(super::account_of_role("arn:aws-cn:iam::111122223333:role/a/b"), Some("111122223333"));
        assert_eq!(super::account_of_role("arn:aws:iam::1111:role/x"), None);
        assert_eq!(super::account_of_role("prod"), None);
    }
}
