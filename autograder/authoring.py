"""Build nbgrader source notebooks from Python, with the cell metadata nbgrader expects.

    from autograder.authoring import *
    write("solutions/01-softmax/01-softmax.ipynb", [
        markdown("# Exercise: softmax"),
        readonly("setup", "import numpy as np"),
        solution("softmax", "def softmax(z, axis=-1):\n    ### BEGIN SOLUTION\n    ...\n    ### END SOLUTION"),
        tests("test_softmax", 3, "assert ...\n### BEGIN HIDDEN TESTS\nfrom autograder.checks import check\ncheck('softmax')\n### END HIDDEN TESTS"),
        answer("q_temperature", 2, "YOUR ANSWER HERE"),
    ])

The solution notebook in solutions/ is the source of truth; `python -m autograder release`
turns it into the student version.
"""
import nbformat

__all__ = ["markdown", "readonly", "solution", "tests", "answer", "write"]


def _meta(grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text):
    """Plain text for the student; not tracked by nbgrader."""
    return nbformat.v4.new_markdown_cell(text)


def readonly(grade_id, source, cell_type="code"):
    """A locked cell the grader restores if a student changes it (imports, helpers)."""
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata=_meta(grade_id, locked=True))


def solution(grade_id, source):
    """The cell where the student writes a graded function; grade_id = the function's name."""
    return nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, solution=True))


def tests(grade_id, points, source):
    """A locked, autograded test cell: visible tests, then the hidden ones."""
    return nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True,
                                                            points=points))


def answer(grade_id, points, text="YOUR ANSWER HERE"):
    """A written answer, graded by hand."""
    return nbformat.v4.new_markdown_cell(text, metadata=_meta(grade_id, grade=True, solution=True,
                                                              points=points))


def write(path, cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    nbformat.validate(nb)
    nbformat.write(nb, path)
