"""Hidden cases for 03-backprop.

The loss and the gradient are judged separately: every Mistake gives the values of both, so
a diagnosis says which of the two is wrong, and the last Mistakes of each case catch "the
loss is right but the gradient is not" (and the reverse) when no known error matches.
Mistake values come from the small wrong variants below, never from the student's code.
"""
import numpy as np

from ..reference import backprop as ref
from ..sandbox.program import TEST_FUNCTIONS
from . import Behaviour, Check, Mistake, call, compare

# Loss and gradients: float64 sums in another order (loops, one-hot matrices) differ by
# ~1e-15 relative; a wrong factor or a missing term is off by far more than this.
RTOL, ATOL = 1e-7, 1e-9
# numerical_gradient at h = 1e-5: the centred error is a h^2 ~ 1e-10 on the cubic plus
# rounding eps |f| / h ~ 1e-9; a one-sided difference is off by h f''/2 ~ 1e-5.
FD_RTOL, FD_ATOL = 1e-6, 1e-7


OVERFLOW = ("NaN or inf here means np.exp overflowed (or underflowed to 0/0): subtract each "
            "row's own maximum score, np.max(scores, axis=1, keepdims=True), before "
            "exponentiating; the loss and the probabilities do not change. ")


def _distinct(expect, mistakes, rtol, atol):
    """The mistakes whose values differ from the expected ones (the others cannot fire)."""
    return [m for m in mistakes
            if any(compare(v, expect[k], rtol, atol) is not None for k, v in m.values.items())]


def _labels_near_top(rng, scores, gap=600.0):
    """For each row, a random class whose score is within `gap` of the row's maximum.

    Keeps -log p_y far from underflow (p_y > 1e-260), so an implementation that shifts by
    the row maximum and then takes np.log of the probabilities is still exact.
    """
    y = np.empty(len(scores), dtype=int)
    for n, row in enumerate(scores):
        y[n] = rng.choice(np.flatnonzero(row >= row.max() - gap))
    return y


# ---------------------------------------------------------------------------- softmax loss

def _softmax_variant(W, X, y, reg, loss_mean=True, grad_mean=True, loss_reg=1.0,
                     grad_reg=2.0, reg_over_n=False, y_sign=1, transpose=False):
    """The softmax loss and dW with one convention changed (the defaults are correct).

    Every variant shifts the scores correctly. Unshifted code returns NaN or inf in a pattern
    that depends on how it was written (-log of P, or a log-sum-exp), so no one Mistake
    value would match it; the hint of the large-score cases names the overflow instead.
    """
    N = X.shape[0]
    rows = np.arange(N)
    S = X @ W
    S = S - S.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(S).sum(axis=1))
    data_loss = np.sum(log_norm - S[rows, y])
    G = np.exp(S - log_norm[:, None])
    if y_sign:
        G[rows, y] -= 1.0
        G *= y_sign
    data_grad = X.T @ G
    reg_loss, reg_grad = loss_reg * reg * np.sum(W * W), grad_reg * reg * W
    if reg_over_n:
        loss, dW = (data_loss + reg_loss) / N, (data_grad + reg_grad) / N
    else:
        loss = (data_loss / N if loss_mean else data_loss) + reg_loss
        dW = (data_grad / N if grad_mean else data_grad) + reg_grad
    return float(loss), (dW.T if transpose else dW)


