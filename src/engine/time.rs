//! The two rules every figure of a recovery rests on, written once: how many seconds lie
//! between two recorded moments, and whether a recovery met its objective. The engine,
//! the drill measurements, `lifeline status` and the report all use these, so a board
//! reading the report sees the figure the operator recorded.

use k8s_openapi::jiff::Timestamp;

/// Whole seconds from `from` to `to`, counted between the two moments' whole seconds, as
/// Kubernetes stores a timestamp (RFC 3339, to the second): a figure anyone can work out
/// again from the recorded timestamps. `None` when `to` is earlier than `from`.
pub fn seconds_between(from: Timestamp, to: Timestamp) -> Option<u64> {
    u64::try_from(to.as_second() - from.as_second()).ok()
}

/// Whole seconds from `origin` to `t`, negative when `t` is earlier: where a moment lies
/// on a run's clock (the report's timeline and chart).
pub fn offset_seconds(origin: Timestamp, t: Timestamp) -> i64 {
    t.as_second() - origin.as_second()
}

/// The time from `from` to `to`, to the millisecond, zero when `to` is earlier: for
/// timers (the next check attempt, a fault's end), not for recorded figures.
pub fn elapsed(from: Timestamp, to: Timestamp) -> std::time::Duration {
    let ms = to.as_millisecond() - from.as_millisecond();
    std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The moment `d` after `t`, to the whole second as Kubernetes records `t` (the latest
/// moment there is, for a duration too long to add): when a timer set at `t` ends.
pub fn after(t: Timestamp, d: std::time::Duration) -> Timestamp {
    let whole = Timestamp::from_second(t.as_second()).unwrap_or(t);
    k8s_openapi::jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| whole.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `t` as Kubernetes records it, to the second: "2025-03-15T03:00:42Z".
pub fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Whether a recovery that took `took` seconds met an objective of `objective` seconds:
/// met when it took no longer. `None` when there is no objective to judge it by.
pub fn objective_met(took: u64, objective: Option<u64>) -> Option<bool> {
    objective.map(|objective| took <= objective)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    #[test]
    fn seconds_are_counted_between_whole_seconds() {
        let from = at("2026-05-01T10:00:00.900Z");
        assert_eq!(
            seconds_between(from, at("2026-05-01T10:00:01.100Z")),
            Some(1)
        );
        assert_eq!(
            seconds_between(from, at("2026-05-01T10:00:00.950Z")),
            Some(0)
        );
        assert_eq!(seconds_between(from, at("2026-05-01T10:15:00Z")), Some(900));
        assert_eq!(seconds_between(from, at("2026-05-01T09:59:59Z")), None);
        assert_eq!(offset_seconds(from, at("2026-05-01T09:59:59Z")), -1);
        assert_eq!(
            elapsed(from, at("2026-05-01T10:00:01.100Z")),
            std::time::Duration::from_millis(200)
        );
        assert_eq!(
            elapsed(from, at("2026-05-01T09:00:00Z")),
            std::time::Duration::ZERO
        );
    }

    #[test]
    fn an_objective_is_met_on_the_second_and_missed_after_it() {
        assert_eq!(objective_met(900, Some(900)), Some(true));
        assert_eq!(objective_met(901, Some(900)), Some(false));
        assert_eq!(objective_met(5, None), None);
    }
}
