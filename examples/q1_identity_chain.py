"""Question 1: weights a bit larger or smaller than the identity — why does the gradient explode or vanish?

Short answer: backward, every layer multiplies the gradient by its W^T. With W_l = k I that is
a factor k per layer, so dLoss/dh_l = k^(L-l) dLoss/dh_L: from layer 50 down to layer 1,
k = 0.9 shrinks it 0.9^49 = 1/175 and k = 1.1 grows it 1.1^49 = 107 times. A 10% deviation per layer compounds exponentially with depth.
For this chain theory is exact (theory.identity_chain), so measured and predicted agree to rounding.

Run:  python examples/q1_identity_chain.py --depth 50 --k 0.9 1.0 1.1 [--plot q1.png] [--html q1.html]
"""
import sys

import numpy as np

from tinygrad_vg import theory
from tinygrad_vg.argtypes import positive_int
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.script import experiment, main
from tinygrad_vg.views.axes import decade_range
from tinygrad_vg.views.text import log_axis, log_bar


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=50, help="number of layers L (default 50)")
    parser.add_argument("--width", type=positive_int, default=8, help="units per layer (default 8)")
    parser.add_argument("--k", type=float, nargs="+", default=[0.9, 1.0, 1.1], help="scales k of W = k I")
    parser.add_argument("--every", type=positive_int, default=5, help="print every n-th layer (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input and target")


@experiment
def run(depth=50, width=8, k=(0.9, 1.0, 1.1), every=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, width))
    target = rng.standard_normal((4, width))
    chains = []
    for scale in k:
        chain = DeepChain(depth, width, activation="linear", init="identity", scale=scale)
        output, layer_outputs = chain.forward_with_outputs(x)
        mse_loss(output, target).backward()
        exact = theory.identity_chain(scale, depth, x, target)
        chains.append({
            "k": scale,
            # h_l.grad is dLoss/dh_l: the backward signal arriving at layer l's output
            "grad_norms": [float(np.linalg.norm(h.grad)) for h in layer_outputs],
            "predicted_grad_norms": exact.grad_norms.tolist(),
            "weight_grad_norms": [float(np.linalg.norm(w.grad)) for w in chain.weights],
            "predicted_weight_grad_norm": float(exact.weight_grad_norms[0]),
        })
    return {"depth": depth, "width": width, "every": every, "chains": chains}


def show(result):
    depth, chains = result["depth"], result["chains"]
    lines = [f"Linear chain of {depth} layers, W_l = k I, loss = mean((h_L - target)^2).",
             "|dL/dh_l|: measured by backward, predicted = k^(L-l) |dL/dh_L| (theory.identity_chain)", ""]
    lines.append(f"{'layer':>5}" + "".join(f"  {'k=' + format(c['k'], 'g') + ' measured':>16} {'predicted':>10}"
                                            for c in chains))
    for layer in sorted(set(range(1, depth + 1, result["every"])) | {depth}):
        lines.append(f"{layer:>5}" + "".join(f"  {c['grad_norms'][layer - 1]:>16.4e} {c['predicted_grad_norms'][layer - 1]:>10.4e}"
                                             for c in chains))
    worst = max(abs(m / p - 1) for c in chains for m, p in zip(c["grad_norms"], c["predicted_grad_norms"]))
    lines.append(f"\nlargest relative difference, measured vs predicted, over all layers and k: {worst:.1e}")
    lines.append("\nlayer 1 / layer L, measured vs k^(L-1):")
    for c in chains:
        lines.append(f"  k = {c['k']:<5g} {c['grad_norms'][0] / c['grad_norms'][-1]:>12.4e}   {c['k'] ** (depth - 1):>12.4e}")

    # The weight gradient dL/dW_l = (dL/dh_l)^T h_(l-1) = k^(L-l) k^(l-1) G^T x: the input to layer l
    # grew by k^(l-1) while its gradient shrank by k^(L-l), so every layer gets the same k^(L-1).
    lines.append("\n|dL/dW_l| is the same at every layer (k^(L-l) backward times k^(l-1) forward):")
    for c in chains:
        lines.append(f"  k = {c['k']:<5g} measured from {min(c['weight_grad_norms']):.4e} to "
                     f"{max(c['weight_grad_norms']):.4e}, predicted {c['predicted_weight_grad_norm']:.4e}")

    lines.append("\n|dL/dh_l| per layer, log scale (layer 1 at the top):")
    low, high = decade_range([g for c in chains for g in c["grad_norms"]])
    lines.append(f"{'':>13}{log_axis(low, high, 40)}")
    for c in chains:
        for layer in (1, (depth + 1) // 2, depth):
            lines.append(f"k={c['k']:<4g} l={layer:<3} {log_bar(c['grad_norms'][layer - 1], low, high, 40)}")
    return "\n".join(lines)


def figure(result):
    layers = list(range(1, result["depth"] + 1))
    lines = []
    for n, c in enumerate(result["chains"]):
        lines.append({"label": f"k={c['k']:g} measured", "x": layers, "y": c["grad_norms"], "style": f"C{n}o"})
        lines.append({"label": f"k={c['k']:g} theory", "x": layers, "y": c["predicted_grad_norms"],
                      "style": f"C{n}-"})
    return [{"title": f"W = k I, {result['depth']} layers: measured beside theory k^(L-l) |dL/dh_L|",
             "xlabel": "layer l", "ylabel": "|dL/dh_l|",
             "lines": lines}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
