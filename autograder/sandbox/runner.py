"""The worker inside the sandbox: imports once, then forks a fresh child per submission.

Started once per worker (`python -m sandbox.runner [--pid-namespace]`), it reads jobs from
stdin and writes one result per job to stdout, both as wire frames. A job is

    {"cells": [source, ...], "cases": [{"id", "group", "program"}, ...], "limits": {...}}

For each job a child is forked from this clean process: it executes the cells with IPython
(magics work), then runs each case program on the functions the cells defined and reports
the outputs as plain data. The worker watches the clock: a cell or a case that overruns its
limit, or a child that dies, is recorded, the child is killed with everything it started,
and a new child resumes after the failed step, so one hung function costs only its own
cases. Between jobs every other process in the sandbox is killed and the scratch space
wiped, so nothing a submission leaves behind reaches the next one.
"""
import ctypes
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

from . import program, wire

OUTPUT_KEEP = 16 * 1024          # characters of the student's printed output kept per job
EVENT_FRAME_LIMIT = 64 * 2**20   # the largest event a child may send


class CappedWriter:
    """A text stream that keeps the first OUTPUT_KEEP characters and counts the rest."""

    def __init__(self):
        self.parts, self.kept, self.total = [], 0, 0

    def write(self, text):
        text = str(text)
        self.total += len(text)
        if self.kept < OUTPUT_KEEP:
            piece = text[:OUTPUT_KEEP - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def text(self):
        return "".join(self.parts)


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 2000 else text[:2000] + "..."


def _student_traceback(exc):
    """The traceback frames that belong to the student's cells, not to this runner."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.endswith(("program.py", "runner.py"))]
    return "".join(traceback.format_list(frames[-6:]))[-3000:]


def _set_limits(limits):
    mem = int(limits["memory_bytes"])
    for res, value in [(resource.RLIMIT_AS, mem), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_FSIZE, int(limits["file_bytes"])),
                       (resource.RLIMIT_NOFILE, 256),
                       (resource.RLIMIT_CPU, int(limits["total_seconds"]) + 5)]:
        resource.setrlimit(res, (value, value))


def _child(job, scratch, start_cell, skip_cells, start_case, dead_groups, events_fd, shell):
    """Runs in the forked child; never returns."""
    out = os.fdopen(events_fd, "wb")

    def send(msg):
        wire.write_frame(out, msg)

    try:
        os.setsid()
        _set_limits(job["limits"])
        os.chdir(scratch)
        captured = CappedWriter()
        sys.stdout = sys.stderr = captured
        for i, source in enumerate(job["cells"]):
            if i in skip_cells:
                continue
            send({"event": "cell_start", "index": i})
            result = shell.run_cell(source, store_history=False)
            err = result.error_before_exec or result.error_in_exec
            if i >= start_cell:
                send({"event": "cell_end", "index": i,
                      "error": _describe(err) if err is not None else None})
        for k, case in enumerate(job["cases"]):
            if k < start_case or case["group"] in dead_groups:
                continue
            send({"event": "case_start", "index": k})
            try:
                values = program.run(case["program"], shell.user_ns)
                send({"event": "case_end", "index": k, "status": "ok", "outputs": values})
            except wire.WireError as exc:
                send({"event": "case_end", "index": k, "status": "error",
                      "error": f"returned something that is not plain data: {exc}"})
            except program.StepError as exc:
                send({"event": "case_end", "index": k, "status": "error", "error": str(exc)})
            except MemoryError:
                gib = job["limits"]["memory_bytes"] / 2**30
                send({"event": "case_end", "index": k, "status": "error",
                      "error": f"MemoryError: used more than the {gib:.1f} GiB memory limit"})
            except BaseException as exc:  # the student's exception, reported as data
                send({"event": "case_end", "index": k, "status": "error",
                      "error": _describe(exc), "traceback": _student_traceback(exc)})
        send({"event": "done", "output": captured.text(), "output_chars": captured.total})
        out.close()
        os._exit(0)
    except BaseException:
        os._exit(70)


class Worker:
    def __init__(self, pid_namespace):
        self.pid_namespace = pid_namespace
        # Keep the control channel on private descriptors; the children get /dev/null.
        self.ctrl_in = os.fdopen(os.dup(0), "rb")
        self.ctrl_out = os.fdopen(os.dup(1), "wb")
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.environ.setdefault("MPLBACKEND", "Agg")
        from traitlets.config import Config
        from IPython.core.interactiveshell import InteractiveShell
        config = Config()
        config.HistoryManager.enabled = False
        self.shell = InteractiveShell.instance(config=config, colors="NoColor")
        import numpy  # noqa: F401  (paid once here, shared by every child through fork)
        import matplotlib.pyplot  # noqa: F401
        if pid_namespace:
            # Children cannot read this process's memory or descriptors through /proc.
            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4

    def serve(self):
        while True:
            job = wire.read_frame(self.ctrl_in)
            if job is None:
                return
            wire.write_frame(self.ctrl_out, self.run_job(job))

    def run_job(self, job):
        limits = job["limits"]
        deadline = time.monotonic() + limits["total_seconds"]
        self.scratch = tempfile.mkdtemp(prefix="job-")
        cells = [None] * len(job["cells"])
        cases = [None] * len(job["cases"])
        skip_cells, dead_groups = set(), set()
        start_cell, start_case = 0, 0
        output, output_chars, restarts = "", 0, 0
        while True:
            finished, step = self._run_child(job, start_cell, skip_cells, start_case,
                                             dead_groups, deadline, cells, cases)
            if finished is not None:
                output, output_chars = finished
                break
            kind, index, why = step
            restarts += 1
            if kind == "cell":
                cells[index] = {"error": why}
                skip_cells.add(index)
                start_cell = index + 1
            elif kind == "case":
                cases[index] = {"status": "error", "error": why}
                dead_groups.add(job["cases"][index]["group"])
                start_cell, start_case = len(cells), index + 1
            if kind == "total" or time.monotonic() >= deadline:
                break
        for k, case in enumerate(job["cases"]):
            if cases[k] is None:
                why = ("not run: an earlier case of this function timed out or crashed"
                       if case["group"] in dead_groups else
                       f"not run: the notebook's time limit of {limits['total_seconds']} s ran out")
                cases[k] = {"status": "skipped", "error": why}
        shutil.rmtree(self.scratch, ignore_errors=True)
        return {"cells": cells, "cases": {c["id"]: r for c, r in zip(job["cases"], cases)},
                "output": output, "output_chars": output_chars, "restarts": restarts}

    def _run_child(self, job, start_cell, skip_cells, start_case, dead_groups, deadline,
                   cells, cases):
        """One child; returns ((output, chars), None) when it finished, else (None, step)."""
        limits = job["limits"]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            self.ctrl_in.close()
            self.ctrl_out.close()
            _child(job, self.scratch, start_cell, skip_cells, start_case, dead_groups, w,
                   self.shell)
        os.close(w)
        # Unbuffered: select() must see every byte the child sent, none may wait in a buffer.
        events = os.fdopen(r, "rb", buffering=0)
        current = ("cell", None)
        step_deadline = deadline
        result = None
        try:
            while True:
                now = time.monotonic()
                wait = min(step_deadline, deadline) - now
                if wait <= 0 or not select.select([events], [], [], wait)[0]:
                    kind, index = current
                    if now >= deadline:
                        result = (None, ("total", index,
                                         f"timed out: the notebook used its whole limit of "
                                         f"{limits['total_seconds']} s"))
                    else:
                        secs = limits["cell_seconds" if kind == "cell" else "case_seconds"]
                        result = (None, (kind, index, f"timed out after {secs} s"))
                    if index is None:
                        result = (None, ("total", None, result[1][2]))
                    break
                try:
                    msg = wire.read_frame(events, EVENT_FRAME_LIMIT)
                except (wire.WireError, ValueError, KeyError) as exc:
                    msg = {"event": "garbled", "why": str(exc)}
                if msg is None or msg.get("event") == "garbled":
                    status = self._reap(pid)
                    kind, index = current
                    why = self._death(status, limits)
                    result = (None, (kind if index is not None else "total", index, why))
                    break
                event = msg["event"]
                if event == "cell_start":
                    current = ("cell", msg["index"])
                    step_deadline = time.monotonic() + limits["cell_seconds"]
                elif event == "cell_end":
                    cells[msg["index"]] = {"error": msg["error"]}
                    current, step_deadline = ("cell", None), deadline
                elif event == "case_start":
                    current = ("case", msg["index"])
                    step_deadline = time.monotonic() + limits["case_seconds"]
                elif event == "case_end":
                    cases[msg["index"]] = {k: v for k, v in msg.items() if k not in ("event", "index")}
                    current, step_deadline = ("case", None), deadline
                elif event == "done":
                    result = ((str(msg["output"])[:OUTPUT_KEEP], int(msg["output_chars"])), None)
                    break
        finally:
            events.close()
            self._kill_everything(pid)
        return result

    def _reap(self, pid):
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except ChildProcessError:
            return None

    @staticmethod
    def _death(status, limits):
        if status is None:
            return "the process ended without reporting"
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGKILL:
                return ("killed (most likely for using more than "
                        f"{limits['memory_bytes'] / 2**30:.1f} GiB of memory)")
            if sig == signal.SIGXCPU:
                return "killed for using too much CPU time"
            return f"the process was killed by signal {signal.Signals(sig).name}"
        return f"the process exited with status {os.WEXITSTATUS(status)} before finishing"

    def _kill_everything(self, pid):
        """Kill the child and all it started; wipe the scratch space."""
        if self.pid_namespace:
            # Inside our own PID namespace, -1 reaches every process but this one.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        # A fresh, empty scratch folder for the next child (of this job or the next).
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.pid_namespace:
            # Inside the sandbox /tmp is ours alone: wipe everything anyone left there.
            tmp = tempfile.gettempdir()
            for name in os.listdir(tmp):
                path = os.path.join(tmp, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        os.makedirs(self.scratch, exist_ok=True)

def main(argv):
    worker = Worker(pid_namespace="--pid-namespace" in argv)
    worker.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
