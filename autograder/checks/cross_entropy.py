"""Hidden cases for 02-cross-entropy.

Tolerances: rtol=1e-10, atol=1e-12 for the information quantities (every correct formula agrees
to a few ulps; an identical p and q must give KL = 0 to within 1e-12), and atol=1e-14 for the
entropy, whose one-hot rows are exactly 0 by any correct formula. Infinities and NaN are
compared exactly by `compare`, so an epsilon inside the log (log(q + 1e-12), or clipping q) is
caught where it changes the answer: q_i = 0 < p_i must give inf, and a tiny q_i = 1e-300 must
keep its true log (-690.8, not -27.6). On ordinary inputs such an epsilon moves the result by
about 1e-11 and is not what the cases test.
"""
import numpy as np

from ..reference import cross_entropy as ref
from . import Behaviour, Check, Mistake, call, tagged

RTOL, ATOL = 1e-10, 1e-12
ATOL_ENTROPY = 1e-14
EPS = 1e-12
LN2 = np.log(2.0)


# ---------------------------------------------------------------------------- wrong variants

def _plogq_naive(p, q):
    """p * log(q) with no care for zeros: 0 * log 0 is NaN."""
    with np.errstate(all="ignore"):
        return np.asarray(p, dtype=float) * np.log(np.asarray(q, dtype=float))


def _plogq_eps(p, q):
    """p * log(q + EPS): the epsilon 'fix' for log 0."""
    with np.errstate(all="ignore"):
        return np.asarray(p, dtype=float) * np.log(np.asarray(q, dtype=float) + EPS)


def _plogq_skip_q0(p, q):
    """p * log(q) only where p > 0 and q > 0: the infinite terms are dropped."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    out = np.zeros_like(p)
    keep = (p > 0) & (q > 0)
    out[keep] = p[keep] * np.log(q[keep])
    return out


def _plogq_nan_to_num(p, q):
    """np.nan_to_num(p * log q): NaN becomes 0 but -inf becomes the most negative float."""
    with np.errstate(all="ignore"):
        return np.nan_to_num(_plogq_naive(p, q))


def _ce(terms, axis):
    with np.errstate(all="ignore"):
        return -np.sum(terms, axis=axis)


def _kl(p, q, plogq, axis):
    with np.errstate(all="ignore"):
        return np.sum(plogq(p, p) - plogq(p, q), axis=axis)


def _kl_naive_ratio(p, q, axis):
    """sum p * log(p / q) with no care for zeros: 0 * log(0 / q) and 0 / 0 are NaN."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(all="ignore"):
        return np.sum(p * np.log(p / q), axis=axis)


def _lse(z):
    m = np.max(z, axis=1, keepdims=True)
    return m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))


def _cel_log_of_softmax(z, y, eps=0.0):
    """-log(softmax(z)[n, y_n]) with a stable softmax: log(0) = -inf once a probability underflows."""
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    probs = e / np.sum(e, axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        return float(np.mean(-np.log(probs[np.arange(len(y)), y] + eps)))


def _cel_unshifted(z, y):
    """log(sum(exp(z))) - z_y with no shift: exp overflows to inf above 709."""
    with np.errstate(all="ignore"):
        return float(np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(len(y)), y]))


def _cel_shift_not_added_back(z, y):
    """log(sum(exp(z - m))) - z_y: the shift m is subtracted but never added back."""
    m = np.max(z, axis=1, keepdims=True)
    return float(np.mean(np.log(np.sum(np.exp(z - m), axis=1)) - z[np.arange(len(y)), y]))


def _cel_column_indexing(z, y):
    """z[:, y] is (N, N), every row indexed by every label, and the mean runs over all of it."""
    return float(np.mean(_lse(z)[:, None] - z[:, y]))


# ---------------------------------------------------------------------------- shared pieces

def _axis_mistakes(fn_ref, arrays, axis, what):
    """Mistakes for ignoring `axis` (always the last) and for summing over every axis."""
    ndim = arrays[0].ndim
    found = []
    if ndim > 1 and axis not in (-1, ndim - 1):
        found.append(Mistake(f"{what} summed over the last axis instead of `axis` (here axis={axis}): "
                             f"pass axis=axis to np.sum", {"result": fn_ref(*arrays, axis=-1)}))
    if ndim > 1:
        with np.errstate(all="ignore"):
            total = np.sum(fn_ref(*arrays, axis=axis))
        found.append(Mistake(f"{what} summed over every axis and returned one number: sum along "
                             f"`axis` only (np.sum(..., axis=axis)), one result per distribution",
                             {"result": total}))
    return found


