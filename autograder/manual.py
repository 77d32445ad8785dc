"""Grading the written answers by hand: `python -m autograder manual --workspace WS`.

A small page served by the standard library on 127.0.0.1 only. It lists every graded
notebook with its written answers, shows each answer next to the question and the automatic
results, and stores a score and a comment per answer in the gradebook with nbgrader's own
API (`Grade.manual_score`, `Comment.manual_comment`), where `nbgrader export` and
formgrader read them. Each save rewrites WS/grades.csv and that student's feedback page.

Safety: only loopback clients, and only requests whose Host is this server (no DNS
rebinding); the URL printed at start carries a random token, which the first visit turns
into a SameSite=Strict cookie; every form carries the token too and every POST must come
from this origin. Everything a student wrote is HTML-escaped, and the page's
Content-Security-Policy allows no script at all.
"""
import contextlib
import html
import http.server
import ipaddress
import secrets
import sys
import urllib.parse
from pathlib import Path

from . import feedback, totals
from .notebook import SubmissionError, _nbgrader, _source, parse_submission

MAX_ANSWER_CHARS = 20_000
MAX_FORM_BYTES = 64 * 1024


# ----------------------------------------------------------------------------- notebooks

def written_answers(assignment, data):
    """{grade_id: text} of the written answers in a submitted notebook (by grade_id)."""
    if not assignment.manual or data is None:
        return {}
    try:
        cells = parse_submission(data, "notebook")
    except SubmissionError:
        return {}
    out = {}
    for cell in cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in assignment.manual and gid not in out and cell.get("cell_type") == "markdown":
            out[gid] = _source(cell)[:MAX_ANSWER_CHARS]
    return out


def source_cells(release_nb):
    """nbgrader's source-cell rows ({name, cell_type, locked, source, checksum}) of a notebook."""
    out = []
    for cell in release_nb.get("cells", []):
        meta = _nbgrader(cell)
        if not meta.get("grade_id"):
            continue
        out.append({"name": meta["grade_id"], "cell_type": cell["cell_type"],
                    "locked": bool(meta.get("locked")), "source": _source(cell),
                    "checksum": meta.get("checksum")})
    return out


def questions(release_nb):
    """{grade_id: the markdown cell just before the written answer's cell (the question)}."""
    out, previous = {}, ""
    for cell in release_nb.get("cells", []):
        meta = _nbgrader(cell)
        if meta.get("grade") and meta.get("solution") and cell.get("cell_type") == "markdown":
            out[meta["grade_id"]] = previous
        previous = _source(cell) if cell.get("cell_type") == "markdown" else ""
    return out


