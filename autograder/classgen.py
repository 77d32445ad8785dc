"""Generate a class of submissions with known outcomes, from tests/submissions/.

Each student submits the released notebook with its solution cells filled in: the solution's
code, one correct variant, or the solution with one known mistake; or the notebook untouched.
The expected score of each submission is known in advance, so the grader can be checked.
"""
import copy
import importlib.util
import json
import re
from pathlib import Path

from . import checks
from .notebook import ROOT, load_assignment

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", re.M)


def fixtures(slug, root=ROOT):
    """The tests/submissions module for an assignment."""
    path = root / "tests" / "submissions" / f"{checks.MODULES[slug]}.py"
    spec = importlib.util.spec_from_file_location(f"submissions_{checks.MODULES[slug]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution_code(slug, root=ROOT):
    """{grade_id: the solution cell's code without the markers}."""
    nb = json.loads((root / "solutions" / slug / f"{slug}.ipynb").read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out[meta["grade_id"]] = _MARKERS.sub("", src)
    return out


def make_notebook(slug, cells=None, root=ROOT):
    """The released notebook with solution cells replaced: {} = all solutions, None = untouched."""
    nb = json.loads((root / "exercises" / slug / f"{slug}.ipynb").read_text())
    if cells is None:
        return nb
    code = dict(solution_code(slug, root), **cells)
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            cell["source"] = code[meta["grade_id"]]
    return nb


def expected_points(slug, losing, root=ROOT):
    """{test grade_id: points} of a submission that loses exactly what `losing` says.

    `losing`: functions that lose all their points (a set or list), or {function: behaviour
    names it loses, or None for all} (see checks.Behaviour); the other behaviours keep their
    share of their test cell's points.
    """
    tests = load_assignment(slug, root).tests
    if not isinstance(losing, dict):
        losing = {function: None for function in losing}
    unknown = set(losing) - {f for t in tests for f in t.functions}
    if unknown:
        raise ValueError(f"{slug}: no graded function named {', '.join(sorted(unknown))}")
    points = {}
    for test in tests:
        plan = [(f, b) for f in test.functions for b in checks.find(f).plan]
        total = sum(b.points for _, b in plan) or 1.0
        for function in set(losing) & set(test.functions):
            names = {b.name for b in checks.find(function).plan}
            if losing[function] is not None and not set(losing[function]) <= names:
                raise ValueError(f"{function} has no behaviour named "
                                 f"{', '.join(sorted(set(losing[function]) - names))}")
        points[test.grade_id] = sum(
            test.points * b.points / total for f, b in plan
            if f not in losing or (losing[f] is not None and b.name not in losing[f]))
    return points


def also_losing(losing, functions):
    """`losing` (a set or {function: behaviours}) with every function of `functions` lost whole.

    For a mistake whose function the experiment part calls: the experiment's outcome is
    judged on the student's own functions, so it is lost too.
    """
    if not isinstance(losing, dict):
        losing = {function: None for function in losing}
    return dict(losing, **{function: None for function in functions})


def expected_score(slug, losing, root=ROOT):
    """The score of a submission that loses exactly what `losing` says (expected_points)."""
    return sum(expected_points(slug, losing, root).values())


def variants(slug, root=ROOT):
    """[(name, cells or None, expected score)] for one assignment, in a fixed order."""
    fx = fixtures(slug, root)
    max_score = load_assignment(slug, root).max_score
    out = [("solution", {}, max_score), ("untouched", None, 0.0)]
    out += [(f"correct-{name}", cells, max_score) for name, cells in fx.CORRECT.items()]
    out += [(f"mistake-{name}", cells, expected_score(slug, losing, root))
            for name, (cells, losing) in fx.MISTAKES.items()]
    return out


def write_class(folder, plan, root=ROOT):
    """plan: [(student_id, slug, cells or None)]; writes nbgrader's submitted layout."""
    folder = Path(folder)
    for student, slug, cells in plan:
        path = folder / student / slug / f"{slug}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(make_notebook(slug, cells, root), indent=1))
