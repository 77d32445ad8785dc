"""Submissions for 01-softmax."""
from autograder import classgen

SLUG = "01-softmax"

CORRECT = {
    "logsumexp": {
        "softmax": '''def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    m = z.max(axis=axis, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
    return np.exp(z - lse)''',
        "log_softmax": '''def log_softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    m = z.max(axis=axis, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True)))''',
        "softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)
    C = p.shape[0]
    J = np.empty((C, C))
    for i in range(C):
        for j in range(C):
            J[i, j] = p[i] * ((1.0 if i == j else 0.0) - p[j])
    return J''',
    },
    "moveaxis": {
        "softmax": '''def softmax(z, axis=-1):
    moved = np.moveaxis(np.array(z, dtype=float), axis, -1)
    moved = moved - moved.max(axis=-1)[..., None]
    e = np.exp(moved)
    return np.moveaxis(e / e.sum(axis=-1)[..., None], -1, axis)''',
        "softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)[:, None]
    return np.diagflat(p) - p @ p.T''',
    },
}

# The behaviours (autograder/checks/softmax.py), for partial scores.
PLAIN = "ordinary scores, along the given axis"
LARGE = "large scores, and slices of very different scale"
SAME_Z = "leaves z unchanged"
DIAG, OFF = "the diagonal, p_i (1 - p_i)", "the off-diagonal entries, -p_i p_j"

# softmax_jacobian calls the student's own softmax: it is judged on what that softmax gives, so
# a softmax mistake costs the Jacobian nothing, except that a softmax which changes its input
# also changes the Jacobian's, and a softmax that gets nothing right gives it nothing to be
# right for. A function that gets no result right earns nothing for leaving z unchanged.
MISTAKES = {
    "no max shift": ({"softmax": '''def softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)'''}, {"softmax": (LARGE,)}),
    "global max shift": ({"softmax": '''def softmax(z, axis=-1):
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=axis, keepdims=True)'''}, {"softmax": (LARGE,)}),
    "ignores axis": ({"softmax": '''def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)'''}, {"softmax": (PLAIN,)}),
    "sum-normalisation": ({"softmax": '''def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float) - np.min(z, axis=axis, keepdims=True)
    return z / z.sum(axis=axis, keepdims=True)'''},
        # this softmax gets nothing right, so the Jacobian built on it has nothing to be right
        # for: it is judged against the reference alone
        {"softmax", "softmax_jacobian"}),
    "modifies input in place": ({"softmax": '''def softmax(z, axis=-1):
    z -= np.max(z, axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z'''}, {"softmax": (SAME_Z,), "softmax_jacobian": (SAME_Z,)}),
    # only the shift in place: a second call no longer changes z (its maximum is now 0), so
    # a visible test must check on a fresh array
    "softmax shifts z in place": ({"softmax": '''def softmax(z, axis=-1):
    z -= np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)'''}, {"softmax": (SAME_Z,), "softmax_jacobian": (SAME_Z,)}),
    "log of softmax": ({"log_softmax": '''def log_softmax(z, axis=-1):
    return np.log(softmax(z, axis))'''}, {"log_softmax": (LARGE,)}),
    "log-softmax without shift": ({"log_softmax": '''def log_softmax(z, axis=-1):
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))'''}, {"log_softmax": (LARGE,)}),
    # shifted by the whole array's maximum: right for one vector, -inf for a row far below it
    "log-softmax global max shift": ({"log_softmax": '''def log_softmax(z, axis=-1):
    s = z - np.max(z)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))'''}, {"log_softmax": (LARGE,)}),
    # the in-place shift that changes the caller's scores, in log_softmax this time
    "log-softmax shifts z in place": ({"log_softmax": '''def log_softmax(z, axis=-1):
    z -= np.max(z, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))'''}, {"log_softmax": (SAME_Z,)}),
    "jacobian diagonal only": ({"softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)
    return np.diag(p * (1 - p))'''}, {"softmax_jacobian": (OFF,)}),
    "jacobian wrong sign": ({"softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)
    return np.outer(p, p) - np.diag(p)'''}, {"softmax_jacobian"}),
}


# The experiment part calls the student's own functions: mean_nll is judged on the student's
# own log_softmax and fit_temperature on their own mean_nll (see experiments._probe_*), so no
# mistake planted here costs an experiment function's points any more.
_EXPERIMENT_LOSSES = {}
MISTAKES.update({name: (MISTAKES[name][0], classgen.also_losing(MISTAKES[name][1], extra))
                 for name, extra in _EXPERIMENT_LOSSES.items()})
