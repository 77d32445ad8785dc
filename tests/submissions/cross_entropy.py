"""Submissions for 02-cross-entropy."""
SLUG = "02-cross-entropy"

CORRECT = {
    # Python floats and lists instead of arrays (the statement fixes the shape, not the type);
    # kl_divergence then subtracts two lists, so it converts them first
    "floats-and-lists": {
        "entropy": '''def entropy(p, axis=-1):
    p = np.asarray(p, dtype=float)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis).tolist()''',
        "cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(q), 0.0)
    return terms.sum(axis=axis).tolist()''',
        "kl_divergence": '''def kl_divergence(p, q, axis=-1):
    return (np.asarray(cross_entropy(p, q, axis)) - np.asarray(entropy(p, axis))).tolist()''',
    },
    "where-and-identity": {
        "entropy": '''def entropy(p, axis=-1):
    p = np.asarray(p, dtype=float)
    safe = np.where(p > 0, p, 1.0)          # log(1) = 0 where p is 0
    return -np.sum(p * np.log(safe), axis=axis)''',
        "cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(q), 0.0)
    return -np.sum(terms, axis=axis)''',
        "kl_divergence": '''def kl_divergence(p, q, axis=-1):
    # H(p, q) = H(p) + KL(p || q)
    return cross_entropy(p, q, axis=axis) - entropy(p, axis=axis)''',
        "cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    losses = []
    for scores, label in zip(z, y):
        losses.append(np.logaddexp.reduce(scores) - scores[label])
    return float(np.mean(losses))''',
    },
    "loops-and-one-hot": {
        "entropy": '''def entropy(p, axis=-1):
    def one(v):
        return -sum((x * np.log(x) for x in v if x > 0), 0.0)
    return np.apply_along_axis(one, axis, np.asarray(p, dtype=float))''',
        "cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.moveaxis(np.asarray(p, dtype=float), axis, -1)
    q = np.moveaxis(np.asarray(q, dtype=float), axis, -1)
    out = np.zeros(p.shape[:-1])
    for idx in np.ndindex(out.shape):
        total = 0.0
        for pi, qi in zip(p[idx], q[idx]):
            if pi > 0:
                total = np.inf if qi == 0 else total - pi * np.log(qi)
        out[idx] = total
    return out''',
        "kl_divergence": '''def kl_divergence(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        ratio = np.divide(p, q, out=np.ones_like(p), where=p > 0)
    return np.sum(p * np.log(ratio), axis=axis)''',
        "cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    z = np.asarray(z, dtype=float)
    N = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Y = np.zeros_like(z)
    Y[np.arange(N), y] = 1.0
    return -np.sum(Y * log_probs) / N''',
    },
    "nansum": {
        "entropy": '''def entropy(p, axis=-1):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(p * np.log(p), axis=axis)''',
        "cross_entropy": '''def cross_entropy(p, q, axis=-1):
    # 0 * log 0 is nan and counts as 0; p * log 0 = -inf for p > 0 survives nansum
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(p * np.log(q), axis=axis)''',
    },
}

MISTAKES = {
    "entropy in bits": ({"entropy": '''def entropy(p, axis=-1):
    p = np.asarray(p, dtype=float)
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(p * np.log2(safe), axis=axis)'''}, {"entropy"}),
    "entropy 0 log 0 is nan": ({"entropy": '''def entropy(p, axis=-1):
    return -np.sum(p * np.log(p), axis=axis)'''}, {"entropy"}),
    "entropy epsilon in the log": ({"entropy": '''def entropy(p, axis=-1):
    return -np.sum(p * np.log(p + 1e-12), axis=axis)'''}, {"entropy"}),
    "entropy ignores axis": ({"entropy": '''def entropy(p, axis=-1):
    p = np.asarray(p, dtype=float)
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(p * np.log(safe), axis=-1)'''}, {"entropy"}),
    "entropy overwrites zeros in place": ({"entropy": '''def entropy(p, axis=-1):
    p[p == 0] = 1.0            # log(1) = 0, so these terms vanish
    return -np.sum(p * np.log(p), axis=axis)'''}, {"entropy"}),
    "cross-entropy epsilon in the log": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    return -np.sum(p * np.log(q + 1e-12), axis=axis)'''}, {"cross_entropy"}),
    "cross-entropy 0 log 0 is nan": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    return -np.sum(p * np.log(q), axis=axis)'''}, {"cross_entropy"}),
    "cross-entropy arguments swapped": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(p), 0.0)
    return -np.sum(terms, axis=axis)'''}, {"cross_entropy"}),
    "cross-entropy skips q = 0": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    mask = (p > 0) & (q > 0)
    terms = np.zeros_like(p)
    terms[mask] = p[mask] * np.log(q[mask])
    return -np.sum(terms, axis=axis)'''}, {"cross_entropy"}),
    "cross-entropy wrong sign": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(q), 0.0)
    return np.sum(terms, axis=axis)'''}, {"cross_entropy"}),
    "cross-entropy sums every axis": ({"cross_entropy": '''def cross_entropy(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(q), 0.0)
    return -np.sum(terms)'''}, {"cross_entropy"}),
    "KL arguments swapped": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    q = np.asarray(q, dtype=float)
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q / p), 0.0)
    return np.sum(terms, axis=axis)'''}, {"kl_divergence"}),
    "KL clips q": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.clip(q, 1e-12, 1.0)
    safe = np.where(p > 0, p, 1.0)
    return np.sum(p * (np.log(safe) - np.log(q)), axis=axis)'''}, {"kl_divergence"}),
    "KL adds the entropy": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    return cross_entropy(p, q, axis=axis) + entropy(p, axis=axis)'''}, {"kl_divergence"}),
    "KL is the cross-entropy": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(q), 0.0), axis=axis)'''}, {"kl_divergence"}),
    "KL 0 log 0 is nan": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    return np.sum(p * np.log(p / q), axis=axis)'''}, {"kl_divergence"}),
    "KL in bits": ({"kl_divergence": '''def kl_divergence(p, q, axis=-1):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / q), 0.0)
    return np.sum(terms, axis=axis)'''}, {"kl_divergence"}),
    "logits loss summed over the batch": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.sum(lse - z[np.arange(len(y)), y]))'''}, {"cross_entropy_with_logits"}),
    "logits log of softmax": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probs[np.arange(len(y)), y])))'''}, {"cross_entropy_with_logits"}),
    "logits no max shift": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    lse = np.log(np.sum(np.exp(z), axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))'''}, {"cross_entropy_with_logits"}),
    "logits epsilon in the log": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))'''}, {"cross_entropy_with_logits"}),
    "logits shift not added back": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))'''}, {"cross_entropy_with_logits"}),
    "logits column indexing": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    m = z.max(axis=1, keepdims=True)
    log_probs = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[:, y]))'''}, {"cross_entropy_with_logits"}),
    "logits mean over classes too": ({"cross_entropy_with_logits": '''def cross_entropy_with_logits(z, y):
    m = z.max(axis=1, keepdims=True)
    log_probs = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    Y = np.eye(z.shape[1])[y]
    return float(-np.mean(Y * log_probs))'''}, {"cross_entropy_with_logits"}),
}

# What each mistake loses, behaviour by behaviour (autograder/checks/cross_entropy.py); a
# mistake not listed here loses every behaviour of its functions.
PLAIN, AXIS = "ordinary distributions and one-hot targets", "along the given axis"
ZEROS = "zero probabilities (0 log 0 = 0, inf where q = 0 < p)"
LARGE = "large scores (no overflow, no underflow)"
PARTIAL = {
    "entropy 0 log 0 is nan": {"entropy": (ZEROS,)},
    "entropy epsilon in the log": {"entropy": (ZEROS,)},
    # the axis=0 case with zeros in p is a case of zero probabilities
    "entropy ignores axis": {"entropy": (AXIS, ZEROS)},
    "entropy overwrites zeros in place": {"entropy": (ZEROS,)},
    "cross-entropy epsilon in the log": {"cross_entropy": (ZEROS,)},
    "cross-entropy 0 log 0 is nan": {"cross_entropy": (ZEROS,)},
    "cross-entropy skips q = 0": {"cross_entropy": (ZEROS,)},
    "KL clips q": {"kl_divergence": (ZEROS,)},
    "KL 0 log 0 is nan": {"kl_divergence": (PLAIN, ZEROS)},     # one-hot targets have zeros
    "logits log of softmax": {"cross_entropy_with_logits": (LARGE,)},
    "logits no max shift": {"cross_entropy_with_logits": (LARGE,)},
}
MISTAKES.update({name: (MISTAKES[name][0], losing) for name, losing in PARTIAL.items()})
