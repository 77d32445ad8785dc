"""The experiment parts: training on the real digits, judged by the real grader.

Each notebook ends with an experiment whose outcome the trusted grader judges on the test split
(autograder/checks/experiments.py). These tests grade real notebooks with the real command:
the solutions, the untouched notebooks, and students who train badly.
"""
import json
import re

import numpy as np
import pytest

from autograder import classgen, data
from autograder.checks import experiments
from autograder.notebook import ROOT, load_assignment
from conftest import read_csv, run_grade

SLUGS = sorted(experiments.CHECKS)

# A student who trains badly: (slug, cells replacing the solution's, tests that must fail,
# words each failing test's diagnosis must contain).
BEST_03 = 'BEST = {{"learning_rate": {lr}, "reg": 1e-4, "num_iters": 1000, "batch_size": 100}}\n'
NO_SHIFT_03 = '''def softmax_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X.dot(W)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    return loss, X.T.dot(dscores) / N + 2 * reg * W
'''
ASCENT_03 = classgen.solution_code("03-backprop")["train_softmax"].replace(
    "W = W - learning_rate * dW", "W = W + learning_rate * dW")
BEST_05 = ('BEST = {{"hidden_dims": [64, 64, 64, 64], "use_batchnorm": {bn}, "learning_rate": {lr}, '
           '"weight_scale": 0.1, "num_iters": 300, "batch_size": 50}}\n')
FORWARD_05 = classgen.solution_code("05-batchnorm")["batchnorm_forward"]
STALE_05 = FORWARD_05.replace("        running_mean = momentum * running_mean + (1 - momentum) * mu\n", "") \
    .replace("        running_var = momentum * running_var + (1 - momentum) * var\n", "")
assert STALE_05 != FORWARD_05
INIT_04 = classgen.solution_code("04-vanishing-gradients")["init_weights"]
TRAIN_04 = classgen.solution_code("04-vanishing-gradients")["train_deep"]
BAD = {
    "lr-too-large": ("03-backprop", {"best_hyperparameters": BEST_03.format(lr=1e4)},
                     {"test_final_model": "loss rose"}),
    "no-shift": ("03-backprop", {"best_hyperparameters": BEST_03.format(lr=1e4),
                                 "softmax_loss_vectorized": NO_SHIFT_03},
                 {"test_final_model": "not shifted"}),
    "lr-too-small": ("03-backprop", {"best_hyperparameters": BEST_03.format(lr=1e-4)},
                     {"test_final_model": "underfits"}),
    "gradient-ascent": ("03-backprop", {"train_softmax": ASCENT_03},
                        {"test_train_softmax": "loss rose", "test_final_model": "loss rose"}),
    "init-variance-as-std": ("04-vanishing-gradients", {"init_weights": INIT_04.replace(
        '"xavier": 1.0 / np.sqrt(fan_in), "he": np.sqrt(2.0 / fan_in)',
        '"xavier": 1.0 / fan_in, "he": 2.0 / fan_in')},
        {"test_init_weights": "variance was used as the standard deviation"}),
    "deep-ascent": ("04-vanishing-gradients", {"train_deep": TRAIN_04.replace(
        "W - learning_rate * g", "W + learning_rate * g")}, {"test_train_deep": "goes up the gradient"}),
    "bn-lr-too-large": ("05-batchnorm", {"best_network": BEST_05.format(bn=False, lr=5.0)},
                        {"test_final_network": "learning rate that is too large"}),
    "bn-running-stats-stale": ("05-batchnorm", {"batchnorm_forward": STALE_05},
                               {"test_train_net": "running mean and variance",
                                "test_final_network": "running mean and variance"}),
}


def test_every_bad_trainer_changes_the_solution():
    """Is every planted bad trainer really different from the solution (no replace that missed)?"""
    for name, (slug, cells, _) in BAD.items():
        solution = classgen.solution_code(slug)
        assert any(code != solution[gid] for gid, code in cells.items()), name


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One class: every solution, every untouched notebook, and the bad trainers."""
    tmp = tmp_path_factory.mktemp("experiments")
    plan = [(f"solution", slug, {}) for slug in SLUGS] + \
           [(f"untouched", slug, None) for slug in SLUGS] + \
           [(name, slug, cells) for name, (slug, cells, _) in BAD.items()]
    classgen.write_class(tmp / "submitted", plan)
    run_grade(tmp / "submitted", tmp / "ws")
    grades = {(r["student_id"], r["assignment"]): r for r in read_csv(tmp / "ws" / "grades.csv")}
    tests = {(r["student_id"], r["assignment"], r["test"]): r
             for r in read_csv(tmp / "ws" / "tests.csv")}
    return grades, tests


def experiment_tests(slug):
    """The graded tests of a notebook's experiment part (their hidden checks are outcome checks)."""
    outcome = {c.function for c in experiments.CHECKS[slug]}
    return [t for t in load_assignment(slug).tests if set(t.functions) & outcome]


