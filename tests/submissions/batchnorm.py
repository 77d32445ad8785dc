"""Submissions for 05-batchnorm."""
from autograder import classgen

SLUG = "05-batchnorm"

# The forward pass of the solution with one marked line changed (for the mistakes below).
_FORWARD = '''def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param.get("mode")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        mu = x.mean(axis=0)
        var = @VAR@
        std = @STD@
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x_hat, gamma, std)
        running_mean = @RMEAN@
        running_var = @RVAR@
    elif mode == "test":
        out = gamma * (x - running_mean) / @TSTD@ + beta
    else:
        raise ValueError("mode must be 'train' or 'test'")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache'''

_RIGHT = {"@VAR@": "x.var(axis=0)", "@STD@": "np.sqrt(var + eps)",
          "@RMEAN@": "momentum * running_mean + (1 - momentum) * mu",
          "@RVAR@": "momentum * running_var + (1 - momentum) * var",
          "@TSTD@": "np.sqrt(running_var + eps)"}


def _forward(**changes):
    """_FORWARD with changes such as VAR="x.var(axis=0, ddof=1)" (keys without the @s)."""
    source = _FORWARD
    for key, value in dict(_RIGHT, **{f"@{k}@": v for k, v in changes.items()}).items():
        source = source.replace(key, value)
    return source


_BACKWARD = '''def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dbeta = DBETA
    dgamma = DGAMMA
    dx = DX
    return dx, dgamma, dbeta'''


def _backward(dx="gamma / (N * std) * (N * dout - dout.sum(axis=0) - x_hat * np.sum(dout * x_hat, axis=0))",
              dgamma="np.sum(dout * x_hat, axis=0)", dbeta="dout.sum(axis=0)",
              name="batchnorm_backward"):
    return (_BACKWARD.replace("batchnorm_backward", name).replace("DBETA", dbeta)
            .replace("DGAMMA", dgamma).replace("DX", dx))


_ALL = {"batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"}
# The behaviours of batchnorm_forward (autograder/checks/batchnorm.py), for partial scores.
OUT, MEAN, VAR = ("train mode: the output", "train mode: the running mean",
                  "train mode: the running variance")
TEST = "test mode, and an unknown mode raises"

CORRECT = {
    # the statistics kept as (1, D) rows (keepdims=True): the running mean and variance are
    # (1, D) too; they broadcast exactly like (D,) vectors, so the statement leaves it free
    "keepdims statistics": {"batchnorm_forward": _forward(
        VAR="x.var(axis=0, keepdims=True)").replace(
        "mu = x.mean(axis=0)", "mu = x.mean(axis=0, keepdims=True)")},
    "staged graph": {
        # CS231n-style intermediates in a dict; running stats updated in place when given.
        "batchnorm_forward": '''def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"unknown mode {mode}")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.setdefault("running_mean", np.zeros(D))
    running_var = bn_param.setdefault("running_var", np.zeros(D))
    if mode == "test":
        return (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta, None
    mu = np.sum(x, axis=0) / N
    xmu = x - mu
    sq = xmu ** 2
    var = np.sum(sq, axis=0) / N
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    running_mean *= momentum
    running_mean += (1 - momentum) * mu
    running_var *= momentum
    running_var += (1 - momentum) * var
    cache = {"xhat": xhat, "xmu": xmu, "ivar": ivar, "sqrtvar": sqrtvar, "var": var,
             "eps": eps, "gamma": gamma}
    return out, cache''',
        "batchnorm_backward": '''def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, sqrtvar, var, eps, gamma = (cache[k] for k in
        ("xhat", "xmu", "ivar", "sqrtvar", "var", "eps", "gamma"))
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones((N, D)) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones((N, D)) / N * dmu
    return dx1 + dx2, dgamma, dbeta''',
        "batchnorm_backward_alt": '''def batchnorm_backward_alt(dout, cache):
    xmu, ivar, gamma = cache["xmu"], cache["ivar"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xmu * ivar, axis=0)
    dx = gamma * ivar / N * (N * dout - dbeta - xmu * ivar**2 * np.sum(dout * xmu, axis=0))
    return dx, dgamma, dbeta''',
    },
    "loops and jacobians": {
        # per-feature loops; the cache is the input and its statistics; dx via each feature's Jacobian
        "batchnorm_forward": '''def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param.get("mode")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    out = np.empty((N, D))
    if mode == "train":
        mean, var = np.empty(D), np.empty(D)
        for j in range(D):
            col = x[:, j]
            mean[j] = sum(col) / N
            var[j] = sum((c - mean[j]) ** 2 for c in col) / N
            out[:, j] = gamma[j] * (col - mean[j]) / np.sqrt(var[j] + eps) + beta[j]
        for key, batch in (("running_mean", mean), ("running_var", var)):
            old = bn_param.get(key, np.zeros(D))
            bn_param[key] = momentum * old + (1 - momentum) * batch
        return out, (x, mean, var, eps, gamma)
    if mode == "test":
        mean = bn_param.get("running_mean", np.zeros(D))
        var = bn_param.get("running_var", np.zeros(D))
        for j in range(D):
            out[:, j] = gamma[j] * (x[:, j] - mean[j]) / np.sqrt(var[j] + eps) + beta[j]
        return out, None
    raise ValueError("bn_param['mode'] must be 'train' or 'test', got %r" % (mode,))''',
        "batchnorm_backward": '''def batchnorm_backward(dout, cache):
    x, mean, var, eps, gamma = cache
    N, D = x.shape
    dx = np.empty((N, D))
    dgamma, dbeta = np.empty(D), np.empty(D)
    for j in range(D):
        std = np.sqrt(var[j] + eps)
        xh = (x[:, j] - mean[j]) / std
        # d out_i / d x_k = gamma / std * (delta_ik - 1/N - xh_i xh_k / N)
        J = gamma[j] / std * (np.eye(N) - 1.0 / N - np.outer(xh, xh) / N)
        dx[:, j] = J.T @ dout[:, j]
        dgamma[j] = dout[:, j] @ xh
        dbeta[j] = dout[:, j].sum()
    return dx, dgamma, dbeta''',
        "batchnorm_backward_alt": '''def batchnorm_backward_alt(dout, cache):
    x, mean, var, eps, gamma = cache
    N = x.shape[0]
    inv_std = 1.0 / np.sqrt(var + eps)
    xh = (x - mean) * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xh).sum(axis=0)
    dx = (gamma * inv_std) * (dout - dout.mean(axis=0) - xh * (dout * xh).mean(axis=0))
    return dx, dgamma, dbeta''',
    },
}

