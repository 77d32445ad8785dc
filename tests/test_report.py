"""The instructor's report, built from a class graded by the real command, with known outcomes.

The class: for every released assignment, every variant from classgen (the solution, an
untouched notebook, the correct variants, every known mistake), with the untouched notebook
and the first two mistakes planted twice (under other student ids), so that counts above one
are checked too; and, in 01-softmax, a function that loops forever, one whose exception
message is HTML, a missing notebook and an unreadable one.
"""
import argparse
import html.parser
import json
import statistics
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from autograder import checks, classgen, release, report
from autograder.notebook import ROOT, load_assignment
from conftest import read_csv, run_grade

SOFTMAX = "01-softmax"
COPIED_MISTAKES = 2          # the first mistakes of each assignment planted twice
HANG = {"softmax": "def softmax(z, axis=-1):\n    while True:\n        pass"}
HANG_LOSES = {"softmax", "softmax_jacobian"}   # softmax_jacobian calls the student's softmax
HOSTILE_TEXT = "<script>alert('report')</script> & <img src=http://evil.example/x.png>"
HOSTILE = {"log_softmax": f"def log_softmax(z, axis=-1):\n    raise ValueError({HOSTILE_TEXT!r})"}
MISSING = "absent-<b>-student"      # a student id with markup in it


def released():
    """Assignments with both a source notebook and a released one."""
    return [s for s in release.slugs() if (ROOT / "exercises" / s / f"{s}.ipynb").is_file()]


def plant():
    """(plan for classgen.write_class, {(student, slug): functions expected to fail})."""
    plan, losing = [], {}
    for slug in released():
        every = set(load_assignment(slug).functions)
        mistakes = classgen.fixtures(slug).MISTAKES
        copied = list(mistakes)[:COPIED_MISTAKES]
        for name, cells, _ in classgen.variants(slug):
            student = name.replace(" ", "_")
            if name == "untouched":
                fails = every
            elif name.startswith("mistake-"):
                # the functions that lose points: a set, or {function: behaviours it loses}
                fails = mistakes[name[len("mistake-"):]][1]
            else:
                fails = set()
            copies = [student]
            if name == "untouched" or name[len("mistake-"):] in copied:
                copies.append(f"{student}-again")
            for sid in copies:
                plan.append((sid, slug, cells))
                losing[(sid, slug)] = fails
    if SOFTMAX in released():
        every = set(load_assignment(SOFTMAX).functions)
        plan += [("hangs-forever", SOFTMAX, HANG), ("html-in-message", SOFTMAX, HOSTILE)]
        losing[("hangs-forever", SOFTMAX)] = HANG_LOSES
        # the experiment's mean_nll (and fit_temperature through it) calls this log_softmax,
        # which raises: there is nothing of the student's own to judge them on
        losing[("html-in-message", SOFTMAX)] = {"log_softmax", "mean_nll", "fit_temperature"}
        losing[(MISSING, SOFTMAX)] = every
        losing[("garbled", SOFTMAX)] = every
    return plan, losing


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, graded once by `python -m autograder grade`, and both reports built."""
    tmp = tmp_path_factory.mktemp("report")
    plan, losing = plant()
    submitted, ws = tmp / "submitted", tmp / "ws"
    classgen.write_class(submitted, plan)
    if SOFTMAX in released():
        (submitted / MISSING / SOFTMAX).mkdir(parents=True)
        garbled = submitted / "garbled" / SOFTMAX / f"{SOFTMAX}.ipynb"
        garbled.parent.mkdir(parents=True)
        garbled.write_text('{"cells": [')
    run_grade(submitted, ws, "--cell-timeout", "2", "--notebook-timeout", "20")
    page = report.build_report(ws)
    folder = report.build_report(ws, fmt="csv")
    return {"ws": ws, "plan": plan, "losing": losing, "page": page, "folder": folder,
            "html": page.read_text(encoding="utf-8"),
            "records": [json.loads(p.read_text(encoding="utf-8"))
                        for p in sorted((ws / "results").rglob("*.json"))]}


# ----------------------------------------------------------------------------- helpers

def exact_split(slug, function, problem):
    """(case, diagnosis), knowing the case names (the report does not read the checks)."""
    names = [c.name for c in checks.checks_for(slug)[function].cases
             if problem.startswith(c.name + ": ")]
    assert names, f"no case of {function} explains {problem!r}"
    case = max(names, key=len)
    return case, problem[len(case) + 2:]


def oracle_groups(records):
    """{(slug, function, diagnosis): {students}}, computed independently of the report."""
    groups = {}
    for r in records:
        if r["status"] in ("crashed", "missing", "unreadable"):
            continue
        for t in r["tests"]:
            for d in t["diagnoses"]:
                _, diagnosis = exact_split(r["assignment"], d["function"], d["problem"])
                if diagnosis == "not run" or diagnosis.startswith("not run:"):
                    continue
                groups.setdefault((r["assignment"], d["function"], diagnosis),
                                  set()).add(r["student_id"])
    return groups


def mistake_counts(rows):
    return {(r["assignment"], r["function"], r["diagnosis"]): int(r["students"]) for r in rows}


class Page(html.parser.HTMLParser):
    """Tags with their attributes, and the cells of every table by id."""

    def __init__(self):
        super().__init__()
        self.tags, self.tables, self.style = [], {}, ""
        self._table = self._row = self._cell = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_style:
            self.style += data


def parse(text):
    page = Page()
    page.feed(text)
    page.close()
    return page


# ----------------------------------------------------------------------------- tests

def test_pass_rates_match_the_planted_outcomes(graded):
    """Does every test's pass rate count exactly the students planted to pass it?"""
    rows = {(r["assignment"], r["test"]): r for r in read_csv(graded["folder"] / "tests.csv")}
    expected = {}
    for slug in released():
        students = [sid for sid, s in graded["losing"] if s == slug]
        for test in load_assignment(slug).tests:
            failing = [sid for sid in students
                       if set(test.functions) & set(graded["losing"][(sid, slug)])]
            expected[(slug, test.grade_id)] = (len(students) - len(failing), len(students))
    assert set(rows) == set(expected)
    got = {k: (int(r["passed"]), int(r["submissions"])) for k, r in rows.items()}
    assert got == expected
    for r in rows.values():
        assert r["pass_rate"] == f"{100 * int(r['passed']) / int(r['submissions']):.1f}%"


