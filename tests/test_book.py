"""The book: does it build strictly, is every chapter there, and does it work offline?"""
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import CHAPTERS, ROOT, strict_build


class Tags(HTMLParser):
    """Collects (tag, attributes) of every start tag."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(path):
    parser = Tags()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser.tags


def pages(site):
    return sorted(site.rglob("*.html"))


class Cells(HTMLParser):
    """The code cells of a built page: [{"input": source text, "hidden": collapsed behind a
    "Show code" toggle, "figure": the cell's output holds a figure}]."""

    def __init__(self):
        super().__init__()
        self.cells, self.stack = [], []          # stack of (tag, role) for open elements

    def _roles(self):
        return {role for _, role in self.stack}

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "input", "hr", "wbr"):
            if tag == "img" and "output" in self._roles() and self.cells:
                self.cells[-1]["figure"] = True
            return
        classes = set((dict(attrs).get("class") or "").split())
        role = None
        if tag == "div" and "cell" in classes:
            self.cells.append({"input": "", "hidden": False, "figure": False})
            role = "cell"
        elif tag == "div" and "cell_input" in classes:
            role = "input"
            self.cells[-1]["hidden"] = "details" in self._roles()
        elif tag == "div" and "cell_output" in classes:
            role = "output"
        elif tag == "details" and "hide" in classes:
            role = "details"
        elif tag == "figure" and "output" in self._roles():
            self.cells[-1]["figure"] = True
        self.stack.append((tag, role))

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if "input" in self._roles() and self.cells:
            self.cells[-1]["input"] += data


def code_cells(html):
    parser = Cells()
    parser.feed(html)
    return parser.cells


def plumbing_problems(html):
    """Glue calls shown on the page (they belong in cells tagged remove-cell), and figure cells
    whose drawing code is not collapsed (they are tagged hide-input)."""
    problems = []
    for n, cell in enumerate(code_cells(html), 1):
        if "glue(" in cell["input"] or "import glue" in cell["input"]:
            line = next(l for l in cell["input"].splitlines() if "glue" in l)
            problems.append(f"code cell {n} shows glue plumbing: {line.strip()!r}")
        if cell["figure"] and not cell["hidden"]:
            first = next((l for l in cell["input"].splitlines() if l.strip()), "")
            problems.append(f"code cell {n} draws a figure with its code expanded: {first.strip()!r}")
    return problems


PLANTED = """<div class="cell docutils container"><div class="cell_input docutils container">
<div class="highlight"><pre><span class="n">x</span> = 1
<span class="n">glue</span>(<span class="s2">"k"</span>, x)</pre></div></div></div>
<div class="cell tag_hide-input docutils container"><details class="hide above-input">
<summary>Show code cell source</summary><div class="cell_input docutils container">
<pre>plt.plot(x)</pre></div></details><div class="cell_output docutils container">
<figure class="align-default"><img alt="a" src="a.png"></figure></div></div>
<div class="cell docutils container"><div class="cell_input docutils container">
<pre>fig, ax = plt.subplots()</pre></div><div class="cell_output docutils container">
<figure class="align-default"><img alt="b" src="b.png"></figure></div></div>
"""


def test_the_plumbing_check_can_fail():
    """Would a glue call left in a visible cell, or a figure with its code expanded, be caught
    (and a figure whose code is collapsed pass)?"""
    problems = plumbing_problems(PLANTED)
    assert len(problems) == 2, problems
    assert "glue" in problems[0] and "code cell 1" in problems[0]
    assert "figure" in problems[1] and "code cell 3" in problems[1]


@pytest.mark.parametrize("slug", CHAPTERS)
def test_no_plumbing_on_the_page(site, slug):
    """Does the reader see the teaching code only: no glue(...) (remove-cell) and every figure's
    drawing code collapsed (hide-input)?"""
    html = (site / "book" / f"{slug}.html").read_text(encoding="utf-8")
    cells = code_cells(html)
    assert cells, f"{slug}: no code cells found on the page (has the HTML structure changed?)"
    problems = plumbing_problems(html)
    assert not problems, f"{slug}:\n  " + "\n  ".join(problems)


def test_every_chapter_is_built(site):
    """Is there a page for each of the five chapters and the introduction?"""
    for slug in CHAPTERS + ["intro"]:
        assert (site / "book" / f"{slug}.html").is_file(), f"book/{slug} is missing from the site"


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_shape(site, slug):
    """Does each chapter open with objectives, end with a summary, and link its exercise?"""
    text = (site / "book" / f"{slug}.html").read_text(encoding="utf-8")
    assert "Learning objectives" in text, f"{slug}: no learning objectives"
    assert re.search(r"<h2>Summary", text), f"{slug}: no Summary section"
    assert re.search(r"<h2>Exercise", text), f"{slug}: no Exercise section"
    links = [a.get("href", "") for tag, a in tags(site / "book" / f"{slug}.html") if tag == "a"]
    downloads = [h for h in links if h.endswith(f"/{slug}.ipynb")]
    assert downloads, f"{slug}: no download link to its exercise notebook"
    served = (site / "book" / downloads[0]).resolve()
    assert served.read_bytes() == (ROOT / "exercises" / slug / f"{slug}.ipynb").read_bytes(), \
        f"{slug}: the downloadable notebook is not the released student version"


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_has_figures(site, slug):
    """Does each chapter show at least three figures generated by code, with alt text?"""
    imgs = [a for tag, a in tags(site / "book" / f"{slug}.html") if tag == "img"
            and "_images/" in a.get("src", "")]
    assert len(imgs) >= 3, f"{slug}: {len(imgs)} figures, expected at least 3"
    for img in imgs:
        assert img.get("alt", "").strip(), f"{slug}: a figure without alt text ({img['src']})"
        assert (site / "book" / img["src"]).resolve().is_file(), f"{slug}: missing image {img['src']}"


LOADS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src",
         "audio": "src", "video": "src", "link": "href"}


