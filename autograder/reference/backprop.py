"""Reference for 03-backprop: the softmax classifier's loss and gradient, gradient checking,
and a two-layer sigmoid/softmax network.

Conventions (CS231n, and the course's): the loss is a mean over the batch; the L2 term is
reg * sum(W * W), with gradient 2 * reg * W, and covers weight matrices only, not biases.
"""
import numpy as np


def _probs(scores):
    """Row-wise softmax of scores (N, C), each row shifted by its own maximum."""
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


def _mean_nll(scores, y):
    """Mean over the rows of -log softmax(scores)_y, via the shifted log-sum-exp."""
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(y)), y]))


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss and gradient with explicit loops over the examples and classes.

    Inputs:
    - W: (D, C) weights
    - X: (N, D) a minibatch, one example per row
    - y: (N,) integer labels, 0 <= y[i] < C
    - reg: float, L2 strength

    Returns (loss, dW): loss a float, mean cross-entropy + reg * sum(W * W); dW (D, C).
    """
    N, C = X.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W, dtype=float)
    for i in range(N):
        scores = X[i] @ W
        scores = scores - np.max(scores)                 # stability; L_i is unchanged
        log_norm = np.log(np.sum(np.exp(scores)))
        loss += log_norm - scores[y[i]]
        for j in range(C):
            p = np.exp(scores[j] - log_norm)
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss = loss / N + reg * np.sum(W * W)
    dW = dW / N + 2 * reg * W
    return float(loss), dW


def softmax_loss_vectorized(W, X, y, reg):
    """The same loss and gradient as softmax_loss_naive, with no Python loops."""
    N = X.shape[0]
    scores = X @ W                                       # (N, C)
    P = _probs(scores)
    loss = _mean_nll(scores, y) + reg * np.sum(W * W)
    dscores = P.copy()
    dscores[np.arange(N), y] -= 1.0                      # P - Y
    dW = X.T @ dscores / N + 2 * reg * W                 # (D, N) @ (N, C) -> (D, C)
    return float(loss), dW


def numerical_gradient(f, x, h=1e-5):
    """Centred finite differences of a scalar function f at x (any shape).

    grad[ix] = (f(x + h e_ix) - f(x - h e_ix)) / (2 h). x is perturbed on a copy, so the
    caller's array is left as it was. Returns an array of x's shape.
    """
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
    return grad


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def two_layer_net_loss(params, X, y, reg=0.0):
    """Loss and gradients of a two-layer network: affine - sigmoid - affine - softmax.

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
    - X: (N, D), y: (N,) integer labels, reg: L2 strength on W1 and W2 (not on biases)

    Returns (loss, grads): loss a float, mean cross-entropy
    + reg * (sum(W1 ** 2) + sum(W2 ** 2)); grads a dict with the keys and shapes of params.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    hidden = sigmoid(X @ W1 + b1)                        # (N, H)
    scores = hidden @ W2 + b2                            # (N, C)
    loss = _mean_nll(scores, y) + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    dscores = _probs(scores)
    dscores[np.arange(N), y] -= 1.0
    dscores /= N                                         # the mean over the batch
    dhidden = dscores @ W2.T                             # (N, H)
    dz1 = dhidden * hidden * (1.0 - hidden)              # sigmoid'(z) = s (1 - s)
    grads = {"W1": X.T @ dz1 + 2 * reg * W1, "b1": dz1.sum(axis=0),
             "W2": hidden.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0)}
    return float(loss), grads
