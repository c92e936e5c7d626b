"""Question 8: Is it really about eigenvalues?

Short answer: for a linear RNN, exactly, in the long run: with W = V diag(lambda) V^-1 the gradient
through time is dL/dh_t = V^-T diag(lambda^(T-t)) V^T dL/dh_T (Goodfellow et al. section 8.2.5),
measured here to rounding for a non-orthogonal V, and its norm grows at the rate ln rho per step.
But the eigenvalues give the rate, not the size on the way: a non-normal W whose eigenvalues are
all below 1 here grows the gradient ~2000-fold over 26 steps before it decays. What bounds the
way is a singular value: ||W^s||_2 (the top singular value of W^s, reached by one cotangent) and
sigma_max(W)^s (Pascanu et al. 2013); a rise needs sigma_max(W) > 1, and the resolvent bounds
the peak from both sides (Kreiss: 623 <= 2033 <= 13551). And with tanh it is not W's
eigenvalues at all: at rho ~ 1.5 the gradient vanishes, at the mean-field rate ln(chi) / 2.

Run:  python examples/q8_eigendecomposition.py --steps 60 --eigenvalues 1.08 0.95 -0.9 0.7 0.5 0.3
"""
import sys

import numpy as np

from tinygrad_vg import Tensor
from tinygrad_vg.argtypes import finite_float, non_negative_float, positive_float, positive_int
from tinygrad_vg.nn import RNN, init
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.theory import eigen, gaussian, rnn as rnn_theory, spectra
from tinygrad_vg.views.axes import decade_range
from tinygrad_vg.views.text import log_axis, log_bar


def arguments(parser):
    parser.add_argument("--steps", type=positive_int, default=60, help="sequence length T of part 1 (default 60)")
    parser.add_argument("--eigenvalues", type=finite_float, nargs="+", default=[1.08, 0.95, -0.9, 0.7, 0.5, 0.3],
                        help="the eigenvalues lambda of W = V diag(lambda) V^-1, V Gaussian (default 1.08 0.95 -0.9 0.7 0.5 0.3)")
    parser.add_argument("--transient-size", type=positive_int, default=8, help="units of the non-normal W (default 8)")
    parser.add_argument("--diagonal", type=finite_float, nargs=2, default=[0.6, 0.85], metavar=("LOW", "HIGH"),
                        help="its eigenvalues, evenly from LOW to HIGH on the diagonal (default 0.6 0.85)")
    parser.add_argument("--coupling", type=finite_float, default=1.0,
                        help="its superdiagonal: unit i feeds unit i+1 with this weight (default 1)")
    parser.add_argument("--transient-steps", type=positive_int, default=150, help="its sequence length (default 150)")
    parser.add_argument("--width", type=positive_int, default=256, help="units of the tanh RNN (default 256)")
    parser.add_argument("--sigma-w", type=positive_float, default=1.5, help="its W ~ N(0, sigma_w^2/n) (default 1.5)")
    parser.add_argument("--input-scale", type=non_negative_float, default=1.0,
                        help="its U ~ N(0, scale^2/n), x_t ~ N(0, 1) (default 1)")
    parser.add_argument("--tanh-steps", type=positive_int, default=80, help="its sequence length (default 80)")
    parser.add_argument("--burn-in", type=positive_int, default=20,
                        help="its first steps, left out of the rate: the state settles at q* (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of V, the cotangents, the tanh RNN's draws")


def gradients_through_time(rnn, inputs, cotangent):
    """[dL/dh_T, dL/dh_(T-1), ..., dL/dh_1] for the loss sum(h_T * cotangent), so that dL/dh_T = cotangent."""
    _, last_state = rnn(Tensor(inputs))
    (last_state * Tensor(cotangent)).sum().backward(retain_grads=True)   # keep every dL/dh_t
    return np.array([h.grad for h in rnn.hidden_states[1:]])[::-1]


def fitted_rate(norms):
    """The slope of ln ||g_s|| against s (least squares): the growth rate per step back."""
    return float(np.polyfit(np.arange(len(norms)), np.log(norms), 1)[0])


def linear_rnn(weight, steps, cotangent, rng):
    """A linear RNN h_t = h_(t-1) W^T + x_t U^T + b with weight_hh = W; its gradient through time."""
    n = len(weight)
    rnn = RNN(n, n, nonlinearity="linear", rng=rng)
    init.fill(rnn.weight_hh, weight)
    return gradients_through_time(rnn, rng.standard_normal((steps, len(cotangent), n)), cotangent)


