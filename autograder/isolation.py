"""The trusted side's handle on one sandboxed worker.

A worker is `python -m sandbox.runner` started once under bubblewrap: no network, its own
PID, IPC and user namespaces, a read-only view of the Python installation and of
`autograder/sandbox/` only (never the reference code, the solutions, the workspace or the
submissions), and a private tmpfs as its only writable place. As root it also gets a cgroup
that caps its processes and its memory as a whole. The worker forks a fresh child for every
submission (see runner.py), so start-up is paid once per worker.

If the worker stops answering (a submission stopped or killed it), the whole sandbox is
killed and a new one started; that submission is reported as crashed, nobody else is
affected.
"""
import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from .sandbox import wire

SANDBOX_PACKAGE = Path(__file__).resolve().parent / "sandbox"
CGROUP_ROOT = Path("/sys/fs/cgroup")


class SandboxUnavailable(RuntimeError):
    """The machine cannot provide the isolation asked for."""


@dataclasses.dataclass(frozen=True)
class Limits:
    cell_seconds: float = 10.0
    case_seconds: float = 10.0
    total_seconds: float = 60.0
    memory_bytes: int = 2 * 2**30
    file_bytes: int = 64 * 2**20
    tmpfs_bytes: int = 256 * 2**20
    processes: int = 64

    def for_job(self):
        return {"cell_seconds": self.cell_seconds, "case_seconds": self.case_seconds,
                "total_seconds": self.total_seconds, "memory_bytes": self.memory_bytes,
                "file_bytes": self.file_bytes}


def bwrap_command(limits):
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
           "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
           "--chdir", "/tmp", "--uid", "1000", "--gid", "1000",
           "/opt/venv/bin/python", "-m", "sandbox.runner", "--pid-namespace"]
    return cmd


def _own_cgroup(controller):
    """This process's cgroup folder for a v1 controller (so sandboxes stay inside its limits)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return CGROUP_ROOT / controller / path.lstrip("/")
    except (OSError, ValueError):
        pass
    return CGROUP_ROOT / controller


def _remove_stale(parent, min_age=120.0):
    """Remove empty autograder-* cgroups that a killed run left behind (not fresh ones)."""
    now = time.time()
    for path in parent.glob("autograder-*"):
        try:
            if now - path.stat().st_mtime > min_age and not (path / "cgroup.procs").read_text().strip():
                path.rmdir()
        except OSError:
            pass


class Cgroup:
    """A cgroup (v1 pids and memory controllers) that caps one worker, when we may make one.

    It is made inside the grader's own cgroup, so whatever limits the grader runs under also
    bound its sandboxes.
    """

    def __init__(self, limits):
        self.dirs = []
        if os.geteuid() != 0:
            return
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        settings = {"pids": {"pids.max": limits.processes},
                    "memory": {"memory.limit_in_bytes": limits.memory_bytes + 512 * 2**20}}
        try:
            for controller, values in settings.items():
                parent = _own_cgroup(controller)
                _remove_stale(parent)
                path = parent / name
                path.mkdir()
                self.dirs.append(path)
                for key, value in values.items():
                    (path / key).write_text(str(value))
        except OSError:
            self.remove()
            self.dirs = []

    def join(self):
        """Called in the worker's process before exec: move it into the cgroup."""
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


class Sandbox:
    """One worker process; `run(job)` returns the runner's result or a crash report."""

    def __init__(self, limits=Limits(), isolate=True):
        self.limits = limits
        self.isolate = isolate
        self.proc = None
        self.cgroup = None
        self.starts = 0

    def _start(self):
        if self.isolate:
            cmd = bwrap_command(self.limits)
            self.cgroup = Cgroup(self.limits)
            preexec = self.cgroup.join
        else:
            cmd = [sys.executable, "-m", "autograder.sandbox.runner"]
            preexec = None
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=preexec, start_new_session=True,
            cwd=str(SANDBOX_PACKAGE.parent.parent))
        self.starts += 1

    def run(self, job, timeout=None):
        """Send one job; wait at most `timeout` seconds (default: the notebook limit + slack)."""
        if self.proc is None or self.proc.poll() is not None:
            self._stop()
            self._start()
        job = dict(job, limits=self.limits.for_job())
        timeout = timeout or self.limits.total_seconds + 15
        try:
            wire.write_frame(self.proc.stdin, job)
            ready = select.select([self.proc.stdout], [], [], timeout)[0]
            if not ready:
                raise TimeoutError
            result = wire.read_frame(self.proc.stdout)
            if result is None:
                raise EOFError
            return result
        except TimeoutError:
            why = f"the sandbox stopped answering for {timeout:.0f} s"
        except (EOFError, BrokenPipeError, wire.WireError, ValueError) as exc:
            why = f"the sandbox worker died ({type(exc).__name__})"
        self._stop()
        return {"crashed": why}

    def _stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.cgroup is not None:
                self.cgroup.kill_all()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
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
