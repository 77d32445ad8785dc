"""The site and a feedback page in a real browser: do they render, offline, without errors?

Chromium (Debian's, at /usr/bin/chromium) is driven by Playwright against the built site,
served on the loopback interface. Every request to another host is blocked and counts as a
failure, so a page that needs the network fails here as it would for an offline student.
Full-page screenshots of every page are left in _build/screenshots/ for a human to look at.
"""
import functools
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import CHAPTERS, ROOT, run_grade

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError as exc:          # reported by the browser fixture, as a failure
    sync_playwright, PlaywrightTimeout, PLAYWRIGHT_MISSING = None, TimeoutError, exc

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = "127.0.0.1"
SEARCHES = {"softmax": "book/01-softmax.html", "batch normalization": "book/05-batchnorm.html"}
SECRETS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS")


# --- the pages of the site -----------------------------------------------------------------

def toc_files(entries):
    """Every `file:` of a _toc.yml entry list, in order (parts and sections included)."""
    out = []
    for entry in entries or []:
        if "file" in entry:
            out.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            out += toc_files(entry.get(key))
    return out


def toc_pages():
    """The site's pages, as paths relative to _build/html, in the order of the toc."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [f"{name}.html" for name in [toc["root"]] + toc_files([toc])]


def is_redirect_stub(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    return len(text) < 1000 and 'http-equiv="Refresh"' in text


# --- a web server on the loopback interface --------------------------------------------------

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def serve():
    """serve(folder) -> the base URL of a server for `folder`; all are stopped at the end."""
    servers = []

    def start(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://{LOOPBACK}:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site_url(site, serve):
    return serve(site)


# --- the browser -----------------------------------------------------------------------------

class Browser:
    """One Chromium with a fresh profile; requests to any host but the loopback are aborted."""

    def __init__(self, context):
        self.context = context
        self.blocked = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or (
                parts.scheme in ("http", "https") and parts.hostname == LOOPBACK):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def visit(self, url, complete=True):
        """Open `url`; returns the page and the list of problems seen while loading it.
        complete=False returns as soon as the document is parsed (no MathJax, no idle wait)."""
        page = self.context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        # Every page is a reader's first visit: nothing kept from the pages tested before.
        page.add_init_script("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}")
        problems = []
        blocked_before = len(self.blocked)
        page.on("console", lambda m: m.type == "error" and problems.append(
            f"console error: {m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
        page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {exc}"))
        page.on("requestfailed", lambda r: problems.append(
            f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"HTTP {r.status}: {r.url}"))
        if complete:
            page.goto(url, wait_until="load")
            problems += settle(page)
        else:
            page.goto(url, wait_until="domcontentloaded")
        problems += [f"request to another host: {u}" for u in self.blocked[blocked_before:]]
        return page, problems


def settle(page):
    """Wait for MathJax's first typesetting, the fonts, and a quiet network; returns problems."""
    state = page.evaluate("""async () => {
        if (!window.MathJax) return "no MathJax";
        const deadline = Date.now() + 20000;
        while (!(MathJax.startup && MathJax.startup.promise)) {
            if (Date.now() > deadline) return "MathJax never started";
            await new Promise(r => setTimeout(r, 50));
        }
        await MathJax.startup.promise;
        await document.fonts.ready;
        return "typeset";
    }""")
    problems = ["MathJax is configured but never started"] if state == "MathJax never started" else []
    try:
        page.wait_for_load_state("networkidle", timeout=15_000)
    except PlaywrightTimeout:
        problems.append("the network did not go quiet within 15 s (a request that never ends?)")
    return problems


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Chromium, or a failure that says why not (CI installs it, so this never skips)."""
    if sync_playwright is None:
        pytest.fail(f"the Python package playwright is not installed ({PLAYWRIGHT_MISSING}); "
                    "it is in requirements.lock")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install the Debian package 'chromium' "
                    "(`make test` does so as root)")
    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, timeout=60_000)
    except Exception as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} could not be started by Playwright: {exc}")
    yield Browser(context)
    context.close()
    playwright.stop()


# --- what a page must satisfy ----------------------------------------------------------------

IMAGES = """() => [...document.images].map(img => {
    const figure = img.closest("figure");
    const caption = figure && figure.querySelector("figcaption");
    return {src: img.currentSrc || img.src, loaded: img.complete && img.naturalWidth > 0,
            alt: (img.getAttribute("alt") || "").trim(),
            captioned: !!(caption && caption.textContent.trim())};
})"""

# Headings a reader sees (the theme's print-only copy of the title is display: none);
# a heading inside a closed <details> still counts.
HEADINGS = """() => [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .filter(h => h.checkVisibility() || h.closest("details"))
    .map(h => ({level: Number(h.tagName[1]), text: h.textContent.replace("#", "").trim().slice(0, 60)}))"""

MATH = """() => {
    const math = [...document.querySelectorAll(".math")];
    return {math: math.length,
            containers: document.querySelectorAll("mjx-container").length,
            unrendered: math.filter(m => !m.querySelector("mjx-container"))
                            .map(m => m.textContent.trim().slice(0, 80)),
            errors: [...document.querySelectorAll("mjx-merror")]
                        .map(e => e.getAttribute("data-mjx-error") || e.textContent.slice(0, 80))};
}"""

# The text a reader sees outside code and rendered math.
PROSE = """() => {
    const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (parent && !parent.closest(skip) && parent.checkVisibility()) parts.push(node.textContent);
    }
    return parts.join(" ");
}"""


def heading_problems(headings):
    problems = []
    h1 = [h["text"] for h in headings if h["level"] == 1]
    if len(h1) != 1:
        problems.append(f"{len(h1)} visible <h1> headings, expected one: {h1}")
    previous = 1
    for i, h in enumerate(headings):
        if i == 0 and h["level"] != 1:
            problems.append(f"the first heading is <h{h['level']}> '{h['text']}', not <h1>")
        elif h["level"] > previous + 1:
            problems.append(f"<h{h['level']}> '{h['text']}' follows an <h{previous}> "
                            f"(skips <h{previous + 1}>)")
        previous = h["level"]
    return problems


def page_problems(page):
    """Images, figures' alt text, mathematics and headings of the page as rendered."""
    problems = []
    for img in page.evaluate(IMAGES):
        if not img["loaded"]:
            problems.append(f"image not loaded: {img['src']}")
        if not img["alt"] and not img["captioned"]:
            problems.append(f"image without alt text or figure caption: {img['src']}")
    math = page.evaluate(MATH)
    if math["math"] and not math["containers"]:
        problems.append(f"{math['math']} math elements but no MathJax output (mjx-container)")
    problems += [f"math not typeset: {m!r}" for m in math["unrendered"][:10]]
    problems += [f"MathJax error: {e!r}" for e in math["errors"][:10]]
    prose = page.evaluate(PROSE)
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        at = prose.find(raw)
        if at >= 0:
            problems.append(f"raw TeX {raw!r} in the visible text: ...{prose[max(0, at - 60):at + 60]!r}...")
    problems += heading_problems(page.evaluate(HEADINGS))
    return problems


