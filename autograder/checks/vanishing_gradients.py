"""Hidden cases for 04-vanishing-gradients."""
import numpy as np

from ..reference import vanishing_gradients as ref
from . import Behaviour, Check, Mistake, Upstream, call, tagged


# ---------------------------------------------------------------------------- sigmoid_grad

def _sigmoid_naive_ratio(x):
    """exp(x) / (1 + exp(x)): inf / inf = NaN once x passes ~709."""
    with np.errstate(all="ignore"):
        return np.exp(x) / (1.0 + np.exp(x))


def _sigmoid_grad_wrong(x):
    """What the usual wrong versions of sigma'(x) return, keyed by the diagnosis."""
    s = ref.sigmoid(x)
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        naive_ratio = _sigmoid_naive_ratio(x)
        return [
            ("sigma'(x) should be sigma(x) (1 - sigma(x)); this is sigma(x) (1 - x): the factor "
             "1 - sigma(x) was written with x in place of sigma(x)", s * (1.0 - x)),
            ("this is x (1 - x), the formula for sigma' in terms of the OUTPUT s = sigma(x), "
             "applied to the input x: compute s = sigma(x) first, then s (1 - s)", x * (1.0 - x)),
            ("this returns sigma(x) itself, not its derivative: return sigma(x) (1 - sigma(x))", s),
            ("this is 1 - sigma(x)^2, the shape of tanh's derivative (1 - tanh^2); the sigmoid's "
             "is sigma(x) (1 - sigma(x))", 1.0 - s ** 2),
            ("NaN at large positive x: exp(x) / (1 + exp(x)) is inf / inf once exp overflows "
             "(x > ~709); compute sigma from exp(-|x|), which never overflows",
             naive_ratio * (1.0 - naive_ratio)),
            ("NaN at large negative x: exp(-x) / (1 + exp(-x))^2 is inf / inf once exp(-x) "
             "overflows (x < ~-709); use exp(-|x|) (sigma' is even) or sigma(x) (1 - sigma(x)) "
             "with a stable sigma", e / (1.0 + e) ** 2),
        ]


def sigmoid_grad_cases():
    rng = np.random.default_rng(401)
    cases = []
    for name, x in [
        ("x = [0, 2, -2]", np.array([0.0, 2.0, -2.0])),
        ("7 random values", rng.normal(size=7)),
        ("a (3, 4) batch of values of scale 4", rng.normal(size=(3, 4)) * 4),
        ("a (2, 3, 4) array", rng.normal(size=(2, 3, 4)) * 2),
        ("x = [-1000, -50, -20, 0, 20, 50, 1000]",
         np.array([-1000.0, -50.0, -20.0, 0.0, 20.0, 50.0, 1000.0])),
        ("x = [800, 710, 30, 10]", np.array([800.0, 710.0, 30.0, 10.0])),
        ("x = [-800, -710, -30, -10]", np.array([-800.0, -710.0, -30.0, -10.0])),
    ]:
        # atol 1e-14: s (1 - s) with a stable s loses relative accuracy in the far tails
        # (1 - s cancels), but never more than ~1e-16 in absolute terms; that is accepted.
        cases.append(call("sigmoid_grad", name, {"x": x}, {"result": ref.sigmoid_grad(x)},
                          rtol=1e-7, atol=1e-14,
                          mistakes=[Mistake(d, {"result": v}) for d, v in _sigmoid_grad_wrong(x)],
                          hint="sigma'(0) = 0.25, sigma'(x) = sigma'(-x), and 0 < sigma'(x) <= 0.25 "
                               "(exactly 0 only where it underflows)."))
    return tagged(cases, "plain", large=(4, 5, 6))


# ---------------------------------------------------------------------------- relu_grad

