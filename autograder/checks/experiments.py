"""Outcome checks of the experiment parts: what a student's training produced, judged here.

Each notebook ends with an experiment on the course's real data (the 8x8 digits, see
`autograder.data`). The sweeps and plots are graded by hand; what can be judged from an
outcome is judged here, in the trusted process: a case calls the student's training function
in the sandbox on the training split (which the notebook shows too) and gets back plain
arrays, and its `score` computes what those arrays achieve on the test split, which never
enters a notebook or the sandbox, against a threshold stated in the notebook. A score returns
None when the outcome is good enough, else a diagnosis in words with the numbers.

Training cases stay small (well under a second for a correct solution) so that a class grades
as fast as before: the long sweeps live in experiment cells that the grader does not run.
"""
import functools

import numpy as np

from .. import data
from . import Check, Mistake, Upstream, call

NAN_ADVICE = ("the learning rate is too large (the weights blow up), the step goes up the "
              "gradient (+= instead of -=), or the scores are not shifted by their row maximum "
              "before exp")

# Thresholds stated in the notebooks (keep them equal to the notebooks' text).
TEMPERATURE_TEST_NLL = 0.25         # 01: NLL of the least-squares scores at the fitted T
CALIBRATION_TEST_ECE = 0.06         # 02: ECE of the nearest-mean scores at the chosen T
SOFTMAX_TEST_ACCURACY = 0.92        # 03: the linear classifier trained with BEST
DEEP_TEST_ACCURACY = 0.90           # 04: the grader's ReLU network with He weights
BN_RESCUE_ACCURACY = 0.90           # 05: the grader's own settings (weight scale 0.01, batchnorm)
BN_TEST_ACCURACY = 0.95             # 05: the deep network trained with BEST


@functools.lru_cache(maxsize=None)
def digits():
    """The fixed split, loaded once per process (trusted side only)."""
    return data.load_digits_split()


def _array(value, what, shape=None):
    """(array, None) or (None, a sentence saying why `value` is not the array we need)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None, f"{what} could not be read as numbers"
    if shape is not None and arr.shape != tuple(shape):
        return None, f"{what} has shape {arr.shape}, expected {tuple(shape)}"
    return arr, None


def _accuracy(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) == y))


def judge_training(W, history, shape, num_iters=None):
    """None, or what is wrong with trained weights W and their loss history, in words."""
    W, problem = _array(W, "W", shape)
    if problem:
        return problem
    history, problem = _array(history, "the loss history")
    if problem:
        return problem
    history = history.ravel()
    if num_iters is not None and history.size != num_iters:
        return (f"the loss history has {history.size} entries, expected one loss per iteration "
                f"({num_iters})")
    if history.size and not np.all(np.isfinite(history)):
        first = int(np.flatnonzero(~np.isfinite(history))[0])
        return (f"the loss became NaN or inf at iteration {first}: {NAN_ADVICE}")
    if not np.all(np.isfinite(W)):
        return f"the trained W contains NaN or inf: {NAN_ADVICE}"
    return _rising(history)


def _rising(history):
    """None, or a sentence if the loss history ends higher than it starts."""
    if history.size >= 10:
        k = max(1, history.size // 10)
        start, end = float(np.mean(history[:k])), float(np.mean(history[-k:]))
        if end > start:
            return (f"the loss rose during training (mean of the first {k} losses {start:.4g}, "
                    f"of the last {k} {end:.4g}): the learning rate is too large, or the step "
                    f"goes up the gradient (W += instead of W -=)")
    return None


# ---------------------------------------------------------------------------- 01 and 02: calibration

def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def mean_nll_reference(z, y, T=1.0):
    """Mean over the batch of -log softmax(z / T)[y]."""
    z = np.asarray(z, dtype=float) / T
    return float(-np.mean(_log_softmax(z)[np.arange(len(y)), y]))


@functools.lru_cache(maxsize=None)
def least_squares_scores():
    """01's provided classifier: least squares on one-hot targets, with a bias column."""
    d = digits()
    ones = lambda X: np.hstack([X, np.ones((len(X), 1))])
    W = np.linalg.lstsq(ones(d["X_train"]), np.eye(10)[d["y_train"]], rcond=None)[0]
    return {part: ones(d[f"X_{part}"]) @ W for part in ("train", "val", "test")}


@functools.lru_cache(maxsize=None)
def nearest_mean_scores():
    """02's provided classifier: minus the squared distance to each class's mean image."""
    d = digits()
    means = np.stack([d["X_train"][d["y_train"] == c].mean(axis=0) for c in range(10)])
    return {part: -((d[f"X_{part}"][:, None, :] - means[None]) ** 2).sum(axis=-1)
            for part in ("train", "val", "test")}


