"""Hidden tests: for each graded function, the cases it is run on and how its answers are judged.

A `Case` is a program for the sandbox (inputs and the calls to make, see
`autograder.sandbox.program`) plus what the trusted grader expects back. Expected values come
from `autograder.reference`; they never enter the sandbox. When a case fails, the judge looks
for the mistake that explains it: each case may list `mistakes`, the values a known wrong
implementation would return, and the first one that matches names the likely error.

The grader uses these cases outside the student's reach (`judge`). A hidden test cell in a
source notebook calls `check("softmax")`, which runs the same cases inside the kernel: that is
how stock nbgrader grades (and how it can be fooled), kept for the comparison benchmarks.
"""
import dataclasses
import functools
import importlib
import sys

import numpy as np

from ..sandbox import program, wire

MODULES = {"01-softmax": "softmax", "02-cross-entropy": "cross_entropy",
           "03-backprop": "backprop", "04-vanishing-gradients": "vanishing_gradients",
           "05-batchnorm": "batchnorm"}


@dataclasses.dataclass
class Mistake:
    diagnosis: str                      # what the student most likely did, and what to do
    values: dict                        # output name -> what that mistake returns


@dataclasses.dataclass
class Case:
    name: str                           # the case in words, shown to the student
    program: dict                       # inputs, steps, returns (see sandbox.program)
    expect: dict                        # output name -> expected value
    rtol: float = 1e-7
    atol: float = 1e-10
    mistakes: list = dataclasses.field(default_factory=list)
    hint: str = ""                      # advice when no listed mistake matches
    unchanged: tuple = ()               # inputs the function must not modify
    raises: str = ""                    # the exception type the call must raise, if any
    score: object = None                # trusted: outputs -> None or a diagnosis (experiments)


@dataclasses.dataclass
class Check:
    function: str                       # the graded function's name
    make_cases: object                  # () -> list[Case]; deterministic (seeded)

    @functools.cached_property
    def cases(self):
        cases = self.make_cases()
        for case in cases:
            for name in case.unchanged:
                if name not in case.program["returns"]:
                    case.program["returns"].append(name)
                case.expect.setdefault(name, case.program["inputs"][name])
        return cases


def call(fn, name, inputs, expect, args=None, kwargs=None, out="result", **options):
    """A case of one call: `fn(*args, **kwargs)` with args naming entries of `inputs`."""
    args = list(inputs) if args is None else args
    outs = out if isinstance(out, list) else [out]
    prog = {"inputs": dict(inputs),
            "steps": [{"fn": fn, "args": args, "kwargs": dict(kwargs or {}), "out": out}],
            "returns": list(outs)}
    options.setdefault("unchanged", tuple(a for a in args + list((kwargs or {}).values())
                                          if isinstance(inputs.get(a), np.ndarray)))
    return Case(name=name, program=prog, expect=expect, **options)


# ---------------------------------------------------------------------------- comparison

