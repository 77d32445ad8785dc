"""Reference for 05-batchnorm: the batch normalization layer, forward and backward.

Conventions (CS231n, and the course's): each feature is normalised over the batch with the
batch mean and the biased batch variance (divide by N); the running statistics follow
running = momentum * running + (1 - momentum) * batch, and are written back into bn_param.
"""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x, per feature (column).

    Inputs:
    - x: (N, D) a minibatch
    - gamma: (D,) scale
    - beta: (D,) shift
    - bn_param: dict with
      - mode: "train" or "test" (required; anything else raises ValueError)
      - eps: added to the variance before the square root (default 1e-5)
      - momentum: weight of the old running statistics (default 0.9)
      - running_mean, running_var: (D,) running statistics (default zeros)

    Returns (out, cache): out (N, D); cache for batchnorm_backward in train mode, None in test
    mode. In train mode the updated running statistics are stored in bn_param.
    """
    mode = bn_param.get("mode")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    if mode == "train":
        mu = x.mean(axis=0)                              # (D,)
        xc = x - mu                                      # (N, D) centred
        var = np.mean(xc**2, axis=0)                     # (D,) biased: divide by N
        std = np.sqrt(var + eps)                         # (D,)
        x_hat = xc / std                                 # (N, D) zero mean, unit variance
        out = gamma * x_hat + beta
        cache = (x_hat, gamma, std)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
        cache = None
    else:
        raise ValueError(f'invalid batchnorm mode {mode!r}: use "train" or "test"')

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass through the computational graph, one node at a time.

    Inputs:
    - dout: (N, D) upstream gradient dL/dout
    - cache: from batchnorm_forward in train mode

    Returns (dx, dgamma, dbeta): (N, D), (D,), (D,).
    """
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma                                # (N, D)
    xc = x_hat * std                                     # x - mu
    # x_hat = xc * (1 / std), std = sqrt(var + eps), var = mean(xc**2), xc = x - mu
    dxc = dx_hat / std                                   # direct path through xc
    dinv_std = np.sum(dx_hat * xc, axis=0)               # (D,)
    dstd = -dinv_std / std**2
    dvar = dstd * 0.5 / std
    dxc = dxc + 2.0 * xc * dvar / N                      # path through the variance
    dmu = -np.sum(dxc, axis=0)
    dx = dxc + dmu / N                                   # path through the mean
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients from the simplified closed form

        dx = gamma / (N std) * (N dout - sum(dout) - x_hat * sum(dout * x_hat)),

    sums over the batch (axis 0). Returns (dx, dgamma, dbeta).
    """
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
