"""Grade a class: the coordinator behind `python -m autograder grade`.

    SUBMITTED/<student_id>/<assignment>/<assignment>.ipynb  ->  WS/

For each submission the coordinator (trusted) reads the notebook, assembles the code to run
(see notebook.py), sends it with the hidden cases' inputs to a sandboxed worker, judges what
comes back against the reference (checks.judge), and records the result. Only this process
writes the workspace and the gradebook.

Resuming: each finished submission is saved as WS/results/<student>/<assignment>.json
(written atomically, after its gradebook transaction) together with a hash of the submitted
file and of the grading plan. Running the command again skips what is already graded and
unchanged, so a killed run finishes where it stopped, with the same grades.
"""
import atexit
import concurrent.futures
import dataclasses
import difflib
import functools
import hashlib
import json
import os
import queue
import stat
import sys
import threading
import time
import uuid
from pathlib import Path

from . import checks, feedback, notebook
from .gradebook import open_gradebook, prepare, record
from .isolation import Limits, Sandbox, limit_warnings
from .safety import SafeWriter, terminal_text

RESULT_VERSION = 2


@dataclasses.dataclass
class Submission:
    student_id: str
    slug: str
    path: Path
    data: bytes = None          # the file's bytes, read by the coordinator (None: not submitted)
    notes: list = dataclasses.field(default_factory=list)   # about which file was read


class GradingError(RuntimeError):
    """Grading itself cannot proceed (not a student's fault); the message says why."""


STUDENT_ID_LIMIT = 128          # characters nbgrader's gradebook stores in a student id


def _shown(name):
    """A folder name as it may be printed: undecodable bytes and control characters escaped."""
    raw = os.fsencode(name)
    return terminal_text(raw.decode("utf-8", "backslashreplace"))


def name_problem(name):
    """Why a student folder's name cannot be a student id, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    if any(ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 for ch in name):
        return "its name contains control characters"
    if len(name) > STUDENT_ID_LIMIT:
        return f"its name is {len(name)} characters long; the gradebook stores at most {STUDENT_ID_LIMIT}"
    return None


def _kind(path):
    """'folder', 'file', or what else the path is (never following a link); None if absent."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return "unreadable"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "special"