def relu_grad_cases():
    rng = np.random.default_rng(402)
    cases = []
    for name, x in [
        ("x = [-1.5, 0, 2]", np.array([-1.5, 0.0, 2.0])),
        ("a (4, 5) batch of random values", rng.normal(size=(4, 5))),
        ("values with zeros, -0.0 and tiny magnitudes",
         np.array([-2.0, -0.0, 0.0, 1e-300, -1e-300, 3.0, 0.0])),
        ("a (2, 3, 2) array with zeros", np.where(rng.random((2, 3, 2)) < 0.3, 0.0,
                                                   rng.normal(size=(2, 3, 2)))),
        ("large values", rng.normal(size=6) * 1e6),
    ]:
        with np.errstate(all="ignore"):
            mistakes = [
                Mistake("the derivative at x = 0 should be 0.0: use x > 0, not x >= 0",
                        {"result": (x >= 0).astype(float)}),
                Mistake("the derivative at x = 0 is 0.5 here; this exercise uses the convention "
                        "relu'(0) = 0: 1.0 where x > 0, else 0.0",
                        {"result": np.where(x > 0, 1.0, np.where(x == 0, 0.5, 0.0))}),
                Mistake("this returns relu(x) = max(0, x) itself, not its derivative: "
                        "1.0 where x > 0, else 0.0", {"result": np.maximum(x, 0.0)}),
                Mistake("this is sign(x), which is -1 for negative x; relu is flat there, so its "
                        "derivative is 0.0", {"result": np.sign(x)}),
            ]
        cases.append(call("relu_grad", name, {"x": x}, {"result": ref.relu_grad(x)},
                          rtol=0, atol=0, mistakes=mistakes,
                          hint="Every entry should be exactly 0.0 or 1.0: 1.0 where x > 0."))
    return tagged(cases, "plain", zero=(0, 2, 3))


# ---------------------------------------------------------------------------- layer_gradient_norms

def _tanh_naive(a):
    """tanh from exponentials: inf / inf = NaN once |a| passes ~710."""
    with np.errstate(all="ignore"):
        return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


def _softmax_grad_naive(scores, y):
    """(P - Y) / N with P = exp(s) / sum(exp(s)), no shift: NaN for large scores."""
    with np.errstate(all="ignore"):
        e = np.exp(scores)
        d = e / e.sum(axis=1, keepdims=True)
    d[np.arange(len(y)), y] -= 1.0
    return d / len(y)


def _wrong_norms(weights, X, y, activation, dact=None, act=None, reduce=1.0, on_scores=False,
                 measure="dW", stable=True):
    """Gradient norms of a wrong backward pass.

    dact(a, h): the derivative used at the hidden layers (default: the right one);
    act: the activation used forward (default: the right one);
    reduce: a factor on every gradient (N for a sum over the batch, 1/N for dividing twice);
    on_scores: the activation is also applied to the scores (and backpropagated);
    measure: "dW" the weight gradients, "delta" dloss/da_l, "bias" the column sums of delta_l;
    stable: False for a softmax without the max shift.
    """
    right_act, right_dact = ref.ACTIVATIONS[activation]
    act, dact = act or right_act, dact or right_dact
    with np.errstate(all="ignore"):
        hs, pre = [np.asarray(X, dtype=float)], []
        for W in weights[:-1]:
            pre.append(hs[-1] @ W)
            hs.append(act(pre[-1]))
        scores = hs[-1] @ weights[-1]
        if on_scores:
            out = act(scores)
            _, delta = ref.softmax_loss_grad(out, y)
            delta = delta * dact(scores, out)
        elif stable:
            _, delta = ref.softmax_loss_grad(scores, y)
        else:
            delta = _softmax_grad_naive(scores, y)
        delta = delta * reduce
        grads, deltas = [None] * len(weights), [None] * len(weights)
        for l in range(len(weights) - 1, -1, -1):
            grads[l], deltas[l] = hs[l].T @ delta, delta
            if l > 0:
                delta = (delta @ weights[l].T) * dact(pre[l - 1], hs[l])
        chosen = {"dW": grads, "delta": deltas, "bias": [d.sum(axis=0) for d in deltas]}[measure]
        return np.array([np.linalg.norm(g) for g in chosen])


