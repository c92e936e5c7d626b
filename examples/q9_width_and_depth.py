"""Question 9: Is "the right variance" enough?

Short answer: no, not at finite width. He's sigma_w^2 = 2 keeps E|h_l|^2 = |h_0|^2 at every depth,
but one ReLU layer of width n multiplies |h|^2 by (sigma_w^2 / n) chi^2_K, K ~ Binomial(n, 1/2) the
active units: its mean is 1 while its logarithm has mean ~ -5/(2n) and variance ~ 5/n. Over L layers
they add up, so across networks ln(|h_L|^2 / |h_0|^2) spreads with variance ~ 5 L/n (Hanin): at width
16 and depth 32 the middle 90% of networks span a factor ~1e5 of gain: depth/width decides, not sigma_w.
Glorot: the standard init U[-1/sqrt(n), 1/sqrt(n)] shrinks the backward signal by 3 per layer while,
at equal widths, the weight gradients stay equal across layers; the normalised init keeps both flat
at equal widths and within the widths' ratios otherwise. Residual chains x + alpha f(x) multiply |dL/dx|^2
by 1 + alpha^2 sigma_w^2 per block: 2^L at alpha = 1 = sigma_w, never more than e^(sigma_w^2) at
alpha = 1/sqrt(L).
Predictions are exact laws (theory.finite_width, theory.residual); the measurements over many
networks are statistical and printed with their standard errors.

Run:  python examples/q9_width_and_depth.py [--widths 16 64] [--depth 32] [--nets 200] [--plot q9.png]
"""
import math
import sys

import numpy as np

from tinygrad_vg import theory
from tinygrad_vg.argtypes import positive_float, positive_int
from tinygrad_vg.nn import DeepChain, Linear, init
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.tensor import Tensor, no_grad
from tinygrad_vg.theory import finite_width, residual

GLOROT_WIDTHS = (64, 128, 256, 128, 64, 32, 16, 32, 64)


def arguments(parser):
    parser.add_argument("--widths", type=positive_int, nargs="+", default=[16, 64],
                        help="ReLU chain widths (default 16 64)")
    parser.add_argument("--depth", type=positive_int, default=32, help="ReLU chain depth L (default 32)")
    parser.add_argument("--nets", type=positive_int, default=200, help="networks per width (default 200)")
    parser.add_argument("--sigma-w", type=positive_float, default=math.sqrt(2),
                        help="ReLU chains' sigma_w (default sqrt 2)")
    parser.add_argument("--rescale-to", type=positive_float, default=1.0,
                        help="the second sigma_w of the rescaling identity (default 1)")
    parser.add_argument("--glorot-widths", type=positive_int, nargs="+", default=list(GLOROT_WIDTHS),
                        help="widths n_0..n_L of the linear chain for Glorot's variances")
    parser.add_argument("--glorot-nets", type=positive_int, default=100, help="networks per init (default 100)")
    parser.add_argument("--residual-depths", type=positive_int, nargs="+", default=[4, 16, 64], help="residual depths")
    parser.add_argument("--residual-width", type=positive_int, default=32, help="residual chain width (default 32)")
    parser.add_argument("--residual-nets", type=positive_int, default=60, help="networks per residual chain (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every draw")


def mean_and_error(samples):
    """(sample mean, its standard error; nan for a single sample)."""
    samples = np.asarray(samples, dtype=np.float64)
    error = samples.std(ddof=1) / math.sqrt(samples.size) if samples.size > 1 else math.nan
    return float(samples.mean()), float(error)


def variance_and_error(samples):
    """(sample variance, its standard error sqrt((m4 - s^4) / N) from the fourth central moment)."""
    samples = np.asarray(samples, dtype=np.float64)
    centred = samples - samples.mean()
    variance = float(np.mean(centred ** 2) * samples.size / (samples.size - 1))
    return variance, float(math.sqrt(max(np.mean(centred ** 4) - variance ** 2, 0.0) / samples.size))


def relu_chain(depth, width, sigma_w, rng):
    """He's chain: h_l = relu(h_{l-1} W_l^T), W_l ~ N(0, sigma_w^2 / width), no bias."""
    return DeepChain(depth, width, activation="relu", init="normal", sigma_w=sigma_w, bias=False, rng=rng)


