"""Grading at scale: a Dask cluster on loopback, and a PostgreSQL gradebook."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import classgen, release
from autograder.notebook import ROOT
from conftest import read_csv, run_grade

BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """Two students per assignment for every variant: a mix with known scores."""
    tmp = tmp_path_factory.mktemp("scale")
    plan, expected = [], {}
    for slug in release.slugs():
        for name, cells, score in classgen.variants(slug)[:6]:
            plan.append((name, slug, cells))
            expected[(name, slug)] = score
    classgen.write_class(tmp / "submitted", plan)
    return tmp, expected


def grade(submitted, workspace, *extra):
    run_grade(submitted, workspace, *extra)
    return {(r["student_id"], r["assignment"]): float(r["score"])
            for r in read_csv(Path(workspace) / "grades.csv")}


@pytest.fixture(scope="module")
def local_grades(small_class):
    tmp, expected = small_class
    grades = grade(tmp / "submitted", tmp / "local", "--workers", "2")
    assert grades == expected
    return grades


def start_cluster(tmp_path, workers=2, worker_cwd=ROOT, worker_env=None):
    """A real scheduler (writing a scheduler file) and worker processes on loopback."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard", "--scheduler-file",
                               str(tmp_path / "scheduler.json")], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_for_port(port)
    for i in range(workers):
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", f"tcp://127.0.0.1:{port}",
                                       "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                       "--local-directory", str(tmp_path / f"w{i}")],
                                      cwd=worker_cwd, env=worker_env or env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client
    with Client(f"tcp://127.0.0.1:{port}", timeout="30s") as client:
        client.wait_for_workers(workers, timeout=60)
    return f"tcp://127.0.0.1:{port}", procs


def stop_cluster(procs):
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two worker processes on loopback, started from the repository."""
    address, procs = start_cluster(tmp_path)
    yield address
    stop_cluster(procs)


def test_a_dask_cluster_gives_the_same_grades(small_class, local_grades, dask_cluster):
    """Does grading through a scheduler and two workers give the local run's grades?"""
    tmp, _ = small_class
    assert grade(tmp / "submitted", tmp / "dask", "--scheduler", dask_cluster) == local_grades


POISON = """
import dataclasses
from autograder import grade, notebook
for slug in {slugs!r}:
    a = notebook.load_assignment(slug)
    a.tests[0] = dataclasses.replace(a.tests[0], points=a.tests[0].points + 1)
    grade._plans[slug] = a
"""


def test_a_worker_with_an_old_plan_cannot_give_stale_grades(small_class, local_grades,
                                                            dask_cluster, tmp_path):
    """A long-running worker caches a plan that gives the first test one more point (as if
    solutions/ had changed since): does the grade still equal the local run's, through the
    scheduler file?"""
    tmp, _ = small_class
    from distributed import Client
    from autograder.grade import plan_hash
    from autograder.notebook import load_assignment
    slugs = sorted({slug for _, slug in local_grades})
    with Client(dask_cluster, timeout="30s") as client:
        client.run(exec, POISON.format(slugs=slugs))
        cached = client.run(eval, "{s: __import__('autograder.grade').grade.plan_hash("
                                  "__import__('autograder.grade').grade._plans[s]) for s in "
                                  f"{slugs!r}}}")
    for plans in cached.values():         # the poison took: every worker holds another plan
        assert all(plans[s] != plan_hash(load_assignment(s)) for s in slugs)
    scheduler_file = dask_cluster and Path(tmp_path) / "scheduler.json"
    assert grade(tmp / "submitted", tmp / "dask-stale", "--scheduler-file",
                 str(scheduler_file)) == local_grades


def test_workers_that_cannot_import_the_course_are_a_clear_error(small_class, tmp_path):
    """A worker started outside the course checkout: exit 2 naming it, not a hang."""
    tmp, _ = small_class
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    address, procs = start_cluster(tmp_path, workers=1, worker_cwd=tmp_path, worker_env=env)
    try:
        proc = run_grade(tmp / "submitted", tmp / "no-course", "--scheduler", address,
                         check=False, timeout=300)
    finally:
        stop_cluster(procs)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot import the course" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unreachable_scheduler_is_a_clear_error(small_class):
    tmp, _ = small_class
    proc = run_grade(tmp / "submitted", tmp / "nowhere", "--scheduler",
                     f"tcp://127.0.0.1:{free_port()}", check=False, timeout=120)
    assert proc.returncode == 2 and "Dask scheduler" in proc.stderr


@pytest.fixture
def postgres():
    """A real PostgreSQL server (Debian's package) on loopback, run as the postgres user."""
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bindirs, "PostgreSQL is not installed (make sysdeps installs Debian's postgresql)"
    bindir = Path(bindirs[-1])
    # PostgreSQL refuses to run as root: as root, run it as the postgres user, in a folder it owns.
    home = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    as_postgres = []
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()

    def run(*cmd):
        proc = subprocess.run(as_postgres + [str(bindir / cmd[0]), *cmd[1:]],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stdout}{proc.stderr}"

    run("initdb", "-D", str(data), "--auth=trust", "-U", "postgres")
    run("pg_ctl", "-D", str(data), "-w", "-l", str(home / "log"), "-o",
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start")
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
    shutil.rmtree(home, ignore_errors=True)


def test_a_postgresql_gradebook_holds_the_grades(small_class, local_grades, postgres):
    """Does --db put the gradebook in PostgreSQL, with the same grades?"""
    tmp, _ = small_class
    assert grade(tmp / "submitted", tmp / "pg", "--db", postgres) == local_grades
    from autograder.gradebook import open_gradebook
    with open_gradebook(postgres) as gb:
        for (student, slug), score in local_grades.items():
            sub = gb.find_submission(slug, student)
            manual = sum(c.max_score for c in gb.find_notebook(slug, slug).grade_cells
                         if c.cell_type == "markdown")
            assert sub.score == pytest.approx(score), (student, slug)
            assert sub.max_score - manual > 0
    assert not (tmp / "pg" / "gradebook.db").exists()
