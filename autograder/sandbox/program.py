"""A case program: inputs, the calls to make on the student's functions, and what to return.

    {"inputs": {"z": array, "f": {"$fn": "cubic", "a": array}},
     "steps": [{"fn": "softmax", "args": ["z"], "kwargs": {"axis": "axis"}, "out": "p"}],
     "returns": ["p", "z"]}

Arguments name values in the environment (inputs and earlier outputs), so a backward pass
can receive whatever the student's own forward pass cached.

A step {"numgrad": fn, "args": [...], "wrt": {"x": "num_dx"}, "weights": "dout", "pick": 0,
"fresh": ["bn_param"]} stores under "num_dx" the centred-difference gradient of
sum(fn(*args)[pick] * weights) with respect to the argument x: the gradient of the student's
own forward pass, against which the trusted grader judges a backward pass when that forward
is wrong. `fresh` arguments are deep-copied for every call (a forward may write into them).
It stores None when the forward cannot be differentiated so (it raises, returns something
that is not numbers, or takes longer than its time budget).

A step {"record": ["batchnorm_forward", ...], "out": "calls"} makes every later call of those
functions (from inside the student's code too) be recorded under "calls": a list of
{"fn": name, "args": [copies of its array arguments], "result": [the arrays it returned]}, so
the trusted grader can tell what a composite function (a network's loss) got from them.

A step with "optional": true is a probe of another function (what the graded function was
given by it): when it raises, its output is None and the case goes on. The same interpreter runs in
the sandbox (the grader) and in a notebook kernel (stock nbgrader, for comparison).
"""
import copy
import time

import numpy as np


def _cubic(a, b):
    """f(x) = sum(a x^3 + b x^2): smooth, separable, gradient 3 a x^2 + 2 b x."""
    def f(x):
        return float(np.sum(a * x**3 + b * x**2))
    return f


def _softplus_of_linear(w):
    """f(x) = log(1 + exp(w . x)) over x flattened: a non-polynomial test function."""
    def f(x):
        return float(np.logaddexp(0.0, np.sum(w * x)))
    return f


TEST_FUNCTIONS = {"cubic": _cubic, "softplus_of_linear": _softplus_of_linear}


class StepError(Exception):
    """A call could not be made or its result had the wrong form (the student's fault)."""


def materialise(value):
    """Turn {"$fn": name, **params} markers into the test functions they name."""
    if isinstance(value, dict) and "$fn" in value:
        params = {k: v for k, v in value.items() if k != "$fn"}
        return TEST_FUNCTIONS[value["$fn"]](**params)
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialise(v) for v in value]
    return value


class _OverBudget(Exception):
    pass


def numerical_gradients(fn, step, env):
    """{output name: gradient array or None} for a "numgrad" step (see the module's doc)."""
    h = step.get("h", 1e-5)
    deadline = time.monotonic() + step.get("budget", 1.0)
    weights = np.asarray(env[step["weights"]], dtype=float)
    names = step.get("args", [])

    def objective(replaced, value):
        if time.monotonic() > deadline:
            raise _OverBudget
        args = [value if n == replaced else copy.deepcopy(env[n]) if n in step.get("fresh", ())
                else np.array(env[n], copy=True) if isinstance(env[n], np.ndarray) else env[n]
                for n in names]
        out = fn(*args)
        if "pick" in step:
            out = out[step["pick"]]
        return float(np.sum(np.asarray(out, dtype=float) * weights))

    grads = {}
    for arg, out_name in step["wrt"].items():
        x = np.array(env[arg], dtype=float)
        grad = np.zeros_like(x)
        try:
            for i in np.ndindex(x.shape):
                old = x[i]
                x[i] = old + h
                plus = objective(arg, x.copy())
                x[i] = old - h
                minus = objective(arg, x.copy())
                x[i] = old
                grad[i] = (plus - minus) / (2 * h)
        except Exception:       # the student's forward could not be differentiated so: no
            grad = None         # gradient, and the grader falls back to the reference alone
        grads[out_name] = grad
    return grads


def _recorder(fn, name, calls):
    def recorded(*args, **kwargs):
        arrays = [np.array(a, copy=True) for a in list(args) + list(kwargs.values())
                  if isinstance(a, np.ndarray)]
        result = fn(*args, **kwargs)
        parts = result if isinstance(result, (tuple, list)) else [result]
        calls.append({"fn": name, "args": arrays,
                      "result": [np.array(r, copy=True) for r in parts
                                 if isinstance(r, np.ndarray)]})
        return result
    return recorded


def run(program, namespace):
    """Run the steps with functions looked up in `namespace`; return the named values."""
    replaced = {}
    try:
        return _run(program, namespace, replaced)
    finally:
        namespace.update(replaced)      # the recorded functions are the student's again


def _run(program, namespace, replaced):
    env = {name: materialise(value) for name, value in program["inputs"].items()}
    for step in program["steps"]:
        if "record" in step:
            env[step["out"]] = calls = []
            for name in step["record"]:
                if callable(namespace.get(name)):
                    replaced.setdefault(name, namespace[name])
                    namespace[name] = _recorder(namespace[name], name, calls)
            continue
        if "numgrad" in step:
            fn = namespace.get(step["numgrad"])
            env.update(numerical_gradients(fn, step, env) if callable(fn)
                       else dict.fromkeys(step["wrt"].values()))
            continue
        fn = namespace.get(step["fn"])
        if fn is None:
            raise StepError(f"`{step['fn']}` is not defined: did its cell run, or was it renamed?")
        if not callable(fn):
            raise StepError(f"`{step['fn']}` is a {type(fn).__name__}, not a function")
        args = [env[a] for a in step.get("args", [])]
        kwargs = {k: env[v] for k, v in step.get("kwargs", {}).items()}
        if step.get("optional"):
            try:
                result = fn(*args, **kwargs)
            except Exception:       # a probe only: the grader then judges without it
                result = None
        else:
            result = fn(*args, **kwargs)
        out = step.get("out", "result")
        if isinstance(out, list):
            if not isinstance(result, (tuple, list)) or len(result) != len(out):
                got = f"a {type(result).__name__}" if not isinstance(result, (tuple, list)) \
                    else f"{len(result)} values"
                raise StepError(f"`{step['fn']}` should return {len(out)} values "
                                f"({', '.join(out)}), but returned {got}")
            env.update(zip(out, result))
        else:
            env[out] = result
    return {name: env[name] for name in program["returns"]}