def squared_norms_and_active_units(chain, x):
    """(|h_0|^2..|h_L|^2, the active units K_1..K_L), by the engine's forward."""
    with no_grad():
        _, outputs = chain.forward_with_outputs(x)
    norms = [float(np.sum(x ** 2))] + [float(np.sum(h.data ** 2)) for h in outputs]
    return np.array(norms), np.array([int(np.count_nonzero(h.data > 0)) for h in outputs])


def relu_width(width, depth, nets, sigma_w, rng):
    """Parts (a) and (b) at one width: the per-layer factors and ln(|h_l|^2 / |h_0|^2) over networks."""
    norms, active = zip(*(squared_norms_and_active_units(relu_chain(depth, width, sigma_w, rng),
                                                         rng.standard_normal((1, width))) for _ in range(nets)))
    norms, active = np.array(norms), np.array(active)
    alive = np.all(active > 0, axis=1)                  # a dead layer (K = 0) zeroes everything after it
    if alive.sum() < 2:
        raise OptionError(f"q9: only {alive.sum()} of {nets} networks of width {width} kept a live unit through "
                          f"{depth} layers (each layer dies with probability 2^-{width}): "
                          "use more --nets or wider --widths")
    log_ratios = np.log(norms[alive, 1:] / norms[alive, :1])
    log_factors = np.diff(np.log(norms[alive]), axis=1).ravel()
    law = finite_width.relu_layer_law(width, sigma_w)
    exact = finite_width.relu_log_norm_moments([width] * depth, sigma_w)
    final = log_ratios[:, -1]
    sd = math.sqrt(exact.variance[-1])
    return {
        "width": width, "beta": finite_width.hanin_beta([width] * depth),
        "factor_mean": mean_and_error(np.exp(log_factors)), "predicted_factor_mean": law.mean,
        "log_factor_mean": mean_and_error(log_factors), "predicted_log_factor_mean": law.log_mean,
        "log_factor_variance": variance_and_error(log_factors), "predicted_log_factor_variance": law.log_variance,
        "active_mean": mean_and_error(active[alive]), "predicted_active_mean": width / 2,
        "log_ratio_mean": [float(v) for v in log_ratios.mean(axis=0)], "predicted_log_ratio_mean": exact.mean.tolist(),
        "log_ratio_variance": [float(v) for v in log_ratios.var(axis=0, ddof=1)],
        "predicted_log_ratio_variance": exact.variance.tolist(),
        "final_log_ratio_variance": variance_and_error(final),
        "hanin_approximation": finite_width.hanin_variance_approximation([width] * depth),
        "dead_nets": int(nets - alive.sum()), "predicted_dead_nets": float(nets * (1 - exact.survival[-1])),
        "ratio_percentiles": np.exp(np.percentile(final, [5, 50, 95])).tolist(),
        # Hanin & Nica 2019: ln of the gain is close to Gaussian, so its 5/50/95% are mean -/0/+ 1.645 sd
        "predicted_ratio_percentiles": [math.exp(exact.mean[-1] + z * sd) for z in (-1.645, 0.0, 1.645)],
    }


def rescaling(depth, width, sigma_w, sigma_w_new, seed):
    """Two chains on the same draws, sigma_w and sigma_w_new: forward and backward ratios, layer by layer."""
    x = np.random.default_rng(seed).standard_normal((1, width))
    c = np.random.default_rng(seed + 1).standard_normal((1, width))    # loss = sum(h_L * c), linear in h_L
    runs = []
    for sigma in (sigma_w, sigma_w_new):
        _, outputs = relu_chain(depth, width, sigma, rng=seed).forward_with_outputs(x)
        (outputs[-1] * c).sum().backward()
        runs.append(outputs)
    forward, backward = finite_width.relu_rescaling(sigma_w, sigma_w_new, depth)
    # relative to the prediction's size; a dead net (h_l = 0 in both) counts as agreeing exactly
    relative = lambda new, old, r: float(np.linalg.norm(new - r * old) / (np.linalg.norm(r * old) or 1.0))
    return {"sigma_w": sigma_w, "sigma_w_new": sigma_w_new, "predicted_forward": forward.tolist(),
            "forward_error": max(relative(b.data, a.data, r) for a, b, r in zip(*runs, forward)),
            "backward_error": max(relative(b.grad, a.grad, r) for a, b, r in zip(*runs, backward))}


