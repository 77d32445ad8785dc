"""The zoo against both graders: which hostile or broken submissions each one resists.

    cd /work/main && PYTHONPATH=.:tests .venv/bin/python benchmarks/zoo_vs_stock.py

Writes the zoo (tests/zoo.py `write_zoo`: every entry of ZOO, the broken files and the
honest students beside them) into a temporary folder, grades it with OUR grader
(`grade_class`, sandboxed, default limits) and with STOCK nbgrader (benchmarks/stock.py,
nbgrader's default 30 s cell timeout), and prints, for each zoo entry, its expected score,
each grader's score and whether each grader resisted it:

    resisted = the submission was graded (the run went on past it) and its score is the
               expected one: a cheat earns nothing beyond its honest functions, a fault costs
               only its author.

Then: whether the honest students got their right scores under each grader (contamination
of other students), whether each run finished, whether a process was left running, and
whether files outside the workspace changed (the writes-outside entry targets README.md and
/tmp/planted-by-student).

This is a report, not a test (tests/test_hostile.py is the test): it exits 0 whatever the
graders did, and 1 only when OUR grader raised instead of finishing.

Stock nbgrader runs the hostile code unsandboxed on this machine. The repository is
protected: the stock run happens in a private mount namespace where the repository and /tmp
are overlays (benchmarks/stock.py, protect=True; the writes are seen, in the shadow, and
reported), its processes are found by a token in their environment and killed by pid, and a
memory cap (RLIMIT_AS, --stock-memory-gib) keeps a memory bomb from reaching the OOM killer.
Whatever happens, README.md is compared with a snapshot afterwards and restored if changed,
and leftover `sleep 600` processes started during the run are killed.
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
        if README.read_bytes() != self.readme:
            changed.append(f"{README} (restored from the snapshot)")
            README.write_bytes(self.readme)
        for path, before in self.states.items():
            if path == README:
                continue
            now = _state(path)
            if now is not None and now != before:
                if before is None:
                    changed.append(f"{path} (created during the run; removed)")
                    try:
                        path.unlink()
                    except OSError:
                        pass
                else:
                    changed.append(f"{path} (modified during the run)")
        for path in pwned_since(self.start, self.skip_under):
            if not any(str(path) in c for c in changed):
                changed.append(f"{path} (holds 'pwned', written during the run)")
        new = {pid: cmd for pid, cmd in sleepers().items() if pid not in self.sleepers}
        kill_pids(new)
        return changed, [f"{pid} {cmd}" for pid, cmd in sorted(new.items())]


def leaked_cgroups():
    """Our grader's cgroups (autograder-*) that exist now."""
    out = set()
    for controller in ("pids", "memory"):
        base = Path("/sys/fs/cgroup") / controller
        if base.is_dir():
            out |= {str(p) for p in base.glob("autograder-*")}
    return out


def zoo_slugs(folder):
    released = set(stock.released_slugs())
    found = {p.name for student in folder.iterdir() if student.is_dir()
             for p in student.iterdir() if p.is_dir()}
    return sorted(found & released), sorted(found - released)


def run_ours(submitted, workspace, slugs, workers):
    guard = Guard(skip_under=[submitted.parent])
    cgroups_before = leaked_cgroups()
    started = time.monotonic()
    try:
        summary = grade_class(submitted, workspace, workers=workers, limits=Limits(),
                              isolate=True, slugs=slugs)
        error = None
    except Exception:
        summary, error = None, traceback.format_exc()
    seconds = time.monotonic() - started
    changed, left = guard.check_and_repair()
    left += [f"cgroup {c} (left behind, empty or not)"
             for c in sorted(leaked_cgroups() - cgroups_before)]
    results = {}
    if summary:
        for r in summary["results"]:
            results[r["student_id"]] = r
    return {"results": results, "error": error, "seconds": seconds, "changed": changed,
            "left": left, "summary": summary}


