"""Hidden reference implementations, one module per assignment.

Used only by the trusted grader to compute expected values. Never copied into the sandbox,
the released notebooks, the site or the feedback.
"""
