//! The HTML reports as a browser draws them (the drill report here; the recovery report and
//! the release notice at the end of the file): headless Chromium loads the report of a
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
      const rto = g.querySelector('path.rto');
      const beyond = g.querySelector('text.rto-beyond');
      return {
        objective: Number(g.getAttribute('data-objective')),
        rto: rto ? box(rto) : null,
        beyond: beyond ? { box: box(beyond), text: Array.from(beyond.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('') } : null,
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
    ticks: Array.from(doc.querySelectorAll('#gantt svg line.tick')).map(t => ({
      seconds: Number(t.getAttribute('data-seconds')),
      x: box(t).x + box(t).width / 2,
    })),
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

/// Loads `page` in headless Chromium and returns the DOM it dumps.
fn dump_dom(dir: &Path, page: &Path) -> String {
    chromium_on(
        dir,
        page,
        &[
            "--allow-file-access-from-files".to_string(),
            "--hide-scrollbars".to_string(),
            "--virtual-time-budget=5000".to_string(),
            format!("--window-size={},{}", FRAME_WIDTH + 40, FRAME_HEIGHT + 200),
            "--dump-dom".to_string(),
        ],
    )
}

/// Runs headless Chromium on `page` with `args` and returns what it prints. Kills it
/// after [`CHROMIUM_DEADLINE`].
fn chromium_on(dir: &Path, page: &Path, args: &[String]) -> String {
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
        ])
        .args(args)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
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

/// Each chart row's objective is where the axis says it is: its diamond's centre at the
/// objective's time on the axis as drawn (between the first and the last tick), or, when
/// the objective lies beyond the axis, no diamond but a marker at the edge that names it.
fn assert_objectives_where_they_belong(m: &Value) {
    let ticks = m["ticks"].as_array().expect("axis ticks");
    assert!(ticks.len() >= 2, "an axis with ticks: {}", m["ticks"]);
    let (first, last) = (&ticks[0], &ticks[ticks.len() - 1]);
    let (t0, x0) = (num(first, &["seconds"]), num(first, &["x"]));
    let (t1, x1) = (num(last, &["seconds"]), num(last, &["x"]));
    assert!(t1 > t0 && x1 > x0, "a left-to-right axis: {}", m["ticks"]);
    let mut beyond = 0;
    for row in m["chartRows"].as_array().expect("chart rows") {
        let system = row["system"].as_str().unwrap_or_default();
        let objective = num(row, &["objective"]);
        if objective <= t1 {
            assert!(row["beyond"].is_null(), "{system}: {row}");
            let centre = num(row, &["rto", "x"]) + num(row, &["rto", "width"]) / 2.0;
            let expected = x0 + (objective - t0) / (t1 - t0) * (x1 - x0);
            assert!(
                (centre - expected).abs() <= 1.0,
                "{system}: the objective {objective}s is drawn at x={centre}, the axis puts it at {expected}"
            );
        } else {
            beyond += 1;
            assert!(
                row["rto"].is_null(),
                "{system}: a diamond off the axis: {row}"
            );
            let label = format!(
                "objective {} \u{2192}",
                lifeline::api::v1alpha1::format_duration(Duration::from_secs(objective as u64))
            );
            assert_eq!(row["beyond"]["text"], label.as_str(), "{system}");
            assert!(
                num(row, &["beyond", "box", "x"]) >= x1 - 0.5,
                "{system}: the marker is at the edge, past the axis: {row}"
            );
        }
    }
    // The fixture drill took minutes against objectives of hours: the markers are there.
    assert!(
        beyond > 0,
        "no objective beyond the axis in the fixture: {m}"
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
    assert_objectives_where_they_belong(&m);
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
        row_text("core-network").contains("Missed by 11m"),
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

/// The wrapper page for the recovery report and the release notice: measures the
/// sections, rows and items each has, the same way as [`WRAPPER`].
const RECOVERY_WRAPPER: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>report wrapper</title></head>
<body style="margin:0">
<iframe id="report" src="report.html" style="border:0;width:__WIDTH__px;height:__HEIGHT__px"></iframe>
<pre id="measurements">pending</pre>
<script>
function box(el) {
  const r = el.getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height };
}
function measure() {
  const frame = document.getElementById('report');
  const doc = frame.contentDocument;
  const win = frame.contentWindow;
  const style = el => win.getComputedStyle(el);
  const all = sel => Array.from(doc.querySelectorAll(sel));
  const svg = doc.querySelector('#gantt svg');
  const cell = sel => { const el = doc.querySelector(sel); return el ? style(el).backgroundColor : null; };
  return {
    frame: { width: frame.clientWidth },
    scrollWidth: doc.documentElement.scrollWidth,
    svg: svg ? box(svg) : null,
    bars: all('#gantt svg g.row rect.bar').map(b => ({ width: b.getBBox().width, height: b.getBBox().height })),
    // Each row's widest part: its bar, or the widest of the segments a recovery's row is drawn in.
    rows: all('#gantt svg g.row').map(g => Array.from(g.querySelectorAll('rect.bar, rect.segment'))
      .map(b => ({ width: b.getBBox().width, height: b.getBBox().height }))
      .reduce((w, b) => (b.width > w.width ? b : w), { width: 0, height: 0 })),
    sections: all('section[id]').map(s => ({ id: s.id, box: box(s), visible: style(s).visibility })),
    systemRows: all('#systems tr[data-system]').map(tr => ({ system: tr.getAttribute('data-system'), box: box(tr), text: tr.innerText })),
    handBack: all('#hand-back li[data-item], #hand-back tr[data-system]').map(li => ({ box: box(li), text: li.innerText })),
    checks: all('#tested tr[data-check]').map(tr => box(tr)),
    dataLoss: doc.getElementById('data-loss') ? { box: box(doc.getElementById('data-loss')), text: doc.getElementById('data-loss').innerText } : null,
    colours: { met: cell('#systems td.met'), missed: cell('td.missed') },
    headline: doc.getElementById('headline') ? doc.getElementById('headline').innerText : null,
    released: doc.getElementById('released') ? { box: box(doc.getElementById('released')), text: doc.getElementById('released').innerText } : null,
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

/// The recorded recovery of `tests/fixtures/recovery-record.json` (an evidence bundle
/// `lifeline evidence export` wrote from a run of tests/cluster/record.rs).
fn recovery_fixture() -> lifeline::cli::evidence::Bundle {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recovery-record.json");
    lifeline::cli::evidence::read(&path).expect("the fixture is an evidence bundle")
}

/// `html` loaded in headless Chromium through [`RECOVERY_WRAPPER`]: the measurements.
fn measure_page(dir: &Path, html: &str) -> Value {
    std::fs::write(dir.join("report.html"), html).expect("write the page");
    let wrapper = dir.join("wrapper.html");
    std::fs::write(
        &wrapper,
        RECOVERY_WRAPPER
            .replace("__WIDTH__", &FRAME_WIDTH.to_string())
            .replace("__HEIGHT__", &FRAME_HEIGHT.to_string()),
    )
    .expect("write the wrapper");
    measurements(&dump_dom(dir, &wrapper), dir)
}

/// `page` printed to PDF by headless Chromium: the PDF's bytes.
fn print_to_pdf(dir: &Path, page: &Path) -> Vec<u8> {
    let pdf = dir.join("printed.pdf");
    chromium_on(
        dir,
        page,
        &[
            "--no-pdf-header-footer".to_string(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    std::fs::read(&pdf).expect("the printed PDF")
}

/// Pages in a PDF Chromium wrote (each page object is `/Type /Page`, the tree `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

fn assert_no_active_content(m: &Value, title: &str) {
    assert_eq!(m["activeElements"], 0, "script, img, link, ... in the page");
    assert_eq!(m["resources"], 0, "the page fetched something");
    assert!(
        m["title"].as_str().is_some_and(|t| t.starts_with(title)),
        "title: {}",
        m["title"]
    );
    assert!(
        num(m, &["scrollWidth"]) <= num(m, &["frame", "width"]),
        "the page scrolls sideways: {}",
        m["scrollWidth"]
    );
}

#[test]
fn chromium_renders_the_recovery_report_from_its_record() {
    let bundle = recovery_fixture();
    let r = lifeline::report::recovery::Recovery::from_entries(
        &bundle.manifest.plan,
        &bundle.manifest.plan_uid,
        &bundle.entries,
        Some((&bundle.manifest.head, bundle.manifest.entries)),
    );
    assert_eq!(r.chain, Ok(()), "the fixture's chain verifies");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let m = measure_page(dir.path(), &lifeline::report::recovery::html(&r));
    assert_no_active_content(&m, "Recovery report:");

    // The chart, one row per system, each drawn (as a bar, or in segments: restore,
    // verification, soak, waiting for people, regression).
    assert_drawn(&m, &["svg"], "the Gantt chart");
    let rows = m["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), r.systems.len(), "{rows:?}");
    for b in rows {
        assert!(num(b, &["width"]) > 0.0 && num(b, &["height"]) > 0.0, "{b}");
    }
    // Every section laid out, in order.
    let ids: Vec<&str> = m["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "systems",
            "approvals",
            "interventions",
            "regressions",
            "hand-back",
            "checks",
            "timeline"
        ]
    );
    for s in m["sections"].as_array().expect("sections") {
        assert_drawn(s, &["box"], &format!("section {}", s["id"]));
    }
    // One row per system, its data-loss window in words; within and over in two colours.
    let rows = m["systemRows"].as_array().expect("rows");
    assert_eq!(rows.len(), r.systems.len());
    for row in rows {
        assert_drawn(row, &["box"], &format!("the row of {}", row["system"]));
    }
    assert!(
        rows.iter()
            .any(|row| row["text"].as_str().is_some_and(|t| t.contains("OVER"))),
        "a window over its objective is flagged: {rows:?}"
    );
    let (met, missed) = (
        m["colours"]["met"].as_str().unwrap_or_default(),
        m["colours"]["missed"].as_str().unwrap_or_default(),
    );
    assert!(
        !met.is_empty() && met != "rgba(0, 0, 0, 0)",
        "{}",
        m["colours"]
    );
    // Both systems met their recovery-time objective in the fixture; what is not done
    // (a hand-back item) reads in another colour.
    assert!(
        !missed.is_empty() && missed != "rgba(0, 0, 0, 0)" && missed != met,
        "{}",
        m["colours"]
    );
    let hand_back = m["handBack"].as_array().expect("hand-back rows");
    assert_eq!(hand_back.len(), 2, "{hand_back:?}");
    assert!(
        hand_back
            .iter()
            .any(|h| h["text"].as_str().is_some_and(|t| t.contains("NOT DONE")))
    );
    // The headline's figures are the record's.
    let headline = m["headline"].as_str().unwrap_or_default();
    assert!(
        headline.starts_with("2 of 2 systems verified; 2 of them within their recovery-time objective; 1 data-loss window over objective"),
        "{headline}"
    );
    // Printable: a PDF of a few pages.
    std::fs::write(
        dir.path().join("print.html"),
        lifeline::report::recovery::html(&r),
    )
    .expect("write");
    let pdf = print_to_pdf(dir.path(), &dir.path().join("print.html"));
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let pages = pdf_pages(&pdf);
    assert!((1..=12).contains(&pages), "{pages} pages");
}

#[test]
fn chromium_renders_the_release_notice_on_one_printed_page() {
    let bundle = recovery_fixture();
    let notice: lifeline::engine::notice::ReleaseNotice = bundle
        .entries
        .iter()
        .filter(|e| e.kind == lifeline::api::v1alpha1::RecordKind::Notice)
        .find_map(|e| serde_json::from_value(e.data.clone()).ok())
        .filter(|n: &lifeline::engine::notice::ReleaseNotice| !n.hand_back.is_empty())
        .expect("a notice with hand-back items in the fixture");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let page = lifeline::report::notice::html(&notice);
    let m = measure_page(dir.path(), &page);
    assert_no_active_content(&m, "Release notice:");
    assert_drawn(&m, &["released", "box"], "to whom it is released");
    assert!(
        m["released"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&notice.audience)),
        "{}",
        m["released"]
    );
    assert_drawn(&m, &["dataLoss", "box"], "the data-loss window");
    assert!(
        m["dataLoss"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("data lost: 5h")),
        "{}",
        m["dataLoss"]
    );
    let items = m["handBack"].as_array().expect("hand-back items");
    assert_eq!(items.len(), notice.hand_back.len());
    for item in items {
        assert_drawn(item, &["box"], "a hand-back item");
    }
    // One sheet for the ward's noticeboard.
    std::fs::write(dir.path().join("print.html"), &page).expect("write");
    let pdf = print_to_pdf(dir.path(), &dir.path().join("print.html"));
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    assert_eq!(pdf_pages(&pdf), 1, "the notice prints on one page");
}