def run_stock(submitted, slugs, timeout, memory_gib):
    guard = Guard(skip_under=[submitted.parent])
    started = time.monotonic()
    try:
        run = stock.grade(submitted, slugs=slugs, cell_timeout=timeout, memory_gib=memory_gib,
                          protect=True, progress=lambda t: print(t, file=sys.stderr))
        error = None
    except Exception:
        run, error = None, traceback.format_exc()
    seconds = time.monotonic() - started
    changed, left = guard.check_and_repair()
    if run is not None:
        for path, what in sorted(run.outside_writes.items()):
            changed.append(f"{path} {what} (in the benchmark's overlay; the real file was not "
                           "touched)")
        tagged = {pid for pid, _ in run.leftover}
        left = [f"{pid} {cmd}" for pid, cmd in run.leftover] + \
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
    args = p.parse_args(argv)

    import zoo
    tmp = Path(tempfile.mkdtemp(prefix="zoo-vs-stock-"))
    ours = {"error": None}
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
        if args.skip_stock:
            theirs = {"run": None, "error": "skipped (--skip-stock)", "seconds": 0.0,
                      "changed": [], "left": []}
        else:
            theirs = run_stock(submitted, slugs, args.stock_timeout, args.stock_memory_gib)
        report(zoo, expected, entries, honest, ours, theirs, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        still = sleepers()
        if still:
            print(f"note: '{LEFTOVER_PATTERN}' processes running at exit, not started during "
                  f"this run and left alone: {sorted(still)}")
    return 1 if ours["error"] else 0


def report(zoo, expected, entries, honest, ours, theirs, args):
    run = theirs["run"]
    slug_of = {}
    for student in expected:
        if student in ours["results"]:
            slug_of[student] = ours["results"][student]["assignment"]
    if run is not None:
        for student, slug in run.scores:
            slug_of.setdefault(student, slug)
    bombs = {(s, g): what for s, g, what in run.interventions} if run else {}

    def ours_row(student):
        r = ours["results"].get(student)
        return (None, "not graded") if r is None else (float(r["score"]), r["status"])

    def stock_row(student, final=False):
        if run is None:
            return None, "not run"
        key = (student, slug_of.get(student))
        scores = run.final_scores if final else run.scores
        return scores.get(key), run.status.get(key, "not graded")

    def resisted(score, status, exp, intervened=False):
        return (not intervened and score is not None and abs(score - exp) < 1e-9 and
                status not in ("not reached", "interrupted", "not run", "not graded"))

    width = max(len(e) for e in entries + honest) + 1
    head = (f"{'entry':{width}} {'kind':5} {'expected':>8} {'stock':>6} {'ours':>6}  "
            f"{'stock resisted':14} {'ours resisted':13}  stock status / ours status")
    print()
    print(head)
    print("-" * len(head))
    tally = {"stock": 0, "ours": 0}
    stock_lost, ours_lost, why = [], [], []
    for student in entries:
        exp = expected[student]
        kind, attack = describe(zoo, student)
        s_score, s_status = stock_row(student)
        o_score, o_status = ours_row(student)
        key = (student, slug_of.get(student))
        s_ok = resisted(s_score, s_status, exp, key in bombs)
        o_ok = resisted(o_score, o_status, exp)
        tally["stock"] += s_ok
        tally["ours"] += o_ok
        if not s_ok:
            stock_lost.append(student)
        if not o_ok:
            ours_lost.append(student)
        if key in bombs:
            s_status += " (stopped by the benchmark)"
        print(f"{student:{width}} {kind:5} {exp:8g} {fmt(s_score):>6} {fmt(o_score):>6}  "
              f"{yes(s_ok):14} {yes(o_ok):13}  {s_status} / {o_status}")
        if run is not None and key in run.reasons:
            why.append(f"  {student}, stock: {run.reasons[key]}")
        if key in bombs:
            why.append(f"  {student}, stock: {bombs[key]}")
        r = ours["results"].get(student)
        if r and (r["notes"] or not o_ok or r["status"] != "graded"):
            note = " | ".join(r["notes"])[:300]
            if not o_ok:
                lost = [f"{t['test']}: {d['problem']}" for t in r["tests"] if not t["passed"]
                        for d in t["diagnoses"][:1]]
                note = (note + " | " if note else "") + "; ".join(lost)[:400]
            why.append(f"  {student}, ours: {note or r['status']}")

    print()
    print("honest students beside the zoo (scores at the end of each run):")
    honest_ok = {"stock": True, "ours": True}
    for student in honest:
        exp = expected[student]
        s_score, s_status = stock_row(student, final=True)
        o_score, o_status = ours_row(student)
        s_ok = resisted(s_score, s_status, exp)
        o_ok = resisted(o_score, o_status, exp)
        honest_ok["stock"] &= s_ok
        honest_ok["ours"] &= o_ok
        print(f"{student:{width}} {'':5} {exp:8g} {fmt(s_score):>6} {fmt(o_score):>6}  "
              f"{'right' if s_ok else 'WRONG':14} {'right' if o_ok else 'WRONG':13}  "
              f"{s_status} / {o_status}")
    if run is not None:
        changed_later = [s for s in entries
                         if (s, slug_of.get(s)) in run.scores
                         and run.scores[(s, slug_of[s])] != run.final_scores.get((s, slug_of[s]))]
        if changed_later:
            print(f"stock: {len(changed_later)} zoo entries' gradebook scores changed after "
                  f"they were graded (a later submission reached the gradebook): "
                  f"{', '.join(changed_later[:8])}{' ...' if len(changed_later) > 8 else ''}")
    if why:
        print()
        print("why (stock: nbgrader's error or the benchmark's intervention; ours: status, "
              "notes and the first lost test):")
        for line in why:
            print(line)

    print()
    if run is not None:
        batches = ", ".join(f"{b.slug}: exit {b.returncode}"
                            f"{' (killed at its time limit)' if b.timed_out else ''}, "
                            f"{b.seconds:.0f} s" for b in run.batches)
        unclean = sum(1 for st in run.status.values() if st != "graded")
        stock_finished = (f"{'yes' if run.finished else 'NO'} ({batches}; {unclean} "
                          f"submission(s) not graded cleanly; gradebook {run.gradebook})")
    else:
        stock_finished = "NO: " + (theirs["error"] or "").strip().splitlines()[-1][:150]
    if ours["error"]:
        ours_finished = "NO: " + ours["error"].strip().splitlines()[-1][:150]
    else:
        c = ours["summary"]["counts"]
        ours_finished = (f"yes ({ours['seconds']:.0f} s; " +
                         ", ".join(f"{v} {k}" for k, v in c.items() if v) + ")")
    print(f"run finished, stock nbgrader: {stock_finished}")
    print(f"run finished, ours:           {ours_finished}")
    print(f"honest students right:        stock {yes(honest_ok['stock'])}, "
          f"ours {yes(honest_ok['ours'])}")
    print(f"processes left running:       stock {len(theirs['left'])}, ours {len(ours['left'])}")
    for who, side in (("stock", theirs), ("ours", ours)):
        for item in side["left"][:12]:
            print(f"  {who}: {item} (killed)" if not item.startswith("cgroup") else
                  f"  {who}: {item}")
        if len(side["left"]) > 12:
            print(f"  {who}: ... {len(side['left']) - 12} more")
    print(f"files outside changed:        stock {len(theirs['changed'])}, "
          f"ours {len(ours['changed'])}")
    for who, side in (("stock", theirs), ("ours", ours)):
        for item in side["changed"]:
            print(f"  {who}: {item}")
    if run is not None:
        print(f"stock set-up: nbgrader's {args.stock_timeout:g} s cell timeout; memory cap "
              f"{args.stock_memory_gib:g} GiB per process (RLIMIT_AS); protection: "
              f"{run.protected}; {run.seconds:.0f} s grading")
        for note in run.notes:
            print(f"stock note: {note}")
    print(f"ours: {Limits()}, {ours['seconds']:.0f} s")
    print()
    print(f"attacks resisted: ours {tally['ours']}/{len(entries)}, "
          f"stock nbgrader {tally['stock']}/{len(entries)}")
    if ours_lost:
        print(f"NOT resisted by ours: {', '.join(ours_lost)}")
    if stock_lost:
        print(f"not resisted by stock nbgrader: {', '.join(stock_lost)}")


if __name__ == "__main__":
    sys.exit(main())
