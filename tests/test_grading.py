"""The grading command, run for real on generated classes with known outcomes."""

import pytest

from autograder import classgen, release
from autograder.notebook import load_assignment
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
    from autograder.gradebook import open_gradebook
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
    import contextlib
    import io
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
