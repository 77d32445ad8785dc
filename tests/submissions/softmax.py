"""Submissions for 01-softmax."""
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

# softmax_jacobian calls the student's own softmax, so a softmax that overflows or changes its
# input also costs the Jacobian its points.
MISTAKES = {
    "no max shift": ({"softmax": '''def softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)'''}, {"softmax", "softmax_jacobian"}),
    "global max shift": ({"softmax": '''def softmax(z, axis=-1):
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=axis, keepdims=True)'''}, {"softmax"}),
    "ignores axis": ({"softmax": '''def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)'''}, {"softmax"}),
    "sum-normalisation": ({"softmax": '''def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float) - np.min(z, axis=axis, keepdims=True)
    return z / z.sum(axis=axis, keepdims=True)'''}, {"softmax", "softmax_jacobian"}),
    "modifies input in place": ({"softmax": '''def softmax(z, axis=-1):
    z -= np.max(z, axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z'''}, {"softmax", "softmax_jacobian"}),
    "log of softmax": ({"log_softmax": '''def log_softmax(z, axis=-1):
    return np.log(softmax(z, axis))'''}, {"log_softmax"}),
    "log-softmax without shift": ({"log_softmax": '''def log_softmax(z, axis=-1):
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))'''}, {"log_softmax"}),
    "jacobian diagonal only": ({"softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)
    return np.diag(p * (1 - p))'''}, {"softmax_jacobian"}),
    "jacobian wrong sign": ({"softmax_jacobian": '''def softmax_jacobian(z):
    p = softmax(z)
    return np.outer(p, p) - np.diag(p)'''}, {"softmax_jacobian"}),
}
