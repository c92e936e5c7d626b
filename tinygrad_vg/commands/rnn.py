"""rnn: a vanilla RNN over T steps; dLoss/dh_t against the recurrent matrix.

h_t = phi(x_t U^T + h_(t-1) W_hh^T + b) over T steps, loss on h_T only: |dLoss/dh_t| per time step beside
the bound from W_hh's largest singular value and the rate of its spectral radius.

Run:  tinygrad-vg rnn -T 40 --width 32 --init orthogonal --scale 1.0 [--json] [--plot rnn.png] [--html rnn.html]
"""
import math
import sys
from types import SimpleNamespace

import numpy as np

from .. import theory
from ..argtypes import finite_float, non_negative_float, positive_int
from ..diagnostics import describe, norm, ratio
from ..experiments.chains import DTYPES
from ..experiments.measures import log10_gain_per_step, product
from ..nn import RNN
from ..nn.chain import initialise
from ..nn.losses import mse_loss
from ..nn.rnn import NONLINEARITIES
from ..script import experiment, main
from ..tensor import Tensor
from ..views.axes import log10_or_nan
from ..views.text import log_axis, log_bars, table
from .panels import series

RNN_INITS = ("default", "identity", "normal", "xavier", "he", "orthogonal")
# phi'(a_t) read off h_t = phi(a_t): tanh' = 1 - h^2 (saturated units pass almost nothing back),
# relu' = [h > 0], linear' = 1
DERIVATIVE_FROM_OUTPUT = {"tanh": lambda h: 1 - h ** 2, "relu": lambda h: (h > 0).astype(np.float64),
                          "linear": np.ones_like}


def arguments(parser):
    group = parser.add_argument_group("the RNN")
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


@experiment
def run(length=40, width=32, batch=8, activation="tanh", init="orthogonal", scale=1.0, sigma_w=1.0,
        dtype="float64", seed=0):
    """Loss on h_T only, so dLoss/dh_t is what is left of the gradient after T - t steps back."""
    config = {"length": length, "width": width, "batch": batch, "activation": activation, "init": init,
              "scale": scale, "sigma_w": sigma_w, "dtype": dtype, "seed": seed}
    rng = np.random.default_rng(seed)
    rnn = RNN(width, width, nonlinearity=activation, dtype=DTYPES[dtype], rng=rng)
    if init != "default":
        initialise(SimpleNamespace(weight=rnn.weight_hh, bias=None, in_features=width), init, scale, sigma_w, 0.0, rng)
    inputs = rng.standard_normal((length, batch, width))
    target = np.tanh(inputs[0])          # the task: recall the first input, T steps later
    h0 = Tensor(np.zeros((batch, width)), requires_grad=True, dtype=DTYPES[dtype])
    with np.errstate(all="ignore"):
        _, last = rnn(Tensor(inputs, dtype=DTYPES[dtype]), h0)
        loss = mse_loss(last, Tensor(target, dtype=DTYPES[dtype]))
        loss.backward()
    grad_norms = np.array([norm(h.grad) for h in rnn.hidden_states])
    weight = rnn.weight_hh.data
    radius, largest = theory.spectral_radius(weight), theory.largest_singular_value(weight)
    steps_back = length - np.arange(length + 1)
    derivatives = [DERIVATIVE_FROM_OUTPUT[activation](h.data.astype(np.float64)) for h in rnn.hidden_states[1:]]
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


def step_header(result):
    phi = result["config"]["activation"]
    return ["t", "|dL/dh_t|", f"mean {phi}'", f"rms {phi}'", "estimate", "bound", "|dL/dh_T| rho^(T-t)"]


def step_rows(result):
    return [[entry["t"], describe(entry["grad_norm"]), describe(entry["mean_derivative"], ".4f"),
             describe(entry["rms_derivative"], ".4f"), describe(entry["saturation_estimate"]),
             describe(entry["bound"]), describe(entry["radius_rate"])] for entry in result["time_steps"]]


def end_to_end(result):
    """|dL/dh_0| / |dL/dh_T|: measured, at the rate rho^T, and by the saturation estimate."""
    first, last = result["time_steps"][0], result["time_steps"][-1]
    return (ratio(first["grad_norm"], last["grad_norm"]), ratio(first["radius_rate"], last["radius_rate"]),
            ratio(first["saturation_estimate"], last["grad_norm"]))


