"""chain: one forward/backward through a deep chain; per layer, theory's gain beside the measured gain.

One forward/backward through a deep chain (loss mean((h_L - y)^2), y = tanh(x A^T)): the per-layer
report with theory's predicted gain beside each measured gain, and the fitted per-layer log-gain.
Layer l is the module layers.(l-1); "grad norm of layer l" is |dLoss/dh_l|, h_l its output.

Run:  tinygrad-vg chain --depth 50 --activation tanh --sigma-w 1.5 [--json] [--plot chain.png] [--html chain.html]
"""
import math
import sys

import numpy as np

from .. import theory
from ..diagnostics import chain_report, describe, ratio
from ..experiments.chain_theory import predicted_gains, theory_caveat
from ..experiments.chains import DTYPES, build_chain, chain_config, describe_config
from ..experiments.measures import cosine, log10_gain_per_step, product, unit_sizes
from ..nn.losses import mse_loss
from ..script import experiment, main
from ..tensor import Tensor
from ..views.text import log_axis, log_bars, table
from .chain_flags import add_chain_arguments
from .panels import series

BOUNDED = ("tanh", "sigmoid")    # activations whose units cannot leave [-1, 1]


def arguments(parser):
    add_chain_arguments(parser, depth=50, width=64, batch=16)


@experiment
def run(depth=50, width=64, batch=16, activation="tanh", init="normal", scale=1.0, sigma_w=1.5, sigma_b=0.1,
        residual=False, alpha=1.0, norm="none", dropout=0.0, dtype="float64", seed=0):
    """One forward/backward of the chain; the chain report with theory's gains beside it."""
    config = chain_config(depth, width, batch, activation, init, scale, sigma_w, sigma_b, residual, alpha, norm,
                          dropout, dtype, seed)
    model, x, target = build_chain(config)
    x = Tensor(x, requires_grad=True, dtype=DTYPES[dtype])
    with np.errstate(all="ignore"):
        output, outputs = model.forward_with_outputs(x)
        loss = mse_loss(output, Tensor(target, dtype=DTYPES[dtype]))
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


def factor(log10_gain):
    return "-" if log10_gain is None else f"{log10_gain:+.4f} (x{10 ** log10_gain:.4g} per layer)"


LAYER_HEADER = ["layer", "|h_l|", "rms h_l", "max|h_l|", "|dL/dh_l|", "gain", "theory", "gain/theory", "|dL/dW_l|"]


def layer_rows(result):
    """The per-layer table, measured beside theory, as text cells (the terminal's and the page's)."""
    return [[record["layer"], describe(record["activation_norm"]), describe(record["rms_activation"], ".4f"),
             describe(record["max_abs_activation"], ".4f"), describe(record["grad_norm"]),
             describe(record["gain"], ".4f"), describe(record["predicted_gain"], ".4f"),
             describe(ratio(record["gain"], record["predicted_gain"]), ".3f"), describe(record["weight_grad_norm"])]
            for record in result["layers"]]


def show(result):
    layers = result["layers"]
    lines = [f"chain: {describe_config(result['config'])}",
             f"loss {result['loss']:.6g}.  gain = |dL/dh_(l-1)| / |dL/dh_l|, how layer l scales the gradient "
             "passing back (layer 1's h_0 is the input x)",
             f"theory: {result['theory']}"]
    grad_norms = [record["grad_norm"] for record in layers]
    bars, (low, high) = log_bars(grad_norms, 24)
    lines.append(f"|h_l| is the norm over the whole batch ({layers[0]['shape'][0]} x {layers[0]['shape'][-1]} "
                 "numbers); rms h_l = |h_l| / sqrt(batch x width) is one unit's size, max|h_l| the largest element")
    lines.append(table(LAYER_HEADER, layer_rows(result), bars, "|dL/dh_l| " + log_axis(low, high, 24)))
    fit = result["log10_gain_per_layer"]
    lines.append(f"per-layer log10 gain, least squares over log10 |dL/dh_l| (positive: grows on the way down): "
                 f"measured {factor(fit['measured'])}, theory {factor(fit['predicted'])}")
    lines.append(f"end to end |dL/dx| / |dL/dh_L|: measured {describe(result['end_to_end_ratio'])}, "
                 f"theory {describe(result['predicted_end_to_end_ratio'])}")
    if result["theory_caveat"]:
        lines.append(f"why theory misses: {result['theory_caveat']}")
    if not all(math.isfinite(g) for g in grad_norms):
        lines.append(f"some gradients are not finite: the chain left {result['config']['dtype']}'s range "
                     "(`tinygrad-vg train` with the same flags says where)")
    return "\n".join(lines)


def figure(result):
    layers = [record["layer"] for record in result["layers"]]

    def column(key):
        return [record[key] for record in result["layers"]]

    norms = [series("measured", layers, column("grad_norm"), "o")]
    gains = [series("measured", layers, column("gain"), "o")]
    if result["predicted_grad_norms"] is not None:
        norms.append(series("theory", layers, result["predicted_grad_norms"], "-"))
        gains.append(series("theory", layers, column("predicted_gain"), "-"))
    panels = [
        {"title": "|dLoss/dh_l| per layer", "xlabel": "layer l", "ylabel": "|dL/dh_l|", "lines": norms},
        {"title": "gain |dL/dh_(l-1)| / |dL/dh_l|", "xlabel": "layer l", "ylabel": "gain", "lines": gains},
        {"title": "|dLoss/dW_l| per layer", "xlabel": "layer l", "ylabel": "|dL/dW_l|",
         "lines": [series("measured", layers, column("weight_grad_norm"), "o")]},
    ]
    if result["config"]["activation"] in BOUNDED:
        panels.append({"title": "one unit's size: rms and max |h_l|", "xlabel": "layer l", "ylabel": "|h_l| per unit",
                       "yscale": "linear",
                       "lines": [series("rms h_l", layers, column("rms_activation"), "o"),
                                 series("max |h_l|", layers, column("max_abs_activation"), "C1s")]})
    fit = result["log10_gain_per_layer"]
    summary = [["the chain", describe_config(result["config"]), ""], ["loss", f"{result['loss']:.6g}", ""],
               ["per-layer log10 gain (least squares over log10 |dL/dh_l|)", factor(fit["measured"]),
                factor(fit["predicted"])],
               ["end to end |dL/dx| / |dL/dh_L|", describe(result["end_to_end_ratio"]),
                describe(result["predicted_end_to_end_ratio"])]]
    if result["theory_caveat"]:
        summary.append(["why theory misses", " ".join(result["theory_caveat"].split()), ""])
    return [{"title": f"theory: {result['theory']}", "table": {"header": ["", "measured", "theory"], "rows": summary}},
            *panels, {"title": "per layer, measured beside theory", "table": {"header": LAYER_HEADER,
                                                                                "rows": layer_rows(result)}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
