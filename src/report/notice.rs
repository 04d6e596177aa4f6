//! A system's release notice for people (`lifeline notice`): to whom it is released, what
//! was tested, how much data the restore lost and what staff must do now, as plain text,
//! Markdown, or one printable HTML page (inline style, no scripts, nothing fetched). The
//! notice itself is decided by [`crate::engine::notice`].

use std::fmt::{self, Write as _};

use crate::engine::notice::{ReleaseNotice, data_loss_words};
use crate::report::fmt::{Esc, full_utc, html_head, human, iso, md};

fn data_loss_line(n: &ReleaseNotice) -> String {
    match &n.data_loss {
        Some(d) => data_loss_words(d),
        None => {
            "no restore point was reported: the restore did not say how much data was lost".into()
        }
    }
}

fn over(n: &ReleaseNotice) -> bool {
    n.data_loss
        .as_ref()
        .is_some_and(|d| d.objective_met == Some(false) || d.window_seconds.is_none())
}

/// The notice as plain text.
pub fn text(n: &ReleaseNotice) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "RELEASE NOTICE: {} ({})", n.display_name, n.system);
    let _ = writeln!(out, "Released to:  {} (stage {})", n.audience, n.stage);
    let _ = writeln!(out, "Released at:  {}", full_utc(n.released_at.0));
    let _ = writeln!(out, "Recovery:     {}", n.plan);
    if !n.approved_by.is_empty() {
        let _ = writeln!(out, "Approved by:  {}", n.approved_by.join(", "));
    }
    let _ = writeln!(out, "Data:         {}", data_loss_line(n));
    let _ = writeln!(out, "\nWhat was tested:");
    if n.checks.is_empty() {
        let _ = writeln!(out, "  (no checks)");
    }
    for c in &n.checks {
        let _ = writeln!(
            out,
            "  [{}] {} ({} run{})",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.runs,
            if c.runs == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "\nWhat staff must do now (hand-back):");
    if n.hand_back.is_empty() {
        let _ = writeln!(out, "  nothing listed");
    }
    for (i, h) in n.hand_back.iter().enumerate() {
        match &h.done_by {
            Some(by) => {
                let _ = writeln!(
                    out,
                    "  {}. [done] {} (by {by}{})",
                    i + 1,
                    h.item,
                    h.done_at
                        .as_ref()
                        .map(|t| format!(", {}", full_utc(t.0)))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(out, "  {}. [ ] {}", i + 1, h.item);
            }
        }
    }
    if n.hand_back.iter().any(|h| h.done_by.is_none()) {
        let _ = writeln!(
            out,
            "\nRecord an item as done: lifeline handback -n {} {} {} --item N",
            n.plan.split_once('/').map_or("", |(ns, _)| ns),
            n.plan.split_once('/').map_or(n.plan.as_str(), |(_, p)| p),
            n.system
        );
    }
    out
}

/// The notice as Markdown.
pub fn markdown(n: &ReleaseNotice) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Release notice: {}\n", md(&n.display_name));
    let _ = writeln!(
        out,
        "**{}** (`{}`) is released to **{}** (stage `{}`) at {}.\n",
        md(&n.display_name),
        md(&n.system),
        md(&n.audience),
        md(&n.stage),
        full_utc(n.released_at.0)
    );
    let _ = writeln!(out, "- Recovery: `{}`", md(&n.plan));
    if !n.approved_by.is_empty() {
        let _ = writeln!(out, "- Approved by: {}", md(&n.approved_by.join(", ")));
    }
    let _ = writeln!(
        out,
        "- Data: {}{}\n",
        if over(n) { "**⚠** " } else { "" },
        md(&data_loss_line(n))
    );
    let _ = writeln!(out, "## What was tested\n");
    if n.checks.is_empty() {
        let _ = writeln!(out, "No checks.\n");
    } else {
        let _ = writeln!(out, "| Check | Result | Runs |\n| --- | --- | --- |");
        for c in &n.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md(&c.name),
                if c.passed { "pass" } else { "**FAIL**" },
                c.runs
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## What staff must do now\n");
    if n.hand_back.is_empty() {
        let _ = writeln!(out, "Nothing listed.");
    }
    for (i, h) in n.hand_back.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. [{}] {}{}",
            i + 1,
            if h.done_by.is_some() { "x" } else { " " },
            md(&h.item),
            h.done_by
                .as_ref()
                .map(|b| format!(" (done by {})", md(b)))
                .unwrap_or_default()
        );
    }
    out
}

