"""Question 3: if z = Wx overflows, why can't the backward pass still fix the weights?

Short answer: backward needs the forward values. Once an activation is inf, the loss is inf, and
every gradient that passes through it is inf or inf * 0 = nan: no entry of dL/dW is usable, and one
SGD step turns every weight into nan. Even just before overflow the gradient carries k^(2L-1),
so the first update throws the weights out of range and the next forward overflows.

This script trains W = k I chains of several depths in float32 with the library's training loop,
which halts at the first non-finite value and names the step, phase, layer and op. Theory
(theory.identity_chain_first_nonfinite) predicts the phase, layer and kind exactly, from the same
float32 arithmetic; theory.overflow_depth_estimates explains the depths with logarithms.

Run:  python examples/q3_overflow_halts_training.py --k 8 [--depths 10 20 21 42 43] [--plot q3.png] [--html q3.html]
"""
import sys
from dataclasses import asdict

import numpy as np

from tinygrad_vg import theory, training
from tinygrad_vg.argtypes import finite_float, positive_int
from tinygrad_vg.experiments.measures import layer_of
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.optim import SGD
from tinygrad_vg.script import OptionError, experiment, main


def arguments(parser):
    parser.add_argument("--k", type=finite_float, default=8.0, help="scale of W = k I (default 8)")
    parser.add_argument("--depths", type=positive_int, nargs="+",
                        help="chain depths to train (default: around the estimates)")
    parser.add_argument("--width", type=positive_int, default=8, help="units per layer (default 8)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="(default float32)")
    parser.add_argument("--lr", type=finite_float, default=0.01, help="SGD learning rate (default 0.01)")
    parser.add_argument("--steps", type=positive_int, default=3, help="training steps per chain (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input and target")


def train_until_halt(k, depth, width, x, target, dtype, steps, lr):
    """Train the W = k I chain; the halt it measured beside the first non-finite value theory predicts."""
    chain = DeepChain(depth, width, activation="linear", init="identity", scale=k, dtype=dtype)
    record = training.train(chain, x, target, steps, lr=lr)
    predicted = theory.identity_chain_first_nonfinite(k, depth, x, target, dtype, bias=True)
    halt = None if record.halted is None else {**asdict(record.halted), "layer": layer_of(record.halted.module)}
    if halt is None:
        agree = predicted is None
    elif predicted is None:
        agree = halt["step"] > 0
    else:  # the engine runs the loss as forward ops outside any module
        phase = "forward" if predicted.phase == "loss" else predicted.phase
        agree = (halt["step"], halt["phase"], halt["layer"], halt["kind"]) == (0, phase, predicted.layer, predicted.kind)
    return {"depth": depth, "halt": halt, "agree": agree, "steps_done": record.steps,
            "predicted": None if predicted is None else
            {"phase": predicted.phase, "layer": predicted.layer, "kind": predicted.kind},
            "first_weight_grad_norm": record.weight_grad_norms[0][0] if record.steps else None,
            "first_loss": record.loss[0] if record.steps else None}


@experiment
def run(k=8.0, depths=None, width=8, dtype="float32", lr=0.01, steps=3, seed=0):
    if k <= 1:
        raise OptionError(f"need --k > 1 (a chain with k <= 1 cannot overflow), got --k {k:g}")
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, width)).astype(dtype)
    target = rng.standard_normal((4, width)).astype(dtype)
    estimates = theory.overflow_depth_estimates(k, x, dtype, bias=True)
    depths = depths or sorted({max(1, estimates.loss // 2), estimates.loss - 1, estimates.loss,
                               estimates.activation - 1, estimates.activation})
    chains = [train_until_halt(k, depth, width, x, target, dtype, steps, lr) for depth in depths]

    # Where step 0 is finite, the gradient is: how big it is, beside theory in float64.
    shallow = chains[int(np.argmin(depths))]
    exact = theory.identity_chain(k, shallow["depth"], x.astype(np.float64), target.astype(np.float64))

    # Without the halt: one pass past the overflow, and what backward hands the optimiser.
    deep = max(depths)
    chain = DeepChain(deep, width, activation="linear", init="identity", scale=k, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        output, layer_outputs = chain.forward_with_outputs(x)
        loss = mse_loss(output, target)
        loss.backward()
        SGD(chain.parameters(), lr).step()
    first_grad = chain.weights[0].grad
    return {"k": k, "width": width, "dtype": str(dtype), "lr": lr, "steps": steps,
            "largest_finite": float(np.finfo(dtype).max),
            "estimates": {"loss": estimates.loss, "gradient": estimates.gradient, "activation": estimates.activation},
            "chains": chains,
            "shallow": {"depth": shallow["depth"], "loss": shallow["first_loss"], "theory_loss": float(exact.loss),
                        "weight_grad_norm": shallow["first_weight_grad_norm"],
                        "theory_weight_grad_norm": float(exact.weight_grad_norms[0]),
                        "weight_norm": float(k * np.sqrt(width))},
            "unchecked": {"depth": deep, "loss": float(loss.data), "entries": int(first_grad.size),
                          "finite": int(np.isfinite(first_grad).sum()), "nan": int(np.isnan(first_grad).sum()),
                          "inf": int(np.isinf(first_grad).sum()),
                          "nan_weights_after_step": int(np.isnan(chain.weights[0].data).sum()),
                          # forward, max |h_l| = k^l max|x| exactly (W = k I, b = 0) until it passes dtype's max
                          "max_abs_activations": [float(np.max(np.abs(h.data))) for h in layer_outputs],
                          "predicted_max_abs_activations": [k ** l * float(np.max(np.abs(x))) for l in range(1, deep + 1)],
                          "overflow_layer": theory.overflow_layer(k, x, dtype, deep)}}


def describe_prediction(predicted):
    if predicted is None:
        return "step 0 finite"
    if predicted["layer"] is None:
        return f"forward, the loss, {predicted['kind']}"
    return f"{predicted['phase']}, layers.{predicted['layer'] - 1}, {predicted['kind']}"


def describe_halt(halt, steps):
    if halt is None:
        return f"no halt in {steps} steps"
    return f"step {halt['step']}, {halt['phase']}, {halt['module'] or 'the loss'}, {halt['op']}, {halt['kind']}"


def show(result):
    estimates, k = result["estimates"], result["k"]
    lines = [f"W = {k:g} I chains in {result['dtype']}, largest finite value {result['largest_finite']:.3e}",
             f"theory (from logs): the loss overflows from depth {estimates['loss']}, "
             f"the gradients from depth {estimates['gradient']}, the activations at layer {estimates['activation']}\n",
             f"{'depth':>5}  {'predicted at step 0':<28} {'measured halt: step, phase, module, op, kind':<52} agree"]
    for c in result["chains"]:
        lines.append(f"{c['depth']:>5}  {describe_prediction(c['predicted']):<28} "
                     f"{describe_halt(c['halt'], result['steps']):<52} {'yes' if c['agree'] else 'NO'}")
    shallow = result["shallow"]
    if shallow["loss"] is not None:
        lines += [f"\ndepth {shallow['depth']}, step 0: loss {shallow['loss']:.4e} (theory {shallow['theory_loss']:.4e})",
                  f"  |dL/dW_1| measured {shallow['weight_grad_norm']:.4e}, theory k^(L-1) |G^T x| = "
                  f"{shallow['theory_weight_grad_norm']:.4e}",
                  f"  the SGD step lr |dL/dW_1| = {result['lr'] * shallow['weight_grad_norm']:.4e} against |W_1| = "
                  f"k sqrt(width) = {shallow['weight_norm']:.4e}:\n  the update, not the data, now sets the weights"]
    unchecked = result["unchecked"]
    lines += [f"\ndepth {unchecked['depth']} without the halt: loss = {unchecked['loss']}",
              f"  dL/dW_1 has {unchecked['finite']} finite entries of {unchecked['entries']} "
              f"({unchecked['nan']} nan, {unchecked['inf']} inf)",
              f"  after one SGD step, W_1 has {unchecked['nan_weights_after_step']} nan entries of "
              f"{unchecked['entries']}: nothing left to fix"]
    return "\n".join(lines)


def figure(result):
    deepest = max(result["chains"], key=lambda c: c["depth"])
    halt_panel = {"title": f"depth {deepest['depth']}: where training stopped", "halt": deepest["halt"]}
    table = {"title": "predicted at step 0 beside the measured halt",
             "table": {"header": ["depth", "predicted at step 0", "measured halt", "agree"],
                       "rows": [[c["depth"], describe_prediction(c["predicted"]),
                                 describe_halt(c["halt"], result["steps"]), "yes" if c["agree"] else "NO"]
                                for c in result["chains"]]}}
    shallow, unchecked = result["shallow"], result["unchecked"]
    rows = [[f"depth {unchecked['depth']} without the halt: loss", unchecked["loss"], "inf"],
            ["  finite entries of dL/dW_1", f"{unchecked['finite']} of {unchecked['entries']}", "0"],
            ["  nan entries of W_1 after one SGD step", f"{unchecked['nan_weights_after_step']} of "
                                                        f"{unchecked['entries']}", "all"]]
    if shallow["loss"] is not None:
        rows = [[f"depth {shallow['depth']}, step 0: loss", shallow["loss"], shallow["theory_loss"]],
                ["  |dL/dW_1|", shallow["weight_grad_norm"], shallow["theory_weight_grad_norm"]],
                ["  the SGD step lr |dL/dW_1|", result["lr"] * shallow["weight_grad_norm"],
                 result["lr"] * shallow["theory_weight_grad_norm"]],
                ["  the weights it updates, |W_1| = k sqrt(width)", shallow["weight_norm"], shallow["weight_norm"]]] + rows
    aftermath = {"title": "what backward hands the optimiser, measured beside theory",
                 "table": {"header": ["", "measured", "theory"], "rows": rows}}
    layers = list(range(1, unchecked["depth"] + 1))
    forward = {"title": f"depth {unchecked['depth']}, forward: max |h_l| until it passes {result['dtype']}'s max",
               "xlabel": "layer l", "ylabel": "max |h_l|", "lines": [
                   {"label": "measured (inf left out)", "x": layers, "y": unchecked["max_abs_activations"],
                    "style": "C0o"},
                   {"label": f"{result['k']:g}^l max|x|", "x": layers, "y": unchecked["predicted_max_abs_activations"],
                    "style": "C0-"},
                   {"label": f"{result['dtype']}'s max", "x": [1, unchecked["depth"]],
                    "y": [result["largest_finite"]] * 2, "style": "k--"}],
               "marks": [] if unchecked["overflow_layer"] is None else
               [{"x": unchecked["overflow_layer"], "label": f"inf at layer {unchecked['overflow_layer']}"}]}
    return [table] + ([halt_panel] if deepest["halt"] else []) + [forward, aftermath]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
