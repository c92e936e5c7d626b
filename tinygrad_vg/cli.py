"""tinygrad-vg: deep chains whose gradients vanish or explode, measured beside what theory predicts.

  tinygrad-vg [tour] ...       the tour: questions 1-4 answered with real runs (a few seconds)
  tinygrad-vg chain ...        one forward/backward; per layer, theory's gain beside the measured gain
  tinygrad-vg train ...        train a chain on a synthetic task; the per-step story and where it halts
  tinygrad-vg rnn ...          a vanilla RNN over T steps: dLoss/dh_t against the recurrent matrix
  tinygrad-vg paths EXPR ...   the chain rule as a sum over paths, for a small expression

Every command takes --help, --json (one JSON object on stdout; inf and nan, which JSON cannot hold,
are written as the strings "inf", "-inf" and "nan") and --plot FILE.png (needs matplotlib).
Options before any command are the tour's: `tinygrad-vg --json` is `tinygrad-vg tour --json`.
Layer l is the module layers.(l-1); "grad norm of layer l" is |dLoss/dh_l|, h_l its output.
"""
import argparse
import ast
import math
import operator
import os
import re
import sys
import time
from types import SimpleNamespace

import numpy as np

from . import __version__, chain_rule, optim, plot, theory
from .argtypes import finite_float, non_negative_float, positive_float, positive_int, probability
from .diagnostics import chain_report, describe, norm, ratio
from .nn import RNN, DeepChain
from .nn.rnn import NONLINEARITIES
from .nn.chain import initialise
from .nn.losses import mse_loss
from .tensor import Tensor
from .training import train
from .views.jsondata import json_ready, to_json

DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
NORMS = {"none": None, "layer": "layer", "batch": "batch"}    # --norm's choices -> DeepChain's norm
NORM_NAMES = {"layer": "LayerNorm", "batch": "BatchNorm1d"}
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
TOP_LEVEL_FLAGS = ("-h", "--help", "--version")   # any other option before a command is the tour's
CHAIN_KEYS = ("depth", "width", "batch", "activation", "init", "scale", "sigma_w", "sigma_b",
              "residual", "alpha", "norm", "dropout", "dtype", "seed")


# ---------------------------------------------------------------- output helpers

class Progress:
    """Progress lines on stderr, at most one a second: runs shorter than a second print nothing."""

    def __init__(self, label, total):
        self.label, self.total = label, total
        self.last = time.monotonic()

    def __call__(self, done, detail=""):
        now = time.monotonic()
        if now - self.last >= 1.0:
            print(f"[{self.label}] {done}/{self.total} {detail}", file=sys.stderr, flush=True)
            self.last = now


def table(header, rows, bars=None, axis=""):
    """Right-aligned columns two spaces apart, with an optional log bar after each row."""
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]

    def cells_text(cells):
        return "  ".join(str(cell).rjust(width) for cell, width in zip(cells, widths))

    lines = [cells_text(header) + ("  " + axis if axis else "")]
    for k, row in enumerate(rows):
        lines.append((cells_text(row) + ("  " + bars[k] if bars else "")).rstrip())
    return "\n".join(lines)


def bars_and_axis(values, width=24):
    bars, (low, high) = plot.log_bars(values, width)
    return bars, plot.log_axis(low, high, width)


def write_figure(path, panels, title):
    """save_figure, or the install hint when matplotlib is missing (on stderr: stdout may be JSON)."""
    try:
        plot.save_figure(path, panels, title)
    except ImportError as error:
        print(error, file=sys.stderr)
        return
    except OSError as error:
        print(f"could not write {path}: {error}", file=sys.stderr)
        return
    print(f"wrote {path}", file=sys.stderr)


def line(label, x, y, style="-"):
    return {"label": label, "x": list(x), "y": list(y), "style": style}


# ---------------------------------------------------------------- chains and what theory says about them

def synthetic_task(batch, width, rng):
    """x ~ N(0, 1) of shape (batch, width) and targets y = tanh(x A^T) of a fixed random teacher
    A ~ N(0, 1/width): a smooth map with targets in (-1, 1) that every chain can try to learn."""
    x = rng.standard_normal((batch, width))
    teacher = rng.standard_normal((width, width)) / math.sqrt(width)
    return x, np.tanh(x @ teacher.T)


def best_constant_loss(target):
    """The MSE of the best prediction that ignores x, the targets' mean: the plateau of a chain whose
    signal from x does not get through."""
    return float(np.mean((target - target.mean(axis=0)) ** 2))


def build_chain(config):
    """The DeepChain of `config`, its input and its target, all drawn from config["seed"]."""
    rng = np.random.default_rng(config["seed"])
    model = DeepChain(config["depth"], config["width"], config["activation"], config["init"],
                      scale=config["scale"], sigma_w=config["sigma_w"], sigma_b=config["sigma_b"],
                      residual=config["residual"], alpha=config["alpha"], norm=config["norm"],
                      dropout=config["dropout"], dtype=DTYPES[config["dtype"]], rng=rng)
    x, target = synthetic_task(config["batch"], config["width"], rng)
    return model, x, target


def effective_sigmas(config):
    """(sigma_w, sigma_b) with Var(W) = sigma_w^2 / fan_in for the random initialisations:
    xavier on a square layer is 2 / (n + n) = 1/n times scale^2, he is 2/n times scale^2, and an
    orthogonal scale * Q preserves norms exactly like sigma_w = |scale| does on average. PyTorch's
    default U(-1/sqrt(n), 1/sqrt(n)) has Var = 1/(3n) for W and b: sigma_w^2 = 1/3, sigma_b^2 = 1/(3n)."""
    if config["init"] == "normal":
        return config["sigma_w"], config["sigma_b"]
    if config["init"] == "default":
        return math.sqrt(1 / 3), math.sqrt(1 / (3 * config["width"]))
    if config["init"] == "he":
        return abs(config["scale"]) * math.sqrt(2.0), 0.0
    return abs(config["scale"]), 0.0


def predicted_gains(config, input_second_moment):
    """(theory's |dL/dh_(l-1)| / |dL/dh_l| for l = 1..L, or None where no theory applies; its basis)."""
    depth, activation, init = config["depth"], config["activation"], config["init"]
    scale, alpha = config["scale"], config["alpha"]
    if config["dropout"]:
        return None, "none: dropout's random masks are not in the gain formulas used here"
    if config["norm"] == "batch" and not config["residual"] and config["batch"] >= 4:
        growth = theory.batchnorm_gradient_growth(config["batch"], activation, samples=20_000)
        return np.full(depth, growth.per_layer), (
            f"mean-field at BatchNorm's fixed point (Yang et al. 2019; {growth.method}), exact as width -> infinity "
            f"(here {config['width']}): gain = sqrt({growth.squared:.4g}) per layer at batch {config['batch']}, "
            "whatever sigma_w")
    if config["norm"] == "batch":
        return None, "none: the mean-field BatchNorm rate covers chains without skips, batch >= 4"
    if config["norm"]:
        return None, "none: LayerNorm makes each layer's gain depend on its own input"
    if config["residual"]:
        if activation != "linear":
            return None, "none: theory covers residual blocks with a linear branch only"
        if init == "identity":
            return np.full(depth, abs(1 + alpha * scale)), \
                "exact: h_l = (1 + alpha k) h_(l-1), so every gain is |1 + alpha k|"
        sigma_w = effective_sigmas(config)[0]
        return np.full(depth, math.sqrt(theory.residual_gain(alpha, sigma_w))), \
            f"in expectation at any width: sqrt(1 + alpha^2 sigma_w^2) per block, sigma_w = {sigma_w:.4g}"
    if init == "identity" or (init == "orthogonal" and activation == "linear"):
        if activation != "linear":
            return None, f"none: a {activation} chain with W = k I has no closed-form gain"
        return np.full(depth, abs(scale)), "exact: W = k I (or k Q, Q orthogonal) scales the gradient by |k|"
    sigma_w, sigma_b = effective_sigmas(config)
    gains = np.sqrt(theory.backward_gains(sigma_w, sigma_b, depth, input_second_moment, activation))
    kind = ("exact in expectation" if activation == "linear"
            else f"mean-field, exact as width -> infinity (here {config['width']})")
    return gains, (f"{kind}: gain_l = sqrt(sigma_w^2 E[phi'(z_l)^2]), sigma_w = {sigma_w:.4g}, "
                   f"sigma_b = {sigma_b:.4g}")


