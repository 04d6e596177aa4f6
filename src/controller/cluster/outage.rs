//! When the operator could not reach the API server. A probe asks for the server's
//! version every [`PROBE_INTERVAL`]; each stretch of failed probes is an outage, from the
//! last answer before it to the first after. Time in an outage does not count against a
//! restore timeout or a check's deadline: a control-plane blip is not a clinical failure.
//! Kept in memory: an operator restarted during an outage counts it (and says so in its
//! log when it starts).

use std::{collections::VecDeque, time::Duration};

use k8s_openapi::jiff::Timestamp;

use crate::engine::time::elapsed;

/// How often the probe asks the API server.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// How long one probe may take before it counts as unanswered.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most past outages kept.
const KEPT: usize = 100;

/// The outages seen, oldest first.
#[derive(Debug, Default)]
pub struct Outages {
    last_ok: Option<Timestamp>,
    down_since: Option<Timestamp>,
    past: VecDeque<(Timestamp, Timestamp)>,
}

impl Outages {
    /// The API server answered at `now`. Returns the outage this ends, if one.
    pub fn answered(&mut self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        self.last_ok = Some(now);
        let since = self.down_since.take()?;
        if self.past.len() == KEPT {
            self.past.pop_front();
        }
        self.past.push_back((since, now));
        Some((since, now))
    }

    /// The API server did not answer at `now`. Returns true when this starts an outage.
    pub fn unanswered(&mut self, now: Timestamp) -> bool {
        if self.down_since.is_some() {
            return false;
        }
        self.down_since = Some(self.last_ok.unwrap_or(now));
        true
    }

    /// How much of `from..to` fell in outages.
    pub fn within(&self, from: Timestamp, to: Timestamp) -> Duration {
        let current = self.down_since.map(|s| (s, to));
        self.past
            .iter()
            .copied()
            .chain(current)
            .map(|(a, b)| elapsed(a.max(from), b.min(to)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).expect("timestamp")
    }

    #[test]
    fn an_outage_runs_from_the_last_answer_to_the_first_after() {
        let mut o = Outages::default();
        o.answered(t(0));
        o.answered(t(10));
        assert!(o.unanswered(t(12)));
        assert!(!o.unanswered(t(14)), "one outage, not one per probe");
        assert_eq!(o.down_since, Some(t(10)));
        assert_eq!(o.within(t(0), t(40)), Duration::from_secs(30), "still down");
        assert_eq!(o.answered(t(100)), Some((t(10), t(100))));
        assert_eq!(o.answered(t(102)), None);
        assert_eq!(o.within(t(0), t(200)), Duration::from_secs(90));
        assert_eq!(o.within(t(50), t(60)), Duration::from_secs(10));
        assert_eq!(o.within(t(100), t(200)), Duration::ZERO);
        assert_eq!(o.within(t(0), t(5)), Duration::ZERO);
    }

    #[test]
    fn outages_add_up_and_only_the_latest_are_kept() {
        let mut o = Outages::default();
        for k in 0..(KEPT as i64 + 5) {
            o.answered(t(k * 10));
            o.unanswered(t(k * 10 + 1));
            o.answered(t(k * 10 + 5));
        }
        assert_eq!(o.past.len(), KEPT);
        assert_eq!(
            o.within(t(0), t(30)),
            Duration::ZERO,
            "the oldest are forgotten"
        );
        let end = KEPT as i64 * 10 + 50;
        assert_eq!(o.within(t(end - 20), t(end)), Duration::from_secs(10));
    }
}
