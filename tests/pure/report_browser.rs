//! The HTML drill report as a browser draws it: headless Chromium loads the report of a
//! realistic ten-system drill (`tests/fixtures/drill-northern-care.json`) and the test
//! asserts that the Gantt chart and the systems table are laid out with real, non-zero
//! boxes, that met and missed are drawn in different colours, that the page fits its width,
//! and that it loads nothing and runs nothing (the fixture carries markup in a comment).
//!
//! "Rendered" is measured, not inferred from the text: a test-only wrapper page holds the
//! report in an `<iframe>`; on load its script measures the report's elements
//! (`getBoundingClientRect()` for the SVG and the table rows, `getBBox()` for each chart
//! row and bar) and writes the figures as JSON into the wrapper's DOM, which
//! `chromium --dump-dom` prints.
//!
//! Needs Chromium: `LIFELINE_CHROMIUM`, or `chromium` or `chromium-browser` on `PATH`
//! (Debian: `apt-get install chromium`). Without it the test fails and says so.

use std::{
    collections::BTreeSet,
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use lifeline::{api::v1alpha1::RecoveryDrill, report::drill};
use serde_json::Value;

/// How long Chromium may take to load, lay out and dump the page before it is killed.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(60);
/// How often the test looks whether Chromium has exited.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The iframe's size: a laptop screen, wide enough for the chart at full size.
const FRAME_WIDTH: u32 = 1280;
const FRAME_HEIGHT: u32 = 900;

/// The wrapper page. Its script measures the report in the iframe once everything has
/// loaded and writes the measurements, as JSON with every character outside printable
/// ASCII (and `<`, `>`, `&`) as a `\u` escape, so the DOM dump prints it verbatim.
const WRAPPER: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>report wrapper</title></head>
<body style="margin:0">
<iframe id="report" src="report.html" style="border:0;width:__WIDTH__px;height:__HEIGHT__px"></iframe>
<pre id="measurements">pending</pre>
<script>
function box(el) {
  const r = el.getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height };
}
function bbox(el) {
  const b = el.getBBox();
  return { width: b.width, height: b.height };
}
function measure() {
  const frame = document.getElementById('report');
  const doc = frame.contentDocument;
  const win = frame.contentWindow;
  const style = el => win.getComputedStyle(el);
  const svg = doc.querySelector('#gantt svg');
  const table = doc.querySelector('table#systems');
  const headline = doc.getElementById('headline');
  const mark = cls => { const el = doc.querySelector('#systems td.mark.' + cls); return el ? style(el).backgroundColor : null; };
  return {
    frame: { width: frame.clientWidth, height: frame.clientHeight },
    scrollWidth: doc.documentElement.scrollWidth,
    svg: svg ? box(svg) : null,
    chartRows: Array.from(doc.querySelectorAll('#gantt svg g.row')).map(g => {
      const bar = g.querySelector('rect.bar');
      const blocked = g.querySelector('text.blocked');
      return {
        system: g.getAttribute('data-system'),
        outcome: g.getAttribute('data-outcome'),
        box: box(g),
        bbox: bbox(g),
        bar: bar ? bbox(bar) : null,
        blocked: blocked ? bbox(blocked) : null,
        display: style(g).display,
        visibility: style(g).visibility,
      };
    }),
    table: table ? box(table) : null,
    tableRows: Array.from(doc.querySelectorAll('#systems tr[data-system]')).map(tr => ({
      system: tr.getAttribute('data-system'),
      box: box(tr),
      text: tr.innerText,
      display: style(tr).display,
      visibility: style(tr).visibility,
    })),
    headline: headline ? { box: box(headline), text: headline.innerText } : null,
    colours: { met: mark('met'), missed: mark('missed'), failed: mark('failed') },
    activeElements: doc.querySelectorAll('script, img, iframe, object, embed, link').length,
    resources: win.performance.getEntriesByType('resource').length,
    title: doc.title,
  };
}
window.addEventListener('load', () => {
  let out;
  try { out = measure(); } catch (e) { out = { error: String(e && e.stack || e) }; }
  document.getElementById('measurements').textContent = JSON.stringify(out)
    .replace(/[^\x20-\x7e]|[<>&]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
});
</script>
</body></html>
"#;

/// The fixture drill.
fn fixture() -> RecoveryDrill {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drill-northern-care.json");
    let text = std::fs::read_to_string(&path).expect("read the fixture");
    serde_json::from_str(&text).expect("the fixture is a RecoveryDrill")
}

/// The Chromium to use: `LIFELINE_CHROMIUM`, or `chromium` / `chromium-browser` on PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("LIFELINE_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "tests/pure/report_browser.rs needs Chromium to render the drill report, and none was \
         found: install it (Debian: `apt-get install chromium`; CI's .ci/run does this) or \
         point LIFELINE_CHROMIUM at a Chromium or Chrome binary"
    );
}