@pytest.mark.parametrize("slug", SLUGS)
def test_solution_gets_full_marks_including_the_outcomes(graded, slug):
    """Does the solution notebook, graded for real, earn every point, outcome points included?"""
    grades, tests = graded
    row = grades[("solution", slug)]
    assert row["status"] == "graded" and float(row["score"]) == float(row["max_score"]), row
    for t in experiment_tests(slug):
        assert tests[("solution", slug, t.grade_id)]["passed"] == "1"


@pytest.mark.parametrize("slug", SLUGS)
def test_untouched_notebook_gets_zero(graded, slug):
    """Does the released notebook, unchanged, earn nothing, and say the parts are not done?"""
    grades, tests = graded
    assert float(grades[("untouched", slug)]["score"]) == 0
    for t in experiment_tests(slug):
        assert "not implemented" in tests[("untouched", slug, t.grade_id)]["diagnosis"]


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_training_loses_the_outcome_points_and_says_why(graded, name):
    """Does a student who trains badly lose exactly the outcome points, with the reason?"""
    grades, tests = graded
    slug, _, failing = BAD[name]
    assignment = load_assignment(slug)
    for t in experiment_tests(slug):
        row = tests[(name, slug, t.grade_id)]
        if t.grade_id in failing:
            assert row["passed"] == "0" and float(row["points"]) == 0, row
            assert failing[t.grade_id] in row["diagnosis"], row["diagnosis"]
        else:
            assert row["passed"] == "1", row
    lost = sum(t.points for t in assignment.tests if t.grade_id in failing)
    other = [t for t in assignment.tests if t.grade_id not in failing]
    other_points = sum(float(tests[(name, slug, t.grade_id)]["points"]) for t in other)
    assert float(grades[(name, slug)]["score"]) == other_points
    assert other_points <= assignment.max_score - lost


def test_outcome_diagnosis_quotes_the_numbers(graded):
    """Does a model below the threshold hear its accuracy and the threshold?"""
    _, tests = graded
    text = tests[("lr-too-small", "03-backprop", "test_final_model")]["diagnosis"]
    assert re.search(r"\d+\.\d%.*threshold is 92%", text), text


def test_experiment_cells_are_not_run_by_the_grader(tmp_path):
    """Does a slow sweep, or a slow cell added after it, cost grading time or points? It must not."""
    slug = SLUGS[0]
    nb = classgen.make_notebook(slug, {})
    slow = "import time\ntime.sleep(30)\n"
    for i, cell in enumerate(list(nb["cells"])):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("experiment_"):
            cell["source"] = slow
            nb["cells"].insert(i + 1, {"cell_type": "code", "metadata": {}, "outputs": [],
                                       "execution_count": None, "source": slow})
            break
    else:
        pytest.fail(f"{slug} has no experiment cell")
    path = tmp_path / "submitted" / "slow" / slug / f"{slug}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(nb))
    run_grade(tmp_path / "submitted", tmp_path / "ws", "--cell-timeout", "20")
    row = read_csv(tmp_path / "ws" / "grades.csv")[0]
    assert row["status"] == "graded" and row["score"] == row["max_score"], row


@pytest.mark.parametrize("slug", SLUGS)
def test_notebook_data_cell_is_the_course_split(slug):
    """Does the notebook's data cell give exactly data.py's train and validation split, no test?"""
    nb = json.loads((ROOT / "exercises" / slug / f"{slug}.ipynb").read_text())
    source = next("".join(c["source"]) for c in nb["cells"]
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "load_digits_data")
    namespace = {"np": np}
    exec(source, namespace)
    split = data.load_digits_split()
    for name in ("X_train", "y_train", "X_val", "y_val"):
        assert np.array_equal(namespace[name], split[name]), name
    assert not any(np.array_equal(v, split["X_test"]) for v in namespace.values()
                   if isinstance(v, np.ndarray) and v.shape == split["X_test"].shape)


@pytest.mark.parametrize("slug", SLUGS)
def test_released_notebook_has_time_challenge_and_no_rubric(slug):
    """Does the student's notebook state its working time, end with a challenge, and hide the rubrics?"""
    nb = json.loads((ROOT / "exercises" / slug / f"{slug}.ipynb").read_text())
    text = ["".join(c["source"]) for c in nb["cells"]]
    assert any("Expected working time" in t for t in text[:3])
    assert "Optional challenge" in text[-1] and "not graded" in text[-1]
    assert not any("Rubric" in t or "Model answer" in t for t in text)
    source = json.loads((ROOT / "solutions" / slug / f"{slug}.ipynb").read_text())
    assert any("Rubric" in "".join(c["source"]) for c in source["cells"])
