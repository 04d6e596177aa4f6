//! The SVG writer drawn from the fixture charts: rows, bars, objectives, escaping, limits.

use super::*;
use crate::report::gantt::fixture::{
    assert_well_formed, bar_attr, drill, group_of, row, row_groups,
};

#[test]
fn draws_one_row_group_per_system_in_order() {
    let chart = drill();
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    let systems: Vec<String> = row_groups(&svg)
        .iter()
        .map(|g| {
            let at = g.find("data-system=\"").expect("data-system") + "data-system=\"".len();
            g[at..at + g[at..].find('"').expect("closed")].to_string()
        })
        .collect();
    let expected: Vec<String> = chart.rows.iter().map(|r| r.name.clone()).collect();
    assert_eq!(systems, expected);
    assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
    assert!(svg.contains(r#"viewBox="0 0 "#));
    assert!(svg.contains(">Drill: pathology</text>"));
    for tier in Tier::ALL {
        assert!(
            svg.contains(&format!(">{tier} tier</text>")),
            "legend has {tier}"
        );
    }
}

#[test]
fn bars_follow_the_scale() {
    let svg = drill().to_svg();
    // The latest time in the drill is the hour-long objectives: 10-minute ticks to 1h.
    let axis = Axis::covering(HOUR);
    assert_eq!(axis.span, HOUR);
    let lis = group_of(&svg, "pathology/lis");
    let x = |t: f64| PLOT_LEFT + t / axis.span * PLOT_WIDTH;
    assert!((bar_attr(lis, "x") - x(5.0 * MINUTE)).abs() < 0.06);
    let width = x(20.0 * MINUTE) - x(5.0 * MINUTE);
    assert!((bar_attr(lis, "width") - width).abs() < 0.06);
    assert!((bar_attr(lis, "height") - BAR_HEIGHT).abs() < 0.06);
    let mid = ROWS_TOP + 1.5 * ROW_HEIGHT;
    assert!((bar_attr(lis, "y") - (mid - BAR_HEIGHT / 2.0)).abs() < 0.06);
    // The not-finished bar runs to the end of the run, dashed.
    let pharmacy = group_of(&svg, "pharmacy/stock");
    let width = x(50.0 * MINUTE) - x(30.0 * MINUTE);
    assert!((bar_attr(pharmacy, "width") - width).abs() < 0.06);
    assert!(pharmacy.contains("stroke-dasharray"));
    // The failed bar is outlined in red and hatched.
    let beds = group_of(&svg, "beds/manager");
    assert!(beds.contains(&format!(r#"stroke="{ALERT_COLOUR}""#)));
    assert!(beds.contains(&format!("url(#{HATCH_ID})")));
    assert!(svg.contains(&format!(r#"<pattern id="{HATCH_ID}""#)));
    // Ticks are labelled with nice offsets.
    for label in [">0<", ">10m<", ">30m<", ">1h<"] {
        assert!(svg.contains(label), "axis label {label}");
    }
}

#[test]
fn bars_carry_a_tooltip() {
    let svg = drill().to_svg();
    let lis = group_of(&svg, "pathology/lis");
    let bar = &lis[lis.find(r#"<rect class="bar""#).expect("a bar")..];
    let title =
        &bar[bar.find("<title>").expect("a title")..bar.find("</title>").expect("a closed title")];
    for part in [
        "Laboratory Information System (pathology/lis)",
        "tier: critical",
        "started: 5m",
        "verified: 20m",
        "objective (RTO): 15m",
        "missed the objective by 5m",
    ] {
        assert!(title.contains(part), "{part:?} in {title:?}");
    }
}

#[test]
fn flags_only_the_row_that_missed_its_objective() {
    let chart = drill();
    let svg = chart.to_svg();
    for row in &chart.rows {
        let group = group_of(&svg, &row.name);
        let missed = row.name == "pathology/lis";
        assert_eq!(group.contains(r#"class="missed""#), missed, "{}", row.name);
        assert_eq!(
            group.contains(r#"data-missed="true""#),
            missed,
            "{}",
            row.name
        );
        assert_eq!(group.contains("missed-marker"), missed, "{}", row.name);
        assert_eq!(group.matches(r#"<path class="rto""#).count(), 1);
    }
    assert!(group_of(&svg, "pathology/lis").contains("missed RTO by 5m"));

    // A system still down when the run passes its objective missed it too.
    let mut late = chart.clone();
    late.finished_at = 2.0 * HOUR;
    let svg = late.to_svg();
    assert!(group_of(&svg, "letters/outpatient").contains(r#"class="missed""#));
    assert!(!group_of(&svg, "core/pas").contains(r#"class="missed""#));
}

#[test]
fn an_objective_beyond_the_axis_is_a_labelled_marker_at_the_edge_not_a_diamond() {
    // A two-minute drill against objectives of 30 minutes and 24 hours: the axis ends
    // near the run, so neither objective has a place on it.
    let chart = GanttChart {
        title: "short drill".to_string(),
        finished_at: 2.0 * MINUTE,
        rows: vec![
            GanttRow {
                start: Some(0.0),
                verified: Some(2.0 * MINUTE),
                objective: 30.0 * MINUTE,
                ..row("ns/pas", Tier::MissionCritical, Outcome::Verified)
            },
            GanttRow {
                start: Some(0.0),
                end: Some(MINUTE),
                objective: 24.0 * HOUR,
                ..row("ns/coding", Tier::Deferrable, Outcome::Failed)
            },
            GanttRow {
                start: Some(0.0),
                verified: Some(MINUTE),
                objective: 2.5 * MINUTE,
                ..row("ns/lab", Tier::Critical, Outcome::Verified)
            },
        ],
    };
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    let pas = group_of(&svg, "ns/pas");
    assert!(!pas.contains(r#"class="rto""#), "{pas}");
    assert!(pas.contains(">objective 30m →</text>"), "{pas}");
    let coding = group_of(&svg, "ns/coding");
    assert!(coding.contains(">objective 24h →</text>"), "{coding}");
    assert!(coding.contains(r#"class="failed""#), "{coding}");
    // An objective on the axis keeps its diamond where it belongs.
    let lab = group_of(&svg, "ns/lab");
    assert!(lab.contains(r#"<path class="rto""#) && !lab.contains("rto-beyond"));
}

#[test]
fn blocked_rows_have_no_bar() {
    let svg = drill().to_svg();
    let blocked = group_of(&svg, "letters/outpatient");
    assert!(!blocked.contains(r#"class="bar""#));
    assert!(blocked.contains(">blocked</text>"));
    // With the objective at the start of the run, the note moves past the RTO diamond.
    let chart = GanttChart {
        title: "early objective".to_string(),
        finished_at: HOUR,
        rows: vec![row("ns/blocked", Tier::Critical, Outcome::Blocked)],
    };
    let early = chart.to_svg();
    let group = group_of(&early, "ns/blocked");
    let note = &group[group.find(r#"<text class="blocked""#).expect("a note")..];
    let x: f64 = note[note.find(r#" x=""#).expect("x") + 4..]
        .split('"')
        .next()
        .and_then(|x| x.parse().ok())
        .expect("a number");
    assert!(
        x >= PLOT_LEFT + RTO_HALF,
        "note at {x} overlaps the diamond"
    );
    for system in [
        "core/pas",
        "pathology/lis",
        "beds/manager",
        "pharmacy/stock",
    ] {
        assert_eq!(
            group_of(&svg, system).matches(r#"class="bar""#).count(),
            1,
            "{system}"
        );
    }
}

#[test]
fn escapes_text() {
    let mut chart = drill();
    chart.title = "Ward <A> & \"B\"".to_string();
    chart.rows[0].label = "<&>\"'".to_string();
    chart.rows[0].name = "ns/<&>\"'".to_string();
    chart.rows[1].label = "bell\u{7}".to_string();
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    assert!(svg.contains("&lt;&amp;&gt;&quot;&apos;</text>"));
    assert!(svg.contains(r#"data-system="ns/&lt;&amp;&gt;&quot;&apos;""#));
    assert!(svg.contains("Ward &lt;A&gt; &amp; &quot;B&quot;"));
    assert!(!svg.contains("<&>"));
    assert!(!svg.contains('\u{7}'));
}

#[test]
fn truncates_long_labels_keeping_the_full_text_in_the_tooltip() {
    let mut chart = drill();
    let long = "Electronic Prescribing and Medicines Administration — Ward Edition";
    chart.rows[0].label = long.to_string();
    let svg = chart.to_svg();
    let group = group_of(&svg, "core/pas");
    let shown = truncate(long, LABEL_MAX_CHARS);
    assert_eq!(shown.chars().count(), LABEL_MAX_CHARS);
    assert!(shown.ends_with('…'));
    assert!(group.contains(&format!("{shown}</text>")));
    assert!(group.contains(&format!("<title>{long} (core/pas)")));
}

#[test]
fn empty_chart_renders() {
    let chart = GanttChart {
        title: String::new(),
        rows: Vec::new(),
        finished_at: 0.0,
    };
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    assert!(row_groups(&svg).is_empty());
    assert!(svg.contains("No systems in this run."));
    assert!(svg.contains("<title>Recovery timeline</title>"));
}

#[test]
fn nonsense_numbers_do_not_panic_or_leak_into_the_svg() {
    let values = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        0.0,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    let mut rows = Vec::new();
    for (i, &a) in values.iter().enumerate() {
        for &b in &values {
            for outcome in [
                Outcome::Verified,
                Outcome::Failed,
                Outcome::Blocked,
                Outcome::NotFinished,
            ] {
                rows.push(GanttRow {
                    start: Some(a),
                    verified: Some(b),
                    end: Some(b),
                    objective: a,
                    ..row(&format!("ns/row-{i}"), Tier::Critical, outcome)
                });
            }
        }
    }
    for finished_at in values {
        let chart = GanttChart {
            title: "nonsense".to_string(),
            rows: rows.clone(),
            finished_at,
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        assert_eq!(row_groups(&svg).len(), rows.len());
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{bad} in the output");
        }
    }
}

#[test]
fn zero_length_restores_stay_visible() {
    let chart = GanttChart {
        title: "instant".to_string(),
        finished_at: 0.0,
        rows: vec![GanttRow {
            start: Some(0.0),
            verified: Some(0.0),
            ..row("ns/instant", Tier::Important, Outcome::Verified)
        }],
    };
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    let group = group_of(&svg, "ns/instant");
    assert!((bar_attr(group, "width") - MIN_BAR_WIDTH).abs() < 0.06);
    assert!(!group.contains(r#"class="missed""#));
}

#[test]
fn huge_charts_are_capped_with_a_note() {
    let rows: Vec<GanttRow> = (0..MAX_ROWS + 7)
        .map(|i| GanttRow {
            start: Some(i as f64),
            verified: Some(i as f64 + 60.0),
            objective: HOUR,
            ..row(&format!("ns/s{i}"), Tier::ALL[i % 4], Outcome::Verified)
        })
        .collect();
    let chart = GanttChart {
        title: "big".to_string(),
        rows,
        finished_at: HOUR,
    };
    let svg = chart.to_svg();
    assert_eq!(row_groups(&svg).len(), MAX_ROWS);
    assert!(svg.contains("… and 7 more systems not shown"));
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
}

#[test]
fn a_row_in_parts_draws_each_part_and_the_legend_names_them_only_then() {
    use crate::report::gantt::{Segment, SegmentKind};
    let plain = drill().to_svg();
    assert!(!plain.contains("legend-segment") && !plain.contains(r#"class="segment""#));
    let mut chart = drill();
    chart.rows[0].segments = vec![
        Segment {
            kind: SegmentKind::Restore,
            start: 0.0,
            end: Some(2.0 * MINUTE),
            failed: false,
            note: None,
        },
        Segment {
            kind: SegmentKind::Verification,
            start: 2.0 * MINUTE,
            end: Some(5.0 * MINUTE),
            failed: false,
            note: None,
        },
        Segment {
            kind: SegmentKind::Soak,
            start: 5.0 * MINUTE,
            end: None,
            failed: false,
            note: Some("stage ward".into()),
        },
    ];
    let svg = chart.to_svg();
    assert_well_formed(&svg);
    let pas = group_of(&svg, "core/pas");
    assert!(!pas.contains(r#"class="bar""#), "{pas}");
    assert_eq!(pas.matches(r#"class="segment""#).count(), 3, "{pas}");
    // A part still under way runs to the run's end, dashed, and says so.
    assert!(
        pas.contains(r#"data-segment="soak" data-start="300" data-end="3000" data-open="true""#),
        "{pas}"
    );
    assert!(
        pas.contains("Patient Identity: soak at a stage, stage ward\nfrom 5m, still under way")
    );
    assert_eq!(svg.matches(r#"class="legend-segment""#).count(), 5);
    // The other rows keep their one bar.
    assert_eq!(
        group_of(&svg, "pathology/lis")
            .matches(r#"class="bar""#)
            .count(),
        1
    );
    let height = |svg: &str| -> f64 {
        let at = svg.find(r#"height=""#).expect("a height") + 8;
        svg[at..]
            .split('"')
            .next()
            .and_then(|h| h.parse().ok())
            .expect("a number")
    };
    assert_eq!(height(&svg), height(&plain) + LEGEND_LINE_HEIGHT);
}