def test_score_table_matches_the_planted_scores(graded):
    """Are the submissions, statuses and score statistics those of the planted class?"""
    rows = {r["assignment"]: r for r in read_csv(graded["folder"] / "assignments.csv")}
    assert set(rows) == set(released())
    for slug in released():
        scores = [classgen.expected_score(slug, fails)
                  for (sid, s), fails in graded["losing"].items() if s == slug]
        row = rows[slug]
        assert int(row["submissions"]) == len(scores)
        for key, value in [("mean", statistics.fmean(scores)),
                           ("median", statistics.median(scores)),
                           ("min", min(scores)), ("max", max(scores)),
                           ("max_score", load_assignment(slug).max_score)]:
            assert float(row[key]) == pytest.approx(value, abs=0.006), (slug, key)
        problems = {"timed_out": 1, "missing": 1, "unreadable": 1} if slug == SOFTMAX else {}
        for status in ("timed_out", "crashed", "missing", "unreadable"):
            assert int(row[status]) == problems.get(status, 0), (slug, status)
        assert int(row["graded"]) == len(scores) - sum(problems.values())


def test_each_student_counts_once_per_mistake(graded):
    """Does the report count each student once per mistake, however many cases fail?"""
    counts = mistake_counts(read_csv(graded["folder"] / "mistakes.csv"))
    for slug in released():
        # Both untouched notebooks fail every case of every function with this diagnosis.
        for function in load_assignment(slug).functions:
            key = (slug, function, "not implemented yet (it raises NotImplementedError)")
            assert counts.get(key) == 2, key


