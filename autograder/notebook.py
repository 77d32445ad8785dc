"""Reading notebooks: the trusted source and release, and whatever a student submitted.

Nothing in a submission is trusted except the code in its solution cells. Which cells are
graded, their points and their tests come from the source notebook in solutions/; the
provided read-only cells are restored from the released notebook in exercises/; test cells
are not executed at all (their hidden part is judged by the grader, outside the sandbox).
Outputs and metadata in the submission are ignored, so pre-filled "passing" outputs,
edited points or flipped grade flags change nothing.
"""
import ast
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_NOTEBOOK_BYTES = 16 * 2**20
EXPERIMENT_PREFIX = "experiment_"   # solution cells the grader does not run (sweeps, plots)


class SubmissionError(Exception):
    """The submitted file cannot be graded; the message says why, in words."""


@dataclasses.dataclass
class GradedTest:
    grade_id: str
    points: float
    functions: list            # the functions whose hidden checks this cell runs


@dataclasses.dataclass
class Assignment:
    slug: str
    tests: list                # [GradedTest], in notebook order
    manual: dict               # grade_id -> points of written answers graded by hand
    solution_ids: list         # grade_ids of the cells where students write code
    release_cells: list        # [(kind, grade_id, source)] of the student version, in order

    @property
    def max_score(self):
        return sum(t.points for t in self.tests)

    @property
    def functions(self):
        return [f for t in self.tests for f in t.functions]


def _nbgrader(cell):
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nb = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nb if isinstance(nb, dict) else {}


