"""Question 4: tanh keeps activations in [-1, 1] and tanh' <= 1 — how can anything explode?

Short answer: backward, layer l multiplies the gradient by W_l^T diag(tanh'(z_l)), and W is not
bounded by 1. With W ~ N(0, sigma_w^2 / width) each layer scales the squared gradient norm by
chi_1 = sigma_w^2 E[tanh'(z)^2] (mean-field theory, Poole et al. 2016, Schoenholz et al. 2017).
Large sigma_w saturates tanh (small tanh') but grows W faster: chi_1 > 1 past the critical
sigma_w, and the gradient explodes while every activation stays inside [-1, 1].

Theory here is statistical: exact as width -> infinity. At width 128 the measured chi_1 is within
a few percent, and the spread over seeds is printed beside it.

Run:  python examples/q4_tanh_explodes.py --sigma-w 0.8 1.0 1.5 2.5 [--plot q4.png] [--html q4.html]
"""
import sys

import numpy as np

from tinygrad_vg import chain_report, theory
from tinygrad_vg.argtypes import finite_float, positive_int
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.views.axes import decade_range
from tinygrad_vg.views.text import log_axis, log_bar


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=30, help="number of layers L (default 30)")
    parser.add_argument("--width", type=positive_int, default=128, help="units per layer (default 128)")
    parser.add_argument("--sigma-w", type=finite_float, nargs="+", default=[0.8, 1.0, 1.5, 2.5],
                        help="weight scales: W ~ N(0, sigma_w^2 / width)")
    parser.add_argument("--sigma-b", type=finite_float, default=0.1,
                        help="bias scale: b ~ N(0, sigma_b^2) (default 0.1)")
    parser.add_argument("--burn-in", type=int, default=10,
                        help="layers skipped before averaging the gain, while q_l settles at q* (default 10)")
    parser.add_argument("--seeds", type=positive_int, default=3, help="independent chains per sigma_w (default 3)")


