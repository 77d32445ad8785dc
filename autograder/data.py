"""The course's real data set: the 8x8 handwritten digits that scikit-learn ships in its package.

1,797 grey-scale images of the digits 0-9 (UCI ML hand-written digits, 8x8 pixels, values
0-16), read from inside the installed scikit-learn, so nothing is downloaded at run time.
Pixels are scaled to [0, 1]; each image is one row of 64 features (row-major 8x8).

The split is fixed for everyone (the book, the exercises and the grader):

    order = np.random.default_rng(0).permutation(1797)
    train = order[:1000], val = order[1000:1397], test = order[1397:]  (400 images)

The exercise notebooks load train and validation only; the grader keeps the test split to
judge a student's trained model on images the notebook never uses.
"""
import numpy as np

SEED = 0
N_TRAIN, N_VAL = 1000, 397


def load_digits_split():
    """{"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}: X (N, 64) floats, y (N,) ints."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    parts = {"train": order[:N_TRAIN], "val": order[N_TRAIN:N_TRAIN + N_VAL],
             "test": order[N_TRAIN + N_VAL:]}
    out = {}
    for name, idx in parts.items():
        out[f"X_{name}"], out[f"y_{name}"] = X[idx], y[idx]
    return out