# Display equations as rendered: the width of the typeset formula against the room it has.
# An equation overflows when it is wider than its container (the theme then adds a scroll bar
# or clips it) or reaches past the content column; `aligned` line breaks are the fix.
EQUATIONS = """() => [...document.querySelectorAll("mjx-container[display='true']")].map(c => {
    const column = c.closest("article") || document.body;
    const math = c.querySelector("mjx-math") || c;
    const m = math.getBoundingClientRect(), col = column.getBoundingClientRect();
    const block = c.closest(".math");
    const label = (block && block.id) || "";
    return {label: label.replace(/^equation-/, ""),
            tex: (block ? block.textContent : c.textContent).trim().slice(0, 60),
            width: Math.round(m.width), room: Math.round(c.clientWidth),
            scrolls: c.scrollWidth > c.clientWidth + 1,
            outside: m.right > col.right + 1 || m.left < col.left - 1};
})"""


def equation_problems(page):
    """Display equations wider than the content column, each with its label and widths."""
    problems = []
    for eq in page.evaluate(EQUATIONS):
        if eq["scrolls"] or eq["outside"] or eq["width"] > eq["room"] + 1:
            name = eq["label"] or repr(eq["tex"])
            problems.append(f"equation {name} is {eq['width']} px wide in a column of "
                            f"{eq['room']} px" + (" (it scrolls)" if eq["scrolls"] else "")
                            + (" (it reaches outside the content column)" if eq["outside"] else ""))
    return problems