def compare(actual, expected, rtol, atol, path="the result"):
    """None if `actual` matches `expected`, else a sentence saying how it differs."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path} should be a dict, got a {type(actual).__name__}"
        missing = sorted(set(expected) - set(actual))
        if missing:
            return f"{path} is missing the key(s) {', '.join(map(repr, missing))}"
        for key in expected:
            problem = compare(actual[key], expected[key], rtol, atol, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"{path} should be a sequence of {len(expected)} values"
        for i, (a, e) in enumerate(zip(actual, expected)):
            problem = compare(a, e, rtol, atol, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, str):
        return None if actual == expected else f"{path} should be {expected!r}"
    exp = np.asarray(expected, dtype=float)
    if isinstance(actual, (dict, list, tuple, str)) or actual is None:
        if not (isinstance(actual, (list, tuple)) and exp.ndim > 0):
            return f"{path} should be {'an array' if exp.ndim else 'a number'}, " \
                   f"got a {type(actual).__name__}"
    try:
        act = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return f"{path} could not be read as numbers"
    if exp.ndim == 0 and act.size == 1:
        act = act.reshape(())
    if act.shape != exp.shape:
        return f"{path} has shape {act.shape}, expected {exp.shape}"
    if np.any(np.isnan(act) & ~np.isnan(exp)):
        return f"{path} contains NaN where a number was expected"
    if np.any(np.isnan(exp) & ~np.isnan(act)):
        return f"{path} is a number where NaN was expected"
    inf = np.isinf(exp)
    if np.any(act[inf] != exp[inf]):
        where = np.flatnonzero(act[inf] != exp[inf])[0]
        return f"{path} should be {exp[inf][where]} where it is {act[inf][where]:.6g}"
    if np.any(np.isinf(act) & ~np.isinf(exp)):
        return f"{path} contains inf where a finite number was expected"
    finite = np.isfinite(exp)
    a, e = act[finite], exp[finite]
    if not np.allclose(a, e, rtol=rtol, atol=atol):
        err = np.abs(a - e)
        where = int(np.argmax(err - rtol * np.abs(e)))
        return (f"{path} differs from the expected value by up to {err.max():.3g} "
                f"(tolerance: rtol={rtol:g}, atol={atol:g}; e.g. {a.flat[where]:.6g} "
                f"instead of {e.flat[where]:.6g})")
    return None


def judge(case, outcome):
    """None if the case passed, else the diagnosis in words.

    `outcome` is what came back from the sandbox for this case: {"status", "outputs", "error"}.
    """
    status = outcome.get("status")
    if case.raises:
        error = outcome.get("error") or ""
        if status == "error" and error.startswith(case.raises + ":"):
            return None
        got = f"it raised {error.split(':')[0]}" if status == "error" else "it returned normally"
        return f"{case.name}: should raise {case.raises}, but {got}"
    if status != "ok":
        error = outcome.get("error") or "did not run"
        if "NotImplementedError" in error:
            return f"{case.name}: not implemented yet (it raises NotImplementedError)"
        if error.startswith("MemoryError"):
            return f"{case.name}: ran out of memory ({error.split(': ', 1)[-1] or 'MemoryError'})"
        return f"{case.name}: {error}"
    outputs = outcome.get("outputs") or {}
    if case.score is not None:
        verdict = case.score(outputs)
        if verdict:
            return f"{case.name}: {verdict}"
    problems = []
    for name, expected in case.expect.items():
        if name in case.unchanged:
            continue
        problem = compare(outputs.get(name), expected, case.rtol, case.atol,
                          "the result" if name == "result" else f"`{name}`")
        if problem:
            problems.append(problem)
    if problems:
        for mistake in case.mistakes:
            if all(compare(outputs.get(n), v, case.rtol, case.atol) is None
                   for n, v in mistake.values.items()):
                return f"{case.name}: {mistake.diagnosis}"
        hint = f" {case.hint}" if case.hint else ""
        return f"{case.name}: {problems[0]}.{hint}"
    for name in case.unchanged:
        if compare(outputs.get(name), case.expect[name], 0, 0) is not None:
            return (f"{case.name}: the function changed its argument `{name}` in place; "
                    f"work on a copy (e.g. `{name} = {name} - ...` instead of `-=`)")
    return None


# ---------------------------------------------------------------------------- registry

@functools.lru_cache(maxsize=None)
def checks_for(slug):
    """{function name: Check} for an assignment."""
    module = importlib.import_module(f"{__name__}.{MODULES[slug]}")
    from . import experiments          # the outcome checks of the experiment parts
    return {c.function: c for c in module.CHECKS + experiments.CHECKS.get(slug, [])}


def find(function):
    for slug in MODULES:
        if function in checks_for(slug):
            return checks_for(slug)[function]
    raise KeyError(f"no hidden check for a function named {function!r}")


def sandbox_case(case):
    """The part of a case that may enter the sandbox: its program (no expected values)."""
    return case.program


def check(function, namespace=None):
    """Run the hidden cases for `function` in this process and raise AssertionError on failure.

    This is what a hidden test cell does under stock nbgrader: the student's code runs in
    the same process as the comparison. Our grader never calls it; it runs `judge` instead.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    failures = []
    for case in find(function).cases:
        arrays = {}
        prog = wire.decode(wire.encode(case.program, arrays), arrays)  # encode copies arrays
        try:
            outcome = {"status": "ok", "outputs": program.run(prog, namespace)}
        except Exception as exc:
            outcome = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        problem = judge(case, outcome)
        if problem:
            failures.append(problem)
    assert not failures, "\n".join(failures)
