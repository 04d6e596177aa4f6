//! Formatting helpers for the reports: the one place for how durations, moments, counts and
//! escaped text are written, shared by the drill report ([`super::drill`]) and the Gantt
//! chart ([`super::gantt`]).
//!
//! Durations are written in three ways, each for a different reader, and they are not
//! interchangeable:
//!
//! - [`human`]: words for people, exact to the second ("1 h 5 min", "30 min 20 s"); the
//!   drill report's recovery times and objectives.
//! - [`format_since`]: a stopwatch reading, signed ("+0:42", "+1:02:03", "-0:05"); when
//!   something happened, counted from the run's start, next to its UTC time.
//! - [`format_offset`]: the compact duration notation of the API ("45s", "1h30m"), which
//!   [`crate::api::v1alpha1::parse_duration`] reads back; the chart's axis, notes and
//!   tooltips. It is [`crate::api::v1alpha1::format_duration`] for a chart's `f64` seconds,
//!   with the chart's own readings of zero, NaN and infinity.

use std::fmt::{self, Write as _};
use std::time::Duration;

use k8s_openapi::jiff::{Timestamp, tz::TimeZone};

use crate::api::v1alpha1::format_duration;

// ---------------------------------------------------------------------------------------
// Durations and counts.

/// A duration for people: "45s", "41m", "1h5m", "30m20s", as everywhere else; exact, never
/// rounded, so a missed objective never reads as met.
pub(crate) fn human(seconds: u64) -> String {
    // One duration format everywhere: the CLI, `kubectl get`, the charts and the reports
    // all write "1h30m".
    crate::api::v1alpha1::format_duration(std::time::Duration::from_secs(seconds))
}

/// Seconds since the run started, like a stopwatch: "+0:42", "+12:05", "+1:02:03"; a
/// moment recorded before the start reads "-0:05".
pub fn format_since(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let total = seconds.unsigned_abs();
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m}:{s:02}")
    }
}

/// Formats seconds from the start of a run the way the axis labels read: `0`, `45s`, `15m`,
/// `1h`, `1h30m`, `2h5s`. Rounds to whole seconds; NaN and negative values format as `0`,
/// positive infinity as `∞`. Apart from `0`, the output is a duration that
/// [`crate::api::v1alpha1::parse_duration`] reads back: it is
/// [`crate::api::v1alpha1::format_duration`] of the rounded seconds.
pub fn format_offset(seconds: f64) -> String {
    if seconds == f64::INFINITY {
        return "∞".to_string();
    }
    if seconds.is_nan() || seconds < 0.5 {
        return "0".to_string();
    }
    // `as` saturates, so an absurdly large value cannot overflow. Whole seconds of at least
    // one never reach `format_duration`'s "0s" or "ms".
    format_duration(Duration::from_secs(seconds.round() as u64))
}

/// The plural ending of a count: "" for 1, otherwise "s" ("1 system", "2 systems").
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The possessive for a count: "its" for 1, otherwise "their" ("1 system met its
/// objective", "2 systems met their objective").
pub(crate) fn their(n: usize) -> &'static str {
    if n == 1 { "its" } else { "their" }
}

// ---------------------------------------------------------------------------------------
// Moments, in UTC.

/// The calendar parts of a timestamp in UTC.
struct Utc {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
}

fn utc(t: Timestamp) -> Utc {
    let z = t.to_zoned(TimeZone::UTC);
    Utc {
        year: z.year(),
        month: z.month(),
        day: z.day(),
        hour: z.hour(),
        minute: z.minute(),
        second: z.second(),
    }
}

/// Whether two moments fall on the same UTC date.
pub(crate) fn same_day(a: Timestamp, b: Timestamp) -> bool {
    let (a, b) = (utc(a), utc(b));
    (a.year, a.month, a.day) == (b.year, b.month, b.day)
}

/// "03:00:42".
pub(crate) fn time_of_day(t: Timestamp) -> String {
    let u = utc(t);
    format!("{:02}:{:02}:{:02}", u.hour, u.minute, u.second)
}

/// "2025-03-15 03:00:42 UTC".
pub(crate) fn full_utc(t: Timestamp) -> String {
    let u = utc(t);
    format!(
        "{:04}-{:02}-{:02} {} UTC",
        u.year,
        u.month,
        u.day,
        time_of_day(t)
    )
}

/// "2025-03-15T03:00:42Z", for `<time datetime>`.
pub(crate) fn iso(t: Timestamp) -> String {
    crate::engine::time::iso(t)
}

/// "15 March 2025".
pub(crate) fn long_date(t: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let u = utc(t);
    let month = usize::try_from(u.month - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("?");
    format!("{} {month} {}", u.day, u.year)
}

// ---------------------------------------------------------------------------------------
// Escaping: one way for each target language.

/// Text escaped for XML character data and attribute values, for the SVG chart and the
/// HTML page alike (XML escaping is also valid HTML). Characters XML 1.0 forbids (most
/// control characters) become U+FFFD so the document stays well-formed.
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                '\t' | '\n' | '\r' => f.write_char(c)?,
                c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => f.write_char('\u{fffd}')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The start of a self-contained report page, through `<body>`: UTF-8, a viewport, a
/// Content-Security-Policy that lets nothing load or run (only inline style), the title,
/// and `style` inline.
pub(crate) fn html_head(out: &mut String, title: &str, style: &str) -> fmt::Result {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    writeln!(out, "<title>{}</title>", Esc(title))?;
    // The style sheet on lines of its own, between the tags.
    writeln!(out, "<style>\n{style}</style>\n</head>\n<body>")
}

/// Text for Markdown: on one line, with what Markdown (or a table) would read as syntax
/// escaped, and `<`, `>` and `&` as entities so no HTML passes through.
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A file name as a Markdown link target: every byte other than letters, digits and
/// `-._~` percent-encoded.
pub(crate) fn url_path(file: &str) -> String {
    let mut out = String::with_capacity(file.len());
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 3600.0;

    #[test]
    fn formats_time_since_the_start_like_a_stopwatch() {
        assert_eq!(format_since(0), "+0:00");
        assert_eq!(format_since(42), "+0:42");
        assert_eq!(format_since(12 * 60 + 5), "+12:05");
        assert_eq!(format_since(3723), "+1:02:03");
        assert_eq!(format_since(-5), "-0:05");
        assert_eq!(format_since(i64::MIN), "-2562047788015215:30:08");
    }

    #[test]
    fn formats_offsets_like_durations() {
        assert_eq!(format_offset(0.0), "0");
        assert_eq!(format_offset(0.4), "0");
        assert_eq!(format_offset(45.0), "45s");
        assert_eq!(format_offset(15.0 * MINUTE), "15m");
        assert_eq!(format_offset(HOUR), "1h");
        assert_eq!(format_offset(HOUR + 30.0 * MINUTE), "1h30m");
        assert_eq!(format_offset(2.0 * HOUR + 5.0), "2h5s");
        assert_eq!(format_offset(48.0 * HOUR), "48h");
        assert_eq!(format_offset(89.6), "1m30s");
        assert_eq!(format_offset(-5.0), "0");
        assert_eq!(format_offset(f64::NAN), "0");
        assert_eq!(format_offset(f64::INFINITY), "∞");
        assert!(format_offset(1e300).ends_with('s'));
        for seconds in [45.0, 900.0, 5400.0, 7205.0] {
            let parsed = crate::api::v1alpha1::parse_duration(&format_offset(seconds));
            assert_eq!(parsed.map(|d| d.as_secs_f64()), Ok(seconds));
        }
    }
}
