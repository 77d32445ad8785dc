"""The grading command, run for real on generated classes with known outcomes."""
import contextlib
import io
import os
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import SubmittedNotebook

from autograder import classgen, release
from autograder.gradebook import open_gradebook
from autograder.notebook import ROOT, load_assignment
from conftest import read_csv, run_grade


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Every variant of every assignment (solutions, untouched, correct variants, mistakes)."""
    tmp = tmp_path_factory.mktemp("class")
    plan, expected = [], {}
    for slug in release.slugs():
        for name, cells, score in classgen.variants(slug):
            student = name.replace(" ", "_")
            plan.append((student, slug, cells))
            expected[(student, slug)] = score
    classgen.write_class(tmp / "submitted", plan)
    proc = run_grade(tmp / "submitted", tmp / "ws")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp, expected, proc


def test_every_submission_gets_its_planted_score(graded_class):
    """Solutions get full marks, untouched notebooks zero, each mistake loses exactly its points."""
    tmp, expected, _ = graded_class
    rows = read_csv(tmp / "ws" / "grades.csv")
    got = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    assert set(got) == set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if abs(got[k] - v) > 1e-9}
    assert not wrong, f"(got, expected) scores differ: {wrong}"
    for r in rows:
        if r["student_id"] == "solution":
            assert r["score"] == r["max_score"] and float(r["max_score"]) > 0


def test_enough_mistakes_and_correct_variants():
    """At least 40 realistic mistakes in all, and two correct variants per notebook."""
    total = 0
    for slug in release.slugs():
        fx = classgen.fixtures(slug)
        assert len(fx.CORRECT) >= 2, f"{slug}: fewer than two correct variants"
        total += len(fx.MISTAKES)
    if len(release.slugs()) == 5:
        assert total >= 40, f"only {total} mistakes"


def test_every_mistake_is_diagnosed_in_words(graded_class):
    """Does every failed test say what went wrong (not just 'failed')?"""
    tmp, _, _ = graded_class
    for r in read_csv(tmp / "ws" / "tests.csv"):
        if r["passed"] == "0":
            assert len(r["diagnosis"]) > 20, r
        if r["student_id"] == "untouched":
            assert "not implemented" in r["diagnosis"], r


def test_feedback_pages_and_gradebook(graded_class):
    """Is there a feedback page per notebook, free of hidden tests, and a gradebook?"""
    tmp, expected, _ = graded_class
    for student, slug in expected:
        page = tmp / "ws" / "feedback" / student / slug / f"{slug}.html"
        text = page.read_text(encoding="utf-8")
        assert "Automatic score" in text
        for secret in ("BEGIN HIDDEN TESTS", "from autograder", "check(", "reference"):
            assert secret not in text, f"{page}: contains {secret!r}"
    with open_gradebook(f"sqlite:///{tmp / 'ws' / 'gradebook.db'}") as gb:
        for slug in release.slugs():
            sub = gb.find_submission(slug, "solution")
            assert sub.score == sub.max_score - sum(
                c.max_score for c in gb.find_notebook(slug, slug).grade_cells if c.cell_type == "markdown")


def test_grading_again_resumes_without_regrading(graded_class):
    """Does a second run reuse every finished result and give the same grades?"""
    tmp, _, _ = graded_class
    before = (tmp / "ws" / "grades.csv").read_text()
    proc = run_grade(tmp / "submitted", tmp / "ws")
    assert proc.returncode == 0
    assert "0 graded now" in proc.stdout, proc.stdout
    assert (tmp / "ws" / "grades.csv").read_text() == before


def test_missing_submissions_folder_is_a_clear_error(tmp_path):
    proc = run_grade(tmp_path / "nowhere", tmp_path / "ws", check=False)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def _run_visible_tests(slug, cells):
    """Execute a student's released notebook in this process: which cells fail?"""
    nb = classgen.make_notebook(slug, cells)
    namespace, failed = {}, []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell["metadata"].get("nbgrader", {})
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(src, meta.get("grade_id", "cell"), "exec"), namespace)
        except Exception:
            failed.append(meta.get("grade_id"))
    return failed


