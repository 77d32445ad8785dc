"""Append the experiment part to each solution notebook (idempotent), then run `release`.

    .venv/bin/python scripts/experiment_parts.py [SLUG ...]
    .venv/bin/python -m autograder release

Every cell this script writes carries the tag `experiment-part`; running it again removes
those cells and writes them afresh, so the rest of each notebook is never touched. The
outcome checks behind the graded cells are in autograder/checks/experiments.py; keep the
thresholds in the text equal to the constants there.
"""
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.authoring import answer, markdown, readonly, solution, tests  # noqa: E402
from autograder.checks import experiments as ex  # noqa: E402

TAG = "experiment-part"


def lines(text):
    """Strip the common indentation of a triple-quoted block and its first newline."""
    import textwrap
    return textwrap.dedent(text).strip("\n")


DATA = lines('''
    # The course's data set: the 8x8 handwritten digits that scikit-learn ships (no download).
    # One fixed split for the whole course; the grader keeps 400 more test images to itself.
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    X_all = digits.data.astype(np.float64) / 16.0        # (1797, 64), pixels in [0, 1]
    y_all = digits.target.astype(np.int64)               # (1797,), labels 0..9
    X_train, y_train = X_all[order[:1000]], y_all[order[:1000]]
    X_val, y_val = X_all[order[1000:1397]], y_all[order[1000:1397]]
    print(f"training {X_train.shape}, validation {X_val.shape}")
''')

GRADER_NOTE = ("The grader does not run the cells whose first line says *experiment*, nor "
               "cells you add after them; it runs the graded cells, so keep everything "
               "they need inside them.")


def working_time(text):
    return markdown(f"**Expected working time:** {text}")


# ---------------------------------------------------------------------------- 03-backprop

def backprop():
    t = ex.SOFTMAX_TEST_ACCURACY
    return "about 4 hours: 2 for the four functions, 2 for the experiment part.", [
        markdown(lines(f'''
            ## Part 2: training on real handwritten digits

            You now train the linear softmax classifier of sections 2 and 3 on real data: 8x8
            grey-scale images of the digits 0 to 9 (64 pixels in [0, 1] per image). You train on
            1,000 images and choose the hyperparameters on 397 validation images; the grader
            measures your final model on 400 test images this notebook never sees.

            Points: `train_softmax` (3, automatic), your final model's test accuracy (3,
            automatic: at least {t:.0%}), two written answers (2 + 2, graded by hand). {GRADER_NOTE}
            ''')),
        readonly("load_digits_data", DATA),
        markdown(lines('''
            ## 6. Mini-batch gradient descent (3 points)

            `train_softmax(X, y, learning_rate, reg, num_iters, batch_size, seed=0)` trains `W` of
            shape `(D, C)`, with `C = y.max() + 1`, by mini-batch stochastic gradient descent:

            1. draw every random number from `rng = np.random.default_rng(seed)`, and start from
               `W = 0.001 * rng.standard_normal((D, C))`;
            2. at each of the `num_iters` iterations, draw `batch_size` indices with
               `rng.choice(N, batch_size)`, compute the loss and `dW` of that batch with your
               `softmax_loss_vectorized`, record the loss, and step `W -= learning_rate * dW`.

            Return `(W, loss_history)` with `loss_history` an array of `num_iters` losses. Two
            calls with the same arguments must return the same `W`. Do not modify `X` or `y`.
            ''')),
        solution("train_softmax", lines('''
            def train_softmax(X, y, learning_rate, reg, num_iters, batch_size, seed=0):
                """Train a linear softmax classifier with mini-batch gradient descent.

                Inputs:
                - X: (N, D) training data; y: (N,) labels in 0 .. C-1
                - learning_rate: float, the step size; reg: float, the L2 strength
                - num_iters: int, the number of steps; batch_size: int, examples per step
                - seed: int, seeds every random number (initial W and batches)

                Returns (W, loss_history): W (D, C), loss_history (num_iters,) the batch losses.
                """
                rng = np.random.default_rng(seed)
                N, D = X.shape
                C = int(np.max(y)) + 1
                W = 0.001 * rng.standard_normal((D, C))
                ### BEGIN SOLUTION
                loss_history = np.zeros(num_iters)
                for it in range(num_iters):
                    batch = rng.choice(N, batch_size)
                    loss, dW = softmax_loss_vectorized(W, X[batch], y[batch], reg)
                    loss_history[it] = loss
                    W = W - learning_rate * dW
                return W, loss_history
                ### END SOLUTION
            ''')),
        tests("test_train_softmax", 3, lines('''
            # Visible tests for train_softmax: three well-separated clusters in 2-D.
            rng_t = np.random.default_rng(11)
            centres = np.array([[2.0, 0.0], [-1.0, 2.0], [-1.0, -2.0]])
            y_toy = rng_t.integers(3, size=150)
            X_toy = centres[y_toy] + 0.5 * rng_t.normal(size=(150, 2))
            X_copy = X_toy.copy()
            W_toy, hist_toy = train_softmax(X_toy, y_toy, 0.5, 1e-4, 200, 30, seed=1)
            assert np.shape(W_toy) == (2, 3), f"W should have shape (D, C) = (2, 3), got {np.shape(W_toy)}"
            assert np.shape(hist_toy) == (200,), f"loss_history should hold one loss per iteration (200), got shape {np.shape(hist_toy)}"
            assert np.all(np.isfinite(hist_toy)), "the loss became NaN or inf: is the learning rate used as given, and are the scores shifted?"
            assert np.mean(hist_toy[-20:]) < 0.5 * np.mean(hist_toy[:20]), (
                f"the loss should fall by more than half on this easy problem: first 20 losses average "
                f"{np.mean(hist_toy[:20]):.3f}, last 20 {np.mean(hist_toy[-20:]):.3f}; does each step subtract learning_rate * dW?")
            acc_toy = np.mean(np.argmax(X_toy @ W_toy, axis=1) == y_toy)
            assert acc_toy > 0.9, f"only {acc_toy:.0%} of the easy training points are classified correctly"
            W_again, _ = train_softmax(X_toy, y_toy, 0.5, 1e-4, 200, 30, seed=1)
            assert np.array_equal(W_toy, W_again), "the same seed should give the same W: draw every random number from np.random.default_rng(seed)"
            assert np.array_equal(X_toy, X_copy), "train_softmax changed X in place"
            print("Visible train_softmax tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("train_softmax")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 7. Choosing the learning rate and `reg` on the validation split

            Train with several learning rates and regularisation strengths, measure each model's
            accuracy on the **validation** images, and keep the best. Use the test images for
            nothing: you do not have them, and that is the point. Two or three values of each,
            about a factor of 10 apart, are enough to start; then refine. A run of 1,000
            iterations of batch 100 takes a fraction of a second.
            ''')),
        solution("experiment_sweep", lines('''
            # experiment: the sweep (not run by the grader)
            val_accuracy = {}          # (learning_rate, reg) -> accuracy on (X_val, y_val)
            ### BEGIN SOLUTION
            for lr in [0.01, 0.1, 1.0, 5.0, 100.0]:
                for reg in [0.0, 1e-4, 1e-3, 1e-2]:
                    W_try, _ = train_softmax(X_train, y_train, lr, reg, 1000, 100)
                    with np.errstate(all="ignore"):
                        val_accuracy[(lr, reg)] = np.mean(np.argmax(X_val @ W_try, axis=1) == y_val)
            ### END SOLUTION
            for (lr, reg), acc in sorted(val_accuracy.items()):
                print(f"learning_rate {lr:<6g}  reg {reg:<7g}  validation accuracy {acc:.3f}")
            ''')),
        markdown(lines('''
            Now plot the loss history of three runs on one figure: your best learning rate, one 10
            times smaller and one much larger. Label the axes and the curves.
            ''')),
        solution("experiment_loss_curves", lines('''
            # experiment: loss curves (not run by the grader)
            import matplotlib.pyplot as plt
            ### BEGIN SOLUTION
            fig, ax = plt.subplots(figsize=(7, 4))
            for lr in [0.1, 1.0, 20.0]:
                _, hist = train_softmax(X_train, y_train, lr, 1e-4, 1000, 100)
                ax.plot(hist, label=f"learning rate {lr:g}", lw=0.8)
            ax.set_yscale("log")
            ax.set_xlabel("training iteration")
            ax.set_ylabel("batch loss")
            ax.legend()
            plt.show()
            ### END SOLUTION
            ''')),
        markdown(lines('''
            Set your choice below. The grader calls `train_final(X_train, y_train)` (the provided
            cell after it) in a sandbox with these values and a 10-second limit, then measures
            the returned `W` on the held-out test images.
            ''')),
        solution("best_hyperparameters", lines('''
            ### BEGIN SOLUTION
            BEST = {"learning_rate": 1.0, "reg": 1e-4, "num_iters": 500, "batch_size": 100}
            ### END SOLUTION
            ''')),
        readonly("train_final_helper", lines('''
            def train_final(X, y):
                """Your final model: train_softmax with the hyperparameters in BEST and seed 0."""
                if "BEST" not in globals():
                    raise NotImplementedError("set BEST in the cell above first")
                return train_softmax(X, y, seed=0, **BEST)
            ''')),
        tests("test_final_model", 3, lines(f'''
            # Visible check of your final model (the grader uses the 400 test images instead).
            W_final, hist_final = train_final(X_train, y_train)
            assert np.shape(W_final) == (64, 10), f"W should have shape (64, 10), got {{np.shape(W_final)}}"
            assert np.all(np.isfinite(W_final)), "W contains NaN or inf: the learning rate in BEST is too large?"
            val_final = np.mean(np.argmax(X_val @ W_final, axis=1) == y_val)
            assert val_final >= {t - 0.02:.2f}, (
                f"validation accuracy {{val_final:.3f}}: the test threshold is {t:.2f}, so aim well above it")
            print(f"passed: validation accuracy of your final model {{val_final:.3f}}")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("train_final")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            Finally, show what the classifier learned: each column `W[:, c]` has one weight per
            pixel, so reshape it to 8x8 and show the ten columns as images, titled with their
            digit.
            ''')),
        solution("experiment_templates", lines('''
            # experiment: the learned weights as 8x8 templates (not run by the grader)
            import matplotlib.pyplot as plt
            ### BEGIN SOLUTION
            fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
            for c, ax in enumerate(axes):
                ax.imshow(W_final[:, c].reshape(8, 8), cmap="RdBu_r")
                ax.set_title(str(c))
                ax.axis("off")
            plt.show()
            ### END SOLUTION
            ''')),
        markdown(lines('''
            ## 8. Reading your experiment (2 + 2 points, graded by hand)

            **(a)** Which learning rate and `reg` did you choose, and what did the validation
            accuracies and loss curves show at learning rates far below and far above it? Say
            what goes wrong numerically at the largest ones, and which line of your loss
            function protects the exponentials.
            ''')),
        answer("q_learning_rate", 2, lines('''
            **Rubric (2 points).** 1 point: names the chosen values and reads them off the sweep
            (validation accuracy, not training loss or test accuracy). 1 point: explains both
            ends: a tiny learning rate leaves the loss high after 1,000 steps (underfits); a
            large one makes the loss jump or rise and the weights grow until the scores overflow
            exp without the row-max shift (NaN/inf); with the shift, the loss stays finite but
            the model is poor. Half a point off for choosing on the training loss.

            Model answer: the sweep peaked around learning rate 1 to 5 with reg 1e-4 (about 96%
            validation accuracy). At 0.01 the loss is still above 1 after 1,000 steps; at 100 the
            batch loss jumps by orders of magnitude from step to step, because each step moves
            the scores by more than the curvature allows. The scores then reach hundreds, where
            exp overflows without subtracting each row's maximum; the shift keeps the loss finite.
            ''')),
        markdown(lines('''
            **(b)** Describe your ten templates. Why does a linear classifier's weight vector look
            like a blurred digit, what do the negative (blue) weights mean, and how would a much
            larger `reg` change the pictures and the accuracy?
            ''')),
        answer("q_templates", 2, lines('''
            **Rubric (2 points).** 1 point: the score of class c is the dot product of the image
            with column c, so a template is high where images of c have ink and low (negative)
            where other digits have ink but c does not; it is one blurred average-like shape per
            class because a linear model has one template per class. 1 point: a larger reg
            shrinks the weights, smooths the templates and flattens the probabilities; too large
            and the accuracy drops (underfitting).
            ''')),
        markdown(lines('''
            ## Optional challenge (not graded)

            Add a learning-rate schedule (halve the rate every 300 iterations) or momentum to
            `train_softmax` in a copy, and see whether it beats your best validation accuracy.
            Then train `two_layer_net_loss` from section 4 on the digits with the same loop: how
            many hidden units does it take to beat the linear classifier?
            ''')),
    ]