def test_known_mistakes_are_counted_as_planted(graded):
    """Is a mistake planted twice counted twice, and one planted once counted once?"""
    if SOFTMAX not in released():
        pytest.skip("01-softmax is not released")
    # Every group, not only the most common (groups of one student may fall out of the top).
    rows = report.mistake_table([report._clean(r) for r in graded["records"]], top=None)
    # "no max shift" and "global max shift", 01-softmax's first two mistakes, are planted
    # twice; "jacobian diagonal only" once. (The Jacobian is judged on the student's own
    # softmax, so the overflow is not counted against it.)
    expected = [("softmax", "overflow at large scores: subtract the maximum", 2),
                ("softmax", "the shift uses the maximum of the whole array", 2),
                ("softmax_jacobian", "the diagonal is p_i (1 - p_i)", 1)]
    for function, start, count in expected:
        found = [r for r in rows if r["assignment"] == SOFTMAX and r["function"] == function
                 and r["diagnosis"].startswith(start)]
        assert len(found) == 1, (function, start, found)
        assert found[0]["students"] == count, found[0]
        assert found[0]["example_case"], found[0]


def test_every_planted_mistake_appears_with_its_copies(graded):
    """Does each planted mistake show up under each function it breaks, with all its copies?"""
    records = {(r["student_id"], r["assignment"]): r for r in graded["records"]}
    report_counts = mistake_counts(report.mistake_table(
        [report._clean(r) for r in graded["records"]], top=None))
    planted = {}
    for (sid, slug), fails in graded["losing"].items():
        planted.setdefault((slug, sid.removesuffix("-again")), []).append(sid)
    for (slug, name), students in planted.items():
        if not name.startswith("mistake-"):
            continue
        for function in graded["losing"][(students[0], slug)]:
            texts = {exact_split(slug, d["function"], d["problem"])[1]
                     for t in records[(students[0], slug)]["tests"] for d in t["diagnoses"]
                     if d["function"] == function}
            assert texts, f"{slug} {name}: no diagnosis for {function}"
            for text in texts:
                assert report_counts[(slug, function, text)] >= len(students), (name, text)


def test_mistake_table_agrees_with_an_independent_count(graded):
    """Are the mistakes table's groups, counts and order those counted from the raw records?"""
    groups = oracle_groups(graded["records"])
    rows = read_csv(graded["folder"] / "mistakes.csv")
    for slug in released():
        mine = sorted(((len(s), f, d) for (a, f, d), s in groups.items() if a == slug),
                      key=lambda g: (-g[0], g[1], g[2]))[:report.TOP]
        got = [(int(r["students"]), r["function"], r["diagnosis"]) for r in rows
               if r["assignment"] == slug]
        assert got == mine, slug
    for r in rows:   # the example is one of the cases of a student in the group
        assert any(p["problem"] == f"{r['example_case']}: {r['diagnosis']}"
                   for rec in graded["records"] if rec["assignment"] == r["assignment"]
                   for t in rec["tests"] for p in t["diagnoses"])


def test_problems_table_lists_the_timeout_and_broken_files(graded):
    """Are the timed-out, missing and unreadable submissions listed, with what happened?"""
    if SOFTMAX not in released():
        pytest.skip("01-softmax is not released")
    rows = {r["student_id"]: r for r in read_csv(graded["folder"] / "problems.csv")}
    assert set(rows) == {"hangs-forever", MISSING, "garbled"}
    assert rows["hangs-forever"]["status"] == "timed_out"
    assert "softmax: timed out" in rows["hangs-forever"]["details"]
    assert rows[MISSING]["status"] == "missing" and "not submitted" in rows[MISSING]["notes"]
    assert rows["garbled"]["status"] == "unreadable" and "JSON" in rows["garbled"]["notes"]
    assert all(r["assignment"] == SOFTMAX for r in rows.values())


def test_page_is_offline_and_every_figure_has_alt_text(graded):
    """Does the page load nothing from outside, and does every figure exist with alt text?"""
    text, page_path = graded["html"], graded["page"]
    page = parse(text)
    tags = [t for t, _ in page.tags]
    for forbidden in ("script", "link", "iframe", "object", "embed", "base", "source"):
        assert forbidden not in tags, forbidden
    assert "@import" not in page.style and "url(" not in page.style
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == 2 * len(released())
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs
            assert f'id="{attrs["href"][1:]}"' in text
        if "src" in attrs:
            src = urlsplit(attrs["src"])
            assert not src.scheme and not src.netloc and not attrs["src"].startswith("/")
            image = page_path.parent / attrs["src"]
            assert image.is_file() and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    for attrs in images:
        assert len(attrs.get("alt", "")) > 20, attrs