@pytest.mark.parametrize("slug", release.slugs())
def test_visible_tests_agree_with_the_hidden_ones(slug):
    """Does every correct implementation pass the visible tests, and an untouched one fail them?"""
    for name, cells, _ in classgen.variants(slug):
        if name == "solution" or name.startswith("correct-"):
            assert _run_visible_tests(slug, cells) == [], f"{slug}: {name} fails visible tests"
    failed = _run_visible_tests(slug, None)
    every_test = [t.grade_id for t in load_assignment(slug).tests]
    assert set(every_test) <= set(failed), \
        f"{slug}: an untouched notebook passes {set(every_test) - set(failed)}"


def test_a_killed_grader_resumes_to_the_same_grades(graded_class, tmp_path):
    """If the grader is killed in the middle of a class, does running it again finish the job,
    with nothing lost or graded twice and the grades of an uninterrupted run?"""
    tmp, expected, _ = graded_class
    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp / "submitted"),
                             "--workspace", str(ws)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(list((ws / "results").glob("*/*.json"))) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((ws / "results").glob("*/*.json")))
    assert 10 <= done_before < len(expected), "the run was not interrupted in the middle"
    rerun = run_grade(tmp / "submitted", ws)
    graded_now = int(rerun.stdout.split("(")[1].split(" graded now")[0])
    assert graded_now == len(expected) - done_before, rerun.stdout
    assert (ws / "grades.csv").read_text() == (tmp / "ws" / "grades.csv").read_text()
    with open_gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:
        assert gb.db.query(SubmittedNotebook).count() == len(expected)


# ---------------------------------------------------------------------------- fairness

# Mistakes whose lost points no visible test can warn about, each with the reason. (Empty
# today: every class of mistake the hidden cases penalise has a visible test that catches it.)
UNWARNED_ON_PURPOSE = {}


def _result(tmp, student, slug):
    import json
    return json.loads((tmp / "ws" / "results" / student / f"{slug}.json").read_text())


def _experiment_tests(slug, mistake):
    """Test cells of the experiment functions that a mistake also costs (_EXPERIMENT_LOSSES)."""
    functions = set(getattr(classgen.fixtures(slug), "_EXPERIMENT_LOSSES", {}).get(mistake, ()))
    return {t.grade_id for t in load_assignment(slug).tests if functions & set(t.functions)}


def test_no_points_are_taken_that_no_visible_test_warned_about(graded_class):
    """Does every test cell on which a known mistake loses points fail visibly for the student?"""
    tmp, _, _ = graded_class
    unwarned = {}
    for slug in release.slugs():
        for name, cells, _ in classgen.variants(slug):
            if cells is None or name == "solution":
                continue
            lost = {t["test"] for t in _result(tmp, name.replace(" ", "_"), slug)["tests"]
                    if t["points"] < t["max_points"]}
            failing = set(_run_visible_tests(slug, cells))
            silent = lost - failing
            # The experiment part runs on the student's own functions: a test cell of a function
            # that only calls the mistaken one is warned about by the mistaken one's failing test.
            calls_it = _experiment_tests(slug, name.removeprefix("mistake-"))
            if failing and silent <= calls_it:
                silent = set()
            if silent and (slug, name) not in UNWARNED_ON_PURPOSE:
                unwarned[(slug, name)] = sorted(silent)
    assert not unwarned, f"points taken where every visible test passes: {unwarned}"


def test_a_mistake_costs_the_behaviours_it_breaks(graded_class):
    """Does ddof=1 in the batchnorm forward cost that forward's output and running variance
    only, with both backward passes, right for the forward they were given, keeping theirs?"""
    tmp, _, _ = graded_class
    result = _result(tmp, "mistake-unbiased_variance", "05-batchnorm")
    tests = {t["test"]: t for t in result["tests"]}
    forward = tests["test_batchnorm_forward"]
    lost = {b["name"] for b in forward["behaviours"] if not b["passed"]}
    assert lost == {"train mode: the output", "train mode: the running variance"}, lost
    assert 0 < forward["points"] < forward["max_points"] and not forward["passed"]
    for test in ("test_batchnorm_backward", "test_batchnorm_backward_alt"):
        assert tests[test]["passed"] and tests[test]["points"] == tests[test]["max_points"]
        assert any("batchnorm_forward is wrong" in n for n in tests[test]["notes"])
    for t in result["tests"]:     # the record others read: points are the behaviours' sum
        assert abs(t["points"] - sum(b["points"] for b in t["behaviours"])) < 1e-9
        assert {(d["case"], d["problem"]) for d in t["diagnoses"]} == \
            {(d["case"], d["problem"]) for b in t["behaviours"] for d in b["diagnoses"]}


