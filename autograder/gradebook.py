"""The nbgrader gradebook, written only by the coordinating grader process (and the manual page).

Any SQLAlchemy URL works (SQLite by default, PostgreSQL with --db). The assignment, its
notebook, its graded cells and its source cells are created from the source notebook, so no
manual nbgrader set-up is needed, and nbgrader's own tools (`nbgrader export`, formgrader,
`nbgrader generate_feedback`) can open the same database afterwards.

Who writes what: the grader writes the automatic scores of the code test cells, the
submission's timestamp and the late penalty; the manual page (or formgrader) writes the
hand scores and comments of the written answers. Regrading never touches a hand score.
"""
import datetime
import importlib.util
import os
import sys
import types
import warnings

COURSE_ID = "default_course"


def _import_api():
    """nbgrader.api, without what `import nbgrader` drags in and the gradebook never uses.

    nbgrader's package __init__ imports its Jupyter server extensions, and nbformat's
    jsonschema compiles an IRI grammar (rfc3987_syntax) at import time; together about
    three seconds of a one-notebook regrade. The gradebook needs neither: when nbgrader is
    not imported yet, its package is registered without running __init__, and the IRI
    checker (only used to validate "iri" strings in JSON schemas) is skipped.
    """
    if "nbgrader" not in sys.modules:
        spec = importlib.util.find_spec("nbgrader")
        package = types.ModuleType("nbgrader")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__file__ = spec.origin
        sys.modules["nbgrader"] = package
        if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
            sys.modules["rfc3987_syntax"] = None      # jsonschema suppresses the ImportError
            try:
                import jsonschema  # noqa: F401
            finally:
                del sys.modules["rfc3987_syntax"]
    import nbgrader.api
    return nbgrader.api


api = _import_api()
Gradebook, MissingEntry = api.Gradebook, api.MissingEntry


class GradebookError(RuntimeError):
    """The gradebook cannot be opened; the message says what to do."""


def open_gradebook(url):
    """Open (creating if needed) the gradebook at a SQLAlchemy URL; GradebookError if it can't."""
    import sqlalchemy.exc
    # nbgrader runs the `alembic` script of its own environment to stamp a new database.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    try:
        sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise GradebookError(f"--db {url!r} is not a database URL; give a SQLAlchemy URL such as "
                             "sqlite:////path/gradebook.db or postgresql+psycopg://user@host/db"
                             ) from None
    try:
        return Gradebook(url, course_id=COURSE_ID)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
        raise GradebookError(f"cannot open the gradebook at {url}: {reason}; check that the "
                             "database server is running and the URL, user and password are "
                             "right") from None
    except ImportError as exc:
        raise GradebookError(f"the gradebook URL {url} needs a database driver that is not "
                             f"installed ({exc.name})") from None


def foreign_assignments(gb, slugs):
    """Assignments in the gradebook that are not this course's (another course's gradebook)."""
    return sorted(a.name for a in gb.assignments if a.name not in set(slugs))


def prepare(gb, assignment, source_cells=(), duedate=None):
    """Create (or update) the assignment, notebook, graded cells and source cells.

    source_cells: [{name, cell_type, locked, source, checksum}] as nbgrader's SaveCells keeps
    them (its Autograde and feedback steps look them up).
    """
    slug = assignment.slug
    gb.update_or_create_assignment(slug, duedate=duedate)
    gb.update_or_create_notebook(slug, slug)
    for test in assignment.tests:
        gb.update_or_create_grade_cell(test.grade_id, slug, slug, max_score=test.points,
                                       cell_type="code")
    for gid, points in assignment.manual.items():
        gb.update_or_create_grade_cell(gid, slug, slug, max_score=points, cell_type="markdown")
        gb.update_or_create_solution_cell(gid, slug, slug)
    for gid in assignment.solution_ids:
        gb.update_or_create_solution_cell(gid, slug, slug)
    for cell in source_cells:
        gb.update_or_create_source_cell(cell["name"], slug, slug, cell_type=cell["cell_type"],
                                        locked=cell["locked"], source=cell["source"],
                                        checksum=cell["checksum"])


