"""The course's "Optimization methods" notebook on this engine: do optim.SGD and optim.Adam print its costs?

deeplearning.ai's "Improving Deep Neural Networks" (course 2, week 2) trains a [2, 5, 2, 1] network
(relu, relu, sigmoid) on 300 make_moons points with mini-batches of 64, learning rate 0.0007, for
10000 epochs, three ways: mini-batch gradient descent, momentum (beta 0.9) and Adam (0.9, 0.999, 1e-8).

Short answer: yes, to every printed digit. The model below is the notebook's, written with this
engine's Tensors, loss.backward() and its PyTorch-style optimisers; every "Cost after epoch" line the
notebook published comes out the same, and so do its training accuracies: 79.7% for gradient
descent and for momentum (lr = 0.0007 is so small that momentum changes the fourth digit), 94% for
Adam. The course's update rules are PyTorch's, written differently:
  - momentum  v = beta v + (1 - beta) g,  W -= lr v   is   optim.SGD(lr * (1 - beta), momentum=beta):
    PyTorch's buffer b = g_1, then b = beta b + g, so (1 - beta) b = v at every step (exact
    arithmetic; in floats the two differ by rounding). dampening=beta is not the same: PyTorch skips
    the dampening on the first step, so that first step would be lr g instead of lr (1 - beta) g.
  - Adam      W -= lr v_hat / (sqrt(s_hat) + eps), t counting mini-batches,  is  optim.Adam(lr, betas, eps):
    PyTorch writes sqrt(s_hat) as sqrt(s) / sqrt(1 - beta2^t) and adds eps after it, as the course does
    (TensorFlow adds eps before the bias correction: a different rule).

Two versions of the notebook were published. The 2017 one ("Optimization methods", opt_utils.py)
prints the cost of each epoch's LAST mini-batch (44 examples), so its curves oscillate; the 2019 one
("Optimization_methods_v1b", opt_utils_v1a.py) prints the epoch's summed cost divided by m = 300.
The model, data, seeds and mini-batches are the same; --cost picks what is printed.

Run:  python examples/course_optimization_methods.py [--optimizer gd|momentum|adam|all] [--epochs 10000]
      [--plot course.png] [--html course.html]
      (all three for 10000 epochs take about a minute; --epochs 2000 a few seconds)
"""
import sys
import time

import numpy as np

from tinygrad_vg import Tensor, no_grad, optim
from tinygrad_vg.argtypes import positive_int
from tinygrad_vg.script import experiment, main

LAYERS = [2, 5, 2, 1]
RULES = {"gd": "optim.SGD(lr=0.0007)", "momentum": "optim.SGD(lr=0.0007 * (1 - 0.9), momentum=0.9)",
         "adam": "optim.Adam(lr=0.0007, betas=(0.9, 0.999), eps=1e-8)"}

# What the notebooks printed ("%f" of the cost every 1000 epochs, and the training accuracy).
# 2017, last mini-batch: GD and momentum from github.com/Kulbear/deep-learning-coursera, "Improving Deep
# Neural Networks .../Optimization methods.ipynb"; all three from github.com/Anosy/Ng_DL,
# 2_2_optimization/README.md (Kulbear's saved Adam run used an edited rule, see the test file).
# 2019 v1b, epoch mean: github.com/4ringutan/Improving-Deep-Neural-Networks-Hyperparameter-tuning-
# Regularization-and-Optimization, Optimization_methods_v1b.ipynb (its Adam put eps inside the sqrt).
PUBLISHED = {
    ("last-batch", "gd"): ([0.690736, 0.685273, 0.647072, 0.619525, 0.576584,
                            0.607243, 0.529403, 0.460768, 0.465586, 0.464518], 0.796666666667),
    ("last-batch", "momentum"): ([0.690741, 0.685341, 0.647145, 0.619594, 0.576665,
                                  0.607324, 0.529476, 0.460936, 0.465780, 0.464740], 0.796666666667),
    ("last-batch", "adam"): ([0.690552, 0.185567, 0.150852, 0.074454, 0.125936,
                              0.104235, 0.100552, 0.031601, 0.111709, 0.197648], 0.94),
    ("epoch-mean", "gd"): ([0.702405, 0.668101, 0.635288, 0.600491, 0.573367,
                            0.551977, 0.532370, 0.514007, 0.496472, 0.468014], 0.796666666667),
    ("epoch-mean", "momentum"): ([0.702413, 0.668167, 0.635388, 0.600591, 0.573444,
                                  0.552058, 0.532458, 0.514101, 0.496652, 0.468160], 0.796666666667),
}


