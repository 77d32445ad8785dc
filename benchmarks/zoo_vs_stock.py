"""The zoo against both graders: which hostile or broken submissions each one resists.

    cd /work/main && PYTHONPATH=.:tests .venv/bin/python benchmarks/zoo_vs_stock.py

Writes the zoo (tests/zoo.py `write_zoo`: every entry of ZOO, the broken files and the
honest students around them) into a temporary folder and grades it three times:

- OURS: `grade_class`, sandboxed, default limits, the whole zoo in one run;
- STOCK nbgrader in class: `nbgrader autograde` on the whole zoo in one batch, nbgrader's
  default 30 s cell timeout (benchmarks/stock.py): what an instructor would get;
- STOCK nbgrader alone: each submission in a batch of its own, from a fresh gradebook and
  fresh overlays: what stock nbgrader does with that submission, free of what the others did
  (in class, one submission can ruin the ones graded after it; alone shows each attack's own
  effect).

For each zoo entry it prints the expected score and each run's score, and whether each
resisted it:

    resisted = the submission was graded (the run went on past it), its score is the expected
               one (a cheat earns nothing beyond its honest functions, a fault costs only its
               author), and the benchmark did not have to step in (a fork bomb under stock).

Then: whether the honest students got their right scores (contamination of other students;
for stock in class, the score when graded and the one left in the gradebook at the end),
whether each run finished, whether a process was left running (stock: processes still
carrying the run's token after a batch; ours: new `sleep 600` processes, and cgroups our
grader created and did not remove), and whether files outside the workspace changed
(README.md, /tmp/planted-by-student, the planted IPython startup files, any file written
'pwned' during the run). Summary line: attacks resisted by each, out of the total.

This is a report, not a test (tests/test_hostile.py is the test): it exits 0 whatever the
graders did, and 1 only when OUR grader raised instead of finishing.

Stock nbgrader runs the hostile code unsandboxed, as root, on this machine. The machine is
protected (benchmarks/stock.py): the stock batches run in a private mount namespace where
the repository, /tmp and $HOME are overlays (the writes are seen, in the shadow, and
reported; the real files are not touched), their processes are found by a token in their
environment and a pids cgroup and killed by pid, a fork bomb is stopped at 128 processes, and
a memory cap (RLIMIT_AS, --stock-memory-gib) turns a memory bomb into a MemoryError. Whatever
happens, README.md is compared with a snapshot after each run and restored if a submission
overwrote it (only then: other sessions may be editing it at the same time), the other
watched files are removed if a submission created them, and new `sleep 600` processes are
killed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import stock  # noqa: E402
from autograder.grade import grade_class  # noqa: E402
from autograder.isolation import Limits  # noqa: E402

README = ROOT / "README.md"
PLANTED = Path("/tmp/planted-by-student")
LEFTOVER_PATTERN = "sleep 600"


def sleepers():
    """{pid: command line} of the processes matching LEFTOVER_PATTERN."""
    proc = subprocess.run(["pgrep", "-a", "-f", LEFTOVER_PATTERN], capture_output=True, text=True)
    out = {}
    for line in proc.stdout.splitlines():
        pid, _, cmd = line.partition(" ")
        if pid.isdigit() and int(pid) != os.getpid():
            out[int(pid)] = cmd
    return out


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, 9)
        except (ProcessLookupError, PermissionError):
            pass


WATCHED = [README, PLANTED, Path("/tmp/sitecustomize.py"), Path("/tmp/00-evil.py"),
           Path(os.path.expanduser("~/.ipython/profile_default/startup/00-evil.py")),
           Path(os.path.expanduser("~/.ipython/profile_default/startup/sitecustomize.py"))]
SCAN = [ROOT, Path("/tmp"), Path(os.path.expanduser("~/.ipython"))]
SKIP = {".venv", "node_modules", ".git", "_build", "__pycache__", ".pytest_cache"}


def _state(path):
    try:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def _zoo_wrote(data):
    """Whether `data` is what the zoo's entries write outside (tests/zoo.py)."""
    return data.startswith(b"pwned") or data.startswith(b"import numpy\nnumpy.exp")


