"""Question 10: is a gain of 1 per layer enough, and does depth slow learning down?

Short answer: no, and it need not. A gain of 1 fixes the *mean* squared singular value of the
end-to-end Jacobian J = dh_L/dh_0, not their spread. With Gaussian weights the eigenvalues of J J^T
keep mean 1 but their variance grows like the depth L (the Fuss-Catalan law: a few directions are
stretched ~e L times, most are crushed); with orthogonal weights a linear chain is an exact
isometry (every singular value 1) and a tanh chain at the edge of chaos stays concentrated,
variance L (mu_2/mu_1^2 - 1), small when q* is small (Pennington, Schoenholz & Ganguli 2017;
theory.isometry). And learning: a deep linear chain learns each mode of the task along Saxe et
al.'s exact curve (theory.learning_dynamics). From a small per-layer scale a the mode starts at
a^L and the time to learn it grows exponentially with depth; from an orthogonal (isometric) start it
starts at 1 at every depth, and with the learning rate scaled as 1/L the time stays bounded as L grows.

Run:  python examples/q10_isometry_and_learning_time.py [--width 128] [--depths 1 4 16 32] [--plot q10.png]
"""
import sys

import numpy as np

from tinygrad_vg import optim
from tinygrad_vg.argtypes import positive_float, positive_int
from tinygrad_vg.nn import DeepChain, init, mse_loss
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.tensor import Tensor
from tinygrad_vg.theory import isometry, learning_dynamics as saxe
from tinygrad_vg.theory.mean_field import tanh_critical_sigma_w

CHAINS = (("linear", "orthogonal"), ("linear", "gaussian"), ("tanh", "orthogonal"), ("tanh", "gaussian"))
FRACTIONS = (0.5, 0.9)      # learning time: the first step at which the mode reaches this fraction of s


def arguments(parser):
    part = parser.add_argument_group("(a) the Jacobian's spectrum")
    part.add_argument("--width", type=positive_int, default=128, help="units per layer (default 128)")
    part.add_argument("--depths", type=positive_int, nargs="+", default=[1, 4, 16, 32], help="chain depths L")
    part.add_argument("--nets", type=positive_int, default=2, help="independent draws per chain (default 2)")
    part.add_argument("--sigma-b", type=positive_float, default=0.05,
                      help="tanh chains: bias std; sigma_w is then the critical one (default 0.05)")
    part = parser.add_argument_group("(b) learning time")
    part.add_argument("--train-depths", type=positive_int, nargs="+", default=[1, 2, 4, 8, 12], help="depths trained")
    part.add_argument("--modes", type=positive_float, nargs="+", default=[3.0, 2.0, 1.5],
                      help="singular values s of the target map (all > 1; default 3 2 1.5)")
    part.add_argument("--small-scale", type=positive_float, default=0.7,
                      help="the small start: every layer a times orthogonal, mode strength a^L (default 0.7)")
    part.add_argument("--lr0", type=positive_float, default=0.1, help="learning rate lr0 / L (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the task")


def jacobian(chain, x):
    """J = dh_L/dh_0 at x (shape (1, N)) from one backward: N copies of x, cotangent I, so row k of
    the input's gradient is e_k^T J, row k of J."""
    inputs = Tensor(np.repeat(x, x.shape[1], axis=0), requires_grad=True)
    chain(inputs).backward(np.eye(x.shape[1]))
    return inputs.grad


def spectrum_of(activation, weights, depth, width, sigma_b, rng):
    """The eigenvalues of J J^T of one chain drawn at the fixed point q* its theory assumes."""
    sigma_w = tanh_critical_sigma_w(sigma_b) if activation == "tanh" else 1.0
    bias = sigma_b if activation == "tanh" else 0.0
    chain = DeepChain(depth, width, activation=activation, init="orthogonal" if weights == "orthogonal" else "normal",
                      scale=sigma_w, sigma_w=sigma_w, rng=rng)
    for layer in chain.layers:
        init.normal_(layer.bias, 0.0, bias, rng)
    theory = isometry.jacobian_spectrum(depth, sigma_w, bias, activation, weights)
    x = rng.standard_normal((1, width))
    if activation == "tanh":                   # start at the fixed point: q_1 = sigma_w^2 mean(x^2) + sigma_b^2 = q*
        x *= np.sqrt((theory.q_star - bias ** 2) / sigma_w ** 2 / np.mean(x ** 2))
    return np.linalg.svd(jacobian(chain, x), compute_uv=False) ** 2, theory


