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

Run:  python examples/q6_fixes.py --depth 20 --steps 40 [--plot q6.png] [--html q6.html]
"""
import sys

import numpy as np

from tinygrad_vg import chain_report, theory, training
from tinygrad_vg.argtypes import finite_float, positive_float, positive_int
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.views.text import log_axis, log_bars


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=20, help="number of layers L (default 20)")
    parser.add_argument("--width", type=positive_int, default=32, help="units per layer (default 32)")
    parser.add_argument("--steps", type=positive_int, default=40, help="SGD steps per variant (default 40)")
    parser.add_argument("--lr", type=finite_float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--clip", type=positive_float, default=1.0,
                        help="max global gradient norm when clipping (default 1)")
    parser.add_argument("--alpha", type=finite_float, default=1.0,
                        help="residual branch scale: h + alpha tanh(z) (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")


def variants(width, clip, alpha):
    """(name, DeepChain options, (sigma_w, sigma_b) for theory, "residual" or None, clip) of each variant."""
    # sigma_w^2 = fan_in Var(W): PyTorch's default U(-1/sqrt(n), 1/sqrt(n)) has Var = 1/(3n) for W and b
    default = dict(sigma_w=np.sqrt(1 / 3), sigma_b=np.sqrt(1 / (3 * width)))
    large = dict(sigma_w=3.0, sigma_b=0.0)
    return [
        ("default init", dict(init="default"), default, None),
        ("N(0, 3^2/n)", dict(init="normal", sigma_w=3.0), large, None),
        ("N(0, 3^2/n) + clipping", dict(init="normal", sigma_w=3.0), large, clip),
        ("Glorot (xavier)", dict(init="xavier"),
         dict(sigma_w=np.sqrt(width * theory.weight_variance("xavier", width, width)), sigma_b=0.0), None),
        ("He", dict(init="he"), dict(sigma_w=np.sqrt(width * theory.weight_variance("he", width, width)), sigma_b=0.0),
         None),
        ("orthogonal", dict(init="orthogonal"), dict(sigma_w=1.0, sigma_b=0.0), None),
        ("default + residual", dict(init="default", residual=True, alpha=alpha), dict(default, residual=alpha), None),
        ("default + LayerNorm", dict(init="default", norm="layer"), None, None),
    ]


def predicted_gains(theory_parameters, depth):
    """Mean-field per-layer gains of E|dL/dh|^2, or None where theory has no formula (LayerNorm)."""
    if theory_parameters is None:
        return None
    sigma_w, sigma_b = theory_parameters["sigma_w"], theory_parameters["sigma_b"]
    if "residual" not in theory_parameters:
        return theory.backward_gains(sigma_w, sigma_b, depth, 1.0, "tanh")
    # Not in theory. h_l = h_(l-1) + alpha tanh(z_l): backward g_(l-1) = g_l (I + alpha diag(tanh') W),
    # and the cross term has mean zero over the symmetric W, so E|g_(l-1)|^2 / E|g_l|^2 =
    # 1 + alpha^2 sigma_w^2 E[tanh'(z_l)^2] (theory.gradient_gain gives the second part). Forward,
    # the per-unit second moment grows m_l = m_(l-1) + alpha^2 E[tanh(z_l)^2], z_l ~ N(0, sigma_w^2 m_(l-1) + sigma_b^2).
    alpha, moment, gains = theory_parameters["residual"], 1.0, []
    for _ in range(depth):
        q = sigma_w ** 2 * moment + sigma_b ** 2
        gains.append(1 + alpha ** 2 * theory.gradient_gain(q, sigma_w, "tanh"))
        moment += alpha ** 2 * theory.second_moment(q, "tanh")
    return gains


@experiment
def run(depth=20, width=32, steps=40, lr=0.1, clip=1.0, alpha=1.0, seed=0):
    if depth < 2:
        raise OptionError(f"need --depth >= 2, got {depth}")
    # The task (as in q2): a random teacher y = tanh(x A); a constant output reaches `constant_loss`.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, width))
    x /= np.sqrt(np.mean(x ** 2))
    y = np.tanh(x @ rng.standard_normal((width, width)) / np.sqrt(width))
    constant_loss = float(np.mean((y - y.mean(axis=0)) ** 2))
    results = []
    for name, options, theory_parameters, clip_norm in variants(width, clip, alpha):
        chain = DeepChain(depth, width, activation="tanh", rng=seed, **options)
        output, layer_outputs = chain.forward_with_outputs(x)
        loss = mse_loss(output, y)
        loss.backward()
        report = chain_report(layer_outputs, loss, spectra_max_size=0)
        grad_norms = [record.grad_norm for record in report.layers]
        record = training.train(chain, x, y, steps, lr=lr, clip=clip_norm)
        gains = predicted_gains(theory_parameters, depth)
        predicted = None if gains is None else (grad_norms[-1] * np.asarray(theory.grad_norm_ratios(gains))).tolist()
        results.append({"name": name, "grad_norms": grad_norms, "predicted_grad_norms": predicted,
                        "ratio": grad_norms[0] / grad_norms[-1],
                        "predicted_ratio": None if gains is None else float(theory.grad_norm_ratios(gains)[0]),
                        "weight_ratio": record.weight_grad_norms[0][0] / record.weight_grad_norms[0][-1],
                        "loss": record.loss, "halted_at": None if record.halted is None else record.halted.step})
    return {"depth": depth, "width": width, "steps": steps, "lr": lr, "clip": clip, "constant_loss": constant_loss,
            "variants": results}


def show(result):
    steps = result["steps"]
    lines = [f"tanh chain, {result['depth']} layers of width {result['width']}; teacher task y = tanh(x A); "
             f"{steps} SGD steps, lr {result['lr']:g}",
             f"(a constant output scores {result['constant_loss']:.4f}; below that the chain uses x)\n",
             f"{'variant':<24} {'|dL/dh_1|/|dL/dh_L|':>19} {'predicted':>10} {'|dL/dW_1|/|dL/dW_L|':>19}"
             f" {'loss step 0':>11} {f'loss step {steps}':>13}"]
    for v in result["variants"]:
        final = f"halted at {v['halted_at']}" if v["halted_at"] is not None else f"{v['loss'][-1]:.4f}"
        predicted = "-" if v["predicted_ratio"] is None else format(v["predicted_ratio"], ".3e")
        lines.append(f"{v['name']:<24} {v['ratio']:>19.3e} {predicted:>10} {v['weight_ratio']:>19.3e}"
                     f" {v['loss'][0]:>11.4f} {final:>13}")
    lines += ["\nmeasured at step 0 (before any update); predicted: mean-field, '-' where theory has no formula",
              "(LayerNorm). Clipping leaves every ratio as it was: it multiplies all gradients by one number.",
              "\n|dL/dh_1| / |dL/dh_L| at step 0, log scale:"]
    bars, (low, high) = log_bars([v["ratio"] for v in result["variants"]], 40)
    lines.append(f"{'':>25}{log_axis(low, high, 40)}")
    lines += [f"{v['name']:<24} {bar}" for v, bar in zip(result["variants"], bars)]
    return "\n".join(lines)


GROUPS = [  # the figure's panels: a few variants each, so that no panel holds eight lines
    ("initialisations that vanish or explode", ["default init", "N(0, 3^2/n)"]),
    ("initialisations with a gain near 1", ["Glorot (xavier)", "He", "orthogonal"]),
    ("architecture: a skip connection, LayerNorm", ["default + residual", "default + LayerNorm"]),
]
LOSS_GROUPS = [
    ("training loss: initialisations", ["default init", "Glorot (xavier)", "He", "orthogonal"]),
    ("training loss: clipping, skip connection, LayerNorm",
     ["N(0, 3^2/n)", "N(0, 3^2/n) + clipping", "default + residual", "default + LayerNorm"]),
]


def figure(result):
    by_name = {v["name"]: (n, v) for n, v in enumerate(result["variants"])}
    layers = list(range(1, result["depth"] + 1))
    panels = []
    for title, names in GROUPS:                 # measured points, mean-field lines in the same colour
        lines = []
        for name in names:
            n, v = by_name[name]
            lines.append({"label": name, "x": layers, "y": v["grad_norms"], "style": f"C{n}o"})
            if v["predicted_grad_norms"] is not None:
                lines.append({"label": "mean-field", "x": layers, "y": v["predicted_grad_norms"], "style": f"C{n}-"})
        panels.append({"title": f"|dL/dh_l| at step 0: {title}", "xlabel": "layer l", "ylabel": "|dL/dh_l|",
                       "lines": lines})
    for title, names in LOSS_GROUPS:
        lines = [{"label": name, "x": list(range(len(by_name[name][1]["loss"]))), "y": by_name[name][1]["loss"],
                  "style": f"C{by_name[name][0]}-"} for name in names]
        lines.append({"label": "constant output", "x": [0, result["steps"] - 1], "y": [result["constant_loss"]] * 2,
                      "style": "k--"})
        panels.append({"title": title, "xlabel": "training step", "ylabel": "mean squared error", "lines": lines})
    panels.append({"title": "every variant at step 0, and its loss", "table": {
        "header": ["variant", "|dL/dh_1|/|dL/dh_L|", "predicted", "|dL/dW_1|/|dL/dW_L|", "loss step 0",
                   f"loss step {result['steps']}"],
        "rows": [[v["name"], v["ratio"], "-" if v["predicted_ratio"] is None else v["predicted_ratio"],
                  v["weight_ratio"], v["loss"][0],
                  v["loss"][-1] if v["halted_at"] is None else f"halted at {v['halted_at']}"]
                 for v in result["variants"]]}})
    return panels


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