def pwned_since(start, skip_under):
    """Files under SCAN changed since `start` (epoch seconds) that hold the zoo's 'pwned'."""
    found = []
    for top in SCAN:
        for folder, dirs, files in os.walk(top):
            here = Path(folder)
            dirs[:] = [d for d in dirs if d not in SKIP and
                       not any(here / d == s or s in (here / d).parents for s in skip_under)]
            for name in files:
                path = here / name
                try:
                    if path.stat().st_mtime < start or path.stat().st_size > 64:
                        continue
                    if path.read_bytes().startswith(b"pwned"):
                        found.append(path)
                except OSError:
                    pass
            if top == Path("/tmp"):
                dirs[:] = []          # /tmp: its top level only
    return found


class Guard:
    """Snapshots of what the zoo attacks outside the workspace, checked after each grader."""

    def __init__(self, skip_under=()):
        self.start = time.time()
        self.skip_under = [Path(p) for p in skip_under]
        self.readme = README.read_bytes()
        self.states = {path: _state(path) for path in WATCHED}
        self.sleepers = set(sleepers())

    def check_and_repair(self):
        """[what changed outside], [leftover processes]; puts things back as they were."""
        changed = []
        now = README.read_bytes()
        if now != self.readme:
            # Only what the zoo writes is put back: other sessions may be editing README.md
            # at the same time, and their edits must not be reverted.
            if _zoo_wrote(now):
                changed.append(f"{README} (overwritten by a submission; restored from the "
                               "snapshot)")
                README.write_bytes(self.readme)
            else:
                changed.append(f"{README} (changed during the run, but not with what the zoo "
                               "writes: someone else's edit? left as it is)")
        for path, before in self.states.items():
            if path == README:
                continue
            state = _state(path)
            if state is not None and state != before:
                try:
                    ours = _zoo_wrote(path.read_bytes())
                except OSError:
                    ours = False
                if before is None and ours:
                    changed.append(f"{path} (created by a submission; removed)")
                    try:
                        path.unlink()
                    except OSError:
                        pass
                else:
                    changed.append(f"{path} ({'created' if before is None else 'modified'} "
                                   "during the run; left as it is)")
        for path in pwned_since(self.start, self.skip_under):
            if not any(str(path) in c for c in changed):
                changed.append(f"{path} (holds 'pwned', written during the run)")
        new = {pid: cmd for pid, cmd in sleepers().items() if pid not in self.sleepers}
        kill_pids(new)
        return changed, [f"{pid} {cmd}" for pid, cmd in sorted(new.items())]


class CgroupRecorder:
    """Records the cgroups our grader creates in this process (autograder.isolation.Cgroup),
    to check afterwards that none is left behind. Only wraps the class, in this process."""

    def __enter__(self):
        from autograder import isolation
        self.cls, self.original, self.created = isolation.Cgroup, isolation.Cgroup.__init__, []
        recorder = self

        def init(cg, *a, **k):
            recorder.original(cg, *a, **k)
            recorder.created.extend(cg.dirs)
        self.cls.__init__ = init
        return self

    def __exit__(self, *exc):
        self.cls.__init__ = self.original

    def left(self):
        out = []
        for path in self.created:
            if path.exists():
                try:
                    procs = (path / "cgroup.procs").read_text().split()
                except OSError:
                    procs = []
                out.append(f"cgroup {path} left behind ({len(procs)} processes in it)")
        return out


def zoo_slugs(folder):
    released = set(stock.released_slugs())
    found = {p.name for student in folder.iterdir() if student.is_dir()
             for p in student.iterdir() if p.is_dir()}
    return sorted(found & released), sorted(found - released)


def run_ours(submitted, workspace, slugs, workers):
    guard = Guard(skip_under=[submitted.parent])
    started = time.monotonic()
    with CgroupRecorder() as cgroups:
        try:
            summary = grade_class(submitted, workspace, workers=workers, limits=Limits(),
                                  isolate=True, slugs=slugs)
            error = None
        except Exception:
            summary, error = None, traceback.format_exc()
    seconds = time.monotonic() - started
    changed, left = guard.check_and_repair()
    left += cgroups.left()
    results = {}
    if summary:
        for r in summary["results"]:
            results[r["student_id"]] = r
    return {"results": results, "error": error, "seconds": seconds, "changed": changed,
            "left": left, "summary": summary}


