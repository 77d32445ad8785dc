"""The instructor's command line: one verb per job, each a thin layer over a function.

    python -m autograder release [--check]
    python -m autograder grade SUBMITTED --workspace WS [--workers N] [--db URL] [--due ...]
    python -m autograder manual --workspace WS          # grade the written answers by hand
    python -m autograder feedback --workspace WS [--archive]
    python -m autograder export --workspace WS --to canvas|moodle|csv [--roster FILE]
    python -m autograder report --workspace WS [--format html|csv]
    python -m autograder demo --workspace WS
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

from . import classgen, grade, late, release, report
from .isolation import Limits, SandboxUnavailable
from .safety import terminal_text


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
                         + terminal_text(f"{result['student_id']}/{result['assignment']}")[:40].ljust(40))
        sys.stderr.flush()
    return show


def _deadlines(args, slugs):
    """Due dates and policy from the options, else those the workspace saved last time."""
    saved_path = Path(args.workspace) / "deadlines.json"
    saved = None
    if saved_path.is_file():
        try:
            saved = json.loads(saved_path.read_text(encoding="utf-8"))
        except ValueError:
            saved = None
    return late.load(args.deadlines, args.due or (), args.late_policy, slugs, saved)


def cmd_grade(args):
    from . import totals, workspace as wsp
    if args.scheduler and args.scheduler_file:
        raise grade.GradingError("give --scheduler or --scheduler-file, not both")
    deadlines = _deadlines(args, grade.course_slugs())
    roster = totals.load_roster(args.roster) if args.roster else None
    try:
        subs, _ = grade.discover(args.submitted, set(args.assignment or release.slugs()))
    except grade.GradingError:
        subs = []
    if args.student:
        subs = [s for s in subs if s.student_id in set(args.student)]
    summary = grade.grade_class(args.submitted, args.workspace, db_url=args.db,
                                workers=args.workers, limits=_limits(args),
                                isolate=not args.no_sandbox, progress=_progress(len(subs)),
                                slugs=args.assignment, scheduler=args.scheduler,
                                scheduler_file=args.scheduler_file, deadlines=deadlines,
                                students=args.student, force=args.force, roster=roster)
    wsp.atomic_write(Path(args.workspace) / "deadlines.json",
                     json.dumps(deadlines.to_json(), indent=1))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    grade.print_summary(summary)
    print(f"wrote {terminal_text(Path(args.workspace) / 'grades.csv')}, tests.csv, feedback/, "
          "autograded/ and the gradebook")
    return 0


def cmd_manual(args):
    from . import manual
    try:
        return manual.serve(args.workspace, args.db, args.port)
    except FileNotFoundError as exc:
        raise grade.GradingError(str(exc)) from None


def cmd_feedback(args):
    from . import handback
    written = handback.hand_back(args.workspace, args.db, archive=args.archive)
    print(f"wrote {written['pages']} feedback pages under "
          f"{terminal_text(Path(args.workspace) / 'feedback')}"
          + (f" and {written['archives']} archives under "
             f"{terminal_text(Path(args.workspace) / 'feedback-archives')}" if args.archive else ""))
    return 0


def cmd_export(args):
    from . import lms
    out = args.out or Path(args.workspace) / f"export-{args.to}.csv"
    rep = lms.export(args.workspace, args.to, out, roster=args.roster, db_url=args.db)
    print(f"wrote {terminal_text(rep.path)}: {rep.students} students")
    if rep.missing:
        print(f"{len(rep.missing)} roster students have nothing graded (exported as 0 where the "
              f"assignment was collected): {terminal_text(', '.join(rep.missing))}")
    if rep.extra:
        print(f"warning: {len(rep.extra)} graded students are not in the roster and were not "
              f"exported: {terminal_text(', '.join(rep.extra))}")
    if rep.pending:
        print(f"warning: {len(rep.pending)} totals wait for a hand grade and were left blank: "
              + terminal_text(", ".join(f"{s}/{a}" for s, a in rep.pending[:10]))
              + (" ..." if len(rep.pending) > 10 else ""))
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
    g.add_argument("--scheduler-file", default=None, metavar="FILE",
                   help="the scheduler's JSON file (dask scheduler --scheduler-file FILE)")
    g.add_argument("--assignment", action="append", default=None, metavar="SLUG",
                   help="grade only this assignment (repeatable; default: all released)")
    g.add_argument("--student", action="append", default=None, metavar="ID",
                   help="grade only this student (repeatable); every other row is kept")
    g.add_argument("--force", action="store_true",
                   help="regrade even notebooks already graded with the same file and plan")
    g.add_argument("--due", action="append", default=None, metavar="SLUG=WHEN",
                   help="due date of an assignment, e.g. 01-softmax=2026-12-01T17:00:00Z "
                        "(repeatable; kept in WS/deadlines.json for later runs)")
    g.add_argument("--deadlines", default=None, metavar="FILE",
                   help="a JSON file of due dates and the late policy (see the README)")
    g.add_argument("--late-policy", default=None, metavar="POLICY",
                   help="none (default), per_hour:P or per_day:P, with an optional :cap=C")
    g.add_argument("--roster", default=None, metavar="FILE",
                   help="CSV of the class (student_id, lms_id, name, email, section); copied "
                        "to WS/roster.json; students who submitted nothing get a row")
    grading_options(g)
    g.set_defaults(func=cmd_grade)

    def db_option(x):
        x.add_argument("--db", default=None, help="the gradebook URL the grade command used "
                                                  "(default: sqlite:///WS/gradebook.db)")

    m = sub.add_parser("manual", help="grade the written answers by hand in a browser",
                       description="Serve a page on 127.0.0.1 that lists the graded notebooks, "
                                   "shows each written answer with the automatic results, and "
                                   "stores a score and a comment in the gradebook.")
    m.add_argument("--workspace", required=True)
    m.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    db_option(m)
    m.set_defaults(func=cmd_manual)

    f = sub.add_parser("feedback", help="hand back the feedback pages",
                       description="Rewrite every feedback page with its hand scores and late "
                                   "penalty, in nbgrader's feedback/ layout (for `nbgrader "
                                   "release_feedback`), and with --archive one zip per student.")
    f.add_argument("--workspace", required=True)
    f.add_argument("--archive", action="store_true",
                   help="also write WS/feedback-archives/<student_id>.zip")
    db_option(f)
    f.set_defaults(func=cmd_feedback)

    e = sub.add_parser("export", help="export the totals for an LMS (Canvas, Moodle) or as CSV")
    e.add_argument("--workspace", required=True)
    e.add_argument("--to", choices=("canvas", "moodle", "csv"), required=True)
    e.add_argument("--roster", default=None,
                   help="CSV mapping student_id to lms_id (default: the roster grade --roster kept)")
    e.add_argument("--out", default=None, help="file to write (default: WS/export-<to>.csv)")
    db_option(e)
    e.set_defaults(func=cmd_export)

    report.add_parser(sub)

    d = sub.add_parser("demo", help="grade a small generated class and print the table")
    d.add_argument("--workspace", required=True)
    grading_options(d)
    d.set_defaults(func=cmd_demo)
    return p


def _error_text(exc):
    return "error: " + "\n".join(terminal_text(line) for line in str(exc).splitlines())


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (grade.GradingError, SandboxUnavailable, late.LateError) as exc:
        print(_error_text(exc), file=sys.stderr)
        return 2
    except Exception as exc:
        from .gradebook import GradebookError
        from .totals import RosterError
        from .workspace import WorkspaceError
        if isinstance(exc, (GradebookError, RosterError, WorkspaceError)):
            print(_error_text(exc), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
