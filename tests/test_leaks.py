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
IDIOMS = {'with np.errstate(divide="ignore"):', 'with np.errstate(all="ignore"):',
          "z = np.asarray(z, dtype=float)",
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


# --- functions of the book that reproduce a graded function ------------------------------------
#
# Copied lines are one way to leak an answer; a chapter that writes the same function in its
# own words is another. So the chapters' code cells are executed as the build executes them, and
# every function they define (whatever its name) is called on the hidden cases of every graded
# function and judged as the grader judges a student. A book function leaks a graded function
# when it passes all of its hidden cases, or any case on batched input (an array of two or more
# dimensions), or computes one of the outputs of such a case from its leading arguments (the
# loss without its gradient, with reg = 0): the chapters may work with single vectors and single
# examples (CONTRIBUTING), never with the batched, any-axis forms the exercises grade.

import contextlib
import importlib
import inspect
import io
import signal
import warnings

import numpy as np
import yaml

from autograder import checks
from autograder.sandbox import program, wire

CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
CALL_SECONDS = 2


def chapter_cells(text):
    """[(source, tags)] of a MyST notebook's code cells, in order."""
    cells = []
    for match in CODE_CELL.finditer(text):
        src, tags = match.group(1), []
        if src.startswith("---\n"):
            head, src = src[4:].split("\n---\n", 1)
            tags = (yaml.safe_load(head) or {}).get("tags", [])
        else:
            lines = src.split("\n")
            while lines and lines[0].startswith(":"):
                key, _, value = lines.pop(0)[1:].partition(":")
                if key.strip() == "tags":
                    tags = yaml.safe_load(value) or []
            src = "\n".join(lines)
        cells.append((src, tags))
    return cells


def book_functions(text, name):
    """Execute a chapter's code cells in order in a fresh namespace, as the build does, and
    return {name: function} for every function its cells define."""
    import matplotlib
    matplotlib.use("Agg")
    namespace = {"__name__": f"book_{name}"}
    for i, (src, tags) in enumerate(chapter_cells(text)):
        code = compile(src, f"<book {name} cell {i}>", "exec")
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(code, namespace)
        except Exception:
            if "raises-exception" not in tags:
                raise
    import matplotlib.pyplot as plt
    plt.close("all")
    return {key: value for key, value in namespace.items() if inspect.isfunction(value)
            and value.__code__.co_filename.startswith(f"<book {name} cell")}


class _CallTimeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds):
    def expire(signum, frame):
        raise _CallTimeout(f"no answer within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _batched(value):
    if isinstance(value, np.ndarray):
        return value.ndim >= 2
    if isinstance(value, dict):
        return any(_batched(v) for v in value.values())
    return False


def _part_of_the_answer(fn, case):
    """Does `fn` compute one of the case's expected outputs (say the loss without its
    gradient) when called with the case's leading arguments, the dropped ones all zero
    (a `reg` of 0)? This catches a helper with the graded function's core under a different
    signature, such as a vectorised data loss fn(W, X, y)."""
    if len(case.program["steps"]) != 1:
        return False
    step = case.program["steps"][0]
    inputs = case.program["inputs"]
    args = [inputs[a] for a in step.get("args", [])]
    dropped_ok = lambda values: all(isinstance(v, (int, float)) and v == 0 for v in values)
    wanted = [v for name, v in case.expect.items() if name not in case.unchanged]
    for k in range(len(args) - 1, 0, -1):
        if not dropped_ok(args[k:]):
            continue
        try:
            with _deadline(CALL_SECONDS), np.errstate(all="ignore"), \
                    warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                out = fn(*[v.copy() if isinstance(v, np.ndarray) else v for v in args[:k]])
        except (Exception, _CallTimeout):
            continue
        produced = list(out) if isinstance(out, (tuple, list)) else [out]
        if any(checks.compare(got, want, case.rtol, case.atol) is None
               for got in produced for want in wanted):
            return True
    return False


def reproduces(fn, graded):
    """Does `fn`, standing in for the graded function `graded`, pass its hidden cases the way a
    leak would (all of them, or any on batched input)? Returns (leaks, passed, total,
    computes part of an answer)."""
    slug = next(s for s in checks.MODULES if graded in checks.checks_for(s))
    reference = importlib.import_module(f"autograder.reference.{checks.MODULES[slug]}")
    evidence = [c for c in checks.checks_for(slug)[graded].cases if not c.raises]
    passed, batched_pass, partial = 0, False, False
    for case in evidence:
        # The other steps of a case (a forward pass feeding a backward one) use the reference.
        namespace = {n: f for n, f in vars(reference).items() if inspect.isfunction(f)}
        namespace[graded] = fn
        arrays = {}
        prog = wire.decode(wire.encode(case.program, arrays), arrays)
        try:
            with _deadline(CALL_SECONDS), np.errstate(all="ignore"), warnings.catch_warnings(), \
                    contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                outcome = {"status": "ok", "outputs": program.run(prog, namespace)}
        except (Exception, _CallTimeout) as exc:
            outcome = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        batched = any(_batched(v) for v in case.program["inputs"].values())
        if checks.judge(case, outcome) is None:
            passed += 1
            batched_pass = batched_pass or batched
        elif batched and _part_of_the_answer(fn, case):
            batched_pass = partial = True
    leaks_ = bool(evidence) and (passed == len(evidence) or batched_pass)
    return leaks_, passed, len(evidence), partial


def graded_functions():
    return [name for slug in checks.MODULES for name in checks.checks_for(slug)]


def reproduced(functions):
    """['book function `f` reproduces graded `g` (passes k of n hidden cases)', ...]."""
    found = []
    for name, fn in sorted(functions.items()):
        for graded in graded_functions():
            leaks_, passed, total, partial = reproduces(fn, graded)
            if leaks_:
                part = "; computes part of its answer on batched input" if partial else ""
                found.append(f"book function `{name}` reproduces the graded `{graded}` "
                             f"(passes {passed} of its {total} hidden cases{part})")
    return found


PLANTED_CHAPTER = '''# A chapter that leaks without copying a line

```{code-cell} ipython3
import numpy as np
from scipy.special import softmax as _scipy_softmax


def class_probabilities(scores, axis=-1):
    """Written in other words than the reference: still the graded softmax."""
    return _scipy_softmax(np.asarray(scores, dtype=float), axis=axis)


def mean_loss_of_a_batch(W, X, y):
    """A vectorised data loss: part of the graded softmax_loss_vectorized's answer."""
    S = X @ W
    top = S.max(axis=1)
    log_norm = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    return float((log_norm - S[np.arange(len(y)), y]).mean())


def probabilities_of_one_vector(z):
    """One score vector only, as the chapters are allowed to do."""
    z = np.asarray(z, dtype=float)
    assert z.ndim == 1
    e = np.exp(z - z.max())
    return e / e.sum()
```

```{code-cell} ipython3
:tags: [raises-exception]

probabilities_of_one_vector(np.ones((2, 2)))
```
'''


def test_the_function_check_can_fail():
    """Would a chapter that computes a graded function in its own words be caught, under any
    name or signature (a data loss without `reg`), while a single-vector version (allowed)
    passes?"""
    found = reproduced(book_functions(PLANTED_CHAPTER, "planted"))
    assert any("`class_probabilities` reproduces the graded `softmax`" in f for f in found), found
    assert any("`mean_loss_of_a_batch` reproduces the graded `softmax_loss_vectorized`" in f
               for f in found), found
    assert not any("probabilities_of_one_vector" in f for f in found), found


@pytest.mark.parametrize("slug", release.slugs())
def test_no_book_function_reproduces_a_graded_one(slug):
    """Does any function a chapter defines compute what an exercise grades, in its graded form?"""
    text = (ROOT / "book" / f"{slug}.md").read_text(encoding="utf-8")
    found = reproduced(book_functions(text, slug))
    assert not found, f"book/{slug}.md:\n  " + "\n  ".join(found)
