"""The instructor's workflow end to end, with the real tools at every step.

A small class is graded by `python -m autograder grade` with due dates, a late policy and a
roster; then a written answer is graded by hand in Chromium on the project's manual page,
and the total is followed into grades.csv, the report, `nbgrader export`, the feedback page
handed back by `nbgrader release_feedback`, and the Canvas and Moodle exports parsed back.
"""
import csv
import datetime
import json
import math
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from autograder import classgen, report
from autograder.notebook import ROOT, load_assignment
from conftest import read_csv, run_grade

SHOTS = Path(os.environ.get("AUTOGRADER_SHOTS", "/work/wt/shots/instr"))
SLUGS = ["01-softmax", "02-cross-entropy"]
CHROMIUM = "/usr/bin/chromium"
DUE = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
POLICY = (0.5, 2.0)            # per started hour, cap
# student: hours after the due date each notebook was submitted (None: no timestamp.txt)
LATENESS = {"ada": -2.0, "bob": 0.25, "cy<b>": 3.5, "dee": 30.0, "eve": None}
ROSTER = ["ada", "bob", "cy<b>", "dee", "eve", "fay"]      # fay submits nothing
ANSWER = "As c grows, softmax(c z) <b>sharpens</b> & tends to one-hot; <script>x()</script>"
NBGRADER = str(Path(sys.executable).parent / "nbgrader")


def expected_penalty(hours):
    if hours is None or hours <= 0:
        return 0.0
    return min(math.ceil(hours) * POLICY[0], POLICY[1])


def write_class(folder):
    plan = []
    for k, student in enumerate(LATENESS):
        for slug in SLUGS:
            name, cells, _ = classgen.variants(slug)[k % 3]
            plan.append((student, slug, cells))
    classgen.write_class(folder, plan)
    for student, hours in LATENESS.items():
        for slug in SLUGS:
            sub = folder / student / slug
            if hours is not None:
                when = DUE + datetime.timedelta(hours=hours)
                (sub / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            nb = json.loads((sub / f"{slug}.ipynb").read_text())
            for cell in nb["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") in load_assignment(slug).manual:
                    cell["source"] = f"{student}: {ANSWER}"
            (sub / f"{slug}.ipynb").write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workflow")
    write_class(tmp / "submitted")
    roster = tmp / "roster.csv"
    with open(roster, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "lms_id", "name", "email", "section"])
        for i, sid in enumerate(ROSTER):
            w.writerow([sid, f"{1000 + i}", f"Name {i}", f"s{i}@example.edu", "A"])
    deadlines = tmp / "deadlines.json"
    deadlines.write_text(json.dumps({"due": {s: DUE.isoformat() for s in SLUGS},
                                     "policy": {"method": "per_hour", "points": POLICY[0],
                                                "cap": POLICY[1]}}))
    ws = tmp / "ws"
    proc = run_grade(tmp / "submitted", ws, "--deadlines", str(deadlines), "--roster", str(roster),
                     "--workers", "2")
    return {"tmp": tmp, "ws": ws, "out": proc.stdout, "roster": roster}


def grades(ws):
    return {(r["student_id"], r["assignment"]): r for r in read_csv(ws / "grades.csv")}


def test_late_work_is_flagged_and_penalised_as_the_policy_says(course):
    """Does each notebook's timestamp.txt give the late flag and penalty the policy states?"""
    rows = grades(course["ws"])
    for student, hours in LATENESS.items():
        for slug in SLUGS:
            row = rows[(student, slug)]
            assert row["late"] == ("yes" if hours and hours > 0 else "no"), (student, row)
            assert float(row["late_penalty"]) == expected_penalty(hours), (student, row)
            assert (row["submitted_at"] == "") == (hours is None)
    n_late = sum(bool(h and h > 0) for h in LATENESS.values()) * len(SLUGS)
    assert f"{n_late} late" in course["out"]


def test_unfinished_hand_grading_shows_as_ungraded_and_non_submitters_get_rows(course):
    """Is a written answer nobody graded yet shown as "ungraded", never 0, and is fay there?"""
    rows = grades(course["ws"])
    for student in LATENESS:
        for slug in SLUGS:
            assert rows[(student, slug)]["manual_score"] == "ungraded"
            assert rows[(student, slug)]["total"] == "ungraded"
    for slug in SLUGS:
        fay = rows[("fay", slug)]
        assert fay["status"] == "not_submitted" and float(fay["total"]) == 0
        assert float(fay["max_total"]) == load_assignment(slug).max_score + sum(
            load_assignment(slug).manual.values())


# ----------------------------------------------------------------------------- the page

