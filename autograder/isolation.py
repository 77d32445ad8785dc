"""The trusted side's handle on one sandboxed worker.

A worker is `python -m sandbox.runner` started once under bubblewrap: no network, its own
PID, IPC and user namespaces, a read-only view of the Python installation and of
`autograder/sandbox/` only (never the reference code, the solutions, the workspace or the
submissions), and a root file system remounted read-only. As root it also gets a cgroup
(v1 or v2, whichever the host has) that caps its memory, its processes and its CPU.

Inside, a template process that never receives job data forks one fresh, namespaced chain
per notebook (see sandbox/runner.py): a fresh size-capped tmpfs as its only writable place,
a process whose memory never held another student's data. For each notebook this side makes
two new pipes, hands their far ends to the template (SCM_RIGHTS over the control socket),
writes the job into one and reads events from the other. Everything that comes back is
untrusted: `_Attempt` checks every frame against what was asked (event kinds, types, sizes,
the cells and cases asked for, in order, each once) and ends the notebook as "crashed", with
the reason in words, at the first thing that does not fit. Deadlines are kept here: a cell or
case that overruns, or a chain that dies, is killed, and a new chain resumes after the failed
step, so one hung function costs only its own cases.

If the template itself stops answering, the whole sandbox is killed and started again; that
notebook is reported as crashed by the grader (`transient`: not saved as a final result).
"""
import dataclasses
import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from .sandbox import wire

SANDBOX_PACKAGE = Path(__file__).resolve().parent / "sandbox"
CGROUP_ROOT = Path("/sys/fs/cgroup")
OUTPUT_KEEP = 16 * 1024             # what the cells printed (runner.OUTPUT_KEEP)
EVENT_FRAME_LIMIT = 64 * 2**20      # the largest event frame accepted
EVENT_TOTAL_LIMIT = 256 * 2**20     # all event bytes of one notebook
TEXT_LIMIT = 4000                   # characters of an error message or traceback


class SandboxUnavailable(RuntimeError):
    """The machine cannot provide the isolation asked for."""


@dataclasses.dataclass(frozen=True)
class Limits:
    cell_seconds: float = 10.0
    case_seconds: float = 10.0
    total_seconds: float = 60.0
    memory_bytes: int = 2 * 2**30
    file_bytes: int = 64 * 2**20
    tmpfs_bytes: int = 256 * 2**20      # the notebook's scratch tmpfs (/tmp, its home)
    shm_bytes: int = 64 * 2**20         # its /dev/shm
    processes: int = 64
    cpus: float = 1.0                   # CPU time per worker, in cores

    def for_job(self):
        return {"cell_seconds": self.cell_seconds, "case_seconds": self.case_seconds,
                "total_seconds": self.total_seconds, "memory_bytes": self.memory_bytes,
                "file_bytes": self.file_bytes}


