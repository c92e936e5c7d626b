"""The course's "Regularization" notebook on this engine: do L2 and dropout print its costs?

deeplearning.ai's "Improving Deep Neural Networks" (course 2, week 1) trains a [2, 20, 3, 1] network
(relu, relu, sigmoid) on the 2-D "football" data (211 training points, 200 test points) by full-batch
gradient descent, learning rate 0.3, 30000 iterations, three ways: no regularization, L2
(lambd = 0.7) and dropout on both hidden layers (keep_prob = 0.86). It prints the cost every 10000
iterations, then the training and test accuracies.

Short answer: yes, to the rounding the published copies themselves differ by. The model is the
notebook's, written with Tensors, loss.backward() and optim.SGD. The notebook prints the cost's full
repr (17 digits): at iteration 0 all three runs print the same 17 digits as the notebook; at 10000
all three are within 1 ulp (unit in the last place) of a saved copy, and so is L2 and dropout at 20000
(some lines identical). Without regularization the saved copies differ from each other at 20000 by
up to 1.8e-12 relative (their machines' rounding, amplified); ours is 1.4e-12 from the Kulbear copy,
2.2e-13 beyond the nearest copy. The table marks each line "same" or how many ulps ours is from the
Kulbear copy (the other copies are noted at PUBLISHED). The six accuracies are the notebook's:
train 94.8%, 93.8%, 92.9%, test 91.5%, 93%, 95% (no regularization, L2, dropout).
  - L2 is a term of the loss, lambd / (2 m) * (sum W1^2 + sum W2^2 + sum W3^2); its gradient
    lambd / m * W is what the notebook adds to dW by hand. (optim.SGD(weight_decay=lambd / m) is the
    same rule; the notebook's printed cost includes the term, so it is written into the loss here.)
  - Dropout: the notebook draws its masks with np.random.seed(1) at every forward pass, so D1 and D2
    are the same 0/1 matrices at every iteration: D1 = rand(20, m) < keep_prob, then D2 = rand(3, m)
    < keep_prob. They are built that way here (the legacy RandomState) and multiplied in as
    constants, A = A * D / keep_prob; nn.Dropout draws its masks differently, so it would print
    other costs. backward() sends the gradient through the same masks, as the notebook's backward does.
  - The cost is the mean cross-entropy, (1/m) sum -log p, p = a3 where y = 1 and 1 - a3 where y = 0.
    The notebook writes -y log a3 - (1 - y) log(1 - a3) and np.nansum: when a3 rounds to exactly 1
    (it does, with dropout) its 0 * log(0) is nan and nansum drops it; picking p first gives the same
    number and keeps backward finite.

Data: the assignment's datasets/data.mat (keys X, y, Xval, yval). It is not shipped with this
project; pass its path with --data (reading a .mat file needs scipy), or a .npz with the same keys.

Run:  python examples/course_regularization.py --data path/to/data.mat [--run none|l2|dropout|all]
      [--iterations 30000] [--plot reg.png] [--html reg.html]
      (0.25-0.4 ms per iteration here: all three full runs take about 30 s)
"""
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad_vg import Tensor, no_grad, optim, where
from tinygrad_vg.argtypes import positive_int
from tinygrad_vg.script import OptionError, experiment, main

LAYERS = [2, 20, 3, 1]
RUNS = {"none": {"lambd": 0.0, "keep_prob": 1.0}, "l2": {"lambd": 0.7, "keep_prob": 1.0},
        "dropout": {"lambd": 0.0, "keep_prob": 0.86}}
DATA_SHA1 = "9581208b9a342d09b1d1ff7f47cffe8082af6299"     # the data.mat every copy of the assignment found has
DATA_ENV = "TINYGRAD_VG_COURSE_REGULARIZATION_DATA"

# What the notebook printed: "Cost after iteration {}: {}".format(i, cost) every 10000 iterations,
# then "Accuracy: " + str(...) on the training and the test set. From github.com/Kulbear/deep-learning-coursera,
# "Improving Deep Neural Networks Hyperparameter tuning, Regularization and Optimization/Regularization.ipynb".
# Other saved runs differ in the last digits of the no-regularization run (BLAS and platform rounding):
# github.com/HermanSihombing/Regularization ("Regularization+-+v2.ipynb") printed 0.1632998752572419 and
# 0.13851642423239133, github.com/drafting-dreams/DeepLearningCourse2Week1 (Regularization/Regularization.ipynb)
# 0.16329987525724213 and 0.13851642423260974, and 0.0610169865749056 for dropout's 10000.
PUBLISHED = {
    "none": (["0.6557412523481002", "0.16329987525724216", "0.13851642423255986"], "0.947867298578", "0.915"),
    "l2": (["0.6974484493131264", "0.2684918873282239", "0.2680916337127301"], "0.938388625592", "0.93"),
    "dropout": (["0.6543912405149825", "0.06101698657490559", "0.060582435798513114"], "0.928909952607", "0.95"),
}


