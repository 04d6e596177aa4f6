//! The recovery report's two renderings: Markdown, and one self-contained HTML page in the
//! drill report's style (its style sheet, the chart as inline SVG, no scripts, nothing
//! fetched, printable).

use std::fmt::{self, Write as _};

use super::model::{Report, Section};
use super::record::Recovery;
use crate::report::fmt::{Esc, html_head, md, url_path};

const STYLE: &str = include_str!("../drill/style.css");

/// What the chart shows, under it.
const CHART_CAPTION: &str = "Each row is one system on the incident's clock: each restore (solid), its verification (lighter, outlined: the checks until all passed), each soak at a stage (yellow), each wait for people before a release (thin), each regression (red); a part outlined in red and hatched ended in a failure, a dashed one was still under way at the last entry; the diamond is the recovery-time objective, counted from the incident's start.";

/// The report as Markdown, the chart left out (see [`markdown_linking`]).
pub fn markdown(r: &Recovery) -> String {
    markdown_linking(r, None)
}

/// The report as Markdown, linking its Gantt chart from the SVG file `chart`, if given.
pub fn markdown_linking(r: &Recovery, chart: Option<&str>) -> String {
    let report = Report::of(r);
    let mut out = String::new();
    let _ = write_md(&report, chart, &mut out);
    out
}

fn write_md(r: &Report, chart: Option<&str>, out: &mut String) -> fmt::Result {
    writeln!(out, "# {}\n", md(&r.title))?;
    writeln!(out, "{}\n", md(&r.subtitle))?;
    match &r.chain {
        Ok(t) => writeln!(out, "{}\n", md(t))?,
        Err(t) => writeln!(out, "**{}**\n", md(t))?,
    }
    writeln!(out, "**{}**\n", md(&r.headline))?;
    for (k, v) in &r.facts {
        writeln!(out, "- **{}**: {}", md(k), md(v))?;
    }
    out.push('\n');
    if r.chart.is_some() {
        writeln!(out, "## The recovery as a Gantt chart\n")?;
        match chart {
            Some(file) => writeln!(
                out,
                "![Gantt chart]({})\n\n{}\n",
                url_path(file),
                md(CHART_CAPTION)
            )?,
            None => writeln!(
                out,
                "Gantt chart: use --format html, or -o FILE to also write the SVG.\n"
            )?,
        }
    }
    writeln!(out, "## What needs fixing (action items)\n")?;
    if r.actions.is_empty() {
        writeln!(out, "None.\n")?;
    } else {
        for (i, a) in r.actions.iter().enumerate() {
            writeln!(out, "{}. {}", i + 1, md(a))?;
        }
        out.push('\n');
    }
    for s in &r.sections {
        write_md_section(s, out)?;
    }
    writeln!(
        out,
        "---\n\nMade by lifeline from the recovery's record; `lifeline evidence export` writes the record itself, `lifeline evidence verify` checks it."
    )
}

fn write_md_section(s: &Section, out: &mut String) -> fmt::Result {
    writeln!(out, "## {} ({})\n", s.heading, s.gloss)?;
    if s.rows.is_empty() {
        return writeln!(out, "{}\n", s.empty);
    }
    writeln!(out, "| {} |", s.headers.join(" | "))?;
    writeln!(
        out,
        "|{}",
        s.headers.iter().map(|_| " --- |").collect::<String>()
    )?;
    for row in &s.rows {
        let cells: Vec<String> = row.cells.iter().map(|c| md(c)).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    if s.left_out > 0 {
        writeln!(
            out,
            "\n{} more entries are in the record (lifeline evidence export).",
            s.left_out
        )?;
    }
    out.push('\n');
    Ok(())
}

/// The report as one self-contained HTML page: inline style, the Gantt chart as inline
/// SVG in `<figure id="gantt">`, each section a `<section id>` with a table whose rows
/// carry `data-system`, no scripts and nothing loaded from elsewhere (a
/// Content-Security-Policy forbids it), readable printed.
pub fn html(r: &Recovery) -> String {
    let report = Report::of(r);
    let mut out = String::new();
    let _ = write_html(&report, &mut out);
    out
}

fn write_html(r: &Report, out: &mut String) -> fmt::Result {
    html_head(out, &r.title, STYLE)?;
    writeln!(out, "<header>\n<h1>{}</h1>", Esc(&r.title))?;
    writeln!(out, "<p class=\"subtitle\">{}</p>", Esc(&r.subtitle))?;
    match &r.chain {
        Ok(t) => writeln!(out, "<p id=\"chain\" class=\"gloss\">{}</p>", Esc(t))?,
        Err(t) => writeln!(
            out,
            "<p id=\"chain\" class=\"headline bad\"><strong>{}</strong></p>",
            Esc(t)
        )?,
    }
    writeln!(
        out,
        "<p class=\"headline {}\" id=\"headline\">{}</p>\n</header>",
        if r.good { "good" } else { "bad" },
        Esc(&r.headline)
    )?;
    writeln!(out, "<dl class=\"facts\">")?;
    for (k, v) in &r.facts {
        writeln!(out, "<dt>{}</dt><dd>{}</dd>", Esc(k), Esc(v))?;
    }
    writeln!(out, "</dl>")?;
    if let Some(chart) = &r.chart {
        writeln!(
            out,
            "<h2>The recovery as a Gantt chart</h2>\n<figure id=\"gantt\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
            chart.to_svg(),
            Esc(CHART_CAPTION)
        )?;
    }
    writeln!(out, "<h2>What needs fixing (action items)</h2>")?;
    if r.actions.is_empty() {
        writeln!(out, "<p class=\"none\">None.</p>")?;
    } else {
        writeln!(out, "<ol id=\"action-items\">")?;
        for a in &r.actions {
            writeln!(out, "<li>{}</li>", Esc(a))?;
        }
        writeln!(out, "</ol>")?;
    }
    for s in &r.sections {
        write_html_section(s, out)?;
    }
    writeln!(
        out,
        "<footer>Made by lifeline from the recovery's record; <code>lifeline evidence export</code> writes the record itself, <code>lifeline evidence verify</code> checks it.</footer>\n</body>\n</html>"
    )
}

fn write_html_section(s: &Section, out: &mut String) -> fmt::Result {
    writeln!(
        out,
        "<section id=\"{}\">\n<h2>{}</h2>\n<p class=\"gloss\">{}</p>",
        s.id,
        Esc(s.heading),
        Esc(s.gloss)
    )?;
    if s.rows.is_empty() {
        return writeln!(out, "<p class=\"none\">{}</p>\n</section>", Esc(s.empty));
    }
    writeln!(out, "<table>\n<thead><tr>")?;
    for h in s.headers {
        write!(out, "<th>{}</th>", Esc(h))?;
    }
    writeln!(out, "</tr></thead>\n<tbody>")?;
    for row in &s.rows {
        match &row.system {
            Some(sys) => write!(out, "<tr data-system=\"{}\">", Esc(sys))?,
            None => write!(out, "<tr>")?,
        }
        for (i, c) in row.cells.iter().enumerate() {
            // The result column takes the row's tone.
            let tone = row.tone.filter(|_| i == s.result);
            match tone {
                Some(t) => write!(out, "<td class=\"{t}\">{}</td>", Esc(c))?,
                None => write!(out, "<td>{}</td>", Esc(c))?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>\n</table>")?;
    if s.left_out > 0 {
        writeln!(
            out,
            "<p class=\"gloss\">{} more entries are in the record (<code>lifeline evidence export</code>).</p>",
            s.left_out
        )?;
    }
    writeln!(out, "</section>")
}
