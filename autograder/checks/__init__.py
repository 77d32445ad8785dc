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
    tag: str = ""                       # which behaviours judge this case (Behaviour.tags)
    free_shapes: tuple = ()             # outputs whose shape may differ by axes of size 1
    upstream: object = None             # graded on another function's output (Upstream)
    score: object = None                # trusted: outputs -> None or a diagnosis (experiments)


@dataclasses.dataclass
class Behaviour:
    """One part of what a function must do, with its share of the test cell's points.

    It judges the cases tagged with one of `tags` (all cases when empty), and in them only
    the outputs named in `outputs` (a name also covers itself followed by digits: "out"
    covers out1, out2), seen through `view` (e.g. the diagonal of a matrix). `inputs`: it
    also requires the function to leave its array arguments unchanged.
    """
    name: str
    points: float
    tags: tuple = ()
    outputs: tuple = ()
    view: object = None
    inputs: bool = True
    where: str = ""                     # how the view is named after the output's, in words

    def covers(self, case):
        return not self.tags or case.tag in self.tags

    def judges(self, output):
        return not self.outputs or any(
            output == o or (output.startswith(o) and output[len(o):].isdigit())
            for o in self.outputs)


@dataclasses.dataclass
class Upstream:
    """A function graded on another's output (a backward pass on its forward's cache).

    When the student's upstream output (`output`, e.g. the forward's `out`) differs from
    `expect`, the upstream function is what is wrong; this one is then judged against what
    a correct implementation gives on that wrong upstream: the matching `derived` entry (a
    known upstream mistake: its output and the values a correct function returns on it) or
    else the numerical gradient of the student's own upstream, computed in the sandbox and
    returned under `numeric[output name]`, to within `rtol` of its largest entry; or what
    `derive` computes here, in the trusted grader, from the upstream's returned numbers.
    `plausible`, if given, must hold for the upstream's output (e.g. a batchnorm output whose
    columns have mean beta), so that a trivial upstream (out = x) with a backward pass made to
    fit it earns nothing.
    """
    function: str
    output: str
    expect: object
    derived: list = dataclasses.field(default_factory=list)   # [(diagnosis, upstream, values)]
    numeric: dict = dataclasses.field(default_factory=dict)
    rtol: float = 1e-5
    derive: object = None               # upstream output -> {name: value a correct one gives}
    plausible: object = None            # upstream output -> whether it is a real attempt
    tolerance: tuple = ()               # (rtol, atol) telling a wrong upstream; () the case's
    functions: tuple = ()               # every upstream that must earn something; () function
    diagnose: object = None             # upstream output -> None (right) or which one is wrong

    def value(self, outputs):
        """The upstream's output among `outputs`; a tuple `output` names several probes
        (e.g. mean_nll at each temperature of a grid), gathered into a list."""
        if isinstance(self.output, tuple):
            return [outputs.get(name) for name in self.output]
        return outputs.get(self.output)


@dataclasses.dataclass
class Check:
    function: str                       # the graded function's name
    make_cases: object                  # () -> list[Case]; deterministic (seeded)
    behaviours: tuple = ()              # [Behaviour]; none: one behaviour with all points

    @property
    def plan(self):
        return tuple(self.behaviours) or (Behaviour("every case", 1.0),)

    @functools.cached_property
    def cases(self):
        cases = self.make_cases()
        for case in cases:
            for name in case.unchanged:
                if name not in case.program["returns"]:
                    case.program["returns"].append(name)
                case.expect.setdefault(name, case.program["inputs"][name])
        return cases


def tagged(cases, default, **indices):
    """Tag cases for behaviours: `default`, or the tag whose list holds the case's index."""
    for k, case in enumerate(cases):
        case.tag = next((t for t, ks in indices.items() if k in ks), default)
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

