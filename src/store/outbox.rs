//! Alerts waiting to be delivered: a body that could not be posted stays here, named by its alert,
//! until a later run delivers it.

use super::db::vals;
use super::{now_rfc3339, Store, StoreError};

/// An undelivered alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub alert: String,
    pub run: i64,
    pub created_at: String,
    pub body: String,
    pub attempts: i64,
    pub last_error: String,
}

impl Store {
    /// The undelivered alerts of `alert`, oldest first.
    pub fn pending_alerts(&self, alert: &str) -> Result<Vec<Pending>, StoreError> {
        if !self.schema.ages {
            return Ok(Vec::new());
        }
        self.db
            .all("SELECT id, alert, run_id, created_at, body, attempts, last_error FROM alert_outbox WHERE alert = ?1 ORDER BY id", vals![alert], |r| {
                Ok(Pending {
                    id: r.i64(0)?,
                    alert: r.string(1)?,
                    run: r.i64(2)?,
                    created_at: r.string(3)?,
                    body: r.string(4)?,
                    attempts: r.i64(5)?,
                    last_error: r.string(6)?,
                })
            })
            .map_err(self.err())
    }

    /// Keeps a body `alert` could not deliver for run `run`.
    pub fn queue_alert(&self, alert: &str, run: i64, body: &str, attempts: i64, error: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO alert_outbox (alert, run_id, created_at, body, attempts, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vals![alert, run, now_rfc3339().as_str(), body, attempts, error],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// A pending alert was delivered.
    pub fn alert_delivered(&self, id: i64) -> Result<(), StoreError> {
        self.db.execute("DELETE FROM alert_outbox WHERE id = ?1", vals![id]).map(|_| ()).map_err(self.err())
    }

    /// A pending alert failed again.
    pub fn alert_failed(&self, id: i64, attempts: i64, error: &str) -> Result<(), StoreError> {
        self.db
            .execute("UPDATE alert_outbox SET attempts = attempts + ?1, last_error = ?2 WHERE id = ?3", vals![attempts, error, id])
            .map(|_| ())
            .map_err(self.err())
    }
}
