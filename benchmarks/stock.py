"""Grade a SUBMITTED folder with STOCK `nbgrader autograde`, for comparisons with our grader.

    run = grade(SUBMITTED)          # SUBMITTED/<student_id>/<slug>/<slug>.ipynb
    run.scores                      # {(student_id, slug): score of the code cells, or None}
    run.status                      # {(student_id, slug): "graded" | "error" | "not reached" ...}

What it does, as an instructor would with stock nbgrader:

1. makes a throw-away nbgrader course (under /var/tmp: outside the repository and /tmp):
   nbgrader_config.py (root, source/, submitted/, autograded/, an SQLite gradebook in the
   course, `Execute.timeout`), source/<slug>/ copied from solutions/<slug>/;
2. `nbgrader generate_assignment <slug> --force` for each assignment (this creates the
   gradebook entries; nbgrader runs `alembic`, so the venv's bin directory goes on PATH),
   adds every student to the gradebook, copies SUBMITTED to submitted/;
3. `nbgrader autograde <slug> --force`, one subprocess per assignment (the whole class in one
   batch, one kernel per notebook, as nbgrader does it), with PYTHONPATH=<repository root> so
   that the hidden test cells' `from autograder.checks import check` imports in the kernels;
4. scores: the code cells' total (`code_score`; written answers are graded by hand and count
   0 here, as in our grader's `score`), read from the gradebook with read-only SQL
   - right after nbgrader finishes each student (`run.scores`): what that student got, even
     if a later submission destroys the gradebook;
   - and once more at the end (`run.final_scores`): what the instructor is left with.

Stock nbgrader failing is data, not an exception: a submission nbgrader reports an error for
is "error" (its gradebook score, usually 0, is kept), one it was grading when its batch died
is "interrupted", the ones it never reached are "not reached" (score None), and a folder
without a notebook, which nbgrader skips without a word, is "skipped" (score 0, as
`nbgrader export` reports it).

`alone=True` grades each submission in a batch of its own (`--student`), from a fresh copy of
the gradebook and with fresh overlays: what stock nbgrader does with that submission, free of
what the others did. The default grades each assignment's class in one batch, which is what
an instructor gets, contamination of later students included.

Protecting the machine while hostile code runs unsandboxed (the point of the comparison):

- `protect=True` (root, `unshare`, overlayfs): each batch runs in its own mount namespace in
  which the repository, /tmp and $HOME are overlays. Student code still "succeeds" in writing
  there, and later kernels of the same batch see what it wrote (so contamination is measured),
  but the writes land in the course's shadow directories: `run.outside_writes` lists them
  (real path -> "written" | "deleted") and the real files are never touched;
- every process of a batch carries a random token in its environment and sits in a pids
  cgroup of its own (root only; at the top of the pids hierarchy, where this process already
  is): after each batch whatever is still running (a `sleep 600` a submission started) is
  recorded in `run.leftover` and killed by its process id;
- fork bombs: stock nbgrader has no process limit. The cgroup caps the batch at `max_pids`
  processes and a watchdog kills, by pid, every process of the batch other than nbgrader and
  its kernel when the cap is reached; each time is recorded in `run.interventions` (the
  submission being graded did NOT get through stock nbgrader on its own);
- `memory_gib` caps each process's address space (RLIMIT_AS), so a memory bomb fails with
  MemoryError rather than reaching the OOM killer; this changes what stock nbgrader does with
  such a submission (without the cap, the outcome depends on the machine's memory).

Timing: `run.seconds` is the wall time of the autograde batches only; `run.setup_seconds` is
the one-time course set-up (generate_assignment, students, copying).
"""
import dataclasses
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN_VARIABLE = "STOCK_NBGRADER_BENCHMARK_RUN"
PIDS_CGROUPS = Path("/sys/fs/cgroup/pids")

CONFIG = """\
# Written by benchmarks/stock.py: a throw-away course graded with stock nbgrader.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
"""