def _dirichlet(rng, shape, axis=-1, alpha=1.0):
    """Random strictly positive distributions of the given shape, summing to 1 along `axis`."""
    moved = list(shape)
    C = moved.pop(axis)
    d = rng.dirichlet(alpha * np.ones(C), size=tuple(moved) or None)
    return np.moveaxis(d, -1, axis)


# ---------------------------------------------------------------------------- entropy

def entropy_cases():
    rng = np.random.default_rng(201)
    batch_zeros = np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25],
                            [0.0, 0.0, 0.0, 1.0], [0.7, 0.2, 0.1, 0.0]])
    cases = []
    for name, p, axis in [
        ("a random distribution over 5 classes", _dirichlet(rng, (5,)), -1),
        ("a batch of 4 random distributions over 6 classes", _dirichlet(rng, (4, 6), alpha=0.5), -1),
        ("axis=0 of a (5, 3) array (columns are distributions)", _dirichlet(rng, (5, 3), axis=0), 0),
        ("axis=1 of a (2, 4, 3) array", _dirichlet(rng, (2, 4, 3), axis=1), 1),
        ("the uniform distribution over 8 classes", np.full(8, 0.125), -1),
        ("a batch with zeros in p", batch_zeros, -1),
        ("axis=0 of a batch with zeros in p", batch_zeros.T.copy(), 0),
        ("a one-hot distribution [0, 1, 0, 0]", np.array([0.0, 1.0, 0.0, 0.0]), -1),
    ]:
        expect = ref.entropy(p, axis)
        with np.errstate(all="ignore"):
            naive = -np.sum(p * np.log(p), axis=axis)
        mistakes = [
            Mistake("an epsilon inside the log (log(p + 1e-12)) biases the entropy: a one-hot "
                    "distribution must give exactly 0, not a tiny negative number; take the exact "
                    "log where p > 0 and set the terms with p_i = 0 to 0",
                    {"result": _ce(_plogq_eps(p, p), axis)}),
            Mistake("the result is in bits, not nats: use the natural log np.log, not np.log2",
                    {"result": expect / LN2}),
            Mistake("wrong sign: H(p) = -sum p log p is never negative", {"result": -expect}),
            *_axis_mistakes(ref.entropy, [p], axis, "the entropy was"),
            Mistake("0 * log 0 gave NaN: a term with p_i = 0 counts as 0, so compute p log p only "
                    "where p > 0 (e.g. with a mask or np.where on a safe argument)",
                    {"result": naive}),
        ]
        cases.append(call("entropy", name, {"p": p, "axis": axis}, {"result": expect},
                          args=["p"], kwargs={"axis": "axis"}, rtol=RTOL, atol=ATOL_ENTROPY,
                          mistakes=mistakes,
                          hint="H(p) = -sum_i p_i ln p_i along `axis`, with 0 ln 0 = 0; it lies "
                               "between 0 (one-hot) and ln C (uniform)."))
    return tagged(cases, "plain", axis=(2, 3), zeros=(5, 6, 7))


# ---------------------------------------------------------------------------- cross-entropy

def _ce_mistakes(p, q, axis, expect):
    return [
        Mistake("an epsilon inside the log (log(q + 1e-12)) or clipping q: where q_i = 0 < p_i the "
                "cross-entropy must be inf, and a tiny q_i must keep its true log; use np.log(q) "
                "exactly and set only the terms with p_i = 0 to 0",
                {"result": _ce(_plogq_eps(p, q), axis)}),
        Mistake("the result is in bits, not nats: use the natural log np.log, not np.log2",
                {"result": expect / LN2}),
        Mistake("wrong sign: H(p, q) = -sum p log q is never negative", {"result": -expect}),
        Mistake("the arguments are swapped: this is -sum q log p; the target p weights the log "
                "of the prediction q", {"result": ref.cross_entropy(q, p, axis)}),
        *_axis_mistakes(ref.cross_entropy, [p, q], axis, "the cross-entropy was"),
        Mistake("terms with q_i = 0 were skipped: where q_i = 0 < p_i the term is +inf and so is "
                "the cross-entropy; drop only the terms with p_i = 0",
                {"result": _ce(_plogq_skip_q0(p, q), axis)}),
        Mistake("np.nan_to_num also turned the infinite term into the largest float: where "
                "q_i = 0 < p_i the answer must be inf; set only the terms with p_i = 0 to 0",
                {"result": _ce(_plogq_nan_to_num(p, q), axis)}),
        Mistake("0 * log 0 gave NaN (a NaN also hides an inf in the same sum): terms with p_i = 0 "
                "count as 0 even where q_i = 0, so compute p log q only where p > 0",
                {"result": _ce(_plogq_naive(p, q), axis)}),
    ]


