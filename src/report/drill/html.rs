//! The report as one self-contained HTML page, for the board.

use std::fmt::{self, Write as _};

use super::model::{CHART_CAPTION, Cell, Report, Table, TableSection};
use crate::api::v1alpha1::RecoveryDrill;
use crate::report::fmt::{Esc, html_head, iso};

/// The report as one self-contained HTML page: inline style, the Gantt chart as inline
/// SVG in `<figure id="gantt">`, the systems in `<table id="systems">` with one
/// `<tr data-system="NAME">` each, no scripts and nothing loaded from elsewhere (a
/// Content-Security-Policy forbids it), readable printed.
pub fn html(drill: &RecoveryDrill) -> String {
    let report = Report::of(drill);
    let mut out = String::new();
    let _ = report.write_html(&mut out);
    out
}

impl Report {
    fn write_html(&self, out: &mut String) -> fmt::Result {
        html_head(out, &self.title, STYLE)?;

        writeln!(out, "<header>\n<h1>Recovery drill report</h1>")?;
        writeln!(out, "<p class=\"subtitle\">{}</p>", Esc(&self.subtitle))?;
        writeln!(
            out,
            "<p id=\"headline\" class=\"headline {}\"><strong class=\"verdict\">{}.</strong> {}</p>\n</header>",
            self.tone.class(),
            Esc(&self.verdict),
            Esc(&self.headline),
        )?;

        writeln!(
            out,
            "<section id=\"scope\">\n<h2>What we rehearsed</h2>\n<dl class=\"facts\">"
        )?;
        for (label, value) in &self.facts {
            writeln!(out, "<dt>{}</dt><dd>{}</dd>", Esc(label), Esc(value))?;
        }
        if !self.scope_systems.is_empty() {
            writeln!(
                out,
                "<dt>Systems ({})</dt><dd>{}</dd>",
                self.scope_systems.len(),
                Esc(&self.scope_systems.join(", "))
            )?;
        }
        writeln!(
            out,
            "<dt>Faults planned ({})</dt><dd><ul class=\"planned\">",
            self.planned_faults.len()
        )?;
        for fault in &self.planned_faults {
            writeln!(out, "<li>{}</li>", Esc(fault))?;
        }
        writeln!(out, "</ul></dd>\n</dl>\n</section>")?;

        if self.has_run {
            self.write_html_section(out, &self.faults)?;

            writeln!(
                out,
                "<section id=\"recovery\">\n<h2>How long recovery took</h2>\n<p class=\"gloss\">Each system's recovery time runs from the moment we broke it to the moment it was checked and working again, against its recovery-time objective.</p>"
            )?;
            if let Some(chart) = &self.chart {
                writeln!(
                    out,
                    "<figure id=\"gantt\">\n{}<figcaption>{}</figcaption>\n</figure>",
                    chart.to_svg(),
                    Esc(CHART_CAPTION)
                )?;
            }
            self.write_html_table(out, &self.systems)?;
            writeln!(out, "</section>")?;

            writeln!(out, "<section id=\"actions\">\n<h2>What needs fixing</h2>")?;
            if self.actions.is_empty() {
                writeln!(
                    out,
                    "<p id=\"action-items\" class=\"none\">None. Every system came back within its objective and no check failed unexpectedly.</p>"
                )?;
            } else {
                writeln!(out, "<ol id=\"action-items\">")?;
                for item in &self.actions {
                    match item.system() {
                        Some(system) => writeln!(
                            out,
                            "<li data-system=\"{}\">{}</li>",
                            Esc(system),
                            Esc(&item.to_string())
                        )?,
                        None => writeln!(out, "<li>{}</li>", Esc(&item.to_string()))?,
                    }
                }
                writeln!(out, "</ol>")?;
            }
            writeln!(out, "</section>")?;

            self.write_html_section(out, &self.checks)?;
            self.write_html_section(out, &self.approvals)?;
            self.write_html_section(out, &self.timeline)?;
        }
        self.write_html_section(out, &self.history)?;

        writeln!(
            out,
            "<section id=\"terms\">\n<h2>Terms used in this report</h2>\n<dl class=\"facts\">"
        )?;
        for (term, meaning) in self.terms {
            writeln!(out, "<dt>{}</dt><dd>{}</dd>", Esc(term), Esc(meaning))?;
        }
        writeln!(out, "</dl>\n</section>")?;

        writeln!(
            out,
            "<footer>Made by lifeline from the RecoveryDrill {}: its spec and the record of its runs. Times are UTC; “+m:ss” is the time since the run started.</footer>\n</body>\n</html>",
            Esc(&self.key)
        )
    }

