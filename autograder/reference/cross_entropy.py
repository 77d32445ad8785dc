"""Reference for 02-cross-entropy.

p is the target distribution and q the prediction, as in the chapter; logarithms are natural
(nats). A term with p_i = 0 contributes 0 whatever q_i is; a term with q_i = 0 < p_i makes the
cross-entropy and the KL divergence infinite.
"""
import numpy as np


def _p_log(p, x):
    """Elementwise p * log(x), with 0 where p == 0 (even if x == 0) and -inf where x == 0 < p."""
    out = np.zeros(np.broadcast(p, x).shape)
    p, x = np.broadcast_arrays(p, x)
    keep = p > 0
    with np.errstate(divide="ignore"):
        out[keep] = p[keep] * np.log(x[keep])
    return out


def entropy(p, axis=-1):
    """H(p) = -sum_i p_i log p_i along `axis`.

    Inputs:
    - p: array of any shape, distributions along `axis` (non-negative, summing to 1)
    - axis: the axis that holds the outcomes

    Returns an array of p's shape without `axis` (a float for a single distribution).
    """
    p = np.asarray(p, dtype=float)
    return -np.sum(_p_log(p, p), axis=axis)


def cross_entropy(p, q, axis=-1):
    """H(p, q) = -sum_i p_i log q_i along `axis`; inf where some q_i = 0 < p_i.

    Inputs:
    - p: array of any shape, target distributions along `axis`
    - q: array of the same shape, predicted distributions along `axis`
    - axis: the axis that holds the outcomes

    Returns an array of p's shape without `axis`.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return -np.sum(_p_log(p, q), axis=axis)


def kl_divergence(p, q, axis=-1):
    """KL(p || q) = sum_i p_i (log p_i - log q_i) along `axis`; inf where some q_i = 0 < p_i.

    Inputs and output as for `cross_entropy`. Exactly 0 when q equals p.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return np.sum(_p_log(p, p) - _p_log(p, q), axis=axis)


def cross_entropy_with_logits(z, y):
    """Mean over the batch of -log softmax(z)[n, y_n], computed with log-sum-exp.

    Inputs:
    - z: (N, C) scores (logits)
    - y: (N,) integer labels, 0 <= y[n] < C

    Returns the loss, a float; finite for any finite z.
    """
    z = np.asarray(z, dtype=float)
    N = z.shape[0]
    m = np.max(z, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))
    return float(np.mean(lse - z[np.arange(N), y]))