# Wrong derivatives at the hidden layers: {activation: [(diagnosis, dact(a, h))]}, where a is
# the pre-activation h_{l-1} W_l and h = act(a).
_WRONG_DACT = {
    "sigmoid": [
        ("sigma' is evaluated at the activation h = sigma(a) instead of the pre-activation "
         "a = h_{l-1} W_l: use sigma'(a) = h (1 - h), not sigma'(h)",
         lambda a, h: ref.sigmoid_grad(h)),
        ("the derivative is a (1 - a): the formula h (1 - h) needs the activation h = sigma(a), "
         "not the pre-activation a (check sigmoid_grad first if you call it)",
         lambda a, h: a * (1.0 - a)),
        ("the derivative is sigma(a) (1 - a); sigma'(a) = sigma(a) (1 - sigma(a)) "
         "(check sigmoid_grad first if you call it)", lambda a, h: h * (1.0 - a)),
        ("the derivative used is sigma(a), not sigma'(a) = sigma(a) (1 - sigma(a)) "
         "(check sigmoid_grad first if you call it)", lambda a, h: h),
        ("NaN in sigma'(a) at large pre-activations: an exponential overflowed (inf / inf); "
         "compute sigma' from exp(-|a|) (check sigmoid_grad first if you call it)",
         lambda a, h: _sigmoid_naive_ratio(a) * (1.0 - _sigmoid_naive_ratio(a))),
        ("NaN in sigma'(a) at large negative pre-activations: exp(-a) / (1 + exp(-a))^2 is "
         "inf / inf; compute sigma' from exp(-|a|) (check sigmoid_grad first if you call it)",
         lambda a, h: np.exp(-a) / (1.0 + np.exp(-a)) ** 2),
    ],
    "tanh": [
        ("tanh' is evaluated at the activation h = tanh(a) instead of the pre-activation "
         "a = h_{l-1} W_l: use 1 - h^2, not 1 - tanh(h)^2", lambda a, h: 1.0 - np.tanh(h) ** 2),
        ("the derivative is 1 - a^2: tanh'(a) = 1 - tanh(a)^2 = 1 - h^2 uses the activation "
         "h = tanh(a), not the pre-activation a", lambda a, h: 1.0 - a ** 2),
        ("the derivative used is tanh(a), not tanh'(a) = 1 - tanh(a)^2", lambda a, h: h),
    ],
    "relu": [
        ("relu'(0) should be 0: a unit whose pre-activation is exactly 0 passes no gradient "
         "(x > 0, not x >= 0; check relu_grad first if you call it)",
         lambda a, h: (a >= 0).astype(float)),
        ("the derivative used is relu(a) = max(0, a), not relu'(a) (1 where a > 0, else 0; "
         "check relu_grad first if you call it)", lambda a, h: np.maximum(a, 0.0)),
    ],
}


def _layer_mistakes(weights, X, y, activation):
    """The Mistakes of one case, first match wins; variants equal to the right answer dropped."""
    N = X.shape[0]
    right = ref.layer_gradient_norms(weights, X, y, activation)
    found = [
        ("the norms are in reverse order: return ||dW_1|| (the first layer, next to the input) "
         "first and ||dW_L|| (the scores layer) last", right[::-1]),
        ("every norm is N times too large: the loss is the MEAN cross-entropy over the batch, "
         "so divide dscores = P - Y by N", right * N),
        ("every norm is N times too small: the mean over the batch is taken twice; divide by N "
         "once (in dscores = (P - Y) / N) and nowhere else", right / N),
        ("these are the squared norms: return ||dW_l|| = sqrt(sum(dW_l ** 2)) "
         "(np.linalg.norm)", right ** 2),
    ]
    found += [(d, _wrong_norms(weights, X, y, activation, dact=f))
              for d, f in _WRONG_DACT[activation]]
    found += [
        ("the backward pass skips the activation's derivative: after dh = delta W_l^T, multiply "
         "element-wise by act'(a) at that layer's pre-activation",
         _wrong_norms(weights, X, y, activation, dact=lambda a, h: np.ones_like(a))),
        ("the activation is also applied to the scores: the last layer is linear, "
         "scores = h_{L-1} W_L go straight into the softmax",
         _wrong_norms(weights, X, y, activation, on_scores=True)),
        ("these are the norms of dloss/da_l, the gradients of the pre-activations (the deltas), "
         "not of the weights: dW_l = h_{l-1}^T delta_l",
         _wrong_norms(weights, X, y, activation, measure="delta")),
        ("these are the norms of the summed deltas (what a bias gradient would be), not of the "
         "weight gradients: dW_l = h_{l-1}^T delta_l",
         _wrong_norms(weights, X, y, activation, measure="bias")),
        ("NaN for large scores: the softmax overflows; subtract each row's maximum score before "
         "exponentiating", _wrong_norms(weights, X, y, activation, stable=False)),
    ]
    naive = {"sigmoid": _sigmoid_naive_ratio, "tanh": _tanh_naive}.get(activation)
    if naive is not None:
        found.append((f"NaN at large pre-activations: {activation} computed from exp(a) "
                      "overflows (inf / inf); use a form that only exponentiates negative numbers "
                      "(or np.tanh)", _wrong_norms(weights, X, y, activation, act=naive)))
    return [Mistake(d, {"result": v}) for d, v in found
            if v.shape != right.shape or not np.allclose(v, right, rtol=1e-6, atol=1e-12,
                                                         equal_nan=False)]