def measure_spectra(depths, width, nets, sigma_b, rng):
    rows = []
    for activation, weights in CHAINS:
        for depth in depths:
            draws = [spectrum_of(activation, weights, depth, width, sigma_b, rng) for _ in range(nets)]
            theory = draws[0][1]
            row = {"activation": activation, "weights": weights, "depth": depth,
                   "mean": float(np.mean([d[0].mean() for d in draws])),
                   "variance": float(np.mean([d[0].var() for d in draws])),
                   "variance_spread": float(np.std([d[0].var() for d in draws])),
                   "largest": float(np.mean([d[0].max() for d in draws])),
                   "smallest": float(np.mean([d[0].min() for d in draws])),
                   "predicted_mean": theory.mean, "predicted_variance": theory.variance}
            if (activation, weights) == ("linear", "gaussian"):
                row["predicted_variance_at_width"] = isometry.gaussian_product_spectrum(depth, width).variance
                row["predicted_edge"] = isometry.fuss_catalan_edge(depth)
            rows.append(row)
    return rows


def decoupled_chain(depth, width, scale, U, V, rng):
    """Every layer `scale` times an orthogonal matrix; the last one turned so that W_L ... W_1 =
    scale^L U V^T: each mode of the task starts at strength scale^L in every layer's frame."""
    chain = DeepChain(depth, width, activation="linear", init="orthogonal", scale=scale, bias=False, rng=rng)
    frame = V
    for weight in chain.weights[:-1]:
        frame = weight.data @ frame / scale          # R_l = Q_l R_(l-1), R_0 = V
    init.fill(chain.weights[-1], scale * U @ frame.T)
    return chain


def train_modes(depth, scale, modes, lr0, rng):
    """SGD on the whitened task; the mode strengths u_a = u_a^T W_tot v_a read off each step's output."""
    width = len(modes)
    X = np.sqrt(width) * init.orthogonal_(np.empty((width, width)), rng=rng)   # X^T X / P = I
    U, V = (init.orthogonal_(np.empty((width, width)), rng=rng) for _ in range(2))
    Y = X @ (V * modes) @ U.T                   # targets y = M x with M = U diag(s) V^T
    chain = decoupled_chain(depth, width, scale, U, V, rng)
    optimizer = optim.SGD(chain.parameters(), lr=lr0 / depth)
    tau = saxe.time_constant(lr0 / depth, width)
    strengths, top = [], max(modes)
    slowest = min(modes)                       # train until every mode is at 90%: the weakest is the last
    steps = 4 * int(saxe.learning_time(slowest, scale ** depth, FRACTIONS[-1] * slowest, depth, tau)) + 10
    for _ in range(steps):
        optimizer.zero_grad()
        output = chain(X)
        total = (X.T @ output.data).T / width                 # h_L = X W_tot^T, so W_tot = h_L^T X / P
        strengths.append(np.einsum("ia,ij,ja->a", U, total, V))
        if np.all(strengths[-1] >= FRACTIONS[-1] * modes):
            break
        mse_loss(output, Y).backward()
        optimizer.step()
    strengths = np.array(strengths)
    predicted = saxe.gradient_descent_modes(modes, scale ** depth, depth, tau, len(strengths) - 1)
    k = int(np.argmax(modes))
    times = [{"fraction": f, "measured": saxe.first_step_reaching(strengths[:, k], f * top),
              "gradient_descent": saxe.first_step_reaching(predicted[:, k], f * top),
              "flow": saxe.learning_time(top, scale ** depth, f * top, depth, tau)} for f in FRACTIONS]
    return {"depth": depth, "u0": scale ** depth, "tau": tau, "times": times,
            "strengths": strengths.tolist(), "predicted_strengths": predicted.tolist(),
            "largest_gd_difference": float(np.max(np.abs(strengths - predicted)))}


