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

The class's tables (grades.csv, tests.csv) are rebuilt after every run from all the saved
records, the gradebook's hand scores and the roster (totals.py), so a partial run never
drops a row; late work is judged from nbgrader's timestamp.txt (late.py); the autograded/
and feedback/ folders follow nbgrader's course layout (workspace.py).
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

from . import checks, feedback, late, manual, notebook, totals, workspace as wsp
from .checks import scoring
from .gradebook import (GradebookError, foreign_assignments, manual_grades, open_gradebook,
                        prepare, record)
from .isolation import Limits, Sandbox, limit_warnings
from .safety import terminal_text

RESULT_VERSION = 3


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
    syntax = scoring.compile_errors(result["student_code"])
    for test in assignment.tests:
        record = scoring.score_test(test.functions, test.points, outcomes, syntax)
        result["tests"].append(dict(record, test=test.grade_id))
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


class StalePlan(RuntimeError):
    """A worker's copy of the course grades differently from the coordinator's."""


def grade_on_worker(slug, plan, student_id, filename, data, limits, isolate):
    """Runs on a Dask worker: one sandbox per worker thread, started on first use.

    `plan` is the coordinator's plan hash: a worker whose cached plan differs reloads the
    assignment from its disk, and refuses (StalePlan) if its files still grade differently,
    so a long-running cluster can never grade with an old plan.
    """
    assignment = _cached_assignment(slug, plan)
    sandbox = getattr(_worker_state, "sandbox", None)
    if sandbox is None:
        sandbox = _worker_state.sandbox = Sandbox(Limits(**limits), isolate)
        atexit.register(sandbox.close)
    sub = Submission(student_id, slug, Path(filename), data)
    result = judge_submission(assignment, sub, sandbox)
    result["plan"] = plan
    return result


_plans = {}
_plans_lock = threading.Lock()


def _cached_assignment(slug, plan=None):
    """The assignment's grading plan, loaded once per process and reloaded when `plan` differs."""
    with _plans_lock:
        cached = _plans.get(slug)
        if cached is None or (plan is not None and plan_hash(cached) != plan):
            cached = _plans[slug] = notebook.load_assignment(slug)
        if plan is not None and plan_hash(cached) != plan:
            raise StalePlan(f"this worker's copy of {slug} grades with plan {plan_hash(cached)}, "
                            f"the coordinator's with {plan}: update the course files on the "
                            "worker (git pull) or restart it from the same checkout")
        return cached


def worker_check(isolate):
    """Runs on every Dask worker before grading: can it grade this course?"""
    from . import release
    info = {"plans": {s: plan_hash(notebook.load_assignment(s)) for s in release.slugs()
                      if (notebook.ROOT / "exercises" / s / f"{s}.ipynb").is_file()}}
    if isolate:
        import shutil
        info["sandbox"] = shutil.which("bwrap") or ""
    return info


