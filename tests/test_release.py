"""Releasing: are the student notebooks generated, current, and free of solutions?"""
import json

from autograder import release
from autograder.notebook import ROOT

SECRET_MARKERS = ["### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS",
                  "from autograder", "check("]


def test_exercises_are_up_to_date():
    """Does exercises/ match what `python -m autograder release` generates from solutions/?"""
    assert release.stale() == [], "run `python -m autograder release` and commit exercises/"


def test_every_solution_has_a_release():
    assert release.slugs(), "no source notebooks in solutions/"
    for slug in release.slugs():
        assert (ROOT / "exercises" / slug / f"{slug}.ipynb").is_file()


def test_student_notebooks_hold_no_solutions_or_hidden_tests():
    """Can a student read a solution or a hidden test in the released notebook?"""
    for slug in release.slugs():
        nb = json.loads((ROOT / "exercises" / slug / f"{slug}.ipynb").read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"])
        for marker in SECRET_MARKERS:
            assert marker not in text, f"{slug}: the student version contains {marker!r}"
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
