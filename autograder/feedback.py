"""One HTML page per graded notebook, for the student.

It shows each test with its points and the diagnosis in words, the student's own code for
each graded function, and what happened while running the notebook. It is built only from
the result record: the names of the checks, the diagnoses and the student's own code, never
from the source notebook, so no hidden test or reference code can reach it.
"""
import html
from pathlib import Path

STATUS_TEXT = {
    "graded": "Graded.",
    "timed_out": "Graded; part of the notebook ran out of time (see below).",
    "crashed": "The notebook stopped the grader's sandbox; what it had not finished earned no points.",
    "missing": "No notebook was submitted.",
    "unreadable": "The submitted file could not be read as a notebook.",
}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; vertical-align: top; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #b42318; font-weight: 600; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; border-radius: 4px; }
.score { font-size: 1.4rem; }
.partial { color: #9a6700; font-weight: 600; }
ul.behaviours { list-style: none; padding-left: 0; margin: 0; }
li.behaviour { margin: .15rem 0; } li.behaviour ul { margin: .2rem 0 .4rem; }
.pts { color: #57606a; white-space: nowrap; margin-left: .3rem; }
.note { margin: .4rem 0 0; padding: .3rem .5rem; background: #fff8c5; border-radius: 4px; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def group_diagnoses(diagnoses, shown_cases=3):
    """[(diagnosis, "case a, case b and 2 more")]: one line per distinct diagnosis."""
    groups = {}
    for d in diagnoses:
        groups.setdefault(d.get("diagnosis", d["problem"]), []).append(d.get("case", ""))
    out = []
    for text, cases in groups.items():
        named = ", ".join(c for c in cases[:shown_cases] if c)
        more = len(cases) - shown_cases
        label = "case" if len(cases) == 1 else "cases"
        out.append((text, f"{label}: {named}" + (f" and {more} more" if more > 0 else "")))
    return out


def _diagnosis_list(diagnoses, shown=3):
    """The distinct diagnoses, the first `shown` of them in full (the rest are counted)."""
    groups = group_diagnoses(diagnoses)
    items = "".join(f"<li>{_e(text)} <small>({_e(cases)})</small></li>"
                    for text, cases in groups[:shown])
    if len(groups) > shown:
        rest = sum(1 for d in diagnoses if d.get("diagnosis", d["problem"]) not in
                   {text for text, _ in groups[:shown]})
        items += (f"<li><small>and {rest} more failing case{'s' if rest > 1 else ''} "
                  f"like these</small></li>")
    return f"<ul>{items}</ul>" if items else ""


def _behaviours(test):
    """The split of a test's points: one line per behaviour, with what went wrong in it."""
    behaviours = test.get("behaviours") or []
    if len(behaviours) <= 1:
        return _diagnosis_list(test["diagnoses"])
    several = len({b.get("function") for b in behaviours}) > 1
    failing = [b for b in behaviours if not b["passed"]]
    # the same diagnoses in every failing behaviour (e.g. the function is missing): say it once
    shared = len(failing) > 1 and all(group_diagnoses(b["diagnoses"]) ==
                                      group_diagnoses(failing[0]["diagnoses"]) for b in failing)
    lines = []
    for b in behaviours:
        mark = '<span class="pass">&#10003;</span>' if b["passed"] else '<span class="fail">&#10007;</span>'
        who = f"<code>{_e(b['function'])}</code>: " if several else ""
        lines.append(f'<li class="behaviour">{mark} {who}{_e(b["name"])} '
                     f'<span class="pts">{b["points"]:g} / {b["max_points"]:g}</span>'
                     f'{"" if shared else _diagnosis_list(b["diagnoses"])}</li>')
    after = _diagnosis_list(failing[0]["diagnoses"]) if shared else ""
    return f'<ul class="behaviours">{"".join(lines)}</ul>{after}'


def _hand_section(r, manual):
    """The written answers' hand scores and comments, and the late penalty, if any."""
    parts = []
    if r["manual_max_score"]:
        if not manual or any(score is None for score, _, _ in manual.values()):
            parts.append(f"<p>Written answers ({r['manual_max_score']:g} points) are graded by "
                         "hand and have not all been graded yet.</p>")
        rows = "".join(
            f"<tr><td><code>{_e(gid)}</code></td><td>"
            + ("not graded yet" if score is None else f"{score:g} / {top:g}")
            + f"</td><td>{_e(comment or '')}</td></tr>"
            for gid, (score, top, comment) in sorted((manual or {}).items()))
        if rows:
            parts.append("<h2>Written answers</h2><table><thead><tr><th>Answer</th><th>Points</th>"
                         f"<th>Comment</th></tr></thead><tbody>{rows}</tbody></table>")
    late = r.get("late") or {}
    if late.get("late"):
        hours = late.get("seconds_late", 0) / 3600
        parts.append(f"<p>Submitted {hours:.1f} hours after the due date"
                     + (f": {late['penalty']:g} point{'' if late['penalty'] == 1 else 's'} "
                                 "taken off the total." if late.get("penalty")
                        else ".") + "</p>")
    if manual and all(score is not None for score, _, _ in manual.values()):
        total = max(0.0, r["score"] + sum(s for s, _, _ in manual.values())
                    - (late.get("penalty") or 0.0))
        parts.append(f"<p class=\"score\">Total: <strong>{total:g} / "
                     f"{r['max_score'] + r['manual_max_score']:g}</strong></p>")
    return "\n".join(parts)


def render(result, manual=None):
    """The page for one result record; manual: {grade_id: (score or None, max, comment)}."""
    r = result
    rows = []
    for t in r["tests"]:
        if t["passed"]:
            mark = '<span class="pass">passed</span>'
        elif t["points"] > 0:
            mark = '<span class="partial">partly</span>'
        else:
            mark = '<span class="fail">failed</span>'
        notes = "".join(f'<p class="note">{_e(n)}</p>' for n in t.get("notes") or [])
        rows.append(f"<tr><td><code>{_e(', '.join(t['functions']))}</code></td><td>{mark}</td>"
                    f"<td>{t['points']:g} / {t['max_points']:g}</td>"
                    f"<td>{_behaviours(t)}{notes}</td></tr>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in r["notes"])
    errors = "".join(f"<li>cell {e['cell'] + 1}: {_e(e['error'])}</li>" for e in r["cell_errors"])
    code = "".join(f"<h3><code>{_e(gid)}</code></h3><pre><code>{_e(src)}</code></pre>"
                   for gid, src in r["student_code"])
    hand = _hand_section(r, manual)
    output = (f"<h2>What your notebook printed</h2><pre>{_e(r['output'])}</pre>"
              if r["output"].strip() else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Feedback: {_e(r['assignment'])} for {_e(r['student_id'])}</title>
<style>{STYLE}</style></head><body>
<h1>Feedback on {_e(r['assignment'])}</h1>
<p>Student: <strong>{_e(r['student_id'])}</strong>. {_e(STATUS_TEXT.get(r['status'], r['status']))}</p>
<p class="score">Automatic score: <strong>{r['score']:g} / {r['max_score']:g}</strong></p>
{hand}
<h2>Tests</h2>
<table class="tests"><thead><tr><th>Function</th><th>Result</th><th>Points</th><th>What was checked, and what went wrong</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{'<h2>Notes</h2><ul>' + notes + '</ul>' if notes else ''}
{'<h2>Errors while running your cells</h2><ul>' + errors + '</ul>' if errors else ''}
<h2>Your code</h2>
{code or '<p>No code was found in the cells for the graded functions.</p>'}
{output}
</body></html>
"""


def write_page(workspace, result, manual=None):
    path = Path(workspace) / "feedback" / result["student_id"] / result["assignment"] / \
        f"{result['assignment']}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, manual), encoding="utf-8")
    return path