def make_moons(n_samples, noise, rng):
    """scikit-learn's make_moons(n_samples, noise=noise), drawing from the numpy RandomState `rng` as
    sklearn draws from the global one when given no random_state: two half circles, shuffled, then
    Gaussian noise. Bit-for-bit the same points (checked against scikit-learn 1.9.1)."""
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer, inner = np.linspace(0, np.pi, n_outer), np.linspace(0, np.pi, n_inner)
    x = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_outer, dtype=np.intp), np.ones(n_inner, dtype=np.intp)])
    order = np.arange(n_samples)
    rng.shuffle(order)
    x, y = x[order], y[order]
    return x + rng.normal(scale=noise, size=x.shape), y


def load_dataset():
    """The notebook's data: np.random.seed(3), 300 moons with noise 0.2, one column per example."""
    x, y = make_moons(300, noise=0.2, rng=np.random.RandomState(3))
    return x.T, y.reshape(1, -1).astype(np.float64)


def initialize_parameters(layers):
    """W_l ~ N(0, 2 / n_(l-1)) of shape (n_l, n_(l-1)) drawn in order after seed 3, b_l = 0 of shape (n_l, 1)."""
    rng = np.random.RandomState(3)
    parameters = {}
    for l in range(1, len(layers)):
        w = rng.randn(layers[l], layers[l - 1]) * np.sqrt(2 / layers[l - 1])
        parameters[f"W{l}"] = Tensor(w, requires_grad=True, name=f"W{l}")
        parameters[f"b{l}"] = Tensor(np.zeros((layers[l], 1)), requires_grad=True, name=f"b{l}")
    return parameters


def random_mini_batches(x, y, size, seed):
    """Shuffle the columns with a permutation drawn after seeding `seed`, then cut into batches of
    `size` (the last one smaller): 300 examples are 4 x 64 + 44."""
    m = x.shape[1]
    order = np.random.RandomState(seed).permutation(m)
    x, y = x[:, order], y[:, order]
    return [(x[:, k:k + size], y[:, k:k + size]) for k in range(0, m, size)]


def forward(parameters, x):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID: the probability of class 1, shape (1, m)."""
    a = x
    for l in (1, 2, 3):
        z = parameters[f"W{l}"] @ a + parameters[f"b{l}"]
        a = z.relu() if l < 3 else z.sigmoid()
    return a


def summed_cross_entropy(a3, y):
    """The notebook's cost before averaging: sum over examples of -y log a3 - (1 - y) log(1 - a3)."""
    return -(y * a3.log() + (1 - y) * (1 - a3).log()).sum()


def make_optimizer(name, params, lr, beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8):
    if name == "gd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":                     # v = beta v + (1 - beta) g, W -= lr v
        return optim.SGD(params, lr=lr * (1 - beta), momentum=beta)
    return optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=epsilon)


def train(optimizer, epochs=10000, cost="last-batch", lr=0.0007, mini_batch_size=64, every=1000):
    """The notebook's model(): returns the costs it prints (epoch -> float) and the training accuracy."""
    x, y = load_dataset()
    parameters = initialize_parameters(LAYERS)
    step = make_optimizer(optimizer, list(parameters.values()), lr)
    printed, seed = {}, 10
    for epoch in range(epochs):
        seed += 1                                   # a new shuffle every epoch, as the notebook
        epoch_total = 0.0
        for batch_x, batch_y in random_mini_batches(x, y, mini_batch_size, seed):
            total = summed_cross_entropy(forward(parameters, batch_x), batch_y)
            loss = total / batch_x.shape[1]         # the mean over the mini-batch: its gradient is the notebook's
            epoch_total += total.item()
            step.zero_grad()
            loss.backward(retain_grads=False)
            step.step()
        if epoch % every == 0:
            printed[epoch] = loss.item() if cost == "last-batch" else epoch_total / x.shape[1]
    with no_grad():
        predictions = forward(parameters, x).data > 0.5
    return {"costs": printed, "correct": int(np.sum(predictions == y)), "examples": x.shape[1]}


