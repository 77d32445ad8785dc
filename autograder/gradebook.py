"""The nbgrader gradebook, written only by the coordinating grader process.

Any SQLAlchemy URL works (SQLite by default, PostgreSQL with --db). The assignment, its
notebook and its graded cells are created from the source notebook, so no manual nbgrader
set-up is needed, and nbgrader's own tools (formgrader, manual grading of the written
answers) can open the same database afterwards.
"""
import os
import sys
import warnings

from nbgrader.api import Gradebook, MissingEntry


def open_gradebook(url):
    # nbgrader runs the `alembic` script of its own environment to stamp a new database.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(url, course_id="default_course")


def prepare(gb, assignment):
    """Create (or update) the assignment, notebook and graded cells."""
    slug = assignment.slug
    gb.update_or_create_assignment(slug)
    gb.update_or_create_notebook(slug, slug)
    for test in assignment.tests:
        gb.update_or_create_grade_cell(test.grade_id, slug, slug, max_score=test.points,
                                       cell_type="code")
    for gid, points in assignment.manual.items():
        gb.update_or_create_grade_cell(gid, slug, slug, max_score=points, cell_type="markdown")
        gb.update_or_create_solution_cell(gid, slug, slug)
    for gid in assignment.solution_ids:
        gb.update_or_create_solution_cell(gid, slug, slug)


def record(gb, assignment, student_id, scores):
    """Store one submission's automatic scores ({test grade_id: points}) in one transaction."""
    slug = assignment.slug
    try:
        gb.find_student(student_id)
    except MissingEntry:
        gb.add_student(student_id)
    with warnings.catch_warnings():
        # nbgrader's own session handling warns on every new submission; it is harmless.
        warnings.simplefilter("ignore")
        gb.update_or_create_submission(slug, student_id)
    for test in assignment.tests:
        grade = gb.find_grade(test.grade_id, slug, slug, student_id)
        grade.auto_score = scores.get(test.grade_id, 0.0)
    gb.db.commit()