# ----------------------------------------------------------------------------- pages

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 1.5rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: .8rem 0 1.6rem; font-size: .93rem; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #b42318; font-weight: 600; }
.ungraded { color: #8a4b00; font-weight: 600; }
.answer { white-space: pre-wrap; background: #fffbe6; border: 1px solid #eadb9c; padding: .8rem;
          border-radius: 4px; }
.question { white-space: pre-wrap; color: #444; background: #f6f8fa; padding: .6rem .8rem; }
form.grade { display: grid; grid-template-columns: 8rem 1fr; gap: .5rem 1rem; align-items: start;
             margin: .8rem 0 2rem; }
textarea { width: 100%; min-height: 5rem; font: inherit; box-sizing: border-box; }
input[type=number] { width: 7rem; font: inherit; }
button { justify-self: start; padding: .35rem 1.4rem; font: inherit; }
.saved { background: #e6f4ea; padding: .5rem .8rem; border-radius: 4px; }
.error { background: #fde7e9; padding: .5rem .8rem; border-radius: 4px; }
nav a { margin-right: 1rem; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _page(title, body):
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>")


def _hand_cell(grades):
    if not grades:
        return "<td>none</td>"
    done = [g for g in grades.values() if g[0] is not None]
    if len(done) < len(grades):
        return (f"<td class=\"ungraded\">ungraded ({len(done)} of {len(grades)} answers)</td>")
    return f"<td>{sum(g[0] for g in done):g} / {sum(g[1] for g in grades.values()):g}</td>"


class Course:
    """The workspace as the page sees it: records, release notebooks and the gradebook URL."""

    def __init__(self, workspace, db_url=None):
        from .notebook import ROOT, _read_json
        self.workspace = Path(workspace).resolve()
        self.db_url = db_url or f"sqlite:///{self.workspace / 'gradebook.db'}"
        self.releases = {}
        self._root, self._read = ROOT, _read_json
        self._gb = None

    def release(self, slug):
        if slug not in self.releases:
            self.releases[slug] = self._read(self._root / "exercises" / slug / f"{slug}.ipynb")
        return self.releases[slug]

    @contextlib.contextmanager
    def gradebook(self):
        """The gradebook, opened once; every use ends its transaction, so a grading run
        writing at the same time is never blocked by this page."""
        if self._gb is None:
            from .gradebook import open_gradebook
            self._gb = open_gradebook(self.db_url)
        try:
            yield self._gb
            self._gb.db.commit()
        except BaseException:
            self._gb.db.rollback()
            raise

    def close(self):
        if self._gb is not None:
            self._gb.close()

    def record(self, student, slug):
        records = {(r["student_id"], r["assignment"]): r
                   for r in totals.load_records(self.workspace)}
        return records.get((student, slug))


def index_page(course, token):
    from .gradebook import manual_grades
    with course.gradebook() as gb:
        hand = manual_grades(gb)
    rows = []
    records = sorted(totals.load_records(course.workspace),
                     key=lambda r: (r["assignment"], r["student_id"]))
    todo = 0
    for r in records:
        grades = hand.get((r["student_id"], r["assignment"]), {})
        todo += any(g[0] is None for g in grades.values()) and r.get("status") not in \
            totals.NOTHING_TO_READ
        link = "/grade?" + urllib.parse.urlencode({"student": r["student_id"],
                                                   "assignment": r["assignment"]})
        rows.append(f"<tr><td>{_e(r['assignment'])}</td><td><a href=\"{_e(link)}\">"
                    f"{_e(r['student_id'])}</a></td><td>{_e(r.get('status', ''))}</td>"
                    f"<td>{r.get('score', 0):g} / {r.get('max_score', 0):g}</td>"
                    + ("<td>nothing to grade</td>" if r.get("status") in totals.NOTHING_TO_READ
                       else _hand_cell(grades)) + "</tr>")
    body = (f"<h1>Written answers to grade by hand</h1><p>{todo} notebooks still have an "
            "ungraded written answer. Scores and comments are stored in the gradebook; "
            "grades.csv and the student's feedback page are updated on every save.</p>"
            "<table id=\"submissions\"><thead><tr><th>Assignment</th><th>Student</th>"
            "<th>Status</th><th>Automatic</th><th>Written answers</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")
    return _page("Manual grading", body)


def grade_page(course, token, student, slug, message=""):
    from .gradebook import manual_grades
    record = course.record(student, slug)
    if record is None:
        return None
    with course.gradebook() as gb:
        grades = manual_grades(gb).get((student, slug), {})
    written = record.get("written") or {}
    asked = questions(course.release(slug))
    tests = "".join(
        f"<tr><td><code>{_e(', '.join(t['functions']))}</code></td>"
        f"<td>{'<span class=pass>passed</span>' if t['passed'] else '<span class=fail>failed</span>'}"
        f"</td><td>{t['points']:g} / {t['max_points']:g}</td><td>"
        + "<br>".join(_e(text) for text, _ in feedback.group_diagnoses(t["diagnoses"]))
        + "</td></tr>" for t in record.get("tests") or [])
    forms = []
    for gid in sorted(grades, key=lambda g: list(asked).index(g) if g in asked else 99):
        score, max_score, comment = grades[gid]
        answer = written.get(gid)
        shown = (f"<div class=\"answer\" data-answer=\"{_e(gid)}\">{_e(answer)}</div>"
                 if answer and answer.strip() else
                 "<p class=\"ungraded\">No answer was found in this cell.</p>")
        state = ("<span class=\"ungraded\">ungraded</span>" if score is None
                 else f"{score:g} / {max_score:g}")
        forms.append(
            f"<section id=\"q-{_e(gid)}\"><h2>Written answer <code>{_e(gid)}</code> "
            f"({max_score:g} points): {state}</h2>"
            f"<div class=\"question\">{_e(asked.get(gid, ''))}</div><h3>The student's answer</h3>"
            f"{shown}<form class=\"grade\" method=\"post\" action=\"/grade\">"
            f"<input type=\"hidden\" name=\"token\" value=\"{_e(token)}\">"
            f"<input type=\"hidden\" name=\"student\" value=\"{_e(student)}\">"
            f"<input type=\"hidden\" name=\"assignment\" value=\"{_e(slug)}\">"
            f"<input type=\"hidden\" name=\"cell\" value=\"{_e(gid)}\">"
            f"<label for=\"score-{_e(gid)}\">Score (0 to {max_score:g})</label>"
            f"<input id=\"score-{_e(gid)}\" name=\"score\" type=\"number\" min=\"0\" "
            f"max=\"{max_score:g}\" step=\"0.25\" value=\"{'' if score is None else f'{score:g}'}\">"
            f"<label for=\"comment-{_e(gid)}\">Comment</label>"
            f"<textarea id=\"comment-{_e(gid)}\" name=\"comment\">{_e(comment or '')}</textarea>"
            f"<span></span><button type=\"submit\">Save</button></form></section>")
    following = next_ungraded(course, student, slug)
    nav_next = (f" <a id=\"next\" href=\"/grade?{_e(urllib.parse.urlencode(following))}\">"
                "Next ungraded notebook</a>" if following else " All written answers are graded.")
    late = record.get("late") or {}
    when = (f"Submitted {_e(late['timestamp'])}" + (" (late)" if late.get("late") else "")
            if late.get("timestamp") else "No submission time (no timestamp.txt).")
    body = (f"<nav><a href=\"/\">All submissions</a>{nav_next}</nav>"
            f"<h1>{_e(slug)}: {_e(student)}</h1>{message}"
            f"<p>Status: {_e(record.get('status', ''))}. Automatic score: "
            f"<strong>{record.get('score', 0):g} / {record.get('max_score', 0):g}</strong>. {when}</p>"
            + ("".join(forms) or "<p>This assignment has no written answers.</p>")
            + "<h2>Automatic results</h2><table id=\"tests\"><thead><tr><th>Function</th>"
              "<th>Result</th><th>Points</th><th>Diagnosis</th></tr></thead><tbody>"
            + tests + "</tbody></table>")
    return _page(f"{slug}: {student}", body)


def next_ungraded(course, student, slug):
    """{student, assignment} of the next notebook (in the index's order) still to grade."""
    from .gradebook import manual_grades
    with course.gradebook() as gb:
        hand = manual_grades(gb)
    order = sorted(((r["assignment"], r["student_id"]) for r in totals.load_records(course.workspace)
                    if r.get("status") not in totals.NOTHING_TO_READ))
    waiting = [(a, s) for a, s in order if (s, a) != (student, slug)
               and any(g[0] is None for g in hand.get((s, a), {}).values())]
    later = [k for k in waiting if k > (slug, student)] or waiting
    return {"student": later[0][1], "assignment": later[0][0]} if later else None


def save_grade(course, form):
    """Store one hand score from a submitted form; returns (student, slug, message html)."""
    from .gradebook import MissingEntry, manual_grades, set_manual
    student, slug, gid = form.get("student", ""), form.get("assignment", ""), form.get("cell", "")
    text = form.get("score", "").strip()
    try:
        score = None if text == "" else float(text)
    except ValueError:
        return student, slug, f"<p class=\"error\">{_e(text)} is not a number.</p>"
    comment = form.get("comment", "")[:MAX_ANSWER_CHARS]
    with course.gradebook() as gb:
        try:
            set_manual(gb, slug, student, gid, score, comment)
        except MissingEntry:
            return student, slug, "<p class=\"error\">No such written answer.</p>"
        except ValueError as exc:
            return student, slug, f"<p class=\"error\">{_e(exc)}</p>"
        totals.refresh(course.workspace, gb)
        hand = manual_grades(gb).get((student, slug))
    record = course.record(student, slug)
    if record is not None:
        feedback.write_page(course.workspace, record, hand)
    said = "cleared (ungraded)" if score is None else f"saved: {score:g}"
    return student, slug, f"<p class=\"saved\" role=\"status\">{_e(gid)} {said}.</p>"


# ----------------------------------------------------------------------------- server

class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "autograder-manual"
    course = None      # set on the subclass made by serve()
    token = None

    def log_message(self, fmt, *args):
        pass

    def _allowed(self):
        try:
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                return False
        except ValueError:
            return False
        port = self.server.server_address[1]
        return self.headers.get("Host") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _cookie_ok(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "ag_token" and secrets.compare_digest(value, self.token):
                return True
        return False

    def _send(self, status, body="", headers=()):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")   # "no-referrer" makes Origin null
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if not self._allowed():
            return self._send(403, "forbidden")
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if "token" in query and secrets.compare_digest(query["token"], self.token):
            cookie = f"ag_token={self.token}; HttpOnly; SameSite=Strict; Path=/"
            return self._send(303, "", [("Set-Cookie", cookie), ("Location", "/")])
        if not self._cookie_ok():
            return self._send(403, _page("Forbidden", "<p>Open the address the command printed "
                                                      "(it carries the access token).</p>"))
        if url.path == "/":
            return self._send(200, index_page(self.course, self.token))
        if url.path == "/grade":
            page = grade_page(self.course, self.token, query.get("student", ""),
                              query.get("assignment", ""), message=self._flash(query))
            return self._send(200, page) if page else self._send(404, _page("Not found",
                                                                          "<p>No such notebook.</p>"))
        return self._send(404, _page("Not found", "<p>Not found.</p>"))

    @staticmethod
    def _flash(query):
        return {"saved": "<p class=\"saved\" role=\"status\">Saved.</p>"}.get(query.get("m"), "")

    def do_POST(self):
        if not self._allowed() or not self._cookie_ok():
            return self._send(403, "forbidden")
        origin = self.headers.get("Origin")
        port = self.server.server_address[1]
        if origin not in (None, f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            return self._send(403, "cross-origin request refused")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            return self._send(413, "too large")
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8", "replace"),
                                           keep_blank_values=True))
        if not secrets.compare_digest(form.get("token", ""), self.token):
            return self._send(403, "bad token")
        if urllib.parse.urlsplit(self.path).path != "/grade":
            return self._send(404, "not found")
        student, slug, message = save_grade(self.course, form)
        page = grade_page(self.course, self.token, student, slug, message)
        return self._send(200 if page else 404, page or _page("Not found", "<p>No such notebook.</p>"))


def serve(workspace, db_url=None, port=0, stream=sys.stdout):
    """Serve the page on 127.0.0.1:port until interrupted; prints the address with its token."""
    course = Course(workspace, db_url)
    if not (course.workspace / "results").is_dir():
        raise FileNotFoundError(f"{course.workspace} has no graded results: grade the class first")
    with course.gradebook():
        pass                                 # fails now, with its message, if it cannot open
    handler = type("CourseHandler", (Handler,), {"course": course,
                                                 "token": secrets.token_urlsafe(24)})
    server = http.server.HTTPServer(("127.0.0.1", port), handler)
    address = f"http://127.0.0.1:{server.server_address[1]}/?token={handler.token}"
    print(f"manual grading on {address}", file=stream, flush=True)
    print("(only this machine can open it; Ctrl-C to stop)", file=stream, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        course.close()
    return 0