def _network(rng, sizes, scale):
    """Weights [W1 (sizes[0], sizes[1]), ...]; scale(fan_in) is the standard deviation."""
    return [rng.normal(size=(m, n)) * scale(m) for m, n in zip(sizes[:-1], sizes[1:])]


UNIT = ("N(0, 1) weights", lambda n: 1.0)
XAVIER = ("weights N(0, 1/fan_in)", lambda n: 1.0 / np.sqrt(n))
HE = ("weights N(0, 2/fan_in)", lambda n: np.sqrt(2.0 / n))
LARGE = ("large weights N(0, 25)", lambda n: 5.0)


def layer_gradient_norms_cases():
    rng = np.random.default_rng(404)
    setups = [  # (activation, layer sizes D, H1, ..., C, weight scale, N)
        ("sigmoid", [5, 3], UNIT, 8),
        ("tanh", [4, 6, 3], UNIT, 10),
        ("relu", [6, 5, 4], UNIT, 9),
        ("sigmoid", [5, 7, 6, 4, 3], UNIT, 12),
        ("tanh", [3, 8, 5, 6, 4], XAVIER, 11),
        ("relu", [7, 6, 9, 5, 3], HE, 8),
        ("sigmoid", [4, 6, 5, 7, 6, 5, 3], XAVIER, 16),
        ("tanh", [6, 5, 7, 4, 8, 6, 5], UNIT, 13),
        ("relu", [5, 8, 6, 10, 7, 6, 4], XAVIER, 14),
        ("sigmoid", [6, 4, 5, 3], LARGE, 10),
        ("tanh", [5, 6, 4, 3], LARGE, 9),
        ("relu", [4, 5, 6, 5, 3], LARGE, 10),
    ]
    cases = []
    for activation, sizes, (scale_name, scale), N in setups:
        L = len(sizes) - 1
        name = (f"{activation}, {L} layer{'s' if L > 1 else ''} of sizes "
                f"{' -> '.join(map(str, sizes))}, {scale_name}, N = {N}")
        if L == 1:
            name += " (no hidden layer: scores = X W1)"
        weights = _network(rng, sizes, scale)
        X = rng.normal(size=(N, sizes[0]))
        y = rng.integers(sizes[-1], size=N)
        cases.append(_layer_case(name, weights, X, y, activation))

    # Dead relu units: positive inputs and hidden units whose incoming weights are all negative.
    X = np.abs(rng.normal(size=(10, 4))) + 0.1
    weights = _network(rng, [4, 6, 5, 3], HE[1])
    weights[0][:, [1, 4]] = -np.abs(weights[0][:, [1, 4]])
    cases.append(_layer_case("relu, 3 layers, two dead hidden units (negative pre-activation "
                             "for every example)", weights, X, rng.integers(3, size=10), "relu"))
    # A unit whose incoming weights are all zero: its pre-activation is exactly 0 everywhere.
    X = rng.normal(size=(9, 5))
    weights = _network(rng, [5, 6, 4, 3], HE[1])
    weights[1][:, 2] = 0.0
    cases.append(_layer_case("relu, 3 layers, a hidden unit with all-zero incoming weights "
                             "(pre-activation exactly 0)", weights, X, rng.integers(3, size=9),
                             "relu"))
    # Saturated units: pre-activations of order 1000 in the first hidden layer.
    X = rng.normal(size=(12, 4)) * 10
    weights = _network(rng, [4, 6, 5, 3], XAVIER[1])
    weights[0] *= 120.0
    for activation in ("sigmoid", "tanh"):
        cases.append(_layer_case(f"{activation}, 3 layers, first-layer pre-activations of order "
                                 "1000 (saturated units)", weights, X,
                                 rng.integers(3, size=12), activation))
    # Scores of order 1000: the softmax must be shifted.
    X = rng.normal(size=(8, 5))
    weights = _network(rng, [5, 6, 4], UNIT[1])
    weights[1] *= 300.0
    cases.append(_layer_case("relu, 2 layers, scores of order 1000", weights, X,
                             rng.integers(4, size=8), "relu"))
    return cases


