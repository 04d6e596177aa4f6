//! The chart the unit tests draw, and helpers to read the SVG they get.

use super::layout::{HOUR, MINUTE};
use super::{GanttChart, GanttRow, Outcome};
use crate::api::v1alpha1::Tier;

pub(super) fn row(name: &str, tier: Tier, outcome: Outcome) -> GanttRow {
    GanttRow {
        name: name.to_string(),
        label: name.to_string(),
        tier,
        start: None,
        verified: None,
        end: None,
        released: None,
        segments: Vec::new(),
        objective: 0.0,
        outcome,
    }
}

/// A run of an hour with one system of each outcome; only `pathology/lis` missed its RTO.
pub(super) fn drill() -> GanttChart {
    GanttChart {
        title: "Drill: pathology".to_string(),
        finished_at: 50.0 * MINUTE,
        rows: vec![
            GanttRow {
                label: "Patient Identity".to_string(),
                start: Some(0.0),
                verified: Some(5.0 * MINUTE),
                objective: 15.0 * MINUTE,
                ..row("core/pas", Tier::MissionCritical, Outcome::Verified)
            },
            GanttRow {
                label: "Laboratory Information System".to_string(),
                start: Some(5.0 * MINUTE),
                verified: Some(20.0 * MINUTE),
                objective: 15.0 * MINUTE,
                ..row("pathology/lis", Tier::Critical, Outcome::Verified)
            },
            GanttRow {
                start: Some(10.0 * MINUTE),
                end: Some(12.0 * MINUTE),
                objective: HOUR,
                ..row("beds/manager", Tier::Important, Outcome::Failed)
            },
            GanttRow {
                objective: HOUR,
                ..row("letters/outpatient", Tier::Deferrable, Outcome::Blocked)
            },
            GanttRow {
                start: Some(30.0 * MINUTE),
                objective: HOUR,
                ..row("pharmacy/stock", Tier::Important, Outcome::NotFinished)
            },
        ],
    }
}

/// The text of every `<g class="row"` group; row groups contain no nested groups.
pub(super) fn row_groups(svg: &str) -> Vec<&str> {
    svg.match_indices(r#"<g class="row""#)
        .map(|(at, _)| {
            let rest = &svg[at..];
            let end = rest.find("</g>").map_or(rest.len(), |i| i + "</g>".len());
            &rest[..end]
        })
        .collect()
}

pub(super) fn group_of<'s>(svg: &'s str, system: &str) -> &'s str {
    let attr = format!(r#"data-system="{system}""#);
    let groups: Vec<_> = row_groups(svg)
        .into_iter()
        .filter(|g| g.contains(&attr))
        .collect();
    assert_eq!(groups.len(), 1, "exactly one row for {system}");
    groups[0]
}

/// The numeric value of `name="..."` in the first `<rect class="bar"` of `group`.
pub(super) fn bar_attr(group: &str, name: &str) -> f64 {
    let bar = &group[group.find(r#"<rect class="bar""#).expect("a bar")..];
    let bar = &bar[..bar.find('>').expect("a closed tag")];
    let key = format!(r#" {name}=""#);
    let value = &bar[bar.find(&key).expect("the attribute") + key.len()..];
    value[..value.find('"').expect("a closed value")]
        .parse()
        .expect("a number")
}

/// A small well-formedness check: tags nest and close, attribute values are quoted,
/// and every `&` starts an entity.
pub(super) fn assert_well_formed(svg: &str) {
    assert!(svg.starts_with("<svg "), "starts with <svg: {svg:.60}");
    assert!(svg.trim_end().ends_with("</svg>"));
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert_entities(text);
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "no < inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance: {tag}");
        assert_entities(tag);
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "closing tag matches");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().expect("a tag name");
            stack.push(name);
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_entities(rest);
}

fn assert_entities(text: &str) {
    for (at, _) in text.match_indices('&') {
        let entity = &text[at..text[at..].find(';').map_or(text.len(), |i| at + i + 1)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
            "bad entity {entity:?}"
        );
    }
}