SOFTMAX_MISTAKES = [
    ("the loss is right, but dW is the transpose of what it should be, shape (C, D) instead "
     "of W's (D, C): dW = X.T @ (P - Y) / N, (D, N) @ (N, C) -> (D, C)", dict(transpose=True)),
    ("the loss is right, but in dW the gradient of the penalty is missing its factor 2: "
     "d/dW reg * sum(W * W) = 2 * reg * W", dict(grad_reg=1.0)),
    ("both use the 0.5 * reg * sum(W * W) convention; this course's penalty is "
     "reg * sum(W * W) in the loss and 2 * reg * W in dW", dict(loss_reg=0.5, grad_reg=1.0)),
    ("dW is right, but the loss adds 0.5 * reg * sum(W * W); the penalty is reg * sum(W * W)",
     dict(loss_reg=0.5)),
    ("dW is right, but the loss is missing the penalty reg * sum(W * W)", dict(loss_reg=0.0)),
    ("the regularisation is missing from both the loss (reg * sum(W * W)) and dW "
     "(2 * reg * W)", dict(loss_reg=0.0, grad_reg=0.0)),
    ("the loss is right, but dW is missing the penalty's gradient 2 * reg * W",
     dict(grad_reg=0.0)),
    ("the loss is right, but dW is not divided by N: the loss is a mean over the batch, "
     "so its gradient is X.T @ (P - Y) / N (+ 2 * reg * W)", dict(grad_mean=False)),
    ("dW is right, but the loss is summed over the batch: divide the data loss by N "
     "(the course uses the mean), then add reg * sum(W * W)", dict(loss_mean=False)),
    ("the loss and dW are sums over the batch: divide the data parts of both by N "
     "(the course uses the mean)", dict(loss_mean=False, grad_mean=False)),
    ("the penalty was divided by N together with the data loss: average only the data part, "
     "then add reg * sum(W * W) to the loss and 2 * reg * W to dW", dict(reg_over_n=True)),
    ("the loss is right, but dW uses P without subtracting the one-hot labels: "
     "dW = X.T @ (P - Y) / N + 2 * reg * W (subtract 1 at each example's correct class)",
     dict(y_sign=0)),
    ("the loss is right, but the data part of dW has the wrong sign: use P - Y, not Y - P",
     dict(y_sign=-1)),
]


def _softmax_problems():
    rng = np.random.default_rng(301)
    problems = []

    def random(name, N, D, C, reg, scale=0.5, classes=None):
        W = rng.normal(scale=scale, size=(D, C))
        X = rng.normal(size=(N, D))
        y = rng.choice(np.arange(C) if classes is None else np.array(classes), size=N)
        problems.append((name, W, X, y, reg, False))

    random("random problem, N=10, D=5, C=4, reg=0", 10, 5, 4, 0.0)
    random("random problem, N=8, D=6, C=3, reg=0.1", 8, 6, 3, 0.1)
    random("random problem, N=20, D=10, C=5, reg=0.5, larger weights", 20, 10, 5, 0.5, scale=2.0)
    random("a single example (N=1), D=4, C=3, reg=0.2", 1, 4, 3, 0.2, scale=1.0)
    random("the last class of 4 never appears in y, reg=0.05", 9, 3, 4, 0.05, classes=[0, 1, 2])
    random("class 1 of 5 never appears in y, reg=0", 12, 7, 5, 0.0, classes=[0, 2, 3, 4])

    # Scores as large as 1000 in magnitude: random X scaled up.
    W = rng.normal(size=(5, 4))
    X = rng.normal(size=(10, 5))
    X *= 1000.0 / np.abs(X @ W).max()
    problems.append(("scores as large as 1000 in magnitude (X scaled up), reg=0.01",
                     W, X, _labels_near_top(rng, X @ W), 0.01, True))

    # Rows on very different scales: a constant feature adds an offset to every score of a row.
    offsets = np.array([1000.0, -1000.0, 0.0, 500.0, -500.0, 250.0])
    X = np.column_stack([offsets, rng.normal(size=(6, 3))])
    W = np.vstack([np.ones((1, 3)), rng.normal(size=(3, 3))])
    problems.append(("rows whose scores sit near 1000, -1000, 0, 500, -500 and 250, reg=0",
                     W, X, rng.integers(0, 3, size=6), 0.0, True))

    X = np.column_stack([np.full(7, 800.0), rng.normal(size=(7, 2))])
    W = np.vstack([np.ones((1, 4)), rng.normal(scale=10.0, size=(2, 4))])
    problems.append(("every score near 800, so every unshifted exp overflows, reg=0.1",
                     W, X, _labels_near_top(rng, X @ W), 0.1, True))
    return problems