def measure_chain(depth, width, sigma_w, sigma_b, burn_in, seed):
    """One tanh chain: its measured chi_1, |dL/dh_l| per layer and largest |h|."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, width))
    x /= np.sqrt(np.mean(x ** 2))          # mean(x^2) = 1: the input second moment theory is given
    target = rng.standard_normal((8, width))
    chain = DeepChain(depth, width, activation="tanh", init="normal", sigma_w=sigma_w, sigma_b=sigma_b, rng=rng)
    output, layer_outputs = chain.forward_with_outputs(x)
    loss = mse_loss(output, target)
    loss.backward()
    report = chain_report(layer_outputs, loss, spectra_max_size=0)
    # report gain of layer l = |dL/dh_(l-1)| / |dL/dh_l|; its square is what chi_1 predicts.
    # Average log(gain^2) over layers past the burn-in, where q_l has reached q*.
    squared_gains = [record.gain ** 2 for record in report.layers[burn_in:] if record.gain is not None]
    return {"chi1": float(np.exp(np.mean(np.log(squared_gains)))),
            "grad_norms": [record.grad_norm for record in report.layers],
            "largest_activation": float(max(np.max(np.abs(h.data)) for h in layer_outputs))}


@experiment
def run(depth=30, width=128, sigma_w=(0.8, 1.0, 1.5, 2.5), sigma_b=0.1, burn_in=10, seeds=3):
    if depth <= burn_in + 1 or burn_in < 0:
        raise OptionError(f"need --depth > --burn-in + 1 and --burn-in >= 0 (got --depth {depth}, --burn-in {burn_in})")
    chains = []
    for s in sigma_w:
        measured = [measure_chain(depth, width, s, sigma_b, burn_in, seed) for seed in range(seeds)]
        chi1 = [m["chi1"] for m in measured]
        ratios = [m["grad_norms"][0] / m["grad_norms"][-1] for m in measured]
        # theory: per-layer gains sigma_w^2 E[tanh'(z_l)^2] with z_l ~ N(0, q_l) from the length map
        predicted = theory.grad_norm_ratios(theory.backward_gains(s, sigma_b, depth, 1.0, "tanh"))
        seed_0 = measured[0]["grad_norms"]
        chains.append({"sigma_w": s, "fixed_point": theory.tanh_fixed_point(s, sigma_b),
                       "chi1": theory.tanh_chi1(s, sigma_b),
                       "measured_chi1": float(np.mean(chi1)), "measured_chi1_std": float(np.std(chi1)),
                       "largest_activation": max(m["largest_activation"] for m in measured),
                       "ratio": float(np.mean(ratios)), "predicted_ratio": float(predicted[0]),
                       "grad_norms": seed_0,                                # seed 0's, per layer
                       "predicted_grad_norms": (seed_0[-1] * np.asarray(predicted)).tolist()})
    return {"depth": depth, "width": width, "sigma_b": sigma_b, "burn_in": burn_in, "seeds": seeds,
            "critical_sigma_w": theory.tanh_critical_sigma_w(sigma_b), "chains": chains}


def show(result):
    sigma_b = result["sigma_b"]
    lines = [f"tanh chain: {result['depth']} layers of width {result['width']}, W ~ N(0, sigma_w^2/width), "
             f"b ~ N(0, {sigma_b}^2), {result['seeds']} seeds",
             f"critical sigma_w for sigma_b = {sigma_b}: {result['critical_sigma_w']:.4f} "
             "(chi_1 = 1: below it gradients vanish, above it they explode)\n",
             f"{'sigma_w':>7} {'q*':>8} {'chi_1 theory':>12} {'chi_1 measured':>18} {'max |h|':>8}"
             f" {'|dL/dh_1|/|dL/dh_L| measured':>28} {'predicted':>10}"]
    for c in result["chains"]:
        spread = f"{c['measured_chi1']:.4f} +- {c['measured_chi1_std']:.4f}"
        lines.append(f"{c['sigma_w']:>7g} {c['fixed_point']:>8.4f} {c['chi1']:>12.4f} {spread:>18} "
                     f"{c['largest_activation']:>8.5f} {c['ratio']:>28.4e} {c['predicted_ratio']:>10.4e}")
    lines += ["\nmeasured: mean over seeds (+- one standard deviation); predicted: theory.backward_gains,",
              "the product of sigma_w^2 E[tanh'(z_l)^2] over layers 2..L, square-rooted.",
              "\n|dL/dh_1| / |dL/dh_L| (measured), log scale:"]
    low, high = decade_range([c["ratio"] for c in result["chains"]])
    lines.append(f"{'':>16}{log_axis(low, high, 40)}")
    lines += [f"sigma_w = {c['sigma_w']:<5g} {log_bar(c['ratio'], low, high, 40)}" for c in result["chains"]]
    lines += ["\nEvery |h| stays below 1, yet the gradient grows wherever chi_1 > 1: tanh' <= 1 bounds only one",
              "of the two factors of each layer's Jacobian, W^T diag(tanh')."]
    return "\n".join(lines)


def figure(result):
    """|dL/dh_l| per layer, measured points beside theory's line: one panel for the sigma_w that vanish
    (chi_1 < 1), one for those that explode, so that no panel holds more than a few lines."""
    layers = list(range(1, result["depth"] + 1))
    panels = []
    for side, title in ((lambda chi1: chi1 < 1, "chi_1 < 1: vanishing"), (lambda chi1: chi1 >= 1, "chi_1 > 1: exploding")):
        lines = []
        for n, c in enumerate(result["chains"]):
            if side(c["chi1"]):
                lines.append({"label": f"sigma_w={c['sigma_w']:g}", "x": layers, "y": c["grad_norms"],
                              "style": f"C{n}o"})
                lines.append({"label": "theory", "x": layers, "y": c["predicted_grad_norms"], "style": f"C{n}-"})
        if lines:
            panels.append({"title": f"{title} (width {result['width']}, seed 0)", "xlabel": "layer l",
                           "ylabel": "|dL/dh_l|", "lines": lines})
    panels.append({"title": "chi_1 per layer: measured (mean over seeds) beside mean-field theory",
                   "table": {"header": ["sigma_w", "q*", "chi_1 theory", "chi_1 measured", "+-", "max |h|",
                                        "|dL/dh_1|/|dL/dh_L|", "predicted"],
                             "rows": [[c["sigma_w"], c["fixed_point"], c["chi1"], c["measured_chi1"],
                                       c["measured_chi1_std"], f"{c['largest_activation']:.5f}", c["ratio"],
                                       c["predicted_ratio"]] for c in result["chains"]]}})
    return panels


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
