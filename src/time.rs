//! UTC timestamps without a date crate: RFC 3339 from the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `2026-11-29T05:03:33Z`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_unix(secs)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Seconds since the epoch as RFC 3339 UTC (Howard Hinnant's civil-from-days).
pub fn format_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since the epoch of a civil date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The earliest `YYYY-MM-DD` date in `text`, as (the date, its days since the epoch).
pub fn earliest_date(text: &str) -> Option<(String, i64)> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let mut best: Option<(String, i64)> = None;
    for i in 0..b.len().saturating_sub(9) {
        if digits(i..i + 4) && b[i + 4] == b'-' && digits(i + 5..i + 7) && b[i + 7] == b'-' && digits(i + 8..i + 10) {
            let (y, m, d) = (text[i..i + 4].parse().ok()?, text[i + 5..i + 7].parse().ok()?, text[i + 8..i + 10].parse().ok()?);
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                continue;
            }
            let days = days_from_civil(y, m, d);
            if best.as_ref().is_none_or(|(_, b)| days < *b) {
                best = Some((text[i..i + 10].to_string(), days));
            }
        }
    }
    best
}

/// Days since the epoch of the date an RFC 3339 timestamp starts with (`2026-11-29T…`).
pub fn days_of(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (stamp.get(..4)?.parse().ok()?, stamp.get(5..7)?.parse().ok()?, stamp.get(8..10)?.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Unix seconds of an RFC 3339 timestamp in UTC as dangle writes them (`2026-11-29T10:20:30Z`;
/// fractions ignored).
pub fn unix_of(stamp: &str) -> Option<i64> {
    let days = days_of(stamp)?;
    let b = stamp.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || !stamp.ends_with('Z') {
        return None;
    }
    let (h, m, s): (i64, i64, i64) = (stamp.get(11..13)?.parse().ok()?, stamp.get(14..16)?.parse().ok()?, stamp.get(17..19)?.parse().ok()?);
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// Whole days from `since` to `until` (RFC 3339 timestamps; dates only), when both are dates.
pub fn days_between(since: &str, until: &str) -> Option<i64> {
    Some(days_of(until)? - days_of(since)?)
}

/// Days since the epoch, now.
pub fn today() -> i64 {
    (SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) / 86_400) as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_read_as_unix_seconds() {
        assert_eq!(super::unix_of(&super::format_unix(1_796_448_213)), Some(1_796_448_213));
        assert_eq!(super::unix_of("2026-12-01T23:30:05Z"), Some(1_796_167_805));
        assert_eq!(super::unix_of("2026-12-01"), None);
    }

    #[test]
    fn civil_days_round_trip_and_dates_are_found() {
        for secs in [0u64, 951_782_400, 1_796_448_213] {
            let f = super::format_unix(secs);
            let (y, m, d) = (f[..4].parse().unwrap(), f[5..7].parse().unwrap(), f[8..10].parse().unwrap());
            assert_eq!(super::days_from_civil(y, m, d), (secs / 86_400) as i64, "{f}");
        }
        let snap = "aws=2025-07-24-20-23-14 sync 1; gcp=2025-07-24T19:16:28; oracle=2025-07-21T07:13:25";
        assert_eq!(super::earliest_date(snap).map(|(d, _)| d).as_deref(), Some("2025-07-21"));
        assert_eq!(super::earliest_date("changeNumber 363"), None);
    }

    #[test]
    fn days_between_dates() {
        assert_eq!(super::days_between("2026-11-01T23:59:59Z", "2026-12-01T00:00:00Z"), Some(30));
        assert_eq!(super::days_between("2024-02-28T00:00:00Z", "2024-03-01T00:00:00Z"), Some(2));
        assert_eq!(super::days_between("", "2026-12-01T00:00:00Z"), None);
        assert_eq!(super::days_of("2026-13-01"), None);
    }

    #[test]
    fn known_dates() {
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_unix(1_796_448_213), "2026-12-05T05:23:33Z");
    }
}