def show(result):
    config, phi = result["config"], result["config"]["activation"]
    init = "PyTorch's default U(-1/sqrt(n), 1/sqrt(n))" if config["init"] == "default" else (
        f"{config['init']} (scale {config['scale']:g}, sigma_w {config['sigma_w']:g})")
    lines = [f"rnn: T = {config['length']} steps, hidden {config['width']}, batch {config['batch']}, "
             f"{phi}, weight_hh {init}, {config['dtype']}, seed {config['seed']}",
             "loss on h_T only (task: recall x_1): dL/dh_t = dL/dh_T J_T ... J_(t+1), J_s = diag(phi'(a_s)) W_hh",
             f"weight_hh: spectral radius rho = {result['spectral_radius']:.4f}, "
             f"largest singular value sigma_max = {result['largest_singular_value']:.4f}",
             "bound (Pascanu et al. 2013): |dL/dh_t| <= |dL/dh_T| (gamma sigma_max)^(T-t), gamma = max|phi'| = 1;"
             " rho^(T-t) is the rate for long spans when phi' = 1",
             f"{phi}'(a_t) per unit, read off h_t: mean and rms over the batch and units; estimate = |dL/dh_T| "
             f"rho^(T-t) prod_(s>t) rms {phi}'(a_s),\n  the gradient spread evenly over the units (for W = rho Q, "
             f"each step keeps rms {phi}' of its norm)"]
    steps = result["time_steps"]
    bars, (low, high) = log_bars([entry["grad_norm"] for entry in steps], 24)
    lines.append(table(step_header(result), step_rows(result), bars, "|dL/dh_t| " + log_axis(low, high, 24)))
    fit = result["log10_gain_per_step"]
    lines.append(f"per-step log10 gain going back in time, least squares: measured {describe(fit['measured'], '+.4f')}; "
                 f"log10 rho {describe(fit['log10_spectral_radius'], '+.4f')}, "
                 f"log10 sigma_max {describe(fit['log10_largest_singular_value'], '+.4f')}")
    first, products = steps[0], result["derivative_product"]
    measured, rate, estimate = (describe(value) for value in end_to_end(result))
    lines.append(f"|dL/dh_0| / |dL/dh_T|: measured {measured}, rho^T {rate}, estimate {estimate}: over the "
                 f"{len(steps) - 1} steps the {phi}' factors multiply to {describe(products['rms'])} (rms; their means "
                 f"to {describe(products['mean'])}).")
    keys = ("saturation_estimate", "radius_rate")
    off = dict(zip(keys, np.abs(log10_or_nan([ratio(first[key], first["grad_norm"]) for key in keys]))))
    if all(map(math.isfinite, off.values())) and off["saturation_estimate"] < off["radius_rate"]:
        lines.append(f"  at t = 0 the estimate is off by x{10 ** off['saturation_estimate']:.3g}, rho^T by "
                     f"x{10 ** off['radius_rate']:.3g}: rho^(T-t) is the rate only when {phi}' = 1, and units whose "
                     f"|a_t| is large\n  pass little of their gradient back ({phi}' ~ 0), so the gradient falls faster "
                     "than rho says" + (", even at rho = 1." if abs(result["spectral_radius"] - 1) < 1e-9 else "."))
    return "\n".join(lines)


def figure(result):
    t = [entry["t"] for entry in result["time_steps"]]
    lines = [("measured |dL/dh_t|", "grad_norm", "o"), ("bound, sigma_max^(T-t)", "bound", "--"),
             ("rho^(T-t)", "radius_rate", ":"), ("estimate, rho^(T-t) prod rms phi'", "saturation_estimate", "-")]
    return [{"title": f"gradient through time, T = {result['config']['length']}, rho = {result['spectral_radius']:.3g}",
             "xlabel": "time step t", "ylabel": "|dL/dh_t|",
             "lines": [series(label, t, [entry[key] for entry in result["time_steps"]], style)
                       for label, key, style in lines]},
            {"title": f"|dL/dh_0| / |dL/dh_T| over T = {result['config']['length']} steps; weight_hh: "
                      f"rho = {result['spectral_radius']:.4f}, sigma_max = {result['largest_singular_value']:.4f}",
             "table": {"header": ["measured", "rho^T", "estimate, rho^T prod rms phi'"],
                       "rows": [[describe(value) for value in end_to_end(result)]]}},
            {"title": "per time step", "table": {"header": step_header(result), "rows": step_rows(result)}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