def eigendecomposition_part(eigenvalues, steps, rng):
    n = len(eigenvalues)
    vectors = rng.standard_normal((n, n))                       # not orthogonal: W is not normal
    weight = vectors @ np.diag(eigenvalues) @ np.linalg.inv(vectors)
    cotangent = rng.standard_normal((4, n))
    measured = linear_rnn(weight, steps, cotangent, rng)        # (T, batch, n): s = T - t = 0..T-1
    predicted = eigen.eigendecomposition_gradients(weight, cotangent, steps - 1)
    basis = eigen.eigenbasis(weight)
    # the coordinates c V of dL/dh_T (row form of V^T c) scale by lambda_i^s, one mode each; read at
    # s = 10, where 0.3^s is still far above the rounding of the largest mode (~1e-16 |g_s|)
    mode_step = min(10, steps - 1)
    modes = (measured[mode_step] @ basis.vectors / (cotangent @ basis.vectors))[0].real
    order = np.argsort(-np.abs(basis.values))
    measured_norms, predicted_norms = np.linalg.norm(measured, axis=(1, 2)), np.linalg.norm(predicted, axis=(1, 2))
    half = steps // 2
    return {"eigenvalues": list(eigenvalues), "steps": steps, "condition_number": basis.condition_number,
            "measured_norms": measured_norms.tolist(), "predicted_norms": predicted_norms.tolist(),
            "largest_relative_difference": float(np.max(np.linalg.norm(measured - predicted, axis=(1, 2))
                                                        / predicted_norms)),
            "mode_eigenvalues": basis.values.real[order].tolist(), "measured_modes": modes[order].tolist(),
            "mode_step": mode_step, "predicted_modes": (basis.values.real[order] ** mode_step).tolist(),
            "measured_rate": fitted_rate(measured_norms[half:]), "predicted_rate": fitted_rate(predicted_norms[half:]),
            "ln_rho": float(np.log(spectra.spectral_radius(weight)))}


def transient_part(size, diagonal, coupling, steps, rng):
    weight = np.diag(np.linspace(*diagonal, size)) + coupling * np.eye(size, k=1)
    powers = eigen.transient(weight, steps - 1)
    # two cotangents: a random direction, and the one W^s stretches most at the peak (its top left
    # singular vector: in row form c W^s, c = U[:, 0] of W^s = U S V^T)
    worst = np.linalg.svd(np.linalg.matrix_power(weight, powers.peak_step))[0][:, 0]
    random = rng.standard_normal(size)
    cotangent = np.stack([random / np.linalg.norm(random), worst])
    measured = np.linalg.norm(linear_rnn(weight, steps, cotangent, rng), axis=-1)      # (T, 2), |c| = 1
    return {"size": size, "diagonal": list(diagonal), "coupling": coupling, "steps": steps,
            "rho": spectra.spectral_radius(weight), "sigma_max": spectra.largest_singular_value(weight),
            "condition_number": float(powers.eigenbasis_bound[0]),   # kappa(V) rho^0 (inf for a defective W)
            "peak_step": powers.peak_step, "peak": powers.peak, "power_norms": powers.norms.tolist(), "kreiss": list(eigen.kreiss_bounds(weight)),
            "rho_powers": powers.eigenvalue_powers.tolist(), "sigma_max_powers": powers.singular_value_bound.tolist(),
            "eigenbasis_bound": powers.eigenbasis_bound.tolist(),
            "measured_random": measured[:, 0].tolist(), "measured_worst": measured[:, 1].tolist()}


def tanh_part(width, sigma_w, input_scale, steps, burn_in, rng):
    rnn = RNN(width, width, nonlinearity="tanh", rng=rng)
    init.normal_(rnn.weight_hh, 0.0, sigma_w / np.sqrt(width), rng=rng)
    init.normal_(rnn.weight_ih, 0.0, input_scale / np.sqrt(width), rng=rng)
    init.constant_(rnn.bias, 0.0)
    batch = 8                                                   # sequences, so that |dL/dh_t| averages over them
    norms = np.linalg.norm(gradients_through_time(rnn, rng.standard_normal((steps, batch, width)),
                                                  rng.standard_normal((batch, width))), axis=(1, 2))
    mean_field = rnn_theory.tanh_rnn_mean_field_rate(sigma_w, input_scale ** 2)
    settled = [h.data for h in rnn.hidden_states[burn_in + 1:]]
    return {"width": width, "sigma_w": sigma_w, "input_variance": input_scale ** 2, "steps": steps,
            "burn_in": burn_in, "rho": spectra.spectral_radius(rnn.weight_hh.data),
            "measured_norms": norms.tolist(), "measured_rate": fitted_rate(norms[:steps - burn_in]),
            "stationary_variance": mean_field.stationary_variance, "gain": mean_field.gain,
            "predicted_rate": mean_field.rate, "measured_mean_square_state": float(np.mean(np.square(settled))),
            "predicted_mean_square_state": gaussian.second_moment(mean_field.stationary_variance, "tanh")}