def test_student_strings_are_escaped(graded):
    """Do an exception message and a student id full of markup appear as text, not markup?"""
    if SOFTMAX not in released():
        pytest.skip("01-softmax is not released")
    text = graded["html"]
    assert "<script" not in text and "<b>" not in text and "evil.example/x.png>" not in text
    assert "&lt;script&gt;alert(&#x27;report&#x27;)&lt;/script&gt; &amp; &lt;img" in text
    assert "absent-&lt;b&gt;-student" in text
    rows = read_csv(graded["folder"] / "mistakes.csv")
    assert any(HOSTILE_TEXT in r["diagnosis"] for r in rows)   # CSV keeps the raw text


def test_csv_files_hold_the_same_tables_as_the_page(graded):
    """Do the CSV files say exactly what the page's tables say?"""
    page = parse(graded["html"])
    for name, columns in report.COLUMNS.items():
        rows = read_csv(graded["folder"] / f"{name}.csv")
        table = page.tables.get(f"table-{name}")
        if not rows:
            assert table is None
            continue
        assert table[0] == [title for _, title in columns]
        assert table[1:] == [[r[key] for key, _ in columns] for r in rows], name


def test_no_code_or_output_reaches_the_report(graded):
    """Is the report free of student code, printed output, hidden tests and reference code?"""
    texts = [graded["html"]] + [p.read_text(encoding="utf-8")
                                for p in graded["folder"].glob("*.csv")]
    secrets = ["while True", "def softmax", "raise ValueError(", "np.exp(", "RuntimeWarning",
               "BEGIN HIDDEN TESTS", "from autograder", "import numpy", "check("]
    for text in texts:
        for secret in secrets:
            assert secret not in text, secret


def test_report_verb(graded, tmp_path, capsys):
    """Does the `report` verb write both formats, and refuse a workspace never graded?"""
    parser = argparse.ArgumentParser()
    report.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", "--workspace", str(graded["ws"]), "--format", "csv"])
    assert args.func(args) == 0
    assert "mistakes.csv" in capsys.readouterr().out
    args = parser.parse_args(["report", "--workspace", str(graded["ws"])])
    assert args.format == "html" and args.func(args) == 0
    args = parser.parse_args(["report", "--workspace", str(tmp_path / "empty")])
    assert args.func(args) == 2
    assert "grade the class first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "--workspace", "x", "--format", "pdf"])


def test_report_verb_from_the_command_line(graded):
    """Once wired into `python -m autograder`, does `report` write the page?"""
    from autograder import __main__ as cli
    if "report" not in cli.parser().format_usage():   # usage: ... {release,grade,...}
        pytest.skip("the report verb is not wired into python -m autograder yet")
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", "--workspace",
                           str(graded["ws"])], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (graded["ws"] / "report" / "index.html").is_file()


@pytest.mark.parametrize("problem, function, case, expected", [
    ("a vector of 5 random scores: overflow at large scores: subtract the maximum", "softmax",
     None, ("a vector of 5 random scores", "overflow at large scores: subtract the maximum")),
    ("sigmoid, N(0, 1) weights (no hidden layer: scores = X W1): NaN: use exp(-|a|)",
     "layer_gradient_norms", None,
     ("sigmoid, N(0, 1) weights (no hidden layer: scores = X W1)", "NaN: use exp(-|a|)")),
    ("batchnorm_backward: N = 2 examples (non-uniform dout): eps is missing: divide",
     "batchnorm_backward", None,
     ("batchnorm_backward: N = 2 examples (non-uniform dout)", "eps is missing: divide")),
    ("softmax: not implemented yet", "softmax", None, ("softmax", "not implemented yet")),
    ("odd: name: ValueError: boom", "f", "odd: name", ("odd: name", "ValueError: boom")),
    ("no separator at all", "f", None, ("", "no separator at all")),
])
def test_case_names_are_removed_from_diagnoses(problem, function, case, expected):
    """Is the leading case name removed, even when it or the diagnosis contains ': '?"""
    assert report.split_problem(problem, function, case) == expected