def log10_gain_per_step(norms):
    """Minus the least-squares slope of log10 |dL/dh_l| against l, over the positive finite norms:
    log10 of the factor by which the gradient grows per layer (or time step) on its way down,
    negative when it vanishes. None with fewer than two such norms."""
    logs = plot.log10_or_nan(norms)
    index = np.arange(len(logs))
    keep = np.isfinite(logs)
    if keep.sum() < 2:
        return None
    return -float(np.polyfit(index[keep], logs[keep], 1)[0])


def product(factors):
    """prod(factors) through logs, so that 1.1^5000 is inf and 0.9^5000 is 0 without warnings."""
    with np.errstate(divide="ignore", over="ignore"):
        return float(np.exp(np.sum(np.log(np.asarray(factors, dtype=np.float64)))))


def unit_sizes(batch_norm, h):
    """|h| is a norm over the whole batch, sqrt(batch * width) numbers: per unit, the root mean square
    |h| / sqrt(h.size) and the largest |element| (a tanh unit's are <= 1 whatever |h| is)."""
    with np.errstate(all="ignore"):
        return {"rms_activation": batch_norm / math.sqrt(h.size),
                "max_abs_activation": float(np.max(np.abs(h.astype(np.float64))))}


def cosine(a, b):
    """cos of the angle between two arrays taken as vectors (nan if either is 0 or not finite)."""
    with np.errstate(all="ignore"):
        return ratio(float(np.vdot(a.astype(np.float64), b.astype(np.float64))), norm(a) * norm(b))


def run_chain(config):
    """One forward/backward of the chain; the chain report with theory's gains beside it, as a dict."""
    model, x, target = build_chain(config)
    dtype = DTYPES[config["dtype"]]
    x = Tensor(x, requires_grad=True, dtype=dtype)
    with np.errstate(all="ignore"):
        output, outputs = model.forward_with_outputs(x)
        loss = mse_loss(output, Tensor(target, dtype=dtype))
        loss.backward()
        report = chain_report(outputs, loss, weights=model.weights, input=x)
    gains, basis = predicted_gains(config, float(np.mean(np.square(x.data, dtype=np.float64))))
    grad_norms = [record.grad_norm for record in report.layers]
    result = {"command": "chain", "config": config, **report.to_dict(), "theory": basis,
              "top_gradient_cosine": cosine(outputs[-1].data, outputs[-1].grad)}
    for k, record in enumerate(result["layers"]):
        record["predicted_gain"] = None if gains is None else float(gains[k])
        record.update(unit_sizes(record["activation_norm"], outputs[k].data))
    predicted_norms = None if gains is None else grad_norms[-1] * theory.grad_norm_ratios(gains ** 2)
    result["predicted_grad_norms"] = predicted_norms
    result["predicted_end_to_end_ratio"] = None if gains is None else product(gains)
    result["log10_gain_per_layer"] = {
        "measured": log10_gain_per_step(grad_norms),
        "predicted": None if gains is None else log10_gain_per_step(predicted_norms)}
    result["theory_caveat"] = theory_caveat(config, basis, result["top_gradient_cosine"])
    return result


def theory_caveat(config, basis, top_cosine):
    """Why a statistical prediction misses a bias-free relu or linear chain, or None. Such a chain is
    homogeneous, h_L = J x with J = dh_L/dx, so when dL/dh_L points along h_L (MSE with |h_L| >> |y|)
    dL/dx ~ J^T J x: the gradient starts in the directions J stretches most, and at cosine 1
    |dL/dx| / |dL/dh_L| >= |h_L| / |x| (Cauchy-Schwarz). Mean-field theory assumes a backward signal
    independent of the forward pass. Measured on `chain --activation relu --init he`, seeds 0-7: a random
    linear read-out keeps the excess (0.55-22.8 against MSE's 0.54-33.9, theory 1); a cotangent drawn
    independently of h_L gives 0.14-2.42 around 1."""
    sigma_b = effective_sigmas(config)[1]
    if (basis.startswith(("none", "exact:")) or config["activation"] not in ("relu", "linear") or sigma_b
            or config["norm"] or not top_cosine > 0.5):
        return None
    return (f"dL/dh_L = 2 (h_L - y) / N is at cosine {top_cosine:.2f} to h_L, and a bias-free {config['activation']} "
            "chain is homogeneous (h_L = J x, J = dh_L/dx),\n  so dL/dx ~ J^T J x: the gradient starts in the "
            "directions the chain stretches most, not in the random direction\n  mean-field theory assumes; "
            "theory's gains describe a read-out independent of h_L (a random linear read-out is not)")


def describe_config(config):
    parts = [f"{config['depth']} layers of width {config['width']}, batch {config['batch']}",
             config["activation"]]
    init = config["init"]
    if init == "normal":
        parts.append(f"W ~ N(0, {config['sigma_w']:g}^2/n), b ~ N(0, {config['sigma_b']:g}^2)")
    elif init == "identity":
        parts.append(f"W = {config['scale']:g} I")
    elif init == "default":
        parts.append("PyTorch's default W, b ~ U(-1/sqrt(n), 1/sqrt(n))")
    else:
        parts.append(f"init {init} (scale {config['scale']:g})")
    if config["residual"]:
        parts.append(f"residual (alpha {config['alpha']:g})")
    if config["norm"]:
        parts.append(NORM_NAMES[config["norm"]])
    if config["dropout"]:
        parts.append(f"dropout {config['dropout']:g}")
    parts += [config["dtype"], f"seed {config['seed']}"]
    return ", ".join(parts)


def factor(log10_gain):
    return "-" if log10_gain is None else f"{log10_gain:+.4f} (x{10 ** log10_gain:.4g} per layer)"


