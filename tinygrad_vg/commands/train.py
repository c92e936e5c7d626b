"""train: train a chain on a synthetic task; the per-step story and where it halts.

Full-batch training (SGD unless --optimizer says otherwise) on y = tanh(x A^T) under anomaly detection:
the per-step story, and at the first inf/nan the step, layer, op, kind and phase, with theory's
prediction where it is exact (W = k I linear chains). Try --init identity --activation linear --scale 4
--dtype float32 --depth 80; or --sigma-w 4, a chaotic tanh chain whose gradient explodes (1.2e4 at
step 0) but stays finite: the first step saturates the units, layer 1's gradient vanishes (3e-11) and
the loss stays above the mean's.

Run:  tinygrad-vg train --depth 30 --steps 100 [--optimizer adam] [--json] [--plot train.png] [--html train.html]
"""
import math
import sys

import numpy as np

from .. import theory
from ..argtypes import non_negative_float, positive_float, positive_int
from ..diagnostics import describe, ratio
from ..experiments.chain_theory import predicted_halt
from ..experiments.chains import DTYPES, best_constant_loss, build_chain, chain_config, describe_config
from ..experiments.measures import layer_of, unit_sizes
from ..experiments.optimizers import OPTIMIZERS, describe_optimizer, make_optimizer
from ..nn.losses import mse_loss
from ..norms import global_norm
from ..script import OptionError, experiment, main
from ..tensor import Tensor
from ..training import halt_panel, train
from ..views.jsondata import json_ready
from ..views.text import table
from .chain_flags import add_chain_arguments
from .panels import series


def arguments(parser):
    add_chain_arguments(parser, depth=30, width=32, batch=32)
    group = parser.add_argument_group("training")
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