@pytest.fixture(scope="module")
def manual_server(course):
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "manual", "--workspace",
                             str(course["ws"])], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
    assert match, line + proc.stderr.read() if proc.poll() is not None else line
    yield {"base": match.group(1), "token": match.group(2), "url": match.group(0)}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).is_file(), "Debian's chromium is not installed (make sysdeps)"
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    offsite = []

    def route(r):
        host = r.request.url.split("/")[2] if "://" in r.request.url else ""
        if host.startswith(("127.0.0.1", "localhost")) or r.request.url.startswith(("data:", "file:")):
            r.continue_()
        else:
            offsite.append(r.request.url)
            r.abort()
    context.route("**/*", route)
    yield context, offsite
    context.close()
    browser.close()
    pw.stop()


def test_a_written_answer_graded_in_the_browser_reaches_every_total(course, manual_server,
                                                                    chromium):
    """Grade dee's written answer by hand in Chromium: does the total reach grades.csv, the
    feedback page, the report and `nbgrader export`, with the late penalty taken off?"""
    context, offsite = chromium
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(manual_server["url"])
    assert page.locator("#submissions").count() == 1
    assert page.locator("#submissions a", has_text="cy<b>").count() == len(SLUGS)   # as text
    assert page.locator("#submissions b").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "manual-index.png"), full_page=True)
    slug, student = SLUGS[0], "dee"
    page.click(f"#submissions tr:has(td:text-is('{slug}')) a:text-is('{student}')")
    gid = next(iter(load_assignment(slug).manual))
    answer = page.locator(f"[data-answer='{gid}']")
    assert answer.inner_text() == f"{student}: {ANSWER}"          # shown as text, not markup
    assert page.locator("b, script:not(head script)").count() == 0
    page.fill(f"#score-{gid}", "1.5")
    page.fill(f"#comment-{gid}", "Right idea; say what happens as c -> 0.")
    page.click(f"#q-{gid} button[type=submit]")
    page.wait_for_selector(".saved")
    page.screenshot(path=str(SHOTS / "manual-grade.png"), full_page=True)
    # the notebook's other written answers (the experiment's questions): 0 points each, so the
    # total is complete and still carries exactly the 1.5 given above
    for other in list(load_assignment(slug).manual)[1:]:
        page.fill(f"#score-{other}", "0")
        page.click(f"#q-{other} button[type=submit]")
        page.wait_for_selector(f".saved:has-text('{other} saved')")
    assert not errors and not offsite

    auto = float(grades(course["ws"])[(student, slug)]["score"])
    penalty = expected_penalty(LATENESS[student])
    row = grades(course["ws"])[(student, slug)]
    assert float(row["manual_score"]) == 1.5
    assert float(row["total"]) == max(0.0, auto + 1.5 - penalty)
    # the others are still ungraded: one hand score changes one row
    assert grades(course["ws"])[("ada", slug)]["total"] == "ungraded"

    fb = (course["ws"] / "feedback" / student / slug / f"{slug}.html").read_text()
    assert "Right idea; say what happens as c -&gt; 0." in fb
    assert f"{max(0.0, auto + 1.5 - penalty):g} / " in fb

    page_path = report.build_report(course["ws"])
    text = page_path.read_text()
    questions = {(r["assignment"], r["question"]): r
                 for r in read_csv(report.build_report(course["ws"], fmt="csv") / "questions.csv")}
    written = questions[(slug, gid)]
    assert (written["scored"], written["ungraded"]) == ("1", str(len(LATENESS) - 1))
    assert written["distribution"] == "1.5: 1"
    absent = read_csv(course["ws"] / "report" / "absent.csv")
    assert {(r["student_id"], r["assignment"]) for r in absent} == {("fay", s) for s in SLUGS}
    timing = {r["assignment"]: r for r in read_csv(course["ws"] / "report" / "timing.csv")}
    n_late = sum(bool(h and h > 0) for h in LATENESS.values())
    assert timing[slug]["late"] == str(n_late)
    assert f"{student}: {ANSWER}" not in text and "sharpens" not in text   # no student text
    page.goto(page_path.as_uri())
    page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
    assert not errors and not offsite

    out = course["tmp"] / "nbgrader-export.csv"
    proc = subprocess.run([NBGRADER, "export", f"--CourseDirectory.root={course['ws']}",
                           f"--CourseDirectory.db_url=sqlite:///{course['ws'] / 'gradebook.db'}",
                           "--to", str(out)], capture_output=True, text=True, cwd=course["tmp"])
    assert proc.returncode == 0, proc.stderr
    exported = {(r["student_id"], r["assignment"]): r for r in read_csv(out)}
    mine = exported[(student, slug)]
    assert float(mine["raw_score"]) == auto + 1.5
    assert float(mine["late_submission_penalty"]) == penalty
    assert float(mine["score"]) == float(row["total"])
    assert mine["timestamp"].startswith((DUE + datetime.timedelta(hours=30)).strftime("%Y-%m-%d %H"))
    assert ("fay", slug) in exported