def mean_nll_cases():
    rng = np.random.default_rng(111)
    cases = []
    for name, z, y, T in [("4 examples of 3 scores, T = 1", rng.normal(size=(4, 3)), None, 1.0),
                          ("6 examples of 5 scores, T = 2.5", rng.normal(size=(6, 5)) * 3, None, 2.5),
                          ("5 examples of 4 scores of size about 10, T = 0.01 (z / T is in the thousands)",
                           rng.normal(size=(5, 4)) * 10, None, 0.01),
                          ("scores [[1000, 0], [0, 1000]] with labels [1, 1], T = 1",
                           np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([1, 1]), 1.0)]:
        y = rng.integers(z.shape[1], size=len(z)) if y is None else y
        with np.errstate(all="ignore"):
            times_t = mean_nll_reference(z * T * T, y, T) if T != 1.0 else None
            no_t = mean_nll_reference(z, y, 1.0)
        mistakes = [Mistake("the scores were multiplied by T; divide them: softmax(z / T)",
                            {"result": times_t})] if times_t is not None else []
        if T != 1.0:
            mistakes.append(Mistake("the temperature is ignored: use softmax(z / T)", {"result": no_t}))
        case = call("mean_nll", name, {"z": z, "y": y, "T": T},
                    {"result": mean_nll_reference(z, y, T)}, rtol=1e-9, atol=1e-12,
                    mistakes=mistakes, hint="Compute log_softmax(z / T) and average "
                    "-log p of the true class over the batch (not the sum).")
        _probe_log_softmax(case, z, y, T)
        cases.append(case)
    return cases


def _nll_of(log_p, y):
    """What a correct mean_nll returns when log_softmax gives `log_p`."""
    log_p = np.asarray(log_p, dtype=float)
    return {"result": float(-np.mean(log_p[np.arange(len(y)), y]))}


def _probe_log_softmax(case, z, y, T):
    """Also run the student's log_softmax on z / T, so that a mean_nll built on a wrong one
    is judged by what a correct mean_nll gives on it (and the diagnosis names log_softmax)."""
    z_over_t = np.asarray(z, dtype=float) / T
    case.program["inputs"].update({"z_over_T": z_over_t, "class_axis": 1})
    case.program["steps"].append({"fn": "log_softmax", "args": ["z_over_T"],
                                  "kwargs": {"axis": "class_axis"}, "out": "log_p",
                                  "optional": True})
    case.program["returns"].append("log_p")
    with np.errstate(all="ignore"):
        case.upstream = Upstream("log_softmax", "log_p", _log_softmax(z_over_t),
                                 derive=lambda log_p: _nll_of(log_p, y),
                                 plausible=lambda log_p: _log_probabilities(log_p, z_over_t.shape))


def _log_probabilities(log_p, shape):
    """A real attempt at log_softmax: its shape, and no finite value above 0 (where it
    overflows, inf or NaN is its own mistake, judged in its own test)."""
    log_p = np.asarray(log_p, dtype=float)
    return log_p.shape == shape and not np.any(log_p[np.isfinite(log_p)] > 1e-9)


def _score_temperature_outcome(outputs):
    T = outputs.get("result")
    if isinstance(T, (list, tuple, dict, str)) or T is None or np.size(T) != 1:
        return f"fit_temperature should return one temperature (a number), got {type(T).__name__}"
    T = float(np.asarray(T, dtype=float).reshape(()))
    if not np.isfinite(T) or T <= 0:
        return f"the temperature {T:g} is not a positive number"
    d, z = digits(), least_squares_scores()
    test = mean_nll_reference(z["test"], d["y_test"], T)
    if test <= TEMPERATURE_TEST_NLL:
        return None
    val = mean_nll_reference(z["val"], d["y_val"], T)
    return (f"with T = {T:.4g} the held-out test images cost a mean NLL of {test:.3f}; the "
            f"threshold is {TEMPERATURE_TEST_NLL} (validation {val:.3f}): fit_temperature should "
            f"return the grid's temperature with the LOWEST validation NLL")


def fit_temperature_cases():
    rng = np.random.default_rng(112)
    cases = []
    for name, z, grid in [("5 examples of 3 scores, grid [0.5, 1, 2]", rng.normal(size=(5, 3)) * 4,
                           [0.5, 1.0, 2.0]),
                          ("20 examples of 4 large scores, a grid of 30 temperatures",
                           rng.normal(size=(20, 4)) * 300, list(np.geomspace(1.0, 1000.0, 30)))]:
        y = rng.integers(z.shape[1], size=len(z))
        nll = [mean_nll_reference(z, y, T) for T in grid]
        best = grid[int(np.argmin(nll))]
        worst = grid[int(np.argmax(nll))]
        cases.append(_probe_mean_nll(call(
            "fit_temperature", name, {"z": z, "y": y, "temperatures": grid},
            {"result": best}, rtol=1e-12, atol=0,
            mistakes=[Mistake("this is the temperature with the HIGHEST NLL: take the arg-min",
                              {"result": worst})]), z, y, grid))
    d, z = digits(), least_squares_scores()
    grid = list(np.geomspace(0.01, 10.0, 61))
    cases.append(_probe_mean_nll(call(
        "fit_temperature", "fit_temperature on the validation scores of the least-squares "
        "digit classifier, then its NLL on the held-out test images",
        {"z": z["val"], "y": d["y_val"], "temperatures": grid}, {},
        unchanged=(), score=_score_temperature_outcome), z["val"], d["y_val"], grid))
    return cases


def _lowest(grid, nll):
    """What a correct fit_temperature returns when mean_nll gives `nll` over the grid (the
    first arg-min; NaN, where the student's mean_nll gives it, counts as np.argmin counts it)."""
    return {"result": grid[int(np.argmin(np.asarray(nll, dtype=float)))]}


