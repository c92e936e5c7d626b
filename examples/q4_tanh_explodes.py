"""Question 4: tanh keeps activations in [-1, 1] and tanh' <= 1 — how can anything explode?

Short answer: backward, layer l multiplies the gradient by W_l^T diag(tanh'(z_l)), and W is not
bounded by 1. With W ~ N(0, sigma_w^2 / width) each layer scales the squared gradient norm by
chi_1 = sigma_w^2 E[tanh'(z)^2] (mean-field theory, Poole et al. 2016, Schoenholz et al. 2017).
Large sigma_w saturates tanh (small tanh') but grows W faster: chi_1 > 1 past the critical
sigma_w, and the gradient explodes while every activation stays inside [-1, 1].

Theory here is statistical: exact as width -> infinity. At width 128 the measured chi_1 is within
a few percent, and the spread over seeds is printed beside it.

Run:  python examples/q4_tanh_explodes.py --sigma-w 0.8 1.0 1.5 2.5 [--plot q4.png]
"""
import argparse

import numpy as np

from tinygrad_vg import chain_report, plot, theory
from tinygrad_vg.nn import DeepChain, mse_loss

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=30, help="number of layers L (default 30)")
parser.add_argument("--width", type=int, default=128, help="units per layer (default 128)")
parser.add_argument("--sigma-w", type=float, nargs="+", default=[0.8, 1.0, 1.5, 2.5],
                    help="weight scales: W ~ N(0, sigma_w^2 / width)")
parser.add_argument("--sigma-b", type=float, default=0.1, help="bias scale: b ~ N(0, sigma_b^2) (default 0.1)")
parser.add_argument("--burn-in", type=int, default=10,
                    help="layers skipped before averaging the gain, while q_l settles at q* (default 10)")
parser.add_argument("--seeds", type=int, default=3, help="independent chains per sigma_w (default 3)")
parser.add_argument("--plot", metavar="FILE.png", help="also draw |dL/dh_l| per layer for each sigma_w")
args = parser.parse_args()
if args.depth <= args.burn_in + 1 or args.width < 1 or args.seeds < 1:
    parser.error("need --depth > --burn-in + 1, --width >= 1 and --seeds >= 1")

print(f"tanh chain: {args.depth} layers of width {args.width}, W ~ N(0, sigma_w^2/width), "
      f"b ~ N(0, {args.sigma_b}^2), {args.seeds} seeds")
print(f"critical sigma_w for sigma_b = {args.sigma_b}: {theory.tanh_critical_sigma_w(args.sigma_b):.4f} "
      "(chi_1 = 1: below it gradients vanish, above it they explode)\n")
print(f"{'sigma_w':>7} {'q*':>8} {'chi_1 theory':>12} {'chi_1 measured':>18} {'max |h|':>8}"
      f" {'|dL/dh_1|/|dL/dh_L| measured':>28} {'predicted':>10}")

first_layer_ratios, per_layer = {}, {}
for sigma_w in args.sigma_w:
    chi1_measured, ratios, largest_activation = [], [], 0.0
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((8, args.width))
        x /= np.sqrt(np.mean(x ** 2))          # mean(x^2) = 1: the input second moment theory is given
        target = rng.standard_normal((8, args.width))
        chain = DeepChain(args.depth, args.width, activation="tanh", init="normal",
                          sigma_w=sigma_w, sigma_b=args.sigma_b, rng=rng)
        output, layer_outputs = chain.forward_with_outputs(x)
        loss = mse_loss(output, target)
        loss.backward()
        report = chain_report(layer_outputs, loss, spectra_max_size=0)
        # report gain of layer l = |dL/dh_(l-1)| / |dL/dh_l|; its square is what chi_1 predicts.
        # Average log(gain^2) over layers past the burn-in, where q_l has reached q*.
        squared_gains = [record.gain ** 2 for record in report.layers[args.burn_in:] if record.gain is not None]
        chi1_measured.append(np.exp(np.mean(np.log(squared_gains))))
        grad_norms = np.array([record.grad_norm for record in report.layers])
        ratios.append(grad_norms[0] / grad_norms[-1])
        largest_activation = max(largest_activation, max(np.max(np.abs(h.data)) for h in layer_outputs))
        if seed == 0:
            per_layer[sigma_w] = grad_norms
    # theory: per-layer gains sigma_w^2 E[tanh'(z_l)^2] with z_l ~ N(0, q_l) from the length map
    gains = theory.backward_gains(sigma_w, args.sigma_b, args.depth, 1.0, "tanh")
    predicted_ratio = theory.grad_norm_ratios(gains)[0]
    first_layer_ratios[sigma_w] = (np.mean(ratios), predicted_ratio)
    spread = f"{np.mean(chi1_measured):.4f} +- {np.std(chi1_measured):.4f}"
    print(f"{sigma_w:>7g} {theory.tanh_fixed_point(sigma_w, args.sigma_b):>8.4f} "
          f"{theory.tanh_chi1(sigma_w, args.sigma_b):>12.4f} {spread:>18} {largest_activation:>8.5f}"
          f" {np.mean(ratios):>28.4e} {predicted_ratio:>10.4e}")

print("\nmeasured: mean over seeds (+- one standard deviation); predicted: theory.backward_gains,")
print("the product of sigma_w^2 E[tanh'(z_l)^2] over layers 2..L, square-rooted.")
print("\n|dL/dh_1| / |dL/dh_L| (measured), log scale:")
low, high = plot.decade_range([measured for measured, _ in first_layer_ratios.values()])
print(f"{'':>16}{plot.log_axis(low, high, 40)}")
for sigma_w, (measured, _) in first_layer_ratios.items():
    print(f"sigma_w = {sigma_w:<5g} {plot.log_bar(measured, low, high, 40)}")
print("\nEvery |h| stays below 1, yet the gradient grows wherever chi_1 > 1: tanh' <= 1 bounds only one")
print("of the two factors of each layer's Jacobian, W^T diag(tanh').")

if args.plot:
    layers = list(range(1, args.depth + 1))
    lines = []
    for n, (sigma_w, grad_norms) in enumerate(per_layer.items()):
        predicted = grad_norms[-1] * theory.grad_norm_ratios(
            theory.backward_gains(sigma_w, args.sigma_b, args.depth, 1.0, "tanh"))
        lines.append({"label": f"sigma_w={sigma_w:g} measured", "x": layers, "y": grad_norms, "style": f"C{n}o"})
        lines.append({"label": "mean-field theory", "x": layers, "y": predicted, "style": f"C{n}-"})
    try:
        plot.save_figure(args.plot, [{"title": f"tanh chain, width {args.width} (seed 0)", "xlabel": "layer l",
                                      "ylabel": "|dL/dh_l|", "lines": lines}])
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