class DaskGrader:
    """Sends the same work to a Dask distributed cluster; results come back as plain data."""

    def __init__(self, scheduler=None, limits=Limits(), isolate=True, scheduler_file=None,
                 plans=None, connect_seconds=20):
        self.scheduler = scheduler
        self.scheduler_file = scheduler_file
        self.limits = limits
        self.isolate = isolate
        self.plans = plans or {}
        self.connect_seconds = connect_seconds

    def _connect(self):
        try:
            from distributed import Client
        except ImportError:
            raise GradingError("--scheduler needs the `distributed` package") from None
        where = self.scheduler or f"the scheduler file {self.scheduler_file}"
        if self.scheduler_file and not Path(self.scheduler_file).is_file():
            raise GradingError(f"the scheduler file {self.scheduler_file} does not exist; start "
                               "the scheduler with `dask scheduler --scheduler-file FILE` first")
        if self.scheduler and not str(self.scheduler).startswith(("tcp://", "tls://", "inproc://",
                                                                   "ucx://", "ws://", "wss://")):
            hint = (f"; to read a scheduler file use --scheduler-file {self.scheduler}"
                    if str(self.scheduler).endswith(".json") else "")
            raise GradingError(f"--scheduler {self.scheduler!r} is not a scheduler address such "
                               f"as tcp://HOST:8786{hint}")
        try:
            if self.scheduler_file:
                client = Client(scheduler_file=str(self.scheduler_file),
                                timeout=f"{self.connect_seconds}s")
            else:
                client = Client(self.scheduler, timeout=f"{self.connect_seconds}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {where}: {exc}; check that "
                               "it is running and the address is right") from None
        return client

    def _check_workers(self, client):
        try:
            client.wait_for_workers(1, timeout=self.connect_seconds)
        except (TimeoutError, OSError):
            client.close()
            raise GradingError(f"the Dask scheduler has no workers after {self.connect_seconds} s; "
                               "start some with `dask worker ADDRESS` from the course checkout"
                               ) from None
        replies = client.run(worker_check, self.isolate, on_error="return")
        problems = []
        for address, info in sorted(replies.items()):
            if isinstance(info, BaseException):
                problems.append(f"{address} cannot import the course ({type(info).__name__}: "
                                f"{info}); start it from the course checkout (PYTHONPATH)")
                continue
            if self.isolate and not info.get("sandbox"):
                problems.append(f"{address} has no bubblewrap (bwrap); install it there")
            differ = sorted(s for s, h in self.plans.items() if info["plans"].get(s) not in (None, h)
                            or s not in info["plans"])
            if differ:
                problems.append(f"{address} grades {', '.join(differ)} differently (other course "
                                "files); update its checkout")
        if problems:
            client.close()
            raise GradingError("the Dask workers cannot grade this course:\n  "
                               + "\n  ".join(problems))

    def grade(self, items, on_result):
        from distributed import as_completed
        client = self._connect()
        self._check_workers(client)
        with client:
            futures = [client.submit(grade_on_worker, a.slug, self.plans.get(a.slug) or plan_hash(a),
                                     s.student_id, s.path.name, s.data,
                                     dataclasses.asdict(self.limits), self.isolate, pure=False,
                                     key=f"grade-{s.student_id}-{s.slug}-{uuid.uuid4().hex[:8]}")
                       for a, s in items]
            for future in as_completed(futures):
                try:
                    result = future.result()
                except StalePlan as exc:
                    raise GradingError(f"a Dask worker refused to grade: {exc}") from None
                on_result(result)


def _atomic_write(path, text):
    wsp.atomic_write(path, text)


def course_slugs():
    """The assignments this course can grade: a source notebook and a released one."""
    return [s for s in checks.MODULES
            if (notebook.ROOT / "solutions" / s / f"{s}.ipynb").is_file()]