def _entries(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return None


def pick_notebook(folder, slug):
    """(path, notes): the notebook to grade in an assignment folder.

    `<slug>.ipynb` when it exists (as anything: a link is reported when read, never followed).
    Otherwise the folder's other notebooks (regular files only): one is graded with a note
    naming it; of several, the one whose name is closest to the expected one (then the newest)
    is graded, and the note lists them all.
    """
    expected = folder / f"{slug}.ipynb"
    if _kind(expected) is not None:
        return expected, []
    names = [n for n in (_entries(folder) or []) if n.endswith(".ipynb")
             and _kind(folder / n) == "file"]
    if not names:
        return expected, []
    if len(names) == 1:
        return folder / names[0], [f"graded `{names[0]}`: no file is named `{slug}.ipynb`, "
                                   "and it is the only notebook in the folder"]

    def rank(n):
        closeness = difflib.SequenceMatcher(None, n, f"{slug}.ipynb").ratio()
        return (closeness, os.lstat(folder / n).st_mtime)
    best = max(names, key=rank)
    listed = ", ".join(f"`{n}`" for n in names)
    return folder / best, [f"graded `{best}`: no file is named `{slug}.ipynb`; the folder holds "
                           f"{len(names)} notebooks ({listed}) and this name is the closest"]


def discover(submitted, slugs):
    """Every (student, assignment) pair in an nbgrader-layout folder, and warnings.

    Nothing is followed: a student folder that is a symbolic link is reported and skipped; an
    assignment folder that is one becomes an unreadable submission with a note. Folder names
    that cannot be student ids (not UTF-8, control characters, too long) are reported.
    """
    submitted = Path(submitted)
    if not submitted.is_dir():
        raise GradingError(f"the submissions folder {submitted} does not exist")
    found, warnings = [], []
    for name in _entries(submitted) or []:
        student_dir = submitted / name
        kind = _kind(student_dir)
        if kind == "file":
            continue
        if kind != "folder":
            warnings.append(f"{_shown(name)}: skipped, the student folder is {kind}; "
                            "links are not followed")
            continue
        problem = name_problem(name)
        if problem:
            warnings.append(f"{_shown(name)}: not graded, {problem}; rename the folder")
            continue
        entries = _entries(student_dir)
        if entries is None:
            warnings.append(f"{_shown(name)}: not graded, the folder cannot be read")
            continue
        for slug in entries:
            assignment_dir = student_dir / slug
            kind = _kind(assignment_dir)
            if kind == "file":
                continue
            if slug not in slugs:
                warnings.append(f"{_shown(name)}/{_shown(slug)}: not an assignment of this course; skipped")
                continue
            if kind != "folder":
                found.append(Submission(name, slug, assignment_dir / f"{slug}.ipynb",
                                        notebook.Unreadable(f"the assignment folder is {kind}; "
                                                            "links are not followed")))
                continue
            path, notes = pick_notebook(assignment_dir, slug)
            found.append(Submission(name, slug, path, notes=notes))
    return found, warnings


def plan_hash(assignment):
    """Changes when the grading plan changes (points, checks, released cells)."""
    text = json.dumps([dataclasses.asdict(t) for t in assignment.tests]
                      + [assignment.release_cells], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_hash(data):
    if isinstance(data, notebook.Unreadable):
        return "unreadable:" + hashlib.sha256(data.why.encode()).hexdigest()
    return "missing" if data is None else hashlib.sha256(data).hexdigest()


def build_job(assignment, sources):
    cases = []
    for function in assignment.functions:
        for k, case in enumerate(checks.find(function).cases):
            cases.append({"id": f"{function}/{k}", "group": function,
                          "program": checks.sandbox_case(case)})
    return {"cells": sources, "cases": cases}


def _new_result(assignment, sub):
    return {"student_id": sub.student_id, "assignment": sub.slug, "status": "graded",
            "notes": [], "cell_errors": [], "tests": [], "student_code": [],
            "output": "", "max_score": assignment.max_score,
            "manual_max_score": sum(assignment.manual.values())}


def judge_submission(assignment, sub, sandbox):
    """Grade one submission in `sandbox`; returns the result record (plain data).

    Whatever goes wrong while grading one submission becomes that submission's status, never
    an exception for the class. A failure of the grader's own making (its sandbox could not
    run, or a bug of ours) is marked `transient`: it is not kept as a final result, so the
    next run grades that submission again.
    """
    try:
        return _judge_submission(assignment, sub, sandbox)
    except Exception as exc:  # noqa: BLE001  (reported in words as this submission's status)
        result = _new_result(assignment, sub)
        result.update(status="crashed", score=0.0, transient=True, tests=[
            {"test": t.grade_id, "functions": t.functions, "points": 0.0,
             "max_points": t.points, "passed": False, "diagnoses": []} for t in assignment.tests])
        result["notes"].append(f"the grader failed on this submission ({type(exc).__name__}: "
                               f"{str(exc)[:300]}); it will be graded again on the next run")
        return result


def _judge_submission(assignment, sub, sandbox):
    result = _new_result(assignment, sub)
    expected_name = f"{sub.slug}.ipynb"
    result["notes"].extend(sub.notes or ([f"graded `{sub.path.name}`: no file is named "
                                          f"`{expected_name}`"]
                                         if sub.path.name != expected_name else []))
    try:
        cells = notebook.parse_submission(sub.data, sub.path.name)
    except notebook.SubmissionError as exc:
        result["status"] = "missing" if sub.data is None else "unreadable"
        result["notes"].append(str(exc))
        outcomes = {}
    else:
        sources, notes, student_code = notebook.assemble(assignment, cells)
        result["notes"].extend(notes)
        result["student_code"] = student_code
        reply = sandbox.run(build_job(assignment, sources))
        if "crashed" in reply:
            result["status"] = "crashed"
            if reply.get("transient"):
                result["transient"] = True
                result["notes"].append(f"the grader's sandbox failed ({reply['crashed']}); "
                                       "this notebook will be graded again on the next run")
            else:
                result["notes"].append(f"grading stopped: {reply['crashed']}")
            outcomes = {}
        else:
            outcomes = reply["cases"]
            result["output"] = reply["output"]
            if reply["output_chars"] > len(reply["output"]):
                result["notes"].append(f"the notebook printed {reply['output_chars']:,} characters; "
                                       f"only the first {len(reply['output']):,} are kept")
            for i, cell in enumerate(reply["cells"]):
                if cell and cell.get("error"):
                    result["cell_errors"].append({"cell": i, "error": cell["error"]})
            if any(o.get("status") == "error" and "timed out" in (o.get("error") or "")
                   for o in outcomes.values()) or any(
                    c and "timed out" in (c.get("error") or "") for c in reply["cells"]):
                result["status"] = "timed_out"
    for test in assignment.tests:
        diagnoses = []
        for function in test.functions:
            for k, case in enumerate(checks.find(function).cases):
                outcome = outcomes.get(f"{function}/{k}", {"status": "skipped",
                                                           "error": "not run"})
                problem = checks.judge(case, outcome)
                if problem:
                    diagnoses.append({"function": function, "case": case.name,
                                      "diagnosis": problem[len(case.name) + 2:],
                                      "problem": problem})
        passed = not diagnoses
        result["tests"].append({"test": test.grade_id, "functions": test.functions,
                                "points": test.points if passed else 0.0,
                                "max_points": test.points, "passed": passed,
                                "diagnoses": diagnoses})
    result["score"] = sum(t["points"] for t in result["tests"])
    return result


class LocalGrader:
    """Grades on this machine with `workers` sandboxes in parallel.

    The sandboxes are started before any work is handed out (`warm`, which may be called early
    so that they start while the coordinator opens the gradebook), so a machine that cannot
    run them stops the command with a message (SandboxUnavailable) instead of failing every
    notebook. `warnings` lists, in words, the limits this host could not enforce.
    """

    def __init__(self, workers=None, limits=Limits(), isolate=True):
        self.workers = workers or os.cpu_count() or 1
        self.limits = limits
        self.isolate = isolate
        self.warnings = []
        self._sandboxes = None

    def warm(self, n_items):
        """Start the workers for `n_items` notebooks in the background, side by side."""
        self._sandboxes = [Sandbox(self.limits, self.isolate)
                           for _ in range(max(1, min(self.workers, n_items)))]
        self._starter = concurrent.futures.ThreadPoolExecutor(len(self._sandboxes))
        self._starting = [self._starter.submit(sb.start) for sb in self._sandboxes]

    def grade(self, items, on_result):
        """items: [(assignment, submission)]. Calls on_result(result) in this thread."""
        if self._sandboxes is None:
            self.warm(len(items))
        pool = queue.Queue()
        sandboxes = self._sandboxes
        try:
            try:
                for started in self._starting:
                    started.result()
            finally:
                self._starter.shutdown()
            for sb in sandboxes:
                pool.put(sb)
            missing = {}
            for sb in sandboxes:
                missing.update(sb.missing_limits)
            self.warnings = limit_warnings(missing)

            def work(item):
                assignment, sub = item
                sandbox = pool.get()
                try:
                    return judge_submission(assignment, sub, sandbox)
                finally:
                    pool.put(sandbox)

            with concurrent.futures.ThreadPoolExecutor(max(1, len(sandboxes))) as ex:
                futures = [ex.submit(work, item) for item in items]
                for future in concurrent.futures.as_completed(futures):
                    on_result(future.result())
        finally:
            for sb in sandboxes:
                sb.close()


_worker_state = threading.local()


def grade_on_worker(slug, student_id, filename, data, limits, isolate):
    """Runs on a Dask worker: one sandbox per worker thread, started on first use."""
    sandbox = getattr(_worker_state, "sandbox", None)
    if sandbox is None:
        sandbox = _worker_state.sandbox = Sandbox(Limits(**limits), isolate)
        atexit.register(sandbox.close)
    assignment = _cached_assignment(slug)
    sub = Submission(student_id, slug, Path(filename), data)
    return judge_submission(assignment, sub, sandbox)


@functools.lru_cache(maxsize=None)
def _cached_assignment(slug):
    return notebook.load_assignment(slug)


class DaskGrader:
    """Sends the same work to a Dask distributed cluster; results come back as plain data."""

    def __init__(self, scheduler, limits=Limits(), isolate=True):
        self.scheduler = scheduler
        self.limits = limits
        self.isolate = isolate

    def grade(self, items, on_result):
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise GradingError("--scheduler needs the `distributed` package") from None
        try:
            client = Client(self.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
        with client:
            futures = [client.submit(grade_on_worker, a.slug, s.student_id, s.path.name, s.data,
                                     dataclasses.asdict(self.limits), self.isolate, pure=False,
                                     key=f"grade-{s.student_id}-{s.slug}-{uuid.uuid4().hex[:8]}")
                       for a, s in items]
            for future in as_completed(futures):
                on_result(future.result())


def _atomic_write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def grade_class(submitted, workspace, db_url=None, workers=None, limits=Limits(),
                isolate=True, slugs=None, progress=None, scheduler=None):
    """Grade everything in `submitted` into `workspace`; returns a summary dict."""
    started = time.monotonic()
    workspace = Path(workspace).resolve()
    submitted = Path(submitted).resolve()
    if workspace == submitted or submitted in workspace.parents:
        raise GradingError("the workspace must not be inside the submissions folder")
    slugs = slugs or [s for s in checks.MODULES
                      if (notebook.ROOT / "solutions" / s / f"{s}.ipynb").is_file()]
    try:
        assignments = {slug: notebook.load_assignment(slug) for slug in slugs}
    except FileNotFoundError as exc:
        raise GradingError(f"an assignment's notebook is missing ({exc.filename}); "
                           "run `python -m autograder release` first") from None
    subs, warnings = discover(submitted, assignments)
    workspace.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{workspace / 'gradebook.db'}"
    plans = {slug: plan_hash(a) for slug, a in assignments.items()}
    results_dir = workspace / "results"

    def result_path(sub):
        return results_dir / sub.student_id / f"{sub.slug}.json"

    todo, done = [], []
    for sub in subs:
        if sub.data is None:      # read once: hashed here, graded later
            sub.data = notebook.read_submission(sub.path)
        key = {"plan": plans[sub.slug], "file": data_hash(sub.data), "version": RESULT_VERSION}
        path = result_path(sub)
        if path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
                if old.get("key") == key:
                    done.append(old)
                    continue
            except (OSError, ValueError):
                pass
        todo.append((sub, key))

    counts = {"graded": 0, "crashed": 0, "timed_out": 0, "missing": 0, "unreadable": 0}
    grader = (DaskGrader(scheduler, limits, isolate) if scheduler
              else LocalGrader(workers, limits, isolate))
    if todo and hasattr(grader, "warm"):
        grader.warm(len(todo))          # the workers start while the gradebook opens
    with open_gradebook(db_url) as gb:
        for assignment in assignments.values():
            prepare(gb, assignment)
        for old in done:  # idempotent: the gradebook agrees with the saved results
            record(gb, assignments[old["assignment"]], old["student_id"],
                   {t["test"]: t["points"] for t in old["tests"]})
        keys = {(s.student_id, s.slug): k for s, k in todo}

        def on_result(result):
            assignment = assignments[result["assignment"]]
            record(gb, assignment, result["student_id"],
                   {t["test"]: t["points"] for t in result["tests"]})
            result["key"] = keys[(result["student_id"], result["assignment"])]
            if result.pop("transient", False):   # the grader's failure: grade it again next run
                result["key"] = dict(result["key"], transient=True)
            _atomic_write(results_dir / result["student_id"] / f"{result['assignment']}.json",
                          json.dumps(result, indent=1, sort_keys=True))
            counts[result["status"]] = counts.get(result["status"], 0) + 1
            if progress:
                progress(result)

        grader.grade([(assignments[s.slug], s) for s, _ in todo], on_result)
        warnings.extend(getattr(grader, "warnings", []))

    all_results = [json.loads(result_path(s).read_text(encoding="utf-8")) for s in subs]
    write_tables(workspace, all_results)
    for result in all_results:
        feedback.write_page(workspace, result)
    return {"submissions": len(subs), "graded_now": len(todo), "reused": len(done),
            "counts": counts, "warnings": warnings, "seconds": time.monotonic() - started,
            "results": all_results}


def write_tables(workspace, results):
    results = sorted(results, key=lambda r: (r["student_id"], r["assignment"]))
    with open(workspace / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = SafeWriter(f)
        w.writerow(["student_id", "assignment", "score", "max_score", "manual_max_score",
                    "status", "notes"])
        for r in results:
            w.writerow([r["student_id"], r["assignment"], f"{r['score']:g}", f"{r['max_score']:g}",
                        f"{r['manual_max_score']:g}", r["status"], " | ".join(r["notes"])])
    with open(workspace / "tests.csv", "w", newline="", encoding="utf-8") as f:
        w = SafeWriter(f)
        w.writerow(["student_id", "assignment", "test", "function", "points", "max_points",
                    "passed", "diagnosis"])
        for r in results:
            for t in r["tests"]:
                w.writerow([r["student_id"], r["assignment"], t["test"], " ".join(t["functions"]),
                            f"{t['points']:g}", f"{t['max_points']:g}", int(t["passed"]),
                            " | ".join(d["problem"] for d in t["diagnoses"][:3])])


def print_summary(summary, stream=sys.stdout):
    c = summary["counts"]
    print(f"{summary['submissions']} submissions ({summary['graded_now']} graded now, "
          f"{summary['reused']} already graded) in {summary['seconds']:.1f} s: "
          f"{c.get('graded', 0)} graded, {c.get('timed_out', 0)} timed out, "
          f"{c.get('crashed', 0)} crashed, {c.get('missing', 0) + c.get('unreadable', 0)} "
          f"missing or unreadable", file=stream)
    for w in summary["warnings"]:
        print(f"warning: {w}", file=stream)