CODE_SCORE_SQL = """
SELECT COUNT(*), COALESCE(SUM(CASE
           WHEN g.manual_score IS NOT NULL THEN g.manual_score + COALESCE(g.extra_credit, 0)
           WHEN g.auto_score IS NOT NULL THEN g.auto_score + COALESCE(g.extra_credit, 0)
           ELSE 0 END), 0)
FROM submitted_assignment sa
JOIN assignment a ON a.id = sa.assignment_id
LEFT JOIN submitted_notebook sn ON sn.assignment_id = sa.id
LEFT JOIN grade g ON g.notebook_id = sn.id
LEFT JOIN grade_cells gc ON gc.id = g.cell_id
WHERE sa.student_id = ? AND a.name = ? AND (gc.cell_type = 'code' OR g.id IS NULL)
"""
SUBMISSION_SQL = """
SELECT COUNT(*) FROM submitted_assignment sa JOIN assignment a ON a.id = sa.assignment_id
WHERE sa.student_id = ? AND a.name = ?
"""

SANITIZING = re.compile(r"Sanitizing (.*)/submitted/([^/]+)/([^/]+)/[^/]+\.ipynb\s*$")
DONE = "Setting destination file permissions to"
FAILED_PATH = re.compile(r"There was an error processing assignment: (.*)/submitted/([^/]+)/([^/\s]+)\s*$")
ERROR_LINE = re.compile(r"There was an error processing assignment '([^']*)' for student '([^']*)'")
PREFIX = re.compile(r"^\[\w+ \| \w+\]\s*")
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:?")


@dataclasses.dataclass
class Batch:
    """One `nbgrader autograde <slug>` subprocess."""
    slug: str
    students: int
    seconds: float
    returncode: object          # int (negative: killed by a signal), None: killed at its limit
    timed_out: bool
    log: str                    # the last part of nbgrader's log


@dataclasses.dataclass
class StockRun:
    scores: dict                # (student_id, slug) -> score right after nbgrader graded it
    final_scores: dict          # (student_id, slug) -> score in the gradebook at the end
    max_scores: dict            # slug -> the code cells' maximum
    status: dict                # (student_id, slug) -> "graded" | "error" | "interrupted" | ...
    reasons: dict               # (student_id, slug) -> nbgrader's error, in a line
    batches: list
    seconds: float              # autograde batches only
    setup_seconds: float
    leftover: list              # [(pid, command line, batch)] left running after a batch (killed)
    interventions: list         # [(student_id, slug, what the benchmark had to do)]
    outside_writes: dict        # real path -> "written" | "deleted" [by whom] (protect=True)
    gradebook: str              # "readable" at the end, or why not
    protected: str              # how the machine was protected
    notes: list

    @property
    def finished(self):
        """Every batch ran to its end (nbgrader may still have reported errors)."""
        return all(not b.timed_out and b.returncode is not None and b.returncode >= 0
                   for b in self.batches)


class StockSetupError(RuntimeError):
    """The course could not be set up (a problem of the benchmark, not of a submission)."""


# ------------------------------------------------------------------------------ processes

