"""The course's published notebooks, run on this engine, print what they printed.

deeplearning.ai "Improving Deep Neural Networks", week 2, "Optimization methods": the model lives in
examples/course_optimization_methods.py. The published lines are hard-coded here, independently of
the example's own table, with their sources:
  - 2017 notebook (cost of each epoch's last mini-batch): github.com/Anosy/Ng_DL,
    2_2_optimization/README.md (all three); GD and momentum also in github.com/Kulbear/deep-learning-coursera,
    "Improving Deep Neural Networks Hyperparameter tuning, Regularization and Optimization/Optimization
    methods.ipynb", whose summary table gives the accuracies 79.7%, 79.7%, 94%. (Kulbear's saved Adam
    output, 0.687550 at epoch 0, is not the notebook's rule: it is reproduced exactly by eps inside the
    sqrt and no bias correction of s, an edit of the exercise; with the notebook's rule it is 0.690552.)
  - 2019 notebook v1b (the epoch's summed cost / m): github.com/4ringutan/Improving-Deep-Neural-Networks-
    Hyperparameter-tuning-Regularization-and-Optimization, Optimization_methods_v1b.ipynb, GD and momentum.

A run of 10000 epochs takes ~1.5 ms of CPU per epoch here, so the suite checks the first printed lines
(epochs 0, 1000, 2000) of every run; TINYGRAD_VG_FULL_NOTEBOOKS=1 also runs the notebook's full 10000
epochs and checks all ten lines and the accuracies (about a minute and a half)."""
import importlib.util
import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vg import Tensor, optim

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "course_optimization_methods.py"
spec = importlib.util.spec_from_file_location("course_optimization_methods", SCRIPT)
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)

FULL = bool(os.environ.get("TINYGRAD_VG_FULL_NOTEBOOKS"))

# "Cost after epoch %i: %f" every 1000 epochs, and the training accuracy printed after 10000 epochs
NOTEBOOK_2017 = {
    "gd": (["0.690736", "0.685273", "0.647072", "0.619525", "0.576584",
            "0.607243", "0.529403", "0.460768", "0.465586", "0.464518"], "0.796666666667"),
    "momentum": (["0.690741", "0.685341", "0.647145", "0.619594", "0.576665",
                  "0.607324", "0.529476", "0.460936", "0.465780", "0.464740"], "0.796666666667"),
    "adam": (["0.690552", "0.185567", "0.150852", "0.074454", "0.125936",
              "0.104235", "0.100552", "0.031601", "0.111709", "0.197648"], "0.94"),
}
NOTEBOOK_V1B = {
    "gd": (["0.702405", "0.668101", "0.635288", "0.600491", "0.573367",
            "0.551977", "0.532370", "0.514007", "0.496472", "0.468014"], "0.796666666667"),
    "momentum": (["0.702413", "0.668167", "0.635388", "0.600591", "0.573444",
                  "0.552058", "0.532458", "0.514101", "0.496652", "0.468160"], "0.796666666667"),
}
RUNS = [("last-batch", name, NOTEBOOK_2017[name]) for name in NOTEBOOK_2017] + \
       [("epoch-mean", name, NOTEBOOK_V1B[name]) for name in NOTEBOOK_V1B]


def printed(result):
    """The lines the notebook prints, formatted as it formats them."""
    return ["Cost after epoch %i: %f" % (epoch, cost) for epoch, cost in result["costs"].items()]


def test_make_moons_draws_scikit_learns_points_from_the_notebooks_seed():
    # reference values: np.random.seed(3); sklearn.datasets.make_moons(n_samples=300, noise=.2) with
    # scikit-learn 1.9.1 and numpy 2.4 (the whole array was compared bit for bit, and for other sizes and seeds)
    x, y = course.make_moons(300, noise=0.2, rng=np.random.RandomState(3))
    assert x.shape == (300, 2) and y.dtype == np.intp
    assert x[0].tolist() == [-0.21687013460912397, 1.0154493742029873]
    assert x[1].tolist() == [0.8050501531955674, -0.5579733951321297]
    assert x[2].tolist() == [0.7112745129750352, -0.4100602407591063]
    assert x[299].tolist() == [0.547725598273234, 0.3481746137071188]
    assert float(x.sum()) == 229.31214774688254
    assert y[:12].tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0] and int(y.sum()) == 150


def test_the_notebooks_data_are_columns_and_its_mini_batches_are_four_of_64_and_one_of_44():
    x, y = course.load_dataset()
    assert x.shape == (2, 300) and y.shape == (1, 300)
    batches = course.random_mini_batches(x, y, 64, seed=11)
    assert [b.shape[1] for b, _ in batches] == [64, 64, 64, 64, 44]
    order = np.random.RandomState(11).permutation(300)        # np.random.seed(11); np.random.permutation(300)
    assert np.array_equal(np.concatenate([b for b, _ in batches], axis=1), x[:, order])


def test_the_initial_weights_are_the_notebooks_he_scaled_draws_after_seed_3():
    parameters = course.initialize_parameters([2, 5, 2, 1])
    draws = np.random.RandomState(3).randn(5 * 2 + 2 * 5 + 1 * 2)
    assert np.array_equal(parameters["W1"].data, draws[:10].reshape(5, 2) * np.sqrt(2 / 2))
    assert np.array_equal(parameters["W2"].data, draws[10:20].reshape(2, 5) * np.sqrt(2 / 5))
    assert np.array_equal(parameters["W3"].data, draws[20:].reshape(1, 2) * np.sqrt(2 / 2))
    assert all(not parameters[f"b{l}"].data.any() for l in (1, 2, 3))


# (the course's momentum as SGD(lr (1 - beta), momentum=beta) is tests/test_optim_course_momentum.py)
def test_the_course_adam_is_torchs_adam_bias_correction_and_eps_included():
    rng = np.random.default_rng(1)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w_course = rng.standard_normal(6)
    w = Tensor(w_course.copy(), requires_grad=True)
    adam = optim.Adam([w], lr=lr, betas=(b1, b2), eps=eps)
    v, s = np.zeros(6), np.zeros(6)
    for t in range(1, 21):
        g = rng.standard_normal(6) * 10.0 ** rng.integers(-9, 1, 6)   # some gradients near eps
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g ** 2
        w_course = w_course - lr * (v / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
        w.grad = g.copy()
        adam.step()
        assert np.allclose(w.data, w_course, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cost, optimizer, published", RUNS, ids=[f"{c}-{o}" for c, o, _ in RUNS])
def test_the_notebooks_first_printed_costs_come_out_to_the_printed_digit(cost, optimizer, published):
    epochs = 10000 if FULL else 2001
    result = course.train(optimizer, epochs=epochs, cost=cost)
    lines = [f"Cost after epoch {1000 * i}: {value}" for i, value in enumerate(published[0])]
    assert printed(result) == lines[:len(result["costs"])]
    if FULL:
        assert f"{result['correct'] / result['examples']:.12g}" == published[1]   # numpy 1.x printed 12 digits
        assert result["correct"] == {"0.796666666667": 239, "0.94": 282}[published[1]]


def test_the_example_marks_every_published_cost_it_reproduces_as_same(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--optimizer", "adam", "--epochs", "1001"])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert rows == [["0", "0.690552", "0.690552", "same"], ["1000", "0.185567", "0.185567", "same"]]
    assert "optim.Adam(lr=0.0007, betas=(0.9, 0.999), eps=1e-8)" in out and "DIFFERENT" not in out