def test_a_cell_that_does_not_compile_is_reported_as_a_syntax_error(graded_class):
    """Is a Python 2 print statement reported with its line, not as an undefined function?"""
    tmp, _, _ = graded_class
    result = _result(tmp, "mistake-naive:_a_Python_2_print_statement", "03-backprop")
    naive = next(t for t in result["tests"] if t["test"] == "test_softmax_loss_naive")
    text = naive["diagnoses"][0]["diagnosis"]
    assert "SyntaxError on line" in text and "print(" in text and "not defined" not in text, text


def test_the_feedback_page_shows_the_split(graded_class):
    """Does the page list each behaviour with its points, and say the forward is what is wrong?"""
    tmp, _, _ = graded_class
    page = (tmp / "ws" / "feedback" / "mistake-unbiased_variance" / "05-batchnorm" /
            "05-batchnorm.html").read_text(encoding="utf-8")
    for text in ("train mode: the output", "0 / 2", "train mode: the running mean", "0.5 / 0.5",
                 "partly", "was judged on what your batchnorm_forward gave it", "dgamma"):
        assert text in page, text


@pytest.mark.parametrize("slug", release.slugs())
def test_behaviours_split_each_test_cell_exactly(slug):
    """Do the declared behaviours add up to each test cell's points, and does every case's
    every output and every input it must leave unchanged belong to some behaviour?"""
    from autograder import checks
    for test in load_assignment(slug).tests:
        plan = [b for f in test.functions for b in checks.find(f).plan]
        if any(checks.find(f).behaviours for f in test.functions):
            assert abs(sum(b.points for b in plan) - test.points) < 1e-9, test.grade_id
        for f in test.functions:
            check = checks.find(f)
            names = {b.name for b in check.plan}
            assert len(names) == len(check.plan), f"{f}: two behaviours share a name"
            for case in check.cases:
                covering = [b for b in check.plan if b.covers(case)]
                assert covering, f"{f}: no behaviour judges the case {case.name!r}"
                for out in set(case.expect) - set(case.unchanged):
                    assert any(b.judges(out) for b in covering), f"{f}/{case.name}: {out}"
                if case.unchanged:
                    assert any(b.inputs for b in covering), f"{f}/{case.name}: inputs unchecked"


def test_the_03_hidden_cases_keep_the_statements_promise():
    """The statement promises -log(P[y]) after the shift is exact where the correct class is
    less than 700 below its row's maximum, and that the tests stay there: do they?"""
    import numpy as np
    from autograder import checks
    from autograder.reference import backprop as ref
    for function in ("softmax_loss_naive", "softmax_loss_vectorized"):
        for case in checks.find(function).cases:
            inputs = case.program["inputs"]
            scores = inputs["X"] @ inputs["W"]
            gap = scores.max(axis=1) - scores[np.arange(len(inputs["y"])), inputs["y"]]
            assert gap.max() < 700, (function, case.name, gap.max())
    for case in checks.find("two_layer_net_loss").cases:
        params, X, y = (case.program["inputs"][k] for k in ("params", "X", "y"))
        scores = ref.sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        assert (scores.max(axis=1) - scores[np.arange(len(y)), y]).max() < 700, case.name


@pytest.mark.parametrize("slug", release.slugs())
def test_a_visible_test_cell_prints_passed_only_after_all_its_checks(slug):
    """Is the one print of each visible test cell its last statement (so "passed" never
    appears above a check that then fails)?"""
    import ast
    for kind, gid, source in load_assignment(slug).release_cells:
        if kind != "test":
            continue
        body = ast.parse(source).body
        prints = [n for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                  if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert len(prints) == 1, f"{gid}: {len(prints)} prints"
        last = body[-1]
        assert isinstance(last, ast.Expr) and last.value is prints[0], f"{gid}: prints before its end"