@experiment
def run(steps=60, eigenvalues=(1.08, 0.95, -0.9, 0.7, 0.5, 0.3), transient_size=8, diagonal=(0.6, 0.85),
        coupling=1.0, transient_steps=150, width=256, sigma_w=1.5, input_scale=1.0, tanh_steps=80,
        burn_in=20, seed=0):
    if steps < 4 or transient_steps < 2:
        raise OptionError(f"--steps must be >= 4 and --transient-steps >= 2, got {steps} and {transient_steps}")
    if tanh_steps < burn_in + 3:
        raise OptionError(f"--tanh-steps ({tanh_steps}) must exceed --burn-in ({burn_in}) by 3 or more")
    if len(set(eigenvalues)) != len(eigenvalues) or 0 in eigenvalues:
        raise OptionError(f"--eigenvalues must be distinct and non-zero, got {list(eigenvalues)}")
    rng = np.random.default_rng(seed)
    return {"eigendecomposition": eigendecomposition_part(eigenvalues, steps, rng),
            "transient": transient_part(transient_size, diagonal, coupling, transient_steps, rng),
            "tanh": tanh_part(width, sigma_w, input_scale, tanh_steps, burn_in, rng)}


def side(value):
    return "< 1" if value < 1 else ">= 1"


def shown_steps(count, every):
    return sorted(set(range(0, count, every)) | {count - 1})