def run_stock(submitted, slugs, timeout, memory_gib, alone):
    guard = Guard(skip_under=[submitted.parent])
    started = time.monotonic()
    try:
        run = stock.grade(submitted, slugs=slugs, cell_timeout=timeout, memory_gib=memory_gib,
                          protect=True, alone=alone,
                          progress=lambda t: print(t, file=sys.stderr))
        error = None
    except Exception:
        run, error = None, traceback.format_exc()
    seconds = time.monotonic() - started
    changed, left = guard.check_and_repair()
    if run is not None:
        for path, what in sorted(run.outside_writes.items()):
            changed.append(f"{path}: {what} (in the benchmark's overlay; the real file was "
                           "not touched)")
        tagged = {pid for pid, _, _ in run.leftover}
        left = [f"{pid} {cmd} (after {where})" for pid, cmd, where in run.leftover] + \
               [x for x in left if int(x.split()[0]) not in tagged]
    return {"run": run, "error": error, "seconds": seconds, "changed": changed, "left": left}


def fmt(score):
    return "-" if score is None else f"{score:g}"


def yes(flag):
    return "yes" if flag else "NO"


def describe(zoo, name):
    """(kind, attack) of a zoo entry, whatever form tests/zoo.py gives it."""
    entry = getattr(zoo, "ZOO", {}).get(name)
    kind = getattr(entry, "kind", None)
    attack = getattr(entry, "attack", None)
    return kind or "", attack or ""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stock-timeout", type=float, default=30,
                   help="stock nbgrader's cell timeout, seconds (nbgrader's default: 30)")
    p.add_argument("--stock-memory-gib", type=float, default=8,
                   help="address-space cap per stock process, GiB (0: none; careful)")
    p.add_argument("--workers", type=int, default=None, help="our grader's workers")
    p.add_argument("--skip-stock", action="store_true", help="grade with ours only")
    p.add_argument("--skip-stock-alone", action="store_true",
                   help="skip stock nbgrader's second run, each submission in a batch of its own")
    args = p.parse_args(argv)

    import zoo
    tmp = Path(tempfile.mkdtemp(prefix="zoo-vs-stock-"))
    ours = {"error": None}
    skipped = {"run": None, "error": "skipped", "seconds": 0.0, "changed": [], "left": []}
    try:
        submitted = tmp / "submitted"
        expected = zoo.write_zoo(submitted)
        slugs, unknown = zoo_slugs(submitted)
        honest_ids = getattr(zoo, "HONEST", None)
        honest = sorted(s for s in expected if (s in honest_ids if honest_ids is not None
                                                else s.startswith("honest")))
        entries = [s for s in getattr(zoo, "ZOO", {}) if s in expected and s not in honest]
        entries += sorted(s for s in expected if s not in honest and s not in entries)
        print(f"zoo: {len(entries)} entries and {len(honest)} honest students, "
              f"assignment(s) {', '.join(slugs)}" +
              (f" (not released, skipped: {', '.join(unknown)})" if unknown else ""))
        sys.stdout.flush()

        ours = run_ours(submitted, tmp / "ours", slugs, args.workers)
        print(f"ours: {ours['seconds']:.1f} s", file=sys.stderr)
        klass = alone = skipped
        if not args.skip_stock:
            klass = run_stock(submitted, slugs, args.stock_timeout, args.stock_memory_gib, False)
            if not args.skip_stock_alone:
                alone = run_stock(submitted, slugs, args.stock_timeout, args.stock_memory_gib,
                                  True)
        report(zoo, expected, entries, honest, ours, klass, alone, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        still = sleepers()
        if still:
            print(f"note: '{LEFTOVER_PATTERN}' processes running at exit, not started during "
                  f"this run and left alone: {sorted(still)}")
    return 1 if ours["error"] else 0


def report(zoo, expected, entries, honest, ours, klass, alone, args):
    slug_of = {}
    for student in expected:
        if student in ours["results"]:
            slug_of[student] = ours["results"][student]["assignment"]
    for side in (klass, alone):
        if side["run"] is not None:
            for student, slug in side["run"].scores:
                slug_of.setdefault(student, slug)
    bad = ("not reached", "interrupted", "not run", "not graded")

    def ours_row(student):
        r = ours["results"].get(student)
        return (None, "not graded") if r is None else (float(r["score"]), r["status"])

    def stock_row(side, student, final=False):
        run = side["run"]
        if run is None:
            return None, "not run", False
        key = (student, slug_of.get(student))
        scores = run.final_scores if final else run.scores
        bombed = any((s, g) == key for s, g, _ in run.interventions)
        return scores.get(key), run.status.get(key, "not graded"), bombed

    def resisted(score, status, exp, intervened=False):
        return (not intervened and score is not None and abs(score - exp) < 1e-9
                and status not in bad)

    def mark(ok, ran=True):
        return ("yes" if ok else "NO") if ran else "-"

    have_alone, have_class = alone["run"] is not None, klass["run"] is not None
    width = max(len(e) for e in entries + honest) + 1
    print()
    print("scores: expected (a sound grader), stock nbgrader with each submission alone in its "
          "batch, stock nbgrader grading the whole zoo in one batch (what an instructor gets), "
          "ours (one run, the whole zoo)")
    head = (f"{'entry':{width}} {'kind':5} {'expected':>8} {'stock:alone':>11} {'in class':>8} "
            f"{'ours':>5} | resisted: {'stock:alone':11} {'in class':8} {'ours':4} | "
            "status: stock alone / in class / ours")
    print(head)
    print("-" * len(head))
    tally = {"alone": 0, "class": 0, "ours": 0}
    lost = {"alone": [], "class": [], "ours": []}
    why = []
    for student in entries:
        exp = expected[student]
        kind, _ = describe(zoo, student)
        a_score, a_status, a_bomb = stock_row(alone, student)
        c_score, c_status, c_bomb = stock_row(klass, student)
        o_score, o_status = ours_row(student)
        oks = {"alone": resisted(a_score, a_status, exp, a_bomb),
               "class": resisted(c_score, c_status, exp, c_bomb),
               "ours": resisted(o_score, o_status, exp)}
        for name, ok in oks.items():
            tally[name] += ok
            if not ok:
                lost[name].append(student)
        a_status += " (benchmark stopped it)" if a_bomb else ""
        c_status += " (benchmark stopped it)" if c_bomb else ""
        print(f"{student:{width}} {kind:5} {exp:8g} {fmt(a_score):>11} {fmt(c_score):>8} "
              f"{fmt(o_score):>5} | {'':9} {mark(oks['alone'], have_alone):11} "
              f"{mark(oks['class'], have_class):8} {mark(oks['ours']):4} | "
              f"{a_status} / {c_status} / {o_status}")
        key = (student, slug_of.get(student))
        for label, side in (("stock alone", alone), ("stock in class", klass)):
            run = side["run"]
            if run is None:
                continue
            if key in run.reasons:
                why.append(f"  {student}, {label}: {run.reasons[key]}")
            for s, g, what in run.interventions:
                if (s, g) == key:
                    why.append(f"  {student}, {label}: {what}")
        r = ours["results"].get(student)
        if r and (r["notes"] or not oks["ours"] or r["status"] != "graded"):
            note = " | ".join(r["notes"])[:300]
            if not oks["ours"]:
                first = [f"{t['test']}: {d['problem']}" for t in r["tests"] if not t["passed"]
                         for d in t["diagnoses"][:1]]
                note = (note + " | " if note else "") + "; ".join(first)[:400]
            why.append(f"  {student}, ours: {note or r['status']}")

    print()
    print("honest students beside the zoo: right score at the end of the run? (stock in class: "
          "score when graded -> score left in the gradebook at the end)")
    honest_ok = {"alone": True, "class": True, "ours": True}
    for student in honest:
        exp = expected[student]
        a_score, a_status, _ = stock_row(alone, student, final=True)
        c_then, c_status, _ = stock_row(klass, student)
        c_score, _, _ = stock_row(klass, student, final=True)
        o_score, o_status = ours_row(student)
        oks = {"alone": resisted(a_score, a_status, exp), "class": resisted(c_score, c_status, exp),
               "ours": resisted(o_score, o_status, exp)}
        for name, ok in oks.items():
            honest_ok[name] &= ok
        print(f"{student:{width}} {'':5} {exp:8g} {fmt(a_score):>11} "
              f"{(fmt(c_then) + '->' + fmt(c_score)) if have_class else '-':>8} {fmt(o_score):>5} | {'':9} "
              f"{mark(oks['alone'], have_alone):11} {mark(oks['class'], have_class):8} "
              f"{mark(oks['ours']):4} | {a_status} / {c_status} / {o_status}")
    if have_class:
        run = klass["run"]
        if run.gradebook == "readable":
            changed_later = [s for s in entries if run.scores.get((s, slug_of.get(s))) !=
                             run.final_scores.get((s, slug_of.get(s)))]
            if changed_later:
                print(f"stock in class: the gradebook scores of {', '.join(changed_later)} "
                      "changed after they were graded")
        else:
            print(f"stock in class: the gradebook is {run.gradebook}: every grade of the run "
                  "is lost to the instructor")
    if why:
        print()
        print("why (stock: nbgrader's error or the benchmark's intervention; ours: status, "
              "notes and the first lost test):")
        for line in why:
            print(line)

    print()
    for label, side in (("stock alone", alone), ("stock in class", klass)):
        run = side["run"]
        if run is None:
            print(f"run finished, {label}: not run ({side['error'].strip().splitlines()[-1][:150]})")
            continue
        unclean = sum(1 for st in run.status.values() if st != "graded")
        timed = sum(1 for b in run.batches if b.timed_out)
        exits = sorted({b.returncode for b in run.batches}, key=str)
        print(f"run finished, {label}: {'yes' if run.finished else 'NO'} ({len(run.batches)} "
              f"batch(es), exit {', '.join(map(str, exits))}, {timed} killed at the time limit, "
              f"{run.seconds:.0f} s; {unclean} submission(s) not graded cleanly; gradebook "
              f"{run.gradebook})")
    if ours["error"]:
        print(f"run finished, ours: NO: {ours['error'].strip().splitlines()[-1][:150]}")
    else:
        c = ours["summary"]["counts"]
        print(f"run finished, ours: yes ({ours['seconds']:.0f} s; " +
              ", ".join(f"{v} {k}" for k, v in c.items() if v) + ")")
    print(f"honest students right: stock alone {mark(honest_ok['alone'], have_alone)}, "
          f"stock in class {mark(honest_ok['class'], have_class)}, ours {mark(honest_ok['ours'])}")
    for label, side in (("stock alone", alone), ("stock in class", klass), ("ours", ours)):
        print(f"processes left running, {label}: {len(side['left'])}")
        for item in side["left"][:10]:
            print(f"  {item}" + ("" if item.startswith("cgroup") else " (killed)"))
        if len(side["left"]) > 10:
            print(f"  ... {len(side['left']) - 10} more")
    for label, side in (("stock alone", alone), ("stock in class", klass), ("ours", ours)):
        print(f"files outside the workspace changed, {label}: {len(side['changed'])}")
        for item in side["changed"]:
            print(f"  {item}")
    for label, side in (("stock alone", alone), ("stock in class", klass)):
        if side["run"] is not None:
            for note in side["run"].notes:
                print(f"{label} note: {note}")
    if have_class:
        print(f"stock set-up: nbgrader's {args.stock_timeout:g} s cell timeout; memory cap "
              f"{args.stock_memory_gib:g} GiB per process (RLIMIT_AS); fork bombs stopped at "
              f"128 processes; protection: {klass['run'].protected}")
    print(f"ours: {Limits()}")
    print()
    n = len(entries)
    print(f"attacks resisted: ours {tally['ours']}/{n}; stock nbgrader "
          f"{tally['alone'] if have_alone else '-'}/{n} with each submission alone, "
          f"{tally['class'] if have_class else '-'}/{n} grading the zoo as one class")
    if lost["ours"]:
        print(f"NOT resisted by ours: {', '.join(lost['ours'])}")
    if have_alone:
        print(f"not resisted by stock nbgrader (alone): {', '.join(lost['alone']) or 'none'}")
    if have_class:
        print(f"not resisted by stock nbgrader (in class): {', '.join(lost['class']) or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
