"""Hidden cases for 01-softmax."""
import numpy as np

from ..reference import softmax as ref
from . import Behaviour, Check, Mistake, Upstream, call, tagged


def _naive(z, axis=-1):
    with np.errstate(all="ignore"):
        e = np.exp(np.asarray(z, dtype=float))
        return e / np.sum(e, axis=axis, keepdims=True)


def _global_shift(z, axis=-1):
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z))
        return e / np.sum(e, axis=axis, keepdims=True)


def _global_shift_log(z, axis=-1):
    with np.errstate(all="ignore"):
        shifted = z - np.max(z)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_cases():
    rng = np.random.default_rng(101)
    cases = []
    for name, z, axis in [
        ("a vector of 5 random scores", rng.normal(size=5), -1),
        ("a batch of 4 rows of 6 scores", rng.normal(size=(4, 6)) * 3, -1),
        ("scores [1000, 0, -1000]", np.array([1000.0, 0.0, -1000.0]), -1),
        ("rows of very different scale", np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1003.0],
                                                   [0.5, 0.2, -0.1]]), -1),
        ("scores with a large common offset", rng.normal(size=(3, 4)) + 1e4, -1),
        ("axis=0 of a (5, 3) batch", rng.normal(size=(5, 3)) * 2, 0),
        ("axis=1 of a (2, 3, 4) array", rng.normal(size=(2, 3, 4)), 1),
        ("a single score", np.array([7.5]), -1),
    ]:
        mistakes = [Mistake("overflow at large scores: subtract the maximum along the axis "
                            "before exponentiating", {"result": _naive(z, axis)}),
                    Mistake("the shift uses the maximum of the whole array; rows of very different "
                            "scale underflow: subtract each row's own maximum "
                            "(np.max(..., axis=axis, keepdims=True))", {"result": _global_shift(z, axis)})]
        if z.ndim > 1:
            other = 0 if axis in (-1, z.ndim - 1) else -1
            mistakes.append(Mistake(f"normalised along the wrong axis: use the `axis` argument "
                                    f"(here axis={axis})", {"result": ref.softmax(z, other)}))
        cases.append(call("softmax", name, {"z": z, "axis": axis},
                          {"result": ref.softmax(z, axis)}, args=["z"], kwargs={"axis": "axis"},
                          rtol=1e-9, atol=1e-15, mistakes=mistakes,
                          hint="Check that each slice along `axis` is non-negative and sums to 1."))
    return tagged(cases, "plain", large=(2, 3, 4))


def log_softmax_cases():
    rng = np.random.default_rng(102)
    cases = []
    for name, z, axis in [
        ("a vector of 5 random scores", rng.normal(size=5), -1),
        ("scores [1000, 0]", np.array([1000.0, 0.0]), -1),
        ("scores [1000, 0, -1000]", np.array([1000.0, 0.0, -1000.0]), -1),
        ("a batch with a large common offset", rng.normal(size=(3, 4)) * 5 - 800, -1),
        ("axis=0 of a (4, 3) batch", rng.normal(size=(4, 3)), 0),
        # every row finite, but a shift by the whole array's maximum underflows the low rows
        ("rows of very different scale", np.array([[1000.0, 999.0, 998.0],
                                                   [-1000.0, -1001.0, -1003.0],
                                                   [0.5, 0.2, -0.1]]), -1),
    ]:
        with np.errstate(all="ignore"):
            naive_log = np.log(_naive(z, axis))
            log_of_stable = np.log(ref.softmax(z, axis))
        cases.append(call("log_softmax", name, {"z": z, "axis": axis},
                          {"result": ref.log_softmax(z, axis)}, args=["z"], kwargs={"axis": "axis"},
                          rtol=1e-9, atol=1e-12,
                          mistakes=[Mistake("log(softmax(z)) underflows to -inf for very negative "
                                            "scores: compute z - max - log(sum(exp(z - max)))",
                                            {"result": log_of_stable}),
                                    Mistake("overflow: subtract the maximum before exponentiating "
                                            "(the log-sum-exp trick)", {"result": naive_log}),
                                    Mistake("the shift uses the maximum of the whole array; rows "
                                            "far below it give -inf or lose precision: subtract "
                                            "each slice's own maximum (np.max(z, axis=axis, "
                                            "keepdims=True))",
                                            {"result": _global_shift_log(z, axis)})]))
    return tagged(cases, "plain", large=(1, 2, 3, 5))


def jacobian_cases():
    rng = np.random.default_rng(103)
    cases = []
    for name, z in [("3 random scores", rng.normal(size=3)),
                    ("6 random scores", rng.normal(size=6) * 2),
                    ("scores [1, 5, 3]", np.array([1.0, 5.0, 3.0])),
                    ("large scores [800, 801, 799, 0]", np.array([800.0, 801.0, 799.0, 0.0]))]:
        p = ref.softmax(z)
        cases.append(call("softmax_jacobian", name, {"z": z}, {"result": ref.softmax_jacobian(z)},
                          rtol=1e-7, atol=1e-12,
                          mistakes=[Mistake("the diagonal is p_i (1 - p_i) but the off-diagonal "
                                            "entries should be -p_i p_j", {"result": np.diag(p * (1 - p))}),
                                    Mistake("the entries have the wrong sign: J = diag(p) - p p^T",
                                            {"result": np.outer(p, p) - np.diag(p)}),
                                    Mistake("overflow at large scores: compute p with a stable softmax",
                                            {"result": np.diag(_naive(z)) - np.outer(_naive(z), _naive(z))})],
                          hint="J[i, j] = p_i (delta_ij - p_j): compare with finite differences.",
                          upstream=Upstream("softmax", "p", p, derive=_jacobian_of)))
        # probe the student's own softmax (on a copy of z): a jacobian built on it is judged
        # on what it gives, so a softmax mistake is not charged twice
        cases[-1].program["inputs"]["z_probe"] = z.copy()
        cases[-1].program["steps"].append({"fn": "softmax", "args": ["z_probe"], "out": "p",
                                           "optional": True})
        cases[-1].program["returns"].append("p")
    return cases


def _jacobian_of(p):
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError("not a vector")
    return {"result": np.diag(p) - np.outer(p, p)}


def _off_diagonal(J):
    J = np.asarray(J, dtype=float)
    return J[~np.eye(len(J), dtype=bool)]


# Points per behaviour. Changing the caller's z (z -= max) is its own, small behaviour.
UNCHANGED = Behaviour("leaves z unchanged", 0.5, outputs=("z",))
CHECKS = [Check("softmax", softmax_cases, (
              Behaviour("ordinary scores, along the given axis", 2.0, tags=("plain",), inputs=False),
              Behaviour("large scores, and slices of very different scale", 1.5, tags=("large",),
                        inputs=False), UNCHANGED)),
          Check("log_softmax", log_softmax_cases, (
              Behaviour("ordinary scores, along the given axis", 1.5, tags=("plain",), inputs=False),
              Behaviour("large scores, and slices of very different scale", 1.0, tags=("large",),
                        inputs=False), UNCHANGED)),
          Check("softmax_jacobian", jacobian_cases, (
              Behaviour("the diagonal, p_i (1 - p_i)", 1.25, outputs=("result",),
                        view=lambda J: np.diagonal(np.asarray(J, dtype=float)),
                        where=" on the diagonal", inputs=False),
              Behaviour("the off-diagonal entries, -p_i p_j", 1.25, outputs=("result",),
                        view=_off_diagonal, where=" off the diagonal", inputs=False),
              UNCHANGED))]