def _ensure_rows(gb, submission):
    """Grade and Comment rows for cells added to the assignment after the submission was made."""
    for nb in submission.notebooks:
        have_grades = {g.cell_id for g in nb.grades}
        have_comments = {c.cell_id for c in nb.comments}
        for cell in nb.notebook.grade_cells:
            if cell.id not in have_grades:
                gb.db.add(api.Grade(cell_id=cell.id, notebook=nb))
        for cell in nb.notebook.solution_cells:
            if cell.id not in have_comments:
                gb.db.add(api.Comment(cell_id=cell.id, notebook=nb))


def record(gb, assignment, student_id, scores, timestamp=None, penalty=0.0):
    """Store one submission's automatic scores ({test grade_id: points}) in one transaction.

    timestamp: an aware datetime (stored in UTC) or None; penalty: the late penalty in points.
    Hand scores and comments of the written answers are left as they are.
    """
    slug = assignment.slug
    try:
        gb.find_student(student_id)
    except MissingEntry:
        gb.add_student(student_id)
    stamp = timestamp.astimezone(datetime.timezone.utc).replace(tzinfo=None) if timestamp else None
    with warnings.catch_warnings():
        # nbgrader's own session handling warns on every new submission; it is harmless.
        warnings.simplefilter("ignore")
        submission = gb.update_or_create_submission(slug, student_id)
    submission.timestamp = stamp
    _ensure_rows(gb, submission)
    gb.db.flush()
    for nb in submission.notebooks:
        nb.late_submission_penalty = float(penalty) if penalty else None
    for test in assignment.tests:
        grade = gb.find_grade(test.grade_id, slug, slug, student_id)
        grade.auto_score = scores.get(test.grade_id, 0.0)
        grade.needs_manual_grade = False
    for gid in assignment.manual:
        grade = gb.find_grade(gid, slug, slug, student_id)
        grade.needs_manual_grade = grade.manual_score is None
    gb.db.commit()


def set_manual(gb, slug, student_id, grade_id, score, comment):
    """Store a hand score (None: not graded yet) and a comment for one written answer."""
    grade = gb.find_grade(grade_id, slug, slug, student_id)
    max_score = grade.cell.max_score
    if score is not None and not 0 <= score <= max_score:
        raise ValueError(f"a score for {grade_id} must be between 0 and {max_score:g}")
    grade.manual_score = score
    grade.needs_manual_grade = score is None
    note = gb.find_comment(grade_id, slug, slug, student_id)
    note.manual_comment = comment or None
    gb.db.commit()


def manual_grades(gb):
    """{(student_id, slug): {grade_id: (score or None, max_score, comment)}} for written answers.

    Two queries for the whole gradebook (the manual page calls this on every save)."""
    Grade, GradeCell, Comment = api.Grade, api.GradeCell, api.Comment
    SubNb, SubA, Assignment = api.SubmittedNotebook, api.SubmittedAssignment, api.Assignment
    grades = (gb.db.query(SubA.student_id, Assignment.name, GradeCell.name, Grade.manual_score,
                          GradeCell.max_score, SubNb.id)
              .join(GradeCell, Grade.cell_id == GradeCell.id)
              .join(SubNb, Grade.notebook_id == SubNb.id)
              .join(SubA, SubNb.assignment_id == SubA.id)
              .join(Assignment, SubA.assignment_id == Assignment.id)
              .filter(GradeCell.cell_type == "markdown").all())
    comments = {(nb_id, name): text for nb_id, name, text in
                gb.db.query(Comment.notebook_id, api.BaseCell.name, Comment.manual_comment)
                .join(api.BaseCell, Comment.cell_id == api.BaseCell.id).all()}
    out = {}
    for student, slug, gid, score, max_score, nb_id in grades:
        out.setdefault((student, slug), {})[gid] = (score, max_score, comments.get((nb_id, gid)))
    return out


def students(gb):
    return sorted(s.id for s in gb.students)
