"""tour: four questions about vanishing and exploding gradients, each answered by a real run printed beside theory's number.

The tour until tinygrad_vg/commands/tour.py (the lessons q1-q4 run in sequence) replaces it: each
section runs the `chain` or `train` command's experiment with the tour's settings.

Run:  tinygrad-vg [tour] [--json] [--plot tour.png] [--html tour.html]
"""
import sys

import numpy as np

from .. import theory
from ..diagnostics import describe, norm, ratio
from ..experiments.chain_theory import predicted_gains
from ..experiments.chains import best_constant_loss, build_chain
from ..experiments.measures import product
from ..nn.losses import mse_loss
from ..script import experiment, main
from ..tensor import Tensor
from ..training import train
from ..views.text import indent, table
from . import chain, train as train_command
from .panels import series

TOUR_DEFAULTS = dict(batch=16, activation="linear", init="identity", scale=1.0, sigma_w=1.0, sigma_b=0.0,
                     residual=False, alpha=1.0, norm=None, dropout=0.0, dtype="float64", seed=0)
SECTIONS = ("identity", "training", "overflow", "tanh")


def tour_config(**changes):
    return {**TOUR_DEFAULTS, **changes}


def arguments(parser):
    """The tour takes no flags but the views'."""


def tour_identity(depth=50, scales=(0.9, 1.0, 1.1)):
    """Q1: W = k I. Measured |dL/dh_l| against the exact theory.identity_chain."""
    runs = []
    for k in scales:
        config = tour_config(depth=depth, width=8, batch=4, scale=k)
        result = chain.run(**config)
        _, x, target = build_chain(result["config"])
        exact = theory.identity_chain(k, depth, x, target)
        measured = np.array([record["grad_norm"] for record in result["layers"]])
        weight_grads = np.array([record["weight_grad_norm"] for record in result["layers"]])
        runs.append({"k": k, "grad_norms": measured, "theory_grad_norms": exact.grad_norms,
                     "max_relative_error": float(np.max(np.abs(measured / exact.grad_norms - 1))),
                     "weight_grad_norm_spread": float(weight_grads.max() / weight_grads.min()),
                     "fit": result["log10_gain_per_layer"]})
    return {"depth": depth, "runs": runs}


def show_identity(section):
    depth = section["depth"]
    shown = sorted({1, *range(10, depth, 10), depth})
    header = ["layer"] + [f"{name} k={run['k']:g}" for run in section["runs"] for name in ("measured", "k^(L-l)")]
    rows = [[l] + [value for run in section["runs"]
                   for value in (describe(run["grad_norms"][l - 1]), describe(run["theory_grad_norms"][l - 1]))]
            for l in shown]
    lines = [f"1. Weights a bit smaller or larger than the identity: W_l = k I, linear, {depth} layers.",
             "   Backward multiplies by W_l^T = k I at every layer, so |dL/dh_l| = k^(L-l) |dL/dh_L| exactly.",
             indent(table(header, rows))]
    for run in section["runs"]:
        lines.append(f"   k = {run['k']:g}: |dL/dh_1| / |dL/dh_L| = {run['grad_norms'][0] / run['grad_norms'][-1]:.4g}"
                     f" (k^{depth - 1} = {run['k'] ** (depth - 1):.4g}), fitted factor per layer "
                     f"{10 ** run['fit']['measured']:.6f}, worst relative error {run['max_relative_error']:.1e}")
    lines.append("   A factor of 0.9 or 1.1 per layer looks harmless; it compounds to k^(L-1) over the chain, and deeper\n"
                 "   chains compound further. (|dL/dW_l| = k^(L-1) |G^T x| is the same at every layer here:\n"
                 "   h_(l-1) = k^(l-1) x grows exactly as dL/dh_l shrinks, so with k < 1 every weight gradient is small.)")
    return "\n".join(lines)


def tour_training(depth=16, width=32, batch=64, steps=80, lr=1.0):
    """Q2: a sigmoid chain (gain ~ 1/4 per layer) trained with SGD: layer 1 never learns."""
    config = tour_config(depth=depth, width=width, batch=batch, activation="sigmoid", init="normal", seed=1)
    model, x, target = build_chain(config)
    initial = [w.data.copy() for w in model.weights]
    record = train(model, x, target, steps, lr=lr)
    change = [norm(w.data - w0) / norm(w0) for w, w0 in zip(model.weights, initial)]
    gains = predicted_gains(config, float(np.mean(x ** 2)))[0]
    return {"config": {**config, "steps": steps, "lr": lr}, "loss": record.loss,
            "first_layer_weight_grad": [row[0] for row in record.weight_grad_norms],
            "last_layer_weight_grad": [row[-1] for row in record.weight_grad_norms],
            "relative_weight_change": change,
            "predicted_gains": gains, "predicted_grad_ratio": product(gains[1:]),
            "best_constant_loss": best_constant_loss(target)}