def bwrap_command(limits, control_fd):
    """The bubblewrap command line that starts a worker."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: install the Debian "
                                 "package 'bubblewrap' (`make sysdeps` does it as root)")
    venv = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--setenv", "PATH", "/opt/venv/bin:/usr/bin:/bin",
           "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
           "--setenv", "PYTHONPATH", "/opt/grader",
           "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
           "--setenv", "MPLBACKEND", "Agg", "--setenv", "MPLCONFIGDIR", "/tmp/.matplotlib",
           "--setenv", "IPYTHONDIR", "/tmp/.ipython",
           "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
           "--ro-bind", "/usr", "/usr",
           "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
           "--ro-bind", str(base), str(base),
           "--ro-bind", str(venv), "/opt/venv",
           "--ro-bind", str(SANDBOX_PACKAGE), "/opt/grader/sandbox",
           "--proc", "/proc", "--dev", "/dev",
           # The template's own /tmp; each notebook gets a fresh one mounted over it.
           "--size", str(16 * 2**20), "--tmpfs", "/tmp",
           "--remount-ro", "/",
           "--chdir", "/tmp", "--uid", "1000", "--gid", "1000",
           "/opt/venv/bin/python", "-m", "sandbox.runner", "--control-fd", str(control_fd)]
    return cmd


# ---------------------------------------------------------------------------- cgroups

def _cgroup_mounts():
    """{controller: v1 mount point} and the cgroup2 mount point (or None), from mountinfo."""
    v1, v2 = {}, None
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return v1, v2
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, (fstype, _, options) = left.split(), right.split()[:3]
        point = Path(fields[4])
        if fstype == "cgroup2" and v2 is None:
            v2 = point
        elif fstype == "cgroup":
            for opt in options.split(","):
                if opt in ("memory", "pids", "cpu"):
                    v1[opt] = point
    return v1, v2


def _own_cgroups():
    """{v1 controller or "": this process's path in that hierarchy} from /proc/self/cgroup."""
    own = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in (controllers.split(",") if controllers else [""]):
                own[c] = path.lstrip("/")
    except (OSError, ValueError):
        pass
    return own


def _remove_stale(parent, min_age=120.0):
    """Remove empty autograder-* cgroups that a killed run left behind (not fresh ones)."""
    now = time.time()
    for path in parent.glob("autograder-*"):
        try:
            if now - path.stat().st_mtime > min_age and not (path / "cgroup.procs").read_text().strip():
                path.rmdir()
        except OSError:
            pass


def _v1_settings(limits):
    quota = int(100_000 * limits.cpus)
    return {"memory": {"memory.limit_in_bytes": limits.memory_bytes + 512 * 2**20},
            "pids": {"pids.max": limits.processes},
            "cpu": {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": quota}}


def _v2_settings(limits):
    quota = int(100_000 * limits.cpus)
    return {"memory": {"memory.max": limits.memory_bytes + 512 * 2**20,
                       "memory.swap.max?": 0},            # "?": only where the file exists
            "pids": {"pids.max": limits.processes},
            "cpu": {"cpu.max": f"{quota} 100000"}}


def _write_settings(path, values):
    for key, value in values.items():
        optional = key.endswith("?")
        target = path / key.rstrip("?")
        if optional and not target.exists():
            continue
        target.write_text(str(value))


def _v2_parent(v2, own):
    """The v2 folder under which sandboxes are made, with memory/pids/cpu delegated to it.

    A v2 cgroup may hand controllers to its children only while it holds no process itself,
    so when the grader sits in a cgroup that has processes, it first moves itself into a leaf
    of its own (`autograder-coordinator-PID`) and then enables the controllers.
    """
    parent = v2 / own.get("", "")
    wanted = [c for c in ("memory", "pids", "cpu")
              if c in (parent / "cgroup.controllers").read_text().split()]
    if not wanted:
        return parent, []
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    missing = [c for c in wanted if c not in enabled]
    if missing:
        try:
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            leaf = parent / f"autograder-coordinator-{os.getpid()}"
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
    return parent, wanted


class Cgroup:
    """Cgroups that cap one worker: memory, processes and CPU, on cgroup v1 or v2.

    Made inside the grader's own cgroups, so whatever limits the grader runs under also bound
    its sandboxes. `enforced` names the controllers that took effect; `missing` says, for each
    one that did not, why not.
    """

    def __init__(self, limits):
        self.dirs, self.enforced, self.missing = [], [], {}
        controllers = ("memory", "pids", "cpu")
        if os.geteuid() != 0:
            self.missing = {c: "the grader is not running as root" for c in controllers}
            return
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        v1, v2 = _cgroup_mounts()
        own = _own_cgroups()
        settings = _v1_settings(limits)
        for controller in controllers:
            if controller not in v1:
                continue
            try:
                parent = v1[controller] / own.get(controller, "")
                _remove_stale(parent)
                path = parent / name
                path.mkdir()
                self.dirs.append(path)
                _write_settings(path, settings[controller])
                self.enforced.append(controller)
            except OSError as exc:
                self.missing[controller] = f"cgroup v1 {controller}: {exc.strerror or exc}"
        rest = [c for c in controllers if c not in v1]
        if rest and v2 is not None:
            try:
                parent, available = _v2_parent(v2, own)
                usable = [c for c in rest if c in available]
                if usable:
                    _remove_stale(parent)
                    path = parent / name
                    path.mkdir()
                    self.dirs.append(path)
                    settings = _v2_settings(limits)
                    for controller in usable:
                        _write_settings(path, settings[controller])
                        self.enforced.append(controller)
                for controller in rest:
                    if controller not in usable:
                        self.missing[controller] = (f"cgroup v2 does not delegate the {controller} "
                                                    "controller to the grader's cgroup")
            except OSError as exc:
                for controller in rest:
                    if controller not in self.enforced:
                        self.missing[controller] = f"cgroup v2: {exc.strerror or exc}"
        for controller in controllers:
            if controller not in self.enforced and controller not in self.missing:
                self.missing[controller] = "this host has no cgroup hierarchy with it"

    def join(self):
        """Called in the worker's process before exec: move it into the cgroups."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_all(self):
        for path in self.dirs:
            try:
                for pid in (path / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass

    def remove(self):
        for path in self.dirs:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.02)


LIMIT_WORDS = {"memory": "the total memory of a worker (each process is still held to its "
                         "address-space limit)",
               "pids": "the number of processes a notebook may start",
               "cpu": "the CPU a worker may use (one notebook can slow the others)"}


def limit_warnings(missing):
    """Sentences for the summary: which limits this host cannot enforce, and why."""
    return [f"not enforced on this host: {LIMIT_WORDS[c]}; {why}" for c, why in sorted(missing.items())]


# ---------------------------------------------------------------------------- one notebook

class _Rejected(Exception):
    """The sandbox sent something that was not asked for; the message says what."""


def _text(value, what):
    if not isinstance(value, str) or len(value) > TEXT_LIMIT:
        raise _Rejected(f"{what} is not a text of at most {TEXT_LIMIT} characters")
    return value


class _Attempt:
    """One chain (fresh environment) running the steps still to do of one notebook.

    `run()` returns ("done", None), ("died" | "timeout", why) or ("rejected", why). Results
    are written into the shared `state` as the events arrive, after each has been checked.
    """

    def __init__(self, sandbox, job, state):
        self.sandbox, self.job, self.state = sandbox, job, state
        limits = sandbox.limits
        n = len(job["cells"])
        self.cells_to_run = [i for i in range(n)
                             if i >= state["start_cell"] and i not in state["skip_cells"]]
        self.cases_to_run = [k for k, c in enumerate(job["cases"])
                             if state["cases"][k] is None and c["group"] not in state["dead_groups"]]
        first = {"cells": job["cells"], "skip_cells": sorted(state["skip_cells"]),
                 "start_cell": state["start_cell"], "limits": limits.for_job()}
        self.pending = bytearray(wire.frame_bytes(first))
        self.current = None                      # ("cell" | "case", index) while a step runs
        self.cell_pos = self.case_pos = 0
        self.phase = "cells"
        self.reader = wire.FrameReader(EVENT_FRAME_LIMIT)

    def run(self, job_w, events_r):
        limits, state = self.sandbox.limits, self.state
        step_deadline = state["deadline"]
        os.set_blocking(job_w, False)
        while True:
            now = time.monotonic()
            deadline = min(step_deadline, state["deadline"])
            if now >= deadline:
                kind, index = self.current or ("total", None)
                if now >= state["deadline"] or index is None:
                    return "timeout", ("total", index, f"timed out: the notebook used its whole "
                                                       f"limit of {limits.total_seconds:g} s")
                secs = limits.cell_seconds if kind == "cell" else limits.case_seconds
                return "timeout", (kind, index, f"timed out after {secs:g} s")
            writers = [job_w] if self.pending else []
            readable, writable, _ = select.select([events_r], writers, [], deadline - now)
            if writable:
                try:
                    sent = os.write(job_w, self.pending[:1 << 16])
                    del self.pending[:sent]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    self.pending.clear()
            if not readable:
                continue
            data = os.read(events_r, 1 << 20)
            if not data:
                return "died", None
            state["event_bytes"] += len(data)
            if state["event_bytes"] > EVENT_TOTAL_LIMIT:
                raise _Rejected(f"it sent more than {EVENT_TOTAL_LIMIT // 2**20} MiB of results")
            try:
                frames = self.reader.feed(data)
            except wire.WireError as exc:
                raise _Rejected(str(exc)) from None
            for frame in frames:
                try:
                    msg = wire.loads(frame)
                except Exception as exc:  # anything a forged frame can make the decoder raise
                    raise _Rejected(f"a result frame could not be read "
                                    f"({type(exc).__name__})") from None
                if self.handle(msg):
                    return "done", None
                if self.current is None:
                    step_deadline = state["deadline"]
                else:
                    secs = limits.cell_seconds if self.current[0] == "cell" else limits.case_seconds
                    step_deadline = time.monotonic() + secs

    def handle(self, msg):
        """Check one event against what was asked and record it; True when the job is done."""
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            raise _Rejected("a result frame is not an event")
        event, state = msg["event"], self.state
        expected_keys = {"cell_start": {"index"}, "cell_end": {"index", "error"},
                         "cells_done": {"output", "output_chars"}, "case_start": {"index"},
                         "case_end": {"index", "status", "outputs", "error", "traceback"},
                         "done": set()}
        if event not in expected_keys or not set(msg) - {"event"} <= expected_keys[event]:
            raise _Rejected(f"an unexpected event ({event[:40]!r})")
        index = msg.get("index")
        if "index" in expected_keys[event] and (type(index) is not int):
            raise _Rejected(f"a {event} event without a step number")
        if event == "cell_start":
            if (self.phase != "cells" or self.current is not None
                    or self.cell_pos >= len(self.cells_to_run) or index != self.cells_to_run[self.cell_pos]):
                raise _Rejected(f"cell {index} started out of order")
            self.current = ("cell", index)
        elif event == "cell_end":
            if self.current != ("cell", index):
                raise _Rejected(f"cell {index} ended without starting")
            error = msg.get("error")
            state["cells"][index] = {"error": None if error is None else _text(error, "a cell error")}
            self.current, self.cell_pos = None, self.cell_pos + 1
        elif event == "cells_done":
            if self.phase != "cells" or self.current is not None or self.cell_pos != len(self.cells_to_run):
                raise _Rejected("the cells were reported finished before they were")
            output, chars = msg.get("output"), msg.get("output_chars")
            if (not isinstance(output, str) or len(output) > OUTPUT_KEEP or type(chars) is not int
                    or not len(output) <= chars <= 2**53):
                raise _Rejected("the printed output was not reported as text and its length")
            if state["output"] is None:
                state["output"], state["output_chars"] = output, chars
            self.phase = "cases"
            cases = [{"index": k, "program": self.job["cases"][k]["program"]} for k in self.cases_to_run]
            self.pending += wire.frame_bytes({"cases": cases})
        elif event == "case_start":
            if (self.phase != "cases" or self.current is not None
                    or self.case_pos >= len(self.cases_to_run) or index != self.cases_to_run[self.case_pos]):
                raise _Rejected(f"a result for case {index}, which was not asked for at that point")
            self.current = ("case", index)
        elif event == "case_end":
            if self.current != ("case", index):
                raise _Rejected(f"case {index} ended without starting")
            state["cases"][index] = self._case_outcome(index, msg)
            self.current, self.case_pos = None, self.case_pos + 1
        elif event == "done":
            if self.phase != "cases" or self.current is not None or self.case_pos != len(self.cases_to_run):
                raise _Rejected("the notebook was reported finished before it was")
            return True
        return False

    def _case_outcome(self, index, msg):
        status = msg.get("status")
        if status == "ok":
            outputs = msg.get("outputs")
            wanted = set(self.job["cases"][index]["program"]["returns"])
            if not isinstance(outputs, dict) or set(outputs) != wanted or set(msg) - {
                    "event", "index", "status", "outputs"}:
                raise _Rejected(f"the result of case {index} does not have the values asked for")
            return {"status": "ok", "outputs": outputs}
        if status == "error":
            if "outputs" in msg:
                raise _Rejected(f"case {index} reported an error and values")
            outcome = {"status": "error", "error": _text(msg.get("error"), "an error message")}
            if "traceback" in msg:
                outcome["traceback"] = _text(msg["traceback"], "a traceback")
            return outcome
        raise _Rejected(f"case {index} has no valid status")


def _death(code, limits):
    """In words: how a notebook's runner ended (`code`: its exit code, -N for signal N)."""
    if code is None:
        return "the process ended without reporting"
    signum = -code if code < 0 else 0
    if signum:
        if signum == signal.SIGKILL:
            return ("killed (most likely for using more than "
                    f"{limits.memory_bytes / 2**30:.1f} GiB of memory)")
        if signum == signal.SIGXCPU:
            return "killed for using too much CPU time"
        try:
            return f"the process was killed by signal {signal.Signals(signum).name}"
        except ValueError:
            return f"the process was killed by signal {signum}"
    return f"the process exited with status {code} before finishing"


class _TemplateLost(Exception):
    """The template process stopped answering: the sandbox must be restarted."""


class Sandbox:
    """One worker; `run(job)` returns the results, or {"crashed": why, "transient": bool}."""

    def __init__(self, limits=Limits(), isolate=True):
        self.limits = limits
        self.isolate = isolate
        self.proc = None
        self.control = None
        self.cgroup = None
        self.starts = 0
        self.missing_limits = {}

    # -- the worker process
    def start(self):
        """Start the worker if it is not running; raise SandboxUnavailable if it cannot run."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if self.isolate:
            cmd = bwrap_command(self.limits, theirs.fileno())
            self.cgroup = Cgroup(self.limits)
            self.missing_limits = dict(self.cgroup.missing)
            preexec = self.cgroup.join
        else:
            cmd = [sys.executable, "-m", "autograder.sandbox.runner",
                   "--control-fd", str(theirs.fileno()), "--no-namespaces"]
            preexec = None
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, pass_fds=(theirs.fileno(),),
                                         preexec_fn=preexec, start_new_session=True,
                                         cwd=str(SANDBOX_PACKAGE.parent.parent))
        finally:
            theirs.close()
        self.control = ours
        self.starts += 1
        try:
            ready = self._receive(120)
        except _TemplateLost:
            ready = None
        if not ready or not ready.get("ready"):
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()[-2000:]
            self._stop()
            raise SandboxUnavailable("the sandbox did not start"
                                     + (f": {err.decode(errors='replace').strip()}" if err else ""))
        self.proc.stderr.close()
        if ready.get("probe"):
            self._stop()
            raise SandboxUnavailable("the sandbox cannot give each notebook a fresh environment "
                                     f"(namespaces inside bubblewrap): {ready['probe']}")

    def _receive(self, timeout):
        if not select.select([self.control], [], [], timeout)[0]:
            raise _TemplateLost(f"the sandbox stopped answering for {timeout:.0f} s")
        try:
            data = self.control.recv(4096)
        except OSError as exc:
            raise _TemplateLost(f"the sandbox worker died ({exc})") from None
        if not data:
            raise _TemplateLost("the sandbox worker died")
        return json.loads(data)

    def _request(self, msg, fds=()):
        try:
            socket.send_fds(self.control, [json.dumps(msg).encode()], list(fds))
        except OSError as exc:
            raise _TemplateLost(f"the sandbox worker died ({exc})") from None

    # -- one notebook
    def run(self, job):
        """Run one notebook's cells and hidden cases; see the module docstring."""
        limits = self.limits
        state = {"deadline": time.monotonic() + limits.total_seconds,
                 "cells": [None] * len(job["cells"]), "cases": [None] * len(job["cases"]),
                 "skip_cells": set(), "dead_groups": set(), "start_cell": 0,
                 "output": None, "output_chars": 0, "event_bytes": 0}
        restarts = 0
        try:
            self.start()
            while True:
                outcome, step = self._attempt(job, state)
                if outcome == "done":
                    break
                restarts += 1
                kind, index, why = step
                if kind == "cell":
                    state["cells"][index] = {"error": why}
                    state["skip_cells"].add(index)
                    state["start_cell"] = index + 1
                elif kind == "case":
                    state["cases"][index] = {"status": "error", "error": why}
                    state["dead_groups"].add(job["cases"][index]["group"])
                    state["start_cell"] = len(job["cells"])
                if kind == "total" or time.monotonic() >= state["deadline"]:
                    break
        except _Rejected as exc:
            return {"crashed": f"the notebook's process sent results the grader did not ask "
                               f"for ({exc})", "transient": False}
        except (_TemplateLost, SandboxUnavailable) as exc:
            self._stop()
            return {"crashed": str(exc), "transient": True}
        for k, case in enumerate(job["cases"]):
            if state["cases"][k] is None:
                why = ("not run: an earlier case of this function timed out or crashed"
                       if case["group"] in state["dead_groups"] else
                       f"not run: the notebook's time limit of {limits.total_seconds:g} s ran out")
                state["cases"][k] = {"status": "skipped", "error": why}
        return {"cells": state["cells"],
                "cases": {c["id"]: r for c, r in zip(job["cases"], state["cases"])},
                "output": state["output"] or "", "output_chars": state["output_chars"],
                "restarts": restarts}

    def _attempt(self, job, state):
        """Fork one fresh chain, feed it, check what it sends; kill it and wait for its end."""
        attempt = _Attempt(self, job, state)
        job_r, job_w = os.pipe()
        events_r, events_w = os.pipe()
        try:
            self._request({"op": "fork", "scratch_bytes": self.limits.tmpfs_bytes,
                           "shm_bytes": self.limits.shm_bytes}, [job_r, events_w])
        finally:
            os.close(job_r)
            os.close(events_w)
        try:
            reply = self._receive(30)
            if reply.get("forked") is None:
                raise _TemplateLost(f"the sandbox could not start a notebook: {reply.get('why')}")
            try:
                outcome, step = attempt.run(job_w, events_r)
            except _Rejected:
                self._end_chain(reply["forked"])
                raise
            # A chain that closed its end may still be exiting: give it a moment to say how.
            code, killed = self._end_chain(reply["forked"], grace=2.0 if outcome == "died" else 0.0)
            if outcome == "died":
                kind, index = attempt.current or ("total", None)
                why = ("it closed its channel to the grader and was stopped" if killed
                       else _death(code, self.limits))
                step = (kind, index, why)
            return outcome, step
        finally:
            os.close(job_w)
            os.close(events_r)

    def _end_chain(self, pid, grace=0.0):
        """Wait `grace` seconds for the notebook's runner to end, then kill it (all its
        namespace goes with it); return its exit code and whether it had to be killed."""
        killed, end = False, time.monotonic() + grace
        while True:
            now = time.monotonic()
            if not killed and now >= end:
                self._request({"op": "kill"})
                killed, end = True, now + 15
            if not select.select([self.control], [], [], max(0.0, end - now))[0]:
                if killed:
                    raise _TemplateLost("the sandbox did not end a notebook's processes")
                continue
            msg = self._receive(0)
            if msg.get("exited") == pid:
                return msg.get("status"), killed and grace > 0

    def _stop(self):
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.cgroup is not None:
                self.cgroup.kill_all()
            self.proc.wait()
            if self.proc.stderr and not self.proc.stderr.closed:
                self.proc.stderr.close()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def close(self):
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
