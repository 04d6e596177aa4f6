//! The recovery record, pure: what a reconcile adds to it ([`transitions`]: every change
//! between the status before and after, and every Approval and intervention as the
//! operator saw it; [`drill_transitions`] for a drill's run), how an entry is sealed into
//! the chain ([`seal`]: the SHA-256 of the entry before, and of its own canonical JSON),
//! and how a chain is checked ([`verify`]: the first entry altered, missing, reordered or
//! added, or a chain cut short).
//!
//! - `mod.rs`: the chain: chunks, sealing, verifying.
//! - `plan.rs`: what a plan's reconcile adds.
//! - `drill.rs`: what a drill's reconcile adds.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use crate::api::v1alpha1::{RecordEntry, RecordKind};

mod drill;
mod plan;

pub use drill::drill_transitions;
pub use plan::transitions;

/// The most a chunk of a record holds, in bytes of JSON: well under etcd's 1.5 MiB
/// request limit, with room for the object around it.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The size of `entry` as a chunk stores it (its JSON).
pub fn entry_size(entry: &RecordEntry) -> usize {
    serde_json::to_vec(entry).map_or(0, |v| v.len())
}

/// Whether an entry of `entry_bytes` starts a new chunk after one holding `chunk_bytes`
/// (a chunk is never left empty, whatever one entry weighs).
pub fn starts_new_chunk(chunk_bytes: usize, entry_bytes: usize, chunk_empty: bool) -> bool {
    !chunk_empty && chunk_bytes + entry_bytes > CHUNK_BYTES
}

/// How `entries` fall into chunks: the number of entries in each.
pub fn chunk_lengths(entries: &[RecordEntry]) -> Vec<usize> {
    let mut out = vec![0usize];
    let mut bytes = 0;
    for e in entries {
        let n = entry_size(e);
        if starts_new_chunk(bytes, n, out.last() == Some(&0)) {
            out.push(0);
            bytes = 0;
        }
        bytes += n;
        if let Some(last) = out.last_mut() {
            *last += 1;
        }
    }
    out
}

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry before it is sealed into the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// When it happened.
    pub at: Time,
    /// What kind of thing.
    pub kind: RecordKind,
    /// The system it is about.
    pub system: Option<String>,
    /// The details.
    pub data: Value,
}

impl Body {
    /// Whether `entry` records the same thing as this body (time aside): how a reconcile
    /// that ran again after a crash knows what it already recorded.
    pub fn same_as(&self, entry: &RecordEntry) -> bool {
        self.kind == entry.kind && self.system == entry.system && self.data == entry.data
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of `entry`'s canonical JSON without its `hash`: keys sorted, no
/// whitespace.
pub fn entry_hash(entry: &RecordEntry) -> String {
    let canonical = json!({
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "system": entry.system,
        "data": entry.data,
        "prev": entry.prev,
    });
    // serde_json's maps are sorted by key (no `preserve_order`), so this is canonical.
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

/// Seals `body` as entry `seq` after the entry whose hash is `prev`.
pub fn seal(seq: u64, prev: &str, body: Body) -> RecordEntry {
    let mut entry = RecordEntry {
        seq,
        at: body.at,
        kind: body.kind,
        system: body.system,
        data: body.data,
        prev: prev.to_string(),
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// What is wrong with a chain: the first problem found, naming the entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// An entry's content no longer matches its hash, or the entry after it no longer
    /// follows it (it was changed and its hash made again).
    #[error("entry {seq} was altered: {why}")]
    Altered {
        /// The entry.
        seq: u64,
        /// What gave it away.
        why: String,
    },
    /// An entry is missing from the chain.
    #[error("entry {seq} is missing: the chain goes from {before} to {after}")]
    Missing {
        /// The missing entry.
        seq: u64,
        /// The entry before the gap (or none).
        before: String,
        /// The entry after it.
        after: u64,
    },
    /// Entries are out of order.
    #[error("entry {seq} is out of order: it stands where entry {expected} belongs")]
    Reordered {
        /// The entry found.
        seq: u64,
        /// The entry that belongs there.
        expected: u64,
    },
    /// An entry appears that the chain does not hold: a second entry with one number, or
    /// one after the head the manifest records.
    #[error("entry {seq} was added: {why}")]
    Added {
        /// The entry.
        seq: u64,
        /// Why it does not belong.
        why: String,
    },
    /// The chain ends before the head the manifest records: entries `entries` to
    /// `expected - 1` are missing from its end.
    #[error(
        "the chain was cut short: entry {entries} and every one after it are missing (it ends after {entries} entries, the manifest records {expected}, head {head})"
    )]
    Truncated {
        /// Entries found.
        entries: u64,
        /// Entries recorded.
        expected: u64,
        /// The head recorded.
        head: String,
    },
}

/// Checks `entries` (in stored order) as a chain from the genesis to `head` (the hash of
/// the last entry, and how many there are, as a manifest or the plan's status records
/// them, when known). Returns the first problem, naming the entry.
pub fn verify(entries: &[RecordEntry], head: Option<(&str, u64)>) -> Result<(), Tamper> {
    // The numbering first: a duplicate, a gap, or entries out of order.
    let mut seen = BTreeSet::new();
    for e in entries {
        if !seen.insert(e.seq) {
            return Err(Tamper::Added {
                seq: e.seq,
                why: "a second entry with this number".into(),
            });
        }
    }
    for (expected, e) in (0u64..).zip(entries) {
        if e.seq != expected {
            if seen.contains(&expected) {
                return Err(Tamper::Reordered {
                    seq: e.seq,
                    expected,
                });
            }
            return Err(Tamper::Missing {
                seq: expected,
                before: expected
                    .checked_sub(1)
                    .map_or("the start".into(), |b| format!("entry {b}")),
                after: e.seq,
            });
        }
    }
    // Each entry's content, then each link.
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        if entry_hash(e) != e.hash {
            return Err(Tamper::Altered {
                seq: e.seq,
                why: "its content does not match its hash".into(),
            });
        }
        if e.prev != prev {
            // The entry before was changed and its hash made again.
            let seq = i.checked_sub(1).map_or(e.seq, |b| entries[b].seq);
            return Err(Tamper::Altered {
                seq,
                why: format!("entry {} no longer follows it", e.seq),
            });
        }
        prev = e.hash.clone();
    }
    // The head.
    if let Some((head, count)) = head {
        let found = entries.len() as u64;
        if found < count {
            return Err(Tamper::Truncated {
                entries: found,
                expected: count,
                head: head.to_string(),
            });
        }
        if found > count {
            return Err(Tamper::Added {
                seq: count,
                why: format!("the manifest's head is entry {}", count.saturating_sub(1)),
            });
        }
        if found > 0 && prev != head {
            return Err(Tamper::Altered {
                seq: found - 1,
                why: "it is not the head the manifest records".into(),
            });
        }
    }
    Ok(())
}

pub(super) fn body(at: &Time, kind: RecordKind, system: Option<&str>, data: Value) -> Body {
    Body {
        at: at.clone(),
        kind,
        system: system.map(str::to_string),
        data,
    }
}

#[cfg(test)]
mod tests;