def compare(actual, expected, rtol, atol, path="the result", free_shape=False):
    """None if `actual` matches `expected`, else a sentence saying how it differs.

    `free_shape`: an array whose shape differs from the expected one only by axes of size 1
    (a (1, D) row for a (D,) vector) is compared by its values, as it broadcasts the same.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path} should be a dict, got a {type(actual).__name__}"
        missing = sorted(set(expected) - set(actual))
        if missing:
            return f"{path} is missing the key(s) {', '.join(map(repr, missing))}"
        for key in expected:
            problem = compare(actual[key], expected[key], rtol, atol, f"{path}[{key!r}]",
                              free_shape)
            if problem:
                return problem
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"{path} should be a sequence of {len(expected)} values"
        for i, (a, e) in enumerate(zip(actual, expected)):
            problem = compare(a, e, rtol, atol, f"{path}[{i}]", free_shape)
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
    if free_shape and act.shape != exp.shape and act.size == exp.size and \
            [d for d in act.shape if d != 1] == [d for d in exp.shape if d != 1]:
        act = act.reshape(exp.shape)
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


def _output_problem(case, behaviour, name, actual, expected, rtol=None, atol=None):
    """None if one output matches, in the part of it that `behaviour` judges; else why not."""
    rtol, atol = case.rtol if rtol is None else rtol, case.atol if atol is None else atol
    path = "the result" if name == "result" else f"`{name}`"
    free = name in case.free_shapes
    problem = compare(actual, expected, rtol, atol, path, free)
    if problem is None or behaviour is None or behaviour.view is None:
        return problem
    if not isinstance(expected, dict) and np.shape(actual) != np.shape(expected):
        return problem                  # a view of a wrongly shaped result could still match
    try:
        part, expected_part = behaviour.view(actual), behaviour.view(expected)
    except (KeyError, IndexError, TypeError, ValueError):
        return problem                  # the whole output has the wrong form: say so
    return compare(part, expected_part, rtol, atol, f"{path}{behaviour.where}", free)


def _mistake(case, outputs, names=()):
    """The first listed mistake whose values all match what came back, or None; those that
    say something about the outputs `names` (the ones found wrong) first."""
    ordered = sorted(case.mistakes, key=lambda m: not set(m.values) & set(names))
    for mistake in ordered:
        if all(compare(outputs.get(n), v, case.rtol, case.atol, free_shape=n in case.free_shapes)
               is None for n, v in mistake.values.items()):
            return mistake
    return None


def upstream_problem(case, outcome):
    """When `case` is graded on another function's output and that output is wrong: why."""
    up = case.upstream
    if up is None or outcome.get("status") != "ok":
        return None
    actual = up.value(outcome.get("outputs") or {})
    if up.diagnose is not None:
        try:
            with np.errstate(all="ignore"):
                return up.diagnose(actual)
        except (TypeError, ValueError, IndexError, KeyError):
            return f"your {up.function} is wrong (what it returns has the wrong form)"
    rtol, atol = up.tolerance or (case.rtol, case.atol)
    problem = compare(actual, up.expect, rtol, atol, "its output")
    if problem is None:
        return None
    for diagnosis, values, _ in up.derived:
        if compare(actual, values, case.rtol, case.atol) is None:
            return f"your {up.function} is wrong ({diagnosis})"
    return f"your {up.function} is wrong (see its own test)"


def plausible_upstream(up, outputs):
    if up.plausible is None:
        return True
    try:
        with np.errstate(all="ignore"):
            return bool(up.plausible(up.value(outputs)))
    except (TypeError, ValueError, IndexError, KeyError):
        return False


def _judge_on_upstream(case, outputs, names, behaviour, why):
    """Judge outputs against what a correct function gives on the student's wrong upstream."""
    up = case.upstream
    mine = up.value(outputs)
    derived = [values for _, up_values, values in up.derived
               if compare(mine, up_values, case.rtol, case.atol) is None]
    for name in names:
        actual = outputs.get(name)
        candidates = [(case.expect[name], None)] if name in case.expect else []
        candidates += [(v[name], None) for v in derived if name in v]
        if up.derive is not None:
            try:
                with np.errstate(all="ignore"):
                    candidates.append((up.derive(mine)[name], None))
            except (TypeError, ValueError, IndexError, KeyError):
                pass                    # the upstream's output has the wrong form: no candidate
        numeric = outputs.get(up.numeric.get(name, ""))
        if numeric is not None:
            scale = float(np.max(np.abs(np.asarray(numeric, dtype=float)), initial=0.0))
            candidates.append((numeric, up.rtol * scale + 1e-8))
        problems = [_output_problem(case, behaviour, name, actual, value,
                                    *((0.0, atol) if atol is not None else ()))
                    for value, atol in candidates]
        if all(problems):
            last = problems[-1] if problems else f"{up.function}'s output has the wrong form"
            return (f"{why}; and this function is not right for what your {up.function} "
                    f"gives either: {last}")
    return None


def judge(case, outcome, behaviour=None, upstream_ok=True):
    """None if the case passed, else the diagnosis in words.

    `outcome` is what came back from the sandbox for this case: {"status", "outputs", "error"}.
    `upstream_ok`: whether a wrong upstream may be judged on (see Upstream); the grader allows
    it only when that upstream function gets at least one of its behaviours right.
    `behaviour`: judge only what that Behaviour covers of the case (None: all of it).
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
            # An outcome computed from a wrong upstream (fit_temperature on a wrong mean_nll)
            # is judged by what a correct function gives on the student's own upstream.
            why = upstream_problem(case, outcome)
            if not (why and upstream_ok and case.upstream.derive is not None
                    and plausible_upstream(case.upstream, outputs)):
                return f"{case.name}: {verdict}{f' ({why})' if why else ''}"
            problem = _judge_on_upstream(case, outputs, ["result"], None, why)
            return f"{case.name}: {problem}" if problem else None
    names = [n for n in case.expect if n not in case.unchanged
             and (behaviour is None or behaviour.judges(n))]
    why = upstream_problem(case, outcome)
    if why and upstream_ok and plausible_upstream(case.upstream, outputs):
        problem = _judge_on_upstream(case, outputs, names, behaviour, why)
        if problem:
            return f"{case.name}: {problem}"
        names = []
    problems = [p for p in (_output_problem(case, behaviour, n, outputs.get(n), case.expect[n])
                            for n in names) if p]
    if problems and why:
        return (f"{case.name}: {why}, in a way this function cannot be judged on (it gets "
                f"nothing right, or its output is not what this function expects), so its "
                f"results were compared with the correct ones: {problems[0]}")
    if problems:
        mistake = _mistake(case, outputs, names)
        if mistake:
            return f"{case.name}: {mistake.diagnosis}"
        hint = f" {case.hint}" if case.hint else ""
        return f"{case.name}: {problems[0]}.{hint}"
    if behaviour is not None and not behaviour.inputs:
        return None
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