def _softmax_cases(fn):
    cases = []
    for name, W, X, y, reg, large in _softmax_problems():
        loss, dW = ref.softmax_loss_vectorized(W, X, y, reg)
        expect = {"loss": loss, "dW": dW}
        mistakes = [Mistake(d, dict(zip(("loss", "dW"), _softmax_variant(W, X, y, reg, **flags))))
                    for d, flags in SOFTMAX_MISTAKES]
        mistakes = _distinct(expect, mistakes, RTOL, ATOL) + [
            Mistake("the loss is right but dW is not: dW = X.T @ (P - Y) / N + 2 * reg * W; "
                    "compare it with numerical_gradient of your own loss", {"loss": loss}),
            Mistake("dW is right but the loss is not: it is the mean over the batch of "
                    "-log P[n, y[n]], plus reg * sum(W * W)", {"dW": dW}),
        ]
        hint = ("Neither the loss nor dW is right: get the loss right first (mean over the "
                "batch of -log softmax(X @ W)[n, y[n]], plus reg * sum(W * W)), then "
                "dW = X.T @ (P - Y) / N + 2 * reg * W.")
        cases.append(call(fn, name, {"W": W, "X": X, "y": y, "reg": reg}, expect,
                          out=["loss", "dW"], rtol=RTOL, atol=ATOL, mistakes=mistakes,
                          hint=(OVERFLOW if large else "") + hint))
    return cases


def softmax_loss_naive_cases():
    return _softmax_cases("softmax_loss_naive")


def softmax_loss_vectorized_cases():
    return _softmax_cases("softmax_loss_vectorized")


# ---------------------------------------------------------------------------- numerical gradient