MISTAKES = {
    # ddof=1 spoils the output and the running variance; both backward passes are right for
    # the forward they are given (judged on it), so they keep their 8 points.
    "unbiased variance": ({"batchnorm_forward": _forward(VAR="x.var(axis=0, ddof=1)")},
                          {"batchnorm_forward": (OUT, VAR)}),
    # ddof=1 throughout: the backward pass is the exact gradient of this forward (its variance
    # term divides by N - 1 too), so judged on its own forward's numerical gradient it is right
    "unbiased variance in forward and backward": ({
        "batchnorm_forward": _forward(VAR="x.var(axis=0, ddof=1)"),
        "batchnorm_backward": _backward(dx="gamma / std * (dout - dout.mean(axis=0) - x_hat * "
                                           "np.sum(dout * x_hat, axis=0) / (N - 1))")},
        {"batchnorm_forward": (OUT, VAR)}),
    # a forward that returns x unchanged (its running statistics right) and a backward pass made
    # to fit it exactly: the output is no normalization, so the backward is judged on the
    # reference alone and earns nothing
    "forward returns x, backward fitted to it": ({
        "batchnorm_forward": _forward().replace("        out = gamma * x_hat + beta\n",
                                                "        out = x.copy()\n"),
        "batchnorm_backward": _backward(dx="dout.copy()", dgamma="np.zeros(dout.shape[1])",
                                        dbeta="np.zeros(dout.shape[1])")},
        {"batchnorm_forward": (OUT,), "batchnorm_backward": None}),
    "running average weights swapped": ({"batchnorm_forward": _forward(
        RMEAN="(1 - momentum) * running_mean + momentum * mu",
        RVAR="(1 - momentum) * running_var + momentum * var")}, {"batchnorm_forward": (MEAN, VAR)}),
    "running stats never written back": ({"batchnorm_forward": _forward(
        RMEAN="momentum * running_mean + (1 - momentum) * mu", RVAR="").replace(
        "        running_mean = momentum", "        new_mean = momentum").replace(
        "        running_var = \n", "        new_var = momentum * running_var + (1 - momentum) * var\n")},
        {"batchnorm_forward": (MEAN, VAR)}),
    "test mode uses batch statistics": ({"batchnorm_forward": _forward(
        TSTD="np.sqrt(x.var(axis=0) + eps)").replace(
        "gamma * (x - running_mean)", "gamma * (x - x.mean(axis=0))")}, {"batchnorm_forward": (TEST,)}),
    "eps outside the square root": ({"batchnorm_forward": _forward(STD="np.sqrt(var) + eps")},
                                    {"batchnorm_forward": (OUT,)}),
    "eps missing": ({"batchnorm_forward": _forward(STD="np.sqrt(var)")}, {"batchnorm_forward": (OUT,)}),
    "running var unbiased": ({"batchnorm_forward": _forward(
        RVAR="momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)")},
        {"batchnorm_forward": (VAR,)}),
    "test mode without eps": ({"batchnorm_forward": _forward(TSTD="np.sqrt(running_var)")},
                              {"batchnorm_forward": (TEST,)}),
    "running var accumulated from the std": ({"batchnorm_forward": _forward(
        RVAR="momentum * running_var + (1 - momentum) * std")}, {"batchnorm_forward": (VAR,)}),
    "mode not validated": ({"batchnorm_forward": _forward().replace('elif mode == "test":', "else:")
                            .replace("    else:\n        raise ValueError(\"mode must be 'train' or 'test'\")\n", "")},
                           {"batchnorm_forward": (TEST,)}),
    "normalised per example (axis=1)": ({"batchnorm_forward": _forward(
        VAR="x.var(axis=1, keepdims=True)").replace(
        "        x_hat = (x - mu) / std\n", "        x_hat = (x - x.mean(axis=1, keepdims=True)) / std\n").replace(
        "        var = x.var(axis=1, keepdims=True)\n",
        "        var = x.var(axis=0)\n        std = np.sqrt(x.var(axis=1, keepdims=True) + eps)\n").replace(
        "        std = np.sqrt(var + eps)\n        x_hat = (x - x.mean", "        x_hat = (x - x.mean")},
        # layer normalization: its cache has no common form with batchnorm's, and the right
        # backward formula is not the gradient of this forward, so both lose dx and dgamma
        # (its columns do not have mean beta, so it is no basis to judge the backward passes on)
        {"batchnorm_forward": (OUT,), "batchnorm_backward": ("dx", "dgamma"),
         "batchnorm_backward_alt": ("dx", "dgamma")}),
    "dgamma and dbeta summed over the wrong axis": ({"batchnorm_backward": _backward(
        dgamma="np.sum(dout * x_hat, axis=1)", dbeta="dout.sum(axis=1)")},
        {"batchnorm_backward": ("dgamma", "dbeta")}),
    "dx through x - mu only": ({"batchnorm_backward": _backward(dx="dout * gamma / std")},
                               {"batchnorm_backward": ("dx",)}),
    "dx without the variance path": ({"batchnorm_backward": _backward(
        dx="gamma / std * (dout - dout.mean(axis=0))")}, {"batchnorm_backward": ("dx",)}),
    "alt with N - 1": ({"batchnorm_backward_alt": _backward(
        dx="gamma / ((N - 1) * std) * (N * dout - dout.sum(axis=0) - x_hat * np.sum(dout * x_hat, axis=0))",
        name="batchnorm_backward_alt")}, {"batchnorm_backward_alt": ("dx",)}),
    "alt without gamma": ({"batchnorm_backward_alt": _backward(
        dx="1 / (N * std) * (N * dout - dout.sum(axis=0) - x_hat * np.sum(dout * x_hat, axis=0))",
        name="batchnorm_backward_alt")}, {"batchnorm_backward_alt": ("dx",)}),
}


# The experiment part calls the student's own functions. The trained networks' outcomes are
# judged as they come out, so a mistake in a function they call costs their points too.
_EXPERIMENT_LOSSES = {
    # deep_net_loss is judged on the student's own batchnorm calls (experiments._record_batchnorm)
    # when their layer still normalises its columns: these two do not, so it loses its points.
    'forward returns x, backward fitted to it': ['deep_net_loss', 'train_net', 'train_final_net'],
    'normalised per example (axis=1)': ['deep_net_loss', 'train_net', 'train_final_net'],
    # the trained networks really are broken (their test-mode statistics are wrong)
    'running stats never written back': ['train_net', 'train_final_net'],
    'running var accumulated from the std': ['train_net', 'train_final_net'],
}
MISTAKES.update({name: (MISTAKES[name][0], classgen.also_losing(MISTAKES[name][1], extra))
                 for name, extra in _EXPERIMENT_LOSSES.items()})
