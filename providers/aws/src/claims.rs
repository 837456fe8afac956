//! Claim checks (`[signals] claim_checks`): can anyone register this name right now? Read-only calls,
//! made only for names a dangling record points at. S3: `HeadBucket` of the bucket name (IAM
//! `s3:ListBucket`): no such bucket is "available now"; one that exists, anywhere, is someone else's,
//! since the record is dangling only after every configured account was enumerated without it.

use dangle_model::{Claim, ClaimAnswer};

/// Checks in flight at once (each a HeadBucket): enough to overlap the round trips, far below any
/// request rate S3 throttles.
pub(crate) const IN_FLIGHT: usize = 8;

/// Whether bucket `name` exists.
pub(crate) async fn bucket(s3: &aws_sdk_s3::Client, name: &str) -> ClaimAnswer {
    let answer = |claim, detail: &str| ClaimAnswer { claim, detail: detail.to_string() };
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => answer(Claim::Taken, "HeadBucket: 200, readable by this identity"),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(404) => answer(Claim::Available, "HeadBucket: 404"),
            Some(403) => answer(Claim::Taken, "HeadBucket: 403, in an account this identity cannot read"),
            Some(301) => answer(Claim::Taken, "HeadBucket: 301, in another region"),
            _ => ClaimAnswer { claim: Claim::Unknown, detail: format!("HeadBucket {name}: {}", crate::describe(&e)) },
        },
    }
}