def _pq_pairs(rng):
    """(name, p, q, axis) triples shared by cross_entropy and kl_divergence."""
    p_batch = _dirichlet(rng, (4, 6), alpha=0.5)
    return [
        ("random p and q over 5 classes", _dirichlet(rng, (5,)), _dirichlet(rng, (5,)), -1),
        ("a batch of 4 random pairs over 6 classes", p_batch, _dirichlet(rng, (4, 6)), -1),
        ("axis=0 of (5, 3) arrays (columns are distributions)",
         _dirichlet(rng, (5, 3), axis=0), _dirichlet(rng, (5, 3), axis=0), 0),
        ("axis=1 of (2, 4, 3) arrays", _dirichlet(rng, (2, 4, 3), axis=1),
         _dirichlet(rng, (2, 4, 3), axis=1), 1),
        ("a one-hot target e_2 and q = (0.1, 0.2, 0.3, 0.4)",
         np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.1, 0.2, 0.3, 0.4]), -1),
        ("a batch of one-hot targets (first and last class)",
         np.eye(5)[[0, 4, 4, 2]], _dirichlet(rng, (4, 5)), -1),
        ("identical p and q", p_batch, p_batch.copy(), -1),
        ("zeros in p (where q is zero too, and where it is not)",
         np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.3, 0.3, 0.4, 0.0]]),
         np.array([[0.25, 0.5, 0.0, 0.25], [0.1, 0.2, 0.3, 0.4], [0.2, 0.5, 0.3, 0.0]]), -1),
        ("zeros in q where p > 0 (inf)",
         np.array([[0.2, 0.8, 0.0], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]]),
         np.array([[0.0, 0.5, 0.5], [0.2, 0.5, 0.3], [0.0, 0.5, 0.5]]), -1),
        ("zeros in q where p > 0, next to a term with p_i = q_i = 0 (inf)",
         np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.3, 0.3, 0.4]]),
         np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.5, 0.3]]), -1),
        ("axis=0 with zeros in q where p > 0 (inf)",
         np.array([[0.2, 0.3, 1.0], [0.8, 0.3, 0.0], [0.0, 0.4, 0.0]]),
         np.array([[0.0, 0.2, 0.0], [0.5, 0.5, 0.5], [0.5, 0.3, 0.5]]), 0),
        ("a tiny predicted probability q_i = 1e-300 where p_i > 0",
         np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]),
         np.array([[1e-300, 1.0, 0.0], [0.3, 1e-300, 0.7]]), -1),
    ]


def cross_entropy_cases():
    rng = np.random.default_rng(202)
    cases = []
    for name, p, q, axis in _pq_pairs(rng):
        expect = ref.cross_entropy(p, q, axis)
        cases.append(call("cross_entropy", name, {"p": p, "q": q, "axis": axis}, {"result": expect},
                          args=["p", "q"], kwargs={"axis": "axis"}, rtol=RTOL, atol=ATOL,
                          mistakes=_ce_mistakes(p, q, axis, expect),
                          hint="H(p, q) = -sum_i p_i ln q_i along `axis`: a term with p_i = 0 is 0 "
                               "(even if q_i = 0), a term with q_i = 0 < p_i is +inf; no epsilon "
                               "inside the log."))
    return tagged(cases, "plain", axis=(2, 3), zeros=(7, 8, 9, 10, 11))


# ---------------------------------------------------------------------------- KL divergence