WIDE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Wide</title>
<script src="_static/mathjax/tex-chtml.js"></script></head>
<body><article style="width: 420px"><h1>Equations</h1>
<div class="math" id="equation-wide">\\[ a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 + a_9 + a_{10}
 + a_{11} + a_{12} + a_{13} + a_{14} + a_{15} + a_{16} + a_{17} + a_{18} + a_{19} + a_{20} \\]</div>
<div class="math" id="equation-scrolls" style="overflow-x: auto">\\[ b_1 + b_2 + b_3 + b_4 + b_5
 + b_6 + b_7 + b_8 + b_9 + b_{10} + b_{11} + b_{12} + b_{13} + b_{14} + b_{15} + b_{16} \\]</div>
<div class="math" id="equation-narrow">\\[ \\begin{aligned} x &= a_1 + a_2 + a_3 \\\\
 &= a_4 \\end{aligned} \\]</div></article></body></html>
"""


def test_the_equation_check_catches_a_wide_equation(browser, site, serve, tmp_path):
    """Would an equation wider than its column be reported, by label, and a narrow one pass?"""
    (tmp_path / "wide.html").write_text(WIDE_PAGE)
    (tmp_path / "_static").symlink_to(site / "_static", target_is_directory=True)
    page, _ = browser.visit(serve(tmp_path) + "wide.html")
    try:
        problems = equation_problems(page)
    finally:
        page.close()
    found = "\n".join(problems)
    assert "equation wide " in found and "equation scrolls " in found, found
    assert "equation narrow" not in found, found


@pytest.mark.parametrize("path", toc_pages())
def test_equations_fit_the_column(browser, site_url, path):
    """At a 1280-pixel window, does every display equation fit its content column (no
    horizontal scroll bar, nothing clipped)?"""
    page, _ = browser.visit(site_url + path)
    try:
        problems = equation_problems(page)
    finally:
        page.close()
    report(path, problems)


def report(where, problems):
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)


BROKEN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Broken</title>
<script src="http://example.com/tracker.js"></script></head>
<body><h1>One</h1><h3>Skipped a level</h3><h1>Two</h1>
<img src="missing.png" alt="a picture that is not there"><img src="dot.svg">
<p>Untypeset: $$x^2$$ and <span class="math">\\(y\\)</span></p>
<script>console.error("a planted error")</script></body></html>
"""


