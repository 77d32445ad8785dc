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
                ### BEGIN SOLUTION
                rng = np.random.default_rng(seed)
                N, D = X.shape
                C = int(np.max(y)) + 1
                W = 0.001 * rng.standard_normal((D, C))
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
            ax.set_xlabel("iteration")
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
            BEST = {"learning_rate": 1.0, "reg": 1e-4, "num_iters": 1000, "batch_size": 100}
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
            print(f"validation accuracy of your final model: {{val_final:.3f}}")
            assert val_final >= {t - 0.02:.2f}, (
                f"validation accuracy {{val_final:.3f}}: the test threshold is {t:.2f}, so aim well above it")
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


PARTS = {"03-backprop": backprop}


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
