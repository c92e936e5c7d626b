"""Question 6: which fixes work, and by how much?

Short answer: the same deep tanh chain, trained on the same task, with one change at a time.
  - Initialisation (Glorot/Xavier, orthogonal) puts the per-layer gain at ~1, so |dL/dh_1| /
    |dL/dh_L| goes from ~1e-5 (PyTorch's default U(+-1/sqrt(n)) has sigma_w^2 = 1/3) to ~0.1-1.
    He's init is meant for ReLU; on tanh it is slightly chaotic (gain > 1).
  - Skip connections add the identity to every layer's Jacobian: the gradient cannot vanish.
  - LayerNorm fixes the forward scale at every layer; here it also keeps the backward gain near 1.
  - Gradient clipping rescales ALL gradients by the same factor: the layer-1/layer-L ratio is
    exactly unchanged, so it does nothing for vanishing. It bounds the step, which matters when one
    step would throw the weights out of range (q3); on this tanh chain, whose activations are
    bounded, the sigma_w = 3 chain's loss improves only a little with it.

Predicted ratios are mean-field (theory.backward_gains; statistical, exact as width -> infinity),
so at width 32 expect agreement within a factor of ~2 over 20 layers, not to rounding.

Run:  python examples/q6_fixes.py --depth 20 --steps 40 [--plot q6.png]
"""
import argparse

import numpy as np

from tinygrad_vg import chain_report, plot, theory, training
from tinygrad_vg.nn import DeepChain, mse_loss

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=20, help="number of layers L (default 20)")
parser.add_argument("--width", type=int, default=32, help="units per layer (default 32)")
parser.add_argument("--steps", type=int, default=40, help="SGD steps per variant (default 40)")
parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm when clipping (default 1)")
parser.add_argument("--alpha", type=float, default=1.0, help="residual branch scale: h + alpha tanh(z) (default 1)")
parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
parser.add_argument("--plot", metavar="FILE.png", help="also draw |dL/dh_l| per layer and the loss curves")
args = parser.parse_args()
if args.depth < 2 or args.width < 1 or args.steps < 1:
    parser.error("need --depth >= 2, --width >= 1 and --steps >= 1")

n = args.width
# sigma_w^2 = fan_in Var(W): PyTorch's default U(-1/sqrt(n), 1/sqrt(n)) has Var = 1/(3n) for W and b
default = dict(sigma_w=np.sqrt(1 / 3), sigma_b=np.sqrt(1 / (3 * n)))
variants = [  # name, DeepChain options, (sigma_w, sigma_b) for theory or None, clip
    ("default init", dict(init="default"), default, None),
    ("N(0, 3^2/n)", dict(init="normal", sigma_w=3.0), dict(sigma_w=3.0, sigma_b=0.0), None),
    ("N(0, 3^2/n) + clipping", dict(init="normal", sigma_w=3.0), dict(sigma_w=3.0, sigma_b=0.0), args.clip),
    ("Glorot (xavier)", dict(init="xavier"), dict(sigma_w=np.sqrt(n * theory.weight_variance("xavier", n, n)),
                                                sigma_b=0.0), None),
    ("He", dict(init="he"), dict(sigma_w=np.sqrt(n * theory.weight_variance("he", n, n)), sigma_b=0.0), None),
    ("orthogonal", dict(init="orthogonal"), dict(sigma_w=1.0, sigma_b=0.0), None),
    ("default + residual", dict(init="default", residual=True, alpha=args.alpha), "residual", None),
    ("default + LayerNorm", dict(init="default", norm="layer"), None, None),
]


