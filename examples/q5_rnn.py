"""Question 5: why are RNNs hit hardest?

Short answer: an RNN applies the SAME recurrent matrix W at every time step, so the gradient
reaching h_t from a loss at step T has been multiplied by W^T diag(tanh') T - t times:
||dL/dh_t|| is about rho(W)^(T-t) ||dL/dh_T||, with rho the spectral radius (Goodfellow et al.
section 8.2.5). A feed-forward chain can give each layer its own, well-chosen matrix; an RNN
has one matrix, sequences hundreds of steps long, and training moves that one matrix's
eigenvalues across 1 for every step at once. Long-range terms of dL/dW vanish beside short ones,
so long dependencies are not learned (Bengio et al. 1994, Pascanu et al. 2013).

Theory: for W = r Q (Q orthogonal) and a nearly linear tanh (small inputs), ||dL/dh_t|| /
||dL/dh_T|| = r^(T-t) up to the tanh' factors (each <= 1). For any W it is at most
(sigma_max(W))^(T-t) (theory.rnn_gradient_bound, exact as a bound but loose: a Gaussian W has
sigma_max ~ 2 rho) and follows ||W^s||_2 (theory.linear_rnn_gradient_norms) when tanh is nearly linear.

Saturation: each step back also multiplies by diag(tanh'(a_t)), and tanh' < 1 wherever tanh is
not linear. For W = r Q a gradient spread evenly over the units keeps rms(tanh'(a_t)) of its norm
at that factor and all of it at W^T, so ||dL/dh_t|| / ||dL/dh_T|| ~ r^(T-t) prod_(s>t) rms tanh'(a_s):
measured by the script at --input-scale 1 (T = 60, r = 0.9, 1, 1.1), within a factor 1.6 over ratios
of 5e-11 to 4e-7 that r^(T-t) misses by 1e7 to 1e9. It is an estimate (it assumes the spread), not
a bound.

Run:  python examples/q5_rnn.py --steps 60 --radius 0.9 1.0 1.1 [--plot q5.png] [--html q5.html]
"""
import sys

import numpy as np

from tinygrad_vg import Tensor, theory
from tinygrad_vg.argtypes import finite_float, positive_int
from tinygrad_vg.nn import RNN, init, mse_loss
from tinygrad_vg.script import OptionError, experiment, main


def arguments(parser):
    parser.add_argument("--steps", type=positive_int, default=60, help="sequence length T (default 60)")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden units (default 32)")
    parser.add_argument("--radius", type=finite_float, nargs="+", default=[0.9, 1.0, 1.1],
                        help="spectral radii r of W = r Q, Q orthogonal (default 0.9 1.0 1.1)")
    parser.add_argument("--gaussian-scale", type=finite_float, default=1.0,
                        help="s of the Gaussian W ~ N(0, s^2/hidden) of the second table (default 1.0)")
    parser.add_argument("--input-scale", type=finite_float, default=1e-5,
                        help="size of the inputs; small keeps tanh nearly linear (default 1e-5; try 0.01 "
                             "to see saturation pull r > 1 below r^(T-t))")
    parser.add_argument("--every", type=positive_int, default=10, help="print every n-th step back (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and data")


def gradient_through_time(inputs, target, seed, set_recurrent_weight):
    """||dL/dh_t|| / ||dL/dh_T|| for s = T - t = 0..T-1 (the loss on the last state only), its estimate
    from saturation, and W."""
    hidden = target.shape[1]
    rnn = RNN(hidden, hidden, rng=seed)
    set_recurrent_weight(rnn.weight_hh)
    init.constant_(rnn.bias, 0.0)
    _, last_state = rnn(Tensor(inputs))
    for h in rnn.hidden_states[1:]:       # hidden_states = [h_0, ..., h_T]: keep each dL/dh_t
        h.retain_grad()
    mse_loss(last_state, target).backward()
    # h_t.grad = dL/dh_t, back through T - t copies of W
    norms = np.array([np.linalg.norm(h.grad) for h in rnn.hidden_states[1:]])[::-1]
    # tanh'(a_t) = 1 - h_t^2 for t = 2..T: s steps back the gradient has passed a_T, ..., a_(T-s+1)
    rms_derivative = [np.sqrt(np.mean((1 - h.data ** 2) ** 2)) for h in rnn.hidden_states[2:]]
    radius = theory.spectral_radius(rnn.weight_hh.data)
    return (norms / norms[0]).tolist(), theory.saturated_rnn_gradient_ratios(radius, rms_derivative).tolist(), \
        rnn.weight_hh.data