def _probe_mean_nll(case, z, y, grid):
    """Also run the student's mean_nll at each temperature of the grid, so that fit_temperature
    on a wrong mean_nll is judged by what a correct one picks from those values."""
    names = tuple(f"nll{k}" for k in range(len(grid)))
    for k, (T, name) in enumerate(zip(grid, names)):
        case.program["inputs"][f"T{k}"] = T
        case.program["steps"].append({"fn": "mean_nll", "args": ["z", "y", f"T{k}"],
                                      "out": name, "optional": True})
    case.program["returns"].extend(names)
    with np.errstate(all="ignore"):
        expect = [mean_nll_reference(z, y, T) for T in grid]
    case.upstream = Upstream("mean_nll", names, expect, derive=lambda nll: _lowest(grid, nll),
                             plausible=lambda nll: np.asarray(nll, dtype=float).shape == (len(grid),),
                             tolerance=(1e-9, 1e-12))
    return case


def ece_reference(probs, y, n_bins=10):
    """(ece, confidence, accuracy, counts) with equal-width bins of the top probability."""
    probs = np.asarray(probs, dtype=float)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins).astype(float)
    safe = np.maximum(counts, 1)
    confidence = np.bincount(bins, conf, minlength=n_bins) / safe
    accuracy = np.bincount(bins, correct, minlength=n_bins) / safe
    ece = float(np.sum(counts / len(y) * np.abs(accuracy - confidence)))
    return ece, confidence, accuracy, counts


