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
from . import Check, call

NAN_ADVICE = ("the learning rate is too large (the weights blow up), or the scores are not "
              "shifted by their row maximum before exp")

# Thresholds stated in the notebooks (keep them equal to the notebooks' text).
SOFTMAX_TEST_ACCURACY = 0.92        # 03: the linear classifier trained with BEST


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
    if history.size >= 10:
        k = max(1, history.size // 10)
        start, end = float(np.mean(history[:k])), float(np.mean(history[-k:]))
        if end > start:
            return (f"the loss rose during training (mean of the first {k} losses {start:.4g}, "
                    f"of the last {k} {end:.4g}): the learning rate is too large, or the step "
                    f"goes up the gradient (W += instead of W -=)")
    return None


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
    for lr, reg, iters, batch in [(1.0, 1e-4, 300, 100), (0.5, 1e-3, 200, 50)]:
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


CHECKS = {
    "03-backprop": [Check("train_softmax", train_softmax_cases),
                    Check("train_final", final_softmax_cases)],
}