# ---------------------------------------------------------------------------- 05-batchnorm

def batchnorm():
    rescue, t = ex.BN_RESCUE_ACCURACY, ex.BN_TEST_ACCURACY
    return "about 4 hours: 1 hour 30 for the three batchnorm functions, 2 hours 30 for the experiment part.", [
        markdown(lines(f'''
            ## Part 2: a deep network on real handwritten digits

            You now put your batchnorm layer into a deep network and train it on real data: 8x8
            grey-scale images of the digits 0 to 9 (64 pixels in [0, 1] per image). You train on
            1,000 images and compare settings on 397 validation images; the grader measures your
            networks on 400 test images this notebook never sees, with batchnorm in test mode.

            Points: `deep_net_loss` (4, automatic), `train_net` (3, automatic: the grader trains
            with and without batchnorm at its own settings, and each network must classify at
            least {rescue:.0%} of the test images), your final network's test accuracy (3,
            automatic: at least {t:.0%}), two written answers (2 + 2, graded by hand).
            {GRADER_NOTE}
            ''')),
        readonly("load_digits_data", DATA),
        markdown(lines('''
            ## 5. A deep network with batchnorm (4 points)

            `deep_net_loss(params, X, y=None, bn_params=None)` computes a fully connected network
            with `L` weight matrices: `L - 1` hidden layers, each
            `affine -> batchnorm -> relu`, then an `affine` output layer and the mean softmax
            cross-entropy. `params` holds `W1 .. WL`, `b1 .. bL` and, for each hidden layer `l`,
            `gamma{l}` and `beta{l}`; `L` is the number of keys that start with `W`.

            - `bn_params` is `None` for a network **without** batchnorm (then the hidden layers
              are `affine -> relu` and `params` has no `gamma`, `beta`), or a list of `L - 1`
              dicts, one per hidden layer, passed to your `batchnorm_forward` as they are (their
              `mode` says train or test, and your forward pass updates their running statistics).
            - With `y=None` return the scores `(N, C)`. Otherwise return `(loss, grads)` where
              `grads` has the same keys and shapes as `params`. Use your `batchnorm_forward` and
              either of your backward passes; use no L2 penalty.
            ''')),
        solution("deep_net_loss", lines('''
            def deep_net_loss(params, X, y=None, bn_params=None):
                """Scores, or loss and gradients, of affine - [batchnorm] - relu x (L-1) - affine - softmax.

                Inputs:
                - params: dict with W1 (D, H1), b1 (H1,), ..., WL (H_{L-1}, C), bL (C,), and
                  gamma{l}, beta{l} (H_l,) for l < L when bn_params is not None
                - X: (N, D) data; y: (N,) labels in 0 .. C-1, or None for the scores
                - bn_params: None (no batchnorm) or a list of L-1 dicts for batchnorm_forward

                Returns scores (N, C) if y is None, else (loss, grads) with grads keyed like params.
                """
                ### BEGIN SOLUTION
                L = sum(1 for k in params if k.startswith("W"))
                h, caches = X, []
                for l in range(1, L):
                    a = h @ params[f"W{l}"] + params[f"b{l}"]
                    bn_cache = None
                    if bn_params is not None:
                        a, bn_cache = batchnorm_forward(a, params[f"gamma{l}"], params[f"beta{l}"],
                                                        bn_params[l - 1])
                    caches.append((h, bn_cache, a))
                    h = np.maximum(a, 0.0)
                scores = h @ params[f"W{L}"] + params[f"b{L}"]
                if y is None:
                    return scores
                N = X.shape[0]
                shifted = scores - scores.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                loss = -np.mean(log_probs[np.arange(N), y])
                dscores = np.exp(log_probs)
                dscores[np.arange(N), y] -= 1.0
                dscores /= N
                grads = {f"W{L}": h.T @ dscores, f"b{L}": dscores.sum(axis=0)}
                dh = dscores @ params[f"W{L}"].T
                for l in range(L - 1, 0, -1):
                    h_in, bn_cache, a = caches[l - 1]
                    da = dh * (a > 0)
                    if bn_cache is not None:
                        da, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward_alt(da, bn_cache)
                    grads[f"W{l}"] = h_in.T @ da
                    grads[f"b{l}"] = da.sum(axis=0)
                    dh = da @ params[f"W{l}"].T
                return loss, grads
                ### END SOLUTION
            ''')),
        tests("test_deep_net_loss", 4, lines('''
            # Visible tests for deep_net_loss: every gradient against centred differences.
            def loss_gradient_by_differences(params, X, y, bn_params, key, h=1e-6):
                grad = np.zeros_like(params[key])
                for i in np.ndindex(grad.shape):
                    old = params[key][i]
                    params[key][i] = old + h
                    plus, _ = deep_net_loss(params, X, y, bn_params)
                    params[key][i] = old - h
                    minus, _ = deep_net_loss(params, X, y, bn_params)
                    params[key][i] = old
                    grad[i] = (plus - minus) / (2 * h)
                return grad

            rng_t = np.random.default_rng(21)
            X_t, y_t = rng_t.normal(size=(8, 5)), rng_t.integers(3, size=8)
            for with_bn in (False, True):
                dims = [5, 6, 4, 3]
                p_t = {}
                for l in range(1, 4):
                    p_t[f"W{l}"] = rng_t.normal(size=(dims[l - 1], dims[l])) / np.sqrt(dims[l - 1])
                    p_t[f"b{l}"] = 0.1 * rng_t.normal(size=dims[l])
                    if with_bn and l < 3:
                        p_t[f"gamma{l}"] = 1 + 0.3 * rng_t.normal(size=dims[l])
                        p_t[f"beta{l}"] = 0.2 * rng_t.normal(size=dims[l])
                bn_t = [{"mode": "train"}, {"mode": "train"}] if with_bn else None
                loss_t, grads_t = deep_net_loss(p_t, X_t, y_t, bn_t)
                assert np.ndim(loss_t) == 0 and np.isfinite(loss_t), f"the loss should be one finite number, got {loss_t}"
                assert set(grads_t) == set(p_t), f"grads should have the keys {sorted(p_t)}, got {sorted(grads_t)}"
                for key in p_t:
                    num = loss_gradient_by_differences(p_t, X_t, y_t, bn_t, key)
                    # (With batchnorm the true gradient of b1 and b2 is 0: the batch mean removes them.)
                    assert np.allclose(grads_t[key], num, rtol=1e-5, atol=1e-8), (
                        f"{'with' if with_bn else 'without'} batchnorm, grads[{key!r}] disagrees with finite "
                        f"differences by up to {np.max(np.abs(grads_t[key] - num)):.2e}")
                scores_t = deep_net_loss(p_t, X_t, None, bn_t)
                assert np.shape(scores_t) == (8, 3), f"with y=None return the scores (8, 3), got shape {np.shape(scores_t)}"
            print("Visible deep_net_loss tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("deep_net_loss")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 6. Training the network (3 points)

            `train_net(X, y, hidden_dims, use_batchnorm, learning_rate, weight_scale, num_iters,
            batch_size, seed=0)` builds and trains the network by mini-batch gradient descent:

            1. `rng = np.random.default_rng(seed)`; layer sizes `[D] + hidden_dims + [C]` with
               `C = y.max() + 1`; `W{l} = weight_scale * rng.standard_normal((fan_in, fan_out))`,
               zero biases, and with batchnorm `gamma{l}` ones and `beta{l}` zeros;
            2. `bn_params` is a list of `{"mode": "train"}` dicts, one per hidden layer, with
               batchnorm, else `None`;
            3. each iteration draws `rng.choice(N, batch_size)`, calls `deep_net_loss`, records
               the loss and steps every parameter by `- learning_rate * grad`.

            Return `(params, bn_params, loss_history)`. After training, `bn_params` holds the
            running statistics; to predict, set every `mode` to `"test"`, as `predict` below does.
            ''')),
        solution("train_net", lines('''
            def train_net(X, y, hidden_dims, use_batchnorm, learning_rate, weight_scale, num_iters,
                          batch_size, seed=0):
                """Train deep_net_loss's network with mini-batch gradient descent.

                Returns (params, bn_params, loss_history): the trained parameters, the list of
                batchnorm dicts with their running statistics (None without batchnorm), and the
                (num_iters,) batch losses.
                """
                ### BEGIN SOLUTION
                rng = np.random.default_rng(seed)
                dims = [X.shape[1]] + list(hidden_dims) + [int(np.max(y)) + 1]
                params = {}
                for l in range(1, len(dims)):
                    params[f"W{l}"] = weight_scale * rng.standard_normal((dims[l - 1], dims[l]))
                    params[f"b{l}"] = np.zeros(dims[l])
                    if use_batchnorm and l < len(dims) - 1:
                        params[f"gamma{l}"] = np.ones(dims[l])
                        params[f"beta{l}"] = np.zeros(dims[l])
                bn_params = [{"mode": "train"} for _ in hidden_dims] if use_batchnorm else None
                loss_history = np.zeros(num_iters)
                for it in range(num_iters):
                    batch = rng.choice(X.shape[0], batch_size)
                    loss, grads = deep_net_loss(params, X[batch], y[batch], bn_params)
                    loss_history[it] = loss
                    for key in params:
                        params[key] = params[key] - learning_rate * grads[key]
                return params, bn_params, loss_history
                ### END SOLUTION
            ''')),
        readonly("predict_helper", lines('''
            def predict(params, bn_params, X):
                """Class predictions of a trained network, batchnorm in test mode."""
                test_bn = None if bn_params is None else [dict(p, mode="test") for p in bn_params]
                return np.argmax(deep_net_loss(params, X, None, test_bn), axis=1)
            ''')),
        tests("test_train_net", 3, lines('''
            # Visible tests for train_net, on the first 300 training digits.
            for with_bn, scale in ((True, 0.01), (False, 0.2)):
                p_t, bn_t, hist_t = train_net(X_train[:300], y_train[:300], [32, 32], with_bn, 0.2, scale, 200, 50, seed=2)
                assert np.shape(hist_t) == (200,), f"loss_history should have one loss per iteration, got shape {np.shape(hist_t)}"
                assert np.all(np.isfinite(hist_t)), "the loss became NaN or inf"
                assert np.mean(hist_t[-20:]) < 0.5 * np.mean(hist_t[:20]), (
                    f"{'with' if with_bn else 'without'} batchnorm the loss should at least halve: first 20 average "
                    f"{np.mean(hist_t[:20]):.3f}, last 20 {np.mean(hist_t[-20:]):.3f}")
                if with_bn:
                    assert len(bn_t) == 2 and all("running_mean" in p for p in bn_t), \\
                        "bn_params should be one dict per hidden layer, holding the running statistics after training"
                acc_t = np.mean(predict(p_t, bn_t, X_val) == y_val)
                assert acc_t > 0.8, f"{'with' if with_bn else 'without'} batchnorm: validation accuracy {acc_t:.3f}, expected above 0.8"
            print("Visible train_net tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("train_net")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 7. What batchnorm changes

            Train networks with 4 hidden layers of 64 units, with and without batchnorm, over a
            grid of learning rates (say 0.05, 0.2, 1) and initial weight scales (say 0.01, 0.1,
            0.2, 1), 500 steps of batch 50 each, and print the validation accuracy of every run
            as two tables. A run takes a fraction of a second.
            ''')),
        solution("experiment_grid", lines('''
            # experiment: learning rate x weight scale, with and without batchnorm (not run by the grader)
            grid = {}          # (use_batchnorm, learning_rate, weight_scale) -> validation accuracy
            ### BEGIN SOLUTION
            rates, scales = [0.05, 0.2, 1.0], [0.01, 0.1, 0.2, 1.0]
            for with_bn in (False, True):
                for lr in rates:
                    for scale in scales:
                        with np.errstate(all="ignore"):
                            p_run, bn_run, _ = train_net(X_train, y_train, [64] * 4, with_bn, lr, scale, 500, 50)
                            grid[(with_bn, lr, scale)] = np.mean(predict(p_run, bn_run, X_val) == y_val)
            for with_bn in (False, True):
                print(("with" if with_bn else "without") + " batchnorm; rows: learning rate, columns: weight scale")
                print("        " + "".join(f"{s:>8g}" for s in scales))
                for lr in rates:
                    print(f"{lr:>8g}" + "".join(f"{grid[(with_bn, lr, s)]:8.3f}" for s in scales))
            ### END SOLUTION
            ''')),
        markdown(lines('''
            Now vary the batch size with batchnorm and without: 2, 4, 8, 32 and 128, scaling the
            learning rate with the batch size (`0.05 * batch_size / 32`) and the number of steps
            so that every run sees the same number of examples (16,000). Plot validation accuracy
            against batch size (log scale), one curve with batchnorm and one without.
            ''')),
        solution("experiment_batch_size", lines('''
            # experiment: batch size (not run by the grader)
            import matplotlib.pyplot as plt
            ### BEGIN SOLUTION
            sizes = [2, 4, 8, 32, 128]
            fig, ax = plt.subplots(figsize=(7, 4))
            for with_bn in (False, True):
                accs = []
                for bs in sizes:
                    with np.errstate(all="ignore"):
                        p_run, bn_run, _ = train_net(X_train, y_train, [64] * 4, with_bn, 0.05 * bs / 32, 0.2,
                                                     16000 // bs, bs)
                    accs.append(np.mean(predict(p_run, bn_run, X_val) == y_val))
                ax.plot(sizes, accs, "o-", label="with batchnorm" if with_bn else "without batchnorm")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("batch size")
            ax.set_ylabel("accuracy on the validation digits")
            ax.legend()
            plt.show()
            ### END SOLUTION
            ''')),
        markdown(lines('''
            Choose your final network below: any hidden sizes, with or without batchnorm. The
            grader calls `train_final_net(X_train, y_train)` (the provided cell after it) in a
            sandbox with a 10-second limit (stay under 5 seconds here), and measures the result
            on the held-out test images with `predict`'s test mode.
            ''')),
        solution("best_network", lines('''
            ### BEGIN SOLUTION
            BEST = {"hidden_dims": [64, 64, 64], "use_batchnorm": True, "learning_rate": 0.2,
                    "weight_scale": 0.1, "num_iters": 300, "batch_size": 50}
            ### END SOLUTION
            ''')),
        readonly("train_final_helper", lines('''
            def train_final_net(X, y):
                """Your final network: train_net with the settings in BEST and seed 0."""
                if "BEST" not in globals():
                    raise NotImplementedError("set BEST in the cell above first")
                return train_net(X, y, seed=0, **BEST)
            ''')),
        tests("test_final_network", 3, lines(f'''
            # Visible check of your final network (the grader uses the 400 test images instead).
            p_final, bn_final, hist_final = train_final_net(X_train, y_train)
            val_final = np.mean(predict(p_final, bn_final, X_val) == y_val)
            assert val_final >= {t - 0.01:.2f}, (
                f"validation accuracy {{val_final:.3f}}: the test threshold is {t:.2f}, so aim above it")
            print(f"passed: validation accuracy of your final network {{val_final:.3f}}")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("train_final_net")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 8. Reading your experiment (2 + 2 points, graded by hand)

            **(a)** In your grid, which settings train only with batchnorm? Explain, layer by
            layer, what happens to the activations of the network without batchnorm at weight
            scale 0.01 and at 1, and why batchnorm makes the result almost independent of the
            weight scale.
            ''')),
        answer("q_bn_grid", 2, lines('''
            **Rubric (2 points).** 1 point: reads the tables correctly: without batchnorm only a
            narrow band trains (scale about 0.1 to 0.2 with a moderate rate); scale 0.01 and 1, and
            rate 1, fail (chance, about 10%, or NaN), while with batchnorm nearly every cell reaches
            about 95-98%. 1 point: the mechanism: each layer multiplies the activations' scale by
            about weight_scale * sqrt(fan_in) / sqrt(2) (64 inputs, relu), so at 0.01 the signal
            (and the gradient) shrinks by about 20x per layer and at 1 grows by about 6x per layer;
            batchnorm divides each feature by its batch standard deviation, so the scale of W
            cancels in the forward pass and the gradient of W scales inversely with it.
            ''')),
        markdown(lines('''
            **(b)** What happened at the smallest batch sizes with batchnorm, and why? Give two
            reasons, one about training and one about the switch to test mode.
            ''')),
        answer("q_bn_batch_size", 2, lines('''
            **Rubric (2 points).** 1 point: with batchnorm the accuracy drops sharply at batch 2
            (and somewhat at 4) while the plain network is unaffected. 1 point for two reasons:
            (training) a mean and variance from 2 examples are very noisy, and with N = 2 every
            normalised feature is exactly -1 or +1, so the layer throws away most of the
            information; (test mode) the running averages of such noisy batch statistics do not
            match the statistics the network was trained with, so test-mode outputs differ from
            training-mode ones. Half a point for one reason only.
            ''')),
        markdown(lines('''
            ## Optional challenge (not graded)

            Put batchnorm *after* the relu instead of before it, or replace it with layer
            normalization (normalise each example over its features instead of each feature over
            the batch), and rerun the batch-size experiment. Which of the two problems of small
            batches does layer normalization remove?
            ''')),
    ]


