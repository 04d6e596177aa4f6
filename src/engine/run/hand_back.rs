//! Hand-back to staff, pure: a released system's `release.handBack` items and who has
//! completed each since its latest restore, from the people's hand-back Interventions.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::api::v1alpha1::HandBackItem;

/// A person's word that an item is done, as an Intervention records it (the API server
/// vouched for `by` when it was created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// The item, as worded in `release.handBack`.
    pub item: String,
    /// Who.
    pub by: String,
    /// Their groups.
    pub groups: Vec<String>,
    /// When they recorded it.
    pub at: Timestamp,
    /// The Intervention.
    pub request: String,
    /// What they wrote.
    pub comment: Option<String>,
}

/// Each of `items` with who completed it first, counting only what was recorded after
/// `since` (the system's latest restore: a restore again loses what was entered since the
/// last, so its items are done again). An item no longer in `items` is not shown.
pub fn progress(items: &[String], done: &[Done], since: Option<Timestamp>) -> Vec<HandBackItem> {
    items
        .iter()
        .map(|item| {
            let first = done
                .iter()
                .filter(|d| &d.item == item && since.is_none_or(|s| d.at >= s))
                .min_by_key(|d| (d.at, d.request.clone()));
            HandBackItem {
                item: item.clone(),
                done_by: first.map(|d| d.by.clone()),
                groups: first.map(|d| d.groups.clone()).unwrap_or_default(),
                done_at: first.map(|d| Time(d.at)),
                request: first.map(|d| d.request.clone()),
                comment: first.and_then(|d| d.comment.clone()),
            }
        })
        .collect()
}

/// How many of `items` are done.
pub fn done_count(items: &[HandBackItem]) -> usize {
    items.iter().filter(|i| i.done_by.is_some()).count()
}

/// The item of `items` that `wanted` names: its number (from 1) or its exact words, or
/// the one item that starts with them.
pub fn find<'a>(items: &'a [String], wanted: &str) -> Result<&'a str, String> {
    let list = || {
        items
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{}. {t}", i + 1))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if items.is_empty() {
        return Err("it has no hand-back items (release.handBack)".into());
    }
    if let Ok(n) = wanted.trim().parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| items.get(i))
            .map(String::as_str)
            .ok_or_else(|| format!("there is no item {n}: {}", list()));
    }
    if let Some(exact) = items.iter().find(|t| t.as_str() == wanted) {
        return Ok(exact);
    }
    let starting: Vec<&String> = items.iter().filter(|t| t.starts_with(wanted)).collect();
    match starting.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no item is {wanted:?}: {}", list())),
        _ => Err(format!(
            "{wanted:?} begins {} items; give its number: {}",
            starting.len(),
            list()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).expect("t")
    }

    fn done(item: &str, by: &str, s: i64) -> Done {
        Done {
            item: item.into(),
            by: by.into(),
            groups: vec![],
            at: at(s),
            request: format!("{by}-{s}"),
            comment: None,
        }
    }

    #[test]
    fn the_first_person_to_complete_an_item_since_the_latest_restore_is_shown() {
        let items = vec![
            "back-enter results".to_string(),
            "re-check allergies".to_string(),
        ];
        let all = [
            done("back-enter results", "ann", 10),
            done("back-enter results", "bob", 20),
            done("re-check allergies", "cat", 5),
            done("gone item", "dan", 30),
        ];
        let p = progress(&items, &all, None);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].done_by.as_deref(), Some("ann"));
        assert_eq!(p[1].done_by.as_deref(), Some("cat"));
        assert_eq!(done_count(&p), 2);
        // Restored again at 8: cat's check was before it and no longer counts.
        let p = progress(&items, &all, Some(at(8)));
        assert_eq!(p[0].done_by.as_deref(), Some("ann"));
        assert_eq!(p[1].done_by, None);
        assert_eq!(done_count(&p), 1);
    }

    #[test]
    fn an_item_is_found_by_number_words_or_a_unique_start() {
        let items = vec![
            "back-enter paper results".to_string(),
            "back-enter paper notes".to_string(),
            "re-check allergies".to_string(),
        ];
        assert_eq!(find(&items, "3"), Ok("re-check allergies"));
        assert_eq!(find(&items, "re-check"), Ok("re-check allergies"));
        assert_eq!(
            find(&items, "back-enter paper notes"),
            Ok("back-enter paper notes")
        );
        assert!(
            find(&items, "back-enter")
                .unwrap_err()
                .contains("give its number")
        );
        assert!(find(&items, "4").unwrap_err().contains("no item 4"));
        assert!(
            find(&items, "nothing")
                .unwrap_err()
                .contains("1. back-enter")
        );
        assert!(find(&[], "1").unwrap_err().contains("no hand-back items"));
    }
}
