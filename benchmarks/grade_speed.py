"""How fast our grader grades a class, against stock nbgrader measured in the same run.

    cd /work/main && PYTHONPATH=.:tests .venv/bin/python benchmarks/grade_speed.py \
        [--students 40 400] [--stock-students 40] [--overhead-students 10] [--workers N]

The class: student i's notebook for assignment j is variant (i + j) mod k of
`classgen.variants(slug)` (the solution, the untouched notebook, correct variants, known
mistakes), so every notebook's expected score is known and the mix of fast, failing and
untouched submissions is the same at every size. Only released assignments (exercises/<slug>/
<slug>.ipynb present) whose variants load are used.

Measured, all in this process, one after the other:

1. stock nbgrader (benchmarks/stock.py) on the first --stock-students students: the wall
   time of its `nbgrader autograde` calls (one per assignment, the whole class in each, one
   kernel per notebook: nbgrader grades one notebook at a time). The one-time course set-up
   (generate_assignment, adding students) is reported but not counted.
2. ours (`grade_class`, sandboxed, default limits) at each --students size, in a fresh
   workspace (nothing reused), wall time of the whole call (gradebook, CSV tables and feedback
   pages included). Every one of our scores must equal the planted expected score: any
   mismatch is printed and the script exits 1.
3. the per-notebook overhead, on classes whose every notebook is untouched: every graded
   function raises NotImplementedError on its first line, so (almost) no time is spent in
   student code or in the hidden cases' computations; what is left is the grader's own cost
   (ours: reading and assembling the notebook, the sandbox's fork, running the provided
   cells, the wire, judging, the gradebook and the feedback page; stock: a kernel start,
   sanitizing, executing every cell, saving the grades, writing the notebook). Ours grades
   untouched classes of --overhead-students and twice as many students; the difference
   divided by the difference in notebooks is the MARGINAL wall time per notebook (the fixed
   start-up of a run, workers and gradebook, taken out), times the workers = worker-seconds
   per notebook (how long one notebook occupies one worker). Stock nbgrader grades the
   smaller untouched class; its time per notebook (all included: it starts a kernel per
   notebook and an nbgrader process per assignment) is compared with ours on the very same
   class, and with our marginal worker-seconds per notebook.

4. the sandbox alone (`--sandbox-runs`): how long a worker takes to start (bubblewrap, the
   template's imports of NumPy, IPython, matplotlib and sklearn.datasets), and how long the
   fresh environment of one notebook costs (an empty job: the fork chain, new namespaces, the
   tmpfs mounts, the read-only remounts, the two pipes and the checked events, nothing else).
5. a one-notebook regrade as the instructor runs it (`python -m autograder grade` in a new
   process on a class of one solution notebook, fresh workspace; then the same command again,
   when nothing is left to grade): the whole command, Python start and imports included.

Printed: notebooks/second for stock and for ours at each size, the ratio ours/stock (the
stock run of this same process is the baseline), the linear-scaling check (ours' rate at each
size against the smallest, and the marginal rate between the smallest and the largest; a
rate that does not fall means the cost per notebook does not grow with the class), the
overhead, and any of stock nbgrader's scores that differ from the planted ones (information:
stock grades a test cell as a whole, visible tests included, where ours judges the hidden
cases only).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import stock  # noqa: E402
from autograder import classgen  # noqa: E402
from autograder.grade import grade_class  # noqa: E402
from autograder.isolation import Limits, Sandbox  # noqa: E402


def usable_slugs():
    """{slug: variants} for the released assignments whose variants load; and what was skipped."""
    out, skipped = {}, []
    for slug in stock.released_slugs():
        try:
            out[slug] = classgen.variants(slug)
        except Exception as exc:  # an exercise still being written
            skipped.append(f"{slug} ({type(exc).__name__}: {exc})")
    return out, skipped


def class_plan(n, variants, untouched=False):
    """[(student, slug, cells)], {(student, slug): expected score} and {(student, slug):
    variant name} for n students."""
    plan, expected, names = [], {}, {}
    for i in range(n):
        student = f"s{i:04d}"
        for j, (slug, vs) in enumerate(variants.items()):
            if untouched:
                name, cells, score = "untouched", None, 0.0
            else:
                name, cells, score = vs[(i + j) % len(vs)]
            plan.append((student, slug, cells))
            expected[(student, slug)] = float(score)
            names[(student, slug)] = name
    return plan, expected, names


def write(folder, plan):
    started = time.monotonic()
    classgen.write_class(folder, plan)
    return time.monotonic() - started


def grade_ours(folder, workspace, workers, slugs, expected):
    started = time.monotonic()
    summary = grade_class(folder, workspace, workers=workers, limits=Limits(), isolate=True,
                          slugs=slugs)
    seconds = time.monotonic() - started
    mismatches = []
    got = {(r["student_id"], r["assignment"]): r for r in summary["results"]}
    for key, exp in sorted(expected.items()):
        r = got.get(key)
        if r is None:
            mismatches.append(f"{key[0]}/{key[1]}: not graded (expected {exp:g})")
        elif abs(float(r["score"]) - exp) > 1e-9:
            mismatches.append(f"{key[0]}/{key[1]}: scored {float(r['score']):g}, expected "
                              f"{exp:g} (status {r['status']}; {' | '.join(r['notes'])[:200]})")
    if summary["graded_now"] != len(expected):
        mismatches.append(f"graded {summary['graded_now']} notebooks now, expected "
                          f"{len(expected)} (something was reused or skipped)")
    return seconds, summary, mismatches


def grade_stock(folder, slugs, expected, timeout):
    run = stock.grade(folder, slugs=slugs, cell_timeout=timeout, protect=True,
                      progress=lambda t: print(t, file=sys.stderr))
    agree = sum(1 for k, e in expected.items()
                if run.scores.get(k) is not None and abs(run.scores[k] - e) < 1e-9)
    return run, agree


def main(argv=None):
    p = argparse.ArgumentParser(description="Grading speed: ours against stock nbgrader.")
    p.add_argument("--students", type=int, nargs="+", default=[40, 400],
                   help="class sizes graded by ours (default: 40 400)")
    p.add_argument("--stock-students", type=int, default=40,
                   help="class size graded by stock nbgrader (default 40; 0: skip stock)")
    p.add_argument("--overhead-students", type=int, default=10,
                   help="students in the untouched class for the overhead (default 10; 0: skip)")
    p.add_argument("--workers", type=int, default=None,
                   help=f"our workers (default: every core, here {os.cpu_count()})")
    p.add_argument("--stock-timeout", type=float, default=30,
                   help="stock nbgrader's cell timeout, seconds (default 30)")
    p.add_argument("--sandbox-runs", type=int, default=20,
                   help="empty jobs timed for the per-notebook cost of a fresh environment, and "
                        "workers started for the start-up (a fifth as many, at least 2); "
                        "0: skip, with the one-notebook regrade")
    args = p.parse_args(argv)
    workers = args.workers or os.cpu_count() or 1

    variants, skipped = usable_slugs()
    if not variants:
        print("no released assignment to grade", file=sys.stderr)
        return 2
    slugs = list(variants)
    print(f"assignments: {', '.join(slugs)}" +
          (f"; skipped: {'; '.join(skipped)}" if skipped else ""))
    print(f"machine: {os.cpu_count()} cores; ours with {workers} worker(s), sandboxed, "
          f"{Limits()}; stock nbgrader {stock_version()} with a {args.stock_timeout:g} s cell "
          f"timeout, one notebook at a time")

    tmp = Path(tempfile.mkdtemp(prefix="grade-speed-"))
    rows, failures = [], []
    try:
        stock_rate = None
        if args.stock_students > 0:
            plan, expected, names = class_plan(args.stock_students, variants)
            write(tmp / "stock-class", plan)
            run, agree = grade_stock(tmp / "stock-class", slugs, expected, args.stock_timeout)
            n = len(expected)
            stock_rate = n / run.seconds
            rows.append(("stock nbgrader", args.stock_students, n, run.seconds, stock_rate, 1))
            print(f"stock nbgrader: {n} notebooks in {run.seconds:.1f} s "
                  f"(+ {run.setup_seconds:.1f} s course set-up, not counted); "
                  f"its scores equal the planted ones for {agree}/{n}; "
                  f"run finished: {'yes' if run.finished else 'NO'}")
            differ = [(k, e) for k, e in sorted(expected.items())
                      if run.scores.get(k) is None or abs(run.scores[k] - e) > 1e-9]
            for (student, slug), e in differ[:12]:
                name = names[(student, slug)]
                got = run.scores.get((student, slug))
                print(f"  stock: {student}/{slug} ({name}): {'-' if got is None else f'{got:g}'}"
                      f" where the planted score is {e:g} ({run.status[(student, slug)]}"
                      f"{': ' + run.reasons[(student, slug)] if (student, slug) in run.reasons else ''})")
            if len(differ) > 12:
                print(f"  stock: ... {len(differ) - 12} more")

        for size in args.students:
            plan, expected, names = class_plan(size, variants)
            folder = tmp / f"class-{size}"
            write(folder, plan)
            seconds, summary, mismatches = grade_ours(folder, tmp / f"ours-{size}", workers,
                                                      slugs, expected)
            n = len(expected)
            rows.append(("ours", size, n, seconds, n / seconds, workers))
            c = summary["counts"]
            print(f"ours, {size} students: {n} notebooks in {seconds:.1f} s; "
                  + ", ".join(f"{v} {k}" for k, v in c.items() if v)
                  + f"; scores equal the planted ones for {n - len(mismatches)}/{n}")
            for line in mismatches:
                print(f"  MISMATCH {line}")
            failures += mismatches
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(tmp / f"ours-{size}", ignore_errors=True)

        overhead = None
        if args.overhead_students > 0:
            u = args.overhead_students
            timings = []
            for size in (u, 2 * u):
                plan, expected, _ = class_plan(size, variants, untouched=True)
                folder = tmp / f"untouched-{size}"
                write(folder, plan)
                seconds, summary, mismatches = grade_ours(folder, tmp / f"ours-untouched-{size}",
                                                          workers, slugs, expected)
                for line in mismatches:
                    print(f"  MISMATCH (untouched class) {line}")
                failures += mismatches
                timings.append((len(expected), seconds))
                print(f"ours, untouched class of {size} students: {len(expected)} notebooks in "
                      f"{seconds:.1f} s")
            stock_seconds = None
            if args.stock_students > 0:
                plan, expected, _ = class_plan(u, variants, untouched=True)
                run, _ = grade_stock(tmp / f"untouched-{u}", slugs, expected, args.stock_timeout)
                stock_seconds = run.seconds
                print(f"stock nbgrader, untouched class of {u} students: {len(expected)} "
                      f"notebooks in {run.seconds:.1f} s")
            overhead = (timings, stock_seconds)
        sandbox_costs = measure_sandbox(args.sandbox_runs, tmp) if args.sandbox_runs else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'grader':16} {'students':>8} {'notebooks':>9} {'seconds':>9} {'notebooks/s':>12} "
          f"{'per notebook':>13} {'ours/stock':>10}")
    for name, size, n, seconds, rate, w in rows:
        ratio = f"{rate / stock_rate:.1f}x" if stock_rate else "-"
        print(f"{name:16} {size:8d} {n:9d} {seconds:9.1f} {rate:12.2f} "
              f"{seconds / n:12.3f}s {ratio:>10}")
    ours_rows = [r for r in rows if r[0] == "ours"]
    if len(ours_rows) > 1:
        base = ours_rows[0]
        print()
        print("linear scaling (ours: the rate should not fall as the class grows):")
        for name, size, n, seconds, rate, w in ours_rows:
            print(f"  {size:5d} students: {rate:7.2f} notebooks/s ({rate / base[4]:.2f} x the rate "
                  f"at {base[1]} students)")
    if len(ours_rows) > 1:
        (_, _, n1, t1, _, _), (_, _, n2, t2, _, _) = ours_rows[0], ours_rows[-1]
        if t2 > t1 and n2 > n1:
            print(f"  marginal rate between {ours_rows[0][1]} and {ours_rows[-1][1]} students: "
                  f"{(n2 - n1) / (t2 - t1):.2f} notebooks/s (the fixed start-up cost taken out)")
    if overhead:
        timings, stock_s = overhead
        (n1, t1), (n2, t2) = timings
        marginal = (t2 - t1) / (n2 - n1)
        fixed = t1 - n1 * marginal
        print()
        print("per-notebook overhead, on classes whose every notebook is untouched (every "
              "graded function raises NotImplementedError at once: ~no time in student code):")
        print(f"  ours:  {n1} notebooks in {t1:.1f} s, {n2} in {t2:.1f} s -> marginal "
              f"{marginal:.3f} s of wall time per notebook = {marginal * workers:.3f} "
              f"worker-seconds per notebook ({workers} workers); fixed start-up ~{fixed:.1f} s "
              f"per run")
        print(f"  ours:  {t1 / n1:.3f} s per notebook all included, on the {n1}-notebook class")
        if stock_s:
            print(f"  stock: {n1} notebooks in {stock_s:.1f} s -> {stock_s / n1:.3f} s per "
                  f"notebook all included (one process; a kernel per notebook)")
            print(f"  stock / ours on the same {n1} untouched notebooks: "
                  f"{stock_s / t1:.1f}x the wall time; per worker-second of the marginal cost: "
                  f"{(stock_s / n1) / (marginal * workers):.1f}x")
    if sandbox_costs:
        starts, chains, regrade, again = sandbox_costs
        print()
        print("the sandbox alone, and a one-notebook regrade:")
        print(f"  worker start-up (bubblewrap + template imports): median {statistics.median(starts):.2f} s "
              f"over {len(starts)} starts")
        print(f"  fresh environment per notebook (empty job: fork chain, namespaces, tmpfs, "
              f"read-only remounts, checked events): median {1000 * statistics.median(chains):.1f} ms, "
              f"max {1000 * max(chains):.1f} ms over {len(chains)} runs")
        print(f"  `python -m autograder grade` on one notebook, fresh workspace: {regrade:.2f} s; "
              f"again with nothing to grade: {again:.2f} s")
    if failures:
        print(f"\n{len(failures)} of OUR scores differ from the planted ones", file=sys.stderr)
        return 1
    return 0


def measure_sandbox(runs, tmp):
    """([worker start-up s], [empty-job s], one-notebook regrade s, rerun s)."""
    starts, chains = [], []
    for _ in range(max(2, runs // 5)):
        sandbox = Sandbox(Limits())
        started = time.monotonic()
        sandbox.start()
        starts.append(time.monotonic() - started)
        if not chains:
            sandbox.run({"cells": [], "cases": []})            # warm-up, not counted
            for _ in range(runs):
                started = time.monotonic()
                reply = sandbox.run({"cells": [], "cases": []})
                chains.append(time.monotonic() - started)
                assert "crashed" not in reply, reply
        sandbox.close()
    classgen.write_class(tmp / "one", [("s0000", "01-softmax", {})])
    command = [sys.executable, "-m", "autograder", "grade", str(tmp / "one"),
               "--workspace", str(tmp / "one-ws"), "--workers", "1"]
    timed = []
    for _ in range(2):
        started = time.monotonic()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        timed.append(time.monotonic() - started)
    return starts, chains, timed[0], timed[1]


def stock_version():
    from importlib import metadata      # the gradebook imports nbgrader without its __init__
    try:
        return metadata.version("nbgrader")
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