# ---------------------------------------------------------------------------- 04-vanishing-gradients

def vanishing():
    t = ex.DEEP_TEST_ACCURACY
    return "about 4 hours: 1 hour 30 for the three functions, 2 hours 30 for the experiment part.", [
        markdown(lines(f'''
            ## Part 2: watching gradients while a deep network learns real digits

            The measurements above were taken once, at initialisation, on random data. Now you
            train deep networks on real data, 8x8 grey-scale images of the digits 0 to 9 (64
            pixels in [0, 1]), and record every layer's gradient norm at every step. You train on
            1,000 images and look at 397 validation images; the grader measures on 400 test
            images this notebook never sees.

            Points: `init_weights` (2, automatic), `train_deep` (4, automatic: the grader checks
            your steps exactly on a tiny problem, then trains a ReLU network with He weights on
            the digits, which must classify at least {t:.0%} of the test images), two written
            answers (2 + 2, graded by hand). {GRADER_NOTE}
            ''')),
        readonly("load_digits_data", DATA),
        markdown(lines('''
            ## 5. Initial weights (2 points)

            `init_weights(sizes, scheme, seed=0)` returns the list of weight matrices of a
            network with layer sizes `sizes = [D, H1, ..., C]`: matrix `l` has shape
            `(sizes[l], sizes[l + 1])`, and its entries are drawn from a normal distribution
            with mean 0 and standard deviation

            - `"normal"`: 1;
            - `"xavier"`: $1 / \\sqrt{\\text{fan\\_in}}$ (variance $1 / \\text{fan\\_in}$, the
              fan-in form of Glorot and Bengio's rule);
            - `"he"`: $\\sqrt{2 / \\text{fan\\_in}}$,

            where fan_in = `sizes[l]`, the number of inputs of each unit. Draw everything from
            `np.random.default_rng(seed)`, one matrix after the other.
            ''')),
        solution("init_weights", lines('''
            def init_weights(sizes, scheme, seed=0):
                \"\"\"Weight matrices [W1 (sizes[0], sizes[1]), ...] drawn for the given scheme.

                Inputs:
                - sizes: list of layer sizes [D, H1, ..., C]
                - scheme: "normal" (std 1), "xavier" (std 1 / sqrt(fan_in)) or "he" (std sqrt(2 / fan_in))
                - seed: int

                Returns a list of len(sizes) - 1 arrays.
                \"\"\"
                ### BEGIN SOLUTION
                rng = np.random.default_rng(seed)
                weights = []
                for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                    std = {"normal": 1.0, "xavier": 1.0 / np.sqrt(fan_in), "he": np.sqrt(2.0 / fan_in)}[scheme]
                    weights.append(std * rng.standard_normal((fan_in, fan_out)))
                return weights
                ### END SOLUTION
            ''')),
        tests("test_init_weights", 2, lines('''
            # Visible tests for init_weights
            ws_t = init_weights([100, 400, 50], "he", seed=3)
            assert [np.shape(w) for w in ws_t] == [(100, 400), (400, 50)], \\
                f"shapes should be [(100, 400), (400, 50)], got {[np.shape(w) for w in ws_t]}"
            for w, fan_in in zip(ws_t, (100, 400)):
                want = np.sqrt(2 / fan_in)
                assert abs(np.std(w) / want - 1) < 0.05, \\
                    f"'he' weights with fan_in {fan_in}: standard deviation {np.std(w):.4f}, expected {want:.4f}"
            w_x = init_weights([256, 64], "xavier")[0]
            assert abs(np.std(w_x) * 16 - 1) < 0.05, f"'xavier' with fan_in 256: std {np.std(w_x):.4f}, expected 1/16"
            w_n = init_weights([256, 64], "normal")[0]
            assert abs(np.std(w_n) - 1) < 0.05, f"'normal': std {np.std(w_n):.4f}, expected 1"
            assert np.array_equal(init_weights([5, 3], "he", 7)[0], init_weights([5, 3], "he", 7)[0]), \\
                "the same seed should give the same weights"
            print("Visible init_weights tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("init_weights")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 6. Training, and recording the gradient norms (4 points)

            `train_deep(weights, X, y, activation, learning_rate, num_iters, batch_size, seed=0)`
            trains the network of section 3 (no biases; `activation` after every layer but the
            last; mean softmax cross-entropy) by mini-batch gradient descent, starting from a
            copy of `weights` (do not modify the list or its arrays). With
            `rng = np.random.default_rng(seed)`, each iteration `t` draws
            `rng.choice(N, batch_size)`, computes the batch loss and the gradients
            `dW_1, ..., dW_L`, records the loss in `loss_history[t]` and the norms
            `||dW_l||` in row `t` of `norm_history`, and then steps every
            `W_l -= learning_rate * dW_l`.

            You need the gradients themselves, not only their norms: write a helper that returns
            them (your `layer_gradient_norms` already computes them on the way).
            Return `(weights, norm_history, loss_history)`: the trained list, an array
            `(num_iters, L)` and an array `(num_iters,)`.
            ''')),
        solution("train_deep", lines('''
            def train_deep(weights, X, y, activation, learning_rate, num_iters, batch_size, seed=0):
                \"\"\"Mini-batch gradient descent on the bias-free network, recording gradient norms.

                Returns (weights, norm_history, loss_history): the trained list of L matrices,
                (num_iters, L) the norms ||dW_l|| at each step, (num_iters,) the batch losses.
                \"\"\"
                ### BEGIN SOLUTION
                act = {"sigmoid": lambda a: np.exp(-np.logaddexp(0.0, -a)), "tanh": np.tanh,
                       "relu": lambda a: np.maximum(a, 0.0)}[activation]

                def gradients(ws, Xb, yb):
                    hs, pre = [Xb], []
                    for W in ws[:-1]:
                        pre.append(hs[-1] @ W)
                        hs.append(act(pre[-1]))
                    scores = hs[-1] @ ws[-1]
                    n = Xb.shape[0]
                    shifted = scores - scores.max(axis=1, keepdims=True)
                    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                    loss = -np.mean(log_p[np.arange(n), yb])
                    delta = np.exp(log_p)
                    delta[np.arange(n), yb] -= 1.0
                    delta /= n
                    grads = [None] * len(ws)
                    for l in range(len(ws) - 1, -1, -1):
                        grads[l] = hs[l].T @ delta
                        if l > 0:
                            dh = delta @ ws[l].T
                            if activation == "sigmoid":
                                delta = dh * sigmoid_grad(pre[l - 1])
                            elif activation == "tanh":
                                delta = dh * (1.0 - hs[l] ** 2)
                            else:
                                delta = dh * relu_grad(pre[l - 1])
                    return loss, grads

                rng = np.random.default_rng(seed)
                ws = [np.array(W, dtype=float) for W in weights]
                norm_history = np.zeros((num_iters, len(ws)))
                loss_history = np.zeros(num_iters)
                for t in range(num_iters):
                    batch = rng.choice(X.shape[0], batch_size)
                    loss_history[t], grads = gradients(ws, X[batch], y[batch])
                    norm_history[t] = [np.linalg.norm(g) for g in grads]
                    ws = [W - learning_rate * g for W, g in zip(ws, grads)]
                return ws, norm_history, loss_history
                ### END SOLUTION
            ''')),
        tests("test_train_deep", 4, lines('''
            # Visible tests for train_deep
            rng_t = np.random.default_rng(8)
            w0 = [rng_t.normal(size=(4, 5)) * 0.5, rng_t.normal(size=(5, 3)) * 0.5]
            saved = [w.copy() for w in w0]
            X_same = np.repeat(rng_t.normal(size=(1, 4)), 6, axis=0)      # every batch is the same
            y_same = np.full(6, 2)
            w_t, n_t, l_t = train_deep(w0, X_same, y_same, "tanh", 0.0, 3, 4)
            assert all(np.array_equal(a, b) for a, b in zip(w0, saved)), "train_deep changed the weights it was given: work on copies"
            assert np.shape(n_t) == (3, 2) and np.shape(l_t) == (3,), \\
                f"norm_history should be (num_iters, L) = (3, 2) and loss_history (3,), got {np.shape(n_t)} and {np.shape(l_t)}"
            expect_close(n_t[0], layer_gradient_norms(w0, X_same[:1], y_same[:1], "tanh"),
                         "with learning rate 0 and identical rows, every row of norm_history should equal layer_gradient_norms", rtol=1e-6)
            assert all(np.array_equal(a, b) for a, b in zip(w_t, w0)), "with learning rate 0 the weights should not move"
            w_t, n_t, l_t = train_deep(init_weights([64, 32, 32, 10], "he", 0), X_train[:300], y_train[:300], "relu", 0.1, 150, 50)
            assert np.mean(l_t[-15:]) < 0.5 * np.mean(l_t[:15]), (
                f"the loss should at least halve on 300 digits: first 15 average {np.mean(l_t[:15]):.3f}, last 15 {np.mean(l_t[-15:]):.3f}")
            print("Visible train_deep tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("train_deep")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 7. Three networks during training

            Train three networks with 5 hidden layers of 64 units on the training digits, 600
            steps of batch 50 at learning rate 0.1: sigmoid with `"normal"` weights, sigmoid
            with `"xavier"` weights, and ReLU with `"he"` weights. For each, plot the gradient
            norm of every layer against the step (log scale, one curve per layer), and print
            the validation accuracy.
            ''')),
        solution("experiment_norms", lines('''
            # experiment: per-layer gradient norms during training (not run by the grader)
            import matplotlib.pyplot as plt
            setups = [("sigmoid", "normal"), ("sigmoid", "xavier"), ("relu", "he")]
            trained = {}
            ### BEGIN SOLUTION
            def hidden_activations(ws, X, activation):
                act = {"sigmoid": lambda a: np.exp(-np.logaddexp(0.0, -a)),
                       "relu": lambda a: np.maximum(a, 0.0)}[activation]
                h, out = X, []
                for W in ws[:-1]:
                    h = act(h @ W)
                    out.append(h)
                return out

            def network_scores(ws, X, activation):
                return hidden_activations(ws, X, activation)[-1] @ ws[-1]

            sizes = [64] + [64] * 5 + [10]
            fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharey=True)
            for ax, (activation, scheme) in zip(axes, setups):
                w_start = init_weights(sizes, scheme, seed=0)
                w_end, norms, losses = train_deep(w_start, X_train, y_train, activation, 0.1, 600, 50)
                trained[(activation, scheme)] = (w_start, w_end)
                for l in range(norms.shape[1]):
                    ax.plot(norms[:, l], lw=0.7, label=f"layer {l + 1}")
                ax.set_yscale("log")
                ax.set_title(f"{activation}, {scheme} weights")
                ax.set_xlabel("step")
                acc = np.mean(np.argmax(network_scores(w_end, X_val, activation), axis=1) == y_val)
                print(f"{activation:8s} {scheme:7s} validation accuracy {acc:.3f}, "
                      f"first/last layer norm at the start {norms[0, 0] / norms[0, -1]:.2e}")
            axes[0].set_ylabel("gradient norm")
            axes[-1].legend(fontsize=7)
            plt.show()
            ### END SOLUTION
            ''')),
        markdown(lines('''
            Now look inside: for each of the three networks, draw histograms of the activations
            $h_l$ of every hidden layer on the validation images, at initialisation and after
            training (two rows of histograms per network, or overlaid). Look for saturated
            sigmoids (values piled up at 0 or 1), activations stuck near 0.5, and dead ReLUs.
            ''')),
        solution("experiment_histograms", lines('''
            # experiment: activation histograms before and after training (not run by the grader)
            ### BEGIN SOLUTION
            fig, axes = plt.subplots(3, 2, figsize=(11, 8))
            for row, (activation, scheme) in zip(axes, setups):
                for ax, when, ws in zip(row, ("at initialisation", "after training"), trained[(activation, scheme)]):
                    for l, h in enumerate(hidden_activations(ws, X_val, activation)):
                        ax.hist(h.ravel(), bins=40, histtype="step", label=f"h{l + 1}")
                    ax.set_title(f"{activation}, {scheme}: {when}", fontsize=9)
            axes[0, 1].legend(fontsize=7)
            fig.tight_layout()
            plt.show()
            ### END SOLUTION
            ''')),
        markdown(lines('''
            ## 8. Reading your experiment (2 + 2 points, graded by hand)

            **(a)** Compare the three plots of gradient norms. In which network do the early
            layers get gradients hundreds of times smaller than the last layer, and does that
            change during training? Explain the factor per layer from $\\sigma'(a) \\le 1/4$ and
            the scale of the weights, and say why the sigmoid network with $N(0, 1)$ weights does
            not suffer the same way on these inputs, although the chapter warns about large weights.
            ''')),
        answer("q_norms_training", 2, lines('''
            **Rubric (2 points).** 1 point: identifies the sigmoid network with xavier weights:
            the first layer's gradient is about 1e-3 of the last layer's and stays that small,
            so it does not learn (validation accuracy near chance, about 10%), while ReLU with He
            keeps every layer within a factor of about 2 and reaches about 97%. 1 point: each
            layer multiplies the backward signal by W^T and sigma'(a) <= 1/4; with std 1/sqrt(64)
            the product of W^T with a 64-vector keeps its size, so each layer divides it by 4 or
            more (about 4^5 = 1000 over five layers). With N(0, 1) weights, the matrix product
            multiplies by about sqrt(64) = 8, which compensates the 1/4 for units that are not
            saturated: the inputs are sparse pixels in [0, 1], so many pre-activations stay
            moderate; the danger is saturation (sigma' near 0), which the histograms show.
            ''')),
        markdown(lines('''
            **(b)** What do your histograms show for each network, before and after training?
            Name one sign of each failure mode (saturation, vanishing signal, dead units) or say
            that you did not see it, and tie it to what you saw in (a).
            ''')),
        answer("q_histograms", 2, lines('''
            **Rubric (2 points).** 1 point: describes the three: sigmoid/xavier activations
            bunched near 0.5 in every layer (the signal vanishes towards the output, the
            gradient towards the input); sigmoid/normal activations spread out with many at 0
            or 1 (saturated units whose sigma' is nearly 0); ReLU/He a spike at 0 (about half the
            units off for a given image) and a spread of positive values that keeps its scale
            from layer to layer. 1 point: ties them to (a): values near 0.5 mean sigma' near 1/4
            everywhere, so the backward factor per layer is the 1/4 times the weight scale;
            saturation removes gradient for those units; ReLU passes gradient through the active
            half unchanged, and He's factor 2 compensates the half that is off.
            ''')),
        markdown(lines('''
            ## Optional challenge (not graded)

            Deepen the sigmoid/xavier network to 10 hidden layers and find the smallest weight
            scale multiplier at which the first layer starts to learn. Then add a residual
            connection to each hidden layer (`h_l = h_{l-1} + act(h_{l-1} W_l)`) and see what
            happens to the gradient norms.
            ''')),
    ]