def show(result):
    e, t, h = result["eigendecomposition"], result["transient"], result["tanh"]
    lines = [f"1. Linear RNN, W = V diag(lambda) V^-1 with a Gaussian V (kappa(V) = {e['condition_number']:.3g}),",
             f"   lambda = {', '.join(format(v, 'g') for v in e['eigenvalues'])}; T = {e['steps']}, loss sum(h_T * c).",
             "   |dL/dh_(T-s)|: measured by backward through time, predicted V^-T diag(lambda^s) V^T c",
             f"{'s':>7} {'measured':>12} {'predicted':>12} {'rho^s |c|':>12}"]
    rho = np.exp(e["ln_rho"])
    for s in shown_steps(e["steps"], 10):
        lines.append(f"{s:>7} {e['measured_norms'][s]:>12.5e} {e['predicted_norms'][s]:>12.5e} "
                     f"{rho ** s * e['measured_norms'][0]:>12.5e}")
    lines.append(f"   largest relative difference, measured vs predicted vector, over all s: "
                 f"{e['largest_relative_difference']:.1e}")
    lines.append(f"   each mode's coordinate (c V)_i, scaled over s = {e['mode_step']} steps: measured vs lambda_i^s")
    for value, measured, predicted in zip(e["mode_eigenvalues"], e["measured_modes"], e["predicted_modes"]):
        lines.append(f"     lambda = {value:>6g}  {measured:>13.6e}  {predicted:>13.6e}")
    lines.append(f"   growth rate per step over s >= {e['steps'] // 2}: measured {e['measured_rate']:.5f}, "
                 f"from the prediction {e['predicted_rate']:.5f}, ln rho = {e['ln_rho']:.5f}")

    lines += ["", f"2. A non-normal W ({t['size']} units, eigenvalues {t['diagonal'][0]:g}..{t['diagonal'][1]:g} "
                  f"on the diagonal, {t['coupling']:g} above it):",
              f"   rho = {t['rho']:.4g} {side(t['rho'])}, sigma_max = {t['sigma_max']:.4g} {side(t['sigma_max'])}, kappa(V) = "
              f"{t['condition_number']:.3g}. |dL/dh_(T-s)| / |dL/dh_T|:",
              f"{'s':>7} {'random c':>11} {'worst c':>11} {'||W^s||_2':>11} {'rho^s':>11} {'sigma_max^s':>11} "
              f"{'kappa rho^s':>11}"]
    for s in sorted(set(shown_steps(t["steps"], 15)) | {t["peak_step"]}):
        lines.append(f"{s:>7} {t['measured_random'][s]:>11.4e} {t['measured_worst'][s]:>11.4e} "
                     f"{t['power_norms'][s]:>11.4e} {t['rho_powers'][s]:>11.4e} {t['sigma_max_powers'][s]:>11.4e} "
                     f"{t['eigenbasis_bound'][s]:>11.4e}")
    random_peak = int(np.argmax(t["measured_random"]))
    lines += [f"   a random c peaks at {t['measured_random'][random_peak]:.4g} times |c| at s = {random_peak}; the worst c "
              f"(W^{t['peak_step']}'s top singular vector) at {t['measured_worst'][t['peak_step']]:.4g} at "
              f"s = {t['peak_step']},",
              f"   where ||W^s||_2 peaks at {t['peak']:.4g}, while rho^s = {t['rho_powers'][t['peak_step']]:.3g}. "
              "Eigenvalues give the rate as s -> inf;",
              "   singular values bound the way there: |g_s| <= ||W^s||_2 |c| <= sigma_max^s |c|, and kappa(V) rho^s.",
              f"   The resolvent predicts the peak without a power (Kreiss): {t['kreiss'][0]:.4g} <= max_s ||W^s||_2 "
              f"= {t['peak']:.4g} <= {t['kreiss'][1]:.4g}."]

    lines += ["", f"3. tanh RNN, {h['width']} units, W ~ N(0, {h['sigma_w']:g}^2/n) (rho = {h['rho']:.3f}), "
                  f"input variance {h['input_variance']:g}, T = {h['steps']}:",
              f"   mean field: q* = {h['stationary_variance']:.4f}, gain sigma_w^2 E[tanh'^2] = {h['gain']:.4f} per step",
              f"   mean h_t^2 over t > {h['burn_in']}: measured {h['measured_mean_square_state']:.4f}, "
              f"predicted E[tanh(z)^2] = {h['predicted_mean_square_state']:.4f}",
              f"   growth rate of |dL/dh_(T-s)| over s < {h['steps'] - h['burn_in']}: measured "
              f"{h['measured_rate']:.4f}, mean field ln(gain)/2 = {h['predicted_rate']:.4f}, "
              f"ln rho = {np.log(h['rho']):.4f}",
              "   " + ("rho > 1 yet the gradient vanishes: tanh' < 1 takes more than W gives." if h["rho"] > 1 > h["gain"]
                     else "the rate is the mean field's, set by sigma_w and tanh' at q*, not by ln rho.")]

    low, high = decade_range(t["measured_worst"] + t["rho_powers"][1:])
    lines += ["", "   part 2, worst c measured and rho^s, log scale:", f"{'':>16}{log_axis(low, high, 40)}"]
    for s in (1, t["peak_step"] // 2, t["peak_step"], (t["peak_step"] + t["steps"]) // 2, t["steps"] - 1):
        lines.append(f"   s={s:<4} g_s   {log_bar(t['measured_worst'][s], low, high, 40)}")
        lines.append(f"   {'':<6} rho^s {log_bar(t['rho_powers'][s], low, high, 40)}")
    return "\n".join(lines)


def figure(result):
    e, t, h = result["eigendecomposition"], result["transient"], result["tanh"]
    back = list(range(e["steps"]))
    rho = np.exp(e["ln_rho"])
    eigen_lines = [{"label": "measured", "x": back, "y": e["measured_norms"], "style": "C0o"},
                   {"label": "V^-T diag(lambda^s) V^T c", "x": back, "y": e["predicted_norms"], "style": "C0-"},
                   {"label": "rho^s |c|", "x": back, "y": [rho ** s * e["measured_norms"][0] for s in back],
                    "style": "k--"}]
    back = list(range(t["steps"]))
    transient_lines = [{"label": "measured, random c", "x": back, "y": t["measured_random"], "style": "C0o"},
                       {"label": "measured, worst c", "x": back, "y": t["measured_worst"], "style": "C1o"},
                       {"label": "||W^s||_2", "x": back, "y": t["power_norms"], "style": "C1-"},
                       {"label": "rho^s", "x": back, "y": t["rho_powers"], "style": "k--"},
                       # drawn while it stays within 1000 times the peak, so that the axis still shows the rest
                       {"label": "sigma_max^s", "x": [s for s in back if t["sigma_max_powers"][s] <= 1e3 * t["peak"]],
                        "y": [v for v in t["sigma_max_powers"] if v <= 1e3 * t["peak"]], "style": "C2--"}]
    back = list(range(h["steps"]))
    tanh_lines = [{"label": "measured", "x": back, "y": h["measured_norms"], "style": "C0o"},
                  {"label": "mean field e^(rate s)", "x": back,
                   "y": [h["measured_norms"][0] * np.exp(h["predicted_rate"] * s) for s in back], "style": "C0-"},
                  {"label": "rho^s", "x": back, "y": [h["measured_norms"][0] * h["rho"] ** s for s in back],
                   "style": "k--"}]
    return [{"title": "linear RNN, W = V diag(lambda) V^-1", "xlabel": "s = T - t", "ylabel": "|dL/dh_t|",
             "lines": eigen_lines},
            {"title": f"non-normal W, rho = {t['rho']:.3g}", "xlabel": "s = T - t", "ylabel": "|dL/dh_t| / |dL/dh_T|",
             "lines": transient_lines},
            {"title": f"tanh RNN, sigma_w = {h['sigma_w']:g}", "xlabel": "s = T - t", "ylabel": "|dL/dh_t|",
             "lines": tanh_lines}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