def show_training(section):
    config = section["config"]
    depth, steps = config["depth"], config["steps"]
    typical_gain = product(section["predicted_gains"][1:]) ** (1 / max(depth - 1, 1))
    first, last, loss = section["first_layer_weight_grad"], section["last_layer_weight_grad"], section["loss"]
    shown = sorted({0, *range(0, steps, max(1, steps // 5)), steps - 1})
    rows = [[s, f"{loss[s]:.5f}", describe(first[s]), describe(last[s]), describe(ratio(first[s], last[s]))]
            for s in shown]
    change = section["relative_weight_change"]
    worst = max(ratio(a, b) for a, b in zip(first, last))
    return "\n".join([
        f"2. Won't training fix the shallow layers? A sigmoid chain, {depth} layers of width {config['width']},"
        f" W ~ N(0, 1/n), SGD lr {config['lr']:g} for {steps} steps.",
        f"   sigmoid' <= 1/4: theory's gain per layer is ~{typical_gain:.3f}, "
        f"so |dL/dh_1| / |dL/dh_L| = {section['predicted_grad_ratio']:.2e} at the start.",
        indent(table(["step", "loss", "|dL/dW_1|", f"|dL/dW_{depth}|", "ratio"], rows)),
        f"   After {steps} steps W_1 moved by {change[0]:.1e} of itself and W_{depth} by {change[-1]:.2f}: the deep"
        f" layers learn,\n   the shallow ones stay frozen, and the ratio never rises above {worst:.0e}: training"
        " does not repair it.\n   What the top layers learn is a constant: the forward signal of x shrinks by the"
        f" same ~1/4 per layer,\n   so the loss creeps from {loss[0]:.4f} to {loss[-1]:.4f}, towards "
        f"{section['best_constant_loss']:.4f}, the loss of predicting the targets' mean and ignoring x."])


def tour_overflow(depth=80, scale=4.0, steps=5):
    """Q3: W = 4 I in float32 overflows in the forward pass; the run halts, and unchecked it poisons every weight."""
    config = tour_config(depth=depth, width=8, batch=4, scale=scale, dtype="float32")
    result = train_command.run(**config, steps=steps, lr=0.01)
    model, x, target = build_chain(result["config"])
    with np.errstate(all="ignore"):      # the same step without anomaly detection
        output = model(Tensor(x, dtype=np.float32))
        loss = mse_loss(output, Tensor(target, dtype=np.float32))
        loss.backward()
    poisoned = sum(not np.all(np.isfinite(w.grad)) for w in model.weights)
    return {"config": result["config"], "halted": result["halted"], "predicted_halt": result["predicted_halt"],
            "predicted_layer": theory.overflow_layer(scale, x, np.float32, depth),
            "unchecked_loss": float(loss.data), "unchecked_nonfinite_weight_grads": poisoned,
            "float32_max": float(np.finfo(np.float32).max)}


def show_overflow(section):
    config, halted, predicted = section["config"], section["halted"], section["predicted_layer"]
    depth, k = config["depth"], config["scale"]
    lines = [f"3. Forward overflow: W = {k:g} I in float32, {depth} layers. |h_l| = {k:g}^l |x| passes float32's "
             f"max {section['float32_max']:.3g}\n   at layer {predicted} (theory.overflow_layer)."]
    if halted is None:
        lines.append("   the run did not halt (unexpected)")
    else:
        lines.append(f"   training halted at {train_command.describe_halt(halted)}"
                     f"{' - as predicted' if halted['layer'] == predicted else ' - NOT the predicted layer'}.")
    lines.append(f"   Unchecked, the same step gives loss {section['unchecked_loss']} and non-finite dL/dW in "
                 f"{section['unchecked_nonfinite_weight_grads']} of {depth} layers:\n   dL/dW_l = (dL/dz_l)^T h_(l-1), "
                 "and both factors come from the inf activations (inf - inf, 0 * inf = nan),\n   so one SGD step makes"
                 " those weights nan for good. Backward cannot fix what forward destroyed.")
    return "\n".join(lines)


def tour_tanh(sigma_ws=(1.0, 2.5), sigma_b=0.3, depth=30, width=256):
    """Q4: tanh with sigma_b = 0.3: chi_1 < 1 at sigma_w = 1 (vanishing), > 1 at 2.5 (exploding)."""
    runs = []
    for sigma_w in sigma_ws:
        result = chain.run(**tour_config(depth=depth, width=width, activation="tanh", init="normal", sigma_w=sigma_w,
                                         sigma_b=sigma_b, seed=2))
        gains = np.array([record["gain"] for record in result["layers"]])
        # layers 6..L-1: the length map has reached q* and the top layer's cotangent (which depends on
        # h_L) is left out; the geometric mean of the squared gains estimates chi_1 there
        middle = gains[5:-1]
        runs.append({"sigma_w": sigma_w, "chi1": theory.tanh_chi1(sigma_w, sigma_b),
                     "measured_chi1": float(np.exp(np.mean(np.log(middle ** 2)))),
                     "rms_activation": max(record["rms_activation"] for record in result["layers"]),
                     "end_to_end_ratio": result["end_to_end_ratio"],
                     "predicted_end_to_end_ratio": result["predicted_end_to_end_ratio"],
                     "fit": result["log10_gain_per_layer"], "gains": gains,
                     "predicted_gains": [record["predicted_gain"] for record in result["layers"]]})
    return {"sigma_b": sigma_b, "depth": depth, "width": width, "runs": runs}


def show_tanh(section):
    rows = [[f"{run['sigma_w']:g}", f"{run['chi1']:.4f}", f"{run['measured_chi1']:.4f}",
             f"{run['rms_activation']:.3f}", describe(run["end_to_end_ratio"]),
             describe(run["predicted_end_to_end_ratio"])] for run in section["runs"]]
    return "\n".join([
        f"4. tanh is bounded and tanh' <= 1, yet: W ~ N(0, sigma_w^2/n), b ~ N(0, {section['sigma_b']:g}^2), "
        f"{section['depth']} layers of width {section['width']}.",
        "   Each layer multiplies the gradient by diag(tanh'(z)) W^T: tanh' <= 1 shrinks, but W^T stretches by"
        " ~sigma_w.\n   Mean field: |dL/dh|^2 changes by chi_1 = sigma_w^2 E[tanh'(z)^2] per layer, z ~ N(0, q*).",
        indent(table(["sigma_w", "chi_1 theory", "chi_1 measured", "rms |h|", "|dL/dx|/|dL/dh_L|", "theory"], rows)),
        "   (measured chi_1: geometric mean of gain^2 over layers 6..L-1; rms |h| <= 1 always.) Activations stay"
        " bounded;\n   the gradient still explodes when chi_1 > 1: sigma_w's stretch beats tanh's squash."])


RUNS = {"identity": tour_identity, "training": tour_training, "overflow": tour_overflow, "tanh": tour_tanh}
SHOWS = {"identity": show_identity, "training": show_training, "overflow": show_overflow, "tanh": show_tanh}


@experiment
def run(progress=None):
    """The four sections; `progress(k, name)`, if given, is called as each starts."""
    result = {"command": "tour"}
    for k, name in enumerate(SECTIONS, 1):
        if progress:
            progress(k, name)
        result[name] = RUNS[name]()
    return result


def show(result):
    return "\n\n".join(["tinygrad-vg: vanishing and exploding gradients, measured beside theory  "
                        "(`tinygrad-vg --help` for more)", *(SHOWS[name](result[name]) for name in SECTIONS)])


def figure(result):
    identity, training, overflow, tanh = (result[name] for name in SECTIONS)
    layers = range(1, identity["depth"] + 1)
    q1 = [series(f"k = {run['k']:g}", layers, run["grad_norms"], f"C{n}o") for n, run in enumerate(identity["runs"])]
    q1 += [series(f"k^(L-l), k = {run['k']:g}", layers, run["theory_grad_norms"], f"C{n}-")
           for n, run in enumerate(identity["runs"])]
    steps = range(len(training["loss"]))
    depth = overflow["config"]["depth"]
    tanh_layers = range(1, tanh["depth"] + 1)
    return [
        {"title": "1. W = k I: |dL/dh_l|", "xlabel": "layer l", "ylabel": "|dL/dh_l|", "lines": q1},
        {"title": "2. training: weight gradients", "xlabel": "step", "ylabel": "|dL/dW|",
         "lines": [series("layer 1", steps, training["first_layer_weight_grad"], "-"),
                   series(f"layer {training['config']['depth']}", steps, training["last_layer_weight_grad"], "-")]},
        {"title": "3. float32 W = 4 I: |h_l| = 4^l |x|", "xlabel": "layer l", "ylabel": "|h_l|",
         "marks": [] if overflow["halted"] is None else [{"x": overflow["halted"]["layer"], "label": "halted"}],
         "lines": [series("|h_l| (theory)", range(1, depth + 1), 4.0 ** np.arange(1, depth + 1), "-"),
                   series("float32 max", [1, depth], [overflow["float32_max"]] * 2, "--")]},
        {"title": "4. tanh: per-layer gain", "xlabel": "layer l", "ylabel": "gain",
         "lines": [series(f"sigma_w = {run['sigma_w']:g}", tanh_layers, run["gains"], f"C{n}o")
                   for n, run in enumerate(tanh["runs"])]
         + [series(f"theory, sigma_w = {run['sigma_w']:g}", tanh_layers, run["predicted_gains"], f"C{n}-")
            for n, run in enumerate(tanh["runs"])]},
    ]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