def print_chain(result):
    layers = result["layers"]
    print(f"chain: {describe_config(result['config'])}")
    print(f"loss {result['loss']:.6g}.  gain = |dL/dh_(l-1)| / |dL/dh_l|, how layer l scales the gradient "
          "passing back (layer 1's h_0 is the input x)")
    print(f"theory: {result['theory']}")
    grad_norms = [record["grad_norm"] for record in layers]
    bars, axis = bars_and_axis(grad_norms)
    rows = []
    for record in layers:
        measured, predicted = record["gain"], record["predicted_gain"]
        rows.append([record["layer"], describe(record["activation_norm"]), describe(record["rms_activation"], ".4f"),
                     describe(record["max_abs_activation"], ".4f"), describe(record["grad_norm"]),
                     describe(measured, ".4f"), describe(predicted, ".4f"),
                     describe(ratio(measured, predicted), ".3f"),
                     describe(record["weight_grad_norm"])])
    header = ["layer", "|h_l|", "rms h_l", "max|h_l|", "|dL/dh_l|", "gain", "theory", "gain/theory", "|dL/dW_l|"]
    print(f"|h_l| is the norm over the whole batch ({layers[0]['shape'][0]} x {layers[0]['shape'][-1]} numbers); "
          "rms h_l = |h_l| / sqrt(batch x width) is one unit's size, max|h_l| the largest element")
    print(table(header, rows, bars, "|dL/dh_l| " + axis))
    fit = result["log10_gain_per_layer"]
    print(f"per-layer log10 gain, least squares over log10 |dL/dh_l| (positive: grows on the way down): "
          f"measured {factor(fit['measured'])}, theory {factor(fit['predicted'])}")
    print(f"end to end |dL/dx| / |dL/dh_L|: measured {describe(result['end_to_end_ratio'])}, "
          f"theory {describe(result['predicted_end_to_end_ratio'])}")
    if result["theory_caveat"]:
        print(f"why theory misses: {result['theory_caveat']}")
    if not all(math.isfinite(g) for g in grad_norms):
        print(f"some gradients are not finite: the chain left {result['config']['dtype']}'s range "
              "(`tinygrad-vg train` with the same flags says where)")


def plot_chain(result, path):
    layers = [record["layer"] for record in result["layers"]]
    norms = line("measured", layers, [record["grad_norm"] for record in result["layers"]])
    gains = [line("measured", layers, [record["gain"] for record in result["layers"]], "o")]
    if result["predicted_grad_norms"] is not None:
        theory_norms = [line("theory", layers, result["predicted_grad_norms"], "--")]
        gains.append(line("theory", layers, [record["predicted_gain"] for record in result["layers"]], "-"))
    else:
        theory_norms = []
    write_figure(path, [
        {"title": "|dLoss/dh_l| per layer", "xlabel": "layer l", "ylabel": "|dL/dh_l|",
         "lines": [norms, *theory_norms]},
        {"title": "gain |dL/dh_(l-1)| / |dL/dh_l|", "xlabel": "layer l", "ylabel": "gain", "lines": gains},
    ], describe_config(result["config"]))


# ---------------------------------------------------------------- training

LAYER_PATTERN = re.compile(r"^(?:layers|activations|norms|dropouts)\.(\d+)\b")


def layer_of(module):
    """Layer number l (1-based) of a DeepChain module label such as "layers.37 (Linear)" (l = 38)."""
    match = LAYER_PATTERN.match(module or "")
    return int(match.group(1)) + 1 if match else None


def predicted_halt(config, x, target):
    """Theory's first non-finite value of training step 0, where it is exact (W = k I, linear, plain):
    ({"step", "phase", "layer", "kind"} or None, basis)."""
    if (config["init"] != "identity" or config["activation"] != "linear" or config["residual"] or config["norm"]
            or config["dropout"]):
        return None, "none: the exact overflow prediction covers the W = k I linear chain only"
    found = theory.identity_chain_first_nonfinite(config["scale"], config["depth"], x, target,
                                                  DTYPES[config["dtype"]], bias=True)
    basis = f"exact: the W = k I chain evaluated in {config['dtype']} (theory.identity_chain_first_nonfinite)"
    if found is None:
        return None, basis + ": nothing overflows at step 0"
    return {"step": 0, "phase": found.phase, "layer": found.layer, "kind": found.kind}, basis


def make_optimizer(name, params, lr, momentum=None, weight_decay=0.0):
    """--optimizer's choice with PyTorch's defaults but lr: momentum is SGD with momentum (0.9 unless
    given); rmsprop's momentum is 0 unless given; adam has none (betas 0.9, 0.999)."""
    if name == "adam":
        return optim.Adam(params, lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr, momentum=momentum or 0.0, weight_decay=weight_decay)
    default = 0.9 if name == "momentum" else 0.0
    return optim.SGD(params, lr, momentum=default if momentum is None else momentum, weight_decay=weight_decay)


def describe_optimizer(settings):
    """ "Adam lr 0.1, betas (0.9, 0.999), eps 1e-08": the rule and its hyperparameters, leaving out the
    ones switched off (False, or 0 other than lr)."""
    parts = [f"{settings['name']} lr {settings['lr']:g}"]
    for key, value in settings.items():
        if key in ("name", "lr") or value is False or value == 0:
            continue
        text = f"({', '.join(f'{v:g}' for v in value)})" if isinstance(value, list) else f"{value:g}"
        parts.append(f"{key.replace('_', ' ')} {text}")
    return ", ".join(parts)


def run_train(config, steps, lr, clip, progress=None, optimizer="sgd", momentum=None, weight_decay=0.0):
    model, x, target = build_chain(config)
    rule = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)

    def on_step(step, record):
        if progress:
            progress(step + 1, f"loss {record.loss[-1]:.4g}")

    peaks = []    # max |h_L| of each step, read where the loss sees h_L

    def loss_noting_the_peak(output, target):
        peaks.append(unit_sizes(0.0, output.data)["max_abs_activation"])
        return mse_loss(output, target)

    record = train(model, x, target, steps, clip=clip, loss_fn=loss_noting_the_peak, optimizer=rule,
                   on_step=on_step)
    result = {"command": "train", "config": {**config, "steps": steps, "lr": lr, "clip": clip, "optimizer": optimizer,
                                              "momentum": momentum, "weight_decay": weight_decay},
              "optimizer": json_ready({"name": type(rule).__name__, **rule.defaults}), **record.to_dict()}
    units = math.sqrt(config["batch"] * config["width"])
    for entry, peak in zip(result["steps"], peaks):
        entry["rms_activations"] = [value / units for value in entry["activation_norms"]]
        entry["max_abs_output"] = peak
    if result["halted"] is not None:
        result["halted"]["layer"] = layer_of(result["halted"]["module"])
    result["predicted_halt"], result["theory"] = predicted_halt(config, x, target)
    result["best_constant_loss"] = best_constant_loss(target)
    return result


def story_rows(result, every):
    """Rows of the per-step story: every `every` steps, and the last."""
    steps = result["steps"]
    rows = []
    for entry in steps:
        if entry["step"] % every and entry["step"] != len(steps) - 1:
            continue
        first, last = entry["weight_grad_norms"][0], entry["weight_grad_norms"][-1]
        rows.append([entry["step"], describe(entry["loss"], ".5g"), describe(entry["grad_norm"]),
                     describe(first), describe(last), describe(ratio(first, last)),
                     describe(entry["activation_norms"][-1]), describe(entry["rms_activations"][-1], ".4f"),
                     describe(entry["max_abs_output"], ".4f")])
    return rows


def describe_halt(halted):
    where = f" in {halted['module']}" if halted["module"] else ""
    layer = f", layer {halted['layer']}" if halted.get("layer") else ""
    return (f"step {halted['step']}: {halted['op'] or 'the loss'}{where} produced {halted['kind']} "
            f"in the {halted['phase']} phase{layer}")


