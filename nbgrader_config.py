# nbgrader's course layout for this repository: source notebooks (with solutions and hidden
# tests) in solutions/, student versions generated into exercises/ by `python -m autograder release`.
c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Our grader keeps its own gradebook in the grading workspace; releasing needs none.
c.GenerateAssignment.no_database = True
c.SaveCells.enabled = False
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]
