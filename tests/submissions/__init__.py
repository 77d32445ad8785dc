"""Submissions the tests grade: for each assignment, correct variants and known mistakes.

Each module names its assignment (SLUG) and gives cell sources keyed by grade_id (the graded
function's name). A submission is the released notebook with those cells filled in; cells not
named keep the solution's code, so every mistake submission differs from a correct one in
exactly one function.

- CORRECT: {variant: {grade_id: source}}, differently written correct implementations,
  each of which must earn full marks.
- MISTAKES: {name: (cells, functions)}, a realistic misconception; each function in
  `functions` must lose its points, every other function must keep them.
"""