/// Loads `page` in headless Chromium and returns the DOM it dumps. Kills Chromium after
/// [`CHROMIUM_DEADLINE`].
fn dump_dom(dir: &Path, page: &Path) -> String {
    let binary = chromium();
    let stderr_path = dir.join("chromium.stderr");
    let stderr = File::create(&stderr_path).expect("create the stderr file");
    let mut child = Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--allow-file-access-from-files",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--window-size={},{}",
            FRAME_WIDTH + 40,
            FRAME_HEIGHT + 200
        ))
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + CHROMIUM_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not finish within {CHROMIUM_DEADLINE:?}; its stderr:\n{}",
                binary.display(),
                tail(&stderr_path)
            );
        }
        thread::sleep(EXIT_POLL_INTERVAL);
    };
    let dom = reader.join().expect("read chromium's output");
    assert!(
        status.success(),
        "{} exited with {status}; its stderr:\n{}",
        binary.display(),
        tail(&stderr_path)
    );
    dom
}

/// The last lines of a file, for failure messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The measurements the wrapper's script wrote.
fn measurements(dom: &str, dir: &Path) -> Value {
    let start = r#"<pre id="measurements">"#;
    let text = dom
        .find(start)
        .map(|at| &dom[at + start.len()..])
        .and_then(|rest| rest.find("</pre>").map(|end| &rest[..end]))
        .unwrap_or_else(|| {
            panic!(
                "no measurements in the dumped DOM:\n{dom}\nchromium's stderr:\n{}",
                tail(&dir.join("chromium.stderr"))
            )
        });
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| {
        panic!(
            "the measurements are not JSON ({e}): {text}\nchromium's stderr:\n{}",
            tail(&dir.join("chromium.stderr"))
        )
    });
    assert!(
        value.get("error").is_none(),
        "the wrapper's script failed: {value}"
    );
    value
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("{} is not a number in {v}", path.join(".")))
}

/// Asserts the box at `path` in `v` is drawn: positive width and height.
fn assert_drawn(v: &Value, path: &[&str], what: &str) {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    let (width, height) = (num(at, &["width"]), num(at, &["height"]));
    assert!(
        width > 0.0 && height > 0.0,
        "{what} is not drawn: {width} x {height} ({at})"
    );
}