def _environment(course, token):
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)   # not resolved: the venv's own bin directory
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # No user configuration of Jupyter or nbgrader; IPython's own directory stays the usual
    # ~/.ipython (shadowed when protected), so startup files planted there act as they would.
    env["JUPYTER_CONFIG_DIR"] = str(course / ".jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(course / ".jupyter-runtime")
    env["MPLBACKEND"] = "Agg"
    # The same thread settings as our grader's sandbox, so speeds compare like with like.
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env[TOKEN_VARIABLE] = token
    for name in ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
        env.pop(name, None)
    return env


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def tagged_processes(token):
    """{pid: command line} of the processes whose environment carries `token`."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
        except OSError:
            continue
        found[int(entry)] = _cmdline(entry)
    return found


class PidsCgroup:
    """A pids cgroup (v1) for the batches: caps their processes and lists them."""

    def __init__(self, name, max_pids):
        self.path = None
        if os.geteuid() != 0 or not (PIDS_CGROUPS / "cgroup.procs").exists():
            return
        try:
            own = [line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                   if line.split(":", 2)[1] == "pids"]
            if own and own[0].strip() not in ("/", ""):
                return      # we are in someone's pids cgroup: do not step out of it
            path = PIDS_CGROUPS / name
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
            self.path, self.max = path, max_pids
        except (OSError, IndexError):
            self.path = None

    def join(self):
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self):
        if self.path is None:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def current(self):
        try:
            return int((self.path / "pids.current").read_text())
        except (OSError, ValueError, TypeError):
            return 0

    def remove(self):
        if self.path is None:
            return
        for _ in range(100):
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def kill_leftovers(token, cgroup, rounds=50):
    """Kill (by pid) every process of the run; returns {pid: command line} found first."""
    first = tagged_processes(token)
    for pid in cgroup.pids():
        first.setdefault(pid, _cmdline(pid))
    procs = dict(first)
    for _ in range(rounds):
        if not procs:
            break
        for pid in procs:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
        procs = tagged_processes(token)
        procs.update({pid: "" for pid in cgroup.pids()})
    return first


def _preexec(memory_bytes, cgroup):
    def preexec():
        cgroup.join()
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return preexec


class _Shadow:
    """Overlays, in a private mount namespace, over the repository, /tmp and $HOME."""

    def __init__(self, course, tag="all"):
        candidates = [ROOT, Path("/tmp"), Path(os.path.expanduser("~"))]
        targets = []
        for c in sorted({p.resolve() for p in candidates if p.is_dir() and p != Path("/")},
                        key=lambda p: len(p.parts)):
            if not any(t == c or t in c.parents for t in targets):
                targets.append(c)
        if any(t == course or t in course.parents for t in targets):
            raise ValueError("the course directory is inside a shadowed directory")
        if any(ch in str(t) for t in targets for ch in ",: "):
            raise ValueError("a shadowed path has a character overlayfs options cannot hold")
        self.layers = []
        for k, target in enumerate(targets):
            upper = course / ".shadow" / tag / f"upper{k}"
            work = course / ".shadow" / tag / f"work{k}"
            upper.mkdir(parents=True)
            work.mkdir(parents=True)
            self.layers.append((target, upper, work))

    def wrap(self, cmd):
        mounts = " && ".join(
            f"mount -t overlay overlay -o lowerdir={t},upperdir={u},workdir={w} {t}"
            for t, u, w in self.layers)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'{mounts} && exec "$@"', "sh"] + list(cmd)

    def writes(self):
        """{real path: "written" | "deleted"}: what the shadowed processes changed."""
        out = {}
        for target, upper, _ in self.layers:
            for dirpath, dirnames, filenames in os.walk(upper):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                for name in filenames:
                    path = Path(dirpath) / name
                    if name.endswith(".pyc"):
                        continue
                    try:
                        st = path.lstat()
                    except OSError:
                        continue
                    whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
                    out[str(target / path.relative_to(upper))] = "deleted" if whiteout else "written"
        return out

    @staticmethod
    def available():
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            return False
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                               capture_output=True)
        return probe.returncode == 0


# ------------------------------------------------------------------------------- set-up

def _run(cmd, cwd, env, what):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise StockSetupError(f"{what} failed (exit {proc.returncode}):\n"
                              f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc


def _discover(submitted, slugs):
    pairs = []
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for slug in slugs:
            if (student / slug).is_dir():
                pairs.append((student.name, slug))
    return pairs


def released_slugs():
    """The course's assignments whose student version exists (others are still being written)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from autograder import release
    return [s for s in release.slugs()
            if (ROOT / "exercises" / s / f"{s}.ipynb").is_file()]


def _setup(course, submitted, slugs, students, env, cell_timeout):
    db_path = course / "gradebook.db"
    db_url = f"sqlite:///{db_path}"
    (course / "nbgrader_config.py").write_text(
        CONFIG.format(root=str(course), db_url=db_url, timeout=int(cell_timeout)))
    for sub in (".jupyter-config", ".jupyter-runtime", "logs"):
        (course / sub).mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")
    for slug in slugs:
        shutil.copytree(ROOT / "solutions" / slug, course / "source" / slug, ignore=ignore)
        _run([sys.executable, "-m", "nbgrader", "generate_assignment", slug, "--force",
              "--log-level=WARN"], course, env, f"nbgrader generate_assignment {slug}")
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)
    shutil.copytree(submitted, course / "submitted", symlinks=True)
    return db_path


# ------------------------------------------------------------------------------ the gradebook

def _connect(db_path):
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)


def code_score(db, student, slug):
    """The student's code score in the gradebook; None when nbgrader has no submission."""
    (n,), = db.execute(SUBMISSION_SQL, (student, slug)).fetchall()
    if not n:
        return None
    (_, total), = db.execute(CODE_SCORE_SQL, (student, slug)).fetchall()
    return float(total)


