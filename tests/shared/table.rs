//! Hand-built plan times and reading the table `lifeline status` prints: shared by the
//! status-table tests of the `pure` binary and the `status` tests of the `cluster` binary
//! (each mounts this file as `mod table`).

use k8s_openapi::jiff::Timestamp;

/// When the hand-built runs start.
pub const T0: &str = "2022-05-12T08:00:00Z";

/// `T0` plus `minutes`, as RFC 3339.
pub fn at(minutes: i64) -> String {
    let t: Timestamp = T0.parse().expect("T0 parses");
    (t + k8s_openapi::jiff::SignedDuration::from_secs(minutes * 60)).to_string()
}

/// The table's rows as cells, split at the header's column starts, keyed by SYSTEM.
/// Fails unless every line after the header has exactly the header's columns, each
/// cell starting where its header starts.
pub fn table_rows(table: &str) -> Vec<Vec<(String, String)>> {
    let lines: Vec<&str> = table.lines().collect();
    let header_at = lines
        .iter()
        .position(|l| l.starts_with("SYSTEM "))
        .unwrap_or_else(|| panic!("no header row in:\n{table}"));
    let header: Vec<char> = lines[header_at].chars().collect();
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || header[i - 1] == ' '))
        .collect();
    let names: Vec<String> = cells(&header, &starts);
    lines[header_at + 1..]
        .iter()
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            for &s in &starts[1..] {
                if s < chars.len() {
                    assert!(
                        chars[s - 1] == ' ',
                        "a cell runs into the next column in {line:?}\n{table}"
                    );
                }
            }
            names.iter().cloned().zip(cells(&chars, &starts)).collect()
        })
        .collect()
}

/// The cells of one line, cut at the column starts and trimmed.
fn cells(chars: &[char], starts: &[usize]) -> Vec<String> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            let s = s.min(end);
            chars[s..end].iter().collect::<String>().trim().to_string()
        })
        .collect()
}

/// The row whose SYSTEM is `system`, as (column, cell) pairs.
pub fn row<'a>(rows: &'a [Vec<(String, String)>], system: &str) -> &'a [(String, String)] {
    rows.iter()
        .find(|r| r[0].1 == system)
        .unwrap_or_else(|| panic!("no row for {system} in {rows:?}"))
}

/// The cell of `column` in `row`.
pub fn cell<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    &row.iter()
        .find(|(c, _)| c == column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .1
}
