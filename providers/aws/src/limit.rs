//! A per-account request pacer: Route53 allows five requests per second per account, and a scan that
//! exceeds it only earns throttling retries.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub(crate) struct Pacer {
    period: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    pub(crate) fn per_second(n: u32) -> Self {
        Self { period: Duration::from_secs(1) / n.max(1), next: Mutex::new(Instant::now()) }
    }

    /// Waits for this request's slot.
    pub(crate) async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.period;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(start_paused = true)]
    async fn five_per_second() {
        let p = super::Pacer::per_second(5);
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            p.wait().await;
        }
        // The first goes at once, then one every 200 ms.
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(2000));
    }
}