@experiment
def run(steps=60, hidden=32, radius=(0.9, 1.0, 1.1), gaussian_scale=1.0, input_scale=1e-5, every=10, seed=0):
    if steps < 2:
        raise OptionError(f"need --steps >= 2, got {steps}")
    rng = np.random.default_rng(seed)
    inputs = input_scale * rng.standard_normal((steps, 4, hidden))
    target = rng.standard_normal((4, hidden))
    orthogonal = []
    for r in radius:
        measured, saturation, _ = gradient_through_time(
            inputs, target, seed, lambda w: init.orthogonal_(w, gain=r, rng=seed))
        orthogonal.append({"r": r, "measured": measured, "predicted": [r ** s for s in range(steps)],
                           "saturation_estimate": saturation})
    ratios, _, weight = gradient_through_time(
        inputs, target, seed, lambda w: init.normal_(w, 0.0, gaussian_scale / np.sqrt(hidden), rng=seed))
    rho = theory.spectral_radius(weight)
    half = np.arange(steps // 2, steps)   # the measured growth per step: a line through log ratio
    return {"steps": steps, "hidden": hidden, "every": every, "gaussian_scale": gaussian_scale,
            "orthogonal": orthogonal,
            "gaussian": {"measured": ratios, "spectral_radius": rho,
                         "largest_singular_value": theory.largest_singular_value(weight),
                         "power_norms": theory.linear_rnn_gradient_norms(weight, steps - 1).tolist(),
                         "radius_rate": [rho ** s for s in range(steps)],
                         "bound": theory.rnn_gradient_bound(weight, steps - 1, derivative_bound=1.0).tolist(),
                         "growth": float(np.exp(np.polyfit(half, np.log(np.asarray(ratios)[half]), 1)[0]))}}


def show(result):
    steps, orthogonal, gaussian = result["steps"], result["orthogonal"], result["gaussian"]
    shown = sorted(set(range(0, steps, result["every"])) | {steps - 1})
    lines = [f"tanh RNN, {result['hidden']} hidden units, T = {steps}, loss on h_T; W = r Q with Q orthogonal,",
             "so every eigenvalue and singular value of W has modulus r.\n",
             "||dL/dh_t|| / ||dL/dh_T||: measured by backward through time, predicted r^(T-t), and r^(T-t) times the",
             "product of rms tanh'(a_s) over the steps it passed (the saturation it met)",
             f"{'T-t':>4}" + "".join(f"  {'r=' + format(o['r'], 'g') + ' measured':>16} {'r^(T-t)':>10} {'x tanh':>10}"
                                     for o in orthogonal)]
    for s in shown:
        lines.append(f"{s:>4}" + "".join(f"  {o['measured'][s]:>16.4e} {o['predicted'][s]:>10.4e} "
                                         f"{o['saturation_estimate'][s]:>10.4e}" for o in orthogonal))
    least = min(o["saturation_estimate"][-1] / o["predicted"][-1] for o in orthogonal)
    lines.append(f"over the {steps - 1} steps back the rms tanh' factors multiply to {least:.4g} at least: "
                 + ("tanh is nearly linear here." if least > 0.99 else "saturation, not W, takes that much of the gradient."))
    rho, sigma_max = gaussian["spectral_radius"], gaussian["largest_singular_value"]
    lines += [f"\nGaussian W ~ N(0, {result['gaussian_scale']:g}^2/{result['hidden']}): spectral radius rho = "
              f"{rho:.4f}, largest singular value sigma_max = {sigma_max:.4f}",
              f"{'T-t':>4}  {'measured':>10}  {'||W^s||_2':>10}  {'rho^s':>10}  {'bound sigma_max^s':>17}"]
    for s in shown:
        lines.append(f"{s:>4}  {gaussian['measured'][s]:>10.4e}  {gaussian['power_norms'][s]:>10.4e}  "
                     f"{gaussian['radius_rate'][s]:>10.4e}  {gaussian['bound'][s]:>17.4e}")
    lines += [f"measured growth per step over the second half: {gaussian['growth']:.4f}; rho = {rho:.4f}; "
              f"sigma_max = {sigma_max:.4f}",
              "The measured ratio never exceeds the bound, and it grows or decays at the rate of rho, not of sigma_max:",
              "the single matrix's largest eigenvalue decides every long-range gradient."]
    return "\n".join(lines)


def figure(result):
    back = list(range(result["steps"]))
    gaussian = result["gaussian"]
    orthogonal = []
    for n, o in enumerate(result["orthogonal"]):
        orthogonal.append({"label": f"W = {o['r']:g} Q", "x": back, "y": o["measured"], "style": f"C{n}o"})
        orthogonal.append({"label": f"{o['r']:g}^(T-t)", "x": back, "y": o["predicted"], "style": f"C{n}-"})
    return [{"title": "W = r Q, Q orthogonal: measured points, r^(T-t) lines", "xlabel": "T - t (steps back)",
             "ylabel": "||dL/dh_t|| / ||dL/dh_T||", "lines": orthogonal},
            {"title": f"Gaussian W: rho = {gaussian['spectral_radius']:.3f}, "
                      f"sigma_max = {gaussian['largest_singular_value']:.3f}",
             "xlabel": "T - t (steps back)", "ylabel": "||dL/dh_t|| / ||dL/dh_T||",
             "lines": [{"label": "measured", "x": back, "y": gaussian["measured"], "style": "C0o"},
                       {"label": "rho^(T-t)", "x": back, "y": gaussian["radius_rate"], "style": "C0-"},
                       {"label": "||W^s||_2", "x": back, "y": gaussian["power_norms"], "style": "C2:"},
                       {"label": "sigma_max^(T-t) bound", "x": back, "y": gaussian["bound"], "style": "k--"}]}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