# ---------------------------------------------------------------------------- 01-softmax

LEAST_SQUARES = lines('''
    # A classifier that was never trained to give probabilities: least squares on one-hot targets.
    ones = lambda X: np.hstack([X, np.ones((len(X), 1))])              # a bias column
    W_ls = np.linalg.lstsq(ones(X_train), np.eye(10)[y_train], rcond=None)[0]   # (65, 10)
    z_train, z_val = ones(X_train) @ W_ls, ones(X_val) @ W_ls           # scores (N, 10)
    print(f"validation accuracy of the least-squares classifier: {np.mean(z_val.argmax(axis=1) == y_val):.3f}")
''')


def softmax_part():
    t = ex.TEMPERATURE_TEST_NLL
    return "about 2 hours 30: 1 hour 30 for the three functions, 1 hour for the experiment part.", [
        markdown(lines(f'''
            ## Part 2: the temperature of a real classifier's probabilities

            Softmax turns any scores into probabilities, but are they *good* probabilities? Here
            the scores come from a classifier of real handwritten digits (8x8 images, 64 pixels
            in [0, 1]) fitted by least squares, a method that never aimed at probabilities. You
            will measure how wrong `softmax(z)` is as a probability, and fix it with one number,
            a temperature `T`: `softmax(z / T)`, chosen on the 397 validation images. The grader
            measures your `T` on 400 test images this notebook never sees.

            Points: `mean_nll` (2, automatic), `fit_temperature` (3, automatic: its choice must
            give a mean negative log-likelihood of at most {t} on the test images), one written
            answer (2, graded by hand). {GRADER_NOTE}
            ''')),
        readonly("load_digits_data", DATA),
        readonly("least_squares_classifier", LEAST_SQUARES),
        markdown(lines('''
            ## 5. The negative log-likelihood at a temperature (2 points)

            `mean_nll(z, y, T=1.0)` returns the mean over the batch of
            $-\\log \\mathrm{softmax}(z_n / T)_{y_n}$ for scores `z` of shape `(N, C)` and integer
            labels `y` of shape `(N,)`: a single number. Use your `log_softmax`, so that it is
            exact even when `z / T` is in the thousands.
            ''')),
        solution("mean_nll", lines('''
            def mean_nll(z, y, T=1.0):
                \"\"\"Mean negative log-likelihood of the labels under softmax(z / T).

                Inputs:
                - z: (N, C) scores; y: (N,) integer labels in 0 .. C-1; T: float > 0

                Returns a float.
                \"\"\"
                ### BEGIN SOLUTION
                log_p = log_softmax(np.asarray(z, dtype=float) / T, axis=1)
                return float(-np.mean(log_p[np.arange(len(y)), y]))
                ### END SOLUTION
            ''')),
        tests("test_mean_nll", 2, lines('''
            # Visible tests for mean_nll
            expect_close(mean_nll(np.array([[1.0, 5.0, 3.0]]), np.array([1])), -np.log(0.86681333), "mean_nll of scores [1, 5, 3], label 1", rtol=1e-6)
            expect_close(mean_nll(np.zeros((4, 5)), np.array([0, 1, 2, 3])), np.log(5), "equal scores over 5 classes cost ln 5")
            z_t = np.array([[2.0, 0.0], [0.0, 1.0]])
            expect_close(mean_nll(z_t, np.array([0, 1]), T=2.0), mean_nll(z_t / 2, np.array([0, 1])), "T = 2 should divide the scores by 2")
            expect_close(mean_nll(np.array([[1000.0, 0.0]]), np.array([1]), T=0.5), 2000.0, "mean_nll([[1000, 0]], [1], T=0.5) is 2000, finite")
            print("Visible mean_nll tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("mean_nll")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 6. Fitting the temperature (3 points)

            `fit_temperature(z, y, temperatures)` returns the temperature in the list
            `temperatures` at which `mean_nll(z, y, T)` is lowest (the first one if several tie).
            The grader calls it on the validation scores `z_val, y_val` with the grid
            `np.geomspace(0.01, 10, 61)`, then measures the returned `T` on the test images.
            ''')),
        solution("fit_temperature", lines('''
            def fit_temperature(z, y, temperatures):
                \"\"\"The temperature in `temperatures` with the lowest mean_nll(z, y, T).\"\"\"
                ### BEGIN SOLUTION
                losses = [mean_nll(z, y, T) for T in temperatures]
                return temperatures[int(np.argmin(losses))]
                ### END SOLUTION
            ''')),
        tests("test_fit_temperature", 3, lines('''
            # Visible tests for fit_temperature
            T_t = fit_temperature(np.array([[3.0, 0.0], [0.0, 3.0], [3.0, 0.0]]), np.array([0, 1, 1]), [0.5, 1.0, 2.0, 4.0])
            assert T_t == 4.0, f"one of three confident answers is wrong: the flattest grid point, T = 4, has the lowest NLL, not {T_t}"
            T_val = fit_temperature(z_val, y_val, np.geomspace(0.01, 10, 61))
            nll_1, nll_T = mean_nll(z_val, y_val, 1.0), mean_nll(z_val, y_val, T_val)
            assert nll_T < nll_1, (f"the fitted T = {T_val:.3g} should beat T = 1 on the validation set "
                                   f"(mean NLL {nll_T:.3f} against {nll_1:.3f})")
            print(f"passed: fitted temperature {T_val:.4g}: mean NLL {nll_1:.3f} at T = 1, "
                  f"{nll_T:.3f} at T = {T_val:.3g}")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("fit_temperature")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 7. What the temperature changes

            Plot, against `T` on a log axis from 0.01 to 10, the validation NLL and the
            validation accuracy of `softmax(z_val / T)` (two panels). Mark your fitted `T` and
            `T = 1`. Then print the mean top probability at `T = 1` and at your `T`, next to
            the validation accuracy.
            ''')),
        solution("experiment_temperature", lines('''
            # experiment: NLL and accuracy against the temperature (not run by the grader)
            import matplotlib.pyplot as plt
            ### BEGIN SOLUTION
            grid = np.geomspace(0.01, 10, 61)
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
            ax1.plot(grid, [mean_nll(z_val, y_val, T) for T in grid])
            ax2.plot(grid, [np.mean(np.argmax(z_val / T, axis=1) == y_val) for T in grid])
            for ax, label in ((ax1, "validation NLL"), (ax2, "validation accuracy")):
                ax.axvline(T_val, color="k", ls="--", lw=0.8)
                ax.axvline(1.0, color="grey", ls=":", lw=0.8)
                ax.set_xscale("log")
                ax.set_xlabel("temperature T (log scale)")
                ax.set_ylabel(label)
            plt.show()
            for T in (1.0, T_val):
                print(f"T = {T:.3g}: mean top probability {softmax(z_val / T, axis=1).max(axis=1).mean():.3f}, "
                      f"accuracy {np.mean(z_val.argmax(axis=1) == y_val):.3f}")
            ### END SOLUTION
            ''')),
        markdown(lines('''
            ## 8. Reading your experiment (2 points, graded by hand)

            Why does the accuracy not change with `T` at all? Was `softmax(z_val)` over- or
            under-confident at `T = 1`, and why would least-squares scores be on that scale
            (what values do they aim at)? What does your fitted `T` do to them, and why is the
            NLL, not the accuracy, the right criterion for choosing it?
            ''')),
        answer("q_calibration_temperature", 2, lines('''
            **Rubric (2 points).** 1 point: dividing every score of an example by the same T > 0
            keeps their order, so the arg-max and the accuracy are unchanged; at T = 1 the
            probabilities are far too flat (mean top probability around 0.2 while about 91% of
            answers are right: underconfident), because least squares fits scores to the one-hot
            targets 0 and 1, so the scores of an image differ by less than about 1 and softmax
            of such scores is nearly uniform. 1 point: a small T (about 0.08) multiplies the
            scores by about 12, sharpening the probabilities until the confidence matches the
            accuracy; the NLL rewards exactly that (it is a proper scoring rule: lowest when the
            probabilities are honest), while the accuracy cannot see the probabilities at all.
            ''')),
        markdown(lines('''
            ## Optional challenge (not graded)

            Replace the grid by a real minimisation: the derivative of `mean_nll` with respect to
            `1 / T` has a closed form from section 3 (the Jacobian). Write it, check it with
            finite differences, and find `T` by Newton's method in a few steps.
            ''')),
    ]


