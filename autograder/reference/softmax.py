"""Reference for 01-softmax."""
import numpy as np


def softmax(z, axis=-1):
    """p = exp(z) / sum(exp(z)) along `axis`, shifted by the maximum so nothing overflows."""
    z = np.asarray(z, dtype=float)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """z - logsumexp(z) along `axis`, finite wherever z is finite."""
    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_jacobian(z):
    """J[i, j] = dp_i / dz_j = p_i (delta_ij - p_j) for z of shape (C,)."""
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)