def print_train(result, every):
    config = result["config"]
    clip = f", clip {config['clip']:g}" if config["clip"] is not None else ""
    print(f"train: {describe_config(config)}; {describe_optimizer(result['optimizer'])}{clip}, "
          f"up to {config['steps']} steps")
    print("task: y = tanh(x A^T), a fixed random teacher; loss mean((h_L - y)^2); anomaly detection on")
    depth = config["depth"]
    header = ["step", "loss", "|grad|", "|dL/dW_1|", f"|dL/dW_{depth}|", "W_1/W_L", "|h_L|", "rms h_L", "max|h_L|"]
    print(f"|h_L| is over the whole batch ({config['batch']} x {config['width']} numbers); rms h_L = "
          "|h_L| / sqrt(batch x width) per unit, max|h_L| its largest element")
    if result["steps"]:
        print(table(header, story_rows(result, every)))
    halted = result["halted"]
    if halted is None:
        losses = [entry["loss"] for entry in result["steps"]]
        print(f"no halt: {len(losses)} steps, loss {losses[0]:.5g} -> {losses[-1]:.5g}, "
              f"{losses[-1] / result['best_constant_loss']:.3g} x {result['best_constant_loss']:.4g}, the loss of "
              "predicting the targets' mean (ignoring x)")
    else:
        print(f"HALTED at {describe_halt(halted)}")
        print(f"  {halted['message']}")
    predicted = result["predicted_halt"]
    verdict = ""
    if predicted is not None and halted is not None:
        agrees = all(predicted[key] == halted[key] for key in ("step", "phase", "layer", "kind"))
        verdict = " - the run agrees" if agrees else " - the run DISAGREES"
    shown = "" if predicted is None else (f": step 0, {predicted['phase']} phase, layer {predicted['layer']}, "
                                          f"{predicted['kind']}")
    print(f"halt prediction: {result['theory']}{shown}{verdict}")


def plot_train(result, path):
    steps = [entry["step"] for entry in result["steps"]]
    if not steps:
        print(f"nothing to plot: the run halted at step {result['halted']['step']}", file=sys.stderr)
        return
    write_figure(path, [
        {"title": "loss", "xlabel": "step", "ylabel": "loss",
         "lines": [line("loss", steps, [entry["loss"] for entry in result["steps"]])]},
        {"title": "log10 |dL/dW_l|", "xlabel": "layer l", "ylabel": "step", "x0": 1,
         "heatmap": [entry["weight_grad_norms"] for entry in result["steps"]]},
    ], describe_config(result["config"]))


# ---------------------------------------------------------------- RNN

RNN_INITS = ("default", "identity", "normal", "xavier", "he", "orthogonal")


def run_rnn(config):
    """Loss on h_T only, so dLoss/dh_t is what is left of the gradient after T - t steps back."""
    rng = np.random.default_rng(config["seed"])
    dtype = DTYPES[config["dtype"]]
    width, length = config["width"], config["length"]
    rnn = RNN(width, width, nonlinearity=config["activation"], dtype=dtype, rng=rng)
    if config["init"] != "default":
        initialise(SimpleNamespace(weight=rnn.weight_hh, bias=None, in_features=width), config["init"],
                   config["scale"], config["sigma_w"], 0.0, rng)
    inputs = rng.standard_normal((length, config["batch"], width))
    target = np.tanh(inputs[0])          # the task: recall the first input, T steps later
    h0 = Tensor(np.zeros((config["batch"], width)), requires_grad=True, dtype=dtype)
    with np.errstate(all="ignore"):
        _, last = rnn(Tensor(inputs, dtype=dtype), h0)
        loss = mse_loss(last, Tensor(target, dtype=dtype))
        loss.backward()
    grad_norms = np.array([norm(h.grad) for h in rnn.hidden_states])
    weight = rnn.weight_hh.data
    radius, largest = theory.spectral_radius(weight), theory.largest_singular_value(weight)
    steps_back = length - np.arange(length + 1)
    # phi'(a_t) read off h_t = phi(a_t): tanh' = 1 - h^2 (saturated units pass almost nothing back),
    # relu' = [h > 0], linear' = 1
    derivative = {"tanh": lambda h: 1 - h ** 2, "relu": lambda h: (h > 0).astype(np.float64),
                  "linear": np.ones_like}[config["activation"]]
    derivatives = [derivative(h.data.astype(np.float64)) for h in rnn.hidden_states[1:]]
    mean_derivative = [float(np.mean(d)) for d in derivatives]
    rms_derivative = [float(np.sqrt(np.mean(d ** 2))) for d in derivatives]
    with np.errstate(all="ignore"):
        bound = grad_norms[-1] * theory.rnn_gradient_bound(weight, length)[steps_back]
        radius_rate = grad_norms[-1] * radius ** steps_back
        estimate = grad_norms[-1] * theory.saturated_rnn_gradient_ratios(radius, rms_derivative)[steps_back]
    return {"command": "rnn", "config": config, "loss": float(loss.data),
            "spectral_radius": radius, "largest_singular_value": largest, "derivative_bound": 1.0,
            "time_steps": [{"t": t, "grad_norm": grad_norms[t], "bound": bound[t], "radius_rate": radius_rate[t],
                            "saturation_estimate": estimate[t],
                            "mean_derivative": mean_derivative[t - 1] if t else None,
                            "rms_derivative": rms_derivative[t - 1] if t else None}
                           for t in range(length + 1)],
            "derivative_product": {"mean": product(mean_derivative), "rms": product(rms_derivative)},
            "log10_gain_per_step": {"measured": log10_gain_per_step(grad_norms),
                                    "log10_spectral_radius": math.log10(radius) if radius > 0 else None,
                                    "log10_largest_singular_value": math.log10(largest) if largest > 0 else None}}