def grade_class(submitted, workspace, db_url=None, workers=None, limits=Limits(),
                isolate=True, slugs=None, progress=None, scheduler=None, scheduler_file=None,
                deadlines=None, students=None, force=False, roster=None):
    """Grade everything in `submitted` into `workspace`; returns a summary dict.

    students: grade only these student ids (a regrade of one student); force: regrade even
    what is unchanged. deadlines: a late.Deadlines (None: no due dates). Every other row of
    the workspace's tables is kept, and hand scores in the gradebook are never touched.
    """
    started = time.monotonic()
    workspace = Path(workspace).resolve()
    submitted = Path(submitted).resolve()
    if workspace == submitted or submitted in workspace.parents:
        raise GradingError("the workspace must not be inside the submissions folder")
    known = course_slugs()
    unknown = sorted(set(slugs or []) - set(known))
    if unknown:
        raise GradingError(f"unknown assignment {', '.join(unknown)}; the course's assignments "
                           f"are {', '.join(known)}")
    slugs = slugs or known
    try:
        assignments = {slug: notebook.load_assignment(slug) for slug in slugs}
    except FileNotFoundError as exc:
        raise GradingError(f"an assignment's notebook is missing ({exc.filename}); "
                           "run `python -m autograder release` first") from None
    deadlines = deadlines or late.Deadlines()
    try:
        wsp.check_foreign(workspace, known)
    except wsp.WorkspaceError as exc:
        raise GradingError(str(exc)) from None
    subs, warnings = discover(submitted, set(known))   # other assignments: chosen out, not foreign
    subs = [s for s in subs if s.slug in assignments]
    if students:
        subs = [s for s in subs if s.student_id in set(students)]
    if not subs:
        wanted = f" for {', '.join(students)}" if students else ""
        raise GradingError(f"no submissions{wanted} in {submitted}: expected nbgrader's layout "
                           f"{submitted}/<student_id>/<assignment>/<assignment>.ipynb with "
                           f"<assignment> one of {', '.join(slugs)}")
    workspace.mkdir(parents=True, exist_ok=True)
    with wsp.Lock(workspace):
        if roster is not None:
            _save_roster(workspace, roster)
        return _grade_locked(submitted, workspace, db_url, workers, limits, isolate,
                             progress, scheduler, scheduler_file, deadlines, force, started,
                             known, assignments, subs, warnings)


def _grade_locked(submitted, workspace, db_url, workers, limits, isolate, progress, scheduler,
                  scheduler_file, deadlines, force, started, known, assignments, subs, warnings):
    db_url = db_url or f"sqlite:///{workspace / 'gradebook.db'}"
    plans = {slug: plan_hash(a) for slug, a in assignments.items()}
    results_dir = workspace / "results"
    release_nbs = {slug: notebook._read_json(notebook.ROOT / "exercises" / slug / f"{slug}.ipynb")
                   for slug in {s.slug for s in subs}}

    def result_path(sub):
        return results_dir / sub.student_id / f"{sub.slug}.json"

    todo, done = [], []
    lateness = {}
    for sub in subs:
        if sub.data is None:      # read once: hashed here, graded later
            sub.data = notebook.read_submission(sub.path)
        lateness[(sub.student_id, sub.slug)] = deadlines.judge(
            sub.slug, late.read_timestamp(sub.path.parent))
        key = {"plan": plans[sub.slug], "file": data_hash(sub.data), "version": RESULT_VERSION}
        path = result_path(sub)
        if path.is_file() and not force:
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
                if old.get("key") == key:
                    done.append(old)
                    continue
            except (OSError, ValueError):
                pass
        todo.append((sub, key))

    counts = {"graded": 0, "crashed": 0, "timed_out": 0, "missing": 0, "unreadable": 0}
    # never start more sandboxes than there are notebooks to grade (a one-student regrade)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    grader = (DaskGrader(scheduler, limits, isolate, scheduler_file=scheduler_file,
                         plans=plans) if (scheduler or scheduler_file)
              else LocalGrader(workers, limits, isolate))
    if todo and hasattr(grader, "warm"):
        grader.warm(len(todo))          # the workers start while the gradebook opens
    try:
        gb = open_gradebook(db_url)
    except GradebookError as exc:
        raise GradingError(str(exc)) from None
    with gb:
        foreign = foreign_assignments(gb, known)
        if foreign:
            raise GradingError(f"the gradebook {db_url} holds assignments of another course "
                               f"({', '.join(foreign[:5])}); give this course a gradebook of its "
                               "own (another --db or --workspace)")
        for slug in sorted({s.slug for s in subs}):     # only what this run grades
            prepare(gb, assignments[slug], manual.source_cells(release_nbs[slug]),
                    duedate=deadlines.due.get(slug))
        for person in totals.roster_of(workspace):   # nbgrader export lists non-submitters too
            first, _, last = person["name"].partition(" ")
            gb.update_or_create_student(person["student_id"], first_name=first or None,
                                        last_name=last or None, email=person["email"] or None,
                                        lms_user_id=person["lms_id"] or None)

        def save(result, key=None):
            """Gradebook first, then the record: a killed run redoes at most this one."""
            sid, slug = result["student_id"], result["assignment"]
            info = lateness[(sid, slug)]
            record(gb, assignments[slug], sid, {t["test"]: t["points"] for t in result["tests"]},
                   timestamp=late.parse_time(info["timestamp"]) if info["timestamp"] else None,
                   penalty=info["penalty"])
            changed = key is not None or result.get("late") != info
            result["late"] = info
            if key is not None:
                result["key"] = key
            if changed:
                _atomic_write(results_dir / sid / f"{slug}.json",
                              json.dumps(result, indent=1, sort_keys=True))

        for old in done:  # idempotent: the gradebook agrees with the saved results
            save(old)
        by_key = {(s.student_id, s.slug): (s, k) for s, k in todo}

        def on_result(result):
            sub, key = by_key[(result["student_id"], result["assignment"])]
            if result.pop("plan", plans[sub.slug]) != plans[sub.slug]:
                raise GradingError(f"{sub.slug} was graded with another plan; not saved")
            if result.pop("transient", False):   # the grader's failure: grade it again next run
                key = dict(key, transient=True)
            result["written"] = manual.written_answers(assignments[sub.slug], sub.data)
            save(result, key)
            counts[result["status"]] = counts.get(result["status"], 0) + 1
            if progress:
                progress(result)

        grader.grade([(assignments[s.slug], s) for s, _ in todo], on_result)
        warnings.extend(getattr(grader, "warnings", []))

        this_run = [json.loads(result_path(s).read_text(encoding="utf-8")) for s in subs]
        for sub, result in zip(subs, this_run):
            wsp.stamp_files(workspace, sub.path.parent, sub.student_id, sub.slug,
                            late.parse_time(result["late"]["timestamp"])
                            if result["late"]["timestamp"] else None)
            wsp.write_autograded(workspace, release_nbs[sub.slug], result)
        rows = totals.refresh(workspace, gb)
        hand = manual_grades(gb)
    for result in this_run:
        feedback.write_page(workspace, result, hand.get((result["student_id"],
                                                         result["assignment"])))
    return {"submissions": len(subs), "graded_now": len(todo), "reused": len(done),
            "counts": counts, "warnings": warnings, "seconds": time.monotonic() - started,
            "results": this_run, "rows": rows,
            "late": sum(r["late"]["late"] for r in this_run)}