def _kl_mistakes(p, q, axis, expect):
    with np.errstate(all="ignore"):
        plus_entropy = ref.cross_entropy(p, q, axis) + ref.entropy(p, axis)
    return [
        Mistake("an epsilon inside the log (log(q + 1e-12)) or clipping q: where q_i = 0 < p_i the "
                "divergence must be inf, and a tiny q_i must keep its true log; use the exact "
                "logs and set only the terms with p_i = 0 to 0",
                {"result": _kl(p, q, _plogq_eps, axis)}),
        Mistake("the result is in bits, not nats: use the natural log np.log, not np.log2",
                {"result": expect / LN2}),
        Mistake("wrong sign: KL(p || q) = sum p log(p / q) is never negative (the ratio is p / q, "
                "not q / p)", {"result": -expect}),
        Mistake("the arguments are swapped: this is KL(q || p); KL is not symmetric, and "
                "KL(p || q) weights log(p_i / q_i) by the first argument p",
                {"result": ref.kl_divergence(q, p, axis)}),
        Mistake("this is the cross-entropy H(p, q): KL(p || q) = H(p, q) - H(p), subtract the "
                "entropy of p", {"result": ref.cross_entropy(p, q, axis)}),
        Mistake("the entropy was added instead of subtracted: KL(p || q) = H(p, q) - H(p)",
                {"result": plus_entropy}),
        *_axis_mistakes(ref.kl_divergence, [p, q], axis, "the divergence was"),
        Mistake("terms with q_i = 0 were skipped: where q_i = 0 < p_i the term is +inf and so is "
                "the divergence; drop only the terms with p_i = 0",
                {"result": _kl(p, q, _plogq_skip_q0, axis)}),
        Mistake("np.nan_to_num also turned the infinite term into the largest float: where "
                "q_i = 0 < p_i the answer must be inf; set only the terms with p_i = 0 to 0",
                {"result": _kl(p, q, _plogq_nan_to_num, axis)}),
        Mistake("0 * log(0 / q) or 0 / 0 gave NaN: terms with p_i = 0 count as 0 (even where "
                "q_i = 0), so compute p log(p / q) only where p > 0",
                {"result": _kl_naive_ratio(p, q, axis)}),
    ]


def kl_divergence_cases():
    rng = np.random.default_rng(203)
    cases = []
    for name, p, q, axis in _pq_pairs(rng):
        expect = ref.kl_divergence(p, q, axis)
        cases.append(call("kl_divergence", name, {"p": p, "q": q, "axis": axis},
                          {"result": expect}, args=["p", "q"], kwargs={"axis": "axis"},
                          rtol=RTOL, atol=ATOL, mistakes=_kl_mistakes(p, q, axis, expect),
                          hint="KL(p || q) = sum_i p_i ln(p_i / q_i) along `axis`: 0 where "
                               "p_i = 0, +inf where q_i = 0 < p_i, exactly 0 when q equals p; no "
                               "epsilon inside the log."))
    return tagged(cases, "plain", axis=(2, 3), zeros=(7, 8, 9, 10, 11))


# ---------------------------------------------------------------------------- from logits

def _unstable_mistakes(z, y):
    """Overflow without the shift, underflow in log(softmax): one diagnosis if both give the same."""
    unshifted, log_of_softmax = _cel_unshifted(z, y), _cel_log_of_softmax(z, y)
    if unshifted == log_of_softmax or (np.isnan(unshifted) and np.isnan(log_of_softmax)):
        return [Mistake("the loss is not finite: either exp(z) overflowed (scores above 709) or "
                        "softmax(z) underflowed to 0 before the log; compute z[n, y_n] - "
                        "logsumexp(z[n]) with each row's maximum subtracted inside the exponential "
                        "and added back outside the log", {"result": unshifted})]
    return [Mistake("overflow at large scores: exp(z) is inf above 709; subtract each row's "
                    "maximum before exponentiating (log-sum-exp)", {"result": unshifted}),
            Mistake("log(softmax(z)) is -inf once a probability underflows to 0: compute "
                    "log softmax(z)[n, y_n] = z[n, y_n] - logsumexp(z[n]) directly",
                    {"result": log_of_softmax})]