# ---------------------------------------------------------------------------- 02-cross-entropy

NEAREST_MEAN = lines('''
    # A simple classifier: the score of class c is minus the squared distance to c's mean image.
    class_means = np.stack([X_train[y_train == c].mean(axis=0) for c in range(10)])      # (10, 64)
    def nearest_mean_scores(X):
        return -((X[:, None, :] - class_means[None, :, :]) ** 2).sum(axis=-1)           # (N, 10)
    z_val = nearest_mean_scores(X_val)
    print(f"validation accuracy of the nearest-mean classifier: {np.mean(z_val.argmax(axis=1) == y_val):.3f}")
''')


def cross_entropy_part():
    t = ex.CALIBRATION_TEST_ECE
    return "about 2 hours 30: 1 hour 30 for the four functions, 1 hour for the experiment part.", [
        markdown(lines(f'''
            ## Part 2: are a classifier's probabilities calibrated?

            A model is *calibrated* when, among the answers it gives with probability 0.8, about
            80% are right. Here you measure that for a simple classifier of real handwritten
            digits (8x8 images, 64 pixels in [0, 1]): each class is scored by minus the squared
            distance to that class's mean image, and `softmax(z / T)` turns the scores into
            probabilities. You choose the temperature `T` on the 397 validation images; the
            grader measures it on 400 test images this notebook never sees.

            Points: `expected_calibration_error` (3, automatic), your temperature's test
            calibration error (2, automatic: an ECE of at most {t} with 10 bins), one written
            answer (2, graded by hand). {GRADER_NOTE}
            ''')),
        readonly("load_digits_data", DATA),
        readonly("nearest_mean_classifier", NEAREST_MEAN),
        markdown(lines('''
            ## 6. The expected calibration error (3 points)

            `expected_calibration_error(probs, y, n_bins=10)` takes predicted distributions
            `probs` `(N, C)` and labels `y` `(N,)`. For each example, its *confidence* is its top
            probability and it is *correct* when the arg-max equals the label. Put the examples
            into `n_bins` equal-width bins of confidence: bin `b` holds confidences in
            `[b / n_bins, (b + 1) / n_bins)`, and the last bin also holds 1. Return
            `(ece, confidence, accuracy, counts)`: per bin the mean confidence, the fraction
            correct and the number of examples (`0, 0, 0` for an empty bin), and

            $$\\mathrm{ECE} = \\sum_b \\frac{n_b}{N} \\left| \\mathrm{accuracy}_b - \\mathrm{confidence}_b \\right|.$$
            ''')),
        solution("expected_calibration_error", lines('''
            def expected_calibration_error(probs, y, n_bins=10):
                \"\"\"Calibration of predicted distributions against labels, with equal-width bins.

                Inputs:
                - probs: (N, C) predicted distributions; y: (N,) integer labels; n_bins: int

                Returns (ece, confidence, accuracy, counts): a float and three (n_bins,) arrays.
                \"\"\"
                ### BEGIN SOLUTION
                probs = np.asarray(probs, dtype=float)
                conf = probs.max(axis=1)
                correct = (probs.argmax(axis=1) == y).astype(float)
                bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
                counts = np.bincount(bins, minlength=n_bins).astype(float)
                confidence = np.bincount(bins, conf, minlength=n_bins) / np.maximum(counts, 1)
                accuracy = np.bincount(bins, correct, minlength=n_bins) / np.maximum(counts, 1)
                ece = float(np.sum(counts / len(y) * np.abs(accuracy - confidence)))
                return ece, confidence, accuracy, counts
                ### END SOLUTION
            ''')),
        tests("test_expected_calibration_error", 3, lines('''
            # Visible tests for expected_calibration_error
            probs_t = np.array([[0.9, 0.1], [0.8, 0.2], [0.35, 0.65], [0.45, 0.55]])
            ece_t, conf_t, acc_t, n_t = expected_calibration_error(probs_t, np.array([0, 1, 1, 0]), n_bins=2)
            expect_close(n_t, [0.0, 4.0], "every top probability is at least 0.55, so all 4 examples fall in the second of 2 bins")
            expect_close(conf_t, [0.0, 0.725], "bin confidences (an empty bin has 0)")
            expect_close(acc_t, [0.0, 0.5], "bin accuracies: 2 of the 4 arg-maxes are right")
            expect_close(ece_t, 0.225, "ECE = (4 / 4) * |0.5 - 0.725|")
            ece_1, _, _, n_1 = expected_calibration_error(np.array([[1.0, 0.0, 0.0]]), np.array([0]), n_bins=10)
            expect_close(n_1, np.eye(10)[9], "a confidence of exactly 1 belongs to the last bin")
            expect_close(ece_1, 0.0, "a certain, correct prediction is perfectly calibrated")
            print("Visible expected_calibration_error tests passed.")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("expected_calibration_error")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 7. Reliability diagram and temperature

            For `T` on a grid from 0.1 to 5, compute the validation ECE and the validation
            cross-entropy (your `cross_entropy_with_logits(z_val / T, y_val)`), and plot both
            against `T`. Then draw the reliability diagram (bin accuracy against bin confidence,
            with the diagonal) at `T = 1` and at the `T` you choose.
            ''')),
        solution("experiment_reliability", lines('''
            # experiment: ECE and cross-entropy against T, and reliability diagrams (not run by the grader)
            import matplotlib.pyplot as plt
            ### BEGIN SOLUTION
            def probs_at(z, T):
                scaled = z / T
                unnormalised = np.exp(scaled - scaled.max(axis=1, keepdims=True))
                return unnormalised / unnormalised.sum(axis=1, keepdims=True)

            grid = np.geomspace(0.1, 5, 40)
            eces = [expected_calibration_error(probs_at(z_val, T), y_val)[0] for T in grid]
            ces = [cross_entropy_with_logits(z_val / T, y_val) for T in grid]
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
            ax1.plot(grid, eces, label="ECE")
            ax1.plot(grid, ces, label="cross-entropy")
            ax1.set_xscale("log")
            ax1.set_xlabel("temperature T (log scale)")
            ax1.legend()
            for T in (1.0, grid[int(np.argmin(eces))]):
                _, conf, acc, counts = expected_calibration_error(probs_at(z_val, T), y_val)
                used = counts > 0
                ax2.plot(conf[used], acc[used], "o-", label=f"T = {T:.2g}")
            ax2.plot([0, 1], [0, 1], "k:", lw=0.8)
            ax2.set_xlabel("confidence")
            ax2.set_ylabel("accuracy")
            ax2.legend()
            plt.show()
            print(f"lowest validation ECE at T = {grid[int(np.argmin(eces))]:.3g}, "
                  f"lowest cross-entropy at T = {grid[int(np.argmin(ces))]:.3g}")
            ### END SOLUTION
            ''')),
        markdown(lines('''
            Set `BEST_T` to the temperature you choose. The grader calls `chosen_temperature()`
            (the provided cell after it) and measures the ECE of `softmax(z_test / BEST_T)` on
            the held-out test images.
            ''')),
        solution("best_temperature", lines('''
            ### BEGIN SOLUTION
            BEST_T = 0.5
            ### END SOLUTION
            ''')),
        readonly("chosen_temperature_helper", lines('''
            def chosen_temperature():
                \"\"\"The temperature you chose (the grader calls this).\"\"\"
                if "BEST_T" not in globals():
                    raise NotImplementedError("set BEST_T in the cell above first")
                return float(BEST_T)
            ''')),
        tests("test_best_temperature", 2, lines('''
            # Visible check of BEST_T on the validation images (the grader uses the test images).
            T_mine = chosen_temperature()
            assert T_mine > 0, "the temperature must be positive"
            p_mine = np.exp(z_val / T_mine - (z_val / T_mine).max(axis=1, keepdims=True))
            p_mine /= p_mine.sum(axis=1, keepdims=True)
            ece_mine = expected_calibration_error(p_mine, y_val)[0]
            print(f"validation ECE at T = {T_mine:g}: {ece_mine:.3f}")
            ### BEGIN HIDDEN TESTS
            from autograder.checks import check
            check("chosen_temperature")
            ### END HIDDEN TESTS
            ''')),
        markdown(lines('''
            ## 8. Reading your experiment (2 points, graded by hand)

            Was the classifier over- or under-confident at `T = 1`, and how does the reliability
            diagram show it? Did the lowest ECE and the lowest cross-entropy fall at about the
            same `T`? Explain why minimising the cross-entropy tends to calibrate, using the
            decomposition $H(p, q) = H(p) + \\mathrm{KL}(p \\| q)$, and give one way in which the
            ECE can be misleading (think of the bins).
            ''')),
        answer("q_calibration", 2, lines('''
            **Rubric (2 points).** 1 point: at T = 1 the probabilities are underconfident (the
            reliability curve lies above the diagonal: accuracy higher than confidence) because
            squared distances between these images differ by only a few units; a T around 0.5
            sharpens them, and the ECE and cross-entropy minima lie close together (about 0.5
            and 0.5 to 0.6). 1 point: cross-entropy is minimised in expectation when q equals the
            true conditional distribution (KL(p || q) >= 0 with equality only at q = p), so a
            model that lowers it cannot stay systematically over- or under-confident; the ECE
            depends on the binning (few examples per bin at 400 images, bins that hide over- and
            under-confidence cancelling inside one bin, a constant predictor of the base rate
            has ECE 0 without being useful).
            ''')),
        markdown(lines('''
            ## Optional challenge (not graded)

            Calibrate with one temperature per class instead (vector scaling without the bias),
            fitted by minimising the validation cross-entropy with gradient descent. Does the
            test ECE improve, or does it overfit 397 images?
            ''')),
    ]


PARTS = {"01-softmax": softmax_part, "02-cross-entropy": cross_entropy_part,
         "03-backprop": backprop, "04-vanishing-gradients": vanishing, "05-batchnorm": batchnorm}


def tagged(cell, key):
    cell.id = f"experiment-part-{key}"          # stable ids: rewriting changes nothing else
    cell.metadata.setdefault("tags", [])
    if TAG not in cell.metadata["tags"]:
        cell.metadata["tags"].append(TAG)
    return cell


def rewrite(slug):
    path = ROOT / "solutions" / slug / f"{slug}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
    hours, cells = PARTS[slug]()
    nb.cells.insert(1, tagged(working_time(hours), "time"))
    nb.cells.extend(tagged(c, k) for k, c in enumerate(cells))
    nbformat.validate(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for slug in sys.argv[1:] or list(PARTS):
        rewrite(slug)
        print(f"wrote the experiment part of solutions/{slug}/{slug}.ipynb")
