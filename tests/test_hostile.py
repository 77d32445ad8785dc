"""Hostile and broken submissions (tests/zoo.py), graded together with honest ones by the
real command: each must cost only its author, never the grader, the workspace or anyone
else's grade.
"""
import os
import subprocess
import types

import pytest

from autograder.notebook import ROOT
from zoo import HONEST, ZOO, write_zoo
from conftest import read_csv, run_grade


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zoo")
    expected = write_zoo(tmp / "submitted")
    readme = (ROOT / "README.md").read_bytes()
    run_grade(tmp / "submitted", tmp / "ws", "--cell-timeout", "3", "--notebook-timeout", "30")
    rows = {r["student_id"]: r for r in read_csv(tmp / "ws" / "grades.csv")}
    tests = read_csv(tmp / "ws" / "tests.csv")
    return types.SimpleNamespace(rows=rows, tests=tests, readme=readme, expected=expected)


def test_the_run_finishes_and_grades_everyone(graded):
    rows, expected = graded.rows, graded.expected
    assert set(rows) == set(expected)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_each_attack_earns_only_what_it_computed(graded, name):
    """Does each hostile submission get exactly the points of its honest functions?"""
    rows, expected = graded.rows, graded.expected
    assert float(rows[name]["score"]) == expected[name], rows[name]


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_students_before_and_after_are_unaffected(graded, name):
    """Is an honest student graded right, whatever the zoo did before them?"""
    rows = graded.rows
    assert float(rows[name]["score"]) == HONEST[name]


def test_edited_tests_are_restored_and_said_so(graded):
    rows = graded.rows
    assert "restored" in rows["blanks-test-cells"]["notes"]
    assert "missing" in rows["deletes-test-cells"]["notes"]


def test_broken_files_are_reported_in_words(graded):
    rows = graded.rows
    assert rows["empty-file"]["status"] == "unreadable" and "empty" in rows["empty-file"]["notes"]
    assert "not valid JSON" in rows["truncated-notebook"]["notes"]
    assert "not a Jupyter notebook" in rows["not-a-notebook"]["notes"]
    assert "not a text file" in rows["binary-file"]["notes"]
    assert rows["missing-notebook"]["status"] == "missing"


def test_floods_and_timeouts_are_reported_in_words(graded):
    rows = graded.rows
    assert "only the first" in rows["output-flood"]["notes"]
    memory = [t["diagnosis"] for t in graded.tests
              if t["student_id"] == "memory-bomb" and t["test"] == "test_log_softmax"]
    assert "used more than the 2.0 GiB memory limit" in memory[0], memory
    for name in ("hang-ignoring-signals", "hang-at-top-level"):
        assert rows[name]["status"] == "timed_out"


def test_nothing_outside_the_workspace_changed(graded):
    readme = graded.readme
    assert (ROOT / "README.md").read_bytes() == readme
    assert not os.path.exists("/tmp/planted-by-student")


def test_no_student_process_is_left(graded):
    leftover = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "a process started by a submission is still running"
