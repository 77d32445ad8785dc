"""Nothing one student does may reach another student's grade, code or grading run (issue 9).

The cross-student zoo (tests/zoo.py, CROSS) is graded as one class by the real command with
one worker, so every honest student runs on the worker right after an attacker. A probe
notebook, graded right after a notebook that plants files, a secret in memory and a locked
/tmp, reports from inside the sandbox what it can see.
"""
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import types
import zipfile

import numpy as np
import pytest

from autograder import isolation
from autograder.sandbox import wire
from conftest import ROOT, read_csv, run_grade
from zoo import CROSS, MARKER, PROBE_AFTER, probe_student, write_cross_zoo

OPTIONS = ("--workers", "1", "--cell-timeout", "5", "--notebook-timeout", "30")


def _folder(name, k):
    return name if CROSS[name].exact else f"{k:02d}-a-{name}"


FOLDERS = {name: _folder(name, k) for k, name in enumerate(CROSS, start=1)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cross")
    expected = write_cross_zoo(tmp / "submitted")
    proc = run_grade(tmp / "submitted", tmp / "ws", *OPTIONS)
    rows = {r["student_id"]: r for r in read_csv(tmp / "ws" / "grades.csv")}
    rerun = run_grade(tmp / "submitted", tmp / "ws", *OPTIONS)
    fresh = run_grade(tmp / "submitted", tmp / "ws2", *OPTIONS)
    return types.SimpleNamespace(
        tmp=tmp, ws=tmp / "ws", expected=expected, rows=rows, stdout=proc.stdout,
        rerun_stdout=rerun.stdout,
        rerun_rows={r["student_id"]: r for r in read_csv(tmp / "ws" / "grades.csv")},
        fresh_rows={r["student_id"]: r for r in read_csv(tmp / "ws2" / "grades.csv")})


def _result(graded, student):
    return json.loads((graded.ws / "results" / student / "01-softmax.json").read_text())


def _feedback(graded, student):
    return (graded.ws / "feedback" / student / "01-softmax" / "01-softmax.html").read_text()


def test_the_class_finishes_and_every_gradable_student_has_a_row(graded):
    gradable = {s for s, e in graded.expected.items() if e is not None}
    assert set(graded.rows) == {f"'{s}" if s.startswith("=") else s for s in gradable}


@pytest.mark.parametrize("name", list(CROSS))
def test_the_honest_student_after_each_attack_gets_full_marks(graded, name):
    """Is the student graded next on the same worker untouched by the attack before?"""
    k = list(CROSS).index(name) + 1
    honest = probe_student() if name == PROBE_AFTER else f"{k:02d}-b-honest"
    row = graded.rows[honest]
    assert row["status"] == "graded" and float(row["score"]) == float(row["max_score"]), row


@pytest.mark.parametrize("name", [n for n in CROSS if CROSS[n].expected is not None])
def test_each_attacker_earns_only_its_own_score(graded, name):
    folder = FOLDERS[name]
    row = graded.rows[f"'{folder}" if folder.startswith("=") else folder]
    want = 0.0 if CROSS[name].expected == "zero" else float(row["max_score"])
    assert float(row["score"]) == want, row


def test_a_rerun_gives_the_same_grades(graded):
    """Same workspace (nothing regraded) and a fresh one (everything regraded)."""
    assert "0 graded now" in graded.rerun_stdout, graded.rerun_stdout
    for rows in (graded.rerun_rows, graded.fresh_rows):
        assert {s: (r["score"], r["status"]) for s, r in rows.items()} == \
               {s: (r["score"], r["status"]) for s, r in graded.rows.items()}


def test_the_probe_finds_a_fresh_environment(graded):
    """Inside the sandbox, after a notebook that planted files, a secret and a locked /tmp:
    only the scratch tmpfs (/tmp and /dev/shm, size-capped) is writable, it starts empty, no
    file of the previous notebook exists anywhere, and its secret is nowhere in memory."""
    output = _result(graded, probe_student())["output"]
    report = json.loads(output.split("PROBE ", 1)[1].splitlines()[0])
    assert sorted(report["rw_mounts"]) == ["/dev/shm", "/tmp"], report
    assert report["scratch"] == {"/tmp": ["tmpfs", True], "/dev/shm": ["tmpfs", True]}, report
    assert report["scratch_listing"] == {"/tmp": [], "/dev/shm": []}, report
    assert report["tmp_mode"] == "0o700", report            # the planter left it at 0555
    assert report["planted_files"] == [] and report["writable_outside_scratch"] == [], report
    assert report["secrets_in_memory"] == 0, report
    # The detector works: the planter sees its own secret in its own memory.
    planter = _result(graded, FOLDERS[PROBE_AFTER])["output"]
    assert int(planter.split("secrets in my memory:")[1].split()[0]) > 0, planter


def test_an_earlier_students_code_is_not_in_memory(graded):
    folder = FOLDERS["reads-an-earlier-students-memory"]
    assert _result(graded, folder)["output"].startswith("stolen: 0"), _result(graded, folder)["output"]
    assert not re.search(MARKER + "[0-9a-f]{8}", _feedback(graded, folder))


def test_hidden_inputs_do_not_reach_the_feedback_page(graded):
    folder = FOLDERS["prints-hidden-inputs"]
    result, page = _result(graded, folder), _feedback(graded, folder)
    assert "hidden inputs in memory during the cells: 0" in result["output"], result["output"]
    assert "HIDDEN-INPUT" not in result["output"] and "LATE-PRINT" not in result["output"]
    assert "HIDDEN-INPUT: array" not in page
    # The detector works: during the cases the input is in memory (and said so in an error).
    during = [d["problem"] for t in result["tests"] for d in t["diagnoses"]
              if "during the cases" in d["problem"]]
    assert during and int(during[0].rsplit(":", 1)[1]) > 0, during


def test_links_devices_and_unparseable_files_are_reported_in_words(graded):
    notes = {name: graded.rows[FOLDERS[name]]["notes"] for name in CROSS
             if CROSS[name].expected is not None and not CROSS[name].exact}
    for name in ("links-to-the-solution", "links-to-a-classmate", "links-to-proc-self-mem"):
        assert "is a symbolic link" in notes[name] and "not followed" in notes[name]
        assert graded.rows[FOLDERS[name]]["status"] == "unreadable"
    assert "assignment folder is a symbolic link" in notes["links-its-assignment-folder"]
    assert "pipe" in notes["is-a-fifo"] and "device" in notes["is-a-device"]
    assert "integer too long" in notes["a-5000-digit-integer"]
    assert "nests brackets" in notes["200000-nested-brackets"]
    assert "the student folder is a symbolic link" in graded.stdout


def test_a_notebook_saved_under_another_name_is_graded_with_a_note(graded):
    """Issue 10: `01-softmax (1).ipynb` alone, or among others; a link is never picked."""
    one = graded.rows[FOLDERS["saved-by-a-browser"]]["notes"]
    assert "graded `01-softmax (1).ipynb`" in one and "only notebook" in one, one
    several = graded.rows[FOLDERS["several-renamed-notebooks"]]["notes"]
    assert "graded `01-softmax (2).ipynb`" in several, several
    assert "3 notebooks" in several and "`Untitled.ipynb`" in several and "zz-link" not in several


def test_forged_frames_crash_only_their_author(graded):
    for name in ("forges-result-frames", "forges-malformed-frames"):
        row = graded.rows[FOLDERS[name]]
        assert row["status"] == "crashed" and "did not ask for" in row["notes"], row


def test_names_that_cannot_be_ids_are_reported_escaped(graded):
    out = graded.stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "name-\\x1b]0;owned\\x07\\x1b[2J: not graded, its name contains control characters" in out
    assert "name-not-utf8-\\xe9: not graded, its name is not valid UTF-8" in out
    assert "is 130 characters long; the gradebook stores at most 128" in out


def _plain_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_no_csv_cell_is_a_formula(graded):
    """grades.csv, tests.csv and the report's CSVs: a formula-like cell is quoted as text."""
    subprocess.run([sys.executable, "-m", "autograder", "report", "--workspace", str(graded.ws),
                    "--format", "csv"], cwd=ROOT, check=True, capture_output=True)
    files = [graded.ws / "grades.csv", graded.ws / "tests.csv",
             *sorted((graded.ws / "report").glob("*.csv"))]
    seen_formula_text = 0
    for path in files:
        for row in read_csv(path):
            for value in row.values():
                value = value or ""
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")) or _plain_number(value), \
                    (path.name, value)
                seen_formula_text += value.startswith("'=")
    assert "'=2+5" in graded.rows and seen_formula_text >= 1


# ---------------------------------------------------------------------------- the parts

def test_the_channel_back_refuses_oversize_and_inflated_frames():
    reader = wire.FrameReader(1000)
    with pytest.raises(wire.WireError):
        reader.feed(struct.pack(">Q", 10**6))
    # An npz whose array header claims a billion elements, carried by 16 bytes.
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(16)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        zf.writestr("a0.npy", npy)
    head = json.dumps({"$array": "a0"}).encode()
    frame = struct.pack(">II", len(head), len(blob.getvalue())) + head + blob.getvalue()
    with pytest.raises(wire.WireError, match="larger than its data"):
        wire.loads(frame)
    good = wire.dumps({"x": np.arange(3.0)})
    assert np.array_equal(wire.loads(good)["x"], np.arange(3.0))


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are made only as root")
def test_this_host_enforces_memory_processes_and_cpu():
    limits = isolation.Limits(processes=33, cpus=1.0)
    cgroup = isolation.Cgroup(limits)
    try:
        assert sorted(cgroup.enforced) == ["cpu", "memory", "pids"], cgroup.missing
        values = {p.parent.name + "/" + p.name: p.read_text().strip()
                  for d in cgroup.dirs for p in d.iterdir()
                  if p.name in ("pids.max", "cpu.cfs_quota_us", "cpu.max", "memory.max")}
        assert "33" in values.values() and ("100000" in values.values()
                                            or "100000 100000" in values.values()), values
    finally:
        cgroup.remove()


def test_cgroup_v2_delegates_controllers_and_writes_limits(tmp_path, monkeypatch):
    """The v2 path on a v2-shaped folder: controllers enabled in the parent, limits written."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made only as root")
    parent = tmp_path / "user.slice"
    parent.mkdir()
    (parent / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (parent / "cgroup.subtree_control").write_text("\n")
    (parent / "cgroup.procs").write_text("")
    monkeypatch.setattr(isolation, "_cgroup_mounts", lambda: ({}, tmp_path))
    monkeypatch.setattr(isolation, "_own_cgroups", lambda: {"": "user.slice"})
    limits = isolation.Limits(processes=21, memory_bytes=2**30, cpus=0.5)
    cgroup = isolation.Cgroup(limits)
    assert sorted(cgroup.enforced) == ["cpu", "memory", "pids"] and not cgroup.missing
    (made,) = cgroup.dirs
    assert (parent / "cgroup.subtree_control").read_text().split() == ["+memory", "+pids", "+cpu"]
    assert (made / "pids.max").read_text() == "21"
    assert (made / "cpu.max").read_text() == "50000 100000"
    assert (made / "memory.max").read_text() == str(2**30 + 512 * 2**20)


def test_the_summary_warns_when_a_limit_cannot_be_enforced(tmp_path, monkeypatch):
    """The real grader on a host without cgroups: it grades, and the summary says what is missing."""
    from autograder import classgen, grade
    classgen.write_class(tmp_path / "sub", [("s1", "01-softmax", {})])
    monkeypatch.setattr(isolation, "_cgroup_mounts", lambda: ({}, None))
    summary = grade.grade_class(tmp_path / "sub", tmp_path / "ws", workers=1)
    (result,) = summary["results"]
    assert result["score"] == result["max_score"], (result["status"], result["notes"], result["cell_errors"])
    missing = [w for w in summary["warnings"] if w.startswith("not enforced on this host")]
    assert len(missing) == 3, summary["warnings"]


def test_a_limit_that_cannot_be_enforced_is_a_warning(monkeypatch):
    monkeypatch.setattr(isolation, "_cgroup_mounts", lambda: ({"memory": ROOT / "nonexistent"}, None))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cgroup = isolation.Cgroup(isolation.Limits())
    assert not cgroup.enforced and set(cgroup.missing) == {"memory", "pids", "cpu"}
    words = isolation.limit_warnings(cgroup.missing)
    assert any(w.startswith("not enforced on this host: the CPU a worker may use") for w in words)


def _descendants(root):
    """{pid: (depth, cmdline)} of every process under `root`, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier, depth = {}, [root], 0
    while frontier:
        depth += 1
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        for pid in frontier:
            try:
                found[pid] = (depth, open(f"/proc/{pid}/cmdline", "rb").read())
            except OSError:
                pass
    return found


def test_a_failure_of_the_graders_own_making_is_graded_again(tmp_path):
    """The worker is killed from outside while a notebook runs: that notebook is "crashed"
    with a note, the others are graded, and the next run grades it again (not kept)."""
    from autograder import classgen
    slow = classgen.solution_code("01-softmax")["softmax"] + "\nimport time\ntime.sleep(6)\n"
    classgen.write_class(tmp_path / "sub", [("a-slow", "01-softmax", {"softmax": slow}),
                                            ("b-next", "01-softmax", {})])
    command = [sys.executable, "-m", "autograder", "grade", str(tmp_path / "sub"),
               "--workspace", str(tmp_path / "ws"), "--workers", "1", "--cell-timeout", "30"]
    grader = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    template = None
    for _ in range(600):
        runners = sorted((depth, pid) for pid, (depth, cmd) in _descendants(grader.pid).items()
                         if b"sandbox.runner" in cmd and b"python" in cmd.split(b"\0")[0])
        namespaces = {}
        for _, pid in runners:
            try:
                namespaces[pid] = os.readlink(f"/proc/{pid}/ns/pid")
            except OSError:
                pass
        # A notebook runs once a process under the template is in a PID namespace of its own.
        if runners and runners[0][1] in namespaces and any(
                ns != namespaces[runners[0][1]] for ns in namespaces.values()):
            template = runners[0][1]
            break
        time.sleep(0.05)
    assert template is not None, "the worker never started a notebook"
    time.sleep(1.0)
    os.kill(template, signal.SIGKILL)
    out, _ = grader.communicate(timeout=300)
    assert grader.returncode == 0, out
    rows = {r["student_id"]: r for r in read_csv(tmp_path / "ws" / "grades.csv")}
    assert rows["a-slow"]["status"] == "crashed", rows
    assert "graded again on the next run" in rows["a-slow"]["notes"], rows
    assert float(rows["b-next"]["score"]) == float(rows["b-next"]["max_score"])
    again = run_grade(tmp_path / "sub", tmp_path / "ws", "--workers", "1", "--cell-timeout", "30")
    assert "1 graded now" in again.stdout, again.stdout
    rows = {r["student_id"]: r for r in read_csv(tmp_path / "ws" / "grades.csv")}
    assert rows["a-slow"]["status"] == "graded"
    assert float(rows["a-slow"]["score"]) == float(rows["a-slow"]["max_score"]), rows
