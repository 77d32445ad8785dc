"""Inside the sandbox: a template process that never sees a job, and one fresh child per notebook.

Started once per worker (`python -m sandbox.runner --control-fd N`), the template imports
Python, NumPy, IPython, matplotlib and `sklearn.datasets` once, then waits on its control
socket for one request only: "fork", which arrives with two pipe ends (a job pipe to read and
an event pipe to write). It never reads a job, so its memory, and therefore the memory every
child starts from, never holds a student's code, a hidden input or anything a previous child
did. The chain for one notebook is

    template --fork--> setup:  new user, mount, PID, IPC and UTS namespaces; every mount
                        remounted read-only, then a fresh tmpfs on /tmp (also the home
                        folder) and on /dev/shm; it forks and exits
             runner:   PID 1 of the new PID namespace: drops every capability, reads the
                       cells, runs them, reports; then reads the cases, runs them, reports
                       (see `_run`)

When the runner exits or is killed, the kernel kills every process left in its PID
namespace, and the mount namespace with its tmpfs disappears: the next notebook starts in a
file system no notebook has written to, among processes no notebook has started.

The runner reads its job in two frames. The first holds the cells; what they print is kept
and sent back before the second frame, holding the hidden cases, is even read: output printed
while the cases run is counted and dropped, so it cannot carry the hidden inputs to the
feedback page. Deadlines, restarts and the validation of every event are the trusted side's
work (autograder/isolation.py): nothing here is trusted once student code has run.
"""
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import traceback

from . import program, wire

OUTPUT_KEEP = 16 * 1024          # characters of what the cells printed, kept per notebook
ERROR_KEEP = 2000                # characters of a cell's error message
CASE_ERROR_KEEP = 500            # characters of an error raised on a hidden case
SCRATCH = "/tmp"                 # the notebook's working folder and home (a fresh tmpfs)

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
# Flags a remount inside a user namespace must keep (the kernel locks them).
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
               "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME,
               "strictatime": MS_STRICTATIME}


class SetupError(RuntimeError):
    """The fresh environment for a notebook could not be made."""


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _mountinfo():
    """[(mount point, per-mount options)] of this mount namespace, in mount order."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            out.append((point, fields[5].split(",")))
    return out


def fresh_environment(scratch_bytes, shm_bytes):
    """In a fresh fork of the template: new namespaces, a fresh tmpfs, everything else read-only.

    Runs with the capabilities the new user namespace grants its creator; the runner
    drops them all before any job data arrives.
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    for name, text in [("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")]:
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for point, options in _mountinfo():     # all of them, the template's /tmp included
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in options:
            flags |= _KEPT_FLAGS.get(option, 0)
        _mount(None, point, None, flags)
    for point, size in {SCRATCH: scratch_bytes, "/dev/shm": shm_bytes}.items():
        _mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(size)},mode=0700")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Give up every capability (those the new user namespace granted), for good."""
    header = _CapHeader(0x20080522, 0)          # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