@experiment
def run(width=128, depths=(1, 4, 16, 32), nets=2, sigma_b=0.05, train_depths=(1, 2, 4, 8, 12),
        modes=(3.0, 2.0, 1.5), small_scale=0.7, lr0=0.1, seed=0):
    if min(modes) <= 1 or small_scale >= 1:
        raise OptionError(f"--modes must all exceed 1 (the orthogonal start, strength 1) and --small-scale be "
                          f"below 1, got modes {list(modes)} and small scale {small_scale}")
    for depth in train_depths:
        if lr0 / depth >= saxe.largest_stable_lr(max(modes), depth, len(modes)):
            raise OptionError(f"--lr0 {lr0}: at depth {depth} gradient descent diverges unless lr0 / L < "
                              f"{saxe.largest_stable_lr(max(modes), depth, len(modes)):.3g} (s = {max(modes):g})")
    rng = np.random.default_rng(seed)
    modes = np.array(modes, dtype=np.float64)
    spectra = measure_spectra(depths, width, nets, sigma_b, rng)
    learning = {name: [train_modes(depth, scale, modes, lr0, rng) for depth in train_depths]
                for name, scale in (("small", small_scale), ("orthogonal", 1.0))}
    top, tau_per_layer = float(modes.max()), saxe.time_constant(lr0, len(modes))
    deep_limit = [saxe.deep_limit_learning_time(top, 1.0, f * top, tau_per_layer) for f in FRACTIONS]
    return {"width": width, "nets": nets, "sigma_b": sigma_b, "sigma_w": tanh_critical_sigma_w(sigma_b),
            "spectra": spectra, "modes": modes.tolist(), "small_scale": small_scale, "lr0": lr0,
            "learning": learning, "deep_limit_orthogonal": deep_limit}



def show(result):
    lines = [f"(a) The eigenvalues lambda of J J^T, J = dh_L/dh_0 (one backward, cotangent I), width "
             f"{result['width']}, mean over {result['nets']} nets.",
             f"    linear: sigma_w = 1, no bias. tanh: sigma_b = {result['sigma_b']:g}, critical sigma_w = "
             f"{result['sigma_w']:.4f} (chi_1 = 1), input at q*. Predicted: theory.isometry (infinite width).",
             "",
             f"{'chain':<18}{'L':>4}  {'mean':>7} {'pred':>5}   {'variance':>18} {'predicted':>10}   {'largest':>8}  {'smallest':>9}"]
    for row in result["spectra"]:
        name = f"{row['activation']}, {row['weights']}"
        spread = f"{row['variance']:.3g} +- {row['variance_spread']:.2g}"
        lines.append(f"{name:<18}{row['depth']:>4}  {row['mean']:>7.3f} {row['predicted_mean']:>5.2f}   {spread:>18} "
                     f"{row['predicted_variance']:>10.3g}   {row['largest']:>8.3g}  {row['smallest']:>9.2g}")
    gaussian = [row for row in result["spectra"] if (row["activation"], row["weights"]) == ("linear", "gaussian")]
    lines.append("\nlinear Gaussian chain at this width, exactly in expectation (theory.isometry.gaussian_product_spectrum), "
                 "and the Fuss-Catalan edge:")
    for row in gaussian:
        lines.append(f"  L = {row['depth']:<3} E[variance] = {row['predicted_variance_at_width']:.4g} (measured "
                     f"{row['variance']:.4g}); largest lambda -> {row['predicted_edge']:.3g} (measured {row['largest']:.3g})")
    lines.append("  (one draw's variance is carried by its few largest lambda: expect a spread of tens of percent at large L)")

    top = max(result["modes"])
    lines += ["", f"(b) Learning the task's strongest mode s = {top:g} (Saxe et al. 2014), SGD full batch, lr = "
              f"{result['lr0']:g} / L, whitened inputs, balanced decoupled start.",
              "    steps until the mode reaches 50% / 90% of s: measured by the engine, the exact gradient-descent "
              "recursion, the gradient-flow solution", "",
              f"{'start':<28}{'L':>4} {'u0':>9}   " + "   ".join(f"{f'{f:.0%}: measured    GD   flow':>27}"
                                                            for f in FRACTIONS)]
    for name, label in (("small", f"small: a = {result['small_scale']:g} per layer"), ("orthogonal", "orthogonal: a = 1")):
        for run in result["learning"][name]:
            cells = "   ".join(f"{t['measured']:>15} {t['gradient_descent']:>5} {t['flow']:>6.1f}" for t in run["times"])
            lines.append(f"{label:<28}{run['depth']:>4} {run['u0']:>9.3g}   {cells}")
    lines.append(f"{'orthogonal, L -> infinity':<28}{'':>4} {1:>9}   " +
                 "   ".join(f"{'':>15} {'':>5} {t:>6.1f}" for t in result["deep_limit_orthogonal"]))
    worst = max(run["largest_gd_difference"] for runs in result["learning"].values() for run in runs)
    lines.append(f"\nlargest |engine - exact recursion| of any mode strength at any step: {worst:.1e}")
    return "\n".join(lines)