    fn write_html_section(&self, out: &mut String, section: &TableSection) -> fmt::Result {
        writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>",
            section.id,
            Esc(section.heading)
        )?;
        if section.table.rows.is_empty() {
            writeln!(out, "<p class=\"none\">{}</p>", Esc(section.empty))?;
        } else {
            if !section.intro.is_empty() {
                writeln!(out, "<p class=\"gloss\">{}</p>", Esc(&section.intro))?;
            }
            self.write_html_table(out, &section.table)?;
        }
        writeln!(out, "</section>")
    }

    fn write_html_table(&self, out: &mut String, table: &Table) -> fmt::Result {
        writeln!(out, "<table id=\"{}\">\n<thead><tr>", table.id)?;
        for header in table.headers {
            write!(out, "<th scope=\"col\">{}</th>", Esc(header))?;
        }
        writeln!(out, "</tr></thead>\n<tbody>")?;
        for row in &table.rows {
            out.push_str("<tr");
            if let Some(system) = &row.system {
                write!(out, " data-system=\"{}\"", Esc(system))?;
            }
            if let Some(result) = row.result {
                write!(out, " data-result=\"{result}\"")?;
            }
            out.push('>');
            for cell in &row.cells {
                match cell {
                    Cell::Text(text) if text.trim().is_empty() => out.push_str("<td>—</td>"),
                    Cell::Text(text) => write!(out, "<td>{}</td>", Esc(text))?,
                    Cell::Named(name, id) => write!(
                        out,
                        "<td>{} <small class=\"id\">{}</small></td>",
                        Esc(name),
                        Esc(id)
                    )?,
                    Cell::Mark(class, text) => {
                        write!(out, "<td class=\"mark {class}\">{}</td>", Esc(text))?;
                    }
                    Cell::At(None) => out.push_str("<td>—</td>"),
                    Cell::At(Some(t)) => {
                        let (clock, since) = self.moment(*t);
                        write!(
                            out,
                            "<td class=\"when\"><time datetime=\"{}\">{}</time>",
                            iso(*t),
                            Esc(&clock)
                        )?;
                        if let Some(since) = since {
                            write!(out, " <span class=\"since\">({since})</span>")?;
                        }
                        out.push_str("</td>");
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        writeln!(out, "</tbody>\n</table>")
    }
}

/// The page's style: plain, readable on screen and on paper.
const STYLE: &str = include_str!("style.css");

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::drill::fixture::{drill, drill_of, fixture};
    use crate::report::drill::markdown;

    #[test]
    fn html_is_one_self_contained_page_with_the_chart_and_systems_table() {
        let page = html(&drill());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        for absent in [
            "<script", "<link", "<img", "src=", "href=", "@import", "url(http",
        ] {
            assert!(!page.contains(absent), "{absent} in the page");
        }
        let figure = &page[page.find("<figure id=\"gantt\">").expect("the figure")..];
        assert!(figure[..figure.find("</figure>").expect("closed")].contains("<svg "));
        for name in ["identity", "lims", "pas", "epr"] {
            assert_eq!(
                page.matches(&format!("<tr data-system=\"{name}\" data-result="))
                    .count(),
                1,
                "{name}"
            );
        }
        assert!(page.contains("<td class=\"mark missed\">✗ Missed by 11m</td>"));
        assert!(page.contains("<td class=\"mark met\">✓ Met</td>"));
        assert!(page.contains("<td class=\"mark injected\">Yes, on purpose</td>"));
        assert!(page.contains("<td class=\"mark unexpected\">No: needs fixing</td>"));
        assert!(page.contains("<td class=\"mark ignored\">Ignored</td>"));
        for heading in [
            "What we broke",
            "How long recovery took",
            "What needs fixing",
        ] {
            assert!(page.contains(&format!("<h2>{heading}</h2>")), "{heading}");
        }
    }

    #[test]
    fn html_escapes_everything_from_the_object() {
        let mut value = fixture();
        let evil = "<script>alert('x')</script>";
        value["metadata"]["name"] = json!(evil);
        value["status"]["run"]["systems"][0]["name"] = json!(evil);
        value["status"]["run"]["systems"][1]["name"] = json!("lims\" onmouseover=\"alert(1)");
        value["status"]["run"]["approvals"][2]["comment"] = json!(format!("fine {evil}"));
        value["status"]["run"]["faults"][0]["proof"] = json!("<img src=x onerror=alert(1)>");
        value["status"]["run"]["reason"] = json!("& <b>bold</b>");
        let drill = drill_of(value);
        let page = html(&drill);
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>"));
        assert!(!page.contains("\" onmouseover"));
        assert!(page.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"));
        assert!(page.contains("<tr data-system=\"lims&quot; onmouseover=&quot;alert(1)\""));
        assert!(page.contains("&amp; &lt;b&gt;bold&lt;/b&gt;"));
        // Markdown passes no HTML either.
        let md = markdown(&drill);
        assert!(!md.contains("<script"));
        assert!(!md.contains("<img"));
    }
}
