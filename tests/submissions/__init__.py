"""Submissions the tests grade: for each assignment, correct variants and known mistakes.

Each module names its assignment (SLUG) and gives cell sources keyed by grade_id (the graded
function's name). A submission is the released notebook with those cells filled in; cells not
named keep the solution's code, so every mistake submission differs from a correct one in
exactly one function.

- CORRECT: {variant: {grade_id: source}}, differently written correct implementations,
  each of which must earn full marks.
- MISTAKES: {name: (cells, losing)}, a realistic misconception. `losing` is either a set of
  functions, each of which loses all its points, or {function: behaviours it loses} (the
  names of checks.Behaviour declared with its hidden cases; None: all of them), for a
  mistake that costs only what it breaks. Every other function and behaviour keeps its points
  (classgen.expected_score computes the planted score).
"""