#[test]
fn chromium_renders_the_drill_report_chart_and_table() {
    let drill = fixture();
    let run = drill
        .status
        .as_ref()
        .and_then(|s| s.run.as_ref())
        .expect("the fixture has a run");
    let namespace = drill.metadata.namespace.clone().expect("a namespace");
    let systems: Vec<String> = run.systems.iter().map(|s| s.name.clone()).collect();
    assert!(systems.len() >= 6, "a realistic drill: {systems:?}");

    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("report.html"), drill::html(&drill)).expect("write the report");
    let wrapper = dir.path().join("wrapper.html");
    std::fs::write(
        &wrapper,
        WRAPPER
            .replace("__WIDTH__", &FRAME_WIDTH.to_string())
            .replace("__HEIGHT__", &FRAME_HEIGHT.to_string()),
    )
    .expect("write the wrapper");

    let m = measurements(&dump_dom(dir.path(), &wrapper), dir.path());

    // The chart: an SVG with a real size, inside the page's width.
    assert!(
        m["svg"].is_object(),
        "no #gantt svg in the rendered report: {m}"
    );
    assert_drawn(&m, &["svg"], "the Gantt chart");
    let frame_width = num(&m, &["frame", "width"]);
    assert!(
        num(&m, &["svg", "x"]) >= 0.0
            && num(&m, &["svg", "x"]) + num(&m, &["svg", "width"]) <= frame_width + 0.5,
        "the chart overflows the page: {}",
        m["svg"]
    );
    assert!(
        num(&m, &["scrollWidth"]) <= frame_width,
        "the page scrolls sideways at {frame_width}px: {}",
        m["scrollWidth"]
    );

    // One chart row per system, each drawn; a bar for every system that started.
    let rows = m["chartRows"].as_array().expect("chart rows");
    let charted: Vec<String> = rows
        .iter()
        .map(|r| r["system"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = systems.iter().map(|s| format!("{namespace}/{s}")).collect();
    assert_eq!(charted, expected, "chart rows");
    for row in rows {
        let system = row["system"].as_str().unwrap_or_default();
        assert_eq!(row["display"], "inline", "{system}");
        assert_eq!(row["visibility"], "visible", "{system}");
        assert_drawn(row, &["bbox"], &format!("chart row {system} (getBBox)"));
        assert_drawn(row, &["box"], &format!("chart row {system} (on the page)"));
        // Inside the chart as drawn, not spilling out of a collapsed one.
        let (x, y) = (num(row, &["box", "x"]), num(row, &["box", "y"]));
        let (width, height) = (num(row, &["box", "width"]), num(row, &["box", "height"]));
        let (sx, sy) = (num(&m, &["svg", "x"]), num(&m, &["svg", "y"]));
        let (sw, sh) = (num(&m, &["svg", "width"]), num(&m, &["svg", "height"]));
        assert!(
            x >= sx - 0.5
                && y >= sy - 0.5
                && x + width <= sx + sw + 0.5
                && y + height <= sy + sh + 0.5,
            "chart row {system} at {} lies outside the chart at {}",
            row["box"],
            m["svg"]
        );
        if row["outcome"] == "blocked" {
            assert_drawn(
                row,
                &["blocked"],
                &format!("the 'blocked' note of {system}"),
            );
        } else {
            assert!(row["bar"].is_object(), "{system} has no bar: {row}");
            assert_drawn(row, &["bar"], &format!("the bar of {system}"));
        }
    }
    assert!(
        rows.iter().any(|r| r["outcome"] == "blocked"),
        "the fixture has a blocked system"
    );

    // One table row per system, each drawn, and the table itself.
    assert_drawn(&m, &["table"], "the systems table");
    let table_rows = m["tableRows"].as_array().expect("table rows");
    let tabled: Vec<String> = table_rows
        .iter()
        .map(|r| r["system"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(tabled, systems, "systems table rows");
    for row in table_rows {
        let system = row["system"].as_str().unwrap_or_default();
        assert_eq!(row["display"], "table-row", "{system}");
        assert_eq!(row["visibility"], "visible", "{system}");
        assert_drawn(row, &["box"], &format!("table row {system}"));
        assert!(
            row["text"].as_str().unwrap_or_default().contains(system),
            "{system}'s row shows its name: {row}"
        );
    }
    let unique: BTreeSet<&str> = tabled.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), tabled.len(), "each system once");

    // Met and missed read in words and in colour.
    let row_text = |name: &str| {
        table_rows
            .iter()
            .find(|r| r["system"] == name)
            .and_then(|r| r["text"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row_text("core-network").contains("Missed by 11 min"),
        "{}",
        row_text("core-network")
    );
    assert!(
        row_text("identity").contains("Met"),
        "{}",
        row_text("identity")
    );
    assert!(
        row_text("pharmacy").contains("Failed"),
        "{}",
        row_text("pharmacy")
    );
    let colour = |key: &str| m["colours"][key].as_str().unwrap_or_default().to_string();
    for key in ["met", "missed", "failed"] {
        assert!(
            !colour(key).is_empty() && colour(key) != "rgba(0, 0, 0, 0)",
            "{key} has no colour: {}",
            m["colours"]
        );
    }
    assert_ne!(colour("met"), colour("missed"), "met and missed look alike");

    // The headline is there for the board.
    assert_drawn(&m, &["headline", "box"], "the headline");
    let headline = m["headline"]["text"].as_str().unwrap_or_default();
    assert!(
        headline.starts_with("Objectives missed. 7 of 10 systems recovered within their objective"),
        "{headline}"
    );

    // Self-contained and inert: no element that loads or runs anything, nothing fetched,
    // and the script in the fixture's approval comment did not run.
    assert_eq!(
        m["activeElements"], 0,
        "script, img, link, ... in the report"
    );
    assert_eq!(m["resources"], 0, "the report fetched something");
    assert!(
        m["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Drill report:")),
        "title: {}",
        m["title"]
    );
}
