//! When a drill's `spec.schedule` fires: a cron expression (five fields, or six with
//! seconds), in UTC, with missed firings folded into one run as a CronJob does.

use k8s_openapi::jiff::Timestamp;

/// A parsed `spec.schedule`.
pub struct Schedule(croner::Cron);

impl Schedule {
    /// Parses a cron expression: five fields, or six with leading seconds. The error says
    /// what is wrong with it.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "spec.schedule: '{expr}' has {fields} fields: a cron expression has five, or six with leading seconds"
            ));
        }
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expr)
            .map(Self)
            .map_err(|e| format!("spec.schedule: '{expr}' is not a cron expression: {e}"))
    }

    /// The first time it fires strictly after `after` (UTC).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let zoned = after.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC);
        self.0
            .find_next_occurrence(&zoned, false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The latest time it fired after `last` (exclusive) up to `now` (inclusive), if it
    /// did, and when it fires next after `now`. Many missed firings make one run, as a
    /// CronJob does; the run is recorded at its scheduled time, not when it was noticed.
    pub fn due(&self, last: Timestamp, now: Timestamp) -> (Option<Timestamp>, Option<Timestamp>) {
        /// Enough for a per-second schedule missed for over an hour; past that, `now`.
        const MAX_MISSED: usize = 4096;
        let next = self.next_after(now);
        let Some(mut fired) = self.next_after(last).filter(|t| *t <= now) else {
            return (None, next);
        };
        for _ in 0..MAX_MISSED {
            match self.next_after(fired) {
                Some(t) if t <= now => fired = t,
                _ => return (Some(fired), next),
            }
        }
        (Some(now), next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_fire_once_for_missed_times_and_name_the_next() {
        let s = Schedule::parse("0 3 * * 6").expect("weekly");
        let fri: Timestamp = "2026-11-20T12:00:00Z".parse().expect("ts");
        let sat = s.next_after(fri).expect("next");
        assert_eq!(sat.to_string(), "2026-11-21T03:00:00Z");
        let (fired, next) = s.due(fri, "2026-11-21T03:00:00Z".parse().expect("ts"));
        assert_eq!(fired, Some(sat));
        assert_eq!(
            next.map(|n| n.to_string()).as_deref(),
            Some("2026-11-28T03:00:00Z")
        );
        assert_eq!(
            s.due(sat, "2026-11-25T00:00:00Z".parse().expect("ts")).0,
            None
        );
        // Three missed Saturdays make one run, at the latest of them.
        let (fired, _) = s.due(fri, "2026-12-08T00:00:00Z".parse().expect("ts"));
        assert_eq!(
            fired.map(|t| t.to_string()).as_deref(),
            Some("2026-12-05T03:00:00Z")
        );
        let every5s = Schedule::parse("*/5 * * * * *").expect("seconds field");
        assert_eq!(
            every5s
                .next_after("2026-11-21T03:00:01Z".parse().expect("ts"))
                .map(|n| n.to_string())
                .as_deref(),
            Some("2026-11-21T03:00:05Z")
        );
        let err = Schedule::parse("0 0 3 * * 6 2027")
            .err()
            .expect("seven fields refused");
        assert!(err.contains("has 7 fields"), "{err}");
        let err = Schedule::parse("every saturday at three am")
            .err()
            .expect("refused");
        assert!(
            err.starts_with("spec.schedule: 'every saturday at three am' is not a cron expression"),
            "{err}"
        );
    }
}