class CappedWriter:
    """A text stream that keeps the first `keep` characters and counts them all."""

    def __init__(self, keep):
        self.keep, self.parts, self.kept, self.total = keep, [], 0, 0

    def write(self, text):
        text = str(text)
        self.total += len(text)
        if self.kept < self.keep:
            piece = text[:self.keep - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def text(self):
        return "".join(self.parts)


def _describe(exc, keep):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < keep else text[:keep] + "..."


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


def _run(job_fd, events_fd, shell, namespaced):
    """The runner: the only process that reads the job. Never returns."""
    status, scratch = 70, None
    try:
        if namespaced:
            drop_capabilities()
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        scratch = SCRATCH if namespaced else tempfile.mkdtemp(prefix="notebook-")
        os.setsid()
        jobs = os.fdopen(job_fd, "rb", buffering=0)
        out = os.fdopen(events_fd, "wb")

        def send(msg):
            wire.write_frame(out, msg)

        first = wire.read_frame(jobs)
        limits = first["limits"]
        _set_limits(limits)
        os.chdir(scratch)
        captured = CappedWriter(OUTPUT_KEEP)
        sys.stdout = sys.stderr = captured
        skip, start = set(first["skip_cells"]), first["start_cell"]
        for i, source in enumerate(first["cells"]):
            if i in skip:
                continue
            if i >= start:
                send({"event": "cell_start", "index": i})
            result = shell.run_cell(source, store_history=False)
            err = result.error_before_exec or result.error_in_exec
            if i >= start:
                send({"event": "cell_end", "index": i,
                      "error": _describe(err, ERROR_KEEP) if err is not None else None})
        # What the cells printed leaves now, before any hidden input is in this process.
        send({"event": "cells_done", "output": captured.text(), "output_chars": captured.total})
        sys.stdout = sys.stderr = CappedWriter(0)
        for case in wire.read_frame(jobs)["cases"]:
            k = case["index"]
            send({"event": "case_start", "index": k})
            try:
                values = program.run(case["program"], shell.user_ns)
                send({"event": "case_end", "index": k, "status": "ok", "outputs": values})
            except wire.WireError as exc:
                send({"event": "case_end", "index": k, "status": "error",
                      "error": f"returned something that is not plain data: {exc}"[:CASE_ERROR_KEEP]})
            except program.StepError as exc:
                send({"event": "case_end", "index": k, "status": "error",
                      "error": str(exc)[:CASE_ERROR_KEEP]})
            except MemoryError:
                gib = limits["memory_bytes"] / 2**30
                send({"event": "case_end", "index": k, "status": "error",
                      "error": f"MemoryError: used more than the {gib:.1f} GiB memory limit"})
            except BaseException as exc:  # the student's exception, reported as data
                send({"event": "case_end", "index": k, "status": "error",
                      "error": _describe(exc, CASE_ERROR_KEEP),
                      "traceback": _student_traceback(exc)})
        send({"event": "done"})
        out.close()
        status = 0
    finally:
        if scratch and not namespaced:       # no tmpfs to vanish with us: remove the folder
            shutil.rmtree(scratch, ignore_errors=True)
        os._exit(status)


class Template:
    """The warm process: imports once, forks on request, never receives job data."""

    def __init__(self, control_fd, namespaced):
        self.namespaced = namespaced
        self.control = socket.socket(fileno=control_fd)
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
        import sklearn.datasets  # noqa: F401  (exercises load the digits in a provided cell)
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)   # the runners become ours
        self.child = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, msg):
        self.control.send(json.dumps(msg).encode())

    def serve(self):
        self.send({"ready": True, "probe": self._probe()})
        while True:
            ready = select.select([self.control, self.wake_r], [], [])[0]
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
                self._reap()
            if self.control in ready:
                try:
                    data, fds, _, _ = socket.recv_fds(self.control, 4096, 2)
                except OSError:
                    return
                if not data:
                    return
                msg = json.loads(data)
                if msg["op"] == "fork":
                    self._fork(msg, fds)
                elif msg["op"] == "kill":
                    self._kill()

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child:
                self.child = None
                self.send({"exited": pid, "status": os.waitstatus_to_exitcode(status)})

    def _kill(self):
        if self.child is not None:
            # Namespaced, the runner is PID 1 of its namespace: everything goes with it.
            # Without namespaces, its session (process group) is killed as well.
            targets = [self.child] if self.namespaced else [-self.child, self.child]
            for target in targets:
                try:
                    os.kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def _probe(self):
        """Can a fresh environment be made here? None if so, else why not."""
        if not self.namespaced:
            return None
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            why = b""
            try:
                fresh_environment(2**20, 2**20)
            except (SetupError, OSError) as exc:
                why = str(exc).encode()
            os.write(w, why)
            os._exit(0)
        os.close(w)
        why = os.read(r, 4096).decode()
        os.close(r)
        os.waitpid(pid, 0)
        return why or None

    def _fork(self, msg, fds):
        """Start one notebook's chain; report the runner's PID (or why it failed)."""
        if len(fds) != 2 or self.child is not None:
            for fd in fds:
                os.close(fd)
            self.send({"forked": None, "why": "fork refused: another notebook is running"})
            return
        job_fd, events_fd = fds
        status_r, status_w = os.pipe()
        setup = os.fork()
        if setup == 0:
            reply = b""
            try:
                os.close(status_r)
                self.control.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(self.wake_r)
                os.close(self.wake_w)
                if self.namespaced:
                    fresh_environment(msg["scratch_bytes"], msg["shm_bytes"])
                runner = os.fork()
                if runner == 0:
                    os.close(status_w)
                    _run(job_fd, events_fd, self.shell, self.namespaced)
                reply = str(runner).encode()
            except BaseException as exc:  # reported to the trusted side in words
                reply = f"error: {exc}".encode()
            finally:
                os.write(status_w, reply)
                os._exit(0)
        os.close(job_fd)
        os.close(events_fd)
        os.close(status_w)
        with os.fdopen(status_r, "rb") as f:
            reply = f.read(4096).decode()
        os.waitpid(setup, 0)
        if not reply.isdigit():
            self.send({"forked": None, "why": reply or "the set-up process died"})
            return
        self.child = int(reply)
        self.send({"forked": self.child})
        self._reap()      # it may already have ended


def main(argv):
    fd = int(argv[argv.index("--control-fd") + 1])
    Template(fd, namespaced="--no-namespaces" not in argv).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