def _save_roster(workspace, roster):
    """The roster as JSON (WS/roster.json): kept exactly, ids starting with - or = included."""
    _atomic_write(workspace / "roster.json", json.dumps(roster, indent=1, ensure_ascii=False))


def print_summary(summary, stream=sys.stdout):
    from .safety import terminal_text
    c = summary["counts"]
    print(f"{summary['submissions']} submissions ({summary['graded_now']} graded now, "
          f"{summary['reused']} already graded) in {summary['seconds']:.1f} s: "
          f"{c.get('graded', 0)} graded, {c.get('timed_out', 0)} timed out, "
          f"{c.get('crashed', 0)} crashed, {c.get('missing', 0) + c.get('unreadable', 0)} "
          f"missing or unreadable, {summary.get('late', 0)} late", file=stream)
    rows = summary.get("rows") or []
    ungraded = sum(r["manual_score"] == totals.UNGRADED for r in rows)
    absent = sum(r["status"] == totals.NOT_SUBMITTED for r in rows)
    if ungraded:
        print(f"{ungraded} notebooks have written answers to grade by hand "
              "(python -m autograder manual --workspace WS)", file=stream)
    if absent:
        print(f"{absent} notebooks of roster students were not submitted", file=stream)
    for w in summary["warnings"]:
        print(f"warning: {terminal_text(w)}", file=stream)