def glorot_chain(widths, scheme, rng):
    """Linear layers n_0 -> n_1 -> ... -> n_L: "standard" is Linear's default U[-1/sqrt(n_in), 1/sqrt(n_in)],
    "normalised" re-draws each weight with xavier_uniform_, U[+-sqrt(6 / (n_in + n_out))]."""
    layers = [Linear(n_in, n_out, bias=False, rng=rng) for n_in, n_out in zip(widths, widths[1:])]
    if scheme == "normalised":
        for layer in layers:
            init.xavier_uniform_(layer.weight, rng=rng)
    return layers


def glorot_backward(layers, x, c):
    """Per-unit |h_l|^2 / n_l and |dL/dh_l|^2 / n_l (l = 0..L), per-entry |dL/dW_l|^2, for loss = sum(h_L * c)."""
    h = Tensor(x, requires_grad=True)
    outputs = [h]
    for layer in layers:
        h = layer(h)
        h.retain_grad()
        outputs.append(h)
    (h * c).sum().backward()
    per_unit = lambda values: [float(np.mean(v ** 2)) for v in values]
    return (per_unit(o.data for o in outputs), per_unit(o.grad for o in outputs),
            per_unit(layer.weight.grad for layer in layers))


def glorot(widths, nets, rng):
    x, c = rng.standard_normal((1, widths[0])), rng.standard_normal((1, widths[-1]))
    variances = {"standard": [finite_width.standard_uniform_variance(n_in) for n_in in widths[:-1]],
                 "normalised": [theory.weight_variance("xavier", n_in, n_out) for n_in, n_out in zip(widths, widths[1:])]}
    schemes = {}
    for scheme, weight_variances in variances.items():
        forward, backward, weights = (np.array(m) for m in zip(*(glorot_backward(glorot_chain(widths, scheme, rng), x, c)
                                                                  for _ in range(nets))))
        predicted = finite_width.linear_chain_variances(widths, weight_variances, np.mean(x ** 2), np.mean(c ** 2))
        schemes[scheme] = {name: [mean_and_error(column) for column in measured.T] for name, measured in
                           (("forward", forward), ("backward", backward), ("weight_gradient", weights))}
        schemes[scheme].update({f"predicted_{name}": getattr(predicted, name).tolist()
                                for name in ("forward", "backward", "weight_gradient")})
    return {"widths": list(widths), **schemes}


def residual_chain_gain(depth, width, alpha, sigma_w, nets, rng):
    """|dL/dx|^2 / |c|^2 and the per-block |dL/dh_{l-1}|^2 / |dL/dh_l|^2 of x + alpha x W^T chains."""
    totals, blocks = [], []
    for _ in range(nets):
        chain = DeepChain(depth, width, activation="linear", init="normal", sigma_w=sigma_w, residual=True,
                          alpha=alpha, bias=False, rng=rng)
        x, c = Tensor(rng.standard_normal((1, width)), requires_grad=True), rng.standard_normal((1, width))
        output, outputs = chain.forward_with_outputs(x)
        (output * c).sum().backward()
        grads = [np.sum(h.grad ** 2) for h in [x, *outputs]]
        totals.append(grads[0] / np.sum(c ** 2))
        blocks.extend(np.array(grads[:-1]) / np.array(grads[1:]))
    return {"depth": depth, "alpha": alpha, "total": mean_and_error(totals), "block": mean_and_error(blocks),
            "predicted_total": float(residual.residual_backward_gains(alpha, sigma_w, depth)[0]),
            "predicted_block": residual.residual_gain(alpha, sigma_w)}


@experiment
def run(widths=(16, 64), depth=32, nets=200, sigma_w=math.sqrt(2), rescale_to=1.0, glorot_widths=GLOROT_WIDTHS,
        glorot_nets=100, residual_depths=(4, 16, 64), residual_width=32, residual_nets=60, seed=0):
    if nets < 2 or glorot_nets < 2 or residual_nets < 2:
        raise OptionError(f"q9: a variance needs at least 2 networks, got nets={nets}, glorot_nets={glorot_nets}, "
                         f"residual_nets={residual_nets}")
    if len(glorot_widths) < 2:
        raise OptionError(f"q9: --glorot-widths needs n_0 and at least one more width, got {list(glorot_widths)}")
    rng = np.random.default_rng(seed)
    return {
        "depth": depth, "nets": nets, "sigma_w": sigma_w,
        "relu": [relu_width(width, depth, nets, sigma_w, rng) for width in widths],
        "rescaling": rescaling(depth, widths[0], sigma_w, rescale_to, seed),
        # Glorot's own setting (equal widths), then --glorot-widths, where the normalised init matters most
        "glorot": [glorot(profile, glorot_nets, rng)
                   for profile in ([glorot_widths[0]] * len(glorot_widths), glorot_widths)],
        "residual": {"width": residual_width, "sigma_w": 1.0, "limit": residual.residual_gain_limit(1.0),
                     "chains": [residual_chain_gain(L, residual_width, alpha, 1.0, residual_nets, rng)
                                for L in residual_depths for alpha in (1.0, 1 / math.sqrt(L))]},
    }