def load_2d_dataset(path):
    """The notebook's data as columns: X (2, 211), Y (1, 211), and the test set (2, 200), (1, 200)."""
    path = Path(path)
    if path.suffix == ".npz":
        data = dict(np.load(path))
    else:
        import scipy.io                                     # as the notebook reads it
        data = scipy.io.loadmat(path)
    return data["X"].T, data["y"].T.astype(np.float64), data["Xval"].T, data["yval"].T.astype(np.float64)


def find_data(path=None):
    """--data, else $TINYGRAD_VG_COURSE_REGULARIZATION_DATA, else examples/data/data.mat: the first given, or None."""
    for candidate in (path, os.environ.get(DATA_ENV), Path(__file__).parent / "data" / "data.mat"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def sha1(path):
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def initialize_parameters(layers):
    """W_l = randn(n_l, n_(l-1)) / sqrt(n_(l-1)) drawn in order after seed 3 (not He's sqrt(2 / n)), b_l = 0."""
    rng = np.random.RandomState(3)
    parameters = {}
    for l in range(1, len(layers)):
        w = rng.randn(layers[l], layers[l - 1]) / np.sqrt(layers[l - 1])
        parameters[f"W{l}"] = Tensor(w, requires_grad=True, name=f"W{l}")
        parameters[f"b{l}"] = Tensor(np.zeros((layers[l], 1)), requires_grad=True, name=f"b{l}")
    return parameters


def dropout_masks(m, keep_prob, layers=LAYERS):
    """The notebook's masks: np.random.seed(1), then D1 = rand(20, m) < keep_prob, D2 = rand(3, m) < keep_prob.
    It reseeds at every forward pass, so these are the masks of every iteration."""
    rng = np.random.RandomState(1)
    return [(rng.rand(n, m) < keep_prob).astype(np.float64) for n in layers[1:-1]]


def forward(parameters, x, masks=None, keep_prob=1.0):
    """LINEAR -> RELU (-> DROPOUT) -> LINEAR -> RELU (-> DROPOUT) -> LINEAR -> SIGMOID, shape (1, m)."""
    a = x
    for l in (1, 2, 3):
        z = parameters[f"W{l}"] @ a + parameters[f"b{l}"]
        if l == 3:
            return z.sigmoid()
        a = z.relu()
        if masks is not None:
            a = a * masks[l - 1] / keep_prob        # shut the dropped units, scale the kept ones
    return a


def cost(parameters, a3, y, lambd):
    """The mean cross-entropy (1/m) sum -log p, plus lambd / (2 m) sum_l sum W_l^2 when lambd > 0."""
    m = y.shape[1]
    p = where(y == 1, a3, 1 - a3)                   # the probability given to the true label
    loss = (1.0 / m) * -(p.log().sum())
    if lambd:
        squares = sum((parameters[f"W{l}"] ** 2).sum() for l in (1, 2, 3))
        loss = loss + lambd / (2 * m) * squares
    return loss


def accuracy(parameters, x, y):
    with no_grad():
        predictions = forward(parameters, x).data > 0.5
    return float(np.mean(predictions == y))


def train(data, run="none", iterations=30000, learning_rate=0.3, every=10000):
    """The notebook's model(): the costs it prints (iteration -> float) and its two accuracies."""
    x, y, x_test, y_test = data
    lambd, keep_prob = RUNS[run]["lambd"], RUNS[run]["keep_prob"]
    parameters = initialize_parameters(LAYERS)
    masks = dropout_masks(x.shape[1], keep_prob) if keep_prob < 1 else None
    step = optim.SGD(list(parameters.values()), lr=learning_rate)
    printed = {}
    for i in range(iterations):
        loss = cost(parameters, forward(parameters, x, masks, keep_prob), y, lambd)
        step.zero_grad()
        loss.backward(retain_grads=False)
        step.step()
        if i % every == 0:
            printed[i] = loss.item()                # the cost before this iteration's update, as printed
    return {"costs": printed, "train": accuracy(parameters, x, y), "test": accuracy(parameters, x_test, y_test)}


def arguments(parser):
    parser.add_argument("--data", help=f"the assignment's datasets/data.mat (or an .npz with its keys); "
                                       f"default ${DATA_ENV}, then examples/data/data.mat")
    parser.add_argument("--run", dest="which", choices=[*RUNS, "all"], default="all",
                        help="which of the notebook's runs (default all)")
    parser.add_argument("--iterations", type=positive_int, default=30000,
                        help="iterations (default 30000, the notebook's)")
    parser.add_argument("--every", type=positive_int, default=10000,
                        help="print the cost every N iterations (default 10000)")


@experiment
def run(data=None, which="all", iterations=30000, every=10000):
    """Each chosen run of the notebook: its printed costs beside the published ones, and its accuracies."""
    path = find_data(data)
    if path is None:
        raise OptionError("no data: pass --data path/to/datasets/data.mat from the course's assignment "
                          f"(or set ${DATA_ENV})")
    dataset = load_2d_dataset(path)
    runs = []
    for name in list(RUNS) if which == "all" else [which]:
        start = time.perf_counter()
        result = train(dataset, name, iterations, every=every)
        published, train_accuracy, test_accuracy = PUBLISHED[name]
        costs = []
        for i, value in result["costs"].items():
            theirs = published[i // 10000] if i % 10000 == 0 and i // 10000 < len(published) else None
            costs.append({"iteration": i, "cost": value, "published": theirs,   # the notebook's text, 17 digits
                          "ulps": None if theirs is None else       # units in the last place from it
                          round((value - float(theirs)) / np.spacing(float(theirs)))})
        runs.append({"run": name, **RUNS[name], "seconds": time.perf_counter() - start, "costs": costs,
                     "train": result["train"], "test": result["test"],
                     "published_accuracy": [train_accuracy, test_accuracy] if iterations == 30000 else None})
    return {"data": str(path), "known_data": path.suffix == ".npz" or sha1(path) == DATA_SHA1,
            "iterations": iterations, "runs": runs}


def show(result):
    lines = [] if result["known_data"] else \
        [f"note: {result['data']} is not the data.mat the published runs used (sha1 {DATA_SHA1})\n"]
    iterations = result["iterations"]
    for r in result["runs"]:
        lines.append(f"{r['run']}: lambd = {r['lambd']}, keep_prob = {r['keep_prob']}; {iterations} iterations "
                     f"in {r['seconds']:.1f} s ({1000 * r['seconds'] / iterations:.2f} ms per iteration)")
        lines.append(f"  {'iteration':>9}   {'notebook':<21} tinygrad_vg")
        for c in r["costs"]:
            mark = "" if c["ulps"] is None else ("  same" if c["ulps"] == 0 else f"  {c['ulps']:+d} ulp")
            lines.append(f"  {c['iteration']:9d}   {'-' if c['published'] is None else c['published']:<21} "
                         f"{c['cost']!r}{mark}")
        if r["published_accuracy"] is not None:
            train_accuracy, test_accuracy = r["published_accuracy"]
            lines.append(f"  accuracy: train {r['train']:.12g} (notebook {train_accuracy}), "
                         f"test {r['test']:.12g} (notebook {test_accuracy})\n")
        else:
            lines.append(f"  accuracy after {iterations} iterations: train {r['train']:.12g}, test {r['test']:.12g}\n")
    return "\n".join(lines)


def figure(result):
    lines = [{"label": r["run"], "x": [c["iteration"] for c in r["costs"]], "y": [c["cost"] for c in r["costs"]],
              "style": f"C{n}o-"} for n, r in enumerate(result["runs"])]
    rows = [[r["run"], c["iteration"], "-" if c["published"] is None else c["published"], repr(c["cost"]),
             "" if c["ulps"] is None else ("same" if c["ulps"] == 0 else f"{c['ulps']:+d} ulp")]
            for r in result["runs"] for c in r["costs"]]
    return [{"title": "the cost during training", "xlabel": "iteration", "ylabel": "cost", "lines": lines},
            {"title": "every printed cost beside the notebook's, to 17 digits",
             "table": {"header": ["run", "iteration", "notebook", "tinygrad_vg", ""], "rows": rows}},
            {"title": "accuracies", "table": {"header": ["run", "train", "test", "notebook (train, test)"], "rows": [
                [r["run"], r["train"], r["test"], ", ".join(r["published_accuracy"] or ["-"])]
                for r in result["runs"]]}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
