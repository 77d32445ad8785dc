"""Does any solution, hidden test or reference code reach what students see?

Students see the built site (pages, page sources, downloads), the released notebooks in
exercises/ and their feedback pages. None of these may contain a line of a solution region,
of a hidden test, or of the reference implementations.
"""
import ast
import html
import json
import re

import pytest

from autograder import classgen, release
from autograder.notebook import ROOT
from conftest import run_grade

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
MIN_LENGTH = 24   # shorter lines (`return e`, `p = softmax(z)`) are too generic to be evidence
# Idioms that any NumPy code writes, in the chapters as in the solutions: not evidence either.
IDIOMS = {'with np.errstate(divide="ignore"):', "z = np.asarray(z, dtype=float)",
          "return 1.0 / (1.0 + np.exp(-t))",
          # a formula the 05-batchnorm task statement gives in words and symbols
          "out = gamma * x_hat + beta"}


def _significant(lines):
    out = set()
    for line in lines:
        line = line.strip()
        if len(line) >= MIN_LENGTH and not line.startswith(("#", '"""', "'''")) \
                and line not in IDIOMS:
            out.add(line)
    return out


def secret_lines():
    """Every significant line of the solution regions, hidden tests and reference code."""
    secrets, public = set(), set()
    for slug in release.slugs():
        nb = json.loads((ROOT / "solutions" / slug / f"{slug}.ipynb").read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for _, body in REGION.findall(src):
                secrets |= _significant(body.splitlines())
            # What the source notebook shows outside its regions (signatures, docstrings,
            # scaffolding such as unpacking `params`) is given to students on purpose.
            public |= _significant(REGION.sub("", src).splitlines())
    for path in (ROOT / "autograder" / "reference").glob("*.py"):
        secrets |= _significant(_bodies(path.read_text()))
    return secrets - public


def _bodies(source):
    """The lines of every function body, without signatures and docstrings (the stubs show
    those to students on purpose)."""
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            for stmt in body:
                out.extend(lines[stmt.lineno - 1:stmt.end_lineno])
    return out


def visible_text(text):
    """What a reader sees of an HTML page: tags dropped (highlighting splits code into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def leaks(text, secrets):
    return sorted(s for s in secrets if s in text or s in visible_text(text))


@pytest.fixture(scope="module")
def secrets():
    found = secret_lines()
    assert len(found) > 50, "the leak check found too few secret lines to be meaningful"
    return found


def test_the_check_can_fail(secrets):
    """Would the check notice a solution pasted into a page?"""
    sol = classgen.solution_code("01-softmax")["softmax"]
    assert leaks(sol, secrets)


def test_released_notebooks_leak_nothing(secrets):
    for slug in release.slugs():
        text = "\n".join("".join(c["source"]) for c in json.loads(
            (ROOT / "exercises" / slug / f"{slug}.ipynb").read_text())["cells"])
        assert not leaks(text, secrets), f"{slug}: {leaks(text, secrets)[:5]}"


def test_the_built_site_leaks_nothing(site, secrets):
    """Pages, their sources and every downloadable file of the site."""
    found = {}
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".txt", ".md", ".ipynb", ".py", ".js", ".json"}:
            hits = leaks(path.read_text(errors="ignore"), secrets)
            if hits:
                found[str(path.relative_to(site))] = hits[:3]
    assert not found, found


def test_feedback_leaks_nothing(tmp_path, secrets):
    """Feedback for solutions and mistakes shows the student's code, never ours."""
    plan = [(name.replace(" ", "_"), slug, cells) for slug in release.slugs()
            for name, cells, _ in classgen.variants(slug)
            if name not in ("solution",) and not name.startswith("correct-")]
    classgen.write_class(tmp_path / "submitted", plan)
    run_grade(tmp_path / "submitted", tmp_path / "ws")
    found = {}
    for page in (tmp_path / "ws" / "feedback").rglob("*.html"):
        text = page.read_text()
        # The student's own code is on the page by design; a mistake submission copies every
        # solution cell but one, so compare only what is not the student's own code.
        record = json.loads((tmp_path / "ws" / "results" / page.parent.parent.name /
                             f"{page.parent.name}.json").read_text())
        own = "\n".join(src for _, src in record["student_code"])
        hits = [s for s in leaks(text, secrets) if s not in own]
        if hits:
            found[str(page.relative_to(tmp_path))] = hits[:3]
    assert not found, found
