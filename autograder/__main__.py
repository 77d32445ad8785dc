"""The instructor's command line: one verb per job, each a thin layer over a function.

    python -m autograder release [--check]
    python -m autograder grade SUBMITTED --workspace WS [--workers N] [--db URL]
    python -m autograder report --workspace WS [--format html|csv]
    python -m autograder demo --workspace WS
"""
import argparse
import shutil
import sys
from pathlib import Path

from . import classgen, grade, release, report
from .isolation import Limits, SandboxUnavailable


def cmd_release(args):
    if args.check:
        stale = release.stale()
        if stale:
            print("exercises/ is out of date for: " + ", ".join(stale) +
                  "\nrun `python -m autograder release`", file=sys.stderr)
            return 1
        print("exercises/ is up to date")
        return 0
    release.generate(only=args.assignments or None)
    print("released: " + ", ".join(args.assignments or release.slugs()))
    return 0


def _limits(args):
    return Limits(cell_seconds=args.cell_timeout, case_seconds=args.cell_timeout,
                  total_seconds=args.notebook_timeout,
                  memory_bytes=int(args.memory_gib * 2**30))


def _progress(total):
    if not sys.stderr.isatty():
        return None
    state = {"n": 0}

    def show(result):
        state["n"] += 1
        width = 30
        filled = width * state["n"] // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {state['n']}/{total} "
                         f"{result['student_id']}/{result['assignment']}".ljust(79))
        sys.stderr.flush()
    return show


def cmd_grade(args):
    subs, _ = grade.discover(args.submitted, set(args.assignment or release.slugs()))
    summary = grade.grade_class(args.submitted, args.workspace, db_url=args.db,
                                workers=args.workers, limits=_limits(args),
                                isolate=not args.no_sandbox, progress=_progress(len(subs)),
                                slugs=args.assignment, scheduler=args.scheduler)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    grade.print_summary(summary)
    print(f"wrote {Path(args.workspace) / 'grades.csv'}, tests.csv, feedback/ and the gradebook")
    return 0


def cmd_demo(args):
    """Grade a small generated class (every variant of every assignment) and print it."""
    ws = Path(args.workspace)
    submitted = ws / "submitted"
    if submitted.exists():
        shutil.rmtree(submitted)
    plan, expected = [], {}
    for slug in release.slugs():
        for name, cells, score in classgen.variants(slug):
            plan.append((name, slug, cells))
            expected[(name, slug)] = score
    classgen.write_class(submitted, plan)
    summary = grade.grade_class(submitted, ws / "graded", workers=args.workers,
                                limits=_limits(args), isolate=not args.no_sandbox)
    print(f"{'student':42} {'assignment':24} {'score':>7} {'expected':>8}")
    wrong = 0
    for r in sorted(summary["results"], key=lambda r: (r["assignment"], r["student_id"])):
        exp = expected[(r["student_id"], r["assignment"])]
        flag = "" if abs(r["score"] - exp) < 1e-9 else "  <-- differs"
        wrong += bool(flag)
        print(f"{r['student_id'][:42]:42} {r['assignment']:24} {r['score']:7g} {exp:8g}{flag}")
    grade.print_summary(summary)
    return 1 if wrong else 0


def parser():
    p = argparse.ArgumentParser(prog="python -m autograder",
                                description="Release, grade and report the course's exercises.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("release", help="generate exercises/ from solutions/ (nbgrader's generate step)")
    r.add_argument("assignments", nargs="*", help="slugs to release (default: all)")
    r.add_argument("--check", action="store_true",
                   help="only check that exercises/ is up to date; exit 1 if not")
    r.set_defaults(func=cmd_release)

    def grading_options(g):
        g.add_argument("--workers", type=int, default=None,
                       help="sandboxed workers grading in parallel (default: every core)")
        g.add_argument("--cell-timeout", type=float, default=10.0,
                       help="seconds a cell or a graded call may run (default: 10)")
        g.add_argument("--notebook-timeout", type=float, default=60.0,
                       help="seconds a whole notebook may run (default: 60)")
        g.add_argument("--memory-gib", type=float, default=2.0,
                       help="memory a submission may use, in GiB (default: 2)")
        g.add_argument("--no-sandbox", action="store_true",
                       help="run student code without bubblewrap isolation (trusted code only)")

    g = sub.add_parser("grade", help="grade a class of submissions",
                       description="Grade SUBMITTED (nbgrader layout: "
                                   "<student_id>/<assignment>/<assignment>.ipynb) into WS: "
                                   "grades.csv, tests.csv, feedback/ and the gradebook. "
                                   "Running it again resumes: finished submissions are kept.")
    g.add_argument("submitted", help="folder of submissions, one subfolder per student")
    g.add_argument("--workspace", required=True, help="output folder (created if needed)")
    g.add_argument("--db", default=None,
                   help="gradebook SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
                        "(default: sqlite:///WS/gradebook.db)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="grade on a Dask distributed cluster instead of local workers; "
                        "only this process writes the gradebook")
    g.add_argument("--assignment", action="append", default=None, metavar="SLUG",
                   help="grade only this assignment (repeatable; default: all released)")
    grading_options(g)
    g.set_defaults(func=cmd_grade)

    report.add_parser(sub)

    d = sub.add_parser("demo", help="grade a small generated class and print the table")
    d.add_argument("--workspace", required=True)
    grading_options(d)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (grade.GradingError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
