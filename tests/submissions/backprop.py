"""Submissions for 03-backprop."""
from autograder import classgen

SLUG = "03-backprop"

CORRECT = {
    # CS231n's own shapes: probabilities then -log, a loop over classes, np.nditer in place.
    "cs231n": {
        "numerical_gradient": '''def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)
        x[ix] = oldval - h
        fxmh = f(x)
        x[ix] = oldval
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad''',
        "softmax_loss_naive": '''def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    dW = np.zeros_like(W)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss += -np.log(probs[y[i]])
        for j in range(num_classes):
            if j == y[i]:
                dW[:, j] += (probs[j] - 1) * X[i]
            else:
                dW[:, j] += probs[j] * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return loss, dW''',
        "softmax_loss_vectorized": '''def softmax_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[range(num_train), y]).sum() / num_train
    loss += reg * np.sum(W * W)
    dscores = probs
    dscores[range(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW''',
        "two_layer_net_loss": '''def two_layer_net_loss(params, X, y, reg=0.0):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X.dot(W1) + b1
    a1 = 1.0 / (1.0 + np.exp(-z1))
    scores = a1.dot(W2) + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y]))
    loss += reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    delta2 = probs.copy()
    delta2[np.arange(N), y] -= 1               # not yet divided by N: mean everywhere below
    grads = {}
    grads["W2"] = a1.T.dot(delta2) / N + 2 * reg * W2
    grads["b2"] = delta2.mean(axis=0)
    delta1 = delta2.dot(W2.T) * a1 * (1 - a1)
    grads["W1"] = X.T.dot(delta1) / N + 2 * reg * W1
    grads["b1"] = delta1.mean(axis=0)
    return loss, grads''',
    },
    # One-hot matrices, outer products, log-sum-exp; x perturbed with += and -= in place.
    "onehot": {
        "numerical_gradient": '''def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.shape)
    for ix in np.ndindex(*x.shape):
        x[ix] += h
        up = f(x)
        x[ix] -= 2 * h
        down = f(x)
        x[ix] += h
        grad[ix] = (up - down) / (2 * h)
    return grad''',
        "softmax_loss_naive": '''def softmax_loss_naive(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    total = 0.0
    grad = np.zeros(W.shape)
    for n in range(N):
        s = X[n] @ W
        m = s.max()
        lse = m + np.log(np.exp(s - m).sum())
        total += lse - s[y[n]]
        err = np.exp(s - lse)
        err[y[n]] -= 1.0
        grad += np.outer(X[n], err)
    return total / N + reg * (W ** 2).sum(), grad / N + 2 * reg * W''',
        "softmax_loss_vectorized": '''def softmax_loss_vectorized(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    Y = np.eye(C)[y]
    S = X @ W
    m = S.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(S - m).sum(axis=1, keepdims=True))
    loss = np.sum(Y * (lse - S)) / N + reg * np.sum(W ** 2)
    P = np.exp(S - lse)
    return loss, X.T @ (P - Y) / N + 2 * reg * W''',
        "two_layer_net_loss": '''def two_layer_net_loss(params, X, y, reg=0.0):
    N = len(y)
    C = params["W2"].shape[1]
    Y = np.eye(C)[y]
    hidden = 0.5 * (1.0 + np.tanh(0.5 * (X @ params["W1"] + params["b1"])))   # the sigmoid
    S = hidden @ params["W2"] + params["b2"]
    m = S.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(S - m).sum(axis=1, keepdims=True))
    loss = np.sum(Y * (lse - S)) / N
    loss += reg * sum(np.sum(params[k] ** 2) for k in ("W1", "W2"))
    dS = (np.exp(S - lse) - Y) / N
    dZ = (dS @ params["W2"].T) * hidden * (1.0 - hidden)
    return loss, {"W1": X.T @ dZ + 2 * reg * params["W1"], "b1": dZ.sum(axis=0),
                  "W2": hidden.T @ dS + 2 * reg * params["W2"], "b2": dS.sum(axis=0)}''',
    },
    # A flattened copy for the gradient check; the network one example at a time (Nielsen).
    "per_example": {
        "numerical_gradient": '''def numerical_gradient(f, x, h=1e-5):
    flat = x.astype(float).ravel()
    grad = np.zeros(flat.size)
    for i in range(flat.size):
        e = np.zeros(flat.size)
        e[i] = h
        grad[i] = (f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))) / (2 * h)
    return grad.reshape(x.shape)''',
        "two_layer_net_loss": '''def two_layer_net_loss(params, X, y, reg=0.0):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    cost = 0.0
    for x, label in zip(X, y):
        a1 = 1 / (1 + np.exp(-(x @ W1 + b1)))
        z2 = a1 @ W2 + b2
        z2 = z2 - z2.max()
        a2 = np.exp(z2) / np.exp(z2).sum()
        cost -= np.log(a2[label])
        delta2 = a2.copy()
        delta2[label] -= 1
        delta1 = (W2 @ delta2) * a1 * (1 - a1)
        grads["W2"] += np.outer(a1, delta2)
        grads["b2"] += delta2
        grads["W1"] += np.outer(x, delta1)
        grads["b1"] += delta1
    N = len(X)
    grads = {k: g / N for k, g in grads.items()}
    grads["W1"] += 2 * reg * W1
    grads["W2"] += 2 * reg * W2
    return cost / N + reg * (np.sum(W1 * W1) + np.sum(W2 * W2)), grads''',
    },
}

