//! Second opinions on what the reconciler judged, each behind one [`Signal`]: claim checks (the
//! providers' own availability reads), Certificate Transparency, service fingerprints, delegations and
//! external chains asked live, and the resolution path's findings about our zones. A signal looks at
//! the run so far ([`Run`]) and returns what it found ([`Found`]): typed evidence about rows, which
//! [`crate::reconcile::evidence::apply`] folds into the judgements (the one severity table), and
//! findings about names. Shared here: the pace of a signal's requests and their fan-out under one
//! time bound. Certificate baselines ([`baseline`]) follow the probes, whose answers they compare.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dangle_model::{BoxFuture, DnsRecord};

use crate::reconcile::{Claims, Evidence, Judgement};
use crate::store::NameFinding;

pub mod baseline;
pub mod chain;
pub mod claims;
pub mod ct;
pub mod delegation;
pub mod fingerprint;
pub mod names;

/// The run so far, as a signal sees it: the records, their judgements and what earlier signals found.
pub struct Run<'a> {
    pub records: &'a [DnsRecord],
    pub judgements: &'a [Judgement],
    pub claims: &'a Claims,
}

/// What a signal found.
#[derive(Debug, Default)]
pub struct Found {
    /// About rows: applied to the judgements before the next signal asks.
    pub evidence: Vec<Evidence>,
    /// About names and zones (a zone delegated elsewhere, a wildcard answering for a deleted name).
    pub names: Vec<NameFinding>,
}

/// A second opinion.
pub trait Signal: Send + Sync {
    /// Asks what it asks about `run` (only what the reconciler flagged) and says what it found.
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found>;
}

/// How much a signal may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// All of its lookups and requests together.
    pub timeout: Duration,
    /// Lookups and requests started per second, at most.
    pub per_second: u32,
}

/// The shared pace of a signal's requests: each awaits a tick ([`tick`]).
pub type Pace = Arc<tokio::sync::Mutex<tokio::time::Interval>>;

impl Limits {
    pub fn pace(&self) -> Pace {
        Arc::new(tokio::sync::Mutex::new(ticks(self.per_second)))
    }
}

/// Waits for the pace's next tick.
pub async fn tick(pace: &Pace) {
    pace.lock().await.tick().await;
}

/// `per_second` ticks a second (the first at once); a late tick delays the rest rather than bursting.
pub fn ticks(per_second: u32) -> tokio::time::Interval {
    let mut i = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second.max(1))));
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// What a step did, for the log and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lookups: usize,
    pub requests: usize,
    pub matched: usize,
}

/// Where the jobs of a [`fan_out`] put what they found, each in its own slot, as they find it.
pub struct Slots<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Slots<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Slots<T> {
    /// Changes slot `i`.
    pub fn set(&self, i: usize, f: impl FnOnce(&mut T)) {
        if let Some(slot) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get_mut(i) {
            f(slot);
        }
    }
}

/// Runs `job(i, pace, slots)` for `0..n` side by side, all within `limits.timeout`: each job awaits
/// [`tick`] before each request and writes what it finds into slot `i`. Past the bound, what the jobs
/// wrote stands and the rest stays default (`what` names the step in the warning).
pub async fn fan_out<T, F, Fut>(n: usize, limits: Limits, what: &str, job: F) -> Vec<T>
where
    T: Default + Send + 'static,
    F: Fn(usize, Pace, Slots<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Slots(Arc::new(Mutex::new((0..n).map(|_| T::default()).collect())));
    let pace = limits.pace();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        set.spawn(job(i, pace.clone(), slots.clone()));
    }
    let all = async { while set.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.timeout, all).await.is_err() {
        tracing::warn!(n, "{what} took longer than {} s: the rest are left unchecked", limits.timeout.as_secs());
    }
    let mut got = slots.0.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::take(&mut *got)
}