def ece_cases():
    rng = np.random.default_rng(221)
    cases = []

    def probs_of(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    for name, probs, n_bins in [
            ("50 random distributions over 4 classes, 10 bins", probs_of(rng.normal(size=(50, 4)) * 2), 10),
            ("30 confident distributions over 3 classes, 5 bins (some bins empty)",
             probs_of(rng.normal(size=(30, 3)) * 6), 5),
            ("one-hot predictions (confidence exactly 1) and uniform ones, 4 bins",
             np.vstack([np.eye(3)[[0, 1, 2, 0]], np.full((2, 3), 1 / 3)]), 4)]:
        y = rng.integers(probs.shape[1], size=len(probs))
        ece, conf, acc, counts = ece_reference(probs, y, n_bins)
        unweighted = float(np.mean(np.abs(acc - conf)[counts > 0]))
        cases.append(call("expected_calibration_error", name,
                          {"probs": probs, "y": y, "n_bins": n_bins},
                          {"ece": ece, "confidence": conf, "accuracy": acc, "counts": counts},
                          out=["ece", "confidence", "accuracy", "counts"], rtol=1e-9, atol=1e-12,
                          mistakes=[Mistake("every non-empty bin counts the same: weight each "
                                            "bin by its share of the examples, counts / N",
                                            {"ece": unweighted})],
                          hint="Bin b holds the examples whose top probability lies in "
                               "[b / n_bins, (b + 1) / n_bins), the last bin including 1; an "
                               "empty bin has confidence, accuracy and count 0."))
    return cases


def _score_calibration_outcome(outputs):
    T = outputs.get("result")
    if isinstance(T, (list, tuple, dict, str)) or T is None or np.size(T) != 1:
        return f"BEST_T should be one number, got {type(T).__name__}"
    T = float(np.asarray(T, dtype=float).reshape(()))
    if not np.isfinite(T) or T <= 0:
        return f"BEST_T = {T:g} is not a positive number"
    d, z = digits(), nearest_mean_scores()
    probs = lambda s: np.exp(_log_softmax(s / T))
    test = ece_reference(probs(z["test"]), d["y_test"])[0]
    if test <= CALIBRATION_TEST_ECE:
        return None
    val = ece_reference(probs(z["val"]), d["y_val"])[0]
    conf = float(probs(z["test"]).max(axis=1).mean())
    acc = float(np.mean(z["test"].argmax(axis=1) == d["y_test"]))
    side = "overconfident: raise T" if conf > acc else "underconfident: lower T"
    return (f"with BEST_T = {T:.4g} the held-out test images have an ECE of {test:.3f}; the "
            f"threshold is {CALIBRATION_TEST_ECE} (validation {val:.3f}); the mean confidence "
            f"{conf:.1%} against an accuracy of {acc:.1%} says the probabilities are {side}")


def calibration_outcome_cases():
    return [call("chosen_temperature", "the temperature you chose (BEST_T) on the held-out "
                 "test images, 10 bins", {}, {}, unchanged=(), score=_score_calibration_outcome)]


# ---------------------------------------------------------------------------- 03-backprop

def _score_train_softmax(min_train_accuracy, num_iters):
    def score(outputs):
        d = digits()
        problem = judge_training(outputs.get("W"), outputs.get("loss_history"),
                                 (d["X_train"].shape[1], 10), num_iters)
        if problem:
            return problem
        acc = _accuracy(d["X_train"] @ np.asarray(outputs["W"], dtype=float), d["y_train"])
        if acc < min_train_accuracy:
            return (f"after {num_iters} iterations the weights classify only {acc:.1%} of the "
                    f"training images correctly (a correct trainer reaches at least "
                    f"{min_train_accuracy:.0%} with these settings): check that each step "
                    f"subtracts learning_rate * dW and that every iteration draws a new batch")
        return None
    return score


def _score_same_twice(outputs):
    a, problem = _array(outputs.get("W"), "W")
    if problem:
        return problem
    b, problem = _array(outputs.get("W_again"), "W")
    if problem:
        return problem
    if a.shape != b.shape or not np.array_equal(a, b):
        return ("two calls with the same seed returned different weights: draw every random "
                "number (the initial W, the batches) from np.random.default_rng(seed)")
    return None


def train_softmax_cases():
    d = digits()
    X, y = d["X_train"], d["y_train"]
    cases = []
    # Over 8 seeds a correct trainer reached a training accuracy of at least 0.954 and 0.933.
    for lr, reg, iters, batch in [(1.0, 1e-4, 150, 100), (0.5, 1e-3, 100, 50)]:
        c = call("train_softmax",
                 f"train_softmax on the 1000 training digits (learning_rate={lr:g}, reg={reg:g}, "
                 f"num_iters={iters}, batch_size={batch})",
                 {"X": X, "y": y, "learning_rate": lr, "reg": reg, "num_iters": iters,
                  "batch_size": batch, "seed": 3},
                 {}, out=["W", "loss_history"], unchanged=(),
                 score=_score_train_softmax(0.88, iters))
        cases.append(c)
    small = {"X": X[:200], "y": y[:200], "learning_rate": 0.5, "reg": 1e-4, "num_iters": 20,
             "batch_size": 32, "seed": 7}
    c = call("train_softmax", "train_softmax called twice with the same seed", small, {},
             out=["W", "loss_history"], unchanged=(), score=_score_same_twice)
    step = dict(c.program["steps"][0], out=["W_again", "loss_history_again"])
    c.program["steps"].append(step)
    c.program["returns"] = ["W", "W_again"]
    cases.append(c)
    return cases


def _score_final_model(outputs):
    d = digits()
    problem = judge_training(outputs.get("W"), outputs.get("loss_history"),
                             (d["X_train"].shape[1], 10))
    if problem:
        return f"your final model (BEST): {problem}"
    W = np.asarray(outputs["W"], dtype=float)
    test = _accuracy(d["X_test"] @ W, d["y_test"])
    if test >= SOFTMAX_TEST_ACCURACY:
        return None
    train = _accuracy(d["X_train"] @ W, d["y_train"])
    val = _accuracy(d["X_val"] @ W, d["y_val"])
    why = ("the training accuracy is low too, so the model underfits: a larger learning rate, "
           "more iterations or a smaller reg" if train < SOFTMAX_TEST_ACCURACY + 0.02 else
           "the training accuracy is high, so the model does not generalise: try a larger reg")
    return (f"your final model (BEST) classifies {test:.1%} of the held-out test images "
            f"correctly; the threshold is {SOFTMAX_TEST_ACCURACY:.0%} (training {train:.1%}, "
            f"validation {val:.1%}): {why}")


def final_softmax_cases():
    d = digits()
    return [call("train_final", "your final model, train_final(X_train, y_train), on the "
                 "held-out test digits", {"X": d["X_train"], "y": d["y_train"]}, {},
                 out=["W", "loss_history"], unchanged=(), score=_score_final_model)]


# ---------------------------------------------------------------------------- 05-batchnorm

def deep_net_reference(params, X, y=None, bn_params=None):
    """affine - [batchnorm] - relu, ..., affine - softmax: scores if y is None, else (loss, grads)."""
    from ..reference import batchnorm as bn_ref
    L = sum(1 for k in params if k.startswith("W"))
    h, caches = X, []
    for l in range(1, L):
        a = h @ params[f"W{l}"] + params[f"b{l}"]
        bn_cache = None
        if bn_params is not None:
            a, bn_cache = bn_ref.batchnorm_forward(a, params[f"gamma{l}"], params[f"beta{l}"],
                                                   bn_params[l - 1])
        caches.append((h, bn_cache, a))
        h = np.maximum(a, 0.0)
    scores = h @ params[f"W{L}"] + params[f"b{L}"]
    if y is None:
        return scores
    N = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(N), y].mean())
    d = np.exp(log_probs)
    d[np.arange(N), y] -= 1.0
    d /= N
    grads = {f"W{L}": h.T @ d, f"b{L}": d.sum(axis=0)}
    dh = d @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        h_in, bn_cache, a = caches[l - 1]
        da = dh * (a > 0)
        if bn_cache is not None:
            da, grads[f"gamma{l}"], grads[f"beta{l}"] = bn_ref.batchnorm_backward_alt(da, bn_cache)
        grads[f"W{l}"] = h_in.T @ da
        grads[f"b{l}"] = da.sum(axis=0)
        dh = da @ params[f"W{l}"].T
    return loss, grads


def _random_net(rng, dims, batchnorm):
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.normal(size=(dims[l - 1], dims[l])) / np.sqrt(dims[l - 1])
        params[f"b{l}"] = rng.normal(size=dims[l]) * 0.1
        if batchnorm and l < len(dims) - 1:
            params[f"gamma{l}"] = 1.0 + 0.3 * rng.normal(size=dims[l])
            params[f"beta{l}"] = 0.2 * rng.normal(size=dims[l])
    return params