const STYLE: &str = "body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a; background: #fff; max-width: 760px; margin: 0 auto; padding: 24px; line-height: 1.45; font-size: 16px; }
h1 { font-size: 1.7rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; padding-bottom: 0.2rem; border-bottom: 2px solid #e0e0e0; }
.lead { font-size: 1.15rem; padding: 12px 16px; border-left: 6px solid #2e7d32; background: #e8f5e9; border-radius: 4px; }
.warn { border-left: 6px solid #c62828; background: #ffebee; padding: 8px 12px; border-radius: 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dt { font-weight: bold; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e0e0e0; }
th { background: #f5f5f5; }
.fail { color: #b71c1c; font-weight: bold; }
ol.handback li { margin: 0.4rem 0; }
.box { display: inline-block; width: 0.9em; height: 0.9em; border: 2px solid #1a1a1a; margin-right: 0.4em; vertical-align: -0.1em; }
.done { color: #1b5e20; }
footer { margin-top: 2rem; font-size: 0.85rem; color: #595959; }
@page { margin: 15mm; }
@media print { body { max-width: none; padding: 0; font-size: 11pt; } h2 { break-after: avoid; } tr, li { break-inside: avoid; } }
";

/// The notice as one printable HTML page: `<section id="tested">`, `<section
/// id="data-loss">`, `<ol id="hand-back">` with one `<li data-item>` per item.
pub fn html(n: &ReleaseNotice) -> String {
    let mut out = String::new();
    let _ = write_html(n, &mut out);
    out
}

fn write_html(n: &ReleaseNotice, out: &mut String) -> fmt::Result {
    html_head(out, &format!("Release notice: {}", n.display_name), STYLE)?;
    writeln!(out, "<h1>Release notice: {}</h1>", Esc(&n.display_name))?;
    writeln!(
        out,
        "<p class=\"lead\" id=\"released\"><strong>{}</strong> is released to <strong>{}</strong> from <time datetime=\"{}\">{}</time>.</p>",
        Esc(&n.display_name),
        Esc(&n.audience),
        iso(n.released_at.0),
        Esc(&full_utc(n.released_at.0))
    )?;
    writeln!(out, "<dl>")?;
    writeln!(out, "<dt>System</dt><dd>{}</dd>", Esc(&n.system))?;
    writeln!(out, "<dt>Stage</dt><dd>{}</dd>", Esc(&n.stage))?;
    writeln!(out, "<dt>Recovery</dt><dd>{}</dd>", Esc(&n.plan))?;
    if !n.approved_by.is_empty() {
        writeln!(
            out,
            "<dt>Approved by</dt><dd>{}</dd>",
            Esc(&n.approved_by.join(", "))
        )?;
    }
    writeln!(out, "</dl>")?;
    writeln!(out, "<section id=\"data-loss\">\n<h2>Data</h2>")?;
    let line = data_loss_line(n);
    if over(n) {
        writeln!(out, "<p class=\"warn\">{}</p>", Esc(&line))?;
    } else {
        writeln!(out, "<p>{}</p>", Esc(&line))?;
    }
    if let Some(w) = n
        .data_loss
        .as_ref()
        .and_then(|d| d.window_seconds)
        .filter(|w| *w > 0)
    {
        writeln!(
            out,
            "<p>Anything entered in the {} before the incident is not in the system: enter it again from paper.</p>",
            Esc(&human(w))
        )?;
    }
    writeln!(out, "</section>")?;
    writeln!(out, "<section id=\"tested\">\n<h2>What was tested</h2>")?;
    if n.checks.is_empty() {
        writeln!(out, "<p>No checks.</p>")?;
    } else {
        writeln!(
            out,
            "<table>\n<thead><tr><th>Check</th><th>Result</th><th>Runs</th></tr></thead>\n<tbody>"
        )?;
        for c in &n.checks {
            writeln!(
                out,
                "<tr data-check=\"{}\"><td>{}</td><td{}>{}</td><td>{}</td></tr>",
                Esc(&c.name),
                Esc(&c.name),
                if c.passed { "" } else { " class=\"fail\"" },
                if c.passed { "pass" } else { "FAIL" },
                c.runs
            )?;
        }
        writeln!(out, "</tbody>\n</table>")?;
    }
    writeln!(out, "</section>")?;
    writeln!(out, "<section>\n<h2>What staff must do now</h2>")?;
    if n.hand_back.is_empty() {
        writeln!(out, "<p>Nothing listed.</p>")?;
    } else {
        writeln!(out, "<ol class=\"handback\" id=\"hand-back\">")?;
        for h in &n.hand_back {
            match &h.done_by {
                Some(by) => writeln!(
                    out,
                    "<li data-item=\"{}\" class=\"done\"><span class=\"box\">✓</span>{} (done by {})</li>",
                    Esc(&h.item),
                    Esc(&h.item),
                    Esc(by)
                )?,
                None => writeln!(
                    out,
                    "<li data-item=\"{}\"><span class=\"box\"></span>{}</li>",
                    Esc(&h.item),
                    Esc(&h.item)
                )?,
            }
        }
        writeln!(out, "</ol>")?;
    }
    writeln!(out, "</section>")?;
    writeln!(
        out,
        "<footer>Issued by lifeline from the recovery's status; every release notice is also kept in the recovery's tamper-evident record.</footer>\n</body>\n</html>"
    )?;
    Ok(())
}
