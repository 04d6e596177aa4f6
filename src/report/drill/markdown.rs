//! The report as Markdown, for engineers and wikis.

use std::fmt::{self, Write as _};

use super::model::{CHART_CAPTION, Cell, Report, Table, TableSection};
use crate::api::v1alpha1::RecoveryDrill;
use crate::report::fmt::{md, url_path};

/// What the Markdown report says about the chart when it has no SVG file beside it.
pub const GANTT_NOTE: &str = "Gantt chart: use --format html, or -o FILE to also write the SVG";

/// Where the Markdown report finds its Gantt chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartLink<'a> {
    /// Nowhere (the report goes to a terminal): a note says how to get it.
    Note,
    /// An SVG file beside the report, by its file name (written by the caller with
    /// [`gantt_svg`](super::gantt_svg)).
    File(&'a str),
}

/// The report as Markdown, for a terminal: where the chart would be, a note says how to
/// get it ([`GANTT_NOTE`]).
pub fn markdown(drill: &RecoveryDrill) -> String {
    markdown_linking(drill, ChartLink::Note)
}

/// The report as Markdown, with the Gantt chart as `chart` says.
pub fn markdown_linking(drill: &RecoveryDrill, chart: ChartLink<'_>) -> String {
    let report = Report::of(drill);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = report.write_markdown(&mut out, chart);
    out
}

impl Report {
    fn write_markdown(&self, out: &mut String, chart: ChartLink<'_>) -> fmt::Result {
        writeln!(out, "# {}\n", md(&self.title))?;
        writeln!(out, "{}\n", md(&self.subtitle))?;
        writeln!(out, "**{}.** {}\n", md(&self.verdict), md(&self.headline))?;

        writeln!(out, "## What we rehearsed (objectives and scope)\n")?;
        for (label, value) in &self.facts {
            writeln!(out, "- **{label}:** {}", md(value))?;
        }
        if !self.scope_systems.is_empty() {
            writeln!(
                out,
                "- **Systems ({}):** {}",
                self.scope_systems.len(),
                md(&self.scope_systems.join(", "))
            )?;
        }
        writeln!(out, "- **Faults planned ({}):**", self.planned_faults.len())?;
        for fault in &self.planned_faults {
            writeln!(out, "  - {}", md(fault))?;
        }
        out.push('\n');

        if !self.has_run {
            return self.write_md_section(out, &self.history);
        }

        self.write_md_section(out, &self.faults)?;

        writeln!(out, "## How long recovery took (against each objective)\n")?;
        match (&self.chart, chart) {
            (Some(_), ChartLink::File(file)) => {
                writeln!(out, "![Gantt chart]({})\n", url_path(file))?;
                writeln!(out, "{}\n", CHART_CAPTION)?;
            }
            (Some(_), ChartLink::Note) => writeln!(out, "{GANTT_NOTE}\n")?,
            (None, _) => {}
        }
        self.write_md_table(out, &self.systems)?;

        writeln!(out, "## What needs fixing (action items)\n")?;
        if self.actions.is_empty() {
            writeln!(out, "None.\n")?;
        } else {
            for (i, item) in self.actions.iter().enumerate() {
                writeln!(out, "{}. {}", i + 1, md(&item.to_string()))?;
            }
            out.push('\n');
        }

        self.write_md_section(out, &self.checks)?;
        self.write_md_section(out, &self.approvals)?;
        self.write_md_section(out, &self.timeline)?;
        self.write_md_section(out, &self.history)?;
        writeln!(
            out,
            "## Terms used in this report
"
        )?;
        for (term, meaning) in self.terms {
            writeln!(out, "- **{term}:** {}", md(meaning))?;
        }
        Ok(())
    }

    fn write_md_section(&self, out: &mut String, section: &TableSection) -> fmt::Result {
        writeln!(out, "## {} ({})\n", section.heading, section.gloss)?;
        if section.table.rows.is_empty() {
            return writeln!(out, "{}\n", section.empty);
        }
        if !section.intro.is_empty() {
            writeln!(out, "{}\n", md(&section.intro))?;
        }
        self.write_md_table(out, &section.table)
    }

    fn write_md_table(&self, out: &mut String, table: &Table) -> fmt::Result {
        let columns = table.headers.len();
        writeln!(out, "| {} |", table.headers.join(" | "))?;
        writeln!(out, "|{}", " --- |".repeat(columns))?;
        for row in &table.rows {
            out.push('|');
            for i in 0..columns {
                let text = match row.cells.get(i) {
                    Some(Cell::Text(text)) | Some(Cell::Mark(_, text)) => md(text),
                    Some(Cell::Named(name, id)) => format!("{} <sub>{}</sub>", md(name), md(id)),
                    Some(Cell::At(Some(t))) => {
                        let (clock, since) = self.moment(*t);
                        match since {
                            Some(since) => format!("{clock} ({since})"),
                            None => clock,
                        }
                    }
                    Some(Cell::At(None)) | None => String::new(),
                };
                let text = if text.trim().is_empty() {
                    "—".to_string()
                } else {
                    text
                };
                write!(out, " {text} |")?;
            }
            out.push('\n');
        }
        out.push('\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::drill::fixture::{assert_tables_well_formed, drill, drill_of, fixture};

    #[test]
    fn the_markdown_links_or_notes_the_chart() {
        let drill = drill();
        let noted = markdown(&drill);
        assert!(noted.contains(GANTT_NOTE));
        assert!(!noted.contains("!["));
        let linked = markdown_linking(&drill, ChartLink::File("drill report.svg"));
        assert!(linked.contains("![Gantt chart](drill%20report.svg)"));
        assert!(!linked.contains(GANTT_NOTE));
    }

    #[test]
    fn markdown_tables_are_well_formed() {
        let md = markdown(&drill());
        // faults, systems, checks, approvals, timeline, history
        assert_eq!(assert_tables_well_formed(&md), 6);
        assert_eq!(md.matches("\n| --- |").count(), 6);
        // The pipe in dr.jones's comment is escaped, not a column.
        assert!(md.contains("Ward F7 happy \\| paper records back-entered"));
        let mut value = fixture();
        value["status"]["run"]["systems"][0]["name"] = json!("a|b\nc\\");
        assert_eq!(assert_tables_well_formed(&markdown(&drill_of(value))), 6);
    }
}
