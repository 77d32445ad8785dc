"""Reference for 04-vanishing-gradients."""
import numpy as np


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)) element-wise, without overflow for any finite x.

    Only exp(-|x|) is ever computed, so the exponential stays in (0, 1].
    """
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x):
    """sigma'(x) = sigma(x) (1 - sigma(x)) element-wise; same shape as x.

    Written as e / (1 + e)^2 with e = exp(-|x|) (sigma' is even), which keeps full relative
    accuracy in the tails, where 1 - sigma(x) would cancel.
    """
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2


def relu_grad(x):
    """d max(0, x) / dx: 1.0 where x > 0, else 0.0 (the convention at 0). float64, shape of x."""
    return (np.asarray(x) > 0).astype(float)


ACTIVATIONS = {
    # name: (act(a), act'(a) given the pre-activation a and the activation h = act(a))
    "sigmoid": (sigmoid, lambda a, h: sigmoid_grad(a)),
    "tanh": (np.tanh, lambda a, h: 1.0 - h ** 2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, h: relu_grad(a)),
}


def softmax_loss_grad(scores, y):
    """Mean softmax cross-entropy over the batch and its gradient.

    Inputs:
    - scores: (N, C) class scores
    - y: (N,) integer labels in [0, C)

    Returns (loss, dscores) with dscores = (P - Y) / N, shape (N, C).
    """
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1.0
    return loss, dscores / N


def forward(weights, X, activation):
    """The bias-free network: h_0 = X, a_l = h_{l-1} W_l, h_l = act(a_l) for l < L.

    Inputs:
    - weights: [W1 (D, H1), ..., WL (H_{L-1}, C)]
    - X: (N, D) inputs
    - activation: "sigmoid", "tanh" or "relu"

    Returns (scores (N, C), cache) with cache = (hs, pre): hs = [h_0, ..., h_{L-1}] the inputs
    of each layer, pre = [a_1, ..., a_{L-1}] the hidden pre-activations.
    """
    act, _ = ACTIVATIONS[activation]
    hs, pre = [np.asarray(X, dtype=float)], []
    for W in weights[:-1]:
        pre.append(hs[-1] @ W)
        hs.append(act(pre[-1]))
    return hs[-1] @ weights[-1], (hs, pre)


def layer_gradients(weights, X, y, activation):
    """[dW1, ..., dWL]: the gradients of the mean softmax cross-entropy, first layer first."""
    _, grad = ACTIVATIONS[activation]
    scores, (hs, pre) = forward(weights, X, activation)
    _, delta = softmax_loss_grad(scores, y)           # dloss / d scores, (N, C)
    grads = [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):         # 0-based: weights[l] maps hs[l] forward
        grads[l] = hs[l].T @ delta
        if l > 0:
            delta = (delta @ weights[l].T) * grad(pre[l - 1], hs[l])
    return grads


def layer_gradient_norms(weights, X, y, activation):
    """Frobenius norms ||dloss / dW_l|| for l = 1..L, first layer first; shape (L,)."""
    return np.array([np.linalg.norm(g) for g in layer_gradients(weights, X, y, activation)])