def _max_scores(db_path, slugs):
    out = {}
    with _connect(db_path) as db:
        for slug in slugs:
            rows = db.execute(
                "SELECT COALESCE(SUM(gc.max_score), 0) FROM grade_cells gc "
                "JOIN base_cell bc ON bc.id = gc.id JOIN notebook n ON n.id = bc.notebook_id "
                "JOIN assignment a ON a.id = n.assignment_id "
                "WHERE a.name = ? AND gc.cell_type = 'code'", (slug,)).fetchall()
            out[slug] = float(rows[0][0])
    return out


# ------------------------------------------------------------------------------ a batch

class _Watcher(threading.Thread):
    """Follows nbgrader's log while a batch runs: which student it is grading, who finished
    (their score is read at once), who failed; and stops fork bombs at the pids cap."""

    def __init__(self, log_path, db_path, slug, proc, cgroup, run):
        super().__init__(daemon=True)
        self.log_path, self.db_path, self.slug = log_path, db_path, slug
        self.proc, self.cgroup, self.run_state = proc, cgroup, run
        self.stop = threading.Event()
        self.offset, self.partial = 0, b""
        self.current = None
        self.started, self.done, self.failed = [], [], {}
        self.lines = []
        self.bombs = {}

    def feed(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            self.handle(raw.decode(errors="replace"))

    def handle(self, line):
        if len(self.lines) < 200000:
            self.lines.append(line)
        m = SANITIZING.search(line)
        if m and m.group(3) == self.slug:
            self.current = m.group(2)
            if self.current not in self.started:
                self.started.append(self.current)
            return
        m = FAILED_PATH.search(line)
        if m and m.group(3) == self.slug:
            self.failed.setdefault(m.group(2), "")
            self.record(m.group(2))
            self.current = None
            return
        if DONE in line and self.current is not None:
            self.done.append(self.current)
            self.record(self.current)
            self.current = None

    def record(self, student):
        try:
            with _connect(self.db_path) as db:
                self.run_state["scores"][(student, self.slug)] = code_score(db, student, self.slug)
        except sqlite3.Error as exc:
            self.run_state["scores"][(student, self.slug)] = None
            self.run_state["reasons"][(student, self.slug)] = f"gradebook unreadable ({exc})"

    def check_fork_bomb(self):
        if self.cgroup.path is None or self.cgroup.current() < self.cgroup.max - 8:
            return
        keep = {self.proc.pid} | {p for p in self.cgroup.pids() if _ppid(p) == self.proc.pid}
        killed = 0
        for pid in self.cgroup.pids():
            if pid not in keep:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except (ProcessLookupError, PermissionError):
                    pass
        who = self.current or "?"
        self.bombs[who] = self.bombs.get(who, 0) + killed

    def run(self):
        while not self.stop.is_set():
            self.check_fork_bomb()
            self.feed()
            self.stop.wait(0.05)
        self.feed()
        if self.partial:
            self.handle(self.partial.decode(errors="replace"))
            self.partial = b""


def _failure_reasons(lines, slug):
    """{student: the last line of nbgrader's traceback for it}."""
    reasons = {}
    for i, line in enumerate(lines):
        m = FAILED_PATH.search(line)
        if not m or m.group(3) != slug:
            continue
        last, exception = "", ""
        for follow in lines[i + 1:i + 400]:
            if FAILED_PATH.search(follow) or ERROR_LINE.search(follow) or \
                    "Removing failed" in follow or SANITIZING.search(follow):
                break
            text = PREFIX.sub("", follow).strip()
            if EXCEPTION.match(text):
                exception = text
            elif text and not text.startswith(("File ", "^", "~", "Traceback", "[", "---")):
                last = text
        reasons[m.group(2)] = (exception or last)[:300] or "nbgrader reported an error"
    return reasons


def _autograde(course, db_path, slug, in_batch, only, env, cell_timeout, batch_timeout,
               memory_bytes, shadow, cgroup, state, label):
    cmd = [sys.executable, "-m", "nbgrader", "autograde", slug, "--force", "--log-level=INFO"]
    if only is not None:
        cmd.append(f"--student={only}")
    if shadow is not None:
        cmd = shadow.wrap(cmd)
    timeout = batch_timeout or 300 + len(in_batch) * max(120, 12 * cell_timeout)
    log_path = course / "logs" / f"autograde-{label}.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=course, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_preexec(memory_bytes, cgroup))
        watcher = _Watcher(log_path, db_path, slug, proc, cgroup, state)
        watcher.start()
        timed_out = False
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            returncode = None
        watcher.stop.set()
        watcher.join()
    seconds = time.monotonic() - started
    tail = "\n".join(watcher.lines[-80:])
    return Batch(slug, len(in_batch), seconds, returncode, timed_out, tail[-6000:]), watcher


def grade(submitted, slugs=None, cell_timeout=30, batch_timeout=None, memory_gib=8.0,
          max_pids=128, protect=True, alone=False, workdir=None, keep=False, progress=None):
    """Grade `submitted` with stock nbgrader; returns a StockRun (never raises for a student).

    slugs: assignments to grade (default: every released one found in `submitted`).
    cell_timeout: nbgrader's per-cell timeout (Execute.timeout), seconds.
    batch_timeout: the limit for one `nbgrader autograde` call (default: generous, by class size).
    memory_gib: address-space cap per process (0: none).
    max_pids: the processes a batch may have at once (root only; see the module's docstring).
    protect: run in a mount namespace with the repository, /tmp and $HOME as overlays (root).
    alone: grade each submission in a batch of its own (`--student`), from a fresh gradebook
        and fresh overlays: what stock nbgrader does with that submission, free of what the
        others did (the class run, alone=False, is what an instructor gets).
    workdir: where to make the course (default: a new directory under /var/tmp).
    progress: called with a line of text after each step, if given.
    """
    submitted = Path(submitted).resolve()
    slugs = list(slugs or [s for s in released_slugs()
                           if any((p / s).is_dir() for p in submitted.iterdir())])
    pairs = _discover(submitted, slugs)
    students = sorted({s for s, _ in pairs})
    base = Path(workdir) if workdir else Path("/var/tmp" if Path("/var/tmp").is_dir() else
                                              tempfile.gettempdir())
    course = Path(tempfile.mkdtemp(prefix="stock-nbgrader-", dir=base)).resolve()
    token = uuid.uuid4().hex
    env = _environment(course, token)
    notes = []
    say = progress or (lambda text: None)

    protecting = False
    if protect:
        try:
            if _Shadow.available():
                probe = _Shadow(course, "probe")
                protecting = True
                protected = ("writes to " + ", ".join(str(t) for t, _, _ in probe.layers) +
                             " go to overlays" + (", fresh for each submission" if alone else ""))
            else:
                notes.append("not protected: overlays need root, `unshare` and overlayfs")
        except ValueError as exc:
            notes.append(f"not protected: {exc}")
    if not protecting:
        protected = "none: hostile writes reach the real files"
    cgroup = PidsCgroup(f"stock-nbgrader-{token[:12]}", max_pids)
    if cgroup.path is None:
        notes.append("no pids cgroup (needs root at the top of the pids hierarchy): "
                     "a fork bomb would not be stopped")

    state = {"scores": {}, "reasons": {}}
    status, batches, leftover, interventions = {}, [], [], []
    final, max_scores, gradebook, setup_seconds = {}, {}, "not created", 0.0
    outside = {}
    t0 = time.monotonic()
    shadow = None
    try:
        db_path = _setup(course, submitted, slugs, students, env, cell_timeout)
        setup_seconds = time.monotonic() - t0
        max_scores = _max_scores(db_path, slugs)
        pristine = course / ".gradebook-pristine.db"
        shutil.copy(db_path, pristine)
        say(f"stock nbgrader: course set up in {setup_seconds:.1f} s ({course})")
        memory_bytes = int(memory_gib * 2**30) if memory_gib else 0
        if alone:
            units = [(slug, [student], student) for student, slug in pairs]
        else:
            units = [(slug, [s for s, g in pairs if g == slug], None) for slug in slugs]
            units = [u for u in units if u[1]]
        for k, (slug, in_batch, only) in enumerate(units):
            label = f"{slug}-{only}" if only else slug
            if alone:
                shutil.copy(pristine, db_path)
            if protecting and (shadow is None or alone):
                shadow = _Shadow(course, f"batch{k}")
            batch, watcher = _autograde(course, db_path, slug, in_batch, only, env, cell_timeout,
                                        batch_timeout, memory_bytes, shadow, cgroup, state, label)
            batches.append(batch)
            where = f"{only}/{slug}" if only else slug
            leftover.extend((pid, cmd, where) for pid, cmd in kill_leftovers(token, cgroup).items())
            errors = {m.group(2) for line in watcher.lines for m in [ERROR_LINE.search(line)]
                      if m and m.group(1) == slug}
            errors |= set(watcher.failed)
            why = _failure_reasons(watcher.lines, slug)
            for student, killed in watcher.bombs.items():
                if killed:
                    interventions.append((student, slug, f"fork bomb: reached the cap of "
                                          f"{max_pids} processes; the benchmark killed {killed} "
                                          "of them"))
            for student in in_batch:
                key = (student, slug)
                has_notebook = any((submitted / student / slug).glob("*.ipynb"))
                if student in errors:
                    status[key] = "error"
                    state["reasons"].setdefault(key, why.get(student, "nbgrader reported an error"))
                elif student in watcher.done:
                    status[key] = "graded"
                elif student in watcher.started:
                    status[key] = "interrupted"
                    state["reasons"].setdefault(key, "its batch died while grading it"
                                                if not batch.timed_out else
                                                "its batch was killed at its time limit")
                elif not has_notebook and not batch.timed_out:
                    status[key] = "skipped"
                    state["reasons"].setdefault(key, "no notebook: nbgrader skips the folder "
                                                "without a word; `nbgrader export` reports 0")
                    state["scores"][key] = 0.0
                else:
                    status[key] = "not reached"
                    state["reasons"].setdefault(
                        key, "the batch was killed at its time limit first" if batch.timed_out
                        else f"the batch ended (exit {batch.returncode}) before it")
            if alone:
                try:
                    with _connect(db_path) as db:
                        for student in in_batch:
                            final[(student, slug)] = code_score(db, student, slug)
                except sqlite3.Error:
                    for student in in_batch:
                        final[(student, slug)] = None
                if shadow is not None:
                    for path, what in shadow.writes().items():
                        outside.setdefault(path, []).append(f"{what} by {only}")
            say(f"stock nbgrader: {label}: {len(in_batch)} submission(s) in {batch.seconds:.1f} s"
                f" (exit {batch.returncode}{', killed at its time limit' if batch.timed_out else ''})")
        if alone:
            gradebook = "fresh for each submission"
        else:
            try:
                with _connect(db_path) as db:
                    for key in pairs:
                        final[key] = code_score(db, *key)
                gradebook = "readable"
            except sqlite3.Error as exc:
                gradebook = f"unreadable at the end ({exc})"
                final = {key: None for key in pairs}
    finally:
        leftover.extend((pid, cmd, "end") for pid, cmd in kill_leftovers(token, cgroup).items())
        cgroup.remove()
        if shadow is not None and not alone:
            for path, what in shadow.writes().items():
                outside.setdefault(path, []).append(what)
        if not keep:
            shutil.rmtree(course, ignore_errors=True)
        else:
            notes.append(f"course kept in {course}")
    scores = {key: state["scores"].get(key) for key in pairs}
    for key in pairs:
        status.setdefault(key, "not reached")
        if status[key] == "skipped" and final.get(key) is None:
            final[key] = 0.0
    outside = {path: ", ".join(whats) for path, whats in outside.items()}
    seconds = sum(b.seconds for b in batches)
    return StockRun(scores, final, max_scores, status, state["reasons"], batches, seconds,
                    setup_seconds, leftover, interventions, outside, gradebook, protected, notes)


def scores(submitted, **options):
    """{(student_id, slug): score or None}: the short form of grade()."""
    return grade(submitted, **options).scores


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(description="Grade a SUBMITTED folder with stock nbgrader.")
    p.add_argument("submitted")
    p.add_argument("--timeout", type=float, default=30, help="nbgrader's cell timeout (s)")
    p.add_argument("--keep", action="store_true", help="keep the course directory")
    p.add_argument("--alone", action="store_true", help="each submission in its own batch")
    a = p.parse_args()
    run = grade(a.submitted, cell_timeout=a.timeout, keep=a.keep, alone=a.alone,
                progress=lambda t: print(t, file=sys.stderr))
    for (student, slug), score in sorted(run.scores.items()):
        final = run.final_scores.get((student, slug))
        print(f"{student:30} {slug:24} {score if score is not None else '-':>6} "
              f"{final if final is not None else '-':>6} {run.status[(student, slug)]:12} "
              f"{run.reasons.get((student, slug), '')}")
    print(f"autograde: {run.seconds:.1f} s, set-up {run.setup_seconds:.1f} s; gradebook "
          f"{run.gradebook}; left running: {len(run.leftover)}; interventions: "
          f"{run.interventions or 'none'}; writes outside: {run.outside_writes or 'none'}")