def _source(cell):
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _checked_functions(source):
    """The names passed to check("...") in a hidden test cell."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check"
                and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(node.args[0].value)
    return names


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_assignment(slug, root=ROOT):
    """The grading plan of an assignment, from its source and released notebooks."""
    source = _read_json(root / "solutions" / slug / f"{slug}.ipynb")
    release = _read_json(root / "exercises" / slug / f"{slug}.ipynb")
    tests, manual, solution_ids = [], {}, []
    for cell in source["cells"]:
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if meta.get("grade") and cell["cell_type"] == "code":
            tests.append(GradedTest(gid, float(meta.get("points", 0)),
                                    _checked_functions(_source(cell))))
        elif meta.get("grade") and meta.get("solution"):
            manual[gid] = float(meta.get("points", 0))
        elif meta.get("solution") and cell["cell_type"] == "code":
            solution_ids.append(gid)
    release_cells = []
    for cell in release["cells"]:
        meta = _nbgrader(cell)
        if cell["cell_type"] != "code":
            continue
        kind = ("test" if meta.get("grade") else "solution" if meta.get("solution")
                else "readonly" if meta.get("locked") else "other")
        release_cells.append((kind, meta.get("grade_id"), _source(cell)))
    return Assignment(slug, tests, manual, solution_ids, release_cells)


class Unreadable:
    """Why a submitted path cannot be read as a notebook file, in words (never followed)."""

    def __init__(self, why):
        self.why = why


def read_submission(path):
    """The bytes of a submitted notebook; None when it was not submitted; Unreadable(why) when
    the path is a link, a device, a folder or cannot be read. Links are never followed: the
    file is looked at with lstat and opened with O_NOFOLLOW, then checked again."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Unreadable(f"the notebook {path.name} cannot be looked at ({exc.strerror})")
    kind = _file_kind(st.st_mode)
    if kind != "file":
        return Unreadable(f"the notebook {path.name} is {kind}, not a file; links are not "
                          "followed: submit the notebook itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return Unreadable(f"the notebook {path.name} cannot be opened ({exc.strerror})")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):      # swapped between lstat and open
            return Unreadable(f"the notebook {path.name} is not a regular file")
        with os.fdopen(fd, "rb") as f:
            fd = None
            return f.read(MAX_NOTEBOOK_BYTES + 1)   # one byte more tells parse_submission it is too large
    except OSError as exc:
        return Unreadable(f"the notebook {path.name} cannot be read ({exc.strerror})")
    finally:
        if fd is not None:
            os.close(fd)


def _file_kind(mode):
    return ("file" if stat.S_ISREG(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a pipe or socket")


_NBGRADER_SCALARS = (str, bool, int, float)


def _clean_cell(cell):
    """Only what grading reads from a submitted cell, with the types it expects.

    A grade_id that is not a string (a list, a number) is dropped, as are nbgrader fields that
    are not plain scalars, so no value in a submission can make later code raise.
    """
    cell_type = cell.get("cell_type")
    meta = _nbgrader(cell)
    nbg = {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, _NBGRADER_SCALARS)
           and not (isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53)}
    if not isinstance(nbg.get("grade_id"), str):
        nbg.pop("grade_id", None)
    clean = {"cell_type": cell_type if isinstance(cell_type, str) else "",
             "source": _source(cell), "metadata": {"nbgrader": nbg} if nbg else {}}
    if isinstance(cell.get("id"), str):
        clean["id"] = cell["id"]
    return clean


def parse_submission(data, name):
    """Parse a submitted notebook leniently; raise SubmissionError with the reason if we can't.

    Returns its cells, cleaned (`_clean_cell`). What is parsed is bounded: the file's size,
    the nesting of brackets (JSON deeper than Python's recursion limit) and the length of
    integers (more digits than sys.int_info allows) are reported, not raised.
    """
    if isinstance(data, Unreadable):
        raise SubmissionError(data.why)
    if data is None:
        raise SubmissionError(f"the notebook {name} was not submitted")
    if len(data) == 0:
        raise SubmissionError("the notebook file is empty")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the notebook is over the {MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB limit")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SubmissionError("the notebook is not a text file (not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"the notebook is not valid JSON (line {exc.lineno}: {exc.msg}); "
                              "it may be truncated or saved by another program") from None
    except RecursionError:
        raise SubmissionError("the notebook nests brackets too deeply to be a notebook") from None
    except ValueError:       # an integer with more digits than Python converts (sys.int_info)
        raise SubmissionError("the notebook holds an integer too long to read (more than "
                              f"{sys.get_int_max_str_digits()} digits)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("the file is JSON but not a Jupyter notebook (no list of cells)")
    return [_clean_cell(c) for c in nb["cells"] if isinstance(c, dict)]


def assemble(assignment, cells):
    """The code to execute for a submission, and notes on what was restored or missing.

    Returns (sources, notes, student_code) where student_code lists [grade_id, source] of
    the student's solution cells in notebook order (for the feedback page).

    Experiment cells (solution cells whose grade_id starts with `experiment_`) and the cells a
    student added after one are not run: sweeps and plots are graded by hand, and what the
    grader judges (a training function, the chosen hyperparameters) lives in graded cells.
    """
    notes = []
    known = {gid: (kind, src) for kind, gid, src in assignment.release_cells if gid}
    student = {}
    added_after = {}          # grade_id of the preceding known cell -> cells the student added
    previous = None
    seen_ids = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        gid = _nbgrader(cell).get("grade_id")
        src = _source(cell)
        if gid in known and gid not in seen_ids:
            seen_ids.add(gid)
            kind, release_src = known[gid]
            if kind == "solution":
                student[gid] = src
            elif src.strip() != release_src.strip():
                notes.append(f"the {'test' if kind == 'test' else 'provided'} cell `{gid}` was "
                             "altered; it was restored (tests always run as released)")
            previous = gid
        else:
            added_after.setdefault(previous, []).append(src)
    for kind, gid, _ in assignment.release_cells:
        if gid and gid not in seen_ids and kind != "other":
            notes.append(f"the {kind} cell `{gid}` was missing"
                         + ("; it was restored" if kind != "solution" else ""))
    sources = list(added_after.get(None, []))
    for kind, gid, release_src in assignment.release_cells:
        if kind == "solution" and (gid or "").startswith(EXPERIMENT_PREFIX):
            continue        # an experiment cell, and the cells a student added after it
        if kind == "solution":
            if gid in student:
                sources.append(student[gid])
        elif kind == "readonly":
            sources.append(release_src)
        sources.extend(added_after.get(gid, []))
    student_code = [[gid, student[gid]] for kind, gid, _ in assignment.release_cells
                    if kind == "solution" and gid in student]
    return sources, notes, student_code