def _differences(f, x, h, kind):
    """Finite differences of f at x, right (kind="centred") or wrong in one known way."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    if kind == "rows":                                 # x[i] is a whole slice when x.ndim > 1
        for i in range(x.shape[0]):
            step = np.zeros_like(x)
            step[i] = h
            grad[i] = (f(x + step) - f(x - step)) / (2 * h)
        return grad
    f_x = f(x)
    for ix in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[ix] = h
        if kind == "forward":
            grad[ix] = (f(x + step) - f_x) / h
        elif kind == "backward":
            grad[ix] = (f_x - f(x - step)) / h
        else:
            grad[ix] = (f(x + step) - f(x - step)) / (2 * h if kind == "centred" else h)
    return grad


def numerical_gradient_cases():
    rng = np.random.default_rng(303)

    def coefficients(shape):                           # magnitudes in [0.5, 2], either sign
        return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)

    specs = []
    for shape in [(5,), (3, 4), (2, 3, 2)]:
        a, b, x = coefficients(shape), coefficients(shape), rng.normal(size=shape)
        specs.append((f"cubic sum(a x^3 + b x^2), x of shape {shape}",
                      {"$fn": "cubic", "a": a, "b": b}, x, None, 3 * a * x**2 + 2 * b * x))
    for shape in [(5,), (3, 4), (2, 3, 2)]:
        w, x = rng.normal(scale=1.5, size=shape), rng.normal(scale=0.5, size=shape)
        s = np.sum(w * x)
        specs.append((f"softplus log(1 + exp(w . x)), x of shape {shape}",
                      {"$fn": "softplus_of_linear", "w": w}, x, None, w / (1.0 + np.exp(-s))))
    # With h passed explicitly the centred difference of a cubic is exact up to a h^2:
    # ((x + h)^3 - (x - h)^3) / 2h = 3 x^2 + h^2, so the step the student used is visible.
    a, b, x = coefficients((3, 4)), coefficients((3, 4)), rng.normal(size=(3, 4))
    h = 1e-2
    specs.append(("cubic, x of shape (3, 4), called with h=1e-2",
                  {"$fn": "cubic", "a": a, "b": b}, x, h, 3 * a * x**2 + 2 * b * x + a * h**2))

    cases = []
    for name, f_spec, x, h, grad in specs:
        f = TEST_FUNCTIONS[f_spec["$fn"]](**{k: v for k, v in f_spec.items() if k != "$fn"})
        step = 1e-5 if h is None else h
        expect = {"result": grad, "x": x.copy()}
        mistakes = [
            Mistake("one-sided differences (f(x + h) - f(x)) / h have an O(h) error: use "
                    "centred differences (f(x + h) - f(x - h)) / (2 * h)",
                    {"result": _differences(f, x, step, "forward")}),
            Mistake("one-sided differences (f(x) - f(x - h)) / h have an O(h) error: use "
                    "centred differences (f(x + h) - f(x - h)) / (2 * h)",
                    {"result": _differences(f, x, step, "backward")}),
            Mistake("the result is twice the gradient: the centred difference "
                    "f(x + h) - f(x - h) spans 2h, so divide by 2 * h, not h",
                    {"result": _differences(f, x, step, "over_h")}),
            Mistake("each step perturbs a whole slice x[i] along the first axis at once: loop "
                    "over every index of x (np.ndindex(x.shape), or np.nditer with "
                    "flags=['multi_index']) and perturb one entry at a time",
                    {"result": _differences(f, x, step, "rows")}),
            Mistake("the gradient is flattened: return it with x's shape "
                    "(start from np.zeros_like(x))", {"result": grad.ravel()}),
            Mistake("x is left perturbed after the call (every entry is h lower than before): "
                    "after evaluating f(x - h), put the original value back, or perturb a copy",
                    {"x": x - step}),
        ]
        if h is not None:
            mistakes.insert(0, Mistake("the step h passed by the caller is ignored: use the "
                                       "argument h, not a fixed 1e-5",
                                       {"result": 3 * a * x**2 + 2 * b * x + a * 1e-10}))
        inputs = {"f": f_spec, "x": x} if h is None else {"f": f_spec, "x": x, "h": h}
        case = call("numerical_gradient", name, inputs, expect,
                    args=["f", "x"], kwargs={} if h is None else {"h": "h"},
                    rtol=FD_RTOL, atol=FD_ATOL, unchanged=(),
                    mistakes=_distinct(expect, mistakes, FD_RTOL, FD_ATOL) + [
                        Mistake("the gradient is right, but x is not the same after the call: "
                                "restore each entry you perturb to its original value, or "
                                "perturb a copy", {"result": grad})],
                    hint="grad[ix] = (f(x + h e_ix) - f(x - h e_ix)) / (2 * h) for every index "
                         "ix of x, where e_ix is 1 at ix and 0 elsewhere; the expected value is "
                         "the analytic gradient.")
        # x is compared with the case's tolerance rather than exactly, so perturbing x in place
        # and restoring it with x[ix] += h; ...; x[ix] -= 2 * h; ...; x[ix] += h is accepted.
        case.program["returns"].append("x")
        cases.append(case)
    return cases


# ---------------------------------------------------------------------------- two-layer net

def _sigmoid(t):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-t))


def _net_variant(params, X, y, reg, loss_mean=True, grad_mean=True, bias_scale=1.0,
                 hidden_deriv="sigmoid", out_deriv=None, subtract_y=True, loss_reg=(1.0, 1.0),
                 grad_reg=(2.0, 2.0), reg_biases_loss=False, reg_biases_grad=False,
                 transpose=()):
    """Loss and grads of the two-layer net with one convention changed (defaults correct)."""
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    N = X.shape[0]
    rows = np.arange(N)
    hidden = _sigmoid(X @ W1 + b1)
    raw = hidden @ W2 + b2
    S = raw - raw.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(S).sum(axis=1))
    per_example = log_norm - S[rows, y]
    loss = per_example.mean() if loss_mean else per_example.sum()
    P = np.exp(S - log_norm[:, None])
    G = P.copy()
    if subtract_y:
        G[rows, y] -= 1.0
    if out_deriv == "sigmoid":
        G *= _sigmoid(S) * (1.0 - _sigmoid(S))
    elif out_deriv == "sigmoid_raw":
        G *= _sigmoid(raw) * (1.0 - _sigmoid(raw))
    elif out_deriv == "softmax":
        G *= P * (1.0 - P)
    if grad_mean:
        G /= N
    dhidden = G @ W2.T
    if hidden_deriv == "sigmoid":
        dz1 = dhidden * hidden * (1.0 - hidden)
    elif hidden_deriv == "twice":
        dz1 = dhidden * _sigmoid(hidden) * (1.0 - _sigmoid(hidden))
    else:
        dz1 = dhidden
    grads = {"W1": X.T @ dz1 + grad_reg[0] * reg * W1, "b1": dz1.sum(axis=0) * bias_scale,
             "W2": hidden.T @ G + grad_reg[1] * reg * W2, "b2": G.sum(axis=0) * bias_scale}
    loss += reg * (loss_reg[0] * np.sum(W1 * W1) + loss_reg[1] * np.sum(W2 * W2))
    if reg_biases_loss:
        loss += reg * (np.sum(b1 * b1) + np.sum(b2 * b2))
    if reg_biases_grad:
        grads["b1"] = grads["b1"] + 2 * reg * b1
        grads["b2"] = grads["b2"] + 2 * reg * b2
    for k in transpose:
        grads[k] = grads[k].T
    return float(loss), grads


def _net_mistakes(N):
    return [
        ("the loss and the weight gradients are right, but the bias gradients are summed over "
         "the batch where everything else uses the mean: divide db1 and db2 by N as well "
         "(sum a dscores that already includes the 1/N)", dict(bias_scale=float(N))),
        ("the loss and the weight gradients are right, but the bias gradients are divided by N "
         "twice: dscores already includes the 1/N, so db = dscores.sum(axis=0), not .mean",
         dict(bias_scale=1.0 / N)),
        ("the loss and the output-layer gradients are right, but the hidden layer misses the "
         "sigmoid's derivative: dz1 = (dscores @ W2.T) * h * (1 - h), h = sigmoid(X @ W1 + b1)",
         dict(hidden_deriv="none")),
        ("the hidden layer's sigmoid derivative is taken at the activation: with "
         "h = sigmoid(z1) already computed, sigmoid'(z1) = h * (1 - h), not "
         "sigmoid(h) * (1 - sigmoid(h))", dict(hidden_deriv="twice")),
        ("the loss is right, but the output error is multiplied by a sigmoid-style derivative; "
         "softmax with cross-entropy gives dscores = (P - Y) / N exactly, with no extra "
         "factor (the derivative sigmoid' belongs to the hidden layer only)",
         dict(out_deriv="sigmoid")),
        ("the loss is right, but the output error is multiplied by a sigmoid-style derivative; "
         "softmax with cross-entropy gives dscores = (P - Y) / N exactly, with no extra "
         "factor (the derivative sigmoid' belongs to the hidden layer only)",
         dict(out_deriv="sigmoid_raw")),
        ("the loss is right, but the output error is multiplied by P * (1 - P); softmax with "
         "cross-entropy gives dscores = (P - Y) / N exactly, with no extra factor",
         dict(out_deriv="softmax")),
        ("the biases are regularised: the penalty is reg * (sum(W1**2) + sum(W2**2)), "
         "biases excluded, in the loss and in the gradients",
         dict(reg_biases_loss=True, reg_biases_grad=True)),
        ("the loss is right, but the bias gradients include 2 * reg * b: biases are not "
         "regularised", dict(reg_biases_grad=True)),
        ("the penalty on W1 is missing: add reg * sum(W1 * W1) to the loss and "
         "2 * reg * W1 to grads['W1']", dict(loss_reg=(0.0, 1.0), grad_reg=(0.0, 2.0))),
        ("the loss is right, but grads['W1'] is missing the penalty's gradient 2 * reg * W1",
         dict(grad_reg=(0.0, 2.0))),
        ("the gradients are right, but the loss is missing reg * sum(W1 * W1)",
         dict(loss_reg=(0.0, 1.0))),
        ("the penalty on W2 is missing: add reg * sum(W2 * W2) to the loss and "
         "2 * reg * W2 to grads['W2']", dict(loss_reg=(1.0, 0.0), grad_reg=(2.0, 0.0))),
        ("the loss is right, but the gradients of the penalty are missing their factor 2: "
         "2 * reg * W1 and 2 * reg * W2", dict(grad_reg=(1.0, 1.0))),
        ("uses the 0.5 * reg * sum(W**2) convention; this course's penalty is "
         "reg * (sum(W1**2) + sum(W2**2)), with gradients 2 * reg * W1 and 2 * reg * W2",
         dict(loss_reg=(0.5, 0.5), grad_reg=(1.0, 1.0))),
        ("the loss and the gradients are sums over the batch: use the mean (divide the data "
         "loss by N, and use dscores = (P - Y) / N)", dict(loss_mean=False, grad_mean=False)),
        ("the loss is right, but the gradients are not divided by N: the loss is a mean, so "
         "dscores = (P - Y) / N", dict(grad_mean=False)),
        ("the gradients are right, but the loss is a sum over the batch: divide the data loss "
         "by N (the course uses the mean)", dict(loss_mean=False)),
        ("the loss is right, but dscores uses P without subtracting the one-hot labels: "
         "dscores = (P - Y) / N", dict(subtract_y=False)),
        ("grads['W1'] is transposed, shape (H, D) instead of W1's (D, H): "
         "grads['W1'] = X.T @ dz1", dict(transpose=("W1",))),
        ("grads['W2'] is transposed, shape (C, H) instead of W2's (H, C): "
         "grads['W2'] = h.T @ dscores", dict(transpose=("W2",))),
    ]


ADVICE = {"W1": "grads['W1'] = X.T @ dz1 + 2 * reg * W1, dz1 = (dscores @ W2.T) * h * (1 - h)",
          "b1": "grads['b1'] = dz1.sum(axis=0), with the same 1/N as the weights",
          "W2": "grads['W2'] = h.T @ dscores + 2 * reg * W2, dscores = (P - Y) / N",
          "b2": "grads['b2'] = dscores.sum(axis=0), dscores = (P - Y) / N"}


def two_layer_net_loss_cases():
    rng = np.random.default_rng(304)

    def net(D, H, C, w2_scale=1.0):
        return {"W1": rng.normal(scale=0.8, size=(D, H)), "b1": rng.normal(scale=0.5, size=H),
                "W2": rng.normal(scale=w2_scale, size=(H, C)), "b2": rng.normal(scale=0.5, size=C)}

    problems = []
    for name, N, D, H, C, reg, classes in [
        ("random net, N=8, D=4, H=5, C=3, reg=0", 8, 4, 5, 3, 0.0, None),
        ("random net, N=12, D=6, H=7, C=4, reg=0.1", 12, 6, 7, 4, 0.1, None),
        ("random net, N=20, D=10, H=6, C=5, reg=0.05", 20, 10, 6, 5, 0.05, None),
        ("a single example (N=1), D=3, H=4, C=3, reg=0.2", 1, 3, 4, 3, 0.2, None),
        ("class 0 of 4 never appears in y, reg=0.01", 10, 5, 4, 4, 0.01, [1, 2, 3]),
        ("called without reg (the default reg=0.0), N=6, D=3, H=4, C=3", 6, 3, 4, 3, None, None),
    ]:
        params = net(D, H, C, w2_scale=1.5)
        X = rng.normal(size=(N, D))
        y = rng.choice(np.arange(C) if classes is None else np.array(classes), size=N)
        problems.append((name, params, X, y, reg, False))

    # Output scores as large as 1000: W2 and b2 scaled up together.
    params = net(4, 5, 3)
    params["b2"] = params["b2"] + 3.0
    X = rng.normal(size=(9, 4))
    scores = ref.sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    factor = 1000.0 / np.abs(scores).max()
    params["W2"], params["b2"] = params["W2"] * factor, params["b2"] * factor
    scores = scores * factor
    problems.append(("output scores as large as 1000 (W2 and b2 scaled up), reg=1e-3",
                     params, X, _labels_near_top(rng, scores), 1e-3, True))

    cases = []
    for name, params, X, y, reg, large in problems:
        r = 0.0 if reg is None else reg
        loss, grads = ref.two_layer_net_loss(params, X, y, r)
        expect = {"loss": loss, "grads": grads}
        mistakes = [Mistake(d, dict(zip(("loss", "grads"), _net_variant(params, X, y, r, **flags))))
                    for d, flags in _net_mistakes(X.shape[0])]
        mistakes = _distinct(expect, mistakes, RTOL, ATOL)
        for key in ("W1", "b1", "W2", "b2"):
            others = {k: v for k, v in grads.items() if k != key}
            mistakes.append(Mistake(f"the loss and the other gradients are right, but "
                                    f"grads['{key}'] is not: {ADVICE[key]}",
                                    {"loss": loss, "grads": others}))
        mistakes += [
            Mistake("the loss and the output-layer gradients are right, but grads['W1'] and "
                    "grads['b1'] are not: backpropagate through W2 and the sigmoid, "
                    "dz1 = (dscores @ W2.T) * h * (1 - h)",
                    {"loss": loss, "grads": {"W2": grads["W2"], "b2": grads["b2"]}}),
            Mistake("the loss is right but the gradients are not: dscores = (P - Y) / N, then "
                    "back through W2 and the sigmoid; compare each with numerical_gradient",
                    {"loss": loss}),
            Mistake("the gradients are right but the loss is not: mean over the batch of "
                    "-log P[n, y[n]], plus reg * (sum(W1**2) + sum(W2**2))", {"grads": grads}),
        ]
        hint = ("Neither the loss nor the gradients are right: get the loss right first "
                "(h = sigmoid(X @ W1 + b1), scores = h @ W2 + b2, mean cross-entropy plus "
                "reg * (sum(W1**2) + sum(W2**2))), then the gradients.")
        inputs = {"params": params, "X": X, "y": y}
        if reg is not None:
            inputs["reg"] = reg
        kwargs = {} if reg is None else {"reg": "reg"}
        cases.append(call("two_layer_net_loss", name, inputs, expect, args=["params", "X", "y"],
                          kwargs=kwargs, out=["loss", "grads"], rtol=RTOL, atol=ATOL,
                          unchanged=("params", "X", "y"), mistakes=mistakes,
                          hint=(OVERFLOW if large else "") + hint))
    return cases


def _hidden_grads(grads):
    return {k: grads[k] for k in ("W1", "b1")}


def _output_grads(grads):
    return {k: grads[k] for k in ("W2", "b2")}


# Points per behaviour (each test cell's points, split): the loss and its gradient separately;
# for the network the output layer's gradients and the hidden layer's, reached through W2 and
# the sigmoid, separately too.
LOSS_AND_GRADIENT = (Behaviour("the loss", 1.5, outputs=("loss",)),
                     Behaviour("the gradient dW", 1.5, outputs=("dW",)))
CHECKS = [Check("softmax_loss_naive", softmax_loss_naive_cases, LOSS_AND_GRADIENT),
          Check("softmax_loss_vectorized", softmax_loss_vectorized_cases, LOSS_AND_GRADIENT),
          Check("numerical_gradient", numerical_gradient_cases, (
              Behaviour("the centred differences", 1.5, outputs=("result",)),
              Behaviour("x as it was after the call", 0.5, outputs=("x",)))),
          Check("two_layer_net_loss", two_layer_net_loss_cases, (
              Behaviour("the loss", 2.0, outputs=("loss",)),
              Behaviour("the output layer's gradients (W2, b2)", 1.5, outputs=("grads",),
                        view=_output_grads, where="['W2'] or ['b2']", inputs=False),
              Behaviour("the hidden layer's gradients (W1, b1)", 1.5, outputs=("grads",),
                        view=_hidden_grads, where="['W1'] or ['b1']", inputs=False)))]