def cross_entropy_with_logits_cases():
    rng = np.random.default_rng(204)
    cases = []
    for name, z, y in [
        ("a batch of 5 examples, 4 classes", rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)),
        ("a batch of 8 examples, 10 classes, large spread", rng.normal(size=(8, 10)) * 5,
         rng.integers(0, 10, size=8)),
        ("a single example (N = 1)", np.array([[1.0, 5.0, 3.0]]), np.array([1])),
        ("labels at the first and last class", rng.normal(size=(4, 6)) * 2, np.array([0, 5, 0, 5])),
        ("logits 1000 and -1000", np.array([[1000.0, -1000.0], [1000.0, -1000.0], [-1000.0, 1000.0]]),
         np.array([0, 1, 1])),
        ("confidently right and confidently wrong rows",
         np.array([[0.0, 800.0, -800.0], [-800.0, 0.0, 0.0], [3.0, 1.0, -3.0]]), np.array([1, 0, 2])),
        ("the correct class far behind (its probability underflows to 0)",
         np.array([[-800.0, 0.0, 0.0], [-750.0, 10.0, -3.0]]), np.array([0, 0])),
        ("scores with a large common offset", rng.normal(size=(3, 5)) + 1e4, np.array([4, 0, 2])),
        ("very negative scores", rng.normal(size=(4, 3)) * 3 - 1000, np.array([2, 1, 0, 2])),
        ("a single example with a large score for the wrong class",
         np.array([[-5.0, 2.0, 750.0, 0.0]]), np.array([0])),
    ]:
        y = np.asarray(y, dtype=np.int64)
        N, C = z.shape
        expect = ref.cross_entropy_with_logits(z, y)
        mistakes = [
            Mistake("the loss is the sum over the batch: divide by N (the loss is a mean over "
                    "the batch)", {"result": expect * N}),
            Mistake("one loss per example was returned: return their mean over the batch, a "
                    "single number", {"result": _lse(z) - z[np.arange(N), y]}),
            Mistake("the loss is averaged over the N * C entries of a one-hot product: average "
                    "over the N examples only", {"result": expect / C}),
            Mistake("wrong sign: the loss is -log softmax(z)[n, y_n], never negative",
                    {"result": -expect}),
            Mistake("the result is in bits, not nats: use the natural log np.log, not np.log2",
                    {"result": expect / LN2}),
            Mistake("the shift is subtracted but not added back: log-sum-exp(z) = m + "
                    "log(sum(exp(z - m))), with m the maximum of each row",
                    {"result": _cel_shift_not_added_back(z, y)}),
            Mistake("z[:, y] picks every label for every row (an (N, N) array): index the correct "
                    "class of each row with z[np.arange(N), y]",
                    {"result": _cel_column_indexing(z, y)}),
            *_unstable_mistakes(z, y),
            Mistake("an epsilon inside log(softmax(z) + 1e-12) caps the loss of a confidently "
                    "wrong example near 27.6: compute z[n, y_n] - logsumexp(z[n]) instead",
                    {"result": _cel_log_of_softmax(z, y, EPS)}),
        ]
        cases.append(call("cross_entropy_with_logits", name, {"z": z, "y": y}, {"result": expect},
                          rtol=RTOL, atol=ATOL, mistakes=mistakes,
                          hint="loss = mean over n of (logsumexp(z[n]) - z[n, y[n]]), with "
                               "logsumexp computed after subtracting the row maximum."))
    return tagged(cases, "plain", large=(4, 5, 6, 7, 8, 9))


def _plan(plain, axis, zeros):
    return (Behaviour("ordinary distributions and one-hot targets", plain, tags=("plain",)),
            Behaviour("along the given axis", axis, tags=("axis",)),
            Behaviour("zero probabilities (0 log 0 = 0, inf where q = 0 < p)", zeros,
                      tags=("zeros",)))


# Points per behaviour (each test cell's points, split).
CHECKS = [Check("entropy", entropy_cases, _plan(0.75, 0.5, 0.75)),
          Check("cross_entropy", cross_entropy_cases, _plan(1.25, 0.5, 1.25)),
          Check("kl_divergence", kl_divergence_cases, _plan(1.25, 0.5, 1.25)),
          Check("cross_entropy_with_logits", cross_entropy_with_logits_cases, (
              Behaviour("ordinary scores", 2.0, tags=("plain",)),
              Behaviour("large scores (no overflow, no underflow)", 2.0, tags=("large",))))]
