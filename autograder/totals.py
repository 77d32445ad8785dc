"""The class's grades table: automatic + hand-graded + late penalty, for every run so far.

It is built from the saved result records (WS/results/, the automatic part and the late
judgement of every notebook ever graded into the workspace), the gradebook (the hand scores
of the written answers) and the roster (WS/roster.json, kept by `grade --roster FILE`: students who submitted
nothing get a row too). So grading one student, or one `--assignment`, never drops anyone's row.

A written answer not yet graded by hand is "ungraded", never 0: its row's `manual_score`
and `total` say "ungraded" until every written answer of the notebook has a hand score.
Notebooks with nothing to grade by hand (missing, unreadable, not submitted) count 0.
"""
import csv
import json
from pathlib import Path

from .safety import SafeWriter

UNGRADED = "ungraded"
NOT_SUBMITTED = "not_submitted"
NOTHING_TO_READ = ("missing", "unreadable", NOT_SUBMITTED)

GRADE_COLUMNS = ["student_id", "assignment", "score", "max_score", "manual_max_score", "status",
                 "notes", "manual_score", "late_penalty", "total", "max_total", "submitted_at",
                 "due", "late", "hours_late"]


class RosterError(ValueError):
    """A roster file that cannot be read; the message says why."""


def load_roster(path):
    """[{student_id, lms_id, name, email, section}] from a CSV with at least student_id."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise RosterError(f"cannot read the roster {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"the roster {path} is not a UTF-8 CSV file: {exc}") from None
    if not rows or "student_id" not in rows[0]:
        raise RosterError(f"the roster {path} needs a header row with a student_id column "
                          "(and lms_id, name, email, section as the LMS needs)")
    out, seen = [], set()
    for i, row in enumerate(rows, start=2):
        sid = (row.get("student_id") or "").strip()
        if not sid:
            raise RosterError(f"the roster {path}, line {i}: empty student_id")
        if sid in seen:
            raise RosterError(f"the roster {path}, line {i}: student {sid!r} is listed twice")
        seen.add(sid)
        out.append({k: (row.get(k) or "").strip() for k in
                    ("student_id", "lms_id", "name", "email", "section")} | {"student_id": sid})
    return out


def load_records(workspace):
    """Every saved result record in WS/results/ (unreadable files skipped)."""
    records = []
    for path in sorted((Path(workspace) / "results").glob("*/*.json")):
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(r, dict) and "student_id" in r and "assignment" in r:
            records.append(r)
    return records


def _num(x):
    return float(f"{x:.6g}")


def submission_row(record, manual):
    """One row of the grades table. manual: {grade_id: (score or None, max, comment)}."""
    late = record.get("late") or {}
    auto = float(record.get("score", 0.0))
    manual_max = float(record.get("manual_max_score", 0.0))
    penalty = float(late.get("penalty") or 0.0)
    if record.get("status") in NOTHING_TO_READ:
        hand = 0.0
    elif manual and all(score is not None for score, _, _ in manual.values()):
        hand = sum(score for score, _, _ in manual.values())
    elif manual_max == 0:
        hand = 0.0
    else:
        hand = UNGRADED
    total = UNGRADED if hand == UNGRADED else max(0.0, auto + hand - penalty)
    return {"student_id": record["student_id"], "assignment": record["assignment"],
            "score": _num(auto), "max_score": _num(float(record.get("max_score", 0.0))),
            "manual_max_score": _num(manual_max), "status": record.get("status", "graded"),
            "notes": " | ".join(record.get("notes") or []),
            "manual_score": hand if hand == UNGRADED else _num(hand),
            "late_penalty": _num(penalty),
            "total": total if total == UNGRADED else _num(total),
            "max_total": _num(float(record.get("max_score", 0.0)) + manual_max),
            "submitted_at": late.get("timestamp") or "", "due": late.get("due") or "",
            "late": "yes" if late.get("late") else "no",
            "hours_late": _num(late.get("seconds_late", 0.0) / 3600.0)}


def class_rows(records, manual_grades, roster=(), maxima=None):
    """Rows for every record, and a `not_submitted` row for each roster student missing from
    an assignment that has been collected. maxima: {slug: (max_score, manual_max)}."""
    rows = [submission_row(r, manual_grades.get((r["student_id"], r["assignment"]), {}))
            for r in records]
    have = {(r["student_id"], r["assignment"]) for r in rows}
    maxima = dict(maxima or {})
    for r in rows:
        maxima.setdefault(r["assignment"], (r["max_score"], r["manual_max_score"]))
    collected = sorted({r["assignment"] for r in rows})
    for student in roster:
        for slug in collected:
            if (student["student_id"], slug) in have:
                continue
            top, manual_max = maxima[slug]
            rows.append({"student_id": student["student_id"], "assignment": slug,
                         "score": 0.0, "max_score": top, "manual_max_score": manual_max,
                         "status": NOT_SUBMITTED, "notes": "nothing was submitted",
                         "manual_score": 0.0, "late_penalty": 0.0, "total": 0.0,
                         "max_total": _num(top + manual_max), "submitted_at": "", "due": "",
                         "late": "no", "hours_late": 0.0})
    rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
    return rows


def _cell(v):
    return f"{v:g}" if isinstance(v, float) else v


def write_grades(workspace, rows):
    """WS/grades.csv from class_rows (every cell through SafeWriter)."""
    path = Path(workspace) / "grades.csv"
    tmp = path.with_name(".grades.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = SafeWriter(f)
        w.writerow(GRADE_COLUMNS)
        for r in rows:
            w.writerow([_cell(r[k]) for k in GRADE_COLUMNS])
    tmp.replace(path)
    return path


def write_tests(workspace, records):
    path = Path(workspace) / "tests.csv"
    tmp = path.with_name(".tests.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = SafeWriter(f)
        w.writerow(["student_id", "assignment", "test", "function", "points", "max_points",
                    "passed", "diagnosis"])
        for r in sorted(records, key=lambda r: (r["student_id"], r["assignment"])):
            for t in r.get("tests") or []:
                w.writerow([r["student_id"], r["assignment"], t["test"], " ".join(t["functions"]),
                            f"{t['points']:g}", f"{t['max_points']:g}", int(t["passed"]),
                            " | ".join(d["problem"] for d in t["diagnoses"][:3])])
    tmp.replace(path)
    return path


def roster_of(workspace):
    """The roster `grade --roster` kept in WS/roster.json ([] if none)."""
    path = Path(workspace) / "roster.json"
    if not path.is_file():
        return []
    try:
        people = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RosterError(f"{path} is damaged ({exc}); run grade again with --roster FILE") from None
    return [p for p in people if isinstance(p, dict) and p.get("student_id")]


def refresh(workspace, gb):
    """Rewrite WS/grades.csv and WS/tests.csv from the records, the gradebook and the roster."""
    from .gradebook import manual_grades
    records = load_records(workspace)
    rows = class_rows(records, manual_grades(gb), roster_of(workspace))
    write_grades(workspace, rows)
    write_tests(workspace, records)
    return rows
