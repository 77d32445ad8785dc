"""The instructor's report on a graded class: `python -m autograder report --workspace WS`.

    WS/results/<student_id>/<assignment>.json  ->  WS/report/index.html   (--format html)
                                               ->  WS/report/*.csv         (--format csv)

It is built from the result records the grader saved, and from nothing else: not the
solutions, not the hidden checks, not the reference code. From each record it keeps only
the grades, the test outcomes, the diagnoses in words and the notes; the student's code and
the notebook's printed output are dropped as soon as a record is read, so they cannot reach
the report.

The tables, the same in both formats:

- assignments: submissions, mean, median, min and max score, and how many had each status;
- tests: the pass rate of every test (passed / submissions of its assignment);
- mistakes: the most common diagnoses, grouped by (assignment, function, diagnosis without
  its case name), counting distinct students (a student whose function fails five cases
  with the same diagnosis counts once), the `top` most common per assignment;
- problems: the submissions that timed out, crashed, were missing or unreadable;
- totals: per assignment, how many notebooks are fully graded (hand-graded written answers
  from the gradebook) and the mean total (automatic + hand - late penalty), ungraded apart;
- questions: the score distribution of every automatic test and every written answer;
- timing: submission times (nbgrader's timestamp.txt), due date, late and penalised counts;
- absent: the roster's students who submitted nothing (and folders without a notebook).

The written answers' text, like the students' code, never reaches the report: only their
hand scores do.

The HTML page is self-contained and works offline: inline CSS, no script, no external link,
figures drawn by matplotlib (Agg) into PNG files beside it and referenced by relative paths.
Every string that comes from a record (diagnoses and notes quote exception messages that a
student controls) is escaped.
"""
import argparse
import html
import json
import math
import re
import statistics
import sys
from pathlib import Path

from .safety import SafeWriter

STATUSES = ("graded", "timed_out", "crashed", "missing", "unreadable")
PROBLEM_STATUSES = ("timed_out", "crashed", "missing", "unreadable")
# Diagnoses of records with these statuses say only that nothing ran; the records are listed
# in the problems table instead of the mistakes table.
NOTHING_RAN = ("crashed", "missing", "unreadable")
TOP = 20
FIGURES = "figures"
DETAIL_CHARS = 300

# (key, column title): the columns of each table, shared by the HTML and the CSV writers.
COLUMNS = {
    "assignments": [("assignment", "Assignment"), ("submissions", "Submissions"),
                    ("max_score", "Max score"), ("mean", "Mean"), ("median", "Median"),
                    ("min", "Min"), ("max", "Max")]
                   + [(s, s.replace("_", " ").capitalize()) for s in STATUSES],
    "tests": [("assignment", "Assignment"), ("test", "Test"), ("functions", "Function(s)"),
              ("pass_rate", "Pass rate"), ("passed", "Passed"),
              ("submissions", "Submissions")],
    "mistakes": [("assignment", "Assignment"), ("function", "Function"),
                 ("diagnosis", "Diagnosis"), ("students", "Students"),
                 ("example_case", "Example case")],
    "problems": [("student_id", "Student"), ("assignment", "Assignment"),
                 ("status", "Status"), ("score", "Score"), ("notes", "Notes"),
                 ("details", "Details")],
    "totals": [("assignment", "Assignment"), ("students", "Students"),
               ("submitted", "Submitted"), ("not_submitted", "Not submitted"),
               ("hand_graded", "Hand-graded"), ("ungraded", "Ungraded"),
               ("mean_total", "Mean total (submitted, fully graded)"), ("max_total", "Max total")],
    "questions": [("assignment", "Assignment"), ("question", "Question"),
                  ("kind", "Graded"), ("max_points", "Points"), ("scored", "Scored"),
                  ("ungraded", "Ungraded"), ("mean", "Mean"),
                  ("distribution", "Distribution (points: notebooks)")],
    "timing": [("assignment", "Assignment"), ("due", "Due"), ("with_time", "With a time"),
               ("first", "First"), ("last", "Last"), ("late", "Late"),
               ("penalised", "Penalised"), ("mean_hours_late", "Mean hours late")],
    "absent": [("student_id", "Student"), ("assignment", "Assignment"), ("status", "Status")],
}

