"""The pieces of fair grading that run on their own: the sandbox's numerical-gradient step,
shapes that differ only by axes of size 1, and the trusted check of cells that do not compile.
(The grader as a whole is tested on real notebooks in test_grading.py.)"""
import numpy as np

from autograder.checks import compare
from autograder.checks.scoring import MAX_PARSED_CHARS, compile_errors
from autograder.sandbox import program


def _numgrad_program(x, dout, **extra):
    return {"inputs": {"x": x, "dout": dout, "p": {"calls": 0}},
            "steps": [{"numgrad": "forward", "args": ["x", "p"], "pick": 0, "weights": "dout",
                       "fresh": ["p"], "wrt": {"x": "num_dx"}, **extra}],
            "returns": ["num_dx", "x", "p"]}


def test_the_numgrad_step_differentiates_the_students_own_forward():
    """Is num_dx the gradient of sum(forward(x)[0] * dout), x and fresh arguments untouched?"""
    def forward(x, p):                      # writes into p and into x, as a careless forward might
        p["calls"] += 1
        out = np.sin(x) * x
        x *= 0
        return out, None

    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    got = program.run(_numgrad_program(x.copy(), dout), {"forward": forward})
    exact = (np.cos(x) * x + np.sin(x)) * dout
    assert np.allclose(got["num_dx"], exact, rtol=1e-7, atol=1e-9)
    assert np.array_equal(got["x"], x) and got["p"] == {"calls": 0}


def test_the_numgrad_step_gives_none_when_the_forward_cannot_be_differentiated():
    """A forward that raises, or one slower than the step's budget, gives no gradient."""
    def raises(x, p):
        raise ValueError("no")

    def slow(x, p):
        import time
        time.sleep(0.02)
        return x, None

    x, dout = np.ones((4, 5)), np.ones((4, 5))
    assert program.run(_numgrad_program(x, dout), {"forward": raises})["num_dx"] is None
    assert program.run(_numgrad_program(x, dout, budget=0.1), {"forward": slow})["num_dx"] is None


def test_an_optional_probe_that_raises_gives_none():
    prog = {"inputs": {"z": np.ones(3)}, "steps": [{"fn": "f", "args": ["z"], "out": "p",
                                                    "optional": True}], "returns": ["p"]}
    assert program.run(prog, {"f": lambda z: 1 / 0})["p"] is None


def test_the_record_step_sees_calls_made_inside_the_students_code_and_restores_them():
    """Are calls of a recorded function from inside another student function recorded (array
    arguments and results, copied), and is the namespace the student's again afterwards,
    even when a step raises?"""
    def inner(x, scale):
        out = x * scale
        x += 1                              # a careless function that changes its argument
        return out, {"cache": 1}

    def outer(x):
        return namespace["inner"](x, 2.0)[0].sum()

    namespace = {"inner": inner, "outer": outer}
    prog = {"inputs": {"x": np.arange(3.0)},
            "steps": [{"record": ["inner", "absent"], "out": "calls"},
                      {"fn": "outer", "args": ["x"], "out": "total"}],
            "returns": ["calls", "total"]}
    got = program.run(prog, namespace)
    assert got["total"] == 6.0 and len(got["calls"]) == 1
    call = got["calls"][0]
    assert call["fn"] == "inner" and np.array_equal(call["args"][0], np.arange(3.0))
    assert len(call["result"]) == 1 and np.array_equal(call["result"][0], [0.0, 2.0, 4.0])
    assert namespace["inner"] is inner and "absent" not in namespace
    prog["steps"].append({"fn": "inner", "args": ["x"]})      # raises: no `scale`
    try:
        program.run(prog, namespace)
    except TypeError:
        pass
    assert namespace["inner"] is inner


def test_shapes_free_only_where_the_statement_leaves_them_free():
    """Is a (1, D) row accepted for a (D,) vector only with free_shape, and never a (D, 1)
    column of another length or a transposed matrix?"""
    row = np.arange(3.0).reshape(1, 3)
    assert compare(row, np.arange(3.0), 0, 0) is not None
    assert compare(row, np.arange(3.0), 0, 0, free_shape=True) is None
    assert compare({"m": row}, {"m": np.arange(3.0)}, 0, 0, free_shape=True) is None
    assert compare(np.ones((2, 3)), np.ones((3, 2)), 0, 0, free_shape=True) is not None
    assert compare(np.ones((1, 4)), np.ones(3), 0, 0, free_shape=True) is not None
    assert compare([0.0, 1.0, 2.0], np.arange(3.0), 0, 0) is None      # a list for a vector
    assert compare(2.5, np.array(2.5), 0, 0) is None                   # a float for a 0-d array


def test_cells_that_do_not_compile_are_named_with_their_line_and_cause():
    errors = compile_errors([("f", "def f(x):\n    print 'x', x\n    return x\n"),
                             ("g", "def g():\n    return 1\n"),
                             ("h", "def h():\n\tif 1:\n        return 2\n"),
                             ("big", "x = (" * MAX_PARSED_CHARS)])
    assert set(errors) == {"f", "h"}, errors          # too large to parse: left to the sandbox
    assert "SyntaxError on line 2" in errors["f"] and "Python 2 print" in errors["f"]
    assert "TabError on line 3" in errors["h"] and "tabs and spaces" in errors["h"]