def test_the_checks_catch_a_broken_page(browser, serve, tmp_path):
    """Do the checks report each planted fault, so that a clean page means something?"""
    (tmp_path / "broken.html").write_text(BROKEN_PAGE)
    (tmp_path / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    page, problems = browser.visit(serve(tmp_path) + "broken.html")
    try:
        problems += page_problems(page)
    finally:
        page.close()
    found = "\n".join(problems)
    for fault in ("request to another host: http://example.com/tracker.js", "HTTP 404",
                  "image not loaded", "without alt text", "console error: a planted error",
                  "no MathJax output", "raw TeX '$$'", "2 visible <h1>", "<h3> 'Skipped a level'"):
        assert fault in found, f"the planted fault {fault!r} was not reported:\n{found}"


# --- the site --------------------------------------------------------------------------------

def test_every_page_of_the_site_is_in_the_toc(site):
    """Is every built page (but the index, search and redirect stubs) one the toc lists?"""
    built = {str(p.relative_to(site)) for p in site.rglob("*.html")
             if p.relative_to(site).parts[0] not in ("_static", "_sources")
             and p.name not in ("genindex.html", "search.html") and not is_redirect_stub(p)}
    assert built == set(toc_pages()), (f"pages built but not in the toc: {built - set(toc_pages())}; "
                                       f"in the toc but not built: {set(toc_pages()) - built}")


@pytest.mark.parametrize("path", toc_pages())
def test_page_renders_offline(browser, site, site_url, path):
    """Does the page load with no console error, no failed or external request, every image,
    all its mathematics typeset, headings in order, and alt text on every figure?"""
    page, problems = browser.visit(site_url + path)
    try:
        problems += page_problems(page)
        shots = site.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / f"{Path(path).stem}.png"), full_page=True)
    finally:
        page.close()
    report(path, problems)


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_serves_the_student_notebook(browser, site_url, slug):
    """Does the chapter's download link serve exactly the released student notebook?
    (The page's own errors are test_page_renders_offline's business.)"""
    page, _ = browser.visit(f"{site_url}book/{slug}.html", complete=False)
    try:
        links = page.locator(f'a[href$="{slug}.ipynb"]')
        assert links.count(), (f"book/{slug}.html has no link to {slug}.ipynb "
                               "(its Exercise section must link the exercise notebook)")
        assert links.first.is_visible(), f"book/{slug}.html: the link to {slug}.ipynb is not visible"
        href = links.first.evaluate("a => a.href")
        assert urlsplit(href).hostname == LOOPBACK, f"{slug}: the notebook is linked from another host: {href}"
        response = page.request.get(href)
        assert response.status == 200, f"{slug}: {href} answered HTTP {response.status}"
        body = response.body()
    finally:
        page.close()
    text = body.decode("utf-8")
    served = json.loads(text)
    released = json.loads((ROOT / "exercises" / slug / f"{slug}.ipynb").read_text(encoding="utf-8"))
    assert served == released, f"{slug}: the served notebook is not exercises/{slug}/{slug}.ipynb"
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{slug}: the served notebook contains {leaked}"


@pytest.mark.parametrize("query", SEARCHES)
def test_search_finds_the_chapter(browser, site_url, query):
    """Does the site's own search find the chapter on a topic?"""
    page, problems = browser.visit(f"{site_url}search.html?q={query.replace(' ', '+')}")
    try:
        page.wait_for_function("""() => {
            const h = document.querySelector("#search-results h2");
            return h && h.textContent.includes("Search Results");
        }""", timeout=20_000)
        page.wait_for_load_state("networkidle")
        hrefs = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    finally:
        page.close()
    expected = site_url + SEARCHES[query]
    assert any(h.split("#")[0] == expected for h in hrefs), \
        f"searching for {query!r} does not list {SEARCHES[query]}; results: {hrefs}"
    report(f"search.html?q={query}", problems)


# --- a student's feedback page ---------------------------------------------------------------

FEEDBACK_SLUG = "01-softmax"
FEEDBACK_MISTAKE = "no max shift"


@pytest.fixture(scope="module")
def feedback(tmp_path_factory, serve):
    """A class of two for 01-softmax (one known mistake, one untouched notebook), graded by
    the real command; returns the URL of its feedback pages and what each student submitted."""
    from autograder import classgen
    from autograder.notebook import load_assignment
    tmp = tmp_path_factory.mktemp("feedback")
    cells, losing = classgen.fixtures(FEEDBACK_SLUG).MISTAKES[FEEDBACK_MISTAKE]
    classgen.write_class(tmp / "submitted", [("mistake", FEEDBACK_SLUG, cells),
                                             ("untouched", FEEDBACK_SLUG, None)])
    run_grade(tmp / "submitted", tmp / "ws")
    submitted = {}
    for student in ("mistake", "untouched"):
        nb = json.loads((tmp / "submitted" / student / FEEDBACK_SLUG / f"{FEEDBACK_SLUG}.ipynb").read_text())
        submitted[student] = {
            c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) if isinstance(c["source"], list)
            else c["source"] for c in nb["cells"]
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")}
    return {"url": serve(tmp / "ws" / "feedback"), "code": submitted,
            "points": {"mistake": classgen.expected_points(FEEDBACK_SLUG, losing),
                       "untouched": classgen.expected_points(
                           FEEDBACK_SLUG, load_assignment(FEEDBACK_SLUG).functions)}}