TITLES = {
    "assignments": "Scores per assignment",
    "tests": "Pass rate of every test",
    "mistakes": "Most common diagnosed mistakes",
    "problems": "Submissions that timed out, crashed, were missing or unreadable",
    "totals": "Totals with the hand-graded written answers",
    "questions": "Score distribution of every question",
    "timing": "Submission times and late work",
    "absent": "Students who did not submit",
}


class ReportError(RuntimeError):
    """The report cannot be made (e.g. nothing has been graded yet); the message says why."""


# ----------------------------------------------------------------------------- reading

def _clean(record):
    """The parts of a result record the report may use; None if it is not a record."""
    if not isinstance(record, dict):
        return None
    try:
        tests = []
        for t in record.get("tests") or []:
            tests.append({
                "test": str(t["test"]),
                "functions": [str(f) for f in t.get("functions") or []],
                "passed": bool(t["passed"]),
                "points": float(t.get("points", 0.0)),
                "max_points": float(t.get("max_points", 0.0)),
                "diagnoses": [{"function": str(d.get("function", "")),
                               "problem": str(d.get("problem", "")),
                               "case": d.get("case")}
                              for d in t.get("diagnoses") or []],
            })
        return {
            "student_id": str(record["student_id"]),
            "assignment": str(record["assignment"]),
            "status": str(record.get("status", "graded")),
            "score": float(record.get("score", 0.0)),
            "max_score": float(record.get("max_score", 0.0)),
            "notes": [str(n) for n in record.get("notes") or []],
            "cell_errors": [str(c.get("error", "")) for c in record.get("cell_errors") or []
                            if isinstance(c, dict)],
            "tests": tests,
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def load_results(workspace):
    """([record], [warning]) from WS/results/**/*.json, in a fixed order."""
    results_dir = Path(workspace) / "results"
    if not results_dir.is_dir():
        raise ReportError(f"{results_dir} does not exist: grade the class first "
                          "(`python -m autograder grade SUBMITTED --workspace WS`)")
    records, warnings = [], []
    for path in sorted(results_dir.rglob("*.json")):
        try:
            record = _clean(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            record = None
        if record is None:
            warnings.append(f"{path.relative_to(results_dir)}: not a result record; skipped")
            continue
        records.append(record)
    if not records:
        raise ReportError(f"no graded results in {results_dir}: grade the class first")
    records.sort(key=lambda r: (r["assignment"], r["student_id"]))
    return records, warnings


# ----------------------------------------------------------------------------- diagnoses

def _separator(text):
    """Index of the first ": " outside brackets, else of the first ": ", else -1."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == ":" and depth == 0 and text.startswith(": ", i):
            return i
    return text.find(": ")


def split_problem(problem, function="", case=None):
    """(case name, diagnosis) of a problem "<case name>: <diagnosis>".

    When the record names the case (a "case" key), that is exact. Otherwise case names may
    themselves contain ": ", inside brackets ("... (no hidden layer: scores = X W1)") or after
    the function's name ("batchnorm_backward: N = 2 examples"), and so may diagnoses
    ("overflow at large scores: subtract the maximum ..."): the case name ends at the first
    ": " outside brackets, after a leading "<function>: " if there is one.
    """
    if case and problem.startswith(f"{case}: "):
        return case, problem[len(case) + 2:]
    lead = f"{function}: " if function else ""
    if lead and problem.startswith(lead):
        i = _separator(problem[len(lead):])
        if i >= 0:
            return problem[:len(lead) + i], problem[len(lead) + i + 2:]
    i = _separator(problem)
    if i < 0:
        return "", problem
    return problem[:i], problem[i + 2:]


def _consequence(diagnosis):
    """A case that did not run because an earlier one timed out: not a mistake of its own."""
    return diagnosis == "not run" or diagnosis.startswith("not run:")


# ----------------------------------------------------------------------------- tables

def _num(x):
    """A number as the tables show it: at most two decimals, no trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _rate(passed, total):
    return f"{100.0 * passed / total:.1f}%" if total else "n/a"


def assignment_table(records):
    rows = []
    for slug in sorted({r["assignment"] for r in records}):
        rs = [r for r in records if r["assignment"] == slug]
        scores = [r["score"] for r in rs]
        row = {"assignment": slug, "submissions": len(rs),
               "max_score": _num(max(r["max_score"] for r in rs)),
               "mean": _num(statistics.fmean(scores)), "median": _num(statistics.median(scores)),
               "min": _num(min(scores)), "max": _num(max(scores))}
        for status in STATUSES:
            row[status] = sum(r["status"] == status for r in rs)
        rows.append(row)
    return rows


def pass_rate_table(records):
    """One row per (assignment, test), in the order the tests appear in the notebooks."""
    order, stats = [], {}
    for r in records:
        for t in r["tests"]:
            key = (r["assignment"], t["test"])
            if key not in stats:
                order.append(key)
                stats[key] = {"functions": t["functions"], "passed": 0}
            stats[key]["passed"] += t["passed"]
    submissions = {}
    for r in records:
        submissions[r["assignment"]] = submissions.get(r["assignment"], 0) + 1
    order.sort(key=lambda k: k[0])  # stable: keeps the notebook order within an assignment
    rows = []
    for slug, test in order:
        s, n = stats[(slug, test)], submissions[slug]
        rows.append({"assignment": slug, "test": test, "functions": " ".join(s["functions"]),
                     "pass_rate": _rate(s["passed"], n), "passed": s["passed"],
                     "submissions": n})
    return rows


def mistake_groups(records):
    """{(assignment, function, diagnosis): {student_id: example case}}, every group."""
    groups = {}
    for r in records:
        if r["status"] in NOTHING_RAN:
            continue
        for t in r["tests"]:
            for d in t["diagnoses"]:
                case, diagnosis = split_problem(d["problem"], d["function"], d.get("case"))
                if _consequence(diagnosis):
                    continue
                students = groups.setdefault((r["assignment"], d["function"], diagnosis), {})
                students.setdefault(r["student_id"], case)
    return groups


def mistake_table(records, top=TOP):
    """The `top` most common diagnoses per assignment (all if top is None), most common first."""
    per_assignment = {}
    for (slug, function, diagnosis), students in mistake_groups(records).items():
        example = students[min(students)]
        per_assignment.setdefault(slug, []).append(
            {"assignment": slug, "function": function, "diagnosis": diagnosis,
             "students": len(students), "example_case": example})
    rows = []
    for slug in sorted(per_assignment):
        group = sorted(per_assignment[slug],
                       key=lambda g: (-g["students"], g["function"], g["diagnosis"]))
        rows += group if top is None else group[:top]
    return rows


def problem_table(records):
    rows = []
    for r in records:
        if r["status"] == "graded":
            continue
        details = list(r["cell_errors"])
        seen = set()
        for t in r["tests"]:
            for d in t["diagnoses"]:
                case, diagnosis = split_problem(d["problem"], d["function"], d.get("case"))
                if "timed out" in diagnosis or "crash" in diagnosis:
                    text = f"{d['function']}: {diagnosis}"
                    if text not in seen and not _consequence(diagnosis):
                        seen.add(text)
                        details.append(text)
        details = [d if len(d) <= DETAIL_CHARS else d[:DETAIL_CHARS] + "..." for d in details]
        rows.append({"student_id": r["student_id"], "assignment": r["assignment"],
                     "status": r["status"], "score": _num(r["score"]),
                     "notes": " | ".join(r["notes"]), "details": " | ".join(details)})
    rows.sort(key=lambda row: (row["assignment"], row["status"], row["student_id"]))
    return rows


def tables(records, top=TOP, rows=None, hand=None):
    """The tables of the report: {name: [row dict]}.

    rows: the grades table (totals.class_rows: totals, late judgement, non-submitters);
    hand: {(student, slug): {grade_id: (score or None, max, comment)}} from the gradebook.
    """
    rows = rows or []
    return {"assignments": assignment_table(records), "tests": pass_rate_table(records),
            "mistakes": mistake_table(records, top), "problems": problem_table(records),
            "totals": totals_table(rows), "questions": question_table(records, rows, hand or {}),
            "timing": timing_table(rows), "absent": absent_table(rows)}


def totals_table(rows):
    out = []
    for slug in sorted({r["assignment"] for r in rows}):
        rs = [r for r in rows if r["assignment"] == slug]
        complete = [r["total"] for r in rs if r["total"] != "ungraded"
                    and r["status"] not in ("not_submitted", "missing")]
        out.append({"assignment": slug, "students": len(rs),
                    "submitted": sum(r["status"] not in ("not_submitted", "missing") for r in rs),
                    "not_submitted": sum(r["status"] in ("not_submitted", "missing") for r in rs),
                    "hand_graded": sum(r["manual_score"] != "ungraded" and r["status"] not in
                                       ("not_submitted", "missing", "unreadable") for r in rs),
                    "ungraded": sum(r["manual_score"] == "ungraded" for r in rs),
                    "mean_total": _num(statistics.fmean(complete)) if complete else "n/a",
                    "max_total": _num(max(r["max_total"] for r in rs))})
    return out


def _distribution(points):
    counts = {}
    for p in points:
        counts[p] = counts.get(p, 0) + 1
    return ", ".join(f"{_num(p)}: {n}" for p, n in sorted(counts.items()))


def question_table(records, rows, hand):
    """Every automatic test and every written answer: how its points were distributed."""
    read = {(r["student_id"], r["assignment"]) for r in rows
            if r["status"] not in ("not_submitted", "missing", "unreadable")}
    out = []
    for slug in sorted({r["assignment"] for r in records}):
        rs = [r for r in records if r["assignment"] == slug]
        order = []
        for r in rs:
            for t in r["tests"]:
                if t["test"] not in order:
                    order.append(t["test"])
        for test in order:
            pts = [t["points"] for r in rs for t in r["tests"] if t["test"] == test]
            top = max(t["max_points"] for r in rs for t in r["tests"] if t["test"] == test)
            out.append({"assignment": slug, "question": test, "kind": "automatically",
                        "max_points": _num(top), "scored": len(pts), "ungraded": 0,
                        "mean": _num(statistics.fmean(pts)) if pts else "n/a",
                        "distribution": _distribution(pts)})
        written = {}
        for r in rs:
            if (r["student_id"], slug) not in read:
                continue
            for gid, (score, top, _) in hand.get((r["student_id"], slug), {}).items():
                written.setdefault(gid, {"top": top, "scores": [], "ungraded": 0})
                if score is None:
                    written[gid]["ungraded"] += 1
                else:
                    written[gid]["scores"].append(score)
        for gid, w in sorted(written.items()):
            out.append({"assignment": slug, "question": gid, "kind": "by hand",
                        "max_points": _num(w["top"]), "scored": len(w["scores"]),
                        "ungraded": w["ungraded"],
                        "mean": _num(statistics.fmean(w["scores"])) if w["scores"] else "n/a",
                        "distribution": _distribution(w["scores"]) or "none graded yet"})
    return out


def timing_table(rows):
    out = []
    for slug in sorted({r["assignment"] for r in rows}):
        rs = [r for r in rows if r["assignment"] == slug]
        times = sorted(r["submitted_at"] for r in rs if r["submitted_at"])
        late = [r for r in rs if r["late"] == "yes"]
        dues = sorted({r["due"] for r in rs if r["due"]})
        out.append({"assignment": slug, "due": dues[-1] if dues else "none",
                    "with_time": len(times), "first": times[0] if times else "",
                    "last": times[-1] if times else "", "late": len(late),
                    "penalised": sum(r["late_penalty"] > 0 for r in late),
                    "mean_hours_late": _num(statistics.fmean(r["hours_late"] for r in late))
                    if late else "n/a"})
    return out


def absent_table(rows):
    return sorted(({"student_id": r["student_id"], "assignment": r["assignment"],
                    "status": r["status"]} for r in rows
                   if r["status"] in ("not_submitted", "missing")),
                  key=lambda r: (r["assignment"], r["student_id"]))


# ----------------------------------------------------------------------------- figures

def _file_name(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "assignment"


def _save(fig, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})


def draw_figures(report_dir, records, test_rows):
    """Draw the figures; returns {assignment: [(relative path, alt text, caption)]}."""
    from matplotlib.figure import Figure

    folder = report_dir / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # figures of assignments no longer in the results
        old.unlink()
    out = {}
    for k, slug in enumerate(sorted({r["assignment"] for r in records})):
        rs = [r for r in records if r["assignment"] == slug]
        scores = [r["score"] for r in rs]
        top = max(max(r["max_score"] for r in rs), max(scores), 1e-9)
        width = max(1, math.ceil(top / 20))  # one bar per point up to 20 points
        edges = [width * (i - 0.5) for i in range(math.ceil(top / width) + 2)]
        fig = Figure(figsize=(6, 3.2))
        ax = fig.add_subplot()
        ax.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
        ax.set_xlim(edges[0], edges[-1])
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#c44e52", linestyle="--", label=f"mean {_num(mean)}")
        ax.set_xlabel(f"score (out of {_num(top)})")
        ax.set_ylabel("submissions")
        ax.set_title(f"Scores, {slug}")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="upper left")
        fig.tight_layout()
        name = f"{FIGURES}/{k + 1:02d}-{_file_name(slug)}-scores.png"
        _save(fig, report_dir / name)
        alt = (f"Histogram of the scores for {slug}: {len(scores)} submissions, mean "
               f"{_num(mean)}, median {_num(statistics.median(scores))} out of {_num(top)}.")
        entries = [(name, alt, f"Score distribution, {slug}")]

        rows = [t for t in test_rows if t["assignment"] == slug]
        fig = Figure(figsize=(6, 0.6 + 0.45 * max(len(rows), 1)))
        ax = fig.add_subplot()
        labels = [t["test"] for t in rows][::-1]
        rates = [100.0 * t["passed"] / t["submissions"] if t["submissions"] else 0.0
                 for t in rows][::-1]
        bars = ax.barh(range(len(rows)), rates, color="#55a868")
        ax.set_yticks(range(len(rows)), labels)
        ax.set_xlim(0, 100)
        ax.set_xlabel("pass rate (%)")
        ax.set_title(f"Pass rate per test, {slug}")
        ax.bar_label(bars, labels=[f"{x:.0f}%" for x in rates], padding=2)
        fig.tight_layout()
        name = f"{FIGURES}/{k + 1:02d}-{_file_name(slug)}-pass-rates.png"
        _save(fig, report_dir / name)
        alt = (f"Bar chart of the pass rate of each test in {slug}: " +
               "; ".join(f"{t['test']} {t['pass_rate']}" for t in rows) + ".")
        entries.append((name, alt, f"Pass rate per test, {slug}"))
        out[slug] = entries
    return out


# ----------------------------------------------------------------------------- writers

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; font-size: .92rem; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .55rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; width: 48%; margin: .5rem 1% .5rem 0; vertical-align: top; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
.warn { color: #8a4b00; }
nav a { margin-right: 1rem; }
"""

NUMERIC = {"submissions", "max_score", "mean", "median", "min", "max", "passed", "students",
           "pass_rate", "score", *STATUSES, "submitted", "not_submitted", "hand_graded",
           "ungraded", "mean_total", "max_total", "max_points", "scored", "with_time", "late",
           "penalised", "mean_hours_late"}


def _e(text):
    return html.escape(str(text), quote=True)


def _figure_row(figures, index):
    """One figure per assignment (the index-th of each), side by side."""
    cells = "".join(f"<figure><img src=\"{_e(src)}\" alt=\"{_e(alt)}\">"
                    f"<figcaption>{_e(caption)}</figcaption></figure>"
                    for src, alt, caption in (figures[slug][index] for slug in sorted(figures)))
    return f"<div class=\"figures\">{cells}</div>"


def _html_table(name, rows, empty):
    if not rows:
        return f"<p>{_e(empty)}</p>"
    cols = COLUMNS[name]
    head = "".join(f"<th scope=\"col\">{_e(title)}</th>" for _, title in cols)
    body = []
    for row in rows:
        cells = "".join(f"<td class=\"num\">{_e(row[key])}</td>" if key in NUMERIC
                        else f"<td>{_e(row[key])}</td>" for key, _ in cols)
        body.append(f"<tr>{cells}</tr>")
    return (f"<table id=\"table-{name}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def render_html(tbl, figures, warnings, n_records, top=TOP):
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             "<title>Class report</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>Class report</h1>",
             f"<p>{n_records} graded notebooks in {len(tbl['assignments'])} assignments. "
             "Built from the grader's result records only: diagnoses and notes, "
             "no student code.</p>"]
    for w in warnings:
        parts.append(f"<p class=\"warn\">{_e(w)}</p>")
    order = ["assignments", "totals", "questions", "timing", "absent", "tests", "mistakes",
             "problems"]
    parts.append("<nav>" + "".join(f"<a href=\"#{name}\">{_e(TITLES[name])}</a>"
                                   for name in order) + "</nav>")

    parts.append(f"<h2 id=\"assignments\">{_e(TITLES['assignments'])}</h2>")
    parts.append("<p>Automatic scores only; the totals with the written answers follow.</p>")
    parts.append(_html_table("assignments", tbl["assignments"], "No submissions."))
    parts.append(_figure_row(figures, 0))

    parts.append(f"<h2 id=\"totals\">{_e(TITLES['totals'])}</h2>")
    parts.append("<p>Total = automatic + hand-graded - late penalty. A notebook whose written "
                 "answer has not been graded by hand yet is counted as ungraded, not as 0, and "
                 "left out of the mean.</p>")
    parts.append(_html_table("totals", tbl["totals"], "No gradebook: nothing graded by hand."))
    parts.append(f"<h2 id=\"questions\">{_e(TITLES['questions'])}</h2>")
    parts.append(_html_table("questions", tbl["questions"], "No questions."))
    parts.append(f"<h2 id=\"timing\">{_e(TITLES['timing'])}</h2>")
    parts.append(_html_table("timing", tbl["timing"], "No submission times."))
    parts.append(f"<h2 id=\"absent\">{_e(TITLES['absent'])}</h2>")
    parts.append(_html_table("absent", tbl["absent"], "Every student on the roster submitted."))

    parts.append(f"<h2 id=\"tests\">{_e(TITLES['tests'])}</h2>")
    parts.append(_html_table("tests", tbl["tests"], "No tests."))
    parts.append(_figure_row(figures, 1))

    parts.append(f"<h2 id=\"mistakes\">{_e(TITLES['mistakes'])}</h2>")
    parts.append(f"<p>Diagnoses grouped by assignment, function and diagnosis (without the "
                 f"case's name); each student counts once per group. The {top} most common "
                 f"per assignment.</p>" if top is not None else "")
    parts.append(_html_table("mistakes", tbl["mistakes"], "No mistakes were diagnosed."))

    parts.append(f"<h2 id=\"problems\">{_e(TITLES['problems'])}</h2>")
    parts.append(_html_table("problems", tbl["problems"],
                             "Every notebook was read and ran within its time limits."))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_csv(report_dir, tbl):
    for name, rows in tbl.items():
        with open(report_dir / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            w = SafeWriter(f)
            w.writerow([key for key, _ in COLUMNS[name]])
            for row in rows:
                w.writerow([row[key] for key, _ in COLUMNS[name]])


def _class_rows(workspace, db_url, warnings):
    """The grades table and the hand scores (from the gradebook, if there is one)."""
    from . import totals
    hand = {}
    db_url = db_url or (f"sqlite:///{Path(workspace).resolve() / 'gradebook.db'}"
                        if (Path(workspace) / "gradebook.db").is_file() else None)
    if db_url:
        from .gradebook import GradebookError, manual_grades, open_gradebook
        try:
            with open_gradebook(db_url) as gb:
                hand = manual_grades(gb)
        except GradebookError as exc:
            warnings.append(f"hand scores left out: {exc}")
    try:
        roster = totals.roster_of(workspace)
    except totals.RosterError as exc:
        roster = []
        warnings.append(str(exc))
    return totals.class_rows(totals.load_records(workspace), hand, roster), hand


def build_report(workspace, fmt="html", *, top=TOP, db_url=None):
    """Write the report on WS's graded class into WS/report/.

    fmt="html": WS/report/index.html and its figures (WS/report/figures/*.png); returns the
    page's path. fmt="csv": one CSV per table (WS/report/<table>.csv); returns the WS/report
    folder. Hand scores come from the gradebook (db_url, default WS/gradebook.db). Raises ReportError if there is nothing to report.
    """
    if fmt not in ("html", "csv"):
        raise ValueError(f"unknown report format {fmt!r} (html or csv)")
    workspace = Path(workspace)
    records, warnings = load_results(workspace)
    rows, hand = _class_rows(workspace, db_url, warnings)
    tbl = tables(records, top, rows, hand)
    report_dir = workspace / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_csv(report_dir, tbl)
        return report_dir
    figures = draw_figures(report_dir, records, tbl["tests"])
    page = report_dir / "index.html"
    tmp = report_dir / ".index.html.tmp"
    tmp.write_text(render_html(tbl, figures, warnings, len(records), top), encoding="utf-8")
    tmp.replace(page)
    return page


# ----------------------------------------------------------------------------- command line

def cmd_report(args):
    try:
        out = build_report(args.workspace, args.format, db_url=getattr(args, "db", None))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "csv":
        print(f"wrote {', '.join(str(out / f'{n}.csv') for n in COLUMNS)}")
    else:
        print(f"wrote {out}")
    return 0


def add_parser(subparsers):
    """Register the `report` verb on the CLI's subparsers (argparse)."""
    p = subparsers.add_parser(
        "report", help="write the instructor's report on a graded class",
        description="Summarise a graded workspace (WS/results/) into WS/report/: score "
                    "distributions, the pass rate of every test, the most common diagnosed "
                    "mistakes and the submissions that timed out, crashed, were missing or "
                    "unreadable. html: WS/report/index.html with figures, viewable offline; "
                    "csv: assignments.csv, tests.csv, mistakes.csv and problems.csv.")
    p.add_argument("--workspace", required=True,
                   help="a workspace already graded by `python -m autograder grade`")
    p.add_argument("--format", choices=("html", "csv"), default="html",
                   help="html (default) or csv")
    p.add_argument("--db", default=None,
                   help="the gradebook URL the grade command used (default: WS/gradebook.db)")
    p.set_defaults(func=cmd_report)
    return p


def main(argv=None):
    """Run the `report` verb alone (until it is wired into `python -m autograder`)."""
    parser = argparse.ArgumentParser(prog="python -m autograder.report")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