def predicted_ratio(theory_parameters):
    """|dL/dh_1| / |dL/dh_L| from mean-field theory, or None where theory has no formula."""
    if theory_parameters is None:
        return None
    if theory_parameters == "residual":
        # Not in theory. h_l = h_(l-1) + alpha tanh(z_l): backward g_(l-1) = g_l (I + alpha diag(tanh') W),
        # and the cross term has mean zero over the symmetric W, so E|g_(l-1)|^2 / E|g_l|^2 =
        # 1 + alpha^2 sigma_w^2 E[tanh'(z_l)^2] (theory.gradient_gain gives the second part). Forward,
        # the per-unit second moment grows m_l = m_(l-1) + alpha^2 E[tanh(z_l)^2], z_l ~ N(0, sigma_w^2 m_(l-1) + sigma_b^2).
        sigma_w, sigma_b = default["sigma_w"], default["sigma_b"]
        moment, gains = 1.0, []
        for _ in range(args.depth):
            q = sigma_w ** 2 * moment + sigma_b ** 2
            gains.append(1 + args.alpha ** 2 * theory.gradient_gain(q, sigma_w, "tanh"))
            moment += args.alpha ** 2 * theory.second_moment(q, "tanh")
        return theory.grad_norm_ratios(gains)[0]
    gains = theory.backward_gains(theory_parameters["sigma_w"], theory_parameters["sigma_b"], args.depth, 1.0, "tanh")
    return theory.grad_norm_ratios(gains)[0]


# The task (as in q2): a random teacher y = tanh(x A); a constant output reaches `constant_loss`.
rng = np.random.default_rng(args.seed)
x = rng.standard_normal((32, n))
x /= np.sqrt(np.mean(x ** 2))
y = np.tanh(x @ rng.standard_normal((n, n)) / np.sqrt(n))
constant_loss = np.mean((y - y.mean(axis=0)) ** 2)

print(f"tanh chain, {args.depth} layers of width {n}; teacher task y = tanh(x A); {args.steps} SGD steps, "
      f"lr {args.lr:g}")
print(f"(a constant output scores {constant_loss:.4f}; below that the chain uses x)\n")
header = (f"{'variant':<24} {'|dL/dh_1|/|dL/dh_L|':>19} {'predicted':>10} {'|dL/dW_1|/|dL/dW_L|':>19}"
          f" {'loss step 0':>11} {f'loss step {args.steps}':>13}")
print(header)
per_layer, losses = {}, {}
for name, options, theory_parameters, clip in variants:
    chain = DeepChain(args.depth, n, activation="tanh", rng=args.seed, **options)
    output, layer_outputs = chain.forward_with_outputs(x)
    loss = mse_loss(output, y)
    loss.backward()
    report = chain_report(layer_outputs, loss, spectra_max_size=0)
    grad_norms = [record.grad_norm for record in report.layers]
    record = training.train(chain, x, y, args.steps, lr=args.lr, clip=clip)
    weight_ratio = record.weight_grad_norms[0][0] / record.weight_grad_norms[0][-1]
    final = f"halted at {record.halted.step}" if record.halted else f"{record.loss[-1]:.4f}"
    predicted = predicted_ratio(theory_parameters)
    predicted = "-" if predicted is None else format(predicted, ".3e")
    print(f"{name:<24} {grad_norms[0] / grad_norms[-1]:>19.3e} {predicted:>10} {weight_ratio:>19.3e}"
          f" {record.loss[0]:>11.4f} {final:>13}")
    per_layer[name], losses[name] = grad_norms, record.loss

print("\nmeasured at step 0 (before any update); predicted: mean-field, '-' where theory has no formula")
print("(LayerNorm). Clipping leaves every ratio as it was: it multiplies all gradients by one number.")
print("\n|dL/dh_1| / |dL/dh_L| at step 0, log scale:")
ratios = {name: norms[0] / norms[-1] for name, norms in per_layer.items()}
bars, (low, high) = plot.log_bars(list(ratios.values()), 40)
print(f"{'':>25}{plot.log_axis(low, high, 40)}")
for name, bar in zip(ratios, bars):
    print(f"{name:<24} {bar}")

if args.plot:
    layers = list(range(1, args.depth + 1))
    panels = [{"title": "|dL/dh_l| at step 0", "xlabel": "layer l", "ylabel": "|dL/dh_l|",
               "lines": [{"label": name, "x": layers, "y": norms, "style": "o-"} for name, norms in per_layer.items()]},
              {"title": "training loss", "xlabel": "step", "ylabel": "mean squared error",
               "lines": [{"label": name, "x": list(range(len(loss))), "y": loss} for name, loss in losses.items()]}]
    try:
        plot.save_figure(args.plot, panels, title=f"one tanh chain of {args.depth} layers, eight variants")
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