ROWS = """() => [...document.querySelectorAll("table.tests tbody tr")].map(tr => {
    const td = [...tr.querySelectorAll("td")];
    return {functions: td[0].innerText.trim(), result: td[1].innerText.trim(),
            points: td[2].innerText.trim(), diagnoses: [...td[3].querySelectorAll("li:not(.behaviour)")].map(li => li.innerText.trim())};
})"""

CODE = """() => [...document.querySelectorAll("h3")].map(h => {
    const pre = h.nextElementSibling;
    return {name: h.innerText.trim(), code: pre && pre.tagName === "PRE" ? pre.textContent : null,
            visible: !!(pre && pre.checkVisibility())};
})"""


def reference_lines(slug):
    """The non-trivial lines of the reference implementation, stripped."""
    from autograder import checks
    source = (ROOT / "autograder" / "reference" / f"{checks.MODULES[slug]}.py").read_text()
    return [line.strip() for line in source.splitlines() if len(line.strip()) > 25]


@pytest.mark.parametrize("student", ["mistake", "untouched"])
def test_feedback_page_in_the_browser(browser, feedback, student):
    """Does the student's page load offline without errors, list every test with its points and
    a diagnosis in words, show the student's own code, and reveal nothing of the grader?"""
    from autograder.notebook import load_assignment
    assignment = load_assignment(FEEDBACK_SLUG)
    url = f"{feedback['url']}{student}/{FEEDBACK_SLUG}/{FEEDBACK_SLUG}.html"
    page, problems = browser.visit(url)
    try:
        html, text = page.content(), page.inner_text("body")
        rows, code = page.evaluate(ROWS), page.evaluate(CODE)
        problems += heading_problems(page.evaluate(HEADINGS))
    finally:
        page.close()

    # Each test, in notebook order, with its points and, when it failed, what went wrong.
    # (A mistake may cost part of a test's points: those of the behaviours it breaks.)
    assert [r["functions"] for r in rows] == [", ".join(t.functions) for t in assignment.tests], rows
    for row, test in zip(rows, assignment.tests):
        earned = feedback["points"][student][test.grade_id]
        passed = earned == test.points
        word = "passed" if passed else "partly" if earned > 0 else "failed"
        if row["result"] != word or row["points"] != f"{earned:g} / {test.points:g}":
            problems.append(f"{row['functions']}: shows {row['result']}, {row['points']}; "
                            f"expected {word}, {earned:g} / {test.points:g}")
        if passed:
            continue
        if not row["diagnoses"]:
            problems.append(f"{row['functions']}: failed without a diagnosis")
        for d in row["diagnoses"]:
            if len(d) <= 20 or len(re.findall(r"[A-Za-z]{2,}", d)) < 4:
                problems.append(f"{row['functions']}: a diagnosis that is not in words: {d!r}")
        if student == "untouched" and not any("not implemented" in d for d in row["diagnoses"]):
            problems.append(f"{row['functions']}: an untouched stub is not called 'not implemented'")
    softmax_row = next(r for r in rows if r["functions"] == "softmax")
    if student == "mistake" and not any("overflow" in d for d in softmax_row["diagnoses"]):
        problems.append(f"softmax without the max shift: no diagnosis mentions the overflow: {softmax_row}")

    # The student's own code, exactly as submitted, one block per function.
    shown = {c["name"]: c for c in code}
    for gid, src in feedback["code"][student].items():
        if gid not in shown or shown[gid]["code"] is None:
            problems.append(f"the code of {gid} is not shown")
        elif shown[gid]["code"].strip() != src.strip() or not shown[gid]["visible"]:
            problems.append(f"the code shown for {gid} is not the student's: {shown[gid]['code']!r}")

    # Nothing of the grader: hidden tests, the grader's imports, the reference implementation.
    for secret in ("BEGIN HIDDEN TESTS", "from autograder", "check("):
        if secret in html or secret in text:
            problems.append(f"the page contains {secret!r}")
    own = {line.strip() for src in feedback["code"][student].values() for line in src.splitlines()}
    for line in reference_lines(FEEDBACK_SLUG):
        if line in text and line not in own:
            problems.append(f"a line of the reference implementation is shown: {line!r}")
    report(url, problems)
