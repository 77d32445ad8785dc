"""Everything that runs inside the sandbox, and the trusted side's handle on it.

Only this package is visible inside the sandbox. It must never import or contain the
reference implementations, the checks' expected values or anything from `solutions/`.
"""
