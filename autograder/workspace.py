"""The grading workspace: whose it is, who is using it, and what is handed back from it.

    WS/grades.csv, tests.csv          the class's tables (every run so far, plus the roster)
    WS/results/<student>/<slug>.json  one record per graded notebook (the automatic part)
    WS/gradebook.db                   nbgrader's gradebook (hand scores, timestamps, penalties)
    WS/autograded/<student>/<slug>/   nbgrader's course layout: the graded copy of the notebook,
                                      timestamp.txt and submission_secret.txt
    WS/feedback/<student>/<slug>/     the feedback page, timestamp.txt, submission_secret.txt
                                      (what `nbgrader release_feedback` reads)
    WS/roster.json, WS/deadlines.json  the class list and the due dates, kept for later runs

A workspace belongs to one course: a folder that is an nbgrader course root, or whose
gradebook or results hold assignments of another course, is refused rather than merged.
One `grade` run at a time holds the workspace's lock.
"""
import copy
import datetime
import fcntl
import json
import os
import secrets
from pathlib import Path


class WorkspaceError(RuntimeError):
    """The workspace cannot be used; the message says what to do."""


def check_foreign(workspace, slugs):
    """Refuse a workspace that is an nbgrader course root or holds another course's results."""
    workspace = Path(workspace)
    if (workspace / "nbgrader_config.py").is_file() or (workspace / "source").is_dir():
        raise WorkspaceError(f"{workspace} is an nbgrader course folder (it has "
                             "nbgrader_config.py or source/); grade into a workspace of its own, "
                             "e.g. --workspace graded/")
    results = workspace / "results"
    if results.is_dir():
        foreign = sorted({p.stem for p in results.glob("*/*.json")} - set(slugs))
        if foreign:
            raise WorkspaceError(f"{workspace} holds results of assignments this course does not "
                                 f"have ({', '.join(foreign[:5])}); it belongs to another course: "
                                 "choose another --workspace")


class Lock:
    """An exclusive lock on WS/.grading.lock, held while one run grades into the workspace."""

    def __init__(self, workspace):
        self.path = Path(workspace) / ".grading.lock"
        self.fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkspaceError(f"another grading run (process {holder}) is using "
                                 f"{self.path.parent}; wait for it to finish, or use another "
                                 "--workspace") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def atomic_write(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- handing back

NBGRADER_TIME = "%Y-%m-%d %H:%M:%S.%f %Z"


def _small_text(path, limit=200):
    """A short text file from a submission folder, or None (absent, a link, too large)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def stamp_files(workspace, submission_folder, student_id, slug, timestamp):
    """timestamp.txt and submission_secret.txt for the autograded/ and feedback/ folders.

    The secret is the student's own (from `nbgrader submit`, so `nbgrader fetch_feedback`
    finds the feedback) when the submission has one; otherwise a random one, kept stable
    across runs. The timestamp is the submission's, else the notebook file's modification time.
    """
    workspace = Path(workspace)
    graded = workspace / "autograded" / student_id / slug
    secret = (_small_text(Path(submission_folder) / "submission_secret.txt")
              or _small_text(graded / "submission_secret.txt") or secrets.token_hex(16))
    if timestamp is None:
        notebook = Path(submission_folder) / f"{slug}.ipynb"
        try:
            timestamp = datetime.datetime.fromtimestamp(notebook.lstat().st_mtime,
                                                        datetime.timezone.utc)
        except OSError:
            timestamp = datetime.datetime.now(datetime.timezone.utc)
    text = timestamp.astimezone(datetime.timezone.utc).strftime(NBGRADER_TIME)
    for folder in (graded, workspace / "feedback" / student_id / slug):
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in (("timestamp.txt", text), ("submission_secret.txt", secret)):
            if _small_text(folder / name) != value:
                atomic_write(folder / name, value)


def write_autograded(workspace, release_nb, result):
    """WS/autograded/<student>/<slug>/<slug>.ipynb: the released notebook (nbgrader's cell
    metadata intact) holding the student's code and written answers, for nbgrader's tools.
    No hidden test and no solution is in it."""
    nb = copy.deepcopy(release_nb)
    code = dict(result.get("student_code") or [])
    written = result.get("written") or {}
    for cell in nb.get("cells", []):
        gid = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid in code and cell.get("cell_type") == "code":
            cell["source"] = code[gid]
        elif gid in written and cell.get("cell_type") == "markdown":
            cell["source"] = written[gid]
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path = (Path(workspace) / "autograded" / result["student_id"] / result["assignment"]
            / f"{result['assignment']}.ipynb")
    atomic_write(path, json.dumps(nb, indent=1, ensure_ascii=False))
    return path