def print_rnn(result):
    config = result["config"]
    init = "PyTorch's default U(-1/sqrt(n), 1/sqrt(n))" if config["init"] == "default" else (
        f"{config['init']} (scale {config['scale']:g}, sigma_w {config['sigma_w']:g})")
    print(f"rnn: T = {config['length']} steps, hidden {config['width']}, batch {config['batch']}, "
          f"{config['activation']}, weight_hh {init}, {config['dtype']}, seed {config['seed']}")
    print("loss on h_T only (task: recall x_1): dL/dh_t = dL/dh_T J_T ... J_(t+1), J_s = diag(phi'(a_s)) W_hh")
    print(f"weight_hh: spectral radius rho = {result['spectral_radius']:.4f}, "
          f"largest singular value sigma_max = {result['largest_singular_value']:.4f}")
    print("bound (Pascanu et al. 2013): |dL/dh_t| <= |dL/dh_T| (gamma sigma_max)^(T-t), gamma = max|phi'| = 1;"
          " rho^(T-t) is the rate for long spans when phi' = 1")
    phi = config["activation"]
    print(f"{phi}'(a_t) per unit, read off h_t: mean and rms over the batch and units; estimate = |dL/dh_T| rho^(T-t)"
          f" prod_(s>t) rms {phi}'(a_s),\n  the gradient spread evenly over the units (for W = rho Q, each step keeps"
          f" rms {phi}' of its norm)")
    steps = result["time_steps"]
    bars, axis = bars_and_axis([entry["grad_norm"] for entry in steps])
    rows = [[entry["t"], describe(entry["grad_norm"]), describe(entry["mean_derivative"], ".4f"),
             describe(entry["rms_derivative"], ".4f"), describe(entry["saturation_estimate"]),
             describe(entry["bound"]), describe(entry["radius_rate"])] for entry in steps]
    print(table(["t", "|dL/dh_t|", f"mean {phi}'", f"rms {phi}'", "estimate", "bound", "|dL/dh_T| rho^(T-t)"],
                rows, bars, "|dL/dh_t| " + axis))
    fit = result["log10_gain_per_step"]
    print(f"per-step log10 gain going back in time, least squares: measured {describe(fit['measured'], '+.4f')}; "
          f"log10 rho {describe(fit['log10_spectral_radius'], '+.4f')}, "
          f"log10 sigma_max {describe(fit['log10_largest_singular_value'], '+.4f')}")
    first, products = steps[0], result["derivative_product"]
    print(f"|dL/dh_0| / |dL/dh_T|: measured {describe(ratio(first['grad_norm'], steps[-1]['grad_norm']))}, "
          f"rho^T {describe(ratio(first['radius_rate'], steps[-1]['radius_rate']))}, "
          f"estimate {describe(ratio(first['saturation_estimate'], steps[-1]['grad_norm']))}: over the {len(steps) - 1}"
          f" steps the {phi}' factors multiply to {describe(products['rms'])} (rms; their means to "
          f"{describe(products['mean'])}).")
    keys = ("saturation_estimate", "radius_rate")
    off = dict(zip(keys, np.abs(plot.log10_or_nan([ratio(first[key], first["grad_norm"]) for key in keys]))))
    if all(map(math.isfinite, off.values())) and off["saturation_estimate"] < off["radius_rate"]:
        print(f"  at t = 0 the estimate is off by x{10 ** off['saturation_estimate']:.3g}, rho^T by "
              f"x{10 ** off['radius_rate']:.3g}: rho^(T-t) is the rate only when {phi}' = 1, and units whose |a_t| "
              f"is large\n  pass little of their gradient back ({phi}' ~ 0), so the gradient falls faster than rho "
              "says" + (", even at rho = 1." if abs(result["spectral_radius"] - 1) < 1e-9 else "."))


def plot_rnn(result, path):
    t = [entry["t"] for entry in result["time_steps"]]
    series = [("measured |dL/dh_t|", "grad_norm", "o-"), ("bound, sigma_max^(T-t)", "bound", "--"),
              ("rho^(T-t)", "radius_rate", ":")]
    write_figure(path, [{"title": "gradient through time", "xlabel": "time step t", "ylabel": "|dL/dh_t|",
                         "lines": [line(label, t, [entry[key] for entry in result["time_steps"]], style)
                                   for label, key, style in series]}],
                 f"rnn, T = {result['config']['length']}, rho = {result['spectral_radius']:.3g}")


# ---------------------------------------------------------------- paths of a small expression

FUNCTIONS = {name: getattr(Tensor, name) for name in ("exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs")}
BINARY_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow}
MAX_EXPRESSION_LENGTH = 2000


class ExpressionError(ValueError):
    pass


