"""What theory says about a chain's settings: the gain of each layer (and which formula gives it, or
why none does), why a prediction may miss, and where training step 0 first overflows. The formulas
live in tinygrad_vg.theory; this file only chooses the one that applies to a config."""
import math

import numpy as np

from .. import theory
from .chains import DTYPES


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


def theory_caveat(config, basis, top_cosine):
    """Why a statistical prediction misses a bias-free relu or linear chain whose cotangent points along
    its output, or None: at cosine 1, |dL/dx| / |dL/dh_L| >= |h_L| / |x| whatever the width
    (theory.mean_field.aligned_cotangent_gain_bound gives the reasoning). Measured on
    `chain --activation relu --init he`, seeds 0-7: a random linear read-out keeps the excess (0.55-22.8
    against MSE's 0.54-33.9, theory 1); a cotangent drawn independently of h_L gives 0.14-2.42 around 1."""
    sigma_b = effective_sigmas(config)[1]
    if (basis.startswith(("none", "exact:")) or config["activation"] not in ("relu", "linear") or sigma_b
            or config["norm"] or not top_cosine > 0.5):
        return None
    return (f"dL/dh_L = 2 (h_L - y) / N is at cosine {top_cosine:.2f} to h_L, and a bias-free {config['activation']} "
            "chain is homogeneous (h_L = J x, J = dh_L/dx),\n  so dL/dx ~ J^T J x: the gradient starts in the "
            "directions the chain stretches most, not in the random direction\n  mean-field theory assumes; "
            "theory's gains describe a read-out independent of h_L (a random linear read-out is not)")


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