def test_the_page_refuses_requests_without_its_token_or_from_elsewhere(manual_server):
    """Can another page or a request without the token read or write grades?"""
    base = manual_server["base"]

    def status(path, data=None, headers=None):
        req = urllib.request.Request(base + path, data=data, headers=headers or {})
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("/") == 403
    assert status("/", headers={"Cookie": "ag_token=wrong"}) == 403
    cookie = {"Cookie": f"ag_token={manual_server['token']}"}
    assert status("/", headers=cookie) == 200
    assert status("/", headers=dict(cookie, Host="evil.example")) == 403
    form = f"token={manual_server['token']}&student=ada&assignment=01-softmax&cell=x&score=1"
    assert status("/grade", form.encode(), dict(cookie, Origin="http://evil.example")) == 403
    assert status("/grade", form.replace("token=", "token=x").encode(), cookie) == 403


# ----------------------------------------------------------------------------- handing back

def test_release_feedback_and_archives_hand_back_every_page(course):
    """Does `nbgrader release_feedback` deliver the project's feedback pages, named by the
    submission secret, and does --archive make one zip per student?"""
    ws = course["ws"]
    proc = subprocess.run([sys.executable, "-m", "autograder", "feedback", "--workspace", str(ws),
                           "--archive"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    exchange = course["tmp"] / "exchange"
    exchange.mkdir(exist_ok=True)
    from nbgrader.utils import notebook_hash
    for slug in SLUGS:
        proc = subprocess.run([NBGRADER, "release_feedback", slug, "--course", "default_course",
                               f"--Exchange.root={exchange}", f"--CourseDirectory.root={ws}"],
                              capture_output=True, text=True, cwd=course["tmp"])
        assert proc.returncode == 0, proc.stderr
        for student in LATENESS:
            secret = (ws / "feedback" / student / slug / "submission_secret.txt").read_text()
            released = exchange / "default_course" / "feedback" / \
                f"{notebook_hash(secret=secret, notebook_id=slug)}.html"
            assert released.read_bytes() == (ws / "feedback" / student / slug / f"{slug}.html").read_bytes()
    for student in LATENESS:
        with zipfile.ZipFile(ws / "feedback-archives" / f"{student}.zip") as z:
            assert sorted(z.namelist()) == sorted(f"{s}/{s}.html" for s in SLUGS)
    assert not (ws / "feedback-archives" / "fay.zip").exists()


# ----------------------------------------------------------------------------- LMS exports

def export(ws, to, *extra):
    out = ws / f"test-export-{to}.csv"
    proc = subprocess.run([sys.executable, "-m", "autograder", "export", "--workspace", str(ws),
                           "--to", to, "--out", str(out), *extra], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.reader(f)), proc.stdout


def test_canvas_and_moodle_exports_parse_back_to_the_totals(course):
    """Do the Canvas and Moodle files hold every roster student with the grades.csv total
    (blank while a hand grade is pending), and are missing and extra students reported?"""
    rows = grades(course["ws"])
    canvas, said = export(course["ws"], "canvas")
    head, points, body = canvas[0], canvas[1], canvas[2:]
    assert head[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert head[5:] == SLUGS and points[0] == "Points Possible"
    assert [float(p) for p in points[5:]] == [float(rows[("ada", s)]["max_total"]) for s in SLUGS]
    assert [r[2] for r in body] == ROSTER and [r[1] for r in body] == [f"{1000 + i}" for i in range(6)]
    for r in body:
        for slug, cell in zip(SLUGS, r[5:]):
            total = rows[(r[2], slug)]["total"]
            assert cell == ("" if total == "ungraded" else f"{float(total):g}"), (r, slug)
    assert "wait for a hand grade" in said

    moodle, _ = export(course["ws"], "moodle")
    assert moodle[0] == ["Full name", "ID number", "Email address"] + SLUGS
    assert {r[1]: r[3:] for r in moodle[1:]} == {r[1]: r[5:] for r in body}

    short = course["tmp"] / "short-roster.csv"
    short.write_text("student_id,lms_id\nada,1\nzed,2\n")
    _, said = export(course["ws"], "canvas", "--roster", str(short))
    assert "zed" in said and "not in the roster" in said and "bob" in said


# ----------------------------------------------------------------------------- regrading

def test_regrading_one_student_keeps_every_row_and_the_hand_scores(course):
    """After a hand score, does regrading one student (--student, --force) or one
    --assignment keep every other row and the hand score?"""
    from autograder import gradebook, totals
    ws, slug = course["ws"], SLUGS[1]
    with gradebook.open_gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:
        first, *others = load_assignment(slug).manual    # every written answer, so a total
        gradebook.set_manual(gb, slug, "dee", first, 2.0, "a hand score given before the regrade")
        for other in others:
            gradebook.set_manual(gb, slug, "dee", other, 0.0, "")
        totals.refresh(ws, gb)
    before = grades(ws)
    assert before[("dee", slug)]["manual_score"] == "2"
    run_grade(course["tmp"] / "submitted", ws, "--student", "dee", "--force")
    after = grades(ws)
    assert after == before
    run_grade(course["tmp"] / "submitted", ws, "--assignment", SLUGS[1])
    assert grades(ws) == before
    assert json.loads((ws / "deadlines.json").read_text())["policy"]["method"] == "per_hour"


# ----------------------------------------------------------------------------- refusals

def test_every_cannot_proceed_case_is_exit_2_with_a_message(course, tmp_path):
    """Do a bad --db, an unknown slug, a wrong layout, an nbgrader course root, another
    course's gradebook, a busy workspace and a scheduler file given as an address all exit 2
    with a message that says what to do?"""
    sub = course["tmp"] / "submitted"

    def refused(*args, submitted=sub, ws=tmp_path / "ws"):
        proc = run_grade(submitted, ws, *args, check=False, timeout=300)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stderr

    assert "not a database URL" in refused("--db", "notaurl")
    assert "cannot open the gradebook" in refused(
        "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    said = refused("--assignment", "99-nothing")
    assert "99-nothing" in said and all(s in said for s in SLUGS)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "01-softmax.ipynb").write_text("{}")
    assert "nbgrader's layout" in refused(submitted=flat)
    course_root = tmp_path / "course"
    (course_root / "source").mkdir(parents=True)
    assert "nbgrader course folder" in refused(ws=course_root)
    other = tmp_path / "other"
    from autograder.gradebook import open_gradebook
    other.mkdir()
    with open_gradebook(f"sqlite:///{other / 'gradebook.db'}") as gb:
        gb.add_assignment("ps1")
    assert "another course" in refused(ws=other)
    assert "--scheduler-file" in refused("--scheduler", "scheduler.json")
    assert "does not exist" in refused("--scheduler-file", str(tmp_path / "none.json"))
    import fcntl
    busy = tmp_path / "busy"
    busy.mkdir()
    with open(busy / ".grading.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert "another grading run" in refused(ws=busy)


def test_nbgrader_generate_feedback_works_on_the_workspace(course, tmp_path):
    """Is the workspace an nbgrader course as far as nbgrader's own feedback step goes
    (gradebook, source cells, autograded/ notebooks): does it render the hand comment?"""
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(course["ws"], copy)
    shutil.rmtree(copy / "feedback")
    from autograder import gradebook
    with gradebook.open_gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
        gradebook.set_manual(gb, SLUGS[0], "dee", next(iter(load_assignment(SLUGS[0]).manual)),
                             1.5, "Right idea; say what happens as c -> 0.")
    proc = subprocess.run([NBGRADER, "generate_feedback", SLUGS[0],
                           f"--CourseDirectory.root={copy}",
                           f"--CourseDirectory.db_url=sqlite:///{copy / 'gradebook.db'}"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (copy / "feedback" / "dee" / SLUGS[0] / f"{SLUGS[0]}.html").read_text()
    assert "Right idea; say what happens as c -&gt; 0." in page
    assert "BEGIN HIDDEN TESTS" not in page and "check(" not in page


def test_a_written_question_added_later_gets_a_row_and_old_hand_scores_stay(tmp_path):
    """When an assignment gains a written question after notebooks were graded, does
    regrading add its gradebook row (ungraded) and keep the hand score already given?"""
    import dataclasses
    from autograder import gradebook, totals
    slug = SLUGS[0]
    before = load_assignment(slug)
    gid = next(iter(before.manual))
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with gradebook.open_gradebook(url) as gb:
        gradebook.prepare(gb, before)
        gradebook.record(gb, before, "ada", {t.grade_id: t.points for t in before.tests})
        gradebook.set_manual(gb, slug, "ada", gid, 1.0, "fine")
        after = dataclasses.replace(before, manual=dict(before.manual, q_added_later=3.0))
        gradebook.prepare(gb, after)
        gradebook.record(gb, after, "ada", {t.grade_id: 0.0 for t in after.tests})
        hand = gradebook.manual_grades(gb)[("ada", slug)]
        with pytest.raises(ValueError):
            gradebook.set_manual(gb, slug, "ada", "q_added_later", 3.5, "")
    assert hand[gid] == (1.0, before.manual[gid], "fine")
    assert hand["q_added_later"] == (None, 3.0, None)
    record = {"student_id": "ada", "assignment": slug, "score": 0.0, "status": "graded",
              "max_score": after.max_score, "manual_max_score": sum(after.manual.values())}
    assert totals.submission_row(record, hand)["total"] == "ungraded"