def deep_net_loss_cases():
    import copy
    rng = np.random.default_rng(505)
    cases = []
    hint = ("Compare each layer's gradient with finite differences (the visible test does): the "
            "hidden layers are affine - batchnorm - relu, the last is affine only, and the loss "
            "is the mean cross-entropy.")
    for name, dims, batchnorm in [("a 5 -> 6 -> 4 -> 3 network without batchnorm", [5, 6, 4, 3], False),
                                  ("a 5 -> 6 -> 4 -> 3 network with batchnorm", [5, 6, 4, 3], True),
                                  ("a 7 -> 5 -> 2 network with batchnorm, offset inputs", [7, 5, 2], True)]:
        params = _random_net(rng, dims, batchnorm)
        X = rng.normal(size=(9, dims[0])) * 2.0 + (3.0 if dims[0] == 7 else 0.0)
        y = rng.integers(dims[-1], size=9)
        bn = [{"mode": "train"} for _ in dims[1:-1]] if batchnorm else None
        loss, grads = deep_net_reference(params, X, y, copy.deepcopy(bn))
        inputs = {"params": params, "X": X, "y": y, "bn_params": bn}
        expect = {"loss": loss, "grads": grads}
        outs = ["loss", "grads"]
        c = call("deep_net_loss", name, inputs, expect, args=["params", "X", "y", "bn_params"],
                 out=outs, rtol=1e-6, atol=1e-9, hint=hint, unchanged=("X",))
        if batchnorm:
            _record_batchnorm(c, params, X, y, bn)
        cases.append(c)      # the running statistics are batchnorm_forward's job: judged there
    # Scores for prediction: y is None, batchnorm in test mode with given running statistics.
    dims = [6, 5, 4]
    params = _random_net(rng, dims, True)
    X = rng.normal(size=(4, 6))
    bn = [{"mode": "test", "running_mean": rng.normal(size=5), "running_var": rng.uniform(0.5, 2, 5)}]
    c = call("deep_net_loss", "scores of a 6 -> 5 -> 4 network, batchnorm in test mode "
             "(y is None)", {"params": params, "X": X, "y": None, "bn_params": bn},
             {"result": deep_net_reference(params, X, None, copy.deepcopy(bn))},
             args=["params", "X", "y", "bn_params"], rtol=1e-7, atol=1e-10,
             hint="With y None return the scores; in test mode batchnorm uses the "
                  "running statistics.", unchanged=("X",))
    _record_batchnorm(c, params, X, None, bn)
    cases.append(c)
    return cases


BN_UPSTREAM = ("batchnorm_forward", "batchnorm_backward_alt", "batchnorm_backward")


def _record_batchnorm(case, params, X, y, bn_params):
    """Record the student's batchnorm calls inside deep_net_loss, so that a network loss built
    on a wrong batchnorm layer is judged by what a correct network gives on that layer."""
    case.program["steps"].insert(0, {"record": list(BN_UPSTREAM), "out": "bn_calls"})
    case.program["returns"].append("bn_calls")
    case.upstream = Upstream(
        "batchnorm layer", "bn_calls", None,
        functions=BN_UPSTREAM[:2] if y is not None else BN_UPSTREAM[:1],
        diagnose=lambda calls: _wrong_batchnorm(calls, params, bn_params),
        derive=lambda calls: _net_on_student_batchnorm(calls, params, X, y),
        plausible=lambda calls: _normalising_calls(calls, params, bn_params))


def _calls(calls, *names):
    return [c for c in calls if isinstance(c, dict) and c.get("fn") in names]


def _wrong_batchnorm(calls, params, bn_params):
    """None when every recorded batchnorm call returned what the reference returns on the same
    inputs; else which function is wrong."""
    import copy
    from ..reference import batchnorm as bn_ref
    caches = []
    for l, c in enumerate(_calls(calls, "batchnorm_forward"), start=1):
        x = c["args"][0]
        out, cache = bn_ref.batchnorm_forward(x, params[f"gamma{l}"], params[f"beta{l}"],
                                              copy.deepcopy(bn_params[l - 1]))
        caches.append(cache)
        if not np.allclose(c["result"][0], out, rtol=1e-7, atol=1e-9):
            return "your batchnorm_forward is wrong (see its own test)"
    for c, cache in zip(_calls(calls, "batchnorm_backward_alt", "batchnorm_backward"),
                        reversed(caches)):
        grads = bn_ref.batchnorm_backward_alt(c["args"][0], cache)
        if len(c["result"]) < 3 or not all(np.allclose(a, e, rtol=1e-7, atol=1e-9)
                                           for a, e in zip(c["result"], grads)):
            return f"your {c['fn']} is wrong (see its own test)"
    return None


def _normalising_calls(calls, params, bn_params):
    """A real attempt at batchnorm: in train mode, every column of each output has mean beta."""
    forward = _calls(calls, "batchnorm_forward")
    return len(forward) == len(bn_params) and all(
        bn_params[l]["mode"] != "train" or np.allclose(
            np.asarray(c["result"][0], dtype=float).mean(axis=0), params[f"beta{l + 1}"],
            rtol=1e-6, atol=1e-6) for l, c in enumerate(forward))