def pm(value_and_error, spec=".4f"):
    value, error = value_and_error
    return f"{value:{spec}} ± {error:.1g}"


def glorot_table(g):
    lines = [f"  widths {' '.join(map(str, g['widths']))}:",
             f"  {'l':>2} {'n_l':>4}  {'standard dL/dh':>20} {'dL/dW':>20}  {'normalised dL/dh':>20} {'dL/dW':>20}"]
    for layer, width in enumerate(g["widths"]):
        cells = []
        for d in (g["standard"], g["normalised"]):
            cells.append(f"{d['backward'][layer][0]:>9.3e} {d['predicted_backward'][layer]:>10.3e}")
            cells.append(f"{d['weight_gradient'][layer - 1][0]:>9.3e} {d['predicted_weight_gradient'][layer - 1]:>10.3e}"
                         if layer else f"{'':>20}")
        lines.append(f"  {layer:>2} {width:>4}  " + " ".join(cells[:2]) + "  " + " ".join(cells[2:]))
    for scheme in ("standard", "normalised"):
        back, weights = g[scheme]["predicted_backward"], g[scheme]["predicted_weight_gradient"]
        lines.append(f"  {scheme:<10} (exact): dL/dh_0 / dL/dh_L = {back[0] / back[-1]:.3g}, "
                     f"dL/dW largest / smallest layer = {max(weights) / min(weights):.3g}")
    return lines


def show(result):
    depth, sigma_w = result["depth"], result["sigma_w"]
    lines = [f"(a) He's ReLU law at finite width: F = |h_l|^2 / |h_(l-1)|^2, sigma_w^2 = {sigma_w ** 2:g}, "
             f"{result['nets']} nets x {depth} layers per width.",
             "    exact: F = (sigma_w^2/n) chi^2_K, K ~ Binomial(n, 1/2); mean field says F = sigma_w^2/2 exactly.",
             f"{'':>22}" + "".join(f"{'n=' + str(r['width']) + ' measured':>22} {'exact':>9}" for r in result["relu"])]
    for label, key, naive in (("mean of F", "factor_mean", sigma_w ** 2 / 2), ("mean of ln F", "log_factor_mean",
                              round(math.log(sigma_w ** 2 / 2), 12)), ("variance of ln F", "log_factor_variance", 0.0),
                              ("active units K", "active_mean", None)):
        lines.append(f"  {label:<20}" + "".join(f"{pm(r[key]):>22} {r['predicted_' + key]:>9.4f}" for r in result["relu"])
                     + ("" if naive is None else f"   (mean field: {naive:g})"))
    s = result["rescaling"]
    lines.append(f"\n  same draws, sigma_w {s['sigma_w']:.4g} -> {s['sigma_w_new']:.4g}: h_l scales by exactly "
                 f"(s'/s)^l (to {s['predicted_forward'][-1]:.3e} at l = {depth}), dL/dh_l by (s'/s)^(L-l);")
    lines.append(f"  largest relative difference from that: forward {s['forward_error']:.1e}, "
                 f"backward {s['backward_error']:.1e}")

    lines.append(f"\n(b) Hanin: ln(|h_L|^2 / |h_0|^2) across networks, L = {depth}: the variance grows with beta = L/n.")
    lines.append(f"  {'width':>5} {'beta':>6} {'Var measured':>16} {'exact L Var[ln F]':>18} {'5 beta':>7} "
                 f"{'mean measured':>14} {'exact':>8} {'dead nets (expected)':>21}")
    for r in result["relu"]:
        lines.append(f"  {r['width']:>5} {r['beta']:>6.3f} {pm(r['final_log_ratio_variance'], '.3f'):>16} "
                     f"{r['predicted_log_ratio_variance'][-1]:>18.3f} {r['hanin_approximation']:>7.3f} "
                     f"{r['log_ratio_mean'][-1]:>14.3f} {r['predicted_log_ratio_mean'][-1]:>8.3f} "
                     f"{r['dead_nets']:>11} ({r['predicted_dead_nets']:.2g})")
    lines.append("  |h_L|^2/|h_0|^2 over nets, 5% / median / 95% (the mean is 1 at every width):")
    for r in result["relu"]:
        lines.append(f"  {r['width']:>5}  measured " + " / ".join(f"{v:.3g}" for v in r["ratio_percentiles"])
                     + "   log-normal with the exact moments "
                     + " / ".join(f"{v:.3g}" for v in r["predicted_ratio_percentiles"]))

    lines.append("\n(c) Glorot & Bengio: linear chains, loss = sum(h_L * c), mean over nets: per-unit E(dL/dh_l)^2")
    lines.append("    and per-entry E(dL/dW_l)^2, measured / exact in expectation:")
    for g in result["glorot"]:
        lines += glorot_table(g)

    res = result["residual"]
    lines.append(f"\n(d) Residual x_l = x_(l-1) + alpha x_(l-1) W_l^T, width {res['width']}, sigma_w = {res['sigma_w']:g}: "
                 "|dL/dx|^2 / |dL/dh_L|^2, mean over nets.")
    lines.append(f"  {'L':>4} {'alpha':>7} {'per block measured':>20} {'1+a^2 s^2':>10} {'total measured':>22} "
                 f"{'(1+a^2 s^2)^L':>14}")
    for r in res["chains"]:
        lines.append(f"  {r['depth']:>4} {r['alpha']:>7.4f} {pm(r['block']):>20} {r['predicted_block']:>10.4f} "
                     f"{pm(r['total'], '.4g'):>22} {r['predicted_total']:>14.4g}")
    lines.append(f"  alpha = 1/sqrt(L): (1 + 1/L)^L rises towards e^(sigma_w^2) = {res['limit']:.4f} and never passes it.")
    return "\n".join(lines)


