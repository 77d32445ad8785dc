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