def _net_on_student_batchnorm(calls, params, X, y):
    """What a correct deep_net_loss returns when the batchnorm calls return what they did. The
    student's network must have given each call what a correct network gives it."""
    forward = _calls(calls, "batchnorm_forward")
    backward = _calls(calls, "batchnorm_backward_alt", "batchnorm_backward")
    close = lambda a, b: np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-7, atol=1e-9)
    L = sum(1 for k in params if k.startswith("W"))
    h, layers = X, []
    for l in range(1, L):
        a = h @ params[f"W{l}"] + params[f"b{l}"]
        if not close(forward[l - 1]["args"][0], a):
            raise ValueError("the network gave batchnorm_forward another input")
        a = np.asarray(forward[l - 1]["result"][0], dtype=float)
        layers.append((h, a))
        h = np.maximum(a, 0.0)
    scores = h @ params[f"W{L}"] + params[f"b{L}"]
    if y is None:
        return {"result": scores}
    N = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    d = np.exp(log_probs)
    d[np.arange(N), y] -= 1.0
    d /= N
    grads = {f"W{L}": h.T @ d, f"b{L}": d.sum(axis=0)}
    dh = d @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        h_in, a = layers[l - 1]
        da = dh * (a > 0)
        c = backward[L - 1 - l]
        if not close(c["args"][0], da):
            raise ValueError("the network gave the batchnorm backward pass another gradient")
        da, grads[f"gamma{l}"], grads[f"beta{l}"] = (np.asarray(r, dtype=float)
                                                     for r in c["result"][:3])
        grads[f"W{l}"] = h_in.T @ da
        grads[f"b{l}"] = da.sum(axis=0)
        dh = da @ params[f"W{l}"].T
    return {"loss": float(-log_probs[np.arange(N), y].mean()), "grads": grads}


def _bn_problems(outputs, hidden):
    """(params, bn_params, None) or (None, None, what is wrong) for a trained network."""
    params, bn, history = outputs.get("params"), outputs.get("bn_params"), outputs.get("loss_history")
    if not isinstance(params, dict) or not all(f"W{l}" in params for l in range(1, hidden + 2)):
        return None, None, (f"params should be a dict with W1 .. W{hidden + 1} (and b, gamma, beta), "
                            f"got {type(params).__name__}")
    history, problem = _array(history, "the loss history")
    if problem:
        return None, None, problem
    if history.size and not np.all(np.isfinite(history)):
        first = int(np.flatnonzero(~np.isfinite(history))[0])
        return None, None, f"the loss became NaN or inf at iteration {first}: {NAN_ADVICE}"
    if _rising(history.ravel()):
        return None, None, _rising(history.ravel())
    arrays = {}
    for k, v in params.items():
        arrays[k], problem = _array(v, f"params[{k!r}]")
        if problem:
            return None, None, problem
        if not np.all(np.isfinite(arrays[k])):
            return None, None, f"params[{k!r}] contains NaN or inf: {NAN_ADVICE}"
    if bn is not None:
        if not isinstance(bn, (list, tuple)) or len(bn) != hidden or not all(
                isinstance(p, dict) and "running_mean" in p and "running_var" in p for p in bn):
            return None, None, ("bn_params should be a list of one dict per hidden layer holding "
                                "running_mean and running_var after training")
        bn = [{"mode": "test", "running_mean": np.asarray(p["running_mean"], dtype=float),
               "running_var": np.asarray(p["running_var"], dtype=float)} for p in bn]
    return arrays, bn, None


