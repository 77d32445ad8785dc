"""Submissions for 04-vanishing-gradients."""
from autograder import classgen

SLUG = "04-vanishing-gradients"

# A plain, correct layer_gradient_norms; most mistakes below change one line of it.
_NORMS = '''def layer_gradient_norms(weights, X, y, activation):
    hs, pre = [X], []
    for W in weights[:-1]:
        a = hs[-1] @ W
        pre.append(a)
        if activation == "sigmoid":
            hs.append(0.5 * (1.0 + np.tanh(0.5 * a)))
        elif activation == "tanh":
            hs.append(np.tanh(a))
        else:
            hs.append(np.maximum(a, 0.0))
    scores = hs[-1] @ weights[-1]
    N = X.shape[0]
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    dscores = e / e.sum(axis=1, keepdims=True)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    d = dscores
    grads = []
    for l in reversed(range(len(weights))):
        grads.append(hs[l].T @ d)
        if l > 0:
            dh = d @ weights[l].T
            if activation == "sigmoid":
                d = dh * hs[l] * (1 - hs[l])
            elif activation == "tanh":
                d = dh * (1 - hs[l] ** 2)
            else:
                d = dh * (pre[l - 1] > 0)
    grads = grads[::-1]
    return [float(np.sqrt(np.sum(g * g))) for g in grads]'''


def _norms_with(old, new):
    """_NORMS with one piece of code replaced (which must be there)."""
    assert old in _NORMS, old
    return {"layer_gradient_norms": _NORMS.replace(old, new)}


CORRECT = {
    "closed forms vectorised": {
        "sigmoid_grad": '''def sigmoid_grad(x):
    e = np.exp(-np.abs(np.asarray(x, dtype=float)))
    return e / (1 + e) ** 2''',
        "relu_grad": '''def relu_grad(x):
    return np.where(np.asarray(x) > 0, 1.0, 0.0)''',
        "layer_gradient_norms": _NORMS,
    },
    "cosh heaviside per-example loop": {
        "sigmoid_grad": '''def sigmoid_grad(x):
    # sigma'(x) = 1 / (e^x + 2 + e^-x); cosh overflows to inf for |x| > 710, giving 0
    with np.errstate(over="ignore"):
        return 1.0 / (2.0 + 2.0 * np.cosh(np.asarray(x, dtype=float)))''',
        "relu_grad": '''def relu_grad(x):
    return np.heaviside(x, 0.0).astype(float)''',
        "layer_gradient_norms": '''def layer_gradient_norms(weights, X, y, activation):
    def act(a):
        if activation == "sigmoid":
            return np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))),
                            np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))
        if activation == "tanh":
            return np.tanh(a)
        return a * (a > 0)

    def dact(a):
        if activation == "sigmoid":
            return sigmoid_grad(a)
        if activation == "tanh":
            return 1 - np.tanh(a) ** 2
        return relu_grad(a)

    L, N = len(weights), X.shape[0]
    total = [np.zeros_like(W, dtype=float) for W in weights]
    for i in range(N):                       # one example at a time, then average
        x = X[i]
        inputs, pres = [x], []
        for W in weights[:-1]:
            pres.append(inputs[-1] @ W)
            inputs.append(act(pres[-1]))
        s = inputs[-1] @ weights[-1]
        p = np.exp(s - s.max())
        p /= p.sum()
        p[y[i]] -= 1
        g = p
        for l in range(L - 1, -1, -1):
            total[l] += np.outer(inputs[l], g)
            if l > 0:
                g = (weights[l] @ g) * dact(pres[l - 1])
    return np.array([np.linalg.norm(t / N) for t in total])''',
    },
    "textbook sigmoid and mask": {
        "sigmoid_grad": '''def sigmoid_grad(x):
    with np.errstate(over="ignore"):         # exp(-x) = inf for x << 0, so s = 0: no NaN
        s = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
    return s * (1.0 - s)''',
        "relu_grad": '''def relu_grad(x):
    g = np.zeros(np.shape(x))
    g[np.asarray(x) > 0] = 1.0
    return g''',
    },
}

