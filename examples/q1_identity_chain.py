"""Question 1: weights a bit larger or smaller than the identity — why does the gradient explode or vanish?

Short answer: backward, every layer multiplies the gradient by its W^T. With W_l = k I that is
a factor k per layer, so dLoss/dh_l = k^(L-l) dLoss/dh_L: from layer 50 down to layer 1,
k = 0.9 shrinks it 0.9^49 = 1/175 and k = 1.1 grows it 1.1^49 = 107 times. A 10% deviation per layer compounds exponentially with depth.
For this chain theory is exact (theory.identity_chain), so measured and predicted agree to rounding.

Run:  python examples/q1_identity_chain.py --depth 50 --k 0.9 1.0 1.1 [--plot q1.png]
"""
import argparse

import numpy as np

from tinygrad_vg import plot, theory
from tinygrad_vg.nn import DeepChain, mse_loss

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=50, help="number of layers L (default 50)")
parser.add_argument("--width", type=int, default=8, help="units per layer (default 8)")
parser.add_argument("--k", type=float, nargs="+", default=[0.9, 1.0, 1.1], help="scales k of W = k I")
parser.add_argument("--every", type=int, default=5, help="print every n-th layer (default 5)")
parser.add_argument("--seed", type=int, default=0, help="seed of the input and target")
parser.add_argument("--plot", metavar="FILE.png", help="also draw |dL/dh_l| per layer on a log scale")
args = parser.parse_args()
if args.depth < 1 or args.width < 1 or args.every < 1:
    parser.error("--depth, --width and --every must be at least 1")

rng = np.random.default_rng(args.seed)
x = rng.standard_normal((4, args.width))
target = rng.standard_normal((4, args.width))

measured, predicted, weight_grads = {}, {}, {}
for k in args.k:
    chain = DeepChain(args.depth, args.width, activation="linear", init="identity", scale=k)
    output, layer_outputs = chain.forward_with_outputs(x)
    mse_loss(output, target).backward()
    # h_l.grad is dLoss/dh_l: the backward signal arriving at layer l's output
    measured[k] = np.array([np.linalg.norm(h.grad) for h in layer_outputs])
    exact = theory.identity_chain(k, args.depth, x, target)
    predicted[k] = exact.grad_norms
    weight_grads[k] = (np.array([np.linalg.norm(w.grad) for w in chain.weights]), exact.weight_grad_norms)

print(f"Linear chain of {args.depth} layers, W_l = k I, loss = mean((h_L - target)^2).")
print("|dL/dh_l|: measured by backward, predicted = k^(L-l) |dL/dh_L| (theory.identity_chain)\n")
header = f"{'layer':>5}" + "".join(f"  {'k=' + format(k, 'g') + ' measured':>16} {'predicted':>10}" for k in args.k)
print(header)
layers = sorted(set(range(1, args.depth + 1, args.every)) | {args.depth})
for layer in layers:
    cells = "".join(f"  {measured[k][layer - 1]:>16.4e} {predicted[k][layer - 1]:>10.4e}" for k in args.k)
    print(f"{layer:>5}{cells}")

worst = max(np.max(np.abs(measured[k] / predicted[k] - 1)) for k in args.k)
print(f"\nlargest relative difference, measured vs predicted, over all layers and k: {worst:.1e}")
print("\nlayer 1 / layer L, measured vs k^(L-1):")
for k in args.k:
    print(f"  k = {k:<5g} {measured[k][0] / measured[k][-1]:>12.4e}   {k ** (args.depth - 1):>12.4e}")

# The weight gradient dL/dW_l = (dL/dh_l)^T h_(l-1) = k^(L-l) k^(l-1) G^T x: the input to layer l
# grew by k^(l-1) while its gradient shrank by k^(L-l), so every layer gets the same k^(L-1).
print("\n|dL/dW_l| is the same at every layer (k^(L-l) backward times k^(l-1) forward):")
for k in args.k:
    weights_measured, weights_predicted = weight_grads[k]
    print(f"  k = {k:<5g} measured from {weights_measured.min():.4e} to {weights_measured.max():.4e},"
          f" predicted {weights_predicted[0]:.4e}")

print("\n|dL/dh_l| per layer, log scale (layer 1 at the top):")
low, high = plot.decade_range(np.concatenate(list(measured.values())))
print(f"{'':>13}{plot.log_axis(low, high, 40)}")
for k in args.k:
    for layer in (1, (args.depth + 1) // 2, args.depth):
        print(f"k={k:<4g} l={layer:<3} {plot.log_bar(measured[k][layer - 1], low, high, 40)}")

if args.plot:
    layers = list(range(1, args.depth + 1))
    lines = []
    for n, k in enumerate(args.k):
        lines.append({"label": f"k={k:g} measured", "x": layers, "y": measured[k], "style": f"C{n}o"})
        lines.append({"label": "k^(L-l) |dL/dh_L|", "x": layers, "y": predicted[k], "style": f"C{n}-"})
    try:
        plot.save_figure(args.plot, [{"title": f"W = k I, {args.depth} layers", "xlabel": "layer l",
                                      "ylabel": "|dL/dh_l|", "lines": lines}])
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