def _score_bn_net(threshold, hidden, what):
    def score(outputs):
        d = digits()
        params, bn, problem = _bn_problems(outputs, hidden)
        if problem:
            return f"{what}: {problem}"
        try:
            with np.errstate(all="ignore"):
                test = _accuracy(deep_net_reference(params, d["X_test"], None, bn), d["y_test"])
                train = _accuracy(deep_net_reference(params, d["X_train"], None, bn), d["y_train"])
                batch_stats = None if bn is None else _accuracy(deep_net_reference(
                    params, d["X_test"], None, [{"mode": "train"} for _ in bn]), d["y_test"])
        except (KeyError, ValueError, IndexError) as exc:
            return f"{what}: the returned network could not be evaluated ({type(exc).__name__}: {exc})"
        if test >= threshold:
            return None
        why = ("the training accuracy is low too: the network did not learn (learning rate, "
               "weight scale, iterations)" if train < threshold else "it overfits")
        history = np.asarray(outputs["loss_history"], dtype=float).ravel()
        tail = float(np.mean(history[-max(1, history.size // 10):])) if history.size else np.nan
        if train < 0.2 and tail > 0.9 * np.log(10):
            why = (f"the loss ended at {tail:.3g}, the chance level ln 10 = 2.30, so the network "
                   f"stopped learning: a learning rate that is too large kills the relus (every "
                   f"unit outputs 0), and without batchnorm a weight scale far from "
                   f"sqrt(2 / fan_in) makes the signal vanish or explode")
        if batch_stats is not None and batch_stats >= threshold:
            why = (f"with the test batch's own statistics it would reach {batch_stats:.1%}, so "
                   f"the running mean and variance returned in bn_params are wrong: check the "
                   f"momentum update in batchnorm_forward")
        return (f"{what} classifies {test:.1%} of the held-out test images correctly (batchnorm "
                f"in test mode); the threshold is {threshold:.0%} (training {train:.1%}): {why}")
    return score


def train_net_cases():
    d = digits()
    cases = []
    # Small and short, so that a class grades fast, yet a correct trainer passes whatever its
    # batches (over 8 seeds the test accuracy was at least 0.94 with batchnorm and 0.935
    # without; the threshold is 0.90).
    for name, batchnorm, scale, lr, steps in [
            ("with batchnorm from a tiny initial weight scale (0.01)", True, 0.01, 0.2, 200),
            ("without batchnorm, weight scale 0.25", False, 0.25, 0.1, 250)]:
        inputs = {"X": d["X_train"], "y": d["y_train"], "hidden_dims": [32] * 3,
                  "use_batchnorm": batchnorm, "learning_rate": lr, "weight_scale": scale,
                  "num_iters": steps, "batch_size": 50, "seed": 1}
        cases.append(call("train_net", f"train_net on the training digits, 3 hidden layers of "
                          f"32, {name}, learning rate {lr:g}, {steps} steps of 50", inputs, {},
                          out=["params", "bn_params", "loss_history"], unchanged=(),
                          score=_score_bn_net(BN_RESCUE_ACCURACY, 3, "the trained network")))
    return cases


def final_bn_cases():
    d = digits()

    def score(outputs):
        params = outputs.get("params")
        hidden = sum(1 for k in params if str(k).startswith("W")) - 1 if isinstance(params, dict) else 0
        return _score_bn_net(BN_TEST_ACCURACY, hidden, "your final network (BEST)")(outputs)
    return [call("train_final_net", "your final network, train_final_net(X_train, y_train), on the "
                 "held-out test digits", {"X": d["X_train"], "y": d["y_train"]}, {},
                 out=["params", "bn_params", "loss_history"], unchanged=(), score=score)]


# ---------------------------------------------------------------------------- 04-vanishing-gradients

INIT_STD = {"normal": lambda fan_in, fan_out: 1.0,
            "xavier": lambda fan_in, fan_out: 1.0 / np.sqrt(fan_in),
            "he": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in)}
INIT_SIZES = [64, 256, 128, 10]


def _init_mistakes(scheme, fan_in, fan_out):
    """(std, what that mistake is) for the usual slips of a scheme."""
    return [(1.0 / fan_in if scheme == "xavier" else 2.0 / fan_in,
             "the variance was used as the standard deviation: scale by its square root"),
            (INIT_STD[scheme](fan_out, fan_in), "the scale uses fan_out; use fan_in, the rows of W"),
            (np.sqrt(2.0 / (fan_in + fan_out)), "this is Glorot's average of fan_in and fan_out; "
             "this course's xavier is 1 / sqrt(fan_in)"),
            (np.sqrt(2.0 / fan_in), "this is He's scale, sqrt(2 / fan_in)"),
            (1.0 / np.sqrt(fan_in), "this is the xavier scale, 1 / sqrt(fan_in)"),
            (1.0, "these are N(0, 1) weights, not scaled by the fan-in")]


def _score_init(scheme):
    def score(outputs):
        weights = outputs.get("weights")
        if not isinstance(weights, (list, tuple)) or len(weights) != len(INIT_SIZES) - 1:
            return (f"init_weights({INIT_SIZES}, {scheme!r}) should return a list of "
                    f"{len(INIT_SIZES) - 1} matrices, got {type(weights).__name__}")
        for l, (W, fan_in, fan_out) in enumerate(zip(weights, INIT_SIZES[:-1], INIT_SIZES[1:])):
            W, problem = _array(W, f"weights[{l}]", (fan_in, fan_out))
            if problem:
                return problem
            want = INIT_STD[scheme](fan_in, fan_out)
            n = W.size
            std, mean = float(np.std(W)), float(np.mean(W))
            if abs(mean) > 5 * want / np.sqrt(n):
                return (f"weights[{l}] has mean {mean:.3g}; the weights should be centred on 0 "
                        f"(np.random.default_rng(seed).standard_normal, times the scale)")
            tol = 5.0 / np.sqrt(2 * n)           # five standard errors of a sample std
            if abs(std / want - 1) > tol:
                for wrong, why in _init_mistakes(scheme, fan_in, fan_out):
                    if abs(wrong / want - 1) > tol and abs(std / wrong - 1) <= tol:
                        return (f"weights[{l}] ({fan_in} x {fan_out}) has standard deviation "
                                f"{std:.4g}, expected {want:.4g} for {scheme!r}: {why}")
                return (f"weights[{l}] ({fan_in} x {fan_out}) has standard deviation {std:.4g}, "
                        f"expected {want:.4g} for {scheme!r}")
        if not np.array_equal(np.asarray(weights[0]), np.asarray(outputs.get("again", [None])[0])):
            return "two calls with the same seed gave different weights: use np.random.default_rng(seed)"
        if np.array_equal(np.asarray(weights[0]), np.asarray(outputs.get("other", [None])[0])):
            return "seeds 0 and 1 gave the same weights: the seed must be used"
        return None
    return score


def init_weights_cases():
    cases = []
    for scheme in INIT_STD:
        c = call("init_weights", f"init_weights({INIT_SIZES}, {scheme!r}, seed=5)",
                 {"sizes": INIT_SIZES, "scheme": scheme, "seed": 5}, {}, out="weights",
                 unchanged=(), score=_score_init(scheme))
        first = c.program["steps"][0]
        c.program["inputs"]["seed_other"] = 6
        c.program["steps"] += [dict(first, out="again"),
                               dict(first, kwargs={}, args=["sizes", "scheme", "seed_other"], out="other")]
        c.program["returns"] = ["weights", "again", "other"]
        cases.append(c)
    return cases


def _trajectory(weights, X, y, activation, lr, iters):
    """Reference training on a batch whose rows are all the same (so every batch is the same)."""
    from ..reference import vanishing_gradients as vg
    w = [W.copy() for W in weights]
    norms, losses = [], []
    for _ in range(iters):
        scores, _ = vg.forward(w, X, activation)
        losses.append(vg.softmax_loss_grad(scores, y)[0])
        grads = vg.layer_gradients(w, X, y, activation)
        norms.append([np.linalg.norm(g) for g in grads])
        w = [W - lr * g for W, g in zip(w, grads)]
    return w, np.array(norms), np.array(losses)


def _score_deep_digits(outputs):
    from ..reference import vanishing_gradients as vg
    d = digits()
    weights, norms, history = (outputs.get(k) for k in ("weights", "norm_history", "loss_history"))
    history, problem = _array(history, "the loss history", (DEEP_ITERS,))
    if problem:
        return problem
    norms, problem = _array(norms, "norm_history", (DEEP_ITERS, len(DEEP_SIZES) - 1))
    if problem:
        return problem + " (one row per iteration, one column per layer)"
    if not (np.all(np.isfinite(history)) and np.all(np.isfinite(norms))):
        return f"the loss or the gradient norms became NaN or inf: {NAN_ADVICE}"
    if not isinstance(weights, (list, tuple)) or len(weights) != len(DEEP_SIZES) - 1:
        return f"weights should be the list of {len(DEEP_SIZES) - 1} trained matrices"
    ws = []
    for l, (W, m, n) in enumerate(zip(weights, DEEP_SIZES[:-1], DEEP_SIZES[1:])):
        W, problem = _array(W, f"weights[{l}]", (m, n))
        if problem:
            return problem
        ws.append(W)
    rising = _rising(history)
    if rising:
        return rising
    scores, _ = vg.forward(ws, d["X_test"], "relu")
    test = _accuracy(scores, d["y_test"])
    if test < DEEP_TEST_ACCURACY:
        return (f"the trained network classifies {test:.1%} of the held-out test images "
                f"correctly; the threshold is {DEEP_TEST_ACCURACY:.0%}: check that every "
                f"layer steps by - learning_rate * dW_l with the gradients of the current batch")
    return None


# Over 10 seeds of the batches a correct trainer reached a test accuracy of at least 0.95
# (the threshold is 0.90) in 0.065 s.
DEEP_SIZES = [64] + [64] * 4 + [10]
DEEP_ITERS = 250


def train_deep_cases():
    d = digits()
    rng = np.random.default_rng(404)
    cases = []
    # Every row of the data the same: every mini-batch is the same, so the trajectory is exact.
    for activation, sizes in [("sigmoid", [5, 6, 4, 3]), ("relu", [5, 7, 6, 5, 3])]:
        weights = [rng.normal(size=(m, n)) * np.sqrt(2.0 / m) for m, n in zip(sizes[:-1], sizes[1:])]
        X = np.repeat(rng.normal(size=(1, sizes[0])), 12, axis=0)
        y = np.full(12, 1)
        w, norms, losses = _trajectory(weights, X, y, activation, 0.3, 4)
        up = _trajectory(weights, X, y, activation, -0.3, 4)
        cases.append(call("train_deep", f"train_deep, {activation} {' -> '.join(map(str, sizes))}, "
                          f"4 steps of learning rate 0.3 on 12 copies of one example (every "
                          f"batch is the same)",
                          {"weights": weights, "X": X, "y": y, "activation": activation,
                           "learning_rate": 0.3, "num_iters": 4, "batch_size": 5, "seed": 0},
                          {"weights": w, "norm_history": norms, "loss_history": losses},
                          out=["weights", "norm_history", "loss_history"], rtol=1e-6, atol=1e-9,
                          unchanged=(),
                          mistakes=[Mistake("each step goes up the gradient: subtract "
                                            "learning_rate * dW_l, do not add it",
                                            {"weights": up[0], "loss_history": up[2]})],
                          hint="Row t of norm_history holds the norms of the gradients used at "
                               "step t (before that step), and loss_history[t] the loss then."))
    init = np.random.default_rng(4)
    weights = [init.standard_normal((m, n)) * np.sqrt(2.0 / m)
               for m, n in zip(DEEP_SIZES[:-1], DEEP_SIZES[1:])]
    cases.append(call("train_deep", f"train_deep on the training digits: relu, "
                      f"{' -> '.join(map(str, DEEP_SIZES))} with He weights, learning rate 0.1, "
                      f"{DEEP_ITERS} steps of 50",
                      {"weights": weights, "X": d["X_train"], "y": d["y_train"],
                       "activation": "relu", "learning_rate": 0.1, "num_iters": DEEP_ITERS,
                       "batch_size": 50, "seed": 2}, {},
                      out=["weights", "norm_history", "loss_history"], unchanged=(),
                      score=_score_deep_digits))
    return cases


CHECKS = {
    "01-softmax": [Check("mean_nll", mean_nll_cases), Check("fit_temperature", fit_temperature_cases)],
    "02-cross-entropy": [Check("expected_calibration_error", ece_cases),
                         Check("chosen_temperature", calibration_outcome_cases)],
    "03-backprop": [Check("train_softmax", train_softmax_cases),
                    Check("train_final", final_softmax_cases)],
    "04-vanishing-gradients": [Check("init_weights", init_weights_cases),
                               Check("train_deep", train_deep_cases)],
    "05-batchnorm": [Check("deep_net_loss", deep_net_loss_cases),
                     Check("train_net", train_net_cases),
                     Check("train_final_net", final_bn_cases)],
}