MISTAKES = {
    # sigmoid_grad (the solution's layer_gradient_norms calls it, so it loses points too)
    "sigmoid grad sigma times 1 minus x": ({"sigmoid_grad": '''def sigmoid_grad(x):
    s = 1.0 / (1.0 + np.exp(-x))
    return s * (1 - x)'''}, {"sigmoid_grad", "layer_gradient_norms"}),
    "sigmoid grad x times 1 minus x": ({"sigmoid_grad": '''def sigmoid_grad(x):
    return x * (1 - x)'''}, {"sigmoid_grad", "layer_gradient_norms"}),
    "sigmoid from exp of x overflows": ({"sigmoid_grad": '''def sigmoid_grad(x):
    s = np.exp(x) / (1 + np.exp(x))
    return s * (1 - s)'''}, {"sigmoid_grad", "layer_gradient_norms"}),
    "sigmoid grad from exp of minus x overflows": ({"sigmoid_grad": '''def sigmoid_grad(x):
    return np.exp(-x) / (1 + np.exp(-x)) ** 2'''}, {"sigmoid_grad", "layer_gradient_norms"}),
    # relu_grad
    "relu grad is 1 at 0": ({"relu_grad": '''def relu_grad(x):
    return (x >= 0).astype(float)'''}, {"relu_grad", "layer_gradient_norms"}),
    "relu grad in place": ({"relu_grad": '''def relu_grad(x):
    x[x > 0] = 1.0
    x[x <= 0] = 0.0
    return x'''}, {"relu_grad"}),
    # layer_gradient_norms
    "norms last layer first": (_norms_with("    grads = grads[::-1]\n", ""),
                               {"layer_gradient_norms"}),
    "sum over the batch": (_norms_with("    dscores /= N\n", ""), {"layer_gradient_norms"}),
    "tanh derivative as 1 minus a squared": (_norms_with("d = dh * (1 - hs[l] ** 2)", "d = dh * (1 - pre[l - 1] ** 2)"),
                                {"layer_gradient_norms"}),
    "sigmoid derivative at h": (_norms_with("d = dh * hs[l] * (1 - hs[l])",
                                            "d = dh * sigmoid_grad(hs[l])"),
                                {"layer_gradient_norms"}),
    "activation on the scores": ({"layer_gradient_norms": '''def layer_gradient_norms(weights, X, y, activation):
    act = {"sigmoid": lambda a: 0.5 * (1.0 + np.tanh(0.5 * a)), "tanh": np.tanh,
           "relu": lambda a: np.maximum(a, 0.0)}[activation]
    dact = {"sigmoid": lambda a, h: h * (1 - h), "tanh": lambda a, h: 1 - h ** 2,
            "relu": lambda a, h: (a > 0) * 1.0}[activation]
    hs, pre = [X], []
    for W in weights:                        # the activation after every layer, the last too
        pre.append(hs[-1] @ W)
        hs.append(act(pre[-1]))
    scores = hs[-1]
    N = X.shape[0]
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(N), y] -= 1
    d = p / N * dact(pre[-1], hs[-1])
    norms = []
    for l in range(len(weights) - 1, -1, -1):
        norms.insert(0, np.linalg.norm(hs[l].T @ d))
        if l > 0:
            d = (d @ weights[l].T) * dact(pre[l - 1], hs[l])
    return norms'''}, {"layer_gradient_norms"}),
    "squared norms": (_norms_with("float(np.sqrt(np.sum(g * g)))", "float(np.sum(g * g))"),
                      {"layer_gradient_norms"}),
    "softmax without the max shift": (_norms_with("np.exp(scores - scores.max(axis=1, keepdims=True))",
                                                  "np.exp(scores)"), {"layer_gradient_norms"}),
    "no activation derivative": (_norms_with(
        "        if l > 0:\n            dh = d @ weights[l].T\n",
        "        if l > 0:\n            d = d @ weights[l].T\n            continue\n"),
        {"layer_gradient_norms"}),
    "norms of the summed deltas": (_norms_with(
        "grads.append(hs[l].T @ d)", "grads.append(d.sum(axis=0))"), {"layer_gradient_norms"}),
}

# What each mistake loses, behaviour by behaviour (autograder/checks/vanishing_gradients.py);
# a mistake not listed here loses every behaviour of its functions. layer_gradient_norms calls
# the student's own sigmoid_grad and relu_grad: it is judged on what they give, so a mistake
# in them costs them alone (unless they get nothing right).
MODERATE, HUGE = "moderate inputs", "inputs as large as 1000 (no overflow)"
AT_ZERO = "inputs with zeros (relu'(0) = 0)"
EARLIER = "the earlier layers' norms"
PARTIAL = {
    # a sigmoid_grad that gets nothing right gives the network nothing to be right for
    "sigmoid grad sigma times 1 minus x": {"sigmoid_grad": None, "layer_gradient_norms": (EARLIER,)},
    "sigmoid grad x times 1 minus x": {"sigmoid_grad": None, "layer_gradient_norms": (EARLIER,)},
    "sigmoid from exp of x overflows": {"sigmoid_grad": (HUGE,)},
    "sigmoid grad from exp of minus x overflows": {"sigmoid_grad": (HUGE,)},
    "relu grad is 1 at 0": {"relu_grad": (AT_ZERO,)},
    "tanh derivative as 1 minus a squared": {"layer_gradient_norms": (EARLIER,)},
    "sigmoid derivative at h": {"layer_gradient_norms": (EARLIER,)},
    "no activation derivative": {"layer_gradient_norms": (EARLIER,)},
}
MISTAKES.update({name: (MISTAKES[name][0], losing) for name, losing in PARTIAL.items()})


# The experiment part calls the student's own functions, and its outcome is judged as it comes
# out: a mistake in a function it calls costs the experiment's points too (known limitation:
# these are not yet judged on the student's own upstream, as the backward passes are).
_EXPERIMENT_LOSSES = {
    'sigmoid grad sigma times 1 minus x': ['train_deep'],
    'sigmoid grad x times 1 minus x': ['train_deep'],
}
MISTAKES.update({name: (MISTAKES[name][0], classgen.also_losing(MISTAKES[name][1], extra))
                 for name, extra in _EXPERIMENT_LOSSES.items()})