_NET_HEAD = '''def two_layer_net_loss(params, X, y, reg=0.0):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    h = 1.0 / (1.0 + np.exp(-(X.dot(W1) + b1)))
    scores = h.dot(W2) + b2
'''
_NET_STABLE = '''    scores = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
'''
_NET_LOSS = '''    loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
'''
_NET_TAIL = '''    dh = dscores.dot(W2.T)
    dz1 = dh * h * (1 - h)
    grads = {"W1": X.T.dot(dz1) + 2 * reg * W1, "b1": dz1.sum(axis=0),
             "W2": h.T.dot(dscores) + 2 * reg * W2, "b2": dscores.sum(axis=0)}
    return loss, grads'''


def _net(head=_NET_HEAD, stable=_NET_STABLE, loss=_NET_LOSS, tail=_NET_TAIL):
    return {"two_layer_net_loss": head + stable + loss + tail}


_VEC = '''def softmax_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X.dot(W)
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dW = X.T.dot(dscores) / N + 2 * reg * W
    return loss, dW'''


def _vec(old, new):
    assert old in _VEC, old
    return {"softmax_loss_vectorized": _VEC.replace(old, new)}


_NAIVE = '''def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    dW = np.zeros_like(W)
    N, C = X.shape[0], W.shape[1]
    for i in range(N):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(probs[y[i]])
        for j in range(C):
            dW[:, j] += (probs[j] - (j == y[i])) * X[i]
    loss = loss / N + reg * np.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW'''


def _naive(old, new):
    assert old in _NAIVE, old
    return {"softmax_loss_naive": _NAIVE.replace(old, new)}


_GRAD = '''def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
    return grad'''


def _grad(old, new):
    assert old in _GRAD, old
    return {"numerical_gradient": _GRAD.replace(old, new)}


def _net_edits(*edits):
    """The correct network with each (old, new) replacement applied."""
    source = _net()["two_layer_net_loss"]
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return {"two_layer_net_loss": source}