def evaluate(node, variables):
    """The Tensor of an expression's syntax tree, allowing only the whitelisted nodes: numbers, the
    given variables, + - * / ** and unary -, and calls of FUNCTIONS on one argument. Nothing is eval'd."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, variables)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = float(node.value) if abs(node.value) < 1e308 else math.inf
        if not math.isfinite(value):
            raise ExpressionError(f"the number {node.value} is too large for a float")
        return Tensor(value)
    if isinstance(node, ast.Name):
        if node.id not in variables:
            known = ", ".join(variables) or "none"
            raise ExpressionError(f"unknown name {node.id!r} (variables given with --var: {known})")
        return variables[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY_OPS:
        return BINARY_OPS[type(node.op)](evaluate(node.left, variables), evaluate(node.right, variables))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand, variables)
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            raise ExpressionError(f"only the functions {', '.join(FUNCTIONS)} can be called")
        if len(node.args) != 1 or node.keywords:
            raise ExpressionError(f"{name}() takes exactly one argument")
        return FUNCTIONS[name](evaluate(node.args[0], variables))
    raise ExpressionError(f"{type(node).__name__} is not allowed here: use numbers, the --var names, "
                          f"+ - * / **, unary - and {', '.join(FUNCTIONS)}")


def parse_expression(text, values):
    """The output Tensor of `text` over the named scalar variables (each a leaf requiring grad)."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    variables = {name: Tensor(value, requires_grad=True, name=name) for name, value in values.items()}
    try:
        tree = ast.parse(text.strip(), mode="eval")
        with np.errstate(all="ignore"):
            output = evaluate(tree, variables)
    except SyntaxError as error:
        raise ExpressionError(f"not an expression: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    return output, variables


def run_paths(text, values):
    output, variables = parse_expression(text, values)
    output.name = "y"
    if output.requires_grad:
        with np.errstate(all="ignore"):
            output.backward()
    gradients = {}
    for name, variable in variables.items():
        found = chain_rule.paths(output, variable) if output.requires_grad else []
        gradients[name] = {
            "paths": [{"edges": [{"from": chain_rule.short_name(parent), "op": node.op.name, "position": position,
                                  "to": chain_rule.short_name(node), "local_derivative": float(local.item())}
                                 for (parent, node, position), local in zip(path.edges, path.local_jacobians)],
                       "product": float(path.product.item()), "text": str(path)} for path in found],
            "path_sum": float(sum(path.product.item() for path in found)),
            "backward": 0.0 if variable.grad is None else float(variable.grad.item())}
    return {"command": "paths", "expression": text, "variables": values, "value": float(output.item()),
            "gradients": gradients}


def print_paths(result):
    assignments = ", ".join(f"{name} = {value:g}" for name, value in result["variables"].items())
    print(f"y = {result['expression']} = {result['value']:.10g}   at {assignments}")
    print("dy/dv = sum over every edge-path from v to y of the product of the local derivatives on it")
    for name, gradient in result["gradients"].items():
        print(f"\ndy/d{name}: {len(gradient['paths'])} path(s)")
        for path in gradient["paths"]:
            print(f"  {path['text']}")
        print(f"  {'sum of the path products':<{24 + len(name)}} = {gradient['path_sum']:.15g}")
        print(f"  {'backward: ' + name + '.grad':<{24 + len(name)}} = {gradient['backward']:.15g}")


def plot_paths(result, path):
    lines = [line(f"paths to {name}", range(1, len(gradient["paths"]) + 1),
                  [abs(p["product"]) for p in gradient["paths"]], "o")
             for name, gradient in result["gradients"].items() if gradient["paths"]]
    if not lines:
        print("nothing to plot: no variable has a path to the output", file=sys.stderr)
        return
    write_figure(path, [{"title": "|product| of each path", "xlabel": "path", "ylabel": "|product|",
                         "lines": lines}], f"y = {result['expression']}")


# ---------------------------------------------------------------- the tour

TOUR_DEFAULTS = dict(batch=16, activation="linear", init="identity", scale=1.0, sigma_w=1.0, sigma_b=0.0,
                     residual=False, alpha=1.0, norm=None, dropout=0.0, dtype="float64", seed=0)


def tour_config(**changes):
    return {**TOUR_DEFAULTS, **changes}


def tour_identity(depth=50, scales=(0.9, 1.0, 1.1)):
    """Q1: W = k I. Measured |dL/dh_l| against the exact theory.identity_chain."""
    runs = []
    for k in scales:
        config = tour_config(depth=depth, width=8, batch=4, scale=k)
        result = run_chain(config)
        _, x, target = build_chain(config)
        exact = theory.identity_chain(k, depth, x, target)
        measured = np.array([record["grad_norm"] for record in result["layers"]])
        weight_grads = np.array([record["weight_grad_norm"] for record in result["layers"]])
        runs.append({"k": k, "grad_norms": measured, "theory_grad_norms": exact.grad_norms,
                     "max_relative_error": float(np.max(np.abs(measured / exact.grad_norms - 1))),
                     "weight_grad_norm_spread": float(weight_grads.max() / weight_grads.min()),
                     "fit": result["log10_gain_per_layer"]})
    return {"depth": depth, "runs": runs}


def print_tour_identity(section):
    depth = section["depth"]
    print(f"1. Weights a bit smaller or larger than the identity: W_l = k I, linear, {depth} layers.")
    print("   Backward multiplies by W_l^T = k I at every layer, so |dL/dh_l| = k^(L-l) |dL/dh_L| exactly.")
    shown = sorted({1, *range(10, depth, 10), depth})
    header = ["layer"] + [f"{name} k={run['k']:g}" for run in section["runs"] for name in ("measured", "k^(L-l)")]
    rows = [[l] + [value for run in section["runs"]
                   for value in (describe(run["grad_norms"][l - 1]), describe(run["theory_grad_norms"][l - 1]))]
            for l in shown]
    print(indent(table(header, rows)))
    for run in section["runs"]:
        measured = run["fit"]["measured"]
        print(f"   k = {run['k']:g}: |dL/dh_1| / |dL/dh_L| = {run['grad_norms'][0] / run['grad_norms'][-1]:.4g}"
              f" (k^{depth - 1} = {run['k'] ** (depth - 1):.4g}), fitted factor per layer "
              f"{10 ** measured:.6f}, worst relative error {run['max_relative_error']:.1e}")
    print("   A factor of 0.9 or 1.1 per layer looks harmless; it compounds to k^(L-1) over the chain, and deeper\n"
          "   chains compound further. (|dL/dW_l| = k^(L-1) |G^T x| is the same at every layer here:\n"
          "   h_(l-1) = k^(l-1) x grows exactly as dL/dh_l shrinks, so with k < 1 every weight gradient is small.)")


TOUR_TRAINING_STEPS = 80


def tour_training(depth=16, width=32, batch=64, steps=TOUR_TRAINING_STEPS, lr=1.0, progress=None):
    """Q2: a sigmoid chain (gain ~ 1/4 per layer) trained with SGD: layer 1 never learns."""
    config = tour_config(depth=depth, width=width, batch=batch, activation="sigmoid", init="normal", seed=1)
    model, x, target = build_chain(config)
    initial = [w.data.copy() for w in model.weights]
    record = train(model, x, target, steps, lr=lr,
                   on_step=(lambda step, rec: progress(step + 1, f"loss {rec.loss[-1]:.4g}")) if progress else None)
    change = [norm(w.data - w0) / norm(w0) for w, w0 in zip(model.weights, initial)]
    gains = predicted_gains(config, float(np.mean(x ** 2)))[0]
    return {"config": {**config, "steps": steps, "lr": lr}, "loss": record.loss,
            "first_layer_weight_grad": [row[0] for row in record.weight_grad_norms],
            "last_layer_weight_grad": [row[-1] for row in record.weight_grad_norms],
            "relative_weight_change": change,
            "predicted_gains": gains, "predicted_grad_ratio": product(gains[1:]),
            "best_constant_loss": best_constant_loss(target)}


def print_tour_training(section):
    config = section["config"]
    depth, steps = config["depth"], config["steps"]
    print(f"2. Won't training fix the shallow layers? A sigmoid chain, {depth} layers of width {config['width']},"
          f" W ~ N(0, 1/n), SGD lr {config['lr']:g} for {steps} steps.")
    typical_gain = product(section["predicted_gains"][1:]) ** (1 / max(depth - 1, 1))
    print(f"   sigmoid' <= 1/4: theory's gain per layer is ~{typical_gain:.3f}, "
          f"so |dL/dh_1| / |dL/dh_L| = {section['predicted_grad_ratio']:.2e} at the start.")
    first, last, loss = section["first_layer_weight_grad"], section["last_layer_weight_grad"], section["loss"]
    shown = sorted({0, *range(0, steps, max(1, steps // 5)), steps - 1})
    rows = [[s, f"{loss[s]:.5f}", describe(first[s]), describe(last[s]), describe(ratio(first[s], last[s]))]
            for s in shown]
    print(indent(table(["step", "loss", "|dL/dW_1|", f"|dL/dW_{depth}|", "ratio"], rows)))
    change = section["relative_weight_change"]
    worst = max(ratio(a, b) for a, b in zip(first, last))
    print(f"   After {steps} steps W_1 moved by {change[0]:.1e} of itself and W_{depth} by {change[-1]:.2f}: the deep"
          f" layers learn,\n   the shallow ones stay frozen, and the ratio never rises above {worst:.0e}: training"
          " does not repair it.\n   What the top layers learn is a constant: the forward signal of x shrinks by the"
          f" same ~1/4 per layer,\n   so the loss creeps from {loss[0]:.4f} to {loss[-1]:.4f}, towards "
          f"{section['best_constant_loss']:.4f}, the loss of predicting the targets' mean and ignoring x.")


def tour_overflow(depth=80, scale=4.0, steps=5):
    """Q3: W = 4 I in float32 overflows in the forward pass; the run halts, and unchecked it poisons every weight."""
    config = tour_config(depth=depth, width=8, batch=4, scale=scale, dtype="float32")
    result = run_train(config, steps, lr=0.01, clip=None)
    model, x, target = build_chain(config)
    with np.errstate(all="ignore"):      # the same step without anomaly detection
        output = model(Tensor(x, dtype=np.float32))
        loss = mse_loss(output, Tensor(target, dtype=np.float32))
        loss.backward()
    poisoned = sum(not np.all(np.isfinite(w.grad)) for w in model.weights)
    return {"config": config, "halted": result["halted"], "predicted_halt": result["predicted_halt"],
            "predicted_layer": theory.overflow_layer(scale, x, np.float32, depth),
            "unchecked_loss": float(loss.data), "unchecked_nonfinite_weight_grads": poisoned,
            "float32_max": float(np.finfo(np.float32).max)}


def print_tour_overflow(section):
    config, halted, predicted = section["config"], section["halted"], section["predicted_layer"]
    depth, k = config["depth"], config["scale"]
    print(f"3. Forward overflow: W = {k:g} I in float32, {depth} layers. |h_l| = {k:g}^l |x| passes float32's "
          f"max {section['float32_max']:.3g}\n   at layer {predicted} (theory.overflow_layer).")
    if halted is None:
        print("   the run did not halt (unexpected)")
    else:
        print(f"   training halted at {describe_halt(halted)}"
              f"{' - as predicted' if halted['layer'] == predicted else ' - NOT the predicted layer'}.")
    print(f"   Unchecked, the same step gives loss {section['unchecked_loss']} and non-finite dL/dW in "
          f"{section['unchecked_nonfinite_weight_grads']} of {depth} layers:\n   dL/dW_l = (dL/dz_l)^T h_(l-1), "
          "and both factors come from the inf activations (inf - inf, 0 * inf = nan),\n   so one SGD step makes"
          " those weights nan for good. Backward cannot fix what forward destroyed.")


def tour_tanh(sigma_ws=(1.0, 2.5), sigma_b=0.3, depth=30, width=256):
    """Q4: tanh with sigma_b = 0.3: chi_1 < 1 at sigma_w = 1 (vanishing), > 1 at 2.5 (exploding)."""
    runs = []
    for sigma_w in sigma_ws:
        config = tour_config(depth=depth, width=width, activation="tanh", init="normal", sigma_w=sigma_w,
                             sigma_b=sigma_b, seed=2)
        result = run_chain(config)
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


def print_tour_tanh(section):
    print(f"4. tanh is bounded and tanh' <= 1, yet: W ~ N(0, sigma_w^2/n), b ~ N(0, {section['sigma_b']:g}^2), "
          f"{section['depth']} layers of width {section['width']}.")
    print("   Each layer multiplies the gradient by diag(tanh'(z)) W^T: tanh' <= 1 shrinks, but W^T stretches by"
          " ~sigma_w.\n   Mean field: |dL/dh|^2 changes by chi_1 = sigma_w^2 E[tanh'(z)^2] per layer, z ~ N(0, q*).")
    rows = [[f"{run['sigma_w']:g}", f"{run['chi1']:.4f}", f"{run['measured_chi1']:.4f}",
             f"{run['rms_activation']:.3f}", describe(run["end_to_end_ratio"]),
             describe(run["predicted_end_to_end_ratio"])] for run in section["runs"]]
    print(indent(table(["sigma_w", "chi_1 theory", "chi_1 measured", "rms |h|", "|dL/dx|/|dL/dh_L|", "theory"], rows)))
    print("   (measured chi_1: geometric mean of gain^2 over layers 6..L-1; rms |h| <= 1 always.) Activations stay"
          " bounded;\n   the gradient still explodes when chi_1 > 1: sigma_w's stretch beats tanh's squash.")


def indent(text):
    return "\n".join("   " + row for row in text.splitlines())


def run_tour(progress=True):
    sections = [("identity", tour_identity), ("training", tour_training), ("overflow", tour_overflow),
                ("tanh", tour_tanh)]
    result = {"command": "tour"}
    for k, (name, function) in enumerate(sections, 1):
        if progress:
            print(f"[tour] {k}/4 {name}", file=sys.stderr, flush=True)
        if name == "training":
            result[name] = function(progress=Progress("tour: training", TOUR_TRAINING_STEPS) if progress else None)
        else:
            result[name] = function()
    return result


def print_tour(result):
    print("tinygrad-vg: vanishing and exploding gradients, measured beside theory  (`tinygrad-vg --help` for more)\n")
    print_tour_identity(result["identity"])
    print()
    print_tour_training(result["training"])
    print()
    print_tour_overflow(result["overflow"])
    print()
    print_tour_tanh(result["tanh"])


def plot_tour(result, path):
    identity = result["identity"]
    layers = range(1, identity["depth"] + 1)
    q1 = [line(f"k = {run['k']:g}", layers, run["grad_norms"], "o") for run in identity["runs"]]
    q1 += [line(f"k^(L-l), k = {run['k']:g}", layers, run["theory_grad_norms"], "--") for run in identity["runs"]]
    training = result["training"]
    steps = range(len(training["loss"]))
    overflow = result["overflow"]
    depth = overflow["config"]["depth"]
    tanh = result["tanh"]
    write_figure(path, [
        {"title": "1. W = k I: |dL/dh_l|", "xlabel": "layer l", "ylabel": "|dL/dh_l|", "lines": q1},
        {"title": "2. training: weight gradients", "xlabel": "step", "ylabel": "|dL/dW|",
         "lines": [line("layer 1", steps, training["first_layer_weight_grad"]),
                   line(f"layer {training['config']['depth']}", steps, training["last_layer_weight_grad"])]},
        {"title": "3. float32 W = 4 I: |h_l| = 4^l |x|", "xlabel": "layer l", "ylabel": "|h_l|",
         "lines": [line("|h_l| (theory)", range(1, depth + 1), 4.0 ** np.arange(1, depth + 1), "-"),
                   line("float32 max", [1, depth], [overflow["float32_max"]] * 2, "--")]},
        {"title": "4. tanh: per-layer gain", "xlabel": "layer l", "ylabel": "gain",
         "lines": [line(f"sigma_w = {run['sigma_w']:g}", range(1, tanh["depth"] + 1), run["gains"], "o")
                   for run in tanh["runs"]]
         + [line(f"theory, sigma_w = {run['sigma_w']:g}", range(1, tanh["depth"] + 1), run["predicted_gains"], "--")
            for run in tanh["runs"]]},
    ], "tinygrad-vg tour")


# ---------------------------------------------------------------- arguments

def variable(text):
    """NAME=VALUE for `paths --var`."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name in FUNCTIONS:
        raise argparse.ArgumentTypeError(f"{name!r} is a function name and cannot be a variable")
    return name, finite_float(value)


def output_flags():
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print one JSON object instead of the text")
    group.add_argument("--plot", metavar="FILE.png", help="also write a figure (needs matplotlib: "
                       'pip install -e ".[plot]")')
    return flags


def chain_flags(depth, width, batch, activation, init, scale, sigma_w, sigma_b):
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("the chain: h_l = phi(h_(l-1) W_l^T + b_l), l = 1..L")
    group.add_argument("--depth", type=positive_int, default=depth, help=f"number of layers L (default {depth})")
    group.add_argument("--width", type=positive_int, default=width, help=f"units per layer (default {width})")
    group.add_argument("--batch", type=positive_int, default=batch, help=f"rows of the input (default {batch})")
    group.add_argument("--activation", choices=("linear", "tanh", "relu", "sigmoid"), default=activation,
                       help=f"phi (default {activation})")
    group.add_argument("--init", choices=("identity", "normal", "xavier", "he", "orthogonal", "default"),
                       default=init,
                       help="identity: W = scale I; normal: W ~ N(0, sigma_w^2/width), b ~ N(0, sigma_b^2); "
                            "xavier, he, orthogonal: the classic schemes times scale (biases 0); default: "
                            "PyTorch's Linear init, W, b ~ U(-1/sqrt(width), 1/sqrt(width)) "
                            f"(default {init})")
    group.add_argument("--scale", type=finite_float, default=scale,
                       help=f"k for identity, gain for xavier/he/orthogonal (default {scale:g})")
    group.add_argument("--sigma-w", type=non_negative_float, default=sigma_w,
                       help=f"weight scale for --init normal (default {sigma_w:g})")
    group.add_argument("--sigma-b", type=non_negative_float, default=sigma_b,
                       help=f"bias scale for --init normal (default {sigma_b:g})")
    group.add_argument("--residual", action="store_true", help="h_l = h_(l-1) + alpha phi(...)")
    group.add_argument("--alpha", type=finite_float, default=1.0, help="residual branch weight (default 1)")
    group.add_argument("--norm", choices=tuple(NORMS), default="none",
                       help="layer: LayerNorm, batch: BatchNorm1d (batch statistics: the chain is in training "
                            "mode), before each activation (default none)")
    group.add_argument("--dropout", type=probability, default=0.0, metavar="P",
                       help="inverted dropout after each activation, 0 <= P < 1 (default 0)")
    group.add_argument("--dtype", choices=tuple(DTYPES), default="float64", help="default float64")
    group.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
    return flags


def build_parser():
    """(the top-level parser, {command name: its subparser})."""
    parser = argparse.ArgumentParser(prog="tinygrad-vg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    output = output_flags()
    command_parsers = {}
    command_parsers["tour"] = commands.add_parser(
        "tour", parents=[output], help="questions 1-4 with real runs (the default)",
        description="The tour: four questions about vanishing and exploding gradients, each "
                    "answered by a real run printed beside theory's number.")
    command_parsers["chain"] = commands.add_parser(
        "chain", parents=[chain_flags(50, 64, 16, "tanh", "normal", 1.0, 1.5, 0.1), output],
        help="one forward/backward: per-layer report with theory's gains",
        description="One forward/backward through a deep chain (loss mean((h_L - y)^2), "
                    "y = tanh(x A^T)): the per-layer report with theory's predicted gain beside "
                    "each measured gain, and the fitted per-layer log-gain.")
    train_parser = command_parsers["train"] = commands.add_parser(
        "train", parents=[chain_flags(30, 32, 32, "tanh", "normal", 1.0, 1.5, 0.1), output],
        help="train a chain; the per-step story and where it halts",
        description="Full-batch training (SGD unless --optimizer says otherwise) on y = tanh(x A^T) under "
                    "anomaly detection: the per-step story, and "
                    "at the first inf/nan the step, layer, op, kind and phase, with theory's prediction "
                    "where it is exact (W = k I linear chains). Try --init identity --activation linear "
                    "--scale 4 --dtype float32 --depth 80; or --sigma-w 4, a chaotic tanh chain whose gradient "
                    "explodes (1.2e4 at step 0) but stays finite: the first step saturates the units, layer 1's "
                    "gradient vanishes (3e-11) and the loss stays above the mean's.")
    group = train_parser.add_argument_group("training")
    group.add_argument("--steps", type=positive_int, default=100, help="at most this many steps (default 100)")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                       help="sgd; momentum: SGD with momentum 0.9 (or --momentum); adam, rmsprop: PyTorch's "
                            "defaults but lr (default sgd)")
    group.add_argument("--lr", type=non_negative_float, default=0.1, help="learning rate (default 0.1)")
    group.add_argument("--momentum", type=non_negative_float, default=None,
                       help="momentum of --optimizer momentum (default 0.9) or rmsprop (default 0)")
    group.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="W",
                       help="L2 penalty W/2 |p|^2 added through the gradient, as torch.optim's weight_decay "
                            "(default 0)")
    group.add_argument("--clip", type=positive_float, default=None,
                       help="clip the global gradient norm to this (default: no clipping)")
    group.add_argument("--every", type=positive_int, default=None, help="print every N steps (default steps/10)")

    rnn_parser = command_parsers["rnn"] = commands.add_parser(
        "rnn", parents=[output], help="a vanilla RNN over T steps: gradient through time",
        description="h_t = phi(x_t U^T + h_(t-1) W_hh^T + b) over T steps, loss on h_T only: |dLoss/dh_t| per "
                    "time step beside the bound from W_hh's largest singular value and the rate of its "
                    "spectral radius.")
    group = rnn_parser.add_argument_group("the RNN")
    group.add_argument("--length", "-T", type=positive_int, default=40, help="time steps T (default 40)")
    group.add_argument("--width", type=positive_int, default=32, help="hidden (and input) size (default 32)")
    group.add_argument("--batch", type=positive_int, default=8, help="sequences (default 8)")
    group.add_argument("--activation", choices=tuple(NONLINEARITIES), default="tanh",
                       help="phi; linear (phi(z) = z) is this project's addition to PyTorch's two (default tanh)")
    group.add_argument("--init", choices=RNN_INITS, default="orthogonal",
                       help="for W_hh: default is PyTorch's uniform; the others as for `chain` (default orthogonal)")
    group.add_argument("--scale", type=finite_float, default=1.0, help="k for identity, gain otherwise (default 1)")
    group.add_argument("--sigma-w", type=non_negative_float, default=1.0, help="for --init normal (default 1)")
    group.add_argument("--dtype", choices=tuple(DTYPES), default="float64", help="default float64")
    group.add_argument("--seed", type=int, default=0, help="default 0")

    paths_parser = command_parsers["paths"] = commands.add_parser(
        "paths", parents=[output], help="the chain rule as a sum over paths, for a small expression",
        description="Every edge-path from each variable to y, its local derivatives and their product; the "
                    "products sum to the gradient that backward computes. The expression is parsed, never "
                    "eval'd: numbers, the --var names, + - * / **, unary -, and "
                    f"{', '.join(FUNCTIONS)}.",
        epilog='example: tinygrad-vg paths "tanh(x*w) * x" --var x=1.5 --var w=-0.5')
    paths_parser.add_argument("expression", help='e.g. "tanh(x*w) * x"')
    paths_parser.add_argument("--var", type=variable, action="append", default=[], metavar="NAME=VALUE",
                              help="a scalar variable (repeat for each)")
    return parser, command_parsers


def chain_config(args):
    """The chain's settings from `chain`'s or `train`'s flags, as build_chain reads them."""
    return {**{key: getattr(args, key) for key in CHAIN_KEYS}, "norm": NORMS[args.norm]}


def main(argv=None):
    parser, command_parsers = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in TOP_LEVEL_FLAGS):
        argv = ["tour", *argv]
    args = parser.parse_args(argv)
    command_parser = command_parsers[args.command]
    if args.plot and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        command_parser.error(f"--plot: the folder of {args.plot} does not exist")

    if args.command == "tour":
        result = run_tour()
        show, draw = print_tour, plot_tour
    elif args.command == "chain":
        result = run_chain(chain_config(args))
        show, draw = print_chain, plot_chain
    elif args.command == "train":
        if args.momentum is not None and args.optimizer not in ("momentum", "rmsprop"):
            command_parser.error(f"--momentum: --optimizer {args.optimizer} has no momentum "
                                 "(use --optimizer momentum or rmsprop)")
        result = run_train(chain_config(args), args.steps, args.lr, args.clip, Progress("train", args.steps),
                           args.optimizer, args.momentum, args.weight_decay)
        every = args.every or max(1, args.steps // 10)
        show, draw = (lambda r: print_train(r, every)), plot_train
    elif args.command == "rnn":
        result = run_rnn({key: getattr(args, key) for key in ("length", "width", "batch", "activation", "init",
                                                              "scale", "sigma_w", "dtype", "seed")})
        show, draw = print_rnn, plot_rnn
    else:
        values = dict(args.var)
        if len(values) != len(args.var):
            command_parser.error("--var: a variable is given twice")
        try:
            result = run_paths(args.expression, values)
        except ExpressionError as error:
            command_parser.error(f"cannot use the expression {args.expression!r}: {error}")
        show, draw = print_paths, plot_paths

    try:
        if args.json:
            print(to_json(result))
        else:
            show(result)
        sys.stdout.flush()   # here, not at exit: a reader that left early (| head) is seen inside the try
    except BrokenPipeError:
        # Python's note on SIGPIPE: stdout to devnull, so the flush at exit cannot raise again, and the
        # status of a writer killed by SIGPIPE (128 + 13), raised so that `python -m` exits with it too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    if args.plot:
        draw(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