def glorot_panel(g):
    depths, lines = list(range(len(g["widths"]))), []
    for n, scheme in enumerate(("standard", "normalised")):
        d = g[scheme]
        lines += [
            {"label": f"{scheme} dL/dh measured", "x": depths, "y": [m for m, _ in d["backward"]], "style": f"C{n}o"},
            {"label": f"{scheme} exact", "x": depths, "y": d["predicted_backward"], "style": f"C{n}-"},
            {"label": f"{scheme} dL/dW measured", "x": depths[1:], "y": [m for m, _ in d["weight_gradient"]],
             "style": f"C{n + 2}s"},
            {"label": f"{scheme} dL/dW exact", "x": depths[1:], "y": d["predicted_weight_gradient"], "style": f"C{n + 2}--"}]
    return {"title": f"Glorot: widths {' '.join(map(str, g['widths']))}", "xlabel": "layer l",
            "ylabel": "per-unit second moment", "lines": lines}


def figure(result):
    layers = list(range(1, result["depth"] + 1))
    variance_lines = []
    for n, r in enumerate(result["relu"]):
        variance_lines += [
            {"label": f"n={r['width']} measured", "x": layers, "y": r["log_ratio_variance"], "style": f"C{n}o"},
            {"label": f"n={r['width']} exact", "x": layers, "y": r["predicted_log_ratio_variance"], "style": f"C{n}-"},
            {"label": "5 l / n", "x": layers, "y": [5 * l / r["width"] for l in layers], "style": f"C{n}--"}]
    res = result["residual"]["chains"]
    residual_lines = []
    for n, (name, pick) in enumerate((("alpha = 1", 0), ("alpha = 1/sqrt(L)", 1))):
        chains = res[pick::2]
        depths = [r["depth"] for r in chains]
        residual_lines += [
            {"label": f"{name} measured", "x": depths, "y": [r["total"][0] for r in chains], "style": f"C{n}o"},
            {"label": "(1 + alpha^2 sigma_w^2)^L", "x": depths, "y": [r["predicted_total"] for r in chains], "style": f"C{n}-"}]
    return [
        {"title": "Hanin: Var ln(|h_l|^2/|h_0|^2) across nets", "xlabel": "layer l", "ylabel": "variance",
         "yscale": "linear", "lines": variance_lines},
        *[glorot_panel(g) for g in result["glorot"]],
        {"title": "Residual: |dL/dx|^2 / |dL/dh_L|^2", "xlabel": "depth L", "ylabel": "gain", "xscale": "log",
         "lines": residual_lines},
    ]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