def arguments(parser):
    parser.add_argument("--optimizer", choices=["gd", "momentum", "adam", "all"], default="all",
                        help="which of the notebook's three runs (default all)")
    parser.add_argument("--epochs", type=positive_int, default=10000, help="epochs (default 10000, the notebook's)")
    parser.add_argument("--cost", choices=["last-batch", "epoch-mean"], default="last-batch",
                        help="print the last mini-batch's cost (2017 notebook, default) or the epoch's mean (v1b)")
    parser.add_argument("--every", type=positive_int, default=1000, help="print the cost every N epochs (default 1000)")


@experiment
def run(optimizer="all", epochs=10000, cost="last-batch", every=1000):
    """Each chosen run of the notebook: its printed costs beside the published ones, and its accuracy."""
    runs = []
    for name in ["gd", "momentum", "adam"] if optimizer == "all" else [optimizer]:
        start = time.perf_counter()
        result = train(name, epochs, cost, every=every)
        published, accuracy = PUBLISHED.get((cost, name), ([], None))
        runs.append({"optimizer": name, "rule": RULES[name], "seconds": time.perf_counter() - start,
                     "costs": [{"epoch": epoch, "cost": value,
                                "published": published[epoch // 1000] if epoch % 1000 == 0
                                and epoch // 1000 < len(published) else None}
                               for epoch, value in result["costs"].items()],
                     "correct": result["correct"], "examples": result["examples"],
                     "published_accuracy": accuracy if epochs == 10000 else None})
    return {"cost": cost, "epochs": epochs, "runs": runs}


def same_to_the_printed_digit(published, value):
    return f"{published:f}" == f"{value:f}"


def show(result):
    lines, epochs = [], result["epochs"]
    for r in result["runs"]:
        lines.append(f"{r['optimizer']}: {r['rule']}, cost printed: {result['cost']}; {epochs} epochs in "
                     f"{r['seconds']:.1f} s ({1000 * r['seconds'] / epochs:.2f} ms per epoch of 5 mini-batches)")
        lines.append("  epoch   notebook   tinygrad_vg")
        for c in r["costs"]:
            theirs = c["published"]
            mark = "" if theirs is None else ("  same" if same_to_the_printed_digit(theirs, c["cost"]) else "  DIFFERENT")
            lines.append(f"  {c['epoch']:5d}   {'-' if theirs is None else f'{theirs:f}':>8}   {c['cost']:f}{mark}")
        ours = r["correct"] / r["examples"]
        if r["published_accuracy"] is not None:
            lines.append(f"  training accuracy: {r['correct']}/{r['examples']} = {ours:.4f}, "
                         f"notebook {r['published_accuracy']}\n")
        else:
            lines.append(f"  training accuracy after {epochs} epochs: {r['correct']}/{r['examples']} = {ours:.4f}\n")
    return "\n".join(lines)


def figure(result):
    lines, rows = [], []
    for n, r in enumerate(result["runs"]):
        epochs = [c["epoch"] for c in r["costs"]]
        lines.append({"label": f"{r['optimizer']} (this engine)", "x": epochs, "y": [c["cost"] for c in r["costs"]],
                      "style": f"C{n}o"})
        published = [c for c in r["costs"] if c["published"] is not None]
        if published:
            lines.append({"label": f"{r['optimizer']} (the notebook)", "x": [c["epoch"] for c in published],
                          "y": [c["published"] for c in published], "style": f"C{n}-"})
        rows += [[r["optimizer"], c["epoch"], "-" if c["published"] is None else f"{c['published']:f}",
                  f"{c['cost']:f}", "" if c["published"] is None else
                  ("same" if same_to_the_printed_digit(c["published"], c["cost"]) else "DIFFERENT")]
                 for c in r["costs"]]
    return [{"title": f"the notebook's printed cost ({result['cost']}) beside this engine's", "xlabel": "epoch",
             "ylabel": "cost", "lines": lines},
            {"title": "every printed cost, to the notebook's six digits",
             "table": {"header": ["optimizer", "epoch", "notebook", "tinygrad_vg", ""], "rows": rows}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
