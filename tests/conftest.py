"""Shared fixtures: the strictly built site, and the repository's paths."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ["01-softmax", "02-cross-entropy", "03-backprop", "04-vanishing-gradients",
            "05-batchnorm"]
JB = str(Path(sys.executable).parent / "jupyter-book")


def strict_build(source, extra=()):
    """`make book`'s command: a warning, a broken reference or a raising cell fails it."""
    return subprocess.run([JB, "build", str(source), "--builder", "html", "-W", "-n",
                           "--keep-going", *extra], capture_output=True, text=True)


@pytest.fixture(scope="session")
def site():
    """The site built strictly into _build/html (the execution cache makes a rebuild fast)."""
    proc = strict_build(ROOT)
    assert proc.returncode == 0, f"the strict book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return ROOT / "_build" / "html"


def run_grade(submitted, workspace, *options, check=True, timeout=1800):
    """`python -m autograder grade` as an instructor runs it; asserts it finished if `check`."""
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submitted),
                           "--workspace", str(workspace), *options], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