MISTAKES = {
    # softmax_loss_naive
    "naive: no max shift": (_naive("        scores -= np.max(scores)\n", ""), {"softmax_loss_naive"}),
    "naive: sum over the batch": (_naive("    loss = loss / N + reg * np.sum(W * W)\n    dW = dW / N + 2 * reg * W",
                                         "    loss = loss + reg * np.sum(W * W)\n    dW = dW + 2 * reg * W"),
                                  {"softmax_loss_naive"}),
    "naive: penalty missing from the loss": (_naive("    loss = loss / N + reg * np.sum(W * W)", "    loss = loss / N"),
                                             {"softmax_loss_naive"}),
    # a Python 2 habit: the cell does not compile, so the function is never defined
    "naive: a Python 2 print statement": (_naive("    loss = loss / N + reg * np.sum(W * W)",
                                                 '    print "summed loss:", loss\n'
                                                 "    loss = loss / N + reg * np.sum(W * W)"),
                                          {"softmax_loss_naive"}),
    "naive: penalty divided by N": (_naive("    loss = loss / N + reg * np.sum(W * W)\n    dW = dW / N + 2 * reg * W",
                                           "    loss = (loss + reg * np.sum(W * W)) / N\n    dW = (dW + 2 * reg * W) / N"),
                                    {"softmax_loss_naive"}),
    # softmax_loss_vectorized
    "vectorized: penalty gradient without its factor 2": (_vec("+ 2 * reg * W", "+ reg * W"),
                                                           {"softmax_loss_vectorized"}),
    "vectorized: 0.5 * reg in the loss": (_vec("+ reg * np.sum(W * W)", "+ 0.5 * reg * np.sum(W * W)"),
                                          {"softmax_loss_vectorized"}),
    "vectorized: dW not divided by N": (_vec("dW = X.T.dot(dscores) / N", "dW = X.T.dot(dscores)"),
                                        {"softmax_loss_vectorized"}),
    "vectorized: P without subtracting Y": (_vec("    dscores[np.arange(N), y] -= 1\n", ""),
                                            {"softmax_loss_vectorized"}),
    "vectorized: transposed dW": (_vec("dW = X.T.dot(dscores) / N + 2 * reg * W",
                                       "dW = dscores.T.dot(X) / N + 2 * reg * W.T"),
                                  {"softmax_loss_vectorized"}),
    "vectorized: one-hot sized by y.max() + 1": (_vec(
        "    dscores = probs.copy()\n    dscores[np.arange(N), y] -= 1\n",
        "    Y = np.eye(y.max() + 1)[y]\n    dscores = probs - Y\n"), {"softmax_loss_vectorized"}),
    "vectorized: global max shift": (_vec("scores -= np.max(scores, axis=1, keepdims=True)",
                                          "scores -= np.max(scores)"), {"softmax_loss_vectorized"}),
    # numerical_gradient
    "gradient check: forward differences": (_grad(
        "        x[ix] = old - h\n        f_minus = f(x)\n        x[ix] = old\n        grad[ix] = (f_plus - f_minus) / (2 * h)",
        "        x[ix] = old\n        grad[ix] = (f_plus - f(x)) / h"), {"numerical_gradient"}),
    "gradient check: x not restored": (_grad("        x[ix] = old\n", ""), {"numerical_gradient"}),
    "gradient check: divides by h": (_grad("/ (2 * h)", "/ h"), {"numerical_gradient"}),
    "gradient check: first axis only": ({"numerical_gradient": '''def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad'''}, {"numerical_gradient"}),
    "gradient check: ignores h": (_grad("    grad = np.zeros_like", "    h = 1e-5\n    grad = np.zeros_like"),
                                  {"numerical_gradient"}),
    # two_layer_net_loss
    "net: biases summed, weights averaged": (_net(loss=_NET_LOSS.replace("    dscores /= N\n", ""), tail='''\
    dh = dscores.dot(W2.T)
    dz1 = dh * h * (1 - h)
    grads = {"W1": X.T.dot(dz1) / N + 2 * reg * W1, "b1": dz1.sum(axis=0),
             "W2": h.T.dot(dscores) / N + 2 * reg * W2, "b2": dscores.sum(axis=0)}
    return loss, grads'''), {"two_layer_net_loss"}),
    "net: bias gradients averaged twice": (_net_edits(
        ('"b1": dz1.sum(axis=0)', '"b1": dz1.mean(axis=0)'),
        ('"b2": dscores.sum(axis=0)', '"b2": dscores.mean(axis=0)')), {"two_layer_net_loss"}),
    "net: no sigmoid derivative": (_net_edits(("    dz1 = dh * h * (1 - h)\n", "    dz1 = dh\n")),
                                   {"two_layer_net_loss"}),
    "net: sigmoid derivative at the output": (_net_edits((
        "    dscores /= N\n",
        "    s = 1.0 / (1.0 + np.exp(-scores))\n    dscores *= s * (1 - s)\n    dscores /= N\n")),
        {"two_layer_net_loss"}),
    "net: biases regularised": (_net_edits(
        ("reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
         "reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(b1 * b1) + np.sum(b2 * b2))"),
        ('"b1": dz1.sum(axis=0)', '"b1": dz1.sum(axis=0) + 2 * reg * b1'),
        ('"b2": dscores.sum(axis=0)', '"b2": dscores.sum(axis=0) + 2 * reg * b2')),
        {"two_layer_net_loss"}),
    "net: no penalty on W1": (_net_edits(
        ("reg * (np.sum(W1 * W1) + np.sum(W2 * W2))", "reg * np.sum(W2 * W2)"),
        ("X.T.dot(dz1) + 2 * reg * W1", "X.T.dot(dz1)")), {"two_layer_net_loss"}),
    "net: no max shift": (_net(stable=_NET_STABLE.replace(
        "    scores = scores - np.max(scores, axis=1, keepdims=True)\n", "")), {"two_layer_net_loss"}),
}

