"""Grades an LMS imports: `python -m autograder export --workspace WS --to canvas|moodle|csv`.

The roster (a CSV the instructor keeps; by default the one `grade --roster` kept) maps this course's
student ids (the folder names in nbgrader's layout) to the LMS's:

    student_id,lms_id,name,email,section
    ada,1042,Ada Lovelace,ada@example.edu,Tuesday

- canvas: Canvas's gradebook import format. Columns Student, ID (the Canvas user id, our
  lms_id), SIS User ID (our student_id), SIS Login ID (the email), Section, then one column
  per assignment; the second row gives each assignment's points possible.
- moodle: Moodle's "Import grades from CSV": Full name, ID number (lms_id), Email address,
  then one column per assignment (map the ID number column to the user's ID number on
  import).
- csv: the grades table itself (WS/grades.csv's columns), one row per student and assignment.

Each cell is the notebook's total (automatic + hand-graded - late penalty). A total that
still waits for a hand grade is left blank (an LMS import leaves a blank cell alone) and
listed as pending. Roster students with no submission get 0 once the assignment has been
collected; graded students missing from the roster are not exported, and are reported.
"""
import dataclasses
from pathlib import Path

from . import totals
from .safety import SafeWriter

FORMATS = ("canvas", "moodle", "csv")


@dataclasses.dataclass
class ExportReport:
    path: Path
    students: int
    missing: list          # roster students with nothing graded
    extra: list            # graded students absent from the roster
    pending: list          # (student_id, assignment) whose total waits for a hand grade


def _cell(value):
    return "" if value == totals.UNGRADED else f"{value:g}"


def export(workspace, fmt, out, roster=None, db_url=None):
    """Write the export; returns an ExportReport. roster: a CSV path (default: the roster `grade --roster` kept)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    workspace = Path(workspace)
    people = totals.load_roster(roster) if roster else totals.roster_of(workspace)
    if fmt != "csv" and not people:
        raise totals.RosterError(f"the {fmt} export needs a roster mapping student ids to LMS "
                                 "ids: --roster FILE (or grade with --roster FILE once)")
    from .gradebook import manual_grades, open_gradebook
    with open_gradebook(db_url or f"sqlite:///{workspace.resolve() / 'gradebook.db'}") as book:
        hand = manual_grades(book)
    records = totals.load_records(workspace)
    rows = totals.class_rows(records, hand, people)
    slugs = sorted({r["assignment"] for r in rows})
    by = {(r["student_id"], r["assignment"]): r for r in rows}
    graded_ids = sorted({r["student_id"] for r in records})
    roster_ids = [p["student_id"] for p in people]
    report = ExportReport(Path(out), 0, sorted(set(roster_ids) - set(graded_ids)),
                          sorted(set(graded_ids) - set(roster_ids)) if people else [],
                          sorted((r["student_id"], r["assignment"]) for r in rows
                                 if r["total"] == totals.UNGRADED
                                 and (not people or r["student_id"] in roster_ids)))
    maxima = {s: next(r["max_total"] for r in rows if r["assignment"] == s) for s in slugs}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = SafeWriter(f)
        if fmt == "csv":
            w.writerow(totals.GRADE_COLUMNS)
            chosen = [r for r in rows if not people or r["student_id"] in roster_ids]
            for r in chosen:
                w.writerow([totals._cell(r[k]) for k in totals.GRADE_COLUMNS])
            report.students = len({r["student_id"] for r in chosen})
        elif fmt == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + slugs)
            w.writerow(["Points Possible", "", "", "", ""] + [f"{maxima[s]:g}" for s in slugs])
            for p in people:
                w.writerow([p["name"] or p["student_id"], p["lms_id"], p["student_id"], p["email"],
                            p["section"]]
                           + [_cell(by[(p["student_id"], s)]["total"]) for s in slugs])
            report.students = len(people)
        else:
            w.writerow(["Full name", "ID number", "Email address"] + slugs)
            for p in people:
                w.writerow([p["name"] or p["student_id"], p["lms_id"], p["email"]]
                           + [_cell(by[(p["student_id"], s)]["total"]) for s in slugs])
            report.students = len(people)
    return report