@experiment
def run(depth=30, width=32, batch=32, activation="tanh", init="normal", scale=1.0, sigma_w=1.5, sigma_b=0.1,
        residual=False, alpha=1.0, norm="none", dropout=0.0, dtype="float64", seed=0, steps=100, optimizer="sgd",
        lr=0.1, momentum=None, weight_decay=0.0, clip=None, every=None, progress=None):
    """Train under anomaly detection; `progress(done, detail)`, if given, is called after each step."""
    if momentum is not None and optimizer not in ("momentum", "rmsprop"):
        raise OptionError(f"--momentum: --optimizer {optimizer} has no momentum (use --optimizer momentum or rmsprop)")
    config = chain_config(depth, width, batch, activation, init, scale, sigma_w, sigma_b, residual, alpha, norm,
                          dropout, dtype, seed)
    model, x, target = build_chain(config)
    rule = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    peaks = []    # max |h_L| of each step, read where the loss sees h_L

    def loss_noting_the_peak(output, target):
        peaks.append(unit_sizes(0.0, output.data)["max_abs_activation"])
        return mse_loss(output, target)

    record = train(model, x, target, steps, clip=clip, loss_fn=loss_noting_the_peak, optimizer=rule,
                   on_step=(lambda step, rec: progress(step + 1, f"loss {rec.loss[-1]:.4g}")) if progress else None)
    result = {"command": "train", "config": {**config, "steps": steps, "lr": lr, "clip": clip, "optimizer": optimizer,
                                              "momentum": momentum, "weight_decay": weight_decay},
              "optimizer": json_ready({"name": type(rule).__name__, **rule.defaults}), **record.to_dict(),
              "every": every or max(1, steps // 10)}
    units = math.sqrt(batch * width)
    for entry, peak in zip(result["steps"], peaks):
        entry["rms_activations"] = [value / units for value in entry["activation_norms"]]
        entry["max_abs_output"] = peak
    result["halted_step_activation_norms"] = None
    if result["halted"] is not None:
        result["halted"]["layer"] = layer_of(result["halted"]["module"])
        if result["halted"]["phase"] != "update":   # the weights are still those the halting step started from
            with np.errstate(all="ignore"):
                outputs = model.forward_with_outputs(Tensor(x, dtype=DTYPES[dtype]))[1]
            result["halted_step_activation_norms"] = [global_norm([h.data]) for h in outputs]
    result["predicted_halt"], result["theory"] = predicted_halt(config, x, target)
    # where the halt prediction is exact (W = k I, linear), so is |h_l| = |k|^l |x| at step 0
    result["predicted_activation_norms"] = (theory.identity_chain(float(scale), depth, x, target).activation_norms
                                            if result["theory"].startswith("exact") else None)
    result["best_constant_loss"] = best_constant_loss(target)
    return result


def story_rows(result):
    """Rows of the per-step story: every result["every"] steps, and the last."""
    steps = result["steps"]
    rows = []
    for entry in steps:
        if entry["step"] % result["every"] and entry["step"] != len(steps) - 1:
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


def story_header(result):
    depth = result["config"]["depth"]
    return ["step", "loss", "|grad|", "|dL/dW_1|", f"|dL/dW_{depth}|", "W_1/W_L", "|h_L|", "rms h_L", "max|h_L|"]


def outcome(result):
    """"no halt: ..." beside the mean's loss, or where the run halted."""
    halted = result["halted"]
    if halted is not None:
        return f"HALTED at {describe_halt(halted)}"
    losses = [entry["loss"] for entry in result["steps"]]
    return (f"no halt: {len(losses)} steps, loss {losses[0]:.5g} -> {losses[-1]:.5g}, "
            f"{losses[-1] / result['best_constant_loss']:.3g} x {result['best_constant_loss']:.4g}, the loss "
            "of predicting the targets' mean (ignoring x)")


def halt_prediction(result):
    predicted, halted = result["predicted_halt"], result["halted"]
    verdict = ""
    if predicted is not None and halted is not None:
        agrees = all(predicted[key] == halted[key] for key in ("step", "phase", "layer", "kind"))
        verdict = " - the run agrees" if agrees else " - the run DISAGREES"
    shown = "" if predicted is None else (f": step 0, {predicted['phase']} phase, layer {predicted['layer']}, "
                                          f"{predicted['kind']}")
    return f"{result['theory']}{shown}{verdict}"


def settings(result):
    config = result["config"]
    clip = f", clip {config['clip']:g}" if config["clip"] is not None else ""
    return f"{describe_optimizer(result['optimizer'])}{clip}, up to {config['steps']} steps"


def show(result):
    config = result["config"]
    lines = [f"train: {describe_config(config)}; {settings(result)}",
             "task: y = tanh(x A^T), a fixed random teacher; loss mean((h_L - y)^2); anomaly detection on",
             f"|h_L| is over the whole batch ({config['batch']} x {config['width']} numbers); rms h_L = "
             "|h_L| / sqrt(batch x width) per unit, max|h_L| its largest element"]
    if result["steps"]:
        lines.append(table(story_header(result), story_rows(result)))
    lines.append(outcome(result))
    if result["halted"] is not None:
        lines.append(f"  {result['halted']['message']}")
    lines.append(f"halt prediction: {halt_prediction(result)}")
    return "\n".join(lines)


def figure(result):
    panels = []
    halted, steps = result["halted"], [entry["step"] for entry in result["steps"]]
    marks = [] if halted is None else [{"x": halted["step"], "label": f"halted at step {halted['step']}"}]
    if steps:
        last = result["config"]["depth"]
        panels.append({"title": "loss, beside the loss of predicting the targets' mean", "xlabel": "step",
                       "ylabel": "loss", "marks": marks,
                       "lines": [series("loss", steps, [entry["loss"] for entry in result["steps"]], "-"),
                                 series("predicting the mean", [steps[0], steps[-1]],
                                        [result["best_constant_loss"]] * 2, "--")]})
        panels.append({"title": "the first and the last layer's weight gradient", "xlabel": "step",
                       "ylabel": "|dL/dW_l|", "marks": marks,
                       "lines": [series(f"layer {layer}", steps, [entry["weight_grad_norms"][layer - 1]
                                                                   for entry in result["steps"]], style)
                                 for layer, style in ((1, "-"), (last, "--"))]})
        panels.append({"title": "|dL/dW_l| in log colours: a row per step, a column per layer", "xlabel": "layer l",
                       "ylabel": "step", "x0": 1, "y0": 0, "colorbar": "|dL/dW_l|",
                       "heatmap": [entry["weight_grad_norms"] for entry in result["steps"]]})
    if halted is not None:
        panels.append(halt_panel(halted))
    norms = result["halted_step_activation_norms"]
    if norms is not None:
        layers = list(range(1, len(norms) + 1))
        largest = float(np.finfo(DTYPES[result["config"]["dtype"]]).max)
        panels.append({"title": f"|h_l| of step {halted['step']}'s forward pass, run again unchecked",
                       "xlabel": "layer l", "ylabel": "|h_l|",
                       "marks": [{"x": halted["layer"], "label": "halted"}] if halted["layer"] else [],
                       "lines": [series("|h_l|", layers, norms, "o"),
                                 series(f"{result['config']['dtype']} max", [1, layers[-1]], [largest] * 2, "--"),
                                 *([series("theory, |k|^l |x|", layers, result["predicted_activation_norms"], "-")]
                                   if result["predicted_activation_norms"] is not None and halted["step"] == 0
                                   else [])]})
    summary = {"title": "the run", "table": {"header": ["", ""], "rows": [
        ["the chain", describe_config(result["config"])], ["training", settings(result)],
        ["outcome", outcome(result)], ["halt prediction", halt_prediction(result)]]}}
    story = [{"title": f"the per-step story (every {result['every']} steps, and the last)",
              "table": {"header": story_header(result), "rows": story_rows(result)}}] if steps else []
    return [summary, *panels, *story]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