def _norms_with(weights, X, y, activation, dact):
    """The norms a correct layer_gradient_norms gives when the activation's derivative at
    the hidden pre-activations (flattened, layer after layer) is `dact`."""
    scores, (hs, pre) = ref.forward(weights, X, activation)
    dact = np.asarray(dact, dtype=float).ravel()
    sizes = np.cumsum([a.size for a in pre])[:-1]
    if dact.size != sum(a.size for a in pre):
        raise ValueError("not one derivative per pre-activation")
    dacts = [d.reshape(a.shape) for d, a in zip(np.split(dact, sizes), pre)]
    _, delta = ref.softmax_loss_grad(scores, y)
    norms = [0.0] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        norms[l] = np.linalg.norm(hs[l].T @ delta)
        if l > 0:
            delta = (delta @ weights[l].T) * dacts[l - 1]
    return {"result": np.array(norms)}


def _layer_case(name, weights, X, y, activation):
    inputs = {"weights": weights, "X": X, "y": y, "activation": activation}
    # rtol 1e-6 on each norm; atol 1e-12 absorbs the rounding of sigma' in saturated units.
    case = call("layer_gradient_norms", name, inputs,
                {"result": ref.layer_gradient_norms(weights, X, y, activation)},
                args=["weights", "X", "y", "activation"],
                rtol=1e-6, atol=1e-12, unchanged=("weights", "X", "y"),
                mistakes=_layer_mistakes(weights, X, y, activation),
                hint="Check each dW_l against a finite-difference gradient of the loss on a tiny "
                     "network (the notebook's helper does this), starting from the last layer.")
    derivative = {"sigmoid": "sigmoid_grad", "relu": "relu_grad"}.get(activation)
    pre = ref.forward(weights, X, activation)[1][1]
    if derivative and pre:
        # The network uses the student's own sigmoid_grad or relu_grad: probe it on the hidden
        # pre-activations, so that a wrong derivative there is charged to that function only.
        flat = np.concatenate([a.ravel() for a in pre])
        case.program["inputs"]["pre_activations"] = flat
        case.program["steps"].append({"fn": derivative, "args": ["pre_activations"],
                                      "out": "dact", "optional": True})
        case.program["returns"].append("dact")
        expect = ref.sigmoid_grad(flat) if activation == "sigmoid" else ref.relu_grad(flat)
        case.upstream = Upstream(derivative, "dact", expect,
                                 derive=lambda d: _norms_with(weights, X, y, activation, d))
    return case


def _last(norms):
    return np.asarray(norms, dtype=float)[-1:]


def _earlier(norms):
    return np.asarray(norms, dtype=float)[:-1]


# Points per behaviour (each test cell's points, split). For the norms, the last layer's
# gradient needs only the softmax loss; the earlier ones also the backward pass through the
# activations, where the vanishing happens.
CHECKS = [Check("sigmoid_grad", sigmoid_grad_cases, (
              Behaviour("moderate inputs", 2.0, tags=("plain",)),
              Behaviour("inputs as large as 1000 (no overflow)", 1.0, tags=("large",)))),
          Check("relu_grad", relu_grad_cases, (
              Behaviour("inputs away from 0", 1.5, tags=("plain",)),
              Behaviour("inputs with zeros (relu'(0) = 0)", 0.5, tags=("zero",)))),
          Check("layer_gradient_norms", layer_gradient_norms_cases, (
              Behaviour("the last layer's norm", 2.0, outputs=("result",), view=_last,
                        where=" (its last entry)"),
              Behaviour("the earlier layers' norms", 3.0, outputs=("result",), view=_earlier,
                        where=" (the entries before the last)", inputs=False)))]
