"""Generate the student notebooks in exercises/ from the source notebooks in solutions/.

This is nbgrader's generate step (solutions removed, hidden tests removed, cells locked,
checksums added), configured by nbgrader_config.py at the repository root.
"""
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .notebook import ROOT


def slugs(root=ROOT):
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if (p / f"{p.name}.ipynb").is_file())


def generate(root=ROOT, only=None):
    for slug in only or slugs(root):
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", slug,
                               "--force", "--log-level=WARN"], cwd=root,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader could not generate {slug}:\n{proc.stdout}{proc.stderr}")


def stale(root=ROOT):
    """The exercises/ notebooks that differ from what the solutions would generate now."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(root / "solutions", tmp / "solutions")
        shutil.copy(root / "nbgrader_config.py", tmp)
        generate(tmp)
        out = []
        for slug in slugs(root):
            fresh = tmp / "exercises" / slug / f"{slug}.ipynb"
            committed = root / "exercises" / slug / f"{slug}.ipynb"
            if not committed.is_file() or not filecmp.cmp(fresh, committed, shallow=False):
                out.append(slug)
        return out