# What each mistake loses, behaviour by behaviour (autograder/checks/backprop.py); a mistake
# not listed here loses every behaviour of its functions.
LOSS, DW = "the loss", "the gradient dW"
CENTRED, X_KEPT = "the centred differences", "x as it was after the call"
OUTPUT_GRADS = "the output layer's gradients (W2, b2)"
HIDDEN_GRADS = "the hidden layer's gradients (W1, b1)"
PARTIAL = {
    "naive: penalty missing from the loss": {"softmax_loss_naive": (LOSS,)},
    "vectorized: penalty gradient without its factor 2": {"softmax_loss_vectorized": (DW,)},
    "vectorized: 0.5 * reg in the loss": {"softmax_loss_vectorized": (LOSS,)},
    "vectorized: dW not divided by N": {"softmax_loss_vectorized": (DW,)},
    "vectorized: P without subtracting Y": {"softmax_loss_vectorized": (DW,)},
    "vectorized: transposed dW": {"softmax_loss_vectorized": (DW,)},
    "gradient check: forward differences": {"numerical_gradient": (CENTRED,)},
    "gradient check: divides by h": {"numerical_gradient": (CENTRED,)},
    "gradient check: first axis only": {"numerical_gradient": (CENTRED,)},
    "gradient check: ignores h": {"numerical_gradient": (CENTRED,)},
    "net: biases summed, weights averaged": {"two_layer_net_loss": (OUTPUT_GRADS, HIDDEN_GRADS)},
    "net: bias gradients averaged twice": {"two_layer_net_loss": (OUTPUT_GRADS, HIDDEN_GRADS)},
    "net: no sigmoid derivative": {"two_layer_net_loss": (HIDDEN_GRADS,)},
    # the output layer's error, multiplied by a sigmoid derivative, reaches W1 through W2
    "net: sigmoid derivative at the output": {"two_layer_net_loss": (OUTPUT_GRADS, HIDDEN_GRADS)},
    "net: no penalty on W1": {"two_layer_net_loss": ("the loss", HIDDEN_GRADS)},
}
MISTAKES.update({name: (MISTAKES[name][0], losing) for name, losing in PARTIAL.items()})


# The experiment part calls the student's own functions, and its outcome is judged as it comes
# out: a mistake in a function it calls costs the experiment's points too (known limitation:
# these are not yet judged on the student's own upstream, as the backward passes are).
_EXPERIMENT_LOSSES = {
    'vectorized: dW not divided by N': ['train_softmax', 'train_final'],
    'vectorized: P without subtracting Y': ['train_softmax', 'train_final'],
    'vectorized: transposed dW': ['train_softmax', 'train_final'],
    'vectorized: one-hot sized by y.max() + 1': ['train_softmax'],
}
MISTAKES.update({name: (MISTAKES[name][0], classgen.also_losing(MISTAKES[name][1], extra))
                 for name, extra in _EXPERIMENT_LOSSES.items()})
