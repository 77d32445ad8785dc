"""Shared fixtures: the strictly built site, and the repository's paths."""
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