def figure(result):
    panels, lines = [], []
    for n, chain in enumerate(CHAINS):
        rows = [r for r in result["spectra"] if (r["activation"], r["weights"]) == chain]
        depths = [r["depth"] for r in rows]
        lines.append({"label": f"{chain[0]}, {chain[1]} measured", "x": depths, "y": [r["variance"] for r in rows],
                      "style": f"C{n}o"})
        lines.append({"label": "predicted", "x": depths, "y": [r["predicted_variance"] for r in rows], "style": f"C{n}-"})
        if "predicted_variance_at_width" in rows[0]:
            lines.append({"label": f"exact at width {result['width']}", "x": depths,
                          "y": [r["predicted_variance_at_width"] for r in rows], "style": f"C{n}--"})
    panels.append({"title": "variance of the eigenvalues of J J^T (mean 1 throughout)", "xlabel": "depth L",
                   "ylabel": "Var[lambda]", "yscale": "linear", "lines": lines})
    lines = []
    for n, name in enumerate(("small", "orthogonal")):
        runs = result["learning"][name]
        depths = [r["depth"] for r in runs]
        lines.append({"label": f"{name} start, measured", "x": depths,
                      "y": [r["times"][-1]["measured"] for r in runs], "style": f"C{n}o"})
        lines.append({"label": "gradient flow", "x": depths, "y": [r["times"][-1]["flow"] for r in runs],
                      "style": f"C{n}-"})
    panels.append({"title": "steps to learn 90% of the strongest mode (lr = lr0 / L)", "xlabel": "depth L",
                   "ylabel": "steps", "xscale": "log", "lines": lines})
    deepest = result["learning"]["small"][-1]
    strengths, predicted = np.array(deepest["strengths"]), np.array(deepest["predicted_strengths"])
    steps = np.arange(len(strengths))
    every = max(1, len(steps) // 40)           # measured points every few steps: the curves stay visible
    lines = []
    for k, s in enumerate(result["modes"]):
        lines.append({"label": f"s = {s:g} measured", "x": steps[::every].tolist(), "y": strengths[::every, k].tolist(),
                      "style": f"C{k}o"})
        lines.append({"label": "exact recursion", "x": steps.tolist(), "y": predicted[:, k].tolist(), "style": f"C{k}-"})
    panels.append({"title": f"mode strengths, small start, L = {deepest['depth']}", "xlabel": "step",
                   "ylabel": "u = u_a^T W_L...W_1 v_a", "yscale": "linear", "lines": lines})
    return panels


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