def test_site_loads_nothing_from_another_host(site):
    """Is every script, stylesheet, font and image served by the site itself?"""
    external = []
    for page in pages(site):
        for tag, attrs in tags(page):
            if tag == "link" and not set(attrs.get("rel", "").split()) & {
                    "stylesheet", "preload", "icon", "modulepreload", "prefetch", "manifest"}:
                continue
            url = attrs.get(LOADS.get(tag, ""), "") or ""
            if re.match(r"^(https?:)?//", url):
                external.append(f"{page.relative_to(site)}: <{tag}> {url}")
    for css in site.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^'\")]+)", css.read_text(errors="ignore")):
            external.append(f"{css.relative_to(site)}: url({url})")
        for url in re.findall(r"@import\s+(?:url\()?['\"]((?:https?:)?//[^'\"]+)", css.read_text(errors="ignore")):
            external.append(f"{css.relative_to(site)}: @import {url}")
    assert not external, "resources loaded from other hosts:\n" + "\n".join(sorted(set(external))[:30])


def test_mathjax_is_served_locally(site):
    """Does every chapter load MathJax from the site's own _static folder?"""
    for slug in CHAPTERS:
        srcs = [a.get("src", "") for tag, a in tags(site / "book" / f"{slug}.html") if tag == "script"]
        mathjax = [s for s in srcs if "mathjax" in s.lower()]
        assert mathjax and all(s.startswith("../_static/mathjax/") for s in mathjax), \
            f"{slug}: MathJax not loaded from _static: {mathjax}"
        target = site / "book" / mathjax[0].split("?")[0]
        assert target.resolve().is_file()
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_a_raising_cell_fails_the_build(tmp_path):
    """Does the strict build really fail when a cell raises (no allow_errors anywhere)?"""
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (tmp_path / "book" / "intro.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        "  name: python3\n  display_name: Python 3\n---\n# Broken\n\n"
        "```{code-cell} ipython3\nraise ValueError('a cell that raises')\n```\n")
    (tmp_path / "_assets").mkdir()
    proc = strict_build(tmp_path)
    assert proc.returncode != 0, "a page whose cell raises was built without error"
    assert "a cell that raises" in proc.stdout + proc.stderr


EQNO = re.compile(r'<div class="math[^"]*" id="equation-([^"]+)">\s*<span class="eqno">\(([^)<]+)\)')
EQREF = re.compile(r'<a class="reference internal" href="([^"#]*)#equation-([^"]+)">\(([^)<]+)\)</a>')


def equation_numbers(site):
    """{(page, label): number} of every numbered display equation of the site."""
    return {(page.relative_to(site / "book").as_posix(), label): number
            for page in sorted((site / "book").glob("*.html"))
            for label, number in EQNO.findall(page.read_text(encoding="utf-8"))}


def numbering_problems(site, slugs):
    """Equations of chapter N not numbered (N.1), (N.2), ... in order, and {eq} references
    (on their own page or another) that show another number than the equation they link to."""
    numbers = equation_numbers(site)
    problems = []
    for slug in slugs:
        chapter = int(slug.split("-")[0])
        html = (site / "book" / f"{slug}.html").read_text(encoding="utf-8")
        in_order = [n for _, n in EQNO.findall(html)]
        expected = [f"{chapter}.{i}" for i in range(1, len(in_order) + 1)]
        if not in_order:
            problems.append(f"{slug}: no numbered equations found")
        elif in_order != expected:
            problems.append(f"{slug}: equations numbered {in_order[:6]}..., expected {expected[:6]}...")
    for page in sorted((site / "book").glob("*.html")):
        for target, label, shown in EQREF.findall(page.read_text(encoding="utf-8")):
            number = numbers.get((target or page.name, label))
            if number != shown:
                problems.append(f"{page.name}: the reference to {label} shows ({shown}), "
                                f"the equation is ({number})")
    return problems


def _planted_equation(label, number):
    return (f'<div class="math notranslate nohighlight" id="equation-{label}">\n'
            f'<span class="eqno">({number})<a class="headerlink" href="#equation-{label}">#</a></span>'
            f'\\[x\\]</div>')


def test_the_numbering_check_can_fail(tmp_path):
    """Would book-wide numbering, or a reference showing a stale number, be reported?"""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "01-a.html").write_text(
        _planted_equation("a-one", "1.1") + _planted_equation("a-two", "1.2")
        + '<a class="reference internal" href="02-b.html#equation-b-one">(2.1)</a>')
    (tmp_path / "book" / "02-b.html").write_text(
        _planted_equation("b-one", "3") + '<a class="reference internal" href="#equation-b-one">(3)</a>'
        + '<a class="reference internal" href="01-a.html#equation-a-two">(1.1)</a>')
    problems = numbering_problems(tmp_path, ["01-a", "02-b"])
    assert len(problems) == 3, problems
    assert "02-b: equations numbered ['3']" in problems[0]
    assert "reference to b-one shows (2.1), the equation is (3)" in problems[1]
    assert "reference to a-two shows (1.1), the equation is (1.2)" in problems[2]


def test_equations_are_numbered_per_chapter(site):
    """Is every equation of chapter N numbered (N.1), (N.2), ... in order, and does every
    {eq} reference, on its own page or another, show the number of the equation it links to?"""
    problems = numbering_problems(site, CHAPTERS)
    assert not problems, "\n".join(problems[:20])
